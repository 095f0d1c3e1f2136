//! The runbook file as written: serde types that refuse unknown keys and keep
//! the source span of every value that validation may need to point at.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;

pub type Text = Spanned<String>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunbookSection {
    pub name: Text,
    pub description: Option<String>,
    pub lock: Option<Text>,
    pub theme: Option<Text>,
}

pub type VarsSection = BTreeMap<Text, Text>;

/// `[env]`, a host's `env` or a step's: names and (templated) values.
pub type EnvSection = BTreeMap<Text, Text>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostKeyPolicy {
    Strict,
    AcceptNew,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransportKind {
    Ssh,
    Local,
}

/// Connection settings shared by `[ssh]` and each `[hosts.NAME]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshSection {
    pub user: Option<Text>,
    pub port: Option<Spanned<u16>>,
    pub identity: Option<Text>,
    pub known_hosts: Option<Text>,
    pub host_keys: Option<Spanned<HostKeyPolicy>>,
    pub connect_timeout: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSection {
    pub address: Option<Text>,
    pub transport: Option<Spanned<TransportKind>>,
    #[serde(default)]
    pub roles: Vec<Text>,
    #[serde(default)]
    pub vars: VarsSection,
    #[serde(default)]
    pub env: EnvSection,
    pub user: Option<Text>,
    pub port: Option<Spanned<u16>>,
    pub identity: Option<Text>,
    pub known_hosts: Option<Text>,
    pub host_keys: Option<Spanned<HostKeyPolicy>>,
    pub connect_timeout: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    pub host: Text,
    pub path: Text,
    #[serde(default)]
    pub highlight: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BannerSection {
    pub hosts: Option<Vec<Text>>,
    pub path: Text,
    pub message: Text,
    pub content: Option<Text>,
    pub lead: Option<Text>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BannerSwitch {
    On,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnFailure {
    #[default]
    Pause,
    Abort,
    Continue,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardSection {
    pub file_absent: Option<Text>,
    pub file_present: Option<Text>,
    pub command: Option<Text>,
    pub http: Option<Text>,
    pub status: Option<Spanned<u16>>,
    pub contains: Option<Text>,
    pub via: Option<Text>,
    pub poll: Option<Text>,
    pub timeout: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    pub url: Text,
    pub status: Option<Spanned<u16>>,
    pub contains: Option<Text>,
    pub via: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSection {
    pub id: Text,
    pub title: Text,
    pub notes: Option<Text>,
    pub hosts: Option<Vec<Text>>,

    pub run: Option<Text>,
    pub guard: Option<Spanned<GuardSection>>,
    pub banner: Option<Spanned<BannerSwitch>>,
    pub wait: Option<Text>,
    pub manual: Option<Text>,
    pub http: Option<Spanned<HttpSection>>,

    pub confirm: Option<bool>,
    pub preview: Option<Text>,
    pub when: Option<Text>,
    pub timeout: Option<Text>,
    pub retries: Option<Spanned<u32>>,
    pub on_failure: Option<Spanned<OnFailure>>,
    pub undo: Option<Text>,
    pub always: Option<bool>,
    pub rolling: Option<Text>,
    pub batch: Option<Spanned<HostCount>>,
    pub max_fail: Option<Spanned<HostCount>>,
    pub pty: Option<bool>,
    #[serde(default)]
    pub env: EnvSection,
}

/// How many of a rolling block's hosts: `batch = 2`, `max_fail = "10%"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostCount {
    Hosts(u32),
    /// Of the block's hosts, 0 to 100.
    Percent(u8),
}

impl<'de> Deserialize<'de> for HostCount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CountVisitor;

        impl Visitor<'_> for CountVisitor {
            type Value = HostCount;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number of hosts, or a percentage of them like \"25%\"")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<HostCount, E> {
                u32::try_from(v).map(HostCount::Hosts).map_err(|_| {
                    E::custom(format!(
                        "'{v}' is not a number of hosts; write a whole number from 0, or a percentage like \"25%\""
                    ))
                })
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<HostCount, E> {
                i64::try_from(v).map_or_else(
                    |_| Err(E::custom(format!("'{v}' is too many hosts"))),
                    |v| self.visit_i64(v),
                )
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<HostCount, E> {
                let percent = v
                    .strip_suffix('%')
                    .and_then(|n| n.parse::<u8>().ok())
                    .filter(|p| *p <= 100);
                percent.map(HostCount::Percent).ok_or_else(|| {
                    E::custom(format!(
                        "'{v}' is not a percentage; write one from \"0%\" to \"100%\", or a number of hosts without quotes"
                    ))
                })
            }
        }

        deserializer.deserialize_any(CountVisitor)
    }
}
