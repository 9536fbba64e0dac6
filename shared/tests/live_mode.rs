//! Test mode and live mode, as a merchant and a payer meet them: a test merchant's money and messages never reach
//! a real institution or a real payer (sandbox and outbox only); a live merchant's never reach the sandbox or the
//! outbox — a channel with no provider is not sent, a card needs a real acquirer. Keys and objects say which.

mod support;

use std::collections::HashSet;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cobranca::adapters::channels::outbox::OutboxSender;
use cobranca::domain::api_keys::AccessPolicy;
use cobranca::domain::merchant::{ApiKeyHash, Mode};
use cobranca::domain::notification::{Channel, NotificationSender, OutgoingMessage, SendError, SendReceipt};
use cobranca::http::api::ApiRequest;
use cobranca::ports::store::*;
use cobranca::service::delivery::Delivery;
use cobranca::service::merchant_webhooks::{EndpointReply, MerchantWebhooks, RetrySchedule, WebhookTransport};
use cobranca::service::tick::Tick;
use serde_json::{json, Value};
use support::{due_in, App};

/// The deployment's channel providers: only `channels` are configured; every message that reaches one is kept.
struct Deployment {
    channels: HashSet<Channel>,
    sent: Mutex<Vec<OutgoingMessage>>,
}

impl Deployment {
    fn with(channels: &[Channel]) -> Self {
        Self { channels: channels.iter().copied().collect(), sent: Mutex::default() }
    }
}

#[async_trait]
impl NotificationSender for Deployment {
    async fn send(&self, m: &OutgoingMessage) -> Result<SendReceipt, SendError> {
        assert!(self.channels.contains(&m.channel), "a message reached the unconfigured {} provider", m.channel.as_str());
        self.sent.lock().unwrap().push(m.clone());
        Ok(SendReceipt::new(format!("{}-{}", m.channel.as_str(), m.reminder_id)))
    }

    fn serves(&self, channel: Channel) -> bool {
        self.channels.contains(&channel)
    }
}

async fn tick(app: &App, deployment: &Deployment, at: DateTime<Utc>) {
    Tick::new(app.store.as_ref(), &app.queue, &app.events).run(at, Utc::now()).await.unwrap();
    let outbox = OutboxSender { store: app.store.clone() };
    let delivery = Delivery {
        store: app.store.as_ref(),
        sender: deployment,
        outbox: &outbox,
        events: &app.events,
        public_base_url: "https://pay.test",
        merchant_providers: None,
    };
    for job in app.queue.drain() {
        delivery.deliver(&job, Utc::now()).await.unwrap();
    }
}

async fn charge(app: &App, methods: Value, ruler: Value) -> Value {
    let body = json!({"customer":{"name":"Maria Silva","document":"52998224725","email":"maria@example.com","phone":"+5511999998888"},
                      "amount":"150.00","due_date":due_in(10),"description":"Mensalidade","payment_methods":methods,"ruler":ruler});
    let (status, charge) = app.call("POST", "/v1/charges", body, &[]).await;
    assert_eq!(status, 201, "{charge}");
    charge
}

fn scheduled(charge: &Value, step: &str) -> DateTime<Utc> {
    let r = charge["reminders"].as_array().unwrap().iter().find(|r| r["step"] == step).unwrap_or_else(|| panic!("no {step} in {charge}"));
    r["scheduled_at"].as_str().unwrap().parse().unwrap()
}

fn announced(app: &App, kind: &str) -> usize {
    app.events.events.lock().unwrap().iter().filter(|e| e.kind == kind).count()
}

