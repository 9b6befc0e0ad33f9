//! Command-line arguments, as users type them.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "zdd",
    version = env!("ZDD_VERSION"),
    about = "Rolling deploys behind a load balancer, with zero downtime",
    long_about = "zdd runs Ansible-style playbooks over SSH, batch by batch: each batch is taken out \
of the load balancer, upgraded, checked and put back. Existing playbooks and INI inventories run \
unchanged; everything that can be checked (YAML, modules, variables, templates, handlers) is checked \
before any host is touched.",
    after_help = "Examples:\n  zdd check playbooks/zero-downtime.yml -i inventory.ini\n  zdd apply playbooks/zero-downtime.yml -i inventory.ini\n  zdd apply site.yml -i hosts.ini -l 'web*' -e version=1.4.2 -e @vars.yml\n\nExit codes: 0 ok, 2 a host failed, 4 a host was unreachable, 5 invalid input, 130 interrupted, 1 internal error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per run: the size of `ApplyArgs` costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a playbook: batch by batch, pre_tasks, tasks, handlers, post_tasks.
    Apply(ApplyArgs),
    /// Parse and validate a playbook (and inventory) without connecting to anything.
    Check(CheckArgs),
    /// Show what `apply` would do, without connecting to anything: the batches of each
    /// play, the tasks of each section with their delegates, the handlers and who notifies
    /// them.
    Plan(PlanArgs),
    /// Where the last rollout of a playbook stands, from its journal: finished batches,
    /// failed hosts and why, hosts never reached, and whether `--resume` would continue.
    Status(StatusArgs),
    /// Undo the last deploy of a playbook, from its journal. A blue/green playbook (one
    /// that reads `zdd_rollback_to`) whose last successful run switched colors is run again
    /// with `-e zdd_rollback_to=<the color before>`: no deploy, a switch back. Any other
    /// playbook is run again, batch by batch, with the inputs (`-e`, limit, tags) of the
    /// last successful run before the one undone, with every safety net on.
    Rollback(RollbackArgs),
    /// Which Ansible configuration file is in force (ANSIBLE_CONFIG, ./ansible.cfg,
    /// ~/.ansible.cfg, /etc/ansible/ansible.cfg) and each setting zdd takes from it, with
    /// its value and origin (file:line, env ANSIBLE_X, default).
    Config(ConfigArgs),
    /// Print a shell completion script on stdout (bash, zsh, fish, elvish, powershell).
    #[command(
        after_help = "Examples:\n  zdd completions bash > /etc/bash_completion.d/zdd\n  zdd completions zsh > \"${fpath[1]}/_zdd\"\n  zdd completions fish > ~/.config/fish/completions/zdd.fish"
    )]
    Completions(CompletionsArgs),
    /// Watch the service the playbook deploys and heal it: check each host (and the service
    /// through the load balancer) every interval; a host critical after `--failures` failed
    /// checks is taken out of rotation, redeployed with the playbook (`--limit` to it, every
    /// safety net of `apply` on) and put back once its check passes. Runs until stopped
    /// (or for `--for`).
    Watch(WatchArgs),
    /// Redeploy what a Consul `checks` watch reports critical: reads the watch's JSON
    /// payload on stdin (as Consul passes it to a handler), maps each critical check to a
    /// host or a whole service, and redeploys it as `zdd watch` would (one at a time, the
    /// rollout lock, at most `--max-redeploys` per host per hour, kept across calls).
    Heal(HealArgs),
    /// Draw the HTML report of a run afterwards: from the output of `--output json`
    /// saved to a file, or from a journal (with the events file zdd writes beside it).
    #[command(
        after_help = "Examples:\n  zdd apply site.yml -i hosts.ini --output json > run.ndjson; zdd report run.ndjson\n  zdd report .zdd/journal/site-hosts.json -o last-deploy.html\n\nExit codes: 0 written, 5 an input that cannot be read (the file and line), or an output that cannot be written."
    )]
    Report(ReportArgs),
    /// Print the manual page (roff) on stdout: `zdd man | man -l -`, or save it as
    /// `zdd.1` in a `man1` directory.
    Man,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A saved `--output json` stream (one event per line), or a journal.
    pub input: PathBuf,

    /// Where to write the page (default: INPUT with the extension `.html`).
    #[arg(short = 'o', long = "out", value_name = "OUT.html")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args, Clone)]
