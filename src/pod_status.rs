//! The STATUS kubectl prints for a pod (`Running`, `CrashLoopBackOff`, `Init:0/1`,
//! `Completed`, `Terminating`, …), computed one way for `podfleet status`, `agent status` and
//! the Kubernetes API's tables: kubectl's `printPod` (k8s.io/kubernetes
//! pkg/printers/internalversion/printers.go), over the Pod object as JSON.

use serde_json::Value;

fn terminated_text(t: &Value, prefix: &str) -> String {
    match t["reason"].as_str().filter(|r| !r.is_empty()) {
        Some(r) => format!("{prefix}{r}"),
        None => match t["signal"].as_i64().filter(|s| *s != 0) {
            Some(s) => format!("{prefix}Signal:{s}"),
            None => format!("{prefix}ExitCode:{}", t["exitCode"].as_i64().unwrap_or(0)),
        },
    }
}

/// kubectl's STATUS for `pod` (a Pod object as JSON).
pub fn text(pod: &Value) -> String {
    let status = &pod["status"];
    let mut reason = status["reason"]
        .as_str()
        .filter(|r| !r.is_empty())
        .or(status["phase"].as_str())
        .unwrap_or("Pending")
        .to_string();
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let init = list(&status["initContainerStatuses"]);
    let init_total = pod["spec"]["initContainers"]
        .as_array()
        .map_or(init.len(), Vec::len);
    let mut initializing = false;
    for (i, c) in init.iter().enumerate() {
        let state = &c["state"];
        let terminated = state.get("terminated").filter(|t| t.is_object());
        let waiting = state["waiting"]["reason"]
            .as_str()
            .filter(|r| !r.is_empty() && *r != "PodInitializing");
        match (terminated, waiting) {
            (Some(t), _) if t["exitCode"].as_i64() == Some(0) => continue,
            (Some(t), _) => reason = terminated_text(t, "Init:"),
            (None, Some(w)) => reason = format!("Init:{w}"),
            (None, None) => reason = format!("Init:{i}/{init_total}"),
        }
        initializing = true;
        break;
    }
    if !initializing {
        let mut has_running = false;
        for c in list(&status["containerStatuses"]).iter().rev() {
            let state = &c["state"];
            if let Some(w) = state["waiting"]["reason"]
                .as_str()
                .filter(|r| !r.is_empty())
            {
                reason = w.to_string();
            } else if let Some(t) = state.get("terminated").filter(|t| t.is_object()) {
                reason = terminated_text(t, "");
            } else if c["ready"] == true && state.get("running").is_some_and(Value::is_object) {
                has_running = true;
            }
        }
        if reason == "Completed" && has_running {
            let ready = list(&status["conditions"])
                .iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True");
            reason = if ready { "Running" } else { "NotReady" }.into();
        }
    }
    if pod["metadata"]["deletionTimestamp"].is_string() {
        reason = "Terminating".into();
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reasons_over_the_phase_as_kubectl_prints_them() {
        let pod =
            |status: Value| json!({"spec": {"initContainers": [{"name": "i"}]}, "status": status});
        let running = json!({"running": {"startedAt": "x"}});
        assert_eq!(
            text(&pod(
                json!({"phase": "Running", "containerStatuses": [{"state": running, "ready": true}]})
            )),
            "Running"
        );
        assert_eq!(
            text(&pod(
                json!({"phase": "Running", "containerStatuses": [{"state": {"waiting": {"reason": "CrashLoopBackOff"}}}]})
            )),
            "CrashLoopBackOff"
        );
        assert_eq!(
            text(&pod(
                json!({"phase": "Pending", "initContainerStatuses": [{"state": {"waiting": {"reason": "PodInitializing"}}}]})
            )),
            "Init:0/1"
        );
        assert_eq!(
            text(&pod(
                json!({"phase": "Pending", "initContainerStatuses": [{"state": {"terminated": {"exitCode": 2, "reason": "Error"}}}]})
            )),
            "Init:Error"
        );
        assert_eq!(
            text(&pod(
                json!({"phase": "Failed", "containerStatuses": [{"state": {"terminated": {"exitCode": 137}}}]})
            )),
            "ExitCode:137"
        );
        assert_eq!(
            text(&pod(
                json!({"phase": "Succeeded", "containerStatuses": [{"state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]})
            )),
            "Completed"
        );
        // One container done, another still running and ready.
        assert_eq!(
            text(&pod(
                json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [
                    {"state": running, "ready": true},
                    {"state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                ]})
            )),
            "Running"
        );
        let mut gone = pod(json!({"phase": "Running"}));
        gone["metadata"] = json!({"deletionTimestamp": "2026-01-01T00:00:00Z"});
        assert_eq!(text(&gone), "Terminating");
        assert_eq!(text(&json!({})), "Pending");
    }
}