#[tokio::test]
async fn a_live_message_on_a_channel_without_a_provider_is_skipped_not_costed_nor_announced() {
    let app = App::live().await;
    let deployment = Deployment::with(&[Channel::Email]);
    let created = charge(&app, json!(["pix"]), json!({"send_time":"10:00","steps":[{"step":"on_due","channels":["sms","email"]}]})).await;
    let id = created["id"].as_str().unwrap();
    tick(&app, &deployment, scheduled(&created, "on_due")).await;

    let (_, shown) = app.call("GET", &format!("/v1/charges/{id}"), Value::Null, &[]).await;
    let on =
        |channel: &str| shown["reminders"].as_array().unwrap().iter().find(|r| r["step"] == "on_due" && r["channel"] == channel).cloned().unwrap();
    assert_eq!((&on("sms")["state"], &on("sms")["reason"]), (&json!("skipped"), &json!("channel_not_configured")), "{shown}");
    assert_eq!(on("email")["state"], "sent", "{shown}");
    // Only the e-mail went out, through the real provider; nothing to the outbox, nothing costed for the SMS.
    assert_eq!(deployment.sent.lock().unwrap().iter().map(|m| m.channel).collect::<Vec<_>>(), vec![Channel::Email]);
    assert!(app.store.outbox().await.unwrap().is_empty(), "a live merchant never writes to the outbox");
    let month = cobranca::domain::channel_policy::spend_month(cobranca::domain::calendar::local_date(Utc::now()));
    let spent = app.store.spend_of(&app.merchant_id, &month).await.unwrap();
    assert!(!spent.contains_key(&Channel::Sms), "{spent:?}");
    assert_eq!(announced(&app, "NotificationSent"), 1, "only the e-mail is announced");
    let (_, records) = app.call("GET", &format!("/v1/charges/{id}/notifications"), Value::Null, &[]).await;
    assert!(records["data"].as_array().unwrap().iter().all(|r| r["channel"] != "sms" || r["status"] != "sent"), "{records}");
}

#[tokio::test]
async fn a_test_merchant_never_reaches_a_real_provider_even_with_one_configured() {
    let app = App::new().await;
    let deployment = Deployment::with(&Channel::ALL);
    let (status, _) =
        app.call("PUT", "/v1/notification-settings", json!({"providers": {"sms": format!("cobranca/{}/sms", app.merchant_id)}}), &[]).await;
    assert_eq!(status, 200);
    let created = charge(&app, json!(["pix"]), json!({"send_time":"10:00","steps":[{"step":"on_due","channels":["sms","email"]}]})).await;
    tick(&app, &deployment, scheduled(&created, "on_due")).await;
    assert!(deployment.sent.lock().unwrap().is_empty(), "a test message reached a real provider");
    let mut channels: Vec<Channel> = app.store.outbox().await.unwrap().iter().map(|e| e.channel).collect();
    channels.sort_by_key(|c| c.as_str());
    assert_eq!(channels, vec![Channel::Email, Channel::Sms]);
}

