//! Extracting one image layer (an OCI or Docker layer blob: a tar, plain, gzip or zstd) into a new
//! directory, in the format overlayfs reads as a lower layer, with no way for a hostile layer to
//! create, change, link or remove anything outside that directory.
//!
//! # How the layer is kept inside `dest`
//!
//! - Names are normalized first: leading `/` are dropped (absolute names are relative to `dest`),
//!   `.` and empty components go, `..` is resolved lexically and an entry whose name climbs above
//!   `dest` is refused ([`UnpackError::PathEscapes`]). Names longer than `PATH_MAX`, empty names and
//!   names holding a NUL byte are refused too.
//! - The directory of every entry is opened from a descriptor of `dest` with
//!   openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) (or, on a kernel without openat2, a walk of our
//!   own that reads each symlink as text and resolves it the same way): symlinks the layer made
//!   resolve as if `dest` were `/`, as Docker and containerd do, so `evil -> /etc` followed by
//!   `evil/passwd` writes `dest/etc/passwd`, never the host's.
//! - The last component is created relative to that directory's descriptor and never followed:
//!   mkdirat, openat(O_CREAT | O_EXCL | O_NOFOLLOW), symlinkat, mknodat, linkat without
//!   AT_SYMLINK_FOLLOW; ownership and times are set with AT_SYMLINK_NOFOLLOW or through the
//!   descriptor of what was just created. An entry that replaces an earlier one of the same layer
//!   removes it first (unlinkat, or a walk by descriptors for a directory); a directory over a
//!   directory keeps it and updates its metadata.
//! - A hard link's target is resolved the same way (its directory inside `dest`, its last component
//!   not followed), so it can only name something this layer already created inside `dest`.
//! - A whiteout only ever creates (a 0:0 character device) or sets an xattr, in a directory
//!   resolved inside `dest`; it never removes anything.
//! - Xattrs come from PAX `SCHILY.xattr.*` records; `trusted.overlay.*` and `user.overlay.*` are
//!   refused ([`UnpackError::ForbiddenXattr`]): overlayfs reads them as its own metadata (whiteouts,
//!   opaque directories, redirects, metacopy), and the only overlay metadata a layer may carry is
//!   what its whiteout entries say. `security.capability` is kept (file capabilities, on which images
//!   such as those with `ping` rely).
//! - Memory is bounded: file contents are streamed through one 128 KiB buffer; GNU long names are
//!   limited to `PATH_MAX` and PAX headers to 1 MiB (Go's archive/tar limit) before they are read;
//!   what grows with the layer is one record per directory (its name and final mode and times).
//!   The tar stream is walked here, with the `tar` crate's [`tar::Header`] parsing each header block:
//!   the crate's own iterator reads a GNU long name or PAX header of any size into memory, and its
//!   PAX record parser splits at newlines, which binary xattr values (a capability set) contain.
//!
//! # Whiteouts, in overlayfs format
//!
//! `dir/.wh.name` becomes a character device 0:0 `dir/name`; `dir/.wh..wh..opq` sets
//! `trusted.overlay.opaque=y` on `dir`; other `.wh..wh.*` names (AUFS metadata) are skipped. A
//! whiteout only hides lower layers (OCI image spec): when this layer has its own `name` too, the
//! whiteout is not created, and if that `name` is a directory it is made opaque instead (it replaces
//! the lower one rather than merging with it), whichever of the two entries comes first.
//!
//! # The caller's part
//!
//! `dest` must be an existing, empty directory (refused otherwise) that nothing else writes to while
//! the layer is unpacked. On error, `dest` holds whatever was extracted up to the failing entry, with
//! directories still at mode 0700: the caller removes it. The intended use is to unpack into a
//! temporary directory and rename it into place only on success, so nothing half-done is visible.
//! Nothing is synced to disk here. Unpacking needs root (or `CAP_CHOWN`, `CAP_MKNOD`, `CAP_FOWNER`,
//! `CAP_SYS_ADMIN` for `trusted.*` xattrs) since ownership, devices and whiteouts are recreated.

use std::collections::VecDeque;
use std::ffi::{CStr, CString};
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{openat, openat2, readlinkat, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fchmod, fchmodat, fstat, fstatat, futimens, mkdirat, mknodat, utimensat, FchmodatFlags, FileStat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};

/// A tar block: headers and the padding of file data.
const BLOCK: usize = 512;
/// The buffer file contents are streamed through.
const COPY_BUFFER: usize = 128 * 1024;
/// Buffer between a plain (uncompressed) blob and the tar parser.
const READ_BUFFER: usize = 64 * 1024;
/// The longest name the kernel takes, in bytes (PATH_MAX counts the terminating NUL).
const MAX_PATH: usize = libc::PATH_MAX as usize - 1;
/// The largest PAX extended header read (as Go's archive/tar, which wrote most layers).
const MAX_PAX: u64 = 1 << 20;
/// Most symlinks one resolution follows (the kernel's own limit).
const MAX_SYMLINKS: u32 = 40;
/// Deepest directory tree removed when a later entry replaces a directory.
const MAX_REMOVE_DEPTH: u32 = 1024;
/// Tries of openat2 when a concurrent rename makes the kernel answer EAGAIN.
const OPENAT2_TRIES: u32 = 64;

const WHITEOUT_PREFIX: &[u8] = b".wh.";
/// What follows [`WHITEOUT_PREFIX`] in the opaque marker `.wh..wh..opq`.
const OPAQUE_MARKER: &[u8] = b".wh..opq";
const OPAQUE_XATTR: &CStr = c"trusted.overlay.opaque";
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// One range of a user-namespace mapping: `size` ids from `container_id` in the container are
/// `host_id..host_id + size` on the host (the shape of `/proc/PID/uid_map` lines and of the OCI
/// spec's `uidMappings`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdMapping {
    pub container_id: u32,
    pub host_id: u32,
    pub size: u32,
}

/// Shifts the owners of the layer's files from container ids to host ids, so that the layer can be
/// used by a container in a user namespace with these mappings. An id of the layer that no range
/// maps is an error ([`UnpackError::IdNotMapped`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdShift {
    pub uid: Vec<IdMapping>,
    pub gid: Vec<IdMapping>,
}

impl IdShift {
    /// One range for both uids and gids: container ids `0..size` are host ids `host_id..host_id + size`.
    pub fn single(host_id: u32, size: u32) -> IdShift {
        let m = IdMapping { container_id: 0, host_id, size };
        IdShift { uid: vec![m], gid: vec![m] }
    }

    /// The mappings of an OCI runtime spec (`linux.uidMappings` and `linux.gidMappings`).
    pub fn from_spec(uid: &[oci_spec::runtime::LinuxIdMapping], gid: &[oci_spec::runtime::LinuxIdMapping]) -> IdShift {
        let conv = |maps: &[oci_spec::runtime::LinuxIdMapping]| {
            maps.iter().map(|m| IdMapping { container_id: m.container_id(), host_id: m.host_id(), size: m.size() }).collect()
        };
        IdShift { uid: conv(uid), gid: conv(gid) }
    }

    /// The host uid of container uid `id`, if a range maps it.
    pub fn host_uid(&self, id: u64) -> Option<u32> {
        map_id(&self.uid, id)
    }

    /// The host gid of container gid `id`, if a range maps it.
    pub fn host_gid(&self, id: u64) -> Option<u32> {
        map_id(&self.gid, id)
    }
}

fn map_id(ranges: &[IdMapping], id: u64) -> Option<u32> {
    let m = ranges.iter().find(|m| id >= u64::from(m.container_id) && id - u64::from(m.container_id) < u64::from(m.size))?;
    u32::try_from(u64::from(m.host_id) + (id - u64::from(m.container_id))).ok()
}

/// How to unpack a layer. Build it with `..Default::default()`: fields may be added.
#[derive(Clone, Debug, Default)]
pub struct UnpackOptions {
    /// Shift every uid and gid by a user-namespace mapping (container id -> host id); `None` keeps
    /// the ids of the archive.
    pub id_map: Option<IdShift>,
}

/// The compression of a layer blob, as found from its first bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    #[default]
    None,
    Gzip,
    Zstd,
}

