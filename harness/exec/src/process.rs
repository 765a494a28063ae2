//! One child process: spawning it in a process group of its own, line-framed
//! I/O with limits and deadlines, a bounded tail of standard error, and
//! ending every process of the run, reaped.
//!
//! Every wait has a deadline that does not depend on end-of-file: a request
//! is written and its answer read with poll(2) on non-blocking pipes, so a
//! read returns at the deadline even while some escaped process still holds
//! the write end of standard output. Ending a run kills the whole process
//! group (a shell wrapper's background jobs, forked workers), then every
//! process that carries the run's token or holds one of its pipes
//! (`sweep.rs`: `setsid` daemons, on Linux), then reaps the child.

use crate::sweep::{self, Marks, RUN_ENV};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Lines of standard error kept.
const STDERR_LINES: usize = 20;
/// Bytes kept of one standard-error line.
const STDERR_LINE_BYTES: usize = 500;
/// Bytes of standard error still read once the run has ended.
const LAST_BYTES: usize = 1 << 20;
/// Bytes read from standard output at a time.
const CHUNK: usize = 1 << 16;
/// How often a wait looks whether the child is still there.
const SLICE: Duration = Duration::from_millis(50);

/// Bounds on a child's behaviour, per run (one run is one vector, with a
/// fresh process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest wait for one response (writing the request included).
    pub timeout: Duration,
    /// Longest response line, in bytes.
    pub max_line: usize,
    /// Most bytes of standard output in one run.
    pub max_output: usize,
    /// Most envelopes in one `encrypt` answer.
    pub max_envelopes: usize,
    /// Most requests in one run.
    pub max_requests: usize,
    /// Most list items (envelopes, addressees, events, one-time keys,
    /// recovered records) in all answers of one run.
    pub max_items: usize,
}

impl Limits {
    /// The defaults: 10 s per answer, 8 MiB per line, 10,000 envelopes per
    /// answer; per run, 32 MiB of output, 250,000 requests and 100,000
    /// list items. The largest of the project's vectors, served by any
    /// built-in design, needs 230 KB per line, 7 envelopes per answer,
    /// 2.4 MB of output, 28,000 requests and 4,020 items; with these bounds
    /// doormat stays far under 300 MB of memory however an implementation
    /// behaves (PROTOCOL.md has the measurements).
    pub const DEFAULT: Limits = Limits {
        timeout: Duration::from_secs(10),
        max_line: 8 << 20,
        max_output: 32 << 20,
        max_envelopes: 10_000,
        max_requests: 250_000,
        max_items: 100_000,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// A command line to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The program.
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Working directory (default: the current one).
    pub cwd: Option<PathBuf>,
}

impl Command {
    /// Parses `CMD ARG...` (shell-like words, see the protocol document).
    pub fn parse(cmdline: &str, cwd: Option<PathBuf>) -> Result<Command, String> {
        let mut words = doormat_formats::wire::split_command(cmdline)?.into_iter();
        let program = words.next().ok_or("the command is empty")?;
        Ok(Command { program, args: words.collect(), cwd })
    }

    /// The command line as written, for messages.
    pub fn display(&self) -> String {
        std::iter::once(self.program.as_str()).chain(self.args.iter().map(String::as_str)).collect::<Vec<_>>().join(" ")
    }
}

/// A running child.
pub(crate) struct Process {
    child: Child,
    /// Whether the child was reaped: from then on its process group id may
    /// name another group, and is never signalled again.
    reaped: bool,
    /// Whether every process of the run was ended (done once).
    ended: bool,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    /// Bytes read past the last line.
    pending: Vec<u8>,
    /// Where reads land ([`CHUNK`] bytes).
    chunk: Vec<u8>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    /// Tells the standard-error thread to stop.
    stop: Arc<AtomicBool>,
    marks: Marks,
    /// The deadline of the request in flight.
    deadline: Option<Instant>,
    received: usize,
    sent: usize,
    limits: Limits,
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process").field("received", &self.received).field("sent", &self.sent).finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What a wait for a pipe ended with.
enum Wait {
    Ready,
    TimedOut,
    /// The child exited and the pipe has nothing more.
    Exited,
    Failed(String),
}

/// Waits until `fd` is ready for `flags` or `deadline` passes; every
/// [`SLICE`] it asks `gone` whether the child exited, and if so gives the
/// pipe one last look.
fn wait_for(fd: impl AsFd, flags: PollFlags, deadline: Instant, mut gone: impl FnMut() -> bool) -> Wait {
    let ready = |wait: Duration| -> Result<bool, String> {
        let ts = Timespec::try_from(wait).unwrap_or(Timespec { tv_sec: 0, tv_nsec: 0 });
        let mut fds = [PollFd::new(&fd, flags)];
        match poll(&mut fds, Some(&ts)) {
            Ok(n) => Ok(n > 0),
            Err(rustix::io::Errno::INTR) => Ok(false),
            Err(e) => Err(format!("waiting for the implementation failed: {e}")),
        }
    };
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Wait::TimedOut;
        }
        match ready((deadline - now).min(SLICE)) {
            Ok(true) => return Wait::Ready,
            Ok(false) => {}
            Err(e) => return Wait::Failed(e),
        }
        if gone() {
            return match ready(Duration::ZERO) {
                Ok(true) => Wait::Ready,
                Ok(false) => Wait::Exited,
                Err(e) => Wait::Failed(e),
            };
        }
    }
}

