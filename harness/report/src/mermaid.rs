//! Mermaid `sequenceDiagram`s of a vector's timeline, with the steps where
//! access happened marked (red for failures, yellow for visible access).

use doormat_oracles::timeline::PROVIDER;
use doormat_oracles::Item;
use std::collections::BTreeSet;
use std::fmt::Write;

/// Most items drawn; longer timelines keep the marked steps and their
/// surroundings.
const MAX_ITEMS: usize = 60;
/// Steps kept around each marked one when a timeline is cut.
const CONTEXT: usize = 2;

fn label(s: &str) -> String {
    // Mermaid treats `;` and `#` specially in messages.
    s.replace(';', ",").replace('#', "no. ")
}

/// The diagram for `items`, or `None` when there is nothing marked.
pub fn sequence(items: &[Item]) -> Option<String> {
    if !items.iter().any(|i| matches!(i, Item::Access { .. })) {
        return None;
    }
    let keep: Vec<&Item> = if items.len() <= MAX_ITEMS {
        items.iter().collect()
    } else {
        let marked: BTreeSet<usize> =
            items.iter().filter(|i| matches!(i, Item::Access { .. })).map(Item::step).collect();
        let near = |s: usize| marked.iter().any(|&m| s + CONTEXT >= m && s <= m + CONTEXT);
        let mut kept: Vec<&Item> =
            items.iter().filter(|i| matches!(i, Item::Access { .. }) || near(i.step())).collect();
        if kept.len() > MAX_ITEMS {
            // Keep every marked step's first mark and cut the rest.
            kept.truncate(MAX_ITEMS);
        }
        kept
    };
    let mut participants: Vec<String> = vec![PROVIDER.to_owned()];
    let mut add = |p: &str| {
        if !participants.iter().any(|x| x == p) {
            participants.push(p.to_owned());
        }
    };
    for i in &keep {
        match i {
            Item::Note { over, .. } => add(over),
            Item::Arrow { from, to, .. } => {
                add(from);
                add(to);
            }
            Item::Access { who, .. } => add(who),
        }
    }
    let id = |p: &str| participants.iter().position(|x| x == p).map_or("p0".to_owned(), |i| format!("p{i}"));
    let mut s = String::from("```mermaid\nsequenceDiagram\n");
    for (i, p) in participants.iter().enumerate() {
        let _ = writeln!(s, "    participant p{i} as {}", label(p));
    }
    let mut last_step = 0;
    let omitted = items.len() - keep.len();
    for i in &keep {
        if i.step() > last_step + 1 && omitted > 0 && last_step > 0 {
            let _ = writeln!(s, "    Note over p0: … steps {}–{} not shown", last_step + 1, i.step() - 1);
        }
        last_step = last_step.max(i.step());
        match i {
            Item::Note { over, text, .. } => {
                let _ = writeln!(s, "    Note over {}: {}", id(over), label(text));
            }
            Item::Arrow { from, to, text, .. } => {
                let _ = writeln!(s, "    {}->>{}: {}", id(from), id(to), label(text));
            }
            Item::Access { who, text, hidden, step } => {
                let colour = if *hidden { "rgb(255, 205, 205)" } else { "rgb(255, 240, 190)" };
                let tag = if *hidden { "ACCESS" } else { "visible access" };
                let _ = writeln!(
                    s,
                    "    rect {colour}\n    Note over {}: {step}: {tag} — {}\n    end",
                    id(who),
                    label(text)
                );
            }
        }
    }
    s.push_str("```\n");
    Some(s)
}
