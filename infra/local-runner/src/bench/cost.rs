//! `local-runner bench cost`: charges through a whole life on the local stack, every AWS call and Lambda ms priced.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

use super::proxy::*;
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
    let today = cobranca::domain::calendar::local_date(chrono::Utc::now());
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
    let at = |day: chrono::NaiveDate| {
        cobranca::domain::calendar::local_instant(day, chrono::NaiveTime::from_hms_opt(12, 0, 0).expect("noon")).to_rfc3339()
    };
    for instant in [at(today + chrono::Duration::days(1)), at(due - chrono::Duration::days(5)), at(due)] {
        let r: Value = http.post(format!("{url}/_local/tick")).json(&json!({"time": instant, "drain_seconds": 900})).send().await?.json().await?;
        if r["drained"] != true {
            return Err(format!("tick at {instant} did not drain: {r}").into());
        }
    }
    // Paid on the due day, through signed webhooks.
    let ids = ids.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let secret = cobranca::domain::standard_webhooks::WebhookSecret::parse(&secret).ok_or("bad secret")?;
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
