//! Effective permissions: what a user holds directly, through roles, and through groups'
//! roles, globally or within a tenant; and the rules that constrain them.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    Id,
    permission::{APPLICATION_ADMIN, GOVERNANCE},
};

/// Where one effective permission comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    Direct,
    Role {
        role_id: Id,
        tenant_id: Option<Id>,
    },
    Group {
        group_id: Id,
        role_id: Id,
        tenant_id: Option<Id>,
    },
}

/// One path by which a user holds a permission.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    pub permission: String,
    pub source: Source,
}

impl Grant {
    /// The tenant the grant is limited to; `None` means everywhere.
    pub fn tenant(&self) -> Option<Id> {
        match self.source {
            Source::Direct => None,
            Source::Role { tenant_id, .. } | Source::Group { tenant_id, .. } => tenant_id,
        }
    }
}

/// Each permission held, with every source of it, sorted.
pub fn by_permission(grants: Vec<Grant>) -> BTreeMap<String, Vec<Source>> {
    let mut map: BTreeMap<String, BTreeSet<Source>> = BTreeMap::new();
    for grant in grants {
        map.entry(grant.permission)
            .or_default()
            .insert(grant.source);
    }
    map.into_iter()
        .map(|(p, s)| (p, s.into_iter().collect()))
        .collect()
}

/// A user's grants of APPLICATION_ADMIN or GOVERNANCE.
#[derive(Clone, Debug)]
pub struct AdminGrant {
    pub user_id: Id,
    pub grant: Grant,
}

/// The users who would hold APPLICATION_ADMIN and GOVERNANCE in one scope: both globally, one
/// globally and one in a tenant, or both in the same tenant.
pub fn admin_governor_conflicts(grants: &[AdminGrant]) -> Vec<Id> {
    /// The scopes (`None`: everywhere) in which one user holds each of the two.
    #[derive(Default)]
    struct Scopes {
        admin: Vec<Option<Id>>,
        governor: Vec<Option<Id>>,
    }
    let mut by_user: BTreeMap<Id, Scopes> = BTreeMap::new();
    for AdminGrant { user_id, grant } in grants {
        let scopes = by_user.entry(*user_id).or_default();
        match grant.permission.as_str() {
            APPLICATION_ADMIN => scopes.admin.push(grant.tenant()),
            GOVERNANCE => scopes.governor.push(grant.tenant()),
            _ => {}
        }
    }
    let overlap = |a: &Option<Id>, g: &Option<Id>| a.is_none() || g.is_none() || a == g;
    by_user
        .into_iter()
        .filter(|(_, s)| {
            s.admin
                .iter()
                .any(|a| s.governor.iter().any(|g| overlap(a, g)))
        })
        .map(|(user, _)| user)
        .collect()
}

/// Why a change that would leave nobody holding USER_ADMIN is refused, naming who holds it now.
pub fn last_user_admin_message(holders: &[(Id, String)]) -> String {
    let names: Vec<String> = holders
        .iter()
        .map(|(id, name)| format!("{name} ({id})"))
        .collect();
    let (who, verb) = if names.len() == 1 {
        ("user", "is")
    } else {
        ("users", "are")
    };
    format!(
        "the change would leave no enabled user with USER_ADMIN: {who} {} {verb} the last enabled user with \
         USER_ADMIN; grant USER_ADMIN to another enabled user first",
        names.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(user_id: Id, permission: &str, tenant_id: Option<Id>) -> AdminGrant {
        AdminGrant {
            user_id,
            grant: Grant {
                permission: permission.into(),
                source: Source::Role {
                    role_id: Id::new(),
                    tenant_id,
                },
            },
        }
    }

    #[test]
    fn conflicts_need_overlapping_scopes() {
        let (a, b, c, d) = (Id::new(), Id::new(), Id::new(), Id::new());
        let (t1, t2) = (Some(Id::new()), Some(Id::new()));
        let grants = [
            grant(a, APPLICATION_ADMIN, None),
            grant(a, GOVERNANCE, t1),
            grant(b, APPLICATION_ADMIN, t1),
            grant(b, GOVERNANCE, t2),
            grant(c, APPLICATION_ADMIN, t2),
            grant(c, GOVERNANCE, t2),
            grant(d, GOVERNANCE, None),
        ];
        let mut expected = vec![a, c];
        expected.sort();
        assert_eq!(admin_governor_conflicts(&grants), expected);
    }

    #[test]
    fn sources_are_grouped_by_permission() {
        let role = Id::new();
        let grants = vec![
            Grant {
                permission: "B".into(),
                source: Source::Direct,
            },
            Grant {
                permission: "A".into(),
                source: Source::Role {
                    role_id: role,
                    tenant_id: None,
                },
            },
            Grant {
                permission: "B".into(),
                source: Source::Direct,
            },
        ];
        let map = by_permission(grants);
        assert_eq!(map.keys().collect::<Vec<_>>(), ["A", "B"]);
        assert_eq!(map["B"], [Source::Direct]);
    }
}
