//! A step's `sudo` key, and the warning for commands that call `sudo`
//! themselves: drydock cannot answer a password prompt it did not set up, so
//! such a step hangs or fails where sudo asks for a password.

use super::Loader;
use super::read::Read;
use crate::runbook::plan::{Plan, RunVars, Sudo};
use crate::runbook::schema::{StepSection, SudoSetting, Text};
use crate::runbook::template::Template;

/// Whether the command calls sudo as written, or once its variables are
/// filled in for one of `hosts` (`run = "{{server_stop}}"`).
fn command_calls_sudo(text: &Text, plan: &Plan, hosts: &[usize]) -> bool {
    let source = text.get_ref();
    if calls_sudo(source) {
        return true;
    }
    let Ok(template) = Template::parse(source, source, 0) else {
        return false;
    };
    let run = RunVars {
        run_id: Some("run".into()),
        starts_at: Some("later".into()),
        ..RunVars::default()
    };
    hosts
        .iter()
        .filter_map(|&h| plan.render(&template, h, &run).ok())
        .any(|command| calls_sudo(&command))
}

impl Loader<'_> {
    pub(super) fn sudo(
        &mut self,
        read: &Read<StepSection>,
        plan: &Plan,
        hosts: &[usize],
    ) -> Option<Sudo> {
        let s = &read.value;
        let id = s.id.get_ref();
        let sudo = match s.sudo.as_ref() {
            None => None,
            Some(setting) => match setting.get_ref() {
                SudoSetting::Root(false) => None,
                SudoSetting::Root(true) => Some(Sudo::Root),
                SudoSetting::User(user) if user.trim().is_empty() => {
                    self.error(
                        setting.span(),
                        "sudo's user cannot be empty; write sudo = true for root, or a user name",
                    );
                    None
                }
                SudoSetting::User(user) => Some(Sudo::User(user.clone())),
            },
        };
        if let (Some(setting), Some(_)) = (&s.sudo, &sudo)
            && s.run.is_none()
            && s.undo.is_none()
            && !read.refused("run")
        {
            self.error(
                    setting.span(),
                    format!(
                        "step '{id}' has sudo but no command for it: sudo runs a step's run and undo commands"
                    ),
                );
        }
        for (key, text) in [("run", &s.run), ("undo", &s.undo)] {
            let Some(text) = text else { continue };
            if command_calls_sudo(text, plan, hosts) {
                let advice = if sudo.is_some() {
                    "leave sudo out of the command: sudo = ... on the step already runs it through sudo"
                } else {
                    "set sudo = true (or sudo = \"USER\") on the step and leave sudo out of the command, so that drydock can answer sudo's password prompt"
                };
                self.warnings.push(super::Diagnostic::new(
                    text.span(),
                    format!(
                        "warning: the {key} command of step '{id}' calls sudo itself; {advice}"
                    ),
                ));
            }
        }
        sudo
    }
}

/// Words after which the next word is a command again.
const LEADING_WORDS: &[&str] = &[
    "then", "do", "else", "elif", "if", "while", "until", "!", "exec", "time", "nohup", "command",
    "env", "xargs",
];

/// Whether the shell command line runs `sudo` as a command of its own (at
/// the start, after `;`, `&&`, `|`, `(`, `$(`, a newline, `then`...), not
/// where it is only a word (`echo sudo`, `grep sudo`).
pub(super) fn calls_sudo(command: &str) -> bool {
    let mut at_command = true;
    let mut chars = command.chars().peekable();
    while let Some(&c) = chars.peek() {
        if matches!(c, ';' | '&' | '|' | '(' | ')' | '{' | '}' | '`' | '\n') {
            at_command = true;
            chars.next();
            continue;
        }
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() || matches!(c, ';' | '&' | '|' | '(' | ')' | '`' | '\n') {
                break;
            }
            chars.next();
            if c == '\'' || c == '"' {
                // A quoted part belongs to the word, whatever it holds.
                word.push(c);
                for q in chars.by_ref() {
                    word.push(q);
                    if q == c {
                        break;
                    }
                }
                continue;
            }
            word.push(c);
        }
        if !at_command {
            continue;
        }
        if word == "sudo" {
            return true;
        }
        let assignment = word.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        // `$(` leaves a `$` word before the parenthesis.
        at_command = assignment || word == "$" || LEADING_WORDS.contains(&word.as_str());
    }
    false
}

#[cfg(test)]
mod tests {
    use super::calls_sudo;

    #[test]
    fn sudo_as_a_command_is_found_and_as_a_word_is_not() {
        for yes in [
            "sudo apachectl stop",
            "cd /srv && sudo -u www-data git pull",
            "true; sudo reboot",
            "x=$(sudo cat /etc/shadow)",
            "if true; then sudo systemctl restart nginx; fi",
            "LANG=C sudo ls",
            "echo hi | sudo tee /etc/motd",
            "env sudo id",
            "a\n  sudo b",
        ] {
            assert!(calls_sudo(yes), "{yes}");
        }
        for no in [
            "echo sudo",
            "grep sudo /var/log/auth.log",
            "apt-get install 'sudo'",
            "echo 'a; sudo b'",
            "pseudo x",
            "sudoedit /etc/hosts",
        ] {
            assert!(!calls_sudo(no), "{no}");
        }
    }
}
