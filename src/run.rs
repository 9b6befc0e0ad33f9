//! The pipeline behind every command: load -> validate -> plan/run -> report.

use crate::audit::AuditLog;
use crate::cli::{ApplyArgs, CheckArgs, Cli, Command, InputArgs, OutputFormat};
use crate::commands::resume::JournalSession;
use crate::error::{exit, Diagnostic, Error};
use crate::events::{Event, EventSink, Reporter};
use crate::inventory::Inventory;
use crate::journal::JournalReporter;
use crate::parse;
use crate::playbook::Playbook;
use crate::probe::{Probe, Target};
use crate::report::human::HumanReporter;
use crate::report::json::JsonReporter;
use crate::report::junit::JunitReporter;
use crate::report::progress::{self, Progress, StderrLog};
use crate::runner::{RunOptions, Runner, StopSignal};
use crate::template::Templater;
use crate::validate::validate;
use crate::vars::VarMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Run the command line; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    let verbosity = match &cli.command {
        Command::Apply(a) => a.input.verbose,
        Command::Check(c) => c.input.verbose,
        Command::Plan(p) => p.input.verbose,
        Command::Status(_) => 0,
    };
    init_tracing(verbosity);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::INTERNAL;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Apply(args) => apply(args).await,
            Command::Check(args) => check(args),
            Command::Plan(args) => crate::commands::plan::plan(args),
            Command::Status(args) => crate::commands::status::status(args),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            report_error(&e);
            e.exit_code()
        }
    }
}

/// What the input files say, loaded and parsed.
pub(crate) struct Input {
    pub playbook: Playbook,
    pub inventory: Inventory,
    pub inventory_path: Option<PathBuf>,
    pub extra_vars: VarMap,
}

/// Load the inventory, the playbook and `-e` vars, reporting every problem at once.
pub(crate) fn load(input: &InputArgs) -> Result<Input, Error> {
    let mut problems = Vec::new();
    let inventory = keep(
        &mut problems,
        match &input.inventory {
            Some(path) => Inventory::load(path),
            None => Ok(Inventory::implicit_localhost()),
        },
    );
    let playbook = keep(&mut problems, parse::load_playbook(&input.playbook));
    let mut extra_vars = VarMap::new();
    for text in &input.extra_vars {
        if let Some(vars) = keep(&mut problems, parse::parse_extra_vars(text)) {
            extra_vars.extend(vars);
        }
    }
    match (playbook, inventory) {
        (Some(playbook), Some(inventory)) if problems.is_empty() => Ok(Input {
            playbook,
            inventory,
            inventory_path: input.inventory.clone(),
            extra_vars,
        }),
        _ => Err(Error::Invalid(problems)),
    }
}

/// The value, or its problems added to the list.
fn keep<T>(problems: &mut Vec<Diagnostic>, result: Result<T, Error>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(Error::Invalid(d)) => {
            problems.extend(d);
            None
        }
        Err(e) => {
            problems.push(Diagnostic::new(e.to_string()));
            None
        }
    }
}

fn check(args: CheckArgs) -> Result<i32, Error> {
    let input = load(&args.input)?;
    validate(
        &input.playbook,
        &input.inventory,
        &input.extra_vars,
        &Templater::new(),
    )?;
    let tasks: usize = input
        .playbook
        .plays
        .iter()
        .map(|p| {
            let flat = |t| crate::playbook::flatten(t).len();
            flat(&p.pre_tasks) + flat(&p.tasks) + flat(&p.post_tasks) + p.handlers.len()
        })
        .sum();
    println!(
        "{}: ok ({} plays, {} tasks and handlers, {} inventory hosts); nothing was contacted",
        input.playbook.path.display(),
        input.playbook.plays.len(),
        tasks,
        input.inventory.hosts.len()
    );
    Ok(exit::OK)
}

