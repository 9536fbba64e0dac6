//! Pix BR Code. The whole input as a "copia e cola" text: `parse_brcode` never panics, and a code it accepts
//! is written back (`payload`) as a code that parses to the same fields. The input as fields
//! `static|dynamic NUL key-or-location NUL merchant name NUL city NUL amount NUL txid`: the generator either
//! refuses the terms or writes a code (ASCII, within the BCB limits, QR-encodable) that parses back equal.
#![no_main]

use cobranca::domain::money::Money;
use cobranca::domain::pay::pix::{emv_text, parse_brcode, BrCode, MerchantAccount};
use cobranca_fuzz::{fields, text};
use libfuzzer_sys::fuzz_target;

fn check_written(code: &BrCode) {
    let payload = code.payload();
    assert!(payload.is_ascii(), "{payload}");
    let parsed = parse_brcode(&payload).unwrap_or_else(|e| panic!("our own code does not parse ({e}): {payload}"));
    assert_eq!(&parsed, code, "{payload}");
    assert_eq!(parsed.payload(), payload);
    assert!(!parsed.merchant_name().is_empty() && parsed.merchant_name().len() <= 25);
    assert!(!parsed.merchant_city().is_empty() && parsed.merchant_city().len() <= 15);
    let svg = code.qr_svg();
    assert!(svg.contains("<svg"));
}

fuzz_target!(|data: &[u8]| {
    // 1. Any text offered as a BR Code.
    if let Ok(raw) = std::str::from_utf8(data) {
        if let Ok(code) = parse_brcode(raw) {
            // What we accept we can write, and what we write reads back the same.
            check_written(&code);
        }
    }

    // 2. Terms of a code we generate.
    let [kind, account, name, city, amount, txid] = fields::<6>(data);
    let (account, name, city) = (text(account), text(name), text(city));
    for max in [0, 1, 15, 25] {
        let cut = emv_text(&name, max);
        assert!(cut.len() <= max && cut.bytes().all(|b| b == b' ' || b.is_ascii_graphic()), "{cut:?}");
        assert!(!cut.starts_with(' ') && !cut.ends_with(' ') && !cut.contains("  "), "{cut:?}");
    }
    let dynamic = kind.starts_with(b"d");
    let code = if dynamic { BrCode::new_dynamic(&account, &name, &city) } else { BrCode::new_static(&account, &name, &city) };
    let Ok(mut code) = code else { return };
    match code.account() {
        MerchantAccount::Static { key } => assert_eq!(key, &account),
        MerchantAccount::Dynamic { location } => assert_eq!(location, account.strip_prefix("https://").unwrap_or(&account)),
    }
    if !amount.is_empty() {
        if let Ok(money) = Money::parse(&text(amount)) {
            match code.clone().with_amount(money) {
                Ok(c) => code = c,
                Err(_) => assert!(dynamic, "a static code takes an amount"),
            }
        }
    }
    if !txid.is_empty() {
        if let Ok(c) = code.clone().with_txid(&text(txid)) {
            assert!(!dynamic);
            code = c;
        }
    }
    check_written(&code);
});
