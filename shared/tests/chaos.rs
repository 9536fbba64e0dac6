//! The reliability suite (issue #8): every effect exactly once under duplicates, races, injected faults, crashes
//! and poison messages. The use cases run through fault-injecting decorators of the ports
//! (`adapters::faults`): a share of calls fails before or after taking effect, or the "process dies" at a chosen
//! call — for crashes, at every call of the run in turn. Then the world recovers the way AWS and providers do
//! (webhooks redelivered until acknowledged, SQS messages received again, clients retrying with their
//! Idempotency-Key, later ticks), and the effects are counted.
//!
//! Prints a table of figures; fails unless lost = duplicated = 0. `make chaos` runs more rounds
//! (`COBRANCA_CHAOS_ROUNDS`, default 3 here).

mod support;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use cobranca::adapters::channels::outbox::OutboxSender;
use cobranca::adapters::faults::{run_until_crash, FaultPlan, FaultyEventBus, FaultyQueue, FaultyStore};
use cobranca::domain::notification::NotificationJob;
use cobranca::http::api::provider_webhooks::WebhookApi;
use cobranca::http::api::{Api, ApiRequest};
use cobranca::ports::store::*;
use cobranca::service::delivery::{Delivered, Delivery, DeliveryError};
use cobranca::service::registration::{PaymentSetupJob, Registrar, SetupTask};
use cobranca::service::settlement::Settlement;
use cobranca::service::tick::Tick;
use serde_json::{json, Value};
use support::{due_in, App};

/// One line of the figures table.
#[derive(Debug, Default, Clone)]
struct Figures {
    scenario: String,
    runs: u64,
    expected: u64,
    seen: u64,
    lost: u64,
    duplicated: u64,
    faults: u64,
    /// Sends repeated to the provider after a crash between sending and recording it, absorbed by the
    /// provider's idempotency key (the reminder id): not an effect the payer sees twice.
    resent: u64,
    /// What went wrong, run by run, for the failure message.
    misses: Vec<String>,
    /// The run in progress (its crash point), for `misses`.
    run: String,
}

impl Figures {
    fn new(scenario: &str) -> Self {
        Self { scenario: scenario.into(), ..Default::default() }
    }

    /// Counts one run's effects of a kind: `expected` of them, `seen` observed.
    fn count(&mut self, expected: u64, seen: u64) {
        if expected != seen {
            self.misses.push(format!("{} effect #{}: expected {expected}, saw {seen}", self.run, self.expected));
        }
        self.expected += expected;
        self.seen += seen;
        self.lost += expected.saturating_sub(seen);
        self.duplicated += seen.saturating_sub(expected);
    }
}

static TABLE: Mutex<Vec<Figures>> = Mutex::new(Vec::new());

fn report(f: Figures) {
    eprintln!(
        "| {:<58} | {:>5} | {:>8} | {:>6} | {:>4} | {:>10} | {:>6} | {:>6} |",
        f.scenario, f.runs, f.expected, f.seen, f.lost, f.duplicated, f.faults, f.resent
    );
    let failed = f.lost > 0 || f.duplicated > 0;
    TABLE.lock().unwrap().push(f.clone());
    assert!(!failed, "{}: lost {} duplicated {}\n{}", f.scenario, f.lost, f.duplicated, f.misses.join("\n"));
}

fn rounds() -> u64 {
    std::env::var("COBRANCA_CHAOS_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3)
}

/// The world's own clock: webhooks are signed now; queue redeliveries and ticks happen later.
fn later(minutes: i64) -> DateTime<Utc> {
    Utc::now() + Duration::minutes(minutes)
}

struct Faulty<'a> {
    store: FaultyStore,
    queue: FaultyQueue<'a>,
    events: FaultyEventBus<'a>,
}

fn faulty<'a>(app: &'a App, plan: &Arc<FaultPlan>) -> Faulty<'a> {
    Faulty {
        store: FaultyStore { inner: app.store.clone(), plan: plan.clone() },
        queue: FaultyQueue { inner: &app.queue, plan: plan.clone() },
        events: FaultyEventBus { inner: &app.events, plan: plan.clone() },
    }
}

fn signed(app: &App, id: &str, body: &Value) -> ApiRequest {
    signed_at(app, id, body, Utc::now())
}

/// A delivery signed at `at`: a provider signs each redelivery anew (Standard Webhooks).
fn signed_at(app: &App, id: &str, body: &Value, at: DateTime<Utc>) -> ApiRequest {
    let raw = body.to_string();
    let ts = at.timestamp();
    ApiRequest {
        method: "POST".into(),
        path: "/v1/webhooks/cobranca".into(),
        headers: HashMap::from([
            ("webhook-id".to_string(), id.to_string()),
            ("webhook-timestamp".to_string(), ts.to_string()),
            ("webhook-signature".to_string(), app.secret.sign(id, ts, raw.as_bytes())),
        ]),
        body: raw.into_bytes(),
        client_cert: None,
    }
}

fn webhook_api<'a>(
    app: &'a App,
    store: &'a dyn Store,
    queue: &'a dyn cobranca::ports::queue::JobQueue,
    events: &'a dyn cobranca::domain::events::EventBus,
) -> WebhookApi<'a> {
    WebhookApi {
        settlement: Settlement { store, queue, events },
        secrets: std::slice::from_ref(&app.secret),
        pix_auth: None,
        acquirers: None,
        channel_callbacks: None,
    }
}

/// Delivers queued jobs as SQS would: a job that asks to be retried is received again later (five receives,
/// then the dead-letter queue, whose jobs are returned).
async fn consume(
    app: &App,
    store: &dyn Store,
    events: &dyn cobranca::domain::events::EventBus,
    jobs: Vec<NotificationJob>,
    from_minute: i64,
) -> Vec<NotificationJob> {
    let provider = OutboxSender { store: app.store.clone() };
    let delivery = Delivery { store, sender: &provider, outbox: &provider, events, public_base_url: "https://pay.test", merchant_providers: None };
    let mut dead = Vec::new();
    for job in jobs {
        let mut done = false;
        for receive in 0..5 {
            let r = delivery.deliver(&job, later(from_minute + 4 * receive)).await;
            if std::env::var("CHAOS_DEBUG").is_ok() {
                eprintln!("deliver {} {}: {:?}", job.charge_id, job.reminder_id, r);
            }
            match r {
                Ok(_) => {
                    done = true;
                    break;
                }
                Err(DeliveryError::Retry(_)) | Err(DeliveryError::Store(_)) => continue,
            }
        }
        if !done {
            dead.push(job);
        }
    }
    dead
}

