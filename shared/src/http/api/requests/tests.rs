use serde::Deserialize;

use super::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Outer {
    #[allow(dead_code)]
    name: String,
    #[allow(dead_code)]
    inner: Option<Inner>,
    #[allow(dead_code)]
    items: Option<Vec<Inner>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Inner {
    #[allow(dead_code)]
    amount: crate::domain::money::Money,
}

fn refused(body: &str) -> (u16, &'static str, Option<String>) {
    let e = parse::<Outer>(body.as_bytes()).unwrap_err();
    (e.status, e.code, e.field)
}

#[test]
fn a_refusal_names_the_field_by_its_path() {
    assert_eq!(refused(r#"{"name":"a","extra":1}"#), (422, "unknown_field", Some("extra".into())));
    assert_eq!(refused(r#"{"name":"a","inner":{"amount":"1.00","extra":1}}"#), (422, "unknown_field", Some("inner.extra".into())));
    assert_eq!(refused(r#"{"inner":{"amount":"1.00"}}"#), (422, "missing_field", Some("name".into())));
    assert_eq!(refused(r#"{"name":"a","inner":{}}"#), (422, "missing_field", Some("inner.amount".into())));
    assert_eq!(refused(r#"{"name":"a","items":[{"amount":"1.00"},{"amount":"1.001"}]}"#), (422, "invalid_field", Some("items[1].amount".into())));
    assert_eq!(refused(r#"{"name":5}"#), (422, "invalid_field", Some("name".into())));
}

#[test]
fn a_body_that_is_not_a_json_object_is_malformed() {
    for body in ["", "[1]", "\"x\"", "{", "null"] {
        assert_eq!(refused(body).1, "malformed_json", "{body}");
    }
}

#[test]
fn an_amount_sent_as_a_number_is_refused_with_what_to_send() {
    let e = parse::<Outer>(br#"{"name":"a","inner":{"amount":150.0}}"#).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("inner.amount"));
    assert!(e.message.contains("\"150.00\""), "{}", e.message);
}

fn unknown_field_of<T: serde::de::DeserializeOwned + std::fmt::Debug>(body: &str) -> (u16, &'static str, Option<String>) {
    let e = parse::<T>(body.as_bytes()).unwrap_err();
    (e.status, e.code, e.field)
}

#[test]
fn every_body_is_closed_to_fields_it_does_not_have() {
    let refusal = |field: &str| (422, "unknown_field", Some(field.to_string()));
    assert_eq!(unknown_field_of::<ApiKeyInput>(r#"{"name":"ERP","scopes":["read"]}"#), refusal("scopes"));
    assert_eq!(unknown_field_of::<OperatorKeyInput>(r#"{"zz":1}"#), refusal("zz"));
    assert_eq!(unknown_field_of::<RotateApiKey>(r#"{"grace":1}"#), refusal("grace"));
    assert_eq!(unknown_field_of::<MerchantInput>(r#"{"name":"Loja","mode":"live"}"#), refusal("mode"));
    assert_eq!(unknown_field_of::<WalletInput>(r#"{"name":"Pix","bank":1}"#), refusal("bank"));
    assert_eq!(unknown_field_of::<WalletChoice>(r#"{"wallet":"w"}"#), refusal("wallet"));
    assert_eq!(unknown_field_of::<CardPayment>(r#"{"cvv":"123"}"#), refusal("cvv"));
    assert_eq!(unknown_field_of::<WebhookEndpointInput>(r#"{"secret":"s"}"#), refusal("secret"));
    assert_eq!(unknown_field_of::<WebhookEndpointUpdate>(r#"{"secret":"s"}"#), refusal("secret"));
    assert_eq!(unknown_field_of::<RotateSecret>(r#"{"grace_seconds":1}"#), refusal("grace_seconds"));
    assert_eq!(unknown_field_of::<OptOut>(r#"{"email":true}"#), refusal("email"));
    assert_eq!(unknown_field_of::<RulerInput>(r#"{"send_time":"09:00","timezone":"UTC"}"#), refusal("timezone"));
    assert_eq!(unknown_field_of::<NotificationSettingsInput>(r#"{"budget":"10.00"}"#), refusal("budget"));
    assert_eq!(unknown_field_of::<Template>(r#"{"html":"x"}"#), refusal("html"));
    assert_eq!(unknown_field_of::<TemplatePreview>(r#"{"channel":"sms","locale":"pt"}"#), refusal("locale"));
}

/// The domain parsers these bodies go on to tell `null` from absent (a `null` wallet's settings is refused, absent
/// ones default), so a body hands them on as given.
#[test]
fn a_null_is_handed_on_as_given_and_an_absent_field_not_at_all() {
    let merchant: MerchantInput = parse(br#"{"name":null}"#).unwrap();
    assert_eq!((merchant.name, merchant.document), (Some(serde_json::Value::Null), None));
    let wallet: WalletInput = parse(br#"{"name":"Cartao","method":"credit_card","settings":null}"#).unwrap();
    assert_eq!(wallet.to_value(), serde_json::json!({"name":"Cartao","method":"credit_card","settings":null}));
    let update: WebhookEndpointUpdate = parse(br#"{"description":null}"#).unwrap();
    assert_eq!(update.to_value(), serde_json::json!({"description":null}));
}
