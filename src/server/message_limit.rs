//! Request messages over the size limit answer RESOURCE_EXHAUSTED, as gRPC servers do, instead
//! of the OUT_OF_RANGE that tonic's own limit answers.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use http::Request;
use http_body::{Body as HttpBody, Frame};
use tonic::{Status, body::Body};

use crate::middleware::{Inner, Middleware, Next, ResponseFuture};

/// Refuses a request message as soon as its length prefix says it is over `limit` bytes, before
/// it is read, let alone decoded.
#[derive(Clone)]
pub(super) struct MessageLimit {
    limit: usize,
}

impl MessageLimit {
    pub(super) fn new(limit: usize) -> Self {
        Self { limit }
    }
}

impl Middleware for MessageLimit {
    fn call<S: Inner>(&self, request: Request<Body>, next: Next<S>) -> ResponseFuture<S::Error> {
        let limit = self.limit;
        let request = request.map(|inner| {
            Body::new(LimitedBody {
                inner,
                framing: Framing::new(limit),
            })
        });
        Box::pin(next.run(request))
    }
}

pin_project_lite::pin_project! {
    /// The request body, failing with RESOURCE_EXHAUSTED where an over-limit message starts;
    /// tonic's decoder answers the call with that status.
    struct LimitedBody {
        #[pin]
        inner: Body,
        framing: Framing,
    }
}

impl HttpBody for LimitedBody {
    type Data = bytes::Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = this.inner.poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &frame
            && let Some(data) = frame.data_ref()
            && let Err(status) = this.framing.follow(data)
        {
            return Poll::Ready(Some(Err(status)));
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Where the body is in gRPC's framing: each message is a compression flag byte, a big-endian
/// u32 length and that many bytes, and HTTP/2 frames may split any of them anywhere.
struct Framing {
    limit: usize,
    prefix: [u8; 5],
    prefix_read: usize,
    message_left: usize,
}

impl Framing {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            prefix: [0; 5],
            prefix_read: 0,
            message_left: 0,
        }
    }

    /// Follows the messages through the next piece of the body.
    fn follow(&mut self, mut data: &[u8]) -> Result<(), Status> {
        while !data.is_empty() {
            if self.message_left > 0 {
                let skipped = self.message_left.min(data.len());
                self.message_left -= skipped;
                data = &data[skipped..];
                continue;
            }
            let taken = (self.prefix.len() - self.prefix_read).min(data.len());
            self.prefix[self.prefix_read..self.prefix_read + taken].copy_from_slice(&data[..taken]);
            self.prefix_read += taken;
            data = &data[taken..];
            if self.prefix_read == self.prefix.len() {
                self.prefix_read = 0;
                let [_, length @ ..] = self.prefix;
                let length = u32::from_be_bytes(length) as usize;
                if length > self.limit {
                    return Err(Status::resource_exhausted(format!(
                        "the request message is {length} bytes; the limit is {} bytes",
                        self.limit
                    )));
                }
                self.message_left = length;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(length: u32) -> Vec<u8> {
        let mut bytes = vec![0];
        bytes.extend_from_slice(&length.to_be_bytes());
        bytes.resize(5 + length as usize, b'x');
        bytes
    }

    #[test]
    fn a_message_at_the_limit_passes_and_one_over_it_is_refused() {
        assert!(Framing::new(10).follow(&message(10)).is_ok());
        let refused = Framing::new(10)
            .follow(&message(11))
            .expect_err("over the limit");
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
    }

    #[test]
    fn prefixes_split_across_frames_and_later_messages_are_followed() {
        let mut body = message(3);
        body.extend(message(0));
        body.extend(message(11));
        let mut framing = Framing::new(10);
        // One byte at a time splits every prefix; the third message is the one refused.
        let refused_at = body
            .iter()
            .position(|byte| framing.follow(std::slice::from_ref(byte)).is_err());
        assert_eq!(refused_at, Some(8 + 5 + 4));
    }
}
