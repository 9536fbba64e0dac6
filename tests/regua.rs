//! The régua against LocalStack: concurrent ticks and missed ticks, through the real functions.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::America::Sao_Paulo;
use cobranca_e2e::{exclusive_ticks, spawn_app_with, TestApp};
use serde_json::{json, Value};

fn today_sp() -> NaiveDate {
    Utc::now().with_timezone(&Sao_Paulo).date_naive()
}

/// A moment nobody else's charges use, so ticks of other tests on the shared table do not blur the counts.
fn unique_minute() -> String {
    let n = (ulid::Ulid::new().random() % 50) as u32;
    format!("{:02}:{:02}", 9 + n / 10, 1 + (n % 10) * 5 + (ulid::Ulid::new().random() % 4) as u32)
}

async fn charge_for_new_customer(app: &TestApp, i: usize, due: NaiveDate) -> Value {
    let (status, customer) = app
        .post("/v1/customers", &json!({"name": format!("Cliente {i}"), "document":"529.982.247-25", "email": format!("cliente{i}@example.com")}))
        .await;
    assert_eq!(status, 201, "{customer}");
    let (status, charge) = app
        .post("/v1/charges", &json!({"customer_id": customer["id"], "amount":"50.00", "due_date": due.to_string(), "description":"Mensalidade", "payment_methods":["pix"]}))
        .await;
    assert_eq!(status, 201, "{charge}");
    charge
}

async fn schedule(app: &TestApp, charge: &Value) -> Vec<Value> {
    let (status, s) = app.get(&format!("/v1/charges/{}/schedule", charge["id"].as_str().unwrap())).await;
    assert_eq!(status, 200, "{s}");
    s["schedule"].as_array().unwrap().clone()
}

#[tokio::test]
async fn four_concurrent_ticks_for_one_instant_send_every_reminder_once() {
    let Some(app) = spawn_app_with(4) else { return };
    let _only_our_ticks = exclusive_ticks().await;
    let (status, _) =
        app.put("/v1/ruler", &json!({"send_time": unique_minute(), "steps":[{"step":"before_due","days":5,"channels":["email"]}]})).await;
    assert_eq!(status, 200);
    let due = today_sp() + Duration::days(12);
    let mut charges = Vec::new();
    for i in 0..12 {
        charges.push(charge_for_new_customer(&app, i, due).await);
    }
    let at = charges[0]["reminders"][0]["scheduled_at"].as_str().unwrap().to_string();
    assert!(charges.iter().all(|c| c["reminders"][0]["scheduled_at"] == at.as_str()));

    let ticks = futures_join4(app.tick(&at), app.tick(&at), app.tick(&at), app.tick(&at)).await;
    let queued: u64 = ticks.iter().map(|t| t["reminders_sent"].as_u64().unwrap()).sum();
    assert!(queued >= 12, "{ticks:?}");
    let claims_lost: u64 = ticks.iter().map(|t| t["tick"]["claims_lost"].as_u64().unwrap()).sum();
    eprintln!("4 concurrent ticks: {queued} queued, {claims_lost} claims lost to another tick");

    for c in &charges {
        let outbox = app.outbox_for(c["id"].as_str().unwrap()).await;
        assert_eq!(outbox.len(), 1, "{outbox:?}");
        assert_eq!(outbox[0]["deliveries"], 1, "duplicate send: {outbox:?}");
    }
}

async fn futures_join4<F: std::future::Future<Output = Value>>(a: F, b: F, c: F, d: F) -> Vec<Value> {
    let (a, b, c, d) = tokio::join!(a, b, c, d);
    vec![a, b, c, d]
}