/// What [`unpack_layer`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnpackStats {
    /// Tar entries handled (files, directories, links, devices, whiteouts; not the PAX and GNU
    /// extension headers that describe them).
    pub entries: u64,
    /// Bytes of regular-file contents written.
    pub bytes: u64,
    /// Whiteouts created (character devices 0:0).
    pub whiteouts: u64,
    /// Directories marked opaque (`.wh..wh..opq`, or a directory of this layer over its own whiteout).
    pub opaque_dirs: u64,
    /// Xattrs of the archive that the destination's filesystem does not support (ENOTSUP), skipped
    /// as containerd does.
    pub xattrs_unsupported: u64,
    /// The compression found by magic bytes.
    pub compression: Compression,
    /// The sha256 digest of the uncompressed tar stream (`sha256:...`): the layer's diff_id.
    pub diff_id: String,
}

/// Why a layer could not be unpacked. Every variant names the entry (its name as in the archive,
/// lossily decoded) and what failed; the message is one line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnpackError {
    /// The media type names a blob this function does not unpack (encrypted, bzip2, not a layer).
    #[error("layer media type {media_type:?} is not a tar layer (plain, gzip or zstd)")]
    MediaType { media_type: String },
    /// `dest` could not be opened or listed, or is not empty.
    #[error("layer destination {}: {what}", dest.display())]
    Dest { dest: PathBuf, what: String },
    /// Reading or decompressing the blob failed (an error of the reader, corrupt gzip or zstd data).
    #[error("layer entry {path:?} (byte {at} of the tar stream): reading the layer: {source}")]
    Read { path: String, at: u64, source: io::Error },
    /// The blob ends inside an entry.
    #[error("layer entry {path:?} (byte {at} of the tar stream): the layer ends inside the entry")]
    Truncated { path: String, at: u64 },
    /// A header or extension record that does not parse, or that breaks a limit.
    #[error("layer entry {path:?} (byte {at} of the tar stream): malformed: {what}")]
    Malformed { path: String, at: u64, what: String },
    /// A kind of entry this function does not create (sparse files, multi-volume parts, ...).
    #[error("layer entry {path:?}: unsupported: {what}")]
    Unsupported { path: String, what: String },
    /// A name that cannot be created: empty, with a NUL byte, longer than PATH_MAX, the root itself.
    #[error("layer entry {path:?}: invalid name: {what}")]
    InvalidPath { path: String, what: &'static str },
    /// A name whose `..` components climb above the layer's root.
    #[error("layer entry {path:?}: the name climbs above the layer's root")]
    PathEscapes { path: String },
    /// A hard link whose target is not a file this layer created earlier.
    #[error("layer entry {path:?}: hard link to {target:?}: {what}")]
    LinkTarget { path: String, target: String, what: String },
    /// An owner that the user-namespace mapping does not map (or that is no valid id).
    #[error("layer entry {path:?}: {kind} {id} has no host id (outside the user namespace mapping, or not a valid id)")]
    IdNotMapped { path: String, kind: &'static str, id: u64 },
    /// An xattr a layer must not set.
    #[error("layer entry {path:?}: xattr {name:?} refused: {why}")]
    ForbiddenXattr { path: String, name: String, why: &'static str },
    /// Setting an xattr failed.
    #[error("layer entry {path:?}: setting xattr {name:?}: {source}")]
    Xattr { path: String, name: String, source: io::Error },
    /// A system call on the destination failed; `op` says which step.
    #[error("layer entry {path:?}: {op}: {source}")]
    Io { path: String, op: &'static str, source: io::Error },
}

impl UnpackError {
    /// The entry (or, for [`UnpackError::MediaType`] and [`UnpackError::Dest`], the media type or
    /// destination) the error is about.
    pub fn path(&self) -> String {
        match self {
            UnpackError::MediaType { media_type } => media_type.clone(),
            UnpackError::Dest { dest, .. } => dest.display().to_string(),
            UnpackError::Read { path, .. }
            | UnpackError::Truncated { path, .. }
            | UnpackError::Malformed { path, .. }
            | UnpackError::Unsupported { path, .. }
            | UnpackError::InvalidPath { path, .. }
            | UnpackError::PathEscapes { path }
            | UnpackError::LinkTarget { path, .. }
            | UnpackError::IdNotMapped { path, .. }
            | UnpackError::ForbiddenXattr { path, .. }
            | UnpackError::Xattr { path, .. }
            | UnpackError::Io { path, .. } => path.clone(),
        }
    }
}

/// Extracts one layer blob into `dest`, in overlayfs format (see the module documentation).
///
/// `dest` is an existing, empty directory owned by the caller; `reader` is the layer blob (gzip,
/// zstd or plain tar, told apart by their magic bytes, which win over the media type). `media_type`,
/// when given, must be a tar layer's (`...tar`, `...tar+gzip`, `...tar.gzip`, `...tar+zstd`);
/// anything else (`+encrypted`, a config blob) is refused before anything is read. `reader` is read
/// to its end (after the end of the archive too), so that a digest computed while reading covers
/// the whole blob. On error `dest` is left as it is, for the caller to remove.
pub fn unpack_layer(reader: impl Read, media_type: Option<&str>, dest: &Path, opts: &UnpackOptions) -> Result<UnpackStats, UnpackError> {
    unpack(reader, media_type, dest, opts, true)
}

fn unpack(reader: impl Read, media_type: Option<&str>, dest: &Path, opts: &UnpackOptions, use_openat2: bool) -> Result<UnpackStats, UnpackError> {
    if let Some(media_type) = media_type {
        media_type_compression(media_type)?;
    }
    let root = open_dest(dest)?;
    let (compression, stream) = decompressor(reader).map_err(|source| UnpackError::Read { path: String::new(), at: 0, source })?;
    let mut u = Unpacker { root, opts, use_openat2, buf: vec![0; COPY_BUFFER], dirs: Vec::new(), stats: UnpackStats { compression, ..Default::default() } };
    // The uncompressed stream's digest: the layer's diff_id, which the image's config names.
    let mut tar = TarStream { inner: crate::digest::HashingReader::new(stream), pos: 0, data_left: 0, pad_left: 0 };
    while let Some(entry) = tar.next_entry(&mut u.buf)? {
        u.stats.entries += 1;
        u.entry(&entry, &mut tar)?;
        tar.finish_entry(&mut u.buf).map_err(|e| read_error(&entry.name(), tar.pos, e))?;
    }
    tar.drain(&mut u.buf).map_err(|e| read_error("(after the end of the archive)", tar.pos, e))?;
    u.finish_dirs()?;
    u.stats.diff_id = tar.inner.digest().to_string();
    Ok(u.stats)
}

/// The compression a layer media type announces; an error for what is not a tar layer.
fn media_type_compression(media_type: &str) -> Result<Compression, UnpackError> {
    let base = media_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if base.ends_with("tar+gzip") || base.ends_with("tar.gzip") || base.ends_with("tar+gz") {
        Ok(Compression::Gzip)
    } else if base.ends_with("tar+zstd") {
        Ok(Compression::Zstd)
    } else if base.ends_with(".tar") || base.ends_with("/x-tar") {
        Ok(Compression::None)
    } else {
        Err(UnpackError::MediaType { media_type: media_type.to_string() })
    }
}

/// Opens `dest` (O_PATH) and checks that it is an empty directory.
fn open_dest(dest: &Path) -> Result<OwnedFd, UnpackError> {
    let err = |what: &str, e: &dyn std::fmt::Display| UnpackError::Dest { dest: dest.to_path_buf(), what: format!("{what}: {e}") };
    let root: OwnedFd = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dest)
        .map_err(|e| err("opening the directory", &e))?
        .into();
    let mut dir =
        Dir::openat(&root, ".", OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()).map_err(|e| err("listing the directory", &e))?;
    for entry in dir.iter() {
        let entry = entry.map_err(|e| err("listing the directory", &e))?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            return Err(UnpackError::Dest { dest: dest.to_path_buf(), what: "not empty (a layer is unpacked into a new, empty directory)".into() });
        }
    }
    Ok(root)
}

/// Reads the first bytes of the blob and returns the matching decompressor over the whole blob.
fn decompressor<'a>(mut reader: impl Read + 'a) -> io::Result<(Compression, Box<dyn Read + 'a>)> {
    let mut magic = [0u8; 4];
    let mut n = 0;
    while n < magic.len() {
        match reader.read(&mut magic[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let head = &magic[..n];
    let compression = if head.starts_with(&GZIP_MAGIC) {
        Compression::Gzip
    } else if head == ZSTD_MAGIC {
        Compression::Zstd
    } else {
        Compression::None
    };
    let whole = io::Cursor::new(magic).take(n as u64).chain(reader);
    Ok(match compression {
        // Multi-member: pigz and some registries' recompression write several gzip members.
        Compression::Gzip => (compression, Box::new(flate2::read::MultiGzDecoder::new(whole))),
        // zstd's default window limit (128 MiB) bounds what a frame can make the decoder allocate.
        Compression::Zstd => (compression, Box::new(zstd::stream::read::Decoder::new(whole)?)),
        Compression::None => (compression, Box::new(BufReader::with_capacity(READ_BUFFER, whole))),
    })
}

/// What an entry creates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    Symlink,
    HardLink,
    Char,
    Block,
    Fifo,
}

/// One entry, its header and extension headers merged (PAX over GNU long names over the header).
struct Entry {
    /// Offset of its first header in the tar stream.
    at: u64,
    path: Vec<u8>,
    kind: Kind,
    link: Vec<u8>,
    mode: u32,
    uid: u64,
    gid: u64,
    atime: TimeSpec,
    mtime: TimeSpec,
    rdev: libc::dev_t,
    xattrs: Vec<(CString, Vec<u8>)>,
}

impl Entry {
    fn name(&self) -> String {
        lossy(&self.path)
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn read_error(path: &str, at: u64, e: io::Error) -> UnpackError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        UnpackError::Truncated { path: path.to_string(), at }
    } else {
        UnpackError::Read { path: path.to_string(), at, source: e }
    }
}

/// The decompressed tar stream, walked one header at a time.
struct TarStream<R> {
    inner: R,
    /// Bytes consumed so far.
    pos: u64,
    /// Data bytes of the current entry not read yet, and the padding after them.
    data_left: u64,
    pad_left: u64,
}

impl<R: Read> TarStream<R> {
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.read(buf) {
                Ok(n) => {
                    self.pos += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Fills `buf` unless the stream ends first; the count read.
    fn fill(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            match self.read_some(&mut buf[n..])? {
                0 => break,
                k => n += k,
            }
        }
        Ok(n)
    }

    /// Reads and drops `n` bytes (UnexpectedEof if the stream ends first).
    fn skip(&mut self, mut n: u64, scratch: &mut [u8]) -> io::Result<()> {
        while n > 0 {
            let want = scratch.len().min(usize::try_from(n).unwrap_or(usize::MAX));
            match self.read_some(&mut scratch[..want])? {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                k => n -= k as u64,
            }
        }
        Ok(())
    }

    /// Reads some of the current entry's data: 0 at its end, UnexpectedEof if the stream ends first.
    fn read_data(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.data_left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(self.data_left).unwrap_or(usize::MAX));
        match self.read_some(&mut buf[..want])? {
            0 => Err(io::ErrorKind::UnexpectedEof.into()),
            k => {
                self.data_left -= k as u64;
                Ok(k)
            }
        }
    }

    /// Skips what is left of the current entry's data and its padding.
    fn finish_entry(&mut self, scratch: &mut [u8]) -> io::Result<()> {
        let n = self.data_left + self.pad_left;
        self.data_left = 0;
        self.pad_left = 0;
        self.skip(n, scratch)
    }

    /// Reads the rest of the blob (after the end-of-archive blocks), which also makes the gzip
    /// decoder check its trailer.
    fn drain(&mut self, scratch: &mut [u8]) -> io::Result<()> {
        while self.read_some(scratch)? > 0 {}
        Ok(())
    }

    /// Reads the data of an extension header (GNU long name, PAX) of `size` bytes, refused above `limit`.
    fn read_extension(&mut self, size: u64, limit: u64, name: &str, at: u64, scratch: &mut [u8]) -> Result<Vec<u8>, UnpackError> {
        if size > limit {
            return Err(UnpackError::Malformed { path: name.to_string(), at, what: format!("extension header of {size} bytes (the limit is {limit})") });
        }
        let mut data = vec![0; size as usize];
        let n = self.fill(&mut data).map_err(|e| read_error(name, at, e))?;
        if n < data.len() {
            return Err(UnpackError::Truncated { path: name.to_string(), at });
        }
        self.skip(padding(size), scratch).map_err(|e| read_error(name, at, e))?;
        Ok(data)
    }

    /// The next entry, its data left to read (`read_data`, then `finish_entry`); None at the end.
    fn next_entry(&mut self, scratch: &mut [u8]) -> Result<Option<Entry>, UnpackError> {
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        let mut pax: Option<Vec<u8>> = None;
        let mut first = None;
        loop {
            let at = self.pos;
            let first_at = *first.get_or_insert(at);
            let mut block = [0u8; BLOCK];
            let n = self.fill(&mut block).map_err(|e| read_error("(header)", at, e))?;
            let pending = long_name.is_some() || long_link.is_some() || pax.is_some();
            if n > 0 && n < BLOCK {
                return Err(UnpackError::Truncated { path: "(header)".into(), at });
            }
            if n == 0 || block.iter().all(|b| *b == 0) {
                if pending {
                    return Err(UnpackError::Malformed { path: "(header)".into(), at, what: "extension headers with no entry after them".into() });
                }
                return Ok(None);
            }
            let h = tar::Header::from_byte_slice(&block);
            let hname = lossy(&h.path_bytes());
            let malformed = |what: String| UnpackError::Malformed { path: hname.clone(), at, what };
            let stored = h.cksum().map_err(|e| malformed(format!("checksum field: {e}")))?;
            if !checksum_matches(&block, u64::from(stored)) {
                return Err(malformed("header checksum mismatch".into()));
            }
            let size = h.entry_size().map_err(|e| malformed(format!("size field: {e}")))?;
            let dup = |what: &str| malformed(format!("two {what} headers for one entry"));
            match block[156] {
                b'L' => {
                    if long_name.is_some() {
                        return Err(dup("GNU long name"));
                    }
                    long_name = Some(strip_nuls(self.read_extension(size, MAX_PATH as u64 + 1, &hname, at, scratch)?));
                }
                b'K' => {
                    if long_link.is_some() {
                        return Err(dup("GNU long link"));
                    }
                    long_link = Some(strip_nuls(self.read_extension(size, MAX_PATH as u64 + 1, &hname, at, scratch)?));
                }
                b'x' => {
                    if pax.is_some() {
                        return Err(dup("PAX"));
                    }
                    pax = Some(self.read_extension(size, MAX_PAX, &hname, at, scratch)?);
                }
                // Global PAX headers (git archive's comment) say nothing a layer needs: skipped, as
                // containerd does.
                b'g' => self.skip(size.saturating_add(padding(size)), scratch).map_err(|e| read_error(&hname, at, e))?,
                _ => return self.make_entry(h, first_at, long_name, long_link, pax.as_deref()).map(Some),
            }
        }
    }

    fn make_entry(
        &mut self,
        h: &tar::Header,
        at: u64,
        long_name: Option<Vec<u8>>,
        long_link: Option<Vec<u8>>,
        pax: Option<&[u8]>,
    ) -> Result<Entry, UnpackError> {
        let mut path = long_name.unwrap_or_else(|| h.path_bytes().into_owned());
        let mut link = long_link.or_else(|| h.link_name_bytes().map(|l| l.into_owned())).unwrap_or_default();
        let (mut size, mut uid, mut gid, mut mtime, mut atime) = (None, None, None, None, None);
        let mut xattrs = Vec::new();
        if let Some(pax) = pax {
            let records = parse_pax(pax).map_err(|what| UnpackError::Malformed { path: lossy(&path), at, what: what.into() })?;
            // Records are applied in order: path and linkpath first, so that errors name the entry.
            for (key, value) in &records {
                match *key {
                    b"path" => path = value.to_vec(),
                    b"linkpath" => link = value.to_vec(),
                    _ => {}
                }
            }
            let name = lossy(&path);
            let bad = |key: &[u8]| UnpackError::Malformed { path: name.clone(), at, what: format!("PAX record {:?} has an invalid value", lossy(key)) };
            for (key, value) in records {
                match key {
                    b"size" => size = Some(pax_number(value).ok_or_else(|| bad(key))?),
                    b"uid" => uid = Some(pax_number(value).ok_or_else(|| bad(key))?),
                    b"gid" => gid = Some(pax_number(value).ok_or_else(|| bad(key))?),
                    b"mtime" => mtime = Some(pax_time(value).ok_or_else(|| bad(key))?),
                    b"atime" => atime = Some(pax_time(value).ok_or_else(|| bad(key))?),
                    _ if key.starts_with(b"GNU.sparse.") => {
                        return Err(UnpackError::Unsupported { path: name, what: "sparse file (GNU PAX sparse format)".into() });
                    }
                    _ => {
                        if let Some(xattr) = key.strip_prefix(b"SCHILY.xattr.") {
                            if let Some(why) = forbidden_xattr(xattr) {
                                return Err(UnpackError::ForbiddenXattr { path: name, name: lossy(xattr), why });
                            }
                            let cname = CString::new(xattr).ok().filter(|c| !c.is_empty()).ok_or_else(|| bad(key))?;
                            xattrs.retain(|(n, _): &(CString, Vec<u8>)| *n != cname);
                            xattrs.push((cname, value.to_vec()));
                        }
                    }
                }
            }
        }
        let name = lossy(&path);
        let malformed = |what: String| UnpackError::Malformed { path: name.clone(), at, what };
        let typeflag = h.as_bytes()[156];
        let kind = match typeflag {
            b'0' | b'7' => Kind::File,
            // Pre-POSIX archives mark directories by a trailing slash only.
            b'\0' if path.ends_with(b"/") => Kind::Dir,
            b'\0' => Kind::File,
            b'1' => Kind::HardLink,
            b'2' => Kind::Symlink,
            b'3' => Kind::Char,
            b'4' => Kind::Block,
            b'5' | b'D' => Kind::Dir,
            b'6' => Kind::Fifo,
            b'S' => return Err(UnpackError::Unsupported { path: name, what: "sparse file (GNU sparse entry)".into() }),
            t => return Err(UnpackError::Unsupported { path: name, what: format!("tar entry type {:?}", char::from(t)) }),
        };
        let old = h.as_old();
        let size = match size {
            Some(s) => s,
            None => numeric(&old.size, h.entry_size()).map_err(|e| malformed(format!("size field: {e}")))?,
        };
        // As Go's archive/tar: these types have no data, whatever their size field says.
        let data = if matches!(typeflag, b'1'..=b'6') { 0 } else { size };
        let mode = numeric(&old.mode, h.mode().map(u64::from)).map_err(|e| malformed(format!("mode field: {e}")))? as u32 & 0o7777;
        let uid = match uid {
            Some(u) => u,
            None => numeric(&old.uid, h.uid()).map_err(|e| malformed(format!("uid field: {e}")))?,
        };
        let gid = match gid {
            Some(g) => g,
            None => numeric(&old.gid, h.gid()).map_err(|e| malformed(format!("gid field: {e}")))?,
        };
        let mtime = match mtime {
            Some(t) => t,
            None => {
                let secs = numeric(&old.mtime, h.mtime()).map_err(|e| malformed(format!("mtime field: {e}")))?;
                TimeSpec::new(libc::time_t::try_from(secs).map_err(|_| malformed(format!("mtime {secs} out of range")))?, 0)
            }
        };
        let rdev = if matches!(kind, Kind::Char | Kind::Block) {
            let raw = match (h.as_ustar(), h.as_gnu()) {
                (Some(u), _) => (u.dev_major, u.dev_minor),
                (None, Some(g)) => (g.dev_major, g.dev_minor),
                (None, None) => return Err(malformed("a device in a header format without device numbers".into())),
            };
            let field = |raw: &[u8], v: io::Result<Option<u32>>, which: &str| {
                numeric(raw, v.map(|n| u64::from(n.unwrap_or(0))))
                    .ok()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| malformed(format!("device {which} field")))
            };
            libc::makedev(field(&raw.0, h.device_major(), "major")?, field(&raw.1, h.device_minor(), "minor")?)
        } else {
            0
        };
        self.data_left = data;
        self.pad_left = padding(data);
        Ok(Entry { at, path, kind, link, mode, uid, gid, atime: atime.unwrap_or(mtime), mtime, rdev, xattrs })
    }
}

/// A numeric header field as the tar crate parsed it, except that a field of NULs and spaces only
/// is 0 (as Go's archive/tar reads it) rather than an error.
fn numeric(field: &[u8], parsed: io::Result<u64>) -> io::Result<u64> {
    if field.iter().all(|b| *b == 0 || *b == b' ') {
        Ok(0)
    } else {
        parsed
    }
}

/// Padding after `size` bytes of data, to the next block.
fn padding(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

/// The header checksum, computed as unsigned or (old writers) signed bytes, with the checksum
/// field counted as spaces.
fn checksum_matches(block: &[u8; BLOCK], stored: u64) -> bool {
    let (mut unsigned, mut signed) = (0u64, 0i64);
    for (i, b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { *b };
        unsigned += u64::from(b);
        signed += i64::from(b as i8);
    }
    stored == unsigned || i64::try_from(stored) == Ok(signed)
}

/// A GNU long name's data without its terminating NULs (an inner NUL is refused later).
fn strip_nuls(mut v: Vec<u8>) -> Vec<u8> {
    while v.last() == Some(&0) {
        v.pop();
    }
    v
}

/// A PAX record: key and value.
type PaxRecord<'a> = (&'a [u8], &'a [u8]);

/// The records of a PAX extended header: `"%d %s=%s\n"`, the length counting the whole record, so
/// that values may hold any byte, newlines included.
fn parse_pax(mut data: &[u8]) -> Result<Vec<PaxRecord<'_>>, &'static str> {
    let mut records = Vec::new();
    while !data.is_empty() {
        if data.iter().all(|b| *b == 0) {
            break; // Some writers pad the header's data with NULs.
        }
        let space = data.iter().take(20).position(|b| *b == b' ').ok_or("PAX record without a length")?;
        let digits = &data[..space];
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return Err("PAX record length is not a number");
        }
        let len: usize = std::str::from_utf8(digits).ok().and_then(|s| s.parse().ok()).ok_or("PAX record length is not a number")?;
        if len <= space + 2 || len > data.len() {
            return Err("PAX record length out of range");
        }
        let Some((&b'\n', key_value)) = data[space + 1..len].split_last() else {
            return Err("PAX record does not end with a newline");
        };
        let eq = key_value.iter().position(|b| *b == b'=').ok_or("PAX record without '='")?;
        records.push((&key_value[..eq], &key_value[eq + 1..]));
        data = &data[len..];
    }
    Ok(records)
}

fn pax_number(v: &[u8]) -> Option<u64> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// A PAX time: decimal seconds, maybe negative, maybe with a fraction.
fn pax_time(v: &[u8]) -> Option<TimeSpec> {
    let (negative, v) = match v.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, v),
    };
    let (secs, frac) = match v.iter().position(|b| *b == b'.') {
        Some(dot) => (&v[..dot], &v[dot + 1..]),
        None => (v, &b""[..]),
    };
    if !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let secs = i64::try_from(pax_number(secs)?).ok()?;
    let mut nanos: i64 = 0;
    for i in 0..9 {
        nanos = nanos * 10 + frac.get(i).map_or(0, |d| i64::from(d - b'0'));
    }
    let (secs, nanos) = match (negative, nanos) {
        (false, _) => (secs, nanos),
        (true, 0) => (-secs, 0),
        (true, n) => (-secs - 1, 1_000_000_000 - n),
    };
    Some(TimeSpec::new(secs, nanos))
}

