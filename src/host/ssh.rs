//! An SSH host: one OpenSSH master per host, every command multiplexed over it.
//!
//! zdd starts the master itself (`ssh -M -N -S CTL ...`) so that `~/.ssh/config`, the agent,
//! known_hosts and `ansible_ssh_common_args` behave exactly as with plain `ssh`; commands
//! then go over the master's control socket through the `openssh` crate's native mux client
//! (one socket connection and one SSH channel per command, no local process).

use super::askpass::{self, AskpassFile};
use super::shell::{self, kill_script, Shell, StartFailure};
use super::Become;
use super::RemoteCommand;
use super::{
    command_line, is_sudo_refusal, stdin_payload, trace_text, CommandOutput, ConnectSpec, Host, HostError,
};
use async_trait::async_trait;
use openssh::{Session, Stdio};
use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio as ProcessStdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::sync::{watch, Semaphore};

/// sshd refuses more than `MaxSessions` (10 by default) channels on one connection; stay
/// below it and queue the rest.
pub const SESSIONS_PER_HOST: usize = 8;

/// How long a master may take to connect and authenticate before the host is unreachable
/// (`ConnectTimeout` only covers the TCP connect): 30 s, or longer with a longer timeout.
fn open_deadline(timeout: u32) -> Duration {
    Duration::from_secs(30.max(u64::from(timeout) + 20))
}

/// Retries of a connection that sshd dropped during key exchange (`MaxStartups`), with
/// exponential backoff: up to about 15 s in all, enough for a busy sshd to let us in.
const KEX_RETRIES: u32 = 8;

/// The `ssh` options every master gets first (ssh keeps the first value of an option, so
/// `ssh_args` cannot turn zdd's master into another kind of connection); `BatchMode`
/// follows, set by whether the master has a password to give.
const MASTER_OPTIONS: &[&str] = &["-o", "ControlPersist=no"];

/// Keep-alives, after the user's arguments (which may set their own).
const KEEPALIVE_OPTIONS: &[&str] = &["-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3"];

/// What became of a master process.
#[derive(Debug, Clone)]
enum MasterState {
    Running,
    /// The master exited; ssh's last words on stderr.
    Exited(String),
}

/// One master and the mux session over it: `reconnect` replaces it as a whole, and a
/// command holds the one it started on.
#[derive(Debug)]
struct Link {
    /// The master's control socket (`hold` runs a plain `ssh` client through it).
    ctl: PathBuf,
    session: Arc<Session>,
    master_pid: u32,
    /// Long-lived framed shells on this master (see `shell.rs`), by become user.
    shells: Mutex<ShellPool>,
    state: watch::Receiver<MasterState>,
    stop: watch::Sender<bool>,
}

impl Link {
    fn over(ctl: &Path, master: Master) -> Link {
        Link {
            ctl: ctl.to_owned(),
            session: Arc::new(Session::resume_mux(ctl.into(), None)),
            master_pid: master.pid,
            shells: Mutex::default(),
            state: master.state,
            stop: master.stop,
        }
    }

    /// The master's exit message if it has exited, waiting up to `grace` for it to do so
    /// (a dying connection closes its channels a moment before the process ends).
    async fn exit(&self, grace: Duration) -> Option<String> {
        let mut state = self.state.clone();
        let exited = tokio::time::timeout(grace, async {
            loop {
                if let MasterState::Exited(message) = &*state.borrow_and_update() {
                    return message.clone();
                }
                if state.changed().await.is_err() {
                    return String::new();
                }
            }
        })
        .await
        .ok()?;
        Some(exited)
    }
}

