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
    let Ok(CardPaymentResult::Approved { provider_payment_id, authorization_code }) = sandbox.pay(&pay("tok_x0001", "o1")).await else { panic!() };
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
    assert_eq!(sale.status, crate::ports::providers::SaleStatus::Captured);
    assert_eq!((sale.amount, sale.voided), (Money::parse("157.00").unwrap(), Some(Money::parse("50.00").unwrap())));
    assert_eq!(sale.captured_at.unwrap().to_rfc3339(), "2026-11-20T13:30:00+00:00", "Brasília time");
}

#[tokio::test]
async fn maps_sale_statuses_and_refuses_unknown_ones() {
    use crate::ports::providers::SaleStatus;
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
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"Payment": {"PaymentId": PAYMENT_ID, "Amount": 100, "Status": status}})))
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
        vec![(PAYMENT_ID, crate::ports::providers::SaleStatus::Captured)]
    );
    assert_eq!(c.sales_of_order("chg_01-card2").await, Ok(vec![]), "never seen");
    assert!(matches!(c.sales_of_order("chg_01-card3").await, Err(ProviderError::Unavailable(_))), "unknown fate: not 'no sale'");
}
