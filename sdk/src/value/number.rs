//! Arbitrary-size numbers as Terraform sends them.

use std::fmt;

/// A Terraform number: an `i64`, an `f64`, or a decimal string for anything larger or
/// more precise than those (Terraform numbers are arbitrary precision).
///
/// Constructors normalise, so equal numbers compare equal: an integral float that fits
/// an `i64` becomes an integer, and a decimal string that fits either does too.
#[derive(Debug, Clone)]
pub enum Number {
    /// An integer that fits 64 bits.
    Int(i64),
    /// A float that is not integral or does not fit an `i64`.
    Float(f64),
    /// A decimal that fits neither, kept exactly as text (e.g. `"1e400"`).
    Decimal(String),
}

impl Number {
    /// Parses a decimal number in JSON/cty syntax, keeping it exact when it fits
    /// neither an `i64` nor (losslessly) an `f64`.
    pub fn parse(text: &str) -> Option<Number> {
        let t = text.trim();
        if !is_decimal(t) {
            return None;
        }
        if let Ok(i) = t.parse::<i64>() {
            return Some(Number::Int(i));
        }
        match t.parse::<f64>() {
            Ok(f) if f.is_finite() && Self::float_is_exact(t, f) => Some(Number::from(f)),
            _ => Some(Number::Decimal(t.to_string())),
        }
    }

    fn float_is_exact(text: &str, f: f64) -> bool {
        // Exact when the shortest round-trip form names the same decimal.
        let shown = format!("{f}");
        match (Self::canonical(text), Self::canonical(&shown)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    }

    /// Mantissa digits without leading/trailing zeros and a decimal exponent.
    fn canonical(text: &str) -> Option<(bool, String, i64)> {
        let (neg, rest) = match text.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, text),
        };
        let (mant, exp) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], rest[i + 1..].parse::<i64>().ok()?),
            None => (rest, 0),
        };
        let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
        let mut digits = format!("{int}{frac}");
        // Exponents near the i64 limits (`1e-9223372036854775808`) must not overflow.
        let mut exp = exp.checked_sub(i64::try_from(frac.len()).ok()?)?;
        let trimmed = digits.trim_start_matches('0').to_string();
        digits = trimmed;
        while digits.ends_with('0') {
            digits.pop();
            exp = exp.checked_add(1)?;
        }
        if digits.is_empty() {
            return Some((false, String::new(), 0));
        }
        Some((neg, digits, exp))
    }

    /// The value as an `i64`, when it is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Number::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The value as an `f64` (possibly rounded).
    pub fn as_f64(&self) -> f64 {
        match self {
            Number::Int(i) => *i as f64,
            Number::Float(f) => *f,
            Number::Decimal(s) => s.parse().unwrap_or(f64::NAN),
        }
    }
}

/// Numbers are equal when they name the same decimal, whatever their form: `1e400`
/// equals `10e399`, and a decimal string equals the `i64` or `f64` it spells.
impl PartialEq for Number {
    fn eq(&self, other: &Number) -> bool {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a == b,
            (Number::Float(a), Number::Float(b)) => a == b,
            (Number::Int(i), Number::Float(f)) | (Number::Float(f), Number::Int(i)) => {
                *i as f64 == *f && f.fract() == 0.0 && (*f as i64) == *i
            }
            (a, b) => {
                let (ta, tb) = (a.to_string(), b.to_string());
                match (Number::canonical(&ta), Number::canonical(&tb)) {
                    (Some(x), Some(y)) => x == y,
                    _ => ta == tb,
                }
            }
        }
    }
}

fn is_decimal(t: &str) -> bool {
    let b = t.as_bytes();
    let mut i = 0;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    let start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == start {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == s {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == s {
            return false;
        }
    }
    i == b.len()
}

impl From<i64> for Number {
    fn from(i: i64) -> Number {
        Number::Int(i)
    }
}

impl From<u64> for Number {
    fn from(u: u64) -> Number {
        match i64::try_from(u) {
            Ok(i) => Number::Int(i),
            Err(_) => Number::Decimal(u.to_string()),
        }
    }
}

impl From<f64> for Number {
    fn from(f: f64) -> Number {
        if f.fract() == 0.0 && (-9.223_372_036_854_775e18..9.223_372_036_854_775e18).contains(&f) {
            Number::Int(f as i64)
        } else {
            Number::Float(f)
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(i) => write!(f, "{i}"),
            Number::Float(x) => write!(f, "{x}"),
            Number::Decimal(s) => f.write_str(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises() {
        assert_eq!(Number::from(3.0), Number::Int(3));
        assert_eq!(Number::parse("42"), Some(Number::Int(42)));
        assert_eq!(Number::parse("0.5"), Some(Number::Float(0.5)));
        assert_eq!(Number::parse("2.50"), Some(Number::Float(2.5)));
        assert_eq!(
            Number::from(u64::MAX),
            Number::Decimal("18446744073709551615".into())
        );
        assert_eq!(
            Number::parse("123456789012345678901234567890"),
            Some(Number::Decimal("123456789012345678901234567890".into()))
        );
        assert_eq!(
            Number::parse("1e400"),
            Some(Number::Decimal("1e400".into()))
        );
        assert_eq!(
            Number::parse("0.1000000000000000000000001"),
            Some(Number::Decimal("0.1000000000000000000000001".into()))
        );
        for bad in ["", "-", "1.", ".5", "1e", "abc", "0x10", "1 2"] {
            assert_eq!(Number::parse(bad), None, "{bad}");
        }
    }
}
