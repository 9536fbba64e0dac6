use super::*;
use proptest::prelude::*;

// Independent reference implementations, written differently on purpose (weights
// cycling 2..=9 from the right, the "×10 mod 11 mod 10" CPF formula) so a shared
// mistake in the production code would not go unnoticed.
fn reference_cpf_dvs(body: &str) -> String {
    let mut digits: Vec<u32> = body.chars().map(|c| c.to_digit(10).unwrap()).collect();
    for _ in 0..2 {
        let n = digits.len() as u32;
        let sum: u32 = digits.iter().enumerate().map(|(i, d)| d * (n + 1 - i as u32)).sum();
        digits.push((sum * 10 % 11) % 10);
    }
    format!("{}{}", digits[9], digits[10])
}

fn reference_cnpj_dvs(body: &str) -> String {
    let mut values: Vec<u32> = body.chars().map(|c| c as u32 - '0' as u32).collect();
    for _ in 0..2 {
        let sum: u32 = values.iter().rev().enumerate().map(|(i, v)| v * (2 + (i as u32 % 8))).sum();
        let dv = match sum % 11 {
            0 | 1 => 0,
            r => 11 - r,
        };
        values.push(dv);
    }
    format!("{}{}", values[12], values[13])
}

fn cpf_body() -> impl Strategy<Value = String> {
    "[0-9]{9}".prop_filter("not all the same", |s| !all_same(s))
}

fn cnpj_body() -> impl Strategy<Value = String> {
    "[0-9A-Z]{12}".prop_filter("not all the same", |s| !all_same(s))
}

fn replace_at(s: &str, i: usize, c: char) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    chars[i] = c;
    chars.into_iter().collect()
}

#[test]
fn an_erased_document_keeps_its_kind_and_a_fingerprint_never_the_number() {
    let cpf = Document::parse("529.982.247-25").unwrap();
    let erased = cpf.erased("mer_1");
    let stored = serde_json::to_string(&erased).unwrap();
    assert!(!stored.contains("52998224725") && !stored.contains("529.982.247-25"), "{stored}");
    assert_eq!(serde_json::from_str::<Document>(&stored).unwrap(), erased);
    assert_eq!((erased.kind(), erased.is_company()), ("cpf", false));
    assert_eq!(erased, Document::parse("52998224725").unwrap().erased("mer_1"), "the same number, the same fingerprint");
    assert_ne!(erased, cpf.erased("mer_2"), "keyed by merchant");
    assert!(Document::parse(erased.as_str()).is_err(), "input never makes an erased document");
    assert!(Document::parse_stored("erased:cpf:xyz").is_err());
}

#[test]
fn accepts_valid_cpf_formatted_or_bare() {
    for s in ["529.982.247-25", "52998224725", "529 982 247 25"] {
        assert_eq!(Cpf::parse(s).unwrap().as_str(), "52998224725", "{s}");
    }
}

#[test]
fn rejects_cpf_with_wrong_check_digit() {
    assert_eq!(Cpf::parse("529.982.247-26"), Err(DocumentError::InvalidCheckDigits));
    assert_eq!(Cpf::parse("529.982.247-15"), Err(DocumentError::InvalidCheckDigits));
}

#[test]
fn rejects_cpf_with_all_digits_the_same() {
    for d in '0'..='9' {
        let s = d.to_string().repeat(11);
        assert_eq!(Cpf::parse(&s), Err(DocumentError::RepeatedDigits), "{s}");
    }
    assert_eq!(Cpf::parse("111.111.111-11"), Err(DocumentError::RepeatedDigits));
}

#[test]
fn rejects_cpf_with_letters_or_wrong_length() {
    assert_eq!(Cpf::parse("529.982.247-2A"), Err(DocumentError::InvalidCharacter));
    assert_eq!(Cpf::parse("529_982_247_25"), Err(DocumentError::InvalidCharacter));
    assert_eq!(Cpf::parse("5299822472"), Err(DocumentError::WrongLength));
    assert_eq!(Cpf::parse("529982247250"), Err(DocumentError::WrongLength));
    assert_eq!(Cpf::parse(""), Err(DocumentError::WrongLength));
}

#[test]
fn formats_and_masks_cpf() {
    let cpf = Cpf::parse("52998224725").unwrap();
    assert_eq!(cpf.formatted(), "529.982.247-25");
    assert_eq!(cpf.masked(), "***.982.247-**");
}

#[test]
fn accepts_alphanumeric_cnpj() {
    let cnpj = Cnpj::parse("12ABC34501DE35").unwrap();
    assert_eq!(cnpj.as_str(), "12ABC34501DE35");
    assert_eq!(Cnpj::parse("12.ABC.345/01DE-35").unwrap(), cnpj);
    assert_eq!(Cnpj::parse("12.abc.345/01de-35").unwrap(), cnpj);
}

#[test]
fn rejects_alphanumeric_cnpj_with_wrong_check_digit() {
    assert_eq!(Cnpj::parse("12ABC34501DE36"), Err(DocumentError::InvalidCheckDigits));
}

