//! The ssh transport against a real sshd on 127.0.0.1, through the built binary.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::sshd::Sshd;

/// Longest any drydock run here may take: past it the run counts as hung.
const HANG_LIMIT: Duration = Duration::from_secs(60);

/// The lines of one journal `output` record: `line`, or `lines` for several.
fn record_lines(record: &Value) -> Vec<String> {
    match record["lines"].as_array() {
        Some(lines) => lines
            .iter()
            .map(|l| l.as_str().unwrap_or_default().to_string())
            .collect(),
        None => vec![record["line"].as_str().unwrap_or_default().to_string()],
    }
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    journal: Vec<Value>,
}

impl Run {
    fn text(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    fn events(&self, kind: &str) -> Vec<&Value> {
        self.journal.iter().filter(|e| e["event"] == kind).collect()
    }

    /// What the step's commands printed on stdout. (Their stderr also holds
    /// what the login shell says, which a test machine's root may have
    /// chattier than a server's.)
    fn output_lines(&self, step: &str) -> Vec<String> {
        self.events("output")
            .into_iter()
            .filter(|e| e["step"] == step && e["stream"] == "stdout")
            .flat_map(record_lines)
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

/// A test's own world: a HOME without ssh settings, a journal dir, a work dir.
struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        for sub in ["home", "journal", "work"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        World { dir }
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    fn known_hosts(&self) -> PathBuf {
        self.path("known_hosts")
    }

    /// The `[runbook]` and `[ssh]` head of a runbook for `sshd`.
    fn head(&self, sshd: &Sshd, policy: &str) -> String {
        format!(
            "[runbook]\nname = \"ssh test\"\nlock = \"{work}/lock\"\n\n\
             [ssh]\nuser = \"root\"\nport = {port}\nidentity = \"{key}\"\n\
             known_hosts = \"{kh}\"\nhost_keys = \"{policy}\"\nconnect_timeout = \"5s\"\n\n\
             [hosts.web]\naddress = \"127.0.0.1\"\n\n",
            work = self.path("work").display(),
            port = sshd.port,
            key = sshd.user_key.display(),
            kh = self.known_hosts().display(),
        )
    }

    fn trust(&self, sshd: &Sshd) {
        std::fs::write(self.known_hosts(), sshd.known_hosts_line()).expect("known_hosts");
    }

    /// Run `drydock run --headless --yes` on `runbook`; panics if it hangs.
    fn run(&self, runbook: &str) -> Run {
        self.run_with(runbook, |_| {})
    }

    /// As `run`, calling `during` with the journal path while drydock runs.
    fn run_with(&self, runbook: &str, during: impl FnOnce(&Path)) -> Run {
        self.run_full(runbook, None, during)
    }

    /// As `run`, with `agent` as the ssh-agent socket.
    fn run_with_agent(&self, runbook: &str, agent: &Path) -> Run {
        self.run_full(runbook, Some(agent), |_| {})
    }

    fn run_full(&self, runbook: &str, agent: Option<&Path>, during: impl FnOnce(&Path)) -> Run {
        let rb = self.path("runbook.toml");
        std::fs::write(&rb, runbook).expect("runbook");
        let journal_dir = self.path("journal");
        let mut child = Command::new(env!("CARGO_BIN_EXE_drydock"))
            .args(["run", "--headless", "--yes"])
            .arg(&rb)
            .arg("--journal-dir")
            .arg(&journal_dir)
            .env("HOME", self.path("home"))
            .env_remove("SSH_AUTH_SOCK")
            .envs(agent.map(|a| ("SSH_AUTH_SOCK", a)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start drydock");
        let mut out = child.stdout.take().expect("stdout");
        let mut err = child.stderr.take().expect("stderr");
        let out_t = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let err_t = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        during(&journal_dir);
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if started.elapsed() > HANG_LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "drydock hung for {HANG_LIMIT:?}; stdout:\n{}",
                    out_t.join().unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let stdout = out_t.join().unwrap_or_default();
        let stderr = err_t.join().unwrap_or_default();
        Run {
            code: status.code(),
            stdout,
            stderr,
            journal: read_journal(&journal_dir),
        }
    }
}

fn read_journal(dir: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("journal dir").flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        out.extend(
            text.lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok()),
        );
    }
    out
}

/// Some process whose command line holds `marker` runs on the server
/// (within 10 s).
fn wait_until_on_server(marker: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Command::new("pgrep")
        .arg("-f")
        .arg(marker)
        .output()
        .expect("pgrep")
        .stdout
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "{marker} never ran on the server"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// No process whose command line holds `marker` is left on the server
/// (allowing 5 s for it to go).
fn assert_gone_from_server(marker: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let out = Command::new("pgrep")
            .arg("-f")
            .arg(marker)
            .output()
            .expect("pgrep");
        if out.stdout.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "left behind on the server: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A `sleep` command line nobody else uses, to find our processes on the server.
fn unique_sleep(seconds: u32) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(1);
    format!("sleep {seconds}.{}{}", std::process::id(), nanos)
}

fn step(id: &str, body: &str) -> String {
    format!("[[steps]]\nid = \"{id}\"\ntitle = \"{id}\"\n{body}\n\n")
}

#[test]
fn multi_step_run_over_one_connection() {
    let sshd = Sshd::start();
    let w = World::new();
    w.trust(&sshd);
    let site = w.path("work").join("site");
    let before = sshd.connections();
    let mut rb = w.head(&sshd, "strict");
    rb += &format!(
        "[banner]\nhosts = [\"web\"]\npath = \"{site}/maintenance.json\"\nmessage = \"Down for an update at {{{{starts_at}}}}.\"\n\
         content = '{{\"message\": \"{{{{message}}}}\"}}'\nlead = \"0s\"\n\n",
        site = site.display()
    );
    rb += &step(
        "prepare",
        &format!(
            "run = \"mkdir -p {0} && echo v2 > {0}/VERSION && echo prepared\"",
            site.display()
        ),
    );
    rb += &step("banner-on", "banner = \"on\"");
    rb += &step(
        "show-banner",
        &format!("run = \"cat {}/maintenance.json\"", site.display()),
    );
    rb += &step(
        "streams",
        "run = \"printf 'one\\\\ntwo\\\\n'; echo 'to stderr' >&2; printf 'no newline'\"",
    );
    rb += &step(
        "status",
        "run = \"test -s VERSION || echo 'home is the login dir'; exit 0\"",
    );
    rb += &step("tty", "run = \"test -t 0 && echo has-a-tty\"\npty = true");
    rb += &step("banner-off", "banner = \"off\"");
    rb += &step(
        "banner-gone",
        &format!(
            "guard = {{ file_absent = \"{}/maintenance.json\", poll = \"1s\", timeout = \"10s\" }}",
            site.display()
        ),
    );
    let run = w.run(&rb);
    assert_eq!(run.code, Some(0), "drydock failed:\n{}", run.text());

    // Effects on the server's side.
    assert_eq!(
        std::fs::read_to_string(site.join("VERSION"))
            .expect("VERSION")
            .trim(),
        "v2"
    );
    assert!(!site.join("maintenance.json").exists(), "banner still up");

    // The journal holds exactly what the commands printed.
    assert_eq!(run.output_lines("prepare"), vec!["prepared"]);
    let banner = run.output_lines("show-banner");
    assert_eq!(banner.len(), 1, "{banner:?}");
    assert!(
        banner[0].starts_with("{\"message\": \"Down for an update at "),
        "{banner:?}"
    );
    let mut streams = run.output_lines("streams");
    streams.sort();
    assert_eq!(streams, vec!["no newline", "one", "two"]);
    let by_stream: Vec<(String, String)> = run
        .events("output")
        .into_iter()
        .filter(|e| e["step"] == "streams")
        .flat_map(|e| {
            let stream = e["stream"].as_str().unwrap_or("").to_string();
            record_lines(e)
                .into_iter()
                .map(move |l| (stream.clone(), l))
        })
        .collect();
    assert!(
        by_stream.contains(&("stderr".into(), "to stderr".into())),
        "{by_stream:?}"
    );
    assert!(
        by_stream.contains(&("stdout".into(), "one".into())),
        "{by_stream:?}"
    );
    assert_eq!(run.output_lines("status"), vec!["home is the login dir"]);
    assert_eq!(run.output_lines("tty"), vec!["has-a-tty"]);
    for s in [
        "prepare",
        "banner-on",
        "show-banner",
        "streams",
        "status",
        "tty",
        "banner-off",
        "banner-gone",
    ] {
        assert_eq!(run.status_of(s), vec!["ok"], "step {s}:\n{}", run.text());
    }

    // One TCP connection, one login, for the whole run.
    assert_eq!(
        sshd.connections() - before,
        1,
        "sshd log:\n{}",
        sshd.log_text()
    );
    assert_eq!(sshd.logins(), 1, "sshd log:\n{}", sshd.log_text());
}

#[test]
fn unknown_host_key_is_refused_under_strict() {
    let sshd = Sshd::start();
    let w = World::new();
    let marker = w.path("work").join("ran");
    let rb =
        w.head(&sshd, "strict") + &step("touch", &format!("run = \"touch {}\"", marker.display()));
    let run = w.run(&rb);
    assert_eq!(run.code, Some(5), "{}", run.text());
    let text = run.text();
    assert!(
        text.contains(&sshd.fingerprint()),
        "fingerprint missing:\n{text}"
    );
    assert!(
        text.contains("ssh-ed25519") && text.contains("web"),
        "{text}"
    );
    assert!(!marker.exists(), "a step ran");
    assert!(
        !w.known_hosts().exists()
            || std::fs::read_to_string(w.known_hosts())
                .unwrap_or_default()
                .is_empty()
    );
    assert_eq!(sshd.logins(), 0);
}

#[test]
fn unknown_host_key_is_added_under_accept_new() {
    let sshd = Sshd::start();
    let w = World::new();
    let rb = w.head(&sshd, "accept-new") + &step("hello", "run = \"echo hello\"");
    let run = w.run(&rb);
    assert_eq!(run.code, Some(0), "{}", run.text());
    assert_eq!(run.output_lines("hello"), vec!["hello"]);
    let known = std::fs::read_to_string(w.known_hosts()).expect("known_hosts written");
    assert_eq!(known, sshd.known_hosts_line());
    // And the next run finds it there.
    let again = w.run(&(w.head(&sshd, "strict") + &step("hello", "run = \"echo hello\"")));
    assert_eq!(again.code, Some(0), "{}", again.text());
}

#[test]
fn hashed_known_hosts_entries_match() {
    let sshd = Sshd::start();
    let w = World::new();
    w.trust(&sshd);
    let status = Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(w.known_hosts())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("ssh-keygen -H");
    assert!(status.success());
    let text = std::fs::read_to_string(w.known_hosts()).expect("known_hosts");
    assert!(text.starts_with("|1|"), "not hashed: {text}");
    let run = w.run(&(w.head(&sshd, "strict") + &step("hello", "run = \"echo hello\"")));
    assert_eq!(run.code, Some(0), "{}", run.text());
}

#[test]
fn changed_host_key_is_refused_under_both_policies() {
    let sshd = Sshd::start();
    let other = tempfile::tempdir().expect("temp");
    let fake = other.path().join("fake");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&fake)
        .status()
        .expect("ssh-keygen");
    assert!(status.success());
    let fake_pub = std::fs::read_to_string(fake.with_extension("pub")).expect("pub");
    let mut parts = fake_pub.split_whitespace();
    let (kt, key) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    for policy in ["strict", "accept-new"] {
        let w = World::new();
        let known = format!(
            "# a comment\nexample.org {kt} {key}\n[127.0.0.1]:{} {kt} {key}\n",
            sshd.port
        );
        std::fs::write(w.known_hosts(), &known).expect("known_hosts");
        let marker = w.path("work").join("ran");
        let rb = w.head(&sshd, policy)
            + &step("touch", &format!("run = \"touch {}\"", marker.display()));
        let run = w.run(&rb);
        assert_eq!(run.code, Some(5), "{policy}: {}", run.text());
        let text = run.text();
        assert!(text.contains("CHANGED"), "{policy}: {text}");
        assert!(
            text.contains(&format!("{} line 3", w.known_hosts().display())),
            "{policy}: {text}"
        );
        assert!(text.contains(&sshd.fingerprint()), "{policy}: {text}");
        assert!(!marker.exists(), "{policy}: a step ran");
        assert_eq!(
            std::fs::read_to_string(w.known_hosts()).expect("kh"),
            known,
            "{policy}: known_hosts was changed"
        );
    }
    assert_eq!(sshd.logins(), 0);
}

#[test]
fn wrong_key_and_unreachable_port_exit_5_naming_the_host() {
    let sshd = Sshd::start();
    let w = World::new();
    w.trust(&sshd);
    let marker = w.path("work").join("ran");
    let body = step("touch", &format!("run = \"touch {}\"", marker.display()));

    // A key the server does not know.
    let stranger = w.path("stranger");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&stranger)
        .status()
        .expect("ssh-keygen");
    assert!(status.success());
    let rb = w.head(&sshd, "strict").replace(
        &sshd.user_key.display().to_string(),
        &stranger.display().to_string(),
    ) + &body;
    let run = w.run(&rb);
    assert_eq!(run.code, Some(5), "{}", run.text());
    assert!(
        run.text()
            .contains("authentication to 'web' as 'root' failed"),
        "{}",
        run.text()
    );
    assert!(!run.text().contains("panicked"), "{}", run.text());

    // A port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let rb = w.head(&sshd, "strict").replace(
        &format!("port = {}", sshd.port),
        &format!("port = {closed}"),
    ) + &body;
    let run = w.run(&rb);
    assert_eq!(run.code, Some(5), "{}", run.text());
    assert!(
        run.text().contains("cannot reach host 'web'"),
        "{}",
        run.text()
    );
    assert!(!run.text().contains("panicked"), "{}", run.text());
    assert!(!marker.exists(), "a step ran");
}

#[test]
fn server_killed_mid_step_makes_it_lost() {
    let mut sshd = Sshd::start();
    let w = World::new();
    w.trust(&sshd);
    let started = w.path("work").join("started");
    let rb = w.head(&sshd, "strict")
        + &step(
            "long",
            &format!(
                "run = \"echo started; touch {}; sleep 120\"",
                started.display()
            ),
        )
        + &step("after", "run = \"echo never\"");
    let mut killed_at = None;
    let run = w.run_with(&rb, |_| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !started.exists() {
            assert!(Instant::now() < deadline, "the step never started");
            std::thread::sleep(Duration::from_millis(20));
        }
        sshd.kill();
        killed_at = Some(Instant::now());
    });
    let took = killed_at.map(|t| t.elapsed()).unwrap_or_default();
    assert!(
        took < Duration::from_secs(5),
        "drydock took {took:?} to notice"
    );
    let finished = run.events("step_finished");
    let duration = finished
        .first()
        .and_then(|e| e["duration_ms"].as_u64())
        .unwrap_or(u64::MAX);
    assert!(
        duration < 5_000,
        "the lost step took {duration} ms:\n{}",
        run.text()
    );
    assert!(
        run.text().contains("connection to web lost: the"),
        "{}",
        run.text()
    );
    assert_eq!(run.status_of("long"), vec!["lost"], "{}", run.text());
    assert!(run.status_of("after").is_empty(), "{}", run.text());
    assert!(run.text().contains("web"), "{}", run.text());
    assert!(run.events("run_finished").len() == 1, "{}", run.text());
    assert_ne!(run.code, Some(0));
}