pub struct InputArgs {
    /// The playbook to run (Ansible YAML).
    pub playbook: PathBuf,

    /// Inventory source, may be repeated: an INI or YAML file, an executable inventory
    /// script, a directory of these, or a host list (`web1,web2:2222,`). Several merge
    /// into one. Without one, only `localhost` exists.
    #[arg(short = 'i', long = "inventory", value_name = "SOURCE")]
    pub inventory: Vec<String>,

    /// Extra variables, highest precedence: `k=v`, a JSON/YAML mapping, or `@file.yml`.
    /// May be repeated.
    #[arg(short = 'e', long = "extra-vars", value_name = "VARS")]
    pub extra_vars: Vec<String>,

    /// Only run on hosts matching this pattern (`web1`, `web*`, `'web:!web3'`).
    #[arg(short = 'l', long = "limit", value_name = "PATTERN")]
    pub limit: Option<String>,

    /// More output: -v each result's output, -vv also the commands run on hosts (on
    /// stderr), -vvv also SSH details. `ZDD_LOG` takes a tracing filter instead
    /// (`ZDD_LOG=zdd::cmd=debug`).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Vault password file: its content, or, when executable, what it prints (a
    /// `NAME-client` script is given `--vault-id LABEL`). May be repeated.
    #[arg(
        long = "vault-password-file",
        visible_alias = "vault-pass-file",
        value_name = "FILE"
    )]
    pub vault_password_files: Vec<PathBuf>,

    /// A vault password with its label: `[LABEL@]FILE`, `[LABEL@]SCRIPT` or `[LABEL@]prompt`.
    /// May be repeated; a payload encrypted with a label tries its own password first.
    #[arg(long = "vault-id", value_name = "[LABEL@]SOURCE")]
    pub vault_ids: Vec<String>,

    /// Ask for the vault password on the terminal (not echoed).
    #[arg(short = 'J', long = "ask-vault-pass", visible_alias = "ask-vault-password")]
    pub ask_vault_pass: bool,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// How to reach hosts, as ansible-playbook's flags say it; each is below the host's own
/// `ansible_*` variables and above `ANSIBLE_*` and `ansible.cfg` (`zdd config` shows those).
#[derive(Debug, Args, Clone, Default)]
pub struct ConnectionArgs {
    /// Connect as this user (below `ansible_user` and the `remote_user` keyword).
    #[arg(short = 'u', long = "user", value_name = "USER", help_heading = "Connection")]
    pub user: Option<String>,

