//! Block file I/O: `O_DIRECT` writes that move data from our buffers to the
//! disk without a copy through the page cache, and sequential reads through
//! it.
//!
//! Why direct writes: a datanode writes each block once and rarely reads it
//! back soon, so the page cache buys nothing, and filling it is the most
//! expensive part of a write (on the virtual machines measured in
//! `docs/BENCHMARKS.md`, buffered writes of new data ran at a third of the
//! speed of direct ones). Why buffered reads: see [`open_read`]; on an
//! earlier, busier host cold buffered reads had measured slower than direct
//! ones, on this one they are twice as fast, because readahead keeps the
//! disk busy while a direct reader waits for each request.
//!
//! Direct I/O needs buffers, offsets and lengths aligned to the device's
//! block size. [`DirectBuf`] gives aligned memory without `unsafe` (an
//! over-allocated `Vec` used from its first aligned byte); a write whose
//! length is not aligned (a block's tail) switches the file back to buffered
//! I/O first. Where the file system refuses `O_DIRECT` (tmpfs, some FUSE
//! mounts), everything falls back to buffered I/O: slower, never wrong.
//! Durability is unchanged: the block is still `fsync`ed before it is
//! acknowledged (direct writes skip the page cache, not the device cache).
use bytes::Bytes;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Alignment for direct I/O: the largest logical block size in use (4 KiB
/// sectors; 512-byte devices accept it too).
pub const ALIGN: usize = 4096;

/// An aligned buffer of fixed capacity, filled from the front. Its memory
/// is never zeroed: only bytes copied in are ever part of it (a block of a
/// few KiB does not pay for clearing a whole MiB).
pub struct DirectBuf {
    /// `start` bytes of padding, then the data; never grows past its
    /// capacity, so it never moves.
    mem: Vec<u8>,
    start: usize,
    cap: usize,
}

impl DirectBuf {
    pub fn new(cap: usize) -> Self {
        let mut mem: Vec<u8> = Vec::with_capacity(cap + ALIGN);
        let start = mem.as_ptr().align_offset(ALIGN).min(ALIGN);
        mem.resize(start, 0);
        DirectBuf { mem, start, cap }
    }

    pub fn capacity(&self) -> usize {
        self.cap
    }

    pub fn len(&self) -> usize {
        self.mem.len() - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_full(&self) -> bool {
        self.len() == self.cap
    }

    pub fn clear(&mut self) {
        self.mem.truncate(self.start);
    }

    /// Copies as much of `data` as fits; returns how much that was.
    pub fn fill_from(&mut self, data: &[u8]) -> usize {
        let take = (self.cap - self.len()).min(data.len());
        self.mem.extend_from_slice(&data[..take]);
        take
    }

    pub fn filled(&self) -> &[u8] {
        &self.mem[self.start..]
    }

    pub fn filled_mut(&mut self) -> &mut [u8] {
        &mut self.mem[self.start..]
    }
}

/// A block file being written, directly while it can.
pub struct DirectWriter {
    file: File,
    direct: bool,
}

impl DirectWriter {
    /// Creates `path` (which must not exist), for direct writes if the file
    /// system allows them.
    pub fn create_new(path: &Path) -> io::Result<Self> {
        match open_direct(OpenOptions::new().write(true).create_new(true), path) {
            Ok(file) => Ok(DirectWriter { file, direct: true }),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                // Refused for O_DIRECT: the file may have been created anyway.
                let _ = std::fs::remove_file(path);
                let file = File::create_new(path)?;
                Ok(DirectWriter {
                    file,
                    direct: false,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Creates `path` (which must not exist) for writes through the page
    /// cache (for comparisons).
    pub fn create_buffered(path: &Path) -> io::Result<Self> {
        Ok(DirectWriter {
            file: File::create_new(path)?,
            direct: false,
        })
    }

    /// Whether writes still bypass the page cache.
    pub fn is_direct(&self) -> bool {
        self.direct
    }

    /// Appends `data`: directly if it is aligned, else buffered from now on
    /// (only a block's last piece is ever unaligned).
    pub fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        if self.direct {
            let aligned =
                data.len().is_multiple_of(ALIGN) && (data.as_ptr() as usize).is_multiple_of(ALIGN);
            if aligned {
                match self.file.write_all(data) {
                    Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                        // Refused before anything was written (alignment is
                        // checked first): carry on buffered.
                        log::debug!("direct write refused ({e}); writing through the page cache");
                    }
                    other => return other,
                }
            }
            self.set_buffered()?;
        }
        self.file.write_all(data)
    }

    fn set_buffered(&mut self) -> io::Result<()> {
        set_direct_flag(&self.file, false)?;
        self.direct = false;
        Ok(())
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    pub fn into_file(self) -> File {
        self.file
    }
}

/// A new local file written as a stream (`std::io::Write`) in large
/// aligned pieces past the page cache: what a download writes to. Bytes
/// gather in an aligned buffer of [`STREAM_PIECE`] and go to the disk
/// directly when it is full; `flush` writes what is left (the file's
/// unaligned tail, through the page cache). Filling the page cache with a
/// large file costs more than the disk write itself on the machines
/// measured (`docs/BENCHMARKS.md`), and the pages would only push out others.
pub struct DirectStream {
    writer: DirectWriter,
    buf: DirectBuf,
}

/// The size of each direct write of a [`DirectStream`].
pub const STREAM_PIECE: usize = 4 << 20;

impl DirectStream {
    /// Creates `path`, which must not exist.
    pub fn create_new(path: &Path) -> io::Result<Self> {
        Ok(DirectStream {
            writer: DirectWriter::create_new(path)?,
            buf: DirectBuf::new(STREAM_PIECE),
        })
    }

    /// The file, with everything written so far (call `flush` first).
    pub fn into_file(self) -> File {
        self.writer.into_file()
    }
}

impl Write for DirectStream {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.buf.fill_from(data);
        if self.buf.is_full() {
            self.writer.write_all(self.buf.filled())?;
            self.buf.clear();
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.writer.write_all(self.buf.filled())?;
            self.buf.clear();
        }
        Ok(())
    }
}

/// Opens `path` for reading through the page cache, with the kernel told
/// that reads will be sequential (a wider readahead).
///
/// Reads are not direct: the kernel's readahead keeps several requests in
/// flight, while a direct read waits for each one. Measured on this machine
/// (`docs/BENCHMARKS.md`), blocks just written directly read back cold at
/// 2.6–3.4 GB/s through the page cache and at 1.2–1.8 GB/s directly, with 1,
/// 2 or 4 direct reads in flight; the copy out of the page cache costs less
/// than the wait.
pub fn open_read(path: &Path) -> io::Result<File> {
    let file = File::open(path)?;
    advise(&file, 0, 0, Advice::Sequential);
    Ok(file)
}

/// Tells the kernel that `len` bytes from `offset` will not be read again
/// soon, so that their cached pages go before other files' (a block scan
/// should not push hot blocks out of memory). Best effort.
pub fn drop_cached(file: &File, offset: u64, len: u64) {
    advise(file, offset, len, Advice::DontNeed);
}

enum Advice {
    Sequential,
    DontNeed,
}

#[cfg(target_os = "linux")]
fn advise(file: &File, offset: u64, len: u64, advice: Advice) {
    use std::os::fd::AsRawFd;
    let advice = match advice {
        Advice::Sequential => libc::POSIX_FADV_SEQUENTIAL,
        Advice::DontNeed => libc::POSIX_FADV_DONTNEED,
    };
    let (Ok(offset), Ok(len)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
        return;
    };
    // SAFETY: posix_fadvise only passes a hint about a descriptor we own for
    // the call; no memory is involved. A failure changes nothing we rely on.
    let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), offset, len, advice) };
    if rc != 0 {
        log::debug!("posix_fadvise: {}", io::Error::from_raw_os_error(rc));
    }
}

#[cfg(not(target_os = "linux"))]
fn advise(_file: &File, _offset: u64, _len: u64, _advice: Advice) {}

/// Reads up to `len` bytes at `offset` (both multiples of [`ALIGN`] unless
/// `len` reaches the end of the file, as direct reads would need) into fresh
/// aligned memory, without
/// zeroing it first. Returns fewer bytes only at the end of the file.
pub fn read_at(file: &File, offset: u64, len: usize) -> io::Result<Bytes> {
    use std::os::fd::AsRawFd;
    // Direct reads want whole aligned blocks; a read past the end of the
    // file just comes back short.
    let want = len.div_ceil(ALIGN) * ALIGN;
    let mut mem: Vec<u8> = Vec::with_capacity(want + ALIGN);
    let start = mem.as_ptr().align_offset(ALIGN).min(ALIGN);
    mem.resize(start, 0);
    let mut got = 0usize;
    while got < want {
        let at = offset + got as u64;
        let Ok(pos) = libc::off_t::try_from(at) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "offset too large",
            ));
        };
        let spare = mem.spare_capacity_mut();
        let room = want - got;
        debug_assert!(spare.len() >= room);
        // SAFETY: `spare` is this Vec's unused capacity, at least `room`
        // bytes long; pread writes at most `room` bytes into it and returns
        // how many, and only those become part of the Vec (set_len below).
        let n = unsafe { libc::pread(file.as_raw_fd(), spare.as_mut_ptr().cast(), room, pos) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        let n = n as usize;
        if n == 0 {
            break; // end of file
        }
        // SAFETY: pread initialised exactly `n` more bytes after the length.
        unsafe { mem.set_len(mem.len() + n) };
        got += n;
        if !n.is_multiple_of(ALIGN) {
            break; // a short read ends at the end of the file
        }
    }
    let got = got.min(len);
    Ok(Bytes::from(mem).slice(start..start + got))
}

