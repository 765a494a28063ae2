//! Ending every process of a run, including those that left its process
//! group: a `setsid` daemon, or a grandchild that changed its group, still
//! carries the run's token in its environment (`DOORMAT_RUN`, inherited
//! from the child doormat started) or still holds one of the run's pipes
//! open, and that is how it is found.
//!
//! Finding them reads `/proc` and so works on Linux only; elsewhere
//! [`sweep`] finds nothing and only the process group is ended (see
//! `process.rs`). A process that both cleared its environment and closed
//! every pipe of the run cannot be found, and cannot disturb doormat either:
//! it holds nothing doormat waits on.

/// The environment variable that marks every process of a run.
pub(crate) const RUN_ENV: &str = "DOORMAT_RUN";

/// What marks the processes of one run.
#[derive(Debug, Clone, Default)]
pub(crate) struct Marks {
    /// `DOORMAT_RUN=<token>`, as it appears in `/proc/PID/environ`.
    pub(crate) env: Vec<u8>,
    /// The run's pipes, as `/proc/PID/fd/N` links name them (`pipe:[INODE]`).
    pub(crate) pipes: Vec<std::ffi::OsString>,
}

/// Rounds of looking and killing: a process may fork while it is being
/// killed, so one look is not enough.
#[cfg(target_os = "linux")]
const ROUNDS: usize = 50;

/// Kills (SIGKILL) every process other than doormat itself that carries the
/// run's token or holds one of its pipes, until none is left (or after
/// [`ROUNDS`] rounds); gives how many kills were sent.
#[cfg(target_os = "linux")]
pub(crate) fn sweep(marks: &Marks) -> usize {
    use rustix::process::{kill_process, Pid, Signal};
    let me = std::process::id();
    let mut sent = 0;
    for _ in 0..ROUNDS {
        let Ok(dir) = std::fs::read_dir("/proc") else { return sent };
        let mut found = 0;
        for entry in dir.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            if pid == me || !marked(pid, marks) {
                continue;
            }
            let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else { continue };
            if kill_process(pid, Signal::KILL).is_ok() {
                found += 1;
            }
        }
        sent += found;
        if found == 0 {
            break;
        }
        // Let the killed processes die before looking again.
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    sent
}

/// Elsewhere, escaped processes cannot be found: nothing is done.
#[cfg(not(target_os = "linux"))]
pub(crate) fn sweep(_marks: &Marks) -> usize {
    0
}

/// Whether process `pid` carries the token or holds one of the pipes.
///
/// A pipe alone does not mark a child of doormat itself. While another
/// thread of doormat starts a process, that process is a copy of doormat
/// until it execs, and holds every descriptor doormat has open, this run's
/// pipes among them (they close on exec). Such a process belongs to another
/// run, and killing it would fail that run. The run's own child needs no
/// mark: its process group is ended before the sweep.
#[cfg(target_os = "linux")]
fn marked(pid: u32, marks: &Marks) -> bool {
    let base = std::path::PathBuf::from(format!("/proc/{pid}"));
    if !marks.env.is_empty() {
        if let Ok(environ) = std::fs::read(base.join("environ")) {
            if environ.split(|&b| b == 0).any(|var| var == marks.env.as_slice()) {
                return true;
            }
        }
    }
    if marks.pipes.is_empty() || parent(pid) == Some(std::process::id()) {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(base.join("fd")) else { return false };
    fds.flatten().any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| marks.pipes.iter().any(|p| *p == l)))
}

/// The parent of process `pid`, from `/proc/PID/stat` (the field after the
/// state, which follows the command name in parentheses).
#[cfg(target_os = "linux")]
fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
}

/// The name `/proc/PID/fd/N` links give the pipe behind `fd`, on Linux.
#[cfg(target_os = "linux")]
pub(crate) fn pipe_name(fd: &impl std::os::fd::AsRawFd) -> Option<std::ffi::OsString> {
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
    let link = link.into_os_string();
    link.to_str().is_some_and(|l| l.starts_with("pipe:[")).then_some(link)
}

/// Elsewhere, pipes are not named.
#[cfg(not(target_os = "linux"))]
pub(crate) fn pipe_name(_fd: &impl std::os::fd::AsRawFd) -> Option<std::ffi::OsString> {
    None
}

/// A token no other run of this or any other doormat shares: the process
/// id, a counter, and the time.
pub(crate) fn token() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{}-{n}-{t}", std::process::id())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    fn alive(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| s.rsplit(')').next().is_some_and(|r| !r.trim_start().starts_with('Z')))
    }

    /// A process in its own session carrying the token is found and killed;
    /// one without it is left alone.
    #[test]
    fn the_token_finds_a_process_outside_the_group() {
        let token = token();
        let mut marked = Command::new("sleep")
            .arg("30")
            .env(RUN_ENV, &token)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut other = Command::new("sleep").arg("30").stdin(Stdio::null()).stdout(Stdio::null()).spawn().unwrap();
        let marks = Marks { env: format!("{RUN_ENV}={token}").into_bytes(), pipes: Vec::new() };
        let started = Instant::now();
        // Until the child has exec'd, /proc shows the parent's environment,
        // without the token: under load that can take a moment.
        while sweep(&marks) == 0 {
            assert!(started.elapsed() < Duration::from_secs(5), "the marked process was never found");
            std::thread::sleep(Duration::from_millis(10));
        }
        marked.wait().unwrap();
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(alive(other.id()), "a process without the token is left alone");
        other.kill().unwrap();
        other.wait().unwrap();
    }

    /// `program` started without the token, in a group of its own, its
    /// standard output piped; the marks of that pipe alone.
    fn pipe_holder(program: &str, args: &[&str]) -> (std::process::Child, std::process::ChildStdout, Marks) {
        let mut child = Command::new(program)
            .args(args)
            .env_remove(RUN_ENV)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let name = pipe_name(&out).expect("a pipe has a name in /proc");
        (child, out, Marks { env: Vec::new(), pipes: vec![name] })
    }

    /// A process holding a pipe of the run, without the token and outside
    /// doormat's children (a grandchild left behind by a shell that exited),
    /// is found and killed: the pipe then reaches end of file.
    #[test]
    fn a_pipe_finds_a_process_without_the_token() {
        use std::io::Read;
        let (mut shell, mut out, marks) = pipe_holder("sh", &["-c", "sleep 30 & echo started"]);
        shell.wait().unwrap();
        assert!(sweep(&marks) >= 1, "the grandchild holding the pipe was not found");
        let mut rest = String::new();
        out.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "started\n", "the pipe reaches end of file once its holder is gone");
    }

    /// A child of doormat that holds the run's pipe but not its token is
    /// left alone: it stands for another run's process caught between fork
    /// and exec, which holds copies of every descriptor doormat has open.
    #[test]
    fn a_pipe_alone_does_not_mark_a_child_of_doormat() {
        let (mut holder, out, marks) = pipe_holder("sleep", &["30"]);
        assert_eq!(sweep(&marks), 0);
        assert!(alive(holder.id()), "doormat's own child was killed for a pipe");
        holder.kill().unwrap();
        holder.wait().unwrap();
        drop(out);
    }
}
