//! `zdd rollback`: read the journal, decide what to re-run (`journal::rollback`), say it,
//! ask, then run it through `zdd apply` with every safety net on (preflight, the rollout
//! lock, the load balancer steps of the playbook, the probe flags given).

use crate::cli::{ApplyArgs, InputArgs, OutputFormat, PlanArgs, RollbackArgs};
use crate::error::{Diagnostic, Error};
use crate::journal::rollback::{plan_rollback, RollbackPlan, ROLLBACK_TO_VAR};
use crate::journal::{self, ExtraVarsInput, Journal, RollbackMark, RunRecord};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

pub async fn rollback(args: RollbackArgs) -> Result<i32, Error> {
    let path = journal_path(&args);
    let Some(journal) = Journal::load(&path)? else {
        return Err(Error::invalid(
            Diagnostic::new(format!("nothing to roll back: no journal at {}", path.display())).hint(
                "`zdd apply` writes it where it runs; run `zdd rollback` from the same directory with \
                 the same playbook and -i, or pass --journal PATH",
            ),
        ));
    };
    let blue_green = reads_rollback_var(&args.input.playbook)?;
    let mut plan = plan_rollback(&journal, &path, blue_green, journal::pid_alive).map_err(Error::invalid)?;
    if !blue_green && journal.runs().iter().any(|r| !r.switches.is_empty()) {
        plan.notes.push(format!(
            "{} does not read `{ROLLBACK_TO_VAR}`, so colors are not switched back: its earlier inputs \
             are re-run instead",
            args.input.playbook.display()
        ));
    }
    plan.notes
        .extend(changed_since(&plan.target, &args.input.playbook));
    let target_limit = plan.target.inputs.as_ref().and_then(|i| i.limit.clone());
    let limit = args.input.limit.clone().or_else(|| rollback_limit(&plan));
    if limit != target_limit {
        plan.notes.push(match &limit {
            Some(l) => format!("runs on `{l}` (the hosts the undone run ran on, or -l)"),
            None => "runs on every host (the undone run had no --limit)".to_owned(),
        });
    }
    let text = render_plan(&plan, &path);
    match args.output {
        OutputFormat::Human => print!("{text}"),
        OutputFormat::Json => eprint!("{text}"),
    }
    if args.plan {
        let output = args.output;
        let input = apply_args(args, &plan, path).input;
        return super::plan::plan(PlanArgs { input, output });
    }
    confirm(args.yes)?;
    super::apply::apply(apply_args(args, &plan, path)).await
}

/// `--journal`, else the default journal of the playbook and inventory.
fn journal_path(args: &RollbackArgs) -> PathBuf {
    if let Some(path) = &args.journal {
        return path.clone();
    }
    let config = crate::config::AnsibleConfig::current().ok();
    let inventory = crate::load::effective_inventory(&args.input.inventory, config);
    journal::default_path(&args.input.playbook, &inventory)
}

/// Whether the playbook file mentions `zdd_rollback_to` (a blue/green playbook that can
/// switch back without deploying).
fn reads_rollback_var(playbook: &Path) -> Result<bool, Error> {
    let text = std::fs::read_to_string(playbook).map_err(|e| {
        Error::invalid(Diagnostic::new(format!(
            "cannot read {}: {e}",
            playbook.display()
        )))
    })?;
    Ok(text.contains(ROLLBACK_TO_VAR))
}

/// What differs between the target run's inputs and the files as they are now.
fn changed_since(target: &RunRecord, playbook: &Path) -> Vec<String> {
    let mut notes = Vec::new();
    if journal::file_sha256(playbook).is_some_and(|h| h != target.playbook_sha256) {
        notes.push(format!(
            "{} changed since the run started {}: it runs as it is now, with that run's inputs",
            playbook.display(),
            target.started
        ));
    }
    for e in target.inputs.iter().flat_map(|i| &i.extra_vars) {
        if let ExtraVarsInput::VaultedFile { file, sha256 } | ExtraVarsInput::SecretFile { file, sha256 } = e
        {
            if journal::file_sha256(file).as_ref() != Some(sha256) {
                notes.push(format!(
                    "{} changed since the run started {} (its values were never recorded): \
                     it is read as it is now",
                    file.display(),
                    target.started
                ));
            }
        }
    }
    notes
}

