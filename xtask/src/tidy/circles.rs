//! No two files of a crate import each other in a circle (docs/architecture.md §1a): a module
//! that two others share moves below both.
//!
//! For every target of every workspace package (libraries, binaries, tests, benches), the
//! module files are found from the target's root by its `mod name;` declarations (`a.rs` or
//! `a/mod.rs`, or a `#[path]`). Each file's paths into its own crate — `use` trees and paths in
//! code starting with `crate::`, `self::`, `super::` or a child module's name — make edges: a
//! path names the deepest module file it passes through (`crate::a::b::f` is `a/b.rs` when
//! that file exists, else `a.rs`; an inline `mod x { … }` is its file). A re-export counts as
//! an import of the file it re-exports from, and a file importing its crate root imports the
//! root.
//!
//! Test-only code (an item under `#[cfg(test)]`, a `mod tests { … }` block or a `mod tests;`
//! file) is left out: a unit test may reach anywhere in its crate. Integration tests are
//! crates of their own and are checked like any other.
//!
//! Every strongly connected component of more than one file (Tarjan's algorithm) is an error,
//! listed with the edges that close it, each at the line of its first import — unless all its
//! files are those of one circle in [`KNOWN`], the circles not broken yet, each with why; a
//! known circle that grows, or a new one, fails.

mod scan;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Circles not broken yet: the crate's folder, the files of the circle (relative to it), and
/// why it is still there. A circle whose files are all among one entry's passes (printed as a
/// note); remove the entry once the circle is gone.
const KNOWN: &[(&str, &[&str], &str)] = &[];

/// The entry of [`KNOWN`] holding every file of `c` (paths relative to the workspace `root`).
fn known(root: &Path, c: &Circle) -> Option<&'static str> {
    KNOWN.iter().find_map(|(dir, files, why)| {
        let dir = root.join(dir);
        c.files
            .iter()
            .all(|f| {
                f.strip_prefix(&dir)
                    .is_ok_and(|rel| files.iter().any(|k| Path::new(k) == rel))
            })
            .then_some(*why)
    })
}

/// Files importing each other in a circle: the files, and each edge between them as
/// `(importer, line of its first import, imported)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Circle {
    pub files: Vec<PathBuf>,
    pub edges: Vec<(PathBuf, usize, PathBuf)>,
}

/// The source of the files: the file system, or a map in tests.
type Read<'a> = dyn Fn(&Path) -> Option<String> + 'a;

/// Scanned files, each read once however many targets include it.
struct Files<'a> {
    read: &'a Read<'a>,
    scanned: HashMap<PathBuf, Option<scan::Scanned>>,
}

/// `path` without `.` and `a/..` (a `#[path]` or a target outside its package's folder).
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

impl Files<'_> {
    fn get(&mut self, path: &Path) -> Option<&scan::Scanned> {
        let read = self.read;
        self.scanned
            .entry(path.to_path_buf())
            .or_insert_with(|| read(path).map(|t| scan::scan(&t)))
            .as_ref()
    }
}

/// Adds the import edges of the crate whose root file is `root` to `edges` (keyed by
/// importer and imported, valued by the first line).
fn crate_edges(
    root: &Path,
    files: &mut Files<'_>,
    edges: &mut BTreeMap<(PathBuf, PathBuf), usize>,
) {
    // Module path -> the file that holds it; and each file with its module path.
    let mut modules: BTreeMap<Vec<String>, PathBuf> = BTreeMap::new();
    let mut order: Vec<(PathBuf, Vec<String>)> = Vec::new();
    let mut queue = vec![(normalize(root), Vec::<String>::new(), true)];
    while let Some((file, module, mod_rs)) = queue.pop() {
        if modules.contains_key(&module) {
            continue;
        }
        let Some(scanned) = files.get(&file).cloned() else {
            continue;
        };
        modules.insert(module.clone(), file.clone());
        for inline in &scanned.inline_mods {
            let mut m = module.clone();
            m.extend(inline.iter().cloned());
            modules.insert(m, file.clone());
        }
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let own_dir = if mod_rs {
            dir.clone()
        } else {
            let stem = file.file_stem().unwrap_or_default();
            dir.join(stem)
        };
        for decl in &scanned.mods {
            let mut children = own_dir.clone();
            children.extend(decl.inline.iter());
            let mut m = module.clone();
            m.extend(decl.inline.iter().cloned());
            m.push(decl.name.clone());
            let found = match &decl.path {
                Some(p) => {
                    let base = if decl.inline.is_empty() {
                        &dir
                    } else {
                        &children
                    };
                    let f = normalize(&base.join(p));
                    let is_mod_rs = f.file_name().is_some_and(|n| n == "mod.rs");
                    Some((f, is_mod_rs))
                }
                None => {
                    let flat = normalize(&children.join(format!("{}.rs", decl.name)));
                    let nested = normalize(&children.join(&decl.name).join("mod.rs"));
                    if files.get(&flat).is_some() {
                        Some((flat, false))
                    } else if files.get(&nested).is_some() {
                        Some((nested, true))
                    } else {
                        None
                    }
                }
            };
            if let Some((f, is_mod_rs)) = found {
                queue.push((f, m, is_mod_rs));
            }
        }
        order.push((file, module));
    }
    // The names each module's `use` items bind, as absolute paths: a path through a
    // re-export names the file the item comes from, not the one re-exporting it.
    let mut binds: Bindings = HashMap::new();
    for (file, module) in &order {
        let Some(scanned) = files.get(file) else {
            continue;
        };
        for p in &scanned.paths {
            let Some(name) = &p.bind else { continue };
            let mut base = module.clone();
            base.extend(p.inline.iter().cloned());
            if let Some(absolute) = absolute(&base, &p.segments, &modules) {
                binds
                    .entry(base)
                    .or_default()
                    .insert(name.clone(), absolute);
            }
        }
    }
    for (file, module) in order {
        let Some(scanned) = files.get(&file) else {
            continue;
        };
        for p in &scanned.paths {
            let mut base = module.clone();
            base.extend(p.inline.iter().cloned());
            let Some(target) = resolve(&base, &p.segments, &modules, &binds) else {
                continue;
            };
            if *target != file {
                let line = edges
                    .entry((file.clone(), target.clone()))
                    .or_insert(p.line);
                *line = (*line).min(p.line);
            }
        }
    }
}