/// Why an xattr of the archive is refused, if it is.
fn forbidden_xattr(name: &[u8]) -> Option<&'static str> {
    if name.starts_with(b"trusted.overlay.") || name.starts_with(b"user.overlay.") {
        Some("overlayfs metadata (whiteouts, opaque directories, redirects) may only come from whiteout entries")
    } else {
        None
    }
}

/// A name normalized: its components, none empty, `.` or `..`.
fn normalize(raw: &[u8]) -> Result<Vec<&[u8]>, PathProblem> {
    if raw.is_empty() {
        return Err(PathProblem::Invalid("empty name"));
    }
    if raw.contains(&0) {
        return Err(PathProblem::Invalid("the name holds a NUL byte"));
    }
    if raw.len() > MAX_PATH {
        return Err(PathProblem::Invalid("the name is longer than PATH_MAX"));
    }
    let mut comps: Vec<&[u8]> = Vec::new();
    for c in raw.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                if comps.pop().is_none() {
                    return Err(PathProblem::Escapes);
                }
            }
            c => comps.push(c),
        }
    }
    Ok(comps)
}

#[derive(Debug, PartialEq, Eq)]
enum PathProblem {
    Invalid(&'static str),
    Escapes,
}

impl PathProblem {
    fn into_error(self, path: String) -> UnpackError {
        match self {
            PathProblem::Invalid(what) => UnpackError::InvalidPath { path, what },
            PathProblem::Escapes => UnpackError::PathEscapes { path },
        }
    }
}

/// A directory whose mode and times are set once the whole layer is written.
struct DirMeta {
    path: Vec<u8>,
    depth: usize,
    dev: u64,
    ino: u64,
    mode: u32,
    atime: TimeSpec,
    mtime: TimeSpec,
}

/// Where xattrs and such go: a descriptor of the node, or a name in a directory (symlinks,
/// devices and fifos, which cannot be opened for that).
#[derive(Clone, Copy)]
enum Node<'a> {
    Fd(BorrowedFd<'a>),
    At(BorrowedFd<'a>, &'a [u8]),
}

struct Unpacker<'o> {
    /// `dest`, O_PATH.
    root: OwnedFd,
    opts: &'o UnpackOptions,
    /// Cleared when the kernel has no openat2; the walk of [`walk_in_root`] is used then.
    use_openat2: bool,
    buf: Vec<u8>,
    dirs: Vec<DirMeta>,
    stats: UnpackStats,
}

