//! Conformance tests: every case runs the real `ansible-inventory` (ansible-core 2.19) on the
//! fixtures in `tests/fixtures/` and compares its output with this crate's, byte for byte for
//! `--list` JSON text, `--graph`, `--graph --vars` and `--host`, and host lists and warnings for
//! patterns (`ansible PATTERN --list-hosts`). The harness is in `tests/common/mod.rs`.
//!
//! These tests need Ansible: `pip install ansible-core==2.19.14`. Without it they fail.

mod common;

use common::{Case, check};

#[test]
fn c01_ini_basic() {
    check(Case {
        fixture: "01-ini-basic",
        sources: &["hosts"],
        graph_groups: &["k8s", "web"],
        hosts: &["db1", "node-b"],
        magic_hosts: &["bastion.example.com", "db1", "web02.example.com"],
        // Patterns match inventory names (aliases), never `ansible_host`.
        limits: &["10.0.0.12", "db2", "k8s:!web"],
        ..Default::default()
    });
}

#[test]
fn c02_ini_ranges_ports() {
    check(Case {
        fixture: "02-ini-ranges-ports",
        sources: &["inventory.ini"],
        hosts: &["node-1", "2001:db8::10"],
        patterns: &[
            "padded",
            "multi[1:2]",
            "10.0.0.*",
            "2001:db8::11",
            "ports:&*.example.com",
        ],
        ..Default::default()
    });
}

#[test]
fn c03_yaml_nested() {
    check(Case {
        fixture: "03-yaml-nested",
        sources: &["inventory.yml"],
        graph_groups: &["k8s", "shorthand"],
        hosts: &["w1", "cp1.example.com"],
        ..Default::default()
    });
}

#[test]
fn c04_yaml_scalars() {
    check(Case {
        fixture: "04-yaml-scalars",
        sources: &["inventory.yaml"],
        hosts: &["h1"],
        ..Default::default()
    });
}

#[test]
fn c05_json() {
    check(Case {
        fixture: "05-json",
        sources: &["inventory.json"],
        hosts: &["web1"],
        ..Default::default()
    });
}

#[test]
fn c06_directory() {
    check(Case {
        fixture: "06-directory",
        sources: &["."],
        graph_groups: &["app"],
        hosts: &["web1"],
        ..Default::default()
    });
}

#[test]
fn c07_vars_files() {
    check(Case {
        fixture: "07-vars-files",
        sources: &["hosts"],
        hosts: &["web1", "db1", "cache1"],
        ..Default::default()
    });
}

#[test]
fn c08_priorities() {
    check(Case {
        fixture: "08-priorities",
        sources: &["."],
        hosts: &["h1", "h2", "h3"],
        ..Default::default()
    });
}

#[test]
fn c09_depth() {
    check(Case {
        fixture: "09-depth",
        sources: &["hosts"],
        graph_groups: &["top"],
        hosts: &["h1"],
        magic_hosts: &["h1"],
        ..Default::default()
    });
}

#[test]
fn c10_precedence() {
    check(Case {
        fixture: "10-precedence",
        sources: &["hosts"],
        hosts: &["h1", "h2"],
        ..Default::default()
    });
}

#[test]
fn c11_multi_source() {
    check(Case {
        fixture: "11-multi-source",
        sources: &["first/hosts.ini", "second/hosts.yml"],
        hosts: &["web1", "web2"],
        limits: &["extra"],
        ..Default::default()
    });
}

#[test]
fn c12_script() {
    check(Case {
        fixture: "12-script",
        sources: &["inventory.sh", "nometa.sh"],
        hosts: &["w1", "nm1"],
        ..Default::default()
    });
}

#[test]
fn c13_forward_refs() {
    check(Case {
        fixture: "13-forward-refs",
        sources: &["hosts"],
        graph_groups: &["parent"],
        ..Default::default()
    });
}

#[test]
fn c14_literal_typing() {
    check(Case {
        fixture: "14-literal-typing",
        sources: &["hosts"],
        hosts: &["h1", "h2"],
        ..Default::default()
    });
}

#[test]
fn c15_types_unsafe() {
    check(Case {
        fixture: "15-types-unsafe",
        sources: &["inventory.yml"],
        no_graph_vars: true,
        hosts: &["h1", "h2"],
        ..Default::default()
    });
}

#[test]
fn c16a_limits() {
    check(Case {
        fixture: "16-patterns",
        sources: &["hosts"],
        limits: &[
            "web,db",
            "web:db",
            "web:&db",
            "web:!db",
            "!db:web",
            "&db",
            "!db",
            "we*",
            "*.example.com",
            "~web[13]",
            "~(db|lone)",
            "~eb",
            "web[0]",
            "web[-1]",
            "web[1:2]",
        ],
        ..Default::default()
    });
}

