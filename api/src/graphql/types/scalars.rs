//! Scalars: `DateTime` (RFC 3339 with offset, answered in UTC) and `Date` (`YYYY-MM-DD`). Both
//! check their input during validation, so a bad value is refused before anything runs, as
//! VALIDATION on the offending field.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{NaiveDate, SecondsFormat, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTime(pub chrono::DateTime<Utc>);

fn parse_date_time(value: &Value) -> Option<chrono::DateTime<Utc>> {
    match value {
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        _ => None,
    }
}

/// RFC 3339 with offset, e.g. 2026-12-01T09:00:00Z.
#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        parse_date_time(&value)
            .map(DateTime)
            .ok_or_else(|| InputValueError::custom("expected an RFC 3339 date-time with offset"))
    }

    fn is_valid(value: &Value) -> bool {
        parse_date_time(value).is_some()
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

impl From<chrono::DateTime<Utc>> for DateTime {
    fn from(value: chrono::DateTime<Utc>) -> Self {
        DateTime(value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date(pub NaiveDate);

fn parse_date(value: &Value) -> Option<NaiveDate> {
    match value {
        Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").ok(),
        _ => None,
    }
}

/// A calendar date, YYYY-MM-DD.
#[Scalar(name = "Date")]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        parse_date(&value)
            .map(Date)
            .ok_or_else(|| InputValueError::custom("expected a date as YYYY-MM-DD"))
    }

    fn is_valid(value: &Value) -> bool {
        parse_date(value).is_some()
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}
