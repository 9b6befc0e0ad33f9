//! Hosts behind one trait: an SSH host (one multiplexed master per host) or the local
//! machine. Modules turn their work into shell commands and files; a host runs them.

use crate::vars::VarMap;
use async_trait::async_trait;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub mod askpass;
pub mod background;
pub mod env;
pub mod local;
pub mod password;
pub mod pool;
pub mod settings;
pub mod shell;
pub mod ssh;

pub use password::Password;
pub use pool::Connections;
pub use settings::{BecomeDefaults, ConnectionSettings};

/// Run the command as another user (`become`): through `sudo` (with or without a
/// password) or `su` (without one: as root, or to a user that needs none).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Become {
    pub user: String,
    /// `sudo` or `su`; anything else is refused before any host is touched.
    pub method: String,
    /// The become password (`-K`, `ansible_become_password`), fed to sudo on stdin.
    pub password: Option<Password>,
}

impl Become {
    /// `sudo` to `user` without a password.
    pub fn sudo(user: impl Into<String>) -> Become {
        Become {
            user: user.into(),
            method: "sudo".into(),
            password: None,
        }
    }
}

/// The become methods zdd knows.
pub const BECOME_METHODS: &[&str] = &["sudo", "su"];

/// Why zdd cannot become as `b` says, if it cannot: a method it does not know, or `su`
/// with a password (su reads it from a terminal only, and zdd's commands have none).
pub fn become_problem(b: &Become) -> Option<String> {
    if !BECOME_METHODS.contains(&b.method.as_str()) {
        return Some(format!(
            "become_method `{}` is not supported by zdd (use sudo or su)",
            b.method
        ));
    }
    if b.method == "su" && b.password.is_some() {
        return Some(
            "become_method `su` with a become password is not supported (without a terminal, su \
             would read the script with its password): connect as root, or use sudo"
                .into(),
        );
    }
    None
}

/// A piece of POSIX shell to run on a host, as the connecting user or through `become`.
#[derive(Debug, Clone, Default)]
pub struct RemoteCommand {
    /// Shell source; run by `sh -c` on the target (behind sudo or su with become).
    pub script: String,
    /// Bytes fed to the command's standard input (how files travel to the host).
    pub stdin: Option<Vec<u8>>,
    pub run_as: Option<Become>,
    /// Give up after this long (the command is then failed, the host is not).
    pub timeout: Option<Duration>,
    /// A `no_log` task's command: never written to a log or trace.
    pub no_log: bool,
    /// Ansible's `raw`: the script is the command line itself, run by the login shell of
    /// the connecting user with nothing on standard input, no bootstrap around it. Under
    /// `become` it takes the usual way (sudo needs the bootstrap for its password).
    pub raw: bool,
}

impl RemoteCommand {
    pub fn new(script: impl Into<String>) -> Self {
        RemoteCommand {
            script: script.into(),
            ..Default::default()
        }
    }

    pub fn stdin(mut self, data: Vec<u8>) -> Self {
        self.stdin = Some(data);
        self
    }

