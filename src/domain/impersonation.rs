//! Who may act as whom on each data platform: integrations, sessions, and the decision rules.

use std::{collections::BTreeSet, sync::Arc};

use super::{Id, MAX_TEXT_CHARS, Timestamp, Version, bounded_text, external::Platform, permission};
use crate::error::{Error, Result};

/// The platform role personae uses for impersonation unless an integration names another.
const DEFAULT_IMPERSONATION_ROLE: &str = "PERSONAE_IMPERSONATION";

/// The longest allowed-impersonator pattern accepted (a regular expression).
const MAX_PATTERN_CHARS: usize = 1024;

/// The most names on an allow list, and groups in a target scope.
const MAX_LIST_ENTRIES: usize = 1000;

/// The longest session id and session reason accepted.
const MAX_SESSION_ID_CHARS: usize = 256;
pub const MAX_SESSION_REASON_CHARS: usize = 1024;

/// The longest a session may last.
pub const MAX_SESSION_TTL: chrono::Duration = chrono::Duration::days(7);

/// The permissions that put their holder out of reach of an actor who lacks them.
const PROTECTED_PERMISSIONS: [&str; 4] = permission::ADMIN;

impl Platform {
    /// PostgreSQL, Teradata and S3 are listed, but impersonation is not supported there.
    pub fn supports_impersonation(self) -> bool {
        !matches!(self, Self::Postgresql | Self::Teradata | Self::S3)
    }
}

/// A Trino integration's allowed-impersonator pattern: a regular expression matched against the
/// whole actor name. The `regex` crate matches in linear time, so a pattern cannot stall checks.
#[derive(Clone, Debug)]
pub struct ImpersonatorPattern {
    text: String,
    /// Shared by every copy, and through [`CompiledPatterns`] by every reading of the same text.
    whole: Arc<regex::Regex>,
}

impl ImpersonatorPattern {
    /// `None` for the empty pattern, which matches nothing.
    pub fn parse(field: &str, text: &str) -> Result<Option<Self>> {
        if text.is_empty() {
            return Ok(None);
        }
        Self::compile(field, text).map(Some)
    }

