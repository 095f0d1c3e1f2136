//! Hosts in the order people count them: `h2` before `h10`, `web-9` before
//! `web-10`. The runbook's table comes sorted as text (h1, h10, h100, h11);
//! every list the TUI shows goes in this order instead.

use std::cmp::Ordering;

use crate::engine::{Prompt, PromptKind};
use crate::runbook::Plan;

/// The runs of a name: digits together, everything else together.
fn runs(name: &str) -> impl Iterator<Item = &str> {
    let mut rest = name;
    std::iter::from_fn(move || {
        let first = rest.chars().next()?;
        let digits = first.is_ascii_digit();
        let end = rest
            .find(|c: char| c.is_ascii_digit() != digits)
            .unwrap_or(rest.len());
        let (run, tail) = rest.split_at(end);
        rest = tail;
        Some(run)
    })
}

/// Two runs of digits by their value, however long (no overflow).
fn cmp_number(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Compare two names, runs of digits by their value: `h2` < `h10` < `h100`.
/// Names equal that way (`h01`, `h1`) fall back to plain text order, so the
/// order is total.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let mut left = runs(a);
    let mut right = runs(b);
    loop {
        let order = match (left.next(), right.next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let numbers = x.starts_with(|c: char| c.is_ascii_digit())
                    && y.starts_with(|c: char| c.is_ascii_digit());
                if numbers { cmp_number(x, y) } else { x.cmp(y) }
            }
        };
        if order != Ordering::Equal {
            return order;
        }
    }
}

/// The indices of `names` in natural order.
pub fn natural_order<'n>(names: impl IntoIterator<Item = &'n str>) -> Vec<usize> {
    let names: Vec<&str> = names.into_iter().collect();
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|&a, &b| natural_cmp(names[a], names[b]));
    order
}

/// A run's hosts in natural order: all of them, and each step's.
#[derive(Debug, Clone, Default)]
pub struct HostOrder {
    /// Every host of the plan.
    all: Vec<usize>,
    /// Each host's place in `all`.
    rank: Vec<usize>,
    /// Each step's hosts.
    steps: Vec<Vec<usize>>,
}

impl HostOrder {
    pub fn new(plan: &Plan) -> Self {
        let all = natural_order(plan.hosts.iter().map(|h| h.name.as_str()));
        let mut rank = vec![0; all.len()];
        for (place, &host) in all.iter().enumerate() {
            rank[host] = place;
        }
        let mut order = Self {
            all,
            rank,
            steps: Vec::new(),
        };
        order.steps = plan
            .steps
            .iter()
            .map(|s| order.sorted(s.hosts.iter().copied()))
            .collect();
        order
    }

    /// Every host of the plan.
    pub fn all(&self) -> &[usize] {
        &self.all
    }

    /// The hosts `step` runs on.
    pub fn step(&self, step: usize) -> &[usize] {
        self.steps.get(step).map_or(&[], Vec::as_slice)
    }

    /// Where `host` comes in natural order.
    fn rank(&self, host: usize) -> usize {
        self.rank.get(host).copied().unwrap_or(usize::MAX)
    }

    /// Put every list of hosts in `prompt` in natural order, once, as it
    /// arrives (the engine goes in the runbook's order).
    pub fn sort_prompt(&self, prompt: &mut Prompt) {
        prompt.hosts.sort_by_key(|&h| self.rank(h));
        prompt.commands.sort_by_key(|(h, _)| self.rank(*h));
        prompt.previews.sort_by_key(|p| self.rank(p.host));
        prompt.banner.sort_by_key(|b| self.rank(b.host));
        if let PromptKind::Failure { failures, .. } = &mut prompt.kind {
            failures.sort_by_key(|f| self.rank(f.host));
        }
    }

    /// `hosts` (indices into the plan) in natural order.
    pub fn sorted(&self, hosts: impl IntoIterator<Item = usize>) -> Vec<usize> {
        let mut hosts: Vec<usize> = hosts.into_iter().collect();
        hosts.sort_by_key(|&h| self.rank(h));
        hosts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(names: &[&str]) -> Vec<String> {
        natural_order(names.iter().copied())
            .into_iter()
            .map(|i| names[i].to_string())
            .collect()
    }

    #[test]
    fn numbers_sort_by_value() {
        assert_eq!(
            sorted(&["h1", "h10", "h100", "h11", "h2", "h9"]),
            ["h1", "h2", "h9", "h10", "h11", "h100"]
        );
    }

    #[test]
    fn text_and_several_numbers() {
        assert_eq!(
            sorted(&[
                "web-10",
                "db-2",
                "web-9",
                "web",
                "web-9b",
                "rack2-h10",
                "rack2-h9",
                "rack10-h1"
            ]),
            [
                "db-2",
                "rack2-h9",
                "rack2-h10",
                "rack10-h1",
                "web",
                "web-9",
                "web-9b",
                "web-10"
            ]
        );
    }

    #[test]
    fn leading_zeros_and_long_numbers_are_ordered_and_total() {
        assert_eq!(
            sorted(&[
                "h01",
                "h1",
                "h001",
                "h2",
                "h99999999999999999999999",
                "h100000000000000000000000"
            ]),
            [
                "h001",
                "h01",
                "h1",
                "h2",
                "h99999999999999999999999",
                "h100000000000000000000000"
            ]
        );
        assert_eq!(natural_cmp("h1", "h1"), Ordering::Equal);
        assert_eq!(natural_cmp("", "h"), Ordering::Less);
    }
}
