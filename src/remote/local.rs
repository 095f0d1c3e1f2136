//! The `local` transport: `sh -c` on this machine.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::{
    BoxedIo, Chunk, ExecRequest, ExitStatus, Stdin, Stream, Transport, TransportError, expand_home,
};

/// How long a cancelled command gets between SIGTERM and SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(3);
/// How long to keep reading output after the command exited, for a background
/// child that inherited the pipes and keeps them open.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);

pub struct LocalTransport {
    name: String,
}

impl LocalTransport {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
        }
    }
}

fn failed(what: &str, path: &str, e: std::io::Error) -> TransportError {
    TransportError::Failed(format!("{what} {path}: {e}"))
}

async fn pump(mut reader: impl AsyncRead + Unpin, stream: Stream, output: mpsc::Sender<Chunk>) {
    let mut buf = vec![0u8; super::MAX_CHUNK];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let chunk = Chunk {
                    stream,
                    data: Bytes::copy_from_slice(&buf[..n]),
                };
                if output.send(chunk).await.is_err() {
                    break;
                }
            }
        }
    }
}

/// Write what comes on `input` to the command's standard input; dropping the
/// pipe at the end (`Stdin::End`, or `input` closed) is its end of input. A
/// command that no longer reads ends the feeding, not the run.
async fn feed(mut stdin: ChildStdin, mut input: mpsc::Receiver<Stdin>) {
    while let Some(Stdin::Data(data)) = input.recv().await {
        if stdin.write_all(&data).await.is_err() || stdin.flush().await.is_err() {
            break;
        }
    }
}

fn signal_group(pgid: u32, signal: Signal) {
    // 0 would be drydock's own group; 1 is no command's.
    if let Ok(pgid) = i32::try_from(pgid).map(Pid::from_raw)
        && pgid.as_raw() > 1
    {
        // The group may be gone already; nothing to do then.
        let _ = killpg(pgid, signal);
    }
}

/// After the SIGTERM: a grace for the command to end, then SIGKILL for the
/// whole group (also for whatever of it ignored the TERM).
async fn kill_after_grace(mut child: Child, pgid: u32) {
    if tokio::time::timeout(TERM_GRACE, child.wait())
        .await
        .is_err()
    {
        signal_group(pgid, Signal::SIGKILL);
        let _ = child.wait().await;
    }
    signal_group(pgid, Signal::SIGKILL);
}

/// A running command and its process group. Dropped before the command
/// finished (the engine drops `exec`'s future on a timeout, a superseded
/// guard poll, an override or an abort), it ends the group as a cancel does:
/// tokio's `kill_on_drop` would end only `sh`, not what it started.
struct RunningGroup {
    child: Option<Child>,
    pgid: u32,
}

impl RunningGroup {
    async fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        match self.child.as_mut() {
            Some(child) => child.wait().await,
            None => Err(std::io::Error::other("the command was already ended")),
        }
    }

    /// The command ended by itself: there is nothing to end.
    fn finished(mut self) {
        self.child = None;
    }

    /// End the group now and wait until it is gone.
    async fn end(mut self) {
        if let Some(child) = self.child.take() {
            signal_group(self.pgid, Signal::SIGTERM);
            kill_after_grace(child, self.pgid).await;
        }
    }
}

impl Drop for RunningGroup {
    fn drop(&mut self) {
        let Some(child) = self.child.take() else {
            return;
        };
        tracing::debug!(
            pgid = self.pgid,
            "local command dropped before it finished; ending its process group"
        );
        signal_group(self.pgid, Signal::SIGTERM);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(kill_after_grace(child, self.pgid));
            }
            // No runtime to wait in, so no grace either.
            Err(_) => signal_group(self.pgid, Signal::SIGKILL),
        }
    }
}

fn exit_status(status: std::process::ExitStatus) -> ExitStatus {
    ExitStatus {
        code: status.code(),
        signal: status.signal().map(|s| {
            Signal::try_from(s)
                .map_or_else(|_| format!("signal {s}"), |sig| sig.as_str().to_string())
        }),
    }
}

