//! `zdd heal --config FILE`: which playbook and inventory redeploy each Consul service.
//!
//! ```yaml
//! services:
//!   books-service:                # the checks' ServiceName
//!     playbook: books.yml         # relative to this file
//!     inventory: hosts/prod       # or a list of sources, as -i
//!     hosts: [web1, web2]         # optional: only these (a --limit for the redeploy)
//!     extra_vars: {version: "3"}  # optional, as -e
//! ```
//!
//! Read with zdd's own YAML loader, so a mistake is an error at its file:line with a
//! did-you-mean, before Consul's payload is even looked at.

use crate::error::{did_you_mean, Diagnostic, Error, Location};
use crate::yaml::{kind, to_value, Source, TopLevel};
use indexmap::IndexMap;
use marked_yaml::Node;
use std::path::{Path, PathBuf};

/// How to redeploy one service.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceConfig {
    pub playbook: PathBuf,
    /// Inventory sources, as `-i` takes them (paths made relative to the config's directory).
    pub inventory: Vec<String>,
    /// Host patterns the service runs on (`--limit`); empty: every host the playbook targets.
    pub hosts: Vec<String>,
    /// One `-e` value (a JSON mapping), or none.
    pub extra_vars: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct HealConfig {
    /// By Consul service name, in file order.
    pub services: IndexMap<String, ServiceConfig>,
}

const SERVICE_KEYS: [&str; 4] = ["playbook", "inventory", "hosts", "extra_vars"];

impl HealConfig {
    pub fn load(path: &Path) -> Result<HealConfig, Error> {
        let source = Source::read(path).map_err(Error::invalid)?;
        HealConfig::parse(&source)
    }

    pub fn parse(source: &Source) -> Result<HealConfig, Error> {
        let root = source.parse(TopLevel::Mapping).map_err(Error::invalid)?;
        let base = source.path.parent().unwrap_or(Path::new(""));
        let mut problems = Vec::new();
        let mut config = HealConfig::default();
        let map = root.as_mapping().expect("a mapping: TopLevel::Mapping");
        for (key, value) in map.iter() {
            if key.as_str() != "services" {
                let hint = did_you_mean(key.as_str(), ["services"]).unwrap_or_else(|| {
                    "the file has one key, `services`, a mapping of Consul service names".into()
                });
                problems.push(
                    source
                        .diag(
                            format!("unknown key `{}`", key.as_str()),
                            source.span_location(key.span()),
                        )
                        .hint(hint),
                );
                continue;
            }
            let Some(services) = value.as_mapping() else {
                problems.push(
                    source
                        .diag(
                            format!("`services` must be a mapping, found {}", kind(value)),
                            source.node_location(value),
                        )
                        .hint("write each Consul service name as a key: `services: {books-service: {playbook: ..., inventory: ...}}`"),
                );
                continue;
            };
            for (name, service) in services.iter() {
                let name_at = source.span_location(name.span());
                match parse_service(source, base, name.as_str(), name_at, service) {
                    Ok(s) => {
                        config.services.insert(name.as_str().to_owned(), s);
                    }
                    Err(mut ds) => problems.append(&mut ds),
                }
            }
        }
        if problems.is_empty() && config.services.is_empty() {
            problems.push(
                source
                    .diag("no services to heal", source.location(1, 1))
                    .hint("add `services:` with a playbook and an inventory for each Consul service name"),
            );
        }
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(Error::Invalid(problems))
        }
    }
}

fn parse_service(
    source: &Source,
    base: &Path,
    name: &str,
    name_at: Location,
    node: &Node,
) -> Result<ServiceConfig, Vec<Diagnostic>> {
    let at = |n: &Node| source.node_location(n);
    let Some(map) = node.as_mapping() else {
        return Err(vec![source
            .diag(
                format!("service `{name}` must be a mapping, found {}", kind(node)),
                at(node),
            )
            .hint("give it `playbook:` and `inventory:`")]);
    };
    let mut problems = Vec::new();
    let mut playbook = None;
    let mut inventory = Vec::new();
    let mut hosts = Vec::new();
    let mut extra_vars = None;
    for (key, value) in map.iter() {
        let key_at = source.span_location(key.span());
        match key.as_str() {
            "playbook" => match value.as_scalar().filter(|s| !s.as_str().is_empty()) {
                Some(s) => playbook = Some(base.join(s.as_str())),
                None => problems.push(source.diag(
                    format!(
                        "`playbook` of service `{name}` must be a path, found {}",
                        kind(value)
                    ),
                    at(value),
                )),
            },
            "inventory" => match strings(value) {
                Some(list) => inventory = list.into_iter().map(|s| relative_source(base, &s)).collect(),
                None => problems.push(
                    source
                        .diag(
                            format!(
                                "`inventory` of service `{name}` must be a path or a list of them, found {}",
                                kind(value)
                            ),
                            at(value),
                        )
                        .hint("as `-i` takes them: a file, a directory, a script or `web1,web2,`"),
                ),
            },
            "hosts" => match strings(value) {
                Some(list) => hosts = list,
                None => problems.push(source.diag(
                    format!(
                        "`hosts` of service `{name}` must be a host pattern or a list of them, found {}",
                        kind(value)
                    ),
                    at(value),
                )),
            },
            "extra_vars" => match to_value(value) {
                serde_json::Value::Object(vars) => {
                    extra_vars = Some(serde_json::Value::Object(vars).to_string());
                }
                serde_json::Value::Null => {}
                _ => problems.push(source.diag(
                    format!(
                        "`extra_vars` of service `{name}` must be a mapping, found {}",
                        kind(value)
                    ),
                    at(value),
                )),
            },
            other => {
                let hint = did_you_mean(other, SERVICE_KEYS).unwrap_or_else(|| {
                    format!(
                        "a service has {}",
                        SERVICE_KEYS.map(|k| format!("`{k}`")).join(", ")
                    )
                });
                problems.push(
                    source
                        .diag(format!("unknown key `{other}` in service `{name}`"), key_at)
                        .hint(hint),
                );
            }
        }
    }
    if playbook.is_none() {
        problems.push(
            source
                .diag(format!("service `{name}` has no `playbook`"), name_at.clone())
                .hint("the playbook that redeploys it, relative to this file"),
        );
    }
    if inventory.is_empty() && !map.iter().any(|(k, _)| k.as_str() == "inventory") {
        problems.push(
            source
                .diag(format!("service `{name}` has no `inventory`"), name_at)
                .hint("the inventory its playbook runs with, as `-i` takes it"),
        );
    }
    match playbook {
        Some(playbook) if problems.is_empty() => Ok(ServiceConfig {
            playbook,
            inventory,
            hosts,
            extra_vars,
        }),
        _ => Err(problems),
    }
}