    pub fn run_as(mut self, run_as: Option<Become>) -> Self {
        self.run_as = run_as;
        self
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOutput {
    pub rc: i32,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum HostError {
    /// The host cannot be reached, or the connection died: Ansible's UNREACHABLE.
    #[error("{0}")]
    Unreachable(String),
    /// The command did not finish in time.
    #[error("command timed out after {0:?}")]
    Timeout(Duration),
    /// `become` was asked for and sudo refused (needs a password, user not in sudoers).
    #[error("{0}")]
    Become(String),
}

#[async_trait]
pub trait Host: Send + Sync + std::fmt::Debug {
    /// The inventory name.
    fn name(&self) -> &str;
    async fn run(&self, cmd: &RemoteCommand) -> Result<CommandOutput, HostError>;
    /// Close the connection (ends an SSH master). Idempotent.
    async fn close(&self);

    /// Start `cmd` and keep it running, its standard input open, until the returned guard
    /// is dropped (or zdd dies): how zdd holds a lock on a host for a whole run. Returns
    /// the first line the command prints.
    async fn hold(&self, _cmd: &RemoteCommand) -> Result<(String, Held), HostError> {
        Err(HostError::Unreachable(format!(
            "{}: this connection cannot keep a command running",
            self.name()
        )))
    }

    /// Drop the connection and open a new one to the same host (one that rebooted, or
    /// whose sshd restarted): later commands, of this task and the next ones, go over the
    /// new one. `connect_timeout` (seconds) replaces the connection's own for this
    /// connect. A host without a connection to renew (the local machine) has nothing to do.
    async fn reconnect(&self, _connect_timeout: Option<u32>) -> Result<(), HostError> {
        Ok(())
    }

    /// Commands run on the controller itself (`ansible_connection=local`).
    fn is_local(&self) -> bool {
        false
    }

    /// How the controller's `rsync` reaches this host (`synchronize`), read at call time
    /// (a reconnect may have replaced the SSH master). `None`: it cannot.
    fn rsync_shell(&self) -> Option<RsyncShell> {
        None
    }
}

/// Where the controller's `rsync` goes for a host: `rsh` is the `--rsh` command line (an
/// `ssh` client riding on zdd's own master, so nothing authenticates again) and `host`
/// the `HOST:` prefix of the remote path; both `None` for the local machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsyncShell {
    pub rsh: Option<Vec<String>>,
    pub host: Option<String>,
}

/// A command `Host::hold` keeps running: dropping it closes its standard input and ends
/// the local process that carries it.
#[derive(Debug)]
pub struct Held {
    _child: tokio::process::Child,
    _stdin: Option<tokio::process::ChildStdin>,
    /// What the command runs over (an SSH master), kept for as long as it is held.
    carrier: Option<Arc<dyn std::any::Any + Send + Sync>>,
}

impl Held {
    /// Keep `carrier` (the connection the command runs over) while the command is held.
    pub(crate) fn over(mut self, carrier: Arc<dyn std::any::Any + Send + Sync>) -> Held {
        self.carrier = Some(carrier);
        self
    }
}

/// Spawn `command` (whose last argument runs `cmd`'s bootstrap), feed it `cmd`'s script,
/// keep its standard input open, and read its first line of output (10 s at most).
pub(crate) async fn hold_process(
    mut command: tokio::process::Command,
    cmd: &RemoteCommand,
) -> Result<(String, Held), HostError> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(|| {
            // It ends with zdd, however zdd ends, and so does what it holds.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let lost = |e: std::io::Error| HostError::Unreachable(format!("cannot start a held command: {e}"));
    let mut child = command.spawn().map_err(lost)?;
    let mut stdin = child.stdin.take();
    if let Some(pipe) = stdin.as_mut() {
        pipe.write_all(&stdin_payload(cmd)).await.map_err(lost)?;
        pipe.flush().await.map_err(lost)?;
    }
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| lost(std::io::ErrorKind::BrokenPipe.into()))?;
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(stdout);
    let read = reader.read_line(&mut line);
    match tokio::time::timeout(Duration::from_secs(10), read).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(lost(e)),
        Err(_) => return Err(HostError::Timeout(Duration::from_secs(10))),
    }
    Ok((
        line.trim_end().to_owned(),
        Held {
            _child: child,
            _stdin: stdin,
            carrier: None,
        },
    ))
}

/// How to reach one host, from its inventory variables.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnectSpec {
    /// The inventory name.
    pub name: String,
    /// `ansible_host`, or the inventory name.
    pub address: String,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub private_key: Option<PathBuf>,
    /// `ansible_ssh_common_args` and `ansible_ssh_extra_args`, split like a shell would.
    pub ssh_args: Vec<String>,
    /// `ansible_ssh_args` (or `ssh_args` of the configuration): before every other option.
    pub base_args: Vec<String>,
    /// `ansible_ssh_timeout`: SSH's `ConnectTimeout`, in seconds.
    pub timeout: u32,
    /// `ansible_host_key_checking`: false adds `-o StrictHostKeyChecking=no`.
    pub host_key_checking: bool,
    /// `ansible_ssh_retries`: how many more times a failed master is started.
    pub retries: u32,
    /// `ansible_connection=local`.
    pub local: bool,
    /// The SSH password (`-k`, `ansible_password`): given to ssh through askpass.
    pub password: Option<Password>,
}

