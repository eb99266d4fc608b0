//! Usage metrics over real gRPC, on both stores: daily counts of completed workflows, kept with
//! the audit log (a decision tally counting every check it stands for), the same figures as a
//! JSON document, and the counts migration 0010 fills from an existing audit log.

use crate::common::{
    TestServer, TestStore,
    grpc::{assert_refused, create_group, create_user, grant},
};
use personae::{domain::audit::AuditRecord, proto};
use tonic::Code;

async fn usage(server: &TestServer, days: i32) -> proto::GetUsageMetricsResponse {
    server
        .users(server.admin())
        .get_usage_metrics(proto::GetUsageMetricsRequest { days })
        .await
        .unwrap()
        .into_inner()
}

fn counts(day: &proto::DailyUsage) -> [i64; 4] {
    [
        day.users_created,
        day.permissions_granted,
        day.groups_created,
        day.impersonations_checked,
    ]
}

async fn workflows_are_counted_by_day(t: TestStore) {
    let server = TestServer::start(t).await;
    for days in [0, -1, 367] {
        let refused = server
            .users(server.admin())
            .get_usage_metrics(proto::GetUsageMetricsRequest { days })
            .await;
        assert_refused(
            refused,
            Code::InvalidArgument,
            "days: must be from 1 to 366",
        );
    }
    let before = usage(&server, 1).await;
    assert_eq!(before.days.len(), 1);

    let ada = create_user(&server, "ada@example.com").await;
    create_user(&server, "grace@example.com").await;
    grant(&server, &ada.id, "AUDIT").await;
    create_group(&server, "Analysts").await;
    let tally = AuditRecord::new(None, "CheckImpersonation", "user", "analyst@example.com")
        .with_details(serde_json::json!({ "count": 40 }));
    server
        .store
        .store
        .append_audit_events(vec![tally])
        .await
        .unwrap();

    let after = usage(&server, 7).await;
    assert_eq!(after.days.len(), 7);
    let today = after.days.last().unwrap();
    assert_eq!(today.date, before.days[0].date);
    let grown: Vec<i64> = counts(today)
        .iter()
        .zip(counts(&before.days[0]))
        .map(|(now, then)| now - then)
        .collect();
    assert_eq!(grown, [2, 1, 1, 40]);
    let mut dates: Vec<&str> = after.days.iter().map(|d| d.date.as_str()).collect();
    let listed = dates.clone();
    dates.sort();
    assert_eq!(dates, listed, "oldest first");

    let document = after.document.clone().unwrap();
    let text = format!("{document:?}");
    assert!(text.contains(&today.date) && text.contains("impersonations_checked"));
    assert!(!text.contains("ada@example.com"), "anonymised");

    let migration = if server.store.is_postgres() {
        include_str!("../../src/store/migrations/postgres/0010_usage_counts.sql")
    } else {
        include_str!("../../src/store/migrations/sqlite/0010_usage_counts.sql")
    };
    server
        .store
        .execute_raw(&format!("DROP TABLE usage_counts; {migration}"))
        .await;
    let refilled = usage(&server, 7).await;
    assert_eq!(
        refilled.days, after.days,
        "the migration counts the audit log alike"
    );
    server.stop().await;
}

on_both_stores!(workflows_are_counted_by_day);
