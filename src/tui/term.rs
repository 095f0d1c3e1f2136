//! Entering and leaving the full-screen terminal. The guard restores the
//! terminal when dropped (normal exit, error, unwinding), and the panic hook
//! restores it before the panic message is printed, so the message is readable.

use std::io::{Stdout, Write, stdout};
use std::sync::Once;

use crossterm::cursor::{Hide, Show};
use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub type Term = Terminal<CrosstermBackend<FrameWriter<Stdout>>>;

/// Holds a frame's bytes until ratatui flushes, then hands the terminal the
/// whole frame in one write, inside a synchronized update (mode 2026), so no
/// terminal shows half of one frame over the last. Terminals without the mode
/// ignore it.
pub struct FrameWriter<W: Write> {
    frame: Vec<u8>,
    out: W,
}

const BEGIN_SYNCHRONIZED_UPDATE: &[u8] = b"\x1b[?2026h";
const END_SYNCHRONIZED_UPDATE: &[u8] = b"\x1b[?2026l";

impl<W: Write> FrameWriter<W> {
    fn new(out: W) -> Self {
        let mut frame = Vec::with_capacity(64 * 1024);
        frame.extend_from_slice(BEGIN_SYNCHRONIZED_UPDATE);
        Self { frame, out }
    }
}

impl<W: Write> Write for FrameWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.frame.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.frame.len() > BEGIN_SYNCHRONIZED_UPDATE.len() {
            self.frame.extend_from_slice(END_SYNCHRONIZED_UPDATE);
            let written = self.out.write_all(&self.frame);
            self.frame.truncate(BEGIN_SYNCHRONIZED_UPDATE.len());
            written?;
        }
        self.out.flush()
    }
}

pub struct TerminalGuard {
    pub terminal: Term,
}

/// Put the terminal back as we found it. Safe to call more than once.
pub fn restore() {
    let _ = disable_raw_mode();
    let mut out = stdout();
    let _ = execute!(out, DisableBracketedPaste, LeaveAlternateScreen, Show);
    let _ = out.flush();
}

fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

impl TerminalGuard {
    pub fn enter() -> std::io::Result<Self> {
        install_panic_hook();
        enable_raw_mode()?;
        let mut out = stdout();
        if let Err(e) = execute!(out, EnterAlternateScreen, EnableBracketedPaste, Hide) {
            restore();
            return Err(e);
        }
        match Terminal::new(CrosstermBackend::new(FrameWriter::new(out))) {
            Ok(terminal) => Ok(Self { terminal }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts the writes it is given, as a terminal would receive them.
    #[derive(Default)]
    struct Writes(Vec<Vec<u8>>);

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_frame_reaches_the_terminal_in_one_synchronized_write() {
        let mut writer = FrameWriter::new(Writes::default());
        writer.write_all(b"\x1b[1;1Hleft").unwrap();
        writer.write_all(b"\x1b[1;40Hright").unwrap();
        assert!(writer.out.0.is_empty(), "nothing before the flush");
        writer.flush().unwrap();
        writer.flush().unwrap();
        writer.write_all(b"next").unwrap();
        writer.flush().unwrap();
        assert_eq!(
            writer.out.0,
            vec![
                b"\x1b[?2026h\x1b[1;1Hleft\x1b[1;40Hright\x1b[?2026l".to_vec(),
                b"\x1b[?2026hnext\x1b[?2026l".to_vec(),
            ]
        );
    }
}
