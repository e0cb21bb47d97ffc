//! dbt's version grammar and range rules (dbt_common/semver.py, rewritten): a version
//! specifier is `[matcher]MAJOR.MINOR.PATCH[-prerelease][+build]` with `=`, `>`, `>=`, `<`,
//! `<=` (bare means `=`); specifiers from every requester are reduced to one range, and the
//! highest available version inside it is chosen.

use std::cmp::Ordering;
use std::fmt;
use std::sync::OnceLock;

use regex::Regex;

/// How a specifier bounds a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matcher {
    Exact,
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

impl Matcher {
    fn text(self) -> &'static str {
        match self {
            Matcher::Exact => "=",
            Matcher::Greater => ">",
            Matcher::GreaterOrEqual => ">=",
            Matcher::Less => "<",
            Matcher::LessOrEqual => "<=",
        }
    }
    fn is_lower_bound(self) -> bool {
        matches!(self, Matcher::Greater | Matcher::GreaterOrEqual)
    }
    fn is_upper_bound(self) -> bool {
        matches!(self, Matcher::Less | Matcher::LessOrEqual)
    }
}

/// One version specifier, e.g. `>=1.0.0` or `1.3.0-b1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub matcher: Matcher,
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    /// Empty when there is none (dbt treats an empty part as absent).
    pub prerelease: String,
    pub build: String,
}

/// The error dbt raises for a string outside the grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAVersion(pub String);

impl fmt::Display for NotAVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\" is not a valid semantic version.", self.0)
    }
}

fn grammar() -> &'static Regex {
    static GRAMMAR: OnceLock<Regex> = OnceLock::new();
    GRAMMAR.get_or_init(|| {
        let num = r"(0|[1-9][0-9]*)";
        let pre_part = r"(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)";
        let build_part = r"[0-9A-Za-z-]*";
        let pattern = format!(
            r"^(?P<matcher>>=|>|<=|<|=)?(?P<major>{num})\.(?P<minor>{num})\.(?P<patch>{num})(?:-?(?P<prerelease>{pre_part}(?:\.{pre_part})*))?(?:\+(?P<build>{build_part}(?:\.{build_part})*))?$"
        );
        // The pattern is a constant; a failure here is a bug caught by every test.
        Regex::new(&pattern).unwrap_or_else(|e| panic!("version grammar: {e}"))
    })
}

impl Spec {
    pub fn parse(text: &str) -> Result<Spec, NotAVersion> {
        let bad = || NotAVersion(text.to_string());
        let caps = grammar().captures(text).ok_or_else(bad)?;
        let number = |name: &str| -> Result<u64, NotAVersion> {
            caps.name(name)
                .and_then(|m| m.as_str().parse().ok())
                .ok_or_else(bad)
        };
        let matcher = match caps.name("matcher").map(|m| m.as_str()) {
            Some(">") => Matcher::Greater,
            Some(">=") => Matcher::GreaterOrEqual,
            Some("<") => Matcher::Less,
            Some("<=") => Matcher::LessOrEqual,
            _ => Matcher::Exact,
        };
        let text_of = |name: &str| caps.name(name).map(|m| m.as_str().to_string());
        Ok(Spec {
            matcher,
            major: number("major")?,
            minor: number("minor")?,
            patch: number("patch")?,
            prerelease: text_of("prerelease").unwrap_or_default(),
            build: text_of("build").unwrap_or_default(),
        })
    }

    /// The version without its matcher (`1.3.0-b1`), as dbt prints chosen versions.
    pub fn version_text(&self) -> String {
        let mut s = format!("{}.{}.{}", self.major, self.minor, self.patch);
        if !self.prerelease.is_empty() {
            s.push('-');
            s.push_str(&self.prerelease);
        }
        if !self.build.is_empty() {
            s.push('+');
            s.push_str(&self.build);
        }
        s
    }

    pub fn is_prerelease(&self) -> bool {
        !self.prerelease.is_empty()
    }

