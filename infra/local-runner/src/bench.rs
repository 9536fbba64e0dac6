//! `local-runner bench …`: the measurements behind `make bench` (issue #9).
//!
//! - `cold-start`: each function's release binary under a one-shot Lambda Runtime API: init (process start →
//!   first `GET /runtime/invocation/next`), first invocation (event handed over → response posted) and peak RSS
//!   (VmHWM), the median of several runs, beside the same figures for `empty-function` built with the same profile.
//! - `tick-scale`: see `tick_scale`.
//! - `cost`: see `cost`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::{oneshot, Mutex};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What one cold start measured.
#[derive(Debug, Clone, Copy)]
struct Sample {
    init: Duration,
    first_invocation: Duration,
    peak_rss_kb: u64,
}

#[derive(Default)]
struct OneShot {
    event: Option<Value>,
    polled: Option<oneshot::Sender<Instant>>,
    answered: Option<oneshot::Sender<(Instant, bool)>>,
}

async fn next(State(s): State<Arc<Mutex<OneShot>>>) -> axum::response::Response {
    let (event, polled) = {
        let mut s = s.lock().await;
        (s.event.take(), s.polled.take())
    };
    let Some(event) = event else {
        // Already invoked once: stay idle, like a frozen Lambda sandbox.
        std::future::pending::<()>().await;
        unreachable!()
    };
    if let Some(p) = polled {
        let _ = p.send(Instant::now());
    }
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", "bench-1".parse().expect("static"));
    let deadline = chrono::Utc::now().timestamp_millis() + 60_000;
    headers.insert("lambda-runtime-deadline-ms", deadline.to_string().parse().expect("digits"));
    headers.insert("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:000000000000:function:bench".parse().expect("static"));
    headers.insert("lambda-runtime-trace-id", "Root=1-bench".parse().expect("static"));
    (headers, event.to_string()).into_response()
}

async fn answer(State(s): State<Arc<Mutex<OneShot>>>, ok: bool) {
    if let Some(a) = s.lock().await.answered.take() {
        let _ = a.send((Instant::now(), ok));
    }
}

async fn measure(binary: &Path, env: &[(String, String)], event: &Value) -> Result<Sample, BoxError> {
    let (polled_tx, polled_rx) = oneshot::channel();
    let (answered_tx, answered_rx) = oneshot::channel();
    let state = Arc::new(Mutex::new(OneShot { event: Some(event.clone()), polled: Some(polled_tx), answered: Some(answered_tx) }));
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(|s: State<Arc<Mutex<OneShot>>>, _b: Bytes| answer(s, true)))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(|s: State<Arc<Mutex<OneShot>>>, _b: Bytes| answer(s, false)))
        .route("/2018-06-01/runtime/init/error", post(|s: State<Arc<Mutex<OneShot>>>, _b: Bytes| answer(s, false)))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .envs(env.iter().cloned())
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().unwrap_or_default();
    let result = async {
        let polled = tokio::time::timeout(Duration::from_secs(20), polled_rx).await.map_err(|_| "no poll within 20 s")??;
        let (answered, ok) = tokio::time::timeout(Duration::from_secs(60), answered_rx).await.map_err(|_| "no answer within 60 s")??;
        if !ok {
            return Err::<Sample, BoxError>("the function reported an error".into());
        }
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let peak_rss_kb =
            status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0);
        Ok(Sample { init: polled - started, first_invocation: answered - polled, peak_rss_kb })
    }
    .await;
    let _ = child.kill().await;
    server.abort();
    result
}

fn http_event(method: &str, path: &str, headers: Value, body: &str) -> Value {
    json!({
        "version": "2.0", "routeKey": format!("{method} {path}"), "rawPath": path, "rawQueryString": "",
        "headers": headers, "body": body, "isBase64Encoded": false,
        "requestContext": {"accountId": "000000000000", "apiId": "bench", "domainName": "bench.local", "domainPrefix": "bench",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"},
            "requestId": "bench", "routeKey": format!("{method} {path}"), "stage": "$default", "time": "22/Nov/2026:12:00:00 +0000", "timeEpoch": 1795348800000i64}
    })
}

