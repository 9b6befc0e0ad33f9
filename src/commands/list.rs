//! `zdd apply --list-hosts` / `--list-tasks`: what ansible-playbook prints for the same
//! flags, without connecting to anything.

use crate::cli::ApplyArgs;
use crate::error::{exit, Error};
use crate::load::load_valid;
use crate::playbook::{Play, Task};
use crate::runner::tags_select;
use crate::template::Templater;
use indexmap::IndexSet;

/// Print each play's hosts and/or tasks in ansible-playbook's layout.
pub fn list(args: &ApplyArgs) -> Result<i32, Error> {
    let input = load_valid(&args.input, &Templater::new())?;
    let limit: Option<IndexSet<String>> = match &args.input.limit {
        Some(l) => Some(
            input
                .inventory
                .select(l)
                .unwrap_or_default()
                .into_iter()
                .collect(),
        ),
        None => None,
    };
    let mut out = format!("\nplaybook: {}\n", args.input.playbook.display());
    for (i, play) in input.playbook.plays.iter().enumerate() {
        out.push_str(&format!(
            "\n  play #{} ({}): {}\tTAGS: [{}]\n",
            i + 1,
            play.hosts,
            play.display_name(),
            sorted_tags(&play.tags, &[]).join(", ")
        ));
        if args.list_hosts {
            let mut hosts = input.inventory.select(&play.hosts).unwrap_or_default();
            if let Some(allowed) = &limit {
                hosts.retain(|h| allowed.contains(h));
            }
            out.push_str(&format!(
                "    pattern: ['{}']\n    hosts ({}):\n",
                play.hosts,
                hosts.len()
            ));
            for h in hosts {
                out.push_str(&format!("      {h}\n"));
            }
        }
        if args.list_tasks {
            out.push_str("    tasks:\n");
            for task in listed_tasks(play) {
                if tags_select(&task.tags, &args.tags, &args.skip_tags) {
                    let tags = sorted_tags(&task.tags, &play.tags).join(", ");
                    // Ansible lists an unnamed task by its action alone, even in a role.
                    let name = match &task.name {
                        Some(_) => task.display_name(),
                        None => task.module.clone(),
                    };
                    out.push_str(&format!("      {name}\tTAGS: [{tags}]\n"));
                }
            }
        }
    }
    print!("{out}");
    Ok(exit::OK)
}

/// The tasks Ansible lists: pre_tasks, tasks, post_tasks, the main part of blocks
/// (not `rescue` or `always`), no handlers.
fn listed_tasks(play: &Play) -> Vec<&Task> {
    fn walk<'a>(tasks: &'a [Task], out: &mut Vec<&'a Task>) {
        for t in tasks {
            match &t.block {
                Some(b) => walk(&b.tasks, out),
                None => out.push(t),
            }
        }
    }
    let mut out = Vec::new();
    for (_, tasks) in play.sections() {
        walk(tasks, &mut out);
    }
    out
}

fn sorted_tags(a: &[String], b: &[String]) -> Vec<String> {
    let mut tags: Vec<String> = a.iter().chain(b).cloned().collect();
    tags.sort();
    tags.dedup();
    tags
}
