//! The DynamoDB store: subscriptions (key layout in `mod.rs` and docs/dynamodb.md).

use async_trait::async_trait;

use super::*;
use crate::domain::ids::MerchantId;

/// A subscription: listed per merchant through gsi2, and in the sparse generation index (gsi1, one `SUBGEN`
/// partition: a day's due subscriptions are few, and read once per run) while it has charges to generate.
fn subscription_item(sub: &crate::domain::recurrence::Subscription) -> Item {
    let mut item = data_item(format!("MER#{}#SUB#{}", sub.merchant_id, sub.id), "SUBSCRIPTION", sub);
    item.insert("version".into(), n(sub.version));
    item.insert("GSI2PK".into(), s(format!("MER#{}#SUBSCRIPTIONS", sub.merchant_id)));
    item.insert("GSI2SK".into(), s(sub.id.as_str()));
    if let Some(on) = sub.generate_on() {
        item.insert("GSI1PK".into(), s("SUBGEN"));
        item.insert("GSI1SK".into(), s(format!("{on}#{}#{}", sub.merchant_id, sub.id)));
    }
    item
}

#[async_trait]
impl SubscriptionStore for DynamoStore {
    async fn put_subscription(&self, sub: &crate::domain::recurrence::Subscription, expected_version: Option<u64>) -> StoreResult<()> {
        let item = subscription_item(sub);
        match expected_version {
            None => match self.put_new(item).await? {
                true => Ok(()),
                false => Err(StoreError::Conflict),
            },
            Some(expected) => self.put_versioned(item, sub.version, expected).await,
        }
    }

    async fn get_subscription(
        &self,
        merchant: &MerchantId,
        id: &crate::domain::ids::SubscriptionId,
    ) -> StoreResult<Option<crate::domain::recurrence::Subscription>> {
        self.get(format!("MER#{merchant}#SUB#{id}"), "SUBSCRIPTION").await?.map(|i| parse_data(&i)).transpose()
    }

    async fn list_subscriptions(
        &self,
        merchant: &MerchantId,
        limit: usize,
        cursor: Option<String>,
    ) -> StoreResult<Page<crate::domain::recurrence::Subscription>> {
        self.index_page("gsi2", "GSI2PK = :pk", &[(":pk", format!("MER#{merchant}#SUBSCRIPTIONS"))], Some(limit), cursor).await
    }

    async fn subscriptions_to_generate(&self, through: chrono::NaiveDate, limit: usize) -> StoreResult<Vec<crate::domain::recurrence::Subscription>> {
        // "#~" sorts after every "#mer_…" that follows the date.
        let values = [(":pk", "SUBGEN".to_string()), (":to", format!("{through}#~"))];
        let page: Page<crate::domain::recurrence::Subscription> =
            self.index_page("gsi1", "GSI1PK = :pk AND GSI1SK <= :to", &values, Some(limit), None).await?;
        Ok(page.items)
    }
}