fn io_err(e: &Entry, op: &'static str, err: Errno) -> UnpackError {
    UnpackError::Io { path: e.name(), op, source: err.into() }
}

impl Unpacker<'_> {
    fn entry<R: Read>(&mut self, e: &Entry, tar: &mut TarStream<R>) -> Result<(), UnpackError> {
        let comps = normalize(&e.path).map_err(|p| p.into_error(e.name()))?;
        let Some((&leaf, dir)) = comps.split_last() else {
            return match e.kind {
                Kind::Dir => self.root_dir(e),
                _ => Err(UnpackError::InvalidPath { path: e.name(), what: "only a directory may name the layer's root" }),
            };
        };
        if let Some(hidden) = leaf.strip_prefix(WHITEOUT_PREFIX) {
            return self.whiteout(e, dir, hidden);
        }
        match e.kind {
            Kind::File => self.file(e, dir, leaf, tar),
            Kind::Dir => self.dir(e, &comps),
            Kind::Symlink => self.symlink(e, dir, leaf),
            Kind::HardLink => self.hard_link(e, dir, leaf),
            Kind::Char => self.node(e, dir, leaf, SFlag::S_IFCHR),
            Kind::Block => self.node(e, dir, leaf, SFlag::S_IFBLK),
            Kind::Fifo => self.node(e, dir, leaf, SFlag::S_IFIFO),
        }
    }

    /// The host owner of an entry.
    fn ids(&self, e: &Entry) -> Result<(Uid, Gid), UnpackError> {
        let host = |id: u64, kind: &'static str, map: Option<&[IdMapping]>| {
            let host = match map {
                Some(ranges) => map_id(ranges, id),
                None => u32::try_from(id).ok(),
            };
            // (uid_t)-1 means "unchanged" to chown.
            host.filter(|h| *h != u32::MAX).ok_or_else(|| UnpackError::IdNotMapped { path: e.name(), kind, id })
        };
        let map = self.opts.id_map.as_ref();
        let uid = host(e.uid, "uid", map.map(|m| m.uid.as_slice()))?;
        let gid = host(e.gid, "gid", map.map(|m| m.gid.as_slice()))?;
        Ok((Uid::from_raw(uid), Gid::from_raw(gid)))
    }

    /// An O_PATH descriptor of the directory `comps` (relative to `dest`), resolved inside `dest`.
    fn open_dir(&mut self, comps: &[&[u8]]) -> Result<OwnedFd, Errno> {
        if comps.is_empty() {
            return openat(&self.root, ".", OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty());
        }
        if self.use_openat2 {
            let path = comps.join(&b'/');
            let how = OpenHow::new()
                .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
                .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
            let mut tries = 0;
            loop {
                match openat2(&self.root, path.as_slice(), how) {
                    // A rename elsewhere on the filesystem made the kernel give up its `..` check.
                    Err(Errno::EAGAIN | Errno::EINTR) if tries < OPENAT2_TRIES => tries += 1,
                    Err(Errno::ENOSYS) => {
                        self.use_openat2 = false;
                        break;
                    }
                    r => return r,
                }
            }
        }
        walk_in_root(self.root.as_fd(), comps)
    }

    /// The directory an entry goes in, creating what is missing of it (0755, owned by the
    /// container's root), each new directory relative to the descriptor of the one above it.
    fn parent(&mut self, e: &Entry, dir: &[&[u8]]) -> Result<OwnedFd, UnpackError> {
        match self.open_dir(dir) {
            Err(Errno::ENOENT) => {}
            r => return r.map_err(|err| io_err(e, "opening the entry's directory", err)),
        }
        let mut cur = self.open_dir(&[]).map_err(|err| io_err(e, "opening the layer's root", err))?;
        let mut creating = false;
        for k in 0..dir.len() {
            if !creating {
                match self.open_dir(&dir[..=k]) {
                    Ok(fd) => {
                        cur = fd;
                        continue;
                    }
                    Err(Errno::ENOENT) => creating = true,
                    Err(err) => return Err(io_err(e, "opening the entry's directory", err)),
                }
            }
            match mkdirat(&cur, dir[k], Mode::S_IRWXU) {
                Ok(()) => {}
                // The name is there but does not resolve: a symlink to nothing.
                Err(Errno::EEXIST) => return Err(io_err(e, "opening the entry's directory (a symlink on the way points to nothing)", Errno::ENOENT)),
                Err(err) => return Err(io_err(e, "creating a missing directory above the entry", err)),
            }
            let fd = openat(&cur, dir[k], OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())
                .map_err(|err| io_err(e, "opening a directory created above the entry", err))?;
            if let Some(m) = &self.opts.id_map {
                if let (Some(uid), Some(gid)) = (m.host_uid(0), m.host_gid(0)) {
                    fchown(&fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
                        .map_err(|err| io_err(e, "chown of a directory created above the entry", err))?;
                }
            }
            fchmod(&fd, Mode::from_bits_truncate(0o755)).map_err(|err| io_err(e, "chmod of a directory created above the entry", err))?;
            cur = fd;
        }
        Ok(cur)
    }

    /// Removes what an earlier entry of the layer created at `leaf` (a directory with its contents).
    fn remove(&mut self, e: &Entry, parent: BorrowedFd, leaf: &[u8]) -> Result<(), UnpackError> {
        match unlinkat(parent, leaf, UnlinkatFlags::NoRemoveDir) {
            Ok(()) => Ok(()),
            Err(Errno::EISDIR) => remove_tree(parent, leaf, 0).map_err(|err| io_err(e, "removing the directory this entry replaces", err)),
            Err(err) => Err(io_err(e, "removing the earlier entry this one replaces", err)),
        }
    }

    /// Runs `create` and, if the name is taken, removes what is there and runs it again.
    fn create(&mut self, e: &Entry, parent: &OwnedFd, leaf: &[u8], op: &'static str, create: impl Fn() -> nix::Result<()>) -> Result<(), UnpackError> {
        match create() {
            Err(Errno::EEXIST) => {
                self.remove(e, parent.as_fd(), leaf)?;
                create().map_err(|err| io_err(e, op, err))
            }
            r => r.map_err(|err| io_err(e, op, err)),
        }
    }

    fn set_xattrs(&mut self, e: &Entry, node: Node) -> Result<(), UnpackError> {
        for (name, value) in &e.xattrs {
            match set_xattr(node, name, value) {
                Ok(()) => {}
                Err(Errno::ENOTSUP) => self.stats.xattrs_unsupported += 1,
                Err(err) => return Err(UnpackError::Xattr { path: e.name(), name: name.to_string_lossy().into_owned(), source: err.into() }),
            }
        }
        Ok(())
    }

    fn file<R: Read>(&mut self, e: &Entry, dir: &[&[u8]], leaf: &[u8], tar: &mut TarStream<R>) -> Result<(), UnpackError> {
        let (uid, gid) = self.ids(e)?;
        let parent = self.parent(e, dir)?;
        let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let open = || openat(&parent, leaf, flags, Mode::S_IRUSR | Mode::S_IWUSR);
        let fd = match open() {
            Err(Errno::EEXIST) => {
                self.remove(e, parent.as_fd(), leaf)?;
                open()
            }
            r => r,
        }
        .map_err(|err| io_err(e, "creating the file", err))?;
        let mut file = File::from(fd);
        loop {
            let n = tar.read_data(&mut self.buf).map_err(|err| read_error(&e.name(), e.at, err))?;
            if n == 0 {
                break;
            }
            file.write_all(&self.buf[..n]).map_err(|source| UnpackError::Io { path: e.name(), op: "writing the file", source })?;
            self.stats.bytes += n as u64;
        }
        // Owner, then xattrs (a chown or a write drops security.capability), then the mode (a chown
        // drops setuid and setgid), then the times.
        fchown(&file, Some(uid), Some(gid)).map_err(|err| io_err(e, "chown", err))?;
        self.set_xattrs(e, Node::Fd(file.as_fd()))?;
        fchmod(&file, Mode::from_bits_truncate(e.mode)).map_err(|err| io_err(e, "chmod", err))?;
        futimens(&file, &e.atime, &e.mtime).map_err(|err| io_err(e, "setting the times", err))
    }

    fn dir(&mut self, e: &Entry, comps: &[&[u8]]) -> Result<(), UnpackError> {
        let Some((&leaf, dir)) = comps.split_last() else {
            return self.root_dir(e);
        };
        let (uid, gid) = self.ids(e)?;
        let parent = self.parent(e, dir)?;
        // 0700 until the end: the layer's mode (0555, 0000) must not stop its own later entries.
        let mut over_whiteout = false;
        match mkdirat(&parent, leaf, Mode::S_IRWXU) {
            Ok(()) => {}
            Err(Errno::EEXIST) => {
                let st = fstatat(&parent, leaf, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(|err| io_err(e, "stat of the earlier entry", err))?;
                if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
                    over_whiteout = is_whiteout(&st);
                    self.remove(e, parent.as_fd(), leaf)?;
                    mkdirat(&parent, leaf, Mode::S_IRWXU).map_err(|err| io_err(e, "creating the directory", err))?;
                }
            }
            Err(err) => return Err(io_err(e, "creating the directory", err)),
        }
        let fd = openat(&parent, leaf, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|err| io_err(e, "opening the directory", err))?;
        if over_whiteout {
            // This layer deleted the lower `leaf` and made its own: it must not merge with the lower one.
            self.set_opaque(e, fd.as_fd())?;
        }
        self.dir_metadata(e, fd, uid, gid, comps)
    }

    /// A directory entry naming the root (`./`): its owner, mode and times become `dest`'s.
    fn root_dir(&mut self, e: &Entry) -> Result<(), UnpackError> {
        let (uid, gid) = self.ids(e)?;
        let fd = openat(&self.root, ".", OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|err| io_err(e, "opening the layer's root", err))?;
        self.dir_metadata(e, fd, uid, gid, &[])
    }

    fn dir_metadata(&mut self, e: &Entry, fd: OwnedFd, uid: Uid, gid: Gid, comps: &[&[u8]]) -> Result<(), UnpackError> {
        fchown(&fd, Some(uid), Some(gid)).map_err(|err| io_err(e, "chown", err))?;
        self.set_xattrs(e, Node::Fd(fd.as_fd()))?;
        let st = fstat(&fd).map_err(|err| io_err(e, "stat of the directory", err))?;
        self.dirs.push(DirMeta { path: comps.join(&b'/'), depth: comps.len(), dev: st.st_dev, ino: st.st_ino, mode: e.mode, atime: e.atime, mtime: e.mtime });
        Ok(())
    }

    fn set_opaque(&mut self, e: &Entry, dir: BorrowedFd) -> Result<(), UnpackError> {
        set_xattr(Node::Fd(dir), OPAQUE_XATTR, b"y").map_err(|err| UnpackError::Xattr {
            path: e.name(),
            name: OPAQUE_XATTR.to_string_lossy().into_owned(),
            source: err.into(),
        })?;
        self.stats.opaque_dirs += 1;
        Ok(())
    }

    fn symlink(&mut self, e: &Entry, dir: &[&[u8]], leaf: &[u8]) -> Result<(), UnpackError> {
        let invalid = |what| Err(UnpackError::InvalidPath { path: e.name(), what });
        if e.link.is_empty() {
            return invalid("a symlink with an empty target");
        }
        if e.link.contains(&0) {
            return invalid("a symlink target holding a NUL byte");
        }
        if e.link.len() > MAX_PATH {
            return invalid("a symlink target longer than PATH_MAX");
        }
        let (uid, gid) = self.ids(e)?;
        let parent = self.parent(e, dir)?;
        // The target is only text here: it is never followed when unpacking, except inside `dest`.
        self.create(e, &parent, leaf, "creating the symlink", || symlinkat(e.link.as_slice(), &parent, leaf))?;
        self.node_metadata(e, &parent, leaf, uid, gid, None)
    }

    fn node(&mut self, e: &Entry, dir: &[&[u8]], leaf: &[u8], kind: SFlag) -> Result<(), UnpackError> {
        let (uid, gid) = self.ids(e)?;
        let parent = self.parent(e, dir)?;
        self.create(e, &parent, leaf, "creating the device or fifo", || mknodat(&parent, leaf, kind, Mode::S_IRUSR | Mode::S_IWUSR, e.rdev))?;
        self.node_metadata(e, &parent, leaf, uid, gid, Some(e.mode))
    }

    /// Owner, xattrs, mode and times of what is at `leaf`, never following it.
    fn node_metadata(&mut self, e: &Entry, parent: &OwnedFd, leaf: &[u8], uid: Uid, gid: Gid, mode: Option<u32>) -> Result<(), UnpackError> {
        fchownat(parent, leaf, Some(uid), Some(gid), AtFlags::AT_SYMLINK_NOFOLLOW).map_err(|err| io_err(e, "chown", err))?;
        self.set_xattrs(e, Node::At(parent.as_fd(), leaf))?;
        if let Some(mode) = mode {
            let mode = Mode::from_bits_truncate(mode);
            match fchmodat(parent, leaf, mode, FchmodatFlags::NoFollowSymlink) {
                // An old C library without /proc cannot chmod without following: `leaf` is the
                // device or fifo just created in a directory nothing else writes to, never a symlink.
                Err(Errno::ENOTSUP) => fchmodat(parent, leaf, mode, FchmodatFlags::FollowSymlink),
                r => r,
            }
            .map_err(|err| io_err(e, "chmod", err))?;
        }
        utimensat(parent, leaf, &e.atime, &e.mtime, UtimensatFlags::NoFollowSymlink).map_err(|err| io_err(e, "setting the times", err))
    }

    fn hard_link(&mut self, e: &Entry, dir: &[&[u8]], leaf: &[u8]) -> Result<(), UnpackError> {
        let bad_target = |what: String| UnpackError::LinkTarget { path: e.name(), target: lossy(&e.link), what };
        let target = match normalize(&e.link) {
            Ok(t) => t,
            Err(PathProblem::Escapes) => return Err(bad_target("the target climbs above the layer's root".into())),
            Err(PathProblem::Invalid(what)) => return Err(bad_target(what.into())),
        };
        let Some((&target_leaf, target_dir)) = target.split_last() else {
            return Err(bad_target("the target is the layer's root".into()));
        };
        let missing = || bad_target("no such file in the layer (a hard link names an earlier entry of the same layer)".into());
        // The target's directory is resolved inside `dest` like any other; its last component is
        // not followed (linkat without AT_SYMLINK_FOLLOW links a symlink itself).
        let target_parent = match self.open_dir(target_dir) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Err(missing()),
            Err(err) => return Err(bad_target(format!("opening its directory: {}", io::Error::from(err)))),
        };
        let parent = self.parent(e, dir)?;
        let link = || linkat(&target_parent, target_leaf, &parent, leaf, AtFlags::empty());
        let linked = match link() {
            Err(Errno::EEXIST) => {
                let same = |fd: &OwnedFd, name: &[u8]| fstatat(fd, name, AtFlags::AT_SYMLINK_NOFOLLOW).map(|st| (st.st_dev, st.st_ino));
                match (same(&target_parent, target_leaf), same(&parent, leaf)) {
                    // A link to itself, or the same link again: nothing to do.
                    (Ok(a), Ok(b)) if a == b => return Ok(()),
                    (Err(Errno::ENOENT), _) => return Err(missing()),
                    _ => {}
                }
                self.remove(e, parent.as_fd(), leaf)?;
                link()
            }
            r => r,
        };
        match linked {
            Ok(()) => Ok(()),
            Err(Errno::ENOENT) => Err(missing()),
            Err(Errno::EPERM) => Err(bad_target("the target is a directory, or cannot be linked".into())),
            Err(err) => Err(bad_target(io::Error::from(err).to_string())),
        }
    }

    fn whiteout(&mut self, e: &Entry, dir: &[&[u8]], hidden: &[u8]) -> Result<(), UnpackError> {
        if hidden == OPAQUE_MARKER {
            let parent = self.parent(e, dir)?;
            let d = openat(&parent, ".", OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
                .map_err(|err| io_err(e, "opening the directory to make opaque", err))?;
            return self.set_opaque(e, d.as_fd());
        }
        if hidden.starts_with(WHITEOUT_PREFIX) {
            return Ok(()); // AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): nothing in overlayfs.
        }
        if hidden.is_empty() || hidden == b"." || hidden == b".." {
            return Err(UnpackError::InvalidPath { path: e.name(), what: "a whiteout that names no file" });
        }
        let parent = self.parent(e, dir)?;
        match mknodat(&parent, hidden, SFlag::S_IFCHR, Mode::empty(), 0) {
            Ok(()) => {
                self.stats.whiteouts += 1;
                Ok(())
            }
            // This layer has its own `hidden`: the whiteout hides only lower layers, which that entry
            // already does for a file; a directory must not merge with the lower one.
            Err(Errno::EEXIST) => {
                let st = fstatat(&parent, hidden, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(|err| io_err(e, "stat of the whited-out entry", err))?;
                if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
                    let d = openat(&parent, hidden, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())
                        .map_err(|err| io_err(e, "opening the whited-out directory", err))?;
                    self.set_opaque(e, d.as_fd())?;
                }
                Ok(())
            }
            Err(err) => Err(io_err(e, "creating the whiteout", err)),
        }
    }

    /// Sets the directories' final modes and times, deepest first (so that a parent's 0000 does not
    /// stop the walk to its children, and a child's change does not touch its parent's mtime after).
    /// A directory later replaced by another entry (its device and inode changed) is skipped.
    fn finish_dirs(&mut self) -> Result<(), UnpackError> {
        let mut dirs = std::mem::take(&mut self.dirs);
        dirs.sort_by_key(|d| std::cmp::Reverse(d.depth));
        for d in &dirs {
            let comps: Vec<&[u8]> = if d.path.is_empty() { Vec::new() } else { d.path.split(|b| *b == b'/').collect() };
            let name = lossy(&d.path);
            let err = |op, err: Errno| UnpackError::Io { path: name.clone(), op, source: err.into() };
            let fd = match comps.split_last() {
                None => openat(&self.root, ".", OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()),
                Some((&leaf, parent)) => match self.open_dir(parent) {
                    Ok(p) => openat(&p, leaf, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty()),
                    Err(e) => Err(e),
                },
            };
            let fd = match fd {
                Ok(fd) => fd,
                Err(Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP) => continue,
                Err(e) => return Err(err("opening the directory to set its mode and times", e)),
            };
            let st = fstat(&fd).map_err(|e| err("stat of the directory", e))?;
            if (st.st_dev, st.st_ino) != (d.dev, d.ino) {
                continue;
            }
            fchmod(&fd, Mode::from_bits_truncate(d.mode)).map_err(|e| err("chmod", e))?;
            futimens(&fd, &d.atime, &d.mtime).map_err(|e| err("setting the times", e))?;
        }
        Ok(())
    }
}

