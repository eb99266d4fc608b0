//! Helpers for the Store conformance suites: users, audit records, pages and the audit head,
//! straight on the store.

use std::{collections::BTreeSet, future::Future, pin::Pin};

use personae::{
    domain::{
        BUILT_IN_IAM_ID, Id,
        address::AddressPolicy,
        audit::{AuditRecord, ChainVerifier},
        group::NewGroup,
        iam::{EndpointSettings, EndpointUri, NewIam, Password},
        page::PageRequest,
        permission,
        role::{AssignmentKey, Grantee, NewRole},
        user::{Email, FullName, NewUser, User, UserKind},
    },
    error::{Error, Result},
    store::{Store, UserFilter},
};

use super::values::{named, perm, perms};

/// An audit record for `action` on `target`, by no one in particular.
pub(crate) fn record(action: &'static str, target: impl ToString) -> AuditRecord {
    AuditRecord::new(None, action, "test", target)
}

/// A person in the built-in identity manager, named after the email.
pub(crate) fn new_user(email: &str) -> NewUser {
    NewUser {
        email: Email::parse("email", email).unwrap(),
        full_name: FullName::parse("full_name", &format!("Name of {email}")).unwrap(),
        kind: UserKind::Person,
        iam_id: BUILT_IN_IAM_ID,
    }
}

/// Creates [`new_user`]`(email)` and returns its id.
pub(crate) async fn create_user(store: &dyn Store, email: &str) -> Id {
    let id = Id::new();
    store
        .create_user(id, new_user(email), record("CreateUser", id))
        .await
        .expect("create user");
    id
}

/// Creates [`new_user`]`(email)` in IAM `iam` and returns its id.
pub(crate) async fn create_user_of(store: &dyn Store, iam: Id, email: &str) -> Id {
    let id = Id::new();
    let mut user = new_user(email);
    user.iam_id = iam;
    store
        .create_user(id, user, record("CreateUser", id))
        .await
        .expect("create a user of the IAM");
    id
}

/// A new user holding USER_ADMIN directly.
pub(crate) async fn make_admin(store: &dyn Store, email: &str) -> Id {
    let id = create_user(store, email).await;
    store
        .grant_permission(
            id,
            &perm(permission::USER_ADMIN),
            record("GrantPermission", id),
        )
        .await
        .expect("grant USER_ADMIN");
    id
}

/// Grants permission `name` to `user` directly.
pub(crate) async fn grant(store: &dyn Store, user: Id, name: &str) {
    store
        .grant_permission(user, &perm(name), record("GrantPermission", user))
        .await
        .expect("grant a permission");
}

/// A group named `name`, with no description or email, managed here only.
pub(crate) fn new_group(name: &str) -> NewGroup {
    NewGroup {
        name: named(name),
        description: Default::default(),
        email: None,
        managed_by_iam: None,
    }
}

/// Creates [`new_group`]`(name)` and returns its id.
pub(crate) async fn create_group(store: &dyn Store, name: &str) -> Id {
    let id = Id::new();
    store
        .create_group(id, new_group(name), record("CreateGroup", id))
        .await
        .expect("create a group");
    id
}

/// Creates a role named `name` holding `permissions` and returns its id.
pub(crate) async fn create_role(store: &dyn Store, name: &str, permissions: &[&str]) -> Id {
    let id = Id::new();
    let role = NewRole {
        name: named(name),
        description: Default::default(),
        permissions: perms(permissions),
    };
    store
        .create_role(id, role, record("CreateRole", id))
        .await
        .expect("create a role");
    id
}

/// Assigns role `role_id` to `grantee`, in `tenant_id` or globally.
pub(crate) async fn assign_role(
    store: &dyn Store,
    grantee: Grantee,
    role_id: Id,
    tenant_id: Option<Id>,
) {
    let key = AssignmentKey {
        grantee,
        role_id,
        tenant_id,
    };
    store
        .assign_role(Id::new(), key, record("AssignRole", role_id))
        .await
        .expect("assign a role");
}

/// An IAM named `name` calling `endpoint` (None: no user-info endpoint), with no profile schema.
pub(crate) fn new_iam(name: &str, endpoint: Option<EndpointSettings>) -> NewIam {
    NewIam {
        name: named(name),
        endpoint,
        profile_schema: Vec::new(),
    }
}

/// A user-info endpoint at a public name, https://iam.example.com/, with basic auth as `svc`
/// with `password`, and the default TLS settings and timeouts.
pub(crate) fn example_endpoint(password: &str) -> EndpointSettings {
    EndpointSettings {
        uri: EndpointUri::parse("uri", "https://iam.example.com/", AddressPolicy::default())
            .unwrap(),
        basic_auth_username: "svc".into(),
        basic_auth_password: Some(Password::parse("password", password).unwrap()),
        tls: Default::default(),
        timeouts: Default::default(),
    }
}

