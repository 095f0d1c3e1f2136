//! A real Django site for end-to-end tests: a git work tree at v1 with an
//! origin holding v2, an sqlite database with rows, collected static files,
//! served by gunicorn on a free port of 127.0.0.1.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::leftovers;

/// The virtualenv with Django and gunicorn (`scripts/test` makes it).
pub fn venv() -> PathBuf {
    let dir = std::env::var_os("DRYDOCK_TEST_VENV").map_or_else(
        || {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target")
                .join("e2e-venv")
        },
        PathBuf::from,
    );
    let python = dir.join("bin").join("python");
    let ok = python.exists()
        && Command::new(&python)
            .args(["-c", "import django, gunicorn"])
            .status()
            .is_ok_and(|s| s.success());
    assert!(
        ok,
        "no virtualenv with Django and gunicorn at {}: run scripts/test (it makes one), or: python3 -m venv {0} && {0}/bin/pip install Django gunicorn sqlparse",
        dir.display()
    );
    dir
}

pub fn python() -> String {
    venv().join("bin").join("python").display().to_string()
}

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("addr").port()
}

pub struct Site {
    /// Holds `site/` (the work tree), `origin.git`, `db.sqlite3`, `static_root/`.
    pub root: PathBuf,
    pub port: u16,
    pub python: String,
}

impl Site {
    /// Build the site under `root` with `rows` notes; `broken` adds a failing
    /// migration on origin.
    pub fn create(root: &Path, rows: usize, broken: bool) -> Self {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/django/make-site.sh");
        let python = python();
        let mut cmd = Command::new("bash");
        cmd.arg(script).arg(root).arg(&python).arg(rows.to_string());
        if broken {
            cmd.arg("broken");
        }
        let out = cmd.output().expect("run make-site.sh");
        assert!(
            out.status.success(),
            "make-site.sh failed (git and python3 are needed):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Self {
            root: root.to_path_buf(),
            port: free_port(),
            python,
        }
    }

    pub fn work_tree(&self) -> String {
        self.root.join("site").display().to_string()
    }

    pub fn pidfile(&self) -> String {
        self.root.join("gunicorn.pid").display().to_string()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// The shell command that starts gunicorn in the background.
    pub fn start_command(&self) -> String {
        format!(
            "cd {} && {} -m gunicorn coralsite.wsgi --bind 127.0.0.1:{} --workers 1 --pid {} --daemon --log-file {}/gunicorn.log",
            self.work_tree(),
            self.python,
            self.port,
            self.pidfile(),
            self.root.display()
        )
    }

    /// The shell command that stops gunicorn and waits until it is gone.
    pub fn stop_command(&self) -> String {
        let pid = self.pidfile();
        format!(
            "if [ -f {pid} ]; then kill $(cat {pid}); while [ -e {pid} ]; do sleep 0.1; done; fi"
        )
    }

    pub fn start(&self) {
        let status = Command::new("sh")
            .arg("-c")
            .arg(self.start_command())
            .status()
            .expect("start gunicorn");
        assert!(status.success(), "gunicorn did not start");
        self.wait_until_up();
    }

    pub fn wait_until_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while get(self.port).is_none() {
            assert!(
                Instant::now() < deadline,
                "gunicorn never answered on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stop gunicorn: its master, named by the pid file, takes the workers
    /// along. Bounded, unlike `stop_command`: a run may have left the pid file
    /// stale, and its pid may belong to another process by now.
    pub fn stop(&self) {
        let pid = std::fs::read_to_string(self.pidfile())
            .ok()
            .and_then(|text| text.trim().parse::<i32>().ok());
        let Some(pid) = pid else {
            return;
        };
        let marker = self.root.display().to_string();
        if !leftovers::stop(pid, &marker, Signal::SIGTERM) {
            leftovers::stop(pid, &marker, Signal::SIGKILL);
        }
    }

    /// What the site answers: (status, body).
    pub fn get(&self) -> Option<(u16, String)> {
        get(self.port)
    }

    pub fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(self.work_tree())
            .args(args)
            .output()
            .expect("git");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Run `manage.py shell -c CODE` and return what it printed.
    pub fn shell(&self, code: &str) -> String {
        let out = Command::new(&self.python)
            .arg("manage.py")
            .args(["shell", "-c", code])
            .current_dir(self.root.join("site"))
            .output()
            .expect("manage.py shell");
        // Django 5.2's shell announces the models it imported; that is not the answer.
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.contains("imported automatically"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The migrations applied to the database, as `app.name`.
    pub fn applied_migrations(&self) -> Vec<String> {
        let text = self.shell(
            "from django.db.migrations.recorder import MigrationRecorder\nfor m in MigrationRecorder.Migration.objects.filter(app='notes').order_by('name'): print(m.app + '.' + m.name)",
        );
        text.lines().map(str::to_string).collect()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One GET of `/` on 127.0.0.1:port.
pub fn get(port: u16) -> Option<(u16, String)> {
    get_path(port, "/")
}

/// One GET of `path` on 127.0.0.1:port: (status, body).
pub fn get_path(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes())
        .ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    let status = reply.split_whitespace().nth(1)?.parse().ok()?;
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}