#[cfg(target_os = "linux")]
fn open_direct(opts: &mut OpenOptions, path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    opts.custom_flags(libc::O_DIRECT).open(path)
}

#[cfg(not(target_os = "linux"))]
fn open_direct(opts: &mut OpenOptions, path: &Path) -> io::Result<File> {
    opts.open(path)
}

#[cfg(target_os = "linux")]
fn set_direct_flag(file: &File, on: bool) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own for the call; no memory involved.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    let flags = if on {
        flags | libc::O_DIRECT
    } else {
        flags & !libc::O_DIRECT
    };
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn set_direct_flag(_file: &File, _on: bool) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 131 % 251) as u8).collect()
    }

    #[test]
    fn buffers_are_aligned_and_fill_up() {
        let mut b = DirectBuf::new(3 * ALIGN);
        let at = b.filled().as_ptr();
        assert_eq!(at as usize % ALIGN, 0);
        assert_eq!(b.fill_from(&data(ALIGN)), ALIGN);
        assert!(!b.is_full());
        assert_eq!(b.fill_from(&data(5 * ALIGN)), 2 * ALIGN);
        assert!(b.is_full());
        assert_eq!(b.filled().len(), 3 * ALIGN);
        assert_eq!(b.filled().as_ptr(), at, "the data never moves");
        b.clear();
        assert!(b.is_empty());
    }

    #[test]
    fn aligned_then_unaligned_writes_read_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blk");
        let want = data(5 * ALIGN + 1234);
        let mut w = DirectWriter::create_new(&path).unwrap();
        let mut buf = DirectBuf::new(2 * ALIGN);
        let mut rest = &want[..];
        while !rest.is_empty() {
            let n = buf.fill_from(rest);
            rest = &rest[n..];
            if buf.is_full() || rest.is_empty() {
                w.write_all(buf.filled()).unwrap();
                buf.clear();
            }
        }
        assert!(!w.is_direct(), "the unaligned tail switches to buffered");
        w.into_file().sync_all().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), want);

        let f = open_read(&path).unwrap();
        assert_eq!(read_at(&f, 0, want.len()).unwrap(), want);
        assert_eq!(
            &read_at(&f, ALIGN as u64, ALIGN).unwrap()[..],
            &want[ALIGN..2 * ALIGN]
        );
        let tail = read_at(&f, 4 * ALIGN as u64, 10 * ALIGN).unwrap();
        assert_eq!(
            &tail[..],
            &want[4 * ALIGN..],
            "a read past the end is short"
        );
        assert!(read_at(&f, 8 * ALIGN as u64, ALIGN).unwrap().is_empty());
    }

    #[test]
    fn a_stream_writes_any_pieces_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let want = data(2 * STREAM_PIECE + 3 * ALIGN + 17);
        let mut w = DirectStream::create_new(&path).unwrap();
        // Pieces of odd sizes, across the buffer's edges.
        let mut at = 0;
        for (i, len) in [1usize, 4095, 700_001, 3 << 20, 5]
            .iter()
            .cycle()
            .enumerate()
        {
            if at == want.len() {
                break;
            }
            let end = (at + len + i).min(want.len());
            w.write_all(&want[at..end]).unwrap();
            at = end;
        }
        w.flush().unwrap();
        w.into_file().sync_all().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), want);
        assert!(
            DirectStream::create_new(&path).is_err(),
            "it must not exist"
        );
    }

    #[test]
    fn create_new_refuses_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blk");
        std::fs::write(&path, b"x").unwrap();
        assert!(DirectWriter::create_new(&path).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"x");
    }
}
