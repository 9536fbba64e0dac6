//! cobranca's local runner: the AWS pieces LocalStack cannot run without Docker (Lambda, API Gateway HTTP
//! APIs, event-source mappings, schedules), run the way AWS runs them, around the real function binaries.
//!
//!   local-runner serve [--port 3000] [--template template.yaml] [--bin-dir target/debug]
//!                      [--instances 2] [--schedule-seconds 60]
//!   local-runner create-merchant --name "Loja Exemplo Ltda" --document 11.222.333/0001-81
//!
//! Resources (table, queue, bus) come from the environment that `infra/local/deploy.sh` writes.

mod bench;
mod gateway;
mod runtime_api;
mod sqs_mapping;
mod template;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use cobranca::adapters::dynamodb::DynamoStore;
use cobranca::domain::document::Document;
use cobranca::domain::ids::MerchantId;
use cobranca::domain::merchant::{ApiKey, Merchant, Mode};
use cobranca::domain::standard_webhooks::WebhookSecret;
use cobranca::ports::store::*;
use serde_json::{json, Value};

use crate::gateway::Gateway;
use crate::runtime_api::{FunctionHost, HostConfig};
use crate::sqs_mapping::SqsMapping;

struct Args(HashMap<String, String>);

impl Args {
    fn parse(args: &[String]) -> Self {
        let mut map = HashMap::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if let Some(name) = a.strip_prefix("--") {
                map.insert(name.to_string(), it.next().cloned().unwrap_or_default());
            }
        }
        Self(map)
    }

    fn get(&self, name: &str, default: &str) -> String {
        self.0.get(name).cloned().unwrap_or_else(|| default.to_string())
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = Args::parse(&argv);
    match argv.first().map(String::as_str) {
        Some("serve") => serve(args).await,
        Some("create-merchant") => create_merchant(args).await,
        Some("bench") => match argv.get(1).map(String::as_str) {
            Some("cold-start") => {
                let runs = args.get("runs", "5").parse().map_err(|_| "--runs takes a number")?;
                bench::cold_start(
                    args.get("bin-dir", "target/release").into(),
                    args.get("zip-dir", "target/lambda").into(),
                    runs,
                    args.get("out", "test-output/bench/cold-start.json").into(),
                )
                .await
            }
            Some("tick-scale") => {
                let number = |name: &str, default: &str| args.get(name, default).parse::<usize>().map_err(|_| format!("--{name} takes a number"));
                let ddb = args.0.get("dynamodb-endpoint").cloned();
                bench::tick_scale(
                    number("charges", "1000000")?,
                    number("due", "1000")?,
                    number("writers", "8")?,
                    ddb,
                    args.get("template", "template.yaml").into(),
                )
                .await
            }
            Some("cost") => {
                let charges = args.get("charges", "1000").parse().map_err(|_| "--charges takes a number")?;
                bench::cost(charges, args.get("bin-dir", "target/release").into(), args.get("prices", "infra/bench/aws-prices.json").into()).await
            }
            _ => {
                eprintln!("usage: local-runner bench cold-start [--bin-dir D] [--zip-dir D] [--runs N] [--out F]\n       local-runner bench tick-scale [--charges N] [--due N] [--writers N] [--dynamodb-endpoint URL] [--template F]\n       local-runner bench cost [--charges N] [--bin-dir D] [--prices F]");
                std::process::exit(2);
            }
        },
        _ => {
            eprintln!("usage: local-runner serve [--port N] [--template F] [--bin-dir D] [--instances N] [--schedule-seconds N] [--demo true]\n       local-runner create-merchant --name NAME --document CPF_OR_CNPJ [--livemode true|false] [--sandbox-wallets true]");
            std::process::exit(2);
        }
    }
}

fn env(name: &str) -> Result<String, BoxError> {
    std::env::var(name).map_err(|_| format!("{name} is not set (source .local/stack-*.env, written by infra/local/deploy.sh)").into())
}

