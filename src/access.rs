//! How zdd gets in and becomes another user, as ansible-playbook's flags say:
//! `--become-method`, `-K/--ask-become-pass`, `-k/--ask-pass`. The passwords are asked once
//! on the terminal, before any host is contacted, and then only travel as `Password`s
//! (never shown): the become password on sudo's standard input, the SSH password through
//! ssh's askpass (see `host::askpass`).

use crate::config::AnsibleConfig;
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
    /// ansible-playbook words them). The configuration's `become_method` and
    /// `become_ask_pass` (`ANSIBLE_BECOME_METHOD`, `ANSIBLE_BECOME_ASK_PASS`) stand where
    /// the flags are not given.
    pub fn from_args(args: &AccessArgs, config: &AnsibleConfig) -> Result<Access, Error> {
        let become_method = args.become_method.clone().or_else(|| {
            config
                .become_method
                .is_set()
                .then(|| config.become_method.value.clone())
        });
        if let Some(method) = become_method.as_deref() {
            if !BECOME_METHODS.contains(&method) {
                let source = match args.become_method {
                    Some(_) => "--become-method".to_owned(),
                    None => format!("become_method ({})", config.become_method.origin),
                };
                return Err(Error::invalid(
                    Diagnostic::new(format!("{source} `{method}` is not supported by zdd"))
                        .hint("use `sudo` or `su`"),
                ));
            }
        }
        let mut access = Access {
            become_method,
            ..Access::default()
        };
        let mut become_prompt = "BECOME password: ";
        if args.ask_pass {
            access.ssh_password = Some(ask_password("SSH password: ")?);
            become_prompt = "BECOME password[defaults to SSH password]: ";
        }
        if args.ask_become_pass || config.become_ask_pass.value {
            let typed = ask_password(become_prompt)?;
            access.become_password = match (&access.ssh_password, typed.expose().is_empty()) {
                (Some(ssh), true) => Some(ssh.clone()),
                _ => Some(typed),
            };
        }
        Ok(access)
    }
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
