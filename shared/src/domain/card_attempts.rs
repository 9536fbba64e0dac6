//! Card attempts on one charge: at most one in flight (the claim every attempt takes before the acquirer is
//! called), each with its own stable key (our order id at the acquirer, so a retried or recovered attempt is the
//! same sale), and a limit per payment link so a link cannot be used to test stolen cards.
//!
//! A claim whose attempt died (a crashed or timed-out function) is taken over after `CLAIM_TIMEOUT`, longer than
//! any function may run; the one taking it over first asks the acquirer what became of the earlier key.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{ChargeId, MerchantId};

/// Longer than any of our functions may run (the API's Lambda timeout is 30 s, the longest 60 s).
pub const CLAIM_TIMEOUT: Duration = Duration::minutes(2);
/// Attempts a payment link may start in any hour, declined ones included.
pub const PER_HOUR: usize = 5;
/// Attempts a payment link may ever start.
pub const TOTAL: u32 = 20;

/// One attempt: its key at the acquirer and when it started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardAttempt {
    pub key: String,
    pub started_at: DateTime<Utc>,
}

/// A charge's card attempts, stored with optimistic concurrency (`version`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardAttempts {
    pub merchant_id: MerchantId,
    pub charge_id: ChargeId,
    pub version: u64,
    /// Attempts ever started.
    pub total: u32,
    /// When the attempts of the last hour started.
    pub recent: Vec<DateTime<Utc>>,
    /// The attempt holding the claim, if any.
    pub in_flight: Option<CardAttempt>,
}

/// Why no attempt may start now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Another attempt holds the claim.
    InProgress,
    /// `PER_HOUR` attempts in the last hour: the next may start at `retry_at`.
    HourlyLimit { retry_at: DateTime<Utc> },
    /// `TOTAL` attempts on this link.
    TotalLimit,
}

impl CardAttempts {
    /// No attempt yet (version 0: not stored).
    pub fn none(merchant_id: &MerchantId, charge_id: &ChargeId) -> Self {
        Self { merchant_id: merchant_id.clone(), charge_id: charge_id.clone(), version: 0, total: 0, recent: Vec::new(), in_flight: None }
    }

    /// The claim of an attempt that has run longer than any function may: it died, and what it did at the
    /// acquirer must be learned (by its key) before another attempt starts.
    pub fn abandoned(&self, now: DateTime<Utc>) -> Option<&CardAttempt> {
        self.in_flight.as_ref().filter(|a| now - a.started_at >= CLAIM_TIMEOUT)
    }

    /// Starts an attempt: the claim (taking over an abandoned one, whose fate the caller has learned) and the
    /// count, as the next version. Refused while another attempt is live or beyond the limits.
    pub fn begin(&self, now: DateTime<Utc>) -> Result<(CardAttempts, CardAttempt), Refusal> {
        if self.in_flight.is_some() && self.abandoned(now).is_none() {
            return Err(Refusal::InProgress);
        }
        if self.total >= TOTAL {
            return Err(Refusal::TotalLimit);
        }
        let mut recent: Vec<DateTime<Utc>> = self.recent.iter().copied().filter(|t| now - *t < Duration::hours(1)).collect();
        recent.sort();
        if recent.len() >= PER_HOUR {
            return Err(Refusal::HourlyLimit { retry_at: recent[recent.len() - PER_HOUR] + Duration::hours(1) });
        }
        recent.push(now);
        let total = self.total + 1;
        // The charge id and the attempt's number: unique per attempt, the same whoever asks about it later.
        let attempt = CardAttempt { key: format!("{}-card{total}", self.charge_id), started_at: now };
        let next = CardAttempts { version: self.version + 1, total, recent, in_flight: Some(attempt.clone()), ..self.clone() };
        Ok((next, attempt))
    }

    /// Releases `attempt`'s claim (the next version), unless another attempt holds it now.
    pub fn end(&self, attempt: &CardAttempt) -> Option<CardAttempts> {
        (self.in_flight.as_ref() == Some(attempt)).then(|| CardAttempts { version: self.version + 1, in_flight: None, ..self.clone() })
    }

    /// The stored version this one replaces (None: the first).
    pub fn replaces(&self) -> Option<u64> {
        (self.version > 1).then(|| self.version - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        "2026-12-07T12:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::minutes(minutes)
    }

    fn fresh() -> CardAttempts {
        CardAttempts::none(&MerchantId::generate(), &ChargeId::generate())
    }

    #[test]
    fn one_attempt_at_a_time_each_with_its_own_key() {
        let (claimed, first) = fresh().begin(at(0)).unwrap();
        assert_eq!((claimed.version, claimed.replaces()), (1, None));
        assert_eq!(claimed.begin(at(1)), Err(Refusal::InProgress));
        let released = claimed.end(&first).unwrap();
        assert_eq!(released.replaces(), Some(1));
        let (_, second) = released.begin(at(1)).unwrap();
        assert_ne!(first.key, second.key);
        assert!(first.key.starts_with(claimed.charge_id.as_str()) && first.key.ends_with("-card1"), "{}", first.key);
    }

    #[test]
    fn an_abandoned_claim_is_taken_over_after_the_timeout_only() {
        let (claimed, first) = fresh().begin(at(0)).unwrap();
        assert!(claimed.abandoned(at(1)).is_none());
        assert_eq!(claimed.abandoned(at(2)), Some(&first));
        let (taken, second) = claimed.begin(at(2)).unwrap();
        assert_eq!(taken.in_flight, Some(second.clone()));
        assert_eq!(claimed.end(&second), None, "the old version does not hold the new claim");
        assert_eq!(taken.end(&first), None, "the dead attempt cannot release the new claim");
    }

    #[test]
    fn five_an_hour_and_twenty_in_all() {
        let mut attempts = fresh();
        for minute in 0..5 {
            let (next, a) = attempts.begin(at(minute)).unwrap();
            attempts = next.end(&a).unwrap();
        }
        assert_eq!(attempts.begin(at(30)), Err(Refusal::HourlyLimit { retry_at: at(60) }));
        let mut minute = 60;
        while attempts.total < TOTAL {
            match attempts.begin(at(minute)) {
                Ok((next, a)) => attempts = next.end(&a).unwrap(),
                Err(Refusal::HourlyLimit { retry_at }) => minute = (retry_at - at(0)).num_minutes(),
                Err(other) => panic!("{other:?}"),
            }
        }
        assert_eq!(attempts.begin(at(100_000)), Err(Refusal::TotalLimit));
    }
}
