//! `spawn_app()`: starts the local runner (the real function binaries behind the local API Gateway, SQS
//! mapping and schedule) against the LocalStack stack, with a fresh merchant, and talks to it over HTTP.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The retry schedule every test runner uses (they share the webhook queue, so they must agree).
pub const WEBHOOK_RETRY_DELAYS: &str = "1s,2s,2s";

pub struct TestApp {
    pub url: String,
    pub merchant_id: String,
    pub api_key: String,
    pub webhook_secret: String,
    /// The operator's key (`POST /v1/merchants`), whose SHA-256 the runner was given.
    pub operator_key: String,
    pub client: reqwest::Client,
    child: Child,
    /// Held while the runner runs: see [`UrlRules`].
    _rules: RulesHeld,
}

impl Drop for TestApp {
    /// Asks the runner to stop (SIGTERM: it finishes the batches in hand, so no message is left invisible on the
    /// shared queues for the next test), and kills it if it takes too long.
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        for _ in 0..200 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn bin_dir() -> PathBuf {
    std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| workspace_root().join("target")).join("debug")
}

/// None when the LocalStack stack environment is absent (plain `cargo test`); `make test` sets it together
/// with COBRANCA_REQUIRE_AWS=1, which turns absence into a failure.
pub fn spawn_app() -> Option<TestApp> {
    spawn_app_with(2)
}

/// As `spawn_app`, with `instances` processes per function (so ticks can really run concurrently).
pub fn spawn_app_with(instances: usize) -> Option<TestApp> {
    spawn_app_as(Setup { instances, ..Setup::default() })
}

/// As `spawn_app`, with everything the runner and the functions log (at the production level, info) written to
/// `log`, for tests that read the logs.
pub fn spawn_app_logging_to(log: &std::path::Path) -> Option<TestApp> {
    spawn_app_as(Setup { log: Some(log.to_path_buf()), ..Setup::default() })
}

/// How a runner is started, beyond what every test runner shares.
pub struct Setup {
    pub instances: usize,
    pub log: Option<PathBuf>,
    /// Merchants' webhook endpoints under the production rules (public https only, checked again at connect),
    /// instead of the local ones that let receivers run on localhost (`COBRANCA_WEBHOOK_ALLOW_LOCAL`).
    pub production_urls: bool,
    /// The merchant (id and API key) of an earlier runner, instead of a fresh one.
    pub merchant: Option<(String, String)>,
    /// More environment for the runner and the functions it runs (the runner hands them every `COBRANCA_*`).
    pub env: Vec<(String, String)>,
}

impl Default for Setup {
    fn default() -> Self {
        Self { instances: 2, log: None, production_urls: false, merchant: None, env: Vec::new() }
    }
}

/// As `spawn_app`, with merchants' webhook endpoints under the production rules.
pub fn spawn_app_with_production_urls() -> Option<TestApp> {
    spawn_app_as(Setup { production_urls: true, ..Setup::default() })
}

