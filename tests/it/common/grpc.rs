//! Helpers for the tests over real gRPC: users and keys made by the admin, refusals, paging,
//! the audit head, and tables of calls that must be refused.

use std::{collections::BTreeSet, fmt::Debug, future::Future, pin::Pin, str::FromStr};

use personae::{api::CONSISTENCY_TOKEN_HEADER, proto};
use prost::Message;
use tonic::{Code, Response, Status};

use super::TestServer;

/// Asserts that `result` is a refusal with `code` whose message names `field` (an empty
/// `field` is refused: every refusal must say something checkable).
#[track_caller]
pub(crate) fn assert_refused<T: Debug>(result: Result<T, Status>, code: Code, field: &str) {
    check_refusal("the call", result, code, field);
}

#[track_caller]
fn check_refusal<T: Debug>(what: &str, result: Result<T, Status>, code: Code, field: &str) {
    assert!(!field.is_empty(), "{what}: name what the message must say");
    let status = match result {
        Ok(value) => panic!("{what} must be refused with {code:?}, but answered {value:?}"),
        Err(status) => status,
    };
    assert_eq!(status.code(), code, "{what}: {status:?}");
    assert!(
        status.message().contains(field),
        "{what}: the message {:?} must name {field:?}",
        status.message()
    );
}

/// A call prepared but not yet sent, with its source text for failure messages. Build one
/// with [`call!`](crate::call).
pub(crate) struct Call {
    pub what: &'static str,
    pub future: Pin<Box<dyn Future<Output = Result<String, Status>> + Send>>,
}

/// `call!(client.method(request))`: the call on a clone of `client`, sent when awaited.
#[macro_export]
macro_rules! call {
    ($client:ident . $method:ident ( $($request:tt)* )) => {{
        let mut client = $client.clone();
        let request = $($request)*;
        $crate::common::grpc::Call {
            what: stringify!($client.$method($($request)*)),
            future: Box::pin(async move {
                client
                    .$method(request)
                    .await
                    .map(|response| format!("{:?}", response.into_inner()))
            }),
        }
    }};
}

/// Sends each call in turn: each must be refused with its code and a message naming its field,
/// and must leave the users and the audit log as they were.
pub(crate) async fn assert_each_refused_changing_nothing(
    server: &TestServer,
    cases: Vec<(Call, Code, &str)>,
) {
    assert!(!cases.is_empty());
    let mut before = snapshot(server).await;
    for (call, code, field) in cases {
        let result = call.future.await;
        check_refusal(call.what, result, code, field);
        let after = snapshot(server).await;
        assert_eq!(
            after, before,
            "{}: a refused call must change nothing",
            call.what
        );
        before = after;
    }
}

/// Everything the store holds that a refused call must leave alone: every user, and the audit
/// head, which every change moves.
pub(crate) async fn snapshot(server: &TestServer) -> (Vec<proto::User>, (i64, String)) {
    (all_users(server).await, server.audit_head().await)
}

impl TestServer {
    /// The sequence and hash of the last audit event.
    pub(crate) async fn audit_head(&self) -> (i64, String) {
        self.store.store.audit_head().await.expect("audit head")
    }

    /// The answer of VerifyAuditChain.
    pub(crate) async fn verify_audit_chain(&self) -> proto::VerifyAuditChainResponse {
        self.audit(self.admin())
            .verify_audit_chain(proto::VerifyAuditChainRequest {})
            .await
            .expect("verify the audit chain")
            .into_inner()
    }
}

/// Calls `path` with an empty request, as any client of any language could.
pub(crate) async fn call_empty(
    server: &TestServer,
    path: &str,
    auth: Option<&str>,
) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(server.channel());
    grpc.ready()
        .await
        .map_err(|e| Status::unknown(e.to_string()))?;
    let mut request = tonic::Request::new(());
    if let Some(token) = auth {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    let path = http::uri::PathAndQuery::from_str(path).unwrap();
    grpc.unary::<(), (), _>(request, path, tonic_prost::ProstCodec::default())
        .await
        .map(|_| ())
}

