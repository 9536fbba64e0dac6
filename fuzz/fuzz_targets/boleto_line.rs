//! Boleto barcode (44 digits) and linha digitável (47): `Linha::parse`, `Barcode::parse` and `parse_boleto` on
//! any text never panic, and whatever parses converts between the two forms and back unchanged. A boleto built
//! from arbitrary terms (`Barcode::new`) decodes to the same terms.
#![no_main]

use chrono::{Days, NaiveDate};
use cobranca::domain::money::Money;
use cobranca::domain::pay::boleto::{fator_vencimento, itf25_svg, parse_boleto, Barcode, CampoLivre, Linha};
use cobranca_fuzz::{fields, int, text};
use libfuzzer_sys::fuzz_target;

/// A date field: "YYYY-MM-DD", or a number of days after 1997-10-07 (the due-date factor's base).
fn date(field: &[u8], default: NaiveDate) -> NaiveDate {
    let t = text(field);
    NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d")
        .ok()
        .or_else(|| int(field).and_then(|d| base().checked_add_days(Days::new(u64::try_from(d).ok()?))))
        .unwrap_or(default)
}

fn base() -> NaiveDate {
    NaiveDate::from_ymd_opt(1997, 10, 7).unwrap()
}

fn check_barcode(b: &Barcode) {
    let linha = b.to_linha();
    let again = Linha::parse(linha.as_str()).expect("to_linha gives a valid linha");
    assert_eq!(&again.to_barcode(), b);
    assert_eq!(Linha::parse(&linha.formatted()).expect("formatted linha parses"), linha);
    assert_eq!(&Barcode::parse(b.as_str()).expect("a barcode reparses"), b);
    let svg = itf25_svg(b);
    assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"), "{svg:.40}");
}

fuzz_target!(|data: &[u8]| {
    let [raw, reference, bank, due, cents, campo_livre] = fields::<6>(data);
    let raw = text(raw);
    let today = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    let reference = date(reference, today);

    if let Ok(linha) = Linha::parse(&raw) {
        let barcode = linha.to_barcode();
        assert_eq!(barcode.to_linha(), linha, "linha → barcode → linha");
        check_barcode(&barcode);
    }
    if let Ok(barcode) = Barcode::parse(&raw) {
        check_barcode(&barcode);
    }
    if let Ok(boleto) = parse_boleto(&raw, reference) {
        check_barcode(&boleto.barcode);
        let b = boleto.barcode.as_str();
        assert_eq!(&b[0..3], boleto.bank);
        assert_eq!(&b[19..44], boleto.campo_livre.as_str());
        // A dated boleto with an amount is exactly what `Barcode::new` makes of its terms.
        if let (Some(due), Some(amount)) = (boleto.due_date, boleto.amount) {
            assert_eq!(fator_vencimento(due).map(|f| format!("{f:04}")).as_deref(), Ok(&b[5..9]));
            let rebuilt = Barcode::new(&boleto.bank, due, amount, &boleto.campo_livre).expect("decoded terms rebuild");
            assert_eq!(rebuilt, boleto.barcode);
        }
    }

    // Issuing: arbitrary terms either are refused or give a boleto that reads back as issued. The campo livre is
    // 25 digits, or "bb CONVENIO COMPLEMENTO CARTEIRA" for Banco do Brasil's layout.
    let campo_livre = text(campo_livre);
    let campo = match campo_livre.strip_prefix("bb ").map(|r| r.split_whitespace().map(str::parse::<u64>).collect::<Vec<_>>()) {
        Some(parts) => match parts.as_slice() {
            [Ok(convenio), Ok(complemento), Ok(carteira)] => match (u32::try_from(*convenio), u8::try_from(*carteira)) {
                (Ok(convenio), Ok(carteira)) => CampoLivre::banco_do_brasil(convenio, *complemento, carteira),
                _ => return,
            },
            _ => return,
        },
        None => CampoLivre::new(&campo_livre),
    };
    let (Ok(campo), Some(Ok(amount))) = (campo, int(cents).map(Money::from_cents)) else { return };
    let bank = text(bank);
    let due = date(due, today);
    let Ok(barcode) = Barcode::new(&bank, due, amount, &campo) else { return };
    check_barcode(&barcode);
    let linha = barcode.to_linha();
    for text in [barcode.as_str().to_string(), linha.as_str().to_string(), linha.formatted()] {
        // Read back near its due date, so the factor's cycle is the one it was issued in.
        let read = parse_boleto(&text, due).expect("an issued boleto parses");
        assert_eq!((read.bank.as_str(), read.due_date, read.amount, &read.campo_livre), (bank.as_str(), Some(due), Some(amount), &campo));
        assert_eq!(read.barcode, barcode);
    }
});
