//! Names used across inputs and outputs: users, devices, groups, messages.
//!
//! **Invariant:** a valid name is non-empty ASCII `[a-z0-9_-]`, so a device
//! address `user/device` is unambiguous and names are safe in file names and
//! Markdown.

use serde::Serialize;
use std::fmt;

/// Whether `s` is a valid name for a user, device, group or message.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

macro_rules! name_type {
    ($(#[$m:meta])* $t:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $t(pub String);
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl $t {
            /// The name as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl From<&str> for $t {
            fn from(s: &str) -> Self {
                $t(s.to_owned())
            }
        }
    };
}

name_type!(
    /// A user (a person with one or more devices).
    UserId
);
name_type!(
    /// A group conversation.
    GroupId
);
name_type!(
    /// A message of a vector; its canary is derived from it.
    MessageId
);

/// A device: `user/device`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceAddr {
    /// The owning user.
    pub user: UserId,
    /// The device's name, unique per user.
    pub device: String,
}

impl DeviceAddr {
    /// `user/device`.
    pub fn new(user: &str, device: &str) -> Self {
        DeviceAddr { user: UserId(user.to_owned()), device: device.to_owned() }
    }

    /// Reads `user/device`, the form [`Display`](fmt::Display) writes:
    /// `None` unless both names are valid ([`valid_name`]).
    pub fn parse(s: &str) -> Option<DeviceAddr> {
        let (user, device) = s.split_once('/')?;
        (valid_name(user) && valid_name(device)).then(|| DeviceAddr::new(user, device))
    }
}

impl fmt::Display for DeviceAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.user, self.device)
    }
}

impl Serialize for DeviceAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_reads_back_what_display_writes_and_nothing_else() {
        let a = DeviceAddr::new("alice", "phone-2");
        assert_eq!(DeviceAddr::parse(&a.to_string()), Some(a));
        for bad in ["alice", "alice/", "/phone", "alice/phone/x", "Alice/phone", "alice/ phone", ""] {
            assert_eq!(DeviceAddr::parse(bad), None, "{bad:?}");
        }
    }
}
