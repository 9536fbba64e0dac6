//! Properties of planning that must hold for any régua, charge and moment.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use cobranca::domain::calendar::{self, ContactHours};
use cobranca::domain::charge::{Charge, ChargeStatus, Description, DueDate, PaymentMethod};
use cobranca::domain::contact::{Email, Phone};
use cobranca::domain::customer::{Customer, OptOut, PersonName};
use cobranca::domain::document::Document;
use cobranca::domain::ids::{ChargeId, CustomerId, MerchantId};
use cobranca::domain::money::Money;
use cobranca::domain::notification::Channel;
use cobranca::domain::ruler::{self, Action, ReminderState, Ruler, RulerStep, Step};
use proptest::prelude::*;

fn channels() -> impl Strategy<Value = Vec<Channel>> {
    prop::sample::subsequence(vec![Channel::Email, Channel::Whatsapp, Channel::Sms, Channel::Voice], 0..=4)
}

fn step() -> impl Strategy<Value = RulerStep> {
    prop_oneof![
        channels().prop_map(|channels| RulerStep::OnCreated { channels }),
        (1u16..=60, channels()).prop_map(|(d, channels)| RulerStep::BeforeDue { days: Some(d), hours: None, channels }),
        (1u16..=96, channels()).prop_map(|(h, channels)| RulerStep::BeforeDue { days: None, hours: Some(h), channels }),
        channels().prop_map(|channels| RulerStep::OnDue { channels }),
        (0u16..=10, 1u16..=30, prop::option::of(1u16..=10), prop::option::of(1u16..=120), channels()).prop_map(
            |(first_after_days, every_days, max_times, until_days_overdue, channels)| RulerStep::AfterDue {
                first_after_days,
                every_days,
                max_times,
                until_days_overdue,
                channels
            }
        ),
        channels().prop_map(|channels| RulerStep::OnPaid { channels }),
    ]
}

fn narrowed() -> impl Strategy<Value = Option<ContactHours>> {
    prop::option::of((8u32..=12, 13u32..=20, prop::option::of((8u32..=10, 11u32..=14))).prop_map(|(o, c, sat)| {
        let hm = |h| chrono::NaiveTime::from_hms_opt(h, 0, 0).unwrap();
        ContactHours { weekdays: (hm(o), hm(c)), saturdays: sat.map(|(so, sc)| (hm(so), hm(sc))) }
    }))
}

fn ruler() -> impl Strategy<Value = Ruler> {
    (prop::collection::vec(step(), 0..6), 6u32..=21, narrowed(), narrowed()).prop_map(|(steps, hour, voice, sms)| {
        // A régua has each step once (the API refuses repeats): keep the first of each.
        let mut seen = std::collections::HashSet::new();
        let steps: Vec<RulerStep> = steps
            .into_iter()
            .filter(|s| {
                let v = serde_json::to_value(s).unwrap();
                seen.insert(format!("{}/{}/{}", v["step"], v["days"], v["hours"]))
            })
            .collect();
        let mut contact_hours = std::collections::BTreeMap::new();
        if let Some(h) = voice {
            contact_hours.insert(Channel::Voice, h);
        }
        if let Some(h) = sms {
            contact_hours.insert(Channel::Sms, h);
        }
        // …and within the documented maximum of messages per charge (the API refuses more): steps are kept while
        // they fit.
        let mut fitting: Vec<RulerStep> = Vec::new();
        for step in steps {
            fitting.push(step);
            let total = Ruler { steps: fitting.clone(), ..Ruler::default() }.message_count();
            if total > cobranca::domain::ruler::MAX_MESSAGES_PER_CHARGE {
                fitting.pop();
            }
        }
        let steps = fitting;
        let r = Ruler {
            steps,
            send_time: chrono::NaiveTime::from_hms_opt(hour, 0, 0).unwrap(),
            contact_hours,
            max_per_week_after_due: None,
            combine_per_customer: false,
        };
        assert!(Ruler::parse(&serde_json::to_value(&r).unwrap()).is_ok(), "generator makes valid réguas: {r:?}");
        r
    })
}

