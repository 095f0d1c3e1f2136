//! The shipped runbooks against real servers: a Django site in a git
//! repository, served by gunicorn, reached over a real sshd on 127.0.0.1.

mod common;
mod support;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::leftovers;
use common::*;
use support::django::{self, Site};
use support::sshd::Sshd;

fn repo_file(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel))
        .expect("read shipped runbook")
}

/// A `[hosts.NAME]` table reaching `sshd` with its generated keys.
fn ssh_host(name: &str, sshd: &Sshd, known_hosts: &Path, extra: &str) -> String {
    format!(
        "[hosts.{name}]\naddress = \"127.0.0.1\"\nport = {}\nuser = \"root\"\nidentity = \"{}\"\nknown_hosts = \"{}\"\nhost_keys = \"strict\"\n{extra}\n",
        sshd.port,
        sshd.user_key.display(),
        known_hosts.display()
    )
}

fn known_hosts(dir: &Path, servers: &[&Sshd]) -> PathBuf {
    let path = dir.join("known_hosts");
    let text: String = servers
        .iter()
        .map(|s| format!("{}\n", s.known_hosts_line()))
        .collect();
    std::fs::write(&path, text).expect("write known_hosts");
    path
}

/// Replace the runbook's connection settings (from `[ssh]` or the first
/// `[hosts.` up to `marker`) with the test's hosts.
fn with_hosts(runbook: &str, hosts: &str, marker: &str) -> String {
    let start = runbook
        .find("[ssh]")
        .or_else(|| runbook.find("[hosts."))
        .expect("hosts in runbook");
    let end = runbook.find(marker).expect("marker in runbook");
    let text = format!("{}{hosts}\n{}", &runbook[..start], &runbook[end..]);
    // Tests run side by side: each keeps its locks in its own temp dir.
    let lock_line = text
        .lines()
        .find(|l| l.starts_with("lock = "))
        .expect("a lock line")
        .to_string();
    text.replace(
        &lock_line,
        &format!("lock = \"{}/lock-{{{{host}}}}\"", hosts_lock_dir(hosts)),
    )
}

/// `--var` values that back the runbooks' database up by copying the sqlite
/// file `db` (and put it back the same way), instead of pg_dump/pg_restore.
fn sqlite_backup(db: &Path) -> [String; 3] {
    let dump = db.with_extension("sqlite3.before-update");
    [
        format!("db_dump={}", dump.display()),
        format!("db_backup=cp {} {{{{db_dump}}}}", db.display()),
        format!("db_restore=cp {{{{db_dump}}}} {}", db.display()),
    ]
}

/// The directory of the first host's identity file: a place of the test's own.
fn hosts_lock_dir(hosts: &str) -> String {
    let identity = hosts
        .lines()
        .find_map(|l| l.strip_prefix("identity = \""))
        .expect("identity");
    let path = Path::new(identity.trim_end_matches('"'));
    path.parent().expect("key dir").display().to_string()
}

/// Fields drop in order: the site's server is stopped (it reads its pid file
/// in the fixture's temp dir) before the fixture checks that nothing is left
/// and removes the dir.
struct Coralnet {
    site: Site,
    sshd: Sshd,
    runbook: PathBuf,
    fx: Fixture,
}

fn coralnet(broken: bool, on_failure: Option<&str>) -> Coralnet {
    let fx = Fixture::new();
    let site = Site::create(&fx.path("srv"), 7, broken);
    site.start();
    let sshd = Sshd::start();
    let kh = known_hosts(fx.dir.path(), &[&sshd]);
    let mut text = with_hosts(
        &repo_file("config.example.toml"),
        &ssh_host("web", &sshd, &kh, "roles = [\"web\"]"),
        "[logs.apache]",
    );
    text = text.replace("lead = \"10m\"", "lead = \"2s\"");
    if let Some(policy) = on_failure {
        text = text.replace(
            "run = \"cd {{site}} && {{python}} manage.py migrate --noinput\"",
            &format!("run = \"cd {{{{site}}}} && {{{{python}}}} manage.py migrate --noinput\"\non_failure = \"{policy}\""),
        );
        assert!(
            text.contains("on_failure = \""),
            "the migrate step was found"
        );
    }
    let runbook = fx.path("coralnet.toml");
    std::fs::write(&runbook, text).expect("write runbook");
    Coralnet {
        fx,
        sshd,
        site,
        runbook,
    }
}

