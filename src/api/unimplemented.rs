//! Services whose issues have not landed: every RPC answers UNIMPLEMENTED through the generated
//! default stubs, never a fake success.

use crate::proto::impersonation_server::Impersonation;

pub struct ImpersonationApi;

impl Impersonation for ImpersonationApi {}
