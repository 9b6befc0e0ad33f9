//! YAML playbook text -> `Playbook`, with a location for every task, key and value.

use crate::error::Error;
use crate::playbook::Playbook;
use crate::vars::VarMap;
use std::path::Path;

/// Read and parse a playbook file.
pub fn load_playbook(path: &Path) -> Result<Playbook, Error> {
    let _ = path;
    todo!("parser")
}

/// `-e @vars.yml` and `vars_files`: a YAML (or JSON) mapping of variables.
pub fn load_vars_file(path: &Path) -> Result<VarMap, Error> {
    let _ = path;
    todo!("parser")
}

/// `-e` text: `k=v k2=v2`, or a JSON/YAML mapping.
pub fn parse_extra_vars(text: &str) -> Result<VarMap, Error> {
    let _ = text;
    todo!("parser")
}
