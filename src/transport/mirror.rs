//! A worker's mirror: the events it has buffered and not yet written, in a
//! file both processes map, so that the runner learns how far a case got
//! even when the worker dies or is killed before it wrote them (see
//! [`super::child`]'s `Output`). Written by the child, read by the parent.

use super::protocol::Event;
use std::path::Path;

/// Where a worker's mirror is: a file named by its process id, in memory
/// where the system has /dev/shm.
pub fn mirror_path(pid: u32) -> std::path::PathBuf {
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
    dir.join(format!("wasm-matrix-unwritten-{pid}"))
}

/// The events a worker has buffered and not yet written: a length (u64)
/// and that many bytes of event lines, in a file both processes map. A line
/// that does not fit is written at once instead.
pub(super) struct Mirror {
    map: *mut u8,
}

// SAFETY: the map is only touched under the Output's mutex.
unsafe impl Send for Mirror {}

impl Mirror {
    pub(super) const SIZE: usize = 1 << 20;

    /// Made only under a runner (which unlinks it when the worker is ready).
    pub(super) fn create() -> Option<Mirror> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = mirror_path(std::process::id());
        let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).mode(0o600).open(&path).ok()?;
        file.set_len(Self::SIZE as u64).ok()?;
        use std::os::fd::AsRawFd;
        // SAFETY: a fresh shared mapping of a file we own, of its length.
        let map = unsafe { libc::mmap(std::ptr::null_mut(), Self::SIZE, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, file.as_raw_fd(), 0) };
        if map == libc::MAP_FAILED {
            let _ = std::fs::remove_file(&path);
            return None;
        }
        Some(Mirror { map: map.cast() })
    }

    fn len(&self) -> usize {
        // SAFETY: the first 8 bytes of the mapping are the length.
        unsafe { std::ptr::read_volatile(self.map.cast::<u64>()) as usize }
    }

    fn set_len(&mut self, len: usize) {
        // SAFETY: as in `len`.
        unsafe { std::ptr::write_volatile(self.map.cast::<u64>(), len as u64) }
    }

    /// Appends a line; false if it does not fit.
    pub(super) fn append(&mut self, line: &[u8]) -> bool {
        let len = self.len();
        if 8 + len + line.len() > Self::SIZE {
            return false;
        }
        // SAFETY: in bounds of the mapping, checked above; the length is
        // stored after the bytes, so a reader never sees a torn line.
        unsafe { std::ptr::copy_nonoverlapping(line.as_ptr(), self.map.add(8 + len), line.len()) };
        self.set_len(len + line.len());
        true
    }

    pub(super) fn clear(&mut self) {
        self.set_len(0);
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `create`.
        unsafe { libc::munmap(self.map.cast(), Self::SIZE) };
    }
}

/// The runner's side: the events in a worker's mirror.
pub(super) fn read_mirror(file: &std::fs::File) -> Vec<Event> {
    use std::os::unix::fs::FileExt;
    let mut len = [0u8; 8];
    if file.read_exact_at(&mut len, 0).is_err() {
        return Vec::new();
    }
    let len = (u64::from_ne_bytes(len) as usize).min(Mirror::SIZE - 8);
    let mut text = vec![0u8; len];
    if file.read_exact_at(&mut text, 8).is_err() {
        return Vec::new();
    }
    text.split(|b| *b == b'\n').filter_map(|l| serde_json::from_slice(l).ok()).collect()
}


#[cfg(test)]
mod tests {
    #[test]
    fn the_mirror_holds_what_was_not_written_until_it_is() {
        use super::{read_mirror, Mirror};
        use crate::transport::protocol::Event;
        let mut m = Mirror::create().expect("a mirror in /dev/shm or the temp dir");
        let file = std::fs::File::open(super::mirror_path(std::process::id())).unwrap();
        let _ = std::fs::remove_file(super::mirror_path(std::process::id()));
        let step = Event::Step { id: 3, index: 0, outcome: crate::outcome::RawOutcome::Ok, us: Some(2) };
        let done = Event::Done { id: 3, us: 5, cpu_us: Some(4), cross_origin_isolated: None };
        for ev in [&step, &done] {
            let mut line = serde_json::to_vec(ev).unwrap();
            line.push(b'\n');
            assert!(m.append(&line));
        }
        assert_eq!(read_mirror(&file), [step, done]);
        // Written out: nothing left to recover.
        m.clear();
        assert_eq!(read_mirror(&file), []);
        // A line past its size does not go in.
        assert!(!m.append(&vec![b'x'; Mirror::SIZE]));
    }
}
