//! Exact decimal amounts of a token, parsed from the text the user wrote (never through a float).

use std::fmt;

/// A decimal amount: `units / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Amount {
    pub units: i128,
    /// How many decimal places the text had.
    pub scale: u32,
}

/// The most decimal places an amount may be written with. HTS tokens have at most 18; more is
/// still parsed, so that the precision check can say so instead of the amount being dropped.
pub(crate) const MAX_SCALE: u32 = 30;

impl Amount {
    /// Parses `12`, `-3`, `12.50`, `1_000`, `1.5e3`, `2E-2`. Non-numbers are `None`.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let clean: String = text.trim().chars().filter(|c| *c != '_').collect();
        if let Some((mantissa, exponent)) = clean.split_once(['e', 'E']) {
            return Self::parse(mantissa)?.shifted(exponent.parse().ok()?);
        }
        let (negative, digits) = match clean.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, clean.strip_prefix('+').unwrap_or(&clean)),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && frac.is_empty()) || !all_digits(whole) || !all_digits(frac) {
            return None;
        }
        let scale = u32::try_from(frac.len()).ok().filter(|s| *s <= MAX_SCALE)?;
        let joined = format!("{whole}{frac}");
        let magnitude: i128 = if joined.is_empty() { 0 } else { joined.parse().ok()? };
        Some(Self {
            units: if negative { -magnitude } else { magnitude },
            scale,
        })
    }

    /// The amount times `10^exponent`, exactly.
    fn shifted(self, exponent: i32) -> Option<Self> {
        if exponent >= 0 {
            let factor = 10i128.checked_pow(exponent.unsigned_abs())?;
            let up = exponent.unsigned_abs().min(self.scale);
            let units = self.units.checked_mul(factor)? / 10i128.pow(up);
            Some(Self {
                units,
                scale: self.scale - up,
            })
        } else {
            let scale = self
                .scale
                .checked_add(exponent.unsigned_abs())
                .filter(|s| *s <= MAX_SCALE)?;
            Some(Self {
                units: self.units,
                scale,
            })
        }
    }

    /// The decimal places actually needed, ignoring trailing zeros (`1.50` needs 1).
    #[must_use]
    pub fn significant_scale(self) -> u32 {
        let mut scale = self.scale;
        let mut units = self.units;
        while scale > 0 && units % 10 == 0 {
            units /= 10;
            scale -= 1;
        }
        scale
    }

    #[must_use]
    pub fn is_negative(self) -> bool {
        self.units < 0
    }

    /// The amount in the smallest units of a token with `decimals` places, if it fits exactly.
    #[must_use]
    pub fn to_minor(self, decimals: u32) -> Option<i128> {
        if self.significant_scale() > decimals {
            return None;
        }
        if decimals >= self.scale {
            self.units.checked_mul(10i128.checked_pow(decimals - self.scale)?)
        } else {
            Some(self.units / 10i128.pow(self.scale - decimals))
        }
    }

    /// An amount from minor units of a token with `decimals` places.
    #[must_use]
    pub fn from_minor(units: i128, decimals: u32) -> Self {
        Self { units, scale: decimals }
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.units < 0 { "-" } else { "" };
        let magnitude = self.units.unsigned_abs();
        if self.scale == 0 {
            return write!(f, "{sign}{magnitude}");
        }
        let divisor = 10u128.pow(self.scale);
        let width = self.scale as usize;
        write!(f, "{sign}{}.{:0width$}", magnitude / divisor, magnitude % divisor)
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn parse_and_display() {
        let cases = [
            ("12", "12"),
            ("12.50", "12.50"),
            ("-3.1", "-3.1"),
            ("1_000", "1000"),
            ("1.5e3", "1500"),
            ("2E-2", "0.02"),
            (".5", "0.5"),
        ];
        for (input, shown) in cases {
            let amount = Amount::parse(input).map(|a| a.to_string());
            assert_eq!(amount.as_deref(), Some(shown), "input {input}");
        }
        for bad in ["", "1e", "e3", "abc", "1.2.3", "-", "."] {
            assert_eq!(Amount::parse(bad), None, "input {bad}");
        }
    }

    #[test]
    fn minor_units_respect_precision() {
        let a = Amount::parse("1.50").unwrap_or_default();
        assert_eq!(a.significant_scale(), 1);
        assert_eq!(a.to_minor(2), Some(150));
        assert_eq!(a.to_minor(1), Some(15));
        assert_eq!(a.to_minor(0), None);
        assert_eq!(Amount::from_minor(150, 2).to_string(), "1.50");
    }
}
