//! Each setting zdd uses, looked up as Ansible's `ConfigManager` does: its environment
//! variables (the last one set wins), else its file entries (the last one present wins),
//! else the default; then converted to its type, a bad value being an error that names
//! where it came from.

use super::ini::{self, Entry};
use super::known_keys::KNOWN_KEYS;
use super::AnsibleConfig;
use crate::error::{display_path, Diagnostic, Location};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A line of the configuration file.
    File { path: Arc<PathBuf>, line: usize },
    /// An environment variable.
    Env(&'static str),
    /// Nothing set it.
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{}:{line}", display_path(path)),
            Origin::Env(name) => write!(f, "env {name}"),
            Origin::Default => f.write_str("default"),
        }
    }
}

/// A setting's value and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting<T> {
    pub value: T,
    pub origin: Origin,
}

impl<T> Setting<T> {
    /// Whether the environment or the file set it (not a default).
    pub fn is_set(&self) -> bool {
        self.origin != Origin::Default
    }
}

/// `[defaults] gathering`: whether plays that do not say `gather_facts` gather facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gathering {
    /// Gather unless the play says `gather_facts: false` (Ansible's default).
    Implicit,
    /// Gather only when the play says `gather_facts: true`.
    Explicit,
    /// Gather unless facts are cached: zdd caches none, so as `implicit`.
    Smart,
}

impl Gathering {
    pub fn as_str(self) -> &'static str {
        match self {
            Gathering::Implicit => "implicit",
            Gathering::Explicit => "explicit",
            Gathering::Smart => "smart",
        }
    }
}

/// A setting: its environment variables and its `(section, key)` entries, each list in
/// Ansible's order (a later one wins).
struct Def {
    env: &'static [&'static str],
    ini: &'static [(&'static str, &'static str)],
}

macro_rules! def {
    ([$($env:literal),*], [$(($section:literal, $key:literal)),*]) => {
        Def { env: &[$($env),*], ini: &[$(($section, $key)),*] }
    };
}

/// A raw value and where it came from.
struct Raw {
    text: String,
    origin: Origin,
}

struct Sources<'a> {
    file: Option<Arc<PathBuf>>,
    entries: Vec<Entry>,
    env: &'a dyn Fn(&str) -> Option<String>,
    cwd: &'a Path,
    home: Option<&'a Path>,
    problems: Vec<Diagnostic>,
}

