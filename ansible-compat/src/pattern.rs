//! Host patterns (`ansible web:&prod:!db1`, `--limit`), as ansible-core's `InventoryManager`
//! evaluates them.
//!
//! A pattern string is split on `,` (or, when it has none and is not a single host address, on
//! `:` outside brackets). Terms are reordered: plain terms first, then `&` intersections, then
//! `!` exclusions; with no plain term, `all` is implied. Each term is an exact host name, or is
//! matched (a `~regex` anchored at the start, else a glob) against group names, whose hosts it
//! selects, and against host names. `g[i]`, `g[-i]`, `g[i:j]` (inclusive) and `g[i:]` pick from
//! the matches. `@file` limits read one pattern per line. Unmatched terms give a warning.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;

use crate::address::parse_address;
use crate::data::{HostId, InventoryData, LOCALHOST};
use crate::error::Error;
use crate::fnmatch;

static SUBSCRIPT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$").unwrap());
static FINDALL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:[^\s:\[\]]|\[[^\]]*\])+").unwrap());

/// `split_host_pattern`: splits a pattern string into terms.
pub fn split_host_pattern(pattern: &str) -> Vec<String> {
    let parts: Vec<String> = if pattern.contains(',') {
        pattern.split(',').map(str::to_string).collect()
    } else if parse_address(pattern).is_ok() {
        vec![pattern.to_string()]
    } else {
        FINDALL
            .find_iter(pattern)
            .map(|m| m.as_str().to_string())
            .collect()
    };
    parts
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// `order_patterns`: plain terms, then `&` terms, then `!` terms; `all` if no plain term.
pub fn order_patterns(patterns: &[String]) -> Vec<String> {
    let mut regular = Vec::new();
    let mut intersection = Vec::new();
    let mut exclude = Vec::new();
    for p in patterns.iter().filter(|p| !p.is_empty()) {
        if p.starts_with('!') {
            exclude.push(p.clone());
        } else if p.starts_with('&') {
            intersection.push(p.clone());
        } else {
            regular.push(p.clone());
        }
    }
    if regular.is_empty() {
        regular.push("all".to_string());
    }
    regular
        .into_iter()
        .chain(intersection)
        .chain(exclude)
        .collect()
}

/// Expands `@file` terms of a limit into the file's lines (`InventoryManager.subset`).
pub fn expand_limit(limit: &str) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for x in split_host_pattern(limit) {
        if let Some(file) = x.strip_prefix('@') {
            let path = std::path::Path::new(file);
            if !path.exists() {
                return Err(Error::Pattern(format!("Unable to find limit file {file}")));
            }
            if !path.is_file() {
                return Err(Error::Pattern(format!(
                    "Limit starting with \"@\" must be a file, not a directory: {file}"
                )));
            }
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            out.extend(text.split('\n').map(|l| l.trim().to_string()));
        } else {
            out.push(x);
        }
    }
    Ok(out)
}

/// A host a pattern can select: an inventory host or the implicit localhost.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A host in the inventory.
    Host(HostId),
    /// The implicit localhost, named as the pattern named it.
    Implicit(String),
}

/// A single subscript: `[i]` or `[start:end]` (`end` `None` for "to the last").
type Subscript = (i64, Option<Option<i64>>);

/// Evaluates patterns against one inventory, collecting warnings.
pub struct Matcher<'a> {
    data: &'a InventoryData,
    /// Warnings in the order Ansible would print them.
    pub warnings: Vec<String>,
}

impl<'a> Matcher<'a> {
    /// A matcher over `data`.
    pub fn new(data: &'a InventoryData) -> Self {
        Matcher {
            data,
            warnings: Vec::new(),
        }
    }

    fn warn(&mut self, msg: String) {
        if !self.warnings.contains(&msg) {
            self.warnings.push(msg);
        }
    }

    fn name(&self, t: &Target) -> String {
        match t {
            Target::Host(h) => self.data.hosts[*h].name.clone(),
            Target::Implicit(n) => n.clone(),
        }
    }

    /// `_evaluate_patterns`: the hosts selected by a list of terms.
    pub fn evaluate(&mut self, patterns: &[String]) -> Result<Vec<Target>, Error> {
        let mut hosts: Vec<Target> = Vec::new();
        for p in order_patterns(patterns) {
            if let Some(h) = self.data.host_id(&p) {
                hosts.push(Target::Host(h));
                continue;
            }
            let that = self.match_one(&p)?;
            if p.starts_with('!') {
                let that: HashSet<Target> = that.into_iter().collect();
                hosts.retain(|h| !that.contains(h));
            } else if p.starts_with('&') {
                let that: HashSet<Target> = that.into_iter().collect();
                hosts.retain(|h| that.contains(h));
            } else {
                let existing: HashSet<String> = hosts.iter().map(|h| self.name(h)).collect();
                hosts.extend(
                    that.into_iter()
                        .filter(|h| !existing.contains(&self.name(h))),
                );
            }
        }
        Ok(hosts)
    }

    fn match_one(&mut self, pattern: &str) -> Result<Vec<Target>, Error> {
        let pattern = pattern.strip_prefix(['&', '!']).unwrap_or(pattern);
        if pattern.is_empty() {
            return Err(Error::Pattern(
                "Invalid empty host pattern after '&' or '!'".into(),
            ));
        }
        let (expr, subscript) = self.split_subscript(pattern);
        let hosts = self.enumerate(&expr)?;
        apply_subscript(hosts, subscript).ok_or_else(|| {
            Error::Pattern(format!(
                "No hosts matched the subscripted pattern '{pattern}'"
            ))
        })
    }

