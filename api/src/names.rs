//! Kubernetes' syntax rules for names, label keys and values, environment variable names,
//! ports and IP addresses (`k8s.io/apimachinery/pkg/util/validation`), with its messages word
//! for word, because clients and conformance tooling compare them.
//!
//! Every check returns the problems it found, worded as Kubernetes words them; an empty list
//! means the value is valid. Callers wrap each message in their own field error (the path,
//! "Invalid value", the bad value), just as Kubernetes' `ValidateObjectMeta` does. Start with
//! [`is_dns1123_subdomain`] (object names) and [`is_qualified_name`] (label and annotation keys).
//!
//! There is no error enum here: nothing in this module fails, it only reports.
//!
//! The regular expressions quoted in the messages are matched by hand-written scanners over
//! bytes; each scanner sits next to the expression it implements.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest RFC 1123 label (namespace names, most object names that become DNS labels).
pub const DNS1123_LABEL_MAX_LENGTH: usize = 63;
/// Longest RFC 1123 subdomain (most object names).
pub const DNS1123_SUBDOMAIN_MAX_LENGTH: usize = 253;
/// Longest RFC 1035 label (service names).
pub const DNS1035_LABEL_MAX_LENGTH: usize = 63;
/// Longest name part of a qualified name (label and annotation keys).
pub const QUALIFIED_NAME_MAX_LENGTH: usize = 63;
/// Longest label value.
pub const LABEL_VALUE_MAX_LENGTH: usize = 63;
/// Longest IANA service name, which is what a named port is.
pub const PORT_NAME_MAX_LENGTH: usize = 15;
/// Limit on the summed bytes of all annotation keys and values of one object.
pub const TOTAL_ANNOTATION_SIZE_LIMIT_BYTES: usize = 256 * (1 << 10);

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_ERR_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";

const DNS1123_SUBDOMAIN_FMT: &str = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_ERR_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";

const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const DNS1035_LABEL_ERR_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";

const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_ERR_MSG: &str =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_ERR_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

const C_IDENTIFIER_FMT: &str = "[A-Za-z_][A-Za-z0-9_]*";
const C_IDENTIFIER_ERR_MSG: &str = "a valid C identifier must start with alphabetic character or '_', followed by a string of alphanumeric characters or '_'";

const ENV_VAR_NAME_FMT: &str = "[-._a-zA-Z][-._a-zA-Z0-9]*";
const ENV_VAR_NAME_ERR_MSG: &str = "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit";
const RELAXED_ENV_VAR_NAME_ERR_MSG: &str =
    "a valid environment variable name must consist only of printable ASCII characters other than '='";

const CONFIG_MAP_KEY_FMT: &str = "[-._a-zA-Z0-9]+";
const CONFIG_MAP_KEY_ERR_MSG: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";

const IP_ERR_MSG: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";

/// Kubernetes' `MaxLenError`: "must be no more than N characters" (it counts bytes).
pub fn max_len_error(length: usize) -> String {
    format!("must be no more than {length} characters")
}

/// Kubernetes' `EmptyError`.
pub fn empty_error() -> String {
    "must be non-empty".to_string()
}

/// Kubernetes' `InclusiveRangeError`.
pub fn inclusive_range_error(lo: i64, hi: i64) -> String {
    format!("must be between {lo} and {hi}, inclusive")
}

/// Kubernetes' `RegexError`, including its odd spacing: each example is followed by `", "`
/// and joined with `" or "`, so two examples read `'a',  or 'b', regex used …`.
pub fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let mut out = format!("{msg} (e.g. ");
    for (i, example) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push('\'');
        out.push_str(example);
        out.push_str("', ");
    }
    out.push_str("regex used for validation is '");
    out.push_str(fmt);
    out.push_str("')");
    out
}

fn is_lower_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
fn matches_dns1123_label(b: &[u8]) -> bool {
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) => {
            is_lower_alnum(first) && is_lower_alnum(last) && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
        }
        _ => false,
    }
}

/// `^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`: dot-separated labels.
fn matches_dns1123_subdomain(b: &[u8]) -> bool {
    b.split(|&c| c == b'.').all(matches_dns1123_label)
}

