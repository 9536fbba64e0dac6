//! The payer's page, state by state: open (Pix, boleto, card installments), overdue with its breakdown, paid (a
//! receipt), expired, cancelled; the card and wallet-choice form posts; what the page must never contain.

mod support;

use chrono::{Duration, NaiveDate, NaiveTime, Utc};
use cobranca::domain::calendar;
use serde_json::{json, Value};
use support::{due_in, App};

fn payer() -> Value {
    json!({
        "name": "Maria Silva", "document": "529.982.247-25", "email": "maria@example.com",
        "address": {"street": "Av. Paulista", "number": "1000", "district": "Bela Vista", "city": "São Paulo", "state": "SP", "cep": "01310-100"}
    })
}

async fn charge(app: &App, extra: Value) -> (Value, String) {
    let mut body = json!({"customer": payer(), "amount": "150.00", "due_date": due_in(20), "description": "Mensalidade de dezembro", "payment_methods": ["pix", "boleto", "credit_card"], "max_installments": 12});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let (status, charge) = app.call("POST", "/v1/charges", body, &[]).await;
    assert_eq!(status, 201, "{charge}");
    let path = charge["payment_url"].as_str().unwrap().strip_prefix("https://pay.test").unwrap().to_string();
    (charge, path)
}

async fn html(app: &App, path: &str) -> String {
    let page = app.page("GET", path, "").await;
    assert_eq!((page.status, page.content_type), (200, "text/html; charset=utf-8"));
    String::from_utf8(page.body).unwrap()
}

/// minijinja escapes `/` too; the page shows what a browser would show after unescaping.
fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/").replace("&#x27;", "'").replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

#[tokio::test]
async fn an_open_charge_shows_every_way_to_pay_it() {
    let app = App::new().await;
    let (c, path) = charge(&app, json!({})).await;
    let raw = html(&app, &path).await;
    let page = unescape(&raw);
    assert!(page.contains("<html lang=\"pt-BR\">"));
    assert!(page.contains("Loja Exemplo Ltda") && page.contains("CNPJ 11.222.333/0001-81"), "merchant and CNPJ");
    assert!(page.contains("Mensalidade de dezembro"));
    assert!(page.contains("R$ 150,00"));
    assert!(page.contains("Em aberto"));
    assert!(page.contains(c["pix"]["copy_paste"].as_str().unwrap()), "the same Pix code as the API");
    assert!(page.contains(c["boleto"]["digitable_line_formatted"].as_str().unwrap()), "the linha digitável");
    assert!(page.contains("aguarde até 30 minutos"));
    assert!(page.contains("6x de R$ 25,00 — total R$ 150,00"));
    assert!(!page.contains("529.982.247-25") && !page.contains("52998224725"), "the payer's CPF is masked");
    assert!(!raw.contains("<script>") && raw.contains("<script src="), "no inline script");
    assert!(!raw.contains("http://") && !raw.contains("https://fonts"), "nothing loaded from elsewhere");
    eprintln!("payer page: {} bytes of HTML", raw.len());
    assert!(raw.len() < 20_000, "light: {} bytes", raw.len());
}

#[tokio::test]
async fn an_overdue_charge_shows_fine_and_interest() {
    let app = App::new().await;
    let due: NaiveDate = due_in(5).parse().unwrap();
    let (_, path) = charge(&app, json!({"due_date": due.to_string(), "amount": "100.00", "late_fees": {"fine": {"kind": "percent", "value": "2"}, "interest": {"kind": "percent_per_month", "value": "1"}}})).await;
    let later = calendar::local_instant(calendar::effective_due_date(due) + Duration::days(10), NaiveTime::from_hms_opt(10, 0, 0).unwrap());
    let req =
        cobranca::http::api::ApiRequest { method: "GET".into(), path: path.clone(), headers: Default::default(), body: vec![], client_cert: None };
    let checkout =
        cobranca::service::checkout::Checkout { store: app.store.as_ref(), queue: &app.queue, events: &app.events, providers: &app.providers };
    let pages = cobranca::http::pages::PayerPages { checkout, public_base_url: "https://pay.test" };
    let page = String::from_utf8(pages.handle(&req, later).await.body).unwrap();
    assert!(page.contains("R$ 102,33"), "total today");
    assert!(page.contains("Multa") && page.contains("+ R$ 2,00"));
    assert!(page.contains("Juros (10 dias)") && page.contains("+ R$ 0,33"));
}

