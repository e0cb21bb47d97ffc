//! Selector values as dbt matches them (Python's `fnmatch`: `*`, `?`, `[seq]`, `[!seq]`),
//! compiled once per selector with globset.
//!
//! fnmatch is not globset's syntax, so a value is translated first: `{`, `}` and `]` are
//! literal in fnmatch and escaped for globset; a run of `*` is one `*` (globset gives `**`
//! a recursive meaning fnmatch does not have); an unclosed `[` is a literal. The globset
//! options are fnmatch's: `*` and `?` match `/` too (`literal_separator(false)`, so
//! `path:models/*` takes every file below models/), `\` is an ordinary character
//! (`backslash_escape(false)`), and case counts.

use globset::{Candidate, GlobBuilder, GlobMatcher};

/// One selector value: an exact name, or a compiled glob.
pub struct Pattern {
    kind: Kind,
}

enum Kind {
    Exact(String),
    /// `ascii`: the pattern is ASCII, so non-ASCII text can be matched one byte per char.
    Glob {
        matcher: GlobMatcher,
        ascii: bool,
    },
}

impl Pattern {
    pub fn new(pattern: &str) -> Self {
        if !pattern.contains(['*', '?', '[']) {
            return Pattern {
                kind: Kind::Exact(pattern.to_string()),
            };
        }
        let built = GlobBuilder::new(&fnmatch_to_globset(pattern))
            .literal_separator(false)
            .backslash_escape(false)
            .case_insensitive(false)
            .build();
        let kind = match built {
            Ok(glob) => Kind::Glob {
                matcher: glob.compile_matcher(),
                ascii: pattern.is_ascii(),
            },
            // A class globset refuses (a reversed range such as `[z-a]`): the value is
            // taken literally rather than failing the whole selection.
            Err(_) => Kind::Exact(pattern.to_string()),
        };
        Pattern { kind }
    }

    pub fn matches(&self, text: &str) -> bool {
        match &self.kind {
            Kind::Exact(p) => p == text,
            // globset matches bytes, so its `?` would take one byte of a multi-byte char;
            // fnmatch takes one char. With an ASCII pattern no literal can match a
            // non-ASCII char, so each of those is one placeholder byte (0x80) here.
            Kind::Glob { matcher, ascii } if *ascii && !text.is_ascii() => {
                let one_byte_per_char: Vec<u8> = text
                    .chars()
                    .map(|c| u8::try_from(c).ok().filter(u8::is_ascii).unwrap_or(0x80))
                    .collect();
                matcher.is_match_candidate(&Candidate::from_bytes(&one_byte_per_char))
            }
            Kind::Glob { matcher, .. } => {
                matcher.is_match_candidate(&Candidate::from_bytes(text.as_bytes()))
            }
        }
    }
}

/// Shell-style matching of one value against one text (compiles the pattern each call:
/// use [`Pattern`] to match many texts).
pub fn glob(pattern: &str, text: &str) -> bool {
    Pattern::new(pattern).matches(text)
}

/// The fnmatch pattern in globset's syntax (see the module comment).
fn fnmatch_to_globset(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => {
                out.push('*');
                while chars.get(i + 1) == Some(&'*') {
                    i += 1;
                }
            }
            '?' => out.push('?'),
            '[' => match class_end(&chars, i) {
                Some(end) => {
                    push_class(&chars[i + 1..end], &mut out);
                    i = end;
                }
                None => out.push_str("[[]"),
            },
            c => out.push_str(&globset::escape(c.encode_utf8(&mut [0; 4]))),
        }
        i += 1;
    }
    out
}

/// Index of the `]` closing the class opened at `open`, as fnmatch finds it: a `]` right
/// after `[` or `[!` is a member, not the end.
fn class_end(chars: &[char], open: usize) -> Option<usize> {
    let mut j = open + 1;
    if chars.get(j) == Some(&'!') {
        j += 1;
    }
    if chars.get(j) == Some(&']') {
        j += 1;
    }
    chars[j.min(chars.len())..]
        .iter()
        .position(|&c| c == ']')
        .map(|k| j + k)
}

/// One class (`body` is between the brackets). A leading `!` negates in both syntaxes; a
/// leading `^` is a member in fnmatch but negates in globset, so it moves to the end.
fn push_class(body: &[char], out: &mut String) {
    let members: String = body.iter().collect();
    match members.strip_prefix('^') {
        None => {
            out.push('[');
            out.push_str(&members);
            out.push(']');
        }
        Some("") => out.push('^'),
        // A trailing `-` would make `-^` a range: a leading `-` is a member in globset.
        Some(rest) => match rest.strip_suffix('-') {
            Some(head) => {
                out.push_str("[-");
                out.push_str(head);
                out.push_str("^]");
            }
            None => {
                out.push('[');
                out.push_str(rest);
                out.push_str("^]");
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_and_question_marks_as_before() {
        assert!(glob("stg_*", "stg_orders"));
        assert!(!glob("stg_*", "orders"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(glob("*", ""));
        assert!(glob("exact", "exact"));
        assert!(!glob("Exact", "exact"), "case counts");
        // fnmatch: `*` and `?` match `/` too, so a path glob reaches into sub-folders.
        assert!(glob("models/*", "models/staging/stg_orders.sql"));
        assert!(glob(
            "models/staging?stg_*",
            "models/staging/stg_orders.sql"
        ));
        // `**` is just `*` (no recursive meaning): it does not stand for zero folders.
        assert!(!glob("models/**/x.sql", "models/x.sql"));
        assert!(glob("models/**/x.sql", "models/a/b/x.sql"));
    }

    #[test]
    fn one_question_mark_is_one_char() {
        assert!(glob("caf?", "café"));
        assert!(glob("?", "é"));
        assert!(!glob("??", "é"));
        assert!(glob("*é*", "café au lait"));
        assert!(glob("caf[!a]", "café"));
        assert!(!glob("caf[e]", "café"));
    }

    /// The old matcher knew only `*` and `?`: dbt's fnmatch classes were taken literally.
    #[test]
    fn character_classes_as_in_fnmatch() {
        assert!(glob("nightly_[ab]", "nightly_a"));
        assert!(!glob("nightly_[ab]", "nightly_c"));
        assert!(glob("v[0-9]", "v7"));
        assert!(glob("v[!0-9]", "vx"));
        assert!(!glob("v[!0-9]", "v7"));
        assert!(glob("[]]", "]"));
        assert!(glob("[!]]", "x"));
        assert!(glob("[^]", "^"), "a lone ^ in a class is a member");
        assert!(glob("[^a]", "a") && glob("[^a]", "^") && !glob("[^a]", "b"));
        assert!(glob("[^a-]", "-"));
    }

    #[test]
    fn the_rest_is_literal() {
        assert!(glob("a[b", "a[b"), "an unclosed class is a literal");
        assert!(
            glob("x*{a,b}", "x_{a,b}"),
            "no brace alternation in fnmatch"
        );
        assert!(!glob("x*{a,b}", "x_a"));
        assert!(glob("a\\*", "a\\bc"), "a backslash is an ordinary char");
        assert!(glob("a]*", "a]b"));
        assert!(
            glob("[z-a]", "[z-a]"),
            "a class globset refuses is taken literally"
        );
    }
}
