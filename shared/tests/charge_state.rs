//! A charge's state machine (`charge::state`): which status changes each transition allows and refuses, the
//! event each implies, and that every accepted change moves the version by exactly one (and `updated_at` to the
//! moment) while a refused or empty one leaves the charge untouched.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use cobranca::domain::charge::{Charge, ChargeChanges, ChargeStatus, Closing, Description, DueDate, IllegalTransition, PaymentMethod, Reversal};
use cobranca::domain::events::EventKind;
use cobranca::domain::ids::{CustomerId, MerchantId, PlanId};
use cobranca::domain::money::Money;
use proptest::prelude::*;
use rust_decimal::Decimal;

use ChargeStatus::*;

const ALL: [ChargeStatus; 8] = [Pending, Overdue, PartiallyPaid, Paid, Cancelled, Expired, Refunded, Renegotiated];

fn created() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 12, 0, 0).unwrap()
}

/// The moment transitions happen: well after creation, so `updated_at` shows whether it moved.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 15, 0, 0).unwrap()
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn money(s: &str) -> Money {
    Money::parse(s).unwrap()
}

/// A charge of R$ 100.00 due 2026-11-10 (already past at `now`), in `status`, at version 7.
fn charge(status: ChargeStatus) -> Charge {
    Charge {
        status,
        version: 7,
        ..Charge::new_pending(
            MerchantId::parse("mer_1").unwrap(),
            CustomerId::parse("cus_1").unwrap(),
            money("100.00"),
            DueDate::from_stored(day("2026-11-10")),
            Description::parse("Mensalidade").unwrap(),
            vec![PaymentMethod::Pix],
            created(),
        )
    }
}

/// Every transition a charge has, by name, applied at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    MarkOverdue,
    Expire,
    Settle,
    PayInPart,
    Cancel,
    Renegotiate,
    /// A later due date (still ahead at `now`).
    PostponeDue,
    ChangeAmount,
}

const OPS: [Op; 8] = [Op::MarkOverdue, Op::Expire, Op::Settle, Op::PayInPart, Op::Cancel, Op::Renegotiate, Op::PostponeDue, Op::ChangeAmount];

fn apply(c: &mut Charge, op: Op) -> Result<EventKind, IllegalTransition> {
    let at = now();
    match op {
        Op::MarkOverdue => c.mark_overdue(at),
        Op::Expire => c.expire(at),
        Op::Settle => c.settle(at, dec("100.00"), Decimal::ZERO, at),
        Op::PayInPart => c.pay_in_part(dec("40.00"), at),
        Op::Cancel => c.close(Closing::Cancelled, at),
        Op::Renegotiate => c.close(Closing::Renegotiated(PlanId::parse("plan_1").unwrap()), at),
        // Always a different value than the charge has, so that each is a change (the empty one is tested apart).
        Op::PostponeDue => {
            let later = c.due_date.date().max(day("2026-12-15")) + Duration::days(1);
            c.change(ChargeChanges { due_date: Some(DueDate::from_stored(later)), ..Default::default() }, at)
                .map(|e| e.expect("a new due date is a change"))
        }
        Op::ChangeAmount => {
            let other = if c.amount == money("120.00") { money("130.00") } else { money("120.00") };
            c.change(ChargeChanges { amount: Some(other), ..Default::default() }, at).map(|e| e.expect("a new amount is a change"))
        }
    }
}

/// Where each transition may start from, where it leads and what it announces: the whole table.
fn expected(from: ChargeStatus, op: Op) -> Option<(ChargeStatus, EventKind)> {
    let open = from.is_open();
    match op {
        Op::MarkOverdue => (from == Pending).then_some((Overdue, EventKind::ChargeOverdue)),
        Op::Expire => open.then_some((Expired, EventKind::ChargeExpired)),
        Op::Settle => open.then_some((Paid, EventKind::PaymentConfirmed)),
        Op::PayInPart => open.then_some((PartiallyPaid, EventKind::ChargePartiallyPaid)),
        Op::Cancel => open.then_some((Cancelled, EventKind::ChargeCancelled)),
        Op::Renegotiate => open.then_some((Renegotiated, EventKind::ChargeRenegotiated)),
        // A due date still ahead makes the charge current again (even a partly paid one: the status says only
        // whether it is late, as the PATCH always did).
        Op::PostponeDue => open.then_some((Pending, EventKind::ChargeUpdated)),
        Op::ChangeAmount => open.then_some((from, EventKind::ChargeUpdated)),
    }
}

