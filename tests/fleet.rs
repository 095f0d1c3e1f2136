//! Runs over many hosts, through the built binary: `[env]` at its three
//! levels (on local hosts and over a real sshd on 127.0.0.1), rolling blocks
//! in batches with `max_fail`, many hosts under a low open file limit, and
//! SSH connections opened a window at a time.

mod common;
mod support;

use std::collections::BTreeMap;
use std::io::Read;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use support::sshd::Sshd;

/// The `step_started` commands of a step on a host.
fn started_commands(journal: &[Value], step: &str, host: &str) -> Vec<String> {
    journal
        .iter()
        .filter(|e| e["event"] == "step_started" && e["step"] == step && e["host"] == host)
        .map(|e| e["command"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Whether the step was started on the host at all.
fn ran_anywhere_on(journal: &[Value], step: &str, host: &str) -> bool {
    !started_commands(journal, step, host).is_empty()
}

const ENV_RUNBOOK: &str = r#"
[runbook]
name = "Environment at three levels"
lock = "{{root}}/{{host}}.lock"

[vars]
site = "{{root}}/site"

[env]
LEVEL_RUNBOOK = "runbook"
SHARED = "from runbook"
APP_TOKEN = "s3cr3t-t0ken"

[hosts.alpha]
transport = "local"
env = { LEVEL_HOST = "host {{host}}", SHARED = "from host" }

[hosts.beta]
transport = "local"

[[steps]]
id = "show"
title = "Show the environment"
confirm = true
when = 'test "$LEVEL_STEP" = step'
preview = 'echo "preview $LEVEL_RUNBOOK/$LEVEL_STEP/$SHARED"'
run = 'echo "run $LEVEL_RUNBOOK|${LEVEL_HOST-none}|$LEVEL_STEP|$SHARED|$APP_TOKEN"'
env = { LEVEL_STEP = "step", SHARED = "it's {{site}} $HOME" }

[[steps]]
id = "guarded"
title = "The guard's command has the environment"
guard = { command = 'test "$LEVEL_RUNBOOK" = runbook', poll = "100ms", timeout = "5s" }

[[steps]]
id = "plain"
title = "Another step, without the first one's"
run = 'echo "plain $SHARED|${LEVEL_STEP-unset}"'

[[steps]]
id = "fail"
title = "Fails, and its undo has the environment"
hosts = ["alpha"]
run = "false"
undo = 'echo "undo $SHARED|$LEVEL_STEP"'
env = { LEVEL_STEP = "undo-step" }
"#;

#[test]
fn env_reaches_every_kind_of_command_at_all_three_levels_on_local_hosts() {
    let fx = Fixture::new();
    let runbook = fx.write("runbook.toml", ENV_RUNBOOK);
    // Run the gated step; at the failure, undo, then skip.
    let out = fx.run(&runbook, &[], "y\nu\ns\n");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let j = fx.journal();
    let site = fx.path("site").display().to_string();

    // The step's env wins over the host's, which wins over [env]; the value
    // reaches the command as written, `$HOME` and the quote included.
    assert_eq!(
        output_lines(&j, "show", "alpha", "stdout"),
        [format!(
            "run runbook|host alpha|step|it's {site} $HOME|********"
        )]
    );
    assert_eq!(
        output_lines(&j, "show", "beta", "stdout"),
        [format!("run runbook|none|step|it's {site} $HOME|********")]
    );
    // The preview ran with the step's env (the gate shows it), the `when`
    // held only because it had it too, and so did the guard.
    let text = stdout(&out);
    assert!(
        text.contains(&format!("preview runbook/step/it's {site} $HOME")),
        "{text}"
    );
    assert_eq!(status(&j, "show", "alpha").as_deref(), Some("ok"));
    assert_eq!(status(&j, "guarded", "beta").as_deref(), Some("ok"));
    // A step's env is its own.
    assert_eq!(
        output_lines(&j, "plain", "alpha", "stdout"),
        ["plain from host|unset"]
    );
    assert_eq!(
        output_lines(&j, "plain", "beta", "stdout"),
        ["plain from runbook|unset"]
    );
    // The undo runs with its step's env.
    let undo: Vec<String> = j
        .iter()
        .filter(|e| e["event"] == "output" && e["step"] == "fail" && e["phase"] == "undo")
        .flat_map(record_lines)
        .collect();
    assert_eq!(undo, ["undo from host|undo-step"]);

    // The command journaled is the one sent, env first, the secret hidden.
    let command = &started_commands(&j, "show", "alpha")[0];
    assert!(
        command.starts_with("export APP_TOKEN=******** LEVEL_HOST='host alpha' LEVEL_RUNBOOK=runbook LEVEL_STEP=step SHARED="),
        "{command}"
    );
    assert!(
        command.ends_with(
            "; echo \"run $LEVEL_RUNBOOK|${LEVEL_HOST-none}|$LEVEL_STEP|$SHARED|$APP_TOKEN\""
        ),
        "{command}"
    );
    let journal_text = std::fs::read_to_string(&fx.journals()[0]).expect("journal");
    assert!(!journal_text.contains("s3cr3t-t0ken"), "{journal_text}");
    assert!(!text.contains("s3cr3t-t0ken"), "{text}");

    // `drydock plan` shows the env of every command, the secret hidden.
    let plan = drydock()
        .arg("plan")
        .arg(&runbook)
        .output()
        .expect("drydock plan");
    let plan_text = stdout(&plan);
    assert_eq!(code(&plan), 0, "{}", describe(&plan));
    assert!(
        plan_text.contains(
            "beta: $ export APP_TOKEN=******** LEVEL_RUNBOOK=runbook LEVEL_STEP=step SHARED="
        ),
        "{plan_text}"
    );
    assert!(
        plan_text.contains("alpha: undo: export APP_TOKEN=******** LEVEL_HOST='host alpha' LEVEL_RUNBOOK=runbook LEVEL_STEP=undo-step SHARED='from host'; echo"),
        "{plan_text}"
    );
    assert!(!plan_text.contains("s3cr3t-t0ken"), "{plan_text}");
}

/// Run the binary headless with `--yes` over ssh hosts, with a HOME of its
/// own (no ~/.ssh/config), failing the test if it hangs.
fn run_ssh(fx: &Fixture, runbook: &Path, args: &[&str]) -> Output {
    std::fs::create_dir_all(fx.path("home")).expect("home");
    let mut cmd = drydock();
    cmd.arg("run")
        .arg("--headless")
        .arg("--yes")
        .arg(runbook)
        .arg("--journal-dir")
        .arg(fx.journal_dir())
        .args(args)
        .env("HOME", fx.path("home"))
        .env_remove("SSH_AUTH_SOCK");
    let started = Instant::now();
    let out = run_with_input(cmd, "");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the run took {:?}",
        started.elapsed()
    );
    out
}

#[test]
fn env_reaches_the_command_at_all_three_levels_over_ssh() {
    let sshd = Sshd::start();
    let fx = Fixture::new();
    std::fs::write(fx.path("known_hosts"), sshd.known_hosts_line()).expect("known_hosts");
    let runbook = fx.write(
        "runbook.toml",
        &format!(
            r#"
[runbook]
name = "Environment over ssh"
lock = "{{{{root}}}}/lock-{{{{host}}}}"

[env]
LEVEL_RUNBOOK = "runbook"
SHARED = "from runbook"

[ssh]
user = "root"
port = {port}
identity = "{key}"
known_hosts = "{{{{root}}}}/known_hosts"
connect_timeout = "5s"

[hosts.web]
address = "127.0.0.1"
env = {{ LEVEL_HOST = "host {{{{host}}}}", SHARED = "from host" }}

[hosts.db]
address = "127.0.0.1"

[[steps]]
id = "show"
title = "Show the environment"
run = 'echo "$LEVEL_RUNBOOK|${{LEVEL_HOST-none}}|${{LEVEL_STEP-none}}|$SHARED"'

[[steps]]
id = "step-env"
title = "With the step's own"
run = 'echo "$LEVEL_RUNBOOK|${{LEVEL_HOST-none}}|$LEVEL_STEP|$SHARED"'
env = {{ LEVEL_STEP = "step", SHARED = "from step" }}
"#,
            port = sshd.port,
            key = sshd.user_key.display(),
        ),
    );
    let out = run_ssh(&fx, &runbook, &[]);
    assert_eq!(
        code(&out),
        0,
        "{}\nsshd log:\n{}",
        describe(&out),
        sshd.log_text()
    );
    let j = fx.journal();
    assert_eq!(
        output_lines(&j, "show", "web", "stdout"),
        ["runbook|host web|none|from host"]
    );
    assert_eq!(
        output_lines(&j, "show", "db", "stdout"),
        ["runbook|none|none|from runbook"]
    );
    assert_eq!(
        output_lines(&j, "step-env", "web", "stdout"),
        ["runbook|host web|step|from step"]
    );
    assert_eq!(
        output_lines(&j, "step-env", "db", "stdout"),
        ["runbook|none|step|from step"]
    );
}

/// Six local hosts n1..n6 and a rolling block of two timed steps, with
/// `settings` (batch, max_fail) on its first step.
fn rolling_runbook(fx: &Fixture, settings: &str, fail_on: &[&str]) -> std::path::PathBuf {
    let mut text = String::from(
        "[runbook]\nname = \"Rolling in batches\"\nlock = \"{{root}}/locks/{{host}}\"\n\n",
    );
    for n in 1..=6 {
        text.push_str(&format!("[hosts.n{n}]\ntransport = \"local\"\n\n"));
    }
    let fails: Vec<String> = fail_on
        .iter()
        .map(|h| format!("test {{{{host}}}} != {h}"))
        .collect();
    let check = if fails.is_empty() {
        "true".to_string()
    } else {
        format!("{{ {}; }}", fails.join(" && "))
    };
    // Each command notes when it starts and ends, in nanoseconds, and
    // exits with its check's status.
    let timed = |step: &str, check: &str| {
        format!(
            "echo {step} {{{{host}}}} start $(date +%s%N) >> {{{{root}}}}/times/{{{{host}}}}-{step}; sleep 0.4; rc=0; {check} || rc=1; echo {step} {{{{host}}}} end $(date +%s%N) >> {{{{root}}}}/times/{{{{host}}}}-{step}; exit $rc"
        )
    };
    text.push_str(&format!(
        "[[steps]]\nid = \"drain\"\ntitle = \"Drain the node\"\nrolling = \"nodes\"\n{settings}\nrun = \"{}\"\n\n",
        timed("drain", &check)
    ));
    text.push_str(&format!(
        "[[steps]]\nid = \"upgrade\"\ntitle = \"Upgrade the node\"\nrolling = \"nodes\"\nrun = \"{}\"\n\n",
        timed("upgrade", "true")
    ));
    text.push_str("[[steps]]\nid = \"after\"\ntitle = \"After the block\"\nrun = \"true\"\n");
    std::fs::create_dir_all(fx.path("times")).expect("times dir");
    std::fs::create_dir_all(fx.path("locks")).expect("locks dir");
    fx.write("runbook.toml", &text)
}

/// When each host was in the block: from its first command's start to its
/// last command's end, in nanoseconds.
fn spans(fx: &Fixture) -> BTreeMap<String, (u128, u128)> {
    let mut spans: BTreeMap<String, (u128, u128)> = BTreeMap::new();
    for entry in std::fs::read_dir(fx.path("times"))
        .expect("times")
        .flatten()
    {
        let text = std::fs::read_to_string(entry.path()).expect("times file");
        for line in text.lines() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            let [_, host, _, at] = parts[..] else {
                panic!("a bad times line: {line}");
            };
            let at: u128 = at.parse().expect("a time in nanoseconds");
            let span = spans.entry(host.to_string()).or_insert((at, at));
            span.0 = span.0.min(at);
            span.1 = span.1.max(at);
        }
    }
    spans
}

/// The most spans that were open at one moment.
fn most_at_once(spans: &BTreeMap<String, (u128, u128)>) -> usize {
    spans
        .values()
        .map(|&(start, _)| {
            spans
                .values()
                .filter(|&&(s, e)| s <= start && start < e)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn batch_two_runs_two_hosts_of_the_block_at_a_time_never_more() {
    let fx = Fixture::new();
    let runbook = rolling_runbook(&fx, "batch = 2", &[]);
    let out = fx.run(&runbook, &["--yes"], "");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let spans = spans(&fx);
    assert_eq!(spans.len(), 6, "every host ran the block: {spans:?}");
    assert_eq!(
        most_at_once(&spans),
        2,
        "two hosts at once, never more: {spans:?}"
    );
    // Batch after batch, in the hosts' order: a batch is done before the next starts.
    for (first, second) in [("n1", "n3"), ("n2", "n3"), ("n3", "n5"), ("n4", "n5")] {
        assert!(
            spans[first].1 < spans[second].0,
            "{first} was done before {second} started: {spans:?}"
        );
    }
    let text = stdout(&out);
    for line in [
        "rolling block 'nodes': batch 1/3: n1, n2",
        "rolling block 'nodes': batch 2/3: n3, n4",
        "rolling block 'nodes': batch 3/3: n5, n6",
    ] {
        assert!(text.contains(line), "no '{line}' in:\n{text}");
    }
    let j = fx.journal();
    for n in 1..=6 {
        let host = format!("n{n}");
        for step in ["drain", "upgrade", "after"] {
            assert_eq!(
                status(&j, step, &host).as_deref(),
                Some("ok"),
                "{step}@{host}"
            );
        }
    }
}

#[test]
fn max_fail_one_stops_the_block_at_the_second_failed_host() {
    let fx = Fixture::new();
    let runbook = rolling_runbook(&fx, "max_fail = 1", &["n2", "n4"]);
    let out = fx.run(&runbook, &["--yes"], "");
    // The run stops as a failure under --yes does: exit 1.
    assert_eq!(code(&out), 1, "{}", describe(&out));
    let j = fx.journal();
    let st = |step: &str, host: &str| status(&j, step, host);
    assert_eq!(st("drain", "n1").as_deref(), Some("ok"));
    assert_eq!(st("upgrade", "n1").as_deref(), Some("ok"));
    // The first failed host is tolerated: it leaves the block, which goes on.
    assert_eq!(st("drain", "n2").as_deref(), Some("failed"));
    assert_eq!(st("upgrade", "n2").as_deref(), Some("skipped"));
    assert!(!ran_anywhere_on(&j, "upgrade", "n2"));
    assert_eq!(st("upgrade", "n3").as_deref(), Some("ok"));
    // The second is one too many: the block stops there.
    assert_eq!(st("drain", "n4").as_deref(), Some("failed"));
    for host in ["n4", "n5", "n6"] {
        assert!(
            !ran_anywhere_on(&j, "upgrade", host),
            "upgrade ran on {host}"
        );
    }
    for host in ["n5", "n6"] {
        assert!(!ran_anywhere_on(&j, "drain", host), "drain ran on {host}");
    }
    assert!(!ran_anywhere_on(&j, "after", "n1"), "the run went on");
    let last = j.last().expect("events");
    assert_eq!(
        (last["status"].as_str(), last["exit_code"].as_i64()),
        (Some("failed"), Some(1))
    );
    let text = stdout(&out);
    assert!(
        text.contains("n2 failed (1 failed so far); max_fail = 1 of rolling block 'nodes' tolerates 1 failed host: the block goes on without it"),
        "{text}"
    );
    assert!(
        text.contains("n4 failed; 2 hosts failed, and max_fail = 1 of rolling block 'nodes' tolerates 1 failed host"),
        "{text}"
    );
}

#[test]
fn failures_within_max_fail_let_the_run_finish_but_not_as_ok() {
    let fx = Fixture::new();
    let runbook = rolling_runbook(&fx, "batch = \"50%\"\nmax_fail = \"34%\"", &["n2", "n4"]);
    let out = fx.run(&runbook, &["--yes"], "");
    assert_eq!(code(&out), 1, "{}", describe(&out));
    let j = fx.journal();
    for host in ["n1", "n3", "n5", "n6"] {
        assert_eq!(status(&j, "upgrade", host).as_deref(), Some("ok"), "{host}");
    }
    // Every host runs the steps after the block.
    for n in 1..=6 {
        assert_eq!(status(&j, "after", &format!("n{n}")).as_deref(), Some("ok"));
    }
    // 50% of six hosts: three at once.
    assert_eq!(most_at_once(&spans(&fx)), 3);
    let last = j.last().expect("events");
    assert_eq!(
        (last["status"].as_str(), last["exit_code"].as_i64()),
        (Some("failed"), Some(1))
    );
}

#[test]
fn many_hosts_run_at_once_under_a_low_soft_limit_on_open_files() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    const HOSTS: usize = 150;
    const SOFT: u64 = 64;
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    assert!(
        hard >= 4 * HOSTS as u64,
        "the hard limit on open files ({hard}) is too low for this test"
    );
    let fx = Fixture::new();
    let mut text =
        String::from("[runbook]\nname = \"Many hosts\"\nlock = \"{{root}}/locks/{{host}}\"\n\n");
    for n in 0..HOSTS {
        text.push_str(&format!("[hosts.h{n}]\ntransport = \"local\"\n"));
    }
    // Every host runs its command at the same time: each holds pipes open.
    text.push_str("\n[[steps]]\nid = \"work\"\ntitle = \"Work\"\nrun = \"sleep 1; echo done\"\n");
    std::fs::create_dir_all(fx.path("locks")).expect("locks dir");
    let runbook = fx.write("runbook.toml", &text);
    let mut cmd = drydock();
    cmd.arg("run")
        .arg("--headless")
        .arg("--yes")
        .arg(&runbook)
        .arg("--journal-dir")
        .arg(fx.journal_dir());
    // SAFETY: setrlimit is async-signal-safe, and nothing else runs in the
    // child between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            setrlimit(Resource::RLIMIT_NOFILE, SOFT, hard).map_err(std::io::Error::from)
        });
    }
    let out = run_with_input(cmd, "");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let j = fx.journal();
    for n in 0..HOSTS {
        let host = format!("h{n}");
        assert_eq!(status(&j, "work", &host).as_deref(), Some("ok"), "{host}");
        assert_eq!(
            output_lines(&j, "work", &host, "stdout"),
            ["done"],
            "{host}"
        );
    }
}

