//! Static checks on compiled SQL before anything reaches the warehouse: statement splitting
//! and a parse with sqlparser in the adapter's dialect.

use sqlparser::dialect::Dialect;
use sqlparser::parser::Parser;

/// Split a script on `;` outside quotes and comments. Empty statements are dropped; the
/// statements keep their original text (so the warehouse sees what the template wrote).
pub fn split_statements(sql: &str) -> Vec<String> {
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

fn push_statement(out: &mut Vec<String>, text: &str) {
    if !is_blank(text) {
        out.push(text.trim().to_string());
    }
}

/// Byte length of the whitespace and comments at the start of `text`.
pub fn leading_trivia_len(text: &str) -> usize {
    let mut rest = text;
    loop {
        let trimmed = rest.trim_start();
        if let Some(r) = trimmed.strip_prefix("--") {
            rest = r.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(r) = trimmed.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |(_, after)| after);
        } else {
            return text.len() - trimmed.len();
        }
    }
}

/// True when `text` holds only whitespace and comments.
pub fn is_blank(text: &str) -> bool {
    let mut rest = text.trim_start();
    loop {
        if rest.is_empty() {
            return true;
        }
        if let Some(r) = rest.strip_prefix("--") {
            rest = r
                .split_once('\n')
                .map_or("", |(_, after)| after)
                .trim_start();
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r
                .split_once("*/")
                .map_or("", |(_, after)| after)
                .trim_start();
        } else {
            return false;
        }
    }
}

/// A parse failure: sqlparser's message and the 1-based line and column in the SQL.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseFailure {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

/// Parse `sql` (one or more statements) in `dialect`.
pub fn check(dialect: &dyn Dialect, sql: &str) -> Result<(), ParseFailure> {
    match Parser::parse_sql(dialect, sql) {
        Ok(_) => Ok(()),
        Err(e) => {
            let message = e.to_string();
            // At end of input sqlparser gives no position: the end of the text is the place.
            let (line, column) = parse_position(&message).unwrap_or_else(|| {
                if message.contains("EOF") {
                    crate::error::line_col(sql, sql.trim_end().len())
                } else {
                    (1, 1)
                }
            });
            let message = message.trim_start_matches("sql parser error: ").to_string();
            Err(ParseFailure {
                message,
                line,
                column,
            })
        }
    }
}

/// sqlparser reports positions as "... at Line: 3, Column: 7".
fn parse_position(message: &str) -> Option<(usize, usize)> {
    let at = message.rfind("Line: ")?;
    let rest = &message[at + 6..];
    let (line, rest) = rest.split_once(", Column: ")?;
    let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((line.trim().parse().ok()?, column.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::DuckDbDialect;

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
    fn leading_trivia_skips_comments() {
        let s = "-- a\n/* b */\n  with x";
        assert_eq!(&s[leading_trivia_len(s)..], "with x");
        assert_eq!(leading_trivia_len("select"), 0);
    }

    #[test]
    fn reports_line_and_column() {
        let err = check(&DuckDbDialect {}, "select 1\nfrom t\nwhere (").unwrap_err();
        assert_eq!((err.line, err.column), (3, 8), "{err:?}");
        let err = check(&DuckDbDialect {}, "select 1\nfrom t\nwhere x = = 1").unwrap_err();
        assert_eq!(err.line, 3, "{err:?}");
        assert!(check(&DuckDbDialect {}, "select 1; select 2").is_ok());
    }
}
