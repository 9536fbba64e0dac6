//! What letters through Lob declare about themselves: credentials (with the return address), how the sender is
//! built, status callbacks.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::{parse_status_callback, LobConfig, LobLetters, PROVIDER};
use crate::adapters::channels::registry::{Callback, CallbackTools, ChannelConnector, Credentials};
use crate::domain::notification::{Channel, NotificationSender};
use crate::domain::tracking::{CallbackError, StatusUpdate};

pub struct Connector;

#[async_trait]
impl ChannelConnector for Connector {
    fn channel(&self) -> Channel {
        Channel::Letter
    }

    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn credentials_variable(&self) -> &'static str {
        "COBRANCA_LETTER_CREDENTIALS"
    }

    /// `mail_type` and `api_url` are optional; `return_address` is a `letter::ReturnAddress`.
    fn example_credentials(&self) -> Value {
        json!({"api_key": "test_lob_key", "webhook_secret": "webhook-secret",
               "return_address": {"name": "Loja Exemplo", "address_line1": "210 King St", "address_city": "San Francisco",
                                  "address_state": "CA", "address_zip": "94107", "address_country": "US"}})
    }

    fn build(&self, c: &Credentials<'_>, _aws: &aws_config::SdkConfig) -> Result<Arc<dyn NotificationSender>, String> {
        Ok(Arc::new(LobLetters::new(LobConfig {
            api_url: c.or("api_url", "https://api.lob.com"),
            api_key: c.required("api_key")?,
            return_address: serde_json::from_value(c.value["return_address"].clone()).map_err(|e| format!("{}: return_address: {e}", c.variable))?,
            mail_type: c.or("mail_type", "usps_first_class"),
            // Lob renders the PDF before it answers.
            timeout: Duration::from_secs(20),
        })))
    }

    async fn status_updates(&self, callback: &Callback<'_>, c: &Value, _: &CallbackTools) -> Result<Vec<StatusUpdate>, CallbackError> {
        parse_status_callback(callback.headers, callback.body, c["webhook_secret"].as_str().unwrap_or_default(), chrono::Utc::now())
    }
}
