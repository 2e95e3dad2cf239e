//! The server's rules for text in documents, shared by the server (which enforces
//! them) and clients (which can check before sending): what counts as an ID, and which
//! characters a name may not hold or must not consist of.

/// Longest ID accepted in a path or body.
pub const MAX_ID_LEN: usize = 100;

/// Whether `id` is a plain token (`Projects-1`, `feeds-builtin`): ASCII letters,
/// digits, `-` and `_` only, at most [`MAX_ID_LEN`], so it can never be a path trick
/// (`..`, `/`, `%2F`) or carry markup.
pub fn is_plain_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Bidirectional formatting characters (embeddings, overrides, isolates and marks):
/// they make a name display differently from what it is (`U+202E` reverses text).
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// Characters that show nothing by themselves: white space, controls, Unicode's
/// default-ignorable code points (zero-width space and joiners, word joiner, BOM,
/// variation selectors, tags, fillers, ...) and the blank braille pattern.
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_names_and_invisible_text() {
        assert!(is_plain_id("Environments-1") && is_plain_id("feeds-builtin"));
        assert!(!is_plain_id("") && !is_plain_id("Lifecycles/1") && !is_plain_id(" Spaces-1"));
        assert!(!is_plain_id(&"a".repeat(MAX_ID_LEN + 1)));
        assert!(is_bidi_control('\u{202E}') && !is_bidi_control('a'));
        assert!("\u{200B}\u{FEFF} ".chars().all(is_invisible));
        assert!(!"a\u{200B}".chars().all(is_invisible));
    }
}
