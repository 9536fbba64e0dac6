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