/// Whether `child` exited, without reaping it (so that its process group
/// id stays its own until the group is killed).
#[cfg(any(target_os = "linux", target_os = "android", target_os = "macos", target_os = "freebsd"))]
fn has_exited(child: &mut Child) -> bool {
    use rustix::process::{waitid, Pid, WaitId, WaitIdOptions};
    let Some(pid) = i32::try_from(child.id()).ok().and_then(Pid::from_raw) else { return true };
    let opts = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
    match waitid(WaitId::Pid(pid), opts) {
        Ok(Some(_)) => true,
        Ok(None) => false,
        // Not our child any more: it was reaped.
        Err(_) => true,
    }
}

/// Whether `child` exited (where waiting without reaping is not available,
/// this reaps it).
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "macos", target_os = "freebsd")))]
fn has_exited(child: &mut Child) -> bool {
    !matches!(child.try_wait(), Ok(None))
}

impl Process {
    /// Starts `cmd` with piped standard streams, in a process group of its
    /// own, marked with a fresh token.
    pub fn spawn(cmd: &Command, limits: Limits) -> Result<Process, String> {
        let token = sweep::token();
        let mut c = std::process::Command::new(&cmd.program);
        c.args(&cmd.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env(RUN_ENV, &token)
            .process_group(0);
        if let Some(dir) = &cmd.cwd {
            c.current_dir(dir);
        }
        let mut child = c.spawn().map_err(|e| format!("cannot start `{}`: {e}", cmd.display()))?;
        let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            end_all(&mut child, &mut false, &Marks::default());
            return Err("the child's standard streams are not available".to_owned());
        };
        let marks = Marks {
            env: format!("{RUN_ENV}={token}").into_bytes(),
            pipes: [sweep::pipe_name(&stdin), sweep::pipe_name(&stdout), sweep::pipe_name(&stderr)]
                .into_iter()
                .flatten()
                .collect(),
        };
        // Our ends only: the child's ends are other open file descriptions.
        if let Err(e) = rustix::io::ioctl_fionbio(&stdin, true).and_then(|()| rustix::io::ioctl_fionbio(&stdout, true))
        {
            end_all(&mut child, &mut false, &marks);
            return Err(format!("cannot make the pipes of `{}` non-blocking: {e}", cmd.display()));
        }
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (t, s) = (Arc::clone(&tail), Arc::clone(&stop));
        thread::spawn(move || drain_stderr(stderr, &t, &s));
        Ok(Process {
            child,
            reaped: false,
            ended: false,
            stdin: Some(stdin),
            stdout,
            pending: Vec::new(),
            chunk: vec![0; CHUNK],
            stderr: tail,
            stop,
            marks,
            deadline: None,
            received: 0,
            sent: 0,
            limits,
        })
    }

