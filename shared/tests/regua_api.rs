//! The régua as merchants configure it: defaults, overrides, opt-out, previews and the daily cap.

mod support;

use chrono::{DateTime, Utc};
use cobranca::domain::ids::CustomerId;
use cobranca::ports::store::*;
use cobranca::service::schedule::ReplanScope;
use cobranca::service::tick::Tick;
use serde_json::{json, Value};
use support::{due_in, App};

fn steps_of(schedule: &Value) -> Vec<(String, String, String)> {
    schedule["schedule"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["step"].as_str().unwrap().to_string(), e["channel"].as_str().unwrap().to_string(), e["state"].as_str().unwrap().to_string()))
        .collect()
}

async fn new_charge(app: &App, customer: &Value, due: &str, extra: Value) -> Value {
    let mut body = json!({"customer_id": customer["id"], "amount":"80.00", "due_date": due, "description":"Mensalidade", "payment_methods":["pix"]});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let (status, charge) = app.call("POST", "/v1/charges", body, &[]).await;
    assert_eq!(status, 201, "{charge}");
    charge
}

async fn customer(app: &App) -> Value {
    let (status, c) = app
        .call(
            "POST",
            "/v1/customers",
            json!({"name":"Maria Silva","document":"52998224725","email":"maria@example.com","phone":"+5511987654321"}),
            &[],
        )
        .await;
    assert_eq!(status, 201);
    c
}

#[tokio::test]
async fn a_merchant_default_applies_to_new_charges_and_replans_open_ones() {
    let app = App::new().await;
    let (_, default) = app.call("GET", "/v1/ruler", Value::Null, &[]).await;
    assert_eq!(default["source"], "default");
    let maria = customer(&app).await;
    let open = new_charge(&app, &maria, &due_in(30), json!({})).await;

    let ruler = json!({"send_time":"10:00","steps":[
        {"step":"before_due","days":10,"channels":["whatsapp","email"]},
        {"step":"on_due","channels":["sms"]},
        {"step":"after_due","first_after_days":1,"every_days":3,"max_times":2,"channels":["email"]}
    ]});
    let (_, before) = app.call("GET", &format!("/v1/charges/{}/schedule", open["id"].as_str().unwrap()), Value::Null, &[]).await;
    let (status, saved) = app.call("PUT", "/v1/ruler", ruler.clone(), &[]).await;
    assert_eq!(status, 200, "{saved}");
    // The request only queues the re-plan and says what it will do; the ruler tick does it.
    assert_eq!((saved["replan"]["status"].as_str(), &saved["replan"]["charges"]), (Some("queued"), &json!(1)), "{saved}");
    let (_, unchanged) = app.call("GET", &format!("/v1/charges/{}/schedule", open["id"].as_str().unwrap()), Value::Null, &[]).await;
    assert_eq!(unchanged, before, "nothing is re-planned inside the request");
    let run = app.api().run_replans(Utc::now()).await.unwrap();
    assert_eq!((run.report.charges, run.finished), (1, 1));
    let (_, got) = app.call("GET", "/v1/ruler", Value::Null, &[]).await;
    assert_eq!((got["source"].as_str(), &got["ruler"]), (Some("merchant"), &ruler));

    let (_, schedule) = app.call("GET", &format!("/v1/charges/{}/schedule", open["id"].as_str().unwrap()), Value::Null, &[]).await;
    let planned: Vec<_> = steps_of(&schedule).into_iter().filter(|(_, _, s)| s == "planned").collect();
    let expected = [("before_due", "whatsapp"), ("before_due", "email"), ("on_due", "sms"), ("after_due", "email"), ("after_due", "email")];
    let mut got: Vec<(String, String)> = planned.iter().map(|(a, b, _)| (a.clone(), b.clone())).collect();
    let mut want: Vec<(String, String)> = expected.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "{schedule}");
    // What the old régua planned and the new one does not is cancelled, with the reason.
    assert!(schedule["schedule"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["step"] == "before_due" && e["state"] == "skipped" && e["reason"] == "régua changed" || e["step"] == "on_created"));

    let fresh = new_charge(&app, &maria, &due_in(30), json!({})).await;
    let steps: Vec<&str> = fresh["reminders"].as_array().unwrap().iter().map(|r| r["step"].as_str().unwrap()).collect();
    assert!(!steps.contains(&"on_created"), "the merchant's régua has no creation notice: {steps:?}");
}

