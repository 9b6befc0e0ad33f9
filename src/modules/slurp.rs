//! `slurp`: a file's content from the host, base64-encoded, under `content` (with
//! `encoding: base64` and `source`), as Ansible returns it. Read-only: the same in check
//! mode. `fetch` reads files the same way (`read_remote`).

use super::args::{fresh_mark, split_marks};
use super::{ArgError, Failure, ModuleCtx, ModuleResult, TypedModule};
use crate::host::{sh_script, RemoteCommand};
use async_trait::async_trait;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

pub struct Slurp;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(alias = "path")]
    src: String,
}

/// A remote file as read, or why it could not be.
pub enum Slurped {
    File {
        /// The path read (`~` expanded).
        source: String,
        /// Base64, as it came.
        content: String,
        /// The target's sha1 of the file, when asked for.
        checksum: Option<String>,
    },
    /// `isdir`, `missing` or `unreadable`, and the path.
    Error(&'static str, String),
}

pub async fn read_remote(ctx: &ModuleCtx<'_>, src: &str, checksum: bool) -> Result<Slurped, Failure> {
    let mark = fresh_mark();
    let script = sh_script(
        &[
            ("m", &mark),
            ("src", src),
            ("sum", if checksum { "1" } else { "0" }),
        ],
        include_str!("slurp.sh"),
    );
    let out = ctx
        .host
        .run(&RemoteCommand::new(script).run_as(ctx.run_as.cloned()))
        .await?;
    if out.rc != 0 {
        return Err(Failure::Task(match out.stderr.trim() {
            "" => format!("Unable to slurp file: {src}"),
            msg => msg.to_owned(),
        }));
    }
    let (mut marks, _) = split_marks(&out.stdout, &mark);
    let source = marks.shift_remove("source").unwrap_or_else(|| src.to_owned());
    Ok(match marks.get("error").map(String::as_str) {
        Some("isdir") => Slurped::Error("isdir", source),
        Some("missing") => Slurped::Error("missing", source),
        Some(_) => Slurped::Error("unreadable", source),
        None => Slurped::File {
            source,
            content: marks.shift_remove("content").unwrap_or_default(),
            checksum: marks.shift_remove("checksum"),
        },
    })
}

/// Ansible's message for a file `slurp` cannot read.
pub fn error_message(kind: &str, source: &str) -> String {
    match kind {
        "isdir" => format!("Source is a directory and must be a file: {source}"),
        "missing" => format!("File not found: {source}"),
        _ => format!("File is not readable: {source}"),
    }
}

pub fn decode(content: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(content.trim())
        .map_err(|e| format!("bad base64 from the host: {e}"))
}

#[async_trait]
impl TypedModule for Slurp {
    type Args = Args;

    fn name(&self) -> &'static str {
        "slurp"
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        if a.src.trim().is_empty() {
            return Err(ArgError::new("`slurp` needs a `src`").key("src"));
        }
        Ok(())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        match read_remote(ctx, &a.src, false).await? {
            Slurped::Error(kind, source) => Ok(ModuleResult::failed(error_message(kind, &source))),
            Slurped::File { source, content, .. } => {
                let mut r = ModuleResult::ok();
                r.extra.insert("content".into(), json!(content));
                r.extra.insert("source".into(), json!(source));
                r.extra.insert("encoding".into(), json!("base64"));
                Ok(r)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::args;

    #[test]
    fn src_and_its_alias() {
        assert!(args::parse::<Args>("slurp", &json!({"path": "/etc/hostname"})).is_ok());
        assert!(args::parse::<Args>("slurp", &json!({"src": "/x", "dest": "/y"})).is_err());
        assert_eq!(decode("aGk=\n").unwrap(), b"hi");
        assert_eq!(error_message("missing", "/x"), "File not found: /x");
    }
}
