//! E-mail through Amazon SES v2 `SendEmail` (`POST /v2/email/outbound-emails`): a plain-text part and an HTML
//! part, from the deployment's verified sender, with the reminder's ids as message tags (bounces and complaints
//! come back tagged through the configuration set's event destination).
//!
//! Retried (transient): throttling (`TooManyRequestsException`, `LimitExceededException`), a paused or suspended
//! account (an operator must act; the queue keeps the message meanwhile), 5xx and network errors. Permanent:
//! `MessageRejected`, an unverified sender domain, `BadRequestException` (a malformed address, …).

use async_trait::async_trait;
use aws_sdk_sesv2::error::{DisplayErrorContext, SdkError};
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageTag};
use aws_sdk_sesv2::Client;

use crate::notification::{Channel, NotificationSender, OutgoingMessage, SendError, SendReceipt};

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
                .map(|w| if w.starts_with("https://") || w.starts_with("http://") { format!("<a href=\"{0}\">{0}</a>", escape(w)) } else { escape(w) })
                .collect();
            format!("<p>{}</p>", words.join(" ").replace('\n', "<br>"))
        })
        .collect();
    format!("<!doctype html><html lang=\"pt-BR\"><meta charset=\"utf-8\"><body style=\"font-family:sans-serif\">{}</body></html>", paragraphs.join(""))
}

fn classify(e: SdkError<SendEmailError>) -> SendError {
    let detail = DisplayErrorContext(&e).to_string();
    match &e {
        SdkError::ServiceError(service) => match service.err() {
            SendEmailError::MessageRejected(_) | SendEmailError::MailFromDomainNotVerifiedException(_) | SendEmailError::BadRequestException(_) | SendEmailError::NotFoundException(_) => {
                SendError::Permanent(format!("ses: {detail}"))
            }
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
        let message = Message::builder()
            .subject(utf8(&m.subject)?)
            .body(Body::builder().text(utf8(&m.text)?).html(utf8(&html_of(&m.text))?).build())
            .build();
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
        out.message_id.map(|id| SendReceipt::new(id)).ok_or_else(|| SendError::Transient("ses: no MessageId".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ChargeId, MerchantId};
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
        SesEmail { client: Client::from_conf(config), from: "Loja Exemplo <cobranca@loja.example>".into(), configuration_set: Some("cobranca".into()) }
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
        for (kind, status, transient) in [("MessageRejected", 400, false), ("BadRequestException", 400, false), ("TooManyRequestsException", 429, true), ("InternalFailure", 500, true)] {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .respond_with(ResponseTemplate::new(status).insert_header("x-amzn-ErrorType", kind).set_body_json(json!({"message": format!("{kind} for test")})))
                .mount(&server)
                .await;
            let got = ses(&server).await.send(&message()).await;
            assert_eq!(matches!(got, Err(SendError::Transient(_))), transient, "{kind}: {got:?}");
            assert!(got.is_err());
        }
    }
}
