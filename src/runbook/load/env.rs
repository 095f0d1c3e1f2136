//! Environment variables: `[env]`, a host's `env` and a step's, their names
//! checked and their values templated like commands.

use std::collections::BTreeMap;

use super::Loader;
use super::vars::Scope;
use crate::runbook::plan::Plan;
use crate::runbook::schema::EnvSection;
use crate::runbook::template::Template;

/// What a shell takes as a variable name.
fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl<'s> Loader<'s> {
    /// One env table, each value's variables checked on the hosts of `scope`.
    pub(super) fn env(
        &mut self,
        section: &EnvSection,
        plan: &Plan,
        scope: Scope<'_>,
    ) -> BTreeMap<String, Template> {
        let mut env = BTreeMap::new();
        for (name, value) in section {
            if !valid_env_name(name.get_ref()) {
                self.error(
                    name.span(),
                    format!(
                        "'{}' is not a valid environment variable name; use letters, digits and '_', not starting with a digit",
                        name.get_ref()
                    ),
                );
            }
            let template = self.checked_template(value, plan, scope);
            env.insert(name.get_ref().clone(), template);
        }
        env
    }

    /// `[env]` and each host's `env`, once the hosts are known.
    pub(super) fn runbook_and_host_env(&mut self, raw: &super::read::Raw, plan: &mut Plan) {
        let all_hosts: Vec<usize> = (0..plan.hosts.len()).collect();
        plan.env = self.env(&raw.env, plan, Scope::Hosts(&all_hosts));
        for (name, host) in &raw.hosts {
            if let Some(h) = plan.host_index(name.get_ref()) {
                let env = self.env(&host.env, plan, Scope::Hosts(&[h]));
                plan.hosts[h].env = env;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::valid_env_name;

    #[test]
    fn names_are_those_a_shell_takes() {
        assert!(valid_env_name("PYTHONUNBUFFERED"));
        assert!(valid_env_name("_x1"));
        assert!(!valid_env_name("1X"));
        assert!(!valid_env_name("A-B"));
        assert!(!valid_env_name(""));
    }
}
