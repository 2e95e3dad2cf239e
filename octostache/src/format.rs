//! The `Format` and `NowDate`/`NowDateUtc` filters: a subset of .NET's
//! invariant-culture number and date formatting, without dependencies.
//!
//! Numbers: `N`/`F`/`D`/`P` with optional precision, `G`, and custom patterns
//! built from `0`, `#`, `,` and `.` (e.g. `"#,##0.00"`), rounded half away
//! from zero on the decimal digits as written. Dates: ISO 8601 input
//! (`2024-03-01`, `2024-03-01T10:20:30.5Z`, `...+02:00`), the standard formats
//! `O s u d D t T g G`, and custom patterns (`yyyy MM dd HH hh mm ss f… F… tt
//! zzz K ddd dddd MMM MMMM`, `'quoted'` and `\x` literals).

use std::time::{SystemTime, UNIX_EPOCH};

/// `Format fmt` (number, else date) or `Format type fmt` with type
/// `int`/`int32`/`double`/`decimal`/`date`/`datetime`/`datetimeoffset`.
pub(crate) fn format(v: &str, args: &[String]) -> Option<String> {
    match args {
        [fmt] => Decimal::parse(v)
            .and_then(|d| d.format(fmt))
            .or_else(|| Date::parse(v)?.format(fmt)),
        [ty, fmt] => match ty.to_ascii_lowercase().as_str() {
            "int" | "int32" => {
                let d = Decimal::parse(v).filter(|d| d.frac.is_empty())?;
                let n: i64 = v.trim().replace(',', "").parse().ok()?;
                i32::try_from(n).ok()?;
                d.format_int(fmt)
            }
            "double" | "decimal" => Decimal::parse(v)?.format(fmt),
            "date" | "datetime" | "datetimeoffset" => Date::parse(v)?.format(fmt),
            _ => None,
        },
        _ => None,
    }
}

/// The current time, formatted (`O` by default). There is no time-zone
/// database here, so `NowDate` (local time in Octopus) also uses UTC, without
/// a zone designator.
pub(crate) fn now(fmt: Option<&str>, utc: bool) -> Option<String> {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
    let secs = i64::try_from(d.as_secs()).ok()?;
    let (y, mo, day) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let date = Date {
        y,
        mo,
        d: day,
        h: (sod / 3600) as u32,
        mi: (sod / 60 % 60) as u32,
        s: (sod % 60) as u32,
        ticks: d.subsec_nanos() / 100,
        zone: if utc { Zone::Utc } else { Zone::Unspecified },
    };
    date.format(fmt.unwrap_or("O"))
}

/// A decimal number as its digits.
struct Decimal {
    neg: bool,
    int: String,
    frac: String,
}

