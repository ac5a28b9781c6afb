//! A minimal etcd v3 client: `Put` and a counting `Range`, nothing else.
//!
//! Hand-written rather than the `etcd-client` crate because that crate compiles etcd's
//! `.proto` files with `protoc` at build time, and `protoc` is not on a fresh machine, yet CI
//! builds every workspace member. Two messages need no code generator: the field numbers
//! below are those of etcd's `etcdserverpb/rpc.proto` (stable since v3.0). A side effect that
//! suits a comparison: etcd is driven through the very same tonic/hyper stack as Podium.

use bytes::Bytes;
use http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint};
use tonic_prost::ProstCodec;

const PUT: &str = "/etcdserverpb.KV/Put";
const RANGE: &str = "/etcdserverpb.KV/Range";

#[derive(Clone, PartialEq, prost::Message)]
pub struct PutRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    #[prost(bytes = "bytes", tag = "2")]
    pub value: Bytes,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ResponseHeader {
    #[prost(int64, tag = "3")]
    pub revision: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PutResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RangeRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub range_end: Vec<u8>,
    #[prost(bool, tag = "9")]
    pub count_only: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RangeResponse {
    #[prost(int64, tag = "4")]
    pub count: i64,
}

/// etcd's KV service over one HTTP/2 connection (clones share it).
#[derive(Debug, Clone)]
pub struct EtcdKv {
    grpc: tonic::client::Grpc<Channel>,
}

impl EtcdKv {
    /// A client for `url` that connects on first use.
    pub fn connect_lazy(url: &str) -> anyhow::Result<Self> {
        let channel = Endpoint::from_shared(url.to_owned())?.connect_lazy();
        Ok(EtcdKv {
            grpc: tonic::client::Grpc::new(channel),
        })
    }

    async fn ready(&mut self) -> Result<(), tonic::Status> {
        self.grpc
            .ready()
            .await
            .map_err(|e| tonic::Status::unavailable(format!("etcd connection: {e}")))
    }

    /// Writes one key; resolves once etcd has committed it (fsynced its WAL).
    pub async fn put(&mut self, key: Vec<u8>, value: Bytes) -> Result<i64, tonic::Status> {
        self.ready().await?;
        let response = self
            .grpc
            .unary(
                tonic::Request::new(PutRequest { key, value }),
                PathAndQuery::from_static(PUT),
                ProstCodec::<PutRequest, PutResponse>::default(),
            )
            .await?;
        Ok(response.into_inner().header.map_or(0, |h| h.revision))
    }

    /// How many keys start with `prefix`.
    pub async fn count_prefix(&mut self, prefix: &[u8]) -> Result<i64, tonic::Status> {
        self.ready().await?;
        let request = RangeRequest {
            key: prefix.to_vec(),
            range_end: prefix_end(prefix),
            count_only: true,
        };
        let response = self
            .grpc
            .unary(
                tonic::Request::new(request),
                PathAndQuery::from_static(RANGE),
                ProstCodec::<RangeRequest, RangeResponse>::default(),
            )
            .await?;
        Ok(response.into_inner().count)
    }
}

/// The first key after every key that starts with `prefix` (etcd's `clientv3.GetPrefixRangeEnd`).
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // Every byte was 0xff: the range runs to the end of the keyspace.
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_the_last_byte_that_can_be() {
        assert_eq!(prefix_end(b"/a/"), b"/a0".to_vec());
        assert_eq!(prefix_end(&[b'a', 0xff]), b"b".to_vec());
        assert_eq!(prefix_end(&[0xff]), vec![0]);
    }

    #[test]
    fn put_request_uses_etcds_field_numbers() {
        use prost::Message;
        let encoded = PutRequest {
            key: b"k".to_vec(),
            value: Bytes::from_static(b"v"),
        }
        .encode_to_vec();
        // Field 1 (key), length 1, 'k'; field 2 (value), length 1, 'v'.
        assert_eq!(encoded, vec![0x0a, 1, b'k', 0x12, 1, b'v']);
    }
}
