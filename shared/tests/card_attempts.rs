//! Card payments one at a time: concurrent attempts on one charge make one sale, an attempt that died is found
//! out at the acquirer before another starts, and a payment link takes a limited number of attempts (API and
//! payer's page), so it cannot be used to test cards.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{Duration, Utc};
use cobranca::domain::card_attempts::{CardAttempt, CardAttempts};
use cobranca::domain::ids::ChargeId;
use cobranca::domain::money::Money;
use cobranca::domain::payment::PaymentOutcome;
use cobranca::ports::providers::{Acquirer, CardPaymentRequest, CardPaymentResult, Provider, ProviderError, Providers, SaleState, SaleStatus};
use cobranca::ports::store::*;
use serde_json::{json, Value};
use support::{due_in, App};

/// An acquirer that takes its time (so attempts overlap), remembers every sale by our order id, and counts
/// what it was asked. Tokens ending in 2 are declined.
#[derive(Default)]
struct SlowAcquirer {
    orders: Mutex<Vec<String>>,
    sales: Mutex<HashMap<String, SaleState>>,
}

impl SlowAcquirer {
    fn orders(&self) -> Vec<String> {
        self.orders.lock().unwrap().clone()
    }

    fn captured(id: &str, amount: Money) -> SaleState {
        SaleState {
            provider_payment_id: id.into(),
            status: SaleStatus::Captured,
            amount,
            captured: Some(amount),
            voided: None,
            captured_at: Some(Utc::now()),
            voided_at: None,
        }
    }
}

#[async_trait]
impl Acquirer for SlowAcquirer {
    async fn pay(&self, r: &CardPaymentRequest) -> Result<CardPaymentResult, ProviderError> {
        let n = {
            let mut orders = self.orders.lock().unwrap();
            orders.push(r.order_id.clone());
            orders.len()
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let id = format!("sale-{n}");
        if r.card_token.ends_with('2') {
            return Ok(CardPaymentResult::Declined { provider_payment_id: Some(id), code: "05".into(), message: "Não autorizada".into() });
        }
        self.sales.lock().unwrap().insert(r.order_id.clone(), Self::captured(&id, r.total));
        Ok(CardPaymentResult::Approved { provider_payment_id: id, authorization_code: format!("{n:06}") })
    }

    async fn refund(&self, _id: &str, _amount: Money) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn sale(&self, id: &str) -> Result<SaleState, ProviderError> {
        self.sales
            .lock()
            .unwrap()
            .values()
            .find(|s| s.provider_payment_id == id)
            .cloned()
            .ok_or_else(|| ProviderError::Rejected { code: "404".into(), message: "unknown sale".into() })
    }

    async fn sales_of_order(&self, order_id: &str) -> Result<Vec<SaleState>, ProviderError> {
        Ok(self.sales.lock().unwrap().get(order_id).cloned().into_iter().collect())
    }
}

async fn app_with(acquirer: &Arc<SlowAcquirer>) -> App {
    let mut app = App::new().await;
    // The sandbox wallets' provider, served by the counting acquirer.
    app.providers = Providers::default().with_acquirer(Provider::Sandbox, acquirer.clone());
    app
}

async fn charge(app: &App) -> (ChargeId, Value) {
    let body = json!({
        "customer": {"name": "Maria Silva", "document": "529.982.247-25", "email": "maria@example.com"},
        "amount": "100.00", "due_date": due_in(20), "description": "Mensalidade", "payment_methods": ["pix", "credit_card"], "max_installments": 1
    });
    let (status, charge) = app.call("POST", "/v1/charges", body, &[]).await;
    assert_eq!(status, 201, "{charge}");
    (ChargeId::parse(charge["id"].as_str().unwrap()).unwrap(), charge)
}

fn card(token: &str) -> Value {
    json!({"card_token": token, "brand": "Visa", "installments": 1})
}

fn path(id: &ChargeId) -> String {
    format!("/v1/charges/{id}/card-payments")
}

#[tokio::test]
async fn three_concurrent_card_payments_make_one_sale() {
    let acquirer = Arc::new(SlowAcquirer::default());
    let app = app_with(&acquirer).await;
    let (id, _) = charge(&app).await;
    let p = path(&id);

    let (a, b, c) = tokio::join!(
        app.call("POST", &p, card("tok_1111"), &[]),
        app.call("POST", &p, card("tok_4444"), &[]),
        app.call("POST", &p, card("tok_9999"), &[])
    );
    let mut answers: Vec<(u16, Value)> = vec![a, b, c];
    answers.sort_by_key(|(status, _)| *status);
    assert_eq!(answers.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![201, 409, 409], "{answers:?}");
    for (_, refused) in &answers[1..] {
        assert_eq!(refused["error"]["code"], "payment_in_progress", "{refused}");
    }
    assert_eq!(acquirer.orders().len(), 1, "the acquirer is called once");

    // Once it is paid, another attempt is refused before the acquirer is asked.
    let (status, again) = app.call("POST", &p, card("tok_1111"), &[]).await;
    assert_eq!((status, again["error"]["code"].as_str()), (409, Some("charge_not_open")), "{again}");
    assert_eq!(acquirer.orders().len(), 1);
    let ledger = app.store.ledger_of(&app.merchant_id, &id).await.unwrap();
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert_eq!(ledger[0].outcome, PaymentOutcome::Settled);
}

#[tokio::test]
async fn each_attempt_gives_the_acquirer_its_own_stable_key() {
    let acquirer = Arc::new(SlowAcquirer::default());
    let app = app_with(&acquirer).await;
    let (id, _) = charge(&app).await;
    assert_eq!(app.call("POST", &path(&id), card("tok_2222"), &[]).await.0, 402);
    assert_eq!(app.call("POST", &path(&id), card("tok_1111"), &[]).await.0, 201);
    assert_eq!(acquirer.orders(), vec![format!("{id}-card1"), format!("{id}-card2")]);
}

#[tokio::test]
async fn a_claim_left_by_a_crashed_attempt_is_taken_over_after_asking_the_acquirer() {
    let acquirer = Arc::new(SlowAcquirer::default());
    let app = app_with(&acquirer).await;
    let stale = |id: &ChargeId, minutes_ago: i64| {
        let attempt = CardAttempt { key: format!("{id}-card1"), started_at: Utc::now() - Duration::minutes(minutes_ago) };
        (
            CardAttempts {
                version: 1,
                total: 1,
                recent: vec![attempt.started_at],
                in_flight: Some(attempt.clone()),
                ..CardAttempts::none(&app.merchant_id, id)
            },
            attempt,
        )
    };

    // A live claim: refused without asking the acquirer.
    let (live, _) = charge(&app).await;
    app.store.put_card_attempts(&stale(&live, 0).0, None).await.unwrap();
    let (status, body) = app.call("POST", &path(&live), card("tok_1111"), &[]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("payment_in_progress")), "{body}");
    assert!(acquirer.orders().is_empty());