fn customer(with_phone: bool, opt_out: OptOut) -> Customer {
    Customer {
        id: CustomerId::parse("cus_prop").unwrap(),
        merchant_id: MerchantId::parse("mer_prop").unwrap(),
        name: PersonName::parse("Maria Silva").unwrap(),
        document: Document::parse("52998224725").unwrap(),
        email: Some(Email::parse("maria@example.com").unwrap()),
        phone: with_phone.then(|| Phone::parse("+5511987654321").unwrap()),
        address: None,
        opt_out,
        erased_at: None,
        created_at: Utc::now(),
    }
}

fn charge(created: DateTime<Utc>, due: NaiveDate) -> Charge {
    Charge {
        id: ChargeId::parse("chg_prop").unwrap(),
        merchant_id: MerchantId::parse("mer_prop").unwrap(),
        customer_id: CustomerId::parse("cus_prop").unwrap(),
        amount: Money::parse("10.00").unwrap(),
        due_date: DueDate::from_stored(due),
        description: Description::parse("x").unwrap(),
        payment_methods: vec![PaymentMethod::Pix],
        max_installments: 1,
        status: ChargeStatus::Pending,
        payment_token: "t".into(),
        external_reference: None,
        ruler: None,
        due_date_changes: 0,
        late_fees: Default::default(),
        expires_at: None,
        wallet_ids: vec![],
        setup: Default::default(),
        received: Default::default(),
        credit: Default::default(),
        refunded: Default::default(),
        created_at: created,
        updated_at: created,
        paid_at: None,
        renegotiated_into: None,
        origin: Default::default(),
        version: 1,
    }
}

fn inside(hours: ContactHours, at: DateTime<Utc>) -> bool {
    let local = at.with_timezone(&calendar::TIME_ZONE);
    hours.window(local.date_naive()).is_some_and(|(open, close)| local.time() >= open && local.time() < close)
}

prop_compose! {
    fn moment()(minutes in 0i64..(3 * 365 * 24 * 60)) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::minutes(minutes)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn messages_are_never_planned_in_a_closed_window_nor_before_creation(
        r in ruler(), created in moment(), due_in in 0i64..400, phone in any::<bool>()
    ) {
        let due = calendar::local_date(created) + Duration::days(due_in);
        let plan = ruler::plan(&charge(created, due), &customer(phone, OptOut::default()), &r, created);
        for rem in &plan {
            prop_assert!(rem.due_at >= created || rem.step == Step::MarkOverdue, "{rem:?} before creation");
            if let Action::Notify(channel) = rem.action {
                prop_assert!(inside(ContactHours::legal(), rem.due_at), "{rem:?} outside the legal contact hours");
                prop_assert!(inside(r.hours_for(channel), rem.due_at), "{rem:?} outside the merchant's hours for {channel:?}");
            }
        }
    }

    #[test]
    fn planning_is_deterministic_with_unique_ids_and_replanning_is_idempotent(
        r in ruler(), r2 in ruler(), created in moment(), due_in in 0i64..200, later in 0i64..(200 * 24)
    ) {
        let c = charge(created, calendar::local_date(created) + Duration::days(due_in));
        let cust = customer(true, OptOut::default());
        let a = ruler::plan(&c, &cust, &r, created);
        let b = ruler::plan(&c, &cust, &r, created);
        prop_assert_eq!(&a, &b);
        let mut ids: Vec<String> = a.iter().map(|r| r.id()).collect();
        ids.sort();
        let n = ids.len();
        ids.dedup();
        prop_assert_eq!(ids.len(), n, "duplicate reminder ids");

        // Re-planning under another régua later, applied, then re-planning again changes nothing.
        let now = created + Duration::hours(later);
        let new_plan = ruler::plan(&c, &cust, &r2, now);
        let changes = ruler::replan(&a, &new_plan);
        let mut applied: Vec<_> = a.iter().filter(|x| !changes.cancel.iter().any(|c| c.id() == x.id())).cloned().collect();
        for moved in &changes.reschedule {
            if let Some(x) = applied.iter_mut().find(|x| x.id() == moved.id()) { *x = moved.clone(); }
        }
        applied.extend(changes.add.iter().cloned());
        for cancelled in &changes.cancel {
            let mut c = cancelled.clone();
            c.state = ReminderState::Cancelled { reason: "régua changed".into() };
            applied.push(c);
        }
        prop_assert_eq!(ruler::replan(&applied, &new_plan), ruler::Replan::default());
    }

    #[test]
    fn nothing_is_sent_for_a_paid_or_cancelled_charge_but_the_receipt(
        r in ruler(), created in moment(), due_in in 0i64..100, at_h in 0i64..(120 * 24), paid in any::<bool>()
    ) {
        let mut c = charge(created, calendar::local_date(created) + Duration::days(due_in));
        c.status = if paid { ChargeStatus::Paid } else { ChargeStatus::Cancelled };
        for rem in ruler::plan(&c, &customer(true, OptOut::default()), &r, created) {
            let verdict = ruler::still_meaningful(&rem, &c, created + Duration::hours(at_h));
            prop_assert_eq!(verdict.is_ok(), rem.step == Step::OnPaid, "{:?}", rem);
        }
    }

    #[test]
    fn an_opted_out_channel_is_never_planned(r in ruler(), created in moment(), due_in in 1i64..100) {
        let opt_out = OptOut { all: false, channels: vec![Channel::Whatsapp, Channel::Sms] };
        let plan = ruler::plan(&charge(created, calendar::local_date(created) + Duration::days(due_in)), &customer(true, opt_out), &r, created);
        for rem in plan {
            if matches!(rem.action, Action::Notify(Channel::Whatsapp | Channel::Sms)) {
                prop_assert!(!matches!(rem.state, ReminderState::Planned), "{rem:?}");
            }
        }
    }
}

