//! What a sequence diagram draws of a vector's timeline, shared by the
//! Mermaid and the SVG renderers so both tell the same story: the items
//! kept (all of them when few, else the marks and the steps around them),
//! the gaps where items were left out, and the participants in order.
//!
//! **Invariants:** a story exists only for a timeline with a failure
//! (hidden access or a fault): visible access alone draws nothing; every
//! mark is kept before anything else; the same items give the same story.

use doormat_oracles::timeline::PROVIDER;
use doormat_oracles::Item;
use std::collections::BTreeSet;

/// Most lines a diagram takes: a line per participant, row (item or gap)
/// and colour band edge, and three for its frame (about what a Mermaid
/// block takes). Longer timelines keep the marks first, then the steps
/// where they happened, then the steps around those.
pub(crate) const MAX_LINES: usize = 60;
/// Steps kept on each side of a marked step when a timeline is cut.
const CONTEXT: usize = 2;

/// One row of a diagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Row<'a> {
    /// An item of the timeline.
    Item(&'a Item),
    /// Items left out between two rows: `more` of them, of steps `from`
    /// to `to`; `whole` when no step in that range is drawn at all.
    Gap { from: usize, to: usize, whole: bool },
}

/// The part of a timeline one diagram draws.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Story<'a> {
    /// Participants, the provider first, then in order of appearance.
    pub participants: Vec<&'a str>,
    /// Rows, in order.
    pub rows: Vec<Row<'a>>,
}

impl Story<'_> {
    /// The index of participant `p` (the provider's, 0, if unknown).
    pub(crate) fn index(&self, p: &str) -> usize {
        self.participants.iter().position(|x| *x == p).unwrap_or(0)
    }
}

/// How much an item matters when a timeline is cut: lower first; `None`
/// for an item far from every mark.
fn priority(item: &Item, failing: &BTreeSet<usize>, visible: &BTreeSet<usize>) -> Option<usize> {
    if item.fails() {
        return Some(0);
    }
    if item.marked() {
        return Some(1);
    }
    let step = item.step();
    // What happened at a step: a send or a move first, then deliveries,
    // then notices.
    let kind = match item {
        Item::Arrow { from, .. } if from == PROVIDER => 1,
        Item::Note { text, .. } if text.starts_with("shows ") => 2,
        _ => 0,
    };
    let near = |marked: &BTreeSet<usize>| marked.iter().map(|&m| m.abs_diff(step)).min();
    let distance = match near(failing) {
        Some(d) if d <= CONTEXT => d,
        _ if visible.contains(&step) => CONTEXT + 1,
        _ => return None,
    };
    Some(2 + distance * 3 + kind)
}

/// The story of `items`, or `None` when no item marks a failure.
pub(crate) fn story<'a>(items: &'a [Item]) -> Option<Story<'a>> {
    if !items.iter().any(Item::fails) {
        return None;
    }
    let all: Vec<usize> = (0..items.len()).collect();
    let whole = build(items, &all);
    if whole.lines() <= MAX_LINES {
        return Some(whole);
    }
    let failing: BTreeSet<usize> = items.iter().filter(|i| i.fails()).map(Item::step).collect();
    let visible: BTreeSet<usize> = items.iter().filter(|i| i.marked() && !i.fails()).map(Item::step).collect();
    let mut ranked: Vec<(usize, usize)> =
        items.iter().enumerate().filter_map(|(n, i)| priority(i, &failing, &visible).map(|p| (p, n))).collect();
    ranked.sort_unstable();
    let mut kept: Vec<usize> = Vec::new();
    let mut story = build(items, &kept);
    for (_, n) in ranked {
        let at = kept.partition_point(|&k| k < n);
        kept.insert(at, n);
        let more = build(items, &kept);
        // The first failure goes in whatever it costs.
        if more.lines() > MAX_LINES && story.rows.iter().any(|r| matches!(r, Row::Item(i) if i.fails())) {
            break;
        }
        story = more;
    }
    Some(story)
}

impl Story<'_> {
    /// The lines the story takes (see [`MAX_LINES`]).
    pub(crate) fn lines(&self) -> usize {
        let mut edges = 0;
        let mut band = None;
        for r in &self.rows {
            let b = match r {
                Row::Item(i) if i.fails() => Some(true),
                Row::Item(i) if i.marked() => Some(false),
                _ => None,
            };
            if b != band {
                edges += usize::from(band.is_some()) + usize::from(b.is_some());
                band = b;
            }
        }
        edges += usize::from(band.is_some());
        3 + self.participants.len() + self.rows.len() + edges
    }
}