#[async_trait]
impl Transport for LocalTransport {
    async fn exec_with_input(
        &self,
        request: ExecRequest,
        input: mpsc::Receiver<Stdin>,
        output: mpsc::Sender<Chunk>,
        cancel: CancellationToken,
        started: Option<oneshot::Sender<u32>>,
    ) -> Result<ExitStatus, TransportError> {
        // There is no pty here: a `pty` command's input is a pipe, which ends
        // when `input` does.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&request.command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                TransportError::Failed(format!("cannot start sh on {}: {e}", self.name))
            })?;
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        // A set, so that it is aborted however this future ends (dropped too).
        let mut feeder = tokio::task::JoinSet::new();
        if let Some(stdin) = child.stdin.take() {
            feeder.spawn(feed(stdin, input));
        }
        let mut group = RunningGroup {
            pgid: child.id().unwrap_or(0),
            child: Some(child),
        };
        // `process_group(0)`: the shell leads a group of its own id.
        if let (Some(started), true) = (started, group.pgid > 0) {
            let _ = started.send(group.pgid);
        }
        let mut readers = tokio::task::JoinSet::new();
        if let Some(out) = stdout {
            readers.spawn(pump(out, Stream::Stdout, output.clone()));
        }
        if let Some(err) = stderr {
            readers.spawn(pump(err, Stream::Stderr, output.clone()));
        }
        drop(output);

        let status = tokio::select! {
            status = group.wait() => status,
            () = cancel.cancelled() => {
                group.end().await;
                readers.abort_all();
                return Err(TransportError::Cancelled);
            }
        };
        // Whatever is still to be typed has no reader any more.
        feeder.abort_all();
        let status = status.map_err(|e| {
            TransportError::Failed(format!("waiting for the command on {}: {e}", self.name))
        })?;
        group.finished();
        let drained = tokio::time::timeout(DRAIN_AFTER_EXIT, async {
            while readers.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            readers.abort_all();
        }
        Ok(exit_status(status))
    }

    async fn exists(&self, path: &str) -> Result<bool, TransportError> {
        tokio::fs::try_exists(expand_home(path))
            .await
            .map_err(|e| failed("cannot check", path, e))
    }

    async fn read_file(&self, path: &str) -> Result<Vec<u8>, TransportError> {
        tokio::fs::read(expand_home(path))
            .await
            .map_err(|e| failed("cannot read", path, e))
    }

    async fn write_atomic(&self, path: &str, data: &[u8]) -> Result<(), TransportError> {
        let target = expand_home(path);
        let mut temp = target.clone().into_os_string();
        temp.push(format!(".drydock-{}.tmp", std::process::id()));
        let temp = PathBuf::from(temp);
        tokio::fs::write(&temp, data)
            .await
            .map_err(|e| failed("cannot write", path, e))?;
        if let Err(e) = tokio::fs::rename(&temp, &target).await {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(failed("cannot write", path, e));
        }
        Ok(())
    }

    async fn remove_file(&self, path: &str) -> Result<(), TransportError> {
        match tokio::fs::remove_file(expand_home(path)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(failed("cannot remove", path, e)),
        }
    }

    async fn create_dir(&self, path: &str) -> Result<bool, TransportError> {
        match tokio::fs::create_dir(expand_home(path)).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(failed("cannot create directory", path, e)),
        }
    }

    async fn remove_dir(&self, path: &str) -> Result<(), TransportError> {
        match tokio::fs::remove_dir(expand_home(path)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(failed("cannot remove directory", path, e)),
        }
    }

    async fn open_tcp(&self, host: &str, port: u16) -> Result<BoxedIo, TransportError> {
        let stream = tokio::net::TcpStream::connect((host, port))
            .await
            .map_err(|e| TransportError::Failed(format!("cannot connect to {host}:{port}: {e}")))?;
        Ok(Box::new(stream))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Processes on this machine whose command line holds `marker`.
    fn processes_with(marker: &str) -> Vec<u32> {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                let pid = e.file_name().to_str()?.parse::<u32>().ok()?;
                let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
                let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                cmdline.contains(marker).then_some(pid)
            })
            .collect()
    }

    /// A dropped command's whole process group ends (tokio's `kill_on_drop`
    /// alone left the children of `sh`), and the transport runs the next.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropped_commands_end_their_process_group() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(1);
        let marker = format!("sleep 1000.{}{nanos}", std::process::id());
        let transport = LocalTransport::new("here");
        for i in 0..200u64 {
            let (tx, _rx) = mpsc::channel(8);
            let request = ExecRequest {
                // `; true` keeps sh waiting for the sleep: the group holds two processes.
                command: format!("{marker}; true"),
                pty: false,
            };
            let exec = transport.exec(request, tx, CancellationToken::new());
            let limit = Duration::from_millis(i % 5);
            let outcome = tokio::time::timeout(limit, exec).await;
            assert!(
                outcome.is_err(),
                "command {i} ended on its own: {outcome:?}"
            );
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let left = processes_with(&marker);
            if left.is_empty() {
                break;
            }
            if std::time::Instant::now() > deadline {
                // Leave nothing running, even when failing.
                for pid in &left {
                    if let Ok(pid) = i32::try_from(*pid) {
                        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
                    }
                }
                panic!("left behind: {left:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (tx, mut rx) = mpsc::channel(8);
        let next = ExecRequest {
            command: "echo next".into(),
            pty: false,
        };
        let status = transport
            .exec(next, tx, CancellationToken::new())
            .await
            .expect("the next command runs");
        assert!(status.success());
        let chunk = rx.recv().await.expect("output");
        assert_eq!(&chunk.data[..], b"next\n");
    }

    /// What is typed reaches the command, and `End` is its end of input.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn typed_input_reaches_the_command_until_its_end() {
        let transport = LocalTransport::new("here");
        let (tx, mut rx) = mpsc::channel(8);
        let (typing, input) = mpsc::channel(8);
        let request = ExecRequest {
            command: "read a; echo got $a; cat; echo end".into(),
            pty: false,
        };
        let exec = transport.exec_with_input(request, input, tx, CancellationToken::new(), None);
        let typist = async move {
            for part in ["y", "es\n", "rest"] {
                let data = Bytes::from(part);
                typing.send(Stdin::Data(data)).await.expect("typed");
            }
            typing.send(Stdin::End).await.expect("ended");
            // The sender stays: only `End` ended the input.
            std::future::pending::<()>().await;
        };
        let status = tokio::select! {
            status = exec => status.expect("the command runs"),
            () = typist => unreachable!(),
        };
        assert!(status.success());
        let mut out = Vec::new();
        while let Ok(chunk) = rx.try_recv() {
            out.extend_from_slice(&chunk.data);
        }
        assert_eq!(String::from_utf8_lossy(&out), "got yes\nrestend\n");
    }
}
