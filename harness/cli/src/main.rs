//! `doormat`: the command-line interface. The only code with clap and
//! anyhow, and the only code that writes files or to the terminal: it reads
//! the command line, has `doormat_audit` load, run and judge, and prints the
//! outcome and writes (or checks) the reports. It also serves built-in
//! designs over the exec protocol (`serve`), checks external adapters
//! (`adapter-check`) and measures the adapter's speed (`bench`).
//!
//! **Invariant:** a report set is written whole or not at all: every file is
//! rendered in memory first, then the report directory is replaced whole
//! (`replace.rs`).
#![allow(clippy::print_stdout)]

/// `println!` that ends the program quietly when standard output is a
/// closed pipe (`doormat list | head`) instead of panicking, and shows
/// control characters (from an implementation's messages) as `\x1b`.
macro_rules! out {
    ($($t:tt)*) => {
        $crate::write_out(&(doormat_report::inert::terminal(&format!($($t)*)) + "\n"))
    };
}

/// `eprintln!` that never panics: when standard error is closed (`doormat
/// validate bad 2>&1 | true`), the message is dropped and the program goes
/// on to exit with its own code. Control characters show as `\x1b`.
macro_rules! err {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let line = doormat_report::inert::terminal(&format!($($t)*));
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }};
}

/// `print!` with the same care as [`out!`].
macro_rules! out_raw {
    ($($t:tt)*) => {
        $crate::write_out(&doormat_report::inert::terminal(&format!($($t)*)))
    };
}

