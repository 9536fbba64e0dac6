//! What happened to a message after it left us: the providers' status callbacks, in one vocabulary.
//! Each provider adapter parses (and verifies) its own callbacks into `StatusUpdate`s; the notification record
//! of the message then moves along `MessageStatus`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// queued → sent → delivered → read, or failed / bounced / complained / no_answer. Later states never move back
/// (a late "sent" callback after "delivered" changes nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
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

impl MessageStatus {
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
    pub status: MessageStatus,
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

/// Who a status callback comes from: the provider, and the merchant whose own provider account it reports on
/// (`/v1/webhooks/notifications/{provider}/{merchant_id}`), or the deployment's account when none.
#[derive(Debug, Clone, Copy)]
pub struct CallbackSource<'a> {
    pub provider: &'a str,
    pub merchant: Option<&'a crate::domain::ids::MerchantId>,
}

/// The providers' status callbacks (`/v1/webhooks/notifications/{provider}[/{merchant_id}]`), each parsed and
/// verified as its provider signs them, with the deployment's or the merchant's credentials.
#[async_trait::async_trait]
pub trait ChannelCallbacks: Send + Sync {
    /// The channel whose messages a provider reports on, if the provider is known.
    fn channel_of(&self, provider: &str) -> Option<crate::domain::notification::Channel>;
    /// A subscription handshake asked by GET (Meta's `hub.challenge`): the text to answer, or why not. None
    /// when the provider has no such handshake.
    async fn handshake(&self, source: CallbackSource<'_>, query: &[(String, String)]) -> Option<Result<String, CallbackError>>;
    /// The status updates in a callback, once its signature or shared secret checks out.
    async fn parse(
        &self,
        source: CallbackSource<'_>,
        query: &[(String, String)],
        headers: &std::collections::HashMap<String, String>,
        body: &[u8],
    ) -> Result<Vec<StatusUpdate>, CallbackError>;
}

/// One message to a payer on one channel and what became of it: what `GET /v1/charges/{id}/notifications`
/// lists. Keyed by its reminder (whose id names the step, occurrence and channel).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationRecord {
    pub merchant_id: crate::domain::ids::MerchantId,
    pub charge_id: crate::domain::ids::ChargeId,
    pub reminder_id: String,
    pub step: String,
    pub channel: crate::domain::notification::Channel,
    pub status: MessageStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_message_id: Option<String>,
    /// Sends tried (a transient failure and its retry count two).
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// What this message cost the merchant (zero when its billing unit was already paid: the e-mail + SMS
    /// package of the charge, the voice calls of the day).
    pub cost: rust_decimal::Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<u32>,
    /// The channel whose failure this message replaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_from: Option<crate::domain::notification::Channel>,
    /// Every status change, oldest first.
    pub history: Vec<StatusChange>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// 1 when new; each save is conditional on the previous version.
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: MessageStatus,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl NotificationRecord {
    pub fn new(reminder: &crate::domain::ruler::Reminder, channel: crate::domain::notification::Channel, now: DateTime<Utc>) -> Self {
        Self {
            merchant_id: reminder.merchant_id.clone(),
            charge_id: reminder.charge_id.clone(),
            reminder_id: reminder.id(),
            step: reminder.step.name().to_string(),
            channel,
            status: MessageStatus::Queued,
            provider_message_id: None,
            attempts: 0,
            last_error: None,
            cost: rust_decimal::Decimal::ZERO,
            segments: None,
            fallback_from: None,
            history: vec![StatusChange { status: MessageStatus::Queued, at: now, detail: None }],
            created_at: now,
            updated_at: now,
            version: 0,
        }
    }

    /// Moves the record to `status` unless it is already as far or further along (callbacks arrive late,
    /// twice and out of order). True if it changed.
    pub fn advance(&mut self, status: MessageStatus, at: DateTime<Utc>, detail: Option<String>) -> bool {
        // A voice call that went unanswered may be placed again: sent and no-answer then alternate.
        let another_call =
            matches!((self.status, status), (MessageStatus::Sent, MessageStatus::NoAnswer) | (MessageStatus::NoAnswer, MessageStatus::Sent));
        let forward = status.rank() > self.status.rank() || another_call;
        if !forward {
            return false;
        }
        self.status = status;
        if status.is_final_failure() || status == MessageStatus::NoAnswer {
            self.last_error = detail.clone().or_else(|| Some(status.as_str().to_string()));
        }
        self.history.push(StatusChange { status, at, detail });
        self.updated_at = self.updated_at.max(at);
        true
    }

    /// Applies a provider callback; true if the record changed.
    pub fn apply(&mut self, update: &StatusUpdate) -> bool {
        self.advance(update.status, update.at, update.detail.clone())
    }
}

/// The provider-reference namespace under which a channel's sent message ids lead back to their charge.
pub fn callback_reference(channel: crate::domain::notification::Channel) -> String {
    format!("msg:{}", channel.as_str())
}

/// How a suppressed address is recognised without keeping it in the clear: the SHA-256 of its normal form.
pub fn recipient_key(channel: crate::domain::notification::Channel, recipient: &str) -> String {
    use sha2::{Digest, Sha256};
    let normal: String = match channel {
        crate::domain::notification::Channel::Email => recipient.trim().to_lowercase(),
        _ => recipient.chars().filter(char::is_ascii_digit).collect(),
    };
    format!("{}#{}", channel.as_str(), hex::encode(Sha256::digest(normal.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn record() -> NotificationRecord {
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        let reminder = crate::domain::ruler::Reminder {
            merchant_id: crate::domain::ids::MerchantId::parse("mer_1").unwrap(),
            charge_id: crate::domain::ids::ChargeId::parse("chg_1").unwrap(),
            step: crate::domain::ruler::Step::OnDue,
            occurrence: 0,
            generation: 0,
            action: crate::domain::ruler::Action::Notify(crate::domain::notification::Channel::Whatsapp),
            due_at: at,
            state: crate::domain::ruler::ReminderState::Planned,
        };
        NotificationRecord::new(&reminder, crate::domain::notification::Channel::Whatsapp, at)
    }

    #[test]
    fn callbacks_only_move_a_message_forward() {
        let t = |m| Utc.with_ymd_and_hms(2026, 12, 1, 12, m, 0).unwrap();
        let mut r = record();
        assert!(r.advance(MessageStatus::Sent, t(1), None));
        assert!(r.advance(MessageStatus::Read, t(3), None));
        // "delivered" arriving after "read", and "sent" twice, change nothing.
        assert!(!r.advance(MessageStatus::Delivered, t(2), None));
        assert!(!r.advance(MessageStatus::Sent, t(1), None));
        assert_eq!(r.status, MessageStatus::Read);
        assert_eq!(r.history.iter().map(|c| c.status).collect::<Vec<_>>(), [MessageStatus::Queued, MessageStatus::Sent, MessageStatus::Read]);
    }

    #[test]
    fn a_failure_after_delivery_wins_and_keeps_its_reason() {
        let mut r = record();
        r.advance(MessageStatus::Delivered, Utc::now(), None);
        assert!(r.advance(MessageStatus::Bounced, Utc::now(), Some("5.1.1 user unknown".into())));
        assert_eq!(r.last_error.as_deref(), Some("5.1.1 user unknown"));
        assert!(!r.advance(MessageStatus::Delivered, Utc::now(), None));
    }

    #[test]
    fn suppression_keys_ignore_case_and_formatting_and_hide_the_address() {
        use crate::domain::notification::Channel;
        assert_eq!(recipient_key(Channel::Email, "Maria@Example.com "), recipient_key(Channel::Email, "maria@example.com"));
        assert_eq!(recipient_key(Channel::Sms, "+55 (11) 99999-8888"), recipient_key(Channel::Sms, "5511999998888"));
        assert!(!recipient_key(Channel::Email, "maria@example.com").contains("maria"));
    }
}