/// Runs the payments' follow-ups (receipt, régua stopped, event) that the webhook handed to the payment-setup
/// queue, as register-payment receives them: five receives, then the dead-letter queue, whose jobs are
/// returned. Registrations and write-offs stay queued (not what these scenarios count).
async fn follow_ups(
    app: &App,
    store: &dyn Store,
    queue: &dyn cobranca::ports::queue::JobQueue,
    events: &dyn cobranca::domain::events::EventBus,
    from_minute: i64,
) -> Vec<PaymentSetupJob> {
    let jobs: Vec<PaymentSetupJob> = {
        let mut queued = app.queue.setup_jobs.lock().unwrap();
        let (follow_ups, rest) = queued.drain(..).partition(|j| matches!(j.task, SetupTask::AfterPayment(_)));
        *queued = rest;
        follow_ups
    };
    let registrar = Registrar { store, providers: &app.providers, queue, events };
    let mut dead = Vec::new();
    for job in jobs {
        let mut done = false;
        for receive in 0..5 {
            if registrar.run(&job, later(from_minute + receive)).await.is_ok() {
                done = true;
                break;
            }
        }
        if !done {
            dead.push(job);
        }
    }
    dead
}

/// What the world does after a failure: later ticks (past the claim leases) and the queue consumers, until
/// nothing is left to do.
async fn settle_down(app: &App, mut minute: i64) {
    for _ in 0..4 {
        minute += cobranca::service::tick::LEASE.num_minutes() + 1;
        let dead = follow_ups(app, app.store.as_ref(), &app.queue, &app.events, minute).await;
        assert!(dead.is_empty(), "no fault left, yet follow-ups died: {dead:?}");
        Tick::new(app.store.as_ref(), &app.queue, &app.events).run(later(minute), Utc::now()).await.unwrap();
        let dead = consume(app, app.store.as_ref(), &app.events, app.queue.drain(), minute).await;
        assert!(dead.is_empty(), "no fault left, yet jobs died: {dead:?}");
    }
}

fn distinct_events(app: &App, kind: &str) -> BTreeSet<String> {
    app.events.events.lock().unwrap().iter().filter(|e| e.kind == kind).map(|e| e.id.clone()).collect()
}

async fn outbox_of(app: &App, charge: &str, step: &str) -> (u64, u64) {
    let entries: Vec<_> = app.store.outbox().await.unwrap().into_iter().filter(|e| e.charge_id.as_str() == charge && e.step == step).collect();
    (entries.len() as u64, entries.iter().map(|e| u64::from(e.deliveries.saturating_sub(1))).sum())
}

async fn pix_charge(app: &App, ruler: Value) -> (String, Value) {
    let (status, charge) = app
        .call(
            "POST",
            "/v1/charges",
            json!({"customer":{"name":"Maria Silva","document":"52998224725","email":"maria@example.com"},"amount":"150.00","due_date":due_in(10),
                   "description":"Mensalidade","payment_methods":["pix"],"ruler": ruler}),
            &[],
        )
        .await;
    assert_eq!(status, 201, "{charge}");
    (charge["id"].as_str().unwrap().to_string(), charge)
}

fn paid_body(id: &str, payment: &str) -> Value {
    json!({"type":"payment.confirmed","data":{"charge_id": id,"amount":"150.00","paid_at": Utc::now().to_rfc3339(),"method":"pix","provider_payment_id": payment}})
}

/// A payment webhook, the process killed at each of its steps in turn, the provider redelivering.
async fn payment_run(crash_at: Option<u64>, f: &mut Figures) -> u64 {
    f.run = format!("crash at {crash_at:?}");
    let app = App::new().await;
    let (id, _) = pix_charge(&app, json!({"send_time":"09:00","steps":[{"step":"on_paid","channels":["email"]}]})).await;
    let plan = crash_at.map(FaultPlan::crash_at).unwrap_or_else(FaultPlan::counting);
    let ports = faulty(&app, &plan);
    let request = signed(&app, "msg_chaos_pay", &paid_body(&id, "E-CHAOS-1"));
    let api = webhook_api(&app, &ports.store, &ports.queue, &ports.events);
    let first = run_until_crash(&plan, api.handle(&request, Utc::now())).await;
    f.run = format!("{} after {:?}", f.run, plan.log());
    if first.as_ref().is_none_or(|r| r.status != 200) {
        // Not acknowledged: the provider delivers again (as providers do until a 2xx).
        let api = webhook_api(&app, app.store.as_ref(), &app.queue, &app.events);
        assert_eq!(api.handle(&request, Utc::now()).await.status, 200);
    } else {
        // Acknowledged: the follow-up runs off the webhook's path, and the process may die there too (the job,
        // never deleted, is received again by `settle_down`).
        let jobs: Vec<PaymentSetupJob> = app.queue.setup_jobs.lock().unwrap().clone();
        let registrar = Registrar { store: &ports.store, providers: &app.providers, queue: &ports.queue, events: &ports.events };
        for job in jobs.iter().filter(|j| matches!(j.task, SetupTask::AfterPayment(_))) {
            let _ = run_until_crash(&plan, registrar.run(job, Utc::now())).await;
        }
        f.run = format!("{} then {:?}", f.run, plan.log());
    }
    let dead = follow_ups(&app, app.store.as_ref(), &app.queue, &app.events, 1).await;
    assert!(dead.is_empty());
    let dead = consume(&app, app.store.as_ref(), &app.events, app.queue.drain(), 1).await;
    assert!(dead.is_empty());
    settle_down(&app, 1).await;

    let charge = cobranca::domain::ids::ChargeId::parse(&id).unwrap();
    let ledger = app.store.ledger_of(&app.merchant_id, &charge).await.unwrap();
    f.count(1, ledger.len() as u64);
    let status = app.store.get_charge(&app.merchant_id, &charge).await.unwrap().unwrap().status;
    f.count(1, u64::from(status == cobranca::domain::charge::ChargeStatus::Paid));
    f.count(1, distinct_events(&app, "PaymentConfirmed").len() as u64);
    let (receipts, resent) = outbox_of(&app, &id, "on_paid").await;
    f.count(1, receipts);
    f.resent += resent;
    f.runs += 1;
    plan.calls()
}