#[test]
fn accepts_classic_numeric_cnpj() {
    assert_eq!(Cnpj::parse("11.222.333/0001-81").unwrap().as_str(), "11222333000181");
    assert_eq!(Cnpj::parse("11.222.333/0001-82"), Err(DocumentError::InvalidCheckDigits));
}

#[test]
fn rejects_cnpj_with_letters_in_check_digits() {
    assert_eq!(Cnpj::parse("12ABC34501DE3A"), Err(DocumentError::InvalidCharacter));
}

#[test]
fn rejects_cnpj_with_all_characters_the_same() {
    assert_eq!(Cnpj::parse("00.000.000/0000-00"), Err(DocumentError::RepeatedDigits));
    assert_eq!(Cnpj::parse("11111111111111"), Err(DocumentError::RepeatedDigits));
}

#[test]
fn rejects_cnpj_with_symbols_or_wrong_length() {
    assert_eq!(Cnpj::parse("12ABC34501DE3#"), Err(DocumentError::InvalidCharacter));
    assert_eq!(Cnpj::parse("12ÁBC34501DE35"), Err(DocumentError::InvalidCharacter));
    assert_eq!(Cnpj::parse("12ABC34501DE3"), Err(DocumentError::WrongLength));
}

#[test]
fn formats_and_masks_cnpj() {
    let cnpj = Cnpj::parse("12ABC34501DE35").unwrap();
    assert_eq!(cnpj.formatted(), "12.ABC.345/01DE-35");
    assert_eq!(cnpj.masked(), "12.ABC.345/****-**");
}

#[test]
fn document_tells_cpf_from_cnpj_by_length() {
    let cpf = Document::parse("529.982.247-25").unwrap();
    assert_eq!(cpf.kind(), "cpf");
    assert!(!cpf.is_company());
    assert_eq!(cpf.as_str(), "52998224725");
    assert_eq!(cpf.formatted(), "529.982.247-25");
    assert_eq!(cpf.masked(), "***.982.247-**");

    let cnpj = Document::parse("12.abc.345/01de-35").unwrap();
    assert_eq!(cnpj.kind(), "cnpj");
    assert!(cnpj.is_company());
    assert_eq!(cnpj.as_str(), "12ABC34501DE35");
    assert_eq!(cnpj.formatted(), "12.ABC.345/01DE-35");
    assert_eq!(cnpj.masked(), "12.ABC.345/****-**");
}

#[test]
fn document_rejects_other_lengths_and_characters() {
    assert_eq!(Document::parse("123456789012"), Err(DocumentError::WrongLength));
    assert_eq!(Document::parse(""), Err(DocumentError::WrongLength));
    assert_eq!(Document::parse("529.982.247_25"), Err(DocumentError::InvalidCharacter));
    // 11 characters with a letter is not a CPF.
    assert_eq!(Document::parse("529982247A5"), Err(DocumentError::InvalidCharacter));
    assert_eq!(Document::parse("111.111.111-11"), Err(DocumentError::RepeatedDigits));
}

