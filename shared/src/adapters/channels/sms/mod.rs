//! SMS through Zenvia's API v2: `POST {api}/v2/channels/sms/messages` with the `X-API-TOKEN` header and
//! `{"from": <the SMS account alias>, "to": "55…" (country code + DDD + number), "externalId": <reminder id>,
//! "contents": [{"type": "text", "text": …}]}`. `externalId` comes back in every status event (traceability;
//! Zenvia does not document it as an idempotency key).
//!
//! The text: the message's `text` (the SMS template, which ends with the merchant's name and CPF/CNPJ) when it
//! fits in `templates::MAX_SMS_SEGMENTS` (3) parts as Zenvia bills them (`sms_text::Alphabet::Portable`:
//! accented letters make the whole text UCS-2); otherwise the short form "{subject}: {payment link} {merchant and
//! CPF/CNPJ}", which keeps the sender identity the law requires (CDC art. 42-A). With `gsm7_only` the text is
//! transliterated to plain 7-bit first (`sms_text::transliterate`: "cobrança" → "cobranca"), which is what makes
//! a reminder fit one or two 160-character parts instead of three or more 70-character ones. The receipt's
//! `segments` are counted on the text sent.
//!
//! Answers: 200 with the message object (`id` is the provider message id). Errors come as `{"code","message",
//! "details"?}`: 400 `VALIDATION_ERROR`, 404 `NOT_FOUND`, 409 `DUPLICATED` and other 4xx are permanent; 401
//! `AUTHENTICATION_ERROR` and 403 are permanent too (an operator must fix the token or the account); 429, 5xx
//! (`INTERNAL_ERROR`, which Zenvia marks "retry: yes"), network errors and timeouts are retried.
//!
//! Status callbacks: a Zenvia `MESSAGE_STATUS` subscription (channel `sms`) posts one event per status —
//! `messageStatus.code` SENT → sent, DELIVERED → delivered, READ / CLICKED → read, VERIFIED → delivered,
//! REJECTED / NOT_DELIVERED → failed (with `causes`); anything else is acknowledged and ignored. Zenvia signs
//! nothing, but a subscription's `webhook.headers` are sent with every event: the subscription is created with
//! `{"x-webhook-secret": <secret>}`, which `parse_status_callback` compares in constant time.

/// What it declares about itself, for the registry of channels.
#[cfg(feature = "aws")]
pub mod connector;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::domain::notification::{Channel, NotificationSender, OutgoingMessage, SendError, SendReceipt};
use crate::domain::sms_text::{self, Alphabet};
use crate::domain::tracking::{CallbackError, MessageStatus, StatusUpdate};

/// The provider name in `StatusUpdate::provider`.
pub const PROVIDER: &str = "zenvia";
/// The header Zenvia is told to send with every status event (lower case, as `ApiRequest::headers` keeps them).
pub const SECRET_HEADER: &str = "x-webhook-secret";

#[derive(Clone)]
pub struct ZenviaConfig {
    /// `https://api.zenvia.com`.
    pub api_url: String,
    pub token: String,
    /// The SMS account alias connected on the Zenvia platform (the `from` of every message).
    pub from: String,
    /// Transliterate every text to plain 7-bit before sending (fewer, cheaper parts; no accents).
    pub gsm7_only: bool,
    pub timeout: Duration,
}

impl std::fmt::Debug for ZenviaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZenviaConfig")
            .field("api_url", &self.api_url)
            .field("token", &"***")
            .field("from", &self.from)
            .field("gsm7_only", &self.gsm7_only)
            .finish()
    }
}

pub struct ZenviaSms {
    config: ZenviaConfig,
    http: reqwest::Client,
}

/// A Brazilian mobile number as Zenvia's `to`: 55 + DDD + number, digits only.
pub fn recipient(raw: &str) -> Result<String, SendError> {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let full = match digits.len() {
        10 | 11 => format!("55{digits}"),
        12 | 13 if digits.starts_with("55") => digits,
        _ => return Err(SendError::Permanent(format!("not a Brazilian phone number ({} digits)", digits.len()))),
    };
    Ok(full)
}