/// Every call a webhook makes before answering is one more chance for a fault to make the provider deliver
/// again: the money goes on the ledger, one job carries the rest off the request path.
#[tokio::test]
async fn a_payment_webhook_is_answered_after_the_fewest_calls() {
    let app = App::new().await;
    let (id, _) = pix_charge(&app, json!({"send_time":"09:00","steps":[{"step":"before_due","days":3,"channels":["email","sms"]},{"step":"on_due","channels":["email"]},{"step":"on_paid","channels":["email"]}]})).await;
    let plan = FaultPlan::counting();
    let ports = faulty(&app, &plan);
    let api = webhook_api(&app, &ports.store, &ports.queue, &ports.events);
    assert_eq!(api.handle(&signed(&app, "msg_fewest", &paid_body(&id, "E-FEWEST")), Utc::now()).await.status, 200);
    let calls = plan.log();
    assert_eq!(
        calls,
        ["charge_owner", "reminders_of", "get_charge", "ledger_of", "append_to_ledger", "enqueue_setup"],
        "a payment webhook reads the charge, writes the ledger and hands the rest off"
    );
}

#[tokio::test]
async fn a_payment_survives_a_crash_at_every_step() {
    let mut f = Figures::new("crash at every step: payment webhook → paid, event, receipt");
    let steps = payment_run(None, &mut Figures::new("dry run")).await;
    for k in 0..steps {
        payment_run(Some(k), &mut f).await;
    }
    report(f);
}

/// A reminder's delivery, the process killed at each of its steps in turn, SQS receiving the message again.
async fn reminder_run(crash_at: Option<u64>, f: &mut Figures) -> u64 {
    f.run = format!("crash at {crash_at:?}");
    let app = App::new().await;
    let (id, created) = pix_charge(&app, json!({"send_time":"10:00","steps":[{"step":"before_due","days":3,"channels":["email"]}]})).await;
    let at: DateTime<Utc> = created["reminders"].as_array().unwrap().iter().find(|r| r["step"] == "before_due").unwrap()["scheduled_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    Tick::new(app.store.as_ref(), &app.queue, &app.events).run(at, Utc::now()).await.unwrap();
    let jobs = app.queue.drain();
    assert_eq!(jobs.len(), 1);

    let plan = crash_at.map(FaultPlan::crash_at).unwrap_or_else(FaultPlan::counting);
    let ports = faulty(&app, &plan);
    let provider = OutboxSender { store: app.store.clone() };
    let delivery = Delivery {
        store: &ports.store,
        sender: &provider,
        outbox: &provider,
        events: &ports.events,
        public_base_url: "https://pay.test",
        merchant_providers: None,
    };
    let first = run_until_crash(&plan, delivery.deliver(&jobs[0], Utc::now())).await;
    f.run = format!("{} after {:?}", f.run, plan.log());
    if !matches!(first, Some(Ok(Delivered::Sent { .. }))) {
        // The message was not deleted: SQS hands it out again, after its backoff.
        let dead = consume(&app, app.store.as_ref(), &app.events, jobs, 1).await;
        assert!(dead.is_empty());
    }
    settle_down(&app, 30).await;

    let (sent, resent) = outbox_of(&app, &id, "before_due").await;
    f.count(1, sent);
    f.resent += resent;
    let told = app
        .events
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.kind == "NotificationSent" && e.charge_id.as_str() == id)
        .map(|e| e.id.clone())
        .collect::<BTreeSet<_>>()
        .len();
    f.count(1, told as u64);
    let record = app.store.notifications_of(&app.merchant_id, &cobranca::domain::ids::ChargeId::parse(&id).unwrap()).await.unwrap();
    f.count(1, record.iter().filter(|r| r.status == cobranca::domain::tracking::MessageStatus::Sent).count() as u64);
    f.runs += 1;
    plan.calls()
}

#[tokio::test]
async fn a_reminder_survives_a_crash_at_every_step() {
    let mut f = Figures::new("crash at every step: reminder → one message, event, record");
    let steps = reminder_run(None, &mut Figures::new("dry run")).await;
    for k in 0..steps {
        reminder_run(Some(k), &mut f).await;
    }
    report(f);
}