#[tokio::test]
async fn a_charge_ruler_beats_the_customer_override_which_beats_the_merchant_default() {
    let app = App::new().await;
    let maria = customer(&app).await;
    let id = maria["id"].as_str().unwrap();
    app.call("PUT", "/v1/ruler", json!({"send_time":"09:00","steps":[{"step":"on_due","channels":["email"]}]}), &[]).await;
    let (status, _) =
        app.call("PUT", &format!("/v1/customers/{id}/ruler"), json!({"send_time":"09:00","steps":[{"step":"on_due","channels":["sms"]}]}), &[]).await;
    assert_eq!(status, 200);
    let by_customer = new_charge(&app, &maria, &due_in(10), json!({})).await;
    assert_eq!(by_customer["reminders"][0]["channel"], "sms");
    let own =
        new_charge(&app, &maria, &due_in(10), json!({"ruler": {"send_time":"09:00","steps":[{"step":"on_due","channels":["whatsapp"]}]}})).await;
    assert_eq!(own["reminders"][0]["channel"], "whatsapp");
    let (_, r) = app.call("GET", &format!("/v1/customers/{id}/ruler"), Value::Null, &[]).await;
    assert_eq!(r["source"], "customer");
}

#[tokio::test]
async fn an_opt_out_is_answered_at_once_and_the_tick_cancels_the_planned_sends_it_rules_out() {
    let app = App::new().await;
    let maria = customer(&app).await;
    app.call("PUT", "/v1/ruler", json!({"send_time":"09:00","steps":[{"step":"before_due","days":3,"channels":["whatsapp","email"]}]}), &[]).await;
    let charge = new_charge(&app, &maria, &due_in(12), json!({})).await;
    let id = charge["id"].as_str().unwrap();
    let (status, r) =
        app.call("PUT", &format!("/v1/customers/{}/opt-out", maria["id"].as_str().unwrap()), json!({"channels":["whatsapp"]}), &[]).await;
    assert_eq!(status, 200, "{r}");
    let replan = &r["replan"];
    assert_eq!(
        (&replan["status"], &replan["scope"], &replan["charges"], &replan["charges_counted_all"]),
        (&json!("queued"), &json!("customer"), &json!(1), &json!(true)),
        "{r}"
    );
    assert!(replan["requested_at"].is_string(), "{r}");
    assert_eq!(entry_on(&app, id, "whatsapp").await["state"], "planned", "nothing is re-planned inside the request");

    let run = app.api().run_replans(Utc::now()).await.unwrap();
    assert_eq!(run.report.cancelled, 1, "{run:?}");
    let whatsapp = entry_on(&app, id, "whatsapp").await;
    assert_eq!((whatsapp["state"].as_str(), whatsapp["reason"].as_str()), (Some("skipped"), Some("customer opted out of whatsapp")));

    let at: DateTime<Utc> = charge["reminders"][0]["scheduled_at"].as_str().unwrap().parse().unwrap();
    app.tick_and_deliver(at).await;
    let sent: Vec<String> = app.store_outbox_channels(id).await;
    assert_eq!(sent, vec!["email".to_string()]);
}

/// Fail-closed: a send that falls due before the tick has run the opt-out's re-plan is still held back, because
/// delivery reads the customer's opt-out again before sending.
#[tokio::test]
async fn an_opt_out_holds_for_a_send_due_before_its_replan_has_run() {
    let app = App::new().await;
    let maria = customer(&app).await;
    let customer_id = CustomerId::parse(maria["id"].as_str().unwrap()).unwrap();
    let job = ReplanScope::Customer(app.merchant_id.clone(), customer_id.clone());
    app.call("PUT", "/v1/ruler", json!({"send_time":"09:00","steps":[{"step":"before_due","days":3,"channels":["whatsapp","email","sms"]}]}), &[])
        .await;
    app.api().run_replans(Utc::now()).await.unwrap();
    let first = new_charge(&app, &maria, &due_in(12), json!({})).await;
    let second = new_charge(&app, &maria, &due_in(20), json!({})).await;
    let (status, r) = app.call("PUT", &format!("/v1/customers/{customer_id}/opt-out"), json!({"channels":["whatsapp","sms"]}), &[]).await;
    assert_eq!((status, &r["replan"]["status"], &r["replan"]["charges"]), (200, &json!("queued"), &json!(2)), "{r}");

    // The first charge's reminders fall due and the tick queues them; the re-plan has not run (it is ruler-tick's
    // last part, and a big one can take several runs).
    tick_without_replans(&app, &first).await;
    assert_eq!(app.store_outbox_channels(first["id"].as_str().unwrap()).await, ["email"], "nothing on a channel opted out of");
    assert!(app.store.get_replan_job(&job).await.unwrap().is_some(), "the re-plan is still queued");
    for channel in ["whatsapp", "sms"] {
        let entry = entry_on(&app, first["id"].as_str().unwrap(), channel).await;
        assert_eq!(
            (entry["state"].as_str(), entry["reason"].as_str()),
            (Some("skipped"), Some(format!("customer opted out of {channel}").as_str())),
            "{entry}"
        );
    }

    // Opting out of everything holds the same way, and restarts the queued re-plan.
    let (status, r) = app.call("PUT", &format!("/v1/customers/{customer_id}/opt-out"), json!({"all": true}), &[]).await;
    assert_eq!((status, &r["replan"]["status"]), (200, &json!("queued")), "{r}");
    tick_without_replans(&app, &second).await;
    assert_eq!(app.store_outbox_channels(second["id"].as_str().unwrap()).await, Vec::<String>::new(), "nothing at all");

    // Then the tick runs the re-plan: nothing more is sent, and the job is done.
    let run = app.api().run_replans(Utc::now()).await.unwrap();
    assert_eq!(run.finished, 1, "{run:?}");
    app.drain().await;
    assert_eq!(app.store_outbox_channels(first["id"].as_str().unwrap()).await, ["email"]);
    assert_eq!(app.store.get_replan_job(&job).await.unwrap(), None);
}

