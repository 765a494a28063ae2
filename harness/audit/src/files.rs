//! Finding and reading input files: [`walk`] is the one folder walk (for
//! specs, vectors, deviations and known-answer files), and [`read`] the one
//! function every reader of specs, vectors, known-answer files (and the
//! files their `include:` names), deviations files and shards goes through.
//!
//! A path is opened once, and everything is checked on the opened handle,
//! never by a separate look-up that a swapped file could race:
//!
//! - it must be a regular file: a FIFO, a device (`/dev/zero`), a socket
//!   or a directory is refused by its kind. The open itself does not wait
//!   (`O_NONBLOCK` on Unix: opening a FIFO with no writer would hang);
//! - at most the cap of its [`Kind`] is read ([`Kind::cap`]): cap + 1
//!   bytes are asked for, so a larger file, or one that grows while it is
//!   read (or a pseudo-file that reports no size), is refused, never
//!   truncated or read without end;
//! - text is UTF-8; a UTF-8 byte order mark at its start is dropped
//!   ([`text`]), so positions in messages are those an editor shows.
//!
//! The caps are documented for users in `vectors/README.md` ("Limits on
//! input files").

use doormat_formats::LoadError;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// What a file is read as; each kind has its own size cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A spec (`specs/*.yaml`).
    Spec,
    /// A scenario vector.
    Vector,
    /// A known-answer file, or the file an `include:` entry names
    /// (upstream Wycheproof JSON files run to a few MB).
    Kat,
    /// An expected-deviations file.
    Deviations,
    /// A shard of a partitioned audit (`doormat merge`).
    Shard,
}

const MIB: u64 = 1 << 20;

impl Kind {
    /// The most bytes a file of this kind may have.
    pub const fn cap(self) -> u64 {
        match self {
            Kind::Spec | Kind::Deviations => MIB,
            Kind::Vector => 4 * MIB,
            Kind::Kat => 16 * MIB,
            Kind::Shard => 256 * MIB,
        }
    }

    /// The kind, as messages name it.
    fn what(self) -> &'static str {
        match self {
            Kind::Spec => "a spec file",
            Kind::Vector => "a vector file",
            Kind::Kat => "a known-answer file",
            Kind::Deviations => "an expected-deviations file",
            Kind::Shard => "a shard file",
        }
    }

    /// What its text is.
    fn language(self) -> &'static str {
        match self {
            Kind::Kat => "YAML or JSON text",
            Kind::Shard => "JSON text",
            _ => "YAML text",
        }
    }
}

/// Why a file could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// Nothing at the path.
    NotFound,
    /// Not a regular file: what it is.
    NotRegular(Kind, &'static str),
    /// More bytes than the kind's cap.
    TooLarge(Kind),
    /// Not UTF-8.
    NotText(Kind),
    /// Any other failure of the file system.
    Io(std::io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::NotFound => write!(f, "no such file"),
            ReadError::NotRegular(kind, what) => {
                write!(f, "{what}, not a regular file: expected {}", kind.what())
            }
            ReadError::TooLarge(kind) => write!(
                f,
                "larger than {} MiB: expected {} of at most {} bytes",
                kind.cap() / MIB,
                kind.what(),
                kind.cap()
            ),
            ReadError::NotText(kind) => write!(f, "not UTF-8 text: expected {}", kind.language()),
            ReadError::Io(e) => write!(f, "cannot read it: {e}"),
        }
    }
}

impl std::error::Error for ReadError {}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::NotFound {
            ReadError::NotFound
        } else {
            ReadError::Io(e)
        }
    }
}

/// Which files a folder walk lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// Specs, vectors, deviations: `*.yaml` and `*.yml` files in the folder
    /// and every folder below it, and `*.json` files in folders named `kat`
    /// (known-answer files in upstream Wycheproof's shape).
    Inputs,
    /// Known-answer files named on the command line: `*.yaml`, `*.yml` and
    /// `*.json` files in the folder itself.
    Kat,
}

/// A path as messages show it.
pub(crate) fn show(p: &Path) -> String {
    p.display().to_string()
}

