//! The rollout plan, worked out once before anything runs: each play's hosts (its pattern,
//! narrowed by `--limit`, in its `order`) split into batches by `serial`. `zdd apply` runs
//! it, `zdd plan` draws it, the journal records it, and `zdd status` and `--resume` read it
//! back, so they all agree on which hosts make batch N. Pure: no I/O.

use crate::error::{Diagnostic, Error};
use crate::inventory::Inventory;
use crate::playbook::{Play, Playbook, Serial};
use crate::template::Templater;
use crate::vars::{Context, VarMap};
use indexmap::IndexSet;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// One play of the rollout, as the journal records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlayRollout {
    pub name: String,
    /// The play's hosts in the order they run. (Journals written before this field was
    /// added lack it: their batches say the same.)
    #[serde(default)]
    pub hosts: Vec<String>,
    pub batches: Vec<Vec<String>>,
}

/// Every play's hosts and batches, before the run.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutPlan {
    pub plays: Vec<PlayRollout>,
    pub limit: Option<String>,
    /// Seeds `order: shuffle`, so that the same seed gives the same order (a resumed run
    /// reuses the seed of the run it resumes).
    pub seed: u64,
}

impl RolloutPlan {
    /// Plan every play of `playbook` over `inventory`. A bad host pattern is an error at
    /// the play (or `--limit`) that holds it.
    pub fn new(
        playbook: &Playbook,
        inventory: &Inventory,
        limit: Option<&str>,
        seed: u64,
    ) -> Result<RolloutPlan, Error> {
        if let Some(limit) = limit {
            check_limit(inventory, limit)?;
        }
        let plays = playbook
            .plays
            .iter()
            .map(|play| play_rollout(inventory, play, limit, seed))
            .collect::<Result<_, Error>>()?;
        Ok(RolloutPlan {
            plays,
            limit: limit.map(str::to_owned),
            seed,
        })
    }

    /// The play at a 1-based index.
    pub fn play(&self, index: usize) -> Option<&PlayRollout> {
        self.plays.get(index.checked_sub(1)?)
    }
}

/// Template each play's `hosts:` and its other templated play keywords (`serial`,
/// `gather_facts`, `force_handlers`, `max_fail_percentage`) as Ansible does when a play
/// starts: with the play's vars (`vars_files` included) and `-e`, never host variables.
/// Ansible prints the rendered pattern in the `PLAY [...]` banner, so the play keeps only
/// that. Every command loads the playbook through this, so `zdd plan`, apply, status and
/// resume cut the same batches.
pub fn render_play_keywords(playbook: &mut Playbook, extra_vars: &VarMap) -> Result<(), Error> {
    let templater = Templater::new();
    let extra = Arc::new(extra_vars.clone());
    let mut problems = Vec::new();
    for play in &mut playbook.plays {
        let mut ctx = Context::new();
        ctx.push(Arc::new(play.vars.clone()));
        ctx.push(extra.clone());
        problems.extend(crate::keyword_values::render_play(play, &templater, &ctx));
        if !Templater::is_template(&play.hosts) {
            continue;
        }
        match templater.render_str(&play.hosts, &ctx) {
            Ok(pattern) => play.hosts = pattern,
            Err(e) => problems.push(
                Diagnostic::new(format!("cannot work out the play's `hosts: {}`: {e}", play.hosts))
                    .at(play.loc.clone())
                    .hint("`hosts` may use the play's vars and -e values, not host or group variables"),
            ),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(problems))
    }
}

/// One play's hosts and batches over `inventory`.
pub fn play_rollout(
    inventory: &Inventory,
    play: &Play,
    limit: Option<&str>,
    seed: u64,
) -> Result<PlayRollout, Error> {
    let hosts = play_hosts(inventory, play, limit, seed)?;
    Ok(PlayRollout {
        name: play.display_name().to_owned(),
        batches: batches(&hosts, &play.serial),
        hosts,
    })
}

/// The hosts `play` runs on: its pattern, narrowed by `--limit`, in its `order`. (Hosts
/// that fail in an earlier play sit the later ones out; only a run knows those.)
pub fn play_hosts(
    inventory: &Inventory,
    play: &Play,
    limit: Option<&str>,
    seed: u64,
) -> Result<Vec<String>, Error> {
    let mut hosts = inventory.select(&play.hosts).map_err(|e| {
        Error::invalid(Diagnostic::new(format!("bad host pattern: {e}")).at(play.loc.clone()))
    })?;
    if let Some(limit) = limit {
        let allowed: IndexSet<String> = inventory
            .select(limit)
            .map_err(|e| Error::invalid(Diagnostic::new(format!("bad --limit pattern: {e}"))))?
            .into_iter()
            .collect();
        hosts.retain(|h| allowed.contains(h));
    }
    order_hosts(&mut hosts, play.order.as_deref(), seed);
    Ok(hosts)
}