    /// Authenticate with this private key (below `ansible_ssh_private_key_file`).
    #[arg(
        long = "private-key",
        visible_alias = "key-file",
        value_name = "FILE",
        help_heading = "Connection"
    )]
    pub private_key: Option<PathBuf>,

    /// SSH connect timeout in seconds (`ConnectTimeout`; below `ansible_ssh_timeout`).
    #[arg(short = 'T', long = "timeout", value_name = "SECONDS", value_parser = clap::value_parser!(u32).range(1..), help_heading = "Connection")]
    pub timeout: Option<u32>,

    /// Arguments for every ssh connection (below `ansible_ssh_common_args`).
    #[arg(
        long = "ssh-common-args",
        value_name = "ARGS",
        allow_hyphen_values = true,
        help_heading = "Connection"
    )]
    pub ssh_common_args: Option<String>,

    /// Arguments added to ssh's own (below `ansible_ssh_extra_args`).
    #[arg(
        long = "ssh-extra-args",
        value_name = "ARGS",
        allow_hyphen_values = true,
        help_heading = "Connection"
    )]
    pub ssh_extra_args: Option<String>,

    /// `ssh` (the default) or `local`: how hosts without `ansible_connection` are reached.
    #[arg(
        short = 'c',
        long = "connection",
        value_name = "TYPE",
        help_heading = "Connection"
    )]
    pub connection: Option<String>,

    /// Accepted for ansible-playbook's command line; zdd keeps no fact cache to flush.
    #[arg(long = "flush-cache", help_heading = "Connection")]
    pub flush_cache: bool,

    /// Become (sudo) on every task that does not say otherwise (below the `become`
    /// keyword and `ansible_become`).
    #[arg(short = 'b', long = "become", help_heading = "Privilege escalation")]
    pub become_enabled: bool,

    /// Become this user (default root; below the `become_user` keyword and
    /// `ansible_become_user`).
    #[arg(
        long = "become-user",
        value_name = "USER",
        help_heading = "Privilege escalation"
    )]
    pub become_user: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// How many hosts of a batch run a task at the same time (default: `forks` of
    /// ansible.cfg / `ANSIBLE_FORKS`, else 20).
    #[arg(short = 'f', long = "forks", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub forks: Option<u32>,

    /// Only run tasks (and blocks) tagged with one of these (comma-separated, may be
    /// repeated); `always` tasks run anyway, `never` tasks only when named.
    #[arg(short = 't', long = "tags", value_name = "TAGS", value_delimiter = ',')]
    pub tags: Vec<String>,

    /// Skip tasks tagged with one of these (comma-separated, may be repeated).
    #[arg(long = "skip-tags", value_name = "TAGS", value_delimiter = ',')]
    pub skip_tags: Vec<String>,

    /// Change nothing: report what would change. Commands are skipped unless their task
    /// says `check_mode: false`.
    #[arg(short = 'C', long = "check")]
    pub check: bool,

    /// Show what template, copy and file change.
    #[arg(short = 'D', long = "diff")]
    pub diff: bool,

    #[command(flatten)]
    pub traffic: TrafficArgs,

    /// Skip preflight (sudo and HAProxy socket checks; an unreachable host then fails its
    /// first task instead of stopping the run before anything changed).
    #[arg(long = "no-preflight")]
    pub no_preflight: bool,

    /// A run needing more SSH connections (masters) than this keeps open only those of
    /// the batch in flight, the next batch (opened while this one runs), the delegates
    /// and the load balancers' hosts, and closes each batch's when it ends: at most
    /// about 2 x batch + delegates. 0: keep every connection open.
    #[arg(long = "max-connections", value_name = "N", default_value_t = 256)]
    pub max_connections: u32,

    /// `human`: Ansible-style output. `json`: one JSON event per line on stdout (the
    /// human output then goes to stderr).
    #[arg(long = "output", short = 'o', value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,

    /// Where to record each finished batch (default:
    /// `.zdd/journal/<playbook>-<inventory>.json` in the current directory).
    #[arg(long = "journal", value_name = "PATH")]
    pub journal: Option<PathBuf>,

    /// Continue the last run of this playbook and inventory after a failure or an
    /// interruption: skip the batches it completed, start at the first unfinished one.
    #[arg(long = "resume")]
    pub resume: bool,

    /// With --resume: continue even though the playbook, inventory, -e or --limit changed.
    #[arg(long = "force", requires = "resume")]
    pub force: bool,

    /// Append one JSON line per command run on a host (time, host, delegate, task,
    /// command, rc, duration); `no_log` tasks' commands are censored.
    #[arg(long = "audit-log", value_name = "FILE")]
    pub audit_log: Option<PathBuf>,

    /// Write a JUnit XML report to FILE when the run ends (one testcase per host per
    /// task), for CI systems.
    #[arg(long = "junit", value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Write an HTML report to FILE when the run ends: one self-contained page with the
    /// timeline of each host, the probe's traffic, the recap and the command line.
    #[arg(long = "report", value_name = "FILE.html")]
    pub report: Option<PathBuf>,

    /// No live progress line (it is only drawn when stdout is a terminal).
    #[arg(long = "no-progress")]
    pub no_progress: bool,

    /// Only check the playbook, as `zdd check` does (ansible-playbook's flag).
    #[arg(long = "syntax-check")]
    pub syntax_check: bool,

    /// List each play's hosts, as ansible-playbook does, and connect to nothing.
    #[arg(long = "list-hosts")]
    pub list_hosts: bool,

    /// List each play's tasks with their tags, as ansible-playbook does, and connect to
    /// nothing.
    #[arg(long = "list-tasks")]
    pub list_tasks: bool,

    /// Skip the tasks before the first one with this name (a glob), in the first play
    /// that has one; later plays run whole.
    #[arg(long = "start-at-task", value_name = "NAME")]
    pub start_at_task: Option<String>,

    #[command(flatten)]
    pub access: crate::access::AccessArgs,

    /// Set when `zdd rollback` runs the playbook: what it undoes, for the journal.
    #[arg(skip)]
    pub rollback: Option<crate::journal::RollbackMark>,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  zdd rollback playbooks/zero-downtime.yml -i inventory.ini\n  zdd rollback site.yml -i hosts.ini --yes --probe http://lb/ --max-failed-requests 0\n\nExit codes as for apply; 5 when there is no journal or no earlier successful run to go back to (nothing is touched)."
)]
pub struct RollbackArgs {
    /// The playbook, inventory, vault and connection flags, as for `apply`. `-e` here is
    /// added after the recorded `-e` values (so it wins); `-l` replaces the recorded limit.
    #[command(flatten)]
    pub input: InputArgs,

