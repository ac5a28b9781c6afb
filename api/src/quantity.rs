//! Resource quantities (`k8s.io/apimachinery/pkg/api/resource.Quantity`): "100m" CPU,
//! "1Gi" memory, held exactly and printed in Kubernetes' canonical form.
//!
//! A [`Quantity`] is an exact count of nano-units (10^-9) in an `i128` plus the [`Format`] it
//! prints in. Parsing follows Kubernetes' scanner byte for byte, so the same strings are
//! accepted, rejected (with the same messages) and rounded: anything finer than 1n rounds up
//! in magnitude, and binary-suffixed values are capped at 2^63-1.
//!
//! Printing has two faces, as in Kubernetes. [`Quantity::canonical`] is the canonical form
//! ("1.5" → "1500m", "1024Mi" → "1Gi"). `Display` is what Kubernetes' `String()` (and so the
//! API) shows: the canonical form, except that a parsed string Kubernetes judges already
//! canonical is echoed as written, which is how "+1" and "1.500" survive a round trip through
//! a real apiserver.
//!
//! Where this differs from Kubernetes, on purpose:
//! - Kubernetes holds any decimal magnitude; here magnitudes from 2^127 nano-units (about
//!   1.7e29) up fail to parse with [`QuantityError::TooLarge`], and arithmetic saturates there.
//! - A `BinarySI` value of 1024Ei or more prints with an `Ei` suffix ("1024Ei"); Kubernetes
//!   prints no suffix at all, silently dividing the value.
//! - Negative values with a fraction round away from zero in [`Quantity::value`] and
//!   [`Quantity::milli_value`]; Kubernetes does so for its int64 representation but not always
//!   for its big-decimal one.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// Why a string is not a quantity. The first three messages are Kubernetes' own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// The string is not a number followed by a suffix.
    #[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
    FormatWrong,
    /// The number part has no digits where Kubernetes needs some (".e-10").
    #[error("unable to parse numeric part of quantity")]
    Numeric,
    /// The suffix is none of Kubernetes' ("mi", "Kb", "e").
    #[error("unable to parse quantity's suffix")]
    Suffix,
    /// Kubernetes would accept this, but it is beyond what Podium holds exactly.
    #[error("quantity {0:?} is too large: magnitudes must stay below 1.7e29")]
    TooLarge(String),
}

type Result<T, E = QuantityError> = std::result::Result<T, E>;

/// How a quantity prints: which suffix family it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// `12e6`
    DecimalExponent,
    /// `12Mi` (12 * 2^20)
    BinarySI,
    /// `12M` (12 * 10^6), also plain numbers and `m`, `u`, `n`.
    #[default]
    DecimalSI,
}

impl Format {
    /// The name Kubernetes gives the format.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::DecimalExponent => "DecimalExponent",
            Format::BinarySI => "BinarySI",
            Format::DecimalSI => "DecimalSI",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const NANOS_PER_UNIT: i128 = 1_000_000_000;
const NANOS_PER_MILLI: i128 = 1_000_000;
/// Kubernetes caps parsed `BinarySI` quantities at 2^63-1 units.
const MAX_BINARY_NANOS: i128 = i64::MAX as i128 * NANOS_PER_UNIT;

/// A Kubernetes resource quantity. Equality, ordering and hashing look at the value only:
/// "1Ki" equals "1024" (Kubernetes' `Cmp` and `Equal` agree).
#[derive(Debug, Clone, Default)]
pub struct Quantity {
    /// The exact value, in units of 10^-9.
    nanos: i128,
    format: Format,
    /// The parsed string, when Kubernetes would print it back instead of the canonical form
    /// and the two differ ("+1", "1.500"). Cleared by anything that changes the value.
    original: Option<Box<str>>,
}

impl Quantity {
    /// Parses a quantity as Kubernetes' `ParseQuantity` does: an optional sign, digits with
    /// an optional fraction, and a suffix: `n u m "" k M G T P E`, `Ki Mi Gi Ti Pi Ei`, or an
    /// exponent `e3` / `E-2`. No whitespace anywhere.
    pub fn parse(s: &str) -> Result<Quantity> {
        if s.is_empty() {
            return Err(QuantityError::FormatWrong);
        }
        if s == "0" {
            return Ok(Quantity::default());
        }
        let parts = split(s)?;
        let suffix = interpret_suffix(parts.suffix).ok_or(QuantityError::Suffix)?;
        let echoed = kubernetes_echoes_input(&parts, suffix);
        if echoed.is_none() && !parts.value.bytes().any(|c| c.is_ascii_digit()) {
            // Kubernetes' slow path hands the number to a big-decimal parser, which wants a
            // digit; its fast path never looks.
            return Err(QuantityError::Numeric);
        }
        let (binary_exponent, decimal_exponent) = match suffix.format {
            Format::BinarySI => (suffix.exponent, 0),
            _ => (0, suffix.exponent),
        };
        let mut format = suffix.format;
        let mut nanos = match magnitude_in_nanos(
            parts.num,
            parts.denom,
            binary_exponent.unsigned_abs(),
            i64::from(decimal_exponent),
        ) {
            Some(nanos) => nanos,
            None if format == Format::BinarySI => MAX_BINARY_NANOS,
            None => return Err(QuantityError::TooLarge(s.to_string())),
        };
        if format == Format::BinarySI {
            nanos = nanos.min(MAX_BINARY_NANOS);
            if nanos > 0 && nanos < NANOS_PER_UNIT {
                // A binary suffix cannot print a fraction of one.
                format = Format::DecimalSI;
            }
        }
        if !parts.positive {
            nanos = -nanos;
        }
        let mut quantity = Quantity {
            nanos,
            format,
            original: None,
        };
        if echoed == Some(true) && quantity.canonical() != s {
            quantity.original = Some(s.into());
        }
        Ok(quantity)
    }