async fn apply(args: ApplyArgs) -> Result<i32, Error> {
    if args.syntax_check {
        return check(CheckArgs { input: args.input });
    }
    if args.list_hosts || args.list_tasks {
        return crate::commands::list::list(&args);
    }
    let input = load(&args.input)?;
    let templater = Arc::new(Templater::new());
    validate(&input.playbook, &input.inventory, &input.extra_vars, &templater)?;
    let audit = args.audit_log.as_deref().map(AuditLog::open).transpose()?;
    let journal = JournalSession::start(&args, &input)?;
    let mut reporters = reporters(&args)?;
    reporters.push(Box::new(JournalReporter::new(journal.writer.clone())));
    let events = Arc::new(EventSink::new(reporters));
    for message in &journal.resume.notes {
        events.emit(crate::events::Event::Warning {
            message: message.clone(),
        });
    }
    let stop = Arc::new(StopSignal::default());
    watch_signals(stop.clone(), events.clone());
    let opts = RunOptions {
        forks: args.forks as usize,
        limit: args.input.limit.clone(),
        check_mode: args.check,
        diff: args.diff,
        tags: args.tags.clone(),
        skip_tags: args.skip_tags.clone(),
        no_preflight: args.no_preflight,
        skip_batches: journal.resume.skip.clone(),
        audit: audit.map(Arc::new),
        start_at_task: args.start_at_task.clone(),
    };
    let probe_target = match &args.probe {
        Some(url) => Some(Target::parse(url).map_err(|e| Error::invalid(Diagnostic::new(e)))?),
        None => None,
    };
    let mut runner = Runner::new(
        input.playbook,
        input.inventory,
        input.inventory_path,
        input.extra_vars,
        templater,
        events.clone(),
        opts,
        stop,
    );
    let probe = probe_target.map(|t| Arc::new(Probe::start(t, args.probe_concurrency)));
    if let (Some(probe), Some(budget)) = (&probe, args.max_failed_requests) {
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

/// The renderers `args` ask for: human (on stdout, or on stderr with `--output json`),
/// JSON, the live progress line on a terminal, and the JUnit report.
fn reporters(args: &ApplyArgs) -> Result<Vec<Box<dyn Reporter>>, Error> {
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
    if let Some(path) = &args.junit {
        let junit = JunitReporter::create(path).map_err(|e| {
            Error::invalid(Diagnostic::new(format!(
                "cannot write the JUnit report {}: {e}",
                path.display()
            )))
        })?;
        reporters.push(Box::new(junit));
    }
    Ok(reporters)
}

/// SIGINT and SIGTERM: the first finishes the batch in flight and stops, the second
/// stops after the running task. Either way connections are closed and no master is
/// left behind.
fn watch_signals(stop: Arc<StopSignal>, events: Arc<EventSink>) {
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
                "interrupted: finishing the batch in flight (post_tasks included), then stopping; \
                 interrupt again to stop after the running task"
            } else {
                "interrupted again: stopping after the running task"
            };
            events.emit(crate::events::Event::Warning {
                message: message.into(),
            });
        }
    });
}

fn report_error(e: &Error) {
    match e {
        Error::Invalid(problems) => {
            for d in problems {
                eprint!("{}", d.clone().with_snippet_from_disk());
            }
            eprintln!(
                "zdd: {} problem{} found before touching any host; nothing was changed",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" }
            );
        }
        Error::Unreachable(hosts) => {
            eprintln!("error: {} host(s) unreachable; nothing was changed:", hosts.len());
            for (host, why) in hosts {
                eprintln!("  {host}: {}", why.trim());
            }
        }
        Error::Preflight(failures) => {
            eprintln!(
                "error: preflight failed on {} host(s); nothing was changed:",
                failures.len()
            );
            for (host, why) in failures {
                eprintln!("  {host}: {}", why.trim());
            }
        }
        other => eprintln!("error: {other}"),
    }
}

/// Logs on stderr: `-vv` the commands run on hosts (`zdd::cmd`), `-vvv` also SSH
/// details (`zdd::ssh`) and the rest of zdd's debug logs, `-vvvv` every crate's.
/// `ZDD_LOG` overrides with a filter of its own.
fn init_tracing(verbosity: u8) {
    let default = match verbosity {
        0 | 1 => "warn",
        2 => "warn,zdd::cmd=debug",
        3 => "warn,zdd=debug",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ZDD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(StderrLog)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .try_init();
}
