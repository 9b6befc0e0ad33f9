//! The only place that reads the user's input files: inventory, playbook and `-e` vars,
//! loaded once and parsed, with every problem reported at once.

use crate::cli::InputArgs;
use crate::error::{Diagnostic, Error};
use crate::inventory::Inventory;
use crate::parse;
use crate::playbook::Playbook;
use crate::vars::VarMap;

/// What the input files say, loaded and parsed.
pub struct Input {
    pub playbook: Playbook,
    pub inventory: Inventory,
    /// The `-i` sources, as given.
    pub inventory_sources: Vec<String>,
    pub extra_vars: VarMap,
}

/// Load, then validate against the inventory: where every command that works on a
/// playbook starts. Nothing is contacted.
pub fn load_valid(input: &InputArgs, templater: &crate::template::Templater) -> Result<Input, Error> {
    let loaded = load(input)?;
    crate::validate::validate(&loaded.playbook, &loaded.inventory, &loaded.extra_vars, templater)?;
    Ok(loaded)
}

/// Load the inventory, the playbook and `-e` vars, reporting every problem at once.
pub fn load(input: &InputArgs) -> Result<Input, Error> {
    // Vault passwords first: any file read below may be vaulted.
    crate::vault::install(crate::vault::keyring_from(&vault_sources(input)).map_err(Error::invalid)?);
    let mut problems = Vec::new();
    let playbook_dir = input.playbook.parent().unwrap_or(std::path::Path::new("."));
    let inventory = keep(
        &mut problems,
        Inventory::load_sources(&input.inventory)
            .and_then(|mut inv| inv.load_playbook_vars_dirs(playbook_dir).map(|()| inv)),
    );
    let playbook = keep(&mut problems, parse::load_playbook(&input.playbook));
    let mut extra_vars = VarMap::new();
    for text in &input.extra_vars {
        if let Some(vars) = keep(&mut problems, parse::parse_extra_vars(text)) {
            extra_vars.extend(vars);
        }
    }
    let playbook = playbook.and_then(|mut p| {
        let rendered = crate::plan::render_play_keywords(&mut p, &extra_vars);
        keep(&mut problems, rendered).map(|()| p)
    });
    match (playbook, inventory) {
        (Some(playbook), Some(inventory)) if problems.is_empty() => Ok(Input {
            playbook,
            inventory,
            inventory_sources: input.inventory.clone(),
            extra_vars,
        }),
        _ => Err(Error::Invalid(problems)),
    }
}

/// The vault passwords the command line and the configuration give.
fn vault_sources(input: &InputArgs) -> crate::vault::PasswordSources {
    let config = crate::config::AnsibleConfig::load();
    crate::vault::PasswordSources {
        config_identities: config.vault_identity_list,
        vault_ids: input.vault_ids.clone(),
        password_files: input.vault_password_files.clone(),
        config_password_file: config.vault_password_file,
        ask: input.ask_vault_pass,
    }
}

/// The value, or its problems added to the list.
fn keep<T>(problems: &mut Vec<Diagnostic>, result: Result<T, Error>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(Error::Invalid(d)) => {
            problems.extend(d);
            None
        }
        Err(e) => {
            problems.push(Diagnostic::new(e.to_string()));
            None
        }
    }
}