/// The `remote_user` and `port` keywords of a task, rendered: they apply where the
/// inventory (or `-e`) sets no `ansible_user`/`ansible_port`, as in Ansible, whose
/// connection variables win over play and task keywords.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ConnectDefaults {
    pub user: Option<String>,
    pub port: Option<u16>,
}

impl ConnectSpec {
    /// A host reached by its name over SSH with default settings (what an inventory host
    /// without connection variables gets).
    pub fn named(name: &str) -> ConnectSpec {
        ConnectSpec::from_vars(name, &VarMap::new(), &ConnectionSettings::default())
            .expect("no variables, nothing to refuse")
    }

    /// This spec with `defaults` filling what the inventory left unset: a second user or
    /// port is a second connection to the host.
    pub fn with_defaults(mut self, defaults: &ConnectDefaults) -> ConnectSpec {
        if self.user.is_none() {
            self.user = defaults.user.clone();
        }
        if self.port.is_none() {
            self.port = defaults.port;
        }
        self
    }

    /// Read `ansible_host`, `ansible_port`, `ansible_user`, `ansible_ssh_private_key_file`,
    /// `ansible_ssh_args`, `ansible_ssh_common_args`, `ansible_ssh_extra_args`,
    /// `ansible_ssh_timeout`, `ansible_host_key_checking`, `ansible_ssh_retries`,
    /// `ansible_connection`, `ansible_password` (and the old `ansible_ssh_host`/
    /// `ansible_ssh_port`/`ansible_ssh_user`/`ansible_ssh_pass`/`ansible_ssh_password`
    /// spellings, which win when both are set, as in Ansible's ssh plugin, where they come
    /// later); `settings` fill what they leave unset, except the user, which the task's
    /// `remote_user` comes before (see `with_defaults`). Values must
    /// already be templated.
    pub fn from_vars(
        name: &str,
        vars: &VarMap,
        settings: &ConnectionSettings,
    ) -> Result<ConnectSpec, String> {
        let text = |keys: &[&str]| -> Option<String> {
            keys.iter().find_map(|k| match vars.get(*k)? {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                serde_json::Value::Bool(b) => Some(b.to_string()),
                _ => None,
            })
        };
        let number = |keys: &[&str]| -> Result<Option<u32>, String> {
            match text(keys) {
                Some(n) => n
                    .trim()
                    .parse::<u32>()
                    .map(Some)
                    .map_err(|_| format!("{} `{n}` is not a whole number", keys[0])),
                None => Ok(None),
            }
        };
        let port = match text(&["ansible_ssh_port", "ansible_port"]) {
            Some(p) => Some(
                p.parse::<u16>()
                    .map_err(|_| format!("ansible_port `{p}` is not a port number"))?,
            ),
            None => None,
        };
        let words = |key: &str, fallback: &[String]| -> Result<Vec<String>, String> {
            match text(&[key]) {
                Some(args) => shell_words::split(&args).map_err(|e| format!("{key}: {e}")),
                None => Ok(fallback.to_vec()),
            }
        };
        let mut ssh_args = words("ansible_ssh_common_args", &settings.ssh_common_args)?;
        ssh_args.extend(words("ansible_ssh_extra_args", &settings.ssh_extra_args)?);
        let host_key_checking = match text(&["ansible_host_key_checking", "ansible_ssh_host_key_checking"]) {
            Some(v) => crate::config::parse_bool(&v)
                .ok_or_else(|| format!("ansible_host_key_checking `{v}` is not a boolean"))?,
            None => settings.host_key_checking,
        };
        let local = match text(&["ansible_connection"]) {
            None => settings.local,
            Some(connection) => match connection.as_str() {
                "local" => true,
                "ssh" | "smart" | "paramiko" => false,
                other => {
                    return Err(format!(
                        "ansible_connection `{other}` is not supported (use ssh or local)"
                    ))
                }
            },
        };
        Ok(ConnectSpec {
            name: name.to_owned(),
            address: text(&["ansible_ssh_host", "ansible_host"]).unwrap_or_else(|| name.to_owned()),
            port,
            user: text(&["ansible_ssh_user", "ansible_user"]),
            private_key: text(&["ansible_ssh_private_key_file", "ansible_private_key_file"])
                .map(PathBuf::from)
                .or_else(|| settings.private_key.clone()),
            ssh_args,
            base_args: words("ansible_ssh_args", &settings.ssh_args)?,
            timeout: number(&["ansible_ssh_timeout"])?.unwrap_or(settings.timeout),
            host_key_checking,
            retries: number(&["ansible_ssh_retries"])?.unwrap_or(settings.retries),
            local,
            password: text(&["ansible_ssh_password", "ansible_ssh_pass", "ansible_password"])
                .map(Password::new)
                .transpose()
                .map_err(|e| format!("ansible_password: {e}"))?,
        })
    }
}