#[test]
fn retry_after_a_lost_connection_connects_again() {
    let mut sshd = Sshd::start();
    let w = World::new();
    w.trust(&sshd);
    let flag = w.path("work").join("first-try");
    let marker = unique_sleep(120);
    let rb = w.head(&sshd, "strict")
        + &step(
            "long",
            &format!(
                "run = \"if [ -e {0} ]; then echo second-try; else touch {0}; {marker}; fi\"",
                flag.display()
            ),
        );
    let rb_path = w.path("runbook.toml");
    std::fs::write(&rb_path, rb).expect("runbook");
    let mut child = Command::new(env!("CARGO_BIN_EXE_drydock"))
        .args(["run", "--headless"])
        .arg(&rb_path)
        .arg("--journal-dir")
        .arg(w.path("journal"))
        .env("HOME", w.path("home"))
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start drydock");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !flag.exists() {
        assert!(Instant::now() < deadline, "the step never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The sleep is forked after the flag is made: once it runs, the
    // restart ends it with the server's other processes, and the retry
    // finds nothing left running (or it would ask about it, as it should).
    wait_until_on_server(&marker);
    sshd.restart();
    assert_gone_from_server(&marker);
    // The failure prompt: retry.
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"r\n").expect("answer");
    }
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > HANG_LIMIT {
            let _ = child.kill();
            panic!("drydock hung");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let journal = read_journal(&w.path("journal"));
    let statuses: Vec<&str> = journal
        .iter()
        .filter(|e| e["event"] == "step_finished")
        .filter_map(|e| e["status"].as_str())
        .collect();
    assert_eq!(statuses, vec!["lost", "ok"], "{text}");
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("second-try"), "{text}");
}

