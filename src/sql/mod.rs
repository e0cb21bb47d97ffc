//! Static checks on compiled SQL before anything reaches the warehouse: statement splitting
//! and a parse with sqlparser in the adapter's dialect.

mod split;
pub mod trino;

use sqlparser::dialect::Dialect;
use sqlparser::parser::Parser;

pub use split::split_statements;

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