/// Creating a charge with an Idempotency-Key, the process killed at each step, the client retrying the key.
async fn creation_run(crash_at: Option<u64>, f: &mut Figures) -> u64 {
    f.run = format!("crash at {crash_at:?}");
    let app = App::new().await;
    let (_, customer) =
        app.call("POST", "/v1/customers", json!({"name":"Maria Silva","document":"52998224725","email":"maria@example.com"}), &[]).await;
    let body = json!({"customer_id": customer["id"], "amount":"150.00","due_date":due_in(10),"description":"Mensalidade","payment_methods":["pix"],
                      "ruler": {"send_time":"10:00","steps":[{"step":"before_due","days":3,"channels":["email"]}]}});
    let plan = crash_at.map(FaultPlan::crash_at).unwrap_or_else(FaultPlan::counting);
    let ports = faulty(&app, &plan);
    let request = |at_minute: i64| {
        let headers = HashMap::from([
            ("authorization".to_string(), format!("Bearer {}", app.key.expose())),
            ("idempotency-key".to_string(), "order-42".to_string()),
        ]);
        (
            ApiRequest { method: "POST".into(), path: "/v1/charges".into(), headers, body: body.to_string().into_bytes(), client_cert: None },
            later(at_minute),
        )
    };
    let api = Api {
        store: &ports.store,
        events: &ports.events,
        queue: &ports.queue,
        providers: &app.providers,
        public_base_url: "https://pay.test",
        webhook_urls: cobranca::service::merchant_webhooks::UrlPolicy { allow_local: true },
        access: Default::default(),
    };
    let (req, at) = request(0);
    let first = run_until_crash(&plan, api.handle(&req, at)).await;
    f.run = format!("{} after {:?}", f.run, plan.log());
    let mut answer = first.filter(|r| r.status < 300);
    // The client saw no answer: it retries with the same key, a little later each time.
    for minute in [1, 2, 5, 10] {
        if answer.is_some() {
            break;
        }
        let (req, at) = request(minute);
        let r = app.api().handle(&req, at).await;
        if r.status < 300 {
            answer = Some(r);
        }
    }
    let answer = answer.expect("the client gets its charge");
    let charge: Value = serde_json::from_str(&answer.body).unwrap();
    settle_down(&app, 20).await;

    let customer_id = cobranca::domain::ids::CustomerId::parse(customer["id"].as_str().unwrap()).unwrap();
    let charges = app.store.charges_of_customer(&app.merchant_id, &customer_id).await.unwrap();
    f.count(1, charges.len() as u64);
    f.count(1, u64::from(charges.first().is_some_and(|c| c.id.as_str() == charge["id"].as_str().unwrap_or_default())));
    f.count(1, distinct_events(&app, "ChargeCreated").len() as u64);
    let reminders = app.store.reminders_of(&app.merchant_id, &charges[0].id).await.unwrap();
    f.count(1, reminders.iter().filter(|r| r.step.name() == "before_due").count() as u64);
    f.runs += 1;
    plan.calls()
}

#[tokio::test]
async fn a_charge_creation_survives_a_crash_at_every_step() {
    let mut f = Figures::new("crash at every step: POST /v1/charges with Idempotency-Key");
    let steps = creation_run(None, &mut Figures::new("dry run")).await;
    for k in 0..steps {
        creation_run(Some(k), &mut f).await;
    }
    report(f);
}

/// A renegotiation of two charges into a three-installment plan, the process killed at each step, the client
/// repeating the request (the plan's id follows from the charges): one plan, three installments, both originals
/// renegotiated into it with their régua stopped.
async fn renegotiation_run(crash_at: Option<u64>, f: &mut Figures) -> u64 {
    f.run = format!("crash at {crash_at:?}");
    let app = App::new().await;
    let (_, customer) =
        app.call("POST", "/v1/customers", json!({"name":"Maria Silva","document":"52998224725","email":"maria@example.com"}), &[]).await;
    let mut originals = Vec::new();
    for amount in ["100.00", "50.01"] {
        let (_, c) = app.call("POST", "/v1/charges", json!({"customer_id": customer["id"], "amount": amount, "due_date": due_in(3), "description": "Mensalidade", "payment_methods": ["pix"]}), &[]).await;
        originals.push(c["id"].as_str().unwrap().to_string());
    }
    let body =
        json!({"customer_id": customer["id"], "charge_ids": originals, "installments": 3, "first_due_date": due_in(10), "payment_methods": ["pix"]});
    let request = || ApiRequest {
        method: "POST".into(),
        path: "/v1/renegotiations".into(),
        headers: HashMap::from([("authorization".to_string(), format!("Bearer {}", app.key.expose()))]),
        body: body.to_string().into_bytes(),
        client_cert: None,
    };
    let plan = crash_at.map(FaultPlan::crash_at).unwrap_or_else(FaultPlan::counting);
    let ports = faulty(&app, &plan);
    let api = Api {
        store: &ports.store,
        events: &ports.events,
        queue: &ports.queue,
        providers: &app.providers,
        public_base_url: "https://pay.test",
        webhook_urls: cobranca::service::merchant_webhooks::UrlPolicy { allow_local: true },
        access: Default::default(),
    };
    let first = run_until_crash(&plan, api.handle(&request(), later(0))).await;
    f.run = format!("{} after {:?}", f.run, plan.log());
    let mut answer = first.filter(|r| r.status < 300);
    for minute in [1, 2, 5] {
        if answer.is_some() {
            break;
        }
        let r = app.api().handle(&request(), later(minute)).await;
        if r.status < 300 {
            answer = Some(r);
        }
    }
    let answer: Value = serde_json::from_str(&answer.expect("the renegotiation goes through").body).unwrap();
    settle_down(&app, 20).await;

    let plans = app.store.merchant_documents(&app.merchant_id, "plan#").await.unwrap();
    f.count(1, plans.len() as u64);
    let customer_id = cobranca::domain::ids::CustomerId::parse(customer["id"].as_str().unwrap()).unwrap();
    let charges = app.store.charges_of_customer(&app.merchant_id, &customer_id).await.unwrap();
    let installments: Vec<_> =
        charges.iter().filter(|c| matches!(c.origin, cobranca::domain::charge::ChargeOrigin::InstallmentPlan { .. })).collect();
    f.count(3, installments.len() as u64);
    let total: i64 = installments.iter().map(|c| c.amount.cents()).sum();
    f.count(15001, total as u64);
    for id in &originals {
        let c = charges.iter().find(|c| c.id.as_str() == id).unwrap();
        f.count(
            1,
            u64::from(
                c.status == cobranca::domain::charge::ChargeStatus::Renegotiated
                    && c.renegotiated_into.as_ref().map(|p| p.as_str()) == answer["id"].as_str(),
            ),
        );
        let planned = app
            .store
            .reminders_of(&app.merchant_id, &c.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| matches!(r.state, cobranca::domain::ruler::ReminderState::Planned))
            .count();
        f.count(0, planned as u64);
    }
    f.runs += 1;
    plan.calls()
}

#[tokio::test]
async fn a_renegotiation_survives_a_crash_at_every_step() {
    let mut f = Figures::new("crash at every step: POST /v1/renegotiations");
    let steps = renegotiation_run(None, &mut Figures::new("dry run")).await;
    for k in 0..steps {
        renegotiation_run(Some(k), &mut f).await;
    }
    report(f);
}

