//! The OpenAPI documents kubectl reads (`kubectl explain`, client-side validation):
//! `/openapi/v3` (an index of group-versions) with one OpenAPI 3.0 document per
//! group-version, and `/openapi/v2` (Swagger 2.0, JSON only).
//!
//! The schemas are k8s-openapi's (its `schemars` feature: the upstream descriptions and
//! structure for Kubernetes v1.33), generated once; each served kind carries the
//! `x-kubernetes-group-version-kind` extension kube-apiserver adds, by which kubectl finds it.

use std::sync::OnceLock;

use k8s_openapi::api::authentication::v1 as authn;
use k8s_openapi::api::authorization::v1 as authz;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, Status};
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

/// Adds one kind's schema (and those it refers to) to a generator.
type AddSchema = fn(&mut SchemaGenerator);

/// One group-version's schemas: (group, version, kinds and how to add each to a generator).
struct GroupVersion {
    group: &'static str,
    version: &'static str,
    kinds: Vec<(&'static str, AddSchema)>,
}

fn add<T: schemars::JsonSchema>(g: &mut SchemaGenerator) {
    g.subschema_for::<T>();
}

fn served() -> Vec<GroupVersion> {
    vec![
        GroupVersion {
            group: "",
            version: "v1",
            kinds: vec![
                ("Pod", add::<core::Pod>),
                ("Node", add::<core::Node>),
                ("Namespace", add::<core::Namespace>),
                ("Event", add::<core::Event>),
                ("Service", add::<core::Service>),
                ("Status", add::<Status>),
                ("ListMeta", add::<ListMeta>),
            ],
        },
        GroupVersion {
            group: "authentication.k8s.io",
            version: "v1",
            kinds: vec![("SelfSubjectReview", add::<authn::SelfSubjectReview>)],
        },
        GroupVersion {
            group: "authorization.k8s.io",
            version: "v1",
            kinds: vec![
                (
                    "SelfSubjectAccessReview",
                    add::<authz::SelfSubjectAccessReview>,
                ),
                (
                    "SelfSubjectRulesReview",
                    add::<authz::SelfSubjectRulesReview>,
                ),
            ],
        },
    ]
}

/// The schema name k8s-openapi gives a kind (`io.k8s.api.core.v1.Pod`).
fn schema_name(group: &str, version: &str, kind: &str) -> String {
    match (group, kind) {
        (_, "Status" | "ListMeta") => format!("io.k8s.apimachinery.pkg.apis.meta.{version}.{kind}"),
        ("", _) => format!("io.k8s.api.core.{version}.{kind}"),
        (g, _) => {
            let short = g.trim_end_matches(".k8s.io");
            format!("io.k8s.api.{short}.{version}.{kind}")
        }
    }
}

/// The schema of a `<kind>List` (k8s-openapi has one generic `List<T>` without a schema).
fn list_schema(kind: &str, item: &str, refs: &str) -> Value {
    json!({
        "description": format!("{kind}List is a list of {kind}s."),
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."},
            "kind": {"type": "string", "description": "Kind is a string value representing the REST resource this object represents."},
            "items": {"type": "array", "items": {"$ref": format!("{refs}{item}")}, "description": format!("List of {kind}s.")},
            "metadata": {"$ref": format!("{refs}io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"), "description": "Standard list metadata."},
        },
    })
}

/// The schemas of `gv` (and everything they refer to) with the GVK extensions; `refs` is
/// where `$ref`s point (`#/components/schemas/` or `#/definitions/`).
fn schemas(gv: &GroupVersion, settings: SchemaSettings, refs: &str) -> Map<String, Value> {
    let mut g = settings.into_generator();
    for (_, add) in &gv.kinds {
        add(&mut g);
    }
    let mut defs = g.take_definitions(true);
    if gv.group.is_empty() {
        for kind in ["Pod", "Node", "Namespace", "Event", "Service"] {
            let item = schema_name("", gv.version, kind);
            let list = format!("{kind}List");
            defs.insert(
                schema_name("", gv.version, &list),
                list_schema(kind, &item, refs),
            );
            let gvk = json!([{"group": "", "kind": list, "version": gv.version}]);
            defs[&schema_name("", gv.version, &list)]["x-kubernetes-group-version-kind"] = gvk;
        }
    }
    for (kind, _) in &gv.kinds {
        if *kind == "ListMeta" {
            continue;
        }
        let group = if *kind == "Status" { "" } else { gv.group };
        if let Some(Value::Object(s)) = defs.get_mut(&schema_name(gv.group, gv.version, kind)) {
            s.insert(
                "x-kubernetes-group-version-kind".into(),
                json!([{"group": group, "kind": kind, "version": gv.version}]),
            );
        }
    }
    defs
}

