//! Generating subscriptions' charges: each cycle's charge made `lead_days` before it falls due, through the same
//! path as every other charge (`ChargeService::create_in_series`). Run by ruler-tick on its schedule and by the
//! API when a subscription is made, changed or resumed.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::charges::{ChargeError, ChargeService, TermFields};
use crate::domain::calendar;
use crate::domain::charge::ChargeOrigin;
use crate::domain::merchant::Merchant;
use crate::domain::recurrence::Subscription;
use crate::ports::store::StoreError;

/// What one generator run did, for the tick's report and logs.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct SubscriptionRun {
    pub subscriptions_read: usize,
    pub charges_generated: usize,
    /// Cycles already past due when first looked at (the generator was down longer than their lead time).
    pub cycles_skipped: usize,
    /// Subscriptions the charge path refused (e.g. the customer's data was erased): paused, with the reason.
    pub subscriptions_paused: usize,
    /// Subscriptions left for the next run after a fault (nothing is lost: their charges are keyed).
    pub subscriptions_failed: usize,
    /// The run's budget ran out with subscriptions still due: the next run goes on.
    pub more: bool,
}

/// Subscriptions one run looks at (each is a handful of store calls and events): the rest wait for the next
/// tick, minutes later, well within their lead time, and the run stays far inside the function's timeout.
pub const MAX_SUBSCRIPTIONS_PER_RUN: usize = 200;

impl ChargeService<'_> {
    /// Makes the charges of `sub` due for generation on `now`'s date, each under a key derived from the
    /// subscription and its cycle, so a run that dies midway and is retried (or two racing runs) make each
    /// charge once. A charge the charge path refuses (the customer erased, a wallet removed…) pauses the
    /// subscription with the reason, for the merchant to fix and resume; a fault stops here and the next run
    /// takes it up. The subscription's record follows what was made.
    pub async fn generate_for(
        &self,
        merchant: &Merchant,
        mut sub: Subscription,
        now: DateTime<Utc>,
    ) -> Result<(Subscription, SubscriptionRun), ChargeError> {
        let mut run = SubscriptionRun { subscriptions_read: 1, ..Default::default() };
        let work = sub.due_for_generation(calendar::local_date(now));
        if work.charges.is_empty() && work.skipped.is_empty() {
            return Ok((sub, run));
        }
        let read_at = sub.version;
        for cycle in work.skipped {
            tracing::warn!(subscription_id = %sub.id, cycle, "cycle already past due when first looked at: not billed");
            sub.generated(cycle);
            run.cycles_skipped += 1;
        }
        let mut fault = None;
        let terms = TermFields::from_map(&sub.charge_fields);
        for occurrence in work.charges {
            let origin = ChargeOrigin::Subscription { subscription_id: sub.id.clone(), cycle: occurrence.cycle };
            let key = format!("{}/{}", merchant.id, sub.charge_key(occurrence.cycle));
            // Not through the Idempotency-Key table: its saved refusals would outlive their cause. The key still
            // fixes the charge's id, and the store refuses a second charge with it.
            let made = self
                .create_in_series(
                    merchant,
                    sub.customer_id.as_str(),
                    &terms,
                    occurrence.amount,
                    occurrence.due_date,
                    &sub.description,
                    origin,
                    key,
                    now,
                )
                .await;
            match made {
                Ok(_) => {
                    sub.generated(occurrence.cycle);
                    run.charges_generated += 1;
                }
                Err(e) => match e.refusal() {
                    Some((code, message)) => {
                        tracing::warn!(subscription_id = %sub.id, cycle = occurrence.cycle, code, "subscription charge refused; subscription paused");
                        sub.pause(Some(format!("{code}: {message}")), now);
                        run.subscriptions_paused += 1;
                        break;
                    }
                    None => {
                        fault = Some(e);
                        break;
                    }
                },
            }
        }
        if sub.version == read_at && (run.charges_generated > 0 || run.cycles_skipped > 0 || run.subscriptions_paused > 0) {
            sub.updated_at = now;
            let expected = sub.version;
            sub.version += 1;
            match self.store.put_subscription(&sub, Some(expected)).await {
                Ok(()) => {}
                // Changed meanwhile (paused, repriced): the charges made stand, keyed; the next run sees them made.
                Err(StoreError::Conflict) => sub = self.store.get_subscription(&merchant.id, &sub.id).await?.ok_or(ChargeError::SubscriptionGone)?,
                Err(e) => return Err(e.into()),
            }
        }
        match fault {
            Some(e) => Err(e),
            None => Ok((sub, run)),
        }
    }

    /// The generator: every subscription of every merchant whose next charge is due for generation by `now`'s
    /// date (a sparse index, so it reads only those), its charges made. Run by ruler-tick on its schedule.
    pub async fn generate_subscription_charges(&self, now: DateTime<Utc>) -> Result<SubscriptionRun, ChargeError> {
        const BATCH: usize = 100;
        let today = calendar::local_date(now);
        let mut total = SubscriptionRun::default();
        let mut left_for_later = std::collections::HashSet::new();
        loop {
            let due = self.store.subscriptions_to_generate(today, BATCH + left_for_later.len()).await?;
            let fresh: Vec<Subscription> = due.into_iter().filter(|s| !left_for_later.contains(&s.id)).collect();
            if fresh.is_empty() {
                return Ok(total);
            }
            for sub in fresh {
                if total.subscriptions_read >= MAX_SUBSCRIPTIONS_PER_RUN {
                    total.more = true;
                    return Ok(total);
                }
                let id = sub.id.clone();
                let Some(merchant) = self.store.get_merchant(&sub.merchant_id).await? else {
                    tracing::error!(subscription_id = %id, "subscription of an unknown merchant");
                    left_for_later.insert(id);
                    continue;
                };
                match self.generate_for(&merchant, sub, now).await {
                    Ok((after, run)) => {
                        total.subscriptions_read += 1;
                        total.charges_generated += run.charges_generated;
                        total.cycles_skipped += run.cycles_skipped;
                        total.subscriptions_paused += run.subscriptions_paused;
                        // Still due (e.g. changed meanwhile): the next run takes it.
                        if after.generate_on().is_some_and(|on| on <= today) {
                            left_for_later.insert(id);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(subscription_id = %id, error = %e, "subscription charges not generated; left for the next run");
                        total.subscriptions_read += 1;
                        total.subscriptions_failed += 1;
                        left_for_later.insert(id);
                    }
                }
            }
        }
    }
}
