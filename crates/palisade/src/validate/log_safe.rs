use std::fmt::{self, Write as _};

use super::is_invisible_or_bidi;

/// Untrusted text made safe to log: at most [`LogSafe::DEFAULT_MAX_CHARS`] characters
/// (or the chosen limit), with CR, LF, tab, every other control character (ESC, so no
/// terminal escape sequence survives), bidi and invisible characters, and backslash
/// escaped. The output is always a single line whose every visible character is either
/// from the input or part of an escape, so `a@b.c\r\nINFO admin logged in` can never forge
/// a second log line.
///
/// ```
/// use palisade::validate::LogSafe;
/// let line = format!("login failed for {}", LogSafe::new("bob\n\x1b[2Jroot"));
/// assert_eq!(line, r"login failed for bob\n\u{1b}[2Jroot");
/// ```
#[derive(Clone, Copy)]
pub struct LogSafe<'a> {
    text: &'a str,
    max_chars: usize,
}

impl<'a> LogSafe<'a> {
    /// Default number of characters kept.
    pub const DEFAULT_MAX_CHARS: usize = 64;

    /// Wraps `text` with the default limit.
    pub fn new(text: &'a str) -> Self {
        Self::with_max_chars(text, Self::DEFAULT_MAX_CHARS)
    }

    /// Wraps `text`, keeping at most `max_chars` characters of it.
    pub fn with_max_chars(text: &'a str, max_chars: usize) -> Self {
        Self { text, max_chars }
    }
}

impl fmt::Display for LogSafe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut chars = self.text.chars();
        for c in chars.by_ref().take(self.max_chars) {
            match c {
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if c.is_control() || is_invisible_or_bidi(c) || is_line_separator(c) => {
                    write!(f, "\\u{{{:x}}}", c as u32)?
                }
                c => f.write_char(c)?,
            }
        }
        let rest = chars.count();
        if rest > 0 {
            write!(f, "…(+{rest} chars)")?;
        }
        Ok(())
    }
}

impl fmt::Debug for LogSafe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// Unicode line and paragraph separators, which some log viewers break lines on.
fn is_line_separator(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}')
}
