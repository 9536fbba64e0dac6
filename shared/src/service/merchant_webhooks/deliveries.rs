//! Deliveries: one per event and subscribed endpoint, signed, retried on a schedule, logged and replayable.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::endpoints::*;
use crate::domain::events::{DomainEvent, EventBus};
use crate::domain::ids::{ChargeId, MerchantId, WebhookEndpointId, WebhookMessageId};
pub use crate::ports::jobs::WebhookJob;
use crate::ports::queue::JobQueue;
use crate::ports::store::{Store, StoreError};

/// What is kept of a response body in the delivery log.
const RESPONSE_EXCERPT: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its (next) attempt.
    Pending,
    Succeeded,
    /// Given up: the schedule ran out, or the endpoint answered 410.
    Failed,
    /// Not attempted: the endpoint was paused or disabled when the event happened. Can be replayed.
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    pub at: DateTime<Utc>,
    /// The HTTP status, if the endpoint answered.
    pub status_code: Option<u16>,
    /// Connection failure, timeout…
    pub error: Option<String>,
    pub duration_ms: u64,
    pub response_excerpt: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    /// The `webhook-id` header: the same on every attempt and replay.
    pub id: WebhookMessageId,
    pub merchant_id: MerchantId,
    pub endpoint_id: WebhookEndpointId,
    pub charge_id: ChargeId,
    pub event_id: String,
    pub event_type: String,
    /// The exact JSON body that is signed and sent.
    pub payload: String,
    pub status: DeliveryStatus,
    pub attempts: Vec<DeliveryAttempt>,
    /// Attempts since the delivery was made or last replayed: the position in the retry schedule.
    pub round_attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Set while an attempt is in flight, so a duplicate job does not send in parallel.
    pub leased_until: Option<DateTime<Utc>>,
    pub replays: u32,
    pub created_at: DateTime<Utc>,
    pub version: u64,
}

/// The delivery log keeps the latest attempts only; the first ones are the least useful.
const KEPT_ATTEMPTS: usize = 30;

/// Delays between attempts. The standard one spans about three days (71 h 36 min after the first attempt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
}

impl RetrySchedule {
    pub fn standard() -> Self {
        let (s, m, h) = (1u64, 60u64, 3600u64);
        let delays = [5 * s, m, 5 * m, 30 * m, 2 * h, 5 * h, 10 * h, 12 * h, 12 * h, 12 * h, 18 * h];
        Self { delays: delays.iter().map(|d| Duration::from_secs(*d)).collect() }
    }

    /// "5s,1m,2h": for local runs and tests, where three days cannot be waited for.
    pub fn parse(s: &str) -> Option<Self> {
        let delays: Option<Vec<Duration>> = s
            .split(',')
            .map(str::trim)
            .map(|p| {
                let (n, unit) = p.split_at(p.find(|c: char| !c.is_ascii_digit())?);
                let n: u64 = n.parse().ok()?;
                Some(Duration::from_secs(match unit {
                    "s" => n,
                    "m" => n * 60,
                    "h" => n * 3600,
                    _ => return None,
                }))
            })
            .collect();
        delays.filter(|d| !d.is_empty()).map(|delays| Self { delays })
    }

    /// Attempts in one round: the first plus one per delay.
    pub fn attempts(&self) -> usize {
        self.delays.len() + 1
    }

    pub fn total(&self) -> Duration {
        self.delays.iter().sum()
    }

    /// The wait after the `failed`-th failed attempt of a round (1-based), or None when the round is over.
    /// `jitter_permille` in [-100, 100] moves it by up to ±10 %, so endpoints that failed together are not
    /// retried together; a `Retry-After` longer than the schedule's wait is honoured (up to `MAX_RETRY_AFTER`).
    pub fn next_delay(&self, failed: usize, retry_after: Option<Duration>, jitter_permille: i64) -> Option<Duration> {
        let base = *self.delays.get(failed.checked_sub(1)?)?;
        let base_ms = base.as_millis() as i64;
        let jittered = Duration::from_millis((base_ms + base_ms * jitter_permille.clamp(-100, 100) / 1000).max(0) as u64);
        Some(jittered.max(retry_after.unwrap_or_default().min(MAX_RETRY_AFTER)))
    }
}

