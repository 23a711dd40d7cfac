//! The pod sandbox's process: a 130-byte static x86-64 ELF that calls `pause()` forever.
//!
//! The kubelet's sandbox runs `registry.k8s.io/pause`; no registry is reachable on many
//! edge boxes (and in our tests), so the agent builds an equivalent image locally from
//! these bytes (see the docker runtime). Assembled by hand:
//!
//! ```text
//! loop: mov eax, 34   ; __NR_pause
//!       syscall
//!       jmp loop
//! ```

/// Virtual address the single segment is loaded at.
const BASE: u64 = 0x400000;
const CODE: [u8; 9] = [0xb8, 0x22, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xeb, 0xf7];

/// The ELF image.
pub fn elf_x86_64() -> Vec<u8> {
    let ehsize = 64u64;
    let phsize = 56u64;
    let entry = BASE + ehsize + phsize;
    let total = ehsize + phsize + CODE.len() as u64;
    let mut b = Vec::with_capacity(total as usize);
    b.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    b.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    b.extend_from_slice(&0x3eu16.to_le_bytes()); // x86-64
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&entry.to_le_bytes());
    b.extend_from_slice(&ehsize.to_le_bytes()); // phoff
    b.extend_from_slice(&0u64.to_le_bytes()); // shoff
    b.extend_from_slice(&0u32.to_le_bytes()); // flags
    b.extend_from_slice(&(ehsize as u16).to_le_bytes());
    b.extend_from_slice(&(phsize as u16).to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes()); // phnum
    b.extend_from_slice(&[0; 6]); // shentsize, shnum, shstrndx
    // Program header: PT_LOAD, R+X, whole file.
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&5u32.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    b.extend_from_slice(&BASE.to_le_bytes());
    b.extend_from_slice(&BASE.to_le_bytes());
    b.extend_from_slice(&total.to_le_bytes());
    b.extend_from_slice(&total.to_le_bytes());
    b.extend_from_slice(&0x1000u64.to_le_bytes());
    b.extend_from_slice(&CODE);
    b
}

/// A one-file tar archive holding `/pause` (mode 0755), for `docker import`.
pub fn rootfs_tar() -> Vec<u8> {
    let body = elf_x86_64();
    let mut h = [0u8; 512];
    let put = |h: &mut [u8; 512], off: usize, s: &[u8]| h[off..off + s.len()].copy_from_slice(s);
    put(&mut h, 0, b"pause");
    put(&mut h, 100, b"0000755\0");
    put(&mut h, 108, b"0000000\0");
    put(&mut h, 116, b"0000000\0");
    put(&mut h, 124, format!("{:011o}\0", body.len()).as_bytes());
    put(&mut h, 136, b"00000000000\0");
    put(&mut h, 148, b"        ");
    h[156] = b'0';
    put(&mut h, 257, b"ustar\0");
    put(&mut h, 263, b"00");
    let sum: u32 = h.iter().map(|b| *b as u32).sum();
    put(&mut h, 148, format!("{sum:06o}\0 ").as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(&body);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out.extend_from_slice(&[0u8; 1024]);
    out
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_elf_runs_and_pauses() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pause");
        std::fs::write(&p, elf_x86_64()).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut child = std::process::Command::new(&p).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(child.try_wait().unwrap().is_none(), "still running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn tar_is_well_formed() {
        let t = rootfs_tar();
        assert_eq!(t.len() % 512, 0);
        assert_eq!(&t[257..262], b"ustar");
    }
}
