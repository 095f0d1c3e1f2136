//! The runbook file as written: serde types that refuse unknown keys and keep
//! the source span of every value that validation may need to point at.

use std::collections::BTreeMap;

use serde::Deserialize;
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
    pub pty: Option<bool>,
}
