//! A miniature provider for the designs' tests: a directory of published
//! bundles that serves each one-time item to one requester only, and helpers
//! to send and deliver through the [`Design`] and [`Device`] traits alone.
//! Like the harness, it creates the design's declared authorities and
//! pushes each one's public data to every device it registers.

#![allow(dead_code, clippy::unwrap_used)]

use doormat_designs::builtin;
use doormat_engine::adapter::Seed;
use doormat_engine::{
    Authority, Bundle, Design, Device, DirectoryEntry, EncryptRequest, ImplError, InEnvelope, Received, Sent,
};
use doormat_formats::{DeviceAddr, UserId};
use std::collections::{BTreeMap, BTreeSet};

/// The one-to-one conversation of most tests, and its members.
pub const AB: &str = "alice+bob";
pub const ALICE_BOB: &[&str] = &["alice", "bob"];

/// Whether `r` is the refusal a foreign or tampered input deserves.
pub fn is_rejected<T: std::fmt::Debug>(r: &Result<T, ImplError>) -> bool {
    matches!(r, Err(ImplError::Rejected(_)))
}

/// Alice's and bob's phones, of `design`.
pub fn pair(design: &str) -> Net {
    let mut net = Net::new(design);
    net.register("alice/phone");
    net.register("bob/phone");
    net
}

/// [`pair`] after a message each way: sessions are set up in both
/// directions.
pub fn talked(design: &str) -> Net {
    let mut net = pair(design);
    net.exchange("alice/phone", "bob/phone", "hi");
    net.exchange("bob/phone", "alice/phone", "hi");
    net
}

/// Alice's phone sends `text` in `alice+bob`; the body for bob's phone.
pub fn to_bob(net: &mut Net, text: &str) -> Vec<u8> {
    Net::body_for(&net.send("alice/phone", AB, ALICE_BOB, text), "bob/phone")
}

/// Bob's phone sends `text` in `alice+bob`; the body for alice's phone.
pub fn to_alice(net: &mut Net, text: &str) -> Vec<u8> {
    Net::body_for(&net.send("bob/phone", AB, ALICE_BOB, text), "alice/phone")
}

/// Bob's phone reads a body from alice's phone, which it must name as the
/// sender; the text.
pub fn bob_reads(net: &mut Net, body: &[u8]) -> String {
    read_text(net, "bob/phone", "alice/phone", body)
}

/// Alice's phone reads a body from bob's phone, which it must name as the
/// sender; the text.
pub fn alice_reads(net: &mut Net, body: &[u8]) -> String {
    read_text(net, "alice/phone", "bob/phone", body)
}

/// `to` reads a body from `from` in `alice+bob`, naming `from` as the
/// sender; the text.
fn read_text(net: &mut Net, to: &str, from: &str, body: &[u8]) -> String {
    let got = net.recv(to, from, AB, body).unwrap();
    assert_eq!(got.sender, Some(addr(from)));
    String::from_utf8(got.plaintext.unwrap()).unwrap()
}

/// What `device` forensically opens of `body`, as the provider says `from`
/// sent it in `conversation`: the texts; none when it is refused, and any
/// other error fails the test.
pub fn forensic_texts(device: &mut dyn Device, from: &str, conversation: &str, body: &[u8]) -> Vec<String> {
    match device.forensic_open(&InEnvelope { from: &addr(from), conversation, body }) {
        Ok(texts) => texts.into_iter().map(|t| String::from_utf8(t).unwrap()).collect(),
        Err(ImplError::Rejected(_)) => Vec::new(),
        Err(e) => panic!("forensic open failed: {e}"),
    }
}

/// An encryption request, owned, so a test can make it once and hand it to
/// several devices.
#[derive(Debug, Clone)]
pub struct Request {
    pub conversation: String,
    pub members: Vec<UserId>,
    pub recipients: Vec<DirectoryEntry>,
    pub plaintext: Vec<u8>,
}

impl Request {
    pub fn get(&self) -> EncryptRequest<'_> {
        EncryptRequest {
            conversation: &self.conversation,
            group: self.members.len() > 2,
            members: &self.members,
            recipients: &self.recipients,
            plaintext: &self.plaintext,
        }
    }
}

/// `"user/device"` as an address.
pub fn addr(s: &str) -> DeviceAddr {
    let (user, device) = s.split_once('/').unwrap();
    DeviceAddr::new(user, device)
}