/// Ticks at the charge's first reminder and delivers what the tick queued, without ruler-tick's queued re-plans.
async fn tick_without_replans(app: &App, charge: &Value) {
    let at: DateTime<Utc> = charge["reminders"][0]["scheduled_at"].as_str().unwrap().parse().unwrap();
    Tick::new(app.store.as_ref(), &app.queue, &app.events).run(at, Utc::now()).await.unwrap();
    app.drain().await;
}

async fn entry_on(app: &App, charge_id: &str, channel: &str) -> Value {
    let (_, schedule) = app.call("GET", &format!("/v1/charges/{charge_id}/schedule"), Value::Null, &[]).await;
    schedule["schedule"].as_array().unwrap().iter().find(|e| e["channel"] == channel).cloned().unwrap_or_else(|| panic!("no {channel}: {schedule}"))
}

#[tokio::test]
async fn the_preview_shows_exactly_the_schedule_a_charge_gets() {
    let app = App::new().await;
    let maria = customer(&app).await;
    let due = due_in(25);
    let ruler = json!({"send_time":"08:30","steps":[{"step":"before_due","hours":36},{"step":"on_due"},{"step":"after_due","first_after_days":2,"every_days":5,"until_days_overdue":20}]});
    let (status, preview) =
        app.call("POST", "/v1/ruler/preview", json!({"customer_id": maria["id"], "amount":"80.00", "due_date": due, "ruler": ruler}), &[]).await;
    assert_eq!(status, 200, "{preview}");
    let charge = new_charge(&app, &maria, &due, json!({"ruler": ruler})).await;
    let (_, schedule) = app.call("GET", &format!("/v1/charges/{}/schedule", charge["id"].as_str().unwrap()), Value::Null, &[]).await;
    let strip =
        |v: &Value| v["schedule"].as_array().unwrap().iter().map(|e| (e["id"].clone(), e["at"].clone(), e["state"].clone())).collect::<Vec<_>>();
    assert_eq!(strip(&preview), strip(&schedule));
    assert_eq!(strip(&preview).len(), 1 + 1 + 4, "36 h before, the due day, and after it on days 2, 7, 12, 17");
}

#[tokio::test]
async fn an_invalid_ruler_is_refused_whole() {
    let app = App::new().await;
    let (status, err) =
        app.call("PUT", "/v1/ruler", json!({"send_time":"09:00","steps":[{"step":"on_due"},{"step":"before_due","days":0}]}), &[]).await;
    assert_eq!((status, err["error"]["field"].as_str()), (422, Some("steps[1].days")), "{err}");
    let (_, now) = app.call("GET", "/v1/ruler", Value::Null, &[]).await;
    assert_eq!(now["source"], "default", "nothing saved");
}

#[tokio::test]
async fn a_second_message_on_the_same_channel_and_day_waits_for_the_next_day() {
    let app = App::new().await;
    let maria = customer(&app).await;
    let due = due_in(20);
    app.call("PUT", "/v1/ruler", json!({"send_time":"09:00","steps":[{"step":"before_due","days":5,"channels":["email"]}]}), &[]).await;
    let first = new_charge(&app, &maria, &due, json!({})).await;
    let second = new_charge(&app, &maria, &due, json!({})).await;
    let at: DateTime<Utc> = first["reminders"][0]["scheduled_at"].as_str().unwrap().parse().unwrap();
    app.tick_and_deliver(at).await;
    let sent_first =
        app.store_outbox_channels(first["id"].as_str().unwrap()).await.len() + app.store_outbox_channels(second["id"].as_str().unwrap()).await.len();
    assert_eq!(sent_first, 1, "one e-mail per customer per day");
    let (_, s2) = app.call("GET", &format!("/v1/charges/{}/schedule", second["id"].as_str().unwrap()), Value::Null, &[]).await;
    let (_, s1) = app.call("GET", &format!("/v1/charges/{}/schedule", first["id"].as_str().unwrap()), Value::Null, &[]).await;
    let waiting = [s1, s2].into_iter().flat_map(|s| s["schedule"].as_array().unwrap().clone()).find(|e| e["state"] == "planned").expect("one waits");
    let next: DateTime<Utc> = waiting["at"].as_str().unwrap().parse().unwrap();
    assert!(next > at + chrono::Duration::hours(12), "moved to the next day: {waiting}");
    app.tick_and_deliver(next).await;
    let total =
        app.store_outbox_channels(first["id"].as_str().unwrap()).await.len() + app.store_outbox_channels(second["id"].as_str().unwrap()).await.len();
    assert_eq!(total, 2);
}

