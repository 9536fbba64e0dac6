//! Which institution moves a wallet's money: a value of its own, below both the merchant's mode (which says which
//! institutions may serve it) and the ports to those institutions (`providers`).

use serde::{Deserialize, Serialize};

/// Which institution a wallet uses; each maps to one adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Local stand-in for every institution: registers at once, approves test cards.
    Sandbox,
    /// Banco do Brasil: API Cobranças v2 (boleto) and API Pix v2 (cobv).
    BancoDoBrasil,
    /// Cielo e-commerce API 3.0 (cards).
    Cielo,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sandbox => "sandbox",
            Self::BancoDoBrasil => "banco_do_brasil",
            Self::Cielo => "cielo",
        }
    }
}
