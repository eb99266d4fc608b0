//! The Groups service.

use serde_json::json;
use tonic::{Request, Response, Status};

use super::{
    Context, UpdateMask, audit, committed, convert, page_of, principal, search_query, update_etag,
};
use crate::domain::{
    Id, MAX_TEXT_CHARS, bounded_text,
    group::{GroupChanges, MAX_MEMBERS_PER_CALL, NewGroup, managing_iam, optional_email},
    name::{AttributeName, Description, Name},
    user::{Email, attribute_values},
};
use crate::error::{Error, Result};
use crate::proto::{self, groups_server::Groups};

pub struct GroupsApi {
    context: Context,
}

impl GroupsApi {
    pub fn new(context: Context) -> Self {
        Self { context }
    }
}

#[tonic::async_trait]
impl Groups for GroupsApi {
    async fn create_group(
        &self,
        request: Request<proto::CreateGroupRequest>,
    ) -> Result<Response<proto::Group>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let new = NewGroup {
            name: Name::parse("name", &request.name)?,
            description: Description::parse("description", &request.description)?,
            email: optional_email("email", &request.email)?,
            managed_by_iam: managing_iam("managed_by_iam_id", &request.managed_by_iam_id)?,
        };
        let id = Id::new();
        let record = audit(&actor, "CreateGroup", "group", id).with_details(json!({
            "name": new.name,
            "description": new.description,
            "email": new.email.as_ref().map(Email::as_str),
            "managed_by_iam_id": new.managed_by_iam.map(|id| id.to_string()),
        }));
        let created = self.context.store.create_group(id, new, record).await?;
        Ok(committed(created, convert::group))
    }

    async fn get_group(
        &self,
        request: Request<proto::GetGroupRequest>,
    ) -> Result<Response<proto::Group>, Status> {
        let id = Id::parse("id", &request.get_ref().id)?;
        Ok(Response::new(convert::group(
            self.context.store.get_group(id).await?,
        )))
    }

    async fn list_groups(
        &self,
        request: Request<proto::ListGroupsRequest>,
    ) -> Result<Response<proto::ListGroupsResponse>, Status> {
        let request = request.into_inner();
        let query = search_query(&request.query)?;
        let (groups, next_page_token) = page_of(
            request.page_size,
            &request.page_token,
            50,
            &format!("{query:?}"),
            async |page| self.context.store.list_groups(query.as_deref(), page).await,
            |group| group.id.to_string(),
        )
        .await?;
        Ok(Response::new(proto::ListGroupsResponse {
            groups: groups.into_iter().map(convert::group).collect(),
            next_page_token,
        }))
    }

    async fn update_group(
        &self,
        request: Request<proto::UpdateGroupRequest>,
    ) -> Result<Response<proto::Group>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let group = request
            .group
            .ok_or_else(|| Error::invalid("group", "is required"))?;
        let id = Id::parse("group.id", &group.id)?;
        let mask = UpdateMask::parse(
            request.update_mask,
            &["name", "description", "email", "managed_by_iam_id"],
        )?;
        let changes = GroupChanges {
            name: mask.field("name", || Name::parse("group.name", &group.name))?,
            description: mask.field("description", || {
                Description::parse("group.description", &group.description)
            })?,
            email: mask.field("email", || optional_email("group.email", &group.email))?,
            managed_by_iam: mask.field("managed_by_iam_id", || {
                managing_iam("group.managed_by_iam_id", &group.managed_by_iam_id)
            })?,
        };
        let etag = update_etag(&request.etag, &group.etag)?;
        let record = audit(&actor, "UpdateGroup", "group", id).with_details(json!({
            "update_mask": mask.paths(),
            "name": changes.name,
            "description": changes.description,
            "email": changes.email.as_ref().map(|e| e.as_ref().map(|e| e.as_str())),
            "managed_by_iam_id": changes
                .managed_by_iam
                .map(|iam| iam.map(|id| id.to_string())),
        }));
        let updated = self
            .context
            .store
            .update_group(id, etag, changes, record)
            .await?;
        Ok(committed(updated, convert::group))
    }

    async fn delete_group(
        &self,
        request: Request<proto::DeleteGroupRequest>,
    ) -> Result<Response<()>, Status> {
        let actor = principal(&request)?;
        let id = Id::parse("id", &request.get_ref().id)?;
        let group = self.context.store.get_group(id).await?;
        let record = audit(&actor, "DeleteGroup", "group", id)
            .with_details(json!({ "name": group.name, "member_count": group.member_count }));
        let deleted = self.context.store.delete_group(id, record).await?;
        Ok(committed(deleted, |()| ()))
    }

    async fn add_members(
        &self,
        request: Request<proto::AddMembersRequest>,
    ) -> Result<Response<proto::Group>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let id = Id::parse("group_id", &request.group_id)?;
        if request.user_ids.is_empty() {
            return Err(Error::invalid("user_ids", "needs at least one user id").into());
        }
        if request.user_ids.len() > MAX_MEMBERS_PER_CALL {
            return Err(Error::invalid(
                "user_ids",
                format!("takes at most {MAX_MEMBERS_PER_CALL} ids per call"),
            )
            .into());
        }
        let mut user_ids = request
            .user_ids
            .iter()
            .map(|u| Id::parse("user_ids", u))
            .collect::<Result<Vec<_>>>()?;
        user_ids.sort();
        user_ids.dedup();
        let record = audit(&actor, "AddMembers", "group", id).with_details(
            json!({ "user_ids": user_ids.iter().map(Id::to_string).collect::<Vec<_>>() }),
        );
        let changed = self
            .context
            .store
            .add_members(id, &user_ids, record)
            .await?;
        Ok(committed(changed, convert::group))
    }

    async fn remove_member(
        &self,
        request: Request<proto::RemoveMemberRequest>,
    ) -> Result<Response<proto::Group>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let id = Id::parse("group_id", &request.group_id)?;
        let user_id = Id::parse("user_id", &request.user_id)?;
        let record = audit(&actor, "RemoveMember", "group", id)
            .with_details(json!({ "user_id": user_id.to_string() }));
        let changed = self
            .context
            .store
            .remove_member(id, user_id, record)
            .await?;
        Ok(committed(changed, convert::group))
    }

    async fn list_members(
        &self,
        request: Request<proto::ListMembersRequest>,
    ) -> Result<Response<proto::ListMembersResponse>, Status> {
        let request = request.into_inner();
        let id = Id::parse("group_id", &request.group_id)?;
        let query = search_query(&request.query)?;
        let (users, next_page_token) = page_of(
            request.page_size,
            &request.page_token,
            50,
            &format!("{id}|{query:?}"),
            async |page| {
                self.context
                    .store
                    .list_members(id, query.as_deref(), page)
                    .await
            },
            |user| user.id.to_string(),
        )
        .await?;
        Ok(Response::new(proto::ListMembersResponse {
            users: users.into_iter().map(convert::user).collect(),
            next_page_token,
        }))
    }

    async fn add_group_attribute(
        &self,
        request: Request<proto::AddGroupAttributeRequest>,
    ) -> Result<Response<proto::Group>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let id = Id::parse("group_id", &request.group_id)?;
        let name = AttributeName::parse("attribute", &request.attribute)?;
        let values = attribute_values("values", &request.values)?;
        let record = audit(&actor, "AddGroupAttribute", "group", id)
            .with_details(json!({ "attribute": name, "values": values }));
        let changed = self
            .context
            .store
            .add_group_attribute(id, &name, &values, record)
            .await?;
        Ok(committed(changed, convert::group))
    }

    async fn remove_group_attribute_value(
        &self,
        request: Request<proto::RemoveGroupAttributeValueRequest>,
    ) -> Result<Response<proto::Group>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let id = Id::parse("group_id", &request.group_id)?;
        let name = AttributeName::parse("attribute", &request.attribute)?;
        let value = bounded_text("value", &request.value, MAX_TEXT_CHARS)?;
        let record = audit(&actor, "RemoveGroupAttributeValue", "group", id)
            .with_details(json!({ "attribute": name, "value": value }));
        let changed = self
            .context
            .store
            .remove_group_attribute_value(id, &name, &value, record)
            .await?;
        Ok(committed(changed, convert::group))
    }
}
