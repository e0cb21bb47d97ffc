//! Fails on an import cycle between Strata's modules: between the top-level modules of src/
//! (src/X.rs or src/X/) and between sibling submodules inside one (src/X/a.rs and src/X/b.rs).
//! A dependency is a `use` declaration or a `crate::`/`super::`/`self::` path in code, read
//! from the source text with comments and literals blanked out; `super` is resolved through
//! inline modules (`mod tests { use super::*; }` is the file itself). A module's own
//! parent, and its own children, are not counted: `mod.rs` re-exporting its children and
//! the children using the parent's items is how Rust modules are built.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

use regex::Regex;

type ModPath = Vec<String>;

/// One dependency of a module on another, with where it was seen.
struct Reference {
    from: ModPath,
    to: ModPath,
    at: String,
}

/// src/lib.rs is the root (empty path); src/a/mod.rs is `a`, src/a/b.rs `a::b`.
fn module_of(relative: &Path) -> Option<ModPath> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let file = parts.pop()?;
    let stem = file.strip_suffix(".rs")?;
    if !matches!(stem, "mod" | "lib") {
        parts.push(stem.to_string());
    }
    Some(parts)
}

/// The text with comments and the insides of string and char literals turned into spaces
/// (newlines kept, so line numbers hold).
fn blank_comments_and_literals(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let prev_is_word = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        let end = if c == '/' && next == Some('/') {
            (i..chars.len())
                .find(|&j| chars[j] == '\n')
                .unwrap_or(chars.len())
        } else if c == '/' && next == Some('*') {
            block_comment_end(&chars, i)
        } else if c == '"' {
            string_end(&chars, i + 1)
        } else if !prev_is_word && (c == 'r' || (c == 'b' && next == Some('r'))) {
            raw_string_end(&chars, if c == 'b' { i + 2 } else { i + 1 }).unwrap_or(i + 1)
        } else if c == '\'' {
            char_literal_end(&chars, i).unwrap_or(i + 1)
        } else {
            i + 1
        };
        if end == i + 1 {
            out.push(c);
        } else {
            out.extend(chars[i..end].iter().map(|&c| blank(c)));
        }
        i = end;
    }
    out
}

fn block_comment_end(chars: &[char], open: usize) -> usize {
    let (mut depth, mut j) = (0, open);
    while j + 1 < chars.len() {
        match (chars[j], chars[j + 1]) {
            ('/', '*') => (depth, j) = (depth + 1, j + 2),
            ('*', '/') => {
                depth -= 1;
                j += 2;
                if depth == 0 {
                    return j;
                }
            }
            _ => j += 1,
        }
    }
    chars.len()
}

/// After the opening `"` at `from`: the index past the closing one.
fn string_end(chars: &[char], from: usize) -> usize {
    let mut j = from;
    while j < chars.len() {
        match chars[j] {
            '\\' => j += 2,
            '"' => return j + 1,
            _ => j += 1,
        }
    }
    chars.len()
}

