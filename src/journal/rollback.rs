//! What `zdd rollback` re-runs, decided purely from the journal's runs.
//!
//! Rolling: the successful runs form a stack (a completed rollback pops the run it
//! undid); rolling back the live deploy re-runs the inputs of the one beneath it, and
//! rolling back a run that failed re-runs those of the deploy on top. Blue/green: when
//! the last successful run switched colors, the same run's inputs again with
//! `zdd_rollback_to` set to the color it switched from.

use super::{Journal, RunRecord, RunState};
use crate::error::Diagnostic;
use std::path::Path;

/// The variable a blue/green playbook reads to switch back instead of deploying.
pub const ROLLBACK_TO_VAR: &str = "zdd_rollback_to";

#[derive(Debug, Clone, PartialEq)]
pub struct RollbackPlan {
    /// The run whose effect is undone.
    pub undo: RunRecord,
    /// The run whose inputs are re-run.
    pub target: RunRecord,
    /// Blue/green: the color to switch back to.
    pub color: Option<String>,
    /// Why the plan is what it is, for the user.
    pub notes: Vec<String>,
}

/// Decide the rollback of the journal at `path`. `blue_green`: the playbook reads
/// `zdd_rollback_to`. `alive` says whether a pid still runs (a parameter for tests).
pub fn plan_rollback(
    journal: &Journal,
    path: &Path,
    blue_green: bool,
    alive: fn(u32) -> bool,
) -> Result<RollbackPlan, Diagnostic> {
    let runs: Vec<RunRecord> = journal.runs().into_iter().filter(|r| !r.is_check()).collect();
    let Some(latest) = runs.last() else {
        return Err(Diagnostic::new(format!(
            "nothing to roll back: the journal {} holds only --check runs",
            path.display()
        )));
    };
    if latest.state == RunState::Running && alive(latest.pid) {
        return Err(Diagnostic::new(format!(
            "cannot roll back: the run that writes {} (zdd pid {}, started {}) is still running",
            path.display(),
            latest.pid,
            latest.started
        ))
        .hint("wait for it to finish, or stop it (Ctrl-C), then roll back"));
    }
    let mut notes = Vec::new();
    let last_ok = runs.iter().rev().find(|r| r.succeeded());
    if let (true, Some(run)) = (blue_green, last_ok) {
        match run.switches.first() {
            Some(switch) => match &switch.from {
                Some(color) => {
                    let plan = RollbackPlan {
                        undo: run.clone(),
                        target: run.clone(),
                        color: Some(color.clone()),
                        notes,
                    };
                    return check_inputs(plan, path);
                }
                None => notes.push(format!(
                    "the last successful run (started {}) switched {} on {} to {} from no color: \
                     re-running the run before it instead",
                    run.started, switch.upstream, switch.host, switch.to
                )),
            },
            None => notes.push(format!(
                "the last successful run (started {}) recorded no nginx_upstream switch: \
                 re-running the run before it instead",
                run.started
            )),
        }
    }
    let stack = deploy_stack(&runs);
    let (undo, target) = if latest.succeeded() {
        let top = stack.last().copied().unwrap_or(latest);
        let below = stack.len().checked_sub(2).map(|i| stack[i]);
        (top, below)
    } else if let Some(mark) = latest.inputs.as_ref().and_then(|i| i.rollback.as_ref()) {
        // A rollback that did not finish: try the same one again.
        let find = |started: &str| runs.iter().find(|r| r.started == started);
        notes.push(format!(
            "the last run (started {}) was a rollback that did not complete: trying it again",
            latest.started
        ));
        (find(&mark.of).unwrap_or(latest), find(&mark.to))
    } else {
        (latest, stack.last().copied())
    };
    let Some(target) = target else {
        return Err(Diagnostic::new(format!(
            "nothing to roll back to: no successful run before the run started {} in the journal {}; it holds {}",
            undo.started,
            path.display(),
            found(&runs)
        ))
        .hint("`zdd rollback` re-runs an earlier successful run; deploy the version you want with `zdd apply -e ...`"));
    };
    check_inputs(
        RollbackPlan {
            undo: undo.clone(),
            target: target.clone(),
            color: None,
            notes,
        },
        path,
    )
}

/// The successful deploys still in effect, oldest first: each completed run is pushed,
/// a completed rollback pops the run it undid.
fn deploy_stack(runs: &[RunRecord]) -> Vec<&RunRecord> {
    let mut stack: Vec<&RunRecord> = Vec::new();
    for run in runs.iter().filter(|r| r.succeeded()) {
        match run.inputs.as_ref().and_then(|i| i.rollback.as_ref()) {
            Some(mark) => {
                if stack.last().is_some_and(|top| top.started == mark.of) {
                    stack.pop();
                }
            }
            None => stack.push(run),
        }
    }
    stack
}

/// Refuse a target whose inputs cannot be replayed.
fn check_inputs(plan: RollbackPlan, path: &Path) -> Result<RollbackPlan, Diagnostic> {
    let Some(inputs) = &plan.target.inputs else {
        return Err(Diagnostic::new(format!(
            "cannot roll back to the run started {} (journal {}): it was journaled by a zdd that \
             did not record its inputs",
            plan.target.started,
            path.display()
        ))
        .hint("deploy the version you want with `zdd apply -e ...`"));
    };
    if inputs
        .extra_vars
        .iter()
        .any(|e| matches!(e, super::ExtraVarsInput::Withheld))
    {
        return Err(Diagnostic::new(format!(
            "cannot roll back to the run started {} (journal {}): one of its -e values held a secret (a \
             vault value, or a secret-looking key such as a password or token), so the journal did not record it",
            plan.target.started,
            path.display()
        ))
        .hint("put the secret in a file (vaulted or not) and pass it with `-e @FILE`: the journal records the file, not its values"));
    }
    Ok(plan)
}

/// `2 runs: started A completed (-e version=3), started B failed (...)`.
fn found(runs: &[RunRecord]) -> String {
    let each: Vec<String> = runs
        .iter()
        .map(|r| {
            let state = match r.state {
                RunState::Completed => "completed",
                RunState::Failed => "failed",
                RunState::Interrupted => "interrupted",
                RunState::Running => "did not finish",
            };
            format!("started {} {state} ({})", r.started, r.describe_inputs())
        })
        .collect();
    format!(
        "{} run{}: {}",
        runs.len(),
        if runs.len() == 1 { "" } else { "s" },
        each.join("; ")
    )
}

#[cfg(test)]
#[path = "rollback_tests.rs"]
mod tests;