/// Two overdue charges with fine and interest, and the request renegotiating them into three installments.
async fn overdue_pair(app: &App) -> (Vec<String>, ApiRequest) {
    use chrono::TimeZone;
    let (_, customer) =
        app.call("POST", "/v1/customers", json!({"name":"Maria Silva","document":"52998224725","email":"maria@example.com"}), &[]).await;
    let t0 = Utc.with_ymd_and_hms(2028, 3, 1, 12, 0, 0).unwrap();
    let mut originals = Vec::new();
    for (amount, due) in [("100.00", "2028-03-06"), ("50.00", "2028-03-10")] {
        let (_, c) = app
            .call_at(
                "POST",
                "/v1/charges",
                json!({"customer_id": customer["id"], "amount": amount, "due_date": due, "description": "Mensalidade", "payment_methods": ["pix"],
            "late_fees": {"fine": {"kind": "percent", "value": "2"}, "interest": {"kind": "percent_per_month", "value": "1"}}}),
                t0,
            )
            .await;
        originals.push(c["id"].as_str().unwrap().to_string());
    }
    let body = json!({"customer_id": customer["id"], "charge_ids": originals, "installments": 3, "first_due_date": "2028-04-20", "payment_methods": ["pix"]});
    let request = ApiRequest {
        method: "POST".into(),
        path: "/v1/renegotiations".into(),
        headers: HashMap::from([("authorization".to_string(), format!("Bearer {}", app.key.expose()))]),
        body: body.to_string().into_bytes(),
        client_cert: None,
    };
    (originals, request)
}

/// A renegotiation of overdue charges that died after its first installment, retried days later when interest
/// has grown: the retry finishes the plan as first recorded — same total, same split — rather than pricing
/// another or making charges that disagree with it.
#[tokio::test]
async fn a_renegotiation_retried_days_later_finishes_the_plan_first_recorded() {
    use chrono::TimeZone;
    let t1 = Utc.with_ymd_and_hms(2028, 4, 5, 12, 0, 0).unwrap();
    // A dry run on a twin finds the step where the second installment is made.
    let twin = App::new().await;
    let (_, twin_request) = overdue_pair(&twin).await;
    let counting = FaultPlan::counting();
    let ports = faulty(&twin, &counting);
    let api = Api {
        store: &ports.store,
        events: &ports.events,
        queue: &ports.queue,
        providers: &twin.providers,
        public_base_url: "https://pay.test",
        webhook_urls: cobranca::service::merchant_webhooks::UrlPolicy { allow_local: true },
        access: Default::default(),
    };
    let whole: Value = serde_json::from_str(&api.handle(&twin_request, t1).await.body).unwrap();
    let second_installment = counting
        .log()
        .iter()
        .enumerate()
        .filter(|(_, op)| op.as_str() == "create_charge")
        .nth(1)
        .map(|(i, _)| i as u64)
        .expect("a second installment");

    let app = App::new().await;
    let (originals, request) = overdue_pair(&app).await;
    let dies = FaultPlan::crash_at(second_installment);
    let ports = faulty(&app, &dies);
    let api = Api {
        store: &ports.store,
        events: &ports.events,
        queue: &ports.queue,
        providers: &app.providers,
        public_base_url: "https://pay.test",
        webhook_urls: cobranca::service::merchant_webhooks::UrlPolicy { allow_local: true },
        access: Default::default(),
    };
    assert!(run_until_crash(&dies, api.handle(&request, t1)).await.is_none(), "the first try dies");

    // Six days later the debt has grown; the retry finishes the plan of the first try.
    let t2 = t1 + Duration::days(6);
    let (_, grown) = app.call_at("GET", &format!("/v1/charges/{}", originals[0]), Value::Null, t2).await;
    let retry = app.api().handle(&request, t2).await;
    assert_eq!(retry.status, 201, "{}", retry.body);
    let plan: Value = serde_json::from_str(&retry.body).unwrap();
    assert_eq!(plan["amount"], whole["amount"], "priced as on the first try, not as today ({grown})");
    let amounts: Vec<&Value> = plan["installments"].as_array().unwrap().iter().map(|p| &p["amount"]).collect();
    assert_eq!(amounts, whole["installments"].as_array().unwrap().iter().map(|p| &p["amount"]).collect::<Vec<_>>());
    for part in plan["installments"].as_array().unwrap() {
        let (_, c) = app.call_at("GET", &format!("/v1/charges/{}", part["charge_id"].as_str().unwrap()), Value::Null, t2).await;
        assert_eq!(c["amount"], part["amount"], "each installment charges what the plan says");
    }
    for id in &originals {
        let (_, c) = app.call_at("GET", &format!("/v1/charges/{id}"), Value::Null, t2).await;
        assert_eq!((&c["status"], &c["renegotiated_into"]), (&json!("renegotiated"), &plan["id"]));
    }
    assert_eq!(app.store.merchant_documents(&app.merchant_id, "plan#").await.unwrap().len(), 1);
}