/// The merchant's name and CPF/CNPJ at the end of an SMS text (the footer every SMS template ends with), or just
/// the merchant's name when the text does not carry the footer.
fn identity(m: &OutgoingMessage) -> String {
    let Some(name) = m.template_params.get(4).filter(|n| !n.is_empty()) else { return String::new() };
    let text = m.text.trim_end();
    for kind in ["CNPJ", "CPF"] {
        if let Some(at) = text.rfind(&format!("{name} {kind} ")) {
            return text[at..].to_string();
        }
    }
    name.clone()
}

/// The text an SMS carries for a message (see the module documentation for the rule).
pub fn sms_body(m: &OutgoingMessage, gsm7_only: bool) -> String {
    let prepare = |s: &str| if gsm7_only { sms_text::transliterate(s) } else { s.to_string() };
    let full = prepare(m.text.trim());
    if sms_text::analyze_in(&full, Alphabet::Portable).segments <= crate::domain::templates::MAX_SMS_SEGMENTS {
        return full;
    }
    let link = m.template_params.get(3).map(String::as_str).unwrap_or_default();
    let signature = identity(m);
    let short: Vec<&str> = [m.subject.trim(), link, &signature].into_iter().filter(|p| !p.is_empty()).collect();
    let short = match short.as_slice() {
        [subject, rest @ ..] if !rest.is_empty() => format!("{subject}: {}", rest.join(" ")),
        _ => short.join(" "),
    };
    prepare(&short)
}

impl ZenviaSms {
    pub fn new(config: ZenviaConfig) -> Self {
        let http = reqwest::Client::builder().timeout(config.timeout).build().expect("HTTP client");
        Self { config, http }
    }

    /// The request body for one message (public for the tests and the docs).
    pub fn body(&self, m: &OutgoingMessage) -> Result<(Value, u32), SendError> {
        let to = recipient(&m.recipient)?;
        let text = sms_body(m, self.config.gsm7_only);
        if text.trim().is_empty() {
            return Err(SendError::Permanent("empty SMS text".into()));
        }
        let segments = sms_text::analyze_in(&text, Alphabet::Portable).segments;
        let body = json!({
            "from": self.config.from,
            "to": to,
            "externalId": m.reminder_id,
            "contents": [{"type": "text", "text": text}],
        });
        Ok((body, segments))
    }
}

#[async_trait]
impl NotificationSender for ZenviaSms {
    async fn send(&self, m: &OutgoingMessage) -> Result<SendReceipt, SendError> {
        if m.channel != Channel::Sms {
            return Err(SendError::Permanent(format!("the SMS adapter cannot send {}", m.channel.as_str())));
        }
        let (body, segments) = self.body(m)?;
        let url = format!("{}/v2/channels/sms/messages", self.config.api_url.trim_end_matches('/'));
        let response = self
            .http
            .post(url)
            .header("X-API-TOKEN", &self.config.token)
            .json(&body)
            .send()
            .await
            .map_err(|e| SendError::Transient(if e.is_timeout() { "zenvia: timeout".into() } else { format!("zenvia: network: {e}") }))?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return answer["id"]
                .as_str()
                .map(|id| SendReceipt { provider_message_id: id.to_string(), segments: Some(segments) })
                .ok_or_else(|| SendError::Transient(format!("zenvia: 2xx without a message id: {answer}")));
        }
        let code = answer["code"].as_str().unwrap_or("error");
        let details: Vec<String> = answer["details"]
            .as_array()
            .map(|d| {
                d.iter().map(|e| format!("{} {}", e["path"].as_str().unwrap_or(""), e["message"].as_str().unwrap_or("")).trim().to_string()).collect()
            })
            .unwrap_or_default();
        let detail =
            format!("zenvia {}: {code} {} {}", status.as_u16(), answer["message"].as_str().unwrap_or(""), details.join("; ")).trim_end().to_string();
        tracing::warn!(status = status.as_u16(), code, "zenvia send failed");
        match status.as_u16() {
            429 | 500..=599 => Err(SendError::Transient(detail)),
            401 | 403 => Err(SendError::Permanent(format!("{detail} (check the Zenvia API token and account)"))),
            _ => Err(SendError::Permanent(detail)),
        }
    }
}

