//! CNAB 240 return files (arquivo retorno de cobrança, FEBRABAN layout 240 positions): how banks report what
//! happened to registered boletos. We read segments T (the title: nosso número, due date, value) and U (the
//! money: amount paid, fees, dates) of each detail; settled titles become payment notices.
//!
//! Positions are 1-based as in the FEBRABAN manual. Detail records: 1–3 bank, 4–7 batch, 8 record type "3",
//! 9–13 sequence, 14 segment, 16–17 movement code.
//! T: 38–57 nosso número, 58 carteira, 59–73 document number, 74–81 due date (DDMMAAAA), 82–96 face value
//!    (13+2 digits), 106–130 the beneficiary's own title id, 199–213 bank fee.
//! U: 18–32 interest/fine, 33–47 discount, 48–62 abatement, 78–92 amount paid, 93–107 net credited,
//!    138–145 date of the occurrence (payment), 146–153 credit date.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::domain::money::Money;

/// Movement codes that mean the title was paid (liquidação; 17 = paid after write-off or in a registry office).
const SETTLED_MOVEMENTS: [&str; 2] = ["06", "17"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CnabError {
    #[error("linha {line}: registro com {len} posições, esperado 240 / record has {len} positions, expected 240")]
    Length { line: usize, len: usize },
    #[error("linha {line}: {message}")]
    Field { line: usize, message: String },
    #[error("linha {line}: segmento U sem o segmento T anterior / segment U without its segment T")]
    UnpairedU { line: usize },
    #[error("o arquivo não é um retorno CNAB 240 (falta o header de arquivo) / not a CNAB 240 return file")]
    NotCnab240,
}

/// One title's movement, from a T and its U.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TitleMovement {
    pub bank: String,
    /// As the bank returns it, blanks trimmed (BB, 7-digit convênio: convênio + 10-digit sequence).
    pub nosso_numero: String,
    pub movement: String,
    pub due_date: Option<NaiveDate>,
    pub face_value: Decimal,
    pub amount_paid: Decimal,
    pub interest_and_fine: Decimal,
    pub discount: Decimal,
    pub net_credited: Decimal,
    pub bank_fee: Decimal,
    pub paid_on: Option<NaiveDate>,
    pub credited_on: Option<NaiveDate>,
    /// The file line of the segment T, for error reports.
    pub line: usize,
}

impl TitleMovement {
    /// Whether the bank reports this title as paid.
    pub fn is_settlement(&self) -> bool {
        SETTLED_MOVEMENTS.contains(&self.movement.as_str())
    }

    /// The amount paid as money, when it is positive.
    pub fn paid(&self) -> Option<Money> {
        Money::from_decimal(self.amount_paid).ok()
    }
}

fn field(record: &str, from: usize, to: usize) -> &str {
    &record[from - 1..to]
}

fn value(record: &str, from: usize, to: usize, line: usize) -> Result<Decimal, CnabError> {
    let digits = field(record, from, to);
    let cents: i64 =
        digits.trim().parse().map_err(|_| CnabError::Field { line, message: format!("valor inválido nas posições {from}–{to}: {digits:?}") })?;
    Ok(Decimal::new(cents, 2))
}

fn date(record: &str, from: usize, line: usize) -> Result<Option<NaiveDate>, CnabError> {
    let text = field(record, from, from + 7);
    if text.trim().is_empty() || text == "00000000" {
        return Ok(None);
    }
    NaiveDate::parse_from_str(text, "%d%m%Y")
        .map(Some)
        .map_err(|_| CnabError::Field { line, message: format!("data inválida na posição {from}: {text:?}") })
}

/// Reads a return file. Lines may end in CRLF; records other than T and U (headers, trailers, other segments)
/// are skipped, except that the file must start with a file header (record type 0).
pub fn parse_return(file: &str) -> Result<Vec<TitleMovement>, CnabError> {
    let mut out = Vec::new();
    let mut pending: Option<TitleMovement> = None;
    let mut saw_header = false;
    for (i, raw) in file.lines().enumerate() {
        let line = i + 1;
        let record = raw.trim_end_matches('\r');
        if record.is_empty() {
            continue;
        }
        if !record.is_ascii() || record.len() != 240 {
            return Err(CnabError::Length { line, len: record.chars().count() });
        }
        match (field(record, 8, 8), field(record, 14, 14)) {
            ("0", _) => saw_header = true,
            ("3", "T") => {
                if let Some(unpaired) = pending.take() {
                    out.push(unpaired);
                }
                pending = Some(TitleMovement {
                    bank: field(record, 1, 3).to_string(),
                    nosso_numero: field(record, 38, 57).trim().to_string(),
                    movement: field(record, 16, 17).to_string(),
                    due_date: date(record, 74, line)?,
                    face_value: value(record, 82, 96, line)?,
                    amount_paid: Decimal::ZERO,
                    interest_and_fine: Decimal::ZERO,
                    discount: Decimal::ZERO,
                    net_credited: Decimal::ZERO,
                    bank_fee: value(record, 199, 213, line)?,
                    paid_on: None,
                    credited_on: None,
                    line,
                });
            }
            ("3", "U") => {
                let mut t = pending.take().ok_or(CnabError::UnpairedU { line })?;
                t.interest_and_fine = value(record, 18, 32, line)?;
                t.discount = value(record, 33, 47, line)?;
                t.amount_paid = value(record, 78, 92, line)?;
                t.net_credited = value(record, 93, 107, line)?;
                t.paid_on = date(record, 138, line)?;
                t.credited_on = date(record, 146, line)?;
                out.push(t);
            }
            _ => {}
        }
        if !saw_header {
            return Err(CnabError::NotCnab240);
        }
    }
    out.extend(pending);
    Ok(out)
}

