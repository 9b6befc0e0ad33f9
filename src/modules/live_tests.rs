//! Modules run for real against the local machine (`LocalHost`, `sh -c`), in temp dirs.

use super::{registry, ModuleCtx, ModuleResult, StaticCtx};
use crate::host::local::LocalHost;
use crate::host::Become;
use crate::template::Templater;
use crate::vars::{Context, VarMap};
use serde_json::{json, Value};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

struct Env {
    host: LocalHost,
    templater: Templater,
    vars: Context,
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let vars = Context::new().with(VarMap::from([("http_port".into(), json!(8080))]));
        Env {
            host: LocalHost::new("localhost"),
            templater: Templater::new(),
            vars,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    async fn run_as(
        &self,
        module: &str,
        args: Value,
        check_mode: bool,
        run_as: Option<&Become>,
    ) -> ModuleResult {
        let m = registry().get(module).unwrap();
        m.check_args(
            &args,
            &StaticCtx {
                playbook_dir: self.dir.path(),
                role_path: None,
            },
        )
        .unwrap_or_else(|e| panic!("{module} {args}: {e:?}"));
        let ctx = ModuleCtx {
            host: &self.host,
            run_as,
            templater: &self.templater,
            vars: &self.vars,
            playbook_dir: self.dir.path(),
            role_path: None,
            task_dir: None,
            check_mode,
            diff: true,
        };
        m.run(&ctx, &args).await.unwrap()
    }

    async fn run(&self, module: &str, args: Value) -> ModuleResult {
        self.run_as(module, args, false, None).await
    }
}

fn mode_of(p: &str) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn no_temp_files(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .unwrap()
        .all(|e| !e.unwrap().file_name().to_string_lossy().starts_with(".zdd."))
}

#[tokio::test]
async fn shell_reports_rc_output_and_honours_creates() {
    let env = Env::new();
    let r = env
        .run("shell", json!({"_raw_params": "echo out; echo err >&2; exit 3"}))
        .await;
    assert!(r.failed && r.changed);
    assert_eq!(
        (r.rc, r.stdout.as_deref(), r.stderr.as_deref()),
        (Some(3), Some("out"), Some("err"))
    );
    assert_eq!(r.msg.as_deref(), Some("non-zero return code"));
    assert_eq!(r.extra["stdout_lines"], json!(["out"]));
    assert!(r.extra["delta"].as_str().unwrap().starts_with("0:00:0"));

    let marker = env.path("made");
    let args = json!({"cmd": format!("pwd; touch {marker}"), "chdir": env.dir.path(), "creates": marker});
    let r = env.run("shell", args.clone()).await;
    assert!(r.changed && !r.failed);
    assert_eq!(r.stdout.as_deref(), Some(env.dir.path().to_str().unwrap()));
    let again = env.run("shell", args).await;
    assert!(!again.changed && !again.failed, "{again:?}");
    assert!(again.stdout.unwrap().starts_with("skipped, since"));

    let r = env
        .run("shell", json!({"_raw_params": "cat", "stdin": "fed"}))
        .await;
    assert_eq!(r.stdout.as_deref(), Some("fed"));
}

#[tokio::test]
async fn command_passes_shell_characters_through() {
    let env = Env::new();
    let r = env
        .run("command", json!({"_raw_params": "echo 'a  b' | $HOME"}))
        .await;
    assert_eq!(r.stdout.as_deref(), Some("a  b | $HOME"));
    let r = env
        .run("command", json!({"argv": ["printf", "%s-", "x y"]}))
        .await;
    assert_eq!(r.stdout.as_deref(), Some("x y-"));
}

#[tokio::test]
async fn copy_is_atomic_idempotent_and_tracks_mode() {
    let env = Env::new();
    let dest = env.path("app.conf");
    let args = json!({"content": "port=1\n", "dest": dest, "mode": "0640"});
    let r = env.run("copy", args.clone()).await;
    assert!(r.changed && !r.failed, "{r:?}");
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "port=1\n");
    assert_eq!(mode_of(&dest), 0o640);
    assert_eq!(r.extra["checksum"], json!(super::put::sha1_hex(b"port=1\n")));
    assert_eq!(
        (r.extra["size"].clone(), r.extra["mode"].clone()),
        (json!(7), json!("0640"))
    );
    let inode = std::fs::metadata(&dest).unwrap().ino();

