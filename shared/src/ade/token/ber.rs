//! A small BER reader, enough for CMS as ABM writes it: definite and
//! indefinite lengths, and constructed strings whose chunks are concatenated.
//! A DER-only parser refuses real tokens, which start `30 80`.
//!
//! The input is hostile (an uploaded file): every length is checked against
//! what is left, nesting is limited, and so is the number of elements, so no
//! input panics, overflows the stack or allocates more than a few times its
//! own size.

use std::borrow::Cow;

/// Deeper than any CMS structure (EnvelopedData nests about 8 levels).
const MAX_DEPTH: usize = 32;
/// Elements in one input; a token has a few hundred.
const MAX_ELEMENTS: usize = 65_536;

pub const INTEGER: u8 = 0x02;
pub const OCTET_STRING: u8 = 0x04;
pub const OID: u8 = 0x06;
pub const SEQUENCE: u8 = 0x30;
pub const SET: u8 = 0x31;
/// Context-specific `[n]`, constructed: an EXPLICIT tag or an IMPLICIT constructed type.
pub const fn context(n: u8) -> u8 {
    0xA0 | n
}
/// Context-specific `[n]`, primitive.
pub const fn context_primitive(n: u8) -> u8 {
    0x80 | n
}
const CONSTRUCTED: u8 = 0x20;

/// Why the bytes are not BER. Never carries input bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BerError(pub &'static str);

/// One element: its identifier octet (class, constructed bit, tag number below 31) and body.
#[derive(Debug, PartialEq, Eq)]
pub struct Node<'a> {
    pub tag: u8,
    pub body: Body<'a>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Body<'a> {
    Primitive(&'a [u8]),
    Constructed(Vec<Node<'a>>),
}

/// The first element of `input`; what follows it is ignored (some tools
/// pad a binary file).
pub fn parse(input: &[u8]) -> Result<Node<'_>, BerError> {
    let mut r = Reader {
        input,
        at: 0,
        elements: 0,
    };
    r.element(0)
}

impl<'a> Node<'a> {
    /// The children of a constructed element with tag `tag`.
    pub fn children(&self, tag: u8) -> Result<&[Node<'a>], BerError> {
        match (&self.body, self.tag == tag) {
            (Body::Constructed(c), true) => Ok(c),
            _ => Err(BerError("an element is not of the type CMS has there")),
        }
    }

    /// The contents of a primitive element with tag `tag`.
    pub fn primitive(&self, tag: u8) -> Result<&'a [u8], BerError> {
        match (&self.body, self.tag == tag) {
            (Body::Primitive(b), true) => Ok(b),
            _ => Err(BerError("an element is not of the type CMS has there")),
        }
    }

    /// The bytes of a string type with tag `tag` (primitive, or constructed
    /// from OCTET STRING chunks that may themselves be constructed), joined.
    pub fn octets(&self, tag: u8) -> Result<Cow<'a, [u8]>, BerError> {
        match &self.body {
            Body::Primitive(b) if self.tag == tag => Ok(Cow::Borrowed(b)),
            Body::Constructed(chunks) if self.tag == tag | CONSTRUCTED => {
                let mut out = Vec::new();
                for c in chunks {
                    out.extend_from_slice(&c.octets(OCTET_STRING)?);
                }
                Ok(Cow::Owned(out))
            }
            _ => Err(BerError("a string is not of the type CMS has there")),
        }
    }
}

struct Reader<'a> {
    input: &'a [u8],
    at: usize,
    elements: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, BerError> {
        let b = *self
            .input
            .get(self.at)
            .ok_or(BerError("the data ends in the middle of an element"))?;
        self.at += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], BerError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.input.len())
            .ok_or(BerError("an element is longer than the data"))?;
        let b = &self.input[self.at..end];
        self.at = end;
        Ok(b)
    }

    fn at_end_of_contents(&self) -> bool {
        self.input.get(self.at..self.at + 2) == Some(&[0, 0])
    }

    fn element(&mut self, depth: usize) -> Result<Node<'a>, BerError> {
        if depth > MAX_DEPTH {
            return Err(BerError("the data nests deeper than any CMS structure"));
        }
        self.elements += 1;
        if self.elements > MAX_ELEMENTS {
            return Err(BerError("the data has more elements than any token"));
        }
        let tag = self.byte()?;
        if tag & 0x1F == 0x1F {
            return Err(BerError("a tag number CMS does not use"));
        }
        if tag == 0 {
            return Err(BerError(
                "an end-of-contents marker where an element belongs",
            ));
        }
        let constructed = tag & CONSTRUCTED != 0;
        let body = match self.length()? {
            None if !constructed => {
                return Err(BerError("a primitive element with an indefinite length"))
            }
            None => {
                let mut children = Vec::new();
                while !self.at_end_of_contents() {
                    children.push(self.element(depth + 1)?);
                }
                self.at += 2;
                Body::Constructed(children)
            }
            Some(len) => {
                let content = self.take(len)?;
                if constructed {
                    let mut inner = Reader {
                        input: content,
                        at: 0,
                        elements: self.elements,
                    };
                    let mut children = Vec::new();
                    while inner.at < content.len() {
                        children.push(inner.element(depth + 1)?);
                    }
                    self.elements = inner.elements;
                    Body::Constructed(children)
                } else {
                    Body::Primitive(content)
                }
            }
        };
        Ok(Node { tag, body })
    }

    /// `None` for the indefinite form.
    fn length(&mut self) -> Result<Option<usize>, BerError> {
        let first = self.byte()?;
        match first {
            0x80 => Ok(None),
            n if n < 0x80 => Ok(Some(usize::from(n))),
            // A token is kilobytes: four length octets are more than enough.
            0x81..=0x84 => {
                let mut len = 0usize;
                for _ in 0..(first & 0x7F) {
                    len = (len << 8) | usize::from(self.byte()?);
                }
                Ok(Some(len))
            }
            _ => Err(BerError("a length longer than any token")),
        }
    }
}

