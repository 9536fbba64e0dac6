//! One behaviour for every store: the in-memory adapter and DynamoDB (on LocalStack) must pass the same suite.
//! The DynamoDB run needs COBRANCA_TABLE and AWS_ENDPOINT_URL (from infra/local/deploy.sh); `make test` sets
//! them and COBRANCA_REQUIRE_AWS=1, which turns a missing environment into a failure instead of a skip.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use cobranca::adapters::dynamodb::DynamoStore;
use cobranca::adapters::memory::MemoryStore;
use cobranca::domain::charge::{Charge, ChargeStatus, Description, DueDate, PaymentMethod};
use cobranca::domain::contact::Email;
use cobranca::domain::customer::{Customer, PersonName};
use cobranca::domain::document::Document;
use cobranca::domain::ids::{ChargeId, CustomerId, MerchantId, PaymentId};
use cobranca::domain::merchant::{ApiKey, Merchant};
use cobranca::domain::money::Money;
use cobranca::domain::notification::{Channel, OutboxEntry};
use cobranca::domain::payment::{LedgerEntry, PaymentOutcome, UnmatchedPayment};
use cobranca::domain::ruler::{self, Action, ReminderState, Ruler};
use cobranca::ports::store::*;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

struct Fixture {
    merchant: Merchant,
    customer: Customer,
    charge: Charge,
}

fn fixture(created: DateTime<Utc>, due: NaiveDate) -> Fixture {
    let merchant = Merchant {
        id: MerchantId::generate(),
        name: "Loja Exemplo Ltda".into(),
        document: Document::parse("11.222.333/0001-81").unwrap(),
        created_at: created,
        mode: cobranca::domain::merchant::Mode::Test,
    };
    let customer = Customer {
        id: CustomerId::generate(),
        merchant_id: merchant.id.clone(),
        name: PersonName::parse("Maria Silva").unwrap(),
        document: Document::parse("529.982.247-25").unwrap(),
        email: Some(Email::parse("maria@example.com").unwrap()),
        phone: None,
        opt_out: Default::default(),
        erased_at: None,
        address: None,
        created_at: created,
    };
    let charge = Charge {
        id: ChargeId::generate(),
        merchant_id: merchant.id.clone(),
        customer_id: customer.id.clone(),
        amount: Money::parse("150.00").unwrap(),
        due_date: DueDate::from_stored(due),
        description: Description::parse("Mensalidade").unwrap(),
        payment_methods: vec![PaymentMethod::Pix, PaymentMethod::Boleto],
        max_installments: 1,
        status: ChargeStatus::Pending,
        payment_token: cobranca::domain::charge::new_payment_token(),
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
    };
    Fixture { merchant, customer, charge }
}

fn payment(f: &Fixture, event: &str, provider_payment: &str) -> LedgerEntry {
    LedgerEntry {
        id: PaymentId::generate(),
        merchant_id: f.merchant.id.clone(),
        charge_id: f.charge.id.clone(),
        provider: "cobranca".into(),
        provider_event_id: event.into(),
        provider_payment_id: provider_payment.into(),
        amount: f.charge.amount,
        method: PaymentMethod::Pix,
        paid_at: f.charge.created_at,
        received_at: f.charge.created_at,
        outcome: PaymentOutcome::Settled,
        kind: Default::default(),
        reverses: None,
        wallet_id: None,
        // Stored with the entry and read back whole (the recovery report reads only the ledger).
        preceded_by: Some(cobranca::domain::payment::PrecedingReminder::Reminder {
            reminder_id: "before_due_5d.0.email".into(),
            step: "before_due".into(),
            channel: Channel::Email,
            sent_at: f.charge.created_at,
        }),
    }
}

