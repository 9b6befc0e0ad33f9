//! `zdd apply`: load, validate, journal, then run the playbook with the reporters the
//! flags ask for, the probe and the signal handlers around it.

use crate::audit::AuditLog;
use crate::cli::{ApplyArgs, CheckArgs, OutputFormat};
use crate::commands::resume::JournalSession;
use crate::error::{exit, Diagnostic, Error};
use crate::events::{Event, EventSink, Reporter, RunInfo};
use crate::journal::JournalReporter;
use crate::load::load_valid;
use crate::lock::{self, RolloutLock};
use crate::probe::{Probe, Target};
use crate::report::html::HtmlReporter;
use crate::report::human::HumanReporter;
use crate::report::json::JsonReporter;
use crate::report::junit::JunitReporter;
use crate::report::notify::{post_reported, NotifyReporter, NotifyUrl};
use crate::report::progress::{self, Progress};
use crate::runner::{RunOptions, Runner, StopSignal};
use crate::template::Templater;
use std::sync::Arc;

pub async fn apply(args: ApplyArgs) -> Result<i32, Error> {
    if args.syntax_check {
        return super::check::check(CheckArgs { input: args.input });
    }
    if args.list_hosts || args.list_tasks {
        return crate::commands::list::list(&args);
    }
    // A bad URL is an error before anything runs, not a failed POST after the rollout.
    let notify_url = match &args.traffic.notify {
        Some(url) => Some(NotifyUrl::parse(url).map_err(|e| Error::invalid(Diagnostic::new(e)))?),
        None => None,
    };
    let loaded = Loaded::load(&args)?;
    // Before the journal is written: a second run must not touch the first one's journal.
    let _lock = RolloutLock::acquire(
        &lock::lock_dir(),
        &lock::lock_key(&loaded.input.inventory_sources),
        &lock_about(&args),
    )?;
    let mut reporters = reporters(&args, loaded.input.config.log_path.value.as_deref())?;
    let notify = notify_url.map(|url| {
        let (reporter, summary) = NotifyReporter::new();
        reporters.push(Box::new(reporter));
        (url, summary)
    });
    let events = Arc::new(EventSink::new(reporters));
    let command = if args.rollback.is_some() {
        "rollback"
    } else {
        "apply"
    };
    events.emit(Event::RunInfo(RunInfo::start(command)));
    let stop = Arc::new(StopSignal::default());
    watch_signals(stop.clone(), events.clone(), FIRST_SIGNAL);
    let result = run_apply(&args, loaded, events.clone(), stop).await;
    let code = match &result {
        Ok(code) => *code,
        Err(e) => e.exit_code(),
    };
    events.emit(Event::RunEnd { exit_code: code });
    if let Some((url, summary)) = notify {
        post_reported(&url, &events, "the summary", summary.json()).await;
    }
    result
}

/// What the rollout lock file says about its holder.
pub fn lock_about(args: &ApplyArgs) -> String {
    format!(
        "started {}, playbook {}",
        crate::journal::utc_timestamp(std::time::SystemTime::now()),
        args.input.playbook.display()
    )
}

/// A playbook loaded, validated and its prompts answered: what `run_apply` runs.
pub struct Loaded {
    pub input: crate::load::Input,
    pub templater: Arc<Templater>,
    pub access: crate::access::Access,
}

impl Loaded {
    /// Load and validate `args`' playbook and inventory, answer its prompts. Nothing is
    /// contacted.
    pub fn load(args: &ApplyArgs) -> Result<Loaded, Error> {
        let templater = Arc::new(Templater::new());
        let mut input = load_valid(&args.input, &templater)?;
        let access = crate::access::Access::from_args(&args.access, input.config)?;
        super::prompt::answer_prompts(&mut input, &templater)?;
        Ok(Loaded {
            input,
            templater,
            access,
        })
    }
}

/// Run a loaded playbook as `zdd apply` does (journal, audit log, probe and its budget),
/// reporting to `events` and stopping as `stop` says; the caller holds the rollout lock
/// and renders `RunEnd`. `zdd watch` calls it for each redeploy with its own sink and
/// signal. Returns the run's exit code.
pub async fn run_apply(
    args: &ApplyArgs,
    loaded: Loaded,
    events: Arc<EventSink>,
    stop: Arc<StopSignal>,
) -> Result<i32, Error> {
    let audit = args.audit_log.as_deref().map(AuditLog::open).transpose()?;
    let (journal, plan) = JournalSession::start(args, &loaded.input)?;
    // The journal hears this run only: a child sink that passes every event on.
    let events = Arc::new(EventSink::new(vec![
        Box::new(Forward(events)),
        Box::new(JournalReporter::new(journal.writer.clone())),
    ]));
    for message in &journal.resume.notes {
        events.emit(crate::events::Event::Warning {
            message: message.clone(),
        });
    }
    let mut opts = run_options(args, &loaded);
    opts.skip_batches = journal.resume.skip.clone();
    opts.audit = audit.map(Arc::new);
    opts.pending_handlers = journal.resume.pending_handlers.clone();
    let probe_target = match &args.traffic.probe {
        Some(url) => Some(Target::parse(url).map_err(|e| Error::invalid(Diagnostic::new(e)))?),
        None => None,
    };
    let Loaded { input, templater, .. } = loaded;
    let mut runner = Runner::new(input, plan, templater, events.clone(), opts, stop);
    let probe = probe_target
        .map(|t| Arc::new(Probe::start(t, args.traffic.probe_concurrency).with_samples(events.clone())));
    if let (Some(probe), Some(budget)) = (&probe, args.traffic.max_failed_requests) {
        let probe = probe.clone();
        runner = runner.with_gate(Box::new(move || match probe.failed() {
            failed if failed > budget => Err(format!(
                "the probe counted {failed} failed requests, over the budget of {budget}"
            )),
            _ => Ok(()),
        }));
    }
    let result = runner.run().await;
    // The runner's gate holds the probe too: release it so the probe can be stopped.
    drop(runner);
    let mut code = match &result {
        Ok(summary) => summary.exit_code(),
        Err(e) => e.exit_code(),
    };
    if let Some(probe) = probe.and_then(Arc::into_inner) {
        let report = probe.stop().await;
        if code == exit::OK
            && args
                .traffic
                .max_failed_requests
                .is_some_and(|budget| report.failed > budget)
        {
            code = exit::HOST_FAILED;
        }
        events.emit(Event::Probe(report));
    }
    journal.finish(result.as_ref(), code);
    result?;
    Ok(code)
}

