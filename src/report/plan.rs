//! The plan a replay or a watch shows a run with: its runbook when it is
//! still the one the run used, else a checklist made of the steps and hosts
//! the journal names (titled by their ids, in the order they first appear).

use std::path::Path;

use super::ReportError;
use super::build::runbook_now;
use crate::journal::{Follower, Line, Record};
use crate::runbook::Plan;

/// Why the checklist is made of the journal's steps, not the runbook's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoRunbook {
    /// Edited since the run started (its sha256 differs).
    Changed,
    Gone,
    /// Unchanged, but it does not load without the run's `--var` values.
    DoesNotLoad,
}

/// A run's plan, and why it is not its runbook's when it is not.
pub struct RunPlan {
    pub plan: Plan,
    pub no_runbook: Option<NoRunbook>,
}

/// The steps and hosts a journal names, in the order they first appear.
#[derive(Debug, Default)]
struct Named {
    name: String,
    hosts: Vec<String>,
    steps: Vec<NamedStep>,
}

#[derive(Debug)]
struct NamedStep {
    id: String,
    hosts: Vec<String>,
    guard: bool,
    gated: bool,
}

impl Named {
    fn step(&mut self, id: &str) -> &mut NamedStep {
        let at = match self.steps.iter().position(|s| s.id == id) {
            Some(i) => i,
            None => {
                self.steps.push(NamedStep {
                    id: id.to_string(),
                    hosts: Vec::new(),
                    guard: false,
                    gated: false,
                });
                self.steps.len() - 1
            }
        };
        &mut self.steps[at]
    }

    fn host(&mut self, name: &str) {
        if !self.hosts.iter().any(|h| h == name) {
            self.hosts.push(name.to_string());
        }
    }

    fn step_on(&mut self, id: &str, host: &str) {
        self.host(host);
        let step = self.step(id);
        if !step.hosts.iter().any(|h| h == host) {
            step.hosts.push(host.to_string());
        }
    }

    fn take(&mut self, line: &Line) {
        match &line.record {
            Record::RunStarted { hosts, .. } => hosts.iter().for_each(|h| self.host(h)),
            Record::GuardPoll { step, host, .. } => {
                self.step_on(step, host);
                self.step(step).guard = true;
            }
            Record::Gate {
                step: Some(step), ..
            } => self.step(step).gated = true,
            Record::StepStarted { step, host, .. }
            | Record::Output { step, host, .. }
            | Record::StepFinished { step, host, .. }
            | Record::Preview { step, host, .. }
            | Record::Condition { step, host, .. }
            | Record::Input { step, host, .. }
            | Record::Sudo { step, host, .. }
            | Record::Process { step, host, .. }
            | Record::Capture { step, host, .. } => self.step_on(step, host),
            _ => {}
        }
    }

    /// A runbook of these steps and hosts, as TOML that the loader takes:
    /// nothing of it runs, it only gives the checklist its rows, in the
    /// journal's order. Names no runbook could have are left out (their
    /// records are not shown).
    fn runbook(&self) -> String {
        use std::fmt::Write as _;
        let quoted = |s: &str| toml::Value::from(s).to_string();
        let valid = |id: &str| crate::runbook::valid_id(id);
        let name = crate::sanitize::line(&self.name).replace("{{", "{ {");
        let mut text = String::new();
        if !self.steps.iter().any(|s| valid(&s.id)) {
            // Nothing has run yet: a runbook needs its (empty) list of steps.
            text.push_str("steps = []\n");
        }
        let _ = writeln!(text, "[runbook]\nname = {}", quoted(&name));
        for host in self.hosts.iter().filter(|h| valid(h)) {
            let _ = writeln!(text, "[hosts.{host}]\ntransport = \"local\"");
        }
        for step in self.steps.iter().filter(|s| valid(&s.id)) {
            let id = quoted(&step.id);
            let _ = writeln!(text, "[[steps]]\nid = {id}\ntitle = {id}");
            let on: Vec<String> = (step.hosts.iter())
                .filter(|h| valid(h))
                .map(|h| quoted(h))
                .collect();
            if !on.is_empty() {
                let _ = writeln!(text, "hosts = [{}]", on.join(", "));
            }
            text.push_str(if step.guard {
                "guard = { command = \"true\" }\n"
            } else {
                "run = \"true\"\n"
            });
            if step.gated {
                text.push_str("confirm = true\n");
            }
        }
        text
    }
}

