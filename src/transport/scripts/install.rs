//! The install script: files at absolute paths (agent binary, unit, certificates), each
//! written as a temp file in its own directory and renamed into place.

use super::apply::{commit, helpers, stage};
use super::sh_quote;

/// Script that installs files at absolute paths atomically (same-directory temp file +
/// rename), creating parent directories with mode 0755. Prints `DONE` at the end.
pub fn install_files_script(files: &[(String, Vec<u8>, u32)]) -> String {
    let mut s = helpers();
    s.push_str("set -C\ntrap '' PIPE HUP\n");
    for (path, bytes, mode) in files {
        let (dir, name) = path.rsplit_once('/').unwrap_or((".", path));
        let dir = if dir.is_empty() { "/" } else { dir };
        let q = sh_quote(dir);
        s.push_str(&format!(
            "umask 022\ne=$(mkdir -p -- {q} 2>&1) || {{ printf '%s\\n' \"$e\" >&2; pf_fail mkdir {q}; }}\n\
             cd -- {q} || pf_fail cd {q}\ntrap 'rm -f -- ./.podfleet-0.tmp' EXIT\n"
        ));
        stage(&mut s, 0, name, bytes, *mode);
        commit(&mut s, &[(0, name, *mode)], false);
        s.push_str("sync -- . 2>/dev/null || sync\n");
    }
    s.push_str("echo DONE\n");
    s
}