#[test]
fn cancelled_step_leaves_no_process_behind() {
    let sshd = Sshd::start();
    let w = World::new();
    w.trust(&sshd);
    let marker = unique_sleep(300);
    let rb = w.head(&sshd, "strict")
        + &step(
            "slow",
            &format!(
                "run = \"echo going; {marker}; echo done\"\ntimeout = \"2s\"\non_failure = \"continue\""
            ),
        )
        + &step("next", "run = \"echo next\"");
    let run = w.run(&rb);
    assert_eq!(run.status_of("slow"), vec!["timeout"], "{}", run.text());
    assert_eq!(run.output_lines("next"), vec!["next"], "{}", run.text());
    assert_gone_from_server(&marker);
}

/// A guard whose check hangs: each check still running at its
/// `check_timeout` is dropped, and a dropped command is ended on the host. Hundreds of
/// polls later nothing of them is left there, and the same connection still
/// runs the next step.
#[test]
fn hanging_guard_checks_polled_200_times_leave_nothing_behind() {
    let sshd = Sshd::start();
    let w = World::new();
    w.trust(&sshd);
    let marker = unique_sleep(300);
    let rb = w.head(&sshd, "strict")
        + &step(
            "hang",
            &format!(
                "guard = {{ command = \"{marker}\", poll = \"20ms\", check_timeout = \"20ms\", timeout = \"12s\" }}\non_failure = \"continue\""
            ),
        )
        + &step("next", "run = \"echo next\"");
    let run = w.run(&rb);
    let polls = run.events("guard_poll").len();
    assert!(polls >= 200, "only {polls} polls:\n{}", run.text());
    assert_eq!(run.status_of("hang"), vec!["timeout"], "{}", run.text());
    assert_eq!(run.output_lines("next"), vec!["next"], "{}", run.text());
    assert_gone_from_server(&marker);
    assert_eq!(sshd.logins(), 1, "sshd log:\n{}", sshd.log_text());
}