impl Decimal {
    fn parse(v: &str) -> Option<Self> {
        let v = v.trim();
        let (neg, body) = match v.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, v.strip_prefix('+').unwrap_or(v)),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        let int: String = int.chars().filter(|&c| c != ',').collect();
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || int.len() + frac.len() > 60
        {
            return None;
        }
        let int = int.trim_start_matches('0');
        Some(Decimal {
            neg,
            int: if int.is_empty() {
                "0".into()
            } else {
                int.into()
            },
            frac: frac.into(),
        })
    }

    /// Rounded to `places` fraction digits, half away from zero.
    fn round(&self, places: usize) -> (String, String) {
        if self.frac.len() <= places {
            return (self.int.clone(), format!("{:0<places$}", self.frac));
        }
        let mut digits: Vec<u8> = format!("{}{}", self.int, &self.frac[..places]).into_bytes();
        if self.frac.as_bytes()[places] >= b'5' {
            let mut i = digits.len();
            loop {
                if i == 0 {
                    digits.insert(0, b'1');
                    break;
                }
                i -= 1;
                if digits[i] == b'9' {
                    digits[i] = b'0';
                } else {
                    digits[i] += 1;
                    break;
                }
            }
        }
        let split = digits.len() - places;
        let s = String::from_utf8(digits).unwrap_or_default();
        (s[..split].to_owned(), s[split..].to_owned())
    }

    fn sign(&self, int: &str, frac: &str) -> &'static str {
        let zero = int.bytes().chain(frac.bytes()).all(|b| b == b'0');
        if self.neg && !zero { "-" } else { "" }
    }

    fn format(&self, fmt: &str) -> Option<String> {
        let mut chars = fmt.chars();
        let first = chars.next()?;
        let rest = chars.as_str();
        let precision = |default: usize| -> Option<usize> {
            if rest.is_empty() {
                Some(default)
            } else {
                rest.parse().ok().filter(|&p: &usize| p <= 99)
            }
        };
        let standard = rest.bytes().all(|b| b.is_ascii_digit()) && first.is_ascii_alphabetic();
        if standard {
            return match first.to_ascii_uppercase() {
                'F' => {
                    let (i, f) = self.round(precision(2)?);
                    Some(join(self.sign(&i, &f), &i, &f))
                }
                'N' => {
                    let (i, f) = self.round(precision(2)?);
                    Some(join(self.sign(&i, &f), &group(&i), &f))
                }
                'P' => {
                    let p = precision(2)?;
                    let shifted = Decimal {
                        neg: self.neg,
                        int: format!(
                            "{}{:0<2}",
                            self.int,
                            self.frac.get(..2).unwrap_or(&self.frac)
                        ),
                        frac: self.frac.get(2..).unwrap_or("").to_owned(),
                    };
                    let (i, f) = shifted.round(p);
                    let i = i.trim_start_matches('0');
                    let i = if i.is_empty() { "0" } else { i };
                    Some(format!("{} %", join(self.sign(i, &f), &group(i), &f)))
                }
                'G' if rest.is_empty() => {
                    let f = self.frac.trim_end_matches('0');
                    Some(join(self.sign(&self.int, f), &self.int, f))
                }
                'D' if self.frac.is_empty() => self.format_int(fmt),
                _ => None,
            };
        }
        self.custom(fmt)
    }

    fn format_int(&self, fmt: &str) -> Option<String> {
        if let Some(rest) = fmt.strip_prefix(['D', 'd']) {
            let width: usize = if rest.is_empty() {
                0
            } else {
                rest.parse().ok().filter(|&w: &usize| w <= 99)?
            };
            return Some(format!("{}{:0>width$}", self.sign(&self.int, ""), self.int));
        }
        self.format(fmt)
    }

    /// Custom patterns: literal prefix/suffix around `#,##0.00`-style placeholders.
    fn custom(&self, fmt: &str) -> Option<String> {
        let is_ph = |c: char| matches!(c, '0' | '#' | ',' | '.');
        let start = fmt.find(is_ph)?;
        let end = fmt.rfind(is_ph)? + 1;
        let (prefix, pattern, suffix) = (&fmt[..start], &fmt[start..end], &fmt[end..]);
        let (ip, fp) = pattern.split_once('.').unwrap_or((pattern, ""));
        if fp.contains(',') || fp.contains('.') {
            return None;
        }
        let min_int = ip.bytes().filter(|&b| b == b'0').count();
        let grouping = ip.trim_end_matches(',').contains(',');
        let min_frac = fp.bytes().filter(|&b| b == b'0').count();
        let max_frac = fp.len();
        let (i, f) = self.round(max_frac);
        let mut f = f;
        while f.len() > min_frac && f.ends_with('0') {
            f.pop();
        }
        let i = i.trim_start_matches('0');
        let i = format!("{i:0>min_int$}");
        let i = if grouping { group(&i) } else { i };
        Some(format!(
            "{prefix}{}{suffix}",
            join(self.sign(&i, &f), &i, &f)
        ))
    }
}

fn join(sign: &str, int: &str, frac: &str) -> String {
    if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }
}

