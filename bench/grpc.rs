//! Raw gRPC calls: requests are encoded once, before timing, and responses are kept as bytes, so
//! a timing is the round trip through the server and not this client's protobuf work.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::{Buf, BufMut, Bytes};
use http::uri::PathAndQuery;
use prost::Message;
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
pub(crate) struct Client {
    grpc: Grpc<Channel>,
    authorization: AsciiMetadataValue,
}

impl Client {
    pub(crate) async fn connect(address: &str, token: &str) -> anyhow::Result<Self> {
        let channel = Endpoint::from_shared(format!("http://{address}"))?
            .tcp_nodelay(true)
            .connect()
            .await
            .with_context(|| format!("connecting to {address}"))?;
        Ok(Self {
            grpc: Grpc::new(channel),
            authorization: format!("Bearer {token}").parse()?,
        })
    }

    /// Sends one encoded request to `path` (`/package.Service/Method`).
    pub(crate) async fn call(&mut self, path: &PathAndQuery, body: Bytes) -> Result<Bytes, Status> {
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
    pub(crate) async fn typed<Q: Message, R: Message + Default>(
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

/// How many calls to time per case.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Iterations {
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
pub(crate) struct Samples(Vec<Duration>);

impl Samples {
    /// The nearest-rank percentile `p` (0–100).
    pub(crate) fn percentile(&self, p: f64) -> Duration {
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

/// Times `requests` (cycled through, one call at a time) against `path`.
pub(crate) async fn time(
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
