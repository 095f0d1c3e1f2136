//! `drydock demo`: the example runbook's steps on a throwaway local site.
//!
//! It builds, under a temporary directory, what the CoralNet update expects to
//! find on its server: a git checkout whose origin holds newer commits, a
//! requirements file that those commits change, stand-ins for `manage.py`,
//! `pip` and `apachectl` that print real-looking output over a few seconds, the
//! vision backend's `robot_running_flag` (removed by a background process
//! about 25 seconds after the banner goes up) and an Apache error log being
//! appended to. Then it runs `config.example.toml` on it over the `local`
//! transport: the same steps, with the host made local and the paths pointed
//! at the temporary site.

use std::io::IsTerminal;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use crate::cli::DemoArgs;
use crate::engine::{self, exit};

pub const EXAMPLE: &str = include_str!("../config.example.toml");

/// How long the demo's banner warns before the start (the real one: 10m).
const DEMO_LEAD: &str = "10s";
/// How often the demo's guard looks at the flag (the real one: 30s).
const DEMO_POLL: &str = "2s";
/// When the stand-in vision backend finishes, counted from the banner going
/// up (the first question answered; at most a minute is waited for it): the
/// banner's lead, then a wait that a first-time reader sees on the guard.
const ROBOT_SECONDS: u32 = 25;

const MANAGE_PY: &str = r#"#!/bin/sh
# A stand-in for CoralNet's manage.py: prints what the real one would, slowly.
here=$(cd "$(dirname "$0")" && pwd)
case "$1" in
showmigrations)
    if [ -e "$here/.migrated" ]; then mark=X; else mark=' '; fi
    echo "[X]  accounts.0001_initial"
    echo "[X]  images.0040_metadata_camera"
    echo "[X]  images.0041_point_generation_type"
    echo "[$mark]  images.0042_label_export_settings"
    echo "[$mark]  vision_backend.0019_classifier_train_time"
    ;;
migrate)
    echo "Operations to perform:"
    echo "  Apply all migrations: accounts, annotations, images, labels, vision_backend"
    echo "Running migrations:"
    sleep 1
    if [ -e "$here/.migrated" ]; then echo "  No migrations to apply."; exit 0; fi
    for m in images.0042_label_export_settings vision_backend.0019_classifier_train_time; do
        printf '  Applying %s...' "$m"
        sleep 2
        printf ' \033[32;1mOK\033[0m\n'
    done
    touch "$here/.migrated"
    ;;
collectstatic)
    i=0
    for f in css/base.css css/annotation_tool.css js/AnnotationToolHelper.js js/LabelExport.js \
             js/util.js img/logo.png img/loading.gif js/jquery.min.js css/forms.css js/upload.js; do
        i=$((i + 1))
        echo "Copying '$here/static/$f'"
        sleep 0.3
    done
    echo ""
    echo "$i static files copied to '$here/static_serve', 1203 unmodified."
    ;;
*)
    echo "Unknown command: '$1'" >&2
    exit 1
    ;;
esac
"#;

const PYTHON: &str = r#"#!/bin/sh
# A stand-in for the virtualenv's python: `-m pip` goes to the stand-in pip,
# anything else (manage.py) is a shell script.
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then
    shift 2
    exec "$(dirname "$0")/pip" "$@"
fi
exec sh "$@"
"#;

const PIP: &str = r#"#!/bin/sh
# A stand-in for pip: reads the requirements and pretends to install them.
# It names no package index: the demo must not point anyone at a real host.
while read -r req; do
    case "$req" in ''|'#'*) continue ;; esac
    echo "Requirement already satisfied: $req"
    sleep 0.2
done < "$3"
echo "Collecting openpyxl==3.1.2"
sleep 1
echo "  Downloading openpyxl-3.1.2-py2.py3-none-any.whl (249 kB)"
sleep 1
echo "Installing collected packages: et-xmlfile, openpyxl"
sleep 1
echo "Successfully installed et-xmlfile-1.1.0 openpyxl-3.1.2"
"#;

const APACHECTL: &str = r#"#!/bin/sh
# A stand-in for apachectl: records the state and writes to the error log.
here=$(cd "$(dirname "$0")/.." && pwd)
now=$(date '+%a %b %d %H:%M:%S %Y')
case "$1" in
stop)
    sleep 1
    echo "[$now] [mpm_prefork:notice] [pid 4242] AH00169: caught SIGTERM, shutting down" >> "$here/logs/error.log"
    rm -f "$here/apache.running"
    echo "httpd stopped"
    ;;