/// Thousands separators.
fn group(int: &str) -> String {
    let mut out = String::with_capacity(int.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Zone {
    Unspecified,
    Utc,
    /// Minutes east of UTC.
    Offset(i32),
}

/// A calendar date and time; `ticks` are 100 ns units (7 fraction digits, like .NET).
struct Date {
    y: i64,
    mo: u32,
    d: u32,
    h: u32,
    mi: u32,
    s: u32,
    ticks: u32,
    zone: Zone,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

impl Date {
    fn parse(v: &str) -> Option<Self> {
        let v = v.trim();
        let b = v.as_bytes();
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let s = v.get(r)?;
            if s.bytes().all(|c| c.is_ascii_digit()) {
                s.parse().ok()
            } else {
                None
            }
        };
        if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y.into(), mo) {
            return None;
        }
        let mut date = Date {
            y: y.into(),
            mo,
            d,
            h: 0,
            mi: 0,
            s: 0,
            ticks: 0,
            zone: Zone::Unspecified,
        };
        let mut rest = &v[10..];
        if let Some(t) = rest.strip_prefix(['T', ' ']) {
            let n2 = |s: &str| -> Option<u32> {
                let p = s.get(..2)?;
                if p.bytes().all(|c| c.is_ascii_digit()) {
                    p.parse().ok()
                } else {
                    None
                }
            };
            date.h = n2(t)?;
            date.mi = n2(t.get(3..)?)?;
            if t.as_bytes().get(2) != Some(&b':') {
                return None;
            }
            rest = &t[5..];
            if let Some(s) = rest.strip_prefix(':') {
                date.s = n2(s)?;
                rest = &s[2..];
                if let Some(f) = rest.strip_prefix('.') {
                    let digits = f.bytes().take_while(u8::is_ascii_digit).count();
                    if digits == 0 {
                        return None;
                    }
                    let frac = format!("{:0<7}", &f[..digits.min(7)]);
                    date.ticks = frac.parse().ok()?;
                    rest = &f[digits..];
                }
            }
            if date.h > 23 || date.mi > 59 || date.s > 59 {
                return None;
            }
        }
        date.zone = match rest {
            "" => Zone::Unspecified,
            "Z" | "z" => Zone::Utc,
            _ => {
                let sign = match rest.as_bytes()[0] {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return None,
                };
                let hm: String = rest[1..].chars().filter(|&c| c != ':').collect();
                if hm.len() != 4 || !hm.bytes().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                let (h, m): (i32, i32) = (hm[..2].parse().ok()?, hm[2..].parse().ok()?);
                if h > 14 || m > 59 {
                    return None;
                }
                Zone::Offset(sign * (h * 60 + m))
            }
        };
        Some(date)
    }

    fn weekday(&self) -> usize {
        (days_from_civil(self.y, self.mo, self.d) + 4).rem_euclid(7) as usize
    }

    fn format(&self, fmt: &str) -> Option<String> {
        let expanded = match fmt {
            "O" | "o" => "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK",
            "s" => "yyyy'-'MM'-'dd'T'HH':'mm':'ss",
            "u" => "yyyy'-'MM'-'dd HH':'mm':'ss'Z'",
            "d" => "MM/dd/yyyy",
            "D" => "dddd, dd MMMM yyyy",
            "t" => "HH:mm",
            "T" => "HH:mm:ss",
            "g" => "MM/dd/yyyy HH:mm",
            "G" => "MM/dd/yyyy HH:mm:ss",
            f if f.chars().count() == 1 && f.chars().all(|c| c.is_ascii_alphabetic()) => {
                return None;
            }
            f => f,
        };
        let mut out = String::new();
        let mut it = expanded.chars().peekable();
        while let Some(c) = it.next() {
            let mut n = 1;
            if "dMyHhmsfFtzK".contains(c) {
                while it.peek() == Some(&c) {
                    it.next();
                    n += 1;
                }
            }
            let off = match self.zone {
                Zone::Offset(m) => m,
                _ => 0,
            };
            match c {
                'd' if n <= 2 => out.push_str(&format!("{:0n$}", self.d)),
                'd' if n == 3 => out.push_str(&DAYS[self.weekday()][..3]),
                'd' => out.push_str(DAYS[self.weekday()]),
                'M' if n <= 2 => out.push_str(&format!("{:0n$}", self.mo)),
                'M' if n == 3 => out.push_str(&MONTHS[self.mo as usize - 1][..3]),
                'M' => out.push_str(MONTHS[self.mo as usize - 1]),
                'y' if n <= 2 => out.push_str(&format!("{:0n$}", self.y.rem_euclid(100))),
                'y' => out.push_str(&format!("{:0n$}", self.y)),
                'H' => out.push_str(&format!("{:0w$}", self.h, w = n.min(2))),
                'h' => out.push_str(&format!("{:0w$}", (self.h + 11) % 12 + 1, w = n.min(2))),
                'm' => out.push_str(&format!("{:0w$}", self.mi, w = n.min(2))),
                's' => out.push_str(&format!("{:0w$}", self.s, w = n.min(2))),
                'f' | 'F' => {
                    if n > 7 {
                        return None;
                    }
                    let all = format!("{:07}", self.ticks);
                    let part = &all[..n];
                    out.push_str(if c == 'F' {
                        part.trim_end_matches('0')
                    } else {
                        part
                    });
                    if c == 'F' && part.trim_end_matches('0').is_empty() && out.ends_with('.') {
                        out.pop();
                    }
                }
                't' => {
                    let ampm = if self.h < 12 { "AM" } else { "PM" };
                    out.push_str(if n == 1 { &ampm[..1] } else { ampm });
                }
                'z' => {
                    let sign = if off < 0 { '-' } else { '+' };
                    let (h, m) = (off.abs() / 60, off.abs() % 60);
                    match n {
                        1 => out.push_str(&format!("{sign}{h}")),
                        2 => out.push_str(&format!("{sign}{h:02}")),
                        _ => out.push_str(&format!("{sign}{h:02}:{m:02}")),
                    }
                }
                'K' => {
                    for _ in 0..n {
                        match self.zone {
                            Zone::Unspecified => {}
                            Zone::Utc => out.push('Z'),
                            Zone::Offset(_) => {
                                let sign = if off < 0 { '-' } else { '+' };
                                out.push_str(&format!(
                                    "{sign}{:02}:{:02}",
                                    off.abs() / 60,
                                    off.abs() % 60
                                ));
                            }
                        }
                    }
                }
                '\'' | '"' => {
                    for q in it.by_ref() {
                        if q == c {
                            break;
                        }
                        out.push(q);
                    }
                }
                '\\' => {
                    if let Some(e) = it.next() {
                        out.push(e);
                    }
                }
                c => out.push(c),
            }
        }
        Some(out)
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: &str, args: &[&str]) -> Option<String> {
        format(v, &args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn numbers() {
        assert_eq!(f("1234.5", &["N"]).as_deref(), Some("1,234.50"));
        assert_eq!(f("1234.5", &["N0"]).as_deref(), Some("1,235"));
        assert_eq!(f("2.345", &["F2"]).as_deref(), Some("2.35"));
        assert_eq!(f("-0.001", &["F2"]).as_deref(), Some("0.00"));
        assert_eq!(f("9.999", &["F2"]).as_deref(), Some("10.00"));
        assert_eq!(f("0.1234", &["P1"]).as_deref(), Some("12.3 %"));
        assert_eq!(
            f("1234567.891", &["#,##0.00"]).as_deref(),
            Some("1,234,567.89")
        );
        assert_eq!(f("5", &["000"]).as_deref(), Some("005"));
        assert_eq!(f("3.10", &["0.##"]).as_deref(), Some("3.1"));
        assert_eq!(f("42", &["int", "D5"]).as_deref(), Some("00042"));
        assert_eq!(f("4.2", &["int", "D5"]), None);
        assert_eq!(f("4.2", &["D5"]), None);
        assert_eq!(f("abc", &["N"]), None);
        assert_eq!(f("1", &["Q"]), None);
    }

    #[test]
    fn dates() {
        let d = "2024-03-01T14:05:09.25Z";
        assert_eq!(
            f(d, &["yyyy-MM-dd HH:mm:ss"]).as_deref(),
            Some("2024-03-01 14:05:09")
        );
        assert_eq!(
            f(d, &["O"]).as_deref(),
            Some("2024-03-01T14:05:09.2500000Z")
        );
        assert_eq!(
            f(d, &["dddd d MMM yy h:mm tt"]).as_deref(),
            Some("Friday 1 Mar 24 2:05 PM")
        );
        assert_eq!(f(d, &["'at' HH\\h fff"]).as_deref(), Some("at 14h 250"));
        assert_eq!(
            f("2024-03-01T10:00:00+02:00", &["datetimeoffset", "zzz K"]).as_deref(),
            Some("+02:00 +02:00")
        );
        assert_eq!(f("2024-02-30", &["yyyy"]), None);
        assert_eq!(
            f("2024-03-01", &["date", "D"]).as_deref(),
            Some("Friday, 01 March 2024")
        );
    }

    #[test]
    fn calendar_round_trip() {
        for days in [-719_468, -1, 0, 1, 19_783, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
    }

    #[test]
    fn now_has_iso_shape() {
        let utc = now(None, true).unwrap();
        assert_eq!(utc.len(), "2024-03-01T14:05:09.2500000Z".len(), "{utc}");
        assert!(utc.ends_with('Z'));
        assert!(!now(None, false).unwrap().ends_with('Z'));
        assert_eq!(now(Some("yyyy"), true).unwrap().len(), 4);
    }
}
