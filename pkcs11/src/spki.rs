//! SubjectPublicKeyInfo DER for the public halves a token holds as attributes
//! (RSA modulus and exponent; an EC point), and the constant DER strings PKCS#11
//! needs. Only serialisation: the keys are checked by whoever parses them (the core's
//! `asym::verify`, in the tests).

/// DER OID of prime256v1 (`CKA_EC_PARAMS` for EC_P256).
pub(crate) const P256_OID: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// DER OID of secp256k1 (`CKA_EC_PARAMS` for EC_P256K).
pub(crate) const K256_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];
/// SPKI up to the point for P-256 (`SEQ { SEQ { ecPublicKey, prime256v1 }, BIT STRING`).
pub(crate) const P256_SPKI_PREFIX: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
/// SPKI up to the point for secp256k1.
pub(crate) const K256_SPKI_PREFIX: &[u8] = &[
    0x30, 0x56, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b,
    0x81, 0x04, 0x00, 0x0a, 0x03, 0x42, 0x00,
];
/// The DER DigestInfo prefix of SHA-256 (RFC 8017 §9.2), which CKM_RSA_PKCS signs.
pub(crate) const SHA256_DIGEST_INFO: &[u8] = &[
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

fn len(out: &mut Vec<u8>, n: usize) {
    if n < 0x80 {
        out.push(u8::try_from(n).unwrap_or(0));
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | u8::try_from(bytes.len()).unwrap_or(0));
        out.extend_from_slice(&bytes);
    }
}

fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    len(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

/// A positive INTEGER from big-endian magnitude bytes.
fn integer(magnitude: &[u8]) -> Vec<u8> {
    let m: Vec<u8> = magnitude.iter().copied().skip_while(|b| *b == 0).collect();
    let mut body = Vec::with_capacity(m.len() + 1);
    if m.first().is_none_or(|b| b & 0x80 != 0) {
        body.push(0);
    }
    body.extend_from_slice(&m);
    tlv(0x02, &body)
}

/// The SPKI of an RSA public key.
pub(crate) fn rsa(n: &[u8], e: &[u8]) -> Vec<u8> {
    let mut key = integer(n);
    key.extend(integer(e));
    let key = tlv(0x30, &key);
    let mut bits = vec![0u8];
    bits.extend(key);
    // AlgorithmIdentifier { rsaEncryption, NULL }.
    let mut body = vec![
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    body.extend(tlv(0x03, &bits));
    tlv(0x30, &body)
}

/// The SPKI of an EC public key from `CKA_EC_POINT` (a DER OCTET STRING holding the
/// uncompressed point, or the bare point as some tokens answer).
pub(crate) fn ec(prefix: &[u8], ec_point: &[u8]) -> Option<Vec<u8>> {
    let point = match ec_point {
        [0x04, 0x41, rest @ ..] if rest.len() == 65 => rest,
        p if p.len() == 65 && p.first() == Some(&0x04) => p,
        _ => return None,
    };
    let mut out = prefix.to_vec();
    out.extend_from_slice(point);
    Some(out)
}

/// An ECDSA signature `r ‖ s` (what `CKM_ECDSA` answers) as DER
/// `SEQUENCE { INTEGER r, INTEGER s }` (what AsymmetricSign answers).
pub(crate) fn ecdsa_der(raw: &[u8]) -> Option<Vec<u8>> {
    if raw.is_empty() || !raw.len().is_multiple_of(2) {
        return None;
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let mut body = integer(r);
    body.extend(integer(s));
    Some(tlv(0x30, &body))
}
