//! A compact set of forbidden passwords (e.g. a breached-passwords list).

use std::io::BufRead;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Forbidden passwords, matched case-insensitively.
///
/// Each entry is kept as the first 8 bytes of SHA-256 over its case-folded form, sorted:
/// 8 bytes an entry whatever its length (100,000 entries take 800 KB), looked up by
/// binary search. Two different passwords share a fingerprint with probability about
/// n/2⁶⁴ — a wrongly refused password, never a wrongly accepted one.
#[derive(Debug, Clone)]
pub struct Blocklist {
    fingerprints: Box<[u64]>,
}

/// Why a blocklist could not be loaded. A configured list that cannot be loaded must stop
/// the program: running without it would silently accept breached passwords.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlocklistError {
    /// The file could not be read.
    #[error("password blocklist {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file holds no entry: almost certainly the wrong file.
    #[error("password blocklist {0} has no entries")]
    Empty(PathBuf),
}

impl Blocklist {
    /// Loads one password a line (LF or CRLF; blank lines skipped; invalid UTF-8 decoded
    /// lossily, which can only add entries).
    pub fn from_file(path: &Path) -> Result<Self, BlocklistError> {
        let io = |source| BlocklistError::Io {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let list = Self::from_reader(std::io::BufReader::new(file)).map_err(io)?;
        if list.is_empty() {
            return Err(BlocklistError::Empty(path.to_owned()));
        }
        Ok(list)
    }

    /// Loads from any reader, in the file format.
    pub fn from_reader(mut reader: impl BufRead) -> std::io::Result<Self> {
        let mut fingerprints = Vec::new();
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line)? > 0 {
            let text = String::from_utf8_lossy(&line);
            let entry = text.trim_end_matches(['\n', '\r']);
            if !entry.is_empty() {
                fingerprints.push(fingerprint(entry));
            }
            line.clear();
        }
        Ok(Self::from_fingerprints(fingerprints))
    }

    /// Builds from entries in memory.
    pub fn from_entries<'a>(entries: impl IntoIterator<Item = &'a str>) -> Self {
        Self::from_fingerprints(
            entries
                .into_iter()
                .filter(|e| !e.is_empty())
                .map(fingerprint)
                .collect(),
        )
    }

    fn from_fingerprints(mut fingerprints: Vec<u64>) -> Self {
        fingerprints.sort_unstable();
        fingerprints.dedup();
        Self {
            fingerprints: fingerprints.into_boxed_slice(),
        }
    }

    /// Whether `password` is on the list, ignoring case.
    pub fn contains(&self, password: &str) -> bool {
        self.fingerprints
            .binary_search(&fingerprint(password))
            .is_ok()
    }

    /// Number of distinct entries.
    pub fn len(&self) -> usize {
        self.fingerprints.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.fingerprints.is_empty()
    }
}

fn fingerprint(entry: &str) -> u64 {
    // Upper then lower case approximates Unicode case folding: `µ`, `Μ` and `μ` meet, as do
    // `ß` and `SS`, which a plain lower-casing keeps apart.
    let digest = Sha256::digest(entry.to_uppercase().to_lowercase().as_bytes());
    u64::from_be_bytes(digest[..8].try_into().expect("32-byte digest"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_case_insensitively_and_only_whole_entries() {
        let list =
            Blocklist::from_reader("Password123456\r\n\ncorrecthorse\nÄrger2024!\n".as_bytes())
                .unwrap();
        assert_eq!(list.len(), 3);
        assert!(list.contains("password123456"));
        assert!(list.contains("PASSWORD123456"));
        assert!(list.contains("ärger2024!"));
        assert!(list.contains("ÄRGER2024!"));
        let folded = Blocklist::from_entries(["µstraße-micro"]);
        assert!(folded.contains("ΜSTRASSE-MICRO"));
        assert!(!list.contains("password12345"));
        assert!(!list.contains("correcthorse "));
        assert!(!list.contains(""));
    }

    #[test]
    fn missing_or_empty_file_fails_closed() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Blocklist::from_file(&dir.path().join("nope")),
            Err(BlocklistError::Io { .. })
        ));
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n\n").unwrap();
        assert!(matches!(
            Blocklist::from_file(&empty),
            Err(BlocklistError::Empty(_))
        ));
    }
}