/// Per module, the names its `use` items bind and the absolute paths they stand for.
type Bindings = HashMap<Vec<String>, HashMap<String, Vec<String>>>;

/// The file a path written in module `base` names, when it is a path into this crate: the
/// deepest module it passes through, or, when the next segment is a name that module
/// imports, where that name comes from.
fn resolve<'m>(
    base: &[String],
    segments: &[String],
    modules: &'m BTreeMap<Vec<String>, PathBuf>,
    binds: &Bindings,
) -> Option<&'m PathBuf> {
    let mut path = absolute(base, segments, modules)?;
    // A re-export of a re-export…, bounded against a `use` naming itself.
    for _ in 0..8 {
        let n = (0..=path.len())
            .rev()
            .find(|n| modules.contains_key(&path[..*n]))?;
        let through = path
            .get(n)
            .and_then(|name| binds.get(&path[..n])?.get(name));
        match through {
            Some(target) if *target != path[..=n] => {
                let mut next = target.clone();
                next.extend(path[n + 1..].iter().cloned());
                path = next;
            }
            _ => return modules.get(&path[..n]),
        }
    }
    None
}

/// The absolute module path (segments after `crate`) of a path written in module `base`.
fn absolute(
    base: &[String],
    segments: &[String],
    modules: &BTreeMap<Vec<String>, PathBuf>,
) -> Option<Vec<String>> {
    let first = segments.first()?;
    let absolute: Vec<String> = match first.as_str() {
        "crate" => segments[1..].to_vec(),
        "self" => base.iter().chain(&segments[1..]).cloned().collect(),
        "super" => {
            let ups = segments.iter().take_while(|s| *s == "super").count();
            let keep = base.len().checked_sub(ups)?;
            base[..keep]
                .iter()
                .chain(&segments[ups..])
                .cloned()
                .collect()
        }
        _ => {
            let mut child = base.to_vec();
            child.push(first.clone());
            if !modules.contains_key(&child) {
                return None;
            }
            base.iter().chain(segments).cloned().collect()
        }
    };
    Some(absolute)
}

/// The circles among the files of the crates rooted at `roots`.
pub fn circles(roots: &[PathBuf], read: &Read<'_>) -> Vec<Circle> {
    let mut files = Files {
        read,
        scanned: HashMap::new(),
    };
    let mut edges = BTreeMap::new();
    for root in roots {
        crate_edges(root, &mut files, &mut edges);
    }
    let mut out = Vec::new();
    for component in strongly_connected(&edges) {
        if component.len() < 2 {
            continue;
        }
        let members: BTreeSet<&PathBuf> = component.iter().collect();
        let inner = edges
            .iter()
            .filter(|((a, b), _)| members.contains(a) && members.contains(b))
            .map(|((a, b), line)| (a.clone(), *line, b.clone()))
            .collect();
        let mut files = component;
        files.sort();
        out.push(Circle {
            files,
            edges: inner,
        });
    }
    out.sort_by(|a, b| a.files.cmp(&b.files));
    out
}