#[test]
fn cancelled_pty_step_is_hung_up() {
    let sshd = Sshd::start();
    let w = World::new();
    w.trust(&sshd);
    let marker = unique_sleep(300);
    let rb = w.head(&sshd, "strict")
        + &step(
            "slow",
            &format!("run = \"{marker}\"\npty = true\ntimeout = \"2s\"\non_failure = \"continue\""),
        );
    let run = w.run(&rb);
    assert_eq!(run.status_of("slow"), vec!["timeout"], "{}", run.text());
    assert_gone_from_server(&marker);
}

#[test]
fn http_step_goes_through_the_tunnel() {
    let sshd = Sshd::start();
    let w = World::new();
    w.trust(&sshd);
    let docroot = w.path("work").join("www");
    std::fs::create_dir_all(&docroot).expect("docroot");
    std::fs::write(docroot.join("index.html"), "<p>drydock-tunnel-ok</p>\n").expect("index");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut server = Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
            "--directory",
        ])
        .arg(&docroot)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 -m http.server (install python3)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "http.server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let rb = w.head(&sshd, "strict")
        + &step(
            "smoke",
            &format!(
                "http = {{ url = \"http://127.0.0.1:{port}/\", status = 200, contains = \"drydock-tunnel-ok\", via = \"web\" }}"
            ),
        );
    let run = w.run(&rb);
    assert_eq!(run.code, Some(0), "{}", run.text());
    assert_eq!(run.status_of("smoke"), vec!["ok"], "{}", run.text());
    assert_eq!(sshd.logins(), 1);

    // The same check through a server that refuses to forward fails, so the
    // request did travel through the SSH connection.
    let refusing = Sshd::start_with("AllowTcpForwarding no");
    let w = World::new();
    w.trust(&refusing);
    let rb = w.head(&refusing, "strict")
        + &step(
            "smoke",
            &format!(
                "http = {{ url = \"http://127.0.0.1:{port}/\", status = 200, via = \"web\" }}\non_failure = \"abort\""
            ),
        );
    let denied = w.run(&rb);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(
        denied.status_of("smoke"),
        vec!["failed"],
        "{}",
        denied.text()
    );
    assert!(
        denied.text().contains("the host could not open 127.0.0.1"),
        "{}",
        denied.text()
    );
}

