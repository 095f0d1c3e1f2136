//! Output that lingers in the journal's buffer reaches the file anyway:
//! someone may be watching the run (`drydock watch`).

use std::sync::Weak;
use std::time::Duration;

use tokio::sync::mpsc;

use super::{CHUNK, ToWriter};

/// How long output lines may wait to be handed to the writer: a watcher
/// must see a line within a second of its printing.
pub(super) const OUTPUT_DELAY: Duration = Duration::from_millis(100);

/// Every [`OUTPUT_DELAY`], hand what the journal holds to the writer, on a
/// thread of its own, until the journal is gone: a command that prints a
/// line and then nothing for an hour has its line on disk at once.
pub(super) fn hand_over_lingering(
    buf: Weak<tokio::sync::Mutex<Vec<u8>>>,
    writer: mpsc::Sender<ToWriter>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("drydock-journal-flush".into())
        .spawn(move || {
            loop {
                std::thread::sleep(OUTPUT_DELAY);
                let Some(buf) = buf.upgrade() else { return };
                // Sent while the lock is held, so that chunks stay in order.
                let mut held = buf.blocking_lock();
                if held.is_empty() {
                    continue;
                }
                let bytes = std::mem::replace(&mut *held, Vec::with_capacity(CHUNK));
                if writer.blocking_send(ToWriter::Bytes(bytes)).is_err() {
                    return;
                }
            }
        })
        .map(|_| ())
}