/// A `Retry-After` value: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    (at - now).to_std().ok()
}

/// What the merchant's endpoint did with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointReply {
    Answered {
        status: u16,
        retry_after: Option<String>,
        body_excerpt: String,
    },
    /// No HTTP answer: connection refused, TLS failure, timeout.
    Unreachable(String),
}

/// Sends one signed POST. Redirects are not followed (a webhook URL that moves must be updated).
#[async_trait]
pub trait WebhookTransport: Send + Sync {
    async fn post(&self, url: &str, headers: &[(&str, String)], body: &str) -> EndpointReply;
}

pub type WebhookError = crate::ports::port_error::PortError;

/// What the queue should do with a job once handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    Done,
    /// Bring the job back after this long (SQS visibility), when the next attempt is due.
    RetryIn(Duration),
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("entrega não encontrada / delivery not found")]
    NotFound,
    #[error("o endpoint não está ativo ({0}); ative-o antes / the endpoint is {0}; enable it first")]
    EndpointNotEnabled(&'static str),
    #[error(transparent)]
    Webhook(#[from] WebhookError),
}

impl From<StoreError> for ReplayError {
    fn from(e: StoreError) -> Self {
        Self::Webhook(e.into())
    }
}

pub struct MerchantWebhooks<'a> {
    pub store: &'a dyn Store,
    pub queue: &'a dyn JobQueue,
    pub events: &'a dyn EventBus,
    pub transport: &'a dyn WebhookTransport,
    pub schedule: &'a RetrySchedule,
}

