//! `zdd plan`: what `apply` would do, worked out without connecting to anything: each
//! play's batches, the tasks of each section with their delegates, the handlers and the
//! tasks that notify them.

use crate::cli::{OutputFormat, PlanArgs};
use crate::error::{exit, Error};
use crate::events::EventSink;
use crate::load::{load_valid, Input};
use crate::plan::{random_seed, PlayRollout, RolloutPlan};
use crate::playbook::{Play, Section, Task};
use crate::runner::{RunOptions, Runner, StopSignal};
use crate::template::Templater;
use indexmap::IndexMap;
use serde::Serialize;
use std::fmt::Write;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlaybookPlan {
    pub playbook: String,
    pub inventory: Option<String>,
    pub limit: Option<String>,
    pub plays: Vec<PlayPlan>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlayPlan {
    /// 1-based.
    pub index: usize,
    pub name: String,
    /// The `hosts:` pattern.
    pub pattern: String,
    pub serial: Option<String>,
    /// `order`, when not the inventory's.
    pub order: Option<String>,
    pub gather_facts: bool,
    pub batches: Vec<Vec<String>>,
    pub sections: Vec<SectionPlan>,
    pub handlers: Vec<HandlerPlan>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SectionPlan {
    pub section: Section,
    pub tasks: Vec<TaskPlan>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskPlan {
    pub name: String,
    pub module: String,
    /// `file:line:col` of the task.
    pub location: String,
    /// `delegate_to` as written.
    pub delegate_to: Option<String>,
    /// Where it runs for each host, when that can be worked out before the run.
    pub delegates: IndexMap<String, Vec<String>>,
    /// `delegate_to` names a value only the run will know (a registered result, a fact).
    pub delegates_at_run_time: bool,
    pub run_once: bool,
    pub when: Vec<String>,
    pub notify: Vec<String>,
    /// A role named again with the same parameters: it runs only on hosts where its
    /// earlier naming ran nothing.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub role_repeat: bool,
    /// The module is not zdd's: the task runs through Ansible.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub via_ansible: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HandlerPlan {
    #[serde(flatten)]
    pub task: TaskPlan,
    pub listen: Vec<String>,
    /// The tasks that notify it (by its name or a `listen` topic).
    pub notified_by: Vec<String>,
}

pub fn plan(args: PlanArgs) -> Result<i32, Error> {
    let templater = Arc::new(Templater::new());
    let input = load_valid(&args.input, &templater)?;
    let plan = build(input, templater, args.input.limit.clone())?;
    match args.output {
        OutputFormat::Human => print!("{}", render(&plan)),
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&plan).map_err(|e| Error::Internal(e.to_string()))?
        ),
    }
    Ok(exit::OK)
}

/// Plan every play. A `Runner` is built to render delegates with the variables the run
/// would have, but it is never run: nothing is contacted.
pub fn build(input: Input, templater: Arc<Templater>, limit: Option<String>) -> Result<PlaybookPlan, Error> {
    // `order: shuffle` draws its order when `apply` starts; the plan shows one such draw.
    let rollout = RolloutPlan::new(&input.playbook, &input.inventory, limit.as_deref(), random_seed())?;
    let playbook_path = input.playbook.path.display().to_string();
    let inventory = (!input.inventory_sources.is_empty()).then(|| input.inventory_sources.join(", "));
    let plays = input.playbook.plays.clone();
    let opts = RunOptions {
        forks: 1,
        limit: limit.clone(),
        check_mode: true,
        no_preflight: true,
        connection: input.settings.connection.clone(),
        become_defaults: input.settings.become_defaults.clone(),
        ..RunOptions::default()
    };
    let runner = Runner::new(
        input,
        rollout.clone(),
        templater,
        Arc::new(EventSink::new(Vec::new())),
        opts,
        Arc::new(StopSignal::default()),
    );
    let plays = plays
        .iter()
        .zip(&rollout.plays)
        .enumerate()
        .map(|(i, (play, planned))| plan_play(&runner, i + 1, play, planned))
        .collect();
    Ok(PlaybookPlan {
        playbook: playbook_path,
        inventory,
        limit,
        plays,
    })
}

fn plan_play(runner: &Runner, index: usize, play: &Play, planned: &PlayRollout) -> PlayPlan {
    let (hosts, batches) = (&planned.hosts, &planned.batches);
    let plan_one = |task: &Task| plan_task(runner, play, hosts, batches, task);
    let sections = play
        .sections()
        .into_iter()
        .filter(|(_, tasks)| !tasks.is_empty())
        .map(|(section, tasks)| SectionPlan {
            section,
            tasks: tasks.iter().map(plan_one).collect(),
        })
        .collect();
    let all_tasks: Vec<&Task> = play
        .pre_tasks
        .iter()
        .chain(&play.tasks)
        .chain(&play.post_tasks)
        .chain(&play.handlers)
        .collect();
    let handlers = crate::playbook::flatten(&play.handlers)
        .into_iter()
        .map(|handler| {
            let names: Vec<&String> = handler.name.iter().chain(&handler.listen).collect();
            let notified_by = all_tasks
                .iter()
                .filter(|t| t.notify.iter().any(|n| names.contains(&n)))
                .map(|t| t.display_name().to_owned())
                .collect();
            HandlerPlan {
                task: plan_one(handler),
                listen: handler.listen.clone(),
                notified_by,
            }
        })
        .collect();
    PlayPlan {
        index,
        name: play.display_name().to_owned(),
        pattern: play.hosts.clone(),
        serial: crate::plan::serial_text(&play.serial),
        order: play.order.clone().filter(|o| o != "inventory"),
        gather_facts: play.gather_facts,
        batches: batches.clone(),
        sections,
        handlers,
    }
}

fn plan_task(
    runner: &Runner,
    play: &Play,
    hosts: &[String],
    batches: &[Vec<String>],
    task: &Task,
) -> TaskPlan {
    let mut delegates = IndexMap::new();
    if task.delegate_to.is_some() {
        for batch in batches {
            delegates.extend(runner.planned_delegates(play, hosts, batch, task));
        }
    }
    let delegates_at_run_time = task.delegate_to.is_some() && delegates.values().any(Vec::is_empty);
    delegates.retain(|_, d: &mut Vec<String>| !d.is_empty());
    TaskPlan {
        name: task.display_name().to_owned(),
        module: task.module.clone(),
        via_ansible: task.block.is_none() && crate::modules::registry().get(&task.module).is_none(),
        location: task.loc.to_string(),
        delegate_to: task.delegate_to.clone(),
        delegates,
        delegates_at_run_time,
        run_once: task.run_once,
        when: task.when.clone(),
        notify: task.notify.clone(),
        role_repeat: task
            .role()
            .is_some_and(|r| r.instance.nth > 0 && !r.instance.allow_duplicates),
    }
}

/// The plan as an outline, for people.
pub fn render(plan: &PlaybookPlan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "playbook {}", plan.playbook);
    if let Some(inventory) = &plan.inventory {
        let _ = writeln!(out, "inventory {inventory}");
    }
    if let Some(limit) = &plan.limit {
        let _ = writeln!(out, "limit {limit}");
    }
    // `group_by`/`add_host` in a play make groups that later plays may target: their
    // hosts are only known at run time.
    let mut inventory_changer: Option<&str> = None;
    for play in &plan.plays {
        render_play(&mut out, play, inventory_changer);
        inventory_changer = inventory_changer.or_else(|| changes_inventory(play));
    }
    let _ = writeln!(out, "\nnothing was contacted");
    out
}

