//! A synthetic symbol universe with FINRA's real spellings: plain tickers, class shares with `/`
//! (`BRK/B`), warrants and units (`/WS`, `/U`), lowercase-marked preferreds that differ from a
//! common stock only by case (`CPK` / `CpK`), and OTC (non-NMS) symbols that trade only on FORF.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[derive(Debug, Clone)]
pub struct Symbol {
    /// Reg SHO spelling (`BRK/B`).
    pub regsho: String,
    /// OTC Transparency spelling (`BRK.B`).
    pub ats: String,
    /// `true` for OTC equities (FORF only, tier OTCE).
    pub otc: bool,
    /// 1 = Tier 1 NMS, 2 = Tier 2 NMS.
    pub tier: u8,
}

impl Symbol {
    pub fn nms(regsho: &str, tier: u8) -> Symbol {
        Symbol {
            regsho: regsho.to_string(),
            ats: regsho.replace('/', "."),
            otc: false,
            tier,
        }
    }
}

const FIXED: &[&str] = &[
    "AAPL", "MSFT", "SPY", "BRK/A", "BRK/B", "BF/A", "BF/B", "CPK", "CpK", "BCPC", "BCpC",
    "ACEL/WS", "ACIC/U", "ALLpA/CL", "QQQ", "TSLA", "NVDA", "AMZN",
];

/// `n` symbols, deterministic for a seed: the fixed real-world spellings first, then generated
/// tickers (about one in twelve a class share, warrant or unit; one in five OTC).
pub fn universe(n: usize, seed: u64) -> Vec<Symbol> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out: Vec<Symbol> = FIXED.iter().take(n).map(|s| Symbol::nms(s, 1)).collect();
    let mut seen: std::collections::HashSet<String> =
        out.iter().map(|s| s.regsho.clone()).collect();
    while out.len() < n {
        let otc = rng.gen_ratio(1, 5);
        let len = if otc { 5 } else { rng.gen_range(1..=4) };
        let mut ticker: String = (0..len)
            .map(|_| char::from(rng.gen_range(b'A'..=b'Z')))
            .collect();
        if otc {
            ticker.replace_range(4.., "F");
        } else if rng.gen_ratio(1, 12) {
            let suffix = ["/A", "/B", "/WS", "/U", "pA"][rng.gen_range(0..5)];
            ticker.push_str(suffix);
        }
        if !seen.insert(ticker.clone()) {
            continue;
        }
        let mut symbol = Symbol::nms(&ticker, if rng.gen_ratio(1, 2) { 1 } else { 2 });
        symbol.otc = otc;
        out.push(symbol);
    }
    out
}
