//! Positions as the protocol counts them (UTF-16 code units unless the client takes UTF-8) and
//! `file:` URIs, both ways.

use lsp_types::{Position, Range, Uri};

/// What a position's `character` counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf16,
}

/// Where each line of a text starts, to turn byte offsets into positions and back.
#[derive(Clone, Debug)]
pub struct Lines<'t> {
    text: &'t str,
    starts: Vec<usize>,
    encoding: Encoding,
}

impl<'t> Lines<'t> {
    pub fn new(text: &'t str, encoding: Encoding) -> Self {
        let starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Lines { text, starts, encoding }
    }

    /// The position of a byte offset; an offset past the end, or inside a character, moves back.
    pub fn position(&self, offset: u32) -> Position {
        let mut offset = (offset as usize).min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset).saturating_sub(1);
        let start = self.starts.get(line).copied().unwrap_or(0);
        let before = self.text.get(start..offset).unwrap_or_default();
        let character = match self.encoding {
            Encoding::Utf8 => before.len(),
            Encoding::Utf16 => before.chars().map(char::len_utf16).sum(),
        };
        Position::new(clamp(line), clamp(character))
    }

    pub fn range(&self, start: u32, end: u32) -> Range {
        Range::new(self.position(start), self.position(end))
    }

    /// The byte offset of a position; a character past the end of its line stands at the line's
    /// end, and a line past the end of the text at the text's end.
    pub fn offset(&self, position: Position) -> u32 {
        let Some(&start) = self.starts.get(position.line as usize) else {
            return clamp(self.text.len());
        };
        let end = self.starts.get(position.line as usize + 1).map_or(self.text.len(), |next| next - 1);
        let line = self.text.get(start..end).unwrap_or_default();
        let mut units = 0usize;
        for (index, c) in line.char_indices() {
            if units >= position.character as usize {
                return clamp(start + index);
            }
            units += match self.encoding {
                Encoding::Utf8 => c.len_utf8(),
                Encoding::Utf16 => c.len_utf16(),
            };
        }
        clamp(end)
    }

    pub fn text(&self) -> &'t str {
        self.text
    }
}

fn clamp(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The `file:` URI of an absolute path; any other key (an `untitled:` document's) is its own URI.
pub fn uri_of(key: &str) -> Option<Uri> {
    if !key.starts_with('/') {
        return key.parse().ok();
    }
    let mut uri = String::from("file://");
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            uri.push(char::from(byte));
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri.parse().ok()
}

/// The key of a document: the local path of a `file:` URI, or the URI itself for other schemes.
pub fn key_of(uri: &Uri) -> String {
    let text = uri.as_str();
    let Some(rest) = text.strip_prefix("file://") else { return text.to_string() };
    let path = rest.strip_prefix("localhost").unwrap_or(rest);
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        let hex = bytes.get(index + 1..index + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (byte, hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                index += 3;
            }
            _ => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_utf16_units_or_bytes() {
        let text = "role a \"é😀\"\nrole b\n";
        let utf16 = Lines::new(text, Encoding::Utf16);
        let after_emoji = text.find("😀").map_or(0, |i| i + 4) as u32;
        assert_eq!(utf16.position(after_emoji), Position::new(0, 11));
        assert_eq!(utf16.offset(Position::new(0, 11)), after_emoji);
        let utf8 = Lines::new(text, Encoding::Utf8);
        assert_eq!(utf8.position(after_emoji), Position::new(0, 14));
        assert_eq!(utf8.offset(Position::new(1, 99)), text.len() as u32 - 1);
        assert_eq!(utf8.offset(Position::new(9, 0)), text.len() as u32);
        // Inside a character: the character's start.
        assert_eq!(utf8.position(after_emoji - 1), Position::new(0, 10));
    }

    #[test]
    fn file_uris_round_trip() {
        let key = "/tmp/a dir/ü#x.ports";
        let uri = uri_of(key).expect("a URI");
        assert_eq!(uri.as_str(), "file:///tmp/a%20dir/%C3%BC%23x.ports");
        assert_eq!(key_of(&uri), key);
        let untitled = uri_of("untitled:Untitled-1").expect("a URI");
        assert_eq!(key_of(&untitled), "untitled:Untitled-1");
    }
}
