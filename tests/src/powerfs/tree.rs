//! The in-memory file system behind [`super::PowerFs`], without FUSE: a tree of directories and
//! regular files, each with a current state (what reads see) and a durable one (what a power
//! cut leaves). The rules of what becomes durable when are in the parent module's doc; this file
//! is the only place that applies them.
//!
//! Errors are `errno` values ([`fuser::Errno`]), since the only caller answers the kernel.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::ops::Range;
use std::time::SystemTime;

use fuser::{Errno, FileType};

pub(crate) const ROOT: u64 = 1;

pub(crate) type Result<T> = std::result::Result<T, Errno>;

/// What `getattr` reports of one node.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attr {
    pub ino: u64,
    pub nlink: u32,
    pub kind: FileType,
    pub size: u64,
    pub perm: u16,
    pub mtime: SystemTime,
}

#[derive(Debug, Default)]
struct FileData {
    current: Vec<u8>,
    durable: Vec<u8>,
    /// The bytes of `current` that may differ from `durable` (so an fsync copies only them).
    dirty: Option<Range<usize>>,
}

impl FileData {
    fn touch(&mut self, range: Range<usize>) {
        self.dirty = Some(match self.dirty.take() {
            None => range,
            Some(d) => d.start.min(range.start)..d.end.max(range.end),
        });
    }

    fn set_len(&mut self, len: usize) {
        let old = self.current.len();
        self.current.resize(len, 0);
        self.touch(old.min(len)..old.max(len));
    }

    fn sync(&mut self) {
        let Some(dirty) = self.dirty.take() else {
            return;
        };
        let len = self.current.len();
        self.durable.resize(len, 0);
        let (start, end) = (dirty.start.min(len), dirty.end.min(len));
        self.durable[start..end].copy_from_slice(&self.current[start..end]);
    }

    fn bytes(&self) -> usize {
        self.current.len() + self.durable.len()
    }
}

#[derive(Debug, Default)]
struct DirData {
    current: BTreeMap<OsString, u64>,
    durable: BTreeMap<OsString, u64>,
}

#[derive(Debug)]
enum Kind {
    File(FileData),
    Dir(DirData),
}

#[derive(Debug)]
struct Node {
    kind: Kind,
    /// The node's current names (a directory has at most one; a file one per hard link).
    /// None for the root and for a node that was unlinked (kept while open, or while a durable
    /// entry still names it).
    links: Vec<(u64, OsString)>,
    perm: u16,
    mtime: SystemTime,
}

impl Node {
    fn new(kind: Kind, link: (u64, OsString), perm: u16) -> Node {
        Node {
            kind,
            links: vec![link],
            perm,
            mtime: SystemTime::now(),
        }
    }
}

/// The tree, its open files and its memory bound.
#[derive(Debug)]
pub(crate) struct Tree {
    nodes: HashMap<u64, Node>,
    next_ino: u64,
    /// Open file handles → inode. Cleared by a cut: a handle from before it fails with EIO.
    handles: HashMap<u64, u64>,
    next_fh: u64,
    /// Bytes of file content (current + durable copies) this tree may hold.
    limit: usize,
    cuts: u64,
    syncs: u64,
}

