//! Helpers shared by the crate's tests.

use crate::dump::dump_log;
use crate::log::{LogConfig, Record, TxnLog};
use crate::recovery::{recover, Recovered, RecoveryConfig};
use crate::Zxid;
use std::fs;
use std::path::{Path, PathBuf};

pub const MAX_RECORD: usize = 1024;

pub fn config(dir: &Path, file_size: u64) -> LogConfig {
    let mut cfg = LogConfig::new(dir);
    cfg.file_size = file_size;
    cfg.max_record_bytes = MAX_RECORD;
    cfg.max_batch_bytes = 64 * 1024;
    cfg.prefault_bytes = 8192;
    cfg
}

/// A deterministic payload whose length varies with the zxid.
pub fn payload(zxid: Zxid) -> Vec<u8> {
    let len = (zxid as usize * 37) % 200 + 1;
    (0..len)
        .map(|i| (zxid as u8).wrapping_mul(31).wrapping_add(i as u8) | 1)
        .collect()
}

pub fn append(log: &mut TxnLog, zxids: std::ops::RangeInclusive<Zxid>) {
    let payloads: Vec<_> = zxids.map(|z| (z, payload(z))).collect();
    let records: Vec<_> = payloads
        .iter()
        .map(|(z, p)| Record {
            zxid: *z,
            payload: p,
        })
        .collect();
    log.append(&records).unwrap();
}

pub fn recovery_config(dir: &Path) -> RecoveryConfig {
    let mut cfg = RecoveryConfig::new(dir, dir);
    cfg.max_record_bytes = MAX_RECORD;
    cfg
}

pub fn recover_all(dir: &Path) -> (Recovered, Vec<(Zxid, Vec<u8>)>) {
    let recovered = recover(&recovery_config(dir)).unwrap();
    let records = replayed(&recovered);
    (recovered, records)
}

pub fn replayed(recovered: &Recovered) -> Vec<(Zxid, Vec<u8>)> {
    let mut records = Vec::new();
    recovered
        .replay(|z, p| {
            records.push((z, p.to_vec()));
            Ok::<_, ()>(())
        })
        .unwrap();
    records
}

pub fn expected(zxids: std::ops::RangeInclusive<Zxid>) -> Vec<(Zxid, Vec<u8>)> {
    zxids.map(|z| (z, payload(z))).collect()
}

pub fn log_files(dir: &Path) -> Vec<PathBuf> {
    crate::fsutil::list_zxid_files(&crate::fsutil::version_dir(dir), "log")
        .unwrap()
        .into_iter()
        .map(|(_, p)| p)
        .collect()
}

/// (offset, zxid, payload length) of every frame of a file.
pub fn frames(path: &Path) -> Vec<(u64, Zxid, u32)> {
    dump_log(path, MAX_RECORD)
        .unwrap()
        .records
        .iter()
        .map(|r| (r.offset, r.zxid, r.payload_len))
        .collect()
}

pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

pub fn flip_bit(path: &Path, offset: u64, bit: u8) {
    let mut bytes = fs::read(path).unwrap();
    bytes[offset as usize] ^= 1 << bit;
    fs::write(path, bytes).unwrap();
}

pub fn zero_from(path: &Path, from: u64) {
    let mut bytes = fs::read(path).unwrap();
    let from = (from as usize).min(bytes.len());
    bytes[from..].fill(0);
    fs::write(path, bytes).unwrap();
}

/// One record per zxid of `zxids`, each with the same `payload`.
pub fn records(zxids: std::ops::Range<Zxid>, payload: &[u8]) -> Vec<Record<'_>> {
    zxids.map(|zxid| Record { zxid, payload }).collect()
}

/// Which pages of the file at `path` are in the page cache (`mincore` on a
/// fresh read-only mapping, which faults nothing in).
pub fn cached_pages(path: &Path) -> Vec<bool> {
    let file = fs::File::open(path).unwrap();
    // SAFETY: a read-only look at a file the test owns.
    let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
    let pages = map.len().div_ceil(4096);
    let mut vec = vec![0u8; pages];
    // SAFETY: a live, page-aligned mapping and one out-byte per page.
    let rc = unsafe { libc::mincore(map.as_ptr() as *mut _, map.len(), vec.as_mut_ptr()) };
    assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
    vec.iter().map(|b| b & 1 == 1).collect()
}

/// Whether the file system at `dir` drops synced pages on
/// `POSIX_FADV_DONTNEED` (tmpfs keeps them: they are the file).
pub fn evicts_page_cache(dir: &Path) -> bool {
    use std::io::Write;
    let path = dir.join("evict-probe");
    let mut file = fs::File::create(&path).unwrap();
    file.write_all(&[1u8; 8192]).unwrap();
    file.sync_all().unwrap();
    crate::fsutil::drop_cached(&file, 0..8192).unwrap();
    let evicted = cached_pages(&path).iter().all(|&r| !r);
    fs::remove_file(&path).unwrap();
    evicted
}
