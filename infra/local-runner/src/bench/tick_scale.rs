//! `local-runner bench tick-scale`: one tick over a large table, its reads and writes counted.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

use super::proxy::*;
/// `tick-scale`: a table seeded with `charges` charges, each with one pending reminder, of which `due` are due
/// now and the rest spread over the next 30 days; then one tick, counted through the proxy.
/// With `dynamodb_endpoint`, the table is created there (a standalone DynamoDB Local, much faster to seed than
/// through LocalStack) from template.yaml's own definition; SQS stays on LocalStack.
pub async fn tick_scale(charges: usize, due: usize, writers: usize, dynamodb_endpoint: Option<String>, template: PathBuf) -> Result<(), BoxError> {
    use cobranca::adapters::dynamodb::DynamoStore;
    use cobranca::adapters::sqs::SqsQueue;
    use cobranca::domain::notification::Channel;
    use cobranca::domain::ruler::{Action, Reminder, ReminderState, Step};

    let (endpoint, table) = match &dynamodb_endpoint {
        Some(e) => {
            let table = format!("cobranca-bench-{}", ulid::Ulid::new().to_string().to_lowercase());
            let ddb = aws_sdk_dynamodb::Client::new(&aws_config::from_env().endpoint_url(e).load().await);
            create_table_from_template(&ddb, &table, &template).await?;
            (e.clone(), table)
        }
        None => (
            std::env::var("AWS_ENDPOINT_URL").map_err(|_| "AWS_ENDPOINT_URL not set")?,
            std::env::var("COBRANCA_TABLE").map_err(|_| "COBRANCA_TABLE not set (make bench loads the bench stack)")?,
        ),
    };
    let ddb_config = aws_config::from_env().endpoint_url(&endpoint).load().await;
    let direct = DynamoStore::new(aws_sdk_dynamodb::Client::new(&ddb_config), table.clone());

    let now = chrono::Utc::now();
    let template = template_charge(now);
    let seed_started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let direct = Arc::new(direct);
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let (next, direct, template) = (next.clone(), direct.clone(), template.clone());
        tasks.push(tokio::spawn(async move {
            const BATCH: usize = 500;
            loop {
                let start = next.fetch_add(BATCH, std::sync::atomic::Ordering::SeqCst);
                if start >= charges {
                    return Ok::<(), cobranca::ports::store::StoreError>(());
                }
                let batch: Vec<_> = (start..(start + BATCH).min(charges))
                    .map(|i| {
                        let mut c = template.clone();
                        c.id = cobranca::domain::ids::ChargeId::generate();
                        // The first `due` are due half a minute ago; the others later, over 30 days.
                        let at = if i < due {
                            now - chrono::Duration::seconds(30)
                        } else {
                            now + chrono::Duration::minutes(1 + (i as i64 * 7919) % (30 * 24 * 60))
                        };
                        let r = Reminder {
                            merchant_id: c.merchant_id.clone(),
                            charge_id: c.id.clone(),
                            step: Step::BeforeDue { days: 5 },
                            occurrence: 0,
                            generation: 0,
                            action: Action::Notify(Channel::Email),
                            due_at: at,
                            state: ReminderState::Planned,
                        };
                        (c, vec![r])
                    })
                    .collect();
                direct.seed_charges(&batch).await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let seeding = seed_started.elapsed();
    println!(
        "seeded {charges} charges ({} items) in {:.0} s ({:.0} items/s, {writers} writers)",
        charges * 2,
        seeding.as_secs_f64(),
        (charges * 2) as f64 / seeding.as_secs_f64()
    );

    // The tick, counted.
    let ddb_proxy = counting_proxy(endpoint).await?;
    let sqs_proxy = counting_proxy(std::env::var("AWS_ENDPOINT_URL").map_err(|_| "AWS_ENDPOINT_URL not set (SQS)")?).await?;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws_config::from_env().endpoint_url(&ddb_proxy.url).load().await), table);
    use cobranca::ports::store::*;
    store.advance_tick_watermark(now - chrono::Duration::minutes(1)).await?;
    ddb_proxy.tally.lock().unwrap_or_else(|p| p.into_inner()).calls.clear();
    let queue = SqsQueue::new(
        aws_sdk_sqs::Client::new(&aws_config::from_env().endpoint_url(&sqs_proxy.url).load().await),
        std::env::var("COBRANCA_NOTIFICATION_QUEUE_URL")?,
        None,
    );
    let events = cobranca::adapters::void::VoidEventBus;
    let started = Instant::now();
    let report = cobranca::service::tick::Tick::new(&store, &queue, &events).run(now, now).await?;
    let took = started.elapsed();
    let mut t = ddb_proxy.tally.lock().unwrap_or_else(|p| p.into_inner()).clone();
    t.calls.extend(sqs_proxy.tally.lock().unwrap_or_else(|p| p.into_inner()).calls.clone());
    let acted = (report.reminders_queued + report.charges_marked_overdue + report.charges_expired).max(1) as f64;
    let sqs_calls = t.calls_of("sqs:");
    // The watermark (one UpdateItem per tick) is not a reminder's write: counted apart.
    let conditional_writes = t.calls_of("dynamodb:PutItem") + t.calls_of("dynamodb:TransactWriteItems");
    let flag = |ok: bool| if ok { "" } else { " **miss**" };
    let reads_ratio = t.items_read as f64 / acted;
    let writes_per = conditional_writes as f64 / acted;
    let sqs_per = sqs_calls as f64 / acted;
    let table_md = format!(
        "| measure | figure | target |\n|---|---|---|\n\
         | charges in the table | {charges} ({due} due) | ≥ 1,000,000 |\n\
         | seeding | {:.0} s, {:.0} items/s | – |\n\
         | tick wall time | {:.2} s | – |\n\
         | items acted on (reminders queued) | {} | – |\n\
         | items read | {} ({reads_ratio:.2} per item acted on){} | ≤ 2× |\n\
         | conditional writes per reminder | {writes_per:.2}{} (+ 1 watermark write per tick) | ≤ 1 |\n\
         | SQS calls per reminder | {sqs_per:.3}{} | ≤ 0.1 |\n\
         | consumed read / write units | {:.1} RCU / {:.1} WCU ({:.3} RCU, {:.3} WCU per reminder) | – |\n\
         | DynamoDB calls | {} | – |\n",
        seeding.as_secs_f64(),
        (charges * 2) as f64 / seeding.as_secs_f64(),
        took.as_secs_f64(),
        acted,
        t.items_read,
        flag(reads_ratio <= 2.0),
        flag(writes_per <= 1.0),
        flag(sqs_per <= 0.1),
        t.read_units,
        t.write_units,
        t.read_units / acted,
        t.write_units / acted,
        t.calls
            .iter()
            .filter(|(k, _)| k.starts_with("dynamodb:"))
            .map(|(k, v)| format!("{} {v}", k.trim_start_matches("dynamodb:")))
            .collect::<Vec<_>>()
            .join(", "),
    );
    println!("Tick at scale:\n\n{table_md}");
    std::fs::create_dir_all("test-output/bench")?;
    std::fs::write("test-output/bench/tick-scale.md", &table_md)?;
    Ok(())
}

fn template_charge(now: chrono::DateTime<chrono::Utc>) -> cobranca::domain::charge::Charge {
    use cobranca::domain::charge::{Charge, Description, DueDate, PaymentMethod};
    Charge::new_pending(
        cobranca::domain::ids::MerchantId::generate(),
        cobranca::domain::ids::CustomerId::generate(),
        cobranca::domain::money::Money::parse("150.00").expect("static"),
        DueDate::from_stored((now + chrono::Duration::days(40)).date_naive()),
        Description::parse("Mensalidade").expect("static"),
        vec![PaymentMethod::Pix],
        now,
    )
}

/// Creates a table as template.yaml's `Table` resource defines it (keys, attribute types, GSIs), so the bench
/// runs on the production layout without a second copy of it.
async fn create_table_from_template(ddb: &aws_sdk_dynamodb::Client, name: &str, template: &Path) -> Result<(), BoxError> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType, ScalarAttributeType,
    };
    // The template uses CloudFormation tags (!Ref, !Sub…); parse it leniently as plain YAML.
    let text = std::fs::read_to_string(template)?;
    let cleaned: String = text
        .lines()
        .map(|l| {
            l.replace(" !Ref ", " ")
                .replace(" !Sub ", " ")
                .replace(" !GetAtt ", " ")
                .replace(" !If ", " ")
                .replace(" !Equals ", " ")
                .replace(" !Not ", " ")
        })
        .collect::<Vec<_>>()
        .join("\n");
    let doc: serde_yaml::Value = serde_yaml::from_str(&cleaned)?;
    let props = &doc["Resources"]["Table"]["Properties"];
    let keys = |v: &serde_yaml::Value| -> Vec<KeySchemaElement> {
        v.as_sequence()
            .into_iter()
            .flatten()
            .filter_map(|k| {
                let kind = if k["KeyType"].as_str() == Some("HASH") { KeyType::Hash } else { KeyType::Range };
                KeySchemaElement::builder().attribute_name(k["AttributeName"].as_str()?).key_type(kind).build().ok()
            })
            .collect()
    };
    let mut request = ddb.create_table().table_name(name).billing_mode(BillingMode::PayPerRequest).set_key_schema(Some(keys(&props["KeySchema"])));
    for a in props["AttributeDefinitions"].as_sequence().into_iter().flatten() {
        let kind = match a["AttributeType"].as_str() {
            Some("N") => ScalarAttributeType::N,
            Some("B") => ScalarAttributeType::B,
            _ => ScalarAttributeType::S,
        };
        request = request.attribute_definitions(
            AttributeDefinition::builder().attribute_name(a["AttributeName"].as_str().unwrap_or_default()).attribute_type(kind).build()?,
        );
    }
    for g in props["GlobalSecondaryIndexes"].as_sequence().into_iter().flatten() {
        let projection =
            Projection::builder().projection_type(ProjectionType::from(g["Projection"]["ProjectionType"].as_str().unwrap_or("ALL"))).build();
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(g["IndexName"].as_str().unwrap_or_default())
                .set_key_schema(Some(keys(&g["KeySchema"])))
                .projection(projection)
                .build()?,
        );
    }
    request.send().await.map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string())?;
    Ok(())
}
