//! The Impersonation service: integrations, checks and sessions.

use tonic::{Request, Response, Status};

use super::{Context, audit, committed, consistency, convert, page_of, principal};
use crate::domain::{
    self, Id, Version,
    impersonation::{
        IntegrationSettings, MAX_SESSION_REASON_CHARS, MAX_SESSION_TTL, NewSession, SessionFilter,
        SessionId, platform_username,
    },
    name::comparison_key,
};
use crate::error::{Error, Result};
use crate::proto::{self, impersonation_server::Impersonation};

pub struct ImpersonationApi {
    context: Context,
}

impl ImpersonationApi {
    pub fn new(context: Context) -> Self {
        Self { context }
    }
}

fn ttl(ttl: Option<&prost_types::Duration>) -> Result<Option<chrono::Duration>> {
    let Some(ttl) = ttl else { return Ok(None) };
    let valid = u32::try_from(ttl.nanos)
        .ok()
        .and_then(|nanos| chrono::Duration::new(ttl.seconds, nanos))
        .filter(|d| *d >= chrono::Duration::seconds(1) && *d <= MAX_SESSION_TTL);
    valid.map(Some).ok_or_else(|| {
        Error::invalid(
            "ttl",
            format!("must be from 1 s to {} days", MAX_SESSION_TTL.num_days()),
        )
    })
}

#[tonic::async_trait]
impl Impersonation for ImpersonationApi {
    async fn list_integrations(
        &self,
        _request: Request<proto::ListIntegrationsRequest>,
    ) -> Result<Response<proto::ListIntegrationsResponse>, Status> {
        let integrations = self.context.store.list_integrations().await?;
        Ok(Response::new(proto::ListIntegrationsResponse {
            integrations: integrations.into_iter().map(convert::integration).collect(),
        }))
    }

    async fn get_integration(
        &self,
        request: Request<proto::GetIntegrationRequest>,
    ) -> Result<Response<proto::Integration>, Status> {
        let platform = convert::platform(request.into_inner().platform)?;
        let integration = self.context.store.get_integration(platform).await?;
        Ok(Response::new(convert::integration(integration)))
    }

    async fn configure_integration(
        &self,
        request: Request<proto::ConfigureIntegrationRequest>,
    ) -> Result<Response<proto::Integration>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let platform = convert::platform(request.platform)?;
        let target_group_ids = request
            .target_group_ids
            .iter()
            .enumerate()
            .map(|(i, id)| Id::parse(&format!("target_group_ids[{i}]"), id))
            .collect::<Result<Vec<_>>>()?;
        let settings = IntegrationSettings::new(
            platform,
            request.enabled,
            &request.impersonation_role,
            &request.allowed_impersonators,
            &request.allowed_impersonator_pattern,
            target_group_ids,
        )?;
        let etag = (!request.etag.is_empty())
            .then(|| Version::parse_etag("etag", &request.etag))
            .transpose()?;
        let record = audit(
            &actor,
            "ConfigureIntegration",
            "integration",
            platform.as_str(),
        );
        let configured = self
            .context
            .store
            .configure_integration(platform, settings, etag, record)
            .await?;
        Ok(committed(configured, convert::integration))
    }

    async fn check_impersonation(
        &self,
        request: Request<proto::CheckImpersonationRequest>,
    ) -> Result<Response<proto::CheckImpersonationResponse>, Status> {
        let caller = principal(&request)?;
        let request = request.into_inner();
        let platform = convert::platform(request.platform)?;
        let actor = platform_username("actor", &request.actor)?;
        let subject = convert::subject(request.subject.as_ref())?;
        let consistency = consistency(request.consistency.as_ref())?;
        let decision = self
            .context
            .decisions
            .check_impersonation(caller.user_id, platform, &actor, &subject, consistency)
            .await?;
        Ok(Response::new(convert::decision(decision)))
    }

    async fn begin_impersonation(
        &self,
        request: Request<proto::BeginImpersonationRequest>,
    ) -> Result<Response<proto::ImpersonationSession>, Status> {
        let principal = principal(&request)?;
        let request = request.into_inner();
        let platform = convert::platform(request.platform)?;
        if !platform.supports_impersonation() {
            return Err(Error::FailedPrecondition(format!(
                "platform: {} does not support impersonation",
                platform.as_str()
            ))
            .into());
        }
        let reason = request.reason.trim();
        if reason.chars().count() > MAX_SESSION_REASON_CHARS {
            return Err(Error::invalid(
                "reason",
                format!("is longer than {MAX_SESSION_REASON_CHARS} characters"),
            )
            .into());
        }
        let session = NewSession {
            session_id: SessionId::parse("session_id", &request.session_id)?,
            platform,
            actor: platform_username("actor", &request.actor)?,
            target: platform_username("target", &request.target)?,
            reason: reason.to_owned(),
            ttl: ttl(request.ttl.as_ref())?,
        };
        let mut record = audit(
            &principal,
            "BeginImpersonation",
            "impersonation_session",
            session.session_id.as_str(),
        );
        record.impersonation_user = Some(session.target.clone());
        let begun = self
            .context
            .store
            .begin_impersonation(Id::new(), session, record)
            .await?;
        let now = domain::now();
        Ok(committed(begun, |s| convert::session(s, now)))
    }

    async fn end_impersonation(
        &self,
        request: Request<proto::EndImpersonationRequest>,
    ) -> Result<Response<proto::ImpersonationSession>, Status> {
        let principal = principal(&request)?;
        let session_id = SessionId::parse("session_id", &request.into_inner().session_id)?;
        let record = audit(
            &principal,
            "EndImpersonation",
            "impersonation_session",
            session_id.as_str(),
        );
        let ended = self
            .context
            .store
            .end_impersonation(&session_id, record)
            .await?;
        let now = domain::now();
        Ok(committed(ended, |s| convert::session(s, now)))
    }

    async fn list_impersonation_sessions(
        &self,
        request: Request<proto::ListImpersonationSessionsRequest>,
    ) -> Result<Response<proto::ListImpersonationSessionsResponse>, Status> {
        let request = request.into_inner();
        let platform = match request.platform {
            0 => None,
            value => Some(convert::platform(value)?),
        };
        let actor = request.actor.trim();
        let filter = SessionFilter {
            platform,
            actor_key: (!actor.is_empty())
                .then(|| platform_username("actor", actor).map(|a| comparison_key(&a)))
                .transpose()?,
            active_only: request.active_only,
        };
        let (sessions, next_page_token) = page_of(
            request.page_size,
            &request.page_token,
            50,
            &format!(
                "{}|{:?}|{}",
                request.platform, filter.actor_key, filter.active_only
            ),
            async |page| self.context.store.list_sessions(&filter, page).await,
            |session| session.id.to_string(),
        )
        .await?;
        let now = domain::now();
        Ok(Response::new(proto::ListImpersonationSessionsResponse {
            sessions: sessions
                .into_iter()
                .map(|s| convert::session(s, now))
                .collect(),
            next_page_token,
        }))
    }
}