#[derive(Debug)]
pub struct SshHost {
    name: String,
    address: String,
    /// How the host was reached, for `reconnect`.
    spec: ConnectSpec,
    /// The first master's control socket; later masters get `CTL.1`, `CTL.2`, ... (a new
    /// path each: an old master that ends late removes its own socket, never the new one).
    first_ctl: PathBuf,
    reconnects: AtomicUsize,
    link: RwLock<Arc<Link>>,
    /// Masters replaced while something still ran over them (a held lock, a command of
    /// another task): kept until that is done, stopped at the latest by `close`.
    retired: Mutex<Vec<Arc<Link>>>,
    /// One reconnect at a time.
    renewing: tokio::sync::Mutex<()>,
    slots: Semaphore,
    closed: Mutex<bool>,
    /// Ordinary commands go through the link's shells.
    framed: AtomicBool,
    /// Commands being ended on the host after their caller gave up on them: `close`
    /// waits for them.
    kills: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl SshHost {
    /// Start a master for `spec` with its control socket at `ctl` and wait until it is
    /// connected and authenticated. A connection reset during key exchange (sshd's
    /// `MaxStartups` when many hosts connect at once) is retried a few times.
    pub async fn connect(spec: &ConnectSpec, ctl: &Path) -> Result<SshHost, HostError> {
        let mut attempt = 0;
        let mut retried = 0;
        let started = Instant::now();
        loop {
            match Master::start(spec, ctl).await {
                Ok(master) => {
                    tracing::debug!(
                        target: "zdd::ssh",
                        "<{}> connected to {} in {} ms (master pid {})",
                        spec.name,
                        spec.address,
                        started.elapsed().as_millis(),
                        master.pid
                    );
                    return Ok(SshHost::over(spec, ctl, master));
                }
                Err(message) if attempt < KEX_RETRIES && dropped_during_kex(&message) => {
                    tracing::debug!(target: "zdd::ssh", "<{}> dropped during key exchange, retrying: {}", spec.name, message.trim());
                    attempt += 1;
                    tokio::time::sleep(kex_backoff(&spec.name, attempt)).await;
                }
                // `retries` of the configuration: Ansible waits 2^n - 1 seconds (at most 30).
                Err(message) if retried < spec.retries => {
                    retried += 1;
                    let pause = Duration::from_secs(((1u64 << retried.min(5)) - 1).min(30));
                    tracing::debug!(target: "zdd::ssh", "<{}> connection failed, retry {retried} of {} in {pause:?}: {}", spec.name, spec.retries, message.trim());
                    tokio::time::sleep(pause).await;
                }
                Err(message) => return Err(HostError::Unreachable(message)),
            }
        }
    }

    fn over(spec: &ConnectSpec, ctl: &Path, master: Master) -> SshHost {
        SshHost {
            name: spec.name.clone(),
            address: spec.address.clone(),
            spec: spec.clone(),
            first_ctl: ctl.to_owned(),
            reconnects: AtomicUsize::new(0),
            link: RwLock::new(Arc::new(Link::over(ctl, master))),
            retired: Mutex::default(),
            renewing: tokio::sync::Mutex::new(()),
            slots: Semaphore::new(SESSIONS_PER_HOST),
            closed: Mutex::new(false),
            framed: AtomicBool::new(true),
            kills: Arc::default(),
        }
    }

    /// The connection commands go over now.
    fn link(&self) -> Arc<Link> {
        self.link.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn is_closed(&self) -> bool {
        *self.closed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stop the master and start a new one, once: the caller (a reboot, `wait_for_connection`)
    /// retries as long as it means to. Commands already running finish (or fail) on the
    /// old master; the ones that start later take the new one.
    async fn renew(&self, connect_timeout: Option<u32>) -> Result<(), HostError> {
        let _one = self.renewing.lock().await;
        let closed = || HostError::Unreachable(format!("connection to {} closed", self.address));
        if self.is_closed() {
            return Err(closed());
        }
        self.stop_unused_retired();
        let old = self.link();
        // Held here and in `self.link`: anything more is a command or a held lock riding
        // on it, which a healthy master keeps serving until it ends.
        let in_use = Arc::strong_count(&old) > 2;
        if in_use && old.exit(Duration::ZERO).await.is_none() {
            lock(&self.retired).push(old);
        } else {
            let _ = old.stop.send(true);
            let _ = old.exit(Duration::from_secs(3)).await;
        }
        let mut spec = self.spec.clone();
        if let Some(seconds) = connect_timeout {
            spec.timeout = seconds;
        }
        let n = self.reconnects.fetch_add(1, Ordering::Relaxed) + 1;
        let ctl = PathBuf::from(format!("{}.{n}", self.first_ctl.display()));
        let started = Instant::now();
        let master = Master::start(&spec, &ctl).await.map_err(|message| {
            tracing::debug!(target: "zdd::ssh", "<{}> reconnect failed: {}", self.name, message.trim());
            HostError::Unreachable(message)
        })?;
        tracing::debug!(
            target: "zdd::ssh",
            "<{}> reconnected to {} in {} ms (master pid {})",
            self.name,
            self.address,
            started.elapsed().as_millis(),
            master.pid
        );
        let link = Arc::new(Link::over(&ctl, master));
        // `close` may have come while this one connected: it must not outlive the run.
        let closed_now = self.is_closed();
        if closed_now {
            let _ = link.stop.send(true);
            let _ = link.exit(Duration::from_secs(3)).await;
            return Err(closed());
        }
        *self.link.write().unwrap_or_else(|e| e.into_inner()) = link;
        Ok(())
    }

    /// Stop the retired masters nothing runs over any more.
    fn stop_unused_retired(&self) {
        lock(&self.retired).retain(|link| {
            let unused = Arc::strong_count(link) == 1;
            if unused {
                let _ = link.stop.send(true);
            }
            !unused
        });
    }

    /// The pid of the local `ssh` master process.
    pub fn master_pid(&self) -> u32 {
        self.link().master_pid
    }

    /// Ask the master (and any retired one) to stop without waiting, unless a command that
    /// timed out is still being ended over it (`close` stops it after that).
    pub fn stop_now(&self) {
        if lock(&self.kills).iter().any(|kill| !kill.is_finished()) {
            return;
        }
        self.stop_masters();
    }

    /// Ask the master (and any retired one) to stop without waiting (for `Drop` paths).
    fn stop_masters(&self) {
        let _ = self.link().stop.send(true);
        for link in lock(&self.retired).iter() {
            let _ = link.stop.send(true);
        }
    }

    fn unreachable(&self, message: &str) -> HostError {
        let message = message.trim();
        HostError::Unreachable(if message.is_empty() {
            format!("connection to {} lost", self.address)
        } else {
            format!("connection to {} lost: {message}", self.address)
        })
    }

    async fn run_once(&self, link: &Link, cmd: &RemoteCommand) -> Result<CommandOutput, RunFailure> {
        let line = command_line(cmd);
        tracing::debug!(target: "zdd::cmd", "<{}> EXEC {}", self.name, trace_text(cmd));
        let started = Instant::now();
        let mut command = link.session.raw_command(line);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().await.map_err(RunFailure::Open)?;
        if let Some(mut stdin) = child.stdin().take() {
            let data = stdin_payload(cmd);
            // Feed stdin on the side so a command that does not read it cannot block us.
            tokio::spawn(async move {
                let _ = stdin.write_all(&data).await;
            });
        }
        let mut stdout_pipe = child.stdout().take();
        let mut stderr_pipe = child.stderr().take();
        let (stdout, stderr) = tokio::join!(read_all(&mut stdout_pipe), read_all(&mut stderr_pipe));
        let rc = match child.wait().await {
            Ok(status) => status.code().unwrap_or(-1),
            // The crate turns exit status 127 into an error; for a shell it is an rc.
            Err(openssh::Error::Remote(e)) if e.kind() == io::ErrorKind::NotFound => 127,
            Err(e) => return Err(RunFailure::Lost(e)),
        };
        tracing::debug!(
            target: "zdd::cmd",
            "<{}> rc={rc} in {} ms",
            self.name,
            started.elapsed().as_millis()
        );
        Ok(CommandOutput {
            rc,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
    }

    async fn run_in_slot(
        &self,
        cmd: &RemoteCommand,
        deadline: Option<Instant>,
    ) -> Result<CommandOutput, HostError> {
        let timed_out = || HostError::Timeout(cmd.timeout.unwrap_or_default());
        let acquire = self.slots.acquire();
        let _slot = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline.into(), acquire)
                .await
                .map_err(|_| timed_out())?,
            None => acquire.await,
        }
        .map_err(|_| self.unreachable("closed"))?;
        let link = self.link();
        if self.framed.load(Ordering::Relaxed) && shell::frameable(cmd) {
            if let Some(done) = self.run_framed(&link, cmd, deadline).await {
                return done;
            }
        }
        let fresh = self.run_fresh(&link, cmd);
        match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline.into(), fresh)
                .await
                .map_err(|_| timed_out())?,
            None => fresh.await,
        }
    }

    /// Run `cmd` in one of the link's shells for its user, starting one if there is room;
    /// `None` where it takes a fresh session instead (no room, or no shell could start:
    /// the fresh session then fails as commands always did, e.g. a sudo that refuses).
    async fn run_framed(
        &self,
        link: &Arc<Link>,
        cmd: &RemoteCommand,
        deadline: Option<Instant>,
    ) -> Option<Result<CommandOutput, HostError>> {
        let user = cmd.run_as.clone();
        let lease = lock(&link.shells).take(&user);
        let mut shell = match lease {
            Lease::Fresh => return None,
            Lease::Idle(shell) => shell,
            Lease::Start => {
                let started = Instant::now();
                match Shell::start(&link.session, user.clone()).await {
                    Ok(shell) => {
                        tracing::debug!(target: "zdd::ssh", "<{}> shell started in {} ms (pid {}, pgid {})", self.name, started.elapsed().as_millis(), shell.pid, shell.pgid);
                        shell
                    }
                    Err(failure) => {
                        let mut pool = lock(&link.shells);
                        pool.open -= 1;
                        tracing::debug!(target: "zdd::ssh", "<{}> no shell: {failure:?}", self.name);
                        if let StartFailure::Ended(said) = failure {
                            if user.is_some() && is_sudo_refusal(&said) {
                                pool.refused.insert(user);
                            }
                        }
                        return None;
                    }
                }
            }
        };
        let Some(frame) = shell.frame(cmd) else {
            lock(&link.shells).idle.push((user, shell));
            return None;
        };
        tracing::debug!(target: "zdd::cmd", "<{}> EXEC {}", self.name, trace_text(cmd));
        let started = Instant::now();
        // Until the command has answered: if this future is dropped (the task's own
        // `timeout`, a cancelled run), the command is ended on the host behind our back.
        let mut running = Running {
            link: link.clone(),
            pid: shell.pid,
            user: user.clone(),
            kills: self.kills.clone(),
            answered: false,
        };
        let exec = shell.exec(&frame);
        let result = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline.into(), exec).await,
            None => Ok(exec.await),
        };
        match result {
            Ok(Ok(out)) => {
                running.answered = true;
                tracing::debug!(target: "zdd::cmd", "<{}> rc={} in {} ms", self.name, out.rc, started.elapsed().as_millis());
                lock(&link.shells).idle.push((user, shell));
                Some(Ok(out))
            }
            Ok(Err(e)) => {
                running.answered = true;
                drop(shell);
                lock(&link.shells).open -= 1;
                if let Some(message) = link.exit(Duration::from_secs(2)).await {
                    return Some(Err(self.unreachable(&message)));
                }
                // The shell died under its command (the command killed it): as a session
                // whose process ended by a signal.
                Some(Ok(CommandOutput {
                    rc: -1,
                    stdout: String::new(),
                    stderr: format!("remote process terminated ({e})"),
                }))
            }
            Err(_) => {
                running.answered = true;
                let pid = shell.pid;
                drop(shell);
                lock(&link.shells).open -= 1;
                // The command goes on running on the host: end it, with the shell and
                // every process below it, as the same user.
                kill_below(link.clone(), pid, user).await;
                tracing::debug!(target: "zdd::cmd", "<{}> timed out: ended the shell {pid} and what ran below it", self.name);
                Some(Err(HostError::Timeout(cmd.timeout.unwrap_or_default())))
            }
        }
    }

    async fn run_fresh(&self, link: &Link, cmd: &RemoteCommand) -> Result<CommandOutput, HostError> {
        let mut refusals = 0;
        loop {
            if let Some(message) = link.exit(Duration::ZERO).await {
                return Err(self.unreachable(&message));
            }
            match self.run_once(link, cmd).await {
                Ok(out) => return Ok(out),
                Err(failure) => {
                    // Whatever went wrong, a master that is gone means the host is.
                    if let Some(message) = link.exit(Duration::from_secs(2)).await {
                        return Err(self.unreachable(&message));
                    }
                    match failure {
                        // Another client of the same sshd may hold sessions: wait and retry.
                        RunFailure::Open(e) if refusals < 20 && is_session_refusal(&e) => {
                            refusals += 1;
                            tokio::time::sleep(Duration::from_millis(50 * refusals)).await;
                        }
                        RunFailure::Open(e) => {
                            return Err(self.unreachable(&format!("cannot open a session: {e}")))
                        }
                        RunFailure::Lost(openssh::Error::RemoteProcessTerminated) => {
                            return Ok(CommandOutput {
                                rc: -1,
                                stdout: String::new(),
                                stderr: "remote process terminated by a signal".into(),
                            })
                        }
                        RunFailure::Lost(e) => return Err(self.unreachable(&e.to_string())),
                    }
                }
            }
        }
    }

    /// Send ordinary commands through long-lived shells (the default) or a fresh session
    /// each (for comparison: the per-command benchmark).
    pub fn set_framed(&self, on: bool) {
        self.framed.store(on, Ordering::Relaxed);
    }
}

