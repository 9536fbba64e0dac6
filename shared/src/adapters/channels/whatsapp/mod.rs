//! WhatsApp through Meta's Cloud API: `POST {graph}/{phone-number-id}/messages` with a bearer token, as a
//! `template` message — outside a 24-hour customer-service window (every collection reminder) WhatsApp only
//! delivers templates the merchant had approved. Each régua step names its template; the body variables are
//! `OutgoingMessage::template_params` ({{1}} first name, {{2}} amount, {{3}} due date, {{4}} link, {{5}} merchant).
//!
//! Answers: 200 `{"messages":[{"id":"wamid…"}]}` → sent (the wamid is the provider message id); errors come as
//! `{"error":{"code","error_subcode","message","type","fbtrace_id"}}`. Retried (transient): 130429 and 131056
//! (rate limits), 131000/1/2 and any 5xx, 429, timeouts. Permanent: 131047 (re-engagement: more than 24 h
//! since the payer last wrote, and the message is not a template), 131026 (undeliverable: not a WhatsApp
//! number, old app, or terms not accepted), 132000/132001 (template parameters or template missing), 100
//! (invalid parameter), 190 (access token expired — an operator must act), and any other 4xx.

/// What it declares about itself, for the registry of channels.
#[cfg(feature = "aws")]
pub mod connector;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::domain::notification::{Channel, NotificationSender, OutgoingMessage, SendError, SendReceipt};

#[derive(Clone)]
pub struct WhatsAppConfig {
    /// `https://graph.facebook.com/v21.0`.
    pub api_url: String,
    pub phone_number_id: String,
    pub access_token: String,
    /// Régua step ("before_due", "on_due", …) → the approved template's name.
    pub templates: HashMap<String, String>,
    /// The templates' language, `pt_BR`.
    pub language: String,
    pub timeout: Duration,
}

impl std::fmt::Debug for WhatsAppConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhatsAppConfig")
            .field("api_url", &self.api_url)
            .field("phone_number_id", &self.phone_number_id)
            .field("access_token", &"***")
            .field("templates", &self.templates)
            .finish()
    }
}

pub struct WhatsAppCloud {
    config: WhatsAppConfig,
    http: reqwest::Client,
}

impl WhatsAppCloud {
    pub fn new(config: WhatsAppConfig) -> Self {
        let http = reqwest::Client::builder().timeout(config.timeout).build().expect("HTTP client");
        Self { config, http }
    }

    /// The request body for one message (public for the tests and the docs).
    pub fn body(&self, m: &OutgoingMessage) -> Result<Value, SendError> {
        let template = self
            .config
            .templates
            .get(&m.step)
            .ok_or_else(|| SendError::Permanent(format!("no approved WhatsApp template configured for step {}", m.step)))?;
        // E.164 without the "+": what the Cloud API takes in `to`.
        let to: String = m.recipient.chars().filter(char::is_ascii_digit).collect();
        if !(10..=15).contains(&to.len()) {
            return Err(SendError::Permanent(format!("not a phone number: {}", m.recipient.len())));
        }
        let parameters: Vec<Value> = m.template_params.iter().map(|p| json!({"type": "text", "text": p})).collect();
        Ok(json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "template",
            "template": {
                "name": template,
                "language": {"code": self.config.language},
                "components": [{"type": "body", "parameters": parameters}],
            },
        }))
    }
}

/// Meta's error codes that a later attempt can get past.
fn is_transient(code: i64) -> bool {
    matches!(code, 130429 | 131056 | 131000 | 131001 | 131002 | 131016 | 2 | 4 | 80007)
}

