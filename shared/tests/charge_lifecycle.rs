//! The whole chain on the in-memory adapters: API → store → tick → queue → delivery → outbox, and a signed
//! payment webhook that stops the régua. The same story runs over HTTP against LocalStack in tests/.

mod support;

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use cobranca::adapters::channels::outbox::OutboxSender;
use cobranca::domain::calendar;
use cobranca::domain::standard_webhooks::WebhookSecret;
use cobranca::http::api::provider_webhooks::WebhookApi;
use cobranca::http::api::ApiRequest;
use cobranca::ports::store::*;
use cobranca::service::delivery::Delivery;
use cobranca::service::settlement::Settlement;
use cobranca::service::tick::Tick;
use serde_json::{json, Value};
use support::{due_in, App};

#[tokio::test]
async fn a_charge_is_reminded_paid_and_then_left_alone() {
    let app = App::new().await;
    let (status, customer) = app
        .call("POST", "/v1/customers", json!({"name":"Maria Silva","document":"529.982.247-25","email":"maria@example.com","phone":"+5511987654321","address":{"street":"Av. Paulista","number":"1000","district":"Bela Vista","city":"São Paulo","state":"SP","cep":"01310-100"}}), &[])
        .await;
    assert_eq!(status, 201, "{customer}");
    let due = due_in(20);
    let (status, charge) = app
        .call("POST", "/v1/charges", json!({"customer_id": customer["id"], "amount":"150.00","due_date": due,"description":"Mensalidade","payment_methods":["pix","boleto","credit_card"],"max_installments":12}), &[])
        .await;
    assert_eq!(status, 201, "{charge}");
    assert_eq!(charge["status"], "pending");
    assert_eq!(charge["amount"], "150.00");
    let id = charge["id"].as_str().unwrap().to_string();

    // Five days before the due date, at the planned time, the reminder goes out.
    let before = charge["reminders"].as_array().unwrap().iter().find(|r| r["step"] == "before_due").unwrap();
    let at: DateTime<Utc> = before["scheduled_at"].as_str().unwrap().parse().unwrap();
    app.tick_and_deliver(at).await;
    let outbox = app.store.outbox().await.unwrap();
    let reminder = outbox.iter().find(|e| e.charge_id.as_str() == id && e.step == "before_due").expect("before_due reminder delivered");
    assert_eq!(reminder.recipient, "maria@example.com");
    assert!(reminder.text.contains("R$ 150,00"), "{}", reminder.text);
    assert!(reminder.text.contains("CNPJ 11.222.333/0001-81"));

    // The payment arrives, signed; the charge is paid and a receipt goes out.
    let paid = json!({"type":"payment.confirmed","data":{"charge_id": id,"amount":"150.00","paid_at": Utc::now().to_rfc3339(),"method":"pix","provider_payment_id":"E2E0001"}});
    let (status, body) = app.webhook("msg_1", &paid).await;
    assert_eq!((status, body["result"].as_str()), (200, Some("applied")), "{body}");
    let (_, after) = app.call("GET", &format!("/v1/charges/{id}"), Value::Null, &[]).await;
    assert_eq!(after["status"], "paid");
    assert!(app.outbox_steps(&id).await.contains(&"on_paid".to_string()));

    // The same webhook again changes nothing.
    let sent_before = app.store.outbox().await.unwrap().len();
    let (status, body) = app.webhook("msg_1", &paid).await;
    assert_eq!((status, body["result"].as_str()), (200, Some("duplicate")));
    assert_eq!(app.store.outbox().await.unwrap().len(), sent_before);

    // After the due date nothing more is sent.
    let due_date: chrono::NaiveDate = due.parse().unwrap();
    let later = calendar::local_instant(due_date + Duration::days(10), NaiveTime::from_hms_opt(12, 0, 0).unwrap());
    let report = app.tick_and_deliver(later).await;
    assert_eq!(report["reminders_queued"], 0, "{report}");
    assert_eq!(app.store.outbox().await.unwrap().len(), sent_before);
    let kinds: Vec<String> = app.events.events.lock().unwrap().iter().map(|e| e.kind.to_string()).collect();
    assert_eq!(kinds.iter().filter(|k| *k == "PaymentConfirmed").count(), 2, "re-published with a stable id on redelivery: {kinds:?}");
}

