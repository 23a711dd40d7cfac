//! The oracle of the `python` module tests: `pyfilters.py` run by the Python that runs
//! ansible-core, started once per test binary. It answers Python's `str()`/`repr()`, what
//! `{{ v }}` writes, and the real `to_json`/`to_nice_json`/`to_yaml`/`to_nice_yaml` filters
//! rendered by ansible-core's `Templar`.
//!
//! Needs `pip install ansible-core==2.19.14` (with PyYAML built against libyaml, as pip's
//! wheels are); without it the tests fail.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use serde_json::{Value, json};

struct Server {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    _home: tempfile::TempDir,
}

/// The Python that runs the installed `ansible-inventory` (from its `--version`).
fn ansible_python() -> PathBuf {
    let out = Command::new("ansible-inventory")
        .arg("--version")
        .output()
        .expect("ansible-inventory on PATH (pip install ansible-core==2.19.14)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("python version"))
        .expect("python version line");
    let path = line
        .rsplit_once('(')
        .and_then(|(_, p)| p.strip_suffix(')'))
        .expect("python path");
    PathBuf::from(path)
}

fn start() -> Server {
    let home = tempfile::tempdir().expect("tempdir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/common/pyfilters.py");
    let mut cmd = Command::new(ansible_python());
    cmd.arg(script);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("ANSIBLE_") {
            cmd.env_remove(k);
        }
    }
    std::fs::write(home.path().join("ansible.cfg"), "").expect("ansible.cfg");
    cmd.env("ANSIBLE_CONFIG", home.path().join("ansible.cfg"))
        .env("ANSIBLE_HOME", home.path())
        .env("ANSIBLE_LOCAL_TEMP", home.path().join("tmp"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut child = cmd.spawn().expect("start pyfilters.py");
    let stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut hello = String::new();
    stdout.read_line(&mut hello).expect("pyfilters.py hello");
    let hello: Value = serde_json::from_str(&hello).expect("pyfilters.py hello line");
    assert_eq!(hello["ansible"], "2.19.14", "ansible-core version: {hello}");
    assert_eq!(hello["libyaml"], true, "PyYAML without libyaml: {hello}");
    Server {
        _child: child,
        stdin,
        stdout,
        _home: home,
    }
}

fn server() -> &'static Mutex<Server> {
    static SERVER: OnceLock<Mutex<Server>> = OnceLock::new();
    SERVER.get_or_init(|| Mutex::new(start()))
}

/// Runs `calls` (name, kwargs) on `value` in Python; each answer is the text or the error.
pub fn run(value: &Value, calls: &[(&str, Value)]) -> Vec<Result<String, String>> {
    let calls: Vec<Value> = calls.iter().map(|(n, kw)| json!([n, kw])).collect();
    let req = json!({"value": value, "calls": calls});
    let mut s = server().lock().unwrap_or_else(|e| e.into_inner());
    writeln!(s.stdin, "{req}").expect("write request");
    s.stdin.flush().expect("flush request");
    let mut line = String::new();
    s.stdout.read_line(&mut line).expect("read answer");
    let answer: Value = serde_json::from_str(&line).expect("answer JSON");
    answer["out"]
        .as_array()
        .expect("out")
        .iter()
        .map(|r| match (r.get("ok"), r.get("error")) {
            (Some(Value::String(s)), _) => Ok(s.clone()),
            (_, e) => Err(e.map(Value::to_string).unwrap_or_default()),
        })
        .collect()
}
