//! A share link's passcode: ten characters of Crockford's base32 (50 bits), shown as
//! `ABCDE-FGHJK`, so a patient can read it aloud over the phone. It has no letters that
//! look alike (I, L, O, U are not used), and reading it back forgives case, spaces,
//! hyphens and the look-alikes (O for 0, I and L for 1). Made from random bytes the
//! caller supplies (the domain draws none). A secret: `Debug` hides it.

use std::fmt;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const LEN: usize = 10;
/// How many random bytes make a passcode (50 of their bits are used).
pub const PASSCODE_BYTES: usize = 7;

pub struct Passcode(String);

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("a passcode is ten letters and digits, like ABCDE-FGHJK")]
pub struct InvalidPasscode;

impl Passcode {
    pub fn from_random(bytes: [u8; PASSCODE_BYTES]) -> Self {
        let mut bits = bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let mut chars = [0u8; LEN];
        for c in chars.iter_mut().rev() {
            *c = ALPHABET[(bits & 31) as usize];
            bits >>= 5;
        }
        Self(String::from_utf8(chars.to_vec()).expect("ASCII"))
    }

    /// As someone typed it.
    pub fn parse(raw: &str) -> Result<Self, InvalidPasscode> {
        let mut out = String::with_capacity(LEN);
        for c in raw.chars() {
            let c = match c.to_ascii_uppercase() {
                ' ' | '-' => continue,
                'O' => '0',
                'I' | 'L' => '1',
                c if c.is_ascii() && ALPHABET.contains(&(c as u8)) => c,
                _ => return Err(InvalidPasscode),
            };
            out.push(c);
            if out.len() > LEN {
                return Err(InvalidPasscode);
            }
        }
        if out.len() == LEN {
            Ok(Self(out))
        } else {
            Err(InvalidPasscode)
        }
    }

    /// The canonical form, which is what is hashed.
    pub fn canonical(&self) -> &str {
        &self.0
    }

    /// As it is shown once: `ABCDE-FGHJK`.
    pub fn shown(&self) -> String {
        format!("{}-{}", &self.0[..5], &self.0[5..])
    }
}

impl fmt::Debug for Passcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passcode(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifty_bits_read_aloud_and_read_back_however_typed() {
        let code = Passcode::from_random([0xff, 0, 0x12, 0x34, 0x56, 0x78, 0x9a]);
        let shown = code.shown();
        assert_eq!(shown.len(), 11);
        assert!(
            shown
                .chars()
                .all(|c| c == '-' || ALPHABET.contains(&(c as u8)))
        );
        let typed = shown.to_lowercase().replace('-', " ");
        assert_eq!(
            Passcode::parse(&typed).unwrap().canonical(),
            code.canonical()
        );
        assert_eq!(
            Passcode::parse("o1lI0-ABCDE").unwrap().canonical(),
            "01110ABCDE"
        );
        assert_eq!(format!("{code:?}"), "Passcode(***)");
    }

    #[test]
    fn different_bytes_make_different_codes() {
        let a = Passcode::from_random([0; 7]);
        let b = Passcode::from_random([0, 0, 0, 0, 0, 0, 1]);
        assert_ne!(a.canonical(), b.canonical());
        // The top six bits of the seven bytes are not used: 50 bits exactly.
        assert_eq!(
            Passcode::from_random([0xfc, 0, 0, 0, 0, 0, 0]).canonical(),
            a.canonical()
        );
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "ABCDE",
            "ABCDE-FGHJK-M",
            "ABCDE-FGHJ!",
            "ÄBCDE-FGHJK",
            "ABCDU-FGHJK",
        ] {
            assert_eq!(Passcode::parse(bad).err(), Some(InvalidPasscode), "{bad}");
        }
    }
}
