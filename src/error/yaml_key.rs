//! Where a key sits in a YAML file's text, found by walking a path of keys and list items
//! through the block structure (indentation), for config errors about a value already
//! parsed: serde_yaml_ng's `Value` keeps no positions.
//!
//! Block style (what project.yml, schema.yml and profiles.yml are written in) is followed;
//! a path through flow style (`{a: 1}`, `[x, y]`) or anchors is not found, and the error
//! goes without a line rather than with a wrong one.

/// One step of a path from a document's top to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YamlStep<'a> {
    /// The value of this key of a mapping.
    Key(&'a str),
    /// The list item at this index (0-based).
    Item(usize),
    /// The list item whose `name:` is this (dbt's `models: - name: x`).
    Named(&'a str),
}

/// A meaningful line (not blank, not a comment), with its indentation in spaces.
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    /// 1-based.
    number: usize,
    indent: usize,
    /// After the indentation, without trailing spaces.
    text: &'a str,
}

impl Line<'_> {
    /// 1-based line and column of the line's first character.
    fn position(&self) -> (usize, usize) {
        (self.number, self.indent + 1)
    }
}

/// The 1-based line and column of the last step of `steps` in `text`: the key, or the
/// first character of the list item. `None` when the path is not there in block style.
pub fn find(text: &str, steps: &[YamlStep]) -> Option<(usize, usize)> {
    let mut block = meaningful_lines(text);
    let mut position = None;
    for step in steps {
        let (at, inner) = match *step {
            YamlStep::Key(key) => {
                let i = key_index(&block, key)?;
                (block[i].position(), value_block(&block, i))
            }
            YamlStep::Item(index) => items(&block).into_iter().nth(index)?,
            YamlStep::Named(name) => items(&block).into_iter().find(|(_, lines)| {
                key_index(lines, "name").and_then(|i| scalar_after_key(lines[i].text)) == Some(name)
            })?,
        };
        position = Some(at);
        block = inner;
    }
    position
}

fn meaningful_lines(text: &str) -> Vec<Line<'_>> {
    text.lines()
        .enumerate()
        .filter_map(|(i, raw)| {
            let text = raw.trim_start_matches(' ').trim_end();
            let skip = text.is_empty()
                || text.starts_with('#')
                || (raw.starts_with("---") || raw.starts_with("...") || raw.starts_with('%'));
            (!skip).then(|| Line {
                number: i + 1,
                indent: raw.len() - raw.trim_start_matches(' ').len(),
                text,
            })
        })
        .collect()
}

/// The key a line starts with (`key:`, `"key":`, `'key':`), unquoted, and the text after
/// its colon.
fn split_key(text: &str) -> Option<(std::borrow::Cow<'_, str>, &str)> {
    let (key, rest) = match text.chars().next()? {
        '"' => {
            let end = text[1..].find('"')? + 1;
            (text[1..end].into(), &text[end + 1..])
        }
        '\'' => {
            let end = text[1..].find('\'')? + 1;
            (text[1..end].into(), &text[end + 1..])
        }
        _ => {
            let end = text
                .find(": ")
                .or_else(|| text.ends_with(':').then(|| text.len() - 1))?;
            (text[..end].trim_end().into(), &text[end..])
        }
    };
    let value = rest.trim_start().strip_prefix(':')?;
    (value.is_empty() || value.starts_with(' ')).then_some((key, value))
}

/// The index of the line holding `key` at the block's own indentation.
fn key_index(block: &[Line], key: &str) -> Option<usize> {
    let indent = block.first()?.indent;
    block
        .iter()
        .position(|l| l.indent == indent && split_key(l.text).is_some_and(|(k, _)| k == key))
}

/// The plain or quoted scalar after a line's key (`name: x # note` -> `x`).
fn scalar_after_key(text: &str) -> Option<&str> {
    let (_, value) = split_key(text)?;
    let value = value.trim();
    let value = match value.find(" #") {
        Some(i) => value.get(..i)?.trim_end(),
        None => value,
    };
    let unquoted = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')));
    Some(unquoted.unwrap_or(value))
}

fn is_item(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

/// The lines of the value of the key on `block[i]`: the lines indented further, and a list
/// written at the key's own indentation (`models:` then `- name: x` under it). Empty when
/// the value is on the key's line.
fn value_block<'a>(block: &[Line<'a>], i: usize) -> Vec<Line<'a>> {
    // A value on the key's line (a scalar, a block scalar's `|`, flow style) has no keys
    // below it; an anchor or a tag alone is followed by the value's lines.
    let inline = split_key(block[i].text).map_or("", |(_, value)| value.trim());
    let inline = inline.split(" #").next().unwrap_or_default();
    let decorations_only = inline
        .split_whitespace()
        .all(|word| word.starts_with('&') || word.starts_with('!'));
    if !decorations_only && !inline.starts_with('#') {
        return Vec::new();
    }
    let indent = block[i].indent;
    let rest = &block[i + 1..];
    let list_at_key_indent = rest
        .first()
        .is_some_and(|l| l.indent == indent && is_item(l.text));
    rest.iter()
        .take_while(|l| {
            l.indent > indent || (list_at_key_indent && l.indent == indent && is_item(l.text))
        })
        .copied()
        .collect()
}

