//! Issue #5: money movements are applied exactly once, in any order, and the ledger explains every balance.

mod support;

use chrono::Utc;
use cobranca::domain::ids::ChargeId;
use cobranca::domain::payment::{net_received, EntryKind};
use cobranca::ports::store::*;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use support::{due_in, App};

async fn charge(app: &App, amount: &str) -> String {
    let body = json!({
        "customer": {"name": "Maria Silva", "document": "529.982.247-25", "email": "maria@example.com"},
        "amount": amount, "due_date": due_in(20), "description": "Mensalidade", "payment_methods": ["pix"], "max_installments": 1,
    });
    let (status, c) = app.call("POST", "/v1/charges", body, &[]).await;
    assert_eq!(status, 201, "{c}");
    c["id"].as_str().unwrap().to_string()
}

async fn get(app: &App, id: &str) -> Value {
    app.call("GET", &format!("/v1/charges/{id}"), Value::Null, &[]).await.1
}

fn paid(charge: &str, amount: &str, payment: &str) -> Value {
    json!({"type": "payment.confirmed", "data": {"charge_id": charge, "amount": amount, "paid_at": Utc::now().to_rfc3339(), "method": "pix", "provider_payment_id": payment}})
}

fn refunded(charge: &str, amount: &str, payment: &str, refund: &str) -> Value {
    json!({"type": "payment.refunded", "data": {"charge_id": charge, "amount": amount, "refunded_at": Utc::now().to_rfc3339(), "method": "pix", "provider_payment_id": payment, "refund_id": refund}})
}

async fn ledger(app: &App, id: &str) -> Vec<cobranca::domain::payment::LedgerEntry> {
    app.store.ledger_of(&app.merchant_id, &ChargeId::parse(id).unwrap()).await.unwrap()
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

#[tokio::test]
async fn each_notice_delivered_five_times_in_shuffled_order_counts_once() {
    for seed in 0..12u64 {
        let app = App::new().await;
        let a = charge(&app, "100.00").await;
        let b = charge(&app, "50.00").await;
        let notices = [
            ("msg_pay_a", paid(&a, "100.00", "E-A")),
            ("msg_refund_a", refunded(&a, "30.00", "E-A", "R-A")),
            ("msg_part_b", paid(&b, "20.00", "E-B1")),
            ("msg_rest_b", paid(&b, "30.00", "E-B2")),
            ("msg_late_pending_a", json!({"type": "payment.pending", "data": {"charge_id": a}})),
        ];
        let mut deliveries: Vec<&(&str, Value)> = notices.iter().flat_map(|n| std::iter::repeat_n(n, 5)).collect();
        deliveries.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        for (id, body) in deliveries {
            let (status, r) = app.webhook(id, body).await;
            assert!([200, 202].contains(&status), "seed {seed}: {r}");
        }
        let ca = get(&app, &a).await;
        assert_eq!(
            (ca["status"].as_str(), ca["received"].as_str(), ca["refunded"].as_str()),
            (Some("paid"), Some("70.00"), Some("30.00")),
            "seed {seed}: {ca}"
        );
        let kinds: Vec<EntryKind> = ledger(&app, &a).await.iter().map(|e| e.kind).collect();
        assert_eq!(kinds.len(), 2, "seed {seed}: one payment and one refund");
        assert!(kinds.contains(&EntryKind::Payment) && kinds.contains(&EntryKind::Refund));
        let cb = get(&app, &b).await;
        assert_eq!((cb["status"].as_str(), cb["received"].as_str()), (Some("paid"), Some("50.00")), "seed {seed}: {cb}");
        for id in [&a, &b] {
            let entries = ledger(&app, id).await;
            assert_eq!(net_received(&entries), dec(get(&app, id).await["received"].as_str().unwrap()), "the balance is the ledger's");
        }
        let receipts = app.outbox_steps(&a).await.into_iter().filter(|s| s == "on_paid").count();
        assert_eq!(receipts, 1, "seed {seed}: one receipt");
    }
}

#[tokio::test]
async fn a_refund_that_arrives_before_its_payment_is_applied_when_the_payment_does() {
    let app = App::new().await;
    let id = charge(&app, "80.00").await;
    let (status, r) = app.webhook("msg_r", &refunded(&id, "80.00", "E-1", "R-1")).await;
    assert_eq!((status, r["result"].as_str(), r["charge_status"].as_str()), (202, Some("awaiting_payment"), Some("pending")), "{r}");
    let (status, r) = app.webhook("msg_p", &paid(&id, "80.00", "E-1")).await;
    assert_eq!((status, r["result"].as_str()), (200, Some("applied")), "{r}");
    let c = get(&app, &id).await;
    assert_eq!((c["status"].as_str(), c["refunded"].as_str()), (Some("refunded"), Some("80.00")), "{c}");
    assert!(c.get("received").is_none_or(|r| r == "0" || r == "0.00"), "{c}");
    let kinds: Vec<String> = app
        .events
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.charge_id.as_str() == id && ["PaymentConfirmed", "ChargeRefunded"].contains(&e.kind.as_str()))
        .map(|e| e.kind.to_string())
        .collect();
    assert_eq!(kinds, vec!["PaymentConfirmed", "ChargeRefunded"]);
    // Redelivered, the refund changes nothing.
    let (_, r) = app.webhook("msg_r", &refunded(&id, "80.00", "E-1", "R-1")).await;
    assert_eq!(r["result"], "duplicate");
}