    // The crashed attempt's sale went through: it is recorded and settles the charge; no second sale.
    let (paid, _) = charge(&app).await;
    let (record, dead) = stale(&paid, 5);
    app.store.put_card_attempts(&record, None).await.unwrap();
    acquirer.sales.lock().unwrap().insert(dead.key.clone(), SlowAcquirer::captured("sale-crashed", Money::parse("100.00").unwrap()));
    let (status, body) = app.call("POST", &path(&paid), card("tok_1111"), &[]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("charge_not_open")), "{body}");
    assert!(acquirer.orders().is_empty(), "no new sale");
    let stored = app.store.get_charge(&app.merchant_id, &paid).await.unwrap().unwrap();
    assert_eq!(stored.status.as_str(), "paid");
    let ledger = app.store.ledger_of(&app.merchant_id, &paid).await.unwrap();
    assert_eq!(ledger.iter().map(|e| e.provider_payment_id.as_str()).collect::<Vec<_>>(), vec!["sale-crashed"]);
    assert_eq!(app.store.get_card_attempts(&app.merchant_id, &paid).await.unwrap().unwrap().in_flight, None, "the claim is released");

    // The crashed attempt never reached the acquirer: the next one goes ahead under a new key.
    let (unpaid, _) = charge(&app).await;
    app.store.put_card_attempts(&stale(&unpaid, 5).0, None).await.unwrap();
    let (status, body) = app.call("POST", &path(&unpaid), card("tok_1111"), &[]).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(acquirer.orders(), vec![format!("{unpaid}-card2")]);
}

