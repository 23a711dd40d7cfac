//! Jinja2 rendering of manifest templates, matching Ansible's `template` module.
//!
//! Ansible 2.19 renders with `trim_blocks=True`, keeps trailing newlines, prints Python
//! reprs for lists/dicts (`[1, 'two', True]`), `True`/`False` for booleans and an empty
//! string for None. An undefined variable is an error. We configure minijinja the same way
//! so the bytes podfleet writes equal what an Ansible playbook would have written.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior};

/// A set of templates compiled once and rendered for many hosts.
pub struct Renderer {
    env: Environment<'static>,
}

/// Why a template failed to render, with the template line when known.
#[derive(Debug, Clone)]
pub struct RenderError {
    /// Template name (its path relative to the manifests root).
    pub template: String,
    /// 1-based line in the template.
    pub line: Option<usize>,
    /// What went wrong.
    pub message: String,
}

impl Default for Renderer {
    fn default() -> Self {
        Self::new()
    }
}

impl Renderer {
    /// An environment configured like Ansible's template module.
    pub fn new() -> Renderer {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_syntax(
            SyntaxConfig::builder()
                .trim_blocks(true)
                .keep_trailing_newline(true)
                .build()
                .expect("static syntax config"),
        );
        env.set_formatter(|out, _state, value| {
            let mut s = String::new();
            python_str(value, &mut s);
            out.write_str(&s)
                .map_err(|e| Error::new(ErrorKind::WriteFailure, e.to_string()))
        });
        add_ansible_filters(&mut env);
        Renderer { env }
    }

    /// Compile a template. Syntax errors are reported here, once, not per host.
    pub fn add(&mut self, name: &str, source: &str) -> Result<(), RenderError> {
        self.env
            .add_template_owned(name.to_string(), source.to_string())
            .map_err(|e| to_render_error(name, &e))
    }

    /// Render a compiled template with the given variables.
    pub fn render(
        &self,
        name: &str,
        vars: &BTreeMap<String, Value>,
    ) -> Result<String, RenderError> {
        let tmpl = self
            .env
            .get_template(name)
            .map_err(|e| to_render_error(name, &e))?;
        tmpl.render(vars).map_err(|e| to_render_error(name, &e))
    }
}

fn to_render_error(name: &str, e: &Error) -> RenderError {
    let message = match e.kind() {
        ErrorKind::UndefinedError => {
            // minijinja's detail is terse; name the expression from the source range when we can.
            let what = e.detail().map(str::to_string).unwrap_or_default();
            if what.is_empty() {
                "undefined variable".to_string()
            } else {
                format!("undefined variable: {what}")
            }
        }
        _ => match e.detail() {
            Some(d) => format!("{}: {d}", e.kind()),
            None => e.kind().to_string(),
        },
    };
    RenderError {
        template: e.name().unwrap_or(name).to_string(),
        line: e.line(),
        message,
    }
}

/// `str(value)` as Python/Jinja2 in Ansible prints it.
fn python_str(v: &Value, out: &mut String) {
    match v.kind() {
        ValueKind::None | ValueKind::Undefined => {}
        ValueKind::String => out.push_str(v.as_str().unwrap_or_default()),
        _ => python_repr(v, out),
    }
}

/// `repr(value)` as Python prints it (used inside lists and dicts).
fn python_repr(v: &Value, out: &mut String) {
    match v.kind() {
        ValueKind::None | ValueKind::Undefined => out.push_str("None"),
        ValueKind::Bool => out.push_str(if v.is_true() { "True" } else { "False" }),
        ValueKind::String => py_quote(v.as_str().unwrap_or_default(), out),
        ValueKind::Seq | ValueKind::Iterable => {
            out.push('[');
            if let Ok(iter) = v.try_iter() {
                for (i, item) in iter.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    python_repr(&item, out);
                }
            }
            out.push(']');
        }
        ValueKind::Map => {
            out.push('{');
            if let Ok(iter) = v.try_iter() {
                for (i, key) in iter.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    python_repr(&key, out);
                    out.push_str(": ");
                    python_repr(&v.get_item(&key).unwrap_or_default(), out);
                }
            }
            out.push('}');
        }
        ValueKind::Number => {
            let s = v.to_string();
            out.push_str(&s);
        }
        _ => {
            let _ = write!(out, "{v}");
        }
    }
}