/// Writes `text` to standard output, and ends the program quietly when that
/// is a closed pipe: what [`out!`] and [`out_raw!`] write with.
fn write_out(text: &str) {
    use std::io::Write as _;
    if let Err(e) = std::io::stdout().lock().write_all(text.as_bytes()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

mod adapter_check;
mod bench;
mod kat;
mod output;
mod progress;
mod replace;
mod serve;
mod timings;

use anyhow::Context;
use clap::{Parser, Subcommand};
use doormat_audit::{load, Audit, ExecOptions, Selection};
use doormat_formats::{LoadErrors, Spec};
use doormat_report::GateKind;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit code: every claim held, every expectation met, no drift.
const EXIT_OK: u8 = 0;
/// Exit code: a claim contradicted, an expectation failed, or drift.
const EXIT_FINDINGS: u8 = 1;
/// Exit code: bad input or usage.
const EXIT_INPUT: u8 = 2;
/// Exit code: the reports could not be written or read (I/O).
const EXIT_IO: u8 = 3;
/// Exit code: an implementation broke (crashed, hung, broke the protocol)
/// in at least one vector; the reports show ERROR verdicts.
const EXIT_BROKEN: u8 = 4;

#[derive(Debug, Parser)]
#[command(
    name = "doormat",
    version,
    about = "Audits end-to-end-encrypted messaging designs against scenario vectors and writes evidence-based reports"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Audit designs against vectors and write reports (or check them with --check)
    Audit(AuditArgs),
    /// Run known-answer files (vectors/kat/*.yaml, Wycheproof JSON) against built-in designs' primitives
    Kat(kat::KatArgs),
    /// Merge the shards of a partitioned audit (`audit --partition K/N`) into the reports of one run
    Merge(MergeArgs),
    /// Check spec and vector files, including cross-references, without running anything
    Validate {
        /// Files or directories (files under a `specs` directory are specs, all others vectors)
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Run an external implementation through a short conformance sequence of the exec protocol
    AdapterCheck {
        /// The implementation: `exec:CMD ARG...`
        implementation: String,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Serve a built-in design over the exec protocol on standard input and output
    Serve {
        /// The built-in design
        design: String,
    },
    /// Measure requests per second through the exec adapter and in-process, for one design
    Bench {
        /// The built-in design (served over the protocol by this binary unless --impl is given)
        #[arg(long, default_value = "ratchet")]
        design: String,
        /// Measure this external implementation instead: `exec:CMD ARG...`
        #[arg(long = "impl")]
        implementation: Option<String>,
        /// Requests per measured run
        #[arg(long, default_value_t = 20_000)]
        requests: usize,
        /// Measured runs (the median is reported)
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// List the built-in designs and the vectors
    List {
        /// Directory of specs
        #[arg(long, default_value = "specs")]
        specs: PathBuf,
        /// Directory of vectors
        #[arg(long, default_value = "vectors")]
        vectors: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct AuditArgs {
    /// Audit only this design (repeatable); default: every spec in --specs
    #[arg(long = "design", value_name = "NAME")]
    designs: Vec<String>,
    /// Directory (searched recursively) or file of vectors
    #[arg(long, default_value = "vectors")]
    vectors: PathBuf,
    /// Directory of specs
    #[arg(long, default_value = "specs")]
    specs: PathBuf,
    /// Audit the design of this spec file instead of those in --specs (repeatable)
    #[arg(long = "spec", value_name = "PATH")]
    spec_files: Vec<PathBuf>,
    /// Run this external implementation for the one --spec given: `exec:CMD ARG...`
    #[arg(long = "impl", value_name = "exec:CMD")]
    implementation: Option<String>,
    /// Run the external programs that specs name (`implementation: {exec: ...}`); without it they are skipped (found in --specs) or refused (given with --spec)
    #[arg(long)]
    allow_exec: bool,
    #[command(flatten)]
    limits: LimitArgs,
    /// Directory the reports go to
    #[arg(long, default_value = "reports")]
    out: PathBuf,
    /// Compare freshly computed reports with the files in --out; print a diff for any drift and write nothing
    #[arg(long)]
    check: bool,
    /// Report formats to write: md (per-design Markdown and SCORECARD.md), json, junit (junit.xml), sarif (doormat.sarif), html (per-design pages and index.html, self-contained, to open in a browser)
    #[arg(long = "format", value_delimiter = ',', default_value = "md,json")]
    formats: Vec<output::Format>,
    /// Run only part K of N of the vectors (sorted by id) and write a shard to --out, for `doormat merge`
    #[arg(long, value_name = "K/N")]
    partition: Option<String>,
    /// Directory of expected-deviations files (`<design>.yaml`) for the gate
    #[arg(long, value_name = "DIR")]
    expected: Option<PathBuf>,
    /// How many (design, vector) pairs run at once (an external implementation gets one process per worker); default: the number of cores. The reports do not depend on it
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
    /// Print where the CPU time went: per phase (doormat's own and the design's calls), per design, and the largest (design, vector) pairs
    #[arg(long)]
    timings: bool,
    /// With --timings, also write every pair's times to this file as JSON
    #[arg(long, value_name = "PATH", requires = "timings")]
    timings_file: Option<PathBuf>,
}

/// The budget of an external implementation, per vector (each vector runs
/// a fresh process); crossing it is an ERROR verdict.
#[derive(Debug, clap::Args)]
struct LimitArgs {
    /// Seconds to wait for each answer of an external implementation
    #[arg(long, default_value_t = doormat_exec::Limits::DEFAULT.timeout.as_secs_f64())]
    timeout: f64,
    /// Longest line an external implementation may write, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = doormat_exec::Limits::DEFAULT.max_line)]
    max_line: usize,
    /// Most bytes an external implementation may write in one vector
    #[arg(long, value_name = "BYTES", default_value_t = doormat_exec::Limits::DEFAULT.max_output)]
    max_output: usize,
    /// Most envelopes in one encrypt answer of an external implementation
    #[arg(long, value_name = "N", default_value_t = doormat_exec::Limits::DEFAULT.max_envelopes)]
    max_envelopes: usize,
    /// Most requests to an external implementation in one vector
    #[arg(long, value_name = "N", default_value_t = doormat_exec::Limits::DEFAULT.max_requests)]
    max_requests: usize,
    /// Most envelopes, addressees, events, keys and records in all answers of one vector
    #[arg(long, value_name = "N", default_value_t = doormat_exec::Limits::DEFAULT.max_items)]
    max_items: usize,
}

impl LimitArgs {
    /// The limits, each checked.
    fn limits(&self) -> Result<doormat_exec::Limits, Failure> {
        for (flag, n) in [
            ("--max-line", self.max_line),
            ("--max-output", self.max_output),
            ("--max-envelopes", self.max_envelopes),
            ("--max-requests", self.max_requests),
            ("--max-items", self.max_items),
        ] {
            if n == 0 {
                return Err(Failure::Usage(format!("{flag} 0: expected at least 1")));
            }
        }
        Ok(doormat_exec::Limits {
            max_line: self.max_line,
            max_output: self.max_output,
            max_envelopes: self.max_envelopes,
            max_requests: self.max_requests,
            max_items: self.max_items,
            ..limits(self.timeout)?
        })
    }
}

#[derive(Debug, clap::Args)]
struct MergeArgs {
    /// Shard files written by `audit --partition K/N`
    #[arg(required = true)]
    shards: Vec<PathBuf>,
    /// Directory of specs (read, never run)
    #[arg(long, default_value = "specs")]
    specs: PathBuf,
    /// Spec files instead of --specs (repeatable)
    #[arg(long = "spec", value_name = "PATH")]
    spec_files: Vec<PathBuf>,
    /// Directory the reports go to
    #[arg(long, default_value = "reports")]
    out: PathBuf,
    /// Compare with the files in --out instead of writing
    #[arg(long)]
    check: bool,
    /// The vector folder the audit used (its `kat/` holds the known-answer files)
    #[arg(long, default_value = "vectors")]
    vectors: PathBuf,
    /// Report formats to write (as for audit)
    #[arg(long = "format", value_delimiter = ',', default_value = "md,json")]
    formats: Vec<output::Format>,
    /// Directory of expected-deviations files (`<design>.yaml`) for the gate
    #[arg(long, value_name = "DIR")]
    expected: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_INPUT } else { EXIT_OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Audit(args) => audit(&args),
        Command::Merge(args) => merge(&args),
        Command::Kat(args) => kat::run(&args),
        Command::Validate { paths } => validate(&paths),
        Command::List { specs, vectors } => list(&specs, &vectors),
        Command::AdapterCheck { implementation, limits } => {
            limits.limits().and_then(|l| adapter_check::run(&implementation, l))
        }
        Command::Serve { design } => serve::run(&design),
        Command::Bench { design, implementation, requests, runs } => {
            bench::run(&design, implementation.as_deref(), requests, runs)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Failure::Input(errors)) => {
            err!("{errors}");
            let n = errors.0.len();
            err!("doormat: {n} input error{}; nothing was run or written", if n == 1 { "" } else { "s" });
            ExitCode::from(EXIT_INPUT)
        }
        Err(Failure::Usage(msg)) => {
            err!("error: {msg}");
            ExitCode::from(EXIT_INPUT)
        }
        Err(Failure::Io(e)) => {
            err!("error: {e:#}");
            ExitCode::from(EXIT_IO)
        }
    }
}

/// Why a command could not finish.
#[derive(Debug)]
enum Failure {
    /// Bad spec or vector files.
    Input(LoadErrors),
    /// Bad command-line use.
    Usage(String),
    /// The file system failed us.
    Io(anyhow::Error),
}

impl From<LoadErrors> for Failure {
    fn from(e: LoadErrors) -> Self {
        Failure::Input(e)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Io(e)
    }
}

impl From<doormat_audit::Error> for Failure {
    fn from(e: doormat_audit::Error) -> Self {
        match e {
            doormat_audit::Error::Input(e) => Failure::Input(e),
            doormat_audit::Error::Usage(msg) => Failure::Usage(msg),
            e => Failure::Io(e.into()),
        }
    }
}

/// Limits for external implementations, from `--timeout`.
fn limits(timeout: f64) -> Result<doormat_exec::Limits, Failure> {
    if !(timeout.is_finite() && timeout > 0.0 && timeout <= 86_400.0) {
        return Err(Failure::Usage(format!(
            "--timeout {timeout}: expected a number of seconds greater than 0 and at most 86400"
        )));
    }
    Ok(doormat_exec::Limits { timeout: std::time::Duration::from_secs_f64(timeout), ..doormat_exec::Limits::default() })
}

/// `exec:CMD ARG...` → `CMD ARG...`.
fn exec_command(implementation: &str) -> Result<String, Failure> {
    match implementation.strip_prefix("exec:") {
        Some(cmd) if !cmd.trim().is_empty() => Ok(cmd.to_owned()),
        _ => Err(Failure::Usage(format!("`{implementation}`: expected `exec:CMD ARG...`"))),
    }
}

/// How external implementations run: `--impl` (for exactly one `--spec`)
/// and `--allow-exec`.
fn exec_options(
    limits: doormat_exec::Limits,
    implementation: Option<&str>,
    spec_files: &[PathBuf],
    allow: bool,
) -> Result<ExecOptions, Failure> {
    let replace = match implementation {
        None => None,
        Some(i) if spec_files.len() == 1 => Some(exec_command(i)?),
        Some(_) => {
            return Err(Failure::Usage("--impl needs exactly one --spec (the spec of that implementation)".to_owned()))
        }
    };
    Ok(ExecOptions { limits, replace, allow })
}

/// Prints a notice of the audit library (a spec skipped).
fn notice(msg: String) {
    err!("doormat: {msg}");
}

fn audit(args: &AuditArgs) -> Result<u8, Failure> {
    let clock = timings::Collector::default();
    if args.timings {
        doormat_engine::timings::enable();
    }
    let started = doormat_engine::timings::thread_cpu();
    let code = audit_timed(args, &clock, started)?;
    if args.timings {
        err!("{}", clock.table().trim_end());
        if let Some(path) = &args.timings_file {
            clock.write(path).with_context(|| format!("writing {}", path.display())).map_err(Failure::Io)?;
        }
    }
    Ok(code)
}

fn audit_timed(args: &AuditArgs, clock: &timings::Collector, started: std::time::Duration) -> Result<u8, Failure> {
    use doormat_engine::timings::{thread_cpu, Phase};
    let exec = exec_options(args.limits.limits()?, args.implementation.as_deref(), &args.spec_files, args.allow_exec)?;
    let partition =
        args.partition.as_deref().map(doormat_report::shard::parse_partition).transpose().map_err(Failure::Usage)?;
    let deviations = match &args.expected {
        Some(dir) => load::deviations(dir)?,
        None => Default::default(),
    };
    let designs = if args.spec_files.is_empty() {
        load::specs(&args.specs, &exec, &mut notice)?
    } else {
        load::specs_in(&args.spec_files, &exec, &args.specs, &mut notice)?
    };
    let scenarios = load::vectors(std::slice::from_ref(&args.vectors))?;
    if scenarios.is_empty() {
        return Err(Failure::Usage(format!("no vector files (*.yaml) under {}", args.vectors.display())));
    }
    let mut selection = Selection { designs, scenarios };
    if let Some((k, n)) = partition {
        selection.keep_part(k, n);
    }
    selection.keep_designs(&args.designs)?;
    let progress = progress::Progress::new((selection.designs.len() * selection.scenarios.len()) as u64);
    let jobs = args.jobs.map_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()), usize::from);
    clock.outside(Phase::Load, thread_cpu().saturating_sub(started));
    let results = selection.run(jobs, &|design, vector, times| {
        clock.pair(design, vector, times);
        progress.tick(design, vector);
    });
    progress.finish();
    let results = results?;
    if let Some((k, n)) = partition {
        let shard = selection.shard(k, n, results);
        let broke = shard.designs.iter().any(|d| d.vectors.iter().any(|v| v.result.error.is_some()));
        let name = format!("shard-{k}-of-{n}.json");
        let body = serde_json::to_string(&shard).context("encoding the shard").map_err(Failure::Io)?;
        output::write_all(&args.out, &[(name.clone(), body)])?;
        out!(
            "doormat: wrote {} ({} vectors of {} designs); merge all shards with `doormat merge`",
            args.out.join(&name).display(),
            selection.scenarios.len(),
            selection.designs.len()
        );
        return Ok(if broke { EXIT_BROKEN } else { EXIT_OK });
    }
    let kat_started = thread_cpu();
    let kat_files = doormat_audit::kat::load_dir(&args.vectors)?;
    let (audits, kat_broke) = selection.audits(results, &kat_files);
    let audit = Audit::new(audits, &deviations, selection.scenarios.len());
    let render_started = thread_cpu();
    clock.outside(Phase::Kat, render_started.saturating_sub(kat_started));
    let code = finish(&audit, &args.formats, &args.out, args.check)?;
    clock.outside(Phase::Render, thread_cpu().saturating_sub(render_started));
    for why in &kat_broke {
        err!("doormat: {why}");
    }
    if !kat_broke.is_empty() && !args.check {
        err!(
            "doormat: an implementation broke during its known-answer tests; the reports count the case where it broke and every later one as failed"
        );
        return Ok(EXIT_BROKEN);
    }
    Ok(code)
}

/// Renders and writes (or checks) the reports of `audit`, and tells how
/// each design fared.
fn finish(audit: &Audit, formats: &[output::Format], out: &Path, check: bool) -> Result<u8, Failure> {
    for id in &audit.unused_deviations {
        err!("doormat: note: the deviations for `{id}` apply to no audited design");
    }
    let (audits, gate, vectors) = (&audit.designs, &audit.gate, audit.vectors);
    let files = output::render(audits, gate, formats);
    let messages: usize = audits.first().map_or(0, |a| a.vectors.iter().map(|v| v.stats.messages).sum());
    if check {
        let drift = output::check(out, &files)?;
        if drift == 0 {
            out!(
                "doormat: {} report files in {} match ({} designs, {vectors} vectors, {messages} messages)",
                files.len(),
                out.display(),
                audits.len()
            );
            return Ok(EXIT_OK);
        }
        out!(
            "doormat: {drift} report file(s) in {} drifted; run `doormat audit` to update them and review the diff",
            out.display()
        );
        return Ok(EXIT_FINDINGS);
    }
    output::write_all(out, &files)?;
    let mut broke = false;
    for a in audits {
        let items: Vec<_> = gate.items.iter().filter(|i| i.design == a.design).collect();
        let unexpected: Vec<&doormat_report::GateItem> =
            items.iter().copied().filter(|i| matches!(i.kind, GateKind::Unexpected)).collect();
        let expected = items.iter().filter(|i| matches!(i.kind, GateKind::Expected(_))).count();
        let stale: Vec<_> = items.iter().filter(|i| matches!(i.kind, GateKind::Stale(_))).collect();
        for i in items.iter().filter(|i| matches!(i.kind, GateKind::Broken(_))) {
            broke = true;
            err!("{}: vector {} stopped: {}", a.design, i.vector, i.what);
        }
        let o = &a.outcome;
        if unexpected.is_empty() && stale.is_empty() && expected > 0 && o.broken_vectors == 0 {
            out!("{:<16} nothing unexpected: {expected} expected deviation(s) ({} vectors)", a.design, a.vectors.len());
        } else if unexpected.is_empty() && stale.is_empty() && o.broken_vectors == 0 {
            let list =
                |ps: &[doormat_formats::Property]| ps.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
            let mut limits = String::new();
            if !o.within_limits.is_empty() {
                limits.push_str(&format!("; yes, within stated limits: {}", list(&o.within_limits)));
            }
            if !o.client_level.is_empty() {
                limits.push_str(&format!("; client-level only: {}", list(&o.client_level)));
            }
            out!(
                "{:<16} {} ({}{limits})",
                a.design,
                a.claims_status(),
                if a.vectors.len() == 1 { "1 vector".to_owned() } else { format!("{} vectors", a.vectors.len()) }
            );
        } else {
            let mut line = format!("{:<16} {}", a.design, a.status_line());
            if o.contradicted.is_empty() && o.broken_vectors == 0 {
                line = format!("{:<16} CLAIMS CONTRADICTED: none", a.design);
            }
            let expectations = unexpected.iter().filter(|i| i.what.starts_with("expectation not met")).count();
            if expectations > 0 {
                line.push_str(&format!("; {expectations} expectation(s) not met"));
            }
            if expected > 0 {
                line.push_str(&format!("; {expected} expected deviation(s)"));
            }
            out!("{line}");
            for s in stale {
                out!("{:<16} {}", "", s.what);
            }
        }
    }
    out!(
        "doormat: wrote {} files to {} ({} designs, {vectors} vectors, {messages} messages per design)",
        files.len(),
        out.display(),
        audits.len()
    );
    if broke {
        err!(
            "doormat: an implementation broke in at least one vector; the reports show ERROR verdicts with the reason"
        );
        return Ok(EXIT_BROKEN);
    }
    Ok(if gate.passes() { EXIT_OK } else { EXIT_FINDINGS })
}

/// `doormat merge`: shards of a partitioned audit into the reports of one run.
fn merge(args: &MergeArgs) -> Result<u8, Failure> {
    let audit = doormat_audit::merge(
        &args.shards,
        doormat_audit::MergeInputs {
            specs: &args.specs,
            spec_files: &args.spec_files,
            vectors: &args.vectors,
            expected: args.expected.as_deref(),
        },
    )?;
    finish(&audit, &args.formats, &args.out, args.check)
}

fn validate(paths: &[PathBuf]) -> Result<u8, Failure> {
    let valid = load::validate(paths)?;
    out!("ok: {} spec(s) and {} vector(s) are valid", valid.specs, valid.vectors);
    Ok(EXIT_OK)
}

fn list(specs: &Path, vectors: &Path) -> Result<u8, Failure> {
    out!("designs (built in):");
    let loaded: Vec<Spec> = load::readable_specs(specs);
    for name in doormat_designs::names() {
        let title = loaded.iter().find(|s| s.builtin() == Some(name)).map_or("(no spec)", |s| s.title.as_str());
        out!("  {name:<18} {title}");
    }
    if vectors.exists() {
        out!("vectors ({}):", vectors.display());
        for sc in load::vectors(&[vectors.to_path_buf()])? {
            out!("  {:<28} {} [{}]", sc.id, sc.title, sc.tags.join(", "));
        }
    }
    Ok(EXIT_OK)
}
