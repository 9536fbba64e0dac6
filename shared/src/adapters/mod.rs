//! Implementations of the ports. Only this module (and the Lambda entry points) touch AWS SDK types.

pub mod bb;
pub mod channels;
pub mod cielo;
#[cfg(feature = "aws")]
pub mod config;
#[cfg(feature = "aws")]
pub mod dynamodb;
#[cfg(feature = "aws")]
pub mod eventbridge;
#[cfg(feature = "faults")]
pub mod faults;
pub mod http_webhooks;
pub mod memory;
pub mod outbox;
pub mod letter;
pub mod layout;
pub mod limits;
pub mod sandbox;
#[cfg(feature = "aws")]
pub mod ses;
pub mod sms;
#[cfg(feature = "aws")]
pub mod sqs;
pub mod void;
pub mod voice;
pub mod whatsapp;

use chrono::{DateTime, SecondsFormat, Utc};

/// A sortable text form of an instant for index keys (fixed width, UTC, milliseconds).
pub fn index_time_key(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}
