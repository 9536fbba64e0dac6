//! A simulation of the régua against DynamoDB on LocalStack: a few hundred charges with different réguas,
//! payments, postponements, cancellations and opt-outs, ticked every hour for 120 days. What was sent must be
//! exactly what the plans said (as the preview shows them), each message once, never in closed hours, never
//! after payment or cancellation, never on a channel the payer opted out of, and nothing left behind.
//!
//! It needs a table of its own, because its ticks move the shared tick watermark 120 days ahead:
//! `make test` deploys the stack `cobranca-sim` and sets COBRANCA_SIM_TABLE.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Timelike, Utc};
use cobranca::adapters::channels::outbox::OutboxSender;
use cobranca::adapters::dynamodb::DynamoStore;
use cobranca::adapters::memory::{MemoryQueue, RecordingEventBus};
use cobranca::domain::calendar;
use cobranca::domain::document::Document;
use cobranca::domain::ids::MerchantId;
use cobranca::domain::merchant::{ApiKey, Merchant};
use cobranca::domain::ruler::ReminderState;
use cobranca::domain::standard_webhooks::WebhookSecret;
use cobranca::http::api::provider_webhooks::WebhookApi;
use cobranca::http::api::{Api, ApiRequest};
use cobranca::ports::store::*;
use cobranca::service::delivery::Delivery;
use cobranca::service::settlement::Settlement;
use cobranca::service::tick::Tick;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const CHARGES: usize = 200;
const DAYS: i64 = 120;

/// Réguas whose reminders of one charge never share a day and whose send times fall on the hourly ticks, so
/// neither the daily cap nor a closing window moves one and the expected set is simply the plan (those
/// deferrals have their own tests).
fn rulers() -> Vec<Value> {
    vec![
        Value::Null, // the default
        json!({"send_time":"10:00","steps":[{"step":"before_due","days":3,"channels":["email"]},{"step":"on_due","channels":["whatsapp"]},{"step":"after_due","first_after_days":2,"every_days":4,"max_times":3,"channels":["email","sms"]},{"step":"on_paid"}]}),
        json!({"send_time":"08:00","steps":[{"step":"on_created","channels":["whatsapp"]},{"step":"before_due","days":7},{"step":"after_due","every_days":2,"until_days_overdue":15,"channels":["voice"]}]}),
        json!({"send_time":"13:00","steps":[{"step":"before_due","hours":30,"channels":["sms"]},{"step":"after_due","first_after_days":1,"every_days":3,"max_times":5},{"step":"on_paid","channels":["email","whatsapp"]}]}),
    ]
}

enum Event {
    Create { i: usize },
    Pay { i: usize },
    Postpone { i: usize, days: i64 },
    Cancel { i: usize },
    OptOut { i: usize },
}

struct Sim {
    store: Arc<DynamoStore>,
    queue: MemoryQueue,
    events: RecordingEventBus,
    key: ApiKey,
    secret: WebhookSecret,
    providers: cobranca::ports::providers::Providers,
}

impl Sim {
    async fn call(&self, method: &str, path: &str, body: Value, now: DateTime<Utc>) -> Value {
        let api = Api {
            store: self.store.as_ref(),
            events: &self.events,
            queue: &self.queue,
            providers: &self.providers,
            public_base_url: "https://pay.sim",
            webhook_urls: cobranca::service::merchant_webhooks::UrlPolicy { allow_local: true },
            access: Default::default(),
        };
        let headers = HashMap::from([("authorization".to_string(), format!("Bearer {}", self.key.expose()))]);
        let req = ApiRequest {
            method: method.into(),
            path: path.into(),
            headers,
            body: if body.is_null() { vec![] } else { body.to_string().into_bytes() },
            client_cert: None,
        };
        let r = api.handle(&req, now).await;
        assert!(r.status < 300, "{method} {path} {body} → {} {}", r.status, r.body);
        serde_json::from_str(&r.body).unwrap()
    }

