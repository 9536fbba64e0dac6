//! Cielo e-commerce API 3.0, for card wallets on provider `cielo`: `POST /1/sales/` with a `CardToken` (the
//! browser tokenized the card; we never see its number), captured at once, in 1–12 installments "ByMerchant"
//! (the merchant's installment plan; any fee pass-through is already in the amount), and
//! `PUT /1/sales/{PaymentId}/void?amount=` for refunds. Auth: `MerchantId` and `MerchantKey` headers, plus a
//! `RequestId` (a GUID): for a sale, derived from the attempt's order id, so a retried attempt sends the same
//! `MerchantOrderId` and `RequestId`; a fresh one for every other call. Amounts travel as integer centavos.
//!
//! `Payment.Status`: 2 PaymentConfirmed → approved; 1 Authorized (not captured) → captured with
//! `PUT /1/sales/{id}/capture`, then approved; 3 Denied, 13 Aborted, 0 NotFinished → declined with Cielo's
//! `ReturnCode`/`ReturnMessage`; anything else (10 Voided, 11 Refunded, 12 Pending, 20 Scheduled, none) is
//! unexpected for a captured card sale and reported as `Unavailable`. A void answering `Status` 10/11, or
//! `ReasonCode` 0 (a partial void of a captured sale keeps `Status` 2), is a refund done.
//!
//! HTTP: 2xx is read as above; 400 carries `[{"Code": 126, "Message": …}]` → `Rejected` with the first item;
//! 401/403 → `Rejected { code: "auth" }`; other 4xx (404: unknown `PaymentId`) → `Rejected`; 408, 429, 5xx,
//! timeouts and network errors → `Unavailable` (retryable).
//!
//! Checked locally before any request (a `Rejected` without calling Cielo): installments 1–12 and a card token.
//! Cielo's `MerchantOrderId` takes only `[A-Za-z0-9]`, at most 50: ours is reduced to that (see
//! `merchant_order_id`). The card token is never logged; statuses and return codes are.
//!
//! `GET {apiquery}/1/sales/{PaymentId}` reads a sale after Cielo's notification post (which carries only
//! `PaymentId` and `ChangeType`): `Status` 1 authorized, 2 captured (with `VoidedAmount` > 0 when partly
//! refunded), 3/13 refused, 10/11 voided/refunded, 12/20 pending; dates come as "yyyy-MM-dd HH:mm:ss", Brasília
//! time. `GET {apiquery}/1/sales?merchantOrderId=` answers `{"Payments": [{"PaymentId", "ReceivedDate"}]}` (404
//! or an empty list: no sale): how an attempt that died or timed out is found out (`sales_of_order`).

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
    /// Queries go to another host: `https://apiquery.cieloecommerce.cielo.com.br` (sandbox:
    /// `https://apiquerysandbox.cieloecommerce.cielo.com.br`).
    pub query_url: String,
    pub merchant_id: String,
    pub merchant_key: String,
    pub timeout: Duration,
}

impl std::fmt::Debug for CieloConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CieloConfig")
            .field("api_url", &self.api_url)
            .field("query_url", &self.query_url)
            .field("merchant_id", &self.merchant_id)
            .field("merchant_key", &"***")
            .field("timeout", &self.timeout)
            .finish()
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

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, ProviderError> {
        self.call_as(method, path, body, request_id()).await
    }

    async fn call_as(&self, method: Method, path: &str, body: Option<&Value>, request_id: String) -> Result<Value, ProviderError> {
        checked(self.send(method, path, body, request_id).await?).await
    }

    async fn send(&self, method: Method, path: &str, body: Option<&Value>, request_id: String) -> Result<reqwest::Response, ProviderError> {
        let base = if method == Method::GET { &self.config.query_url } else { &self.config.api_url };
        let url = format!("{}{path}", base.trim_end_matches('/'));
        let mut request = self
            .http
            .request(method, url)
            .header("MerchantId", &self.config.merchant_id)
            .header("MerchantKey", &self.config.merchant_key)
            .header("RequestId", request_id)
            .header("Content-Type", "application/json");
        request = match body {
            Some(b) => request.json(b),
            None => request.header("Content-Length", "0"),
        };
        request.send().await.map_err(|e| ProviderError::Unavailable(if e.is_timeout() { "timeout".into() } else { format!("network: {e}") }))
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
        v => text(v),
    };
    let message = first["Message"].as_str().unwrap_or(status.canonical_reason().unwrap_or("error")).to_string();
    tracing::warn!(status = status.as_u16(), %code, %message, "cielo error");
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(ProviderError::Rejected { code: "auth".into(), message }),
        s if s.is_client_error() && s != StatusCode::TOO_MANY_REQUESTS && s != StatusCode::REQUEST_TIMEOUT => {
            Err(ProviderError::Rejected { code, message })
        }
        _ => Err(ProviderError::Unavailable(format!("{}: {code}: {message}", status.as_u16()))),
    }
}