start)
    sleep 1
    echo "[$now] [mpm_prefork:notice] [pid 4343] AH00163: Apache/2.4.52 (Ubuntu) mod_wsgi/4.9.0 Python/3.10 configured -- resuming normal operations" >> "$here/logs/error.log"
    touch "$here/apache.running"
    echo "httpd started"
    ;;
esac
"#;

/// The appender: the site's log while the demo runs, a line every second or so.
const LOG_WRITER: &str = r#"
i=0
while :; do
    i=$((i + 1))
    now=$(date '+%a %b %d %H:%M:%S %Y')
    if [ -e "$SITE/apache.running" ]; then
        case $((i % 7)) in
        3) echo "[$now] [wsgi:error] [pid 4242] Traceback (most recent call last): OSError: image file is truncated (/srv/media/images/$i.jpg)" ;;
        *) echo "[$now] [wsgi:info] [pid 4242] GET /source/$((i % 40))/browse/images/ 200" ;;
        esac
    else
        echo "[$now] [core:info] health check: connection refused (server stopped)"
    fi >> "$SITE/logs/error.log"
    sleep 1
done
"#;

/// Background helpers, ended (with their children) when the demo ends.
struct Helpers(Vec<Child>);

impl Drop for Helpers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Removes the throwaway site unless asked to keep it.
struct TempSite {
    root: PathBuf,
    keep: bool,
}

