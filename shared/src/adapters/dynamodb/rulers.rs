//! The DynamoDB store: réguas and queued re-plans (key layout in `mod.rs` and docs/dynamodb.md).

use async_trait::async_trait;

use super::*;
use crate::adapters::layout::{replan_sk, ruler_key};
use crate::domain::ruler::Ruler;

#[async_trait]
impl RulerStore for DynamoStore {
    async fn get_ruler(&self, scope: &RulerScope) -> StoreResult<Option<Ruler>> {
        let (pk, sk) = ruler_key(scope);
        self.get(pk, sk).await?.map(|i| parse_data(&i)).transpose()
    }

    async fn put_ruler(&self, scope: &RulerScope, ruler: &Ruler) -> StoreResult<()> {
        let (pk, sk) = ruler_key(scope);
        self.client.put_item().table_name(&self.table).set_item(Some(data_item(pk, sk, ruler))).send().await.map_err(unavailable)?;
        Ok(())
    }
}

#[async_trait]
impl ReplanJobStore for DynamoStore {
    async fn save_replan_job(&self, job: &crate::service::schedule::ReplanJob, expected_version: Option<u64>) -> StoreResult<()> {
        let mut item = data_item("REPLAN".into(), replan_sk(&job.scope()), job);
        match expected_version {
            None => {
                item.insert("version".into(), n(job.version));
                if self.put_new(item).await? {
                    Ok(())
                } else {
                    Err(StoreError::Conflict)
                }
            }
            Some(expected) => self.put_versioned(item, job.version, expected).await,
        }
    }

    async fn get_replan_job(&self, scope: &crate::service::schedule::ReplanScope) -> StoreResult<Option<crate::service::schedule::ReplanJob>> {
        self.get("REPLAN".into(), &replan_sk(scope)).await?.map(|i| parse_data(&i)).transpose()
    }

    async fn replan_jobs(&self, limit: usize) -> StoreResult<Vec<crate::service::schedule::ReplanJob>> {
        let page = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s("REPLAN"))
            .consistent_read(true)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(unavailable)?;
        page.items.unwrap_or_default().iter().map(parse_data).collect()
    }

    async fn finish_replan_job(&self, scope: &crate::service::schedule::ReplanScope, expected_version: u64) -> StoreResult<bool> {
        let r = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("PK", s("REPLAN"))
            .key("SK", s(replan_sk(scope)))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(expected_version))
            .send()
            .await;
        conditional(r)
    }
}
