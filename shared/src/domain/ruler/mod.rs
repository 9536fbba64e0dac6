//! The régua de cobrança: what a régua is (`definition`) and which reminders a charge gets under one, and when
//! (`plan`). Code below the charge (the charge itself, notifications) takes the definition alone, so the régua's
//! planning can read charges without an import circle.

pub mod definition;
pub mod plan;

pub use definition::*;
pub use plan::*;