/// Python's `repr(str)`: single quotes unless the text has a single quote and no double quote.
fn py_quote(s: &str, out: &mut String) {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(q);
}

/// The Ansible filters manifests commonly use.
fn add_ansible_filters(env: &mut Environment<'static>) {
    fn to_json_value(v: &Value) -> Result<serde_json::Value, Error> {
        serde_json::to_value(v).map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))
    }
    env.add_filter("to_json", |v: Value| -> Result<String, Error> {
        Ok(serde_json::to_string(&to_json_value(&v)?).unwrap_or_default())
    });
    env.add_filter("to_nice_json", |v: Value| -> Result<String, Error> {
        Ok(serde_json::to_string_pretty(&to_json_value(&v)?).unwrap_or_default())
    });
    env.add_filter("to_yaml", |v: Value| -> Result<String, Error> {
        serde_yaml::to_string(&to_json_value(&v)?)
            .map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))
    });
    env.add_filter("to_nice_yaml", |v: Value| -> Result<String, Error> {
        serde_yaml::to_string(&to_json_value(&v)?)
            .map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))
    });
    env.add_filter("b64encode", |s: String| -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
    });
    env.add_filter("b64decode", |s: String| -> Result<String, Error> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))?;
        String::from_utf8(bytes).map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))
    });
    env.add_filter("bool", |v: Value| -> bool {
        match v.as_str() {
            Some(s) => matches!(
                s.to_ascii_lowercase().as_str(),
                "yes" | "on" | "1" | "true" | "y" | "t"
            ),
            None => v.is_true(),
        }
    });
    env.add_filter("quote", |s: String| -> String {
        if !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c))
        {
            s
        } else {
            format!("'{}'", s.replace('\'', "'\"'\"'"))
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(src: &str, vars: serde_json::Value) -> Result<String, RenderError> {
        let mut r = Renderer::new();
        r.add("t.j2", src)?;
        let vars: BTreeMap<String, Value> =
            serde_json::from_value::<BTreeMap<String, serde_json::Value>>(vars)
                .unwrap()
                .into_iter()
                .map(|(k, v)| (k, Value::from(minijinja::value::Serde(&v))))
                .collect();
        r.render("t.j2", &vars)
    }

    #[test]
    fn prints_values_like_ansible() {
        let out = render(
            "a: {{ b }}\nn: {{ n }}\nl: {{ l }}\nd: {{ d }}\ni: {{ i }}\ns: {{ s }}\nf: {{ f }}\n{% if b %}\nyes\n{% endif %}\nend\n\n",
            serde_json::json!({"b": true, "n": null, "l": [1, "two", true], "d": {"k": "v", "n": 1}, "i": 5, "s": "str", "f": 1.5}),
        )
        .unwrap();
        // Byte-for-byte what ansible-core 2.19.14's template module wrote for the same input.
        assert_eq!(
            out,
            "a: True\nn: \nl: [1, 'two', True]\nd: {'k': 'v', 'n': 1}\ni: 5\ns: str\nf: 1.5\nyes\nend\n\n"
        );
    }

    #[test]
    fn keeps_missing_trailing_newline() {
        assert_eq!(render("x", serde_json::json!({})).unwrap(), "x");
    }

    #[test]
    fn undefined_variable_is_an_error_with_line() {
        let e = render("a: 1\nb: {{ nope }}\n", serde_json::json!({})).unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("undefined"), "{e:?}");
        // `default` and `is defined` still work.
        assert_eq!(
            render(
                "{{ nope | default('d') }}{% if nope is defined %}x{% endif %}",
                serde_json::json!({})
            )
            .unwrap(),
            "d"
        );
    }

    #[test]
    fn python_quoting() {
        let mut s = String::new();
        py_quote("it's", &mut s);
        assert_eq!(s, "\"it's\"");
        s.clear();
        py_quote("a'b\"c", &mut s);
        assert_eq!(s, "'a\\'b\"c'");
    }
}
