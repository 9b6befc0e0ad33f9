//! A long-lived shell on the host that runs framed commands, one after another, over one
//! SSH channel: a command costs one round trip instead of a new session (and a new sudo).
//!
//! The shell is started once with the usual bootstrap (`command_line`/`stdin_payload`, so
//! sudo, sudo with a password and su work as for any command and no secret reaches a
//! command line). Its script prints a ready line with the shell's pid and process group,
//! then `exec`s `/bin/sh -s`, which reads the rest of the channel's standard input as
//! commands. Each command is one frame, written in one write:
//!
//! ```text
//! ( eval 'SCRIPT' ) </dev/null; printf 'MARK %d\n' $?; printf 'MARK\n' >&2
//! printf %s 'DATA' | ( eval 'SCRIPT' ); ...        (with standard input)
//! ```
//!
//! The script runs in a subshell, so an `exit` or a syntax error in it ends the subshell,
//! never the loop. MARK is random per shell: the controller splits stdout and stderr at
//! it (a command's output need not end in a newline). Frames carry no NUL byte (a shell
//! word cannot) and at most `MAX_FRAMED_STDIN` bytes of input; other commands take a
//! fresh session (see `frame`).

use super::{command_line, stdin_payload, CommandOutput, RemoteCommand};
use std::io;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Standard input up to this size travels inside the frame; more takes a fresh session.
pub const MAX_FRAMED_STDIN: usize = 256 * 1024;

/// The shell's start script: the ready line (pid and process group from /proc, read by
/// a builtin: no fork), then a shell reading commands from the channel.
fn start_script(mark: &str) -> String {
    format!(
        "read -r zdd_p zdd_c zdd_s zdd_pp zdd_pg zdd_rest </proc/$$/stat\n\
         printf '%s ready %s %s\\n' {mark} $$ \"$zdd_pg\"\n\
         unset zdd_p zdd_c zdd_s zdd_pp zdd_pg zdd_rest zdd_script\n\
         exec /bin/sh -s\n"
    )
}

/// A random mark: no command prints it by chance.
fn fresh_mark() -> String {
    super::random_token("zdd-mark")
}

/// Single-quote bytes for sh: `'` becomes `'\''`, every other byte stays as it is.
fn quote_into(frame: &mut Vec<u8>, bytes: &[u8]) {
    frame.push(b'\'');
    for &b in bytes {
        if b == b'\'' {
            frame.extend_from_slice(b"'\\''");
        } else {
            frame.push(b);
        }
    }
    frame.push(b'\'');
}

/// Whether `cmd` can run in a shell (see `frame`).
pub fn frameable(cmd: &RemoteCommand) -> bool {
    let data = cmd.stdin.as_deref().unwrap_or_default();
    !cmd.raw && data.len() <= MAX_FRAMED_STDIN && !data.contains(&0) && !cmd.script.contains('\0')
}

/// The frame that runs `cmd` in a shell whose mark is `mark`, or `None` where the command
/// needs a session of its own: `raw`, a NUL byte, or more input than `MAX_FRAMED_STDIN`.
pub fn frame(cmd: &RemoteCommand, mark: &str) -> Option<Vec<u8>> {
    if !frameable(cmd) {
        return None;
    }
    let data = cmd.stdin.as_deref().unwrap_or_default();
    let mut frame = Vec::with_capacity(cmd.script.len() + data.len() + 2 * mark.len() + 80);
    if cmd.stdin.is_some() {
        frame.extend_from_slice(b"printf %s ");
        quote_into(&mut frame, data);
        frame.extend_from_slice(b" | ( eval ");
        quote_into(&mut frame, cmd.script.as_bytes());
        frame.extend_from_slice(b" )");
    } else {
        frame.extend_from_slice(b"( eval ");
        quote_into(&mut frame, cmd.script.as_bytes());
        frame.extend_from_slice(b" ) </dev/null");
    }
    frame.extend_from_slice(format!("; printf '{mark} %d\\n' $?; printf '{mark}\\n' >&2\n").as_bytes());
    Some(frame)
}

/// Why a shell could not start.
#[derive(Debug)]
pub enum StartFailure {
    /// The channel could not be opened.
    Open(openssh::Error),
    /// The channel ended before the ready line: what the start command said on stderr
    /// (a sudo that refused, su that asks a password).
    Ended(String),
}

