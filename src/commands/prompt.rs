//! `vars_prompt`: every play's questions asked on the terminal before any host is
//! touched (Ansible asks at each play's start; a rollout should not stop half way to wait
//! for a person). An `-e` value skips the question; without a terminal the default is
//! taken, and a question with neither is an error naming where it was written.

use crate::error::{Diagnostic, Error};
use crate::load::Input;
use crate::playbook::VarPrompt;
use crate::template::Templater;
use crate::vars::{Context, VarMap};
use serde_json::Value;
use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

/// Ask what the plays ask and put each answer among its play's variables.
pub fn answer_prompts(input: &mut Input, templater: &Templater) -> Result<(), Error> {
    let terminal = std::io::stdin().is_terminal();
    let extra = Arc::new(input.extra_vars.clone());
    let mut unanswerable = Vec::new();
    let mut answers: Vec<Vec<(String, Value)>> = Vec::new();
    for play in &input.playbook.plays {
        let mut ctx = Context::new();
        ctx.push(Arc::new(play.vars.clone()));
        ctx.push(extra.clone());
        let mut play_answers = Vec::new();
        for prompt in play.prompts.iter().filter(|p| !extra.contains_key(&p.name)) {
            let default = match &prompt.default {
                Some(raw) => Some(text(&templater.render_value(raw, &ctx).map_err(|e| {
                    Error::invalid(
                        Diagnostic::new(format!("`vars_prompt` `{}`: {e}", prompt.name))
                            .at(prompt.loc.clone()),
                    )
                })?)),
                None => None,
            };
            if !terminal {
                match default {
                    Some(value) => play_answers.push((prompt.name.clone(), Value::String(value))),
                    None => unanswerable.push(
                        Diagnostic::new(format!(
                            "`vars_prompt` asks for `{}`, and standard input is not a terminal",
                            prompt.name
                        ))
                        .at(prompt.loc.clone())
                        .hint(format!(
                            "pass it with `-e {}=VALUE`, or give the prompt a `default`",
                            prompt.name
                        )),
                    ),
                }
                continue;
            }
            let question = match &prompt.prompt {
                Some(raw) => templater.render_str(raw, &ctx).unwrap_or_else(|_| raw.clone()),
                None => prompt.name.clone(),
            };
            let answer = ask(prompt, &question, default.as_deref())
                .map_err(|e| Error::invalid(Diagnostic::new(format!("cannot read the answer: {e}"))))?;
            play_answers.push((prompt.name.clone(), Value::String(answer)));
        }
        answers.push(play_answers);
    }
    if !unanswerable.is_empty() {
        return Err(Error::Invalid(unanswerable));
    }
    for (play, play_answers) in input.playbook.plays.iter_mut().zip(answers) {
        let prompts: Vec<&VarPrompt> = play.prompts.iter().collect();
        let mut vars = VarMap::new();
        for (name, value) in play_answers {
            let unsafe_ = prompts.iter().any(|p| p.name == name && p.unsafe_);
            vars.insert(name, if unsafe_ { not_templated(value) } else { value });
        }
        play.vars.extend(vars);
    }
    Ok(())
}

/// An `unsafe` answer is used as typed: any template in it stays text.
fn not_templated(value: Value) -> Value {
    match value {
        Value::String(s) if Templater::is_template(&s) => {
            Value::String(format!("{{% raw %}}{s}{{% endraw %}}"))
        }
        other => other,
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => crate::template::py_str(&minijinja::Value::from(minijinja::value::Serde(other))),
    }
}

/// Ask one question as Ansible words it (`QUESTION [DEFAULT]: `), twice with `confirm`
/// until both answers match; an empty answer takes the default.
fn ask(prompt: &VarPrompt, question: &str, default: Option<&str>) -> std::io::Result<String> {
    let shown = match default {
        Some(d) => format!("{question} [{d}]: "),
        None => format!("{question}: "),
    };
    let answer = loop {
        let first = read_answer(&shown, prompt.private)?;
        if !prompt.confirm {
            break first;
        }
        let second = read_answer(&format!("confirm {shown}"), prompt.private)?;
        if first == second {
            break first;
        }
        eprintln!("***** VALUES ENTERED DO NOT MATCH ****");
    };
    Ok(match default {
        Some(d) if answer.is_empty() => d.to_owned(),
        _ => answer,
    })
}

/// Print `shown` on stderr and read one line from the terminal, not echoed when `private`.
pub(crate) fn read_answer(shown: &str, private: bool) -> std::io::Result<String> {
    let mut stderr = std::io::stderr();
    stderr.write_all(shown.as_bytes())?;
    stderr.flush()?;
    let _echo_off = private.then(EchoOff::new).flatten();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if private {
        // The Enter the user typed was not echoed either.
        eprintln!();
    }
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

/// Terminal echo turned off on standard input until dropped.
struct EchoOff {
    saved: libc::termios,
}

impl EchoOff {
    fn new() -> Option<EchoOff> {
        // SAFETY: plain termios calls on standard input with a stack value.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut saved) != 0 {
                return None;
            }
            let mut quiet = saved;
            quiet.c_lflag &= !libc::ECHO;
            if libc::tcsetattr(0, libc::TCSANOW, &quiet) != 0 {
                return None;
            }
            Some(EchoOff { saved })
        }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        // SAFETY: restores what `new` read.
        unsafe {
            libc::tcsetattr(0, libc::TCSANOW, &self.saved);
        }
    }
}
