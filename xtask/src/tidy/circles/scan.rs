//! The text scanner behind [`super`]: Rust source to tokens (comments and literals dropped,
//! lines kept), then to the file's `mod` declarations and the module paths it names.

/// One token: an identifier or keyword, `::`, or one punctuation character. String and
/// character literals are kept as [`Tok::Str`] (a `#[path = "…"]` needs its text); numbers,
/// lifetimes and comments are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    Ident(String),
    PathSep,
    Punct(char),
    Str(String),
}

/// Tokens of `text`, each with its 1-based line.
pub fn tokenize(text: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    let ident_start = |ch: char| ch == '_' || ch.is_alphabetic();
    let ident_char = |ch: char| ch == '_' || ch.is_alphanumeric();
    while i < c.len() {
        let ch = c[i];
        let next = c.get(i + 1).copied();
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && next == Some('*') {
            let mut depth = 0usize;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
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
        } else if let Some(hashes) = raw_string_start(&c, i) {
            // r"…", r#"…"#, br#"…"#: no escapes, ends at `"` and the same number of `#`.
            let start_line = line;
            let mut j = i;
            while c[j] != '"' {
                j += 1;
            }
            j += 1;
            let body_start = j;
            loop {
                if j >= c.len() {
                    break;
                }
                if c[j] == '"' && (0..hashes).all(|h| c.get(j + 1 + h) == Some(&'#')) {
                    break;
                }
                if c[j] == '\n' {
                    line += 1;
                }
                j += 1;
            }
            let body: String = c[body_start..j.min(c.len())].iter().collect();
            out.push((Tok::Str(body), start_line));
            i = j + 1 + hashes;
        } else if ch == '"' || (ch == 'b' && next == Some('"')) || (ch == 'c' && next == Some('"'))
        {
            let start_line = line;
            let mut j = if ch == '"' { i + 1 } else { i + 2 };
            let mut body = String::new();
            while j < c.len() && c[j] != '"' {
                if c[j] == '\\' {
                    j += 1;
                }
                if let Some(&x) = c.get(j) {
                    if x == '\n' {
                        line += 1;
                    }
                    body.push(x);
                }
                j += 1;
            }
            out.push((Tok::Str(body), start_line));
            i = j + 1;
        } else if ch == '\'' || (ch == 'b' && next == Some('\'')) {
            let q = if ch == '\'' { i } else { i + 1 };
            // A character literal ('x', '\n', '\u{1F600}') or a lifetime ('a, 'static).
            if c.get(q + 1) == Some(&'\\') {
                let mut j = q + 3;
                while j < c.len() && c[j] != '\'' {
                    j += 1;
                }
                out.push((Tok::Str(String::new()), line));
                i = j + 1;
            } else if c.get(q + 2) == Some(&'\'') {
                out.push((Tok::Str(String::new()), line));
                i = q + 3;
            } else {
                let mut j = q + 1;
                while j < c.len() && ident_char(c[j]) {
                    j += 1;
                }
                i = j;
            }
        } else if ch == 'r' && next == Some('#') && c.get(i + 2).is_some_and(|&x| ident_start(x)) {
            let mut j = i + 2;
            while j < c.len() && ident_char(c[j]) {
                j += 1;
            }
            out.push((Tok::Ident(c[i + 2..j].iter().collect()), line));
            i = j;
        } else if ident_start(ch) {
            let mut j = i;
            while j < c.len() && ident_char(c[j]) {
                j += 1;
            }
            out.push((Tok::Ident(c[i..j].iter().collect()), line));
            i = j;
        } else if ch.is_ascii_digit() {
            while i < c.len()
                && (ident_char(c[i])
                    || (c[i] == '.' && c.get(i + 1).is_some_and(char::is_ascii_digit)))
            {
                i += 1;
            }
        } else if ch == ':' && next == Some(':') {
            out.push((Tok::PathSep, line));
            i += 2;
        } else {
            out.push((Tok::Punct(ch), line));
            i += 1;
        }
    }
    out
}

