//! The IamConfig service: IAMs, their user-info endpoints (TestConnection, TestUserLogin,
//! SyncUser, SyncAll) and application settings.

use std::time::Instant;

use futures::StreamExt;

use serde_json::{Value, json};
use tonic::{Request, Response, Status};

use super::{Context, UpdateMask, audit, committed, convert, page_of, principal, update_etag};
use crate::domain::{
    Id, MAX_TEXT_CHARS,
    address::AddressPolicy,
    bounded_text,
    external::AwsUserType,
    iam::{
        self, EndpointChange, EndpointFieldChanges, EndpointUri, Iam, IamChanges, NewIam, Password,
        ProfileSchemaEntry, SecretChange, Timeouts, seconds,
    },
    name::Name,
    permission::PermissionName,
    profile::{ExternalProfile, concurrency},
    role::SettingsChanges,
};
use crate::error::{Error, Result};
use crate::iam_sync::user_info::UserInfoClient;
use crate::iam_sync::{self, SyncAllOptions};
use crate::proto::{self, iam_config_server::IamConfig};
use crate::store::Committed;

/// The paths of UpdateIam's mask.
const IAM_PATHS: [&str; 12] = [
    "name",
    "user_info_endpoint",
    "user_info_endpoint.uri",
    "user_info_endpoint.basic_auth_username",
    "user_info_endpoint.basic_auth_password",
    "user_info_endpoint.connect_timeout",
    "user_info_endpoint.request_timeout",
    "user_info_endpoint.tls",
    "user_info_endpoint.tls.ca_cert_pem",
    "user_info_endpoint.tls.client_cert_pem",
    "user_info_endpoint.tls.client_key_pem",
    "profile_schema",
];

/// What an audit event says of an IAM: everything but its secrets, of which only whether one
/// is stored.
fn iam_details(iam: &Iam) -> Value {
    json!({
        "name": iam.name,
        "user_info_endpoint": iam.endpoint.as_ref().map(|e| endpoint_details(
            &e.uri,
            &e.basic_auth_username,
            e.has_basic_auth_password,
            e.timeouts,
        )),
        "profile_schema": schema_details(&iam.profile_schema),
    })
}

/// What an audit event says of an endpoint, stored or about to be.
fn endpoint_details(
    uri: &str,
    basic_auth_username: &str,
    has_basic_auth_password: bool,
    timeouts: Timeouts,
) -> Value {
    json!({
        "uri": uri,
        "basic_auth_username": basic_auth_username,
        "has_basic_auth_password": has_basic_auth_password,
        "connect_timeout": seconds(timeouts.connect),
        "request_timeout": seconds(timeouts.request),
    })
}

fn schema_details(schema: &[ProfileSchemaEntry]) -> Value {
    schema
        .iter()
        .map(|e| {
            json!({
                "platform": e.platform.as_str(),
                "attribute": e.attribute,
                "aws_user_type": e.aws_user_type.map(AwsUserType::as_str),
            })
        })
        .collect()
}

/// What an audit event says of UpdateIam's endpoint change: the settings it gives, other than
/// secrets (the mask names those it changes).
fn endpoint_change_details(change: &EndpointChange) -> Value {
    let (uri, basic_auth_username, connect_timeout, request_timeout) = match change {
        EndpointChange::Remove => return json!("removed"),
        EndpointChange::Replace(e) => (
            Some(e.uri.as_str()),
            Some(e.basic_auth_username.as_str()),
            Some(e.timeouts.connect),
            Some(e.timeouts.request),
        ),
        EndpointChange::Fields(f) => (
            f.uri.as_ref().map(EndpointUri::as_str),
            f.basic_auth_username.as_deref(),
            f.connect_timeout,
            f.request_timeout,
        ),
    };
    let given = [
        ("uri", uri.map(Value::from)),
        ("basic_auth_username", basic_auth_username.map(Value::from)),
        (
            "connect_timeout",
            connect_timeout.map(|t| seconds(t).into()),
        ),
        (
            "request_timeout",
            request_timeout.map(|t| seconds(t).into()),
        ),
    ];
    Value::Object(
        given
            .into_iter()
            .filter_map(|(name, value)| Some((name.to_owned(), value?)))
            .collect(),
    )
}

