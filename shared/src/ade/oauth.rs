//! OAuth 1.0a (RFC 5849) as Apple's `GET /session` wants it: an
//! `Authorization: OAuth realm="ADM", ...` header signed with HMAC-SHA1 by the
//! server token's consumer and access secrets. Pure: the caller gives the
//! request's parts, the time and a nonce.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// The server token's four credentials (client and token, in RFC 5849's words).
/// No `Debug`: two of them are secrets.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    pub consumer_key: &'a str,
    pub consumer_secret: &'a str,
    pub token: &'a str,
    pub token_secret: &'a str,
}

/// What one header signs besides the credentials.
#[derive(Debug, Clone, Copy)]
pub struct Signing<'a> {
    pub realm: &'a str,
    pub method: &'a str,
    /// The base string URI ([`base_string_uri`]).
    pub uri: &'a str,
    /// The query's parameters, decoded (Apple's `/session` has none).
    pub query: &'a [(&'a str, &'a str)],
    pub timestamp: u64,
    pub nonce: &'a str,
}

/// RFC 5849 §3.6: UTF-8 bytes, each but ALPHA, DIGIT and `-._~` as `%XX` (upper case).
pub fn percent_encode(value: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xF)]));
        }
    }
    out
}

/// RFC 5849 §3.4.1.2: scheme and host in lower case, the scheme's default
/// port left out, then the path (`/` when empty); never a query.
pub fn base_string_uri(scheme: &str, host: &str, port: Option<u16>, path: &str) -> String {
    let scheme = scheme.to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    let default = match scheme.as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    };
    let path = if path.is_empty() { "/" } else { path };
    match port {
        Some(p) if Some(p) != default => format!("{scheme}://{host}:{p}{path}"),
        _ => format!("{scheme}://{host}{path}"),
    }
}

/// RFC 5849 §3.4.1.1: the method in upper case, the base string URI and the
/// normalised parameters (§3.4.1.3.2: each name and value encoded, sorted by
/// name then value, `name=value` joined by `&`), each encoded, joined by `&`.
/// `params` are decoded; realm and `oauth_signature` are not among them.
pub fn signature_base_string(method: &str, uri: &str, params: &[(&str, &str)]) -> String {
    let mut encoded: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (percent_encode(k), percent_encode(v)))
        .collect();
    encoded.sort();
    let normalised = encoded
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    format!(
        "{}&{}&{}",
        percent_encode(&method.to_ascii_uppercase()),
        percent_encode(uri),
        percent_encode(&normalised)
    )
}

