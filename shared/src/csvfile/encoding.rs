//! Text encodings that spreadsheet exports come in, decoded as a stream to UTF-8.
//!
//! A byte-order mark decides UTF-8 / UTF-16LE / UTF-16BE. Without one the bytes
//! are read as UTF-8, and the reader fails with [`NotUtf8`] at the first byte that
//! is not UTF-8; the caller then reads the file again as Windows-1252 (what Excel
//! on Windows writes for "CSV"), so nothing has to be buffered to decide.

use std::io::{self, Read};

use encoding_rs::{Decoder, DecoderResult, Encoding, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TextEncoding {
    #[serde(rename = "utf-8")]
    Utf8,
    #[serde(rename = "utf-8-bom")]
    Utf8Bom,
    #[serde(rename = "utf-16le")]
    Utf16le,
    #[serde(rename = "utf-16be")]
    Utf16be,
    #[serde(rename = "windows-1252")]
    Windows1252,
}

impl TextEncoding {
    pub fn label(self) -> &'static str {
        match self {
            Self::Utf8 => "utf-8",
            Self::Utf8Bom => "utf-8-bom",
            Self::Utf16le => "utf-16le",
            Self::Utf16be => "utf-16be",
            Self::Windows1252 => "windows-1252",
        }
    }

    fn encoding(self) -> &'static Encoding {
        match self {
            Self::Utf8 | Self::Utf8Bom => UTF_8,
            Self::Utf16le => UTF_16LE,
            Self::Utf16be => UTF_16BE,
            Self::Windows1252 => WINDOWS_1252,
        }
    }

    fn bom_len(self) -> usize {
        match self {
            Self::Utf8Bom => 3,
            Self::Utf16le | Self::Utf16be => 2,
            _ => 0,
        }
    }

    /// The encoding a byte-order mark announces, or plain UTF-8 without one.
    pub fn from_bom(start: &[u8]) -> Self {
        match start {
            [0xEF, 0xBB, 0xBF, ..] => Self::Utf8Bom,
            [0xFF, 0xFE, ..] => Self::Utf16le,
            [0xFE, 0xFF, ..] => Self::Utf16be,
            _ => Self::Utf8,
        }
    }
}

/// The bytes are not valid in the encoding being read; `offset` is where it failed.
#[derive(Debug, thiserror::Error)]
#[error("byte {offset} is not valid {encoding}")]
pub struct NotUtf8 {
    pub offset: u64,
    pub encoding: &'static str,
}

const IN_CHUNK: usize = 64 * 1024;

/// Reads `inner` in `encoding` and yields UTF-8, without its byte-order mark.
pub struct DecodingReader<R> {
    inner: R,
    encoding: TextEncoding,
    decoder: Decoder,
    input: Box<[u8]>,
    in_start: usize,
    in_end: usize,
    eof: bool,
    finished: bool,
    consumed: u64,
    bom_left: usize,
    spill: Vec<u8>,
}

impl<R: Read> DecodingReader<R> {
    pub fn new(inner: R, encoding: TextEncoding) -> Self {
        Self {
            inner,
            encoding,
            decoder: encoding.encoding().new_decoder_without_bom_handling(),
            input: vec![0; IN_CHUNK].into_boxed_slice(),
            in_start: 0,
            in_end: 0,
            eof: false,
            finished: false,
            consumed: 0,
            bom_left: encoding.bom_len(),
            spill: Vec::new(),
        }
    }

