//! `import_playbook`: another playbook's plays in place, with the import's `vars` over
//! each play's, its `tags` added, and its `when` on every task (and on fact gathering).

use super::imports::normalize;
use super::task::inherit_tags;
use super::Parser;
use crate::error::{did_you_mean, display_path, Error};
use crate::playbook::{Play, Task};
use crate::vars::VarMap;
use crate::yaml::{MarkedMappingNode, Source};
use std::path::Path;
use std::sync::Arc;

fn playbook_import(key: &str) -> bool {
    matches!(
        key,
        "import_playbook" | "ansible.builtin.import_playbook" | "ansible.legacy.import_playbook"
    )
}

/// The keywords an `import_playbook` entry takes.
const KEYWORDS: &[&str] = &["vars", "when", "tags", "name"];

/// Conditions in front of a task's own, and of every task inside it.
fn prepend_when(task: &mut Task, when: &[String]) {
    let mut all = when.to_vec();
    all.append(&mut task.when);
    task.when = all;
    if let Some(b) = &mut task.block {
        for c in b.tasks.iter_mut().chain(&mut b.rescue).chain(&mut b.always) {
            prepend_when(c, when);
        }
    }
}

impl Parser<'_> {
    /// A playbook entry that imports another playbook (or the removed bare `include`).
    pub(super) fn is_playbook_import(&self, map: &MarkedMappingNode) -> bool {
        map.keys().any(|k| {
            playbook_import(k.as_str()) || matches!(k.as_str(), "include" | "ansible.builtin.include")
        })
    }

    pub(super) fn import_playbook(&mut self, map: &MarkedMappingNode) -> Vec<Play> {
        let errors_before = self.diags.len();
        let mut file = None;
        let mut vars = VarMap::new();
        let mut when: Vec<String> = Vec::new();
        let mut tags: Vec<String> = Vec::new();
        for (key, value) in map.iter() {
            let k = key.as_str();
            let at = self.key_loc(key);
            match k {
                _ if playbook_import(k) => file = self.string(k, value).map(|f| (f, at, self.loc(value))),
                "include" | "ansible.builtin.include" => {
                    self.error(format!("`{k}` was removed in ansible-core 2.16"), at)
                        .hint("use `import_playbook` to run another playbook's plays here");
                }
                "vars" => vars = self.vars(value),
                "when" => when = self.conditions(k, value),
                "tags" => {
                    tags = self
                        .string_list(k, value)
                        .iter()
                        .flat_map(|t| t.split(','))
                        .map(|t| t.trim().to_owned())
                        .filter(|t| !t.is_empty())
                        .collect()
                }
                "name" => {
                    let _ = self.string(k, value);
                }
                _ => {
                    let hint = did_you_mean(k, KEYWORDS.iter().copied())
                        .unwrap_or_else(|| format!("`import_playbook` takes {}", KEYWORDS.join(", ")));
                    self.error(format!("`{k}` is not a keyword of `import_playbook`"), at)
                        .hint(hint);
                }
            }
        }
        let Some((name, at, name_loc)) = file else {
            return Vec::new();
        };
        if self.diags.len() > errors_before {
            return Vec::new();
        }
        if crate::template::Templater::is_template(&name) {
            self.error(
                "a templated `import_playbook` is not supported by zdd yet",
                name_loc,
            )
            .hint("name the playbook file directly");
            return Vec::new();
        }
        // Relative to the playbook that imports it.
        let base = self
            .src
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.origin.playbook_dir.clone());
        let base = std::path::absolute(&base).unwrap_or(base);
        let path = normalize(&base.join(super::imports::expand_home(&name)));
        if !path.is_file() {
            let collection = name.split('.').count() >= 3 && !name.contains('/');
            let hint = if collection {
                "zdd does not support collection playbooks yet: copy the playbook beside this one".to_owned()
            } else {
                format!("looked for {}", display_path(&path))
            };
            self.error(format!("playbook `{name}` not found"), name_loc)
                .hint(hint);
            return Vec::new();
        }
        if let Some(cycle) = self.origin.cycle(&path) {
            self.error(format!("`{}` imports itself: {cycle}", display_path(&path)), at)
                .hint("each playbook can be imported once along a chain of imports");
            return Vec::new();
        }
        let src = match Source::read(&path) {
            Ok(src) => src,
            Err(d) => {
                let chain = self.origin.include(at, &path).locations();
                self.diags.push(d.included_from(&chain));
                return Vec::new();
            }
        };
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut chain = self.origin.include(at, &path);
        chain.playbook_dir = dir.clone();
        chain.role = None;
        let mut p = Parser::new(&src);
        p.origin = Arc::new(chain);
        let mut plays = p.playbook(&dir);
        if let Err(Error::Invalid(ds)) = p.finish() {
            self.diags.extend(ds);
            return Vec::new();
        }
        for play in &mut plays {
            play.vars.extend(vars.clone());
            for tag in &tags {
                if !play.tags.contains(tag) {
                    play.tags.push(tag.clone());
                }
            }
            for task in play
                .pre_tasks
                .iter_mut()
                .chain(&mut play.tasks)
                .chain(&mut play.post_tasks)
            {
                inherit_tags(task, &tags);
                prepend_when(task, &when);
            }
            let mut all = when.clone();
            all.append(&mut play.when);
            play.when = all;
        }
        plays
    }
}
