//! The runbook file as written: serde types that refuse unknown keys and keep
//! the source span of every value that validation may need to point at.

use std::collections::BTreeMap;

use serde::Deserialize;
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
    pub pty: Option<bool>,
    pub capture: Option<Text>,
}