/// The number of `#` of a raw string starting at `i` (`r"`, `r#"`, `br"`, `cr#"`…).
fn raw_string_start(c: &[char], i: usize) -> Option<usize> {
    let mut j = i;
    if matches!(c.get(j), Some('b' | 'c')) {
        j += 1;
    }
    if c.get(j) != Some(&'r') {
        return None;
    }
    // Not the tail of an identifier such as `bar"`: the caller only asks at a token start.
    j += 1;
    let mut hashes = 0;
    while c.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    (c.get(j) == Some(&'"')).then_some(hashes)
}

/// A `mod name;` of a file: a module in a file of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModDecl {
    /// The inline modules (`mod x { … }`) the declaration sits in, outermost first.
    pub inline: Vec<String>,
    pub name: String,
    /// The `#[path = "…"]` given, if any.
    pub path: Option<String>,
}

/// A path a file names (in a `use` or in code), as written, with where it sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRef {
    /// The inline modules the path sits in, outermost first.
    pub inline: Vec<String>,
    /// The segments (`crate`, `super` and `self` included).
    pub segments: Vec<String>,
    pub line: usize,
    /// For a `use`, the name it binds (the last segment or its `as` name; none for a glob).
    pub bind: Option<String>,
}

/// What one file declares and names, test-only code (`#[cfg(test)]` items) left out.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Scanned {
    pub mods: Vec<ModDecl>,
    /// Inline modules (`mod x { … }`), each as its path of inline modules.
    pub inline_mods: Vec<Vec<String>>,
    pub paths: Vec<PathRef>,
}

/// Scans one file's text.
pub fn scan(text: &str) -> Scanned {
    let toks = tokenize(text);
    let mut s = Scanner {
        toks: &toks,
        i: 0,
        out: Scanned::default(),
        inline: Vec::new(),
        // The brace depth at which each open inline module closes.
        closes: Vec::new(),
        depth: 0,
    };
    s.run();
    s.out
}

struct Scanner<'a> {
    toks: &'a [(Tok, usize)],
    i: usize,
    out: Scanned,
    inline: Vec<String>,
    closes: Vec<usize>,
    depth: usize,
}

