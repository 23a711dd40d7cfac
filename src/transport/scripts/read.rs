//! The read script: every non-dot entry of the manifest directory with its content, the
//! record, the lock (with the node's verdict on its holder) and leftover temp files.

use crate::nodedir::{
    HolderState, LOCK_DIR, LockInfo, NodeRecord, ObservedDir, ObservedFile, ObservedLock,
    RECORD_FILE,
};

use super::errors::{IoCause, ScriptError};
use super::{lock, sh_quote};

/// Script that prints the manifest directory (see [`parse_read`]).
pub fn read_script(dir: &str) -> String {
    format!(
        r#"d={dir}
echo 'PODFLEET 2'
if [ ! -d "$d" ]; then echo 'D 0'; echo END; exit 0; fi
cd -- "$d" 2>/dev/null || {{ e=$(cd -- "$d" 2>&1); echo "FAIL cd $d"; printf '%s\n' "$e" >&2; exit 5; }}
echo 'D 1'
{functions}nl='
'
for f in *; do
  case $f in *"$nl"*) echo 'X'; continue;; esac
  [ -e "$f" ] || [ -L "$f" ] || continue
  if [ -f "$f" ]; then
    set -- $(stat -L -c '%a %s' -- "./$f") || {{ echo "FAIL read $f"; exit 5; }}
    l=0; [ -L "$f" ] && l=1
    printf 'F %s %s %s %s\n' "$1" "$2" "$l" "$f"
    cat -- "./$f" || {{ echo "FAIL read $f"; exit 5; }}
    echo
  elif [ -d "$f" ]; then printf 'O dir %s\n' "$f"
  else printf 'O other %s\n' "$f"
  fi
done
for f in .*.tmp; do
  case $f in *"$nl"*) continue;; esac
  if [ -e "$f" ] || [ -L "$f" ]; then printf 'T %s\n' "$f"; fi
done
if [ -f {record} ]; then printf 'R %s\n' $(wc -c < {record}); cat {record}; echo; fi
if [ -d {lock} ]; then printf 'K %s\n' "$(pf_holder)"; head -n 1 {lock}/info 2>/dev/null | tr -d '\n'; echo; fi
echo END
"#,
        dir = sh_quote(dir),
        functions = lock::functions(),
        record = RECORD_FILE,
        lock = LOCK_DIR,
    )
}

/// Parse the output of [`read_script`].
pub fn parse_read(out: &[u8]) -> Result<ObservedDir, ScriptError> {
    let mut p = Cursor { buf: out, pos: 0 };
    let first = p.line()?;
    if first != "PODFLEET 2" {
        return Err(ScriptError::Protocol(format!(
            "expected the read script's header, got {first:?} (is `sh` a POSIX shell?)"
        )));
    }
    let mut obs = ObservedDir::default();
    loop {
        let line = p.line()?;
        let (tag, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        match tag {
            "D" => obs.exists = rest == "1",
            "END" => return Ok(obs),
            "X" => obs
                .warnings
                .push("a file name with a newline was skipped".into()),
            "F" => {
                let mut parts = rest.splitn(4, ' ');
                let mode = parts.next().and_then(|m| u32::from_str_radix(m, 8).ok());
                let size = parts.next().and_then(|s| s.parse::<usize>().ok());
                let link = parts.next();
                let name = parts.next();
                let (Some(mode), Some(size), Some(link), Some(name)) = (mode, size, link, name)
                else {
                    return Err(ScriptError::Protocol(format!(
                        "malformed file header {line:?}"
                    )));
                };
                let bytes = p.take(size)?;
                p.expect_newline().map_err(|_| {
                    ScriptError::Other(format!("{name} changed while it was being read; run again"))
                })?;
                obs.files.insert(
                    name.to_string(),
                    ObservedFile {
                        name: name.to_string(),
                        mode,
                        bytes,
                        symlink: link == "1",
                    },
                );
            }
            "O" => {
                let name = rest.split_once(' ').map(|(_, n)| n).unwrap_or(rest);
                obs.others.push(name.to_string());
            }
            "T" => obs.leftover_tmp.push(rest.to_string()),
            "R" => {
                let size: usize = rest.trim().parse().map_err(|_| {
                    ScriptError::Protocol(format!("malformed record header {line:?}"))
                })?;
                let bytes = p.take(size)?;
                p.expect_newline().map_err(|_| {
                    ScriptError::Other(format!(
                        "{RECORD_FILE} changed while it was being read; run again"
                    ))
                })?;
                match serde_json::from_slice::<NodeRecord>(&bytes) {
                    Ok(r) => obs.record = Some(r),
                    Err(e) => obs.warnings.push(format!(
                        "{RECORD_FILE} is unreadable ({e}); treating no file as managed"
                    )),
                }
                obs.record_bytes = Some(bytes);
            }
            "K" => {
                let holder = if rest.trim() == "dead" {
                    HolderState::Dead
                } else {
                    HolderState::Live
                };
                let info_line = p.line()?;
                obs.lock = Some(ObservedLock {
                    info: serde_json::from_str::<LockInfo>(&info_line).ok(),
                    holder,
                });
            }
            "FAIL" => {
                let (op, path) = rest.split_once(' ').unwrap_or((rest, ""));
                return Err(ScriptError::Io {
                    op: super::errors::op_words(op).into(),
                    path: path.to_string(),
                    cause: IoCause::classify(""),
                });
            }
            other => {
                return Err(ScriptError::Protocol(format!(
                    "unexpected line from the node: {other:?}"
                )));
            }
        }
    }
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn ended() -> ScriptError {
        ScriptError::Protocol("output from the node ended early".into())
    }
    fn line(&mut self) -> Result<String, ScriptError> {
        let rest = &self.buf[self.pos..];
        let end = rest
            .iter()
            .position(|b| *b == b'\n')
            .ok_or_else(Self::ended)?;
        self.pos += end + 1;
        Ok(String::from_utf8_lossy(&rest[..end])
            .trim_end_matches('\r')
            .to_string())
    }
    fn take(&mut self, n: usize) -> Result<Vec<u8>, ScriptError> {
        let end = self.pos.checked_add(n).ok_or_else(Self::ended)?;
        if end > self.buf.len() {
            return Err(Self::ended());
        }
        let v = self.buf[self.pos..end].to_vec();
        self.pos = end;
        Ok(v)
    }
    fn expect_newline(&mut self) -> Result<(), ScriptError> {
        if self.buf.get(self.pos) == Some(&b'\n') {
            self.pos += 1;
            Ok(())
        } else {
            Err(ScriptError::Protocol("malformed output".into()))
        }
    }
}
