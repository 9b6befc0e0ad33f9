//! The `ansible.cfg` zdd honours, found as Ansible finds it, read as Python's configparser
//! reads it (`ini.rs`), and the settings zdd uses, each with its `ANSIBLE_*` environment
//! variable winning over the file (`resolve.rs`). Keys ansible-core knows but zdd does not
//! use are accepted silently (`known_keys.rs`, generated); others are warnings.

mod effective;
mod ini;
mod known_keys;
mod resolve;

pub use effective::RunSettings;

pub use resolve::{parse_bool, Gathering, Origin, Setting};

use crate::error::{Diagnostic, Error};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Ansible's configuration as zdd reads it: for each setting, its `ANSIBLE_*` environment
/// variable, else the configuration file, else Ansible's default (zdd's where it differs,
/// said on the field). Paths are resolved as Ansible resolves them: `~` expanded, relative
/// ones from the file's directory (from the current directory for an environment variable).
#[derive(Debug, Clone, PartialEq)]
pub struct AnsibleConfig {
    /// The file read, if one was found.
    pub file: Option<PathBuf>,
    /// Sections and keys ansible-core does not know: a warning each, at `file:line`.
    pub warnings: Vec<Diagnostic>,
    /// `[defaults] inventory` / `ANSIBLE_INVENTORY`: inventory sources (comma-separated),
    /// used when no `-i` is given. Ansible's default `/etc/ansible/hosts` (zdd: only
    /// `localhost` when that file does not exist).
    pub inventory: Setting<Vec<PathBuf>>,
    /// `[defaults] remote_user` / `ANSIBLE_REMOTE_USER`: below `-u`, the `remote_user`
    /// keyword and `ansible_user`.
    pub remote_user: Setting<Option<String>>,
    /// `[defaults] private_key_file` / `ANSIBLE_PRIVATE_KEY_FILE`: below `--private-key`
    /// and `ansible_ssh_private_key_file`.
    pub private_key_file: Setting<Option<PathBuf>>,
    /// `[defaults]`/`[ssh_connection] host_key_checking` / `ANSIBLE_HOST_KEY_CHECKING`,
    /// `ANSIBLE_SSH_HOST_KEY_CHECKING`: false adds `-o StrictHostKeyChecking=no`.
    pub host_key_checking: Setting<bool>,
    /// `[defaults] forks` / `ANSIBLE_FORKS`: below `-f`. zdd's default is 20 (Ansible's 5).
    pub forks: Setting<u32>,
    /// `[defaults] roles_path` / `ANSIBLE_ROLES_PATH` (colon-separated).
    pub roles_path: Setting<Vec<PathBuf>>,
    /// `[defaults]`/`[ssh_connection] timeout` / `ANSIBLE_TIMEOUT`, `ANSIBLE_SSH_TIMEOUT`:
    /// SSH's `ConnectTimeout`, below `-T` and `ansible_ssh_timeout`.
    pub timeout: Setting<u32>,
    /// `[defaults] vault_password_file` / `ANSIBLE_VAULT_PASSWORD_FILE`: used when no
    /// vault flag is given.
    pub vault_password_file: Setting<Option<PathBuf>>,
    /// `[defaults] vault_identity_list` / `ANSIBLE_VAULT_IDENTITY_LIST`: `id@source`
    /// entries (comma-separated), as `--vault-id` takes them.
    pub vault_identity_list: Setting<Vec<String>>,
    /// `[defaults] gathering` / `ANSIBLE_GATHERING`: whether a play without
    /// `gather_facts` gathers facts.
    pub gathering: Setting<Gathering>,
    /// `[defaults] any_errors_fatal` / `ANSIBLE_ANY_ERRORS_FATAL`: the default of the
    /// play keyword.
    pub any_errors_fatal: Setting<bool>,
    /// `[defaults] log_path` / `ANSIBLE_LOG_PATH`: where the run's output is appended.
    pub log_path: Setting<Option<PathBuf>>,
    /// `[ssh_connection] ssh_args` / `ANSIBLE_SSH_ARGS`: first on the master's command
    /// line, below `ansible_ssh_args`; `None` is Ansible's default
    /// (`-C -o ControlMaster=auto -o ControlPersist=60s`), which zdd's own master replaces.
    pub ssh_args: Setting<Option<String>>,
    /// `[ssh_connection] ssh_common_args` / `ANSIBLE_SSH_COMMON_ARGS`: below
    /// `--ssh-common-args` and `ansible_ssh_common_args`.
    pub ssh_common_args: Setting<String>,
    /// `[ssh_connection] ssh_extra_args` / `ANSIBLE_SSH_EXTRA_ARGS`: below
    /// `--ssh-extra-args` and `ansible_ssh_extra_args`.
    pub ssh_extra_args: Setting<String>,
    /// `[ssh_connection] control_path_dir` / `ANSIBLE_SSH_CONTROL_PATH_DIR`: where zdd
    /// puts its masters' control sockets (`None`: a private directory under `/tmp`).
    pub control_path_dir: Setting<Option<PathBuf>>,
    /// `[connection]`/`[ssh_connection] retries` / `ANSIBLE_SSH_RETRIES`: how many more
    /// times a master that fails to connect is started.
    pub retries: Setting<u32>,
    /// `[privilege_escalation] become` / `ANSIBLE_BECOME`: below `-b`, the `become`
    /// keyword and `ansible_become`.
    pub become_enabled: Setting<bool>,
    /// `[privilege_escalation] become_method` / `ANSIBLE_BECOME_METHOD`: below
    /// `--become-method`, the keyword and `ansible_become_method`.
    pub become_method: Setting<String>,
    /// `[privilege_escalation] become_user` / `ANSIBLE_BECOME_USER`: below
    /// `--become-user`, the keyword and `ansible_become_user`.
    pub become_user: Setting<String>,
    /// `[privilege_escalation] become_ask_pass` / `ANSIBLE_BECOME_ASK_PASS`: as `-K`.
    pub become_ask_pass: Setting<bool>,
}