/// A framed command in flight (see `run_framed`).
struct Running {
    link: Arc<Link>,
    pid: u32,
    user: Option<Become>,
    kills: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    answered: bool,
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        // Its shell is dropped with it.
        lock(&self.link.shells).open -= 1;
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let kill = kill_below(self.link.clone(), self.pid, self.user.take());
            lock(&self.kills).push(runtime.spawn(kill));
        }
    }
}

/// End the shell `pid` and every process below it on the host, as `user`, over a fresh
/// session (10 s at most).
async fn kill_below(link: Arc<Link>, pid: u32, user: Option<Become>) {
    let kill = RemoteCommand {
        script: kill_script(pid),
        run_as: user,
        ..Default::default()
    };
    let run = async {
        let mut command = link.session.raw_command(command_line(&kill));
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Ok(mut child) = command.spawn().await {
            if let Some(mut stdin) = child.stdin().take() {
                let _ = stdin.write_all(&stdin_payload(&kill)).await;
            }
            let _ = child.wait().await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), run).await;
}

/// Shells kept per master, over all users: with the fresh sessions beside them (raw,
/// large input, held locks, more commands at once) a host stays under sshd's MaxSessions.
const SHELLS_PER_HOST: usize = 4;

#[derive(Debug, Default)]
struct ShellPool {
    idle: Vec<(Option<Become>, Shell)>,
    /// Shells started and not yet dropped, idle or running a command.
    open: usize,
    /// Users no shell could start as (sudo refused): their commands take fresh sessions.
    refused: HashSet<Option<Become>>,
}