#[test]
fn each_transition_is_allowed_from_exactly_the_statuses_in_the_table() {
    let mut allowed = 0;
    for from in ALL {
        for op in OPS {
            let before = charge(from);
            let mut c = before.clone();
            let got = apply(&mut c, op);
            match expected(from, op) {
                Some((to, event)) => {
                    allowed += 1;
                    assert_eq!(got, Ok(event), "{from:?} --{op:?}");
                    assert_eq!(c.status, to, "{from:?} --{op:?}");
                    assert_eq!(c.version, before.version + 1, "{from:?} --{op:?} moves the version by one");
                    assert_eq!(c.updated_at, now(), "{from:?} --{op:?}");
                }
                None => {
                    let refused = got.expect_err(&format!("{from:?} --{op:?} is refused"));
                    assert_eq!(refused.from, from);
                    assert_eq!(c, before, "{from:?} --{op:?}: a refused transition leaves the charge as it was");
                }
            }
        }
    }
    // 3 open statuses × 7 transitions open charges take, and pending → overdue.
    assert_eq!(allowed, 3 * 7 + 1);
}

#[test]
fn a_refusal_names_the_status_it_was_refused_from_and_the_one_asked_for() {
    let mut paid = charge(Paid);
    let refused = paid.close(Closing::Cancelled, now()).unwrap_err();
    assert_eq!(refused, IllegalTransition { from: Paid, to: Cancelled });
    assert_eq!(refused.to_string(), "cobrança está paid / charge is paid");
    assert_eq!(charge(Overdue).mark_overdue(now()), Err(IllegalTransition { from: Overdue, to: Overdue }));
}

#[test]
fn transitions_carry_what_they_imply() {
    let mut paid = charge(Overdue);
    paid.settle(now() - Duration::hours(1), dec("103.00"), dec("3.00"), now()).unwrap();
    assert_eq!((paid.paid_at, paid.received, paid.credit), (Some(now() - Duration::hours(1)), dec("103.00"), dec("3.00")));

    let plan = PlanId::parse("plan_9").unwrap();
    let mut renegotiated = charge(Overdue);
    renegotiated.close(Closing::Renegotiated(plan.clone()), now()).unwrap();
    assert_eq!(renegotiated.renegotiated_into, Some(plan));

    let mut postponed = charge(Overdue);
    apply(&mut postponed, Op::PostponeDue).unwrap();
    assert_eq!((postponed.due_date_changes, postponed.due_date.date()), (1, day("2026-12-16")));
}

#[test]
fn a_due_date_already_past_changes_the_date_but_not_the_lateness() {
    let mut c = charge(Overdue);
    let earlier = DueDate::from_stored(day("2026-11-05"));
    assert_eq!(c.change(ChargeChanges { due_date: Some(earlier), ..Default::default() }, now()), Ok(Some(EventKind::ChargeUpdated)));
    assert_eq!((c.status, c.due_date, c.due_date_changes, c.version), (Overdue, earlier, 1, 8));
}

#[test]
fn changes_that_alter_nothing_store_nothing() {
    for from in [Pending, Overdue, PartiallyPaid] {
        let before = charge(from);
        let mut c = before.clone();
        let same = ChargeChanges { amount: Some(before.amount), due_date: Some(before.due_date), description: Some(before.description.clone()) };
        assert_eq!(c.change(same, now()), Ok(None));
        assert_eq!(c.change(ChargeChanges::default(), now()), Ok(None));
        assert_eq!(c, before, "{from:?}: not even the version moves");
    }
    // Closed, even an empty change is refused: a closed charge is not the merchant's to edit.
    assert_eq!(charge(Paid).change(ChargeChanges::default(), now()), Err(IllegalTransition { from: Paid, to: Paid }));
}

