//! Unit and property tests for field selectors: splitting, escaping, matching and the exact
//! error messages Kubernetes gives.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn req(field: &str, op: FieldOperator, value: &str) -> FieldRequirement {
    FieldRequirement {
        field: field.to_string(),
        op,
        value: value.to_string(),
    }
}

fn parse_err(s: &str) -> String {
    FieldSelector::parse(s).unwrap_err().to_string()
}

#[test]
fn parses_and_prints_canonically() {
    let cases = [
        ("", ""),
        (",", ""),
        ("=", ""),
        ("a=b", "a=b"),
        ("a==b", "a=b"),
        ("a!=b", "a!=b"),
        ("a=", "a="),
        ("=b", "=b"),
        ("b=1,a=2", "a=2,b=1"),
        ("a=b,,c=d", "a=b,c=d"),
        (r"a=b\,c", r"a=b\,c"),
        (r"a=b\=c", r"a=b\=c"),
        (r"a=b\\c", r"a=b\\c"),
        ("a=!b", "a=!b"),
        ("spec.nodeName!=,metadata.name=foo", "metadata.name=foo,spec.nodeName!="),
    ];
    for (input, printed) in cases {
        let selector = FieldSelector::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(selector.to_string(), printed, "{input:?}");
    }
}

#[test]
fn terms_are_split_like_kubernetes() {
    let selector = FieldSelector::parse(r"a = b,x==y,c!=d\,e,a!b=c").unwrap();
    assert_eq!(
        selector.requirements(),
        [
            req("a ", FieldOperator::Equals, " b"),
            req("a!b", FieldOperator::Equals, "c"),
            req("c", FieldOperator::NotEquals, "d,e"),
            req("x", FieldOperator::Equals, "y"),
        ]
    );
    assert!(FieldSelector::parse("").unwrap().is_empty());
    assert!(!"a=b".parse::<FieldSelector>().unwrap().is_empty());
}

#[test]
fn errors_match_kubernetes() {
    assert_eq!(parse_err("abc"), "invalid selector: 'abc'; can't understand 'abc'");
    // Terms are checked in sorted order, so "abc" is reported before "x=1" is looked at.
    assert_eq!(
        parse_err("x=1,abc"),
        "invalid selector: 'x=1,abc'; can't understand 'abc'"
    );
    assert_eq!(parse_err("a=b,c"), "invalid selector: 'a=b,c'; can't understand 'c'");
    assert_eq!(
        parse_err("a=b=c"),
        "invalid field selector: unescaped character in value: 61"
    );
    assert_eq!(
        parse_err(r"a=b\x"),
        r"invalid field selector: invalid escape sequence: \x"
    );
    assert_eq!(
        parse_err(r"a=b\!"),
        r"invalid field selector: invalid escape sequence: \!"
    );
    assert_eq!(
        parse_err("a=b\\"),
        r"invalid field selector: invalid escape sequence: \"
    );
}

#[test]
fn escaping() {
    assert_eq!(escape_value(r"a,b=c\d!"), r"a\,b\=c\\d!");
    assert_eq!(unescape_value(r"a\,b\=c\\d!").unwrap(), r"a,b=c\d!");
    assert_eq!(unescape_value("plain").unwrap(), "plain");
    assert_eq!(unescape_value("a,b"), Err(FieldSelectorError::UnescapedCharacter(',')));
}

#[test]
fn matching() {
    let object: BTreeMap<&str, &str> = [
        ("metadata.name", "web"),
        ("spec.nodeName", ""),
        ("status.phase", "Running"),
    ]
    .into_iter()
    .collect();
    let get = |field: &str| object.get(field).map(|v| v.to_string());
    let cases = [
        ("", true),
        ("metadata.name=web", true),
        ("metadata.name==web", true),
        ("metadata.name!=web", false),
        ("metadata.name=db", false),
        ("spec.nodeName=", true),
        ("spec.nodeName!=", false),
        // Unknown fields read as the empty string.
        ("spec.unknown=", true),
        ("spec.unknown!=x", true),
        ("status.phase=Running,metadata.name!=db", true),
        ("status.phase=Running,metadata.name=db", false),
    ];
    for (selector, expected) in cases {
        let selector = FieldSelector::parse(selector).unwrap();
        assert_eq!(selector.matches(get), expected, "{selector}");
    }
}

#[test]
fn checks_supported_fields() {
    let selector = FieldSelector::parse("metadata.name=a,spec.foo=b,spec.bar=c").unwrap();
    assert_eq!(
        selector.check_fields(&["metadata.name"]).unwrap_err().to_string(),
        "field label not supported: spec.bar"
    );
    assert!(
        selector
            .check_fields(&["metadata.name", "spec.foo", "spec.bar"])
            .is_ok()
    );
    assert!(FieldSelector::everything().check_fields(&[]).is_ok());
}

#[test]
fn exact_match_value() {
    let selector = FieldSelector::parse("spec.nodeName!=a,spec.nodeName=b,metadata.name==c").unwrap();
    assert_eq!(selector.exact_match_value("spec.nodeName"), Some("b"));
    assert_eq!(selector.exact_match_value("metadata.name"), Some("c"));
    assert_eq!(selector.exact_match_value("status.phase"), None);
    let selector = FieldSelector::parse("spec.nodeName!=a").unwrap();
    assert_eq!(selector.exact_match_value("spec.nodeName"), None);
}

fn requirement_strategy() -> impl Strategy<Value = FieldRequirement> {
    (
        "[a-z][a-zA-Z.]{0,10}",
        prop_oneof![Just(FieldOperator::Equals), Just(FieldOperator::NotEquals)],
        "(\\PC|[,=\\\\!])*",
    )
        .prop_map(|(field, op, value)| FieldRequirement { field, op, value })
}

proptest! {
    #[test]
    fn arbitrary_strings_never_panic(s in "\\PC*") {
        let _ = FieldSelector::parse(&s);
    }

    #[test]
    fn selector_like_strings_never_panic_and_round_trip(s in "([a-c.]|[,=!\\\\]| |é){0,20}") {
        if let Ok(selector) = FieldSelector::parse(&s) {
            let reparsed = FieldSelector::parse(&selector.to_string());
            prop_assert!(reparsed.is_ok());
            let mut expected = selector.requirements().to_vec();
            let mut actual = reparsed.unwrap().requirements().to_vec();
            expected.sort();
            actual.sort();
            prop_assert_eq!(actual, expected);
        }
    }

    #[test]
    fn printed_selectors_parse_back(requirements in prop::collection::vec(requirement_strategy(), 0..5)) {
        let printed = FieldSelector::from_requirements(requirements.clone()).to_string();
        let parsed = FieldSelector::parse(&printed);
        prop_assert!(parsed.is_ok(), "{}: {:?}", printed, parsed);
        let mut expected = requirements;
        let mut actual = parsed.unwrap().requirements().to_vec();
        expected.sort();
        actual.sort();
        prop_assert_eq!(actual, expected, "{}", printed);
    }

    #[test]
    fn escaping_round_trips(value in "\\PC*") {
        prop_assert_eq!(unescape_value(&escape_value(&value)), Ok(value));
    }
}