enum Lease {
    Idle(Shell),
    Start,
    Fresh,
}

impl ShellPool {
    fn take(&mut self, user: &Option<Become>) -> Lease {
        if self.refused.contains(user) {
            return Lease::Fresh;
        }
        if let Some(i) = self.idle.iter().position(|(u, _)| u == user) {
            return Lease::Idle(self.idle.swap_remove(i).1);
        }
        if self.open >= SHELLS_PER_HOST {
            if self.idle.is_empty() {
                return Lease::Fresh;
            }
            // An idle shell of another user makes room.
            self.idle.remove(0);
            self.open -= 1;
        }
        self.open += 1;
        Lease::Start
    }
}

enum RunFailure {
    /// The session could not be opened.
    Open(openssh::Error),
    /// The session ended without an exit status.
    Lost(openssh::Error),
}

fn is_session_refusal(e: &openssh::Error) -> bool {
    let text = format!("{e} {:?}", e);
    text.contains("refused") && !text.contains("ConnectionRefused")
}

async fn read_all<R: tokio::io::AsyncRead + Unpin>(pipe: &mut Option<R>) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Some(pipe) = pipe {
        let _ = pipe.read_to_end(&mut buf).await;
    }
    buf
}

/// sshd dropped the connection before authentication: worth another try.
/// How long to wait before retrying a dropped handshake: doubling from 200 ms up to 3.2 s,
/// spread by a per-host, per-attempt jitter so that the hosts dropped together do not all
/// come back at the same instant and get dropped again.
fn kex_backoff(host: &str, attempt: u32) -> Duration {
    use std::hash::{Hash, Hasher};
    let base = 100u64 << attempt.min(5);
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (host, attempt, std::time::SystemTime::now()).hash(&mut hasher);
    Duration::from_millis(base / 2 + hasher.finish() % base)
}

