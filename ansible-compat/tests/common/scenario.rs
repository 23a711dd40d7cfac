//! A throw-away directory with inventory files, used as the working directory of both the real
//! `ansible-inventory` and this crate, so relative sources, the implicit playbook directory and
//! every path in a message are the same on both sides.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use ansible_compat::{Inventory, LoadMode, LoadOptions, OutputFormat};

use super::ansible::{Env, Run, run_in};

pub struct Scenario {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub env: Env,
}

impl Scenario {
    /// An empty directory; Ansible runs with its default configuration.
    pub fn new() -> Scenario {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        Scenario {
            _dir: dir,
            root,
            env: Env::default_config(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Writes `rel` (creating parent directories).
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Writes an executable file.
    pub fn script(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.write(rel, text);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    pub fn mkdir(&self, rel: &str) {
        std::fs::create_dir_all(self.root.join(rel)).unwrap();
    }

    /// Runs an Ansible tool in this directory.
    pub fn run(&self, tool: &str, args: &[&str]) -> Run {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        run_in(&self.env, &self.root, tool, &args)
    }

    /// `ansible-inventory -i S... ARGS`.
    pub fn inventory(&self, sources: &[&str], args: &[&str]) -> Run {
        let mut all: Vec<&str> = Vec::new();
        for s in sources {
            all.extend(["-i", s]);
        }
        all.extend(args);
        self.run("ansible-inventory", &all)
    }

    /// Lenient options with this directory as the working directory.
    pub fn lenient(&self) -> LoadOptions {
        LoadOptions {
            mode: LoadMode::Lenient,
            cwd: Some(self.root.clone()),
            ..LoadOptions::default()
        }
    }

    /// Loads `sources` with `options` and checks `--list` (stdout and the exact stderr) and
    /// `--list --yaml` against ansible-inventory run with `extra` arguments.
    pub fn compare_list(
        &self,
        sources: &[&str],
        extra: &[&str],
        options: &LoadOptions,
    ) -> Inventory {
        let inv = Inventory::load_with(sources, options)
            .unwrap_or_else(|e| panic!("{sources:?}: load failed: {e}"));
        let mut args = vec!["--list"];
        args.extend(extra);
        let r = self.inventory(sources, &args);
        assert!(r.ok, "{sources:?}: ansible failed: {}", r.stderr);
        assert_eq!(
            inv.list_text(None, OutputFormat::Json, false).unwrap(),
            r.stdout,
            "{sources:?}: --list differs"
        );
        assert_eq!(
            inv.warnings_text(),
            r.stderr,
            "{sources:?}: stderr differs\nours:\n{}\nansible:\n{}",
            inv.warnings_text(),
            r.stderr
        );
        args.push("--yaml");
        let r = self.inventory(sources, &args);
        assert_eq!(
            inv.list_text(None, OutputFormat::Yaml, false).unwrap(),
            r.stdout,
            "{sources:?}: --list --yaml differs"
        );
        inv
    }

    /// Checks `--graph [--vars]` and `--host H` for every host.
    pub fn compare_views(&self, inv: &Inventory, sources: &[&str], extra: &[&str]) {
        for vars in [false, true] {
            let mut args = vec!["--graph"];
            if vars {
                args.push("--vars");
            }
            args.extend(extra);
            let r = self.inventory(sources, &args);
            match inv.graph(None, vars) {
                Ok(g) => assert_eq!(g, r.stdout, "{sources:?} {args:?}"),
                Err(e) => assert!(
                    !r.ok,
                    "{sources:?} {args:?}: we failed ({e}), ansible did not"
                ),
            }
        }
        for h in inv.hosts() {
            let mut args = vec!["--host", h.as_str()];
            args.extend(extra);
            let r = self.inventory(sources, &args);
            match inv.host_text(&h, OutputFormat::Json, false) {
                Ok(text) => assert_eq!(text, r.stdout, "{sources:?} --host {h}"),
                Err(e) => assert!(
                    !r.ok,
                    "{sources:?} --host {h}: we failed ({e}), ansible did not"
                ),
            }
        }
    }
}
