//! `ansible_compat::python` against the real Python: `str()`, `repr()`, what `{{ v }}` writes,
//! and ansible-core 2.19.14's `to_json`, `to_nice_json`, `to_yaml` and `to_nice_yaml` filters
//! (rendered by its `Templar`), with their defaults and with options, plus `yaml.dump` and
//! `json.dumps` for the options the filters fix. Fixtures cover the awkward cases one by one; a
//! property test generates JSON values (64 cases; `PROPTEST_CASES=3000` for a longer hunt).

#[path = "common/pyfilters.rs"]
mod pyfilters;

use ansible_compat::python::{self, JsonOptions, YamlOptions};
use proptest::prelude::*;
use serde_json::{Value, json};

/// The calls every value is checked with.
fn default_calls() -> Vec<(&'static str, Value)> {
    [
        "str",
        "repr",
        "template",
        "to_json",
        "to_nice_json",
        "to_yaml",
        "to_nice_yaml",
    ]
    .into_iter()
    .map(|n| (n, json!({})))
    .collect()
}

/// Filter options, and `yaml.dump`/`json.dumps` options the filters cannot change.
fn option_calls() -> Vec<(&'static str, Value)> {
    vec![
        ("to_json", json!({"indent": 2})),
        ("to_json", json!({"sort_keys": true, "ensure_ascii": false})),
        ("to_json", json!({"separators": [",", ":"]})),
        ("to_nice_json", json!({"indent": 2, "sort_keys": false})),
        ("to_nice_json", json!({"ensure_ascii": false})),
        ("to_yaml", json!({"indent": 4, "width": 40})),
        (
            "to_yaml",
            json!({"sort_keys": false, "default_flow_style": true}),
        ),
        (
            "to_yaml",
            json!({"explicit_start": true, "explicit_end": true}),
        ),
        ("to_nice_yaml", json!({"indent": 2, "sort_keys": false})),
        ("to_nice_yaml", json!({"width": 1000})),
        ("yaml.dump", json!({"allow_unicode": false})),
        (
            "yaml.dump",
            json!({"indent": 3, "default_flow_style": null, "width": 20}),
        ),
        (
            "yaml.dump",
            json!({"indent": 10, "width": 5, "default_flow_style": true}),
        ),
        ("json.dumps", json!({"indent": 0})),
    ]
}

fn json_options(mut o: JsonOptions, kw: &Value) -> JsonOptions {
    if let Some(i) = kw.get("indent") {
        o.indent = i.as_u64().map(|i| i as usize);
    }
    if let Some(b) = kw.get("sort_keys").and_then(Value::as_bool) {
        o.sort_keys = b;
    }
    if let Some(b) = kw.get("ensure_ascii").and_then(Value::as_bool) {
        o.ensure_ascii = b;
    }
    if let Some([i, k]) = kw
        .get("separators")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        o.separators = Some((i.as_str().unwrap().into(), k.as_str().unwrap().into()));
    }
    o
}

fn yaml_options(mut o: YamlOptions, kw: &Value) -> YamlOptions {
    let get = |k: &str| kw.get(k);
    if let Some(i) = get("indent").and_then(Value::as_u64) {
        o.indent = i as usize;
    }
    if let Some(w) = get("width").and_then(Value::as_u64) {
        o.width = w as usize;
    }
    if let Some(f) = get("default_flow_style") {
        o.default_flow_style = f.as_bool();
    }
    for (key, field) in [
        ("sort_keys", &mut o.sort_keys),
        ("allow_unicode", &mut o.allow_unicode),
        ("explicit_start", &mut o.explicit_start),
        ("explicit_end", &mut o.explicit_end),
    ] {
        if let Some(b) = get(key).and_then(Value::as_bool) {
            *field = b;
        }
    }
    o
}

/// This crate's answer to one call.
fn ours(name: &str, kw: &Value, v: &Value) -> String {
    match name {
        "str" => python::str(v),
        "repr" => python::repr(v),
        "template" => python::template_str(v),
        "to_json" => python::json_dumps(v, &json_options(JsonOptions::to_json(), kw)),
        "to_nice_json" => {
            let mut kw = kw.clone();
            kw.as_object_mut().map(|m| m.remove("separators"));
            python::json_dumps(v, &json_options(JsonOptions::to_nice_json(), &kw))
        }
        "json.dumps" => python::json_dumps(v, &json_options(JsonOptions::default(), kw)),
        "to_yaml" => python::yaml_dump(v, &yaml_options(YamlOptions::to_yaml(), kw)),
        "to_nice_yaml" => python::yaml_dump(v, &yaml_options(YamlOptions::to_nice_yaml(), kw)),
        "yaml.dump" => python::yaml_dump(v, &yaml_options(YamlOptions::default(), kw)),
        other => panic!("unknown call {other}"),
    }
}

