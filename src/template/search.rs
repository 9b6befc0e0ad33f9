//! Where `{% include 'x.j2' %}` finds `x.j2`: the search path of the template file being
//! rendered, set for the duration of the render on the rendering thread (minijinja renders
//! synchronously, and includes are resolved during the render).

use std::cell::RefCell;
use std::path::PathBuf;

thread_local! {
    static SEARCH: RefCell<Vec<PathBuf>> = const { RefCell::new(Vec::new()) };
}

/// The search path in force until the guard is dropped (the previous one comes back).
pub struct SearchPath {
    previous: Vec<PathBuf>,
}

impl SearchPath {
    pub fn set(dirs: Vec<PathBuf>) -> SearchPath {
        let previous = SEARCH.with(|s| std::mem::replace(&mut *s.borrow_mut(), dirs));
        SearchPath { previous }
    }
}

impl Drop for SearchPath {
    fn drop(&mut self) {
        let previous = std::mem::take(&mut self.previous);
        SEARCH.with(|s| *s.borrow_mut() = previous);
    }
}

/// The absolute path of the first `dir/name` that is a file, for a relative `name`.
pub fn resolve(name: &str) -> Option<String> {
    let path = std::path::Path::new(name);
    if path.is_absolute() {
        return None;
    }
    SEARCH.with(|s| {
        s.borrow()
            .iter()
            .map(|dir| dir.join(path))
            .find(|candidate| candidate.is_file())
            .map(|found| {
                std::fs::canonicalize(&found)
                    .unwrap_or(found)
                    .display()
                    .to_string()
            })
    })
}

/// Ansible's search path for a template file's includes: the role's folder then the
/// playbook's (each with its `templates/` first), then the template's own folder.
pub fn template_search_path(
    playbook_dir: &std::path::Path,
    role_path: Option<&std::path::Path>,
    template: &std::path::Path,
) -> Vec<PathBuf> {
    let mut bases: Vec<PathBuf> = Vec::new();
    bases.extend(role_path.map(std::path::Path::to_path_buf));
    bases.push(playbook_dir.to_path_buf());
    if let Some(dir) = template.parent() {
        bases.push(dir.to_path_buf());
    }
    let mut out = Vec::new();
    for base in bases {
        for dir in [base.join("templates"), base] {
            if !out.contains(&dir) {
                out.push(dir);
            }
        }
    }
    out
}
