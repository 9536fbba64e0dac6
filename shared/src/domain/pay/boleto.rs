//! Boleto bancário as FEBRABAN lays it out (Layout Padrão de Arrecadação/Recebimento com
//! Código de Barras, "bloqueto de cobrança"): the 44-digit barcode, the 47-digit linha
//! digitável typed by payers, their check digits, the due-date factor and its 2025 restart,
//! and an ITF-25 rendering of the barcode.
//!
//! Barcode (positions 1-based):
//!   1–3 bank · 4 currency (9 = real) · 5 DV (mod 11) · 6–9 fator de vencimento ·
//!   10–19 value in cents · 20–44 campo livre (the bank's own layout).
//! Linha digitável: field 1 = barcode 1–4 + 20–24 + DV, field 2 = 25–34 + DV,
//!   field 3 = 35–44 + DV (mod 10), field 4 = barcode DV, field 5 = fator + value.

use std::fmt;

use chrono::NaiveDate;

use crate::domain::money::Money;

pub const BANCO_DO_BRASIL: &str = "001";
const CURRENCY_REAL: u8 = b'9';

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BoletoError {
    #[error("use apenas dígitos / use digits only")]
    NotDigits,
    #[error("tamanho inválido: código de barras tem 44 dígitos e linha digitável 47 (recebido {0}) / wrong length: a barcode has 44 digits and a linha digitável 47 (got {0})")]
    WrongLength(usize),
    #[error("dígito verificador do campo {0} inválido / check digit of field {0} is wrong")]
    FieldCheckDigit(u8),
    #[error("dígito verificador geral do código de barras inválido / the barcode's check digit is wrong")]
    BarcodeCheckDigit,
    #[error("moeda {0} não suportada: apenas 9 (real) / currency {0} not supported: only 9 (real)")]
    UnsupportedCurrency(char),
    #[error("boleto de arrecadação (começa com 8) não suportado / utility (arrecadação) slips starting with 8 are not supported")]
    Arrecadacao,
    #[error("vencimento {0} fora do intervalo do fator de vencimento / due date {0} is outside the due-date factor range")]
    DueDateOutOfRange(NaiveDate),
    #[error("fator de vencimento {0} inválido / invalid due-date factor {0}")]
    InvalidFator(u16),
    #[error("código do banco deve ter 3 dígitos / bank code must have 3 digits")]
    InvalidBank,
    #[error("campo livre deve ter 25 dígitos / campo livre must have 25 digits")]
    InvalidCampoLivre,
    #[error("convênio, nosso número ou carteira fora do tamanho do layout / convênio, nosso número or carteira does not fit the layout")]
    LayoutOverflow,
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid constant date")
}

/// Fator 1000 of the first cycle (base 1997-10-07 + 1000 days).
fn first_cycle_start() -> NaiveDate {
    ymd(2000, 7, 3)
}
/// FEBRABAN restart: fator 9999 was 2025-02-21, and 2025-02-22 is fator 1000 again.
fn second_cycle_start() -> NaiveDate {
    ymd(2025, 2, 22)
}
const FIRST_FATOR: u16 = 1000;
const LAST_FATOR: u16 = 9999;

/// The due-date factor: days since 1997-10-07, from 1000 (2000-07-03) to 9999 (2025-02-21);
/// FEBRABAN then restarts at 1000 on 2025-02-22 (1016 = 2025-03-10, 9999 = 2049-10-13).
/// Dates outside both cycles are refused. This function owns the rule; its inverse,
/// `due_date_from_fator`, shares the same cycle constants.
pub fn fator_vencimento(date: NaiveDate) -> Result<u16, BoletoError> {
    let start = if date >= second_cycle_start() { second_cycle_start() } else { first_cycle_start() };
    let offset = (date - start).num_days();
    if offset < 0 || offset > i64::from(LAST_FATOR - FIRST_FATOR) {
        return Err(BoletoError::DueDateOutOfRange(date));
    }
    Ok(FIRST_FATOR + offset as u16)
}

/// The inverse of `fator_vencimento`. A factor names one date per cycle, so the date
/// closest to `reference` (usually today) wins: 1016 read in 2025 is 2025-03-10, while
/// 9999 read in early 2025 is still 2025-02-21, not 2049. Fator 0000 means "no due date".
pub fn due_date_from_fator(fator: u16, reference: NaiveDate) -> Result<Option<NaiveDate>, BoletoError> {
    if fator == 0 {
        return Ok(None);
    }
    if !(FIRST_FATOR..=LAST_FATOR).contains(&fator) {
        return Err(BoletoError::InvalidFator(fator));
    }
    let offset = chrono::Days::new(u64::from(fator - FIRST_FATOR));
    let first = first_cycle_start() + offset;
    let second = second_cycle_start() + offset;
    let nearest = if (reference - first).num_days().abs() < (second - reference).num_days().abs() { first } else { second };
    Ok(Some(nearest))
}

