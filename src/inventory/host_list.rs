//! `-i 'web1,web2:2222,'`: a comma-separated host list, read as Ansible's `host_list`
//! plugin reads it. Each entry is `host` or `host:port` (`[addr]:port` for IPv6); an entry
//! that is not a valid address (a range, a stray character) is kept as the host's name
//! unchanged, as Ansible keeps it. The hosts go to `ungrouped`; a host an earlier source
//! already has is left as it is.

use super::Inventory;
use serde_json::Value;

/// Whether `source` is a host list rather than a path: it names nothing on disk and holds a
/// comma.
pub fn is_host_list(source: &str) -> bool {
    source.contains(',') && !std::path::Path::new(source).exists()
}

/// The hosts of the list, added to `inv`.
pub(super) fn parse_into(inv: &mut Inventory, source: &str) {
    for entry in source.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (host, port) = parse_address(entry).unwrap_or_else(|| (entry.to_owned(), None));
        if inv.hosts.contains_key(&host) {
            continue;
        }
        inv.add_host_to_group(&host, "ungrouped", None);
        let h = inv.ensure_host(&host, None);
        h.source = Some(source.to_owned());
        if let Some(port) = port {
            h.vars.insert("ansible_port".into(), Value::from(port));
        }
    }
}

/// `host`, `host:22`, `[::1]:22`, `10.0.0.1:22`, `fe80::1` -> (host, port); `None` when the
/// entry is not an address Ansible's `parse_address` accepts without ranges.
fn parse_address(entry: &str) -> Option<(String, Option<u64>)> {
    let mut address = entry;
    let mut port = None;
    // As Ansible does: the bracketed form first, then `host:port` on what is left.
    if let Some((inner, p)) = entry
        .strip_prefix('[')
        .and_then(|rest| rest.rsplit_once("]:"))
        .filter(|(inner, p)| !inner.is_empty() && is_port(p))
    {
        address = inner;
        port = Some(p);
    }
    if let Some((host, p)) = address
        .rsplit_once(':')
        .filter(|(h, p)| is_port(p) && !h.contains(':') && balanced_brackets(h))
    {
        address = host;
        port = Some(p);
    }
    let valid = is_ipv4(address) || address.parse::<std::net::Ipv6Addr>().is_ok() || is_hostname(address);
    if !valid || address.contains('[') {
        return None;
    }
    let port = match port {
        Some(p) => Some(p.parse::<u64>().ok()?),
        None => None,
    };
    Some((address.to_owned(), port))
}

fn is_port(p: &str) -> bool {
    !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())
}

/// Every `[` closed by a `]` before the next `[`: Ansible's `hostport` pattern.
fn balanced_brackets(s: &str) -> bool {
    let mut open = false;
    for c in s.chars() {
        match c {
            '[' if open => return false,
            '[' => open = true,
            ']' if !open => return false,
            ']' => open = false,
            _ => {}
        }
    }
    !open
}

fn is_ipv4(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            (1..=3).contains(&p.len())
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

/// Dot-separated labels of word characters and `-`, none ending in `-` or `_`, none
/// starting with `-`.
fn is_hostname(s: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    s.split('.').all(|label| {
        let mut chars = label.chars();
        let (Some(first), Some(last)) = (chars.next(), label.chars().last()) else {
            return false;
        };
        word(first) && label.chars().all(|c| word(c) || c == '-') && last != '-' && last != '_'
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_as_ansible_parses_them() {
        let p = |s: &str| parse_address(s);
        assert_eq!(p("web1"), Some(("web1".into(), None)));
        assert_eq!(p("web1:2222"), Some(("web1".into(), Some(2222))));
        assert_eq!(p("a_b.c-d:22"), Some(("a_b.c-d".into(), Some(22))));
        assert_eq!(p("10.0.0.1"), Some(("10.0.0.1".into(), None)));
        assert_eq!(p("1.2.3.4:5"), Some(("1.2.3.4".into(), Some(5))));
        assert_eq!(p("[::1]:22"), Some(("::1".into(), Some(22))));
        assert_eq!(p("fe80::1"), Some(("fe80::1".into(), None)));
        assert_eq!(p("[web1]:33"), Some(("web1".into(), Some(33))));
        assert_eq!(p("ü.de"), Some(("ü.de".into(), None)));
        // Kept unchanged by the caller, as Ansible keeps them.
        assert_eq!(p("web[1:3]"), None);
        assert_eq!(p("host:bad"), None);
        assert_eq!(p("-x"), None);
        assert_eq!(p("x-"), None);
        assert_eq!(p("a b"), None);
    }

    #[test]
    fn a_list_adds_ungrouped_hosts_with_their_ports_and_skips_known_ones() {
        let mut inv = Inventory::default();
        inv.add_host_to_group("db", "dbs", None);
        parse_into(&mut inv, "web1:2222, web[1:3], db:22,,");
        inv.reconcile();
        assert_eq!(inv.hosts.keys().collect::<Vec<_>>(), ["db", "web1", "web[1:3]"]);
        assert_eq!(inv.groups["ungrouped"].hosts, ["web1", "web[1:3]"]);
        assert_eq!(inv.hosts["web1"].vars["ansible_port"], 2222);
        assert!(!inv.hosts["db"].vars.contains_key("ansible_port"));
        assert_eq!(
            inv.hosts["web1"].source.as_deref(),
            Some("web1:2222, web[1:3], db:22,,")
        );
    }

    #[test]
    fn only_a_comma_string_naming_no_file_is_a_host_list() {
        assert!(is_host_list("web1,"));
        assert!(!is_host_list("hosts.ini"));
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join("a,b");
        std::fs::write(&odd, "").unwrap();
        assert!(!is_host_list(odd.to_str().unwrap()));
    }
}
