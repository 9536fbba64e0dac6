//! The payer's page in headless Chromium: runs tests/browser/pay_page.mjs (playwright-core driving Debian's
//! `chromium`) against a local stack spawned here. Screenshots land in test-output/browser/.

use std::path::PathBuf;
use std::process::Command;

use cobranca_e2e::spawn_app;

#[test]
fn the_payment_page_works_in_a_real_browser() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let script = root.join("tests/browser/pay_page.mjs");
    let ready = root.join("tests/browser/node_modules/playwright-core").exists() && std::path::Path::new("/usr/bin/chromium").exists();
    if !ready {
        assert!(
            std::env::var("COBRANCA_REQUIRE_BROWSER").is_err(),
            "COBRANCA_REQUIRE_BROWSER is set but chromium or tests/browser/node_modules is missing (make test installs them)"
        );
        eprintln!("skipped: no /usr/bin/chromium or playwright-core (run through `make test`)");
        return;
    }
    let Some(app) = spawn_app() else { return };
    let output = Command::new("node")
        .arg(&script)
        .current_dir(&root)
        .env("COBRANCA_URL", &app.url)
        .env("COBRANCA_API_KEY", &app.api_key)
        .env("COBRANCA_WEBHOOK_SECRET", &app.webhook_secret)
        .env("OUT_DIR", root.join("test-output/browser"))
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "browser test failed\nstdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("\"ok\":true"), "{stdout}");
    for shot in ["open-mobile.png", "open-desktop.png", "paid-mobile.png", "card-paid-mobile.png"] {
        assert!(root.join("test-output/browser").join(shot).exists(), "{shot} missing");
    }
}
