//! One scanner for the Jinja tags of a file (`{% ... %}`, `{# ... #}`), lexed the way
//! minijinja lexes them, and the block finders built on it: macro, test, docs and snapshot
//! blocks, comments blanked.
//!
//! The scanner skips what Jinja does not read as tags: the inside of `{# comments #}`, of
//! `{{ expressions }}` and of `{% raw %}...{% endraw %}`, and quoted strings inside a tag
//! (`{% set x = "%}" %}`). Every offset it gives sits on an ASCII delimiter, so slicing the
//! text there never cuts a multi-byte character.

use std::ops::Range;

/// A `{% ... %}` tag: where it sits, its name and its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag<'a> {
    /// Byte offset of the tag's `{%`.
    pub start: usize,
    /// Byte offset just past the tag's `%}`.
    pub end: usize,
    /// The text between `{%` and `%}`, whitespace control included (`- macro a(x) -`).
    pub inner: &'a str,
    /// The first word (`macro`, `endmacro`, `docs`); empty for a tag without one.
    pub name: &'a str,
    /// What follows the name, trimmed, without the whitespace control (`a(x)`).
    pub args: &'a str,
    /// Byte offset of `args` in the source (for rewriting part of a tag in place).
    pub args_start: usize,
    /// `{%-`: whitespace before the tag is removed.
    pub trim_before: bool,
    /// `-%}`: whitespace after the tag is removed.
    pub trim_after: bool,
}

impl<'a> Tag<'a> {
    /// The tag of `source[start..end]` (`{%` at `start`, `%}` ending at `end`).
    fn new(source: &'a str, start: usize, end: usize) -> Self {
        let inner = slice(source, start + 2..end.saturating_sub(2));
        let (trim_before, body) = match inner.strip_prefix(['-', '+']) {
            Some(body) => (inner.starts_with('-'), body),
            None => (false, inner),
        };
        let control_len = inner.len() - body.len();
        let (trim_after, body) = match body.strip_suffix(['-', '+']) {
            Some(rest) => (body.ends_with('-'), rest),
            None => (false, body),
        };
        // Whitespace control and spaces before the name.
        let lead = control_len + body.len() - body.trim_start().len();
        let body = body.trim();
        let name_len = body
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
            .map_or(body.len(), |(i, _)| i);
        let (name, rest) = body.split_at(name_len);
        let args = rest.trim_start();
        Tag {
            start,
            end,
            inner,
            name,
            args: args.trim_end(),
            args_start: start + 2 + lead + name_len + (rest.len() - args.len()),
            trim_before,
            trim_after,
        }
    }

    /// The tag as written, `{%` to `%}`.
    pub fn text(&self, source: &'a str) -> &'a str {
        slice(source, self.start..self.end)
    }
}

/// What the scanner finds: a tag, a comment (its byte range, `{#` to `#}`) or an
/// expression (its byte range, `{{` to `}}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token<'a> {
    Tag(Tag<'a>),
    Comment(Range<usize>),
    Expression(Range<usize>),
}

impl Token<'_> {
    /// The Jinja code a template runs: a tag's or an expression's text between its
    /// delimiters (whitespace control included); `None` for a comment.
    pub fn code<'s>(&self, source: &'s str) -> Option<&'s str> {
        match self {
            Token::Tag(tag) => Some(slice(source, tag.start + 2..tag.end.saturating_sub(2))),
            Token::Expression(r) => Some(slice(source, r.start + 2..r.end.saturating_sub(2))),
            Token::Comment(_) => None,
        }
    }
}

/// The tags, comments and expressions of a Jinja text, in order. An unclosed tag, comment, expression
/// or raw block ends the scan (the template parser reports it).
#[derive(Debug, Clone)]
pub struct Tokens<'a> {
    source: &'a str,
    pos: usize,
    /// After `{% raw %}`: only its `{% endraw %}` counts.
    in_raw: bool,
}

/// The tags, comments and expressions of `source`.
pub fn tokens(source: &str) -> Tokens<'_> {
    Tokens {
        source,
        pos: 0,
        in_raw: false,
    }
}

/// The `{% ... %}` tags of `source` (comments, expressions and raw blocks skipped).
pub fn tags(source: &str) -> impl Iterator<Item = Tag<'_>> {
    tokens(source).filter_map(|t| match t {
        Token::Tag(tag) => Some(tag),
        Token::Comment(_) | Token::Expression(_) => None,
    })
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        let token = if self.in_raw {
            self.end_of_raw()
        } else {
            self.next_token()
        };
        if token.is_none() {
            self.pos = self.source.len();
        }
        token
    }
}

