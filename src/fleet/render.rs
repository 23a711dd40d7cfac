//! Jinja2 rendering of manifest templates, matching Ansible's `template` module.
//!
//! Ansible 2.19 renders with `trim_blocks=True`, keeps trailing newlines, prints Python
//! reprs for lists/dicts (`[1, 'two', True]`), `True`/`False` for booleans and an empty
//! string for None. An undefined variable is an error. We configure minijinja the same way
//! so the bytes podfleet writes equal what an Ansible playbook would have written.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use ansible_compat::python::{self, JsonOptions, YamlOptions};
use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Kwargs, Value, ValueKind};
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

/// A template value as the JSON-like value ansible-compat's Python writers take.
fn to_json_value(v: &Value) -> Result<serde_json::Value, Error> {
    serde_json::to_value(v).map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))
}

/// What `{{ value }}` writes, as Ansible's template module does (`str()`, `None` as nothing).
fn python_str(v: &Value, out: &mut String) {
    match v.kind() {
        ValueKind::None | ValueKind::Undefined => {}
        ValueKind::String => out.push_str(v.as_str().unwrap_or_default()),
        _ => match to_json_value(v) {
            Ok(json) => out.push_str(&python::template_str(&json)),
            Err(_) => {
                let _ = write!(out, "{v}");
            }
        },
    }
}

/// `json.dumps` options from the filter's keyword arguments, over `base`.
fn json_options(mut o: JsonOptions, kw: &Kwargs) -> Result<JsonOptions, Error> {
    if let Some(i) = kw.get::<Option<usize>>("indent")? {
        o.indent = Some(i);
    }
    if let Some(v) = kw.get::<Option<bool>>("sort_keys")? {
        o.sort_keys = v;
    }
    if let Some(v) = kw.get::<Option<bool>>("ensure_ascii")? {
        o.ensure_ascii = v;
    }
    kw.assert_all_used()?;
    Ok(o)
}

/// `yaml.dump` options from the filter's keyword arguments, over `base`.
fn yaml_options(mut o: YamlOptions, kw: &Kwargs) -> Result<YamlOptions, Error> {
    if let Some(i) = kw.get::<Option<usize>>("indent")? {
        o.indent = i;
    }
    if let Some(w) = kw.get::<Option<usize>>("width")? {
        o.width = w;
    }
    if let Some(v) = kw.get::<Option<bool>>("sort_keys")? {
        o.sort_keys = v;
    }
    if let Some(v) = kw.get::<Option<bool>>("allow_unicode")? {
        o.allow_unicode = v;
    }
    if let Some(v) = kw.get::<Option<Option<bool>>>("default_flow_style")? {
        o.default_flow_style = v;
    }
    kw.assert_all_used()?;
    Ok(o)
}

/// Python's `str.splitlines()`: the line boundaries Python knows, without their ends.
fn py_splitlines(s: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end = match c {
            '\r' if chars.peek().is_some_and(|(_, n)| *n == '\n') => {
                chars.next();
                i + 2
            }
            '\n' | '\r' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}'
            | '\u{2029}' => i + c.len_utf8(),
            _ => continue,
        };
        lines.push(&s[start..i]);
        start = end;
    }
    if start < s.len() {
        lines.push(&s[start..]);
    }
    lines
}