#[tokio::test]
async fn postponing_an_overdue_charge_tells_the_payer_and_replans_against_the_new_date() {
    let app = App::new().await;
    let maria = customer(&app).await;
    let charge = new_charge(&app, &maria, &due_in(3), json!({})).await;
    let id = charge["id"].as_str().unwrap();
    // Overdue first: tick on the first reminder after the due date.
    let after: DateTime<Utc> =
        charge["reminders"].as_array().unwrap().iter().find(|r| r["step"] == "after_due").unwrap()["scheduled_at"].as_str().unwrap().parse().unwrap();
    app.tick_and_deliver(after).await;
    let (_, overdue) = app.call("GET", &format!("/v1/charges/{id}"), Value::Null, &[]).await;
    assert_eq!(overdue["status"], "overdue");

    let new_due = (cobranca::domain::calendar::local_date(after) + chrono::Duration::days(20)).to_string();
    let (status, updated) = app.call_at("PATCH", &format!("/v1/charges/{id}"), json!({"due_date": new_due, "amount": "95.00"}), after).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        (updated["status"].as_str(), updated["amount"].as_str(), updated["due_date"].as_str()),
        (Some("pending"), Some("95.00"), Some(new_due.as_str()))
    );
    let reminders = updated["reminders"].as_array().unwrap();
    assert!(reminders.iter().any(|r| r["id"] == "before_due_5d.0.email.g1" && r["state"] == "planned"), "{updated}");
    assert!(reminders.iter().filter(|r| r["step"] == "after_due" && !r["id"].as_str().unwrap().ends_with(".g1")).all(|r| r["state"] != "planned"));
    app.drain().await;
    let outbox = app.store.outbox().await.unwrap();
    let notice = outbox.iter().find(|e| e.charge_id.as_str() == id && e.step == "on_changed").expect("the payer is told");
    assert!(notice.text.contains("R$ 95,00"), "{}", notice.text);
}

#[tokio::test]
async fn a_cancelled_charge_gets_no_more_reminders() {
    let app = App::new().await;
    let maria = customer(&app).await;
    let charge = new_charge(&app, &maria, &due_in(10), json!({})).await;
    let id = charge["id"].as_str().unwrap();
    let (status, cancelled) = app.call("POST", &format!("/v1/charges/{id}/cancel"), Value::Null, &[]).await;
    assert_eq!((status, cancelled["status"].as_str()), (200, Some("cancelled")));
    assert!(cancelled["reminders"].as_array().unwrap().iter().all(|r| r["state"] != "planned"), "{cancelled}");
    // A repeat (a client that lost the answer) gets the same answer, and changes nothing.
    let (status, again) = app.call("POST", &format!("/v1/charges/{id}/cancel"), Value::Null, &[]).await;
    assert_eq!((status, again["status"].as_str(), &again["version"]), (200, Some("cancelled"), &cancelled["version"]));
    let later = chrono::Utc::now() + chrono::Duration::days(40);
    app.tick_and_deliver(later).await;
    let steps: Vec<String> = app.store.outbox().await.unwrap().into_iter().filter(|e| e.charge_id.as_str() == id).map(|e| e.step).collect();
    assert!(steps.iter().all(|s| s == "on_created"), "{steps:?}");
}