fn dropped_during_kex(message: &str) -> bool {
    message.contains("kex_exchange_identification")
        || message.contains("Connection reset by peer")
        || message.contains("Connection closed by remote host")
        || message.contains("banner exchange")
}

#[async_trait]
impl Host for SshHost {
    fn name(&self) -> &str {
        &self.name
    }

    async fn run(&self, cmd: &RemoteCommand) -> Result<CommandOutput, HostError> {
        let deadline = cmd.timeout.map(|limit| Instant::now() + limit);
        let out = self.run_in_slot(cmd, deadline).await?;
        if cmd.run_as.is_some() && out.rc != 0 && is_sudo_refusal(&out.stderr) {
            return Err(HostError::Become(out.stderr.trim().to_owned()));
        }
        Ok(out)
    }

    async fn close(&self) {
        {
            let mut closed = self.closed.lock().unwrap_or_else(|e| e.into_inner());
            if *closed {
                return;
            }
            *closed = true;
        }
        self.slots.close();
        let kills = std::mem::take(&mut *lock(&self.kills));
        for kill in kills {
            let _ = kill.await;
        }
        // A reconnect in flight sees `closed` and stops its own master.
        self.stop_masters();
        let retired = std::mem::take(&mut *lock(&self.retired));
        // Wait until the masters are reaped, so that no process outlives `close`.
        for link in retired.iter().chain([&self.link()]) {
            let _ = link.exit(Duration::from_secs(5)).await;
        }
    }

