//! The in-memory store: customers.

use super::*;

#[async_trait]
impl CustomerStore for MemoryStore {
    async fn put_customer(&self, customer: &Customer) -> StoreResult<()> {
        fits(&layout::customer_pk(&customer.merchant_id, &customer.id), "CUSTOMER", customer)?;
        self.lock().customers.insert((customer.merchant_id.clone(), customer.id.clone()), customer.clone());
        Ok(())
    }

    async fn get_customer(&self, merchant: &MerchantId, id: &CustomerId) -> StoreResult<Option<Customer>> {
        Ok(self.lock().customers.get(&(merchant.clone(), id.clone())).cloned())
    }

    async fn list_customers(&self, merchant: &MerchantId, limit: usize, cursor: Option<String>) -> StoreResult<Page<Customer>> {
        let s = self.lock();
        let mut all: Vec<(String, Customer)> =
            s.customers.values().filter(|c| &c.merchant_id == merchant).map(|c| (c.id.to_string(), c.clone())).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        page_after(all, limit, cursor)
    }
}
