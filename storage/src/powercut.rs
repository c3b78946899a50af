//! A disk that loses power on command: every byte written since the last sync is dropped.
//!
//! [`PowerCutDisk`] is the disk; [`PowerCutDisk::backend`] hands redb a [`redb::StorageBackend`]
//! over it. Writes land in a page-cache image at once (reads see them) and are kept apart until
//! `sync_data`, which moves them to the durable image. [`PowerCutDisk::cut`] throws away what
//! was not synced — all of it, or (like a real disk that reorders its queue) a random part —
//! and turns the power off for every backend handed out so far: the old database can no
//! longer touch the disk, and a new one opened on [`PowerCutDisk::backend`] sees what a reboot
//! would. [`PowerCutDisk::cut_after_writes`] arms a deterministic crash point: the Nth write
//! from now fails and cuts the power, which is how tests walk thousands of crash points.
//!
//! This harness must prove itself (else every power-cut test passes): its tests show that an
//! unsynced write, and a non-durable commit, really are gone after a cut.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

/// What a cut keeps of the writes since the last sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Nothing: the disk is exactly as at the last sync.
    Nothing,
    /// Each unsynced write survives or not by a coin flip from this seed (writes reach the
    /// platter in any order before a cache flush).
    Some(u64),
}

#[derive(Debug, Clone)]
enum Op {
    Write { offset: usize, data: Vec<u8> },
    SetLen(usize),
}

impl Op {
    fn apply(&self, image: &mut Vec<u8>) {
        match self {
            Op::Write { offset, data } => {
                let end = offset + data.len();
                if image.len() < end {
                    image.resize(end, 0);
                }
                image[*offset..end].copy_from_slice(data);
            }
            Op::SetLen(len) => image.resize(*len, 0),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    /// What survives a power cut.
    durable: Vec<u8>,
    /// What reads see (durable + unsynced).
    current: Vec<u8>,
    unsynced: Vec<Op>,
    /// Backends of an older generation have lost power.
    generation: u64,
    syncs: u64,
    writes: u64,
    /// The write that cuts the power, and what that cut keeps.
    armed: Option<(u64, Keep)>,
    cuts: u64,
}

impl State {
    fn cut(&mut self, keep: Keep) {
        let mut image = self.durable.clone();
        let mut rng = match keep {
            Keep::Nothing => None,
            Keep::Some(seed) => Some(SplitMix(seed)),
        };
        for op in self.unsynced.drain(..) {
            // A length change is file metadata: lost unless synced, like the writes.
            if rng.as_mut().is_some_and(|r| r.next() & 1 == 1) {
                op.apply(&mut image);
            }
        }
        self.current = image.clone();
        self.durable = image;
        self.generation += 1;
        self.armed = None;
        self.cuts += 1;
    }
}

/// Small, seeded, good enough for coin flips (splitmix64).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The disk; clones are the same disk.
#[derive(Debug, Clone, Default)]
pub struct PowerCutDisk {
    state: Arc<Mutex<State>>,
}

/// What [`PowerCutDisk::stats`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskStats {
    pub writes: u64,
    pub syncs: u64,
    pub cuts: u64,
    /// Writes made since the last sync (what a cut now would drop).
    pub unsynced: usize,
}

impl PowerCutDisk {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not hide the disk from the rest of the test.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A backend for one database opened on this disk (after a cut, open a new one).
    pub fn backend(&self) -> PowerCutBackend {
        PowerCutBackend {
            generation: self.lock().generation,
            disk: self.clone(),
        }
    }

    /// Cuts the power now.
    pub fn cut(&self, keep: Keep) {
        self.lock().cut(keep);
    }

    /// The `n`th write from now (1 = the next one) fails and cuts the power with `keep`.
    pub fn cut_after_writes(&self, n: u64, keep: Keep) {
        let mut s = self.lock();
        s.armed = Some((s.writes + n.max(1), keep));
    }

    /// Whether the power is off for databases opened before the last cut.
    pub fn cuts(&self) -> u64 {
        self.lock().cuts
    }

    pub fn stats(&self) -> DiskStats {
        let s = self.lock();
        DiskStats {
            writes: s.writes,
            syncs: s.syncs,
            cuts: s.cuts,
            unsynced: s.unsynced.len(),
        }
    }
}

/// redb's view of a [`PowerCutDisk`], valid until the next cut.
#[derive(Debug)]
pub struct PowerCutBackend {
    disk: PowerCutDisk,
    generation: u64,
}

fn power_off() -> io::Error {
    io::Error::other("the power is off (a simulated power cut)")
}

impl PowerCutBackend {
    fn live(&self) -> io::Result<MutexGuard<'_, State>> {
        let s = self.disk.lock();
        if s.generation != self.generation {
            return Err(power_off());
        }
        Ok(s)
    }
}

