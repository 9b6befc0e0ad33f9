//! The payload of a Consul `checks` watch, as its handler reads it on stdin: a JSON array of
//! health checks (`Node`, `CheckID`, `Name`, `Status`, `Output`, `ServiceID`,
//! `ServiceName`, and fields zdd does not need). Which of them are critical, and what a
//! critical check asks to redeploy: one host (the check's node is an inventory host) or the
//! whole service (a check through the load balancer, on a node the inventory does not know).

use crate::error::{Diagnostic, Location};
use serde::{Deserialize, Deserializer};
use std::path::PathBuf;
use std::sync::Arc;

/// One health check, as Consul reports it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Check {
    #[serde(rename = "Node")]
    pub node: String,
    #[serde(rename = "CheckID", default, deserialize_with = "null_as_empty")]
    pub check_id: String,
    #[serde(rename = "Name", default, deserialize_with = "null_as_empty")]
    pub name: String,
    /// `passing`, `warning`, `critical` or `maintenance`.
    #[serde(rename = "Status")]
    pub status: String,
    #[serde(rename = "Output", default, deserialize_with = "null_as_empty")]
    pub output: String,
    #[serde(rename = "ServiceID", default, deserialize_with = "null_as_empty")]
    pub service_id: String,
    /// Empty for a node check (`serfHealth`).
    #[serde(rename = "ServiceName", default, deserialize_with = "null_as_empty")]
    pub service_name: String,
}

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

impl Check {
    pub fn is_critical(&self) -> bool {
        self.status == "critical"
    }

    /// "web2: Service 'books' check is critical: HTTP GET ...: 502 Bad Gateway", its output
    /// cut to its first line and 120 characters: Consul's output can be a whole HTML page.
    pub fn describe(&self) -> String {
        let name = if self.name.is_empty() {
            &self.check_id
        } else {
            &self.name
        };
        let first = self
            .output
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("");
        let mut output: String = first.chars().take(120).collect();
        if output.len() < first.len() {
            output.push_str("...");
        }
        if output.is_empty() {
            format!("{}: {name} is {}", self.node, self.status)
        } else {
            format!("{}: {name} is {}: {output}", self.node, self.status)
        }
    }
}

/// Read a payload. `origin` names where it came from (`<stdin>` or the file) for the
/// error: serde_json's line and column, the line itself and a caret. An empty array and
/// Consul's `null` (no checks in that state) are no checks.
pub fn parse_payload(text: &str, origin: &str) -> Result<Vec<Check>, Diagnostic> {
    let at =
        |line: usize, col: usize| Location::new(Arc::new(PathBuf::from(origin)), line.max(1), col.max(1));
    if text.trim().is_empty() {
        return Err(
            Diagnostic::new(format!("the Consul watch payload ({origin}) is empty"))
                .at(at(1, 1))
                .hint(HINT),
        );
    }
    match serde_json::from_str::<Option<Vec<Check>>>(text) {
        Ok(checks) => Ok(checks.unwrap_or_default()),
        Err(e) => {
            let line = text.lines().nth(e.line().saturating_sub(1)).unwrap_or_default();
            let message = match e.classify() {
                serde_json::error::Category::Data => {
                    format!(
                        "the Consul watch payload is not a list of checks: {}",
                        strip_position(&e)
                    )
                }
                _ => format!(
                    "the Consul watch payload is not valid JSON: {}",
                    strip_position(&e)
                ),
            };
            Err(Diagnostic::new(message)
                .at(at(e.line(), e.column()))
                .snippet(line)
                .hint(HINT))
        }
    }
}

const HINT: &str = "zdd heal reads what a Consul `checks` watch passes its handler on stdin: a JSON \
                    array of checks with `Node`, `Status`, `CheckID`, `ServiceName`, `Output`";

/// serde_json's message without its " at line L column C" (the location says it).
fn strip_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// What the critical checks of one service ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted {
    /// Hosts to redeploy one at a time (their own check is critical), in payload order.
    pub hosts: Vec<String>,
    /// The whole service is critical: one redeploy of all its hosts instead.
    pub whole_service: bool,
    /// The checks that led here, described (for the reason of the heal).
    pub reasons: Vec<String>,
    /// Critical checks that name nothing zdd can redeploy, described with why.
    pub skipped: Vec<String>,
}

/// A host the playbook can redeploy, and the names Consul may know it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redeployable {
    /// The inventory name.
    pub name: String,
    /// Its `ansible_host`, when set (a Consul node is often named by its address or FQDN).
    pub address: Option<String>,
}

impl Redeployable {
    pub fn named(name: &str) -> Redeployable {
        Redeployable {
            name: name.to_owned(),
            address: None,
        }
    }
}