async fn all_due(store: &dyn Store, day: NaiveDate, until: DateTime<Utc>, charge: &ChargeId) -> Vec<String> {
    let mut out = Vec::new();
    for shard in 0..DUE_SHARDS {
        let bucket = DueBucket { day, shard };
        let mut cursor = None;
        loop {
            let page = store.due_reminders(&bucket, until, 2, cursor).await.unwrap();
            out.extend(page.items.into_iter().filter(|r| &r.charge_id == charge).map(|r| r.id()));
            match page.next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
    }
    out.sort();
    out
}

async fn conformance(store: &dyn Store) {
    // A year far from any other test's data, so a shared table does not disturb the due-index checks.
    let created = Utc.with_ymd_and_hms(2031, 3, 3, 12, 0, 0).unwrap();
    let f = fixture(created, NaiveDate::from_ymd_opt(2031, 3, 20).unwrap());

    // Merchants and API keys.
    let key = ApiKey::generate(cobranca::domain::merchant::Mode::Test);
    store.put_merchant(&f.merchant, &key.hash()).await.unwrap();
    assert_eq!(store.get_merchant(&f.merchant.id).await.unwrap(), Some(f.merchant.clone()));
    assert_eq!(store.merchant_by_key(&key.hash()).await.unwrap(), Some(f.merchant.clone()));
    assert_eq!(store.merchant_by_key(&ApiKey::generate(cobranca::domain::merchant::Mode::Test).hash()).await.unwrap(), None);

    // Customers are scoped by merchant.
    store.put_customer(&f.customer).await.unwrap();
    assert_eq!(store.get_customer(&f.merchant.id, &f.customer.id).await.unwrap(), Some(f.customer.clone()));
    assert_eq!(store.get_customer(&MerchantId::generate(), &f.customer.id).await.unwrap(), None);

    // A charge and its plan are stored together, once.
    let plan = ruler::plan(&f.charge, &f.customer, &Ruler::default(), created);
    store.create_charge(&f.charge, &plan).await.unwrap();
    assert_eq!(store.create_charge(&f.charge, &plan).await, Err(StoreError::Conflict));
    assert_eq!(store.get_charge(&f.merchant.id, &f.charge.id).await.unwrap(), Some(f.charge.clone()));
    assert_eq!(store.get_charge(&MerchantId::generate(), &f.charge.id).await.unwrap(), None);
    assert_eq!(store.charge_owner(&f.charge.id).await.unwrap(), Some(f.merchant.id.clone()));
    assert_eq!(store.charge_owner(&ChargeId::generate()).await.unwrap(), None);
    assert_eq!(store.charges_of_customer(&f.merchant.id, &f.customer.id).await.unwrap(), vec![f.charge.clone()]);
    let mut stored: Vec<String> = store.reminders_of(&f.merchant.id, &f.charge.id).await.unwrap().iter().map(|r| r.id()).collect();
    let mut planned: Vec<String> = plan.iter().map(|r| r.id()).collect();
    stored.sort();
    planned.sort();
    assert_eq!(stored, planned);

    // Open charges of a merchant, page by page.
    let open = store.open_charges(&f.merchant.id, 10, None).await.unwrap();
    assert_eq!(open.items.iter().map(|c| c.id.clone()).collect::<Vec<_>>(), vec![f.charge.id.clone()]);

    // Réguas by scope.
    let scope = RulerScope::Customer(f.merchant.id.clone(), f.customer.id.clone());
    assert_eq!(store.get_ruler(&scope).await.unwrap(), None);
    let mut custom = Ruler::default();
    custom.steps.truncate(2);
    store.put_ruler(&scope, &custom).await.unwrap();
    assert_eq!(store.get_ruler(&scope).await.unwrap(), Some(custom));
    assert_eq!(store.get_ruler(&RulerScope::Merchant(f.merchant.id.clone())).await.unwrap(), None);

    // The frequency cap counts per customer, channel and day.
    let day = NaiveDate::from_ymd_opt(2031, 3, 10).unwrap();
    assert!(store
        .reserve_contact(&f.merchant.id, &f.customer.id, &ContactCounter::ChannelDay { channel: Channel::Email, day }, 2, "m1")
        .await
        .unwrap());
    assert!(store
        .reserve_contact(&f.merchant.id, &f.customer.id, &ContactCounter::ChannelDay { channel: Channel::Email, day }, 2, "m2")
        .await
        .unwrap());
    assert!(!store
        .reserve_contact(&f.merchant.id, &f.customer.id, &ContactCounter::ChannelDay { channel: Channel::Email, day }, 2, "m3")
        .await
        .unwrap());
    assert!(store
        .reserve_contact(&f.merchant.id, &f.customer.id, &ContactCounter::ChannelDay { channel: Channel::Sms, day }, 2, "m4")
        .await
        .unwrap());
    assert!(store
        .reserve_contact(
            &f.merchant.id,
            &f.customer.id,
            &ContactCounter::ChannelDay { channel: Channel::Email, day: day.succ_opt().unwrap() },
            2,
            "m5"
        )
        .await
        .unwrap());
    let week = ContactCounter::AfterDueWeek { week_start: day };
    assert!(store.reserve_contact(&f.merchant.id, &f.customer.id, &week, 1, "m6").await.unwrap());
    assert!(!store.reserve_contact(&f.merchant.id, &f.customer.id, &week, 1, "m7").await.unwrap());
    // The same message counted again (a retry) passes and takes no second place.
    assert!(store.reserve_contact(&f.merchant.id, &f.customer.id, &week, 1, "m6").await.unwrap());
    assert!(store
        .reserve_contact(&f.merchant.id, &f.customer.id, &ContactCounter::ChannelDay { channel: Channel::Email, day }, 2, "m1")
        .await
        .unwrap());
    assert!(!store
        .reserve_contact(&f.merchant.id, &f.customer.id, &ContactCounter::ChannelDay { channel: Channel::Email, day }, 2, "m9")
        .await
        .unwrap());

    // Optimistic concurrency on charges.
    let mut overdue = f.charge.clone();
    overdue.status = ChargeStatus::Overdue;
    overdue.version = 2;
    assert_eq!(store.update_charge(&overdue, 5).await, Err(StoreError::Conflict));
    store.update_charge(&overdue, 1).await.unwrap();
    assert_eq!(store.get_charge(&f.merchant.id, &f.charge.id).await.unwrap().unwrap().status, ChargeStatus::Overdue);

    // The due index holds pending reminders at or before the instant asked, page by page.
    let before = plan.iter().find(|r| matches!(r.step, ruler::Step::BeforeDue { .. })).unwrap().clone();
    let at = before.due_at;
    let due_now = all_due(store, at.date_naive(), at, &f.charge.id).await;
    assert!(due_now.contains(&before.id()), "{due_now:?}");
    assert!(all_due(store, at.date_naive(), at - Duration::seconds(1), &f.charge.id).await.iter().all(|id| id != &before.id()));

    // Claims are exclusive; a lease hides the reminder until it expires.
    let lease = at + Duration::minutes(15);
    let queued = ReminderState::Queued { lease_until: lease, attempt: 1 };
    assert!(store.transition_reminder(&before, &["planned", "queued_expired"], queued.clone(), at).await.unwrap());
    assert!(!store.transition_reminder(&before, &["planned", "queued_expired"], queued.clone(), at).await.unwrap());
    assert!(!all_due(store, at.date_naive(), at, &f.charge.id).await.contains(&before.id()));
    assert!(all_due(store, lease.date_naive(), lease, &f.charge.id).await.contains(&before.id()));
    assert!(!store.transition_reminder(&before, &["queued_expired"], queued.clone(), lease - Duration::seconds(1)).await.unwrap());
    let requeued = ReminderState::Queued { lease_until: lease + Duration::minutes(15), attempt: 2 };
    assert!(store.transition_reminder(&before, &["queued_expired"], requeued, lease).await.unwrap());

    // Sending is claimed once; a stale send can be taken over; a sent reminder leaves the index.
    let sending = ReminderState::Sending { since: lease, attempt: 2 };
    assert!(store.transition_reminder(&before, &["queued", "sending_stale"], sending.clone(), lease).await.unwrap());
    assert!(!store.transition_reminder(&before, &["queued", "sending_stale"], sending.clone(), lease + Duration::seconds(30)).await.unwrap());
    assert!(store.transition_reminder(&before, &["queued", "sending_stale"], sending, lease + Duration::minutes(3)).await.unwrap());
    let sent = ReminderState::Sent { at: lease, provider_message_id: "m1".into() };
    assert!(store.transition_reminder(&before, &["sending"], sent.clone(), lease).await.unwrap());
    assert_eq!(store.get_reminder(&f.merchant.id, &f.charge.id, &before.id()).await.unwrap().unwrap().state, sent);
    assert!(!all_due(store, lease.date_naive(), lease + Duration::days(1), &f.charge.id).await.contains(&before.id()));

    // A transition may move a reminder in time; the due index follows.
    let on_due = plan.iter().find(|r| r.step == ruler::Step::OnDue).unwrap().clone();
    let moved = cobranca::domain::ruler::Reminder { due_at: on_due.due_at + Duration::days(1), ..on_due.clone() };
    assert!(store.transition_reminder(&moved, &["planned"], ReminderState::Planned, at).await.unwrap());
    assert_eq!(store.get_reminder(&f.merchant.id, &f.charge.id, &on_due.id()).await.unwrap().unwrap().due_at, moved.due_at);
    assert!(!all_due(store, on_due.due_at.date_naive(), on_due.due_at, &f.charge.id).await.contains(&on_due.id()));
    assert!(all_due(store, moved.due_at.date_naive(), moved.due_at, &f.charge.id).await.contains(&on_due.id()));

    // Adding a reminder is idempotent.
    let receipt = ruler::payment_receipt(&f.charge, &f.customer, &Ruler::default(), at).remove(0);
    assert_eq!(receipt.action, Action::Notify(Channel::Email));
    assert!(store.add_reminder(&receipt).await.unwrap());
    assert!(!store.add_reminder(&receipt).await.unwrap());

    // Payments: once per provider event and once per provider payment id; the charge update is atomic.
    let p1 = payment(&f, "evt_1", "E1");
    let mut paid = overdue.clone();
    paid.status = ChargeStatus::Paid;
    paid.version = 3;
    assert_eq!(store.append_to_ledger(&p1, Some((&paid, 1))).await, Err(StoreError::Conflict));
    assert!(store.ledger_of(&f.merchant.id, &f.charge.id).await.unwrap().is_empty(), "a failed transaction leaves nothing");
    assert_eq!(store.append_to_ledger(&p1, Some((&paid, 2))).await, Ok(PaymentRecorded::Recorded));
    assert_eq!(store.append_to_ledger(&payment(&f, "evt_1", "E2"), None).await, Ok(PaymentRecorded::Duplicate));
    assert_eq!(store.append_to_ledger(&payment(&f, "evt_2", "E1"), None).await, Ok(PaymentRecorded::Duplicate));
    assert_eq!(store.ledger_of(&f.merchant.id, &f.charge.id).await.unwrap(), vec![p1.clone()]);
    assert_eq!(store.get_charge(&f.merchant.id, &f.charge.id).await.unwrap().unwrap().status, ChargeStatus::Paid);
    assert!(store.open_charges(&f.merchant.id, 10, None).await.unwrap().items.is_empty(), "a paid charge leaves the open index");

    // Unmatched payments are kept once per provider event.
    let provider = format!("test{}", ulid::Ulid::new().to_string().to_lowercase());
    let unmatched = UnmatchedPayment {
        merchant_id: Some(f.merchant.id.clone()),
        kind: Default::default(),
        provider: provider.clone(),
        provider_event_id: "evt_x".into(),
        charge_ref: "chg_nope".into(),
        amount: Money::parse("10.00").unwrap(),
        provider_payment_id: "E9".into(),
        received_at: created,
        raw: "{}".into(),
    };
    assert!(store.put_unmatched(&unmatched).await.unwrap());
    assert!(!store.put_unmatched(&unmatched).await.unwrap());
    assert_eq!(store.unmatched(&provider).await.unwrap(), vec![unmatched.clone()]);

    // The merchant's ledger and unmatched notices by São Paulo day, without a Scan.
    let day = cobranca::domain::calendar::local_date(p1.paid_at);
    assert_eq!(store.ledger_between(&f.merchant.id, day, day).await.unwrap(), vec![p1.clone()]);
    assert_eq!(store.ledger_between(&f.merchant.id, day - Duration::days(40), day - Duration::days(1)).await.unwrap(), vec![]);
    assert_eq!(
        store.ledger_between(&f.merchant.id, day - Duration::days(40), day + Duration::days(40)).await.unwrap().len(),
        1,
        "ranges span months"
    );
    let uday = cobranca::domain::calendar::local_date(created);
    assert_eq!(store.unmatched_of(&f.merchant.id, uday, uday).await.unwrap(), vec![unmatched.clone()]);
    assert!(store.unmatched_of(&MerchantId::generate(), uday, uday).await.unwrap().is_empty());

    // Refunds that arrive before their payment wait, once each.
    let refund = cobranca::domain::payment_notice::PaymentNotice {
        event_id: "evt_r1".into(),
        provider: provider.clone(),
        charge_id: Some(f.charge.id.clone()),
        raw_charge_ref: f.charge.id.to_string(),
        amount: Money::parse("5.00").unwrap(),
        paid_at: created,
        method: PaymentMethod::Pix,
        provider_payment_id: "R1".into(),
        kind: cobranca::domain::payment::EntryKind::Refund,
        reverses: Some("E7".into()),
        merchant_id: None,
    };
    store.add_pending_reversal(&refund).await.unwrap();
    store.add_pending_reversal(&refund).await.unwrap();
    assert_eq!(store.pending_reversals(&provider, "E7").await.unwrap(), vec![refund]);
    assert!(store.pending_reversals(&provider, "E8").await.unwrap().is_empty());

    // Webhook endpoints and their delivery log.
    use cobranca::service::merchant_webhooks::{DeliveryStatus, UrlPolicy, WebhookDelivery, WebhookEndpoint};
    let (endpoint, _) = WebhookEndpoint::create(
        &serde_json::json!({"url": "https://erp.example.com/h", "event_types": ["*"]}),
        &f.merchant.id,
        UrlPolicy::default(),
        created,
    )
    .unwrap();
    store.add_webhook_endpoint(&endpoint).await.unwrap();
    let mut changed = endpoint.clone();
    changed.description = "ERP".into();
    changed.version = 2;
    store.update_webhook_endpoint(&changed, 1).await.unwrap();
    assert_eq!(store.update_webhook_endpoint(&changed, 1).await, Err(StoreError::Conflict));
    assert_eq!(store.webhook_endpoints_of(&f.merchant.id).await.unwrap(), vec![changed.clone()]);
    let delivery = |n: i64| WebhookDelivery {
        id: cobranca::domain::ids::WebhookMessageId::of(&endpoint.id, &format!("evt{n}")),
        merchant_id: f.merchant.id.clone(),
        endpoint_id: endpoint.id.clone(),
        charge_id: f.charge.id.clone(),
        event_id: format!("evt{n}"),
        event_type: "charge.paid".into(),
        payload: "{}".into(),
        status: DeliveryStatus::Pending,
        attempts: vec![],
        round_attempts: 0,
        next_attempt_at: None,
        leased_until: None,
        replays: 0,
        created_at: created + Duration::seconds(n),
        version: 1,
    };
    for n in 0..3 {
        assert!(store.add_webhook_delivery(&delivery(n)).await.unwrap());
    }
    assert!(!store.add_webhook_delivery(&delivery(0)).await.unwrap());
    let first = store.webhook_deliveries_of(&f.merchant.id, &endpoint.id, 2, None).await.unwrap();
    assert_eq!(first.items.iter().map(|d| d.event_id.as_str()).collect::<Vec<_>>(), vec!["evt2", "evt1"], "newest first");
    let rest = store.webhook_deliveries_of(&f.merchant.id, &endpoint.id, 2, first.next).await.unwrap();
    assert_eq!(rest.items.iter().map(|d| d.event_id.as_str()).collect::<Vec<_>>(), vec!["evt0"]);
    // A cursor the store did not issue (clients send it back) is the caller's mistake, not a store failure:
    // schemathesis found `?cursor=L` answered 500.
    for forged in ["L", "{}", r#"{"PK":"x","SK":"y","GSI1PK":"z","GSI1SK":"w"}"#, "-1"] {
        assert_eq!(
            store.webhook_deliveries_of(&f.merchant.id, &endpoint.id, 2, Some(forged.into())).await,
            Err(StoreError::InvalidCursor),
            "{forged}"
        );
    }
    let mut done = delivery(0);
    done.status = DeliveryStatus::Succeeded;
    done.version = 2;
    store.update_webhook_delivery(&done, 1).await.unwrap();
    assert_eq!(store.update_webhook_delivery(&done, 1).await, Err(StoreError::Conflict));
    assert_eq!(store.get_webhook_delivery(&f.merchant.id, &done.id).await.unwrap(), Some(done));
    assert!(store.delete_webhook_endpoint(&f.merchant.id, &endpoint.id).await.unwrap());
    assert!(!store.delete_webhook_endpoint(&f.merchant.id, &endpoint.id).await.unwrap());

    // Idempotency records.
    let m = &f.merchant.id;
    assert_eq!(store.idempotency_begin(m, "k1", "h1", created).await.unwrap(), IdempotencyBegin::Started);
    assert_eq!(store.idempotency_begin(m, "k1", "h1", created).await.unwrap(), IdempotencyBegin::InProgress);
    assert_eq!(store.idempotency_begin(m, "k1", "h2", created).await.unwrap(), IdempotencyBegin::Mismatch);
    let saved = SavedResponse::Created { status: 201, object_id: "chg_1".into() };
    store.idempotency_complete(m, "k1", "h1", &saved, created).await.unwrap();
    assert_eq!(store.idempotency_begin(m, "k1", "h1", created).await.unwrap(), IdempotencyBegin::Replay(saved.clone()));
    assert_eq!(store.idempotency_begin(&MerchantId::generate(), "k1", "h2", created).await.unwrap(), IdempotencyBegin::Started);
    // A key that made an object is kept for good: another body is refused however late, the same is replayed.
    assert_eq!(store.idempotency_begin(m, "k1", "h2", created + Duration::days(400)).await.unwrap(), IdempotencyBegin::Mismatch);
    assert_eq!(store.idempotency_begin(m, "k1", "h1", created + Duration::days(400)).await.unwrap(), IdempotencyBegin::Replay(saved));
    // A refusal is replayed for 24 h; then the key is free (it made nothing).
    let refused = SavedResponse::Refused { status: 422, body: "{\"error\":{}}".into() };
    assert_eq!(store.idempotency_begin(m, "k3", "h1", created).await.unwrap(), IdempotencyBegin::Started);
    store.idempotency_complete(m, "k3", "h1", &refused, created).await.unwrap();
    assert_eq!(store.idempotency_begin(m, "k3", "h1", created + Duration::hours(23)).await.unwrap(), IdempotencyBegin::Replay(refused));
    assert_eq!(store.idempotency_begin(m, "k3", "h2", created + Duration::hours(23)).await.unwrap(), IdempotencyBegin::Mismatch);
    assert_eq!(store.idempotency_begin(m, "k3", "h2", created + Duration::hours(25)).await.unwrap(), IdempotencyBegin::Started);
    assert_eq!(store.idempotency_begin(m, "k2", "h", created).await.unwrap(), IdempotencyBegin::Started);
    store.idempotency_abort(m, "k2").await.unwrap();
    assert_eq!(store.idempotency_begin(m, "k2", "h", created).await.unwrap(), IdempotencyBegin::Started);
    // A first request that died without an answer: the same body may take over once its lease is past, not before,
    // and another body never.
    assert_eq!(store.idempotency_begin(m, "k2", "h", created + Duration::seconds(30)).await.unwrap(), IdempotencyBegin::InProgress);
    assert_eq!(store.idempotency_begin(m, "k2", "other", created + Duration::seconds(90)).await.unwrap(), IdempotencyBegin::Mismatch);
    assert_eq!(store.idempotency_begin(m, "k2", "h", created + Duration::seconds(90)).await.unwrap(), IdempotencyBegin::Started);
    assert_eq!(
        store.idempotency_begin(m, "k2", "h", created + Duration::seconds(100)).await.unwrap(),
        IdempotencyBegin::InProgress,
        "the taker-over holds it now"
    );

    // The watermark only moves forward. (Kept in the past: a shared table's ticks read from it.)
    // Stores keep instants to the millisecond.
    let mark = Utc.timestamp_opt(Utc::now().timestamp() - 3600, 0).unwrap();
    store.advance_tick_watermark(mark).await.unwrap();
    store.advance_tick_watermark(mark - Duration::days(1)).await.unwrap();
    assert!(store.tick_watermark().await.unwrap().unwrap() >= mark);

    // The outbox records a reminder once.
    let entry = OutboxEntry {
        merchant_id: f.merchant.id.clone(),
        charge_id: f.charge.id.clone(),
        reminder_id: before.id(),
        channel: Channel::Email,
        step: "before_due".into(),
        recipient: "maria@example.com".into(),
        subject: "s".into(),
        text: "t".into(),
        sent_at: t("2031-03-15T12:00:00Z"),
        deliveries: 1,
    };
    assert!(store.record_outbox(&entry).await.unwrap());
    assert!(!store.record_outbox(&entry).await.unwrap());
    let recorded: Vec<OutboxEntry> = store.outbox().await.unwrap().into_iter().filter(|e| e.charge_id == f.charge.id).collect();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].deliveries, 2, "a duplicate delivery is counted, not hidden");
    // Erasure rewrites an entry in place, its count kept; an entry never recorded is not made by it.
    store.replace_outbox(&OutboxEntry { recipient: "[dado apagado]".into(), ..entry.clone() }).await.unwrap();
    store.replace_outbox(&OutboxEntry { reminder_id: "never-sent".into(), ..entry.clone() }).await.unwrap();
    let recorded: Vec<OutboxEntry> = store.outbox().await.unwrap().into_iter().filter(|e| e.charge_id == f.charge.id).collect();
    assert_eq!((recorded.len(), recorded[0].recipient.as_str(), recorded[0].deliveries), (1, "[dado apagado]", 2));

    // The payment link finds its charge, and nothing else does.
    let by_token = store.charge_by_payment_token(&f.charge.payment_token).await.unwrap().expect("charge by its link");
    assert_eq!(by_token.id, f.charge.id);
    assert!(store.charge_by_payment_token("not-a-token").await.unwrap().is_none());

    // Wallets: per merchant, in creation order.
    let wallets = cobranca::domain::wallet::Wallet::sandbox_set(&f.merchant.id, Utc::now());
    for w in wallets.iter().rev() {
        store.put_wallet(w).await.unwrap();
    }
    assert_eq!(store.wallets_of(&f.merchant.id).await.unwrap(), wallets);
    assert_eq!(store.get_wallet(&f.merchant.id, &wallets[1].id).await.unwrap().as_ref(), Some(&wallets[1]));
    let stranger = cobranca::domain::ids::MerchantId::generate();
    assert!(store.get_wallet(&stranger, &wallets[1].id).await.unwrap().is_none(), "another merchant's wallet is not found");

    // Boletos lead back to their charge, per bank.
    let nosso = format!("{}", 10_000_000_000_000_000u64 + (f.charge.id.as_str().len() as u64));
    store.link_provider_reference("001", &nosso, &f.merchant.id, &f.charge.id).await.unwrap();
    assert_eq!(store.charge_of_provider_reference("001", &nosso).await.unwrap(), Some((f.merchant.id.clone(), f.charge.id.clone())));
    assert_eq!(store.charge_of_provider_reference("237", &nosso).await.unwrap(), None);

    // Sequences count up from 1, atomically, each on its own.
    let name = format!("test#{}", f.charge.id);
    let counted = futures::future::join_all((0..10).map(|_| store.next_sequence(&name))).await;
    let mut numbers: Vec<u64> = counted.into_iter().map(Result::unwrap).collect();
    numbers.sort();
    assert_eq!(numbers, (1..=10).collect::<Vec<_>>());
    assert_eq!(store.next_sequence(&format!("other#{}", f.charge.id)).await.unwrap(), 1);

    notifications_conform(store, &f).await;
    listings_conform(store).await;
    api_keys_conform(store).await;
    subscriptions_conform(store).await;
    limits_conform(store).await;
    replan_jobs_conform(store).await;
    card_attempts_conform(store).await;
}

