//! Share volumes as exact fixed-point numbers.
//!
//! FINRA's volumes are whole shares until 2026, then CNMS files carry up to six decimals
//! (`431668.624869`) in every volume column. A [`Volume`] stores millionths of a share in a `u64`,
//! so sums across facility files are exact and nothing is rounded before the one division that
//! makes a ratio. A value with more than six decimals is refused rather than truncated.

use std::fmt;
use std::ops::Add;

/// Millionths of a share per share.
const SCALE: u64 = 1_000_000;
const DECIMALS: usize = 6;

/// A non-negative share volume, exact to a millionth of a share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Volume(u64);

/// Why a volume field could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VolumeError {
    /// The field is empty or blank.
    #[error("empty")]
    Empty,
    /// A leading `-`: volumes are never negative.
    #[error("negative")]
    Negative,
    /// Not digits with an optional decimal point and exponent.
    #[error("not a number")]
    NotANumber,
    /// A nonzero digit past the sixth decimal: refused rather than truncated.
    #[error("more than {DECIMALS} decimals")]
    TooPrecise,
    /// More than a `u64` of millionths holds (about 18 trillion shares).
    #[error("too large")]
    Overflow,
}

impl Volume {
    /// No shares.
    pub const ZERO: Volume = Volume(0);

    /// Parses FINRA's decimal text: `123`, `123.5`, `431668.624869`; also Java's
    /// `1.0439495945685266E10` (the Query API's doubles) when the exponent leaves at most six
    /// decimals.
    ///
    /// ```
    /// use offexchange::volume::Volume;
    /// assert_eq!(Volume::parse(b"1.5").unwrap(), Volume::from_micros(1_500_000));
    /// assert!(Volume::parse(b"-1").is_err());
    /// ```
    pub fn parse(text: &[u8]) -> Result<Volume, VolumeError> {
        // Fast path for the common case, a whole number of shares: up to 12 digits cannot
        // overflow once scaled to millionths.
        if !text.is_empty() && text.len() <= 12 && text.iter().all(u8::is_ascii_digit) {
            let shares = text.iter().fold(0u64, |n, &b| n * 10 + u64::from(b - b'0'));
            return Ok(Volume(shares * SCALE));
        }
        let text = trim(text);
        if text.is_empty() {
            return Err(VolumeError::Empty);
        }
        if text[0] == b'-' {
            return Err(VolumeError::Negative);
        }
        let text = text.strip_prefix(b"+").unwrap_or(text);
        let (mantissa, exponent) = match text.iter().position(|&b| b == b'e' || b == b'E') {
            Some(i) => (&text[..i], parse_exponent(&text[i + 1..])?),
            None => (text, 0),
        };
        let (int_part, frac_part) = match mantissa.iter().position(|&b| b == b'.') {
            Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
            None => (mantissa, &mantissa[..0]),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(VolumeError::NotANumber);
        }
        // Shift the decimal point by the exponent, then read digits as millionths.
        let digits = int_part.iter().chain(frac_part.iter());
        // Saturating: the exponent is already bounded (see `parse_exponent`), and a field cannot
        // be long enough for these sums to come near `i64`'s range, but input never panics here.
        let point = i64::try_from(int_part.len())
            .map_err(|_| VolumeError::Overflow)?
            .saturating_add(exponent);
        let mut micros: u64 = 0;
        let mut position: i64 = 0;
        for &b in digits {
            if !b.is_ascii_digit() {
                return Err(VolumeError::NotANumber);
            }
            let digit = u64::from(b - b'0');
            let decimals_after = position.saturating_sub(point).saturating_add(1);
            position += 1;
            if decimals_after > DECIMALS as i64 {
                if digit != 0 {
                    return Err(VolumeError::TooPrecise);
                }
                continue;
            }
            micros = micros
                .checked_mul(10)
                .and_then(|m| m.checked_add(digit))
                .ok_or(VolumeError::Overflow)?;
        }
        // The kept digits end `decimals` places after the point (negative: short of it);
        // scale them up to millionths.
        if micros == 0 {
            // `0E999999`: zero at any scale (and no loop over a huge exponent).
            return Ok(Volume(0));
        }
        let decimals = position
            .min(point.saturating_add(DECIMALS as i64))
            .saturating_sub(point);
        // At most ~20 multiplications before `checked_mul` overflows, whatever the exponent.
        for _ in decimals..DECIMALS as i64 {
            micros = micros.checked_mul(10).ok_or(VolumeError::Overflow)?;
        }
        Ok(Volume(micros))
    }

