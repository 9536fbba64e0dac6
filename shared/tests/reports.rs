//! Issue #7, reports: a portfolio driven through the API, the régua and payment webhooks over three months of
//! simulated time, then every report checked to the cent against figures this test computes from its own record
//! of what it did (and, for the régua, from the outbox of messages that really went out) — never by calling the
//! report code.

mod support;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use cobranca::adapters::channels::outbox::OutboxSender;
use cobranca::domain::calendar;
use cobranca::domain::charge::ChargeStatus;
use cobranca::domain::ids::ChargeId;
use cobranca::domain::merchant::ApiKey;
use cobranca::http::api::provider_webhooks::WebhookApi;
use cobranca::http::api::{ApiRequest, ApiResponse};
use cobranca::ports::store::*;
use cobranca::service::delivery::Delivery;
use cobranca::service::settlement::Settlement;
use cobranca::service::tick::Tick;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{json, Value};
use support::App;

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// 09:00 in São Paulo: when the simulated day's tick runs.
fn morning(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_hms_opt(12, 0, 0).unwrap())
}

/// 12:00 in São Paulo: when payers pay.
fn noon(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_hms_opt(15, 0, 0).unwrap())
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn money(v: &Value) -> Decimal {
    dec(v.as_str().unwrap_or_else(|| panic!("not an amount string: {v}")))
}

async fn request(app: &App, key: &ApiKey, method: &str, path: &str, body: Value, at: DateTime<Utc>, extra: &[(&str, &str)]) -> ApiResponse {
    let mut headers = HashMap::from([("authorization".to_string(), format!("Bearer {}", key.expose()))]);
    for (k, v) in extra {
        headers.insert(k.to_string(), v.to_string());
    }
    let req = ApiRequest {
        method: method.into(),
        path: path.into(),
        headers,
        body: if body.is_null() { vec![] } else { body.to_string().into_bytes() },
        client_cert: None,
    };
    app.api().handle(&req, at).await
}

async fn call(app: &App, method: &str, path: &str, body: Value, at: DateTime<Utc>) -> Value {
    let r = request(app, &app.key, method, path, body, at, &[]).await;
    assert!(r.status < 300, "{method} {path}: {} {}", r.status, r.body);
    serde_json::from_str(&r.body).unwrap()
}

async fn report(app: &App, path: &str, at: DateTime<Utc>) -> Value {
    let r = request(app, &app.key, "GET", path, Value::Null, at, &[]).await;
    assert_eq!((r.status, r.content_type), (200, None), "{path}: {}", r.body);
    serde_json::from_str(&r.body).unwrap()
}

/// The CSV form of a report, as rows of header → value.
async fn csv(app: &App, path: &str, at: DateTime<Utc>) -> Vec<BTreeMap<String, String>> {
    let r = request(app, &app.key, "GET", path, Value::Null, at, &[]).await;
    assert_eq!((r.status, r.content_type), (200, Some("text/csv; charset=utf-8")), "{path}: {}", r.body);
    let mut lines = r.body.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            assert_eq!(cells.len(), header.len(), "{path}: {l}");
            header.iter().zip(cells).map(|(h, c)| (h.to_string(), c.to_string())).collect()
        })
        .collect()
}

/// Runs the régua as the schedule would at `at`, then sends what it queued, at `at`.
async fn tick(app: &App, at: DateTime<Utc>) {
    Tick::new(app.store.as_ref(), &app.queue, &app.events).run(at, at).await.unwrap();
    drain(app, at).await;
}

async fn drain(app: &App, at: DateTime<Utc>) {
    let sender = OutboxSender { store: app.store.clone() };
    let delivery = Delivery {
        store: app.store.as_ref(),
        sender: &sender,
        outbox: &sender,
        events: &app.events,
        public_base_url: "https://pay.test",
        merchant_providers: None,
    };
    for job in app.queue.drain() {
        delivery.deliver(&job, at).await.unwrap();
    }
}

/// A signed `cobranca` webhook delivered at `at`.
async fn webhook(app: &App, id: &str, body: Value, at: DateTime<Utc>) -> Value {
    let raw = body.to_string();
    let headers = HashMap::from([
        ("webhook-id".to_string(), id.to_string()),
        ("webhook-timestamp".to_string(), at.timestamp().to_string()),
        ("webhook-signature".to_string(), app.secret.sign(id, at.timestamp(), raw.as_bytes())),
    ]);
    let api = WebhookApi {
        settlement: Settlement { store: app.store.as_ref(), queue: &app.queue, events: &app.events },
        secrets: std::slice::from_ref(&app.secret),
        pix_auth: None,
        acquirers: None,
        channel_callbacks: None,
    };
    let r = api
        .handle(&ApiRequest { method: "POST".into(), path: "/v1/webhooks/cobranca".into(), headers, body: raw.into_bytes(), client_cert: None }, at)
        .await;
    assert!([200, 202].contains(&r.status), "{id}: {}", r.body);
    drain(app, at).await;
    serde_json::from_str(&r.body).unwrap()
}

