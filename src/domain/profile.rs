//! Syncing users from their IAM: what a user-info answer says a user's external groups,
//! authorizations and external usernames are, and what has to change for the store to agree.
//! The store reads the user's current state and applies the changes; the rules are here.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::{
    Id, MAX_TEXT_CHARS, bounded_text,
    external::{AwsUserType, ExternalUsername},
    iam::ProfileSchemaEntry,
    name::Name,
    user::Attributes,
};
use crate::error::{Error, Result};

/// SyncAll asks the endpoint about this many users at once unless told otherwise.
const DEFAULT_CONCURRENCY: usize = 8;
/// The most users SyncAll asks the endpoint about at once.
const MAX_CONCURRENCY: usize = 64;
/// The most users one SyncAll transaction (and audit event) covers.
pub const MAX_BATCH: usize = 500;

/// SyncAll's concurrency as a request gives it: 1 to `MAX_CONCURRENCY`, or 0 for the default.
pub fn concurrency(field: &str, requested: i32) -> Result<usize> {
    match requested {
        0 => Ok(DEFAULT_CONCURRENCY),
        n => usize::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_CONCURRENCY).contains(n))
            .ok_or_else(|| {
                Error::invalid(
                    field,
                    format!(
                        "must be from 1 to {MAX_CONCURRENCY}, or 0 for {DEFAULT_CONCURRENCY}; \
                         got {n}"
                    ),
                )
            }),
    }
}

/// What the IAM says of one user, validated: nothing the store could refuse remains.
#[derive(Clone, Debug, PartialEq)]
pub struct ExternalProfile {
    /// One name per comparison key, in the endpoint's order (its first spelling wins).
    pub groups: Vec<Name>,
    /// Values sorted, without duplicates; a name without values is left out.
    pub authorizations: Attributes,
    /// The names the profile schema takes from the answer.
    pub usernames: Vec<ExternalUsername>,
}

impl ExternalProfile {
    /// Builds the profile from a user-info answer's parts; a value the store could not hold is
    /// refused, naming where in the answer it is.
    pub fn parse(
        groups: &[String],
        authorizations: &Attributes,
        fields: &serde_json::Map<String, Value>,
        schema: &[ProfileSchemaEntry],
    ) -> Result<Self> {
        let mut keys = BTreeSet::new();
        let mut names = Vec::with_capacity(groups.len());
        for (i, group) in groups.iter().enumerate() {
            let name = Name::parse(&format!("groups[{i}].name"), group)?;
            if keys.insert(name.key()) {
                names.push(name);
            }
        }
        let mut checked = Attributes::new();
        for (name, values) in authorizations {
            let field = format!("authorizations.{name}");
            let name = bounded_text("authorizations", name, MAX_TEXT_CHARS)?;
            let values = values
                .iter()
                .enumerate()
                .map(|(i, v)| bounded_text(&format!("{field}[{i}]"), v, MAX_TEXT_CHARS))
                .collect::<Result<Vec<_>>>()?;
            if !values.is_empty() {
                checked.entry(name).or_default().extend(values);
            }
        }
        for values in checked.values_mut() {
            values.sort();
            values.dedup();
        }
        let mut usernames = Vec::new();
        for entry in schema {
            let Some(text) = fields.get(&entry.attribute).and_then(Value::as_str) else {
                continue;
            };
            if text.trim().is_empty() {
                continue;
            }
            let name =
                ExternalUsername::new(entry.platform, text, entry.aws_user_type).map_err(|e| {
                    match e {
                        Error::InvalidArgument { reason, .. } => {
                            Error::invalid(entry.attribute.as_str(), reason)
                        }
                        other => other,
                    }
                })?;
            usernames.push(name);
        }
        Ok(Self {
            groups: names,
            authorizations: checked,
            usernames,
        })
    }
}

/// A membership the user has now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub group_id: Id,
    pub group_name: String,
    /// Made by a sync (rather than here).
    pub external: bool,
}

/// What the store holds of a user that a sync may change.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserState {
    pub memberships: Vec<Membership>,
    pub authorizations: Attributes,
    pub usernames: Vec<ExternalUsername>,
}

/// A group a profile names, as the store found it (or is about to create it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedGroup {
    pub id: Id,
    pub name: String,
    /// It does not exist yet: the sync creates it.
    pub created: bool,
    /// The IAM whose syncs manage its memberships (a group the sync creates: the syncing one).
    pub managed_by_iam: Option<Id>,
    /// Some role is assigned to the group.
    pub carries_roles: bool,
}

impl NamedGroup {
    /// A group a sync of `iam` creates.
    pub fn new(iam: Id, name: &str) -> Self {
        Self {
            id: Id::new(),
            name: name.to_owned(),
            created: true,
            managed_by_iam: Some(iam),
            carries_roles: false,
        }
    }