/// The screen that says what the rollback will do.
pub fn render_plan(plan: &RollbackPlan, path: &Path) -> String {
    let run = |r: &RunRecord| {
        let who = r.inputs.as_ref().map(|i| i.user.as_str()).unwrap_or("?");
        format!("the run started {} by {who}: {}", r.started, r.describe_inputs())
    };
    let mut out = format!("ROLLBACK [{}]\n", path.display());
    match &plan.color {
        Some(color) => {
            for s in &plan.undo.switches {
                out.push_str(&format!(
                    "  undo:    {} on {} ({}) switched from {} to {} at {}\n",
                    s.upstream,
                    s.host,
                    s.path,
                    s.from.as_deref().unwrap_or("none"),
                    s.to,
                    s.at
                ));
            }
            out.push_str(&format!(
                "  switch:  back to {color}, no deploy: {} with -e {ROLLBACK_TO_VAR}={color}\n",
                run(&plan.target)
            ));
        }
        None => {
            out.push_str(&format!("  undo:    {}\n", run(&plan.undo)));
            out.push_str(&format!("  re-run:  {}\n", run(&plan.target)));
        }
    }
    for note in &plan.notes {
        out.push_str(&format!("  note:    {note}\n"));
    }
    out
}

/// Ask before touching anything, unless `--yes`; without a terminal to ask on, `--yes` is
/// required (as `vars_prompt` without a default is an error there).
fn confirm(yes: bool) -> Result<(), Error> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::invalid(
            Diagnostic::new("`zdd rollback` asks before it runs, and standard input is not a terminal")
                .hint("pass --yes to roll back without asking"),
        ));
    }
    let answer = super::prompt::read_answer("Roll back? [y/N]: ", false)
        .map_err(|e| Error::invalid(Diagnostic::new(format!("cannot read the answer: {e}"))))?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
        Ok(())
    } else {
        Err(Error::invalid(Diagnostic::new(
            "not rolled back: nothing was touched",
        )))
    }
}

/// The hosts to roll back: those the undone run ran on (its `--limit`), not those the
/// re-run one did: a canary undone is one host back, a full deploy undone is every host.
fn rollback_limit(plan: &RollbackPlan) -> Option<String> {
    plan.undo.inputs.as_ref().and_then(|i| i.limit.clone())
}

/// The `zdd apply` that performs the plan: the target's recorded inputs (the command
/// line's `-e` after them, its `-l` instead of theirs), every safety net on.
fn apply_args(args: RollbackArgs, plan: &RollbackPlan, path: PathBuf) -> ApplyArgs {
    let recorded = plan.target.inputs.clone().unwrap_or_default();
    let mut extra_vars: Vec<String> = recorded
        .extra_vars
        .iter()
        .filter_map(ExtraVarsInput::replay)
        .collect();
    extra_vars.extend(args.input.extra_vars.iter().cloned());
    if let Some(color) = &plan.color {
        extra_vars.push(format!("{ROLLBACK_TO_VAR}={color}"));
    }
    let input = InputArgs {
        extra_vars,
        limit: args.input.limit.clone().or_else(|| rollback_limit(plan)),
        ..args.input
    };
    ApplyArgs {
        input,
        forks: args.forks,
        tags: recorded.tags,
        skip_tags: recorded.skip_tags,
        check: false,
        diff: args.diff,
        traffic: args.traffic,
        no_preflight: false,
        max_connections: args.max_connections,
        output: args.output,
        journal: Some(path),
        resume: false,
        force: false,
        audit_log: args.audit_log,
        junit: args.junit,
        report: args.report,
        no_progress: args.no_progress,
        syntax_check: false,
        list_hosts: false,
        list_tasks: false,
        start_at_task: recorded.start_at_task,
        access: args.access,
        rollback: Some(RollbackMark {
            of: plan.undo.started.clone(),
            to: plan.target.started.clone(),
            color: plan.color.clone(),
        }),
    }
}
