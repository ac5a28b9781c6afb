//! Label selectors (`k8s.io/apimachinery/pkg/labels`): the `-l` / `?labelSelector=` syntax,
//! requirements with Kubernetes' validation rules, matching against a label set, and the
//! canonical string form.
//!
//! The parser is a port of Kubernetes' two-stage design: a byte lexer that turns the string
//! into tokens, then a recursive-descent parser over them. Both are kept close to the original
//! because clients see their error messages verbatim (`unable to parse requirement: found
//! '…', expected: …`), including the quirks: a NUL byte ends a token, `in`/`notin` are
//! keywords only in operator position, and `x in ()` selects the empty value.
//!
//! Start at [`LabelSelector::parse`] and [`Requirement::new`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::hash::BuildHasher;
use std::str::FromStr;

use crate::names::{is_qualified_name, is_valid_label_value};

/// Why a label selector or requirement was rejected. Messages are Kubernetes' own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelSelectorError {
    /// The selector string is not well formed (the parser's "found '…', expected: …").
    #[error("{0}")]
    Syntax(String),
    /// One requirement inside a selector string could not be parsed or is not valid.
    #[error("unable to parse requirement: {0}")]
    Requirement(Box<LabelSelectorError>),
    /// A requirement breaks the rules of Kubernetes' `NewRequirement`. Each entry is one
    /// rendered field error (`values[0][app]: Invalid value: "-x": …`); the message is their
    /// aggregate, bracketed when there are several, as Kubernetes prints it.
    #[error("{}", aggregate(.0))]
    Invalid(Vec<String>),
    /// A `matchExpressions` operator other than In, NotIn, Exists and DoesNotExist.
    #[error("{} is not a valid label selector operator", go_quote(.0))]
    InvalidOperator(String),
}

type Result<T, E = LabelSelectorError> = std::result::Result<T, E>;

/// How a requirement relates a label's value to its values (Kubernetes' `selection.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operator {
    Equals,
    DoubleEquals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

impl Operator {
    /// Kubernetes' spelling of the operator (`selection.Operator`'s string value).
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Read access to a set of labels, so selectors match whichever map type the caller holds.
pub trait Labels {
    /// The value of the label `key`, if the set has it.
    fn label(&self, key: &str) -> Option<&str>;
}

impl Labels for BTreeMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl<S: BuildHasher> Labels for HashMap<String, String, S> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

/// One condition on one label key, e.g. `tier in (web,api)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Requirement {
    key: String,
    operator: Operator,
    /// Sorted and without duplicates, so equal requirements compare equal and print alike.
    values: Vec<String>,
}

impl Requirement {
    /// Builds a requirement with Kubernetes' `NewRequirement` rules: the key is a qualified
    /// name; In and NotIn take at least one value; Equals, DoubleEquals and NotEquals exactly
    /// one; Exists and DoesNotExist none; GreaterThan and LessThan exactly one integer; every
    /// value is a valid label value (the empty value included). Counts are checked before
    /// duplicates are dropped, as Kubernetes does.
    pub fn new(key: impl Into<String>, operator: Operator, values: Vec<String>) -> Result<Self> {
        let key = key.into();
        let errs = requirement_errors(&key, operator, &values);
        if !errs.is_empty() {
            return Err(LabelSelectorError::Invalid(errs));
        }
        let values: BTreeSet<String> = values.into_iter().collect();
        Ok(Requirement {
            key,
            operator,
            values: values.into_iter().collect(),
        })
    }

    /// The label key this requirement looks at.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values, sorted, without duplicates.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether `labels` satisfy this requirement. NotEquals and NotIn hold when the key is
    /// absent; GreaterThan and LessThan need the label's value to be an `i64`.
    pub fn matches(&self, labels: &impl Labels) -> bool {
        let value = labels.label(&self.key);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => value.is_some_and(|v| self.has_value(v)),
            Operator::NotIn | Operator::NotEquals => value.is_none_or(|v| !self.has_value(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(Ok(actual)) = value.map(str::parse::<i64>) else {
                    return false;
                };
                let [wanted] = self.values.as_slice() else {
                    return false;
                };
                let Ok(wanted) = wanted.parse::<i64>() else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    actual > wanted
                } else {
                    actual < wanted
                }
            }
        }
    }

    fn has_value(&self, value: &str) -> bool {
        self.values.binary_search_by(|v| v.as_str().cmp(value)).is_ok()
    }
}

