//! Ways to reach a payer: e-mail and Brazilian phone numbers.
//!
//! Both are parsed once at the edge into a canonical form (domain-lowercased e-mail,
//! E.164 phone), so comparisons and deduplication downstream are plain string equality.
//! `Debug` is masked on purpose: these are personal data (LGPD) and Debug ends up in logs.

use std::fmt;

use email_address::{EmailAddress, Options};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// RFC 5321's practical limit for a forward path.
const EMAIL_MAX_LEN: usize = 254;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("e-mail inválido / invalid e-mail address")]
    Invalid,
    #[error("e-mail com mais de 254 caracteres / e-mail address longer than 254 characters")]
    TooLong,
    #[error(
        "informe só o endereço, sem nome (ex.: maria@exemplo.com.br) / send the bare address, without a display name (e.g. maria@exemplo.com.br)"
    )]
    DisplayNameNotAllowed,
    #[error("o domínio do e-mail precisa ter um ponto (ex.: exemplo.com) / the e-mail domain must contain a dot (e.g. example.com)")]
    DomainWithoutDot,
}

/// An e-mail address, stored with the domain lowercased (the local part is kept as
/// given: RFC 5321 lets servers treat it case-sensitively).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Email, EmailError> {
        if s.len() > EMAIL_MAX_LEN {
            return Err(EmailError::TooLong);
        }
        // Display names and IP-literal domains are legal RFC 5322 but never what a billing
        // contact means; requiring a TLD catches "maria@gmail" typos.
        let options = Options::default().without_display_text().without_domain_literal().with_required_tld();
        let address = EmailAddress::parse_with_options(s, options).map_err(|e| match e {
            email_address::Error::UnsupportedDisplayName => EmailError::DisplayNameNotAllowed,
            email_address::Error::DomainTooFew => EmailError::DomainWithoutDot,
            _ => EmailError::Invalid,
        })?;
        let domain = address.domain();
        // Belt and braces: our rule must not depend on the crate's option semantics.
        if !domain.contains('.') {
            return Err(EmailError::DomainWithoutDot);
        }
        // RFC 5322 atoms allow "!#$%&'*+/=?^_`{|}~" in the domain, but no host name
        // has them, so such an address would only bounce: keep letters (IDN too),
        // digits, hyphens and dots.
        if !domain.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '.')) {
            return Err(EmailError::Invalid);
        }
        Ok(Email(format!("{}@{}", address.local_part(), domain.to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn split(&self) -> (&str, &str) {
        // The last '@' separates the domain; a quoted local part may contain '@'.
        self.0.rsplit_once('@').unwrap_or((&self.0, ""))
    }

    /// "m***@example.com": enough for the payer to recognise the address.
    pub fn masked(&self) -> String {
        let (local, domain) = self.split();
        let first = local.chars().next().unwrap_or('*');
        format!("{first}***@{domain}")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("telefone com caractere inválido / phone number has an invalid character")]
    InvalidCharacter,
    #[error("só aceitamos telefones do Brasil (+55) / only Brazilian phone numbers (+55) are accepted")]
    UnsupportedCountryCode,
    #[error("telefone deve ter DDD + 8 ou 9 dígitos / phone number must have an area code plus 8 or 9 digits")]
    WrongLength,
    #[error("DDD inexistente / unknown Brazilian area code")]
    UnknownAreaCode,
    #[error("número inválido: celular tem 9 dígitos começando com 9, fixo tem 8 começando com 2 a 5 / invalid number: mobiles have 9 digits starting with 9, landlines 8 starting with 2 to 5")]
    InvalidSubscriberNumber,
}

/// Brazil's area codes (DDD) in use. A static list: a full libphonenumber port is
/// overkill for one country, and this list changes about once a decade.
const AREA_CODES: [u8; 67] = [
    11, 12, 13, 14, 15, 16, 17, 18, 19, //
    21, 22, 24, 27, 28, //
    31, 32, 33, 34, 35, 37, 38, //
    41, 42, 43, 44, 45, 46, 47, 48, 49, //
    51, 53, 54, 55, //
    61, 62, 63, 64, 65, 66, 67, 68, 69, //
    71, 73, 74, 75, 77, 79, //
    81, 82, 83, 84, 85, 86, 87, 88, 89, //
    91, 92, 93, 94, 95, 96, 97, 98, 99,
];

/// A Brazilian phone number, stored E.164: "+5511987654321".
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Phone(String);

impl Phone {
    /// Accepts the ways Brazilians write numbers: "+55 (11) 98765-4321",
    /// "5511987654321", "(11) 98765-4321", "011 98765-4321" (trunk prefix 0).
    pub fn parse(s: &str) -> Result<Phone, PhoneError> {
        let trimmed = s.trim_start();
        let (has_plus, rest) = match trimmed.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        if !rest.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '(' | ')' | '-' | '.')) {
            return Err(PhoneError::InvalidCharacter);
        }
        let digits: String = rest.chars().filter(char::is_ascii_digit).collect();

        // National numbers are 10 or 11 digits, so "55" + 10..11 digits is unambiguous
        // even though 55 is also a DDD (RS).
        let national = if has_plus {
            digits.strip_prefix("55").ok_or(PhoneError::UnsupportedCountryCode)?
        } else if matches!(digits.len(), 12 | 13) && digits.starts_with("55") {
            &digits[2..]
        } else if matches!(digits.len(), 11 | 12) && digits.starts_with('0') {
            &digits[1..]
        } else {
            &digits
        };
        if !matches!(national.len(), 10 | 11) {
            return Err(PhoneError::WrongLength);
        }

        let (ddd, subscriber) = national.split_at(2);
        if !ddd.parse().is_ok_and(|code: u8| AREA_CODES.contains(&code)) {
            return Err(PhoneError::UnknownAreaCode);
        }
        let first = subscriber.as_bytes()[0];
        let valid = match subscriber.len() {
            9 => first == b'9',
            _ => (b'2'..=b'5').contains(&first),
        };
        if !valid {
            return Err(PhoneError::InvalidSubscriberNumber);
        }
        Ok(Phone(format!("+55{national}")))
    }

    /// E.164: "+5511987654321".
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn ddd(&self) -> &str {
        &self.0[3..5]
    }

    fn subscriber(&self) -> &str {
        &self.0[5..]
    }

    /// Mobile numbers have the 9-digit form; landlines 8.
    pub fn is_mobile(&self) -> bool {
        self.subscriber().len() == 9
    }

    /// "(11) 98765-4321" or "(11) 3456-7890".
    pub fn national_formatted(&self) -> String {
        let sub = self.subscriber();
        let split = sub.len() - 4;
        format!("({}) {}-{}", self.ddd(), &sub[..split], &sub[split..])
    }

    /// "+55 11 *****-4321": the last four digits let the payer recognise the number.
    pub fn masked(&self) -> String {
        let sub = self.subscriber();
        let split = sub.len() - 4;
        format!("+55 {} {}-{}", self.ddd(), "*".repeat(split), &sub[split..])
    }
}