/// What UpdateIam's mask changes about the endpoint: the whole, or single fields; a URI must lead
/// where `addresses` allows.
fn endpoint_change(
    mask: &UpdateMask,
    endpoint: Option<&proto::UserInfoEndpoint>,
    addresses: AddressPolicy,
) -> Result<Option<EndpointChange>> {
    let fields: Vec<&String> = mask
        .paths()
        .iter()
        .filter(|p| p.starts_with("user_info_endpoint."))
        .collect();
    if mask.has("user_info_endpoint") {
        if !fields.is_empty() {
            return Err(Error::invalid(
                "update_mask",
                "names user_info_endpoint and one of its fields; name the whole or its fields",
            ));
        }
        return Ok(Some(match endpoint {
            None => EndpointChange::Remove,
            Some(endpoint) => {
                EndpointChange::Replace(convert::endpoint_settings(endpoint, addresses)?)
            }
        }));
    }
    if fields.is_empty() {
        return Ok(None);
    }
    let given = endpoint.cloned().unwrap_or_default();
    let tls = given.tls.clone().unwrap_or_default();
    let mut changes = EndpointFieldChanges {
        uri: mask.field("user_info_endpoint.uri", || {
            EndpointUri::parse("user_info_endpoint.uri", &given.uri, addresses)
        })?,
        basic_auth_username: mask.field("user_info_endpoint.basic_auth_username", || {
            iam::basic_auth_username(
                "user_info_endpoint.basic_auth_username",
                &given.basic_auth_username,
            )
        })?,
        basic_auth_password: mask.field("user_info_endpoint.basic_auth_password", || {
            if given.basic_auth_password.is_empty() {
                Ok(SecretChange::Remove)
            } else {
                Password::parse(
                    "user_info_endpoint.basic_auth_password",
                    &given.basic_auth_password,
                )
                .map(SecretChange::Set)
            }
        })?,
        connect_timeout: mask.field("user_info_endpoint.connect_timeout", || {
            convert::connect_timeout(given.connect_timeout.as_ref())
        })?,
        request_timeout: mask.field("user_info_endpoint.request_timeout", || {
            convert::request_timeout(given.request_timeout.as_ref())
        })?,
        ..Default::default()
    };
    if mask.has("user_info_endpoint.tls") {
        if fields
            .iter()
            .any(|p| p.starts_with("user_info_endpoint.tls."))
        {
            return Err(Error::invalid(
                "update_mask",
                "names user_info_endpoint.tls and one of its fields; name the whole or its fields",
            ));
        }
        let whole = convert::tls_settings(given.tls.as_ref())?;
        changes.tls_ca_cert = Some(whole.ca_cert);
        changes.tls_client_cert = Some(whole.client_cert);
        changes.tls_client_key = match (given.tls.is_some(), whole.client_key) {
            (_, Some(key)) => Some(SecretChange::Set(key)),
            (true, None) => None,
            (false, None) => Some(SecretChange::Remove),
        };
    }
    if let Some(ca) = mask.field("user_info_endpoint.tls.ca_cert_pem", || {
        convert::optional_certificates("user_info_endpoint.tls.ca_cert_pem", &tls.ca_cert_pem)
    })? {
        changes.tls_ca_cert = Some(ca);
    }
    if let Some(cert) = mask.field("user_info_endpoint.tls.client_cert_pem", || {
        convert::optional_certificates(
            "user_info_endpoint.tls.client_cert_pem",
            &tls.client_cert_pem,
        )
    })? {
        changes.tls_client_cert = Some(cert);
    }
    if let Some(key) = mask.field("user_info_endpoint.tls.client_key_pem", || {
        convert::optional_client_key(&tls.client_key_pem)
    })? {
        changes.tls_client_key = Some(key.map_or(SecretChange::Remove, SecretChange::Set));
    }
    Ok(Some(EndpointChange::Fields(changes)))
}

pub struct IamConfigApi {
    context: Context,
}

impl IamConfigApi {
    pub fn new(context: Context) -> Self {
        Self { context }
    }
}

#[tonic::async_trait]
impl IamConfig for IamConfigApi {
    async fn list_iams(
        &self,
        request: Request<proto::ListIamsRequest>,
    ) -> Result<Response<proto::ListIamsResponse>, Status> {
        let request = request.into_inner();
        let (iams, next_page_token) = page_of(
            request.page_size,
            &request.page_token,
            50,
            "",
            async |page| self.context.store.list_iams(page).await,
            |iam| iam.id.to_string(),
        )
        .await?;
        Ok(Response::new(proto::ListIamsResponse {
            iams: iams.into_iter().map(convert::iam).collect(),
            next_page_token,
        }))
    }

