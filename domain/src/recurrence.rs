//! Recurrence rules of booking series, in RFC 5545 terms (`FREQ`, `INTERVAL`, `BYDAY`,
//! `BYMONTHDAY`, `UNTIL` / `COUNT`), and their expansion in a site's time zone.
//!
//! Expansion is written here rather than taken from the `rrule` crate: three frequencies with a
//! single `BY…` part each are a few dozen lines, while the crate (a full RFC 5545 engine with its
//! own parser and regex dependency) would still need the checks below (occurrence cap, horizon,
//! first occurrence on the rule) and its own time-zone type bridged to ours.
//!
//! Local times are kept: a weekly 09:00 meeting is at 09:00 local time on every date, whatever
//! the UTC offset that day. A local time that does not exist (the hour skipped by a DST change)
//! is taken with the offset in force before the change, as RFC 5545 §3.3.5 says (02:30 on the
//! spring-forward night in Paris becomes 03:30); one that happens twice (autumn) is the first of
//! the two (the earlier instant).

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone as _,
    Utc, Weekday,
};

use crate::booking_rules::local_day;
use crate::error::{DomainError, DomainResult};
use crate::values::TimeZone;

/// The most occurrences one series may have.
pub const MAX_OCCURRENCES: usize = 200;

/// The longest interval between periods (days, weeks or months).
const MAX_INTERVAL: i32 = 366;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Frequency {
    Daily,
    Weekly,
    Monthly,
}

impl Frequency {
    /// The `FREQ` value.
    pub fn rfc5545(self) -> &'static str {
        match self {
            Frequency::Daily => "DAILY",
            Frequency::Weekly => "WEEKLY",
            Frequency::Monthly => "MONTHLY",
        }
    }
}

/// Where a series ends: on a local date of the site (inclusive), or after a number of
/// occurrences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecurrenceEnd {
    Until(NaiveDate),
    Count(u32),
}

/// A rule as given (API input, or storage columns): [`RecurrenceRule::parse`] checks it.
#[derive(Debug, Clone, Default)]
pub struct RuleInput {
    pub frequency: Option<Frequency>,
    pub interval: Option<i32>,
    pub by_day: Vec<Weekday>,
    pub by_month_day: Vec<i32>,
    pub until: Option<NaiveDate>,
    pub count: Option<i32>,
}

/// A checked rule: DAILY, WEEKLY on some days (`BYDAY`), or MONTHLY on some days of the month
/// (`BYMONTHDAY`, 1–31; a month without that day has no occurrence on it), every `interval`
/// periods, until a date or for a count. Weeks start on Monday (`WKST=MO`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecurrenceRule {
    frequency: Frequency,
    interval: u32,
    /// Weekly only; sorted Monday first, each once.
    by_day: Vec<Weekday>,
    /// Monthly only; sorted, each once.
    by_month_day: Vec<u32>,
    end: RecurrenceEnd,
}

/// Why a rule does not fit the room (VALIDATION on the field that ends the rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpansionError {
    TooMany,
    BeyondHorizon,
}

/// The `BYDAY` two-letter code of a weekday.
pub fn weekday_code(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}

