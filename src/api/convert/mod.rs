//! Conversions between domain values and protobuf messages.

use std::collections::{BTreeMap, HashMap};

use prost_types::{Struct, Timestamp as ProtoTimestamp, value::Kind};

use crate::domain::{
    Id, Timestamp,
    api_key::ApiKey,
    audit::AuditEvent,
    external::{AwsUserType, ExternalUsername, Platform},
    group::Group,
    impersonation::{
        Decision, Integration, Reason, Session, SessionId, Subject, platform_username,
    },
    policy::Source,
    role::{Grantee, PermissionInfo, Role, RoleAssignment, Settings, Tenant},
    usage::DailyUsage,
    user::{User, UserKind},
};
use crate::error::{Error, Result};
use crate::proto;

mod iam_config;
pub(super) use iam_config::*;

pub(super) fn timestamp(time: Timestamp) -> ProtoTimestamp {
    ProtoTimestamp {
        seconds: time.timestamp(),
        nanos: time.timestamp_subsec_nanos() as i32,
    }
}

pub(super) fn parse_timestamp(field: &str, time: &ProtoTimestamp) -> Result<Timestamp> {
    u32::try_from(time.nanos)
        .ok()
        .and_then(|nanos| chrono::DateTime::from_timestamp(time.seconds, nanos))
        .ok_or_else(|| Error::invalid(field, "is not a valid timestamp"))
}

pub(super) fn user_kind(kind: i32) -> Result<UserKind> {
    match proto::UserKind::try_from(kind) {
        Ok(proto::UserKind::Unspecified | proto::UserKind::Person) => Ok(UserKind::Person),
        Ok(proto::UserKind::ServiceAccount) => Ok(UserKind::ServiceAccount),
        Err(_) => Err(Error::invalid("kind", format!("{kind} is not a user kind"))),
    }
}

pub(super) fn platform(value: i32) -> Result<Platform> {
    platform_at("platform", value)
}

/// A platform from a request field other than `platform`.
pub(super) fn platform_at(field: &str, value: i32) -> Result<Platform> {
    use proto::Platform as P;
    Ok(match P::try_from(value) {
        Ok(P::Snowflake) => Platform::Snowflake,
        Ok(P::Redshift) => Platform::Redshift,
        Ok(P::Synapse) => Platform::Synapse,
        Ok(P::Trino) => Platform::Trino,
        Ok(P::Databricks) => Platform::Databricks,
        Ok(P::Postgresql) => Platform::Postgresql,
        Ok(P::Teradata) => Platform::Teradata,
        Ok(P::S3) => Platform::S3,
        Ok(P::Unspecified) => return Err(Error::invalid(field, "is required")),
        Err(_) => {
            return Err(Error::invalid(field, format!("{value} is not a platform")));
        }
    })
}

pub(super) fn integration(integration: Integration) -> proto::Integration {
    let settings = integration.settings;
    proto::Integration {
        platform: platform_to_proto(integration.platform) as i32,
        enabled: settings.enabled,
        impersonation_role: settings.impersonation_role,
        allowed_impersonators: settings.allowed_impersonators,
        allowed_impersonator_pattern: settings
            .pattern
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        update_time: integration.update_time.map(timestamp),
        etag: integration.version.etag(),
        target_group_ids: settings
            .target_group_ids
            .iter()
            .map(Id::to_string)
            .collect(),
        impersonation_supported: integration.platform.supports_impersonation(),
    }
}

pub(super) fn session(session: Session, now: Timestamp) -> proto::ImpersonationSession {
    let active = session.active_at(now);
    let id = |id: Option<Id>| id.map(|id| id.to_string()).unwrap_or_default();
    proto::ImpersonationSession {
        session_id: session.session_id,
        platform: platform_to_proto(session.platform) as i32,
        actor: session.actor,
        target: session.target,
        actor_user_id: id(session.actor_user_id),
        target_user_id: id(session.target_user_id),
        begin_time: Some(timestamp(session.begin_time)),
        end_time: session.end_time.map(timestamp),
        reason: session.reason,
        expire_time: session.expire_time.map(timestamp),
        active,
    }
}

pub(super) fn impersonation_reason(reason: Reason) -> proto::ImpersonationReason {
    use proto::ImpersonationReason as P;
    match reason {
        Reason::AllowedByPermission => P::AllowedByPermission,
        Reason::AllowedByAllowList => P::AllowedByAllowList,
        Reason::AllowedByPattern => P::AllowedByPattern,
        Reason::IntegrationDisabled => P::IntegrationDisabled,
        Reason::UnsupportedPlatform => P::UnsupportedPlatform,
        Reason::ActorUnknown => P::ActorUnknown,
        Reason::ActorDisabled => P::ActorDisabled,
        Reason::ActorLacksPermission => P::ActorLacksPermission,
        Reason::ActorNotAllowed => P::ActorNotAllowed,
        Reason::TargetUnknown => P::TargetUnknown,
        Reason::TargetDisabled => P::TargetDisabled,
        Reason::TargetOutOfScope => P::TargetOutOfScope,
        Reason::SessionEnded => P::SessionEnded,
    }
}

