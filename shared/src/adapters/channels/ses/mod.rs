//! E-mail through Amazon SES v2 `SendEmail` (`POST /v2/email/outbound-emails`): a plain-text part and an HTML
//! part, from the deployment's verified sender, with the reminder's ids as message tags (bounces and complaints
//! come back tagged through the configuration set's event destination).
//!
//! Retried (transient): throttling (`TooManyRequestsException`, `LimitExceededException`), a paused or suspended
//! account (an operator must act; the queue keeps the message meanwhile), 5xx and network errors. Permanent:
//! `MessageRejected`, an unverified sender domain, `BadRequestException` (a malformed address, …).

/// What it declares about itself, for the registry of channels.
pub mod connector;

use async_trait::async_trait;
use aws_sdk_sesv2::error::{DisplayErrorContext, SdkError};
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageTag};
use aws_sdk_sesv2::Client;

use crate::domain::notification::{Channel, NotificationSender, OutgoingMessage, SendError, SendReceipt};

pub struct SesEmail {
    pub client: Client,
    /// A verified identity: "Loja Exemplo <cobranca@loja.example>".
    pub from: String,
    /// Where bounces and complaints are published (SES event destination), if set.
    pub configuration_set: Option<String>,
}

/// The HTML part: the text, escaped, one paragraph per blank-line block, links made clickable.
pub fn html_of(text: &str) -> String {
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let paragraphs: Vec<String> = text
        .split("\n\n")
        .map(|p| {
            let words: Vec<String> = p
                .split(' ')
                .map(
                    |w| if w.starts_with("https://") || w.starts_with("http://") { format!("<a href=\"{0}\">{0}</a>", escape(w)) } else { escape(w) },
                )
                .collect();
            format!("<p>{}</p>", words.join(" ").replace('\n', "<br>"))
        })
        .collect();
    format!(
        "<!doctype html><html lang=\"pt-BR\"><meta charset=\"utf-8\"><body style=\"font-family:sans-serif\">{}</body></html>",
        paragraphs.join("")
    )
}

fn classify(e: SdkError<SendEmailError>) -> SendError {
    let detail = DisplayErrorContext(&e).to_string();
    match &e {
        SdkError::ServiceError(service) => match service.err() {
            SendEmailError::MessageRejected(_)
            | SendEmailError::MailFromDomainNotVerifiedException(_)
            | SendEmailError::BadRequestException(_)
            | SendEmailError::NotFoundException(_) => SendError::Permanent(format!("ses: {detail}")),
            _ => SendError::Transient(format!("ses: {detail}")),
        },
        _ => SendError::Transient(format!("ses: {detail}")),
    }
}