impl RecurrenceRule {
    /// Checks a rule; errors name `rule.<field>`.
    pub fn parse(input: RuleInput) -> DomainResult<Self> {
        let invalid = |field: &str, message: &str| {
            DomainError::validation(format!("rule.{field}"), message.to_owned())
        };
        let frequency = input
            .frequency
            .ok_or_else(|| invalid("frequency", "is required"))?;
        let interval = input.interval.unwrap_or(1);
        if !(1..=MAX_INTERVAL).contains(&interval) {
            return Err(invalid(
                "interval",
                &format!("must be between 1 and {MAX_INTERVAL}"),
            ));
        }
        let mut by_day = input.by_day;
        by_day.sort_by_key(|d| d.num_days_from_monday());
        by_day.dedup();
        if !by_day.is_empty() && frequency != Frequency::Weekly {
            return Err(invalid("byDay", "is for WEEKLY rules only"));
        }
        if input.by_month_day.iter().any(|d| !(1..=31).contains(d)) {
            return Err(invalid("byMonthDay", "days of the month are 1 to 31"));
        }
        let mut by_month_day: Vec<u32> = input
            .by_month_day
            .iter()
            .map(|d| d.unsigned_abs())
            .collect();
        by_month_day.sort_unstable();
        by_month_day.dedup();
        if !by_month_day.is_empty() && frequency != Frequency::Monthly {
            return Err(invalid("byMonthDay", "is for MONTHLY rules only"));
        }
        let end = match (input.until, input.count) {
            (Some(until), None) => RecurrenceEnd::Until(until),
            (None, Some(count)) => {
                if count < 1 {
                    return Err(invalid("count", "must be at least 1"));
                }
                if count as usize > MAX_OCCURRENCES {
                    return Err(invalid(
                        "count",
                        &format!("a series has at most {MAX_OCCURRENCES} occurrences"),
                    ));
                }
                RecurrenceEnd::Count(count.unsigned_abs())
            }
            (Some(_), Some(_)) => return Err(invalid("count", "give until or count, not both")),
            (None, None) => return Err(invalid("until", "give until or count")),
        };
        Ok(RecurrenceRule {
            frequency,
            interval: interval.unsigned_abs(),
            by_day,
            by_month_day,
            end,
        })
    }

    pub fn frequency(&self) -> Frequency {
        self.frequency
    }

    pub fn interval(&self) -> u32 {
        self.interval
    }

    /// `BYDAY` as given (empty: the first occurrence's weekday).
    pub fn by_day(&self) -> &[Weekday] {
        &self.by_day
    }

    /// `BYMONTHDAY` as given (empty: the first occurrence's day of the month).
    pub fn by_month_day(&self) -> &[u32] {
        &self.by_month_day
    }

    pub fn end(&self) -> RecurrenceEnd {
        self.end
    }