#[test]
fn money_given_back_is_never_refused_and_reopens_or_refunds_only_when_all_of_it_went_back() {
    let today = day("2026-11-20");
    let cases = [
        // (status, received after the reversal, status after)
        (Paid, "0", Refunded),
        (Paid, "30", Paid),
        (Refunded, "0", Refunded),
        (PartiallyPaid, "0", Overdue),
        (PartiallyPaid, "10", PartiallyPaid),
        (Cancelled, "0", Cancelled),
        (Expired, "0", Expired),
    ];
    for (from, received, to) in cases {
        for reversal in [Reversal::Refund, Reversal::Chargeback] {
            let before = Charge { received: dec("70.00"), refunded: dec("5.00"), ..charge(from) };
            let mut c = before.clone();
            let event = c.take_back(dec("70.00"), received.parse().unwrap(), reversal, today, now());
            assert_eq!(event, reversal.event());
            assert_eq!(c.status, to, "{from:?} with {received} left");
            assert_eq!((c.received, c.refunded), (received.parse().unwrap(), dec("75.00")));
            assert_eq!((c.version, c.updated_at), (before.version + 1, now()));
        }
    }
    assert_eq!(Reversal::Refund.event(), EventKind::ChargeRefunded);
    assert_eq!(Reversal::Chargeback.event(), EventKind::ChargeChargeback);
    // A partial payment given back before the due date: owed in full, and not late.
    let mut early = Charge { received: Decimal::ONE, ..charge(PartiallyPaid) };
    early.take_back(Decimal::ONE, Decimal::ZERO, Reversal::Refund, day("2026-11-10"), now());
    assert_eq!(early.status, Pending);
}

#[test]
fn a_setup_change_moves_the_version_in_any_status() {
    for from in ALL {
        let mut c = charge(from);
        c.record_setup_change(now());
        assert_eq!((c.status, c.version, c.updated_at), (from, 8, now()));
    }
}

#[test]
fn a_redaction_moves_the_version_but_not_updated_at() {
    let before = charge(Paid);
    let mut c = before.clone();
    c.record_redaction();
    assert_eq!((c.status, c.version, c.updated_at), (Paid, 8, before.updated_at));
}

proptest! {
    /// Over any sequence of transitions, the version counts the accepted ones exactly: none bumps it twice,
    /// none forgets, a refused one does nothing; and once closed, a charge stays closed to all but reversals.
    #[test]
    fn the_version_counts_exactly_the_transitions_that_took(ops in prop::collection::vec(0usize..OPS.len(), 0..24)) {
        let mut c = charge(Pending);
        let mut accepted = 0u64;
        for i in ops {
            let op = OPS[i];
            let before = c.clone();
            let expect = expected(before.status, op);
            match apply(&mut c, op) {
                Ok(event) => {
                    accepted += 1;
                    prop_assert_eq!(Some((c.status, event)), expect);
                }
                Err(_) => {
                    prop_assert_eq!(expect, None);
                    prop_assert_eq!(&c, &before);
                }
            }
            prop_assert!(before.status.is_open() || c.status == before.status);
            prop_assert_eq!(c.version, 7 + accepted);
        }
    }
}

/// The state machine stays the one place: no source outside `charge` sets a charge's status or moves a
/// charge's version by hand (other aggregates keep their own versions, hence the names it looks for).
#[test]
fn no_code_outside_the_charge_sets_its_status_or_version() {
    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let by_hand = ["status: ChargeStatus::", "status = ChargeStatus::", "charge.version + 1", "charge.version += 1", "Charge { version"];
    let mut checked = 0;
    for file in files.iter().filter(|f| !f.starts_with(src.join("domain/charge")) && **f != src.join("domain/charge.rs")) {
        let text = std::fs::read_to_string(file).unwrap();
        // Test modules build charges in any status on purpose.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (n, line) in code.lines().enumerate() {
            let line = line.split("//").next().unwrap_or_default();
            for pattern in by_hand {
                assert!(!line.contains(pattern), "{}:{}: `{pattern}`: go through charge::state", file.display(), n + 1);
            }
        }
        checked += 1;
    }
    assert!(checked > 50, "the sources were not found ({checked} read)");
}
