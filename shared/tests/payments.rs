//! Paying a charge: the Pix code, the boleto and its registration, card installments with or without fee
//! pass-through, late fees priced by `amount_due`, billing wallets the payer can choose, and expiry.

mod support;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use cobranca::domain::calendar;
use cobranca::domain::money::Money;
use cobranca::domain::pay::boleto::parse_boleto;
use cobranca::domain::pay::pix::parse_brcode;
use cobranca::ports::store::*;
use cobranca::service::registration::SetupOutcome;
use serde_json::{json, Value};
use support::{due_in, App};

fn payer() -> Value {
    json!({
        "name": "Maria Silva", "document": "529.982.247-25", "email": "maria@example.com",
        "address": {"street": "Av. Paulista", "number": "1000", "district": "Bela Vista", "city": "São Paulo", "state": "SP", "cep": "01310-100"}
    })
}

async fn charge(app: &App, extra: Value) -> Value {
    let mut body = json!({"customer": payer(), "amount": "150.00", "due_date": due_in(20), "description": "Mensalidade", "payment_methods": ["pix", "boleto", "credit_card"], "max_installments": 12});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let (status, charge) = app.call("POST", "/v1/charges", body, &[]).await;
    assert_eq!(status, 201, "{charge}");
    charge
}

async fn get(app: &App, id: &Value) -> Value {
    app.call("GET", &format!("/v1/charges/{}", id.as_str().unwrap()), Value::Null, &[]).await.1
}

/// 10:00 in São Paulo on `day`.
fn sp(day: NaiveDate) -> DateTime<Utc> {
    calendar::local_instant(day, NaiveTime::from_hms_opt(10, 0, 0).unwrap())
}

fn date(v: &Value) -> NaiveDate {
    v.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_new_charge_carries_a_pix_code_a_boleto_and_the_installment_menu() {
    let app = App::new().await;
    let c = charge(&app, json!({})).await;

    let code = parse_brcode(c["pix"]["copy_paste"].as_str().unwrap()).expect("our BR Code parses");
    assert_eq!(code.amount(), Some(Money::parse("150.00").unwrap()));
    assert_eq!(code.txid(), c["pix"]["txid"].as_str());
    assert_eq!(code.merchant_name(), "Loja Exemplo Ltda");
    assert!(c["pix"]["qr_code_url"].as_str().unwrap().ends_with("/pix.svg"));

    let boleto = parse_boleto(c["boleto"]["digitable_line"].as_str().unwrap(), date(&c["due_date"])).expect("our linha parses");
    assert_eq!(boleto.barcode.as_str(), c["boleto"]["barcode"].as_str().unwrap());
    assert_eq!(boleto.amount, Some(Money::parse("150.00").unwrap()));
    assert_eq!(boleto.due_date, Some(date(&c["due_date"])));
    assert_eq!(c["boleto"]["status"], "registering");
    assert!(c["boleto"]["message"].as_str().unwrap().contains("30 minutos"));

    let menu = c["card"]["installment_options"].as_array().unwrap();
    assert_eq!(menu.len(), 12);
    assert_eq!(menu[2], json!({"installments": 3, "installment_amount": "50.00", "total": "150.00", "added_fee": "0.00"}));
    assert_eq!(c["amount_due"]["total"], "150.00");
    assert_eq!(c["wallets"].as_array().unwrap().len(), 3);

    // The bank registers the boleto; from then on it can be paid.
    assert_eq!(app.register().await, vec![SetupOutcome::Registered]);
    assert_eq!(get(&app, &c["id"]).await["boleto"]["status"], "registered");
    assert_eq!(get(&app, &c["id"]).await["boleto"]["message"], Value::Null);
}

#[tokio::test]
async fn a_boleto_needs_the_payers_address_and_every_method_needs_a_wallet() {
    let app = App::new().await;
    let mut no_address = payer();
    no_address.as_object_mut().unwrap().remove("address");
    let (status, body) = app
        .call(
            "POST",
            "/v1/charges",
            json!({"customer": no_address, "amount": "10.00", "due_date": due_in(5), "description": "x", "payment_methods": ["boleto"]}),
            &[],
        )
        .await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("customer_address_required")), "{body}");

    let (_, wallets) = app.call("GET", "/v1/wallets", Value::Null, &[]).await;
    let pix_wallet = wallets["data"].as_array().unwrap().iter().find(|w| w["method"] == "pix").unwrap()["id"].clone();
    let (status, body) = app
        .call("POST", "/v1/charges", json!({"customer": payer(), "amount": "10.00", "due_date": due_in(5), "description": "x", "payment_methods": ["pix", "boleto"], "wallet_ids": [pix_wallet]}), &[])
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str(), body["error"]["field"].as_str()),
        (422, Some("no_wallet_for_method"), Some("payment_methods")),
        "{body}"
    );

    let (status, body) = app
        .call(
            "POST",
            "/v1/wallets",
            json!({"name": "BB", "provider": "sandbox", "method": "boleto", "settings": {"convenio": 12, "carteira": 17, "variacao": 35}}),
            &[],
        )
        .await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("settings.convenio")), "{body}");
}

