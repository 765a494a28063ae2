//! [`ExecPrimitives`]: the primitives an external implementation offers in
//! its `hello`, reached through the protocol's known-answer operations
//! (`kat_x25519`, `kat_aead_open`, ...) for the engine's
//! [`Primitives`].
//!
//! One child process serves every known-answer call of one
//! `Design::primitives` value: it is started (with its own handshake) on the
//! first call, apart from the processes of the scenario runs, and finished,
//! killed if need be, and reaped when the value is dropped. The limits of a
//! run apply to it as to any run: a timeout per request, the line limit, and
//! the output limit over all its answers.
//!
//! **Invariants:** a primitive `hello` did not offer answers `Unsupported`
//! without a request. Every answer is checked like any other (id, exactly
//! one of `ok`/`error`, exact fields, base64). A violation, a crash or a
//! hang *breaks* the process: it is killed, [`Primitives::broken`] says why
//! (naming the implementation, the request and its operation, with the last
//! lines of standard error), and every later call fails without a request.
//! There is no restart: the caller judging the cases counts the one that
//! broke it and every later one as failed, never as refused.

use crate::convert::aead_to_wire;
use crate::process::{Command, Limits};
use crate::session::Session;
use doormat_engine::{AeadAlg, ImplError, Primitives, ProtocolBytes};
use doormat_formats::wire::{
    MacOk, OkmOk, Op, OpenOk, OutputsOk, SealOk, SharedOk, ValidOk, WireAead, WirePrimitive, B64,
};
use serde::de::DeserializeOwned;
use std::sync::{Mutex, MutexGuard};

/// The known-answer process and whether it was started.
#[derive(Debug, Default)]
struct State {
    session: Session,
    started: bool,
}

/// The primitives of an external implementation, in a child process of
/// their own.
#[derive(Debug)]
pub(crate) struct ExecPrimitives {
    name: String,
    command: Command,
    limits: Limits,
    offered: Vec<WirePrimitive>,
    kat_protocol: Option<String>,
    state: Mutex<State>,
}

fn b64(b: &[u8]) -> B64 {
    B64(b.to_vec())
}

/// The wire `alg` of an AEAD and the primitive that offers it;
/// `Unsupported` for one the protocol does not name.
fn aead(alg: AeadAlg) -> Result<(WireAead, WirePrimitive), ImplError> {
    aead_to_wire(alg).ok_or_else(|| ImplError::Unsupported(alg.name().to_owned()))
}

impl ExecPrimitives {
    /// The primitives `offered` (and `kat_protocol`) by the implementation
    /// called `name`, run by `command`; nothing is started yet.
    pub(crate) fn new(
        name: &str,
        command: Command,
        limits: Limits,
        offered: Vec<WirePrimitive>,
        kat_protocol: Option<String>,
    ) -> ExecPrimitives {
        ExecPrimitives { name: name.to_owned(), command, limits, offered, kat_protocol, state: Mutex::default() }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One request of an offered primitive (`Unsupported` without a
    /// request otherwise); the process starts on the first.
    fn call<T: DeserializeOwned>(&self, primitive: Option<WirePrimitive>, op: Op) -> Result<T, ImplError> {
        if let Some(p) = primitive.filter(|p| !self.offered.contains(p)) {
            return Err(ImplError::Unsupported(format!("{} (not offered in `hello`)", p.name())));
        }
        let mut s = self.lock();
        if !s.started {
            s.started = true;
            let hello = s.session.restart(&self.command, self.limits)?;
            if hello.primitives != self.offered || hello.kat_protocol != self.kat_protocol {
                return Err(s.session.fail(
                    "its `hello` changed since the first handshake (`primitives` or `kat_protocol`)".to_owned(),
                ));
            }
        }
        s.session.call(op)
    }
}

impl Primitives for ExecPrimitives {
    fn x25519(&self, private: &[u8], public: &[u8]) -> Result<Vec<u8>, ImplError> {
        let ok: SharedOk =
            self.call(Some(WirePrimitive::X25519), Op::KatX25519 { private: b64(private), public: b64(public) })?;
        Ok(ok.shared.0)
    }

    fn ed25519_verify(&self, public: &[u8], msg: &[u8], sig: &[u8]) -> Result<bool, ImplError> {
        let ok: ValidOk = self.call(
            Some(WirePrimitive::Ed25519),
            Op::KatEd25519Verify { public: b64(public), msg: b64(msg), sig: b64(sig) },
        )?;
        Ok(ok.valid)
    }

    fn aead_seal(&self, alg: AeadAlg, key: &[u8], nonce: &[u8], aad: &[u8], msg: &[u8]) -> Result<Vec<u8>, ImplError> {
        let (wire, primitive) = aead(alg)?;
        let op = Op::KatAeadSeal { alg: wire, key: b64(key), nonce: b64(nonce), aad: b64(aad), msg: b64(msg) };
        let ok: SealOk = self.call(Some(primitive), op)?;
        Ok(ok.ct.0)
    }

    fn aead_open(&self, alg: AeadAlg, key: &[u8], nonce: &[u8], aad: &[u8], ct: &[u8]) -> Result<Vec<u8>, ImplError> {
        let (wire, primitive) = aead(alg)?;
        let op = Op::KatAeadOpen { alg: wire, key: b64(key), nonce: b64(nonce), aad: b64(aad), ct: b64(ct) };
        let ok: OpenOk = self.call(Some(primitive), op)?;
        Ok(ok.msg.0)
    }

    fn hkdf_sha256(&self, ikm: &[u8], salt: &[u8], info: &[u8], len: usize) -> Result<Vec<u8>, ImplError> {
        let op = Op::KatHkdfSha256 { ikm: b64(ikm), salt: b64(salt), info: b64(info), len: len as u64 };
        let ok: OkmOk = self.call(Some(WirePrimitive::HkdfSha256), op)?;
        Ok(ok.okm.0)
    }

    fn hmac_sha256(&self, key: &[u8], msg: &[u8]) -> Result<Vec<u8>, ImplError> {
        let ok: MacOk =
            self.call(Some(WirePrimitive::HmacSha256), Op::KatHmacSha256 { key: b64(key), msg: b64(msg) })?;
        Ok(ok.mac.0)
    }

    fn protocol(&self) -> Option<String> {
        self.kat_protocol.clone()
    }

    fn protocol_function(&self, function: &str, inputs: &ProtocolBytes) -> Result<ProtocolBytes, ImplError> {
        if self.kat_protocol.is_none() {
            return Err(ImplError::Unsupported(format!(
                "protocol function `{function}` (no `kat_protocol` in `hello`)"
            )));
        }
        let op = Op::KatProtocol {
            function: function.to_owned(),
            inputs: inputs.iter().map(|(k, v)| (k.clone(), b64(v))).collect(),
        };
        let ok: OutputsOk = self.call(None, op)?;
        Ok(ok.outputs.into_iter().map(|(k, v)| (k, v.0)).collect())
    }

    fn broken(&self) -> Option<String> {
        let s = self.lock();
        s.session
            .broken
            .as_ref()
            .map(|b| format!("`{}` (`{}`) broke during the known-answer tests: {b}", self.name, self.command.display()))
    }
}

impl Drop for ExecPrimitives {
    fn drop(&mut self) {
        if let Some(mut p) = self.lock().session.process.take() {
            p.finish();
        }
    }
}