impl<'a> Tokens<'a> {
    fn next_token(&mut self) -> Option<Token<'a>> {
        let bytes = self.source.as_bytes();
        loop {
            let open = self.pos + self.source.get(self.pos..)?.find('{')?;
            match bytes.get(open + 1) {
                Some(b'#') => {
                    let close = open + 2 + self.source.get(open + 2..)?.find("#}")? + 2;
                    self.pos = close;
                    return Some(Token::Comment(open..close));
                }
                Some(b'{') => {
                    let close = closing(bytes, open + 2, b"}}")?;
                    self.pos = close;
                    return Some(Token::Expression(open..close));
                }
                Some(b'%') => {
                    let close = closing(bytes, open + 2, b"%}")?;
                    self.pos = close;
                    let tag = Tag::new(self.source, open, close);
                    self.in_raw = tag.name == "raw" && tag.args.is_empty();
                    return Some(Token::Tag(tag));
                }
                _ => self.pos = open + 1,
            }
        }
    }

    /// The `{% endraw %}` closing a raw block: the first `{%` followed by `endraw` (spaces
    /// and whitespace control allowed) and `%}`, whatever comes between.
    fn end_of_raw(&mut self) -> Option<Token<'a>> {
        let mut search = self.pos;
        loop {
            let open = search + self.source.get(search..)?.find("{%")?;
            let after = self.source.get(open + 2..)?;
            if let Some(len) = endraw_len(after) {
                let close = open + 2 + len;
                self.pos = close;
                self.in_raw = false;
                return Some(Token::Tag(Tag::new(self.source, open, close)));
            }
            search = open + 2;
        }
    }
}

/// The length of `-? endraw -?%}` at the start of `text` (minijinja's rule), if it is there.
fn endraw_len(text: &str) -> Option<usize> {
    let rest = text.strip_prefix(['-', '+']).unwrap_or(text);
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let rest = rest.strip_prefix("endraw")?;
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let rest = rest.strip_prefix(['-', '+']).unwrap_or(rest);
    let rest = rest.strip_prefix("%}")?;
    Some(text.len() - rest.len())
}

