//! Domain values for store calls, from names a test knows are valid.

use personae::domain::{
    name::{AttributeName, Description, Name},
    permission::PermissionName,
    role::NewTenant,
};

pub(crate) fn perm(name: &str) -> PermissionName {
    PermissionName::parse("permission", name).expect("a valid permission name")
}

pub(crate) fn perms(names: &[&str]) -> Vec<PermissionName> {
    names.iter().map(|name| perm(name)).collect()
}

pub(crate) fn attr(name: &str) -> AttributeName {
    AttributeName::parse("attribute", name).expect("a valid attribute name")
}

pub(crate) fn named(text: &str) -> Name {
    Name::parse("name", text).expect("a valid name")
}

pub(crate) fn desc(text: &str) -> Description {
    Description::parse("description", text).expect("a valid description")
}

pub(crate) fn tenant(name: &str) -> NewTenant {
    NewTenant {
        name: named(name),
        description: Description::default(),
    }
}