/// The files `what` lists under `p` (or `p` itself, when it is not a
/// folder), sorted. The walk follows symbolic links to folders but enters
/// each folder once (a link loop ends), and never opens a file: a FIFO or a
/// device with such a name is listed, and [`read`] refuses it.
pub fn walk(p: &Path, what: Walk) -> Result<Vec<PathBuf>, LoadError> {
    let meta = std::fs::metadata(p).map_err(|e| {
        let what = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
            _ => e.to_string(),
        };
        LoadError::file(&show(p), what)
    })?;
    if !meta.is_dir() {
        return Ok(vec![p.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut stack = vec![p.to_path_buf()];
    while let Some(dir) = stack.pop() {
        // The folder itself, whatever links led here: each is walked once.
        let real = std::fs::canonicalize(&dir).map_err(|e| LoadError::file(&show(&dir), e.to_string()))?;
        if !seen.insert(real) {
            continue;
        }
        let entries = std::fs::read_dir(&dir).map_err(|e| LoadError::file(&show(&dir), e.to_string()))?;
        for entry in entries {
            let entry = entry.map_err(|e| LoadError::file(&show(&dir), e.to_string()))?;
            let path = entry.path();
            let file_type = entry.file_type().map_err(|e| LoadError::file(&show(&path), e.to_string()))?;
            // A link counts as what it points to (a broken one as a file, which the reader reports).
            let is_dir =
                file_type.is_dir() || (file_type.is_symlink() && std::fs::metadata(&path).is_ok_and(|m| m.is_dir()));
            let listed = path.extension().is_some_and(|x| {
                // JSON only as a known-answer file (upstream Wycheproof's shape).
                x == "yaml" || x == "yml" || (x == "json" && (what == Walk::Kat || in_kat(&path)))
            });
            if is_dir {
                if what == Walk::Inputs {
                    stack.push(path);
                }
            } else if listed {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Whether a file sits in a folder named `kat` (known-answer files).
pub fn in_kat(p: &Path) -> bool {
    p.parent().and_then(Path::file_name).is_some_and(|n| n == "kat")
}

/// What a file that is not a regular file is.
fn kind_of(t: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "a special file"
    }
}

/// The bytes of the regular file at `path`, at most `kind`'s cap.
pub fn read(path: &Path, kind: Kind) -> Result<Vec<u8>, ReadError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular(kind, kind_of(meta.file_type())));
    }
    let cap = kind.cap();
    let mut bytes = Vec::new();
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(ReadError::TooLarge(kind));
    }
    Ok(bytes)
}

/// `bytes` as text, without a leading UTF-8 byte order mark.
pub fn text(bytes: Vec<u8>, kind: Kind) -> Result<String, ReadError> {
    let mut s = String::from_utf8(bytes).map_err(|_| ReadError::NotText(kind))?;
    if s.starts_with('\u{feff}') {
        s.drain(..'\u{feff}'.len_utf8());
    }
    Ok(s)
}

/// The text of the file at `path` ([`read`], then [`text`]); an error names
/// the path.
pub fn read_text(path: &Path, kind: Kind) -> Result<String, LoadError> {
    read(path, kind)
        .and_then(|b| text(b, kind))
        .map_err(|e| LoadError::file(&path.display().to_string(), e.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_is_dropped_and_nothing_else() {
        assert_eq!(text(b"\xef\xbb\xbftitle: t\n".to_vec(), Kind::Vector).unwrap(), "title: t\n");
        assert_eq!(text(b"title: \xef\xbb\xbf\n".to_vec(), Kind::Vector).unwrap(), "title: \u{feff}\n");
        assert!(matches!(text(b"\xff".to_vec(), Kind::Vector), Err(ReadError::NotText(_))));
    }

    #[test]
    fn caps_grow_with_the_kind() {
        assert!(Kind::Spec.cap() < Kind::Vector.cap());
        assert!(Kind::Vector.cap() < Kind::Kat.cap());
        assert!(Kind::Kat.cap() < Kind::Shard.cap());
    }
}