/// A queued re-plan per scope (a merchant's, each of its customers'): created once, moved on only from the version
/// read, finished only if unchanged; the scopes' jobs apart, a merchant's listed before its customers'.
async fn replan_jobs_conform(store: &dyn Store) {
    use cobranca::service::schedule::{ReplanJob, ReplanScope};
    let merchant = MerchantId::generate();
    let scope = ReplanScope::Merchant(merchant.clone());
    let job = ReplanJob {
        merchant_id: merchant.clone(),
        customer_id: None,
        requested_at: t("2031-08-01T12:00:00Z"),
        cursor: None,
        charges_done: 0,
        version: 1,
    };
    store.save_replan_job(&job, None).await.unwrap();
    assert_eq!(store.save_replan_job(&job, None).await, Err(StoreError::Conflict));
    assert_eq!(store.get_replan_job(&scope).await.unwrap(), Some(job.clone()));

    let customer = CustomerId::generate();
    let of_customer = ReplanJob { customer_id: Some(customer.clone()), version: 7, ..job.clone() };
    store.save_replan_job(&of_customer, None).await.unwrap();
    assert_eq!(store.get_replan_job(&ReplanScope::Customer(merchant.clone(), customer.clone())).await.unwrap(), Some(of_customer.clone()));
    assert_eq!(store.get_replan_job(&scope).await.unwrap(), Some(job.clone()), "the merchant's job is another item");

    let moved = ReplanJob { cursor: Some("next".into()), charges_done: 100, version: 2, ..job.clone() };
    store.save_replan_job(&moved, Some(1)).await.unwrap();
    assert_eq!(store.save_replan_job(&moved, Some(1)).await, Err(StoreError::Conflict), "a stale writer loses");
    let listed = store.replan_jobs(1_000).await.unwrap();
    let at = |j: &ReplanJob| listed.iter().position(|l| l == j);
    assert!(matches!((at(&moved), at(&of_customer)), (Some(m), Some(c)) if m < c), "{listed:?}");
    assert!(!store.finish_replan_job(&scope, 1).await.unwrap(), "a restarted job is not finished by the old run");
    assert!(store.finish_replan_job(&scope, 2).await.unwrap());
    assert_eq!(store.get_replan_job(&scope).await.unwrap(), None);
    assert!(!store.finish_replan_job(&scope, 2).await.unwrap());
    let customer_scope = of_customer.scope();
    assert!(store.finish_replan_job(&customer_scope, 7).await.unwrap());
    assert_eq!(store.get_replan_job(&customer_scope).await.unwrap(), None);
}

