//! Pix BR Code: the "copia e cola" text and QR code, EMV® QRCPS-MPM as profiled by the BCB
//! (Manual de Padrões para Iniciação do Pix), plus the body of the BCB Pix API v2
//! "cobrança com vencimento" (cobv) built from the same charge terms.
//!
//! Payload: TLV fields `ID(2) LEN(2) VALUE`, ASCII, ending in `6304` + CRC16-CCITT-FALSE.
//! 00 format "01" · 01 "12" (dynamic) · 26 merchant account {00 "br.gov.bcb.pix",
//! 01 key (static) | 25 location URL without scheme (dynamic)} · 52 "0000" · 53 "986" ·
//! 54 amount · 58 "BR" · 59 name ≤ 25 · 60 city ≤ 15 · 62 {05 txid or "***"} · 63 CRC.

use std::collections::HashMap;

use crc::{Crc, CRC_16_IBM_3740};
use rust_decimal::Decimal;

use crate::domain::document::Document;
use crate::domain::money::Money;
use crate::domain::pay::late_fees::TermsError;

const PIX_GUI: &str = "br.gov.bcb.pix";
const MERCHANT_NAME_MAX: usize = 25;
const MERCHANT_CITY_MAX: usize = 15;
const TXID_MAX: usize = 25;
/// What goes in 62/05 when there is no txid (and always in dynamic codes, whose txid is
/// carried by the location).
const NO_TXID: &str = "***";
/// A TLV value is at most 99 characters; the 26 template spends 18 on the GUI and 4 on
/// the key's own id and length.
const KEY_OR_URL_MAX: usize = 99 - 18 - 4;
/// CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection), which the crc crate names
/// by its catalogue entry CRC-16/IBM-3740.
const CRC16: Crc<u16> = Crc::<u16>::new(&CRC_16_IBM_3740);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PixError {
    #[error("chave Pix inválida: use CPF, CNPJ, e-mail, telefone +55… ou chave aleatória / invalid Pix key: use a CPF, CNPJ, e-mail, +55… phone or random key")]
    InvalidKey,
    #[error("URL de location inválida / invalid location URL")]
    InvalidLocation,
    #[error("nome do recebedor vazio / empty merchant name")]
    EmptyMerchantName,
    #[error("cidade do recebedor vazia / empty merchant city")]
    EmptyMerchantCity,
    #[error("txid deve ter de 1 a 25 letras ou dígitos / txid must be 1 to 25 letters or digits")]
    InvalidTxid,
    #[error("QR dinâmico leva o txid na location, não no payload / a dynamic QR carries its txid in the location, not in the payload")]
    TxidOnDynamic,
    #[error("QR dinâmico leva o valor na location, não no payload / a dynamic QR carries its amount in the location, not in the payload")]
    AmountOnDynamic,
    #[error("BR Code deve conter apenas ASCII / a BR Code must be ASCII only")]
    NotAscii,
    #[error("estrutura TLV inválida na posição {0} / malformed TLV at offset {0}")]
    MalformedTlv(usize),
    #[error("campo {0} repetido / field {0} repeated")]
    DuplicateField(String),
    #[error("campo {0} ausente / missing field {0}")]
    MissingField(&'static str),
    #[error("campo {0} com valor inválido / field {0} has an invalid value")]
    InvalidField(&'static str),
    #[error("CRC não confere: esperado {expected}, recebido {found} / CRC mismatch: expected {expected}, found {found}")]
    CrcMismatch { expected: String, found: String },
    #[error("conteúdo grande demais para um QR code / content too large for a QR code")]
    TooLargeForQr,
    #[error("valor {0} não cabe no formato da API Pix (até 2 casas decimais) / value {0} does not fit the Pix API format (up to 2 decimal places)")]
    NotRepresentable(Decimal),
    #[error("nome do devedor deve ter de 1 a 200 caracteres / debtor name must have 1 to 200 characters")]
    InvalidDebtorName,
    #[error(transparent)]
    Terms(#[from] TermsError),
}

/// Where the payer's app finds the money's destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MerchantAccount {
    /// Static code: a Pix key (26/01), reusable, amount optional.
    Static { key: String },
    /// Dynamic code: the PSP's location URL without "https://" (26/25); the app fetches
    /// the signed payload (amount, txid, due date) from it.
    Dynamic { location: String },
}

/// A BR Code whose fields already obey the BCB limits; `payload()` cannot fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrCode {
    account: MerchantAccount,
    amount: Option<Money>,
    merchant_name: String,
    merchant_city: String,
    txid: Option<String>,
}

impl BrCode {
    /// A static code for a Pix key. Name and city are normalised to the BR Code character
    /// set and truncated (see `emv_text`), so any merchant record can produce a valid code.
    pub fn new_static(key: &str, merchant_name: &str, merchant_city: &str) -> Result<BrCode, PixError> {
        check_key(key)?;
        Self::new(MerchantAccount::Static { key: key.to_owned() }, merchant_name, merchant_city)
    }

    /// A dynamic code for a PSP location ("pix.example.com/qr/v2/…"; a leading "https://"
    /// is dropped because the BR Code carries the URL without scheme).
    pub fn new_dynamic(location: &str, merchant_name: &str, merchant_city: &str) -> Result<BrCode, PixError> {
        let location = location.strip_prefix("https://").unwrap_or(location);
        let valid =
            !location.is_empty() && location.len() <= KEY_OR_URL_MAX && !location.contains("://") && location.bytes().all(|b| b.is_ascii_graphic());
        if !valid {
            return Err(PixError::InvalidLocation);
        }
        Self::new(MerchantAccount::Dynamic { location: location.to_owned() }, merchant_name, merchant_city)
    }

    fn new(account: MerchantAccount, merchant_name: &str, merchant_city: &str) -> Result<BrCode, PixError> {
        let merchant_name = emv_text(merchant_name, MERCHANT_NAME_MAX);
        let merchant_city = emv_text(merchant_city, MERCHANT_CITY_MAX);
        if merchant_name.is_empty() {
            return Err(PixError::EmptyMerchantName);
        }
        if merchant_city.is_empty() {
            return Err(PixError::EmptyMerchantCity);
        }
        Ok(BrCode { account, amount: None, merchant_name, merchant_city, txid: None })
    }

    /// Static codes only: a dynamic code's amount lives in the payload its location serves
    /// (and @brazilian-utils ignores a 54 in dynamic codes), so putting one here would show
    /// the payer a number nobody checks.
    pub fn with_amount(mut self, amount: Money) -> Result<BrCode, PixError> {
        if matches!(self.account, MerchantAccount::Dynamic { .. }) {
            return Err(PixError::AmountOnDynamic);
        }
        self.amount = Some(amount);
        Ok(self)
    }

    /// Static codes only: 1–25 ASCII letters or digits (the EMV limit on 62/05; the BCB
    /// allows 26–35 only for dynamic codes, and those travel in the location).
    pub fn with_txid(mut self, txid: &str) -> Result<BrCode, PixError> {
        if matches!(self.account, MerchantAccount::Dynamic { .. }) {
            return Err(PixError::TxidOnDynamic);
        }
        check_txid(txid)?;
        self.txid = Some(txid.to_owned());
        Ok(self)
    }

    pub fn account(&self) -> &MerchantAccount {
        &self.account
    }
    pub fn amount(&self) -> Option<Money> {
        self.amount
    }
    pub fn merchant_name(&self) -> &str {
        &self.merchant_name
    }
    pub fn merchant_city(&self) -> &str {
        &self.merchant_city
    }
    /// None when the code carries "***".
    pub fn txid(&self) -> Option<&str> {
        self.txid.as_deref()
    }

    /// The "Pix copia e cola" text.
    pub fn payload(&self) -> String {
        let mut out = tlv("00", "01");
        if matches!(self.account, MerchantAccount::Dynamic { .. }) {
            // 12 = single-use point of initiation, as dynamic codes are.
            out += &tlv("01", "12");
        }
        let account = match &self.account {
            MerchantAccount::Static { key } => tlv("01", key),
            MerchantAccount::Dynamic { location } => tlv("25", location),
        };
        out += &tlv("26", &(tlv("00", PIX_GUI) + &account));
        out += &tlv("52", "0000");
        out += &tlv("53", "986");
        if let Some(amount) = self.amount {
            out += &tlv("54", &amount.to_string());
        }
        out += &tlv("58", "BR");
        out += &tlv("59", &self.merchant_name);
        out += &tlv("60", &self.merchant_city);
        out += &tlv("62", &tlv("05", self.txid.as_deref().unwrap_or(NO_TXID)));
        out += "6304";
        let crc = crc16(&out);
        out + &crc
    }

    /// The QR code as SVG. A BR Code payload is at most a few hundred ASCII characters,
    /// far below QR capacity, so this cannot fail.
    pub fn qr_svg(&self) -> String {
        pix_qr_svg(&self.payload()).expect("a BR Code always fits a QR code")
    }
}

/// CRC16-CCITT-FALSE of `data` as 4 uppercase hex digits.
pub fn crc16(data: &str) -> String {
    format!("{:04X}", CRC16.checksum(data.as_bytes()))
}

fn tlv(id: &str, value: &str) -> String {
    debug_assert!(value.len() <= 99 && value.is_ascii(), "{id}: {value}");
    format!("{id}{:02}{value}", value.len())
}

/// The QR code of any payload as SVG (error correction M, with quiet zone).
pub fn pix_qr_svg(payload: &str) -> Result<String, PixError> {
    use qrcode::render::svg;
    let code = qrcode::QrCode::with_error_correction_level(payload.as_bytes(), qrcode::EcLevel::M).map_err(|_| PixError::TooLargeForQr)?;
    Ok(code.render::<svg::Color>().min_dimensions(256, 256).quiet_zone(true).build())
}

/// The QR code of any payload as a grayscale PNG: `scale` pixels per module and the 4-module quiet zone the
/// QR standard asks for. For clients that cannot show SVG (some e-mail and WhatsApp previews).
pub fn pix_qr_png(payload: &str, scale: u32) -> Result<Vec<u8>, PixError> {
    let code = qrcode::QrCode::with_error_correction_level(payload.as_bytes(), qrcode::EcLevel::M).map_err(|_| PixError::TooLargeForQr)?;
    let modules = code.width() as u32;
    let colors = code.to_colors();
    let quiet = 4;
    let side = (modules + 2 * quiet) * scale;
    // One bit per pixel (1 = white): an 8th of the raw size, so the PNG stays a few kB for a slow phone.
    let row_bytes = side.div_ceil(8) as usize;
    let mut pixels = vec![0xFFu8; row_bytes * side as usize];
    for (i, color) in colors.iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let (mx, my) = (i as u32 % modules + quiet, i as u32 / modules + quiet);
            for y in my * scale..(my + 1) * scale {
                for x in mx * scale..(mx + 1) * scale {
                    pixels[y as usize * row_bytes + x as usize / 8] &= !(0x80 >> (x % 8));
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::One);
    encoder.set_compression(png::Compression::Best);
    let mut writer = encoder.write_header().map_err(|_| PixError::TooLargeForQr)?;
    writer.write_image_data(&pixels).map_err(|_| PixError::TooLargeForQr)?;
    writer.finish().map_err(|_| PixError::TooLargeForQr)?;
    Ok(out)
}

/// Names and cities in the BR Code must be printable ASCII (EMV "ans" characters) within
/// a length limit. Rather than refuse "São Paulo", keep the case, strip diacritics
/// ("Sao Paulo"), drop other non-ASCII characters, collapse spaces and truncate.
/// Hand-written: Portuguese needs a small fixed table, not a Unicode normalisation crate.
pub fn emv_text(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let mapped: &str = match c {
            c if crate::domain::ascii::plain_letter(c).is_some() => crate::domain::ascii::plain_letter(c).unwrap_or_default(),
            c if c.is_whitespace() => " ",
            c if c.is_ascii_graphic() => {
                out.push(c);
                continue;
            }
            _ => "",
        };
        // Collapse runs of spaces and never start with one.
        if mapped == " " && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push_str(mapped);
    }
    out.truncate(max.min(out.len()));
    out.truncate(out.trim_end().len());
    out
}

fn check_txid(txid: &str) -> Result<(), PixError> {
    if txid.is_empty() || txid.len() > TXID_MAX || !txid.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(PixError::InvalidTxid);
    }
    Ok(())
}

