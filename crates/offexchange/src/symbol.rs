//! Symbols, kept byte for byte as FINRA spells them.
//!
//! Reg SHO symbols are case-sensitive identities: `CPK` (a utility) and `CpK` (its preferred) are
//! two securities in the same file, and class shares use `/` (`BRK/B`). Nothing here folds case
//! or rewrites separators, except the one documented mapping from the OTC Transparency (ATS)
//! spelling onto Reg SHO's in [`ats_to_regsho`].

use std::collections::HashSet;

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
