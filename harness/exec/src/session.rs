//! [`Session`]: one implementation process as the client end of the exec
//! protocol sees it: requests numbered from 0, each answer read and checked
//! (id, exactly one of `ok`/`error`, the operation's exact fields), the
//! handshake, and the budget of a run (envelopes per answer, list items).
//! The devices of [`ExecDesign`](crate::ExecDesign) and the known-answer
//! calls of `primitives.rs` both go through it.
//!
//! **Invariant:** any violation *breaks* the session ([`Session::fail`]):
//! the process is killed, the reason kept with the last lines of its
//! standard error, and no request is sent again until [`Session::restart`].

use crate::convert;
use crate::process::{Command, Limits, Process};
use doormat_engine::ImplError;
use doormat_formats::wire::{self, HelloOk, Op, Request, WireError};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Deserialize;

/// A response line with its `ok` member checked for syntax only: the first
/// reading, which allocates nothing for `ok` (the shape of
/// [`wire::Response`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Head {
    id: u64,
    #[serde(default)]
    ok: Option<IgnoredAny>,
    #[serde(default)]
    error: Option<WireError>,
}

/// A response line's `ok` member read straight into the operation's type:
/// the second reading (no untyped tree, so a line costs a few times its
/// length at most).
#[derive(Deserialize)]
struct OkOf<T> {
    ok: T,
}

/// The child process of the current run and what is known about it.
#[derive(Debug, Default)]
pub(crate) struct Session {
    pub(crate) process: Option<Process>,
    next_id: u64,
    /// Why the implementation broke in this run.
    pub(crate) broken: Option<String>,
    /// Bumped at every restart; handles of older generations are dead.
    pub(crate) generation: u64,
    /// The limits of the current run.
    limits: Limits,
    /// List items (envelopes, addressees, events, keys, records) the
    /// answers of the current run carried.
    items: usize,
    /// Whether the current process's `hello` offered `forensic_open`.
    pub(crate) forensic: bool,
}

impl Session {
    /// Marks the run broken, with the child's last standard-error lines,
    /// and kills the child.
    pub(crate) fn fail(&mut self, why: String) -> ImplError {
        let mut msg = why;
        if let Some(p) = &self.process {
            let tail = p.stderr_tail();
            if !tail.is_empty() {
                msg.push_str("; last lines of its standard error:\n");
                for l in tail {
                    msg.push_str("    ");
                    msg.push_str(&l);
                    msg.push('\n');
                }
                msg.pop();
            }
        }
        if let Some(mut p) = self.process.take() {
            p.kill();
        }
        self.broken.get_or_insert(msg.clone());
        ImplError::Failed(format!("the implementation broke: {msg}"))
    }

    /// One request and its response's `ok` member, read as `T`.
    pub(crate) fn call<T: DeserializeOwned>(&mut self, op: Op) -> Result<T, ImplError> {
        if let Some(b) = &self.broken {
            return Err(ImplError::Failed(format!("the implementation broke earlier in this run: {b}")));
        }
        let name = op.name();
        let id = self.next_id;
        self.next_id += 1;
        let line = match serde_json::to_vec(&Request { id, op }) {
            Ok(l) => l,
            Err(e) => return Err(ImplError::Failed(format!("cannot encode a `{name}` request: {e}"))),
        };
        let Some(p) = self.process.as_mut() else {
            return Err(self.fail("no implementation process is running".to_owned()));
        };
        let sent = p.send(line).and_then(|()| p.recv());
        let reply = match sent {
            Ok(r) => r,
            Err(e) => return Err(self.fail(format!("request {id} (`{name}`): {e}"))),
        };
        let head: Head = match serde_json::from_slice(&reply) {
            Ok(r) => r,
            Err(e) => {
                let shown: String = String::from_utf8_lossy(&reply).chars().take(200).collect();
                return Err(self.fail(format!(
                    "request {id} (`{name}`): the response is not a valid response object ({e}): {shown}"
                )));
            }
        };
        if head.id != id {
            return Err(self.fail(format!(
                "request {id} (`{name}`): the response has id {}: expected {id} (answers must come in order)",
                head.id
            )));
        }
        match (head.ok, head.error) {
            (Some(_), None) => serde_json::from_slice::<OkOf<T>>(&reply)
                .map(|o| o.ok)
                .map_err(|e| self.fail(format!("request {id} (`{name}`): malformed `ok`: {e}"))),
            (None, Some(err)) => Err(convert::error_from_wire(err)),
            _ => Err(self.fail(format!("request {id} (`{name}`): a response needs exactly one of `ok` and `error`"))),
        }
    }

    /// Breaks the run if the last answer, an `encrypt`, has more envelopes
    /// than the envelope limit allows.
    pub(crate) fn check_envelopes(&mut self, n: usize) -> Result<(), ImplError> {
        let max = self.limits.max_envelopes;
        if n <= max {
            return Ok(());
        }
        let id = self.next_id.saturating_sub(1);
        Err(self.fail(format!(
            "request {id} (`encrypt`): {n} envelopes in one answer: expected at most {max} (the envelope limit)"
        )))
    }

    /// Counts the `n` list items of the last answer (an `op`) toward the
    /// run's item limit, and breaks the run past it. Each item costs doormat
    /// memory for the rest of the run, whatever its size on the wire.
    pub(crate) fn charge(&mut self, op: &str, n: usize) -> Result<(), ImplError> {
        self.items = self.items.saturating_add(n);
        let max = self.limits.max_items;
        if self.items <= max {
            return Ok(());
        }
        let id = self.next_id.saturating_sub(1);
        Err(self.fail(format!(
            "request {id} (`{op}`): the answers of this run carry more than {max} envelopes, addressees, events, keys and records in all (the item limit)"
        )))
    }

    /// Stops any old child and starts a new one, with the handshake (whose
    /// answer is checked beyond its shape: the protocol version, and each
    /// offered primitive named once).
    pub(crate) fn restart(&mut self, cmd: &Command, limits: Limits) -> Result<HelloOk, ImplError> {
        if let Some(mut p) = self.process.take() {
            p.finish();
        }
        self.broken = None;
        self.next_id = 0;
        self.generation += 1;
        self.limits = limits;
        self.items = 0;
        match Process::spawn(cmd, limits) {
            Ok(p) => self.process = Some(p),
            Err(e) => return Err(self.fail(e)),
        }
        let hello: HelloOk = self.call(Op::Hello { protocol: wire::PROTOCOL })?;
        self.forensic = hello.capabilities.forensic_open;
        if hello.protocol != wire::PROTOCOL {
            return Err(self.fail(format!("it speaks protocol {}: expected {}", hello.protocol, wire::PROTOCOL)));
        }
        if let Some(p) =
            hello.primitives.iter().enumerate().find_map(|(i, p)| hello.primitives[..i].contains(p).then_some(p))
        {
            return Err(self.fail(format!("its `hello` lists the primitive `{}` twice: expected each once", p.name())));
        }
        if hello.kat_protocol.as_deref().is_some_and(|p| p.trim().is_empty()) {
            return Err(self.fail(
                "its `hello` has an empty `kat_protocol`: expected the protocol's name, or no field".to_owned(),
            ));
        }
        Ok(hello)
    }
}
