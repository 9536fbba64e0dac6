//! Faults on purpose: decorators over the ports that fail a share of calls (before the call, or after it took
//! effect — the timeout whose write happened) and can "crash" the process at a chosen call: the call never
//! returns, as if the function had been killed there. The reliability suite (`shared/tests/chaos.rs`, `make
//! chaos`) runs the use cases through them; production never wires them.

mod store;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::domain::events::{DomainEvent, EventBus, PublishError};
use crate::domain::notification::NotificationJob;
use crate::ports::queue::{EnqueueError, JobQueue};
use crate::ports::store::*;
use crate::service::merchant_webhooks::WebhookJob;
use crate::service::registration::PaymentSetupJob;

/// What happens to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Fails without doing anything (throttling, a 5xx, a refused connection).
    Before,
    /// Does its work, then fails as a timeout would: the caller cannot know it took effect.
    After,
}

#[derive(Debug, Default)]
struct PlanState {
    calls: u64,
    crash_at: Option<u64>,
    crashed: bool,
    rate_permille: u32,
    injected: u64,
    rng: Option<StdRng>,
    log: Vec<String>,
}

/// Which calls fail and where the process dies; shared by the decorators of one run.
#[derive(Debug, Default)]
pub struct FaultPlan {
    state: Mutex<PlanState>,
    crash: tokio::sync::Notify,
}

impl FaultPlan {
    /// No faults: counts calls (a run's steps).
    pub fn counting() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The process dies at call `at` (0-based): the calls before it completed, this one never returns.
    pub fn crash_at(at: u64) -> Arc<Self> {
        let plan = Self::default();
        plan.state.lock().unwrap().crash_at = Some(at);
        Arc::new(plan)
    }

    /// `permille`/1000 of calls fail, half before and half after taking effect; reproducible from `seed`.
    pub fn random(permille: u32, seed: u64) -> Arc<Self> {
        let plan = Self::default();
        {
            let mut s = plan.state.lock().unwrap();
            s.rate_permille = permille;
            s.rng = Some(StdRng::seed_from_u64(seed));
        }
        Arc::new(plan)
    }

    pub fn calls(&self) -> u64 {
        self.state.lock().unwrap().calls
    }

    pub fn injected(&self) -> u64 {
        self.state.lock().unwrap().injected
    }

    pub fn crashed(&self) -> bool {
        self.state.lock().unwrap().crashed
    }

    /// The operations called, in order ("get_charge", "append_to_ledger", …).
    pub fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }

    /// Resolves once the process has "died".
    pub async fn until_crash(&self) {
        loop {
            let notified = self.crash.notified();
            if self.crashed() {
                return;
            }
            notified.await;
        }
    }

    /// Called at the start of every port call: decides its fault, or never returns (the crash).
    pub async fn enter(&self, operation: &str) -> Fault {
        let fault = {
            let mut s = self.state.lock().unwrap();
            if s.crashed || s.crash_at == Some(s.calls) {
                s.crashed = true;
                None
            } else {
                s.calls += 1;
                s.log.push(operation.to_string());
                let rate = s.rate_permille;
                let roll = s.rng.as_mut().map(|r| (r.gen_range(0..1000u32), r.gen_bool(0.5)));
                match roll {
                    Some((n, before)) if n < rate => {
                        s.injected += 1;
                        Some(if before { Fault::Before } else { Fault::After })
                    }
                    _ => Some(Fault::None),
                }
            }
        };
        match fault {
            Some(f) => f,
            None => {
                self.crash.notify_waiters();
                std::future::pending().await
            }
        }
    }
}

/// Runs `work` under `plan`: Some(result), or None if the process "died" first.
pub async fn run_until_crash<T>(plan: &FaultPlan, work: impl std::future::Future<Output = T>) -> Option<T> {
    tokio::select! {
        biased;
        r = work => Some(r),
        _ = plan.until_crash() => None,
    }
}

pub struct FaultyStore {
    pub inner: Arc<dyn Store>,
    pub plan: Arc<FaultPlan>,
}

impl FaultyStore {
    /// One store call under the plan (the call's future does nothing until awaited here).
    async fn call<T>(&self, operation: &str, work: impl std::future::Future<Output = StoreResult<T>>) -> StoreResult<T> {
        let fault = self.plan.enter(operation).await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in {operation}")));
        }
        let result = work.await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after {operation}")));
        }
        result
    }
}

pub struct FaultyQueue<'a> {
    pub inner: &'a dyn JobQueue,
    pub plan: Arc<FaultPlan>,
}

#[async_trait]
impl JobQueue for FaultyQueue<'_> {
    async fn enqueue(&self, jobs: &[NotificationJob]) -> Result<(), EnqueueError> {
        let fault = self.plan.enter("enqueue").await;
        if fault == Fault::Before {
            return Err(EnqueueError("injected fault in enqueue".into()));
        }
        let result = self.inner.enqueue(jobs).await;
        if fault == Fault::After && result.is_ok() {
            return Err(EnqueueError("injected timeout after enqueue".into()));
        }
        result
    }

    async fn enqueue_setup(&self, jobs: &[PaymentSetupJob]) -> Result<(), EnqueueError> {
        let fault = self.plan.enter("enqueue_setup").await;
        if fault == Fault::Before {
            return Err(EnqueueError("injected fault in enqueue_setup".into()));
        }
        let result = self.inner.enqueue_setup(jobs).await;
        if fault == Fault::After && result.is_ok() {
            return Err(EnqueueError("injected timeout after enqueue_setup".into()));
        }
        result
    }

    async fn enqueue_webhooks(&self, jobs: &[WebhookJob]) -> Result<(), EnqueueError> {
        let fault = self.plan.enter("enqueue_webhooks").await;
        if fault == Fault::Before {
            return Err(EnqueueError("injected fault in enqueue_webhooks".into()));
        }
        let result = self.inner.enqueue_webhooks(jobs).await;
        if fault == Fault::After && result.is_ok() {
            return Err(EnqueueError("injected timeout after enqueue_webhooks".into()));
        }
        result
    }
}

pub struct FaultyEventBus<'a> {
    pub inner: &'a dyn EventBus,
    pub plan: Arc<FaultPlan>,
}

#[async_trait]
impl EventBus for FaultyEventBus<'_> {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), PublishError> {
        let fault = self.plan.enter("publish").await;
        if fault == Fault::Before {
            return Err(PublishError("injected fault in publish".into()));
        }
        let result = self.inner.publish(events).await;
        if fault == Fault::After && result.is_ok() {
            return Err(PublishError("injected timeout after publish".into()));
        }
        result
    }

    async fn continue_tick(&self, at: DateTime<Utc>) -> Result<(), PublishError> {
        let fault = self.plan.enter("continue_tick").await;
        if fault == Fault::Before {
            return Err(PublishError("injected fault in continue_tick".into()));
        }
        self.inner.continue_tick(at).await
    }
}
