//! `zdd apply`'s journal: where it goes, what a `--resume` skips, and how the run ends up
//! recorded.

use crate::cli::ApplyArgs;
use crate::error::Error;
use crate::journal::{self, Identity, JournalWriter, PlannedPlay, Resume};
use crate::load::Input;
use crate::runner::RunSummary;
use std::sync::{Arc, Mutex};

/// The journal of the run about to start.
pub struct JournalSession {
    pub writer: Arc<Mutex<JournalWriter>>,
    pub resume: Resume,
}

impl JournalSession {
    /// Decide what a `--resume` skips (refusing a changed playbook unless `--force`) and
    /// write the new run's journal. Touches no host.
    pub fn start(args: &ApplyArgs, input: &Input) -> Result<JournalSession, Error> {
        let path = args
            .journal
            .clone()
            .unwrap_or_else(|| journal::default_path(&args.input.playbook, args.input.inventory.as_deref()));
        let identity = Identity::of(
            &args.input.playbook,
            args.input.inventory.as_deref(),
            &input.extra_vars,
            args.input.limit.as_deref(),
        )?;
        let resume = if args.resume {
            let previous = journal::Journal::load(&path)?;
            journal::plan_resume(previous.as_ref(), &path, &identity, args.force).map_err(Error::invalid)?
        } else {
            Resume::default()
        };
        let writer = JournalWriter::begin(&path, identity, planned(input, args), &resume)?;
        Ok(JournalSession {
            writer: Arc::new(Mutex::new(writer)),
            resume,
        })
    }

    /// Record how the run ended, and the exit code zdd ends with.
    pub fn finish(&self, outcome: Result<&RunSummary, &Error>, code: i32) {
        self.writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .finish(outcome, code);
    }
}

/// The batches of every play as planned before the run, for `zdd status`.
fn planned(input: &Input, args: &ApplyArgs) -> Vec<PlannedPlay> {
    input
        .playbook
        .plays
        .iter()
        .map(|play| {
            let hosts = crate::plan::play_hosts(&input.inventory, play, args.input.limit.as_deref())
                .unwrap_or_default();
            PlannedPlay {
                name: play.display_name().to_owned(),
                batches: crate::plan::batches(&hosts, &play.serial),
            }
        })
        .collect()
}
