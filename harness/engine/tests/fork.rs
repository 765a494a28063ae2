//! A device that cannot be forked stops the run with an error naming the
//! device and the step: the probes that would have run on the fork are not
//! taken for refusals.
#![allow(clippy::unwrap_used)]

use doormat_engine::{
    run, Bundle, Capabilities, Design, Device, EncryptRequest, ImplError, InEnvelope, OutEnvelope, Received, Seed, Sent,
};
use doormat_formats::{DeviceAddr, Vector};

/// A design whose envelopes carry the plaintext in the clear; its devices
/// fork only when `forks` is true.
#[derive(Debug)]
struct Clear {
    forks: bool,
}

#[derive(Debug)]
struct ClearDevice {
    forks: bool,
}

impl Design for Clear {
    fn name(&self) -> &str {
        "clear"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::with_export(false)
    }

    fn create_device(&self, _addr: &DeviceAddr, _seed: Seed) -> Result<Box<dyn Device>, ImplError> {
        Ok(Box::new(ClearDevice { forks: self.forks }))
    }
}

impl Device for ClearDevice {
    fn publish(&mut self) -> Result<Bundle, ImplError> {
        Ok(Bundle { identity: vec![1; 32], prekey: vec![2; 32], one_time: Vec::new() })
    }

    fn encrypt(&mut self, req: &EncryptRequest<'_>) -> Result<Sent, ImplError> {
        let to = req.recipients.iter().map(|e| e.device.clone()).collect();
        Ok(Sent {
            envelopes: vec![OutEnvelope { to, body: req.plaintext.to_vec() }],
            events: Vec::new(),
            blocked: false,
        })
    }

    fn decrypt(&mut self, env: &InEnvelope<'_>) -> Result<Received, ImplError> {
        Ok(Received { plaintext: Some(env.body.to_vec()), sender: Some(env.from.clone()), events: Vec::new() })
    }

    fn fork(&self) -> Result<Box<dyn Device>, ImplError> {
        if self.forks {
            Ok(Box::new(ClearDevice { forks: true }))
        } else {
            Err(ImplError::Failed("this device cannot be copied".to_owned()))
        }
    }
}

/// Its first send, step 3, is alice's message m1 to bob.
const VECTOR: &str = include_str!("../../../vectors/basic/one-to-one.yaml");

#[test]
fn a_failed_fork_stops_the_run_naming_the_device_and_the_step() {
    let scenario = Vector::parse("one-to-one.yaml", "one-to-one", VECTOR).unwrap();
    let run = run(&Clear { forks: false }, &scenario);
    // alice/phone, the sender, tries its own envelope to bob on a fork.
    assert_eq!(
        run.aborted.as_deref(),
        Some("step 3: could not fork alice/phone to try envelope 0 (of message m1): failed: this device cannot be copied")
    );
}

#[test]
fn the_same_run_with_forks_finishes() {
    let scenario = Vector::parse("one-to-one.yaml", "one-to-one", VECTOR).unwrap();
    let run = run(&Clear { forks: true }, &scenario);
    assert_eq!(run.aborted, None);
    assert!(run.attempts > 0, "alice/phone tried bob's envelope on a fork");
}
