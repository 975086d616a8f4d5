//! Compact JWS (RFC 7515) as OpenID uses it: signed with ring, and checked with ring against
//! the one algorithm the caller pins — never the token's own say-so, so `alg: none`, an
//! `HS256` keyed with a public key, or any other algorithm than the pinned one is refused
//! before a signature is looked at. A token naming a `kid` is checked with that key only.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use palisade::secret::SecretBytes;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Longest token read (an ID token hint, a client's assertion).
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The signature algorithms palisade signs and checks with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Alg {
    Rs256,
    Es256,
    EdDsa,
}

impl Alg {
    pub(crate) const ALL: [Alg; 3] = [Alg::Rs256, Alg::Es256, Alg::EdDsa];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    /// Exactly `RS256`, `ES256` or `EdDSA`.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// Why a token was refused (said to clients only as `invalid_*`, never in detail).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum JwtError {
    #[error("not a compact JWS")]
    Malformed,
    #[error("the algorithm is not the one pinned")]
    WrongAlg,
    #[error("no key of the set has the token's kid")]
    UnknownKey,
    #[error("the signature does not verify")]
    BadSignature,
}

/// A private signing key (its private part only inside ring).
pub(crate) struct SigningKey {
    pub(crate) kid: String,
    pub(crate) alg: Alg,
    pair: Pair,
}

enum Pair {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new key's PKCS#8 document. RSA keys (2048 bits) come from the `rsa` crate, which
    /// only generates them: ring, which cannot generate RSA keys, does every signing.
    pub(crate) fn generate(alg: Alg) -> Result<SecretBytes, String> {
        let rng = SystemRandom::new();
        let der = match alg {
            Alg::Es256 => {
                EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(|_| "could not generate a P-256 key")?
                    .as_ref()
                    .to_vec()
            }
            Alg::EdDsa => Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(|_| "could not generate an Ed25519 key")?
                .as_ref()
                .to_vec(),
            Alg::Rs256 => {
                use rsa::pkcs8::EncodePrivateKey;
                let mut rng = getrandom::rand_core::UnwrapErr(getrandom::SysRng);
                let key = rsa::RsaPrivateKey::new(&mut rng, 2048)
                    .map_err(|e| format!("could not generate an RSA key: {e}"))?;
                key.to_pkcs8_der()
                    .map_err(|e| format!("could not encode an RSA key: {e}"))?
                    .as_bytes()
                    .to_vec()
            }
        };
        Ok(SecretBytes::new(der))
    }

    /// The key in a PKCS#8 document; its `kid` is its JWK thumbprint (RFC 7638).
    pub(crate) fn from_pkcs8(alg: Alg, der: &SecretBytes) -> Result<Self, String> {
        let pair = der.expose(|der| match alg {
            Alg::Es256 => EcdsaKeyPair::from_pkcs8(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                der,
                &SystemRandom::new(),
            )
            .map(Pair::Ecdsa)
            .map_err(|e| e.to_string()),
            Alg::EdDsa => Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                .map(Pair::Ed)
                .map_err(|e| e.to_string()),
            Alg::Rs256 => RsaKeyPair::from_pkcs8(der)
                .map(Pair::Rsa)
                .map_err(|e| e.to_string()),
        })?;
        let mut key = Self {
            kid: String::new(),
            alg,
            pair,
        };
        key.kid = thumbprint(&key.public_jwk());
        Ok(key)
    }

    /// The public key as a JWK (with `kid`, `alg` and `use` once the kid is known).
    pub(crate) fn public_jwk(&self) -> Value {
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let mut jwk = match &self.pair {
            Pair::Rsa(pair) => {
                let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
                let minimal = |bytes: &[u8]| {
                    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
                    b64(&bytes[start..])
                };
                json!({"kty": "RSA", "n": minimal(&public.n), "e": minimal(&public.e)})
            }
            Pair::Ecdsa(pair) => {
                // Uncompressed point: 0x04 ‖ x ‖ y.
                let point = pair.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65])})
            }
            Pair::Ed(pair) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key().as_ref())})
            }
        };
        if !self.kid.is_empty() {
            jwk["kid"] = json!(self.kid);
            jwk["alg"] = json!(self.alg.name());
            jwk["use"] = json!("sig");
        }
        jwk
    }

    /// `claims` signed, with `typ` in the header (`JWT`, `at+jwt`, `logout+jwt`).
    pub(crate) fn sign(&self, typ: &str, claims: &Value) -> Result<String, String> {
        let header = json!({"alg": self.alg.name(), "kid": self.kid, "typ": typ});
        let mut token = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let rng = SystemRandom::new();
        let signature = match &self.pair {
            Pair::Rsa(pair) => {
                let mut out = vec![0; pair.public().modulus_len()];
                pair.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &rng,
                    token.as_bytes(),
                    &mut out,
                )
                .map_err(|_| "RSA signing failed")?;
                out
            }
            Pair::Ecdsa(pair) => pair
                .sign(&rng, token.as_bytes())
                .map_err(|_| "ECDSA signing failed")?
                .as_ref()
                .to_vec(),
            Pair::Ed(pair) => pair.sign(token.as_bytes()).as_ref().to_vec(),
        };
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(token)
    }
}