impl Tree {
    pub(crate) fn new(limit: usize) -> Tree {
        let root = Node {
            kind: Kind::Dir(DirData::default()),
            links: Vec::new(),
            perm: 0o755,
            mtime: SystemTime::now(),
        };
        Tree {
            nodes: HashMap::from([(ROOT, root)]),
            next_ino: ROOT + 1,
            handles: HashMap::new(),
            next_fh: 1,
            limit,
            cuts: 0,
            syncs: 0,
        }
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    pub(crate) fn cuts(&self) -> u64 {
        self.cuts
    }

    pub(crate) fn syncs(&self) -> u64 {
        self.syncs
    }

    /// Bytes of file content held now (current and durable images).
    pub(crate) fn used(&self) -> usize {
        self.nodes
            .values()
            .map(|n| match &n.kind {
                Kind::File(f) => f.bytes(),
                Kind::Dir(_) => 0,
            })
            .sum()
    }

    fn node(&self, ino: u64) -> Result<&Node> {
        self.nodes.get(&ino).ok_or(Errno::ENOENT)
    }

    fn node_mut(&mut self, ino: u64) -> Result<&mut Node> {
        self.nodes.get_mut(&ino).ok_or(Errno::ENOENT)
    }

    fn dir(&self, ino: u64) -> Result<&DirData> {
        match &self.node(ino)?.kind {
            Kind::Dir(d) => Ok(d),
            Kind::File(_) => Err(Errno::ENOTDIR),
        }
    }

    fn dir_mut(&mut self, ino: u64) -> Result<&mut DirData> {
        match &mut self.node_mut(ino)?.kind {
            Kind::Dir(d) => Ok(d),
            Kind::File(_) => Err(Errno::ENOTDIR),
        }
    }

    fn file_mut(&mut self, ino: u64) -> Result<&mut FileData> {
        match &mut self.node_mut(ino)?.kind {
            Kind::File(f) => Ok(f),
            Kind::Dir(_) => Err(Errno::EISDIR),
        }
    }

    fn handle(&self, fh: u64) -> Result<u64> {
        // An unknown handle is one from before a cut (or never given): the power is off for it.
        self.handles.get(&fh).copied().ok_or(Errno::EIO)
    }

    pub(crate) fn attr(&self, ino: u64) -> Result<Attr> {
        let node = self.node(ino)?;
        let (kind, size) = match &node.kind {
            Kind::File(f) => (FileType::RegularFile, f.current.len() as u64),
            Kind::Dir(d) => (FileType::Directory, d.current.len() as u64),
        };
        Ok(Attr {
            ino,
            nlink: node.links.len().max(1) as u32,
            kind,
            size,
            perm: node.perm,
            mtime: node.mtime,
        })
    }

    pub(crate) fn lookup(&self, parent: u64, name: &OsStr) -> Result<Attr> {
        let ino = *self.dir(parent)?.current.get(name).ok_or(Errno::ENOENT)?;
        self.attr(ino)
    }

    fn add(&mut self, parent: u64, name: &OsStr, kind: Kind, perm: u16) -> Result<u64> {
        if self.dir(parent)?.current.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        self.nodes
            .insert(ino, Node::new(kind, (parent, name.to_owned()), perm));
        self.dir_mut(parent)?.current.insert(name.to_owned(), ino);
        self.touch_node(parent);
        Ok(ino)
    }

    pub(crate) fn mkdir(&mut self, parent: u64, name: &OsStr, perm: u16) -> Result<Attr> {
        let ino = self.add(parent, name, Kind::Dir(DirData::default()), perm)?;
        self.attr(ino)
    }

    /// Creates (or, without `exclusive`, opens) a regular file; its attributes and a handle.
    pub(crate) fn create(
        &mut self,
        parent: u64,
        name: &OsStr,
        perm: u16,
        exclusive: bool,
        truncate: bool,
    ) -> Result<(Attr, u64)> {
        let ino = match self.dir(parent)?.current.get(name) {
            Some(_) if exclusive => return Err(Errno::EEXIST),
            Some(&ino) => ino,
            None => self.add(parent, name, Kind::File(FileData::default()), perm)?,
        };
        let fh = self.open(ino, truncate)?;
        Ok((self.attr(ino)?, fh))
    }

    pub(crate) fn open(&mut self, ino: u64, truncate: bool) -> Result<u64> {
        if truncate {
            self.set_len(ino, 0)?;
        } else {
            self.file_mut(ino)?;
        }
        let fh = self.next_fh;
        self.next_fh += 1;
        self.handles.insert(fh, ino);
        Ok(fh)
    }

    /// A handle on a directory (for fsyncdir), so that one from before a cut fails too.
    pub(crate) fn open_dir(&mut self, ino: u64) -> Result<u64> {
        self.dir(ino)?;
        let fh = self.next_fh;
        self.next_fh += 1;
        self.handles.insert(fh, ino);
        Ok(fh)
    }

    pub(crate) fn release(&mut self, fh: u64) {
        if let Some(ino) = self.handles.remove(&fh) {
            self.collect(ino);
        }
    }

    pub(crate) fn read(&self, fh: u64, offset: u64, size: u32) -> Result<&[u8]> {
        let ino = self.handle(fh)?;
        let Kind::File(f) = &self.node(ino)?.kind else {
            return Err(Errno::EISDIR);
        };
        let len = f.current.len();
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(len);
        let end = start.saturating_add(size as usize).min(len);
        Ok(&f.current[start..end])
    }

    /// Refuses (ENOSPC) growth of file content past the tree's limit.
    fn reserve(&self, ino: u64, new_len: usize) -> Result<()> {
        let Kind::File(f) = &self.node(ino)?.kind else {
            return Err(Errno::EISDIR);
        };
        let growth = new_len.saturating_sub(f.current.len());
        if self.used().saturating_add(growth) > self.limit {
            return Err(Errno::ENOSPC);
        }
        Ok(())
    }

    pub(crate) fn write(&mut self, fh: u64, offset: u64, data: &[u8]) -> Result<u32> {
        let ino = self.handle(fh)?;
        let start = usize::try_from(offset).map_err(|_| Errno::EFBIG)?;
        let end = start.checked_add(data.len()).ok_or(Errno::EFBIG)?;
        let written = u32::try_from(data.len()).map_err(|_| Errno::EINVAL)?;
        self.reserve(ino, end)?;
        let f = self.file_mut(ino)?;
        let old = f.current.len();
        if f.current.len() < end {
            f.current.resize(end, 0);
        }
        f.current[start..end].copy_from_slice(data);
        f.touch(start.min(old)..end);
        self.touch_node(ino);
        Ok(written)
    }

    pub(crate) fn set_len(&mut self, ino: u64, len: u64) -> Result<()> {
        let len = usize::try_from(len).map_err(|_| Errno::EFBIG)?;
        self.reserve(ino, len)?;
        self.file_mut(ino)?.set_len(len);
        self.touch_node(ino);
        Ok(())
    }

    pub(crate) fn set_perm(&mut self, ino: u64, mode: u32) -> Result<()> {
        self.node_mut(ino)?.perm = (mode & 0o7777) as u16;
        Ok(())
    }

    fn touch_node(&mut self, ino: u64) {
        if let Some(n) = self.nodes.get_mut(&ino) {
            n.mtime = SystemTime::now();
        }
    }

    pub(crate) fn unlink(&mut self, parent: u64, name: &OsStr) -> Result<()> {
        let ino = *self.dir(parent)?.current.get(name).ok_or(Errno::ENOENT)?;
        if let Kind::Dir(_) = self.node(ino)?.kind {
            return Err(Errno::EISDIR);
        }
        self.detach(parent, name, ino)
    }

    pub(crate) fn rmdir(&mut self, parent: u64, name: &OsStr) -> Result<()> {
        let ino = *self.dir(parent)?.current.get(name).ok_or(Errno::ENOENT)?;
        if !self.dir(ino)?.current.is_empty() {
            return Err(Errno::ENOTEMPTY);
        }
        self.detach(parent, name, ino)
    }

    fn detach(&mut self, parent: u64, name: &OsStr, ino: u64) -> Result<()> {
        self.dir_mut(parent)?.current.remove(name);
        self.node_mut(ino)?
            .links
            .retain(|(p, n)| (*p, n.as_os_str()) != (parent, name));
        self.touch_node(parent);
        self.collect(ino);
        Ok(())
    }

    pub(crate) fn rename(
        &mut self,
        parent: u64,
        name: &OsStr,
        new_parent: u64,
        new_name: &OsStr,
        no_replace: bool,
    ) -> Result<()> {
        let ino = *self.dir(parent)?.current.get(name).ok_or(Errno::ENOENT)?;
        self.dir(new_parent)?;
        // A directory cannot move below itself.
        let mut up = Some(new_parent);
        while let Some(at) = up {
            if at == ino {
                return Err(Errno::EINVAL);
            }
            up = self.node(at)?.links.first().map(|(p, _)| *p);
        }
        let moving_dir = matches!(self.node(ino)?.kind, Kind::Dir(_));
        if let Some(&target) = self.dir(new_parent)?.current.get(new_name) {
            if target == ino {
                return Ok(());
            }
            if no_replace {
                return Err(Errno::EEXIST);
            }
            match (&self.node(target)?.kind, moving_dir) {
                (Kind::Dir(d), true) if d.current.is_empty() => {}
                (Kind::Dir(_), true) => return Err(Errno::ENOTEMPTY),
                (Kind::Dir(_), false) => return Err(Errno::EISDIR),
                (Kind::File(_), true) => return Err(Errno::ENOTDIR),
                (Kind::File(_), false) => {}
            }
            self.detach(new_parent, new_name, target)?;
        }
        self.dir_mut(parent)?.current.remove(name);
        self.dir_mut(new_parent)?
            .current
            .insert(new_name.to_owned(), ino);
        let links = &mut self.node_mut(ino)?.links;
        links.retain(|(p, n)| (*p, n.as_os_str()) != (parent, name));
        links.push((new_parent, new_name.to_owned()));
        self.touch_node(parent);
        self.touch_node(new_parent);
        Ok(())
    }

    /// `(ino, kind, name)` of `.`, `..` and every entry of a directory, in name order.
    pub(crate) fn entries(&self, ino: u64) -> Result<Vec<(u64, FileType, OsString)>> {
        let dir = self.dir(ino)?;
        let parent = self.node(ino)?.links.first().map_or(ino, |(p, _)| *p);
        let mut out = vec![
            (ino, FileType::Directory, OsString::from(".")),
            (parent, FileType::Directory, OsString::from("..")),
        ];
        for (name, &child) in &dir.current {
            let kind = self.attr(child)?.kind;
            out.push((child, kind, name.clone()));
        }
        Ok(out)
    }

    /// fsync / fdatasync / fsyncdir through handle `fh`: see the module doc of [`super`].
    pub(crate) fn sync(&mut self, fh: u64) -> Result<()> {
        let ino = self.handle(fh)?;
        self.syncs += 1;
        let children: Vec<u64> = match &mut self.node_mut(ino)?.kind {
            Kind::File(f) => {
                f.sync();
                Vec::new()
            }
            Kind::Dir(d) => d
                .current
                .values()
                .chain(d.durable.values())
                .copied()
                .collect(),
        };
        for child in children {
            self.commit_name(child);
        }
        self.commit_name(ino);
        Ok(())
    }

    /// Makes the current names of `ino` (none, if unlinked) its durable ones, and so on up to
    /// the root: what one journal commit of a rename, link, create or unlink does on ext4.
    fn commit_name(&mut self, ino: u64) {
        let mut todo = vec![ino];
        while let Some(ino) = todo.pop() {
            for node in self.nodes.values_mut() {
                if let Kind::Dir(d) = &mut node.kind {
                    d.durable.retain(|_, &mut i| i != ino);
                }
            }
            let links = self
                .nodes
                .get(&ino)
                .map(|n| n.links.clone())
                .unwrap_or_default();
            for (parent, name) in links {
                let replaced = match self.dir_mut(parent) {
                    Ok(d) => d.durable.insert(name, ino),
                    Err(_) => continue,
                };
                if let Some(old) = replaced.filter(|&old| old != ino) {
                    self.collect(old);
                }
                if parent != ROOT && !todo.contains(&parent) {
                    todo.push(parent);
                }
            }
        }
    }

    /// A second name for a regular file (`link(2)`).
    pub(crate) fn link(&mut self, ino: u64, new_parent: u64, new_name: &OsStr) -> Result<Attr> {
        if let Kind::Dir(_) = self.node(ino)?.kind {
            return Err(Errno::EPERM);
        }
        if self.dir(new_parent)?.current.contains_key(new_name) {
            return Err(Errno::EEXIST);
        }
        self.dir_mut(new_parent)?
            .current
            .insert(new_name.to_owned(), ino);
        self.node_mut(ino)?
            .links
            .push((new_parent, new_name.to_owned()));
        self.touch_node(new_parent);
        self.attr(ino)
    }

    /// Forgets a node nothing names (currently or durably) and nothing has open.
    fn collect(&mut self, ino: u64) {
        let Some(node) = self.nodes.get(&ino) else {
            return;
        };
        if ino == ROOT || !node.links.is_empty() || self.handles.values().any(|&i| i == ino) {
            return;
        }
        let durably_named = self.nodes.values().any(|n| match &n.kind {
            Kind::Dir(d) => d.durable.values().any(|&i| i == ino),
            Kind::File(_) => false,
        });
        if !durably_named {
            self.nodes.remove(&ino);
        }
    }

    /// The power cut: every node goes back to its durable state, what no durable name reaches
    /// from the root is gone, and every open handle is dead.
    pub(crate) fn cut(&mut self) {
        self.handles.clear();
        for node in self.nodes.values_mut() {
            node.links.clear();
            match &mut node.kind {
                Kind::File(f) => {
                    f.current = f.durable.clone();
                    f.dirty = None;
                }
                Kind::Dir(d) => d.current = d.durable.clone(),
            }
        }
        let mut reached = HashSet::from([ROOT]);
        let mut stack = vec![ROOT];
        while let Some(dir) = stack.pop() {
            let entries: Vec<(OsString, u64)> = match self.dir(dir) {
                Ok(d) => d.current.iter().map(|(n, &i)| (n.clone(), i)).collect(),
                Err(_) => continue,
            };
            for (name, child) in entries {
                let first = reached.insert(child);
                let is_dir = match self.nodes.get(&child) {
                    Some(n) => matches!(n.kind, Kind::Dir(_)),
                    None => true,
                };
                // A file may have many names; a second name of a directory, or one naming a
                // forgotten node, is dropped rather than trusted.
                if !first && is_dir || !self.nodes.contains_key(&child) {
                    if let Ok(d) = self.dir_mut(dir) {
                        d.current.remove(&name);
                        d.durable.remove(&name);
                    }
                    continue;
                }
                if let Some(n) = self.nodes.get_mut(&child) {
                    n.links.push((dir, name));
                }
                if first {
                    stack.push(child);
                }
            }
        }
        self.nodes.retain(|ino, _| reached.contains(ino));
        self.cuts += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> &OsStr {
        OsStr::new(s)
    }

    #[test]
    fn synced_bytes_stay_and_unsynced_ones_go() {
        let mut t = Tree::new(1 << 20);
        let (_, fh) = t.create(ROOT, name("f"), 0o644, true, false).unwrap();
        t.write(fh, 0, b"hello").unwrap();
        t.sync(fh).unwrap();
        t.write(fh, 5, b" world").unwrap();
        t.write(fh, 0, b"J").unwrap();
        t.cut();
        let a = t.lookup(ROOT, name("f")).unwrap();
        let fh = t.open(a.ino, false).unwrap();
        assert_eq!(t.read(fh, 0, 100).unwrap(), b"hello");
        assert_eq!(
            t.write(99, 0, b"x"),
            Err(Errno::EIO),
            "old handles are dead"
        );
    }

    #[test]
    fn names_need_a_sync_of_the_file_or_its_directory() {
        let mut t = Tree::new(1 << 20);
        let d = t.mkdir(ROOT, name("d"), 0o755).unwrap().ino;
        let (_, kept) = t.create(d, name("kept"), 0o644, true, false).unwrap();
        t.create(d, name("lost"), 0o644, true, false).unwrap();
        t.sync(kept).unwrap();
        t.cut();
        assert!(
            t.lookup(d, name("kept")).is_ok(),
            "fsync of a file commits its name"
        );
        assert_eq!(t.lookup(d, name("lost")).unwrap_err(), Errno::ENOENT);

        t.rename(d, name("kept"), ROOT, name("moved"), false)
            .unwrap();
        t.cut();
        assert!(
            t.lookup(d, name("kept")).is_ok(),
            "an unsynced rename is undone"
        );
        t.rename(d, name("kept"), ROOT, name("moved"), false)
            .unwrap();
        let dir = t.open_dir(d).unwrap();
        t.sync(dir).unwrap();
        t.cut();
        assert!(
            t.lookup(ROOT, name("moved")).is_ok(),
            "fsyncdir of the source commits it"
        );
        assert!(t.lookup(d, name("kept")).is_err());
    }

    #[test]
    fn an_unlinked_file_comes_back_until_the_unlink_is_synced() {
        let mut t = Tree::new(1 << 20);
        let (_, fh) = t.create(ROOT, name("f"), 0o644, true, false).unwrap();
        t.write(fh, 0, b"x").unwrap();
        t.sync(fh).unwrap();
        t.release(fh);
        t.unlink(ROOT, name("f")).unwrap();
        t.cut();
        assert!(t.lookup(ROOT, name("f")).is_ok());
        t.unlink(ROOT, name("f")).unwrap();
        let root = t.open_dir(ROOT).unwrap();
        t.sync(root).unwrap();
        t.cut();
        assert!(t.lookup(ROOT, name("f")).is_err());
        assert_eq!(t.used(), 0, "nothing names it: forgotten");
    }

    #[test]
    fn a_hard_link_then_unlink_of_the_temp_name_is_a_durable_create_once_synced() {
        let mut t = Tree::new(1 << 20);
        let (a, fh) = t.create(ROOT, name(".tmp"), 0o600, true, false).unwrap();
        t.write(fh, 0, b"key").unwrap();
        t.sync(fh).unwrap();
        t.release(fh);
        t.link(a.ino, ROOT, name("key")).unwrap();
        t.unlink(ROOT, name(".tmp")).unwrap();
        t.cut();
        assert!(
            t.lookup(ROOT, name(".tmp")).is_ok(),
            "only the synced name is back"
        );
        assert!(t.lookup(ROOT, name("key")).is_err());
        t.link(a.ino, ROOT, name("key")).unwrap();
        t.unlink(ROOT, name(".tmp")).unwrap();
        let root = t.open_dir(ROOT).unwrap();
        t.sync(root).unwrap();
        t.cut();
        assert!(t.lookup(ROOT, name(".tmp")).is_err());
        let fh = t
            .open(t.lookup(ROOT, name("key")).unwrap().ino, false)
            .unwrap();
        assert_eq!(t.read(fh, 0, 10).unwrap(), b"key");
    }

    #[test]
    fn writes_past_the_limit_are_refused() {
        let mut t = Tree::new(1000);
        let (_, fh) = t.create(ROOT, name("f"), 0o644, true, false).unwrap();
        assert_eq!(t.write(fh, 0, &[0; 1000]).unwrap(), 1000);
        assert_eq!(t.write(fh, 1000, &[0; 1]), Err(Errno::ENOSPC));
    }
}