    let again = env.run("copy", args).await;
    assert!(!again.changed, "{again:?}");
    assert_eq!(
        std::fs::metadata(&dest).unwrap().ino(),
        inode,
        "an unchanged file is left alone"
    );

    let r = env
        .run(
            "copy",
            json!({"content": "port=1\n", "dest": dest, "mode": "u=rw,g=r,o=r"}),
        )
        .await;
    assert!(r.changed);
    assert_eq!(mode_of(&dest), 0o644);

    // A second name for the current file: an in-place write would show through it.
    let old = env.path("old-link");
    std::fs::hard_link(&dest, &old).unwrap();
    let r = env
        .run("copy", json!({"content": "port=2\n", "dest": dest}))
        .await;
    assert!(r.changed);
    assert_eq!(r.extra["diff"]["before"], json!("port=1\n"));
    assert_eq!(mode_of(&dest), 0o644, "mode is kept when not given");
    assert_ne!(
        std::fs::metadata(&dest).unwrap().ino(),
        std::fs::metadata(&old).unwrap().ino()
    );
    assert_eq!(
        std::fs::read_to_string(&old).unwrap(),
        "port=1\n",
        "written by rename, not in place"
    );
    assert!(no_temp_files(env.dir.path()));

    let r = env
        .run_as("copy", json!({"content": "port=3\n", "dest": dest}), true, None)
        .await;
    assert!(r.changed);
    assert_eq!(
        std::fs::read_to_string(&dest).unwrap(),
        "port=2\n",
        "check mode writes nothing"
    );

    let r = env
        .run("copy", json!({"content": "x", "dest": env.path("missing/dir/f")}))
        .await;
    assert!(r.failed && r.msg.unwrap().contains("does not exist"));
}

#[tokio::test]
async fn copy_src_from_files_dir_with_become() {
    let env = Env::new();
    std::fs::create_dir(env.dir.path().join("files")).unwrap();
    std::fs::write(env.dir.path().join("files/index.html"), "<h1>v2</h1>\n").unwrap();
    let root = Become::sudo("root");
    let r = env
        .run_as(
            "copy",
            json!({"src": "index.html", "dest": env.dir.path(), "owner": "root"}),
            false,
            Some(&root),
        )
        .await;
    assert!(r.changed && !r.failed, "{r:?}");
    assert_eq!(
        std::fs::read_to_string(env.path("index.html")).unwrap(),
        "<h1>v2</h1>\n"
    );
    let r = env
        .run_as(
            "copy",
            json!({"src": "index.html", "dest": env.dir.path(), "owner": "root"}),
            false,
            Some(&root),
        )
        .await;
    assert!(!r.changed, "{r:?}");
}

#[tokio::test]
async fn template_renders_atomically_and_is_idempotent() {
    let env = Env::new();
    std::fs::create_dir(env.dir.path().join("templates")).unwrap();
    std::fs::write(
        env.dir.path().join("templates/site.j2"),
        "listen {{ http_port }}\n",
    )
    .unwrap();
    let dest = env.path("site.conf");
    std::fs::write(&dest, "old\n").unwrap();
    let old = env.path("old-link");
    std::fs::hard_link(&dest, &old).unwrap();
    let args = json!({"src": "site.j2", "dest": dest});
    let r = env.run("template", args.clone()).await;
    assert!(r.changed && !r.failed, "{r:?}");
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "listen 8080\n");
    assert_ne!(
        std::fs::metadata(&dest).unwrap().ino(),
        std::fs::metadata(&old).unwrap().ino()
    );
    assert_eq!(
        std::fs::read_to_string(&old).unwrap(),
        "old\n",
        "replaced by rename, never rewritten in place"
    );
    assert!(no_temp_files(env.dir.path()));
    let again = env.run("template", args).await;
    assert!(!again.changed && !again.failed, "{again:?}");
}

