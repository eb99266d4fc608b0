//! Everything logged in the test process, for checking that no secret reaches a log line. Every
//! suite runs in this one process, so once a test has started the capture it holds what all the
//! tests log from then on, whichever suite they belong to.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

#[derive(Clone, Default)]
pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// What was logged so far.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures this process's logs, at debug level, from the first call on. The subscriber is the
/// process's global one, so it is installed once, by whichever test calls first; nothing else in
/// the tests or the library installs one.
pub(crate) fn captured() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .with_env_filter("debug")
            .with_writer(move || writer.clone())
            .init();
        captured
    })
}
