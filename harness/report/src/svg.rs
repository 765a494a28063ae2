//! Inline SVG sequence diagrams of a vector's timeline, for an HTML page:
//! the same story as the Mermaid diagrams ([`crate::story`]), drawn as
//! participant boxes over lifelines, arrows with their labels, notes, marks
//! in red (failures) or amber (visible access), and the gaps where steps
//! were left out.
//!
//! **Invariants:** self-contained (no script, no external font, image or
//! style sheet, no `id`, so any number of diagrams can share a page);
//! every text passes through [`escape`]; coordinates are integers, so the
//! same items give the same bytes.

use crate::story::{self, Row, Story};
use doormat_oracles::Item;
use std::fmt::Write;

/// Distance between lifelines.
const COL: usize = 200;
/// Margin around the drawing.
const MARGIN: usize = 12;
/// Font size and line height, in user units.
const FONT: usize = 12;
const LINE: usize = 15;
/// A generous average character width at [`FONT`], for wrapping.
const CHAR: usize = 7;
/// Padding inside boxes.
const PAD: usize = 5;

const INK: &str = "#222";
const LIFELINE: &str = "#999";
const BOX_FILL: &str = "#eef2f7";
const BOX_STROKE: &str = "#456";
const NOTE_FILL: &str = "#f7f7f2";
const NOTE_STROKE: &str = "#aaa";
const RED_FILL: &str = "#ffd6d6";
const RED_STROKE: &str = "#c00";
const AMBER_FILL: &str = "#ffecb3";
const AMBER_STROKE: &str = "#b7791f";

/// `s` as XML character data or attribute text: `&`, `<`, `>` and both
/// quotes as entities, control characters (which XML 1.0 refuses) as
/// spaces.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// `text` in lines of at most `width` characters, broken at spaces where
/// possible.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(4);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > width {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            lines.push(word.drain(..width).collect());
        }
        let word: String = word.into_iter().collect();
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Characters that fit in `px` user units.
fn fits(px: usize) -> usize {
    px.saturating_sub(2 * PAD) / CHAR
}

/// The x of participant `i`'s lifeline.
fn lifeline(i: usize) -> usize {
    MARGIN + COL / 2 + i * COL
}

/// Lines of text centred on `x`, the first baseline at `y`.
fn text(s: &mut String, x: usize, y: usize, lines: &[String], extra: &str) {
    let _ = write!(s, "<text x=\"{x}\" y=\"{y}\" text-anchor=\"middle\"{extra}>");
    for (n, l) in lines.iter().enumerate() {
        if n == 0 {
            let _ = write!(s, "<tspan x=\"{x}\">{}</tspan>", escape(l));
        } else {
            let _ = write!(s, "<tspan x=\"{x}\" dy=\"{LINE}\">{}</tspan>", escape(l));
        }
    }
    s.push_str("</text>\n");
}

/// A box of `lines` centred on `x` from `y`, in the given colours; gives
/// its height.
fn boxed(s: &mut String, x: usize, y: usize, lines: &[String], fill: &str, stroke: &str, width: usize) -> usize {
    let h = lines.len() * LINE + 2 * PAD;
    let _ = writeln!(
        s,
        "<rect x=\"{}\" y=\"{y}\" width=\"{width}\" height=\"{h}\" rx=\"3\" fill=\"{fill}\" stroke=\"{stroke}\"/>",
        x - width / 2
    );
    text(s, x, y + PAD + FONT, lines, "");
    h
}

/// The accessible title: what the diagram shows.
fn title(story: &Story<'_>) -> String {
    let count = |f: &dyn Fn(&Item) -> bool| story.rows.iter().filter(|r| matches!(r, Row::Item(i) if f(i))).count();
    let failures = count(&|i| i.fails());
    let visible = count(&|i| i.marked() && !i.fails());
    let mut t = format!(
        "Sequence diagram between {}: {failures} {} marked in red",
        story.participants.join(", "),
        if failures == 1 { "failure" } else { "failures" }
    );
    if visible > 0 {
        let _ = write!(t, ", {visible} visible access marked in amber");
    }
    t
}

