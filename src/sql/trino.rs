//! Trino syntax sqlparser does not parse: the type `ARRAY(T)` (sqlparser takes `ARRAY<T>`,
//! and `ARRAY(T)` only in its ClickHouse dialect). Athena's compiled SQL is checked again
//! with the type written the way sqlparser reads it; nothing else changes.

use sqlparser::dialect::GenericDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

/// `sql` with each `ARRAY(` type after `AS` (a CAST's target, nested ones included) written
/// `ARRAY<...>`, or None when there is none (or the text does not tokenize).
pub fn angle_bracket_arrays(sql: &str) -> Option<String> {
    let tokens = Tokenizer::new(&GenericDialect {}, sql).tokenize().ok()?;
    let is_word = |t: &Token, w: &str| matches!(t, Token::Word(x) if x.value.eq_ignore_ascii_case(w) && x.quote_style.is_none());
    let mut out: Vec<String> = Vec::with_capacity(tokens.len());
    // Depths of the parentheses that opened an ARRAY type, to close them as `>`.
    let mut open: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    let mut in_type = false;
    let mut changed = false;
    let mut previous_word: Option<&Token> = None;
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        match t {
            Token::Word(_) if is_word(t, "array") => {
                let after_as = previous_word.is_some_and(|p| is_word(p, "as"));
                let next_is_paren = matches!(tokens.get(i + 1), Some(Token::LParen));
                if next_is_paren && (after_as || in_type) {
                    out.push("ARRAY<".into());
                    depth += 1;
                    open.push(depth);
                    in_type = true;
                    changed = true;
                    i += 2;
                    previous_word = Some(t);
                    continue;
                }
                out.push(t.to_string());
            }
            Token::LParen => {
                depth += 1;
                out.push("(".into());
            }
            Token::RParen => {
                if open.last() == Some(&depth) {
                    open.pop();
                    out.push(">".into());
                    in_type = !open.is_empty();
                } else {
                    out.push(")".into());
                }
                depth = depth.saturating_sub(1);
            }
            other => out.push(other.to_string()),
        }
        if !matches!(t, Token::Whitespace(_)) {
            previous_word = Some(t);
        }
        i += 1;
    }
    changed.then(|| out.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_types_in_casts_take_angle_brackets() {
        assert_eq!(
            angle_bracket_arrays("select cast(x as array(varchar)) as ids, f(a) from t").as_deref(),
            Some("select cast(x as ARRAY<varchar>) as ids, f(a) from t")
        );
        assert_eq!(
            angle_bracket_arrays("select cast(array[] as array(array(row(a int))))").as_deref(),
            Some("select cast(array[] as ARRAY<ARRAY<row(a int)>>)")
        );
        // An ARRAY constructor or a function named array is left alone.
        assert_eq!(
            angle_bracket_arrays("select array[1, 2], cardinality(x) from t"),
            None
        );
        assert_eq!(angle_bracket_arrays("select 'as array(x)' from t"), None);
    }
}
