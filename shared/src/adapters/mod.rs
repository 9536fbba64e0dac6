//! Implementations of the ports. Only this module (and the Lambda entry points) touch AWS SDK types.

/// The senders of payer messages, one file per provider, behind `notification::NotificationSender`.
pub mod channels;
#[cfg(feature = "aws")]
pub mod config;
pub mod credentials;
#[cfg(feature = "aws")]
pub mod dynamodb;
#[cfg(feature = "aws")]
pub mod eventbridge;
#[cfg(feature = "faults")]
pub mod faults;
pub mod http_webhooks;
pub mod layout;
pub mod limits;
pub mod memory;
/// The institutions that move the money (banks, acquirers, the sandbox), behind the ports of `crate::ports::providers`.
pub mod providers;
#[cfg(feature = "aws")]
pub mod sqs;
pub mod void;

use chrono::{DateTime, SecondsFormat, Utc};

/// A sortable text form of an instant for index keys (fixed width, UTC, milliseconds).
pub fn index_time_key(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}