    /// The input field that says where the rule ends (where a too-long rule is reported).
    fn end_field(&self) -> &'static str {
        match self.end {
            RecurrenceEnd::Until(_) => "rule.until",
            RecurrenceEnd::Count(_) => "rule.count",
        }
    }

    /// The rule as an RFC 5545 `RRULE` value, for a series whose first occurrence is in `zone`
    /// (`DTSTART;TZID=…`): `UNTIL` is then the last second of the local end date, in UTC, as
    /// §3.3.10 requires.
    pub fn to_rrule(&self, zone: TimeZone) -> String {
        let mut parts = vec![
            format!("FREQ={}", self.frequency.rfc5545()),
            format!("INTERVAL={}", self.interval),
        ];
        if !self.by_day.is_empty() {
            let days: Vec<&str> = self.by_day.iter().map(|d| weekday_code(*d)).collect();
            parts.push(format!("BYDAY={}", days.join(",")));
        }
        if !self.by_month_day.is_empty() {
            let days: Vec<String> = self.by_month_day.iter().map(u32::to_string).collect();
            parts.push(format!("BYMONTHDAY={}", days.join(",")));
        }
        match self.end {
            RecurrenceEnd::Until(date) => {
                let last = local_day(date, zone).1 - Duration::seconds(1);
                parts.push(format!("UNTIL={}", last.format("%Y%m%dT%H%M%SZ")));
            }
            RecurrenceEnd::Count(count) => parts.push(format!("COUNT={count}")),
        }
        parts.join(";")
    }

    /// Checks that the first occurrence (`DTSTART`) is one the rule makes: RFC 5545 would count
    /// a `DTSTART` off the rule as an extra occurrence, which surprises more than it helps.
    pub fn check_first(&self, first: NaiveDate) -> DomainResult<()> {
        let on_rule = match self.frequency {
            Frequency::Daily => true,
            Frequency::Weekly => self.by_day.is_empty() || self.by_day.contains(&first.weekday()),
            Frequency::Monthly => {
                self.by_month_day.is_empty() || self.by_month_day.contains(&first.day())
            }
        };
        if !on_rule {
            let field = match self.frequency {
                Frequency::Monthly => "rule.byMonthDay",
                _ => "rule.byDay",
            };
            return Err(DomainError::validation(
                field,
                "the first occurrence (start) must fall on one of these days",
            ));
        }
        if let RecurrenceEnd::Until(until) = self.end
            && until < first
        {
            return Err(DomainError::validation(
                "rule.until",
                "must not be before the first occurrence",
            ));
        }
        Ok(())
    }

    /// The starts of every occurrence, in order: the first at `first` (local time of `zone`),
    /// the others on the dates of the rule at the same local time. Occurrences must start no
    /// later than `latest` (the room's horizon) and be at most [`MAX_OCCURRENCES`]; errors
    /// name the field that ends the rule.
    pub fn starts(
        &self,
        first: NaiveDateTime,
        zone: TimeZone,
        latest: DateTime<Utc>,
    ) -> DomainResult<Vec<DateTime<Utc>>> {
        self.check_first(first.date())?;
        self.expand(first, zone, latest).map_err(|error| {
            let message = match error {
                ExpansionError::TooMany => {
                    format!("a series has at most {MAX_OCCURRENCES} occurrences")
                }
                ExpansionError::BeyondHorizon => {
                    "the series goes beyond how far ahead this room may be booked".to_owned()
                }
            };
            DomainError::validation(self.end_field(), message)
        })
    }

    fn expand(
        &self,
        first: NaiveDateTime,
        zone: TimeZone,
        latest: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, ExpansionError> {
        let time = first.time();
        let start_date = first.date();
        let mut starts = Vec::new();
        for period in 0u32.. {
            let Some((period_start, dates)) = self.period(start_date, period) else {
                // Past the last representable date: certainly beyond any horizon.
                return Err(ExpansionError::BeyondHorizon);
            };
            if let RecurrenceEnd::Until(until) = self.end
                && period_start > until
            {
                return Ok(starts);
            }
            if local_instant(zone, period_start.and_time(time)) > latest {
                return Err(ExpansionError::BeyondHorizon);
            }
            for date in dates.into_iter().filter(|d| *d >= start_date) {
                if let RecurrenceEnd::Until(until) = self.end
                    && date > until
                {
                    return Ok(starts);
                }
                let start = local_instant(zone, date.and_time(time));
                if start > latest {
                    return Err(ExpansionError::BeyondHorizon);
                }
                if starts.len() == MAX_OCCURRENCES {
                    return Err(ExpansionError::TooMany);
                }
                starts.push(start);
                if self.end == RecurrenceEnd::Count(starts.len() as u32) {
                    return Ok(starts);
                }
            }
        }
        Ok(starts)
    }

    /// The first day of period `n` after the one of `first` and the dates the rule picks in it,
    /// in order (`None` beyond chrono's calendar).
    fn period(&self, first: NaiveDate, n: u32) -> Option<(NaiveDate, Vec<NaiveDate>)> {
        let step = u64::from(n) * u64::from(self.interval);
        match self.frequency {
            Frequency::Daily => {
                let day = first.checked_add_days(chrono::Days::new(step))?;
                Some((day, vec![day]))
            }
            Frequency::Weekly => {
                let monday = first
                    .checked_sub_days(chrono::Days::new(u64::from(
                        first.weekday().num_days_from_monday(),
                    )))?
                    .checked_add_days(chrono::Days::new(step * 7))?;
                let days = if self.by_day.is_empty() {
                    vec![first.weekday()]
                } else {
                    self.by_day.clone()
                };
                let dates = days
                    .iter()
                    .filter_map(|d| {
                        monday.checked_add_days(chrono::Days::new(u64::from(
                            d.num_days_from_monday(),
                        )))
                    })
                    .collect();
                Some((monday, dates))
            }
            Frequency::Monthly => {
                let month_start = first
                    .with_day(1)?
                    .checked_add_months(chrono::Months::new(u32::try_from(step).ok()?))?;
                let days = if self.by_month_day.is_empty() {
                    vec![first.day()]
                } else {
                    self.by_month_day.clone()
                };
                // A month without that day (31 April) has no occurrence on it (RFC 5545).
                let dates = days
                    .iter()
                    .filter_map(|d| month_start.with_day(*d))
                    .collect();
                Some((month_start, dates))
            }
        }
    }
}

