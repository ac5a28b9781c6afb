//! Unit and property tests for label selectors: parsing, printing, matching and the exact
//! error messages Kubernetes gives.

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;

use super::*;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

fn parse_err(s: &str) -> String {
    LabelSelector::parse(s).unwrap_err().to_string()
}

const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

#[test]
fn parses_and_prints_canonically() {
    let cases = [
        ("", ""),
        ("a=b", "a=b"),
        ("a==b", "a==b"),
        ("a!=b", "a!=b"),
        ("a", "a"),
        ("!a", "!a"),
        ("a>1,b<2", "a>1,b<2"),
        ("a=", "a="),
        ("a in ()", "a in ()"),
        ("a in (b)", "a in (b)"),
        ("b=1,a=2", "a=2,b=1"),
        ("a=b,a!=c", "a=b,a!=c"),
        ("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()"),
        (" a = b , c in ( y , x ) , ! d ", "a=b,c in (x,y),!d"),
        ("\ta\n=\rb", "a=b"),
        ("in=notin", "in=notin"),
        ("notin in (in,notin)", "notin in (in,notin)"),
        ("a in (b,b)", "a in (b)"),
        ("a in (,b)", "a in (,b)"),
        ("a in (b,)", "a in (,b)"),
        ("example.com/app=web", "example.com/app=web"),
        // A NUL byte ends a token; after whitespace it ends the selector.
        ("a \0b=c", "a"),
    ];
    for (input, printed) in cases {
        let selector = LabelSelector::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(selector.to_string(), printed, "{input:?}");
        assert_eq!(LabelSelector::parse(printed).unwrap(), selector, "{input:?}");
    }
    assert!(LabelSelector::parse("").unwrap().is_empty());
    assert_eq!("a=b".parse::<LabelSelector>().unwrap().requirements().len(), 1);
}

#[test]
fn parsed_requirements() {
    let selector = LabelSelector::parse("x in (foo,,baz),!y,z>3").unwrap();
    let requirements = selector.requirements();
    assert_eq!(requirements[0].key(), "x");
    assert_eq!(requirements[0].operator(), Operator::In);
    assert_eq!(requirements[0].values(), strings(&["", "baz", "foo"]));
    assert_eq!(requirements[1].operator(), Operator::DoesNotExist);
    assert!(requirements[1].values().is_empty());
    assert_eq!(requirements[2].operator(), Operator::GreaterThan);
    assert_eq!(requirements[2].values(), strings(&["3"]));
}

#[test]
fn syntax_errors_name_the_offending_token() {
    let cases = [
        ("a=b c", "found 'c', expected: ',' or 'end of string'"),
        ("a=b=c", "found '=', expected: ',' or 'end of string'"),
        ("a=b,", "found '', expected: identifier after ','"),
        ("a=b,,c", "found ',', expected: identifier after ','"),
        (",a", "found ',', expected: !, identifier, or 'end of string'"),
        ("=a", "found '=', expected: !, identifier, or 'end of string'"),
        ("!a=b", "found '=', expected: ',' or 'end of string'"),
        ("a=b!", "found '!', expected: ',' or 'end of string'"),
        (
            "a b",
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt",
        ),
        (
            "a!!",
            "unable to parse requirement: found '!', expected: in, notin, =, ==, !=, gt, lt",
        ),
        (
            "a\0b",
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt",
        ),
        ("a in b", "unable to parse requirement: found 'b' expected: '('"),
        ("a in", "unable to parse requirement: found '' expected: '('"),
        ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'"),
        (
            "a in (b c)",
            "unable to parse requirement: found 'c', expected: ',' or ')'",
        ),
        (
            "a in (b,,)",
            "unable to parse requirement: found ')', expected: ',', or identifier",
        ),
        (
            "a in (=)",
            "unable to parse requirement: found '=', expected: ',', ')' or identifier",
        ),
        ("a=(", "unable to parse requirement: found '(', expected: identifier"),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        ("!!a", "unable to parse requirement: found '!', expected: identifier"),
    ];
    for (input, message) in cases {
        assert_eq!(parse_err(input), message, "{input:?}");
    }
}

#[test]
fn validation_errors_match_kubernetes() {
    assert_eq!(
        parse_err("a/b/c=d"),
        "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
    );
    assert_eq!(
        parse_err("a=-x"),
        format!("unable to parse requirement: values[0][a]: Invalid value: \"-x\": {LABEL_VALUE_MSG}")
    );
    assert_eq!(
        parse_err("a>b"),
        "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be an integer"
    );
    assert_eq!(
        parse_err("a>-1"),
        format!("unable to parse requirement: values[0][a]: Invalid value: \"-1\": {LABEL_VALUE_MSG}")
    );
    assert_eq!(
        parse_err(&format!("a={}", "v".repeat(64))),
        format!(
            "unable to parse requirement: values[0][a]: Invalid value: \"{}\": must be no more than 63 characters",
            "v".repeat(64)
        )
    );
}