/// The items of a block-style list: each one's position and its lines, the first line the
/// text after its `- ` (indented as far as that text starts).
fn items<'a>(block: &[Line<'a>]) -> Vec<((usize, usize), Vec<Line<'a>>)> {
    let Some(indent) = block.first().filter(|l| is_item(l.text)).map(|l| l.indent) else {
        return Vec::new();
    };
    let mut out: Vec<((usize, usize), Vec<Line<'a>>)> = Vec::new();
    for line in block {
        if line.indent == indent && is_item(line.text) {
            let after_dash = &line.text[1..];
            let content = after_dash.trim_start_matches(' ');
            let first = Line {
                number: line.number,
                indent: indent + 1 + after_dash.len() - content.len(),
                text: content,
            };
            if content.is_empty() {
                out.push((line.position(), Vec::new()));
            } else {
                out.push((first.position(), vec![first]));
            }
        } else if line.indent > indent {
            if let Some((_, lines)) = out.last_mut() {
                lines.push(*line);
            }
        } else {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::YamlStep::{Item, Key, Named};
    use super::*;

    const SCHEMA: &str = "\
version: 2

models:
- name: orders   # the first
  config:
    materialized: table
  columns:
    - name: id
      tests:
        - unique
        - accepted_values:
            values: ['a']
- name: 'customers'
  description: |
    name: not a key
  config: {materialized: view}
sources:
  - name: shop
    tables:
      - name: payments
        freshness:
          warn_after: {count: 1, period: hour}
";

    #[test]
    fn keys_under_named_list_items_are_found() {
        assert_eq!(find(SCHEMA, &[Key("models")]), Some((3, 1)));
        assert_eq!(
            find(SCHEMA, &[Key("models"), Named("orders")]),
            Some((4, 3))
        );
        assert_eq!(
            find(
                SCHEMA,
                &[
                    Key("models"),
                    Named("orders"),
                    Key("config"),
                    Key("materialized")
                ]
            ),
            Some((6, 5))
        );
        assert_eq!(
            find(
                SCHEMA,
                &[
                    Key("models"),
                    Named("orders"),
                    Key("columns"),
                    Named("id"),
                    Key("tests"),
                    Item(1)
                ]
            ),
            Some((11, 11))
        );
        assert_eq!(
            find(SCHEMA, &[Key("models"), Named("customers")]),
            Some((13, 3))
        );
        assert_eq!(
            find(
                SCHEMA,
                &[
                    Key("sources"),
                    Named("shop"),
                    Key("tables"),
                    Named("payments"),
                    Key("freshness"),
                    Key("warn_after")
                ]
            ),
            Some((22, 11))
        );
    }

    #[test]
    fn what_is_not_there_in_block_style_is_not_found() {
        // Inside a block scalar, not a key.
        assert_eq!(find(SCHEMA, &[Key("name")]), None);
        assert_eq!(
            find(
                SCHEMA,
                &[
                    Key("models"),
                    Named("customers"),
                    Key("description"),
                    Key("name")
                ]
            ),
            None
        );
        // Flow style.
        assert_eq!(
            find(
                SCHEMA,
                &[
                    Key("models"),
                    Named("customers"),
                    Key("config"),
                    Key("materialized")
                ]
            ),
            None
        );
        assert_eq!(find(SCHEMA, &[Key("models"), Named("nobody")]), None);
        assert_eq!(find(SCHEMA, &[Key("models"), Item(7)]), None);
        assert_eq!(find("", &[Key("name")]), None);
    }

    #[test]
    fn quoted_keys_comments_and_documents_markers_are_read() {
        let text = "---\n# a project\n\"name\": ''\n'rights':\n    subject_id_pattern: '['\n";
        assert_eq!(find(text, &[Key("name")]), Some((3, 1)));
        assert_eq!(
            find(text, &[Key("rights"), Key("subject_id_pattern")]),
            Some((5, 5))
        );
    }

    #[test]
    fn a_key_in_a_later_sibling_is_not_taken_for_a_nested_one() {
        let text = "a:\n  b: 1\nc:\n  d:\n    b: 2\n";
        assert_eq!(find(text, &[Key("c"), Key("d"), Key("b")]), Some((5, 5)));
        assert_eq!(find(text, &[Key("a"), Key("d")]), None);
        // Multi-byte text before a key counts as characters on its own line only.
        let text = "ключ: значение\nname: x\n";
        assert_eq!(find(text, &[Key("name")]), Some((2, 1)));
    }
}
