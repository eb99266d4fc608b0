//! Usage metrics: anonymised daily counts of completed workflows. They are counted from the
//! audit records as each is appended, in the same transaction (`usage_counts`), so reading a
//! year of them costs a few hundred rows however large the audit log grows, and they never name
//! a user.

use chrono::{Days, NaiveDate};
use serde_json::Value;

use super::Timestamp;
use crate::error::{Error, Result};

/// The most days one call may ask for.
const MAX_DAYS: i32 = 366;

/// A workflow counted, and the audit action that completes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    UsersCreated,
    PermissionsGranted,
    GroupsCreated,
    ImpersonationsChecked,
    /// SyncAll runs, and SyncUser calls that changed something.
    SyncsRun,
    /// Users a sync changed.
    UsersSynced,
}

impl Metric {
    const ALL: [Self; 6] = [
        Self::UsersCreated,
        Self::PermissionsGranted,
        Self::GroupsCreated,
        Self::ImpersonationsChecked,
        Self::SyncsRun,
        Self::UsersSynced,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UsersCreated => "users_created",
            Self::PermissionsGranted => "permissions_granted",
            Self::GroupsCreated => "groups_created",
            Self::ImpersonationsChecked => "impersonations_checked",
            Self::SyncsRun => "syncs_run",
            Self::UsersSynced => "users_synced",
        }
    }

    /// What an audit record adds to the counts: a decision tally counts every check it stands
    /// for, a sync every user it changed.
    pub fn counted(action: &str, details: &Value) -> Vec<(Self, i64)> {
        let synced = || {
            let users = details.get("users").and_then(Value::as_array);
            (Self::UsersSynced, users.map_or(0, |u| u.len() as i64))
        };
        match action {
            "CreateUser" => vec![(Self::UsersCreated, 1)],
            "GrantPermission" => vec![(Self::PermissionsGranted, 1)],
            "CreateGroup" => vec![(Self::GroupsCreated, 1)],
            "CheckImpersonation" => {
                let checks = details.get("count").and_then(Value::as_i64).unwrap_or(1);
                vec![(Self::ImpersonationsChecked, checks)]
            }
            "SyncUser" => vec![(Self::SyncsRun, 1), synced()],
            "SyncUsers" => vec![synced()],
            "SyncAll" => vec![(Self::SyncsRun, 1)],
            _ => Vec::new(),
        }
    }
}

/// The UTC day of a time, as counts are kept by.
pub fn day(time: Timestamp) -> String {
    time.date_naive().to_string()
}

/// How many days back a call asks for, today included.
pub fn parse_days(field: &str, days: i32) -> Result<u64> {
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(Error::invalid(
            field,
            format!("must be from 1 to {MAX_DAYS}, got {days}"),
        ));
    }
    Ok(u64::from(days.unsigned_abs()))
}

/// The first day of the `days` days that end with `today`.
pub fn first_day(today: NaiveDate, days: u64) -> NaiveDate {
    today
        .checked_sub_days(Days::new(days.saturating_sub(1)))
        .unwrap_or(NaiveDate::MIN)
}

/// One day's counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DailyUsage {
    /// YYYY-MM-DD, UTC.
    pub date: String,
    pub users_created: i64,
    pub permissions_granted: i64,
    pub groups_created: i64,
    pub impersonations_checked: i64,
    pub syncs_run: i64,
    pub users_synced: i64,
}

impl DailyUsage {
    fn count_of(&mut self, metric: Metric) -> &mut i64 {
        match metric {
            Metric::UsersCreated => &mut self.users_created,
            Metric::PermissionsGranted => &mut self.permissions_granted,
            Metric::GroupsCreated => &mut self.groups_created,
            Metric::ImpersonationsChecked => &mut self.impersonations_checked,
            Metric::SyncsRun => &mut self.syncs_run,
            Metric::UsersSynced => &mut self.users_synced,
        }
    }
}

/// Every day from `first` to `today`, oldest first, with the counts `(day, metric, count)`
/// found for it (zero where none were).
pub fn daily(
    first: NaiveDate,
    today: NaiveDate,
    counts: &[(String, String, i64)],
) -> Vec<DailyUsage> {
    first
        .iter_days()
        .take_while(|date| *date <= today)
        .map(|date| {
            let mut usage = DailyUsage {
                date: date.to_string(),
                ..Default::default()
            };
            for (day, name, count) in counts {
                let metric = Metric::ALL.into_iter().find(|m| m.as_str() == name);
                if let (true, Some(metric)) = (*day == usage.date, metric) {
                    *usage.count_of(metric) += count;
                }
            }
            usage
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_day_is_listed_oldest_first_with_zeros_between() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let first = first_day(today, 3);
        assert_eq!(first.to_string(), "2026-02-27");
        let counts = [
            ("2026-02-27".to_string(), "users_created".to_string(), 2),
            (
                "2026-03-01".to_string(),
                "impersonations_checked".to_string(),
                40,
            ),
            ("2026-03-01".to_string(), "groups_created".to_string(), 1),
        ];
        let days = daily(first, today, &counts);
        let dates: Vec<&str> = days.iter().map(|d| d.date.as_str()).collect();
        assert_eq!(dates, ["2026-02-27", "2026-02-28", "2026-03-01"]);
        assert_eq!(days[0].users_created, 2);
        assert_eq!(
            days[1],
            DailyUsage {
                date: "2026-02-28".into(),
                ..Default::default()
            }
        );
        assert_eq!(
            (days[2].impersonations_checked, days[2].groups_created),
            (40, 1)
        );
    }

    #[test]
    fn tallies_count_every_check_and_other_actions_nothing() {
        let tally = serde_json::json!({ "count": 7 });
        assert_eq!(
            Metric::counted("CheckImpersonation", &tally),
            [(Metric::ImpersonationsChecked, 7)]
        );
        assert_eq!(
            Metric::counted("CreateUser", &Value::Null),
            [(Metric::UsersCreated, 1)]
        );
        let batch = serde_json::json!({ "users": [{}, {}, {}] });
        assert_eq!(
            Metric::counted("SyncUsers", &batch),
            [(Metric::UsersSynced, 3)]
        );
        assert_eq!(Metric::counted("DeleteUser", &Value::Null), []);
        assert!(parse_days("days", 0).is_err());
        assert!(parse_days("days", 367).is_err());
        assert_eq!(parse_days("days", 366).unwrap(), 366);
    }
}
