//! Cielo e-commerce API 3.0, for card wallets on provider `cielo`: `POST /1/sales/` with a `CardToken` (the
//! browser tokenized the card; we never see its number), captured at once, in 1–12 installments "ByMerchant"
//! (the merchant's installment plan; any fee pass-through is already in the amount), and
//! `PUT /1/sales/{PaymentId}/void?amount=` for refunds. Auth: `MerchantId` and `MerchantKey` headers.
//!
//! `Payment.Status`: 2 PaymentConfirmed → approved; 1 Authorized (not captured) → captured with
//! `PUT /1/sales/{id}/capture`, then approved; 3 Denied, 13 Aborted, 0 NotFinished → declined with Cielo's
//! `ReturnCode`/`ReturnMessage`; anything else is unexpected (`Unavailable`, so the caller may retry the query).

use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::money::Money;
use crate::providers::{Acquirer, CardPaymentRequest, CardPaymentResult, ProviderError};

#[derive(Clone)]
pub struct CieloConfig {
    /// `https://api.cieloecommerce.cielo.com.br` (sandbox: `https://apisandbox.cieloecommerce.cielo.com.br`).
    pub api_url: String,
    pub merchant_id: String,
    pub merchant_key: String,
    pub timeout: Duration,
}

impl std::fmt::Debug for CieloConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CieloConfig").field("api_url", &self.api_url).field("merchant_id", &self.merchant_id).field("merchant_key", &"***").finish()
    }
}

pub struct Cielo {
    config: CieloConfig,
    http: reqwest::Client,
}

impl Cielo {
    pub fn new(config: CieloConfig) -> Self {
        let http = reqwest::Client::builder().timeout(config.timeout).build().expect("HTTP client");
        Self { config, http }
    }

    async fn call(&self, method: Method, path: &str, request_id: &str, body: Option<&Value>) -> Result<Value, ProviderError> {
        let url = format!("{}{path}", self.config.api_url.trim_end_matches('/'));
        let mut request = self
            .http
            .request(method, url)
            .header("MerchantId", &self.config.merchant_id)
            .header("MerchantKey", &self.config.merchant_key)
            .header("RequestId", request_id);
        request = match body {
            Some(b) => request.json(b),
            None => request.header("content-length", "0"),
        };
        let response = request.send().await.map_err(|e| ProviderError::Unavailable(if e.is_timeout() { "timeout".into() } else { format!("network: {e}") }))?;
        checked(response).await
    }
}

/// The one place Cielo's answers become ours. Cielo reports request errors as `[{"Code": 126, "Message": …}]`.
async fn checked(response: reqwest::Response) -> Result<Value, ProviderError> {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    let first = body.get(0).unwrap_or(&body);
    let code = match &first["Code"] {
        Value::Null => status.as_u16().to_string(),
        v => v.to_string().trim_matches('"').to_string(),
    };
    let message = first["Message"].as_str().unwrap_or(status.canonical_reason().unwrap_or("error")).to_string();
    tracing::warn!(status = status.as_u16(), %code, "cielo error");
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(ProviderError::Rejected { code: "auth".into(), message }),
        s if s.is_client_error() && s != StatusCode::TOO_MANY_REQUESTS && s != StatusCode::REQUEST_TIMEOUT => Err(ProviderError::Rejected { code, message }),
        _ => Err(ProviderError::Unavailable(format!("{}: {code}: {message}", status.as_u16()))),
    }
}

/// The statement descriptor: up to 13 letters, digits and spaces, accents dropped.
fn soft_descriptor(name: &str) -> String {
    crate::pay::pix::emv_text(name, 40).chars().filter(|c| c.is_ascii_alphanumeric() || *c == ' ').take(13).collect::<String>().trim().to_string()
}

/// A fresh RequestId per call (Cielo traces by it; it is not an idempotency key).
fn request_id() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