/// The 25 digits that belong to the bank.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CampoLivre(String);

impl CampoLivre {
    /// Any bank's campo livre, already laid out.
    pub fn new(digits: &str) -> Result<CampoLivre, BoletoError> {
        if digits.len() != 25 || !all_digits(digits) {
            return Err(BoletoError::InvalidCampoLivre);
        }
        Ok(CampoLivre(digits.to_owned()))
    }

    /// Banco do Brasil, convênio de 7 posições (carteiras 17/18), per BB's "Especificações
    /// do bloqueto de cobrança": "000000", convênio (7), complemento do nosso número (10),
    /// carteira (2). The nosso número is convênio + complemento (17 digits, no DV).
    /// Matches the reference vector: 000000 2852547 0000000123 17.
    pub fn banco_do_brasil(convenio: u32, complemento: u64, carteira: u8) -> Result<CampoLivre, BoletoError> {
        if !(1_000_000..=9_999_999).contains(&convenio) || complemento > 9_999_999_999 || carteira > 99 {
            return Err(BoletoError::LayoutOverflow);
        }
        Ok(CampoLivre(format!("000000{convenio:07}{complemento:010}{carteira:02}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A 44-digit barcode whose check digit is right.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Barcode(String);

/// A 47-digit linha digitável whose four check digits are right.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Linha(String);

/// A decoded boleto.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boleto {
    pub bank: String,
    /// None for fator 0000 (no due date).
    pub due_date: Option<NaiveDate>,
    /// None for "0000000000" (amount filled in at payment).
    pub amount: Option<Money>,
    pub campo_livre: CampoLivre,
    pub barcode: Barcode,
}

fn all_digits(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

fn digit_values(s: &str) -> impl DoubleEndedIterator<Item = u32> + '_ {
    s.bytes().map(|b| u32::from(b - b'0'))
}

/// Barcode DV: mod 11, weights 2..9 repeating from the right; 0, 10 and 11 become 1.
fn mod11_dv(digits: &str) -> u8 {
    let sum: u32 = digit_values(digits).rev().zip((2..=9).cycle()).map(|(d, w)| d * w).sum();
    match 11 - sum % 11 {
        0 | 10 | 11 => 1,
        dv => dv as u8,
    }
}

/// Linha field DV: mod 10, weights 2,1 from the right, digits of each product summed.
fn mod10_dv(digits: &str) -> u8 {
    let sum: u32 = digit_values(digits)
        .rev()
        .zip([2, 1].into_iter().cycle())
        .map(|(d, w)| {
            let p = d * w;
            p / 10 + p % 10
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// Keeps the digits of a pasted code and drops the usual separators (dots, spaces).
fn bare(input: &str) -> Result<String, BoletoError> {
    let s: String = input.chars().filter(|c| !matches!(c, '.' | ' ' | '-')).collect();
    if !all_digits(&s) {
        return Err(BoletoError::NotDigits);
    }
    Ok(s)
}

impl Barcode {
    pub fn new(bank: &str, due_date: NaiveDate, amount: Money, campo_livre: &CampoLivre) -> Result<Barcode, BoletoError> {
        if bank.len() != 3 || !all_digits(bank) {
            return Err(BoletoError::InvalidBank);
        }
        let fator = fator_vencimento(due_date)?;
        // Money is at most 9_999_999_999 cents: exactly the 10-digit value field.
        let without_dv = format!("{bank}9{fator:04}{:010}{}", amount.cents(), campo_livre.as_str());
        // A bank code starting with 8 would make an arrecadação code, which `parse` (and every reader) refuses.
        check_kind(&without_dv)?;
        let dv = mod11_dv(&without_dv);
        Ok(Barcode(format!("{}{dv}{}", &without_dv[..4], &without_dv[4..])))
    }

    /// Parses 44 digits and checks the DV.
    pub fn parse(input: &str) -> Result<Barcode, BoletoError> {
        let s = bare(input)?;
        if s.len() != 44 {
            return Err(BoletoError::WrongLength(s.len()));
        }
        check_kind(&s)?;
        let dv = s.as_bytes()[4] - b'0';
        if mod11_dv(&format!("{}{}", &s[..4], &s[5..])) != dv {
            return Err(BoletoError::BarcodeCheckDigit);
        }
        Ok(Barcode(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn to_linha(&self) -> Linha {
        let b = &self.0;
        let field = |s: String| format!("{s}{}", mod10_dv(&s));
        Linha(format!(
            "{}{}{}{}{}",
            field(format!("{}{}", &b[0..4], &b[19..24])),
            field(b[24..34].to_owned()),
            field(b[34..44].to_owned()),
            &b[4..5],
            &b[5..19],
        ))
    }
}

/// Only bank slips in reais: 8… is the arrecadação layout, and currency 0 is unused.
fn check_kind(s: &str) -> Result<(), BoletoError> {
    let b = s.as_bytes();
    if b[0] == b'8' {
        return Err(BoletoError::Arrecadacao);
    }
    if b[3] != CURRENCY_REAL {
        return Err(BoletoError::UnsupportedCurrency(b[3] as char));
    }
    Ok(())
}

impl Linha {
    /// Parses 47 digits (dots and spaces allowed, as printed) and checks all four DVs.
    pub fn parse(input: &str) -> Result<Linha, BoletoError> {
        let s = bare(input)?;
        if s.len() != 47 {
            return Err(BoletoError::WrongLength(s.len()));
        }
        check_kind(&s)?;
        for (n, range) in [(1u8, 0..10), (2, 10..21), (3, 21..32)] {
            let f = &s[range];
            if mod10_dv(&f[..f.len() - 1]) != f.as_bytes()[f.len() - 1] - b'0' {
                return Err(BoletoError::FieldCheckDigit(n));
            }
        }
        Barcode::parse(&linha_digits_to_barcode(&s))?;
        Ok(Linha(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn to_barcode(&self) -> Barcode {
        // Already validated by `parse` or built by `to_linha`.
        Barcode(linha_digits_to_barcode(&self.0))
    }

    /// "00190.00009 02852.547005 00000.123174 8 99990000012345", as printed on the slip.
    pub fn formatted(&self) -> String {
        let l = &self.0;
        format!("{}.{} {}.{} {}.{} {} {}", &l[0..5], &l[5..10], &l[10..15], &l[15..21], &l[21..26], &l[26..32], &l[32..33], &l[33..47])
    }
}

fn linha_digits_to_barcode(l: &str) -> String {
    format!("{}{}{}{}{}{}", &l[0..4], &l[32..33], &l[33..47], &l[4..9], &l[10..20], &l[21..31])
}

impl fmt::Display for Barcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Linha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads a barcode (44) or linha digitável (47), checks every DV and decodes it.
/// `reference` (usually today) picks the due-date factor cycle.
pub fn parse_boleto(input: &str, reference: NaiveDate) -> Result<Boleto, BoletoError> {
    let s = bare(input)?;
    let barcode = match s.len() {
        44 => Barcode::parse(&s)?,
        47 => Linha::parse(&s)?.to_barcode(),
        n => return Err(BoletoError::WrongLength(n)),
    };
    let b = barcode.as_str();
    let fator: u16 = b[5..9].parse().expect("4 digits");
    let cents: i64 = b[9..19].parse().expect("10 digits");
    Ok(Boleto {
        bank: b[0..3].to_owned(),
        due_date: due_date_from_fator(fator, reference)?,
        amount: if cents == 0 { None } else { Some(Money::from_cents(cents).expect("10 digits fit Money")) },
        campo_livre: CampoLivre(b[19..44].to_owned()),
        barcode: barcode.clone(),
    })
}

// ITF-25 rendering. Hand-written: `barcoders` 2.0 (the maintained Rust crate with ITF)
// encodes the stop bar 2 modules wide while its data bars are 3 wide, mixing ratios in one
// symbol, and its SVG has no quiet zone or physical size. FEBRABAN asks for narrow:wide
// 1:3, narrow bar 0.254 mm and 13 mm height, which is ~40 lines.

/// Narrow (N) / wide (W) pattern of each digit's five elements.
const ITF_PATTERNS: [&[u8; 5]; 10] = [b"NNWWN", b"WNNNW", b"NWNNW", b"WWNNN", b"NNWNW", b"WNWNN", b"NWWNN", b"NNNWW", b"WNNWN", b"NWNWN"];
const WIDE: u32 = 3;
const QUIET_ZONE: u32 = 10;
/// Module (narrow bar) width in micrometres: 0.254 mm, so 44 digits print ~103 mm wide.
const MODULE_UM: u32 = 254;
/// 13 mm in modules (13 / 0.254).
const HEIGHT_MODULES: &str = "51.18";

/// Bar/space widths, in modules, starting with a bar: start "0000", digit pairs
/// interleaved (first digit in bars, second in spaces), stop "100" (wide bar, narrow space, narrow bar).
fn itf25_elements(digits: &str) -> Vec<u32> {
    let width = |c: u8| if c == b'W' { WIDE } else { 1 };
    let mut elements = vec![1, 1, 1, 1];
    for pair in digits.as_bytes().chunks(2) {
        let (bars, spaces) = (ITF_PATTERNS[usize::from(pair[0] - b'0')], ITF_PATTERNS[usize::from(pair[1] - b'0')]);
        for i in 0..5 {
            elements.push(width(bars[i]));
            elements.push(width(spaces[i]));
        }
    }
    elements.extend([WIDE, 1, 1]);
    elements
}

/// The barcode as an ITF-25 SVG, sized for print (0.254 mm module, 13 mm tall).
pub fn itf25_svg(barcode: &Barcode) -> String {
    let elements = itf25_elements(barcode.as_str());
    let total: u32 = elements.iter().sum::<u32>() + 2 * QUIET_ZONE;
    let mm = total * MODULE_UM;
    let mut bars = String::new();
    let mut x = QUIET_ZONE;
    for (i, w) in elements.iter().enumerate() {
        if i % 2 == 0 {
            bars.push_str(&format!("<rect x=\"{x}\" y=\"0\" width=\"{w}\" height=\"{HEIGHT_MODULES}\"/>"));
        }
        x += w;
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}.{:03}mm\" height=\"13mm\" \
         viewBox=\"0 0 {total} {HEIGHT_MODULES}\" preserveAspectRatio=\"none\" shape-rendering=\"crispEdges\">\
         <rect width=\"{total}\" height=\"{HEIGHT_MODULES}\" fill=\"#fff\"/><g fill=\"#000\">{bars}</g></svg>",
        mm / 1000,
        mm % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    const LINHA: &str = "00190000090285254700500000123174899990000012345";
    const BARCODE: &str = "00198999900000123450000002852547000000012317";
    const LINHA_1016: &str = "00190000090285254700500000123174110160000012345";
    const BARCODE_1016: &str = "00191101600000123450000002852547000000012317";

    #[test]
    fn factor_counts_days_from_1997_and_restarts_in_2025() {
        assert_eq!(fator_vencimento(date("2000-07-03")), Ok(1000));
        assert_eq!(fator_vencimento(date("2025-02-21")), Ok(9999));
        assert_eq!(fator_vencimento(date("2025-02-22")), Ok(1000));
        assert_eq!(fator_vencimento(date("2025-03-10")), Ok(1016));
        assert_eq!(fator_vencimento(date("2049-10-13")), Ok(9999));
    }

    #[test]
    fn refuses_to_build_what_it_cannot_read() {
        // Found by fuzz/boleto_line: bank "800" gave a barcode starting with 8, the arrecadação layout, which
        // `Barcode::parse` and `Linha::parse` refuse.
        let campo = CampoLivre::new("0000002852547000000012317").unwrap();
        let amount = Money::from_cents(100).unwrap();
        assert_eq!(Barcode::new("800", date("2026-12-10"), amount, &campo), Err(BoletoError::Arrecadacao));
        let b = Barcode::new("799", date("2026-12-10"), amount, &campo).unwrap();
        assert_eq!(Linha::parse(b.to_linha().as_str()).unwrap().to_barcode(), b);
    }

    #[test]
    fn factor_refuses_dates_outside_both_cycles() {
        for d in ["2049-10-14", "2100-01-01", "2000-07-02", "1997-10-07"] {
            assert_eq!(fator_vencimento(date(d)), Err(BoletoError::DueDateOutOfRange(date(d))));
        }
    }

    #[test]
    fn factor_is_read_in_the_cycle_nearest_the_reference_date() {
        let today = date("2025-06-01");
        assert_eq!(due_date_from_fator(1016, today), Ok(Some(date("2025-03-10"))));
        assert_eq!(due_date_from_fator(9999, date("2025-02-25")), Ok(Some(date("2025-02-21"))));
        assert_eq!(due_date_from_fator(1016, date("2000-08-01")), Ok(Some(date("2000-07-19"))));
        assert_eq!(due_date_from_fator(0, today), Ok(None));
        assert_eq!(due_date_from_fator(999, today), Err(BoletoError::InvalidFator(999)));
    }

    #[test]
    fn banco_do_brasil_vector_builds_byte_for_byte() {
        let campo = CampoLivre::banco_do_brasil(2_852_547, 123, 17).unwrap();
        assert_eq!(campo.as_str(), "0000002852547000000012317");
        let amount = Money::parse("123.45").unwrap();
        let b = Barcode::new(BANCO_DO_BRASIL, date("2025-02-21"), amount, &campo).unwrap();
        assert_eq!(b.as_str(), BARCODE);
        assert_eq!(b.to_linha().as_str(), LINHA);
        assert_eq!(b.to_linha().formatted(), "00190.00009 02852.547005 00000.123174 8 99990000012345");
    }

    #[test]
    fn dv_edge_with_fator_1016_gives_check_digit_1() {
        let campo = CampoLivre::banco_do_brasil(2_852_547, 123, 17).unwrap();
        let b = Barcode::new(BANCO_DO_BRASIL, date("2025-03-10"), Money::parse("123.45").unwrap(), &campo).unwrap();
        assert_eq!(b.as_str(), BARCODE_1016);
        assert_eq!(b.to_linha().as_str(), LINHA_1016);
    }

    #[test]
    fn converts_between_linha_and_barcode() {
        for (linha, barcode) in [(LINHA, BARCODE), (LINHA_1016, BARCODE_1016)] {
            assert_eq!(Linha::parse(linha).unwrap().to_barcode().as_str(), barcode);
            assert_eq!(Barcode::parse(barcode).unwrap().to_linha().as_str(), linha);
        }
    }

    #[test]
    fn parses_and_decodes_value_and_due_date() {
        let b = parse_boleto("00190.00009 02852.547005 00000.123174 1 10160000012345", date("2025-03-01")).unwrap();
        assert_eq!(b.bank, "001");
        assert_eq!(b.amount, Some(Money::parse("123.45").unwrap()));
        assert_eq!(b.due_date, Some(date("2025-03-10")));
        assert_eq!(b.campo_livre.as_str(), "0000002852547000000012317");
        let from_barcode = parse_boleto(BARCODE_1016, date("2025-03-01")).unwrap();
        assert_eq!(from_barcode, b);
    }

    #[test]
    fn rejects_wrong_check_digits_lengths_and_kinds() {
        assert_eq!(Linha::parse(&LINHA.replacen("0019000009", "0019000008", 1)), Err(BoletoError::FieldCheckDigit(1)));
        assert_eq!(Barcode::parse(&BARCODE.replacen("00198", "00197", 1)), Err(BoletoError::BarcodeCheckDigit));
        assert_eq!(parse_boleto("123", date("2025-01-01")), Err(BoletoError::WrongLength(3)));
        assert_eq!(parse_boleto("0019x", date("2025-01-01")), Err(BoletoError::NotDigits));
        assert_eq!(parse_boleto(&format!("8{}", &BARCODE[1..]), date("2025-01-01")), Err(BoletoError::Arrecadacao));
        assert_eq!(parse_boleto(&format!("0010{}", &BARCODE[4..]), date("2025-01-01")), Err(BoletoError::UnsupportedCurrency('0')));
    }

    #[test]
    fn febraban_dv_cannot_catch_every_single_digit_error() {
        // Remainders 0, 1 and 10 all give DV 1, so with DV 1 a change in the value or
        // factor that moves the remainder between them is invisible to the check digit.
        // This is the standard's limit, not ours; the validators accept these too.
        let b = BARCODE_1016.as_bytes();
        let mut collisions = 0;
        for i in 5..44 {
            for d in b'0'..=b'9' {
                if d == b[i] {
                    continue;
                }
                let mut c = b.to_vec();
                c[i] = d;
                if Barcode::parse(std::str::from_utf8(&c).unwrap()).is_ok() {
                    collisions += 1;
                }
            }
        }
        assert!(collisions > 0);
    }

    #[test]
    fn banco_do_brasil_layout_refuses_values_that_do_not_fit() {
        assert!(CampoLivre::banco_do_brasil(999_999, 1, 17).is_err());
        assert!(CampoLivre::banco_do_brasil(1_000_000, 10_000_000_000, 17).is_err());
        assert!(CampoLivre::banco_do_brasil(1_000_000, 1, 100).is_err());
        assert!(CampoLivre::new("123").is_err());
    }

    /// Reads our SVG back with the same pattern table; tests/validators/check_itf.py decodes
    /// it independently with zxing-cpp.
    fn decode_itf_svg(svg: &str) -> String {
        let mut bars: Vec<(u32, u32)> = Vec::new();
        for part in svg.split("<rect x=\"").skip(1) {
            let x: u32 = part.split('"').next().unwrap().parse().unwrap();
            let w: u32 = part.split("width=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
            bars.push((x, w));
        }
        // Rebuild alternating bar/space widths.
        let mut widths = Vec::new();
        for (i, &(x, w)) in bars.iter().enumerate() {
            if i > 0 {
                let (px, pw) = bars[i - 1];
                widths.push(x - px - pw);
            }
            widths.push(w);
        }
        assert_eq!(&widths[..4], &[1, 1, 1, 1], "start pattern");
        assert_eq!(&widths[widths.len() - 3..], &[3, 1, 1], "stop pattern");
        let data = &widths[4..widths.len() - 3];
        let pattern = |ws: Vec<u32>| -> char {
            let p: Vec<u8> = ws.iter().map(|&w| if w == 3 { b'W' } else { b'N' }).collect();
            let d = ITF_PATTERNS.iter().position(|q| q[..] == p[..]).expect("known pattern");
            char::from(b'0' + d as u8)
        };
        data.chunks(10)
            .flat_map(|c| [pattern(c.iter().step_by(2).copied().collect()), pattern(c.iter().skip(1).step_by(2).copied().collect())])
            .collect()
    }

    #[test]
    fn itf25_svg_encodes_the_44_digits_at_print_size() {
        let b = Barcode::parse(BARCODE).unwrap();
        let svg = itf25_svg(&b);
        assert_eq!(decode_itf_svg(&svg), BARCODE);
        // 4 (start) + 22 pairs × 18 + 5 (stop) = 405 modules, plus 2 × 10 quiet zone.
        assert!(svg.contains("viewBox=\"0 0 425 51.18\""), "{svg}");
        assert!(svg.contains("width=\"107.950mm\""));
    }

    fn any_campo_livre() -> impl Strategy<Value = CampoLivre> {
        "[0-9]{25}".prop_map(|s| CampoLivre::new(&s).unwrap())
    }

    fn any_due_date() -> impl Strategy<Value = NaiveDate> {
        (0u64..=8999).prop_map(|d| date("2025-02-22") + chrono::Days::new(d))
    }

    proptest! {
        #[test]
        fn linha_round_trips_value_and_due_date(
            cents in 1i64..=9_999_999_999,
            due in any_due_date(),
            campo in any_campo_livre(),
            bank in "[0-79][0-9]{2}",
        ) {
            let amount = Money::from_cents(cents).unwrap();
            let barcode = Barcode::new(&bank, due, amount, &campo).unwrap();
            let linha = barcode.to_linha();
            prop_assert_eq!(linha.as_str().len(), 47);
            // Read within a month of the due date, as payers do.
            let parsed = parse_boleto(&linha.formatted(), due - chrono::Days::new(30)).unwrap();
            prop_assert_eq!(parsed.amount, Some(amount));
            prop_assert_eq!(parsed.due_date, Some(due));
            prop_assert_eq!(&parsed.campo_livre, &campo);
            prop_assert_eq!(&parsed.barcode, &barcode);
            prop_assert_eq!(parse_boleto(barcode.as_str(), due).unwrap(), parsed);
        }

        /// Fields 1–3 (mod 10) and the DV position always catch a single changed digit; in
        /// field 5 the mod-11 DV catches it except where remainders 0/1/10 collapse into DV 1.
        #[test]
        fn a_single_corrupted_digit_is_rejected(
            cents in 1i64..=9_999_999_999,
            due in any_due_date(),
            campo in any_campo_livre(),
            pos in 0usize..47,
            delta in 1u8..=9,
        ) {
            let barcode = Barcode::new("001", due, Money::from_cents(cents).unwrap(), &campo).unwrap();
            let linha = barcode.to_linha();
            let mut bytes = linha.as_str().as_bytes().to_vec();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let corrupted = String::from_utf8(bytes).unwrap();
            let result = parse_boleto(&corrupted, due);
            let dv_collapse = pos >= 33 && barcode.as_str().as_bytes()[4] == b'1';
            if !dv_collapse {
                prop_assert!(result.is_err(), "{} accepted", corrupted);
            }
        }
    }
}
