//! Humane durations for configuration and the command line: `"90s"`, `"5m"`, `"1h30m"`, `"7d"`, `"2w"`.
//!
//! Kept tiny on purpose (no dependency): one parser used by config deserialisation and by CLI flags such as
//! `--since 24h`, so users learn one syntax.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A duration written the human way. Deserialises from a string like `"15m"`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    pub const fn from_secs(s: u64) -> Self {
        HumanDuration(Duration::from_secs(s))
    }
    pub fn as_secs(self) -> u64 {
        self.0.as_secs()
    }
    pub fn as_chrono(self) -> chrono::Duration {
        chrono::Duration::from_std(self.0).unwrap_or(chrono::Duration::MAX)
    }
}

impl fmt::Debug for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.0.as_secs();
        if s == 0 {
            return f.write_str("0s");
        }
        for (unit, len) in [("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
            if s >= len {
                write!(f, "{}{unit}", s / len)?;
                s %= len;
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for HumanDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse(s).map(HumanDuration)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).map(HumanDuration).map_err(serde::de::Error::custom)
    }
}

/// Parses `"1h30m"`-style durations. Units: `s`, `m`, `h`, `d`, `w`. A bare number is an error: units are
/// required so that `"5"` never silently means seconds when the user meant minutes.
pub fn parse(input: &str) -> Result<Duration, String> {
    let s = input.trim();
    if s.is_empty() {
        return Err("empty duration; write e.g. \"5m\", \"1h\" or \"7d\"".into());
    }
    let mut total: u64 = 0;
    let mut num = String::new();
    let mut saw_unit = true;
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            saw_unit = false;
            continue;
        }
        let mult = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(format!("invalid duration {input:?}: unexpected {c:?}; units are s, m, h, d, w")),
        };
        if num.is_empty() {
            return Err(format!("invalid duration {input:?}: unit {c:?} without a number"));
        }
        let n: u64 = num.parse().map_err(|_| format!("invalid duration {input:?}: number too large"))?;
        total = n
            .checked_mul(mult)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("invalid duration {input:?}: too large"))?;
        num.clear();
        saw_unit = true;
    }
    if !saw_unit {
        return Err(format!("invalid duration {input:?}: missing unit after {num}; write e.g. \"{num}m\""));
    }
    Ok(Duration::from_secs(total))
}

/// A moment as people write it on a command line or in a URL: a duration back from now (`24h`, `7d`), RFC 3339,
/// or a date `YYYY-MM-DD` (midnight UTC).
pub fn parse_when(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    use chrono::{DateTime, NaiveDate, Utc};
    if let Ok(d) = parse(s) {
        let d = chrono::Duration::from_std(d).map_err(|e| e.to_string())?;
        return Ok(Utc::now() - d);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    Err(format!("{s:?} is neither a duration (24h, 7d) nor a time (2026-11-20 or RFC 3339)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        for (input, want) in [
            ("90s", Some(90)),
            ("5m", Some(300)),
            ("1h30m", Some(5400)),
            ("7d", Some(604_800)),
            ("2w", Some(1_209_600)),
            (" 1h ", Some(3600)),
            ("5", None),
            ("", None),
            ("m", None),
            ("5x", None),
            ("1.5h", None),
            ("-5m", None),
        ] {
            assert_eq!(parse(input).ok().map(|d| d.as_secs()), want, "{input:?}");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in ["5m", "1h30m", "1w2d", "45s"] {
            assert_eq!(s.parse::<HumanDuration>().unwrap().to_string(), s);
        }
    }
}