/// DynamoDB's hard limits (100 actions a transaction, 400 KB an item, 2048/1024-byte keys), refused alike by both
/// stores, so an in-memory test cannot hide them; and the largest régua accepted fits them.
async fn limits_conform(store: &dyn Store) {
    use cobranca::adapters::limits::{Limit, MAX_ITEM_BYTES, MAX_PARTITION_KEY_BYTES, MAX_SORT_KEY_BYTES};
    let created = Utc.with_ymd_and_hms(2031, 7, 7, 12, 0, 0).unwrap();
    let f = fixture(created, NaiveDate::from_ymd_opt(2031, 7, 25).unwrap());
    store.put_customer(&f.customer).await.unwrap();

    // A charge under the largest régua accepted is stored whole with every planned reminder.
    let largest = serde_json::json!({"send_time": "09:00", "steps": [
        {"step": "before_due", "days": 3, "channels": ["email", "whatsapp"]},
        {"step": "after_due", "every_days": 1, "max_times": 22, "channels": ["email", "whatsapp", "sms", "voice"]}]});
    let largest = Ruler::parse(&largest).unwrap();
    assert_eq!(largest.message_count(), ruler::MAX_MESSAGES_PER_CHARGE);
    let charge = Charge { expires_at: Some(created + Duration::days(400)), ..f.charge.clone() };
    let plan = ruler::plan(&charge, &f.customer, &largest, created);
    assert_eq!(plan.len(), ruler::MAX_MESSAGES_PER_CHARGE + 2, "every message, the overdue mark and the expiry");
    store.create_charge(&charge, &plan).await.unwrap();
    assert_eq!(store.reminders_of(&f.merchant.id, &charge.id).await.unwrap().len(), plan.len());

    // A transaction of exactly 100 actions (the charge, its owner, its payment link and 97 reminders) is written;
    // one action more and nothing is.
    let repeats = |times: u16| ruler::RulerStep::AfterDue {
        first_after_days: 1,
        every_days: 1,
        max_times: Some(times),
        until_days_overdue: None,
        channels: vec![Channel::Email, Channel::Whatsapp],
    };
    let at_limit = Ruler { steps: vec![repeats(48)], ..largest.clone() };
    let g = Fixture { customer: f.customer.clone(), ..fixture(created, NaiveDate::from_ymd_opt(2031, 7, 25).unwrap()) };
    let plan = ruler::plan(&g.charge, &g.customer, &at_limit, created);
    assert_eq!(plan.len() + 3, 100);
    store.create_charge(&g.charge, &plan).await.unwrap();
    assert_eq!(store.reminders_of(&g.merchant.id, &g.charge.id).await.unwrap().len(), plan.len());
    let over = Ruler { steps: vec![repeats(48), ruler::RulerStep::OnDue { channels: vec![Channel::Email] }], ..largest.clone() };
    let h = fixture(created, NaiveDate::from_ymd_opt(2031, 7, 25).unwrap());
    let plan = ruler::plan(&h.charge, &f.customer, &over, created);
    assert_eq!(plan.len() + 3, 101);
    assert_eq!(store.create_charge(&h.charge, &plan).await, Err(StoreError::LimitExceeded(Limit::TransactionActions)));
    assert_eq!(store.get_charge(&h.merchant.id, &h.charge.id).await.unwrap(), None);
    assert!(store.reminders_of(&h.merchant.id, &h.charge.id).await.unwrap().is_empty());

    // An item of exactly 400 KB (attribute names and values: PK, SK, data) is stored; one byte more is refused.
    let pk_len = format!("MER#{}#DOC", f.merchant.id).len();
    let key = "big";
    let text_len = MAX_ITEM_BYTES - ("PK".len() + pk_len + "SK".len() + key.len() + "data".len() + 2);
    let at_limit = serde_json::Value::String("x".repeat(text_len));
    store.put_merchant_document(&f.merchant.id, key, &at_limit).await.unwrap();
    assert_eq!(store.get_merchant_document(&f.merchant.id, key).await.unwrap(), Some(at_limit));
    let over_limit = serde_json::Value::String("x".repeat(text_len + 1));
    assert_eq!(store.put_merchant_document(&f.merchant.id, "big2", &over_limit).await, Err(StoreError::LimitExceeded(Limit::ItemSize)));
    assert_eq!(store.get_merchant_document(&f.merchant.id, "big2").await.unwrap(), None);

    // Sort keys up to 1024 bytes, partition keys up to 2048; longer ones are refused, on reads too.
    let sk = "k".repeat(MAX_SORT_KEY_BYTES);
    store.put_merchant_document(&f.merchant.id, &sk, &serde_json::json!(1)).await.unwrap();
    assert_eq!(store.get_merchant_document(&f.merchant.id, &sk).await.unwrap(), Some(serde_json::json!(1)));
    let long_sk = "k".repeat(MAX_SORT_KEY_BYTES + 1);
    assert_eq!(store.put_merchant_document(&f.merchant.id, &long_sk, &serde_json::json!(1)).await, Err(StoreError::LimitExceeded(Limit::KeySize)));
    assert_eq!(store.get_merchant_document(&f.merchant.id, &long_sk).await, Err(StoreError::LimitExceeded(Limit::KeySize)));
    let reference = |pk_bytes: usize| "9".repeat(pk_bytes - "REF#001#".len());
    store.link_provider_reference("001", &reference(MAX_PARTITION_KEY_BYTES), &f.merchant.id, &charge.id).await.unwrap();
    assert_eq!(
        store.charge_of_provider_reference("001", &reference(MAX_PARTITION_KEY_BYTES)).await.unwrap(),
        Some((f.merchant.id.clone(), charge.id.clone()))
    );
    let too_long = reference(MAX_PARTITION_KEY_BYTES + 1);
    assert_eq!(store.link_provider_reference("001", &too_long, &f.merchant.id, &charge.id).await, Err(StoreError::LimitExceeded(Limit::KeySize)));
    assert_eq!(store.charge_of_provider_reference("001", &too_long).await, Err(StoreError::LimitExceeded(Limit::KeySize)));
}

