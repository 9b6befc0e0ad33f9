//! `include_tasks`: a file of tasks loaded at run time, for each host. The runner carries
//! it out (`runner/include.rs`); this module only checks its arguments.

use super::{ArgError, Failure, ModuleCtx, ModuleResult, StaticCtx, TypedModule};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

pub struct IncludeTasks;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(default)]
    _raw_params: Option<String>,
    #[serde(default)]
    file: Option<String>,
    /// Read by the parser into keywords for the included tasks.
    #[serde(default)]
    #[allow(dead_code)]
    apply: Option<Map<String, Value>>,
}

impl Args {
    /// The file as written (free form wins over `file:`, as in Ansible).
    pub fn file(&self) -> Option<&str> {
        self._raw_params
            .as_deref()
            .or(self.file.as_deref())
            .filter(|f| !f.trim().is_empty())
    }
}

/// The file an `include_tasks` names, as written (maybe templated).
pub fn file_of(args: &Value) -> Option<String> {
    let args: Args = super::args::parse("include_tasks", args).ok()?;
    args.file().map(str::to_owned)
}

#[async_trait]
impl TypedModule for IncludeTasks {
    type Args = Args;

    fn name(&self) -> &'static str {
        "include_tasks"
    }

    fn free_form(&self) -> bool {
        true
    }

    fn controller_only(&self) -> bool {
        true
    }

    fn directs_the_runner(&self) -> bool {
        true
    }

    fn check(&self, args: &Args, _raw: &Value) -> Result<(), ArgError> {
        match args.file() {
            Some(_) => Ok(()),
            None => Err(ArgError::new("No file specified for include_tasks")
                .hint("write `include_tasks: FILE.yml` or `file: FILE.yml` under it")),
        }
    }

    fn check_static(&self, _args: &Args, _raw: &Value, _ctx: &StaticCtx<'_>) -> Result<(), ArgError> {
        Ok(())
    }

    async fn run(&self, _ctx: &ModuleCtx<'_>, _args: Args) -> Result<ModuleResult, Failure> {
        // The runner includes the file itself (`directs_the_runner`).
        Ok(ModuleResult::ok())
    }
}
