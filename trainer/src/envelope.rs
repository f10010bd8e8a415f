//! The file layout the trainer's own binary files share (checkpoints, cached evaluation
//! classifiers): an 8-byte magic, a little-endian `u32` header length, a JSON header (the
//! file's own fields plus `sections`: the name, length and CRC-32 of each body), then the
//! section bodies in that order.
//!
//! Hand-rolled because it is a thin envelope around burn's own records; [`decode`] checks the
//! magic and every length and checksum before a caller decodes anything, so a truncated or
//! corrupted file is a clear error, never a panic or silently different weights.
//!
//! ```
//! use gan_trainer::envelope::{decode, encode};
//!
//! #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
//! struct Fields {
//!     step: u64,
//! }
//! let bytes = encode(b"EXAMPLE1", &Fields { step: 7 }, &[("weights", &[1, 2, 3])]).unwrap();
//! let file = decode::<Fields>(b"EXAMPLE1", &bytes, 1 << 20).unwrap();
//! assert_eq!(file.fields, Fields { step: 7 });
//! assert_eq!(file.sections, [("weights".to_string(), &[1u8, 2, 3][..])]);
//! assert!(decode::<Fields>(b"EXAMPLE1", &bytes[..bytes.len() - 1], 1 << 20).is_err());
//! ```

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// One body's entry in the header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Section {
    name: String,
    len: u64,
    crc32: u32,
}

#[derive(Serialize, Deserialize)]
struct Header<H> {
    #[serde(flatten)]
    fields: H,
    sections: Vec<Section>,
}

/// A decoded file: its header fields and its checked section bodies, in order.
#[derive(Debug)]
pub struct Envelope<'a, H> {
    /// The file's own header fields.
    pub fields: H,
    /// `(name, body)` of each section, lengths and checksums verified.
    pub sections: Vec<(String, &'a [u8])>,
}

/// The bytes of a file with `magic`, header `fields` and `sections` (name, body).
pub fn encode<H: Serialize>(
    magic: &[u8; 8],
    fields: &H,
    sections: &[(&str, &[u8])],
) -> Result<Vec<u8>, serde_json::Error> {
    let header = Header {
        fields,
        sections: sections
            .iter()
            .map(|(name, body)| Section {
                name: name.to_string(),
                len: body.len() as u64,
                crc32: crc32fast::hash(body),
            })
            .collect(),
    };
    let header = serde_json::to_vec(&header)?;
    let bodies: usize = sections.iter().map(|(_, b)| b.len()).sum();
    let mut out = Vec::with_capacity(12 + header.len() + bodies);
    out.extend_from_slice(magic);
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(&header);
    for (_, body) in sections {
        out.extend_from_slice(body);
    }
    Ok(out)
}

/// Checks and splits a file written by [`encode`]. The error is the problem in words (the
/// caller names the file).
pub fn decode<'a, H: DeserializeOwned>(
    magic: &[u8; 8],
    bytes: &'a [u8],
    max_header: u32,
) -> Result<Envelope<'a, H>, String> {
    if bytes.len() < 12 || &bytes[..8] != magic {
        return Err(format!(
            "missing the {} magic",
            String::from_utf8_lossy(magic)
        ));
    }
    let hlen = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if hlen > max_header || 12 + hlen as usize > bytes.len() {
        return Err(format!(
            "header length {hlen} does not fit the file ({} bytes)",
            bytes.len()
        ));
    }
    let header: Header<H> = serde_json::from_slice(&bytes[12..12 + hlen as usize])
        .map_err(|e| format!("header: {e}"))?;
    let mut sections = Vec::with_capacity(header.sections.len());
    let mut at = 12 + hlen as usize;
    for s in header.sections {
        let end = usize::try_from(s.len)
            .ok()
            .and_then(|l| at.checked_add(l))
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| format!("section `{}` is truncated", s.name))?;
        let body = &bytes[at..end];
        if crc32fast::hash(body) != s.crc32 {
            return Err(format!("section `{}` fails its checksum", s.name));
        }
        sections.push((s.name, body));
        at = end;
    }
    if at != bytes.len() {
        return Err(format!("{} trailing bytes", bytes.len() - at));
    }
    Ok(Envelope {
        fields: header.fields,
        sections,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct F {
        n: u32,
        #[serde(default)]
        later: u64,
    }

    fn file() -> Vec<u8> {
        encode(
            b"TESTFILE",
            &F { n: 3, later: 9 },
            &[("a", b"xyz"), ("b", b"")],
        )
        .unwrap()
    }

    #[test]
    fn round_trip() {
        let bytes = file();
        let e = decode::<F>(b"TESTFILE", &bytes, 1024).unwrap();
        assert_eq!(e.fields, F { n: 3, later: 9 });
        assert_eq!(
            e.sections,
            [("a".to_string(), &b"xyz"[..]), ("b".to_string(), &b""[..])]
        );
    }

    #[test]
    fn every_corruption_is_refused() {
        let bytes = file();
        let err = |b: &[u8]| decode::<F>(b"TESTFILE", b, 1024).unwrap_err();
        assert!(err(&bytes[..5]).contains("TESTFILE magic"));
        assert!(decode::<F>(b"OTHERMAG", &bytes, 1024).is_err());
        assert!(err(&bytes[..bytes.len() - 1]).contains("section `a` is truncated"));
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(err(&flipped).contains("section `a` fails its checksum"));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(err(&longer).contains("1 trailing bytes"));
        assert!(decode::<F>(b"TESTFILE", &bytes, 4)
            .unwrap_err()
            .contains("header length"));
        let mut bad_json = bytes.clone();
        bad_json[12] = b'[';
        assert!(err(&bad_json).starts_with("header:"));
    }

    /// Fields a reader knows but an older file lacks take their serde default.
    #[test]
    fn older_headers_read_with_defaults() {
        let bytes = encode(b"TESTFILE", &serde_json::json!({"n": 1}), &[]).unwrap();
        let e = decode::<F>(b"TESTFILE", &bytes, 1024).unwrap();
        assert_eq!(e.fields, F { n: 1, later: 0 });
    }
}
