//! What Banco do Brasil declares about itself: its credentials (a BB developer application), its APIs in
//! production and homologação, and that it is a bank (boleto and Pix).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::{BancoDoBrasil, BbConfig};
use crate::adapters::providers::registry::{Credentials, Endpoint, Environment, InstitutionConnector};
use crate::ports::providers::{Provider, Providers};

const OAUTH: Endpoint =
    Endpoint { variable: "COBRANCA_BB_OAUTH_URL", production: "https://oauth.bb.com.br/oauth/token", test: "https://oauth.hm.bb.com.br/oauth/token" };
const COBRANCAS: Endpoint = Endpoint {
    variable: "COBRANCA_BB_COBRANCA_URL",
    production: "https://api.bb.com.br/cobrancas/v2",
    test: "https://api.hm.bb.com.br/cobrancas/v2",
};
const PIX: Endpoint =
    Endpoint { variable: "COBRANCA_BB_PIX_URL", production: "https://api-pix.bb.com.br/pix/v2", test: "https://api.hm.bb.com.br/pix/v2" };

pub struct Connector;

impl InstitutionConnector for Connector {
    fn institution(&self) -> Provider {
        Provider::BancoDoBrasil
    }

    fn credentials_variable(&self) -> Option<&'static str> {
        Some("COBRANCA_BB_CREDENTIALS")
    }

    fn environment_variable(&self) -> Option<&'static str> {
        Some("COBRANCA_BB_ENV")
    }

    fn endpoints(&self) -> &'static [Endpoint] {
        &[OAUTH, COBRANCAS, PIX]
    }

    fn example_credentials(&self) -> Value {
        json!({"client_id": "eyJpZCI6IjAifQ", "client_secret": "client-secret", "developer_application_key": "app-key"})
    }

    fn register(&self, providers: Providers, c: &Credentials<'_>, environment: Environment) -> Result<Providers, String> {
        Ok(providers.with_bank(
            Provider::BancoDoBrasil,
            Arc::new(BancoDoBrasil::new(BbConfig {
                oauth_url: OAUTH.url(environment),
                cobranca_base_url: COBRANCAS.url(environment),
                pix_base_url: PIX.url(environment),
                client_id: c.required("client_id")?,
                client_secret: c.required("client_secret")?,
                developer_application_key: c.required("developer_application_key")?,
                timeout: Duration::from_secs(10),
            })),
        ))
    }
}