/// An OBJECT IDENTIFIER's contents in dotted form, for messages
/// (`2.16.840.1.101.3.4.1.2`); `?` where it is malformed.
pub fn dotted(oid: &[u8]) -> String {
    let mut arcs: Vec<u128> = Vec::new();
    let mut value: u128 = 0;
    for (i, b) in oid.iter().enumerate() {
        if value > u128::MAX >> 7 {
            return "?".into();
        }
        value = (value << 7) | u128::from(b & 0x7F);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        } else if i + 1 == oid.len() {
            return "?".into();
        }
    }
    if arcs.is_empty() {
        return "?".into();
    }
    arcs.iter()
        .map(u128::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definite_and_indefinite_lengths_read_alike() {
        let der = [0x30, 0x06, 0x02, 0x01, 0x05, 0x04, 0x01, 0xAA];
        let ber = [0x30, 0x80, 0x02, 0x01, 0x05, 0x04, 0x01, 0xAA, 0x00, 0x00];
        assert_eq!(parse(&der).unwrap(), parse(&ber).unwrap());
        let n = parse(&ber).unwrap();
        let c = n.children(SEQUENCE).unwrap();
        assert_eq!(c[0].primitive(INTEGER).unwrap(), &[5]);
        assert_eq!(&*c[1].octets(OCTET_STRING).unwrap(), &[0xAA]);
    }

    #[test]
    fn constructed_strings_are_joined_however_they_nest() {
        // [0] IMPLICIT OCTET STRING, constructed, indefinite: chunks, one of them itself constructed.
        let ber = [
            0xA0, 0x80, 0x04, 0x02, 1, 2, 0x24, 0x80, 0x04, 0x01, 3, 0x00, 0x00, 0x04, 0x01, 4,
            0x00, 0x00,
        ];
        let n = parse(&ber).unwrap();
        assert_eq!(&*n.octets(context_primitive(0)).unwrap(), &[1, 2, 3, 4]);
        assert!(n.octets(OCTET_STRING).is_err(), "the tag is checked");
        let bad_chunk = [0xA0, 0x80, 0x02, 0x01, 1, 0x00, 0x00];
        assert!(parse(&bad_chunk)
            .unwrap()
            .octets(context_primitive(0))
            .is_err());
    }

    #[test]
    fn long_form_lengths_are_read() {
        let mut der = vec![0x04, 0x82, 0x01, 0x00];
        der.extend(std::iter::repeat_n(7u8, 256));
        assert_eq!(
            parse(&der).unwrap().primitive(OCTET_STRING).unwrap().len(),
            256
        );
    }

    #[test]
    fn hostile_inputs_are_refused_without_panicking() {
        let cases: &[&[u8]] = &[
            &[],
            &[0x30],
            &[0x30, 0x80],
            &[0x30, 0x80, 0x00],
            &[0x30, 0x05, 0x02, 0x01],
            &[0x04, 0x84, 0xFF, 0xFF, 0xFF, 0xFF, 0x00],
            &[0x04, 0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9],
            &[0x04, 0xFF],
            &[0x04, 0x80, 0x00, 0x00],
            &[0x1F, 0x81, 0x01, 0x00],
            &[0x00, 0x00],
            &[0x30, 0x03, 0x02, 0x05, 0x00],
        ];
        for c in cases {
            assert!(parse(c).is_err(), "{c:02x?}");
        }
        let deep: Vec<u8> = std::iter::repeat_n([0x30, 0x80], 100_000)
            .flatten()
            .collect();
        assert_eq!(
            parse(&deep).unwrap_err(),
            BerError("the data nests deeper than any CMS structure")
        );
        let many: Vec<u8> = [0x30, 0x80]
            .into_iter()
            .chain(std::iter::repeat_n([0x05, 0x00], 100_000).flatten())
            .chain([0, 0])
            .collect();
        assert_eq!(
            parse(&many).unwrap_err(),
            BerError("the data has more elements than any token")
        );
    }

    #[test]
    fn oids_print_dotted() {
        assert_eq!(
            dotted(&[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x02]),
            "2.16.840.1.101.3.4.1.2"
        );
        assert_eq!(
            dotted(&[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x03]),
            "1.2.840.113549.1.7.3"
        );
        assert_eq!(dotted(&[]), "?");
        assert_eq!(dotted(&[0x86]), "?");
        assert_eq!(dotted(&[0xFF; 40]), "?");
    }
}