#[test]
fn ssh_connections_open_a_window_at_a_time_and_the_others_say_they_wait() {
    const HOSTS: usize = 40;
    const WINDOW: usize = 32;
    // A server that accepts connections and never answers: each handshake
    // hangs until the connect timeout.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(HOSTS) {
            let Ok(mut stream) = stream else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut buf = [0u8; 1024];
                while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
            });
        }
    });
    let fx = Fixture::new();
    let mut text = format!(
        "[runbook]\nname = \"A window of connections\"\n\n[ssh]\nuser = \"root\"\nport = {port}\nknown_hosts = \"{{{{root}}}}/known_hosts\"\nconnect_timeout = \"3s\"\n\n"
    );
    for n in 0..HOSTS {
        text.push_str(&format!("[hosts.h{n}]\naddress = \"127.0.0.1\"\n"));
    }
    text.push_str("\n[[steps]]\nid = \"work\"\ntitle = \"Work\"\nrun = \"true\"\n");
    let runbook = fx.write("runbook.toml", &text);
    let run = {
        let runbook = runbook.clone();
        let home = fx.path("home");
        let journal = fx.journal_dir();
        std::thread::spawn(move || {
            std::fs::create_dir_all(&home).expect("home");
            let mut cmd = drydock();
            cmd.args(["run", "--headless", "--yes"])
                .arg(&runbook)
                .arg("--journal-dir")
                .arg(&journal)
                .env("HOME", &home)
                .env_remove("SSH_AUTH_SOCK");
            run_with_input(cmd, "")
        })
    };
    // The first window connects at once; while its handshakes hang, no
    // other host connects.
    let deadline = Instant::now() + Duration::from_secs(20);
    while accepted.load(Ordering::SeqCst) < WINDOW && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(accepted.load(Ordering::SeqCst), WINDOW, "the first window");
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        WINDOW,
        "more than {WINDOW} connections were opened at once"
    );
    let out = run.join().expect("the run thread");
    // Every host was tried, and none could be used.
    assert_eq!(accepted.load(Ordering::SeqCst), HOSTS);
    assert_eq!(code(&out), 5, "{}", describe(&out));
    let text = stdout(&out);
    let waiting = text
        .lines()
        .filter(|l| {
            l.contains("waiting for its turn to connect (32 connections are opened at once)")
        })
        .count();
    assert_eq!(waiting, HOSTS - WINDOW, "{text}");
}

