//! The line-mode front end: one line per event on standard output, gate
//! answers read from standard input, one a line. At the end of input nobody
//! can answer: the engine takes each question as abort, or as leave where
//! abort is not an answer (an `always` step of the rollback).

mod input;
mod print;

use tokio::sync::mpsc;

use crate::engine::{Decision, Event, Prompt, PromptKind, RunHandle, exit};
use crate::runbook::Plan;
use input::LineReader;
pub use input::{SudoPasswordFile, TerminalPrompter};
use print::Printer;

/// How many events are taken from the engine at once.
const EVENT_BATCH: usize = 512;
/// The longest a printed line waits in the buffer.
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(50);

/// Run the front end until the run ends; returns the exit status.
pub async fn drive(plan: &Plan, handle: RunHandle) -> i32 {
    let RunHandle {
        mut events,
        decisions,
        task,
        ..
    } = handle;
    let mut answers = LineReader::spawn();
    // Names and titles as they may be shown: secrets replaced, no controls.
    let plan = crate::engine::shown_plan(plan);
    let mut printer = Printer::new(&plan);
    let on_ctrl_c = decisions.clone();
    let ctrl_c = tokio::spawn(async move {
        // Ctrl-C asks the engine to abort: the running command is ended and
        // the undo steps are offered.
        while tokio::signal::ctrl_c().await.is_ok() {
            if on_ctrl_c.send(Decision::Abort).await.is_err() {
                break;
            }
        }
    });
    // Until standard input ends: then nobody can answer, and the engine is
    // told so by the channel closing.
    let mut decisions = Some(decisions);
    // Output is written in batches: a flush per line would cost a system
    // call per line. Whatever is buffered goes out within FLUSH_EVERY.
    let mut batch = Vec::with_capacity(EVENT_BATCH);
    let mut unflushed_since: Option<tokio::time::Instant> = None;
    'events: loop {
        let deadline = unflushed_since.map(|t| t + FLUSH_EVERY);
        tokio::select! {
            n = events.recv_many(&mut batch, EVENT_BATCH) => if n == 0 { break },
            () = async { if let Some(d) = deadline { tokio::time::sleep_until(d).await } }, if deadline.is_some() => {
                printer.flush();
                unflushed_since = None;
                continue;
            }
        }
        for event in batch.drain(..) {
            printer.event(&event);
            match &event {
                Event::Prompt(prompt) => {
                    printer.flush();
                    unflushed_since = None;
                    let Some(tx) = &decisions else {
                        printer.line("  (no answer: standard input has ended)");
                        continue;
                    };
                    match read_answer(&mut printer, prompt, &mut answers, &mut events).await {
                        Answer::Given(decision) => {
                            if tx.send(decision).await.is_err() {
                                break 'events;
                            }
                        }
                        Answer::EndOfInput => {
                            decisions = None;
                            ctrl_c.abort();
                        }
                        Answer::RunEnded => break 'events,
                    }
                }
                // The run's last event: its commands are left running, so
                // its channel stays open.
                Event::RunInterrupted { .. } => break 'events,
                _ => {}
            }
        }
        if unflushed_since.is_none() {
            unflushed_since = Some(tokio::time::Instant::now());
        }
    }
    printer.flush();
    ctrl_c.abort();
    match task.await {
        Ok(result) => result.exit_code,
        Err(e) => {
            eprintln!("drydock: the run failed inside: {e}");
            exit::FAILED
        }
    }
}

fn letter(decision: Decision) -> &'static str {
    match decision {
        Decision::Run => "y",
        Decision::Skip => "s",
        Decision::Retry => "r",
        Decision::Undo => "u",
        Decision::Abort => "a",
        Decision::Override => "o",
        Decision::BreakLock { .. } => "b",
        Decision::Leave => "s",
        Decision::Wait => "w",
        Decision::Kill => "k",
    }
}

/// Whether `answer` is the letter or the word of some answer (here or to
/// another question).
fn is_answer_word(answer: &str) -> bool {
    const EVERY: [Decision; 10] = [
        Decision::Run,
        Decision::Skip,
        Decision::Retry,
        Decision::Undo,
        Decision::Abort,
        Decision::Override,
        Decision::BreakLock { host: 0 },
        Decision::Leave,
        Decision::Wait,
        Decision::Kill,
    ];
    EVERY
        .iter()
        .any(|d| letter(*d) == answer || d.as_str() == answer)
}

/// What came of a question.
enum Answer {
    Given(Decision),
    /// Standard input ended: nobody can answer any more.
    EndOfInput,
    /// The run ended while it asked (a signal interrupted it).
    RunEnded,
}

async fn read_answer(
    printer: &mut Printer<'_>,
    prompt: &Prompt,
    answers: &mut LineReader,
    events: &mut mpsc::Receiver<Event>,
) -> Answer {
    loop {
        let line = tokio::select! {
            line = answers.next() => line,
            event = events.recv() => {
                let Some(event) = event else {
                    return Answer::RunEnded;
                };
                printer.event(&event);
                printer.flush();
                if matches!(event, Event::RunInterrupted { .. }) {
                    return Answer::RunEnded;
                }
                continue;
            }
        };
        let Some(line) = line else {
            let what = if prompt.choices.contains(&Decision::Abort) {
                "abort"
            } else {
                "leave"
            };
            printer.line(&format!("end of input: {what}"));
            return Answer::EndOfInput;
        };
        let answer = line.trim().to_ascii_lowercase();
        if let Some(d) = prompt
            .choices
            .iter()
            .find(|d| letter(**d) == answer || d.as_str() == answer)
        {
            return Answer::Given(*d);
        }
        let valid: Vec<&str> = prompt.choices.iter().map(|d| letter(*d)).collect();
        // What was read is named only when it is one of the answers' own
        // letters or words: anything else may be a password typed here by
        // mistake, and is not repeated.
        let read = if is_answer_word(&answer) {
            format!("'{}'", answer)
        } else {
            "that".to_string()
        };
        let mut text = format!(
            "{read} is not an answer here; answer one of: {}",
            valid.join(", ")
        );
        if matches!(prompt.kind, PromptKind::Always) {
            text.push_str(" (leaving an always step takes its own answer: s)");
        }
        printer.line(&text);
        printer.flush();
    }
}
