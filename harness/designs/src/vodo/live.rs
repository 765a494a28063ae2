//! Live vodozemac objects shared copy-on-write ([`Live`]): how the `olm` and
//! `megolm` designs keep an [`Account`], Olm [`Session`]s and Megolm group
//! sessions between calls without re-deriving them.
//!
//! vodozemac's types are not `Clone`; the only copy it offers goes through
//! its pickle, and [`Account::from_pickle`] recomputes the public half of
//! every key the account holds (the identity keys, each one-time key, the
//! fallback key: one base-point multiplication each). So a device keeps each
//! object live behind an [`Arc`]: cloning a device (a fork, or the copy an
//! operation works on) shares them, and the first change to a shared object
//! copies it through its typed pickle, never through JSON. The sessions copy
//! cheaply (their pickles hold the keys vodozemac keeps, public halves
//! included); the account is changed only when it must be (one-time keys
//! topped up, an inbound session made), so reading and trying messages never
//! copies it.
//!
//! Serialised, a [`Live`] is exactly the JSON value of its vodozemac pickle,
//! as [`serde_json::to_value`] writes it (object keys in sorted order), so a
//! device's exported state keeps its format.
//!
//! **Invariants:** a change through [`Live::make_mut`] is never seen by
//! another holder of the same object (forks stay independent), and nothing
//! here re-derives an object that is only read.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::ops::Deref;
use std::sync::Arc;
use vodozemac::megolm::{GroupSession, GroupSessionPickle, InboundGroupSession, InboundGroupSessionPickle};
use vodozemac::olm::{Account, AccountPickle, Session, SessionPickle};

/// A vodozemac type with a pickle: the one way to copy or store it.
pub(crate) trait Pickled: Sized {
    /// The typed pickle vodozemac serialises.
    type Pickle: Serialize + DeserializeOwned;

    /// The object's pickle.
    fn pickle(&self) -> Self::Pickle;

    /// The object a pickle holds.
    fn from_pickle(pickle: Self::Pickle) -> Self;
}

macro_rules! pickled {
    ($($ty:ty => $pickle:ty),* $(,)?) => {$(
        impl Pickled for $ty {
            type Pickle = $pickle;

            fn pickle(&self) -> $pickle {
                <$ty>::pickle(self)
            }

            fn from_pickle(pickle: $pickle) -> Self {
                <$ty>::from_pickle(pickle)
            }
        }
    )*};
}

pickled! {
    Account => AccountPickle,
    Session => SessionPickle,
    GroupSession => GroupSessionPickle,
    InboundGroupSession => InboundGroupSessionPickle,
}

/// A live vodozemac object, shared by the clones of a device until one of
/// them changes it.
pub(crate) struct Live<T: Pickled>(Arc<Held<T>>);

/// The object behind a [`Live`]; cloning it copies it through its pickle,
/// which [`Arc::make_mut`] does only when the object is shared.
struct Held<T>(T);

impl<T: Pickled> Clone for Held<T> {
    fn clone(&self) -> Self {
        Held(T::from_pickle(self.0.pickle()))
    }
}

impl<T: Pickled> Live<T> {
    /// Keeps `object`, not shared yet.
    pub(crate) fn new(object: T) -> Live<T> {
        Live(Arc::new(Held(object)))
    }

    /// A separate copy of the object (through its typed pickle), for a
    /// change that is kept only if it succeeds.
    pub(crate) fn copy(&self) -> T {
        T::from_pickle((**self).pickle())
    }

    /// The object, to change: copied first when another clone shares it.
    pub(crate) fn make_mut(&mut self) -> &mut T {
        &mut Arc::make_mut(&mut self.0).0
    }
}

impl<T: Pickled> Clone for Live<T> {
    /// Shares the object (see [`Live::make_mut`]).
    fn clone(&self) -> Self {
        Live(Arc::clone(&self.0))
    }
}

impl<T: Pickled> std::fmt::Debug for Live<T> {
    /// Only the type: the object holds secret keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Live<{}>", std::any::type_name::<T>())
    }
}

impl<T: Pickled> Deref for Live<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0 .0
    }
}

impl<T: Pickled> Serialize for Live<T> {
    /// The pickle's JSON value: sorted keys, as the state has always had them.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde_json::to_value((**self).pickle()).map_err(serde::ser::Error::custom)?.serialize(serializer)
    }
}

impl<'de, T: Pickled> Deserialize<'de> for Live<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::Pickle::deserialize(deserializer).map(|pickle| Live::new(T::from_pickle(pickle)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vodozemac::megolm::SessionConfig;

    #[test]
    fn a_change_to_a_shared_object_stays_with_its_holder() {
        let original = Live::new(GroupSession::new(SessionConfig::version_1()));
        let mut fork = original.clone();
        fork.make_mut().encrypt(b"only the fork's");
        assert_eq!(original.message_index(), 0);
        assert_eq!(fork.message_index(), 1);
        assert_eq!(fork.session_id(), original.session_id());
        let mut copy = original.copy();
        copy.encrypt(b"only the copy's");
        assert_eq!(original.message_index(), 0);
    }

    #[test]
    fn serialised_as_the_json_value_of_its_pickle() -> Result<(), serde_json::Error> {
        let live = Live::new(GroupSession::new(SessionConfig::version_1()));
        let bytes = serde_json::to_vec(&live)?;
        assert_eq!(bytes, serde_json::to_vec(&serde_json::to_value(live.pickle())?)?);
        let back: Live<GroupSession> = serde_json::from_slice(&bytes)?;
        assert_eq!(back.session_id(), live.session_id());
        Ok(())
    }
}