/// The read operations of the core resources, each with the
/// `x-kubernetes-group-version-kind` by which `kubectl explain` maps a resource to its kind.
fn paths(gv: &GroupVersion) -> Value {
    let mut paths = Map::new();
    if !gv.group.is_empty() {
        return Value::Object(paths);
    }
    let refs = "#/components/schemas/";
    for (resource, kind, _, namespaced) in super::discovery::CORE {
        let gvk = json!({"group": "", "kind": kind, "version": gv.version});
        let op = |action: &str, schema: String| {
            let mut ops = json!({"get": {
                "description": format!("{action} {kind}"),
                "operationId": format!("{action}CoreV1{kind}"),
                "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": format!("{refs}{schema}")}}}}},
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk,
            }});
            // The server validates (kubectl's QueryParamVerifierV3 looks for fieldValidation
            // on a PATCH of the kind), so kubectl skips client-side validation, which would
            // need the protobuf OpenAPI v2; the server then refuses every change with 405.
            if action == "get" {
                ops["patch"] = json!({
                    "description": format!("refused: podfleet's API is read-only ({kind}s change through their manifest files)"),
                    "operationId": format!("patchCoreV1{kind}"),
                    "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}}],
                    "responses": {"405": {"description": "MethodNotAllowed"}},
                    "x-kubernetes-action": "patch",
                    "x-kubernetes-group-version-kind": gvk,
                });
            }
            ops
        };
        let item = schema_name("", gv.version, kind);
        let list = schema_name("", gv.version, &format!("{kind}List"));
        let base = format!("/api/{}", gv.version);
        if namespaced {
            paths.insert(format!("{base}/{resource}"), op("list", list.clone()));
            paths.insert(
                format!("{base}/namespaces/{{namespace}}/{resource}"),
                op("list", list),
            );
            paths.insert(
                format!("{base}/namespaces/{{namespace}}/{resource}/{{name}}"),
                op("get", item),
            );
        } else {
            paths.insert(format!("{base}/{resource}"), op("list", list));
            paths.insert(format!("{base}/{resource}/{{name}}"), op("get", item));
        }
    }
    Value::Object(paths)
}

/// `api/v1` or `apis/<group>/<version>`.
fn path_of(gv: &GroupVersion) -> String {
    if gv.group.is_empty() {
        format!("api/{}", gv.version)
    } else {
        format!("apis/{}/{}", gv.group, gv.version)
    }
}

struct Docs {
    /// `/openapi/v3`.
    index: String,
    /// (`api/v1`, its document).
    v3: Vec<(String, String)>,
    /// `/openapi/v2`.
    v2: String,
}

fn info() -> Value {
    json!({"title": "Kubernetes (podfleet)", "version": format!("v1.{}.0", super::KUBE_MINOR)})
}

fn docs() -> &'static Docs {
    static DOCS: OnceLock<Docs> = OnceLock::new();
    DOCS.get_or_init(|| {
        let mut v3 = Vec::new();
        let mut index = Map::new();
        let mut v2_defs = Map::new();
        for gv in served() {
            let doc = json!({
                "openapi": "3.0.0",
                "info": info(),
                "paths": paths(&gv),
                "components": {"schemas": schemas(&gv, SchemaSettings::openapi3(), "#/components/schemas/")},
            })
            .to_string();
            let path = path_of(&gv);
            let hash = crate::manifest::content_sha256(doc.as_bytes())[..32].to_uppercase();
            index.insert(
                path.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}")}),
            );
            v3.push((path, doc));
            let mut draft = SchemaSettings::draft07();
            draft.definitions_path = "/definitions".into();
            draft.meta_schema = None;
            v2_defs.extend(schemas(&gv, draft, "#/definitions/"));
        }
        let v2 = json!({
            "swagger": "2.0",
            "info": info(),
            "paths": {},
            "definitions": v2_defs,
        })
        .to_string();
        Docs {
            index: json!({ "paths": index }).to_string(),
            v3,
            v2,
        }
    })
}

/// `/openapi/v3`.
pub fn v3_index() -> &'static str {
    &docs().index
}

/// `/openapi/v3/<path>` (`api/v1`, `apis/authentication.k8s.io/v1`, …), if served.
pub fn v3(path: &str) -> Option<&'static str> {
    docs()
        .v3
        .iter()
        .find(|(p, _)| p == path)
        .map(|(_, d)| d.as_str())
}

/// `/openapi/v2` as JSON.
pub fn v2() -> &'static str {
    &docs().v2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_carry_the_served_kinds() {
        let index: Value = serde_json::from_str(v3_index()).unwrap();
        let url = index["paths"]["api/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap();
        assert!(url.starts_with("/openapi/v3/api/v1?hash="), "{url}");
        let doc: Value = serde_json::from_str(v3("api/v1").unwrap()).unwrap();
        let pod = &doc["components"]["schemas"]["io.k8s.api.core.v1.Pod"];
        assert_eq!(
            pod["x-kubernetes-group-version-kind"][0]["kind"], "Pod",
            "{pod}"
        );
        assert_eq!(
            pod["properties"]["spec"]["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.api.core.v1.PodSpec"
        );
        let containers =
            &doc["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert!(
            containers["description"]
                .as_str()
                .unwrap()
                .contains("containers"),
            "{containers}"
        );
        let list = &doc["components"]["schemas"]["io.k8s.api.core.v1.PodList"];
        assert_eq!(
            list["properties"]["items"]["items"]["$ref"],
            "#/components/schemas/io.k8s.api.core.v1.Pod"
        );
        assert_eq!(
            doc["paths"]["/api/v1/namespaces/{namespace}/pods"]["get"]["x-kubernetes-group-version-kind"]
                ["kind"],
            "Pod"
        );
        assert!(v3("apis/authentication.k8s.io/v1").is_some());
        let v2: Value = serde_json::from_str(v2()).unwrap();
        assert_eq!(
            v2["definitions"]["io.k8s.api.core.v1.Node"]["properties"]["spec"]["allOf"][0]["$ref"],
            "#/definitions/io.k8s.api.core.v1.NodeSpec"
        );
    }
}
