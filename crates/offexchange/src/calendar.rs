//! NYSE trading sessions.
//!
//! Rule-based rather than a lookup table: FINRA data goes back to 2009 and backfills reach years
//! the published calendar crates do not cover (`nyse-holiday-cal` spans 2020-2028 and misses the
//! 2025-01-09 national day of mourning). The rules below are checked against that crate for every
//! day of its range in the tests, and one-off closures are listed explicitly.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

/// Unscheduled full-day closures (weather, national days of mourning, 9/11).
const SPECIAL_CLOSURES: &[(i32, u32, u32, &str)] = &[
    (2001, 9, 11, "September 11 attacks"),
    (2001, 9, 12, "September 11 attacks"),
    (2001, 9, 13, "September 11 attacks"),
    (2001, 9, 14, "September 11 attacks"),
    (2004, 6, 11, "national day of mourning (Reagan)"),
    (2007, 1, 2, "national day of mourning (Ford)"),
    (2012, 10, 29, "Hurricane Sandy"),
    (2012, 10, 30, "Hurricane Sandy"),
    (2018, 12, 5, "national day of mourning (G. H. W. Bush)"),
    (2025, 1, 9, "national day of mourning (Carter)"),
];

/// Why the NYSE is closed on `date`, or `None` when it holds a regular session.
pub fn closure_reason(date: NaiveDate) -> Option<&'static str> {
    match date.weekday() {
        Weekday::Sat => return Some("Saturday"),
        Weekday::Sun => return Some("Sunday"),
        _ => {}
    }
    if let Some(&(.., why)) = SPECIAL_CLOSURES
        .iter()
        .find(|&&(y, m, d, _)| (y, m, d) == (date.year(), date.month(), date.day()))
    {
        return Some(why);
    }
    holiday(date)
}

/// `true` when the NYSE holds a session on `date`.
pub fn is_session(date: NaiveDate) -> bool {
    closure_reason(date).is_none()
}

/// The Monday that starts `date`'s week: the key of FINRA's weekly ATS data (`weekStartDate`).
pub fn week_start(date: NaiveDate) -> NaiveDate {
    date - Duration::days(i64::from(date.weekday().num_days_from_monday()))
}

/// The NYSE sessions of the week that starts on `monday` (0 to 5 dates).
pub fn sessions_of_week(monday: NaiveDate) -> Vec<NaiveDate> {
    (0..5)
        .map(|d| monday + Duration::days(d))
        .filter(|d| is_session(*d))
        .collect()
}

/// Every NYSE session in `from..=to`, in order.
pub fn sessions_between(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days()
        .take_while(move |d| *d <= to)
        .filter(|d| is_session(*d))
}

fn holiday(date: NaiveDate) -> Option<&'static str> {
    let (y, m, d) = (date.year(), date.month(), date.day());
    let observed = |month: u32, day: u32| {
        // A holiday on Saturday is observed on Friday, on Sunday on Monday. NYSE rule 7.2 makes
        // one exception: New Year's Day on a Saturday is not observed on the Friday before.
        NaiveDate::from_ymd_opt(y, month, day).map(|h| match h.weekday() {
            Weekday::Sat => h - Duration::days(1),
            Weekday::Sun => h + Duration::days(1),
            _ => h,
        })
    };
    let is = |h: Option<NaiveDate>| h == Some(date);
    if m == 1 && (d == 1 || (d == 2 && date.weekday() == Weekday::Mon)) {
        return Some("New Year's Day");
    }
    if is(nth_weekday(y, 1, Weekday::Mon, 3)) {
        return Some("Martin Luther King Jr. Day");
    }
    if is(nth_weekday(y, 2, Weekday::Mon, 3)) {
        return Some("Washington's Birthday");
    }
    if is(easter_sunday(y).map(|e| e - Duration::days(2))) {
        return Some("Good Friday");
    }
    if is(last_weekday(y, 5, Weekday::Mon)) {
        return Some("Memorial Day");
    }
    if y >= 2022 && is(observed(6, 19)) {
        return Some("Juneteenth");
    }
    if is(observed(7, 4)) {
        return Some("Independence Day");
    }
    if is(nth_weekday(y, 9, Weekday::Mon, 1)) {
        return Some("Labor Day");
    }
    if is(nth_weekday(y, 11, Weekday::Thu, 4)) {
        return Some("Thanksgiving Day");
    }
    if is(observed(12, 25)) {
        return Some("Christmas Day");
    }
    None
}

fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n)
}

fn last_weekday(year: i32, month: u32, weekday: Weekday) -> Option<NaiveDate> {
    nth_weekday(year, month, weekday, 5).or_else(|| nth_weekday(year, month, weekday, 4))
}

/// Gregorian Easter Sunday (the anonymous "Meeus/Jones/Butcher" algorithm).
fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nyse_holiday_cal::HolidayCal;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
    }

    #[test]
    fn agrees_with_nyse_holiday_cal_over_its_whole_range() {
        let mut checked = 0;
        for day in sessions_or_not(ymd(2020, 1, 1), ymd(2028, 12, 31)) {
            let theirs = day.is_busday().expect("in the crate's range");
            let special = SPECIAL_CLOSURES
                .iter()
                .any(|&(y, m, d, _)| ymd(y, m, d) == day);
            if special {
                assert!(!is_session(day), "{day} is a special closure");
                continue;
            }
            assert_eq!(is_session(day), theirs, "disagreement on {day}");
            checked += 1;
        }
        assert!(checked > 3000);
    }

    fn sessions_or_not(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
        from.iter_days().take_while(move |d| *d <= to)
    }

    #[test]
    fn known_closures() {
        assert_eq!(closure_reason(ymd(2024, 3, 29)), Some("Good Friday"));
        assert!(closure_reason(ymd(2025, 1, 9)).is_some());
        assert!(closure_reason(ymd(2018, 12, 5)).is_some());
        assert!(closure_reason(ymd(2012, 10, 29)).is_some());
        assert_eq!(closure_reason(ymd(2024, 4, 6)), Some("Saturday"));
        assert_eq!(closure_reason(ymd(2019, 4, 19)), Some("Good Friday"));
        assert_eq!(closure_reason(ymd(2011, 12, 26)), Some("Christmas Day"));
        // New Year's Day 2022 fell on a Saturday: Friday 2021-12-31 was a session.
        assert!(is_session(ymd(2021, 12, 31)));
        assert!(is_session(ymd(2024, 4, 1)));
    }

    #[test]
    fn weeks_and_ranges() {
        assert_eq!(week_start(ymd(2024, 4, 5)), ymd(2024, 4, 1));
        assert_eq!(week_start(ymd(2024, 4, 7)), ymd(2024, 4, 1));
        assert_eq!(sessions_of_week(ymd(2024, 3, 25)).len(), 4);
        assert_eq!(
            sessions_between(ymd(2024, 1, 1), ymd(2024, 12, 31)).count(),
            252
        );
        assert_eq!(
            sessions_between(ymd(2023, 1, 1), ymd(2023, 12, 31)).count(),
            250
        );
    }
}
