//! What bounds self-service key writes, over real gRPC on both stores: the cap on a user's
//! active keys, ListApiKeys' pages, and the per-caller rate of self-service writes.

use std::{collections::BTreeSet, time::Duration};

use crate::common::{
    Authed, Authorization, TestServer, TestStore,
    grpc::{assert_each_refused_changing_nothing, assert_refused, create_key, user_with_key},
    serve_options,
};
use personae::{proto, proto::users_client::UsersClient, server::ServeOptions};
use tonic::Code;
use tonic_types::StatusExt;

fn options(change: impl FnOnce(&mut ServeOptions)) -> ServeOptions {
    let mut options = serve_options();
    change(&mut options);
    options
}

fn new_key(user_id: &str) -> proto::CreateApiKeyRequest {
    proto::CreateApiKeyRequest {
        user_id: user_id.into(),
        ..Default::default()
    }
}

/// One page of `user_id`'s keys.
async fn key_page(
    users: &mut UsersClient<Authed>,
    request: proto::ListApiKeysRequest,
) -> Result<(Vec<String>, String), tonic::Status> {
    let page = users.list_api_keys(request).await?.into_inner();
    Ok((
        page.api_keys.into_iter().map(|k| k.id).collect(),
        page.next_page_token,
    ))
}

/// The ids of every active key of `user_id`, in pages of 1000.
async fn active_keys(server: &TestServer, user_id: &str) -> Vec<String> {
    let (ids, next) = key_page(
        &mut server.users(server.admin()),
        proto::ListApiKeysRequest {
            user_id: user_id.into(),
            page_size: 1000,
            ..Default::default()
        },
    )
    .await
    .expect("list keys");
    assert!(next.is_empty());
    ids
}

async fn active_keys_are_capped_per_user(t: TestStore) {
    let server = TestServer::start_with(t, options(|o| o.max_api_keys_per_user = 3)).await;
    let (ada, ada_key) = user_with_key(&server, "ada@example.com").await;
    let as_ada = server.users(Authorization::bearer(&ada_key));
    let admin = server.users(server.admin());
    for _ in 0..2 {
        as_ada.clone().create_api_key(new_key("")).await.unwrap();
    }
    assert_eq!(active_keys(&server, &ada.id).await.len(), 3);

    // The cap holds for the user's own calls and for a USER_ADMIN's alike.
    #[rustfmt::skip]
    let cases = vec![
        (call!(as_ada.create_api_key(new_key(""))), Code::FailedPrecondition, "may have at most 3 (max_api_keys_per_user); revoke one"),
        (call!(admin.create_api_key(new_key(&ada.id))), Code::FailedPrecondition, "may have at most 3"),
    ];
    assert_each_refused_changing_nothing(&server, cases).await;
    assert_eq!(active_keys(&server, &ada.id).await.len(), 3);

    // A revoked key frees its place (the newest: Ada calls with the oldest).
    let newest = active_keys(&server, &ada.id).await.pop().unwrap();
    as_ada
        .clone()
        .revoke_api_key(proto::RevokeApiKeyRequest { id: newest })
        .await
        .unwrap();
    as_ada.clone().create_api_key(new_key("")).await.unwrap();
    assert_eq!(active_keys(&server, &ada.id).await.len(), 3);

    // Another user's keys are counted apart.
    let (bob, _) = user_with_key(&server, "bob@example.com").await;
    admin
        .clone()
        .create_api_key(new_key(&bob.id))
        .await
        .unwrap();
    server.stop().await;
}

