//! Lambda entry-point glue: API Gateway requests ↔ `api::ApiRequest`/`ApiResponse`, EventBridge schedule
//! events → tick, SQS batches → delivery with partial batch failures. The functions' `main`s only wire.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::Utc;
use lambda_http::{Body, Request, Response};
use lambda_runtime::LambdaEvent;

use crate::domain::events::DomainEvent;
use crate::domain::notification::NotificationJob;
use crate::http::api::{ApiRequest, ApiResponse};
use crate::http::pages::PageResponse;
use crate::service::delivery::{Delivered, Delivery};
use crate::service::merchant_webhooks::{Disposition, MerchantWebhooks, WebhookJob};
use crate::service::registration::{PaymentSetupJob, Registrar};
use crate::service::tick::{Tick, TickReport};

pub fn api_request(req: Request) -> ApiRequest {
    let (parts, body) = req.into_parts();
    let headers = parts.headers.iter().filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_ascii_lowercase(), v.to_string()))).collect();
    let client_cert = client_certificate(&parts);
    ApiRequest {
        method: parts.method.to_string(),
        path: parts.uri.path_and_query().map_or_else(|| parts.uri.path().to_string(), |pq| pq.as_str().to_string()),
        headers,
        body: body.to_vec(),
        client_cert,
    }
}

/// The client certificate an HTTP API custom domain with mutual TLS accepted, from the request context
/// (`requestContext.authentication.clientCert`), which API Gateway writes and the caller cannot.
fn client_certificate(parts: &http::request::Parts) -> Option<crate::http::mtls::ClientCertificate> {
    use lambda_http::request::RequestContext;
    use lambda_http::RequestExt;
    let cert = match parts.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.authentication.as_ref()?.client_cert.as_ref()?,
        _ => return None,
    };
    crate::http::mtls::ClientCertificate::from_forwarded(
        cert.client_cert_pem.as_deref()?,
        cert.subject_dn.as_deref().unwrap_or_default(),
        cert.issuer_dn.as_deref().unwrap_or_default(),
        cert.serial_number.as_deref().unwrap_or_default(),
        cert.validity.not_before.as_deref()?,
        cert.validity.not_after.as_deref()?,
    )
}

/// JSON with the headers every response of ours carries: no caching of payer data, no sniffing, no framing.
pub fn http_response(r: ApiResponse) -> Response<Body> {
    let mut builder = Response::builder();
    for (name, value) in &r.headers {
        builder = builder.header(*name, value);
    }
    builder
        .status(r.status)
        .header("content-type", r.content_type.unwrap_or("application/json; charset=utf-8"))
        .header("cache-control", "no-store")
        .header("x-content-type-options", "nosniff")
        .header("x-frame-options", "DENY")
        .body(Body::Text(r.body))
        .expect("valid response parts")
}

/// A payer page or image, with the headers a page opened from a payment link needs: never cached (it holds
/// personal data behind a bearer token), never framed, no script at all, nothing loaded from elsewhere.
pub fn page_response(r: PageResponse) -> Response<Body> {
    let mut builder = Response::builder();
    if let Some(location) = &r.location {
        builder = builder.header("location", location);
    }
    builder
        .status(r.status)
        .header("content-type", r.content_type)
        .header("cache-control", "no-store")
        .header("x-content-type-options", "nosniff")
        .header("x-frame-options", "DENY")
        .header("referrer-policy", "no-referrer")
        .header("content-security-policy", "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
        .body(if r.content_type.starts_with("image/png") { Body::Binary(r.body) } else { Body::Text(String::from_utf8_lossy(&r.body).into_owned()) })
        .expect("valid response parts")
}

/// A scheduled tick: "now" is the event's time, so a tick can be replayed for any instant.
pub async fn tick(t: &Tick<'_>, event: LambdaEvent<EventBridgeEvent<serde_json::Value>>) -> Result<TickReport, lambda_runtime::Error> {
    let wall = Utc::now();
    let now = event.payload.time.unwrap_or(wall);
    let report = t.run(now, wall).await?;
    tracing::info!(queued = report.reminders_queued, read = report.items_read, overdue = report.charges_marked_overdue, "tick done");
    Ok(report)
}

/// What ruler-tick answers: the tick's report, and what the subscription generator did (None while the tick
/// asks for a continuation: the generator runs once, on the tick's last part).
#[derive(Debug, serde::Serialize)]
pub struct TickAndGeneration {
    #[serde(flatten)]
    pub tick: TickReport,
    pub subscriptions: Option<crate::service::SubscriptionRun>,
    pub replans: Option<crate::service::schedule::ReplanRun>,
}

/// ruler-tick: the tick, then the subscription charges due for generation (by the charge service, as any other
/// charge is made), then a few pages of queued re-plans (`Schedules::run_replans`). A generator failure is logged
/// and left for the next tick (its charges are keyed), never failing the reminders' tick.
pub async fn tick_and_generate(
    t: &Tick<'_>,
    charges: &crate::service::ChargeService<'_>,
    event: LambdaEvent<EventBridgeEvent<serde_json::Value>>,
) -> Result<TickAndGeneration, lambda_runtime::Error> {
    let now = event.payload.time.unwrap_or_else(Utc::now);
    let tick = self::tick(t, event).await?;
    let subscriptions = if tick.more {
        None
    } else {
        match charges.generate_subscription_charges(now).await {
            Ok(run) => {
                tracing::info!(
                    generated = run.charges_generated,
                    read = run.subscriptions_read,
                    paused = run.subscriptions_paused,
                    failed = run.subscriptions_failed,
                    "subscription charges generated"
                );
                Some(run)
            }
            Err(e) => {
                tracing::error!(error = %e, "subscription generation failed; the next tick retries");
                None
            }
        }
    };
    // Queued re-plans after a régua or an opt-out changed, a few pages a run.
    let replans =
        match (crate::service::schedule::Schedules { store: charges.store }).run_replans(now, crate::service::schedule::REPLAN_PAGES_PER_RUN).await {
            Ok(run) => Some(run),
            Err(e) => {
                tracing::error!(error = %e, "queued re-plans not run; the next tick retries");
                None
            }
        };
    Ok(TickAndGeneration { tick, subscriptions, replans })
}

/// Runs `handle` on each message of an SQS batch; only the ones it fails (to be retried) are reported back, so
/// the rest are deleted by Lambda (ReportBatchItemFailures), and after `maxReceiveCount` a failing one lands in
/// the dead-letter queue. A message that does not parse can never succeed: it is dropped loudly, not looped.
async fn each_message<J, F, Fut>(event: LambdaEvent<SqsEvent>, kind: &str, handle: F) -> SqsBatchResponse
where
    J: serde::de::DeserializeOwned,
    F: Fn(J) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut response = SqsBatchResponse::default();
    for record in event.payload.records {
        let id = record.message_id.clone().unwrap_or_default();
        match record.body.as_deref().map(serde_json::from_str::<J>) {
            Some(Ok(job)) => {
                if !handle(job).await {
                    response.add_failure(id);
                }
            }
            other => tracing::error!(message_id = %id, parsed = ?other.map(|r| r.map(|_| ())), kind, "unreadable job"),
        }
    }
    response
}

