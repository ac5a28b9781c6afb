//! Podium's object model and gRPC API, generated from the `.proto` files in `proto/`.
//!
//! One set of types serves three encodings: protobuf on the gRPC wire, protobuf in the store,
//! and Kubernetes' JSON form (camelCase names, omitted empty fields, Quantity and Time as
//! strings) for REST clients. `build.rs` derives the JSON form from the `.proto` field names and
//! options; `json` holds the few hand-written pieces.
//!
//! # Layout
//! - `k8s::meta::v1`: ObjectMeta, ListMeta, Status, LabelSelector and the value types.
//! - `k8s::core::v1`: Pod, Node, Namespace, Event, Binding and their lists.
//! - `k8s::coordination::v1`: Lease. `k8s::scheduling::v1`: PriorityClass.
//! - `k8s::runtime`: the protobuf envelope (`Unknown`) some kubectl commands send.
//! - `api::v1`: the gRPC services and their request messages.

pub mod json;
mod time;

pub use time::{now, now_micro};

/// Kubernetes' API types, by group and version.
pub mod k8s {
    pub mod meta {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/k8s.meta.v1.rs"));
        }
    }
    pub mod core {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/k8s.core.v1.rs"));
        }
    }
    pub mod coordination {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/k8s.coordination.v1.rs"));
        }
    }
    pub mod scheduling {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/k8s.scheduling.v1.rs"));
        }
    }
    pub mod runtime {
        include!(concat!(env!("OUT_DIR"), "/k8s.runtime.rs"));
    }
}

/// Podium's own packages.
pub mod podium {
    /// Podium's gRPC services.
    pub mod api {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/podium.api.v1.rs"));
        }
    }

    /// The agent's gRPC service (logs and exec of the containers it runs).
    pub mod agent {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/podium.agent.v1.rs"));
        }
    }
}

pub use podium::{agent, api};

/// The encoded descriptors of every compiled file, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptor.bin"));
