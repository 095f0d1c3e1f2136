//! Reading a journal back, line by line.

use std::path::Path;

use super::{Follower, JournalError, Line};

/// Read every parseable line of a journal. A line cut short by a crash is
/// passed over: everything before it still tells the story.
pub fn read(path: &Path) -> Result<Vec<Line>, JournalError> {
    let mut lines = Vec::new();
    read_each(path, |line| lines.push(line))?;
    Ok(lines)
}

/// Hand every parseable line of a journal to `each`, in order, holding one
/// at a time: a journal of millions of output lines is read in little memory.
/// Lines that do not parse (cut short, or an event of a later version) are
/// passed over.
pub fn read_each(path: &Path, mut each: impl FnMut(Line)) -> Result<(), JournalError> {
    let mut follower = Follower::open(path)?;
    while let Some(line) = follower.next_line()? {
        each(line);
    }
    Ok(())
}
