//! `spawn_app()`: starts the local runner (the real function binaries behind the local API Gateway, SQS
//! mapping and schedule) against the LocalStack stack, with a fresh merchant, and talks to it over HTTP.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

/// The retry schedule every test runner uses (they share the webhook queue, so they must agree).
pub const WEBHOOK_RETRY_DELAYS: &str = "1s,2s,2s";

pub struct TestApp {
    pub url: String,
    pub api_key: String,
    pub webhook_secret: String,
    pub client: reqwest::Client,
    child: Child,
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
    spawn(instances, None)
}

/// As `spawn_app`, with everything the runner and the functions log (at the production level, info) written to
/// `log`, for tests that read the logs.
pub fn spawn_app_logging_to(log: &std::path::Path) -> Option<TestApp> {
    spawn(2, Some(log))
}

fn spawn(instances: usize, log: Option<&std::path::Path>) -> Option<TestApp> {
    if std::env::var("COBRANCA_TABLE").is_err() || std::env::var("AWS_ENDPOINT_URL").is_err() {
        assert!(std::env::var("COBRANCA_REQUIRE_AWS").is_err(), "COBRANCA_REQUIRE_AWS is set but the stack environment is missing");
        eprintln!("skipped: no LocalStack stack environment (run through `make test`)");
        return None;
    }
    let runner = bin_dir().join("local-runner");
    assert!(runner.exists(), "{} missing: run `cargo build --workspace --bins` first", runner.display());
    let merchant = format!("mer_test_{}", ulid::Ulid::new().to_string().to_lowercase());
    let mut child = Command::new(&runner)
        .args(["serve", "--port", "0", "--schedule-seconds", "0", "--instances", &instances.to_string()])
        .arg("--template")
        .arg(workspace_root().join("template.yaml"))
        .arg("--bin-dir")
        .arg(bin_dir())
        .env("COBRANCA_DEV_MERCHANT_ID", &merchant)
        // Webhook receivers run on localhost here, and three days of retries cannot be waited for.
        .env("COBRANCA_WEBHOOK_ALLOW_LOCAL", "true")
        .env("COBRANCA_WEBHOOK_RETRY_DELAYS", WEBHOOK_RETRY_DELAYS)
        .env_remove("COBRANCA_DEV_API_KEY")
        .env_remove("COBRANCA_DEV_WEBHOOK_SECRET")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(match log {
            Some(path) => Stdio::from(std::fs::File::create(path).expect("log file")),
            None if std::env::var("COBRANCA_TEST_LOGS").is_ok() => Stdio::inherit(),
            None => Stdio::null(),
        })
        .spawn()
        .expect("local-runner starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("ready line");
    let ready: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("runner did not start ({e}): {line:?}"));
    Some(TestApp {
        url: ready["url"].as_str().unwrap().to_string(),
        api_key: ready["api_key"].as_str().unwrap().to_string(),
        webhook_secret: ready["webhook_secret"].as_str().unwrap().to_string(),
        client: reqwest::Client::new(),
        child,
    })
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
    let port = serde_json::from_str::<Value>(&line).ok().and_then(|v| v["port"].as_u64()).unwrap_or_else(|| panic!("receiver did not start: {line:?}"));
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