#[tokio::test]
async fn file_states_are_idempotent() {
    let env = Env::new();
    let d = env.path("a/b");
    let args = json!({"path": d, "state": "directory", "mode": "0750"});
    assert!(env.run("file", args.clone()).await.changed);
    assert_eq!(mode_of(&d), 0o750);
    assert!(!env.run("file", args).await.changed);
    assert!(
        env.run("file", json!({"path": d, "state": "directory", "mode": "0755"}))
            .await
            .changed
    );

    let f = env.path("a/touched");
    assert!(
        env.run("file", json!({"path": f, "state": "touch"}))
            .await
            .changed
    );
    let r = env.run("file", json!({"path": f, "state": "touch"})).await;
    assert!(!r.changed && !r.failed, "{r:?}");

    let l = env.path("a/link");
    assert!(
        env.run("file", json!({"path": l, "state": "link", "src": f}))
            .await
            .changed
    );
    assert_eq!(std::fs::read_link(&l).unwrap(), Path::new(&f));
    assert!(
        !env.run("file", json!({"path": l, "state": "link", "src": f}))
            .await
            .changed
    );

    let a = env.path("a");
    assert!(
        env.run("file", json!({"path": a, "state": "absent"}))
            .await
            .changed
    );
    assert!(!Path::new(&a).exists());
    assert!(
        !env.run("file", json!({"dest": a, "state": "absent"}))
            .await
            .changed
    );
    let r = env.run("file", json!({"path": a, "state": "file"})).await;
    assert!(r.failed && r.msg.unwrap().contains("is absent"));
}

/// A tiny SysV init script: `start` writes a pid file, `status` checks it.
fn sysv_script(dir: &Path) -> String {
    let pidfile = dir.join("svc.pid");
    let log = dir.join("svc.log");
    let script = dir.join("zdd-test-svc");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncase $1 in\nstart) echo started >> {log}; echo 1 > {pid} ;;\nstop) echo stopped >> {log}; rm -f {pid} ;;\n\
             restart) echo restarted >> {log}; echo 1 > {pid} ;;\nstatus) [ -f {pid} ] || exit 3 ;;\nesac\n",
            log = log.display(),
            pid = pidfile.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script.display().to_string()
}

#[tokio::test]
async fn service_sysv_started_stopped_restarted() {
    let env = Env::new();
    let svc = sysv_script(env.dir.path());
    let log = || std::fs::read_to_string(env.dir.path().join("svc.log")).unwrap_or_default();
    let r = env.run("service", json!({"name": svc, "state": "started"})).await;
    assert!(r.changed && !r.failed, "{r:?}");
    assert_eq!(r.extra["manager"], json!("sysv"));
    assert_eq!(r.extra["status"], json!("running"));
    assert!(
        !env.run("service", json!({"name": svc, "state": "started"}))
            .await
            .changed
    );
    assert!(
        env.run("service", json!({"name": svc, "state": "restarted"}))
            .await
            .changed
    );
    let r = env.run("service", json!({"name": svc, "state": "stopped"})).await;
    assert!(r.changed);
    assert_eq!(r.extra["status"], json!("stopped"));
    let r = env
        .run_as("service", json!({"name": svc, "state": "started"}), true, None)
        .await;
    assert!(r.changed, "check mode says it would start");
    assert_eq!(
        r.extra["status"],
        json!("stopped"),
        "check mode reports what it sees"
    );
    assert!(
        !env.run("service", json!({"name": svc, "state": "stopped"}))
            .await
            .changed
    );
    assert_eq!(log(), "started\nrestarted\nstopped\n");
    let r = env
        .run("service", json!({"name": env.path("nope"), "state": "started"}))
        .await;
    assert!(r.failed && r.msg.unwrap().contains("Could not find the requested service"));
}

#[tokio::test]
async fn package_present_is_unchanged_and_unknown_fails_clearly() {
    let env = Env::new();
    let r = env
        .run("yum", json!({"name": "coreutils", "state": "installed"}))
        .await;
    assert!(!r.changed && !r.failed, "{r:?}");
    assert_eq!(r.extra["pkg_mgr"], json!("apt"));
    let r = env
        .run(
            "package",
            json!({"name": ["coreutils", "zdd-no-such-package-xyz"], "state": "present"}),
        )
        .await;
    assert!(r.failed, "{r:?}");
    let msg = r.msg.unwrap();
    assert!(
        msg.contains("No package matching 'zdd-no-such-package-xyz'"),
        "{msg}"
    );
    let r = env
        .run("yum", json!({"name": "epel-release", "state": "installed"}))
        .await;
    assert!(
        r.failed && r.msg.unwrap().contains("Debian-family"),
        "epel-release on Debian"
    );
}

