//! Every inbound payload parser on the same bytes: our `cobranca` protocol, the BCB Pix webhook, CNAB 240
//! return files, Zenvia SMS and TotalVoice status callbacks, and — through `WebhookApi::handle`, which holds
//! their parsers — Cielo's notification post and the three payment webhooks end to end (a `cobranca` delivery
//! signed with the app's secret, so the body reaches the parser). Errors are errors; nothing panics; what
//! parses obeys the limits the parsers promise.
#![no_main]

use std::collections::HashMap;

use cobranca::adapters::channels::{sms, voice};
use cobranca::domain::pay::cnab240::parse_return;
use cobranca::domain::payment_notice::{parse_bcb_pix, parse_cobranca, CobrancaEvent, PaymentNotice};
use cobranca_fuzz::{assert_api_answer, now, App, WEBHOOK_HEADER_SECRET};
use libfuzzer_sys::fuzz_target;

fn check_notice(n: &PaymentNotice) {
    assert!(n.raw_charge_ref.chars().count() <= 100, "raw_charge_ref is cut to 100 characters");
    assert!(!n.provider_payment_id.is_empty(), "a movement has an id");
    assert!(n.kind.is_reversal() == n.reverses.is_some(), "refunds and chargebacks name what they reverse: {n:?}");
    // The amount is a valid Money: positive, two places, within the boleto's 10 digits.
    assert!(n.amount.cents() > 0 && n.amount.cents() <= 9_999_999_999);
}

fuzz_target!(|data: &[u8]| {
    match parse_cobranca("msg_fuzz", data) {
        Ok(CobrancaEvent::Money(n)) => {
            check_notice(&n);
            assert!(n.provider_payment_id.len() <= 200);
        }
        Ok(CobrancaEvent::Status { charge_ref, .. }) => assert!(charge_ref.chars().count() <= 100),
        Err(e) => drop(e.to_string()),
    }
    if let Ok(notices) = parse_bcb_pix(data) {
        for n in &notices {
            check_notice(n);
            assert!(n.event_id.starts_with("pix:"));
        }
    }
    if let Ok(file) = std::str::from_utf8(data) {
        if let Ok(titles) = parse_return(file) {
            let lines = file.lines().count();
            for t in &titles {
                // The reconciliation import reads the T and U records back by this line number.
                assert!(t.line >= 1 && t.line <= lines, "line {} of {lines}", t.line);
                let _ = (t.is_settlement(), t.paid());
            }
        }
    }
    let zenvia = HashMap::from([("x-webhook-secret".to_string(), "zenvia-secret".to_string())]);
    if let Ok(updates) = sms::parse_status_callback(&zenvia, data, "zenvia-secret") {
        assert!(updates.len() <= 1);
    }
    assert!(sms::parse_status_callback(&HashMap::new(), data, "zenvia-secret").is_err(), "unsigned callbacks are refused");
    if let Ok(updates) = voice::parse_status_callback(Some("tv-token"), data, "tv-token") {
        assert!(updates.len() <= 1);
    }
    assert!(voice::parse_status_callback(Some("wrong"), data, "tv-token").is_err());

    // The HTTP entry points, each on a fresh in-memory application.
    let app = App::new();
    let ts = now().timestamp();
    let signed = HashMap::from([
        ("webhook-id".to_string(), "msg_fuzz".to_string()),
        ("webhook-timestamp".to_string(), ts.to_string()),
        ("webhook-signature".to_string(), app.secret.sign("msg_fuzz", ts, data)),
    ]);
    let shared = HashMap::from([("x-webhook-secret".to_string(), WEBHOOK_HEADER_SECRET.to_string())]);
    for (path, headers) in [("/v1/webhooks/cobranca", &signed), ("/v1/webhooks/pix/pix", &shared), ("/v1/webhooks/cielo", &shared)] {
        let r = app.webhook(path, headers.clone(), data);
        assert_api_answer(path, &r);
        // Without the right credentials the body is never looked at.
        let r = app.webhook(path, HashMap::new(), data);
        assert_eq!(r.status, 401, "{path} unauthenticated: {}", r.body);
    }
});
