//! Pure planning: which hosts a play runs on, and in which batches.

use crate::inventory::Inventory;
use crate::playbook::{Play, Serial};
use indexmap::IndexSet;

/// The hosts `play` runs on: its pattern, narrowed by `--limit`, in inventory order. (Hosts
/// that fail in an earlier play sit the later ones out; only a run knows those.)
pub fn play_hosts(inventory: &Inventory, play: &Play, limit: Option<&str>) -> Result<Vec<String>, String> {
    let mut hosts = inventory.select(&play.hosts)?;
    if let Some(limit) = limit {
        let allowed: IndexSet<String> = inventory.select(limit)?.into_iter().collect();
        hosts.retain(|h| allowed.contains(h));
    }
    Ok(hosts)
}

/// `serial` as a playbook writes it: `1`, `50%`, `[1, "50%"]`; `None` when not set.
pub fn serial_text(serial: &[Serial]) -> Option<String> {
    let one = |s: &Serial| match s {
        Serial::Count(n) => n.to_string(),
        Serial::Percent(p) => format!("{p}%"),
    };
    match serial {
        [] => None,
        [s] => Some(one(s)),
        many => Some(format!(
            "[{}]",
            many.iter().map(one).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// Split `hosts` into batches as Ansible's `serial` does: each entry is a batch size (a
/// count or a percentage of all the play's hosts, at least 1), the last entry repeats,
/// and an empty list means one batch of everything.
pub fn batches(hosts: &[String], serial: &[Serial]) -> Vec<Vec<String>> {
    if hosts.is_empty() {
        return Vec::new();
    }
    if serial.is_empty() {
        return vec![hosts.to_vec()];
    }
    let total = hosts.len();
    let size_of = |s: &Serial| -> usize {
        let n = match *s {
            Serial::Count(0) => total,
            Serial::Count(n) => n,
            // Ansible truncates: int(total * pct / 100), then at least one.
            Serial::Percent(p) => ((total as f64) * p / 100.0) as usize,
        };
        n.clamp(1, total)
    };
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while start < total {
        let size = size_of(&serial[i.min(serial.len() - 1)]);
        let end = (start + size).min(total);
        out.push(hosts[start..end].to_vec());
        start = end;
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("web{i}")).collect()
    }

    fn sizes(b: &[Vec<String>]) -> Vec<usize> {
        b.iter().map(Vec::len).collect()
    }

    #[test]
    fn play_hosts_follow_the_pattern_narrowed_by_the_limit_in_inventory_order() {
        let inventory = Inventory::from_ini(
            std::path::Path::new("hosts.ini"),
            "[lb]\nlb1\n[web]\nweb3\nweb1\nweb2\n",
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site.yml");
        std::fs::write(&path, "- hosts: web\n  tasks: []\n").unwrap();
        let play = crate::parse::load_playbook(&path).unwrap().plays.remove(0);
        assert_eq!(
            play_hosts(&inventory, &play, None).unwrap(),
            ["web3", "web1", "web2"]
        );
        assert_eq!(
            play_hosts(&inventory, &play, Some("web1:web2:lb1")).unwrap(),
            ["web1", "web2"]
        );
    }

    #[test]
    fn serial_is_shown_as_written() {
        assert_eq!(serial_text(&[]), None);
        assert_eq!(serial_text(&[Serial::Count(1)]).unwrap(), "1");
        assert_eq!(
            serial_text(&[Serial::Count(1), Serial::Percent(50.0)]).unwrap(),
            "[1, 50%]"
        );
    }

    #[test]
    fn no_serial_is_one_batch() {
        assert_eq!(sizes(&batches(&hosts(4), &[])), [4]);
    }

    #[test]
    fn count_splits_in_order() {
        let b = batches(&hosts(5), &[Serial::Count(2)]);
        assert_eq!(sizes(&b), [2, 2, 1]);
        assert_eq!(b[0], ["web1", "web2"]);
        assert_eq!(b[2], ["web5"]);
    }

    #[test]
    fn percent_truncates_but_is_at_least_one() {
        assert_eq!(sizes(&batches(&hosts(4), &[Serial::Percent(50.0)])), [2, 2]);
        assert_eq!(sizes(&batches(&hosts(3), &[Serial::Percent(30.0)])), [1, 1, 1]);
        assert_eq!(
            sizes(&batches(&hosts(10), &[Serial::Percent(25.0)])),
            [2, 2, 2, 2, 2]
        );
    }

    #[test]
    fn list_last_entry_repeats() {
        let b = batches(
            &hosts(10),
            &[Serial::Count(1), Serial::Percent(50.0), Serial::Count(2)],
        );
        assert_eq!(sizes(&b), [1, 5, 2, 2]);
    }

    #[test]
    fn serial_larger_than_hosts_is_one_batch() {
        assert_eq!(sizes(&batches(&hosts(3), &[Serial::Count(10)])), [3]);
        assert!(batches(&[], &[Serial::Count(1)]).is_empty());
    }
}
