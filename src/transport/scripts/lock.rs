//! The node lock, in `sh`: who holds it, whether that holder still runs, and how a push
//! takes it (over).
//!
//! The lock is the directory `.podfleet.lock` (mkdir is atomic). Its holder writes
//! `info` (the controller's description, one JSON line) and `shell` (`<pid> <start time>
//! <boot id>` of the node-side shell). A holder whose shell no longer runs (killed push,
//! dropped connection, rebooted node) is *dead* on the node's own evidence; the next push
//! takes such a lock over. Two pushes that both find it dead race for `takeover/` inside
//! that lock instance: only one removes it.

use crate::nodedir::LOCK_DIR;

/// A lock without a `shell` file older than this many seconds is dead: its holder writes
/// the file right after creating the lock. (The age is its `info` file's, so a taker's own
/// `takeover/` does not make the lock look young.)
pub const SHELL_FILE_GRACE_SECS: u64 = 30;

/// Shell functions: `pf_start PID` (the process's start time), `pf_boot` (boot id) and
/// `pf_holder` (prints `live` or `dead` for the current lock).
pub fn functions() -> String {
    format!(
        r#"pf_start() {{ s=$(cat "/proc/$1/stat" 2>/dev/null) || {{ echo -; return; }}; s=${{s##*') '}}; set -- $s; echo "${{20:--}}"; }}
pf_boot() {{ cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo -; }}
pf_holder() {{
  if [ -s {lock}/shell ]; then
    read -r p st b < {lock}/shell || [ -n "$b" ] || {{ echo live; return; }}
    [ "$b" = "$(pf_boot)" ] || {{ echo dead; return; }}
    if [ -d /proc/self ]; then
      [ -d "/proc/$p" ] && [ "$(pf_start "$p")" = "$st" ] && echo live || echo dead
    else
      kill -0 "$p" 2>/dev/null && echo live || echo dead
    fi
  else
    m=$(stat -c %Y {lock}/info 2>/dev/null || stat -c %Y {lock} 2>/dev/null) || {{ echo live; return; }}
    [ $(( $(date +%s) - m )) -gt {grace} ] && echo dead || echo live
  fi
}}
"#,
        lock = LOCK_DIR,
        grace = SHELL_FILE_GRACE_SECS,
    )
}

/// Take the lock: print `LOCKED` + holder (exit `locked`) if a live push holds it, `TOOK` +
/// the dead holder's info if one was taken over, `FAIL lock .` (exit `failed`) if the lock
/// cannot be created for another reason (read-only, no permission, …). With `break_lock`,
/// an existing lock is removed first (`BROKE` + its info).
pub fn acquire(break_lock: bool, locked: i32, failed: i32) -> String {
    let brk = if break_lock {
        format!(
            "if [ -d {LOCK_DIR} ]; then echo BROKE; cat {LOCK_DIR}/info 2>/dev/null; echo; rm -rf -- ./{LOCK_DIR}; fi\n"
        )
    } else {
        String::new()
    };
    format!(
        r#"{brk}while :; do
  if e=$(mkdir ./{lock} 2>&1); then break; fi
  if [ ! -d {lock} ]; then echo "FAIL lock ."; printf '%s\n' "$e" >&2; exit {failed}; fi
  if [ "$(pf_holder)" = dead ] && mkdir ./{lock}/takeover 2>/dev/null; then
    if [ "$(pf_holder)" = dead ]; then
      echo TOOK; cat {lock}/info 2>/dev/null; echo
      rm -rf -- ./{lock}
      continue
    fi
    rmdir ./{lock}/takeover 2>/dev/null
  fi
  echo LOCKED; cat {lock}/info 2>/dev/null; echo; exit {locked}
done
"#,
        lock = LOCK_DIR,
    )
}

/// After `acquire`: release on every way out (removing podfleet's temp files first), and
/// describe the holder.
pub fn hold(info_json: &str) -> String {
    format!(
        r#"trap 'rm -f -- ./.podfleet-*.tmp; rm -rf -- ./{lock}' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
printf '%s\n' {info} > {lock}/info
printf '%s %s %s\n' "$$" "$(pf_start $$)" "$(pf_boot)" > {lock}/shell
"#,
        lock = LOCK_DIR,
        info = super::sh_quote(info_json),
    )
}