/// A fixed seed per label, different for different labels.
pub fn seed_for(label: &str) -> Seed {
    let mut seed = [0x5a; 32];
    for (i, b) in label.bytes().enumerate() {
        seed[i % 32] ^= b;
        seed[(i * 7 + 3) % 32] = seed[(i * 7 + 3) % 32].wrapping_add(b);
    }
    seed
}

/// Users of a member list.
pub fn users(members: &[&str]) -> Vec<UserId> {
    members.iter().map(|m| UserId::from(*m)).collect()
}

/// The provider of a test.
#[derive(Debug)]
pub struct Net {
    pub design: Box<dyn Design>,
    pub devices: BTreeMap<DeviceAddr, Box<dyn Device>>,
    pub directory: BTreeMap<DeviceAddr, Bundle>,
    contacted: BTreeSet<(DeviceAddr, DeviceAddr)>,
    /// Whether the directory serves one-time items at all.
    pub serve_one_time: bool,
    /// The design's authorities by role, seeded from `authority/<role>`.
    pub authorities: BTreeMap<String, Box<dyn Authority>>,
}

impl Net {
    pub fn new(design: &str) -> Net {
        Net::with(builtin(design).unwrap())
    }

    /// The provider of a test of a built-in design, with `devices`
    /// registered in order.
    pub fn registered(design: &str, devices: &[&str]) -> Net {
        let mut net = Net::new(design);
        for d in devices {
            net.register(d);
        }
        net
    }

    /// The provider of a test, for a design that is not built in.
    pub fn with(design: Box<dyn Design>) -> Net {
        let authorities = design
            .authorities()
            .into_iter()
            .map(|role| {
                let authority = design.create_authority(&role, seed_for(&format!("authority/{role}"))).unwrap();
                (role, authority)
            })
            .collect();
        Net {
            design,
            devices: BTreeMap::new(),
            directory: BTreeMap::new(),
            contacted: BTreeSet::new(),
            serve_one_time: true,
            authorities,
        }
    }

    /// Creates (or re-creates) a device and publishes its bundle.
    pub fn register(&mut self, a: &str) -> DeviceAddr {
        self.register_seeded(a, seed_for(a))
    }

    pub fn register_seeded(&mut self, a: &str, seed: Seed) -> DeviceAddr {
        let a = addr(a);
        let mut device = self.design.create_device(&a, seed).unwrap();
        for (role, authority) in &self.authorities {
            device.provider_push(role, &authority.public()).unwrap();
        }
        self.directory.insert(a.clone(), device.publish().unwrap());
        self.devices.insert(a.clone(), device);
        self.contacted.retain(|(_, target)| *target != a);
        a
    }

    pub fn device(&mut self, a: &str) -> &mut Box<dyn Device> {
        self.devices.get_mut(&addr(a)).unwrap()
    }

    /// What the directory serves `requester` about every device of `members`.
    pub fn entries(&mut self, requester: &str, members: &[&str]) -> Vec<DirectoryEntry> {
        let requester = addr(requester);
        let mut out = Vec::new();
        for (a, bundle) in &mut self.directory {
            if !members.contains(&a.user.as_str()) {
                continue;
            }
            let first = self.contacted.insert((requester.clone(), a.clone()));
            let one_time =
                (self.serve_one_time && first && !bundle.one_time.is_empty()).then(|| bundle.one_time.remove(0));
            out.push(DirectoryEntry {
                device: a.clone(),
                identity: bundle.identity.clone(),
                prekey: bundle.prekey.clone(),
                one_time,
                proof: None,
            });
        }
        out
    }

    /// The request `from` makes to send `text` to every device of `members`
    /// in `conversation`, with what the directory serves it now.
    pub fn request(&mut self, from: &str, conversation: &str, members: &[&str], text: &[u8]) -> Request {
        Request {
            conversation: conversation.to_owned(),
            members: users(members),
            recipients: self.entries(from, members),
            plaintext: text.to_vec(),
        }
    }

    /// `from` encrypts `text` to every device of `members`.
    pub fn send(&mut self, from: &str, conversation: &str, members: &[&str], text: &str) -> Sent {
        let recipients = self.entries(from, members);
        self.send_to(from, conversation, members, &recipients, text).unwrap()
    }

    pub fn send_to(
        &mut self,
        from: &str,
        conversation: &str,
        members: &[&str],
        recipients: &[DirectoryEntry],
        text: &str,
    ) -> Result<Sent, ImplError> {
        let members = users(members);
        let req = EncryptRequest {
            conversation,
            group: members.len() > 2,
            members: &members,
            recipients,
            plaintext: text.as_bytes(),
        };
        self.device(from).encrypt(&req)
    }

