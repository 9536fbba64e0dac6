//! A Lambda Runtime API (2018-06-01) served to real function processes, so locally each function runs its
//! own release or debug binary exactly as Lambda runs `bootstrap`: it polls `/invocation/next`, answers on
//! `/response` or `/error`. Also used to measure cold starts (issue #9).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{mpsc, oneshot, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("function error: {0}")]
    Function(String),
    #[error("function timed out after {0:?}")]
    Timeout(Duration),
    #[error("function host stopped")]
    Stopped,
}

/// Where a function's answer to one invocation goes: its response body, or its error.
type Reply = oneshot::Sender<Result<Vec<u8>, String>>;

struct Invocation {
    id: String,
    payload: Vec<u8>,
    deadline_ms: u64,
    reply: Reply,
}

struct Shared {
    name: String,
    queue: Mutex<mpsc::Receiver<Invocation>>,
    waiting: Mutex<HashMap<String, (Reply, std::time::Instant)>>,
    stats: Arc<std::sync::Mutex<InvocationStats>>,
}

/// What Lambda would bill: invocations, and their durations rounded up to the millisecond.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct InvocationStats {
    pub invocations: u64,
    pub billed_ms: u64,
}

/// One function: its Runtime API endpoint and the processes polling it.
#[derive(Clone)]
pub struct FunctionHost {
    pub name: String,
    tx: mpsc::Sender<Invocation>,
    timeout: Duration,
    stats: Arc<std::sync::Mutex<InvocationStats>>,
}

pub struct HostConfig {
    pub name: String,
    pub binary: PathBuf,
    pub instances: usize,
    pub timeout: Duration,
    pub env: Vec<(String, String)>,
}

impl FunctionHost {
    pub async fn start(cfg: HostConfig) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel(1024);
        let stats = Arc::new(std::sync::Mutex::new(InvocationStats::default()));
        let shared = Arc::new(Shared { name: cfg.name.clone(), queue: Mutex::new(rx), waiting: Mutex::new(HashMap::new()), stats: stats.clone() });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(respond))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let api_addr = listener.local_addr()?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        if !cfg.binary.exists() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} not built: run `cargo build --workspace --bins`", cfg.binary.display()),
            ));
        }
        for instance in 0..cfg.instances {
            tokio::spawn(supervise(cfg.name.clone(), cfg.binary.clone(), api_addr.to_string(), cfg.env.clone(), cfg.timeout, instance));
        }
        Ok(Self { name: cfg.name, tx, timeout: cfg.timeout, stats })
    }

    pub fn stats(&self) -> InvocationStats {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Invokes the function synchronously (RequestResponse) and returns its result payload.
    pub async fn invoke(&self, payload: &serde_json::Value) -> Result<serde_json::Value, InvokeError> {
        let (reply, rx) = oneshot::channel();
        let deadline_ms =
            (std::time::SystemTime::now() + self.timeout).duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default();
        let inv = Invocation { id: ulid::Ulid::new().to_string(), payload: serde_json::to_vec(payload).expect("json"), deadline_ms, reply };
        self.tx.send(inv).await.map_err(|_| InvokeError::Stopped)?;
        // Queueing time counts too: a wedged function must not hang its caller forever.
        match tokio::time::timeout(self.timeout + Duration::from_secs(30), rx).await {
            Ok(Ok(Ok(body))) => serde_json::from_slice(&body).map_err(|e| InvokeError::Function(format!("unreadable response: {e}"))),
            Ok(Ok(Err(error))) => Err(InvokeError::Function(error)),
            Ok(Err(_)) => Err(InvokeError::Stopped),
            Err(_) => Err(InvokeError::Timeout(self.timeout)),
        }
    }
}

/// Keeps one process of a function alive, restarting it if it dies (as Lambda would start a new one).
async fn supervise(name: String, binary: PathBuf, api: String, env: Vec<(String, String)>, timeout: Duration, instance: usize) {
    loop {
        let mut cmd = tokio::process::Command::new(&binary);
        cmd.envs(env.iter().cloned())
            .env("AWS_LAMBDA_RUNTIME_API", &api)
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_TIMEOUT", timeout.as_secs().to_string())
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", format!("local/{instance}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(function = %name, error = %e, "cannot start function");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        for stream in
            [child.stdout.take().map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>), child.stderr.take().map(|s| Box::new(s) as _)]
                .into_iter()
                .flatten()
        {
            let prefix = format!("[{name}#{instance}]");
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    eprintln!("{prefix} {line}");
                }
            });
        }
        let status = child.wait().await;
        tracing::warn!(function = %name, instance, ?status, "function process exited; restarting");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn next(State(s): State<Arc<Shared>>) -> Response {
    let inv = {
        let mut q = s.queue.lock().await;
        match q.recv().await {
            Some(inv) => inv,
            None => return StatusCode::GONE.into_response(),
        }
    };
    s.waiting.lock().await.insert(inv.id.clone(), (inv.reply, std::time::Instant::now()));
    let mut headers = HeaderMap::new();
    let h = |v: String| v.parse().expect("header value");
    headers.insert("lambda-runtime-aws-request-id", h(inv.id.clone()));
    headers.insert("lambda-runtime-deadline-ms", h(inv.deadline_ms.to_string()));
    headers.insert("lambda-runtime-invoked-function-arn", h(format!("arn:aws:lambda:us-east-1:000000000000:function:{}", s.name)));
    headers.insert("lambda-runtime-trace-id", h(format!("Root=1-{}", inv.id)));
    headers.insert("content-type", h("application/json".into()));
    (StatusCode::OK, headers, inv.payload).into_response()
}

async fn respond(State(s): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    if let Some(reply) = finished(&s, &id).await {
        let _ = reply.send(Ok(body.to_vec()));
    }
    StatusCode::ACCEPTED
}

async fn fail(State(s): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    if let Some(reply) = finished(&s, &id).await {
        let _ = reply.send(Err(String::from_utf8_lossy(&body).into_owned()));
    }
    StatusCode::ACCEPTED
}

/// Takes the invocation's reply channel and counts its duration.
async fn finished(s: &Shared, id: &str) -> Option<Reply> {
    let (reply, started) = s.waiting.lock().await.remove(id)?;
    let mut stats = s.stats.lock().unwrap_or_else(|p| p.into_inner());
    stats.invocations += 1;
    stats.billed_ms += (started.elapsed().as_micros() as u64).div_ceil(1000);
    Some(reply)
}

async fn init_error(State(s): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    tracing::error!(function = %s.name, error = %String::from_utf8_lossy(&body), "function failed to initialise");
    StatusCode::ACCEPTED
}
