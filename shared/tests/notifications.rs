//! Notification delivery as a merchant sees it: fallback between channels, bounces suppressing addresses, the
//! monthly budget, costs, message records and the merchant's own templates — on in-memory adapters, with a
//! scripted provider per channel.

mod support;

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use cobranca::domain::notification::{Channel, NotificationSender, OutgoingMessage, SendError, SendReceipt};
use cobranca::domain::tracking::{MessageStatus, StatusUpdate};
use cobranca::ports::store::*;
use cobranca::service::delivery::{self, Delivery};
use cobranca::service::tick::Tick;
use serde_json::{json, Value};
use support::{due_in, App};

/// Answers each channel's sends from a script (then succeeds), and remembers what was sent.
#[derive(Default)]
struct ScriptedProviders {
    script: Mutex<HashMap<Channel, VecDeque<Result<SendReceipt, SendError>>>>,
    sent: Mutex<Vec<OutgoingMessage>>,
}

impl ScriptedProviders {
    fn fail_next(&self, channel: Channel, error: SendError) {
        self.script.lock().unwrap().entry(channel).or_default().push_back(Err(error));
    }

    fn sent_on(&self, channel: Channel) -> Vec<OutgoingMessage> {
        self.sent.lock().unwrap().iter().filter(|m| m.channel == channel).cloned().collect()
    }
}

#[async_trait]
impl NotificationSender for ScriptedProviders {
    async fn send(&self, m: &OutgoingMessage) -> Result<SendReceipt, SendError> {
        let scripted = self.script.lock().unwrap().get_mut(&m.channel).and_then(VecDeque::pop_front);
        let result = scripted.unwrap_or_else(|| Ok(SendReceipt::new(format!("{}-{}-{}", m.channel.as_str(), m.charge_id, m.reminder_id))));
        if result.is_ok() {
            self.sent.lock().unwrap().push(m.clone());
        }
        result
    }
}

async fn deliver_all(app: &App, providers: &ScriptedProviders) {
    // The scripted providers are the deployment's: only a live merchant's messages reach them.
    let outbox = cobranca::adapters::channels::outbox::OutboxSender { store: app.store.clone() };
    let delivery = Delivery {
        store: app.store.as_ref(),
        sender: providers,
        outbox: &outbox,
        events: &app.events,
        public_base_url: "https://pay.test",
        merchant_providers: None,
    };
    for job in app.queue.drain() {
        let _ = delivery.deliver(&job, Utc::now()).await;
    }
}

async fn tick(app: &App, providers: &ScriptedProviders, at: DateTime<Utc>) {
    Tick::new(app.store.as_ref(), &app.queue, &app.events).run(at, Utc::now()).await.unwrap();
    deliver_all(app, providers).await;
}

async fn charge(app: &App, ruler: Value) -> (String, Value) {
    let (status, charge) = app
        .call(
            "POST",
            "/v1/charges",
            json!({"customer":{"name":"Maria Silva","document":"52998224725","email":"maria@example.com","phone":"+5511999998888"},
                   "amount":"150.00","due_date":due_in(10),"description":"Mensalidade","payment_methods":["pix"],"ruler": ruler}),
            &[],
        )
        .await;
    assert_eq!(status, 201, "{charge}");
    (charge["id"].as_str().unwrap().to_string(), charge)
}

/// When a message handed to the fallback channel at `failed_at` goes: a few minutes later, inside the legal contact
/// hours (a failure at 19:58 in São Paulo goes the next morning), whatever the hour the test runs at.
fn fallback_slot(failed_at: DateTime<Utc>) -> DateTime<Utc> {
    cobranca::domain::calendar::ContactHours::legal().next_slot(failed_at + Duration::minutes(5))
}

fn scheduled(charge: &Value, step: &str) -> DateTime<Utc> {
    let r = charge["reminders"].as_array().unwrap().iter().find(|r| r["step"] == step).unwrap_or_else(|| panic!("no {step} in {charge}"));
    r["scheduled_at"].as_str().unwrap().parse().unwrap()
}

async fn notifications(app: &App, id: &str) -> Vec<Value> {
    let (status, list) = app.call("GET", &format!("/v1/charges/{id}/notifications"), Value::Null, &[]).await;
    assert_eq!(status, 200, "{list}");
    list["data"].as_array().unwrap().clone()
}

fn by_channel<'a>(list: &'a [Value], step: &str, channel: &str) -> &'a Value {
    list.iter().find(|n| n["step"] == step && n["channel"] == channel).unwrap_or_else(|| panic!("no {step} on {channel} in {list:?}"))
}