/// Registers a merchant and prints its API key once (works against AWS too: it uses the normal SDK config).
async fn create_merchant(args: Args) -> Result<(), BoxError> {
    let aws = cobranca::adapters::config::aws().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), env("COBRANCA_TABLE")?);
    let document = Document::parse(&args.get("document", "")).map_err(|e| format!("--document: {e}"))?;
    let mode = match args.get("livemode", "false").as_str() {
        "true" => Mode::Live,
        "false" => Mode::Test,
        _ => return Err("--livemode takes true or false".into()),
    };
    let merchant = Merchant { id: MerchantId::generate(), name: args.get("name", ""), document, created_at: Utc::now(), mode };
    if merchant.name.trim().len() < 2 {
        return Err("--name is required".into());
    }
    let key = ApiKey::generate(mode);
    store.put_merchant(&merchant, &key.hash()).await?;
    if args.get("sandbox-wallets", "false") == "true" {
        if mode.is_live() {
            return Err("--sandbox-wallets is for test merchants: a live merchant never uses the sandbox".into());
        }
        ensure_sandbox_wallets(&store, &merchant.id).await?;
    }
    println!("{}", json!({"merchant_id": merchant.id, "api_key": key.expose()}));
    Ok(())
}

/// Gives a development merchant one sandbox wallet per method, once, so every payment method works locally.
async fn ensure_sandbox_wallets(store: &DynamoStore, merchant: &MerchantId) -> Result<(), BoxError> {
    if store.wallets_of(merchant).await?.is_empty() {
        for wallet in cobranca::domain::wallet::Wallet::sandbox_set(merchant, Utc::now()) {
            store.put_wallet(&wallet).await?;
        }
    }
    Ok(())
}

struct Local {
    store: DynamoStore,
    tick: FunctionHost,
    /// One mapping per SQS event source (notifications, payment setup).
    queues: Vec<Arc<SqsMapping>>,
    /// Every function, for `/_local/stats`.
    hosts: Vec<FunctionHost>,
}