#[tokio::test]
async fn late_fees_and_discounts_are_priced_the_same_everywhere() {
    let app = App::new().await;
    let due: NaiveDate = due_in(20).parse().unwrap();
    let terms = json!({"late_fees": {
        "fine": {"kind": "percent", "value": "2"},
        "interest": {"kind": "percent_per_month", "value": "1"},
        "discount": {"until": (due - Duration::days(10)).to_string(), "value": {"kind": "fixed", "value": "5.00"}}
    }, "amount": "100.00", "due_date": due.to_string()});
    let c = charge(&app, terms).await;
    let id = c["id"].as_str().unwrap();

    // Early: the punctuality discount, in the Pix code too.
    let early = app.call_at("GET", &format!("/v1/charges/{id}"), Value::Null, sp(due - Duration::days(12))).await.1;
    assert_eq!(early["amount_due"]["total"], "95.00");
    assert_eq!(parse_brcode(early["pix"]["copy_paste"].as_str().unwrap()).unwrap().amount(), Some(Money::parse("95.00").unwrap()));

    // Ten days after the (business-day) due date: the 2 % fine, 1 % a month pro rata.
    let effective = calendar::effective_due_date(due);
    let late = app.call_at("GET", &format!("/v1/charges/{id}"), Value::Null, sp(effective + Duration::days(10))).await.1;
    assert_eq!(late["amount_due"]["fine"], "2.00");
    assert_eq!(late["amount_due"]["interest"], "0.33");
    assert_eq!(late["amount_due"]["total"], "102.33");
    assert_eq!(parse_brcode(late["pix"]["copy_paste"].as_str().unwrap()).unwrap().amount(), Some(Money::parse("102.33").unwrap()));
    // The boleto keeps its printed value; the bank applies the same fine and interest at payment.
    assert_eq!(late["boleto"]["amount"], "100.00");

    let (status, body) = app
        .call("POST", "/v1/charges", json!({"customer": payer(), "amount": "10.00", "due_date": due_in(5), "description": "x", "payment_methods": ["pix"], "late_fees": {"fine": {"kind": "percent", "value": "-1"}}}), &[])
        .await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("late_fees")), "{body}");
}

#[tokio::test]
async fn a_new_value_issues_a_new_boleto_and_writes_the_old_one_off() {
    let app = App::new().await;
    let c = charge(&app, json!({})).await;
    app.register().await;
    let id = c["id"].as_str().unwrap();
    let (status, changed) = app.call("PATCH", &format!("/v1/charges/{id}"), json!({"amount": "180.00"}), &[]).await;
    assert_eq!(status, 200, "{changed}");
    assert_ne!(changed["boleto"]["nosso_numero"], c["boleto"]["nosso_numero"]);
    assert_eq!(changed["boleto"]["status"], "registering");
    let boleto = parse_boleto(changed["boleto"]["digitable_line"].as_str().unwrap(), date(&c["due_date"])).unwrap();
    assert_eq!(boleto.amount, Some(Money::parse("180.00").unwrap()));
    let mut outcomes = app.register().await;
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(outcomes, vec![SetupOutcome::Registered, SetupOutcome::WrittenOff]);
}