fn to_usize(v: u64) -> io::Result<usize> {
    usize::try_from(v).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "offset too large"))
}

impl redb::StorageBackend for PowerCutBackend {
    fn len(&self) -> io::Result<u64> {
        Ok(self.live()?.current.len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let s = self.live()?;
        let start = to_usize(offset)?;
        let src = start
            .checked_add(out.len())
            .and_then(|end| s.current.get(start..end))
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "read past the end"))?;
        out.copy_from_slice(src);
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut s = self.live()?;
        let op = Op::SetLen(to_usize(len)?);
        op.apply(&mut s.current);
        s.unsynced.push(op);
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut s = self.live()?;
        let ops = std::mem::take(&mut s.unsynced);
        for op in &ops {
            op.apply(&mut s.durable);
        }
        s.syncs += 1;
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut s = self.live()?;
        s.writes += 1;
        if let Some((at, keep)) = s.armed
            && s.writes >= at
        {
            s.cut(keep);
            return Err(power_off());
        }
        let op = Op::Write {
            offset: to_usize(offset)?,
            data: data.to_vec(),
        };
        op.apply(&mut s.current);
        s.unsynced.push(op);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use redb::StorageBackend;

    use super::*;
    use crate::{Db, Options};

    #[test]
    fn a_cut_drops_unsynced_bytes_and_keeps_synced_ones() {
        let disk = PowerCutDisk::new();
        let b = disk.backend();
        b.set_len(8).unwrap();
        b.write(0, b"sync").unwrap();
        b.sync_data().unwrap();
        b.write(4, b"lost").unwrap();
        let mut seen = [0u8; 8];
        b.read(0, &mut seen).unwrap();
        assert_eq!(
            &seen, b"synclost",
            "reads see unsynced writes before the cut"
        );
        disk.cut(Keep::Nothing);
        assert!(b.read(0, &mut seen).is_err(), "the old handle lost power");
        let after = disk.backend();
        after.read(0, &mut seen).unwrap();
        assert_eq!(&seen, b"sync\0\0\0\0", "the unsynced write is gone");
    }

    #[test]
    fn an_unsynced_length_change_is_lost_too() {
        let disk = PowerCutDisk::new();
        let b = disk.backend();
        b.set_len(4096).unwrap();
        disk.cut(Keep::Nothing);
        assert_eq!(disk.backend().len().unwrap(), 0);
    }

    #[test]
    fn a_non_durable_commit_is_gone_after_a_cut_and_a_barrier_keeps_it() {
        let disk = PowerCutDisk::new();
        let db = Db::open_backend(disk.backend(), Options::default()).unwrap();
        db.write(|tx| tx.insert("t", b"kept", b"1")).unwrap();
        db.barrier_blocking().unwrap();
        db.write(|tx| tx.insert("t", b"lost", b"2")).unwrap();
        assert!(
            db.read().unwrap().contains("t", b"lost").unwrap(),
            "a commit is visible before it is durable"
        );
        disk.cut(Keep::Nothing);
        drop(db);
        let db = Db::open_backend(disk.backend(), Options::default()).unwrap();
        let r = db.read().unwrap();
        assert!(
            r.contains("t", b"kept").unwrap(),
            "the barrier made it durable"
        );
        assert!(
            !r.contains("t", b"lost").unwrap(),
            "a cut drops what no barrier covered: the harness really drops"
        );
    }

    #[test]
    fn an_armed_crash_point_fails_that_write_and_cuts() {
        let disk = PowerCutDisk::new();
        let db = Db::open_backend(disk.backend(), Options::default()).unwrap();
        db.write(|tx| tx.insert("t", b"a", b"1")).unwrap();
        db.barrier_blocking().unwrap();
        disk.cut_after_writes(1, Keep::Nothing);
        db.write(|tx| tx.insert("t", b"b", b"2")).unwrap();
        assert!(db.barrier_blocking().is_err(), "the barrier's write fails");
        assert_eq!(disk.cuts(), 1);
        drop(db);
        let db = Db::open_backend(disk.backend(), Options::default()).unwrap();
        let r = db.read().unwrap();
        assert!(r.contains("t", b"a").unwrap());
        assert!(!r.contains("t", b"b").unwrap());
    }
}