/// The RFC 7638 thumbprint of a public JWK, base64url.
pub(crate) fn thumbprint(jwk: &Value) -> String {
    let members: &[&str] = match jwk["kty"].as_str() {
        Some("RSA") => &["e", "kty", "n"],
        Some("EC") => &["crv", "kty", "x", "y"],
        _ => &["crv", "kty", "x"],
    };
    // serde_json writes object keys in sorted order: the canonical form the RFC asks for.
    let canonical: serde_json::Map<String, Value> = members
        .iter()
        .map(|m| ((*m).to_owned(), jwk[*m].clone()))
        .collect();
    URL_SAFE_NO_PAD.encode(Sha256::digest(
        Value::Object(canonical).to_string().as_bytes(),
    ))
}

/// A public key to check signatures with, read from a JWK.
#[derive(Debug, Clone)]
pub(crate) struct PublicKey {
    pub(crate) kid: Option<String>,
    pub(crate) alg: Alg,
    material: Material,
}

#[derive(Debug, Clone)]
enum Material {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// Uncompressed P-256 point.
    P256(Vec<u8>),
    Ed25519(Vec<u8>),
}

impl PublicKey {
    /// A JWK's key, if it is one of the three kinds for `alg`; RSA keys under 2048 bits are
    /// refused.
    pub(crate) fn from_jwk(jwk: &Value, alg: Alg) -> Result<Self, String> {
        let part = |name: &str| -> Result<Vec<u8>, String> {
            jwk[name]
                .as_str()
                .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
                .ok_or_else(|| format!("the key's {name:?} is missing or not base64url"))
        };
        if let Some(stated) = jwk["alg"].as_str()
            && stated != alg.name()
        {
            return Err(format!("the key is for {stated}, not {}", alg.name()));
        }
        let material = match (alg, jwk["kty"].as_str(), jwk["crv"].as_str()) {
            (Alg::Rs256, Some("RSA"), _) => {
                let n = part("n")?;
                let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
                if bits < 2048 {
                    return Err("RSA keys must have at least 2048 bits".into());
                }
                Material::Rsa { n, e: part("e")? }
            }
            (Alg::Es256, Some("EC"), Some("P-256")) => {
                let (x, y) = (part("x")?, part("y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err("a P-256 key's x and y are 32 bytes each".into());
                }
                Material::P256([&[4u8][..], &x, &y].concat())
            }
            (Alg::EdDsa, Some("OKP"), Some("Ed25519")) => {
                let x = part("x")?;
                if x.len() != 32 {
                    return Err("an Ed25519 key's x is 32 bytes".into());
                }
                Material::Ed25519(x)
            }
            _ => return Err(format!("the key is not a {} key", alg.name())),
        };
        Ok(Self {
            kid: jwk["kid"].as_str().map(str::to_owned),
            alg,
            material,
        })
    }

    fn verifies(&self, message: &[u8], signature_bytes: &[u8]) -> bool {
        match &self.material {
            Material::Rsa { n, e } => signature::RsaPublicKeyComponents { n, e }
                .verify(
                    &signature::RSA_PKCS1_2048_8192_SHA256,
                    message,
                    signature_bytes,
                )
                .is_ok(),
            Material::P256(point) => {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature_bytes)
                    .is_ok()
            }
            Material::Ed25519(x) => signature::UnparsedPublicKey::new(&signature::ED25519, x)
                .verify(message, signature_bytes)
                .is_ok(),
        }
    }
}

/// The claims of `token` if it is signed with `alg` by one of `keys`: the one its `kid`
/// names, or, without a `kid`, the set's only key for `alg`. Expiry and audience are the
/// caller's to check.
pub(crate) fn verify(token: &str, keys: &[PublicKey], alg: Alg) -> Result<Value, JwtError> {
    verify_with_header(token, keys, alg).map(|(_, claims)| claims)
}

/// The algorithm a token's header names, if it is one of the three palisade signs with
/// (for its own tokens, whose keys each carry their one algorithm; never for a client's).
pub(crate) fn header_alg(token: &str) -> Option<Alg> {
    let header = token.split('.').next()?;
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    Alg::parse(header["alg"].as_str()?)
}