impl Scanner<'_> {
    fn tok(&self, at: usize) -> Option<&Tok> {
        self.toks.get(at).map(|(t, _)| t)
    }

    fn ident(&self, at: usize) -> Option<&str> {
        match self.tok(at) {
            Some(Tok::Ident(s)) => Some(s),
            _ => None,
        }
    }

    fn is(&self, at: usize, ch: char) -> bool {
        self.tok(at) == Some(&Tok::Punct(ch))
    }

    fn run(&mut self) {
        let mut path_attr: Option<String> = None;
        while self.i < self.toks.len() {
            // Attributes: `#[cfg(test)]` drops the item; `#[path = "…"]` rides to a `mod`.
            if self.is(self.i, '#') {
                let inner = self.is(self.i + 1, '!');
                let open = self.i + 1 + usize::from(inner);
                if self.is(open, '[') {
                    let end = self.matching(open);
                    let attr = &self.toks[open + 1..end];
                    self.i = end + 1;
                    if is_cfg_test(attr) {
                        if inner {
                            self.out = Scanned::default();
                            return;
                        }
                        self.skip_item();
                        path_attr = None;
                    } else if let [(Tok::Ident(p), _), (Tok::Punct('='), _), (Tok::Str(s), _)] =
                        attr
                        && p == "path"
                    {
                        path_attr = Some(s.clone());
                    }
                    continue;
                }
            }
            match self.tok(self.i) {
                Some(Tok::Punct('{')) => {
                    self.depth += 1;
                    self.i += 1;
                }
                Some(Tok::Punct('}')) => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.closes.last() == Some(&self.depth) {
                        self.closes.pop();
                        self.inline.pop();
                    }
                    self.i += 1;
                }
                Some(Tok::Ident(k)) if k == "mod" && self.is(self.i + 1, '$') => {
                    // `mod $name { … }` in a macro: an inline module of this file.
                    if let (Some(name), true) = (
                        self.ident(self.i + 2).map(str::to_owned),
                        self.is(self.i + 3, '{'),
                    ) {
                        self.closes.push(self.depth);
                        self.depth += 1;
                        self.inline.push(format!("${name}"));
                        self.out.inline_mods.push(self.inline.clone());
                        self.i += 4;
                    } else {
                        self.i += 1;
                    }
                }
                Some(Tok::Ident(k)) if k == "mod" => {
                    let name = self.ident(self.i + 1).map(str::to_owned);
                    match (name, self.tok(self.i + 2)) {
                        (Some(name), Some(Tok::Punct(';'))) => {
                            self.out.mods.push(ModDecl {
                                inline: self.inline.clone(),
                                name,
                                path: path_attr.take(),
                            });
                            self.i += 3;
                        }
                        (Some(name), Some(Tok::Punct('{'))) => {
                            self.closes.push(self.depth);
                            self.depth += 1;
                            self.inline.push(name);
                            self.out.inline_mods.push(self.inline.clone());
                            self.i += 3;
                        }
                        _ => self.i += 1,
                    }
                    path_attr = None;
                }
                Some(Tok::Ident(k)) if k == "use" => {
                    self.i += 1;
                    let line = self.toks.get(self.i).map_or(0, |t| t.1);
                    let mut paths = Vec::new();
                    self.use_tree(Vec::new(), &mut paths);
                    for (segments, bind) in paths {
                        self.push_path(segments, line, bind);
                    }
                }
                Some(Tok::Ident(_))
                    if !self.after_sep() && self.tok(self.i + 1) == Some(&Tok::PathSep) =>
                {
                    let line = self.toks[self.i].1;
                    let mut segments = Vec::new();
                    while let Some(id) = self.ident(self.i) {
                        segments.push(id.to_owned());
                        if self.tok(self.i + 1) == Some(&Tok::PathSep)
                            && self.ident(self.i + 2).is_some()
                        {
                            self.i += 2;
                        } else {
                            break;
                        }
                    }
                    self.i += 1;
                    self.push_path(segments, line, None);
                }
                _ => self.i += 1,
            }
        }
    }

    /// Whether the token at `i` follows a `::` (so starts no path of its own).
    fn after_sep(&self) -> bool {
        self.i > 0 && self.tok(self.i - 1) == Some(&Tok::PathSep)
    }

    fn push_path(&mut self, segments: Vec<String>, line: usize, bind: Option<String>) {
        if !segments.is_empty() {
            self.out.paths.push(PathRef {
                inline: self.inline.clone(),
                segments,
                line,
                bind,
            });
        }
    }

    /// Parses a use tree at `self.i` (after `use`, or inside a group) into full paths;
    /// leaves `self.i` after it (before `,`, `}` or `;`).
    fn use_tree(&mut self, prefix: Vec<String>, out: &mut Vec<(Vec<String>, Option<String>)>) {
        let mut path = prefix;
        if self.tok(self.i) == Some(&Tok::PathSep) {
            // `use ::extern_crate::…`: not this crate.
            path.push("::".to_owned());
            self.i += 1;
        }
        loop {
            match self.tok(self.i).cloned() {
                Some(Tok::Ident(id)) => {
                    self.i += 1;
                    if id == "self" && !path.is_empty() {
                        // `a::{self, …}` names `a` itself.
                    } else {
                        path.push(id);
                    }
                    if self.tok(self.i) == Some(&Tok::PathSep) {
                        self.i += 1;
                        continue;
                    }
                    let mut bind = path.last().cloned();
                    if self.ident(self.i) == Some("as") {
                        bind = self.ident(self.i + 1).map(str::to_owned);
                        self.i += 2;
                    }
                    out.push((path, bind));
                    return;
                }
                Some(Tok::Punct('*')) => {
                    self.i += 1;
                    out.push((path, None));
                    return;
                }
                Some(Tok::Punct('{')) => {
                    self.i += 1;
                    loop {
                        match self.tok(self.i) {
                            Some(Tok::Punct('}')) => {
                                self.i += 1;
                                return;
                            }
                            Some(Tok::Punct(',')) => self.i += 1,
                            None => return,
                            _ => {
                                let before = self.i;
                                self.use_tree(path.clone(), out);
                                if self.i == before {
                                    self.i += 1;
                                }
                            }
                        }
                    }
                }
                _ => {
                    if !path.is_empty() {
                        out.push((path, None));
                    }
                    return;
                }
            }
        }
    }

    /// The index of the bracket closing the one at `open`.
    fn matching(&self, open: usize) -> usize {
        let mut depth = 0usize;
        for (j, (t, _)) in self.toks.iter().enumerate().skip(open) {
            match t {
                Tok::Punct('(' | '[' | '{') => depth += 1,
                Tok::Punct(')' | ']' | '}') => {
                    depth -= 1;
                    if depth == 0 {
                        return j;
                    }
                }
                _ => {}
            }
        }
        self.toks.len()
    }

    /// Skips the item at `self.i` (more attributes, then up to its `;` or its closing brace).
    fn skip_item(&mut self) {
        while self.i < self.toks.len() {
            match self.tok(self.i) {
                Some(Tok::Punct(';')) => {
                    self.i += 1;
                    return;
                }
                Some(Tok::Punct('{')) => {
                    self.i = self.matching(self.i) + 1;
                    return;
                }
                Some(Tok::Punct('(' | '[')) => self.i = self.matching(self.i) + 1,
                _ => self.i += 1,
            }
        }
    }
}

