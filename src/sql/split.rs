//! Splitting a script into statements at its `;`s, found with sqlparser's tokenizer so that
//! a `;` inside a string (`'…'`, `E'…\'…'`, `$$…$$`, `$tag$…$tag$`), a quoted identifier
//! (`"…"`, `` `…` ``) or a comment does not end a statement.

use sqlparser::dialect::Dialect;
use sqlparser::tokenizer::{Location, Token, Tokenizer};

/// The quoting both engines' SQL uses, for finding statement ends only (parsing uses the
/// adapter's dialect): DuckDB's `E'…'` escapes and `$$` strings, Athena's backquoted
/// identifiers. sqlparser's DuckDbDialect knows neither `E'…'` nor backquotes, and its
/// GenericDialect adds forms neither engine has (`b'…'`, `r'…'`, `/*! … */` hints whose
/// `;` would count).
#[derive(Debug)]
struct SplitDialect;

impl Dialect for SplitDialect {
    fn is_identifier_start(&self, ch: char) -> bool {
        ch.is_alphabetic() || ch == '_'
    }

    /// `$` too, as in PostgreSQL and DuckDB: `a$$` is a name, not the start of a string.
    fn is_identifier_part(&self, ch: char) -> bool {
        ch.is_alphanumeric() || ch == '_' || ch == '$'
    }

    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        ch == '"' || ch == '`'
    }

    fn supports_string_escape_constant(&self) -> bool {
        true
    }
}

/// Split a script on `;` outside strings, quoted identifiers and comments. Empty statements
/// are dropped; the statements keep their original text (so the warehouse sees what the
/// template wrote). Text the tokenizer refuses (an unterminated string or comment) is split
/// as before the tokenizer was used, by quote characters alone, so its error still comes
/// from the warehouse.
pub fn split_statements(sql: &str) -> Vec<String> {
    match semicolon_offsets(sql) {
        Some(ends) => {
            let mut out = Vec::new();
            let mut start = 0;
            for end in ends {
                push_statement(&mut out, sql.get(start..end).unwrap_or_default());
                start = end + 1;
            }
            push_statement(&mut out, sql.get(start..).unwrap_or_default());
            out
        }
        None => split_by_quote_chars(sql),
    }
}

/// Byte offsets of the `;` tokens, or None when the text does not tokenize.
fn semicolon_offsets(sql: &str) -> Option<Vec<usize>> {
    let tokens = Tokenizer::new(&SplitDialect, sql)
        .with_unescape(false)
        .tokenize_with_location()
        .ok()?;
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(sql.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    tokens
        .iter()
        .filter(|t| t.token == Token::SemiColon)
        .map(|t| {
            let at = byte_offset(sql, &line_starts, t.span.start)?;
            // A position that is not a `;` would cut the text in the wrong place.
            (sql.as_bytes().get(at) == Some(&b';')).then_some(at)
        })
        .collect()
}

/// The byte offset of a tokenizer location: lines are 1-based and end at `\n`; columns are
/// 1-based and count chars, not bytes.
fn byte_offset(sql: &str, line_starts: &[usize], at: Location) -> Option<usize> {
    let line = usize::try_from(at.line).ok()?.checked_sub(1)?;
    let column = usize::try_from(at.column).ok()?.checked_sub(1)?;
    let line_start = *line_starts.get(line)?;
    let rest = sql.get(line_start..)?;
    rest.char_indices()
        .nth(column)
        .map(|(offset, _)| line_start + offset)
}

fn push_statement(out: &mut Vec<String>, text: &str) {
    if !super::is_blank(text) {
        out.push(text.trim().to_string());
    }
}

/// The splitter from before the tokenizer: `'`, `"` and `` ` `` with doubled-quote
/// escapes, `--` and `/* */` comments. Kept for text the tokenizer refuses.
fn split_by_quote_chars(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = sql.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' | b'`' => {
                let q = bytes[i];
                i += 1;
                while i < bytes.len() {
                    if bytes[i] == q {
                        // A doubled quote is an escaped quote.
                        if i + 1 < bytes.len() && bytes[i + 1] == q {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b';' => {
                push_statement(&mut out, &sql[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    push_statement(&mut out, &sql[start.min(sql.len())..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_outside_quotes_and_comments() {
        let s = "select 'a;b'; -- c;d\nselect \"x;\" /* ; */ from t;\n;  ";
        assert_eq!(
            split_statements(s),
            vec!["select 'a;b'", "-- c;d\nselect \"x;\" /* ; */ from t"]
        );
        assert_eq!(split_statements("select 'it''s;'"), vec!["select 'it''s;'"]);
        assert!(split_statements("-- only a comment\n").is_empty());
    }

    #[test]
    fn dollar_quoted_strings_are_one_token() {
        let s = "create macro m() as $$ a; b $$; select $tag$ x; $$ y $tag$ ; select 1";
        assert_eq!(
            split_statements(s),
            vec![
                "create macro m() as $$ a; b $$",
                "select $tag$ x; $$ y $tag$",
                "select 1"
            ]
        );
        assert_eq!(split_by_quote_chars("select $$ a; b $$").len(), 2);
    }

    #[test]
    fn escape_strings_keep_their_backslashed_quote() {
        let s = r"select E'it\'s; x'; select e'\\'; select 2";
        assert_eq!(
            split_statements(s),
            vec![r"select E'it\'s; x'", r"select e'\\'", "select 2"]
        );
        // A plain string has no backslash escape: this one ends at the second quote.
        assert_eq!(
            split_statements(r"select 'a\'; select 'b'"),
            vec![r"select 'a\'", "select 'b'"]
        );
    }

    #[test]
    fn comments_and_quoted_names_hide_semicolons() {
        let s = "/* a; b */ select 1 -- c; d\n; select `x;y`, \"p;\"\"q\" from t";
        assert_eq!(
            split_statements(s),
            vec![
                "/* a; b */ select 1 -- c; d",
                "select `x;y`, \"p;\"\"q\" from t"
            ]
        );
    }

    #[test]
    fn multi_byte_text_is_cut_at_char_boundaries() {
        let s = "select 'é;ü' as \"naïve;\";\n-- ß;\nselect 'ö' ; select '日本;語'";
        assert_eq!(
            split_statements(s),
            vec![
                "select 'é;ü' as \"naïve;\"",
                "-- ß;\nselect 'ö'",
                "select '日本;語'"
            ]
        );
        assert_eq!(
            split_statements("select 'über';\r\nselect 'ça'"),
            vec!["select 'über'", "select 'ça'"]
        );
    }

    #[test]
    fn text_that_does_not_tokenize_splits_as_before() {
        for s in [
            "select 'unterminated; select 2",
            "select 1; /* open; comment",
            "select $$ open; select 2",
        ] {
            assert_eq!(split_statements(s), split_by_quote_chars(s), "{s}");
        }
        assert_eq!(
            split_statements("select 1; select 'open"),
            vec!["select 1", "select 'open"]
        );
    }
}
