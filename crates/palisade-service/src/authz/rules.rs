//! The access rules of the configuration file (`[access_control]`): parsed once at start
//! into a form that cannot be misread, then asked which rule decides a request.
//!
//! Rules are tried in order; the first whose domain, resources, methods and networks all
//! match the request and whose subject (if any) matches the user decides. A rule with a
//! subject cannot be judged for someone not logged in: the answer is "log in first".
//! Nothing matched: `default_policy`, which is `deny` unless set.
//!
//! `resources` match the normalized path alone, so a query string cannot step a request
//! past a restrictive rule (`/admin?x=1` is `/admin`); `query`, for the rare rule that
//! needs it, matches the query.

use http::Method;
use ipnet::IpNet;
use regex::Regex;

use super::target::{PathParameters, PathReading, Target};

mod compile;
mod shadow;

use compile::compile_rule;
pub(crate) use compile::compile_subjects;

pub use super::settings::{AccessControl, OneOrMany, RuleConfig};
use crate::sessions::Credential;

/// What a rule (or the default) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Policy {
    /// Anyone, logged in or not.
    Bypass,
    /// Anyone logged in.
    Authenticated,
    /// Anyone logged in with a second factor (a session begun with one; not an API token).
    TwoFactor,
    /// Nobody.
    Deny,
}