/// The scheduled run making a subscription's charge, killed at each step, then the next run: one charge, one
/// ChargeCreated, the subscription moved on to its next cycle.
async fn subscription_run(crash_at: Option<u64>, f: &mut Figures) -> u64 {
    f.run = format!("crash at {crash_at:?}");
    let app = App::new().await;
    let (_, customer) =
        app.call("POST", "/v1/customers", json!({"name":"Maria Silva","document":"52998224725","email":"maria@example.com"}), &[]).await;
    let (status, sub) = app
        .call(
            "POST",
            "/v1/subscriptions",
            json!({"customer_id": customer["id"], "amount": "49.90", "cycle": "monthly", "first_due_date": due_in(20),
        "description": "Plano", "payment_methods": ["pix"], "lead_days": 10}),
            &[],
        )
        .await;
    assert_eq!(status, 201, "{sub}");
    let run_at = later(11 * 24 * 60);
    let plan = crash_at.map(FaultPlan::crash_at).unwrap_or_else(FaultPlan::counting);
    let ports = faulty(&app, &plan);
    let api = Api {
        store: &ports.store,
        events: &ports.events,
        queue: &ports.queue,
        providers: &app.providers,
        public_base_url: "https://pay.test",
        webhook_urls: cobranca::service::merchant_webhooks::UrlPolicy { allow_local: true },
        access: Default::default(),
    };
    let _ = run_until_crash(&plan, api.generate_subscription_charges(run_at)).await;
    f.run = format!("{} after {:?}", f.run, plan.log());
    // The next ticks, minutes later.
    for minute in [1, 2] {
        app.api().generate_subscription_charges(run_at + Duration::minutes(minute)).await.unwrap();
    }
    let customer_id = cobranca::domain::ids::CustomerId::parse(customer["id"].as_str().unwrap()).unwrap();
    let charges = app.store.charges_of_customer(&app.merchant_id, &customer_id).await.unwrap();
    f.count(1, charges.len() as u64);
    f.count(1, distinct_events(&app, "ChargeCreated").len() as u64);
    let id = cobranca::domain::ids::SubscriptionId::parse(sub["id"].as_str().unwrap()).unwrap();
    f.count(1, u64::from(app.store.get_subscription(&app.merchant_id, &id).await.unwrap().unwrap().next_cycle));
    f.runs += 1;
    plan.calls()
}

#[tokio::test]
async fn a_subscription_charge_survives_a_crash_at_every_step() {
    let mut f = Figures::new("crash at every step: subscription charge generation");
    let steps = subscription_run(None, &mut Figures::new("dry run")).await;
    for k in 0..steps {
        subscription_run(Some(k), &mut f).await;
    }
    report(f);
}

/// The waits between a provider's deliveries of one webhook, as providers redeliver until they get a 2xx: at
/// once, then backing off exponentially up to six hours apart, over three days (Stripe's documented window;
/// Svix's Standard Webhooks schedule is 0 s, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h): 20 deliveries.
const REDELIVERY_BACKOFF_SECONDS: [i64; 20] =
    [0, 5, 30, 120, 300, 900, 1800, 3600, 7200, 10_800, 14_400, 18_000, 21_600, 21_600, 21_600, 21_600, 21_600, 21_600, 21_600, 21_600];

