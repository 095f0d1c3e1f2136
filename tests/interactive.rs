//! Answering running commands, through the built binary: sudo's password
//! against a real sshd and a real sudo (test users made by the tests, see
//! `support::sudo`), partial lines, typed input, and what headless mode
//! never repeats.

mod support;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::sshd::Sshd;
use support::sudo::{NO_PASSWORD, SudoUsers, WITH_PASSWORD};

/// Longest any run here may take: past it the run counts as hung.
const HANG_LIMIT: Duration = Duration::from_secs(90);

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    journal: Vec<Value>,
    journal_text: String,
    took: Duration,
}

impl Run {
    fn text(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    fn events(&self, kind: &str) -> Vec<&Value> {
        self.journal.iter().filter(|e| e["event"] == kind).collect()
    }

    fn output_lines(&self, step: &str) -> Vec<String> {
        self.events("output")
            .into_iter()
            .filter(|e| e["step"] == step)
            .flat_map(|e| match e["lines"].as_array() {
                Some(lines) => lines
                    .iter()
                    .map(|l| l.as_str().unwrap_or_default().to_string())
                    .collect(),
                None => vec![e["line"].as_str().unwrap_or_default().to_string()],
            })
            .collect()
    }

    fn sudo_events(&self, step: &str) -> Vec<(bool, bool)> {
        self.events("sudo")
            .into_iter()
            .filter(|e| e["step"] == step)
            .map(|e| (e["asked"] == true, e["ok"] == true))
            .collect()
    }

    fn status_of(&self, step: &str) -> Vec<String> {
        self.events("step_finished")
            .into_iter()
            .filter(|e| e["step"] == step)
            .map(|e| e["status"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

/// A test's own dir: the runbook, known_hosts, password files, the journal.
struct World {
    dir: tempfile::TempDir,
    name: String,
}

impl World {
    fn new(name: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("journal")).expect("mkdir");
        World {
            dir,
            name: name.to_string(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.path(rel);
        std::fs::write(&path, text).expect("write");
        path
    }

    /// A lock the test user can take, of this test alone.
    fn lock(&self) -> String {
        format!(
            "/tmp/drydock-test-{}-{}-{{{{host}}}}.lock",
            std::process::id(),
            self.name
        )
    }

    /// The head of a runbook whose hosts `hosts` log into `sshd` as `user`.
    fn ssh_head(&self, sshd: &Sshd, user: &str, hosts: &[&str]) -> String {
        self.write("known_hosts", &sshd.known_hosts_line());
        let mut head = format!(
            "[runbook]\nname = \"interactive test\"\nlock = \"{lock}\"\n\n\
             [ssh]\nuser = \"{user}\"\nport = {port}\nidentity = \"{key}\"\n\
             known_hosts = \"{kh}\"\nhost_keys = \"strict\"\nconnect_timeout = \"5s\"\n\n",
            lock = self.lock(),
            port = sshd.port,
            key = sshd.user_key.display(),
            kh = self.path("known_hosts").display(),
        );
        for host in hosts {
            head.push_str(&format!("[hosts.{host}]\naddress = \"127.0.0.1\"\n\n"));
        }
        head
    }

    fn local_head(&self) -> String {
        format!(
            "[runbook]\nname = \"interactive test\"\nlock = \"{}\"\n\n[hosts.here]\ntransport = \"local\"\n\n",
            self.lock()
        )
    }

    /// `drydock run --headless RUNBOOK ARGS` with `input` on stdin, in a
    /// session of its own: it has no controlling terminal to ask on.
    fn run(&self, runbook: &str, args: &[&str], input: &str) -> Run {
        let rb = self.write("runbook.toml", runbook);
        let started = Instant::now();
        let mut child = Command::new("setsid")
            .arg("-w")
            .arg(env!("CARGO_BIN_EXE_drydock"))
            .args(["run", "--headless"])
            .arg(&rb)
            .arg("--journal-dir")
            .arg(self.path("journal"))
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("DRYDOCK_SUDO_PASSWORD_FILE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start drydock (setsid comes with util-linux)");
        if let Some(mut stdin) = child.stdin.take() {
            // drydock may be done before it read everything.
            let _ = stdin.write_all(input.as_bytes());
        }
        let read_all = |r: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut text = String::new();
                if let Some(mut r) = r {
                    let _ = r.read_to_string(&mut text);
                }
                text
            })
        };
        let out = read_all(
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        );
        let err = read_all(
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        );
        let status = loop {
            if let Ok(Some(status)) = child.try_wait() {
                break status;
            }
            if started.elapsed() > HANG_LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                panic!("drydock hung for {HANG_LIMIT:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let took = started.elapsed();
        let stdout = out.join().unwrap_or_default();
        let stderr = err.join().unwrap_or_default();
        assert!(!stderr.contains("panicked"), "drydock panicked:\n{stderr}");
        let journal_text = self.journal_text();
        let journal = journal_text
            .lines()
            .map(|l| serde_json::from_str(l).expect("journal lines are JSON"))
            .collect();
        Run {
            code: status.code(),
            stdout,
            stderr,
            journal,
            journal_text,
            took,
        }
    }

    fn journal_text(&self) -> String {
        let mut text = String::new();
        if let Ok(dir) = std::fs::read_dir(self.path("journal")) {
            for entry in dir.flatten() {
                text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
            }
        }
        text
    }
}

fn sshd_for_users() -> Sshd {
    let sshd = Sshd::start();
    sshd.let_other_users_in();
    sshd
}

#[test]
fn headless_sudo_with_a_password_file_runs_as_root_and_the_password_is_nowhere() {
    let users = SudoUsers::acquire();
    let sshd = sshd_for_users();
    let world = World::new("pwfile");
    let password_file = world.write("sudo-password", &format!("{}\n", users.password));
    let runbook = format!(
        "{head}[[steps]]\nid = \"as-root\"\ntitle = \"As root\"\nrun = \"id -u; id -un\"\nsudo = true\n\n\
         [[steps]]\nid = \"as-nobody\"\ntitle = \"As nobody\"\nrun = \"id -un\"\nsudo = \"nobody\"\n\n\
         [[steps]]\nid = \"with-pty\"\ntitle = \"Through a pty\"\nrun = \"id -u\"\nsudo = true\npty = true\n\n\
         [[steps]]\nid = \"echoed\"\ntitle = \"A command that shows the password\"\nrun = \"cat {file}\"\nsudo = true\n",
        head = world.ssh_head(&sshd, WITH_PASSWORD, &["web"]),
        file = password_file.display(),
    );
    let pw_arg = password_file.display().to_string();
    let run = world.run(&runbook, &["--sudo-password-file", &pw_arg], "");
    assert_eq!(run.code, Some(0), "{}", run.text());
    assert_eq!(run.output_lines("as-root"), ["0", "root"], "{}", run.text());
    assert_eq!(run.output_lines("as-nobody"), ["nobody"], "{}", run.text());
    let pty_lines = run.output_lines("with-pty");
    assert_eq!(
        pty_lines.last().map(String::as_str),
        Some("0"),
        "{pty_lines:?}"
    );
    for step in ["as-root", "as-nobody", "with-pty", "echoed"] {
        assert_eq!(
            run.sudo_events(step),
            [(true, true)],
            "{step}: {}",
            run.journal_text
        );
    }
    // The root command printed it: replaced, like a secret variable.
    assert_eq!(run.output_lines("echoed"), ["********"], "{}", run.text());
    for (what, text) in [
        ("stdout", &run.stdout),
        ("stderr", &run.stderr),
        ("journal", &run.journal_text),
    ] {
        assert!(
            !text.contains(&users.password),
            "the password is in the {what}:\n{text}"
        );
    }
    // sudo's prompt (as sudo filled it in) is drydock's to answer, never shown.
    let prompt = format!("sudo password for {WITH_PASSWORD}");
    assert!(!run.text().contains(&prompt), "{}", run.text());
    assert!(!run.journal_text.contains(&prompt), "{}", run.journal_text);
    drop(users);
}

#[test]
fn a_wrong_password_fails_the_step_with_sudos_reason_after_three_tries() {
    let users = SudoUsers::acquire();
    let sshd = sshd_for_users();
    let world = World::new("wrongpw");
    let wrong = format!("not-{}", users.password);
    let password_file = world.write("sudo-password", &wrong);
    let runbook = format!(
        "{head}[[steps]]\nid = \"stop\"\ntitle = \"Stop the server\"\nrun = \"echo stopped\"\nundo = \"echo started again\"\nsudo = true\non_failure = \"abort\"\n\n\
         [[steps]]\nid = \"after\"\ntitle = \"Never reached\"\nrun = \"echo after\"\n",
        head = world.ssh_head(&sshd, WITH_PASSWORD, &["web"]),
    );
    let pw_arg = password_file.display().to_string();
    let run = world.run(&runbook, &["--sudo-password-file", &pw_arg], "");
    assert_eq!(run.code, Some(1), "{}", run.text());
    assert_eq!(run.status_of("stop"), ["failed"], "{}", run.text());
    assert!(run.status_of("after").is_empty(), "{}", run.text());
    assert_eq!(
        run.sudo_events("stop"),
        [(true, false); 3],
        "{}",
        run.journal_text
    );
    let finished = run.events("step_finished");
    let reason = finished
        .iter()
        .find(|e| e["step"] == "stop")
        .and_then(|e| e["reason"].as_str())
        .unwrap_or_default();
    assert!(reason.contains("incorrect password attempts"), "{reason}");
    assert!(!run.output_lines("stop").contains(&"stopped".to_string()));
    // The command never started: its undo is not offered.
    assert!(!run.text().contains("rollback"), "{}", run.text());
    assert!(
        !run.output_lines("stop")
            .contains(&"started again".to_string()),
        "{}",
        run.text()
    );
    // sudo waits about two seconds after each wrong password; nothing more.
    assert!(run.took < Duration::from_secs(40), "took {:?}", run.took);
    assert!(!run.text().contains(&wrong) && !run.journal_text.contains(&wrong));
    drop(users);
}

#[test]
fn nopasswd_sudo_asks_no_question() {
    let users = SudoUsers::acquire();
    let sshd = sshd_for_users();
    let world = World::new("nopasswd");
    // No password file and no terminal: any question would fail the step.
    let runbook = format!(
        "{head}[[steps]]\nid = \"as-root\"\ntitle = \"As root\"\nrun = \"id -u\"\nsudo = true\n",
        head = world.ssh_head(&sshd, NO_PASSWORD, &["web"]),
    );
    let run = world.run(&runbook, &[], "");
    assert_eq!(run.code, Some(0), "{}", run.text());
    assert_eq!(run.output_lines("as-root"), ["0"]);
    assert_eq!(run.sudo_events("as-root"), [(false, true)]);
    assert!(
        run.stdout.contains("sudo: no password needed"),
        "{}",
        run.stdout
    );
    drop(users);
}

/// sudo resets the environment, so `[env]` and the host's and the step's
/// `env` are exported inside sudo's `sh -c`: the command run as root sees
/// them. The second step shows the reset that would drop them otherwise.
#[test]
fn a_sudo_step_sees_its_env_past_sudos_environment_reset() {
    let users = SudoUsers::acquire();
    let sshd = sshd_for_users();
    let world = World::new("sudoenv");
    let steps = r#"
[env]
FROM_RUNBOOK = "runbook"

[hosts.web.env]
FROM_HOST = "host {{host}}"

[[steps]]
id = "as-root"
title = "As root, with the env"
run = 'id -u; printf "%s|%s|%s\n" "$FROM_RUNBOOK" "$FROM_HOST" "$FROM_STEP"'
sudo = true
env = { FROM_STEP = "it's $HOME" }

[[steps]]
id = "reset"
title = "sudo called by the command itself"
run = """sudo -n sh -c 'echo "${FROM_RUNBOOK:-reset by sudo}"'"""
"#;
    let runbook = format!("{}{steps}", world.ssh_head(&sshd, NO_PASSWORD, &["web"]));
    let run = world.run(&runbook, &[], "");
    assert_eq!(run.code, Some(0), "{}", run.text());
    assert_eq!(
        run.output_lines("as-root"),
        ["0", "runbook|host web|it's $HOME"],
        "{}",
        run.text()
    );
    assert_eq!(run.sudo_events("as-root"), [(false, true)]);
    assert_eq!(
        run.output_lines("reset"),
        ["reset by sudo"],
        "{}",
        run.text()
    );
    // The command as journaled (and shown) is the one sent: sudo first, the
    // exports inside its shell.
    let started = run.events("step_started");
    let command = started
        .iter()
        .find(|e| e["step"] == "as-root")
        .and_then(|e| e["command"].as_str())
        .unwrap_or_default();
    let sudo_at = command.find("sudo -S -p");
    let export_at = command.find("export FROM_HOST=");
    assert!(
        sudo_at.is_some() && export_at.is_some() && sudo_at < export_at,
        "{command}"
    );
    drop(users);
}

#[test]
fn without_a_password_file_or_a_terminal_the_step_fails_and_says_how_to_give_one() {
    let users = SudoUsers::acquire();
    let sshd = sshd_for_users();
    let world = World::new("noterminal");
    let runbook = format!(
        "{head}[[steps]]\nid = \"as-root\"\ntitle = \"As root\"\nrun = \"id -u\"\nsudo = true\non_failure = \"abort\"\n",
        head = world.ssh_head(&sshd, WITH_PASSWORD, &["web"]),
    );
    let run = world.run(&runbook, &[], "");
    assert_eq!(run.code, Some(1), "{}", run.text());
    assert!(
        run.stdout.contains("--sudo-password-file"),
        "the failure says how to give the password:\n{}",
        run.stdout
    );
    assert_eq!(run.sudo_events("as-root"), [(true, false)]);
    drop(users);
}

#[test]
fn the_password_file_can_come_from_the_environment_and_a_bad_one_is_a_usage_error() {
    let world = World::new("envfile");
    let runbook = format!(
        "{head}[[steps]]\nid = \"a\"\ntitle = \"A\"\nrun = \"true\"\nsudo = true\n",
        head = world.local_head()
    );
    let rb = world.write("runbook.toml", &runbook);
    let missing = world.path("no-such-file");
    for how in ["flag", "env"] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_drydock"));
        cmd.args(["run", "--headless"]).arg(&rb);
        if how == "flag" {
            cmd.arg("--sudo-password-file").arg(&missing);
        } else {
            cmd.env("DRYDOCK_SUDO_PASSWORD_FILE", &missing);
        }
        let out = cmd.stdin(Stdio::null()).output().expect("drydock runs");
        assert_eq!(out.status.code(), Some(2), "{how}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("cannot read the sudo password file"),
            "{how}: {stderr}"
        );
    }
}

#[test]
fn check_warns_where_a_command_calls_sudo_itself() {
    let world = World::new("check");
    let runbook = format!(
        "{head}[[steps]]\nid = \"stop\"\ntitle = \"Stop\"\nrun = \"sudo apachectl stop\"\n\n\
         [[steps]]\nid = \"fine\"\ntitle = \"Fine\"\nrun = \"apachectl start\"\nsudo = true\n",
        head = world.local_head()
    );
    let rb = world.write("runbook.toml", &runbook);
    let out = Command::new(env!("CARGO_BIN_EXE_drydock"))
        .arg("check")
        .arg(&rb)
        .output()
        .expect("drydock check");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a warning is no error: {stderr}"
    );
    let line = runbook
        .lines()
        .position(|l| l.starts_with("run = \"sudo"))
        .map_or(0, |i| i + 1);
    let warning = format!("{}:{line}:7: warning:", rb.display());
    assert!(stderr.starts_with(&warning), "{stderr}");
    assert!(stderr.contains("sudo = true"), "{stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "only the step that calls sudo: {stderr}"
    );
}

#[test]
fn a_prompt_shows_before_its_line_ends_and_headless_says_the_command_waits() {
    let world = World::new("partial");
    let runbook = format!(
        "{head}[[steps]]\nid = \"ask\"\ntitle = \"Ask\"\n\
         run = \"printf 'Continue? [y/N] '; sleep 2; echo\"\n\n\
         [[steps]]\nid = \"waits\"\ntitle = \"Waits for input\"\n\
         run = \"printf 'Name: '; read name; echo \\\"hello $name\\\"\"\npty = true\ntimeout = \"3s\"\non_failure = \"continue\"\n",
        head = world.local_head()
    );
    let run = world.run(&runbook, &["--yes"], "");
    assert_eq!(run.code, Some(1), "{}", run.text());
    // Shown while the command still ran, marked as a partial line...
    assert!(
        run.stdout.contains("ask@here |… Continue? [y/N] "),
        "{}",
        run.stdout
    );
    // ...and journaled once, whole, when the command ended.
    assert_eq!(run.output_lines("ask"), ["Continue? [y/N] "]);
    assert!(
        run.stdout
            .contains("the command waits for input after \"Name:\""),
        "{}",
        run.stdout
    );
    assert_eq!(run.output_lines("waits"), ["Name: "]);
    assert_eq!(run.status_of("waits"), ["timeout"]);
}

#[test]
fn headless_never_repeats_what_it_read_when_it_is_not_an_answer() {
    let world = World::new("noecho");
    let runbook = format!(
        "{head}[[steps]]\nid = \"gate\"\ntitle = \"Gated\"\nconfirm = true\nrun = \"echo ran\"\n",
        head = world.local_head()
    );
    let run = world.run(&runbook, &[], "Fday1secret\ny\n");
    assert_eq!(run.code, Some(0), "{}", run.text());
    assert!(run.stdout.contains("not an answer here"), "{}", run.stdout);
    assert!(!run.text().contains("Fday1secret"), "{}", run.text());
    assert_eq!(run.output_lines("gate"), ["ran"]);
}

// ---- The engine driven directly, as a front end drives it ----------------

mod engine_level {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::{Duration, Instant};

    use drydock::engine::{self, Decision, Event, InputRefused, Typed, TypedInput};
    use drydock::journal::RunStatus;
    use drydock::remote::{Prompter, Question, SudoAnswer, SudoQuestion};

    use super::support::sshd::Sshd;
    use super::support::sudo::{SudoUsers, WITH_PASSWORD};
    use super::{World, sshd_for_users};

    struct Run {
        handle: engine::RunHandle,
        seen: Vec<Event>,
    }

    fn start(world: &World, runbook: &str, prompter: Arc<dyn Prompter>) -> Run {
        let path = world.write("runbook.toml", runbook);
        let plan = Arc::new(drydock::runbook::load(&path, &[]).expect("runbook loads"));
        let options = engine::Options {
            yes: true,
            step_mode: false,
            dry_run: false,
            from: None,
            only_hosts: Vec::new(),
            journal_dir: world.path("journal"),
            resume: None,
            prompter,
            offer_lock_break: false,
            tail_logs: false,
        };
        let handle = engine::start(plan, options).expect("start");
        Run {
            handle,
            seen: Vec::new(),
        }
    }

    impl Run {
        /// Read events until one matches; fail after 30 s.
        async fn until(&mut self, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
            let wait = async {
                while let Some(e) = self.handle.events.recv().await {
                    self.seen.push(e.clone());
                    if pred(&e) {
                        return e;
                    }
                }
                panic!("the run ended before {what}");
            };
            tokio::time::timeout(Duration::from_secs(30), wait)
                .await
                .unwrap_or_else(|_| panic!("no {what} within 30 s"))
        }

        fn typed(&self, step: usize, typed: Typed) -> Result<(), InputRefused> {
            self.handle.inputs.send(TypedInput {
                step,
                host: 0,
                typed,
            })
        }

        async fn finish(mut self) -> (RunStatus, Vec<Event>) {
            let e = self
                .until("the end", |e| matches!(e, Event::RunFinished { .. }))
                .await;
            let Event::RunFinished { status, .. } = e else {
                unreachable!()
            };
            (status, self.seen)
        }
    }

    fn line(text: &str, masked: bool) -> Typed {
        Typed::Line {
            text: text.into(),
            masked,
        }
    }

    fn outputs(events: &[Event], step: usize) -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Output { step: s, lines, .. } if *s == step => {
                    Some(lines.iter().map(|(_, l)| l.to_string()).collect::<Vec<_>>())
                }
                _ => None,
            })
            .flatten()
            .collect()
    }