/// A JSON scalar as text: Cielo sends some codes as strings ("05") and others as numbers (126).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    }
}

/// The statement descriptor: up to 13 letters, digits and spaces, accents dropped.
fn soft_descriptor(name: &str) -> String {
    crate::pay::pix::emv_text(name, 40).chars().filter(|c| c.is_ascii_alphanumeric() || *c == ' ').take(13).collect::<String>().trim().to_string()
}

/// Cielo's `MerchantOrderId`: only `[A-Za-z0-9]`, at most 50. Ours (`chg_…-pay_…`, 61 characters) loses its
/// separators; if still too long it keeps its first 34 characters (the charge id, for finding it in Cielo's
/// back office) and adds 16 hex digits of a SHA-256 of the whole id, so distinct attempts stay distinct even
/// when their ULIDs differ only in the last characters. Deterministic: the same order id, the same answer.
fn merchant_order_id(order_id: &str) -> String {
    const MAX: usize = 50;
    const HASH: usize = 16;
    let plain: String = order_id.chars().filter(char::is_ascii_alphanumeric).collect();
    if plain.len() <= MAX {
        return plain;
    }
    use sha2::{Digest, Sha256};
    let digest = hex::encode(Sha256::digest(order_id.as_bytes()));
    format!("{}{}", &plain[..MAX - HASH], &digest[..HASH])
}

/// A fresh RequestId per call (Cielo traces by it).
fn request_id() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    guid(&b)
}

/// The RequestId of an attempt's sale: a GUID derived from its order id, the same however often it is sent.
fn sale_request_id(order_id: &str) -> String {
    use sha2::{Digest, Sha256};
    guid(&Sha256::digest(format!("cobranca-sale:{order_id}").as_bytes())[..16])
}

