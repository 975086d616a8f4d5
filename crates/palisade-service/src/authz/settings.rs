//! `[access_control]` as written in the configuration file: plain data, read by serde and
//! compiled by `rules` into a form that cannot be misread.

use serde::{Deserialize, Serialize};

/// `[access_control]` as written in the configuration file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessControl {
    /// What a request no rule matches gets: `deny` (the default), `authenticated` or `bypass`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_policy: Option<String>,
    /// The rules, first match wins.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
    /// `;` path parameters: `refuse` (the default: such a request is refused), `strip`
    /// (dropped before matching, as Tomcat and Spring read them) or `keep`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_parameters: Option<String>,
    /// Match `resources` without regard to case, for apps that ignore it (IIS, some
    /// Spring setups): `/ADMIN` is then `/admin` to the rules.
    #[serde(default)]
    pub case_insensitive_paths: bool,
    /// Drop each path segment's trailing dots and spaces before matching, as IIS does
    /// (`/admin.` and `/admin%20` are `/admin` there).
    #[serde(default)]
    pub strip_trailing_dots_and_spaces: bool,
}

/// One `[[access_control.rules]]` entry as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Hosts: `app.example.com`, or `*.example.com` for every host under it (not itself).
    pub domain: OneOrMany,
    /// Regular expressions, each matched against the whole normalized path (never the
    /// query: `/admin?x=1` is `/admin`).
    #[serde(default)]
    pub resources: Vec<String>,
    /// Regular expressions, each matched against the whole query (without `?`; empty when
    /// there is none); any when not given.
    #[serde(default)]
    pub query: Vec<String>,
    /// HTTP methods (any when empty).
    #[serde(default)]
    pub methods: Vec<String>,
    /// Client networks (CIDR or a bare address; any when empty).
    #[serde(default)]
    pub networks: Vec<String>,
    /// `user:NAME` or `group:NAME`, any of them (anyone when empty).
    #[serde(default)]
    pub subject: OneOrMany,
    /// `bypass`, `authenticated` or `deny`.
    pub policy: String,
}

/// A setting given as one string or a list of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One value.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl Default for OneOrMany {
    fn default() -> Self {
        Self::Many(Vec::new())
    }
}

impl OneOrMany {
    pub(crate) fn values(&self) -> &[String] {
        match self {
            Self::One(one) => std::slice::from_ref(one),
            Self::Many(many) => many,
        }
    }
}