/// A `--limit` that leaves no host of the inventory is an error, as in ansible-playbook
/// ("leaves us with no hosts to target"): a mistyped host name must not look like a
/// rollout that had nothing to do.
fn check_limit(inventory: &Inventory, limit: &str) -> Result<(), Error> {
    let matched = inventory
        .select(limit)
        .map_err(|e| Error::invalid(Diagnostic::new(format!("bad --limit pattern: {e}"))))?;
    if matched.is_empty() && !inventory.hosts.is_empty() {
        return Err(Error::invalid(
            Diagnostic::new(format!("--limit `{limit}` matches no host of the inventory"))
                .hint("check the host or group name; `zdd plan` lists the hosts of each play"),
        ));
    }
    Ok(())
}

/// Ansible's play `order`: `inventory` (or none), `reverse_inventory`, `sorted`,
/// `reverse_sorted`, `shuffle` (random, but the same for the same seed).
pub fn order_hosts(hosts: &mut [String], order: Option<&str>, seed: u64) {
    match order {
        Some("reverse_inventory") => hosts.reverse(),
        Some("sorted") => hosts.sort(),
        Some("reverse_sorted") => hosts.sort_by(|a, b| b.cmp(a)),
        Some("shuffle") => shuffle(hosts, seed),
        _ => {}
    }
}

/// Fisher-Yates with an xorshift generator: no dependency for one shuffle, and a seed
/// that can be written down.
fn shuffle(hosts: &mut [String], seed: u64) {
    let mut state = seed | 1;
    for i in (1..hosts.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        hosts.swap(i, (state % (i as u64 + 1)) as usize);
    }
}

/// A seed for `order: shuffle` that differs from run to run.
pub fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
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
            play_hosts(&inventory, &play, None, 0).unwrap(),
            ["web3", "web1", "web2"]
        );
        assert_eq!(
            play_hosts(&inventory, &play, Some("web1:web2:lb1"), 0).unwrap(),
            ["web1", "web2"]
        );
    }

    fn plan_of(playbook: &str, inventory: &str, limit: Option<&str>, seed: u64) -> RolloutPlan {
        let inventory = Inventory::from_ini(std::path::Path::new("hosts.ini"), inventory).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site.yml");
        std::fs::write(&path, playbook).unwrap();
        let playbook = crate::parse::load_playbook(&path).unwrap();
        RolloutPlan::new(&playbook, &inventory, limit, seed).unwrap()
    }

    #[test]
    fn every_order_value_orders_the_hosts_before_batching() {
        let inventory = "[web]\nb\nc\na\n";
        let cases = [
            ("inventory", ["b", "c", "a"]),
            ("reverse_inventory", ["a", "c", "b"]),
            ("sorted", ["a", "b", "c"]),
            ("reverse_sorted", ["c", "b", "a"]),
        ];
        for (order, want) in cases {
            let plan = plan_of(
                &format!("- hosts: web\n  order: {order}\n  serial: 1\n  tasks: []\n"),
                inventory,
                None,
                0,
            );
            assert_eq!(plan.plays[0].hosts, want, "order: {order}");
            let batches: Vec<Vec<String>> = want.iter().map(|h| vec![h.to_string()]).collect();
            assert_eq!(plan.plays[0].batches, batches, "order: {order}");
        }
    }

    #[test]
    fn shuffle_is_a_permutation_fixed_by_its_seed() {
        let inventory: String = std::iter::once("[web]\n".to_string())
            .chain((1..=20).map(|i| format!("web{i}\n")))
            .collect();
        let playbook = "- hosts: web\n  order: shuffle\n  serial: 5\n  tasks: []\n";
        let one = plan_of(playbook, &inventory, None, 7);
        let again = plan_of(playbook, &inventory, None, 7);
        let other = plan_of(playbook, &inventory, None, 8);
        assert_eq!(one, again, "the same seed gives the same plan");
        assert_ne!(
            one.plays[0].hosts, other.plays[0].hosts,
            "another seed, another order"
        );
        let mut sorted = one.plays[0].hosts.clone();
        sorted.sort();
        let mut all: Vec<String> = (1..=20).map(|i| format!("web{i}")).collect();
        all.sort();
        assert_eq!(sorted, all, "every host once");
        assert_eq!(one.plays[0].batches.concat(), one.plays[0].hosts);
    }

    #[test]
    fn order_applies_after_the_limit_and_bad_patterns_name_the_play() {
        let plan = plan_of(
            "- hosts: web\n  order: reverse_inventory\n  tasks: []\n",
            "[web]\na\nb\nc\n",
            Some("a:c"),
            0,
        );
        assert_eq!(plan.plays[0].hosts, ["c", "a"]);
        assert_eq!(plan.play(1).unwrap().batches, [["c", "a"]]);
        assert!(plan.play(0).is_none() && plan.play(2).is_none());
        let inventory = Inventory::from_ini(std::path::Path::new("hosts.ini"), "[web]\na\n").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site.yml");
        std::fs::write(&path, "- hosts: web\n  tasks: []\n").unwrap();
        let playbook = crate::parse::load_playbook(&path).unwrap();
        let err = RolloutPlan::new(&playbook, &inventory, Some("~["), 0).unwrap_err();
        assert!(err.render().contains("bad --limit pattern"), "{}", err.render());
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