/// The host a check's node is: the inventory name, else the host whose `ansible_host` it
/// is, else the host named by the node's first label (`web2.dc1.example.com` is `web2`).
pub fn host_of<'a>(node: &str, hosts: &'a [Redeployable]) -> Option<&'a str> {
    let short = node.split('.').next().unwrap_or(node);
    hosts
        .iter()
        .find(|h| h.name == node)
        .or_else(|| hosts.iter().find(|h| h.address.as_deref() == Some(node)))
        .or_else(|| hosts.iter().find(|h| h.name == short))
        .map(|h| h.name.as_str())
}

/// What `critical` checks ask to redeploy, given the hosts the playbook can redeploy
/// (`hosts`, in play order). A check on a node that is one of `hosts` (`host_of`) heals
/// that host; a service check on another node (a check through the load balancer) heals
/// the whole service; a node check on another node is skipped. When every host is
/// critical, the whole service is redeployed at once, as `zdd watch` does.
pub fn wanted(critical: &[&Check], hosts: &[Redeployable]) -> Wanted {
    let mut out = Wanted::default();
    for check in critical {
        if let Some(host) = host_of(&check.node, hosts) {
            if !out.hosts.iter().any(|h| h == host) {
                out.hosts.push(host.to_owned());
            }
            out.reasons.push(with_host(check, host));
        } else if !check.service_name.is_empty() {
            out.whole_service = true;
            out.reasons.push(check.describe());
        } else {
            out.skipped.push(format!(
                "{} (node `{}` is not a host of the playbook, and the check belongs to no service)",
                check.describe(),
                check.node
            ));
        }
    }
    if !hosts.is_empty() && hosts.iter().all(|h| out.hosts.contains(&h.name)) {
        out.whole_service = true;
    }
    if out.whole_service {
        out.hosts.clear();
    }
    out
}