/// Starts a runner as `setup` says (None without the stack environment, as `spawn_app`).
pub fn spawn_app_as(setup: Setup) -> Option<TestApp> {
    if std::env::var("COBRANCA_TABLE").is_err() || std::env::var("AWS_ENDPOINT_URL").is_err() {
        assert!(std::env::var("COBRANCA_REQUIRE_AWS").is_err(), "COBRANCA_REQUIRE_AWS is set but the stack environment is missing");
        eprintln!("skipped: no LocalStack stack environment (run through `make test`)");
        return None;
    }
    let runner = bin_dir().join("local-runner");
    assert!(runner.exists(), "{} missing: run `cargo build --workspace --bins` first", runner.display());
    let rules = UrlRules::hold(setup.production_urls);
    let (merchant, api_key) = setup.merchant.unwrap_or_else(|| (format!("mer_test_{}", ulid::Ulid::new().to_string().to_lowercase()), String::new()));
    let operator_key = format!("op_test_{}", ulid::Ulid::new().to_string().to_lowercase());
    let operator_hash: String = Sha256::digest(operator_key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let mut command = Command::new(&runner);
    command
        .args(["serve", "--port", "0", "--schedule-seconds", "0", "--instances", &setup.instances.to_string()])
        .arg("--template")
        .arg(workspace_root().join("template.yaml"))
        .arg("--bin-dir")
        .arg(bin_dir())
        .env("COBRANCA_DEV_MERCHANT_ID", &merchant)
        .env("COBRANCA_DEV_API_KEY", &api_key)
        // Three days of retries cannot be waited for.
        .env("COBRANCA_WEBHOOK_RETRY_DELAYS", WEBHOOK_RETRY_DELAYS)
        .env("COBRANCA_OPERATOR_KEY_SHA256", operator_hash)
        .env_remove("COBRANCA_DEV_WEBHOOK_SECRET")
        .env("RUST_LOG", "info")
        .envs(setup.env)
        .stdout(Stdio::piped())
        .stderr(match &setup.log {
            Some(path) => Stdio::from(std::fs::File::create(path).expect("log file")),
            None if std::env::var("COBRANCA_TEST_LOGS").is_ok() => Stdio::inherit(),
            None => Stdio::null(),
        });
    if setup.production_urls {
        command.env_remove("COBRANCA_WEBHOOK_ALLOW_LOCAL");
    } else {
        // Webhook receivers run on localhost here.
        command.env("COBRANCA_WEBHOOK_ALLOW_LOCAL", "true");
    }
    let mut child = command.spawn().expect("local-runner starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("ready line");
    let ready: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("runner did not start ({e}): {line:?}"));
    Some(TestApp {
        url: ready["url"].as_str().unwrap().to_string(),
        merchant_id: ready["merchant_id"].as_str().unwrap().to_string(),
        api_key: ready["api_key"].as_str().unwrap().to_string(),
        webhook_secret: ready["webhook_secret"].as_str().unwrap().to_string(),
        operator_key,
        client: reqwest::Client::new(),
        child,
        _rules: rules,
    })
}

/// Runners share the stack's queues, so any runner may make any merchant's webhook deliveries. Runners under
/// different URL rules must then not run at once: a production one would refuse a test's receiver on localhost,
/// a local one would deliver what a production test expects refused. The tests of one binary take turns here;
/// a production runner waits for the local ones to end, and keeps new ones waiting meanwhile.
struct UrlRules {
    /// How many runners run, and under which rules.
    running: usize,
    production: bool,
    production_waiting: usize,
}

static RULES: std::sync::Mutex<UrlRules> = std::sync::Mutex::new(UrlRules { running: 0, production: false, production_waiting: 0 });
static RULES_CHANGED: std::sync::Condvar = std::sync::Condvar::new();

thread_local! {
    /// Runners this test (thread) holds: a second one under the same rules must not wait for the first to end.
    static HELD_HERE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

struct RulesHeld;

impl UrlRules {
    fn hold(production: bool) -> RulesHeld {
        let mut rules = RULES.lock().unwrap_or_else(|e| e.into_inner());
        if HELD_HERE.get() > 0 {
            assert!(rules.production == production, "a test cannot run runners under both URL rules at once");
        } else {
            if production {
                rules.production_waiting += 1;
            }
            while (rules.running > 0 && rules.production != production) || (!production && rules.production_waiting > 0) {
                rules = RULES_CHANGED.wait(rules).unwrap_or_else(|e| e.into_inner());
            }
            if production {
                rules.production_waiting -= 1;
            }
        }
        rules.running += 1;
        rules.production = production;
        HELD_HERE.set(HELD_HERE.get() + 1);
        RulesHeld
    }
}

impl Drop for RulesHeld {
    fn drop(&mut self) {
        let mut rules = RULES.lock().unwrap_or_else(|e| e.into_inner());
        rules.running -= 1;
        HELD_HERE.set(HELD_HERE.get() - 1);
        RULES_CHANGED.notify_all();
    }
}

impl TestApp {
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self.client.post(format!("{}{path}", self.url)).bearer_auth(&self.api_key).json(body).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post_raw(&self, path: &str, body: &str, headers: &[(&str, &str)]) -> (u16, Value) {
        let mut req = self.client.post(format!("{}{path}", self.url)).body(body.to_string()).header("content-type", "application/json");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self.client.put(format!("{}{path}", self.url)).bearer_auth(&self.api_key).json(body).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut r = self.client.request(method, format!("{}{path}", self.url)).bearer_auth(&self.api_key);
        if let Some(b) = body {
            r = r.json(b);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A request with another bearer key (another merchant's, the operator's), and extra headers.
    pub async fn send_as(&self, key: &str, method: reqwest::Method, path: &str, body: Option<&Value>, headers: &[(&str, &str)]) -> (u16, Value) {
        let mut r = self.client.request(method, format!("{}{path}", self.url)).bearer_auth(key);
        if let Some(b) = body {
            r = r.json(b);
        }
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.client.get(format!("{}{path}", self.url)).bearer_auth(&self.api_key).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Runs ruler-tick as of `time` and waits for the notifications it caused.
    pub async fn tick(&self, time: &str) -> Value {
        let (status, body) = self.post_raw("/_local/tick", &json!({ "time": time }).to_string(), &[]).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["drained"], true, "{body}");
        body
    }

    pub async fn outbox_for(&self, charge_id: &str) -> Vec<Value> {
        let r = self.client.get(format!("{}/_local/outbox?charge_id={charge_id}", self.url)).send().await.unwrap();
        r.json::<Vec<Value>>().await.unwrap()
    }

    /// Posts a payment-provider webhook signed as the Standard Webhooks spec says (HMAC-SHA256 over
    /// "{id}.{timestamp}.{body}" with the base64-decoded secret) — computed here independently of cobranca.
    pub async fn signed_webhook(&self, id: &str, body: &Value, timestamp: i64) -> (u16, Value) {
        let raw = body.to_string();
        let signature = sign(&self.webhook_secret, id, timestamp, &raw);
        let ts = timestamp.to_string();
        self.post_raw("/v1/webhooks/cobranca", &raw, &[("webhook-id", id), ("webhook-timestamp", &ts), ("webhook-signature", &signature)]).await
    }
}

pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64.decode(secret.trim_start_matches("whsec_")).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", b64.encode(mac.finalize().into_bytes()))
}

/// Ticks are global: a tick at a later instant also does the work of every earlier one, whoever planned it.
/// Tests that count what their own ticks did hold this lock so that no other test of the binary ticks meanwhile.
pub async fn exclusive_ticks() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::OnceLock<tokio::sync::Mutex<()>> = std::sync::OnceLock::new();
    LOCK.get_or_init(|| tokio::sync::Mutex::new(())).lock().await
}

/// A merchant's webhook endpoint (tests/receiver/receiver.mjs) that verifies deliveries with the npm
/// `standardwebhooks` library. None when its node_modules are missing outside `make test`.
pub struct Receiver {
    pub url: String,
    child: Child,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn spawn_receiver() -> Option<Receiver> {
    let dir = workspace_root().join("tests/receiver");
    if !dir.join("node_modules/standardwebhooks").exists() {
        assert!(std::env::var("COBRANCA_REQUIRE_AWS").is_err(), "tests/receiver/node_modules missing: run `make test-deps`");
        eprintln!("skipped: tests/receiver/node_modules missing");
        return None;
    }
    let mut child = Command::new("node").arg("receiver.mjs").current_dir(&dir).stdout(Stdio::piped()).spawn().expect("node starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("receiver ready line");
    let port =
        serde_json::from_str::<Value>(&line).ok().and_then(|v| v["port"].as_u64()).unwrap_or_else(|| panic!("receiver did not start: {line:?}"));
    Some(Receiver { url: format!("http://127.0.0.1:{port}"), child })
}

impl Receiver {
    pub async fn trust(&self, name: &str, secrets: &[&str]) {
        let r = reqwest::Client::new().post(format!("{}/_secrets/{name}", self.url)).json(&json!({ "secrets": secrets })).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 204);
    }

    pub async fn log(&self, name: &str) -> Vec<Value> {
        reqwest::Client::new().get(format!("{}/_log/{name}", self.url)).send().await.unwrap().json().await.unwrap()
    }

    /// Waits (up to `secs`) until `done` holds for the endpoint's log, and returns it.
    pub async fn wait_for(&self, name: &str, secs: u64, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let log = self.log(name).await;
            if done(&log) || std::time::Instant::now() > deadline {
                return log;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
}

/// A plain HTTP endpoint on loopback that records every connection and request made to it: a merchant's webhook
/// receiver for tests that need no signature check, and the address an SSRF probe must never reach. Paths
/// starting with `/redirect` answer 307 to `/inside`; everything else 200.
pub struct Listener {
    pub port: u16,
    connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    requests: std::sync::Arc<std::sync::Mutex<Vec<Request>>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub body: String,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Listener {
    pub async fn start() -> Self {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = socket.local_addr().unwrap().port();
        let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (count, log) = (connections.clone(), requests.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = socket.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let log = log.clone();
                tokio::spawn(async move {
                    let mut raw = Vec::new();
                    let mut chunk = [0u8; 4096];
                    // Headers, then as much body as they announce.
                    let (head_end, length) = loop {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => raw.extend_from_slice(&chunk[..n]),
                        }
                        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
                            let length = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            break (end + 4, length);
                        }
                    };
                    while raw.len() < head_end + length {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => raw.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
                    let path = head.split_whitespace().nth(1).unwrap_or_default().to_string();
                    let body = String::from_utf8_lossy(&raw[head_end..]).to_string();
                    let answer = if path.starts_with("/redirect") {
                        format!("HTTP/1.1 307 Temporary Redirect\r\nlocation: http://127.0.0.1:{port}/inside\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    } else {
                        "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_string()
                    };
                    log.lock().unwrap().push(Request { path, body });
                    let _ = stream.write_all(answer.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Self { port, connections, requests, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits (up to `secs`) until `done` holds for the requests received, and returns them.
    pub async fn wait_for(&self, secs: u64, done: impl Fn(&[Request]) -> bool) -> Vec<Request> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let requests = self.requests();
            if done(&requests) || std::time::Instant::now() > deadline {
                return requests;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
}