/// The body every delivery carries (Standard Webhooks' recommended shape): `type`, `timestamp`, `data`, and
/// `livemode`, the merchant's mode, so a receiver shared by test and live can keep test events off real books.
pub fn payload_of(event: &DomainEvent, event_type: &str, livemode: bool) -> String {
    let mut data = serde_json::Map::new();
    data.insert("charge_id".into(), json!(event.charge_id));
    data.insert("event_id".into(), json!(event.id));
    if let Value::Object(extra) = &event.data {
        for (k, v) in extra {
            data.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    json!({
        "type": event_type,
        "timestamp": event.occurred_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "livemode": livemode,
        "data": data,
    })
    .to_string()
}

impl MerchantWebhooks<'_> {
    /// Turns a domain event into deliveries for the endpoints that want it. Safe to repeat: a redelivered event
    /// finds its deliveries made, and only re-queues ones that never got their first attempt.
    pub async fn dispatch(&self, event: &DomainEvent, now: DateTime<Utc>) -> Result<usize, WebhookError> {
        let Some(event_type) = event_type_of(event.kind) else {
            return Ok(0);
        };
        let endpoints: Vec<WebhookEndpoint> =
            self.store.webhook_endpoints_of(&event.merchant_id).await?.into_iter().filter(|e| e.subscribes(event_type)).collect();
        if endpoints.is_empty() {
            return Ok(0);
        }
        // A merchant stored without a mode is live (see `merchant::Mode`); one not found is taken as live too.
        let livemode = self.store.get_merchant(&event.merchant_id).await?.is_none_or(|m| m.mode.is_live());
        let mut jobs = Vec::new();
        for endpoint in endpoints {
            let delivery = WebhookDelivery {
                id: WebhookMessageId::of(&endpoint.id, &event.id),
                merchant_id: event.merchant_id.clone(),
                endpoint_id: endpoint.id.clone(),
                charge_id: event.charge_id.clone(),
                event_id: event.id.clone(),
                event_type: event_type.to_string(),
                payload: payload_of(event, event_type, livemode),
                status: if endpoint.status == EndpointStatus::Enabled { DeliveryStatus::Pending } else { DeliveryStatus::Skipped },
                attempts: Vec::new(),
                round_attempts: 0,
                next_attempt_at: None,
                leased_until: None,
                replays: 0,
                created_at: now,
                version: 1,
            };
            let stored = if self.store.add_webhook_delivery(&delivery).await? {
                delivery
            } else {
                match self.store.get_webhook_delivery(&event.merchant_id, &delivery.id).await? {
                    Some(d) => d,
                    None => continue,
                }
            };
            if stored.status == DeliveryStatus::Pending && stored.attempts.is_empty() {
                jobs.push(WebhookJob { merchant_id: stored.merchant_id.clone(), delivery_id: stored.id.clone() });
            }
        }
        self.queue.enqueue_webhooks(&jobs).await?;
        Ok(jobs.len())
    }

    /// Makes the delivery's next attempt if it is due.
    pub async fn attempt(&self, job: &WebhookJob, now: DateTime<Utc>) -> Result<Disposition, WebhookError> {
        let Some(mut delivery) = self.store.get_webhook_delivery(&job.merchant_id, &job.delivery_id).await? else {
            tracing::warn!(delivery_id = %job.delivery_id, "webhook delivery not found");
            return Ok(Disposition::Done);
        };
        if delivery.status != DeliveryStatus::Pending {
            return Ok(Disposition::Done);
        }
        if let Some(wait) = [delivery.next_attempt_at, delivery.leased_until].into_iter().flatten().filter(|t| *t > now).max() {
            return Ok(Disposition::RetryIn((wait - now).to_std().unwrap_or_default()));
        }
        let endpoint = self.store.get_webhook_endpoint(&job.merchant_id, &delivery.endpoint_id).await?;
        let Some(endpoint) = endpoint.filter(|e| e.status == EndpointStatus::Enabled) else {
            // Deleted, paused or disabled since: kept in the log, replayable once it is enabled again.
            let expected = delivery.version;
            delivery.status = DeliveryStatus::Skipped;
            delivery.version += 1;
            self.store.update_webhook_delivery(&delivery, expected).await.or_else(ignore_conflict)?;
            return Ok(Disposition::Done);
        };

        // Claim the attempt: a duplicate job racing this one loses here instead of sending twice.
        let claimed = delivery.version;
        delivery.leased_until = Some(now + ATTEMPT_LEASE);
        delivery.version += 1;
        match self.store.update_webhook_delivery(&delivery, claimed).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Ok(Disposition::Done),
            Err(e) => return Err(e.into()),
        }

        let timestamp = now.timestamp();
        let signature = endpoint
            .signing_secrets(now)
            .iter()
            .map(|s| s.sign(delivery.id.as_str(), timestamp, delivery.payload.as_bytes()))
            .collect::<Vec<_>>()
            .join(" ");
        let headers = [
            ("content-type", "application/json".to_string()),
            ("user-agent", "cobranca-webhooks/1".to_string()),
            ("webhook-id", delivery.id.to_string()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
        ];
        let started = std::time::Instant::now();
        let reply = self.transport.post(&endpoint.url, &headers, &delivery.payload).await;
        let duration_ms = started.elapsed().as_millis() as u64;

        let mut attempt = DeliveryAttempt { at: now, status_code: None, error: None, duration_ms, response_excerpt: String::new() };
        let mut retry_after = None;
        enum Verdict {
            Delivered,
            Gone,
            Failed,
        }
        let verdict = match reply {
            EndpointReply::Answered { status, retry_after: ra, body_excerpt } => {
                attempt.status_code = Some(status);
                attempt.response_excerpt = body_excerpt.chars().take(RESPONSE_EXCERPT).collect();
                retry_after = ra.as_deref().and_then(|v| parse_retry_after(v, now));
                match status {
                    200..=299 => Verdict::Delivered,
                    410 => Verdict::Gone,
                    _ => Verdict::Failed,
                }
            }
            EndpointReply::Unreachable(e) => {
                attempt.error = Some(e.chars().take(RESPONSE_EXCERPT).collect());
                Verdict::Failed
            }
        };
        delivery.attempts.push(attempt);
        if delivery.attempts.len() > KEPT_ATTEMPTS {
            delivery.attempts.remove(0);
        }
        delivery.round_attempts += 1;
        delivery.leased_until = None;
        let mut disposition = Disposition::Done;
        let mut endpoint_change = None;
        match verdict {
            Verdict::Delivered => {
                delivery.status = DeliveryStatus::Succeeded;
                delivery.next_attempt_at = None;
            }
            Verdict::Gone => {
                delivery.status = DeliveryStatus::Failed;
                delivery.next_attempt_at = None;
                endpoint_change = Some(EndpointStatus::Disabled { since: now, reason: "the endpoint answered 410 Gone".into() });
            }
            Verdict::Failed => {
                let jitter = (rand::random::<u32>() % 201) as i64 - 100;
                match self.schedule.next_delay(delivery.round_attempts as usize, retry_after, jitter) {
                    Some(delay) => {
                        delivery.next_attempt_at = Some(now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX));
                        disposition = Disposition::RetryIn(delay);
                    }
                    None => {
                        delivery.status = DeliveryStatus::Failed;
                        delivery.next_attempt_at = None;
                        let reason = format!("{} attempts failed over {} hours", delivery.round_attempts, self.schedule.total().as_secs() / 3600);
                        endpoint_change = Some(EndpointStatus::Paused { since: now, reason });
                    }
                }
            }
        }
        let expected = delivery.version;
        delivery.version += 1;
        self.store.update_webhook_delivery(&delivery, expected).await?;
        if let Some(status) = endpoint_change {
            self.change_endpoint_status(&endpoint, status, &delivery, now).await?;
        }
        Ok(disposition)
    }

    async fn change_endpoint_status(
        &self,
        endpoint: &WebhookEndpoint,
        status: EndpointStatus,
        cause: &WebhookDelivery,
        now: DateTime<Utc>,
    ) -> Result<(), WebhookError> {
        let mut current = endpoint.clone();
        for _ in 0..5 {
            if current.status != EndpointStatus::Enabled {
                return Ok(());
            }
            let expected = current.version;
            current.status = status.clone();
            current.updated_at = now;
            current.version += 1;
            match self.store.update_webhook_endpoint(&current, expected).await {
                Ok(()) => {
                    tracing::warn!(endpoint_id = %current.id, status = current.status.as_str(), "webhook endpoint stopped");
                    // The operator hears of it (template.yaml routes this to the alerts topic).
                    self.events
                        .publish(&[DomainEvent {
                            id: format!("{}:{}:{}", current.id, current.status.as_str(), now.timestamp_millis()),
                            kind: if matches!(status, EndpointStatus::Paused { .. }) {
                                crate::domain::events::EventKind::WebhookEndpointPaused
                            } else {
                                crate::domain::events::EventKind::WebhookEndpointDisabled
                            },
                            merchant_id: current.merchant_id.clone(),
                            charge_id: cause.charge_id.clone(),
                            occurred_at: now,
                            data: json!({"endpoint_id": current.id, "url": current.url, "status": current.status, "last_delivery_id": cause.id}),
                        }])
                        .await?;
                    return Ok(());
                }
                Err(StoreError::Conflict) => match self.store.get_webhook_endpoint(&current.merchant_id, &current.id).await? {
                    Some(fresh) => current = fresh,
                    None => return Ok(()),
                },
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict.into())
    }
}

fn ignore_conflict(e: StoreError) -> Result<(), StoreError> {
    match e {
        StoreError::Conflict => Ok(()),
        e => Err(e),
    }
}

/// Sends a delivery again, with the same `webhook-id` and body and a fresh retry schedule.
pub async fn replay(store: &dyn Store, queue: &dyn JobQueue, merchant: &MerchantId, id: &WebhookMessageId) -> Result<WebhookDelivery, ReplayError> {
    for _ in 0..5 {
        let mut delivery = store.get_webhook_delivery(merchant, id).await?.ok_or(ReplayError::NotFound)?;
        let endpoint = store.get_webhook_endpoint(merchant, &delivery.endpoint_id).await?.ok_or(ReplayError::EndpointNotEnabled("deleted"))?;
        if endpoint.status != EndpointStatus::Enabled {
            return Err(ReplayError::EndpointNotEnabled(endpoint.status.as_str()));
        }
        let expected = delivery.version;
        delivery.status = DeliveryStatus::Pending;
        delivery.round_attempts = 0;
        delivery.next_attempt_at = None;
        delivery.leased_until = None;
        delivery.replays += 1;
        delivery.version += 1;
        match store.update_webhook_delivery(&delivery, expected).await {
            Ok(()) => {
                queue
                    .enqueue_webhooks(&[WebhookJob { merchant_id: merchant.clone(), delivery_id: delivery.id.clone() }])
                    .await
                    .map_err(WebhookError::from)?;
                return Ok(delivery);
            }
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Conflict.into())
}