#[test]
fn c16b_limits() {
    check(Case {
        fixture: "16-patterns",
        sources: &["hosts"],
        limits: &[
            "web[1:]",
            "web[1-2]",
            "web[5]",
            "db*[2]",
            "@FIXTURE/limit.txt",
            "nope,web",
            "nope:nope2:db1",
            "localhost",
            "ungrouped",
            "all:!app",
            "prod:&dbx:!web2",
            "10.0.0.*",
            "2001:db8::1",
            "v6",
            "web db",
            "web[:2]",
        ],
        ..Default::default()
    });
}

#[test]
fn c16c_patterns() {
    check(Case {
        fixture: "16-patterns",
        sources: &["hosts"],
        patterns: &[
            "web:db",
            "web2:web1",
            "!db:web",
            "we*",
            "db*[2]",
            "localhost",
            "web[-1]:db[0]",
            "nope,web",
        ],
        patterns_unordered: &["*", "prod", "all:!web1"],
        magic_hosts: &["web1", "lonely", "db1", "10.0.0.1", "2001:db8::2"],
        ..Default::default()
    });
}

#[test]
fn c17_implicit_localhost() {
    check(Case {
        fixture: "17-localhost",
        sources: &["hosts"],
        hosts: &["localhost", "127.0.0.1", "h1"],
        host_ignore: &["ansible_python_interpreter"],
        limits: &["localhost", "localhost,h1"],
        patterns: &["localhost", "::1", "localhost:h2"],
        ..Default::default()
    });
}

#[test]
fn c18_explicit_localhost() {
    check(Case {
        fixture: "18-explicit-localhost",
        sources: &["hosts"],
        hosts: &["127.0.0.1", "localhost"],
        limits: &["localhost", "::1"],
        patterns: &["localhost", "::1"],
        ..Default::default()
    });
}

#[test]
fn c19_host_list_and_repeated_sources() {
    check(Case {
        fixture: "10-precedence",
        sources: &[
            "list:hl1,hl2:2222,[2001:db8::5]:22,h1,",
            "hosts",
            "../01-ini-basic/hosts",
        ],
        hosts: &["hl2", "h1"],
        limits: &["hl*"],
        ..Default::default()
    });
}

#[test]
fn c20_toml() {
    check(Case {
        fixture: "20-toml",
        sources: &["inventory.toml", "example2.toml", "example3.toml"],
        graph_groups: &["web", "nginx"],
        hosts: &["tomcat3", "node02", "host2", "host4", "lonely"],
        limits: &["web:!apache"],
        ..Default::default()
    });
}

#[test]
fn c21_yaml_output() {
    check(Case {
        fixture: "21-yaml-output",
        sources: &["inventory.yml"],
        hosts: &["s1", "n1"],
        limits: &["n1"],
        ..Default::default()
    });
}

#[test]
fn c22_host_lists() {
    for (sources, hosts) in [
        (&["list:h1,h2"][..], &["h1", "h2"][..]),
        (&["list:localhost,"][..], &["localhost"][..]),
        (&["list:host1,host2,"][..], &["host2"][..]),
        (
            &["list:a:22, b ,[::1]:2222,c[1:2],d e,,", "a,b.yml"][..],
            &["a", "::1", "c[1:2]", "filehost2"][..],
        ),
    ] {
        check(Case {
            fixture: "22-host-lists",
            sources,
            hosts,
            patterns: &["all", "localhost", "c*"],
            ..Default::default()
        });
    }
}

/// The fork server gives exactly what the installed `ansible-inventory` prints.
#[test]
fn oracle_matches_a_fresh_process() {
    use common::ansible::{Env, run_in, sandbox, subprocess};
    let hosts = common::fixtures().join("01-ini-basic/hosts");
    let missing = common::fixtures().join("no-such-source");
    for (env, args) in [
        (Env::strict(), vec!["--graph", "--vars"]),
        (Env::default_config(), vec!["--list", "--yaml"]),
    ] {
        let mut all: Vec<String> = vec!["-i".into(), hosts.display().to_string()];
        all.extend(["-i".into(), missing.display().to_string()]);
        all.extend(args.iter().map(|a| a.to_string()));
        if env.strict {
            all.truncate(2);
            all.extend(args.iter().map(|a| a.to_string()));
        }
        let cwd = &sandbox().cwd;
        assert_eq!(
            run_in(&env, cwd, "ansible-inventory", &all),
            subprocess(&env, cwd, "ansible-inventory", &all),
            "{all:?}"
        );
    }
}
