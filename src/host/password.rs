//! A password zdd holds for a host (`-K`, `-k`, `ansible_become_password`,
//! `ansible_password`): compared and hashed like a string, never shown. Its `Debug` is
//! `<censored>`, so no trace, error or derived `Debug` of a struct holding one can print it,
//! and its text is censored in every output as a value from Vault is.

use std::sync::Arc;

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Password(Arc<str>);

impl Password {
    /// A password as typed or as written in the inventory. One with a line break cannot
    /// travel as one line on standard input (sudo reads one line), so it is refused.
    pub fn new(text: impl Into<String>) -> Result<Password, String> {
        let text = text.into();
        if text.contains(['\n', '\r']) {
            return Err("a password cannot hold a line break".into());
        }
        // From now on no output shows it (as a value from Vault): a `debug` of
        // `ansible_become_password`, a result that echoes it.
        crate::vault::register_secret(&text);
        Ok(Password(text.into()))
    }

    /// The clear text, for the one place that hands it over (sudo's standard input, the
    /// askpass file).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(crate::audit::CENSORED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_password() {
        let pw = Password::new("hunter2").unwrap();
        assert_eq!(format!("{pw:?}"), "<censored>");
        assert_eq!(format!("{:?}", Some(pw.clone())), "Some(<censored>)");
        assert_eq!(pw.expose(), "hunter2");
        assert!(Password::new("a\nb").is_err());
    }
}
