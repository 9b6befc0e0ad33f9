//! All connections of a run: opened by preflight, closed at any exit. A run with more
//! hosts than `--max-connections` closes some (`close`) and opens them again later (`get`).

use super::local::LocalHost;
use super::ssh::{control_path, SshHost};
use super::{ConnectSpec, Host, HostError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use tokio::sync::{OnceCell, Semaphore};

/// Masters authenticating at the same time: key exchange is CPU-bound, and beyond this
/// many the machine only gets slower.
const CONCURRENT_HANDSHAKES: usize = 64;

type Opened = Result<Arc<dyn Host>, HostError>;

#[derive(Debug)]
pub struct Connections {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// One cell per way of reaching a host (name, address, user, port, ...): a second
    /// `get` waits for the first one's open; a task with another `remote_user` or `port`
    /// gets a connection of its own.
    hosts: Mutex<HashMap<ConnectSpec, Arc<OnceCell<Opened>>>>,
    masters: Mutex<Vec<(ConnectSpec, Arc<SshHost>)>>,
    /// The most masters open at once so far.
    peak: AtomicUsize,
    /// Masters started again after `close`.
    reopened: AtomicUsize,
    /// Specs `close` closed: a later open of one of them is a reopen.
    closed_once: Mutex<std::collections::HashSet<ConnectSpec>>,
    dir: Mutex<Option<ControlDir>>,
    /// `control_path_dir`: where the control directory is made instead of `/tmp`.
    control_base: Option<PathBuf>,
    next_socket: AtomicUsize,
    handshakes: Semaphore,
}

impl Default for Connections {
    fn default() -> Self {
        Connections::with_control_dir(None)
    }
}

impl Connections {
    pub fn new() -> Self {
        Connections::default()
    }

    /// Connections whose control sockets go under `base` (`control_path_dir`), created
    /// (0700) if missing; `None`: under `/tmp`.
    pub fn with_control_dir(base: Option<PathBuf>) -> Self {
        // Here, not where connections open: preflight and the window open them one by one.
        raise_fd_limit();
        Connections {
            inner: Arc::new(Inner {
                hosts: Mutex::default(),
                masters: Mutex::default(),
                peak: AtomicUsize::new(0),
                reopened: AtomicUsize::new(0),
                closed_once: Mutex::default(),
                dir: Mutex::default(),
                control_base: base,
                next_socket: AtomicUsize::new(0),
                handshakes: Semaphore::new(CONCURRENT_HANDSHAKES),
            }),
        }
    }

    /// Open every connection concurrently; one result per spec, in order.
    pub async fn open_all(&self, specs: &[ConnectSpec]) -> Vec<Result<Arc<dyn Host>, HostError>> {
        let tasks: Vec<_> = specs
            .iter()
            .map(|spec| {
                let inner = self.inner.clone();
                let spec = spec.clone();
                tokio::spawn(async move { inner.get(&spec).await })
            })
            .collect();
        let mut results = Vec::with_capacity(tasks.len());
        for task in tasks {
            results.push(task.await.unwrap_or_else(|e| {
                Err(HostError::Unreachable(format!(
                    "opening the connection failed: {e}"
                )))
            }));
        }
        results
    }

    /// The open connection for `spec`, opening it now if it is not open yet.
    pub async fn get(&self, spec: &ConnectSpec) -> Result<Arc<dyn Host>, HostError> {
        self.inner.get(spec).await
    }

    /// Open `specs`, at most `at_once` at a time; failures are left in place for the
    /// first `get` to report (the host is then unreachable, as a task finds it).
    pub async fn open_ahead(&self, specs: &[ConnectSpec], at_once: usize) {
        let turns = Semaphore::new(at_once.max(1));
        let opens = specs.iter().map(|spec| {
            let turns = &turns;
            async move {
                let _turn = turns.acquire().await;
                let _ = self.inner.get(spec).await;
            }
        });
        futures::future::join_all(opens).await;
    }

    /// Close the master of `spec` and wait for its process; a later `get` opens it again.
    /// Refused (false) while anything else holds the connection: a task running over it,
    /// or a command still reading its result.
    pub async fn close(&self, spec: &ConnectSpec) -> bool {
        let master = {
            let mut hosts = lock(&self.inner.hosts);
            let mut masters = lock(&self.inner.masters);
            let Some(at) = masters.iter().position(|(s, _)| s == spec) else {
                // Never opened, or it failed to open: forget a cached failure too.
                hosts.remove(spec);
                return true;
            };
            // One count in `masters`, one in the open cell: anything more is a user.
            if Arc::strong_count(&masters[at].1) > 2 {
                return false;
            }
            hosts.remove(spec);
            lock(&self.inner.closed_once).insert(spec.clone());
            masters.swap_remove(at).1
        };
        tracing::debug!(target: "zdd::ssh", "<{}> closing its connection (master pid {})", spec.name, master.master_pid());
        master.close().await;
        true
    }

    /// The specs of the masters open now.
    pub fn open_specs(&self) -> Vec<ConnectSpec> {
        lock(&self.inner.masters).iter().map(|(s, _)| s.clone()).collect()
    }

    /// The most masters that were open at once, and how many were opened again after a close.
    pub fn peak_masters(&self) -> (usize, usize) {
        (
            self.inner.peak.load(Ordering::Relaxed),
            self.inner.reopened.load(Ordering::Relaxed),
        )
    }

    /// Close every master. Called on every exit path, signals included.
    pub async fn close_all(&self) {
        let masters = std::mem::take(&mut *lock(&self.inner.masters));
        lock(&self.inner.hosts).clear();
        for (_, master) in &masters {
            master.stop_now();
        }
        for (_, master) in &masters {
            master.close().await;
        }
        lock(&self.inner.dir).take();
    }

    /// The pids of the `ssh` master processes currently open.
    pub fn master_pids(&self) -> Vec<u32> {
        lock(&self.inner.masters)
            .iter()
            .map(|(_, m)| m.master_pid())
            .collect()
    }

    /// The directory holding the control sockets, once one master was started.
    pub fn control_dir(&self) -> Option<PathBuf> {
        lock(&self.inner.dir).as_ref().map(|d| d.path.clone())
    }
}

impl Drop for Connections {
    fn drop(&mut self) {
        for (_, master) in lock(&self.inner.masters).iter() {
            master.stop_now();
        }
    }
}

impl Inner {
    async fn get(&self, spec: &ConnectSpec) -> Opened {
        let cell = lock(&self.hosts).entry(spec.clone()).or_default().clone();
        cell.get_or_init(|| self.open(spec)).await.clone()
    }

    async fn open(&self, spec: &ConnectSpec) -> Opened {
        if spec.local {
            return Ok(Arc::new(LocalHost::new(spec.name.clone())));
        }
        let ctl = {
            let mut dir = lock(&self.dir);
            if dir.is_none() {
                *dir = Some(ControlDir::create(self.control_base.as_deref()).map_err(|e| {
                    HostError::Unreachable(format!("cannot create a control directory: {e}"))
                })?);
            }
            let index = self.next_socket.fetch_add(1, Ordering::Relaxed);
            control_path(&dir.as_ref().expect("just created").path, index)
        };
        let _turn = self.handshakes.acquire().await;
        let host = Arc::new(SshHost::connect(spec, &ctl).await?);
        let open = {
            let mut masters = lock(&self.masters);
            masters.push((spec.clone(), host.clone()));
            masters.len()
        };
        self.peak.fetch_max(open, Ordering::Relaxed);
        if lock(&self.closed_once).contains(spec) {
            self.reopened.fetch_add(1, Ordering::Relaxed);
        }
        Ok(host)
    }
}

/// A private directory for control sockets, short enough for a unix socket path (~100
/// bytes) whatever `TMPDIR` is. Removed on drop.
#[derive(Debug)]
struct ControlDir {
    path: PathBuf,
}

impl ControlDir {
    fn create(configured: Option<&Path>) -> std::io::Result<ControlDir> {
        use std::os::unix::fs::DirBuilderExt;
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let mut last_error = None;
        let bases = match configured {
            Some(base) => {
                // A unix socket path holds ~100 bytes: a deeper directory cannot work.
                if base.as_os_str().len() >= 60 {
                    return Err(std::io::Error::other(format!(
                        "control_path_dir {} is too long for a control socket (keep it under 60 bytes)",
                        base.display()
                    )));
                }
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(base)?;
                vec![base.to_owned()]
            }
            None => vec![Path::new("/tmp").to_owned(), std::env::temp_dir()],
        };
        for base in bases.iter().filter(|b| b.as_os_str().len() < 60) {
            remove_stale(base);
            for _ in 0..100 {
                let n = NEXT.fetch_add(1, Ordering::Relaxed);
                let path = base.join(format!("zdd-{}-{n}", std::process::id()));
                match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                    Ok(()) => return Ok(ControlDir { path }),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    Err(e) => {
                        last_error = Some(e);
                        break;
                    }
                }
            }
        }
        Err(last_error.unwrap_or_else(|| std::io::Error::other("no usable temporary directory")))
    }
}

/// Remove the control directories of zdd processes that were killed before they could.
fn remove_stale(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("zdd-"))
            .and_then(|n| n.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        // SAFETY: signal 0 only checks whether the process exists.
        let gone = unsafe { libc::kill(pid, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Drop for ControlDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Each master costs zdd a few descriptors; 200 hosts need more than the usual soft
/// limit of 1024 once commands run in parallel.
fn raise_fd_limit() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: plain syscalls on a stack value.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
                limit.rlim_cur = limit.rlim_max.min(65536);
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            }
        }
    });
}
