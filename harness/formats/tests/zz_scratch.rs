#![allow(clippy::unwrap_used)]
use doormat_formats::Vector;
#[test]
fn scratch() {
    let cases = [
        "title: t\nseed: 1\nusers: [alice, bob]\nsteps:\n  - send:\n      id: m1\n      from: alice\n      to: bob\n  - send:\n      id: m2\n      from: bob\n      to: alice\n      from: alice\n",
        "title: t\nseed: 1\nusers: [alice, bob]\nsteps:\n  - send: {id: m1, from: alice, to: bob, to: alice}\n",
        "title: t\n seed: 1\nusers: [alice]\n",
        "title: t\nseed: 1\n  users: [alice]\n",
        "title: t\nseed: 1\nusers: [alice]\nsteps:\n  - register:\n      user: alice\n     device: x\n",
        "title: t\nseed: 1\nusers: [alice]\nsteps:\n\t- register: {user: alice}\n",
        "title: t\nseed: 1\nusers: [alice, bob]\nsteps:\n  - send: {id: m1, from: alice}\n",
        "title: t\nseed: 1\nusers: [alice, bob]\nsteps:\n  - send:\n      id: m1\n      from: alice\n",
        "title: t\nseed: 1\nusers: [alice, bob]\nsteps:\n  - send: {id: m1, from: alice, to: bob\n",
        "title: t\nseed: 1\nusers: [alice, bob]\nsteps:\n  - repeat: {times: -1, steps: []}\n",
        "title: t\nseed: 1\nusers: [alice, bob]\nsteps:\n  - send: {id: m1, from: alice, to: bob, hold: yes}\n",
        "- a\n- b\n",
        "title: t\nseed: 1\nusers: alice\nsteps: []\n",
        "title: t\nseed: 1\nusers: [alice, bob]\nsteps:\n  - register: alice\n",
        "title: t\nseed: 1\nusers: [alice, bob]\nsteps:\n  - register\n",
        "---\ntitle: t\n---\ntitle: u\n",
    ];
    for c in cases {
        
        
        let r: Result<Vector, _> = serde_yaml::with::singleton_map_recursive::deserialize(serde_yaml::Deserializer::from_str(c));
        if let Err(e) = r { eprintln!("RAW {:?} {}", e.location().map(|l| (l.line(), l.column())), e); }
        match Vector::parse("v.yaml", "v", c) {
            Ok(_) => eprintln!("OK"),
            Err(e) => eprintln!("{e}\n"),
        }
    }
    panic!();
}
