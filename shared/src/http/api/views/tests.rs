//! The views' derived schemas against the hand-written document they replace: a field added, dropped or renamed
//! on either side fails here.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::schemas;

const DOCUMENT: &str = include_str!("../../../../tests/fixtures/openapi-handwritten-2026-12-07.json");

/// Properties the views have that the document's schema of the same name never listed (they have always been on
/// the wire). Anything else either side has alone is drift.
const BEYOND_THE_DOCUMENT: &[(&str, &[&str])] = &[
    (
        "Charge",
        &[
            "max_installments",
            "external_reference",
            "created_at",
            "updated_at",
            "paid_at",
            "renegotiated_into",
            "origin",
            "amount_due",
            "received",
            "refunded",
            "balance_due",
            "credit",
            "late_fees",
            "expires_at",
            "wallets",
            "pix",
            "boleto",
            "card",
        ],
    ),
    ("Subscription", &["payment_methods", "max_installments", "late_fees", "ruler", "wallet_ids", "fee_mode", "external_reference"]),
    ("List", &["has_more", "next_cursor"]),
];

fn derived() -> BTreeMap<String, Value> {
    schemas().into_iter().map(|(name, schema)| (name, serde_json::to_value(schema).expect("a schema serialises"))).collect()
}

fn documented() -> Value {
    let document: Value = serde_json::from_str(DOCUMENT).expect("openapi.json is JSON");
    document["components"]["schemas"].clone()
}

fn names(v: &Value) -> BTreeSet<String> {
    v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array().map(|a| a.iter().map(|s| s.as_str().map_or_else(|| s.to_string(), str::to_string)).collect()).unwrap_or_default()
}

/// `"string"` and `["string", "null"]` alike, as a set of type names.
fn types(v: &Value) -> BTreeSet<String> {
    match v {
        Value::String(t) => BTreeSet::from([t.clone()]),
        other => strings(other),
    }
}

#[test]
fn every_object_the_api_answers_with_has_a_view() {
    let derived = derived();
    for name in ["Customer", "Charge", "InstallmentPlan", "Subscription", "ApiKey", "Replan", "Error", "List"] {
        assert!(derived.contains_key(name), "no view derives the {name} schema: {:?}", derived.keys().collect::<Vec<_>>());
    }
}

#[test]
fn each_view_has_the_documented_required_fields_and_properties() {
    let documented = documented();
    let derived = derived();
    let mut compared = 0;
    for (name, schema) in &derived {
        let Some(doc) = documented.get(name) else { continue };
        compared += 1;
        assert_eq!(strings(&schema["required"]), strings(&doc["required"]), "{name}: required");
        if let Some(closed) = doc.get("additionalProperties") {
            assert_eq!(&schema["additionalProperties"], closed, "{name}: additionalProperties");
        }
        let beyond: BTreeSet<String> =
            BEYOND_THE_DOCUMENT.iter().find(|(n, _)| n == name).map(|(_, p)| p.iter().map(|p| p.to_string()).collect()).unwrap_or_default();
        let expected: BTreeSet<String> = names(&doc["properties"]).union(&beyond).cloned().collect();
        assert_eq!(names(&schema["properties"]), expected, "{name}: properties");
        for (property, documented) in doc["properties"].as_object().into_iter().flatten() {
            let view = &schema["properties"][property];
            if let Some(t) = documented.get("type") {
                assert_eq!(types(&view["type"]), types(t), "{name}.{property}: type of {view}");
            }
            if let Some(d) = documented.get("description") {
                assert_eq!(&view["description"], d, "{name}.{property}: description");
            }
            if let Some(c) = documented.get("const") {
                assert_eq!(view["enum"], json!([c]), "{name}.{property}: the constant {c}, in {view}");
            }
            if let Some(values) = documented.get("enum") {
                let missing: Vec<_> = strings(values).difference(&strings(&view["enum"])).cloned().collect();
                assert!(missing.is_empty(), "{name}.{property}: the view lacks {missing:?} of {values}");
            }
        }
    }
    assert!(compared >= 8, "only {compared} views share a name with the document");
}

