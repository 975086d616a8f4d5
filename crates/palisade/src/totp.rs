//! Authenticator-app codes: TOTP (RFC 6238) over the RustCrypto HMAC.
//!
//! A code is accepted for the current 30-second step and one step either side (clock drift),
//! and only for a step later than the last one accepted: [`Totp::verify`] returns the step a
//! code matched, and the caller must record it *atomically* (a conditional update that
//! succeeds only when the stored step is older), so that a code seen over a shoulder or
//! replayed by two requests at once is accepted once.

use std::fmt;

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, KeyInit, Mac};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::secret::SecretString;

/// Bytes of a new secret: 160 bits, the HMAC-SHA-1 block RFC 4226 recommends, and what
/// every authenticator app accepts.
const SECRET_LEN: usize = 20;

/// Steps accepted either side of the current one.
const WINDOW: u64 = 1;

/// A TOTP shared secret. Never printed: `Debug` shows nothing of it, and the bytes are
/// zeroed when it is dropped.
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl TotpSecret {
    /// 160 random bits from the operating system.
    pub fn generate() -> Result<Self, TotpError> {
        let mut bytes = Zeroizing::new(vec![0u8; SECRET_LEN]);
        getrandom::fill(&mut bytes).map_err(|_| TotpError::Randomness)?;
        Ok(Self(bytes))
    }

    /// From raw bytes (as stored, after unsealing); at least 128 bits (RFC 4226 §4).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TotpError> {
        if bytes.len() < 16 {
            return Err(TotpError::SecretTooShort);
        }
        Ok(Self(Zeroizing::new(bytes.to_vec())))
    }

    /// Calls `f` with the raw bytes (to seal them for storage).
    pub fn expose<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(&self.0)
    }

    /// From base32 as an app shows it (case, spaces and `=` padding ignored), e.g. a
    /// secret moved from another system; at least 128 bits.
    pub fn from_base32(typed: &str) -> Result<Self, TotpError> {
        let cleaned = Zeroizing::new(
            typed
                .chars()
                .filter(|c| !c.is_whitespace() && *c != '=')
                .map(|c| c.to_ascii_uppercase())
                .collect::<String>(),
        );
        let bytes = Zeroizing::new(
            BASE32_NOPAD
                .decode(cleaned.as_bytes())
                .map_err(|_| TotpError::NotBase32)?,
        );
        Self::from_bytes(&bytes)
    }

    /// The secret in base32 without padding, as people type it into an app.
    pub fn to_base32(&self) -> SecretString {
        SecretString::new(BASE32_NOPAD.encode(&self.0))
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret([redacted])")
    }
}

/// The HMAC behind the codes. Apps ignore anything but SHA-1 (Google Authenticator among
/// them), so that is the default; the others are for RFC 6238's vectors and devices that
/// support them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// HMAC-SHA-1 (the default).
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

impl Algorithm {
    fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }
}

/// Why a code was not accepted, or a secret not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    /// Not the configured number of ASCII digits.
    #[error("the code must be {0} digits")]
    Malformed(u32),
    /// Well formed, but not the code of any step in the window.
    #[error("the code is not valid")]
    Invalid,
    /// The code of a step already used (or older): a replay.
    #[error("the code was already used")]
    Replayed,
    /// A typed secret that is not base32.
    #[error("the secret is not base32")]
    NotBase32,
    /// A stored secret shorter than 128 bits.
    #[error("a TOTP secret must be at least 128 bits")]
    SecretTooShort,
    /// No random bytes to make a secret from.
    #[error("the operating system's random source failed")]
    Randomness,
    /// The URI does not fit in a QR code (an issuer or account name of kilobytes).
    #[error("the otpauth URI is too long for a QR code")]
    TooLongForQr,
}

/// The parameters of a code generator: algorithm, digits, step length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totp {
    algorithm: Algorithm,
    digits: u32,
    period: u64,
}

impl Default for Totp {
    /// SHA-1, 6 digits, 30 seconds: what every authenticator app does.
    fn default() -> Self {
        Self {
            algorithm: Algorithm::Sha1,
            digits: 6,
            period: 30,
        }
    }
}