#[tokio::test]
async fn paying_by_pix_writes_the_boleto_off() {
    let app = App::new().await;
    let c = charge(&app, json!({})).await;
    app.register().await;
    let id = c["id"].as_str().unwrap();
    let paid = json!({"type":"payment.confirmed","data":{"charge_id": id,"amount":"150.00","paid_at": Utc::now().to_rfc3339(),"method":"pix","provider_payment_id":"E2E-PIX-1"}});
    assert_eq!(app.webhook("msg_pix_1", &paid).await.0, 200);
    assert_eq!(app.register().await, vec![SetupOutcome::WrittenOff]);
    let after = get(&app, &c["id"]).await;
    assert_eq!(after["status"], "paid");
    assert_eq!(after["boleto"], Value::Null);
    assert_eq!(after["pix"]["copy_paste"], Value::Null, "a paid charge offers no code to pay again");
}

#[tokio::test]
async fn a_card_pays_in_installments_with_the_fee_passed_on() {
    let app = App::new().await;
    let fees: Vec<Value> = (1..=12).map(|n| json!({"percent": format!("{}.99", n + 1), "fixed": "0"})).collect();
    let (status, wallet) = app
        .call(
            "POST",
            "/v1/wallets",
            json!({"name": "Cartão", "provider": "sandbox", "method": "credit_card", "settings": {"fees": fees, "fee_mode": "payer_pays"}}),
            &[],
        )
        .await;
    assert_eq!(status, 201, "{wallet}");
    let (_, all) = app.call("GET", "/v1/wallets", Value::Null, &[]).await;
    let pix = all["data"].as_array().unwrap().iter().find(|w| w["method"] == "pix").unwrap()["id"].clone();
    let c = charge(&app, json!({"payment_methods": ["pix", "credit_card"], "wallet_ids": [pix, wallet["id"]], "amount": "100.00"})).await;
    // 6x at 7.99 %: the payer pays 100 / (1 − 0.0799) rounded up to the cent.
    let six = &c["card"]["installment_options"][5];
    assert_eq!((six["total"].as_str(), six["installment_amount"].as_str()), (Some("108.69"), Some("18.12")));
    let id = c["id"].as_str().unwrap();

    let (status, declined) = app
        .call(
            "POST",
            &format!("/v1/charges/{id}/card-payments"),
            json!({"card_token": "tok_4024007197690002", "brand": "Visa", "installments": 6}),
            &[],
        )
        .await;
    assert_eq!((status, declined["error"]["code"].as_str()), (402, Some("card_declined")), "{declined}");
    assert_eq!(get(&app, &c["id"]).await["status"], "pending");

    let (status, approved) = app
        .call(
            "POST",
            &format!("/v1/charges/{id}/card-payments"),
            json!({"card_token": "tok_4024007197690001", "brand": "Visa", "installments": 6}),
            &[],
        )
        .await;
    assert_eq!(status, 201, "{approved}");
    assert_eq!(approved["total"], "108.69");
    let parts: Vec<Money> = serde_json::from_value(approved["installment_amounts"].clone()).unwrap();
    assert_eq!(parts.iter().map(|m| m.cents()).sum::<i64>(), 10869);
    assert_eq!(approved["charge_status"], "paid");
    // A test merchant's answer says so, as every object the API shows does.
    assert_eq!((&approved["object"], &approved["status"], &approved["livemode"]), (&json!("card_payment"), &json!("approved"), &json!(false)));

    let (status, again) = app
        .call(
            "POST",
            &format!("/v1/charges/{id}/card-payments"),
            json!({"card_token": "tok_4024007197690001", "brand": "Visa", "installments": 1}),
            &[],
        )
        .await;
    assert_eq!((status, again["error"]["code"].as_str()), (409, Some("charge_not_open")));
    let (status, too_many) = app
        .call(
            "POST",
            &format!("/v1/charges/{}/card-payments", charge(&app, json!({"max_installments": 3})).await["id"].as_str().unwrap()),
            json!({"card_token": "tok_1", "brand": "Visa", "installments": 4}),
            &[],
        )
        .await;
    assert_eq!((status, too_many["error"]["field"].as_str()), (422, Some("installments")));
}

