//! What voice calls through TotalVoice (Zenvia Voice) declare about themselves: credentials, how the sender is
//! built, status callbacks (authenticated by a token in their URL's query).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::{parse_status_callback, TotalVoiceConfig, TotalVoiceTts, PROVIDER, TOKEN_PARAMETER};
use crate::adapters::channels::registry::{Callback, CallbackTools, ChannelConnector, Credentials};
use crate::domain::notification::{Channel, NotificationSender};
use crate::domain::tracking::{CallbackError, StatusUpdate};

pub struct Connector;

#[async_trait]
impl ChannelConnector for Connector {
    fn channel(&self) -> Channel {
        Channel::Voice
    }

    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn credentials_variable(&self) -> &'static str {
        "COBRANCA_VOICE_CREDENTIALS"
    }

    /// `voice`, `caller_id`, `detect_voicemail` and `api_url` are optional.
    fn example_credentials(&self) -> Value {
        json!({"access_token": "totalvoice-token", "callback_token": "callback-token", "voice": "br-Vitoria", "detect_voicemail": true})
    }

    fn build(&self, c: &Credentials<'_>, _aws: &aws_config::SdkConfig) -> Result<Arc<dyn NotificationSender>, String> {
        Ok(Arc::new(TotalVoiceTts::new(TotalVoiceConfig {
            api_url: c.or("api_url", "https://voice-api.zenvia.com"),
            access_token: c.required("access_token")?,
            voice: c.or("voice", "br-Vitoria"),
            caller_id: c.optional("caller_id"),
            detect_voicemail: c.flag("detect_voicemail", true),
            timeout: Duration::from_secs(8),
        })))
    }

    async fn status_updates(&self, callback: &Callback<'_>, c: &Value, _: &CallbackTools) -> Result<Vec<StatusUpdate>, CallbackError> {
        let token = callback.query.iter().find(|(k, _)| k == TOKEN_PARAMETER).map(|(_, v)| v.as_str());
        parse_status_callback(token, callback.body, c["callback_token"].as_str().unwrap_or_default())
    }
}
