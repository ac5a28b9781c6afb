//! Create: metadata, defaulting, validation, admission, then an insert that fails if the
//! object exists.

use podium_api::ApiError;
use podium_api::strategy::validate_metadata;
use rand::Rng;

use super::admission::check_namespace;
use super::update::request_namespace;
use super::{Api, Kind, Result, abort, encode, key, resource_name, storage_error};
use crate::store::Write;

/// The characters Kubernetes uses for generated name suffixes (no vowels, no lookalikes).
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn generated_suffix() -> String {
    let mut rng = rand::rng();
    (0..5)
        .map(|_| NAME_ALPHABET[rng.random_range(0..NAME_ALPHABET.len())] as char)
        .collect()
}

impl Api {
    /// Creates an object. `namespace` is the request's namespace (empty to take the object's).
    pub async fn create<K: Kind>(&self, namespace: &str, mut obj: K) -> Result<K> {
        request_namespace::<K>(namespace, &mut obj)?;
        let meta = obj.metadata_mut();
        if meta.name.is_empty() && !meta.generate_name.is_empty() {
            meta.name = format!("{}{}", meta.generate_name, generated_suffix());
        }
        meta.uid = uuid::Uuid::new_v4().to_string();
        meta.creation_timestamp = Some(podium_proto::now());
        meta.resource_version.clear();
        meta.generation = 1;
        meta.deletion_timestamp = None;
        meta.deletion_grace_period_seconds = None;
        meta.self_link.clear();
        obj.default_on_create();
        if K::HAS_STATUS {
            obj.prepare_status_on_create();
        }
        let meta = obj.metadata_mut().clone();
        let mut causes = validate_metadata::<K>(&meta);
        causes.extend(obj.validate());
        if !causes.is_empty() {
            return Err(ApiError::invalid(K::KIND, &meta.name, causes));
        }
        if K::NAMESPACED {
            check_namespace::<K>(self, &meta.namespace, &meta.name)?;
        }
        obj.admit_create(self).await?;
        self.insert(obj).await
    }

    /// Stores a new object as it is, failing if one with its name exists.
    pub(super) async fn insert<K: Kind>(&self, mut obj: K) -> Result<K> {
        let (namespace, name) = (obj.namespace().to_owned(), obj.name().to_owned());
        let value = encode(&obj);
        let mutation = {
            let name = name.clone();
            Box::new(move |current: Vec<Option<crate::store::Stored>>| {
                if current[0].is_some() {
                    return Err(abort(ApiError::already_exists(&resource_name::<K>(), &name)));
                }
                Ok(vec![Some(Write::Put(value))])
            })
        };
        let rv = self
            .store
            .mutate(vec![key::<K>(&namespace, &name)], mutation)
            .await
            .map_err(storage_error)?;
        obj.metadata_mut().resource_version = rv.to_string();
        obj.set_type_meta();
        Ok(obj)
    }
}
