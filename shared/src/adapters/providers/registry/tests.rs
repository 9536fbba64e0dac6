use std::collections::HashSet;

use super::*;
use crate::domain::merchant::Mode;
use crate::domain::pay::method::PaymentMethod;

fn mode(institution: Provider) -> Mode {
    if Mode::Test.serves(institution) {
        Mode::Test
    } else {
        Mode::Live
    }
}

#[test]
fn every_institution_has_a_connector_of_its_own() {
    let mut variables = HashSet::new();
    for institution in Provider::ALL {
        let connector = connector(institution);
        assert_eq!(connector.institution(), institution, "the list of institutions names another's connector for {institution:?}");
        for variable in connector.credentials_variable().into_iter().chain(connector.environment_variable()) {
            assert!(variables.insert(variable), "{institution:?} shares {variable}");
        }
        for endpoint in connector.endpoints() {
            assert!(variables.insert(endpoint.variable), "{institution:?} shares {}", endpoint.variable);
            assert!(endpoint.production.starts_with("https://") && endpoint.test.starts_with("https://"), "{endpoint:?}");
            assert_ne!(endpoint.production, endpoint.test, "{endpoint:?}");
        }
    }
}

/// A connector registers a bank for the Pix and boleto its entry says it serves, and an acquirer for cards:
/// what a wallet may name (`Wallet::check`) is what the wiring can pay with.
#[test]
fn each_connector_registers_what_its_institution_serves_from_its_declared_credentials() {
    for institution in Provider::ALL {
        let connector = connector(institution);
        let variable = connector.credentials_variable().unwrap_or("no variable");
        let example = connector.example_credentials();
        let providers = connector
            .register(Providers::default(), &Credentials { variable, value: &example }, Environment::Test)
            .unwrap_or_else(|e| panic!("{institution:?} refuses its own example: {e}"));
        let banks = institution.serves(PaymentMethod::Pix) || institution.serves(PaymentMethod::Boleto);
        assert_eq!(providers.bank(mode(institution), institution).is_ok(), banks, "{institution:?}'s bank");
        assert_eq!(
            providers.acquirer(mode(institution), institution).is_ok(),
            institution.serves(PaymentMethod::CreditCard),
            "{institution:?}'s acquirer"
        );
        if let Some(variable) = connector.credentials_variable() {
            let empty = serde_json::json!({});
            match connector.register(Providers::default(), &Credentials { variable, value: &empty }, Environment::Test) {
                Ok(_) => panic!("{institution:?} registered without credentials"),
                Err(why) => assert!(why.contains(variable), "{institution:?}: {why}"),
            }
        }
    }
}

/// The deployment's wiring reads each institution's credentials from the variable its connector declares: the
/// sandbox is always there, an institution whose variable is unset is not. One test, as it sets process
/// variables nothing else reads.
#[cfg(feature = "aws")]
#[tokio::test]
async fn the_deployment_registers_each_institution_from_its_connectors_variable() {
    let aws = aws_config::SdkConfig::builder().build();
    let cielo = connector(Provider::Cielo);
    let variable = cielo.credentials_variable().unwrap();
    std::env::set_var(variable, cielo.example_credentials().to_string());
    let providers = crate::adapters::config::providers(&aws).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(providers.acquirer(Mode::Live, Provider::Cielo).is_ok());
    assert!(providers.bank(Mode::Test, Provider::Sandbox).is_ok() && providers.acquirer(Mode::Test, Provider::Sandbox).is_ok());
    assert!(providers.bank(Mode::Live, Provider::BancoDoBrasil).is_err(), "Banco do Brasil without its credentials");
    std::env::set_var(variable, r#"{"merchant_id":"m"}"#);
    let refused = crate::adapters::config::providers(&aws).await.err().expect("credentials without a key");
    assert!(refused.0.contains("COBRANCA_CIELO_CREDENTIALS lacks merchant_key"), "{}", refused.0);
    std::env::remove_var(variable);
}