impl Sources<'_> {
    fn raw(&self, def: &Def) -> Option<Raw> {
        let from_env = def
            .env
            .iter()
            .filter_map(|name| (self.env)(name).map(|v| (*name, v)))
            .last();
        if let Some((name, text)) = from_env {
            return Some(Raw {
                text,
                origin: Origin::Env(name),
            });
        }
        let path = self.file.as_ref()?;
        def.ini
            .iter()
            .rev()
            .find_map(|(section, key)| ini::lookup(&self.entries, section, key))
            .map(|entry| Raw {
                text: ini::unquote(&entry.value).to_owned(),
                origin: Origin::File {
                    path: path.clone(),
                    line: entry.line,
                },
            })
    }

    /// Where relative paths of `origin` start: the file's directory, or the current one.
    fn base(&self, origin: &Origin) -> PathBuf {
        match origin {
            Origin::File { path, .. } => path.parent().map(Path::to_path_buf).unwrap_or_default(),
            _ => self.cwd.to_path_buf(),
        }
    }

    fn bad(&mut self, origin: &Origin, message: String, hint: &str) {
        let diagnostic = match origin {
            Origin::File { path, line } => Diagnostic::new(message).at(Location::new(path.clone(), *line, 1)),
            Origin::Env(name) => Diagnostic::new(format!("environment variable {name}: {message}")),
            Origin::Default => Diagnostic::new(message),
        };
        self.problems.push(diagnostic.hint(hint));
    }

    /// A value of type `T`, converted by `convert`; `default` when unset or when its
    /// environment variable is empty (as Ansible treats an empty non-string variable).
    fn typed<T>(
        &mut self,
        def: &Def,
        default: T,
        what: &str,
        hint: &str,
        convert: impl Fn(&str) -> Option<T>,
    ) -> Setting<T> {
        let Some(raw) = self.raw(def) else {
            return Setting {
                value: default,
                origin: Origin::Default,
            };
        };
        if raw.text.trim().is_empty() && matches!(raw.origin, Origin::Env(_)) {
            return Setting {
                value: default,
                origin: Origin::Default,
            };
        }
        match convert(raw.text.trim()) {
            Some(value) => Setting {
                value,
                origin: raw.origin,
            },
            None => {
                self.bad(&raw.origin, format!("`{}` is not {what}", raw.text.trim()), hint);
                Setting {
                    value: default,
                    origin: raw.origin,
                }
            }
        }
    }

    fn boolean(&mut self, def: &Def, default: bool) -> Setting<bool> {
        self.typed(
            def,
            default,
            "a boolean",
            "use true or false (yes/no, on/off, 1/0 work too)",
            parse_bool,
        )
    }

    fn integer(&mut self, def: &Def, default: u32) -> Setting<u32> {
        self.typed(def, default, "a whole number", "use a number such as 10", |t| {
            t.parse::<u32>().ok()
        })
    }

    /// A string; an empty one is unset.
    fn string(&mut self, def: &Def) -> Setting<Option<String>> {
        match self.raw(def) {
            Some(raw) if !raw.text.trim().is_empty() => Setting {
                value: Some(raw.text.trim().to_owned()),
                origin: raw.origin,
            },
            _ => Setting {
                value: None,
                origin: Origin::Default,
            },
        }
    }

    fn string_or(&mut self, def: &Def, default: &str) -> Setting<String> {
        let s = self.string(def);
        Setting {
            value: s.value.unwrap_or_else(|| default.to_owned()),
            origin: s.origin,
        }
    }

    fn path(&mut self, def: &Def) -> Setting<Option<PathBuf>> {
        let s = self.string(def);
        let base = self.base(&s.origin);
        Setting {
            value: s.value.map(|v| resolve_path(&v, &base, self.home)),
            origin: s.origin,
        }
    }

    /// Paths separated by `separator` (`,` for Ansible's `pathlist`, `:` for `pathspec`).
    fn paths(&mut self, def: &Def, separator: char, default: Vec<PathBuf>) -> Setting<Vec<PathBuf>> {
        let s = self.string(def);
        let base = self.base(&s.origin);
        match s.value {
            Some(value) => Setting {
                value: value
                    .split(separator)
                    .map(|p| ini::unquote(p.trim()))
                    .filter(|p| !p.is_empty())
                    .map(|p| resolve_path(p, &base, self.home))
                    .collect(),
                origin: s.origin,
            },
            None => Setting {
                value: default,
                origin: Origin::Default,
            },
        }
    }

    /// Warnings for the sections and keys ansible-core does not know.
    fn unknown_keys(&self, sections: &[(String, usize)]) -> Vec<Diagnostic> {
        let Some(path) = &self.file else {
            return Vec::new();
        };
        let at = |line| Location::new(path.clone(), line, 1);
        let known_section = |s: &str| s == ini::DEFAULT_SECTION || KNOWN_KEYS.iter().any(|(k, _)| *k == s);
        let mut warnings = Vec::new();
        for (section, line) in sections {
            if !known_section(section) {
                let names = KNOWN_KEYS.iter().map(|(s, _)| *s);
                let mut d = Diagnostic::new(format!(
                    "unknown section [{section}] in the Ansible configuration"
                ))
                .at(at(*line));
                d = match crate::error::did_you_mean(section, names) {
                    Some(hint) => d.hint(format!("{hint} (zdd ignores this section)")),
                    None => d.hint("zdd ignores this section"),
                };
                warnings.push(d);
            }
        }
        for entry in &self.entries {
            if !known_section(&entry.section) {
                continue;
            }
            let known = KNOWN_KEYS.iter().any(|(s, k)| {
                (entry.section == ini::DEFAULT_SECTION || *s == entry.section) && *k == entry.key
            });
            if !known {
                let names = KNOWN_KEYS
                    .iter()
                    .filter(|(s, _)| *s == entry.section)
                    .map(|(_, k)| *k);
                let mut d = Diagnostic::new(format!(
                    "unknown key `{}` in [{}] of the Ansible configuration",
                    entry.key, entry.section
                ))
                .at(at(entry.line));
                d = match crate::error::did_you_mean(&entry.key, names) {
                    Some(hint) => d.hint(format!("{hint} (zdd ignores this key)")),
                    None => d.hint("zdd ignores this key"),
                };
                warnings.push(d);
            }
        }
        warnings
    }
}

/// Ansible's booleans (`module_utils.parsing.convert_bool`), case-insensitive.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_lowercase().as_str() {
        "y" | "yes" | "on" | "1" | "true" | "t" => Some(true),
        "n" | "no" | "off" | "0" | "false" | "f" => Some(false),
        _ => None,
    }
}

/// A configuration path as Ansible's `unfrackpath` makes it: `~` and `$VARS` expanded,
/// relative to `base`.
fn resolve_path(value: &str, base: &Path, home: Option<&Path>) -> PathBuf {
    let path = super::expand_home(Path::new(value), home);
    if path.is_absolute() {
        path
    } else {
        base.join(path)
    }
}

