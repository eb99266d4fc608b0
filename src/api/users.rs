//! The Users service.

use serde_json::json;
use tonic::{Request, Response, Status};

use super::{
    Context, UpdateMask, audit, committed, convert, page_of, principal, search_query, update_etag,
};
use crate::domain::{
    self, BUILT_IN_IAM_ID, Id, MAX_TEXT_CHARS, api_key, bounded_text,
    client_certificate::{self, CertificateUri},
    external::ExternalUsername,
    name::AttributeName,
    permission::{PermissionName, USER_ADMIN},
    usage,
    user::{DELETE_CONFIRMATION, Email, FullName, NewUser, UserChanges, attribute_values},
};
use crate::error::{Error, Result};
use crate::proto::{self, get_user_request::User as UserSelector, users_server::Users};
use crate::store::{NewApiKey, UserFilter, UserKey};

pub struct UsersApi {
    context: Context,
}

impl UsersApi {
    pub fn new(context: Context) -> Self {
        Self { context }
    }
}

#[tonic::async_trait]
impl Users for UsersApi {
    async fn create_user(
        &self,
        request: Request<proto::CreateUserRequest>,
    ) -> Result<Response<proto::User>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let new = NewUser {
            email: Email::parse("email", &request.email)?,
            full_name: FullName::parse("full_name", &request.full_name)?,
            kind: convert::user_kind(request.kind)?,
            iam_id: Id::parse_optional("iam_id", &request.iam_id)?.unwrap_or(BUILT_IN_IAM_ID),
        };
        let id = Id::new();
        let record = audit(&actor, "CreateUser", "user", id).with_details(json!({
            "email": new.email.as_str(),
            "full_name": new.full_name.as_str(),
            "kind": new.kind.as_str(),
            "iam_id": new.iam_id.to_string(),
        }));
        let created = self.context.store.create_user(id, new, record).await?;
        Ok(committed(created, convert::user))
    }

    async fn get_user(
        &self,
        request: Request<proto::GetUserRequest>,
    ) -> Result<Response<proto::User>, Status> {
        let actor = principal(&request)?;
        let key = match request.into_inner().user {
            Some(UserSelector::Id(id)) => UserKey::Id(Id::parse("id", &id)?),
            Some(UserSelector::Username(name)) if !name.is_empty() => UserKey::Username(name),
            _ => return Err(Error::invalid("id", "id or username is required").into()),
        };
        if let UserKey::Id(id) = key {
            actor.require_self_or(id, USER_ADMIN)?;
        }
        let found = self.context.store.get_user(&key).await;
        // Without USER_ADMIN a caller may only see itself, and learns nothing about others,
        // not even whether a username exists.
        let user = actor.require_own_or(found, |user| user.id, USER_ADMIN)?;
        Ok(Response::new(convert::user(user)))
    }

    async fn list_users(
        &self,
        request: Request<proto::ListUsersRequest>,
    ) -> Result<Response<proto::ListUsersResponse>, Status> {
        let request = request.into_inner();
        let filter = UserFilter {
            query: search_query(&request.query)?,
            include_disabled: request.include_disabled,
            group_id: Id::parse_optional("group_id", &request.group_id)?,
            permission: (!request.permission.is_empty())
                .then(|| PermissionName::parse("permission", &request.permission))
                .transpose()?,
            iam_id: Id::parse_optional("iam_id", &request.iam_id)?,
        };
        let (users, next_page_token) = page_of(
            request.page_size,
            &request.page_token,
            50,
            &format!("{filter:?}"),
            async |page| self.context.store.list_users(&filter, page).await,
            |user| user.id.to_string(),
        )
        .await?;
        Ok(Response::new(proto::ListUsersResponse {
            users: users.into_iter().map(convert::user).collect(),
            next_page_token,
        }))
    }

    async fn update_user(
        &self,
        request: Request<proto::UpdateUserRequest>,
    ) -> Result<Response<proto::User>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let user = request
            .user
            .ok_or_else(|| Error::invalid("user", "is required"))?;
        let id = Id::parse("user.id", &user.id)?;
        let mask = UpdateMask::parse(
            request.update_mask,
            &["full_name", "email", "certificate_uris"],
        )?;
        let changes = UserChanges {
            full_name: mask.field("full_name", || {
                FullName::parse("user.full_name", &user.full_name)
            })?,
            email: mask.field("email", || Email::parse("user.email", &user.email))?,
            certificate_uris: mask.field("certificate_uris", || {
                client_certificate::certificate_uris(
                    "user.certificate_uris",
                    &user.certificate_uris,
                )
            })?,
        };
        let etag = update_etag(&request.etag, &user.etag)?;
        let record = audit(&actor, "UpdateUser", "user", id).with_details(json!({
            "update_mask": mask.paths(),
            "full_name": changes.full_name.as_ref().map(FullName::as_str),
            "email": changes.email.as_ref().map(Email::as_str),
            "certificate_uris": changes.certificate_uris.as_ref().map(|uris| {
                uris.iter().map(CertificateUri::as_str).collect::<Vec<_>>()
            }),
        }));
        let updated = self
            .context
            .store
            .update_user(id, etag, changes, record)
            .await?;
        Ok(committed(updated, convert::user))
    }

    async fn disable_user(
        &self,
        request: Request<proto::DisableUserRequest>,
    ) -> Result<Response<proto::User>, Status> {
        let actor = principal(&request)?;
        let id = Id::parse("id", &request.get_ref().id)?;
        let record = audit(&actor, "DisableUser", "user", id);
        let changed = self
            .context
            .store
            .set_user_disabled(id, true, record)
            .await?;
        Ok(committed(changed, convert::user))
    }

    async fn enable_user(
        &self,
        request: Request<proto::EnableUserRequest>,
    ) -> Result<Response<proto::User>, Status> {
        let actor = principal(&request)?;
        let id = Id::parse("id", &request.get_ref().id)?;
        let record = audit(&actor, "EnableUser", "user", id);
        let changed = self
            .context
            .store
            .set_user_disabled(id, false, record)
            .await?;
        Ok(committed(changed, convert::user))
    }

    async fn delete_user(
        &self,
        request: Request<proto::DeleteUserRequest>,
    ) -> Result<Response<()>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let id = Id::parse("id", &request.id)?;
        if request.confirm != DELETE_CONFIRMATION {
            return Err(Error::invalid(
                "confirm",
                format!("must be the word {DELETE_CONFIRMATION:?} to delete the user permanently"),
            )
            .into());
        }
        let user = self.context.store.get_user(&UserKey::Id(id)).await?;
        let record = audit(&actor, "DeleteUser", "user", id).with_details(json!({
            "username": user.username,
            "email": user.email,
            "full_name": user.full_name,
        }));
        let deleted = self.context.store.delete_user(id, record).await?;
        Ok(committed(deleted, |()| ()))
    }

    async fn set_external_username(
        &self,
        request: Request<proto::SetExternalUsernameRequest>,
    ) -> Result<Response<proto::User>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let id = Id::parse("user_id", &request.user_id)?;
        let name = ExternalUsername::new(
            convert::platform(request.platform)?,
            &request.username,
            convert::aws_user_type("aws_user_type", request.aws_user_type)?,
        )?;
        let record = audit(&actor, "SetExternalUsername", "user", id).with_details(json!({
            "platform": name.platform.as_str(),
            "username": name.username,
            "aws_user_type": name.aws_user_type.map(|t| t.as_str()),
        }));
        let changed = self
            .context
            .store
            .set_external_username(id, name, record)
            .await?;
        Ok(committed(changed, convert::user))
    }

    async fn clear_external_username(
        &self,
        request: Request<proto::ClearExternalUsernameRequest>,
    ) -> Result<Response<proto::User>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let id = Id::parse("user_id", &request.user_id)?;
        let platform = convert::platform(request.platform)?;
        let record = audit(&actor, "ClearExternalUsername", "user", id)
            .with_details(json!({ "platform": platform.as_str() }));
        let changed = self
            .context
            .store
            .clear_external_username(id, platform, record)
            .await?;
        Ok(committed(changed, convert::user))
    }

    async fn add_user_attribute(
        &self,
        request: Request<proto::AddUserAttributeRequest>,
    ) -> Result<Response<proto::User>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let id = Id::parse("user_id", &request.user_id)?;
        let name = AttributeName::parse("attribute", &request.attribute)?;
        let values = attribute_values("values", &request.values)?;
        let record = audit(&actor, "AddUserAttribute", "user", id)
            .with_details(json!({ "attribute": name, "values": values }));
        let changed = self
            .context
            .store
            .add_user_attribute(id, &name, &values, record)
            .await?;
        Ok(committed(changed, convert::user))
    }

    async fn remove_user_attribute_value(
        &self,
        request: Request<proto::RemoveUserAttributeValueRequest>,
    ) -> Result<Response<proto::User>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let id = Id::parse("user_id", &request.user_id)?;
        let name = AttributeName::parse("attribute", &request.attribute)?;
        let value = bounded_text("value", &request.value, MAX_TEXT_CHARS)?;
        let record = audit(&actor, "RemoveUserAttributeValue", "user", id)
            .with_details(json!({ "attribute": name, "value": value }));
        let changed = self
            .context
            .store
            .remove_user_attribute_value(id, &name, &value, record)
            .await?;
        Ok(committed(changed, convert::user))
    }

    async fn create_api_key(
        &self,
        request: Request<proto::CreateApiKeyRequest>,
    ) -> Result<Response<proto::CreateApiKeyResponse>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let user_id = Id::parse_optional("user_id", &request.user_id)?.unwrap_or(actor.user_id);
        actor.require_self_or(user_id, USER_ADMIN)?;
        let display_name = match request.display_name.trim() {
            "" => String::new(),
            name => bounded_text("display_name", name, MAX_TEXT_CHARS)?,
        };
        let asked = request
            .expire_time
            .as_ref()
            .map(|t| convert::parse_timestamp("expire_time", t))
            .transpose()?;
        let expire_time = api_key::new_key_expiry(
            asked,
            actor.key_expire_time,
            actor.has(USER_ADMIN),
            domain::now(),
        )?;
        let generated = api_key::generate();
        let key = NewApiKey {
            id: generated.key_id,
            user_id,
            display_name,
            secret_hash: generated.secret_hash,
            expire_time,
        };
        let record = audit(&actor, "CreateApiKey", "api_key", key.id).with_details(json!({
            "user_id": user_id.to_string(),
            "display_name": key.display_name,
            "expire_time": expire_time.map(|t| t.to_rfc3339()),
        }));
        self.context.self_service.admit(&actor, user_id)?;
        let created = self
            .context
            .store
            .create_api_key(key, self.context.max_api_keys_per_user, record)
            .await?;
        Ok(committed(created, |key| proto::CreateApiKeyResponse {
            api_key: Some(convert::api_key(key)),
            secret: generated.token,
        }))
    }

    async fn list_api_keys(
        &self,
        request: Request<proto::ListApiKeysRequest>,
    ) -> Result<Response<proto::ListApiKeysResponse>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let user_id = Id::parse_optional("user_id", &request.user_id)?.unwrap_or(actor.user_id);
        actor.require_self_or(user_id, USER_ADMIN)?;
        let (keys, next_page_token) = page_of(
            request.page_size,
            &request.page_token,
            50,
            &format!(
                "user_id={user_id} include_revoked={}",
                request.include_revoked
            ),
            async |page| {
                self.context
                    .store
                    .list_api_keys(user_id, request.include_revoked, page)
                    .await
            },
            |key| key.id.to_string(),
        )
        .await?;
        Ok(Response::new(proto::ListApiKeysResponse {
            api_keys: keys.into_iter().map(convert::api_key).collect(),
            next_page_token,
        }))
    }

    async fn migrate_user(
        &self,
        request: Request<proto::MigrateUserRequest>,
    ) -> Result<Response<proto::User>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let id = Id::parse("id", &request.id)?;
        let target_iam = Id::parse("target_iam_id", &request.target_iam_id)?;
        let new_username = (!request.new_username.is_empty())
            .then(|| Email::parse("new_username", &request.new_username))
            .transpose()?;
        let record = audit(&actor, "MigrateUser", "user", id).with_details(json!({
            "target_iam_id": target_iam.to_string(),
            "new_username": new_username.as_ref().map(Email::as_str),
        }));
        let migrated = self
            .context
            .store
            .migrate_user(id, target_iam, new_username, record)
            .await?;
        Ok(committed(migrated, convert::user))
    }

    async fn get_usage_metrics(
        &self,
        request: Request<proto::GetUsageMetricsRequest>,
    ) -> Result<Response<proto::GetUsageMetricsResponse>, Status> {
        let days = usage::parse_days("days", request.get_ref().days)?;
        let today = domain::now().date_naive();
        let first = usage::first_day(today, days);
        let counts = self.context.store.usage_counts(&first.to_string()).await?;
        let daily = usage::daily(first, today, &counts);
        let document = convert::json_struct(json!({ "days": daily }));
        Ok(Response::new(proto::GetUsageMetricsResponse {
            days: daily.into_iter().map(convert::daily_usage).collect(),
            document: Some(document),
        }))
    }

    async fn revoke_api_key(
        &self,
        request: Request<proto::RevokeApiKeyRequest>,
    ) -> Result<Response<proto::ApiKey>, Status> {
        let actor = principal(&request)?;
        let id = Id::parse("id", &request.get_ref().id)?;
        let found = self.context.store.get_api_key(id).await;
        let key = actor.require_own_or(found, |key| key.user_id, USER_ADMIN)?;
        self.context.self_service.admit(&actor, key.user_id)?;
        let record = audit(&actor, "RevokeApiKey", "api_key", id)
            .with_details(json!({ "user_id": key.user_id.to_string() }));
        let revoked = self.context.store.revoke_api_key(id, record).await?;
        Ok(committed(revoked, convert::api_key))
    }
}
