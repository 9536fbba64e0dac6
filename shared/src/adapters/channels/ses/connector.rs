//! What e-mail through Amazon SES declares about itself: its credentials (or the sender alone, in
//! `COBRANCA_EMAIL_FROM`), how its sender is built, and its events as SNS posts.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::{confirm_subscription, parse_sns_callback, SesEmail, SnsCallback, PROVIDER};
use crate::adapters::channels::registry::{Callback, CallbackTools, ChannelConnector, Credentials};
use crate::adapters::credentials::variable;
use crate::domain::notification::{Channel, NotificationSender};
use crate::domain::tracking::{CallbackError, StatusUpdate};

pub struct Connector;

#[async_trait]
impl ChannelConnector for Connector {
    fn channel(&self) -> Channel {
        Channel::Email
    }

    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn credentials_variable(&self) -> &'static str {
        "COBRANCA_EMAIL_CREDENTIALS"
    }

    /// `configuration_set` publishes bounces and complaints; `sns_topic_arns` are the topics whose posts we accept.
    fn example_credentials(&self) -> Value {
        json!({"from": "Loja Exemplo <cobranca@loja.example>", "configuration_set": "cobranca",
               "sns_topic_arns": ["arn:aws:sns:sa-east-1:123456789012:cobranca-ses-events"]})
    }

    /// A verified SES sender alone turns e-mail on (`COBRANCA_SES_CONFIGURATION_SET` for its events).
    fn environment_credentials(&self) -> Option<Value> {
        let from = variable("COBRANCA_EMAIL_FROM")?;
        Some(json!({"from": from, "configuration_set": variable("COBRANCA_SES_CONFIGURATION_SET"),
                    "sns_topic_arns": variable("COBRANCA_SES_EVENTS_TOPIC_ARN").into_iter().collect::<Vec<_>>()}))
    }

    fn build(&self, c: &Credentials<'_>, aws: &aws_config::SdkConfig) -> Result<Arc<dyn NotificationSender>, String> {
        Ok(Arc::new(SesEmail {
            client: aws_sdk_sesv2::Client::new(aws),
            from: c.required("from")?,
            configuration_set: c.optional("configuration_set"),
        }))
    }

    async fn status_updates(&self, callback: &Callback<'_>, c: &Value, tools: &CallbackTools) -> Result<Vec<StatusUpdate>, CallbackError> {
        let topics: Vec<String> =
            c["sns_topic_arns"].as_array().map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect()).unwrap_or_default();
        match parse_sns_callback(callback.body, &topics, &tools.certificates).await? {
            SnsCallback::Updates(updates) => Ok(updates),
            SnsCallback::SubscriptionConfirmation { topic_arn, subscribe_url } => {
                // Our own topic asks to deliver here: confirm, so SES events start to arrive.
                confirm_subscription(&tools.http, &subscribe_url).await.map_err(CallbackError::Malformed)?;
                tracing::info!(topic_arn, "SNS subscription confirmed");
                Ok(vec![])
            }
        }
    }
}