/// The instant of a local date and time of `zone`: the earlier of two (autumn), or with the
/// offset in force before the change for a time that does not exist (spring), as RFC 5545 says.
pub fn local_instant(zone: TimeZone, local: NaiveDateTime) -> DateTime<Utc> {
    let tz = zone.tz();
    match tz.from_local_datetime(&local) {
        LocalResult::Single(at) => at.with_timezone(&Utc),
        LocalResult::Ambiguous(earlier, _) => earlier.with_timezone(&Utc),
        LocalResult::None => {
            // A gap lasts at most a few hours: the offset a day earlier is the one before it.
            let before = local - Duration::days(1);
            let offset = tz
                .offset_from_local_datetime(&before)
                .earliest()
                .map_or(0, |o| o.fix().local_minus_utc());
            (local - Duration::seconds(i64::from(offset))).and_utc()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn local(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn paris() -> TimeZone {
        TimeZone::parse("tz", "Europe/Paris").unwrap()
    }

    fn rule(input: RuleInput) -> RecurrenceRule {
        RecurrenceRule::parse(input).unwrap()
    }

    fn field(result: DomainResult<impl std::fmt::Debug>) -> String {
        result.unwrap_err().field().unwrap().to_owned()
    }

    #[test]
    fn weekly_stays_at_local_time_across_daylight_saving() {
        let weekly = rule(RuleInput {
            frequency: Some(Frequency::Weekly),
            by_day: vec![Weekday::Tue],
            until: Some(date("2027-04-13")),
            ..Default::default()
        });
        let starts = weekly
            .starts(
                local("2027-03-02 09:00"),
                paris(),
                at("2027-12-31T00:00:00Z"),
            )
            .unwrap();
        let expected = [
            "2027-03-02T08:00:00Z",
            "2027-03-09T08:00:00Z",
            "2027-03-16T08:00:00Z",
            "2027-03-23T08:00:00Z",
            "2027-03-30T07:00:00Z",
            "2027-04-06T07:00:00Z",
            "2027-04-13T07:00:00Z",
        ];
        assert_eq!(starts, expected.map(at));
        assert_eq!(
            weekly.to_rrule(paris()),
            "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;UNTIL=20270413T215959Z"
        );
    }

    #[test]
    fn weekly_on_several_days_every_other_week() {
        let r = rule(RuleInput {
            frequency: Some(Frequency::Weekly),
            interval: Some(2),
            by_day: vec![Weekday::Thu, Weekday::Mon],
            count: Some(5),
            ..Default::default()
        });
        // Thursday 7 January 2027 first: that week's Monday is before it, so not counted.
        let starts = r
            .starts(
                local("2027-01-07 10:00"),
                TimeZone::utc(),
                at("2028-01-01T00:00:00Z"),
            )
            .unwrap();
        let expected = [
            "2027-01-07T10:00:00Z",
            "2027-01-18T10:00:00Z",
            "2027-01-21T10:00:00Z",
            "2027-02-01T10:00:00Z",
            "2027-02-04T10:00:00Z",
        ];
        assert_eq!(starts, expected.map(at));
        assert_eq!(
            r.to_rrule(TimeZone::utc()),
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;COUNT=5"
        );
    }

    #[test]
    fn monthly_skips_months_without_the_day_and_daily_counts() {
        let monthly = rule(RuleInput {
            frequency: Some(Frequency::Monthly),
            by_month_day: vec![31],
            count: Some(3),
            ..Default::default()
        });
        let starts = monthly
            .starts(
                local("2027-01-31 09:00"),
                TimeZone::utc(),
                at("2028-01-01T00:00:00Z"),
            )
            .unwrap();
        let expected = [
            "2027-01-31T09:00:00Z",
            "2027-03-31T09:00:00Z",
            "2027-05-31T09:00:00Z",
        ];
        assert_eq!(starts, expected.map(at));
        let daily = rule(RuleInput {
            frequency: Some(Frequency::Daily),
            interval: Some(3),
            count: Some(3),
            ..Default::default()
        });
        let starts = daily
            .starts(
                local("2027-01-30 09:00"),
                TimeZone::utc(),
                at("2028-01-01T00:00:00Z"),
            )
            .unwrap();
        let expected = [
            "2027-01-30T09:00:00Z",
            "2027-02-02T09:00:00Z",
            "2027-02-05T09:00:00Z",
        ];
        assert_eq!(starts, expected.map(at));
    }

    #[test]
    fn nonexistent_and_repeated_local_times() {
        // 02:30 does not exist on 28 March 2027 in Paris: taken at the winter offset (03:30).
        assert_eq!(
            local_instant(paris(), local("2027-03-28 02:30")),
            at("2027-03-28T01:30:00Z")
        );
        // 02:30 happens twice on 31 October 2027: the first one (summer time).
        assert_eq!(
            local_instant(paris(), local("2027-10-31 02:30")),
            at("2027-10-31T00:30:00Z")
        );
    }

    #[test]
    fn bad_rules_name_their_field() {
        let weekly = |input: RuleInput| {
            RecurrenceRule::parse(RuleInput {
                frequency: Some(Frequency::Weekly),
                ..input
            })
        };
        assert_eq!(
            field(weekly(RuleInput {
                count: Some(201),
                ..Default::default()
            })),
            "rule.count"
        );
        assert_eq!(
            field(weekly(RuleInput {
                count: Some(0),
                ..Default::default()
            })),
            "rule.count"
        );
        assert_eq!(field(weekly(RuleInput::default())), "rule.until");
        assert_eq!(
            field(weekly(RuleInput {
                interval: Some(0),
                count: Some(2),
                ..Default::default()
            })),
            "rule.interval"
        );
        assert_eq!(
            field(weekly(RuleInput {
                by_month_day: vec![3],
                count: Some(2),
                ..Default::default()
            })),
            "rule.byMonthDay"
        );
        let daily_by_day = RecurrenceRule::parse(RuleInput {
            frequency: Some(Frequency::Daily),
            by_day: vec![Weekday::Mon],
            count: Some(2),
            ..Default::default()
        });
        assert_eq!(field(daily_by_day), "rule.byDay");
        // A Tuesday rule starting on a Wednesday.
        let tuesdays = rule(RuleInput {
            frequency: Some(Frequency::Weekly),
            by_day: vec![Weekday::Tue],
            count: Some(2),
            ..Default::default()
        });
        let latest = at("2028-01-01T00:00:00Z");
        assert_eq!(
            field(tuesdays.starts(local("2027-03-03 09:00"), paris(), latest)),
            "rule.byDay"
        );
        // Beyond the horizon, and too many occurrences.
        let until = rule(RuleInput {
            frequency: Some(Frequency::Daily),
            until: Some(date("2027-12-31")),
            ..Default::default()
        });
        let soon = at("2027-03-10T00:00:00Z");
        assert_eq!(
            field(until.starts(local("2027-03-01 09:00"), paris(), soon)),
            "rule.until"
        );
        assert_eq!(
            field(until.starts(local("2027-03-01 09:00"), paris(), latest)),
            "rule.until"
        );
        let counted = rule(RuleInput {
            frequency: Some(Frequency::Daily),
            count: Some(20),
            ..Default::default()
        });
        assert_eq!(
            field(counted.starts(local("2027-03-01 09:00"), paris(), soon)),
            "rule.count"
        );
    }
}
