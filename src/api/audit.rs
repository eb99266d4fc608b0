//! The Audit service.

use tonic::{Request, Response, Status};

use super::{Context, convert, page_of};
use crate::domain::{Id, MAX_TEXT_CHARS, audit::ChainVerifier, bounded_text};
use crate::error::{Error, Result};
use crate::proto::{self, audit_server::Audit};
use crate::store::AuditFilter;

/// How many events verification reads at a time.
const VERIFY_BATCH: i64 = 1000;

pub struct AuditApi {
    context: Context,
}

impl AuditApi {
    pub fn new(context: Context) -> Self {
        Self { context }
    }
}

fn optional_text(field: &str, text: &str) -> Result<Option<String>> {
    if text.is_empty() {
        Ok(None)
    } else {
        bounded_text(field, text, MAX_TEXT_CHARS).map(Some)
    }
}

#[tonic::async_trait]
impl Audit for AuditApi {
    async fn list_audit_events(
        &self,
        request: Request<proto::ListAuditEventsRequest>,
    ) -> Result<Response<proto::ListAuditEventsResponse>, Status> {
        let request = request.into_inner();
        let filter = AuditFilter {
            since: request
                .since
                .as_ref()
                .map(|t| convert::parse_timestamp("since", t))
                .transpose()?,
            until: request
                .until
                .as_ref()
                .map(|t| convert::parse_timestamp("until", t))
                .transpose()?,
            actor: Id::parse_optional("actor", &request.actor)?,
            action: optional_text("action", &request.action)?,
            target: optional_text("target", &request.target)?,
        };
        if let (Some(since), Some(until)) = (filter.since, filter.until)
            && since >= until
        {
            return Err(Error::invalid("until", "must be after since").into());
        }
        let (events, next_page_token) = page_of(
            request.page_size,
            &request.page_token,
            100,
            &format!("{filter:?}"),
            async |page| self.context.store.list_audit_events(&filter, page).await,
            |event| event.sequence.to_string(),
        )
        .await?;
        Ok(Response::new(proto::ListAuditEventsResponse {
            events: events
                .into_iter()
                .map(convert::audit_event)
                .collect::<Result<_>>()?,
            next_page_token,
        }))
    }

    async fn verify_audit_chain(
        &self,
        _request: Request<proto::VerifyAuditChainRequest>,
    ) -> Result<Response<proto::VerifyAuditChainResponse>, Status> {
        // Read the head first: events appended during the walk lie beyond it and are not checked.
        let (head_sequence, head_hash) = self.context.store.audit_head().await?;
        let mut verifier = ChainVerifier::default();
        let mut after = 0;
        loop {
            let events = self
                .context
                .store
                .audit_events_after(after, VERIFY_BATCH)
                .await?;
            let Some(last) = events.last() else { break };
            after = last.sequence;
            for event in events.iter().take_while(|e| e.sequence <= head_sequence) {
                if let Err(broken) = verifier.check(event) {
                    return Ok(Response::new(proto::VerifyAuditChainResponse {
                        ok: false,
                        events_checked: verifier.checked,
                        first_broken_sequence: broken.sequence,
                        first_broken_event_id: broken.event_id.to_string(),
                        reason: broken.reason,
                    }));
                }
            }
            if after >= head_sequence {
                break;
            }
        }
        if let Err(reason) = verifier.finish(head_sequence, &head_hash) {
            return Ok(Response::new(proto::VerifyAuditChainResponse {
                ok: false,
                events_checked: verifier.checked,
                first_broken_sequence: verifier.checked + 1,
                reason,
                ..Default::default()
            }));
        }
        Ok(Response::new(proto::VerifyAuditChainResponse {
            ok: true,
            events_checked: verifier.checked,
            ..Default::default()
        }))
    }
}
