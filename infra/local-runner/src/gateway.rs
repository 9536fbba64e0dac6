//! API Gateway HTTP API (payload format 2.0) in front of the function hosts, with the routes of template.yaml.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::Utc;
use serde_json::{json, Map, Value};

use crate::runtime_api::FunctionHost;
use crate::template::Route;

pub struct Gateway {
    pub routes: Vec<(Route, FunctionHost)>,
}

impl Gateway {
    pub async fn handle(self: Arc<Self>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
        let path = uri.path();
        // As API Gateway: a route with a greedy `{proxy+}` path only takes what no more specific route matches.
        let candidates = self.routes.iter().filter(|(r, _)| !r.is_greedy()).chain(self.routes.iter().filter(|(r, _)| r.is_greedy()));
        let Some((route, host, params)) = candidates.into_iter().find_map(|(r, h)| r.matches(method.as_str(), path).map(|p| (r, h, p))) else {
            // What API Gateway answers for an unknown route.
            return (StatusCode::NOT_FOUND, [("content-type", "application/json")], r#"{"message":"Not Found"}"#).into_response();
        };
        let event = api_gateway_event(route, &method, &uri, &headers, &body, params);
        match host.invoke(&event).await {
            Ok(result) => lambda_result_to_response(result),
            Err(e) => {
                tracing::error!(function = %host.name, error = %e, "invocation failed");
                (StatusCode::INTERNAL_SERVER_ERROR, [("content-type", "application/json")], r#"{"message":"Internal Server Error"}"#).into_response()
            }
        }
    }
}

fn api_gateway_event(route: &Route, method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes, params: Vec<(String, String)>) -> Value {
    let mut hdrs = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in headers {
        let v = value.to_str().unwrap_or_default().to_string();
        if name == "cookie" {
            cookies.extend(v.split("; ").map(str::to_string));
            continue;
        }
        // HTTP API joins repeated headers with commas.
        match hdrs.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&v);
            }
            _ => {
                hdrs.insert(name.as_str().to_string(), Value::String(v));
            }
        }
    }
    let query: Map<String, Value> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.split_once('=').or(Some((p, ""))))
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    let route_key = format!("{} {}", route.method, route.path);
    let (body_value, is_b64) = match std::str::from_utf8(body) {
        Ok(text) => (Value::String(text.to_string()), false),
        Err(_) => (Value::String(B64.encode(body)), true),
    };
    let now = Utc::now();
    json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": uri.path(),
        "rawQueryString": uri.query().unwrap_or_default(),
        "cookies": cookies,
        "headers": hdrs,
        "queryStringParameters": if query.is_empty() { Value::Null } else { Value::Object(query) },
        "pathParameters": if params.is_empty() { Value::Null } else { params.into_iter().map(|(k, v)| (k, Value::String(v))).collect::<Map<_, _>>().into() },
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "domainPrefix": "127",
            "http": {
                "method": method.as_str(),
                "path": uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or_default(),
            },
            "requestId": ulid::Ulid::new().to_string(),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "body": if body.is_empty() { Value::Null } else { body_value },
        "isBase64Encoded": is_b64,
    })
}

fn lambda_result_to_response(result: Value) -> Response {
    // A function may return a bare value; HTTP API then answers 200 with it as JSON.
    let Some(status) = result.get("statusCode").and_then(Value::as_u64) else {
        return (StatusCode::OK, [("content-type", "application/json")], result.to_string()).into_response();
    };
    let mut builder = Response::builder().status(status as u16);
    if let Some(h) = result.get("headers").and_then(Value::as_object) {
        for (k, v) in h {
            if let (Ok(name), Some(Ok(value))) = (HeaderName::try_from(k.as_str()), v.as_str().map(HeaderValue::from_str)) {
                builder = builder.header(name, value);
            }
        }
    }
    if let Some(c) = result.get("cookies").and_then(Value::as_array) {
        for cookie in c.iter().filter_map(Value::as_str) {
            builder = builder.header("set-cookie", cookie);
        }
    }
    let body = result.get("body").and_then(Value::as_str).unwrap_or_default();
    let bytes = if result.get("isBase64Encoded").and_then(Value::as_bool).unwrap_or(false) {
        B64.decode(body).unwrap_or_default()
    } else {
        body.as_bytes().to_vec()
    };
    builder.body(Body::from(bytes)).unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
}