#[test]
fn the_schema_knows_env_batch_and_max_fail() {
    let out = drydock().arg("schema").output().expect("drydock schema");
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let schema: Value = serde_json::from_slice(&out.stdout).expect("drydock schema prints JSON");
    let validator = jsonschema::draft7::new(&schema).expect("a draft 7 schema");
    let runbook = |step_extra: &str| {
        let text = format!(
            "[runbook]\nname = \"n\"\n[env]\nA = \"1\"\n[hosts.h]\ntransport = \"local\"\nenv = {{ B = \"2\" }}\n[[steps]]\nid = \"s\"\ntitle = \"S\"\nrun = \"true\"\nrolling = \"r\"\nenv = {{ C = \"3\" }}\n{step_extra}\n"
        );
        let table: toml::Table = toml::from_str(&text).expect("TOML");
        serde_json::to_value(table).expect("JSON")
    };
    for good in [
        "batch = 2\nmax_fail = 0",
        "batch = \"25%\"\nmax_fail = \"100%\"",
    ] {
        let errors: Vec<String> = validator
            .iter_errors(&runbook(good))
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{good}: {errors:?}");
    }
    for bad in [
        "batch = \"many\"",
        "max_fail = -1",
        "batch = \"150%\"",
        "batch = 2.5",
    ] {
        assert!(!validator.is_valid(&runbook(bad)), "{bad} is accepted");
    }
}

