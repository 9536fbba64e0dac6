//! Merchant webhooks, black box: the local stack delivers to a receiver that verifies every delivery with the
//! npm `standardwebhooks` library; retries, Retry-After, 410 and pausing as the endpoints answer.

use chrono::Utc;
use cobranca_e2e::{spawn_app, spawn_receiver, TestApp, WEBHOOK_RETRY_DELAYS};
use serde_json::{json, Value};

fn due_in(days: i64) -> String {
    (chrono::Utc::now().with_timezone(&chrono_tz::America::Sao_Paulo).date_naive() + chrono::Duration::days(days)).to_string()
}

async fn new_charge(app: &TestApp) -> String {
    let (status, c) = app
        .post("/v1/charges", &json!({"customer": {"name": "Maria", "document": "52998224725"}, "amount": "10.00", "due_date": due_in(10), "description": "x", "payment_methods": ["pix"]}))
        .await;
    assert_eq!(status, 201, "{c}");
    c["id"].as_str().unwrap().to_string()
}

async fn endpoint(app: &TestApp, url: String, types: Value) -> Value {
    let (status, e) = app.post("/v1/webhook-endpoints", &json!({"url": url, "event_types": types})).await;
    assert_eq!(status, 201, "{e}");
    assert!(e["secret"].as_str().unwrap().starts_with("whsec_"));
    e
}