    async fn pay(&self, charge: &Value, now: DateTime<Utc>) {
        let id = format!("msg_{}", ulid::Ulid::new());
        let body = json!({"type":"payment.confirmed","data":{"charge_id": charge["id"], "amount": charge["amount"], "paid_at": now.to_rfc3339(), "method":"pix", "provider_payment_id": format!("E{}", ulid::Ulid::new())}}).to_string();
        let headers = HashMap::from([
            ("webhook-id".to_string(), id.clone()),
            ("webhook-timestamp".to_string(), now.timestamp().to_string()),
            ("webhook-signature".to_string(), self.secret.sign(&id, now.timestamp(), body.as_bytes())),
        ]);
        let api = WebhookApi {
            settlement: Settlement { store: self.store.as_ref(), queue: &self.queue, events: &self.events },
            secrets: std::slice::from_ref(&self.secret),
            pix_auth: None,
            acquirers: None,
            channel_callbacks: None,
        };
        let r = api
            .handle(
                &ApiRequest { method: "POST".into(), path: "/v1/webhooks/cobranca".into(), headers, body: body.into_bytes(), client_cert: None },
                now,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }

    async fn drain(&self, now: DateTime<Utc>) {
        // First what payments handed to the payment-setup queue (régua stopped, receipt queued), as
        // register-payment runs it; registrations and write-offs stay queued.
        let registrar = cobranca::service::registration::Registrar {
            store: self.store.as_ref(),
            providers: &self.providers,
            queue: &self.queue,
            events: &self.events,
        };
        let follow_ups: Vec<_> = {
            let mut queued = self.queue.setup_jobs.lock().unwrap();
            let (follow_ups, rest) = queued.drain(..).partition(|j| matches!(j.task, cobranca::service::registration::SetupTask::AfterPayment(_)));
            *queued = rest;
            follow_ups
        };
        for job in follow_ups {
            registrar.run(&job, now).await.unwrap();
        }
        let sender = OutboxSender { store: self.store.clone() };
        let delivery = Delivery {
            store: self.store.as_ref(),
            sender: &sender,
            outbox: &sender,
            events: &self.events,
            public_base_url: "https://pay.sim",
            merchant_providers: None,
        };
        loop {
            let jobs = self.queue.drain();
            if jobs.is_empty() {
                return;
            }
            for job in jobs {
                delivery.deliver(&job, now).await.unwrap();
            }
        }
    }
}

fn inside_contact_window(at: DateTime<Utc>) -> bool {
    let local = at.with_timezone(&calendar::TIME_ZONE);
    calendar::contact_window(local.date_naive()).is_some_and(|(open, close)| local.time() >= open && local.time() < close)
}

#[tokio::test]
async fn a_hundred_and_twenty_days_of_ticks_send_exactly_what_was_planned() {
    let Ok(table) = std::env::var("COBRANCA_SIM_TABLE") else {
        assert!(std::env::var("COBRANCA_REQUIRE_AWS").is_err(), "COBRANCA_REQUIRE_AWS is set but COBRANCA_SIM_TABLE is not");
        eprintln!("skipped: no COBRANCA_SIM_TABLE (run through `make test`)");
        return;
    };
    let aws = cobranca::adapters::config::aws().await;
    let store = Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), table));
    let key = ApiKey::generate(cobranca::domain::merchant::Mode::Test);
    let merchant = Merchant {
        id: MerchantId::generate(),
        name: "Loja Simulada Ltda".into(),
        document: Document::parse("11222333000181").unwrap(),
        created_at: Utc::now(),
        mode: cobranca::domain::merchant::Mode::Test,
    };
    store.put_merchant(&merchant, &key.hash()).await.unwrap();
    for wallet in cobranca::domain::wallet::Wallet::sandbox_set(&merchant.id, Utc::now()) {
        store.put_wallet(&wallet).await.unwrap();
    }
    let sim = Sim {
        store: store.clone(),
        queue: MemoryQueue::default(),
        events: RecordingEventBus::default(),
        key,
        secret: WebhookSecret::generate().0,
        providers: cobranca::adapters::config::providers(&aws).await.unwrap(),
    };

    // The script: creation hours over the first 60 days; then payments, postponements, cancellations, opt-outs.
    let mut rng = StdRng::seed_from_u64(20261122);
    let start = (Utc::now() + Duration::hours(1)).with_minute(0).unwrap().with_second(0).unwrap().with_nanosecond(0).unwrap();
    let mut script: BTreeMap<i64, Vec<Event>> = BTreeMap::new();
    let mut due_in = Vec::new();
    for i in 0..CHARGES {
        let created = rng.gen_range(0..60 * 24);
        script.entry(created).or_default().push(Event::Create { i });
        let due = rng.gen_range(1..45i64);
        due_in.push(due);
        let roll: f64 = rng.gen_range(0..100) as f64;
        let later = created + rng.gen_range(1..(due + 20) * 24);
        let event = match roll as u32 {
            0..=39 => Some(Event::Pay { i }),
            40..=49 => Some(Event::Postpone { i, days: rng.gen_range(3..20) }),
            50..=54 => Some(Event::Cancel { i }),
            55..=64 => Some(Event::OptOut { i }),
            _ => None,
        };
        if let Some(e) = event {
            script.entry(later).or_default().push(e);
        }
    }

    let rulers = rulers();
    let mut charges: Vec<Option<Value>> = vec![None; CHARGES];
    let mut previews: Vec<Vec<Value>> = vec![vec![]; CHARGES];
    let mut touched: HashSet<usize> = HashSet::new(); // edited or opted out: checked by invariants only
    let mut closed_at: HashMap<usize, DateTime<Utc>> = HashMap::new();
    let mut opted_out_at: HashMap<usize, DateTime<Utc>> = HashMap::new();
    let mut paid: HashSet<usize> = HashSet::new();
    let tick = Tick::new(store.as_ref(), &sim.queue, &sim.events);

    for hour in 0..DAYS * 24 {
        let now = start + Duration::hours(hour);
        for event in script.remove(&hour).unwrap_or_default() {
            match event {
                Event::Create { i } => {
                    let customer = json!({"name": format!("Pagador {i}"), "document": "529.982.247-25", "email": format!("p{i}@example.com"), "phone": "+5511987654321"});
                    let due = (calendar::local_date(now) + Duration::days(due_in[i])).to_string();
                    let ruler = &rulers[i % rulers.len()];
                    let preview = sim
                        .call("POST", "/v1/ruler/preview", json!({"customer": customer, "amount": "100.00", "due_date": due, "ruler": ruler}), now)
                        .await;
                    let mut body = json!({"customer": customer, "amount": "100.00", "due_date": due, "description": format!("Cobrança {i}"), "payment_methods": ["pix"]});
                    if !ruler.is_null() {
                        body["ruler"] = ruler.clone();
                    }
                    charges[i] = Some(sim.call("POST", "/v1/charges", body, now).await);
                    previews[i] = preview["schedule"].as_array().unwrap().clone();
                }
                Event::Pay { i } => {
                    let c = charges[i].as_ref().unwrap();
                    let current = sim.call("GET", &format!("/v1/charges/{}", c["id"].as_str().unwrap()), Value::Null, now).await;
                    if current["status"] == "pending" || current["status"] == "overdue" {
                        sim.pay(c, now).await;
                        closed_at.insert(i, now);
                        paid.insert(i);
                    }
                }
                Event::Postpone { i, days } => {
                    let c = charges[i].as_ref().unwrap();
                    let id = c["id"].as_str().unwrap();
                    let current = sim.call("GET", &format!("/v1/charges/{id}"), Value::Null, now).await;
                    if current["status"] == "pending" || current["status"] == "overdue" {
                        let due = (calendar::local_date(now) + Duration::days(days)).to_string();
                        sim.call("PATCH", &format!("/v1/charges/{id}"), json!({"due_date": due}), now).await;
                        touched.insert(i);
                    }
                }
                Event::Cancel { i } => {
                    let c = charges[i].as_ref().unwrap();
                    let id = c["id"].as_str().unwrap();
                    let current = sim.call("GET", &format!("/v1/charges/{id}"), Value::Null, now).await;
                    if current["status"] == "pending" || current["status"] == "overdue" {
                        sim.call("POST", &format!("/v1/charges/{id}/cancel"), Value::Null, now).await;
                        closed_at.insert(i, now);
                    }
                }
                Event::OptOut { i } => {
                    let c = charges[i].as_ref().unwrap();
                    sim.call(
                        "PUT",
                        &format!("/v1/customers/{}/opt-out", c["customer_id"].as_str().unwrap()),
                        json!({"channels": ["email", "sms"]}),
                        now,
                    )
                    .await;
                    touched.insert(i);
                    opted_out_at.insert(i, now);
                }
            }
        }
        sim.drain(now).await;
        tick.run(now, now).await.unwrap();
        // As ruler-tick does: then the queued re-plans (the opt-outs').
        cobranca::service::schedule::Schedules { store: store.as_ref() }
            .run_replans(now, cobranca::service::schedule::REPLAN_PAGES_PER_RUN)
            .await
            .unwrap();
        sim.drain(now).await;
    }
    let end = start + Duration::hours(DAYS * 24 - 1);

    let outbox: Vec<_> = store.outbox().await.unwrap().into_iter().filter(|e| e.merchant_id == merchant.id).collect();
    assert!(outbox.iter().all(|e| e.deliveries == 1), "a message reached the channel twice");
    let mut checked_exactly = 0;
    for (i, charge) in charges.iter().enumerate() {
        let charge = charge.as_ref().unwrap();
        let id = charge["id"].as_str().unwrap();
        let reminders = store.reminders_of(&merchant.id, &cobranca::domain::ids::ChargeId::parse(id).unwrap()).await.unwrap();
        let sent: BTreeMap<String, DateTime<Utc>> = reminders
            .iter()
            .filter_map(|r| match &r.state {
                ReminderState::Sent { at, .. } => Some((r.id(), *at)),
                _ => None,
            })
            .collect();
        let in_outbox: std::collections::BTreeSet<String> =
            outbox.iter().filter(|e| e.charge_id.as_str() == id).map(|e| e.reminder_id.clone()).collect();
        assert_eq!(sent.keys().cloned().collect::<std::collections::BTreeSet<_>>(), in_outbox, "charge {i}: store and channel disagree");

        for (rid, at) in &sent {
            let receipt_or_notice = rid.starts_with("on_paid") || rid.starts_with("on_changed");
            if !rid.starts_with("on_paid") {
                assert!(inside_contact_window(*at), "charge {i}: {rid} sent at {at}, outside contact hours");
            }
            if let Some(closed) = closed_at.get(&i) {
                assert!(receipt_or_notice || *at <= *closed, "charge {i}: {rid} sent at {at} after it was closed at {closed}");
            }
            if let Some(opted) = opted_out_at.get(&i) {
                let on_blocked = rid.ends_with(".email") || rid.ends_with(".sms") || rid.contains(".email.") || rid.contains(".sms.");
                assert!(!(on_blocked && at > opted), "charge {i}: {rid} sent at {at} after the opt-out at {opted}");
            }
        }
        // Nothing due is left behind.
        for r in reminders.iter().filter(|r| r.state.is_pending()) {
            assert!(r.due_at > end - Duration::hours(1), "charge {i}: {} still {} though due at {}", r.id(), r.state.name(), r.due_at);
        }

        // Untouched charges: exactly the preview's messages up to payment/cancellation and the end, plus the receipt.
        if touched.contains(&i) {
            continue;
        }
        let cutoff = closed_at.get(&i).copied().unwrap_or(end);
        let mut expected: std::collections::BTreeSet<String> = previews[i]
            .iter()
            .filter(|e| e["state"] == "planned")
            .filter(|e| e["at"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap() <= cutoff)
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect();
        // Payment arriving exactly in the hour of a reminder: the tick of that hour runs after the payment.
        if let Some(closed) = closed_at.get(&i) {
            expected.retain(|id| {
                previews[i].iter().any(|e| e["id"] == id.as_str() && e["at"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap() < *closed)
            });
        }
        if paid.contains(&i) {
            let ruler = &rulers[i % rulers.len()];
            let receipts: Vec<String> = if ruler.is_null() {
                vec!["on_paid.0.email".into()]
            } else {
                ruler["steps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|s| s["step"] == "on_paid")
                    .flat_map(|s| {
                        let chans: Vec<String> = s["channels"]
                            .as_array()
                            .map(|c| c.iter().map(|x| x.as_str().unwrap().to_string()).collect())
                            .unwrap_or_else(|| vec!["email".into()]);
                        chans.into_iter().map(|c| format!("on_paid.0.{c}"))
                    })
                    .collect()
            };
            expected.extend(receipts);
        }
        let got: std::collections::BTreeSet<String> = sent.keys().cloned().collect();
        let states: Vec<String> = reminders.iter().map(|r| format!("{}@{}={:?}", r.id(), r.due_at, r.state)).collect();
        assert_eq!(got, expected, "charge {i} (régua {}): sent vs planned; end {end}; reminders {states:?}", i % rulers.len());
        checked_exactly += 1;
    }
    eprintln!("simulated {CHARGES} charges over {DAYS} days: {} messages, {checked_exactly} charges matched their preview exactly", outbox.len());
    assert!(checked_exactly > CHARGES / 2);
}