    async fn get_iam(
        &self,
        request: Request<proto::GetIamRequest>,
    ) -> Result<Response<proto::Iam>, Status> {
        let id = Id::parse("id", &request.get_ref().id)?;
        Ok(Response::new(convert::iam(
            self.context.store.get_iam(id).await?,
        )))
    }

    async fn create_iam(
        &self,
        request: Request<proto::CreateIamRequest>,
    ) -> Result<Response<proto::Iam>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let iam = NewIam {
            name: Name::parse("name", &request.name)?,
            endpoint: request
                .user_info_endpoint
                .as_ref()
                .map(|e| convert::endpoint_settings(e, self.context.user_info_addresses))
                .transpose()?,
            profile_schema: convert::profile_schema(&request.profile_schema)?,
        };
        let id = Id::new();
        let record = audit(&actor, "CreateIam", "iam", id).with_details(json!({
            "name": iam.name,
            "user_info_endpoint": iam.endpoint.as_ref().map(|e| endpoint_details(
                e.uri.as_str(),
                &e.basic_auth_username,
                e.basic_auth_password.is_some(),
                e.timeouts,
            )),
            "profile_schema": schema_details(&iam.profile_schema),
        }));
        let created = self.context.store.create_iam(id, iam, record).await?;
        Ok(committed(created, convert::iam))
    }

    async fn update_iam(
        &self,
        request: Request<proto::UpdateIamRequest>,
    ) -> Result<Response<proto::Iam>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let iam = request
            .iam
            .ok_or_else(|| Error::invalid("iam", "is required"))?;
        let id = Id::parse("iam.id", &iam.id)?;
        let mask = UpdateMask::parse(request.update_mask, &IAM_PATHS)?;
        let changes = IamChanges {
            name: mask.field("name", || Name::parse("iam.name", &iam.name))?,
            endpoint: endpoint_change(
                &mask,
                iam.user_info_endpoint.as_ref(),
                self.context.user_info_addresses,
            )?,
            profile_schema: mask.field("profile_schema", || {
                convert::profile_schema(&iam.profile_schema)
            })?,
        };
        let etag = update_etag(&request.etag, &iam.etag)?;
        let record = audit(&actor, "UpdateIam", "iam", id).with_details(json!({
            "update_mask": mask.paths(),
            "name": changes.name,
            "user_info_endpoint": changes.endpoint.as_ref().map(endpoint_change_details),
            "profile_schema": changes.profile_schema.as_deref().map(schema_details),
        }));
        let updated = self
            .context
            .store
            .update_iam(id, etag, changes, record)
            .await?;
        Ok(committed(updated, convert::iam))
    }

    async fn test_connection(
        &self,
        request: Request<proto::TestConnectionRequest>,
    ) -> Result<Response<proto::TestConnectionResponse>, Status> {
        let id = Id::parse("iam_id", &request.get_ref().iam_id)?;
        let (_, config) = self.context.store.iam_endpoint(id).await?;
        let started = Instant::now();
        let answer = match UserInfoClient::new(config, self.context.user_info_addresses) {
            Ok(client) => client.probe().await,
            Err(error) => Err(error),
        };
        let latency = started.elapsed();
        let (ok, http_status, error) = match answer {
            Ok(status @ (401 | 403)) => (
                false,
                status,
                format!("the endpoint refused the credentials (HTTP {status})"),
            ),
            Ok(status) => (true, status, String::new()),
            Err(error) => (false, error.http_status(), error.to_string()),
        };
        Ok(Response::new(proto::TestConnectionResponse {
            ok,
            http_status: i32::from(http_status),
            error,
            latency: prost_types::Duration::try_from(latency).ok(),
        }))
    }

    async fn test_user_login(
        &self,
        request: Request<proto::TestUserLoginRequest>,
    ) -> Result<Response<proto::TestUserLoginResponse>, Status> {
        let request = request.into_inner();
        let id = Id::parse("iam_id", &request.iam_id)?;
        let userid = bounded_text("userid", &request.userid, MAX_TEXT_CHARS)?;
        let (iam, config) = self.context.store.iam_endpoint(id).await?;
        let answer = match UserInfoClient::new(config, self.context.user_info_addresses) {
            Ok(client) => client.fetch(&userid).await,
            Err(error) => Err(error),
        };
        Ok(Response::new(match answer {
            Ok(info) => {
                let profile = ExternalProfile::parse(
                    &info.groups,
                    &info.authorizations,
                    &info.fields,
                    &iam.profile_schema,
                );
                let (usernames, error) = match profile {
                    Ok(profile) => (profile.usernames, String::new()),
                    Err(e) => (Vec::new(), format!("the answer cannot be synced: {e}")),
                };
                proto::TestUserLoginResponse {
                    ok: error.is_empty(),
                    http_status: 200,
                    error,
                    external_usernames: usernames
                        .into_iter()
                        .map(convert::external_username)
                        .collect(),
                    groups: info.groups,
                    authorizations: convert::attribute_map(info.authorizations),
                }
            }
            Err(error) => proto::TestUserLoginResponse {
                http_status: i32::from(error.http_status()),
                error: error.to_string(),
                ..Default::default()
            },
        }))
    }

    async fn sync_user(
        &self,
        request: Request<proto::SyncUserRequest>,
    ) -> Result<Response<proto::User>, Status> {
        let actor = principal(&request)?;
        let id = Id::parse("user_id", &request.get_ref().user_id)?;
        let (user, revision) = iam_sync::sync_user(
            self.context.store.as_ref(),
            id,
            actor.user_id,
            self.context.user_info_addresses,
        )
        .await?;
        Ok(match revision {
            Some(revision) => committed(
                Committed {
                    value: user,
                    revision,
                },
                convert::user,
            ),
            None => Response::new(convert::user(user)),
        })
    }

    async fn sync_all(
        &self,
        request: Request<proto::SyncAllRequest>,
    ) -> Result<Response<tonic::codegen::BoxStream<proto::SyncProgress>>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let iam = Id::parse("iam_id", &request.iam_id)?;
        let options = SyncAllOptions {
            dry_run: request.dry_run,
            concurrency: concurrency("concurrency", request.concurrency)?,
        };
        let reports = iam_sync::start_sync_all(
            self.context.store.clone(),
            iam,
            options,
            actor.user_id,
            self.context.user_info_addresses,
        )
        .await?;
        let stream = futures::stream::unfold(reports, |mut reports| async move {
            reports.recv().await.map(|report| (report, reports))
        })
        .map(|report| report.map(convert::sync_progress).map_err(Status::from));
        Ok(Response::new(Box::pin(stream)))
    }

    async fn delete_iam(
        &self,
        request: Request<proto::DeleteIamRequest>,
    ) -> Result<Response<()>, Status> {
        let actor = principal(&request)?;
        let id = Id::parse("id", &request.get_ref().id)?;
        let iam = self.context.store.get_iam(id).await?;
        let record = audit(&actor, "DeleteIam", "iam", id).with_details(iam_details(&iam));
        let deleted = self.context.store.delete_iam(id, record).await?;
        Ok(committed(deleted, |()| ()))
    }

    async fn get_settings(
        &self,
        _request: Request<proto::GetSettingsRequest>,
    ) -> Result<Response<proto::Settings>, Status> {
        Ok(Response::new(convert::settings(
            self.context.store.get_settings().await?,
        )))
    }

    async fn update_settings(
        &self,
        request: Request<proto::UpdateSettingsRequest>,
    ) -> Result<Response<proto::Settings>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let settings = request
            .settings
            .ok_or_else(|| Error::invalid("settings", "is required"))?;
        let mask = UpdateMask::parse(
            request.update_mask,
            &[
                "default_permissions",
                "admins_and_governors_mutually_exclusive",
            ],
        )?;
        let changes = SettingsChanges {
            default_permissions: mask.field("default_permissions", || {
                PermissionName::parse_all(
                    "settings.default_permissions",
                    &settings.default_permissions,
                )
            })?,
            admins_and_governors_mutually_exclusive: mask
                .field("admins_and_governors_mutually_exclusive", || {
                    Ok(settings.admins_and_governors_mutually_exclusive)
                })?,
        };
        let etag = update_etag(&request.etag, &settings.etag)?;
        let record = audit(&actor, "UpdateSettings", "settings", "settings").with_details(json!({
            "update_mask": mask.paths(),
            "default_permissions": changes.default_permissions,
            "admins_and_governors_mutually_exclusive": changes.admins_and_governors_mutually_exclusive,
        }));
        let updated = self
            .context
            .store
            .update_settings(etag, changes, record)
            .await?;
        Ok(committed(updated, convert::settings))
    }
}
