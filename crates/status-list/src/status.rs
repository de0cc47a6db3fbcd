//! Status values (draft §7) and the number of bits a list spends on each (draft §4.1).

use crate::error::ListError;
use std::fmt;

/// Bits per entry: one of the four sizes the draft allows, so one entry never straddles a
/// byte boundary.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "u8", into = "u8")]
pub enum Bits {
    /// 1 bit per entry: VALID / INVALID.
    One,
    /// 2 bits per entry: adds SUSPENDED and one application-specific value.
    Two,
    /// 4 bits per entry: 16 values.
    Four,
    /// 8 bits per entry: 256 values.
    Eight,
}

impl Bits {
    /// All allowed sizes, smallest first.
    pub const ALL: [Bits; 4] = [Bits::One, Bits::Two, Bits::Four, Bits::Eight];

    /// The number of bits (1, 2, 4 or 8).
    pub const fn get(self) -> u8 {
        match self {
            Bits::One => 1,
            Bits::Two => 2,
            Bits::Four => 4,
            Bits::Eight => 8,
        }
    }

    /// How many entries share one byte (8, 4, 2 or 1).
    pub const fn per_byte(self) -> usize {
        match self {
            Bits::One => 8,
            Bits::Two => 4,
            Bits::Four => 2,
            Bits::Eight => 1,
        }
    }

    /// The largest status value an entry can hold (1, 3, 15 or 255).
    pub const fn max_value(self) -> u8 {
        match self {
            Bits::One => 0x01,
            Bits::Two => 0x03,
            Bits::Four => 0x0F,
            Bits::Eight => 0xFF,
        }
    }

    /// The smallest size that can hold `value`.
    pub const fn fitting(value: u8) -> Bits {
        match value {
            0..=1 => Bits::One,
            2..=3 => Bits::Two,
            4..=15 => Bits::Four,
            _ => Bits::Eight,
        }
    }
}

impl TryFrom<u8> for Bits {
    type Error = ListError;

    fn try_from(bits: u8) -> Result<Self, ListError> {
        match bits {
            1 => Ok(Bits::One),
            2 => Ok(Bits::Two),
            4 => Ok(Bits::Four),
            8 => Ok(Bits::Eight),
            other => Err(ListError::UnsupportedBits(other)),
        }
    }
}

impl From<Bits> for u8 {
    fn from(bits: Bits) -> u8 {
        bits.get()
    }
}

impl fmt::Display for Bits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.get())
    }
}

/// The status of a referenced token (draft §7.1 and the "OAuth Status Types" registry).
///
/// Build one from a raw value with [`Status::from`], which is canonical: `0`, `1` and `2`
/// always become [`Status::Valid`], [`Status::Invalid`] and [`Status::Suspended`], so
/// [`Status::Other`] only ever holds values from 3 up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// `0x00` VALID: the token is valid, correct or legal.
    Valid,
    /// `0x01` INVALID: the token is revoked, annulled, taken back, recalled or cancelled.
    Invalid,
    /// `0x02` SUSPENDED: the token is temporarily invalid.
    Suspended,
    /// Any other value, kept as received: `0x03` and `0x0C`–`0x0F` are application
    /// specific, the rest are reserved for future registration.
    Other(u8),
}

impl Status {
    /// The raw value as stored in the list.
    pub const fn value(self) -> u8 {
        match self {
            Status::Valid => 0x00,
            Status::Invalid => 0x01,
            Status::Suspended => 0x02,
            Status::Other(v) => v,
        }
    }

    /// `true` only for VALID. Everything else, including values this crate does not know,
    /// must not be read as "valid".
    pub const fn is_valid(self) -> bool {
        self.value() == 0x00
    }

    /// `true` for the values the draft reserves for applications: `0x03`, `0x0C`–`0x0F`.
    pub const fn is_application_specific(self) -> bool {
        matches!(self.value(), 0x03 | 0x0C..=0x0F)
    }
}

impl From<u8> for Status {
    fn from(value: u8) -> Self {
        match value {
            0x00 => Status::Valid,
            0x01 => Status::Invalid,
            0x02 => Status::Suspended,
            v => Status::Other(v),
        }
    }
}

impl From<Status> for u8 {
    fn from(status: Status) -> u8 {
        status.value()
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Valid => f.write_str("VALID"),
            Status::Invalid => f.write_str("INVALID"),
            Status::Suspended => f.write_str("SUSPENDED"),
            Status::Other(v) => write!(f, "0x{v:02X}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draft20_s7_1_status_values() {
        assert_eq!(Status::from(0), Status::Valid);
        assert_eq!(Status::from(1), Status::Invalid);
        assert_eq!(Status::from(2), Status::Suspended);
        assert_eq!(Status::from(3), Status::Other(3));
        for v in 0..=u8::MAX {
            assert_eq!(u8::from(Status::from(v)), v);
        }
        let app: Vec<u8> = (0..=u8::MAX)
            .filter(|v| Status::from(*v).is_application_specific())
            .collect();
        assert_eq!(app, [0x03, 0x0C, 0x0D, 0x0E, 0x0F]);
        assert!(Status::Valid.is_valid());
        assert!(!Status::Other(0x0C).is_valid());
        assert_eq!(Status::Other(0x0C).to_string(), "0x0C");
    }

    #[test]
    fn bits_sizes() {
        for bits in Bits::ALL {
            assert_eq!(usize::from(bits.get()) * bits.per_byte(), 8);
            assert_eq!(u16::from(bits.max_value()) + 1, 1u16 << bits.get());
            assert_eq!(Bits::try_from(bits.get()).unwrap(), bits);
        }
        assert_eq!(Bits::fitting(0), Bits::One);
        assert_eq!(Bits::fitting(2), Bits::Two);
        assert_eq!(Bits::fitting(0x0F), Bits::Four);
        assert_eq!(Bits::fitting(0x10), Bits::Eight);
    }

    #[test]
    fn rejects_unsupported_bits() {
        for b in [0u8, 3, 5, 6, 7, 9, 16, 255] {
            assert!(
                matches!(Bits::try_from(b), Err(ListError::UnsupportedBits(x)) if x == b),
                "{b}"
            );
        }
        let e = serde_json::from_str::<Bits>("3").unwrap_err();
        assert!(e.to_string().contains("`bits` must be 1, 2, 4 or 8"), "{e}");
    }
}
