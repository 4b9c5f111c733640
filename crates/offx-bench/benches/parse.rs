//! Parser throughput (MB/s): a full-size Reg SHO file, FINRA's real CNMS file of 2021-12-01,
//! and a full-size weekly ATS ZIP.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use offexchange::parse::{ats, regsho};
use offx_bench::{date, full_size_mirror};

fn parse_benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mirror = full_size_mirror(dir.path(), date(2024, 4, 1), date(2024, 4, 5));
    let mut group = c.benchmark_group("parse");

    let cnms =
        std::fs::read(mirror.join("regsho/daily/CNMSshvol20240401.txt")).expect("synthetic CNMS");
    let lines = cnms.iter().filter(|&&b| b == b'\n').count();
    group.throughput(Throughput::Bytes(cnms.len() as u64));
    group.bench_function(format!("regsho synthetic CNMS ({lines} lines)"), |b| {
        b.iter(|| regsho::parse("CNMSshvol20240401.txt", date(2024, 4, 1), &cnms).expect("parses"))
    });

    if let Some(real) = offx_testkit::realdata() {
        let bytes = std::fs::read(real.join("mirror/regsho/daily/CNMSshvol20211201.txt"))
            .expect("real file");
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function("regsho real CNMSshvol20211201.txt", |b| {
            b.iter(|| {
                regsho::parse("CNMSshvol20211201.txt", date(2021, 12, 1), &bytes).expect("parses")
            })
        });
    }

    let zip =
        std::fs::read(mirror.join("ATS/ATS_W_Summary_20240401.zip")).expect("synthetic ATS week");
    group.throughput(Throughput::Bytes(zip.len() as u64));
    group.bench_function("ats weekly zip (12,000 symbols, compressed bytes)", |b| {
        b.iter(|| {
            ats::parse_zip("ATS_W_Summary_20240401.zip", date(2024, 4, 1), &zip).expect("parses")
        })
    });

    // 200,000 rows cycling through 1,000 symbols: every row after the first thousand repeats a
    // symbol, interleaved. Removing duplicates one `Vec::remove` at a time was quadratic here
    // (~8 s); a hash pass and one `retain` are linear.
    let mut dup = String::from("Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market\r\n");
    for i in 0..200_000u32 {
        dup.push_str(&format!("20240401|S{}|1|0|2|Q\r\n", i % 1_000));
    }
    dup.push_str("200000\r\n");
    group.throughput(Throughput::Bytes(dup.len() as u64));
    group.sample_size(10);
    group.bench_function("regsho 200,000 interleaved duplicate rows", |b| {
        b.iter(|| regsho::parse("dup.txt", date(2024, 4, 1), dup.as_bytes()).expect("parses"))
    });
    group.finish();
}

criterion_group!(benches, parse_benches);
criterion_main!(benches);
