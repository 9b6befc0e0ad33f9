//! The `ansible.cfg` zdd honours, found as Ansible finds it, and the settings read from
//! it (with their environment variables winning). Today: `roles_path`.

use std::path::{Path, PathBuf};

/// The settings zdd takes from Ansible's configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnsibleConfig {
    /// The file read, if one was found.
    pub file: Option<PathBuf>,
    /// `ANSIBLE_ROLES_PATH`, else `[defaults] roles_path`, else Ansible's default.
    pub roles_path: Vec<PathBuf>,
    /// `ANSIBLE_VAULT_PASSWORD_FILE`, else `[defaults] vault_password_file`.
    pub vault_password_file: Option<PathBuf>,
    /// `ANSIBLE_VAULT_IDENTITY_LIST`, else `[defaults] vault_identity_list` (comma-separated).
    pub vault_identity_list: Vec<String>,
}

impl AnsibleConfig {
    /// The configuration of this process: the first of `ANSIBLE_CONFIG` (a file, or a
    /// directory holding `ansible.cfg`), `./ansible.cfg`, `~/.ansible.cfg`,
    /// `/etc/ansible/ansible.cfg`.
    pub fn load() -> AnsibleConfig {
        let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let home = env("HOME").map(PathBuf::from);
        let file = find_config_file(env("ANSIBLE_CONFIG").map(PathBuf::from), home.as_deref());
        let ini = file
            .as_deref()
            .and_then(|f| crate::yaml::read_bounded(f).ok())
            .unwrap_or_default();
        let base = file
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let roles_path = match env("ANSIBLE_ROLES_PATH") {
            Some(value) => path_list(&value.to_string_lossy(), &cwd(), home.as_deref()),
            None => match ini_value(&ini, "defaults", "roles_path") {
                Some(value) => path_list(&value, &base, home.as_deref()),
                None => default_roles_path(home.as_deref()),
            },
        };
        let vault_password_file = match env("ANSIBLE_VAULT_PASSWORD_FILE") {
            Some(value) => path_list(&value.to_string_lossy(), &cwd(), home.as_deref()).pop(),
            None => ini_value(&ini, "defaults", "vault_password_file")
                .and_then(|value| path_list(&value, &base, home.as_deref()).pop()),
        };
        let identities = env("ANSIBLE_VAULT_IDENTITY_LIST")
            .map(|v| v.to_string_lossy().into_owned())
            .or_else(|| ini_value(&ini, "defaults", "vault_identity_list"))
            .unwrap_or_default();
        let vault_identity_list = identities
            .split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .collect();
        AnsibleConfig {
            file,
            roles_path,
            vault_password_file,
            vault_identity_list,
        }
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

/// A `pathspec` value: colon-separated, `~` expanded, relative entries taken from `base`
/// (the configuration file's directory, as Ansible resolves them).
fn path_list(value: &str, base: &Path, home: Option<&Path>) -> Vec<PathBuf> {
    value
        .split(':')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let path = expand_home(Path::new(p), home);
            if path.is_absolute() {
                path
            } else {
                base.join(path)
            }
        })
        .collect()
}

/// `key` of `[section]` in INI text as Python's configparser reads it: `key = value` or
/// `key: value`, comments starting with `#` or `;`, the last value winning.
fn ini_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut current = String::new();
    let mut found = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            current = name.trim().to_owned();
            continue;
        }
        if current != section {
            continue;
        }
        let Some(at) = trimmed.find(['=', ':']) else {
            continue;
        };
        if trimmed[..at].trim() == key {
            found = Some(trimmed[at + 1..].trim().to_owned());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_values_are_read_from_their_section() {
        let text = "[defaults]\n# roles_path = nope\nroles_path = roles:~/more:/abs\nother: 1\n[ssh]\nroles_path = wrong\n";
        assert_eq!(
            ini_value(text, "defaults", "roles_path").as_deref(),
            Some("roles:~/more:/abs")
        );
        assert_eq!(ini_value(text, "defaults", "other").as_deref(), Some("1"));
        assert_eq!(ini_value(text, "defaults", "missing"), None);
        let paths = path_list(
            "roles:~/more:/abs",
            Path::new("/proj"),
            Some(Path::new("/home/u")),
        );
        assert_eq!(
            paths,
            [
                PathBuf::from("/proj/roles"),
                PathBuf::from("/home/u/more"),
                PathBuf::from("/abs")
            ]
        );
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
