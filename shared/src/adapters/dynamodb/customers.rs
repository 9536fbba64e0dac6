//! The DynamoDB store: customers (key layout in `mod.rs` and docs/dynamodb.md).

use async_trait::async_trait;

use super::*;
use crate::domain::customer::Customer;
use crate::domain::ids::{CustomerId, MerchantId};

fn customer_item(c: &Customer) -> Item {
    let mut item = data_item(customer_pk(&c.merchant_id, &c.id), "CUSTOMER", c);
    item.insert("GSI1PK".into(), s(format!("MER#{}#CUSTOMERS", c.merchant_id)));
    item.insert("GSI1SK".into(), s(c.id.as_str()));
    item
}

#[async_trait]
impl CustomerStore for DynamoStore {
    async fn put_customer(&self, customer: &Customer) -> StoreResult<()> {
        self.client.put_item().table_name(&self.table).set_item(Some(customer_item(customer))).send().await.map_err(unavailable)?;
        Ok(())
    }

    async fn get_customer(&self, merchant: &MerchantId, id: &CustomerId) -> StoreResult<Option<Customer>> {
        self.get(customer_pk(merchant, id), "CUSTOMER").await?.map(|i| parse_data(&i)).transpose()
    }

    async fn list_customers(&self, merchant: &MerchantId, limit: usize, cursor: Option<String>) -> StoreResult<Page<Customer>> {
        self.index_page("gsi1", "GSI1PK = :pk", &[(":pk", format!("MER#{merchant}#CUSTOMERS"))], Some(limit), cursor).await
    }
}
