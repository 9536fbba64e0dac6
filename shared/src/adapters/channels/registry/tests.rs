use std::collections::HashSet;

use super::*;

/// An AWS configuration that reaches nothing: building a client needs one, sending is not tried here.
fn aws() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder().behavior_version(aws_config::BehaviorVersion::latest()).region(aws_config::Region::new("sa-east-1")).build()
}

#[test]
fn every_channel_has_a_connector_of_its_own() {
    let (mut providers, mut variables) = (HashSet::new(), HashSet::new());
    for channel in Channel::ALL {
        let connector = connector(channel);
        assert_eq!(connector.channel(), channel, "the list of channels names another channel's connector for {channel:?}");
        assert!(providers.insert(connector.provider()), "{channel:?} shares its callback name {}", connector.provider());
        assert!(variables.insert(connector.credentials_variable()), "{channel:?} shares {}", connector.credentials_variable());
        assert_eq!(by_provider(connector.provider()).map(|c| c.channel()), Some(channel));
    }
    assert!(by_provider("fax").is_none());
}

#[test]
fn each_connector_is_built_from_its_declared_credentials_and_names_its_variable_when_they_fall_short() {
    for channel in Channel::ALL {
        let connector = connector(channel);
        let variable = connector.credentials_variable();
        let example = connector.example_credentials();
        assert!(connector.build(&Credentials { variable, value: &example }, &aws()).is_ok(), "{channel:?} refuses its own example");
        let empty = serde_json::json!({});
        match connector.build(&Credentials { variable, value: &empty }, &aws()) {
            Ok(_) => panic!("{channel:?} built from no credentials"),
            Err(why) => assert!(why.contains(variable), "{channel:?}: {why}"),
        }
    }
}

#[test]
fn only_providers_that_make_a_handshake_answer_one() {
    let query =
        |token: &str| vec![("hub.mode".into(), "subscribe".into()), ("hub.verify_token".into(), token.into()), ("hub.challenge".into(), "42".into())];
    let whatsapp = connector(Channel::Whatsapp).handshake().expect("Meta verifies the callback URL");
    let credentials = serde_json::json!({"verify_token": "ours"});
    assert_eq!(whatsapp(&query("ours"), &credentials).unwrap(), "42");
    assert!(whatsapp(&query("theirs"), &credentials).is_err());
    assert!(Channel::ALL.into_iter().filter(|c| *c != Channel::Whatsapp).all(|c| connector(c).handshake().is_none()));
}

/// The deployment's wiring reads each channel's credentials from the variable its connector declares, and
/// serves exactly the channels so configured. One test, as it sets process variables nothing else reads.
#[tokio::test]
async fn the_deployment_serves_each_channel_from_its_connectors_variable() {
    let configured = [Channel::Sms, Channel::Letter];
    for channel in configured {
        std::env::set_var(connector(channel).credentials_variable(), connector(channel).example_credentials().to_string());
    }
    let router = crate::adapters::config::sender(&aws()).await.unwrap_or_else(|e| panic!("{e}"));
    for channel in Channel::ALL {
        assert_eq!(router.serves(channel), configured.contains(&channel), "{channel:?}");
    }
    std::env::set_var(connector(Channel::Sms).credentials_variable(), "{}");
    let refused = crate::adapters::config::sender(&aws()).await.err().expect("credentials without a token");
    assert!(refused.0.contains("COBRANCA_SMS_CREDENTIALS lacks token"), "{}", refused.0);
    for channel in configured {
        std::env::remove_var(connector(channel).credentials_variable());
    }
}