/// The plan to show the run of the journal at `path` with.
pub fn for_journal(path: &Path) -> Result<RunPlan, ReportError> {
    let not_a_journal = || ReportError::NotAJournal(path.to_path_buf());
    let first = Follower::open(path)?
        .next_line()?
        .ok_or_else(not_a_journal)?;
    let Record::RunStarted {
        runbook,
        runbook_sha256,
        ..
    } = &first.record
    else {
        return Err(not_a_journal());
    };
    let (file, plan) = runbook_now(runbook, runbook_sha256);
    let no_runbook = match (file, plan) {
        (_, Ok(plan)) => {
            return Ok(RunPlan {
                plan,
                no_runbook: None,
            });
        }
        (super::RunbookFile::Changed, Err(_)) => NoRunbook::Changed,
        (super::RunbookFile::Gone, Err(_)) => NoRunbook::Gone,
        (super::RunbookFile::Unchanged, Err(_)) => NoRunbook::DoesNotLoad,
    };
    let mut named = Named {
        name: Path::new(runbook)
            .file_name()
            .map_or_else(|| runbook.clone(), |n| n.to_string_lossy().into_owned()),
        ..Named::default()
    };
    crate::journal::read_each(path, |line| named.take(&line))?;
    let text = named.runbook();
    tracing::debug!(journal = %path.display(), ?no_runbook, "checklist from the journal");
    let plan =
        crate::runbook::load_str(Path::new(runbook), &text, &[]).map_err(|_| not_a_journal())?;
    Ok(RunPlan {
        plan,
        no_runbook: Some(no_runbook),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journal(dir: &Path, runbook: &Path, sha: &str, rest: &[&str]) -> std::path::PathBuf {
        let path = dir.join("r1.jsonl");
        let started = format!(
            r#"{{"ts":"2026-11-22T01:00:00Z","event":"run_started","run_id":"r1","runbook":{},"runbook_sha256":"{sha}","user":"me","hosts":["web","db"]}}"#,
            serde_json::to_string(&runbook.display().to_string()).expect("json")
        );
        let mut text = format!("{started}\n");
        for l in rest {
            text.push_str(l);
            text.push('\n');
        }
        std::fs::write(&path, text).expect("write");
        path
    }

    const RUNBOOK: &str = "[runbook]\nname = \"Real\"\n[hosts.web]\ntransport = \"local\"\n[[steps]]\nid = \"a\"\ntitle = \"Step A\"\nrun = \"true\"\n";

    #[test]
    fn the_runbook_gives_the_plan_while_it_is_the_one_the_run_used() {
        let dir = tempfile::tempdir().expect("temp dir");
        let runbook = dir.path().join("rb.toml");
        std::fs::write(&runbook, RUNBOOK).expect("write");
        let sha = crate::runbook::sha256_hex(RUNBOOK.as_bytes());
        let path = journal(dir.path(), &runbook, &sha, &[]);
        let run = for_journal(&path).expect("a plan");
        assert_eq!(run.no_runbook, None);
        assert_eq!(run.plan.steps[0].title, "Step A");
        std::fs::write(&runbook, format!("{RUNBOOK}# edited\n")).expect("write");
        let run = for_journal(&path).expect("a plan");
        assert_eq!(run.no_runbook, Some(NoRunbook::Changed));
        assert!(run.plan.steps.is_empty(), "no step has run yet");
        assert_eq!(run.plan.hosts.len(), 2);
    }

    #[test]
    fn without_its_runbook_the_journal_names_the_steps_and_hosts() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = journal(
            dir.path(),
            &dir.path().join("gone.toml"),
            "00",
            &[
                r#"{"ts":"t","event":"guard_poll","step":"robot-idle","host":"web","ok":true}"#,
                r#"{"ts":"t","event":"gate","step":"migrate","decision":"run"}"#,
                r#"{"ts":"t","event":"step_started","step":"migrate","host":"db","command":"m {{x}}"}"#,
                r#"{"ts":"t","event":"step_started","step":"Bad Id","host":"db","command":"x"}"#,
                r#"{"ts":"t","event":"step_finished","step":"migrate","host":"db","status":"ok","exit_code":0,"duration_ms":5}"#,
            ],
        );
        let run = for_journal(&path).expect("a plan");
        assert_eq!(run.no_runbook, Some(NoRunbook::Gone));
        let plan = run.plan;
        assert_eq!(plan.name, "gone.toml");
        let ids: Vec<&str> = plan.steps.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["robot-idle", "migrate"], "the invalid id is left out");
        let names: Vec<&str> = plan.hosts.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["db", "web"], "as the loader orders hosts");
        assert!(matches!(
            plan.steps[0].action,
            crate::runbook::Action::Guard(_)
        ));
        assert!(plan.steps[1].confirm);
        assert_eq!(plan.steps[1].hosts, [plan.host_index("db").expect("db")]);
    }

    #[test]
    fn a_file_that_does_not_start_a_run_is_not_a_journal() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("x.jsonl");
        std::fs::write(
            &path,
            "{\"ts\":\"t\",\"event\":\"run_finished\",\"status\":\"ok\",\"exit_code\":0}\n",
        )
        .expect("write");
        assert!(matches!(
            for_journal(&path),
            Err(ReportError::NotAJournal(_))
        ));
    }
}