    /// `micros` millionths of a share.
    pub const fn from_micros(micros: u64) -> Volume {
        Volume(micros)
    }

    /// A whole number of shares.
    pub const fn from_shares(shares: u64) -> Volume {
        Volume(shares * SCALE)
    }

    /// The volume in millionths of a share.
    pub const fn micros(self) -> u64 {
        self.0
    }

    /// Whole shares as a float, for display and thresholds (sums stay exact in `Volume`).
    pub fn shares(self) -> f64 {
        self.0 as f64 / SCALE as f64
    }

    /// `true` for no shares.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// The exact sum, or `None` on overflow (`+` saturates instead).
    pub fn checked_add(self, other: Volume) -> Option<Volume> {
        self.0.checked_add(other.0).map(Volume)
    }

    /// `self / total`, or `None` when `total` is zero. The only rounding is the final `f64` one.
    pub fn ratio_to(self, total: Volume) -> Option<f64> {
        if total.0 == 0 {
            return None;
        }
        Some(self.0 as f64 / total.0 as f64)
    }
}

impl Add for Volume {
    type Output = Volume;
    /// Saturates: a sum past 18 trillion shares is not a real volume, and the ratio checks catch it.
    fn add(self, other: Volume) -> Volume {
        Volume(self.0.saturating_add(other.0))
    }
}

impl fmt::Display for Volume {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, frac) = (self.0 / SCALE, self.0 % SCALE);
        if frac == 0 {
            write!(f, "{whole}")
        } else {
            let frac = format!("{frac:06}");
            write!(f, "{whole}.{}", frac.trim_end_matches('0'))
        }
    }
}

fn trim(text: &[u8]) -> &[u8] {
    let start = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(text.len());
    let end = text
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &text[start..end]
}

/// The exponent of `1.5E10` / `1E-3`, clamped to +-[`EXPONENT_BOUND`].
///
/// Clamping cannot change a result: with a bound far beyond any field's length, a nonzero digit
/// shifted that far is too large (`Overflow`) or below a millionth (`TooPrecise`) either way, and
/// zero stays zero. It keeps every later sum far from `i64`'s range, where `e.abs()` on
/// `i64::MIN` used to panic (debug) or wrap (release).
fn parse_exponent(text: &[u8]) -> Result<i64, VolumeError> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(VolumeError::NotANumber);
    }
    let magnitude = digits.iter().fold(0i64, |n, &b| {
        n.saturating_mul(10)
            .saturating_add(i64::from(b - b'0'))
            .min(EXPONENT_BOUND)
    });
    Ok(if negative { -magnitude } else { magnitude })
}

