//! `command`: like `shell`, but no shell features: the words are split like a shell would
//! (quotes respected) and each is quoted again, so `|`, `>` and `$X` are plain arguments.

use super::args;
use super::shell::{run_spec, Spec};
use super::{ArgError, Module, ModuleCtx, ModuleResult, StaticCtx};
use crate::host::{sh_quote, HostError};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

pub struct Command;

/// Options that may be written inside the free-form command as `key=value`.
const FREE_FORM_OPTIONS: &[&str] = &["chdir", "creates", "removes", "stdin", "warn"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
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
impl Module for Command {
    fn name(&self) -> &'static str {
        "command"
    }

    fn free_form(&self) -> bool {
        true
    }

    fn check_args(&self, raw: &Value, _ctx: &StaticCtx<'_>) -> Result<(), ArgError> {
        let a: Args = args::parse(self.name(), &args::lift_free_form_options(raw, FREE_FORM_OPTIONS))?;
        a.words().map(|_| ())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, raw: &Value) -> Result<ModuleResult, HostError> {
        let parsed = args::parse::<Args>(self.name(), &args::lift_free_form_options(raw, FREE_FORM_OPTIONS))
            .and_then(|a| a.words().map(|w| (a, w)));
        let (a, words) = match parsed {
            Ok(p) => p,
            Err(e) => return Ok(ModuleResult::failed(e.message)),
        };
        let cmdline = words.iter().map(|w| sh_quote(w)).collect::<Vec<_>>().join(" ");
        run_spec(
            ctx,
            Spec {
                cmdline,
                chdir: a.chdir,
                creates: a.creates,
                removes: a.removes,
                stdin: a.stdin,
                stdin_add_newline: a.stdin_add_newline.unwrap_or(true),
                strip_empty_ends: a.strip_empty_ends.unwrap_or(true),
            },
        )
        .await
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