    /// Do not ask for confirmation (needed when standard input is not a terminal).
    #[arg(short = 'y', long = "yes")]
    pub yes: bool,

    /// Say what the rollback would re-run and draw its `zdd plan` (batches, tasks), then
    /// stop: nothing is asked, nothing is contacted.
    #[arg(long = "plan", conflicts_with = "yes")]
    pub plan: bool,

    /// How many hosts of a batch run a task at the same time, as for `apply`.
    #[arg(short = 'f', long = "forks", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub forks: Option<u32>,

    /// A run needing more SSH connections (masters) than this keeps open only those of
    /// the batch in flight, the next batch (opened while this one runs), the delegates
    /// and the load balancers' hosts, and closes each batch's when it ends: at most
    /// about 2 x batch + delegates. 0: keep every connection open.
    #[arg(long = "max-connections", value_name = "N", default_value_t = 256)]
    pub max_connections: u32,

    #[command(flatten)]
    pub traffic: TrafficArgs,

    /// Show what template, copy and file change.
    #[arg(short = 'D', long = "diff")]
    pub diff: bool,

    /// `human` or `json`, as for `apply`.
    #[arg(long = "output", short = 'o', value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,

    /// The journal to read and write (default: the one `apply` writes for this playbook
    /// and inventory).
    #[arg(long = "journal", value_name = "PATH")]
    pub journal: Option<PathBuf>,

    /// Append one JSON line per command run on a host, as for `apply`.
    #[arg(long = "audit-log", value_name = "FILE")]
    pub audit_log: Option<PathBuf>,

    /// Write a JUnit XML report to FILE when the run ends.
    #[arg(long = "junit", value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Write an HTML report of the rollback to FILE when it ends, as for `apply`.
    #[arg(long = "report", value_name = "FILE.html")]
    pub report: Option<PathBuf>,

    /// No live progress line.
    #[arg(long = "no-progress")]
    pub no_progress: bool,

    #[command(flatten)]
    pub access: crate::access::AccessArgs,
}