/// The DICT key formats: CPF or CNPJ (bare, valid check digits), e-mail, phone in E.164
/// ("+5561912345678") or random key (lowercase UUID). A wrong key would produce a code
/// that every app rejects only at payment time.
pub fn check_key(key: &str) -> Result<(), PixError> {
    let is_evp = key.len() == 36
        && key.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        });
    let is_phone =
        key.len() >= 3 && key.len() <= 16 && key.starts_with('+') && key[1..].bytes().all(|b| b.is_ascii_digit()) && !key[1..].starts_with('0');
    let is_document = Document::parse(key).is_ok_and(|d| d.as_str() == key);
    let is_email = key.len() <= KEY_OR_URL_MAX && key.is_ascii() && email_address::EmailAddress::is_valid(key);
    if is_evp || is_phone || is_document || is_email {
        Ok(())
    } else {
        Err(PixError::InvalidKey)
    }
}

/// Splits a TLV string into (id, value) pairs, refusing duplicates.
fn parse_tlv(s: &str, offset: usize) -> Result<Vec<(&str, &str)>, PixError> {
    let mut fields = Vec::new();
    let mut seen = HashMap::new();
    let mut i = 0;
    while i < s.len() {
        let header = s.get(i..i + 4).ok_or(PixError::MalformedTlv(offset + i))?;
        if !header.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PixError::MalformedTlv(offset + i));
        }
        let (id, len) = (&header[..2], header[2..].parse::<usize>().expect("digits"));
        let value = s.get(i + 4..i + 4 + len).ok_or(PixError::MalformedTlv(offset + i))?;
        if seen.insert(id, ()).is_some() {
            return Err(PixError::DuplicateField(id.to_owned()));
        }
        fields.push((id, value));
        i += 4 + len;
    }
    Ok(fields)
}

