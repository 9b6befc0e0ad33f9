//! `include_role`: a role loaded when the task is reached, for each host. The parser
//! loads the role (its name is not templated) and the runner runs it
//! (`runner/include.rs`); this module only checks its arguments.

use super::{ArgError, Failure, ModuleCtx, ModuleResult, StaticCtx, TypedModule};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

pub struct IncludeRole;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct Args {
    #[serde(default, alias = "role")]
    pub name: Option<String>,
    #[serde(default)]
    pub tasks_from: Option<String>,
    #[serde(default)]
    pub vars_from: Option<String>,
    #[serde(default)]
    pub defaults_from: Option<String>,
    #[serde(default)]
    pub handlers_from: Option<String>,
    #[serde(default)]
    pub public: Option<bool>,
    #[serde(default)]
    pub allow_duplicates: Option<bool>,
    #[serde(default)]
    pub rolespec_validate: Option<bool>,
    /// Read by the parser into keywords for the role's tasks.
    #[serde(default)]
    pub apply: Option<Map<String, Value>>,
}

/// The arguments of an `include_role`, when they are well formed.
pub fn args_of(args: &Value) -> Option<Args> {
    super::args::parse("include_role", args).ok()
}

#[async_trait]
impl TypedModule for IncludeRole {
    type Args = Args;

    fn name(&self) -> &'static str {
        "include_role"
    }

    fn controller_only(&self) -> bool {
        true
    }

    fn directs_the_runner(&self) -> bool {
        true
    }

    fn check(&self, args: &Args, _raw: &Value) -> Result<(), ArgError> {
        match args.name.as_deref().filter(|n| !n.trim().is_empty()) {
            Some(_) => Ok(()),
            None => Err(ArgError::new("'name' is a required field for include_role.")
                .hint("write `name: ROLE` under `include_role:`")),
        }
    }

    fn check_static(&self, _args: &Args, _raw: &Value, _ctx: &StaticCtx<'_>) -> Result<(), ArgError> {
        Ok(())
    }

    async fn run(&self, _ctx: &ModuleCtx<'_>, _args: Args) -> Result<ModuleResult, Failure> {
        // The runner runs the role itself (`directs_the_runner`).
        Ok(ModuleResult::ok())
    }
}