#[async_trait]
impl NotificationSender for SesEmail {
    async fn send(&self, m: &OutgoingMessage) -> Result<SendReceipt, SendError> {
        if m.channel != Channel::Email {
            return Err(SendError::Permanent(format!("the SES adapter cannot send {}", m.channel.as_str())));
        }
        let utf8 = |data: &str| Content::builder().data(data).charset("UTF-8").build().map_err(|e| SendError::Permanent(e.to_string()));
        let message =
            Message::builder().subject(utf8(&m.subject)?).body(Body::builder().text(utf8(&m.text)?).html(utf8(&html_of(&m.text))?).build()).build();
        let tag = |name: &str, value: &str| MessageTag::builder().name(name).value(value).build().map_err(|e| SendError::Permanent(e.to_string()));
        // SES tag values take only [A-Za-z0-9_-]: reminder ids' dots become dashes.
        let reminder = m.reminder_id.replace('.', "-");
        let out = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&m.recipient).build())
            .content(EmailContent::builder().simple(message).build())
            .email_tags(tag("charge_id", m.charge_id.as_str())?)
            .email_tags(tag("reminder_id", &reminder)?)
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(classify)?;
        out.message_id.map(SendReceipt::new).ok_or_else(|| SendError::Transient("ses: no MessageId".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{ChargeId, MerchantId};
    use serde_json::json;
    use wiremock::matchers::{body_partial_json, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    async fn ses(server: &MockServer) -> SesEmail {
        let config = aws_sdk_sesv2::Config::builder()
            .behavior_version(aws_sdk_sesv2::config::BehaviorVersion::latest())
            .region(aws_sdk_sesv2::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sesv2::config::Credentials::new("AKIDTEST", "secret", None, None, "test"))
            .endpoint_url(server.uri())
            .retry_config(aws_sdk_sesv2::config::retry::RetryConfig::disabled())
            .build();
        SesEmail {
            client: Client::from_conf(config),
            from: "Loja Exemplo <cobranca@loja.example>".into(),
            configuration_set: Some("cobranca".into()),
        }
    }

    fn message() -> OutgoingMessage {
        OutgoingMessage {
            merchant_id: MerchantId::parse("mer_1").unwrap(),
            charge_id: ChargeId::parse("chg_1").unwrap(),
            reminder_id: "before_due_5d.0.email".into(),
            step: "before_due".into(),
            channel: Channel::Email,
            recipient: "maria@example.com".into(),
            subject: "Lembrete: sua cobrança vence em 5 dias".into(),
            text: "Olá, Maria!\n\nPague em https://pay.example.com/pay/t <já>".into(),
            template_params: vec![],
            payer_name: "Maria Silva".into(),
            postal_address: None,
            boleto: None,
        }
    }

    #[tokio::test]
    async fn sends_text_and_html_parts_from_the_verified_sender_with_tags() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v2/email/outbound-emails"))
            .and(body_partial_json(json!({
                "FromEmailAddress": "Loja Exemplo <cobranca@loja.example>",
                "Destination": {"ToAddresses": ["maria@example.com"]},
                "ConfigurationSetName": "cobranca",
                "EmailTags": [{"Name": "charge_id", "Value": "chg_1"}, {"Name": "reminder_id", "Value": "before_due_5d-0-email"}],
                "Content": {"Simple": {
                    "Subject": {"Data": "Lembrete: sua cobrança vence em 5 dias", "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": "Olá, Maria!\n\nPague em https://pay.example.com/pay/t <já>", "Charset": "UTF-8"}}
                }}
            })))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"MessageId": "0100018c-ses-message-id"})))
            .expect(1)
            .mount(&server)
            .await;
        assert_eq!(ses(&server).await.send(&message()).await.unwrap().provider_message_id, "0100018c-ses-message-id");
        let html = html_of(&message().text);
        assert!(html.contains("<a href=\"https://pay.example.com/pay/t\">") && html.contains("&lt;já&gt;") && !html.contains("<já>"), "{html}");
    }

    #[tokio::test]
    async fn rejected_messages_fail_and_throttling_is_retried() {
        for (kind, status, transient) in [
            ("MessageRejected", 400, false),
            ("BadRequestException", 400, false),
            ("TooManyRequestsException", 429, true),
            ("InternalFailure", 500, true),
        ] {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .respond_with(
                    ResponseTemplate::new(status)
                        .insert_header("x-amzn-ErrorType", kind)
                        .set_body_json(json!({"message": format!("{kind} for test")})),
                )
                .mount(&server)
                .await;
            let got = ses(&server).await.send(&message()).await;
            assert_eq!(matches!(got, Err(SendError::Transient(_))), transient, "{kind}: {got:?}");
            assert!(got.is_err());
        }
    }
}

// Bounces, complaints and deliveries. The configuration set's event destination publishes SES events to an SNS
// topic; its HTTPS subscription posts SNS envelopes here: `{"Type": "SubscriptionConfirmation" | "Notification" |
// "UnsubscribeConfirmation", "MessageId", "TopicArn", "Subject"?, "Message", "Timestamp", "SignatureVersion",
// "Signature", "SigningCertURL", "SubscribeURL"? / "Token"?, …}`. A Notification's `Message` is the SES event
// JSON: `eventType` (or `notificationType`) Bounce — `bounce.bounceType` Permanent → bounced and the address
// suppressed, Transient / Undetermined → nothing changes —, Complaint → complained and suppressed, Delivery →
// delivered, Reject → failed; `mail.messageId` is the SES message id the send stored.
//
// Verification, as AWS documents it: the topic must be one of ours; `SigningCertURL` must be https on an
// `sns.<region>.amazonaws.com` host (its TLS certificate is what vouches for the signing certificate, so the
// certificate itself needs no chain check); the RSA PKCS#1 v1.5 signature (SignatureVersion 1: SHA-1, 2:
// SHA-256) over the "Key\nValue\n" lines of the documented fields must verify with the certificate's key.
// `ring` (already built for rustls) verifies; the certificate is only walked as far as its public key.

