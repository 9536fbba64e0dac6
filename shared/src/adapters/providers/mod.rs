//! The institutions that move the money, one file each behind the ports of `crate::providers` (`BankApi`,
//! `Acquirer`): Banco do Brasil (boleto and Pix), Cielo (cards) and the sandbox that stands in for all of them in
//! test mode. A new bank or acquirer is a file here and one line where `adapters::config` registers it.

pub mod bb;
pub mod cielo;
pub mod sandbox;
