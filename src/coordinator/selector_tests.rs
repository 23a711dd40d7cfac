use super::*;
use serde_json::json;

#[test]
fn label_selectors() {
    let pod = json!({"metadata": {"labels": {"app": "web", "tier": "edge", "replicas": "3"}}});
    for (sel, want) in [
        ("app=web", true),
        ("app==web", true),
        ("app = web", true),
        ("app=db", false),
        ("app!=db", true),
        ("app", true),
        ("!app", false),
        ("!owner", true),
        ("app in (web, db)", true),
        ("app in (web,db)", true),
        ("tier notin (edge)", false),
        ("owner notin (x)", true),
        ("app=web,tier=edge", true),
        ("app=web,tier=core", false),
        ("replicas>2", true),
        ("replicas<2", false),
        ("example.com/owner", false),
        ("", true),
    ] {
        assert_eq!(
            Selector::labels(sel).unwrap().matches_labels(&pod),
            want,
            "{sel}"
        );
    }
}

/// The messages kube-apiserver (apimachinery's labels.Parse) gives for bad selectors.
#[test]
fn bad_label_selectors_say_what_kube_apiserver_says() {
    for (sel, want) in [
        (
            "bad label==",
            "unable to parse requirement: found 'label', expected: in, notin, =, ==, !=, gt, lt",
        ),
        ("a b c", "found 'b', expected: in, notin"),
        ("app=web,", "found '', expected: identifier after ','"),
        (
            "=web",
            "found '=', expected: !, identifier, or 'end of string'",
        ),
        (
            "app in web",
            "unable to parse requirement: found 'web' expected: '('",
        ),
        ("!app=web", "found '=', expected: ',' or 'end of string'"),
        (
            "Bad_Key!=x_",
            "unable to parse requirement: values[0][Bad_Key]: Invalid value: \"x_\": a valid label must be an empty string",
        ),
        (
            "-app=x",
            "unable to parse requirement: <nil>: Invalid value: \"-app\": name part must consist of alphanumeric characters",
        ),
        (
            "Example.com/app=x",
            "<nil>: Invalid value: \"Example.com/app\": prefix part a lowercase RFC 1123 subdomain",
        ),
        ("a/b/c", "a qualified name must consist of"),
        (
            "replicas>three",
            "values[0]: Invalid value: \"three\": for 'Gt', 'Lt' operators, the value must be an integer",
        ),
    ] {
        let err = Selector::labels(sel).unwrap_err();
        assert!(err.0.contains(want), "{sel}: {err}");
    }
    let long = format!("app={}", "x".repeat(64));
    let err = Selector::labels(&long).unwrap_err();
    assert!(
        err.0.contains("must be no more than 63 characters"),
        "{err}"
    );
}

#[test]
fn field_selectors() {
    let pod = json!({"metadata": {"name": "web-n1"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
    let s = Selector::fields("pods", "spec.nodeName=n1,status.phase!=Failed").unwrap();
    assert!(s.matches_fields(&pod));
    assert_eq!(s.wanted("spec.nodeName"), Some("n1"));
    assert!(
        !Selector::fields("pods", "metadata.name=x")
            .unwrap()
            .matches_fields(&pod)
    );
    // Absent fields compare as their zero value, as in the API server.
    for sel in [
        "spec.hostNetwork=false",
        "spec.serviceAccountName=",
        "spec.host=n1",
        "status.phase==Running",
    ] {
        let s = Selector::fields("pods", sel).unwrap();
        assert!(s.matches_fields(&pod), "{sel}");
    }
    let event = json!({"source": {"component": "kubelet"}, "involvedObject": {"name": "web-n1"}});
    assert!(
        Selector::fields("events", "source=kubelet,involvedObject.name=web-n1")
            .unwrap()
            .matches_fields(&event)
    );
}

#[test]
fn bad_field_selectors_say_what_kube_apiserver_says() {
    for (resource, sel, want) in [
        (
            "pods",
            "spec.nodeName",
            "invalid selector: 'spec.nodeName'; can't understand 'spec.nodeName'",
        ),
        (
            "pods",
            "spec.nodename=n1",
            "field label not supported: spec.nodename",
        ),
        (
            "pods",
            "metadata.labels=x",
            "field label not supported: metadata.labels",
        ),
        (
            "nodes",
            "spec.nodeName=n1",
            "field label not supported: spec.nodeName",
        ),
        (
            "namespaces",
            "status.phase=Active,x=y",
            "field label not supported: x",
        ),
        (
            "events",
            "involvedObject.foo=x",
            "field label not supported: involvedObject.foo",
        ),
    ] {
        let err = Selector::fields(resource, sel).unwrap_err();
        assert_eq!(err.0, want, "{resource} {sel}");
    }
}