#[tokio::test]
async fn refunds_never_take_back_more_than_the_payment_brought_and_chargebacks_are_told_apart() {
    let app = App::new().await;
    let id = charge(&app, "100.00").await;
    app.webhook("msg_p", &paid(&id, "100.00", "E-9")).await;
    let (_, r) = app.webhook("msg_r1", &refunded(&id, "60.00", "E-9", "R-1")).await;
    assert_eq!((r["result"].as_str(), r["charge_status"].as_str()), (Some("refund_applied"), Some("paid")), "a partial refund leaves it paid: {r}");
    let chargeback = json!({"type": "payment.chargeback", "data": {"charge_id": id, "amount": "100.00", "disputed_at": Utc::now().to_rfc3339(), "method": "pix", "provider_payment_id": "E-9", "chargeback_id": "CB-1"}});
    let (_, r) = app.webhook("msg_cb", &chargeback).await;
    assert_eq!((r["result"].as_str(), r["charge_status"].as_str()), (Some("chargeback_applied"), Some("refunded")), "{r}");
    let entries = ledger(&app, &id).await;
    assert_eq!(entries.iter().find(|e| e.kind == EntryKind::Chargeback).unwrap().amount.to_string(), "40.00", "capped at what was left");
    assert_eq!(net_received(&entries), Decimal::ZERO);
    let (status, r) = app.webhook("msg_r2", &refunded(&id, "1.00", "E-9", "R-2")).await;
    assert_eq!((status, r["result"].as_str()), (200, Some("duplicate")), "nothing left to refund: {r}");
}

#[tokio::test]
async fn a_late_pending_or_refused_status_never_moves_a_paid_charge_back() {
    let app = App::new().await;
    let id = charge(&app, "10.00").await;
    app.webhook("msg_p", &paid(&id, "10.00", "E-5")).await;
    for kind in ["payment.authorized", "payment.pending", "payment.refused"] {
        let (status, r) = app.webhook(&format!("msg_{kind}"), &json!({"type": kind, "data": {"charge_id": id}})).await;
        assert_eq!((status, r["result"].as_str()), (200, Some("acknowledged")), "{r}");
    }
    assert_eq!(get(&app, &id).await["status"], "paid");
}

#[tokio::test]
async fn a_settled_pix_devolucao_in_the_psp_webhook_is_a_refund_of_that_pix() {
    let app = App::new().await;
    let id = charge(&app, "150.00").await;
    let txid = get(&app, &id).await["pix"]["txid"].clone();
    let e2e = "E00000000202611221000devolv12345";
    let body = |status: &str| {
        json!({"pix": [{"endToEndId": e2e, "txid": txid, "valor": "150.00", "horario": Utc::now().to_rfc3339(),
        "devolucoes": [{"id": "D001", "rtrId": "D00000000202611221100abcdefghij", "valor": "50.00", "horario": {"solicitacao": Utc::now().to_rfc3339()}, "status": status}]}]})
    };
    let (status, r) = app.pix_webhook(&body("EM_PROCESSAMENTO"), "pix-secret").await;
    assert_eq!(status, 200, "{r}");
    let c = get(&app, &id).await;
    assert_eq!((c["status"].as_str(), c["refunded"].as_str()), (Some("paid"), Some("0")), "a devolução in processing moved no money: {c}");
    let (status, r) = app.pix_webhook(&body("DEVOLVIDO"), "pix-secret").await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["results"][0]["result"], "duplicate", "{r}");
    assert_eq!(r["results"][1]["result"], "refund_applied", "{r}");
    let c = get(&app, &id).await;
    assert_eq!((c["status"].as_str(), c["received"].as_str(), c["refunded"].as_str()), (Some("paid"), Some("100.00"), Some("50.00")), "{c}");
}