/// What the test did to one charge.
struct Booked {
    id: String,
    amount: Decimal,
    due: NaiveDate,
    /// Percent fine after the due date (the charge's `late_fees`).
    fine_percent: Decimal,
    cancelled: bool,
    renegotiated: bool,
}

/// One money movement the test sent.
struct Moved {
    label: &'static str,
    kind: &'static str,
    amount: Decimal,
    method: &'static str,
    at: DateTime<Utc>,
    /// False for money sent to a charge that could no longer take it (flagged for refund).
    counts: bool,
}

/// The test's own ledger of the portfolio.
#[derive(Default)]
struct Book {
    charges: BTreeMap<&'static str, Booked>,
    moves: Vec<Moved>,
    /// Every message of the régua the outbox received: charge id, reminder id, step, channel, simulated instant.
    sent: Vec<(String, String, String, String, DateTime<Utc>)>,
}

impl Book {
    fn counted<'a>(&'a self, label: &'a str) -> impl Iterator<Item = &'a Moved> + 'a {
        self.moves.iter().filter(move |m| m.label == label && m.counts)
    }

    /// When the payments of a charge first added up to its amount.
    fn paid_at(&self, label: &str) -> Option<DateTime<Utc>> {
        let amount = self.charges[label].amount;
        let mut sum = Decimal::ZERO;
        for m in self.counted(label).filter(|m| m.kind == "payment") {
            sum += m.amount;
            if sum >= amount {
                return Some(m.at);
            }
        }
        None
    }

    fn received(&self, label: &str) -> Decimal {
        self.counted(label).map(|m| if m.kind == "payment" { m.amount } else { -m.amount }).sum()
    }

    fn open(&self, label: &str) -> bool {
        let c = &self.charges[label];
        !c.cancelled && !c.renegotiated && self.paid_at(label).is_none()
    }

    /// What the payer owes on `on`: the amount, the fine once late, less what came in. (Every due date of this
    /// portfolio is a business day, so "late" is simply "after the due date".)
    fn balance(&self, label: &str, on: NaiveDate) -> Decimal {
        let c = &self.charges[label];
        let fine = if on > c.due { (c.amount * c.fine_percent / Decimal::ONE_HUNDRED).round_dp(2) } else { Decimal::ZERO };
        (c.amount + fine - self.received(label)).max(Decimal::ZERO)
    }
}

struct Portfolio {
    app: App,
    book: Book,
    today: DateTime<Utc>,
    /// The default wallet of each method.
    wallets: HashMap<String, String>,
}

const START: &str = "2027-03-01";
const END: &str = "2027-06-10";