#[async_trait]
impl NotificationSender for WhatsAppCloud {
    async fn send(&self, m: &OutgoingMessage) -> Result<SendReceipt, SendError> {
        if m.channel != Channel::Whatsapp {
            return Err(SendError::Permanent(format!("the WhatsApp adapter cannot send {}", m.channel.as_str())));
        }
        let body = self.body(m)?;
        let url = format!("{}/{}/messages", self.config.api_url.trim_end_matches('/'), self.config.phone_number_id);
        let response = self
            .http
            .post(url)
            .bearer_auth(&self.config.access_token)
            .json(&body)
            .send()
            .await
            .map_err(|e| SendError::Transient(if e.is_timeout() { "whatsapp: timeout".into() } else { format!("whatsapp: network: {e}") }))?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return answer["messages"][0]["id"]
                .as_str()
                .map(|id| SendReceipt::new(id.to_string()))
                .ok_or_else(|| SendError::Transient(format!("whatsapp: 2xx without a message id: {answer}")));
        }
        let error = &answer["error"];
        let code = error["code"].as_i64().unwrap_or(0);
        let detail = format!("whatsapp {}: {code} {}", status.as_u16(), error["message"].as_str().unwrap_or("error"));
        tracing::warn!(
            status = status.as_u16(),
            code,
            subcode = error["error_subcode"].as_i64(),
            fbtrace_id = error["fbtrace_id"].as_str(),
            "whatsapp send failed"
        );
        if status.is_server_error() || status.as_u16() == 429 || is_transient(code) {
            Err(SendError::Transient(detail))
        } else {
            Err(SendError::Permanent(detail))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{ChargeId, MerchantId};
    use wiremock::matchers::{body_json, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn cloud(server: &MockServer) -> WhatsAppCloud {
        WhatsAppCloud::new(WhatsAppConfig {
            api_url: format!("{}/v21.0", server.uri()),
            phone_number_id: "106540352242922".into(),
            access_token: "EAAJB-token".into(),
            templates: HashMap::from([("before_due".to_string(), "cobranca_lembrete".to_string())]),
            language: "pt_BR".into(),
            timeout: Duration::from_secs(2),
        })
    }

    fn message(step: &str) -> OutgoingMessage {
        OutgoingMessage {
            merchant_id: MerchantId::parse("mer_1").unwrap(),
            charge_id: ChargeId::parse("chg_1").unwrap(),
            reminder_id: "before_due_5d.0.whatsapp".into(),
            step: step.into(),
            channel: Channel::Whatsapp,
            recipient: "+55 11 99999-8888".into(),
            subject: String::new(),
            text: "Olá, Maria…".into(),
            template_params: vec![
                "Maria".into(),
                "R$ 1.234,56".into(),
                "10/12/2026".into(),
                "https://pay.example.com/pay/t".into(),
                "Loja Exemplo".into(),
            ],
            payer_name: "Maria Silva".into(),
            postal_address: None,
            boleto: None,
        }
    }

    fn meta_error(code: i64, message: &str) -> ResponseTemplate {
        ResponseTemplate::new(400).set_body_json(json!({"error": {"message": message, "type": "OAuthException", "code": code, "error_data": {"messaging_product": "whatsapp", "details": message}, "fbtrace_id": "AbCdEf"}}))
    }

    #[tokio::test]
    async fn sends_the_steps_approved_template_with_its_variables() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v21.0/106540352242922/messages"))
            .and(header("authorization", "Bearer EAAJB-token"))
            .and(header("content-type", "application/json"))
            .and(body_json(json!({
                "messaging_product": "whatsapp", "recipient_type": "individual", "to": "5511999998888", "type": "template",
                "template": {"name": "cobranca_lembrete", "language": {"code": "pt_BR"}, "components": [{"type": "body", "parameters": [
                    {"type": "text", "text": "Maria"}, {"type": "text", "text": "R$ 1.234,56"}, {"type": "text", "text": "10/12/2026"},
                    {"type": "text", "text": "https://pay.example.com/pay/t"}, {"type": "text", "text": "Loja Exemplo"}]}]}
            })))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"messaging_product": "whatsapp", "contacts": [{"input": "5511999998888", "wa_id": "5511999998888"}], "messages": [{"id": "wamid.HBgLNTUxMTk5OTk5ODg4OBUCABIYFjNFQjA="}]})))
            .expect(1)
            .mount(&server)
            .await;
        let receipt = cloud(&server).send(&message("before_due")).await.unwrap();
        assert_eq!(receipt.provider_message_id, "wamid.HBgLNTUxMTk5OTk5ODg4OBUCABIYFjNFQjA=");
    }

    #[tokio::test]
    async fn maps_metas_errors_to_retry_or_give_up() {
        let cases = [
            (meta_error(131047, "Re-engagement message"), false),
            (meta_error(131026, "Message undeliverable"), false),
            (meta_error(132001, "Template name does not exist in the translation"), false),
            (meta_error(190, "Error validating access token: Session has expired"), false),
            (meta_error(130429, "Rate limit hit"), true),
            (meta_error(131056, "(Business Account, Consumer Account) pair rate limit hit"), true),
            (
                ResponseTemplate::new(500)
                    .set_body_json(json!({"error": {"message": "An unknown error occurred", "code": 1, "type": "OAuthException"}})),
                true,
            ),
        ];
        for (response, transient) in cases {
            let server = MockServer::start().await;
            Mock::given(method("POST")).respond_with(response).mount(&server).await;
            let got = cloud(&server).send(&message("before_due")).await;
            assert_eq!(matches!(got, Err(SendError::Transient(_))), transient, "{got:?}");
            assert!(got.is_err());
        }
    }

    #[tokio::test]
    async fn a_step_without_an_approved_template_or_a_bad_number_is_not_sent() {
        let server = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
        assert!(matches!(cloud(&server).send(&message("on_due")).await, Err(SendError::Permanent(m)) if m.contains("template")));
        let mut bad = message("before_due");
        bad.recipient = "12".into();
        assert!(matches!(cloud(&server).send(&bad).await, Err(SendError::Permanent(_))));
    }

    #[tokio::test]
    async fn a_timeout_is_retried() {
        let server = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5))).mount(&server).await;
        assert!(matches!(cloud(&server).send(&message("before_due")).await, Err(SendError::Transient(_))));
    }
}

