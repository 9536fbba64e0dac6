//! Rules about the code itself: the domain knows no AWS SDK, and no float comes near money.

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

/// Every route the merchant API dispatches is wired to a function in template.yaml (same method, same shape).
#[test]
fn every_api_route_is_in_the_template() {
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    let shape = |path: &str| path.split('/').map(|s| if s.starts_with('{') { "{}" } else { s }).collect::<Vec<_>>().join("/");
    let mut wired = std::collections::HashSet::new();
    let lines: Vec<&str> = template.lines().map(str::trim).collect();
    for (i, line) in lines.iter().enumerate() {
        if let (Some(path), Some(method)) = (line.strip_prefix("Path: "), lines.get(i + 1).and_then(|l| l.strip_prefix("Method: "))) {
            wired.insert((method.to_string(), shape(path)));
        }
    }
    for (method, pattern) in cobranca::api::ROUTES {
        assert!(wired.contains(&(method.to_string(), shape(pattern))), "{method} {pattern} is not in template.yaml");
    }
}