#[tokio::test]
async fn a_whatsapp_number_that_cannot_receive_falls_back_to_sms_and_each_message_keeps_its_record() {
    let app = App::live().await;
    let providers = ScriptedProviders::default();
    let (status, _) = app.call("PUT", "/v1/notification-settings", json!({"fallback": ["whatsapp", "sms", "email"]}), &[]).await;
    assert_eq!(status, 200);
    let (id, created) = charge(&app, json!({"send_time":"10:00","steps":[{"step":"on_due","channels":["whatsapp"]}]})).await;
    let on_due = scheduled(&created, "on_due");

    providers.fail_next(Channel::Whatsapp, SendError::Permanent("131026: Message undeliverable".into()));
    tick(&app, &providers, on_due).await;
    assert!(providers.sent_on(Channel::Whatsapp).is_empty());
    // The SMS that takes over is due at once: the next tick sends it.
    tick(&app, &providers, on_due + Duration::minutes(5)).await;
    let sms = providers.sent_on(Channel::Sms);
    assert_eq!(sms.len(), 1);
    assert!(sms[0].text.contains("vence hoje") && sms[0].text.contains("Loja Exemplo Ltda"), "{}", sms[0].text);

    let list = notifications(&app, &id).await;
    let whatsapp = by_channel(&list, "on_due", "whatsapp");
    assert_eq!(whatsapp["status"], "failed");
    assert_eq!(whatsapp["last_error"], "131026: Message undeliverable");
    assert_eq!(whatsapp["cost"], "0");
    let sms = by_channel(&list, "on_due", "sms");
    assert_eq!(
        (&sms["status"], &sms["fallback_from"], &sms["cost"], &sms["attempts"]),
        (&json!("sent"), &json!("whatsapp"), &json!("0.99"), &json!(1))
    );
    // Nothing further: the e-mail in the chain was not needed.
    assert!(providers.sent_on(Channel::Email).is_empty());
}

#[tokio::test]
async fn a_transient_failure_is_retried_on_the_same_channel_and_counted_as_an_attempt() {
    let app = App::live().await;
    let providers = ScriptedProviders::default();
    app.call("PUT", "/v1/notification-settings", json!({"fallback": ["whatsapp", "email"]}), &[]).await;
    let (id, created) = charge(&app, json!({"send_time":"10:00","steps":[{"step":"on_due","channels":["whatsapp"]}]})).await;
    let on_due = scheduled(&created, "on_due");
    providers.fail_next(Channel::Whatsapp, SendError::Transient("130429: Rate limit hit".into()));
    tick(&app, &providers, on_due).await;
    // The queue hands it back after its lease; a later tick requeues it.
    tick(&app, &providers, on_due + cobranca::service::tick::LEASE + Duration::minutes(1)).await;
    let list = notifications(&app, &id).await;
    let whatsapp = by_channel(&list, "on_due", "whatsapp");
    assert_eq!((&whatsapp["status"], &whatsapp["attempts"], &whatsapp["cost"]), (&json!("sent"), &json!(2), &json!("0.55")));
    assert!(providers.sent_on(Channel::Email).is_empty(), "a transient failure does not fall back");
}

#[tokio::test]
async fn a_bounce_suppresses_the_address_so_later_emails_go_by_the_fallback_instead() {
    let app = App::live().await;
    let providers = ScriptedProviders::default();
    app.call("PUT", "/v1/notification-settings", json!({"fallback": ["email", "sms"]}), &[]).await;
    let (id, created) =
        charge(&app, json!({"send_time":"10:00","steps":[{"step":"on_created","channels":["email"]},{"step":"on_due","channels":["email"]}]})).await;
    let created_at = scheduled(&created, "on_created");
    tick(&app, &providers, created_at).await; // the creation notice, in the first open contact window
    let first = providers.sent_on(Channel::Email);
    assert_eq!(first.len(), 1);

    // SES reports a permanent bounce for it.
    let bounce = StatusUpdate {
        provider: "ses".into(),
        provider_message_id: format!("email-{id}-{}", first[0].reminder_id),
        status: MessageStatus::Bounced,
        at: Utc::now(),
        detail: Some("5.1.1 user unknown".into()),
        suppress_recipient: true,
    };
    assert!(delivery::apply_status(app.store.as_ref(), Channel::Email, None, &bounce, Utc::now()).await.unwrap());
    assert!(
        !delivery::apply_status(app.store.as_ref(), Channel::Email, None, &bounce, Utc::now()).await.unwrap(),
        "the same callback twice changes nothing"
    );
    let list = notifications(&app, &id).await;
    assert_eq!(by_channel(&list, "on_created", "email")["status"], "bounced");
    // The bounced notice itself is handed to SMS...
    tick(&app, &providers, fallback_slot(created_at)).await;
    assert_eq!(providers.sent_on(Channel::Sms).iter().filter(|m| m.step == "on_created").count(), 1);

    // ...and on the due day no e-mail goes to the dead address: SMS again.
    tick(&app, &providers, scheduled(&created, "on_due")).await;
    tick(&app, &providers, scheduled(&created, "on_due") + Duration::minutes(5)).await;
    assert_eq!(providers.sent_on(Channel::Email).len(), 1, "no e-mail after the bounce");
    let list = notifications(&app, &id).await;
    assert!(by_channel(&list, "on_due", "email")["last_error"].as_str().unwrap().contains("suppressed"));
    assert_eq!(by_channel(&list, "on_due", "sms")["status"], "sent");
}