/// Whether an attribute's tokens are exactly `cfg(test)`.
fn is_cfg_test(attr: &[(Tok, usize)]) -> bool {
    let toks: Vec<&Tok> = attr.iter().map(|(t, _)| t).collect();
    matches!(
        toks.as_slice(),
        [Tok::Ident(c), Tok::Punct('('), Tok::Ident(t), Tok::Punct(')')] if c == "cfg" && t == "test"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(text: &str) -> Vec<(String, usize)> {
        scan(text)
            .paths
            .into_iter()
            .map(|p| (p.segments.join("::"), p.line))
            .collect()
    }

    #[test]
    fn comments_strings_and_lifetimes_hide_nothing_and_make_nothing_up() {
        let text = "// use crate::a;\n/* crate::b /* nested */ crate::c */\n\
                    fn f<'a>(x: &'a str) -> char { let _ = \"crate::d\"; let _ = r#\"crate::e\"#; '\"' }\n\
                    fn g() { crate::real::thing(); let _ = b'x'; }";
        assert_eq!(paths(text), vec![("crate::real::thing".to_owned(), 4)]);
    }

    #[test]
    fn use_groups_are_expanded() {
        let text = "use crate::{a::{self, B}, c::d as e, f::*};\npub(crate) use super::g;";
        assert_eq!(
            paths(text),
            vec![
                ("crate::a".to_owned(), 1),
                ("crate::a::B".to_owned(), 1),
                ("crate::c::d".to_owned(), 1),
                ("crate::f".to_owned(), 1),
                ("super::g".to_owned(), 2),
            ]
        );
    }

    #[test]
    fn test_only_items_are_left_out_and_inline_modules_are_tracked() {
        let text = "mod a;\n#[cfg(test)]\nmod tests { use crate::x; }\n#[cfg(test)]\nmod helpers;\n\
                    #[path = \"other.rs\"]\nmod b;\nmod inner { mod deep; use super::y; }\n\
                    macro_rules! m { ($n:ident) => { mod $n { use super::*; } }; }\n\
                    #[cfg(test)] fn t() { crate::z::f(); }\nuse crate::w;";
        let s = scan(text);
        let mods: Vec<_> = s
            .mods
            .iter()
            .map(|m| (m.inline.join("/"), m.name.as_str(), m.path.as_deref()))
            .collect();
        assert_eq!(
            mods,
            vec![
                (String::new(), "a", None),
                (String::new(), "b", Some("other.rs")),
                ("inner".to_owned(), "deep", None),
            ]
        );
        assert_eq!(
            s.inline_mods,
            vec![vec!["inner".to_owned()], vec!["$n".to_owned()]]
        );
        let p: Vec<_> = s
            .paths
            .iter()
            .map(|p| (p.inline.join("/"), p.segments.join("::")))
            .collect();
        assert_eq!(
            p,
            vec![
                ("inner".to_owned(), "super::y".to_owned()),
                ("$n".to_owned(), "super".to_owned()),
                (String::new(), "crate::w".to_owned()),
            ]
        );
    }
}
