//! Key material from the `[auth]` table made into verification keys. The PEM
//! is parsed and checked when the server starts, so that a private, weak or
//! wrong-curve key is refused then instead of failing every token later.

use jsonwebtoken::{Algorithm, DecodingKey};

use super::MIN_RSA_BITS;

/// Makes sure `jsonwebtoken` has a crypto backend. With only its `rust_crypto`
/// feature it would pick that by itself, but if feature unification ever also
/// enabled `aws_lc_rs` the automatic choice would panic at the first token.
/// Installing is first-come-first-served and idempotent: a provider installed
/// earlier (by us or by the embedding application) stays.
pub(super) fn ensure_crypto_provider() {
    let _already_installed = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
}

/// The label of the first PEM block (`PUBLIC KEY` for `-----BEGIN PUBLIC KEY-----`).
fn pem_label(text: &str) -> Option<&str> {
    const BEGIN: &str = "-----BEGIN ";
    let start = text.find(BEGIN)? + BEGIN.len();
    let rest = &text[start..];
    rest.find("-----").map(|end| &rest[..end])
}

/// Refuses anything but a public-key PEM with one of the `accepted` labels,
/// with a message that never echoes the (possibly private) key text.
fn check_public_pem(text: &str, accepted: &[&str]) -> Result<(), String> {
    match pem_label(text) {
        None => Err("invalid PEM: no `-----BEGIN PUBLIC KEY-----` block found \
                     (the option holds the PEM text itself, not a file path)"
            .to_owned()),
        Some(label) if label.contains("PRIVATE") => Err(format!(
            "invalid PEM: this is a private key (`{label}`); configure only the public \
             half (`openssl pkey -in key.pem -pubout`) and keep the private key with the token issuer"
        )),
        Some(label) if !accepted.contains(&label) => Err(format!(
            "invalid PEM: expected `-----BEGIN PUBLIC KEY-----`, found `-----BEGIN {label}-----`"
        )),
        Some(_) => Ok(()),
    }
}

/// Parses and checks an RSA public key (type and size) at startup, since
/// `jsonwebtoken` would otherwise only parse the key material at the first token.
pub(super) fn rsa_key(pem: &str) -> Result<DecodingKey, String> {
    check_public_pem(pem, &["PUBLIC KEY", "RSA PUBLIC KEY"])?;
    let key = DecodingKey::from_rsa_pem(pem.as_bytes())
        .map_err(|e| format!("invalid PEM: not an RSA public key ({e})"))?;
    let der = key
        .try_get_as_bytes()
        .map_err(|e| format!("invalid PEM: {e}"))?;
    let components = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER
        .key_utils
        .rsa_pub_components_from_public_key;
    let (modulus, _exponent) =
        components(der).map_err(|e| format!("invalid PEM: not an RSA public key ({e})"))?;
    let bits = bit_len(&modulus);
    if bits < MIN_RSA_BITS {
        return Err(format!(
            "the RSA key has {bits} bits; at least {MIN_RSA_BITS} are required"
        ));
    }
    Ok(key)
}

/// Parses and checks a P-256 public key at startup.
pub(super) fn ec_key(pem: &str) -> Result<DecodingKey, String> {
    check_public_pem(pem, &["PUBLIC KEY"])?;
    let key = DecodingKey::from_ec_pem(pem.as_bytes())
        .map_err(|e| format!("invalid PEM: not an EC public key ({e})"))?;
    // An uncompressed SEC1 point: 0x04, then x and y of 32 bytes each on P-256.
    match key.try_get_as_bytes().map(<[u8]>::len) {
        Ok(65) => {}
        Ok(97) => {
            return Err("the key is on P-384; ES256 needs a P-256 key".to_owned());
        }
        Ok(_) | Err(_) => {
            return Err("invalid PEM: not an uncompressed P-256 public key".to_owned());
        }
    }
    // Building a verifier parses the point; an empty signature then merely fails
    // to verify (`Ok(false)`), while a point off the curve is an `Err`.
    jsonwebtoken::crypto::verify("", b"", &key, Algorithm::ES256)
        .map_err(|e| format!("invalid PEM: not a valid P-256 public key ({e})"))?;
    Ok(key)
}

