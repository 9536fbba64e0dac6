//! What Cielo declares about itself: its credentials (a Cielo merchant id and key, and the secret its
//! notification posts carry), its APIs in production and sandbox, and that it is an acquirer (cards).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::{Cielo, CieloConfig};
use crate::adapters::providers::registry::{Credentials, Endpoint, Environment, InstitutionConnector};
use crate::ports::providers::{Provider, Providers};

const API: Endpoint = Endpoint {
    variable: "COBRANCA_CIELO_URL",
    production: "https://api.cieloecommerce.cielo.com.br",
    test: "https://apisandbox.cieloecommerce.cielo.com.br",
};
const QUERY: Endpoint = Endpoint {
    variable: "COBRANCA_CIELO_QUERY_URL",
    production: "https://apiquery.cieloecommerce.cielo.com.br",
    test: "https://apiquerysandbox.cieloecommerce.cielo.com.br",
};

pub struct Connector;

impl InstitutionConnector for Connector {
    fn institution(&self) -> Provider {
        Provider::Cielo
    }

    fn credentials_variable(&self) -> Option<&'static str> {
        Some("COBRANCA_CIELO_CREDENTIALS")
    }

    fn environment_variable(&self) -> Option<&'static str> {
        Some("COBRANCA_CIELO_ENV")
    }

    fn endpoints(&self) -> &'static [Endpoint] {
        &[API, QUERY]
    }

    /// `notification_secret` (16 characters or more) turns `/v1/webhooks/cielo` on.
    fn example_credentials(&self) -> Value {
        json!({"merchant_id": "00000000-0000-0000-0000-000000000000", "merchant_key": "merchant-key", "notification_secret": "a-secret-of-16-or-more"})
    }

    fn register(&self, providers: Providers, c: &Credentials<'_>, environment: Environment) -> Result<Providers, String> {
        Ok(providers.with_acquirer(
            Provider::Cielo,
            Arc::new(Cielo::new(CieloConfig {
                api_url: API.url(environment),
                query_url: QUERY.url(environment),
                merchant_id: c.required("merchant_id")?,
                merchant_key: c.required("merchant_key")?,
                timeout: Duration::from_secs(10),
            })),
        ))
    }
}
