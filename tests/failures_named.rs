//! Every failure is named by its cause, by running the binary: a lock that
//! cannot be made is a host that cannot be used (exit 5, not "held by
//! another run"), and a host that cannot be reached fails a dry run too.

mod common;

use common::*;

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[test]
fn a_lock_that_cannot_be_made_is_exit_5_naming_the_reason() {
    let fx = Fixture::new();
    // A file where the lock's parent directory should be: mkdir fails for
    // another reason than a holder, whoever runs the test (root included).
    fx.write("not-a-dir", "");
    let rb = fx.write(
        "runbook.toml",
        r#"
[runbook]
name = "Unwritable lock"
lock = "{{root}}/not-a-dir/lock"
[hosts.web]
transport = "local"
[[steps]]
id = "touch"
title = "Would touch"
run = "touch {{root}}/ran"
"#,
    );
    let out = fx.run(&rb, &["--yes"], "");
    let text = describe(&out);
    assert_eq!(code(&out), 5, "{text}");
    assert!(!fx.path("ran").exists(), "a step ran without the lock");
    let lock = format!("{}/not-a-dir/lock", fx.root());
    // Named on the way, on stderr and in the last line.
    assert!(
        stderr(&out).contains(&format!("cannot take the lock {lock} on web"))
            && stderr(&out).contains("Not a directory"),
        "{text}"
    );
    let last = stdout(&out).lines().last().unwrap_or_default().to_string();
    assert!(
        last.contains("stopped: a host could not be reached or used")
            && last.contains("web: cannot take the lock")
            && last.contains("Not a directory"),
        "{last}"
    );
    assert!(!text.contains("held by"), "{text}");
    // And in the journal, as the host that could not be used.
    let journal = fx.journal();
    let failed = events(&journal, "connection", None)
        .into_iter()
        .filter(|e| e["state"] == "failed")
        .collect::<Vec<_>>();
    assert_eq!(failed.len(), 1, "{journal:#?}");
    assert_eq!(failed[0]["host"], "web");
    let reason = failed[0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("Not a directory"), "{reason}");
    let finished = events(&journal, "run_finished", None);
    assert_eq!(finished[0]["exit_code"], 5);
    assert_eq!(
        finished[0]["not_done"][0]["why"],
        "not reached: a host could not be reached or used, so nothing ran"
    );
}

#[test]
fn a_host_that_cannot_be_reached_fails_a_dry_run_naming_the_reason() {
    let fx = Fixture::new();
    let rb = fx.write(
        "runbook.toml",
        &format!(
            r#"
[runbook]
name = "Unreachable"
lock = "{{{{root}}}}/lock"
[ssh]
port = {port}
connect_timeout = "5s"
known_hosts = "{{{{root}}}}/known_hosts"
[hosts.web]
address = "127.0.0.1"
[hosts.here]
transport = "local"
[[steps]]
id = "look"
title = "Look"
preview = "echo looking"
run = "true"
"#,
            port = closed_port()
        ),
    );
    let out = fx.run(&rb, &["--dry-run"], "");
    let text = describe(&out);
    assert_ne!(code(&out), 0, "{text}");
    assert_eq!(code(&out), 5, "{text}");
    assert!(text.contains("cannot reach host 'web'"), "{text}");
    assert!(text.to_lowercase().contains("connection refused"), "{text}");
    let last = stdout(&out)
        .lines()
        .last()
        .unwrap_or_default()
        .to_lowercase();
    assert!(last.contains("web: connection refused"), "{last}");
}