/// The command line a host hands to its shell. It is the same short bootstrap for every
/// command: the script itself travels on standard input (see `stdin_payload`), so that no
/// value in it (a password, a token) is ever in a process list or in sudo's log on the
/// target. `head -c N` reads exactly the script's bytes and leaves the rest of standard
/// input (a file's content) to the script. Wrapped in `sudo -n -H -u USER --` for
/// `become` (non-interactive: a password prompt is a failure, never a hang), in
/// `sudo -S -p '' -H -u USER --` with a become password, in `su -s /bin/sh -c ... USER`
/// for `become_method: su`.
///
/// With a password, standard input starts with the password line, two pad lines and an
/// end line (see `stdin_payload`). sudo reads its password one byte at a time up to the
/// line's end, so a sudo that asks takes exactly the password line. A sudo that does not
/// ask (`NOPASSWD`, cached credentials) leaves it there: so the bootstrap first reads and
/// drops every line up to the end line, whichever sudo did, and the script starts right
/// after it either way. A wrong password makes sudo read the pad lines as its next tries
/// (3 by default) and give up without running anything, before it reaches the script.
/// The end line is random per run: no password can be mistaken for it.
pub fn command_line(cmd: &RemoteCommand) -> String {
    if is_raw(cmd) {
        return cmd.script.clone();
    }
    let mut bootstrap = format!(
        "zdd_script=$(head -c {}) && eval \"$zdd_script\"",
        cmd.script.len()
    );
    let run_as = cmd.run_as.as_ref();
    if run_as.is_some_and(|b| b.password.is_some()) {
        bootstrap = format!(
            "while IFS= read -r zdd_line && [ \"$zdd_line\" != {} ]; do :; done; zdd_line=; {bootstrap}",
            password_end_line()
        );
    }
    let inner = format!("sh -c {}", sh_quote(&bootstrap));
    match run_as {
        None => inner,
        Some(b) if b.method == "su" => su_line(&b.user, &bootstrap),
        Some(b) if b.password.is_some() => {
            format!("sudo -S -p '' -H -u {} -- {inner}", sh_quote(&b.user))
        }
        Some(b) => format!("sudo -n -H -u {} -- {inner}", sh_quote(&b.user)),
    }
}