/// A warning about the configuration, drawn as diagnostics are, with its line.
pub fn render_warning(warning: &Diagnostic) -> String {
    let text = warning.clone().with_snippet_from_disk().to_string();
    match text.strip_prefix("error:") {
        Some(rest) => format!("warning:{rest}"),
        None => text,
    }
}

impl Default for AnsibleConfig {
    fn default() -> Self {
        AnsibleConfig::from_parts(None, "", &|_| None, Path::new("/"), None).expect("defaults are valid")
    }
}

impl AnsibleConfig {
    /// The configuration of this process, read once: the first of `ANSIBLE_CONFIG` (a
    /// file, or a directory holding `ansible.cfg`), `./ansible.cfg`, `~/.ansible.cfg`,
    /// `/etc/ansible/ansible.cfg`. A bad value is an error at its `file:line` or naming its
    /// environment variable.
    pub fn current() -> Result<&'static AnsibleConfig, Error> {
        static CURRENT: OnceLock<Result<AnsibleConfig, Vec<Diagnostic>>> = OnceLock::new();
        CURRENT
            .get_or_init(AnsibleConfig::load)
            .as_ref()
            .map_err(|problems| Error::Invalid(problems.clone()))
    }

    fn load() -> Result<AnsibleConfig, Vec<Diagnostic>> {
        let env = |name: &str| std::env::var(name).ok();
        let home = env("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
        let config_env = env("ANSIBLE_CONFIG").filter(|v| !v.is_empty()).map(PathBuf::from);
        let file = find_config_file(config_env, home.as_deref());
        let text = match &file {
            Some(path) => crate::yaml::read_bounded(path).map_err(|e| {
                vec![Diagnostic::new(format!(
                    "cannot read the Ansible configuration {}: {e}",
                    crate::error::display_path(path)
                ))]
            })?,
            None => String::new(),
        };
        AnsibleConfig::from_parts(file, &text, &env, &cwd(), home.as_deref())
    }

    /// The configuration `text` of `file` says, with `env` for the environment.
    pub(crate) fn from_parts(
        file: Option<PathBuf>,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
        cwd: &Path,
        home: Option<&Path>,
    ) -> Result<AnsibleConfig, Vec<Diagnostic>> {
        resolve::resolve(file, text, env, cwd, home)
    }
}