#[test]
fn document_serializes_as_the_bare_string() {
    let doc = Document::parse("12.ABC.345/01DE-35").unwrap();
    assert_eq!(serde_json::to_string(&doc).unwrap(), r#""12ABC34501DE35""#);
    let cpf = Cpf::parse("529.982.247-25").unwrap();
    assert_eq!(serde_json::to_string(&cpf).unwrap(), r#""52998224725""#);
}

#[test]
fn document_deserializes_through_parse() {
    let doc: Document = serde_json::from_str(r#""529.982.247-25""#).unwrap();
    assert_eq!(doc, Document::Cpf(Cpf::parse("52998224725").unwrap()));
    let err = serde_json::from_str::<Document>(r#""529.982.247-26""#).unwrap_err();
    assert!(err.to_string().contains("invalid check digits"), "{err}");
    assert!(serde_json::from_str::<Document>("52998224725").is_err());
}

#[test]
fn debug_output_is_masked_to_keep_documents_out_of_logs() {
    let doc = Document::parse("52998224725").unwrap();
    let debug = format!("{doc:?}");
    assert!(!debug.contains("52998224725") && !debug.contains("529"), "{debug}");
    assert_eq!(doc.to_string(), "52998224725");
}

#[test]
fn error_messages_are_portuguese_then_english() {
    for e in [DocumentError::WrongLength, DocumentError::InvalidCharacter, DocumentError::InvalidCheckDigits, DocumentError::RepeatedDigits] {
        assert_eq!(e.to_string().matches(" / ").count(), 1, "{e}");
    }
}

#[test]
fn reference_implementations_agree_with_known_vectors() {
    assert_eq!(reference_cpf_dvs("529982247"), "25");
    assert_eq!(reference_cnpj_dvs("12ABC34501DE"), "35");
    assert_eq!(reference_cnpj_dvs("112223330001"), "81");
}

proptest! {
    #[test]
    fn any_cpf_with_correct_check_digits_is_accepted_and_round_trips(body in cpf_body()) {
        let bare = format!("{body}{}", reference_cpf_dvs(&body));
        let cpf = Cpf::parse(&bare).unwrap();
        prop_assert_eq!(cpf.as_str(), bare.as_str());
        prop_assert_eq!(Cpf::parse(&cpf.formatted()).unwrap(), cpf.clone());
        let doc = Document::parse(&cpf.formatted()).unwrap();
        prop_assert_eq!(doc.as_str(), bare.as_str());
        let json = serde_json::to_string(&doc).unwrap();
        prop_assert_eq!(serde_json::from_str::<Document>(&json).unwrap(), doc);
    }

    #[test]
    fn any_cnpj_with_correct_check_digits_is_accepted_and_round_trips(body in cnpj_body()) {
        let bare = format!("{body}{}", reference_cnpj_dvs(&body));
        let cnpj = Cnpj::parse(&bare).unwrap();
        prop_assert_eq!(cnpj.as_str(), bare.as_str());
        prop_assert_eq!(Cnpj::parse(&cnpj.formatted()).unwrap(), cnpj.clone());
        let doc = Document::parse(&cnpj.formatted().to_lowercase()).unwrap();
        prop_assert_eq!(doc.as_str(), bare.as_str());
        let json = serde_json::to_string(&doc).unwrap();
        prop_assert_eq!(serde_json::from_str::<Document>(&json).unwrap(), doc);
    }

    #[test]
    fn cpf_with_one_wrong_check_digit_is_rejected(
        body in cpf_body(), which in 9usize..11, bump in 1u32..10,
    ) {
        let bare = format!("{body}{}", reference_cpf_dvs(&body));
        let old = bare.chars().nth(which).unwrap().to_digit(10).unwrap();
        let corrupted = replace_at(&bare, which, char::from_digit((old + bump) % 10, 10).unwrap());
        prop_assert_eq!(Cpf::parse(&corrupted), Err(DocumentError::InvalidCheckDigits));
    }

    #[test]
    fn cnpj_with_one_wrong_check_digit_is_rejected(
        body in cnpj_body(), which in 12usize..14, bump in 1u32..10,
    ) {
        let bare = format!("{body}{}", reference_cnpj_dvs(&body));
        let old = bare.chars().nth(which).unwrap().to_digit(10).unwrap();
        let corrupted = replace_at(&bare, which, char::from_digit((old + bump) % 10, 10).unwrap());
        prop_assert_eq!(Cnpj::parse(&corrupted), Err(DocumentError::InvalidCheckDigits));
    }

    // Mod-11 does not catch every substitution in the body (e.g. 'A'↔'L' differ by 11
    // in the alphanumeric CNPJ), so a changed body character must be accepted exactly
    // when the reference says the check digits still hold.
    #[test]
    fn cnpj_with_one_changed_body_character_is_judged_like_the_reference(
        body in cnpj_body(), pos in 0usize..12, c in "[0-9A-Z]",
    ) {
        let bare = format!("{body}{}", reference_cnpj_dvs(&body));
        let changed = replace_at(&bare, pos, c.chars().next().unwrap());
        let still_valid = reference_cnpj_dvs(&changed[..12]) == changed[12..]
            && !all_same(&changed);
        prop_assert_eq!(Cnpj::parse(&changed).is_ok(), still_valid);
    }

    #[test]
    fn cpf_with_one_changed_body_digit_is_judged_like_the_reference(
        body in cpf_body(), pos in 0usize..9, c in "[0-9]",
    ) {
        let bare = format!("{body}{}", reference_cpf_dvs(&body));
        let changed = replace_at(&bare, pos, c.chars().next().unwrap());
        let still_valid = reference_cpf_dvs(&changed[..9]) == changed[9..]
            && !all_same(&changed);
        prop_assert_eq!(Cpf::parse(&changed).is_ok(), still_valid);
    }

    #[test]
    fn a_symbol_in_any_position_is_rejected(
        body in cnpj_body(), pos in 0usize..14, bad in "[#_*+!?@&%$]",
    ) {
        let bare = format!("{body}{}", reference_cnpj_dvs(&body));
        let corrupted = replace_at(&bare, pos, bad.chars().next().unwrap());
        prop_assert_eq!(Document::parse(&corrupted), Err(DocumentError::InvalidCharacter));
    }

    #[test]
    fn a_letter_in_a_cpf_is_rejected(body in cpf_body(), pos in 0usize..11, bad in "[A-Za-z]") {
        let bare = format!("{body}{}", reference_cpf_dvs(&body));
        let corrupted = replace_at(&bare, pos, bad.chars().next().unwrap());
        prop_assert_eq!(Cpf::parse(&corrupted), Err(DocumentError::InvalidCharacter));
        prop_assert!(Document::parse(&corrupted).is_err());
    }
}