impl fmt::Display for Requirement {
    /// Kubernetes' `Requirement.String()`: `!key`, `key`, `key=v`, `key in (a,b)`, `key>1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let (op, parenthesised) = match self.operator {
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
            Operator::Equals => ("=", false),
            Operator::DoubleEquals => ("==", false),
            Operator::NotEquals => ("!=", false),
            Operator::In => (" in ", true),
            Operator::NotIn => (" notin ", true),
            Operator::GreaterThan => (">", false),
            Operator::LessThan => ("<", false),
        };
        f.write_str(op)?;
        if parenthesised {
            f.write_str("(")?;
        }
        f.write_str(&self.values.join(","))?;
        if parenthesised {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// One `matchExpressions` entry of a `metav1.LabelSelector`, borrowed from whichever API type
/// holds it, for [`LabelSelector::from_match`].
#[derive(Debug, Clone, Copy)]
pub struct MatchExpression<'a> {
    pub key: &'a str,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`, as spelled in the API.
    pub operator: &'a str,
    pub values: &'a [String],
}

/// A conjunction of requirements. The empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct LabelSelector {
    /// Sorted by key (stably), as Kubernetes sorts them, so the printed form is deterministic.
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// The selector that matches every label set (Kubernetes' `labels.Everything()`).
    pub fn everything() -> Self {
        Self::default()
    }

    /// Parses Kubernetes' selector syntax: `a=b`, `a==b`, `a!=b`, `a in (x,y)`,
    /// `a notin (x)`, `a`, `!a`, `a>1`, `a<1`, joined by `,` (AND). The empty string selects
    /// everything.
    pub fn parse(s: &str) -> Result<Self> {
        let tokens = Lexer::new(s).tokens();
        let requirements = Parser { tokens, position: 0 }.parse()?;
        Ok(Self::from_requirements(requirements))
    }

    /// A selector from already-validated requirements, in Kubernetes' order.
    pub fn from_requirements(mut requirements: Vec<Requirement>) -> Self {
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        LabelSelector { requirements }
    }

    /// A selector requiring every label of `labels` with its value, validated
    /// (Kubernetes' `ValidatedSelectorFromSet`).
    pub fn from_set(labels: &BTreeMap<String, String>) -> Result<Self> {
        let requirements = labels
            .iter()
            .map(|(k, v)| Requirement::new(k.clone(), Operator::Equals, vec![v.clone()]))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::from_requirements(requirements))
    }

    /// The selector a `metav1.LabelSelector` stands for (Kubernetes'
    /// `LabelSelectorAsSelector`): `matchLabels` as Equals requirements and `matchExpressions`
    /// as written. Both empty selects everything. An absent (null) `LabelSelector` selects
    /// nothing in Kubernetes; that case is the caller's, since no selector here matches nothing.
    pub fn from_match(
        match_labels: &BTreeMap<String, String>,
        match_expressions: &[MatchExpression<'_>],
    ) -> Result<Self> {
        let mut requirements = Vec::with_capacity(match_labels.len() + match_expressions.len());
        for (key, value) in match_labels {
            requirements.push(Requirement::new(key.clone(), Operator::Equals, vec![value.clone()])?);
        }
        for expression in match_expressions {
            let operator = match expression.operator {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => return Err(LabelSelectorError::InvalidOperator(other.to_string())),
            };
            requirements.push(Requirement::new(expression.key, operator, expression.values.to_vec())?);
        }
        Ok(Self::from_requirements(requirements))
    }

    /// Whether this selector places no restriction (matches everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &impl Labels) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// The single value `key` must have for a label set to match, if the selector pins one
    /// (`key=v`, `key==v` or `key in (v)`); for indexing. Like Kubernetes'
    /// `RequiresExactMatch`, only the first requirement on `key` is consulted.
    pub fn exact_match_value(&self, key: &str) -> Option<&str> {
        let requirement = self.requirements.iter().find(|r| r.key == key)?;
        match (requirement.operator, requirement.values.as_slice()) {
            (Operator::Equals | Operator::DoubleEquals | Operator::In, [value]) => Some(value),
            _ => None,
        }
    }
}

impl FromStr for LabelSelector {
    type Err = LabelSelectorError;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl fmt::Display for LabelSelector {
    /// The canonical string: requirements joined by `,`, e.g. `a=b,c in (x,y),!d`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, requirement) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{requirement}")?;
        }
        Ok(())
    }
}

/// Kubernetes' `validateLabelKey`: one field error at `path`, or none.
fn key_error(key: &str, path: &str) -> Option<String> {
    let errs = is_qualified_name(key);
    (!errs.is_empty()).then(|| format!("{path}: Invalid value: {}: {}", go_quote(key), errs.join("; ")))
}