fn cwd() -> PathBuf {
    std::env::current_dir().unwrap_or_default()
}

/// Ansible's default: `~/.ansible/roles:/usr/share/ansible/roles:/etc/ansible/roles`.
fn default_roles_path(home: Option<&Path>) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(home) = home {
        paths.push(home.join(".ansible/roles"));
    }
    paths.push("/usr/share/ansible/roles".into());
    paths.push("/etc/ansible/roles".into());
    paths
}

/// The first configuration file that exists, in Ansible's order.
fn find_config_file(env: Option<PathBuf>, home: Option<&Path>) -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(path) = env {
        let path = expand_home(&path, home);
        candidates.push(if path.is_dir() {
            path.join("ansible.cfg")
        } else {
            path
        });
    }
    // Ansible skips `./ansible.cfg` when the directory is world-writable (anyone could
    // have put it there).
    if !world_writable(&cwd()) {
        candidates.push(cwd().join("ansible.cfg"));
    }
    if let Some(home) = home {
        candidates.push(home.join(".ansible.cfg"));
    }
    candidates.push("/etc/ansible/ansible.cfg".into());
    candidates.into_iter().find(|c| c.is_file())
}

fn world_writable(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o002 != 0)
}

fn expand_home(path: &Path, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix("~"), home) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str, env: &[(&str, &str)]) -> Result<AnsibleConfig, Vec<Diagnostic>> {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let lookup = move |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        AnsibleConfig::from_parts(
            Some("/proj/ansible.cfg".into()),
            text,
            &lookup,
            Path::new("/cwd"),
            Some(Path::new("/home/u")),
        )
    }

    #[test]
    fn settings_come_from_the_file_with_their_line() {
        let text = "[defaults]\nremote_user = deploy\nprivate_key_file = keys/id_ed25519\nhost_key_checking = False\nforks = 7\nroles_path = roles:~/more:/abs\ninventory = inventory.ini, /etc/hosts2\n[ssh_connection]\nssh_common_args = -o ProxyJump=bastion\nretries = 3\n[privilege_escalation]\nbecome = yes\nbecome_user = app\n";
        let c = config(text, &[]).unwrap();
        assert_eq!(c.remote_user.value.as_deref(), Some("deploy"));
        assert_eq!(c.remote_user.origin.to_string(), "/proj/ansible.cfg:2");
        assert_eq!(
            c.private_key_file.value,
            Some(PathBuf::from("/proj/keys/id_ed25519"))
        );
        assert!(!c.host_key_checking.value);
        assert_eq!(c.forks.value, 7);
        assert_eq!(
            c.roles_path.value,
            [PathBuf::from("/proj/roles"), "/home/u/more".into(), "/abs".into()]
        );
        assert_eq!(
            c.inventory.value,
            [PathBuf::from("/proj/inventory.ini"), "/etc/hosts2".into()]
        );
        assert_eq!(c.ssh_common_args.value, "-o ProxyJump=bastion");
        assert_eq!(c.retries.value, 3);
        assert!(c.become_enabled.value);
        assert_eq!(c.become_user.value, "app");
        assert_eq!(c.become_method.value, "sudo");
        assert_eq!(c.become_method.origin, Origin::Default);
        assert_eq!(c.timeout.value, 10);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn environment_variables_win_over_the_file() {
        let text = "[defaults]\nremote_user = deploy\ntimeout = 5\nlog_path = zdd.log\n[ssh_connection]\ntimeout = 7\n";
        let c = config(
            text,
            &[
                ("ANSIBLE_REMOTE_USER", "ops"),
                ("ANSIBLE_LOG_PATH", "run.log"),
                ("ANSIBLE_FORKS", ""),
            ],
        )
        .unwrap();
        assert_eq!(c.remote_user.value.as_deref(), Some("ops"));
        assert_eq!(c.remote_user.origin, Origin::Env("ANSIBLE_REMOTE_USER"));
        // From the environment a relative path is taken from the current directory.
        assert_eq!(c.log_path.value, Some(PathBuf::from("/cwd/run.log")));
        // [ssh_connection] timeout comes after [defaults] timeout in Ansible's list: it wins.
        assert_eq!(c.timeout.value, 7);
        assert_eq!(c.timeout.origin.to_string(), "/proj/ansible.cfg:6");
        // An empty variable of a number is its default, as in Ansible.
        assert_eq!(c.forks.value, 20);
        let c = config(text, &[("ANSIBLE_TIMEOUT", "3"), ("ANSIBLE_SSH_TIMEOUT", "4")]).unwrap();
        assert_eq!(
            (c.timeout.value, c.timeout.origin),
            (4, Origin::Env("ANSIBLE_SSH_TIMEOUT"))
        );
    }

    #[test]
    fn booleans_as_ansible_spells_them_and_bad_values_name_their_source() {
        for (text, value) in [
            ("yes", true),
            ("On", true),
            ("1", true),
            ("t", true),
            ("NO", false),
            ("off", false),
            ("0", false),
            ("False", false),
        ] {
            assert_eq!(resolve::parse_bool(text), Some(value), "{text}");
        }
        let bad = config(
            "[defaults]\nforks = 3\nhost_key_checking = maybe\n[privilege_escalation]\nbecome = sure\n",
            &[],
        )
        .unwrap_err();
        assert_eq!(bad.len(), 2);
        assert_eq!(bad[0].message, "`maybe` is not a boolean");
        assert_eq!(bad[0].location.as_ref().unwrap().line, 3);
        assert_eq!(bad[1].location.as_ref().unwrap().line, 5);
        let bad = config("", &[("ANSIBLE_BECOME", "sure"), ("ANSIBLE_FORKS", "0")]).unwrap_err();
        assert_eq!(
            bad[0].message,
            "environment variable ANSIBLE_FORKS: `0` is not a number of forks (1 or more)"
        );
        assert_eq!(
            bad[1].message,
            "environment variable ANSIBLE_BECOME: `sure` is not a boolean"
        );
    }

    #[test]
    fn unknown_sections_and_keys_are_warnings_known_ones_are_silent() {
        let text = "[defaults]\nnocows = 1\nstdout_callback = yaml\nremote_usr = x\n[ssh_connection]\npipelining = True\n[my_stuff]\na = 1\n";
        let c = config(text, &[]).unwrap();
        let lines: Vec<(usize, &str)> = c
            .warnings
            .iter()
            .map(|w| (w.location.as_ref().unwrap().line, w.message.as_str()))
            .collect();
        assert_eq!(
            lines,
            [
                (7, "unknown section [my_stuff] in the Ansible configuration"),
                (
                    4,
                    "unknown key `remote_usr` in [defaults] of the Ansible configuration"
                ),
            ]
        );
        assert!(c.warnings[1].hint.as_deref().unwrap().contains("remote_user"));
    }

    #[test]
    fn a_line_configparser_refuses_is_an_error_at_its_line() {
        let bad = config("[defaults]\nforks = 3\nforks = 4\n", &[]).unwrap_err();
        assert_eq!(bad[0].location.as_ref().unwrap().line, 3);
        assert!(bad[0].message.contains("already set"), "{}", bad[0].message);
    }

    #[test]
    fn the_first_config_file_found_wins() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("custom.cfg");
        std::fs::write(&cfg, "[defaults]\n").unwrap();
        assert_eq!(find_config_file(Some(cfg.clone()), None), Some(cfg));
        std::fs::write(dir.path().join("ansible.cfg"), "").unwrap();
        assert_eq!(
            find_config_file(Some(dir.path().to_path_buf()), None),
            Some(dir.path().join("ansible.cfg"))
        );
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join(".ansible.cfg"), "").unwrap();
        let found = find_config_file(Some(dir.path().join("missing.cfg")), Some(home.path()));
        // ./ansible.cfg of the test's working directory comes before the home one.
        if !cwd().join("ansible.cfg").is_file() || world_writable(&cwd()) {
            assert_eq!(found, Some(home.path().join(".ansible.cfg")));
        }
    }

    #[test]
    fn a_world_writable_directory_is_world_writable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        assert!(!world_writable(dir.path()));
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(world_writable(dir.path()));
    }
}
