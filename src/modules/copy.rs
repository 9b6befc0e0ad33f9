//! `copy`: put a local file (`src`) or inline `content` on the host.

use super::args;
use super::put::{put, PutFile};
use super::{find_local_file, ArgError, Failure, ModuleCtx, ModuleResult, StaticCtx, TypedModule};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

pub struct Copy;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    #[serde(default)]
    src: Option<String>,
    #[serde(default)]
    content: Option<Value>,
    dest: String,
    #[serde(default, deserialize_with = "args::opt_mode")]
    mode: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    owner: Option<String>,
    #[serde(default, deserialize_with = "args::opt_text")]
    group: Option<String>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    backup: Option<bool>,
    #[serde(default, deserialize_with = "args::opt_bool")]
    force: Option<bool>,
    #[serde(default)]
    validate: Option<String>,
    /// `false`: send a vaulted `src` as it is, encrypted.
    #[serde(default, deserialize_with = "args::opt_bool")]
    decrypt: Option<bool>,
}

impl Args {
    fn check(&self) -> Result<(), ArgError> {
        match (&self.src, &self.content) {
            (Some(_), Some(_)) => {
                Err(ArgError::new("`copy` takes `src` or `content`, not both").key("content"))
            }
            (None, None) => Err(ArgError::new("`copy` needs `src` or `content`")),
            _ => Ok(()),
        }
    }
}

/// `content` as Ansible writes it: text as is, anything else as JSON.
fn content_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

#[async_trait]
impl TypedModule for Copy {
    type Args = Args;

    fn name(&self) -> &'static str {
        "copy"
    }

    fn check(&self, a: &Args, _raw: &Value) -> Result<(), ArgError> {
        a.check()
    }

    fn check_static(&self, a: &Args, _raw: &Value, ctx: &StaticCtx<'_>) -> Result<(), ArgError> {
        if let Some(src) = &a.src {
            let found = find_local_file(ctx.playbook_dir, ctx.role_path, "files", src);
            if let Some(found) = found.filter(|_| a.decrypt != Some(false)) {
                crate::vault::check_local_file(&found).map_err(|e| {
                    ArgError::new(e.message(&format!("file `{src}`")))
                        .key("src")
                        .hint(e.hint())
                })?;
            }
            if !args::is_template(src)
                && find_local_file(ctx.playbook_dir, ctx.role_path, "files", src).is_none()
            {
                return Err(ArgError::new(format!("file `{src}` not found"))
                    .key("src")
                    .hint(format!(
                        "looked in {}/files/ and {} (and one level up); directories are not supported",
                        crate::error::display_path(ctx.playbook_dir),
                        crate::error::display_path(ctx.playbook_dir)
                    )));
            }
        }
        Ok(())
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let (content, name, path) = match (&a.src, &a.content) {
            (Some(src), _) => {
                let path = find_local_file(ctx.playbook_dir, ctx.role_path, "files", src)
                    .ok_or_else(|| format!("Could not find or access '{src}'"))?;
                let bytes = if a.decrypt == Some(false) {
                    std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
                } else {
                    crate::vault::read_local_file(&path)?
                };
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                (bytes, name, Some(path))
            }
            (None, Some(content)) => (content_text(content).into_bytes(), None, None),
            (None, None) => unreachable!("checked above"),
        };
        let mode = args::preserved_mode(a.mode.as_deref(), path.as_deref())?;
        let mut r = put(
            ctx,
            &PutFile {
                dest: &a.dest,
                content: &content,
                mode: mode.as_deref(),
                owner: a.owner.as_deref(),
                group: a.group.as_deref(),
                backup: a.backup.unwrap_or(false),
                force: a.force.unwrap_or(true),
                validate: a.validate.as_deref(),
                name_in_dir: name.as_deref(),
            },
        )
        .await?;
        if let Some(src) = &a.src {
            r.extra.insert("src".into(), Value::String(src.clone()));
        }
        Ok(r)
    }
}
