//! A real OpenSSH server for tests: its own host and user keys, config, log
//! and pid file in a temp dir, listening on a free port of 127.0.0.1. It is
//! killed (with every process it started) and reaped on `Drop`.

#![allow(dead_code)]

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SSHD: &str = "/usr/sbin/sshd";

pub struct Sshd {
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub user_key: PathBuf,
    pub host_key_pub: PathBuf,
    pub log: PathBuf,
    config: PathBuf,
    child: Option<Child>,
}

fn keygen(path: &Path, kind: &str) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-N", "", "-C", "drydock-test", "-f"])
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .expect("ssh-keygen runs (install openssh-client)");
    assert!(status.success(), "ssh-keygen failed for {}", path.display());
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

impl Sshd {
    pub fn start() -> Self {
        Self::start_with("")
    }

    /// Start with extra sshd_config lines.
    pub fn start_with(extra_config: &str) -> Self {
        Self::start_configured(extra_config, true)
    }

    /// Start a server that offers no SFTP subsystem (no `Subsystem sftp`).
    pub fn start_without_sftp() -> Self {
        Self::start_configured("", false)
    }

    fn start_configured(extra_config: &str, sftp: bool) -> Self {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: these tests need a real SSH server. Install it: apt-get install -y openssh-server"
        );
        // sshd refuses to start without its privilege separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        let dir = tempfile::tempdir().expect("temp dir");
        let host_key = dir.path().join("ssh_host_ed25519_key");
        let user_key = dir.path().join("user_key");
        keygen(&host_key, "ed25519");
        keygen(&user_key, "ed25519");
        std::fs::copy(
            user_key.with_extension("pub"),
            dir.path().join("authorized_keys"),
        )
        .expect("authorized_keys");
        let log = dir.path().join("sshd.log");
        let config = dir.path().join("sshd_config");
        let port = free_port();
        let d = dir.path().display();
        let subsystem = if sftp {
            "Subsystem sftp internal-sftp\n"
        } else {
            ""
        };
        std::fs::write(
            &config,
            // sshd keeps the first value of a keyword: the extra lines go first.
            format!(
                "{extra_config}\n\
                 Port {port}\n\
                 ListenAddress 127.0.0.1\n\
                 HostKey {d}/ssh_host_ed25519_key\n\
                 PidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\n\
                 StrictModes no\n\
                 UsePAM no\n\
                 PermitRootLogin yes\n\
                 PasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\n\
                 PubkeyAuthentication yes\n\
                 AllowTcpForwarding yes\n\
                 {subsystem}\
                 SetEnv DRYDOCK_TEST_SSHD={d}\n\
                 LogLevel VERBOSE\n"
            ),
        )
        .expect("write sshd_config");
        let mut sshd = Sshd {
            port,
            host_key_pub: host_key.with_extension("pub"),
            user_key,
            log,
            config,
            dir,
            child: None,
        };
        sshd.spawn();
        sshd
    }

    fn spawn(&mut self) {
        let child = Command::new(SSHD)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&self.config)
            .arg("-E")
            .arg(&self.log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sshd");
        self.child = Some(child);
        self.wait_ready();
    }

    /// Start the server again after `kill`, same port and keys.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "sshd exited at start ({status}); its log:\n{}",
                    self.log_text()
                );
            }
            if let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                // Wait for the banner, so the server really serves.
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 4];
                if s.read_exact(&mut buf).is_ok() && &buf == b"SSH-" {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "sshd did not accept within 10 s; its log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Let users other than root log in too: sshd reads the one
    /// `AuthorizedKeysFile` as the user who logs in, so its directory must
    /// let them through and the file let them read. The keys' private
    /// halves stay readable by root alone.
    pub fn let_other_users_in(&self) {
        use std::os::unix::fs::PermissionsExt;
        let open = |path: &Path, mode| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
        };
        open(self.dir.path(), 0o711);
        open(&self.dir.path().join("authorized_keys"), 0o644);
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// TCP connections the server accepted so far (readiness probes included).
    pub fn connections(&self) -> usize {
        self.log_text()
            .lines()
            .filter(|l| l.contains("Connection from"))
            .count()
    }

    /// Logins that succeeded so far.
    pub fn logins(&self) -> usize {
        self.log_text()
            .lines()
            .filter(|l| l.contains("Accepted publickey"))
            .count()
    }

    /// The known_hosts line for this server.
    pub fn known_hosts_line(&self) -> String {
        let public = std::fs::read_to_string(&self.host_key_pub).expect("host key");
        let mut parts = public.split_whitespace();
        let (kt, key) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        format!("[127.0.0.1]:{} {kt} {key}\n", self.port)
    }

    /// `SHA256:...` of the host key, as ssh-keygen prints it.
    pub fn fingerprint(&self) -> String {
        let out = Command::new("ssh-keygen")
            .arg("-lf")
            .arg(&self.host_key_pub)
            .output()
            .expect("ssh-keygen -l");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string()
    }

    /// Kill the server and every process it started (its connections too).
    /// Every process sshd started for the connections it serves (and what
    /// they run), not the listener itself.
    pub fn serving(&self) -> Vec<u32> {
        self.child
            .as_ref()
            .map(|c| super::leftovers::descendants(c.id()))
            .unwrap_or_default()
    }

    /// Cut every connection the server serves, as a network that goes away
    /// would: the processes serving them are killed, what they started (the
    /// commands, in process groups of their own) is left running.
    pub fn drop_connections(&self) {
        let Some(listener) = self.child.as_ref().map(std::process::Child::id) else {
            return;
        };
        let out = std::process::Command::new("pgrep")
            .args(["-P", &listener.to_string()])
            .output()
            .expect("pgrep (procps)");
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            if let Ok(pid) = pid.parse::<i32>() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }

    pub fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let mut pids = super::leftovers::descendants(child.id());
        pids.push(child.id());
        for pid in pids {
            if let Ok(pid) = i32::try_from(pid) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        let _ = child.wait();
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill();
        // Commands run through this server carry DRYDOCK_TEST_SSHD (see the
        // config): one that escaped the kill above has daemonized.
        super::leftovers::assert_none_left(
            &self.dir.path().display().to_string(),
            "the test's sshd",
        );
    }
}