/// The check described under the inventory name of its host ("web2: ..."), with the node's
/// own name when it differs.
fn with_host(check: &Check, host: &str) -> String {
    let text = check.describe();
    if check.node == host {
        return text;
    }
    let rest = text.strip_prefix(&format!("{}: ", check.node)).unwrap_or(&text);
    format!("{host}: {rest} (node {})", check.node)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The payload of the seed's `watchers.log` (a check through nginx on the master).
    const SEED: &str = r#"[{"Node":"swarm-master","CheckID":"service:books-service","Name":"Service 'books-service' check","Status":"critical","Notes":"","Output":"HTTP GET http://10.100.199.200/api/v1/books: 502 Bad Gateway Output: \u003chtml\u003e\r\n\u003chead\u003e\u003ctitle\u003e502 Bad Gateway\u003c/title\u003e\u003c/head\u003e\r\n\u003cbody bgcolor=\"white\"\u003e\r\n\u003ccenter\u003e\u003ch1\u003e502 Bad Gateway\u003c/h1\u003e\u003c/center\u003e\r\n\u003chr\u003e\u003ccenter\u003enginx/1.9.2\u003c/center\u003e\r\n\u003c/body\u003e\r\n\u003c/html\u003e\r\n","ServiceID":"books-service","ServiceName":"books-service"}]"#;

    fn check(node: &str, service: &str, status: &str) -> Check {
        Check {
            node: node.into(),
            check_id: format!("service:{service}"),
            name: format!("Service '{service}' check"),
            status: status.into(),
            output: "connection refused".into(),
            service_id: service.into(),
            service_name: service.into(),
        }
    }

    fn hosts(names: &[&str]) -> Vec<Redeployable> {
        names.iter().map(|s| Redeployable::named(s)).collect()
    }

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_seeds_payload_is_one_critical_service_check() {
        let checks = parse_payload(SEED, "<stdin>").unwrap();
        assert_eq!(checks.len(), 1);
        let c = &checks[0];
        assert!(c.is_critical());
        assert_eq!(c.node, "swarm-master");
        assert_eq!(c.service_name, "books-service");
        assert_eq!(c.check_id, "service:books-service");
        assert_eq!(
            c.describe(),
            "swarm-master: Service 'books-service' check is critical: HTTP GET \
             http://10.100.199.200/api/v1/books: 502 Bad Gateway Output: <html>"
        );
        // Through nginx, on a node the inventory does not list: the whole service.
        let w = wanted(&[c], &hosts(&["web1", "web2"]));
        assert!(w.whole_service);
        assert!(w.hosts.is_empty());
        assert_eq!(w.reasons.len(), 1);
    }

    #[test]
    fn an_empty_list_and_null_are_no_checks() {
        assert_eq!(parse_payload("[]\n", "<stdin>").unwrap(), vec![]);
        assert_eq!(parse_payload("null", "<stdin>").unwrap(), vec![]);
    }

    #[test]
    fn passing_and_warning_checks_are_not_critical() {
        let text = r#"[
  {"Node":"web1","CheckID":"service:web","Name":"web","Status":"passing","Output":"HTTP 200","ServiceID":"web","ServiceName":"web","ServiceTags":null},
  {"Node":"web2","CheckID":"serfHealth","Name":"Serf Health Status","Status":"warning","Output":"","ServiceID":"","ServiceName":""}
]"#;
        let checks = parse_payload(text, "<stdin>").unwrap();
        assert_eq!(checks.len(), 2);
        assert!(checks.iter().all(|c| !c.is_critical()));
        assert_eq!(checks[1].service_name, "");
    }

    #[test]
    fn bad_json_names_its_line_and_column() {
        let text = "[\n  {\"Node\": \"web2\", \"Status\": critical}\n]";
        let d = parse_payload(text, "<stdin>").unwrap_err();
        assert_eq!(d.to_string(), "error: the Consul watch payload is not valid JSON: expected value\n --> <stdin>:2:30\n  |\n2 |   {\"Node\": \"web2\", \"Status\": critical}\n  |                              ^\n  = help: zdd heal reads what a Consul `checks` watch passes its handler on stdin: a JSON array of checks with `Node`, `Status`, `CheckID`, `ServiceName`, `Output`\n");
    }

    #[test]
    fn a_check_without_a_status_or_a_non_list_is_refused_where_it_is() {
        let d = parse_payload("[{\"Node\": \"web2\"}]", "payload.json").unwrap_err();
        assert_eq!(
            d.message,
            "the Consul watch payload is not a list of checks: missing field `Status`"
        );
        assert_eq!(d.location.unwrap().to_string(), "payload.json:1:17");
        let d = parse_payload("{\"Node\": \"web2\"}", "<stdin>").unwrap_err();
        assert!(d.message.contains("expected a sequence"), "{}", d.message);
        let d = parse_payload("  \n", "<stdin>").unwrap_err();
        assert_eq!(d.message, "the Consul watch payload (<stdin>) is empty");
    }

    #[test]
    fn a_critical_host_check_heals_that_host_only() {
        let c = check("web2", "web", "critical");
        let w = wanted(&[&c], &hosts(&["web1", "web2", "web3"]));
        assert_eq!(w.hosts, names(&["web2"]));
        assert!(!w.whole_service);
        assert_eq!(
            w.reasons,
            vec!["web2: Service 'web' check is critical: connection refused"]
        );
    }

    #[test]
    fn every_host_critical_is_one_redeploy_of_the_service() {
        let a = check("web1", "web", "critical");
        let b = check("web2", "web", "critical");
        let b_again = check("web2", "web", "critical");
        let w = wanted(&[&a, &b, &b_again], &hosts(&["web1", "web2"]));
        assert!(w.whole_service);
        assert!(w.hosts.is_empty());
        assert_eq!(w.reasons.len(), 3);
        let w = wanted(&[&a, &b_again], &hosts(&["web1", "web2", "web3"]));
        assert_eq!(w.hosts, names(&["web1", "web2"]));
        assert!(!w.whole_service);
    }

    #[test]
    fn a_node_is_found_by_its_name_its_address_or_its_first_label() {
        let hosts = vec![
            Redeployable {
                name: "web1".into(),
                address: Some("10.0.0.11".into()),
            },
            Redeployable {
                name: "web2".into(),
                address: Some("10.0.0.12".into()),
            },
        ];
        assert_eq!(host_of("web1", &hosts), Some("web1"));
        assert_eq!(host_of("10.0.0.12", &hosts), Some("web2"));
        assert_eq!(host_of("web2.dc1.example.com", &hosts), Some("web2"));
        assert_eq!(host_of("web3", &hosts), None);
        assert_eq!(host_of("10.0.0.13", &hosts), None);
        let c = check("web2.dc1.example.com", "web", "critical");
        let w = wanted(&[&c], &hosts);
        assert_eq!(w.hosts, names(&["web2"]));
        assert_eq!(
            w.reasons,
            vec!["web2: Service 'web' check is critical: connection refused (node web2.dc1.example.com)"]
        );
    }

    #[test]
    fn a_node_check_on_an_unknown_node_is_skipped() {
        let mut c = check("db1", "", "critical");
        c.check_id = "serfHealth".into();
        c.name = "Serf Health Status".into();
        c.service_name.clear();
        let w = wanted(&[&c], &hosts(&["web1"]));
        assert_eq!(w, Wanted {
            skipped: vec!["db1: Serf Health Status is critical: connection refused (node `db1` is not a host of the playbook, and the check belongs to no service)".into()],
            ..Wanted::default()
        });
    }
}