/// Every page of a listing, following its cursor; pages of two so the cursor is exercised.
async fn every_charge(store: &dyn Store, merchant: &MerchantId, query: &ChargeQuery) -> Vec<ChargeId> {
    let (mut out, mut cursor) = (Vec::new(), None);
    loop {
        let page = store.list_charges(merchant, query, 2, cursor).await.unwrap();
        out.extend(page.items.into_iter().map(|c| c.id));
        match page.next {
            Some(n) => cursor = Some(n),
            None => return out,
        }
    }
}

/// Charge and customer listings: by due date, filtered by status, customer and due range, paged, per merchant.
async fn listings_conform(store: &dyn Store) {
    let created = Utc.with_ymd_and_hms(2032, 1, 5, 12, 0, 0).unwrap();
    let day = |d: u32| NaiveDate::from_ymd_opt(2032, 2, d).unwrap();
    let f = fixture(created, day(10));
    let other_customer = Customer { id: CustomerId::generate(), ..f.customer.clone() };
    store.put_customer(&f.customer).await.unwrap();
    store.put_customer(&other_customer).await.unwrap();
    // Five charges due on the 12th, 3rd, 20th, 3rd and 28th; the third is paid, the last of the other customer.
    let mut ids = Vec::new();
    for (n, d) in [12, 3, 20, 3, 28].into_iter().enumerate() {
        let charge = Charge {
            id: ChargeId::generate(),
            due_date: DueDate::parse_new(&day(d).to_string(), created).unwrap(),
            status: if n == 2 { ChargeStatus::Paid } else { ChargeStatus::Pending },
            customer_id: if n == 4 { other_customer.id.clone() } else { f.customer.id.clone() },
            payment_token: format!("tok{}", ChargeId::generate()),
            ..f.charge.clone()
        };
        store.create_charge(&charge, &[]).await.unwrap();
        ids.push(charge.id);
    }
    let all = ChargeQuery::default();
    let mut by_due = vec![ids[1].clone(), ids[3].clone()];
    by_due.sort();
    by_due.extend([ids[0].clone(), ids[2].clone(), ids[4].clone()]);
    assert_eq!(every_charge(store, &f.merchant.id, &all).await, by_due, "by due date, then id");
    let pending = ChargeQuery { status: Some(ChargeStatus::Pending), ..all.clone() };
    assert!(!every_charge(store, &f.merchant.id, &pending).await.contains(&ids[2]));
    assert_eq!(every_charge(store, &f.merchant.id, &pending).await.len(), 4);
    let range = ChargeQuery { due_from: Some(day(12)), due_to: Some(day(20)), ..all.clone() };
    assert_eq!(every_charge(store, &f.merchant.id, &range).await, vec![ids[0].clone(), ids[2].clone()], "both ends included");
    let of_other = ChargeQuery { customer: Some(other_customer.id.clone()), due_to: Some(day(28)), ..all.clone() };
    assert_eq!(every_charge(store, &f.merchant.id, &of_other).await, vec![ids[4].clone()]);
    assert!(every_charge(store, &MerchantId::generate(), &all).await.is_empty(), "another merchant sees none");
    for forged in ["L", "{}", "bWVt", r#"{"PK":"x","SK":"y","GSI2PK":"z","GSI2SK":"w"}"#] {
        assert_eq!(store.list_charges(&f.merchant.id, &all, 2, Some(forged.into())).await.unwrap_err(), StoreError::InvalidCursor, "{forged}");
    }

    let first = store.list_customers(&f.merchant.id, 1, None).await.unwrap();
    assert_eq!(first.items.len(), 1);
    let second = store.list_customers(&f.merchant.id, 1, first.next.clone()).await.unwrap();
    let mut listed: Vec<CustomerId> = first.items.iter().chain(&second.items).map(|c| c.id.clone()).collect();
    listed.sort();
    let mut expected = vec![f.customer.id.clone(), other_customer.id.clone()];
    expected.sort();
    assert_eq!(listed, expected);
    if let Some(next) = second.next {
        assert!(store.list_customers(&f.merchant.id, 1, Some(next)).await.unwrap().items.is_empty());
    }
    assert!(store.list_customers(&MerchantId::generate(), 10, None).await.unwrap().items.is_empty());
}

