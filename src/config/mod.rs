//! Reading the desired state: files and directories → spanned YAML → validated
//! [`DesiredState`], collecting every diagnostic on the way.
//!
//! Only this module builds a [`DesiredState`]. May use `model`, serde-saphyr and miette.

pub(crate) mod diagnostic;
mod fast;
pub(crate) mod load;
pub(crate) mod node;
pub(crate) mod schema;
mod split;
pub(crate) mod validate;
pub(crate) mod walk;

use std::path::PathBuf;

pub(crate) use diagnostic::DiagnosticOptions;
pub use diagnostic::{Diagnostic, DiagnosticSeverity, Place, Related, SourceFile, Sources};
pub use load::InputLimits;
pub use node::Pos;

use crate::model::DesiredState;

/// The outcome of reading a desired state: what could be validated, every diagnostic,
/// and the sources to render them against.
#[derive(Debug)]
pub struct Loaded {
    /// The enterprises that validated (complete only when there is no error).
    pub state: DesiredState,
    /// Every problem found, in file and line order.
    pub diagnostics: Vec<Diagnostic>,
    /// The files read.
    pub sources: Sources,
    /// YAML files found in directories that are not desired-state files (no `version`).
    pub skipped: Vec<PathBuf>,
}

impl Loaded {
    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == DiagnosticSeverity::Error)
            .count()
    }

    /// Number of warnings.
    pub fn warnings(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == DiagnosticSeverity::Warning)
            .count()
    }
}

/// Reads, parses and validates the files and directories named (or the default
/// `csam.yaml` / `./csam/`), as one desired state.
pub fn load(paths: &[PathBuf], limits: &InputLimits) -> Loaded {
    match load::discover(paths) {
        Ok(files) => validate_each(files, |_, found, sources| {
            load::read_and_parse(&found.path, limits, sources)
        }),
        Err(d) => Loaded {
            state: DesiredState::default(),
            diagnostics: vec![*d],
            sources: Sources::default(),
            skipped: Vec::new(),
        },
    }
}

/// Validates files already in memory (named as given) as one desired state: the same
/// decoding, budgets and checks as [`load`], for fuzzing and benchmarks.
pub fn load_bytes(files: &[(PathBuf, Vec<u8>)], limits: &InputLimits) -> Loaded {
    let found = files.iter().map(|(path, _)| load::Found {
        path: path.clone(),
        named: true,
    });
    validate_each(found.collect(), |i, found, sources| {
        let bytes = files.get(i).map(|(_, b)| b.as_slice()).unwrap_or_default();
        load::parse_bytes(&found.path, bytes, limits, sources)
    })
}

/// One file parsed into sources of its own (file ids from 0), to be put after the
/// files already read.
struct Parsed {
    sources: Sources,
    outcome: Result<(diagnostic::FileId, node::Node), Box<Diagnostic>>,
}

impl Parsed {
    /// Moves the file into `sources`, renumbering what refers to it.
    fn into(
        self,
        sources: &mut Sources,
    ) -> Result<(diagnostic::FileId, node::Node), Box<Diagnostic>> {
        let base = sources.files.len();
        sources.files.extend(self.sources.files);
        match self.outcome {
            Ok((file, root)) => Ok((base + file, root)),
            Err(mut d) => {
                if d.place.file != usize::MAX {
                    d.place.file += base;
                }
                Err(d)
            }
        }
    }
}

type ParseFile<'p> = dyn Fn(
        usize,
        &load::Found,
        &mut Sources,
    ) -> Result<(diagnostic::FileId, node::Node), Box<Diagnostic>>
    + Sync
    + 'p;

fn parse_one(i: usize, found: &load::Found, parse: &ParseFile<'_>) -> Parsed {
    let mut sources = Sources::default();
    let outcome = parse(i, found, &mut sources);
    Parsed { sources, outcome }
}

/// Parses the files on every core and validates them in order on this thread: worker
/// `w` of `n` parses files `w`, `w + n`, ... and hands each over through a channel of
/// one, so at most two trees per worker wait in memory.
fn validate_each(
    files: Vec<load::Found>,
    parse: impl Fn(
        usize,
        &load::Found,
        &mut Sources,
    ) -> Result<(diagnostic::FileId, node::Node), Box<Diagnostic>>
    + Sync,
) -> Loaded {
    let workers = crate::parallel::cores().min(files.len());
    let parse: &ParseFile<'_> = &parse;
    if workers < 2 {
        let mut validation = Validation::default();
        for (i, found) in files.into_iter().enumerate() {
            let parsed = parse_one(i, &found, parse);
            validation.add(found, parsed);
        }
        return validation.finish();
    }
    std::thread::scope(|scope| {
        let files = &files;
        let channels: Vec<_> = (0..workers)
            .map(|w| {
                let (send, receive) = std::sync::mpsc::sync_channel::<Parsed>(1);
                scope.spawn(move || {
                    for (i, found) in files.iter().enumerate().skip(w).step_by(workers) {
                        if send.send(parse_one(i, found, parse)).is_err() {
                            return;
                        }
                    }
                });
                receive
            })
            .collect();
        let mut validation = Validation::default();
        for (i, found) in files.iter().enumerate() {
            let parsed = match channels[i % workers].recv() {
                Ok(parsed) => parsed,
                // A worker that panicked: the panic is a bug, surfaced by the scope.
                Err(_) => break,
            };
            validation.add(found.clone(), parsed);
        }
        validation.finish()
    })
}

/// From this size of file on, its tree is freed on a thread of its own.
const DROP_APART_BYTES: usize = 512 * 1024;

/// Validating file after file: the state so far, and only one YAML tree at a time.
#[derive(Default)]
struct Validation {
    sources: Sources,
    diagnostics: Vec<Diagnostic>,
    state: DesiredState,
    index: validate::StateIndex,
    skipped: Vec<PathBuf>,
}

impl Validation {
    fn add(&mut self, found: load::Found, parsed: Parsed) {
        let (file, root) = match parsed.into(&mut self.sources) {
            Ok(parsed) => parsed,
            Err(d) => {
                self.diagnostics.push(*d);
                return;
            }
        };
        let sources = &mut self.sources;
        if !found.named && !validate::is_desired_state(&root) {
            sources.files[file].text = std::sync::Arc::from("");
            self.skipped.push(found.path);
            return;
        }
        let text = sources.files[file].text.clone();
        let mut walk = walk::Walk::new(file, &text);
        let enterprises = validate::document(&mut walk, &mut self.index, &root);
        // Only the validated model and the text stay. A large tree is freed on a thread
        // of its own (about a tenth of the time it took to build), so that the caller
        // goes on meanwhile; if no thread can be started, it is freed here.
        if text.len() >= DROP_APART_BYTES {
            let _ = std::thread::Builder::new()
                .name("free-tree".into())
                .spawn(move || drop(root));
        } else {
            drop(root);
        }
        sources.files[file].secret_spans = std::mem::take(&mut walk.secret_spans);
        sources.files[file].personal_spans = std::mem::take(&mut walk.personal_spans);
        self.diagnostics.append(&mut walk.diagnostics);
        self.state.enterprises.extend(enterprises);
    }

    fn finish(mut self) -> Loaded {
        self.diagnostics
            .sort_by_key(|d| (d.place.file, d.place.pos.line, d.place.pos.column));
        Loaded {
            state: self.state,
            diagnostics: self.diagnostics,
            sources: self.sources,
            skipped: self.skipped,
        }
    }
}