#[tokio::test]
async fn the_payer_chooses_which_banks_boleto_to_pay() {
    let app = App::new().await;
    let (status, second) = app
        .call("POST", "/v1/wallets", json!({"name": "Outro banco", "provider": "sandbox", "method": "boleto", "settings": {"convenio": 2852547, "carteira": 18, "variacao": 19}}), &[])
        .await;
    assert_eq!(status, 201, "{second}");
    let c = charge(&app, json!({"payment_methods": ["boleto"], "max_installments": 1})).await;
    assert_eq!(c["wallets"].as_array().unwrap().len(), 2, "both boleto wallets are offered");
    assert!(c["boleto"]["nosso_numero"].as_str().unwrap().starts_with("3128557"), "the first wallet is the default: {c}");
    app.register().await;

    let id = c["id"].as_str().unwrap();
    let (status, chosen) = app.call("POST", &format!("/v1/charges/{id}/wallet"), json!({"wallet_id": second["id"]}), &[]).await;
    assert_eq!(status, 200, "{chosen}");
    assert!(chosen["boleto"]["nosso_numero"].as_str().unwrap().starts_with("2852547"));
    assert_eq!(chosen["boleto"]["wallet_id"], second["id"]);
    let mut outcomes = app.register().await;
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(outcomes, vec![SetupOutcome::Registered, SetupOutcome::WrittenOff]);

    let (status, refused) = app.call("POST", &format!("/v1/charges/{id}/wallet"), json!({"wallet_id": "wal_01notthisone"}), &[]).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("wallet_id")));
}

#[tokio::test]
async fn after_expires_at_the_charge_is_expired_and_can_no_longer_be_paid() {
    let app = App::new().await;
    let due: NaiveDate = due_in(10).parse().unwrap();
    let expires = sp(due + Duration::days(5));
    let c = charge(&app, json!({"due_date": due.to_string(), "expires_at": expires.to_rfc3339()})).await;
    app.register().await;
    let id = c["id"].as_str().unwrap();

    let report = app.tick_and_deliver(expires + Duration::minutes(1)).await;
    assert_eq!(report["charges_expired"], 1, "{report}");
    let after = get(&app, &c["id"]).await;
    assert_eq!(after["status"], "expired");
    assert!(after["reminders"].as_array().unwrap().iter().all(|r| !matches!(r["state"].as_str(), Some("planned" | "queued"))), "{after}");
    assert_eq!(app.register().await, vec![SetupOutcome::WrittenOff]);

    let late = json!({"type":"payment.confirmed","data":{"charge_id": id,"amount":"150.00","paid_at": (expires + Duration::hours(1)).to_rfc3339(),"method":"pix","provider_payment_id":"E2E-LATE"}});
    let (status, body) = app.webhook("msg_late", &late).await;
    assert_eq!((status, body["result"].as_str()), (202, Some("flagged_for_refund")), "{body}");

    let (status, body) = app
        .call("POST", "/v1/charges", json!({"customer": payer(), "amount": "10.00", "due_date": due.to_string(), "expires_at": sp(due - Duration::days(1)).to_rfc3339(), "description": "x", "payment_methods": ["pix"]}), &[])
        .await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("expires_at")));
}

#[tokio::test]
async fn another_merchants_wallets_are_invisible() {
    let app = App::new().await;
    // Another merchant in the same store, with its own wallets.
    let other = cobranca::domain::ids::MerchantId::generate();
    let theirs = cobranca::domain::wallet::Wallet::sandbox_set(&other, Utc::now());
    for w in &theirs {
        app.store.put_wallet(w).await.unwrap();
    }
    let their_wallet = theirs[0].id.to_string();
    let (status, _) = app.call("GET", &format!("/v1/wallets/{their_wallet}"), Value::Null, &[]).await;
    assert_eq!(status, 404);
    let (status, body) = app
        .call("POST", "/v1/charges", json!({"customer": payer(), "amount": "10.00", "due_date": due_in(5), "description": "x", "payment_methods": ["pix"], "wallet_ids": [their_wallet]}), &[])
        .await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("wallet_not_found")));
}