#[tokio::test]
async fn the_reconciliation_report_adds_up_to_the_ledger() {
    let app = App::new().await;
    let a = charge(&app, "100.00").await;
    let b = charge(&app, "70.00").await;
    let c = charge(&app, "10.00").await;
    app.webhook("m1", &paid(&a, "100.00", "P-1")).await;
    app.webhook("m2", &paid(&b, "30.00", "P-2")).await;
    app.webhook("m3", &refunded(&a, "25.00", "P-1", "R-1")).await;
    app.call("POST", &format!("/v1/charges/{c}/cancel"), Value::Null, &[]).await;
    app.webhook("m4", &paid(&c, "10.00", "P-3")).await;

    let (status, report) = app.call("GET", "/v1/reports/reconciliation", Value::Null, &[]).await;
    assert_eq!(status, 200, "{report}");
    // The ledger, computed here independently of the report.
    let mut expected = Decimal::ZERO;
    for id in [&a, &b, &c] {
        expected += ledger(&app, id).await.iter().filter(|e| e.counts()).map(|e| e.signed_amount()).sum::<Decimal>();
    }
    assert_eq!(expected, dec("105.00"));
    assert_eq!(dec(report["totals"]["net"].as_str().unwrap()), expected, "{report}");
    assert_eq!(dec(report["totals"]["refunded"].as_str().unwrap()), dec("25.00"));
    assert_eq!(report["flagged_for_refund"][0]["charge_id"], json!(c), "paid after cancellation: flagged");
    let rows_net: Decimal = report["rows"].as_array().unwrap().iter().map(|r| dec(r["net"].as_str().unwrap())).sum();
    assert_eq!(rows_net, expected);

    let (status, content_type, csv) = app.get_text("/v1/reports/reconciliation?format=csv").await;
    assert_eq!((status, content_type), (200, Some("text/csv; charset=utf-8")));
    assert_eq!(csv.lines().last(), Some("TOTAL,,,2,130.00,1,25.00,0,0.00,105.00"), "{csv}");
    let (status, r) = app.call("GET", "/v1/reports/reconciliation?from=2026-13-01", Value::Null, &[]).await;
    assert_eq!((status, r["error"]["field"].as_str()), (422, Some("from")));
}

/// An acquirer whose sales say what the test scripts; payments are approved with a fixed id.
struct ScriptedAcquirer {
    sale: std::sync::Mutex<cobranca::ports::providers::SaleState>,
}

#[async_trait::async_trait]
impl cobranca::ports::providers::Acquirer for ScriptedAcquirer {
    async fn pay(
        &self,
        _r: &cobranca::ports::providers::CardPaymentRequest,
    ) -> Result<cobranca::ports::providers::CardPaymentResult, cobranca::ports::providers::ProviderError> {
        Ok(cobranca::ports::providers::CardPaymentResult::Approved { provider_payment_id: CIELO_PAYMENT.into(), authorization_code: "123456".into() })
    }
    async fn refund(&self, _id: &str, _amount: cobranca::domain::money::Money) -> Result<(), cobranca::ports::providers::ProviderError> {
        Ok(())
    }
    async fn sale(&self, _id: &str) -> Result<cobranca::ports::providers::SaleState, cobranca::ports::providers::ProviderError> {
        Ok(self.sale.lock().unwrap().clone())
    }
    async fn sales_of_order(&self, _order_id: &str) -> Result<Vec<cobranca::ports::providers::SaleState>, cobranca::ports::providers::ProviderError> {
        Ok(vec![])
    }
}

const CIELO_PAYMENT: &str = "24bc8366-fc31-4d6c-8555-17049a836a07";