/// Notification records, suppression, spend and merchant documents.
async fn notifications_conform(store: &dyn Store, f: &Fixture) {
    use cobranca::domain::tracking::{recipient_key, MessageStatus, NotificationRecord};
    use rust_decimal::Decimal;
    let at = t("2026-12-01T12:00:00Z");
    let reminder = ruler::Reminder {
        merchant_id: f.merchant.id.clone(),
        charge_id: f.charge.id.clone(),
        step: ruler::Step::OnDue,
        occurrence: 0,
        generation: 0,
        action: Action::Notify(Channel::Whatsapp),
        due_at: at,
        state: ReminderState::Planned,
    };
    let mut record = NotificationRecord::new(&reminder, Channel::Whatsapp, at);
    record.version = 1;
    store.save_notification(&record).await.unwrap();
    assert_eq!(store.save_notification(&record).await, Err(StoreError::Conflict), "a new record is created once");
    let stale = record.clone();
    record.advance(MessageStatus::Sent, at, None);
    record.version = 2;
    store.save_notification(&record).await.unwrap();
    let mut lost = stale;
    lost.version = 2;
    assert_eq!(store.save_notification(&lost).await, Err(StoreError::Conflict), "a save based on an old version loses");
    assert_eq!(store.get_notification(&f.merchant.id, &f.charge.id, &reminder.id()).await.unwrap(), Some(record.clone()));
    assert_eq!(store.notifications_of(&f.merchant.id, &f.charge.id).await.unwrap(), vec![record.clone()]);
    let stranger = MerchantId::generate();
    assert!(store.notifications_of(&stranger, &f.charge.id).await.unwrap().is_empty());
    // Reminders and notification records share the charge's partition without mixing.
    assert!(store.reminders_of(&f.merchant.id, &f.charge.id).await.unwrap().iter().all(|r| r.charge_id == f.charge.id));

    let key = recipient_key(Channel::Email, "maria@example.com");
    assert_eq!(store.recipient_suppressed(&f.merchant.id, &key).await.unwrap(), None);
    store.suppress_recipient(&f.merchant.id, &key, "bounced").await.unwrap();
    assert_eq!(store.recipient_suppressed(&f.merchant.id, &key).await.unwrap().as_deref(), Some("bounced"));
    assert_eq!(store.recipient_suppressed(&stranger, &key).await.unwrap(), None);

    // Spend: units are paid once, however many messages share them and however concurrently.
    let month = format!("2026-12-{}", f.charge.id);
    let price = Decimal::new(99, 2);
    let unit = format!("email_sms#{}", f.charge.id);
    let message = |n: usize| format!("{}/m{n}", f.charge.id);
    let emails: Vec<String> = (0..4).map(message).collect();
    let added =
        futures::future::join_all(emails.iter().map(|m| store.add_spend(&f.merchant.id, &month, Channel::Email, price, m, Some(&unit)))).await;
    let total: Decimal = added.into_iter().map(Result::unwrap).sum();
    assert_eq!(total, price);
    store.add_spend(&f.merchant.id, &month, Channel::Sms, price, &message(4), Some(&unit)).await.unwrap();
    for n in 5..8 {
        assert_eq!(
            store.add_spend(&f.merchant.id, &month, Channel::Whatsapp, Decimal::new(55, 2), &message(n), None).await.unwrap(),
            Decimal::new(55, 2)
        );
    }
    // The same message counted again (a redelivered send) changes nothing.
    assert_eq!(store.add_spend(&f.merchant.id, &month, Channel::Whatsapp, Decimal::new(55, 2), &message(7), None).await.unwrap(), Decimal::ZERO);
    assert_eq!(store.add_spend(&f.merchant.id, &month, Channel::Email, price, &message(0), Some(&unit)).await.unwrap(), Decimal::ZERO);
    let spend = store.spend_of(&f.merchant.id, &month).await.unwrap();
    assert_eq!((spend[&Channel::Email].messages, spend[&Channel::Email].amount), (4, price));
    assert_eq!((spend[&Channel::Sms].messages, spend[&Channel::Sms].amount), (1, Decimal::ZERO));
    assert_eq!((spend[&Channel::Whatsapp].messages, spend[&Channel::Whatsapp].amount), (3, Decimal::new(165, 2)));
    assert!(store.spend_of(&stranger, &month).await.unwrap().is_empty());

    let doc = serde_json::json!({"fallback": ["whatsapp", "email"]});
    store.put_merchant_document(&f.merchant.id, "template#sms#on_due", &doc).await.unwrap();
    store.put_merchant_document(&f.merchant.id, "template#email#on_due", &doc).await.unwrap();
    store.put_merchant_document(&f.merchant.id, "settings", &doc).await.unwrap();
    assert_eq!(store.get_merchant_document(&f.merchant.id, "settings").await.unwrap(), Some(doc.clone()));
    let keys: Vec<String> = store.merchant_documents(&f.merchant.id, "template#").await.unwrap().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["template#email#on_due", "template#sms#on_due"]);
    assert!(store.delete_merchant_document(&f.merchant.id, "template#sms#on_due").await.unwrap());
    assert!(!store.delete_merchant_document(&f.merchant.id, "template#sms#on_due").await.unwrap());
    assert_eq!(store.get_merchant_document(&stranger, "settings").await.unwrap(), None);
}

