//! Checking a file while it is being written ([`FileCheck`]): `csamctl export` loads
//! its own output with the real loader, to catch a renderer bug before anybody plans
//! with the file. Loaded only once complete, the 29 MB of a large fleet would add a
//! parse and a validation after everything else; here the enterprises already written
//! are parsed and walked on the other cores while the rest is read and rendered, and
//! the complete text waits only for the last pieces, its top level and the checks across
//! the desired state (made in file order).
//!
//! The outcome is exactly what [`super::load_bytes`] gives for the complete text. The
//! text is cut as [`super::split`] cuts a large file (whole items of the top-level
//! `enterprises` list; every position that of the whole file; the tree the whole text
//! gives), under the same conditions, with the same fallback: anything in doubt (a
//! text of another shape, a piece that does not parse, a byte the decoder refuses, the
//! budgets) and the complete text is loaded the ordinary way, which also gives every
//! error its exact wording.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use super::fast::Shift;
use super::load::{InputLimits, parse_whole};
use super::node::Value;
use super::validate::{self, Apart};
use super::{Loaded, Validation, split};

/// A piece is handed over once this much text is waiting (about ten enterprises of a
/// large fleet): small enough that little is left when the text is complete, large
/// enough that the handing over costs nothing.
const PIECE_BYTES: usize = 256 * 1024;

/// The text before the list of enterprises is looked for in this much text at most
/// (the header comment and `version: 1`).
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// A file being written, checked as it grows: [`FileCheck::grown`] after each part the
/// writer adds (whole lines; for `export`, each enterprise), [`FileCheck::finish`] with
/// the complete text.
pub struct FileCheck {
    path: PathBuf,
    limits: InputLimits,
    piece_bytes: usize,
    /// Where the list of enterprises starts, once the text holds its first item.
    list: Option<List>,
    /// Bytes of the text handed over (head included) and the lines they hold.
    sent: usize,
    lines: u32,
    /// The text is not of the shape that can be cut: load it whole at the end.
    in_doubt: bool,
    work: Arc<Work>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

#[derive(Clone, Copy)]
struct List {
    /// Byte offset of the first item's line (the head is the text before it).
    start: usize,
    /// The items' indentation.
    indent: usize,
}

/// The pieces waiting and the outcome of those done, shared with the workers.
#[derive(Default)]
struct Work {
    state: Mutex<WorkState>,
    changed: Condvar,
}

#[derive(Default)]
struct WorkState {
    /// Pieces not yet taken, with their number.
    waiting: VecDeque<(usize, Piece)>,
    /// By piece number: what it gave, once done.
    done: Vec<Option<Done>>,
    /// No piece will come any more.
    closed: bool,
    /// A piece is in doubt: no other needs doing.
    failed: bool,
}

struct Piece {
    text: String,
    shift: Shift,
}

/// A piece parsed and its enterprises walked.
struct Done {
    /// The piece's text and where it starts in the file.
    text: String,
    offset: usize,
    apart: Apart,
    /// Its nodes, its own list node included.
    nodes: usize,
}

impl Work {
    fn lock(&self) -> MutexGuard<'_, WorkState> {
        // A worker that panicked is a bug that its join reports; the state it left is
        // only ever a piece not done, which `finish` notices.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes pieces and does them until none is waiting and none will come (or one
    /// failed).
    fn help(&self, indent: usize, limits: &InputLimits) {
        loop {
            let (number, piece) = {
                let mut state = self.lock();
                loop {
                    if state.failed {
                        return;
                    }
                    if let Some(next) = state.waiting.pop_front() {
                        break next;
                    }
                    if state.closed {
                        return;
                    }
                    state = self
                        .changed
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            };
            let done = check_piece(piece, indent, limits);
            let mut state = self.lock();
            match done {
                Some(done) => state.done[number] = Some(done),
                None => state.failed = true,
            }
            self.changed.notify_all();
        }
    }
}

impl FileCheck {
    /// A check of the file that will be named `path` (in diagnostics), within `limits`.
    pub fn new(path: PathBuf, limits: InputLimits) -> Self {
        FileCheck {
            path,
            limits,
            piece_bytes: PIECE_BYTES,
            list: None,
            sent: 0,
            lines: 0,
            in_doubt: false,
            work: Arc::default(),
            workers: Vec::new(),
        }
    }

    /// The text so far (whole lines): what is new since the last piece is handed over
    /// once there is enough of it.
    pub fn grown(&mut self, text: &str) {
        if self.in_doubt {
            return;
        }
        if self.list.is_none() {
            match split::list_start(text) {
                Some((index, start, indent)) => {
                    self.list = Some(List { start, indent });
                    self.sent = start;
                    self.lines = u32::try_from(index).unwrap_or(u32::MAX);
                }
                // Not there yet; a head this long is not of the usual shape.
                None => {
                    self.in_doubt = text.len() > MAX_HEAD_BYTES;
                    return;
                }
            }
        }
        if text.len() - self.sent >= self.piece_bytes {
            self.hand_over(text);
        }
    }