    /// `value` whole units (Kubernetes' `NewQuantity`).
    pub fn from_value(value: i64, format: Format) -> Quantity {
        Self::from_nanos(i128::from(value) * NANOS_PER_UNIT, format)
    }

    /// `milli` thousandths (Kubernetes' `NewMilliQuantity`).
    pub fn from_milli(milli: i64, format: Format) -> Quantity {
        Self::from_nanos(i128::from(milli) * NANOS_PER_MILLI, format)
    }

    /// `nanos` billionths, the exact internal representation.
    pub fn from_nanos(nanos: i128, format: Format) -> Quantity {
        Quantity {
            nanos,
            format,
            original: None,
        }
    }

    /// The exact value in billionths.
    pub fn nanos(&self) -> i128 {
        self.nanos
    }

    /// The format the quantity prints in.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Changes the print format (the value is untouched).
    pub fn set_format(&mut self, format: Format) {
        self.format = format;
        self.original = None;
    }

    /// The value in whole units, rounded away from zero (Kubernetes' `Value`), saturating at
    /// the ends of `i64`.
    pub fn value(&self) -> i64 {
        self.scaled(NANOS_PER_UNIT)
    }

    /// The value in thousandths, rounded away from zero (Kubernetes' `MilliValue`), saturating
    /// at the ends of `i64`.
    pub fn milli_value(&self) -> i64 {
        self.scaled(NANOS_PER_MILLI)
    }

    fn scaled(&self, nanos_per_step: i128) -> i64 {
        let quotient = self.nanos / nanos_per_step;
        let rounded = quotient + (self.nanos % nanos_per_step).signum();
        i64::try_from(rounded).unwrap_or(if rounded < 0 { i64::MIN } else { i64::MAX })
    }

