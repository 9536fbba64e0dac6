//! How payers pay: Pix BR Codes and cobv bodies, FEBRABAN boletos, late fees and
//! installments. Pure functions over `Money` and dates; no I/O, no AWS.

pub mod boleto;
pub mod cnab240;
pub mod installments;
pub mod late_fees;
pub mod method;
pub mod pix;
pub mod setup;