/// Creates [`new_iam`]`(name, None)` and returns its id.
pub(crate) async fn create_iam(store: &dyn Store, name: &str) -> Id {
    let id = Id::new();
    store
        .create_iam(id, new_iam(name, None), record("CreateIam", id))
        .await
        .expect("create an IAM");
    id
}

/// The first page of `size` items.
pub(crate) fn page(size: i32) -> PageRequest {
    PageRequest::parse(size, "", 50, "").unwrap()
}

/// Every item of a store list, `size` at a time: `fetch(request)` answers a page plus the probe
/// for the next, and `key` names an item as the page token does. Checks that every page but the
/// last is full and that tokens never repeat.
pub(crate) async fn all_pages<T>(
    size: i32,
    key: impl Fn(&T) -> String,
    mut fetch: impl AsyncFnMut(&PageRequest) -> Result<Vec<T>>,
) -> Vec<T> {
    let mut items = Vec::new();
    let mut seen = BTreeSet::new();
    let mut request = page(size);
    loop {
        let mut found = fetch(&request).await.expect("list a page");
        let token = request.finish(&mut found, &key);
        let full = found.len() == request.size;
        items.extend(found);
        if token.is_empty() {
            return items;
        }
        assert!(full, "a page followed by another is full");
        assert!(seen.insert(token.clone()), "the token {token:?} came twice");
        request = PageRequest::parse(size, &token, 50, "").unwrap();
    }
}

/// Every user with `filter`, `size` at a time, in id order.
pub(crate) async fn list_all_users(store: &dyn Store, filter: &UserFilter, size: i32) -> Vec<User> {
    all_pages(
        size,
        |u: &User| u.id.to_string(),
        async |request| store.list_users(filter, request).await,
    )
    .await
}

/// Every user, disabled ones included.
pub(crate) async fn all_users(store: &dyn Store) -> Vec<User> {
    let filter = UserFilter {
        include_disabled: true,
        ..Default::default()
    };
    list_all_users(store, &filter, 100).await
}

/// The sequence and hash of the last audit event.
pub(crate) async fn audit_head(store: &dyn Store) -> (i64, String) {
    store.audit_head().await.expect("audit head")
}

/// The sequence of the last audit event.
pub(crate) async fn head(store: &dyn Store) -> i64 {
    audit_head(store).await.0
}

/// Checks the whole audit chain up to the head; returns how many events it holds.
pub(crate) async fn verify_chain(store: &dyn Store) -> i64 {
    let events = store.audit_events_after(0, 100_000).await.unwrap();
    let mut verifier = ChainVerifier::default();
    for event in &events {
        verifier.check(event).unwrap();
    }
    let (sequence, hash) = audit_head(store).await;
    verifier.finish(sequence, &hash).unwrap();
    verifier.checked
}

/// Asserts that `err` is a failed precondition whose message contains `needle`.
#[track_caller]
pub(crate) fn assert_precondition(err: Error, needle: &str) {
    assert!(
        matches!(err, Error::FailedPrecondition(ref m) if m.contains(needle)),
        "{err:?}"
    );
}

/// A store call to make later, its answer reduced to success or the error.
pub(crate) type Attempt<'a> = Pin<Box<dyn Future<Output = Result<()>> + 'a>>;

/// Wraps a store call as an [`Attempt`].
pub(crate) fn attempt<'a, T>(call: impl Future<Output = Result<T>> + 'a) -> Attempt<'a> {
    Box::pin(async move { call.await.map(|_| ()) })
}

/// Makes each attempt in turn: each must fail its precondition with a message containing its
/// needle, and leave no trace in the audit log.
pub(crate) async fn assert_each_precondition_fails(
    store: &dyn Store,
    cases: Vec<(Attempt<'_>, &str)>,
) {
    assert!(!cases.is_empty());
    let before = audit_head(store).await;
    for (i, (attempt, needle)) in cases.into_iter().enumerate() {
        match attempt.await {
            Ok(()) => panic!("case {i} must fail naming {needle:?}, but succeeded"),
            Err(err) => assert!(
                matches!(err, Error::FailedPrecondition(ref m) if m.contains(needle)),
                "case {i}: {err:?} must be a failed precondition naming {needle:?}"
            ),
        }
        assert_eq!(audit_head(store).await, before, "case {i} left a trace");
    }
}
