//! Running the real `ansible-inventory` and `ansible`.
//!
//! Commands go to `oracle.py`, a fork server that imports ansible-core once and forks a fresh
//! child per command (a cold `ansible-inventory` spends ~0.7 s importing Python modules). The
//! servers are keyed by environment, since ansible-core reads its settings while importing.
//! `subprocess` runs the installed scripts directly, for the test that checks the oracle gives
//! the same output.
//!
//! Every command runs with an empty `ansible.cfg`, private `ANSIBLE_HOME`/temp directories and
//! no inherited `ANSIBLE_*` variable. `strict` adds `ANSIBLE_INVENTORY_UNPARSED_FAILED=True` and
//! `ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED=True` (what this crate's strict mode mirrors);
//! without it Ansible runs with its default configuration.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

pub const INSTALL: &str = "pip install ansible-core==2.19.14 tomli-w==1.2.0";

/// What a command printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub ok: bool,
    pub rc: i32,
    pub stdout: String,
    pub stderr: String,
}

/// How to run a command.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// Ansible's strict inventory settings (see the module docs).
    pub strict: bool,
    /// Extra environment variables (e.g. `ANSIBLE_VAULT_PASSWORD_FILE`).
    pub vars: Vec<(String, String)>,
}

impl Env {
    pub fn strict() -> Env {
        Env {
            strict: true,
            vars: Vec::new(),
        }
    }

    pub fn default_config() -> Env {
        Env::default()
    }

    fn all_vars(&self) -> Vec<(String, String)> {
        let sb = sandbox();
        let mut v: Vec<(String, String)> = vec![
            (
                "ANSIBLE_CONFIG".into(),
                sb.root.join("ansible.cfg").display().to_string(),
            ),
            (
                "ANSIBLE_HOME".into(),
                sb.root.join("home").display().to_string(),
            ),
            (
                "ANSIBLE_LOCAL_TEMP".into(),
                sb.root.join("tmp").display().to_string(),
            ),
            ("ANSIBLE_NOCOLOR".into(), "1".into()),
            ("ANSIBLE_FORCE_COLOR".into(), "0".into()),
            ("PYTHONDONTWRITEBYTECODE".into(), "1".into()),
        ];
        if self.strict {
            v.push(("ANSIBLE_DEPRECATION_WARNINGS".into(), "True".into()));
            v.push(("ANSIBLE_INVENTORY_UNPARSED_FAILED".into(), "True".into()));
            v.push((
                "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED".into(),
                "True".into(),
            ));
        }
        v.extend(self.vars.iter().cloned());
        v
    }
}

/// A scratch area: an empty working directory (ansible-inventory reads `group_vars/` from its
/// cwd), an empty config file, private Ansible home/temp directories.
pub struct Sandbox {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub cwd: PathBuf,
    python: PathBuf,
}

pub fn find_on_path(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let p = dir.join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "`{name}` is not on PATH. These conformance tests compare against the real Ansible: {INSTALL}"
    );
}

fn clean_command(program: &Path, env: &Env) -> Command {
    let mut cmd = Command::new(program);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("ANSIBLE_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.all_vars());
    cmd
}

pub fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().to_path_buf();
        for d in ["cwd", "home", "tmp"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join("ansible.cfg"), "").unwrap();
        let out = Command::new(find_on_path("ansible-inventory"))
            .arg("--version")
            .env("ANSIBLE_CONFIG", root.join("ansible.cfg"))
            .output()
            .expect("run ansible-inventory");
        let version = String::from_utf8_lossy(&out.stdout);
        assert!(
            version.starts_with("ansible-inventory [core 2.19."),
            "expected ansible-core 2.19, found {:?}: {INSTALL}",
            version.lines().next()
        );
        // "  python version = 3.11.7 (...) (/path/to/python3)"
        let python = version
            .lines()
            .find(|l| l.trim_start().starts_with("python version"))
            .and_then(|l| {
                l.rsplit_once('(')
                    .map(|(_, p)| p.trim_end_matches(')').to_string())
            })
            .map(PathBuf::from)
            .expect("python path in ansible-inventory --version");
        let tomli = Command::new(&python)
            .args(["-c", "import tomli_w"])
            .status()
            .expect("run python");
        assert!(tomli.success(), "`--toml` needs tomli-w: {INSTALL}");
        Sandbox {
            cwd: root.join("cwd"),
            root,
            python,
            _dir: dir,
        }
    })
}

struct Oracle {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Oracle {
    fn start(env: &Env) -> Oracle {
        let sb = sandbox();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/common/oracle.py");
        let mut child = clean_command(&sb.python, env)
            .arg(script)
            .current_dir(&sb.cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the ansible oracle: {e}; {INSTALL}"));
        Oracle {
            stdin: child.stdin.take().unwrap(),
            stdout: BufReader::new(child.stdout.take().unwrap()),
            _child: child,
        }
    }

    fn run(&mut self, tool: &str, argv: &[String], cwd: &Path) -> Run {
        let req = serde_json::json!({"tool": tool, "argv": argv, "cwd": cwd});
        writeln!(self.stdin, "{req}").expect("oracle stdin");
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("oracle stdout");
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("oracle answered {line:?}: {e}"));
        let rc = v["rc"].as_i64().unwrap_or(-1) as i32;
        Run {
            ok: rc == 0,
            rc,
            stdout: v["stdout"].as_str().unwrap_or_default().to_string(),
            stderr: v["stderr"].as_str().unwrap_or_default().to_string(),
        }
    }
}

type Pool = Mutex<HashMap<String, Vec<Arc<Mutex<Oracle>>>>>;

/// Two servers per environment (the machine has two cores).
const SERVERS: usize = 2;

fn oracle(env: &Env) -> Arc<Mutex<Oracle>> {
    static POOL: OnceLock<Pool> = OnceLock::new();
    let key = format!("{:?}", env.all_vars());
    let mut pool = POOL.get_or_init(Pool::default).lock().unwrap();
    let servers = pool.entry(key).or_default();
    if let Some(free) = servers.iter().find(|s| s.try_lock().is_ok()) {
        return free.clone();
    }
    if servers.len() < SERVERS {
        servers.push(Arc::new(Mutex::new(Oracle::start(env))));
        return servers.last().unwrap().clone();
    }
    servers[0].clone()
}

/// Runs `tool` (`ansible-inventory` or `ansible`) with `args` in `cwd`.
pub fn run_in(env: &Env, cwd: &Path, tool: &str, args: &[String]) -> Run {
    let mut argv = vec![tool.to_string()];
    argv.extend(args.iter().cloned());
    let server = oracle(env);
    let mut guard = server.lock().unwrap_or_else(|e| e.into_inner());
    guard.run(tool, &argv, cwd)
}

/// The same through the installed script, in a new process.
pub fn subprocess(env: &Env, cwd: &Path, tool: &str, args: &[String]) -> Run {
    let out = clean_command(&find_on_path(tool), env)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool}: {e}; {INSTALL}"));
    Run {
        ok: out.status.success(),
        rc: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `tool -i S1 -i S2 ... ARGS` in the sandbox's empty working directory, strict settings.
pub fn run(tool: &str, sources: &[String], args: &[&str]) -> Run {
    let mut all: Vec<String> = Vec::new();
    for s in sources {
        all.push("-i".into());
        all.push(s.clone());
    }
    all.extend(args.iter().map(|a| a.to_string()));
    run_in(&Env::strict(), &sandbox().cwd, tool, &all)
}
