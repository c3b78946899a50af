//! Import circles inside a crate: the graph of which file uses which, from the code's own paths.
//!
//! ARCHITECTURE.md's invariant "no import circles inside a crate" is checked with this
//! (`tests/tests/import_cycles.rs`). A circle is a set of files that each need another of the
//! set to be read: none of them can be understood, tested or moved alone.
//!
//! - A node is a file. Inline modules belong to their file.
//! - An edge `a → b` means code in `a` names something defined in `b`: a `use` or an inline path
//!   starting with `crate::`, `super::`, `self::` or a child module's name.
//! - Names are followed through imports to where they are defined: `use super::AdminViewer` in
//!   a child counts against `session.rs` when the parent only re-exports it from there.
//! - A `pub use` is a re-export, a name lent to others: it is an edge only when the file itself
//!   uses the name. So a `mod.rs` re-exporting its children is no circle with them.
//! - Left out: `mod` declarations, `#[cfg(test)]` items (and the file of a `#[cfg(test)] mod x;`),
//!   comments, strings, `$crate` paths of macros, and `tests/` directories (never reached from a
//!   crate root).
//!
//! Not a Rust parser: a small lexer (comments, strings, chars, lifetimes, raw strings) and a walk
//! over its tokens. A path it cannot place (an external crate, a local enum) is no edge.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::path::Path;

/// Files and who uses whom, for one crate root (`src/lib.rs`, `src/main.rs`, `src/bin/x.rs`).
#[derive(Debug)]
pub struct Graph {
    files: Vec<String>,
    /// `(from, to)` → the first place `from` names something of `to`.
    edges: BTreeMap<(usize, usize), Evidence>,
}

#[derive(Debug, Clone)]
struct Evidence {
    line: u32,
    path: String,
}

/// One circle: its files, and one way round it with the line behind each step.
#[derive(Debug)]
pub struct Circle {
    /// Every file of the circle (a strongly connected set), sorted.
    pub files: Vec<String>,
    /// `(file, line, path named there)` for each step of one cycle; the last step leads back
    /// to the first file.
    pub steps: Vec<(String, u32, String)>,
}

impl fmt::Display for Circle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let way: Vec<&str> = self.steps.iter().map(|(file, ..)| file.as_str()).collect();
        let back = way.first().copied().unwrap_or_default();
        writeln!(
            f,
            "import circle of {} files: {} → {back}",
            self.files.len(),
            way.join(" → ")
        )?;
        for (file, line, path) in &self.steps {
            writeln!(f, "  {file}:{line} uses {path}")?;
        }
        write!(f, "  all files in it: {}", self.files.join(", "))
    }
}

impl Graph {
    /// Reads the crate whose root file is `root` (e.g. `agent/src/lib.rs`); `read` gives a
    /// file's text by path, `None` when there is no such file.
    pub fn of_crate(root: &str, read: &dyn Fn(&str) -> Option<String>) -> Result<Graph, String> {
        Builder::read(root, read).map(Builder::graph)
    }

    /// The circles, each once, in file order.
    pub fn circles(&self) -> Vec<Circle> {
        let n = self.files.len();
        let mut next = vec![BTreeSet::new(); n];
        for &(a, b) in self.edges.keys() {
            next[a].insert(b);
        }
        strongly_connected(&next)
            .into_iter()
            .filter(|set| set.len() > 1)
            .map(|set| {
                let start = *set.iter().min().unwrap_or(&0);
                let way = shortest_cycle(&next, &set, start);
                let steps = way
                    .iter()
                    .zip(way.iter().cycle().skip(1))
                    .map(|(&a, &b)| {
                        let e = &self.edges[&(a, b)];
                        (self.files[a].clone(), e.line, e.path.clone())
                    })
                    .collect();
                let mut files: Vec<String> = set.iter().map(|&i| self.files[i].clone()).collect();
                files.sort();
                Circle { files, steps }
            })
            .collect()
    }
}