/// The offset just past `end` (`%}` or `}}`), looking from `from` inside a tag or an
/// expression: quoted strings and open brackets do not end it, as in minijinja's lexer.
fn closing(bytes: &[u8], from: usize, end: &[u8; 2]) -> Option<usize> {
    let mut depth = 0i64;
    let mut quote: Option<u8> = None;
    let mut i = from;
    while let Some(&b) = bytes.get(i) {
        if let Some(q) = quote {
            if b == b'\\' {
                i += 2;
                continue;
            }
            if b == q {
                quote = None;
            }
        } else if depth <= 0 && bytes.get(i..i + 2) == Some(end.as_slice()) {
            return Some(i + 2);
        } else {
            match b {
                b'\'' | b'"' => quote = Some(b),
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => depth -= 1,
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// `text[range]`, or "" where the range is not in it (never the case for the scanner's
/// offsets, which sit on ASCII delimiters).
fn slice(text: &str, range: Range<usize>) -> &str {
    text.get(range).unwrap_or("")
}

/// Jinja comments (`{# ... #}`) blanked, their newlines kept (so template lines stay the
/// file's): a macro commented out is not a definition.
pub fn blank_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for token in tokens(text) {
        if let Token::Comment(comment) = token {
            out.push_str(slice(text, copied..comment.start));
            out.extend(slice(text, comment.clone()).chars().filter(|c| *c == '\n'));
            copied = comment.end;
        }
    }
    out.push_str(slice(text, copied..text.len()));
    out
}

/// `{% test name(args) %}...{% endtest %}` is a macro named `test_name` (as in dbt).
pub fn rewrite_test_blocks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for tag in tags(text) {
        let rewritten = match tag.name {
            "test" if !tag.args.is_empty() => {
                // Whitespace control and spaces before the name, and all after it, kept.
                let lead_len =
                    tag.inner.len() - tag.inner.trim_start_matches(['-', '+']).trim_start().len();
                let lead = slice(tag.inner, 0..lead_len);
                let after = slice(tag.inner, lead_len + tag.name.len()..tag.inner.len());
                format!("{{%{lead}macro test_{}%}}", after.trim_start())
            }
            "endtest" if tag.args.is_empty() => {
                format!("{{%{}%}}", tag.inner.replace("endtest", "endmacro"))
            }
            _ => continue,
        };
        out.push_str(slice(text, copied..tag.start));
        out.push_str(&rewritten);
        copied = tag.end;
    }
    out.push_str(slice(text, copied..text.len()));
    out
}

/// The name a `{% macro name(...) %}` tag defines: its leading identifier.
fn macro_name(tag: &Tag) -> String {
    tag.args
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// Each top-level `{% macro name(...) %}...{% endmacro %}` block of a file, as (name, block,
/// 1-based line where it starts). Nested macros stay inside their parent's block.
pub fn macro_blocks(source: &str) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start: Option<(usize, String)> = None;
    for tag in tags(source) {
        if tag.name == "macro" && !tag.args.is_empty() {
            if depth == 0 {
                start = Some((tag.start, macro_name(&tag)));
            }
            depth += 1;
        } else if tag.name == "endmacro" && tag.args.is_empty() {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                if let Some((begin, name)) = start.take() {
                    let line = slice(source, 0..begin).matches('\n').count() + 1;
                    out.push((name, slice(source, begin..tag.end).to_string(), line));
                }
            }
        }
    }
    out
}

/// Names of the `{% macro name(...) %}` blocks in a file (nested ones too).
pub fn macro_names(source: &str) -> Vec<String> {
    tags(source)
        .filter(|tag| tag.name == "macro")
        .map(|tag| macro_name(&tag))
        .filter(|name| !name.is_empty())
        .collect()
}

/// `{% docs name %}...{% enddocs %}` blocks in a Markdown file. A docs block whose next tag
/// is not its `{% enddocs %}` is left out.
pub fn doc_blocks(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut tags = tags(text).peekable();
    while let Some(tag) = tags.next() {
        if tag.name != "docs" || tag.args.is_empty() {
            continue;
        }
        let Some(end) = tags
            .peek()
            .filter(|t| t.name == "enddocs" && t.args.is_empty())
        else {
            continue;
        };
        let body = slice(text, tag.end..end.start).trim().to_string();
        out.push((tag.args.to_string(), body));
        tags.next();
    }
    out
}

/// The (name, query) of each `{% snapshot name %}...{% endsnapshot %}` block; the query
/// keeps its line breaks, padded so that template lines stay the file's.
pub(super) fn snapshot_blocks(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut tags = tags(text);
    while let Some(tag) = tags.next() {
        if tag.name != "snapshot" || tag.args.is_empty() {
            continue;
        }
        let name = tag.args.to_string();
        if !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(format!(
                "'{{% snapshot {name} %}}': a snapshot needs a plain name"
            ));
        }
        let Some(end) = tags.find(|t| t.name == "endsnapshot" && t.args.is_empty()) else {
            return Err(format!("snapshot '{name}' has no {{% endsnapshot %}}"));
        };
        let line = slice(text, 0..tag.end).matches('\n').count();
        let body = format!("{}{}", "\n".repeat(line), slice(text, tag.end..end.start));
        out.push((name, body));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(source: &str) -> Vec<&str> {
        tags(source).map(|t| t.name).collect()
    }

    #[test]
    fn tags_have_offsets_names_arguments_and_whitespace_control() {
        let src = "a {%- macro m(x, y='%}') +%} b {%endmacro-%}";
        let found: Vec<Tag> = tags(src).collect();
        assert_eq!(found.len(), 2);
        let m = &found[0];
        assert_eq!((m.name, m.args), ("macro", "m(x, y='%}')"));
        assert_eq!((m.trim_before, m.trim_after), (true, false));
        assert_eq!(m.text(src), "{%- macro m(x, y='%}') +%}");
        assert_eq!(m.inner, "- macro m(x, y='%}') +");
        assert_eq!(
            src.get(m.args_start..m.args_start + m.args.len()),
            Some(m.args)
        );
        let e = &found[1];
        assert_eq!(
            (e.name, e.args, e.trim_before, e.trim_after),
            ("endmacro", "", false, true)
        );
        assert_eq!(e.text(src), "{%endmacro-%}");
        assert_eq!(e.end, src.len());
    }

    #[test]
    fn expressions_strings_and_brackets_do_not_end_or_start_tags() {
        // `{%` inside an expression's string is text; `%}` inside a tag's string or
        // brackets does not close the tag.
        let src = "{{ '{% macro no() %}' }}{% set d = {'k': '%}'} %}{{ {'a': {'b': 1}}}}{% if x %}";
        assert_eq!(names(src), vec!["set", "if"]);
        assert_eq!(names(r#"{% set s = "a\"%}b" %}{% x %}"#), vec!["set", "x"]);
    }

    #[test]
    fn args_start_is_where_the_arguments_sit() {
        for src in [
            "{%set x = 1%}",
            "{%-  set   x = 1 -%}",
            "{%+\tset\nx = 'ё' +%}",
            "{% endif %}",
        ] {
            for tag in tags(src) {
                let args = src.get(tag.args_start..tag.args_start + tag.args.len());
                assert_eq!(args, Some(tag.args), "{src}");
            }
        }
    }

    #[test]
    fn expressions_are_tokens_with_their_code() {
        let src = "a {{ f('}}') }} {%- if g(1) %}{# {{ h() }} #}{% raw %}{{ i() }}{% endraw %}";
        let found: Vec<Token> = tokens(src).collect();
        assert_eq!(found[0], Token::Expression(2..15));
        let code: Vec<&str> = found.iter().filter_map(|t| t.code(src)).collect();
        assert_eq!(code, vec![" f('}}') ", "- if g(1) ", " raw ", " endraw "]);
        // Unclosed: the scan ends.
        assert_eq!(tokens("{{ f(").count(), 0);
    }

    #[test]
    fn comments_are_tokens_and_hide_the_tags_inside() {
        let src = "{# {% macro a() %}{% endmacro %} #}{% macro b() %}{% endmacro %}";
        let kinds: Vec<Token> = tokens(src).collect();
        assert_eq!(kinds[0], Token::Comment(0..35));
        assert_eq!(macro_names(src), vec!["b"]);
        assert_eq!(macro_blocks(src).len(), 1);
        let md = "{# {% docs hidden %}x{% enddocs %} #}{% docs shown %}y{% enddocs %}";
        assert_eq!(doc_blocks(md), vec![("shown".into(), "y".into())]);
        let snap = "{#- {% snapshot hidden %} -#}{% snapshot s %}select 1{% endsnapshot %}";
        let blocks = snapshot_blocks(snap).unwrap_or_default();
        assert_eq!(blocks, vec![("s".into(), "select 1".into())]);
    }

    #[test]
    fn raw_blocks_hide_macros_docs_snapshots_tests_and_comments() {
        let src = "{% raw %}{% macro a() %}{% endmacro %}{% docs d %}x{% enddocs %}\
                   {% snapshot s %}q{% endsnapshot %}{% test t(m) %}{% endtest %}{# c #}\
                   {% endraw %}{% macro b() %}{% endmacro %}";
        assert_eq!(macro_names(src), vec!["b"]);
        let blocks = macro_blocks(src);
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].0, "b");
        assert!(doc_blocks(src).is_empty());
        assert_eq!(snapshot_blocks(src), Ok(vec![]));
        // Text inside raw is left as it is: no test rewritten, no comment blanked.
        assert_eq!(rewrite_test_blocks(src), src);
        assert_eq!(blank_comments(src), src);
        assert_eq!(names(src), vec!["raw", "endraw", "macro", "endmacro"]);
    }

    #[test]
    fn raw_blocks_with_whitespace_control() {
        let src = "{%- raw -%}{% macro a() %}{%- endraw -%}{%+ raw +%}{% docs d %}{%+endraw+%}x";
        assert_eq!(names(src), vec!["raw", "endraw", "raw", "endraw"]);
        assert!(macro_names(src).is_empty());
        // An unclosed raw block hides the rest (the template parser reports it).
        assert!(macro_names("{% raw %}{% macro a() %}").is_empty());
    }

    #[test]
    fn comments_are_blanked_keeping_their_lines() {
        assert_eq!(blank_comments("a{# x\ny #}b{#- z -#}c"), "a\nbc");
        // Unclosed: left for the template parser to report.
        assert_eq!(blank_comments("a{# x"), "a{# x");
        assert_eq!(blank_comments("{{ '{#' }}x"), "{{ '{#' }}x");
    }

    #[test]
    fn test_blocks_become_macros() {
        let src = "{% test is_even(model, column_name) %}select 1{% endtest %}\n{%- test x() -%}{%- endtest -%}";
        let out = rewrite_test_blocks(src);
        assert_eq!(
            out,
            "{% macro test_is_even(model, column_name) %}select 1{% endmacro %}\n{%- macro test_x() -%}{%- endmacro -%}"
        );
        assert_eq!(macro_names(&out), vec!["test_is_even", "test_x"]);
        // Other tags, and names that only start with `test`, stay as they are.
        let other = "{% testing a %}{% test_b %}{% if x %}{% endif %}";
        assert_eq!(rewrite_test_blocks(other), other);
    }

    #[test]
    fn macro_blocks_are_split_with_their_lines() {
        let src = "{# head #}\n{% macro a(x) %}{{ x }}{% endmacro %}\n\n{%- macro b() -%}\n{% macro inner() %}{% endmacro %}\n{%- endmacro %}";
        let blocks = macro_blocks(src);
        assert_eq!(blocks.len(), 2);
        assert_eq!((blocks[0].0.as_str(), blocks[0].2), ("a", 2));
        assert_eq!(blocks[0].1, "{% macro a(x) %}{{ x }}{% endmacro %}");
        assert_eq!((blocks[1].0.as_str(), blocks[1].2), ("b", 4));
        assert!(blocks[1].1.contains("inner") && blocks[1].1.ends_with("{%- endmacro %}"));
        assert_eq!(macro_names(src), vec!["a", "b", "inner"]);
    }

    #[test]
    fn doc_blocks_are_extracted() {
        let md = "intro\n{% docs orders %}\nAll orders.\n{% enddocs %}\n{% docs x %}y{% enddocs %}";
        assert_eq!(
            doc_blocks(md),
            vec![
                ("orders".into(), "All orders.".into()),
                ("x".into(), "y".into())
            ]
        );
        // Whitespace control; a docs block with another tag before its end is left out.
        let md = "{%- docs a -%} A {%- enddocs -%}{% docs b %}{% if x %}{% enddocs %}";
        assert_eq!(doc_blocks(md), vec![("a".into(), "A".into())]);
    }

    #[test]
    fn snapshot_blocks_keep_their_lines() {
        let src = "-- head\n{%- snapshot orders_snap -%}\nselect 1\n{%- endsnapshot -%}\n{% snapshot b %}2{% endsnapshot %}";
        let blocks = snapshot_blocks(src).unwrap_or_default();
        assert_eq!(
            blocks,
            vec![
                ("orders_snap".into(), "\n\nselect 1\n".into()),
                ("b".into(), "\n\n\n\n2".into())
            ]
        );
        assert_eq!(
            snapshot_blocks("{% snapshot my-snap %}{% endsnapshot %}"),
            Err("'{% snapshot my-snap %}': a snapshot needs a plain name".into())
        );
        assert_eq!(
            snapshot_blocks("{% snapshot s %}select 1"),
            Err("snapshot 's' has no {% endsnapshot %}".into())
        );
    }

    #[test]
    fn multi_byte_text_around_and_inside_tags() {
        let src =
            "Привет 😀{% macro мой_макрос(x='ё') %}🎉 {{ x }}{# комментарий #}{% endmacro %}ж";
        assert_eq!(macro_names(src), vec!["мой_макрос"]);
        let blocks = macro_blocks(src);
        assert_eq!(
            blocks[0].1,
            "{% macro мой_макрос(x='ё') %}🎉 {{ x }}{# комментарий #}{% endmacro %}"
        );
        assert_eq!(blank_comments(src).matches("комментарий").count(), 0);
        let md = "Ünïcödé {% docs 文档 %}\n📄 текст\n{% enddocs %}";
        assert_eq!(doc_blocks(md), vec![("文档".into(), "📄 текст".into())]);
        for tag in tags(src) {
            assert!(src.is_char_boundary(tag.start) && src.is_char_boundary(tag.end));
        }
    }

    #[test]
    fn no_panic_on_any_prefix_of_unclosed_or_multi_byte_text() {
        let src = "ё{%- macro ж(a='{%') -%}😀{{ 'x' }}{# ы #}{% raw %}{% endraw %}{% endmacro %}{% test t() %}{% endtest %}";
        for (end, _) in src.char_indices() {
            let prefix = &src[..end];
            let _ = tokens(prefix).count();
            let _ = (blank_comments(prefix), rewrite_test_blocks(prefix));
            let _ = (
                macro_blocks(prefix),
                macro_names(prefix),
                doc_blocks(prefix),
            );
            let _ = snapshot_blocks(prefix);
        }
    }
}
