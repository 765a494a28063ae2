//! Sequence diagrams of a vector's timeline as inline SVG, for the HTML
//! pages. (For now it draws nothing.)

use doormat_oracles::Item;

/// The diagram for `items`, or `None` when the vector has no finding.
pub fn sequence(_items: &[Item]) -> Option<String> {
    None
}
