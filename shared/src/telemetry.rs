//! Logging set-up shared by every function: JSON lines for CloudWatch, level from RUST_LOG.
//! Spans and fields carry business ids (charge, merchant), never personal data.

pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_target(false)
        .with_current_span(false)
        .without_time() // CloudWatch stamps every line
        .try_init();
}
