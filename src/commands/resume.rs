//! `zdd apply`'s journal: where it goes, what a `--resume` skips, and how the run ends up
//! recorded.

use crate::cli::ApplyArgs;
use crate::error::Error;
use crate::journal::{self, Identity, JournalWriter, Resume, RunInputs};
use crate::load::Input;
use crate::plan::{random_seed, RolloutPlan};
use crate::runner::RunSummary;
use std::sync::{Arc, Mutex};

/// The journal of the run about to start.
pub struct JournalSession {
    pub writer: Arc<Mutex<JournalWriter>>,
    pub resume: Resume,
}

impl JournalSession {
    /// Decide what a `--resume` skips (refusing a changed playbook unless `--force`), make
    /// the rollout plan (a resumed run keeps the `order: shuffle` draw of the run it
    /// resumes) and write the new run's journal. Touches no host.
    pub fn start(args: &ApplyArgs, input: &Input) -> Result<(JournalSession, RolloutPlan), Error> {
        let path = args
            .journal
            .clone()
            .unwrap_or_else(|| journal::default_path(&args.input.playbook, &input.inventory_sources));
        let identity = Identity::of(
            &args.input.playbook,
            &input.inventory_sources,
            &input.extra_vars,
            args.input.limit.as_deref(),
        )?;
        let mut seed = None;
        // The earlier runs go on in the new journal; one that cannot be read is started over,
        // as it always was.
        let history = match journal::Journal::load(&path) {
            Ok(Some(previous)) => previous.history_for_next(),
            Ok(None) => Vec::new(),
            Err(e) if !args.resume => {
                tracing::warn!("the earlier runs in {} are not kept: {e}", path.display());
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        let resume = if args.resume {
            let previous = journal::Journal::load(&path)?;
            let resume = journal::plan_resume(
                previous.as_ref(),
                &path,
                &identity,
                args.force,
                journal::pid_alive,
            )
            .map_err(Error::invalid)?;
            if resume.resumed_from.is_some() {
                seed = previous.and_then(|p| p.shuffle_seed);
            }
            resume
        } else {
            Resume::default()
        };
        let plan = RolloutPlan::new(
            &input.playbook,
            &input.inventory,
            args.input.limit.as_deref(),
            seed.unwrap_or_else(random_seed),
        )?;
        let writer = JournalWriter::begin(&path, identity, &plan, &resume, run_inputs(args), history)?;
        let session = JournalSession {
            writer: Arc::new(Mutex::new(writer)),
            resume,
        };
        Ok((session, plan))
    }

    /// Record how the run ended, and the exit code zdd ends with.
    pub fn finish(&self, outcome: Result<&RunSummary, &Error>, code: i32) {
        self.writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .finish(outcome, code);
    }
}

/// What the run was given, as the journal records it (after loading, so that the vault's
/// secrets are known and kept out). A rollback's own `-e zdd_rollback_to=COLOR` is in its
/// mark, not among the inputs a later rollback would replay.
fn run_inputs(args: &ApplyArgs) -> RunInputs {
    let rollback_arg = args
        .rollback
        .as_ref()
        .and_then(|m| m.color.as_ref())
        .map(|c| format!("{}={c}", journal::rollback::ROLLBACK_TO_VAR));
    let extra: Vec<String> = args
        .input
        .extra_vars
        .iter()
        .filter(|e| Some(*e) != rollback_arg.as_ref())
        .cloned()
        .collect();
    RunInputs {
        extra_vars: journal::inputs::record_extra_vars(&extra),
        limit: args.input.limit.clone(),
        tags: args.tags.clone(),
        skip_tags: args.skip_tags.clone(),
        start_at_task: args.start_at_task.clone(),
        check: args.check,
        zdd_version: env!("ZDD_VERSION").to_owned(),
        user: journal::inputs::current_user(),
        rollback: args.rollback.clone(),
    }
}