#[tokio::test]
async fn the_monthly_budget_stops_whatsapp_at_the_limit_and_the_message_goes_by_email() {
    let app = App::live().await;
    let providers = ScriptedProviders::default();
    app.call("PUT", "/v1/notification-settings", json!({"monthly_budget": "1.00", "prices": {"whatsapp": {"amount": "0.50"}}}), &[]).await;
    let ruler = json!({"send_time":"10:00","steps":[{"step":"on_created","channels":["whatsapp"]}]});
    let mut ids = vec![];
    let mut at = Utc::now();
    for _ in 0..3 {
        let (id, created) = charge(&app, ruler.clone()).await;
        ids.push(id);
        at = scheduled(&created, "on_created");
        tick(&app, &providers, at).await;
    }
    // 0.50 + 0.50 reach the budget exactly; the third goes by e-mail (at its own price, which the budget never stops).
    assert_eq!(providers.sent_on(Channel::Whatsapp).len(), 2);
    tick(&app, &providers, fallback_slot(at)).await;
    let email = providers.sent_on(Channel::Email);
    assert_eq!(email.len(), 1);
    assert_eq!(email[0].charge_id.as_str(), ids[2]);
    let list = notifications(&app, &ids[2]).await;
    assert!(by_channel(&list, "on_created", "whatsapp")["last_error"].as_str().unwrap().contains("budget"));

    let month = cobranca::domain::calendar::local_date(at).format("%Y-%m").to_string();
    let (status, spend) = app.call("GET", &format!("/v1/reports/notification-spend?month={month}"), Value::Null, &[]).await;
    assert_eq!(status, 200, "{spend}");
    let line = |c: &str| spend["channels"].as_array().unwrap().iter().find(|l| l["channel"] == c).cloned().unwrap();
    assert_eq!((&line("whatsapp")["messages"], &line("whatsapp")["amount"]), (&json!(2), &json!("1.00")));
    assert_eq!((&line("email")["messages"], &line("email")["amount"]), (&json!(1), &json!("0.99")));
    assert_eq!(spend["total"], "1.99");
    assert_eq!(spend["budget"]["reached"], true);
    let (_, _, csv) = app.get_text(&format!("/v1/reports/notification-spend?format=csv&month={month}")).await;
    assert!(csv.contains(",whatsapp,2,1.00\n") && csv.contains(",total,3,1.99\n"), "{csv}");
}

