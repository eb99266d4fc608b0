//! Services whose issues have not landed: every RPC answers UNIMPLEMENTED through the generated
//! default stubs, never a fake success.

use crate::proto::{
    groups_server::Groups, iam_config_server::IamConfig, impersonation_server::Impersonation,
};

pub struct GroupsApi;
pub struct IamConfigApi;
pub struct ImpersonationApi;

impl Groups for GroupsApi {}
impl IamConfig for IamConfigApi {}
impl Impersonation for ImpersonationApi {}