impl Totp {
    /// Other parameters: 6 to 8 digits, a period of 15 to 120 seconds.
    pub fn new(algorithm: Algorithm, digits: u32, period: u64) -> Option<Self> {
        ((6..=8).contains(&digits) && (15..=120).contains(&period)).then_some(Self {
            algorithm,
            digits,
            period,
        })
    }

    /// The time step of a Unix time.
    pub fn step_at(&self, unix_secs: u64) -> u64 {
        unix_secs / self.period
    }

    /// The code of `step` (RFC 4226 §5.3 dynamic truncation). Held as a secret: it opens
    /// the account for a minute.
    pub fn code(&self, secret: &TotpSecret, step: u64) -> SecretString {
        let counter = step.to_be_bytes();
        let digest: Zeroizing<Vec<u8>> = Zeroizing::new(match self.algorithm {
            Algorithm::Sha1 => hmac_of!(sha1::Sha1, &secret.0, &counter),
            Algorithm::Sha256 => hmac_of!(sha2::Sha256, &secret.0, &counter),
            Algorithm::Sha512 => hmac_of!(sha2::Sha512, &secret.0, &counter),
        });
        let offset = usize::from(digest[digest.len() - 1] & 0x0f);
        let binary = u32::from_be_bytes([
            digest[offset] & 0x7f,
            digest[offset + 1],
            digest[offset + 2],
            digest[offset + 3],
        ]);
        let value = binary % 10u32.pow(self.digits);
        SecretString::new(format!("{value:0width$}", width = self.digits as usize))
    }

    /// Checks `code` at `unix_secs` against the steps in the window that are later than
    /// `last_step` (the last one accepted for this secret, if any). Returns the step it
    /// matched, which the caller must record atomically before treating the code as valid.
    /// Every step in the window is compared in constant time, matched or not.
    pub fn verify(
        &self,
        secret: &TotpSecret,
        code: &str,
        unix_secs: u64,
        last_step: Option<u64>,
    ) -> Result<u64, TotpError> {
        let code = code.trim();
        if code.len() != self.digits as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TotpError::Malformed(self.digits));
        }
        let now = self.step_at(unix_secs);
        let mut matched = None;
        for step in now.saturating_sub(WINDOW)..=now + WINDOW {
            let equal = self
                .code(secret, step)
                .expose(|expected| bool::from(expected.as_bytes().ct_eq(code.as_bytes())));
            if equal && matched.is_none() {
                matched = Some(step);
            }
        }
        match matched {
            None => Err(TotpError::Invalid),
            Some(step) if last_step.is_some_and(|last| step <= last) => Err(TotpError::Replayed),
            Some(step) => Ok(step),
        }
    }

    /// The `otpauth://` URI an app reads from a QR code (Key Uri Format). It holds the
    /// secret, so it is one. `issuer` and `account` are percent-encoded.
    pub fn uri(&self, secret: &TotpSecret, issuer: &str, account: &str) -> SecretString {
        let enc = |s: &str| -> String {
            s.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                        char::from(b).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect()
        };
        let secret = secret.to_base32();
        secret.expose(|secret| {
            SecretString::new(format!(
                "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm={}&digits={}&period={}",
                self.algorithm.name(),
                self.digits,
                self.period,
                issuer = enc(issuer),
                account = enc(account),
            ))
        })
    }
}

impl Totp {
    /// The [`uri`](Self::uri) as a QR code for an app's camera: inline SVG markup (no
    /// script, no style attribute, so the strictest CSP lets it show). It holds the secret.
    pub fn qr_svg(
        &self,
        secret: &TotpSecret,
        issuer: &str,
        account: &str,
    ) -> Result<SecretString, TotpError> {
        use qrcode::render::svg;
        self.uri(secret, issuer, account).expose(|uri| {
            let code = qrcode::QrCode::with_error_correction_level(uri, qrcode::EcLevel::M)
                .map_err(|_| TotpError::TooLongForQr)?;
            let document = Zeroizing::new(
                code.render::<svg::Color<'_>>()
                    .min_dimensions(200, 200)
                    .build(),
            );
            // Inline in a page: the XML declaration has no place there.
            let start = document.find("<svg").unwrap_or(0);
            Ok(SecretString::new(document[start..].to_owned()))
        })
    }
}