    /// Sends one line (a newline is added) and starts the request's
    /// deadline; the request limit is counted here.
    pub fn send(&mut self, mut line: Vec<u8>) -> Result<(), String> {
        self.sent += 1;
        if self.sent > self.limits.max_requests {
            return Err(format!(
                "the run needs more than {} requests of the implementation (the request limit)",
                self.limits.max_requests
            ));
        }
        let deadline = Instant::now() + self.limits.timeout;
        self.deadline = Some(deadline);
        line.push(b'\n');
        let mut off = 0;
        while off < line.len() {
            let Some(stdin) = self.stdin.as_mut() else { return Err("standard input is closed".to_owned()) };
            match stdin.write(&line[off..]) {
                Ok(0) => return Err(self.exited()),
                Ok(n) => off += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    let child = &mut self.child;
                    match wait_for(&*stdin, PollFlags::OUT, deadline, || has_exited(child)) {
                        Wait::Ready => {}
                        Wait::TimedOut => return Err(self.timed_out()),
                        Wait::Exited => return Err(self.exited()),
                        Wait::Failed(e) => return Err(e),
                    }
                }
                Err(_) => return Err(self.exited()),
            }
        }
        Ok(())
    }

    /// Waits for the next line, within the request's deadline and the size
    /// limits.
    pub fn recv(&mut self) -> Result<Vec<u8>, String> {
        let deadline = self.deadline.take().unwrap_or_else(|| Instant::now() + self.limits.timeout);
        let mut line = Vec::new();
        loop {
            if let Some(i) = self.pending.iter().position(|&b| b == b'\n') {
                line.extend_from_slice(&self.pending[..i]);
                self.pending.drain(..=i);
                if line.len() > self.limits.max_line {
                    return Err(self.line_too_long());
                }
                return Ok(line);
            }
            line.append(&mut self.pending);
            if line.len() > self.limits.max_line {
                return Err(self.line_too_long());
            }
            let n = match self.stdout.read(&mut self.chunk) {
                Ok(0) => return Err(self.exited()),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    let child = &mut self.child;
                    match wait_for(&self.stdout, PollFlags::IN, deadline, || has_exited(child)) {
                        Wait::Ready => continue,
                        Wait::TimedOut => return Err(self.timed_out()),
                        Wait::Exited => return Err(self.exited()),
                        Wait::Failed(e) => return Err(e),
                    }
                }
                Err(e) => return Err(format!("reading the implementation's output failed: {e}")),
            };
            self.received += n;
            if self.received > self.limits.max_output {
                return Err(format!(
                    "the implementation wrote more than {} bytes in one run (the output limit)",
                    self.limits.max_output
                ));
            }
            self.pending.extend_from_slice(&self.chunk[..n]);
        }
    }

    fn line_too_long(&self) -> String {
        format!("the implementation wrote a line longer than {} bytes (the line limit)", self.limits.max_line)
    }

    fn timed_out(&self) -> String {
        format!("the implementation did not answer within {} s (the timeout)", self.limits.timeout.as_secs_f64())
    }

    /// Why the child stopped answering: its exit status once it exited
    /// (its whole group is ended first), or that it closed its output.
    fn exited(&mut self) -> String {
        // Give a dying process a moment, for its exit status.
        for _ in 0..20 {
            if has_exited(&mut self.child) {
                self.end();
                return match self.child.wait() {
                    Ok(status) => format!("the implementation exited ({status}) instead of answering"),
                    Err(_) => "the implementation exited instead of answering".to_owned(),
                };
            }
            thread::sleep(Duration::from_millis(10));
        }
        "the implementation closed its standard output instead of answering".to_owned()
    }

    /// The last lines the child wrote to standard error.
    pub fn stderr_tail(&self) -> Vec<String> {
        // Let the drain thread catch up with what was just written.
        thread::sleep(Duration::from_millis(20));
        lock(&self.stderr).iter().cloned().collect()
    }

    /// Closes standard input, waits briefly for the child to exit, then
    /// ends every process of the run and reaps the child.
    pub fn finish(&mut self) {
        self.stdin = None;
        for _ in 0..50 {
            if self.reaped || has_exited(&mut self.child) {
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        self.kill();
    }

    /// Ends every process of the run (the process group, then any process
    /// carrying the run's token or holding its pipes) and reaps the child.
    pub fn kill(&mut self) {
        self.stdin = None;
        self.end();
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Ends every process of the run and reaps the child, once; standard
    /// error is still read (what the run wrote last is in the tail).
    fn end(&mut self) {
        if !self.ended {
            end_all(&mut self.child, &mut self.reaped, &self.marks);
            self.ended = true;
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Kills `child`'s process group (while the child is not reaped: its id is
/// the group's), then every escaped process of the run, then reaps the
/// child.
fn end_all(child: &mut Child, reaped: &mut bool, marks: &Marks) {
    if !*reaped {
        if let Some(pgid) = i32::try_from(child.id()).ok().and_then(rustix::process::Pid::from_raw) {
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        }
        let _ = child.kill();
    }
    sweep::sweep(marks);
    if !*reaped {
        let _ = child.wait();
        *reaped = true;
    }
}

/// Reads standard error into `tail` until end of file or `stop`.
fn drain_stderr(mut stderr: ChildStderr, tail: &Mutex<VecDeque<String>>, stop: &AtomicBool) {
    let mut buf = [0u8; 8192];
    let mut line: Vec<u8> = Vec::new();
    let push = |line: &mut Vec<u8>| {
        let mut t = lock(tail);
        if t.len() == STDERR_LINES {
            t.pop_front();
        }
        t.push_back(String::from_utf8_lossy(line).into_owned());
        line.clear();
    };
    // Non-blocking, so that an escaped process holding the pipe cannot keep
    // this thread past `stop`.
    let polled = rustix::io::ioctl_fionbio(&stderr, true).is_ok();
    // After `stop`, what is already there is still read, up to a bound.
    let mut last = 0usize;
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        if stopping && last > LAST_BYTES {
            break;
        }
        let n = match stderr.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock && polled => {
                if stopping {
                    break;
                }
                let ts = Timespec { tv_sec: 0, tv_nsec: 100_000_000 };
                let _ = poll(&mut [PollFd::new(&stderr, PollFlags::IN)], Some(&ts));
                continue;
            }
            Err(_) => break,
        };
        if stopping {
            last += n;
        }
        for &b in &buf[..n] {
            if b == b'\n' {
                push(&mut line);
            } else if line.len() < STDERR_LINE_BYTES {
                line.push(b);
            }
        }
    }
    if !line.is_empty() {
        push(&mut line);
    }
}