#[tokio::test]
async fn the_payment_link_serves_the_qr_code_and_a_printable_boleto() {
    let app = App::new().await;
    let mut payer = payer();
    payer["name"] = json!("Ana <script>alert(1)</script> Souza");
    let c = charge(
        &app,
        json!({"customer": payer, "late_fees": {"fine": {"kind": "percent", "value": "2"}, "interest": {"kind": "percent_per_month", "value": "1"}}}),
    )
    .await;
    let base = c["payment_url"].as_str().unwrap().strip_prefix("https://pay.test").unwrap().to_string();

    let svg = app.page("GET", &format!("{base}/pix.svg"), "").await;
    assert_eq!((svg.status, svg.content_type), (200, "image/svg+xml"));
    eprintln!("pix qr svg: {} bytes", svg.body.len());
    assert!(String::from_utf8(svg.body).unwrap().starts_with("<?xml"));
    let png = app.page("GET", &format!("{base}/pix.png"), "").await;
    assert_eq!((png.status, png.content_type), (200, "image/png"));
    eprintln!("pix qr png: {} bytes", png.body.len());
    assert_eq!(&png.body[..8], b"\x89PNG\r\n\x1a\n");

    let page = app.page("GET", &format!("{base}/boleto"), "").await;
    assert_eq!(page.status, 200);
    let html = String::from_utf8(page.body).unwrap();
    let line = cobranca::domain::pay::boleto::Linha::parse(c["boleto"]["digitable_line"].as_str().unwrap()).unwrap();
    assert!(html.contains(&line.formatted()), "the linha digitável is printed");
    assert!(html.contains("aguarde até 30 minutos"), "registering notice shown");
    assert!(html.contains("Após o vencimento, multa de 2,00%."), "instructions from the late fees");
    assert!(html.contains("Juros de mora de 1,00% ao mês"));
    assert!(html.contains("Ana &lt;script&gt;"), "names are escaped");
    assert!(!html.contains("<script>"));
    assert!(html.contains("CEP 01310-100"));

    app.register().await;
    let html = String::from_utf8(app.page("GET", &format!("{base}/boleto"), "").await.body).unwrap();
    assert!(!html.contains("aguarde até 30 minutos"), "registered: no more waiting");

    assert_eq!(app.page("GET", "/pay/not-a-real-token/boleto", "").await.status, 404);
    assert_eq!(app.page("GET", &format!("{base}/unknown"), "").await.status, 404);
    app.call("POST", &format!("/v1/charges/{}/cancel", c["id"].as_str().unwrap()), Value::Null, &[]).await;
    assert_eq!(app.page("GET", &format!("{base}/pix.svg"), "").await.status, 410, "a cancelled charge offers nothing to pay");
}

#[tokio::test]
async fn a_reminder_after_the_due_date_asks_for_the_amount_with_the_fine() {
    let app = App::new().await;
    let c = charge(
        &app,
        json!({"amount": "100.00", "payment_methods": ["pix"], "max_installments": 1, "late_fees": {"fine": {"kind": "percent", "value": "2"}}}),
    )
    .await;
    let after_due = c["reminders"].as_array().unwrap().iter().find(|r| r["step"] == "after_due").expect("an after_due reminder").clone();
    let at: DateTime<Utc> = after_due["scheduled_at"].as_str().unwrap().parse().unwrap();
    app.tick_and_deliver(at).await;
    let outbox = app.store.outbox().await.unwrap();
    let sent = outbox.iter().find(|e| e.charge_id.as_str() == c["id"].as_str().unwrap() && e.step == "after_due").expect("after_due sent");
    assert!(sent.text.contains("R$ 102,00"), "{}", sent.text);
}

#[tokio::test]
async fn a_partial_payment_leaves_the_balance_open_and_the_rest_settles_it() {
    let app = App::new().await;
    let c = charge(&app, json!({"amount": "100.00", "payment_methods": ["pix"], "max_installments": 1})).await;
    let id = c["id"].as_str().unwrap();
    let pay = |event: &str, amount: &str| json!({"type":"payment.confirmed","data":{"charge_id": id,"amount": amount,"paid_at": Utc::now().to_rfc3339(),"method":"pix","provider_payment_id": event}});

    let (status, body) = app.webhook("msg_part_1", &pay("E2E-PART-1", "40.00")).await;
    assert_eq!((status, body["result"].as_str(), body["charge_status"].as_str()), (202, Some("partial"), Some("partially_paid")), "{body}");
    let after = get(&app, &c["id"]).await;
    assert_eq!((after["received"].as_str(), after["balance_due"].as_str()), (Some("40.00"), Some("60.00")));
    assert_eq!(
        parse_brcode(after["pix"]["copy_paste"].as_str().unwrap()).unwrap().amount(),
        Some(Money::parse("60.00").unwrap()),
        "the Pix code asks for the rest"
    );
    assert!(after["reminders"].as_array().unwrap().iter().any(|r| r["state"] == "planned"), "the régua goes on for the balance");
    let page =
        String::from_utf8(app.page("GET", c["payment_url"].as_str().unwrap().strip_prefix("https://pay.test").unwrap(), "").await.body).unwrap();
    assert!(page.contains("Falta pagar") && page.contains("R$ 60,00") && page.contains("Já recebido"), "the page shows the balance");

    let (status, body) = app.webhook("msg_part_2", &pay("E2E-PART-2", "60.00")).await;
    assert_eq!((status, body["result"].as_str()), (200, Some("applied")), "{body}");
    assert_eq!(get(&app, &c["id"]).await["status"], "paid");
}