/// The notification queue: delivers each reminder. A send that failed for a passing reason waits on the queue
/// with exponential backoff and jitter (`delivery::retry_delay`, by the message's receive count) before its next
/// try; after the queue's last receive it goes to the dead-letter queue. `postpone` is `SqsQueue::postpone`.
pub async fn deliver_batch<P, PFut>(d: &Delivery<'_>, postpone: P, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, lambda_runtime::Error>
where
    P: Fn(String, std::time::Duration) -> PFut,
    PFut: std::future::Future<Output = Result<(), crate::ports::queue::EnqueueError>>,
{
    let mut response = SqsBatchResponse::default();
    for record in event.payload.records {
        let id = record.message_id.clone().unwrap_or_default();
        let job = match record.body.as_deref().map(serde_json::from_str::<NotificationJob>) {
            Some(Ok(job)) => job,
            other => {
                tracing::error!(message_id = %id, parsed = ?other.map(|r| r.map(|_| ())), "unreadable notification job");
                continue;
            }
        };
        match d.deliver(&job, Utc::now()).await {
            Ok(Delivered::Sent { .. }) => tracing::info!(charge_id = %job.charge_id, reminder = %job.reminder_id, "sent"),
            Ok(Delivered::NotSent { reason }) => tracing::info!(charge_id = %job.charge_id, reminder = %job.reminder_id, %reason, "not sent"),
            Err(e) => {
                let receives: u32 = record.attributes.get("ApproximateReceiveCount").and_then(|n| n.parse().ok()).unwrap_or(1);
                let delay = crate::service::delivery::retry_delay(receives, rand::Rng::gen_range(&mut rand::thread_rng(), -200..=200));
                tracing::warn!(charge_id = %job.charge_id, reminder = %job.reminder_id, error = %e, receives, delay_s = delay.as_secs(), "will retry");
                if let Some(receipt) = &record.receipt_handle {
                    if let Err(e) = postpone(receipt.clone(), delay).await {
                        tracing::warn!(message_id = %id, error = %e, "could not postpone; the message returns after the queue's visibility timeout");
                    }
                }
                response.add_failure(id);
            }
        }
    }
    Ok(response)
}

/// The payment-setup queue: registrations and write-offs; transient provider or store failures are retried.
pub async fn register_batch(r: &Registrar<'_>, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, lambda_runtime::Error> {
    Ok(each_message(event, "payment setup", |job: PaymentSetupJob| async move {
        match r.run(&job, Utc::now()).await {
            Ok(outcome) => {
                tracing::info!(charge_id = %job.charge_id, ?outcome, "payment setup");
                true
            }
            Err(e) => {
                tracing::warn!(charge_id = %job.charge_id, error = %e, "payment setup will retry");
                false
            }
        }
    })
    .await)
}

/// What the webhook queue carries: domain events routed from the bus by an EventBridge rule (fanned out into
/// deliveries), and delivery jobs.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum WebhookQueueMessage {
    Job(WebhookJob),
    Event(Box<EventBridgeEvent<DomainEvent>>),
}

