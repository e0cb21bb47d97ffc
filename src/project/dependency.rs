//! What `ref('...')` / `source('...', '...')` text (or a unique id) names: exposures'
//! `depends_on`, unit-test inputs and YAML snapshots' `relation`.

use super::RefCall;

/// `model.<project>.<name>` (or seed, snapshot) and `source.<project>.<source>.<table>`.
pub(super) fn dependency_by_id(text: &str, project: &str) -> Option<Dependency> {
    let parts: Vec<&str> = text.trim().split('.').collect();
    match parts.as_slice() {
        [kind, p, name] if *p == project && ["model", "seed", "snapshot"].contains(kind) => {
            Some(Dependency::Ref(RefCall {
                package: None,
                name: name.to_string(),
            }))
        }
        ["source", p, s, t] if *p == project => {
            Some(Dependency::Source(s.to_string(), t.to_string()))
        }
        _ => None,
    }
}

/// What `ref('...')` / `source('...', '...')` text names (exposures, unit-test inputs,
/// YAML snapshots).
pub enum Dependency {
    Ref(RefCall),
    Source(String, String),
}

/// `ref('x')`, `ref('pkg', 'x')` or `source('s', 't')` (either quote), as exposures list
/// what they depend on.
pub fn parse_dependency(text: &str) -> Option<Dependency> {
    let text = text.trim();
    let (func, rest) = text.split_once('(')?;
    let args = rest.trim_end().strip_suffix(')')?;
    let args: Vec<String> = args
        .split(',')
        .map(|a| {
            let a = a.trim();
            let unquoted = a
                .strip_prefix('\'')
                .and_then(|a| a.strip_suffix('\''))
                .or_else(|| a.strip_prefix('"').and_then(|a| a.strip_suffix('"')))?;
            Some(unquoted.to_string())
        })
        .collect::<Option<_>>()?;
    match (func.trim(), args.as_slice()) {
        ("ref", [name]) => Some(Dependency::Ref(RefCall {
            package: None,
            name: name.clone(),
        })),
        ("ref", [package, name]) => Some(Dependency::Ref(RefCall {
            package: Some(package.clone()),
            name: name.clone(),
        })),
        ("source", [s, t]) => Some(Dependency::Source(s.clone(), t.clone())),
        _ => None,
    }
}