    /// `to` decrypts `body`, which the provider says `from` sent.
    pub fn recv(&mut self, to: &str, from: &str, conversation: &str, body: &[u8]) -> Result<Received, ImplError> {
        let from = addr(from);
        self.device(to).decrypt(&InEnvelope { from: &from, conversation, body })
    }

    /// The body addressed to `to`.
    pub fn body_for(sent: &Sent, to: &str) -> Vec<u8> {
        let to = addr(to);
        sent.envelopes.iter().find(|e| e.to.contains(&to)).unwrap().body.clone()
    }

    /// `from` sends `text` to `to`'s single device and `to` reads it; panics
    /// unless it reads exactly `text` from `from`.
    pub fn exchange(&mut self, from: &str, to: &str, text: &str) {
        let mut pair = [addr(from).user.0, addr(to).user.0];
        pair.sort();
        let conversation = format!("{}+{}", pair[0], pair[1]);
        let sent = self.send(from, &conversation, &[&pair[0], &pair[1]], text);
        let got = self.recv(to, from, &conversation, &Net::body_for(&sent, to)).unwrap();
        assert_eq!(got.plaintext.as_deref(), Some(text.as_bytes()), "{from} -> {to}");
        assert_eq!(got.sender, Some(addr(from)));
    }
}

/// Whether `sent` has an envelope addressed to `to`.
pub fn addressed(sent: &Sent, to: &str) -> bool {
    let to = addr(to);
    sent.envelopes.iter().any(|e| e.to.contains(&to))
}

/// What a fork of `device` opens of `sent`, as the provider could hand it
/// over (from `from`, in `conversation`): every envelope, whoever it is
/// addressed to, tried in order on the same fork; the plaintexts opened,
/// refusals skipped. `device` itself is left as it was.
pub fn fork_reads(device: &dyn Device, from: &str, conversation: &str, sent: &Sent) -> Vec<Vec<u8>> {
    let from = addr(from);
    let mut fork = device.fork().unwrap();
    sent.envelopes
        .iter()
        .filter_map(|e| fork.decrypt(&InEnvelope { from: &from, conversation, body: &e.body }).ok())
        .filter_map(|r| r.plaintext)
        .collect()
}

impl Net {
    /// `to` was left out of `sent`: no envelope is addressed to it, and
    /// none of them, handed to it in order, opens to any text.
    pub fn assert_left_out(&self, to: &str, from: &str, conversation: &str, sent: &Sent) {
        assert!(!addressed(sent, to), "{to} was sent an envelope");
        let read = fork_reads(self.devices[&addr(to)].as_ref(), from, conversation, sent);
        assert!(read.is_empty(), "{to} opened {read:?}");
    }

    /// Delivers to `to` every envelope of `sent` addressed to it, in order
    /// (each must be accepted); the texts it read.
    pub fn deliver_to(&mut self, to: &str, from: &str, conversation: &str, sent: &Sent) -> Vec<String> {
        let mut read = Vec::new();
        for e in sent.envelopes.iter().filter(|e| e.to.contains(&addr(to))) {
            let got = self.recv(to, from, conversation, &e.body).unwrap();
            assert_eq!(got.sender, Some(addr(from)), "{from} -> {to}");
            read.extend(got.plaintext.map(|t| String::from_utf8(t).unwrap()));
        }
        read
    }
}

impl Net {
    /// A device of the design at `victim`'s address but seeded from `label`
    /// (an impostor the provider controls, pushed the same authority data),
    /// and the bundle it publishes.
    pub fn impostor(&self, victim: &str, label: &str) -> (Box<dyn Device>, Bundle) {
        let mut device = self.design.create_device(&addr(victim), seed_for(label)).unwrap();
        for (role, authority) in &self.authorities {
            device.provider_push(role, &authority.public()).unwrap();
        }
        let bundle = device.publish().unwrap();
        (device, bundle)
    }

    /// Key substitution: `victim`'s entry in `entries` now serves `bundle`.
    pub fn substitute(entries: &mut [DirectoryEntry], victim: &str, bundle: &Bundle) {
        let entry = entries.iter_mut().find(|e| e.device == addr(victim)).unwrap();
        entry.identity = bundle.identity.clone();
        entry.prekey = bundle.prekey.clone();
        entry.one_time = bundle.one_time.first().cloned();
    }
}
