//! The payer's right to erasure (LGPD art. 18, VI), reaching every copy of their personal data.
//!
//! Copies are found from the customer: their charges, and for each charge every kind of item that hangs off it
//! (notification records, outbox entries, merchant webhook deliveries, provider errors kept on the charge),
//! their subscriptions and their installment plans (whose descriptions, the merchant's words, may name them).
//! Each copy is scrubbed the same way whatever its kind: every string in the stored item that holds the
//! customer's name, e-mail, phone or CPF/CNPJ (in the forms they are written in) has it replaced, so a field
//! added to an item later is covered without a change here. Idempotency replays hold no copy (they answer by
//! reference). `shared/tests/personal_data.rs` makes a customer touch every kind of item and scans the whole
//! store after erasure, and `tests/adversarial.rs` scans the local stack's table: a new kind of copy fails them
//! until it is listed in `erase_copies`.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::domain::customer::Customer;
use crate::ports::store::{Store, StoreError};

/// What an erased piece of text is replaced with.
pub const REDACTED: &str = "[dado apagado]";

/// A customer's personal data in every form it is written in, lower case (matching ignores case).
pub struct PersonalData {
    needles: Vec<String>,
}

impl PersonalData {
    /// Taken before the customer is erased.
    pub fn of(customer: &Customer) -> Self {
        let name = customer.name.as_str();
        let mut forms = vec![name.to_string(), plain(name), customer.document.as_str().to_string(), customer.document.formatted()];
        // Messages greet by first name; within the customer's own items that is theirs too.
        let first = customer.name.first_name();
        if first.chars().count() >= 3 {
            forms.extend([first.to_string(), plain(first)]);
        }
        if let Some(email) = &customer.email {
            forms.push(email.as_str().to_string());
        }
        if let Some(phone) = &customer.phone {
            let e164 = phone.as_str();
            forms.extend([e164.to_string(), e164.trim_start_matches('+').to_string(), e164[3..].to_string(), phone.national_formatted()]);
        }
        if let Some(address) = &customer.address {
            if let Ok(Value::Object(fields)) = serde_json::to_value(address) {
                // The street is the identifying part; a house number alone, city and state are shared by millions.
                for key in ["street", "complement"] {
                    if let Some(Value::String(s)) = fields.get(key) {
                        if s.chars().count() >= 5 {
                            forms.push(s.clone());
                        }
                    }
                }
            }
        }
        let mut needles: Vec<String> = forms.into_iter().map(|f| f.trim().to_lowercase()).filter(|f| !f.is_empty()).collect();
        // Longest first, so a full name goes before the first name inside it.
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        needles.dedup();
        Self { needles }
    }

    /// True if `text` holds any of it.
    pub fn found_in(&self, text: &str) -> bool {
        let lower = text.to_lowercase();
        self.needles.iter().any(|n| whole_matches(&lower, n).next().is_some())
    }

    /// `text` without it, or None if it held none. JSON text (a webhook payload) is scrubbed inside and stays JSON.
    pub fn redact_text(&self, text: &str) -> Option<String> {
        if !self.found_in(text) {
            return None;
        }
        if let Ok(mut json @ (Value::Object(_) | Value::Array(_))) = serde_json::from_str::<Value>(text) {
            self.redact_value(&mut json);
            return Some(json.to_string());
        }
        let lower = text.to_lowercase();
        if lower.len() != text.len() {
            // Lower-casing moved byte offsets (rare scripts): the whole text goes.
            return Some(REDACTED.to_string());
        }
        // Mark every byte any form covers, then replace each marked run once.
        let mut covered = vec![false; text.len()];
        for needle in &self.needles {
            for at in whole_matches(&lower, needle) {
                covered[at..at + needle.len()].iter_mut().for_each(|c| *c = true);
            }
        }
        let mut out = String::with_capacity(text.len());
        let mut in_run = false;
        for (i, ch) in text.char_indices() {
            match (covered[i], in_run) {
                (true, false) => {
                    out.push_str(REDACTED);
                    in_run = true;
                }
                (true, true) => {}
                (false, _) => {
                    out.push(ch);
                    in_run = false;
                }
            }
        }
        Some(out)
    }

    fn redact_value(&self, value: &mut Value) -> bool {
        match value {
            Value::String(s) => match self.redact_text(s) {
                Some(clean) => {
                    *s = clean;
                    true
                }
                None => false,
            },
            Value::Array(items) => items.iter_mut().fold(false, |changed, v| self.redact_value(v) | changed),
            Value::Object(fields) => fields.values_mut().fold(false, |changed, v| self.redact_value(v) | changed),
            _ => false,
        }
    }

    /// The item with every string scrubbed, or None if it held nothing of it. Fails (never half-erases) if the
    /// scrubbed item no longer reads as its type.
    pub fn redact<T: Serialize + DeserializeOwned>(&self, item: &T) -> Result<Option<T>, StoreError> {
        let corrupt = |e: serde_json::Error| StoreError::Corrupt { key: std::any::type_name::<T>().into(), message: format!("erasure: {e}") };
        let mut value = serde_json::to_value(item).map_err(corrupt)?;
        if !self.redact_value(&mut value) {
            return Ok(None);
        }
        serde_json::from_value(value).map(Some).map_err(corrupt)
    }
}