pub(super) fn decision(decision: Decision) -> proto::CheckImpersonationResponse {
    let id = |id: Option<Id>| id.map(|id| id.to_string()).unwrap_or_default();
    proto::CheckImpersonationResponse {
        allowed: decision.allowed(),
        reason: impersonation_reason(decision.reason) as i32,
        explanation: decision.explanation,
        actor_user_id: id(decision.actor_user_id),
        target_user_id: id(decision.target_user_id),
    }
}

fn platform_to_proto(platform: Platform) -> proto::Platform {
    use proto::Platform as P;
    match platform {
        Platform::Snowflake => P::Snowflake,
        Platform::Redshift => P::Redshift,
        Platform::Synapse => P::Synapse,
        Platform::Trino => P::Trino,
        Platform::Databricks => P::Databricks,
        Platform::Postgresql => P::Postgresql,
        Platform::Teradata => P::Teradata,
        Platform::S3 => P::S3,
    }
}

pub(super) fn aws_user_type(field: &str, value: i32) -> Result<Option<AwsUserType>> {
    use proto::AwsUserType as A;
    Ok(match A::try_from(value) {
        Ok(A::Unspecified) => None,
        Ok(A::None) => Some(AwsUserType::None),
        Ok(A::IamUser) => Some(AwsUserType::IamUser),
        Ok(A::IamRole) => Some(AwsUserType::IamRole),
        Ok(A::IdentityCenterUser) => Some(AwsUserType::IdentityCenterUser),
        Err(_) => {
            return Err(Error::invalid(
                field,
                format!("{value} is not an AWS user type"),
            ));
        }
    })
}

fn aws_user_type_to_proto(kind: Option<AwsUserType>) -> proto::AwsUserType {
    use proto::AwsUserType as A;
    match kind {
        None => A::Unspecified,
        Some(AwsUserType::None) => A::None,
        Some(AwsUserType::IamUser) => A::IamUser,
        Some(AwsUserType::IamRole) => A::IamRole,
        Some(AwsUserType::IdentityCenterUser) => A::IdentityCenterUser,
    }
}

pub(super) fn attribute_map(
    attributes: BTreeMap<String, Vec<String>>,
) -> HashMap<String, proto::AttributeValues> {
    attributes
        .into_iter()
        .map(|(name, values)| (name, proto::AttributeValues { values }))
        .collect()
}

pub(super) fn external_username(name: ExternalUsername) -> proto::ExternalUsername {
    proto::ExternalUsername {
        platform: platform_to_proto(name.platform) as i32,
        username: name.username,
        aws_user_type: aws_user_type_to_proto(name.aws_user_type) as i32,
    }
}

pub(super) fn user(user: User) -> proto::User {
    proto::User {
        id: user.id.to_string(),
        username: user.username,
        email: user.email,
        full_name: user.full_name,
        kind: match user.kind {
            UserKind::Person => proto::UserKind::Person,
            UserKind::ServiceAccount => proto::UserKind::ServiceAccount,
        } as i32,
        iam_id: user.iam_id.to_string(),
        disabled: user.disabled,
        permissions: user.permissions,
        group_ids: user.group_ids.iter().map(ToString::to_string).collect(),
        attributes: attribute_map(user.attributes),
        external_usernames: user
            .external_usernames
            .into_iter()
            .map(external_username)
            .collect(),
        certificate_uris: user.certificate_uris,
        authorizations: attribute_map(user.authorizations),
        create_time: Some(timestamp(user.create_time)),
        update_time: Some(timestamp(user.update_time)),
        disable_time: user.disable_time.map(timestamp),
        etag: user.version.etag(),
    }
}

pub(super) fn api_key(key: ApiKey) -> proto::ApiKey {
    proto::ApiKey {
        id: key.id.to_string(),
        user_id: key.user_id.to_string(),
        display_name: key.display_name,
        create_time: Some(timestamp(key.create_time)),
        expire_time: key.expire_time.map(timestamp),
        revoke_time: key.revoke_time.map(timestamp),
    }
}

