//! Raw gRPC calls: requests are encoded once, before timing, and responses are kept as bytes, so
//! a timing is the round trip through the server and not this client's protobuf work.

use std::{
    io,
    pin::Pin,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use anyhow::Context as _;
use bytes::{Buf, BufMut, Bytes};
use http::{Uri, uri::PathAndQuery};
use hyper_util::rt::TokioIo;
use prost::Message;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
};
use tonic::{
    Request, Status,
    client::Grpc,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    metadata::AsciiMetadataValue,
    transport::{Channel, Endpoint},
};

/// A codec that passes already-encoded messages through untouched.
#[derive(Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// One connection to the server, calling as the bootstrap admin.
pub struct Client {
    grpc: Grpc<Channel>,
    authorization: AsciiMetadataValue,
}

impl Client {
    /// With `quick_ack`, the connection acknowledges every segment at once; see [`QuickAck`].
    pub async fn connect(address: &str, token: &str, quick_ack: bool) -> anyhow::Result<Self> {
        let endpoint = Endpoint::from_shared(format!("http://{address}"))?;
        let channel = if quick_ack {
            let address = address.to_owned();
            endpoint
                .connect_with_connector(tower::service_fn(move |_: Uri| {
                    let address = address.clone();
                    async move {
                        let stream = TcpStream::connect(address).await?;
                        stream.set_nodelay(true)?;
                        io::Result::Ok(TokioIo::new(QuickAck(stream)))
                    }
                }))
                .await
        } else {
            endpoint.connect().await
        }
        .with_context(|| format!("connecting to {address}"))?;
        Ok(Self {
            grpc: Grpc::new(channel),
            authorization: format!("Bearer {token}").parse()?,
        })
    }

    /// Sends one encoded request to `path` (`/package.Service/Method`).
    pub async fn call(&mut self, path: &PathAndQuery, body: Bytes) -> Result<Bytes, Status> {
        let mut request = Request::new(body);
        request
            .metadata_mut()
            .insert("authorization", self.authorization.clone());
        self.grpc
            .ready()
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let response = self.grpc.unary(request, path.clone(), RawCodec).await?;
        Ok(response.into_inner())
    }

    /// Calls with a typed request and decodes the typed response, for setup and checks.
    pub async fn typed<Q: Message, R: Message + Default>(
        &mut self,
        path: &PathAndQuery,
        request: &Q,
    ) -> anyhow::Result<R> {
        let bytes = self
            .call(path, request.encode_to_vec().into())
            .await
            .with_context(|| format!("calling {path}"))?;
        Ok(R::decode(bytes)?)
    }
}

/// A TCP stream that re-arms TCP_QUICKACK after every read, so that no acknowledgement waits
/// for Linux's delayed-ACK timer (about 40 ms).
///
/// That timer costs a call 40 ms when the server sends a response in two writes without
/// TCP_NODELAY (Nagle's algorithm holds the second until the first is acknowledged). Every client
/// pays it then; this option removes it from the timings to show what the store costs.
struct QuickAck(TcpStream);

impl AsyncRead for QuickAck {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.0).poll_read(cx, buf);
        if polled.is_ready() {
            // Not sticky: the kernel may fall back to delayed ACKs after any segment.
            let _ = socket2::SockRef::from(&self.0).set_tcp_quickack(true);
        }
        polled
    }
}

impl AsyncWrite for QuickAck {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// How many calls to time per case.
#[derive(Clone, Copy, Debug)]
pub struct Iterations {
    /// Untimed calls first, to warm caches and connections.
    pub warm_up: usize,
    /// Timed calls, at most.
    pub measured: usize,
    /// Stop timing a case after this long (a slow call still gets `min_measured` samples), so a
    /// call that scans a million rows does not hold the run up for minutes.
    pub budget: Duration,
    pub min_measured: usize,
}

/// The latencies of one case, sorted.
pub struct Samples(Vec<Duration>);

impl Samples {
    /// The nearest-rank percentile `p` (0–100).
    pub fn percentile(&self, p: f64) -> Duration {
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// Times `requests` (cycled through, one call at a time) against `path`.
pub async fn time(
    client: &mut Client,
    path: &PathAndQuery,
    requests: &[Bytes],
    iterations: Iterations,
) -> anyhow::Result<Samples> {
    let mut next = requests.iter().cycle();
    for _ in 0..iterations.warm_up {
        let body = next.next().expect("at least one request").clone();
        client.call(path, body).await?;
    }
    let started = Instant::now();
    let mut samples = Vec::with_capacity(iterations.measured);
    while samples.len() < iterations.measured
        && (samples.len() < iterations.min_measured || started.elapsed() < iterations.budget)
    {
        let body = next.next().expect("at least one request").clone();
        let call = Instant::now();
        client.call(path, body).await?;
        samples.push(call.elapsed());
    }
    samples.sort_unstable();
    Ok(Samples(samples))
}
