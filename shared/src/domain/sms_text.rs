//! SMS text rules, in one place: which encoding a text needs, how many parts (segments) it is billed as, and an
//! optional transliteration that turns Portuguese text into plain 7-bit text so a reminder fits fewer parts.
//!
//! Encodings (3GPP TS 23.038, "GSM 03.38"):
//! - GSM-7: the default alphabet's basic table (one septet each) plus its extension table, whose characters
//!   `^ { } \ [ ~ ] | €` (and form feed) take two septets (an escape and the character). One SMS carries 160
//!   septets; a concatenated message carries 153 per part (the user-data header takes 7), and an escape pair is
//!   never split between parts.
//! - UCS-2: anything else. Counted in UTF-16 code units (an emoji outside the BMP takes two); 70 in one SMS, 67
//!   per part of a concatenated one, and a surrogate pair is never split between parts.
//!
//! Brazilian carriers and providers deliver only the plain ASCII part of the basic table as 7-bit text: Zenvia
//! documents `çÇáéíóúÁÉÍÓÚàèìòùãõñäëïöüâêîôû…|` as "only supported by the unicode encoding", although é, à, ù, ì,
//! ò, Ç, Ñ, Ä, Ö, Ü, ä, ö, ñ, ü and à are in the GSM basic table. [`Alphabet::Portable`] counts a text the way
//! such a provider bills it (conservatively: anything outside printable ASCII of the basic table is UCS-2);
//! [`Alphabet::Gsm0338`] follows the standard. [`transliterate`] always yields [`Alphabet::Portable`] text.

use serde::Serialize;

/// Characters of the GSM 03.38 basic table (one septet each), in code order (0x1B, the escape, left out).
const BASIC: &str =
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// Characters of the extension table (two septets each: escape + code).
const EXTENSION: &str = "\u{0C}^{}\\[~]|€";

/// Septets in a single SMS and in each part of a concatenated one.
pub const GSM7_SINGLE: u32 = 160;
pub const GSM7_PART: u32 = 153;
/// UTF-16 code units in a single SMS and in each part of a concatenated one.
pub const UCS2_SINGLE: u32 = 70;
pub const UCS2_PART: u32 = 67;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gsm7 => "gsm7",
            Self::Ucs2 => "ucs2",
        }
    }
}

/// Which characters count as 7-bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alphabet {
    /// The standard: GSM 03.38 basic and extension tables.
    Gsm0338,
    /// What Brazilian carriers deliver as 7-bit: printable ASCII that is in the basic table (no accented letters,
    /// no extension characters). Never underestimates what a provider bills.
    Portable,
}

/// How long a text is as an SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SmsLength {
    pub encoding: Encoding,
    /// Characters (Unicode scalar values) in the text.
    pub characters: u32,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2): what the limits count.
    pub units: u32,
    /// Parts the operator bills: at least 1.
    pub segments: u32,
}