/// The first `group_by` or `add_host` of the play, by its module name as written.
fn changes_inventory(play: &PlayPlan) -> Option<&str> {
    play.sections
        .iter()
        .flat_map(|s| &s.tasks)
        .map(|t| t.module.as_str())
        .find(|m| matches!(m.rsplit('.').next(), Some("group_by" | "add_host")))
}

fn render_play(out: &mut String, play: &PlayPlan, inventory_changer: Option<&str>) {
    let hosts: usize = play.batches.iter().map(Vec::len).sum();
    let _ = writeln!(out, "\nPLAY {} [{}]", play.index, play.name);
    let _ = write!(out, "  hosts: {} ({hosts} host{})", play.pattern, plural(hosts));
    if let Some(serial) = &play.serial {
        let _ = write!(out, ", serial: {serial}");
    }
    match play.order.as_deref() {
        Some("shuffle") => {
            let _ = write!(out, ", order: shuffle (apply draws its own order)");
        }
        Some(order) => {
            let _ = write!(out, ", order: {order}");
        }
        None => {}
    }
    if play.gather_facts {
        let _ = write!(out, ", gather_facts");
    }
    out.push('\n');
    match (play.batches.is_empty(), inventory_changer) {
        (true, None) => {
            let _ = writeln!(out, "  no hosts match: the play is skipped");
            return;
        }
        (true, Some(module)) => {
            let _ = writeln!(
                out,
                "  hosts known at run time: `{module}` in an earlier play changes the inventory"
            );
        }
        (false, _) => {
            let _ = writeln!(out, "  batches:");
            let total = play.batches.len();
            for (i, batch) in play.batches.iter().enumerate() {
                let _ = writeln!(out, "    {}/{total}: {}", i + 1, batch.join(", "));
            }
        }
    }
    for section in &play.sections {
        let title = match section.section {
            Section::PreTasks => "pre_tasks",
            Section::Tasks => "tasks",
            Section::PostTasks => "post_tasks",
            Section::Handlers => "handlers",
        };
        let _ = writeln!(out, "  {title}:");
        for task in &section.tasks {
            render_task(out, task, &[]);
        }
    }
    if !play.handlers.is_empty() {
        let _ = writeln!(out, "  handlers:");
        for h in &play.handlers {
            let notified = if h.notified_by.is_empty() {
                "notified by: no task".to_owned()
            } else {
                format!("notified by: {}", h.notified_by.join(", "))
            };
            render_task(out, &h.task, &[notified]);
        }
    }
}

