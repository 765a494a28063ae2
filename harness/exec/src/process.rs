//! One child process: spawning, line-framed I/O with limits and timeouts,
//! a bounded tail of standard error, and reaping.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Lines of standard error kept.
const STDERR_LINES: usize = 20;
/// Bytes kept of one standard-error line.
const STDERR_LINE_BYTES: usize = 500;

/// Bounds on a child's behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest wait for one response.
    pub timeout: Duration,
    /// Longest response line, in bytes.
    pub max_line: usize,
    /// Most bytes of standard output in one run.
    pub max_output: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { timeout: Duration::from_secs(10), max_line: 64 << 20, max_output: 1 << 30 }
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
    child: Arc<Mutex<Child>>,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    watchdog: Arc<Watchdog>,
    received: usize,
    limits: Limits,
}

/// Kills the child when a request's deadline passes, so that blocking
/// reads and writes on its pipes return.
#[derive(Default)]
struct Watchdog {
    deadline: Mutex<Option<Instant>>,
    fired: AtomicBool,
    stop: AtomicBool,
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process").field("received", &self.received).finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Process {
    /// Starts `cmd` with piped standard streams.
    pub fn spawn(cmd: &Command, limits: Limits) -> Result<Process, String> {
        let mut c = std::process::Command::new(&cmd.program);
        c.args(&cmd.args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        if let Some(dir) = &cmd.cwd {
            c.current_dir(dir);
        }
        let mut child = c.spawn().map_err(|e| format!("cannot start `{}`: {e}", cmd.display()))?;
        let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("the child's standard streams are not available".to_owned());
        };
        let child = Arc::new(Mutex::new(child));
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let t = Arc::clone(&tail);
        thread::spawn(move || drain_stderr(stderr, &t));
        let watchdog = Arc::new(Watchdog::default());
        let (w, c) = (Arc::clone(&watchdog), Arc::clone(&child));
        thread::spawn(move || watch(&w, &c));
        Ok(Process {
            child,
            stdin: Some(stdin),
            stdout: BufReader::with_capacity(1 << 16, stdout),
            stderr: tail,
            watchdog,
            received: 0,
            limits,
        })
    }

    /// Sends one line (a newline is added) and arms the timeout.
    pub fn send(&mut self, mut line: Vec<u8>) -> Result<(), String> {
        *lock(&self.watchdog.deadline) = Some(Instant::now() + self.limits.timeout);
        line.push(b'\n');
        let Some(stdin) = self.stdin.as_mut() else { return Err("standard input is closed".to_owned()) };
        match stdin.write_all(&line).and_then(|()| stdin.flush()) {
            Ok(()) => Ok(()),
            Err(_) if self.watchdog.fired.load(Ordering::SeqCst) => Err(self.timed_out()),
            Err(_) => Err(self.exited()),
        }
    }

    /// Waits for the next line, within the time and size limits.
    pub fn recv(&mut self) -> Result<Vec<u8>, String> {
        let r = self.read_line();
        *lock(&self.watchdog.deadline) = None;
        let line = match r {
            Ok(Some(line)) => line,
            Ok(None) if self.watchdog.fired.load(Ordering::SeqCst) => return Err(self.timed_out()),
            Ok(None) => return Err(self.exited()),
            Err(e) => return Err(e),
        };
        self.received += line.len() + 1;
        if self.received > self.limits.max_output {
            return Err(format!(
                "the implementation wrote more than {} bytes in one run (the output limit)",
                self.limits.max_output
            ));
        }
        Ok(line)
    }

    /// One line, `None` at end of file.
    fn read_line(&mut self) -> Result<Option<Vec<u8>>, String> {
        let mut line = Vec::new();
        loop {
            let buf = match self.stdout.fill_buf() {
                Ok([]) => return Ok(None),
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) if self.watchdog.fired.load(Ordering::SeqCst) => return Ok(None),
                Err(e) => return Err(format!("reading the implementation's output failed: {e}")),
            };
            let (used, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    line.extend_from_slice(&buf[..i]);
                    (i + 1, true)
                }
                None => {
                    line.extend_from_slice(buf);
                    (buf.len(), false)
                }
            };
            self.stdout.consume(used);
            if line.len() > self.limits.max_line {
                return Err(format!(
                    "the implementation wrote a line longer than {} bytes (the line limit)",
                    self.limits.max_line
                ));
            }
            if done {
                return Ok(Some(line));
            }
        }
    }

    fn timed_out(&self) -> String {
        format!("the implementation did not answer within {} s (the timeout)", self.limits.timeout.as_secs_f64())
    }

    fn exited(&mut self) -> String {
        // Give a dying process a moment to be reaped, for its exit status.
        for _ in 0..20 {
            if let Ok(Some(status)) = lock(&self.child).try_wait() {
                return format!("the implementation exited ({status}) instead of answering");
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
    /// kills it; always reaps it.
    pub fn finish(&mut self) {
        self.stdin = None;
        for _ in 0..50 {
            if let Ok(Some(_)) = lock(&self.child).try_wait() {
                self.watchdog.stop.store(true, Ordering::SeqCst);
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        self.kill();
    }

    /// Kills and reaps the child.
    pub fn kill(&mut self) {
        self.stdin = None;
        self.watchdog.stop.store(true, Ordering::SeqCst);
        let mut c = lock(&self.child);
        let _ = c.kill();
        let _ = c.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

fn watch(w: &Watchdog, child: &Mutex<Child>) {
    while !w.stop.load(Ordering::SeqCst) {
        let deadline = *lock(&w.deadline);
        let now = Instant::now();
        match deadline {
            Some(d) if now >= d => {
                w.fired.store(true, Ordering::SeqCst);
                let _ = lock(child).kill();
                return;
            }
            Some(d) => thread::sleep((d - now).min(Duration::from_millis(20))),
            None => thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn drain_stderr(mut stderr: impl Read, tail: &Mutex<VecDeque<String>>) {
    let mut buf = [0u8; 8192];
    let mut line: Vec<u8> = Vec::new();
    let push = |line: &mut Vec<u8>| {
        if let Ok(mut t) = tail.lock() {
            if t.len() == STDERR_LINES {
                t.pop_front();
            }
            t.push_back(String::from_utf8_lossy(line).into_owned());
        }
        line.clear();
    };
    loop {
        let n = match stderr.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
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
