//! How zdd gets in and becomes another user, as ansible-playbook's flags say:
//! `--become-method`, `-K/--ask-become-pass`, `-k/--ask-pass`. The passwords are asked once
//! on the terminal, before any host is contacted, and then only travel as `Password`s
//! (never shown): the become password on sudo's standard input, the SSH password through
//! ssh's askpass (see `host::askpass`).

use crate::error::{Diagnostic, Error};
use crate::host::{Password, BECOME_METHODS};
use clap::Args;
use std::io::{BufRead, IsTerminal};

#[derive(Debug, Args, Clone, Default)]
pub struct AccessArgs {
    /// How to become another user: `sudo` (the default) or `su`. A play's or task's
    /// `become_method` and `ansible_become_method` win over it, as in Ansible.
    #[arg(long = "become-method", value_name = "METHOD")]
    pub become_method: Option<String>,

    /// Ask for the become (sudo) password once, before connecting; it is fed to sudo on
    /// standard input. `become_ask_pass` in ansible.cfg or `ANSIBLE_BECOME_ASK_PASS` ask too.
    #[arg(short = 'K', long = "ask-become-pass")]
    pub ask_become_pass: bool,

    /// Ask for the SSH password once, before connecting; ssh gets it through askpass
    /// (no sshpass needed).
    #[arg(short = 'k', long = "ask-pass")]
    pub ask_pass: bool,
}

/// What the run uses to get in and become: the defaults the flags give; inventory
/// variables (`ansible_become_method`, `ansible_become_password`, `ansible_password`)
/// and keywords win over them.
#[derive(Debug, Clone, Default)]
pub struct Access {
    pub become_method: Option<String>,
    pub become_password: Option<Password>,
    pub ssh_password: Option<Password>,
}

impl Access {
    /// Check the flags and ask the passwords they call for (SSH first, then become, as
    /// ansible-playbook words them). `config_asks_become` is `become_ask_pass` from the
    /// Ansible configuration.
    pub fn from_args(args: &AccessArgs, config_asks_become: bool) -> Result<Access, Error> {
        if let Some(method) = args.become_method.as_deref() {
            if !BECOME_METHODS.contains(&method) {
                return Err(Error::invalid(
                    Diagnostic::new(format!("--become-method `{method}` is not supported by zdd"))
                        .hint("use `sudo` or `su`"),
                ));
            }
        }
        let mut access = Access {
            become_method: args.become_method.clone(),
            ..Access::default()
        };
        let mut become_prompt = "BECOME password: ";
        if args.ask_pass {
            access.ssh_password = Some(ask_password("SSH password: ")?);
            become_prompt = "BECOME password[defaults to SSH password]: ";
        }
        if args.ask_become_pass || config_asks_become || env_asks_become() {
            let typed = ask_password(become_prompt)?;
            access.become_password = match (&access.ssh_password, typed.expose().is_empty()) {
                (Some(ssh), true) => Some(ssh.clone()),
                _ => Some(typed),
            };
        }
        Ok(access)
    }
}

/// `ANSIBLE_BECOME_ASK_PASS` set to a true value.
fn env_asks_become() -> bool {
    std::env::var("ANSIBLE_BECOME_ASK_PASS").is_ok_and(|v| {
        matches!(
            v.to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on" | "y" | "t"
        )
    })
}

/// One password: on the terminal without echo, or one line of standard input when it is
/// not a terminal (`echo "$PW" | zdd apply -K ...`, as Ansible's getpass falls back to).
fn ask_password(prompt: &str) -> Result<Password, Error> {
    let cannot = |e: String| Error::invalid(Diagnostic::new(format!("cannot read the password: {e}")));
    let line = if std::io::stdin().is_terminal() {
        crate::commands::prompt::read_answer(prompt, true).map_err(|e| cannot(e.to_string()))?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| cannot(e.to_string()))?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    };
    Password::new(line).map_err(cannot)
}