/// Display gives the canonical value; Debug (used by logs) gives the masked one.
macro_rules! string_value_impls {
    ($t:ty, $err:ty, $name:literal) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($name, "({:?})"), self.masked())
            }
        }

        impl std::str::FromStr for $t {
            type Err = $err;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$t>::parse(s)
            }
        }

        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                <$t>::parse(&s).map_err(de::Error::custom)
            }
        }
    };
}

string_value_impls!(Email, EmailError, "Email");
string_value_impls!(Phone, PhoneError, "Phone");

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn phone(s: &str) -> Phone {
        Phone::parse(s).unwrap()
    }

    #[test]
    fn accepts_ordinary_email_and_lowercases_only_the_domain() {
        let email = Email::parse("Maria.Silva@Example.COM.br").unwrap();
        assert_eq!(email.as_str(), "Maria.Silva@example.com.br");
        assert_eq!(Email::parse("joao+boletos@empresa.com").unwrap().as_str(), "joao+boletos@empresa.com");
        assert_eq!(Email::parse("jose@correio-rápido.com.BR").unwrap().as_str(), "jose@correio-rápido.com.br");
    }

    #[test]
    fn rejects_email_without_a_dot_in_the_domain() {
        assert_eq!(Email::parse("maria@gmail"), Err(EmailError::DomainWithoutDot));
        assert_eq!(Email::parse("root@localhost"), Err(EmailError::DomainWithoutDot));
    }

    #[test]
    fn rejects_email_with_a_display_name() {
        assert_eq!(Email::parse("Maria <maria@example.com>"), Err(EmailError::DisplayNameNotAllowed));
        assert!(Email::parse("<maria@example.com>").is_err());
    }

    #[test]
    fn rejects_malformed_email() {
        for s in [
            "",
            "maria",
            "maria@",
            "@example.com",
            "maria@@example.com",
            "maria @example.com",
            " maria@example.com",
            "maria@example.com ",
            "maria@example..com",
            "maria@.example.com",
            "maria@example.com.",
            "maria@[127.0.0.1]",
            "ma,ria@example.com",
            "maria@exa_mple.com",
            "maria@exa!mple.com",
            "maria@exam{ple.com",
        ] {
            assert!(Email::parse(s).is_err(), "{s:?} accepted");
        }
    }

    #[test]
    fn rejects_email_longer_than_254_characters() {
        let long = format!("{}@{}.com", "a".repeat(64), vec!["b".repeat(60); 4].join("."));
        assert!(long.len() > 254);
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }

    #[test]
    fn masks_email_keeping_first_letter_and_domain() {
        assert_eq!(Email::parse("maria@example.com").unwrap().masked(), "m***@example.com");
        assert_eq!(Email::parse("x@example.com").unwrap().masked(), "x***@example.com");
    }

    #[test]
    fn email_serde_goes_through_parse() {
        let email: Email = serde_json::from_str(r#""Maria@EXAMPLE.com""#).unwrap();
        assert_eq!(serde_json::to_string(&email).unwrap(), r#""Maria@example.com""#);
        let err = serde_json::from_str::<Email>(r#""maria@gmail""#).unwrap_err();
        assert!(err.to_string().contains("must contain a dot"), "{err}");
    }

    #[test]
    fn accepts_the_usual_ways_of_writing_a_mobile_number() {
        for s in [
            "+5511987654321",
            "5511987654321",
            "11987654321",
            "(11) 98765-4321",
            "+55 (11) 98765-4321",
            "+55 11 98765 4321",
            "011 98765-4321",
            "11.98765.4321",
        ] {
            assert_eq!(phone(s).as_str(), "+5511987654321", "{s}");
        }
    }

    #[test]
    fn accepts_landline_numbers() {
        let p = phone("(21) 3456-7890");
        assert_eq!(p.as_str(), "+552134567890");
        assert!(!p.is_mobile());
        assert_eq!(p.national_formatted(), "(21) 3456-7890");
        assert_eq!(p.masked(), "+55 21 ****-7890");
    }

    #[test]
    fn formats_and_masks_mobile_numbers() {
        let p = phone("+5511987654321");
        assert!(p.is_mobile());
        assert_eq!(p.national_formatted(), "(11) 98765-4321");
        assert_eq!(p.masked(), "+55 11 *****-4321");
    }

    #[test]
    fn ddd_55_is_not_mistaken_for_the_country_code() {
        assert_eq!(phone("55987654321").as_str(), "+5555987654321");
        assert_eq!(phone("555534567890").as_str(), "+555534567890");
    }

    #[test]
    fn rejects_other_country_codes() {
        assert_eq!(Phone::parse("+14155552671"), Err(PhoneError::UnsupportedCountryCode));
        assert_eq!(Phone::parse("+351912345678"), Err(PhoneError::UnsupportedCountryCode));
    }

    #[test]
    fn rejects_unknown_area_codes() {
        for ddd in ["10", "20", "23", "25", "26", "29", "30", "36", "39", "40", "50", "52", "56", "60", "70", "72", "76", "78", "80", "90"] {
            assert_eq!(Phone::parse(&format!("{ddd}987654321")), Err(PhoneError::UnknownAreaCode), "{ddd}");
        }
    }

    #[test]
    fn rejects_numbers_that_are_neither_mobile_nor_landline() {
        assert_eq!(Phone::parse("11887654321"), Err(PhoneError::InvalidSubscriberNumber));
        assert_eq!(Phone::parse("1187654321"), Err(PhoneError::InvalidSubscriberNumber));
        // Old 8-digit mobile form, before the extra 9.
        assert_eq!(Phone::parse("1197654321"), Err(PhoneError::InvalidSubscriberNumber));
        assert_eq!(Phone::parse("1113456789"), Err(PhoneError::InvalidSubscriberNumber));
    }

    #[test]
    fn rejects_wrong_lengths() {
        for s in ["", "+55", "987654321", "119876543", "119876543210", "+55119876543210"] {
            assert_eq!(Phone::parse(s), Err(PhoneError::WrongLength), "{s:?}");
        }
    }

    #[test]
    fn rejects_letters_and_stray_symbols() {
        for s in ["11 98765-432A", "11987654321 ext 2", "+55+11987654321", "11_98765_4321", "1198765４321"] {
            assert_eq!(Phone::parse(s), Err(PhoneError::InvalidCharacter), "{s:?}");
        }
    }

    #[test]
    fn phone_serde_goes_through_parse() {
        let p: Phone = serde_json::from_str(r#""(11) 98765-4321""#).unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), r#""+5511987654321""#);
        assert!(serde_json::from_str::<Phone>(r#""+14155552671""#).is_err());
        assert!(serde_json::from_str::<Phone>("5511987654321").is_err());
    }

    #[test]
    fn debug_output_is_masked_to_keep_contacts_out_of_logs() {
        let p = phone("+5511987654321");
        assert_eq!(format!("{p:?}"), r#"Phone("+55 11 *****-4321")"#);
        let e = Email::parse("maria@example.com").unwrap();
        assert_eq!(format!("{e:?}"), r#"Email("m***@example.com")"#);
    }

    #[test]
    fn error_messages_are_portuguese_then_english() {
        let messages = [
            EmailError::Invalid.to_string(),
            EmailError::TooLong.to_string(),
            EmailError::DisplayNameNotAllowed.to_string(),
            EmailError::DomainWithoutDot.to_string(),
            PhoneError::InvalidCharacter.to_string(),
            PhoneError::UnsupportedCountryCode.to_string(),
            PhoneError::WrongLength.to_string(),
            PhoneError::UnknownAreaCode.to_string(),
            PhoneError::InvalidSubscriberNumber.to_string(),
        ];
        for m in messages {
            assert_eq!(m.matches(" / ").count(), 1, "{m}");
        }
    }

    fn area_code() -> impl Strategy<Value = String> {
        prop::sample::select(&AREA_CODES[..]).prop_map(|d| d.to_string())
    }

    fn subscriber() -> impl Strategy<Value = String> {
        prop_oneof!["9[0-9]{8}", "[2-5][0-9]{7}"]
    }

    /// Renders a national number in one of the accepted notations.
    fn written(ddd: &str, sub: &str, style: usize) -> String {
        let (head, tail) = sub.split_at(sub.len() - 4);
        match style {
            0 => format!("+55{ddd}{sub}"),
            1 => format!("55{ddd}{sub}"),
            2 => format!("{ddd}{sub}"),
            3 => format!("({ddd}) {head}-{tail}"),
            4 => format!("+55 ({ddd}) {head}-{tail}"),
            _ => format!("0{ddd} {head}-{tail}"),
        }
    }

    fn email_parts() -> impl Strategy<Value = (String, String)> {
        ("[a-zA-Z0-9]{1,10}(\\.[a-zA-Z0-9_+-]{0,8}[a-zA-Z0-9])?", "([a-zA-Z0-9]{1,10}\\.){1,3}[a-zA-Z]{2,6}")
    }

    proptest! {
        #[test]
        fn any_valid_phone_is_accepted_and_round_trips(
            ddd in area_code(), sub in subscriber(), style in 0usize..6,
        ) {
            let p = Phone::parse(&written(&ddd, &sub, style)).unwrap();
            prop_assert_eq!(p.as_str(), format!("+55{ddd}{sub}"));
            prop_assert_eq!(p.is_mobile(), sub.len() == 9);
            prop_assert_eq!(Phone::parse(p.as_str()).unwrap(), p.clone());
            prop_assert_eq!(Phone::parse(&p.national_formatted()).unwrap(), p.clone());
            let json = serde_json::to_string(&p).unwrap();
            prop_assert_eq!(serde_json::from_str::<Phone>(&json).unwrap(), p);
        }

        #[test]
        fn a_phone_with_one_character_replaced_by_a_letter_or_symbol_is_rejected(
            ddd in area_code(), sub in subscriber(), style in 0usize..6,
            pos in any::<prop::sample::Index>(), bad in "[a-zA-Z#*_/,;+]",
        ) {
            let s = written(&ddd, &sub, style);
            let i = pos.index(s.len());
            let bad = bad.chars().next().unwrap();
            // A '+' in front is a legitimate notation (it may even re-read as +55 + DDD), not a corruption.
            prop_assume!(!(i == 0 && bad == '+'));
            let corrupted = format!("{}{}{}", &s[..i], bad, &s[i + 1..]);
            prop_assert!(Phone::parse(&corrupted).is_err(), "{:?} accepted", corrupted);
        }

        #[test]
        fn a_phone_with_an_extra_digit_is_rejected(
            ddd in area_code(), sub in subscriber(), extra in "[0-9]",
        ) {
            prop_assert_eq!(
                Phone::parse(&format!("+55{ddd}{sub}{extra}")).map(|_| ()),
                Err(if sub.len() == 9 { PhoneError::WrongLength } else { PhoneError::InvalidSubscriberNumber })
            );
        }

        #[test]
        fn any_valid_email_is_accepted_and_round_trips((local, domain) in email_parts()) {
            let e = Email::parse(&format!("{local}@{domain}")).unwrap();
            prop_assert_eq!(e.as_str(), format!("{local}@{}", domain.to_lowercase()));
            prop_assert_eq!(Email::parse(e.as_str()).unwrap(), e.clone());
            prop_assert_eq!(e.masked(), format!("{}***@{}", &local[..1], domain.to_lowercase()));
            let json = serde_json::to_string(&e).unwrap();
            prop_assert_eq!(serde_json::from_str::<Email>(&json).unwrap(), e);
        }

        #[test]
        fn an_email_with_one_character_replaced_by_a_forbidden_one_is_rejected(
            (local, domain) in email_parts(),
            pos in any::<prop::sample::Index>(),
            bad in "[ <>,;:\\\\\\[\\]]",
        ) {
            let s = format!("{local}@{domain}");
            let i = pos.index(s.len());
            let corrupted = format!("{}{}{}", &s[..i], bad, &s[i + 1..]);
            prop_assert!(Email::parse(&corrupted).is_err(), "{:?} accepted", corrupted);
        }
    }
}
