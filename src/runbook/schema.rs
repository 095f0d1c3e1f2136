//! The runbook file as written: serde types that refuse unknown keys and keep
//! the source span of every value that validation may need to point at.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;

pub type Text = Spanned<String>;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunbookSection {
    #[schemars(with = "String")]
    pub name: Text,
    pub description: Option<String>,
    #[schemars(with = "Option<String>")]
    pub lock: Option<Text>,
    #[schemars(with = "Option<String>")]
    pub theme: Option<Text>,
    /// More secret variables, by name, besides those whose names say so.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub secrets: Vec<Text>,
}

pub type VarsSection = BTreeMap<Text, Text>;

/// `[env]`, a host's `env` or a step's: names and (templated) values.
pub type EnvSection = BTreeMap<Text, Text>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HostKeyPolicy {
    Strict,
    AcceptNew,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TransportKind {
    Ssh,
    Local,
}

/// Connection settings shared by `[ssh]` and each `[hosts.NAME]`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SshSection {
    #[schemars(with = "Option<String>")]
    pub user: Option<Text>,
    #[schemars(with = "Option<u16>")]
    pub port: Option<Spanned<u16>>,
    #[schemars(with = "Option<String>")]
    pub identity: Option<Text>,
    #[schemars(with = "Option<String>")]
    pub known_hosts: Option<Text>,
    #[schemars(with = "Option<HostKeyPolicy>")]
    pub host_keys: Option<Spanned<HostKeyPolicy>>,
    #[schemars(with = "Option<String>")]
    pub connect_timeout: Option<Text>,
    #[schemars(with = "Option<String>")]
    pub jump: Option<Text>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostSection {
    #[schemars(with = "Option<String>")]
    pub address: Option<Text>,
    #[schemars(with = "Option<TransportKind>")]
    pub transport: Option<Spanned<TransportKind>>,
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub roles: Vec<Text>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub vars: VarsSection,
    /// Exported for every command on this host (over [env], under a step's env).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub env: EnvSection,
    #[schemars(with = "Option<String>")]
    pub user: Option<Text>,
    #[schemars(with = "Option<u16>")]
    pub port: Option<Spanned<u16>>,
    #[schemars(with = "Option<String>")]
    pub identity: Option<Text>,
    #[schemars(with = "Option<String>")]
    pub known_hosts: Option<Text>,
    #[schemars(with = "Option<HostKeyPolicy>")]
    pub host_keys: Option<Spanned<HostKeyPolicy>>,
    #[schemars(with = "Option<String>")]
    pub connect_timeout: Option<Text>,
    #[schemars(with = "Option<String>")]
    pub jump: Option<Text>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    #[schemars(with = "String")]
    pub host: Text,
    #[schemars(with = "String")]
    pub path: Text,
    #[serde(default)]
    pub highlight: Vec<String>,
}

/// `[notify]`: a command run on this machine at the run's moments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifySection {
    #[schemars(with = "String")]
    pub command: Text,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BannerSection {
    #[schemars(with = "Option<Vec<String>>")]
    pub hosts: Option<Vec<Text>>,
    #[schemars(with = "String")]
    pub path: Text,
    #[schemars(with = "String")]
    pub message: Text,
    #[schemars(with = "Option<String>")]
    pub content: Option<Text>,
    #[schemars(with = "Option<String>")]
    pub lead: Option<Text>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum BannerSwitch {
    On,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OnFailure {
    #[default]
    Pause,
    Abort,
    Continue,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardSection {
    #[schemars(with = "Option<String>")]
    pub file_absent: Option<Text>,
    #[schemars(with = "Option<String>")]
    pub file_present: Option<Text>,
    #[schemars(with = "Option<String>")]
    pub command: Option<Text>,
    #[schemars(with = "Option<String>")]
    pub http: Option<Text>,
    #[schemars(with = "Option<u16>")]
    pub status: Option<Spanned<u16>>,
    #[schemars(with = "Option<String>")]
    pub contains: Option<Text>,
    #[schemars(with = "Option<String>")]
    pub via: Option<Text>,
    #[schemars(with = "Option<String>")]
    pub poll: Option<Text>,
    #[schemars(with = "Option<String>")]
    pub check_timeout: Option<Text>,
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Text>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    #[schemars(with = "String")]
    pub url: Text,
    #[schemars(with = "Option<u16>")]
    pub status: Option<Spanned<u16>>,
    #[schemars(with = "Option<String>")]
    pub contains: Option<Text>,
    #[schemars(with = "Option<String>")]
    pub via: Option<Text>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepSection {
    #[schemars(with = "String")]
    pub id: Text,
    #[schemars(with = "String")]
    pub title: Text,
    #[schemars(with = "Option<String>")]
    pub notes: Option<Text>,
    #[schemars(with = "Option<Vec<String>>")]
    pub hosts: Option<Vec<Text>>,

    #[schemars(with = "Option<String>")]
    pub run: Option<Text>,
    #[schemars(with = "Option<GuardSection>")]
    pub guard: Option<Spanned<GuardSection>>,
    #[schemars(with = "Option<BannerSwitch>")]
    pub banner: Option<Spanned<BannerSwitch>>,
    #[schemars(with = "Option<String>")]
    pub wait: Option<Text>,
    #[schemars(with = "Option<String>")]
    pub manual: Option<Text>,
    #[schemars(with = "Option<HttpSection>")]
    pub http: Option<Spanned<HttpSection>>,

    pub confirm: Option<bool>,
    #[schemars(with = "Option<String>")]
    pub preview: Option<Text>,
    #[schemars(with = "Option<String>")]
    pub when: Option<Text>,
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Text>,
    #[schemars(with = "Option<u32>")]
    pub retries: Option<Spanned<u32>>,
    #[schemars(with = "Option<OnFailure>")]
    pub on_failure: Option<Spanned<OnFailure>>,
    #[schemars(with = "Option<String>")]
    pub undo: Option<Text>,
    pub always: Option<bool>,
    #[schemars(with = "Option<String>")]
    pub rolling: Option<Text>,
    /// Rolling blocks: hosts at once, a number or a percentage like "25%" (default 1).
    #[schemars(with = "Option<HostCount>")]
    pub batch: Option<Spanned<HostCount>>,
    /// Rolling blocks: failed hosts tolerated, a number or a percentage like
    /// "10%"; past it the failure is handled by on_failure (default 0).
    #[schemars(with = "Option<HostCount>")]
    pub max_fail: Option<Spanned<HostCount>>,
    pub pty: Option<bool>,
    #[schemars(with = "Option<SudoSetting>")]
    pub sudo: Option<Spanned<SudoSetting>>,
    #[schemars(with = "Option<String>")]
    pub capture: Option<Text>,
    /// Exported for this step's commands (over the host's env and [env]).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
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

impl schemars::JsonSchema for HostCount {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "HostCount".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A number of hosts, or a percentage of the block's hosts like \"25%\".",
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": "^(100|[1-9]?[0-9])%$" }
            ]
        })
    }
}

/// `sudo = true`: the step's command (and its undo) runs as root through
/// sudo; `sudo = "USER"`: as that user; `false`: as the login user.
#[derive(Debug, Clone, PartialEq, Eq, schemars::JsonSchema)]
#[serde(untagged)]
pub enum SudoSetting {
    Root(bool),
    User(String),
}

/// By hand rather than `untagged`, so that a wrong value gets a message
/// that says what is expected.
impl<'de> Deserialize<'de> for SudoSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SudoVisitor;

        impl Visitor<'_> for SudoVisitor {
            type Value = SudoSetting;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("true, false or a user name in quotes")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<SudoSetting, E> {
                Ok(SudoSetting::Root(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SudoSetting, E> {
                Ok(SudoSetting::User(v.to_string()))
            }
        }
        deserializer.deserialize_any(SudoVisitor)
    }
}
