//! Ansible Vault: the passwords given (`--vault-password-file`, `--vault-id`, `-J`,
//! `ansible.cfg`), decryption of vaulted files and inline `!vault` values where they are
//! read, and the secrets they hold, which every output masks.
//!
//! The keyring is installed once per process, before any input file is read (`load.rs`);
//! the readers (`yaml::Source::read`, the YAML loader's `!vault` tag, `copy`/`template`
//! sources) take it from there, so no reader needs a parameter threaded through.

mod crypto;
mod passwords;
mod secrets;

pub use crypto::{is_vaulted, Envelope};
pub use passwords::{keyring_from, PasswordSources};
pub use secrets::{
    any_secret_name, has_secret_names, mask, register_secret, register_secret_name, register_secrets_in,
    reveals, reveals_str,
};

use std::sync::{Arc, RwLock};

/// One password, with the label it was given under (`default` unless `--vault-id LABEL@`).
#[derive(Clone)]
pub struct VaultPassword {
    pub label: String,
    pub(crate) bytes: Vec<u8>,
}

impl std::fmt::Debug for VaultPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VaultPassword({}, <censored>)", self.label)
    }
}

/// Every password given, in the order Ansible tries them.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    pub passwords: Vec<VaultPassword>,
}

/// Why a payload could not be decrypted; the caller adds where it was written.
#[derive(Debug, Clone, PartialEq)]
pub enum VaultError {
    /// No password was given at all.
    NoPassword,
    /// None of the passwords decrypts it: the labels tried.
    WrongPassword { tried: Vec<String> },
    /// The payload is not a well-formed vault envelope.
    Malformed(String),
    /// The plaintext is not UTF-8 text (a vaulted YAML file must be text).
    NotText,
}

impl VaultError {
    /// The message, naming `what` (a file, or `the !vault value of `x``).
    pub fn message(&self, what: &str) -> String {
        match self {
            VaultError::NoPassword => {
                format!("{what} is encrypted with Ansible Vault and no vault password was given")
            }
            VaultError::WrongPassword { tried } => format!(
                "cannot decrypt {what}: no vault password given decrypts it (tried vault ids: {})",
                tried.join(", ")
            ),
            VaultError::Malformed(why) => format!("{what} is not a valid Ansible Vault payload: {why}"),
            VaultError::NotText => format!("{what} decrypts to binary data, not text"),
        }
    }

    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            VaultError::NoPassword => {
                "pass `--vault-password-file FILE`, `--vault-id [LABEL@]FILE` or `-J` (`--ask-vault-pass`)"
            }
            VaultError::WrongPassword { .. } => {
                "check the password file, or add the `--vault-id LABEL@FILE` this payload was encrypted with"
            }
            VaultError::Malformed(_) => "re-encrypt it with `ansible-vault encrypt` (or `encrypt_string`)",
            VaultError::NotText => "vaulted YAML must decrypt to UTF-8 text",
        }
    }
}

impl Keyring {
    /// The plaintext of a vault payload. A 1.2 payload tries the password with its label
    /// first, then the others (Ansible's default, `vault_id_match = False`).
    pub fn decrypt(&self, vaulttext: &str) -> Result<Vec<u8>, VaultError> {
        let envelope = Envelope::parse(vaulttext).map_err(VaultError::Malformed)?;
        if self.passwords.is_empty() {
            return Err(VaultError::NoPassword);
        }
        let label = envelope.label.as_deref();
        let ordered = self
            .passwords
            .iter()
            .filter(|p| Some(p.label.as_str()) == label)
            .chain(self.passwords.iter().filter(|p| Some(p.label.as_str()) != label));
        let mut tried = Vec::new();
        for password in ordered {
            if let Some(plain) = envelope.decrypt(&password.bytes) {
                return Ok(plain);
            }
            if !tried.contains(&password.label) {
                tried.push(password.label.clone());
            }
        }
        Err(VaultError::WrongPassword { tried })
    }