#[tokio::test]
async fn a_weekly_cap_after_the_due_date_holds_back_daily_repeats() {
    let app = App::new().await;
    let maria = customer(&app).await;
    let ruler =
        json!({"send_time":"09:00","max_per_week_after_due":2,"steps":[{"step":"after_due","every_days":1,"max_times":10,"channels":["email"]}]});
    let charge = new_charge(&app, &maria, &due_in(2), json!({"ruler": ruler})).await;
    let id = charge["id"].as_str().unwrap();
    let times: Vec<DateTime<Utc>> =
        charge["reminders"].as_array().unwrap().iter().map(|r| r["scheduled_at"].as_str().unwrap().parse().unwrap()).collect();
    // Tick hourly through the first ten days after the due date.
    let mut now = times[0];
    while now < times[0] + chrono::Duration::days(10) {
        app.tick_and_deliver(now).await;
        now += chrono::Duration::hours(1);
    }
    let sent = app.store_outbox_channels(id).await;
    let (_, schedule) = app.call("GET", &format!("/v1/charges/{id}/schedule"), Value::Null, &[]).await;
    let sent_at: Vec<DateTime<Utc>> = schedule["schedule"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["state"] == "sent")
        .map(|e| e["at"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(sent.len(), sent_at.len());
    let mut per_week: std::collections::BTreeMap<chrono::IsoWeek, usize> = Default::default();
    for at in &sent_at {
        *per_week.entry(chrono::Datelike::iso_week(&at.with_timezone(&cobranca::domain::calendar::TIME_ZONE).date_naive())).or_default() += 1;
    }
    assert!(per_week.values().all(|n| *n <= 2), "{per_week:?}");
    assert!(sent_at.len() >= 2, "{schedule}");
}

#[tokio::test]
async fn with_one_message_per_customer_a_reminder_lists_the_other_charges_due_that_day() {
    let app = App::new().await;
    let maria = customer(&app).await;
    app.call(
        "PUT",
        "/v1/ruler",
        json!({"send_time":"09:00","combine_per_customer":true,"steps":[{"step":"before_due","days":5,"channels":["email"]}]}),
        &[],
    )
    .await;
    let due = due_in(20);
    let rent = new_charge(&app, &maria, &due, json!({"description": "Aluguel"})).await;
    let water = new_charge(&app, &maria, &due, json!({"description": "Água"})).await;
    let at: DateTime<Utc> = rent["reminders"][0]["scheduled_at"].as_str().unwrap().parse().unwrap();
    app.tick_and_deliver(at).await;

    let outbox: Vec<_> = app
        .store
        .outbox()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.charge_id.as_str() == rent["id"].as_str().unwrap() || e.charge_id.as_str() == water["id"].as_str().unwrap())
        .collect();
    assert_eq!(outbox.len(), 1, "one message for both: {outbox:?}");
    let text = &outbox[0].text;
    assert!(text.contains("Aluguel") && text.contains("Água"), "{text}");
    assert!(text.trim_end().ends_with("por meio do cobranca."), "footer stays last: {text}");
    for c in [&rent, &water] {
        let (_, s) = app.call("GET", &format!("/v1/charges/{}/schedule", c["id"].as_str().unwrap()), Value::Null, &[]).await;
        assert_eq!(s["schedule"][0]["state"], "sent", "{s}");
    }
}

#[tokio::test]
async fn a_new_default_is_applied_to_open_charges_page_by_page_and_a_newer_one_restarts_the_work() {
    use cobranca::service::schedule::{Schedules, REPLAN_PAGE};
    let app = App::new().await;
    let maria = customer(&app).await;
    let mut charges = Vec::new();
    for _ in 0..REPLAN_PAGE + 20 {
        charges.push(new_charge(&app, &maria, &due_in(30), json!({})).await);
    }
    let email_only = json!({"send_time":"09:00","steps":[{"step":"on_due","channels":["email"]}]});
    let (status, saved) = app.call("PUT", "/v1/ruler", email_only, &[]).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["replan"]["charges"], REPLAN_PAGE + 20);
    let schedules = Schedules { store: app.store.as_ref() };
    let now = Utc::now();

    // One page per run: the first run does the first page and keeps its place.
    let first = schedules.run_replans(now, 1).await.unwrap();
    assert_eq!((first.pages, first.report.charges, first.finished), (1, REPLAN_PAGE as u32, 0));
    let job = app.store.get_replan_job(&ReplanScope::Merchant(app.merchant_id.clone())).await.unwrap().unwrap();
    assert_eq!(job.charges_done, REPLAN_PAGE as u32);
    assert!(job.cursor.is_some());

    // Another default meanwhile: the work starts over under it, every charge included.
    let sms_only = json!({"send_time":"09:00","steps":[{"step":"on_due","channels":["sms"]}]});
    let (status, _) = app.call("PUT", "/v1/ruler", sms_only, &[]).await;
    assert_eq!(status, 200);
    let again = schedules.run_replans(now, 1).await.unwrap();
    assert_eq!(again.report.charges, REPLAN_PAGE as u32);
    let last = schedules.run_replans(now, 1).await.unwrap();
    assert_eq!((last.report.charges, last.finished), (20, 1));
    assert_eq!(app.store.get_replan_job(&ReplanScope::Merchant(app.merchant_id.clone())).await.unwrap(), None);
    assert_eq!(schedules.run_replans(now, 1).await.unwrap().pages, 0, "nothing left to do");

    for charge in &charges {
        let (_, schedule) = app.call("GET", &format!("/v1/charges/{}/schedule", charge["id"].as_str().unwrap()), Value::Null, &[]).await;
        let planned: Vec<_> = steps_of(&schedule).into_iter().filter(|(_, _, s)| s == "planned").map(|(step, channel, _)| (step, channel)).collect();
        assert_eq!(planned, [("on_due".to_string(), "sms".to_string())], "{schedule}");
    }
}

fn scope_of(app: &App, customer: &Value) -> ReplanScope {
    ReplanScope::Customer(app.merchant_id.clone(), CustomerId::parse(customer["id"].as_str().unwrap()).unwrap())
}

async fn planned_on(app: &App, charge: &Value) -> Vec<(String, String)> {
    let (_, schedule) = app.call("GET", &format!("/v1/charges/{}/schedule", charge["id"].as_str().unwrap()), Value::Null, &[]).await;
    steps_of(&schedule).into_iter().filter(|(_, _, s)| s == "planned").map(|(step, channel, _)| (step, channel)).collect()
}

fn on(step: &str, channel: &str) -> (String, String) {
    (step.to_string(), channel.to_string())
}

