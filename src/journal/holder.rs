//! Whether a run's drydock is still writing its journal (`watch`): the
//! writer holds an advisory lock (`flock`) on the file while it lives, and
//! the kernel lets go of it when the process ends, however it ends (a crash,
//! SIGKILL). No pid to check, and none that a later process could reuse.

use std::fs::File;
use std::path::Path;
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// The writer's hold on its journal, let go when dropped.
pub(super) struct Held {
    _lock: Flock<File>,
}

/// A watcher testing the lock holds it for an instant: try again a few times.
const TRIES: u32 = 20;
const PAUSE: Duration = Duration::from_millis(5);

/// Hold `path` for as long as the returned value lives. `None` when it
/// cannot be held: the run goes on, it only looks finished to a watcher.
pub(super) fn hold(path: &Path) -> Option<Held> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            tracing::debug!(journal = %path.display(), error = %e, "journal not held");
            return None;
        }
    };
    for _ in 0..TRIES {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Some(Held { _lock: lock }),
            Err((f, Errno::EWOULDBLOCK)) => {
                file = f;
                std::thread::sleep(PAUSE);
            }
            Err((_, e)) => {
                tracing::debug!(journal = %path.display(), error = %e, "journal not held");
                return None;
            }
        }
    }
    tracing::debug!(journal = %path.display(), "journal held by another process");
    None
}

/// Whether a live process writes the journal at `path` (it holds it).
pub fn writer_alive(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        // Dropping the shared lock lets go of it at once.
        Ok(_) => false,
        Err((_, e)) => e == Errno::EWOULDBLOCK,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_journal_has_a_live_writer_until_it_is_let_go() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("r.jsonl");
        std::fs::write(&path, "").expect("write");
        assert!(!writer_alive(&path), "nobody holds it yet");
        let held = hold(&path).expect("held");
        assert!(writer_alive(&path));
        assert!(writer_alive(&path), "asking does not take it away");
        drop(held);
        assert!(!writer_alive(&path));
        assert!(!writer_alive(&dir.path().join("gone.jsonl")));
    }
}
