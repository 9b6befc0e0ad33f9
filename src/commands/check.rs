//! `zdd check`: parse and validate, connecting to nothing.

use crate::cli::CheckArgs;
use crate::error::{exit, Error};
use crate::load::load_valid;
use crate::template::Templater;

pub fn check(args: CheckArgs) -> Result<i32, Error> {
    let input = load_valid(&args.input, &Templater::new())?;
    let tasks: usize = input
        .playbook
        .plays
        .iter()
        .map(|p| {
            let flat = |t| crate::playbook::flatten(t).len();
            flat(&p.pre_tasks) + flat(&p.tasks) + flat(&p.post_tasks) + flat(&p.handlers)
        })
        .sum();
    println!(
        "{}: ok ({} plays, {} tasks and handlers, {} inventory hosts); nothing was contacted",
        input.playbook.path.display(),
        input.playbook.plays.len(),
        tasks,
        input.inventory.hosts.len()
    );
    Ok(exit::OK)
}
