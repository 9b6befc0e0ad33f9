//! `template`: render a local Jinja file with the host's variables and put it on the host.

use super::args::{self, check_choice};
use super::put::{put, PutFile};
use super::{find_local_file, ArgError, Failure, ModuleCtx, ModuleResult, StaticCtx, TypedModule};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

pub struct Template;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    src: String,
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
    #[serde(default)]
    newline_sequence: Option<String>,
}

#[async_trait]
impl TypedModule for Template {
    type Args = Args;

    fn name(&self) -> &'static str {
        "template"
    }

    fn check_static(&self, a: &Args, _raw: &Value, ctx: &StaticCtx<'_>) -> Result<(), ArgError> {
        check_choice(
            "newline_sequence",
            a.newline_sequence.as_deref(),
            &["\n", "\r", "\r\n"],
        )?;
        if let Some(found) = find_local_file(ctx.playbook_dir, ctx.role_path, "templates", &a.src) {
            crate::vault::check_local_file(&found).map_err(|e| {
                ArgError::new(e.message(&format!("template `{}`", a.src)))
                    .key("src")
                    .hint(e.hint())
            })?;
        }
        if !args::is_template(&a.src)
            && find_local_file(ctx.playbook_dir, ctx.role_path, "templates", &a.src).is_none()
        {
            return Err(ArgError::new(format!("template `{}` not found", a.src))
                .key("src")
                .hint(format!(
                    "looked in {}/templates/ and {} (and one level up)",
                    crate::error::display_path(ctx.playbook_dir),
                    crate::error::display_path(ctx.playbook_dir)
                )));
        }
        Ok(())
    }

    fn template_files(&self, a: &Args) -> Vec<String> {
        vec![a.src.clone()]
    }

    async fn run(&self, ctx: &ModuleCtx<'_>, a: Args) -> Result<ModuleResult, Failure> {
        let path = find_local_file(ctx.playbook_dir, ctx.role_path, "templates", &a.src)
            .ok_or_else(|| format!("Could not find or access '{}'", a.src))?;
        let source = crate::vault::read_local_file(&path)?;
        let source =
            String::from_utf8(source).map_err(|_| format!("{} is not UTF-8 text", path.display()))?;
        // Ansible defines these while rendering a template.
        let mut extra = crate::vars::VarMap::new();
        if !ctx.vars.contains("ansible_managed") {
            extra.insert("ansible_managed".into(), json!("Ansible managed"));
        }
        extra.insert("template_path".into(), json!(path.display().to_string()));
        extra.insert("template_destpath".into(), json!(a.dest));
        let vars = ctx.vars.with(extra);
        let search = crate::template::template_search_path(ctx.playbook_dir, ctx.role_path, &path);
        let mut text = ctx
            .templater
            .render_file_in(&a.src, &source, &search, &vars)
            .map_err(|e| e.message)?;
        let mode = args::preserved_mode(a.mode.as_deref(), Some(&path))?;
        if let Some(nl) = a.newline_sequence.as_deref().filter(|nl| *nl != "\n") {
            text = text.replace('\n', nl);
        }
        let result = put(
            ctx,
            &PutFile {
                dest: &a.dest,
                content: text.as_bytes(),
                mode: mode.as_deref(),
                owner: a.owner.as_deref(),
                group: a.group.as_deref(),
                backup: a.backup.unwrap_or(false),
                force: a.force.unwrap_or(true),
                validate: a.validate.as_deref(),
                name_in_dir: None,
            },
        )
        .await?;
        Ok(result)
    }
}