/// A shared secret compared in constant time.
pub(crate) fn secret_matches(given: Option<&str>, expected: &str) -> bool {
    use subtle::ConstantTimeEq;
    !expected.is_empty() && given.is_some_and(|g| bool::from(g.as_bytes().ct_eq(expected.as_bytes())))
}

fn timestamp(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|t| t.with_timezone(&Utc))
}

/// A Zenvia `MESSAGE_STATUS` event as status updates (none for events that change nothing), once the
/// `x-webhook-secret` header (header names in lower case) matches `secret`.
pub fn parse_status_callback(headers: &HashMap<String, String>, body: &[u8], secret: &str) -> Result<Vec<StatusUpdate>, CallbackError> {
    if !secret_matches(headers.get(SECRET_HEADER).map(String::as_str), secret) {
        return Err(CallbackError::Unauthorized(format!("zenvia: missing or wrong {SECRET_HEADER}")));
    }
    let event: Value = serde_json::from_slice(body).map_err(|e| CallbackError::Malformed(format!("zenvia: {e}")))?;
    if event["type"].as_str() != Some("MESSAGE_STATUS") || event["channel"].as_str().is_some_and(|c| c != "sms") {
        return Ok(vec![]);
    }
    let status = &event["messageStatus"];
    let code = status["code"].as_str().ok_or_else(|| CallbackError::Malformed("zenvia: messageStatus.code missing".into()))?;
    let id = event["message"]["id"]
        .as_str()
        .or(event["messageId"].as_str())
        .ok_or_else(|| CallbackError::Malformed("zenvia: message id missing".into()))?;
    let at = timestamp(&status["timestamp"])
        .or_else(|| timestamp(&event["timestamp"]))
        .ok_or_else(|| CallbackError::Malformed("zenvia: timestamp missing".into()))?;
    let delivery = match code {
        "SENT" => MessageStatus::Sent,
        "DELIVERED" | "VERIFIED" => MessageStatus::Delivered,
        "READ" | "CLICKED" => MessageStatus::Read,
        "REJECTED" | "NOT_DELIVERED" => MessageStatus::Failed,
        _ => return Ok(vec![]),
    };
    let detail = (delivery == MessageStatus::Failed).then(|| {
        let causes: Vec<String> = status["causes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| [&c["channelErrorCode"], &c["reason"], &c["details"]].iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(" "))
            .collect();
        format!(
            "zenvia {code}: {}",
            if causes.is_empty() { status["description"].as_str().unwrap_or_default().to_string() } else { causes.join("; ") }
        )
    });
    Ok(vec![StatusUpdate { provider: PROVIDER.into(), provider_message_id: id.to_string(), status: delivery, at, detail, suppress_recipient: false }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{ChargeId, MerchantId};
    use wiremock::matchers::{body_json, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const FOOTER: &str = "Loja Exemplo CNPJ 11.222.333/0001-81";

    fn zenvia(server: &MockServer, gsm7_only: bool) -> ZenviaSms {
        ZenviaSms::new(ZenviaConfig {
            api_url: server.uri(),
            token: "zv-token".into(),
            from: "loja-exemplo".into(),
            gsm7_only,
            timeout: Duration::from_secs(2),
        })
    }

    fn message(text: &str) -> OutgoingMessage {
        OutgoingMessage {
            merchant_id: MerchantId::parse("mer_1").unwrap(),
            charge_id: ChargeId::parse("chg_1").unwrap(),
            reminder_id: "before_due_5d.0.sms".into(),
            step: "before_due".into(),
            channel: Channel::Sms,
            recipient: "+55 (11) 99999-8888".into(),
            subject: "Lembrete de vencimento".into(),
            text: text.into(),
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

    fn reminder_text() -> String {
        format!("Maria, lembrete: \"Mensalidade\" de R$ 1.234,56 vence 10/12/2026. Pague em https://pay.example.com/pay/t Se já pagou, desconsidere. {FOOTER}")
    }

    /// The message object Zenvia answers with (its `Message Object` schema).
    fn created(text: &str) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(json!({
            "id": "0f8b6c1e-4d2a-4a51-9a3c-2f0c7d6e5b41", "externalId": "before_due_5d.0.sms", "from": "loja-exemplo", "to": "5511999998888",
            "direction": "OUT", "channel": "sms", "contents": [{"type": "text", "text": text}], "timestamp": "2026-12-05T12:00:01.123Z"
        }))
    }

    fn zenvia_error(status: u16, code: &str, message: &str) -> ResponseTemplate {
        ResponseTemplate::new(status).set_body_json(json!({"code": code, "message": message}))
    }

    #[tokio::test]
    async fn posts_the_text_with_token_sender_recipient_and_external_id() {
        let server = MockServer::start().await;
        let text = reminder_text();
        Mock::given(method("POST"))
            .and(path("/v2/channels/sms/messages"))
            .and(header("x-api-token", "zv-token"))
            .and(header("content-type", "application/json"))
            .and(body_json(json!({"from": "loja-exemplo", "to": "5511999998888", "externalId": "before_due_5d.0.sms", "contents": [{"type": "text", "text": text}]})))
            .respond_with(created(&text))
            .expect(1)
            .mount(&server)
            .await;
        let receipt = zenvia(&server, false).send(&message(&text)).await.unwrap();
        assert_eq!(receipt.provider_message_id, "0f8b6c1e-4d2a-4a51-9a3c-2f0c7d6e5b41");
        // "já" makes it UCS-2 as Zenvia bills it: 166 characters in 67-unit parts.
        assert_eq!(receipt.segments, Some(3));
    }

    #[tokio::test]
    async fn gsm7_only_transliterates_and_pays_for_fewer_parts() {
        let server = MockServer::start().await;
        let sent = reminder_text().replace("já", "ja");
        Mock::given(method("POST")).and(body_json(json!({"from": "loja-exemplo", "to": "5511999998888", "externalId": "before_due_5d.0.sms", "contents": [{"type": "text", "text": sent}]})))
            .respond_with(created(&sent))
            .expect(1)
            .mount(&server)
            .await;
        assert_eq!(zenvia(&server, true).send(&message(&reminder_text())).await.unwrap().segments, Some(2));
    }

    #[test]
    fn a_text_over_three_parts_becomes_subject_link_and_sender_identity() {
        let long = format!("Olá, Maria! {} {FOOTER}", "Lembramos que a cobrança está em aberto.".repeat(6));
        let body = sms_body(&message(&long), false);
        assert_eq!(body, format!("Lembrete de vencimento: https://pay.example.com/pay/t {FOOTER}"));
        assert_eq!(sms_body(&message(&reminder_text()), false), reminder_text(), "three parts still fit");
        // Without the footer the merchant's name still signs the short form.
        let bare = message(&"ã".repeat(500));
        assert_eq!(sms_body(&bare, true), "Lembrete de vencimento: https://pay.example.com/pay/t Loja Exemplo");
    }

    #[tokio::test]
    async fn maps_zenvias_errors_to_retry_or_give_up() {
        let cases = [
            (zenvia_error(400, "VALIDATION_ERROR", "Validation error"), false),
            (zenvia_error(401, "AUTHENTICATION_ERROR", "No authorization token was found"), false),
            (zenvia_error(403, "FORBIDDEN", "Forbidden"), false),
            (zenvia_error(409, "DUPLICATED", "Entity already exists"), false),
            (zenvia_error(429, "TOO_MANY_REQUESTS", "Too many requests"), true),
            (zenvia_error(500, "INTERNAL_ERROR", "Internal error"), true),
            (ResponseTemplate::new(503), true),
        ];
        for (response, transient) in cases {
            let server = MockServer::start().await;
            Mock::given(method("POST")).respond_with(response).mount(&server).await;
            let got = zenvia(&server, false).send(&message(&reminder_text())).await;
            assert_eq!(matches!(got, Err(SendError::Transient(_))), transient, "{got:?}");
            assert!(got.is_err());
        }
    }

    #[tokio::test]
    async fn a_bad_number_is_not_sent_and_a_timeout_is_retried() {
        let server = MockServer::start().await;
        Mock::given(method("POST")).respond_with(created("x").set_delay(Duration::from_secs(5))).mount(&server).await;
        let mut bad = message("oi");
        bad.recipient = "12345".into();
        assert!(matches!(zenvia(&server, false).send(&bad).await, Err(SendError::Permanent(_))));
        assert!(matches!(zenvia(&server, false).send(&message("oi")).await, Err(SendError::Transient(m)) if m.contains("timeout")));
        assert_eq!(recipient("5511999998888").unwrap(), "5511999998888");
        assert_eq!(recipient("(21) 3333-4444").unwrap(), "552133334444");
    }

    fn headers(secret: &str) -> HashMap<String, String> {
        HashMap::from([(SECRET_HEADER.to_string(), secret.to_string()), ("content-type".into(), "application/json".into())])
    }

    #[test]
    fn reads_zenvias_message_status_events() {
        let delivered = include_bytes!("../../../../tests/fixtures/providers/zenvia_message_status_delivered.json");
        let updates = parse_status_callback(&headers("s3cret"), delivered, "s3cret").unwrap();
        assert_eq!(updates.len(), 1);
        assert_eq!(updates[0].provider_message_id, "0f8b6c1e-4d2a-4a51-9a3c-2f0c7d6e5b41");
        assert_eq!(updates[0].status, MessageStatus::Delivered);
        assert_eq!(updates[0].at.to_rfc3339(), "2026-12-05T12:00:09.542+00:00");

        let failed = include_bytes!("../../../../tests/fixtures/providers/zenvia_message_status_not_delivered.json");
        let updates = parse_status_callback(&headers("s3cret"), failed, "s3cret").unwrap();
        assert_eq!(updates[0].status, MessageStatus::Failed);
        assert!(updates[0].detail.as_deref().unwrap().contains("NOT_DELIVERED"), "{:?}", updates[0].detail);

        let other = br#"{"id":"e1","timestamp":"2026-12-05T12:00:00Z","type":"MESSAGE","channel":"sms"}"#;
        assert!(parse_status_callback(&headers("s3cret"), other, "s3cret").unwrap().is_empty());
    }

    #[test]
    fn refuses_callbacks_without_the_shared_secret() {
        let delivered = include_bytes!("../../../../tests/fixtures/providers/zenvia_message_status_delivered.json");
        assert!(matches!(parse_status_callback(&headers("guess"), delivered, "s3cret"), Err(CallbackError::Unauthorized(_))));
        assert!(matches!(parse_status_callback(&HashMap::new(), delivered, "s3cret"), Err(CallbackError::Unauthorized(_))));
        // An unset secret never verifies anything.
        assert!(matches!(parse_status_callback(&headers(""), delivered, ""), Err(CallbackError::Unauthorized(_))));
        assert!(matches!(parse_status_callback(&headers("s3cret"), b"not json", "s3cret"), Err(CallbackError::Malformed(_))));
    }
}
