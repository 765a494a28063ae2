//! Mermaid `sequenceDiagram`s of a vector's timeline (see [`crate::story`]
//! for what is drawn): sends and deliveries as arrows, what users and the
//! provider did and the notices devices showed as notes, and the marks on
//! the reader or the party at fault, in red (failures) or amber (visible
//! access).
//!
//! **Invariant:** text from the timeline reaches the diagram only through
//! [`label`], which leaves no character Mermaid would read as syntax or
//! markup.

use crate::story::{self, Row};
use doormat_oracles::Item;
use std::fmt::Write;

const RED: &str = "rgb(255, 205, 205)";
const AMBER: &str = "rgb(255, 236, 179)";

/// `s` as Mermaid text: `#`, `;`, `<`, `>`, `&`, backticks, `%` and braces
/// as Mermaid's entity codes (`#35;`), line breaks and other control
/// characters as spaces.
pub fn label(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '#' | ';' | '<' | '>' | '&' | '`' | '%' | '{' | '}' => {
                let _ = write!(out, "#{};", u32::from(c));
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The colour band a row sits in, if any.
fn band(row: &Row<'_>) -> Option<&'static str> {
    match row {
        Row::Item(Item::Access { hidden: false, .. }) => Some(AMBER),
        Row::Item(i) if i.fails() => Some(RED),
        _ => None,
    }
}

/// The diagram for `items` (a fenced Markdown block), or `None` when no
/// item marks a failure.
pub fn sequence(items: &[Item]) -> Option<String> {
    let story = story::story(items)?;
    let mut s = String::from("```mermaid\nsequenceDiagram\n");
    for (i, p) in story.participants.iter().enumerate() {
        let _ = writeln!(s, "    participant p{i} as {}", label(p));
    }
    let id = |p: &str| format!("p{}", story.index(p));
    let mut open: Option<&str> = None;
    for row in &story.rows {
        let colour = band(row);
        if open != colour {
            if open.is_some() {
                s.push_str("    end\n");
            }
            if let Some(c) = colour {
                let _ = writeln!(s, "    rect {c}");
            }
            open = colour;
        }
        match row {
            Row::Gap { from, to, whole } => {
                let _ = writeln!(s, "    Note over p0: {}", label(&story::gap_text(*from, *to, *whole)));
            }
            Row::Item(i @ Item::Arrow { from, to, .. }) => {
                let _ = writeln!(s, "    {}->>{}: {}", id(from), id(to), label(&story::words(i)));
            }
            Row::Item(i @ (Item::Note { over, .. } | Item::Fault { over, .. } | Item::Access { who: over, .. })) => {
                let _ = writeln!(s, "    Note over {}: {}", id(over), label(&story::words(i)));
            }
        }
    }
    if open.is_some() {
        s.push_str("    end\n");
    }
    s.push_str("```\n");
    Some(s)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::story::testing::{change_visible_only, hostile, timeline_of, GHOST};
    use crate::story::MAX_LINES;

    /// The participant id Mermaid uses for `name`.
    fn id(diagram: &str, name: &str) -> String {
        let line = diagram.lines().find(|l| l.ends_with(&format!(" as {name}"))).unwrap();
        line.trim().split(' ').nth(1).unwrap().to_owned()
    }

    #[test]
    fn a_ghost_diagram_shows_deliveries_and_access_on_the_reader() {
        let d = sequence(&timeline_of("ghost", GHOST)).unwrap();
        let (provider, alice, bob, ghost) =
            (id(&d, "the provider"), id(&d, "alice/phone"), id(&d, "bob/phone"), id(&d, "bob/tablet (ghost)"));
        assert!(d.contains(&format!("{alice}->>{provider}: 6: m3 to bob\n")), "{d}");
        assert!(d.contains(&format!("{provider}->>{bob}: 6: m3\n")), "{d}");
        assert!(d.contains(&format!("{provider}->>{ghost}: 6: m3\n")), "{d}");
        assert!(d.contains(&format!("Note over {ghost}: 6: ACCESS: reads m3 (recipients-only)\n")), "{d}");
        assert!(
            d.contains(&format!(
                "Note over {alice}: 6: FAILS: sent m3 without being told of bob/tablet (change-visible)\n"
            )),
            "{d}"
        );
        assert!(!d.contains(&format!("Note over {alice}: 6: ACCESS")), "{d}");
        // Marks sit in a red band.
        assert!(d.contains(&format!("rect {RED}\n    Note over {alice}: 6: FAILS")), "{d}");
        assert!(d.lines().count() <= MAX_LINES, "{d}");
    }

    #[test]
    fn notices_are_drawn() {
        // The ratchet tells alice of the new device: visible access, no diagram of its own;
        // with a failure added, the notice is drawn over the device that showed it.
        let mut items = timeline_of("ratchet", GHOST);
        assert!(items.iter().any(|i| matches!(i, Item::Access { hidden: false, .. })), "{items:#?}");
        items.push(Item::Fault { step: 9, over: "bob/phone".to_owned(), text: "made up".to_owned() });
        let d = sequence(&items).unwrap();
        let alice = id(&d, "alice/phone");
        assert!(
            d.lines()
                .any(|l| l.starts_with(&format!("    Note over {alice}: "))
                    && l.contains("shows \"device added bob/tablet")),
            "{d}"
        );
        assert!(d.contains(&format!("rect {AMBER}\n")), "{d}");
    }

    #[test]
    fn visible_access_alone_draws_no_diagram() {
        let items = timeline_of("ratchet", GHOST);
        assert!(items.iter().any(Item::marked));
        assert_eq!(sequence(&items), None);
    }

    #[test]
    fn a_change_visible_failure_is_no_access_over_the_sender() {
        let d = sequence(&change_visible_only()).unwrap();
        let alice = id(&d, "alice/phone");
        assert!(!d.contains("ACCESS"), "{d}");
        assert!(d.contains(&format!("Note over {alice}: 6: FAILS: sent m3 without being told of bob/tablet")), "{d}");
    }

    #[test]
    fn long_timelines_are_cut_around_the_marks() {
        let items = timeline_of("plaintext-relay", "vectors/long/group-churn.yaml");
        let d = sequence(&items).unwrap();
        assert!(d.lines().count() <= MAX_LINES, "{d}");
        assert!(d.contains("not shown"), "{d}");
        assert!(d.contains("ACCESS"), "{d}");
        assert_eq!(sequence(&items).unwrap(), d);
    }

    #[test]
    fn text_is_escaped() {
        let d = sequence(&hostile()).unwrap();
        let name = "#60;b#62;#38;amp#59;\"'#35;#59;#37;#37;#123;x#125;#96;";
        assert!(d.contains(&format!("    participant p1 as {name}\n")), "{d}");
        assert!(d.contains("    Note over p1: 1: enrolled #60;script#62;alert(1)#60;/script#62;\n"), "{d}");
        assert!(d.contains("    p1->>p0: 2: m1 #38; \"m2\" #60;br#62; #59; #35; end\n"), "{d}");
        // A line break in a text stays on the note's line.
        assert!(d.contains("    Note over p1: 2: ACCESS: reads m1 --#62;#62; x next line\n"), "{d}");
    }
}
