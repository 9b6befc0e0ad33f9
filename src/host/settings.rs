//! The connection settings of a whole run, from the command line, `ANSIBLE_*` and
//! `ansible.cfg` (in that order): what a host gets when its inventory variables, and the
//! task's keywords, say nothing.

use std::path::PathBuf;

/// How hosts are reached when nothing closer to them says otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// `-c local`: hosts without `ansible_connection` run on this machine.
    pub local: bool,
    /// `-u`, else `remote_user`: below `ansible_user` and the `remote_user` keyword.
    pub user: Option<String>,
    /// `--private-key`, else `private_key_file`.
    pub private_key: Option<PathBuf>,
    /// `-T`, else `timeout`: SSH's `ConnectTimeout`, in seconds.
    pub timeout: u32,
    /// `ssh_args`: first on the master's command line (after zdd's own master options).
    pub ssh_args: Vec<String>,
    /// `--ssh-common-args`, else `ssh_common_args`.
    pub ssh_common_args: Vec<String>,
    /// `--ssh-extra-args`, else `ssh_extra_args`.
    pub ssh_extra_args: Vec<String>,
    /// `host_key_checking`: false adds `-o StrictHostKeyChecking=no`, as Ansible does.
    pub host_key_checking: bool,
    /// `retries`: how many more times a master that failed to connect is started.
    pub retries: u32,
    /// `control_path_dir`: where the control sockets go (default: under `/tmp`).
    pub control_path_dir: Option<PathBuf>,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        ConnectionSettings {
            local: false,
            user: None,
            private_key: None,
            timeout: 10,
            ssh_args: Vec::new(),
            ssh_common_args: Vec::new(),
            ssh_extra_args: Vec::new(),
            host_key_checking: true,
            retries: 0,
            control_path_dir: None,
        }
    }
}

/// `become` when neither the host's `ansible_become*` variables nor the play's or task's
/// keywords say: `-b`/`--become-user`, else `become`/`become_user` of the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BecomeDefaults {
    pub enabled: bool,
    /// `None`: root.
    pub user: Option<String>,
}
