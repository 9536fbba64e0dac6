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

/// What it declares about itself, for the registry of institutions.
pub mod connector;

use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::domain::money::Money;
use crate::ports::providers::{Acquirer, CardPaymentRequest, CardPaymentResult, ProviderError};

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
    crate::domain::pay::pix::emv_text(name, 40)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == ' ')
        .take(13)
        .collect::<String>()
        .trim()
        .to_string()
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

    async fn sale(&self, provider_payment_id: &str) -> Result<crate::ports::providers::SaleState, ProviderError> {
        use crate::ports::providers::{SaleState, SaleStatus};
        if provider_payment_id.is_empty() || !provider_payment_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(invalid("a Cielo PaymentId is required"));
        }
        let sale = self.call(Method::GET, &format!("/1/sales/{provider_payment_id}"), None).await?;
        let payment = &sale["Payment"];
        let cents = |v: &Value| v.as_u64().filter(|c| *c > 0).and_then(|c| Money::from_cents(c as i64).ok());
        let when = |v: &Value| {
            v.as_str()
                .and_then(|s| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").ok())
                .map(|t| crate::domain::calendar::local_instant(t.date(), t.time()))
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

    async fn sales_of_order(&self, order_id: &str) -> Result<Vec<crate::ports::providers::SaleState>, ProviderError> {
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
mod tests;