/// Whole lives of charges with a share of every AWS call failing (before or after taking effect): clients
/// retry with their keys, providers redeliver, SQS receives again, ticks run on.
async fn faulty_lives(permille: u32, seed: u64, charges: usize, f: &mut Figures) {
    let app = App::new().await;
    let plan = FaultPlan::random(permille, seed);
    let ports = faulty(&app, &plan);
    let api = Api {
        store: &ports.store,
        events: &ports.events,
        queue: &ports.queue,
        providers: &app.providers,
        public_base_url: "https://pay.test",
        webhook_urls: cobranca::service::merchant_webhooks::UrlPolicy { allow_local: true },
        access: Default::default(),
    };
    let mut ids = Vec::new();
    let mut first_reminder: Option<DateTime<Utc>> = None;
    for n in 0..charges {
        let body = json!({"customer":{"name":"Maria Silva","document":"52998224725","email":format!("maria{n}@example.com")},"amount":"150.00","due_date":due_in(10),
                          "description":"Mensalidade","payment_methods":["pix"],
                          "ruler": {"send_time":"10:00","steps":[{"step":"before_due","days":3,"channels":["email"]},{"step":"on_paid","channels":["email"]}]}});
        let mut created = None;
        for attempt in 0..20 {
            let headers = HashMap::from([
                ("authorization".to_string(), format!("Bearer {}", app.key.expose())),
                ("idempotency-key".to_string(), format!("order-{n}")),
            ]);
            let req =
                ApiRequest { method: "POST".into(), path: "/v1/charges".into(), headers, body: body.to_string().into_bytes(), client_cert: None };
            // A retry comes after the first request's lease, as a client's backoff would.
            let r = api.handle(&req, Utc::now() + Duration::seconds(61 * attempt)).await;
            if r.status < 300 {
                created = Some(serde_json::from_str::<Value>(&r.body).unwrap());
                break;
            }
        }
        let charge = created.expect("a client that retries gets its charge");
        let at: DateTime<Utc> = charge["reminders"].as_array().unwrap().iter().find(|r| r["step"] == "before_due").unwrap()["scheduled_at"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        first_reminder = Some(first_reminder.map_or(at, |f| f.min(at)));
        ids.push(charge["id"].as_str().unwrap().to_string());
    }
    // The reminders' day: ticks every few minutes through the faults, the queue consumed with redeliveries.
    let tick = Tick::new(&ports.store, &ports.queue, &ports.events);
    let start = first_reminder.unwrap();
    for minute in (0..120).step_by(5) {
        let _ = tick.run(start + Duration::minutes(minute), Utc::now()).await;
        let dead = consume(&app, &ports.store, &ports.events, app.queue.drain(), minute).await;
        for job in dead {
            app.queue.jobs.lock().unwrap().push_back(job); // back from the dead-letter queue
        }
    }
    // Payments, each webhook delivered until acknowledged.
    let webhooks = webhook_api(&app, &ports.store, &ports.queue, &ports.events);
    for (n, id) in ids.iter().enumerate() {
        let body = paid_body(id, &format!("E-FAULT-{n}"));
        let mut acknowledged = false;
        // As providers redeliver: at once, then backing off over three days, each delivery signed anew.
        let mut at = Utc::now();
        for wait in REDELIVERY_BACKOFF_SECONDS {
            at += Duration::seconds(wait);
            let r = webhooks.handle(&signed_at(&app, &format!("msg_pay_{n}"), &body, at), at).await;
            if r.status == 200 {
                acknowledged = true;
                break;
            }
            if std::env::var("CHAOS_DEBUG").is_ok() {
                eprintln!("webhook {n}: {} {} {:?}", r.status, r.body, plan.log().iter().rev().take(4).collect::<Vec<_>>());
            }
        }
        assert!(acknowledged, "the provider keeps delivering until it gets a 2xx ({} deliveries)", REDELIVERY_BACKOFF_SECONDS.len());
        for job in follow_ups(&app, &ports.store, &ports.queue, &ports.events, 130).await {
            app.queue.setup_jobs.lock().unwrap().push(job); // back from the dead-letter queue
        }
        let dead = consume(&app, &ports.store, &ports.events, app.queue.drain(), 130).await;
        for job in dead {
            app.queue.jobs.lock().unwrap().push_back(job);
        }
    }
    f.faults += plan.injected();
    // The faults pass; what was left is finished by the next ticks and receives.
    settle_down(&app, 150).await;

    for n in 0..charges {
        // One charge per order, however many times the client had to retry.
        let customer = cobranca::domain::ids::CustomerId::derived(&format!("{}/order-{n}/customer", app.merchant_id));
        f.count(1, app.store.charges_of_customer(&app.merchant_id, &customer).await.unwrap().len() as u64);
    }
    f.count(charges as u64, distinct_events(&app, "ChargeCreated").len() as u64);
    for id in &ids {
        let charge = cobranca::domain::ids::ChargeId::parse(id).unwrap();
        f.count(1, app.store.ledger_of(&app.merchant_id, &charge).await.unwrap().len() as u64);
        let (sent, resent) = outbox_of(&app, id, "before_due").await;
        if sent == 0 && std::env::var("CHAOS_DEBUG").is_ok() {
            eprintln!(
                "{id}: {:?}",
                app.store.reminders_of(&app.merchant_id, &charge).await.unwrap().iter().map(|r| (r.id(), r.state.clone())).collect::<Vec<_>>()
            );
        }
        f.count(1, sent);
        f.resent += resent;
        let (receipts, resent) = outbox_of(&app, id, "on_paid").await;
        f.count(1, receipts);
        f.resent += resent;
    }
    f.count(charges as u64, distinct_events(&app, "PaymentConfirmed").len() as u64);
    f.runs += 1;
}

#[tokio::test]
async fn ten_percent_of_aws_calls_failing_loses_and_duplicates_nothing() {
    let mut f = Figures::new("10 % of DynamoDB/SQS/EventBridge calls fail (before/after)");
    let only: Option<u64> = std::env::var("CHAOS_SEED").ok().and_then(|s| s.parse().ok());
    for seed in (0..rounds()).filter(|s| only.is_none_or(|o| o == *s)) {
        faulty_lives(std::env::var("CHAOS_PERMILLE").ok().and_then(|p| p.parse().ok()).unwrap_or(100), seed, 5, &mut f).await;
    }
    report(f);
}

#[tokio::test]
async fn redelivered_webhooks_and_messages_take_effect_once() {
    let mut f = Figures::new("duplicates: each webhook 5× shuffled, each SQS message 2×");
    for seed in 0..rounds() {
        let app = App::new().await;
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(pix_charge(&app, json!({"send_time":"10:00","steps":[{"step":"on_paid","channels":["email"]}]})).await.0);
        }
        let mut deliveries: Vec<ApiRequest> = ids
            .iter()
            .enumerate()
            .flat_map(|(n, id)| {
                let r = signed(&app, &format!("msg_dup_{n}"), &paid_body(id, &format!("E-DUP-{n}")));
                std::iter::repeat_n(r, 5)
            })
            .collect();
        use rand::seq::SliceRandom;
        deliveries.shuffle(&mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed));
        let api = webhook_api(&app, app.store.as_ref(), &app.queue, &app.events);
        for r in &deliveries {
            assert_eq!(api.handle(r, Utc::now()).await.status, 200);
        }
        // Every queued message is received twice, the copies interleaved: the payments' follow-ups first.
        let follow_ups_queued: Vec<PaymentSetupJob> =
            app.queue.setup_jobs.lock().unwrap().iter().filter(|j| matches!(j.task, SetupTask::AfterPayment(_))).cloned().collect();
        app.queue.setup_jobs.lock().unwrap().extend(follow_ups_queued);
        assert!(follow_ups(&app, app.store.as_ref(), &app.queue, &app.events, 1).await.is_empty());
        let jobs = app.queue.drain();
        let twice: Vec<NotificationJob> = jobs.iter().chain(jobs.iter()).cloned().collect();
        let dead = consume(&app, app.store.as_ref(), &app.events, twice, 1).await;
        assert!(dead.is_empty());
        for id in &ids {
            let charge = cobranca::domain::ids::ChargeId::parse(id).unwrap();
            f.count(1, app.store.ledger_of(&app.merchant_id, &charge).await.unwrap().len() as u64);
            let (receipts, resent) = outbox_of(&app, id, "on_paid").await;
            f.count(1, receipts);
            f.resent += resent;
        }
        f.count(ids.len() as u64, distinct_events(&app, "PaymentConfirmed").len() as u64);
        f.runs += 1;
    }
    report(f);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_ticks_and_a_payment_racing_a_reminder_do_not_double_anything() {
    let mut f = Figures::new("races: 4 ticks at one instant; payment vs reminder send");
    for _ in 0..rounds() {
        let app = Arc::new(App::new().await);
        let mut charges = Vec::new();
        for _ in 0..4 {
            charges.push(pix_charge(&app, json!({"send_time":"10:00","steps":[{"step":"before_due","days":3,"channels":["email"]},{"step":"on_paid","channels":["email"]}]})).await);
        }
        let at: DateTime<Utc> = charges[0].1["reminders"].as_array().unwrap().iter().find(|r| r["step"] == "before_due").unwrap()["scheduled_at"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let ticks = (0..4).map(|_| {
            let app = app.clone();
            tokio::spawn(async move { Tick::new(app.store.as_ref(), &app.queue, &app.events).run(at, Utc::now()).await.unwrap().reminders_queued })
        });
        let queued: u32 = futures::future::join_all(ticks).await.into_iter().map(Result::unwrap).sum();
        f.count(charges.len() as u64, u64::from(queued));
        // Each reminder's send races that charge's payment.
        let jobs = app.queue.drain();
        let mut racers = Vec::new();
        for (n, job) in jobs.into_iter().enumerate() {
            let (a, b) = (app.clone(), app.clone());
            let id = job.charge_id.to_string();
            racers.push(tokio::spawn(async move {
                let provider = OutboxSender { store: a.store.clone() };
                let delivery = Delivery {
                    store: a.store.as_ref(),
                    sender: &provider,
                    outbox: &provider,
                    events: &a.events,
                    public_base_url: "https://pay.test",
                    merchant_providers: None,
                };
                let _ = delivery.deliver(&job, Utc::now()).await;
            }));
            racers.push(tokio::spawn(async move {
                let api = webhook_api(&b, b.store.as_ref(), &b.queue, &b.events);
                assert_eq!(api.handle(&signed(&b, &format!("msg_race_{n}"), &paid_body(&id, &format!("E-RACE-{n}"))), Utc::now()).await.status, 200);
            }));
        }
        futures::future::join_all(racers).await;
        settle_down(&app, 5).await;
        for (id, _) in &charges {
            let charge = cobranca::domain::ids::ChargeId::parse(id).unwrap();
            f.count(1, app.store.ledger_of(&app.merchant_id, &charge).await.unwrap().len() as u64);
            // The reminder went out (the send won) or was stopped by the payment: never twice.
            let (sent, resent) = outbox_of(&app, id, "before_due").await;
            f.count(sent.min(1), sent);
            f.resent += resent;
            let (receipts, _) = outbox_of(&app, id, "on_paid").await;
            f.count(1, receipts);
        }
        f.runs += 1;
    }
    report(f);
}

/// SQS refusing every message, as in an outage.
struct QueueDown;

#[async_trait::async_trait]
impl cobranca::ports::queue::JobQueue for QueueDown {
    async fn enqueue(&self, _: &[NotificationJob]) -> Result<(), cobranca::ports::queue::EnqueueError> {
        Err(cobranca::ports::queue::EnqueueError("outage".into()))
    }
    async fn enqueue_setup(&self, _: &[PaymentSetupJob]) -> Result<(), cobranca::ports::queue::EnqueueError> {
        Err(cobranca::ports::queue::EnqueueError("outage".into()))
    }
    async fn enqueue_webhooks(&self, _: &[cobranca::service::merchant_webhooks::WebhookJob]) -> Result<(), cobranca::ports::queue::EnqueueError> {
        Err(cobranca::ports::queue::EnqueueError("outage".into()))
    }
}

#[tokio::test]
async fn a_queue_outage_longer_than_every_attempt_loses_no_message() {
    let mut f = Figures::new("SQS down for 5 leases, then back");
    let app = App::new().await;
    let (id, created) = pix_charge(&app, json!({"send_time":"10:00","steps":[{"step":"before_due","days":3,"channels":["email"]}]})).await;
    let at: DateTime<Utc> = created["reminders"].as_array().unwrap().iter().find(|r| r["step"] == "before_due").unwrap()["scheduled_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // More ticks than the attempts a message has, each claim refused by the queue: no consumer ever saw it.
    let lease = cobranca::service::tick::LEASE.num_minutes() + 1;
    for n in 0..=i64::from(cobranca::service::tick::MAX_ATTEMPTS) + 1 {
        assert!(Tick::new(app.store.as_ref(), &QueueDown, &app.events).run(at + Duration::minutes(n * lease), Utc::now()).await.is_err());
    }
    // The queue is back.
    Tick::new(app.store.as_ref(), &app.queue, &app.events).run(at + Duration::minutes(6 * lease), Utc::now()).await.unwrap();
    assert!(consume(&app, app.store.as_ref(), &app.events, app.queue.drain(), 6 * lease).await.is_empty());
    let (sent, resent) = outbox_of(&app, &id, "before_due").await;
    f.count(1, sent);
    f.resent += resent;
    f.runs += 1;
    report(f);
}

#[tokio::test]
async fn a_poison_message_lands_in_the_dead_letter_queue_and_a_redrive_finishes_it() {
    let mut f = Figures::new("DLQ: a message failing every receive, then redriven");
    for _ in 0..rounds() {
        let app = App::new().await;
        let (id, created) = pix_charge(&app, json!({"send_time":"10:00","steps":[{"step":"before_due","days":3,"channels":["email"]}]})).await;
        let at: DateTime<Utc> = created["reminders"].as_array().unwrap().iter().find(|r| r["step"] == "before_due").unwrap()["scheduled_at"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        Tick::new(app.store.as_ref(), &app.queue, &app.events).run(at, Utc::now()).await.unwrap();
        // Every store call fails while the message is received: five receives, then the dead-letter queue.
        let down = FaultPlan::random(1000, 7);
        let ports = faulty(&app, &down);
        let dead = consume(&app, &ports.store, &ports.events, app.queue.drain(), 1).await;
        f.count(1, dead.len() as u64);
        f.faults += down.injected();
        assert_eq!(outbox_of(&app, &id, "before_due").await.0, 0, "nothing went out while failing");
        // While it waits there, the tick claims it again after each lease and finally gives up on it (those
        // copies die too).
        for claim in 1..=cobranca::service::tick::MAX_ATTEMPTS {
            let minute = i64::from(claim) * (cobranca::service::tick::LEASE.num_minutes() + 1);
            Tick::new(app.store.as_ref(), &app.queue, &app.events).run(at + Duration::minutes(minute), Utc::now()).await.unwrap();
            let copies = app.queue.drain();
            assert!(consume(&app, &ports.store, &ports.events, copies, minute).await.len() <= 1);
        }
        let reminder = app.store.reminders_of(&app.merchant_id, &cobranca::domain::ids::ChargeId::parse(&id).unwrap()).await.unwrap();
        assert!(reminder.iter().any(|r| matches!(r.state, cobranca::domain::ruler::ReminderState::Failed { redrivable: true, .. })), "{reminder:?}");
        // The store is back; the operator redrives the dead-letter queue, as the tick's reason says.
        let left = consume(&app, app.store.as_ref(), &app.events, dead, 10).await;
        assert!(left.is_empty());
        settle_down(&app, 20).await;
        let (sent, resent) = outbox_of(&app, &id, "before_due").await;
        f.count(1, sent);
        f.resent += resent;
        f.runs += 1;
    }
    report(f);
}
