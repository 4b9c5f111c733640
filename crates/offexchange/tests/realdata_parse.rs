//! The parsers on real FINRA bytes: whole files, 2026 excerpts with decimal volumes, and the
//! pre-2011 header without `ShortExemptVolume`.

use chrono::NaiveDate;
use offexchange::parse::regsho;
use offexchange::volume::Volume;
use offx_testkit::realdata;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn v(text: &str) -> Volume {
    Volume::parse(text.as_bytes()).unwrap()
}

#[test]
fn every_whole_real_file_parses_cleanly_with_its_count() {
    let Some(real) = realdata() else { return };
    let dir = real.join("mirror/regsho/daily");
    let expected = [
        ("CNMSshvol20200102.txt", 8172),
        ("FNSQshvol20200102.txt", 7972),
        ("FNQCshvol20200102.txt", 2678),
        ("FNYXshvol20200102.txt", 7355),
        ("FNRAshvol20200102.txt", 0),
        ("FORFshvol20200102.txt", 3149),
        ("CNMSshvol20200103.txt", 8124),
        ("FORFshvol20200103.txt", 3127),
        ("CNMSshvol20211201.txt", 10325),
    ];
    for (name, rows) in expected {
        let date = NaiveDate::parse_from_str(&name[9..17], "%Y%m%d").unwrap();
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let file = regsho::parse(name, date, &bytes).unwrap();
        assert_eq!(file.rows.len(), rows, "{name}");
        assert!(
            file.quality.is_clean(),
            "{name}: {:?}",
            file.quality.summary()
        );
        assert!(file.has_exempt_column);
    }
}

#[test]
fn case_and_slash_spellings_survive_byte_for_byte() {
    let Some(real) = realdata() else { return };
    let bytes = std::fs::read(real.join("mirror/regsho/daily/CNMSshvol20200102.txt")).unwrap();
    let file = regsho::parse("CNMSshvol20200102.txt", d(2020, 1, 2), &bytes).unwrap();
    let find = |s: &str| {
        file.rows
            .iter()
            .find(|r| r.symbol == s)
            .map(|r| (r.short, r.total))
    };
    assert_eq!(
        find("CPK"),
        Some((Volume::from_shares(4572), Volume::from_shares(11320)))
    );
    assert_eq!(
        find("CpK"),
        Some((Volume::from_shares(26487), Volume::from_shares(62317)))
    );
    assert!(find("BRK/B").is_some());
    assert!(find("BRK.B").is_none());
}

#[test]
fn excerpt_with_decimal_volumes_and_a_count_line() {
    let Some(real) = realdata() else { return };
    let path = real.join("regsho-excerpts/daniel3303_Equibles/CNMSshvol20260730.txt");
    let file = regsho::parse(
        "CNMSshvol20260730.txt",
        d(2026, 7, 30),
        &std::fs::read(path).unwrap(),
    )
    .unwrap();
    assert_eq!(file.rows.len(), 3);
    assert!(file.quality.is_clean());
    let brk = file.rows.iter().find(|r| r.symbol == "BRK/B").unwrap();
    assert_eq!(brk.short, v("691476.764953"));
    assert_eq!(brk.exempt, Some(v("1191")));
    assert_eq!(brk.total, v("1280099.715143"));
    assert_eq!(
        brk.short.ratio_to(brk.total),
        Some(691_476_764_953f64 / 1_280_099_715_143f64)
    );
}

#[test]
fn excerpt_without_count_line_is_accepted_with_a_note() {
    let Some(real) = realdata() else { return };
    let path = real.join("regsho-excerpts/SiddharthUIgupta_trading-engine/CNMSshvol_sample.txt");
    let file = regsho::parse(
        "CNMSshvol_sample.txt",
        d(2026, 7, 2),
        &std::fs::read(path).unwrap(),
    )
    .unwrap();
    assert_eq!(file.rows.len(), 5);
    assert!(file
        .quality
        .notes
        .iter()
        .any(|n| n.contains("no record-count line")));
    let tsla = file.rows.iter().find(|r| r.symbol == "TSLA").unwrap();
    assert_eq!(
        tsla.exempt,
        Some(v("75178.75")),
        "six decimals in the exempt column too"
    );
    assert_eq!(tsla.total, Volume::from_micros(33_183_356_013_124));
}

#[test]
fn forf_excerpt_of_2026_has_whole_volumes() {
    let Some(real) = realdata() else { return };
    let path = real.join("regsho-excerpts/daniel3303_Equibles/FORFshvol20260730.txt");
    let file = regsho::parse(
        "FORFshvol20260730.txt",
        d(2026, 7, 30),
        &std::fs::read(path).unwrap(),
    )
    .unwrap();
    assert_eq!(file.rows.len(), 2);
    assert_eq!(file.rows[0].total, Volume::from_shares(3_666_596));
}

#[test]
fn pre_2011_files_have_no_exempt_column() {
    // FINRA's layout before 2011-02-28 (no real file of that era is public: FINRA-NOTES.md).
    let text = "Date|Symbol|ShortVolume|TotalVolume|Market\r\n20100104|AAPL|1000|4000|Q\r\n20100104|BRK/B|10|40|Q\r\n2\r\n";
    let file = regsho::parse("FNSQshvol20100104.txt", d(2010, 1, 4), text.as_bytes()).unwrap();
    assert!(!file.has_exempt_column);
    assert!(file.rows.iter().all(|r| r.exempt.is_none()));
    assert!(file.quality.is_clean());
}