/// The crate roots of every workspace member (`members = [...]` of `Cargo.toml`), as paths
/// relative to `workspace`.
pub fn crate_roots(workspace: &Path) -> Result<Vec<String>, String> {
    let manifest = std::fs::read_to_string(workspace.join("Cargo.toml"))
        .map_err(|e| format!("reading the workspace's Cargo.toml: {e}"))?;
    let list = manifest
        .split_once("members")
        .and_then(|(_, rest)| rest.split_once('['))
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| list)
        .ok_or("no `members = [...]` in the workspace's Cargo.toml")?;
    let mut roots = Vec::new();
    for member in list.split('"').skip(1).step_by(2) {
        if member.contains('*') {
            return Err(format!("member glob {member:?}: list members by name"));
        }
        for file in ["src/lib.rs", "src/main.rs"] {
            if workspace.join(member).join(file).is_file() {
                roots.push(format!("{member}/{file}"));
            }
        }
        let bins = workspace.join(member).join("src/bin");
        let mut found: Vec<String> = std::fs::read_dir(&bins)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let path = entry.path();
                if path.is_file() && name.ends_with(".rs") {
                    Some(format!("{member}/src/bin/{name}"))
                } else if path.join("main.rs").is_file() {
                    Some(format!("{member}/src/bin/{name}/main.rs"))
                } else {
                    None
                }
            })
            .collect();
        found.sort();
        roots.extend(found);
    }
    Ok(roots)
}

/// Every circle of every crate root of the workspace; empty when there are none.
pub fn workspace_circles(workspace: &Path) -> Result<Vec<Circle>, String> {
    let read = |p: &str| std::fs::read_to_string(workspace.join(p)).ok();
    let mut all = Vec::new();
    for root in crate_roots(workspace)? {
        all.extend(Graph::of_crate(&root, &read)?.circles());
    }
    Ok(all)
}

// ---- the crate: files found from the root through `mod x;` ----

/// A module path below the crate root (`["web", "admin"]`); the root is `[]`.
type ModPath = Vec<String>;

struct Builder {
    files: Vec<String>,
    scans: Vec<(ModPath, Scan)>,
    /// Every module (file or inline) and the file it lives in.
    modules: BTreeMap<ModPath, usize>,
    /// `(module, name)` → the path a module-level `use` in it binds the name to, as written.
    bindings: BTreeMap<(ModPath, String), Vec<String>>,
}

/// How many imports are followed for one name (re-exports of re-exports; a bound on loops).
const MAX_HOPS: u32 = 16;

impl Builder {
    fn read(root: &str, read: &dyn Fn(&str) -> Option<String>) -> Result<Builder, String> {
        let mut b = Builder {
            files: Vec::new(),
            scans: Vec::new(),
            modules: BTreeMap::new(),
            bindings: BTreeMap::new(),
        };
        let root_dir = root.rsplit_once('/').map_or("", |(dir, _)| dir).to_owned();
        // (file, its module, the directory its `mod x;` files are in)
        let mut queue = VecDeque::from([(root.to_owned(), ModPath::new(), root_dir)]);
        while let Some((file, module, dir)) = queue.pop_front() {
            let text = read(&file).ok_or_else(|| format!("cannot read {file}"))?;
            let scan = scan(&lex(&text));
            let index = b.files.len();
            b.modules.insert(module.clone(), index);
            for inline in &scan.inline {
                b.modules.insert(join(&module, inline), index);
            }
            for (inline, name) in &scan.children {
                let mut sub = dir.clone();
                for part in inline.iter().chain([name]) {
                    sub = format!("{sub}/{part}");
                }
                let flat = format!("{sub}.rs");
                let nested = format!("{sub}/mod.rs");
                let child = if read(&flat).is_some() {
                    flat
                } else if read(&nested).is_some() {
                    nested
                } else {
                    return Err(format!(
                        "{file}: `mod {name};` has neither {flat} nor {nested}"
                    ));
                };
                let mut path = join(&module, inline);
                path.push(name.clone());
                queue.push_back((child, path, sub));
            }
            b.files.push(file);
            b.scans.push((module, scan));
        }
        for (module, scan) in &b.scans {
            for (inline, name, segs) in &scan.bindings {
                b.bindings
                    .insert((join(module, inline), name.clone()), segs.clone());
            }
        }
        Ok(b)
    }

