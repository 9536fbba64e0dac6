//! What the sandbox declares about itself: no credentials, so it is always there (for test-mode merchants only:
//! `Providers` never hands it to a live one), as bank and acquirer both.

use std::sync::Arc;

use serde_json::{json, Value};

use super::{SandboxAcquirer, SandboxBank};
use crate::adapters::providers::registry::{Credentials, Environment, InstitutionConnector};
use crate::ports::providers::{Provider, Providers};

pub struct Connector;

impl InstitutionConnector for Connector {
    fn institution(&self) -> Provider {
        Provider::Sandbox
    }

    fn credentials_variable(&self) -> Option<&'static str> {
        None
    }

    fn example_credentials(&self) -> Value {
        json!({})
    }

    fn register(&self, providers: Providers, _: &Credentials<'_>, _: Environment) -> Result<Providers, String> {
        Ok(providers.with_bank(Provider::Sandbox, Arc::new(SandboxBank)).with_acquirer(Provider::Sandbox, Arc::new(SandboxAcquirer)))
    }
}