/// HMAC-`$hash`(key, message), as bytes.
macro_rules! hmac_of {
    ($hash:ty, $key:expr, $message:expr) => {{
        let mut mac =
            <Hmac<$hash> as KeyInit>::new_from_slice($key).expect("HMAC accepts any key length");
        mac.update($message);
        mac.finalize().into_bytes().to_vec()
    }};
}
use hmac_of;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_appendix_b_vectors() {
        let Some(dir) = crate::test_helpers::testdata_dir("rfc6238_appendix_b_vectors") else {
            return;
        };
        let text = std::fs::read_to_string(dir.join("totp/rfc6238.json")).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let vectors = doc["vectors"].as_array().unwrap();
        assert_eq!(vectors.len(), 18);
        for v in vectors {
            let algorithm = match v["algorithm"].as_str().unwrap() {
                "SHA1" => Algorithm::Sha1,
                "SHA256" => Algorithm::Sha256,
                "SHA512" => Algorithm::Sha512,
                other => panic!("unknown algorithm {other}"),
            };
            let totp = Totp::new(
                algorithm,
                v["digits"].as_u64().unwrap() as u32,
                v["period"].as_u64().unwrap(),
            )
            .unwrap();
            let secret =
                TotpSecret::from_bytes(v["secret_ascii"].as_str().unwrap().as_bytes()).unwrap();
            let time = v["time"].as_u64().unwrap();
            let expected = v["totp"].as_str().unwrap();
            let step = totp.step_at(time);
            assert_eq!(step, v["step"].as_u64().unwrap(), "step at {time}");
            totp.code(&secret, step)
                .expose(|code| assert_eq!(code, expected, "{algorithm:?} at {time}"));
            assert_eq!(totp.verify(&secret, expected, time, None), Ok(step));
        }
    }

    fn secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890").unwrap()
    }

    fn code_at(step: u64) -> String {
        Totp::default().code(&secret(), step).expose(str::to_owned)
    }

    #[test]
    fn one_step_either_side_is_accepted_and_no_further() {
        let totp = Totp::default();
        let now = 1_700_000_000;
        let step = totp.step_at(now);
        for (offset, accepted) in [(-2i64, false), (-1, true), (0, true), (1, true), (2, false)] {
            let s = step.checked_add_signed(offset).unwrap();
            let got = totp.verify(&secret(), &code_at(s), now, None);
            if accepted {
                assert_eq!(got, Ok(s), "offset {offset}");
            } else {
                assert_eq!(got, Err(TotpError::Invalid), "offset {offset}");
            }
        }
    }

    #[test]
    fn a_code_of_the_last_accepted_step_or_older_is_a_replay() {
        let totp = Totp::default();
        let now = 1_700_000_000;
        let step = totp.step_at(now);
        let code = code_at(step);
        assert_eq!(totp.verify(&secret(), &code, now, None), Ok(step));
        assert_eq!(
            totp.verify(&secret(), &code, now, Some(step)),
            Err(TotpError::Replayed)
        );
        assert_eq!(
            totp.verify(&secret(), &code_at(step - 1), now, Some(step)),
            Err(TotpError::Replayed)
        );
        // The next step's code is still good after this one.
        assert_eq!(
            totp.verify(&secret(), &code_at(step + 1), now, Some(step)),
            Ok(step + 1)
        );
    }

    #[test]
    fn malformed_codes_are_refused_before_any_comparison() {
        let totp = Totp::default();
        for bad in ["", "12345", "1234567", "12345a", "１２３４５６", "-12345"] {
            assert_eq!(
                totp.verify(&secret(), bad, 0, None),
                Err(TotpError::Malformed(6)),
                "{bad:?}"
            );
        }
        // Spaces around a pasted code are forgiven.
        let code = code_at(totp.step_at(90));
        assert!(
            totp.verify(&secret(), &format!(" {code}\n"), 90, None)
                .is_ok()
        );
    }

    #[test]
    fn secrets_are_random_long_enough_and_never_printed() {
        let (a, b) = (
            TotpSecret::generate().unwrap(),
            TotpSecret::generate().unwrap(),
        );
        assert_eq!(a.expose(<[u8]>::len), SECRET_LEN);
        assert_ne!(a.expose(<[u8]>::to_vec), b.expose(<[u8]>::to_vec));
        assert_eq!(
            TotpSecret::from_bytes(&[7; 15]).unwrap_err(),
            TotpError::SecretTooShort
        );
        let base32 = a.to_base32().expose(str::to_owned);
        let printed = format!(
            "{a:?} {:?} {:?} {:?}",
            a.to_base32(),
            Totp::default().uri(&a, "x", "y"),
            Totp::default().qr_svg(&a, "x", "y").unwrap()
        );
        assert!(!printed.contains(&base32), "{printed}");
        let code = Totp::default().code(&a, 1);
        let code_text = code.expose(str::to_owned);
        assert!(!format!("{code:?}").contains(&code_text));
    }

    #[test]
    fn the_qr_code_reads_back_as_the_uri_and_is_plain_markup() {
        let totp = Totp::default();
        let secret = TotpSecret::generate().unwrap();
        let uri = totp.uri(&secret, "palisade", "ann").expose(str::to_owned);
        let svg = totp
            .qr_svg(&secret, "palisade", "ann")
            .unwrap()
            .expose(str::to_owned);
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        for banned in ["<script", "style", "href", " on", "<?xml"] {
            assert!(!svg.contains(banned), "{banned} in the SVG");
        }
        // Read the dark modules back from the path ("M{x} {y}h…" each) and decode them.
        let modules: Vec<(usize, usize)> = svg
            .split('M')
            .skip(1)
            .map(|m| {
                let (x, rest) = m.split_once(' ').unwrap();
                let y = rest.split('h').next().unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect();
        let size = svg.split("d=\"M").nth(1).unwrap();
        let side: usize = size
            .split('h')
            .nth(1)
            .unwrap()
            .split('v')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let (min_x, min_y) = (
            modules.iter().map(|m| m.0).min().unwrap(),
            modules.iter().map(|m| m.1).min().unwrap(),
        );
        let width = (modules.iter().map(|m| m.0).max().unwrap() - min_x) / side + 1;
        let dark: std::collections::HashSet<(usize, usize)> = modules
            .iter()
            .map(|(x, y)| ((x - min_x) / side, (y - min_y) / side))
            .collect();
        let (scale, quiet) = (4, 4);
        let pixels = (width + 2 * quiet) * scale;
        let mut image = rqrr::PreparedImage::prepare_from_bitmap(pixels, pixels, |x, y| {
            let (mx, my) = (x / scale, y / scale);
            mx >= quiet && my >= quiet && dark.contains(&(mx - quiet, my - quiet))
        });
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1);
        let (_, content) = grids[0].decode().unwrap();
        assert_eq!(content, uri);
        assert_eq!(
            totp.qr_svg(&secret, &"x".repeat(5_000), "ann").unwrap_err(),
            TotpError::TooLongForQr
        );
    }

    #[test]
    fn base32_round_trips_and_refuses_junk() {
        let secret = TotpSecret::generate().unwrap();
        let typed = secret.to_base32().expose(|b| {
            let spaced: Vec<String> = b
                .as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).to_lowercase())
                .collect();
            spaced.join(" ")
        });
        let back = TotpSecret::from_base32(&typed).unwrap();
        assert_eq!(back.expose(<[u8]>::to_vec), secret.expose(<[u8]>::to_vec));
        assert_eq!(
            TotpSecret::from_base32("not base32!").unwrap_err(),
            TotpError::NotBase32
        );
        assert_eq!(
            TotpSecret::from_base32("MZXW6YQ").unwrap_err(),
            TotpError::SecretTooShort
        );
    }

    #[test]
    fn the_uri_names_issuer_account_and_parameters() {
        let uri = Totp::default()
            .uri(&secret(), "palisade at example", "ann@example.com")
            .expose(str::to_owned);
        assert_eq!(
            uri,
            "otpauth://totp/palisade%20at%20example:ann%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=palisade%20at%20example&algorithm=SHA1&digits=6&period=30"
        );
    }
}
