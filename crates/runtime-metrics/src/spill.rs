//! The spill file: JSON lines kept while the database is unreachable, replayed later.
//!
//! Each append writes whole lines in one write and syncs them (and, when it created the file,
//! its directory). An append that fails part-way (disk full, I/O error) is cut back to where
//! it started, so a failed append leaves nothing behind and its records stay with the caller.
//! A crash mid-append can still leave a torn last line: the next append starts on a fresh
//! line, and replay skips lines that do not parse (with a warning, counted), so one torn line
//! never stops the lines after it. Replay first renames the file to `<path>.replay`, so
//! appends made during a replay go to a fresh file and are never truncated away.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use crate::record::UsageRecord;

/// The spill file of one writer.
#[derive(Debug)]
pub struct Spill {
    path: PathBuf,
    replay_path: PathBuf,
    lock: Mutex<()>,
}

impl Spill {
    /// A spill file at `path` (created on first append).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let mut replay = path.clone().into_os_string();
        replay.push(".replay");
        Self {
            path,
            replay_path: PathBuf::from(replay),
            lock: Mutex::new(()),
        }
    }

    /// The file records are appended to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends records as JSON lines in one write; with `sync`, also synced to disk before
    /// returning (without, they are in the OS's hands: safe from a process crash, not from a
    /// power cut).
    pub fn append(&self, records: &[UsageRecord], sync: bool) -> io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::with_capacity(records.len() * 400);
        for r in records {
            serde_json::to_writer(&mut buf, r)?;
            buf.push(b'\n');
        }
        let _g = self.lock.lock();
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let existed = self.path.exists();
        let mut f = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&self.path)?;
        let len = f.metadata()?.len();
        let written = (|| {
            if len > 0 {
                // A torn last line (crash mid-write) must not swallow the first new line.
                let mut last = [0u8; 1];
                f.seek(SeekFrom::Start(len - 1))?;
                f.read_exact(&mut last)?;
                if last[0] != b'\n' {
                    f.write_all(b"\n")?;
                }
            }
            f.write_all(&buf)?;
            if sync { f.sync_data() } else { Ok(()) }
        })();
        if let Err(e) = written {
            // Nothing half-written: cut the file back to where this append began.
            if let Err(cut) = f.set_len(len) {
                tracing::error!(error = %cut, file = %self.path.display(),
                    "cannot cut a failed append off the usage spill file; replay will skip its torn line");
            }
            return Err(e);
        }
        if sync && !existed {
            sync_dir(&self.path);
        }
        Ok(())
    }

    /// Records waiting in the spill files (lines; a torn line counts too).
    pub fn pending_lines(&self) -> io::Result<u64> {
        let _g = self.lock.lock();
        let mut n = 0;
        for p in [&self.replay_path, &self.path] {
            match File::open(p) {
                Ok(f) => {
                    for line in BufReader::new(f).lines() {
                        if !line?.trim().is_empty() {
                            n += 1;
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }

    /// Starts a replay: returns a reader over the file to replay (a replay left over from
    /// before, or the current spill file moved aside), or `None` when nothing is spilled.
    pub fn begin_replay(&self) -> io::Result<Option<Replay>> {
        let _g = self.lock.lock();
        if !self.replay_path.exists() {
            match std::fs::metadata(&self.path) {
                Ok(m) if m.len() > 0 => std::fs::rename(&self.path, &self.replay_path)?,
                Ok(_) => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        let f = File::open(&self.replay_path)?;
        Ok(Some(Replay {
            path: self.replay_path.clone(),
            reader: BufReader::new(f),
            line: 0,
            skipped: 0,
        }))
    }
}

/// Syncs the directory holding `path`, so a newly created file's name survives a power cut.
fn sync_dir(path: &Path) {
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d,
        None => Path::new("."),
    };
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::warn!(error = %e, dir = %dir.display(), "cannot sync the usage spill file's directory");
    }
}

/// A file being replayed, read in batches so memory stays bounded.
#[derive(Debug)]
pub struct Replay {
    path: PathBuf,
    reader: BufReader<File>,
    line: u64,
    skipped: u64,
}

impl Replay {
    /// The next up to `n` records (empty at the end). Lines that do not parse are skipped.
    pub fn next_batch(&mut self, n: usize) -> io::Result<Vec<UsageRecord>> {
        let mut out = Vec::new();
        let mut line = String::new();
        while out.len() < n {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                break;
            }
            self.line += 1;
            let text = line.trim();
            if text.is_empty() {
                continue;
            }
            match serde_json::from_str::<UsageRecord>(text) {
                Ok(r) => out.push(r),
                Err(e) => {
                    self.skipped += 1;
                    tracing::warn!(
                        file = %self.path.display(),
                        line = self.line,
                        error = %e,
                        "skipping an unreadable (torn) line of the usage spill file"
                    );
                }
            }
        }
        Ok(out)
    }

    /// Lines skipped so far because they did not parse.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Stops a replay part-way: the lines not yet read replace the file (atomically, synced),
    /// so what was already stored is not counted as pending again.
    pub fn keep_rest(mut self) -> io::Result<()> {
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let mut out = File::create(&tmp)?;
        io::copy(&mut self.reader, &mut out)?;
        out.sync_data()?;
        drop(out);
        std::fs::rename(&tmp, &self.path)
    }

    /// Every record was stored: removes the file.
    pub fn finish(self) -> io::Result<()> {
        std::fs::remove_file(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str) -> UsageRecord {
        UsageRecord::new(id, 1, "p", "m")
    }

    #[test]
    fn append_replay_and_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::new(dir.path().join("s.jsonl"));
        assert!(spill.begin_replay().unwrap().is_none());
        spill.append(&[rec("a"), rec("b")], true).unwrap();
        // A crash mid-write: half a line without its newline.
        {
            let mut f = OpenOptions::new().append(true).open(spill.path()).unwrap();
            f.write_all(b"{\"request_id\":\"tor").unwrap();
        }
        spill.append(&[rec("c")], false).unwrap();
        assert_eq!(spill.pending_lines().unwrap(), 4);
        let mut r = spill.begin_replay().unwrap().unwrap();
        // Appends during the replay go to a fresh file.
        spill.append(&[rec("d")], false).unwrap();
        let got: Vec<String> = r
            .next_batch(10)
            .unwrap()
            .into_iter()
            .map(|r| r.request_id)
            .collect();
        assert_eq!(got, ["a", "b", "c"]);
        assert_eq!(r.skipped(), 1, "the torn line is skipped and counted");
        assert!(r.next_batch(10).unwrap().is_empty());
        r.finish().unwrap();
        let mut r = spill.begin_replay().unwrap().unwrap();
        assert_eq!(r.next_batch(10).unwrap()[0].request_id, "d");
    }

    #[test]
    fn a_stopped_replay_keeps_only_the_unread_lines() {
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::new(dir.path().join("s.jsonl"));
        spill
            .append(&[rec("a"), rec("b"), rec("c"), rec("d")], true)
            .unwrap();
        let mut r = spill.begin_replay().unwrap().unwrap();
        assert_eq!(r.next_batch(3).unwrap().len(), 3);
        r.keep_rest().unwrap();
        assert_eq!(spill.pending_lines().unwrap(), 1);
        let mut r = spill.begin_replay().unwrap().unwrap();
        assert_eq!(r.next_batch(10).unwrap()[0].request_id, "d");
    }

    #[test]
    fn unfinished_replay_is_resumed_first() {
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::new(dir.path().join("s.jsonl"));
        spill.append(&[rec("a")], false).unwrap();
        let r = spill.begin_replay().unwrap().unwrap();
        drop(r); // e.g. the database failed mid-replay
        spill.append(&[rec("b")], false).unwrap();
        let mut r = spill.begin_replay().unwrap().unwrap();
        assert_eq!(r.next_batch(10).unwrap()[0].request_id, "a");
        r.finish().unwrap();
        let mut r = spill.begin_replay().unwrap().unwrap();
        assert_eq!(r.next_batch(10).unwrap()[0].request_id, "b");
    }
}