    /// Hands the text from `sent` on over as the next piece.
    fn hand_over(&mut self, text: &str) {
        let Some(list) = self.list else {
            return;
        };
        let Some(new) = text.get(self.sent..).filter(|t| !t.is_empty()) else {
            return;
        };
        let piece = Piece {
            text: new.to_string(),
            shift: Shift {
                offset: self.sent,
                lines: self.lines,
            },
        };
        let lines = new.bytes().filter(|&b| b == b'\n').count();
        self.lines = self
            .lines
            .saturating_add(u32::try_from(lines).unwrap_or(u32::MAX));
        self.sent = text.len();
        {
            let mut state = self.work.lock();
            let number = state.done.len();
            state.done.push(None);
            state.waiting.push_back((number, piece));
        }
        self.work.changed.notify_all();
        if self.workers.is_empty() {
            self.start_workers(list.indent);
        }
    }

    /// The other cores' workers (none on one core: then `finish` does every piece).
    fn start_workers(&mut self, indent: usize) {
        for _ in 1..crate::parallel::cores() {
            let (work, limits) = (Arc::clone(&self.work), self.limits);
            let started = std::thread::Builder::new()
                .name("check-pieces".into())
                .spawn(move || work.help(indent, &limits));
            // A thread that cannot be started leaves its share to `finish`.
            if let Ok(handle) = started {
                self.workers.push(handle);
            }
        }
    }

    /// The outcome of loading the complete `text`: exactly [`super::load_bytes`]'s.
    pub fn finish(mut self, text: &str) -> Loaded {
        match self.finish_apart(text) {
            Some(loaded) => loaded,
            None => super::load_bytes(
                &[(self.path.clone(), text.as_bytes().to_vec())],
                &self.limits,
            ),
        }
    }

    /// The complete text from its pieces, or `None` when anything is in doubt.
    fn finish_apart(&mut self, text: &str) -> Option<Loaded> {
        // The decoder's refusals (a byte-order mark it drops, control bytes) and the
        // size budget are for the whole load to report.
        if self.in_doubt
            || text.starts_with('\u{feff}')
            || text.len() as u64 > self.limits.max_file_bytes
        {
            return None;
        }
        let list = self.list?;
        if text.len() < self.sent {
            return None;
        }
        self.hand_over(text);
        self.work.lock().closed = true;
        self.work.changed.notify_all();
        self.work.help(list.indent, &self.limits);
        for worker in std::mem::take(&mut self.workers) {
            if let Err(panic) = worker.join() {
                std::panic::resume_unwind(panic);
            }
        }
        let done: Vec<Done> = {
            let mut state = self.work.lock();
            if state.failed {
                return None;
            }
            std::mem::take(&mut state.done)
                .into_iter()
                .collect::<Option<_>>()?
        };
        // What was checked is what is written: each piece is the complete text's bytes
        // at its place.
        if !done
            .iter()
            .all(|d| text.get(d.offset..d.offset + d.text.len()) == Some(d.text.as_str()))
        {
            return None;
        }
        let head_text = &text[..list.start];
        if !split::may_cut(head_text) || has_control_byte(head_text) {
            return None;
        }
        let head = parse_whole(head_text, &self.limits).ok()?;
        if !split::is_head(&head) {
            return None;
        }
        let nodes = done.iter().fold(split::count(&head), |all, d| {
            all.saturating_add(d.nodes.saturating_sub(1))
        });
        if !split::within_budget(nodes, &self.limits) {
            return None;
        }
        let mut validation = Validation::default();
        let parts = done.into_iter().map(|d| d.apart);
        validation.add_apart(self.path.clone(), Arc::from(text), &head, parts);
        Some(validation.finish())
    }
}

impl Drop for FileCheck {
    /// A check given up (the export failed): the workers stop after their piece.
    fn drop(&mut self) {
        self.work.lock().failed = true;
        self.work.changed.notify_all();
        for worker in std::mem::take(&mut self.workers) {
            let _ = worker.join();
        }
    }
}

/// A control byte the decoder refuses (YAML allows tab, line feed and carriage return).
fn has_control_byte(text: &str) -> bool {
    text.bytes()
        .any(|b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
}

/// Parses a piece (whole items of the list at `indent`) and walks its enterprises, or
/// `None` when it is in doubt: a `*`, a tab or a control byte anywhere, a first line that
/// is not an item, a line as little indented as the items that is not one (the list
/// would end there), or a piece that does not parse.
fn check_piece(piece: Piece, indent: usize, limits: &InputLimits) -> Option<Done> {
    let text = piece.text.as_str();
    if text
        .bytes()
        .any(|b| b == b'*' || (b < 0x20 && !matches!(b, b'\n' | b'\r')))
    {
        return None;
    }
    let mut lines = text.split_inclusive('\n').filter(|l| !split::is_blank(l));
    if !lines
        .next()
        .is_some_and(|first| split::is_item(first, indent))
    {
        return None;
    }
    if lines.any(|l| split::indent(l) <= indent && !split::is_item(l, indent)) {
        return None;
    }
    let (tree, nodes) = split::parse_piece(text, piece.shift, &split::piece_limits(limits))?;
    let Value::Seq(items) = &tree.value else {
        return None;
    };
    // One file: the check's, which `finish` adds first (file 0).
    let apart = validate::walk_apart(0, text, piece.shift.offset, items);
    drop(tree);
    Some(Done {
        text: piece.text,
        offset: piece.shift.offset,
        apart,
        nodes,
    })
}

#[cfg(test)]
mod tests;
