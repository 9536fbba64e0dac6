//! Every channel's connector, made from the one list of channels (`channel::for_each_channel!`): the wiring
//! (`adapters::config`) asks these for credentials, senders and status callbacks, and never names a channel.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

pub use crate::adapters::credentials::Credentials;
use crate::domain::notification::{Channel, NotificationSender};
use crate::domain::tracking::{CallbackError, StatusUpdate};

/// What a channel's connector declares about itself, from its own folder (`adapters/channels/<name>/connector.rs`).
#[async_trait]
pub trait ChannelConnector: Sync {
    /// The channel it serves.
    fn channel(&self) -> Channel;
    /// Its name in status-callback URLs (`/v1/webhooks/notifications/{provider}`) and in `StatusUpdate::provider`.
    fn provider(&self) -> &'static str;
    /// Where a deployment keeps its credentials: the variable holds them as JSON (locally), or `…_ARN` names a
    /// Secrets Manager secret holding that JSON (in AWS).
    fn credentials_variable(&self) -> &'static str;
    /// The shape of its credentials, with sample values: what `build` accepts (docs/channels.md has the rest).
    fn example_credentials(&self) -> Value;
    /// Credentials a deployment may give in variables of their own instead (e-mail: `COBRANCA_EMAIL_FROM`).
    fn environment_credentials(&self) -> Option<Value> {
        None
    }
    /// The sender, from a deployment's or a merchant's credentials; the error names what is missing.
    fn build(&self, credentials: &Credentials<'_>, aws: &aws_config::SdkConfig) -> Result<Arc<dyn NotificationSender>, String>;
    /// How the provider's subscription handshake (a GET to the callback URL) is answered, if it makes one.
    fn handshake(&self) -> Option<Handshake> {
        None
    }
    /// A status callback's updates, once it is verified with the credentials that signed it.
    async fn status_updates(&self, callback: &Callback<'_>, credentials: &Value, tools: &CallbackTools) -> Result<Vec<StatusUpdate>, CallbackError>;
}

/// A status callback as it arrived (header names in lower case).
pub struct Callback<'a> {
    pub query: &'a [(String, String)],
    pub headers: &'a HashMap<String, String>,
    pub body: &'a [u8],
}

/// What a callback may need besides its credentials, kept across requests by whoever receives them: an HTTP
/// client (SNS subscription confirmations) and SNS's signing certificates.
pub struct CallbackTools {
    pub http: reqwest::Client,
    pub certificates: super::ses::HttpsSigningCertificates,
}

impl CallbackTools {
    pub fn new(timeout: std::time::Duration) -> Self {
        Self {
            http: reqwest::Client::builder().timeout(timeout).build().expect("HTTP client"),
            certificates: super::ses::HttpsSigningCertificates::new(timeout),
        }
    }
}

/// The answer to a subscription handshake, from its query and the credentials.
pub type Handshake = fn(&[(String, String)], &Value) -> Result<String, CallbackError>;

macro_rules! channel_registry {
    ($($(#[$doc:meta])* $variant:ident = $name:literal => $connector:ident $profile:tt,)*) => {
        /// The connector serving a channel: the one its entry in the list of channels names.
        pub fn connector(channel: Channel) -> &'static dyn ChannelConnector {
            match channel {
                $(Channel::$variant => &super::$connector::connector::Connector,)*
            }
        }
    };
}
crate::domain::channel::for_each_channel!(channel_registry);

/// The connector whose status callbacks arrive under this provider name.
pub fn by_provider(provider: &str) -> Option<&'static dyn ChannelConnector> {
    Channel::ALL.into_iter().map(connector).find(|c| c.provider() == provider)
}

#[cfg(test)]
mod tests;