/// Jinja2's `indent(width=4, first=False, blank=False)`, exactly (minijinja's drops the
/// trailing newline that Jinja2 keeps, so `{{ x | to_yaml | indent(2) }}` differed).
fn jinja2_indent(
    s: String,
    width: Option<Value>,
    first: Option<bool>,
    blank: Option<bool>,
    kw: Kwargs,
) -> Result<String, Error> {
    let width = kw.get::<Option<Value>>("width")?.or(width);
    let first = kw.get::<Option<bool>>("first")?.or(first).unwrap_or(false);
    let blank = kw.get::<Option<bool>>("blank")?.or(blank).unwrap_or(false);
    kw.assert_all_used()?;
    let indention = match &width {
        None => " ".repeat(4),
        Some(w) if w.kind() == ValueKind::String => w.as_str().unwrap_or_default().to_string(),
        Some(w) => " ".repeat(usize::try_from(w.clone()).map_err(|_| {
            Error::new(
                ErrorKind::InvalidOperation,
                "indent: width must be a number or a string",
            )
        })?),
    };
    // Jinja2 appends a newline before splitting ("this quirk is necessary for splitlines").
    let text = format!("{s}\n");
    let lines = py_splitlines(&text);
    let mut rv = if blank {
        lines.join(&format!("\n{indention}"))
    } else {
        let mut it = lines.into_iter();
        let mut rv = it.next().unwrap_or_default().to_string();
        let rest: Vec<String> = it
            .map(|l| {
                if l.is_empty() {
                    String::new()
                } else {
                    format!("{indention}{l}")
                }
            })
            .collect();
        if !rest.is_empty() {
            rv.push('\n');
            rv.push_str(&rest.join("\n"));
        }
        rv
    };
    if first {
        rv.insert_str(0, &indention);
    }
    Ok(rv)
}

/// The Ansible filters manifests commonly use. `to_json`, `to_nice_json`, `to_yaml` and
/// `to_nice_yaml` write what ansible-core's do (ansible-compat's Python writers: key order,
/// separators, indents, float and string forms), with their keyword arguments.
fn add_ansible_filters(env: &mut Environment<'static>) {
    env.add_filter("to_json", |v: Value, kw: Kwargs| -> Result<String, Error> {
        let opts = json_options(JsonOptions::to_json(), &kw)?;
        Ok(python::json_dumps(&to_json_value(&v)?, &opts))
    });
    env.add_filter(
        "to_nice_json",
        |v: Value, kw: Kwargs| -> Result<String, Error> {
            let opts = json_options(JsonOptions::to_nice_json(), &kw)?;
            Ok(python::json_dumps(&to_json_value(&v)?, &opts))
        },
    );
    env.add_filter("to_yaml", |v: Value, kw: Kwargs| -> Result<String, Error> {
        let opts = yaml_options(YamlOptions::to_yaml(), &kw)?;
        Ok(python::yaml_dump(&to_json_value(&v)?, &opts))
    });
    env.add_filter(
        "to_nice_yaml",
        |v: Value, kw: Kwargs| -> Result<String, Error> {
            let opts = yaml_options(YamlOptions::to_nice_yaml(), &kw)?;
            Ok(python::yaml_dump(&to_json_value(&v)?, &opts))
        },
    );
    env.add_filter("indent", jinja2_indent);
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
    fn json_and_yaml_filters_write_what_ansible_does() {
        let vars = serde_json::json!({"d": {"z": 1, "a": [1, 2.5, "it's", null, true], "u": "ü"}});
        assert_eq!(
            render("{{ d | to_json }}", vars.clone()).unwrap(),
            r#"{"z": 1, "a": [1, 2.5, "it's", null, true], "u": "\u00fc"}"#
        );
        assert_eq!(
            render("{{ d | to_nice_json(indent=2) }}", vars.clone()).unwrap(),
            "{\n  \"a\": [\n    1,\n    2.5,\n    \"it's\",\n    null,\n    true\n  ],\n  \"u\": \"\\u00fc\",\n  \"z\": 1\n}"
        );
        assert_eq!(
            render("{{ d }}", vars.clone()).unwrap(),
            "{'z': 1, 'a': [1, 2.5, \"it's\", None, True], 'u': 'ü'}"
        );
        // Jinja2's indent keeps the trailing newline.
        assert_eq!(
            render("{{ 'a\\nb\\n' | indent(2) }}|", serde_json::json!({})).unwrap(),
            "a\n  b\n|"
        );
        assert_eq!(
            render(
                "{{ 'a\\n\\nb' | indent(2, true, true) }}|",
                serde_json::json!({})
            )
            .unwrap(),
            "  a\n  \n  b|"
        );
        let e = render("{{ d | to_json(nope=1) }}", vars).unwrap_err();
        assert!(e.message.contains("nope"), "{e:?}");
    }
}