pub(super) fn audit_event(event: AuditEvent) -> Result<proto::AuditEvent> {
    let details: serde_json::Value = serde_json::from_str(&event.details).map_err(|e| {
        Error::internal(format!(
            "audit event {} has details that are not JSON: {e}",
            event.id
        ))
    })?;
    Ok(proto::AuditEvent {
        id: event.id.to_string(),
        time: Some(timestamp(event.time)),
        actor_id: event.actor_id.map(|id| id.to_string()).unwrap_or_default(),
        action: event.action,
        target_type: event.target_type,
        target_id: event.target_id,
        success: event.success,
        impersonation_user: event.impersonation_user.unwrap_or_default(),
        details: Some(json_struct(details)),
        prev_hash: event.prev_hash,
        hash: event.hash,
        sequence: event.sequence,
    })
}

pub(super) fn json_struct(value: serde_json::Value) -> Struct {
    match json_value(value).kind {
        Some(Kind::StructValue(s)) => s,
        other => Struct {
            fields: [("value".to_owned(), prost_types::Value { kind: other })].into(),
        },
    }
}

fn json_value(value: serde_json::Value) -> prost_types::Value {
    use serde_json::Value as J;
    let kind = match value {
        J::Null => Kind::NullValue(0),
        J::Bool(b) => Kind::BoolValue(b),
        J::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        J::String(s) => Kind::StringValue(s),
        J::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.into_iter().map(json_value).collect(),
        }),
        J::Object(map) => Kind::StructValue(Struct {
            fields: map.into_iter().map(|(k, v)| (k, json_value(v))).collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

pub(super) fn group(group: Group) -> proto::Group {
    proto::Group {
        id: group.id.to_string(),
        name: group.name,
        description: group.description,
        email: group.email.unwrap_or_default(),
        member_count: group.member_count,
        attributes: attribute_map(group.attributes),
        create_time: Some(timestamp(group.create_time)),
        update_time: Some(timestamp(group.update_time)),
        etag: group.version.etag(),
        managed_by_iam_id: group
            .managed_by_iam
            .map(|id| id.to_string())
            .unwrap_or_default(),
    }
}

pub(super) fn permission(permission: PermissionInfo) -> proto::Permission {
    proto::Permission {
        name: permission.name,
        description: permission.description,
        built_in: permission.built_in,
    }
}

pub(super) fn role(role: Role) -> proto::Role {
    proto::Role {
        id: role.id.to_string(),
        name: role.name,
        description: role.description,
        permissions: role.permissions,
        built_in: role.built_in,
        create_time: Some(timestamp(role.create_time)),
        update_time: Some(timestamp(role.update_time)),
        etag: role.version.etag(),
    }
}

pub(super) fn tenant(tenant: Tenant) -> proto::Tenant {
    proto::Tenant {
        id: tenant.id.to_string(),
        name: tenant.name,
        description: tenant.description,
        create_time: Some(timestamp(tenant.create_time)),
    }
}

pub(super) fn role_assignment(assignment: RoleAssignment) -> proto::RoleAssignment {
    use proto::role_assignment::Principal;
    proto::RoleAssignment {
        id: assignment.id.to_string(),
        principal: Some(match assignment.key.grantee {
            Grantee::User(id) => Principal::UserId(id.to_string()),
            Grantee::Group(id) => Principal::GroupId(id.to_string()),
        }),
        role_id: assignment.key.role_id.to_string(),
        tenant_id: assignment
            .key
            .tenant_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        create_time: Some(timestamp(assignment.create_time)),
    }
}

pub(super) fn settings(settings: Settings) -> proto::Settings {
    proto::Settings {
        default_permissions: settings.default_permissions,
        admins_and_governors_mutually_exclusive: settings.admins_and_governors_mutually_exclusive,
        etag: settings.version.etag(),
    }
}

pub(super) fn permission_source(source: Source) -> proto::PermissionSource {
    use proto::PermissionSourceKind as Kind;
    let text = |id: Option<Id>| id.map(|id| id.to_string()).unwrap_or_default();
    match source {
        Source::Direct => proto::PermissionSource {
            kind: Kind::Direct as i32,
            ..Default::default()
        },
        Source::Role { role_id, tenant_id } => proto::PermissionSource {
            kind: Kind::Role as i32,
            role_id: role_id.to_string(),
            group_id: String::new(),
            tenant_id: text(tenant_id),
        },
        Source::Group {
            group_id,
            role_id,
            tenant_id,
        } => proto::PermissionSource {
            kind: Kind::Group as i32,
            role_id: role_id.to_string(),
            group_id: group_id.to_string(),
            tenant_id: text(tenant_id),
        },
    }
}

/// The `principal` oneof of the assignment requests (each request has its own type of it): the
/// id it holds, of a user or of a group.
pub(super) trait PrincipalOneof {
    fn grantee_id(&self) -> GranteeId<'_>;
}

pub(super) enum GranteeId<'a> {
    User(&'a str),
    Group(&'a str),
}

impl PrincipalOneof for proto::assign_role_request::Principal {
    fn grantee_id(&self) -> GranteeId<'_> {
        match self {
            Self::UserId(id) => GranteeId::User(id),
            Self::GroupId(id) => GranteeId::Group(id),
        }
    }
}

impl PrincipalOneof for proto::unassign_role_request::Principal {
    fn grantee_id(&self) -> GranteeId<'_> {
        match self {
            Self::UserId(id) => GranteeId::User(id),
            Self::GroupId(id) => GranteeId::Group(id),
        }
    }
}

impl PrincipalOneof for proto::list_role_assignments_request::Principal {
    fn grantee_id(&self) -> GranteeId<'_> {
        match self {
            Self::UserId(id) => GranteeId::User(id),
            Self::GroupId(id) => GranteeId::Group(id),
        }
    }
}

