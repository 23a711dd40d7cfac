//! From desired state to push jobs: each host's target (how to reach it, from its
//! variables), manifest directory and files, or why it cannot be pushed.

use crate::fleet::{self, DesiredState, Fleet};
use crate::plan::WantedFile;
use crate::push::NodeJob;
use crate::transport::target::{self, TargetDefaults};

/// A host's variables (vault values decrypted) and how to reach it; a variable that cannot be
/// decrypted makes the target an error naming the file and variable, so the host fails
/// instead of being reached with the wrong settings.
pub fn host_target(
    fleet: &Fleet,
    host: &str,
    defaults: &TargetDefaults,
) -> (
    serde_json::Map<String, serde_json::Value>,
    Result<crate::transport::Target, target::InvalidTarget>,
) {
    match fleet.inventory.resolved_vars(host) {
        Ok(vars) => {
            let target = target::from_vars(host, &vars, defaults);
            (vars, target)
        }
        Err(e) => (
            Default::default(),
            Err(target::InvalidTarget(e.to_string())),
        ),
    }
}

/// Turn the desired state into push jobs.
pub fn jobs(fleet: &Fleet, state: &DesiredState, defaults: &TargetDefaults) -> Vec<NodeJob> {
    let mut out = Vec::new();
    for (host, desired) in state {
        let (vars, target) = host_target(fleet, host, defaults);
        let (dir, wanted) = match desired {
            Ok(d) => (
                d.settings.static_pod_path.clone(),
                Ok(d.files
                    .values()
                    .map(|f| WantedFile {
                        name: f.name.clone(),
                        bytes: f.bytes.clone(),
                        mode: d.settings.file_mode,
                    })
                    .collect()),
            ),
            Err(diags) => {
                let dir = vars
                    .get("static_pod_path")
                    .and_then(|v| v.as_str())
                    .unwrap_or(fleet::DEFAULT_STATIC_POD_PATH)
                    .to_string();
                (dir, Err(diags.iter().map(|d| d.to_string()).collect()))
            }
        };
        out.push(NodeJob {
            node: host.clone(),
            target,
            dir,
            wanted,
        });
    }
    out
}