/// Whether a character is in the GSM 03.38 alphabet, and how many septets it takes.
pub fn gsm7_septets(c: char) -> Option<u32> {
    if BASIC.contains(c) {
        Some(1)
    } else if EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Whether a character is 7-bit on every Brazilian carrier: printable ASCII (or a line break) in the basic table.
pub fn is_portable(c: char) -> bool {
    (c.is_ascii_graphic() || c == ' ' || c == '\n' || c == '\r') && BASIC.contains(c)
}

fn septets_in(c: char, alphabet: Alphabet) -> Option<u32> {
    match alphabet {
        Alphabet::Gsm0338 => gsm7_septets(c),
        Alphabet::Portable => is_portable(c).then_some(1),
    }
}

/// Whether the whole text can go as GSM-7 (GSM 03.38).
pub fn is_gsm7(text: &str) -> bool {
    text.chars().all(|c| gsm7_septets(c).is_some())
}

/// The text's encoding, length and segments under the GSM 03.38 standard.
pub fn analyze(text: &str) -> SmsLength {
    analyze_in(text, Alphabet::Gsm0338)
}

/// The text's encoding, length and segments when `alphabet` decides what is 7-bit.
pub fn analyze_in(text: &str, alphabet: Alphabet) -> SmsLength {
    let characters = text.chars().count() as u32;
    let gsm: Option<Vec<u32>> = text.chars().map(|c| septets_in(c, alphabet)).collect();
    let (encoding, widths, single, part) = match gsm {
        Some(widths) => (Encoding::Gsm7, widths, GSM7_SINGLE, GSM7_PART),
        None => (Encoding::Ucs2, text.chars().map(|c| c.len_utf16() as u32).collect(), UCS2_SINGLE, UCS2_PART),
    };
    let units: u32 = widths.iter().sum();
    let segments = if units <= single { 1 } else { parts(&widths, part) };
    SmsLength { encoding, characters, units, segments }
}

/// Packs characters of the given widths into parts of `capacity` units without splitting one.
fn parts(widths: &[u32], capacity: u32) -> u32 {
    let mut count = 1;
    let mut used = 0;
    for &w in widths {
        if used + w > capacity {
            count += 1;
            used = 0;
        }
        used += w;
    }
    count
}

/// Whether the text fits in `max_segments` parts (GSM 03.38).
pub fn fits(text: &str, max_segments: u32) -> bool {
    analyze(text).segments <= max_segments
}

/// Portuguese (and common typographic) text as plain 7-bit text: accents dropped (á→a, ç→c, ã→a, õ→o, ê→e, É→E,
/// …), typographic quotes and dashes made plain, ª/º/° spelled as letters, the extension table's characters
/// replaced by basic ones (so none takes two septets), emoji removed and anything else unknown turned into `?`.
/// The result is always [`Alphabet::Portable`], hence GSM-7: merchants who choose it pay for fewer parts.
pub fn transliterate(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_portable(c) {
            out.push(c);
            continue;
        }
        let replacement: &str = match c {
            c if crate::domain::ascii::plain_letter(c).is_some() => crate::domain::ascii::plain_letter(c).unwrap_or_default(),
            '°' => "o",
            '€' => "EUR",
            '£' => "GBP",
            '¥' => "JPY",
            '§' => "S",
            '¡' => "!",
            '¿' => "?",
            '¤' => "",
            '“' | '”' | '„' | '«' | '»' => "\"",
            '‘' | '’' | '‚' | '´' | '`' => "'",
            '–' | '—' | '‐' | '‑' | '−' | '•' | '~' => "-",
            '…' => "...",
            '[' | '{' => "(",
            ']' | '}' => ")",
            '\\' | '|' => "/",
            '^' => "'",
            '\t' | '\u{A0}' | '\u{202F}' | '\u{2007}' | '\u{2009}' | '\u{0C}' => " ",
            // Zero-width joiners and variation selectors (parts of emoji sequences), emoji and pictographs.
            '\u{200B}'..='\u{200D}' | '\u{FE00}'..='\u{FE0F}' | '\u{2600}'..='\u{27BF}' | '\u{1F000}'..='\u{1FAFF}' | '\u{E0000}'..='\u{E007F}' => "",
            _ => "?",
        };
        out.push_str(replacement);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_text_is_gsm7_with_160_in_one_part_and_153_per_part_after() {
        let one = "a".repeat(160);
        assert_eq!(analyze(&one), SmsLength { encoding: Encoding::Gsm7, characters: 160, units: 160, segments: 1 });
        assert_eq!(analyze(&"a".repeat(161)).segments, 2);
        assert_eq!(analyze(&"a".repeat(306)).segments, 2);
        assert_eq!(analyze(&"a".repeat(307)).segments, 3);
        assert_eq!(analyze("").segments, 1);
    }

    #[test]
    fn extension_characters_take_two_septets_and_are_never_split() {
        let s = analyze("R$ 10 [pago] ~ 5€");
        assert_eq!((s.encoding, s.characters, s.units), (Encoding::Gsm7, 17, 21));
        assert_eq!(analyze(&"€".repeat(80)).segments, 1);
        assert_eq!(analyze(&"€".repeat(81)).units, 162);
        // 152 septets then an escape pair: the pair starts the second part rather than straddling it.
        let text = format!("{}{}", "a".repeat(152), "{".repeat(5));
        assert_eq!(analyze(&text), SmsLength { encoding: Encoding::Gsm7, characters: 157, units: 162, segments: 2 });
        // 306 septets would be two parts of 153, but no pair may straddle: 152 | 76 pairs | 1 pair.
        let text = format!("{}{}", "a".repeat(152), "{".repeat(77));
        assert_eq!(analyze(&text).segments, 3);
    }

    #[test]
    fn gsm_accented_letters_are_gsm7_but_not_portable() {
        // é, à, ü, Ç, Ñ, ö are in the basic table; á, ã, õ, ç, ê are not.
        assert!(is_gsm7("é à ù ì ò Ç Ñ ü ö ä É Ø"));
        for c in ['á', 'ã', 'õ', 'ç', 'ê', 'í', 'ó', 'ú', 'â', 'ô'] {
            assert!(gsm7_septets(c).is_none(), "{c}");
        }
        assert_eq!(analyze("Café às 10").encoding, Encoding::Gsm7);
        assert_eq!(analyze_in("Café às 10", Alphabet::Portable).encoding, Encoding::Ucs2);
        assert_eq!(analyze("Sua cobrança vence amanhã").encoding, Encoding::Ucs2);
    }

    #[test]
    fn ucs2_counts_utf16_units_70_then_67_and_emoji_take_two() {
        let s = analyze(&"ã".repeat(70));
        assert_eq!((s.encoding, s.units, s.segments), (Encoding::Ucs2, 70, 1));
        assert_eq!(analyze(&"ã".repeat(71)).segments, 2);
        assert_eq!(analyze(&"ã".repeat(134)).segments, 2);
        assert_eq!(analyze(&"ã".repeat(135)).segments, 3);
        let e = analyze("Olá 😀");
        assert_eq!((e.characters, e.units), (5, 6));
        // 66 units then an emoji: the surrogate pair is not split.
        let text = format!("{}😀{}", "ã".repeat(66), "ã".repeat(3));
        assert_eq!(analyze(&text), SmsLength { encoding: Encoding::Ucs2, characters: 70, units: 71, segments: 2 });
    }

    #[test]
    fn transliterates_portuguese_to_plain_seven_bit_text() {
        assert_eq!(
            transliterate("Olá, João! Sua cobrança de R$ 1.234,56 vence amanhã — nº 3."),
            "Ola, Joao! Sua cobranca de R$ 1.234,56 vence amanha - no 3."
        );
        assert_eq!(transliterate("Ação “já” às 8h · É {ok} 😀👍🏽"), "Acao \"ja\" as 8h ? E (ok) ");
        let sms = transliterate("Maria, lembrete: \"Mensalidade\" de R$ 1.234,56 vence 10/12/2026. Pague em https://pay.example.com/pay/9f8e7d6c5b4a Se já pagou, desconsidere. Loja Exemplo Ltda CNPJ 11.222.333/0001-81");
        let length = analyze(&sms);
        assert_eq!((length.encoding, length.segments), (Encoding::Gsm7, 2));
    }

    proptest! {
        #[test]
        fn segments_never_undercount(text in "\\PC{0,400}") {
            let s = analyze(&text);
            let (single, part) = match s.encoding { Encoding::Gsm7 => (GSM7_SINGLE, GSM7_PART), Encoding::Ucs2 => (UCS2_SINGLE, UCS2_PART) };
            let lower = if s.units <= single { 1 } else { s.units.div_ceil(part) };
            prop_assert!(s.segments >= lower);
            prop_assert!(s.segments >= 1);
            prop_assert_eq!(s.characters as usize, text.chars().count());
            if s.encoding == Encoding::Ucs2 {
                prop_assert_eq!(s.units as usize, text.encode_utf16().count());
            }
        }

        #[test]
        fn transliterated_text_is_always_portable_gsm7(text in "\\PC{0,300}") {
            let t = transliterate(&text);
            prop_assert!(is_gsm7(&t));
            prop_assert_eq!(analyze_in(&t, Alphabet::Portable).encoding, Encoding::Gsm7);
            prop_assert_eq!(analyze(&t).units as usize, t.chars().count());
        }

        #[test]
        fn portable_text_is_left_as_it_is(text in "[a-zA-Z0-9 .,:;!?$%/()@_#&*+=<>'\"-]{0,200}") {
            prop_assert_eq!(transliterate(&text), text);
        }
    }
}