async fn serve(args: Args) -> Result<(), BoxError> {
    let template_path = PathBuf::from(args.get("template", "template.yaml"));
    let functions = template::functions(&std::fs::read_to_string(&template_path).map_err(|e| format!("{}: {e}", template_path.display()))?)?;
    let bin_dir = PathBuf::from(args.get("bin-dir", "target/debug"));
    let instances: usize = args.get("instances", "2").parse()?;
    let schedule_seconds: u64 = args.get("schedule-seconds", "60").parse()?;

    let aws = cobranca::adapters::config::aws().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), env("COBRANCA_TABLE")?);
    let sqs = aws_sdk_sqs::Client::new(&aws);

    // The demo merchant, its API key and the webhook secret: given, or made up and printed.
    let merchant_id = MerchantId::parse(&std::env::var("COBRANCA_DEV_MERCHANT_ID").unwrap_or_else(|_| "mer_demo".into()))
        .map_err(|_| "COBRANCA_DEV_MERCHANT_ID must look like mer_xxx")?;
    let api_key = match std::env::var("COBRANCA_DEV_API_KEY") {
        Ok(k) if !k.is_empty() => ApiKey::parse(&k).ok_or("COBRANCA_DEV_API_KEY must be ck_ followed by 32+ letters or digits")?,
        _ => ApiKey::generate(Mode::Test),
    };
    let webhook_secret = match std::env::var("COBRANCA_DEV_WEBHOOK_SECRET") {
        Ok(s) if !s.is_empty() => {
            WebhookSecret::parse(&s).ok_or("COBRANCA_DEV_WEBHOOK_SECRET must be whsec_ + base64 of 16+ bytes")?;
            s
        }
        _ => WebhookSecret::generate().1,
    };
    let merchant = Merchant {
        id: merchant_id.clone(),
        name: "Loja Exemplo Ltda".into(),
        document: Document::parse("11.222.333/0001-81").expect("valid demo CNPJ"),
        created_at: Utc::now(),
        // The demo merchant is a test one: sandbox wallets and the outbox, never a real provider.
        mode: Mode::Test,
    };
    store.put_merchant(&merchant, &api_key.hash()).await?;
    ensure_sandbox_wallets(&store, &merchant.id).await?;

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.get("port", "3000").parse::<u16>()?)).await?;
    let base_url = format!("http://{}", listener.local_addr()?);

    let mut fn_env: Vec<(String, String)> =
        std::env::vars().filter(|(k, _)| k.starts_with("COBRANCA_") || k.starts_with("AWS_") || k == "RUST_LOG").collect();
    fn_env.retain(|(k, _)| !k.starts_with("COBRANCA_DEV_"));
    fn_env.push(("COBRANCA_PUBLIC_BASE_URL".into(), base_url.clone()));
    fn_env.push(("COBRANCA_WEBHOOK_SECRET".into(), webhook_secret.clone()));

    let mut routes = Vec::new();
    let mut tick = None;
    let mut queues = Vec::new();
    let mut hosts = Vec::new();
    for f in &functions {
        let host = FunctionHost::start(HostConfig {
            name: f.binary.clone(),
            binary: bin_dir.join(&f.binary),
            instances,
            timeout: Duration::from_secs(f.timeout_seconds),
            env: fn_env.clone(),
        })
        .await?;
        hosts.push(host.clone());
        for r in &f.routes {
            routes.push((r.clone(), host.clone()));
        }
        if f.scheduled {
            tick = Some(host.clone());
        }
        if let Some(source) = &f.sqs {
            let queue_url = env(&source.queue_url_env)?;
            let mapping = Arc::new(SqsMapping {
                queue_arn: SqsMapping::arn_of(&sqs, &queue_url).await?,
                client: sqs.clone(),
                queue_url,
                batch_size: source.batch_size as i32,
                host: host.clone(),
                busy: AtomicBool::new(false),
                stopping: AtomicBool::new(false),
                polling: AtomicBool::new(false),
            });
            tokio::spawn(mapping.clone().run());
            queues.push(mapping);
        }
    }
    let tick = tick.ok_or("template.yaml has no scheduled function")?;
    if schedule_seconds > 0 {
        let host = tick.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(schedule_seconds));
            every.tick().await;
            loop {
                every.tick().await;
                if let Err(e) = host.invoke(&scheduled_event(Utc::now())).await {
                    tracing::warn!(error = %e, "scheduled tick failed");
                }
            }
        });
    }

    let gateway = Arc::new(Gateway { routes });
    let demo_gateway = gateway.clone();
    let local = Arc::new(Local { store, tick, queues, hosts });
    let stopping = local.clone();
    let app = Router::new()
        .route("/_local/tick", post(local_tick))
        .route("/_local/outbox", get(local_outbox))
        .route("/_local/health", get(|| async { "ok" }))
        .route("/_local/stats", get(local_stats))
        .with_state(local)
        .fallback(move |method, uri, headers, body| gateway.clone().handle(method, uri, headers, body));

    let demo_link = if args.get("demo", "false") == "true" { demo_charge(&demo_gateway, api_key.expose()).await } else { None };
    println!(
        "{}",
        json!({"event": "ready", "url": base_url, "merchant_id": merchant_id, "api_key": api_key.expose(), "webhook_secret": webhook_secret, "demo_payment_url": demo_link})
    );
    if let Some(link) = &demo_link {
        eprintln!("\n  demo charge's payment link (open it in a browser): {link}");
    }
    eprintln!(
        "\ncobranca is running at {base_url}\n  merchant:        {merchant_id} (Loja Exemplo Ltda)\n  API key:         {}\n  webhook secret:  {webhook_secret}\n  try: curl -s {base_url}/v1/customers -H 'Authorization: Bearer {}' -d '{{\"name\":\"Maria Silva\",\"document\":\"529.982.247-25\",\"email\":\"maria@example.com\"}}'\n",
        api_key.expose(),
        api_key.expose()
    );
    axum::serve(listener, app).with_graceful_shutdown(shutdown()).await?;
    for q in &stopping.queues {
        q.stop(Duration::from_secs(10)).await;
    }
    Ok(())
}

/// A demo charge (Pix, boleto, card in up to 12x) for `make dev`, created through the API like any client would.
async fn demo_charge(gateway: &Arc<Gateway>, api_key: &str) -> Option<String> {
    let due = (Utc::now() + chrono::Duration::days(10)).format("%Y-%m-%d").to_string();
    let body = json!({
        "customer": {"name": "Maria Silva", "document": "529.982.247-25", "email": "maria@example.com",
                     "address": {"street": "Av. Paulista", "number": "1000", "district": "Bela Vista", "city": "São Paulo", "state": "SP", "cep": "01310-100"}},
        "amount": "150.00", "due_date": due, "description": "Mensalidade (demonstração)",
        "payment_methods": ["pix", "boleto", "credit_card"], "max_installments": 12,
        "late_fees": {"fine": {"kind": "percent", "value": "2"}, "interest": {"kind": "percent_per_month", "value": "1"}}
    });
    let mut headers = axum::http::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {api_key}").parse().ok()?);
    headers.insert("content-type", "application/json".parse().ok()?);
    let response = gateway.clone().handle(axum::http::Method::POST, "/v1/charges".parse().ok()?, headers, body.to_string().into()).await;
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.ok()?;
    let charge: Value = serde_json::from_slice(&bytes).ok()?;
    charge["payment_url"].as_str().map(str::to_string)
}