pub(super) fn resolve(
    file: Option<PathBuf>,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    cwd: &Path,
    home: Option<&Path>,
) -> Result<AnsibleConfig, Vec<Diagnostic>> {
    let file = file.map(Arc::new);
    let (entries, sections) = match ini::parse(text) {
        Ok(parsed) => parsed,
        Err(e) => {
            let d = Diagnostic::new(format!("cannot read the Ansible configuration: {}", e.message))
                .hint("fix the line, as ansible-playbook would refuse it too");
            return Err(vec![match &file {
                Some(path) => d.at(Location::new(path.clone(), e.line, 1)),
                None => d,
            }]);
        }
    };
    let mut s = Sources {
        file: file.clone(),
        entries,
        env,
        cwd,
        home,
        problems: Vec::new(),
    };
    let warnings = s.unknown_keys(&sections);
    let gathering_def = def!(["ANSIBLE_GATHERING"], [("defaults", "gathering")]);
    let config = AnsibleConfig {
        file: file.map(|f| f.as_ref().clone()),
        warnings,
        inventory: s.paths(
            &def!(["ANSIBLE_INVENTORY"], [("defaults", "inventory")]),
            ',',
            vec!["/etc/ansible/hosts".into()],
        ),
        remote_user: s.string(&def!(["ANSIBLE_REMOTE_USER"], [("defaults", "remote_user")])),
        private_key_file: s.path(&def!(
            ["ANSIBLE_PRIVATE_KEY_FILE"],
            [("defaults", "private_key_file")]
        )),
        host_key_checking: s.boolean(
            &def!(
                ["ANSIBLE_HOST_KEY_CHECKING", "ANSIBLE_SSH_HOST_KEY_CHECKING"],
                [
                    ("defaults", "host_key_checking"),
                    ("ssh_connection", "host_key_checking")
                ]
            ),
            true,
        ),
        forks: s.typed(
            &def!(["ANSIBLE_FORKS"], [("defaults", "forks")]),
            20,
            "a number of forks (1 or more)",
            "use a number such as 20",
            |t| t.parse::<u32>().ok().filter(|n| *n >= 1),
        ),
        roles_path: s.paths(
            &def!(["ANSIBLE_ROLES_PATH"], [("defaults", "roles_path")]),
            ':',
            super::default_roles_path(home),
        ),
        timeout: s.integer(
            &def!(
                ["ANSIBLE_TIMEOUT", "ANSIBLE_SSH_TIMEOUT"],
                [("defaults", "timeout"), ("ssh_connection", "timeout")]
            ),
            10,
        ),
        vault_password_file: s.path(&def!(
            ["ANSIBLE_VAULT_PASSWORD_FILE"],
            [("defaults", "vault_password_file")]
        )),
        vault_identity_list: {
            let list = s.string(&def!(
                ["ANSIBLE_VAULT_IDENTITY_LIST"],
                [("defaults", "vault_identity_list")]
            ));
            Setting {
                value: list
                    .value
                    .map(|v| {
                        v.split(',')
                            .map(|x| ini::unquote(x.trim()).to_owned())
                            .filter(|x| !x.is_empty())
                            .collect()
                    })
                    .unwrap_or_default(),
                origin: list.origin,
            }
        },
        gathering: s.typed(
            &gathering_def,
            Gathering::Implicit,
            "one of implicit, explicit, smart",
            "use implicit, explicit or smart",
            |t| match t {
                "implicit" => Some(Gathering::Implicit),
                "explicit" => Some(Gathering::Explicit),
                "smart" => Some(Gathering::Smart),
                _ => None,
            },
        ),
        any_errors_fatal: s.boolean(
            &def!(["ANSIBLE_ANY_ERRORS_FATAL"], [("defaults", "any_errors_fatal")]),
            false,
        ),
        log_path: s.path(&def!(["ANSIBLE_LOG_PATH"], [("defaults", "log_path")])),
        ssh_args: s.string(&def!(["ANSIBLE_SSH_ARGS"], [("ssh_connection", "ssh_args")])),
        ssh_common_args: s.string_or(
            &def!(
                ["ANSIBLE_SSH_COMMON_ARGS"],
                [("ssh_connection", "ssh_common_args")]
            ),
            "",
        ),
        ssh_extra_args: s.string_or(
            &def!(["ANSIBLE_SSH_EXTRA_ARGS"], [("ssh_connection", "ssh_extra_args")]),
            "",
        ),
        control_path_dir: s.path(&def!(
            ["ANSIBLE_SSH_CONTROL_PATH_DIR"],
            [("ssh_connection", "control_path_dir")]
        )),
        retries: s.integer(
            &def!(
                ["ANSIBLE_SSH_RETRIES"],
                [("connection", "retries"), ("ssh_connection", "retries")]
            ),
            0,
        ),
        become_enabled: s.boolean(
            &def!(["ANSIBLE_BECOME"], [("privilege_escalation", "become")]),
            false,
        ),
        become_method: s.string_or(
            &def!(
                ["ANSIBLE_BECOME_METHOD"],
                [("privilege_escalation", "become_method")]
            ),
            "sudo",
        ),
        become_user: s.string_or(
            &def!(["ANSIBLE_BECOME_USER"], [("privilege_escalation", "become_user")]),
            "root",
        ),
        become_ask_pass: s.boolean(
            &def!(
                ["ANSIBLE_BECOME_ASK_PASS"],
                [("privilege_escalation", "become_ask_pass")]
            ),
            false,
        ),
    };
    if s.problems.is_empty() {
        Ok(config)
    } else {
        Err(s.problems)
    }
}
