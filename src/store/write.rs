//! The one way to change the store: a transaction that holds the audit chain's head, checks the
//! rules no change may break, appends its audit event (or, for batched records, its events) and
//! commits.

use std::sync::Arc;

use super::{
    Committed,
    db::{Conn, Database, Tx, query},
    queries::{audit as sql, policy as policy_sql},
    user_rows::load_user,
};
use crate::checks::{Freshness, Touched};
use crate::domain::{
    self, Id, Revision,
    audit::{AuditEvent, AuditRecord},
    permission, policy,
    usage::{self, Metric},
};
use crate::error::{Error, Result};

/// A write transaction holding the audit chain's head.
pub(super) struct Write {
    tx: Tx,
    freshness: Arc<Freshness>,
    sequence: i64,
    hash: String,
    /// The enabled users holding USER_ADMIN when the transaction began (a few of them).
    user_admins_before: Vec<(Id, String)>,
}

impl Write {
    /// Begins a write: takes the write lock and reads the chain head under it.
    pub(super) async fn begin(db: &Database) -> Result<Self> {
        let mut tx = db.begin_write().await?;
        let (sequence, hash) = tx.conn().fetch_one(query(sql::LOCK_HEAD)).await?;
        let user_admins_before = enabled_user_admins(&mut tx.conn(), 3).await?;
        Ok(Self {
            tx,
            freshness: db.freshness.clone(),
            sequence,
            hash,
            user_admins_before,
        })
    }

    pub(super) fn conn(&mut self) -> Conn<'_> {
        self.tx.conn()
    }

    /// Checks the rules, appends the audit event and commits, having touched `touched` (see
    /// `checks::invalidation`); the event's sequence is the revision.
    pub(super) async fn commit(self, record: AuditRecord, touched: Touched) -> Result<Revision> {
        self.commit_all(vec![record], touched).await
    }

    /// Checks the rules, appends the events in order and commits, having touched `touched`;
    /// the last event's sequence is the revision.
    pub(super) async fn commit_all(
        mut self,
        records: Vec<AuditRecord>,
        touched: Touched,
    ) -> Result<Revision> {
        self.check_policy_rules().await?;
        let (mut sequence, mut hash) = (self.sequence, std::mem::take(&mut self.hash));
        let time = domain::now();
        let mut conn = self.tx.conn();
        let day = usage::day(time);
        for record in records {
            for (metric, count) in Metric::counted(record.action, &record.details) {
                conn.execute(
                    query(sql::COUNT_USAGE)
                        .bind(day.as_str())
                        .bind(metric.as_str())
                        .bind(count),
                )
                .await?;
            }
            let event = AuditEvent::seal(record, sequence, hash, time);
            conn.execute(
                query(sql::APPEND)
                    .bind(event.sequence)
                    .bind(event.id)
                    .bind(event.time)
                    .bind(event.actor_id)
                    .bind(event.action.as_str())
                    .bind(event.target_type.as_str())
                    .bind(event.target_id.as_str())
                    .bind(event.success)
                    .bind(event.impersonation_user.as_deref())
                    .bind(event.details.as_str())
                    .bind(event.prev_hash.as_str())
                    .bind(event.hash.as_str()),
            )
            .await?;
            (sequence, hash) = (event.sequence, event.hash);
        }
        conn.execute(query(sql::MOVE_HEAD).bind(sequence).bind(hash.as_str()))
            .await?;
        conn.announce(sequence, &touched).await?;
        self.tx.commit().await?;
        // Before the caller's RPC returns: this process's cached answers from before the
        // change are unusable from here on.
        self.freshness.advance(sequence, &touched);
        Ok(Revision(sequence))
    }

    /// Commits with the value the change produced, having touched `touched`.
    pub(super) async fn finish<T>(
        self,
        value: T,
        record: AuditRecord,
        touched: Touched,
    ) -> Result<Committed<T>> {
        let revision = self.commit(record, touched).await?;
        Ok(Committed { value, revision })
    }

    /// The rules no change may break, checked after the change and before it commits, so they
    /// hold whichever path (grant, role, group, deletion) the change took.
    async fn check_policy_rules(&mut self) -> Result<()> {
        let mut conn = self.tx.conn();
        if !self.user_admins_before.is_empty()
            && enabled_user_admins(&mut conn, 1).await?.is_empty()
        {
            return Err(Error::FailedPrecondition(policy::last_user_admin_message(
                &self.user_admins_before,
            )));
        }
        let (exclusive,): (bool,) = conn
            .fetch_one(query(policy_sql::MUTUALLY_EXCLUSIVE))
            .await?;
        if !exclusive {
            return Ok(());
        }
        let grants = super::grants::admin_and_governor_grants(&mut conn).await?;
        let conflicts = policy::admin_governor_conflicts(&grants);
        if conflicts.is_empty() {
            return Ok(());
        }
        let mut names = Vec::with_capacity(conflicts.len());
        for id in conflicts {
            let user = load_user(&mut conn, &super::UserKey::Id(id)).await?;
            names.push(format!("{} ({id})", user.username));
        }
        Err(Error::FailedPrecondition(format!(
            "admins and governors are mutually exclusive, and these users would hold both \
             APPLICATION_ADMIN and GOVERNANCE: {}",
            names.join(", ")
        )))
    }
}

/// Up to `limit` enabled users holding USER_ADMIN everywhere, by any path.
async fn enabled_user_admins(conn: &mut Conn<'_>, limit: i64) -> Result<Vec<(Id, String)>> {
    conn.fetch_all(
        query(policy_sql::ENABLED_HOLDERS)
            .bind(permission::USER_ADMIN)
            .bind(limit),
    )
    .await
}
