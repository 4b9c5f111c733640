//! Where FINRA's data begins: one table, each first date with its source.
//!
//! A date before a dataset's first date is "before FINRA published it": nothing is fetched for it
//! (no request for a file or a week that cannot exist), its cells are null rather than pending,
//! and coverage says so instead of "awaited".

use chrono::NaiveDate;
use serde::Serialize;

use super::date;
use crate::config::Facility;

/// The first date of one FINRA dataset (or part of one), and where that date is documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DatasetStart {
    /// The dataset (`regsho_daily`, `otc_weekly`).
    pub dataset: &'static str,
    /// The part of it: a facility file, or ATS / non-ATS OTC volume.
    pub part: &'static str,
    /// Its first date (for weekly data, the Monday of its first week).
    pub first: NaiveDate,
    /// Where the date comes from.
    pub source: &'static str,
}

/// Reg SHO daily files of the TRFs, the ADF and the ORF. FINRA's catalog names no first day for
/// them; its Information Notice of 2009-09-29 announced the file, back-filled to August 2009,
/// and the earliest file seen in public archives is `FNSQshvol20090803.txt` (the first session
/// of August 2009).
pub const REGSHO_FILES_START: NaiveDate = date(2009, 8, 3);
/// First day of the consolidated NMS file (FINRA's catalog of daily short sale volume files).
pub const CNMS_START: NaiveDate = date(2018, 8, 1);
/// First day of the FINRA/Nasdaq TRF Chicago file (same page).
pub const FNQC_START: NaiveDate = date(2018, 9, 10);
/// First week of FINRA's weekly ATS data: Rule 4552 took effect on Monday 2014-05-12.
pub const ATS_WEEKLY_START: NaiveDate = date(2014, 5, 12);
/// First week of non-ATS OTC volume: Regulatory Notice 15-48 ("data as of April 4, 2016").
pub const OTC_WEEKLY_START: NaiveDate = date(2016, 4, 4);

/// First settlement of FINRA's short interest files on its CDN (`shrt20171229.csv`, as a public
/// client that downloads them all reports: earlier dates answer 403). Until mid-2021 they hold
/// OTC securities only; consolidated (exchange-listed too) from the settlement of 2021-06-15.
pub const SHORT_INTEREST_START: NaiveDate = date(2017, 12, 29);

/// Every first date offx relies on, in one place (shown by `offx datasets` and in the README).
pub const STARTS: &[DatasetStart] = &[
    DatasetStart {
        dataset: "regsho_daily",
        part: "FNSQ, FNYX, FNRA, FORF files",
        first: REGSHO_FILES_START,
        source: "FINRA Information Notice 2009-09-29 (the daily file, from August 2009); \
                 earliest archived file FNSQshvol20090803.txt",
    },
    DatasetStart {
        dataset: "regsho_daily",
        part: "CNMS file",
        first: CNMS_START,
        source: "finra.org, Daily Short Sale Volume Files: \"The earliest date for the \
                 Consolidated NMS files is August 1, 2018\"",
    },
    DatasetStart {
        dataset: "regsho_daily",
        part: "FNQC file",
        first: FNQC_START,
        source: "same page: \"The earliest date for the FINRA/Nasdaq TRF Chicago files is \
                 September 10, 2018\"",
    },
    DatasetStart {
        dataset: "otc_weekly",
        part: "ATS volume (ATS_W_SMBL)",
        first: ATS_WEEKLY_START,
        source: "finra.org, ATS Transparency Phase 1: Rule 4552 effective May 12, 2014",
    },
    DatasetStart {
        dataset: "otc_weekly",
        part: "non-ATS OTC volume (OTC_W_SMBL)",
        first: OTC_WEEKLY_START,
        source: "FINRA Regulatory Notice 15-48: \"Beginning on Monday, April 25, 2016, data as \
                 of April 4, 2016, will be available\"",
    },
    DatasetStart {
        dataset: "short_interest",
        part: "settlements (OTC only until 2021-06-15, then consolidated)",
        first: SHORT_INTEREST_START,
        source: "the earliest shrtYYYYMMDD.csv on cdn.finra.org, as reported by a public \
                 client that mirrors them (\"Pre-2018 dates return 403\")",
    },
];

/// The first day FINRA published `facility`'s daily file.
pub fn facility_start(facility: Facility) -> NaiveDate {
    match facility {
        Facility::Cnms => CNMS_START,
        Facility::Fnqc => FNQC_START,
        Facility::Fnsq | Facility::Fnyx | Facility::Fnra | Facility::Forf => REGSHO_FILES_START,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;
    use chrono::Weekday;

    #[test]
    fn weekly_starts_are_mondays_and_daily_starts_are_sessions() {
        for start in STARTS {
            if start.dataset == "otc_weekly" {
                assert_eq!(start.first.weekday(), Weekday::Mon, "{start:?}");
            } else {
                assert!(crate::calendar::is_session(start.first), "{start:?}");
            }
        }
    }

    #[test]
    fn every_facility_has_its_start() {
        assert_eq!(facility_start(Facility::Cnms), date(2018, 8, 1));
        assert_eq!(facility_start(Facility::Fnqc), date(2018, 9, 10));
        assert_eq!(facility_start(Facility::Forf), date(2009, 8, 3));
        assert!(OTC_WEEKLY_START > ATS_WEEKLY_START);
    }
}
