//! Jump hosts and `~/.ssh/config` against real sshd instances on 127.0.0.1:
//! a jump sshd and a target sshd, through the built binary. That a
//! connection went through the jump is read from the jump sshd's own log,
//! which records each forwarding at `LogLevel DEBUG1`.

mod common;
mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Fixture, code, describe, drydock, events, output_lines, read_journal, stdout};
use support::sshd::Sshd;

/// Longest any drydock run here may take: past it the run counts as hung.
const HANG_LIMIT: Duration = Duration::from_secs(90);

/// A jump host: its log records forwardings, and it lets in the target's
/// user key too, as a bastion that knows the admin's one key would.
fn jump_sshd(target: &Sshd) -> Sshd {
    let jump = Sshd::start_with("LogLevel DEBUG1");
    let key = std::fs::read_to_string(target.user_key.with_extension("pub")).expect("key");
    let authorized = jump.dir.path().join("authorized_keys");
    let mut keys = std::fs::read_to_string(&authorized).expect("authorized_keys");
    keys.push_str(&key);
    std::fs::write(&authorized, keys).expect("authorized_keys");
    jump
}

/// The forwardings `jump` opened to 127.0.0.1:`port`, by its log.
fn forwardings_to(jump: &Sshd, port: u16) -> usize {
    let wanted = format!("target 127.0.0.1 port {port}");
    jump.log_text()
        .lines()
        .filter(|l| l.contains("server_request_direct_tcpip") && l.contains(&wanted))
        .count()
}

/// A test's own HOME (with `~/.ssh/config` when given), known_hosts and runbook.
struct World {
    fixture: Fixture,
}

impl World {
    fn new() -> Self {
        let fixture = Fixture::new();
        std::fs::create_dir_all(fixture.path("home/.ssh")).expect("~/.ssh");
        std::fs::create_dir_all(fixture.journal_dir()).expect("journal dir");
        World { fixture }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.fixture.path(rel)
    }

    fn known_hosts(&self) -> PathBuf {
        self.path("known_hosts")
    }

    fn trust(&self, servers: &[&Sshd]) {
        let lines: String = servers.iter().map(|s| s.known_hosts_line()).collect();
        std::fs::write(self.known_hosts(), lines).expect("known_hosts");
    }

    fn ssh_config(&self, text: &str) {
        std::fs::write(self.path("home/.ssh/config"), text).expect("~/.ssh/config");
    }

    /// `[runbook]` and `[ssh]` for logging in as root with `key`; `ssh_extra`
    /// goes into `[ssh]`.
    fn head(&self, key: &Path, ssh_extra: &str) -> String {
        format!(
            "[runbook]\nname = \"jump test\"\nlock = \"{work}/lock-{{{{host}}}}\"\n\n\
             [ssh]\nuser = \"root\"\nidentity = \"{key}\"\nknown_hosts = \"{kh}\"\n\
             connect_timeout = \"10s\"\n{ssh_extra}\n\n",
            work = self.fixture.root(),
            key = key.display(),
            kh = self.known_hosts().display(),
        )
    }

    /// `drydock run --headless --yes` with this world's HOME; kills it if it hangs.
    fn run(&self, runbook: &str) -> Output {
        self.run_command(runbook, |_| {})
    }

    fn run_command(&self, runbook: &str, adjust: impl FnOnce(&mut Command)) -> Output {
        let rb = self.fixture.write("runbook.toml", runbook);
        let mut cmd = drydock();
        cmd.args(["run", "--headless", "--yes"])
            .arg(&rb)
            .arg("--journal-dir")
            .arg(self.fixture.journal_dir())
            .env("HOME", self.path("home"))
            .env("DRYDOCK_TEST_FIXTURE", self.fixture.dir.path())
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        adjust(&mut cmd);
        let mut child = cmd.spawn().expect("start drydock");
        let mut out = child.stdout.take().expect("stdout");
        let mut err = child.stderr.take().expect("stderr");
        let out_t = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = out.read_to_end(&mut s);
            s
        });
        let err_t = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = err.read_to_end(&mut s);
            s
        });
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
                    String::from_utf8_lossy(&out_t.join().unwrap_or_default())
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        Output {
            status,
            stdout: out_t.join().unwrap_or_default(),
            stderr: err_t.join().unwrap_or_default(),
        }
    }

    fn journal(&self) -> Vec<serde_json::Value> {
        self.fixture
            .journals()
            .iter()
            .flat_map(|p| read_journal(p))
            .collect()
    }
}