    /// dbt's three-way comparison of two specifiers, matchers included: `<2.0.0` sorts
    /// below `2.0.0-b1`, a lower bound against an upper bound at one version is equal only
    /// when both are inclusive.
    pub fn compare(&self, other: &Spec) -> Ordering {
        let numbers =
            (self.major, self.minor, self.patch).cmp(&(other.major, other.minor, other.patch));
        if numbers != Ordering::Equal {
            return numbers;
        }
        match (self.prerelease.is_empty(), other.prerelease.is_empty()) {
            (true, true) => {}
            // A release is above its prereleases, except that `<X` must keep X's
            // prereleases out.
            (true, false) if self.matcher == Matcher::Less => return Ordering::Less,
            (true, false) => return Ordering::Greater,
            (false, true) => return Ordering::Less,
            (false, false) => {
                let by_parts = natural_compare(&self.prerelease, &other.prerelease);
                if by_parts != Ordering::Equal {
                    return by_parts;
                }
            }
        }
        use Matcher::*;
        let (a, b) = (self.matcher, other.matcher);
        if (a == GreaterOrEqual && b == LessOrEqual) || (a == LessOrEqual && b == GreaterOrEqual) {
            return Ordering::Equal;
        }
        if (a == Less && b == LessOrEqual)
            || (b == Greater && a == GreaterOrEqual)
            || (a.is_upper_bound() && b.is_lower_bound())
        {
            return Ordering::Less;
        }
        if (b == Less && a == LessOrEqual)
            || (a == Greater && b == GreaterOrEqual)
            || (a.is_lower_bound() && b.is_upper_bound())
        {
            return Ordering::Greater;
        }
        Ordering::Equal
    }
}

impl fmt::Display for Spec {
    /// With the matcher (`=1.2.0`, `>=1.0.0`), as dbt's messages show specifiers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.matcher.text(), self.version_text())
    }
}

/// Prerelease tags compared part by part (numbers below words, numbers by value); equal
/// parts fall back to the length of the whole tag, as dbt does.
fn natural_compare(a: &str, b: &str) -> Ordering {
    fn is_number(s: &str) -> bool {
        !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())
    }
    fn by_value(a: &str, b: &str) -> Ordering {
        let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    }
    for (x, y) in a.split('.').zip(b.split('.')) {
        let order = match (is_number(x), is_number(y)) {
            (true, true) => by_value(x, y),
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    a.chars().count().cmp(&b.chars().count())
}

/// A range; `None` is an open end.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Range {
    pub start: Option<Spec>,
    pub end: Option<Spec>,
}

impl fmt::Display for Range {
    /// `>=1.0.0, <2.0.0`, `=3.0.0, =3.0.0` or `ANY`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = [&self.start, &self.end]
            .into_iter()
            .flatten()
            .map(Spec::to_string)
            .collect();
        if parts.is_empty() {
            return f.write_str("ANY");
        }
        f.write_str(&parts.join(", "))
    }
}

/// Specifiers that no version satisfies together.
#[derive(Debug)]
struct Incompatible;

impl Range {
    fn of(spec: &Spec) -> Range {
        match spec.matcher {
            Matcher::Exact => Range {
                start: Some(spec.clone()),
                end: Some(spec.clone()),
            },
            m if m.is_lower_bound() => Range {
                start: Some(spec.clone()),
                end: None,
            },
            _ => Range {
                start: None,
                end: Some(spec.clone()),
            },
        }
    }