fn guid(bytes: &[u8]) -> String {
    let h = hex::encode(bytes);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn invalid(message: &str) -> ProviderError {
    ProviderError::Rejected { code: "invalid_request".into(), message: message.into() }
}

#[async_trait]
impl Acquirer for Cielo {
    async fn pay(&self, r: &CardPaymentRequest) -> Result<CardPaymentResult, ProviderError> {
        if !(1..=12).contains(&r.installments) {
            return Err(invalid("installments must be 1 to 12"));
        }
        if r.card_token.trim().is_empty() {
            return Err(invalid("a card token is required"));
        }
        let order = merchant_order_id(&r.order_id);
        if order.is_empty() {
            return Err(invalid("the order id needs letters or digits"));
        }
        let mut payment = json!({
            "Type": "CreditCard",
            "Amount": r.total.cents(),
            "Currency": "BRL",
            "Country": "BRA",
            "Installments": r.installments,
            "Interest": "ByMerchant",
            "Capture": true,
            "CreditCard": {"CardToken": r.card_token.trim(), "Brand": r.brand},
        });
        // Optional at Cielo; an empty one is left out rather than sent as "".
        let descriptor = soft_descriptor(&r.soft_descriptor);
        if !descriptor.is_empty() {
            payment["SoftDescriptor"] = json!(descriptor);
        }
        let name: String = r.payer_name.chars().take(255).collect();
        let body = json!({"MerchantOrderId": order, "Customer": {"Name": name}, "Payment": payment});
        let sale = self.call_as(Method::POST, "/1/sales/", Some(&body), sale_request_id(&r.order_id)).await?;
        let payment = &sale["Payment"];
        let id = payment["PaymentId"].as_str().unwrap_or_default().to_string();
        let status = payment["Status"].as_u64();
        let (return_code, return_message) = (text(&payment["ReturnCode"]), text(&payment["ReturnMessage"]));
        tracing::info!(order_id = %r.order_id, merchant_order_id = %order, payment_id = %id, ?status, %return_code, %return_message, installments = r.installments, "cielo sale");
        let approved = |id: String| CardPaymentResult::Approved { provider_payment_id: id, authorization_code: text(&payment["AuthorizationCode"]) };
        match status {
            Some(2) if !id.is_empty() => Ok(approved(id)),
            Some(1) if !id.is_empty() => {
                // Authorized but not captured (some merchant configurations ignore Capture=true). We only sell
                // captured payments and never capture later, so capture now. If this fails the authorization
                // stays open at Cielo until it lapses; the caller sees `Unavailable`.
                let captured = self.call(Method::PUT, &format!("/1/sales/{id}/capture"), None).await?;
                let status = captured["Status"].as_u64();
                tracing::info!(payment_id = %id, ?status, return_code = %text(&captured["ReturnCode"]), "cielo capture");
                match status {
                    Some(2) => Ok(approved(id)),
                    other => Err(ProviderError::Unavailable(format!("capture of {id} returned status {other:?}"))),
                }
            }
            Some(0 | 3 | 13) => Ok(CardPaymentResult::Declined {
                provider_payment_id: Some(id).filter(|i| !i.is_empty()),
                code: return_code,
                message: return_message,
            }),
            other => Err(ProviderError::Unavailable(format!(
                "unexpected payment status {other:?} for {}",
                if id.is_empty() { "a sale without PaymentId" } else { &id }
            ))),
        }
    }

    async fn sale(&self, provider_payment_id: &str) -> Result<crate::providers::SaleState, ProviderError> {
        use crate::providers::{SaleState, SaleStatus};
        if provider_payment_id.is_empty() || !provider_payment_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(invalid("a Cielo PaymentId is required"));
        }
        let sale = self.call(Method::GET, &format!("/1/sales/{provider_payment_id}"), None).await?;
        let payment = &sale["Payment"];
        let cents = |v: &Value| v.as_u64().filter(|c| *c > 0).and_then(|c| Money::from_cents(c as i64).ok());
        let when = |v: &Value| {
            v.as_str()
                .and_then(|s| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").ok())
                .map(|t| crate::calendar::local_instant(t.date(), t.time()))
        };
        let status = match payment["Status"].as_u64() {
            Some(1) => SaleStatus::Authorized,
            Some(2) => SaleStatus::Captured,
            Some(0 | 3 | 13) => SaleStatus::Refused,
            Some(10 | 11) => SaleStatus::Voided,
            Some(12 | 20) => SaleStatus::Pending,
            other => return Err(ProviderError::Unavailable(format!("unexpected status {other:?} for sale {provider_payment_id}"))),
        };
        let amount = cents(&payment["Amount"]).ok_or_else(|| ProviderError::Unavailable(format!("sale {provider_payment_id} without Amount")))?;
        Ok(SaleState {
            provider_payment_id: provider_payment_id.to_string(),
            status,
            amount,
            captured: cents(&payment["CapturedAmount"]),
            voided: cents(&payment["VoidedAmount"]),
            captured_at: when(&payment["CapturedDate"]),
            voided_at: when(&payment["VoidedDate"]),
        })
    }

    async fn sales_of_order(&self, order_id: &str) -> Result<Vec<crate::providers::SaleState>, ProviderError> {
        let order = merchant_order_id(order_id);
        if order.is_empty() {
            return Err(invalid("the order id needs letters or digits"));
        }
        let response = self.send(Method::GET, &format!("/1/sales?merchantOrderId={order}"), None, request_id()).await?;
        // Cielo answers 404 for an order it never saw.
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(vec![]);
        }
        let found = checked(response).await?;
        let ids: Vec<String> =
            found["Payments"].as_array().into_iter().flatten().filter_map(|p| p["PaymentId"].as_str()).map(str::to_string).collect();
        tracing::info!(%order_id, merchant_order_id = %order, sales = ids.len(), "cielo sales of order");
        let mut sales = Vec::with_capacity(ids.len());
        for id in ids {
            sales.push(self.sale(&id).await?);
        }
        Ok(sales)
    }

    async fn refund(&self, provider_payment_id: &str, amount: Money) -> Result<(), ProviderError> {
        if provider_payment_id.is_empty() || !provider_payment_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(invalid("a Cielo PaymentId is required"));
        }
        let answer = self.call(Method::PUT, &format!("/1/sales/{provider_payment_id}/void?amount={}", amount.cents()), None).await?;
        let (status, reason) = (answer["Status"].as_u64(), answer["ReasonCode"].as_u64());
        tracing::info!(payment_id = %provider_payment_id, cents = amount.cents(), ?status, ?reason, return_code = %text(&answer["ReturnCode"]), "cielo void");
        match (status, reason) {
            (Some(10 | 11), _) | (_, Some(0)) => Ok(()),
            _ => Err(ProviderError::Rejected {
                code: reason.map_or_else(|| text(&answer["ReturnCode"]), |r| r.to_string()),
                message: answer["ReasonMessage"].as_str().or(answer["ReturnMessage"].as_str()).unwrap_or("refund refused").to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::{body_partial_json, header, header_exists, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const PAYMENT_ID: &str = "24bc8366-fc31-4d6c-8555-17049a836a07";
    const TOKEN: &str = "6fb7a669-aacf-4d1e-8f0b-3a4d5e6f7a8b";

    fn cielo(server: &MockServer, timeout: Duration) -> Cielo {
        Cielo::new(CieloConfig {
            api_url: server.uri(),
            query_url: format!("{}/query", server.uri()),
            merchant_id: "mid".into(),
            merchant_key: "mkey".into(),
            timeout,
        })
    }

    fn request(installments: u8) -> CardPaymentRequest {
        CardPaymentRequest {
            order_id: "chg_01-pay_01".into(),
            payer_name: "Maria Silva".into(),
            total: Money::parse("108.69").unwrap(),
            installments,
            card_token: TOKEN.into(),
            brand: "Visa".into(),
            soft_descriptor: "Loja Exemplo Ltda".into(),
        }
    }

    fn sale(status: u64, code: &str, message: &str) -> ResponseTemplate {
        ResponseTemplate::new(201).set_body_json(json!({
            "MerchantOrderId": "chg01pay01",
            "Payment": {"PaymentId": PAYMENT_ID, "Status": status, "ReturnCode": code, "ReturnMessage": message,
                        "AuthorizationCode": "123456", "ProofOfSale": "674532", "Tid": "0305020554239", "Installments": 6, "Amount": 10869}
        }))
    }

    async fn paying(server: &MockServer, response: ResponseTemplate) -> Result<CardPaymentResult, ProviderError> {
        Mock::given(method("POST")).and(path("/1/sales/")).respond_with(response).mount(server).await;
        cielo(server, Duration::from_secs(5)).pay(&request(1)).await
    }

    #[tokio::test]
    async fn sends_cielos_fields_with_the_amount_in_cents_and_approves() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/1/sales/"))
            .and(header("MerchantId", "mid"))
            .and(header("MerchantKey", "mkey"))
            .and(header("Content-Type", "application/json"))
            .and(header_exists("RequestId"))
            .and(body_partial_json(json!({
                "MerchantOrderId": "chg01pay01", "Customer": {"Name": "Maria Silva"},
                "Payment": {"Type": "CreditCard", "Amount": 10869, "Currency": "BRL", "Country": "BRA", "Installments": 6, "Capture": true,
                            "Interest": "ByMerchant", "SoftDescriptor": "Loja Exemplo", "CreditCard": {"CardToken": TOKEN, "Brand": "Visa"}}
            })))
            .respond_with(sale(2, "00", "Transacao autorizada"))
            .expect(1)
            .mount(&server)
            .await;
        let result = cielo(&server, Duration::from_secs(5)).pay(&request(6)).await.unwrap();
        assert_eq!(result, CardPaymentResult::Approved { provider_payment_id: PAYMENT_ID.into(), authorization_code: "123456".into() });
        let received = &server.received_requests().await.unwrap()[0];
        let sent: Value = serde_json::from_slice(&received.body).unwrap();
        assert_eq!(sent["Payment"]["Amount"], json!(10869), "integer centavos, not a decimal");
        assert_eq!(received.headers["RequestId"].to_str().unwrap().len(), 36);
    }

    #[tokio::test]
    async fn a_denied_sale_is_declined_with_cielos_return_code() {
        let server = MockServer::start().await;
        let Ok(CardPaymentResult::Declined { code, message, provider_payment_id }) = paying(&server, sale(3, "05", "Nao Autorizada")).await else {
            panic!()
        };
        assert_eq!((code.as_str(), message.as_str(), provider_payment_id.as_deref()), ("05", "Nao Autorizada", Some(PAYMENT_ID)));
    }

    #[tokio::test]
    async fn aborted_and_unfinished_sales_are_declined_and_other_statuses_are_unavailable() {
        for status in [13, 0] {
            let server = MockServer::start().await;
            assert!(matches!(paying(&server, sale(status, "99", "Time Out")).await, Ok(CardPaymentResult::Declined { .. })), "{status}");
        }
        for status in [12, 10] {
            let server = MockServer::start().await;
            assert!(matches!(paying(&server, sale(status, "00", "?")).await, Err(ProviderError::Unavailable(_))), "{status}");
        }
        let server = MockServer::start().await;
        assert!(matches!(paying(&server, ResponseTemplate::new(201).set_body_string("not json")).await, Err(ProviderError::Unavailable(_))));
    }

    #[tokio::test]
    async fn an_authorized_sale_is_captured() {
        let server = MockServer::start().await;
        Mock::given(method("POST")).and(path("/1/sales/")).respond_with(sale(1, "4", "Operation Successful")).expect(1).mount(&server).await;
        Mock::given(method("PUT"))
            .and(path(format!("/1/sales/{PAYMENT_ID}/capture")))
            .and(header("MerchantKey", "mkey"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"Status": 2, "ReturnCode": "6", "ReturnMessage": "Operation Successful"})))
            .expect(1)
            .mount(&server)
            .await;
        let result = cielo(&server, Duration::from_secs(5)).pay(&request(2)).await;
        assert_eq!(result, Ok(CardPaymentResult::Approved { provider_payment_id: PAYMENT_ID.into(), authorization_code: "123456".into() }));
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
        assert_eq!(
            c.pay(&request(1)).await,
            Err(ProviderError::Rejected { code: "126".into(), message: "Credit Card Expiration Date is invalid".into() })
        );
        assert!(matches!(c.pay(&request(2)).await, Err(ProviderError::Unavailable(_))));
    }

    #[tokio::test]
    async fn bad_credentials_and_unknown_payments_are_rejections_and_throttling_is_retryable() {
        for (status, expected) in [(401, "auth"), (403, "auth"), (404, "404")] {
            let server = MockServer::start().await;
            let result = paying(&server, ResponseTemplate::new(status)).await;
            assert!(matches!(&result, Err(ProviderError::Rejected { code, .. }) if code == expected), "{status}: {result:?}");
        }
        let server = MockServer::start().await;
        assert!(matches!(paying(&server, ResponseTemplate::new(429)).await, Err(ProviderError::Unavailable(_))));
    }

    #[tokio::test]
    async fn a_hanging_acquirer_is_unavailable() {
        let server = MockServer::start().await;
        Mock::given(method("POST")).respond_with(sale(2, "00", "ok").set_delay(Duration::from_secs(3))).mount(&server).await;
        assert_eq!(cielo(&server, Duration::from_millis(300)).pay(&request(1)).await, Err(ProviderError::Unavailable("timeout".into())));
    }

    #[tokio::test]
    async fn an_unreachable_acquirer_is_unavailable() {
        let c = Cielo::new(CieloConfig {
            api_url: "http://127.0.0.1:9".into(),
            query_url: "http://127.0.0.1:9".into(),
            merchant_id: "m".into(),
            merchant_key: "k".into(),
            timeout: Duration::from_secs(2),
        });
        assert!(matches!(c.pay(&request(1)).await, Err(ProviderError::Unavailable(_))));
    }

    #[tokio::test]
    async fn invalid_requests_never_reach_cielo() {
        let server = MockServer::start().await;
        Mock::given(method("POST")).respond_with(sale(2, "00", "ok")).expect(0).mount(&server).await;
        let c = cielo(&server, Duration::from_secs(5));
        for r in [
            request(13),
            request(0),
            CardPaymentRequest { card_token: " ".into(), ..request(1) },
            CardPaymentRequest { order_id: "-_".into(), ..request(1) },
        ] {
            assert!(matches!(c.pay(&r).await, Err(ProviderError::Rejected { .. })), "{r:?}");
        }
    }

    #[tokio::test]
    async fn refunds_void_the_amount_in_cents() {
        let server = MockServer::start().await;
        Mock::given(method("PUT"))
            .and(path(format!("/1/sales/{PAYMENT_ID}/void")))
            .and(query_param("amount", "5000"))
            .and(header("MerchantId", "mid"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"Status": 11, "ReasonCode": 0, "ReasonMessage": "Successful"})))
            .expect(1)
            .mount(&server)
            .await;
        cielo(&server, Duration::from_secs(5)).refund(PAYMENT_ID, Money::parse("50.00").unwrap()).await.unwrap();
    }

    #[tokio::test]
    async fn a_partial_void_keeps_status_2_and_a_refused_void_is_rejected() {
        let server = MockServer::start().await;
        Mock::given(method("PUT"))
            .and(query_param("amount", "1000"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"Status": 2, "ReasonCode": 0, "ReasonMessage": "Successful"})))
            .mount(&server)
            .await;
        Mock::given(method("PUT"))
            .and(query_param("amount", "2000"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"Status": 2, "ReasonCode": 7, "ReasonMessage": "Denied"})))
            .mount(&server)
            .await;
        Mock::given(method("PUT"))
            .and(query_param("amount", "3000"))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!([{"Code": 309, "Message": "Transaction not available to void"}])))
            .mount(&server)
            .await;
        let c = cielo(&server, Duration::from_secs(5));
        c.refund(PAYMENT_ID, Money::parse("10.00").unwrap()).await.unwrap();
        assert_eq!(
            c.refund(PAYMENT_ID, Money::parse("20.00").unwrap()).await,
            Err(ProviderError::Rejected { code: "7".into(), message: "Denied".into() })
        );
        assert!(matches!(c.refund(PAYMENT_ID, Money::parse("30.00").unwrap()).await, Err(ProviderError::Rejected { code, .. }) if code == "309"));
    }

    #[test]
    fn order_ids_become_cielo_merchant_order_ids() {
        assert_eq!(merchant_order_id("chg_01-pay_01"), "chg01pay01");
        let a = "chg_01jdx0f8k2m3n4p5q6r7s8t9v0-pay_01jdx0f8k2m3n4p5q6r7s8t9v1";
        let b = "chg_01jdx0f8k2m3n4p5q6r7s8t9v0-pay_01jdx0f8k2m3n4p5q6r7s8t9v2";
        let (ma, mb) = (merchant_order_id(a), merchant_order_id(b));
        assert_eq!(ma.len(), 50);
        assert!(ma.starts_with("chg01jdx0f8k2m3n4p5q6r7s8t9v0pay"), "{ma}");
        assert!(ma.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(ma, mb);
        assert_eq!(ma, merchant_order_id(a));
    }

    #[test]
    fn the_descriptor_fits_the_statement_and_debug_hides_the_key() {
        assert_eq!(soft_descriptor("Padaria São João & Filhos"), "Padaria Sao J");
        assert_eq!(soft_descriptor("Açaí"), "Acai");
        assert_eq!(soft_descriptor("★★★"), "");
        let shown = format!(
            "{:?}",
            CieloConfig {
                api_url: "u".into(),
                query_url: "q".into(),
                merchant_id: "m".into(),
                merchant_key: "super-secret".into(),
                timeout: Duration::from_secs(1)
            }
        );
        assert!(!shown.contains("super-secret"));
    }

    /// The local stand-in (`adapters::providers::sandbox::SandboxAcquirer`, wired as provider `sandbox`) behaves as the
    /// card flow expects: approvals and declines by the token's last digits, the same answer on a retry.
    #[tokio::test]
    async fn the_sandbox_acquirer_approves_and_declines_by_token_and_is_deterministic() {
        use crate::adapters::providers::sandbox::SandboxAcquirer;
        let sandbox = SandboxAcquirer;
        let pay = |token: &str, order: &str| CardPaymentRequest { card_token: token.into(), order_id: order.into(), ..request(3) };
        for token in ["tok_4024007197690001", "tok_4024007197690004", "tok_4024007197690000"] {
            assert!(matches!(sandbox.pay(&pay(token, "o1")).await, Ok(CardPaymentResult::Approved { .. })), "{token}");
        }
        for (token, expected) in [("tok_x0002", "05"), ("tok_x0003", "57"), ("tok_x0005", "78"), ("tok_x0007", "77"), ("tok_x0008", "70")] {
            assert!(matches!(sandbox.pay(&pay(token, "o1")).await, Ok(CardPaymentResult::Declined { code, .. }) if code == expected), "{token}");
        }
        assert!(matches!(sandbox.pay(&pay("tok_x0006", "o1")).await, Err(ProviderError::Unavailable(_))), "6: the acquirer times out");
        let Ok(CardPaymentResult::Approved { provider_payment_id, authorization_code }) = sandbox.pay(&pay("tok_x0001", "o1")).await else {
            panic!()
        };
        assert_eq!(authorization_code.len(), 6);
        assert!(authorization_code.chars().all(|c| c.is_ascii_digit()));
        assert_eq!(
            sandbox.pay(&pay("tok_x0001", "o1")).await,
            Ok(CardPaymentResult::Approved { provider_payment_id: provider_payment_id.clone(), authorization_code })
        );
        let Ok(CardPaymentResult::Approved { provider_payment_id: other, .. }) = sandbox.pay(&pay("tok_x0001", "o2")).await else { panic!() };
        assert_ne!(other, provider_payment_id);
        assert!(matches!(sandbox.pay(&request(13)).await, Err(ProviderError::Rejected { .. })));
        sandbox.refund(&provider_payment_id, Money::parse("1.00").unwrap()).await.unwrap();
    }

    #[tokio::test]
    async fn reads_a_partly_refunded_sale_from_the_query_host() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(format!("/query/1/sales/{PAYMENT_ID}")))
            .and(header("MerchantId", "mid"))
            .and(header("MerchantKey", "mkey"))
            .and(header_exists("RequestId"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "MerchantOrderId": "chg01pay01", "Customer": {"Name": "Maria Silva"},
                "Payment": {"PaymentId": PAYMENT_ID, "Type": "CreditCard", "Amount": 15700, "CapturedAmount": 15700, "VoidedAmount": 5000,
                            "CapturedDate": "2026-11-20 10:30:00", "VoidedDate": "2026-11-21 09:00:00", "Status": 2, "ReturnCode": "6"}
            })))
            .expect(1)
            .mount(&server)
            .await;
        let sale = cielo(&server, Duration::from_secs(5)).sale(PAYMENT_ID).await.unwrap();
        assert_eq!(sale.status, crate::providers::SaleStatus::Captured);
        assert_eq!((sale.amount, sale.voided), (Money::parse("157.00").unwrap(), Some(Money::parse("50.00").unwrap())));
        assert_eq!(sale.captured_at.unwrap().to_rfc3339(), "2026-11-20T13:30:00+00:00", "Brasília time");
    }

    #[tokio::test]
    async fn maps_sale_statuses_and_refuses_unknown_ones() {
        use crate::providers::SaleStatus;
        for (status, expected) in [
            (1, Some(SaleStatus::Authorized)),
            (3, Some(SaleStatus::Refused)),
            (10, Some(SaleStatus::Voided)),
            (11, Some(SaleStatus::Voided)),
            (12, Some(SaleStatus::Pending)),
            (99, None),
        ] {
            let server = MockServer::start().await;
            Mock::given(method("GET"))
                .respond_with(
                    ResponseTemplate::new(200).set_body_json(json!({"Payment": {"PaymentId": PAYMENT_ID, "Amount": 100, "Status": status}})),
                )
                .mount(&server)
                .await;
            let got = cielo(&server, Duration::from_secs(5)).sale(PAYMENT_ID).await;
            match expected {
                Some(e) => assert_eq!(got.unwrap().status, e, "status {status}"),
                None => assert!(matches!(got, Err(ProviderError::Unavailable(_))), "status {status}"),
            }
        }
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(404).set_body_json(json!([{"Code": 308, "Message": "Transaction not found"}])))
            .mount(&server)
            .await;
        assert!(matches!(cielo(&server, Duration::from_secs(5)).sale(PAYMENT_ID).await, Err(ProviderError::Rejected { code, .. }) if code == "308"));
        assert!(matches!(cielo(&server, Duration::from_secs(5)).sale("../x").await, Err(ProviderError::Rejected { .. })));
    }

    /// A retried attempt is the same sale to Cielo: the same `MerchantOrderId` and `RequestId`; another attempt
    /// gets other ones, and `RequestId` stays a GUID.
    #[tokio::test]
    async fn an_attempt_sends_its_stable_key_as_merchant_order_id_and_request_id() {
        let server = MockServer::start().await;
        Mock::given(method("POST")).and(path("/1/sales/")).respond_with(sale(2, "00", "ok")).expect(3).mount(&server).await;
        let c = cielo(&server, Duration::from_secs(5));
        let attempt = |key: &str| CardPaymentRequest { order_id: key.into(), ..request(1) };
        let key = "chg_01jdx0f8k2m3n4p5q6r7s8t9v0-card1";
        c.pay(&attempt(key)).await.unwrap();
        c.pay(&attempt(key)).await.unwrap();
        c.pay(&attempt("chg_01jdx0f8k2m3n4p5q6r7s8t9v0-card2")).await.unwrap();
        let sent: Vec<(String, String)> = server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .map(|r| {
                let body: Value = serde_json::from_slice(&r.body).unwrap();
                (body["MerchantOrderId"].as_str().unwrap().to_string(), r.headers.get("RequestId").unwrap().to_str().unwrap().to_string())
            })
            .collect();
        assert_eq!(sent[0], sent[1], "a retry is the same order and request");
        assert_eq!(sent[0].0, "chg01jdx0f8k2m3n4p5q6r7s8t9v0card1");
        assert_ne!(sent[0].0, sent[2].0);
        assert_ne!(sent[0].1, sent[2].1);
        let guid = &sent[0].1;
        assert_eq!(guid.split('-').map(str::len).collect::<Vec<_>>(), vec![8, 4, 4, 4, 12], "{guid}");
        assert!(guid.chars().all(|ch| ch == '-' || ch.is_ascii_hexdigit()), "{guid}");
    }

    #[tokio::test]
    async fn finds_an_attempts_sales_by_its_order_id() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/query/1/sales"))
            .and(query_param("merchantOrderId", "chg01card1"))
            .and(header("MerchantId", "mid"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"Payments": [{"PaymentId": PAYMENT_ID, "ReceivedDate": "2026-12-07 10:00:00"}]})),
            )
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/query/1/sales/{PAYMENT_ID}")))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"Payment": {"PaymentId": PAYMENT_ID, "Amount": 10000, "CapturedAmount": 10000, "Status": 2}})),
            )
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/query/1/sales"))
            .and(query_param("merchantOrderId", "chg01card2"))
            .respond_with(ResponseTemplate::new(404).set_body_json(json!([{"Code": 308, "Message": "Transaction not found"}])))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/query/1/sales"))
            .and(query_param("merchantOrderId", "chg01card3"))
            .respond_with(ResponseTemplate::new(503))
            .mount(&server)
            .await;
        let c = cielo(&server, Duration::from_secs(5));
        let found = c.sales_of_order("chg_01-card1").await.unwrap();
        assert_eq!(
            found.iter().map(|s| (s.provider_payment_id.as_str(), s.status)).collect::<Vec<_>>(),
            vec![(PAYMENT_ID, crate::providers::SaleStatus::Captured)]
        );
        assert_eq!(c.sales_of_order("chg_01-card2").await, Ok(vec![]), "never seen");
        assert!(matches!(c.sales_of_order("chg_01-card3").await, Err(ProviderError::Unavailable(_))), "unknown fate: not 'no sale'");
    }
}