type Reader = Box<dyn AsyncRead + Unpin + Send + Sync>;
type Writer = Box<dyn AsyncWrite + Unpin + Send + Sync>;

/// One running shell and its pipes.
pub struct Shell {
    /// What keeps the channel (or a local child, in tests) alive.
    _carrier: Box<dyn std::any::Any + Send + Sync>,
    stdin: Writer,
    stdout: Reader,
    stderr: Reader,
    mark: String,
    /// The shell's process group on the host (sshd's session for the channel).
    pub pgid: u32,
    /// The shell's pid on the host: a command that times out is killed with the processes
    /// below it.
    pub pid: u32,
}

impl std::fmt::Debug for Shell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shell")
            .field("pid", &self.pid)
            .field("pgid", &self.pgid)
            .finish()
    }
}

impl Shell {
    /// Start a shell as `run_as` over `session` and wait for its ready line.
    pub async fn start(
        session: &std::sync::Arc<openssh::Session>,
        run_as: Option<super::Become>,
    ) -> Result<Shell, StartFailure> {
        let mark = fresh_mark();
        let start = RemoteCommand {
            script: start_script(&mark),
            run_as,
            ..Default::default()
        };
        let mut command = openssh::Session::to_raw_command(session.clone(), command_line(&start));
        command
            .stdin(openssh::Stdio::piped())
            .stdout(openssh::Stdio::piped())
            .stderr(openssh::Stdio::piped());
        let mut child = command.spawn().await.map_err(StartFailure::Open)?;
        let pipes = (child.stdin().take(), child.stdout().take(), child.stderr().take());
        let (Some(stdin), Some(stdout), Some(stderr)) = pipes else {
            return Err(StartFailure::Ended("the shell's pipes are missing".into()));
        };
        Shell::over(
            Box::new(child),
            Box::new(stdin),
            Box::new(stdout),
            Box::new(stderr),
            mark,
            &start,
        )
        .await
    }

    /// Feed the start command its payload and read the ready line.
    async fn over(
        carrier: Box<dyn std::any::Any + Send + Sync>,
        mut stdin: Writer,
        mut stdout: Reader,
        mut stderr: Reader,
        mark: String,
        start: &RemoteCommand,
    ) -> Result<Shell, StartFailure> {
        let ended = |stderr: Vec<u8>| StartFailure::Ended(String::from_utf8_lossy(&stderr).into_owned());
        let written = async {
            stdin.write_all(&stdin_payload(start)).await?;
            stdin.flush().await
        };
        if written.await.is_err() {
            let mut err = Vec::new();
            let _ = stderr.read_to_end(&mut err).await;
            return Err(ended(err));
        }
        let mut line = Vec::new();
        let ready = format!("{mark} ready ");
        loop {
            let mut byte = [0u8; 1];
            // Byte by byte, once per shell: nothing past the ready line may be taken.
            match stdout.read(&mut byte).await {
                Ok(1) if byte[0] == b'\n' => break,
                Ok(1) => line.push(byte[0]),
                _ => {
                    let mut err = Vec::new();
                    let _ = stderr.read_to_end(&mut err).await;
                    return Err(ended(err));
                }
            }
        }
        let line = String::from_utf8_lossy(&line);
        let ids = line.strip_prefix(&ready).unwrap_or_default();
        let mut ids = ids.split_whitespace().map(|n| n.parse::<u32>().ok());
        let (Some(Some(pid)), Some(Some(pgid))) = (ids.next(), ids.next()) else {
            return Err(StartFailure::Ended(format!(
                "unexpected first line from the shell: {line}"
            )));
        };
        Ok(Shell {
            _carrier: carrier,
            stdin,
            stdout,
            stderr,
            mark,
            pgid,
            pid,
        })
    }

    /// The frame for `cmd` in this shell, or `None` (see `frame`).
    pub fn frame(&self, cmd: &RemoteCommand) -> Option<Vec<u8>> {
        frame(cmd, &self.mark)
    }

