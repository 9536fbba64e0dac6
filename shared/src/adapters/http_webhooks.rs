//! Webhook deliveries over HTTPS with reqwest: no redirects followed, a 10-second budget, the reply's status,
//! `Retry-After` and the start of its body kept for the delivery log.

use std::time::Duration;

use async_trait::async_trait;

use crate::merchant_webhooks::{EndpointReply, WebhookTransport};

pub struct HttpWebhookTransport {
    client: reqwest::Client,
}

impl HttpWebhookTransport {
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .build()
            .expect("static client configuration");
        Self { client }
    }
}

impl Default for HttpWebhookTransport {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl WebhookTransport for HttpWebhookTransport {
    async fn post(&self, url: &str, headers: &[(&str, String)], body: &str) -> EndpointReply {
        let mut request = self.client.post(url).body(body.to_string());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
                // Only the start of the body is kept; a huge answer is not read to its end.
                let mut excerpt = Vec::new();
                let mut response = response;
                while excerpt.len() < 1024 {
                    match response.chunk().await {
                        Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                        _ => break,
                    }
                }
                excerpt.truncate(1024);
                EndpointReply::Answered { status, retry_after, body_excerpt: String::from_utf8_lossy(&excerpt).into_owned() }
            }
            Err(e) if e.is_timeout() => EndpointReply::Unreachable("timeout after 10 s".into()),
            Err(e) => EndpointReply::Unreachable(format!("{e}")),
        }
    }
}