#[test]
fn requirement_validation() {
    let err = |key: &str, op, values: &[&str]| Requirement::new(key, op, strings(values)).unwrap_err().to_string();
    assert_eq!(
        err("a", Operator::In, &[]),
        "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty"
    );
    assert_eq!(
        err("a", Operator::Equals, &["x", "y"]),
        "values: Invalid value: [\"x\",\"y\"]: exact-match compatibility requires one single value"
    );
    // Counted before duplicates are dropped, as Kubernetes does.
    assert_eq!(
        err("a", Operator::NotEquals, &["x", "x"]),
        "values: Invalid value: [\"x\",\"x\"]: exact-match compatibility requires one single value"
    );
    assert_eq!(
        err("a", Operator::Exists, &["x"]),
        "values: Invalid value: [\"x\"]: values set must be empty for exists and does not exist"
    );
    assert_eq!(
        err("a", Operator::LessThan, &["1", "2"]),
        "values: Invalid value: [\"1\",\"2\"]: for 'Gt', 'Lt' operators, exactly one value is required"
    );
    assert_eq!(
        err("", Operator::Equals, &["-"]),
        format!(
            "[key: Invalid value: \"\": name part must be non-empty; name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]'), values[0][]: Invalid value: \"-\": {LABEL_VALUE_MSG}]"
        )
    );
    assert_eq!(
        err("a", Operator::In, &["<&>\n"]),
        format!("values[0][a]: Invalid value: \"<&>\\n\": {LABEL_VALUE_MSG}")
    );
    assert_eq!(
        err("a", Operator::Exists, &["<&>"]),
        format!(
            "[values: Invalid value: [\"\\u003c\\u0026\\u003e\"]: values set must be empty for exists and does not exist, values[0][a]: Invalid value: \"<&>\": {LABEL_VALUE_MSG}]"
        )
    );
    let requirement = Requirement::new("a", Operator::In, strings(&["b", "a", "b"])).unwrap();
    assert_eq!(requirement.values(), strings(&["a", "b"]));
    assert_eq!(requirement.to_string(), "a in (a,b)");
}

#[test]
fn matching() {
    let set = labels(&[("a", "b"), ("n", "5"), ("e", "")]);
    let cases = [
        ("", true),
        ("a=b", true),
        ("a==b", true),
        ("a=c", false),
        ("a!=b", false),
        ("c!=b", true),
        ("a in (b,c)", true),
        ("a in (c)", false),
        ("c in (b)", false),
        ("a notin (b)", false),
        ("c notin (b)", true),
        ("a", true),
        ("c", false),
        ("!a", false),
        ("!c", true),
        ("e=", true),
        ("e in ()", true),
        ("c=", false),
        ("n>4", true),
        ("n>5", false),
        ("n<6", true),
        ("n<5", false),
        ("a>1", false),
        ("c<1", false),
        ("a=b,n>9", false),
        ("a=b,n>1,!c", true),
    ];
    let hashed: HashMap<String, String> = set.clone().into_iter().collect();
    for (selector, expected) in cases {
        let selector = LabelSelector::parse(selector).unwrap();
        assert_eq!(selector.matches(&set), expected, "{selector}");
        assert_eq!(selector.matches(&hashed), expected, "{selector}");
    }
}

#[test]
fn exact_match_value() {
    let selector = LabelSelector::parse("a=b,c in (x),d in (x,y),e!=f,g==h,!i").unwrap();
    assert_eq!(selector.exact_match_value("a"), Some("b"));
    assert_eq!(selector.exact_match_value("c"), Some("x"));
    assert_eq!(selector.exact_match_value("d"), None);
    assert_eq!(selector.exact_match_value("e"), None);
    assert_eq!(selector.exact_match_value("g"), Some("h"));
    assert_eq!(selector.exact_match_value("i"), None);
    assert_eq!(selector.exact_match_value("z"), None);
    // Only the first requirement on a key counts.
    let selector = LabelSelector::parse("a!=x,a=b").unwrap();
    assert_eq!(selector.exact_match_value("a"), None);
}

