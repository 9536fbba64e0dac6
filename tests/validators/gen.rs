//! Generates Pix BR Codes and boleto linhas for the independent validators in
//! tests/validators. Deterministic (fixed seed), so the inputs and the expected values
//! printed with `--expected` line up one to one.
//!
//!   cargo run -p cobranca --example gen -- pix 2000 [--expected]
//!   cargo run -p cobranca --example gen -- boleto 2000 [--expected]
//!
//!   cargo run -p cobranca --example gen -- itf 200
//!
//! `pix` prints one payload per line; `boleto` prints "linha<TAB>reference date";
//! `itf` prints "barcode<TAB>ITF-25 SVG" (the SVG has no newlines);
//! `--expected` prints, per line, a JSON object with what the code must decode to.

use chrono::NaiveDate;
use cobranca::domain::money::Money;
use cobranca::domain::pay::boleto::{itf25_svg, parse_boleto, Barcode, CampoLivre};
use cobranca::domain::pay::pix::{BrCode, MerchantAccount};

/// SplitMix64: a few lines of deterministic randomness instead of a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    /// Amounts spread over every order of magnitude, not just large ones.
    fn cents(&mut self) -> i64 {
        let digits = 1 + self.below(10) as u32;
        1 + self.below(10u64.pow(digits).min(9_999_999_999)) as i64
    }
}

const WORDS: &[&str] = &[
    "Padaria",
    "São",
    "João",
    "Açaí",
    "Conceição",
    "Ltda",
    "Ótica",
    "Irmãos",
    "Pão",
    "de",
    "Açúcar",
    "Mercearia",
    "Vovó",
    "Zélia",
    "Ateliê",
    "Ipê",
    "Café",
    "Coração",
    "Ação",
    "Comércio",
    "Eletrônicos",
    "Müller",
    "Ñandú",
    "Óleo",
    "Peças",
    "Ferragens",
    "Joalheria",
    "Avô",
    "Ímã",
    "Úrsula",
    "Fábrica",
];
const CITIES: &[&str] = &[
    "São Paulo",
    "Brasília",
    "São José dos Campos",
    "Florianópolis",
    "Ribeirão Preto",
    "Maceió",
    "Goiânia",
    "Vitória da Conquista",
    "Santa Bárbara d'Oeste",
    "Belém",
    "Cuiabá",
    "São João del-Rei",
    "Itaú de Minas",
    "Niterói",
];
const KEYS: &[&str] = &["12345678909", "11222333000181", "financeiro@example.com.br", "+5561912345678", "+5511987654321"];

fn words(rng: &mut Rng, n: u64) -> String {
    (0..1 + rng.below(n)).map(|_| *rng.pick(WORDS)).collect::<Vec<_>>().join(" ")
}

fn evp(rng: &mut Rng) -> String {
    let h = format!("{:016x}{:016x}", rng.next(), rng.next());
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn alnum(rng: &mut Rng, len: u64) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..len).map(|_| *rng.pick(A) as char).collect()
}

/// One static code per line with its QR code as PNG: "payload<TAB>base64 png".
fn qr(rng: &mut Rng) {
    use base64::Engine;
    let city = rng.pick(CITIES).to_string();
    let code = BrCode::new_static(&evp(rng), &words(rng, 8), &city)
        .unwrap()
        .with_amount(Money::from_cents(rng.cents()).unwrap())
        .unwrap()
        .with_txid(&alnum(rng, 25))
        .unwrap();
    let png = cobranca::domain::pay::pix::pix_qr_png(&code.payload(), 3).unwrap();
    println!("{}\t{}", code.payload(), base64::engine::general_purpose::STANDARD.encode(png));
}

fn pix(rng: &mut Rng, expected: bool) {
    let name = words(rng, 8);
    let city = rng.pick(CITIES).to_string();
    let code = if rng.below(4) == 0 {
        let location = format!("pix.example.com/qr/v2/{}", alnum(rng, 32));
        BrCode::new_dynamic(&location, &name, &city).unwrap()
    } else {
        let key = if rng.below(2) == 0 { evp(rng) } else { rng.pick(KEYS).to_string() };
        let code = BrCode::new_static(&key, &name, &city).unwrap();
        if rng.below(2) == 0 {
            let len = 1 + rng.below(25);
            code.with_txid(&alnum(rng, len)).unwrap()
        } else {
            code
        }
    };
    let dynamic = matches!(code.account(), MerchantAccount::Dynamic { .. });
    let code = if dynamic || rng.below(5) == 0 { code } else { code.with_amount(Money::from_cents(rng.cents()).unwrap()).unwrap() };
    if expected {
        let (key, url) = match code.account() {
            MerchantAccount::Static { key } => (Some(key.as_str()), None),
            MerchantAccount::Dynamic { location } => (None, Some(location.as_str())),
        };
        let json = serde_json::json!({
            "name": code.merchant_name(), "city": code.merchant_city(),
            "amount": code.amount().map(|m| m.to_string()), "txid": code.txid(), "key": key, "url": url,
            "source_name": name, "source_city": city,
        });
        println!("{json}");
    } else {
        println!("{}", code.payload());
    }
}

fn boleto(rng: &mut Rng, expected: bool, itf: bool) {
    let bank = *rng.pick(&["001", "237", "341", "104", "033", "756"]);
    let start: NaiveDate = "2025-02-22".parse().unwrap();
    // Mostly the coming years, sometimes up to the end of the cycle (2049-10-13).
    let days = if rng.below(4) == 0 { rng.below(9000) } else { rng.below(3000) };
    let due = start + chrono::Days::new(days);
    let campo = if bank == "001" {
        CampoLivre::banco_do_brasil(1_000_000 + rng.below(9_000_000) as u32, rng.below(10_000_000_000), 17).unwrap()
    } else {
        CampoLivre::new(&format!("{:013}{:012}", rng.below(10u64.pow(13)), rng.below(10u64.pow(12)))).unwrap()
    };
    let amount = Money::from_cents(rng.cents()).unwrap();
    let barcode = Barcode::new(bank, due, amount, &campo).unwrap();
    let linha = barcode.to_linha();
    // Read shortly before the due date, as a payer would.
    let reference = due - chrono::Days::new(rng.below(60));
    let decoded = parse_boleto(linha.as_str(), reference).unwrap();
    assert_eq!((decoded.amount, decoded.due_date), (Some(amount), Some(due)));
    if itf {
        println!("{}\t{}", barcode.as_str(), itf25_svg(&barcode));
    } else if expected {
        let json = serde_json::json!({
            "bank": bank, "amount_cents": amount.cents(), "due_date": due.to_string(),
            "barcode": barcode.as_str(), "reference": reference.to_string(),
        });
        println!("{json}");
    } else {
        println!("{}\t{reference}", linha.as_str());
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let kind = args.first().map(String::as_str).unwrap_or("pix");
    let count: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(2000);
    let expected = args.iter().any(|a| a == "--expected");
    let mut rng = Rng(if kind == "pix" { 0x0050_4958 } else { 0x00B0_1E70 });
    for _ in 0..count {
        match kind {
            "pix" => pix(&mut rng, expected),
            "boleto" => boleto(&mut rng, expected, false),
            "itf" => boleto(&mut rng, false, true),
            "qr" => qr(&mut rng),
            other => panic!("unknown kind {other}: use pix, boleto, itf or qr"),
        }
    }
}