    /// Run one frame and read its output up to the marks. An error means the channel is
    /// broken: the shell must not be used again.
    pub async fn exec(&mut self, frame: &[u8]) -> io::Result<CommandOutput> {
        self.stdin.write_all(frame).await?;
        self.stdin.flush().await?;
        let out_mark = format!("{} ", self.mark);
        let err_mark = format!("{}\n", self.mark);
        let (stdout, stderr) = tokio::join!(
            read_to_mark(&mut self.stdout, out_mark.as_bytes(), true),
            read_to_mark(&mut self.stderr, err_mark.as_bytes(), false),
        );
        let (stdout, rc) = stdout?;
        let (stderr, _) = stderr?;
        Ok(CommandOutput {
            rc,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
    }
}

/// Read `pipe` until `mark`; with `rc`, the mark is followed by the exit status and a
/// newline. Returns what came before the mark and the status. A frame is answered only
/// after its command has ended, so nothing follows the mark.
async fn read_to_mark<R: AsyncRead + Unpin + ?Sized>(
    pipe: &mut R,
    mark: &[u8],
    rc: bool,
) -> io::Result<(Vec<u8>, i32)> {
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 16 * 1024];
    let mut searched = 0;
    loop {
        let n = pipe.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(at) = find(&buf[searched..], mark).map(|i| i + searched) {
            let tail = &buf[at + mark.len()..];
            if !rc {
                buf.truncate(at);
                return Ok((buf, 0));
            }
            if let Some(end) = tail.iter().position(|&b| b == b'\n') {
                let status = std::str::from_utf8(&tail[..end])
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad status line"))?;
                buf.truncate(at);
                return Ok((buf, status));
            }
            // The status is still on its way: look from the mark again.
            searched = at;
        } else {
            searched = buf.len().saturating_sub(mark.len());
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The script that ends a timed-out command: TERM to the shell `pid` and every process
/// below it (read from /proc), then KILL to what is left after about 2 s. Not the process
/// group: background jobs a command started earlier (`async`) share it and must live on.
/// A zombie counts as ended: an orphan whose new parent (PID 1 of a container, say) does
/// not reap it would otherwise hold the wait for its full 2 s.
pub fn kill_script(pid: u32) -> String {
    format!(
        "zdd_tree() {{ echo \"$1\"; for s in /proc/[0-9]*/stat; do \
         {{ read -r p c st pp rest <\"$s\"; }} 2>/dev/null && [ \"$pp\" = \"$1\" ] && zdd_tree \"$p\"; done; }}\n\
         pids=$(zdd_tree {pid}); kill -TERM $pids 2>/dev/null; i=0\n\
         while [ $i -lt 20 ]; do a=; for p in $pids; do \
         {{ read -r q c st rest <\"/proc/$p/stat\"; }} 2>/dev/null && [ \"$st\" != Z ] && a=1; done; \
         [ -n \"$a\" ] || break; sleep 0.1; i=$((i+1)); done\n\
         kill -KILL $pids 2>/dev/null; true\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shell started as on a host, but as a local `sh` child with the same bootstrap.
    async fn local_shell() -> Shell {
        let mark = fresh_mark();
        let start = RemoteCommand::new(start_script(&mark));
        let mut child = tokio::process::Command::new("sh")
            .args(["-c", &command_line(&start)])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        Shell::over(
            Box::new(child),
            Box::new(stdin),
            Box::new(stdout),
            Box::new(stderr),
            mark,
            &start,
        )
        .await
        .unwrap()
    }

    async fn run(shell: &mut Shell, cmd: &RemoteCommand) -> CommandOutput {
        let frame = shell.frame(cmd).expect("framed");
        shell.exec(&frame).await.unwrap()
    }

    #[tokio::test]
    async fn every_byte_but_nul_survives_in_script_and_stdin() {
        let mut shell = local_shell().await;
        assert!(shell.pid > 0 && shell.pgid > 0);
        let data: Vec<u8> = (1..=255u8).collect();
        let out = shell
            .exec(
                &shell
                    .frame(&RemoteCommand::new("od -An -v -tx1 | tr -d ' \\n'").stdin(data.clone()))
                    .unwrap(),
            )
            .await
            .unwrap();
        let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!((out.rc, out.stdout.as_str()), (0, hex.as_str()));
        // Every char 0x01-0xff (their UTF-8 bytes) and the quotes inside the script.
        let text: String = (1..=255u8).map(char::from).collect();
        let script = format!("printf '%s' {}", super::super::sh_quote(&text));
        let out = run(&mut shell, &RemoteCommand::new(script)).await;
        assert_eq!((out.rc, out.stdout), (0, text));
    }

    #[tokio::test]
    async fn marks_split_output_without_a_trailing_newline_and_the_shell_survives_exit_and_syntax_errors() {
        let mut shell = local_shell().await;
        let out = run(
            &mut shell,
            &RemoteCommand::new("printf out; printf err >&2; exit 3"),
        )
        .await;
        assert_eq!(
            out,
            CommandOutput {
                rc: 3,
                stdout: "out".into(),
                stderr: "err".into()
            }
        );
        let out = run(&mut shell, &RemoteCommand::new("if then fi (")).await;
        assert_eq!(out.rc, 2);
        assert!(out.stderr.contains("Syntax error"), "{out:?}");
        let out = run(&mut shell, &RemoteCommand::new("cd /; x=1; echo $PWD")).await;
        assert_eq!(out.stdout, "/\n");
        // The previous command's `cd` and variables stayed in its subshell.
        let out = run(
            &mut shell,
            &RemoteCommand::new("echo \"${x:-unset}\"; cat").stdin(Vec::new()),
        )
        .await;
        assert_eq!(
            (out.rc, out.stdout.as_str(), out.stderr.as_str()),
            (0, "unset\n", "")
        );
        let out = run(&mut shell, &RemoteCommand::new("cat; echo \"[$?]\"")).await;
        assert_eq!(
            out.stdout, "[0]\n",
            "no stdin: the command reads /dev/null, not the frames"
        );
    }

    #[tokio::test]
    async fn the_kill_script_ends_the_command_below_the_shell() {
        let mut shell = local_shell().await;
        let nap = format!("299.{}", std::process::id());
        let frame = shell
            .frame(&RemoteCommand::new(format!("sleep {nap}; sleep {nap}")))
            .unwrap();
        let exec = tokio::time::timeout(std::time::Duration::from_millis(300), shell.exec(&frame));
        assert!(exec.await.is_err(), "sleep ended early");
        let sleeping = || {
            std::fs::read_dir("/proc")
                .unwrap()
                .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
                .filter(|line| String::from_utf8_lossy(line).contains(&nap))
                .count()
        };
        assert_eq!(sleeping(), 1);
        let killed = std::process::Command::new("sh")
            .args(["-c", &kill_script(shell.pid)])
            .status()
            .unwrap();
        assert!(killed.success());
        assert_eq!(sleeping(), 0);
    }

    #[test]
    fn a_zombie_left_by_the_kill_does_not_hold_the_script_for_its_2_s() {
        // Nobody reaps this `sleep` until the end of the test: once TERM ends it, it is a
        // zombie, as an orphan is where PID 1 does not reap (a container's, say).
        let mut sleeper = std::process::Command::new("sleep").arg("60").spawn().unwrap();
        let started = std::time::Instant::now();
        let killed = std::process::Command::new("sh")
            .args(["-c", &kill_script(sleeper.id())])
            .status()
            .unwrap();
        let took = started.elapsed();
        let ended = sleeper.wait().unwrap();
        assert!(killed.success());
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&ended), Some(15));
        assert!(took < std::time::Duration::from_secs(1), "the kill took {took:?}");
    }

    #[test]
    fn commands_that_need_their_own_session_are_not_framed() {
        let mark = "m";
        assert!(frame(&RemoteCommand::new("true"), mark).is_some());
        assert!(frame(&RemoteCommand::new("cat").stdin(vec![1, 0, 2]), mark).is_none());
        assert!(frame(
            &RemoteCommand::new("cat").stdin(vec![b'x'; MAX_FRAMED_STDIN + 1]),
            mark
        )
        .is_none());
        let raw = RemoteCommand {
            raw: true,
            ..RemoteCommand::new("uptime")
        };
        assert!(frame(&raw, mark).is_none());
        assert_eq!(
            frame(&RemoteCommand::new("echo 'a'"), mark).unwrap(),
            b"( eval 'echo '\\''a'\\''' ) </dev/null; printf 'm %d\\n' $?; printf 'm\\n' >&2\n"
        );
    }
}
