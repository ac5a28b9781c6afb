//! Image references as Kubernetes reads them to pick a default pull policy: the grammar of
//! `github.com/distribution/reference`, which Kubernetes' `parsers.ParseImageName` uses.
//! Only the tag (and whether there is a digest) matters here.

/// The tag of an image reference as Kubernetes' `parsers.ParseImageName` reads it: the given
/// tag, `latest` when there is neither tag nor digest, `None` for a digest-only reference or
/// one that is not a valid Docker reference.
pub fn image_tag(image: &str) -> Option<String> {
    let reference = parse_image_reference(image)?;
    match (reference.tag, reference.has_digest) {
        (Some(tag), _) => Some(tag.to_owned()),
        (None, false) => Some("latest".to_owned()),
        (None, true) => None,
    }
}

/// A parsed Docker image reference (only what the defaults need).
struct ImageReference<'a> {
    tag: Option<&'a str>,
    has_digest: bool,
}

/// The grammar of `github.com/distribution/reference` (`ParseNormalizedNamed`):
/// `[domain/]path[:tag][@digest]`, lower-case path components, the first component a domain
/// only when it has a `.` or `:`, is `localhost`, or has upper-case letters.
fn parse_image_reference(image: &str) -> Option<ImageReference<'_>> {
    // A bare 64-hex string is an image ID, not a name.
    if image.len() == 64 && image.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    let (domain, remainder) = match image.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" || first.to_lowercase() != first => {
            (first, rest)
        }
        _ => ("docker.io", image),
    };
    let (name_and_tag, digest) = match remainder.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (remainder, None),
    };
    // Path components cannot hold a colon, so the first one starts the tag.
    let (path, tag) = match name_and_tag.split_once(':') {
        Some((path, tag)) => (path, Some(tag)),
        None => (name_and_tag, None),
    };
    if !is_valid_domain(domain) || path.is_empty() || !path.split('/').all(is_valid_path_component) {
        return None;
    }
    if domain.len() + 1 + path.len() > 255 {
        return None;
    }
    if tag.is_some_and(|t| !is_valid_tag(t)) || digest.is_some_and(|d| !is_valid_digest(d)) {
        return None;
    }
    Some(ImageReference {
        tag,
        has_digest: digest.is_some(),
    })
}

/// `host[:port]`, the host being dot-separated alphanumeric labels with inner hyphens or a
/// bracketed IPv6 address.
fn is_valid_domain(domain: &str) -> bool {
    let (host, port) = match domain.find(if domain.starts_with('[') { ']' } else { ':' }) {
        Some(end) if domain.starts_with('[') => domain.split_at(end + 1),
        Some(colon) => domain.split_at(colon),
        None => (domain, ""),
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => !v6.is_empty() && v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.'),
        None => {
            !host.is_empty()
                && host.split('.').all(|label| {
                    !label.is_empty()
                        && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                })
        }
    };
    host_ok && port_ok
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`.
fn is_valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        let ok = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `[\w][\w.-]{0,127}`.
fn is_valid_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && word(bytes[0])
        && bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-')
}

/// `algorithm:hex` with a known algorithm and the exact lower-case hex length it produces.
fn is_valid_digest(digest: &str) -> bool {
    let Some((algorithm, encoded)) = digest.split_once(':') else {
        return false;
    };
    let length = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return false,
    };
    encoded.len() == length
        && encoded
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