/// The traffic through the load balancer while a rollout runs, and who hears of its end:
/// the same flags for `apply` and `rollback`.
#[derive(Debug, Args, Clone)]
pub struct TrafficArgs {
    /// While the rollout runs, send requests to this URL (the load balancer) and report
    /// requests, failures and latency at the end.
    #[arg(long = "probe", value_name = "URL")]
    pub probe: Option<String>,

    /// How many probe requests are in flight at once.
    #[arg(
        long = "probe-concurrency",
        value_name = "N",
        default_value_t = 4,
        requires = "probe"
    )]
    pub probe_concurrency: usize,

    /// Stop the rollout (exit 2) after the first batch that brings the probe's failed
    /// requests over N; no further batch starts.
    #[arg(long = "max-failed-requests", value_name = "N", requires = "probe")]
    pub max_failed_requests: Option<u64>,

    /// When the rollout ends (done, failed or interrupted), POST a JSON summary to this
    /// http:// URL: hosts upgraded/failed/untouched, out of rotation, probe figures,
    /// duration, exit code. A failed POST is reported, never changes the exit code.
    #[arg(long = "notify", value_name = "URL")]
    pub notify: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub input: InputArgs,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// `human`: an outline. `json`: one JSON document.
    #[arg(long = "output", short = 'o', value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// `human`: one line per setting. `json`: one JSON document.
    #[arg(long = "output", short = 'o', value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  zdd status playbooks/zero-downtime.yml -i inventory.ini\n  zdd status --journal /var/lib/deploy/journal.json"
)]
pub struct StatusArgs {
    /// The playbook whose last run to show (with -i, names the default journal).
    pub playbook: Option<PathBuf>,

    /// The inventory sources the playbook ran with (as many `-i` as `apply` had).
    #[arg(short = 'i', long = "inventory", value_name = "SOURCE")]
    pub inventory: Vec<String>,

    /// Read this journal (as written by `zdd apply --journal PATH`).
    #[arg(long = "journal", value_name = "PATH", conflicts_with = "playbook")]
    pub journal: Option<PathBuf>,

    /// `human`: a summary. `json`: the journal, with `resumable` and `next_batch` added.
    #[arg(long = "output", short = 'o', value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
}

