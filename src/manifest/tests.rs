//! One failing and one passing case per validation rule.

use super::*;

const GOOD: &str = "apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: edge
  labels:
    app: web
spec:
  volumes:
  - name: data
    hostPath:
      path: /var/lib/web
  containers:
  - name: web
    image: busybox:1.36
    command: [\"httpd\", \"-f\"]
    ports:
    - containerPort: 80
      name: http
    volumeMounts:
    - name: data
      mountPath: /data
    livenessProbe:
      tcpSocket:
        port: 80
";

fn errors(text: &str) -> Vec<String> {
    match check("m.yaml", text.as_bytes()) {
        Ok(_) => vec![],
        Err(d) => d.iter().map(|d| d.to_string()).collect(),
    }
}

fn assert_error(text: &str, line: usize, needle: &str) {
    let errs = errors(text);
    let want = format!("m.yaml:{line}:");
    assert!(
        errs.iter()
            .any(|e| e.starts_with(&want) && e.contains(needle)),
        "expected an error at line {line} containing {needle:?}, got {errs:#?}"
    );
}

#[test]
fn good_manifest_passes_with_identity() {
    let v = check("m.yaml", GOOD.as_bytes()).expect("valid");
    assert_eq!(v.key(), "edge/web");
    assert_eq!(v.canonical_hash.len(), 64);
    // Formatting and key order do not change the canonical hash.
    let reordered = GOOD.replace(
        "  name: web\n  namespace: edge\n",
        "  namespace: edge\n  name:   web   # comment\n",
    );
    assert_eq!(
        check("m.yaml", reordered.as_bytes())
            .unwrap()
            .canonical_hash,
        v.canonical_hash
    );
}

#[test]
fn json_manifest_passes() {
    let json = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"j"},"spec":{"containers":[{"name":"c","image":"i:1"}]}}"#;
    assert!(check("j.json", json.as_bytes()).is_ok());
}

#[test]
fn other_kinds_are_refused() {
    let dep = GOOD
        .replace("kind: Pod", "kind: DaemonSet")
        .replace("apiVersion: v1", "apiVersion: apps/v1");
    assert_error(&dep, 2, "only Pods");
    assert_error(
        &GOOD.replace("kind: Pod", "kind: List"),
        2,
        "one Pod per file",
    );
    assert_error(
        &GOOD.replace("apiVersion: v1", "apiVersion: v2"),
        1,
        "apiVersion: v1",
    );
}

#[test]
fn multi_document_is_refused() {
    let two = format!("{GOOD}---\n{GOOD}");
    assert_error(&two, 26, "2 YAML documents");
    // A leading or trailing `---` alone is fine.
    assert!(errors(&format!("---\n{GOOD}---\n")).is_empty());
}