/// Three months of a small business: 13 charges, paid on time, late, partly, by Pix, boleto and card, refunded,
/// charged back, cancelled (and paid anyway), renegotiated, and some never paid; the régua ticking every morning.
async fn portfolio() -> Portfolio {
    let app = App::new().await;
    let t0 = morning(day(START));
    call(
        &app,
        "PUT",
        "/v1/ruler",
        json!({"send_time": "09:00", "steps": [
            {"step": "before_due", "days": 3, "channels": ["email"]},
            {"step": "on_due", "channels": ["email"]},
            {"step": "after_due", "first_after_days": 1, "every_days": 7, "max_times": 3, "channels": ["sms"]},
            {"step": "on_paid"}
        ]}),
        t0,
    )
    .await;
    let address =
        json!({"street": "Av. Paulista", "number": "1000", "district": "Bela Vista", "city": "São Paulo", "state": "SP", "cep": "01310-100"});
    let maria = call(
        &app,
        "POST",
        "/v1/customers",
        json!({"name": "Maria Silva", "document": "529.982.247-25", "email": "maria@example.com", "phone": "+5511987654321", "address": address}),
        t0,
    )
    .await;
    let joao = call(
        &app,
        "POST",
        "/v1/customers",
        json!({"name": "João Souza", "document": "111.444.777-35", "email": "joao@example.com", "phone": "+5521987654321", "address": address}),
        t0,
    )
    .await;
    let wallets: HashMap<String, String> = call(&app, "GET", "/v1/wallets", Value::Null, t0).await["data"]
        .as_array()
        .unwrap()
        .iter()
        .rev() // the first wallet of a method is its default
        .map(|w| (w["method"].as_str().unwrap().to_string(), w["id"].as_str().unwrap().to_string()))
        .collect();

    let plan: [(&str, &str, &str, &Value, Option<&str>); 13] = [
        ("A1", "100.00", "2027-03-10", &maria, None),
        ("A2", "250.00", "2027-03-10", &joao, None),
        ("A3", "80.00", "2027-03-12", &maria, None),
        ("A4", "120.00", "2027-03-19", &joao, None),
        ("A5", "60.00", "2027-03-24", &maria, None),
        ("A6", "200.00", "2027-04-07", &joao, None),
        ("A7", "90.00", "2027-04-14", &maria, None),
        ("A8", "150.00", "2027-04-22", &joao, None),
        ("A9", "75.00", "2027-05-12", &maria, None),
        ("A10", "300.00", "2027-05-19", &joao, None),
        ("A11", "40.00", "2027-06-16", &maria, None),
        ("A12", "500.00", "2027-03-03", &joao, Some("2")),
        ("A13", "70.00", "2027-03-17", &maria, None),
    ];
    let mut book = Book::default();
    for (label, amount, due, customer, fine) in plan {
        assert!(calendar::is_business_day(day(due)), "{label}: the test's simple rule of lateness needs business-day due dates");
        let mut body = json!({"customer_id": customer["id"], "amount": amount, "due_date": due, "description": format!("Pedido {label}"),
            "payment_methods": ["pix", "boleto", "credit_card"]});
        if let Some(fine) = fine {
            body["late_fees"] = json!({"fine": {"kind": "percent", "value": fine}});
        }
        let c = call(&app, "POST", "/v1/charges", body, t0).await;
        let booked = Booked {
            id: c["id"].as_str().unwrap().into(),
            amount: dec(amount),
            due: day(due),
            fine_percent: fine.map_or(Decimal::ZERO, dec),
            cancelled: false,
            renegotiated: false,
        };
        book.charges.insert(label, booked);
    }

    // What happens, day by day (payers pay at noon, after the morning's reminders).
    enum Event {
        Pay(&'static str, &'static str, &'static str, &'static str),
        Refund(&'static str, &'static str, &'static str, &'static str),
        Chargeback(&'static str, &'static str, &'static str, &'static str),
        CardThroughApi(&'static str),
        Cancel(&'static str),
        Renegotiate(&'static str),
    }
    use Event::*;
    let events: Vec<(&str, Event)> = vec![
        ("2027-03-01", Pay("A3", "30.00", "pix", "E-A3-1")),
        ("2027-03-02", Cancel("A5")),
        ("2027-03-05", Pay("A5", "60.00", "pix", "E-A5")),
        ("2027-03-08", Pay("A1", "100.00", "pix", "E-A1")),
        ("2027-03-12", Pay("A3", "50.00", "credit_card", "E-A3-2")),
        ("2027-03-15", Pay("A2", "250.00", "boleto", "E-A2")),
        ("2027-03-25", Renegotiate("A13")),
        ("2027-04-01", Pay("A6", "200.00", "credit_card", "E-A6")),
        ("2027-04-16", CardThroughApi("A7")),
        ("2027-04-20", Chargeback("A6", "200.00", "E-A6", "CB-A6")),
        ("2027-04-26", Pay("A8", "30.00", "pix", "E-A8")),
        ("2027-05-12", Pay("A9", "75.00", "pix", "E-A9")),
        ("2027-05-14", Refund("A9", "25.00", "E-A9", "R-A9")),
    ];
    let mut d = day(START);
    while d <= day(END) {
        tick(&app, morning(d)).await;
        // The outbox knows what went out; when, in simulated time, is this test's own record.
        for e in app.store.outbox().await.unwrap() {
            if !book.sent.iter().any(|(c, r, ..)| c == e.charge_id.as_str() && *r == e.reminder_id) {
                book.sent.push((e.charge_id.to_string(), e.reminder_id.clone(), e.step.clone(), e.channel.as_str().to_string(), morning(d)));
            }
        }
        let at = noon(d);
        for (_, event) in events.iter().filter(|(on, _)| day(on) == d) {
            match *event {
                Pay(label, amount, method, payment) => {
                    let id = &book.charges[label].id;
                    let r = webhook(&app, &format!("msg_{payment}"), json!({"type": "payment.confirmed", "data": {"charge_id": id, "amount": amount, "paid_at": at.to_rfc3339(), "method": method, "provider_payment_id": payment}}), at).await;
                    let counts = r["result"] != "flagged_for_refund";
                    book.moves.push(Moved { label, kind: "payment", amount: dec(amount), method, at, counts });
                }
                Refund(label, amount, payment, refund) => {
                    let id = &book.charges[label].id;
                    let method = book.moves.iter().find(|m| m.label == label).unwrap().method;
                    webhook(&app, &format!("msg_{refund}"), json!({"type": "payment.refunded", "data": {"charge_id": id, "amount": amount, "refunded_at": at.to_rfc3339(), "method": method, "provider_payment_id": payment, "refund_id": refund}}), at).await;
                    book.moves.push(Moved { label, kind: "refund", amount: dec(amount), method, at, counts: true });
                }
                Chargeback(label, amount, payment, chargeback) => {
                    let id = &book.charges[label].id;
                    let r = webhook(&app, &format!("msg_{chargeback}"), json!({"type": "payment.chargeback", "data": {"charge_id": id, "amount": amount, "disputed_at": at.to_rfc3339(), "method": "credit_card", "provider_payment_id": payment, "chargeback_id": chargeback}}), at).await;
                    assert_eq!(r["result"], "chargeback_applied", "{r}");
                    book.moves.push(Moved { label, kind: "chargeback", amount: dec(amount), method: "credit_card", at, counts: true });
                }
                CardThroughApi(label) => {
                    let id = &book.charges[label].id;
                    let paid = call(
                        &app,
                        "POST",
                        &format!("/v1/charges/{id}/card-payments"),
                        json!({"card_token": "tok_4024007197690001", "brand": "Visa", "installments": 1}),
                        at,
                    )
                    .await;
                    assert_eq!(paid["charge_status"], "paid", "{paid}");
                    book.moves.push(Moved { label, kind: "payment", amount: book.charges[label].amount, method: "credit_card", at, counts: true });
                }
                Cancel(label) => {
                    call(&app, "POST", &format!("/v1/charges/{}/cancel", book.charges[label].id), Value::Null, at).await;
                    book.charges.get_mut(label).unwrap().cancelled = true;
                }
                // Renegotiation is another part of issue #7: here it is only the status the originals end in.
                Renegotiate(label) => {
                    let id = ChargeId::parse(&book.charges[label].id).unwrap();
                    let c = app.store.get_charge(&app.merchant_id, &id).await.unwrap().unwrap();
                    let renegotiated =
                        cobranca::domain::charge::Charge { status: ChargeStatus::Renegotiated, version: c.version + 1, updated_at: at, ..c.clone() };
                    app.store.update_charge(&renegotiated, c.version).await.unwrap();
                    book.charges.get_mut(label).unwrap().renegotiated = true;
                }
            }
        }
        d = d.succ_opt().unwrap();
    }
    assert!(book.moves.iter().any(|m| !m.counts), "the payment to the cancelled charge was flagged");
    Portfolio { app, book, today: morning(day(END)), wallets }
}

fn bucket_of(days: i64) -> &'static str {
    match days {
        ..=0 => "not_yet_due",
        1..=30 => "0-30",
        31..=60 => "31-60",
        61..=90 => "61-90",
        _ => "90+",
    }
}

fn rate(unpaid: Decimal, due: Decimal) -> String {
    format!("{:.4}", (unpaid / due).round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero))
}

#[tokio::test]
async fn every_report_matches_the_portfolio_to_the_cent() {
    let Portfolio { app, book, today, wallets } = portfolio().await;
    let today_sp = calendar::local_date(today);
    let labels: Vec<&str> = book.charges.keys().copied().collect();
    let open: Vec<&str> = labels.iter().copied().filter(|l| book.open(l)).collect();
    assert_eq!(open.len(), 5, "A4, A8, A10, A11, A12 are still open: {open:?}");

    // Receivables: open balances by due date over March to June, and all that is overdue today.
    let r = report(&app, "/v1/reports/receivables?from=2027-03-01&to=2027-06-30", today).await;
    let mut days: BTreeMap<NaiveDate, (u32, Decimal, Decimal, Decimal)> = BTreeMap::new();
    let mut overdue = (0u32, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for l in &open {
        let c = &book.charges[l];
        let row = days.entry(c.due).or_default();
        *row = (row.0 + 1, row.1 + c.amount, row.2 + book.received(l), row.3 + book.balance(l, today_sp));
        if today_sp > c.due {
            overdue = (overdue.0 + 1, overdue.1 + c.amount, overdue.2 + book.received(l), overdue.3 + book.balance(l, today_sp));
        }
    }
    let got: BTreeMap<NaiveDate, (u32, Decimal, Decimal, Decimal)> = r["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                day(d["due_date"].as_str().unwrap()),
                (d["charges"].as_u64().unwrap() as u32, money(&d["amount"]), money(&d["received"]), money(&d["balance_due"])),
            )
        })
        .collect();
    assert_eq!(got, days);
    let total = |v: &Value| (v["charges"].as_u64().unwrap() as u32, money(&v["amount"]), money(&v["received"]), money(&v["balance_due"]));
    let sum = days.values().fold((0, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO), |a, r| (a.0 + r.0, a.1 + r.1, a.2 + r.2, a.3 + r.3));
    assert_eq!(total(&r["totals"]), sum);
    assert_eq!(total(&r["overdue"]), overdue);
    assert_eq!(overdue, (4, dec("1070.00"), dec("30.00"), dec("1050.00")), "A12's 2 % fine is owed, A8's 30.00 came in");
    let rows = csv(&app, "/v1/reports/receivables?from=2027-03-01&to=2027-06-30&format=csv", today).await;
    assert_eq!(rows.len(), days.len() + 2);
    for (row, (due, (n, amount, received, balance))) in rows.iter().zip(&days) {
        assert_eq!((row["due_date"].as_str(), row["charges"].parse::<u32>().unwrap()), (due.to_string().as_str(), *n));
        assert_eq!((dec(&row["amount"]), dec(&row["received"]), dec(&row["balance_due"])), (*amount, *received, *balance));
    }
    assert_eq!((rows[days.len()]["due_date"].as_str(), dec(&rows[days.len()]["balance_due"])), ("TOTAL", sum.3));
    assert_eq!((rows[days.len() + 1]["due_date"].as_str(), dec(&rows[days.len() + 1]["balance_due"])), ("OVERDUE", overdue.3));

    // Aging today.
    let r = report(&app, "/v1/reports/aging", today).await;
    let mut buckets: BTreeMap<&str, (u32, Decimal)> = BTreeMap::new();
    for l in &open {
        let b = buckets.entry(bucket_of((today_sp - book.charges[l].due).num_days())).or_default();
        *b = (b.0 + 1, b.1 + book.balance(l, today_sp));
    }
    let mut got: BTreeMap<&str, (u32, Decimal)> = r["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["charges"] != 0)
        .map(|b| (b["bucket"].as_str().unwrap(), (b["charges"].as_u64().unwrap() as u32, money(&b["balance_due"]))))
        .collect();
    got.insert("not_yet_due", (r["not_yet_due"]["charges"].as_u64().unwrap() as u32, money(&r["not_yet_due"]["balance_due"])));
    assert_eq!(got, buckets);
    assert_eq!(buckets.keys().copied().collect::<Vec<_>>(), vec!["0-30", "31-60", "61-90", "90+", "not_yet_due"], "one charge in each");
    let rows = csv(&app, "/v1/reports/aging?format=csv", today).await;
    let labels_csv: Vec<&str> = rows.iter().map(|r| r["bucket"].as_str()).collect();
    assert_eq!(labels_csv, vec!["not_yet_due", "0-30", "31-60", "61-90", "90+", "overdue"]);
    for row in &rows[..5] {
        let want = buckets.get(row["bucket"].as_str()).copied().unwrap_or_default();
        assert_eq!((row["charges"].parse::<u32>().unwrap(), dec(&row["balance_due"])), want, "{row:?}");
    }

    // Delinquency per month of due dates, as of today.
    let r = report(&app, "/v1/reports/delinquency?from=2027-03-01&to=2027-06-30&period=month", today).await;
    #[derive(Default, Debug, PartialEq)]
    struct Month {
        due: (u32, Decimal),
        on_time: (u32, Decimal),
        late: (u32, Decimal),
        unpaid: (u32, Decimal),
        not_yet_due: (u32, Decimal),
    }
    let add = |t: &mut (u32, Decimal), amount: Decimal| *t = (t.0 + 1, t.1 + amount);
    let mut months: BTreeMap<String, Month> =
        ["2027-03", "2027-04", "2027-05", "2027-06"].iter().map(|m| (m.to_string(), Month::default())).collect();
    for l in &labels {
        let c = &book.charges[l];
        if c.cancelled || c.renegotiated {
            continue;
        }
        let m = months.get_mut(&format!("{}-{:02}", c.due.year(), c.due.month())).unwrap();
        add(&mut m.due, c.amount);
        match book.paid_at(l) {
            Some(at) if calendar::local_date(at) <= c.due => add(&mut m.on_time, c.amount),
            Some(_) => add(&mut m.late, c.amount),
            None if today_sp > c.due => add(&mut m.unpaid, c.amount - book.received(l)),
            None => add(&mut m.not_yet_due, c.amount - book.received(l)),
        }
    }
    let tally = |v: &Value| (v["charges"].as_u64().unwrap() as u32, money(&v["amount"]));
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    for row in rows {
        let want = &months[row["period"].as_str().unwrap()];
        let got = Month {
            due: tally(&row["due"]),
            on_time: tally(&row["paid_on_time"]),
            late: tally(&row["paid_late"]),
            unpaid: tally(&row["unpaid"]),
            not_yet_due: tally(&row["not_yet_due"]),
        };
        assert_eq!(&got, want, "{}", row["period"]);
        assert_eq!(row["delinquency_rate"], rate(want.unpaid.1, want.due.1), "{}", row["period"]);
    }
    assert_eq!(months["2027-03"].due, (5, dec("1050.00")), "A5 cancelled and A13 renegotiated are left out");
    assert_eq!(rows[0]["delinquency_rate"], "0.5905", "620.00 of 1050.00");
    assert_eq!(r["excluded"], json!({"cancelled": 1, "renegotiated": 1}));
    let (due, unpaid) = months.values().fold((Decimal::ZERO, Decimal::ZERO), |a, m| (a.0 + m.due.1, a.1 + m.unpaid.1));
    assert_eq!((money(&r["totals"]["due"]["amount"]), r["totals"]["delinquency_rate"].as_str().unwrap()), (due, rate(unpaid, due).as_str()));
    let rows_csv = csv(&app, "/v1/reports/delinquency?from=2027-03-01&to=2027-06-30&period=month&format=csv", today).await;
    assert_eq!(rows_csv.len(), 5);
    for (row, json_row) in rows_csv.iter().zip(rows.iter().chain([&r["totals"]])) {
        assert_eq!(row["period"], json_row["period"].as_str().unwrap());
        assert_eq!(
            (row["due_charges"].parse::<u64>().unwrap(), dec(&row["due_amount"])),
            (json_row["due"]["charges"].as_u64().unwrap(), money(&json_row["due"]["amount"]))
        );
        assert_eq!(dec(&row["unpaid_amount"]), money(&json_row["unpaid"]["amount"]));
        assert_eq!(row["delinquency_rate"], json_row["delinquency_rate"].as_str().unwrap());
    }

    // Received by method and wallet, March 1 to today.
    let r = report(&app, &format!("/v1/reports/received?from={START}&to={END}"), today).await;
    let mut by_method: BTreeMap<&str, [Decimal; 4]> = BTreeMap::new();
    for m in book.moves.iter().filter(|m| m.counts) {
        let e = by_method.entry(m.method).or_default();
        match m.kind {
            "payment" => e[0] += m.amount,
            "refund" => e[1] += m.amount,
            _ => e[2] += m.amount,
        }
        e[3] = e[0] - e[1] - e[2];
    }
    let flow = |v: &Value| [money(&v["gross"]), money(&v["refunded"]), money(&v["charged_back"]), money(&v["net"])];
    for m in r["by_method"].as_array().unwrap() {
        assert_eq!(flow(m), by_method.get(m["method"].as_str().unwrap()).copied().unwrap_or_default(), "{m}");
    }
    for w in r["by_wallet"].as_array().unwrap() {
        let method = w["method"].as_str().unwrap();
        assert_eq!(w["wallet_id"].as_str(), Some(wallets[method].as_str()), "every charge used its method's default wallet");
        assert_eq!(flow(w), by_method[method]);
    }
    assert_eq!(r["by_wallet"].as_array().unwrap().len(), 3);
    let net: Decimal = by_method.values().map(|f| f[3]).sum();
    assert_eq!((money(&r["totals"]["gross"]), money(&r["totals"]["net"])), (dec("825.00"), net));
    assert_eq!(net, dec("600.00"), "825.00 in, 25.00 refunded, 200.00 charged back; the 60.00 flagged for refund never counted");
    let rows = csv(&app, &format!("/v1/reports/received?from={START}&to={END}&format=csv"), today).await;
    for row in rows.iter().filter(|r| r["group"] == "method") {
        let want = by_method.get(row["method"].as_str()).copied().unwrap_or_default();
        assert_eq!([dec(&row["gross"]), dec(&row["refunded"]), dec(&row["charged_back"]), dec(&row["net"])], want);
    }
    assert_eq!((rows.last().unwrap()["group"].as_str(), dec(&rows.last().unwrap()["net"])), ("TOTAL", net));

    // Recovery: each payment by the last message the outbox shows went out for its charge before it.
    let mut steps: BTreeMap<(String, String), (u32, Decimal)> = BTreeMap::new();
    for m in book.moves.iter().filter(|m| m.counts && m.kind == "payment") {
        let id = &book.charges[m.label].id;
        let last = book.sent.iter().filter(|(c, _, step, _, at)| c == id && step != "on_paid" && *at <= m.at).max_by_key(|(.., at)| *at);
        let key = last.map_or(("no_reminder".to_string(), String::new()), |(_, _, step, channel, _)| (step.clone(), channel.clone()));
        let s = steps.entry(key).or_default();
        *s = (s.0 + 1, s.1 + m.amount);
    }
    let distinct: std::collections::BTreeSet<&str> = steps.keys().map(|(s, _)| s.as_str()).collect();
    assert!(distinct.len() >= 3, "the portfolio exercises several steps: {steps:?}");
    assert!(steps.keys().any(|(_, channel)| channel == "sms") && steps.keys().any(|(_, channel)| channel == "email"), "and channels: {steps:?}");
    let r = report(&app, &format!("/v1/reports/recovery?from={START}&to={END}"), today).await;
    let got: BTreeMap<(String, String), (u32, Decimal)> = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                (row["step"].as_str().unwrap().to_string(), row["channel"].as_str().unwrap_or_default().to_string()),
                (row["payments"].as_u64().unwrap() as u32, money(&row["amount"])),
            )
        })
        .collect();
    assert_eq!(got, steps);
    let paid: Decimal = steps.values().map(|s| s.1).sum();
    assert_eq!((r["totals"]["payments"].as_u64(), money(&r["totals"]["amount"])), (Some(steps.values().map(|s| s.0 as u64).sum()), paid));
    let rows = csv(&app, &format!("/v1/reports/recovery?from={START}&to={END}&format=csv"), today).await;
    let got_csv: BTreeMap<(String, String), (u32, Decimal)> = rows
        .iter()
        .filter(|r| r["step"] != "TOTAL")
        .map(|r| ((r["step"].clone(), r["channel"].clone()), (r["payments"].parse().unwrap(), dec(&r["amount"]))))
        .collect();
    assert_eq!(got_csv, steps);

    // The step is on the ledger entry itself.
    let ledger = call(&app, "GET", &format!("/v1/charges/{}/ledger", book.charges["A3"].id), Value::Null, today).await;
    assert_eq!(ledger["data"][0]["preceded_by"], json!({"kind": "no_reminder"}), "A3's first 30.00 came before any message: {ledger}");
}