/// Reads a BR Code back, checking the CRC, the mandatory fields and their fixed values,
/// and the same limits the builder enforces. Strict on purpose: it checks our own output
/// and codes we are asked to trust.
pub fn parse_brcode(payload: &str) -> Result<BrCode, PixError> {
    if !payload.is_ascii() {
        return Err(PixError::NotAscii);
    }
    let n = payload.len();
    if n < 8 || &payload[n - 8..n - 4] != "6304" {
        return Err(PixError::MissingField("63"));
    }
    let expected = crc16(&payload[..n - 4]);
    let found = payload[n - 4..].to_ascii_uppercase();
    if expected != found {
        return Err(PixError::CrcMismatch { expected, found });
    }
    let fields = parse_tlv(payload, 0)?;
    if fields.first() != Some(&("00", "01")) {
        return Err(PixError::InvalidField("00"));
    }
    if fields.last().map(|f| f.0) != Some("63") {
        return Err(PixError::InvalidField("63"));
    }
    let get = |id: &'static str| fields.iter().find(|f| f.0 == id).map(|f| f.1);
    let require = |id: &'static str| get(id).ok_or(PixError::MissingField(id));
    let expect = |id: &'static str, value: &str| {
        if require(id)? == value {
            Ok(())
        } else {
            Err(PixError::InvalidField(id))
        }
    };
    expect("52", "0000")?;
    expect("53", "986")?;
    expect("58", "BR")?;
    let point_of_initiation = get("01");
    if point_of_initiation.is_some_and(|p| p != "11" && p != "12") {
        return Err(PixError::InvalidField("01"));
    }

    // The Pix template may sit in any of 26–51; it is the one whose GUI is br.gov.bcb.pix.
    let account = fields
        .iter()
        .filter(|(id, _)| ("26".."52").contains(id))
        .find_map(|(_, v)| {
            let sub = parse_tlv(v, 0).ok()?;
            let gui = sub.iter().find(|f| f.0 == "00")?.1;
            gui.eq_ignore_ascii_case(PIX_GUI).then_some(sub)
        })
        .ok_or(PixError::MissingField("26"))?;
    let sub = |id: &str| account.iter().find(|f| f.0 == id).map(|f| f.1.to_owned());
    let account = match (sub("01"), sub("25")) {
        (Some(key), None) => {
            check_key(&key)?;
            MerchantAccount::Static { key }
        }
        (None, Some(location)) => MerchantAccount::Dynamic { location },
        _ => return Err(PixError::InvalidField("26")),
    };

    let amount = match get("54") {
        None => None,
        Some(_) if matches!(account, MerchantAccount::Dynamic { .. }) => return Err(PixError::InvalidField("54")),
        Some(a) if a.len() <= 13 => Some(Money::parse(a).map_err(|_| PixError::InvalidField("54"))?),
        Some(_) => return Err(PixError::InvalidField("54")),
    };
    let merchant_name = require("59")?;
    if merchant_name.is_empty() || merchant_name.len() > MERCHANT_NAME_MAX {
        return Err(PixError::InvalidField("59"));
    }
    let merchant_city = require("60")?;
    if merchant_city.is_empty() || merchant_city.len() > MERCHANT_CITY_MAX {
        return Err(PixError::InvalidField("60"));
    }
    let additional = parse_tlv(require("62")?, 0)?;
    let txid = additional.iter().find(|f| f.0 == "05").map(|f| f.1).ok_or(PixError::MissingField("62/05"))?;
    let txid = if txid == NO_TXID {
        None
    } else {
        check_txid(txid)?;
        Some(txid.to_owned())
    };
    Ok(BrCode { account, amount, merchant_name: merchant_name.to_owned(), merchant_city: merchant_city.to_owned(), txid })
}