fn sqs_event(body: Value) -> Value {
    json!({"Records": [{"messageId": "bench-1", "receiptHandle": "bench", "body": body.to_string(),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795348800000", "SenderId": "bench", "ApproximateFirstReceiveTimestamp": "1795348800001"},
        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:bench", "awsRegion": "us-east-1"}]})
}

/// Each function's first invocation: a realistic request that touches the store once or twice.
fn first_events() -> Vec<(&'static str, Value)> {
    let now = chrono::Utc::now().to_rfc3339();
    vec![
        ("empty-function", json!({"hello": "world"})),
        ("create-charge", http_event("GET", "/v1/charges/chg_01bench", json!({"authorization": format!("Bearer ck_{}", "0".repeat(64))}), "")),
        ("payment-webhook", http_event("POST", "/v1/webhooks/cobranca", json!({"content-type": "application/json"}), "{}")),
        ("pay-page", http_event("GET", "/pay/bench-unknown-token", json!({}), "")),
        (
            "ruler-tick",
            json!({"version": "0", "id": "bench", "detail-type": "Scheduled Event", "source": "aws.events", "account": "000000000000", "time": now, "region": "us-east-1", "resources": [], "detail": {}}),
        ),
        (
            "send-notification",
            sqs_event(json!({"merchant_id": "mer_bench", "charge_id": "chg_bench", "reminder_id": "before_due_5d.0.email", "as_of": now})),
        ),
        (
            "register-payment",
            sqs_event(json!({"merchant_id": "mer_bench", "charge_id": "chg_bench", "task": "register_boleto", "nosso_numero": "1"})),
        ),
        ("deliver-webhooks", sqs_event(json!({"merchant_id": "mer_bench", "delivery_id": "msg_bench"}))),
    ]
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_micros() as f64 / 1000.0)
}

pub async fn cold_start(bin_dir: PathBuf, zip_dir: PathBuf, runs: usize, out: PathBuf) -> Result<(), BoxError> {
    let mut env: Vec<(String, String)> = std::env::vars().filter(|(k, _)| k.starts_with("COBRANCA_") || k.starts_with("AWS_")).collect();
    env.push(("COBRANCA_WEBHOOK_SECRET".into(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()));
    env.push(("COBRANCA_PUBLIC_BASE_URL".into(), "http://127.0.0.1:3000".into()));
    env.push(("RUST_LOG".into(), "warn".into()));
    let mut rows = Vec::new();
    for (name, event) in first_events() {
        let binary = bin_dir.join(name);
        if !binary.exists() {
            return Err(format!("{} missing: build it with `cargo build --release -p {name}`", binary.display()).into());
        }
        let mut samples = Vec::new();
        // One warm-up run: the first exec of a fresh binary pays for reading it from disk.
        measure(&binary, &env, &event).await.map_err(|e| format!("{name}: {e}"))?;
        for _ in 0..runs {
            samples.push(measure(&binary, &env, &event).await.map_err(|e| format!("{name}: {e}"))?);
        }
        let init = median(samples.iter().map(|s| s.init).collect());
        let first = median(samples.iter().map(|s| s.first_invocation).collect());
        let mut rss: Vec<u64> = samples.iter().map(|s| s.peak_rss_kb).collect();
        rss.sort();
        let zip = std::fs::metadata(zip_dir.join(name).join("bootstrap.zip")).map(|m| m.len()).ok();
        rows.push((name, init, first, rss[rss.len() / 2], zip));
    }
    let empty_init = rows[0].1;
    let mut table = String::from(
        "| function | init ms | × empty (≤ 1.3) | first invocation ms | peak RSS MB (≤ 32) | zip MB (≤ 4) |\n|---|---|---|---|---|---|\n",
    );
    let mut json_rows = Vec::new();
    for (name, init, first, rss_kb, zip) in &rows {
        let ratio = init.as_secs_f64() / empty_init.as_secs_f64().max(1e-9);
        let rss_mb = *rss_kb as f64 / 1024.0;
        let flag = |ok: bool| if ok { "" } else { " **miss**" };
        let zip_text = zip.map_or("–".to_string(), |z| format!("{:.2}{}", z as f64 / 1_048_576.0, flag(z as f64 / 1_048_576.0 <= 4.0)));
        table += &format!(
            "| {name} | {} | {:.2}{} | {} | {:.1}{} | {} |\n",
            ms(*init),
            ratio,
            flag(ratio <= 1.3),
            ms(*first),
            rss_mb,
            flag(rss_mb <= 32.0),
            zip_text
        );
        json_rows.push(json!({"function": name, "init_ms": init.as_secs_f64() * 1000.0, "init_ratio": ratio, "first_invocation_ms": first.as_secs_f64() * 1000.0, "peak_rss_mb": rss_mb, "zip_bytes": zip}));
    }
    println!("Cold start (median of {runs} runs; the binaries in {}):\n\n{table}", bin_dir.display());
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&out, serde_json::to_string_pretty(&json!({"runs": runs, "rows": json_rows}))?)?;
    std::fs::write(out.with_extension("md"), table)?;
    Ok(())
}

/// Counts what passes to AWS: calls per service operation, DynamoDB items read and consumed capacity. It sits
/// between our SDK clients and LocalStack / DynamoDB Local and asks DynamoDB for `ReturnConsumedCapacity: TOTAL`
/// on every call (the local endpoints do not check signatures, so the edited body is accepted).
#[derive(Default, Debug, Clone)]
pub struct AwsTally {
    pub calls: std::collections::BTreeMap<String, u64>,
    pub read_units: f64,
    pub write_units: f64,
    pub items_read: u64,
}

impl AwsTally {
    pub fn calls_of(&self, prefix: &str) -> u64 {
        self.calls.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, v)| v).sum()
    }
}

pub struct CountingProxy {
    pub url: String,
    pub tally: Arc<std::sync::Mutex<AwsTally>>,
}

const WRITES: &[&str] = &["PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"];

pub async fn counting_proxy(upstream: String) -> Result<CountingProxy, BoxError> {
    let tally = Arc::new(std::sync::Mutex::new(AwsTally::default()));
    let client = reqwest::Client::new();
    let state = (tally.clone(), client, upstream.trim_end_matches('/').to_string());
    async fn forward(
        State((tally, client, upstream)): State<(Arc<std::sync::Mutex<AwsTally>>, reqwest::Client, String)>,
        method: axum::http::Method,
        uri: axum::http::Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> axum::response::Response {
        let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        // "DynamoDB_20120810.Query" → ("dynamodb", "Query"); "AmazonSQS.SendMessageBatch"; "AWSEvents.PutEvents".
        let (service, op) = match target.split_once('.') {
            Some((s, o)) if s.starts_with("DynamoDB") => ("dynamodb", o.to_string()),
            Some((s, o)) if s.starts_with("AmazonSQS") => ("sqs", o.to_string()),
            Some((s, o)) if s.starts_with("AWSEvents") => ("events", o.to_string()),
            Some((s, o)) => (s, o.to_string()),
            None => ("other", uri.path().to_string()),
        };
        let service = service.to_string();
        let mut body = body.to_vec();
        if service == "dynamodb" {
            if let Ok(Value::Object(mut m)) = serde_json::from_slice::<Value>(&body) {
                m.insert("ReturnConsumedCapacity".into(), json!("TOTAL"));
                body = serde_json::to_vec(&m).expect("json");
            }
        }
        let body_copy = body.clone();
        let mut request = client.request(method, format!("{upstream}{}", uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")));
        for (k, v) in &headers {
            if k != "host" && k != "content-length" {
                request = request.header(k, v);
            }
        }
        let response = match request.body(body).send().await {
            Ok(r) => r,
            Err(e) => return (axum::http::StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
        };
        let status = response.status();
        let mut out_headers = HeaderMap::new();
        for (k, v) in response.headers() {
            if k != "content-length" && k != "transfer-encoding" && k != "connection" {
                out_headers.insert(k.clone(), v.clone());
            }
        }
        let bytes = response.bytes().await.unwrap_or_default();
        let events_in_request = if op == "PutEvents" {
            serde_json::from_slice::<Value>(&body_copy).ok().and_then(|v| v["Entries"].as_array().map(|a| a.len() as u64)).unwrap_or(0)
        } else {
            0
        };
        {
            let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
            // An empty long poll is the event-source mapping's cost, not the workload's: counted apart.
            let empty_receive = op == "ReceiveMessage"
                && serde_json::from_slice::<Value>(&bytes).ok().is_none_or(|v| v["Messages"].as_array().is_none_or(|m| m.is_empty()));
            let key = if empty_receive { format!("{service}:ReceiveMessage(empty)") } else { format!("{service}:{op}") };
            *t.calls.entry(key).or_default() += 1;
            if events_in_request > 0 {
                *t.calls.entry("events:entries".to_string()).or_default() += events_in_request;
            }
            if service == "dynamodb" {
                if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
                    let units: f64 = match &v["ConsumedCapacity"] {
                        Value::Array(a) => a.iter().filter_map(|c| c["CapacityUnits"].as_f64()).sum(),
                        c => c["CapacityUnits"].as_f64().unwrap_or(0.0),
                    };
                    if WRITES.contains(&op.as_str()) {
                        t.write_units += units;
                    } else {
                        t.read_units += units;
                    }
                    t.items_read += match op.as_str() {
                        "Query" | "Scan" => v["ScannedCount"].as_u64().unwrap_or(0),
                        "GetItem" => u64::from(v.get("Item").is_some()),
                        _ => 0,
                    };
                }
            }
        }
        (status, out_headers, bytes).into_response()
    }
    let app = Router::new().fallback(forward).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(CountingProxy { url, tally })
}

/// `tick-scale`: a table seeded with `charges` charges, each with one pending reminder, of which `due` are due
/// now and the rest spread over the next 30 days; then one tick, counted through the proxy.
/// With `dynamodb_endpoint`, the table is created there (a standalone DynamoDB Local, much faster to seed than
/// through LocalStack) from template.yaml's own definition; SQS stays on LocalStack.
pub async fn tick_scale(charges: usize, due: usize, writers: usize, dynamodb_endpoint: Option<String>, template: PathBuf) -> Result<(), BoxError> {
    use cobranca::adapters::dynamodb::DynamoStore;
    use cobranca::adapters::sqs::SqsQueue;
    use cobranca::notification::Channel;
    use cobranca::ruler::{Action, Reminder, ReminderState, Step};

    let (endpoint, table) = match &dynamodb_endpoint {
        Some(e) => {
            let table = format!("cobranca-bench-{}", ulid::Ulid::new().to_string().to_lowercase());
            let ddb = aws_sdk_dynamodb::Client::new(&aws_config::from_env().endpoint_url(e).load().await);
            create_table_from_template(&ddb, &table, &template).await?;
            (e.clone(), table)
        }
        None => (
            std::env::var("AWS_ENDPOINT_URL").map_err(|_| "AWS_ENDPOINT_URL not set")?,
            std::env::var("COBRANCA_TABLE").map_err(|_| "COBRANCA_TABLE not set (make bench loads the bench stack)")?,
        ),
    };
    let ddb_config = aws_config::from_env().endpoint_url(&endpoint).load().await;
    let direct = DynamoStore::new(aws_sdk_dynamodb::Client::new(&ddb_config), table.clone());

    let now = chrono::Utc::now();
    let template = template_charge(now);
    let seed_started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let direct = Arc::new(direct);
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let (next, direct, template) = (next.clone(), direct.clone(), template.clone());
        tasks.push(tokio::spawn(async move {
            const BATCH: usize = 500;
            loop {
                let start = next.fetch_add(BATCH, std::sync::atomic::Ordering::SeqCst);
                if start >= charges {
                    return Ok::<(), cobranca::store::StoreError>(());
                }
                let batch: Vec<_> = (start..(start + BATCH).min(charges))
                    .map(|i| {
                        let mut c = template.clone();
                        c.id = cobranca::ids::ChargeId::generate();
                        // The first `due` are due half a minute ago; the others later, over 30 days.
                        let at = if i < due {
                            now - chrono::Duration::seconds(30)
                        } else {
                            now + chrono::Duration::minutes(1 + (i as i64 * 7919) % (30 * 24 * 60))
                        };
                        let r = Reminder {
                            merchant_id: c.merchant_id.clone(),
                            charge_id: c.id.clone(),
                            step: Step::BeforeDue { days: 5 },
                            occurrence: 0,
                            generation: 0,
                            action: Action::Notify(Channel::Email),
                            due_at: at,
                            state: ReminderState::Planned,
                        };
                        (c, vec![r])
                    })
                    .collect();
                direct.seed_charges(&batch).await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let seeding = seed_started.elapsed();
    println!(
        "seeded {charges} charges ({} items) in {:.0} s ({:.0} items/s, {writers} writers)",
        charges * 2,
        seeding.as_secs_f64(),
        (charges * 2) as f64 / seeding.as_secs_f64()
    );

    // The tick, counted.
    let ddb_proxy = counting_proxy(endpoint).await?;
    let sqs_proxy = counting_proxy(std::env::var("AWS_ENDPOINT_URL").map_err(|_| "AWS_ENDPOINT_URL not set (SQS)")?).await?;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws_config::from_env().endpoint_url(&ddb_proxy.url).load().await), table);
    use cobranca::store::*;
    store.advance_tick_watermark(now - chrono::Duration::minutes(1)).await?;
    ddb_proxy.tally.lock().unwrap_or_else(|p| p.into_inner()).calls.clear();
    let queue = SqsQueue::new(
        aws_sdk_sqs::Client::new(&aws_config::from_env().endpoint_url(&sqs_proxy.url).load().await),
        std::env::var("COBRANCA_NOTIFICATION_QUEUE_URL")?,
        None,
    );
    let events = cobranca::adapters::void::VoidEventBus;
    let started = Instant::now();
    let report = cobranca::tick::Tick::new(&store, &queue, &events).run(now, now).await?;
    let took = started.elapsed();
    let mut t = ddb_proxy.tally.lock().unwrap_or_else(|p| p.into_inner()).clone();
    t.calls.extend(sqs_proxy.tally.lock().unwrap_or_else(|p| p.into_inner()).calls.clone());
    let acted = (report.reminders_queued + report.charges_marked_overdue + report.charges_expired).max(1) as f64;
    let sqs_calls = t.calls_of("sqs:");
    // The watermark (one UpdateItem per tick) is not a reminder's write: counted apart.
    let conditional_writes = t.calls_of("dynamodb:PutItem") + t.calls_of("dynamodb:TransactWriteItems");
    let flag = |ok: bool| if ok { "" } else { " **miss**" };
    let reads_ratio = t.items_read as f64 / acted;
    let writes_per = conditional_writes as f64 / acted;
    let sqs_per = sqs_calls as f64 / acted;
    let table_md = format!(
        "| measure | figure | target |\n|---|---|---|\n\
         | charges in the table | {charges} ({due} due) | ≥ 1,000,000 |\n\
         | seeding | {:.0} s, {:.0} items/s | – |\n\
         | tick wall time | {:.2} s | – |\n\
         | items acted on (reminders queued) | {} | – |\n\
         | items read | {} ({reads_ratio:.2} per item acted on){} | ≤ 2× |\n\
         | conditional writes per reminder | {writes_per:.2}{} (+ 1 watermark write per tick) | ≤ 1 |\n\
         | SQS calls per reminder | {sqs_per:.3}{} | ≤ 0.1 |\n\
         | consumed read / write units | {:.1} RCU / {:.1} WCU ({:.3} RCU, {:.3} WCU per reminder) | – |\n\
         | DynamoDB calls | {} | – |\n",
        seeding.as_secs_f64(),
        (charges * 2) as f64 / seeding.as_secs_f64(),
        took.as_secs_f64(),
        acted,
        t.items_read,
        flag(reads_ratio <= 2.0),
        flag(writes_per <= 1.0),
        flag(sqs_per <= 0.1),
        t.read_units,
        t.write_units,
        t.read_units / acted,
        t.write_units / acted,
        t.calls
            .iter()
            .filter(|(k, _)| k.starts_with("dynamodb:"))
            .map(|(k, v)| format!("{} {v}", k.trim_start_matches("dynamodb:")))
            .collect::<Vec<_>>()
            .join(", "),
    );
    println!("Tick at scale:\n\n{table_md}");
    std::fs::create_dir_all("test-output/bench")?;
    std::fs::write("test-output/bench/tick-scale.md", &table_md)?;
    Ok(())
}

fn template_charge(now: chrono::DateTime<chrono::Utc>) -> cobranca::charge::Charge {
    use cobranca::charge::{Charge, Description, DueDate, PaymentMethod};
    Charge::new_pending(
        cobranca::ids::MerchantId::generate(),
        cobranca::ids::CustomerId::generate(),
        cobranca::money::Money::parse("150.00").expect("static"),
        DueDate::from_stored((now + chrono::Duration::days(40)).date_naive()),
        Description::parse("Mensalidade").expect("static"),
        vec![PaymentMethod::Pix],
        now,
    )
}

/// Creates a table as template.yaml's `Table` resource defines it (keys, attribute types, GSIs), so the bench
/// runs on the production layout without a second copy of it.
async fn create_table_from_template(ddb: &aws_sdk_dynamodb::Client, name: &str, template: &Path) -> Result<(), BoxError> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType, ScalarAttributeType,
    };
    // The template uses CloudFormation tags (!Ref, !Sub…); parse it leniently as plain YAML.
    let text = std::fs::read_to_string(template)?;
    let cleaned: String = text
        .lines()
        .map(|l| {
            l.replace(" !Ref ", " ")
                .replace(" !Sub ", " ")
                .replace(" !GetAtt ", " ")
                .replace(" !If ", " ")
                .replace(" !Equals ", " ")
                .replace(" !Not ", " ")
        })
        .collect::<Vec<_>>()
        .join("\n");
    let doc: serde_yaml::Value = serde_yaml::from_str(&cleaned)?;
    let props = &doc["Resources"]["Table"]["Properties"];
    let keys = |v: &serde_yaml::Value| -> Vec<KeySchemaElement> {
        v.as_sequence()
            .into_iter()
            .flatten()
            .filter_map(|k| {
                let kind = if k["KeyType"].as_str() == Some("HASH") { KeyType::Hash } else { KeyType::Range };
                KeySchemaElement::builder().attribute_name(k["AttributeName"].as_str()?).key_type(kind).build().ok()
            })
            .collect()
    };
    let mut request = ddb.create_table().table_name(name).billing_mode(BillingMode::PayPerRequest).set_key_schema(Some(keys(&props["KeySchema"])));
    for a in props["AttributeDefinitions"].as_sequence().into_iter().flatten() {
        let kind = match a["AttributeType"].as_str() {
            Some("N") => ScalarAttributeType::N,
            Some("B") => ScalarAttributeType::B,
            _ => ScalarAttributeType::S,
        };
        request = request.attribute_definitions(
            AttributeDefinition::builder().attribute_name(a["AttributeName"].as_str().unwrap_or_default()).attribute_type(kind).build()?,
        );
    }
    for g in props["GlobalSecondaryIndexes"].as_sequence().into_iter().flatten() {
        let projection =
            Projection::builder().projection_type(ProjectionType::from(g["Projection"]["ProjectionType"].as_str().unwrap_or("ALL"))).build();
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(g["IndexName"].as_str().unwrap_or_default())
                .set_key_schema(Some(keys(&g["KeySchema"])))
                .projection(projection)
                .build()?,
        );
    }
    request.send().await.map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string())?;
    Ok(())
}

#[derive(serde::Deserialize)]
struct Prices {
    as_of: String,
    lambda_arm64_usd_per_gb_second: rust_decimal::Decimal,
    lambda_usd_per_million_requests: rust_decimal::Decimal,
    lambda_memory_mb: u32,
    http_api_usd_per_million_requests: rust_decimal::Decimal,
    dynamodb_on_demand_usd_per_million_write_units: rust_decimal::Decimal,
    dynamodb_on_demand_usd_per_million_read_units: rust_decimal::Decimal,
    sqs_standard_usd_per_million_requests: rust_decimal::Decimal,
    eventbridge_custom_events_usd_per_million: rust_decimal::Decimal,
}

/// `cost`: `charges` charges through a whole life on the local stack (created with Pix and boleto, the default
/// régua's messages up to the due day, a signed payment webhook, the receipt), with every AWS call counted
/// through the proxy and every Lambda invocation timed by the runner; priced with `infra/bench/aws-prices.json`.
pub async fn cost(charges: usize, bin_dir: PathBuf, prices: PathBuf) -> Result<(), BoxError> {
    use rust_decimal::Decimal;
    let prices: Prices = serde_json::from_str(&std::fs::read_to_string(&prices)?)?;
    let upstream = std::env::var("AWS_ENDPOINT_URL").map_err(|_| "AWS_ENDPOINT_URL not set (make bench loads the bench stack)")?;
    let proxy = counting_proxy(upstream).await?;
    let merchant = format!("mer_cost_{}", ulid::Ulid::new().to_string().to_lowercase());
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args(["serve", "--port", "0", "--schedule-seconds", "0", "--instances", "4"])
        .arg("--bin-dir")
        .arg(&bin_dir)
        .env("AWS_ENDPOINT_URL", &proxy.url)
        .env("COBRANCA_DEV_MERCHANT_ID", &merchant)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(child.stdout.take().ok_or("no stdout")?));
    let ready: Value = serde_json::from_str(&lines.next_line().await?.ok_or("runner did not start")?)?;
    let (url, key, secret) = (
        ready["url"].as_str().unwrap_or_default().to_string(),
        ready["api_key"].as_str().unwrap_or_default().to_string(),
        ready["webhook_secret"].as_str().unwrap_or_default().to_string(),
    );
    let http = reqwest::Client::new();
    let baseline_stats: Value = http.get(format!("{url}/_local/stats")).send().await?.json().await?;
    proxy.tally.lock().unwrap_or_else(|p| p.into_inner()).calls.clear();
    {
        let mut t = proxy.tally.lock().unwrap_or_else(|p| p.into_inner());
        *t = AwsTally::default();
    }
    let started = Instant::now();
    let today = cobranca::calendar::local_date(chrono::Utc::now());
    let due = today + chrono::Duration::days(12);
    let customer = json!({"name": "Maria Silva", "document": "529.982.247-25", "email": "maria@example.com",
        "address": {"street": "Av. Paulista", "number": "1000", "district": "Bela Vista", "city": "São Paulo", "state": "SP", "cep": "01310-100"}});
    // Create, eight at a time.
    let ids = Arc::new(std::sync::Mutex::new(Vec::new()));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (http, url, key, customer, ids, next) = (http.clone(), url.clone(), key.clone(), customer.clone(), ids.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < charges {
                let body = json!({"customer": customer, "amount": "150.00", "due_date": due.to_string(), "description": "Mensalidade", "payment_methods": ["pix", "boleto"]});
                let r = http.post(format!("{url}/v1/charges")).bearer_auth(&key).json(&body).send().await?;
                let status = r.status();
                let c: Value = r.json().await?;
                if status != 201 {
                    return Err::<(), BoxError>(format!("create: {status} {c}").into());
                }
                ids.lock().unwrap_or_else(|p| p.into_inner()).push(c["id"].as_str().unwrap_or_default().to_string());
            }
            Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    // The default régua up to the due day: the creation notice, 5 days before, on the due day.
    let at = |day: chrono::NaiveDate| cobranca::calendar::local_instant(day, chrono::NaiveTime::from_hms_opt(12, 0, 0).expect("noon")).to_rfc3339();
    for instant in [at(today + chrono::Duration::days(1)), at(due - chrono::Duration::days(5)), at(due)] {
        let r: Value = http.post(format!("{url}/_local/tick")).json(&json!({"time": instant, "drain_seconds": 900})).send().await?.json().await?;
        if r["drained"] != true {
            return Err(format!("tick at {instant} did not drain: {r}").into());
        }
    }
    // Paid on the due day, through signed webhooks.
    let ids = ids.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let secret = cobranca::webhook::WebhookSecret::parse(&secret).ok_or("bad secret")?;
    for (n, id) in ids.iter().enumerate() {
        let body = json!({"type": "payment.confirmed", "data": {"charge_id": id, "amount": "150.00", "paid_at": chrono::Utc::now().to_rfc3339(), "method": "pix", "provider_payment_id": format!("E{n:031}")}}).to_string();
        let ts = chrono::Utc::now().timestamp();
        let msg = format!("msg_cost_{n}");
        let r = http
            .post(format!("{url}/v1/webhooks/cobranca"))
            .header("webhook-id", &msg)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", secret.sign(&msg, ts, body.as_bytes()))
            .body(body)
            .send()
            .await?;
        if r.status() != 200 {
            return Err(format!("webhook: {}", r.status()).into());
        }
    }
    let r: Value = http.post(format!("{url}/_local/tick")).json(&json!({"time": at(due), "drain_seconds": 900})).send().await?.json().await?;
    if r["drained"] != true {
        return Err(format!("final drain failed: {r}").into());
    }
    // The webhook queue (fan-out of domain events) drains on its own: give it until it is quiet.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let elapsed = started.elapsed();
    let stats: Value = http.get(format!("{url}/_local/stats")).send().await?.json().await?;
    let _ = child.kill().await;
    let t = proxy.tally.lock().unwrap_or_else(|p| p.into_inner()).clone();

    let per_thousand = Decimal::from(1000) / Decimal::from(charges.max(1) as u64);
    let million = Decimal::from(1_000_000);
    let mut invocations = 0u64;
    let mut billed_ms = 0u64;
    let mut by_function = Vec::new();
    for (name, s) in stats.as_object().into_iter().flatten() {
        let base = &baseline_stats[name];
        let inv = s["invocations"].as_u64().unwrap_or(0) - base["invocations"].as_u64().unwrap_or(0);
        let ms = s["billed_ms"].as_u64().unwrap_or(0) - base["billed_ms"].as_u64().unwrap_or(0);
        invocations += inv;
        billed_ms += ms;
        by_function.push(format!("{name} {inv} × {:.1} ms", ms as f64 / inv.max(1) as f64));
    }
    let gb_seconds = Decimal::from(billed_ms) / Decimal::from(1000) * Decimal::from(prices.lambda_memory_mb) / Decimal::from(1024);
    let http_requests = (charges * 2) as u64;
    // Empty long polls are the event-source mapping's fixed cost; GetQueueAttributes is the local runner checking
    // that queues drained, which Lambda does not do.
    let sqs_requests: u64 =
        t.calls.iter().filter(|(k, _)| k.starts_with("sqs:") && !k.ends_with("(empty)") && !k.ends_with(":GetQueueAttributes")).map(|(_, v)| v).sum();
    let events = t.calls_of("events:entries");
    let rru = Decimal::try_from(t.read_units).unwrap_or_default();
    let wru = Decimal::try_from(t.write_units).unwrap_or_default();
    let lines = [
        ("Lambda requests", Decimal::from(invocations), prices.lambda_usd_per_million_requests / million),
        ("Lambda GB-seconds (arm64, 128 MB)", gb_seconds, prices.lambda_arm64_usd_per_gb_second),
        ("HTTP API requests", Decimal::from(http_requests), prices.http_api_usd_per_million_requests / million),
        ("DynamoDB write request units", wru, prices.dynamodb_on_demand_usd_per_million_write_units / million),
        ("DynamoDB read request units", rru, prices.dynamodb_on_demand_usd_per_million_read_units / million),
        ("SQS requests (empty polls and drain checks excluded)", Decimal::from(sqs_requests), prices.sqs_standard_usd_per_million_requests / million),
        ("EventBridge events", Decimal::from(events), prices.eventbridge_custom_events_usd_per_million / million),
    ];
    let mut table = String::from("| per 1,000 charges | quantity | USD |\n|---|---|---|\n");
    let mut total = Decimal::ZERO;
    for (what, qty, unit) in lines {
        let qty = qty * per_thousand;
        let usd = qty * unit;
        total += usd;
        table += &format!("| {what} | {:.1} | {:.6} |\n", qty, usd);
    }
    table += &format!("| **total (infrastructure, prices of {})** | | **{:.4}** |\n", prices.as_of, total);
    println!(
        "Cost of {charges} charges through a whole life ({:.0} s on this machine; Lambda durations measured locally):\n\n{table}\ninvocations: {}\nAWS calls: {}\n",
        elapsed.as_secs_f64(),
        by_function.join(", "),
        t.calls.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
    );
    std::fs::create_dir_all("test-output/bench")?;
    std::fs::write("test-output/bench/cost.md", &table)?;
    Ok(())
}