#[tokio::test]
async fn a_tick_after_three_missed_days_catches_up_without_a_pile_of_late_messages() {
    let Some(app) = spawn_app_with(2) else { return };
    let _only_our_ticks = exclusive_ticks().await;
    let (status, _) = app
        .put(
            "/v1/ruler",
            &json!({"send_time": unique_minute(), "steps":[
                {"step":"before_due","days":1,"channels":["email"]},
                {"step":"on_due","channels":["email"]},
                {"step":"after_due","first_after_days":1,"every_days":1,"max_times":6,"channels":["email"]}
            ]}),
        )
        .await;
    assert_eq!(status, 200);
    // A Wednesday whose following days are plain working days (so the repeats fall on consecutive days),
    // found by asking the preview rather than by a holiday table of the test's own.
    let mut due = today_sp() + Duration::days(8);
    loop {
        if chrono::Datelike::weekday(&due) == chrono::Weekday::Wed {
            let (_, p) = app
                .post("/v1/ruler/preview", &json!({"customer": {"name":"X Y","document":"52998224725","email":"x@example.com"}, "amount":"1.00", "due_date": due.to_string()}))
                .await;
            let days: Vec<NaiveDate> = p["schedule"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["step"] == "after_due")
                .take(3)
                .map(|e| e["at"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap().with_timezone(&Sao_Paulo).date_naive())
                .collect();
            if days == [due + Duration::days(1), due + Duration::days(2), due + Duration::days(3)] {
                break;
            }
        }
        due += Duration::days(1);
    }
    let charge = charge_for_new_customer(&app, 0, due).await;
    let plan = schedule(&app, &charge).await;
    let at = |step: &str, n: usize| -> DateTime<Utc> {
        plan.iter().filter(|e| e["step"] == step).nth(n).unwrap()["at"].as_str().unwrap().parse().unwrap()
    };

    app.tick(&at("before_due", 0).to_rfc3339()).await;
    // The ticks of the due day and the next two days never run; the next one comes on the third day after.
    // Minutes after it, not an hour: the third day can be a Saturday, whose contact hours end at 14:00, and a
    // send time of 13:xx plus an hour would rightly wait for Monday.
    let late = at("after_due", 2) + Duration::minutes(5);
    let report = app.tick(&late.to_rfc3339()).await;
    assert!(report["charges_marked_overdue"].as_u64().unwrap() >= 1, "{report}");

    let (_, now) = app.get(&format!("/v1/charges/{}", charge["id"].as_str().unwrap())).await;
    assert_eq!(now["status"], "overdue");
    let outbox = app.outbox_for(charge["id"].as_str().unwrap()).await;
    let sent: Vec<&str> = outbox.iter().map(|e| e["reminder_id"].as_str().unwrap()).collect();
    assert_eq!(sent, vec!["before_due_1d.0.email", "after_due.2.email"], "one catch-up message, the current one");
    let after = schedule(&app, &charge).await;
    let state = |id: &str| {
        after
            .iter()
            .find(|e| e["id"] == id)
            .map(|e| (e["state"].as_str().unwrap().to_string(), e["reason"].as_str().unwrap_or("").to_string()))
            .unwrap()
    };
    assert_eq!(state("on_due.0.email").0, "skipped");
    assert!(state("on_due.0.email").1.contains("due date"));
    assert_eq!(state("after_due.0.email").0, "skipped");
    assert_eq!(state("after_due.1.email").0, "skipped");
    assert_eq!(state("after_due.3.email").0, "planned");
}

/// ruler-tick, the real function against LocalStack's DynamoDB, makes a subscription's charge on its day
/// (lead_days before it falls due) from the sparse generation index, once however often it runs.
#[tokio::test]
async fn ruler_tick_makes_a_subscriptions_charge_on_its_day_once() {
    let Some(app) = spawn_app_with(1) else { return };
    let _only_our_ticks = exclusive_ticks().await;
    let (status, customer) =
        app.post("/v1/customers", &json!({"name": "Assinante", "document": "529.982.247-25", "email": "assinante@example.com"})).await;
    assert_eq!(status, 201, "{customer}");
    let first_due = today_sp() + Duration::days(15);
    let (status, sub) = app
        .post(
            "/v1/subscriptions",
            &json!({"customer_id": customer["id"], "amount": "39.90", "cycle": "monthly", "first_due_date": first_due.to_string(),
            "description": "Plano", "payment_methods": ["pix"], "lead_days": 10}),
        )
        .await;
    assert_eq!(status, 201, "{sub}");
    assert_eq!(sub["next_generation_date"], json!((first_due - Duration::days(10)).to_string()));
    let id = sub["id"].as_str().unwrap();

    // The day before: nothing. On the day, at 09:00 in São Paulo: the charge, and again nothing more.
    let at = |date: NaiveDate| date.and_hms_opt(12, 0, 0).unwrap().and_utc().to_rfc3339();
    app.tick(&at(first_due - Duration::days(11))).await;
    let (_, before) = app.get(&format!("/v1/subscriptions/{id}")).await;
    assert_eq!(before["charges_generated"], json!(0), "{before}");
    let tick = app.tick(&at(first_due - Duration::days(10))).await;
    assert!(tick["tick"]["subscriptions"]["charges_generated"].as_u64().unwrap() >= 1, "{tick}");
    app.tick(&at(first_due - Duration::days(10))).await;
    let (_, after) = app.get(&format!("/v1/subscriptions/{id}")).await;
    assert_eq!((&after["charges_generated"], after["charges"].as_array().unwrap().len()), (&json!(1), 1), "{after}");
    let charge_id = after["charges"][0]["charge_id"].as_str().unwrap();
    let (_, charge) = app.get(&format!("/v1/charges/{charge_id}")).await;
    assert_eq!(
        (&charge["amount"], &charge["due_date"], &charge["origin"]["subscription_id"]),
        (&json!("39.90"), &json!(first_due.to_string()), &json!(id))
    );
    assert_eq!(
        after["next_generation_date"],
        json!((cobranca::domain::recurrence::nth_due(first_due, cobranca::domain::recurrence::Cycle::Monthly, 1) - Duration::days(10)).to_string())
    );
}
