//! Where vault passwords come from, in Ansible's order: `vault_identity_list` (ansible.cfg
//! or `ANSIBLE_VAULT_IDENTITY_LIST`), each `--vault-id [LABEL@]SOURCE`, each
//! `--vault-password-file`, then `vault_password_file` (ansible.cfg or
//! `ANSIBLE_VAULT_PASSWORD_FILE`), then `-J` (`--ask-vault-pass`). A SOURCE is `prompt`, a
//! file (its content, stripped), or an executable (its standard output; a `*-client`
//! script gets `--vault-id LABEL`, as Ansible gives it).

use super::{Keyring, VaultPassword};
use crate::error::Diagnostic;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The label of a password given without one.
pub const DEFAULT_LABEL: &str = "default";

/// What the command line and the configuration say about vault passwords.
#[derive(Debug, Clone, Default)]
pub struct PasswordSources {
    /// `vault_identity_list` from the configuration, before the command line's.
    pub config_identities: Vec<String>,
    /// `--vault-id`, in order.
    pub vault_ids: Vec<String>,
    /// `--vault-password-file`, in order.
    pub password_files: Vec<PathBuf>,
    /// `vault_password_file` from the configuration.
    pub config_password_file: Option<PathBuf>,
    /// `-J`.
    pub ask: bool,
}

/// One `LABEL@SOURCE` to read.
#[derive(Debug, Clone, PartialEq)]
struct Slug {
    label: String,
    source: String,
    /// Which flag or setting gave it, for errors.
    given_by: String,
}

impl PasswordSources {
    fn slugs(&self) -> Vec<Slug> {
        let split = |text: &str, given_by: String| {
            let (label, source) = match text.split_once('@') {
                Some((label, source)) if !label.is_empty() => (label, source),
                Some((_, source)) => (DEFAULT_LABEL, source),
                None => (DEFAULT_LABEL, text),
            };
            Slug {
                label: label.to_owned(),
                source: source.to_owned(),
                given_by,
            }
        };
        let mut slugs = Vec::new();
        for id in &self.config_identities {
            slugs.push(split(id, format!("vault_identity_list `{id}`")));
        }
        for id in &self.vault_ids {
            slugs.push(split(id, format!("--vault-id {id}")));
        }
        for file in &self.password_files {
            slugs.push(Slug {
                label: DEFAULT_LABEL.into(),
                source: file.display().to_string(),
                given_by: format!("--vault-password-file {}", file.display()),
            });
        }
        if let Some(file) = &self.config_password_file {
            slugs.push(Slug {
                label: DEFAULT_LABEL.into(),
                source: file.display().to_string(),
                given_by: format!("vault_password_file {}", file.display()),
            });
        }
        if self.ask {
            slugs.push(Slug {
                label: DEFAULT_LABEL.into(),
                source: "prompt_ask_vault_pass".into(),
                given_by: "-J".into(),
            });
        }
        slugs
    }
}

/// Read every password. As in Ansible, a password file that cannot be read is a warning
/// while another source gave a password, and an error when none did.
pub fn keyring_from(sources: &PasswordSources) -> Result<Keyring, Diagnostic> {
    let mut ring = Keyring::default();
    let mut problems = Vec::new();
    for slug in sources.slugs() {
        match read_password(&slug) {
            Ok(bytes) => ring.passwords.push(VaultPassword {
                label: slug.label.clone(),
                bytes,
            }),
            Err(d) => problems.push(d),
        }
    }
    if ring.passwords.is_empty() && !problems.is_empty() {
        return Err(problems.swap_remove(0));
    }
    for d in problems {
        eprintln!("[WARNING]: {}", d.message);
    }
    Ok(ring)
}

fn read_password(slug: &Slug) -> Result<Vec<u8>, Diagnostic> {
    let problem = |message: String, hint: &str| {
        Diagnostic::new(format!("{message} (from {})", slug.given_by)).hint(hint.to_owned())
    };
    let bytes = match slug.source.as_str() {
        "prompt" => ask(&format!("Vault password ({}): ", slug.label)),
        "prompt_ask_vault_pass" => ask("Vault password: "),
        file => {
            let path = Path::new(file);
            if !path.exists() {
                return Err(problem(
                    format!("the vault password file {file} was not found"),
                    "pass an existing file, or `-J` to type the password",
                ));
            }
            if path.is_dir() {
                return Err(problem(
                    format!("the vault password file {file} is a directory"),
                    "pass the password file itself",
                ));
            }
            if is_executable(path) {
                run_script(path, &slug.label).map_err(|m| {
                    problem(
                        m,
                        "the script must print the password on its standard output and exit 0",
                    )
                })?
            } else {
                let bytes = std::fs::read(path).map_err(|e| {
                    problem(
                        format!("cannot read the vault password file {file}: {e}"),
                        "check its permissions",
                    )
                })?;
                trim_whitespace(&bytes).to_vec()
            }
        }
    };
    let bytes = trim_newlines(&bytes).to_vec();
    if bytes.is_empty() {
        return Err(match slug.source.as_str() {
            "prompt" | "prompt_ask_vault_pass" => {
                problem("the vault password typed is empty".into(), "type the password")
            }
            file => problem(
                format!("the vault password from {file} is empty"),
                "put the password in the file (one line)",
            ),
        });
    }
    Ok(bytes)
}