#[async_trait]
impl Acquirer for Cielo {
    async fn pay(&self, r: &CardPaymentRequest) -> Result<CardPaymentResult, ProviderError> {
        if !(1..=12).contains(&r.installments) || r.card_token.is_empty() {
            return Err(ProviderError::Rejected { code: "invalid_request".into(), message: "installments 1 to 12 and a card token are required".into() });
        }
        let body = json!({
            "MerchantOrderId": r.order_id,
            "Customer": {"Name": r.payer_name},
            "Payment": {
                "Type": "CreditCard",
                "Amount": r.total.cents(),
                "Currency": "BRL",
                "Country": "BRA",
                "Installments": r.installments,
                "Interest": "ByMerchant",
                "Capture": true,
                "SoftDescriptor": soft_descriptor(&r.soft_descriptor),
                "CreditCard": {"CardToken": r.card_token, "Brand": r.brand},
            }
        });
        let sale = self.call(Method::POST, "/1/sales/", &request_id(), Some(&body)).await?;
        let payment = &sale["Payment"];
        let id = payment["PaymentId"].as_str().unwrap_or_default().to_string();
        let text = |k: &str| match &payment[k] {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            v => v.to_string(),
        };
        let approved = |id: String| CardPaymentResult::Approved { provider_payment_id: id, authorization_code: text("AuthorizationCode") };
        match payment["Status"].as_u64() {
            Some(2) => Ok(approved(id)),
            Some(1) => {
                // Authorized but not captured (some merchant configurations ignore Capture=true): capture now,
                // since we only ever sell captured payments.
                let captured = self.call(Method::PUT, &format!("/1/sales/{id}/capture"), &request_id(), None).await?;
                match captured["Status"].as_u64() {
                    Some(2) => Ok(approved(id)),
                    other => Err(ProviderError::Unavailable(format!("capture returned status {other:?}"))),
                }
            }
            Some(0 | 3 | 13) => Ok(CardPaymentResult::Declined { provider_payment_id: Some(id).filter(|i| !i.is_empty()), code: text("ReturnCode"), message: text("ReturnMessage") }),
            other => Err(ProviderError::Unavailable(format!("unexpected payment status {other:?}"))),
        }
    }

