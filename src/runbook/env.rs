//! Environment variables for a step's commands: `[env]`, a host's `env` and
//! a step's `env`, exported at the head of the command line itself. Servers
//! refuse SSH `SendEnv` for all but a few names, so the command carries them.

use std::collections::BTreeMap;

use super::plan::{Plan, RunVars};
use super::template::{RenderError, Template};

impl Plan {
    /// The environment of `step`'s commands on `host`: `[env]`, then the
    /// host's, then the step's, a later one winning for the same name.
    pub fn env_for(&self, step: usize, host: usize) -> BTreeMap<&str, &Template> {
        let layers = [&self.env, &self.hosts[host].env, &self.steps[step].env];
        layers
            .into_iter()
            .flat_map(|layer| layer.iter().map(|(k, v)| (k.as_str(), v)))
            .collect()
    }

    /// A command of `step` (its `run`, `undo`, `preview`, `when` or guard
    /// command) as sent to `host`: `export NAME=VALUE ...; COMMAND`, or the
    /// command alone when there is no environment to set. This is the
    /// command shown, journaled and run.
    pub fn command_line(
        &self,
        step: usize,
        host: usize,
        command: &Template,
        run: &RunVars,
    ) -> Result<String, RenderError> {
        let command = self.render(command, host, run)?;
        let env = self.env_for(step, host);
        if env.is_empty() {
            return Ok(command);
        }
        let mut line = String::from("export");
        for (name, value) in env {
            let value = self.render(value, host, run)?;
            line.push(' ');
            line.push_str(name);
            line.push('=');
            line.push_str(&shell_word(&value));
        }
        line.push_str("; ");
        line.push_str(&command);
        Ok(line)
    }

    /// The values of environment variables with a secret's name, as each
    /// host gets them (those that use run-time variables as written).
    pub(super) fn secret_env_values(&self) -> Vec<String> {
        let all_hosts: Vec<usize> = (0..self.hosts.len()).collect();
        let run = RunVars::default();
        let mut values = Vec::new();
        let mut add = |templates: &BTreeMap<String, Template>, hosts: &[usize]| {
            for (name, template) in templates {
                if !self.is_secret(name) {
                    continue;
                }
                for &h in hosts {
                    match self.render(template, h, &run) {
                        Ok(value) => values.push(value),
                        Err(_) => values.push(template.source().to_string()),
                    }
                }
            }
        };
        add(&self.env, &all_hosts);
        for (h, host) in self.hosts.iter().enumerate() {
            add(&host.env, &[h]);
        }
        for step in &self.steps {
            add(&step.env, &step.hosts);
        }
        values
    }
}

/// `value` as one word of a POSIX shell: as it is when it holds nothing the
/// shell would read, else in single quotes. Nothing in it is expanded.
fn shell_word(value: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if !value.is_empty() && value.chars().all(plain) {
        return value.to_string();
    }
    format!("'{}'", value.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_stay_as_they_are_and_the_rest_is_quoted() {
        assert_eq!(shell_word("1"), "1");
        assert_eq!(
            shell_word("coralnet.settings.production"),
            "coralnet.settings.production"
        );
        assert_eq!(shell_word(""), "''");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("$HOME"), "'$HOME'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }

    #[test]
    fn a_quoted_value_reaches_the_shell_unchanged() {
        let value = "it's $HOME; `x` \"y\" \\ z\nline two";
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("export V={}; printf %s \"$V\"", shell_word(value)))
            .output()
            .expect("sh runs");
        assert_eq!(String::from_utf8_lossy(&out.stdout), value);
    }
}