/// Where `needle` occurs in `haystack` as a whole (not inside a longer run of letters and digits): "Maria" in
/// "Olá Maria," or "maria@x", never in "Mariana" or inside a token or id (`chg_…`), which must stay intact.
fn whole_matches<'a>(haystack: &'a str, needle: &'a str) -> impl Iterator<Item = usize> + 'a {
    let bytes = haystack.as_bytes();
    haystack.match_indices(needle).map(|(at, _)| at).filter(move |&at| {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(at + needle.len()).copied();
        let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

/// ASCII form of a name, as BR Codes, SMS and boletos print it.
fn plain(s: &str) -> String {
    s.chars().map(|c| crate::domain::ascii::plain_letter(c).map(str::to_string).unwrap_or_else(|| c.to_string())).collect()
}

/// How many copies an erasure scrubbed, by kind (logged; no personal data in it).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Erased {
    pub charges: usize,
    pub notification_records: usize,
    pub outbox_entries: usize,
    pub webhook_deliveries: usize,
    pub subscriptions: usize,
    pub installment_plans: usize,
}

/// Scrubs every copy of `before` (the customer as it was before erasure) kept outside its own record.
pub async fn erase_copies(store: &dyn Store, before: &Customer) -> Result<Erased, StoreError> {
    let pii = PersonalData::of(before);
    let merchant = &before.merchant_id;
    let mut erased = Erased::default();
    let charges = store.charges_of_customer(merchant, &before.id).await?;
    let charge_ids: std::collections::HashSet<_> = charges.iter().map(|c| c.id.clone()).collect();

    for charge in &charges {
        // Provider error texts (a refused registration) may quote the payer.
        if let Some(mut clean) = pii.redact(charge)? {
            clean.record_redaction();
            store.update_charge(&clean, charge.version).await?;
            erased.charges += 1;
        }
        for record in store.notifications_of(merchant, &charge.id).await? {
            if let Some(clean) = pii.redact(&record)? {
                store.save_notification(&crate::domain::tracking::NotificationRecord { version: record.version + 1, ..clean }).await?;
                erased.notification_records += 1;
            }
        }
    }
    for entry in store.outbox().await? {
        if charge_ids.contains(&entry.charge_id) {
            if let Some(clean) = pii.redact(&entry)? {
                store.replace_outbox(&clean).await?;
                erased.outbox_entries += 1;
            }
        }
    }
    for endpoint in store.webhook_endpoints_of(merchant).await? {
        let mut cursor = None;
        loop {
            let page = store.webhook_deliveries_of(merchant, &endpoint.id, 100, cursor).await?;
            for delivery in page.items.iter().filter(|d| charge_ids.contains(&d.charge_id)) {
                if let Some(clean) = pii.redact(delivery)? {
                    store
                        .update_webhook_delivery(
                            &crate::service::merchant_webhooks::WebhookDelivery { version: delivery.version + 1, ..clean },
                            delivery.version,
                        )
                        .await?;
                    erased.webhook_deliveries += 1;
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    let mut cursor = None;
    loop {
        let page = store.list_subscriptions(merchant, 100, cursor).await?;
        for sub in page.items.iter().filter(|s| s.customer_id == before.id) {
            if let Some(clean) = pii.redact(sub)? {
                store.put_subscription(&crate::domain::recurrence::Subscription { version: sub.version + 1, ..clean }, Some(sub.version)).await?;
                erased.subscriptions += 1;
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    // A plan's description is copied onto each installment (scrubbed with the charges above) and kept whole in
    // the plan's own document.
    for (key, document) in store.merchant_documents(merchant, crate::domain::installment_plan::DOCUMENT_PREFIX).await? {
        let corrupt = |e: serde_json::Error| StoreError::Corrupt { key: key.clone(), message: format!("erasure: {e}") };
        let plan: crate::domain::installment_plan::Plan = serde_json::from_value(document).map_err(corrupt)?;
        if plan.customer_id != before.id.as_str() {
            continue;
        }
        if let Some(clean) = pii.redact(&plan)? {
            store.put_merchant_document(merchant, &key, &serde_json::to_value(&clean).map_err(corrupt)?).await?;
            erased.installment_plans += 1;
        }
    }
    Ok(erased)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maria() -> Customer {
        serde_json::from_value(serde_json::json!({
            "id": "cus_1", "merchant_id": "mer_1", "name": "Conceição Araújo", "document": "52998224725",
            "email": "conceicao@example.com", "phone": "+5511987654321", "created_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap()
    }

    #[test]
    fn every_form_of_the_data_goes_and_the_rest_stays() {
        let pii = PersonalData::of(&maria());
        let text = "Olá CONCEICAO ARAUJO, CPF 529.982.247-25 (52998224725), tel (11) 98765-4321 / +5511987654321, conceicao@example.com: R$ 10,00";
        let clean = pii.redact_text(text).unwrap();
        assert!(!pii.found_in(&clean), "{clean}");
        assert!(clean.starts_with("Olá ") && clean.ends_with(": R$ 10,00"), "{clean}");
        assert_eq!(pii.redact_text("Mensalidade de dezembro"), None);
        assert_eq!(pii.redact_text("tok_x52998224725y chg_kconceicao1 Conceiçãozinha"), None, "ids and tokens stay intact");
    }

    #[test]
    fn json_text_stays_json() {
        let pii = PersonalData::of(&maria());
        let payload = r#"{"type":"x","data":{"payer":"Conceição Araújo","amount":"10.00"}}"#;
        let clean: Value = serde_json::from_str(&pii.redact_text(payload).unwrap()).unwrap();
        assert_eq!(clean["data"]["payer"], REDACTED);
        assert_eq!(clean["data"]["amount"], "10.00");
    }
}
