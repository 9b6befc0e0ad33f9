//! The Ansible Vault format, `$ANSIBLE_VAULT;1.1;AES256` and `1.2;AES256;LABEL`: a header
//! line, then hex text (in 80-column lines) of `hex(salt) \n hex(hmac) \n hex(ciphertext)`.
//! The key is PBKDF2-HMAC-SHA256 (10,000 rounds) of the password and salt, 80 bytes:
//! AES-256 key, HMAC-SHA256 key, CTR counter block. The HMAC of the ciphertext is checked
//! (in constant time) before anything is decrypted; the plaintext is PKCS#7 padded.

use aes::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const HEADER: &str = "$ANSIBLE_VAULT";
const ITERATIONS: u32 = 10_000;
const KEY_LEN: usize = 32;
const IV_LEN: usize = 16;

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;

/// A vault payload's header and encrypted body, before any password is tried.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub version: String,
    /// The label of a 1.2 payload (`--vault-id LABEL@...`), `None` for 1.1.
    pub label: Option<String>,
    salt: Vec<u8>,
    hmac: Vec<u8>,
    ciphertext: Vec<u8>,
}

/// Whether the text is a vault payload (its first line starts with the vault header).
pub fn is_vaulted(text: &str) -> bool {
    text.trim_start().starts_with(HEADER)
}

impl Envelope {
    /// Read the header and the hex body. The error says what is malformed.
    pub fn parse(text: &str) -> Result<Envelope, String> {
        let mut lines = text.trim().lines();
        let header = lines.next().unwrap_or_default().trim();
        let fields: Vec<&str> = header.split(';').map(str::trim).collect();
        if fields.first() != Some(&HEADER) || fields.len() < 3 {
            return Err(format!(
                "the first line is `{header}`, not `$ANSIBLE_VAULT;1.1;AES256`"
            ));
        }
        let version = fields[1].to_owned();
        if !matches!(version.as_str(), "1.1" | "1.2") {
            return Err(format!(
                "vault format version {version} is not known (1.1 and 1.2 are)"
            ));
        }
        if fields[2] != "AES256" {
            return Err(format!("cipher `{}` is not known (AES256 is)", fields[2]));
        }
        let label = fields.get(3).filter(|l| !l.is_empty()).map(|l| l.to_string());
        let body: String = lines.map(str::trim).collect();
        let inner = unhex(&body).ok_or("the encrypted body is not hexadecimal text")?;
        let inner = String::from_utf8(inner).map_err(|_| "the encrypted body is damaged".to_owned())?;
        let mut parts = inner.splitn(3, '\n');
        let (Some(salt), Some(hmac), Some(ciphertext)) = (parts.next(), parts.next(), parts.next()) else {
            return Err("the encrypted body lacks its salt, HMAC or ciphertext".into());
        };
        let field = |hex: &str, what: &str| unhex(hex.trim()).ok_or(format!("the {what} is not hexadecimal"));
        Ok(Envelope {
            version,
            label,
            salt: field(salt, "salt")?,
            hmac: field(hmac, "HMAC")?,
            ciphertext: field(ciphertext, "ciphertext")?,
        })
    }

    /// The plaintext, or `None` when the password is not the one it was encrypted with
    /// (the HMAC does not match) or the padding is wrong.
    pub fn decrypt(&self, password: &[u8]) -> Option<Vec<u8>> {
        let derived = derive_keys(password, &self.salt);
        let (cipher_key, rest) = derived.split_at(KEY_LEN);
        let (hmac_key, iv) = rest.split_at(KEY_LEN);
        let mut mac = Hmac::<Sha256>::new_from_slice(hmac_key).ok()?;
        mac.update(&self.ciphertext);
        // `verify_slice` compares in constant time.
        mac.verify_slice(&self.hmac).ok()?;
        let mut plain = self.ciphertext.clone();
        Aes256Ctr::new(cipher_key.into(), iv.into()).apply_keystream(&mut plain);
        let pad = *plain.last()? as usize;
        if pad == 0
            || pad > 16
            || pad > plain.len()
            || !plain[plain.len() - pad..].iter().all(|&b| b as usize == pad)
        {
            return None;
        }
        plain.truncate(plain.len() - pad);
        Some(plain)
    }
}

type DerivedKeys = [u8; 2 * KEY_LEN + IV_LEN];

/// PBKDF2 of (password, salt), remembered: a vaulted template is read again for every host
/// it is rendered for, and 10,000 rounds are worth keeping (Ansible caches them too).
fn derive_keys(password: &[u8], salt: &[u8]) -> DerivedKeys {
    use std::collections::HashMap;
    use std::sync::Mutex;
    type PasswordAndSalt = (Vec<u8>, Vec<u8>);
    static CACHE: Mutex<Option<HashMap<PasswordAndSalt, DerivedKeys>>> = Mutex::new(None);
    let key = (password.to_vec(), salt.to_vec());
    if let Some(found) = CACHE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .and_then(|c| c.get(&key))
    {
        return *found;
    }
    let mut derived = [0u8; 2 * KEY_LEN + IV_LEN];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, ITERATIONS, &mut derived);
    CACHE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashMap::new)
        .insert(key, derived);
    derived
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/vault");

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()
    }

    #[test]
    fn decrypts_a_1_1_file_made_by_ansible_vault() {
        let env = Envelope::parse(&fixture("secrets-1.1.yml")).unwrap();
        assert_eq!(env.version, "1.1");
        assert_eq!(env.label, None);
        let plain = env.decrypt(b"fixture-pass").unwrap();
        assert_eq!(
            String::from_utf8(plain).unwrap(),
            "db_password: correct-horse-battery\napi_token: tok-4f9a2c\n"
        );
    }

    #[test]
    fn decrypts_a_1_2_file_and_reads_its_label() {
        let env = Envelope::parse(&fixture("secrets-prod.yml")).unwrap();
        assert_eq!(
            (env.version.as_str(), env.label.as_deref()),
            ("1.2", Some("prod"))
        );
        let plain = env.decrypt(b"prod-pass").unwrap();
        assert_eq!(String::from_utf8(plain).unwrap(), "prod_secret: prod-value-77\n");
    }

    #[test]
    fn a_wrong_password_fails_the_hmac_check() {
        let env = Envelope::parse(&fixture("secrets-1.1.yml")).unwrap();
        assert_eq!(env.decrypt(b"not-it"), None);
    }

    #[test]
    fn a_tampered_ciphertext_fails_the_hmac_check() {
        let mut env = Envelope::parse(&fixture("secrets-1.1.yml")).unwrap();
        env.ciphertext[0] ^= 1;
        assert_eq!(env.decrypt(b"fixture-pass"), None);
    }

    #[test]
    fn malformed_envelopes_say_what_is_wrong() {
        let err = |t: &str| Envelope::parse(t).unwrap_err();
        assert!(err("$ANSIBLE_VAULT;1.1").contains("not `$ANSIBLE_VAULT;1.1;AES256`"));
        assert!(err("$ANSIBLE_VAULT;9.9;AES256\n00").contains("version 9.9"));
        assert!(err("$ANSIBLE_VAULT;1.1;DES\n00").contains("cipher `DES`"));
        assert!(err("$ANSIBLE_VAULT;1.1;AES256\nzz").contains("not hexadecimal"));
        assert!(err("$ANSIBLE_VAULT;1.1;AES256\n6162").contains("lacks"));
    }

    #[test]
    fn recognises_vaulted_text() {
        assert!(is_vaulted("$ANSIBLE_VAULT;1.1;AES256\n3031"));
        assert!(!is_vaulted("db: x"));
    }
}