#[test]
fn the_agent_is_tried_first() {
    let sshd = Sshd::start();
    let w = World::new();
    w.trust(&sshd);
    let socket = w.path("agent.sock");
    let mut agent = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&socket)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ssh-agent (install openssh-client)");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "ssh-agent did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let added = Command::new("ssh-add")
        .arg(&sshd.user_key)
        .env("SSH_AUTH_SOCK", &socket)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("ssh-add");
    assert!(added.success());
    // No identity in the runbook and none in HOME: only the agent has the key.
    let rb = w
        .head(&sshd, "strict")
        .replace(&format!("identity = \"{}\"\n", sshd.user_key.display()), "")
        + &step("hello", "run = \"echo via-agent\"");
    assert!(!rb.contains("identity"), "{rb}");
    let run = w.run_with_agent(&rb, &socket);
    let _ = agent.kill();
    let _ = agent.wait();
    assert_eq!(run.code, Some(0), "{}", run.text());
    assert_eq!(run.output_lines("hello"), vec!["via-agent"]);
}

#[test]
fn ssh_config_supplies_hostname_port_and_identity() {
    let sshd = Sshd::start();
    let w = World::new();
    w.trust(&sshd);
    let ssh_dir = w.path("home").join(".ssh");
    std::fs::create_dir_all(&ssh_dir).expect("~/.ssh");
    std::fs::write(
        ssh_dir.join("config"),
        format!(
            "Host other\n  Port 1\n\nHost web-alias\n  HostName 127.0.0.1\n  Port {}\n  User root\n  IdentityFile {}\n",
            sshd.port,
            sshd.user_key.display()
        ),
    )
    .expect("config");
    let rb = format!(
        "[runbook]\nname = \"cfg\"\nlock = \"{}/lock\"\n\n[ssh]\nknown_hosts = \"{}\"\n\n[hosts.web]\naddress = \"web-alias\"\n\n",
        w.path("work").display(),
        w.known_hosts().display()
    ) + &step("who", "run = \"id -un\"");
    let run = w.run(&rb);
    assert_eq!(run.code, Some(0), "{}", run.text());
    assert_eq!(run.output_lines("who"), vec!["root"]);
}

/// The transport used directly: several channels at once, and the SFTP calls.
mod transport {
    use std::sync::Arc;
    use std::time::Duration;

    use drydock::remote::ssh::SshTransport;
    use drydock::remote::{
        Chunk, Declining, ExecRequest, Prompter, Question, Transport, TransportError,
    };
    use drydock::runbook::{Host, HostKeyPolicy, TransportKind};
    use tokio::sync::mpsc;
    use tokio_util::sync::CancellationToken;

    use super::support::sshd::Sshd;

    fn host(sshd: &Sshd, known_hosts: &std::path::Path) -> Host {
        Host {
            identity: Some(sshd.user_key.display().to_string()),
            ..host_with_port(sshd.port, known_hosts)
        }
    }

    fn host_with_port(port: u16, known_hosts: &std::path::Path) -> Host {
        Host {
            name: "web".into(),
            transport: TransportKind::Ssh,
            address: "127.0.0.1".into(),
            user: "root".into(),
            port,
            identity: None,
            known_hosts: Some(known_hosts.display().to_string()),
            host_keys: HostKeyPolicy::Strict,
            connect_timeout: Duration::from_secs(5),
            roles: Vec::new(),
            vars: Default::default(),
            env: Default::default(),
            user_given: true,
            port_given: true,
            jump: None,
        }
    }

    async fn connect(sshd: &Sshd, known_hosts: &std::path::Path) -> SshTransport {
        std::fs::write(known_hosts, sshd.known_hosts_line()).expect("known_hosts");
        drydock::remote::ssh::connect(&host(sshd, known_hosts), Arc::new(Declining))
            .await
            .expect("connect")
    }

    /// Answers from a list, and remembers what was asked.
    struct Scripted {
        answers: std::sync::Mutex<Vec<Option<String>>>,
        asked: std::sync::Mutex<Vec<Question>>,
    }

    #[async_trait::async_trait]
    impl Prompter for Scripted {
        async fn ask(&self, question: Question) -> Option<String> {
            self.asked.lock().expect("lock").push(question);
            let mut answers = self.answers.lock().expect("lock");
            if answers.is_empty() {
                None
            } else {
                answers.remove(0)
            }
        }
    }