#[tokio::test]
async fn a_live_merchant_cannot_pay_by_card_with_sandbox_test_digits() {
    // A merchant stored before modes existed is live, and may still hold the sandbox wallets it was given.
    let app = App::live().await;
    for wallet in cobranca::domain::wallet::Wallet::sandbox_set(&app.merchant_id, Utc::now()) {
        app.store.put_wallet(&wallet).await.unwrap();
    }
    let sandbox_card = app
        .store
        .wallets_of(&app.merchant_id)
        .await
        .unwrap()
        .into_iter()
        .find(|w| w.provider == cobranca::ports::providers::Provider::Sandbox && w.method() == cobranca::domain::charge::PaymentMethod::CreditCard)
        .unwrap();
    // It is never a charge's default, nor can a charge name it.
    let created = charge(&app, json!(["credit_card"]), Value::Null).await;
    assert_ne!(created["card"]["wallet_id"], json!(sandbox_card.id), "{created}");
    let body = json!({"customer_id": created["customer_id"], "amount": "10.00", "due_date": due_in(5), "description": "x", "payment_methods": ["credit_card"], "wallet_ids": [sandbox_card.id]});
    let (status, refused) = app.call("POST", "/v1/charges", body, &[]).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("wallet_ids")), "{refused}");

    // A charge that already points at it (made before the merchant was live) cannot be paid through it.
    let id = created["id"].as_str().unwrap();
    let mut stored = app.store.get_charge(&app.merchant_id, &cobranca::domain::ids::ChargeId::parse(id).unwrap()).await.unwrap().unwrap();
    let before = stored.version;
    stored.setup.card.as_mut().unwrap().wallet_id = sandbox_card.id.clone();
    stored.version += 1;
    app.store.update_charge(&stored, before).await.unwrap();
    let (status, paid) = app
        .call("POST", &format!("/v1/charges/{id}/card-payments"), json!({"card_token": "tok_sbx_x4242", "brand": "Visa", "installments": 1}), &[])
        .await;
    assert_eq!(status, 422, "{paid}");
    assert!(paid["error"]["message"].as_str().unwrap().contains("provider_not_allowed_in_mode"), "{paid}");
    let path = format!("/pay/{}", stored.payment_token);
    let tokenized = app
        .page("POST", &format!("{path}/sandbox-tokenize"), r#"{"number":"4111 1111 1111 1111","holder":"MARIA SILVA","expiry":"12/30","cvv":"123"}"#)
        .await;
    assert_eq!(tokenized.status, 404, "no sandbox tokenization for a live merchant");
    let (_, after) = app.call("GET", &format!("/v1/charges/{id}"), Value::Null, &[]).await;
    assert_eq!(after["status"], "pending", "{after}");
}

#[tokio::test]
async fn wallets_follow_the_merchants_mode() {
    let live = App::live().await;
    let sandbox = json!({"name": "Cartão", "provider": "sandbox", "method": "credit_card", "settings": {}});
    let (status, body) = live.call("POST", "/v1/wallets", sandbox.clone(), &[]).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("provider")), "{body}");
    let test = App::new().await;
    let (status, body) =
        test.call("POST", "/v1/wallets", json!({"name": "Cielo", "provider": "cielo", "method": "credit_card", "settings": {}}), &[]).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("provider")), "{body}");
    assert_eq!(test.call("POST", "/v1/wallets", sandbox, &[]).await.0, 201);
}

#[tokio::test]
async fn every_object_a_merchant_is_shown_says_whether_it_is_live() {
    for (app, live) in [(App::new().await, false), (App::live().await, true)] {
        let due = due_in(10);
        let created = charge(&app, json!(["pix"]), Value::Null).await;
        let customer = created["customer_id"].as_str().unwrap().to_string();
        let (_, plan) = app
            .call("POST", "/v1/installment-plans", json!({"customer_id": customer, "amount": "300.00", "installments": 3, "first_due_date": due, "description": "Curso", "payment_methods": ["pix"]}), &[])
            .await;
        let (_, subscription) = app
            .call("POST", "/v1/subscriptions", json!({"customer_id": customer, "amount": "99.90", "cycle": "monthly", "first_due_date": due, "description": "Plano Pro", "payment_methods": ["pix"]}), &[])
            .await;
        let (_, endpoint) =
            app.call("POST", "/v1/webhook-endpoints", json!({"url": "https://erp.example.com/hooks", "event_types": ["*"]}), &[]).await;
        let mut shown = vec![created.clone(), plan, subscription, endpoint];
        for path in [format!("/v1/customers/{customer}"), format!("/v1/charges/{}", created["id"].as_str().unwrap())] {
            shown.push(app.call("GET", &path, Value::Null, &[]).await.1);
        }
        for list in
            ["/v1/charges", "/v1/customers", "/v1/installment-plans", "/v1/subscriptions", "/v1/wallets", "/v1/api-keys", "/v1/webhook-endpoints"]
        {
            let (status, listed) = app.call("GET", list, Value::Null, &[]).await;
            assert_eq!(status, 200, "{list}: {listed}");
            assert_eq!(listed.get("livemode"), None, "a list is no object of the merchant's: {listed}");
            let items = listed["data"].as_array().unwrap_or_else(|| panic!("{list}: {listed}"));
            assert!(!items.is_empty(), "{list} lists nothing");
            shown.extend(items.iter().cloned());
        }
        for object in shown {
            assert!(object["object"].is_string(), "{object}");
            assert_eq!(object["livemode"], json!(live), "{object}");
        }
    }
}