impl Coralnet {
    fn vars(&self) -> Vec<String> {
        let s = &self.site;
        vec![
            format!("site={}", s.work_tree()),
            format!("python={}", s.python),
            format!("robot_flag={}", self.flag().display()),
            format!("server_stop={}", s.stop_command()),
            format!("server_start={}", s.start_command()),
            format!("site_url={}", s.url()),
            format!("banner_file={}", self.banner().display()),
            // The site's database is sqlite: its dump is a copy of the file.
            format!("db_dump={}", self.db_dump().display()),
            format!(
                "db_backup=cp {} {{{{db_dump}}}}",
                s.root.join("db.sqlite3").display()
            ),
            format!(
                "db_restore=cp {{{{db_dump}}}} {}",
                s.root.join("db.sqlite3").display()
            ),
        ]
    }

    fn db_dump(&self) -> PathBuf {
        self.site
            .root
            .join("backups")
            .join("db-before-update.sqlite3")
    }

    fn flag(&self) -> PathBuf {
        self.site.root.join("robot_running_flag")
    }

    fn banner(&self) -> PathBuf {
        self.site.root.join("maintenance.json")
    }

    fn run(&self, args: &[&str], input: &str) -> std::process::Output {
        let vars = self.vars();
        let mut all: Vec<&str> = args.to_vec();
        for v in &vars {
            all.push("--var");
            all.push(v);
        }
        self.fx.run(&self.runbook, &all, input)
    }
}

#[test]
fn coralnet_update_over_ssh_waits_for_the_robot_and_serves_the_new_version() {
    let cn = coralnet(false, None);
    let old_head = cn.site.git(&["rev-parse", "HEAD"]);
    assert!(
        cn.site
            .get()
            .is_some_and(|(s, b)| s == 200 && b.contains("CoralNet v1: 7 notes"))
    );
    // The fixture's own readiness probe counts as a connection: measure from here.
    let connections_before = cn.sshd.connections();
    // The vision backend is busy when the update starts; it finishes a few seconds later.
    std::fs::write(cn.flag(), "").expect("flag");
    let flag = cn.flag();
    let robot = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(4));
        std::fs::remove_file(flag).expect("remove the flag");
    });
    // The guard polls every 30 s in the shipped runbook; the test polls faster.
    let text = std::fs::read_to_string(&cn.runbook)
        .expect("runbook")
        .replace("poll = \"30s\"", "poll = \"500ms\"");
    std::fs::write(&cn.runbook, text).expect("runbook");

    let out = cn.run(&["--yes"], "");
    robot.join().expect("robot");
    assert_eq!(code(&out), 0, "{}", describe(&out));

    let site = &cn.site;
    assert_ne!(site.git(&["rev-parse", "HEAD"]), old_head);
    assert_eq!(
        site.git(&["rev-parse", "HEAD"]),
        site.git(&["rev-parse", "origin/master"]),
        "the code is at origin's head"
    );
    assert_eq!(
        site.applied_migrations(),
        ["notes.0001_initial", "notes.0002_note_colour"]
    );
    assert_eq!(
        site.shell("from notes.models import Note; print(Note.objects.count())"),
        "7",
        "the rows are still there"
    );
    let css = std::fs::read_to_string(site.root.join("static_root/notes/site.css"))
        .expect("collected css");
    assert!(
        css.contains("teal"),
        "the new static file is collected: {css}"
    );
    let (status, body) = site.get().expect("the site answers");
    assert_eq!(status, 200);
    assert_eq!(body, "CoralNet v2: 7 notes in blue\n");
    assert!(!cn.banner().exists(), "the banner is down");

    let j = cn.fx.journal();
    for step in [
        "banner-on",
        "wait-for-start",
        "robot-idle",
        "stop-server",
        "fetch",
        "record-head",
        "rebase",
        "requirements",
        "collectstatic",
        "backup-db",
        "migrate",
        "start-server",
        "site-answers",
        "try-it",
        "banner-off",
    ] {
        assert_eq!(status_of(&j, step).as_deref(), Some("ok"), "{step}");
    }
    let polls: Vec<bool> = events(&j, "guard_poll", Some("robot-idle"))
        .iter()
        .filter_map(|e| e["ok"].as_bool())
        .collect();
    assert!(
        polls.len() >= 2 && !polls[0] && polls[polls.len() - 1],
        "the guard waited for the flag: {polls:?}"
    );
    let migrate = output_lines(&j, "migrate", "web", "stdout").join("\n");
    assert!(
        migrate.contains("Applying notes.0002_note_colour... OK"),
        "{migrate}"
    );
    assert_eq!(
        cn.sshd.connections() - connections_before,
        1,
        "one SSH connection for the whole run"
    );
}

