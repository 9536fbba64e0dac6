//! The institutions that move the money, one folder each behind the ports of `crate::ports::providers` (`BankApi`,
//! `Acquirer`): Banco do Brasil (boleto and Pix), Cielo (cards) and the sandbox that stands in for all of them in
//! test mode. Each folder's `connector.rs` declares what the wiring needs (credentials, endpoints, how it is
//! registered); the institutions are listed once, with the methods each serves, in
//! `institution::for_each_institution!`, from which `registry` is made.

pub mod bb;
pub mod cielo;
pub mod registry;
pub mod sandbox;
