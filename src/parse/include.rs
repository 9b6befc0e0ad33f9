//! Files of tasks that a play loads at run time (`include_tasks`), parsed as the tasks of
//! a play are.

use super::Parser;
use crate::error::Error;
use crate::playbook::Task;
use crate::yaml::{Source, TopLevel};
use std::path::Path;

/// Read and parse a file of tasks (`handlers` for a handler's include). An empty file is
/// no tasks, as in Ansible.
pub fn load_included_tasks(path: &Path, handlers: bool) -> Result<Vec<Task>, Error> {
    let src = Source::read(path).map_err(Error::invalid)?;
    if src.text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let node = src.parse(TopLevel::Sequence).map_err(Error::invalid)?;
    let mut p = Parser::new(&src);
    let tasks = p.tasks(&node, handlers);
    p.finish()?;
    Ok(tasks)
}
