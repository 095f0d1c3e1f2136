//! What headless mode reads: the gate answers on standard input, one a
//! line and only while a question is open; secrets (a key's passphrase, the
//! sudo password) on the terminal without echo; or the sudo password from a
//! file.

use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::remote::{Prompter, SudoAnswer, SudoQuestion};

/// Headless mode's answers to the transport: a key's passphrase and a sudo
/// password are read from the terminal without echo (standard input carries
/// the gate answers); an unknown host key is refused, as `strict` requires
/// when nobody can look at it.
pub struct TerminalPrompter;

/// Read a secret on the controlling terminal without echo; `None` when there
/// is no terminal or nothing was typed.
async fn read_secret(prompt: String) -> Result<Option<String>, std::io::Error> {
    tokio::task::spawn_blocking(move || rpassword::prompt_password(prompt))
        .await
        .map_err(std::io::Error::other)?
        .map(|p| Some(p).filter(|p| !p.is_empty()))
}

#[async_trait::async_trait]
impl Prompter for TerminalPrompter {
    async fn ask(&self, question: crate::remote::Question) -> Option<String> {
        match question {
            crate::remote::Question::Passphrase { host, key_path } => {
                let prompt = crate::sanitize::line(&format!(
                    "drydock: passphrase for {key_path} (host {host}): "
                ))
                .into_owned();
                read_secret(prompt).await.ok().flatten()
            }
            crate::remote::Question::TrustHostKey { .. } => None,
        }
    }

    async fn sudo_password(&self, question: SudoQuestion) -> Result<SudoAnswer, String> {
        let again = if question.attempt > 1 {
            " (sudo refused the last one)"
        } else {
            ""
        };
        let prompt = crate::sanitize::line(&format!(
            "drydock: sudo password for {} on {}{again}: ",
            question.user, question.host
        ))
        .into_owned();
        match read_secret(prompt).await {
            Ok(Some(password)) => Ok(SudoAnswer {
                password,
                every_host: false,
            }),
            Ok(None) => Err("none was typed".into()),
            Err(e) => {
                tracing::debug!(error = %e, "no terminal for the sudo password");
                Err("there is no terminal to ask for it; give it with --sudo-password-file FILE or $DRYDOCK_SUDO_PASSWORD_FILE".into())
            }
        }
    }
}

/// The sudo password given in a file: the answer for every host, without
/// asking; every other question goes to the front end's own prompter.
pub struct SudoPasswordFile {
    pub password: String,
    pub inner: Arc<dyn Prompter>,
}

impl SudoPasswordFile {
    /// The password in `path`: its first line.
    pub fn read(path: &Path, inner: Arc<dyn Prompter>) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the sudo password file {}: {e}", path.display()))?;
        let password = text.lines().next().unwrap_or_default().to_string();
        if password.is_empty() {
            return Err(format!(
                "the sudo password file {} is empty; its first line is the password",
                path.display()
            ));
        }
        Ok(Self { password, inner })
    }
}

#[async_trait::async_trait]
impl Prompter for SudoPasswordFile {
    async fn ask(&self, question: crate::remote::Question) -> Option<String> {
        self.inner.ask(question).await
    }

    async fn sudo_password(&self, _question: SudoQuestion) -> Result<SudoAnswer, String> {
        Ok(SudoAnswer {
            password: self.password.clone(),
            every_host: true,
        })
    }
}

/// Standard input, one line at a time, read only when an answer is wanted:
/// while no question is open, the terminal is free for the prompts that
/// read a secret from it without echo.
pub(super) struct LineReader {
    want: std::sync::mpsc::Sender<()>,
    lines: mpsc::Receiver<String>,
    /// A line was asked for and has not been taken yet.
    asked: bool,
}

impl LineReader {
    pub(super) fn spawn() -> Self {
        let (want, wanted) = std::sync::mpsc::channel::<()>();
        let (tx, lines) = mpsc::channel(1);
        std::thread::spawn(move || {
            let stdin = std::io::stdin();
            let mut stdin = stdin.lock();
            while wanted.recv().is_ok() {
                let mut line = String::new();
                match stdin.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = line.trim_end_matches(['\n', '\r']).to_string();
                        if tx.blocking_send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Self {
            want,
            lines,
            asked: false,
        }
    }

    /// The next line; `None` at the end of input. Cancel-safe: dropped
    /// while it waits (an event came first), the line asked for is the one
    /// the next call takes, and no other line is read meanwhile.
    pub(super) async fn next(&mut self) -> Option<String> {
        if !self.asked {
            self.want.send(()).ok()?;
            self.asked = true;
        }
        let line = self.lines.recv().await;
        self.asked = false;
        line
    }
}