#[tokio::test]
async fn a_customer_override_is_queued_and_the_tick_applies_it_to_that_customers_open_charges() {
    let app = App::new().await;
    let maria = customer(&app).await;
    let joao = customer(&app).await;
    let follows = new_charge(&app, &maria, &due_in(30), json!({})).await;
    let own =
        new_charge(&app, &maria, &due_in(30), json!({"ruler": {"send_time":"09:00","steps":[{"step":"on_due","channels":["whatsapp"]}]}})).await;
    let closed = new_charge(&app, &maria, &due_in(30), json!({})).await;
    app.call("POST", &format!("/v1/charges/{}/cancel", closed["id"].as_str().unwrap()), Value::Null, &[]).await;
    let other = new_charge(&app, &joao, &due_in(30), json!({})).await;
    let before = planned_on(&app, &follows).await;
    let others_before = planned_on(&app, &other).await;

    let sms = json!({"send_time":"09:00","steps":[{"step":"on_due","channels":["sms"]}]});
    let (status, r) = app.call("PUT", &format!("/v1/customers/{}/ruler", maria["id"].as_str().unwrap()), sms.clone(), &[]).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!((&r["ruler"], &r["source"]), (&sms, &json!("customer")));
    // Both open charges are gone through (an opt-out would touch the one with a régua of its own too); not the
    // cancelled one.
    let replan = &r["replan"];
    assert_eq!(
        (&replan["status"], &replan["scope"], &replan["charges"], &replan["charges_counted_all"]),
        (&json!("queued"), &json!("customer"), &json!(2), &json!(true)),
        "{r}"
    );
    assert_eq!(planned_on(&app, &follows).await, before, "nothing is re-planned inside the request");

    let run = app.api().run_replans(Utc::now()).await.unwrap();
    assert_eq!((run.report.charges, run.finished), (2, 1), "{run:?}");
    assert_eq!(planned_on(&app, &follows).await, [on("on_due", "sms")]);
    assert_eq!(planned_on(&app, &own).await, [on("on_due", "whatsapp")], "a charge's own régua still beats the customer's");
    assert_eq!(planned_on(&app, &other).await, others_before, "another customer's charges are not touched");
    assert_eq!(app.store.get_replan_job(&scope_of(&app, &maria)).await.unwrap(), None);
}

#[tokio::test]
async fn a_customers_many_charges_are_replanned_page_by_page_and_a_newer_change_wins() {
    use cobranca::service::schedule::{Schedules, REPLAN_PAGE};
    let app = App::new().await;
    let maria = customer(&app).await;
    let path = format!("/v1/customers/{}/ruler", maria["id"].as_str().unwrap());
    let mut charges = Vec::new();
    for _ in 0..REPLAN_PAGE + 20 {
        charges.push(new_charge(&app, &maria, &due_in(30), json!({})).await);
    }
    for _ in 0..3 {
        let paid_off = new_charge(&app, &maria, &due_in(30), json!({})).await;
        app.call("POST", &format!("/v1/charges/{}/cancel", paid_off["id"].as_str().unwrap()), Value::Null, &[]).await;
    }
    let (status, r) = app.call("PUT", &path, json!({"send_time":"09:00","steps":[{"step":"on_due","channels":["email"]}]}), &[]).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!((&r["replan"]["charges"], &r["replan"]["charges_counted_all"]), (&json!(REPLAN_PAGE + 20), &json!(true)), "{r}");
    let schedules = Schedules { store: app.store.as_ref() };
    let now = Utc::now();

    // One page per run: the first keeps its place.
    let first = schedules.run_replans(now, 1).await.unwrap();
    assert_eq!((first.pages, first.finished), (1, 0), "{first:?}");
    let job = app.store.get_replan_job(&scope_of(&app, &maria)).await.unwrap().unwrap();
    assert!(job.cursor.is_some() && job.charges_done > 0, "{job:?}");

    // Another change meanwhile: the job starts over under it, and every charge ends on the newer régua.
    let (status, _) = app.call("PUT", &path, json!({"send_time":"09:00","steps":[{"step":"on_due","channels":["sms"]}]}), &[]).await;
    assert_eq!(status, 200);
    let job = app.store.get_replan_job(&scope_of(&app, &maria)).await.unwrap().unwrap();
    assert_eq!((job.cursor, job.charges_done), (None, 0));
    let mut runs = Vec::new();
    while app.store.get_replan_job(&scope_of(&app, &maria)).await.unwrap().is_some() {
        assert!(runs.len() < 5, "the job never finishes: {runs:?}");
        runs.push(schedules.run_replans(now, 1).await.unwrap());
    }
    assert_eq!(runs.len(), 2, "two pages: {runs:?}");
    assert_eq!(runs.iter().map(|r| r.report.charges).sum::<u32>(), REPLAN_PAGE as u32 + 20, "each open charge once: {runs:?}");
    for charge in &charges {
        assert_eq!(planned_on(&app, charge).await, [on("on_due", "sms")]);
    }
}

