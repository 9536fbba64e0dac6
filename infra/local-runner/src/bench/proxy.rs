//! A proxy in front of DynamoDB or SQS that counts every AWS call (and the capacity DynamoDB reports).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::Router;
use serde_json::{json, Value};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

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