#[derive(Debug, Args, Clone)]
#[command(
    after_help = "Examples:\n  zdd watch site.yml -i hosts.ini\n  zdd watch site.yml -i hosts.ini --health-url 'http://{{ ansible_host }}:8080/health' --interval 5s --failures 2\n\nHealth checks, first found per host: --health-url/--health-port, else the variables zdd_health_url (with zdd_health_status, zdd_health_contains) or zdd_health_port; the service: --service-url or zdd_service_url.\n\nExit codes: 0 stopped by --for, 2 a host was given up (left out of rotation), 4 a host was unreachable for a redeploy, 5 invalid input, 130 interrupted."
)]
pub struct WatchArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// A health URL per host, a template rendered with the host's variables
    /// (`http://{{ ansible_host }}:8080/`); 2xx/3xx is healthy.
    #[arg(long = "health-url", value_name = "TEMPLATE", help_heading = "Health checks")]
    pub health_url: Option<String>,

    /// A TCP port per host: healthy when a connection to `ansible_host` opens.
    #[arg(
        long = "health-port",
        value_name = "PORT",
        conflicts_with = "health_url",
        help_heading = "Health checks"
    )]
    pub health_port: Option<u16>,

    /// The service through the load balancer: when it fails `--failures` checks in a row,
    /// every host is redeployed.
    #[arg(long = "service-url", value_name = "URL", help_heading = "Health checks")]
    pub service_url: Option<String>,

    /// How often every check runs (`500ms`, `2s`, `1m`).
    #[arg(long = "interval", value_name = "DURATION", default_value = "10s", value_parser = parse_duration, help_heading = "Health checks")]
    pub interval: std::time::Duration,

    /// A check gets no answer within this long: it failed.
    #[arg(long = "check-timeout", value_name = "DURATION", default_value = "2s", value_parser = parse_duration, help_heading = "Health checks")]
    pub check_timeout: std::time::Duration,

    /// Consecutive failed checks before a host (or the service) is critical.
    #[arg(long = "failures", value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..), help_heading = "Health checks")]
    pub failures: u32,

    #[command(flatten)]
    pub healing: HealingArgs,

    /// Stop after this long (for tests, CI and cron).
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
    pub for_: Option<std::time::Duration>,

    /// How many hosts of a batch run a task at the same time, as for `apply`.
    #[arg(short = 'f', long = "forks", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub forks: Option<u32>,

    /// A run needing more SSH connections (masters) than this keeps open only those of
    /// the batch in flight, the next batch (opened while this one runs), the delegates
    /// and the load balancers' hosts, and closes each batch's when it ends: at most
    /// about 2 x batch + delegates. 0: keep every connection open.
    #[arg(long = "max-connections", value_name = "N", default_value_t = 256)]
    pub max_connections: u32,

    /// While the watch runs, send requests to this URL (the load balancer) and report
    /// requests, failures and latency when it ends.
    #[arg(long = "probe", value_name = "URL")]
    pub probe: Option<String>,

    /// How many probe requests are in flight at once.
    #[arg(
        long = "probe-concurrency",
        value_name = "N",
        default_value_t = 4,
        requires = "probe"
    )]
    pub probe_concurrency: usize,

    /// POST a JSON document to this http:// URL when a healing starts and when it ends
    /// (healed, not healed, given up with what is left out of rotation). A failed POST is
    /// reported, never changes anything else.
    #[arg(long = "notify", value_name = "URL")]
    pub notify: Option<String>,

    /// `human`: a line per failed check and state change, and each redeploy as `apply`
    /// prints it. `json`: one JSON event per line on stdout (every check included).
    #[arg(long = "output", short = 'o', value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,

    /// The journal redeploys write (default: the one `apply` writes for this playbook and
    /// inventory); the watch's state is kept beside it, in `PATH.watch.json`.
    #[arg(long = "journal", value_name = "PATH")]
    pub journal: Option<PathBuf>,

    /// Append one JSON line per command run on a host, as for `apply`.
    #[arg(long = "audit-log", value_name = "FILE")]
    pub audit_log: Option<PathBuf>,

    /// Write an HTML report to FILE after each redeploy and when the watch ends: the
    /// timeline of each host, the probe's traffic, the health states and redeploys.
    #[arg(long = "report", value_name = "FILE.html")]
    pub report: Option<PathBuf>,

    #[command(flatten)]
    pub access: crate::access::AccessArgs,
}

/// How often `zdd watch` and `zdd heal` may redeploy a host.
#[derive(Debug, Clone, Args)]
pub struct HealingArgs {
    /// At most this many redeploys per host in any hour; then zdd gives up on it (exit 2)
    /// and leaves it out of rotation.
    #[arg(
        long = "max-redeploys",
        value_name = "N",
        default_value_t = 3,
        help_heading = "Healing"
    )]
    pub max_redeploys: u32,

    /// The wait before a redeploy that did not heal is retried, doubled for each further
    /// one, at most 10 minutes (`30s`, `2m`, `500ms`).
    #[arg(long = "backoff", value_name = "DURATION", default_value = "30s", value_parser = parse_duration, help_heading = "Healing")]
    pub backoff: std::time::Duration,
}

impl HealingArgs {
    /// The healer's limits; `history`: where they are kept between processes.
    pub fn limits(&self, history: Option<PathBuf>) -> crate::watch::engine::HealLimits {
        crate::watch::engine::HealLimits {
            max_redeploys_per_hour: self.max_redeploys,
            backoff: self.backoff,
            history,
        }
    }
}

