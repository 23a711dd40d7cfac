//! Kubernetes label and field selectors (`?labelSelector=`, `?fieldSelector=`), over JSON
//! objects. Labels support `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`;
//! fields support `=`, `==`, `!=` on dotted paths such as `spec.nodeName`.

use serde_json::Value;

/// One requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Req {
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    Absent(String),
}

/// A parsed selector (all requirements must hold).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector(Vec<Req>);

/// Split on commas outside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

fn set(values: &str) -> Result<Vec<String>, String> {
    let inner = values
        .trim()
        .strip_prefix('(')
        .and_then(|v| v.strip_suffix(')'))
        .ok_or_else(|| format!("expected (a,b) in {values:?}"))?;
    Ok(inner.split(',').map(|v| v.trim().to_string()).collect())
}

impl Selector {
    /// Whether the selector requires `key` to equal `value` (so it can only match such
    /// objects).
    pub fn requires(&self, key: &str, value: &str) -> bool {
        self.0
            .iter()
            .any(|r| matches!(r, Req::Eq(k, v) if k == key && v == value))
    }

    /// Parse a label selector.
    pub fn labels(s: &str) -> Result<Selector, String> {
        let mut reqs = Vec::new();
        for part in split_top(s) {
            let words: Vec<&str> = part.split_whitespace().collect();
            let req = if let Some((k, v)) = part.split_once("!=") {
                Req::Ne(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                Req::Eq(k.trim().into(), v.trim().into())
            } else if words.len() >= 2 && words[1] == "in" {
                Req::In(
                    words[0].into(),
                    set(&part[part.find("in").unwrap_or(0) + 2..])?,
                )
            } else if words.len() >= 2 && words[1] == "notin" {
                Req::NotIn(
                    words[0].into(),
                    set(&part[part.find("notin").unwrap_or(0) + 5..])?,
                )
            } else if let Some(k) = part.strip_prefix('!') {
                Req::Absent(k.trim().into())
            } else if words.len() == 1 {
                Req::Exists(part.into())
            } else {
                return Err(format!("unable to parse requirement: {part:?}"));
            };
            reqs.push(req);
        }
        Ok(Selector(reqs))
    }

    /// Parse a field selector (only equality and inequality, like the API server).
    pub fn fields(s: &str) -> Result<Selector, String> {
        let mut reqs = Vec::new();
        for part in split_top(s) {
            let req = if let Some((k, v)) = part.split_once("!=") {
                Req::Ne(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                Req::Eq(k.trim().into(), v.trim().into())
            } else {
                return Err(format!("invalid field selector: {part:?}"));
            };
            reqs.push(req);
        }
        Ok(Selector(reqs))
    }

    /// The value a field selector names for `key` (e.g. `spec.nodeName`).
    pub fn wanted(&self, key: &str) -> Option<&str> {
        self.0.iter().find_map(|r| match r {
            Req::Eq(k, v) if k == key => Some(v.as_str()),
            _ => None,
        })
    }

    /// Do the object's labels match?
    pub fn matches_labels(&self, obj: &Value) -> bool {
        let labels = &obj["metadata"]["labels"];
        self.matches(|k| labels.get(k).and_then(Value::as_str).map(str::to_string))
    }

    /// Do the object's fields match? Paths are dotted (`metadata.name`).
    pub fn matches_fields(&self, obj: &Value) -> bool {
        self.matches(|path| {
            let mut v = obj;
            for part in path.split('.') {
                v = v.get(part)?;
            }
            match v {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            }
        })
    }

    fn matches(&self, get: impl Fn(&str) -> Option<String>) -> bool {
        self.0.iter().all(|r| match r {
            Req::Eq(k, v) => get(k).as_deref() == Some(v.as_str()),
            // Like the API server: `!=` also matches objects without the key.
            Req::Ne(k, v) => get(k).as_deref() != Some(v.as_str()),
            Req::In(k, vs) => get(k).is_some_and(|x| vs.contains(&x)),
            Req::NotIn(k, vs) => get(k).is_none_or(|x| !vs.contains(&x)),
            Req::Exists(k) => get(k).is_some(),
            Req::Absent(k) => get(k).is_none(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selectors() {
        let pod = json!({"metadata": {"labels": {"app": "web", "tier": "edge"}}});
        for (sel, want) in [
            ("app=web", true),
            ("app==web", true),
            ("app=db", false),
            ("app!=db", true),
            ("app", true),
            ("!app", false),
            ("!owner", true),
            ("app in (web, db)", true),
            ("tier notin (edge)", false),
            ("app=web,tier=edge", true),
            ("app=web,tier=core", false),
            ("", true),
        ] {
            assert_eq!(
                Selector::labels(sel).unwrap().matches_labels(&pod),
                want,
                "{sel}"
            );
        }
        assert!(Selector::labels("a b c").is_err());
    }

    #[test]
    fn field_selectors() {
        let pod = json!({"metadata": {"name": "web-n1"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        let s = Selector::fields("spec.nodeName=n1,status.phase!=Failed").unwrap();
        assert!(s.matches_fields(&pod));
        assert_eq!(s.wanted("spec.nodeName"), Some("n1"));
        assert!(
            !Selector::fields("metadata.name=x")
                .unwrap()
                .matches_fields(&pod)
        );
        assert!(Selector::fields("spec.nodeName").is_err());
    }
}
