//! `zdd man`: the manual page, in roff, generated from the clap definition (as ripgrep
//! does), so it always matches the binary that prints it. One page, `zdd(1)`: clap_mangen
//! draws the top command and each subcommand; each subcommand gets a section of its own
//! (`ZDD APPLY`, ...) instead of a page of its own, so `man zdd` shows everything.

use crate::cli::Cli;
use crate::error::{exit, Error};
use clap::CommandFactory;
use clap_mangen::Man;

pub fn man() -> Result<i32, Error> {
    let page = render().map_err(|e| Error::Internal(format!("cannot draw the man page: {e}")))?;
    super::print_generated(page.as_bytes())
}

/// The whole page as roff.
pub fn render() -> std::io::Result<String> {
    let mut command = Cli::command();
    command.build();
    let top = Man::new(command.clone()).title("ZDD").manual("zdd manual");
    let mut page = Vec::new();
    top.render_title(&mut page)?;
    top.render_name_section(&mut page)?;
    top.render_synopsis_section(&mut page)?;
    top.render_description_section(&mut page)?;
    top.render_options_section(&mut page)?;

    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        let heading = sub.get_bin_name().unwrap_or(sub.get_name()).to_uppercase();
        page.extend(format!(".SH \"{heading}\"\n").into_bytes());
        let man = Man::new(sub.clone());
        let mut part = Vec::new();
        man.render_synopsis_section(&mut part)?;
        man.render_description_section(&mut part)?;
        if sub.get_arguments().any(|a| !a.is_hide_set()) {
            man.render_options_section(&mut part)?;
        }
        page.extend(demote_sections(&String::from_utf8_lossy(&part)).into_bytes());
        if let Some(after) = sub.get_after_help() {
            page.extend(b".SS EXAMPLES\n");
            page.extend(verbatim(after.to_string().trim_start_matches("Examples:\n")).into_bytes());
        }
    }

    if let Some(after) = command.get_after_help() {
        let text = after.to_string();
        let examples = text.split("\n\n").next().unwrap_or_default();
        page.extend(b".SH EXAMPLES\n");
        page.extend(verbatim(examples.trim_start_matches("Examples:\n")).into_bytes());
    }
    page.extend(exit_status().into_bytes());
    top.render_version_section(&mut page)?;
    Ok(String::from_utf8_lossy(&page).into_owned())
}

/// A subcommand's `.SH SYNOPSIS` becomes `.SS SYNOPSIS` under that subcommand's section.
fn demote_sections(roff: &str) -> String {
    roff.lines()
        .map(|line| match line.strip_prefix(".SH ") {
            Some(title) => format!(".SS {title}\n"),
            None => format!("{line}\n"),
        })
        .collect()
}

/// Lines kept as written (examples), escaped for roff.
fn verbatim(text: &str) -> String {
    let mut out = String::from(".PP\n.RS 4\n.nf\n");
    for line in text.lines() {
        out.push_str(&escape(line.trim_start()));
        out.push('\n');
    }
    out.push_str(".fi\n.RE\n");
    out
}

fn escape(line: &str) -> String {
    let line = line.replace('\\', "\\e").replace('-', "\\-");
    if line.starts_with('.') || line.starts_with('\'') {
        format!("\\&{line}")
    } else {
        line
    }
}

fn exit_status() -> String {
    let codes = [
        (
            exit::OK,
            "every host completed (or, for check and plan, the input is valid)",
        ),
        (
            exit::INTERNAL,
            "internal error: a bug in zdd, or the machine it runs on",
        ),
        (
            exit::HOST_FAILED,
            "a host failed (a task, or preflight: sudo or a load balancer socket)",
        ),
        (exit::UNREACHABLE, "a host was unreachable"),
        (
            exit::INVALID,
            "invalid input (playbook, inventory, variables, flags); nothing was contacted",
        ),
        (
            exit::INTERRUPTED,
            "interrupted by SIGINT or SIGTERM, after the batch in flight",
        ),
    ];
    let mut out = String::from(".SH \"EXIT STATUS\"\n");
    for (code, meaning) in codes {
        out.push_str(&format!(".TP\n\\fB{code}\\fR\n{}\n", escape(meaning)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_never_becomes_a_roff_request() {
        assert_eq!(escape(".SH not a heading"), "\\&.SH not a heading");
        assert_eq!(escape("'quoted"), "\\&'quoted");
        assert_eq!(escape("zdd -e a\\b"), "zdd \\-e a\\eb");
    }

    #[test]
    fn a_subcommands_sections_become_subsections() {
        assert_eq!(
            demote_sections(".SH SYNOPSIS\n\\fBzdd apply\\fR\n.SH \"PRIVILEGE ESCALATION\"\n"),
            ".SS SYNOPSIS\n\\fBzdd apply\\fR\n.SS \"PRIVILEGE ESCALATION\"\n"
        );
    }
}