/// The run options `args` give a loaded playbook (no resume, no audit log).
pub fn run_options(args: &ApplyArgs, loaded: &Loaded) -> RunOptions {
    let input = &loaded.input;
    RunOptions {
        forks: args.forks.unwrap_or(input.config.forks.value) as usize,
        limit: args.input.limit.clone(),
        check_mode: args.check,
        diff: args.diff,
        tags: args.tags.clone(),
        skip_tags: args.skip_tags.clone(),
        no_preflight: args.no_preflight,
        max_connections: args.max_connections as usize,
        start_at_task: args.start_at_task.clone(),
        access: loaded.access.clone(),
        connection: input.settings.connection.clone(),
        become_defaults: input.settings.become_defaults.clone(),
        ..Default::default()
    }
}

/// Passes every event on to another sink (a child sink's way to its parent).
pub struct Forward(pub Arc<EventSink>);

impl Reporter for Forward {
    fn event(&mut self, event: &Event) {
        self.0.emit(event.clone());
    }
}

/// The renderers `args` ask for: human (on stdout, or on stderr with `--output json`),
/// JSON, the live progress line on a terminal, the JUnit and HTML reports, and the human
/// output appended to `log_path` of the Ansible configuration.
pub fn reporters(
    args: &ApplyArgs,
    log_path: Option<&std::path::Path>,
) -> Result<Vec<Box<dyn Reporter>>, Error> {
    let verbosity = args.input.verbose;
    let mut reporters: Vec<Box<dyn Reporter>> = Vec::new();
    match args.output {
        OutputFormat::Human if progress::wanted(args.no_progress) => {
            // The line learns of a task before its banner is printed above it.
            let progress = Progress::new();
            let human = HumanReporter::new(progress.writer(), verbosity);
            reporters.push(Box::new(progress));
            reporters.push(Box::new(human));
        }
        OutputFormat::Human => reporters.push(Box::new(HumanReporter::new(std::io::stdout(), verbosity))),
        OutputFormat::Json => {
            reporters.push(Box::new(JsonReporter::new(std::io::stdout())));
            reporters.push(Box::new(HumanReporter::new(std::io::stderr(), verbosity)));
        }
    }
    if let Some(path) = log_path {
        // As Ansible: a log that cannot be written is a warning, not a reason to stop.
        match crate::report::log_file::AnsibleLog::open(path) {
            Ok(log) => reporters.push(Box::new(HumanReporter::new(log, verbosity))),
            Err(e) => eprintln!(
                "[WARNING]: log file at '{}' is not writeable: {e}",
                path.display()
            ),
        }
    }
    if let Some(path) = &args.junit {
        let junit = JunitReporter::create(path).map_err(|e| {
            Error::invalid(Diagnostic::new(format!(
                "cannot write the JUnit report {}: {e}",
                path.display()
            )))
        })?;
        reporters.push(Box::new(junit));
    }
    if let Some(path) = &args.report {
        let report = HtmlReporter::create(path).map_err(|e| {
            Error::invalid(Diagnostic::new(format!(
                "cannot write the report {}: {e}",
                path.display()
            )))
        })?;
        reporters.push(Box::new(report));
    }
    Ok(reporters)
}

/// What the first signal makes `apply` do, in its warning.
pub const FIRST_SIGNAL: &str =
    "interrupted: finishing the batch in flight (post_tasks included), then stopping; \
                                interrupt again to stop after the running task";

/// SIGINT and SIGTERM: the first finishes the batch in flight and stops (`first` says so
/// in a warning), the second stops after the running task. Either way connections are
/// closed and no master is left behind.
pub fn watch_signals(stop: Arc<StopSignal>, events: Arc<EventSink>, first: &'static str) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        tracing::warn!("cannot install signal handlers");
        return;
    };
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            let message = if stop.escalate() == StopSignal::FINISH_BATCH {
                first
            } else {
                "interrupted again: stopping after the running task"
            };
            events.emit(crate::events::Event::Warning {
                message: message.into(),
            });
        }
    });
}
