//! ECDSA signature conversion: KMS returns ASN.1 DER `Ecdsa-Sig-Value`, JWS ES256 needs
//! the fixed-width `r‖s` (RFC 7518 §3.4).

/// Why a DER signature could not be converted.
#[derive(Debug, thiserror::Error)]
#[error("malformed ECDSA signature: {0}")]
pub struct SignatureError(pub String);

/// Converts a DER ECDSA P-256 signature (RFC 3279 §2.2.3 `Ecdsa-Sig-Value`) to the
/// 64-byte `r‖s` of ES256 (RFC 7518 §3.4), left-padding short integers and dropping
/// DER's sign byte.
///
/// Parsing is the `p256`/`ecdsa` crates' strict DER decoder: trailing bytes,
/// non-minimal integers, and `r` or `s` outside `1..n` are refused. Never panics.
pub fn ecdsa_der_to_jws(der: &[u8]) -> Result<[u8; 64], SignatureError> {
    let sig = p256::ecdsa::Signature::from_der(der)
        .map_err(|_| SignatureError(format!("not a P-256 DER signature ({} bytes)", der.len())))?;
    Ok(sig.to_bytes().into())
}

/// The reverse: the DER `Ecdsa-Sig-Value` of a 64-byte ES256 `r‖s` signature, as a
/// verifier that speaks DER (or KMS `Verify`) expects it.
pub fn jws_to_ecdsa_der(jws: &[u8]) -> Result<Vec<u8>, SignatureError> {
    let sig = p256::ecdsa::Signature::from_slice(jws).map_err(|_| {
        SignatureError(format!(
            "not a 64-byte ES256 signature ({} bytes)",
            jws.len()
        ))
    })?;
    Ok(sig.to_der().as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(v: &[u8]) -> Vec<u8> {
        let mut out = vec![0x02, v.len() as u8];
        out.extend_from_slice(v);
        out
    }

    fn seq(r: &[u8], s: &[u8]) -> Vec<u8> {
        let body = [int(r), int(s)].concat();
        let mut out = vec![0x30, body.len() as u8];
        out.extend(body);
        out
    }

    #[test]
    fn sign_byte_dropped() {
        // r and s have their high bit set, so DER prefixes a 0x00.
        let r = [0x80u8; 32];
        let s = [0x9Au8; 32];
        let der = seq(&[&[0u8][..], &r].concat(), &[&[0u8][..], &s].concat());
        let jws = ecdsa_der_to_jws(&der).unwrap();
        assert_eq!(&jws[..32], &r);
        assert_eq!(&jws[32..], &s);
    }

    #[test]
    fn short_integers_left_padded() {
        let r = [0x11u8; 31];
        let s = [0x01u8];
        let jws = ecdsa_der_to_jws(&seq(&r, &s)).unwrap();
        assert_eq!(jws[0], 0);
        assert_eq!(&jws[1..32], &r);
        assert_eq!(&jws[32..63], &[0u8; 31]);
        assert_eq!(jws[63], 1);
    }

    #[test]
    fn r_zero_rejected() {
        assert!(ecdsa_der_to_jws(&seq(&[0], &[1])).is_err());
    }

    #[test]
    fn r_above_order_rejected() {
        // 0x00 FF..FF (33 bytes) is above the P-256 group order.
        let big = [&[0u8][..], &[0xFFu8; 32]].concat();
        assert!(ecdsa_der_to_jws(&seq(&big, &[1])).is_err());
    }

    #[test]
    fn trailing_bytes_rejected() {
        let mut der = seq(&[5], &[7]);
        assert!(ecdsa_der_to_jws(&der).is_ok());
        der.push(0);
        assert!(ecdsa_der_to_jws(&der).is_err());
    }

    #[test]
    fn garbage_rejected_never_panics() {
        let non_minimal = seq(&[&[0u8][..], &[0x70u8; 32]].concat(), &[0x01u8; 32]);
        assert!(
            ecdsa_der_to_jws(&non_minimal).is_err(),
            "0x00 before a low byte is not DER"
        );
        for input in [
            &b""[..],
            b"\x30",
            b"\x30\x00",
            b"\x02\x01\x01",
            &[0xFFu8; 72],
        ] {
            assert!(ecdsa_der_to_jws(input).is_err());
        }
        let good = seq(&[0x70u8; 32], &[0x01u8; 32]);
        for i in 0..good.len() {
            assert!(ecdsa_der_to_jws(&good[..i]).is_err());
        }
    }

    #[test]
    fn round_trip_through_der() {
        let mut jws = [0x42u8; 64];
        jws[0] = 0;
        jws[32] = 0xF0;
        let der = jws_to_ecdsa_der(&jws).unwrap();
        assert_eq!(ecdsa_der_to_jws(&der).unwrap(), jws);
    }

    #[test]
    fn jws_wrong_length_rejected() {
        assert!(jws_to_ecdsa_der(&[1u8; 63]).is_err());
        assert!(jws_to_ecdsa_der(&[0u8; 64]).is_err());
    }
}