#[tokio::test]
async fn cielo_notifications_apply_what_the_sale_says_once() {
    use cobranca::domain::money::Money;
    use cobranca::ports::providers::{Provider, SaleState, SaleStatus};
    let mut app = App::live().await;
    let acquirer = std::sync::Arc::new(ScriptedAcquirer {
        sale: std::sync::Mutex::new(SaleState {
            provider_payment_id: CIELO_PAYMENT.into(),
            status: SaleStatus::Captured,
            amount: Money::parse("60.00").unwrap(),
            captured: Some(Money::parse("60.00").unwrap()),
            voided: None,
            captured_at: Some(Utc::now()),
            voided_at: None,
        }),
    });
    app.providers = app.providers.clone().with_acquirer(Provider::Cielo, acquirer.clone());
    let (status, wallet) = app.call("POST", "/v1/wallets", json!({"name": "Cielo", "provider": "cielo", "method": "credit_card", "settings": {"fees": (1..=12).map(|_| json!({"percent": "0", "fixed": "0"})).collect::<Vec<_>>(), "fee_mode": "merchant_absorbs"}}), &[]).await;
    assert_eq!(status, 201, "{wallet}");
    let body = json!({"customer": {"name": "Maria Silva", "document": "529.982.247-25", "email": "maria@example.com"}, "amount": "60.00", "due_date": due_in(10), "description": "x", "payment_methods": ["credit_card"], "wallet_ids": [wallet["id"]], "max_installments": 1});
    let (_, c) = app.call("POST", "/v1/charges", body, &[]).await;
    let id = c["id"].as_str().unwrap().to_string();
    let (status, paid) =
        app.call("POST", &format!("/v1/charges/{id}/card-payments"), json!({"card_token": "tok", "brand": "Visa", "installments": 1}), &[]).await;
    assert_eq!(status, 201, "{paid}");

    let notify = |change: u64, secret: &str| {
        let body = json!({"PaymentId": CIELO_PAYMENT, "ChangeType": change.to_string()}).to_string();
        let headers = std::collections::HashMap::from([("x-webhook-secret".to_string(), secret.to_string())]);
        cobranca::http::api::ApiRequest {
            method: "POST".into(),
            path: "/v1/webhooks/cielo".into(),
            headers,
            body: body.into_bytes(),
            client_cert: None,
        }
    };
    let api = cobranca::http::api::provider_webhooks::WebhookApi {
        settlement: cobranca::service::settlement::Settlement { store: app.store.as_ref(), queue: &app.queue, events: &app.events },
        secrets: std::slice::from_ref(&app.secret),
        pix_auth: None,
        acquirers: Some(cobranca::http::api::provider_webhooks::AcquirerNotices { providers: &app.providers, secret: "cielo-secret" }),
        channel_callbacks: None,
    };
    assert_eq!(api.handle(&notify(1, "wrong"), Utc::now()).await.status, 401, "a forged notification changes nothing");

    // Capture notified: already recorded by the payment itself.
    let r = api.handle(&notify(1, "cielo-secret"), Utc::now()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("duplicate"), "{}", r.body);
    // Partly refunded at Cielo, notified twice (Cielo retries): one refund of 20.00.
    {
        let mut s = acquirer.sale.lock().unwrap();
        s.voided = Some(Money::parse("20.00").unwrap());
    }
    for _ in 0..2 {
        let r = api.handle(&notify(25, "cielo-secret"), Utc::now()).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let c = get(&app, &id).await;
    assert_eq!((c["status"].as_str(), c["received"].as_str(), c["refunded"].as_str()), (Some("paid"), Some("40.00"), Some("20.00")), "{c}");
    // Then a chargeback for the rest.
    let r = api.handle(&notify(7, "cielo-secret"), Utc::now()).await;
    assert!(r.body.contains("chargeback_applied"), "{}", r.body);
    let c = get(&app, &id).await;
    assert_eq!(c["status"], "refunded", "{c}");
    let kinds: Vec<EntryKind> = ledger(&app, &id).await.iter().map(|e| e.kind).collect();
    assert_eq!(kinds.iter().filter(|k| **k == EntryKind::Payment).count(), 1);
    assert_eq!(kinds.iter().filter(|k| **k == EntryKind::Refund).count(), 1);
    assert_eq!(kinds.iter().filter(|k| **k == EntryKind::Chargeback).count(), 1);
    // Refused or authorized sales move no money; other change types are acknowledged.
    let r = api.handle(&notify(3, "cielo-secret"), Utc::now()).await;
    assert!(r.body.contains("acknowledged"), "{}", r.body);
}

#[tokio::test]
async fn webhook_endpoints_are_managed_through_the_api() {
    let app = App::new().await;
    let (status, e) =
        app.call("POST", "/v1/webhook-endpoints", json!({"url": "https://erp.example.com/hooks", "event_types": ["charge.paid"]}), &[]).await;
    assert_eq!(status, 201, "{e}");
    let id = e["id"].as_str().unwrap().to_string();
    let first = e["secret"].as_str().unwrap().to_string();

    let (status, patched) = app.call("PATCH", &format!("/v1/webhook-endpoints/{id}"), json!({"status": "disabled", "event_types": ["*"]}), &[]).await;
    assert_eq!((status, patched["status"].as_str(), patched["event_types"].clone()), (200, Some("disabled"), json!(["*"])), "{patched}");
    let (status, err) = app.call("PATCH", &format!("/v1/webhook-endpoints/{id}"), json!({"url": "erp.example.com/hooks"}), &[]).await;
    assert_eq!((status, err["error"]["field"].as_str()), (422, Some("url")), "{err}");
    let (status, enabled) = app.call("PATCH", &format!("/v1/webhook-endpoints/{id}"), json!({"status": "enabled"}), &[]).await;
    assert_eq!((status, enabled["status"].as_str()), (200, Some("enabled")));

    let (status, rotated) = app.call("POST", &format!("/v1/webhook-endpoints/{id}/rotate-secret"), json!({"grace_hours": 0}), &[]).await;
    assert_eq!(status, 200, "{rotated}");
    assert_ne!(rotated["secret"].as_str().unwrap(), first);
    assert_eq!(rotated["secrets"].as_array().unwrap().len(), 1, "no grace: the old secret is gone at once");
    assert!(app.call("GET", &format!("/v1/webhook-endpoints/{id}"), Value::Null, &[]).await.1.get("secret").is_none());
    let (status, _) = app.call("POST", &format!("/v1/webhook-endpoints/{id}/rotate-secret"), json!({"grace_hours": 500}), &[]).await;
    assert_eq!(status, 422);

    // Another merchant's key sees none of it.
    let other = App::new().await;
    for (method, path) in [
        ("GET", format!("/v1/webhook-endpoints/{id}")),
        ("PATCH", format!("/v1/webhook-endpoints/{id}")),
        ("DELETE", format!("/v1/webhook-endpoints/{id}")),
    ] {
        let (status, _) = other.call(method, &path, json!({}), &[]).await;
        assert_ne!(status, 200, "{method} {path}");
    }

    let (status, _) = app.call("DELETE", &format!("/v1/webhook-endpoints/{id}"), Value::Null, &[]).await;
    assert_eq!(status, 200);
    let (status, _) = app.call("GET", &format!("/v1/webhook-endpoints/{id}"), Value::Null, &[]).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_merchant_registers_at_most_sixteen_webhook_endpoints() {
    use cobranca::service::merchant_webhooks::MAX_ENDPOINTS_PER_MERCHANT;
    let app = App::new().await;
    let mut ids = Vec::new();
    for i in 0..MAX_ENDPOINTS_PER_MERCHANT {
        let (status, e) =
            app.call("POST", "/v1/webhook-endpoints", json!({"url": format!("https://erp{i}.example.com/hooks"), "event_types": ["*"]}), &[]).await;
        assert_eq!(status, 201, "{e}");
        ids.push(e["id"].as_str().unwrap().to_string());
    }
    // Every event fans out to each endpoint: one more is refused, and nothing is stored.
    let (status, err) =
        app.call("POST", "/v1/webhook-endpoints", json!({"url": "https://one-more.example.com/hooks", "event_types": ["*"]}), &[]).await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"]["code"], "webhook_endpoint_limit");
    let (_, list) = app.call("GET", "/v1/webhook-endpoints", Value::Null, &[]).await;
    assert_eq!(list["data"].as_array().unwrap().len(), MAX_ENDPOINTS_PER_MERCHANT);
    // Deleting one makes room.
    let (status, _) = app.call("DELETE", &format!("/v1/webhook-endpoints/{}", ids[0]), Value::Null, &[]).await;
    assert_eq!(status, 200);
    let (status, e) =
        app.call("POST", "/v1/webhook-endpoints", json!({"url": "https://one-more.example.com/hooks", "event_types": ["*"]}), &[]).await;
    assert_eq!(status, 201, "{e}");
}
