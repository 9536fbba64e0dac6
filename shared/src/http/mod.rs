//! HTTP: the merchant API (`api`), the payer's pages (`pages`), mutual TLS as API Gateway forwards it (`mtls`) and the
//! Lambda entry glue (`lambda`). Parses, calls a service, renders; never orchestrates.

pub mod api;
#[cfg(feature = "aws")]
pub mod lambda;
pub mod mtls;
pub mod pages;
