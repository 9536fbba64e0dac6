//! What WhatsApp (Meta's Cloud API) declares about itself: its credentials, how its sender is built from them,
//! its subscription handshake and status callbacks.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::{parse_status_callback, verify_handshake, WhatsAppCloud, WhatsAppConfig, PROVIDER};
use crate::adapters::channels::registry::{Callback, CallbackTools, ChannelConnector, Credentials, Handshake};
use crate::domain::notification::{Channel, NotificationSender};
use crate::domain::tracking::{CallbackError, StatusUpdate};

pub struct Connector;

#[async_trait]
impl ChannelConnector for Connector {
    fn channel(&self) -> Channel {
        Channel::Whatsapp
    }

    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn credentials_variable(&self) -> &'static str {
        "COBRANCA_WHATSAPP_CREDENTIALS"
    }

    /// `api_url` and `language` are optional; `templates` maps régua steps to the merchant's approved templates.
    fn example_credentials(&self) -> Value {
        json!({"phone_number_id": "109876543210", "access_token": "EAAG-token", "templates": {"on_due": "cobranca_vencimento"},
               "app_secret": "app-secret", "verify_token": "verify-token", "language": "pt_BR"})
    }

    fn build(&self, c: &Credentials<'_>, _aws: &aws_config::SdkConfig) -> Result<Arc<dyn NotificationSender>, String> {
        let templates = c.value["templates"]
            .as_object()
            .ok_or_else(|| format!("{} lacks templates (régua step → approved template name)", c.variable))?
            .iter()
            .filter_map(|(step, name)| name.as_str().map(|n| (step.clone(), n.to_string())))
            .collect();
        Ok(Arc::new(WhatsAppCloud::new(WhatsAppConfig {
            api_url: c.or("api_url", "https://graph.facebook.com/v21.0"),
            phone_number_id: c.required("phone_number_id")?,
            access_token: c.required("access_token")?,
            templates,
            language: c.or("language", "pt_BR"),
            timeout: Duration::from_secs(8),
        })))
    }

    fn handshake(&self) -> Option<Handshake> {
        Some(|query, c| verify_handshake(query, c["verify_token"].as_str().unwrap_or_default()))
    }

    async fn status_updates(&self, callback: &Callback<'_>, c: &Value, _: &CallbackTools) -> Result<Vec<StatusUpdate>, CallbackError> {
        parse_status_callback(callback.headers, callback.body, c["app_secret"].as_str().unwrap_or_default())
    }
}