/// Number of significant bits in a big-endian unsigned integer.
fn bit_len(be: &[u8]) -> usize {
    let mut bytes = be.iter().skip_while(|b| **b == 0);
    match bytes.next() {
        None => 0,
        Some(first) => (8 - first.leading_zeros() as usize) + 8 * bytes.count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::fixtures::{
        EC_P384_PUBLIC, EC_PRIVATE, EC_PUBLIC, RSA_1024_PUBLIC, RSA_PRIVATE, RSA_PUBLIC, claims,
        config_error, rsa_signer, sign, verifier,
    };
    use crate::auth::{AuthConfig, AuthConfigError};

    #[test]
    fn bad_pem_names_the_option() {
        let garbage = "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n";
        for (pem, fragment) in [
            ("not a pem", "not a file path"),
            ("server/keys/rsa.pem", "not a file path"),
            (garbage, "invalid PEM"),
            (RSA_PRIVATE, "private key"),
            (EC_PUBLIC, "not an RSA public key"),
            (RSA_1024_PUBLIC, "1024 bits"),
        ] {
            let err = config_error(AuthConfig {
                rsa_public_key: Some(pem.into()),
                ..AuthConfig::default()
            });
            let text = err.to_string();
            assert!(matches!(err, AuthConfigError::RsaPublicKey(_)), "{text}");
            assert_eq!(err.option(), "auth.rsa_public_key");
            assert!(text.starts_with("auth.rsa_public_key: "), "{text}");
            assert!(text.contains(fragment), "{text}");
            assert!(!text.contains("MII"), "key material leaked: {text}");
        }
        for (pem, fragment) in [
            ("", "not a file path"),
            (garbage, "invalid PEM"),
            (EC_PRIVATE, "private key"),
            (RSA_PUBLIC, "not an EC public key"),
            (EC_P384_PUBLIC, "P-384"),
        ] {
            let err = config_error(AuthConfig {
                ecdsa_public_key: Some(pem.into()),
                ..AuthConfig::default()
            });
            let text = err.to_string();
            assert!(matches!(err, AuthConfigError::EcdsaPublicKey(_)), "{text}");
            assert!(text.starts_with("auth.ecdsa_public_key: "), "{text}");
            assert!(text.contains(fragment), "{text}");
        }
    }

    #[test]
    fn pkcs1_rsa_public_key_is_accepted() {
        // The same key as rsa_public.pem in PKCS#1 form (`RSA PUBLIC KEY`),
        // converted here rather than stored as another fixture.
        let key = DecodingKey::from_rsa_pem(RSA_PUBLIC.as_bytes()).unwrap();
        let der = key.try_get_as_bytes().unwrap();
        let pem = pem_encode("RSA PUBLIC KEY", der);
        let v = verifier(&AuthConfig {
            rsa_public_key: Some(pem),
            ..AuthConfig::default()
        });
        let token = sign(
            Algorithm::RS256,
            &rsa_signer(),
            &serde_json::to_value(claims()).unwrap(),
        );
        assert!(v.verify(&token).is_ok());
    }

    /// Minimal PEM writer (standard base64, 64-column lines) for the test above.
    fn pem_encode(label: &str, der: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut b64 = String::new();
        for chunk in der.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
            for i in 0..4 {
                if i <= chunk.len() {
                    b64.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    b64.push('=');
                }
            }
        }
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|l| std::str::from_utf8(l).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn bit_len_counts_significant_bits() {
        assert_eq!(bit_len(&[]), 0);
        assert_eq!(bit_len(&[0, 0]), 0);
        assert_eq!(bit_len(&[1]), 1);
        assert_eq!(bit_len(&[0, 0x80, 0]), 16);
        assert_eq!(bit_len(&[0xff; 256]), 2048);
    }
}
