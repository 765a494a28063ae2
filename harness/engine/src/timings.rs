//! Where an audit's CPU time goes (`doormat audit --timings`): per phase
//! of a run, the CPU time of doormat itself and of the design's calls.
//!
//! Time is the calling thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), so
//! workers running side by side do not count each other. Phases nest: time
//! spent in an inner phase is not also counted in the one around it, and a
//! design call ([`design_call`], made by the [`timed`] wrapper of every
//! device) counts as the design's time of the phase it was made in.
//!
//! Nothing is measured unless [`enable`] was called: the run takes no clock
//! reading and wraps no device, and [`measure`] gives zeros.

use crate::adapter::{
    Authority, Bundle, Device, DirectoryUpdate, EncryptRequest, Event, ImplError, InEnvelope, Received, Seed, Sent,
    TargetContent, UserAction,
};
use doormat_formats::DeviceAddr;
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A phase of an audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Reading specs and vectors, starting external implementations.
    Load,
    /// Creating and registering devices.
    Enrol,
    /// Encrypting and submitting messages.
    Send,
    /// Handing envelopes to the devices they are addressed to.
    Deliver,
    /// Every other device trying each envelope on a fork.
    Trials,
    /// The outsider and the twins trying the provider's view.
    Outsider,
    /// Seized copies: taking them, following traffic, forensic opens.
    Seizure,
    /// Every other step of a run (groups, ghosts, verification, ...).
    Steps,
    /// The leak scanner: building it and scanning the provider's view.
    Scan,
    /// The oracles, but for the scan.
    Judge,
    /// Known-answer tests of the designs' primitives.
    Kat,
    /// Writing the reports.
    Render,
}

impl Phase {
    /// Every phase, in the order a run meets them.
    pub const ALL: [Phase; 12] = [
        Phase::Load,
        Phase::Enrol,
        Phase::Send,
        Phase::Deliver,
        Phase::Trials,
        Phase::Outsider,
        Phase::Seizure,
        Phase::Steps,
        Phase::Scan,
        Phase::Judge,
        Phase::Kat,
        Phase::Render,
    ];

    /// Its name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Load => "load",
            Phase::Enrol => "enrol",
            Phase::Send => "send",
            Phase::Deliver => "deliver",
            Phase::Trials => "trial decrypts",
            Phase::Outsider => "outsider and twins",
            Phase::Seizure => "seizure",
            Phase::Steps => "other steps",
            Phase::Scan => "scan",
            Phase::Judge => "judge",
            Phase::Kat => "known-answer tests",
            Phase::Render => "render",
        }
    }
}

const PHASES: usize = Phase::ALL.len();

/// CPU time by phase: doormat's own, the design's, and how many calls the
/// design took it in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Times {
    own: [u64; PHASES],
    design: [u64; PHASES],
    calls: [u64; PHASES],
}

impl Times {
    /// doormat's own CPU time in `p`.
    pub fn own(&self, p: Phase) -> Duration {
        Duration::from_nanos(self.own[p as usize])
    }

    /// The design's CPU time in calls made during `p`.
    pub fn design(&self, p: Phase) -> Duration {
        Duration::from_nanos(self.design[p as usize])
    }

    /// How many design calls were made during `p`.
    pub fn calls(&self, p: Phase) -> u64 {
        self.calls[p as usize]
    }

    /// Both, over every phase.
    pub fn total(&self) -> Duration {
        Duration::from_nanos(self.own.iter().chain(&self.design).sum())
    }

    /// Adds `other` to these.
    pub fn add(&mut self, other: &Times) {
        for i in 0..PHASES {
            self.own[i] += other.own[i];
            self.design[i] += other.design[i];
            self.calls[i] += other.calls[i];
        }
    }

    /// These with `d` of doormat's own time in `p` added (for phases timed
    /// outside a run: loading, rendering).
    pub fn with_own(mut self, p: Phase, d: Duration) -> Times {
        self.own[p as usize] += u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self
    }
}

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns measuring on for the rest of the process.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Whether measuring is on.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// What the current thread is measuring: the phases entered (innermost
/// last), with the clock reading at which each was last resumed, whether
/// the innermost is a design call, and the sums so far.
#[derive(Default)]
struct Meter {
    stack: Vec<(Phase, bool, u64)>,
    times: Times,
}

thread_local! {
    static METER: RefCell<Option<Meter>> = const { RefCell::new(None) };
}

/// This thread's CPU time, in nanoseconds.
pub fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(u64::try_from(t.tv_sec).unwrap_or(0), u32::try_from(t.tv_nsec).unwrap_or(0))
}

fn now() -> u64 {
    u64::try_from(thread_cpu().as_nanos()).unwrap_or(u64::MAX)
}

/// Runs `f`, measuring on this thread the phases it enters (the time
/// outside any is counted as [`Phase::Steps`]); zeros when measuring is
/// off.
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, Times) {
    if !enabled() {
        return (f(), Times::default());
    }
    METER
        .with(|m| *m.borrow_mut() = Some(Meter { stack: vec![(Phase::Steps, false, now())], times: Times::default() }));
    let out = f();
    let times = METER.with(|m| {
        let mut meter = m.borrow_mut().take().unwrap_or_default();
        let t = now();
        if let Some((p, design, since)) = meter.stack.pop() {
            charge(&mut meter.times, p, design, t.saturating_sub(since));
        }
        meter.times
    });
    (out, times)
}

fn charge(times: &mut Times, p: Phase, design: bool, ns: u64) {
    if design {
        times.design[p as usize] += ns;
    } else {
        times.own[p as usize] += ns;
    }
}