/// Records written by hand from the FEBRABAN layout, position by position: test data for us and for anyone
/// checking an import (a bank's sandbox rarely sends return files).
pub mod fixtures {

    fn record(fields: &[(usize, &str)]) -> String {
        let mut r = vec![b' '; 240];
        for (start, text) in fields {
            r[start - 1..start - 1 + text.len()].copy_from_slice(text.as_bytes());
        }
        String::from_utf8(r).unwrap()
    }

    pub fn file_header() -> String {
        record(&[(1, "001"), (4, "0000"), (8, "0"), (18, "2"), (19, "11222333000181"), (143, "2"), (144, "22112026")])
    }

    pub fn batch_header() -> String {
        record(&[(1, "001"), (4, "0001"), (8, "1"), (9, "T"), (14, "040")])
    }

    /// Segment T: a title with its nosso número, due date and face value in cents.
    pub fn segment_t(seq: u32, movement: &str, nosso_numero: &str, due: &str, cents: u64) -> String {
        record(&[
            (1, "001"),
            (4, "0001"),
            (8, "3"),
            (9, &format!("{seq:05}")),
            (14, "T"),
            (16, movement),
            (18, "01234"),
            (23, "5"),
            (24, "000000123456"),
            (36, "7"),
            (38, nosso_numero),
            (58, "7"),
            (59, "N4P5Q6R7S8T9V0W"),
            (74, due),
            (82, &format!("{cents:015}")),
            (97, "001"),
            (100, "01234"),
            (133, "1"),
            (134, "000052998224725"),
            (149, "MARIA SILVA"),
            (199, &format!("{:015}", 250)),
        ])
    }

    /// Segment U: what was paid, on which day.
    pub fn segment_u(seq: u32, movement: &str, paid_cents: u64, interest_cents: u64, paid_on: &str) -> String {
        record(&[
            (1, "001"),
            (4, "0001"),
            (8, "3"),
            (9, &format!("{seq:05}")),
            (14, "U"),
            (16, movement),
            (18, &format!("{interest_cents:015}")),
            (33, &format!("{:015}", 0)),
            (48, &format!("{:015}", 0)),
            (63, &format!("{:015}", 0)),
            (78, &format!("{paid_cents:015}")),
            (93, &format!("{:015}", paid_cents.saturating_sub(250))),
            (138, paid_on),
            (146, paid_on),
        ])
    }

    pub fn trailers(records_in_batch: u32) -> Vec<String> {
        vec![
            record(&[(1, "001"), (4, "0001"), (8, "5"), (18, &format!("{records_in_batch:06}"))]),
            record(&[(1, "001"), (4, "9999"), (8, "9"), (18, "000001"), (24, &format!("{:06}", records_in_batch + 4))]),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use rust_decimal_macros::dec;

    fn file(details: &[String]) -> String {
        let mut lines = vec![file_header(), batch_header()];
        lines.extend(details.iter().cloned());
        lines.extend(trailers(details.len() as u32 + 2));
        lines.join("\r\n") + "\r\n"
    }

    #[test]
    fn reads_settled_titles_from_segments_t_and_u() {
        let f = file(&[
            segment_t(1, "06", "31285570000000042", "10122026", 15000),
            segment_u(2, "06", 15300, 300, "15122026"),
            segment_t(3, "02", "31285570000000043", "20122026", 9990),
            segment_u(4, "02", 0, 0, "22112026"),
        ]);
        let titles = parse_return(&f).unwrap();
        assert_eq!(titles.len(), 2);
        let paid = &titles[0];
        assert_eq!((paid.bank.as_str(), paid.nosso_numero.as_str(), paid.movement.as_str()), ("001", "31285570000000042", "06"));
        assert!(paid.is_settlement());
        assert_eq!((paid.face_value, paid.amount_paid, paid.interest_and_fine, paid.bank_fee), (dec!(150.00), dec!(153.00), dec!(3.00), dec!(2.50)));
        assert_eq!(paid.paid_on, NaiveDate::from_ymd_opt(2026, 12, 15));
        assert_eq!(paid.due_date, NaiveDate::from_ymd_opt(2026, 12, 10));
        assert!(!titles[1].is_settlement(), "02 is an entry confirmation, not a payment");
    }

    #[test]
    fn refuses_what_is_not_a_cnab_240_return() {
        assert_eq!(parse_return("hello"), Err(CnabError::Length { line: 1, len: 5 }));
        let no_header = [batch_header()].join("\n");
        assert_eq!(parse_return(&no_header), Err(CnabError::NotCnab240));
        let orphan_u = file(&[segment_u(1, "06", 100, 0, "15122026")]);
        assert!(matches!(parse_return(&orphan_u), Err(CnabError::UnpairedU { .. })));
        let mut bad_value = segment_t(1, "06", "31285570000000042", "10122026", 15000);
        bad_value.replace_range(81..96, "00000000001A000");
        assert!(matches!(parse_return(&file(&[bad_value])), Err(CnabError::Field { line: 3, .. })));
    }
}