#[tokio::test]
async fn a_psp_pix_webhook_is_matched_by_txid_once() {
    let app = App::new().await;
    let c = charge(&app, json!({"amount": "150.00", "payment_methods": ["pix"], "max_installments": 1})).await;
    let pix = json!({"pix": [
        {"endToEndId": "E00000000202611221000abcdef12345", "txid": c["pix"]["txid"], "valor": "150.00", "horario": Utc::now().to_rfc3339(), "infoPagador": "Mensalidade"},
        {"endToEndId": "E00000000202611221000zzzzzzzzzzz", "txid": "fc9a4366ff3d4964b5dbc6c91a8722d3", "valor": "9.99", "horario": Utc::now().to_rfc3339()}
    ]});
    let (status, _) = app.pix_webhook(&pix, "wrong").await;
    assert_eq!(status, 401);
    assert_eq!(get(&app, &c["id"]).await["status"], "pending", "nothing changed without the secret");

    let (status, body) = app.pix_webhook(&pix, "pix-secret").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["result"], "applied");
    assert_eq!(body["results"][1]["result"], "unmatched", "someone else's txid is kept for reconciliation");
    assert_eq!(get(&app, &c["id"]).await["status"], "paid");
    let (_, again) = app.pix_webhook(&pix, "pix-secret").await;
    assert_eq!(again["results"][0]["result"], "duplicate");
    assert_eq!(
        app.store.ledger_of(&app.merchant_id, &cobranca::domain::ids::ChargeId::parse(c["id"].as_str().unwrap()).unwrap()).await.unwrap().len(),
        1
    );
}

/// A certificate of tests/fixtures/mtls as API Gateway forwards it, with the validity it reports.
fn forwarded(fixture: &str, subject_dn: &str, not_before: &str, not_after: &str) -> cobranca::http::mtls::ClientCertificate {
    let pem = std::fs::read_to_string(format!("{}/tests/fixtures/mtls/{fixture}.pem", env!("CARGO_MANIFEST_DIR"))).unwrap();
    cobranca::http::mtls::ClientCertificate::from_forwarded(&pem, subject_dn, subject_dn, "22:4e:05", not_before, not_after).unwrap()
}

const PSP_DN: &str = "CN=webhook.psp.example,O=psp,C=BR";
/// `openssl x509 -in tests/fixtures/mtls/psp.pem -noout -fingerprint -sha256`
const PSP_SHA256: &str = "58:6B:A6:CA:FF:DB:1D:86:53:20:1B:5E:D4:DF:E9:6D:01:C4:D7:9E:2C:C0:79:CB:F1:B0:98:9F:31:32:8B:72";