#[test]
fn from_set_and_match() {
    let selector = LabelSelector::from_set(&labels(&[("tier", "web"), ("app", "x")])).unwrap();
    assert_eq!(selector.to_string(), "app=x,tier=web");
    assert!(LabelSelector::from_set(&labels(&[("a", "-")])).is_err());
    assert!(LabelSelector::from_set(&BTreeMap::new()).unwrap().is_empty());

    let tiers = strings(&["b", "a"]);
    let selector = LabelSelector::from_match(
        &labels(&[("app", "web")]),
        &[
            MatchExpression {
                key: "tier",
                operator: "In",
                values: &tiers,
            },
            MatchExpression {
                key: "x",
                operator: "Exists",
                values: &[],
            },
        ],
    )
    .unwrap();
    assert_eq!(selector.to_string(), "app=web,tier in (a,b),x");
    let err = LabelSelector::from_match(
        &BTreeMap::new(),
        &[MatchExpression {
            key: "x",
            operator: "Gt",
            values: &[],
        }],
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "\"Gt\" is not a valid label selector operator");
    let err = LabelSelector::from_match(
        &BTreeMap::new(),
        &[MatchExpression {
            key: "x",
            operator: "In",
            values: &[],
        }],
    )
    .unwrap_err();
    assert!(matches!(err, LabelSelectorError::Invalid(_)));
}

#[test]
fn operators_print_as_kubernetes_spells_them() {
    let spelled: Vec<String> = [
        Operator::Equals,
        Operator::DoubleEquals,
        Operator::NotEquals,
        Operator::In,
        Operator::NotIn,
        Operator::Exists,
        Operator::DoesNotExist,
        Operator::GreaterThan,
        Operator::LessThan,
    ]
    .iter()
    .map(Operator::to_string)
    .collect();
    assert_eq!(spelled, ["=", "==", "!=", "in", "notin", "exists", "!", "gt", "lt"]);
}

#[test]
fn go_quoting() {
    assert_eq!(
        go_quote("a\"b\\c\n\x01\x7fé\u{200b}\u{a0}😀"),
        "\"a\\\"b\\\\c\\n\\x01\\x7fé\\u200b\\u00a0😀\""
    );
    assert_eq!(
        go_json_strings(&strings(&["a\"\u{1}\u{2028}"])),
        "[\"a\\\"\\u0001\\u2028\"]"
    );
}

fn key_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9]([-A-Za-z0-9_.]{0,8}[A-Za-z0-9])?",
        "[a-z0-9]{1,5}(\\.[a-z0-9]{1,5}){0,2}/[A-Za-z0-9]([-A-Za-z0-9_.]{0,8}[A-Za-z0-9])?",
        Just("in".to_string()),
        Just("notin".to_string()),
    ]
}

fn value_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("in".to_string()),
        "[A-Za-z0-9]([-A-Za-z0-9_.]{0,8}[A-Za-z0-9])?",
    ]
}

fn requirement_strategy() -> impl Strategy<Value = Requirement> {
    let operator = prop_oneof![
        Just(Operator::Equals),
        Just(Operator::DoubleEquals),
        Just(Operator::NotEquals),
        Just(Operator::In),
        Just(Operator::NotIn),
        Just(Operator::Exists),
        Just(Operator::DoesNotExist),
        Just(Operator::GreaterThan),
        Just(Operator::LessThan),
    ];
    (
        key_strategy(),
        operator,
        prop::collection::vec(value_strategy(), 1..4),
        "[0-9]{1,6}",
    )
        .prop_map(|(key, operator, values, number)| {
            let values = match operator {
                Operator::Exists | Operator::DoesNotExist => Vec::new(),
                Operator::GreaterThan | Operator::LessThan => vec![number],
                Operator::In | Operator::NotIn => values,
                _ => values[..1].to_vec(),
            };
            Requirement::new(key, operator, values).expect("generated requirement is valid")
        })
}

proptest! {
    #[test]
    fn arbitrary_strings_never_panic(s in "\\PC*") {
        let _ = LabelSelector::parse(&s);
    }

    #[test]
    fn selector_like_strings_round_trip(
        s in "(in|notin|[a-c]|[!=<>(),]|[0-9]| |\\x00|\\t|é){0,24}"
    ) {
        if let Ok(selector) = LabelSelector::parse(&s) {
            let printed = selector.to_string();
            let reparsed = LabelSelector::parse(&printed);
            prop_assert_eq!(reparsed.as_ref(), Ok(&selector), "{:?} printed as {:?}", s, printed);
        }
    }

    #[test]
    fn printed_selectors_parse_back(requirements in prop::collection::vec(requirement_strategy(), 0..5)) {
        let selector = LabelSelector::from_requirements(requirements);
        let printed = selector.to_string();
        prop_assert_eq!(LabelSelector::parse(&printed), Ok(selector), "{}", printed);
    }

    #[test]
    fn a_selector_from_a_set_matches_that_set(
        set in prop::collection::btree_map(key_strategy(), value_strategy(), 0..5)
    ) {
        let selector = LabelSelector::from_set(&set).unwrap();
        prop_assert!(selector.matches(&set));
        for (key, value) in &set {
            prop_assert_eq!(selector.exact_match_value(key), Some(value.as_str()));
        }
    }
}
