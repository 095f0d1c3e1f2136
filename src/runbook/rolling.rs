//! Rolling blocks: consecutive steps with one `rolling` label, run batch
//! by batch of hosts, stopping once too many hosts failed.

use std::ops::Range;

use super::plan::{HostCount, Plan};

impl HostCount {
    /// How many of `total` hosts this is; a percentage rounds down.
    pub fn of(self, total: usize) -> usize {
        match self {
            HostCount::Hosts(n) => usize::try_from(n).unwrap_or(usize::MAX),
            HostCount::Percent(p) => total * usize::from(p) / 100,
        }
    }
}

impl std::fmt::Display for HostCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostCount::Hosts(n) => write!(f, "{n}"),
            // As written in the runbook, where a percentage is a string.
            HostCount::Percent(p) => write!(f, "\"{p}%\""),
        }
    }
}

/// What a rolling block of steps allows, as its steps set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RollingLimits {
    /// Hosts at once (`batch`); one when unset.
    pub batch: Option<HostCount>,
    /// Failed hosts tolerated (`max_fail`); when unset, a failure is handled
    /// by its step's `on_failure` as anywhere else.
    pub max_fail: Option<HostCount>,
}

impl RollingLimits {
    /// Hosts at once among `total`: at least one.
    pub fn batch_size(&self, total: usize) -> usize {
        self.batch.map_or(1, |b| b.of(total)).max(1)
    }

    /// Failed hosts tolerated among `total`, when `max_fail` is set.
    pub fn tolerated(&self, total: usize) -> Option<usize> {
        self.max_fail.map(|m| m.of(total))
    }
}

impl Plan {
    /// The steps of the rolling block that starts at `first`, if it is one.
    pub fn rolling_block(&self, first: usize) -> Option<Range<usize>> {
        let label = self.steps.get(first)?.rolling.as_ref()?;
        let len = self.steps[first..]
            .iter()
            .take_while(|s| s.rolling.as_ref() == Some(label))
            .count();
        Some(first..first + len)
    }

    /// `batch` and `max_fail` of a block: loading has checked that its
    /// steps that set them agree.
    pub fn rolling_limits(&self, block: Range<usize>) -> RollingLimits {
        let steps = &self.steps[block];
        RollingLimits {
            batch: steps.iter().find_map(|s| s.batch),
            max_fail: steps.iter().find_map(|s| s.max_fail),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_down_and_a_batch_is_at_least_one_host() {
        assert_eq!(HostCount::Percent(25).of(6), 1);
        assert_eq!(HostCount::Percent(50).of(6), 3);
        assert_eq!(HostCount::Percent(100).of(6), 6);
        assert_eq!(HostCount::Hosts(2).of(6), 2);
        let small = RollingLimits {
            batch: Some(HostCount::Percent(10)),
            max_fail: Some(HostCount::Percent(10)),
        };
        assert_eq!(small.batch_size(6), 1);
        assert_eq!(small.tolerated(6), Some(0));
        assert_eq!(RollingLimits::default().batch_size(6), 1);
        assert_eq!(RollingLimits::default().tolerated(6), None);
    }
}
