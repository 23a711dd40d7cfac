//! What the node is — capacity and system info — read once when the agent starts, for the
//! Node object's `status.capacity`, `status.allocatable` and `status.nodeInfo`.
//!
//! The kubelet's sources: cadvisor's machine info (`/proc/cpuinfo`, `/proc/meminfo`,
//! `/etc/machine-id`, `/proc/sys/kernel/random/boot_id`, `/sys/class/dmi/id/product_uuid`),
//! `/etc/os-release` for `osImage`, `uname -r` for `kernelVersion`.

use std::path::Path;

use crate::rpc;

/// The kubelet's default `--max-pods`.
pub const MAX_PODS: u32 = 110;

/// Read the node's info; what cannot be read stays empty (or 0).
pub fn gather(state_dir: &Path, runtime_version: String) -> rpc::NodeInfo {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    rpc::NodeInfo {
        cpus: std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1),
        memory_bytes: mem_total(&read("/proc/meminfo")).unwrap_or(0),
        ephemeral_storage_bytes: nix::sys::statvfs::statvfs(state_dir)
            .map(|s| s.blocks() * s.fragment_size())
            .unwrap_or(0),
        max_pods: MAX_PODS,
        os_image: os_image(&read("/etc/os-release")),
        kernel_version: read("/proc/sys/kernel/osrelease"),
        architecture: rpc::go_arch(std::env::consts::ARCH).to_string(),
        container_runtime_version: runtime_version,
        machine_id: read("/etc/machine-id"),
        boot_id: read("/proc/sys/kernel/random/boot_id"),
        system_uuid: read("/sys/class/dmi/id/product_uuid").to_lowercase(),
    }
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// `PRETTY_NAME` of os-release, unquoted; `Linux` without one.
fn os_image(os_release: &str) -> String {
    os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim().trim_matches('"').trim_matches('\'').to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "Linux".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_kernels_files() {
        assert_eq!(
            mem_total("MemTotal:       24575012 kB\nMemFree: 1 kB\n"),
            Some(24575012 * 1024)
        );
        assert_eq!(mem_total("nothing"), None);
        assert_eq!(
            os_image("NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"),
            "Debian GNU/Linux 12 (bookworm)"
        );
        assert_eq!(os_image(""), "Linux");
        assert_eq!(rpc::go_arch("x86_64"), "amd64");
        assert_eq!(rpc::go_arch("aarch64"), "arm64");
    }

    #[test]
    fn gathers_this_machine() {
        let info = gather(Path::new("/"), "process://0".into());
        assert!(info.cpus >= 1 && info.memory_bytes > 0 && info.ephemeral_storage_bytes > 0);
        assert!(!info.kernel_version.is_empty());
        assert_eq!(info.max_pods, 110);
    }
}
