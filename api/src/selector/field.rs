//! Field selectors (`k8s.io/apimachinery/pkg/fields`): the `?fieldSelector=` syntax, a
//! conjunction of `field=value`, `field==value` and `field!=value` terms.
//!
//! The syntax is much simpler than a label selector's and Kubernetes parses it by splitting
//! rather than lexing, so this does the same: terms split on unescaped commas, each term on its
//! first operator, and the value is unescaped (`\,` `\=` `\\`). Whitespace is not trimmed:
//! `a = b` selects field `"a "` for value `" b"`, as in Kubernetes.
//!
//! Which fields a resource supports is the apiserver's business; [`FieldSelector::check_fields`]
//! turns its list into Kubernetes' `field label not supported` error.

use std::fmt;
use std::str::FromStr;

/// Why a field selector was rejected. Messages are Kubernetes' own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldSelectorError {
    /// A term has no operator.
    #[error("invalid selector: '{selector}'; can't understand '{term}'")]
    Unparseable { selector: String, term: String },
    /// A backslash followed by something other than `\`, `,` or `=`, or ending the value.
    #[error("invalid field selector: invalid escape sequence: {0}")]
    InvalidEscape(String),
    /// A `,` or `=` in a value without a backslash. Kubernetes prints the character's code
    /// point as a number (Go's `%v` of a rune), and so does this.
    #[error("invalid field selector: unescaped character in value: {}", u32::from(*.0))]
    UnescapedCharacter(char),
    /// A field the resource cannot be selected by.
    #[error("field label not supported: {0}")]
    UnsupportedField(String),
}

type Result<T, E = FieldSelectorError> = std::result::Result<T, E>;

/// How a term compares a field with its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldOperator {
    /// `=` or `==` (Kubernetes keeps no difference between them).
    Equals,
    /// `!=`
    NotEquals,
}

impl FieldOperator {
    /// The operator as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldOperator::Equals => "=",
            FieldOperator::NotEquals => "!=",
        }
    }
}

impl fmt::Display for FieldOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One term: `field` compared with `value` (already unescaped).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldRequirement {
    pub field: String,
    pub op: FieldOperator,
    pub value: String,
}

impl FieldRequirement {
    /// Whether the object's field, as `get` reads it, satisfies the term; a field `get` does
    /// not know reads as the empty string, as Kubernetes' `fields.Set` does.
    pub fn matches(&self, get: impl Fn(&str) -> Option<String>) -> bool {
        let actual = get(&self.field).unwrap_or_default();
        match self.op {
            FieldOperator::Equals => actual == self.value,
            FieldOperator::NotEquals => actual != self.value,
        }
    }
}

impl fmt::Display for FieldRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.field, self.op, escape_value(&self.value))
    }
}

/// A conjunction of field terms. The empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FieldSelector {
    /// In Kubernetes' order: sorted by the terms' text as written.
    requirements: Vec<FieldRequirement>,
}

/// Term operators in the order they are tried at each position: `!=` and `==` before `=`, so
/// `a==b` does not read as field `a`, value `=b`.
const TERM_OPERATORS: [(&str, FieldOperator); 3] = [
    ("!=", FieldOperator::NotEquals),
    ("==", FieldOperator::Equals),
    ("=", FieldOperator::Equals),
];

impl FieldSelector {
    /// The selector that matches every object.
    pub fn everything() -> Self {
        Self::default()
    }

    /// Parses Kubernetes' field selector syntax (`fields.ParseSelector`). Empty terms are
    /// skipped, and so is a term with an empty field and an empty value (`=`), which
    /// Kubernetes turns into "everything".
    pub fn parse(selector: &str) -> Result<Self> {
        let mut terms = split_terms(selector);
        terms.sort_unstable();
        let mut requirements = Vec::with_capacity(terms.len());
        for term in terms.into_iter().filter(|t| !t.is_empty()) {
            let Some((field, op, raw_value)) = split_term(term) else {
                return Err(FieldSelectorError::Unparseable {
                    selector: selector.to_string(),
                    term: term.to_string(),
                });
            };
            let value = unescape_value(raw_value)?;
            if field.is_empty() && value.is_empty() {
                continue;
            }
            requirements.push(FieldRequirement {
                field: field.to_string(),
                op,
                value,
            });
        }
        Ok(FieldSelector { requirements })
    }

    /// A selector from terms, kept in the given order.
    pub fn from_requirements(requirements: Vec<FieldRequirement>) -> Self {
        FieldSelector { requirements }
    }

    /// Whether this selector places no restriction.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether the object whose fields `get` reads satisfies every term.
    pub fn matches(&self, get: impl Fn(&str) -> Option<String>) -> bool {
        self.requirements.iter().all(|r| r.matches(&get))
    }

    /// The terms, in Kubernetes' order.
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// Fails with Kubernetes' `field label not supported: <field>` for the first term whose
    /// field is not in `allowed`.
    pub fn check_fields(&self, allowed: &[&str]) -> Result<()> {
        match self.requirements.iter().find(|r| !allowed.contains(&r.field.as_str())) {
            Some(r) => Err(FieldSelectorError::UnsupportedField(r.field.clone())),
            None => Ok(()),
        }
    }

    /// The value `field` must equal for an object to match, if a term pins it; for indexing
    /// (Kubernetes' `RequiresExactMatch`: the first `=` term on that field).
    pub fn exact_match_value(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.op == FieldOperator::Equals && r.field == field)
            .map(|r| r.value.as_str())
    }
}

impl FromStr for FieldSelector {
    type Err = FieldSelectorError;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl fmt::Display for FieldSelector {
    /// The canonical string: terms joined by `,`, `==` printed as `=`, values escaped.
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

/// Splits on commas not preceded by an escaping backslash.
fn split_terms(selector: &str) -> Vec<&str> {
    if selector.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in selector.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            terms.push(&selector[start..i]);
            start = i + 1;
        }
    }
    terms.push(&selector[start..]);
    terms
}

/// Splits a term at the first position where an operator starts.
fn split_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    term.char_indices().find_map(|(i, _)| {
        let rest = &term[i..];
        TERM_OPERATORS
            .iter()
            .find_map(|&(spelling, op)| rest.strip_prefix(spelling).map(|value| (&term[..i], op, value)))
    })
}

/// Kubernetes' `EscapeValue`: backslash, comma and equals sign get a backslash.
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Kubernetes' `UnescapeValue`: undoes [`escape_value`] and rejects any other escape and any
/// bare `,` or `=`.
pub fn unescape_value(value: &str) -> Result<String> {
    let mut out = String::with_capacity(value.len());
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(FieldSelectorError::InvalidEscape(format!("\\{c}")));
            }
            out.push(c);
            escaped = false;
        } else {
            match c {
                '\\' => escaped = true,
                ',' | '=' => return Err(FieldSelectorError::UnescapedCharacter(c)),
                c => out.push(c),
            }
        }
    }
    if escaped {
        return Err(FieldSelectorError::InvalidEscape("\\".to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