    async fn refund(&self, provider_payment_id: &str, amount: Money) -> Result<(), ProviderError> {
        let answer = self.call(Method::PUT, &format!("/1/sales/{provider_payment_id}/void?amount={}", amount.cents()), &request_id(), None).await?;
        match (answer["Status"].as_u64(), answer["ReasonCode"].as_u64()) {
            (Some(10 | 11), _) | (_, Some(0)) => Ok(()),
            _ => Err(ProviderError::Rejected { code: answer["ReasonCode"].to_string(), message: answer["ReasonMessage"].as_str().unwrap_or("refund refused").to_string() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::{body_partial_json, header, header_exists, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn cielo(server: &MockServer, timeout: Duration) -> Cielo {
        Cielo::new(CieloConfig { api_url: server.uri(), merchant_id: "mid".into(), merchant_key: "mkey".into(), timeout })
    }

    fn request(installments: u8) -> CardPaymentRequest {
        CardPaymentRequest {
            order_id: "chg_01-pay_01".into(),
            payer_name: "Maria Silva".into(),
            total: Money::parse("108.69").unwrap(),
            installments,
            card_token: "6fb7a669-aacf-4d1e-8f0b-3a4d5e6f7a8b".into(),
            brand: "Visa".into(),
            soft_descriptor: "Loja Exemplo Ltda".into(),
        }
    }

    fn sale(status: u64, code: &str, message: &str) -> ResponseTemplate {
        ResponseTemplate::new(201).set_body_json(json!({
            "MerchantOrderId": "chg_01-pay_01",
            "Payment": {"PaymentId": "24bc8366-fc31-4d6c-8555-17049a836a07", "Status": status, "ReturnCode": code, "ReturnMessage": message,
                        "AuthorizationCode": "123456", "ProofOfSale": "674532", "Tid": "0305020554239", "Installments": 6, "Amount": 10869}
        }))
    }

    #[tokio::test]
    async fn sends_cielos_fields_with_the_amount_in_cents_and_approves() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/1/sales/"))
            .and(header("MerchantId", "mid"))
            .and(header("MerchantKey", "mkey"))
            .and(header_exists("RequestId"))
            .and(body_partial_json(json!({
                "MerchantOrderId": "chg_01-pay_01", "Customer": {"Name": "Maria Silva"},
                "Payment": {"Type": "CreditCard", "Amount": 10869, "Installments": 6, "Capture": true, "Interest": "ByMerchant",
                            "SoftDescriptor": "Loja Exemplo", "CreditCard": {"CardToken": "6fb7a669-aacf-4d1e-8f0b-3a4d5e6f7a8b", "Brand": "Visa"}}
            })))
            .respond_with(sale(2, "00", "Transacao autorizada"))
            .expect(1)
            .mount(&server)
            .await;
        let result = cielo(&server, Duration::from_secs(5)).pay(&request(6)).await.unwrap();
        assert_eq!(result, CardPaymentResult::Approved { provider_payment_id: "24bc8366-fc31-4d6c-8555-17049a836a07".into(), authorization_code: "123456".into() });
    }

    #[tokio::test]
    async fn a_denied_sale_is_declined_with_cielos_return_code() {
        let server = MockServer::start().await;
        Mock::given(method("POST")).and(path("/1/sales/")).respond_with(sale(3, "05", "Nao Autorizada")).mount(&server).await;
        let Ok(CardPaymentResult::Declined { code, message, .. }) = cielo(&server, Duration::from_secs(5)).pay(&request(1)).await else { panic!() };
        assert_eq!((code.as_str(), message.as_str()), ("05", "Nao Autorizada"));
    }

    #[tokio::test]
    async fn an_authorized_sale_is_captured() {
        let server = MockServer::start().await;
        Mock::given(method("POST")).and(path("/1/sales/")).respond_with(sale(1, "4", "Operation Successful")).mount(&server).await;
        Mock::given(method("PUT"))
            .and(path("/1/sales/24bc8366-fc31-4d6c-8555-17049a836a07/capture"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"Status": 2, "ReasonCode": 0, "ReasonMessage": "Successful"})))
            .expect(1)
            .mount(&server)
            .await;
        assert!(matches!(cielo(&server, Duration::from_secs(5)).pay(&request(2)).await, Ok(CardPaymentResult::Approved { .. })));
    }

    #[tokio::test]
    async fn request_errors_are_rejections_and_outages_are_retryable() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(body_partial_json(json!({"Payment": {"Installments": 1}})))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!([{"Code": 126, "Message": "Credit Card Expiration Date is invalid"}])))
            .mount(&server)
            .await;
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(500)).mount(&server).await;
        let c = cielo(&server, Duration::from_secs(5));
        assert_eq!(c.pay(&request(1)).await, Err(ProviderError::Rejected { code: "126".into(), message: "Credit Card Expiration Date is invalid".into() }));
        assert!(matches!(c.pay(&request(2)).await, Err(ProviderError::Unavailable(_))));
    }

    #[tokio::test]
    async fn a_hanging_acquirer_is_unavailable() {
        let server = MockServer::start().await;
        Mock::given(method("POST")).respond_with(sale(2, "00", "ok").set_delay(Duration::from_secs(3))).mount(&server).await;
        assert_eq!(cielo(&server, Duration::from_millis(300)).pay(&request(1)).await, Err(ProviderError::Unavailable("timeout".into())));
    }

    #[tokio::test]
    async fn thirteen_installments_never_reach_cielo() {
        let server = MockServer::start().await;
        Mock::given(method("POST")).respond_with(sale(2, "00", "ok")).expect(0).mount(&server).await;
        assert!(matches!(cielo(&server, Duration::from_secs(5)).pay(&request(13)).await, Err(ProviderError::Rejected { .. })));
    }

    #[tokio::test]
    async fn refunds_void_the_amount_in_cents() {
        let server = MockServer::start().await;
        Mock::given(method("PUT"))
            .and(path("/1/sales/24bc8366/void"))
            .and(query_param("amount", "5000"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"Status": 11, "ReasonCode": 0, "ReasonMessage": "Successful"})))
            .expect(1)
            .mount(&server)
            .await;
        cielo(&server, Duration::from_secs(5)).refund("24bc8366", Money::parse("50.00").unwrap()).await.unwrap();
    }

    #[test]
    fn the_descriptor_fits_the_statement_and_debug_hides_the_key() {
        assert_eq!(soft_descriptor("Padaria São João & Filhos"), "Padaria Sao J");
        let shown = format!("{:?}", CieloConfig { api_url: "u".into(), merchant_id: "m".into(), merchant_key: "super-secret".into(), timeout: Duration::from_secs(1) });
        assert!(!shown.contains("super-secret"));
    }
}
