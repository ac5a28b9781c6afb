//! A tar archive of one file: the root filesystem of a single-binary image (the pause image),
//! built in memory so no registry and no `docker build` is needed.

const BLOCK: usize = 512;

fn octal(field: &mut [u8], value: u64) {
    // Kubernetes-style ustar fields: zero-padded octal digits, then a NUL.
    let digits = format!("{value:0width$o}", width = field.len() - 1);
    field[..digits.len()].copy_from_slice(digits.as_bytes());
    field[digits.len()] = 0;
}

/// A ustar archive holding `name` (a plain file with `mode`) with `data`.
pub fn single_file_tar(name: &str, mode: u32, data: &[u8]) -> Vec<u8> {
    let mut header = [0u8; BLOCK];
    let name_bytes = name.as_bytes();
    header[..name_bytes.len().min(100)].copy_from_slice(&name_bytes[..name_bytes.len().min(100)]);
    octal(&mut header[100..108], u64::from(mode));
    octal(&mut header[108..116], 0);
    octal(&mut header[116..124], 0);
    octal(&mut header[124..136], data.len() as u64);
    octal(&mut header[136..148], 0);
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    // The checksum is computed with its own field taken as spaces.
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
    let checksum = format!("{sum:06o}\0 ");
    header[148..156].copy_from_slice(checksum.as_bytes());
    let padding = (BLOCK - data.len() % BLOCK) % BLOCK;
    let mut archive = Vec::with_capacity(BLOCK + data.len() + padding + 2 * BLOCK);
    archive.extend_from_slice(&header);
    archive.extend_from_slice(data);
    archive.resize(archive.len() + padding + 2 * BLOCK, 0);
    archive
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_tar_reads_the_archive_back() {
        let dir = tempfile::tempdir().unwrap();
        let archive = single_file_tar("pause", 0o755, b"#!binary\x00\x01");
        std::fs::write(dir.path().join("rootfs.tar"), &archive).unwrap();
        let out = std::process::Command::new("tar")
            .args(["-xvf", "rootfs.tar"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let extracted = dir.path().join("pause");
        assert_eq!(std::fs::read(&extracted).unwrap(), b"#!binary\x00\x01");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&extracted).unwrap().permissions().mode() & 0o777,
            0o755
        );
        assert_eq!(archive.len() % BLOCK, 0);
    }
}
