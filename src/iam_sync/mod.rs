//! Syncing users from their IAM's user-info endpoint: one user (SyncUser), or every user of an
//! IAM (SyncAll) with bounded concurrency toward the endpoint and the results committed in
//! batches, since every write waits its turn behind the audit chain's head and one transaction
//! per user would cap a sync at a few hundred users a second.

pub mod user_info;

use std::sync::Arc;

use futures::StreamExt;
use serde_json::json;
use tokio::sync::mpsc;

use crate::domain::{
    Id, Revision,
    address::AddressPolicy,
    audit::AuditRecord,
    iam::ProfileSchemaEntry,
    profile::{self, ExternalProfile, SyncChanges},
    user::User,
};
use crate::error::{Error, Result};
use crate::store::{Store, SyncApply, UserKey};
use user_info::UserInfoClient;

/// How many users SyncAll reads from the store at a time when listing an IAM's users.
const USERS_PAGE: i64 = 10_000;

/// Asks the endpoint about `username` and validates what it says.
async fn fetch_profile(
    client: &UserInfoClient,
    schema: &[ProfileSchemaEntry],
    username: &str,
) -> Result<ExternalProfile> {
    let info = client.fetch(username).await?;
    ExternalProfile::parse(&info.groups, &info.authorizations, &info.fields, schema).map_err(|e| {
        Error::EndpointFailed(format!(
            "the user-info endpoint's answer cannot be used: {e}"
        ))
    })
}

/// Syncs one user, calling its IAM's endpoint where `addresses` allows; the revision is set
/// when something changed (and an audit event was appended).
pub async fn sync_user(
    store: &dyn Store,
    user_id: Id,
    actor: Id,
    addresses: AddressPolicy,
) -> Result<(User, Option<Revision>)> {
    let user = store.get_user(&UserKey::Id(user_id)).await?;
    let (iam, config) = store.iam_endpoint(user.iam_id).await?;
    let client = UserInfoClient::new(config, addresses)?;
    let profile = fetch_profile(&client, &iam.profile_schema, &user.username).await?;
    let record = AuditRecord::new(Some(actor), "SyncUser", "user", user_id);
    let batch = store
        .sync_users(iam.id, vec![(user_id, profile)], SyncApply::Commit(record))
        .await?;
    for (_, outcome) in batch.outcomes {
        outcome?;
    }
    // Only a batch that changed something commits; otherwise the user read above is current.
    let user = match batch.revision {
        Some(_) => store.get_user(&UserKey::Id(user_id)).await?,
        None => user,
    };
    Ok((user, batch.revision))
}

/// How SyncAll runs.
#[derive(Clone, Copy, Debug)]
pub struct SyncAllOptions {
    pub dry_run: bool,
    /// How many users the endpoint is asked about at once.
    pub concurrency: usize,
}

/// SyncAll's report after each user.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    pub users_total: i64,
    pub users_done: i64,
    pub users_failed: i64,
    pub users_changed: i64,
    /// None only in the one report of an IAM without users.
    pub user_id: Option<Id>,
    /// What changed for the user (would change, in a dry run), or why it failed.
    pub outcome: Option<Result<SyncChanges, String>>,
}

impl Progress {
    fn record(&mut self, user_id: Id, outcome: Result<SyncChanges, String>) -> Self {
        self.users_done += 1;
        match &outcome {
            Err(_) => self.users_failed += 1,
            Ok(changes) if !changes.is_empty() => self.users_changed += 1,
            Ok(_) => {}
        }
        Self {
            user_id: Some(user_id),
            outcome: Some(outcome),
            ..self.clone()
        }
    }
}

/// Starts syncing every user of IAM `iam`, calling its endpoint where `addresses` allows:
/// refused at once when the IAM has no endpoint, its URI names an address not allowed, or a
/// SyncAll of it is running; otherwise the reports arrive on the receiver, which ends after the
/// last user or with an error. Dropping the receiver stops the work; batches already committed
/// stay.
pub async fn start_sync_all(
    store: Arc<dyn Store>,
    iam: Id,
    options: SyncAllOptions,
    actor: Id,
    addresses: AddressPolicy,
) -> Result<mpsc::Receiver<Result<Progress>>> {
    let (iam, config) = store.iam_endpoint(iam).await?;
    let client = UserInfoClient::new(config, addresses)?;
    let lease = store.lease_sync(iam.id).await?;
    let (reports, receiver) = mpsc::channel(profile::MAX_BATCH);
    tokio::spawn(async move {
        let run = SyncAll {
            store,
            iam: iam.id,
            options,
            actor,
            reports,
        };
        run.run(Arc::new(client), Arc::new(iam.profile_schema))
            .await;
        drop(lease);
    });
    Ok(receiver)
}