impl Drop for TempSite {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

fn sh(dir: &Path, script: &str) -> Result<(), String> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "CoralNet Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@coralnet.example")
        .env("GIT_COMMITTER_NAME", "CoralNet Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@coralnet.example")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .map_err(|e| format!("cannot run sh: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "setting up the demo site failed: {}\n{}",
            script.lines().next().unwrap_or(""),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn write_exec(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("cannot make {} executable: {e}", path.display()))
}

/// Make the site under `root`; returns the variables that point the runbook at it.
pub fn build_site(root: &Path, port: u16) -> Result<Vec<(String, String)>, String> {
    let site = root.join("site");
    let dev = root.join("dev");
    let bin = root.join("bin");
    for d in [
        &site,
        &dev,
        &bin,
        &root.join("logs"),
        &root.join("cnhome/images"),
    ] {
        std::fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    }
    let q = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', r"'\''"));
    let write = |path: PathBuf, text: &str| {
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    // A developer's clone pushes to a bare origin; the "server" clones it, then
    // the developer pushes the commits the update brings in.
    sh(
        root,
        "git init -q --bare origin.git && git --git-dir=origin.git symbolic-ref HEAD refs/heads/master",
    )?;
    sh(
        &dev,
        "git init -q . && git symbolic-ref HEAD refs/heads/master",
    )?;
    write_exec(&dev.join("manage.py"), MANAGE_PY)?;
    write(
        dev.join("requirements.txt"),
        "Django==4.2.11\nPillow==10.2.0\nnumpy==1.26.4\n",
    )?;
    write(dev.join("README.md"), "# CoralNet (demo copy)\n")?;
    write(dev.join(".gitignore"), ".migrated\n")?;
    std::fs::create_dir_all(dev.join("static/js")).map_err(|e| e.to_string())?;
    write(dev.join("static/js/util.js"), "// utilities\n")?;
    sh(
        &dev,
        &format!(
            "git add -A && git commit -qm 'CoralNet as deployed' && git remote add origin {} && git push -q origin master",
            q(&root.join("origin.git"))
        ),
    )?;
    sh(root, &format!("git clone -q origin.git {}", q(&site)))?;
    sh(
        &dev,
        "echo 'openpyxl==3.1.2' >> requirements.txt && echo '// export labels' > static/js/LabelExport.js \
         && git add -A && git commit -qm 'Add label export to spreadsheets' \
         && echo '# large uploads are chunked' >> README.md && git commit -qam 'Fix upload of large images' \
         && echo '# classifier train time shown' >> README.md && git commit -qam 'Show classifier train time' \
         && git push -q origin master",
    )?;
    write_exec(&bin.join("python"), PYTHON)?;
    write_exec(&bin.join("pip"), PIP)?;
    write_exec(&bin.join("apachectl"), APACHECTL)?;
    write(root.join("apache.running"), "")?;
    write(root.join("logs/error.log"), "")?;
    let flag = root.join("cnhome/images/robot_running_flag");
    write(flag.clone(), "training classifier for source 1234\n")?;
    let apachectl = bin.join("apachectl").display().to_string();
    let var = |k: &str, v: String| (k.to_string(), v);
    Ok(vec![
        var("site", site.display().to_string()),
        var("python", bin.join("python").display().to_string()),
        var("robot_flag", flag.display().to_string()),
        var("server_stop", format!("{apachectl} stop")),
        var("server_start", format!("{apachectl} start")),
        var("site_url", format!("http://127.0.0.1:{port}/")),
        var("site_says", "CoralNet".into()),
        var(
            "banner_file",
            root.join("maintenance.json").display().to_string(),
        ),
        // The demo site has no database: its dump is a file that says so.
        var(
            "db_dump",
            root.join("backups/coralnet.dump").display().to_string(),
        ),
        var(
            "db_backup",
            "echo 'CoralNet database (demo)' > {{db_dump}}".into(),
        ),
        var("db_restore", "echo restored from {{db_dump}}".into()),
    ])
}

/// The example runbook made local: every host on this machine, the lock in
/// the temporary directory, a short banner lead and guard poll.
pub fn local_runbook(root: &Path) -> Result<String, String> {
    let mut doc: toml::Table = EXAMPLE
        .parse()
        .map_err(|e| format!("config.example.toml: {e}"))?;
    doc.remove("ssh");
    if let Some(toml::Value::Table(hosts)) = doc.get_mut("hosts") {
        for (_, host) in hosts.iter_mut() {
            if let toml::Value::Table(h) = host {
                h.retain(|k, _| k == "roles" || k == "vars");
                h.insert("transport".into(), toml::Value::String("local".into()));
            }
        }
    }
    if let Some(toml::Value::Table(rb)) = doc.get_mut("runbook") {
        rb.insert(
            "name".into(),
            toml::Value::String("CoralNet production update (demo)".into()),
        );
        rb.insert(
            "lock".into(),
            toml::Value::String(format!("{}/lock-{{{{host}}}}", root.display())),
        );
    }
    // The site's error log is the one the stand-in server writes.
    if let Some(toml::Value::Table(logs)) = doc.get_mut("logs") {
        for (_, log) in logs.iter_mut() {
            if let toml::Value::Table(l) = log {
                let path = root.join("logs/error.log").display().to_string();
                l.insert("path".into(), toml::Value::String(path));
            }
        }
    }
    if let Some(toml::Value::Table(banner)) = doc.get_mut("banner") {
        banner.insert("lead".into(), toml::Value::String(DEMO_LEAD.into()));
    }
    if let Some(toml::Value::Array(steps)) = doc.get_mut("steps") {
        for step in steps.iter_mut() {
            if let Some(toml::Value::Table(g)) = step.get_mut("guard") {
                g.insert("poll".into(), toml::Value::String(DEMO_POLL.into()));
            }
        }
    }
    toml::to_string(&doc).map_err(|e| format!("cannot write the demo runbook: {e}"))
}

/// The stand-in site on a free loopback port: the home page while the
/// stand-in Apache runs, 503 while it is stopped. It lives as long as the demo.
fn serve_site(root: &Path) -> std::io::Result<u16> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let running = root.join("apache.running");
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut request = [0u8; 4096];
            let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(2)));
            let _ = conn.read(&mut request);
            let (status, body) = if running.exists() {
                (
                    "200 OK",
                    "<html><title>CoralNet</title><body>CoralNet: coral reef image annotation</body></html>",
                )
            } else {
                ("503 Service Unavailable", "Service Unavailable")
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Ok(port)
}

fn spawn_helper(script: &str, envs: &[(&str, String)]) -> Result<Child, String> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.spawn()
        .map_err(|e| format!("cannot start a demo helper: {e}"))
}