/// The first 1000 audit events, as text, for checking what they say and never say.
pub(crate) async fn audit_log(server: &TestServer) -> String {
    let events = server
        .audit(server.admin())
        .list_audit_events(proto::ListAuditEventsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("list the audit log")
        .into_inner();
    format!("{events:?}")
}

/// The consistency token a mutation returns.
pub(crate) fn token<T>(response: &Response<T>) -> i64 {
    response
        .metadata()
        .get(CONSISTENCY_TOKEN_HEADER)
        .expect("mutations return a consistency token")
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// A person created by the admin, named after the email.
pub(crate) async fn create_user(server: &TestServer, email: &str) -> proto::User {
    server
        .users(server.admin())
        .create_user(proto::CreateUserRequest {
            email: email.into(),
            full_name: format!("Name of {email}"),
            ..Default::default()
        })
        .await
        .expect("create user")
        .into_inner()
}

/// The bootstrap admin, as the admin reads it.
pub(crate) async fn bootstrap_admin(server: &TestServer) -> proto::User {
    server
        .users(server.admin())
        .get_user(proto::GetUserRequest {
            user: Some(proto::get_user_request::User::Username(
                personae::bootstrap::BOOTSTRAP_ADMIN_EMAIL.into(),
            )),
        })
        .await
        .expect("read the bootstrap admin")
        .into_inner()
}

/// A role holding `permissions`, created by the admin.
pub(crate) async fn create_role(
    server: &TestServer,
    name: &str,
    permissions: &[&str],
) -> proto::Role {
    server
        .permissions(server.admin())
        .create_role(proto::CreateRoleRequest {
            name: name.into(),
            description: String::new(),
            permissions: permissions.iter().map(|p| p.to_string()).collect(),
        })
        .await
        .expect("create a role")
        .into_inner()
}

/// Assigns role `role_id` to group `group_id` globally, as the admin.
pub(crate) async fn assign_to_group(server: &TestServer, role_id: &str, group_id: &str) {
    server
        .permissions(server.admin())
        .assign_role(proto::AssignRoleRequest {
            principal: Some(proto::assign_role_request::Principal::GroupId(
                group_id.into(),
            )),
            role_id: role_id.into(),
            tenant_id: String::new(),
        })
        .await
        .expect("assign a role to a group");
}

/// A group named `name`, created by the admin, managed here only.
pub(crate) async fn create_group(server: &TestServer, name: &str) -> proto::Group {
    server
        .groups(server.admin())
        .create_group(proto::CreateGroupRequest {
            name: name.into(),
            ..Default::default()
        })
        .await
        .expect("create a group")
        .into_inner()
}

/// Adds `user_id` to group `group_id`, as the admin.
pub(crate) async fn add_member(server: &TestServer, group_id: &str, user_id: &str) {
    server
        .groups(server.admin())
        .add_members(proto::AddMembersRequest {
            group_id: group_id.into(),
            user_ids: vec![user_id.into()],
        })
        .await
        .expect("add a member");
}

/// An IAM created by the admin: named `name`, calling `endpoint` (None: no user-info endpoint),
/// with `profile_schema`.
pub(crate) async fn create_iam(
    server: &TestServer,
    name: &str,
    endpoint: Option<proto::UserInfoEndpoint>,
    profile_schema: Vec<proto::ProfileSchemaEntry>,
) -> proto::Iam {
    server
        .iam_config(server.admin())
        .create_iam(proto::CreateIamRequest {
            name: name.into(),
            user_info_endpoint: endpoint,
            profile_schema,
        })
        .await
        .expect("create an IAM")
        .into_inner()
}

/// A profile schema entry: the user's name on `platform` is the user-info attribute `attribute`.
pub(crate) fn schema_entry(
    platform: proto::Platform,
    attribute: &str,
) -> proto::ProfileSchemaEntry {
    proto::ProfileSchemaEntry {
        platform: platform as i32,
        attribute: attribute.into(),
        ..Default::default()
    }
}

/// UpdateIam of `iam` as it is given, the mask naming `paths`, with no etag.
pub(crate) fn update_iam(iam: &proto::Iam, paths: &[&str]) -> proto::UpdateIamRequest {
    proto::UpdateIamRequest {
        iam: Some(iam.clone()),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }),
        etag: String::new(),
    }
}