// Status callbacks. Meta posts `{"object": "whatsapp_business_account", "entry": [{"changes": [{"field":
// "messages", "value": {"statuses": [{"id": "wamid…", "status": "sent|delivered|read|failed", "timestamp": unix
// seconds, "recipient_id", "errors"?: [{"code", "title", "message", "error_data": {"details"}}]}]}}]}]}`, signed
// with `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, keyed with the app secret>`. A failure
// with 131026 (not a WhatsApp number, or the payer cannot receive) suppresses the number; 131047 and the others
// only fail the message (the fallback channel takes over). Subscribing the webhook, Meta first asks
// `GET ?hub.mode=subscribe&hub.verify_token=<ours>&hub.challenge=<n>` and expects the challenge back.

/// The provider name in `StatusUpdate::provider`.
pub const PROVIDER: &str = "whatsapp";
/// Meta error codes after which the number is not tried again on WhatsApp.
const SUPPRESSING_ERRORS: [i64; 1] = [131026];

/// Meta's subscription handshake: the `hub.challenge` to answer when `hub.mode` is `subscribe` and
/// `hub.verify_token` is ours (compared in constant time).
pub fn verify_handshake(query: &[(String, String)], verify_token: &str) -> Result<String, crate::domain::tracking::CallbackError> {
    use crate::domain::tracking::CallbackError;
    let get = |k: &str| query.iter().find(|(name, _)| name == k).map(|(_, v)| v.as_str());
    if get("hub.mode") != Some("subscribe") {
        return Err(CallbackError::Malformed("whatsapp: hub.mode is not subscribe".into()));
    }
    if !super::sms::secret_matches(get("hub.verify_token"), verify_token) {
        return Err(CallbackError::Unauthorized("whatsapp: wrong hub.verify_token".into()));
    }
    get("hub.challenge").map(str::to_string).ok_or_else(|| CallbackError::Malformed("whatsapp: hub.challenge missing".into()))
}