#[tokio::test]
async fn a_merchant_template_is_validated_previewed_and_used() {
    let app = App::live().await;
    let providers = ScriptedProviders::default();
    let (status, err) = app.call("PUT", "/v1/templates/email/on_created", json!({"subject": "Oi", "body": "Olá {{ nome }}"}), &[]).await;
    assert_eq!((status, &err["error"]["field"]), (422, &json!("body")));
    assert!(err["error"]["message"].as_str().unwrap().contains("nome"));
    let (status, _) = app.call("PUT", "/v1/templates/fax/on_created", json!({"body": "x"}), &[]).await;
    assert_eq!(status, 404);

    let mine = json!({"subject": "Sua fatura {{ description }}", "body": "{{ first_name }}, sua fatura de {{ amount }} vence em {{ due_date }}: {{ payment_url }}"});
    let (status, saved) = app.call("PUT", "/v1/templates/email/on_created", mine, &[]).await;
    assert_eq!((status, &saved["source"]), (200, &json!("merchant")));

    let (id, created) = charge(&app, json!({"send_time":"10:00","steps":[{"step":"on_created","channels":["email"]}]})).await;
    let (status, preview) = app.call("POST", "/v1/templates/preview", json!({"channel": "email", "step": "on_created", "charge_id": id}), &[]).await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["subject"], "Sua fatura Mensalidade");
    let body = preview["body"].as_str().unwrap();
    assert!(body.starts_with("Maria, sua fatura de R$ 150,00 vence em"), "{body}");
    assert!(body.contains("Loja Exemplo Ltda · CNPJ 11.222.333/0001-81"), "the sender is always named: {body}");

    tick(&app, &providers, scheduled(&created, "on_created")).await;
    assert_eq!(providers.sent_on(Channel::Email)[0].text, body);

    // Removing it brings the default back.
    let (_, default) = app.call("DELETE", "/v1/templates/email/on_created", Value::Null, &[]).await;
    assert_eq!(default["source"], "default");
    let (_, all) = app.call("GET", "/v1/templates", Value::Null, &[]).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 5 * 7, "every step on every channel");
    assert!(all["variables"].as_array().unwrap().contains(&json!("boleto_line")));
}

#[tokio::test]
async fn another_merchant_sees_none_of_it() {
    let app = App::live().await;
    let (id, _) = charge(&app, json!({"send_time":"10:00","steps":[{"step":"on_due","channels":["email"]}]})).await;
    let other = App::live().await;
    // The other app's merchant, with its own key, on this store.
    let merchant = other.store.get_merchant(&other.merchant_id).await.unwrap().unwrap();
    app.store.put_merchant(&merchant, &other.key.hash()).await.unwrap();
    let as_other = |path: String| {
        let headers = HashMap::from([("authorization".to_string(), format!("Bearer {}", other.key.expose()))]);
        cobranca::http::api::ApiRequest { method: "GET".into(), path, headers, body: vec![], client_cert: None }
    };
    let r = app.api().handle(&as_other(format!("/v1/charges/{id}/notifications")), Utc::now()).await;
    assert_eq!(r.status, 404);
    let r = app.api().handle(&as_other("/v1/notification-settings".into()), Utc::now()).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("\"fallback\":[]"), "{}", r.body);
}

/// A provider whose callbacks carry a shared secret and `{"id","status"}` lines: enough to drive the route.
struct FakeCallbacks;

#[async_trait]
impl cobranca::domain::tracking::ChannelCallbacks for FakeCallbacks {
    fn channel_of(&self, provider: &str) -> Option<Channel> {
        (provider == "fake-whatsapp").then_some(Channel::Whatsapp)
    }

    async fn handshake(
        &self,
        _: cobranca::domain::tracking::CallbackSource<'_>,
        query: &[(String, String)],
    ) -> Option<Result<String, cobranca::domain::tracking::CallbackError>> {
        let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        Some(match get("hub.verify_token").as_deref() {
            Some("token") => Ok(get("hub.challenge").unwrap_or_default()),
            _ => Err(cobranca::domain::tracking::CallbackError::Unauthorized("verify token".into())),
        })
    }

    async fn parse(
        &self,
        _: cobranca::domain::tracking::CallbackSource<'_>,
        _: &[(String, String)],
        headers: &HashMap<String, String>,
        body: &[u8],
    ) -> Result<Vec<StatusUpdate>, cobranca::domain::tracking::CallbackError> {
        if headers.get("x-secret").map(String::as_str) != Some("s3cret") {
            return Err(cobranca::domain::tracking::CallbackError::Unauthorized("secret".into()));
        }
        let lines: Vec<Value> = serde_json::from_slice(body).map_err(|e| cobranca::domain::tracking::CallbackError::Malformed(e.to_string()))?;
        Ok(lines
            .iter()
            .map(|l| StatusUpdate {
                provider: "fake".into(),
                provider_message_id: l["id"].as_str().unwrap().into(),
                status: serde_json::from_value(l["status"].clone()).unwrap(),
                at: Utc::now(),
                detail: None,
                suppress_recipient: false,
            })
            .collect())
    }
}