/// An assignment request's `principal`, converted once for all of them: an unset oneof is
/// refused naming `user_id`.
pub(super) fn grantee(principal: Option<&impl PrincipalOneof>) -> Result<Grantee> {
    match principal.map(PrincipalOneof::grantee_id) {
        Some(GranteeId::User(id)) => Id::parse("user_id", id).map(Grantee::User),
        Some(GranteeId::Group(id)) => Id::parse("group_id", id).map(Grantee::Group),
        None => Err(Error::invalid(
            "user_id",
            "a user_id or a group_id is required",
        )),
    }
}

/// The `subject` oneof of the impersonation checks (each message has its own type of it): a
/// target's platform username or a session id.
pub(super) trait SubjectOneof {
    fn subject_text(&self) -> SubjectText<'_>;
}

pub(super) enum SubjectText<'a> {
    Target(&'a str),
    Session(&'a str),
}

impl SubjectOneof for proto::check_impersonation_request::Subject {
    fn subject_text(&self) -> SubjectText<'_> {
        match self {
            Self::Target(target) => SubjectText::Target(target),
            Self::SessionId(id) => SubjectText::Session(id),
        }
    }
}

impl SubjectOneof for proto::impersonation_check::Subject {
    fn subject_text(&self) -> SubjectText<'_> {
        match self {
            Self::Target(target) => SubjectText::Target(target),
            Self::SessionId(id) => SubjectText::Session(id),
        }
    }
}

/// A check's `subject`, converted once for the messages that carry it: an unset oneof is
/// refused naming `target`.
pub(super) fn subject(subject: Option<&impl SubjectOneof>) -> Result<Subject> {
    match subject.map(SubjectOneof::subject_text) {
        Some(SubjectText::Target(target)) => {
            platform_username("target", target).map(Subject::Target)
        }
        Some(SubjectText::Session(id)) => SessionId::parse("session_id", id).map(Subject::Session),
        None => Err(Error::invalid(
            "target",
            "a target or a session_id is required",
        )),
    }
}

pub(super) fn daily_usage(day: DailyUsage) -> proto::DailyUsage {
    proto::DailyUsage {
        date: day.date,
        users_created: day.users_created,
        permissions_granted: day.permissions_granted,
        groups_created: day.groups_created,
        impersonations_checked: day.impersonations_checked,
        syncs_run: day.syncs_run,
        users_synced: day.users_synced,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_request_principal_converts_alike() {
        use proto::{assign_role_request as assign, list_role_assignments_request as list};
        let id = Id::new();
        assert_eq!(
            grantee(Some(&assign::Principal::UserId(id.to_string()))).unwrap(),
            Grantee::User(id)
        );
        assert_eq!(
            grantee(Some(&list::Principal::GroupId(id.to_string()))).unwrap(),
            Grantee::Group(id)
        );
        let bad = grantee(Some(&assign::Principal::GroupId("x".into()))).unwrap_err();
        assert!(bad.to_string().starts_with("group_id: "), "{bad}");
        let unset = grantee(None::<&proto::unassign_role_request::Principal>).unwrap_err();
        assert_eq!(
            unset.to_string(),
            "user_id: a user_id or a group_id is required"
        );
    }

    #[test]
    fn each_message_subject_converts_alike() {
        use proto::{check_impersonation_request as check, impersonation_check as batch};
        assert!(matches!(
            subject(Some(&check::Subject::Target("alice".into()))),
            Ok(Subject::Target(_))
        ));
        let bad = subject(Some(&batch::Subject::SessionId(" ".into()))).unwrap_err();
        assert!(bad.to_string().starts_with("session_id: "), "{bad}");
        let unset = subject(None::<&batch::Subject>).unwrap_err();
        assert_eq!(
            unset.to_string(),
            "target: a target or a session_id is required"
        );
    }
}
