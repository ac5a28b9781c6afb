//! Tolerations against taints, as Kubernetes matches them (the scheduler's filters and the
//! taint-based eviction share these rules).

use podium_proto::k8s::core::v1::{Taint, Toleration};

/// Whether a toleration tolerates a taint (Kubernetes' `ToleratesTaint`): effects match (an
/// empty toleration effect matches all), keys match (an empty key with Exists matches all),
/// and Exists ignores the value while Equal (the default) compares it.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    if !toleration.effect.is_empty() && toleration.effect != taint.effect {
        return false;
    }
    if !toleration.key.is_empty() && toleration.key != taint.key {
        return false;
    }
    match toleration.operator.as_str() {
        "Exists" => true,
        "" | "Equal" => toleration.value == taint.value,
        _ => false,
    }
}

/// Whether any toleration tolerates the taint.
pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates(t, taint))
}
