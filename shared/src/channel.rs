//! The channels a payer is reached on: a value of its own, below the régua, the customer and the senders.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Whatsapp,
    Sms,
    Voice,
    /// A Correios letter with the boleto, through a print-and-post provider.
    Letter,
}

impl Channel {
    pub const ALL: [Channel; 5] = [Self::Email, Self::Whatsapp, Self::Sms, Self::Voice, Self::Letter];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Whatsapp => "whatsapp",
            Self::Sms => "sms",
            Self::Voice => "voice",
            Self::Letter => "letter",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}