    fn compile(field: &str, text: &str) -> Result<Self> {
        if text.chars().count() > MAX_PATTERN_CHARS {
            return Err(Error::invalid(
                field,
                format!("is longer than {MAX_PATTERN_CHARS} characters"),
            ));
        }
        let invalid = |e: &dyn std::fmt::Display| {
            Error::invalid(field, format!("is not a valid regular expression: {e}"))
        };
        // The text must parse on its own before it is wrapped: `a)|(.*` is not a pattern, but
        // `^(?:a)|(.*)$` is one, matching every name.
        regex_syntax::Parser::new()
            .parse(text)
            .map_err(|e| invalid(&e))?;
        let whole = regex::RegexBuilder::new(&format!("^(?:{text})$"))
            .size_limit(1 << 20)
            .build()
            .map_err(|e| invalid(&e))?;
        Ok(Self {
            text: text.to_owned(),
            whole: Arc::new(whole),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn matches(&self, name: &str) -> bool {
        self.whole.is_match(name)
    }

    /// Whether both are one compilation: what tells a test that a reader reused it.
    #[cfg(test)]
    pub(crate) fn is_compiled_once_with(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.whole, &other.whole)
    }
}

/// How many patterns [`CompiledPatterns`] keeps: one integration (Trino) has a pattern; the rest
/// covers its being changed, and changed back.
const KEPT_PATTERNS: usize = 16;

/// Patterns compiled once per text. Every uncached check reads its integration from the store,
/// and compiling the stored pattern each time (a 100-item BatchCheck compiled it 100 times)
/// cost far more than matching it.
pub struct CompiledPatterns {
    by_text: quick_cache::sync::Cache<String, ImpersonatorPattern>,
}

impl Default for CompiledPatterns {
    fn default() -> Self {
        Self {
            by_text: quick_cache::sync::Cache::new(KEPT_PATTERNS),
        }
    }
}

impl CompiledPatterns {
    /// As [`ImpersonatorPattern::parse`], compiling `text` only when it is not kept already. A
    /// text that does not compile is not kept.
    pub fn parse(&self, field: &str, text: &str) -> Result<Option<ImpersonatorPattern>> {
        if text.is_empty() {
            return Ok(None);
        }
        self.by_text
            .get_or_insert_with(text, || ImpersonatorPattern::compile(field, text))
            .map(Some)
    }
}

impl PartialEq for ImpersonatorPattern {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

/// How impersonation works on one platform, as configured.
#[derive(Clone, Debug, PartialEq)]
pub struct IntegrationSettings {
    pub enabled: bool,
    pub impersonation_role: String,
    /// Databricks only: platform usernames, as given; compared by comparison key.
    pub allowed_impersonators: Vec<String>,
    /// Trino only.
    pub pattern: Option<ImpersonatorPattern>,
    /// When not empty, only members of one of these groups may be impersonated.
    pub target_group_ids: Vec<Id>,
}

impl IntegrationSettings {
    /// Checks settings for `platform`, naming the field at fault.
    pub fn new(
        platform: Platform,
        enabled: bool,
        impersonation_role: &str,
        allowed_impersonators: &[String],
        pattern: &str,
        target_group_ids: Vec<Id>,
    ) -> Result<Self> {
        if !platform.supports_impersonation() {
            return Err(Error::FailedPrecondition(format!(
                "platform: {} does not support impersonation",
                platform.as_str()
            )));
        }
        let impersonation_role = if impersonation_role.trim().is_empty() {
            DEFAULT_IMPERSONATION_ROLE.to_owned()
        } else {
            bounded_text("impersonation_role", impersonation_role, MAX_TEXT_CHARS)?
        };
        if !allowed_impersonators.is_empty() && platform != Platform::Databricks {
            return Err(Error::invalid(
                "allowed_impersonators",
                format!("applies to DATABRICKS only, not to {}", platform.as_str()),
            ));
        }
        if !pattern.is_empty() && platform != Platform::Trino {
            return Err(Error::invalid(
                "allowed_impersonator_pattern",
                format!("applies to TRINO only, not to {}", platform.as_str()),
            ));
        }
        if allowed_impersonators.len() > MAX_LIST_ENTRIES {
            return Err(Error::invalid(
                "allowed_impersonators",
                format!("holds more than {MAX_LIST_ENTRIES} names"),
            ));
        }
        let mut seen = BTreeSet::new();
        let mut names = Vec::with_capacity(allowed_impersonators.len());
        for (i, name) in allowed_impersonators.iter().enumerate() {
            let name = bounded_text(&format!("allowed_impersonators[{i}]"), name, MAX_TEXT_CHARS)?;
            if seen.insert(super::name::comparison_key(&name)) {
                names.push(name);
            }
        }
        if target_group_ids.len() > MAX_LIST_ENTRIES {
            return Err(Error::invalid(
                "target_group_ids",
                format!("holds more than {MAX_LIST_ENTRIES} groups"),
            ));
        }
        let target_group_ids: BTreeSet<Id> = target_group_ids.into_iter().collect();
        Ok(Self {
            enabled,
            impersonation_role,
            allowed_impersonators: names,
            pattern: ImpersonatorPattern::parse("allowed_impersonator_pattern", pattern)?,
            target_group_ids: target_group_ids.into_iter().collect(),
        })
    }

    /// What an integration holds before anyone configures it: Trino on, the others off.
    pub fn initial(platform: Platform) -> Self {
        Self {
            enabled: platform == Platform::Trino,
            impersonation_role: DEFAULT_IMPERSONATION_ROLE.to_owned(),
            allowed_impersonators: Vec::new(),
            pattern: None,
            target_group_ids: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Integration {
    pub platform: Platform,
    pub settings: IntegrationSettings,
    /// None while the integration has its initial settings.
    pub update_time: Option<Timestamp>,
    pub version: Version,
}

/// Whom a check asks about: a platform username, or a recorded session standing for its target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    Target(String),
    Session(SessionId),
}

/// A session id chosen by the caller: required, at most `MAX_SESSION_ID_CHARS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionId(String);

impl SessionId {
    pub fn parse(field: &str, text: &str) -> Result<Self> {
        bounded_text(field, text, MAX_SESSION_ID_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A platform username given as actor or target: required, bounded.
pub fn platform_username(field: &str, text: &str) -> Result<String> {
    bounded_text(field, text, MAX_TEXT_CHARS)
}

/// A session to record.
#[derive(Clone, Debug)]
pub struct NewSession {
    pub session_id: SessionId,
    pub platform: Platform,
    pub actor: String,
    pub target: String,
    pub reason: String,
    pub ttl: Option<chrono::Duration>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    /// The row's own id, in begin order: the key sessions are listed by.
    pub id: Id,
    pub session_id: String,
    pub platform: Platform,
    pub actor: String,
    pub target: String,
    pub actor_user_id: Option<Id>,
    pub target_user_id: Option<Id>,
    pub reason: String,
    pub begin_time: Timestamp,
    pub expire_time: Option<Timestamp>,
    pub end_time: Option<Timestamp>,
}

impl Session {
    pub fn active_at(&self, now: Timestamp) -> bool {
        self.end_time.is_none() && self.expire_time.is_none_or(|expiry| now < expiry)
    }
}

/// Filters of ListImpersonationSessions.
#[derive(Clone, Debug, Default)]
pub struct SessionFilter {
    pub platform: Option<Platform>,
    /// The actor's name key on the platform.
    pub actor_key: Option<String>,
    pub active_only: bool,
}

/// A user as a check sees it: whether enabled, what it holds globally, where it belongs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Party {
    pub user_id: Id,
    pub disabled: bool,
    /// Global effective permissions (direct, through roles, through groups' roles).
    pub permissions: BTreeSet<String>,
    /// The groups the user is a direct member of, among the integration's target groups.
    pub target_groups: BTreeSet<Id>,
}

/// Everything a decision depends on, read from the store in one go.
#[derive(Clone, Debug)]
pub struct Facts {
    pub integration: Integration,
    pub actor_name: String,
    pub actor: Option<Party>,
    pub target_name: String,
    pub target: Option<Party>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    AllowedByPermission,
    AllowedByAllowList,
    AllowedByPattern,
    IntegrationDisabled,
    UnsupportedPlatform,
    ActorUnknown,
    ActorDisabled,
    ActorLacksPermission,
    ActorNotAllowed,
    TargetUnknown,
    TargetDisabled,
    TargetOutOfScope,
    SessionEnded,
}

impl Reason {
    pub fn allows(self) -> bool {
        matches!(
            self,
            Self::AllowedByPermission | Self::AllowedByAllowList | Self::AllowedByPattern
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AllowedByPermission => "ALLOWED_BY_PERMISSION",
            Self::AllowedByAllowList => "ALLOWED_BY_ALLOW_LIST",
            Self::AllowedByPattern => "ALLOWED_BY_PATTERN",
            Self::IntegrationDisabled => "INTEGRATION_DISABLED",
            Self::UnsupportedPlatform => "UNSUPPORTED_PLATFORM",
            Self::ActorUnknown => "ACTOR_UNKNOWN",
            Self::ActorDisabled => "ACTOR_DISABLED",
            Self::ActorLacksPermission => "ACTOR_LACKS_PERMISSION",
            Self::ActorNotAllowed => "ACTOR_NOT_ALLOWED",
            Self::TargetUnknown => "TARGET_UNKNOWN",
            Self::TargetDisabled => "TARGET_DISABLED",
            Self::TargetOutOfScope => "TARGET_OUT_OF_SCOPE",
            Self::SessionEnded => "SESSION_ENDED",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub reason: Reason,
    pub explanation: String,
    pub actor_user_id: Option<Id>,
    pub target_user_id: Option<Id>,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        self.reason.allows()
    }

    /// The answer for a session that has ended or expired: it impersonates no one.
    pub fn session_ended(session: &Session) -> Self {
        Self {
            reason: Reason::SessionEnded,
            explanation: format!("session {:?} has ended or expired", session.session_id),
            actor_user_id: session.actor_user_id,
            target_user_id: session.target_user_id,
        }
    }
}

/// The rules of every platform, applied in order: the platform and its integration, then the
/// actor, then the target.
pub fn decide(facts: &Facts) -> Decision {
    let platform = facts.integration.platform;
    let settings = &facts.integration.settings;
    let (actor_name, target_name) = (&facts.actor_name, &facts.target_name);
    let decision = |reason: Reason, explanation: String| Decision {
        reason,
        explanation,
        actor_user_id: facts.actor.as_ref().map(|a| a.user_id),
        target_user_id: facts.target.as_ref().map(|t| t.user_id),
    };
    if !platform.supports_impersonation() {
        return decision(
            Reason::UnsupportedPlatform,
            format!("{} does not support impersonation", platform.as_str()),
        );
    }
    if !settings.enabled {
        return decision(
            Reason::IntegrationDisabled,
            format!("impersonation is disabled on {}", platform.as_str()),
        );
    }
    if let Some(actor) = &facts.actor
        && actor.disabled
    {
        return decision(
            Reason::ActorDisabled,
            format!("actor {actor_name:?} is a disabled user"),
        );
    }
    let holds_permission = facts
        .actor
        .as_ref()
        .is_some_and(|a| a.permissions.contains(permission::IMPERSONATE_USER));
    let allowed_by = match platform {
        Platform::Databricks => {
            let key = super::name::comparison_key(actor_name);
            let listed = settings
                .allowed_impersonators
                .iter()
                .any(|name| super::name::comparison_key(name) == key);
            if !listed {
                return decision(
                    Reason::ActorNotAllowed,
                    format!("actor {actor_name:?} is not on the DATABRICKS allow list"),
                );
            }
            Reason::AllowedByAllowList
        }
        Platform::Trino if holds_permission => Reason::AllowedByPermission,
        Platform::Trino
            if settings
                .pattern
                .as_ref()
                .is_some_and(|p| p.matches(actor_name)) =>
        {
            Reason::AllowedByPattern
        }
        _ if holds_permission => Reason::AllowedByPermission,
        _ if facts.actor.is_none() => {
            return decision(
                Reason::ActorUnknown,
                format!(
                    "actor {actor_name:?} is not a user on {}",
                    platform.as_str()
                ),
            );
        }
        _ => {
            return decision(
                Reason::ActorLacksPermission,
                format!(
                    "actor {actor_name:?} lacks {}",
                    permission::IMPERSONATE_USER
                ),
            );
        }
    };
    let Some(target) = &facts.target else {
        return decision(
            Reason::TargetUnknown,
            format!(
                "target {target_name:?} is not a user on {}",
                platform.as_str()
            ),
        );
    };
    if target.disabled {
        return decision(
            Reason::TargetDisabled,
            format!("target {target_name:?} is a disabled user"),
        );
    }
    let actor_holds = |p: &str| {
        facts
            .actor
            .as_ref()
            .is_some_and(|a| a.permissions.contains(p))
    };
    if let Some(missing) = PROTECTED_PERMISSIONS
        .into_iter()
        .find(|p| target.permissions.contains(*p) && !actor_holds(p))
    {
        return decision(
            Reason::TargetOutOfScope,
            format!("target {target_name:?} holds {missing}, which actor {actor_name:?} lacks"),
        );
    }
    if !settings.target_group_ids.is_empty() && target.target_groups.is_empty() {
        return decision(
            Reason::TargetOutOfScope,
            format!(
                "target {target_name:?} is in none of the {} integration's target groups",
                platform.as_str()
            ),
        );
    }
    let how = match allowed_by {
        Reason::AllowedByAllowList => "is on the allow list".to_owned(),
        Reason::AllowedByPattern => "matches the allowed-impersonator pattern".to_owned(),
        _ => format!("holds {}", permission::IMPERSONATE_USER),
    };
    decision(
        allowed_by,
        format!("actor {actor_name:?} {how} and may act as {target_name:?}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_matches_whole_names_and_is_checked_as_written() {
        let pattern = ImpersonatorPattern::parse("p", "svc_.*|etl")
            .unwrap()
            .unwrap();
        assert!(pattern.matches("svc_trino"));
        assert!(pattern.matches("etl"));
        assert!(!pattern.matches("etl2"), "the whole name must match");
        assert!(!pattern.matches("x_svc_trino"));

        let Err(Error::InvalidArgument {
            field,
            reason: message,
        }) = ImpersonatorPattern::parse("p", "a)|(.*")
        else {
            panic!("a pattern that only parses once wrapped must be refused");
        };
        assert_eq!(field, "p");
        assert!(message.contains("a)|(.*"), "{message}");
        assert!(
            !message.contains("(?:"),
            "the error quotes the text as written: {message}"
        );
    }

    #[test]
    fn a_pattern_is_compiled_once_per_text() {
        let patterns = CompiledPatterns::default();
        let parse = |text| patterns.parse("p", text).unwrap().unwrap();
        let (first, again, other) = (parse("svc_.*"), parse("svc_.*"), parse("etl"));
        assert!(Arc::ptr_eq(&first.whole, &again.whole), "compiled again");
        assert!(!Arc::ptr_eq(&first.whole, &other.whole));
        assert!(other.matches("etl") && !other.matches("svc_trino"));
        let separately = ImpersonatorPattern::parse("p", "svc_.*").unwrap().unwrap();
        assert!(
            !Arc::ptr_eq(&first.whole, &separately.whole),
            "parsing alone compiles anew, so the test can tell"
        );
        assert!(patterns.parse("p", "").unwrap().is_none());
        for _ in 0..2 {
            assert!(
                patterns.parse("p", "a)|(.*").is_err(),
                "a text that does not compile is refused every time"
            );
        }
    }
}