fn status_of(j: &[serde_json::Value], step: &str) -> Option<String> {
    status(j, step, "web")
}

#[test]
fn a_broken_migration_stops_the_run_under_on_failure_abort() {
    let cn = coralnet(true, Some("abort"));
    // Gates: banner-on, stop-server, rebase, migrate; then leave every rollback offer.
    let out = cn.run(&[], "y\ny\ny\ny\ns\ns\ns\n");
    assert_eq!(code(&out), 1, "{}", describe(&out));
    let j = cn.fx.journal();
    assert_eq!(status_of(&j, "migrate").as_deref(), Some("failed"));
    assert!(
        output_lines(&j, "migrate", "web", "stderr")
            .iter()
            .any(|l| l.contains("broken on purpose"))
    );
    assert_eq!(
        status_of(&j, "site-answers"),
        None,
        "nothing after the migration ran"
    );
    assert_eq!(j.last().expect("events")["exit_code"], 1);
}

#[test]
fn aborting_a_broken_migration_restarts_the_old_code_and_takes_the_banner_down() {
    let cn = coralnet(true, None);
    let old_head = cn.site.git(&["rev-parse", "HEAD"]);
    // Gates: banner-on, stop-server, rebase, migrate. At the failure: abort.
    // Then the rollback: go through its plan, put the database dump back,
    // undo the rebase, start the server, take the banner down.
    let out = cn.run(&[], "y\ny\ny\ny\na\ny\ny\ny\ny\ny\n");
    assert_eq!(code(&out), 3, "{}", describe(&out));
    let text = stdout(&out);
    assert!(text.contains("? rollback: the plan"), "{text}");
    assert!(text.contains("? rollback [10/15 backup-db] undo"), "{text}");
    assert!(text.contains("? rollback [7/15 rebase] undo"), "{text}");
    assert!(
        text.contains("? rollback [12/15 start-server] always step"),
        "{text}"
    );
    assert!(
        text.contains("? rollback [15/15 banner-off] always step"),
        "{text}"
    );
    assert_eq!(
        cn.site.git(&["rev-parse", "HEAD"]),
        old_head,
        "the code is back at the old commit"
    );
    // gunicorn --daemon returns before it listens.
    cn.site.wait_until_up();
    let (status, body) = cn.site.get().expect("the server is started again");
    assert_eq!((status, body.as_str()), (200, "CoralNet v1: 7 notes\n"));
    assert!(!cn.banner().exists(), "the banner is down");
    assert_eq!(
        cn.site.applied_migrations(),
        ["notes.0001_initial"],
        "the database is back as it was before the update: 0002 undone with its dump"
    );
}