#[test]
fn an_error_says_its_field_even_when_there_is_none() {
    let answer = crate::http::api::ApiError::new(404, "not_found", "não / no").into_response();
    assert_eq!(answer.body, r#"{"error":{"code":"not_found","field":null,"message":"não / no"}}"#);
    let invalid = crate::http::api::ApiError::invalid("customer.document", "x").into_response();
    assert_eq!(serde_json::from_str::<Value>(&invalid.body).unwrap()["error"]["field"], "customer.document");
}

#[test]
fn a_page_says_whether_another_follows() {
    let last = serde_json::to_value(super::ListOf::page(vec![1, 2], None)).unwrap();
    assert_eq!(last, json!({"object": "list", "data": [1, 2], "has_more": false, "next_cursor": null}));
    let more = serde_json::to_value(super::ListOf::<u8>::page(vec![], Some("c2".into()))).unwrap();
    assert_eq!((&more["has_more"], &more["next_cursor"]), (&json!(true), &json!("c2")));
    let whole = serde_json::to_value(super::ListOf::whole(vec![1])).unwrap();
    assert_eq!(whole, json!({"object": "list", "data": [1]}));
}

#[test]
fn the_routes_answered_with_views_are_routes_of_the_api() {
    for route in super::ROUTES {
        assert!(crate::http::api::ROUTES.contains(route), "{route:?} is no route of the API: a typo would leave it to mark_livemode");
    }
    for routes in [super::ROUTES, crate::http::api::ROUTES] {
        let distinct: BTreeSet<_> = routes.iter().collect();
        assert_eq!(distinct.len(), routes.len(), "a route listed twice");
    }
}

#[test]
fn the_error_schema_is_the_documented_one_exactly() {
    assert_eq!(derived()["Error"], documented()["Error"]);
}

#[test]
fn a_wallet_shows_what_it_always_did_the_stored_wallet_with_its_object_and_mode() {
    let merchant = crate::domain::ids::MerchantId::generate();
    for wallet in crate::domain::wallet::Wallet::sandbox_set(&merchant, chrono::Utc::now()) {
        let mut before = serde_json::to_value(&wallet).unwrap();
        before["object"] = json!("wallet");
        before["livemode"] = json!(true);
        assert_eq!(serde_json::to_value(super::Wallet::of(&wallet, true)).unwrap(), before, "{:?}", wallet.method());
    }
}

#[test]
fn an_sms_is_shown_by_its_characters_encoding_and_segments() {
    let text = "Olá! Sua cobrança de R$ 150,00 vence amanhã: https://pague.example/p/abc";
    let fit = crate::domain::sms_text::analyze_in(text, crate::domain::sms_text::Alphabet::Portable);
    let shown = serde_json::to_value(super::SmsSize::of(text)).unwrap();
    assert_eq!(shown, json!({"characters": fit.characters, "encoding": fit.encoding, "segments": fit.segments}));
}

#[test]
fn every_reference_in_a_view_names_a_schema_the_views_give_once() {
    fn refs(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(r)) = o.get("$ref") {
                    out.insert(r.trim_start_matches("#/components/schemas/").to_string());
                }
                o.values().for_each(|inner| refs(inner, out));
            }
            Value::Array(a) => a.iter().for_each(|inner| refs(inner, out)),
            _ => {}
        }
    }
    let all = schemas();
    let names: BTreeSet<String> = all.iter().map(|(name, _)| name.clone()).collect();
    assert_eq!(names.len(), all.len(), "a schema given twice");
    let mut referenced = BTreeSet::new();
    derived().values().for_each(|schema| refs(schema, &mut referenced));
    assert!(referenced.contains("ChargeReminder") && referenced.contains("Customer"), "no reference found: {referenced:?}");
    let dangling: Vec<_> = referenced.difference(&names).collect();
    assert!(dangling.is_empty(), "references to schemas no view gives: {dangling:?}");
}