#[tokio::test]
async fn a_pix_webhook_under_mutual_tls_settles_only_with_the_psps_valid_certificate() {
    use cobranca::http::mtls::ClientCertPin;
    let app = App::new().await;
    let c = charge(&app, json!({"amount": "150.00", "payment_methods": ["pix"], "max_installments": 1})).await;
    let pix = json!({"pix": [{"endToEndId": "E00000000202611221000abcdef12345", "txid": c["pix"]["txid"], "valor": "150.00", "horario": Utc::now().to_rfc3339()}]});
    let by_fingerprint = ClientCertPin::parse_sha256(PSP_SHA256).unwrap();
    let by_names = ClientCertPin::SubjectAndIssuer { subject_dn: PSP_DN.into(), issuer_dn: PSP_DN.into() };
    let valid = ("Jan  1 00:00:00 2020 GMT", "Nov 13 19:15:43 2126 GMT");
    let refused = [
        ("no certificate", None),
        ("another party's certificate", Some(forwarded("other", "CN=webhook.other.example,O=other,C=BR", valid.0, valid.1))),
        ("the PSP's certificate, expired", Some(forwarded("psp", PSP_DN, "Dec  7 19:15:43 2020 GMT", "Dec  7 19:15:43 2021 GMT"))),
        ("the PSP's certificate, not yet valid", Some(forwarded("psp", PSP_DN, "Dec  7 19:15:43 2120 GMT", valid.1))),
    ];
    for pin in [&by_fingerprint, &by_names] {
        for (what, cert) in &refused {
            let (status, body) = app.pix_webhook_mtls(&pix, pin.clone(), cert.clone()).await;
            assert_eq!(status, 401, "{what} under {pin:?}: {body}");
            assert_eq!(get(&app, &c["id"]).await["status"], "pending", "{what}: nothing changed");
        }
    }
    // Another party's certificate that claims the PSP's names: the fingerprint tells them apart.
    let impostor = forwarded("other", PSP_DN, valid.0, valid.1);
    assert_eq!(app.pix_webhook_mtls(&pix, by_fingerprint.clone(), Some(impostor)).await.0, 401);
    assert_eq!(get(&app, &c["id"]).await["status"], "pending");

    let (status, body) = app.pix_webhook_mtls(&pix, by_fingerprint, Some(forwarded("psp", PSP_DN, valid.0, valid.1))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["result"], "applied");
    assert_eq!(get(&app, &c["id"]).await["status"], "paid");
}

#[tokio::test]
async fn a_cnab_240_return_file_settles_boletos_once() {
    use cobranca::domain::pay::cnab240::fixtures::*;
    let app = App::new().await;
    let c = charge(&app, json!({"amount": "150.00", "payment_methods": ["boleto"], "max_installments": 1})).await;
    app.register().await;
    let nosso = c["boleto"]["nosso_numero"].as_str().unwrap();
    let due = date(&c["due_date"]).format("%d%m%Y").to_string();
    let paid_on = Utc::now().date_naive().format("%d%m%Y").to_string();
    let mut lines = vec![file_header(), batch_header()];
    lines.extend([
        segment_t(1, "06", nosso, &due, 15000),
        segment_u(2, "06", 15000, 0, &paid_on),
        segment_t(3, "06", "99999990000000001", &due, 5000),
        segment_u(4, "06", 5000, 0, &paid_on),
        segment_t(5, "02", nosso, &due, 15000),
        segment_u(6, "02", 0, 0, &paid_on),
    ]);
    lines.extend(trailers(8));
    let file = lines.join("\r\n");

    let import = |body: String| async { app.call_raw("POST", "/v1/reconciliation/cnab240", body).await };
    let (status, first) = import(file.clone()).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!((first["titles"].as_u64(), first["settlements"].as_u64()), (Some(3), Some(2)));
    assert_eq!(first["results"][0]["result"], "applied");
    assert_eq!(first["results"][1]["result"], "unmatched", "a title that is not ours is kept, not dropped");
    assert_eq!(get(&app, &c["id"]).await["status"], "paid");

    let (_, second) = import(file).await;
    assert_eq!(second["results"][0]["result"], "duplicate", "the same file again changes nothing");
    let payments = app.store.ledger_of(&app.merchant_id, &cobranca::domain::ids::ChargeId::parse(c["id"].as_str().unwrap()).unwrap()).await.unwrap();
    assert_eq!(payments.len(), 1);

    let (status, bad) = import("not a cnab file".into()).await;
    assert_eq!((status, bad["error"]["code"].as_str()), (422, Some("invalid_cnab240")));
}

#[tokio::test]
async fn an_overpayment_settles_the_charge_and_is_kept_as_credit() {
    let app = App::new().await;
    let c = charge(&app, json!({"amount": "100.00", "payment_methods": ["pix"], "max_installments": 1})).await;
    let over = json!({"type":"payment.confirmed","data":{"charge_id": c["id"],"amount":"120.00","paid_at": Utc::now().to_rfc3339(),"method":"pix","provider_payment_id":"E2E-OVER"}});
    assert_eq!(app.webhook("msg_over", &over).await.0, 200);
    let after = get(&app, &c["id"]).await;
    assert_eq!((after["status"].as_str(), after["credit"].as_str(), after["received"].as_str()), (Some("paid"), Some("20.00"), Some("120.00")));
}
