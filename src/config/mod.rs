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
    let mut sources = Sources::default();
    let mut diagnostics = Vec::new();
    let mut state = DesiredState::default();
    let files = match load::discover(paths) {
        Ok(files) => files,
        Err(d) => {
            return Loaded {
                state,
                diagnostics: vec![*d],
                sources,
                skipped: Vec::new(),
            };
        }
    };
    let mut index = validate::StateIndex::default();
    let mut skipped = Vec::new();
    for found in files {
        let (file, root) = match load::read_and_parse(&found.path, limits, &mut sources) {
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
