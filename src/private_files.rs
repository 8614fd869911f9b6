//! Files that hold secrets (the SQLite database with its keys, its WAL and shared-memory files, the admin
//! token) are created readable by their owner only, whatever the umask; existing ones that others can read are
//! reported at start-up, since whoever reads them can mint an instance owner's token.

use std::path::Path;

/// Creates the directory (and parents) if missing; one this call creates is 0700.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.exists() {
        warn_if_open(dir);
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    restrict(dir, 0o700)
}

/// Creates an empty file readable by its owner only, unless it exists already (then it is checked).
pub fn create_private_file(path: &Path) -> std::io::Result<()> {
    if path.exists() {
        warn_if_open(path);
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => restrict(path, 0o600),
        // Another process created it meanwhile; it is checked like any existing file.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            warn_if_open(path);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Logs a warning when group or others may read, write or enter `path`.
pub fn warn_if_open(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    mode = format!("{mode:o}"),
                    "holds secrets but other users may access it; restrict it with chmod go-rwx"
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Sets the mode even where the umask would have widened it (the umask only narrows; set it anyway).
fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_files_and_directories_are_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let file = dir.join("db");
        create_private_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
    }

    #[test]
    fn existing_files_are_left_as_they_are() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("db");
        std::fs::write(&file, b"x").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        create_private_file(&file).unwrap();
        assert_eq!(mode(&file), 0o644);
        assert_eq!(std::fs::read(&file).unwrap(), b"x");
    }
}
