//! Text from a scenario file quoted in a message, bounded: a hostile file (a name a
//! million characters long) still gives a message of a few lines.

/// Characters of a string or name quoted in a message.
const QUOTE_MOST: usize = 40;

/// `text` quoted for a message: in double quotes with escapes, and cut after
/// [`QUOTE_MOST`] characters with the full length said.
pub(crate) fn quoted(text: &str) -> String {
    let length = text.chars().count();
    if length <= QUOTE_MOST {
        format!("{text:?}")
    } else {
        let head: String = text.chars().take(QUOTE_MOST).collect();
        format!("{:?}... ({length} characters)", head)
    }
}

/// `text` cut to `most` characters, with `...` when it was longer.
pub(super) fn bounded(text: &str, most: usize) -> String {
    match text.char_indices().nth(most) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_bounded() {
        assert_eq!(quoted("Frigate"), "\"Frigate\"");
        let long = quoted(&"é".repeat(1_000_000));
        assert!(
            long.len() < 200 && long.ends_with("(1000000 characters)"),
            "{long}"
        );
    }
}