/// The webhook queue. A delivery that must wait for its next attempt stays on the queue, invisible until then
/// (ChangeMessageVisibility, at most 12 h per hop), and is reported as a batch failure so Lambda keeps it.
/// `postpone(receipt_handle, delay)` is the queue adapter's (`SqsQueue::postpone`).
pub async fn webhook_batch<P, PFut>(
    w: &MerchantWebhooks<'_>,
    postpone: P,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, lambda_runtime::Error>
where
    P: Fn(String, std::time::Duration) -> PFut,
    PFut: std::future::Future<Output = Result<(), crate::ports::queue::EnqueueError>>,
{
    // The records go out in parallel: ten slow endpoints (10 s each at most) must fit the function's timeout.
    let postpone = &postpone;
    let failures = futures::future::join_all(event.payload.records.into_iter().map(|record| async move {
        let id = record.message_id.clone().unwrap_or_default();
        let message = record.body.as_deref().map(serde_json::from_str::<WebhookQueueMessage>);
        let now = Utc::now();
        let outcome = match message {
            Some(Ok(WebhookQueueMessage::Event(e))) => w.dispatch(&e.detail, now).await.map(|n| {
                tracing::info!(event_id = %e.detail.id, kind = %e.detail.kind, deliveries = n, "webhook fan-out");
                Disposition::Done
            }),
            Some(Ok(WebhookQueueMessage::Job(job))) => w.attempt(&job, now).await,
            other => {
                tracing::error!(message_id = %id, parsed = ?other.map(|r| r.map(|_| ())), "unreadable webhook queue message");
                return None;
            }
        };
        match outcome {
            Ok(Disposition::Done) => None,
            Ok(Disposition::RetryIn(delay)) => {
                if let Some(receipt) = &record.receipt_handle {
                    if let Err(e) = postpone(receipt.clone(), delay).await {
                        tracing::warn!(message_id = %id, error = %e, "could not postpone; the message returns after the queue's visibility timeout");
                    }
                }
                Some(id)
            }
            Err(e) => {
                tracing::warn!(message_id = %id, error = %e, "webhook work will retry");
                Some(id)
            }
        }
    }))
    .await;
    let mut response = SqsBatchResponse::default();
    for id in failures.into_iter().flatten() {
        response.add_failure(id);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An HTTP API event as API Gateway sends it behind a custom domain with mutual TLS.
    fn event(authentication: serde_json::Value) -> Request {
        let event = serde_json::json!({
            "version": "2.0", "routeKey": "POST /v1/webhooks/{provider}", "rawPath": "/v1/webhooks/pix/pix", "rawQueryString": "",
            "headers": {"content-type": "application/json", "x-client-cert": "forged"},
            "requestContext": {
                "accountId": "123456789012", "apiId": "api", "domainName": "pix.example.com", "domainPrefix": "pix",
                "http": {"method": "POST", "path": "/v1/webhooks/pix/pix", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "psp"},
                "requestId": "id", "routeKey": "POST /v1/webhooks/{provider}", "stage": "$default", "time": "07/Dec/2026:19:00:00 +0000", "timeEpoch": 0,
                "authentication": authentication
            },
            "body": "{}", "isBase64Encoded": false
        });
        lambda_http::request::from_str(&event.to_string()).unwrap()
    }

    #[test]
    fn the_forwarded_client_certificate_reaches_the_request() {
        let pem = include_str!("../../tests/fixtures/mtls/psp.pem");
        let req = api_request(event(serde_json::json!({"clientCert": {
            "clientCertPem": pem, "subjectDN": "CN=webhook.psp.example,O=psp,C=BR", "issuerDN": "CN=webhook.psp.example,O=psp,C=BR",
            "serialNumber": "22:4e:05", "validity": {"notBefore": "Dec  7 19:15:43 2026 GMT", "notAfter": "Nov 13 19:15:43 2126 GMT"}
        }})));
        let cert = req.client_cert.expect("certificate carried");
        // `openssl x509 -noout -fingerprint -sha256` of the fixture.
        assert_eq!(cert.fingerprint_hex(), "586ba6caffdb1d8653201b5ed4dfe96d01c4d79e2cc079cbf1b0989f31328b72");
        assert_eq!(cert.subject_dn, "CN=webhook.psp.example,O=psp,C=BR");
        assert_eq!(cert.not_after.to_rfc3339(), "2126-11-13T19:15:43+00:00");
    }

    #[test]
    fn without_mutual_tls_there_is_no_certificate_whatever_the_headers_say() {
        assert_eq!(api_request(event(serde_json::Value::Null)).client_cert, None);
        let garbled = api_request(event(
            serde_json::json!({"clientCert": {"clientCertPem": "not a certificate", "validity": {"notBefore": "x", "notAfter": "y"}}}),
        ));
        assert_eq!(garbled.client_cert, None);
    }
}