    fn intersect(&self, other: &Range) -> Result<Range, Incompatible> {
        let both_exact = |a: &Option<Spec>, b: &Option<Spec>| {
            a.as_ref().is_some_and(|s| s.matcher == Matcher::Exact)
                && b.as_ref().is_some_and(|s| s.matcher == Matcher::Exact)
        };
        let (start, end) = if both_exact(&self.start, &other.start) {
            let (Some(a), Some(b)) = (&self.start, &other.start) else {
                return Err(Incompatible);
            };
            if a.compare(b) != Ordering::Equal {
                return Err(Incompatible);
            }
            (Some(a.clone()), Some(a.clone()))
        } else {
            (
                combine_bound(&self.start, &other.start, Bound::Lower)?,
                combine_bound(&self.end, &other.end, Bound::Upper)?,
            )
        };
        if let (Some(s), Some(e)) = (&start, &end) {
            if s.compare(e) == Ordering::Greater {
                return Err(Incompatible);
            }
        }
        Ok(Range { start, end })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Bound {
    Lower,
    Upper,
}

/// The tighter of two bounds of one side; an exact version against a bound must lie
/// inside it.
fn combine_bound(
    a: &Option<Spec>,
    b: &Option<Spec>,
    side: Bound,
) -> Result<Option<Spec>, Incompatible> {
    let (a, b) = match (a, b) {
        (x, None) => return Ok(x.clone()),
        (None, y) => return Ok(y.clone()),
        (Some(a), Some(b)) => (a, b),
    };
    let exact = |s: &Spec| s.matcher == Matcher::Exact;
    if !exact(a) && !exact(b) {
        let a_looser = match side {
            Bound::Lower => a.compare(b) == Ordering::Less,
            Bound::Upper => a.compare(b) == Ordering::Greater,
        };
        return Ok(Some(if a_looser { b.clone() } else { a.clone() }));
    }
    let (bound, exact_spec) = if exact(a) { (b, a) } else { (a, b) };
    let order = bound.compare(exact_spec);
    let inside = match side {
        Bound::Lower => {
            order == Ordering::Less
                || (order == Ordering::Equal && bound.matcher == Matcher::GreaterOrEqual)
        }
        Bound::Upper => {
            order == Ordering::Greater
                || (order == Ordering::Equal && bound.matcher == Matcher::LessOrEqual)
        }
    };
    if inside {
        Ok(Some(exact_spec.clone()))
    } else {
        Err(Incompatible)
    }
}

/// Reduce specifiers to one range, as dbt's `reduce_versions` does (the last one first,
/// then the others in order); the error is dbt's message.
pub fn reduce(specs: &[Spec]) -> Result<Range, String> {
    let Some((last, rest)) = specs.split_last() else {
        return Ok(Range::default());
    };
    let mut range = Range::of(last);
    for spec in rest {
        range = range.intersect(&Range::of(spec)).map_err(|_| {
            let shown: Vec<String> = specs.iter().map(|s| format!("'{s}'")).collect();
            format!(
                "Could not find a satisfactory version from options: [{}]",
                shown.join(", ")
            )
        })?;
    }
    Ok(range)
}

/// Whether `version` lies inside `range`.
pub fn in_range(version: &Spec, range: &Range) -> bool {
    let mut specs = vec![version.clone()];
    specs.extend(range.start.iter().cloned());
    specs.extend(range.end.iter().cloned());
    specs.len() == 1 || reduce(&specs).is_ok()
}

/// Whether `require-dbt-version` ranges (`">=1.3.0"`, `"<2.0.0"`) admit dbt `installed`.
pub fn admits_dbt_version(required: &[String], installed: &str) -> Result<bool, NotAVersion> {
    let specs = required
        .iter()
        .map(|r| Spec::parse(r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(admits(&specs, &Spec::parse(installed)?))
}

/// Whether a `require_dbt_version` list admits `installed`.
pub fn admits(requirements: &[Spec], installed: &Spec) -> bool {
    let mut specs = vec![installed.clone()];
    specs.extend(requirements.iter().cloned());
    reduce(&specs).is_ok()
}

/// The versions (as the index spells them) that may be installed, lowest first; drops
/// prereleases unless `with_prereleases`, and versions outside the grammar.
pub fn installable(versions: &[String], with_prereleases: bool) -> Vec<(Spec, String)> {
    let mut kept: Vec<(Spec, String)> = Vec::new();
    for text in versions {
        let Ok(spec) = Spec::parse(text) else {
            continue;
        };
        if !with_prereleases && spec.is_prerelease() {
            continue;
        }
        // Two spellings of one version (`1.0.0rc1`, `1.0.0-rc1`) count once, the last wins.
        match kept
            .iter_mut()
            .find(|(s, _)| s.to_string() == spec.to_string())
        {
            Some(slot) => slot.1 = text.clone(),
            None => kept.push((spec, text.clone())),
        }
    }
    kept.sort_by(|a, b| a.0.compare(&b.0));
    kept
}

/// The highest of `candidates` (sorted lowest first) inside `range`.
pub fn highest_in<'a>(range: &Range, candidates: &'a [(Spec, String)]) -> Option<&'a str> {
    let mut best: Option<&(Spec, String)> = None;
    for c in candidates {
        if in_range(&c.0, range) && best.is_none_or(|b| b.0.compare(&c.0) == Ordering::Less) {
            best = Some(c);
        }
    }
    best.map(|b| b.1.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(texts: &[&str]) -> Vec<Spec> {
        texts.iter().map(|t| Spec::parse(t).unwrap()).collect()
    }

    #[test]
    fn the_grammar_is_dbts() {
        for ok in [
            "1.2.3",
            "=1.2.3",
            ">=0.1.0",
            "<2.0.0",
            "1.0.0-rc1",
            "1.0.0rc1",
            "1.0.0+build.5",
            "1.0.0-b.2+x",
        ] {
            assert!(Spec::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["1.0", "~1.2.0", "^1.2.0", "01.2.3", "v1.2.3", " 1.2.3"] {
            assert_eq!(
                Spec::parse(bad).unwrap_err().to_string(),
                format!("\"{bad}\" is not a valid semantic version.")
            );
        }
        assert_eq!(Spec::parse("1.0.0rc1").unwrap().to_string(), "=1.0.0-rc1");
        // dbt's optional dash lets a prerelease start with one.
        assert_eq!(Spec::parse("1.2.3-").unwrap().to_string(), "=1.2.3--");
        assert_eq!(Spec::parse("1.0.0-01").unwrap().to_string(), "=1.0.0--01");
    }

    #[test]
    fn ranges_reduce_and_print_as_dbt_prints_them() {
        assert_eq!(
            reduce(&specs(&[">=1.0.0", "<2.0.0"])).unwrap().to_string(),
            ">=1.0.0, <2.0.0"
        );
        assert_eq!(
            reduce(&specs(&["3.0.0", "3.0.0"])).unwrap().to_string(),
            "=3.0.0, =3.0.0"
        );
        assert_eq!(
            reduce(&specs(&[">=1.0.0", ">=1.2.0", "<3.0.0", "<2.0.0"]))
                .unwrap()
                .to_string(),
            ">=1.2.0, <2.0.0"
        );
        assert_eq!(
            reduce(&specs(&[">=1.0.0", "1.5.0"])).unwrap().to_string(),
            "=1.5.0, =1.5.0"
        );
        assert_eq!(reduce(&[]).unwrap().to_string(), "ANY");
        assert_eq!(
            reduce(&specs(&["=0.2.0", ">=0.1.0", "<0.2.0"])).unwrap_err(),
            "Could not find a satisfactory version from options: ['=0.2.0', '>=0.1.0', '<0.2.0']"
        );
        assert!(reduce(&specs(&[">1.0.0", "1.0.0"])).is_err());
        assert!(reduce(&specs(&[">=1.0.0", "1.0.0"])).is_ok());
        assert!(reduce(&specs(&["<=1.0.0", "1.0.0"])).is_ok());
        assert!(reduce(&specs(&["<1.0.0", "1.0.0"])).is_err());
        assert!(reduce(&specs(&[">=2.0.0", "<1.0.0"])).is_err());
    }

    #[test]
    fn prereleases_sort_below_their_release_and_outside_a_less_than() {
        let order = |a: &str, b: &str| Spec::parse(a).unwrap().compare(&Spec::parse(b).unwrap());
        assert_eq!(order("2.0.0-b1", "2.0.0"), Ordering::Less);
        assert_eq!(order("1.0.0-rc.2", "1.0.0-rc.10"), Ordering::Less);
        assert_eq!(order("1.0.0-1", "1.0.0-a"), Ordering::Less);
        assert_eq!(order("1.0.0-rc1", "1.0.0-rc1.1"), Ordering::Less);
        let range = reduce(&specs(&[">=1.0.0", "<2.0.0"])).unwrap();
        assert!(!in_range(&Spec::parse("2.0.0-b1").unwrap(), &range));
        assert!(in_range(&Spec::parse("1.9.9").unwrap(), &range));
        assert!(!in_range(&Spec::parse("2.0.0").unwrap(), &range));
    }

    #[test]
    fn the_highest_installable_version_in_range_wins() {
        let available: Vec<String> = ["1.0.0", "1.2.0", "1.3.0-b1", "2.0.0", "1.9.0"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let stable = installable(&available, false);
        let shown: Vec<&str> = stable.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(shown, ["1.0.0", "1.2.0", "1.9.0", "2.0.0"]);
        let range = reduce(&specs(&[">=1.0.0", "<2.0.0"])).unwrap();
        assert_eq!(highest_in(&range, &stable), Some("1.9.0"));
        let with_pre = installable(&available, true);
        let range = reduce(&specs(&[">=1.2.1", "<1.9.0"])).unwrap();
        assert_eq!(highest_in(&range, &with_pre), Some("1.3.0-b1"));
        assert_eq!(highest_in(&range, &stable), None);
        assert_eq!(highest_in(&Range::default(), &stable), Some("2.0.0"));
    }

    #[test]
    fn require_dbt_version_admits_the_installed_version() {
        let installed = Spec::parse("1.12.6").unwrap();
        assert!(admits(&specs(&[">=1.3.0", "<2.0.0"]), &installed));
        assert!(admits(&specs(&[">=1.0.0"]), &installed));
        assert!(!admits(&specs(&[">=99.0.0"]), &installed));
        assert!(!admits(&specs(&["<1.12.6"]), &installed));
    }
}