mod cobv;
pub use cobv::*;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pay::late_fees::{ChargeTerms, Discount, DiscountValue, Fine, Interest};
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    const STATIC_VECTOR: &str =
        "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-4266554400005204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***63041D3D";
    const DYNAMIC_VECTOR: &str = "00020101021226700014br.gov.bcb.pix2548pix.example.com/8b3da2f39a4140d1a91abd93113bd4415204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***630464E4";

    #[test]
    fn crc_is_ccitt_false() {
        assert_eq!(crc16("123456789"), "29B1");
    }

    #[test]
    fn reproduces_the_bcb_static_vector() {
        let code = BrCode::new_static("123e4567-e12b-12d1-a456-426655440000", "Fulano de Tal", "BRASILIA").unwrap();
        assert_eq!(code.payload(), STATIC_VECTOR);
    }

    #[test]
    fn reproduces_the_bcb_dynamic_vector() {
        let code = BrCode::new_dynamic("https://pix.example.com/8b3da2f39a4140d1a91abd93113bd441", "Fulano de Tal", "BRASILIA").unwrap();
        assert_eq!(code.payload(), DYNAMIC_VECTOR);
    }

    #[test]
    fn parses_both_vectors() {
        let s = parse_brcode(STATIC_VECTOR).unwrap();
        assert_eq!(s.account(), &MerchantAccount::Static { key: "123e4567-e12b-12d1-a456-426655440000".into() });
        assert_eq!((s.merchant_name(), s.merchant_city(), s.txid(), s.amount()), ("Fulano de Tal", "BRASILIA", None, None));
        let d = parse_brcode(DYNAMIC_VECTOR).unwrap();
        assert_eq!(d.account(), &MerchantAccount::Dynamic { location: "pix.example.com/8b3da2f39a4140d1a91abd93113bd441".into() });
        assert_eq!(d.payload(), DYNAMIC_VECTOR);
    }

    #[test]
    fn amount_and_txid_are_written_as_the_bcb_asks() {
        let code = BrCode::new_static("+5561912345678", "Loja", "Recife")
            .unwrap()
            .with_amount(Money::parse("150").unwrap())
            .unwrap()
            .with_txid("PEDIDO123")
            .unwrap();
        let p = code.payload();
        assert!(p.contains("5406150.00"), "{p}");
        assert!(p.contains("62130509PEDIDO123"), "{p}");
        assert_eq!(parse_brcode(&p).unwrap(), code);
    }

    #[test]
    fn names_and_cities_are_made_ascii_and_cut_to_the_limit() {
        let code = BrCode::new_static("fulano@example.com", "  Padaria  São João  da Conceição Ltda ", "São José dos Campos").unwrap();
        assert_eq!(code.merchant_name(), "Padaria Sao Joao da Conce");
        assert_eq!(code.merchant_city(), "Sao Jose dos Ca");
        assert_eq!(emv_text("São Paulo", 15), "Sao Paulo");
        assert_eq!(emv_text("Ação ", 15), "Acao");
        assert_eq!(emv_text("Açaí 🍇 Bar", 25), "Acai Bar");
        assert_eq!(emv_text("abc defghij", 4), "abc");
    }

    #[test]
    fn refuses_what_cannot_be_a_valid_code() {
        assert_eq!(BrCode::new_static("not a key", "A", "B").unwrap_err(), PixError::InvalidKey);
        assert_eq!(BrCode::new_static("12345678900", "A", "B").unwrap_err(), PixError::InvalidKey);
        assert_eq!(BrCode::new_static("+5561912345678", "🍇", "B").unwrap_err(), PixError::EmptyMerchantName);
        assert_eq!(BrCode::new_static("+5561912345678", "A", " ").unwrap_err(), PixError::EmptyMerchantCity);
        let s = BrCode::new_static("+5561912345678", "A", "B").unwrap();
        for bad in ["", "has space", "abcdefghijklmnopqrstuvwxyz", "pedido-1", "pedidoç"] {
            assert_eq!(s.clone().with_txid(bad).unwrap_err(), PixError::InvalidTxid, "{bad}");
        }
        let d = BrCode::new_dynamic("pix.example.com/x", "A", "B").unwrap();
        assert_eq!(d.clone().with_txid("ABC").unwrap_err(), PixError::TxidOnDynamic);
        assert_eq!(d.with_amount(Money::parse("1").unwrap()).unwrap_err(), PixError::AmountOnDynamic);
        assert_eq!(BrCode::new_dynamic("http://pix.example.com/x", "A", "B").unwrap_err(), PixError::InvalidLocation);
    }

    #[test]
    fn parser_refuses_a_bad_crc_and_broken_structure() {
        let bad_crc = STATIC_VECTOR.replace("63041D3D", "63041D3E");
        assert!(matches!(parse_brcode(&bad_crc), Err(PixError::CrcMismatch { .. })));
        let changed = STATIC_VECTOR.replace("Fulano", "Fulana");
        assert!(matches!(parse_brcode(&changed), Err(PixError::CrcMismatch { .. })));
        let reseal = |body: &str| format!("{body}6304{}", crc16(&format!("{body}6304")));
        let body = &STATIC_VECTOR[..STATIC_VECTOR.len() - 8];
        assert_eq!(parse_brcode(&reseal(&body.replace("5303986", "5303840"))), Err(PixError::InvalidField("53")));
        assert_eq!(parse_brcode(&reseal(&body.replace("62070503***", ""))), Err(PixError::MissingField("62")));
        assert_eq!(parse_brcode(&reseal(&format!("{body}5802BR"))), Err(PixError::DuplicateField("58".into())));
        assert_eq!(parse_brcode(&reseal(&body.replace("5913", "5999"))), Err(PixError::MalformedTlv(89)));
        assert_eq!(parse_brcode("São"), Err(PixError::NotAscii));
    }

    #[test]
    fn qr_svg_is_an_svg_document() {
        let svg = parse_brcode(STATIC_VECTOR).unwrap().qr_svg();
        assert!(svg.starts_with("<?xml") && svg.contains("<svg") && svg.ends_with("</svg>"), "{svg:.80}");
    }

    #[test]
    fn error_messages_are_portuguese_then_english() {
        for e in [PixError::InvalidKey, PixError::InvalidTxid, PixError::MissingField("26"), PixError::TooLargeForQr] {
            assert_eq!(e.to_string().matches(" / ").count(), 1, "{e}");
        }
    }

    fn cobv_terms() -> ChargeTerms {
        ChargeTerms {
            amount: Money::parse("123.45").unwrap(),
            effective_due_date: "2020-12-31".parse().unwrap(),
            fine: Some(Fine::Percent(dec!(15.00))),
            interest: Some(Interest::PercentPerDay(dec!(2.00))),
            discount: Some(Discount { until: "2020-11-30".parse().unwrap(), value: DiscountValue::Fixed(dec!(30.00)) }),
            abatement: None,
            consumer_cap: false,
        }
    }

    #[test]
    fn cobv_body_matches_the_bcb_example() {
        let debtor = Debtor { document: Document::parse("12345678909").unwrap(), name: "Francisco da Silva".into() };
        let body = cobv_body(&cobv_terms(), &debtor, "5f84a4c5-c5cb-4599-9f13-7eb4d419dacc", 30).unwrap();
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "calendario": { "dataDeVencimento": "2020-12-31", "validadeAposVencimento": 30 },
                "devedor": { "cpf": "12345678909", "nome": "Francisco da Silva" },
                "valor": {
                    "original": "123.45",
                    "multa": { "modalidade": 2, "valorPerc": "15.00" },
                    "juros": { "modalidade": 2, "valorPerc": "2.00" },
                    "desconto": { "modalidade": 1, "descontoDataFixa": [{ "data": "2020-11-30", "valorPerc": "30.00" }] }
                },
                "chave": "5f84a4c5-c5cb-4599-9f13-7eb4d419dacc"
            })
        );
    }

    #[test]
    fn cobv_sends_the_consumer_capped_fine_and_monthly_interest_code() {
        let terms =
            ChargeTerms { consumer_cap: true, interest: Some(Interest::PercentPerMonth(dec!(1))), abatement: Some(dec!(3.45)), ..cobv_terms() };
        let debtor = Debtor { document: Document::parse("11222333000181").unwrap(), name: "Empresa SA".into() };
        let body = cobv_body(&terms, &debtor, "+5561912345678", 0).unwrap();
        assert_eq!(body.valor.multa, Some(Modalidade { modalidade: 2, valor_perc: "2.00".into() }));
        assert_eq!(body.valor.juros, Some(Modalidade { modalidade: 3, valor_perc: "1.00".into() }));
        assert_eq!(body.valor.abatimento, Some(Modalidade { modalidade: 1, valor_perc: "3.45".into() }));
        assert_eq!(body.devedor.cnpj.as_deref(), Some("11222333000181"));
        assert_eq!(body.devedor.cpf, None);
    }

    #[test]
    fn cobv_refuses_rates_the_api_cannot_carry() {
        let terms = ChargeTerms { interest: Some(Interest::PercentPerDay(dec!(0.033))), ..cobv_terms() };
        let debtor = Debtor { document: Document::parse("12345678909").unwrap(), name: "F".into() };
        assert_eq!(cobv_body(&terms, &debtor, "+5561912345678", 30), Err(PixError::NotRepresentable(dec!(0.033))));
    }

    fn accented_text() -> impl Strategy<Value = String> {
        "[A-Za-záàâãéêíóôõúüçÁÂÃÉÍÓÔÚÇ '.&-]{1,60}".prop_filter("has a letter", |s| s.chars().any(|c| c.is_alphabetic()))
    }

    proptest! {
        #[test]
        fn build_then_parse_gives_the_same_code_within_limits(
            cents in 1i64..=9_999_999_999,
            with_amount in any::<bool>(),
            name in accented_text(),
            city in accented_text(),
            txid in proptest::option::of("[A-Za-z0-9]{1,25}"),
            dynamic in any::<bool>(),
        ) {
            let code = if dynamic {
                BrCode::new_dynamic("pix.example.com/qr/v2/9d36b84fc70b478fb95c12729b90ca25", &name, &city).unwrap()
            } else {
                let c = BrCode::new_static("123e4567-e12b-12d1-a456-426655440000", &name, &city).unwrap();
                match &txid { Some(t) => c.with_txid(t).unwrap(), None => c }
            };
            let code = if with_amount && !dynamic { code.with_amount(Money::from_cents(cents).unwrap()).unwrap() } else { code };
            let payload = code.payload();
            prop_assert!(payload.is_ascii());
            let parsed = parse_brcode(&payload).unwrap();
            prop_assert_eq!(&parsed, &code);
            prop_assert!(parsed.merchant_name().len() <= 25 && !parsed.merchant_name().is_empty());
            prop_assert!(parsed.merchant_city().len() <= 15 && !parsed.merchant_city().is_empty());
            prop_assert_eq!(parsed.payload(), payload);
        }
    }
}
