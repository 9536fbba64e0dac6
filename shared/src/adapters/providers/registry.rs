//! Every institution's connector, made from the one list of institutions (`institution::for_each_institution!`):
//! the wiring (`adapters::config::providers`) registers each from what its connector declares, and never names
//! an institution.

use serde_json::Value;

pub use crate::adapters::credentials::Credentials;
use crate::ports::providers::{Provider, Providers};

/// What an institution's connector declares about itself, from its own folder
/// (`adapters/providers/<name>/connector.rs`). The methods it serves are in its entry of the list, where the
/// domain (`Wallet::check`) reads them.
pub trait InstitutionConnector: Sync {
    /// The institution it talks to.
    fn institution(&self) -> Provider;
    /// Where a deployment keeps its credentials: the variable holds them as JSON (locally), or `…_ARN` names a
    /// Secrets Manager secret holding that JSON (in AWS). None for one that needs none and is always there.
    fn credentials_variable(&self) -> Option<&'static str>;
    /// The variable that, set to `sandbox`, points it at the institution's own test environment.
    fn environment_variable(&self) -> Option<&'static str> {
        None
    }
    /// Its APIs, production and test.
    fn endpoints(&self) -> &'static [Endpoint] {
        &[]
    }
    /// The shape of its credentials, with sample values: what `register` accepts.
    fn example_credentials(&self) -> Value;
    /// `providers` with its bank and/or acquirer added, built from its credentials against `environment`'s
    /// endpoints; the error names what is missing.
    fn register(&self, providers: Providers, credentials: &Credentials<'_>, environment: Environment) -> Result<Providers, String>;
}

/// Which of an institution's environments a deployment talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Production,
    /// The institution's own test environment (BB's homologação, Cielo's sandbox).
    Test,
}

/// One of an institution's APIs: its base URL in each environment, and the variable that overrides both
/// (tests, proxies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub variable: &'static str,
    pub production: &'static str,
    pub test: &'static str,
}

impl Endpoint {
    pub fn url(&self, environment: Environment) -> String {
        std::env::var(self.variable).unwrap_or_else(|_| {
            match environment {
                Environment::Production => self.production,
                Environment::Test => self.test,
            }
            .to_string()
        })
    }
}

macro_rules! institution_registry {
    ($($(#[$doc:meta])* $variant:ident = $name:literal => $connector:ident $serves:tt,)*) => {
        /// The connector talking to an institution: the one its entry in the list of institutions names.
        pub fn connector(institution: Provider) -> &'static dyn InstitutionConnector {
            match institution {
                $(Provider::$variant => &super::$connector::connector::Connector,)*
            }
        }
    };
}
crate::domain::institution::for_each_institution!(institution_registry);

#[cfg(test)]
mod tests;