    /// The value as a float, for scoring and display; may lose precision.
    pub fn as_approximate_f64(&self) -> f64 {
        self.nanos as f64 / NANOS_PER_UNIT as f64
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// -1, 0 or 1 as the value is negative, zero or positive.
    pub fn sign(&self) -> i32 {
        self.nanos.signum() as i32
    }

    /// Adds `y` in place (Kubernetes' `Add`). A zero quantity takes `y`'s format, so summing
    /// into a fresh zero keeps the addends' suffix family.
    pub fn add(&mut self, y: &Quantity) {
        if self.nanos == 0 {
            self.format = y.format;
        }
        self.nanos = self.nanos.saturating_add(y.nanos);
        self.original = None;
    }

    /// Subtracts `y` in place (Kubernetes' `Sub`), with `add`'s rule for formats.
    pub fn sub(&mut self, y: &Quantity) {
        if self.nanos == 0 {
            self.format = y.format;
        }
        self.nanos = self.nanos.saturating_sub(y.nanos);
        self.original = None;
    }

    /// Negates in place (Kubernetes' `Neg`).
    pub fn neg(&mut self) {
        self.nanos = self.nanos.saturating_neg();
        self.original = None;
    }

    /// Kubernetes' canonical form: no fraction, the largest suffix that loses nothing, and the
    /// quantity's own suffix family where it can show the value ("1536Mi", "1500m", "1e3").
    pub fn canonical(&self) -> String {
        if self.nanos == 0 {
            return "0".to_string();
        }
        let binary = self.format == Format::BinarySI
            && self.nanos.unsigned_abs() >= 1024 * NANOS_PER_UNIT.unsigned_abs()
            && self.nanos % NANOS_PER_UNIT == 0;
        if binary {
            const SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
            let mut units = self.nanos / NANOS_PER_UNIT;
            let mut power = 0;
            while power + 1 < SUFFIXES.len() && units.unsigned_abs() >= 1024 && units % 1024 == 0 {
                units /= 1024;
                power += 1;
            }
            return format!("{units}{}", SUFFIXES[power]);
        }
        // Move every factor of ten into the exponent, then back out until the exponent is a
        // multiple of three; this cannot overflow, as it only puts back what it took.
        let mut mantissa = self.nanos;
        let mut exponent: i32 = -9;
        while mantissa % 10 == 0 {
            mantissa /= 10;
            exponent += 1;
        }
        while exponent.rem_euclid(3) != 0 {
            mantissa *= 10;
            exponent -= 1;
        }
        let suffix = match (self.format, exponent) {
            (_, 0) => "",
            (Format::DecimalExponent, _) => return format!("{mantissa}e{exponent}"),
            (_, -9) => "n",
            (_, -6) => "u",
            (_, -3) => "m",
            (_, 3) => "k",
            (_, 6) => "M",
            (_, 9) => "G",
            (_, 12) => "T",
            (_, 15) => "P",
            (_, 18) => "E",
            // Past "E" there is no SI suffix; Kubernetes falls back to an exponent.
            _ => return format!("{mantissa}e{exponent}"),
        };
        format!("{mantissa}{suffix}")
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl Hash for Quantity {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.nanos.hash(state);
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl fmt::Display for Quantity {
    /// What Kubernetes' `String()` shows: see the module documentation.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.original {
            Some(original) => f.write_str(original),
            None => f.write_str(&self.canonical()),
        }
    }
}

/// A quantity string cut up as Kubernetes' `parseQuantityString` cuts it.
struct Parts<'a> {
    positive: bool,
    /// Sign, digits and point: what Kubernetes' slow path parses as a decimal.
    value: &'a str,
    /// Integer digits without leading zeros; "0" when there are none.
    num: &'a str,
    /// Fraction digits.
    denom: &'a str,
    suffix: &'a str,
}

const SUFFIX_LETTERS: &[u8] = b"eEinumkKMGTP";

/// Kubernetes' `parseQuantityString`, including its shortcuts: a string of only zeros (or only
/// a sign) is zero whatever follows, and "1." and ".5" are numbers.
fn split(s: &str) -> Result<Parts<'_>> {
    let b = s.as_bytes();
    let end = b.len();
    let mut pos = 0;
    let mut positive = true;
    match b.first() {
        Some(b'-') => {
            positive = false;
            pos += 1;
        }
        Some(b'+') => pos += 1,
        _ => {}
    }
    while pos < end && b[pos] == b'0' {
        pos += 1;
    }
    let parts = |value, num, denom, suffix| Parts {
        positive,
        value,
        num,
        denom,
        suffix,
    };
    if pos >= end {
        return Ok(parts("0", "0", "", ""));
    }
    let num_start = pos;
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos >= end {
        return Ok(parts(s, &s[num_start..], "", ""));
    }
    let num = match &s[num_start..pos] {
        "" => "0",
        num => num,
    };
    let mut denom = "";
    if b[pos] == b'.' {
        pos += 1;
        let denom_start = pos;
        while pos < end && b[pos].is_ascii_digit() {
            pos += 1;
        }
        if pos >= end {
            return Ok(parts(s, num, &s[denom_start..], ""));
        }
        denom = &s[denom_start..pos];
    }
    let value = &s[..pos];
    let suffix_start = pos;
    while pos < end && SUFFIX_LETTERS.contains(&b[pos]) {
        pos += 1;
    }
    if pos < end && matches!(b[pos], b'-' | b'+') {
        pos += 1;
    }
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < end {
        return Err(QuantityError::FormatWrong);
    }
    Ok(parts(value, num, denom, &s[suffix_start..]))
}

/// What a suffix means: the format it selects and its power (of 2 for `BinarySI`, else of 10).
#[derive(Clone, Copy)]
struct Suffix {
    format: Format,
    exponent: i32,
}

fn interpret_suffix(suffix: &str) -> Option<Suffix> {
    let decimal = |exponent| Suffix {
        format: Format::DecimalSI,
        exponent,
    };
    let binary = |exponent| Suffix {
        format: Format::BinarySI,
        exponent,
    };
    Some(match suffix {
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "" => decimal(0),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        _ => {
            let digits = suffix.strip_prefix(['e', 'E'])?;
            if digits.is_empty() {
                return None;
            }
            // Kubernetes reads an int64 and keeps its low 32 bits.
            let exponent = digits.parse::<i64>().ok()? as i32;
            Suffix {
                format: Format::DecimalExponent,
                exponent,
            }
        }
    })
}

/// Whether Kubernetes' int64 fast path takes this input (None when it falls to the slow,
/// big-decimal path) and, if so, whether it keeps the input as the printed form.
fn kubernetes_echoes_input(parts: &Parts<'_>, suffix: Suffix) -> Option<bool> {
    match suffix.format {
        Format::DecimalSI | Format::DecimalExponent => {
            if parts.num.len() + parts.denom.len() > 18 {
                return None;
            }
            let scale = i64::from(suffix.exponent) - parts.denom.len() as i64;
            if scale < -9 {
                return None;
            }
            let shifted = [parts.num, parts.denom].concat();
            Some(scale % 3 == 0 && !shifted.ends_with("000") && !shifted.starts_with('0'))
        }
        Format::BinarySI => {
            let precision = 14 - parts.num.len() as i64 - i64::from(suffix.exponent) * 3 / 10;
            if !parts.denom.is_empty() || precision < 0 {
                return None;
            }
            let value: i64 = parts.num.parse().ok()?;
            value.checked_mul(1 << suffix.exponent)?;
            Some(value & 0x07 != 0)
        }
    }
}

/// |num.denom| × 2^binary_exponent × 10^decimal_exponent in nano-units, rounded up when finer
/// than that; None when it does not fit an `i128`. Works on decimal digit strings so that no
/// input, however long, costs more than a pass over it.
fn magnitude_in_nanos(num: &str, denom: &str, binary_exponent: u32, decimal_exponent: i64) -> Option<i128> {
    let mut digits: Vec<u8> = num
        .bytes()
        .chain(denom.bytes())
        .map(|c| c - b'0')
        .skip_while(|&d| d == 0)
        .collect();
    if digits.is_empty() {
        return Some(0);
    }
    if binary_exponent > 0 {
        digits = multiply_digits(&digits, 1u128 << binary_exponent);
    }
    // Digits after this many places from the end are fractions of a nano-unit.
    let shift = decimal_exponent - denom.len() as i64 + 9;
    let (integer, fraction) = if shift >= 0 {
        (digits.as_slice(), &[][..])
    } else {
        let fraction_len = usize::try_from(shift.unsigned_abs()).unwrap_or(usize::MAX);
        digits.split_at(digits.len().saturating_sub(fraction_len))
    };
    let mut nanos: i128 = 0;
    for &digit in integer {
        nanos = nanos.checked_mul(10)?.checked_add(i128::from(digit))?;
    }
    if shift > 0 {
        // `integer` is non-zero here, so a shift this large overflows for certain.
        if shift > 38 {
            return None;
        }
        nanos = nanos.checked_mul(10i128.pow(shift as u32))?;
    }
    if fraction.iter().any(|&d| d != 0) {
        nanos = nanos.checked_add(1)?;
    }
    Some(nanos)
}

/// A decimal digit string (most significant first) times `factor` (at most 2^60).
fn multiply_digits(digits: &[u8], factor: u128) -> Vec<u8> {
    let mut out = Vec::with_capacity(digits.len() + 20);
    let mut carry: u128 = 0;
    for &digit in digits.iter().rev() {
        let product = u128::from(digit) * factor + carry;
        out.push((product % 10) as u8);
        carry = product / 10;
    }
    while carry > 0 {
        out.push((carry % 10) as u8);
        carry /= 10;
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `mantissa` × 10^`exponent` in nano-units, as Kubernetes' tests write `decQuantity`.
    fn dec(mantissa: i128, exponent: i32) -> i128 {
        let shift = exponent + 9;
        if shift >= 0 {
            mantissa * 10i128.pow(shift as u32)
        } else {
            mantissa / 10i128.pow(shift.unsigned_abs())
        }
    }

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    use Format::{BinarySI, DecimalExponent, DecimalSI};

    #[test]
    fn parses_kubernetes_examples() {
        let kib = 1024i128;
        let table: &[(&str, i128, Format)] = &[
            ("0", 0, DecimalSI),
            ("0n", 0, DecimalSI),
            ("0u", 0, DecimalSI),
            ("0m", 0, DecimalSI),
            ("0Ki", 0, BinarySI),
            ("0k", 0, DecimalSI),
            ("0Mi", 0, BinarySI),
            ("0M", 0, DecimalSI),
            ("0Gi", 0, BinarySI),
            ("0G", 0, DecimalSI),
            ("0Ti", 0, BinarySI),
            ("0T", 0, DecimalSI),
            ("1", dec(1, 0), DecimalSI),
            ("1Ki", dec(kib, 0), BinarySI),
            ("8Ki", dec(8 * kib, 0), BinarySI),
            ("7Mi", dec(7 * kib.pow(2), 0), BinarySI),
            ("6Gi", dec(6 * kib.pow(3), 0), BinarySI),
            ("5Ti", dec(5 * kib.pow(4), 0), BinarySI),
            ("4Pi", dec(4 * kib.pow(5), 0), BinarySI),
            ("3Ei", dec(3 * kib.pow(6), 0), BinarySI),
            ("10Ti", dec(10 * kib.pow(4), 0), BinarySI),
            ("100Ti", dec(100 * kib.pow(4), 0), BinarySI),
            ("5n", dec(5, -9), DecimalSI),
            ("4u", dec(4, -6), DecimalSI),
            ("3m", dec(3, -3), DecimalSI),
            ("9", dec(9, 0), DecimalSI),
            ("8k", dec(8, 3), DecimalSI),
            ("50k", dec(5, 4), DecimalSI),
            ("7M", dec(7, 6), DecimalSI),
            ("6G", dec(6, 9), DecimalSI),
            ("5T", dec(5, 12), DecimalSI),
            ("40T", dec(4, 13), DecimalSI),
            ("300T", dec(3, 14), DecimalSI),
            ("2P", dec(2, 15), DecimalSI),
            ("1E", dec(1, 18), DecimalSI),
            ("1E-3", dec(1, -3), DecimalExponent),
            ("1e3", dec(1, 3), DecimalExponent),
            ("1E6", dec(1, 6), DecimalExponent),
            ("1e9", dec(1, 9), DecimalExponent),
            ("1E12", dec(1, 12), DecimalExponent),
            ("1e15", dec(1, 15), DecimalExponent),
            ("1E18", dec(1, 18), DecimalExponent),
            ("1e14", dec(1, 14), DecimalExponent),
            ("1e13", dec(1, 13), DecimalExponent),
            ("100.035k", dec(100035, 0), DecimalSI),
            ("0.001", dec(1, -3), DecimalSI),
            ("0.0005k", dec(5, -1), DecimalSI),
            ("0.005", dec(5, -3), DecimalSI),
            ("0.05", dec(5, -2), DecimalSI),
            ("0.5", dec(5, -1), DecimalSI),
            ("0.00050k", dec(5, -1), DecimalSI),
            ("0.00500", dec(5, -3), DecimalSI),
            ("0.05000", dec(5, -2), DecimalSI),
            ("0.50000", dec(5, -1), DecimalSI),
            ("0.5e0", dec(5, -1), DecimalExponent),
            ("0.5e-1", dec(5, -2), DecimalExponent),
            ("0.5e-2", dec(5, -3), DecimalExponent),
            ("10.035M", dec(10035, 3), DecimalSI),
            ("1.2e3", dec(12, 2), DecimalExponent),
            ("1.3E+6", dec(13, 5), DecimalExponent),
            ("1.40e9", dec(14, 8), DecimalExponent),
            ("1.53E12", dec(153, 10), DecimalExponent),
            ("1.6e15", dec(16, 14), DecimalExponent),
            ("1.7E18", dec(17, 17), DecimalExponent),
            ("9.01", dec(901, -2), DecimalSI),
            ("8.1k", dec(81, 2), DecimalSI),
            ("7.123456M", dec(7123456, 0), DecimalSI),
            ("6.987654321G", dec(6987654321, 0), DecimalSI),
            ("5.444T", dec(5444, 9), DecimalSI),
            ("40.1T", dec(401, 11), DecimalSI),
            ("300.2T", dec(3002, 11), DecimalSI),
            ("2.5P", dec(25, 14), DecimalSI),
            ("1.01E", dec(101, 16), DecimalSI),
            // Rounded up to the nearest nano-unit.
            ("3.001n", dec(4, -9), DecimalSI),
            ("1.1E-9", dec(2, -9), DecimalExponent),
            ("0.0000000001", dec(1, -9), DecimalSI),
            ("0.0000000005", dec(1, -9), DecimalSI),
            ("0.00000000050", dec(1, -9), DecimalSI),
            ("0.5e-9", dec(1, -9), DecimalExponent),
            ("0.9n", dec(1, -9), DecimalSI),
            ("0.00000012345", dec(124, -9), DecimalSI),
            ("0.00000012354", dec(124, -9), DecimalSI),
            // Binary quantities are capped at 2^63-1.
            ("9Ei", MAX_BINARY_NANOS, BinarySI),
            ("9223372036854775807Ki", MAX_BINARY_NANOS, BinarySI),
            ("12E", dec(12, 18), DecimalSI),
            // Fractional binary quantities.
            ("100.035Ki", dec(10243584, -2), BinarySI),
            ("0.5Mi", dec(524288, 0), BinarySI),
            ("0.05Gi", dec(536870912, -1), BinarySI),
            ("0.025Ti", dec(274877906944, -1), BinarySI),
            // "Things written by trolls", in Kubernetes' words.
            ("0.000000000001Ki", dec(2, -9), DecimalSI),
            (".001", dec(1, -3), DecimalSI),
            (".0001k", dec(100, -3), DecimalSI),
            ("1.", dec(1, 0), DecimalSI),
            ("1.G", dec(1, 9), DecimalSI),
            // Kubernetes' scanner shortcuts: no digits at all reads as zero.
            ("-", 0, DecimalSI),
            ("+", 0, DecimalSI),
            (".", 0, DecimalSI),
            ("Gi", 0, BinarySI),
            ("m", 0, DecimalSI),
            ("-0", 0, DecimalSI),
            ("000", 0, DecimalSI),
            // The exponent is read as int64 and truncated to 32 bits.
            ("1e4294967296", dec(1, 0), DecimalExponent),
        ];
        for &(input, nanos, format) in table {
            let got = q(input);
            assert_eq!((got.nanos(), got.format()), (nanos, format), "{input:?}");
            if input.starts_with(['-', '+']) {
                continue;
            }
            let negative = q(&format!("-{input}"));
            assert_eq!((negative.nanos(), negative.format()), (-nanos, format), "-{input}");
            let positive = q(&format!("+{input}"));
            assert_eq!((positive.nanos(), positive.format()), (nanos, format), "+{input}");
        }
    }

    #[test]
    fn rejects_what_kubernetes_rejects() {
        let format_wrong = [
            "", "1.1.M", "1+1.0M", "0.1am", "aoeu", " 1", "1 ", "1KiB", "1x", "1e1.5",
        ];
        for input in format_wrong {
            assert_eq!(Quantity::parse(input), Err(QuantityError::FormatWrong), "{input:?}");
        }
        assert_eq!(
            QuantityError::FormatWrong.to_string(),
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        );
        let bad_suffix = [
            "0.1mi",
            ".5i",
            "1i",
            "-3.01i",
            "-3.01e-",
            "1e",
            "1k3",
            "1-",
            "--1",
            "1MM",
            "1e99999999999999999999",
        ];
        for input in bad_suffix {
            assert_eq!(Quantity::parse(input), Err(QuantityError::Suffix), "{input:?}");
        }
        assert_eq!(QuantityError::Suffix.to_string(), "unable to parse quantity's suffix");
        for input in ["e-10", ".e-10", "-.e-12"] {
            assert_eq!(Quantity::parse(input), Err(QuantityError::Numeric), "{input:?}");
        }
        assert_eq!(
            QuantityError::Numeric.to_string(),
            "unable to parse numeric part of quantity"
        );
        assert!(matches!(Quantity::parse("1e30"), Err(QuantityError::TooLarge(_))));
        assert_eq!(q("1e28").nanos(), dec(1, 28));
    }

    #[test]
    fn canonical_strings() {
        let kib = 1024i128;
        // Kubernetes' TestQuantityString: a value, its canonical form, and another spelling.
        let table: &[(i128, Format, &str, &str)] = &[
            (dec(kib.pow(3), 0), BinarySI, "1Gi", "1024Mi"),
            (dec(300 * kib.pow(2), 0), BinarySI, "300Mi", "307200Ki"),
            (dec(6 * kib, 0), BinarySI, "6Ki", ""),
            (dec(1001 * kib.pow(3), 0), BinarySI, "1001Gi", "1025024Mi"),
            (dec(kib.pow(4), 0), BinarySI, "1Ti", "1024Gi"),
            (dec(5, 0), BinarySI, "5", "5000m"),
            (dec(500, -3), BinarySI, "500m", "0.5"),
            (dec(1, 9), DecimalSI, "1G", "1000M"),
            (dec(1000, 6), DecimalSI, "1G", "0.001T"),
            (dec(1000000, 3), DecimalSI, "1G", ""),
            (dec(1000000000, 0), DecimalSI, "1G", ""),
            (dec(1, -3), DecimalSI, "1m", "1000u"),
            (dec(80, -3), DecimalSI, "80m", ""),
            (dec(1080, -3), DecimalSI, "1080m", "1.08"),
            (dec(108, -2), DecimalSI, "1080m", "1080000000n"),
            (dec(10800, -4), DecimalSI, "1080m", ""),
            (dec(300, 6), DecimalSI, "300M", ""),
            (dec(1, 12), DecimalSI, "1T", ""),
            (dec(1, 18), DecimalSI, "1E", ""),
            (dec(1, 21), DecimalSI, "1e21", "1000E"),
            (dec(5, 21), DecimalSI, "5e21", "5000E"),
            (dec(1, 24), DecimalSI, "1e24", "1000000E"),
            (dec(1234567, 6), DecimalSI, "1234567M", ""),
            (dec(1234567, -3), BinarySI, "1234567m", ""),
            (dec(3, 3), DecimalSI, "3k", ""),
            (dec(1025, 0), BinarySI, "1025", ""),
            (0, DecimalSI, "0", ""),
            (0, BinarySI, "0", ""),
            (dec(1, 9), DecimalExponent, "1e9", ".001e12"),
            (dec(1, -3), DecimalExponent, "1e-3", "0.001e0"),
            (dec(1, -9), DecimalExponent, "1e-9", "1000e-12"),
            (dec(80, -3), DecimalExponent, "80e-3", ""),
            (dec(300, 6), DecimalExponent, "300e6", ""),
            (dec(1, 12), DecimalExponent, "1e12", ""),
            (dec(1, 3), DecimalExponent, "1e3", ""),
            (dec(3, 3), DecimalExponent, "3e3", ""),
            (dec(3, 3), DecimalSI, "3k", ""),
            (0, DecimalExponent, "0", "00"),
            (dec(1, -9), DecimalSI, "1n", ""),
            (dec(80, -9), DecimalSI, "80n", ""),
            (dec(1080, -9), DecimalSI, "1080n", ""),
            (dec(108, -8), DecimalSI, "1080n", ""),
            (dec(10800, -10), DecimalSI, "1080n", ""),
            (dec(1, -6), DecimalSI, "1u", ""),
            (dec(80, -6), DecimalSI, "80u", ""),
            (dec(1080, -6), DecimalSI, "1080u", ""),
        ];
        for &(nanos, format, canonical, alternate) in table {
            let quantity = Quantity::from_nanos(nanos, format);
            assert_eq!(quantity.to_string(), canonical, "{nanos} {format}");
            assert_eq!(q(canonical), quantity, "{canonical}");
            assert_eq!(q(canonical).to_string(), canonical, "{canonical}");
            if !alternate.is_empty() {
                assert_eq!(q(alternate).to_string(), canonical, "{alternate}");
            }
            if nanos != 0 {
                let negative = Quantity::from_nanos(-nanos, format);
                assert_eq!(negative.to_string(), format!("-{canonical}"));
            }
        }
    }

    #[test]
    fn parse_then_print() {
        let table = [
            ("1Ki", "1Ki"),
            ("1Mi", "1Mi"),
            ("1Gi", "1Gi"),
            ("1024Mi", "1Gi"),
            ("1000M", "1G"),
            (".001Ki", "1024m"),
            (".000001Ki", "1024u"),
            (".000000001Ki", "1024n"),
            (".000000000001Ki", "2n"),
            ("100m", "100m"),
            ("1500m", "1500m"),
            ("1.5", "1500m"),
            ("1000k", "1M"),
            ("1000", "1k"),
            ("0", "0"),
            ("1.5Gi", "1536Mi"),
            ("1.5Ki", "1536"),
            ("0.5Ki", "512"),
            ("1e3", "1e3"),
            ("1000e0", "1e3"),
            ("1.5e3", "1500"),
            ("0.1", "100m"),
            ("9Ei", "9223372036854775807"),
            ("7Ei", "7Ei"),
        ];
        for (input, printed) in table {
            assert_eq!(q(input).to_string(), printed, "{input:?}");
            assert_eq!(q(input).canonical(), printed, "{input:?}");
            if q(input).is_zero() {
                continue;
            }
            assert_eq!(q(&format!("-{input}")).to_string(), format!("-{printed}"));
        }
    }

    #[test]
    fn echoes_input_kubernetes_judges_canonical() {
        // Kubernetes keeps these strings as the quantity's printed form.
        for (input, canonical) in [
            ("+1", "1"),
            ("1.500", "1500m"),
            ("1.", "1"),
            ("01Ki", "1Ki"),
            ("+1Ki", "1Ki"),
            ("1.Ki", "1Ki"),
            ("1E3", "1e3"),
            ("1e+3", "1e3"),
            ("1e0", "1"),
            ("00100m", "100m"),
        ] {
            let quantity = q(input);
            assert_eq!(quantity.to_string(), input);
            assert_eq!(quantity.canonical(), canonical, "{input:?}");
            let mut changed = quantity.clone();
            changed.add(&Quantity::default());
            assert_eq!(changed.to_string(), canonical, "{input:?}");
        }
        // And re-canonicalises these.
        for (input, printed) in [("0.5", "500m"), ("8Ki", "8Ki"), ("1.5k", "1500"), ("1000", "1k")] {
            assert_eq!(q(input).to_string(), printed, "{input:?}");
        }
    }

    #[test]
    fn constructors() {
        for (milli, format, printed) in [
            (1, DecimalSI, "1m"),
            (1000, DecimalSI, "1"),
            (1234000, DecimalSI, "1234"),
            (1024, BinarySI, "1024m"),
            (1000000, DecimalExponent, "1e3"),
            (1024 * 1024, BinarySI, "1048576m"),
        ] {
            let quantity = Quantity::from_milli(milli, format);
            assert_eq!(quantity.to_string(), printed);
            assert_eq!(q(printed).milli_value(), milli);
        }
        for (value, format, printed) in [
            (1, DecimalSI, "1"),
            (1000, DecimalSI, "1k"),
            (1234000, DecimalSI, "1234k"),
            (1024, BinarySI, "1Ki"),
            (1000000, DecimalExponent, "1e6"),
            (1024 * 1024, BinarySI, "1Mi"),
        ] {
            let quantity = Quantity::from_value(value, format);
            assert_eq!(quantity.to_string(), printed);
            assert_eq!(q(printed).value(), value);
        }
        assert_eq!(Quantity::from_nanos(1, DecimalSI).to_string(), "1n");
        assert_eq!(Quantity::from_nanos(1000, DecimalSI).to_string(), "1u");
        assert_eq!(Quantity::default().to_string(), "0");
        let mut quantity = Quantity::from_value(1024, DecimalSI);
        assert_eq!(quantity.to_string(), "1024");
        quantity.set_format(BinarySI);
        assert_eq!(quantity.to_string(), "1Ki");
    }

    #[test]
    fn values_round_away_from_zero() {
        assert_eq!(q("1.5").value(), 2);
        assert_eq!(q("1.5").milli_value(), 1500);
        assert_eq!(q("100m").value(), 1);
        assert_eq!(q("100m").milli_value(), 100);
        assert_eq!(q("1n").milli_value(), 1);
        assert_eq!(q("-1.5").value(), -2);
        assert_eq!(q("-1n").milli_value(), -1);
        assert_eq!(q("1Gi").value(), 1 << 30);
        assert_eq!(q("2").value(), 2);
        assert_eq!(q("9Ei").value(), i64::MAX);
        assert_eq!(q("1e20").value(), i64::MAX);
        assert_eq!(q("-1e20").value(), i64::MIN);
        assert_eq!(q("1e17").milli_value(), i64::MAX);
        assert!((q("1.5Gi").as_approximate_f64() - 1610612736.0).abs() < 1e-3);
    }

    #[test]
    fn arithmetic_and_comparison() {
        let mut sum = Quantity::default();
        sum.add(&q("100m"));
        assert_eq!(sum.to_string(), "100m");
        let mut sum = Quantity::default();
        sum.add(&q("1Gi"));
        assert_eq!(sum.to_string(), "1Gi");
        let mut sum = q("1Gi");
        sum.add(&Quantity::default());
        assert_eq!(sum.to_string(), "1Gi");
        let mut difference = Quantity::default();
        difference.sub(&q("100m"));
        assert_eq!(difference.to_string(), "-100m");
        let mut difference = Quantity::from_value(10, BinarySI);
        difference.sub(&Quantity::from_value(1, DecimalSI));
        assert_eq!((difference.value(), difference.format()), (9, BinarySI));
        let mut sum = Quantity::from_value(10, DecimalSI);
        sum.add(&Quantity::from_value(1, BinarySI));
        assert_eq!((sum.value(), sum.format()), (11, DecimalSI));
        let mut negated = q("9.01");
        negated.neg();
        assert_eq!(negated.to_string(), "-9010m");
        assert_eq!(negated.sign(), -1);
        assert_eq!(q("0").sign(), 0);
        assert_eq!(q("1n").sign(), 1);
        assert!(q("0").is_zero());
        assert!(q("0Ki").is_zero());

        assert_eq!(q("100m").cmp(&q("50m")), Ordering::Greater);
        assert_eq!(q("50m").cmp(&q("100m")), Ordering::Less);
        assert_eq!(q("10000T").cmp(&q("100Gi")), Ordering::Greater);
        assert_eq!(q("1Ki"), q("1024"));
        assert_eq!(q("1"), q("1000m"));
        let mut big = Quantity::from_nanos(i128::MAX, DecimalSI);
        big.add(&q("1"));
        assert_eq!(big.nanos(), i128::MAX);
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(s in "\\PC*") {
            let _ = Quantity::parse(&s);
        }

        #[test]
        fn parsed_quantities_print_and_parse_back(
            s in "[-+]?[0-9]{0,22}(\\.[0-9]{0,22})?([numkMGTPE]|[KMGTPE]i|[eE][-+]?[0-9]{1,3})?"
        ) {
            if let Ok(quantity) = Quantity::parse(&s) {
                let printed = quantity.to_string();
                let reparsed = Quantity::parse(&printed);
                prop_assert_eq!(reparsed.as_ref(), Ok(&quantity), "{} printed as {}", s, printed);
                let canonical = quantity.canonical();
                let from_canonical = Quantity::parse(&canonical).unwrap();
                prop_assert_eq!(&from_canonical, &quantity, "{} canonical {}", s, canonical);
                prop_assert_eq!(from_canonical.canonical(), canonical);
            }
        }

        #[test]
        fn canonical_forms_round_trip(
            nanos in -(10i128.pow(37))..10i128.pow(37),
            format in prop_oneof![Just(DecimalSI), Just(BinarySI), Just(DecimalExponent)],
        ) {
            let nanos = if format == BinarySI { nanos % MAX_BINARY_NANOS } else { nanos };
            let quantity = Quantity::from_nanos(nanos, format);
            let canonical = quantity.canonical();
            let parsed = Quantity::parse(&canonical);
            prop_assert_eq!(parsed.as_ref(), Ok(&quantity), "{}", canonical);
            prop_assert_eq!(parsed.unwrap().canonical(), canonical);
        }

        #[test]
        fn milli_values_round_trip(milli in any::<i64>()) {
            let quantity = Quantity::from_milli(milli, DecimalSI);
            prop_assert_eq!(q(&quantity.to_string()).milli_value(), milli);
        }

        #[test]
        fn add_then_sub_is_identity(a in any::<i64>(), b in any::<i64>()) {
            let mut sum = Quantity::from_milli(a, DecimalSI);
            sum.add(&Quantity::from_nanos(i128::from(b), BinarySI));
            sum.sub(&Quantity::from_nanos(i128::from(b), BinarySI));
            prop_assert_eq!(sum, Quantity::from_milli(a, DecimalSI));
        }
    }
}