#[test]
fn syntax_errors_have_lines() {
    assert_error(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [a\n",
        5,
        "YAML syntax error",
    );
}

#[test]
fn empty_file_is_refused() {
    let e = errors("");
    assert!(e[0].contains("file is empty"), "{e:?}");
}

#[test]
fn unknown_fields_are_found() {
    assert_error(
        &GOOD.replace("    image: busybox", "    imagee: busybox"),
        15,
        "unknown field \"imagee\"",
    );
    assert_error(
        &GOOD.replace("  volumes:", "  volumez:"),
        9,
        "unknown field \"volumez\"",
    );
}

#[test]
fn names_must_be_dns1123() {
    assert_error(
        &GOOD.replace("name: web\n  namespace", "name: Web_1\n  namespace"),
        4,
        "not a valid name",
    );
    assert_error(
        &GOOD.replace("namespace: edge", "namespace: Edge"),
        5,
        "not a valid namespace",
    );
    assert_error(
        &GOOD.replace("  - name: web\n    image", "  - name: Web\n    image"),
        14,
        "container name",
    );
}

#[test]
fn name_is_required() {
    assert_error(
        &GOOD.replace("  name: web\n  namespace", "  namespace"),
        3,
        "metadata.name is required",
    );
}

#[test]
fn containers_are_required_with_name_and_image() {
    let none = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  containers: []\n";
    assert_error(none, 6, "at least one container");
    let no_image = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  containers:\n  - name: c\n  - image: x\n";
    assert_error(no_image, 7, "container \"c\" has no image");
    assert_error(no_image, 8, "containers[1] has no name");
}

#[test]
fn duplicate_container_names_are_refused() {
    let dup = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  initContainers:\n  - name: c\n    image: x\n  containers:\n  - name: c\n    image: x\n";
    assert_error(dup, 10, "used twice");
}

#[test]
fn api_object_references_are_refused() {
    let sa = GOOD.replace("spec:\n", "spec:\n  serviceAccountName: builder\n");
    assert_error(&sa, 9, "ServiceAccount");
    let secret = GOOD.replace(
        "    hostPath:\n      path: /var/lib/web\n",
        "    secret:\n      secretName: s\n",
    );
    assert_error(&secret, 10, "a secret");
    let cm = GOOD.replace(
        "    hostPath:\n      path: /var/lib/web\n",
        "    configMap:\n      name: s\n",
    );
    assert_error(&cm, 10, "configMap");
    let pvc = GOOD.replace(
        "    hostPath:\n      path: /var/lib/web\n",
        "    persistentVolumeClaim:\n      claimName: s\n",
    );
    assert_error(&pvc, 10, "persistentVolumeClaim");
    let env = GOOD.replace(
        "    command:",
        "    env:\n    - name: P\n      valueFrom:\n        secretKeyRef:\n          name: s\n          key: k\n    command:",
    );
    assert_error(&env, 17, "secretKeyRef");
    let env_from = GOOD.replace(
        "    command:",
        "    envFrom:\n    - configMapRef:\n        name: c\n    command:",
    );
    assert_error(&env_from, 17, "envFrom");
    let eph = GOOD.replace(
        "spec:\n",
        "spec:\n  ephemeralContainers:\n  - name: dbg\n    image: x\n",
    );
    assert_error(&eph, 9, "ephemeral containers");
    let projected = GOOD.replace(
        "    hostPath:\n      path: /var/lib/web\n",
        "    projected:\n      sources:\n      - serviceAccountToken:\n          path: t\n",
    );
    assert_error(&projected, 10, "service account token");
    // Allowed volume types pass.
    let ok = GOOD.replace(
        "    hostPath:\n      path: /var/lib/web\n",
        "    emptyDir: {}\n",
    );
    assert!(errors(&ok).is_empty(), "{:?}", errors(&ok));
}

#[test]
fn too_big_is_refused() {
    let mut big = GOOD.to_string();
    big.push('#');
    big.push_str(&"x".repeat(MAX_MANIFEST_BYTES));
    assert!(errors(&big)[0].contains("10 MiB"));
}

#[test]
fn yaml11_surprises_are_refused() {
    let yes = GOOD.replace("    app: web", "    app: web\n    enabled: yes");
    assert_error(&yes, 8, "quote it");
    let quoted = GOOD.replace("    app: web", "    app: web\n    enabled: \"yes\"");
    assert!(errors(&quoted).is_empty());
}

#[test]
fn volume_mounts_must_match_volumes() {
    let bad = GOOD.replace(
        "    - name: data\n      mountPath",
        "    - name: dat\n      mountPath",
    );
    assert_error(&bad, 21, "does not define");
}

#[test]
fn ports_and_probes_are_checked() {
    assert_error(
        &GOOD.replace("containerPort: 80", "containerPort: 70000"),
        18,
        "between 1 and 65535",
    );
    let two_handlers = GOOD.replace(
        "      tcpSocket:\n        port: 80\n",
        "      tcpSocket:\n        port: 80\n      exec:\n        command: [\"true\"]\n",
    );
    assert_error(&two_handlers, 23, "exactly one");
    assert_error(
        &GOOD.replace("spec:\n", "spec:\n  restartPolicy: Sometimes\n"),
        9,
        "restartPolicy",
    );
}

#[test]
fn type_errors_are_reported_with_line() {
    assert_error(
        &GOOD.replace("containerPort: 80", "containerPort: eighty"),
        18,
        "containerPort",
    );
}

#[test]
fn all_errors_are_reported() {
    let bad = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  serviceAccountName: x\n  containers:\n  - name: c\n    image: x\n    imagee: y\n  - name: c\n    image: z\n";
    let errs = errors(bad);
    assert!(errs.len() >= 3, "{errs:#?}");
}

mod no_panic {
    use proptest::prelude::*;

    const GOOD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: default\n  labels: {app: web}\nspec:\n  containers:\n  - name: web\n    image: nginx:1\n    ports: [{containerPort: 80}]\n    env: [{name: A, value: \"1\"}]\n  volumes:\n  - name: d\n    emptyDir: {}\n";

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// Arbitrary bytes never panic the validator.
        #[test]
        fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = super::check("m.yaml", &bytes);
        }

        /// Hostile shapes (deep block and flow nesting, anchors and aliases) never panic and
        /// never get past the shape guard when they are deeper than it allows.
        #[test]
        fn hostile_shapes(pieces in proptest::collection::vec(
            prop_oneof![Just("- "), Just("{a: "), Just("["), Just("]"), Just("}"), Just("&x "),
                        Just("*x "), Just("a: "), Just("\n  "), Just(", "), Just("? ")], 0..600)) {
            let text: String = pieces.concat();
            if let Err(errs) = super::check("m.yaml", text.as_bytes()) {
                prop_assert!(!errs.is_empty());
            }
        }

        /// A good manifest with a random splice (YAML punctuation, odd scalars) never panics,
        /// and any error it yields names the file with a line.
        #[test]
        fn spliced_manifests(at in 0usize..GOOD.len(), cut in 0usize..20,
                             insert in "[-:{}\\[\\],'\"&*!|>%@`#\\n ]{0,6}|yes|0644|~|null|1e3|.inf") {
            let at = GOOD.char_indices().map(|(i, _)| i).rfind(|i| *i <= at).unwrap_or(0);
            let end = (at + cut).min(GOOD.len());
            let text = format!("{}{}{}", &GOOD[..at], insert, &GOOD[end..]);
            if let Err(errs) = super::check("m.yaml", text.as_bytes()) {
                for e in errs {
                    prop_assert!(e.to_string().starts_with("m.yaml"), "{}", e);
                }
            }
        }
    }
}
