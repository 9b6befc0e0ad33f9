//! `environment`: a host whose every command exports the task's variables first. The
//! exports are part of the script, which travels on standard input (never on a command
//! line), so under `sudo` too they reach the command and no process list shows them.

use super::{sh_quote, CommandOutput, Held, Host, HostError, RemoteCommand};
use async_trait::async_trait;
use std::sync::Arc;

/// `host`, its commands run with `vars` exported; `host` itself when there are none.
pub fn with_environment(host: Arc<dyn Host>, vars: &[(String, String)]) -> Arc<dyn Host> {
    if vars.is_empty() {
        return host;
    }
    let exports = vars
        .iter()
        .map(|(name, value)| format!("{name}={}; export {name}\n", sh_quote(value)))
        .collect();
    Arc::new(EnvHost { inner: host, exports })
}

#[derive(Debug)]
struct EnvHost {
    inner: Arc<dyn Host>,
    /// `NAME='value'; export NAME` lines, names already checked.
    exports: String,
}

impl EnvHost {
    fn wrap(&self, cmd: &RemoteCommand) -> RemoteCommand {
        // As in Ansible, `raw` ignores `environment`: its command line is the user's own.
        if cmd.raw {
            return cmd.clone();
        }
        RemoteCommand {
            script: format!("{}{}", self.exports, cmd.script),
            ..cmd.clone()
        }
    }
}

#[async_trait]
impl Host for EnvHost {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn run(&self, cmd: &RemoteCommand) -> Result<CommandOutput, HostError> {
        self.inner.run(&self.wrap(cmd)).await
    }

    async fn close(&self) {
        self.inner.close().await;
    }

    async fn hold(&self, cmd: &RemoteCommand) -> Result<(String, Held), HostError> {
        self.inner.hold(&self.wrap(cmd)).await
    }

    async fn reconnect(&self, connect_timeout: Option<u32>) -> Result<(), HostError> {
        self.inner.reconnect(connect_timeout).await
    }

    fn rsync_shell(&self) -> Option<crate::host::RsyncShell> {
        self.inner.rsync_shell()
    }

    fn is_local(&self) -> bool {
        self.inner.is_local()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::local::LocalHost;

    #[tokio::test]
    async fn commands_see_the_exported_values_quoted() {
        let vars = [
            ("GREETING".to_owned(), "it's $HOME".to_owned()),
            ("EMPTY".to_owned(), String::new()),
        ];
        let host = with_environment(Arc::new(LocalHost::new("localhost")), &vars);
        let out = host
            .run(&RemoteCommand::new(
                "printf '%s|%s' \"$GREETING\" \"${EMPTY-unset}\"; sh -c 'printf \"|%s\" \"$GREETING\"'",
            ))
            .await
            .unwrap();
        assert_eq!(out.stdout, "it's $HOME||it's $HOME");
    }
}
