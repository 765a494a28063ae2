//! The checks a client, a device and an auditor make on what the provider
//! served: bytes in, a value or a refusal out. They hold only the
//! directory's VRF public key and roots they trust.
//!
//! **Invariant:** a check never panics on the bytes it is given (akd's
//! own checks assert on some inconsistent proofs; such a panic is caught
//! and becomes [`KtError::Malformed`]).

use std::panic::{catch_unwind, AssertUnwindSafe};

use akd::proto::specs::types;
use akd::{AkdLabel, HistoryParams, HistoryVerificationParams, VerifyResult};
use protobuf::Message;

use super::{runtime, Config, Epoch, KtError, Root};

/// A value a label had, from a checked proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The epoch the value was published in.
    pub epoch: Epoch,
    /// The label's version number (1 for its first value).
    pub version: u64,
    /// The value.
    pub value: Vec<u8>,
}

impl From<VerifyResult> for Entry {
    fn from(r: VerifyResult) -> Self {
        Entry { epoch: r.epoch, version: r.version, value: r.value.0 }
    }
}

/// `label`'s value at `epoch`, if `proof` (a served lookup proof) holds
/// against `root`, the root the client holds for that epoch.
pub fn verify_lookup(
    vrf_public_key: &[u8],
    root: &Root,
    epoch: Epoch,
    label: &str,
    proof: &[u8],
) -> Result<Entry, KtError> {
    guarded(|| {
        let proof = decode::<types::LookupProof, akd::LookupProof>(proof)?;
        akd::client::lookup_verify::<Config>(vrf_public_key, *root, epoch, AkdLabel::from(label), proof)
            .map(Entry::from)
            .map_err(|e| KtError::Refused(e.to_string()))
    })
}

/// Every value `label` had up to `epoch`, oldest first, if `proof` (a
/// served history proof) holds against `root`. The owner of the label
/// compares this with what it published: any other value is a lie.
pub fn verify_history(
    vrf_public_key: &[u8],
    root: &Root,
    epoch: Epoch,
    label: &str,
    proof: &[u8],
) -> Result<Vec<Entry>, KtError> {
    guarded(|| {
        let proof = decode::<types::HistoryProof, akd::HistoryProof>(proof)?;
        let params = HistoryVerificationParams::Default { history_params: HistoryParams::Complete };
        let mut entries = akd::client::key_history_verify::<Config>(
            vrf_public_key,
            *root,
            epoch,
            AkdLabel::from(label),
            proof,
            params,
        )
        .map_err(|e| KtError::Refused(e.to_string()))?;
        entries.reverse();
        Ok(entries.into_iter().map(Entry::from).collect())
    })
}

/// Whether `proof` (a served audit proof from epoch *e* to *e* + n) shows
/// that each of `roots` (the auditor's, for epochs *e* to *e* + n) only
/// adds to the one before.
pub fn verify_audit(roots: &[Root], proof: &[u8]) -> Result<(), KtError> {
    guarded(|| {
        let proof = decode::<types::AppendOnlyProof, akd::AppendOnlyProof>(proof)?;
        if roots.len() < 2 {
            return Err(KtError::Misuse(format!("an audit needs two roots or more, not {}", roots.len())));
        }
        runtime()?
            .block_on(akd::auditor::audit_verify::<Config>(roots.to_vec(), proof))
            .map_err(|e| KtError::Refused(e.to_string()))
    })
}

/// `bytes` decoded as protobuf message `P`, then converted to akd's `T`.
fn decode<P, T>(bytes: &[u8]) -> Result<T, KtError>
where
    P: Message,
    T: for<'a> TryFrom<&'a P, Error = akd::proto::ConversionError>,
{
    let message = P::parse_from_bytes(bytes).map_err(|e| KtError::Malformed(e.to_string()))?;
    T::try_from(&message).map_err(|e| KtError::Malformed(e.to_string()))
}

/// `check()`, with a panic inside akd turned into [`KtError::Malformed`].
fn guarded<T>(check: impl FnOnce() -> Result<T, KtError>) -> Result<T, KtError> {
    catch_unwind(AssertUnwindSafe(check))
        .unwrap_or_else(|_| Err(KtError::Malformed("the proof made the check fail inside akd".into())))
}