/// `500ms`, `2s`, `1m`, `1h`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    use std::time::Duration;
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (like 500ms, 2s, 1m)"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("`{other}` is not a unit of time: use ms, s, m or h")),
    };
    if seconds <= 0.0 {
        return Err(format!("`{text}`: a duration must be more than 0"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  zdd heal --playbook site.yml -i hosts.ini < payload.json\n  zdd heal --config /etc/zdd/heal.yml --state-dir /var/lib/zdd\n\nA critical check whose Node is a host of the playbook (by name, ansible_host, or first label) redeploys that host (--limit HOST); a critical service check on any other node (a check through the load balancer) redeploys every host; when every host is critical, one redeploy of all. Passing and warning checks do nothing.\n\nExit codes: 0 healed, or nothing to heal, or another run holds the rollout lock (nothing done); 2 not healed or given up (over --max-redeploys this hour); 4 a host unreachable; 5 a bad payload, config, playbook or inventory (nothing touched); 130 interrupted."
)]
pub struct HealArgs {
    /// The playbook that redeploys (with -i); for one service, without --config.
    #[arg(
        long = "playbook",
        value_name = "PLAYBOOK",
        required_unless_present = "config",
        conflicts_with = "config"
    )]
    pub playbook: Option<PathBuf>,

    /// Inventory sources for --playbook, as for `apply`.
    #[arg(
        short = 'i',
        long = "inventory",
        value_name = "SOURCE",
        conflicts_with = "config"
    )]
    pub inventory: Vec<String>,

    /// A YAML file naming, per Consul service, the playbook and inventory that redeploy it
    /// (`services: {NAME: {playbook, inventory, hosts, extra_vars}}`); checks of other
    /// services are reported and skipped.
    #[arg(long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Read the payload from this file instead of standard input.
    #[arg(long = "payload", value_name = "FILE")]
    pub payload: Option<PathBuf>,

    /// Extra variables for the redeploy, as for `apply` (after a service's `extra_vars`).
    #[arg(short = 'e', long = "extra-vars", value_name = "VARS")]
    pub extra_vars: Vec<String>,

    /// Only ever redeploy hosts matching this pattern.
    #[arg(
        short = 'l',
        long = "limit",
        value_name = "PATTERN",
        conflicts_with = "config"
    )]
    pub limit: Option<String>,

    #[command(flatten)]
    pub healing: HealingArgs,

    /// Where the journals and the redeploy history are kept, so the per-hour limit holds
    /// across Consul's calls (default `.zdd/journal` in the current directory; Consul runs
    /// handlers in its own: give an absolute path).
    #[arg(long = "state-dir", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// `human` or `json` (one JSON event per line on stdout), as for `apply`.
    #[arg(long = "output", short = 'o', value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,

    /// Append one JSON line per command run on a host, as for `apply`.
    #[arg(long = "audit-log", value_name = "FILE")]
    pub audit_log: Option<PathBuf>,

    /// POST JSON to this http:// URL when a heal starts (`healing`) and when it ends
    /// (`healed`, `not_healed`, `given_up` with what is left out of rotation, `busy`,
    /// `interrupted`). A failed POST is reported, never changes the exit code.
    #[arg(long = "notify", value_name = "URL")]
    pub notify: Option<String>,

    /// More output, as for `apply`.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Vault password file, as for `apply`. May be repeated.
    #[arg(
        long = "vault-password-file",
        visible_alias = "vault-pass-file",
        value_name = "FILE"
    )]
    pub vault_password_files: Vec<PathBuf>,

    /// A vault password with its label (`[LABEL@]FILE` or `[LABEL@]SCRIPT`), as for `apply`.
    #[arg(long = "vault-id", value_name = "[LABEL@]SOURCE")]
    pub vault_ids: Vec<String>,

    #[command(flatten)]
    pub connection: ConnectionArgs,
}
