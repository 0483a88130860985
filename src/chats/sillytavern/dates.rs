//! SillyTavern's dates. Over the years `send_date` and `create_date` were written as epoch
//! milliseconds (a number, or digits in a string), as `2023-4-21 @20h 02m 47s 124ms` (also
//! without spaces or milliseconds: `2024-1-1@12h00m00s`), as `April 1, 2023 3:10pm`, and as
//! ISO 8601. The humanized forms carry no zone: they are read as UTC.

use serde_json::Value;
use time::{Date, Month, PrimitiveDateTime, Time};

use crate::model::Timestamp;

/// The latest instant a date may name (the end of year 9999), in milliseconds.
const LATEST_MILLIS: i64 = 253_402_300_799_999;

/// The instant a SillyTavern date names; `None` for a value in no known form.
pub fn parse(value: &Value) -> Option<Timestamp> {
    match value {
        Value::Number(number) => from_millis(number.as_f64()?),
        Value::String(text) => parse_text(text.trim()),
        _ => None,
    }
}

fn from_millis(millis: f64) -> Option<Timestamp> {
    (millis.is_finite() && (0.0..=LATEST_MILLIS as f64).contains(&millis))
        .then(|| Timestamp::from_millis(millis as i64))
}

fn parse_text(text: &str) -> Option<Timestamp> {
    if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) {
        return from_millis(text.parse::<f64>().ok()?);
    }
    Timestamp::parse(text)
        .or_else(|| humanized(text))
        .or_else(|| spelled_out(text))
}

/// `2023-4-21 @20h 02m 47s 124ms`, `2024-1-1@12h00m00s`.
fn humanized(text: &str) -> Option<Timestamp> {
    let (day, clock) = text.split_once('@')?;
    let mut date = day.trim().split('-');
    let (year, month, day) = (date.next()?, date.next()?, date.next()?);
    if date.next().is_some() {
        return None;
    }
    let mut numbers = Vec::with_capacity(4);
    let mut rest = clock.trim();
    for unit in ["h", "m", "s", "ms"] {
        rest = rest.trim_start();
        if rest.is_empty() && unit == "ms" {
            break;
        }
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let number: u32 = rest[..digits].parse().ok()?;
        rest = rest[digits..].strip_prefix(unit)?;
        numbers.push(number);
    }
    if !rest.trim().is_empty() {
        return None;
    }
    let millis = numbers.get(3).copied().unwrap_or(0);
    instant(
        year.parse().ok()?,
        month.parse().ok()?,
        day.parse().ok()?,
        Time::from_hms_milli(
            u8::try_from(numbers[0]).ok()?,
            u8::try_from(numbers[1]).ok()?,
            u8::try_from(numbers[2]).ok()?,
            u16::try_from(millis).ok()?,
        )
        .ok()?,
    )
}

/// `April 1, 2023 3:10pm` (also `3:10 PM`, `3:10:05pm`).
fn spelled_out(text: &str) -> Option<Timestamp> {
    let mut words = text.split_whitespace();
    let month = month_named(words.next()?)?;
    let day: u8 = words.next()?.strip_suffix(',')?.parse().ok()?;
    let year: i32 = words.next()?.parse().ok()?;
    let mut clock: String = words.collect::<Vec<_>>().join("").to_ascii_lowercase();
    let afternoon = if let Some(stripped) = clock.strip_suffix("pm") {
        clock = stripped.to_owned();
        true
    } else {
        clock = clock.strip_suffix("am")?.to_owned();
        false
    };
    let mut parts = clock.split(':');
    let hour: u8 = parts.next()?.parse().ok()?;
    let minute: u8 = parts.next()?.parse().ok()?;
    let second: u8 = parts.next().map_or(Some(0), |part| part.parse().ok())?;
    if parts.next().is_some() || !(1..=12).contains(&hour) {
        return None;
    }
    let hour = hour % 12 + if afternoon { 12 } else { 0 };
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms(hour, minute, second).ok()?;
    Some(to_timestamp(PrimitiveDateTime::new(date, time)))
}

fn month_named(word: &str) -> Option<Month> {
    const MONTHS: [Month; 12] = [
        Month::January,
        Month::February,
        Month::March,
        Month::April,
        Month::May,
        Month::June,
        Month::July,
        Month::August,
        Month::September,
        Month::October,
        Month::November,
        Month::December,
    ];
    MONTHS
        .into_iter()
        .find(|month| month.to_string().eq_ignore_ascii_case(word))
}

fn instant(year: i32, month: u8, day: u8, time: Time) -> Option<Timestamp> {
    let date = Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()?;
    Some(to_timestamp(PrimitiveDateTime::new(date, time)))
}

fn to_timestamp(moment: PrimitiveDateTime) -> Timestamp {
    let nanos = moment.assume_utc().unix_timestamp_nanos();
    Timestamp::from_millis((nanos / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(text: &str) -> Option<String> {
        parse(&json!(text)).map(|stamp| stamp.to_string())
    }

    #[test]
    fn every_form_sillytavern_wrote_names_its_instant() {
        let cases = [
            (json!(1_674_563_371_558_i64), "2023-01-24T12:29:31.558Z"),
            (json!("1674563371558"), "2023-01-24T12:29:31.558Z"),
            (
                json!("2023-4-21 @20h 02m 47s 124ms"),
                "2023-04-21T20:02:47.124Z",
            ),
            (json!("2024-1-1@12h00m00s"), "2024-01-01T12:00:00.000Z"),
            (json!("April 1, 2023 3:10pm"), "2023-04-01T15:10:00.000Z"),
            (
                json!("December 31, 2024 12:05 AM"),
                "2024-12-31T00:05:00.000Z",
            ),
            (json!("June 2, 2023 12:00pm"), "2023-06-02T12:00:00.000Z"),
            (
                json!("2025-03-04T05:06:07.089Z"),
                "2025-03-04T05:06:07.089Z",
            ),
        ];
        for (value, expected) in cases {
            let parsed = parse(&value).map(|stamp| stamp.to_string());
            assert_eq!(parsed.as_deref(), Some(expected), "{value}");
        }
    }

    #[test]
    fn values_in_no_known_form_name_no_instant() {
        for text in [
            "",
            "yesterday",
            "2024-01-01",
            "2023-13-01 @20h 02m 47s",
            "2023-4-21 @25h 02m 47s",
            "Smarch 1, 2023 3:10pm",
            "April 1, 2023 13:10pm",
        ] {
            assert_eq!(at(text), None, "{text}");
        }
        assert_eq!(parse(&json!(-5)), None);
        assert_eq!(parse(&json!(null)), None);
        assert_eq!(parse(&json!(1e300)), None);
    }
}