/// Every call on `v` whose text differs from Python's, described.
fn mismatches(v: &Value, calls: &[(&str, Value)]) -> Vec<String> {
    let theirs = pyfilters::run(v, calls);
    let mut bad = Vec::new();
    for ((name, kw), want) in calls.iter().zip(theirs) {
        let got = ours(name, kw, v);
        match want {
            Ok(want) if want == got => {}
            Ok(want) => bad.push(format!(
                "{name}({kw}) of {v}:\n--- python\n{want}\n--- ours\n{got}\n---"
            )),
            Err(e) => bad.push(format!("{name}({kw}) of {v}: python failed: {e}")),
        }
    }
    bad
}

fn long(word: &str, n: usize) -> String {
    vec![word; n].join(" ")
}

fn fixtures() -> Vec<Value> {
    const STRINGS: &[&str] = &[
        "",
        "yes",
        "no",
        "on",
        "off",
        "Yes",
        "NO",
        "true",
        "False",
        "y",
        "n",
        "1.0",
        "0755",
        "0o17",
        "0x1F",
        "1_000",
        "1e3",
        "1.5e+3",
        ".inf",
        "-.Inf",
        ".nan",
        "190:20:30",
        "~",
        "null",
        "Null",
        "=",
        "<<",
        "2024-01-01",
        "2024-01-01 10:00:00",
        "-",
        "- x",
        "x -",
        "? x",
        "?x",
        ": x",
        "x: y",
        "x:y",
        "x #y",
        "x#y",
        "#x",
        "!x",
        "&a",
        "*a",
        "|",
        ">",
        "%x",
        "@x",
        "`x",
        "'q'",
        "\"dq\"",
        "it's",
        "a\"b'c",
        "back\\slash",
        "\\",
        "[x]",
        "{x}",
        "a,b",
        "a[b]",
        "---",
        "--- x",
        "...",
        "a\tb",
        "\t",
        " lead",
        "trail ",
        " ",
        "  ",
        "a  b",
        "\u{0}",
        "\u{1}\u{7}\u{8}\u{b}\u{c}\u{1b}\u{7f}",
        "\r",
        "a\rb",
        "\u{85}",
        "a\u{a0}b",
        "\u{2028}",
        "\u{2029}",
        "\u{feff}x",
        "\u{ad}",
        "\u{200b}",
        "\u{3000}",
        "\u{e000}",
        "\u{fffe}",
        "\u{378}",
        "é",
        "日本語",
        "😀",
        "a😀b",
        "\u{10ffff}",
        "\u{1d11e} music",
        "line1\nline2",
        "line1\nline2\n",
        "trailing\n\n",
        "\n",
        "\nlead",
        "a\n\nb",
        "a \nb",
        "a\n b",
        "x\u{85}y",
        "multi\nline with: colon\n- dash",
    ];
    let mut scalars: Vec<Value> = STRINGS.iter().map(|s| json!(s)).collect();
    scalars.extend([
        json!(9007199254740993_u64),
        json!(u64::MAX),
        json!(i64::MIN),
    ]);
    scalars.extend([0, 1, -1, 42].map(Value::from));
    scalars.extend(
        [
            1.0,
            -1.0,
            0.0,
            -0.0,
            1e-05,
            0.0001,
            1e16,
            1e22,
            1e300,
            5e-324,
            0.1,
            1.5,
            123456789.123,
            1.2345678901234567e16,
            2.5e-7,
        ]
        .map(Value::from),
    );
    scalars.extend([json!(true), json!(false), Value::Null]);
    let mut values: Vec<Value> = scalars.clone();
    let scalar_list = Value::Array(scalars);
    values.extend([
        scalar_list,
        json!([]),
        json!({}),
        json!([[]]),
        json!([{}]),
        json!({"a": {}, "b": [], "c": [[]], "d": [{}], "e": {"f": {}}}),
        json!({"b": 1, "a": {"d": [1, "two", {"x": null}], "c": "yes"}, "é": ["ü", "😀"]}),
        json!([[1, 2], [3, {"a": [1]}], [[["deep"]]]]),
        json!([{"a": 1, "b": [1, 2]}, {"c": {"d": "e"}}, "s", 1.5]),
        json!({"list": [1, [2, 3], {"k": "v"}], "nested": {"l": [], "m": {"n": [null, true]}}}),
        json!({"": "empty key", " ": "space", "yes": "no", "1": "one", "null": null, "~": 1}),
        json!({"a b": "c: d", "#x": "[y]", "z": "a,b", "- k": "- v", "? k": "? v", ": k": 1}),
        json!({"k\nmulti": "v", "tab\tkey": "v", "quote'key": "v", "dq\"key": "v"}),
        json!({"2024-01-01": "date key", "0755": "octal", "1.0": "float", "é": "ü"}),
        json!({"😀": "astral key", "\u{85}": "nel key", "back\\": "slash"}),
    ]);
    let word = long("word", 30);
    values.extend([
        json!(word),
        json!(long("x", 45)),
        json!(long("supercalifragilistic", 10)),
        json!(format!("{} 'quoted' {}", long("a", 40), long("b", 40))),
        json!(format!("{}\n{}\n", long("first", 20), long("second", 20))),
        json!(format!(
            "{}  double  spaces  {}",
            long("s", 42),
            long("t", 42)
        )),
        json!(format!("\t{}", long("tabbed", 20))),
        json!({"key": word, "other": long("y", 100)}),
        json!([long("item", 25), long("é", 60), "x".repeat(120)]),
        json!((0..40).map(|i| format!("item{i}")).collect::<Vec<_>>()),
        json!({"k": (0..40).collect::<Vec<_>>()}),
        json!({"k".repeat(60): "v".repeat(60), "é".repeat(50): 1, "é".repeat(70): 2}),
        json!({"k".repeat(129): 1, "k".repeat(128): 2}),
        json!([{"x".repeat(50): "y".repeat(50), "z".repeat(50): [1, 2]}]),
        json!({"a": {"b": {"c": {"d": {"e": [{"f": long("deep", 30)}]}}}}}),
    ]);
    values
}

