//! What SMS through Zenvia declares about itself: its credentials, how its sender is built, its status callbacks.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::{parse_status_callback, ZenviaConfig, ZenviaSms, PROVIDER};
use crate::adapters::channels::registry::{Callback, CallbackTools, ChannelConnector, Credentials};
use crate::domain::notification::{Channel, NotificationSender};
use crate::domain::tracking::{CallbackError, StatusUpdate};

pub struct Connector;

#[async_trait]
impl ChannelConnector for Connector {
    fn channel(&self) -> Channel {
        Channel::Sms
    }

    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn credentials_variable(&self) -> &'static str {
        "COBRANCA_SMS_CREDENTIALS"
    }

    /// `gsm7_only` (accents folded, so a segment holds 160 characters) and `api_url` are optional.
    fn example_credentials(&self) -> Value {
        json!({"token": "zenvia-token", "from": "LojaExemplo", "callback_secret": "callback-secret", "gsm7_only": false})
    }

    fn build(&self, c: &Credentials<'_>, _aws: &aws_config::SdkConfig) -> Result<Arc<dyn NotificationSender>, String> {
        Ok(Arc::new(ZenviaSms::new(ZenviaConfig {
            api_url: c.or("api_url", "https://api.zenvia.com"),
            token: c.required("token")?,
            from: c.required("from")?,
            gsm7_only: c.flag("gsm7_only", false),
            timeout: Duration::from_secs(8),
        })))
    }

    async fn status_updates(&self, callback: &Callback<'_>, c: &Value, _: &CallbackTools) -> Result<Vec<StatusUpdate>, CallbackError> {
        parse_status_callback(callback.headers, callback.body, c["callback_secret"].as_str().unwrap_or_default())
    }
}