struct SyncAll {
    store: Arc<dyn Store>,
    iam: Id,
    options: SyncAllOptions,
    actor: Id,
    reports: mpsc::Sender<Result<Progress>>,
}

impl SyncAll {
    async fn run(self, client: Arc<UserInfoClient>, schema: Arc<Vec<ProfileSchemaEntry>>) {
        let users = match self.users().await {
            Ok(users) => users,
            Err(error) => {
                // The caller may be gone already; then there is no one to tell.
                let _ = self.reports.send(Err(error)).await;
                return;
            }
        };
        let mut progress = Progress {
            users_total: users.len() as i64,
            ..Default::default()
        };
        if users.is_empty() {
            let _ = self.reports.send(Ok(progress)).await;
            return;
        }
        let (fetched_tx, mut fetched) = mpsc::channel(profile::MAX_BATCH);
        let concurrency = self.options.concurrency;
        let fetcher = tokio::spawn(async move {
            let mut profiles = futures::stream::iter(users)
                .map(|(id, username)| {
                    let (client, schema) = (client.clone(), schema.clone());
                    async move { (id, fetch_profile(&client, &schema, &username).await) }
                })
                .buffer_unordered(concurrency);
            while let Some(fetched) = profiles.next().await {
                if fetched_tx.send(fetched).await.is_err() {
                    break;
                }
            }
        });
        let cancelled;
        let mut batch = Vec::with_capacity(profile::MAX_BATCH);
        loop {
            let received = tokio::select! {
                received = fetched.recv_many(&mut batch, profile::MAX_BATCH) => received,
                () = self.reports.closed() => 0,
            };
            if received == 0 {
                cancelled = self.reports.is_closed();
                break;
            }
            if !self.commit(std::mem::take(&mut batch), &mut progress).await {
                cancelled = true;
                break;
            }
        }
        fetcher.abort();
        if !self.options.dry_run {
            self.record_run(&progress, cancelled).await;
        }
    }

    /// The IAM's users, read before the first is synced so that the total is known.
    async fn users(&self) -> Result<Vec<(Id, String)>> {
        let mut users = Vec::new();
        let mut after = Id::FIRST;
        loop {
            let page = self.store.iam_users(self.iam, after, USERS_PAGE).await?;
            let full = page.len() as i64 == USERS_PAGE;
            users.extend(page);
            match users.last() {
                Some((last, _)) if full => after = *last,
                _ => return Ok(users),
            }
        }
    }

    /// Applies one batch of fetched profiles and reports each user; false once the caller has
    /// gone.
    async fn commit(
        &self,
        fetched: Vec<(Id, Result<ExternalProfile>)>,
        progress: &mut Progress,
    ) -> bool {
        let mut reports = Vec::with_capacity(fetched.len());
        let mut profiles = Vec::with_capacity(fetched.len());
        for (id, profile) in fetched {
            match profile {
                Ok(profile) => profiles.push((id, profile)),
                Err(error) => reports.push(progress.record(id, Err(error.public_message()))),
            }
        }
        if !profiles.is_empty() {
            let ids: Vec<Id> = profiles.iter().map(|(id, _)| *id).collect();
            let apply = if self.options.dry_run {
                SyncApply::DryRun
            } else {
                SyncApply::Commit(AuditRecord::new(
                    Some(self.actor),
                    "SyncUsers",
                    "iam",
                    self.iam,
                ))
            };
            match self.store.sync_users(self.iam, profiles, apply).await {
                Ok(batch) => {
                    for (id, outcome) in batch.outcomes {
                        reports.push(progress.record(id, outcome.map_err(|e| e.public_message())));
                    }
                }
                Err(error) => {
                    let message = error.public_message();
                    for id in ids {
                        reports.push(progress.record(id, Err(message.clone())));
                    }
                }
            }
        }
        for report in reports {
            if self.reports.send(Ok(report)).await.is_err() {
                return false;
            }
        }
        true
    }

    /// Appends the run's audit event: what it did, and whether it was cancelled.
    async fn record_run(&self, progress: &Progress, cancelled: bool) {
        let record =
            AuditRecord::new(Some(self.actor), "SyncAll", "iam", self.iam).with_details(json!({
                "users_total": progress.users_total,
                "users_done": progress.users_done,
                "users_failed": progress.users_failed,
                "users_changed": progress.users_changed,
                "cancelled": cancelled,
            }));
        if let Err(error) = self.store.append_audit_events(vec![record]).await {
            tracing::error!(
                iam = %self.iam,
                error = %error.with_causes(),
                "could not record the end of a SyncAll"
            );
        }
    }
}
