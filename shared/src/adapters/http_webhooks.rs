//! Webhook deliveries over HTTPS with reqwest: no redirects followed, a 10-second budget, the reply's status,
//! `Retry-After` and the start of its body kept for the delivery log.
//!
//! The URL was checked when it was registered, but a name can resolve anywhere, and differently each time. So
//! every send checks the URL again, the client resolves names through [`PublicOnly`], which refuses a name if any
//! of its addresses is not public (`outbound::is_public`), and connects to the addresses it checked: reqwest asks
//! no one else (no second lookup, no proxy from the environment).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::service::merchant_webhooks::{EndpointReply, UrlPolicy, WebhookTransport};

/// Turns a host name into addresses: the system resolver in production, a fixed table in tests.
#[async_trait]
pub trait HostLookup: Send + Sync {
    async fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>>;
}

/// The operating system's resolver (getaddrinfo, through tokio).
pub struct SystemLookup;

#[async_trait]
impl HostLookup for SystemLookup {
    async fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
        Ok(tokio::net::lookup_host((host, 0)).await?.map(|a| a.ip()).collect())
    }
}

/// reqwest's resolver: the lookup's addresses, only when every one is public (or the policy allows local ones).
struct PublicOnly {
    lookup: Arc<dyn HostLookup>,
    policy: UrlPolicy,
}

/// Why a name was not connected to; reqwest reports it as the connection's error.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolve para um endereço não público / resolves to a non-public address ({address})")]
struct NotPublic {
    host: String,
    address: IpAddr,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let lookup = self.lookup.clone();
        let policy = self.policy;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addresses = lookup.lookup(&host).await?;
            if !policy.allow_local {
                if let Some(address) = addresses.iter().copied().find(|a| !crate::domain::outbound::is_public(*a)) {
                    return Err(Box::new(NotPublic { host, address }) as Box<dyn std::error::Error + Send + Sync>);
                }
            }
            // Port 0: the connector puts the URL's port in.
            let checked: Vec<SocketAddr> = addresses.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect();
            Ok(Box::new(checked.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

pub struct HttpWebhookTransport {
    client: reqwest::Client,
    policy: UrlPolicy,
}

impl HttpWebhookTransport {
    /// Deliveries under `policy` (the same one endpoints were registered under), names resolved by the system.
    pub fn new(policy: UrlPolicy) -> Self {
        Self::with_lookup(policy, Arc::new(SystemLookup))
    }

    /// Deliveries whose names `lookup` resolves (tests inject one here).
    pub fn with_lookup(policy: UrlPolicy, lookup: Arc<dyn HostLookup>) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(PublicOnly { lookup, policy }))
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .build()
            .expect("static client configuration");
        Self { client, policy }
    }
}

#[async_trait]
impl WebhookTransport for HttpWebhookTransport {
    async fn post(&self, url: &str, headers: &[(&str, String)], body: &str) -> EndpointReply {
        // An address in the URL itself is never looked up: it is checked here (so is an endpoint stored before
        // the rule it now breaks).
        if let Err(e) = self.policy.parse(url) {
            return EndpointReply::Unreachable(format!("URL recusada / URL refused: {}", e.message));
        }
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
            Err(e) => EndpointReply::Unreachable(error_chain(&e)),
        }
    }
}

/// An error with its causes: reqwest's own text is only "error sending request".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Names resolved from a table, as a DNS server an attacker controls would answer.
    struct Table(HashMap<&'static str, Vec<IpAddr>>);

    #[async_trait]
    impl HostLookup for Table {
        async fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
            self.0.get(host).cloned().ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, host.to_string()))
        }
    }

    fn transport(policy: UrlPolicy, table: &[(&'static str, &str)]) -> HttpWebhookTransport {
        let mut names: HashMap<&'static str, Vec<IpAddr>> = HashMap::new();
        for (name, ip) in table {
            names.entry(name).or_default().push(ip.parse().unwrap());
        }
        HttpWebhookTransport::with_lookup(policy, Arc::new(Table(names)))
    }

    /// A TCP listener on loopback that counts the connections made to it.
    async fn listener() -> (u16, Arc<AtomicUsize>) {
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = socket.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((connection, _)) = socket.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                drop(connection);
            }
        });
        (port, accepted)
    }

    fn unreachable_reason(reply: EndpointReply) -> String {
        match reply {
            EndpointReply::Unreachable(why) => why,
            other => panic!("answered: {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_at_connect() {
        let (port, accepted) = listener().await;
        let t = transport(UrlPolicy::default(), &[("hooks.example.com", "127.0.0.1")]);
        let why = unreachable_reason(t.post(&format!("https://hooks.example.com:{port}/h"), &[], "{}").await);
        assert!(why.contains("non-public address (127.0.0.1)"), "{why}");
        assert_eq!(accepted.load(Ordering::SeqCst), 0, "no connection to the checked-out address");
    }

    #[tokio::test]
    async fn a_name_with_any_non_public_address_is_refused() {
        for (ip, why) in crate::domain::outbound::NOT_PUBLIC {
            // A public address first does not make the name acceptable: the connector would try the next.
            let t = transport(UrlPolicy::default(), &[("hooks.example.com", "93.184.216.34"), ("hooks.example.com", ip)]);
            let reason = unreachable_reason(t.post("https://hooks.example.com/h", &[], "{}").await);
            assert!(reason.contains("non-public address"), "{ip} ({why}): {reason}");
        }
    }

    #[tokio::test]
    async fn a_url_naming_a_non_public_address_is_refused_at_send() {
        for (ip, why) in crate::domain::outbound::NOT_PUBLIC {
            let host = if ip.contains(':') { format!("[{ip}]") } else { ip.to_string() };
            let t = transport(UrlPolicy::default(), &[]);
            let reason = unreachable_reason(t.post(&format!("https://{host}/h"), &[], "{}").await);
            assert!(reason.contains("URL refused"), "{ip} ({why}): {reason}");
        }
    }

    #[tokio::test]
    async fn a_redirect_is_not_followed() {
        use wiremock::matchers::{method, path};
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/h"))
            .respond_with(ResponseTemplate::new(307).insert_header("location", format!("{}/inside", server.uri())))
            .mount(&server)
            .await;
        Mock::given(path("/inside")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
        // Local addresses allowed (as in development), so only the redirect rule stands between us and /inside.
        let t = transport(UrlPolicy { allow_local: true }, &[]);
        match t.post(&format!("{}/h", server.uri()), &[], "{}").await {
            EndpointReply::Answered { status, .. } => assert_eq!(status, 307),
            other => panic!("{other:?}"),
        }
        server.verify().await;
    }

    #[tokio::test]
    async fn local_development_may_deliver_to_loopback_names() {
        use wiremock::matchers::method;
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let server = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(204)).expect(1).mount(&server).await;
        let port = server.address().port();
        let t = transport(UrlPolicy { allow_local: true }, &[("receiver", "127.0.0.1")]);
        match t.post(&format!("http://receiver:{port}/h"), &[], "{}").await {
            EndpointReply::Answered { status, .. } => assert_eq!(status, 204),
            other => panic!("{other:?}"),
        }
    }
}