    fn split_subscript(&mut self, pattern: &str) -> (String, Option<Subscript>) {
        if pattern.starts_with('~') {
            return (pattern.to_string(), None);
        }
        let Some(c) = SUBSCRIPT.captures(pattern) else {
            return (pattern.to_string(), None);
        };
        let expr = c[1].to_string();
        if let Some(idx) = c.get(2) {
            return (expr, idx.as_str().parse().ok().map(|i| (i, None)));
        }
        let start: i64 = c[3].parse().unwrap_or(i64::MAX);
        let end = c
            .get(5)
            .map(|m| m.as_str())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap_or(i64::MAX));
        if &c[4] == "-" {
            self.warn(
                "Use [x:y] inclusive subscripts instead of [x-y] which has been removed".into(),
            );
        }
        (expr, Some((start, Some(end))))
    }

    fn match_list<'n>(
        &self,
        names: impl Iterator<Item = &'n str>,
        pattern: &str,
    ) -> Result<Vec<String>, Error> {
        let re = match pattern.strip_prefix('~') {
            Some(r) => Regex::new(&format!(r"\A(?:{r})")),
            None => fnmatch::compile(pattern),
        }
        .map_err(|_| Error::Pattern(format!("Invalid host list pattern: {pattern}")))?;
        Ok(names
            .filter(|n| re.is_match(n))
            .map(str::to_string)
            .collect())
    }

    fn enumerate(&mut self, pattern: &str) -> Result<Vec<Target>, Error> {
        let mut results: Vec<Target> = Vec::new();
        let groups = self.match_list(self.data.groups.iter().map(|g| g.name.as_str()), pattern)?;
        for g in &groups {
            if let Some(gid) = self.data.group_id(g) {
                results.extend(self.data.group_hosts(gid).into_iter().map(Target::Host));
            }
        }
        if groups.is_empty() || pattern.starts_with('~') || pattern.contains(['.', '?', '*', '[']) {
            let hosts =
                self.match_list(self.data.hosts.iter().map(|h| h.name.as_str()), pattern)?;
            results.extend(
                hosts
                    .iter()
                    .filter_map(|h| self.data.host_id(h))
                    .map(Target::Host),
            );
        }
        if results.is_empty() && LOCALHOST.contains(&pattern) {
            results.push(match self.data.localhost {
                Some(h) => Target::Host(h),
                None => Target::Implicit(pattern.to_string()),
            });
        }
        if results.is_empty() && groups.is_empty() && pattern != "all" {
            self.warn(format!(
                "Could not match supplied host pattern, ignoring: {pattern}"
            ));
        }
        Ok(results)
    }
}

/// `_apply_subscript`; `None` is Python's `IndexError`.
fn apply_subscript(hosts: Vec<Target>, subscript: Option<Subscript>) -> Option<Vec<Target>> {
    let Some((start, end)) = subscript else {
        return Some(hosts);
    };
    if hosts.is_empty() {
        return Some(hosts);
    }
    let len = hosts.len() as i64;
    match end {
        // A slice with a non-zero end (`[x:]` means to the last host).
        Some(end) if end != Some(0) => {
            let end = end.unwrap_or(len - 1);
            let (s, e) = (start.min(len), (end.saturating_add(1)).min(len));
            Some(if s < e {
                hosts[s as usize..e as usize].to_vec()
            } else {
                Vec::new()
            })
        }
        // A single index (also `[x:0]`, whose end Python treats as "no end").
        _ => {
            let i = if start < 0 { len + start } else { start };
            (0..len)
                .contains(&i)
                .then(|| vec![hosts[i as usize].clone()])
        }
    }
}

/// Removes repeats, keeping the first (`deduplicate_list`).
pub fn dedup(hosts: Vec<Target>) -> Vec<Target> {
    let mut seen = HashSet::new();
    hosts
        .into_iter()
        .filter(|h| seen.insert(h.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting() {
        assert_eq!(
            split_host_pattern("a,b[1], c[2:3] , d"),
            ["a", "b[1]", "c[2:3]", "d"]
        );
        assert_eq!(split_host_pattern("web:&db:!x"), ["web", "&db", "!x"]);
        assert_eq!(split_host_pattern("web[1:2]"), ["web[1:2]"]);
        assert_eq!(split_host_pattern("2001:db8::1"), ["2001:db8::1"]);
        assert_eq!(split_host_pattern("web db"), ["web", "db"]);
        assert_eq!(split_host_pattern("w[1:2]:db"), ["w[1:2]", "db"]);
        assert_eq!(split_host_pattern(""), Vec::<String>::new());
    }

    #[test]
    fn reordering() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            order_patterns(&v(&["!a", "&b", "c"])),
            v(&["c", "&b", "!a"])
        );
        assert_eq!(order_patterns(&v(&["!a"])), v(&["all", "!a"]));
    }

    #[test]
    fn subscripts() {
        let hosts: Vec<Target> = (0..4).map(Target::Host).collect();
        let pick = |s| apply_subscript(hosts.clone(), Some(s)).map(|v| v.len());
        assert_eq!(pick((0, None)), Some(1));
        assert_eq!(pick((-1, None)), Some(1));
        assert_eq!(pick((5, None)), None);
        assert_eq!(pick((1, Some(Some(2)))), Some(2));
        assert_eq!(pick((1, Some(None))), Some(3));
        assert_eq!(pick((3, Some(Some(1)))), Some(0));
        assert_eq!(pick((1, Some(Some(9)))), Some(3));
        assert_eq!(pick((2, Some(Some(0)))), Some(1));
    }
}
