//! `log_path` of the Ansible configuration: the run's human output appended to a file, each
//! line prefixed as Ansible's log prefixes it
//! (`2026-11-30 13:19:27,439 p=4242 u=deploy n=zdd INFO| PLAY [web] ****`), blank lines left
//! out. It is the
//! screen's output, so it holds what the screen shows and no more: `no_log` results are
//! censored there already, and commands (`-vv`) go to stderr, not here.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// A writer that prefixes every complete line it is given and appends it to the log.
pub struct AnsibleLog {
    file: File,
    pending: Vec<u8>,
    pid: u32,
    user: String,
}

impl AnsibleLog {
    /// Open `path` for appending (created 0600 if missing, as it may hold host output).
    pub fn open(path: &Path) -> io::Result<AnsibleLog> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        Ok(AnsibleLog {
            file,
            pending: Vec::new(),
            pid: std::process::id(),
            user: user_name(),
        })
    }

    fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        let text = String::from_utf8_lossy(line);
        // Ansible logs messages without their leading blank lines.
        if text.trim().is_empty() {
            return Ok(());
        }
        let level = level_of(&text);
        let stamp = local_timestamp(std::time::SystemTime::now());
        writeln!(
            self.file,
            "{stamp} p={} u={} n=zdd {level}| {text}",
            self.pid, self.user
        )
    }
}

impl Write for AnsibleLog {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            self.write_line(&line[..line.len() - 1])?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for AnsibleLog {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            let _ = self.write_line(&rest);
        }
    }
}

/// Ansible logs failures as ERROR, warnings as WARNING, the rest as INFO.
fn level_of(line: &str) -> &'static str {
    if line.starts_with("fatal:") || line.starts_with("failed:") || line.starts_with("[ERROR]") {
        "ERROR"
    } else if line.starts_with("[WARNING]") {
        "WARNING"
    } else {
        "INFO"
    }
}

/// The effective user's name, as Ansible's log names it (`uid=N` without one).
fn user_name() -> String {
    // SAFETY: getpwuid returns a pointer into static storage or null; it is read at once.
    unsafe {
        let uid = libc::geteuid();
        let pw = libc::getpwuid(uid);
        if pw.is_null() || (*pw).pw_name.is_null() {
            return format!("uid={uid}");
        }
        std::ffi::CStr::from_ptr((*pw).pw_name)
            .to_string_lossy()
            .into_owned()
    }
}

/// Python logging's `asctime`: local time, `YYYY-MM-DD HH:MM:SS,mmm`.
fn local_timestamp(t: std::time::SystemTime) -> String {
    let millis = t
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_millis();
    format!(
        "{},{millis:03}",
        crate::template::local_strftime(t, "%Y-%m-%d %H:%M:%S")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stamp_is_python_loggings_asctime() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(86_400_000_000 + 1_234_567);
        let stamp = local_timestamp(t);
        let shape = regex::Regex::new(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},234$").unwrap();
        assert!(shape.is_match(&stamp), "{stamp}");
    }

    #[test]
    fn every_line_is_prefixed_as_ansible_logs_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.log");
        {
            let mut log = AnsibleLog::open(&path).unwrap();
            log.write_all(b"\nPLAY [web] ***\nfatal: [web1]: FAIL").unwrap();
            log.write_all(b"ED!\n[WARNING]: x\nno newline").unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        let pattern = regex::Regex::new(
            r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} p=\d+ u=\S+ n=zdd (INFO|ERROR|WARNING)\| ",
        )
        .unwrap();
        assert!(lines.iter().all(|l| pattern.is_match(l)), "{text}");
        assert!(lines[0].ends_with("INFO| PLAY [web] ***"));
        assert!(lines[1].ends_with("ERROR| fatal: [web1]: FAILED!"));
        assert!(lines[2].ends_with("WARNING| [WARNING]: x"));
        assert!(lines[3].ends_with("INFO| no newline"));
    }
}