    async fn reconnect(&self, connect_timeout: Option<u32>) -> Result<(), HostError> {
        self.renew(connect_timeout).await
    }

    /// An `ssh` client over the current master's socket (user and port are the master's).
    fn rsync_shell(&self) -> Option<super::RsyncShell> {
        let ctl = self.link().ctl.display().to_string();
        let rsh = ["ssh", "-S", &ctl, "-o", "ControlMaster=no"];
        Some(super::RsyncShell {
            rsh: Some(rsh.iter().map(|s| s.to_string()).collect()),
            host: Some(self.address.clone()),
        })
    }

    /// A plain `ssh` client over the master's socket: its process can outlive any one
    /// call, which the mux client's children (borrowing the session) cannot.
    async fn hold(&self, cmd: &RemoteCommand) -> Result<(String, super::Held), HostError> {
        let link = self.link();
        let mut command = Command::new("ssh");
        command
            .arg("-S")
            .arg(&link.ctl)
            .args(["-o", "ControlMaster=no", "-T", "--", &self.address])
            .arg(command_line(cmd));
        let (line, held) = super::hold_process(command, cmd).await?;
        // The master stays while the command is held, even if a reconnect replaces it.
        Ok((line, held.over(link)))
    }
}

impl Drop for SshHost {
    fn drop(&mut self) {
        self.stop_masters();
    }
}

/// A running `ssh -M` process, watched by a task that reaps it.
struct Master {
    pid: u32,
    state: watch::Receiver<MasterState>,
    stop: watch::Sender<bool>,
}

impl Master {
    /// Spawn the master and wait for its control socket; on failure, ssh's stderr.
    async fn start(spec: &ConnectSpec, ctl: &Path) -> Result<Master, String> {
        let _ = std::fs::remove_file(ctl);
        // The password file lives only until the master is in (or has failed).
        let askpass = match &spec.password {
            Some(password) => Some(
                AskpassFile::write(ctl.with_extension("pw"), password)
                    .map_err(|e| format!("cannot hand the SSH password to ssh: {e}"))?,
            ),
            None => None,
        };
        let mut command = master_command(spec, ctl, askpass.as_ref())?;
        tracing::debug!(target: "zdd::ssh", "<{}> SSH MASTER {:?}", spec.name, command.as_std());
        let mut child = command.spawn().map_err(|e| format!("cannot run ssh: {e}"))?;
        let pid = child.id().unwrap_or(0);
        let stderr = child.stderr.take();
        let (state_tx, state) = watch::channel(MasterState::Running);
        let (stop, stop_rx) = watch::channel(false);
        tokio::spawn(watch_master(child, stderr, state_tx, stop_rx));
        let master = Master { pid, state, stop };
        master.ready(ctl, open_deadline(spec.timeout)).await?;
        Ok(master)
    }

    async fn ready(&self, ctl: &Path, deadline: Duration) -> Result<(), String> {
        let started = Instant::now();
        let mut state = self.state.clone();
        loop {
            if let MasterState::Exited(message) = &*state.borrow_and_update() {
                return Err(message.trim().to_owned());
            }
            if ctl.exists() {
                return Ok(());
            }
            if started.elapsed() > deadline {
                let _ = self.stop.send(true);
                return Err(format!("ssh did not connect within {deadline:?}"));
            }
            let _ = tokio::time::timeout(Duration::from_millis(5), state.changed()).await;
        }
    }
}

