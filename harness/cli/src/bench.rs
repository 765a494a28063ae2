//! `doormat bench`: requests per second through the exec adapter and for
//! the same design in-process, as medians of several runs and their ratio.
//! The workload is a one-to-one conversation: each message is one encrypt
//! request and one decrypt request.

use crate::{exec_command, Failure, EXIT_OK};
use anyhow::Context;
use doormat_engine::{Design, DirectoryEntry, EncryptRequest, ImplError, InEnvelope};
use doormat_exec::{Command, ExecDesign, Limits};
use doormat_formats::{DeviceAddr, UserId};
use std::time::Instant;

/// Requests per second of one run of `requests` requests.
fn one_run(design: &dyn Design, requests: usize) -> Result<f64, ImplError> {
    design.begin_run()?;
    let (a, b) = (DeviceAddr::new("alice", "phone"), DeviceAddr::new("bob", "phone"));
    let mut alice = design.create_device(&a, [1; 32])?;
    let mut bob = design.create_device(&b, [2; 32])?;
    let bb = bob.publish()?;
    alice.publish()?;
    let to_bob = [DirectoryEntry::first_contact(b.clone(), &bb)];
    let members = [UserId::from("alice"), UserId::from("bob")];
    let text = b"a message of ordinary length for a chat: see you at eight, bring the keys".to_vec();
    let start = Instant::now();
    let mut done = 0;
    while done < requests {
        let req = EncryptRequest {
            conversation: "alice+bob",
            group: false,
            members: &members,
            recipients: &to_bob,
            plaintext: &text,
        };
        let sent = alice.encrypt(&req)?;
        done += 1;
        for e in sent.envelopes {
            bob.decrypt(&InEnvelope { from: &a, conversation: "alice+bob", body: &e.body })?;
            done += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    drop((alice, bob));
    design.end_run();
    if let Some(b) = design.broken() {
        return Err(ImplError::Failed(b));
    }
    Ok(done as f64 / secs.max(1e-9))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Measures and prints.
pub fn run(name: &str, implementation: Option<&str>, requests: usize, runs: usize) -> Result<u8, Failure> {
    if requests == 0 || runs == 0 {
        return Err(Failure::Usage("--requests and --runs must be at least 1".to_owned()));
    }
    let Some(inproc) = doormat_designs::builtin(name) else {
        return Err(Failure::Usage(format!(
            "unknown design `{name}`: expected one of {}",
            doormat_designs::names().join(", ")
        )));
    };
    let command = match implementation {
        Some(i) => Command::parse(&exec_command(i)?, None).map_err(Failure::Usage)?,
        None => {
            let exe = std::env::current_exe().context("finding this program")?;
            Command { program: exe.display().to_string(), args: vec!["serve".to_owned(), name.to_owned()], cwd: None }
        }
    };
    // A measurement, not an audit: no budget on requests or output per run.
    let limits = Limits { max_requests: usize::MAX, max_output: usize::MAX, ..Limits::default() };
    let exec = ExecDesign::new(name, command.clone(), limits);
    let fail = |what: &str, e: ImplError| Failure::Usage(format!("{what}: {e}"));
    // One warm-up run each, then alternate so drift hits both alike.
    one_run(inproc.as_ref(), requests.min(2000)).map_err(|e| fail("in-process", e))?;
    one_run(&exec, requests.min(2000)).map_err(|e| fail(&command.display(), e))?;
    let (mut a, mut b, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let x = one_run(&exec, requests).map_err(|e| fail(&command.display(), e))?;
        let y = one_run(inproc.as_ref(), requests).map_err(|e| fail("in-process", e))?;
        a.push(x);
        b.push(y);
        ratios.push(y / x);
    }
    // Say what each side really is: with --impl, the external program is
    // not the built-in design it is compared with.
    let (exec_side, note) = match implementation {
        Some(_) => (
            format!("external implementation `{}`", command.display()),
            format!(" (a different implementation from the built-in `{name}`: the ratio compares two designs)"),
        ),
        None => (format!("built-in `{name}` served over the exec protocol"), String::new()),
    };
    out!("doormat bench: {requests} requests per run (encrypt + decrypt), {runs} runs, median");
    out!("  {exec_side}: {:>10.0} requests/s", median(a));
    out!("  built-in `{name}` in-process: {:>10.0} requests/s", median(b));
    out!("  in-process / exec: {:>10.2}x (median of per-run ratios){note}", median(ratios));
    Ok(EXIT_OK)
}