/// The bucket holding the one charge of an aging report ("not_yet_due" when it is not overdue).
fn only_bucket(r: &Value) -> String {
    if r["not_yet_due"]["charges"] == 1 {
        return "not_yet_due".into();
    }
    let full: Vec<&str> = r["buckets"].as_array().unwrap().iter().filter(|b| b["charges"] == 1).map(|b| b["bucket"].as_str().unwrap()).collect();
    assert_eq!(full.len(), 1, "{r}");
    full[0].to_string()
}

async fn one_charge_due(due: &str, at: DateTime<Utc>) -> App {
    let app = App::new().await;
    let customer =
        call(&app, "POST", "/v1/customers", json!({"name": "Maria Silva", "document": "529.982.247-25", "email": "maria@example.com"}), at).await;
    call(
        &app,
        "POST",
        "/v1/charges",
        json!({"customer_id": customer["id"], "amount": "10.00", "due_date": due, "description": "x", "payment_methods": ["pix"]}),
        at,
    )
    .await;
    app
}

#[tokio::test]
async fn aging_buckets_turn_at_30_60_and_90_days_past_due() {
    let t0 = morning(day("2027-03-01"));
    // A Wednesday, a business day: days past due count from it.
    let app = one_charge_due("2027-03-10", t0).await;
    for (as_of, days, bucket) in [
        ("2027-03-10", 0, "not_yet_due"),
        ("2027-03-11", 1, "0-30"),
        ("2027-04-09", 30, "0-30"),
        ("2027-04-10", 31, "31-60"),
        ("2027-05-09", 60, "31-60"),
        ("2027-05-10", 61, "61-90"),
        ("2027-06-08", 90, "61-90"),
        ("2027-06-09", 91, "90+"),
    ] {
        assert_eq!((day(as_of) - day("2027-03-10")).num_days(), days);
        let r = report(&app, &format!("/v1/reports/aging?as_of={as_of}"), t0).await;
        assert_eq!(only_bucket(&r), bucket, "{as_of}, {days} days past due: {r}");
        assert_eq!(money(&r["overdue"]["balance_due"]), if days > 0 { dec("10.00") } else { Decimal::ZERO });
    }
    // Due on a Saturday: payable on Monday without being late, overdue from Tuesday.
    let app = one_charge_due("2027-03-13", t0).await;
    for (as_of, bucket) in [("2027-03-15", "not_yet_due"), ("2027-03-16", "0-30")] {
        assert_eq!(only_bucket(&report(&app, &format!("/v1/reports/aging?as_of={as_of}"), t0).await), bucket, "{as_of}");
    }
}