/// Largest exponent magnitude kept (see [`parse_exponent`]).
const EXPONENT_BOUND: i64 = 1 << 40;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(s: &str) -> Result<Volume, VolumeError> {
        Volume::parse(s.as_bytes())
    }

    #[test]
    fn whole_and_decimal_volumes() {
        assert_eq!(v("0"), Ok(Volume(0)));
        assert_eq!(v("8172"), Ok(Volume::from_shares(8172)));
        assert_eq!(v("431668.624869"), Ok(Volume(431_668_624_869)));
        assert_eq!(v("75178.750000"), Ok(Volume(75_178_750_000)));
        assert_eq!(v(".5"), Ok(Volume(500_000)));
        assert_eq!(v("12."), Ok(Volume(12_000_000)));
        assert_eq!(v(" 7 "), Ok(Volume(7_000_000)));
    }

    #[test]
    fn java_doubles_from_the_query_api() {
        assert_eq!(
            v("1.0439495945685266E10"),
            Ok(Volume(10_439_495_945_685_266))
        );
        assert_eq!(v("1.04394959456852661E10"), Err(VolumeError::TooPrecise));
        assert_eq!(
            v("1.0439495945E10"),
            Ok(Volume::from_shares(10_439_495_945))
        );
        assert_eq!(v("2.5E-1"), Ok(Volume(250_000)));
        assert_eq!(v("1.0E7"), Ok(Volume::from_shares(10_000_000)));
    }

    #[test]
    fn refusals() {
        assert_eq!(v(""), Err(VolumeError::Empty));
        assert_eq!(v("-3"), Err(VolumeError::Negative));
        assert_eq!(v("1.0000001"), Err(VolumeError::TooPrecise));
        assert_eq!(v("1.5000000"), Ok(Volume(1_500_000)));
        assert_eq!(v("12a"), Err(VolumeError::NotANumber));
        assert_eq!(v("."), Err(VolumeError::NotANumber));
        assert_eq!(v("1.2.3"), Err(VolumeError::NotANumber));
        assert_eq!(v("99999999999999999999"), Err(VolumeError::Overflow));
    }

    #[test]
    fn extreme_exponents_are_refused_for_the_honest_reason() {
        // Used to panic in debug builds (`i64::MIN.abs()`) and read as 0.000001 in release.
        assert_eq!(v("1E-9223372036854775808"), Err(VolumeError::TooPrecise));
        assert_eq!(v("1E-9223372036854775807"), Err(VolumeError::TooPrecise));
        assert_eq!(v("1E9223372036854775807"), Err(VolumeError::Overflow));
        assert_eq!(v("1E99999999999999999999999"), Err(VolumeError::Overflow));
        // Below a millionth of a share: too precise, not "too large".
        assert_eq!(v("1E-31"), Err(VolumeError::TooPrecise));
        assert_eq!(v("1E-7"), Err(VolumeError::TooPrecise));
        assert_eq!(v("1E-6"), Ok(Volume(1)));
        assert_eq!(v("1E31"), Err(VolumeError::Overflow));
        assert_eq!(v("0E-9223372036854775808"), Ok(Volume(0)));
        assert_eq!(v("0E9223372036854775807"), Ok(Volume(0)));
        assert_eq!(v("10E-7"), Ok(Volume(1)));
        assert_eq!(v("1E+3"), Ok(Volume::from_shares(1000)));
        assert_eq!(v("1E"), Err(VolumeError::NotANumber));
        assert_eq!(v("1E-"), Err(VolumeError::NotANumber));
        assert_eq!(v("1E--3"), Err(VolumeError::NotANumber));
    }

    #[test]
    fn display_round_trips() {
        for s in ["0", "8172", "431668.624869", "0.5", "20861512.334783"] {
            assert_eq!(v(s).map(|x| x.to_string()), Ok(s.to_string()));
        }
    }

    #[test]
    fn ratio_has_a_single_rounding() {
        let short = v("20861512.334783").unwrap();
        let total = v("33183356.013124").unwrap();
        let expected = 20_861_512_334_783_f64 / 33_183_356_013_124_f64;
        assert_eq!(short.ratio_to(total), Some(expected));
        assert_eq!(short.ratio_to(Volume::ZERO), None);
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = Volume::parse(&bytes);
        }

        #[test]
        fn any_exponent_never_panics_and_matches_the_scaled_value(
            mantissa in 0u64..1_000_000,
            exponent in prop_oneof![-40i64..40, proptest::num::i64::ANY],
        ) {
            let parsed = Volume::parse(format!("{mantissa}E{exponent}").as_bytes());
            // The exact value is mantissa * 10^exponent shares = mantissa * 10^(exponent+6) micros.
            let expected = if mantissa == 0 {
                Ok(Volume(0))
            } else {
                let trailing_zeros = {
                    let (mut m, mut z) = (mantissa, 0i64);
                    while m % 10 == 0 { m /= 10; z += 1; }
                    z
                };
                let shift = exponent.saturating_add(6);
                if shift.saturating_add(trailing_zeros) < 0 {
                    Err(VolumeError::TooPrecise)
                } else if shift < 0 {
                    Ok(Volume(mantissa / 10u64.pow(shift.unsigned_abs() as u32)))
                } else {
                    u32::try_from(shift)
                        .ok()
                        .and_then(|s| 10u64.checked_pow(s))
                        .and_then(|p| mantissa.checked_mul(p))
                        .map(Volume)
                        .ok_or(VolumeError::Overflow)
                }
            };
            prop_assert_eq!(parsed, expected);
        }

        #[test]
        fn integers_and_micros_parse_exactly(whole in 0u64..10_000_000_000, frac in 0u64..1_000_000) {
            let text = format!("{whole}.{frac:06}");
            prop_assert_eq!(Volume::parse(text.as_bytes()), Ok(Volume(whole * SCALE + frac)));
        }
    }
}
