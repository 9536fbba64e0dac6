//! What happened to a message after it left us: the providers' status callbacks, in one vocabulary.
//! Each provider adapter parses (and verifies) its own callbacks into `StatusUpdate`s; the notification record
//! of the message then moves along `DeliveryStatus`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// queued → sent → delivered → read, or failed / bounced / complained / no_answer. Later states never move back
/// (a late "sent" callback after "delivered" changes nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting on our queue.
    Queued,
    /// Accepted by the provider (a letter: posted).
    Sent,
    /// Reached the payer's device, inbox, phone or mailbox.
    Delivered,
    /// Read (WhatsApp blue ticks, e-mail opens where tracked).
    Read,
    /// Will not arrive: rejected by us or the provider, undeliverable, returned letter.
    Failed,
    /// The address does not exist (a permanent e-mail bounce): further messages to it are suppressed.
    Bounced,
    /// The payer marked it as spam: further e-mails to the address are suppressed.
    Complained,
    /// A voice call nobody answered (it may be tried again the same day).
    NoAnswer,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed => "failed",
            Self::Bounced => "bounced",
            Self::Complained => "complained",
            Self::NoAnswer => "no_answer",
        }
    }

    /// How far along a message is; a callback only ever moves a record forward. Outcomes that end the story
    /// (failed, bounced, complained) rank above delivered: a bounce after an SES "delivery" to a relay wins;
    /// a complaint after delivery wins too.
    pub fn rank(self) -> u8 {
        match self {
            Self::Queued => 0,
            Self::Sent | Self::NoAnswer => 1,
            Self::Delivered => 2,
            Self::Read => 3,
            Self::Failed | Self::Bounced => 4,
            Self::Complained => 5,
        }
    }

    pub fn is_final_failure(self) -> bool {
        matches!(self, Self::Failed | Self::Bounced | Self::Complained)
    }
}

/// One provider callback about one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusUpdate {
    /// "whatsapp", "ses", "zenvia", … — the provider whose message id this is.
    pub provider: String,
    /// The id the provider gave when it accepted the message (`SendReceipt::provider_message_id`).
    pub provider_message_id: String,
    pub status: DeliveryStatus,
    pub at: DateTime<Utc>,
    /// The provider's error code and text, for failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The recipient address must not be used again (permanent bounce, complaint, number not on WhatsApp).
    #[serde(default)]
    pub suppress_recipient: bool,
}

/// Why a status callback was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    /// Missing or wrong signature / shared secret: answer 401.
    #[error("callback signature invalid: {0}")]
    Unauthorized(String),
    /// Not the provider's format: answer 400.
    #[error("callback not understood: {0}")]
    Malformed(String),
}