/// The field errors of Kubernetes' `NewRequirement`, rendered as `field.Error` prints them.
fn requirement_errors(key: &str, operator: Operator, values: &[String]) -> Vec<String> {
    let mut errs = Vec::new();
    errs.extend(key_error(key, "key"));
    let count_error = |detail: &str| format!("values: Invalid value: {}: {detail}", go_json_strings(values));
    match operator {
        Operator::In | Operator::NotIn if values.is_empty() => {
            errs.push(count_error("for 'in', 'notin' operators, values set can't be empty"))
        }
        Operator::Equals | Operator::DoubleEquals | Operator::NotEquals if values.len() != 1 => {
            errs.push(count_error("exact-match compatibility requires one single value"))
        }
        Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
            errs.push(count_error("values set must be empty for exists and does not exist"))
        }
        Operator::GreaterThan | Operator::LessThan => {
            if values.len() != 1 {
                errs.push(count_error("for 'Gt', 'Lt' operators, exactly one value is required"));
            }
            for (i, value) in values.iter().enumerate() {
                if value.parse::<i64>().is_err() {
                    errs.push(format!(
                        "values[{i}]: Invalid value: {}: for 'Gt', 'Lt' operators, the value must be an integer",
                        go_quote(value)
                    ));
                }
            }
        }
        _ => {}
    }
    for (i, value) in values.iter().enumerate() {
        let value_errs = is_valid_label_value(value);
        if !value_errs.is_empty() {
            errs.push(format!(
                "values[{i}][{key}]: Invalid value: {}: {}",
                go_quote(value),
                value_errs.join("; ")
            ));
        }
    }
    errs
}

/// Kubernetes' `utilerrors.Aggregate` message: duplicates dropped, one message bare, several
/// bracketed and comma-separated.
fn aggregate(errs: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for err in errs {
        if !seen.contains(&err.as_str()) {
            seen.push(err);
        }
    }
    match seen.as_slice() {
        [only] => (*only).to_string(),
        _ => format!("[{}]", seen.join(", ")),
    }
}

