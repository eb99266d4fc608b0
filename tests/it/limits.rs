//! A request message over the 1 MiB limit answers RESOURCE_EXHAUSTED and changes nothing.

use crate::common::TestServer;
use personae::proto;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_is_resource_exhausted_and_changes_nothing() {
    let server = TestServer::start(crate::common::sqlite_store().await).await;
    let mut users = server.users(server.admin());
    let create = |full_name: String| proto::CreateUserRequest {
        email: "ada@example.com".into(),
        full_name,
        ..Default::default()
    };

    let refused = users
        .create_user(create("a".repeat(2 * 1024 * 1024)))
        .await
        .expect_err("a 2 MiB message is refused");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");

    // Just under the limit, the message reaches the handler, which refuses the name itself.
    let too_long = users
        .create_user(create("a".repeat(1024 * 1024 - 64)))
        .await
        .expect_err("a 1 MiB full name is invalid");
    assert_eq!(too_long.code(), Code::InvalidArgument, "{too_long:?}");

    let listed = users
        .list_users(proto::ListUsersRequest {
            include_disabled: true,
            ..Default::default()
        })
        .await
        .expect("list users")
        .into_inner();
    let emails: Vec<_> = listed.users.iter().map(|u| u.email.as_str()).collect();
    assert_eq!(emails, [personae::bootstrap::BOOTSTRAP_ADMIN_EMAIL]);
    server.stop().await;
}
