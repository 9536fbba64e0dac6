//! Reads what the runner needs from template.yaml, so local routing follows the deployed definition:
//! each function's binary, its HTTP API routes, its SQS batch size, schedule and timeout.

use serde_yaml::Value;

#[derive(Debug, Clone)]
pub struct FunctionDef {
    pub binary: String,
    pub routes: Vec<Route>,
    pub sqs: Option<SqsSource>,
    pub scheduled: bool,
    pub timeout_seconds: u64,
}

/// An SQS event source: the batch size, and the environment variable that holds the queue's URL (the global
/// variable whose value is `!Ref` of the queue the event names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsSource {
    pub batch_size: u32,
    pub queue_url_env: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: String,
    pub path: String,
}

impl Route {
    /// Whether the path ends in a greedy `{name+}` segment.
    pub fn is_greedy(&self) -> bool {
        self.path.ends_with("+}")
    }

    /// Matches an API Gateway path template (`/v1/charges/{id}`, `{proxy+}`) and returns the path parameters.
    pub fn matches(&self, method: &str, path: &str) -> Option<Vec<(String, String)>> {
        if !self.method.eq_ignore_ascii_case(method) && self.method != "ANY" {
            return None;
        }
        let tpl: Vec<&str> = self.path.trim_matches('/').split('/').collect();
        let got: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut params = Vec::new();
        for (i, t) in tpl.iter().enumerate() {
            if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix("+}")) {
                params.push((name.to_string(), got.get(i..)?.join("/")));
                return Some(params);
            }
            let g = got.get(i)?;
            match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                Some(name) if !g.is_empty() => params.push((name.to_string(), g.to_string())),
                Some(_) => return None,
                None if t == g => {}
                None => return None,
            }
        }
        (tpl.len() == got.len()).then_some(params)
    }
}

pub fn functions(template_yaml: &str) -> Result<Vec<FunctionDef>, String> {
    let doc: Value = serde_yaml::from_str(template_yaml).map_err(|e| format!("template.yaml: {e}"))?;
    let global_timeout = doc["Globals"]["Function"]["Timeout"].as_u64().unwrap_or(3);
    let resources = doc["Resources"].as_mapping().ok_or("template.yaml has no Resources")?;
    let global_env = doc["Globals"]["Function"]["Environment"]["Variables"].as_mapping().cloned().unwrap_or_default();
    let mut out = Vec::new();
    for (id, res) in resources {
        if res["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let logical_id = id.as_str().unwrap_or_default().to_string();
        let binary = res["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .ok_or_else(|| format!("{logical_id}: no Metadata.BuildProperties.Binary"))?
            .to_string();
        let mut def = FunctionDef {
            binary,
            routes: Vec::new(),
            sqs: None,
            scheduled: false,
            timeout_seconds: res["Properties"]["Timeout"].as_u64().unwrap_or(global_timeout),
        };
        if let Some(events) = res["Properties"]["Events"].as_mapping() {
            for (_, ev) in events {
                let props = &ev["Properties"];
                match ev["Type"].as_str() {
                    Some("HttpApi") => def.routes.push(Route {
                        method: props["Method"].as_str().unwrap_or("ANY").to_uppercase(),
                        path: props["Path"].as_str().unwrap_or("/").to_string(),
                    }),
                    Some("SQS") => {
                        let queue = tagged(&props["Queue"], "GetAtt")
                            .and_then(|v| v.strip_suffix(".Arn"))
                            .ok_or_else(|| format!("{logical_id}: SQS Queue must be !GetAtt <Queue>.Arn"))?;
                        let queue_url_env = global_env
                            .iter()
                            .find(|(_, v)| tagged(v, "Ref") == Some(queue))
                            .and_then(|(k, _)| k.as_str())
                            .ok_or_else(|| format!("{logical_id}: no global environment variable is !Ref {queue}"))?
                            .to_string();
                        def.sqs = Some(SqsSource { batch_size: props["BatchSize"].as_u64().unwrap_or(10) as u32, queue_url_env });
                    }
                    Some("Schedule") | Some("ScheduleV2") => def.scheduled = true,
                    _ => {}
                }
            }
        }
        out.push(def);
    }
    Ok(out)
}

/// The string under a short-form intrinsic such as `!Ref X` or `!GetAtt X.Arn`.
fn tagged<'v>(v: &'v Value, tag: &str) -> Option<&'v str> {
    match v {
        Value::Tagged(t) if t.tag == tag => t.value.as_str(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_path_parameters() {
        let r = Route { method: "GET".into(), path: "/v1/charges/{id}".into() };
        assert_eq!(r.matches("GET", "/v1/charges/chg_1"), Some(vec![("id".into(), "chg_1".into())]));
        assert_eq!(r.matches("POST", "/v1/charges/chg_1"), None);
        assert_eq!(r.matches("GET", "/v1/charges"), None);
        assert_eq!(r.matches("GET", "/v1/charges/chg_1/x"), None);
    }

    #[test]
    fn matches_a_greedy_path() {
        let r = Route { method: "ANY".into(), path: "/v1/{proxy+}".into() };
        assert_eq!(r.matches("DELETE", "/v1/charges/chg_1"), Some(vec![("proxy".into(), "charges/chg_1".into())]));
        assert!(r.is_greedy());
        assert_eq!(r.matches("GET", "/pay/x"), None);
    }

    #[test]
    fn reads_the_repository_template() {
        let fns = functions(include_str!("../../../template.yaml")).unwrap();
        let names: Vec<&str> = fns.iter().map(|f| f.binary.as_str()).collect();
        for expected in ["create-charge", "payment-webhook", "ruler-tick", "send-notification"] {
            assert!(names.contains(&expected), "{expected} missing from {names:?}");
        }
        let api = fns.iter().find(|f| f.binary == "create-charge").unwrap();
        assert_eq!(api.routes, vec![Route { method: "ANY".into(), path: "/v1/{proxy+}".into() }]);
        let webhook = fns.iter().find(|f| f.binary == "payment-webhook").unwrap();
        assert!(webhook.routes.contains(&Route { method: "POST".into(), path: "/v1/webhooks/{provider}".into() }));
        assert!(fns.iter().any(|f| f.scheduled && f.binary == "ruler-tick"));
        let sqs = |binary: &str| fns.iter().find(|f| f.binary == binary).and_then(|f| f.sqs.clone()).unwrap();
        assert_eq!(sqs("send-notification"), SqsSource { batch_size: 10, queue_url_env: "COBRANCA_NOTIFICATION_QUEUE_URL".into() });
        assert_eq!(sqs("register-payment").queue_url_env, "COBRANCA_PAYMENT_SETUP_QUEUE_URL");
    }
}