/// The SVG diagram for `items`, or `None` when no item marks a failure.
pub fn sequence(items: &[Item]) -> Option<String> {
    let story = story::story(items)?;
    let width = 2 * MARGIN + COL * story.participants.len();
    let inner = COL - 2 * PAD;
    let mut body = String::new();
    // Participant boxes.
    let heads: Vec<Vec<String>> = story.participants.iter().map(|p| wrap(p, fits(inner))).collect();
    let head = heads.iter().map(Vec::len).max().unwrap_or(1) * LINE + 2 * PAD;
    for (i, lines) in heads.iter().enumerate() {
        let x = lifeline(i);
        let _ = writeln!(
            body,
            "<rect x=\"{}\" y=\"{MARGIN}\" width=\"{inner}\" height=\"{head}\" rx=\"3\" fill=\"{BOX_FILL}\" stroke=\"{BOX_STROKE}\"/>",
            x - inner / 2
        );
        text(&mut body, x, MARGIN + PAD + FONT, lines, " font-weight=\"bold\"");
    }
    let top = MARGIN + head;
    let mut y = top + 10;
    let mut rows = String::new();
    for row in &story.rows {
        match row {
            Row::Gap { from, to, whole } => {
                let lines = wrap(&story::gap_text(*from, *to, *whole), fits(width - 2 * MARGIN));
                let h = lines.len() * LINE + 2 * PAD;
                let _ = writeln!(
                    rows,
                    "<rect x=\"{MARGIN}\" y=\"{y}\" width=\"{}\" height=\"{h}\" fill=\"#fff\" stroke=\"{LIFELINE}\" stroke-dasharray=\"4 3\"/>",
                    width - 2 * MARGIN
                );
                text(&mut rows, width / 2, y + PAD + FONT, &lines, " font-style=\"italic\" fill=\"#555\"");
                y += h + 8;
            }
            Row::Item(i @ Item::Arrow { from, to, .. }) if from != to => {
                let (a, b) = (lifeline(story.index(from)), lifeline(story.index(to)));
                let span = a.abs_diff(b);
                let lines = wrap(&story::words(i), fits(span));
                text(&mut rows, a.min(b) + span / 2, y + FONT, &lines, "");
                let line_y = y + lines.len() * LINE + 4;
                let _ = writeln!(
                    rows,
                    "<line x1=\"{a}\" y1=\"{line_y}\" x2=\"{b}\" y2=\"{line_y}\" stroke=\"{INK}\" stroke-width=\"1.5\"/>"
                );
                let back = if b > a { b - 8 } else { b + 8 };
                let _ = writeln!(
                    rows,
                    "<polygon points=\"{b},{line_y} {back},{} {back},{}\" fill=\"{INK}\"/>",
                    line_y - 4,
                    line_y + 4
                );
                y = line_y + 10;
            }
            Row::Item(
                i @ (Item::Arrow { from: over, .. }
                | Item::Note { over, .. }
                | Item::Fault { over, .. }
                | Item::Access { who: over, .. }),
            ) => {
                let (fill, stroke) = match i {
                    Item::Access { hidden: false, .. } => (AMBER_FILL, AMBER_STROKE),
                    i if i.fails() => (RED_FILL, RED_STROKE),
                    _ => (NOTE_FILL, NOTE_STROKE),
                };
                let lines = wrap(&story::words(i), fits(inner));
                let h = boxed(&mut rows, lifeline(story.index(over)), y, &lines, fill, stroke, inner);
                y += h + 8;
            }
        }
    }
    let height = y + MARGIN;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" width=\"100%\" style=\"max-width: {width}px; height: auto\" role=\"img\" font-family=\"sans-serif\" font-size=\"{FONT}\" fill=\"{INK}\">"
    );
    let _ = writeln!(s, "<title>{}</title>", escape(&title(&story)));
    for i in 0..story.participants.len() {
        let x = lifeline(i);
        let _ = writeln!(
            s,
            "<line x1=\"{x}\" y1=\"{top}\" x2=\"{x}\" y2=\"{y}\" stroke=\"{LIFELINE}\" stroke-dasharray=\"5 4\"/>"
        );
    }
    s.push_str(&body);
    s.push_str(&rows);
    s.push_str("</svg>\n");
    Some(s)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::story::testing::{change_visible_only, hostile, timeline_of, GHOST};
    use quick_xml::escape::resolve_predefined_entity;
    use quick_xml::events::Event;
    use quick_xml::Reader;
    use quick_xml::XmlVersion;

    /// An element: its name and attributes, and the text directly in it.
    #[derive(Debug)]
    struct Element {
        name: String,
        attributes: Vec<(String, String)>,
        text: String,
    }

    /// Every element of a well-formed document with one root, in order;
    /// panics on anything else.
    fn parse(svg: &str) -> Vec<Element> {
        let mut reader = Reader::from_str(svg);
        let mut elements: Vec<Element> = Vec::new();
        let mut open: Vec<usize> = Vec::new();
        let mut roots = 0;
        loop {
            let event = reader.read_event().unwrap();
            let mut start = |e: &quick_xml::events::BytesStart<'_>, open: &mut Vec<usize>, empty: bool| {
                if open.is_empty() {
                    roots += 1;
                }
                let attributes = e
                    .attributes()
                    .map(|a| {
                        let a = a.unwrap();
                        (
                            String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                            a.normalized_value(XmlVersion::Implicit1_0).unwrap().into_owned(),
                        )
                    })
                    .collect();
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                elements.push(Element { name, attributes, text: String::new() });
                if !empty {
                    open.push(elements.len() - 1);
                }
            };
            match event {
                Event::Start(e) => start(&e, &mut open, false),
                Event::Empty(e) => start(&e, &mut open, true),
                Event::End(_) => {
                    open.pop().unwrap();
                }
                Event::Text(t) => {
                    let t = t.decode().unwrap();
                    match open.last() {
                        Some(&i) => elements[i].text.push_str(&t),
                        None => assert!(t.trim().is_empty(), "text outside the root: {t:?}"),
                    }
                }
                Event::GeneralRef(r) => {
                    let c = match r.resolve_char_ref().unwrap() {
                        Some(c) => c.to_string(),
                        None => resolve_predefined_entity(&r.decode().unwrap()).unwrap().to_owned(),
                    };
                    elements[*open.last().unwrap()].text.push_str(&c);
                }
                Event::Eof => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(open.is_empty(), "unclosed elements");
        assert_eq!(roots, 1);
        elements
    }

    fn attribute<'a>(e: &'a Element, name: &str) -> Option<&'a str> {
        e.attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The text of every `tspan`, in order.
    fn texts(elements: &[Element]) -> Vec<&str> {
        elements.iter().filter(|e| e.name == "tspan").map(|e| e.text.as_str()).collect()
    }

    #[test]
    fn a_ghost_diagram_is_well_formed_and_tells_the_story() {
        let svg = sequence(&timeline_of("ghost", GHOST)).unwrap();
        let elements = parse(&svg);
        let root = &elements[0];
        assert_eq!(root.name, "svg");
        assert_eq!(attribute(root, "width"), Some("100%"));
        assert_eq!(attribute(root, "role"), Some("img"));
        assert!(attribute(root, "viewBox").unwrap().split(' ').all(|n| n.parse::<usize>().is_ok()));
        assert_eq!(elements[1].name, "title");
        assert!(elements[1].text.contains("bob/tablet (ghost)"), "{}", elements[1].text);
        // Nothing that runs or loads.
        for e in &elements {
            assert!(["svg", "title", "line", "rect", "text", "tspan", "polygon"].contains(&e.name.as_str()), "{e:?}");
            assert!(e.attributes.iter().all(|(k, v)| !k.starts_with("on") && !v.contains("url(")), "{e:?}");
            for (k, v) in &e.attributes {
                if ["x", "y", "x1", "y1", "x2", "y2", "width", "height", "dy"].contains(&k.as_str()) && v != "100%" {
                    assert!(v.parse::<usize>().is_ok(), "{k}={v}");
                }
            }
        }
        let t = texts(&elements);
        for want in ["the provider", "alice/phone", "bob/phone", "bob/tablet (ghost)", "6: m3 to bob", "6: m3"] {
            assert!(t.contains(&want), "{want} in {t:#?}");
        }
        assert!(t.iter().any(|l| l.starts_with("6: ACCESS: reads m3")), "{t:#?}");
        assert!(t.iter().any(|l| l.starts_with("6: FAILS: sent m3")), "{t:#?}");
        // The access mark is red and sits on the ghost's lifeline.
        let ghost_x = elements
            .iter()
            .position(|e| e.name == "tspan" && e.text == "bob/tablet (ghost)")
            .map(|i| attribute(&elements[i], "x").unwrap().to_owned())
            .unwrap();
        let mark = elements.iter().position(|e| e.name == "tspan" && e.text.starts_with("6: ACCESS")).unwrap();
        assert_eq!(attribute(&elements[mark], "x"), Some(ghost_x.as_str()));
        assert_eq!(attribute(&elements[mark - 2], "fill"), Some(RED_FILL));
        assert_eq!(sequence(&timeline_of("ghost", GHOST)).unwrap(), svg);
    }

    #[test]
    fn visible_access_alone_draws_nothing_and_a_sender_not_told_is_no_access() {
        assert_eq!(sequence(&timeline_of("ratchet", GHOST)), None);
        let elements = parse(&sequence(&change_visible_only()).unwrap());
        let t = texts(&elements);
        assert!(!t.iter().any(|l| l.contains("ACCESS")), "{t:#?}");
        assert!(t.iter().any(|l| l.starts_with("6: FAILS: sent m3")), "{t:#?}");
    }

    #[test]
    fn every_text_is_escaped() {
        let svg = sequence(&hostile()).unwrap();
        assert!(!svg.contains("<b>") && !svg.contains("<script") && !svg.contains("<br>"), "{svg}");
        let elements = parse(&svg);
        let t = texts(&elements);
        assert!(t.contains(&"<b>&amp;\"'#;%%{x}`"), "{t:#?}");
        assert!(elements[1].text.contains("<b>&amp;"), "{}", elements[1].text);
        assert!(t.iter().any(|l| l.contains("<script>")), "{t:#?}");
    }

    #[test]
    fn long_timelines_are_cut_with_gaps() {
        let svg = sequence(&timeline_of("plaintext-relay", "vectors/long/group-churn.yaml")).unwrap();
        let t: Vec<String> = texts(&parse(&svg)).into_iter().map(str::to_owned).collect();
        assert!(t.iter().any(|l| l.contains("not shown")), "{t:#?}");
    }

    #[test]
    fn wrapping_keeps_every_character() {
        let text = "a long line with averyveryveryverylongwordthatdoesnotfit and more";
        let lines = wrap(text, 12);
        assert!(lines.iter().all(|l| l.chars().count() <= 12), "{lines:?}");
        assert_eq!(lines.concat().replace(' ', ""), text.replace(' ', ""));
    }
}
