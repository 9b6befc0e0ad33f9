//! The only place that reads the user's input files: inventory, playbook and `-e` vars,
//! loaded once and parsed, with every problem reported at once.

use crate::cli::InputArgs;
use crate::config::{AnsibleConfig, RunSettings};
use crate::error::{Diagnostic, Error};
use crate::inventory::Inventory;
use crate::parse;
use crate::playbook::Playbook;
use crate::vars::VarMap;

/// What the input files say, loaded and parsed.
pub struct Input {
    pub playbook: Playbook,
    pub inventory: Inventory,
    /// The inventory sources read (the `-i` flags as given, else the configuration's): the
    /// journal and the rollout lock are named after them.
    pub inventory_sources: Vec<String>,
    pub extra_vars: VarMap,
    /// Ansible's configuration (`ansible.cfg`, `ANSIBLE_*`).
    pub config: &'static AnsibleConfig,
    /// The flags over the configuration.
    pub settings: RunSettings,
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
    let mut problems = Vec::new();
    let config = keep(&mut problems, AnsibleConfig::current());
    if let Some(config) = config {
        for warning in &config.warnings {
            eprint!("{}", crate::config::render_warning(warning));
        }
    }
    // Vault passwords next: any file read below may be vaulted.
    crate::vault::install(crate::vault::keyring_from(&vault_sources(input, config)).map_err(Error::invalid)?);
    let settings = config.and_then(|config| match RunSettings::resolve(&input.connection, config) {
        Ok(settings) => Some(settings),
        Err(bad) => {
            problems.extend(bad);
            None
        }
    });
    let inventory_sources = inventory_sources(input, config);
    let playbook_dir = input.playbook.parent().unwrap_or(std::path::Path::new("."));
    let inventory = keep(
        &mut problems,
        Inventory::load_sources(&inventory_sources)
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
    match (playbook, inventory, config, settings) {
        (Some(playbook), Some(inventory), Some(config), Some(settings)) if problems.is_empty() => Ok(Input {
            playbook,
            inventory,
            inventory_sources,
            extra_vars,
            config,
            settings,
        }),
        _ => Err(Error::Invalid(problems)),
    }
}

fn inventory_sources(input: &InputArgs, config: Option<&AnsibleConfig>) -> Vec<String> {
    effective_inventory(&input.inventory, config)
}

/// The inventory sources: every `-i`, else `[defaults] inventory` (`ANSIBLE_INVENTORY`)
/// when the configuration sets it, else none (only the implicit `localhost`). `apply`,
/// `plan`, `status` and `--resume` all name the journal after these.
pub fn effective_inventory(flags: &[String], config: Option<&AnsibleConfig>) -> Vec<String> {
    match config {
        Some(config) if flags.is_empty() && config.inventory.is_set() => config
            .inventory
            .value
            .iter()
            .map(|path| path.display().to_string())
            .collect(),
        _ => flags.to_vec(),
    }
}

/// The vault passwords the command line and the configuration give.
fn vault_sources(input: &InputArgs, config: Option<&AnsibleConfig>) -> crate::vault::PasswordSources {
    crate::vault::PasswordSources {
        config_identities: config
            .map(|c| c.vault_identity_list.value.clone())
            .unwrap_or_default(),
        vault_ids: input.vault_ids.clone(),
        password_files: input.vault_password_files.clone(),
        config_password_file: config.and_then(|c| c.vault_password_file.value.clone()),
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