async fn shutdown() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

fn scheduled_event(time: DateTime<Utc>) -> Value {
    json!({
        "version": "0",
        "id": ulid::Ulid::new().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "region": std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
        "resources": ["arn:aws:events:us-east-1:000000000000:rule/cobranca-local-tick"],
        "detail": {},
    })
}

fn error(status: StatusCode, code: &str, message: String) -> Response {
    (status, Json(json!({"error": {"code": code, "message": message, "field": null}}))).into_response()
}

/// Runs ruler-tick as if scheduled at `time`, then waits until the notifications it queued are processed.
/// Invocations and billed milliseconds per function since start (the cost model of `make bench`).
async fn local_stats(State(local): State<Arc<Local>>) -> Response {
    let stats: serde_json::Map<String, Value> = local.hosts.iter().map(|h| (h.name.clone(), json!(h.stats()))).collect();
    axum::Json(Value::Object(stats)).into_response()
}

async fn local_tick(State(local): State<Arc<Local>>, body: axum::body::Bytes) -> Response {
    let time = match serde_json::from_slice::<Value>(&body).ok().and_then(|v| v["time"].as_str().map(DateTime::parse_from_rfc3339)) {
        Some(Ok(t)) => t.with_timezone(&Utc),
        _ => return error(StatusCode::BAD_REQUEST, "invalid_time", "envie {\"time\": \"RFC 3339\"} / send {\"time\": \"RFC 3339\"}".into()),
    };
    // A tick that runs out of budget asks for a continuation (an EventBridge rule in AWS); here the runner
    // plays that rule and invokes it again with the same time.
    let mut report = Value::Null;
    let mut sent = 0;
    for _ in 0..100 {
        report = match local.tick.invoke(&scheduled_event(time)).await {
            Ok(r) => r,
            Err(e) => return error(StatusCode::BAD_GATEWAY, "tick_failed", e.to_string()),
        };
        sent += report["reminders_queued"].as_u64().unwrap_or(0);
        if report["more"] != true {
            break;
        }
    }
    // How long to wait for the queues to drain: 30 s, or what the caller asks (a load run queues thousands).
    let limit = serde_json::from_slice::<Value>(&body).ok().and_then(|v| v["drain_seconds"].as_u64()).unwrap_or(30).min(3600);
    // One queue's consumer may feed another (a payment's follow-up on the payment-setup queue queues its
    // receipt): passes go on until one finds every queue quiet.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(limit);
    let drained = loop {
        let mut all_quiet = true;
        for q in &local.queues {
            if !matches!(q.outstanding().await, Ok(0)) || q.is_busy() {
                all_quiet = false;
                wait_drained(q, deadline.saturating_duration_since(tokio::time::Instant::now())).await;
            }
        }
        if all_quiet {
            break true;
        }
        if tokio::time::Instant::now() >= deadline {
            break false;
        }
    };
    Json(json!({
        "reminders_sent": sent,
        "charges_marked_overdue": report["charges_marked_overdue"],
        "drained": drained,
        "tick": report,
    }))
    .into_response()
}

async fn wait_drained(m: &SqsMapping, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    let mut quiet = 0;
    while tokio::time::Instant::now() < deadline {
        match m.outstanding().await {
            Ok(0) if !m.is_busy() => {
                quiet += 1;
                if quiet >= 2 {
                    return true;
                }
            }
            _ => quiet = 0,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

async fn local_outbox(State(local): State<Arc<Local>>, Query(q): Query<HashMap<String, String>>) -> Response {
    match local.store.outbox().await {
        Ok(entries) => {
            let list: Vec<Value> = entries
                .into_iter()
                .filter(|e| q.get("charge_id").is_none_or(|c| c == e.charge_id.as_str()))
                .map(|e| {
                    json!({
                        "charge_id": e.charge_id, "channel": e.channel, "step": e.step, "recipient": e.recipient,
                        "subject": e.subject, "text": e.text, "sent_at": e.sent_at, "reminder_id": e.reminder_id,
                        "merchant_id": e.merchant_id, "deliveries": e.deliveries,
                    })
                })
                .collect();
            Json(list).into_response()
        }
        Err(e) => error(StatusCode::BAD_GATEWAY, "store_unavailable", e.to_string()),
    }
}
