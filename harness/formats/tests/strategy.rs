//! A substitution's `strategy` (how a provider that runs a design's key
//! service lies with it) and the `gossip` step, as vectors write them.

#![allow(clippy::unwrap_used)]

use doormat_formats::vector::AllStrategies;
use doormat_formats::{Action, Strategy, StrategyChoice, Vector};

fn steps(extra: &str) -> Result<Vec<Action>, String> {
    let src = format!(
        "title: t\ndescription: d\nseed: 1\nusers: [alice, bob]\nsteps:\n  - register: {{user: alice}}\n  - register: {{user: bob}}\n{extra}"
    );
    Vector::parse("v.yaml", "v", &src)
        .map(|s| s.steps.into_iter().map(|st| st.action).collect())
        .map_err(|e| e.to_string())
}

#[test]
fn each_strategy_all_or_none() {
    for (word, want) in [
        ("publish", Some(StrategyChoice::One(Strategy::Publish))),
        ("forge", Some(StrategyChoice::One(Strategy::Forge))),
        ("split-view", Some(StrategyChoice::One(Strategy::SplitView))),
        ("all", Some(StrategyChoice::All(AllStrategies::All))),
    ] {
        let got = steps(&format!("  - substitute: {{device: bob/phone, strategy: {word}}}\n")).unwrap();
        assert!(matches!(&got[2], Action::Substitute { strategy, .. } if *strategy == want), "{word}: {got:?}");
    }
    let got = steps("  - substitute: {device: bob/phone}\n").unwrap();
    assert!(matches!(&got[2], Action::Substitute { strategy: None, .. }));
    for s in Strategy::ALL {
        let got = steps(&format!("  - substitute: {{device: bob/phone, strategy: {}}}\n", s.name())).unwrap();
        assert!(matches!(&got[2], Action::Substitute { strategy: Some(StrategyChoice::One(x)), .. } if *x == s));
    }
}

#[test]
fn an_unknown_strategy_is_refused_where_it_is_written() {
    let err = steps("  - substitute: {device: bob/phone, strategy: lie}\n").unwrap_err();
    assert!(err.contains("v.yaml:8:"), "{err}");
}

#[test]
fn gossip_with_and_without_users() {
    let got = steps("  - gossip: {}\n  - gossip: {users: [bob, bob]}\n").unwrap();
    assert!(matches!(&got[2], Action::Gossip { users } if users.is_empty()));
    assert!(matches!(&got[3], Action::Gossip { users } if users.len() == 1 && users[0].0 == "bob"));
    let err = steps("  - gossip: {users: [carol]}\n").unwrap_err();
    assert!(err.contains("carol"), "{err}");
}