    #[tokio::test]
    async fn typed_input_reaches_a_pty_command_masked_or_not_and_is_journaled() {
        let world = World::new("typed");
        let runbook = format!(
            "{head}[[steps]]\nid = \"ask\"\ntitle = \"Ask\"\npty = true\n\
             run = \"echo starting; printf 'Continue? [y/N] '; read a; echo \\\"got $a\\\"\"\n\n\
             [[steps]]\nid = \"secret\"\ntitle = \"Secret\"\npty = true\n\
             run = \"printf 'Password: '; read p; echo \\\"length ${{#p}}\\\"; echo \\\"said $p\\\"\"\n\n\
             [[steps]]\nid = \"lines\"\ntitle = \"Until end of input\"\npty = true\n\
             run = \"cat; echo done\"\n\n\
             [[steps]]\nid = \"plain\"\ntitle = \"No pty\"\nrun = \"sleep 2\"\n",
            head = world.local_head()
        );
        let mut run = start(&world, &runbook, Arc::new(drydock::remote::Declining));

        run.until("the first step", |e| {
            matches!(e, Event::StepStarted { step: 0, .. })
        })
        .await;
        let started = Instant::now();
        let partial = run
            .until("the prompt", |e| {
                matches!(e, Event::PartialLine { step: 0, .. })
            })
            .await;
        let shown_after = started.elapsed();
        let Event::PartialLine { text, .. } = partial else {
            unreachable!()
        };
        assert_eq!(text, "Continue? [y/N] ");
        assert!(shown_after < Duration::from_secs(1), "{shown_after:?}");
        run.until("waiting for input", |e| {
            matches!(e, Event::AwaitingInput { step: 0, .. })
        })
        .await;
        // Not for another step.
        assert_eq!(
            run.typed(1, line("y", false)),
            Err(InputRefused::NotRunning)
        );
        run.typed(0, line("y", false)).expect("typed");
        run.until("the answer", |e| {
            matches!(e, Event::StepFinished { step: 0, .. })
        })
        .await;

        run.until("the password prompt", |e| {
            matches!(e, Event::AwaitingInput { step: 1, .. })
        })
        .await;
        run.typed(1, line("hunter2x", true)).expect("typed");
        run.until("the second step's end", |e| {
            matches!(e, Event::StepFinished { step: 1, .. })
        })
        .await;

        run.until("cat", |e| matches!(e, Event::StepStarted { step: 2, .. }))
            .await;
        run.typed(2, line("abc", false)).expect("typed");
        run.typed(2, Typed::End).expect("end of input");

        run.until("the plain step", |e| {
            matches!(e, Event::StepStarted { step: 3, .. })
        })
        .await;
        assert_eq!(run.typed(3, line("x", false)), Err(InputRefused::NoInput));

        let (status, events) = run.finish().await;
        assert_eq!(status, RunStatus::Ok);
        // No pty on a local host: nothing echoes the answer, so it ends the
        // prompt's line.
        assert!(
            outputs(&events, 0).contains(&"Continue? [y/N] got y".to_string()),
            "{:?}",
            outputs(&events, 0)
        );
        let secret = outputs(&events, 1);
        assert!(
            secret.contains(&"Password: length 8".to_string()),
            "{secret:?}"
        );
        assert!(secret.contains(&"said ********".to_string()), "{secret:?}");
        assert!(!format!("{events:?}").contains("hunter2x"));
        let cat = outputs(&events, 2);
        assert!(cat.iter().any(|l| l.contains("abc")) && cat.contains(&"done".to_string()));

        let journal = world.journal_text();
        assert!(!journal.contains("hunter2x"), "{journal}");
        let inputs: Vec<serde_json::Value> = journal
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["event"] == "input")
            .collect();
        assert_eq!(inputs.len(), 4, "{journal}");
        assert_eq!(inputs[0]["text"], "y");
        assert_eq!(inputs[1]["masked"], true);
        assert!(inputs[1].get("text").is_none(), "{}", inputs[1]);
        assert_eq!(inputs[3]["end_of_input"], true);
    }

    #[tokio::test]
    async fn typed_input_and_its_end_reach_a_command_on_an_ssh_pty() {
        let sshd = Sshd::start();
        let world = World::new("sshpty");
        let runbook = format!(
            "{head}[[steps]]\nid = \"ask\"\ntitle = \"Ask\"\npty = true\n\
             run = \"printf 'Continue? [y/N] '; read a; echo \\\"got $a\\\"; cat; echo done\"\n",
            head = world.ssh_head(&sshd, "root", &["web"])
        );
        let mut run = start(&world, &runbook, Arc::new(drydock::remote::Declining));
        let partial = run
            .until("the prompt", |e| matches!(e, Event::PartialLine { .. }))
            .await;
        let Event::PartialLine { text, .. } = partial else {
            unreachable!()
        };
        assert_eq!(text, "Continue? [y/N] ");
        run.typed(0, line("y", false)).expect("typed");
        run.until(
            "the answer",
            |e| matches!(e, Event::Output { lines, .. } if lines.iter().any(|(_, l)| l == "got y")),
        )
        .await;
        run.typed(0, line("more", false)).expect("typed");
        run.typed(0, Typed::End).expect("end of input");
        let (status, events) = run.finish().await;
        assert_eq!(status, RunStatus::Ok, "{events:#?}");
        let lines = outputs(&events, 0);
        // The terminal echoes what is typed; cat repeats it; ^D ends it.
        assert_eq!(
            lines,
            ["Continue? [y/N] y", "got y", "more", "more", "done"],
            "{lines:?}"
        );
    }

    /// Answers sudo's questions with `password` for every host, counting them.
    struct Counting {
        password: String,
        asked: AtomicU32,
    }

    #[async_trait::async_trait]
    impl Prompter for Counting {
        async fn ask(&self, _: Question) -> Option<String> {
            None
        }

        async fn sudo_password(&self, q: SudoQuestion) -> Result<SudoAnswer, String> {
            assert_eq!(q.user, WITH_PASSWORD, "sudo names whose password it wants");
            self.asked.fetch_add(1, Ordering::SeqCst);
            Ok(SudoAnswer {
                password: self.password.clone(),
                every_host: true,
            })
        }
    }

    #[tokio::test]
    async fn a_password_for_every_host_is_asked_once() {
        let users = SudoUsers::acquire();
        let sshd: Sshd = sshd_for_users();
        let world = World::new("everyhost");
        let runbook = format!(
            "{head}[[steps]]\nid = \"one\"\ntitle = \"One\"\nrun = \"id -u\"\nsudo = true\n\n\
             [[steps]]\nid = \"two\"\ntitle = \"Two\"\nrun = \"id -u\"\nsudo = true\n",
            head = world.ssh_head(&sshd, WITH_PASSWORD, &["web1", "web2"])
        );
        let prompter = Arc::new(Counting {
            password: users.password.clone(),
            asked: AtomicU32::new(0),
        });
        let run = start(&world, &runbook, prompter.clone());
        let (status, events) = run.finish().await;
        assert_eq!(status, RunStatus::Ok, "{events:#?}");
        assert_eq!(prompter.asked.load(Ordering::SeqCst), 1);
        let sudo: Vec<(bool, bool)> = events
            .iter()
            .filter_map(|e| match e {
                Event::Sudo { asked, ok, .. } => Some((*asked, *ok)),
                _ => None,
            })
            .collect();
        assert_eq!(sudo, [(true, true); 4]);
        assert_eq!(outputs(&events, 0), ["0", "0"]);
        drop(users);
    }

    /// Never answers: the admin walked away from the question.
    struct Silent;

    #[async_trait::async_trait]
    impl Prompter for Silent {
        async fn ask(&self, _: Question) -> Option<String> {
            None
        }

        async fn sudo_password(&self, _: SudoQuestion) -> Result<SudoAnswer, String> {
            std::future::pending().await
        }
    }

    #[tokio::test]
    async fn an_abort_while_sudo_waits_for_its_password_ends_the_run() {
        let users = SudoUsers::acquire();
        let sshd = sshd_for_users();
        let world = World::new("abortsudo");
        let runbook = format!(
            "{head}[[steps]]\nid = \"one\"\ntitle = \"One\"\nrun = \"id -u\"\nsudo = true\n",
            head = world.ssh_head(&sshd, WITH_PASSWORD, &["web"])
        );
        let mut run = start(&world, &runbook, Arc::new(Silent));
        run.until("the step", |e| matches!(e, Event::StepStarted { .. }))
            .await;
        // The question is open by now, or opens soon: the abort ends it either way.
        tokio::time::sleep(Duration::from_millis(500)).await;
        run.handle
            .decisions
            .send(Decision::Abort)
            .await
            .expect("the engine listens");
        let (status, events) = run.finish().await;
        assert_eq!(status, RunStatus::Aborted);
        let outcome = events.iter().find_map(|e| match e {
            Event::StepFinished { outcome, .. } => Some(*outcome),
            _ => None,
        });
        assert_eq!(outcome, Some(drydock::journal::Outcome::Failed));
        drop(users);
    }
}