/// The reminders of every charge, as (id, state): charges planned alike must have the same.
async fn reminder_states(app: &App, charge: &Value) -> Vec<(String, &'static str)> {
    let id = cobranca::domain::ids::ChargeId::parse(charge["id"].as_str().unwrap()).unwrap();
    let mut states: Vec<_> = app.store.reminders_of(&app.merchant_id, &id).await.unwrap().iter().map(|r| (r.id(), r.state.name())).collect();
    states.sort();
    states
}

/// Crashes anywhere in a customer's re-plan (after any store call of the run, the write of a page's place or
/// the job's end included): the next runs finish it, and each charge ends as if nothing had happened — the same
/// reminders, in the same states, as a customer's charge whose re-plans never failed.
#[tokio::test]
async fn a_customers_replan_that_dies_midway_is_resumed_and_ends_as_if_it_had_not() {
    use cobranca::adapters::faults::{run_until_crash, FaultPlan, FaultyStore};
    use cobranca::service::schedule::{Schedules, REPLAN_PAGE, REPLAN_PAGES_PER_RUN};
    let app = App::new().await;
    // No creation notice: what a charge's history holds is the test's régua changes only.
    app.call("PUT", "/v1/ruler", json!({"send_time":"09:00","steps":[{"step":"on_due","channels":["email"]}]}), &[]).await;
    app.api().run_replans(Utc::now()).await.unwrap();
    let (maria, control) = (customer(&app).await, customer(&app).await);
    let mut charges = Vec::new();
    for _ in 0..REPLAN_PAGE + 5 {
        charges.push(new_charge(&app, &maria, &due_in(40), json!({})).await);
    }
    let reference = new_charge(&app, &control, &due_in(40), json!({})).await;
    // Each change a régua never used before (a cancelled reminder is history and stays so).
    let change = |i: usize| json!({"send_time":"09:00","steps":[{"step":"before_due","days": i + 1,"channels":["email"]},{"step":"on_due","channels":["sms"]}]});
    let put_both = |i: usize| {
        let app = &app;
        let (maria, control) = (&maria, &control);
        async move {
            for c in [maria, control] {
                let (status, r) = app.call("PUT", &format!("/v1/customers/{}/ruler", c["id"].as_str().unwrap()), change(i), &[]).await;
                assert_eq!(status, 200, "{r}");
            }
        }
    };
    let clean = Schedules { store: app.store.as_ref() };
    let finish = || async {
        for _ in 0..5 {
            if app.store.replan_jobs(10).await.unwrap().is_empty() {
                return;
            }
            clean.run_replans(Utc::now(), REPLAN_PAGES_PER_RUN).await.unwrap();
        }
        panic!("the re-plans never finish");
    };

    // How many store calls a whole run makes, to spread the crashes over it: a run like each of the ones below
    // (one reminder cancelled and one added a charge).
    put_both(0).await;
    finish().await;
    put_both(1).await;
    let counting = FaultPlan::counting();
    let faulty = FaultyStore { inner: app.store.clone(), plan: counting.clone() };
    Schedules { store: &faulty }.run_replans(Utc::now(), REPLAN_PAGES_PER_RUN).await.unwrap();
    let calls = counting.calls();
    assert!(app.store.replan_jobs(10).await.unwrap().is_empty() && calls > 10, "one run did it all in {calls} calls");

    let crash_points: Vec<u64> = (1..8).map(|n| calls * n / 8).chain([calls - 1]).collect();
    for (i, at) in crash_points.into_iter().enumerate() {
        put_both(i + 2).await;
        let plan = FaultPlan::crash_at(at);
        let faulty = FaultyStore { inner: app.store.clone(), plan: plan.clone() };
        let died = run_until_crash(&plan, Schedules { store: &faulty }.run_replans(Utc::now(), REPLAN_PAGES_PER_RUN)).await.is_none();
        assert!(died, "crash at call {at} of {calls}");
        finish().await;
        let expected = reminder_states(&app, &reference).await;
        let planned = expected.iter().filter(|(_, s)| *s == "planned").count();
        assert_eq!(planned, 3, "overdue mark, before_due, on_due: {expected:?}");
        for charge in &charges {
            assert_eq!(reminder_states(&app, charge).await, expected, "crash at call {at} of {calls}");
        }
    }
}

