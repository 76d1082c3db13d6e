//! Writing files that hold personal data: never partly written, never readable by others
//! on the way.

use std::io::Write as _;
use std::path::Path;

/// Writes `bytes` to `target` atomically: into a new file beside it, created with mode
/// 0600, synced, given `permissions` when asked (a file being replaced keeps its own),
/// then renamed over `target`. A reader sees the old file or the whole new one; on
/// failure the temporary file is removed and `target` is untouched.
pub(super) fn write_atomically(
    target: &Path,
    bytes: &[u8],
    permissions: Option<std::fs::Permissions>,
) -> std::io::Result<()> {
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map_or_else(|| "csamctl".into(), |n| n.to_string_lossy().into_owned());
    let temp = dir.join(format!(".{name}.csamctl-{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()?;
        if let Some(permissions) = permissions {
            std::fs::set_permissions(&temp, permissions)?;
        }
        std::fs::rename(&temp, target)
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_is_private_and_a_replaced_one_keeps_its_permissions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let new = dir.path().join("plan.json");
        write_atomically(&new, b"{}\n", None).expect("written");
        assert_eq!(std::fs::read(&new).expect("read"), b"{}\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode(&new), 0o600);
            let old = dir.path().join("csam.yaml");
            std::fs::write(&old, "old").expect("written");
            std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o640)).expect("chmod");
            let keep = std::fs::metadata(&old).expect("meta").permissions();
            write_atomically(&old, b"new", Some(keep)).expect("replaced");
            assert_eq!(std::fs::read(&old).expect("read"), b"new");
            assert_eq!(mode(&old), 0o640);
        }
        // Nothing left beside the files.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert!(
            names.iter().all(|n| !n.to_string_lossy().ends_with(".tmp")),
            "{names:?}"
        );
    }

    #[test]
    fn a_failed_write_leaves_the_target_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        // The target is a directory: the rename fails.
        let target = dir.path().join("taken");
        std::fs::create_dir(&target).expect("dir");
        std::fs::write(target.join("inside"), "x").expect("written");
        assert!(write_atomically(&target, b"new", None).is_err());
        assert!(target.join("inside").exists());
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
