//! The in-memory store: réguas and queued re-plans.

use super::*;

#[async_trait]
impl RulerStore for MemoryStore {
    async fn get_ruler(&self, scope: &RulerScope) -> StoreResult<Option<Ruler>> {
        Ok(self.lock().rulers.get(scope).cloned())
    }

    async fn put_ruler(&self, scope: &RulerScope, ruler: &Ruler) -> StoreResult<()> {
        let (pk, sk) = layout::ruler_key(scope);
        fits(&pk, sk, ruler)?;
        self.lock().rulers.insert(scope.clone(), ruler.clone());
        Ok(())
    }
}

#[async_trait]
impl ReplanJobStore for MemoryStore {
    async fn save_replan_job(&self, job: &crate::service::schedule::ReplanJob, expected_version: Option<u64>) -> StoreResult<()> {
        let key = layout::replan_sk(&job.scope());
        fits("REPLAN", &key, job)?;
        let mut s = self.lock();
        if s.replan_jobs.get(&key).map(|j| j.version) != expected_version {
            return Err(StoreError::Conflict);
        }
        s.replan_jobs.insert(key, job.clone());
        Ok(())
    }

    async fn get_replan_job(&self, scope: &crate::service::schedule::ReplanScope) -> StoreResult<Option<crate::service::schedule::ReplanJob>> {
        Ok(self.lock().replan_jobs.get(&layout::replan_sk(scope)).cloned())
    }

    async fn replan_jobs(&self, limit: usize) -> StoreResult<Vec<crate::service::schedule::ReplanJob>> {
        Ok(self.lock().replan_jobs.values().take(limit).cloned().collect())
    }

    async fn finish_replan_job(&self, scope: &crate::service::schedule::ReplanScope, expected_version: u64) -> StoreResult<bool> {
        let key = layout::replan_sk(scope);
        let mut s = self.lock();
        if s.replan_jobs.get(&key).map(|j| j.version) != Some(expected_version) {
            return Ok(false);
        }
        s.replan_jobs.remove(&key);
        Ok(true)
    }
}