/// Two ticks at once on one customer's job: each page's place is saved on condition, so one moves it on and the
/// other lets go; every charge is re-planned and the job finishes once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_ticks_at_once_work_through_one_customers_replan_without_harm() {
    use cobranca::service::schedule::{Schedules, REPLAN_PAGE};
    let app = App::new().await;
    let maria = customer(&app).await;
    let mut charges = Vec::new();
    for _ in 0..2 * REPLAN_PAGE + 10 {
        charges.push(new_charge(&app, &maria, &due_in(30), json!({})).await);
    }
    let (status, _) = app
        .call(
            "PUT",
            &format!("/v1/customers/{}/ruler", maria["id"].as_str().unwrap()),
            json!({"send_time":"09:00","steps":[{"step":"on_due","channels":["sms"]}]}),
            &[],
        )
        .await;
    assert_eq!(status, 200);
    let scope = scope_of(&app, &maria);
    let tick = |store: std::sync::Arc<cobranca::adapters::memory::MemoryStore>, scope: ReplanScope| async move {
        let mut finished = 0;
        for _ in 0..20 {
            if store.get_replan_job(&scope).await.unwrap().is_none() {
                break;
            }
            finished += Schedules { store: store.as_ref() }.run_replans(Utc::now(), 1).await.unwrap().finished;
        }
        finished
    };
    let (a, b) = tokio::join!(tokio::spawn(tick(app.store.clone(), scope.clone())), tokio::spawn(tick(app.store.clone(), scope.clone())));
    assert_eq!(a.unwrap() + b.unwrap(), 1, "finished once");
    assert_eq!(app.store.get_replan_job(&scope).await.unwrap(), None);
    for charge in &charges {
        assert_eq!(planned_on(&app, charge).await, [on("on_due", "sms")]);
    }
}

#[tokio::test]
async fn the_largest_regua_is_accepted_and_stored_everywhere_and_one_message_more_is_refused_at_the_door() {
    use cobranca::domain::ruler::MAX_MESSAGES_PER_CHARGE;
    let app = App::new().await;
    let maria = customer(&app).await;
    let maria_id = maria["id"].as_str().unwrap().to_string();
    let largest = json!({"send_time":"09:00","steps":[
        {"step":"before_due","days":3,"channels":["email","whatsapp"]},
        {"step":"after_due","every_days":1,"max_times":22,"channels":["email","whatsapp","sms","voice"]}]});
    let one_more = json!({"send_time":"09:00","steps":[
        {"step":"before_due","days":3,"channels":["email","whatsapp","sms"]},
        {"step":"after_due","every_days":1,"max_times":22,"channels":["email","whatsapp","sms","voice"]}]});
    // The issue's régua: 240 messages, once a 500 from DynamoDB (and a 201 from the in-memory store).
    let issue =
        json!({"send_time":"09:00","steps":[{"step":"after_due","every_days":1,"max_times":60,"channels":["email","whatsapp","sms","voice"]}]});

    for (method, path, body, field) in [
        ("PUT", "/v1/ruler".to_string(), one_more.clone(), "steps"),
        ("PUT", format!("/v1/customers/{maria_id}/ruler"), one_more.clone(), "steps"),
        (
            "POST",
            "/v1/charges".to_string(),
            json!({"customer_id": maria_id, "amount":"80.00", "due_date": due_in(30), "description":"Mensalidade", "payment_methods":["pix"], "ruler": issue}),
            "ruler.steps",
        ),
        (
            "POST",
            "/v1/installment-plans".to_string(),
            json!({"customer_id": maria_id, "amount":"600.00", "installments": 6, "first_due_date": due_in(30), "description":"Curso", "payment_methods":["pix"], "ruler": one_more}),
            "ruler.steps",
        ),
    ] {
        let (status, err) = app.call(method, &path, body, &[]).await;
        assert_eq!((status, err["error"]["field"].as_str()), (422, Some(field)), "{method} {path}: {err}");
    }

    // At the maximum: the charge is stored with every reminder, and cancelling it cancels them all.
    let charge = new_charge(&app, &maria, &due_in(30), json!({"ruler": largest})).await;
    let id = cobranca::domain::ids::ChargeId::parse(charge["id"].as_str().unwrap()).unwrap();
    let stored = app.store.reminders_of(&app.merchant_id, &id).await.unwrap();
    assert_eq!(stored.len(), MAX_MESSAGES_PER_CHARGE + 1, "every message and the overdue mark");
    let (status, cancelled) = app.call("POST", &format!("/v1/charges/{id}/cancel"), Value::Null, &[]).await;
    assert_eq!(status, 200, "{cancelled}");
    assert!(app.store.reminders_of(&app.merchant_id, &id).await.unwrap().iter().all(|r| !r.state.is_pending()));

    // A carnê of the most installments, each under the largest régua.
    let max = cobranca::domain::recurrence::MAX_CARNE_INSTALLMENTS;
    let body = json!({"customer_id": maria_id, "amount":"6000.00", "installments": max, "first_due_date": due_in(30), "description":"Curso", "payment_methods":["pix"], "ruler": largest});
    let (status, plan) = app.call("POST", "/v1/installment-plans", body, &[]).await;
    assert_eq!(status, 201, "{plan}");
    let parts = plan["installments"].as_array().unwrap();
    assert_eq!(parts.len(), usize::from(max));
    for part in parts {
        let id = cobranca::domain::ids::ChargeId::parse(part["charge_id"].as_str().unwrap()).unwrap();
        // All of the plan: a "3 days before" that a weekend or holiday would push onto the due day is not planned.
        let stored = app.store.reminders_of(&app.merchant_id, &id).await.unwrap().len();
        assert!((MAX_MESSAGES_PER_CHARGE - 1..=MAX_MESSAGES_PER_CHARGE + 1).contains(&stored), "{stored} reminders");
    }
}