/// Enters `p` (or a design call made in the current phase), runs `f`, and
/// leaves it.
fn within<T>(p: Option<Phase>, f: impl FnOnce() -> T) -> T {
    let entered = METER.with(|m| {
        let mut m = m.borrow_mut();
        let Some(meter) = m.as_mut() else { return false };
        let t = now();
        let Some(&mut (outer, outer_design, ref mut since)) = meter.stack.last_mut() else { return false };
        let elapsed = t.saturating_sub(*since);
        charge(&mut meter.times, outer, outer_design, elapsed);
        let phase = p.unwrap_or(outer);
        if p.is_none() {
            meter.times.calls[phase as usize] += 1;
        }
        meter.stack.push((phase, p.is_none() || outer_design, t));
        true
    });
    let out = f();
    if entered {
        METER.with(|m| {
            if let Some(meter) = m.borrow_mut().as_mut() {
                let t = now();
                if let Some((phase, design, since)) = meter.stack.pop() {
                    charge(&mut meter.times, phase, design, t.saturating_sub(since));
                }
                if let Some(outer) = meter.stack.last_mut() {
                    outer.2 = t;
                }
            }
        });
    }
    out
}

/// Runs `f` as phase `p`.
pub fn phase<T>(p: Phase, f: impl FnOnce() -> T) -> T {
    within(Some(p), f)
}

/// Runs `f` as a call into the design, in the current phase.
pub fn design_call<T>(f: impl FnOnce() -> T) -> T {
    within(None, f)
}

/// `dev`, with every call into it timed as the design's when measuring is
/// on; `dev` itself otherwise.
pub fn timed(dev: Box<dyn Device>) -> Box<dyn Device> {
    if enabled() {
        Box::new(Timed(dev))
    } else {
        dev
    }
}

/// A device whose every call is a [`design_call`]; its forks are timed too.
#[derive(Debug)]
struct Timed(Box<dyn Device>);

impl Device for Timed {
    fn publish(&mut self) -> Result<Bundle, ImplError> {
        design_call(|| self.0.publish())
    }
    fn encrypt(&mut self, req: &EncryptRequest<'_>) -> Result<Sent, ImplError> {
        design_call(|| self.0.encrypt(req))
    }
    fn decrypt(&mut self, env: &InEnvelope<'_>) -> Result<Received, ImplError> {
        design_call(|| self.0.decrypt(env))
    }
    fn fork(&self) -> Result<Box<dyn Device>, ImplError> {
        design_call(|| self.0.fork()).map(|d| Box::new(Timed(d)) as Box<dyn Device>)
    }
    fn forensic_open(&mut self, env: &InEnvelope<'_>) -> Result<Vec<Vec<u8>>, ImplError> {
        design_call(|| self.0.forensic_open(env))
    }
    fn export_state(&self) -> Result<Vec<u8>, ImplError> {
        design_call(|| self.0.export_state())
    }
    fn add_entropy(&mut self, entropy: &Seed) {
        design_call(|| self.0.add_entropy(entropy));
    }
    fn verify(&mut self, contact: &DeviceAddr, identity: &[u8]) -> Result<Vec<Event>, ImplError> {
        design_call(|| self.0.verify(contact, identity))
    }
    fn user_action(&mut self, action: &UserAction<'_>) -> Result<(), ImplError> {
        design_call(|| self.0.user_action(action))
    }
    fn provider_push(&mut self, role: &str, data: &[u8]) -> Result<(), ImplError> {
        design_call(|| self.0.provider_push(role, data))
    }
    fn directory(&mut self, update: &DirectoryUpdate<'_>) -> Result<Vec<Event>, ImplError> {
        design_call(|| self.0.directory(update))
    }
}

/// `authority`, with every call into it timed as the design's when
/// measuring is on; `authority` itself otherwise.
pub fn timed_authority(authority: Box<dyn Authority>) -> Box<dyn Authority> {
    if enabled() {
        Box::new(TimedAuthority(authority))
    } else {
        authority
    }
}

/// An authority whose every call is a [`design_call`].
#[derive(Debug)]
struct TimedAuthority(Box<dyn Authority>);

impl Authority for TimedAuthority {
    fn public(&self) -> Vec<u8> {
        design_call(|| self.0.public())
    }
    fn target(&mut self, content: &TargetContent<'_>) -> Result<Option<Vec<u8>>, ImplError> {
        design_call(|| self.0.target(content))
    }
    fn recover(&mut self, view: &[&[u8]]) -> Result<Vec<Vec<u8>>, ImplError> {
        design_call(|| self.0.recover(view))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spin(ms: u64) {
        let start = thread_cpu();
        while thread_cpu() - start < Duration::from_millis(ms) {
            std::hint::black_box(0u64);
        }
    }

    /// Nested phases and design calls are charged where they ran, once.
    #[test]
    fn time_goes_to_the_innermost_phase() {
        enable();
        let ((), t) = measure(|| {
            spin(5);
            phase(Phase::Send, || {
                spin(10);
                design_call(|| spin(20));
                design_call(|| spin(1));
            });
            phase(Phase::Scan, || spin(10));
        });
        let ms = |d: Duration| d.as_millis();
        assert!((5..9).contains(&ms(t.own(Phase::Steps))), "{t:?}");
        assert!((10..14).contains(&ms(t.own(Phase::Send))), "{t:?}");
        assert!((21..25).contains(&ms(t.design(Phase::Send))), "{t:?}");
        assert_eq!(t.calls(Phase::Send), 2);
        assert!((10..14).contains(&ms(t.own(Phase::Scan))), "{t:?}");
        assert_eq!(t.design(Phase::Scan), Duration::ZERO);
        assert!((46..56).contains(&ms(t.total())), "{t:?}");
    }
}
