//! The names users have on data platforms, and how those names are matched.

use super::{MAX_TEXT_CHARS, bounded_text};
use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    Snowflake,
    Redshift,
    Synapse,
    Trino,
    Databricks,
    Postgresql,
    Teradata,
    S3,
}

impl Platform {
    pub const ALL: [Platform; 8] = [
        Self::Snowflake,
        Self::Redshift,
        Self::Synapse,
        Self::Trino,
        Self::Databricks,
        Self::Postgresql,
        Self::Teradata,
        Self::S3,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Snowflake => "SNOWFLAKE",
            Self::Redshift => "REDSHIFT",
            Self::Synapse => "SYNAPSE",
            Self::Trino => "TRINO",
            Self::Databricks => "DATABRICKS",
            Self::Postgresql => "POSTGRESQL",
            Self::Teradata => "TERADATA",
            Self::S3 => "S3",
        }
    }

    pub fn from_db(text: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == text)
            .ok_or_else(|| Error::internal(format!("unknown platform {text:?} in the store")))
    }

    /// AWS names are case-sensitive; the other platforms compare names ignoring case.
    fn names_case_sensitive(self) -> bool {
        self == Self::S3
    }

    /// Whether two names mean the same account on this platform.
    pub fn same_name(self, a: &str, b: &str) -> bool {
        self.name_key(a) == self.name_key(b)
    }

    /// The form of `name` under which two names on this platform are the same.
    pub fn name_key(self, name: &str) -> String {
        if self.names_case_sensitive() {
            name.to_owned()
        } else {
            super::name::comparison_key(name)
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AwsUserType {
    None,
    IamUser,
    IamRole,
    IdentityCenterUser,
}

impl AwsUserType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::IamUser => "IAM_USER",
            Self::IamRole => "IAM_ROLE",
            Self::IdentityCenterUser => "IDENTITY_CENTER_USER",
        }
    }

    pub fn from_db(text: &str) -> Result<Self> {
        [
            Self::None,
            Self::IamUser,
            Self::IamRole,
            Self::IdentityCenterUser,
        ]
        .into_iter()
        .find(|t| t.as_str() == text)
        .ok_or_else(|| Error::internal(format!("unknown AWS user type {text:?} in the store")))
    }
}

/// A user's name on one platform. Constructed only through [`ExternalUsername::new`], which
/// enforces the platform's rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalUsername {
    pub platform: Platform,
    pub username: String,
    /// `Some` exactly for S3.
    pub aws_user_type: Option<AwsUserType>,
}

impl ExternalUsername {
    pub fn new(
        platform: Platform,
        username: &str,
        aws_user_type: Option<AwsUserType>,
    ) -> Result<Self> {
        let username = bounded_text("username", username, MAX_TEXT_CHARS)?;
        let aws_user_type = match (platform, aws_user_type) {
            (Platform::S3, kind) => Some(kind.unwrap_or(AwsUserType::None)),
            (_, None | Some(AwsUserType::None)) => None,
            (other, Some(_)) => {
                return Err(Error::invalid(
                    "aws_user_type",
                    format!("applies to S3 only, not to {}", other.as_str()),
                ));
            }
        };
        if aws_user_type == Some(AwsUserType::IdentityCenterUser)
            && !username.chars().all(|c| c.is_ascii_digit())
        {
            return Err(Error::invalid(
                "username",
                "an IAM Identity Center user is named by its numeric id",
            ));
        }
        Ok(Self {
            platform,
            username,
            aws_user_type,
        })
    }

    pub fn name_key(&self) -> String {
        self.platform.name_key(&self.username)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_rules() {
        assert_eq!(Platform::Databricks.name_key("Ada@X.com"), "ada@x.com");
        assert_eq!(Platform::Snowflake.name_key("ÉMILE"), "émile");
        assert_eq!(Platform::S3.name_key("RoleA"), "RoleA");
    }

    #[test]
    fn aws_types_only_on_s3() {
        assert!(
            ExternalUsername::new(Platform::Snowflake, "ADA", Some(AwsUserType::IamRole)).is_err()
        );
        let s3 = ExternalUsername::new(Platform::S3, "role-a", None).unwrap();
        assert_eq!(s3.aws_user_type, Some(AwsUserType::None));
        assert!(
            ExternalUsername::new(Platform::S3, "ada", Some(AwsUserType::IdentityCenterUser))
                .is_err()
        );
        assert!(
            ExternalUsername::new(Platform::S3, "1234", Some(AwsUserType::IdentityCenterUser))
                .is_ok()
        );
    }
}