    fn refill(&mut self) -> io::Result<()> {
        if self.in_start > 0 {
            self.input.copy_within(self.in_start..self.in_end, 0);
            self.in_end -= self.in_start;
            self.in_start = 0;
        }
        while self.in_end < self.input.len() {
            let n = match self.inner.read(&mut self.input[self.in_end..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                self.eof = true;
                break;
            }
            self.in_end += n;
        }
        if self.bom_left > 0 {
            let skip = self.bom_left.min(self.in_end - self.in_start);
            self.in_start += skip;
            self.bom_left -= skip;
            self.consumed += skip as u64;
        }
        Ok(())
    }
}

impl<R: Read> Read for DecodingReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if !self.spill.is_empty() {
            let k = self.spill.len().min(out.len());
            out[..k].copy_from_slice(&self.spill[..k]);
            self.spill.drain(..k);
            return Ok(k);
        }
        // encoding_rs needs room for one whole character in the output.
        if out.len() < 4 {
            let mut tmp = [0u8; 4];
            let n = self.read(&mut tmp)?;
            let k = n.min(out.len());
            out[..k].copy_from_slice(&tmp[..k]);
            self.spill.extend_from_slice(&tmp[k..n]);
            return Ok(k);
        }
        loop {
            if self.finished {
                return Ok(0);
            }
            if self.in_start == self.in_end && !self.eof {
                self.refill()?;
            }
            let last = self.eof;
            let (result, read, written) = self.decoder.decode_to_utf8_without_replacement(
                &self.input[self.in_start..self.in_end],
                out,
                last,
            );
            self.in_start += read;
            self.consumed += read as u64;
            match result {
                DecoderResult::Malformed(bad, _) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        NotUtf8 {
                            offset: self.consumed.saturating_sub(bad as u64),
                            encoding: self.encoding.label(),
                        },
                    ));
                }
                DecoderResult::InputEmpty if last => {
                    self.finished = true;
                    if written > 0 {
                        return Ok(written);
                    }
                }
                DecoderResult::InputEmpty => {
                    if written > 0 {
                        return Ok(written);
                    }
                    self.refill()?;
                }
                DecoderResult::OutputFull => return Ok(written),
            }
        }
    }
}

/// Is this I/O error the decoder saying the bytes are not in its encoding?
pub fn as_not_utf8(e: &io::Error) -> Option<&NotUtf8> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<NotUtf8>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8], enc: TextEncoding) -> io::Result<String> {
        let mut s = String::new();
        DecodingReader::new(bytes, enc).read_to_string(&mut s)?;
        Ok(s)
    }

    fn utf16(s: &str, le: bool) -> Vec<u8> {
        let mut out = if le {
            vec![0xFF, 0xFE]
        } else {
            vec![0xFE, 0xFF]
        };
        for u in s.encode_utf16() {
            out.extend(if le { u.to_le_bytes() } else { u.to_be_bytes() });
        }
        out
    }

    #[test]
    fn boms_select_the_encoding_and_are_dropped() {
        assert_eq!(
            TextEncoding::from_bom(b"\xEF\xBB\xBFName"),
            TextEncoding::Utf8Bom
        );
        assert_eq!(
            decode(b"\xEF\xBB\xBFN\xC3\xA9", TextEncoding::Utf8Bom).unwrap(),
            "Né"
        );
        let le = utf16("Name,Zoë\r\n", true);
        assert_eq!(TextEncoding::from_bom(&le), TextEncoding::Utf16le);
        assert_eq!(decode(&le, TextEncoding::Utf16le).unwrap(), "Name,Zoë\r\n");
        let be = utf16("Name,Zoë", false);
        assert_eq!(TextEncoding::from_bom(&be), TextEncoding::Utf16be);
        assert_eq!(decode(&be, TextEncoding::Utf16be).unwrap(), "Name,Zoë");
    }

    #[test]
    fn windows_1252_bytes_are_not_utf8() {
        let bytes = b"Name\nJos\xE9 \x80\n";
        let e = decode(bytes, TextEncoding::Utf8).unwrap_err();
        assert_eq!(as_not_utf8(&e).unwrap().offset, 8);
        assert_eq!(
            decode(bytes, TextEncoding::Windows1252).unwrap(),
            "Name\nJosé €\n"
        );
    }

    #[test]
    fn long_input_crosses_chunk_boundaries() {
        let text = "é,ü;ß\n".repeat(50_000);
        assert_eq!(decode(text.as_bytes(), TextEncoding::Utf8).unwrap(), text);
        let le = utf16(&text, true);
        assert_eq!(decode(&le, TextEncoding::Utf16le).unwrap(), text);
    }

    #[test]
    fn tiny_reads_work() {
        let mut r = DecodingReader::new(&b"ab\xC3\xA9\xE2\x82\xAC"[..], TextEncoding::Utf8);
        let mut out = Vec::new();
        let mut one = [0u8; 1];
        loop {
            match r.read(&mut one).unwrap() {
                0 => break,
                n => out.extend_from_slice(&one[..n]),
            }
        }
        assert_eq!(String::from_utf8(out).unwrap(), "abé€");
    }
}
