//! Audit events and their hash chain.
//!
//! Each event's hash is SHA-256 over a domain tag, the event's sequence number, every field in
//! a fixed order, each length-prefixed, and the previous event's hash. The encoding is ours and
//! canonical (protobuf bytes are not), so the chain can be re-verified from the stored columns.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{Id, Timestamp};

const DOMAIN_TAG: &[u8] = b"personae.audit.v1";

/// What a mutation records about itself; the store adds sequence, time and hashes.
#[derive(Clone, Debug)]
pub struct AuditRecord {
    /// `None` for the system itself (bootstrap).
    pub actor_id: Option<Id>,
    pub action: &'static str,
    pub target_type: &'static str,
    pub target_id: String,
    pub impersonation_user: Option<String>,
    pub details: Value,
}

impl AuditRecord {
    pub fn new(
        actor_id: Option<Id>,
        action: &'static str,
        target_type: &'static str,
        target_id: impl ToString,
    ) -> Self {
        Self {
            actor_id,
            action,
            target_type,
            target_id: target_id.to_string(),
            impersonation_user: None,
            details: Value::Object(Map::new()),
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        // Keys set before (the caller's certificate, say) stay beside the ones added.
        match (&mut self.details, details) {
            (Value::Object(kept), Value::Object(added)) => kept.extend(added),
            (slot, details) => *slot = details,
        }
        self
    }
}

/// An event as appended to the chain.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEvent {
    pub sequence: i64,
    pub id: Id,
    pub time: Timestamp,
    pub actor_id: Option<Id>,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub success: bool,
    pub impersonation_user: Option<String>,
    /// Canonical JSON (object keys sorted), exactly as hashed.
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEvent {
    /// Seals `record` as the event after `prev` (sequence, hash) in the chain.
    pub fn seal(
        record: AuditRecord,
        prev_sequence: i64,
        prev_hash: String,
        time: Timestamp,
    ) -> Self {
        let mut event = Self {
            sequence: prev_sequence + 1,
            id: Id::new(),
            time,
            actor_id: record.actor_id,
            action: record.action.to_owned(),
            target_type: record.target_type.to_owned(),
            target_id: record.target_id,
            success: true,
            impersonation_user: record.impersonation_user,
            details: canonical_json(&record.details),
            prev_hash,
            hash: String::new(),
        };
        event.hash = event.compute_hash();
        event
    }

    fn compute_hash(&self) -> String {
        let mut hasher = Sha256::new();
        let mut field = |bytes: &[u8]| {
            hasher.update((bytes.len() as u64).to_be_bytes());
            hasher.update(bytes);
        };
        field(DOMAIN_TAG);
        field(&self.sequence.to_be_bytes());
        field(self.id.0.as_bytes());
        field(&self.time.timestamp_micros().to_be_bytes());
        field(
            self.actor_id
                .map(|id| id.to_string())
                .unwrap_or_default()
                .as_bytes(),
        );
        field(self.action.as_bytes());
        field(self.target_type.as_bytes());
        field(self.target_id.as_bytes());
        field(&[u8::from(self.success)]);
        field(
            self.impersonation_user
                .as_deref()
                .unwrap_or_default()
                .as_bytes(),
        );
        field(self.details.as_bytes());
        field(self.prev_hash.as_bytes());
        hex::encode(hasher.finalize())
    }
}

/// Serialises JSON with object keys sorted at every level, whatever map order serde_json uses.
fn canonical_json(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.clone(), sorted(v)))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

/// The first event whose stored hash or link does not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokenLink {
    pub sequence: i64,
    pub event_id: Id,
    pub reason: String,
}

/// Walks events in sequence order, remembering the last one checked.
#[derive(Default)]
pub struct ChainVerifier {
    last_sequence: i64,
    last_hash: String,
    pub checked: i64,
}

impl ChainVerifier {
    pub fn check(&mut self, event: &AuditEvent) -> Result<(), BrokenLink> {
        let broken = |reason: String| BrokenLink {
            sequence: event.sequence,
            event_id: event.id,
            reason,
        };
        if event.sequence != self.last_sequence + 1 {
            return Err(broken(format!(
                "sequence {} follows {}; an event is missing",
                event.sequence, self.last_sequence
            )));
        }
        if event.prev_hash != self.last_hash {
            return Err(broken(
                "prev_hash does not match the previous event's hash".into(),
            ));
        }
        if event.compute_hash() != event.hash {
            return Err(broken("the event's content does not match its hash".into()));
        }
        self.last_sequence = event.sequence;
        self.last_hash = event.hash.clone();
        self.checked += 1;
        Ok(())
    }

    /// Checks that the chain ends where its head says, so events cut from the end are noticed.
    pub fn finish(&self, head_sequence: i64, head_hash: &str) -> Result<(), String> {
        if self.last_sequence != head_sequence || self.last_hash != head_hash {
            return Err(format!(
                "the chain ends at sequence {} but its head records sequence {head_sequence}; events are missing or altered",
                self.last_sequence
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chain(n: usize) -> Vec<AuditEvent> {
        let mut events: Vec<AuditEvent> = Vec::new();
        for i in 0..n {
            let (seq, hash) = events
                .last()
                .map(|e| (e.sequence, e.hash.clone()))
                .unwrap_or_default();
            let record = AuditRecord::new(None, "CreateUser", "user", i)
                .with_details(json!({"b": 1, "a": [{"z": 1, "y": 2}]}));
            events.push(AuditEvent::seal(record, seq, hash, super::super::now()));
        }
        events
    }

    #[test]
    fn canonical_json_sorts_keys() {
        assert_eq!(
            canonical_json(&json!({"b": 1, "a": {"d": 1, "c": 2}})),
            r#"{"a":{"c":2,"d":1},"b":1}"#
        );
    }

    #[test]
    fn verifier_finds_the_first_broken_link() {
        let mut events = chain(5);
        let mut verifier = ChainVerifier::default();
        assert!(events.iter().all(|e| verifier.check(e).is_ok()));
        assert_eq!(verifier.checked, 5);

        events[2].target_id = "tampered".into();
        let mut verifier = ChainVerifier::default();
        let broken = events.iter().find_map(|e| verifier.check(e).err()).unwrap();
        assert_eq!(broken.sequence, 3);

        let mut events = chain(4);
        events.remove(1);
        let mut verifier = ChainVerifier::default();
        let broken = events.iter().find_map(|e| verifier.check(e).err()).unwrap();
        assert_eq!(broken.sequence, 3);
    }
}