impl Policy {
    fn name(self) -> &'static str {
        match self {
            Self::Bypass => "bypass",
            Self::Authenticated => "authenticated",
            Self::TwoFactor => "two_factor",
            Self::Deny => "deny",
        }
    }

    pub(crate) fn parse(name: &str, field: &str) -> Result<Self, String> {
        match name {
            "bypass" => Ok(Self::Bypass),
            "authenticated" => Ok(Self::Authenticated),
            "deny" => Ok(Self::Deny),
            "two_factor" => Ok(Self::TwoFactor),
            other => Err(format!(
                "{field}: {other:?} is not a policy (bypass, authenticated, two_factor or deny)"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DomainPattern {
    Exact(String),
    /// `*.example.com`, kept as `.example.com`.
    Under(String),
}

impl DomainPattern {
    fn parse(pattern: &str, field: &str) -> Result<Self, String> {
        let lower = pattern.to_ascii_lowercase();
        let (under, host) = match lower.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, lower.as_str()),
        };
        if !super::target::is_hostname(host) {
            return Err(format!(
                "{field}: {pattern:?} is not a host name or *.host name (letters, digits, '-' and '.'; no port)"
            ));
        }
        Ok(if under {
            Self::Under(format!(".{host}"))
        } else {
            Self::Exact(host.to_owned())
        })
    }

    fn matches(&self, host: &str) -> bool {
        match self {
            Self::Exact(exact) => host == exact,
            Self::Under(suffix) => host.len() > suffix.len() && host.ends_with(suffix.as_str()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Subject {
    User(String),
    Group(String),
}

#[derive(Debug)]
struct Rule {
    domains: Vec<DomainPattern>,
    resources: Vec<Regex>,
    /// The patterns as written (to tell when one rule covers another's).
    resource_text: Vec<String>,
    query: Vec<Regex>,
    methods: Vec<Method>,
    networks: Vec<IpNet>,
    subjects: Vec<Subject>,
    policy: Policy,
}

/// Who is asking: a logged-in user's name and groups.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Identity<'a> {
    pub(crate) username: &'a str,
    pub(crate) groups: &'a [String],
    pub(crate) credential: Credential,
    /// Whether the user proved their address (matters under `require_verified_email`).
    pub(crate) email_verified: bool,
}

/// What the proxy is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Allow,
    /// Not logged in, and a login might change the answer.
    LogIn,
    Deny,
}

/// The outcome, which rule gave it (`None`: the default policy) and, for operators, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decision {
    pub(crate) outcome: Outcome,
    pub(crate) rule: Option<usize>,
    /// The deciding policy; `None`: a rule names subjects and nobody is logged in.
    policy: Option<Policy>,
}

impl Decision {
    /// Why, in words (written only when asked: the endpoints never ask).
    pub(crate) fn why(&self) -> String {
        let by = match self.rule {
            Some(i) => format!("rule {i}"),
            None => "default_policy".to_owned(),
        };
        match (self.policy, self.outcome) {
            (None, _) => format!("{by} matches the request and names subjects: log in first"),
            (Some(Policy::Bypass), _) => format!("{by}: bypass"),
            (Some(Policy::Authenticated), Outcome::Allow) => format!("{by}: authenticated"),
            (Some(Policy::Authenticated), Outcome::LogIn) => {
                format!("{by}: authenticated, and nobody is logged in")
            }
            (Some(Policy::Authenticated), _) => {
                format!(
                    "{by}: authenticated, and require_second_factor: this session has none (or require_verified_email: its user's address is not confirmed)"
                )
            }
            (Some(Policy::TwoFactor), Outcome::Allow) => format!("{by}: two_factor"),
            (Some(Policy::TwoFactor), Outcome::LogIn) => {
                format!("{by}: two_factor, and nobody is logged in")
            }
            (Some(Policy::TwoFactor), Outcome::Deny) => {
                format!("{by}: two_factor, and the credential has no second factor")
            }
            (Some(Policy::Deny), _) => format!("{by}: deny"),
        }
    }
}

/// The compiled rules.
#[derive(Debug)]
pub(crate) struct AccessRules {
    default: Policy,
    rules: Vec<Rule>,
    reading: PathReading,
    /// Whether any rule names a group (worked out once: every proxied request asks).
    uses_groups: bool,
    /// `require_second_factor`: a session begun without one passes no rule but `bypass`.
    require_second_factor: bool,
    /// `require_verified_email`: a user who has not confirmed their address passes no rule
    /// but `bypass`.
    require_verified_email: bool,
}

/// Group names: what `palisade user group add` accepts, and what `group:` may name.
pub(crate) fn is_group_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
}

impl AccessRules {
    /// Compiles `[access_control]`; an error names the rule and the field.
    pub(crate) fn compile(config: &AccessControl) -> Result<Self, String> {
        let default = match &config.default_policy {
            None => Policy::Deny,
            Some(name) => Policy::parse(name, "access_control.default_policy")?,
        };
        let parameters = match config.path_parameters.as_deref() {
            None | Some("refuse") => PathParameters::Refuse,
            Some("strip") => PathParameters::Strip,
            Some("keep") => PathParameters::Keep,
            Some(other) => {
                return Err(format!(
                    "access_control.path_parameters: {other:?} is not refuse, strip or keep"
                ));
            }
        };
        let reading = PathReading {
            parameters,
            strip_trailing_dots_and_spaces: config.strip_trailing_dots_and_spaces,
        };
        let rules = config
            .rules
            .iter()
            .enumerate()
            .map(|(i, rule)| {
                compile_rule(
                    rule,
                    &format!("access_control.rules[{i}]"),
                    config.case_insensitive_paths,
                )
            })
            .collect::<Result<Vec<Rule>, _>>()?;
        let uses_groups = rules
            .iter()
            .any(|r| r.subjects.iter().any(|s| matches!(s, Subject::Group(_))));
        Ok(Self {
            default,
            rules,
            reading,
            uses_groups,
            require_second_factor: false,
            require_verified_email: false,
        })
    }

    /// Under `require_verified_email`: a user whose address is not confirmed passes no
    /// rule but `bypass`.
    pub(crate) fn requiring_verified_email(self, required: bool) -> Self {
        Self {
            require_verified_email: required,
            ..self
        }
    }

    /// Under `require_second_factor`: a session begun with the password alone passes no
    /// rule but `bypass` (its user must add a second factor first).
    pub(crate) fn requiring_second_factor(self, required: bool) -> Self {
        Self {
            require_second_factor: required,
            ..self
        }
    }

    /// Which rule decides `target` for `who` (`None`: not logged in), and why.
    pub(crate) fn decide(&self, target: &Target, who: Option<Identity<'_>>) -> Decision {
        for (i, rule) in self.rules.iter().enumerate() {
            if let Some(miss) = rule.request_miss(target) {
                tracing::trace!(rule = i, miss, "access rule does not match");
                continue;
            }
            if !rule.subjects.is_empty() {
                match who {
                    None => {
                        return Decision {
                            outcome: Outcome::LogIn,
                            rule: Some(i),
                            policy: None,
                        };
                    }
                    Some(who) if !rule.subject_matches(who) => continue,
                    Some(_) => {}
                }
            }
            return self.decision(rule.policy, who, Some(i));
        }
        self.decision(self.default, who, None)
    }

    /// How the apps read paths (to describe requests as the rules must see them).
    pub(crate) fn reading(&self) -> &PathReading {
        &self.reading
    }

    /// Whether any rule names a group (else a user's groups need not be read).
    pub(crate) fn uses_groups(&self) -> bool {
        self.uses_groups
    }

    fn decision(&self, policy: Policy, who: Option<Identity<'_>>, rule: Option<usize>) -> Decision {
        Decision {
            outcome: policy_outcome(
                policy,
                who,
                self.require_second_factor,
                self.require_verified_email,
            ),
            rule,
            policy: Some(policy),
        }
    }
}

/// What `policy` gives `who` (`None`: not logged in), under the site's requirements: the
/// one place a policy is applied (forward-auth rules and OpenID clients alike).
pub(crate) fn policy_outcome(
    policy: Policy,
    who: Option<Identity<'_>>,
    require_second_factor: bool,
    require_verified_email: bool,
) -> Outcome {
    let with_second_factor =
        |who: Identity<'_>| who.credential == Credential::SessionWithSecondFactor;
    let enrolment_due = |who: Identity<'_>| {
        (require_second_factor && who.credential == Credential::Session)
            || (require_verified_email && !who.email_verified)
    };
    match (policy, who) {
        (Policy::Bypass, _) => Outcome::Allow,
        (Policy::Authenticated | Policy::TwoFactor, None) => Outcome::LogIn,
        (Policy::Authenticated, Some(who)) if !enrolment_due(who) => Outcome::Allow,
        (Policy::TwoFactor, Some(who)) if with_second_factor(who) && !enrolment_due(who) => {
            Outcome::Allow
        }
        (Policy::Authenticated | Policy::TwoFactor, Some(_)) | (Policy::Deny, _) => Outcome::Deny,
    }
}

/// Whether `who` is one of `subjects`.
pub(crate) fn subjects_match(subjects: &[Subject], who: Identity<'_>) -> bool {
    subjects.iter().any(|s| match s {
        Subject::User(name) => name == who.username,
        Subject::Group(group) => who.groups.iter().any(|g| g == group),
    })
}

impl Rule {
    /// The first of the request's attributes this rule does not match, if any.
    fn request_miss(&self, t: &Target) -> Option<&'static str> {
        if !self.domains.iter().any(|d| d.matches(&t.host)) {
            return Some("domain");
        }
        if !self.resources.is_empty() && !self.resources.iter().any(|r| r.is_match(&t.path)) {
            return Some("resources");
        }
        if !self.query.is_empty() {
            let query = t.query.as_deref().unwrap_or("");
            if !self.query.iter().any(|q| q.is_match(query)) {
                return Some("query");
            }
        }
        if !self.methods.is_empty() && !self.methods.contains(&t.method) {
            return Some("methods");
        }
        if !self.networks.is_empty() && !self.networks.iter().any(|n| n.contains(&t.client)) {
            return Some("networks");
        }
        None
    }

    fn subject_matches(&self, who: Identity<'_>) -> bool {
        subjects_match(&self.subjects, who)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(toml_rules: &str) -> Result<AccessRules, String> {
        let config: AccessControl = toml::from_str(toml_rules).map_err(|e| e.to_string())?;
        AccessRules::compile(&config)
    }

    fn target(method: &str, url: &str, from: &str) -> Target {
        Target::from_url(
            method,
            url,
            from.parse().unwrap(),
            &PathReading {
                parameters: PathParameters::Keep,
                ..PathReading::default()
            },
        )
        .unwrap()
    }

    fn outcome(
        rules: &AccessRules,
        url: &str,
        who: Option<(&str, &[&str])>,
    ) -> (Outcome, Option<usize>) {
        let groups: Vec<String> = who
            .map(|(_, g)| g.iter().map(|g| g.to_string()).collect())
            .unwrap_or_default();
        let who = who.map(|(username, _)| Identity {
            username,
            groups: &groups,
            credential: Credential::Session,
            email_verified: true,
        });
        let d = rules.decide(&target("GET", url, "192.0.2.7"), who);
        (d.outcome, d.rule)
    }

    const RULES: &str = r#"
        [[rules]]
        domain = "app.example.com"
        resources = ["/public/.*", "/health"]
        policy = "bypass"

        [[rules]]
        domain = ["app.example.com", "*.internal.example.com"]
        resources = ["/admin(/.*)?"]
        subject = ["group:admins", "user:root"]
        policy = "authenticated"

        [[rules]]
        domain = "app.example.com"
        resources = ["/admin(/.*)?"]
        policy = "deny"

        [[rules]]
        domain = "*.internal.example.com"
        networks = ["10.0.0.0/8"]
        policy = "bypass"

        [[rules]]
        domain = ["app.example.com", "*.internal.example.com"]
        methods = ["GET", "HEAD"]
        policy = "authenticated"
    "#;

    #[test]
    fn the_first_matching_rule_decides_and_nothing_matched_is_denied() {
        let r = rules(RULES).unwrap();
        let alice = Some(("alice", &[][..]));
        let admin = Some(("bob", &["admins"][..]));
        let https = "https://app.example.com";
        assert_eq!(
            outcome(&r, &format!("{https}/public/a.css"), None),
            (Outcome::Allow, Some(0))
        );
        assert_eq!(
            outcome(&r, &format!("{https}/health"), None),
            (Outcome::Allow, Some(0))
        );
        // Anchored: the whole path and query must match.
        assert_eq!(
            outcome(&r, &format!("{https}/healthz"), None),
            (Outcome::LogIn, Some(4))
        );
        assert_eq!(
            outcome(&r, &format!("{https}/x?r=/public/a"), None),
            (Outcome::LogIn, Some(4))
        );
        assert_eq!(
            outcome(&r, &format!("{https}/public/../admin"), admin),
            (Outcome::Allow, Some(1))
        );
        // A subject rule cannot be judged for nobody: log in first.
        assert_eq!(
            outcome(&r, &format!("{https}/admin"), None),
            (Outcome::LogIn, Some(1))
        );
        // Not in the subject: the next rule (deny).
        assert_eq!(
            outcome(&r, &format!("{https}/admin/users"), alice),
            (Outcome::Deny, Some(2))
        );
        assert_eq!(
            outcome(&r, &format!("{https}/admin"), Some(("root", &[][..]))),
            (Outcome::Allow, Some(1))
        );
        assert_eq!(
            outcome(&r, &format!("{https}/page"), alice),
            (Outcome::Allow, Some(4))
        );
        // Wildcards cover hosts under the domain, not the domain itself, nor look-alikes.
        assert_eq!(
            outcome(&r, "https://a.b.internal.example.com/x", alice),
            (Outcome::Allow, Some(4))
        );
        assert_eq!(
            outcome(&r, "https://internal.example.com/x", alice),
            (Outcome::Deny, None)
        );
        assert_eq!(
            outcome(&r, "https://evilinternal.example.com/x", alice),
            (Outcome::Deny, None)
        );
        assert_eq!(
            outcome(&r, "https://app.example.com.evil.net/x", alice),
            (Outcome::Deny, None)
        );
        assert_eq!(
            outcome(&r, "https://other.example.com/", alice),
            (Outcome::Deny, None)
        );
    }

    #[test]
    fn methods_and_networks_narrow_a_rule() {
        let r = rules(RULES).unwrap();
        let alice = Identity {
            username: "alice",
            groups: &[],
            credential: Credential::Session,
            email_verified: true,
        };
        let post = r.decide(
            &target("POST", "https://app.example.com/page", "192.0.2.7"),
            Some(alice),
        );
        assert_eq!((post.outcome, post.rule), (Outcome::Deny, None));
        let inside = r.decide(
            &target("POST", "https://db.internal.example.com/", "10.1.2.3"),
            None,
        );
        assert_eq!((inside.outcome, inside.rule), (Outcome::Allow, Some(3)));
        let outside = r.decide(
            &target("POST", "https://db.internal.example.com/", "11.1.2.3"),
            None,
        );
        assert_eq!((outside.outcome, outside.rule), (Outcome::Deny, None));
    }

    /// `two_factor` lets through only a session begun with a second factor (not a password
    /// session, not an API token); `require_second_factor` makes `authenticated` refuse a
    /// password session too, but not a token, and leaves `bypass` alone.
    #[test]
    fn two_factor_and_require_second_factor() {
        let text = r#"
            [[rules]]
            domain = "app.example.com"
            resources = ["/public/.*"]
            policy = "bypass"
            [[rules]]
            domain = "admin.example.com"
            policy = "two_factor"
            [[rules]]
            domain = "app.example.com"
            policy = "authenticated"
        "#;
        let ask = |rules: &AccessRules, url: &str, credential: Option<Credential>| {
            let who = credential.map(|credential| Identity {
                username: "alice",
                groups: &[],
                credential,
                email_verified: true,
            });
            rules.decide(&target("GET", url, "192.0.2.7"), who).outcome
        };
        use Credential::{ApiToken, Session, SessionWithSecondFactor};
        let admin = "https://admin.example.com/";
        let app = "https://app.example.com/";
        let public = "https://app.example.com/public/x";
        for required in [false, true] {
            let r = rules(text).unwrap().requiring_second_factor(required);
            assert_eq!(ask(&r, admin, None), Outcome::LogIn);
            assert_eq!(ask(&r, admin, Some(Session)), Outcome::Deny);
            assert_eq!(ask(&r, admin, Some(ApiToken)), Outcome::Deny);
            assert_eq!(
                ask(&r, admin, Some(SessionWithSecondFactor)),
                Outcome::Allow
            );
            assert_eq!(ask(&r, app, Some(SessionWithSecondFactor)), Outcome::Allow);
            assert_eq!(ask(&r, app, Some(ApiToken)), Outcome::Allow);
            assert_eq!(ask(&r, public, None), Outcome::Allow);
            let password_only = if required {
                Outcome::Deny
            } else {
                Outcome::Allow
            };
            assert_eq!(
                ask(&r, app, Some(Session)),
                password_only,
                "required: {required}"
            );
        }
    }

    #[test]
    fn the_default_policy_is_deny_unless_set() {
        let none = rules("").unwrap();
        assert_eq!(
            outcome(&none, "https://a.example.com/", Some(("alice", &[][..]))),
            (Outcome::Deny, None)
        );
        let open = rules(r#"default_policy = "authenticated""#).unwrap();
        assert_eq!(
            outcome(&open, "https://a.example.com/", None),
            (Outcome::LogIn, None)
        );
        assert_eq!(
            outcome(&open, "https://a.example.com/", Some(("alice", &[][..]))),
            (Outcome::Allow, None)
        );
    }

    #[test]
    fn a_rule_that_cannot_be_read_is_named_with_its_field() {
        for (text, message) in [
            (
                r#"default_policy = "allow""#,
                "access_control.default_policy: \"allow\" is not a policy",
            ),
            (
                "[[rules]]\ndomain = \"a.example.com\"\npolicy = \"2fa\"",
                "access_control.rules[0].policy: \"2fa\" is not a policy",
            ),
            (
                "[[rules]]\ndomain = []\npolicy = \"deny\"",
                "access_control.rules[0].domain: give at least one host",
            ),
            (
                "[[rules]]\ndomain = \"a.example.com:443\"\npolicy = \"deny\"",
                "access_control.rules[0].domain[0]",
            ),
            (
                "[[rules]]\ndomain = \"*\"\npolicy = \"deny\"",
                "access_control.rules[0].domain[0]",
            ),
            (
                "[[rules]]\ndomain = \"a.example.com\"\nresources = [\"(\"]\npolicy = \"deny\"",
                "access_control.rules[0].resources[0]: not a regular expression",
            ),
            (
                "[[rules]]\ndomain = \"a.example.com\"\nmethods = [\"GE T\"]\npolicy = \"deny\"",
                "access_control.rules[0].methods[0]",
            ),
            (
                "[[rules]]\ndomain = \"a.example.com\"\nnetworks = [\"10.0.0.0/33\"]\npolicy = \"deny\"",
                "access_control.rules[0].networks[0]",
            ),
            (
                "[[rules]]\ndomain = \"a.example.com\"\nsubject = \"admins\"\npolicy = \"deny\"",
                "access_control.rules[0].subject[0]",
            ),
            (
                "[[rules]]\ndomain = \"a.example.com\"\nsubject = \"group:Admins!\"\npolicy = \"deny\"",
                "access_control.rules[0].subject[0]",
            ),
            (
                "[[rules]]\ndomain = \"a.example.com\"\npolicy = \"deny\"\n[[rules]]\ndomain = \"b.example.com\"\npolicy = \"nope\"",
                "access_control.rules[1].policy",
            ),
        ] {
            let error = rules(text).map(|_| ()).unwrap_err();
            assert!(error.starts_with(message), "{text}: {error}");
        }
        assert!(
            rules("[[rules]]\ndomain = \"a.example.com\"\npolicy = \"deny\"\ncolour = \"red\"")
                .is_err()
        );
    }

    /// The attack: `resources = ["/admin(/.*)?"]` once matched the path and query, so
    /// `/admin?x=1` missed the restrictive rules and fell to an app-wide allow.
    #[test]
    fn a_query_string_does_not_step_past_a_restrictive_rule() {
        let r = rules(RULES).unwrap();
        let alice = Some(("alice", &[][..]));
        for url in [
            "https://app.example.com/admin?x=1",
            "https://app.example.com/admin/?",
            "https://app.example.com/admin/users?a=b&c=/public/x",
        ] {
            assert_eq!(outcome(&r, url, alice), (Outcome::Deny, Some(2)), "{url}");
        }
        // A bypass on a path is not widened by a query either.
        assert_eq!(
            outcome(&r, "https://app.example.com/health?x=1", None),
            (Outcome::Allow, Some(0))
        );
        let with_query = rules(
            "[[rules]]\ndomain = \"a.example.com\"\nresources = [\"/export\"]\nquery = [\"(.*&)?format=csv(&.*)?\"]\npolicy = \"deny\"\n[[rules]]\ndomain = \"a.example.com\"\npolicy = \"bypass\"",
        )
        .unwrap();
        assert_eq!(
            outcome(
                &with_query,
                "https://a.example.com/export?x=1&format=csv",
                None
            ),
            (Outcome::Deny, Some(0))
        );
        assert_eq!(
            outcome(
                &with_query,
                "https://a.example.com/export?format=json",
                None
            ),
            (Outcome::Allow, Some(1))
        );
        assert_eq!(
            outcome(&with_query, "https://a.example.com/export", None),
            (Outcome::Allow, Some(1))
        );
        // A resource written with its query would match nothing now: refused, not ignored.
        let error = rules(
            "[[rules]]\ndomain = \"a.example.com\"\nresources = [\"/export\\\\?format=csv\"]\npolicy = \"deny\"",
        )
        .map(|_| ())
        .unwrap_err();
        assert!(error.contains("access_control.rules[0].query"), "{error}");
    }

    #[test]
    fn case_insensitive_paths_for_apps_that_ignore_case() {
        let text = "[[rules]]\ndomain = \"a.example.com\"\nresources = [\"/admin(/.*)?\"]\npolicy = \"deny\"\n[[rules]]\ndomain = \"a.example.com\"\npolicy = \"bypass\"";
        let exact = rules(text).unwrap();
        assert_eq!(
            outcome(&exact, "https://a.example.com/ADMIN", None),
            (Outcome::Allow, Some(1))
        );
        let ignoring = rules(&format!("case_insensitive_paths = true\n{text}")).unwrap();
        for url in [
            "https://a.example.com/ADMIN",
            "https://a.example.com/Admin/x",
        ] {
            assert_eq!(
                outcome(&ignoring, url, None),
                (Outcome::Deny, Some(0)),
                "{url}"
            );
        }
        assert!(rules(&format!("path_parameters = \"drop\"\n{text}")).is_err());
    }

    /// A subject rule followed by a broader allow: non-members skip the first and are let
    /// in by the second. Warned about, naming both; not when a deny stands between.
    #[test]
    fn a_subject_rule_shadowed_by_a_broader_allow_is_warned_about() {
        let shadowed = rules(
            r#"
            [[rules]]
            domain = "app.example.com"
            resources = ["/admin(/.*)?"]
            subject = "group:admins"
            policy = "authenticated"
            [[rules]]
            domain = "*.example.com"
            policy = "authenticated"
        "#,
        )
        .unwrap();
        let warnings = shadowed.warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("access_control.rules[0]")
                && warnings[0].contains("access_control.rules[1]"),
            "{warnings:?}"
        );
        assert_eq!(
            outcome(
                &shadowed,
                "https://app.example.com/admin",
                Some(("eve", &[][..]))
            ),
            (Outcome::Allow, Some(1)),
            "the warning describes what really happens"
        );
        // The safe form (RULES: a deny for the same resources right after) is not warned.
        assert_eq!(rules(RULES).unwrap().warnings(), Vec::<String>::new());
        // Falling to a permissive default policy is the same mistake.
        let by_default = rules(
            "default_policy = \"bypass\"\n[[rules]]\ndomain = \"a.example.com\"\nsubject = \"user:root\"\npolicy = \"authenticated\"",
        )
        .unwrap();
        assert!(by_default.warnings()[0].contains("default_policy"));
        // A later rule for other resources does not cover the subject rule.
        let narrower = rules(
            "[[rules]]\ndomain = \"a.example.com\"\nresources = [\"/admin\"]\nsubject = \"user:root\"\npolicy = \"authenticated\"\n[[rules]]\ndomain = \"a.example.com\"\nresources = [\"/public\"]\npolicy = \"bypass\"",
        )
        .unwrap();
        assert_eq!(narrower.warnings(), Vec::<String>::new());
    }

    #[test]
    fn groups_are_read_only_when_a_rule_names_one() {
        assert!(rules(RULES).unwrap().uses_groups());
        let users_only =
            "[[rules]]\ndomain = \"a.example.com\"\nsubject = \"user:alice\"\npolicy = \"bypass\"";
        assert!(!rules(users_only).unwrap().uses_groups());
    }
}