/// The provider name in `StatusUpdate::provider`.
pub const PROVIDER: &str = "ses";

/// Where SNS signing certificates come from: HTTPS in production, fixtures in the tests.
#[async_trait]
pub trait SigningCertificates: Send + Sync {
    /// The PEM at `url`, which has been checked to be an SNS https URL.
    async fn pem(&self, url: &str) -> Result<String, String>;
}

/// Fetches signing certificates over HTTPS and keeps them (SNS reuses one certificate for a long time).
pub struct HttpsSigningCertificates {
    http: reqwest::Client,
    cache: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

impl HttpsSigningCertificates {
    pub fn new(timeout: std::time::Duration) -> Self {
        Self { http: reqwest::Client::builder().timeout(timeout).build().expect("HTTP client"), cache: Default::default() }
    }
}

#[async_trait]
impl SigningCertificates for HttpsSigningCertificates {
    async fn pem(&self, url: &str) -> Result<String, String> {
        if let Some(pem) = self.cache.lock().expect("cache lock").get(url) {
            return Ok(pem.clone());
        }
        let response = self.http.get(url).send().await.map_err(|e| format!("fetching {url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("fetching {url}: HTTP {}", response.status()));
        }
        let pem = response.text().await.map_err(|e| format!("reading {url}: {e}"))?;
        self.cache.lock().expect("cache lock").insert(url.to_string(), pem.clone());
        Ok(pem)
    }
}

/// What an SNS post asks of us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnsCallback {
    /// SES events about sent messages (possibly none, for events that change nothing).
    Updates(Vec<crate::domain::tracking::StatusUpdate>),
    /// A new subscription to one of our topics: confirm it with `confirm_subscription(subscribe_url)`.
    SubscriptionConfirmation { topic_arn: String, subscribe_url: String },
}

/// Whether a URL is https on an `sns.<region>.amazonaws.com` host (signing certificates, subscribe URLs).
pub fn is_sns_url(raw: &str) -> bool {
    let Ok(url) = url::Url::parse(raw) else { return false };
    let Some(host) = url.host_str() else { return false };
    let region = host.strip_prefix("sns.").and_then(|h| h.strip_suffix(".amazonaws.com"));
    url.scheme() == "https"
        && url.port().is_none()
        && region.is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
}

/// Confirms a subscription by visiting its SubscribeURL (only an SNS one).
pub async fn confirm_subscription(http: &reqwest::Client, subscribe_url: &str) -> Result<(), String> {
    if !is_sns_url(subscribe_url) {
        return Err(format!("not an SNS URL: {subscribe_url}"));
    }
    let response = http.get(subscribe_url).send().await.map_err(|e| e.to_string())?;
    response.status().is_success().then_some(()).ok_or_else(|| format!("SNS answered {}", response.status()))
}

/// The text SNS signs: the documented fields of the message type, each as "Key\nValue\n", in this order.
fn string_to_sign(envelope: &serde_json::Value) -> Result<String, crate::domain::tracking::CallbackError> {
    let keys: &[&str] = match envelope["Type"].as_str() {
        Some("Notification") => &["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"],
        Some("SubscriptionConfirmation" | "UnsubscribeConfirmation") => {
            &["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
        }
        other => return Err(crate::domain::tracking::CallbackError::Malformed(format!("sns: unknown Type {other:?}"))),
    };
    let mut text = String::new();
    for key in keys {
        match envelope[*key].as_str() {
            Some(value) => text.push_str(&format!("{key}\n{value}\n")),
            None if *key == "Subject" => {}
            None => return Err(crate::domain::tracking::CallbackError::Malformed(format!("sns: {key} missing"))),
        }
    }
    Ok(text)
}

/// One DER element: its tag, its content and what follows it.
fn der(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        (rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b)), &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The RSAPublicKey (PKCS#1 DER, what `ring` takes) inside an X.509 certificate, if its key is RSA.
fn rsa_public_key(certificate: &[u8]) -> Option<&[u8]> {
    const RSA_ENCRYPTION: &[u8] = &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    let (0x30, cert, _) = der(certificate)? else { return None };
    let (0x30, tbs, _) = der(cert)? else { return None };
    let mut rest = tbs;
    if let (0xa0, _, after) = der(rest)? {
        rest = after; // [0] version
    }
    for _ in 0..5 {
        rest = der(rest)?.2; // serial, signature algorithm, issuer, validity, subject
    }
    let (0x30, spki, _) = der(rest)? else { return None };
    let (0x30, algorithm, rest) = der(spki)? else { return None };
    if !algorithm.starts_with(RSA_ENCRYPTION) {
        return None;
    }
    let (0x03, bits, _) = der(rest)? else { return None };
    bits.strip_prefix(&[0u8])
}

/// Checks an SNS envelope's signature against the PEM certificate that signed it.
pub fn verify_sns_signature(envelope: &serde_json::Value, pem: &str) -> Result<(), crate::domain::tracking::CallbackError> {
    use crate::domain::tracking::CallbackError;
    use base64::Engine;
    let unauthorized = |why: &str| CallbackError::Unauthorized(format!("sns: {why}"));
    let algorithm: &dyn ring::signature::VerificationAlgorithm = match envelope["SignatureVersion"].as_str() {
        Some("1") => &ring::signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
        Some("2") => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        _ => return Err(unauthorized("unknown SignatureVersion")),
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let signature = envelope["Signature"].as_str().and_then(|s| b64.decode(s).ok()).ok_or_else(|| unauthorized("Signature missing or not base64"))?;
    let body = pem
        .split("-----BEGIN CERTIFICATE-----")
        .nth(1)
        .and_then(|r| r.split("-----END CERTIFICATE-----").next())
        .ok_or_else(|| unauthorized("signing certificate is not PEM"))?;
    let certificate = b64.decode(body.split_whitespace().collect::<String>()).map_err(|_| unauthorized("signing certificate is not PEM"))?;
    let key = rsa_public_key(&certificate).ok_or_else(|| unauthorized("signing certificate has no RSA key"))?;
    let text = string_to_sign(envelope)?;
    ring::signature::UnparsedPublicKey::new(algorithm, key).verify(text.as_bytes(), &signature).map_err(|_| unauthorized("signature does not match"))
}

/// The status updates in an SES event (the `Message` of an SNS notification).
pub fn ses_event_updates(message: &str) -> Result<Vec<crate::domain::tracking::StatusUpdate>, crate::domain::tracking::CallbackError> {
    use crate::domain::tracking::{CallbackError, MessageStatus, StatusUpdate};
    use chrono::{DateTime, Utc};
    let event: serde_json::Value = serde_json::from_str(message).map_err(|e| CallbackError::Malformed(format!("ses: {e}")))?;
    let kind = event["eventType"]
        .as_str()
        .or(event["notificationType"].as_str())
        .ok_or_else(|| CallbackError::Malformed("ses: eventType missing".into()))?;
    let (status, section, suppress, detail) = match kind {
        "Bounce" => {
            let bounce = &event["bounce"];
            if bounce["bounceType"].as_str() != Some("Permanent") {
                return Ok(vec![]);
            }
            let recipient = &bounce["bouncedRecipients"][0];
            let why = recipient["diagnosticCode"].as_str().or(recipient["status"].as_str()).unwrap_or("");
            (
                MessageStatus::Bounced,
                "bounce",
                true,
                Some(format!("ses bounce {}: {why}", bounce["bounceSubType"].as_str().unwrap_or("")).trim_end().to_string()),
            )
        }
        "Complaint" => {
            let feedback = event["complaint"]["complaintFeedbackType"].as_str().unwrap_or("complaint");
            (MessageStatus::Complained, "complaint", true, Some(format!("ses complaint: {feedback}")))
        }
        "Delivery" => (MessageStatus::Delivered, "delivery", false, None),
        "Reject" => (MessageStatus::Failed, "reject", false, Some(format!("ses reject: {}", event["reject"]["reason"].as_str().unwrap_or("")))),
        _ => return Ok(vec![]),
    };
    let id = event["mail"]["messageId"].as_str().ok_or_else(|| CallbackError::Malformed("ses: mail.messageId missing".into()))?;
    let at = event[section]["timestamp"]
        .as_str()
        .or(event["mail"]["timestamp"].as_str())
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| CallbackError::Malformed("ses: timestamp missing".into()))?;
    Ok(vec![StatusUpdate { provider: PROVIDER.into(), provider_message_id: id.to_string(), status, at, detail, suppress_recipient: suppress }])
}

/// An SNS post to our subscription, verified (topic allow-list, certificate URL, signature) and read.
pub async fn parse_sns_callback(
    body: &[u8],
    allowed_topics: &[String],
    certificates: &dyn SigningCertificates,
) -> Result<SnsCallback, crate::domain::tracking::CallbackError> {
    use crate::domain::tracking::CallbackError;
    let envelope: serde_json::Value = serde_json::from_slice(body).map_err(|e| CallbackError::Malformed(format!("sns: {e}")))?;
    let topic = envelope["TopicArn"].as_str().ok_or_else(|| CallbackError::Malformed("sns: TopicArn missing".into()))?;
    if !allowed_topics.iter().any(|t| t == topic) {
        return Err(CallbackError::Unauthorized(format!("sns: topic {topic} is not one of ours")));
    }
    let cert_url = envelope["SigningCertURL"].as_str().unwrap_or_default();
    if !is_sns_url(cert_url) {
        return Err(CallbackError::Unauthorized("sns: SigningCertURL is not an https sns.<region>.amazonaws.com URL".into()));
    }
    let pem = certificates.pem(cert_url).await.map_err(|e| CallbackError::Unauthorized(format!("sns: signing certificate: {e}")))?;
    verify_sns_signature(&envelope, &pem)?;
    match envelope["Type"].as_str() {
        Some("Notification") => Ok(SnsCallback::Updates(ses_event_updates(envelope["Message"].as_str().unwrap_or_default())?)),
        Some("SubscriptionConfirmation") => {
            let subscribe_url = envelope["SubscribeURL"]
                .as_str()
                .filter(|u| is_sns_url(u))
                .ok_or_else(|| CallbackError::Malformed("sns: SubscribeURL is not an SNS URL".into()))?;
            Ok(SnsCallback::SubscriptionConfirmation { topic_arn: topic.to_string(), subscribe_url: subscribe_url.to_string() })
        }
        _ => Ok(SnsCallback::Updates(vec![])),
    }
}

#[cfg(test)]
mod callback_tests {
    use super::*;
    use crate::domain::tracking::{CallbackError, MessageStatus};
    use std::sync::Mutex;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:cobranca-ses-events";

    /// The test certificate (tests/fixtures/providers/make_sns_fixtures.py signs the fixtures with its key).
    #[derive(Default)]
    struct FixtureCertificates(Mutex<Vec<String>>);

    #[async_trait]
    impl SigningCertificates for FixtureCertificates {
        async fn pem(&self, url: &str) -> Result<String, String> {
            self.0.lock().unwrap().push(url.to_string());
            Ok(include_str!("../../../../tests/fixtures/providers/sns_test_signing_cert.pem").to_string())
        }
    }

    async fn parse(body: &[u8]) -> Result<SnsCallback, CallbackError> {
        parse_sns_callback(body, &[TOPIC.to_string()], &FixtureCertificates::default()).await
    }

    fn updates(callback: SnsCallback) -> Vec<crate::domain::tracking::StatusUpdate> {
        match callback {
            SnsCallback::Updates(u) => u,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_permanent_bounce_suppresses_the_address_and_a_transient_one_changes_nothing() {
        let got = updates(parse(include_bytes!("../../../../tests/fixtures/providers/sns_ses_bounce_permanent.json")).await.unwrap());
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].provider_message_id.as_str(), got[0].status, got[0].suppress_recipient),
            ("0100018c-ses-message-id", MessageStatus::Bounced, true)
        );
        assert_eq!(got[0].detail.as_deref(), Some("ses bounce General: smtp; 550 5.1.1 user unknown"));
        assert_eq!(got[0].at.to_rfc3339(), "2026-12-05T12:00:02.669+00:00");
        assert!(updates(parse(include_bytes!("../../../../tests/fixtures/providers/sns_ses_bounce_transient.json")).await.unwrap()).is_empty());
    }

    #[tokio::test]
    async fn complaints_suppress_and_deliveries_deliver_with_either_signature_version() {
        // The complaint is signed with SignatureVersion 2 (SHA-256), the delivery with 1 (SHA-1).
        let complaint = updates(parse(include_bytes!("../../../../tests/fixtures/providers/sns_ses_complaint.json")).await.unwrap());
        assert_eq!((complaint[0].status, complaint[0].suppress_recipient), (MessageStatus::Complained, true));
        let delivery = updates(parse(include_bytes!("../../../../tests/fixtures/providers/sns_ses_delivery.json")).await.unwrap());
        assert_eq!((delivery[0].status, delivery[0].suppress_recipient), (MessageStatus::Delivered, false));
    }

    #[tokio::test]
    async fn a_subscription_confirmation_asks_to_visit_its_url() {
        let got = parse(include_bytes!("../../../../tests/fixtures/providers/sns_subscription_confirmation.json")).await.unwrap();
        let SnsCallback::SubscriptionConfirmation { topic_arn, subscribe_url } = got else { panic!("{got:?}") };
        assert_eq!(topic_arn, TOPIC);
        assert!(subscribe_url.starts_with("https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"));
    }

    #[tokio::test]
    async fn refuses_forged_foreign_or_oddly_certified_messages() {
        let bounce = include_str!("../../../../tests/fixtures/providers/sns_ses_bounce_permanent.json");
        // A changed Message no longer matches the signature.
        let forged = bounce.replace("5.1.1 user unknown", "5.1.1 user unknowm");
        assert!(matches!(parse(forged.as_bytes()).await, Err(CallbackError::Unauthorized(m)) if m.contains("signature")));
        // So does a signature taken from another message.
        let mut envelope: serde_json::Value = serde_json::from_str(bounce).unwrap();
        let other: serde_json::Value = serde_json::from_str(include_str!("../../../../tests/fixtures/providers/sns_ses_delivery.json")).unwrap();
        envelope["Signature"] = other["Signature"].clone();
        assert!(matches!(parse(envelope.to_string().as_bytes()).await, Err(CallbackError::Unauthorized(_))));
        // A topic that is not ours is refused before any certificate is fetched.
        let certificates = FixtureCertificates::default();
        assert!(matches!(
            parse_sns_callback(bounce.as_bytes(), &["arn:aws:sns:us-east-1:123456789012:other".into()], &certificates).await,
            Err(CallbackError::Unauthorized(_))
        ));
        // A certificate from anywhere but SNS over https is never fetched.
        for url in [
            "http://sns.us-east-1.amazonaws.com/cert.pem",
            "https://sns.us-east-1.amazonaws.com.evil.example/cert.pem",
            "https://evil.example/sns.us-east-1.amazonaws.com.pem",
        ] {
            let mut envelope: serde_json::Value = serde_json::from_str(bounce).unwrap();
            envelope["SigningCertURL"] = url.into();
            assert!(
                matches!(
                    parse_sns_callback(envelope.to_string().as_bytes(), &[TOPIC.into()], &certificates).await,
                    Err(CallbackError::Unauthorized(_))
                ),
                "{url}"
            );
        }
        assert!(certificates.0.lock().unwrap().is_empty());
        // Unsigned.
        let mut envelope: serde_json::Value = serde_json::from_str(bounce).unwrap();
        envelope.as_object_mut().unwrap().remove("Signature");
        assert!(matches!(parse(envelope.to_string().as_bytes()).await, Err(CallbackError::Unauthorized(_))));
    }

    #[test]
    fn recognises_sns_urls() {
        assert!(is_sns_url("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem"));
        assert!(is_sns_url("https://sns.sa-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=x&Token=y"));
        assert!(!is_sns_url("https://sns.amazonaws.com/x.pem"));
        assert!(!is_sns_url("https://sns.us-east-1.amazonaws.com:8443/x.pem"));
        assert!(!is_sns_url("https://sqs.us-east-1.amazonaws.com/x.pem"));
    }

    #[tokio::test]
    async fn confirms_only_sns_subscribe_urls() {
        let http = reqwest::Client::new();
        assert!(confirm_subscription(&http, "https://evil.example/?Action=ConfirmSubscription").await.is_err());
    }
}