#[tokio::test]
async fn memory_store_conforms() {
    conformance(&MemoryStore::new()).await;
}

#[tokio::test]
async fn dynamodb_store_conforms() {
    let (Ok(table), Ok(_)) = (std::env::var("COBRANCA_TABLE"), std::env::var("AWS_ENDPOINT_URL")) else {
        assert!(std::env::var("COBRANCA_REQUIRE_AWS").is_err(), "COBRANCA_REQUIRE_AWS is set but COBRANCA_TABLE/AWS_ENDPOINT_URL are not");
        eprintln!("skipped: no COBRANCA_TABLE/AWS_ENDPOINT_URL (run through `make test`)");
        return;
    };
    let aws = cobranca::adapters::config::aws().await;
    conformance(&DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), table)).await;
}

/// API keys: found by hash, listed by merchant, created with a merchant all or nothing, changed only from the
/// version read; rate windows count atomically up to their limit.
async fn api_keys_conform(store: &dyn Store) {
    use cobranca::domain::api_keys::ApiKeyRecord;
    let created = Utc.with_ymd_and_hms(2033, 4, 4, 12, 0, 0).unwrap();
    let f = fixture(created, NaiveDate::from_ymd_opt(2033, 5, 1).unwrap());

    // A merchant registered with a key known by its hash: the key is a record too, and registering again is the same key.
    let legacy = ApiKey::generate(cobranca::domain::merchant::Mode::Test);
    store.put_merchant(&f.merchant, &legacy.hash()).await.unwrap();
    store.put_merchant(&f.merchant, &legacy.hash()).await.unwrap();
    let registered = store.api_key_by_hash(&legacy.hash()).await.unwrap().expect("registered key");
    assert_eq!((&registered.merchant_id, registered.name.as_str(), registered.last4.as_deref()), (&f.merchant.id, "default", None));
    assert_eq!(store.api_keys_of(&f.merchant.id).await.unwrap(), vec![registered.clone()]);

    // create_merchant: once per merchant id, nothing written the second time.
    let other = Merchant { id: MerchantId::generate(), ..f.merchant.clone() };
    let (first, first_secret) = ApiKeyRecord::issue(&other.id, cobranca::domain::merchant::Mode::Test, "first", Some(50), created);
    assert!(store.create_merchant(&other, &first).await.unwrap());
    let (again, again_secret) = ApiKeyRecord::issue(&other.id, cobranca::domain::merchant::Mode::Test, "again", None, created);
    assert!(!store.create_merchant(&other, &again).await.unwrap());
    assert_eq!(store.api_key_by_hash(&again_secret.hash()).await.unwrap(), None);
    assert_eq!(store.api_key_by_hash(&first_secret.hash()).await.unwrap(), Some(first.clone()));
    assert_eq!(store.merchant_by_key(&first_secret.hash()).await.unwrap(), Some(other.clone()));
    assert_eq!(store.get_api_key(&other.id, &first.id).await.unwrap(), Some(first.clone()));
    assert_eq!(store.get_api_key(&f.merchant.id, &first.id).await.unwrap(), None, "another merchant's key is not found");

    // A rotation: the new key and the old key's new state together, from the version read.
    let (second, second_secret) = ApiKeyRecord::issue(&other.id, cobranca::domain::merchant::Mode::Test, "first", Some(50), created);
    let retired = ApiKeyRecord { expires_at: Some(created + Duration::hours(24)), version: 2, ..first.clone() };
    store.add_api_key(&second, Some((&retired, 1))).await.unwrap();
    assert_eq!(store.api_key_by_hash(&first_secret.hash()).await.unwrap(), Some(retired.clone()));
    assert_eq!(store.api_key_by_hash(&second_secret.hash()).await.unwrap(), Some(second.clone()));
    // A stale rotation (version 1 again) writes nothing, the new key neither.
    let (third, third_secret) = ApiKeyRecord::issue(&other.id, cobranca::domain::merchant::Mode::Test, "first", None, created);
    assert_eq!(store.add_api_key(&third, Some((&retired, 1))).await, Err(StoreError::Conflict));
    assert_eq!(store.api_key_by_hash(&third_secret.hash()).await.unwrap(), None);
    // The same key twice is refused.
    assert_eq!(store.add_api_key(&second, None).await, Err(StoreError::Conflict));

    // Revocation, from the version read; a stale one is a conflict.
    let revoked = ApiKeyRecord { revoked_at: Some(created), version: 3, ..retired.clone() };
    store.update_api_key(&revoked, 2).await.unwrap();
    assert_eq!(store.update_api_key(&ApiKeyRecord { version: 3, ..retired.clone() }, 2).await, Err(StoreError::Conflict));
    assert_eq!(store.api_key_by_hash(&first_secret.hash()).await.unwrap(), Some(revoked.clone()));
    let mut listed = store.api_keys_of(&other.id).await.unwrap();
    listed.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(listed, vec![revoked, second.clone()]);

    // Rate windows: counted up to the limit, then refused without counting; each key and window on its own.
    let window = Utc.with_ymd_and_hms(2033, 4, 4, 12, 1, 0).unwrap();
    let counts: Vec<Option<u32>> =
        futures::future::join_all((0..5).map(|_| store.count_request(&second.id, window, 3))).await.into_iter().map(Result::unwrap).collect();
    let mut counted: Vec<u32> = counts.iter().flatten().copied().collect();
    counted.sort();
    assert_eq!((counted, counts.iter().filter(|c| c.is_none()).count()), (vec![1, 2, 3], 2), "concurrent requests: exactly the limit counted");
    assert_eq!(store.count_request(&registered.id, window, 3).await.unwrap(), Some(1));
    assert_eq!(store.count_request(&second.id, window + Duration::seconds(60), 3).await.unwrap(), Some(1));
}

