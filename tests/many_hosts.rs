//! Hundreds of SSH hosts at once, all one real sshd on 127.0.0.1, under a
//! soft limit on open files far below what they hold together.

mod common;
mod support;

use std::os::unix::process::CommandExt;
use std::process::Command;

use common::{Fixture, code, describe, drydock, run_with_input, status};
use support::sshd::Sshd;

#[test]
fn two_hundred_hosts_under_a_soft_limit_of_256_open_files() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    const HOSTS: usize = 200;
    const SOFT: u64 = 256;
    const STEPS: [&str; 2] = ["first", "second"];
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    assert!(
        hard >= 8 * HOSTS as u64,
        "the hard limit on open files ({hard}) is too low for this test"
    );
    // Every host's handshake at once would pass sshd's default MaxStartups (10).
    let sshd = Sshd::start_with("MaxStartups 1000\nMaxSessions 100");
    sshd.let_other_users_in();
    let user = support::sudo::plain_user();
    let fx = Fixture::new();
    std::fs::create_dir_all(fx.path("home")).expect("home");
    std::fs::create_dir_all(fx.journal_dir()).expect("journal dir");
    std::fs::write(fx.path("known_hosts"), sshd.known_hosts_line()).expect("known_hosts");
    let mut text = format!(
        "[runbook]\nname = \"Many hosts\"\nlock = \"{root}/locks/{{{{host}}}}\"\n\n\
         [ssh]\nuser = \"{user}\"\nport = {port}\nidentity = \"{key}\"\n\
         known_hosts = \"{root}/known_hosts\"\nconnect_timeout = \"60s\"\n\n",
        root = fx.root(),
        port = sshd.port,
        key = sshd.user_key.display(),
    );
    for n in 0..HOSTS {
        text.push_str(&format!("[hosts.h{n}]\naddress = \"127.0.0.1\"\n"));
    }
    for id in STEPS {
        text.push_str(&format!(
            "\n[[steps]]\nid = \"{id}\"\ntitle = \"{id}\"\nrun = \"echo {id}\"\n"
        ));
    }
    // The locks are made by the user the hosts log in as.
    std::fs::create_dir_all(fx.path("locks")).expect("locks");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: std::path::PathBuf, mode| {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
        };
        mode(fx.path(""), 0o711);
        mode(fx.path("locks"), 0o777);
    }
    let runbook = fx.write("many.toml", &text);
    let mut cmd: Command = drydock();
    cmd.args(["run", "--headless", "--yes"])
        .arg(&runbook)
        .arg("--journal-dir")
        .arg(fx.journal_dir())
        .env("HOME", fx.path("home"))
        .env_remove("SSH_AUTH_SOCK");
    // SAFETY: setrlimit is async-signal-safe, and nothing else runs in the
    // child between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            setrlimit(Resource::RLIMIT_NOFILE, SOFT, hard).map_err(std::io::Error::from)
        });
    }
    let out = run_with_input(cmd, "");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let journal = fx.journal();
    for n in 0..HOSTS {
        let host = format!("h{n}");
        for id in STEPS {
            assert_eq!(
                status(&journal, id, &host).as_deref(),
                Some("ok"),
                "{id} on {host}"
            );
        }
    }
    assert!(
        sshd.logins() >= HOSTS,
        "every host logged in: {} logins",
        sshd.logins()
    );
}