/// RFC 5849 §3.4.2: base64 of HMAC-SHA1 over the base string, keyed by the
/// two secrets, each encoded, joined by `&`.
pub fn hmac_sha1(base_string: &str, consumer_secret: &str, token_secret: &str) -> String {
    let key = format!(
        "{}&{}",
        percent_encode(consumer_secret),
        percent_encode(token_secret)
    );
    // HMAC takes a key of any length: this cannot fail.
    let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(base_string.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The `Authorization` header's value (RFC 5849 §3.5.1): realm, then the
/// protocol parameters and the signature, each value encoded and quoted.
pub fn authorization(creds: &Credentials<'_>, signing: &Signing<'_>) -> String {
    let timestamp = signing.timestamp.to_string();
    let protocol = [
        ("oauth_consumer_key", creds.consumer_key),
        ("oauth_token", creds.token),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", timestamp.as_str()),
        ("oauth_nonce", signing.nonce),
        ("oauth_version", "1.0"),
    ];
    let mut signed: Vec<(&str, &str)> = protocol.to_vec();
    signed.extend_from_slice(signing.query);
    let base = signature_base_string(signing.method, signing.uri, &signed);
    let signature = hmac_sha1(&base, creds.consumer_secret, creds.token_secret);
    let mut header = format!("OAuth realm=\"{}\"", percent_encode(signing.realm));
    for (name, value) in protocol
        .iter()
        .copied()
        .chain([("oauth_signature", signature.as_str())])
    {
        header.push_str(&format!(", {name}=\"{}\"", percent_encode(value)));
    }
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5849 §1.2's client and token credentials.
    const PHOTOS: Credentials<'static> = Credentials {
        consumer_key: "dpf43f3p2l4k3l03",
        consumer_secret: "kd94hf93k423kf44",
        token: "nnch734d00sl2jdk",
        token_secret: "pfkkdhi9sl3r4s00",
    };

    #[test]
    fn percent_encoding_keeps_only_unreserved_characters() {
        assert_eq!(percent_encode("AZaz09-._~"), "AZaz09-._~");
        assert_eq!(
            percent_encode("a b+c/d=e&f*g%h\"i"),
            "a%20b%2Bc%2Fd%3De%26f%2Ag%25h%22i"
        );
        // UTF-8 bytes, upper-case hex.
        assert_eq!(percent_encode("é☃"), "%C3%A9%E2%98%83");
        assert_eq!(percent_encode(""), "");
    }

    #[test]
    fn the_base_string_uri_drops_default_ports_and_lowers_case() {
        assert_eq!(
            base_string_uri("HTTP", "EXAMPLE.COM", Some(80), "/request"),
            "http://example.com/request"
        );
        assert_eq!(
            base_string_uri("https", "www.example.net", Some(8080), ""),
            "https://www.example.net:8080/"
        );
        assert_eq!(
            base_string_uri("https", "mdmenrollment.apple.com", Some(443), "/session"),
            "https://mdmenrollment.apple.com/session"
        );
        // The path keeps its case.
        assert_eq!(
            base_string_uri("http", "127.0.0.1", Some(4567), "/Session"),
            "http://127.0.0.1:4567/Session"
        );
    }

    /// RFC 5849 §3.4.1.1's request: query and form parameters (decoded) with
    /// the protocol parameters give the RFC's base string, byte for byte.
    #[test]
    fn the_base_string_of_rfc_5849_section_3_4_1_1() {
        let params = [
            ("b5", "=%3D"),
            ("a3", "a"),
            ("c@", ""),
            ("a2", "r b"),
            ("c2", ""),
            ("a3", "2 q"),
            ("oauth_consumer_key", "9djdj82h48djs9d2"),
            ("oauth_token", "kkk9d7dh3k39sjv7"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "137131201"),
            ("oauth_nonce", "7d8f3e4a"),
        ];
        let uri = base_string_uri("http", "example.com", Some(80), "/request");
        assert_eq!(
            signature_base_string("post", &uri, &params),
            "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q\
             %26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_\
             key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_m\
             ethod%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk\
             9d7dh3k39sjv7"
        );
    }

    /// RFC 5849 §1.2's signed request (no `oauth_version`): its published signature.
    #[test]
    fn the_signature_of_rfc_5849_section_1_2() {
        let params = [
            ("file", "vacation.jpg"),
            ("size", "original"),
            ("oauth_consumer_key", PHOTOS.consumer_key),
            ("oauth_token", PHOTOS.token),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "137131202"),
            ("oauth_nonce", "chapoH"),
        ];
        let uri = base_string_uri("http", "photos.example.net", None, "/photos");
        let base = signature_base_string("GET", &uri, &params);
        assert_eq!(
            hmac_sha1(&base, PHOTOS.consumer_secret, PHOTOS.token_secret),
            "MdpQcU8iPSUjWoN/UDMsK2sui9I="
        );
    }

    /// OAuth Core 1.0's appendix A.5 (the same credentials, `oauth_version`
    /// 1.0, as Apple's header has it): the header carries its published signature.
    #[test]
    fn the_header_of_oauth_core_1_0_appendix_a_5() {
        let uri = base_string_uri("http", "photos.example.net", Some(80), "/photos");
        let header = authorization(
            &PHOTOS,
            &Signing {
                realm: "http://photos.example.net/",
                method: "GET",
                uri: &uri,
                query: &[("file", "vacation.jpg"), ("size", "original")],
                timestamp: 1_191_242_096,
                nonce: "kllo9940pd9333jh",
            },
        );
        assert_eq!(
            header,
            "OAuth realm=\"http%3A%2F%2Fphotos.example.net%2F\", \
             oauth_consumer_key=\"dpf43f3p2l4k3l03\", oauth_token=\"nnch734d00sl2jdk\", \
             oauth_signature_method=\"HMAC-SHA1\", oauth_timestamp=\"1191242096\", \
             oauth_nonce=\"kllo9940pd9333jh\", oauth_version=\"1.0\", \
             oauth_signature=\"tR3%2BTy81lMeYAr%2FFid0kMTYa%2FWM%3D\""
        );
    }

    /// Secrets and keys with reserved characters are encoded before they key
    /// the HMAC and before they go in the header. The expected values were
    /// computed apart from this code (`openssl dgst -sha1 -hmac` over the base
    /// string written out by hand).
    #[test]
    fn reserved_characters_in_keys_and_secrets_are_encoded() {
        let creds = Credentials {
            consumer_key: "CK_a+b/c=",
            consumer_secret: "CS_&=+ é",
            token: "AT_x y",
            token_secret: "AS_%~",
        };
        let uri = base_string_uri("https", "mdmenrollment.apple.com", Some(443), "/session");
        let signed = [
            ("oauth_consumer_key", creds.consumer_key),
            ("oauth_token", creds.token),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "1700000000"),
            ("oauth_nonce", "n0nce"),
            ("oauth_version", "1.0"),
        ];
        assert_eq!(
            signature_base_string("GET", &uri, &signed),
            "GET&https%3A%2F%2Fmdmenrollment.apple.com%2Fsession&oauth_consumer_key%3D\
             CK_a%252Bb%252Fc%253D%26oauth_nonce%3Dn0nce%26oauth_signature_method%3D\
             HMAC-SHA1%26oauth_timestamp%3D1700000000%26oauth_token%3DAT_x%2520y%26\
             oauth_version%3D1.0"
        );
        let header = authorization(
            &creds,
            &Signing {
                realm: "ADM",
                method: "GET",
                uri: &uri,
                query: &[],
                timestamp: 1_700_000_000,
                nonce: "n0nce",
            },
        );
        assert_eq!(
            header,
            "OAuth realm=\"ADM\", oauth_consumer_key=\"CK_a%2Bb%2Fc%3D\", \
             oauth_token=\"AT_x%20y\", oauth_signature_method=\"HMAC-SHA1\", \
             oauth_timestamp=\"1700000000\", oauth_nonce=\"n0nce\", oauth_version=\"1.0\", \
             oauth_signature=\"sZncp2bEWqLBPLlxbu0uqTtXgao%3D\""
        );
    }

    #[test]
    fn apples_session_header_has_each_parameter_once_and_a_fresh_nonce_changes_the_signature() {
        let creds = Credentials {
            consumer_key: "CK_1",
            consumer_secret: "CS_1",
            token: "AT_1",
            token_secret: "AS_1",
        };
        let signing = Signing {
            realm: "ADM",
            method: "GET",
            uri: "https://mdmenrollment.apple.com/session",
            query: &[],
            timestamp: 1_700_000_000,
            nonce: "a",
        };
        let one = authorization(&creds, &signing);
        assert!(one.starts_with("OAuth realm=\"ADM\", "), "{one}");
        for name in [
            "oauth_consumer_key",
            "oauth_token",
            "oauth_signature_method",
            "oauth_timestamp",
            "oauth_nonce",
            "oauth_version",
            "oauth_signature",
        ] {
            assert_eq!(
                one.matches(&format!(" {name}=\"")).count(),
                1,
                "{name} in {one}"
            );
        }
        assert!(!one.contains("CS_1") && !one.contains("AS_1"), "{one}");
        let two = authorization(
            &creds,
            &Signing {
                nonce: "b",
                ..signing
            },
        );
        let signature = |h: &str| h.rsplit("oauth_signature=").next().unwrap().to_owned();
        assert_ne!(signature(&one), signature(&two));
    }
}
