//! Webhooks out, to the merchant's own systems. A merchant registers endpoints and the event types each wants;
//! every domain event becomes one delivery per subscribed endpoint, signed with Standard Webhooks under a
//! `webhook-id` that stays the same across retries and replays. Failures are retried for about three days on a
//! schedule with jitter, honouring `Retry-After`; a `410 Gone` disables the endpoint; an endpoint whose delivery
//! exhausts the schedule is paused and the operator alerted (`WebhookEndpointPaused` on the bus).

mod deliveries;
mod endpoints;

pub use deliveries::*;
pub use endpoints::*;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use async_trait::async_trait;
    use chrono::{DateTime, Utc};
    use serde_json::{json, Value};

    use crate::domain::events::DomainEvent;
    use crate::domain::ids::{ChargeId, MerchantId, WebhookMessageId};

    use crate::adapters::memory::{MemoryQueue, MemoryStore, RecordingEventBus};
    use crate::domain::standard_webhooks::WebhookSecret;
    use crate::ports::store::{WebhookDeliveryStore, WebhookEndpointStore};
    use chrono::TimeZone;
    use std::sync::Mutex;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 15, 0, 0).unwrap()
    }

    /// Answers with the scripted statuses in turn (the last one repeats) and records what it got.
    struct ScriptedEndpoint {
        replies: Mutex<Vec<EndpointReply>>,
        seen: Mutex<Vec<Vec<(String, String)>>>,
    }

    impl ScriptedEndpoint {
        fn new(replies: Vec<EndpointReply>) -> Self {
            Self { replies: Mutex::new(replies), seen: Mutex::new(Vec::new()) }
        }
        fn status(s: u16) -> EndpointReply {
            EndpointReply::Answered { status: s, retry_after: None, body_excerpt: format!("status {s}") }
        }
    }

    #[async_trait]
    impl WebhookTransport for ScriptedEndpoint {
        async fn post(&self, _url: &str, headers: &[(&str, String)], _body: &str) -> EndpointReply {
            self.seen.lock().unwrap().push(headers.iter().map(|(k, v)| (k.to_string(), v.clone())).collect());
            let mut replies = self.replies.lock().unwrap();
            if replies.len() > 1 {
                replies.remove(0)
            } else {
                replies[0].clone()
            }
        }
    }

    struct World {
        store: MemoryStore,
        queue: MemoryQueue,
        events: RecordingEventBus,
        schedule: RetrySchedule,
    }

    impl World {
        fn new() -> Self {
            Self {
                store: MemoryStore::new(),
                queue: MemoryQueue::default(),
                events: RecordingEventBus::default(),
                schedule: RetrySchedule::standard(),
            }
        }
        fn webhooks<'a>(&'a self, transport: &'a dyn WebhookTransport) -> MerchantWebhooks<'a> {
            MerchantWebhooks { store: &self.store, queue: &self.queue, events: &self.events, transport, schedule: &self.schedule }
        }
        async fn endpoint(&self, types: Value) -> (WebhookEndpoint, String) {
            let (e, secret) = WebhookEndpoint::create(
                &json!({"url": "https://erp.example.com/hooks", "event_types": types}),
                &merchant(),
                UrlPolicy::default(),
                now(),
            )
            .unwrap();
            self.store.add_webhook_endpoint(&e).await.unwrap();
            (e, secret)
        }
    }

    fn merchant() -> MerchantId {
        MerchantId::parse("mer_01test").unwrap()
    }

    fn paid_event() -> DomainEvent {
        DomainEvent {
            id: "pix:E1:paid".into(),
            kind: crate::domain::events::EventKind::PaymentConfirmed,
            merchant_id: merchant(),
            charge_id: ChargeId::parse("chg_01abc").unwrap(),
            occurred_at: now(),
            data: json!({"amount": "150.00", "method": "pix"}),
        }
    }

    #[test]
    fn the_standard_schedule_spans_about_three_days_in_twelve_attempts() {
        let s = RetrySchedule::standard();
        assert_eq!(s.attempts(), 12);
        let minutes = s.total().as_secs() / 60;
        assert!((70 * 60..=72 * 60).contains(&minutes), "{minutes} min");
        assert_eq!(s.next_delay(1, None, 0), Some(Duration::from_secs(5)));
        assert_eq!(s.next_delay(11, None, 0), Some(Duration::from_secs(18 * 3600)));
        assert_eq!(s.next_delay(12, None, 0), None, "the round is over after the 12th attempt");
    }

    #[test]
    fn jitter_stays_within_ten_percent_and_retry_after_can_only_lengthen_the_wait() {
        let s = RetrySchedule::standard();
        assert_eq!(s.next_delay(4, None, 100), Some(Duration::from_secs(30 * 60 * 11 / 10)));
        assert_eq!(s.next_delay(4, None, -100), Some(Duration::from_secs(30 * 60 * 9 / 10)));
        assert_eq!(s.next_delay(1, Some(Duration::from_secs(120)), 0), Some(Duration::from_secs(120)));
        assert_eq!(s.next_delay(4, Some(Duration::from_secs(1)), 0), Some(Duration::from_secs(30 * 60)));
        assert_eq!(s.next_delay(1, Some(Duration::from_secs(10 * 86400)), 0), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("120", now()), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Sun, 22 Nov 2026 15:01:00 GMT", now()), Some(Duration::from_secs(60)));
        assert_eq!(parse_retry_after("soon", now()), None);
        assert_eq!(RetrySchedule::parse("1s,2m,3h").map(|s| s.total()), Some(Duration::from_secs(1 + 120 + 3 * 3600)));
        assert_eq!(RetrySchedule::parse("1x"), None);
    }

    #[test]
    fn endpoint_urls_on_any_non_public_address_are_refused() {
        let p = UrlPolicy::default();
        for (ip, why) in crate::domain::outbound::NOT_PUBLIC {
            let host = if ip.contains(':') { format!("[{ip}]") } else { ip.to_string() };
            let url = format!("https://{host}/hooks");
            let e = WebhookEndpoint::create(&json!({"url": url, "event_types": ["*"]}), &merchant(), p, now())
                .err()
                .unwrap_or_else(|| panic!("{url} ({why}) accepted"));
            assert_eq!(e.field, "url");
        }
        // The same addresses in the other spellings a URL parser accepts, and names that are never public.
        for url in [
            "https://2130706433/",
            "https://0x7f.1/",
            "https://0251.0376.0251.0376/",
            "https://[::ffff:a9fe:a9fe]/",
            "https://[0:0:0:0:0:ffff:7f00:1]/",
            "https://localhost./",
            "https://metadata/",
            "https://metadata.google.internal/",
        ] {
            assert!(p.parse(url).is_err(), "{url} accepted");
        }
    }

    #[test]
    fn endpoint_urls_must_be_public_https() {
        let p = UrlPolicy::default();
        assert!(p.parse("https://erp.example.com/hooks").is_ok());
        for bad in [
            "http://erp.example.com/h",
            "https://127.0.0.1/h",
            "https://10.0.0.7/h",
            "https://169.254.169.254/latest",
            "https://localhost:9001/",
            "https://[::1]/",
            "https://user:pw@erp.example.com/",
            "ftp://x.com",
        ] {
            assert!(p.parse(bad).is_err(), "{bad} accepted");
        }
        assert!(UrlPolicy { allow_local: true }.parse("http://127.0.0.1:8080/h").is_ok());
        let e = WebhookEndpoint::create(&json!({"url": "https://a.com", "event_types": ["charge.payed"]}), &merchant(), p, now()).unwrap_err();
        assert_eq!(e.field, "event_types");
    }

    #[tokio::test]
    async fn an_event_becomes_one_delivery_per_subscribed_endpoint_even_when_redelivered() {
        let w = World::new();
        let (all, _) = w.endpoint(json!(["*"])).await;
        let (paid, _) = w.endpoint(json!(["charge.paid"])).await;
        let (_created_only, _) = w.endpoint(json!(["charge.created"])).await;
        let transport = ScriptedEndpoint::new(vec![ScriptedEndpoint::status(200)]);
        let hooks = w.webhooks(&transport);
        assert_eq!(hooks.dispatch(&paid_event(), now()).await.unwrap(), 2);
        assert_eq!(hooks.dispatch(&paid_event(), now()).await.unwrap(), 2, "not attempted yet: queued again, same ids");
        let jobs = w.queue.drain_webhooks();
        assert_eq!(jobs.len(), 4);
        let ids: std::collections::BTreeSet<_> = jobs.iter().map(|j| j.delivery_id.clone()).collect();
        assert_eq!(ids, [WebhookMessageId::of(&all.id, "pix:E1:paid"), WebhookMessageId::of(&paid.id, "pix:E1:paid")].into_iter().collect());
        for job in &jobs {
            hooks.attempt(job, now()).await.unwrap();
        }
        assert_eq!(transport.seen.lock().unwrap().len(), 2, "the duplicate jobs found their deliveries done");
        assert_eq!(hooks.dispatch(&paid_event(), now()).await.unwrap(), 0, "delivered: a redelivered event adds nothing");
    }

    #[tokio::test]
    async fn deliveries_are_signed_for_every_current_secret_under_a_stable_id() {
        let w = World::new();
        let (mut endpoint, first) = w.endpoint(json!(["*"])).await;
        let transport = ScriptedEndpoint::new(vec![ScriptedEndpoint::status(503), ScriptedEndpoint::status(200)]);
        let hooks = w.webhooks(&transport);
        hooks.dispatch(&paid_event(), now()).await.unwrap();
        let job = w.queue.drain_webhooks().remove(0);
        let Disposition::RetryIn(wait) = hooks.attempt(&job, now()).await.unwrap() else { panic!("a 503 is retried") };
        assert!((4500..=5500).contains(&wait.as_millis()), "{wait:?}");
        // Rotated while the retry waits: both secrets sign the next attempt.
        let expected = endpoint.version;
        let second = endpoint.rotate_secret(chrono::Duration::hours(24), now());
        w.store.update_webhook_endpoint(&endpoint, expected).await.unwrap();
        let later = now() + chrono::Duration::seconds(6);
        assert_eq!(hooks.attempt(&job, later).await.unwrap(), Disposition::Done);
        let seen = transport.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2);
        let header = |i: usize, name: &str| seen[i].iter().find(|(k, _)| k == name).unwrap().1.clone();
        assert_eq!(header(0, "webhook-id"), header(1, "webhook-id"));
        let delivery = w.store.get_webhook_delivery(&merchant(), &job.delivery_id).await.unwrap().unwrap();
        for secret in [&first, &second] {
            let s = WebhookSecret::parse(secret).unwrap();
            let r = crate::domain::standard_webhooks::verify(
                &[s],
                Some(&header(1, "webhook-id")),
                Some(&header(1, "webhook-timestamp")),
                Some(&header(1, "webhook-signature")),
                delivery.payload.as_bytes(),
                later,
            );
            assert_eq!(r, Ok(()));
        }
        assert_eq!(delivery.status, DeliveryStatus::Succeeded);
        assert_eq!(delivery.attempts.iter().map(|a| a.status_code).collect::<Vec<_>>(), vec![Some(503), Some(200)]);
        // After the grace period only the new secret signs.
        assert_eq!(endpoint.signing_secrets(now() + chrono::Duration::hours(25)).len(), 1);
    }

    #[tokio::test]
    async fn a_410_disables_the_endpoint_and_alerts() {
        let w = World::new();
        let (endpoint, _) = w.endpoint(json!(["*"])).await;
        let transport = ScriptedEndpoint::new(vec![ScriptedEndpoint::status(410)]);
        let hooks = w.webhooks(&transport);
        hooks.dispatch(&paid_event(), now()).await.unwrap();
        let job = w.queue.drain_webhooks().remove(0);
        assert_eq!(hooks.attempt(&job, now()).await.unwrap(), Disposition::Done);
        let stored = w.store.get_webhook_endpoint(&merchant(), &endpoint.id).await.unwrap().unwrap();
        assert_eq!(stored.status.as_str(), "disabled");
        assert_eq!(w.events.events.lock().unwrap().last().unwrap().kind, "WebhookEndpointDisabled");
        let mut next = paid_event();
        next.id = "pix:E2:paid".into();
        hooks.dispatch(&next, now()).await.unwrap();
        assert!(w.queue.drain_webhooks().is_empty(), "a disabled endpoint gets no attempts");
        let skipped = w.store.get_webhook_delivery(&merchant(), &WebhookMessageId::of(&endpoint.id, "pix:E2:paid")).await.unwrap().unwrap();
        assert_eq!(skipped.status, DeliveryStatus::Skipped);
        assert!(matches!(replay(&w.store, &w.queue, &merchant(), &skipped.id).await, Err(ReplayError::EndpointNotEnabled("disabled"))));
    }

    #[tokio::test]
    async fn an_endpoint_failing_for_the_whole_schedule_is_paused_and_its_delivery_can_be_replayed() {
        let w = World::new();
        let (endpoint, _) = w.endpoint(json!(["*"])).await;
        let transport = ScriptedEndpoint::new(vec![EndpointReply::Unreachable("connection refused".into())]);
        let hooks = w.webhooks(&transport);
        hooks.dispatch(&paid_event(), now()).await.unwrap();
        let job = w.queue.drain_webhooks().remove(0);
        let mut at = now();
        let mut attempts = 0;
        loop {
            attempts += 1;
            match hooks.attempt(&job, at).await.unwrap() {
                Disposition::RetryIn(d) => at += chrono::Duration::from_std(d).unwrap(),
                Disposition::Done => break,
            }
        }
        assert_eq!(attempts, 12);
        let minutes = (at - now()).num_minutes();
        assert!((60 * 60..=80 * 60).contains(&minutes), "gave up after {minutes} min");
        let stored = w.store.get_webhook_endpoint(&merchant(), &endpoint.id).await.unwrap().unwrap();
        assert_eq!(stored.status.as_str(), "paused");
        assert_eq!(w.events.events.lock().unwrap().last().unwrap().kind, "WebhookEndpointPaused");

        // Fixed and re-enabled by the merchant: the failed delivery is replayed with its id and a fresh round.
        let mut enabled = stored.clone();
        enabled.update(&json!({"status": "enabled"}), UrlPolicy::default(), at).unwrap();
        w.store.update_webhook_endpoint(&enabled, stored.version).await.unwrap();
        let replayed = replay(&w.store, &w.queue, &merchant(), &job.delivery_id).await.unwrap();
        assert_eq!((replayed.status, replayed.round_attempts, replayed.replays), (DeliveryStatus::Pending, 0, 1));
        assert_eq!(w.queue.drain_webhooks(), vec![job]);
    }

    #[tokio::test]
    async fn an_attempt_in_flight_is_not_duplicated_by_a_second_job() {
        let w = World::new();
        w.endpoint(json!(["*"])).await;
        let transport = ScriptedEndpoint::new(vec![ScriptedEndpoint::status(200)]);
        let hooks = w.webhooks(&transport);
        hooks.dispatch(&paid_event(), now()).await.unwrap();
        let job = w.queue.drain_webhooks().remove(0);
        // Another worker holds the lease.
        let mut d = w.store.get_webhook_delivery(&merchant(), &job.delivery_id).await.unwrap().unwrap();
        d.leased_until = Some(now() + ATTEMPT_LEASE);
        d.version += 1;
        w.store.update_webhook_delivery(&d, d.version - 1).await.unwrap();
        assert_eq!(hooks.attempt(&job, now()).await.unwrap(), Disposition::RetryIn(Duration::from_secs(30)));
        assert!(transport.seen.lock().unwrap().is_empty());
    }
}
