//! Calendar periods: days, Monday-based weeks, months and quarters as integer indexes.
//!
//! Cohort and BTYD functions work on whole periods; doing the calendar arithmetic on day
//! numbers (days since 1970-01-01) keeps it exact and cheap, with no time zone or DST
//! surprises once timestamps have been turned into local dates.

use std::fmt;
use std::str::FromStr;

use crate::error::AlgoError;

/// The length of a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Grain {
    Day,
    /// ISO weeks, Monday to Sunday.
    Week,
    Month,
    Quarter,
}

impl Grain {
    pub const ALL: [Grain; 4] = [Grain::Day, Grain::Week, Grain::Month, Grain::Quarter];

    /// The period a day falls in, as a running index (period 0 contains 1970-01-01).
    pub fn index(self, day: i32) -> i32 {
        match self {
            Grain::Day => day,
            // 1970-01-01 was a Thursday; shifting by 3 puts Mondays on multiples of 7.
            Grain::Week => (day + 3).div_euclid(7),
            Grain::Month => {
                let (year, month, _) = civil_from_days(day);
                (year - 1970) * 12 + (month as i32 - 1)
            }
            Grain::Quarter => {
                let (year, month, _) = civil_from_days(day);
                (year - 1970) * 4 + (month as i32 - 1) / 3
            }
        }
    }

    /// The first day of period `index`.
    pub fn start_day(self, index: i32) -> i32 {
        match self {
            Grain::Day => index,
            Grain::Week => index * 7 - 3,
            Grain::Month => days_from_civil(1970 + index.div_euclid(12), (index.rem_euclid(12) + 1) as u32, 1),
            Grain::Quarter => days_from_civil(1970 + index.div_euclid(4), (index.rem_euclid(4) * 3 + 1) as u32, 1),
        }
    }

    /// The last day of period `index`.
    pub fn end_day(self, index: i32) -> i32 {
        self.start_day(index + 1) - 1
    }
}

/// Period indices of many days in a row. Events arrive mostly in time order, so the last
/// period's bounds answer nearly every day without the calendar arithmetic, a dozen
/// divisions per row on the hottest path of the cohort functions.
#[derive(Debug, Clone)]
pub struct PeriodCursor {
    grain: Grain,
    start: i32,
    end: i32,
    index: i32,
}

impl PeriodCursor {
    pub fn new(grain: Grain) -> Self {
        // An empty range, so the first day computes its period.
        PeriodCursor { grain, start: 0, end: 0, index: 0 }
    }

    pub fn index(&mut self, day: i32) -> i32 {
        if day < self.start || day >= self.end {
            self.index = self.grain.index(day);
            self.start = self.grain.start_day(self.index);
            self.end = self.grain.start_day(self.index.saturating_add(1));
        }
        self.index
    }
}

impl fmt::Display for Grain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Grain::Day => "day",
            Grain::Week => "week",
            Grain::Month => "month",
            Grain::Quarter => "quarter",
        })
    }
}

impl FromStr for Grain {
    type Err = AlgoError;

    fn from_str(text: &str) -> Result<Self, AlgoError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "day" | "days" | "d" => Ok(Grain::Day),
            "week" | "weeks" | "w" => Ok(Grain::Week),
            "month" | "months" | "m" => Ok(Grain::Month),
            "quarter" | "quarters" | "q" => Ok(Grain::Quarter),
            _ => Err(AlgoError::UnknownChoice {
                what: "grain",
                got: text.to_string(),
                choices: "day, week, month or quarter",
            }),
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i32, month: u32, day: u32) -> i32 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month = month as i32;
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day as i32 - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The (year, month, day) of a day number.
pub fn civil_from_days(days: i32) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i32::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        for day in -800_000..800_000 {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
    }

    #[test]
    fn weeks_start_on_monday() {
        let monday = days_from_civil(2024, 1, 1); // a Monday
        let sunday = days_from_civil(2024, 1, 7);
        assert_eq!(Grain::Week.index(monday), Grain::Week.index(sunday));
        assert_eq!(Grain::Week.index(sunday) + 1, Grain::Week.index(sunday + 1));
        assert_eq!(Grain::Week.start_day(Grain::Week.index(sunday)), monday);
        assert_eq!(Grain::Week.end_day(Grain::Week.index(monday)), sunday);
    }

    #[test]
    fn months_and_quarters() {
        let day = days_from_civil(2025, 11, 15);
        let month = Grain::Month.index(day);
        assert_eq!(month, 55 * 12 + 10);
        assert_eq!(Grain::Month.start_day(month), days_from_civil(2025, 11, 1));
        assert_eq!(Grain::Month.end_day(month), days_from_civil(2025, 11, 30));
        assert_eq!(Grain::Month.end_day(Grain::Month.index(days_from_civil(2024, 2, 3))), days_from_civil(2024, 2, 29));
        let quarter = Grain::Quarter.index(day);
        assert_eq!(Grain::Quarter.start_day(quarter), days_from_civil(2025, 10, 1));
        assert_eq!(Grain::Quarter.end_day(quarter), days_from_civil(2025, 12, 31));
        assert_eq!(Grain::Month.index(days_from_civil(1969, 12, 31)), -1);
    }

    #[test]
    fn grains_parse() {
        assert_eq!("Month".parse::<Grain>(), Ok(Grain::Month));
        assert!("year".parse::<Grain>().unwrap_err().to_string().contains("use day, week, month or quarter"));
        for grain in Grain::ALL {
            assert_eq!(grain.to_string().parse::<Grain>(), Ok(grain));
        }
    }

    #[test]
    fn cursor_agrees_with_index_in_any_order() {
        for grain in Grain::ALL {
            let mut cursor = PeriodCursor::new(grain);
            let days = (-800..800).chain((-800..800).rev()).chain((0..3000).map(|i| (i * 7919) % 2000 - 1000));
            for day in days {
                assert_eq!(cursor.index(day), grain.index(day), "{grain} day {day}");
            }
        }
    }
}
