//! Symbols, kept byte for byte as FINRA spells them.
//!
//! Reg SHO symbols are case-sensitive identities: `CPK` (a utility) and `CpK` (its preferred) are
//! two securities in the same file, and class shares use `/` (`BRK/B`). Nothing here folds case
//! or rewrites separators, except the two documented mappings onto Reg SHO's spelling: from the
//! OTC Transparency (ATS) spelling in [`ats_to_regsho`], from the short interest spelling in
//! [`short_interest_to_regsho`].

use std::collections::{HashMap, HashSet};

/// Maps an OTC Transparency (ATS) symbol onto the day's Reg SHO spelling.
///
/// FINRA's ATS data writes class shares with a dot (`BRK.B`) where Reg SHO writes a slash
/// (`BRK/B`). The rule: an exact match among the Reg SHO symbols wins; otherwise every `.` becomes
/// `/` (Reg SHO's separator), whether or not that spelling traded that day. Case is never touched,
/// so `CPK` and `CpK` can never be merged.
///
/// ```
/// use std::collections::HashSet;
/// use offexchange::ats_to_regsho;
/// let regsho: HashSet<&str> = ["BRK/B", "CPK", "CpK"].into_iter().collect();
/// assert_eq!(ats_to_regsho("BRK.B", &regsho), "BRK/B");
/// assert_eq!(ats_to_regsho("CpK", &regsho), "CpK");
/// ```
pub fn ats_to_regsho<S: std::hash::BuildHasher>(ats: &str, regsho: &HashSet<&str, S>) -> String {
    if regsho.contains(ats) || !ats.contains('.') {
        ats.to_string()
    } else {
        ats.replace('.', "/")
    }
}

/// The separators class shares are written with: Reg SHO `/`, ATS `.`, others `-` or a space.
const SEPARATORS: [char; 4] = ['/', '.', '-', ' '];

/// A symbol with every separator removed (`BRK/B` and `BRK.B` are `BRKB`). Case is kept.
fn without_separators(symbol: &str) -> String {
    symbol.chars().filter(|c| !SEPARATORS.contains(c)).collect()
}

/// Reg SHO symbols by their spelling without separators, to map short interest symbols.
#[derive(Debug, Default)]
pub struct SeparatorIndex<'a> {
    by_bare: HashMap<String, Vec<&'a str>>,
}

impl<'a> SeparatorIndex<'a> {
    /// The index of a day's Reg SHO symbols.
    pub fn new(regsho: impl IntoIterator<Item = &'a str>) -> Self {
        let mut by_bare: HashMap<String, Vec<&'a str>> = HashMap::new();
        for symbol in regsho {
            by_bare
                .entry(without_separators(symbol))
                .or_default()
                .push(symbol);
        }
        for candidates in by_bare.values_mut() {
            candidates.sort_unstable();
            candidates.dedup();
        }
        SeparatorIndex { by_bare }
    }
}

/// Where a short interest symbol lands among Reg SHO's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiSymbol {
    /// Kept as FINRA wrote it: Reg SHO spells it the same, or has nothing like it (an OTC
    /// security that did not trade that day).
    Same,
    /// Reg SHO writes it differently (`BRKB` is `BRK/B`).
    Mapped(String),
    /// More than one Reg SHO symbol reads the same without separators: not guessed.
    Ambiguous(Vec<String>),
}

/// Maps a consolidated short interest symbol onto the day's Reg SHO spelling.
///
/// FINRA's short interest data writes class shares without a separator (`BRKB`), where Reg SHO
/// writes `BRK/B`. The rule: the Reg SHO symbols that read the same once separators are removed
/// (case kept, so `CPK` never becomes `CpK`); one such symbol is the mapping, none keeps FINRA's
/// spelling, two or more (`BRKB` and `BRK/B` both traded) is ambiguous and the caller drops it.
///
/// ```
/// use offexchange::symbol::{short_interest_to_regsho, SeparatorIndex, SiSymbol};
/// let index = SeparatorIndex::new(["BRK/B", "AAPL", "AB/C", "A/BC"]);
/// assert_eq!(short_interest_to_regsho("BRKB", &index), SiSymbol::Mapped("BRK/B".into()));
/// assert_eq!(short_interest_to_regsho("AAPL", &index), SiSymbol::Same);
/// assert_eq!(short_interest_to_regsho("ZZZZ", &index), SiSymbol::Same);
/// assert!(matches!(short_interest_to_regsho("ABC", &index), SiSymbol::Ambiguous(_)));
/// ```
pub fn short_interest_to_regsho(symbol: &str, index: &SeparatorIndex<'_>) -> SiSymbol {
    match index
        .by_bare
        .get(&without_separators(symbol))
        .map(Vec::as_slice)
    {
        None | Some([]) => SiSymbol::Same,
        Some([one]) if *one == symbol => SiSymbol::Same,
        Some([one]) => SiSymbol::Mapped((*one).to_string()),
        Some(many) => SiSymbol::Ambiguous(many.iter().map(|s| s.to_string()).collect()),
    }
}

/// Case-insensitive near-misses for a symbol that has no exact match (to tell a user who typed
/// `aapl` that `AAPL` exists). Never used to match.
pub fn case_insensitive_matches<'a>(
    wanted: &str,
    known: impl IntoIterator<Item = &'a str>,
) -> Vec<&'a str> {
    let mut hits: Vec<&str> = known
        .into_iter()
        .filter(|k| *k != wanted && k.eq_ignore_ascii_case(wanted))
        .collect();
    hits.sort_unstable();
    hits.dedup();
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_becomes_slash_unless_exact() {
        let regsho: HashSet<&str> = ["BRK/B", "BF.A"].into_iter().collect();
        assert_eq!(ats_to_regsho("BRK.B", &regsho), "BRK/B");
        assert_eq!(ats_to_regsho("BF.A", &regsho), "BF.A");
        assert_eq!(ats_to_regsho("ACEL.WS", &regsho), "ACEL/WS");
        assert_eq!(ats_to_regsho("AAPL", &regsho), "AAPL");
    }

    #[test]
    fn case_is_identity() {
        let known = ["CPK", "CpK", "AAPL"];
        assert_eq!(case_insensitive_matches("cpk", known), vec!["CPK", "CpK"]);
        assert!(case_insensitive_matches("CPK", ["CPK"]).is_empty());
    }
}
