//! `command`: like `shell`, but no shell features: the words are split like a shell would
//! (quotes respected) and each is quoted again, so `|`, `>` and `$X` are plain arguments.

use super::args;
use super::shell::{run_spec, Spec};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::sh_quote;
use crate::lb::{self, Endpoint, LbChange};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

pub struct Command;

/// Options that may be written inside the free-form command as `key=value`.
const FREE_FORM_OPTIONS: &[&str] = &["chdir", "creates", "removes", "stdin", "warn"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(default, rename = "_raw_params")]
    raw_params: Option<String>,
    #[serde(default)]
    cmd: Option<String>,
    #[serde(default)]
    argv: Option<Vec<Value>>,
    #[serde(default)]
    chdir: Option<String>,
    #[serde(default)]
    creates: Option<String>,
    #[serde(default)]
    removes: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    stdin: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    stdin_add_newline: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    strip_empty_ends: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    #[allow(dead_code)]
    warn: Option<bool>,
}

impl Args {
    /// The command as written, for what it does to a load balancer.
    fn text(&self) -> Option<&str> {
        self.raw_params.as_deref().or(self.cmd.as_deref())
    }

    /// The words to run.
    fn words(&self) -> Result<Vec<String>, ArgError> {
        let text = match (&self.raw_params, &self.cmd, &self.argv) {
            (None, None, Some(argv)) if !argv.is_empty() => {
                return Ok(argv
                    .iter()
                    .map(|w| match w {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect())
            }
            (Some(c), None, None) | (None, Some(c), None) => c,
            (None, None, None) => {
                return Err(ArgError::new(
                    "`command` needs a command (free-form, `cmd` or `argv`)",
                ))
            }
            _ => {
                return Err(
                    ArgError::new("give the command one way only: free-form, `cmd` or `argv`")
                        .key(if self.argv.is_some() { "argv" } else { "cmd" }),
                )
            }
        };
        let words =
            shell_words::split(text).map_err(|e| ArgError::new(format!("cannot split the command: {e}")))?;
        if words.is_empty() {
            return Err(ArgError::new("`command` needs a command"));
        }
        Ok(words)
    }
}

#[async_trait]
impl TypedModule for Command {
    type Args = Args;

    fn name(&self) -> &'static str {
        "command"
    }

    fn free_form(&self) -> bool {
        true
    }

    fn parse(&self, raw: &Value) -> Result<Args, ArgError> {
        args::parse(self.name(), &args::lift_free_form_options(raw, FREE_FORM_OPTIONS))
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        a.words().map(|_| ())
    }

    fn lb_changes(&self, a: &Args) -> Vec<LbChange> {
        a.text().map(lb::changes_in_command).unwrap_or_default()
    }

    fn lb_endpoints(&self, a: &Args) -> Vec<Endpoint> {
        a.text().map(lb::endpoints_in_command).unwrap_or_default()
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let words = a.words()?;
        let cmdline = words.iter().map(|w| sh_quote(w)).collect::<Vec<_>>().join(" ");
        let spec = Spec {
            cmdline,
            chdir: a.chdir,
            creates: a.creates,
            removes: a.removes,
            stdin: a.stdin,
            stdin_add_newline: a.stdin_add_newline.unwrap_or(true),
            strip_empty_ends: a.strip_empty_ends.unwrap_or(true),
        };
        Ok(run_spec(ctx, spec).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn words_are_split_and_requoted() {
        let a: Args = args::parse("command", &json!({"_raw_params": r#"echo "a b" '$HOME' |"#})).unwrap();
        let words = a.words().unwrap();
        assert_eq!(words, ["echo", "a b", "$HOME", "|"]);
        let line = words.iter().map(|w| sh_quote(w)).collect::<Vec<_>>().join(" ");
        assert_eq!(line, "echo 'a b' '$HOME' '|'");
    }
}
