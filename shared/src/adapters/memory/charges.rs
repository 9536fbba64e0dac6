//! The in-memory store: charges (with the transactions they own), provider references, card attempts.

use super::*;

#[async_trait]
impl ChargeStore for MemoryStore {
    async fn create_charge(&self, charge: &Charge, reminders: &[Reminder]) -> StoreResult<()> {
        // One transaction in DynamoDB: the charge, its owner, its payment link and every reminder.
        limits::check_transaction(3 + reminders.len())?;
        fits(&layout::charge_pk(&charge.merchant_id, &charge.id), "CHARGE", charge)?;
        reminders.iter().try_for_each(reminder_fits)?;
        let mut s = self.lock();
        let key = (charge.merchant_id.clone(), charge.id.clone());
        if s.charges.contains_key(&key) {
            return Err(StoreError::Conflict);
        }
        s.charges.insert(key, charge.clone());
        s.owners.insert(charge.id.clone(), charge.merchant_id.clone());
        s.payment_tokens.insert(charge.payment_token.clone(), (charge.merchant_id.clone(), charge.id.clone()));
        for r in reminders {
            s.reminders.insert((r.merchant_id.clone(), r.charge_id.clone(), r.id()), r.clone());
        }
        Ok(())
    }

    async fn get_charge(&self, merchant: &MerchantId, id: &ChargeId) -> StoreResult<Option<Charge>> {
        Ok(self.lock().charges.get(&(merchant.clone(), id.clone())).cloned())
    }

    async fn charge_owner(&self, id: &ChargeId) -> StoreResult<Option<MerchantId>> {
        Ok(self.lock().owners.get(id).cloned())
    }

    async fn charge_by_payment_token(&self, token: &str) -> StoreResult<Option<Charge>> {
        let s = self.lock();
        Ok(s.payment_tokens.get(token).and_then(|key| s.charges.get(key)).cloned())
    }

    async fn update_charge(&self, charge: &Charge, expected_version: u64) -> StoreResult<()> {
        fits(&layout::charge_pk(&charge.merchant_id, &charge.id), "CHARGE", charge)?;
        let mut s = self.lock();
        let key = (charge.merchant_id.clone(), charge.id.clone());
        match s.charges.get(&key) {
            Some(current) if current.version == expected_version => {
                s.charges.insert(key, charge.clone());
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn open_charges(&self, merchant: &MerchantId, limit: usize, cursor: Option<String>) -> StoreResult<Page<Charge>> {
        let s = self.lock();
        let mut open: Vec<(String, Charge)> = s
            .charges
            .values()
            .filter(|c| &c.merchant_id == merchant && c.status.is_open())
            .map(|c| (format!("{}#{}", c.due_date.date(), c.id), c.clone()))
            .filter(|(k, _)| cursor.as_ref().is_none_or(|cur| k > cur))
            .collect();
        open.sort_by(|a, b| a.0.cmp(&b.0));
        let more = open.len() > limit;
        open.truncate(limit);
        let next = if more { open.last().map(|(k, _)| k.clone()) } else { None };
        Ok(Page { items: open.into_iter().map(|(_, c)| c).collect(), next })
    }

    async fn charges_of_customer(&self, merchant: &MerchantId, customer: &CustomerId) -> StoreResult<Vec<Charge>> {
        let s = self.lock();
        let mut out: Vec<Charge> = s.charges.values().filter(|c| &c.merchant_id == merchant && &c.customer_id == customer).cloned().collect();
        out.sort_by(|a, b| (a.due_date, a.id.as_str()).cmp(&(b.due_date, b.id.as_str())));
        Ok(out)
    }

    async fn list_charges(&self, merchant: &MerchantId, query: &ChargeQuery, limit: usize, cursor: Option<String>) -> StoreResult<Page<Charge>> {
        let s = self.lock();
        let mut all: Vec<(String, Charge)> = s
            .charges
            .values()
            .filter(|c| &c.merchant_id == merchant && query.matches(c))
            .map(|c| (format!("{}#{}", c.due_date.date(), c.id), c.clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        page_after(all, limit, cursor)
    }

    async fn append_to_ledger(&self, payment: &LedgerEntry, settled: Option<(&Charge, u64)>) -> StoreResult<PaymentRecorded> {
        limits::check_keys(&layout::provider_event_pk(&payment.merchant_id, &payment.provider, &payment.provider_event_id), "WHK")?;
        fits(
            &layout::charge_pk(&payment.merchant_id, &payment.charge_id),
            &format!("PAY#{}#{}", payment.provider, payment.provider_payment_id),
            payment,
        )?;
        if let Some((charge, _)) = settled {
            fits(&layout::charge_pk(&charge.merchant_id, &charge.id), "CHARGE", charge)?;
        }
        let mut s = self.lock();
        let event = (payment.merchant_id.clone(), payment.provider.clone(), payment.provider_event_id.clone());
        let pkey = (payment.merchant_id.clone(), payment.charge_id.clone(), format!("{}#{}", payment.provider, payment.provider_payment_id));
        if s.provider_events.contains(&event) || s.payments.contains_key(&pkey) {
            return Ok(PaymentRecorded::Duplicate);
        }
        if let Some((charge, expected)) = settled {
            let ckey = (charge.merchant_id.clone(), charge.id.clone());
            match s.charges.get(&ckey) {
                Some(current) if current.version == expected => {
                    s.charges.insert(ckey, charge.clone());
                }
                _ => return Err(StoreError::Conflict),
            }
        }
        s.provider_events.insert(event);
        s.payments.insert(pkey, payment.clone());
        Ok(PaymentRecorded::Recorded)
    }
}

#[async_trait]
impl ProviderReferenceStore for MemoryStore {
    async fn link_provider_reference(&self, provider: &str, reference: &str, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<()> {
        limits::check_keys(&layout::reference_pk(provider, reference), "REF")?;
        self.lock().references.insert((provider.to_string(), reference.to_string()), (merchant.clone(), charge.clone()));
        Ok(())
    }

    async fn charge_of_provider_reference(&self, provider: &str, reference: &str) -> StoreResult<Option<(MerchantId, ChargeId)>> {
        limits::check_keys(&layout::reference_pk(provider, reference), "REF")?;
        Ok(self.lock().references.get(&(provider.to_string(), reference.to_string())).cloned())
    }

    async fn next_sequence(&self, name: &str) -> StoreResult<u64> {
        limits::check_keys(&layout::sequence_pk(name), "SEQ")?;
        let mut s = self.lock();
        let n = s.sequences.entry(name.to_string()).or_default();
        *n += 1;
        Ok(*n)
    }
}

#[async_trait]
impl CardAttemptStore for MemoryStore {
    async fn get_card_attempts(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Option<crate::domain::card_attempts::CardAttempts>> {
        Ok(self.lock().card_attempts.get(&(merchant.clone(), charge.clone())).cloned())
    }

    async fn put_card_attempts(&self, attempts: &crate::domain::card_attempts::CardAttempts, expected_version: Option<u64>) -> StoreResult<()> {
        let mut s = self.lock();
        let key = (attempts.merchant_id.clone(), attempts.charge_id.clone());
        if s.card_attempts.get(&key).map(|stored| stored.version) != expected_version {
            return Err(StoreError::Conflict);
        }
        s.card_attempts.insert(key, attempts.clone());
        Ok(())
    }
}
