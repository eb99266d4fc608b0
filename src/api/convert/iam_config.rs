//! Conversions of the IamConfig service: IAMs and their user-info endpoints (settings, TLS,
//! timeouts, profile schemas) from requests, and IAMs and sync progress to responses.

use std::time::Duration;

use super::{
    attribute_map, aws_user_type, aws_user_type_to_proto, external_username, platform_at,
    platform_to_proto, timestamp,
};
use crate::domain::{
    address::AddressPolicy,
    iam::{
        self, EndpointSettings, EndpointUri, Iam, Password, ProfileSchemaEntry, Timeouts,
        TlsSettings,
    },
    profile::{GroupChange, SyncChanges},
    tls::{Certificates, PrivateKey},
};
use crate::error::{Error, Result};
use crate::iam_sync::Progress;
use crate::proto;

pub(crate) fn iam(iam: Iam) -> proto::Iam {
    proto::Iam {
        id: iam.id.to_string(),
        name: iam.name,
        built_in: iam.built_in,
        user_info_endpoint: iam.endpoint.map(|e| {
            let tls = !e.tls_ca_cert_pem.is_empty()
                || !e.tls_client_cert_pem.is_empty()
                || e.has_tls_client_key;
            proto::UserInfoEndpoint {
                uri: e.uri,
                basic_auth_username: e.basic_auth_username,
                basic_auth_password: String::new(),
                has_basic_auth_password: e.has_basic_auth_password,
                tls: tls.then(|| proto::TlsConfig {
                    ca_cert_pem: e.tls_ca_cert_pem,
                    client_cert_pem: e.tls_client_cert_pem,
                    client_key_pem: String::new(),
                    has_client_key: e.has_tls_client_key,
                }),
                connect_timeout: prost_types::Duration::try_from(e.timeouts.connect).ok(),
                request_timeout: prost_types::Duration::try_from(e.timeouts.request).ok(),
            }
        }),
        profile_schema: iam
            .profile_schema
            .into_iter()
            .map(|e| proto::ProfileSchemaEntry {
                platform: platform_to_proto(e.platform) as i32,
                attribute: e.attribute,
                aws_user_type: aws_user_type_to_proto(e.aws_user_type) as i32,
            })
            .collect(),
        create_time: Some(timestamp(iam.create_time)),
        update_time: Some(timestamp(iam.update_time)),
        etag: iam.version.etag(),
    }
}

/// The profile schema of a request, checked.
pub(crate) fn profile_schema(
    entries: &[proto::ProfileSchemaEntry],
) -> Result<Vec<ProfileSchemaEntry>> {
    let parsed = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            Ok((
                platform_at(&format!("profile_schema[{i}].platform"), e.platform)?,
                e.attribute.as_str(),
                aws_user_type(
                    &format!("profile_schema[{i}].aws_user_type"),
                    e.aws_user_type,
                )?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    iam::profile_schema("profile_schema", &parsed)
}

/// Certificates from a request field; an empty one is unset.
pub(crate) fn optional_certificates(field: &str, pem: &str) -> Result<Option<Certificates>> {
    (!pem.trim().is_empty())
        .then(|| Certificates::parse(field, pem, crate::domain::now()))
        .transpose()
}

/// A client key from a request field; an empty one is left out.
pub(crate) fn optional_client_key(pem: &str) -> Result<Option<PrivateKey>> {
    (!pem.trim().is_empty())
        .then(|| PrivateKey::parse("user_info_endpoint.tls.client_key_pem", pem))
        .transpose()
}

/// The TLS settings of a request: none when unset; empty texts are unset.
pub(crate) fn tls_settings(tls: Option<&proto::TlsConfig>) -> Result<TlsSettings> {
    let Some(tls) = tls else {
        return Ok(TlsSettings::default());
    };
    Ok(TlsSettings {
        ca_cert: optional_certificates("user_info_endpoint.tls.ca_cert_pem", &tls.ca_cert_pem)?,
        client_cert: optional_certificates(
            "user_info_endpoint.tls.client_cert_pem",
            &tls.client_cert_pem,
        )?,
        client_key: optional_client_key(&tls.client_key_pem)?,
    })
}

/// A duration from a request field, checked to be one.
fn duration(field: &str, given: Option<&prost_types::Duration>) -> Result<Option<Duration>> {
    given
        .map(|d| {
            Duration::try_from(*d).map_err(|_| Error::invalid(field, "must be a positive duration"))
        })
        .transpose()
}

/// The endpoint's connect timeout in a request, checked; the default when unset.
pub(crate) fn connect_timeout(given: Option<&prost_types::Duration>) -> Result<Duration> {
    let field = "user_info_endpoint.connect_timeout";
    Timeouts::parse_connect(field, duration(field, given)?)
}

/// The endpoint's request timeout in a request, checked; the default when unset.
pub(crate) fn request_timeout(given: Option<&prost_types::Duration>) -> Result<Duration> {
    let field = "user_info_endpoint.request_timeout";
    Timeouts::parse_request(field, duration(field, given)?)
}

/// The endpoint of a CreateIam request or of an UpdateIam that replaces it whole, its URI
/// leading where `addresses` allows; an empty password is none (on create) or keeps the stored
/// one (on update).
pub(crate) fn endpoint_settings(
    endpoint: &proto::UserInfoEndpoint,
    addresses: AddressPolicy,
) -> Result<EndpointSettings> {
    Ok(EndpointSettings {
        timeouts: Timeouts {
            connect: connect_timeout(endpoint.connect_timeout.as_ref())?,
            request: request_timeout(endpoint.request_timeout.as_ref())?,
        },
        tls: tls_settings(endpoint.tls.as_ref())?,
        uri: EndpointUri::parse("user_info_endpoint.uri", &endpoint.uri, addresses)?,
        basic_auth_username: iam::basic_auth_username(
            "user_info_endpoint.basic_auth_username",
            &endpoint.basic_auth_username,
        )?,
        basic_auth_password: (!endpoint.basic_auth_password.is_empty())
            .then(|| {
                Password::parse(
                    "user_info_endpoint.basic_auth_password",
                    &endpoint.basic_auth_password,
                )
            })
            .transpose()?,
    })
}

fn sync_changes(changes: SyncChanges) -> proto::SyncChanges {
    let names = |groups: Vec<GroupChange>| groups.into_iter().map(|g| g.name).collect();
    proto::SyncChanges {
        groups_added: names(changes.groups_added),
        groups_created: changes.groups_created,
        groups_removed: names(changes.groups_removed),
        authorizations_added: attribute_map(changes.authorizations_added),
        authorizations_removed: attribute_map(changes.authorizations_removed),
        external_usernames_set: changes
            .usernames_set
            .into_iter()
            .map(external_username)
            .collect(),
    }
}

pub(crate) fn sync_progress(progress: Progress) -> proto::SyncProgress {
    let (changes, error) = match progress.outcome {
        Some(Ok(changes)) => (Some(sync_changes(changes)), String::new()),
        Some(Err(error)) => (None, error),
        None => (None, String::new()),
    };
    proto::SyncProgress {
        users_total: progress.users_total,
        users_done: progress.users_done,
        users_failed: progress.users_failed,
        users_changed: progress.users_changed,
        user_id: progress
            .user_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        error,
        changes,
    }
}