/// Polls every site while a run goes on: (time, index of site, answered).
struct Poller {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<(Instant, usize, bool)>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Poller {
    fn start(ports: Vec<u16>, path: &'static str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (s, out) = (stop.clone(), samples.clone());
        let thread = std::thread::spawn(move || {
            // Bounded: at most 10 minutes of polling, 20 rounds a second.
            for _ in 0..12_000 {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                for (i, port) in ports.iter().enumerate() {
                    let ok = django::get_path(*port, path).is_some_and(|(st, _)| st == 200);
                    out.lock().expect("samples").push((Instant::now(), i, ok));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Self {
            stop,
            samples,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> Vec<(Instant, usize, bool)> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().expect("poller");
        }
        std::mem::take(&mut *self.samples.lock().expect("samples"))
    }
}

/// A host of a cluster: its site stops (through its pid file) before its
/// sshd checks that nothing it started is left.
struct Node {
    site: Site,
    sshd: Sshd,
}

/// The fixture last, as in `Coralnet`.
struct Cluster {
    nodes: Vec<Node>,
    runbook: PathBuf,
    fx: Fixture,
}

/// Two hosts, each a sshd and a site of its own.
fn cluster(runbook_rel: &str, names: [&str; 2], marker: &str, role: &str) -> Cluster {
    let fx = Fixture::new();
    let nodes: Vec<Node> = names
        .iter()
        .map(|n| {
            let site = Site::create(&fx.path(n), 3, false);
            site.start();
            Node {
                site,
                sshd: Sshd::start(),
            }
        })
        .collect();
    // One database for the cluster, as in production: node2's is node1's.
    let shared = nodes[0].site.root.join("db.sqlite3");
    let second = nodes[1].site.root.join("db.sqlite3");
    std::fs::remove_file(&second).expect("remove node2's own database");
    std::os::unix::fs::symlink(&shared, &second).expect("share the database");
    let kh = known_hosts(fx.dir.path(), &[&nodes[0].sshd, &nodes[1].sshd]);
    let mut hosts = "[ssh]\nuser = \"root\"\n\n".to_string();
    for (name, Node { site, sshd }) in names.iter().zip(&nodes) {
        let vars = format!(
            "roles = [\"{role}\"]\nvars = {{ site = \"{}\", python = \"{}\", start = \"{}\", stop = \"{}\", url = \"{}\" }}",
            site.work_tree(),
            site.python,
            site.start_command().replace('"', "\\\""),
            site.stop_command().replace('"', "\\\""),
            site.url()
        );
        hosts.push_str(&ssh_host(name, sshd, &kh, &vars));
    }
    let text = with_hosts(&repo_file(runbook_rel), &hosts, marker);
    let runbook = fx.path("runbook.toml");
    std::fs::write(&runbook, text).expect("write runbook");
    Cluster { fx, nodes, runbook }
}

/// Start and finish times of each (step, host) from the journal, on the test's clock.
fn step_spans(
    j: &[serde_json::Value],
) -> Vec<(
    String,
    String,
    chrono::DateTime<chrono::Utc>,
    chrono::DateTime<chrono::Utc>,
)> {
    let ts = |e: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(e["ts"].as_str().expect("ts"))
            .expect("rfc3339")
            .with_timezone(&chrono::Utc)
    };
    let mut spans = Vec::new();
    for (i, e) in j.iter().enumerate() {
        if e["event"] == "step_started" && e.get("phase").is_none() {
            let end = j[i..]
                .iter()
                .find(|f| {
                    f["event"] == "step_finished"
                        && f["step"] == e["step"]
                        && f["host"] == e["host"]
                })
                .expect("finished");
            spans.push((
                e["step"].as_str().unwrap_or_default().to_string(),
                e["host"].as_str().unwrap_or_default().to_string(),
                ts(e),
                ts(end),
            ));
        }
    }
    spans
}

/// Map the poller's instants to wall-clock time.
fn wall(
    at: Instant,
    anchor: (Instant, chrono::DateTime<chrono::Utc>),
) -> chrono::DateTime<chrono::Utc> {
    anchor.1
        + chrono::Duration::from_std(at.saturating_duration_since(anchor.0)).unwrap_or_default()
}

/// While `host` (index `i`) is inside its rolling block, every poll of the other site answered.
fn assert_other_site_up(
    spans: &[(
        String,
        String,
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
    )],
    rolling: &[&str],
    names: [&str; 2],
    samples: &[(Instant, usize, bool)],
    anchor: (Instant, chrono::DateTime<chrono::Utc>),
) {
    for (i, name) in names.iter().enumerate() {
        let mine: Vec<_> = spans
            .iter()
            .filter(|s| &s.1 == name && rolling.contains(&s.0.as_str()))
            .collect();
        let from = mine.iter().map(|s| s.2).min().expect("rolling steps ran");
        let to = mine.iter().map(|s| s.3).max().expect("rolling steps ran");
        let other = 1 - i;
        let during: Vec<bool> = samples
            .iter()
            .filter(|(t, site, _)| *site == other && (from..=to).contains(&wall(*t, anchor)))
            .map(|s| s.2)
            .collect();
        assert!(
            !during.is_empty(),
            "the poller sampled {} while {name} was upgraded",
            names[other]
        );
        assert!(
            during.iter().all(|ok| *ok),
            "{} stopped answering while {name} was upgraded: {during:?}",
            names[other]
        );
        // The other host's block is wholly before or after this one.
        let others_spans: Vec<_> = spans
            .iter()
            .filter(|s| s.1 == names[other] && rolling.contains(&s.0.as_str()))
            .collect();
        assert!(
            others_spans.iter().all(|s| s.2 >= to || s.3 <= from),
            "the rolling blocks of the two hosts overlap"
        );
    }
}

#[test]
fn synnefo_upgrades_one_node_at_a_time_while_the_other_serves() {
    let c = cluster(
        "examples/synnefo.toml",
        ["node1", "node2"],
        "[[steps]]",
        "node",
    );
    let ports = c.nodes.iter().map(|n| n.site.port).collect();
    let anchor = (Instant::now(), chrono::Utc::now());
    let poller = Poller::start(ports, "/health");
    let root = c.fx.root();
    let db = sqlite_backup(&c.nodes[0].site.root.join("db.sqlite3"));
    let out = c.fx.run(
        &c.runbook,
        &[
            "--yes",
            "--var",
            &format!("node_out=touch {root}/drained-{{{{host}}}}"),
            "--var",
            &format!("node_in=rm -f {root}/drained-{{{{host}}}}"),
            "--var",
            "node_restart={{stop}} && {{start}}",
            "--var",
            "node_url={{url}}health",
            "--var",
            "manage={{python}} manage.py",
            "--var",
            "services_stop={{stop}}",
            "--var",
            "services_start={{start}}",
            "--var",
            &db[0],
            "--var",
            &db[1],
            "--var",
            &db[2],
        ],
        "",
    );
    let samples = poller.finish();
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let j = c.fx.journal();
    let spans = step_spans(&j);
    let rolling = ["take-out", "upgrade", "restart", "check-node", "put-back"];
    let mut order: Vec<String> = spans
        .iter()
        .filter(|s| rolling.contains(&s.0.as_str()))
        .map(|s| format!("{}@{}", s.0, s.1))
        .collect();
    // A check retried while the node comes back shows twice.
    order.dedup();
    assert_eq!(
        order,
        [
            "take-out@node1",
            "upgrade@node1",
            "restart@node1",
            "check-node@node1",
            "put-back@node1",
            "take-out@node2",
            "upgrade@node2",
            "restart@node2",
            "check-node@node2",
            "put-back@node2"
        ]
    );
    assert_other_site_up(&spans, &rolling, ["node1", "node2"], &samples, anchor);
    for Node { site, .. } in &c.nodes {
        assert_eq!(
            site.get().map(|(s, b)| (s, b.starts_with("CoralNet v2"))),
            Some((200, true))
        );
    }
    assert_eq!(
        c.nodes[0].site.applied_migrations().len(),
        2,
        "migrate ran on node1's database"
    );
    assert!(
        !Path::new(&format!("{root}/drained-node1")).exists()
            && !Path::new(&format!("{root}/drained-node2")).exists()
    );
}

#[test]
fn djangoplicity_keeps_the_site_up_and_runs_cron_around_the_upgrade() {
    let c = cluster(
        "examples/djangoplicity.toml",
        ["web1", "web2"],
        "[[steps]]",
        "web",
    );
    let ports = c.nodes.iter().map(|n| n.site.port).collect();
    let anchor = (Instant::now(), chrono::Utc::now());
    let poller = Poller::start(ports, "/");
    let root = c.fx.root();
    let db = sqlite_backup(&c.nodes[0].site.root.join("db.sqlite3"));
    let out = c.fx.run(
        &c.runbook,
        &[
            "--yes",
            "--var",
            &format!("cron_stop=echo stopped >> {root}/cron-{{{{host}}}}"),
            "--var",
            &format!("cron_start=echo started >> {root}/cron-{{{{host}}}}"),
            "--var",
            &format!("balancer_out=touch {root}/out-{{{{host}}}}"),
            "--var",
            &format!("balancer_in=rm -f {root}/out-{{{{host}}}}"),
            "--var",
            "web_restart={{stop}} && {{start}}",
            "--var",
            "web_url={{url}}",
            "--var",
            &db[0],
            "--var",
            &db[1],
            "--var",
            &db[2],
        ],
        "",
    );
    let samples = poller.finish();
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let j = c.fx.journal();
    let spans = step_spans(&j);
    let rolling = ["out", "install", "restart", "check", "in"];
    assert_other_site_up(&spans, &rolling, ["web1", "web2"], &samples, anchor);
    let first = spans.first().expect("steps");
    let last = spans.last().expect("steps");
    assert_eq!(first.0, "cron-off");
    assert_eq!(last.0, "cron-on");
    for host in ["web1", "web2"] {
        assert_eq!(
            std::fs::read_to_string(format!("{root}/cron-{host}")).expect("cron log"),
            "stopped\nstarted\n"
        );
    }
    for Node { site, .. } in &c.nodes {
        assert_eq!(
            site.get().map(|(s, b)| (s, b.starts_with("CoralNet v2"))),
            Some((200, true))
        );
        assert_eq!(site.applied_migrations().len(), 2);
    }
}

#[test]
fn flowspy_dumps_the_database_then_upgrades() {
    let fx = Fixture::new();
    // Locals drop in reverse: the site stops before its sshd checks for leftovers.
    let sshd = Sshd::start();
    let site = Site::create(&fx.path("flowspy"), 4, false);
    site.start();
    std::fs::write(
        site.root.join("site/coralsite/settings.py.dist"),
        "DEBUG = False\nNEW_SETTING = 1\n",
    )
    .expect("dist");
    let kh = known_hosts(fx.dir.path(), &[&sshd]);
    let text = with_hosts(
        &repo_file("examples/flowspy.toml"),
        &ssh_host("flowspy", &sshd, &kh, ""),
        "[[steps]]",
    );
    let runbook = fx.path("flowspy.toml");
    std::fs::write(&runbook, text).expect("runbook");
    let root = fx.root();
    let dumps = format!("{root}/dumps");
    let db = sqlite_backup(&site.root.join("db.sqlite3"));
    let out = fx.run(
        &runbook,
        &[
            "--yes",
            "--var",
            &format!("site={}", site.work_tree()),
            "--var",
            &format!("python={}", site.python),
            "--var",
            &format!("dump_dir={dumps}"),
            "--var",
            "settings=coralsite/settings.py",
            "--var",
            "settings_dist=coralsite/settings.py.dist",
            "--var",
            &format!(
                "web_restart={} && {}",
                site.stop_command(),
                site.start_command()
            ),
            "--var",
            &format!("celery_stop=echo stop >> {root}/celery"),
            "--var",
            &format!("celery_start=echo start >> {root}/celery"),
            "--var",
            &db[0],
            "--var",
            &db[1],
            "--var",
            &db[2],
        ],
        "",
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let j = fx.journal();
    let run_id = j[0]["run_id"].as_str().expect("run id");
    let dump_path = format!("{dumps}/flowspy-{run_id}.json");
    let dump: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&dump_path).expect("the dump file exists"))
            .expect("dump is JSON");
    let notes = dump
        .as_array()
        .expect("array")
        .iter()
        .filter(|o| o["model"] == "notes.note")
        .count();
    assert_eq!(notes, 4, "the dump holds the rows");
    assert!(
        output_lines(&j, "dump", "flowspy", "stdout")
            .iter()
            .any(|l| l.contains(&dump_path)),
        "the journal names the dump's path"
    );
    let settings = events(&j, "step_finished", Some("settings"));
    assert_eq!(settings[0]["status"], "ok");
    assert_eq!(
        std::fs::read_to_string(format!("{root}/celery")).expect("celery"),
        "stop\nstart\n"
    );
    assert_eq!(site.applied_migrations().len(), 2);
    assert_eq!(
        site.get(),
        Some((200, "CoralNet v2: 4 notes in blue\n".to_string()))
    );
}

#[test]
fn djnro_moves_the_data_to_a_new_host() {
    let fx = Fixture::new();
    let (s1, s2) = (Sshd::start(), Sshd::start());
    let old = Site::create(&fx.path("old"), 6, false);
    // The new host: the old version's code checked out, no database yet.
    let new = Site::create(&fx.path("new"), 0, false);
    std::fs::remove_file(new.root.join("db.sqlite3")).expect("fresh host has no database");
    let kh = known_hosts(fx.dir.path(), &[&s1, &s2]);
    let hosts = format!(
        "[ssh]\nuser = \"root\"\n\n{}{}",
        ssh_host(
            "old",
            &s1,
            &kh,
            &format!(
                "vars = {{ site = \"{}\", python = \"{}\" }}",
                old.work_tree(),
                old.python
            )
        ),
        ssh_host(
            "new",
            &s2,
            &kh,
            &format!(
                "vars = {{ site = \"{}\", python = \"{}\" }}",
                new.work_tree(),
                new.python
            )
        )
    );
    let text = with_hosts(&repo_file("examples/djnro.toml"), &hosts, "[[steps]]");
    let db = sqlite_backup(&new.root.join("db.sqlite3"));
    let runbook = fx.path("djnro.toml");
    std::fs::write(&runbook, text).expect("runbook");
    let root = fx.root();
    let out = fx.run(
        &runbook,
        &[
            "--yes",
            "--var", &format!("dump={root}/old-dump/djnro.json"),
            // Both test hosts are this machine: the copy is a cp from where the old host wrote it.
            "--var", &format!("copy_dump=cp {root}/old-dump/djnro.json {root}/old-dump/djnro.json.copied && mv {root}/old-dump/djnro.json.copied {root}/old-dump/djnro.json"),
            "--var", "app=notes",
            "--var", &db[0],
            "--var", &db[1],
            "--var", &db[2],
        ],
        "",
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert!(
        Path::new(&format!("{root}/old-dump/djnro.json")).exists(),
        "the dump file exists"
    );
    assert_eq!(
        new.shell("from notes.models import Note; print(Note.objects.count())"),
        "6",
        "the data reached the new database"
    );
    assert_eq!(
        new.applied_migrations(),
        ["notes.0001_initial", "notes.0002_note_colour"]
    );
    assert_eq!(
        new.git(&["rev-parse", "HEAD"]),
        new.git(&["rev-parse", "origin/master"]),
        "the new host runs the new code"
    );
    assert_eq!(
        old.shell("from notes.models import Note; print(Note.objects.count())"),
        "6",
        "the old host keeps its data"
    );
}

#[test]
fn a_process_left_in_the_fixture_fails_the_test_and_is_killed() {
    let fx = Fixture::new();
    let root = fx.root();
    let mut sleeper = std::process::Command::new("sleep")
        .arg("300")
        .current_dir(fx.dir.path())
        .spawn()
        .expect("start sleep");
    let failure = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(fx)))
        .expect_err("a leftover fails the test");
    let message = failure
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        message.contains(&format!("pid {}: sleep 300", sleeper.id())),
        "the failure names the process: {message}"
    );
    let status = sleeper.wait().expect("wait for sleep");
    assert!(!status.success(), "sleep was killed, not left to finish");
    assert!(leftovers::mentioning(&root).is_empty());
}