/// The command goes as it is, without the bootstrap (`raw` without `become`).
fn is_raw(cmd: &RemoteCommand) -> bool {
    cmd.raw && cmd.run_as.is_none()
}

/// `su` to `user`, running `bootstrap`. su asks for a password where the caller is not
/// root, and without a terminal it reads it from standard input, in one `read` that can
/// take the script with it. So su first runs `true` with no input: where that fails, su
/// would ask, and the command stops there, before any of its standard input is read.
fn su_line(user: &str, bootstrap: &str) -> String {
    let user = sh_quote(user);
    let probe = format!(
        "su -s /bin/sh -c true {user} </dev/null >/dev/null 2>&1 || \
         {{ echo \"su: su to {user} asks for a password here; zdd uses su only where it asks none (connect as root, or use sudo)\" >&2; exit 1; }}; \
         exec su -s /bin/sh -c {} {user}",
        sh_quote(bootstrap)
    );
    format!("sh -c {}", sh_quote(&probe))
}

/// What the command reads on standard input: the become password lines (see
/// `command_line`), its script, then its own input, if any.
pub fn stdin_payload(cmd: &RemoteCommand) -> Vec<u8> {
    if is_raw(cmd) {
        return Vec::new();
    }
    let data = cmd.stdin.as_deref().unwrap_or_default();
    let mut payload = Vec::with_capacity(cmd.script.len() + data.len());
    if let Some(password) = cmd.run_as.as_ref().and_then(|b| b.password.as_ref()) {
        payload.extend_from_slice(password.expose().as_bytes());
        payload.extend_from_slice(b"\nzdd-pad\nzdd-pad\n");
        payload.extend_from_slice(password_end_line().as_bytes());
        payload.push(b'\n');
    }
    payload.extend_from_slice(cmd.script.as_bytes());
    payload.extend_from_slice(data);
    payload
}

/// The line that ends the become password lines: random per run.
fn password_end_line() -> &'static str {
    static LINE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    LINE.get_or_init(|| random_token("zdd-end"))
}

/// `PREFIX-` and 24 random hex digits: a line or mark no one types (from /dev/urandom, or
/// where there is none, the time and pid).
pub(crate) fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 12];
    let random =
        std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
    if random.is_err() {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
            ^ u128::from(std::process::id());
        bytes.copy_from_slice(&seed.to_le_bytes()[..12]);
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}-{hex}")
}

/// The command as `-vv` shows it: the script, or `<censored>` for a `no_log` task or a
/// script that holds a value from Vault.
pub fn trace_text(cmd: &RemoteCommand) -> &str {
    if cmd.no_log || crate::vault::reveals_str(&cmd.script) {
        crate::audit::CENSORED
    } else {
        &cmd.script
    }
}

/// sudo's (or su's) own complaint when it cannot become: a password is needed, the
/// password was wrong, the user may not.
pub fn is_sudo_refusal(stderr: &str) -> bool {
    stderr.starts_with("sudo: a password is required")
        || stderr.starts_with("sudo: a terminal is required")
        || stderr.contains("is not in the sudoers file")
        || is_wrong_password(stderr)
        || stderr.starts_with("su: ")
}

/// sudo refused the become password it was given.
pub fn is_wrong_password(stderr: &str) -> bool {
    stderr.contains("incorrect password attempt") || stderr.starts_with("Sorry, try again.")
}