#[tokio::test]
async fn wait_for_port_and_path() {
    let env = Env::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let r = env
        .run("wait_for", json!({"port": port.to_string(), "timeout": 5}))
        .await;
    assert!(!r.failed, "{r:?}");
    drop(listener);
    let r = env
        .run(
            "wait_for",
            json!({"port": port, "state": "stopped", "timeout": 5}),
        )
        .await;
    assert!(!r.failed, "{r:?}");
    let r = env
        .run(
            "wait_for",
            json!({"host": "127.0.0.1", "port": port, "timeout": 1}),
        )
        .await;
    assert!(r.failed);
    assert_eq!(r.msg, Some(format!("Timeout when waiting for 127.0.0.1:{port}")));

    let path = env.path("ready");
    let writer = {
        let path = path.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(1200));
            std::fs::write(path, "status: READY\n").unwrap();
        })
    };
    let r = env
        .run(
            "wait_for",
            json!({"path": path, "search_regex": "READY", "timeout": 10}),
        )
        .await;
    writer.join().unwrap();
    assert!(!r.failed, "{r:?}");
    assert!(r.extra["elapsed"].as_u64().unwrap() >= 1);
    let r = env
        .run(
            "wait_for",
            json!({"path": path, "state": "absent", "timeout": 1, "msg": "still there"}),
        )
        .await;
    assert_eq!(r.msg.as_deref(), Some("still there"));
}

#[tokio::test]
async fn setup_gathers_hostname_and_family() {
    let env = Env::new();
    let r = env.run("setup", json!({})).await;
    assert!(!r.failed, "{r:?}");
    let hostname = std::fs::read_to_string("/etc/hostname").unwrap();
    assert_eq!(
        r.facts["ansible_hostname"],
        json!(hostname.trim().split('.').next().unwrap())
    );
    assert_eq!(r.facts["ansible_os_family"], json!("Debian"));
    assert_eq!(r.facts["ansible_facts"]["os_family"], json!("Debian"));
    assert_eq!(r.facts["ansible_pkg_mgr"], json!("apt"));
    assert!(r.facts["ansible_distribution_major_version"]
        .as_str()
        .unwrap()
        .parse::<u32>()
        .is_ok());
}

#[tokio::test]
async fn controller_modules() {
    let env = Env::new();
    let r = env.run("fail", json!({})).await;
    assert!(r.failed && r.msg.as_deref() == Some("Failed as requested from task"));
    let r = env
        .run("set_fact", json!({"web": "nginx", "cacheable": true}))
        .await;
    assert_eq!(r.facts, VarMap::from([("web".into(), json!("nginx"))]));
    let r = env.run("debug", json!({"msg": ["a", 1]})).await;
    assert_eq!(r.extra["msg"], json!(["a", 1]));
    assert_eq!(r.msg, None, "a list keeps its shape");
}

#[tokio::test]
async fn assert_checks_every_expression_and_reports_the_first_false_one() {
    let env = Env::new();
    let r = env
        .run(
            "assert",
            json!({"that": ["http_port > 1024", "http_port == 8080"], "success_msg": "fine"}),
        )
        .await;
    assert!(!r.failed);
    assert_eq!(r.msg.as_deref(), Some("fine"));
    let r = env
        .run(
            "assert",
            json!({"that": ["http_port > 1024", "http_port < 100"], "fail_msg": "low port"}),
        )
        .await;
    assert!(r.failed);
    assert_eq!(r.msg.as_deref(), Some("low port"));
    assert_eq!(r.extra["assertion"], json!("http_port < 100"));
    let r = env.run("assert", json!({"that": "http_port == 1"})).await;
    assert_eq!(r.msg.as_deref(), Some("Assertion failed"));
}

#[tokio::test]
async fn pause_waits_the_seconds_given() {
    let env = Env::new();
    let started = std::time::Instant::now();
    let r = env.run("pause", json!({"seconds": 0.2})).await;
    assert!(!r.failed && !r.changed);
    assert!(started.elapsed() >= std::time::Duration::from_millis(200));
}