/// Run a password script; a `*-client` script is asked for `--vault-id LABEL`.
fn run_script(path: &Path, label: &str) -> Result<Vec<u8>, String> {
    // By its path, never looked up in `PATH` (`pass.sh` is the file here).
    let mut command = Command::new(std::path::absolute(path).unwrap_or_else(|_| path.to_owned()));
    if is_client_script(path) {
        command.args(["--vault-id", label]);
    }
    // Its stderr stays the user's: a script may prompt there.
    let out = command
        .stdin(Stdio::inherit())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run the vault password script {}: {e}", path.display()))?;
    if !out.status.success() {
        let code = out.status.code().map_or("a signal".to_owned(), |c| c.to_string());
        return Err(if is_client_script(path) && out.status.code() == Some(2) {
            format!(
                "the vault password client script {} found no secret for vault id `{label}`",
                path.display()
            )
        } else {
            format!("the vault password script {} exited with {code}", path.display())
        });
    }
    Ok(out.stdout)
}

/// `NAME-client` or `NAME-client.EXT`, as Ansible decides it.
fn is_client_script(path: &Path) -> bool {
    path.file_stem()
        .and_then(|s| s.to_str())
        .is_some_and(|s| s.ends_with("-client"))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn ask(prompt: &str) -> Vec<u8> {
    crate::commands::prompt::read_answer(prompt, true)
        .unwrap_or_default()
        .into_bytes()
}

fn trim_whitespace(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

fn trim_newlines(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b"\r\n".contains(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b"\r\n".contains(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/vault");

    fn fixture(name: &str) -> String {
        format!("{FIXTURES}/{name}")
    }

    fn labels(ring: &Keyring) -> Vec<&str> {
        ring.passwords.iter().map(|p| p.label.as_str()).collect()
    }

    #[test]
    fn sources_are_read_in_ansibles_order() {
        let sources = PasswordSources {
            config_identities: vec![format!("dev@{}", fixture("pass-dev.txt"))],
            vault_ids: vec![format!("prod@{}", fixture("pass-prod.txt"))],
            password_files: vec![fixture("pass-default.txt").into()],
            ..Default::default()
        };
        let ring = keyring_from(&sources).unwrap();
        assert_eq!(labels(&ring), ["dev", "prod", "default"]);
        assert_eq!(ring.passwords[2].bytes, b"fixture-pass");
    }

    #[test]
    fn an_executable_file_is_run_for_its_output() {
        let sources = PasswordSources {
            vault_ids: vec![fixture("pass-script.sh")],
            ..Default::default()
        };
        let ring = keyring_from(&sources).unwrap();
        assert_eq!(ring.passwords[0].bytes, b"fixture-pass");
        assert_eq!(labels(&ring), ["default"]);
    }

    #[test]
    fn a_client_script_is_asked_for_its_label() {
        let sources = PasswordSources {
            vault_ids: vec![
                format!("prod@{}", fixture("vault-pass-client.sh")),
                format!("dev@{}", fixture("vault-pass-client.sh")),
            ],
            ..Default::default()
        };
        let ring = keyring_from(&sources).unwrap();
        assert_eq!(ring.passwords[0].bytes, b"prod-pass");
        assert_eq!(ring.passwords[1].bytes, b"dev-pass");
        let text = std::fs::read_to_string(fixture("secrets-prod.yml")).unwrap();
        assert!(ring.decrypt_text(&text).unwrap().contains("prod-value-77"));
    }

    #[test]
    fn a_missing_file_is_an_error_only_when_no_password_was_found() {
        let missing = PasswordSources {
            password_files: vec!["/nonexistent/vault-pass".into()],
            ..Default::default()
        };
        let err = keyring_from(&missing).unwrap_err();
        assert_eq!(
            err.message,
            "the vault password file /nonexistent/vault-pass was not found (from --vault-password-file /nonexistent/vault-pass)"
        );
        let with_another = PasswordSources {
            password_files: vec![
                "/nonexistent/vault-pass".into(),
                fixture("pass-default.txt").into(),
            ],
            ..Default::default()
        };
        assert_eq!(keyring_from(&with_another).unwrap().passwords.len(), 1);
    }
}
