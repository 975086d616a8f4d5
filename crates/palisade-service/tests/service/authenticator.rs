//! A software WebAuthn authenticator (ES256, "none" attestation), answering the options the
//! service sends as a browser and a passkey would — and, for the attack tests, as they
//! must not (another origin, another RP, no user verification, a counter gone back).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::{Signature, SigningKey, signature::Signer};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub(crate) struct SoftAuthenticator {
    key: SigningKey,
    credential_id: Vec<u8>,
    /// The user handle from registration (a passkey keeps it: discoverable).
    user_handle: Option<String>,
    pub(crate) counter: u32,
    pub(crate) rp_id: String,
    pub(crate) origin: String,
    /// Whether the authenticator verifies its user (PIN, biometrics).
    pub(crate) verifies_user: bool,
    /// Whether it keeps a signature counter (many passkeys send 0 every time, which leaves
    /// a challenge's single use as the only defence against a replay).
    pub(crate) keeps_counter: bool,
}

/// CBOR, as much of it as an attestation needs.
fn cbor_head(major: u8, len: usize, out: &mut Vec<u8>) {
    match len {
        0..=23 => out.push(major << 5 | len as u8),
        24..=255 => out.extend([major << 5 | 24, len as u8]),
        _ => {
            out.push(major << 5 | 25);
            out.extend((len as u16).to_be_bytes());
        }
    }
}

fn cbor_text(s: &str, out: &mut Vec<u8>) {
    cbor_head(3, s.len(), out);
    out.extend(s.as_bytes());
}

fn cbor_bytes(b: &[u8], out: &mut Vec<u8>) {
    cbor_head(2, b.len(), out);
    out.extend(b);
}

/// A small integer key or value (-24..=23).
fn cbor_int(i: i8, out: &mut Vec<u8>) {
    if i >= 0 {
        out.push(i as u8);
    } else {
        out.push(0x20 | (-1 - i) as u8);
    }
}

impl SoftAuthenticator {
    pub(crate) fn new(rp_id: &str, origin: &str) -> Self {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).unwrap();
        let mut credential_id = vec![0u8; 32];
        getrandom::fill(&mut credential_id).unwrap();
        Self {
            key: SigningKey::from_slice(&seed).unwrap(),
            credential_id,
            user_handle: None,
            counter: 0,
            rp_id: rp_id.to_owned(),
            origin: origin.to_owned(),
            verifies_user: true,
            keeps_counter: true,
        }
    }

    fn flags(&self, attested: bool) -> u8 {
        let mut flags = 0x01; // user present
        if self.verifies_user {
            flags |= 0x04;
        }
        if attested {
            flags |= 0x40;
        }
        flags
    }

    fn auth_data(&self, attested: bool) -> Vec<u8> {
        let mut data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        data.push(self.flags(attested));
        data.extend(self.counter.to_be_bytes());
        if attested {
            data.extend([0u8; 16]); // AAGUID
            data.extend((self.credential_id.len() as u16).to_be_bytes());
            data.extend(&self.credential_id);
            let point = self.key.verifying_key().to_encoded_point(false);
            let mut cose = Vec::new();
            cbor_head(5, 5, &mut cose);
            cbor_int(1, &mut cose); // kty
            cbor_int(2, &mut cose); // EC2
            cbor_int(3, &mut cose); // alg
            cbor_int(-7, &mut cose); // ES256
            cbor_int(-1, &mut cose); // crv
            cbor_int(1, &mut cose); // P-256
            cbor_int(-2, &mut cose);
            cbor_bytes(point.x().unwrap(), &mut cose);
            cbor_int(-3, &mut cose);
            cbor_bytes(point.y().unwrap(), &mut cose);
            data.extend(cose);
        }
        data
    }

    fn client_data(&self, kind: &str, options: &Value) -> Vec<u8> {
        let challenge = options["options"]["publicKey"]["challenge"]
            .as_str()
            .expect("a challenge in the options");
        json!({"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false})
            .to_string()
            .into_bytes()
    }

    /// The answer to `navigator.credentials.create(options)`.
    pub(crate) fn register(&mut self, options: &Value) -> Value {
        let public_key = &options["options"]["publicKey"];
        self.user_handle = public_key["user"]["id"].as_str().map(str::to_owned);
        let client_data = self.client_data("webauthn.create", options);
        let mut attestation = Vec::new();
        cbor_head(5, 3, &mut attestation);
        cbor_text("fmt", &mut attestation);
        cbor_text("none", &mut attestation);
        cbor_text("attStmt", &mut attestation);
        cbor_head(5, 0, &mut attestation);
        cbor_text("authData", &mut attestation);
        cbor_bytes(&self.auth_data(true), &mut attestation);
        let id = B64.encode(&self.credential_id);
        json!({
            "id": id, "rawId": id, "type": "public-key",
            "response": {
                "attestationObject": B64.encode(attestation),
                "clientDataJSON": B64.encode(client_data),
            },
            "extensions": {},
        })
    }

    /// The answer to `navigator.credentials.get(options)`; the counter moves first.
    pub(crate) fn assert(&mut self, options: &Value) -> Value {
        if self.keeps_counter {
            self.counter += 1;
        }
        let client_data = self.client_data("webauthn.get", options);
        let auth_data = self.auth_data(false);
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature: Signature = self.key.sign(&signed);
        let id = B64.encode(&self.credential_id);
        json!({
            "id": id, "rawId": id, "type": "public-key",
            "response": {
                "authenticatorData": B64.encode(auth_data),
                "clientDataJSON": B64.encode(client_data),
                "signature": B64.encode(signature.to_der().as_bytes()),
                "userHandle": self.user_handle,
            },
            "extensions": {},
        })
    }
}
