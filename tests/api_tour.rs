//! The API tour of docs/api.md is a script (`docs/api-tour.sh`, curl + python3) that runs: here against a freshly
//! spawned stack, checking what it prints; and docs/api.md shows that very script.

use cobranca_e2e::spawn_app;

#[tokio::test]
async fn the_readme_api_tour_runs_against_the_local_stack() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let script = std::fs::read_to_string(root.join("docs/api-tour.sh")).unwrap();
    let readme = std::fs::read_to_string(root.join("docs/api.md")).unwrap();
    let body = script.split_once("\nset -euo pipefail\n").expect("the script's body").1;
    assert!(readme.contains(body.trim()), "docs/api.md's API tour differs from docs/api-tour.sh: paste the script's body into it");

    let Some(app) = spawn_app() else { return };
    let out = tokio::process::Command::new("bash")
        .arg(root.join("docs/api-tour.sh"))
        .env("BASE", &app.url)
        .env("KEY", &app.api_key)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the tour failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    eprintln!("{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("charge chg_") && lines[0].contains("/pay/"), "{stdout}");
    assert!(lines[2].starts_with("chg_") && lines[0].contains(lines[2]), "the listed charge is the one created: {stdout}");
    for expected in ["140.00", "paid", "100.00"] {
        assert!(lines.contains(&expected), "{expected} missing from the tour's output:\n{stdout}");
    }
    // The card payment is the only money received today, and it followed the on_created reminder (or none).
    assert!(stdout.contains("140.00\n"), "{stdout}");
    assert!(stdout.contains("step,"), "the recovery report's CSV header:\n{stdout}");
    // The subscription's next charge is made ten days before it falls due, a month after the first.
    let next_generation = lines.iter().find(|l| l.len() == 10 && l.as_bytes()[4] == b'-' && l.as_bytes()[7] == b'-');
    assert!(next_generation.is_some(), "the subscription's next_generation_date:\n{stdout}");
}
