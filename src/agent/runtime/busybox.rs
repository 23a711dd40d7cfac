//! A local busybox image for demos and tests: no registry is reachable, so it is imported
//! from the host's static busybox (Debian's busybox-static), every applet linked.

use std::path::Path;
use std::process::Command;

/// Make sure `image` exists in the local Docker Engine, importing it from `/bin/busybox` if
/// not.
pub fn ensure_image(image: &str) -> anyhow::Result<()> {
    let have = Command::new("docker")
        .args(["image", "inspect", image])
        .output()
        .is_ok_and(|o| o.status.success());
    if have {
        return Ok(());
    }
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .ok_or_else(|| {
            anyhow::anyhow!("no static busybox on this machine (apt-get install busybox-static)")
        })?;
    let root = tempfile::tempdir()?;
    let bin = root.path().join("bin");
    std::fs::create_dir_all(&bin)?;
    std::fs::copy(busybox, bin.join("busybox"))?;
    let list = Command::new(busybox).arg("--list").output()?;
    for applet in String::from_utf8_lossy(&list.stdout).split_whitespace() {
        if applet != "busybox" {
            std::os::unix::fs::symlink("busybox", bin.join(applet))?;
        }
    }
    for d in ["tmp", "www", "etc"] {
        std::fs::create_dir_all(root.path().join(d))?;
    }
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "tar -C '{}' -c . | docker import -c 'CMD [\"/bin/sh\"]' - '{image}' >/dev/null",
            root.path().display()
        ))
        .status()?;
    anyhow::ensure!(
        status.success(),
        "docker import of busybox as {image} failed"
    );
    Ok(())
}
