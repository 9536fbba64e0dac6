//! Domain throughput (issue #9): régua planning, amount_due, BR Code generation and webhook signature
//! verification, one core each. `cargo bench -p cobranca --bench domain`; `make bench` prints them in its table.

use std::hint::black_box;

use chrono::{NaiveDate, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::json;

use cobranca::domain::charge::{Charge, Description, DueDate, PaymentMethod};
use cobranca::domain::contact::Email;
use cobranca::domain::customer::{Customer, PersonName};
use cobranca::domain::document::Document;
use cobranca::domain::ids::{CustomerId, MerchantId};
use cobranca::domain::money::Money;
use cobranca::domain::pay::late_fees::{amount_due, LateFees};
use cobranca::domain::pay::pix::BrCode;
use cobranca::domain::ruler::{self, Ruler};
use cobranca::domain::standard_webhooks::{verify, WebhookSecret};

fn sample() -> (Charge, Customer) {
    let merchant_id = MerchantId::generate();
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
    let customer = Customer {
        id: CustomerId::generate(),
        merchant_id: merchant_id.clone(),
        name: PersonName::parse("Maria Silva").unwrap(),
        document: Document::parse("529.982.247-25").unwrap(),
        email: Some(Email::parse("maria@example.com").unwrap()),
        phone: None,
        address: None,
        opt_out: Default::default(),
        erased_at: None,
        created_at: now,
    };
    let late_fees: LateFees =
        serde_json::from_value(json!({"fine": {"kind": "percent", "value": "2"}, "interest": {"kind": "percent_per_month", "value": "1"}})).unwrap();
    let charge = Charge {
        late_fees,
        ..Charge::new_pending(
            merchant_id,
            customer.id.clone(),
            Money::parse("1234.56").unwrap(),
            DueDate::from_stored(NaiveDate::from_ymd_opt(2026, 12, 10).unwrap()),
            Description::parse("Mensalidade").unwrap(),
            vec![PaymentMethod::Pix],
            now,
        )
    };
    (charge, customer)
}

fn domain(c: &mut Criterion) {
    let (charge, customer) = sample();
    let ruler = Ruler::default();
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();

    let mut g = c.benchmark_group("domain");
    g.throughput(Throughput::Elements(1));
    // One charge's whole schedule under the default régua: every step, channel, contact hour and holiday.
    g.bench_function("regua_plan", |b| b.iter(|| black_box(ruler::plan(black_box(&charge), &customer, &ruler, now))));
    let terms = charge.terms();
    let late = NaiveDate::from_ymd_opt(2027, 1, 24).unwrap();
    g.bench_function("amount_due", |b| b.iter(|| black_box(amount_due(black_box(&terms), late))));
    g.bench_function("brcode_static", |b| {
        b.iter(|| {
            let code = BrCode::new_static("+5511999998888", "Loja Exemplo Ltda", "Sao Paulo")
                .unwrap()
                .with_amount(Money::parse("1234.56").unwrap())
                .unwrap()
                .with_txid("COBRANCA01JD5X7K2M3N4P5Q6")
                .unwrap();
            black_box(code.payload())
        })
    });
    let (secret, _) = WebhookSecret::generate();
    let body = vec![b'x'; 1024];
    let ts = now.timestamp();
    let signature = secret.sign("msg_bench", ts, &body);
    let secrets = [secret];
    g.bench_function("webhook_verify_1kb", |b| {
        b.iter(|| black_box(verify(&secrets, Some("msg_bench"), Some(&ts.to_string()), Some(&signature), black_box(&body), now)))
    });
    g.finish();
}

criterion_group!(benches, domain);
criterion_main!(benches);