#[tokio::test]
async fn provider_callbacks_are_verified_then_move_each_message_forward() {
    let app = App::live().await;
    let providers = ScriptedProviders::default();
    let (id, created) = charge(&app, json!({"send_time":"10:00","steps":[{"step":"on_due","channels":["whatsapp"]}]})).await;
    tick(&app, &providers, scheduled(&created, "on_due")).await;
    let sent = providers.sent_on(Channel::Whatsapp);
    let wamid = format!("whatsapp-{id}-{}", sent[0].reminder_id);

    let callbacks = FakeCallbacks;
    let api = cobranca::http::api::provider_webhooks::WebhookApi {
        settlement: cobranca::service::settlement::Settlement { store: app.store.as_ref(), queue: &app.queue, events: &app.events },
        secrets: std::slice::from_ref(&app.secret),
        pix_auth: None,
        acquirers: None,
        channel_callbacks: Some(&callbacks),
    };
    let request = |method: &str, path: &str, secret: &str, body: Value| cobranca::http::api::ApiRequest {
        method: method.into(),
        path: path.into(),
        headers: HashMap::from([("x-secret".to_string(), secret.to_string())]),
        body: body.to_string().into_bytes(),
        client_cert: None,
    };
    let handshake = api
        .handle(
            &request(
                "GET",
                "/v1/webhooks/notifications/fake-whatsapp?hub.mode=subscribe&hub.verify_token=token&hub.challenge=1158201444",
                "",
                Value::Null,
            ),
            Utc::now(),
        )
        .await;
    assert_eq!((handshake.status, handshake.body.as_str()), (200, "1158201444"));
    let wrong = api
        .handle(&request("GET", "/v1/webhooks/notifications/fake-whatsapp?hub.verify_token=nope&hub.challenge=1", "", Value::Null), Utc::now())
        .await;
    assert_eq!(wrong.status, 403);

    let statuses = json!([{"id": wamid, "status": "delivered"}, {"id": wamid, "status": "read"}, {"id": "wamid.someone-else", "status": "read"}]);
    let forged = api.handle(&request("POST", "/v1/webhooks/notifications/fake-whatsapp", "guess", statuses.clone()), Utc::now()).await;
    assert_eq!(forged.status, 401);
    assert_eq!(by_channel(&notifications(&app, &id).await, "on_due", "whatsapp")["status"], "sent", "a forged callback changes nothing");

    let r = api.handle(&request("POST", "/v1/webhooks/notifications/fake-whatsapp", "s3cret", statuses.clone()), Utc::now()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(serde_json::from_str::<Value>(&r.body).unwrap(), json!({"received": 3, "applied": 2}));
    let again = api.handle(&request("POST", "/v1/webhooks/notifications/fake-whatsapp", "s3cret", statuses), Utc::now()).await;
    assert_eq!(serde_json::from_str::<Value>(&again.body).unwrap()["applied"], 0);
    let record = by_channel(&notifications(&app, &id).await, "on_due", "whatsapp").clone();
    assert_eq!(record["status"], "read");
    let history: Vec<&str> = record["history"].as_array().unwrap().iter().map(|h| h["status"].as_str().unwrap()).collect();
    assert_eq!(history, ["queued", "sent", "delivered", "read"]);
    assert_eq!(api.handle(&request("POST", "/v1/webhooks/notifications/nobody", "s3cret", json!([])), Utc::now()).await.status, 404);
}

#[tokio::test]
async fn an_unanswered_call_is_placed_again_two_hours_later_at_most_three_times_a_day() {
    let app = App::live().await;
    let providers = ScriptedProviders::default();
    let (id, created) = charge(&app, json!({"send_time":"09:00","steps":[{"step":"on_due","channels":["voice"]}]})).await;
    let mut at = scheduled(&created, "on_due");
    let mut calls = 0;
    for _ in 0..4 {
        tick(&app, &providers, at).await;
        let placed = providers.sent_on(Channel::Voice);
        if placed.len() == calls {
            break;
        }
        calls = placed.len();
        let nobody = StatusUpdate {
            provider: "totalvoice".into(),
            provider_message_id: format!("voice-{id}-{}", placed[0].reminder_id),
            status: MessageStatus::NoAnswer,
            at,
            detail: Some("sem resposta".into()),
            suppress_recipient: false,
        };
        delivery::apply_status(app.store.as_ref(), Channel::Voice, None, &nobody, at).await.unwrap();
        at += Duration::hours(2);
    }
    assert_eq!(calls, 3, "three calls on the due day, two hours apart");
    let record = by_channel(&notifications(&app, &id).await, "on_due", "voice").clone();
    assert_eq!((&record["status"], &record["attempts"]), (&json!("no_answer"), &json!(3)));
    // Voice is priced per day: three calls, one price.
    assert_eq!(record["cost"], "0.55");
}