/// A Meta webhook delivery as status updates (incoming messages and other fields are skipped), once its
/// `x-hub-signature-256` header (header names in lower case) checks out against the app secret.
pub fn parse_status_callback(
    headers: &HashMap<String, String>,
    body: &[u8],
    app_secret: &str,
) -> Result<Vec<crate::domain::tracking::StatusUpdate>, crate::domain::tracking::CallbackError> {
    use crate::domain::tracking::{CallbackError, MessageStatus, StatusUpdate};
    use hmac::{Hmac, Mac};
    let unauthorized = |why: &str| CallbackError::Unauthorized(format!("whatsapp: {why}"));
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|s| s.trim().strip_prefix("sha256="))
        .ok_or_else(|| unauthorized("missing X-Hub-Signature-256"))?;
    if app_secret.is_empty() {
        return Err(unauthorized("no app secret configured"));
    }
    let given = hex::decode(signature).map_err(|_| unauthorized("X-Hub-Signature-256 is not hex"))?;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(app_secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    mac.verify_slice(&given).map_err(|_| unauthorized("signature does not match"))?;

    let delivery: Value = serde_json::from_slice(body).map_err(|e| CallbackError::Malformed(format!("whatsapp: {e}")))?;
    if delivery["object"].as_str() != Some("whatsapp_business_account") {
        return Ok(vec![]);
    }
    let mut updates = Vec::new();
    let changes = delivery["entry"].as_array().into_iter().flatten().flat_map(|e| e["changes"].as_array().into_iter().flatten());
    for change in changes.filter(|c| c["field"].as_str() == Some("messages")) {
        for s in change["value"]["statuses"].as_array().into_iter().flatten() {
            let status = match s["status"].as_str() {
                Some("sent") => MessageStatus::Sent,
                Some("delivered") => MessageStatus::Delivered,
                Some("read") => MessageStatus::Read,
                Some("failed") => MessageStatus::Failed,
                _ => continue,
            };
            let id = s["id"].as_str().ok_or_else(|| CallbackError::Malformed("whatsapp: status without id".into()))?;
            let seconds: i64 = s["timestamp"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .or(s["timestamp"].as_i64())
                .ok_or_else(|| CallbackError::Malformed("whatsapp: status without timestamp".into()))?;
            let at =
                chrono::DateTime::from_timestamp(seconds, 0).ok_or_else(|| CallbackError::Malformed("whatsapp: timestamp out of range".into()))?;
            let errors: Vec<&Value> = s["errors"].as_array().into_iter().flatten().collect();
            let detail = (!errors.is_empty()).then(|| {
                let parts: Vec<String> = errors
                    .iter()
                    .map(|e| {
                        format!(
                            "{} {}",
                            e["code"].as_i64().unwrap_or(0),
                            e["error_data"]["details"].as_str().or(e["title"].as_str()).or(e["message"].as_str()).unwrap_or("")
                        )
                        .trim()
                        .to_string()
                    })
                    .collect();
                format!("whatsapp: {}", parts.join("; "))
            });
            let suppress_recipient =
                status == MessageStatus::Failed && errors.iter().any(|e| e["code"].as_i64().is_some_and(|c| SUPPRESSING_ERRORS.contains(&c)));
            updates.push(StatusUpdate { provider: PROVIDER.into(), provider_message_id: id.to_string(), status, at, detail, suppress_recipient });
        }
    }
    Ok(updates)
}

#[cfg(test)]
mod callback_tests {
    use super::*;
    use crate::domain::tracking::{CallbackError, MessageStatus};
    use hmac::{Hmac, Mac};

    const APP_SECRET: &str = "6b4f0c2d9e8a7b1c3d5e7f9a0b2c4d6e";

    fn signed(body: &[u8]) -> HashMap<String, String> {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
        mac.update(body);
        HashMap::from([("x-hub-signature-256".to_string(), format!("sha256={}", hex::encode(mac.finalize().into_bytes())))])
    }

    #[test]
    fn reads_signed_status_webhooks() {
        let delivered = include_bytes!("../../../../tests/fixtures/providers/whatsapp_status_delivered.json");
        let updates = parse_status_callback(&signed(delivered), delivered, APP_SECRET).unwrap();
        assert_eq!(updates.len(), 1);
        assert_eq!(updates[0].provider_message_id, "wamid.HBgLNTUxMTk5OTk5ODg4OBUCABIYFjNFQjA=");
        assert_eq!(updates[0].status, MessageStatus::Delivered);
        assert_eq!(updates[0].at.timestamp(), 1_796_558_410);
        assert!(!updates[0].suppress_recipient);

        let failed = include_bytes!("../../../../tests/fixtures/providers/whatsapp_status_failed.json");
        let updates = parse_status_callback(&signed(failed), failed, APP_SECRET).unwrap();
        assert_eq!(
            updates.iter().map(|u| (u.status, u.suppress_recipient)).collect::<Vec<_>>(),
            [(MessageStatus::Failed, true), (MessageStatus::Failed, false)]
        );
        assert_eq!(updates[0].detail.as_deref(), Some("whatsapp: 131026 Message Undeliverable."));
        assert!(updates[1].detail.as_deref().unwrap().starts_with("whatsapp: 131047"));
    }

    #[test]
    fn refuses_forged_or_unsigned_webhooks() {
        let delivered = include_bytes!("../../../../tests/fixtures/providers/whatsapp_status_delivered.json");
        let headers = signed(delivered);
        let forged = String::from_utf8_lossy(delivered).replace("\"delivered\"", "\"read\"");
        assert!(matches!(parse_status_callback(&headers, forged.as_bytes(), APP_SECRET), Err(CallbackError::Unauthorized(_))));
        assert!(matches!(parse_status_callback(&HashMap::new(), delivered, APP_SECRET), Err(CallbackError::Unauthorized(_))));
        assert!(matches!(parse_status_callback(&headers, delivered, ""), Err(CallbackError::Unauthorized(_))));
        let bad = HashMap::from([("x-hub-signature-256".to_string(), "sha1=abc".to_string())]);
        assert!(matches!(parse_status_callback(&bad, delivered, APP_SECRET), Err(CallbackError::Unauthorized(_))));
    }

    #[test]
    fn answers_metas_subscription_handshake() {
        let query = |mode: &str, token: &str| {
            vec![
                ("hub.mode".to_string(), mode.to_string()),
                ("hub.verify_token".to_string(), token.to_string()),
                ("hub.challenge".to_string(), "1158201444".to_string()),
            ]
        };
        assert_eq!(verify_handshake(&query("subscribe", "meu-token"), "meu-token").unwrap(), "1158201444");
        assert!(matches!(verify_handshake(&query("subscribe", "outro"), "meu-token"), Err(CallbackError::Unauthorized(_))));
        assert!(matches!(verify_handshake(&query("unsubscribe", "meu-token"), "meu-token"), Err(CallbackError::Malformed(_))));
        assert!(matches!(verify_handshake(&query("subscribe", ""), ""), Err(CallbackError::Unauthorized(_))));
    }
}