#[tokio::test]
async fn an_unpaid_charge_becomes_overdue_and_gets_weekly_reminders() {
    let app = App::new().await;
    let due = due_in(3);
    let (status, charge) = app
        .call("POST", "/v1/charges", json!({"customer": {"name":"João Souza","document":"11.222.333/0001-81","email":"joao@example.com","address":{"street":"Rua da Aurora","number":"325","district":"Boa Vista","city":"Recife","state":"PE","cep":"50050-000"}}, "amount":"99.90","due_date": due,"description":"Plano anual","payment_methods":["boleto"]}), &[])
        .await;
    assert_eq!(status, 201, "{charge}");
    let id = charge["id"].as_str().unwrap();
    let due_date: chrono::NaiveDate = due.parse().unwrap();
    let first_after = calendar::effective_due_date(due_date) + Duration::days(1);
    let report = app.tick_and_deliver(calendar::local_instant(first_after, NaiveTime::from_hms_opt(10, 0, 0).unwrap())).await;
    assert_eq!(report["charges_marked_overdue"], 1, "{report}");
    let (_, now) = app.call("GET", &format!("/v1/charges/{id}"), Value::Null, &[]).await;
    assert_eq!(now["status"], "overdue");
    let steps = app.outbox_steps(id).await;
    assert!(steps.contains(&"after_due".to_string()), "{steps:?}");
    assert!(app.events.events.lock().unwrap().iter().any(|e| e.kind == "ChargeOverdue"));
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_naming_the_field() {
    let app = App::new().await;
    let cases = [
        (json!({"name":"Maria","document":"529.982.247-26"}), "/v1/customers", 422, "document"),
        (json!({"name":"Maria","document":"52998224725","email":"nope"}), "/v1/customers", 422, "email"),
        (
            json!({"customer":{"name":"Maria","document":"52998224725"},"amount":"150.005","due_date":due_in(5),"description":"x","payment_methods":["pix"]}),
            "/v1/charges",
            422,
            "amount",
        ),
        (
            json!({"customer":{"name":"Maria","document":"52998224725"},"amount":"0.00","due_date":due_in(5),"description":"x","payment_methods":["pix"]}),
            "/v1/charges",
            422,
            "amount",
        ),
        (
            json!({"customer":{"name":"Maria","document":"52998224725"},"amount":"-5.00","due_date":due_in(5),"description":"x","payment_methods":["pix"]}),
            "/v1/charges",
            422,
            "amount",
        ),
        (
            json!({"customer":{"name":"Maria","document":"52998224725"},"amount":150.0,"due_date":due_in(5),"description":"x","payment_methods":["pix"]}),
            "/v1/charges",
            422,
            "amount",
        ),
        (
            json!({"customer":{"name":"Maria","document":"52998224725"},"amount":"1.00","due_date":due_in(-1),"description":"x","payment_methods":["pix"]}),
            "/v1/charges",
            422,
            "due_date",
        ),
        (
            json!({"customer":{"name":"Maria","document":"52998224725"},"amount":"1.00","due_date":due_in(5),"description":"x","payment_methods":["cheque"]}),
            "/v1/charges",
            422,
            "payment_methods",
        ),
        (
            json!({"customer":{"name":"Maria","document":"00000000000"},"amount":"1.00","due_date":due_in(5),"description":"x","payment_methods":["pix"]}),
            "/v1/charges",
            422,
            "customer.document",
        ),
    ];
    for (body, path, status, field) in cases {
        let (got, err) = app.call("POST", path, body.clone(), &[]).await;
        assert_eq!((got, err["error"]["field"].as_str()), (status, Some(field)), "{body} → {err}");
        assert!(err["error"]["message"].as_str().unwrap().contains(" / "), "Portuguese / English message: {err}");
    }
    let req = ApiRequest {
        method: "POST".into(),
        path: "/v1/charges".into(),
        headers: HashMap::from([("authorization".into(), format!("Bearer {}", app.key.expose()))]),
        body: b"{not json".to_vec(),
        client_cert: None,
    };
    assert_eq!(app.api().handle(&req, Utc::now()).await.status, 400);
    let req = ApiRequest {
        method: "GET".into(),
        path: "/v1/charges/chg_x".into(),
        headers: HashMap::from([("authorization".into(), "Bearer ck_wrong".into())]),
        body: vec![],
        client_cert: None,
    };
    assert_eq!(app.api().handle(&req, Utc::now()).await.status, 401);
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_response_and_refuses_another_body() {
    let app = App::new().await;
    let body = json!({"customer":{"name":"Maria Silva","document":"52998224725","email":"maria@example.com"},"amount":"10.00","due_date":due_in(5),"description":"x","payment_methods":["pix"]});
    let (s1, first) = app.call("POST", "/v1/charges", body.clone(), &[("idempotency-key", "order-42")]).await;
    let (s2, again) = app.call("POST", "/v1/charges", body.clone(), &[("idempotency-key", "order-42")]).await;
    assert_eq!((s1, s2), (201, 201));
    assert_eq!(first, again);
    let mut other = body.clone();
    other["amount"] = json!("11.00");
    let (s3, err) = app.call("POST", "/v1/charges", other, &[("idempotency-key", "order-42")]).await;
    assert_eq!((s3, err["error"]["code"].as_str()), (409, Some("idempotency_key_reused")));
}

/// A POST with an Idempotency-Key, as if made at `at`.
async fn keyed_call_at(app: &App, path: &str, body: Value, key: &str, at: DateTime<Utc>) -> (u16, Value) {
    let headers =
        HashMap::from([("authorization".to_string(), format!("Bearer {}", app.key.expose())), ("idempotency-key".to_string(), key.to_string())]);
    let req = ApiRequest { method: "POST".into(), path: path.into(), headers, body: body.to_string().into_bytes(), client_cert: None };
    let r = app.api().handle(&req, at).await;
    (r.status, serde_json::from_str(&r.body).unwrap())
}

#[tokio::test]
async fn an_idempotency_key_is_remembered_after_the_replay_window_and_overwrites_nothing() {
    let app = App::new().await;
    let maria = json!({"name":"Maria Silva","document":"52998224725","email":"maria@example.com"});
    let body = json!({"customer": maria,"amount":"10.00","due_date":due_in(5),"description":"x","payment_methods":["pix"]});
    let key = [("idempotency-key", "order-43")];
    let (s1, first) = app.call("POST", "/v1/charges", body.clone(), &key).await;
    assert_eq!(s1, 201, "{first}");
    let later = Utc::now() + Duration::days(3);

    // Another body, days later: refused, and neither the charge nor its customer changed.
    let mut other = body.clone();
    other["amount"] = json!("99.00");
    other["customer"] = json!({"name":"Outra Pessoa","document":"11144477735","email":"outra@example.com"});
    let (s2, err) = keyed_call_at(&app, "/v1/charges", other, "order-43", later).await;
    assert_eq!((s2, err["error"]["code"].as_str()), (409, Some("idempotency_key_reused")), "{err}");
    let (_, charge) = app.call_at("GET", &format!("/v1/charges/{}", first["id"].as_str().unwrap()), Value::Null, later).await;
    assert_eq!(charge["amount"], "10.00");
    let (_, customer) = app.call("GET", &format!("/v1/customers/{}", first["customer_id"].as_str().unwrap()), Value::Null, &[]).await;
    assert_eq!((customer["name"].as_str(), customer["email"].as_str()), (Some("Maria Silva"), Some("maria@example.com")));

    // The same body, days later: the same charge, as it is now.
    let (s3, again) = keyed_call_at(&app, "/v1/charges", body.clone(), "order-43", later).await;
    assert_eq!((s3, &again["id"]), (201, &first["id"]));
}

#[tokio::test]
async fn a_replay_after_erasure_shows_the_erased_customer() {
    let app = App::new().await;
    let body = json!({"name":"Maria Silva","document":"52998224725","email":"maria@example.com","phone":"+5511987654321"});
    let key = [("idempotency-key", "cus-1")];
    let (s1, first) = app.call("POST", "/v1/customers", body.clone(), &key).await;
    assert_eq!(s1, 201, "{first}");
    let (status, _) = app.call("DELETE", &format!("/v1/customers/{}/personal-data", first["id"].as_str().unwrap()), Value::Null, &[]).await;
    assert_eq!(status, 200);
    let (s2, again) = app.call("POST", "/v1/customers", body, &key).await;
    assert_eq!((s2, &again["id"]), (201, &first["id"]));
    let text = again.to_string();
    assert!(!text.contains("Maria") && !text.contains("maria@example.com") && !text.contains("987654321"), "{again}");
}

#[tokio::test]
async fn a_keyed_request_run_again_does_not_overwrite_its_inline_customer() {
    // The customer's e-mail is changed after the charge; the same request again, days later, must not put
    // the old one back.
    let app = App::new().await;
    let body = json!({"customer":{"name":"Maria Silva","document":"52998224725","email":"maria@example.com"},"amount":"10.00","due_date":due_in(5),"description":"x","payment_methods":["pix"]});
    let key = [("idempotency-key", "order-44")];
    let (s1, first) = app.call("POST", "/v1/charges", body.clone(), &key).await;
    assert_eq!(s1, 201, "{first}");
    let customer_id = first["customer_id"].as_str().unwrap().to_string();
    let (status, _) = app.call("PATCH", &format!("/v1/customers/{customer_id}"), json!({"email": "nova@example.com"}), &[]).await;
    assert_eq!(status, 200);
    let (s2, again) = keyed_call_at(&app, "/v1/charges", body, "order-44", Utc::now() + Duration::days(2)).await;
    assert_eq!((s2, &again["id"]), (201, &first["id"]));
    let (_, customer) = app.call("GET", &format!("/v1/customers/{customer_id}"), Value::Null, &[]).await;
    assert_eq!(customer["email"], "nova@example.com", "the replay did not put the old e-mail back");
}

#[tokio::test]
async fn forged_stale_and_unknown_webhooks_change_nothing() {
    let app = App::new().await;
    let body = json!({"type":"payment.confirmed","data":{"charge_id":"chg_doesnotexist","amount":"150.00","paid_at": Utc::now().to_rfc3339(),"method":"pix","provider_payment_id":"E1"}});
    // Unknown charge: kept as unmatched, 202.
    let (status, r) = app.webhook("msg_u", &body).await;
    assert_eq!((status, r["result"].as_str()), (202, Some("unmatched")));
    assert_eq!(app.store.unmatched("cobranca").await.unwrap().len(), 1);

    let raw = body.to_string();
    let (other_secret, _) = WebhookSecret::generate();
    let ts = Utc::now().timestamp();
    let api = WebhookApi {
        settlement: Settlement { store: app.store.as_ref(), queue: &app.queue, events: &app.events },
        pix_auth: None,
        acquirers: None,
        channel_callbacks: None,
        secrets: std::slice::from_ref(&app.secret),
    };
    for (sig, ts) in [(other_secret.sign("msg_f", ts, raw.as_bytes()), ts), (app.secret.sign("msg_f", ts - 600, raw.as_bytes()), ts - 600)] {
        let headers = HashMap::from([
            ("webhook-id".to_string(), "msg_f".to_string()),
            ("webhook-timestamp".to_string(), ts.to_string()),
            ("webhook-signature".to_string(), sig),
        ]);
        let req =
            ApiRequest { method: "POST".into(), path: "/v1/webhooks/cobranca".into(), headers, body: raw.clone().into_bytes(), client_cert: None };
        assert_eq!(api.handle(&req, Utc::now()).await.status, 401);
    }
    assert_eq!(app.store.unmatched("cobranca").await.unwrap().len(), 1);

    // Replays: a captured delivery sent again changes nothing; its signature on another body is refused; and
    // once outside the 5-minute window it is refused as stale.
    let (_, charge) = app
        .call("POST", "/v1/charges", json!({"customer":{"name":"Ana Lima","document":"52998224725"},"amount":"42.00","due_date":due_in(15),"description":"Aula","payment_methods":["pix"]}), &[])
        .await;
    let id = charge["id"].as_str().unwrap();
    let paid = json!({"type":"payment.confirmed","data":{"charge_id": id,"amount":"42.00","paid_at": Utc::now().to_rfc3339(),"method":"pix","provider_payment_id":"E-REPLAY"}}).to_string();
    let signed = |body: &str, ts: i64, sig: &str| ApiRequest {
        method: "POST".into(),
        path: "/v1/webhooks/cobranca".into(),
        headers: HashMap::from([
            ("webhook-id".to_string(), "msg_r".to_string()),
            ("webhook-timestamp".to_string(), ts.to_string()),
            ("webhook-signature".to_string(), sig.to_string()),
        ]),
        body: body.as_bytes().to_vec(),
        client_cert: None,
    };
    let sig = app.secret.sign("msg_r", ts, paid.as_bytes());
    assert_eq!(api.handle(&signed(&paid, ts, &sig), Utc::now()).await.status, 200);
    let again = api.handle(&signed(&paid, ts, &sig), Utc::now()).await;
    assert!(again.body.contains("duplicate"), "{}", again.body);
    let tampered = paid.replace("42.00", "4200.00");
    assert_eq!(api.handle(&signed(&tampered, ts, &sig), Utc::now()).await.status, 401);
    assert_eq!(api.handle(&signed(&paid, ts, &sig), Utc::now() + chrono::Duration::minutes(6)).await.status, 401);
    let ledger = app.store.ledger_of(&app.merchant_id, &cobranca::domain::ids::ChargeId::parse(id).unwrap()).await.unwrap();
    assert_eq!(ledger.len(), 1, "one payment whatever was replayed");
}

#[tokio::test]
async fn overlapping_ticks_and_redelivered_messages_send_each_reminder_once() {
    let app = App::new().await;
    let (_, charge) = app
        .call("POST", "/v1/charges", json!({"customer":{"name":"Ana Lima","document":"52998224725","email":"ana@example.com"},"amount":"42.00","due_date":due_in(15),"description":"Aula","payment_methods":["pix"]}), &[])
        .await;
    let id = charge["id"].as_str().unwrap().to_string();
    app.drain().await; // the creation notice
    let before = charge["reminders"].as_array().unwrap().iter().find(|r| r["step"] == "before_due").unwrap();
    let at: DateTime<Utc> = before["scheduled_at"].as_str().unwrap().parse().unwrap();

    // Two ticks for the same instant, concurrently: one claim wins.
    let tick = Tick::new(app.store.as_ref(), &app.queue, &app.events);
    let (a, b) = tokio::join!(tick.run(at, Utc::now()), tick.run(at, Utc::now()));
    let queued = a.unwrap().reminders_queued + b.unwrap().reminders_queued;
    let mut jobs = app.queue.drain();
    assert_eq!(queued as usize, jobs.len());
    let mut ids: Vec<String> = jobs.iter().map(|j| j.reminder_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), jobs.len(), "a reminder was queued twice: {jobs:?}");
    jobs.retain(|j| j.reminder_id.starts_with("before_due"));
    assert_eq!(jobs.len(), 1);

    // The queue delivers the message twice (at-least-once), even concurrently: one send.
    let sender = OutboxSender { store: app.store.clone() };
    let delivery = Delivery {
        store: app.store.as_ref(),
        sender: &sender,
        outbox: &sender,
        events: &app.events,
        public_base_url: "https://pay.test",
        merchant_providers: None,
    };
    let (first, second) = tokio::join!(delivery.deliver(&jobs[0], Utc::now()), delivery.deliver(&jobs[0], Utc::now()));
    // The copy that finds the other one mid-send asks the queue to bring it back later.
    let sent = [first, second].iter().filter(|d| matches!(d, Ok(cobranca::service::delivery::Delivered::Sent { .. }))).count();
    assert_eq!(sent, 1);
    let again = delivery.deliver(&jobs[0], Utc::now()).await.unwrap();
    assert!(matches!(again, cobranca::service::delivery::Delivered::NotSent { .. }));
    // Merchants hear of the send under one event id (notification.sent), however often it is told.
    let told: std::collections::BTreeSet<String> = app
        .events
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.kind == "NotificationSent" && e.data["reminder_id"] == jobs[0].reminder_id)
        .map(|e| e.id.clone())
        .collect();
    assert_eq!(told.len(), 1);
    assert_eq!(app.outbox_steps(&id).await.iter().filter(|s| *s == "before_due").count(), 1);
    assert!(app.store.outbox().await.unwrap().iter().all(|e| e.deliveries == 1), "no duplicate reached the channel");
}