    /// The plaintext as text.
    pub fn decrypt_text(&self, vaulttext: &str) -> Result<String, VaultError> {
        String::from_utf8(self.decrypt(vaulttext)?).map_err(|_| VaultError::NotText)
    }
}

static KEYRING: RwLock<Option<Arc<Keyring>>> = RwLock::new(None);

/// Make `keyring` the one every reader of this process decrypts with.
pub fn install(keyring: Keyring) {
    *KEYRING.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(keyring));
}

/// The installed keyring (an empty one when none was installed).
pub fn keyring() -> Arc<Keyring> {
    KEYRING
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_default()
}

/// A whole file's text, decrypted when it is vaulted, with whether it was. The secrets in
/// it are not registered here: what counts as a secret depends on what the file is.
pub fn open_text(text: String) -> Result<(String, bool), VaultError> {
    if !is_vaulted(&text) {
        return Ok((text, false));
    }
    keyring().decrypt_text(&text).map(|plain| (plain, true))
}

/// A whole file's bytes, decrypted when it is vaulted (`copy`/`template` sources); the
/// plaintext of a vaulted file is registered as a secret.
pub fn open_bytes(bytes: Vec<u8>) -> Result<Vec<u8>, VaultError> {
    let vaulted = std::str::from_utf8(&bytes).is_ok_and(is_vaulted);
    if !vaulted {
        return Ok(bytes);
    }
    let text = std::str::from_utf8(&bytes).unwrap_or_default();
    let plain = keyring().decrypt(text)?;
    if let Ok(s) = std::str::from_utf8(&plain) {
        register_secret(s.trim_end_matches('\n'));
    }
    Ok(plain)
}

/// A local file a module sends (`copy`/`template` `src`), decrypted when vaulted; the
/// error names the file.
pub fn read_local_file(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    open_bytes(bytes).map_err(|e| e.message(&format!("`{}`", path.display())))
}

/// Whether a local file a module will send can be read: a vaulted one must decrypt with
/// the passwords given, checked before any host is touched.
pub fn check_local_file(path: &std::path::Path) -> Result<(), VaultError> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    if is_vaulted(&text) {
        keyring().decrypt(&text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/vault");

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()
    }

    fn password(label: &str, p: &str) -> VaultPassword {
        VaultPassword {
            label: label.into(),
            bytes: p.as_bytes().to_vec(),
        }
    }

    #[test]
    fn two_vault_ids_decrypt_their_own_files() {
        let ring = Keyring {
            passwords: vec![password("dev", "dev-pass"), password("prod", "prod-pass")],
        };
        assert_eq!(
            ring.decrypt_text(&fixture("secrets-prod.yml")).unwrap(),
            "prod_secret: prod-value-77\n"
        );
        assert_eq!(
            ring.decrypt_text(&fixture("secrets-dev.yml")).unwrap(),
            "dev_secret: dev-value-55\n"
        );
    }

    #[test]
    fn a_label_that_does_not_match_still_tries_every_password() {
        // Ansible's default (`vault_id_match = False`): the label only orders the tries.
        let ring = Keyring {
            passwords: vec![password("other", "prod-pass")],
        };
        assert!(ring.decrypt_text(&fixture("secrets-prod.yml")).is_ok());
    }

    #[test]
    fn wrong_passwords_name_the_vault_ids_tried() {
        let ring = Keyring {
            passwords: vec![
                password("default", "x"),
                password("prod", "y"),
                password("default", "z"),
            ],
        };
        let err = ring.decrypt(&fixture("secrets-prod.yml")).unwrap_err();
        assert_eq!(
            err,
            VaultError::WrongPassword {
                tried: vec!["prod".into(), "default".into()]
            }
        );
        assert_eq!(
            err.message("`vars.yml`"),
            "cannot decrypt `vars.yml`: no vault password given decrypts it (tried vault ids: prod, default)"
        );
    }

    #[test]
    fn no_password_is_its_own_error() {
        let err = Keyring::default()
            .decrypt(&fixture("secrets-1.1.yml"))
            .unwrap_err();
        assert_eq!(err, VaultError::NoPassword);
    }
}