/// Tarjan's strongly connected components of the graph `edges`.
fn strongly_connected(edges: &BTreeMap<(PathBuf, PathBuf), usize>) -> Vec<Vec<PathBuf>> {
    let mut nodes: Vec<&PathBuf> = edges.keys().flat_map(|(a, b)| [a, b]).collect();
    nodes.sort();
    nodes.dedup();
    let index_of: HashMap<&PathBuf, usize> =
        nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (a, b) in edges.keys() {
        next[index_of[a]].push(index_of[b]);
    }
    struct State {
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        counter: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(v: usize, next: &[Vec<usize>], s: &mut State) {
        s.index[v] = Some(s.counter);
        s.low[v] = s.counter;
        s.counter += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for &w in &next[v] {
            match s.index[w] {
                None => {
                    visit(w, next, s);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(iw) if s.on_stack[w] => s.low[v] = s.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            s.out.push(component);
        }
    }
    let mut s = State {
        index: vec![None; nodes.len()],
        low: vec![0; nodes.len()],
        on_stack: vec![false; nodes.len()],
        stack: Vec::new(),
        counter: 0,
        out: Vec::new(),
    };
    for v in 0..nodes.len() {
        if s.index[v].is_none() {
            visit(v, &next, &mut s);
        }
    }
    s.out
        .into_iter()
        .map(|c| c.into_iter().map(|i| nodes[i].clone()).collect())
        .collect()
}

/// The error listing every circle among the crates rooted at `roots`, paths shown relative
/// to the workspace `root`; `Ok` when there is none.
pub fn check(root: &Path, roots: &[PathBuf]) -> Result<(), String> {
    let found = circles(roots, &|p| std::fs::read_to_string(p).ok());
    report(root, &found, roots.len())
}

fn report(root: &Path, found: &[Circle], targets: usize) -> Result<(), String> {
    let rel = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
    let (old, found): (Vec<&Circle>, Vec<&Circle>) =
        found.iter().partition(|c| known(root, c).is_some());
    for c in &old {
        let names: Vec<String> = c.files.iter().map(|f| rel(f)).collect();
        println!(
            "tidy: known import circle ({}): {}",
            known(root, c).unwrap_or_default(),
            names.join(", ")
        );
    }
    if found.is_empty() {
        let known = match old.len() {
            0 => String::new(),
            n => format!(" but the {n} known"),
        };
        println!("tidy: no import circles between the files of {targets} crate targets{known}");
        return Ok(());
    }
    let mut text = String::new();
    for c in &found {
        let names: Vec<String> = c.files.iter().map(|f| rel(f)).collect();
        text.push_str(&format!(
            "\n  circle of {} files: {}",
            c.files.len(),
            names.join(", ")
        ));
        for (from, line, to) in &c.edges {
            text.push_str(&format!("\n    {}:{line} imports {}", rel(from), rel(to)));
        }
    }
    Err(format!(
        "{} import circles between files; move what the files share into a module below \
         them (docs/architecture.md §1a):{text}",
        found.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(files: &[(&str, &str)], roots: &[&str]) -> Vec<Circle> {
        let map: BTreeMap<PathBuf, String> = files
            .iter()
            .map(|(p, t)| (PathBuf::from(p), (*t).to_owned()))
            .collect();
        let roots: Vec<PathBuf> = roots.iter().map(PathBuf::from).collect();
        circles(&roots, &|p| map.get(p).cloned())
    }

    fn edge(a: &str, line: usize, b: &str) -> (PathBuf, usize, PathBuf) {
        (a.into(), line, b.into())
    }

    #[test]
    fn a_circle_is_found_with_its_edges_and_a_tree_passes() {
        let lib = "mod a;\nmod b;\nmod c;";
        let circle = run(
            &[
                ("s/lib.rs", lib),
                ("s/a.rs", "use crate::b::f;"),
                ("s/b.rs", "// b\nuse crate::c::{g, h};"),
                ("s/c.rs", "fn x() {\n    crate::a::y();\n}"),
            ],
            &["s/lib.rs"],
        );
        assert_eq!(
            circle,
            vec![Circle {
                files: vec!["s/a.rs".into(), "s/b.rs".into(), "s/c.rs".into()],
                edges: vec![
                    edge("s/a.rs", 1, "s/b.rs"),
                    edge("s/b.rs", 2, "s/c.rs"),
                    edge("s/c.rs", 2, "s/a.rs"),
                ],
            }]
        );
        let tree = run(
            &[
                ("s/lib.rs", lib),
                ("s/a.rs", "use crate::b::f;\nuse crate::c::g;"),
                ("s/b.rs", "use crate::c::{g, h};"),
                ("s/c.rs", "use std::fmt;\nfn x() { other::a::y(); }"),
            ],
            &["s/lib.rs"],
        );
        assert_eq!(tree, vec![]);
    }

    #[test]
    fn super_self_and_child_paths_resolve_to_the_deepest_module_file() {
        // `a` is `a/mod.rs`, `a::b` is `a/b.rs`, `a::b::inner` an inline module of `a/b.rs`,
        // and `a::c` is `a/c/mod.rs`.
        let found = run(
            &[
                ("s/lib.rs", "pub mod a;"),
                ("s/a/mod.rs", "mod b;\nmod c;\npub use self::b::inner::X;"),
                (
                    "s/a/b.rs",
                    "pub mod inner { pub struct X; }\nfn f() { super::c::g(); }",
                ),
                (
                    "s/a/c/mod.rs",
                    "pub fn g() {}\nfn h() { super::super::a::b::inner::X; }",
                ),
            ],
            &["s/lib.rs"],
        );
        assert_eq!(
            found,
            vec![Circle {
                files: vec!["s/a/b.rs".into(), "s/a/c/mod.rs".into()],
                edges: vec![
                    edge("s/a/b.rs", 2, "s/a/c/mod.rs"),
                    edge("s/a/c/mod.rs", 2, "s/a/b.rs")
                ],
            }]
        );
        // A parent re-exporting a child (a child's name as a path) and the child using the
        // parent (`super::`) is a circle too; a flat `a.rs` keeps its children in `a/`.
        let found = run(
            &[
                ("s/main.rs", "mod a;"),
                ("s/a.rs", "mod b;\npub struct Shared;\npub use b::Thing;"),
                ("s/a/b.rs", "use super::Shared;\npub struct Thing;"),
            ],
            &["s/main.rs"],
        );
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].edges,
            vec![edge("s/a/b.rs", 1, "s/a.rs"), edge("s/a.rs", 3, "s/a/b.rs")]
        );
    }

    #[test]
    fn test_only_code_and_other_crates_make_no_edges() {
        let found = run(
            &[
                ("s/lib.rs", "mod a;\nmod b;"),
                ("s/a.rs", "use crate::b::f;\n#[cfg(test)]\nmod tests;"),
                ("s/a/tests.rs", "use crate::b::g;"),
                (
                    "s/b.rs",
                    "pub fn f() {}\n#[cfg(test)]\nmod tests { use crate::a::x; }",
                ),
                // Another crate with the same module names, whose `a` imports its `b`.
                ("t/main.rs", "mod a;\nmod b;"),
                ("t/a.rs", "use crate::b::f;"),
                ("t/b.rs", "use runtime::a::x;"),
            ],
            &["s/lib.rs", "t/main.rs"],
        );
        assert_eq!(found, vec![]);
        // `t/x/main.rs` uses nothing of `t/c.rs`; one more line makes the circle.
        let found = run(
            &[
                (
                    "t/x/main.rs",
                    "#[path = \"../c.rs\"]\nmod c;\nstruct S;\nuse c::f;",
                ),
                ("t/c.rs", "use super::S;\npub fn f() {}"),
            ],
            &["t/x/./main.rs"],
        );
        assert_eq!(
            found[0].edges,
            vec![
                edge("t/c.rs", 1, "t/x/main.rs"),
                edge("t/x/main.rs", 4, "t/c.rs")
            ]
        );
    }

    #[test]
    fn the_report_names_every_edge_relative_to_the_root() {
        let c = Circle {
            files: vec!["/w/s/a.rs".into(), "/w/s/b.rs".into()],
            edges: vec![
                edge("/w/s/a.rs", 3, "/w/s/b.rs"),
                edge("/w/s/b.rs", 7, "/w/s/a.rs"),
            ],
        };
        let err = report(Path::new("/w"), &[c], 1).unwrap_err();
        assert!(err.starts_with("1 import circles between files"), "{err}");
        assert!(
            err.contains("\n  circle of 2 files: s/a.rs, s/b.rs"),
            "{err}"
        );
        assert!(
            err.contains("\n    s/a.rs:3 imports s/b.rs\n    s/b.rs:7 imports s/a.rs"),
            "{err}"
        );
        assert!(report(Path::new("/w"), &[], 1).is_ok());
    }

    #[test]
    fn a_known_circle_passes_until_it_grows() {
        // Two files of the first entry of KNOWN (with none left, any circle fails).
        let (dir, files): (&str, &[&str]) = KNOWN
            .first()
            .map_or(("crates/x/src", &["a.rs", "b.rs"][..]), |(d, f, _)| {
                (*d, *f)
            });
        let b = format!("/w/{dir}");
        let known = Circle {
            files: files
                .iter()
                .take(2)
                .map(|f| format!("{b}/{f}").into())
                .collect(),
            edges: vec![],
        };
        assert_eq!(
            report(Path::new("/w"), std::slice::from_ref(&known), 1).is_ok(),
            !KNOWN.is_empty()
        );
        let mut grown = known;
        grown.files.push(format!("{b}/not_known.rs").into());
        let err = report(Path::new("/w"), &[grown], 1).unwrap_err();
        assert!(err.contains("src/not_known.rs"), "{err}");
    }
}