#[tokio::test]
async fn a_tick_after_missed_days_catches_up_but_skips_what_lost_its_meaning() {
    let app = App::new().await;
    let due = due_in(8);
    let (_, charge) = app
        .call("POST", "/v1/charges", json!({"customer":{"name":"Ana Lima","document":"52998224725","email":"ana@example.com"},"amount":"42.00","due_date":due,"description":"Aula","payment_methods":["pix"]}), &[])
        .await;
    let id = charge["id"].as_str().unwrap().to_string();
    app.drain().await;
    // No tick ran for days; the first one comes an hour after the first reminder past the due date.
    let first_after = charge["reminders"].as_array().unwrap().iter().find(|r| r["step"] == "after_due").unwrap();
    let late = first_after["scheduled_at"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap() + Duration::hours(1);
    let report = app.tick_and_deliver(late).await;
    assert_eq!(report["charges_marked_overdue"], 1, "{report}");
    let steps = app.outbox_steps(&id).await;
    assert!(!steps.contains(&"before_due".to_string()), "a 'before due' found after the due date is skipped: {steps:?}");
    assert!(steps.contains(&"after_due".to_string()), "{steps:?}");
    let (_, after) = app.call("GET", &format!("/v1/charges/{id}"), Value::Null, &[]).await;
    let skipped = after["reminders"].as_array().unwrap().iter().find(|r| r["step"] == "before_due").unwrap();
    assert_eq!(skipped["state"], "skipped");
    assert!(skipped["reason"].as_str().unwrap().contains("due date"));
}

#[tokio::test]
async fn a_tick_with_more_work_than_its_budget_asks_for_a_continuation_that_finishes_it() {
    let app = App::new().await;
    let due = due_in(9);
    let mut charges = Vec::new();
    for i in 0..7 {
        let (_, c) = app
            .call("POST", "/v1/charges", json!({"customer":{"name":format!("Cliente {i}"),"document":"52998224725","email":format!("c{i}@example.com")},"amount":"10.00","due_date":due,"description":"x","payment_methods":["pix"]}), &[])
            .await;
        charges.push(c);
    }
    app.drain().await;
    let at: DateTime<Utc> = charges[0]["reminders"].as_array().unwrap().iter().find(|r| r["step"] == "before_due").unwrap()["scheduled_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut tick = Tick::new(app.store.as_ref(), &app.queue, &app.events);
    tick.max_items = 3;
    let mut runs = 0;
    loop {
        let report = tick.run(at, Utc::now()).await.unwrap();
        runs += 1;
        if !report.more {
            break;
        }
        assert_eq!(app.events.continuations.lock().unwrap().last(), Some(&at), "continuation asked with the same time");
    }
    assert!(runs >= 3, "{runs} runs");
    app.drain().await;
    for c in &charges {
        assert!(app.outbox_steps(c["id"].as_str().unwrap()).await.contains(&"before_due".to_string()));
    }
}

#[tokio::test]
async fn a_delayed_tick_with_an_older_time_never_moves_the_watermark_back() {
    let app = App::new().await;
    let tick = Tick::new(app.store.as_ref(), &app.queue, &app.events);
    let wall = Utc::now();
    let recent = wall - Duration::minutes(1);
    tick.run(recent, wall).await.unwrap();
    assert_eq!(app.store.tick_watermark().await.unwrap(), Some(recent));
    // EventBridge delivers an event from an hour ago late: it is run, and the watermark stays where it was.
    let report = tick.run(recent - Duration::hours(1), wall).await.unwrap();
    assert_eq!(report.failures, 0);
    assert_eq!(app.store.tick_watermark().await.unwrap(), Some(recent));
}