/// Quote a string for POSIX sh.
pub fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:@,+%".contains(&b))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// A script from a `.sh` file with its arguments set first, each one quoted: the file
/// reads `"$name"`, so no value is ever parsed as shell.
pub fn sh_script(vars: &[(&str, &str)], body: &str) -> String {
    let mut script = String::new();
    for (name, value) in vars {
        script.push_str(&format!("{name}={}\n", sh_quote(value)));
    }
    script.push_str(body);
    script
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn connect_spec_reads_ansible_connection_vars() {
        let vars = VarMap::from([
            ("ansible_host".into(), json!("127.0.0.2")),
            ("ansible_port".into(), json!(2222)),
            ("ansible_user".into(), json!("deploy")),
            (
                "ansible_ssh_common_args".into(),
                json!("-o StrictHostKeyChecking=no -o 'UserKnownHostsFile /dev/null'"),
            ),
        ]);
        let spec = ConnectSpec::from_vars("web1", &vars, &ConnectionSettings::default()).unwrap();
        assert_eq!(spec.address, "127.0.0.2");
        assert_eq!(spec.port, Some(2222));
        assert_eq!(spec.user.as_deref(), Some("deploy"));
        assert_eq!(
            spec.ssh_args,
            [
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile /dev/null"
            ]
        );
        assert!(!spec.local);
        let bad = VarMap::from([("ansible_port".into(), json!("twenty"))]);
        assert!(
            ConnectSpec::from_vars("web1", &bad, &ConnectionSettings::default())
                .unwrap_err()
                .contains("not a port")
        );
    }

    #[test]
    fn host_variables_win_over_the_run_settings() {
        let settings = ConnectionSettings {
            user: Some("cli".into()),
            private_key: Some("/k/cli".into()),
            timeout: 5,
            ssh_args: vec!["-C".into()],
            ssh_common_args: vec!["-o".into(), "A=1".into()],
            ssh_extra_args: vec!["-o".into(), "B=1".into()],
            host_key_checking: false,
            retries: 2,
            local: true,
            ..ConnectionSettings::default()
        };
        let from_settings = ConnectSpec::from_vars("web1", &VarMap::new(), &settings).unwrap();
        // The user is filled later, below the task's remote_user (`with_defaults`).
        assert_eq!(from_settings.user, None);
        assert_eq!(from_settings.private_key, Some(PathBuf::from("/k/cli")));
        assert_eq!(from_settings.ssh_args, ["-o", "A=1", "-o", "B=1"]);
        assert_eq!(from_settings.base_args, ["-C"]);
        assert_eq!((from_settings.timeout, from_settings.retries), (5, 2));
        assert!(!from_settings.host_key_checking && from_settings.local);
        let vars = VarMap::from([
            ("ansible_ssh_private_key_file".into(), json!("/k/var")),
            ("ansible_ssh_common_args".into(), json!("-o A=2")),
            ("ansible_ssh_args".into(), json!("")),
            ("ansible_ssh_timeout".into(), json!(9)),
            ("ansible_host_key_checking".into(), json!(true)),
            ("ansible_connection".into(), json!("ssh")),
        ]);
        let from_vars = ConnectSpec::from_vars("web1", &vars, &settings).unwrap();
        assert_eq!(from_vars.private_key, Some(PathBuf::from("/k/var")));
        assert_eq!(from_vars.ssh_args, ["-o", "A=2", "-o", "B=1"]);
        assert!(from_vars.base_args.is_empty());
        assert_eq!(from_vars.timeout, 9);
        assert!(from_vars.host_key_checking && !from_vars.local);
        let bad = VarMap::from([("ansible_host_key_checking".into(), json!("maybe"))]);
        assert!(ConnectSpec::from_vars("web1", &bad, &settings)
            .unwrap_err()
            .contains("not a boolean"));
    }

    #[test]
    fn legacy_ssh_spellings_are_read_and_win_over_the_new_ones() {
        let legacy = VarMap::from([
            ("ansible_ssh_host".into(), json!("10.0.0.9")),
            ("ansible_ssh_port".into(), json!("2209")),
            ("ansible_ssh_user".into(), json!("old")),
            ("ansible_ssh_pass".into(), json!("secret")),
        ]);
        let spec = ConnectSpec::from_vars("web1", &legacy, &ConnectionSettings::default()).unwrap();
        assert_eq!(
            (spec.address.as_str(), spec.port, spec.user.as_deref()),
            ("10.0.0.9", Some(2209), Some("old"))
        );
        let both = VarMap::from_iter(legacy.into_iter().chain([
            ("ansible_host".into(), json!("10.0.0.1")),
            ("ansible_port".into(), json!(22)),
            ("ansible_user".into(), json!("new")),
        ]));
        let spec = ConnectSpec::from_vars("web1", &both, &ConnectionSettings::default()).unwrap();
        assert_eq!(
            (spec.address.as_str(), spec.port, spec.user.as_deref()),
            ("10.0.0.9", Some(2209), Some("old"))
        );
    }

    #[test]
    fn command_line_wraps_become_in_non_interactive_sudo_and_never_holds_the_script() {
        let plain = RemoteCommand::new("echo 'S3CRET'").stdin(b"data".to_vec());
        assert_eq!(
            command_line(&plain),
            r#"sh -c 'zdd_script=$(head -c 13) && eval "$zdd_script"'"#
        );
        assert_eq!(stdin_payload(&plain), b"echo 'S3CRET'data");
        let root = plain.run_as(Some(Become::sudo("root")));
        assert_eq!(
            command_line(&root),
            r#"sudo -n -H -u root -- sh -c 'zdd_script=$(head -c 13) && eval "$zdd_script"'"#
        );
        assert!(!command_line(&root).contains("S3CRET"));
    }

    #[test]
    fn become_password_travels_on_stdin_before_the_script_never_on_the_command_line() {
        let mut run_as = Become::sudo("app");
        run_as.password = Some(Password::new("pa ss'wd").unwrap());
        let cmd = RemoteCommand::new("id -un").run_as(Some(run_as.clone()));
        let line = command_line(&cmd);
        let end = password_end_line();
        assert_eq!(
            line,
            format!(
                "sudo -S -p '' -H -u app -- sh -c 'while IFS= read -r zdd_line && [ \"$zdd_line\" != {end} ]; \
                 do :; done; zdd_line=; zdd_script=$(head -c 6) && eval \"$zdd_script\"'"
            )
        );
        assert!(!line.contains("pa ss"));
        assert_eq!(
            String::from_utf8(stdin_payload(&cmd)).unwrap(),
            format!("pa ss'wd\nzdd-pad\nzdd-pad\n{end}\nid -un")
        );
        run_as.method = "su".into();
        run_as.password = None;
        let su = RemoteCommand::new("id -un").run_as(Some(run_as));
        assert_eq!(
            command_line(&su),
            r#"sh -c 'su -s /bin/sh -c true app </dev/null >/dev/null 2>&1 || { echo "su: su to app asks for a password here; zdd uses su only where it asks none (connect as root, or use sudo)" >&2; exit 1; }; exec su -s /bin/sh -c '\''zdd_script=$(head -c 6) && eval "$zdd_script"'\'' app'"#
        );
        assert_eq!(stdin_payload(&su), b"id -un");
    }

    #[tokio::test]
    async fn the_script_starts_after_the_password_lines_whether_or_not_sudo_reads_them() {
        // Without sudo: the bootstrap alone, as a NOPASSWD sudo leaves standard input.
        let mut run_as = Become::sudo("root");
        run_as.password = Some(Password::new("s3cret").unwrap());
        let cmd = RemoteCommand::new("cat")
            .stdin(b"data\n".to_vec())
            .run_as(Some(run_as));
        let line = command_line(&cmd);
        let inner = line.split_once(" -- ").unwrap().1;
        let mut child = tokio::process::Command::new("sh")
            .args(["-c", inner])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&stdin_payload(&cmd)).await.unwrap();
        drop(stdin);
        let out = child.wait_with_output().await.unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "data\n");
    }

    #[test]
    fn sh_quote_quotes_only_when_needed() {
        assert_eq!(sh_quote("/etc/nginx.conf"), "/etc/nginx.conf");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(sh_quote(""), "''");
    }
}