/// A whiteout in overlayfs format: a character device 0:0.
fn is_whiteout(st: &FileStat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == 0
}

/// Resolves the directory `comps` inside `root` without openat2: one component at a time, opened
/// O_PATH | O_NOFOLLOW relative to the directory before it; a symlink's target is read as text and
/// resolved the same way (from `root` when absolute), `..` goes back to the directory we came
/// from and never above `root`. So the kernel never follows a link for us, magic links included.
fn walk_in_root(root: BorrowedFd, comps: &[&[u8]]) -> Result<OwnedFd, Errno> {
    let mut todo: VecDeque<Vec<u8>> = comps.iter().map(|c| c.to_vec()).collect();
    let mut stack: Vec<OwnedFd> = Vec::new();
    let mut links = 0;
    while let Some(c) = todo.pop_front() {
        match c.as_slice() {
            b"" | b"." => continue,
            b".." => {
                stack.pop();
                continue;
            }
            _ => {}
        }
        let cur = stack.last().map_or(root, |fd| fd.as_fd());
        let fd = openat(cur, c.as_slice(), OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())?;
        let st = fstat(&fd)?;
        match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => stack.push(fd),
            libc::S_IFLNK => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Errno::ELOOP);
                }
                let target = readlinkat(&fd, "")?.into_vec();
                if target.first() == Some(&b'/') {
                    stack.clear();
                }
                for part in target.split(|b| *b == b'/').rev() {
                    todo.push_front(part.to_vec());
                }
            }
            _ => return Err(Errno::ENOTDIR),
        }
    }
    match stack.pop() {
        Some(fd) => Ok(fd),
        None => openat(root, ".", OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()),
    }
}