/// A rolling block ran host by host: the rollback undoes it host by host,
/// newest first as it ran, so no host gets its drain undone (back in
/// service) before its upgrade is.
#[test]
fn the_rollback_undoes_a_rolling_block_in_the_order_it_ran() {
    let fx = Fixture::new();
    let mut text =
        String::from("[runbook]\nname = \"Roll back\"\nlock = \"{{root}}/lock-{{host}}\"\n\n");
    for n in 1..=3 {
        text.push_str(&format!("[hosts.h{n}]\ntransport = \"local\"\n\n"));
    }
    let step = |id: &str, rolling: bool, run: &str| {
        format!(
            "[[steps]]\nid = \"{id}\"\ntitle = \"{id}\"\n{}run = \"echo {id} {{{{host}}}} >> {{{{root}}}}/log; {run}\"\nundo = \"echo undo-{id} {{{{host}}}} >> {{{{root}}}}/log\"\n\n",
            if rolling { "rolling = \"nodes\"\n" } else { "" }
        )
    };
    text.push_str(&step("pre", false, "true"));
    text.push_str(&step("drain", true, "test {{host}} != h2"));
    text.push_str(&step("upgrade", true, "true"));
    let runbook = fx.write("runbook.toml", &text);
    // a at the failure on h2; then yes to the rollback's plan and each undo.
    let out = fx.run(&runbook, &[], &format!("a\n{}", "y\n".repeat(8)));
    assert_eq!(code(&out), 3, "{}", describe(&out));
    let log = fx.read("log");
    let undone: Vec<&str> = log.lines().filter(|l| l.starts_with("undo-")).collect();
    assert_eq!(
        undone[..3],
        ["undo-drain h2", "undo-upgrade h1", "undo-drain h1"],
        "{log}\n{}",
        describe(&out)
    );
    let mut pre: Vec<&str> = undone[3..].to_vec();
    pre.sort_unstable();
    assert_eq!(pre, ["undo-pre h1", "undo-pre h2", "undo-pre h3"], "{log}");
}
