//! The ways a payer may pay a charge: a value of its own, below the charge, its wallets and its payment setup.

use serde::{Deserialize, Serialize};

/// How a payer pays: Pix, boleto or credit card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Pix,
    Boleto,
    CreditCard,
}

impl PaymentMethod {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pix" => Some(Self::Pix),
            "boleto" => Some(Self::Boleto),
            "credit_card" => Some(Self::CreditCard),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pix => "pix",
            Self::Boleto => "boleto",
            Self::CreditCard => "credit_card",
        }
    }
}