/// `^[a-z]([-a-z0-9]*[a-z0-9])?$`
fn matches_dns1035_label(b: &[u8]) -> bool {
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) => {
            first.is_ascii_lowercase() && is_lower_alnum(last) && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
        }
        _ => false,
    }
}

/// `^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`
fn matches_qualified_name(b: &[u8]) -> bool {
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter()
                    .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// `^[A-Za-z_][A-Za-z0-9_]*$`
fn matches_c_identifier(b: &[u8]) -> bool {
    match b.split_first() {
        Some((&first, rest)) => {
            (first.is_ascii_alphabetic() || first == b'_')
                && rest.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_')
        }
        None => false,
    }
}

/// `^[-._a-zA-Z][-._a-zA-Z0-9]*$`
fn matches_env_var_name(b: &[u8]) -> bool {
    let ext = |c: u8| c.is_ascii_alphabetic() || matches!(c, b'-' | b'.' | b'_');
    match b.split_first() {
        Some((&first, rest)) => ext(first) && rest.iter().all(|&c| ext(c) || c.is_ascii_digit()),
        None => false,
    }
}

fn dns1123_label_errors(b: &[u8]) -> Vec<String> {
    let mut errs = Vec::new();
    if b.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_LABEL_MAX_LENGTH));
    }
    if !matches_dns1123_label(b) {
        if matches_dns1123_subdomain(b) {
            // A valid subdomain but not a valid label: with the length already reported, the
            // only difference left is the dots.
            errs.push("must not contain dots".to_string());
        } else {
            errs.push(regex_error(
                DNS1123_LABEL_ERR_MSG,
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

fn dns1123_subdomain_errors(b: &[u8]) -> Vec<String> {
    let mut errs = Vec::new();
    if b.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    if !matches_dns1123_subdomain(b) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_ERR_MSG,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

fn dns1035_label_errors(b: &[u8]) -> Vec<String> {
    let mut errs = Vec::new();
    if b.len() > DNS1035_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1035_LABEL_MAX_LENGTH));
    }
    if !matches_dns1035_label(b) {
        errs.push(regex_error(
            DNS1035_LABEL_ERR_MSG,
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// Kubernetes' `IsDNS1123Label`: a lowercase RFC 1123 label of at most 63 characters.
pub fn is_dns1123_label(value: &str) -> Vec<String> {
    dns1123_label_errors(value.as_bytes())
}

/// Kubernetes' `IsDNS1123Subdomain`: dot-separated RFC 1123 labels, at most 253 characters.
pub fn is_dns1123_subdomain(value: &str) -> Vec<String> {
    dns1123_subdomain_errors(value.as_bytes())
}

/// Kubernetes' `IsDNS1035Label`: like an RFC 1123 label but starting with a letter.
pub fn is_dns1035_label(value: &str) -> Vec<String> {
    dns1035_label_errors(value.as_bytes())
}

/// Kubernetes' `IsQualifiedName`, the syntax of label and annotation keys: an optional DNS
/// subdomain prefix and `/`, then a name of at most 63 characters.
///
/// Kubernetes 1.35 renamed this `IsLabelKey` and words the many-slashes message "a valid label
/// key …"; this keeps the "a qualified name …" wording of the 1.32 API Podium serves.
pub fn is_qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push(format!("prefix part {}", empty_error()));
            } else {
                errs.extend(
                    is_dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|msg| format!("prefix part {msg}")),
                );
            }
            *name
        }
        _ => {
            errs.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(
                    QUALIFIED_NAME_ERR_MSG,
                    QUALIFIED_NAME_FMT,
                    &["MyName", "my.name", "123-abc"]
                )
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push(format!("name part {}", empty_error()));
    } else if name.len() > QUALIFIED_NAME_MAX_LENGTH {
        errs.push(format!("name part {}", max_len_error(QUALIFIED_NAME_MAX_LENGTH)));
    }
    if !matches_qualified_name(name.as_bytes()) {
        errs.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_ERR_MSG,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// Kubernetes' `IsValidLabelValue`: empty, or a qualified name part of at most 63 characters.
pub fn is_valid_label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > LABEL_VALUE_MAX_LENGTH {
        errs.push(max_len_error(LABEL_VALUE_MAX_LENGTH));
    }
    if !(value.is_empty() || matches_qualified_name(value.as_bytes())) {
        errs.push(regex_error(
            LABEL_VALUE_ERR_MSG,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// Kubernetes' `IsCIdentifier` (format only, no length limit).
pub fn is_c_identifier(value: &str) -> Vec<String> {
    if matches_c_identifier(value.as_bytes()) {
        Vec::new()
    } else {
        vec![regex_error(
            C_IDENTIFIER_ERR_MSG,
            C_IDENTIFIER_FMT,
            &["my_name", "MY_NAME", "MyName"],
        )]
    }
}

/// Kubernetes' `hasChDirPrefix`: names that would walk out of a directory when used as a file.
fn ch_dir_prefix_errors(value: &str) -> Vec<String> {
    if value == "." {
        vec!["must not be '.'".to_string()]
    } else if value == ".." {
        vec!["must not be '..'".to_string()]
    } else if value.starts_with("..") {
        vec!["must not start with '..'".to_string()]
    } else {
        Vec::new()
    }
}

/// Kubernetes' `IsEnvVarName`, the strict rule for container environment variable names.
pub fn is_env_var_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if !matches_env_var_name(value.as_bytes()) {
        errs.push(regex_error(
            ENV_VAR_NAME_ERR_MSG,
            ENV_VAR_NAME_FMT,
            &["my.env-name", "MY_ENV.NAME", "MyEnvName1"],
        ));
    }
    errs.extend(ch_dir_prefix_errors(value));
    errs
}

/// Kubernetes' `IsRelaxedEnvVarName`, the rule once the `RelaxedEnvironmentVariableValidation`
/// feature is on (the default from Kubernetes 1.32): any printable ASCII but `=`.
pub fn is_relaxed_env_var_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.is_empty() {
        errs.push(format!("environment variable name {}", empty_error()));
    }
    if value.chars().any(|c| !(' '..='~').contains(&c) || c == '=') {
        errs.push(RELAXED_ENV_VAR_NAME_ERR_MSG.to_string());
    }
    errs
}

/// Kubernetes' `IsConfigMapKey`, the rule for ConfigMap and Secret data keys.
pub fn is_config_map_key(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    let key_char = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_');
    if value.is_empty() || !value.as_bytes().iter().all(key_char) {
        errs.push(regex_error(
            CONFIG_MAP_KEY_ERR_MSG,
            CONFIG_MAP_KEY_FMT,
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    errs.extend(ch_dir_prefix_errors(value));
    errs
}

/// Kubernetes' `IsValidPortNum`: 1 to 65535.
pub fn is_valid_port_num(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec![inclusive_range_error(1, 65535)]
    }
}

/// Kubernetes' `IsValidPortName`, an IANA_SVC_NAME (RFC 6335) restricted to lower case.
pub fn is_valid_port_name(port: &str) -> Vec<String> {
    let b = port.as_bytes();
    let mut errs = Vec::new();
    if b.len() > PORT_NAME_MAX_LENGTH {
        errs.push(max_len_error(PORT_NAME_MAX_LENGTH));
    }
    if b.is_empty() || !b.iter().all(|&c| is_lower_alnum(c) || c == b'-') {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string());
    }
    if !b.iter().any(u8::is_ascii_lowercase) {
        errs.push("must contain at least one letter (a-z)".to_string());
    }
    if port.contains("--") {
        errs.push("must not contain consecutive hyphens".to_string());
    }
    if b.first() == Some(&b'-') || b.last() == Some(&b'-') {
        errs.push("must not begin or end with a hyphen".to_string());
    }
    errs
}

/// Kubernetes' `IsValidIP` (1.32): anything `netutils.ParseIPSloppy` accepts, which is Go's
/// `net.ParseIP` plus IPv4 octets with leading zeros (read as decimal, as Kubernetes always
/// has; see kubernetes#100895).
pub fn is_valid_ip(value: &str) -> Vec<String> {
    if parse_ip_sloppy(value).is_some() {
        Vec::new()
    } else {
        vec![IP_ERR_MSG.to_string()]
    }
}

/// Parses an IP address the way Kubernetes' `netutils.ParseIPSloppy` does. Unlike
/// `str::parse::<IpAddr>`, this accepts IPv4 octets with leading zeros ("010.1.1.1") and IPv6
/// groups padded past four hex digits, as Go's parser does; zones ("%eth0") are rejected.
pub fn parse_ip_sloppy(value: &str) -> Option<IpAddr> {
    for c in value.bytes() {
        match c {
            b'.' => return parse_ipv4_sloppy(value.as_bytes()).map(IpAddr::V4),
            b':' => return parse_ipv6(value.as_bytes()).map(IpAddr::V6),
            _ => {}
        }
    }
    None
}

/// Go's parsers give up on a number once it reaches this (`big` in Go's `net` package).
const GO_NET_BIG: u32 = 0xFF_FFFF;

/// Leading decimal digits of `s`: their value (None past `GO_NET_BIG`) and how many there are.
fn go_dtoi(s: &[u8]) -> Option<(u32, usize)> {
    let mut n: u32 = 0;
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        n = n * 10 + u32::from(s[i] - b'0');
        if n >= GO_NET_BIG {
            return None;
        }
        i += 1;
    }
    (i > 0).then_some((n, i))
}

/// Leading hex digits of `s`, as `go_dtoi`.
fn go_xtoi(s: &[u8]) -> Option<(u32, usize)> {
    let mut n: u32 = 0;
    let mut i = 0;
    while i < s.len() {
        let Some(digit) = char::from(s[i]).to_digit(16) else {
            break;
        };
        n = n * 16 + digit;
        if n >= GO_NET_BIG {
            return None;
        }
        i += 1;
    }
    (i > 0).then_some((n, i))
}

fn parse_ipv4_sloppy(mut s: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    for (i, octet) in octets.iter_mut().enumerate() {
        if s.is_empty() {
            return None;
        }
        if i > 0 {
            if s[0] != b'.' {
                return None;
            }
            s = &s[1..];
        }
        let (n, used) = go_dtoi(s)?;
        *octet = u8::try_from(n).ok()?;
        s = &s[used..];
    }
    s.is_empty().then(|| Ipv4Addr::from(octets))
}

fn parse_ipv6(mut s: &[u8]) -> Option<Ipv6Addr> {
    let mut ip = [0u8; 16];
    let mut ellipsis: Option<usize> = None;
    if s.starts_with(b"::") {
        ellipsis = Some(0);
        s = &s[2..];
        if s.is_empty() {
            return Some(Ipv6Addr::UNSPECIFIED);
        }
    }
    let mut i = 0;
    while i < 16 {
        let (n, used) = go_xtoi(s)?;
        if n > 0xFFFF {
            return None;
        }
        if s.get(used) == Some(&b'.') {
            // A trailing dotted IPv4 address fills the last four bytes.
            if (ellipsis.is_none() && i != 12) || i + 4 > 16 {
                return None;
            }
            let v4 = parse_ipv4_sloppy(s)?;
            ip[i..i + 4].copy_from_slice(&v4.octets());
            s = &[];
            i += 4;
            break;
        }
        ip[i] = (n >> 8) as u8;
        ip[i + 1] = n as u8;
        i += 2;
        s = &s[used..];
        if s.is_empty() {
            break;
        }
        if s[0] != b':' || s.len() == 1 {
            return None;
        }
        s = &s[1..];
        if s[0] == b':' {
            if ellipsis.is_some() {
                return None;
            }
            ellipsis = Some(i);
            s = &s[1..];
            if s.is_empty() {
                break;
            }
        }
    }
    if !s.is_empty() {
        return None;
    }
    if i < 16 {
        let at = ellipsis?;
        let gap = 16 - i;
        ip.copy_within(at..i, at + gap);
        ip[at..at + gap].fill(0);
    } else if ellipsis.is_some() {
        // "::" must stand for at least one group of zeros.
        return None;
    }
    Some(Ipv6Addr::from(ip))
}

/// Kubernetes' `ValidateAnnotationsSize`: the summed length of every key and value must not
/// pass 256 KiB. The message is the detail of the `field.TooLong` error `ValidateAnnotations`
/// reports on `metadata.annotations`, as Kubernetes up to 1.31 words it (later releases say
/// "may not be more than 262144 bytes").
pub fn validate_annotations_size(annotations: &BTreeMap<String, String>) -> Option<String> {
    let total: usize = annotations.iter().map(|(k, v)| k.len() + v.len()).sum();
    (total > TOTAL_ANNOTATION_SIZE_LIMIT_BYTES)
        .then(|| format!("must have at most {TOTAL_ANNOTATION_SIZE_LIMIT_BYTES} bytes"))
}

/// Kubernetes' `maskTrailingDash`: a `generateName` prefix may end in '-' because a random
/// suffix follows it, so its last character is masked before checking. It really drops the
/// last two bytes and appends one 'a'; that quirk is kept because it decides which prefixes
/// pass (only the length check can tell the difference).
fn mask_trailing_dash(name: &[u8]) -> Vec<u8> {
    if name.len() > 1 && name.ends_with(b"-") {
        let mut masked = name[..name.len() - 2].to_vec();
        masked.push(b'a');
        masked
    } else {
        name.to_vec()
    }
}

/// Kubernetes' `NameIsDNSSubdomain`, the name rule of most resources. With `prefix` the value
/// is a `generateName`, which may end in '-'.
pub fn name_is_dns_subdomain(name: &str, prefix: bool) -> Vec<String> {
    if prefix {
        dns1123_subdomain_errors(&mask_trailing_dash(name.as_bytes()))
    } else {
        is_dns1123_subdomain(name)
    }
}

/// Kubernetes' `NameIsDNSLabel`, the name rule of namespaces (among others).
pub fn name_is_dns_label(name: &str, prefix: bool) -> Vec<String> {
    if prefix {
        dns1123_label_errors(&mask_trailing_dash(name.as_bytes()))
    } else {
        is_dns1123_label(name)
    }
}

/// Kubernetes' `NameIsDNS1035Label`, the name rule of services.
pub fn name_is_dns1035_label(name: &str, prefix: bool) -> Vec<String> {
    if prefix {
        dns1035_label_errors(&mask_trailing_dash(name.as_bytes()))
    } else {
        is_dns1035_label(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
    const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    const NAME_PART_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

    #[test]
    fn dns1123_label() {
        for ok in ["a", "0", "my-name", "123-abc", "a--b", &"a".repeat(63)] {
            assert!(is_dns1123_label(ok).is_empty(), "{ok}");
        }
        assert_eq!(is_dns1123_label("My-Name"), vec![LABEL_MSG]);
        assert_eq!(is_dns1123_label(""), vec![LABEL_MSG]);
        assert_eq!(is_dns1123_label("-a"), vec![LABEL_MSG]);
        assert_eq!(is_dns1123_label("a-"), vec![LABEL_MSG]);
        assert_eq!(is_dns1123_label("a.b"), vec!["must not contain dots"]);
        assert_eq!(
            is_dns1123_label(&"a".repeat(64)),
            vec!["must be no more than 63 characters"]
        );
        assert_eq!(
            is_dns1123_label(&format!("{}_", "a".repeat(64))),
            vec!["must be no more than 63 characters", LABEL_MSG]
        );
    }

    #[test]
    fn dns1123_subdomain() {
        for ok in ["a", "example.com", "a.b-c.d", "1.2.3", &"a".repeat(253)] {
            assert!(is_dns1123_subdomain(ok).is_empty(), "{ok}");
        }
        for bad in ["", ".", "a.", ".a", "a..b", "A", "a_b", "a.-b", "ünï"] {
            assert_eq!(is_dns1123_subdomain(bad), vec![SUBDOMAIN_MSG], "{bad}");
        }
        assert_eq!(
            is_dns1123_subdomain(&"a".repeat(254)),
            vec!["must be no more than 253 characters"]
        );
    }

    #[test]
    fn dns1035_label() {
        assert!(is_dns1035_label("my-name").is_empty());
        assert_eq!(
            is_dns1035_label("1abc"),
            vec![
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
            ]
        );
    }

    #[test]
    fn qualified_name() {
        for ok in [
            "a",
            "A",
            "MyName",
            "my.name",
            "123-abc",
            "a_b",
            "example.com/MyName",
            "kubernetes.io/hostname",
            &"a".repeat(63),
            &format!("{}/{}", "a".repeat(253), "b".repeat(63)),
        ] {
            assert!(is_qualified_name(ok).is_empty(), "{ok}");
        }
        assert_eq!(
            is_qualified_name(""),
            vec!["name part must be non-empty", NAME_PART_MSG]
        );
        assert_eq!(is_qualified_name("-a"), vec![NAME_PART_MSG]);
        assert_eq!(
            is_qualified_name(&"a".repeat(64)),
            vec!["name part must be no more than 63 characters"]
        );
        assert_eq!(is_qualified_name("/a"), vec!["prefix part must be non-empty"]);
        assert_eq!(
            is_qualified_name("Example.com/a"),
            vec![format!("prefix part {SUBDOMAIN_MSG}")]
        );
        assert_eq!(
            is_qualified_name("a/"),
            vec!["name part must be non-empty", NAME_PART_MSG]
        );
        assert_eq!(
            is_qualified_name("a/b/c"),
            vec![
                "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ]
        );
    }

    #[test]
    fn label_value() {
        for ok in ["", "a", "MyValue", "my_value", "12345", "a.b-c_d", &"v".repeat(63)] {
            assert!(is_valid_label_value(ok).is_empty(), "{ok}");
        }
        let msg = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
        assert_eq!(is_valid_label_value("-x"), vec![msg]);
        assert_eq!(is_valid_label_value("a b"), vec![msg]);
        assert_eq!(
            is_valid_label_value(&"v".repeat(64)),
            vec!["must be no more than 63 characters"]
        );
    }

    #[test]
    fn c_identifier_and_env_vars() {
        assert!(is_c_identifier("_my_name1").is_empty());
        assert_eq!(
            is_c_identifier("1a"),
            vec![
                "a valid C identifier must start with alphabetic character or '_', followed by a string of alphanumeric characters or '_' (e.g. 'my_name',  or 'MY_NAME',  or 'MyName', regex used for validation is '[A-Za-z_][A-Za-z0-9_]*')"
            ]
        );
        for ok in ["my.env-name", "MY_ENV.NAME", "MyEnvName1", "-x", ".a"] {
            assert!(is_env_var_name(ok).is_empty(), "{ok}");
        }
        let msg = "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')";
        assert_eq!(is_env_var_name("1A"), vec![msg]);
        assert_eq!(is_env_var_name(""), vec![msg]);
        assert_eq!(is_env_var_name("."), vec!["must not be '.'"]);
        assert_eq!(is_env_var_name(".."), vec!["must not be '..'"]);
        assert_eq!(is_env_var_name("..a"), vec!["must not start with '..'"]);
        assert!(is_relaxed_env_var_name("1 A:b").is_empty());
        assert_eq!(
            is_relaxed_env_var_name("a=b"),
            vec!["a valid environment variable name must consist only of printable ASCII characters other than '='"]
        );
        assert_eq!(
            is_relaxed_env_var_name(""),
            vec!["environment variable name must be non-empty"]
        );
        assert!(is_config_map_key("key.name").is_empty());
        assert_eq!(is_config_map_key("..x"), vec!["must not start with '..'"]);
        assert_eq!(is_config_map_key("a/b").len(), 1);
    }

    #[test]
    fn ports() {
        assert!(is_valid_port_num(1).is_empty());
        assert!(is_valid_port_num(65535).is_empty());
        assert_eq!(is_valid_port_num(0), vec!["must be between 1 and 65535, inclusive"]);
        assert_eq!(is_valid_port_num(65536).len(), 1);
        assert!(is_valid_port_name("http").is_empty());
        assert!(is_valid_port_name("h2c-1").is_empty());
        assert_eq!(
            is_valid_port_name(""),
            vec![
                "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                "must contain at least one letter (a-z)"
            ]
        );
        assert_eq!(
            is_valid_port_name("-a--b-"),
            vec![
                "must not contain consecutive hyphens",
                "must not begin or end with a hyphen"
            ]
        );
        assert_eq!(
            is_valid_port_name("abcdefghijklmnop"),
            vec!["must be no more than 15 characters"]
        );
        assert_eq!(
            is_valid_port_name("123"),
            vec!["must contain at least one letter (a-z)"]
        );
        assert_eq!(
            is_valid_port_name("HTTP"),
            vec![
                "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                "must contain at least one letter (a-z)"
            ]
        );
    }

    #[test]
    fn ips() {
        for ok in [
            "10.9.8.7",
            "0.0.0.0",
            "255.255.255.255",
            "010.001.0.1",
            "2001:db8::ffff",
            "::",
            "::1",
            "1::",
            "::ffff:1.2.3.4",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:1.2.3.4",
            "0000001::",
        ] {
            assert!(is_valid_ip(ok).is_empty(), "{ok}");
        }
        for bad in [
            "",
            "1.2.3",
            "1.2.3.4.5",
            "256.1.1.1",
            "1.2.3.4 ",
            "a.b.c.d",
            "1::2::3",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7::8",
            "fe80::1%eth0",
            ":1",
            "1:",
            "12345::",
            "1:2:3:4:5:1.2.3.4",
            "localhost",
        ] {
            assert_eq!(
                is_valid_ip(bad),
                vec!["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"],
                "{bad}"
            );
        }
        assert_eq!(
            parse_ip_sloppy("010.001.0.1"),
            Some(IpAddr::V4(Ipv4Addr::new(10, 1, 0, 1)))
        );
        assert_eq!(parse_ip_sloppy("1::2"), Some("1::2".parse::<IpAddr>().unwrap()));
        assert_eq!(
            parse_ip_sloppy("::ffff:1.2.3.4"),
            Some("::ffff:1.2.3.4".parse::<IpAddr>().unwrap())
        );
    }

    #[test]
    fn annotations_size() {
        let mut annotations = BTreeMap::new();
        annotations.insert("k".to_string(), "v".repeat(262_143));
        assert_eq!(validate_annotations_size(&annotations), None);
        annotations.insert("k".to_string(), "v".repeat(262_144));
        assert_eq!(
            validate_annotations_size(&annotations).as_deref(),
            Some("must have at most 262144 bytes")
        );
    }

    #[test]
    fn generate_name_prefixes() {
        assert!(name_is_dns_subdomain("web-", true).is_empty());
        assert_eq!(name_is_dns_subdomain("web-", false), vec![SUBDOMAIN_MSG]);
        assert_eq!(name_is_dns_subdomain("-", true), vec![SUBDOMAIN_MSG]);
        assert_eq!(name_is_dns_subdomain("web--", true).len(), 0);
        // The mask drops two bytes; a multi-byte character before the dash must not panic.
        assert_eq!(name_is_dns_subdomain("wé-", true), vec![SUBDOMAIN_MSG]);
        assert!(name_is_dns_label("ns-", true).is_empty());
        assert!(name_is_dns1035_label("svc-", true).is_empty());
        assert_eq!(name_is_dns1035_label("1svc-", true).len(), 1);
    }

    proptest! {
        #[test]
        fn never_panic(s in "\\PC*") {
            let _ = is_dns1123_label(&s);
            let _ = is_dns1123_subdomain(&s);
            let _ = is_dns1035_label(&s);
            let _ = is_qualified_name(&s);
            let _ = is_valid_label_value(&s);
            let _ = is_c_identifier(&s);
            let _ = is_env_var_name(&s);
            let _ = is_relaxed_env_var_name(&s);
            let _ = is_config_map_key(&s);
            let _ = is_valid_port_name(&s);
            let _ = is_valid_ip(&s);
            let _ = name_is_dns_subdomain(&s, true);
            let _ = name_is_dns_label(&s, true);
            let _ = name_is_dns1035_label(&s, true);
        }

        #[test]
        fn ip_like_strings_never_panic(s in "[0-9a-fA-F:.]{0,48}") {
            let _ = parse_ip_sloppy(&s);
        }

        #[test]
        fn sloppy_ip_agrees_with_std_on_canonical_forms(octets in any::<[u8; 16]>(), v4 in any::<[u8; 4]>()) {
            let v6 = Ipv6Addr::from(octets);
            prop_assert_eq!(parse_ip_sloppy(&v6.to_string()), Some(IpAddr::V6(v6)));
            let v4 = Ipv4Addr::from(v4);
            prop_assert_eq!(parse_ip_sloppy(&v4.to_string()), Some(IpAddr::V4(v4)));
        }

        #[test]
        fn generated_labels_are_valid(s in "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?") {
            prop_assert!(is_dns1123_label(&s).is_empty());
            prop_assert!(is_dns1123_subdomain(&s).is_empty());
            prop_assert!(is_qualified_name(&s).is_empty());
            prop_assert!(is_valid_label_value(&s).is_empty());
        }
    }
}