/// The master's `ssh` command. Without a password it never asks anything (`BatchMode`);
/// with one it asks zdd itself, once, through askpass (ssh takes the first value of an
/// option, so these come before the user's own `-o`s).
fn master_command(spec: &ConnectSpec, ctl: &Path, askpass: Option<&AskpassFile>) -> Result<Command, String> {
    let mut command = Command::new("ssh");
    command.args(["-M", "-N", "-S"]).arg(ctl).args(MASTER_OPTIONS);
    match askpass {
        None => {
            command.args(["-o", "BatchMode=yes"]);
        }
        Some(file) => {
            let program =
                askpass::program().map_err(|e| format!("cannot find zdd's own binary for askpass: {e}"))?;
            command
                .args(["-o", "BatchMode=no", "-o", "NumberOfPasswordPrompts=1"])
                .env("SSH_ASKPASS", program)
                .env("SSH_ASKPASS_REQUIRE", "force")
                .env(askpass::FILE_VAR, file.path());
        }
    }
    command.args(&spec.base_args);
    if !spec.host_key_checking {
        command.args(["-o", "StrictHostKeyChecking=no"]);
    }
    if let Some(port) = spec.port {
        command.arg("-p").arg(port.to_string());
    }
    if let Some(user) = &spec.user {
        command.arg("-l").arg(user);
    }
    if let Some(key) = &spec.private_key {
        command.arg("-i").arg(key);
    }
    command
        .arg("-o")
        .arg(format!("ConnectTimeout={}", spec.timeout))
        .args(KEEPALIVE_OPTIONS)
        .args(&spec.ssh_args)
        .arg("--")
        .arg(&spec.address)
        .stdin(ProcessStdio::null())
        .stdout(ProcessStdio::null())
        .stderr(ProcessStdio::piped())
        .kill_on_drop(true);
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(move || {
            // Its own process group: a Ctrl-C at the terminal must not end the masters while
            // zdd finishes the batch in flight.
            if libc::setpgid(0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // No master outlives zdd, even a SIGKILLed one.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    Ok(command)
}

/// Reap the master, stopping it when asked, and publish its exit with its stderr.
async fn watch_master(
    mut child: Child,
    stderr: Option<tokio::process::ChildStderr>,
    state: watch::Sender<MasterState>,
    mut stop: watch::Receiver<bool>,
) {
    let log = Arc::new(Mutex::new(Vec::<u8>::new()));
    let reader = stderr.map(|mut pipe| {
        let log = log.clone();
        tokio::spawn(async move {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut chunk).await {
                let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
                // Keep the tail: the reason a master ended is its last line.
                if log.len() > 16 * 1024 {
                    log.drain(..8 * 1024);
                }
                log.extend_from_slice(&chunk[..n]);
            }
        })
    });
    let asked_to_stop = tokio::select! {
        _ = child.wait() => false,
        _ = stop.wait_for(|stop| *stop) => true,
    };
    if asked_to_stop {
        if let Some(pid) = child.id() {
            // SIGTERM lets ssh say goodbye to the server and remove its socket.
            // SAFETY: the child is not reaped yet, so the pid is still ours.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        }
        if tokio::time::timeout(Duration::from_secs(2), child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
        }
    }
    if let Some(reader) = reader {
        // A ProxyCommand may hold stderr open a little longer.
        let _ = tokio::time::timeout(Duration::from_secs(1), reader).await;
    }
    let message = String::from_utf8_lossy(&log.lock().unwrap_or_else(|e| e.into_inner()))
        .lines()
        .filter(|line| !line.starts_with("Warning: Permanently added"))
        .collect::<Vec<_>>()
        .join("\n");
    let message = if asked_to_stop && message.is_empty() {
        "connection closed".to_owned()
    } else {
        message
    };
    let _ = state.send(MasterState::Exited(message));
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A control socket path for the master of host number `index` under `dir`.
pub fn control_path(dir: &Path, index: usize) -> PathBuf {
    dir.join(format!("{index}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kex_backoff_grows_and_spreads_hosts() {
        for attempt in 1..=8 {
            let base = 100u64 << attempt.min(5);
            let d = kex_backoff("web1", attempt).as_millis() as u64;
            assert!(
                (base / 2..base / 2 + base).contains(&d),
                "attempt {attempt}: {d} ms"
            );
        }
        let waits: std::collections::HashSet<_> =
            (0..20).map(|i| kex_backoff(&format!("web{i}"), 3)).collect();
        assert!(waits.len() > 10, "hosts should not retry in lockstep: {waits:?}");
    }
}
