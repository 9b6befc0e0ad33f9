//! The SSH host and the connection pool against real sshd processes on loopback.
//!
//! Each test runs its own sshd on its own 127.0.20x.0/24 net, port 2222, so tests run in
//! parallel with each other and with the lab. Needs root (creates the `deploy` user).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};
use zdd::host::{Become, ConnectSpec, Connections, HostError, RemoteCommand};

const PORT: u16 = 2222;
/// A user sshd lets in but sudo does not.
const NO_SUDO_USER: &str = "zddnosudo";

/// An sshd listening on some loopback addresses, with its own host key, client key and
/// known_hosts. Killed (with every session process it forked) on drop.
struct Sshd {
    child: Child,
    dir: tempfile::TempDir,
    addresses: Vec<String>,
}

impl Sshd {
    fn start(addresses: &[String]) -> Sshd {
        Sshd::with_max_startups(addresses, "10:30:100")
    }

    /// sshd listens on at most 16 addresses.
    fn with_max_startups(addresses: &[String], max_startups: &str) -> Sshd {
        ensure_users();
        let dir = tempfile::Builder::new().prefix("zdd-sshd").tempdir().unwrap();
        // sshd reads authorized_keys as the user.
        chmod(dir.path(), 0o755);
        let path = |name: &str| dir.path().join(name);
        keygen(&path("host_key"));
        keygen(&path("client_key"));
        std::fs::copy(path("client_key.pub"), path("authorized_keys")).unwrap();
        chmod(&path("authorized_keys"), 0o644);
        let host_pub = std::fs::read_to_string(path("host_key.pub")).unwrap();
        let host_pub = host_pub.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        let known: String = addresses
            .iter()
            .map(|a| format!("[{a}]:{PORT} {host_pub}\n"))
            .collect();
        std::fs::write(path("known_hosts"), known).unwrap();
        let mut config = String::new();
        for a in addresses {
            config.push_str(&format!("ListenAddress {a}:{PORT}\n"));
        }
        config.push_str(&format!(
            "HostKey {}\nAuthorizedKeysFile {}\nStrictModes no\nUsePAM no\nPidFile none\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nMaxStartups {max_startups}\n",
            path("host_key").display(),
            path("authorized_keys").display()
        ));
        std::fs::write(path("sshd_config"), config).unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(path("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(path("sshd.log")).unwrap())
            .spawn()
            .unwrap();
        let sshd = Sshd {
            child,
            dir,
            addresses: addresses.to_vec(),
        };
        sshd.wait_listening();
        sshd
    }

    fn on(net: u8) -> Sshd {
        Sshd::start(&[format!("127.0.{net}.10")])
    }

    fn wait_listening(&self) {
        let started = Instant::now();
        for a in &self.addresses {
            while std::net::TcpStream::connect((a.as_str(), PORT)).is_err() {
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "sshd did not listen on {a}: {}",
                    self.log()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    fn spec(&self, name: &str, address: &str, user: &str) -> ConnectSpec {
        ConnectSpec {
            name: name.into(),
            address: address.into(),
            port: Some(PORT),
            user: Some(user.into()),
            private_key: Some(self.dir.path().join("client_key")),
            ssh_args: vec![
                "-o".into(),
                format!(
                    "UserKnownHostsFile={}",
                    self.dir.path().join("known_hosts").display()
                ),
                "-o".into(),
                "IdentitiesOnly=yes".into(),
            ],
            local: false,
            ..ConnectSpec::named("")
        }
    }

    fn deploy(&self) -> ConnectSpec {
        self.spec("web1", &self.addresses[0], "deploy")
    }

    /// The per-connection sshd processes forked by this sshd.
    fn sessions(&self) -> Vec<i32> {
        descendants(self.child.id() as i32)
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let sessions = self.sessions();
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in sessions {
            // SAFETY: plain kill of a process this test's sshd forked.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::kill(pid, libc::SIGCONT);
            }
        }
    }
}

fn descendants(root: i32) -> Vec<i32> {
    let mut parents: Vec<(i32, i32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may contain spaces, so split after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
            parents.push((pid, ppid));
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(parents.iter().filter(|(_, pp)| *pp == parent).map(|(p, _)| *p));
        i += 1;
    }
    found.remove(0);
    found
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn keygen(path: &PathBuf) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

fn sh(script: &str) -> bool {
    Command::new("sh")
        .args(["-c", script])
        .status()
        .unwrap()
        .success()
}

/// `deploy` with passwordless sudo, and a user without sudo rights. Both need a password
/// field sshd does not consider locked (`*`, not `!`) since UsePAM is off.
fn ensure_users() {
    static USERS: Once = Once::new();
    USERS.call_once(|| {
        for user in ["deploy", NO_SUDO_USER] {
            for _ in 0..50 {
                if sh(&format!("id -u {user} >/dev/null 2>&1"))
                    || sh(&format!("useradd -m -s /bin/bash -p '*' {user}"))
                {
                    break;
                }
                // Another process holds the passwd lock: the lab may be adding it too.
                std::thread::sleep(Duration::from_millis(100));
            }
            assert!(sh(&format!(
                "getent shadow {user} | cut -d: -f2 | grep -q '^!' && usermod -p '*' {user}; \
                 id -u {user} >/dev/null"
            )));
        }
        if !Path::new("/etc/sudoers.d/zdd-deploy").exists() {
            let tmp = "/etc/sudoers.d/.zdd-deploy.tmp";
            std::fs::write(tmp, "deploy ALL=(ALL) NOPASSWD: ALL\n").unwrap();
            chmod(Path::new(tmp), 0o440);
            std::fs::rename(tmp, "/etc/sudoers.d/zdd-deploy").unwrap();
        }
    });
}

fn root() -> Option<Become> {
    Some(Become::sudo("root"))
}

fn pid_alive(pid: u32) -> bool {
    // Zombies count as gone: they are reaped by their parent, which is us.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

#[tokio::test]
async fn runs_a_command_with_stdin_and_reports_rc() {
    let sshd = Sshd::on(201);
    let pool = Connections::new();
    let host = pool.get(&sshd.deploy()).await.unwrap();
    assert_eq!(host.name(), "web1");
    let out = host
        .run(&RemoteCommand::new("cat; whoami; echo oops >&2; exit 3").stdin(b"hello\n".to_vec()))
        .await
        .unwrap();
    assert_eq!(out.stdout, "hello\ndeploy\n");
    assert_eq!(out.stderr, "oops\n");
    assert_eq!(out.rc, 3);
    // 127 is an rc like any other (the openssh crate reports it as an error).
    let out = host
        .run(&RemoteCommand::new("no-such-command-zdd"))
        .await
        .unwrap();
    assert_eq!(out.rc, 127);
    assert!(out.stderr.contains("not found"), "{}", out.stderr);
    // A large stdin travels whole.
    let big: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
    let out = host
        .run(&RemoteCommand::new("wc -c").stdin(big.clone()))
        .await
        .unwrap();
    assert_eq!(out.stdout.trim(), big.len().to_string());
    let mut slow = RemoteCommand::new("sleep 5");
    slow.timeout = Some(Duration::from_millis(300));
    let started = Instant::now();
    assert!(matches!(host.run(&slow).await, Err(HostError::Timeout(_))));
    assert!(started.elapsed() < Duration::from_secs(2));
    pool.close_all().await;
}

#[tokio::test]
async fn become_root_through_sudo() {
    let sshd = Sshd::on(202);
    let pool = Connections::new();
    let host = pool.get(&sshd.deploy()).await.unwrap();
    let out = host
        .run(
            &RemoteCommand::new("id -u; cat")
                .stdin(b"x".to_vec())
                .run_as(root()),
        )
        .await
        .unwrap();
    assert_eq!((out.rc, out.stdout.as_str()), (0, "0\nx"));
    pool.close_all().await;
}

#[tokio::test]
async fn become_refusal_is_a_become_error() {
    let sshd = Sshd::on(203);
    let pool = Connections::new();
    let spec = sshd.spec("web1", &sshd.addresses[0], NO_SUDO_USER);
    let host = pool.get(&spec).await.unwrap();
    let mut cmd = RemoteCommand::new("id -u").run_as(root());
    cmd.timeout = Some(Duration::from_secs(20));
    match host.run(&cmd).await {
        Err(HostError::Become(message)) => assert!(message.starts_with("sudo:"), "{message}"),
        other => panic!("expected a become error, got {other:?}"),
    }
    pool.close_all().await;
}

#[tokio::test]
async fn thirty_concurrent_commands_on_one_host() {
    let sshd = Sshd::on(204);
    let pool = Connections::new();
    let host = pool.get(&sshd.deploy()).await.unwrap();
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let host = host.clone();
            tokio::spawn(async move {
                host.run(&RemoteCommand::new(format!("sleep 0.3; echo {i}")))
                    .await
            })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        let out = task.await.unwrap().unwrap();
        assert_eq!(out.stdout, format!("{i}\n"));
    }
    // Queued below MaxSessions, not refused and retried.
    assert!(!sshd.log().contains("no more sessions"), "{}", sshd.log());
    pool.close_all().await;
}

#[test]
fn control_dir_ignores_a_long_tmpdir() {
    // TMPDIR is process-wide: run the check in a child test process.
    let long = tempfile::tempdir().unwrap();
    let mut tmpdir = long.path().to_path_buf();
    while tmpdir.as_os_str().len() <= 120 {
        tmpdir.push("a-rather-long-directory-name");
    }
    std::fs::create_dir_all(&tmpdir).unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "long_tmpdir_child", "--ignored", "--nocapture"])
        .env("TMPDIR", &tmpdir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("1 passed"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
#[ignore = "run by control_dir_ignores_a_long_tmpdir with a long TMPDIR"]
async fn long_tmpdir_child() {
    let tmpdir = std::env::var("TMPDIR").unwrap();
    assert!(tmpdir.len() > 120);
    let sshd = Sshd::on(205);
    assert!(sshd.dir.path().starts_with(&tmpdir));
    let pool = Connections::new();
    let host = pool.get(&sshd.deploy()).await.unwrap();
    assert!(pool.control_dir().unwrap().as_os_str().len() < 40);
    let out = host.run(&RemoteCommand::new("echo ok")).await.unwrap();
    assert_eq!(out.stdout, "ok\n");
    pool.close_all().await;
}

#[tokio::test]
async fn nothing_listening_is_unreachable_fast() {
    let pool = Connections::new();
    let spec = ConnectSpec {
        name: "ghost".into(),
        address: "127.0.206.9".into(),
        port: Some(PORT),
        user: Some("deploy".into()),
        private_key: None,
        ssh_args: vec![],
        local: false,
        ..ConnectSpec::named("")
    };
    let started = Instant::now();
    match pool.get(&spec).await {
        Err(HostError::Unreachable(message)) => {
            assert!(message.contains("Connection refused"), "{message}")
        }
        other => panic!("expected unreachable, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    // The failure is remembered, not retried by every task.
    assert!(matches!(pool.get(&spec).await, Err(HostError::Unreachable(_))));
    assert!(pool.master_pids().is_empty());
    pool.close_all().await;
}

#[tokio::test]
async fn host_frozen_mid_command_is_unreachable() {
    let sshd = Sshd::on(207);
    let pool = Connections::new();
    let host = pool.get(&sshd.deploy()).await.unwrap();
    let running = {
        let host = host.clone();
        tokio::spawn(async move { host.run(&RemoteCommand::new("sleep 120")).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let frozen = sshd.sessions();
    assert!(!frozen.is_empty());
    for pid in &frozen {
        // SAFETY: stopping processes this test's sshd forked.
        unsafe { libc::kill(*pid, libc::SIGSTOP) };
    }
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("the command hung")
        .unwrap();
    match result {
        Err(HostError::Unreachable(message)) => assert!(message.contains("127.0.207.10")),
        other => panic!("expected unreachable, got {other:?}"),
    }
    eprintln!("frozen host detected after {:?}", started.elapsed());
    // And the host stays unreachable, quickly.
    assert!(matches!(
        host.run(&RemoteCommand::new("true")).await,
        Err(HostError::Unreachable(_))
    ));
    pool.close_all().await;
}

#[tokio::test]
async fn close_all_ends_every_master() {
    let sshd = Sshd::start(&["127.0.208.10".into(), "127.0.208.11".into()]);
    let pool = Connections::new();
    let specs = [
        sshd.spec("a", "127.0.208.10", "deploy"),
        sshd.spec("b", "127.0.208.11", "deploy"),
    ];
    for result in pool.open_all(&specs).await {
        result.unwrap();
    }
    let pids = pool.master_pids();
    assert_eq!(pids.len(), 2);
    assert!(pids.iter().all(|p| pid_alive(*p)));
    let dir = pool.control_dir().unwrap();
    assert!(dir.exists());
    pool.close_all().await;
    for pid in &pids {
        assert!(!pid_alive(*pid), "master {pid} still running");
    }
    assert!(!dir.exists());
    pool.close_all().await;
}

#[test]
fn masters_die_with_zdd_and_ignore_its_ctrl_c() {
    let sshd = Sshd::on(211);
    let spec = sshd.deploy();
    // The pool lives in a child test process, which is then SIGKILLed.
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "pool_owner_child", "--ignored", "--nocapture"])
        .env("ZDD_TEST_ADDRESS", &spec.address)
        .env("ZDD_TEST_KEY", spec.private_key.as_ref().unwrap())
        .env("ZDD_TEST_SSH_ARGS", spec.ssh_args.join(" "))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let master: i32 = loop {
        let line = lines.next().expect("child ended early").unwrap();
        if let Some(pid) = line.strip_prefix("MASTER ") {
            break pid.parse().unwrap();
        }
    };
    assert!(pid_alive(master as u32));
    // Its own process group: a terminal Ctrl-C (SIGINT to zdd's group) does not reach it.
    // SAFETY: plain queries and signals to processes this test started.
    unsafe {
        assert_eq!(libc::getpgid(master), master);
    }
    let _ = child.kill();
    let _ = child.wait();
    let started = Instant::now();
    while pid_alive(master as u32) {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "master {master} outlived its owner"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
#[ignore = "run by masters_die_with_zdd_and_ignore_its_ctrl_c"]
async fn pool_owner_child() {
    let var = |name| std::env::var(name).unwrap();
    let spec = ConnectSpec {
        name: "web1".into(),
        address: var("ZDD_TEST_ADDRESS"),
        port: Some(PORT),
        user: Some("deploy".into()),
        private_key: Some(var("ZDD_TEST_KEY").into()),
        ssh_args: var("ZDD_TEST_SSH_ARGS").split(' ').map(String::from).collect(),
        local: false,
        ..ConnectSpec::named("")
    };
    let pool = Connections::new();
    pool.get(&spec).await.unwrap();
    println!("MASTER {}", pool.master_pids()[0]);
    tokio::time::sleep(Duration::from_secs(60)).await;
}

#[tokio::test]
async fn open_all_twenty_hosts() {
    let addresses: Vec<String> = (1..=20).map(|i| format!("127.0.209.{i}")).collect();
    // Two sshds for the twenty: a low MaxStartups makes them drop some of the concurrent
    // handshakes, as a busy sshd does, and the pool retries those.
    let servers = [
        Sshd::with_max_startups(&addresses[..10], "3:50:10"),
        Sshd::with_max_startups(&addresses[10..], "3:50:10"),
    ];
    let pool = Connections::new();
    let specs: Vec<_> = addresses
        .iter()
        .enumerate()
        .map(|(i, a)| servers[i / 10].spec(&format!("web{i}"), a, "deploy"))
        .collect();
    let hosts: Vec<_> = pool
        .open_all(&specs)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let drops: usize = servers
        .iter()
        .map(|s| s.log().matches("past MaxStartups").count())
        .sum();
    eprintln!("sshd dropped {drops} handshakes past MaxStartups");
    assert_eq!(pool.master_pids().len(), 20);
    for (host, spec) in hosts.iter().zip(&specs) {
        assert_eq!(host.name(), spec.name);
        let out = host
            .run(&RemoteCommand::new("echo $SSH_CONNECTION"))
            .await
            .unwrap();
        assert!(out.stdout.contains(&spec.address), "{}", out.stdout);
    }
    // A second get is the same connection, not a new master.
    let again = pool.get(&specs[3]).await.unwrap();
    assert!(Arc::ptr_eq(&again, &hosts[3]));
    assert_eq!(pool.master_pids().len(), 20);
    pool.close_all().await;
}

#[tokio::test]
async fn local_spec_is_a_local_host() {
    let pool = Connections::new();
    let spec = ConnectSpec {
        name: "localhost".into(),
        address: "localhost".into(),
        local: true,
        ..sample_spec()
    };
    let host = pool.get(&spec).await.unwrap();
    let out = host.run(&RemoteCommand::new("echo $$")).await.unwrap();
    assert_eq!(out.rc, 0);
    assert!(pool.master_pids().is_empty());
}

fn sample_spec() -> ConnectSpec {
    ConnectSpec {
        name: String::new(),
        address: String::new(),
        port: None,
        user: None,
        private_key: None,
        ssh_args: vec![],
        local: false,
        ..ConnectSpec::named("")
    }
}

/// Speed of one command over an open connection; run with
/// `cargo test --release --test ssh_host speed -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement, not a check"]
async fn speed() {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    const N: u32 = 200;
    let sshd = Sshd::on(210);
    let pool = Connections::new();
    let spec = sshd.deploy();
    let host = pool.get(&spec).await.unwrap();
    let per = |started: Instant, n: u32| started.elapsed().as_secs_f64() * 1000.0 / f64::from(n);

    let started = Instant::now();
    for _ in 0..N {
        assert_eq!(host.run(&RemoteCommand::new("true")).await.unwrap().rc, 0);
    }
    eprintln!("(a) mux session per command: {:.2} ms", per(started, N));

    let started = Instant::now();
    for _ in 0..N {
        let cmd = RemoteCommand::new("true").run_as(root());
        assert_eq!(host.run(&cmd).await.unwrap().rc, 0);
    }
    eprintln!("(b) mux session + sudo -n: {:.2} ms", per(started, N));

    let ctl = pool.control_dir().unwrap().join("0");
    let started = Instant::now();
    for _ in 0..N / 4 {
        let status = Command::new("ssh")
            .arg("-S")
            .arg(&ctl)
            .args(["-o", "ControlMaster=no", "x", "true"])
            .status()
            .unwrap();
        assert!(status.success());
    }
    eprintln!("(d) ssh -S ctl host true process: {:.2} ms", per(started, N / 4));

    // (c) one long-lived shell reading length-prefixed scripts, answering rc and length.
    let server = r#"export LC_ALL=C; while read -r n; do s=$(head -c "$n"); o=$(sh -c "$s" </dev/null 2>/dev/null); printf '%s %s\n%s' "$?" "${#o}" "$o"; done"#;
    let session = openssh::Session::resume_mux(ctl.into(), None);
    let mut shell = session.raw_command(format!("sh -c {}", zdd::host::sh_quote(server)));
    shell
        .stdin(openssh::Stdio::piped())
        .stdout(openssh::Stdio::piped());
    let mut child = shell.spawn().await.unwrap();
    let mut stdin = child.stdin().take().unwrap();
    let mut stdout = tokio::io::BufReader::new(child.stdout().take().unwrap());
    let started = Instant::now();
    for _ in 0..N {
        let script = "true";
        stdin
            .write_all(format!("{}\n{script}", script.len()).as_bytes())
            .await
            .unwrap();
        stdin.flush().await.unwrap();
        let mut header = String::new();
        stdout.read_line(&mut header).await.unwrap();
        let (rc, len) = header.trim().split_once(' ').unwrap();
        let mut body = vec![0; len.parse().unwrap()];
        stdout.read_exact(&mut body).await.unwrap();
        assert_eq!(rc, "0");
    }
    eprintln!(
        "(c) framed commands to one remote shell: {:.2} ms",
        per(started, N)
    );
    drop(stdin);
    let _ = child.wait().await;

    // (c') the same, robust: script and stdin framed into files, stdout and stderr framed back.
    let server = r#"export LC_ALL=C; d=$(mktemp -d); while read -r n m; do head -c "$n" >"$d/s"; head -c "$m" >"$d/i"; sh "$d/s" <"$d/i" >"$d/o" 2>"$d/e"; printf '%s %s %s\n' "$?" $(wc -c <"$d/o") $(wc -c <"$d/e"); cat "$d/o" "$d/e"; done; rm -rf "$d""#;
    let mut shell = session.raw_command(format!("sh -c {}", zdd::host::sh_quote(server)));
    shell
        .stdin(openssh::Stdio::piped())
        .stdout(openssh::Stdio::piped());
    let mut child = shell.spawn().await.unwrap();
    let mut stdin = child.stdin().take().unwrap();
    let mut stdout = tokio::io::BufReader::new(child.stdout().take().unwrap());
    let started = Instant::now();
    for _ in 0..N {
        let script = "cat";
        let input = "x";
        stdin
            .write_all(format!("{} {}\n{script}{input}", script.len(), input.len()).as_bytes())
            .await
            .unwrap();
        stdin.flush().await.unwrap();
        let mut header = String::new();
        stdout.read_line(&mut header).await.unwrap();
        let fields: Vec<usize> = header.split_whitespace().map(|f| f.parse().unwrap()).collect();
        let mut body = vec![0; fields[1] + fields[2]];
        stdout.read_exact(&mut body).await.unwrap();
        assert_eq!((fields[0], body.as_slice()), (0, &b"x"[..]));
    }
    eprintln!(
        "(c') framed, with stdin/stdout/stderr through files: {:.2} ms",
        per(started, N)
    );
    let started = Instant::now();
    for _ in 0..N {
        let out = host
            .run(&RemoteCommand::new("cat").stdin(b"x".to_vec()))
            .await
            .unwrap();
        assert_eq!(out.stdout, "x");
    }
    eprintln!(
        "(a') mux session per command, with stdin: {:.2} ms",
        per(started, N)
    );
    drop(stdin);
    let _ = child.wait().await;
    pool.close_all().await;
}

/// A host whose sshd restarts (its sessions die with it, as in a reboot): commands fail
/// as unreachable until `reconnect` opens a new master on the sshd that came back; the
/// old master is gone, the pool knows the new one and `close_all` ends it, and a closed
/// host refuses to reconnect.
#[tokio::test]
async fn reconnect_opens_a_new_master_after_the_sshd_restarts() {
    let mut sshd = Sshd::on(212);
    let pool = Connections::new();
    let host = pool.get(&sshd.deploy()).await.unwrap();
    assert_eq!(
        host.run(&RemoteCommand::new("echo one")).await.unwrap().stdout,
        "one\n"
    );
    let old = pool.master_pids();
    assert_eq!(old.len(), 1);
    // Reconnecting a live connection replaces its master too; a command held over the old
    // one (a rollout lock) keeps it until the command is let go.
    let marks = tempfile::tempdir().unwrap();
    chmod(marks.path(), 0o777);
    let pid_file = marks.path().join("held.pid");
    let (line, held) = host
        .hold(&RemoteCommand::new(format!(
            "echo $$ > {}; echo locked; exec cat >/dev/null",
            pid_file.display()
        )))
        .await
        .unwrap();
    assert_eq!(line, "locked");
    let held_pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    host.reconnect(None).await.unwrap();
    let renewed = pool.master_pids();
    assert_ne!(renewed, old);
    assert!(
        pid_alive(old[0]) && pid_alive(held_pid),
        "the held command lost its master"
    );
    drop(held);
    // The next reconnect stops it (without waiting for it).
    host.reconnect(None).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while pid_alive(old[0]) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!pid_alive(old[0]), "the replaced master {} still runs", old[0]);
    let renewed = pool.master_pids();
    let sessions = sshd.sessions();
    let _ = sshd.child.kill();
    let _ = sshd.child.wait();
    for pid in sessions {
        // SAFETY: plain kill of a process this test's sshd forked.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    assert!(matches!(
        host.run(&RemoteCommand::new("true")).await,
        Err(HostError::Unreachable(_))
    ));
    assert!(matches!(
        host.reconnect(Some(2)).await,
        Err(HostError::Unreachable(_))
    ));
    sshd.child = Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-f"])
        .arg(sshd.dir.path().join("sshd_config"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    sshd.wait_listening();
    host.reconnect(Some(5)).await.unwrap();
    assert_eq!(
        host.run(&RemoteCommand::new("echo two")).await.unwrap().stdout,
        "two\n"
    );
    let now = pool.master_pids();
    assert!(now.iter().all(|p| pid_alive(*p)) && !now.contains(&renewed[0]));
    pool.close_all().await;
    assert!(!pid_alive(now[0]), "master {} outlived close_all", now[0]);
    assert!(matches!(
        host.reconnect(None).await,
        Err(HostError::Unreachable(_))
    ));
}