/// [`verify`], with the header too.
pub(crate) fn verify_with_header(
    token: &str,
    keys: &[PublicKey],
    alg: Alg,
) -> Result<(Value, Value), JwtError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature_text), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| JwtError::Malformed)
    };
    let header: Value =
        serde_json::from_slice(&decode(header)?).map_err(|_| JwtError::Malformed)?;
    if header["alg"].as_str() != Some(alg.name()) {
        return Err(JwtError::WrongAlg);
    }
    // Extensions the signer says must be understood: none are.
    if header.get("crit").is_some() {
        return Err(JwtError::Malformed);
    }
    let candidates: Vec<&PublicKey> = keys.iter().filter(|k| k.alg == alg).collect();
    let key = match header.get("kid") {
        Some(kid) => {
            let kid = kid.as_str().ok_or(JwtError::Malformed)?;
            candidates
                .into_iter()
                .find(|k| k.kid.as_deref() == Some(kid))
                .ok_or(JwtError::UnknownKey)?
        }
        None if candidates.len() == 1 => candidates[0],
        None => return Err(JwtError::UnknownKey),
    };
    let signed_len = token.len() - signature_text.len() - 1;
    if !key.verifies(&token.as_bytes()[..signed_len], &decode(signature_text)?) {
        return Err(JwtError::BadSignature);
    }
    let claims = serde_json::from_slice::<Value>(&decode(payload)?)
        .ok()
        .filter(Value::is_object)
        .ok_or(JwtError::Malformed)?;
    Ok((header, claims))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(alg: Alg) -> SigningKey {
        SigningKey::from_pkcs8(alg, &SigningKey::generate(alg).unwrap()).unwrap()
    }

    fn public(key: &SigningKey) -> PublicKey {
        PublicKey::from_jwk(&key.public_jwk(), key.alg).unwrap()
    }

    fn forge(header: Value, claims: &Value, signature: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    #[test]
    fn each_algorithm_signs_and_verifies_and_a_changed_byte_fails() {
        for alg in Alg::ALL {
            let key = key(alg);
            let claims = json!({"sub": "x", "n": 1});
            let token = key.sign("JWT", &claims).unwrap();
            assert_eq!(verify(&token, &[public(&key)], alg).unwrap(), claims);
            let tampered = token.replacen(
                token.split('.').nth(1).unwrap(),
                &URL_SAFE_NO_PAD.encode(json!({"sub": "y", "n": 1}).to_string()),
                1,
            );
            assert_eq!(
                verify(&tampered, &[public(&key)], alg),
                Err(JwtError::BadSignature)
            );
            assert_eq!(key.kid, thumbprint(&key.public_jwk()), "{alg:?}");
        }
    }

    /// The classic confusions: `alg: none` with no signature, and HS256 whose HMAC key is
    /// the public key's text (what a library that reads `alg` from the token would accept).
    #[test]
    fn none_and_hmac_with_the_public_key_are_refused() {
        use hmac::{KeyInit, Mac};
        let key = key(Alg::Es256);
        let claims = json!({"sub": "admin"});
        let none = forge(json!({"alg": "none", "kid": key.kid}), &claims, b"");
        let public_text = key.public_jwk().to_string();
        let unsigned = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "kid": key.kid}).to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(public_text.as_bytes()).unwrap();
        mac.update(unsigned.as_bytes());
        let hs256 = format!(
            "{unsigned}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        );
        for token in [none, hs256] {
            assert_eq!(
                verify(&token, &[public(&key)], Alg::Es256),
                Err(JwtError::WrongAlg)
            );
        }
    }

    /// A `kid` not in the set is refused even when the set's only key would verify.
    #[test]
    fn a_foreign_kid_is_refused() {
        let ours = key(Alg::EdDsa);
        let theirs = key(Alg::EdDsa);
        let token = theirs.sign("JWT", &json!({"sub": "x"})).unwrap();
        assert_eq!(
            verify(&token, &[public(&ours)], Alg::EdDsa),
            Err(JwtError::UnknownKey)
        );
        // Signed by another key but naming ours: the signature fails.
        let mut borrowed = forge(
            json!({"alg": "EdDSA", "kid": ours.kid}),
            &json!({"sub": "x"}),
            &[0; 64],
        );
        assert_eq!(
            verify(&borrowed, &[public(&ours)], Alg::EdDsa),
            Err(JwtError::BadSignature)
        );
        borrowed.push('.');
        assert_eq!(
            verify(&borrowed, &[public(&ours)], Alg::EdDsa),
            Err(JwtError::Malformed)
        );
    }

    #[test]
    fn short_rsa_keys_and_mismatched_kinds_are_refused() {
        let short = json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode([0xff; 128]), "e": "AQAB"});
        assert!(PublicKey::from_jwk(&short, Alg::Rs256).is_err());
        let ec = key(Alg::Es256).public_jwk();
        assert!(PublicKey::from_jwk(&ec, Alg::EdDsa).is_err());
        assert!(PublicKey::from_jwk(&ec, Alg::Rs256).is_err());
    }
}