fn render_task(out: &mut String, task: &TaskPlan, extra: &[String]) {
    let mut notes = Vec::new();
    if task.via_ansible {
        notes.push("via ansible".to_owned());
    }
    if task.run_once {
        notes.push("run_once".to_owned());
    }
    if task.role_repeat {
        notes.push("role named again: only where it has not run".to_owned());
    }
    if !task.when.is_empty() {
        notes.push(format!("when: {}", task.when.join(" and ")));
    }
    if !task.notify.is_empty() {
        notes.push(format!("notify: {}", task.notify.join(", ")));
    }
    notes.extend(extra.iter().cloned());
    let _ = write!(out, "    - {} ({})", task.name, task.module);
    for note in &notes {
        let _ = write!(out, "  {note}");
    }
    out.push('\n');
    if let Some(template) = &task.delegate_to {
        let _ = writeln!(out, "        delegate_to: {}", delegates_text(task, template));
    }
}

/// `lb` when every host delegates to the same place, else `web1 -> lb1; web2 -> lb2`.
fn delegates_text(task: &TaskPlan, template: &str) -> String {
    let mut distinct: Vec<&Vec<String>> = task.delegates.values().collect();
    distinct.dedup();
    let mut text = match distinct.as_slice() {
        [] => String::new(),
        [one] => one.join(", "),
        _ => task
            .delegates
            .iter()
            .map(|(h, d)| format!("{h} -> {}", d.join(", ")))
            .collect::<Vec<_>>()
            .join("; "),
    };
    if text.is_empty() && !task.delegates_at_run_time {
        // No host to render it for (hosts known at run time): as written.
        return format!("`{template}`");
    }
    if task.delegates_at_run_time {
        if !text.is_empty() {
            text.push_str("; ");
        }
        text.push_str(&format!("`{template}`, decided at run time"));
    }
    text
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