/// A scalar or a list of scalars, as strings.
fn strings(node: &Node) -> Option<Vec<String>> {
    match node {
        Node::Scalar(s) if !s.as_str().is_empty() => Some(vec![s.as_str().to_owned()]),
        Node::Sequence(seq) if !seq.is_empty() => seq
            .iter()
            .map(|n| n.as_scalar().map(|s| s.as_str().to_owned()))
            .collect(),
        _ => None,
    }
}

/// An inventory source relative to the config's directory, unless it is a host list
/// (`web1,web2,`) or absolute.
fn relative_source(base: &Path, source: &str) -> String {
    if source.contains(',') || Path::new(source).is_absolute() {
        source.to_owned()
    } else {
        base.join(source).display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<HealConfig, String> {
        HealConfig::parse(&Source::new("/etc/zdd/heal.yml", text)).map_err(|e| match e {
            Error::Invalid(ds) => ds.iter().map(|d| d.to_string()).collect::<String>(),
            other => other.to_string(),
        })
    }

    #[test]
    fn a_service_with_every_key() {
        let config = parse(
            "services:\n  books-service:\n    playbook: books.yml\n    inventory: [hosts/prod, /srv/extra.ini]\n    hosts: web*\n    extra_vars: {version: 3, color: green}\n  other:\n    playbook: /abs/other.yml\n    inventory: 'web1,web2,'\n",
        )
        .unwrap();
        assert_eq!(config.services.len(), 2);
        let books = &config.services["books-service"];
        assert_eq!(books.playbook, PathBuf::from("/etc/zdd/books.yml"));
        assert_eq!(books.inventory, vec!["/etc/zdd/hosts/prod", "/srv/extra.ini"]);
        assert_eq!(books.hosts, vec!["web*"]);
        assert_eq!(
            books.extra_vars.as_deref(),
            Some(r#"{"version":3,"color":"green"}"#)
        );
        let other = &config.services["other"];
        assert_eq!(other.playbook, PathBuf::from("/abs/other.yml"));
        assert_eq!(other.inventory, vec!["web1,web2,"]);
        assert!(other.hosts.is_empty());
        assert_eq!(other.extra_vars, None);
    }

    #[test]
    fn the_example_config_reads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/consul/heal.yml");
        let config = HealConfig::load(&path).unwrap_or_else(|e| panic!("{}", e.render()));
        let names: Vec<&str> = config.services.keys().map(String::as_str).collect();
        assert_eq!(names, ["books-service", "web"]);
        assert_eq!(
            config.services["books-service"].hosts,
            ["books1", "books2", "books3"]
        );
        assert_eq!(config.services["web"].inventory.len(), 2);
    }

    #[test]
    fn a_misspelt_key_is_named_at_its_line_with_a_suggestion() {
        let err = parse("services:\n  books:\n    playbook: b.yml\n    inventroy: hosts\n").unwrap_err();
        assert_eq!(
            err,
            "error: unknown key `inventroy` in service `books`\n --> /etc/zdd/heal.yml:4:5\n  |\n4 |     inventroy: hosts\n  |     ^\n  = help: did you mean `inventory`?\nerror: service `books` has no `inventory`\n --> /etc/zdd/heal.yml:2:3\n  |\n2 |   books:\n  |   ^\n  = help: the inventory its playbook runs with, as `-i` takes it\n"
        );
    }

    #[test]
    fn wrong_shapes_are_refused_where_they_are() {
        let err = parse("service:\n  books: {}\n").unwrap_err();
        assert!(
            err.starts_with("error: unknown key `service`\n --> /etc/zdd/heal.yml:1:1"),
            "{err}"
        );
        assert!(err.contains("did you mean `services`?"), "{err}");
        let err = parse("services: [books]\n").unwrap_err();
        assert!(
            err.contains("`services` must be a mapping, found a list\n --> /etc/zdd/heal.yml:1:11"),
            "{err}"
        );
        let err = parse("services:\n  books:\n    playbook: b.yml\n    inventory: h\n    extra_vars: [a]\n")
            .unwrap_err();
        assert!(err.contains("`extra_vars` of service `books` must be a mapping, found a list\n --> /etc/zdd/heal.yml:5:17"), "{err}");
        let err = parse("services:\n  books: b.yml\n").unwrap_err();
        assert!(
            err.contains("service `books` must be a mapping, found a scalar\n --> /etc/zdd/heal.yml:2:10"),
            "{err}"
        );
        let err = parse("services: {}\n").unwrap_err();
        assert!(err.contains("no services to heal"), "{err}");
        let err =
            parse("services:\n  books:\n    playbook: b.yml\n  books:\n    playbook: c.yml\n").unwrap_err();
        assert!(err.contains("duplicate key `books`"), "{err}");
    }
}