    /// Whether a sync of `iam` may add members: only to a group that IAM manages and that
    /// carries no role assignment, so an endpoint (which an APPLICATION_ADMIN controls) cannot
    /// put anyone in a group holding rights given here.
    pub fn ensure_joinable_by(&self, iam: Id) -> Result<()> {
        if self.managed_by_iam != Some(iam) {
            return Err(Error::FailedPrecondition(format!(
                "the IAM names group {:?} ({}), which IAM {iam} does not manage: a sync joins \
                 users only to groups its syncs created or marked as managed by it \
                 (managed_by_iam_id)",
                self.name, self.id
            )));
        }
        if self.carries_roles {
            return Err(Error::FailedPrecondition(format!(
                "the IAM names group {:?} ({}), which carries role assignments made here: a \
                 sync never joins users to such a group",
                self.name, self.id
            )));
        }
        Ok(())
    }
}

/// A group joined or left.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupChange {
    pub id: Id,
    pub name: String,
}

/// What a sync changes for one user.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SyncChanges {
    pub groups_added: Vec<GroupChange>,
    /// Of `groups_added`, the names of those the sync creates.
    pub groups_created: Vec<String>,
    pub groups_removed: Vec<GroupChange>,
    pub authorizations_added: Attributes,
    pub authorizations_removed: Attributes,
    pub usernames_set: Vec<ExternalUsername>,
}

