//! The SSH password (`-k`, `ansible_password`) handed to an OpenSSH master without
//! sshpass: the master runs with `SSH_ASKPASS` pointing at the zdd binary itself and
//! `SSH_ASKPASS_REQUIRE=force`; ssh runs it with its prompt as the one argument, and `main`
//! sees `ZDD_ASKPASS_FILE` in the environment before parsing any argument and answers
//! (`answer`) instead of running as zdd.
//!
//! The password waits in a file only the user can read (0600, in zdd's 0700 control
//! directory), named by that variable; the master's connect removes it as soon as the
//! master is authenticated or has failed. Never in an argument list (`ps`), never in the
//! environment, never in a log. ssh closes every inherited descriptor above stderr before
//! it runs the askpass program, so a pipe cannot carry it.

use super::Password;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Names the password file for the askpass program.
pub const FILE_VAR: &str = "ZDD_ASKPASS_FILE";

/// When this process was started by ssh as its askpass program: the exit code after
/// answering. `None` for a normal zdd run.
pub fn answer_if_asked() -> Option<i32> {
    let file = std::env::var_os(FILE_VAR)?;
    let prompt = std::env::args().nth(1).unwrap_or_default();
    Some(answer(Path::new(&file), &prompt, &mut std::io::stdout()))
}

/// Print the password if ssh asks for one. Anything else ssh may ask through askpass
/// (accept an unknown host key? a key's passphrase?) is declined with exit 1, as
/// `BatchMode=yes` would have: the password is only given to a password prompt.
fn answer(file: &Path, prompt: &str, out: &mut dyn Write) -> i32 {
    let lower = prompt.to_ascii_lowercase();
    if !lower.contains("password") || lower.contains("passphrase") || lower.contains("yes/no") {
        return 1;
    }
    let Ok(password) = std::fs::read_to_string(file) else {
        return 1;
    };
    if writeln!(out, "{password}").and_then(|()| out.flush()).is_err() {
        return 1;
    }
    0
}

/// The password file of one master, removed when dropped.
#[derive(Debug)]
pub struct AskpassFile {
    path: PathBuf,
}

impl AskpassFile {
    /// Write `password` to `path` (created 0600; the directory is zdd's private one).
    pub fn write(path: PathBuf, password: &Password) -> std::io::Result<AskpassFile> {
        let _ = std::fs::remove_file(&path);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        let file_guard = AskpassFile { path };
        file.write_all(password.expose().as_bytes())?;
        Ok(file_guard)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for AskpassFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The program ssh runs as its askpass: this very binary.
pub fn program() -> std::io::Result<PathBuf> {
    std::env::current_exe()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn answers_password_prompts_only_from_a_private_file_removed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.pw");
        let file = AskpassFile::write(path.clone(), &Password::new("s3cret").unwrap()).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let mut out = Vec::new();
        assert_eq!(answer(&path, "deploy@127.0.0.1's password: ", &mut out), 0);
        assert_eq!(out, b"s3cret\n");
        for declined in [
            "Are you sure you want to continue connecting (yes/no/[fingerprint])?",
            "Enter passphrase for key '/root/.ssh/id_ed25519': ",
        ] {
            let mut out = Vec::new();
            assert_eq!(answer(&path, declined, &mut out), 1, "{declined}");
            assert!(out.is_empty());
        }
        drop(file);
        assert!(!path.exists());
        assert_eq!(answer(&path, "Password: ", &mut Vec::new()), 1);
    }
}