/// TestUserLogin of `userid` through IAM `iam_id`, as the admin: what the endpoint answered.
pub(crate) async fn test_user_login(
    server: &TestServer,
    iam_id: &str,
    userid: &str,
) -> proto::TestUserLoginResponse {
    server
        .iam_config(server.admin())
        .test_user_login(proto::TestUserLoginRequest {
            iam_id: iam_id.into(),
            userid: userid.into(),
        })
        .await
        .expect("TestUserLogin reports what the endpoint did")
        .into_inner()
}

/// A new API key for `user_id`, made by the admin: its description and its secret.
pub(crate) async fn create_key(server: &TestServer, user_id: &str) -> proto::CreateApiKeyResponse {
    server
        .users(server.admin())
        .create_api_key(proto::CreateApiKeyRequest {
            user_id: user_id.into(),
            display_name: "test".into(),
            ..Default::default()
        })
        .await
        .expect("create key")
        .into_inner()
}

/// The secret of a new API key for `user_id`.
pub(crate) async fn key_for(server: &TestServer, user_id: &str) -> String {
    create_key(server, user_id).await.secret
}

/// A new user with an API key: the user and the key's secret.
pub(crate) async fn user_with_key(server: &TestServer, email: &str) -> (proto::User, String) {
    let user = create_user(server, email).await;
    let key = key_for(server, &user.id).await;
    (user, key)
}

/// Grants `permission` to `user_id` directly, as the admin.
pub(crate) async fn grant(server: &TestServer, user_id: &str, permission: &str) {
    server
        .permissions(server.admin())
        .grant_permission(proto::GrantPermissionRequest {
            user_id: user_id.into(),
            permission: permission.into(),
        })
        .await
        .expect("grant permission");
}

/// Every item of a list, page after page: `fetch(page_token)` answers one page and the next
/// token. Checks that every page but the last is full and that tokens never repeat.
pub(crate) async fn all_pages<T, F, Fut>(page_size: usize, mut fetch: F) -> Vec<T>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, String), Status>>,
{
    assert!(page_size > 0);
    let mut items = Vec::new();
    let mut seen = BTreeSet::new();
    let mut page_token = String::new();
    loop {
        let (page, next) = fetch(page_token).await.expect("list a page");
        assert!(page.len() <= page_size, "{} items on a page", page.len());
        let full = page.len() == page_size;
        items.extend(page);
        if next.is_empty() {
            return items;
        }
        assert!(full, "a page followed by another is full");
        assert!(seen.insert(next.clone()), "the token {next:?} came twice");
        page_token = next;
    }
}

/// Every user, disabled ones included, in pages of 100.
pub(crate) async fn all_users(server: &TestServer) -> Vec<proto::User> {
    let users = server.users(server.admin());
    all_pages(100, |page_token| {
        let mut users = users.clone();
        async move {
            let page = users
                .list_users(proto::ListUsersRequest {
                    include_disabled: true,
                    page_size: 100,
                    page_token,
                    ..Default::default()
                })
                .await?
                .into_inner();
            Ok((page.users, page.next_page_token))
        }
    })
    .await
}

/// The path of every RPC of the API, from its file descriptor set.
pub(crate) fn every_rpc() -> Vec<String> {
    let fds = prost_types::FileDescriptorSet::decode(personae::proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut paths = Vec::new();
    for file in &fds.file {
        for service in &file.service {
            for method in &service.method {
                paths.push(format!(
                    "/{}.{}/{}",
                    file.package(),
                    service.name(),
                    method.name()
                ));
            }
        }
    }
    paths
}