/// Go's `strconv.Quote` (what `%q` prints for a bad value in a field error). Printability is
/// approximated: controls, non-ASCII spaces, common format characters and private-use or
/// non-characters are escaped; unassigned code points, which Go also escapes, are not.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if go_is_print(c) => out.push(c),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if u32::from(c) < 0x20 || c == '\x7f' => {
                out.push_str(&format!("\\x{:02x}", u32::from(c)));
            }
            c if u32::from(c) < 0x10000 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push_str(&format!("\\U{:08x}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

fn go_is_print(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    !(c.is_control()
        || c.is_whitespace()
        || matches!(
            u32::from(c),
            0xAD | 0x600..=0x605
                | 0x61C
                | 0x6DD
                | 0x70F
                | 0x180E
                | 0x200B..=0x200F
                | 0x202A..=0x202E
                | 0x2060..=0x206F
                | 0xE000..=0xF8FF
                | 0xFEFF
                | 0xFFF9..=0xFFFB
                | 0xFFFE..=0xFFFF
                | 0xE0000..=0xE007F
                | 0xF0000..
        ))
}

/// Go's `encoding/json` rendering of a `[]string` (how a field error shows a bad value list),
/// HTML-safe escaping included.
fn go_json_strings(values: &[String]) -> String {
    let mut out = String::from("[");
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for c in value.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\x08' => out.push_str("\\b"),
                '\x0c' => out.push_str("\\f"),
                c if u32::from(c) < 0x20 || matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}') => {
                    out.push_str(&format!("\\u{:04x}", u32::from(c)));
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push(']');
    out
}

/// The lexer's token kinds (Kubernetes' `labels.Token`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// Never produced in practice (every single special byte is a token); kept so the lexer
    /// mirrors Kubernetes'.
    Error,
    EndOfString,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn keyword(literal: &str) -> Option<Token> {
    Some(match literal {
        ")" => Token::ClosedPar,
        "," => Token::Comma,
        "!" => Token::DoesNotExist,
        "==" => Token::DoubleEquals,
        "=" => Token::Equals,
        ">" => Token::GreaterThan,
        "in" => Token::In,
        "<" => Token::LessThan,
        "!=" => Token::NotEquals,
        "notin" => Token::NotIn,
        "(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special_symbol(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// Kubernetes' byte lexer. `read` yields 0 at the end of input, and a NUL byte in the input
/// reads the same way, which is why a NUL ends a token (and, after whitespace, the selector).
struct Lexer<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn new(s: &'a str) -> Self {
        Lexer { s, pos: 0 }
    }

    fn read(&mut self) -> u8 {
        match self.s.as_bytes().get(self.pos) {
            Some(&c) => {
                self.pos += 1;
                c
            }
            None => 0,
        }
    }

    fn unread(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }

    /// Token boundaries fall on ASCII bytes, so these slices are always on char boundaries;
    /// `get` keeps that an assumption rather than a panic.
    fn slice(&self, start: usize, end: usize) -> &'a str {
        self.s.get(start..end).unwrap_or_default()
    }

    fn scan_id_or_keyword(&mut self) -> (Token, String) {
        let start = self.pos;
        let end = loop {
            let at = self.pos;
            let c = self.read();
            if c == 0 {
                break at;
            }
            if is_special_symbol(c) || is_whitespace(c) {
                self.unread();
                break at;
            }
        };
        let literal = self.slice(start, end);
        (keyword(literal).unwrap_or(Token::Identifier), literal.to_string())
    }

    /// The longest run of special bytes that is still a token (`!=` rather than `!`).
    fn scan_special_symbol(&mut self) -> (Token, String) {
        let start = self.pos;
        let mut last: Option<(Token, usize)> = None;
        loop {
            let c = self.read();
            if c == 0 {
                break;
            }
            if !is_special_symbol(c) {
                self.unread();
                break;
            }
            if let Some(token) = keyword(self.slice(start, self.pos)) {
                last = Some((token, self.pos));
            } else if last.is_some() {
                self.unread();
                break;
            }
        }
        match last {
            Some((token, end)) => (token, self.slice(start, end).to_string()),
            None => (
                Token::Error,
                format!("error expected: keyword found '{}'", self.slice(start, self.pos)),
            ),
        }
    }

    fn lex(&mut self) -> (Token, String) {
        let mut c = self.read();
        while is_whitespace(c) {
            c = self.read();
        }
        if c == 0 {
            return (Token::EndOfString, String::new());
        }
        self.unread();
        if is_special_symbol(c) {
            self.scan_special_symbol()
        } else {
            self.scan_id_or_keyword()
        }
    }

    /// Every token up to and including the end of the string.
    fn tokens(mut self) -> Vec<(Token, String)> {
        let mut tokens = Vec::new();
        loop {
            let (token, literal) = self.lex();
            tokens.push((token, literal));
            if token == Token::EndOfString {
                return tokens;
            }
        }
    }
}

/// Where the parser is: `in` and `notin` are operators only right after a key; anywhere else
/// they are plain identifiers (`x in (in)`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser {
    tokens: Vec<(Token, String)>,
    position: usize,
}

const BINARY_OPERATORS: &str = "in, notin, =, ==, !=, gt, lt";

fn syntax(message: String) -> LabelSelectorError {
    LabelSelectorError::Syntax(message)
}

impl Parser {
    fn lookahead(&self, context: Context) -> (Token, String) {
        let (token, literal) = self
            .tokens
            .get(self.position)
            .cloned()
            .unwrap_or((Token::EndOfString, String::new()));
        match token {
            Token::In | Token::NotIn if context == Context::Values => (Token::Identifier, literal),
            _ => (token, literal),
        }
    }

    fn consume(&mut self, context: Context) -> (Token, String) {
        let item = self.lookahead(context);
        self.position += 1;
        item
    }

    fn parse(&mut self) -> Result<Vec<Requirement>> {
        let mut requirements = Vec::new();
        loop {
            let (token, literal) = self.lookahead(Context::Values);
            match token {
                Token::Identifier | Token::DoesNotExist => {
                    let requirement = self
                        .parse_requirement()
                        .map_err(|e| LabelSelectorError::Requirement(Box::new(e)))?;
                    requirements.push(requirement);
                    let (token, literal) = self.consume(Context::Values);
                    match token {
                        Token::EndOfString => return Ok(requirements),
                        Token::Comma => {
                            let (next, next_literal) = self.lookahead(Context::Values);
                            if next != Token::Identifier && next != Token::DoesNotExist {
                                return Err(syntax(format!(
                                    "found '{next_literal}', expected: identifier after ','"
                                )));
                            }
                        }
                        _ => {
                            return Err(syntax(format!("found '{literal}', expected: ',' or 'end of string'")));
                        }
                    }
                }
                Token::EndOfString => return Ok(requirements),
                _ => {
                    return Err(syntax(format!(
                        "found '{literal}', expected: !, identifier, or 'end of string'"
                    )));
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement> {
        let (key, operator) = self.parse_key_and_infer_operator()?;
        if let Some(operator @ (Operator::Exists | Operator::DoesNotExist)) = operator {
            return Requirement::new(key, operator, Vec::new());
        }
        let operator = self.parse_operator()?;
        let values = match operator {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        Requirement::new(key, operator, values.into_iter().collect())
    }

    /// The key, with `!` before it meaning DoesNotExist and nothing after it meaning Exists.
    fn parse_key_and_infer_operator(&mut self) -> Result<(String, Option<Operator>)> {
        let mut operator = None;
        let (mut token, mut literal) = self.consume(Context::Values);
        if token == Token::DoesNotExist {
            operator = Some(Operator::DoesNotExist);
            (token, literal) = self.consume(Context::Values);
        }
        if token != Token::Identifier {
            return Err(syntax(format!("found '{literal}', expected: identifier")));
        }
        // Kubernetes validates the key here with no field path, hence "<nil>".
        if let Some(err) = key_error(&literal, "<nil>") {
            return Err(LabelSelectorError::Invalid(vec![err]));
        }
        let (next, _) = self.lookahead(Context::Values);
        if matches!(next, Token::EndOfString | Token::Comma) && operator != Some(Operator::DoesNotExist) {
            operator = Some(Operator::Exists);
        }
        Ok((literal, operator))
    }

    fn parse_operator(&mut self) -> Result<Operator> {
        let (token, literal) = self.consume(Context::KeyAndOperator);
        Ok(match token {
            Token::In => Operator::In,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::NotIn => Operator::NotIn,
            Token::NotEquals => Operator::NotEquals,
            _ => {
                return Err(syntax(format!("found '{literal}', expected: {BINARY_OPERATORS}")));
            }
        })
    }

    /// `( … )` after in / notin; `()` is the set holding only the empty value.
    fn parse_values(&mut self) -> Result<BTreeSet<String>> {
        let (token, literal) = self.consume(Context::Values);
        if token != Token::OpenPar {
            return Err(syntax(format!("found '{literal}' expected: '('")));
        }
        let (token, literal) = self.lookahead(Context::Values);
        match token {
            Token::Identifier | Token::Comma => {
                let values = self.parse_identifiers_list()?;
                let (token, _) = self.consume(Context::Values);
                if token != Token::ClosedPar {
                    // Kubernetes names the first token of the list here, not the offender.
                    return Err(syntax(format!("found '{literal}', expected: ')'")));
                }
                Ok(values)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(BTreeSet::from([String::new()]))
            }
            _ => Err(syntax(format!("found '{literal}', expected: ',', ')' or identifier"))),
        }
    }

    /// A comma-separated list in which empty entries stand for the empty value.
    fn parse_identifiers_list(&mut self) -> Result<BTreeSet<String>> {
        let mut values = BTreeSet::new();
        loop {
            let (token, literal) = self.consume(Context::Values);
            match token {
                Token::Identifier => {
                    values.insert(literal);
                    let (next, next_literal) = self.lookahead(Context::Values);
                    match next {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(values),
                        _ => {
                            return Err(syntax(format!("found '{next_literal}', expected: ',' or ')'")));
                        }
                    }
                }
                Token::Comma => {
                    if values.is_empty() {
                        values.insert(String::new());
                    }
                    let (next, _) = self.lookahead(Context::Values);
                    if next == Token::ClosedPar {
                        values.insert(String::new());
                        return Ok(values);
                    }
                    if next == Token::Comma {
                        self.consume(Context::Values);
                        values.insert(String::new());
                    }
                }
                _ => {
                    return Err(syntax(format!("found '{literal}', expected: ',', or identifier")));
                }
            }
        }
    }

    /// The value after `=`, `==`, `!=`, `>` or `<`; nothing at all means the empty value.
    fn parse_exact_value(&mut self) -> Result<BTreeSet<String>> {
        let (token, _) = self.lookahead(Context::Values);
        if matches!(token, Token::EndOfString | Token::Comma) {
            return Ok(BTreeSet::from([String::new()]));
        }
        let (token, literal) = self.consume(Context::Values);
        if token == Token::Identifier {
            Ok(BTreeSet::from([literal]))
        } else {
            Err(syntax(format!("found '{literal}', expected: identifier")))
        }
    }
}

#[cfg(test)]
mod tests;