/// The story of the items at indexes `kept` (in order), with gaps where
/// items were left out.
fn build<'a>(items: &'a [Item], kept: &[usize]) -> Story<'a> {
    let mut rows = Vec::new();
    let mut next = 0;
    for &k in kept {
        if k > next {
            rows.push(gap(items, next, k, rows.last()));
        }
        rows.push(Row::Item(&items[k]));
        next = k + 1;
    }
    if next < items.len() {
        rows.push(gap(items, next, items.len(), rows.last()));
    }
    let mut participants = vec![PROVIDER];
    let mut add = |p: &'a str| {
        if !participants.contains(&p) {
            participants.push(p);
        }
    };
    for r in &rows {
        match r {
            Row::Item(Item::Note { over, .. } | Item::Fault { over, .. }) => add(over),
            Row::Item(Item::Arrow { from, to, .. }) => {
                add(from);
                add(to);
            }
            Row::Item(Item::Access { who, .. }) => add(who),
            Row::Gap { .. } => {}
        }
    }
    Story { participants, rows }
}

/// The gap of items `from..to` (left out), after row `before`.
fn gap<'a>(items: &'a [Item], from: usize, to: usize, before: Option<&Row<'a>>) -> Row<'a> {
    let first = items[from].step();
    let last = items[to - 1].step();
    let drawn_before = match before {
        Some(Row::Item(i)) => i.step() >= first,
        _ => false,
    };
    let drawn_after = items.get(to).is_some_and(|i| i.step() <= last);
    Row::Gap { from: first, to: last, whole: !drawn_before && !drawn_after }
}

/// The words of a gap: "steps 4–9 not shown", "more of step 4 not shown".
pub(crate) fn gap_text(from: usize, to: usize, whole: bool) -> String {
    let steps = if from == to { format!("step {from}") } else { format!("steps {from}–{to}") };
    if whole {
        format!("… {steps} not shown")
    } else {
        format!("… more of {steps} not shown")
    }
}

/// An item's words with its step in front.
pub(crate) fn words(item: &Item) -> String {
    let (step, text) = match item {
        Item::Note { step, text, .. } | Item::Arrow { step, text, .. } => (*step, text.clone()),
        Item::Access { step, text, hidden: true, .. } => (*step, format!("ACCESS: {text}")),
        Item::Access { step, text, hidden: false, .. } => (*step, format!("visible access: {text}")),
        Item::Fault { step, text, .. } => (*step, format!("FAILS: {text}")),
    };
    format!("{step}: {text}")
}

/// Timelines for the renderers' tests: built-in designs run through the
/// repository's vectors, and made-up items.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod testing {
    use doormat_formats::{Parameters, Property, Vector};
    use doormat_oracles::Item;
    use std::path::Path;

    pub(crate) const GHOST: &str = "vectors/provider-moves/ghost-one-to-one.yaml";

    /// The run of a built-in design through a vector, and its judgement.
    pub(crate) fn judged(design: &str, vector: &str) -> (doormat_engine::run::Run, doormat_oracles::VectorResult) {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(vector);
        let src = std::fs::read_to_string(&p).unwrap();
        let id = p.file_stem().unwrap().to_string_lossy().into_owned();
        let scenario = Vector::parse(&p.display().to_string(), &id, &src).unwrap();
        let design = doormat_designs::builtin(design).unwrap();
        let run = doormat_engine::run(design.as_ref(), &scenario);
        let result = doormat_oracles::judge(&run, &Parameters::default());
        (run, result)
    }

    /// The timeline of a built-in design through a vector.
    pub(crate) fn timeline_of(design: &str, vector: &str) -> Vec<Item> {
        judged(design, vector).1.timeline
    }

    /// The ghost design on the ghost vector, marked for *change-visible*
    /// alone: the sender was not told, and no read is judged.
    pub(crate) fn change_visible_only() -> Vec<Item> {
        let (run, result) = judged("ghost", GHOST);
        let judgements: Vec<_> =
            result.judgements.into_iter().filter(|j| j.property == Property::ChangeVisible).collect();
        doormat_oracles::timeline::timeline(&run, &judgements)
    }

    /// A small timeline whose names and words hold characters markup
    /// reads as syntax.
    pub(crate) fn hostile() -> Vec<Item> {
        let name = "<b>&amp;\"'#;%%{x}`".to_owned();
        vec![
            Item::Note { step: 1, over: name.clone(), text: "enrolled <script>alert(1)</script>".to_owned() },
            Item::Arrow {
                step: 2,
                from: name.clone(),
                to: doormat_oracles::timeline::PROVIDER.to_owned(),
                text: "m1 & \"m2\" <br> ; # end".to_owned(),
            },
            Item::Access { step: 2, who: name, text: "reads m1 -->> x\nnext line".to_owned(), hidden: true },
        ]
    }
}