pub fn run(args: DemoArgs) -> i32 {
    if !Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("drydock: the demo needs git; install it (apt-get install git) and try again");
        return exit::USAGE;
    }
    let root = std::env::temp_dir().join(format!("drydock-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    if let Err(e) = std::fs::create_dir_all(&root) {
        eprintln!("drydock: cannot create {}: {e}", root.display());
        return exit::FAILED;
    }
    let temp = TempSite {
        root: root.clone(),
        keep: args.keep,
    };
    let port = match serve_site(&root) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("drydock: cannot start the demo's web server: {e}");
            return exit::FAILED;
        }
    };
    let vars = match build_site(&root, port) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("drydock: {e}");
            return exit::FAILED;
        }
    };
    let runbook_path = root.join("coralnet-demo.toml");
    let written = local_runbook(&root)
        .and_then(|text| std::fs::write(&runbook_path, text).map_err(|e| e.to_string()));
    if let Err(e) = written {
        eprintln!("drydock: {e}");
        return exit::FAILED;
    }
    let plan = match crate::runbook::load(&runbook_path, &vars) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("drydock: the demo runbook does not load: {e}");
            return exit::FAILED;
        }
    };
    let site = root.display().to_string();
    let flag = root
        .join("cnhome/images/robot_running_flag")
        .display()
        .to_string();
    let banner = vars
        .iter()
        .find_map(|(k, v)| (k == "banner_file").then(|| v.clone()))
        .unwrap_or_default();
    let helpers = Helpers(
        [
            spawn_helper(LOG_WRITER, &[("SITE", site)]),
            spawn_helper(
                &format!(
                    "i=0; while [ ! -e \"$BANNER\" ] && [ $i -lt 60 ]; do sleep 1; i=$((i + 1)); done; \
                     sleep {ROBOT_SECONDS}; rm -f \"$FLAG\""
                ),
                &[("FLAG", flag), ("BANNER", banner)],
            ),
        ]
        .into_iter()
        .filter_map(|r| r.map_err(|e| eprintln!("drydock: {e}")).ok())
        .collect(),
    );
    let tui = !args.headless && std::io::stdout().is_terminal();
    let theme = if tui {
        match crate::commands::pick_theme(args.theme.as_deref(), &plan) {
            Ok(t) => Some(t),
            Err(code) => return code,
        }
    } else {
        None
    };
    let runtime = match crate::commands::runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let plan = Arc::new(plan);
    let ui = crate::tui::ui_channel();
    let options = engine::Options {
        yes: false,
        step_mode: false,
        dry_run: false,
        from: None,
        only_hosts: Vec::new(),
        // The real journal directory, so `drydock history` shows the demo run afterwards.
        journal_dir: crate::journal::default_dir(),
        resume: None,
        prompter: Arc::new(crate::tui::TuiPrompter::new(ui.0.clone())),
        offer_lock_break: tui,
        // Only the TUI shows the servers' logs.
        tail_logs: tui,
    };
    let code = runtime.block_on(crate::commands::drive(plan, options, theme, ui));
    drop(helpers);
    if args.keep {
        eprintln!("drydock: the demo site stays in {}", root.display());
    } else {
        eprintln!(
            "drydock: the demo site in {} is removed (--keep keeps it)",
            root.display()
        );
    }
    eprintln!(
        "drydock: next, copy config.example.toml, point it at your server, and `drydock check` it"
    );
    drop(temp);
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_runbook_passes_check() {
        let r = crate::runbook::load_str(Path::new("config.example.toml"), EXAMPLE, &[]);
        assert!(r.is_ok(), "{:?}", r.err().map(|e| e.to_string()));
    }

    #[test]
    fn the_local_runbook_keeps_every_step() {
        let dir = std::env::temp_dir().join(format!("drydock-demo-test-{}", std::process::id()));
        let text = local_runbook(&dir).unwrap_or_default();
        assert!(text.contains("transport"), "{text}");
        let plan = crate::runbook::load_str(Path::new("demo.toml"), &text, &[]);
        let Ok(plan) = plan else {
            panic!("{:?}", plan.err().map(|e| e.to_string()))
        };
        let example = crate::runbook::load_str(Path::new("x.toml"), EXAMPLE, &[])
            .ok()
            .map(|p| p.steps.len());
        assert_eq!(Some(plan.steps.len()), example);
        assert!(
            plan.hosts
                .iter()
                .all(|h| h.transport == crate::runbook::TransportKind::Local)
        );
    }
}