    fn scripted(answers: &[Option<&str>]) -> Arc<Scripted> {
        Arc::new(Scripted {
            answers: std::sync::Mutex::new(answers.iter().map(|a| a.map(str::to_string)).collect()),
            asked: std::sync::Mutex::new(Vec::new()),
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn strict_asks_to_trust_and_encrypted_keys_ask_for_the_passphrase() {
        let sshd = Sshd::start();
        let dir = tempfile::tempdir().expect("temp");
        let key = dir.path().join("locked");
        let status = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "open sesame", "-f"])
            .arg(&key)
            .status()
            .expect("ssh-keygen");
        assert!(status.success());
        let public = std::fs::read_to_string(key.with_extension("pub")).expect("pub");
        std::fs::write(sshd.dir.path().join("authorized_keys"), public).expect("authorized_keys");
        let kh = dir.path().join("kh");
        let mut h = host(&sshd, &kh);
        h.identity = Some(key.display().to_string());

        // Trust: yes; passphrase: wrong, then right.
        let p = scripted(&[Some("yes"), Some("wrong"), Some("open sesame")]);
        let t = drydock::remote::ssh::connect(&h, p.clone())
            .await
            .expect("connect");
        let asked = p.asked.lock().expect("lock").clone();
        assert_eq!(asked.len(), 3, "{asked:?}");
        match &asked[0] {
            Question::TrustHostKey {
                host,
                address,
                key_type,
                fingerprint,
                known_hosts,
            } => {
                assert_eq!((host.as_str(), key_type.as_str()), ("web", "ssh-ed25519"));
                assert_eq!(fingerprint, &sshd.fingerprint());
                // Where it is and where it goes, as the admin must know.
                assert_eq!(address, &format!("[127.0.0.1]:{}", sshd.port));
                assert_eq!(known_hosts, &kh.display().to_string());
            }
            q => panic!("asked {q:?}"),
        }
        assert!(
            matches!(&asked[1], Question::Passphrase { key_path, .. } if key_path.ends_with("locked"))
        );
        assert_eq!(
            std::fs::read_to_string(&kh).expect("known_hosts"),
            sshd.known_hosts_line()
        );
        let (tx, rx) = mpsc::channel(8);
        let echo = ExecRequest {
            command: "echo in".into(),
            pty: false,
        };
        t.exec(echo, tx, CancellationToken::new())
            .await
            .expect("exec");
        assert_eq!(collect(rx).await, "in\n");

        // Declining the passphrase: authentication fails, naming the key.
        let p = scripted(&[None]);
        let err = drydock::remote::ssh::connect(&h, p)
            .await
            .err()
            .expect("refused");
        let text = err.to_string();
        assert!(
            text.contains("authentication to 'web' as 'root' failed") && text.contains("locked"),
            "{text}"
        );
        assert!(!text.contains("open sesame"));
    }

    async fn collect(rx: mpsc::Receiver<Chunk>) -> String {
        collect_shown(rx, Arc::default()).await
    }

    /// As `collect`, showing what arrived so far in `so_far`.
    async fn collect_shown(
        mut rx: mpsc::Receiver<Chunk>,
        so_far: Arc<std::sync::Mutex<String>>,
    ) -> String {
        let mut out = Vec::new();
        while let Some(c) = rx.recv().await {
            out.extend_from_slice(&c.data);
            if let Ok(mut shown) = so_far.lock() {
                *shown = String::from_utf8_lossy(&out).into_owned();
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_tails_and_a_command_share_one_connection() {
        let sshd = Sshd::start();
        let dir = tempfile::tempdir().expect("temp");
        let before = sshd.connections();
        let t = Arc::new(connect(&sshd, &dir.path().join("kh")).await);
        let (a, b) = (dir.path().join("a.log"), dir.path().join("b.log"));
        std::fs::write(&a, "old a\n").expect("a");
        std::fs::write(&b, "").expect("b");
        let cancel = CancellationToken::new();
        let mut tails = Vec::new();
        let mut so_far = Vec::new();
        for path in [&a, &b] {
            let (tx, rx) = mpsc::channel(64);
            let t = t.clone();
            let path = path.display().to_string();
            let c = cancel.clone();
            let run = tokio::spawn(async move { t.tail(&path, tx, c).await });
            let shown = Arc::<std::sync::Mutex<String>>::default();
            so_far.push(shown.clone());
            tails.push((run, tokio::spawn(collect_shown(rx, shown))));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (tx, rx) = mpsc::channel(64);
        let writer = format!(
            "for i in 1 2 3; do echo a$i >> {}; echo b$i >> {}; sleep 0.1; done; echo written",
            a.display(),
            b.display()
        );
        let status = t
            .exec(
                ExecRequest {
                    command: writer,
                    pty: false,
                },
                tx,
                CancellationToken::new(),
            )
            .await
            .expect("exec");
        assert!(status.success());
        assert_eq!(collect(rx).await, "written\n");
        // A busy host may start a tail late; `-n 200` shows these lines anyway.
        let deadline = std::time::Instant::now() + super::HANG_LIMIT;
        let has = |i: usize, last: &str| so_far[i].lock().is_ok_and(|s| s.ends_with(last));
        while !(has(0, "a3\n") && has(1, "b3\n")) {
            assert!(
                std::time::Instant::now() < deadline,
                "the tails did not follow"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        cancel.cancel();
        let mut seen = Vec::new();
        for (run, out) in tails {
            let r = run.await.expect("join");
            assert!(
                matches!(r, Err(drydock::remote::TransportError::Cancelled)),
                "{r:?}"
            );
            seen.push(out.await.expect("join"));
        }
        assert_eq!(seen[0], "old a\na1\na2\na3\n");
        assert_eq!(seen[1], "b1\nb2\nb3\n");
        assert_eq!(sshd.connections() - before, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn exit_codes_and_signals() {
        let sshd = Sshd::start();
        let dir = tempfile::tempdir().expect("temp");
        let t = connect(&sshd, &dir.path().join("kh")).await;
        for (command, pty, code, signal) in [
            ("exit 7", false, Some(7), None),
            ("true", false, Some(0), None),
            ("kill -TERM $$", false, None, Some("SIGTERM")),
            ("exit 3", true, Some(3), None),
        ] {
            let (tx, rx) = mpsc::channel(8);
            let request = ExecRequest {
                command: command.into(),
                pty,
            };
            let status = t
                .exec(request, tx, CancellationToken::new())
                .await
                .expect("exec");
            assert_eq!(collect(rx).await, "", "{command}");
            assert_eq!(
                (status.code, status.signal.as_deref()),
                (code, signal),
                "{command}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sftp_calls() {
        let sshd = Sshd::start();
        let dir = tempfile::tempdir().expect("temp");
        let t = connect(&sshd, &dir.path().join("kh")).await;
        let file = dir.path().join("banner.json");
        let f = file.display().to_string();
        assert!(!t.exists(&f).await.expect("exists"));
        t.write_atomic(&f, b"first").await.expect("write");
        // Over an existing file too (OpenSSH's rename refuses to overwrite).
        t.write_atomic(&f, b"second \"quoted\" $(not run)")
            .await
            .expect("overwrite");
        assert_eq!(
            std::fs::read(&file).expect("read"),
            b"second \"quoted\" $(not run)"
        );
        assert_eq!(
            t.read_file(&f).await.expect("read_file"),
            b"second \"quoted\" $(not run)"
        );
        assert!(t.exists(&f).await.expect("exists"));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .expect("ls")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
        t.remove_file(&f).await.expect("remove");
        t.remove_file(&f).await.expect("remove again is fine");
        assert!(!file.exists());

        let lock = dir.path().join("lock").display().to_string();
        assert!(t.create_dir(&lock).await.expect("mkdir"));
        assert!(!t.create_dir(&lock).await.expect("mkdir again"));
        t.remove_dir(&lock).await.expect("rmdir");
        assert!(t.read_file(&f).await.is_err());

        // `~/` is the login directory.
        let name = format!("drydock-test-{}", std::process::id());
        t.write_atomic(&format!("~/{name}"), b"home")
            .await
            .expect("home write");
        let (tx, rx) = mpsc::channel(8);
        let pwd = ExecRequest {
            command: "pwd".into(),
            pty: false,
        };
        t.exec(pwd, tx, CancellationToken::new())
            .await
            .expect("pwd");
        let home = collect(rx).await.trim().to_string();
        let in_home = std::path::Path::new(&home).join(&name);
        assert_eq!(std::fs::read(&in_home).expect("in home"), b"home");
        t.remove_file(&format!("~/{name}"))
            .await
            .expect("home remove");
        assert!(!in_home.exists());
    }

    /// How long each of the dropped commands is given, in turn: from before
    /// its channel opens to after it started on the host; every twentieth
    /// gets long enough for the host to have told its process group.
    const DROP_AFTER_MS: [u64; 6] = [0, 1, 3, 8, 20, 80];
    const DROP_LATE_MS: u64 = 400;

    /// The engine drops the future of a command on a timeout, a superseded
    /// guard poll, an override or an abort. Each dropped command is ended on
    /// the host (its process group, channel closed), and the connection goes
    /// on serving.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropped_commands_leave_nothing_on_the_host() {
        let sshd = Sshd::start();
        let dir = tempfile::tempdir().expect("temp");
        let t = connect(&sshd, &dir.path().join("kh")).await;
        let connections = sshd.connections();
        let marker = super::unique_sleep(1000);
        let started = dir.path().join("started");
        // `; true` keeps sh waiting for the sleep: the group holds two processes.
        let command = format!("echo x >> {}; {marker}; true", started.display());
        let mut refused = 0;
        for i in 0..200 {
            let (tx, rx) = mpsc::channel(8);
            let request = ExecRequest {
                command: command.clone(),
                pty: false,
            };
            let limit = Duration::from_millis(if i % 20 == 19 {
                DROP_LATE_MS
            } else {
                DROP_AFTER_MS[i % DROP_AFTER_MS.len()]
            });
            match tokio::time::timeout(limit, t.exec(request, tx, CancellationToken::new())).await {
                Err(_elapsed) => {}
                // The server allows a few sessions at once (sshd: ten); while
                // dropped commands still hold theirs, a new one may be refused.
                Ok(Err(TransportError::Failed(e))) if e.contains("channel") => refused += 1,
                Ok(other) => panic!("command {i} ended on its own: {other:?}"),
            }
            drop(rx);
        }
        let marker_for_wait = marker.clone();
        tokio::task::spawn_blocking(move || super::assert_gone_from_server(&marker_for_wait))
            .await
            .expect("join");
        let ran = std::fs::read_to_string(&started).unwrap_or_default();
        assert!(
            ran.lines().count() >= 10,
            "too few commands reached the host to show anything ({} of 200, {refused} refused)",
            ran.lines().count()
        );

        let (tx, rx) = mpsc::channel(8);
        let next = ExecRequest {
            command: "echo next".into(),
            pty: false,
        };
        let status = tokio::time::timeout(
            super::HANG_LIMIT,
            t.exec(next, tx, CancellationToken::new()),
        )
        .await
        .expect("the next command is answered")
        .expect("the next command runs");
        assert!(status.success());
        assert_eq!(collect(rx).await, "next\n");
        assert_eq!(sshd.connections(), connections, "still the same connection");
    }

    /// `~/.ssh/config` and known_hosts are read on the session thread, never
    /// on the async runtime's: with both as FIFOs that answer only after a
    /// while, a ticker on the same single-threaded runtime keeps ticking
    /// while the connection waits for them. HOME belongs to the whole
    /// process, so the connecting part runs in a test process of its own.
    #[test]
    fn connecting_reads_ssh_files_off_the_runtime_thread() {
        let sshd = Sshd::start();
        let dir = tempfile::tempdir().expect("temp");
        let home = dir.path().join("home");
        std::fs::create_dir_all(home.join(".ssh")).expect("~/.ssh");
        let config = home.join(".ssh").join("config");
        let known_hosts = dir.path().join("known_hosts");
        for fifo in [&config, &known_hosts] {
            let made = std::process::Command::new("mkfifo")
                .arg(fifo)
                .status()
                .expect("mkfifo");
            assert!(made.success());
        }
        let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "transport::connect_with_files_behind_fifos",
                "--exact",
                "--ignored",
                "--test-threads",
                "1",
            ])
            .env("HOME", &home)
            .env_remove("SSH_AUTH_SOCK")
            .env("DRYDOCK_TEST_PORT", sshd.port.to_string())
            .env("DRYDOCK_TEST_KEY", &sshd.user_key)
            .env("DRYDOCK_TEST_KNOWN_HOSTS", &known_hosts)
            .env("DRYDOCK_TEST_KNOWN_HOSTS_LINE", sshd.known_hosts_line())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start the test binary");
        let deadline = std::time::Instant::now() + super::HANG_LIMIT;
        while child.try_wait().expect("try_wait").is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the connecting test process hung");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().expect("output");
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{text}");
        assert!(text.contains("1 passed"), "{text}");
    }

    /// The connecting half of the test above, in its own process: run by it.
    #[test]
    #[ignore = "run by connecting_reads_ssh_files_off_the_runtime_thread, in a process of its own"]
    fn connect_with_files_behind_fifos() {
        let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
        let home = std::path::PathBuf::from(var("HOME"));
        let known_hosts = std::path::PathBuf::from(var("DRYDOCK_TEST_KNOWN_HOSTS"));
        let line = var("DRYDOCK_TEST_KNOWN_HOSTS_LINE");
        let mut h = Host {
            port: var("DRYDOCK_TEST_PORT").parse().expect("port"),
            identity: Some(var("DRYDOCK_TEST_KEY")),
            ..host_with_port(0, &known_hosts)
        };
        h.connect_timeout = Duration::from_secs(10);
        // Each FIFO answers only after a pause; a blocking read on the
        // runtime's thread would stop the ticker for as long.
        const PAUSE: Duration = Duration::from_millis(400);
        let writer = std::thread::spawn(move || {
            std::thread::sleep(PAUSE);
            std::fs::write(
                home.join(".ssh").join("config"),
                "Host elsewhere\n  Port 1\n",
            )
            .expect("answer ~/.ssh/config");
            std::thread::sleep(PAUSE);
            std::fs::write(&known_hosts, line).expect("answer known_hosts");
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (elapsed, longest_gap) = runtime.block_on(async {
            let longest_gap = Arc::new(std::sync::Mutex::new(Duration::ZERO));
            let gap = longest_gap.clone();
            let ticker = tokio::spawn(async move {
                let mut last = std::time::Instant::now();
                loop {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    let now = std::time::Instant::now();
                    if let Ok(mut g) = gap.lock() {
                        *g = (*g).max(now - last);
                    }
                    last = now;
                }
            });
            tokio::task::yield_now().await;
            let start = std::time::Instant::now();
            let t = drydock::remote::ssh::connect(&h, Arc::new(Declining))
                .await
                .expect("connect");
            let elapsed = start.elapsed();
            ticker.abort();
            drop(t);
            let longest = *longest_gap.lock().expect("lock");
            (elapsed, longest)
        });
        writer.join().expect("writer");
        assert!(
            elapsed >= 2 * PAUSE,
            "the connection did not wait for the files ({elapsed:?})"
        );
        assert!(
            longest_gap < PAUSE / 2,
            "the runtime stood still for {longest_gap:?} while connecting"
        );
    }
}

/// The TUI's log pane follows `[logs]` on the run's own connection: a run
/// with log tails still opens one SSH connection per host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_tails_share_the_run_connection() {
    use drydock::engine::{self, Event};
    let world = World::new();
    let sshd = Sshd::start();
    world.trust(&sshd);
    let log = world.path("work/app.log");
    std::fs::write(&log, "boot\n").expect("log");
    let mut text = world.head(&sshd, "strict");
    text.push_str(&format!(
        "[logs.app]\nhost = \"web\"\npath = \"{}\"\n\n",
        log.display()
    ));
    // The step writes once the tail has shown the file's end (the test
    // says so with a file): a slow login shell cannot make the run end
    // before its tail begins.
    let tail_seen = world.path("work/tail-seen");
    text.push_str(&step(
        "work",
        &format!(
            "run = \"while [ ! -e {seen} ]; do sleep 0.05; done; for i in 1 2 3 4 5; do echo line-$i >> {log}; sleep 0.2; done\"",
            seen = tail_seen.display(),
            log = log.display()
        ),
    ));
    let rb = world.path("runbook.toml");
    std::fs::write(&rb, text).expect("runbook");
    let plan = std::sync::Arc::new(drydock::runbook::load(&rb, &[]).expect("runbook loads"));
    let before = sshd.connections();
    let options = engine::Options {
        yes: true,
        step_mode: false,
        dry_run: false,
        from: None,
        only_hosts: Vec::new(),
        journal_dir: world.path("journal"),
        resume: None,
        prompter: std::sync::Arc::new(drydock::remote::Declining),
        offer_lock_break: false,
        tail_logs: true,
    };
    let mut handle = engine::start(plan, options).expect("start");
    let mut lines = Vec::new();
    let mut exit_code = None;
    let collect = async {
        while let Some(event) = handle.events.recv().await {
            match event {
                Event::LogLine { log: 0, line, .. } => {
                    if line == "boot" {
                        std::fs::write(&tail_seen, "").expect("tail-seen");
                    }
                    lines.push(line);
                }
                Event::RunFinished {
                    exit_code: code, ..
                } => exit_code = Some(code),
                _ => {}
            }
        }
    };
    tokio::time::timeout(HANG_LIMIT, collect)
        .await
        .expect("the run ends");
    assert_eq!(exit_code, Some(0));
    assert!(
        lines.contains(&"boot".to_string()),
        "the tail starts with the file's end: {lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("line-")),
        "lines written during the run arrive: {lines:?}"
    );
    assert_eq!(
        sshd.connections() - before,
        1,
        "the tails ride on the run's connection"
    );
}