#[tokio::test]
async fn paying_by_card_on_the_page_ends_on_the_receipt() {
    let app = App::new().await;
    let (c, path) = charge(&app, json!({})).await;

    let tokenized = app
        .page("POST", &format!("{path}/sandbox-tokenize"), r#"{"number":"4111 1111 1111 1111","holder":"MARIA SILVA","expiry":"12/30","cvv":"123"}"#)
        .await;
    assert_eq!(tokenized.status, 200);
    let token: Value = serde_json::from_slice(&tokenized.body).unwrap();
    assert_eq!(token["brand"], "Visa");
    assert!(!String::from_utf8_lossy(&tokenized.body).contains("4111111111111111"), "the number does not come back");
    let bad = app
        .page("POST", &format!("{path}/sandbox-tokenize"), r#"{"number":"4111 1111 1111 1112","holder":"MARIA","expiry":"12/30","cvv":"123"}"#)
        .await;
    assert_eq!(bad.status, 422, "Luhn");

    let declined = app.page("POST", &format!("{path}/card"), "card_token=tok_sbx_x0002&brand=Visa&installments=6").await;
    assert_eq!(declined.status, 402);
    assert!(String::from_utf8(declined.body).unwrap().contains("Pagamento recusado pelo emissor do cartão (código 05)"));

    let form = format!("card_token={}&brand=Visa&installments=6", token["card_token"].as_str().unwrap());
    let paid = app.page("POST", &format!("{path}/card"), &form).await;
    assert_eq!((paid.status, paid.location.as_deref()), (303, Some(c["payment_url"].as_str().unwrap())));
    let receipt = html(&app, &path).await;
    assert!(receipt.contains("Pagamento confirmado") && receipt.contains("Paga"));
    assert!(!receipt.contains("pix-code") && !receipt.contains("card-number"), "nothing left to pay");
}

#[tokio::test]
async fn expired_and_cancelled_charges_say_so() {
    let app = App::new().await;
    let due: NaiveDate = due_in(3).parse().unwrap();
    let expires = calendar::local_instant(due + Duration::days(2), NaiveTime::from_hms_opt(18, 0, 0).unwrap());
    let (_, expiring) = charge(&app, json!({"due_date": due.to_string(), "expires_at": expires.to_rfc3339()})).await;
    app.tick_and_deliver(expires + Duration::minutes(5)).await;
    let page = html(&app, &expiring).await;
    assert!(page.contains("Cobrança expirada") && !page.contains("pix-code"));

    let (c, cancelled) = charge(&app, json!({})).await;
    app.call("POST", &format!("/v1/charges/{}/cancel", c["id"].as_str().unwrap()), Value::Null, &[]).await;
    let page = html(&app, &cancelled).await;
    assert!(page.contains("Cobrança cancelada") && page.contains("Não é preciso pagar"));
    let _ = Utc::now();
}

#[tokio::test]
async fn the_payer_picks_the_bank_when_there_are_several() {
    let app = App::new().await;
    let (status, second) = app
        .call("POST", "/v1/wallets", json!({"name": "Banco Dois", "provider": "sandbox", "method": "boleto", "settings": {"convenio": 2852547, "carteira": 18, "variacao": 19}}), &[])
        .await;
    assert_eq!(status, 201);
    let (c, path) = charge(&app, json!({"payment_methods": ["boleto"], "max_installments": 1})).await;
    let page = html(&app, &path).await;
    assert!(page.contains("Onde pagar o boleto") && page.contains("Banco Dois"));
    let chosen = app.page("POST", &format!("{path}/wallet"), &format!("wallet_id={}", second["id"].as_str().unwrap())).await;
    assert_eq!(chosen.status, 303);
    let (_, after) = app.call("GET", &format!("/v1/charges/{}", c["id"].as_str().unwrap()), Value::Null, &[]).await;
    assert_eq!(after["boleto"]["wallet_id"], second["id"]);
    assert!(html(&app, &path).await.contains(after["boleto"]["digitable_line_formatted"].as_str().unwrap()));
}

#[tokio::test]
async fn the_script_is_served_and_unknown_links_are_not_found() {
    let app = App::new().await;
    let js = app.page("GET", "/pay/anything/pay.js", "").await;
    assert_eq!((js.status, js.content_type), (200, "text/javascript; charset=utf-8"));
    assert_eq!(app.page("GET", "/pay/AAAAAAAAAAAAAAAAAAAAAAAAAAA", "").await.status, 404);
    assert_eq!(app.page("GET", "/pay/bad%20token", "").await.status, 404);
}