#[test]
fn an_invalid_ruler_is_refused_whole_naming_the_field() {
    let bad = serde_json::json!({"send_time":"09:00","steps":[{"step":"on_due"},{"step":"after_due","every_days":0}]});
    let e = Ruler::parse(&bad).unwrap_err();
    assert_eq!(e.field, "steps[1].every_days");
    let twice = serde_json::json!({"send_time":"09:00","steps":[{"step":"on_due"},{"step":"on_due"}]});
    assert_eq!(Ruler::parse(&twice).unwrap_err().field, "steps[1]");
    let both = serde_json::json!({"send_time":"09:00","steps":[{"step":"before_due","days":3,"hours":4}]});
    assert_eq!(Ruler::parse(&both).unwrap_err().field, "steps[0].days");
    let unknown = serde_json::json!({"send_time":"09:00","steps":[{"step":"on_birthday"}]});
    assert!(Ruler::parse(&unknown).is_err());
}

#[test]
fn contact_hours_may_be_narrowed_but_never_widened() {
    let narrow = serde_json::json!({"send_time":"09:00","steps":[],"contact_hours":{"voice":{"weekdays":["09:00","18:00"],"saturdays":null}}});
    let r = Ruler::parse(&narrow).unwrap();
    assert_eq!(r.hours_for(Channel::Voice).saturdays, None);
    assert_eq!(serde_json::to_value(&r).unwrap(), narrow);
    let wide = serde_json::json!({"send_time":"09:00","steps":[],"contact_hours":{"sms":{"weekdays":["07:00","18:00"],"saturdays":null}}});
    assert_eq!(Ruler::parse(&wide).unwrap_err().field, "contact_hours.sms");
    let late_saturday =
        serde_json::json!({"send_time":"09:00","steps":[],"contact_hours":{"email":{"weekdays":["08:00","20:00"],"saturdays":["08:00","16:00"]}}});
    assert!(Ruler::parse(&late_saturday).is_err());
}

#[test]
fn the_default_ruler_round_trips_through_json() {
    let v = serde_json::to_value(Ruler::default()).unwrap();
    assert_eq!(Ruler::parse(&v).unwrap(), Ruler::default());
    assert_eq!(v["send_time"], "09:00");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn a_plan_never_holds_two_reminders_on_one_channel_and_day(r in ruler(), created in moment(), due_in in 0i64..200) {
        let plan = ruler::plan(&charge(created, calendar::local_date(created) + Duration::days(due_in)), &customer(true, OptOut::default()), &r, created);
        let mut seen = std::collections::HashSet::new();
        for rem in plan.iter().filter(|x| x.step.is_reminder() && x.state == ReminderState::Planned) {
            if let Action::Notify(c) = rem.action {
                prop_assert!(seen.insert((c, calendar::local_date(rem.due_at))), "two reminders on {c:?} on {}", calendar::local_date(rem.due_at));
            }
        }
    }
}