#[test]
fn fixtures_like_python() {
    let mut calls = default_calls();
    calls.extend(option_calls());
    let bad: Vec<String> = fixtures()
        .iter()
        .flat_map(|v| mismatches(v, &calls))
        .collect();
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// Strings from pieces that exercise quoting, escaping, folding and implicit types.
fn text() -> impl Strategy<Value = String> {
    const PIECES: &[&str] = &[
        "a",
        "word",
        " ",
        "  ",
        "\n",
        "\t",
        "'",
        "\"",
        "\\",
        ":",
        ": ",
        "#",
        " #",
        "-",
        "- ",
        "?",
        ",",
        "[",
        "]",
        "{",
        "}",
        "&",
        "*",
        "!",
        "|",
        ">",
        "%",
        "@",
        "`",
        "yes",
        "no",
        "on",
        "null",
        "~",
        "1",
        "0",
        "1.0",
        "0755",
        "1e5",
        ".inf",
        "2024-01-01",
        "é",
        "日本",
        "😀",
        "\u{85}",
        "\u{a0}",
        "\u{2028}",
        "\u{7f}",
        "\u{1}",
        "\u{feff}",
        "\r",
        "---",
        "...",
    ];
    prop_oneof![
        4 => prop::collection::vec(prop::sample::select(PIECES), 0..8).prop_map(|v| v.concat()),
        1 => prop::collection::vec(prop::sample::select(&["word", " ", "x"][..]), 20..60)
            .prop_map(|v| v.concat()),
        1 => any::<String>().prop_map(|s| s.chars().take(12).collect()),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1000i64..1000).prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        prop::sample::select(&[0.0, -0.0, 1.0, 1e-5, 1e16, 0.1, 1e22, 2.5][..])
            .prop_map(Value::from),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((text(), inner), 0..5)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

fn config() -> ProptestConfig {
    ProptestConfig {
        // PROPTEST_CASES=3000 for a longer hunt.
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(64),
        max_shrink_iters: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn generated_values_like_python(v in value()) {
        let mut calls = default_calls();
        calls.extend(option_calls());
        let bad = mismatches(&v, &calls);
        prop_assert!(bad.is_empty(), "{}", bad.join("\n"));
    }
}