#[tokio::test]
async fn bad_parameters_are_refused_naming_them() {
    let app = App::new().await;
    let now = morning(day("2027-03-01"));
    for (path, field) in [
        ("/v1/reports/receivables?from=2027-13-01", "from"),
        ("/v1/reports/receivables?from=2027-06-01&to=2027-03-01", "from"),
        ("/v1/reports/receivables?to=2027-03-01x", "to"),
        ("/v1/reports/aging?as_of=2027-02-28", "as_of"),
        ("/v1/reports/aging?as_of=hoje", "as_of"),
        ("/v1/reports/delinquency?period=year", "period"),
        ("/v1/reports/delinquency?from=2025-01-01&to=2027-03-01", "from"),
        ("/v1/reports/received?to=01/03/2027", "to"),
        ("/v1/reports/recovery?from=2026-01-01&to=2027-03-01", "from"),
        ("/v1/reports/recovery?format=xml", "format"),
    ] {
        let r = request(&app, &app.key, "GET", path, Value::Null, now, &[]).await;
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!((r.status, body["error"]["field"].as_str()), (422, Some(field)), "{path}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(" / "), "Portuguese / English: {body}");
    }
    // Accept: text/csv asks for CSV without `format`.
    let r = request(&app, &app.key, "GET", "/v1/reports/aging", Value::Null, now, &[("accept", "text/csv")]).await;
    assert_eq!((r.status, r.content_type), (200, Some("text/csv; charset=utf-8")));
    assert!(r.body.starts_with("bucket,charges,amount,received,balance_due\n"), "{}", r.body);
}

#[tokio::test]
async fn another_merchants_key_sees_nothing_of_the_portfolio() {
    let Portfolio { app, book, today, .. } = portfolio().await;
    let other = App::new().await;
    let intruder = other.store.get_merchant(&other.merchant_id).await.unwrap().unwrap();
    app.store.put_merchant(&intruder, &other.key.hash()).await.unwrap();
    let paths = [
        "/v1/reports/receivables?from=2027-03-01&to=2027-06-30",
        "/v1/reports/aging",
        "/v1/reports/delinquency?from=2027-03-01&to=2027-06-30",
        "/v1/reports/received?from=2027-03-01&to=2027-06-10",
        "/v1/reports/recovery?from=2027-03-01&to=2027-06-10",
    ];
    for path in paths {
        for format in ["json", "csv"] {
            let separator = if path.contains('?') { '&' } else { '?' };
            let r = request(&app, &other.key, "GET", &format!("{path}{separator}format={format}"), Value::Null, today, &[]).await;
            assert_eq!(r.status, 200, "{path}: {}", r.body);
            for c in book.charges.values() {
                assert!(!r.body.contains(&c.id), "{path} leaked {}", c.id);
            }
            for amount in ["100.00", "250.00", "120.00", "500.00", "825.00"] {
                assert!(!r.body.contains(amount), "{path} ({format}) shows the first merchant's money {amount}: {}", r.body);
            }
        }
        let r: Value = serde_json::from_str(&request(&app, &other.key, "GET", path, Value::Null, today, &[]).await.body).unwrap();
        let counts = [&r["totals"]["charges"], &r["overdue"]["charges"], &r["totals"]["due"]["charges"], &r["totals"]["payments"]];
        assert!(counts.iter().all(|c| c.is_null() || **c == 0), "{path}: {r}");
    }
}
