//! The decrypted content: MIME headers (`Content-Type: text/plain`), a blank
//! line, then one JSON object between `-----BEGIN MESSAGE-----` and
//! `-----END MESSAGE-----` holding the four OAuth credentials and their expiry.

use serde_json::{Map, Value};

use super::{ServerToken, TokenError};
use crate::domain::expiry::parse_date_time;

const BEGIN: &[u8] = b"-----BEGIN MESSAGE-----";
const END: &[u8] = b"-----END MESSAGE-----";

/// `None` when `plaintext` is not a token's message at all: what a
/// decryption with another key yields on the rare occasion its padding
/// happens to check out.
pub fn parse(plaintext: &[u8]) -> Option<Result<ServerToken, TokenError>> {
    let start = find(plaintext, BEGIN)? + BEGIN.len();
    let len = find(&plaintext[start..], END)?;
    let json = &plaintext[start..start + len];
    Some(fields(json))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn fields(json: &[u8]) -> Result<ServerToken, TokenError> {
    let object: Map<String, Value> =
        serde_json::from_slice(json).map_err(|_| TokenError::NotAToken {
            reason: "the message inside it is not a JSON object",
        })?;
    let field = |name: &'static str| -> Result<String, TokenError> {
        object
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or(TokenError::MissingField { field: name })
    };
    let consumer_key = field("consumer_key")?;
    let consumer_secret = field("consumer_secret")?;
    let access_token = field("access_token")?;
    let access_secret = field("access_secret")?;
    let access_token_expiry = field("access_token_expiry")?;
    let expiry_epoch =
        parse_date_time(&access_token_expiry).ok_or_else(|| TokenError::BadExpiry {
            value: access_token_expiry.chars().take(40).collect(),
        })?;
    Ok(ServerToken {
        consumer_key,
        consumer_secret,
        access_token,
        access_secret,
        access_token_expiry,
        expiry_epoch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: &str = r#"{"consumer_key":"CK_1","consumer_secret":"CS_2","access_token":"AT_3","access_secret":"AS_4","access_token_expiry":"2027-11-22T10:00:00Z"}"#;

    fn message(json: &str) -> Vec<u8> {
        format!(
            "Content-Type: text/plain;charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n\
             -----BEGIN MESSAGE-----\n{json}\n-----END MESSAGE-----\n"
        )
        .into_bytes()
    }

    #[test]
    fn the_message_gives_the_four_credentials_and_their_expiry() {
        let t = parse(&message(JSON)).unwrap().unwrap();
        assert_eq!(
            (
                &*t.consumer_key,
                &*t.consumer_secret,
                &*t.access_token,
                &*t.access_secret
            ),
            ("CK_1", "CS_2", "AT_3", "AS_4")
        );
        assert_eq!(t.access_token_expiry, "2027-11-22T10:00:00Z");
        assert_eq!(t.expiry_epoch, 1_826_877_600);
    }

    #[test]
    fn what_is_not_the_message_is_told_apart_from_a_damaged_one() {
        assert!(parse(b"").is_none());
        assert!(parse(&[0xFF; 64]).is_none());
        assert!(
            parse(b"-----BEGIN MESSAGE-----{}").is_none(),
            "no end marker"
        );
        assert!(matches!(
            parse(&message("[1, 2]")),
            Some(Err(TokenError::NotAToken { .. }))
        ));
        assert!(matches!(
            parse(&message(r#"{"consumer_key": 1}"#)),
            Some(Err(TokenError::MissingField {
                field: "consumer_key"
            }))
        ));
    }

    #[test]
    fn an_expiry_that_is_not_a_time_is_named() {
        let json = JSON.replace("2027-11-22T10:00:00Z", "next year");
        let e = parse(&message(&json)).unwrap().unwrap_err();
        assert_eq!(
            e,
            TokenError::BadExpiry {
                value: "next year".into()
            }
        );
    }
}
