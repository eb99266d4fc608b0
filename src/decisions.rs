//! Answers impersonation questions, for CheckImpersonation and BatchCheck alike: the facts come
//! from the store, the rules from `domain::impersonation`.

use crate::domain::{
    self,
    external::Platform,
    impersonation::{Decision, Subject, decide},
    name::comparison_key,
};
use crate::error::{Error, Result};
use crate::store::Store;

/// May `actor` act as the subject on `platform`? A session stands for its target while it is
/// active, and only for its own platform and actor.
pub async fn check_impersonation(
    store: &dyn Store,
    platform: Platform,
    actor: &str,
    subject: &Subject,
) -> Result<Decision> {
    let target = match subject {
        Subject::Target(target) => target.clone(),
        Subject::Session(session_id) => {
            let session = store.get_session(session_id).await?;
            if session.platform != platform {
                return Err(Error::invalid(
                    "platform",
                    format!(
                        "session {:?} was begun on {}, not {}",
                        session.session_id,
                        session.platform.as_str(),
                        platform.as_str()
                    ),
                ));
            }
            if comparison_key(&session.actor) != comparison_key(actor) {
                return Err(Error::invalid(
                    "actor",
                    format!(
                        "session {:?} is {:?}'s, not {actor:?}'s",
                        session.session_id, session.actor
                    ),
                ));
            }
            if !session.active_at(domain::now()) {
                return Ok(Decision::session_ended(&session));
            }
            session.target
        }
    };
    let facts = store.impersonation_facts(platform, actor, &target).await?;
    Ok(decide(&facts))
}
