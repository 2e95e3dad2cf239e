//! Octopus service messages: `##octopus[name attr='<base64>' attr2="<base64>"]`.
//!
//! Every attribute value is base64 of UTF-8 text; either quote style is accepted. A line may
//! carry text around a message (and several messages); the text is still logged.

use base64::Engine as _;

/// The marker that starts a service message.
pub const MARKER: &[u8] = b"##octopus";

/// One parsed service message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceMessage {
    /// Message name, e.g. `setVariable`.
    pub name: String,
    /// Decoded attributes, in order.
    pub attributes: Vec<(String, String)>,
}

impl ServiceMessage {
    /// The decoded value of attribute `key` (exact name).
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A part of a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Ordinary text.
    Text(&'a str),
    /// A well-formed message.
    Message(ServiceMessage),
    /// Something that starts like a message but cannot be parsed (the raw text).
    Invalid(&'a str),
}

/// Splits a line into text and service messages.
pub fn parse_line(line: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("##octopus") {
        if at > 0 {
            pieces.push(Piece::Text(&rest[..at]));
        }
        let candidate = &rest[at..];
        let Some(body) = candidate.strip_prefix("##octopus[") else {
            // `##octopus` without `[`: ordinary text.
            pieces.push(Piece::Text(&candidate[..9]));
            rest = &candidate[9..];
            continue;
        };
        match body.find(']') {
            Some(end) => {
                let raw = &candidate[..10 + end + 1];
                match parse_body(&body[..end]) {
                    Some(m) => pieces.push(Piece::Message(m)),
                    None => pieces.push(Piece::Invalid(raw)),
                }
                rest = &body[end + 1..];
            }
            None => {
                pieces.push(Piece::Invalid(candidate));
                rest = "";
            }
        }
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    pieces
}

/// Parses `name key='v' key2="v2"` (the text between `[` and `]`).
fn parse_body(body: &str) -> Option<ServiceMessage> {
    let body = body.trim_matches(|c: char| c.is_whitespace());
    let name_end = body.find(char::is_whitespace).unwrap_or(body.len());
    let name = &body[..name_end];
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        return None;
    }
    let mut attributes = Vec::new();
    let mut rest = body[name_end..].trim_start();
    while !rest.is_empty() {
        let eq = rest.find('=')?;
        let key = rest[..eq].trim();
        if key.is_empty() || key.contains(char::is_whitespace) {
            return None;
        }
        let after = rest[eq + 1..].trim_start();
        let quote = after.chars().next()?;
        if quote != '\'' && quote != '"' {
            return None;
        }
        let close = after[1..].find(quote)?;
        let encoded = &after[1..1 + close];
        attributes.push((key.to_owned(), decode(encoded)?));
        rest = after[1 + close + 1..].trim_start();
    }
    Some(ServiceMessage {
        name: name.to_owned(),
        attributes,
    })
}

/// Decodes a base64 attribute (padding optional, surrounding whitespace ignored).
fn decode(encoded: &str) -> Option<String> {
    const LENIENT: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = LENIENT.decode(encoded.trim()).ok()?;
    String::from_utf8(bytes).ok()
}

/// Base64 of `text` for an attribute value.
pub fn encode(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(name: &str, attrs: &[(&str, &str)]) -> Piece<'static> {
        Piece::Message(ServiceMessage {
            name: name.into(),
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        })
    }

    #[test]
    fn parses_both_quote_styles_and_base64() {
        let line = format!(
            "##octopus[setVariable name='{}' value=\"{}\" sensitive='{}']",
            encode("Foo"),
            encode("bär baz"),
            encode("True")
        );
        assert_eq!(
            parse_line(&line),
            [msg(
                "setVariable",
                &[("name", "Foo"), ("value", "bär baz"), ("sensitive", "True")]
            )]
        );
    }

    #[test]
    fn message_without_attributes_and_surrounding_text() {
        assert_eq!(
            parse_line("before ##octopus[stdout-verbose] after"),
            [
                Piece::Text("before "),
                msg("stdout-verbose", &[]),
                Piece::Text(" after")
            ]
        );
        assert_eq!(
            parse_line("##octopus[a]##octopus[b x='eA==']"),
            [msg("a", &[]), msg("b", &[("x", "x")])]
        );
    }

    #[test]
    fn empty_value_and_unpadded_base64() {
        assert_eq!(
            parse_line("##octopus[mask value='']"),
            [msg("mask", &[("value", "")])]
        );
        assert_eq!(
            parse_line("##octopus[mask value='eHk']"),
            [msg("mask", &[("value", "xy")])]
        );
    }

    #[test]
    fn unparsable_messages_are_reported_raw() {
        for bad in [
            "##octopus[setVariable name='not base64!']",
            "##octopus[setVariable name=unquoted]",
            "##octopus[setVariable name='eA==]",
            "##octopus[]",
            "##octopus[bad name]",
            "##octopus[x a='/w==']",
        ] {
            let pieces = parse_line(bad);
            assert!(
                matches!(pieces.as_slice(), [Piece::Invalid(_)]),
                "{bad}: {pieces:?}"
            );
        }
        assert_eq!(
            parse_line("x ##octopus[never closed"),
            [Piece::Text("x "), Piece::Invalid("##octopus[never closed")]
        );
    }

    #[test]
    fn marker_without_bracket_is_text() {
        assert_eq!(
            parse_line("see ##octopus docs"),
            [
                Piece::Text("see "),
                Piece::Text("##octopus"),
                Piece::Text(" docs")
            ]
        );
    }

    #[test]
    fn attribute_lookup() {
        let Piece::Message(m) = &parse_line("##octopus[createArtifact path='YQ==' name='Yg==']")[0]
        else {
            panic!()
        };
        assert_eq!(m.attribute("path"), Some("a"));
        assert_eq!(m.attribute("name"), Some("b"));
        assert_eq!(m.attribute("length"), None);
    }
}