fn step(id: &str, run: &str) -> String {
    format!("[[steps]]\nid = \"{id}\"\ntitle = \"{id}\"\nrun = \"{run}\"\n\n")
}

/// The sshd's own marker, which it sets in every session's environment.
const WHERE: &str = "echo $DRYDOCK_TEST_SSHD";

#[test]
fn runbook_jump_reaches_the_target_through_one_shared_jump_connection() {
    let target = Sshd::start();
    let jump = jump_sshd(&target);
    let w = World::new();
    w.trust(&[&target, &jump]);
    let rb = w.head(
        &target.user_key,
        &format!("jump = \"root@127.0.0.1:{}\"", jump.port),
    ) + &format!(
        "[hosts.web1]\naddress = \"127.0.0.1\"\nport = {p}\n\n\
         [hosts.web2]\naddress = \"127.0.0.1\"\nport = {p}\n\n",
        p = target.port
    ) + &step("where", WHERE);
    let logins_before = jump.logins();
    let out = w.run(&rb);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let journal = w.journal();
    let target_dir = target.dir.path().display().to_string();
    for host in ["web1", "web2"] {
        assert_eq!(
            output_lines(&journal, "where", host, "stdout"),
            vec![target_dir.clone()],
            "{host} ran on the target"
        );
    }
    let route = format!(
        "root@127.0.0.1:{} via root@127.0.0.1:{}",
        target.port, jump.port
    );
    assert!(
        stdout(&out).contains(&format!("[web1] connecting to {route}")),
        "{}",
        describe(&out)
    );
    // The journal names the route too.
    let mut connected: Vec<(&str, &str)> = events(&journal, "connection", None)
        .iter()
        .map(|e| {
            (
                e["host"].as_str().unwrap_or_default(),
                e["route"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    connected.sort_unstable();
    assert_eq!(
        connected,
        vec![("web1", route.as_str()), ("web2", route.as_str())]
    );
    assert_eq!(
        forwardings_to(&jump, target.port),
        2,
        "each host went through the jump:\n{}",
        jump.log_text()
    );
    assert_eq!(
        jump.logins() - logins_before,
        1,
        "the two hosts share one connection to the jump"
    );
}

#[test]
fn ssh_config_proxy_jump_reaches_the_target_and_jump_none_goes_straight() {
    let target = Sshd::start();
    let jump = jump_sshd(&target);
    let w = World::new();
    w.trust(&[&target, &jump]);
    w.ssh_config(&format!(
        "Host tgt\n  HostName 127.0.0.1\n  Port {tp}\n  ProxyJump bastion\n\n\
         Host bastion\n  HostName 127.0.0.1\n  Port {jp}\n  User root\n  IdentityFile {jk}\n",
        tp = target.port,
        jp = jump.port,
        jk = jump.user_key.display(),
    ));
    let rb = w.head(&target.user_key, "")
        + "[hosts.web]\naddress = \"tgt\"\n\n\
           [hosts.direct]\naddress = \"tgt\"\njump = \"none\"\n\n"
        + &step("where", WHERE);
    let out = w.run(&rb);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let journal = w.journal();
    let target_dir = target.dir.path().display().to_string();
    for host in ["web", "direct"] {
        assert_eq!(
            output_lines(&journal, "where", host, "stdout"),
            vec![target_dir.clone()]
        );
    }
    let text = stdout(&out);
    let through = format!(
        "[web] connecting to root@127.0.0.1:{tp} via root@127.0.0.1:{jp} \
         (HostName 127.0.0.1, port {tp} and ProxyJump from ~/.ssh/config)",
        tp = target.port,
        jp = jump.port
    );
    assert!(text.contains(&through), "{text}");
    let straight = format!(
        "[direct] connecting to root@127.0.0.1:{tp} (HostName 127.0.0.1 and port {tp} from ~/.ssh/config)\n",
        tp = target.port
    );
    assert!(text.contains(&straight), "{text}");
    assert_eq!(
        forwardings_to(&jump, target.port),
        1,
        "only web went through the jump:\n{}",
        jump.log_text()
    );
}

#[test]
fn a_two_hop_chain_goes_through_both_in_order() {
    let target = Sshd::start();
    let outer = jump_sshd(&target);
    let inner = jump_sshd(&target);
    let w = World::new();
    w.trust(&[&target, &outer, &inner]);
    let rb = w.head(
        &target.user_key,
        &format!(
            "jump = \"root@127.0.0.1:{},root@127.0.0.1:{}\"",
            outer.port, inner.port
        ),
    ) + &format!(
        "[hosts.web]\naddress = \"127.0.0.1\"\nport = {}\n\n",
        target.port
    ) + &step("where", WHERE);
    let out = w.run(&rb);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert_eq!(
        output_lines(&w.journal(), "where", "web", "stdout"),
        vec![target.dir.path().display().to_string()]
    );
    let line = format!(
        "[web] connecting to root@127.0.0.1:{} via root@127.0.0.1:{}, root@127.0.0.1:{}",
        target.port, outer.port, inner.port
    );
    assert!(stdout(&out).contains(&line), "{}", describe(&out));
    assert_eq!(
        forwardings_to(&outer, inner.port),
        1,
        "the first hop opened the way to the second:\n{}",
        outer.log_text()
    );
    assert_eq!(forwardings_to(&outer, target.port), 0);
    assert_eq!(
        forwardings_to(&inner, target.port),
        1,
        "the second hop opened the way to the target:\n{}",
        inner.log_text()
    );
}

#[test]
fn a_proxy_command_carries_the_connection_and_is_gone_after() {
    let target = Sshd::start();
    let jump = jump_sshd(&target);
    let w = World::new();
    w.trust(&[&target, &jump]);
    // OpenSSH's own client as the ProxyCommand, told everything on its
    // command line: it reads the real user's files, not this HOME's.
    w.ssh_config(&format!(
        "Host tgt\n  HostName 127.0.0.1\n  Port {tp}\n  ProxyCommand ssh -F /dev/null -i {jk} \
         -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile={kh} \
         -o StrictHostKeyChecking=yes -p {jp} -W %h:%p root@127.0.0.1\n",
        tp = target.port,
        jp = jump.port,
        jk = jump.user_key.display(),
        kh = w.known_hosts().display(),
    ));
    let rb =
        w.head(&target.user_key, "") + "[hosts.web]\naddress = \"tgt\"\n\n" + &step("where", WHERE);
    let out = w.run(&rb);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert_eq!(
        output_lines(&w.journal(), "where", "web", "stdout"),
        vec![target.dir.path().display().to_string()]
    );
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "[web] connecting to root@127.0.0.1:{} via ProxyCommand `ssh -F /dev/null",
            target.port
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("-W 127.0.0.1:{} root@127.0.0.1`", target.port)),
        "tokens expanded: {text}"
    );
    assert_eq!(forwardings_to(&jump, target.port), 1, "{}", jump.log_text());
    // The fixture's drop checks that no process of the run (the ssh client) is left.
}

#[test]
fn a_failing_proxy_command_fails_with_exit_5_and_says_why() {
    let w = World::new();
    w.ssh_config("Host tgt\n  ProxyCommand sh -c 'echo no route to tgt >&2; exit 3'\n");
    let rb = w.head(Path::new("/nonexistent"), "")
        + "[hosts.web]\naddress = \"tgt\"\n\n"
        + &step("where", WHERE);
    let out = w.run(&rb);
    assert_eq!(code(&out), 5, "{}", describe(&out));
    let text = describe(&out);
    assert!(text.contains("cannot reach host 'web'"), "{text}");
    assert!(text.contains("exited with status 3"), "{text}");
    assert!(text.contains("no route to tgt"), "{text}");
}

#[test]
fn a_refused_hop_key_fails_with_exit_5_naming_the_hop() {
    let target = Sshd::start();
    let jump = jump_sshd(&target);
    let w = World::new();
    // The target is known; the jump host is not, and strict refuses it.
    w.trust(&[&target]);
    let rb = w.head(
        &target.user_key,
        &format!(
            "jump = \"root@127.0.0.1:{}\"\nhost_keys = \"strict\"",
            jump.port
        ),
    ) + &format!(
        "[hosts.web]\naddress = \"127.0.0.1\"\nport = {}\n\n",
        target.port
    ) + &step("where", WHERE);
    let logins_before = target.logins();
    let out = w.run(&rb);
    assert_eq!(code(&out), 5, "{}", describe(&out));
    let text = describe(&out);
    let hop = format!("root@127.0.0.1:{}", jump.port);
    assert!(
        text.contains(&format!(
            "cannot reach host 'web' through the jump host {hop}"
        )),
        "{text}"
    );
    assert!(text.contains("host key of 'jump host"), "{text}");
    assert!(text.contains(&jump.fingerprint()), "{text}");
    assert_eq!(
        target.logins(),
        logins_before,
        "the target was never reached"
    );
    assert_eq!(forwardings_to(&jump, target.port), 0);
}

#[test]
fn accept_new_adds_the_hop_and_the_target_to_known_hosts() {
    let target = Sshd::start();
    let jump = jump_sshd(&target);
    let w = World::new();
    w.trust(&[]);
    let rb = w.head(
        &target.user_key,
        &format!(
            "jump = \"root@127.0.0.1:{}\"\nhost_keys = \"accept-new\"",
            jump.port
        ),
    ) + &format!(
        "[hosts.web]\naddress = \"127.0.0.1\"\nport = {}\n\n",
        target.port
    ) + &step("where", WHERE);
    let out = w.run(&rb);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let known = std::fs::read_to_string(w.known_hosts()).expect("known_hosts");
    for server in [&jump, &target] {
        let line = server.known_hosts_line();
        assert!(known.contains(line.trim()), "{line} not in:\n{known}");
    }
}

/// The trust question is put for a hop as for a host, naming the hop and
/// its key; a yes writes it to known_hosts and the connection goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trust_question_is_asked_for_a_hop() {
    use std::sync::{Arc, Mutex};

    use drydock::remote::{ExecRequest, Prompter, Question, Transport};
    use drydock::runbook::jump::{Jump, JumpHop};
    use drydock::runbook::{Host, HostKeyPolicy, TransportKind};
    use tokio_util::sync::CancellationToken;

    struct Yes(Mutex<Vec<Question>>);

    #[async_trait::async_trait]
    impl Prompter for Yes {
        async fn ask(&self, question: Question) -> Option<String> {
            if let Ok(mut asked) = self.0.lock() {
                asked.push(question);
            }
            Some("yes".into())
        }
    }

    let target = Sshd::start();
    let jump = jump_sshd(&target);
    let dir = tempfile::tempdir().expect("temp");
    let known_hosts = dir.path().join("known_hosts");
    std::fs::write(&known_hosts, target.known_hosts_line()).expect("known_hosts");
    let host = Host {
        name: "web".into(),
        transport: TransportKind::Ssh,
        address: "127.0.0.1".into(),
        user: "root".into(),
        port: target.port,
        identity: Some(target.user_key.display().to_string()),
        known_hosts: Some(known_hosts.display().to_string()),
        host_keys: HostKeyPolicy::Strict,
        connect_timeout: Duration::from_secs(10),
        roles: Vec::new(),
        vars: Default::default(),
        env: Default::default(),
        user_given: true,
        port_given: true,
        jump: Some(Jump::Via(vec![JumpHop {
            user: Some("root".into()),
            host: "127.0.0.1".into(),
            port: Some(jump.port),
        }])),
    };
    let prompter = Arc::new(Yes(Mutex::new(Vec::new())));
    let transport = drydock::remote::ssh::connect(&host, prompter.clone())
        .await
        .expect("connect through the hop");
    let asked = prompter.0.lock().expect("lock").clone();
    match asked.as_slice() {
        [
            Question::TrustHostKey {
                host, fingerprint, ..
            },
        ] => {
            assert_eq!(host, &format!("jump host root@127.0.0.1:{}", jump.port));
            assert_eq!(fingerprint, &jump.fingerprint());
        }
        other => panic!("asked {other:?}"),
    }
    let known = std::fs::read_to_string(&known_hosts).expect("known_hosts");
    assert!(known.contains(jump.known_hosts_line().trim()), "{known}");

    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let request = ExecRequest {
        command: WHERE.into(),
        pty: false,
    };
    let status = transport
        .exec(request, tx, CancellationToken::new())
        .await
        .expect("exec");
    assert!(status.success());
    let mut out = Vec::new();
    while let Some(chunk) = rx.recv().await {
        out.extend_from_slice(&chunk.data);
    }
    assert_eq!(
        String::from_utf8_lossy(&out).trim(),
        target.dir.path().display().to_string()
    );
    assert_eq!(forwardings_to(&jump, target.port), 1);
}

/// A port from `~/.ssh/config` that nothing listens on: the error says the
/// values used and that they came from there, not from the runbook.
#[test]
fn an_unreachable_port_from_ssh_config_is_named_as_such() {
    let w = World::new();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    w.ssh_config(&format!(
        "Host tgt\n  HostName 127.0.0.1\n  Port {closed}\n  User nobody-here\n"
    ));
    let rb = format!(
        "[runbook]\nname = \"unreachable\"\nlock = \"{}/lock\"\n\n\
         [hosts.web]\naddress = \"tgt\"\nconnect_timeout = \"5s\"\n\n",
        w.fixture.root()
    ) + &step("where", WHERE);
    let out = w.run(&rb);
    assert_eq!(code(&out), 5, "{}", describe(&out));
    let text = describe(&out);
    let used = format!(
        "nobody-here@127.0.0.1:{closed} (HostName 127.0.0.1, user nobody-here and port {closed} from ~/.ssh/config)"
    );
    assert!(
        text.contains(&format!("[web] connecting to {used}")),
        "{text}"
    );
    assert!(
        text.contains(&format!("cannot reach host 'web' at {used}")),
        "{text}"
    );
}

/// The jump host goes away mid-step: the loss is not pinned on the target
/// alone; the record says the connection went through a jump host.
#[test]
fn a_jump_host_gone_mid_step_is_named_in_the_loss() {
    let target = Sshd::start();
    let jump = jump_sshd(&target);
    let w = World::new();
    w.trust(&[&target, &jump]);
    let started = w.path("started");
    let rb = w.head(
        &target.user_key,
        &format!("jump = \"root@127.0.0.1:{}\"", jump.port),
    ) + &format!(
        "[hosts.behind]\naddress = \"127.0.0.1\"\nport = {}\n\n",
        target.port
    ) + &step("long", &format!("touch {}; sleep 4", started.display()));
    let out = std::thread::scope(|s| {
        s.spawn(|| {
            let deadline = Instant::now() + Duration::from_secs(30);
            while !started.exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            jump.drop_connections();
        });
        w.run(&rb)
    });
    assert_ne!(code(&out), 0, "{}", describe(&out));
    let journal = w.journal();
    let lost: Vec<String> = events(&journal, "connection", None)
        .iter()
        .filter(|e| e["state"] == "lost" && e["host"] == "behind")
        .filter_map(|e| e["reason"].as_str().map(str::to_string))
        .collect();
    assert_eq!(lost.len(), 1, "{journal:#?}");
    assert!(
        lost[0].contains("it went through a jump host, which may be what went away"),
        "{lost:?}"
    );
    // The command on the target ends on its own.
    std::thread::sleep(Duration::from_secs(4));
}