fn ids(log: &[Value]) -> Vec<&str> {
    log.iter().map(|e| e["id"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn merchant_webhooks_are_signed_retried_and_stopped_as_their_endpoints_answer() {
    let Some(app) = spawn_app() else { return };
    let Some(rx) = spawn_receiver() else { return };
    let all = endpoint(&app, format!("{}/ok/all", rx.url), json!(["*"])).await;
    let flaky = endpoint(&app, format!("{}/flaky/flaky", rx.url), json!(["charge.paid"])).await;
    let busy = endpoint(&app, format!("{}/busy/busy", rx.url), json!(["charge.created"])).await;
    let gone = endpoint(&app, format!("{}/gone/gone", rx.url), json!(["charge.created"])).await;
    for (name, e) in [("all", &all), ("flaky", &flaky), ("busy", &busy), ("gone", &gone)] {
        rx.trust(name, &[e["secret"].as_str().unwrap()]).await;
    }
    let (status, listed) = app.get("/v1/webhook-endpoints").await;
    assert_eq!((status, listed["data"].as_array().map(|d| d.len())), (200, Some(4)));
    assert!(listed["data"][0].get("secret").is_none(), "secrets are shown only on creation and rotation");

    let charge = new_charge(&app).await;
    let pay = json!({"type": "payment.confirmed", "data": {"charge_id": charge, "amount": "10.00", "paid_at": Utc::now().to_rfc3339(), "method": "pix", "provider_payment_id": format!("E2E-WH-{charge}")}});
    let (status, r) = app.signed_webhook(&format!("msg_{charge}"), &pay, Utc::now().timestamp()).await;
    assert_eq!(status, 200, "{r}");

    // Every subscribed event arrives, verified by software we did not write.
    let log = rx.wait_for("all", 30, |l| l.iter().any(|e| e["type"] == "charge.created") && l.iter().any(|e| e["type"] == "charge.paid")).await;
    assert!(log.iter().all(|e| e["verified"] == true), "{log:?}");
    let created = log.iter().find(|e| e["type"] == "charge.created").unwrap();
    let body: Value = serde_json::from_str(created["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["data"]["charge_id"], json!(charge));

    // 500, 500, then 200: retried on the schedule under one webhook-id.
    let log = rx.wait_for("flaky", 30, |l| l.len() >= 3).await;
    assert_eq!(log.len(), 3, "{log:?}");
    assert!(ids(&log).iter().all(|id| *id == ids(&log)[0]), "a stable webhook-id across retries");
    assert!(log.iter().all(|e| e["verified"] == true));
    let gaps: Vec<i64> = log.windows(2).map(|w| w[1]["at_ms"].as_i64().unwrap() - w[0]["at_ms"].as_i64().unwrap()).collect();
    assert!(gaps[0] >= 900 && gaps[1] >= 1800, "waits follow the schedule (1 s, 2 s, ±10 %): {gaps:?}");
    let (_, deliveries) = app.get(&format!("/v1/webhook-endpoints/{}/deliveries", flaky["id"].as_str().unwrap())).await;
    let d = &deliveries["data"][0];
    assert_eq!(d["status"], "succeeded", "{deliveries}");
    let codes: Vec<u64> = d["attempts"].as_array().unwrap().iter().map(|a| a["status_code"].as_u64().unwrap()).collect();
    assert_eq!(codes, vec![500, 500, 200]);

    // 429 with Retry-After: 3 waits longer than the schedule's 1 s.
    let log = rx.wait_for("busy", 30, |l| l.len() >= 2).await;
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(log[1]["at_ms"].as_i64().unwrap() - log[0]["at_ms"].as_i64().unwrap() >= 2900, "{log:?}");

    // 410 Gone: one attempt, then the endpoint is disabled and gets nothing more.
    rx.wait_for("gone", 30, |l| !l.is_empty()).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let gone_id = gone["id"].as_str().unwrap();
    while app.get(&format!("/v1/webhook-endpoints/{gone_id}")).await.1["status"] != "disabled" && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(app.get(&format!("/v1/webhook-endpoints/{gone_id}")).await.1["status"], "disabled");

    // Replay: the same delivery again, same webhook-id.
    let created_id = created["id"].as_str().unwrap().to_string();
    let (status, r) = app.send(reqwest::Method::POST, &format!("/v1/webhook-deliveries/{created_id}/replay"), None).await;
    assert_eq!(status, 202, "{r}");
    let log = rx.wait_for("all", 30, |l| ids(l).iter().filter(|i| **i == created_id).count() >= 2).await;
    assert_eq!(ids(&log).iter().filter(|i| **i == created_id).count(), 2, "{log:?}");

    // Secret rotation: the receiver now knows only the new secret; the old one still signs during the grace.
    let (status, rotated) =
        app.post(&format!("/v1/webhook-endpoints/{}/rotate-secret", all["id"].as_str().unwrap()), &json!({"grace_hours": 24})).await;
    assert_eq!(status, 200, "{rotated}");
    rx.trust("all", &[rotated["secret"].as_str().unwrap()]).await;
    let second = new_charge(&app).await;
    let log = rx.wait_for("all", 30, |l| l.iter().any(|e| e["body"].as_str().unwrap().contains(&second))).await;
    let delivered = log.iter().find(|e| e["body"].as_str().unwrap().contains(&second)).unwrap();
    assert_eq!((delivered["verified"].as_bool(), delivered["signatures"].as_u64()), (Some(true), Some(2)), "{delivered}");
    assert_eq!(rx.log("gone").await.len(), 1, "a disabled endpoint gets nothing more");

    // An endpoint that never answers well is paused once its schedule runs out.
    let down = endpoint(&app, format!("{}/down/down", rx.url), json!(["charge.created"])).await;
    rx.trust("down", &[down["secret"].as_str().unwrap()]).await;
    new_charge(&app).await;
    let log = rx.wait_for("down", 40, |l| l.len() >= 4).await;
    assert_eq!(log.len(), 4, "1 + one per delay of {}", WEBHOOK_RETRY_DELAYS);
    let down_id = down["id"].as_str().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while app.get(&format!("/v1/webhook-endpoints/{down_id}")).await.1["status"] != "paused" && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let (_, e) = app.get(&format!("/v1/webhook-endpoints/{down_id}")).await;
    assert_eq!(e["status"], "paused", "{e}");

    // Errors are clear and scoped to the merchant.
    let (status, r) = app.get("/v1/webhook-endpoints/we_01nothere").await;
    assert_eq!((status, r["error"]["code"].as_str()), (404, Some("not_found")));
    let (status, r) = app.post("/v1/webhook-endpoints", &json!({"url": "https://erp.example.com/h", "event_types": ["charge.payed"]})).await;
    assert_eq!((status, r["error"]["field"].as_str()), (422, Some("event_types")));
}