async fn api_keys_are_listed_in_pages_bound_to_their_filters(t: TestStore) {
    let server = TestServer::start_with(t, options(|o| o.max_api_keys_per_user = 200)).await;
    let (ada, ada_key) = user_with_key(&server, "ada@example.com").await;
    let mut created = BTreeSet::from_iter(active_keys(&server, &ada.id).await);
    for _ in 0..119 {
        created.insert(create_key(&server, &ada.id).await.api_key.unwrap().id);
    }
    assert_eq!(created.len(), 120);
    let mut admin = server.users(server.admin());
    let request = |page_token: &str| proto::ListApiKeysRequest {
        user_id: ada.id.clone(),
        page_size: 50,
        page_token: page_token.into(),
        ..Default::default()
    };

    let mut listed = Vec::new();
    let mut sizes = Vec::new();
    let mut tokens = Vec::new();
    let mut page_token = String::new();
    loop {
        let (ids, next) = key_page(&mut admin, request(&page_token)).await.unwrap();
        sizes.push(ids.len());
        listed.extend(ids);
        if next.is_empty() {
            break;
        }
        tokens.push(next.clone());
        page_token = next;
    }
    assert_eq!(sizes, [50, 50, 20]);
    assert!(listed.is_sorted(), "pages follow the ids");
    assert_eq!(
        BTreeSet::from_iter(listed.iter().cloned()),
        created,
        "every key once"
    );
    assert_eq!(listed.len(), 120, "no key twice");

    // Without a page size a page holds 50.
    let (first, _) = key_page(
        &mut admin,
        proto::ListApiKeysRequest {
            user_id: ada.id.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(first, listed[..50]);

    // A token lists the rest of the same list only: not with revoked keys, not another user's,
    // not for another caller whose own keys an empty user_id names.
    let token = &tokens[0];
    let (bob, bob_key) = user_with_key(&server, "bob@example.com").await;
    for (mut users, request) in [
        (
            admin.clone(),
            proto::ListApiKeysRequest {
                include_revoked: true,
                ..request(token)
            },
        ),
        (
            admin.clone(),
            proto::ListApiKeysRequest {
                user_id: bob.id.clone(),
                ..request(token)
            },
        ),
        (
            server.users(Authorization::bearer(&bob_key)),
            proto::ListApiKeysRequest {
                user_id: String::new(),
                ..request(token)
            },
        ),
    ] {
        assert_refused(
            users.list_api_keys(request).await,
            Code::InvalidArgument,
            "page_token: was issued for different filters",
        );
    }
    // Ada's empty user_id names the same list as her id.
    let (second, _) = key_page(
        &mut server.users(Authorization::bearer(&ada_key)),
        proto::ListApiKeysRequest {
            user_id: String::new(),
            ..request(token)
        },
    )
    .await
    .unwrap();
    assert_eq!(second, listed[50..100]);

    // Revoked keys are paged too when asked for.
    admin
        .revoke_api_key(proto::RevokeApiKeyRequest {
            id: listed[0].clone(),
        })
        .await
        .unwrap();
    let active = key_page(&mut admin, request("")).await.unwrap().0;
    assert_eq!(active[0], listed[1]);
    let with_revoked = proto::ListApiKeysRequest {
        include_revoked: true,
        page_size: 100,
        ..request("")
    };
    let (page, next) = key_page(&mut admin, with_revoked.clone()).await.unwrap();
    assert_eq!(page, listed[..100]);
    let (rest, last) = key_page(
        &mut admin,
        proto::ListApiKeysRequest {
            page_token: next,
            ..with_revoked
        },
    )
    .await
    .unwrap();
    assert_eq!(rest, listed[100..]);
    assert!(last.is_empty());
    server.stop().await;
}

async fn self_service_writes_are_rate_limited_per_caller(t: TestStore) {
    let server = TestServer::start_with(t, options(|o| o.self_service_writes_per_minute = 3)).await;
    // The admin made these keys: not Ada's or Bob's own writes.
    let (ada, ada_key) = user_with_key(&server, "ada@example.com").await;
    let (_, bob_key) = user_with_key(&server, "bob@example.com").await;
    let as_ada = server.users(Authorization::bearer(&ada_key));
    let first = as_ada
        .clone()
        .create_api_key(new_key(""))
        .await
        .unwrap()
        .into_inner();
    as_ada.clone().create_api_key(new_key("")).await.unwrap();
    as_ada
        .clone()
        .revoke_api_key(proto::RevokeApiKeyRequest {
            id: first.api_key.unwrap().id,
        })
        .await
        .unwrap();

    // Three writes a minute: the fourth, a create or a revoke, waits 20 s for its turn.
    let refused = as_ada
        .clone()
        .create_api_key(new_key(""))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    let retry_delay = refused
        .get_details_retry_info()
        .and_then(|info| info.retry_delay)
        .unwrap_or_else(|| panic!("a google.rpc.RetryInfo says when to retry: {refused:?}"));
    assert!(
        (Duration::from_secs(1)..=Duration::from_secs(20)).contains(&retry_delay),
        "{retry_delay:?}"
    );
    assert!(
        refused.message().contains(&format!(
            "at most 3 a minute (self_service_writes_per_minute); retry in {} s",
            retry_delay.as_secs()
        )),
        "{refused:?}"
    );
    let keys_before = active_keys(&server, &ada.id).await;
    #[rustfmt::skip]
    let cases = vec![
        (call!(as_ada.create_api_key(new_key(""))), Code::ResourceExhausted, "retry in"),
        (call!(as_ada.create_api_key(new_key(&ada.id))), Code::ResourceExhausted, "retry in"),
        (call!(as_ada.revoke_api_key(proto::RevokeApiKeyRequest { id: keys_before[keys_before.len() - 1].clone() })), Code::ResourceExhausted, "retry in"),
    ];
    assert_each_refused_changing_nothing(&server, cases).await;
    assert_eq!(active_keys(&server, &ada.id).await, keys_before);

    // Reading is not limited, and each caller has its own allowance.
    as_ada
        .clone()
        .list_api_keys(proto::ListApiKeysRequest::default())
        .await
        .unwrap();
    let as_bob = server.users(Authorization::bearer(&bob_key));
    as_bob.clone().create_api_key(new_key("")).await.unwrap();

    // A USER_ADMIN is not limited, for others' keys (Ada's too) or its own.
    let mut admin = server.users(server.admin());
    for _ in 0..10 {
        admin.create_api_key(new_key(&ada.id)).await.unwrap();
        admin.create_api_key(new_key("")).await.unwrap();
    }
    server.stop().await;
}

/// grpcurl decodes a refusal's RetryInfo only when server reflection knows google.rpc's types.
async fn reflection_describes_the_retry_info(t: TestStore) {
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let server = TestServer::start(t).await;
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::FileContainingSymbol(
            "google.rpc.RetryInfo".into(),
        )),
    };
    let response = ServerReflectionClient::new(server.channel())
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .unwrap()
        .into_inner()
        .message()
        .await
        .unwrap()
        .expect("an answer");
    let Some(MessageResponse::FileDescriptorResponse(files)) = response.message_response else {
        panic!("reflection must describe google.rpc.RetryInfo: {response:?}");
    };
    let described = files.file_descriptor_proto.iter().any(|bytes| {
        let file =
            <prost_types::FileDescriptorProto as prost::Message>::decode(&bytes[..]).unwrap();
        file.package() == "google.rpc" && file.message_type.iter().any(|m| m.name() == "RetryInfo")
    });
    assert!(described, "{files:?}");
    server.stop().await;
}

on_both_stores!(
    active_keys_are_capped_per_user,
    api_keys_are_listed_in_pages_bound_to_their_filters,
    self_service_writes_are_rate_limited_per_caller,
    reflection_describes_the_retry_info,
);
