//! `parse-count FILE YYYYMMDD [N]`: parses a Reg SHO file N times (default 50). For instruction
//! counts under `valgrind --tool=callgrind`, which stay comparable on a busy machine.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: parse-count FILE YYYYMMDD [N]");
        std::process::exit(2);
    }
    let bytes = std::fs::read(&args[1]).unwrap_or_else(|e| panic!("{}: {e}", args[1]));
    let date = chrono::NaiveDate::parse_from_str(&args[2], "%Y%m%d").expect("YYYYMMDD");
    let n: usize = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(50);
    let mut rows = 0;
    for _ in 0..n {
        rows +=
            offexchange::parse::regsho::parse(&args[1], date, &bytes).map_or(0, |f| f.rows.len());
    }
    println!("{rows} rows parsed");
}
