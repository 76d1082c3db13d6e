//! Reading the desired state: files and directories → spanned YAML → validated
//! [`DesiredState`], collecting every diagnostic on the way.
//!
//! Only this module builds a [`DesiredState`]. May use `model`, serde-saphyr and miette.

pub mod diagnostic;
pub mod load;
pub mod node;
pub mod schema;
pub mod validate;
pub mod walk;

use std::path::PathBuf;

pub use diagnostic::{Diagnostic, RenderOptions, Severity, Sources};
pub use load::Limits;

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
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// Number of warnings.
    pub fn warnings(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }
}

/// Reads, parses and validates the files and directories named (or the default
/// `csam.yaml` / `./csam/`), as one desired state.
pub fn load(paths: &[PathBuf], limits: &Limits) -> Loaded {
    match load::discover(paths) {
        Ok(files) => validate_each(files, |found, sources| {
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
pub fn load_bytes(files: &[(PathBuf, Vec<u8>)], limits: &Limits) -> Loaded {
    let found = files.iter().map(|(path, _)| load::Found {
        path: path.clone(),
        named: true,
    });
    let mut contents = files.iter().map(|(_, bytes)| bytes);
    validate_each(found.collect(), |found, sources| {
        let bytes = contents.next().map(Vec::as_slice).unwrap_or_default();
        load::parse_bytes(&found.path, bytes, limits, sources)
    })
}

/// Parses and validates file after file, keeping only one YAML tree in memory at a time.
fn validate_each(
    files: Vec<load::Found>,
    mut parse: impl FnMut(
        &load::Found,
        &mut Sources,
    ) -> Result<(diagnostic::FileId, node::Node), Box<Diagnostic>>,
) -> Loaded {
    let mut sources = Sources::default();
    let mut diagnostics = Vec::new();
    let mut state = DesiredState::default();
    let mut index = validate::StateIndex::default();
    let mut skipped = Vec::new();
    for found in files {
        let (file, root) = match parse(&found, &mut sources) {
            Ok(parsed) => parsed,
            Err(d) => {
                diagnostics.push(*d);
                continue;
            }
        };
        if !found.named && !validate::is_desired_state(&root) {
            sources.files[file].text = std::sync::Arc::from("");
            skipped.push(found.path);
            continue;
        }
        let text = sources.files[file].text.clone();
        let mut walk = walk::Walk::new(file, &text);
        let enterprises = validate::document(&mut walk, &mut index, &root);
        // The tree is dropped here: only the validated model and the text stay.
        drop(root);
        sources.files[file].secret_spans = std::mem::take(&mut walk.secret_spans);
        sources.files[file].personal_spans = std::mem::take(&mut walk.personal_spans);
        diagnostics.append(&mut walk.diagnostics);
        state.enterprises.extend(enterprises);
    }
    diagnostics.sort_by_key(|d| (d.place.file, d.place.pos.line, d.place.pos.column));
    Loaded {
        state,
        diagnostics,
        sources,
        skipped,
    }
}