    /// `segs` named in module `here`, as a path from the crate root; `None` when it does not
    /// start inside the crate. A first segment that `here` imports is replaced by its import.
    fn absolute(&self, here: &[String], segs: &[String], hops: u32) -> Option<ModPath> {
        let first = segs.first()?;
        match first.as_str() {
            "crate" => Some(segs[1..].to_vec()),
            "self" => Some(join(here, &segs[1..])),
            "super" => {
                let mut base = here.to_vec();
                let ups = segs.iter().take_while(|s| *s == "super").count();
                for _ in 0..ups {
                    base.pop()?;
                }
                Some(join(&base, &segs[ups..]))
            }
            _ => {
                if let Some(import) = self.bindings.get(&(here.to_vec(), first.clone()))
                    && hops < MAX_HOPS
                {
                    self.absolute(here, &join(import, &segs[1..]), hops + 1)
                } else if self.modules.contains_key(&join(here, &segs[..1])) {
                    Some(join(here, segs))
                } else {
                    None
                }
            }
        }
    }

    /// The file defining what `path` (from the crate root) names, following imports.
    fn file_of(&self, path: &[String], hops: u32) -> Option<usize> {
        let mut k = path.len();
        while k > 0 && !self.modules.contains_key(&path[..k]) {
            k -= 1;
        }
        let (module, rest) = path.split_at(k);
        if let Some(name) = rest.first()
            && hops < MAX_HOPS
            && let Some(import) = self.bindings.get(&(module.to_vec(), name.clone()))
        {
            let target = self.absolute(module, &join(import, &rest[1..]), hops + 1)?;
            return self.file_of(&target, hops + 1);
        }
        self.modules.get(module).copied()
    }

    fn graph(self) -> Graph {
        let mut edges = BTreeMap::new();
        for (from, (module, scan)) in self.scans.iter().enumerate() {
            for r in &scan.refs {
                if let Some(name) = &r.reexport
                    && !scan.idents.contains(name)
                {
                    continue;
                }
                let here = join(module, &r.inline);
                let Some(to) = self
                    .absolute(&here, &r.segs, 0)
                    .and_then(|path| self.file_of(&path, 0))
                else {
                    continue;
                };
                if to != from {
                    edges.entry((from, to)).or_insert_with(|| Evidence {
                        line: r.line,
                        path: r.segs.join("::"),
                    });
                }
            }
        }
        Graph {
            files: self.files,
            edges,
        }
    }
}

fn join(a: &[String], b: &[String]) -> ModPath {
    a.iter().chain(b).cloned().collect()
}

// ---- graph algorithms ----

/// Tarjan's strongly connected components.
fn strongly_connected(next: &[BTreeSet<usize>]) -> Vec<BTreeSet<usize>> {
    struct State<'a> {
        next: &'a [BTreeSet<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        counter: usize,
        out: Vec<BTreeSet<usize>>,
    }
    fn visit(s: &mut State<'_>, v: usize) {
        s.index[v] = Some(s.counter);
        s.low[v] = s.counter;
        s.counter += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for &w in s.next[v].iter() {
            match s.index[w] {
                None => {
                    visit(s, w);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(i) if s.on_stack[w] => s.low[v] = s.low[v].min(i),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut set = BTreeSet::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack[w] = false;
                set.insert(w);
                if w == v {
                    break;
                }
            }
            s.out.push(set);
        }
    }
    let n = next.len();
    let mut s = State {
        next,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        counter: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(&mut s, v);
        }
    }
    s.out.sort();
    s.out
}