/// Making deliveries sends nothing: a transport that is never called.
struct NotCalled;

#[async_trait]
impl WebhookTransport for NotCalled {
    async fn post(&self, _: &str, _: &[(&str, String)], _: &str) -> EndpointReply {
        unreachable!("dispatching an event only records its deliveries")
    }
}

#[tokio::test]
async fn events_sent_to_a_merchants_endpoints_say_whether_they_are_live() {
    for (app, live) in [(App::new().await, false), (App::live().await, true)] {
        let (status, endpoint) =
            app.call("POST", "/v1/webhook-endpoints", json!({"url": "https://erp.example.com/hooks", "event_types": ["*"]}), &[]).await;
        assert_eq!(status, 201, "{endpoint}");
        charge(&app, json!(["pix"]), Value::Null).await;
        let schedule = RetrySchedule::standard();
        let hooks =
            MerchantWebhooks { store: app.store.as_ref(), queue: &app.queue, events: &app.events, transport: &NotCalled, schedule: &schedule };
        let created = app.events.events.lock().unwrap().iter().find(|e| e.kind == "ChargeCreated").cloned().expect("a ChargeCreated event");
        assert_eq!(hooks.dispatch(&created, Utc::now()).await.unwrap(), 1);
        let id = cobranca::domain::ids::WebhookEndpointId::parse(endpoint["id"].as_str().unwrap()).unwrap();
        let deliveries = app.store.webhook_deliveries_of(&app.merchant_id, &id, 10, None).await.unwrap().items;
        let payload: Value = serde_json::from_str(&deliveries[0].payload).unwrap();
        assert_eq!(payload["livemode"], json!(live), "{payload}");
        assert_eq!(payload["type"], "charge.created", "{payload}");
    }
}

const OPERATOR_KEY: &str = "op_test_operator_key_0123456789abcdef";

async fn operator_creates(app: &App, body: Value) -> Value {
    let headers = std::collections::HashMap::from([("authorization".to_string(), format!("Bearer {OPERATOR_KEY}"))]);
    let req = ApiRequest { method: "POST".into(), path: "/v1/merchants".into(), headers, body: body.to_string().into_bytes(), client_cert: None };
    let api =
        cobranca::http::api::Api { access: AccessPolicy { operator_key: Some(ApiKeyHash::of(OPERATOR_KEY)), default_rate_limit: None }, ..app.api() };
    let r = api.handle(&req, Utc::now()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    serde_json::from_str(&r.body).unwrap()
}

#[tokio::test]
async fn keys_show_the_mode_of_their_merchant_and_a_merchant_is_test_unless_made_live() {
    let app = App::new().await;
    let test = operator_creates(&app, json!({"name": "Loja Teste", "document": "11.222.333/0001-81"})).await;
    assert_eq!(test["merchant"]["livemode"], false);
    assert!(test["api_key"]["secret"].as_str().unwrap().starts_with("ck_test_"), "{test}");
    let live = operator_creates(&app, json!({"name": "Loja Real", "document": "529.982.247-25", "livemode": true})).await;
    assert_eq!(live["merchant"]["livemode"], true);
    let secret = live["api_key"]["secret"].as_str().unwrap();
    assert!(secret.starts_with("ck_live_"), "{live}");
    assert!(live["api_key"]["redacted"].as_str().unwrap().starts_with("ck_live_…"), "{live}");
    let id = cobranca::domain::ids::MerchantId::parse(live["merchant"]["id"].as_str().unwrap()).unwrap();
    assert_eq!(app.store.get_merchant(&id).await.unwrap().unwrap().mode, Mode::Live);
}