impl SyncChanges {
    /// What makes `state` agree with `profile`, whose groups are `groups` (one per profile
    /// group, in order). A membership made here stays as it is, whether or not the IAM names
    /// the group; an external one the IAM no longer names goes.
    pub fn between(state: &UserState, profile: &ExternalProfile, groups: &[NamedGroup]) -> Self {
        let groups_added: Vec<&NamedGroup> = groups
            .iter()
            .filter(|g| !state.memberships.iter().any(|m| m.group_id == g.id))
            .collect();
        Self {
            groups_created: groups_added
                .iter()
                .filter(|g| g.created)
                .map(|g| g.name.clone())
                .collect(),
            groups_added: groups_added
                .into_iter()
                .map(|g| GroupChange {
                    id: g.id,
                    name: g.name.clone(),
                })
                .collect(),
            groups_removed: state
                .memberships
                .iter()
                .filter(|m| m.external && !groups.iter().any(|g| g.id == m.group_id))
                .map(|m| GroupChange {
                    id: m.group_id,
                    name: m.group_name.clone(),
                })
                .collect(),
            authorizations_added: missing_from(&profile.authorizations, &state.authorizations),
            authorizations_removed: missing_from(&state.authorizations, &profile.authorizations),
            usernames_set: profile
                .usernames
                .iter()
                .filter(|name| !state.usernames.contains(name))
                .cloned()
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.groups_added.is_empty()
            && self.groups_removed.is_empty()
            && self.authorizations_added.is_empty()
            && self.authorizations_removed.is_empty()
            && self.usernames_set.is_empty()
    }

    /// The changes as an audit event records them.
    pub fn details(&self) -> Value {
        let names = |groups: &[GroupChange]| -> Vec<String> {
            groups.iter().map(|g| g.name.clone()).collect()
        };
        json!({
            "groups_added": names(&self.groups_added),
            "groups_created": self.groups_created,
            "groups_removed": names(&self.groups_removed),
            "authorizations_added": self.authorizations_added,
            "authorizations_removed": self.authorizations_removed,
            "external_usernames_set": self.usernames_set.iter().map(|n| json!({
                "platform": n.platform.as_str(),
                "username": n.username,
                "aws_user_type": n.aws_user_type.map(AwsUserType::as_str),
            })).collect::<Vec<_>>(),
        })
    }
}

/// The values of `from` that `other` lacks, by name.
fn missing_from(from: &Attributes, other: &Attributes) -> Attributes {
    from.iter()
        .filter_map(|(name, values)| {
            let missing: Vec<String> = values
                .iter()
                .filter(|v| !other.get(name).is_some_and(|o| o.contains(v)))
                .cloned()
                .collect();
            (!missing.is_empty()).then(|| (name.clone(), missing))
        })
        .collect()
}

/// The details of a sync's audit event: each user it changed, with what changed.
pub fn audit_details(changed: &[(Id, &SyncChanges)]) -> Value {
    json!({
        "users": changed.iter().map(|(id, changes)| {
            let mut details = changes.details();
            details["user_id"] = json!(id.to_string());
            details
        }).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::external::Platform;

    fn profile(answer: Value, schema: &[ProfileSchemaEntry]) -> Result<ExternalProfile> {
        let fields = answer.as_object().unwrap().clone();
        let groups: Vec<String> = fields["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap().to_owned())
            .collect();
        let authorizations: Attributes =
            serde_json::from_value(fields["authorizations"].clone()).unwrap();
        ExternalProfile::parse(&groups, &authorizations, &fields, schema)
    }

    #[test]
    fn concurrency_is_bounded() {
        assert_eq!(concurrency("c", 0).unwrap(), DEFAULT_CONCURRENCY);
        assert_eq!(concurrency("c", 64).unwrap(), 64);
        for bad in [-1, 65] {
            let err = concurrency("c", bad).unwrap_err().to_string();
            assert!(err.starts_with("c: must be from 1 to 64"), "{err}");
        }
    }

    #[test]
    fn groups_collapse_by_case_and_authorizations_become_sets() {
        let parsed = profile(
            json!({
                "groups": [{"name": "Sales"}, {"name": "SALES"}, {"name": "Ops"}],
                "authorizations": {"EMEA": ["b", "a", "b"], "APAC": []},
                "snowflake": "ADA",
                "trino": 7,
            }),
            &[
                ProfileSchemaEntry {
                    platform: Platform::Snowflake,
                    attribute: "snowflake".into(),
                    aws_user_type: None,
                },
                ProfileSchemaEntry {
                    platform: Platform::Trino,
                    attribute: "trino".into(),
                    aws_user_type: None,
                },
            ],
        )
        .unwrap();
        let names: Vec<&str> = parsed.groups.iter().map(Name::as_str).collect();
        assert_eq!(names, ["Sales", "Ops"]);
        assert_eq!(
            parsed.authorizations,
            Attributes::from([("EMEA".into(), vec!["a".into(), "b".into()])])
        );
        assert_eq!(parsed.usernames.len(), 1, "a number is no username");
        assert_eq!(parsed.usernames[0].username, "ADA");
    }

    #[test]
    fn a_value_the_store_cannot_hold_is_refused_by_where_it_is() {
        let err = profile(
            json!({"groups": [{"name": "ok"}, {"name": "  "}], "authorizations": {}}),
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("groups[1].name:"), "{err}");
        let err = profile(
            json!({"groups": [], "authorizations": {"EMEA": ["x".repeat(300)]}}),
            &[],
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("authorizations.EMEA[0]:"),
            "{err}"
        );
    }

    #[test]
    fn local_memberships_stay_and_external_ones_follow_the_iam() {
        let (local, kept, dropped, new) = (Id::new(), Id::new(), Id::new(), Id::new());
        let state = UserState {
            memberships: vec![
                Membership {
                    group_id: local,
                    group_name: "Local".into(),
                    external: false,
                },
                Membership {
                    group_id: kept,
                    group_name: "Kept".into(),
                    external: true,
                },
                Membership {
                    group_id: dropped,
                    group_name: "Dropped".into(),
                    external: true,
                },
            ],
            authorizations: Attributes::from([("EMEA".into(), vec!["a".into(), "b".into()])]),
            usernames: Vec::new(),
        };
        let wanted = ExternalProfile {
            groups: Vec::new(),
            authorizations: Attributes::from([
                ("EMEA".into(), vec!["b".into(), "c".into()]),
                ("APAC".into(), vec!["x".into()]),
            ]),
            usernames: Vec::new(),
        };
        let groups = [
            NamedGroup {
                id: local,
                name: "Local".into(),
                created: false,
                managed_by_iam: None,
                carries_roles: false,
            },
            NamedGroup {
                id: kept,
                name: "Kept".into(),
                created: false,
                managed_by_iam: None,
                carries_roles: false,
            },
            NamedGroup {
                id: new,
                name: "New".into(),
                created: true,
                managed_by_iam: None,
                carries_roles: false,
            },
        ];
        let changes = SyncChanges::between(&state, &wanted, &groups);
        assert_eq!(
            changes.groups_added,
            [GroupChange {
                id: new,
                name: "New".into()
            }]
        );
        assert_eq!(changes.groups_created, ["New"]);
        assert_eq!(
            changes.groups_removed,
            [GroupChange {
                id: dropped,
                name: "Dropped".into()
            }]
        );
        assert_eq!(
            changes.authorizations_added,
            Attributes::from([
                ("APAC".into(), vec!["x".into()]),
                ("EMEA".into(), vec!["c".into()]),
            ])
        );
        assert_eq!(
            changes.authorizations_removed,
            Attributes::from([("EMEA".into(), vec!["a".into()])])
        );
        assert!(!changes.is_empty());

        let unchanged = UserState {
            memberships: vec![Membership {
                group_id: new,
                group_name: "New".into(),
                external: true,
            }],
            authorizations: wanted.authorizations.clone(),
            usernames: Vec::new(),
        };
        assert!(SyncChanges::between(&unchanged, &wanted, &groups[2..]).is_empty());
    }
}