/// The shortest way from `start` back to itself inside `set` (breadth first).
fn shortest_cycle(next: &[BTreeSet<usize>], set: &BTreeSet<usize>, start: usize) -> Vec<usize> {
    let mut came_from = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in &next[v] {
            if !set.contains(&w) {
                continue;
            }
            if w == start {
                let mut way = vec![v];
                while let Some(&p) = came_from.get(way.last().unwrap_or(&start)) {
                    way.push(p);
                }
                way.reverse();
                return way;
            }
            if w != start && !came_from.contains_key(&w) {
                came_from.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    vec![start]
}

// ---- one file: tokens, then `mod`, `use` and paths ----

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    /// `::`
    PathSep,
    Punct(char),
    /// Literals and lifetimes.
    Other,
}

#[derive(Debug)]
struct Token {
    tok: Tok,
    line: u32,
}

fn lex(src: &str) -> Vec<Token> {
    let c: Vec<char> = src.chars().collect();
    let at = |j: usize| c.get(j).copied().unwrap_or('\0');
    let ident_char = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    // Skips a (non-raw) string or char literal whose opening quote is at `i`; returns the
    // index after the closing quote.
    let quoted = |mut i: usize, quote: char, line: &mut u32| {
        i += 1;
        while i < c.len() && c[i] != quote {
            if c[i] == '\\' {
                i += 1;
            }
            if at(i) == '\n' {
                *line += 1;
            }
            i += 1;
        }
        i + 1
    };
    while i < c.len() {
        let ch = c[i];
        let start = line;
        let tok = if ch == '\n' {
            line += 1;
            i += 1;
            continue;
        } else if ch.is_whitespace() {
            i += 1;
            continue;
        } else if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
            continue;
        } else if ch == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if c[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
            continue;
        } else if ch.is_alphabetic() || ch == '_' {
            let s = i;
            while i < c.len() && ident_char(c[i]) {
                i += 1;
            }
            let word: String = c[s..i].iter().collect();
            let hashes = c[i..].iter().take_while(|&&h| h == '#').count();
            match word.as_str() {
                "b" | "c" if at(i) == '"' => {
                    i = quoted(i, '"', &mut line);
                    Tok::Other
                }
                "b" if at(i) == '\'' => {
                    i = quoted(i, '\'', &mut line);
                    Tok::Other
                }
                "r" | "br" | "cr" if at(i + hashes) == '"' => {
                    i += hashes + 1;
                    let closing: Vec<char> = std::iter::once('"')
                        .chain("#".repeat(hashes).chars())
                        .collect();
                    while i < c.len() && !c[i..].starts_with(&closing) {
                        if c[i] == '\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                    i += closing.len();
                    Tok::Other
                }
                "r" if hashes == 1 && ident_char(at(i + 1)) => {
                    let s = i + 1;
                    i = s;
                    while i < c.len() && ident_char(c[i]) {
                        i += 1;
                    }
                    Tok::Ident(c[s..i].iter().collect())
                }
                _ => Tok::Ident(word),
            }
        } else if ch.is_ascii_digit() {
            while i < c.len() && (ident_char(c[i]) || c[i] == '.' && at(i + 1).is_ascii_digit()) {
                i += 1;
            }
            Tok::Other
        } else if ch == '"' {
            i = quoted(i, '"', &mut line);
            Tok::Other
        } else if ch == '\'' {
            if at(i + 1) == '\\' || at(i + 2) == '\'' {
                i = quoted(i, '\'', &mut line);
            } else {
                // A lifetime or a loop label.
                i += 1;
                while i < c.len() && ident_char(c[i]) {
                    i += 1;
                }
            }
            Tok::Other
        } else if ch == ':' && at(i + 1) == ':' {
            i += 2;
            Tok::PathSep
        } else {
            i += 1;
            Tok::Punct(ch)
        };
        out.push(Token { tok, line: start });
    }
    out
}

/// What one file says about its modules and the paths it names.
#[derive(Debug, Default)]
struct Scan {
    /// `mod name;` declarations: the inline modules they sit in, and the name.
    children: Vec<(ModPath, String)>,
    /// Inline `mod name { … }` modules, as paths below the file's module.
    inline: Vec<ModPath>,
    /// Module-level `use` bindings: inline module, bound name, the path it names.
    bindings: Vec<(ModPath, String, Vec<String>)>,
    refs: Vec<Ref>,
    /// Identifiers in the code outside `use` items (to tell a used re-export from a lent one).
    idents: BTreeSet<String>,
}

#[derive(Debug)]
struct Ref {
    inline: ModPath,
    segs: Vec<String>,
    line: u32,
    /// For a `pub use`: the name it binds (an edge only when the file uses that name).
    reexport: Option<String>,
}

/// One leaf of a `use` tree.
struct Leaf {
    segs: Vec<String>,
    /// The name it binds; `None` for a glob or `as _`.
    binds: Option<String>,
}

fn scan(toks: &[Token]) -> Scan {
    let none = Tok::Other;
    let tok = |i: usize| toks.get(i).map_or(&none, |t| &t.tok);
    let ident = |i: usize| match tok(i) {
        Tok::Ident(s) => Some(s.as_str()),
        _ => None,
    };
    let mut out = Scan::default();
    // Open inline modules: name and the brace depth of their inside.
    let mut open: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut skip_item = false;
    let mut i = 0;
    while i < toks.len() {
        let inline: ModPath = open.iter().map(|(name, _)| name.clone()).collect();
        let line = toks[i].line;
        match tok(i) {
            Tok::Punct('#') => {
                let inner = tok(i + 1) == &Tok::Punct('!');
                let bracket = if inner { i + 2 } else { i + 1 };
                if tok(bracket) != &Tok::Punct('[') {
                    i += 1;
                    continue;
                }
                let end = end_of(toks, bracket, End::Group);
                let cfg_test = matches!(
                    toks.get(bracket + 1..end.saturating_sub(1)).unwrap_or_default(),
                    [a, b, c, d] if a.tok == Tok::Ident("cfg".into())
                        && b.tok == Tok::Punct('(')
                        && c.tok == Tok::Ident("test".into())
                        && d.tok == Tok::Punct(')')
                );
                i = end;
                if cfg_test && inner {
                    i = end_of(toks, i, End::Scope);
                } else if cfg_test {
                    skip_item = true;
                }
                continue;
            }
            _ if skip_item => {
                skip_item = false;
                i = end_of(toks, i, End::Item);
                continue;
            }
            Tok::Ident(w) if w == "mod" && ident(i + 1).is_some() => {
                let name = ident(i + 1).unwrap_or_default().to_owned();
                match tok(i + 2) {
                    Tok::Punct(';') => out.children.push((inline, name)),
                    Tok::Punct('{') => {
                        depth += 1;
                        open.push((name.clone(), depth));
                        out.inline
                            .push(open.iter().map(|(n, _)| n.clone()).collect());
                    }
                    _ => {}
                }
                i += 3;
                continue;
            }
            Tok::Ident(w) if w == "use" => {
                let public = tok(i.wrapping_sub(1)) == &Tok::Ident("pub".into())
                    || tok(i.wrapping_sub(1)) == &Tok::Punct(')')
                        && (0..i)
                            .rev()
                            .find(|&j| tok(j) == &Tok::Punct('('))
                            .is_some_and(|j| tok(j.wrapping_sub(1)) == &Tok::Ident("pub".into()));
                let module_level = depth == open.last().map_or(0, |(_, d)| *d);
                let mut leaves = Vec::new();
                i = use_tree(toks, i + 1, &mut Vec::new(), &mut leaves);
                for leaf in leaves {
                    if module_level && let Some(name) = &leaf.binds {
                        out.bindings
                            .push((inline.clone(), name.clone(), leaf.segs.clone()));
                    }
                    out.refs.push(Ref {
                        inline: inline.clone(),
                        segs: leaf.segs,
                        line,
                        reexport: if public { leaf.binds } else { None },
                    });
                }
                // Up to the `;`.
                while i < toks.len() && tok(i) != &Tok::Punct(';') {
                    i += 1;
                }
                i += 1;
                continue;
            }
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                if open.last().is_some_and(|(_, d)| *d == depth) {
                    open.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Tok::Ident(w)
                if tok(i + 1) == &Tok::PathSep
                    && tok(i.wrapping_sub(1)) != &Tok::PathSep
                    && tok(i.wrapping_sub(1)) != &Tok::Punct('$')
                    && tok(i.wrapping_sub(1)) != &Tok::Ident("in".into()) =>
            {
                let mut segs = vec![w.clone()];
                i += 1;
                while tok(i) == &Tok::PathSep
                    && let Some(s) = ident(i + 1)
                {
                    segs.push(s.to_owned());
                    i += 2;
                }
                out.idents.extend(segs.iter().cloned());
                out.refs.push(Ref {
                    inline,
                    segs,
                    line,
                    reexport: None,
                });
                continue;
            }
            Tok::Ident(w) => {
                out.idents.insert(w.clone());
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Reads a `use` tree from `i` into `leaves`; returns the index after it.
fn use_tree(
    toks: &[Token],
    mut i: usize,
    prefix: &mut Vec<String>,
    leaves: &mut Vec<Leaf>,
) -> usize {
    let tok = |i: usize| toks.get(i).map(|t| &t.tok);
    if tok(i) == Some(&Tok::PathSep) {
        i += 1;
    }
    match tok(i) {
        Some(Tok::Punct('{')) => {
            i += 1;
            while let Some(t) = tok(i) {
                match t {
                    Tok::Punct('}') => return i + 1,
                    Tok::Punct(',') => i += 1,
                    Tok::Punct(';') => return i,
                    _ => {
                        let mut branch = prefix.clone();
                        let after = use_tree(toks, i, &mut branch, leaves);
                        i = after.max(i + 1);
                    }
                }
            }
            i
        }
        Some(Tok::Punct('*')) => {
            leaves.push(Leaf {
                segs: prefix.clone(),
                binds: None,
            });
            i + 1
        }
        Some(Tok::Ident(name)) => {
            prefix.push(name.clone());
            i += 1;
            if tok(i) == Some(&Tok::PathSep) {
                return use_tree(toks, i + 1, prefix, leaves);
            }
            let mut binds = if name == "self" {
                prefix.pop();
                prefix.last().cloned()
            } else {
                Some(name.clone())
            };
            if tok(i) == Some(&Tok::Ident("as".into())) {
                binds = match tok(i + 1) {
                    Some(Tok::Ident(alias)) if alias != "_" => Some(alias.clone()),
                    _ => None,
                };
                i += 2;
            }
            leaves.push(Leaf {
                segs: prefix.clone(),
                binds,
            });
            i
        }
        _ => i + 1,
    }
}

/// Where a walk over balanced brackets from `i` ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    /// After the bracket group opening at `i`.
    Group,
    /// After the item starting at `i`: its `;`, or its closing brace.
    Item,
    /// At the brace closing the scope `i` is in.
    Scope,
}

/// The index where the walk from `i` ends (see [`End`]); the end of the tokens if it does not.
fn end_of(toks: &[Token], i: usize, end: End) -> usize {
    let mut nest = 0usize;
    for (j, t) in toks.iter().enumerate().skip(i) {
        match t.tok {
            Tok::Punct(';') if nest == 0 && end == End::Item => return j + 1,
            Tok::Punct('(' | '[' | '{') => nest += 1,
            Tok::Punct(')' | ']' | '}') => {
                if nest == 0 {
                    // Closes a scope around `i`.
                    return j;
                }
                nest -= 1;
                if nest == 0 && (end == End::Group || end == End::Item && t.tok == Tok::Punct('}'))
                {
                    return j + 1;
                }
            }
            _ => {}
        }
    }
    toks.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The circles of a crate made of `files` (path, text); the root is `src/lib.rs`.
    fn circles(files: &[(&str, &str)]) -> Vec<Circle> {
        let files: BTreeMap<String, String> = files
            .iter()
            .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
            .collect();
        let read = |p: &str| files.get(p).cloned();
        Graph::of_crate("src/lib.rs", &read)
            .expect("fixture reads")
            .circles()
    }

    fn printed(found: &[Circle]) -> String {
        found.iter().map(|c| format!("{c}\n")).collect()
    }

    #[test]
    fn a_circle_fails_and_is_printed() {
        let found = circles(&[
            ("src/lib.rs", "mod core;\nmod runtime;\nmod jobs;\n"),
            ("src/core.rs", "pub struct Clock;\n"),
            (
                "src/runtime.rs",
                "use crate::core::Clock;\npub struct Core;\npub fn start() { crate::jobs::spawn(); }\n",
            ),
            (
                "src/jobs.rs",
                "use crate::runtime::Core;\npub fn spawn() {}\n",
            ),
        ]);
        let text = printed(&found);
        println!("{text}");
        assert_eq!(found.len(), 1, "{text}");
        assert_eq!(found[0].files, ["src/jobs.rs", "src/runtime.rs"]);
        assert_eq!(
            text,
            "import circle of 2 files: src/runtime.rs → src/jobs.rs → src/runtime.rs\n  \
             src/runtime.rs:3 uses crate::jobs::spawn\n  \
             src/jobs.rs:1 uses crate::runtime::Core\n  \
             all files in it: src/jobs.rs, src/runtime.rs\n"
        );
    }

    #[test]
    fn a_layered_crate_passes() {
        let found = circles(&[
            (
                "src/lib.rs",
                "pub mod core;\npub mod jobs;\npub mod runtime;\n",
            ),
            (
                "src/core.rs",
                "pub struct Core;\npub fn now() -> u64 { 0 }\n",
            ),
            (
                "src/jobs.rs",
                "use crate::core::Core;\npub fn spawn(_: &Core) {}\n",
            ),
            (
                "src/runtime.rs",
                "use crate::core::{self, Core};\nuse super::jobs;\n\
                 pub fn start(c: &Core) { jobs::spawn(c); let _ = core::now(); }\n",
            ),
        ]);
        assert!(found.is_empty(), "{}", printed(&found));
    }

    #[test]
    fn a_longer_circle_is_one_circle_with_its_shortest_way_round() {
        let found = circles(&[
            ("src/lib.rs", "mod a; mod b; mod c;"),
            ("src/a.rs", "use crate::b::B; pub struct A;"),
            (
                "src/b.rs",
                "use crate::c::C; pub struct B; fn f(_: crate::a::A) {}",
            ),
            ("src/c.rs", "pub struct C; fn g(_: crate::a::A) {}"),
        ]);
        assert_eq!(found.len(), 1, "{}", printed(&found));
        assert_eq!(found[0].files, ["src/a.rs", "src/b.rs", "src/c.rs"]);
        assert_eq!(found[0].steps.len(), 2, "a → b → a is the shortest");
    }

    #[test]
    fn a_parent_re_exporting_its_children_is_no_circle() {
        let lend = [
            ("src/lib.rs", "pub mod web;"),
            (
                "src/web/mod.rs",
                "mod page;\npub use page::Page;\npub(crate) use self::page::draw as paint;\n\
                 pub struct Frame;",
            ),
            (
                "src/web/page.rs",
                "use super::Frame;\npub struct Page(Frame);\npub fn draw() {}",
            ),
        ];
        assert!(circles(&lend).is_empty(), "{}", printed(&circles(&lend)));

        // The same parent calling into its child is a circle: it needs the child to be read.
        let mut call = lend;
        call[1].1 = "mod page;\npub use page::Page;\npub struct Frame;\nfn f() -> Page { page::draw(); todo!() }";
        assert_eq!(circles(&call).len(), 1);
        // And so is one that uses what it re-exports.
        call[1].1 = "mod page;\npub use page::Page;\npub struct Frame;\nfn f(_: Page) {}";
        assert_eq!(circles(&call).len(), 1);
    }

    #[test]
    fn names_are_followed_through_imports_to_where_they_are_defined() {
        // `admin` takes `layout_for` through its parent, which only re-exports it from
        // `layout`; `layout` needs `admin::NAV`: a circle between admin and layout.
        let found = circles(&[
            ("src/lib.rs", "mod web;"),
            (
                "src/web/mod.rs",
                "mod admin;\nmod layout;\npub(crate) use layout::layout_for;",
            ),
            (
                "src/web/admin.rs",
                "use super::layout_for;\npub const NAV: &[&str] = &[];",
            ),
            (
                "src/web/layout.rs",
                "pub fn layout_for() -> usize { super::admin::NAV.len() }",
            ),
        ]);
        assert_eq!(found.len(), 1, "{}", printed(&found));
        assert_eq!(found[0].files, ["src/web/admin.rs", "src/web/layout.rs"]);
    }

    #[test]
    fn tests_comments_strings_and_macros_are_left_out() {
        let found = circles(&[
            ("src/lib.rs", "mod a;\nmod b;"),
            (
                "src/a.rs",
                "pub struct A;\n\
                 // crate::b::B\n\
                 /* crate::b::B /* nested */ crate::b::B */\n\
                 /// [`crate::b::B`]\n\
                 const S: &str = \"crate::b::B\";\n\
                 const R: &str = r#\"a \" crate::b::B\"#;\n\
                 const Q: char = '\"'; fn f<'a>(x: &'a str) -> &'a str { x }\n\
                 macro_rules! m { () => { $crate::b::B } }\n\
                 #[cfg(test)]\nmod tests { use crate::b::B; }\n\
                 #[cfg(test)]\nmod more;\n\
                 #[cfg(test)]\nuse crate::b::B;\n\
                 #[cfg(test)]\n#[allow(dead_code)]\nfn helper() -> crate::b::B { crate::b::B(A) }\n\
                 mod inner { #![cfg(test)] fn f() -> crate::b::B { todo!() } }\n",
            ),
            ("src/b.rs", "use crate::a::A;\npub struct B(A);"),
        ]);
        assert!(found.is_empty(), "{}", printed(&found));
    }

    #[test]
    fn child_modules_count_by_name_and_inline_modules_belong_to_their_file() {
        // `run` calls its child `step` by its bare name; `step` uses `run`'s type: a circle.
        let found = circles(&[
            ("src/lib.rs", "mod run;"),
            (
                "src/run.rs",
                "mod step;\npub struct State;\npub fn go() { step::once() }",
            ),
            (
                "src/run/step.rs",
                "mod inner { pub fn f(_: super::super::State) {} }\npub fn once() {}",
            ),
        ]);
        assert_eq!(found.len(), 1, "{}", printed(&found));
        assert_eq!(found[0].files, ["src/run.rs", "src/run/step.rs"]);
    }

    #[test]
    fn a_missing_module_file_is_an_error() {
        let read = |p: &str| (p == "src/lib.rs").then(|| "mod gone;".to_owned());
        let err = Graph::of_crate("src/lib.rs", &read).expect_err("no src/gone.rs");
        assert!(err.contains("src/gone.rs"), "{err}");
    }
}
