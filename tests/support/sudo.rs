//! Users for the sudo tests, made by the tests themselves (they run as
//! root, as CI does): `drydock-sudo-pw`, whose sudoers rule wants its
//! password, and `drydock-sudo-np`, whose rule wants none. The password is
//! random, set once per test process. The users stay, since another suite
//! may be using them; the sudoers drop-ins exist while a test holds a
//! [`SudoUsers`], and go when the last one lets go.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// sudo asks this user for its password.
pub const WITH_PASSWORD: &str = "drydock-sudo-pw";
/// sudo asks this user for nothing.
pub const NO_PASSWORD: &str = "drydock-sudo-np";

const DROP_INS: [(&str, &str); 2] = [
    (
        "/etc/sudoers.d/drydock-test-pw",
        // Every command asks (no remembered credentials), three tries, no lecture.
        "Defaults:drydock-sudo-pw !lecture, passwd_tries=3, timestamp_timeout=0\n\
         drydock-sudo-pw ALL=(ALL:ALL) ALL\n",
    ),
    (
        "/etc/sudoers.d/drydock-test-np",
        "drydock-sudo-np ALL=(ALL:ALL) NOPASSWD: ALL\n",
    ),
];

/// How many tests hold the drop-ins now.
static HOLDERS: Mutex<usize> = Mutex::new(0);
static PASSWORD: OnceLock<String> = OnceLock::new();

/// The test users, with their sudoers rules in place while it lives.
pub struct SudoUsers {
    /// `drydock-sudo-pw`'s password (`drydock-sudo-np` has one too, so that
    /// its account is not locked; nothing asks for it).
    pub password: String,
}

fn run(what: &str, cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run it: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn random_password() -> String {
    let mut bytes = [0u8; 12];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("read /dev/urandom");
    // Letters and digits: a password any shell and sudo take as it is.
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("Pw{hex}")
}

fn make_users() -> String {
    for user in [WITH_PASSWORD, NO_PASSWORD] {
        let exists = Command::new("id")
            .arg("-u")
            .arg(user)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !exists {
            run(
                &format!("useradd {user}"),
                Command::new("useradd").args(["-m", "-s", "/bin/sh", user]),
            );
        }
    }
    let password = random_password();
    let mut chpasswd = Command::new("chpasswd")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run chpasswd");
    if let Some(mut stdin) = chpasswd.stdin.take() {
        write!(
            stdin,
            "{WITH_PASSWORD}:{password}\n{NO_PASSWORD}:{password}\n"
        )
        .expect("write to chpasswd");
    }
    let out = chpasswd.wait_with_output().expect("chpasswd");
    assert!(
        out.status.success(),
        "chpasswd failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    password
}

fn write_drop_ins() {
    for (path, rule) in DROP_INS {
        // sudo skips files whose names hold a dot: the temp file is never read.
        let temp = format!("{path}.new");
        std::fs::write(&temp, rule).unwrap_or_else(|e| panic!("write {temp}: {e}"));
        let mode = std::os::unix::fs::PermissionsExt::from_mode(0o440);
        std::fs::set_permissions(&temp, mode).expect("chmod the sudoers drop-in");
        run(
            &format!("visudo -cf {temp}"),
            Command::new("visudo").args(["-cf", &temp]),
        );
        std::fs::rename(&temp, path).unwrap_or_else(|e| panic!("rename to {path}: {e}"));
    }
}

/// A user whose login shell is `/bin/sh`, for tests that log in hundreds of
/// times: root's own shell on a test machine may be slow to start (a
/// `.bashrc` that runs `pyenv init` takes a lock on every command). It is
/// `drydock-sudo-np`, made as for the sudo tests; no sudoers rule is needed.
pub fn plain_user() -> &'static str {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test makes its own user, which needs root: run it as root (CI does)"
    );
    PASSWORD.get_or_init(make_users);
    NO_PASSWORD
}

impl SudoUsers {
    pub fn acquire() -> Self {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the sudo tests create their own users and sudoers rules, which needs root: run them as root (CI does)"
        );
        assert!(
            Path::new("/usr/bin/sudo").exists(),
            "the sudo tests need a real sudo: install it (apt-get install -y sudo)"
        );
        let password = PASSWORD.get_or_init(make_users).clone();
        let mut holders = HOLDERS.lock().unwrap_or_else(|e| e.into_inner());
        if *holders == 0 {
            write_drop_ins();
        }
        *holders += 1;
        SudoUsers { password }
    }
}

impl Drop for SudoUsers {
    fn drop(&mut self) {
        let mut holders = HOLDERS.lock().unwrap_or_else(|e| e.into_inner());
        *holders = holders.saturating_sub(1);
        if *holders == 0 {
            for (path, _) in DROP_INS {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}
