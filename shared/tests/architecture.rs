//! Rules about the code itself: the domain knows no AWS SDK and no adapter, and no float comes near money.

use std::path::{Path, PathBuf};

fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn only_adapters_touch_the_aws_sdk() {
    let adapters = src().join("adapters");
    for file in sources(&src()).into_iter().filter(|f| !f.starts_with(&adapters)) {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains("aws_sdk_") && !text.contains("aws_config"), "{} uses the AWS SDK", file.display());
    }
}

/// The layers below the adapters name no adapter (their tests may use the memory store): a connector's folder
/// depends on the domain, never the other way, which is why the list of channels and institutions names a
/// connector's folder as a bare word that only the adapters' side of the list resolves.
#[test]
fn nothing_below_the_adapters_imports_one() {
    let adapters = src().join("adapters");
    for file in sources(&src()).into_iter().filter(|f| !f.starts_with(&adapters)) {
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (n, line) in code.lines().enumerate() {
            let line = line.split("//").next().unwrap_or_default();
            assert!(
                !line.contains("adapters::") && !line.contains("mod adapters") || file.ends_with("lib.rs"),
                "{}:{}: {line}",
                file.display(),
                n + 1
            );
        }
    }
}

/// DynamoDB's batch calls (BatchWriteItem: 25 requests, BatchGetItem: 100 keys) are unconditional, so the store
/// port has none: every multi-item write is a transaction, whose 100-action limit both stores enforce. This keeps it
/// so — a batch call would be a limit the memory store does not model. The one exception is the load-test seeder,
/// which chunks by `limits::MAX_BATCH_WRITE_ITEMS`.
#[test]
fn no_batch_calls_reach_dynamodb_outside_the_load_test_seeder() {
    for file in sources(&src()) {
        let text = std::fs::read_to_string(&file).unwrap();
        let seeder = text.find("pub async fn seed_charges").map(|start| start..start + text[start..].find("\n    }\n").unwrap_or(0));
        for call in [".batch_write_item()", ".batch_get_item()", ".batch_execute_statement()"] {
            for (at, _) in text.match_indices(call) {
                assert!(
                    seeder.as_ref().is_some_and(|s| s.contains(&at)),
                    "{}: {call} outside the seeder: model its limit in the memory store",
                    file.display()
                );
            }
        }
    }
}

/// Fault injection is for the chaos suite: no function may be built with it.
#[test]
fn no_function_is_built_with_fault_injection() {
    let functions = Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions");
    for entry in std::fs::read_dir(&functions).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&manifest) {
            assert!(!text.contains("faults"), "{} enables fault injection", manifest.display());
        }
    }
    let workspace = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml")).unwrap();
    assert!(!workspace.contains("faults"), "the workspace's cobranca dependency enables fault injection");
}

#[test]
fn no_floats_anywhere_in_the_domain() {
    let roots = [src(), Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions")];
    for file in roots.iter().flat_map(|r| sources(r)) {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            let float = ["f32", "f64"].iter().any(|f| code.split(|c: char| !c.is_alphanumeric() && c != '_').any(|w| w == *f));
            assert!(!float, "{}:{}: {}", file.display(), n + 1, line.trim());
        }
    }
}

/// Every route the merchant API dispatches reaches the API function through API Gateway: the function has one
/// greedy `ANY /v1/{proxy+}` route (one Lambda permission, not one per endpoint — a function's resource policy is
/// capped at 20 KB), and no more specific route of another function takes any of ours.
#[test]
fn every_api_route_reaches_the_api_function() {
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    let lines: Vec<&str> = template.lines().collect();
    // (function, method, path) of every HttpApi event.
    let mut wired = Vec::new();
    let mut function = "";
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("  ") && !line.starts_with("   ") && line.trim_end().ends_with(':') {
            function = line.trim().trim_end_matches(':');
        }
        let trimmed = line.trim();
        if let (Some(path), Some(method)) = (trimmed.strip_prefix("Path: "), lines.get(i + 1).and_then(|l| l.trim().strip_prefix("Method: "))) {
            wired.push((function, method.to_string(), path.to_string()));
        }
    }
    let api: Vec<_> = wired.iter().filter(|(f, _, _)| *f == "CreateChargeFunction").collect();
    assert_eq!(api.len(), 1, "the API function has exactly one route: {api:?}");
    assert_eq!((api[0].1.as_str(), api[0].2.as_str()), ("ANY", "/v1/{proxy+}"));
    let segments = |p: &str| p.trim_matches('/').split('/').map(str::to_string).collect::<Vec<_>>();
    for (method, pattern) in cobranca::http::api::ROUTES {
        // A concrete path of the route: each parameter filled with a sample value.
        let path: Vec<String> = segments(pattern).into_iter().map(|s| if s.starts_with('{') { "x_1".into() } else { s }).collect();
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        for (f, m, p) in wired.iter().filter(|(f, _, p)| *f != "CreateChargeFunction" && !p.ends_with("+}")) {
            let taken = (m == method || m == "ANY") && cobranca::http::api::route_matches(p, &path);
            assert!(!taken, "{method} {pattern} would go to {f} ({m} {p}), not to the API function");
        }
    }
}