#[tokio::test]
async fn the_api_takes_five_card_attempts_an_hour_and_twenty_in_all() {
    let acquirer = Arc::new(SlowAcquirer::default());
    let app = app_with(&acquirer).await;
    let (id, _) = charge(&app).await;
    let start = Utc::now();
    for n in 0..5 {
        let (status, body) = app.call_at("POST", &path(&id), card("tok_2222"), start + Duration::minutes(n)).await;
        assert_eq!(status, 402, "{body}");
    }
    let (status, body) = app.call_at("POST", &path(&id), card("tok_1111"), start + Duration::minutes(30)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (429, Some("too_many_card_attempts")), "{body}");
    assert_eq!(acquirer.orders().len(), 5, "the refused attempt never reached the acquirer");

    // An hour after the first, one more; then on, up to twenty in all, declines counted.
    let mut at = start + Duration::minutes(60);
    while acquirer.orders().len() < 20 {
        let (status, body) = app.call_at("POST", &path(&id), card("tok_2222"), at).await;
        assert_eq!(status, 402, "attempt {} at {at}: {body}", acquirer.orders().len() + 1);
        at += Duration::minutes(13);
    }
    let (status, body) = app.call_at("POST", &path(&id), card("tok_1111"), at + Duration::days(2)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (429, Some("too_many_card_attempts")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("20"), "{body}");
    assert_eq!(acquirer.orders().len(), 20);
}

#[tokio::test]
async fn the_pay_page_says_why_a_card_attempt_is_refused() {
    let acquirer = Arc::new(SlowAcquirer::default());
    let app = app_with(&acquirer).await;
    let (id, c) = charge(&app).await;
    let page = c["payment_url"].as_str().unwrap().strip_prefix("https://pay.test").unwrap().to_string();
    let form = "card_token=tok_sbx_x0002&brand=Visa&installments=1";
    for _ in 0..5 {
        assert_eq!(app.page("POST", &format!("{page}/card"), form).await.status, 402);
    }
    let refused = app.page("POST", &format!("{page}/card"), "card_token=tok_sbx_x0001&brand=Visa&installments=1").await;
    assert_eq!(refused.status, 429);
    let html = String::from_utf8(refused.body).unwrap();
    assert!(html.contains("Muitas tentativas de pagamento com cartão nesta cobrança"), "{html}");
    assert!(html.contains("Pix"), "another way to pay is offered");
    assert_eq!(acquirer.orders().len(), 5);

    // A card payment already running: the page says so, and the acquirer is not asked.
    let (other, c) = charge(&app).await;
    let attempt = CardAttempt { key: format!("{other}-card1"), started_at: Utc::now() };
    app.store
        .put_card_attempts(
            &CardAttempts {
                version: 1,
                total: 1,
                recent: vec![attempt.started_at],
                in_flight: Some(attempt),
                ..CardAttempts::none(&app.merchant_id, &other)
            },
            None,
        )
        .await
        .unwrap();
    let page = c["payment_url"].as_str().unwrap().strip_prefix("https://pay.test").unwrap().to_string();
    let busy = app.page("POST", &format!("{page}/card"), "card_token=tok_sbx_x0001&brand=Visa&installments=1").await;
    assert_eq!(busy.status, 409);
    assert!(String::from_utf8(busy.body).unwrap().contains("Já há um pagamento com cartão desta cobrança em andamento"));
    assert_eq!(acquirer.orders().len(), 5);
    let _ = id;
}

/// The claim keeps cards from paying twice; another rail (a Pix paid while the card was being charged) still
/// can. That card payment is recorded beyond the balance as `flagged_for_refund`, and not silently: the merchant
/// gets the `PaymentFlaggedForRefund` event (webhook `payment.flagged_for_refund`) and the reconciliation report
/// lists it.
#[tokio::test]
async fn a_card_payment_overtaken_by_a_pix_is_flagged_for_refund_and_reported() {
    let acquirer = Arc::new(SlowAcquirer::default());
    let app = app_with(&acquirer).await;
    let (id, _) = charge(&app).await;
    let pix = json!({"type":"payment.confirmed","data":{"charge_id": id.as_str(),"amount": "100.00","paid_at": Utc::now().to_rfc3339(),"method":"pix","provider_payment_id": "E2E-RAIL-1"}});
    let p = path(&id);
    let ((card_status, card_body), (pix_status, _)) = tokio::join!(app.call("POST", &p, card("tok_1111"), &[]), async {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        app.webhook("msg_rail_1", &pix).await
    });
    assert_eq!((card_status, pix_status), (201, 200), "{card_body}");
    assert_eq!(acquirer.orders().len(), 1);
    let ledger = app.store.ledger_of(&app.merchant_id, &id).await.unwrap();
    let flagged: Vec<_> = ledger.iter().filter(|e| e.outcome == PaymentOutcome::FlaggedForRefund).collect();
    assert_eq!(flagged.iter().map(|e| e.provider_payment_id.as_str()).collect::<Vec<_>>(), vec!["sale-1"], "{ledger:?}");
    let events = app.events.events.lock().unwrap().clone();
    assert!(events.iter().any(|e| e.kind == "PaymentFlaggedForRefund" && e.charge_id == id), "{events:?}");
    let (status, report) = app.call("GET", "/v1/reports/reconciliation", Value::Null, &[]).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["flagged_for_refund"][0]["charge_id"], json!(id.as_str()), "{report}");
}
