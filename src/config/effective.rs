//! The settings of a run: ansible-playbook's flags over `ANSIBLE_*` over `ansible.cfg`,
//! checked once, before anything is contacted.

use super::{AnsibleConfig, Origin};
use crate::cli::ConnectionArgs;
use crate::error::{Diagnostic, Location};
use crate::host::{BecomeDefaults, ConnectionSettings};

/// What the flags and the configuration decide for a whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSettings {
    pub connection: ConnectionSettings,
    pub become_defaults: BecomeDefaults,
}

impl RunSettings {
    pub fn resolve(flags: &ConnectionArgs, config: &AnsibleConfig) -> Result<RunSettings, Vec<Diagnostic>> {
        let mut problems = Vec::new();
        let local = match flags.connection.as_deref() {
            None | Some("ssh" | "smart") => false,
            Some("local") => true,
            Some(other) => {
                problems.push(
                    Diagnostic::new(format!("-c {other}: zdd connects with ssh or local only"))
                        .hint("use -c ssh (the default) or -c local, or leave -c out"),
                );
                false
            }
        };
        let mut words = |flag: &Option<String>, name: &str, setting: &super::Setting<String>| {
            let (text, source) = match flag {
                Some(text) => (text.as_str(), Err(format!("--{name}"))),
                None => (setting.value.as_str(), Ok(&setting.origin)),
            };
            shell_words::split(text).unwrap_or_else(|e| {
                problems.push(bad_words(source, name, &e));
                Vec::new()
            })
        };
        let ssh_common_args = words(&flags.ssh_common_args, "ssh-common-args", &config.ssh_common_args);
        let ssh_extra_args = words(&flags.ssh_extra_args, "ssh-extra-args", &config.ssh_extra_args);
        let ssh_args = match &config.ssh_args.value {
            Some(text) => shell_words::split(text).unwrap_or_else(|e| {
                problems.push(bad_words(Ok(&config.ssh_args.origin), "ssh_args", &e));
                Vec::new()
            }),
            None => Vec::new(),
        };
        let settings = RunSettings {
            connection: ConnectionSettings {
                local,
                user: flags.user.clone().or_else(|| config.remote_user.value.clone()),
                private_key: flags
                    .private_key
                    .clone()
                    .or_else(|| config.private_key_file.value.clone()),
                timeout: flags.timeout.unwrap_or(config.timeout.value),
                ssh_args,
                ssh_common_args,
                ssh_extra_args,
                host_key_checking: config.host_key_checking.value,
                retries: config.retries.value,
                control_path_dir: config.control_path_dir.value.clone(),
            },
            become_defaults: BecomeDefaults {
                enabled: flags.become_enabled || config.become_enabled.value,
                user: flags.become_user.clone().or_else(|| {
                    config
                        .become_user
                        .is_set()
                        .then(|| config.become_user.value.clone())
                }),
            },
        };
        if problems.is_empty() {
            Ok(settings)
        } else {
            Err(problems)
        }
    }
}

/// SSH arguments that do not split like a shell command line (an open quote).
fn bad_words(source: Result<&Origin, String>, name: &str, e: &shell_words::ParseError) -> Diagnostic {
    let hint = "close the quote";
    match source {
        Err(flag) => Diagnostic::new(format!("{flag}: {e}")).hint(hint),
        Ok(Origin::File { path, line }) => Diagnostic::new(format!("{name}: {e}"))
            .at(Location::new(path.clone(), *line, 1))
            .hint(hint),
        Ok(origin) => Diagnostic::new(format!("{name} ({origin}): {e}")).hint(hint),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn config(text: &str) -> AnsibleConfig {
        AnsibleConfig::from_parts(
            Some("/p/ansible.cfg".into()),
            text,
            &|_| None,
            Path::new("/p"),
            None,
        )
        .unwrap()
    }

    #[test]
    fn flags_win_over_the_configuration() {
        let cfg = config("[defaults]\nremote_user = cfguser\nprivate_key_file = /k/cfg\ntimeout = 5\n[ssh_connection]\nssh_common_args = -o A=1\nssh_args = -C -o ControlPersist=60s\n[privilege_escalation]\nbecome_user = app\n");
        let none = RunSettings::resolve(&ConnectionArgs::default(), &cfg).unwrap();
        assert_eq!(none.connection.user.as_deref(), Some("cfguser"));
        assert_eq!(none.connection.private_key, Some(PathBuf::from("/k/cfg")));
        assert_eq!(none.connection.timeout, 5);
        assert_eq!(none.connection.ssh_common_args, ["-o", "A=1"]);
        assert_eq!(none.connection.ssh_args, ["-C", "-o", "ControlPersist=60s"]);
        assert_eq!(
            none.become_defaults,
            BecomeDefaults {
                enabled: false,
                user: Some("app".into())
            }
        );
        let flags = ConnectionArgs {
            user: Some("cli".into()),
            private_key: Some("/k/cli".into()),
            timeout: Some(3),
            ssh_common_args: Some("-o B='x y'".into()),
            become_enabled: true,
            become_user: Some("root".into()),
            connection: Some("local".into()),
            ..ConnectionArgs::default()
        };
        let set = RunSettings::resolve(&flags, &cfg).unwrap();
        assert_eq!(set.connection.user.as_deref(), Some("cli"));
        assert_eq!(set.connection.private_key, Some(PathBuf::from("/k/cli")));
        assert_eq!(set.connection.timeout, 3);
        assert_eq!(set.connection.ssh_common_args, ["-o", "B=x y"]);
        assert!(set.connection.local);
        assert_eq!(
            set.become_defaults,
            BecomeDefaults {
                enabled: true,
                user: Some("root".into())
            }
        );
    }

    #[test]
    fn an_unknown_connection_and_an_open_quote_are_refused() {
        let flags = ConnectionArgs {
            connection: Some("winrm".into()),
            ssh_extra_args: Some("-o 'A=1".into()),
            ..ConnectionArgs::default()
        };
        let problems = RunSettings::resolve(&flags, &config("")).unwrap_err();
        assert_eq!(
            problems[0].message,
            "-c winrm: zdd connects with ssh or local only"
        );
        assert!(
            problems[1].message.starts_with("--ssh-extra-args: "),
            "{}",
            problems[1].message
        );
        let cfg = config("[ssh_connection]\nssh_args = -o 'x\n");
        let problems = RunSettings::resolve(&ConnectionArgs::default(), &cfg).unwrap_err();
        assert_eq!(problems[0].location.as_ref().unwrap().line, 2);
    }
}
