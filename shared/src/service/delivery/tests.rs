use super::retry_delay;
use std::time::Duration;

#[test]
fn retries_back_off_exponentially_with_jitter_and_a_cap() {
    let waits: Vec<u64> = (1..=6).map(|n| retry_delay(n, 0).as_secs()).collect();
    assert_eq!(waits, [30, 60, 120, 240, 240, 240]);
    assert_eq!(retry_delay(2, 200), Duration::from_secs(72));
    assert_eq!(retry_delay(2, -200), Duration::from_secs(48));
    // The whole retry span of a five-receive queue stays inside the tick's lease.
    let span: Duration = (1..5).map(|n| retry_delay(n, 200)).sum();
    assert!(span < crate::service::tick::LEASE.to_std().unwrap(), "{span:?}");
}