/// Subscriptions: created once, replaced only from the version read, listed per merchant page by page, and in
/// the generation index exactly while they have a charge to generate, by the day it is due.
async fn subscriptions_conform(store: &dyn Store) {
    use cobranca::domain::ids::SubscriptionId;
    use cobranca::domain::recurrence::{Cycle, End, PriceFrom, Subscription, SubscriptionStatus};
    let created = Utc.with_ymd_and_hms(2034, 6, 1, 12, 0, 0).unwrap();
    let merchant = MerchantId::generate();
    let mine = |subs: Vec<Subscription>| subs.into_iter().filter(|s| s.merchant_id == merchant).map(|s| s.id).collect::<Vec<_>>();
    let sub = |day: u32| Subscription {
        id: SubscriptionId::generate(),
        merchant_id: merchant.clone(),
        customer_id: CustomerId::generate(),
        description: "Plano".into(),
        cycle: Cycle::Monthly,
        first_due: NaiveDate::from_ymd_opt(2034, 7, day).unwrap(),
        end: End::AfterCount { count: 2 },
        status: SubscriptionStatus::Active,
        prices: vec![PriceFrom { cycle: 0, amount: Money::parse("49.90").unwrap() }],
        lead_days: 10,
        charge_fields: Default::default(),
        next_cycle: 0,
        paused_reason: None,
        created_at: created,
        updated_at: created,
        version: 1,
    };
    let early = sub(15);
    let late = sub(25);
    store.put_subscription(&early, None).await.unwrap();
    store.put_subscription(&late, None).await.unwrap();
    assert_eq!(store.put_subscription(&early, None).await, Err(StoreError::Conflict));
    assert_eq!(store.get_subscription(&merchant, &early.id).await.unwrap(), Some(early.clone()));
    assert_eq!(store.get_subscription(&MerchantId::generate(), &early.id).await.unwrap(), None);

    // Listed oldest first, a page at a time.
    let first = store.list_subscriptions(&merchant, 1, None).await.unwrap();
    assert_eq!(first.items.iter().map(|s| s.id.clone()).collect::<Vec<_>>(), vec![early.id.clone()]);
    let second = store.list_subscriptions(&merchant, 1, first.next).await.unwrap();
    assert_eq!(second.items.iter().map(|s| s.id.clone()).collect::<Vec<_>>(), vec![late.id.clone()]);
    if let Some(next) = second.next {
        assert!(store.list_subscriptions(&merchant, 1, Some(next)).await.unwrap().items.is_empty());
    }

    // Due for generation from ten days before each due date, earliest first.
    let d = |day: u32| NaiveDate::from_ymd_opt(2034, 7, day).unwrap();
    assert!(mine(store.subscriptions_to_generate(d(4), 1000).await.unwrap()).is_empty());
    assert_eq!(mine(store.subscriptions_to_generate(d(5), 1000).await.unwrap()), vec![early.id.clone()]);
    assert_eq!(mine(store.subscriptions_to_generate(d(20), 1000).await.unwrap()), vec![early.id.clone(), late.id.clone()]);

    // Generated: it moves to its next cycle's day; a stale write changes nothing.
    let mut advanced = early.clone();
    advanced.generated(0);
    advanced.version = 2;
    store.put_subscription(&advanced, Some(1)).await.unwrap();
    assert_eq!(store.put_subscription(&advanced, Some(1)).await, Err(StoreError::Conflict));
    assert_eq!(mine(store.subscriptions_to_generate(d(20), 1000).await.unwrap()), vec![late.id.clone()]);
    let aug = NaiveDate::from_ymd_opt(2034, 8, 5).unwrap();
    assert_eq!(mine(store.subscriptions_to_generate(aug, 1000).await.unwrap()), vec![late.id.clone(), early.id.clone()], "earliest day first");

    // Paused, or with nothing left to generate: out of the index.
    let mut paused = late.clone();
    paused.pause(None, created);
    paused.version = 2;
    store.put_subscription(&paused, Some(1)).await.unwrap();
    let mut done = advanced.clone();
    done.generated(1);
    done.version = 3;
    store.put_subscription(&done, Some(2)).await.unwrap();
    assert!(mine(store.subscriptions_to_generate(NaiveDate::from_ymd_opt(2035, 1, 1).unwrap(), 1000).await.unwrap()).is_empty());
    assert_eq!(store.get_subscription(&merchant, &done.id).await.unwrap(), Some(done));
}

/// Card attempts: the claim is one conditional write, new or from the version read; the loser of a race gets
/// Conflict and nothing it wrote is kept.
async fn card_attempts_conform(store: &dyn Store) {
    use cobranca::domain::card_attempts::CardAttempts;
    let (merchant, charge) = (MerchantId::generate(), ChargeId::generate());
    let now = Utc.with_ymd_and_hms(2034, 6, 1, 12, 0, 0).unwrap();
    assert_eq!(store.get_card_attempts(&merchant, &charge).await.unwrap(), None);
    let none = CardAttempts::none(&merchant, &charge);
    let (first, attempt) = none.begin(now).unwrap();
    let (rival, _) = none.begin(now).unwrap();
    store.put_card_attempts(&first, first.replaces()).await.unwrap();
    assert_eq!(store.put_card_attempts(&rival, rival.replaces()).await, Err(StoreError::Conflict), "a second claim from nothing loses");
    assert_eq!(store.get_card_attempts(&merchant, &charge).await.unwrap(), Some(first.clone()));
    let released = first.end(&attempt).unwrap();
    store.put_card_attempts(&released, released.replaces()).await.unwrap();
    assert_eq!(store.put_card_attempts(&released, released.replaces()).await, Err(StoreError::Conflict), "only from the version read");
    assert_eq!(store.get_card_attempts(&merchant, &charge).await.unwrap(), Some(released));
}
