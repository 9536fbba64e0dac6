//! `local-runner bench cold-start`: each function's release binary under a one-shot Lambda Runtime API.

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