/// Removes the directory `name` in `parent` and everything in it, by descriptors, following no
/// symlink.
fn remove_tree(parent: BorrowedFd, name: &[u8], depth: u32) -> Result<(), Errno> {
    if depth > MAX_REMOVE_DEPTH {
        return Err(Errno::ELOOP);
    }
    let fd = openat(parent, name, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())?;
    let mut dir = Dir::from_fd(fd)?;
    let mut names = Vec::new();
    for entry in dir.iter() {
        let n = entry?.file_name().to_owned();
        if n.as_bytes() != b"." && n.as_bytes() != b".." {
            names.push(n);
        }
    }
    for n in &names {
        match unlinkat(&dir, n.as_c_str(), UnlinkatFlags::NoRemoveDir) {
            Err(Errno::EISDIR) => remove_tree(dir.as_fd(), n.as_bytes(), depth + 1)?,
            r => r?,
        }
    }
    drop(dir);
    unlinkat(parent, name, UnlinkatFlags::RemoveDir)
}

/// Sets one xattr on `node` without following a symlink.
fn set_xattr(node: Node, name: &CStr, value: &[u8]) -> Result<(), Errno> {
    let r = match node {
        // SAFETY: `fd` is an open descriptor for the duration of the call, `name` is NUL-terminated,
        // and `value` points to `value.len()` readable bytes; the kernel only reads them.
        Node::Fd(fd) => unsafe { libc::fsetxattr(fd.as_raw_fd(), name.as_ptr(), value.as_ptr().cast(), value.len(), 0) },
        Node::At(dir, leaf) => {
            // No descriptor of a symlink or device can take an xattr: its name under the directory's
            // descriptor, through /proc/self/fd, with lsetxattr so that the last component is not
            // followed (the directory is the one already resolved inside `dest`).
            let mut path = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
            path.extend_from_slice(leaf);
            let path = CString::new(path).map_err(|_| Errno::EINVAL)?;
            // SAFETY: `path` and `name` are NUL-terminated, `value` points to `value.len()` readable
            // bytes; the kernel only reads them.
            unsafe { libc::lsetxattr(path.as_ptr(), name.as_ptr(), value.as_ptr().cast(), value.len(), 0) }
        }
    };
    Errno::result(r).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalized_or_refused() {
        let n = |s: &[u8]| normalize(s).map(|c| c.join(&b'/'));
        assert_eq!(n(b"a/b/c"), Ok(b"a/b/c".to_vec()));
        assert_eq!(n(b"/etc//passwd"), Ok(b"etc/passwd".to_vec()));
        assert_eq!(n(b"./a/./b/"), Ok(b"a/b".to_vec()));
        assert_eq!(n(b"a/../b"), Ok(b"b".to_vec()));
        assert_eq!(n(b"./"), Ok(Vec::new()));
        assert_eq!(n(b"../../etc/x"), Err(PathProblem::Escapes));
        assert_eq!(n(b"a/../../x"), Err(PathProblem::Escapes));
        assert_eq!(n(b"/.."), Err(PathProblem::Escapes));
        assert!(matches!(n(b""), Err(PathProblem::Invalid(_))));
        assert!(matches!(n(b"a\0b"), Err(PathProblem::Invalid(_))));
        assert!(matches!(n(&[b'a'; MAX_PATH + 1]), Err(PathProblem::Invalid(_))));
        assert!(n(&[b'a'; MAX_PATH]).is_ok());
    }

    #[test]
    fn pax_records_may_hold_newlines_and_any_byte() {
        let value = b"\x01\x00\x00\x02\n\x20\x00\x00";
        let mut rec = b"SCHILY.xattr.security.capability=".to_vec();
        rec.extend_from_slice(value);
        rec.push(b'\n');
        let data = [format!("{} ", rec.len() + 3).into_bytes(), rec, b"12 path=a/b\n".to_vec()].concat();
        let records = parse_pax(&data).expect("parse");
        assert_eq!(records, vec![(&b"SCHILY.xattr.security.capability"[..], &value[..]), (&b"path"[..], &b"a/b"[..])]);
        assert!(parse_pax(b"99 path=a\n").is_err());
        assert_eq!(parse_pax(b"9 path=a\n"), Ok(vec![(&b"path"[..], &b"a"[..])]));
        assert!(parse_pax(b"8 path=a\n").is_err()); // one byte short: no newline at its end
        assert!(parse_pax(b"x path=a\n").is_err());
        assert!(parse_pax(b"9 patha\n\n").is_err());
        assert_eq!(parse_pax(b"10 path=a\n\0\0\0").expect("padded").len(), 1);
    }

    #[test]
    fn pax_times() {
        assert_eq!(pax_time(b"1700000000"), Some(TimeSpec::new(1_700_000_000, 0)));
        assert_eq!(pax_time(b"1700000000.25"), Some(TimeSpec::new(1_700_000_000, 250_000_000)));
        assert_eq!(pax_time(b"1.1234567899"), Some(TimeSpec::new(1, 123_456_789)));
        assert_eq!(pax_time(b"-1.5"), Some(TimeSpec::new(-2, 500_000_000)));
        assert_eq!(pax_time(b"-3"), Some(TimeSpec::new(-3, 0)));
        assert_eq!(pax_time(b""), None);
        assert_eq!(pax_time(b"1e9"), None);
        assert_eq!(pax_time(b"99999999999999999999"), None);
    }

    #[test]
    fn media_types() {
        assert_eq!(media_type_compression("application/vnd.oci.image.layer.v1.tar+gzip").ok(), Some(Compression::Gzip));
        assert_eq!(media_type_compression("application/vnd.oci.image.layer.v1.tar+zstd").ok(), Some(Compression::Zstd));
        assert_eq!(media_type_compression("application/vnd.oci.image.layer.v1.tar").ok(), Some(Compression::None));
        assert_eq!(media_type_compression("application/vnd.docker.image.rootfs.diff.tar.gzip").ok(), Some(Compression::Gzip));
        assert_eq!(media_type_compression("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip").ok(), Some(Compression::Gzip));
        assert_eq!(media_type_compression("application/vnd.oci.image.layer.nondistributable.v1.tar+zstd").ok(), Some(Compression::Zstd));
        assert!(media_type_compression("application/vnd.oci.image.layer.v1.tar+gzip+encrypted").is_err());
        assert!(media_type_compression("application/vnd.oci.image.config.v1+json").is_err());
    }

    #[test]
    fn id_shift() {
        let m =
            IdShift { uid: vec![IdMapping { container_id: 0, host_id: 100_000, size: 65536 }], gid: vec![IdMapping { container_id: 10, host_id: 5, size: 1 }] };
        assert_eq!(m.host_uid(0), Some(100_000));
        assert_eq!(m.host_uid(65535), Some(165_535));
        assert_eq!(m.host_uid(65536), None);
        assert_eq!(m.host_gid(10), Some(5));
        assert_eq!(m.host_gid(9), None);
        assert_eq!(m.host_gid(11), None);
        let top = IdShift::single(u32::MAX - 1, 10);
        assert_eq!(top.host_uid(1), Some(u32::MAX));
        assert_eq!(top.host_uid(2), None, "past u32 on the host");
    }

    #[test]
    fn checksums() {
        let mut h = tar::Header::new_ustar();
        h.set_path("a").expect("path");
        h.set_cksum();
        let stored = h.cksum().expect("cksum") as u64;
        assert!(checksum_matches(h.as_bytes(), stored));
        assert!(!checksum_matches(h.as_bytes(), stored + 1));
    }

    // The walk used where the kernel has no openat2, against the same attacks as the integration
    // tests (tests/unpack.rs), which go through openat2.
    mod without_openat2 {
        use super::*;
        use std::fs;
        use std::os::unix::fs::{MetadataExt, PermissionsExt};

        fn entry(b: &mut tar::Builder<Vec<u8>>, kind: tar::EntryType, name: &str, link: &str, data: &[u8]) {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(kind);
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
            h.set_mode(if kind == tar::EntryType::Directory { 0o755 } else { 0o644 });
            h.set_size(data.len() as u64);
            h.set_cksum();
            b.append(&h, data).expect("append");
        }

        struct Sandbox {
            _tmp: tempfile::TempDir,
            dest: PathBuf,
            outside: PathBuf,
        }

        fn sandbox() -> Sandbox {
            let tmp = tempfile::tempdir().expect("tempdir");
            let dest = tmp.path().join("dest");
            let outside = tmp.path().join("outside");
            fs::create_dir(&dest).expect("dest");
            fs::create_dir(&outside).expect("outside");
            fs::write(outside.join("canary"), "canary").expect("canary");
            Sandbox { _tmp: tmp, dest, outside }
        }

        impl Sandbox {
            fn unpack(&self, build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Result<UnpackStats, UnpackError> {
                let mut b = tar::Builder::new(Vec::new());
                build(&mut b);
                let data = b.into_inner().expect("tar");
                unpack(data.as_slice(), None, &self.dest, &UnpackOptions::default(), false)
            }

            fn outside_untouched(&self) {
                let names: Vec<_> = fs::read_dir(&self.outside).expect("outside").map(|e| e.expect("entry").file_name()).collect();
                assert_eq!(names, vec![std::ffi::OsString::from("canary")]);
                let canary = self.outside.join("canary");
                assert_eq!(fs::read_to_string(&canary).expect("canary"), "canary");
                assert_eq!(fs::symlink_metadata(&canary).expect("canary").nlink(), 1);
            }
        }

        use tar::EntryType::{Directory, Link, Regular, Symlink};

        #[test]
        fn absolute_symlinks_resolve_inside_dest() {
            let s = sandbox();
            let out = s.outside.to_str().expect("utf-8").to_string();
            let r = s.unpack(|b| {
                entry(b, Symlink, "evil", &out, b"");
                entry(b, Regular, "evil/canary", "", b"owned");
            });
            assert!(matches!(r, Err(UnpackError::Io { .. })), "{r:?}");
            s.outside_untouched();

            let s = sandbox();
            s.unpack(|b| {
                entry(b, Symlink, "root", "/", b"");
                entry(b, Symlink, "up", "../../../..", b"");
                entry(b, Directory, "up/outside", "", b"");
                entry(b, Symlink, "a", "b", b"");
                entry(b, Symlink, "b", "/root/up/outside", b"");
                entry(b, Regular, "a/canary", "", b"inside");
                entry(b, Regular, "root/top", "", b"top");
            })
            .expect("unpack");
            assert_eq!(fs::read_to_string(s.dest.join("outside/canary")).expect("inside"), "inside");
            assert_eq!(fs::read_to_string(s.dest.join("top")).expect("top"), "top");
            s.outside_untouched();
        }

        #[test]
        fn hard_links_through_symlinks_stay_inside() {
            let s = sandbox();
            let out = s.outside.to_str().expect("utf-8").to_string();
            let r = s.unpack(|b| {
                entry(b, Symlink, "evil", &out, b"");
                entry(b, Link, "x", "evil/canary", b"");
            });
            assert!(matches!(r, Err(UnpackError::LinkTarget { .. })), "{r:?}");
            s.outside_untouched();

            let s = sandbox();
            let r = s.unpack(|b| {
                entry(b, Symlink, "evil", "../outside", b"");
                entry(b, Link, "x", "evil/canary", b"");
            });
            assert!(matches!(r, Err(UnpackError::LinkTarget { .. })), "{r:?}");
            s.outside_untouched();
        }

        #[test]
        fn loops_and_modes() {
            let s = sandbox();
            let r = s.unpack(|b| {
                entry(b, Symlink, "a", "b", b"");
                entry(b, Symlink, "b", "a", b"");
                entry(b, Regular, "a/f", "", b"");
            });
            assert!(matches!(&r, Err(UnpackError::Io { source, .. }) if source.raw_os_error() == Some(libc::ELOOP)), "{r:?}");

            let s = sandbox();
            s.unpack(|b| {
                let mut h = tar::Header::new_ustar();
                h.set_entry_type(Directory);
                h.set_path("ro").expect("path");
                h.set_mode(0o555);
                h.set_size(0);
                h.set_cksum();
                b.append(&h, &b""[..]).expect("append");
                entry(b, Regular, "ro/f", "", b"f");
            })
            .expect("unpack");
            assert_eq!(fs::metadata(s.dest.join("ro")).expect("ro").permissions().mode() & 0o7777, 0o555);
            assert_eq!(fs::read_to_string(s.dest.join("ro/f")).expect("f"), "f");
        }
    }
}
