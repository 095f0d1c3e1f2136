//! File operations as plain shell commands, for hosts whose sshd offers no
//! SFTP subsystem: the same operations, with the same answers, run on an
//! exec channel of the same connection. Every path is quoted; data to write
//! travels inside the command as `printf` escapes, never as shell text.

use super::wrap::quote;

/// A path for the shell: `~` and `~/...` are the login directory, as SFTP
/// takes them; anything else is quoted whole.
pub fn path(p: &str) -> String {
    if p == "~" {
        "\"$HOME\"".to_string()
    } else if let Some(rest) = p.strip_prefix("~/") {
        format!("\"$HOME\"/{}", quote(rest))
    } else {
        quote(p)
    }
}

/// Prints `present` or `absent` (a dangling symlink is present, as for SFTP's stat of the link).
pub fn exists(p: &str) -> String {
    let p = path(p);
    format!("if [ -e {p} ] || [ -L {p} ]; then echo present; else echo absent; fi")
}

/// Prints the file's bytes.
pub fn read(p: &str) -> String {
    format!("cat -- {}", path(p))
}

/// `data` as a `printf` format that prints exactly those bytes: printable
/// ASCII as itself (`%` and `\` doubled), everything else as octal escapes.
fn printf_format(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len() * 2);
    for &b in data {
        match b {
            b'%' => out.push_str("%%"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out
}

/// Writes `data` to a temporary file beside `p`, then renames it over `p`,
/// so that readers never see half a file; the temporary file goes on failure.
pub fn write_atomic(p: &str, data: &[u8]) -> String {
    let tmp = format!("{p}.drydock-{}.tmp", std::process::id());
    let (p, tmp) = (path(p), path(&tmp));
    // The format begins with `%s` (given nothing), so that data beginning
    // with `-` is not taken for an option.
    format!(
        "printf {} '' > {tmp} && mv -f -- {tmp} {p} || {{ rm -f -- {tmp}; exit 1; }}",
        quote(&format!("%s{}", printf_format(data)))
    )
}

/// Removes a file; one already gone is no error.
pub fn remove_file(p: &str) -> String {
    format!("rm -f -- {}", path(p))
}

/// Prints `created`, or `existed` when the directory was there already (the
/// atomic lock); any other failure is mkdir's message on stderr and exit 1.
pub fn create_dir(p: &str) -> String {
    let p = path(p);
    format!(
        "if out=$(mkdir -- {p} 2>&1); then echo created; elif [ -d {p} ]; then echo existed; \
         else printf '%s\\n' \"$out\" >&2; exit 1; fi"
    )
}

/// Removes an empty directory; one already gone is no error.
pub fn remove_dir(p: &str) -> String {
    let p = path(p);
    format!("[ ! -e {p} ] || rmdir -- {p}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn sh(command: &str, home: &std::path::Path) -> (i32, String, String) {
        let out = Command::new("sh")
            .arg("-c")
            .arg(command)
            .env("HOME", home)
            .output()
            .expect("sh runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    #[test]
    fn the_commands_do_what_sftp_does() {
        let dir = tempfile::tempdir().expect("temp dir");
        let home = dir.path();
        // A name the shell would otherwise split, expand or run.
        let lock = "~/lock $(touch pwned) 'x'";
        assert_eq!(sh(&create_dir(lock), home).1, "created\n");
        assert_eq!(sh(&create_dir(lock), home).1, "existed\n");
        assert_eq!(sh(&exists(lock), home).1, "present\n");
        let owner = format!("{lock}/owner");
        let data = b"-n run_id=1\n100% \\ done \x00\xff\x1b[2J\n";
        assert_eq!(sh(&write_atomic(&owner, data), home).0, 0);
        let read = Command::new("sh")
            .arg("-c")
            .arg(read(&owner))
            .env("HOME", home)
            .output()
            .expect("sh runs");
        assert_eq!(read.stdout, data);
        assert_eq!(sh(&remove_file(&owner), home).0, 0);
        assert_eq!(sh(&remove_file(&owner), home).0, 0, "already gone");
        assert_eq!(sh(&remove_dir(lock), home).0, 0);
        assert_eq!(sh(&remove_dir(lock), home).0, 0, "already gone");
        assert_eq!(sh(&exists(lock), home).1, "absent\n");
        assert!(!home.join("pwned").exists(), "nothing in the path ran");
        let (code, _, err) = sh(&create_dir("/proc/drydock-cannot-be-here"), home);
        assert_eq!(code, 1);
        assert!(err.contains("mkdir"), "{err}");
    }
}