/// `r"…"`, `r#"…"#` (`from` is just past the `r`): the index past the end, if it is one.
fn raw_string_end(chars: &[char], from: usize) -> Option<usize> {
    let hashes = chars[from..].iter().take_while(|&&c| c == '#').count();
    if chars.get(from + hashes) != Some(&'"') {
        return None;
    }
    let mut j = from + hashes + 1;
    while j < chars.len() {
        if chars[j] == '"' && (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(chars.len())
}

/// `'x'`, `'\n'`, `'\u{1F600}'`; a lifetime (`'a`) is not a literal.
fn char_literal_end(chars: &[char], open: usize) -> Option<usize> {
    match chars.get(open + 1)? {
        // Past the escaped char: `'\''` ends at its second quote.
        '\\' => (open + 3..chars.len().min(open + 12))
            .find(|&j| chars[j] == '\'')
            .map(|j| j + 1),
        _ if chars.get(open + 2) == Some(&'\'') => Some(open + 3),
        _ => None,
    }
}

/// The paths a use tree names: `a::{b, c::{self, D}}` gives a::b, a::c, a::c::D.
fn expand_use_tree(tree: &str) -> Vec<Vec<String>> {
    let token = Regex::new(r"[A-Za-z_][A-Za-z0-9_]*|[{},*]").expect("a valid regex");
    let mut out = Vec::new();
    let mut prefixes: Vec<Vec<String>> = vec![Vec::new()];
    let mut current: Vec<String> = Vec::new();
    let mut alias_next = false;
    let emit = |prefix: &[String], current: &mut Vec<String>, out: &mut Vec<Vec<String>>| {
        if current.is_empty() {
            return;
        }
        let mut path = prefix.to_vec();
        path.extend(current.drain(..).filter(|s| s != "self"));
        out.push(path);
    };
    for m in token.find_iter(tree) {
        let prefix = prefixes.last().cloned().unwrap_or_default();
        match m.as_str() {
            "{" => {
                let mut deeper = prefix;
                deeper.append(&mut current);
                prefixes.push(deeper);
            }
            "," => emit(&prefix, &mut current, &mut out),
            "}" => {
                emit(&prefix, &mut current, &mut out);
                prefixes.pop();
            }
            "*" => {}
            "as" => alias_next = true,
            _ if alias_next => alias_next = false,
            word => current.push(word.to_string()),
        }
    }
    let prefix = prefixes.last().cloned().unwrap_or_default();
    emit(&prefix, &mut current, &mut out);
    out
}

/// The module a path names, seen from `here` (the module the path is written in, inline
/// modules included): the longest prefix that is a module file, or None for paths that
/// leave the crate or do not start at a module (`std::…`, a local item).
fn resolve(
    path: &[String],
    here: &[String],
    in_use: bool,
    modules: &BTreeSet<ModPath>,
) -> Option<ModPath> {
    let (mut full, rest): (ModPath, &[String]) = match path.first()?.as_str() {
        "crate" => (Vec::new(), &path[1..]),
        "self" => (here.to_vec(), &path[1..]),
        "super" => {
            let supers = path.iter().take_while(|s| *s == "super").count();
            let mut base = here.to_vec();
            for _ in 0..supers {
                base.pop()?;
            }
            (base, &path[supers..])
        }
        first if in_use => {
            // 2018 paths: `use child::x` names a child module of `here`.
            let mut child = here.to_vec();
            child.push(first.to_string());
            if !modules.contains(&child) {
                return None;
            }
            (here.to_vec(), path)
        }
        _ => return None,
    };
    full.extend(rest.iter().cloned());
    (0..=full.len())
        .rev()
        .map(|n| full[..n].to_vec())
        .find(|m| modules.contains(m))
}

/// Inline `mod name {` blocks: (position of the `{`, position of its `}`, name).
fn inline_modules(text: &str) -> Vec<(usize, usize, String)> {
    let open = Regex::new(r"\bmod\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{").expect("a valid regex");
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    for c in open.captures_iter(text) {
        let (Some(whole), Some(name)) = (c.get(0), c.get(1)) else {
            continue;
        };
        let start = whole.end() - 1;
        let mut depth = 0usize;
        let mut end = bytes.len();
        for (j, b) in bytes.iter().enumerate().skip(start) {
            match b {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = j;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.push((start, end, name.as_str().to_string()));
    }
    out
}

/// Every reference to another module made in one file.
fn references_in(
    file: &Path,
    module: &[String],
    text: &str,
    modules: &BTreeSet<ModPath>,
) -> Vec<Reference> {
    let code = blank_comments_and_literals(text);
    let inline = inline_modules(&code);
    let here_at = |pos: usize| -> ModPath {
        let mut here = module.to_vec();
        let mut enclosing: Vec<&(usize, usize, String)> = inline
            .iter()
            .filter(|(s, e, _)| *s < pos && pos < *e)
            .collect();
        enclosing.sort_by_key(|(s, _, _)| *s);
        here.extend(enclosing.iter().map(|(_, _, n)| n.clone()));
        here
    };
    let line_of = |pos: usize| code[..pos].matches('\n').count() + 1;
    let mut out = Vec::new();
    let mut add = |path: &[String], pos: usize, in_use: bool, shown: &str| {
        if let Some(to) = resolve(path, &here_at(pos), in_use, modules) {
            let shown: String = shown.split_whitespace().collect::<Vec<_>>().join(" ");
            out.push(Reference {
                from: module.to_vec(),
                to,
                at: format!("{}:{}: {shown}", file.display(), line_of(pos)),
            });
        }
    };
    let use_decl = Regex::new(r"\buse\s+([^;]+);").expect("a valid regex");
    let mut rest = code.clone();
    for c in use_decl.captures_iter(&code) {
        let (Some(whole), Some(tree)) = (c.get(0), c.get(1)) else {
            continue;
        };
        for path in expand_use_tree(tree.as_str()) {
            add(&path, whole.start(), true, whole.as_str());
        }
        rest.replace_range(whole.range(), &" ".repeat(whole.len()));
    }
    let in_code =
        Regex::new(r"\b(?:crate|super|self)(?:\s*::\s*[A-Za-z_][A-Za-z0-9_]*)+").expect("valid");
    for m in in_code.find_iter(&rest) {
        let path: Vec<String> = m
            .as_str()
            .split("::")
            .map(|s| s.trim().to_string())
            .collect();
        add(&path, m.start(), false, m.as_str());
    }
    out
}

/// Cycles among the children of one module, each as a path back to its start, with the
/// references that make each of its steps.
fn cycles_among(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let reaches = |from: &str, to: &str| -> Option<Vec<String>> {
        // Breadth first: the shortest way from `from` to `to`.
        let mut back: BTreeMap<String, String> = BTreeMap::new();
        let mut queue = VecDeque::from([from.to_string()]);
        while let Some(n) = queue.pop_front() {
            for next in edges.get(&n).into_iter().flatten() {
                if next == to {
                    let mut path = vec![to.to_string(), n.clone()];
                    let mut cur = n.clone();
                    while let Some(p) = back.get(&cur) {
                        path.push(p.clone());
                        cur = p.clone();
                    }
                    path.reverse();
                    return Some(path);
                }
                if next != from && !back.contains_key(next) {
                    back.insert(next.clone(), n.clone());
                    queue.push_back(next.clone());
                }
            }
        }
        None
    };
    let mut seen: BTreeSet<Vec<String>> = BTreeSet::new();
    let mut out = Vec::new();
    for (a, targets) in edges {
        for b in targets {
            // The shortest cycle through the step a -> b.
            let Some(mut cycle) = reaches(b, a) else {
                continue;
            };
            cycle.insert(0, a.clone());
            let steps = &cycle[..cycle.len() - 1];
            let Some(first) = (0..steps.len()).min_by_key(|&i| &steps[i]) else {
                continue;
            };
            let mut canonical: Vec<String> = steps[first..]
                .iter()
                .chain(&steps[..first])
                .cloned()
                .collect();
            canonical.push(canonical[0].clone());
            if seen.insert(canonical.clone()) {
                out.push(canonical);
            }
        }
    }
    out
}

#[test]
fn modules_do_not_import_each_other_in_a_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(&src).sort_by_file_name() {
        let entry = entry.expect("src/ is readable");
        let path = entry.path();
        let Ok(relative) = path.strip_prefix(&src) else {
            continue;
        };
        // main.rs is another crate (it uses `strata::`), whose `crate::` is not the library.
        if path.extension().is_some_and(|e| e == "rs") && relative != Path::new("main.rs") {
            if let Some(module) = module_of(relative) {
                let text = std::fs::read_to_string(path).expect("a source file is readable");
                files.push((Path::new("src").join(relative), module, text));
            }
        }
    }
    let modules: BTreeSet<ModPath> = files.iter().map(|(_, m, _)| m.clone()).collect();
    // (parent module, child, child) -> where the dependency is written.
    let mut evidence: BTreeMap<(ModPath, String, String), Vec<String>> = BTreeMap::new();
    for (file, module, text) in &files {
        for r in references_in(file, module, text, &modules) {
            let common = r.from.iter().zip(&r.to).take_while(|(a, b)| a == b).count();
            if let (Some(a), Some(b)) = (r.from.get(common), r.to.get(common)) {
                let key = (r.from[..common].to_vec(), a.clone(), b.clone());
                let seen = evidence.entry(key).or_default();
                // One line per place, not per name a use tree brings in.
                if !seen.contains(&r.at) {
                    seen.push(r.at);
                }
            }
        }
    }
    let mut by_parent: BTreeMap<ModPath, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (parent, a, b) in evidence.keys() {
        let edges = by_parent.entry(parent.clone()).or_default();
        edges.entry(a.clone()).or_default().insert(b.clone());
    }
    let mut report = Vec::new();
    for (parent, edges) in &by_parent {
        let scope = if parent.is_empty() {
            "src/".to_string()
        } else {
            format!("src/{}/", parent.join("/"))
        };
        for cycle in cycles_among(edges) {
            report.push(format!("cycle in {scope}: {}", cycle.join(" -> ")));
            for step in cycle.windows(2) {
                let key = (parent.clone(), step[0].clone(), step[1].clone());
                let seen = evidence.get(&key).map(Vec::as_slice).unwrap_or(&[]);
                for at in seen.iter().take(3) {
                    report.push(format!("    {} -> {}: {at}", step[0], step[1]));
                }
                if seen.len() > 3 {
                    report.push(format!("    ... and {} more", seen.len() - 3));
                }
            }
        }
    }
    assert!(
        report.is_empty(),
        "modules import each other in a circle (break it by moving what both need into a \
         module of its own):\n{}",
        report.join("\n")
    );
}

#[test]
fn the_checker_sees_what_makes_a_cycle() {
    let path = |p: &str| -> ModPath {
        p.split("::")
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    };
    let modules: BTreeSet<ModPath> = ["", "a", "a::b", "a::c"].map(path).into_iter().collect();
    let uses = expand_use_tree("crate::a::{self, b::{C, D as E}, f}");
    assert_eq!(
        uses,
        vec![
            vec!["crate", "a"],
            vec!["crate", "a", "b", "C"],
            vec!["crate", "a", "b", "D"],
            vec!["crate", "a", "f"],
        ]
    );
    let text = "// use crate::a::b;\nuse super::b::X;\nfn f() { let s = \"crate::a::b\"; \
                let c = 'x'; crate::a::b::g::<u8>(); }\nmod tests {\n    use super::*;\n}\n";
    let refs = references_in(Path::new("src/a/c.rs"), &path("a::c"), text, &modules);
    let mut seen: Vec<(String, &str)> = refs
        .iter()
        .map(|r| (r.to.join("::"), r.at.split(':').nth(1).unwrap_or("")))
        .collect();
    seen.sort();
    // The comment and the string name nothing; the tests' `super` is the file itself.
    assert_eq!(
        seen,
        vec![
            ("a::b".to_string(), "2"),
            ("a::b".to_string(), "3"),
            ("a::c".to_string(), "5")
        ]
    );
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("x", vec!["y"]),
        ("y", vec!["z"]),
        ("z", vec!["x"]),
        ("w", vec!["x"]),
    ]
    .into_iter()
    .map(|(a, bs)| (a.to_string(), bs.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(cycles_among(&edges), vec![vec!["x", "y", "z", "x"]]);
}
