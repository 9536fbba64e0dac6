//! cobranca's domain crate, in layers; each imports only the ones below it (`docs/architecture.md`):
//! - `domain`: values that cannot hold a bad value and the rules and state of charges, payers, réguas and
//!   payments; no I/O.
//! - `ports`: what the use cases need from the world (the stores per aggregate, queues, institutions).
//! - `service`: the use cases, called alike by HTTP, the scheduled functions and any future console.
//! - `http`: the merchant API, the payer's pages and the Lambda entry glue: parse, call a service, render.
//! - `adapters`: the ports' implementations; nothing outside them knows about AWS.

pub mod domain;
pub mod ports;
pub mod service;

pub mod http;

pub mod adapters;
pub mod telemetry;
