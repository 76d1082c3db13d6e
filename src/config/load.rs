//! Finding and reading desired-state files within input budgets.
//!
//! A hostile or broken file (an alias bomb, 50 MB of garbage, binary data, invalid
//! UTF-8, absurd nesting) gets a located diagnostic quickly and never exhausts memory:
//! the size is checked before reading, the encoding before parsing, and the parser runs
//! with serde-saphyr's budgets (events, nodes, depth, aliases, replayed alias events).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::diagnostic::{Diagnostic, FileId, Place, Sources};
use super::node::{Node, Pos};

/// Input budgets for one file. The defaults leave room for a fleet 100× the national
/// one in a single file (32 MB, 3.6 million nodes) while stopping pathological input
/// early: validation holds about 17 bytes of memory per byte of YAML, so 64 MiB keeps
/// a worst-case file near 1 GiB.
#[derive(Debug, Clone, Copy)]
pub struct InputLimits {
    /// Largest file read, in bytes.
    pub max_file_bytes: u64,
    /// Deepest nesting of mappings and lists.
    pub max_depth: usize,
    /// Most YAML nodes (scalars, lists, mappings) in one file.
    pub max_nodes: usize,
    /// Most parser events in one file.
    pub max_events: usize,
    /// Most alias uses (`*name`) in one file.
    pub max_aliases: usize,
    /// Most events that alias expansion may replay in one file (alias bombs).
    pub max_replayed_events: usize,
}

impl Default for InputLimits {
    fn default() -> Self {
        InputLimits {
            max_file_bytes: 64 * 1024 * 1024,
            max_depth: 32,
            max_nodes: 8_000_000,
            max_events: 20_000_000,
            max_aliases: 10_000,
            max_replayed_events: 100_000,
        }
    }
}

/// A file to read, and whether the user named it (rather than a directory holding it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    /// The path.
    pub path: PathBuf,
    /// Named on the command line: always validated. A file found in a directory is read
    /// only when it is a desired-state file (its top level has `version`), so that a
    /// directory may also hold reference data or CI workflow files.
    pub named: bool,
}

/// The files named on the command line, or the default (`csam.yaml`, else `./csam/`).
///
/// Directories are searched recursively for `*.yaml` and `*.yml` (hidden entries
/// skipped), in sorted order so that diagnostics come out in a stable order.
pub(crate) fn discover(paths: &[PathBuf]) -> Result<Vec<Found>, Box<Diagnostic>> {
    let roots: Vec<PathBuf> = if paths.is_empty() {
        if Path::new("csam.yaml").is_file() {
            vec![PathBuf::from("csam.yaml")]
        } else if Path::new("csam").is_dir() {
            vec![PathBuf::from("csam")]
        } else {
            return Err(Box::new(
                Diagnostic::error(
                    "csam::input::not_found",
                    Place {
                        file: usize::MAX,
                        pos: Pos::default(),
                    },
                    "no desired state: there is no csam.yaml and no csam/ directory here",
                )
                .help("name the files or directories to read, e.g. `csamctl validate examples/`"),
            ));
        }
    } else {
        paths.to_vec()
    };
    let mut files = Vec::new();
    // Each file and directory once, however it is reached (a symlink to a parent, a
    // file named twice or also found in a named directory): by its canonical path.
    let mut seen = std::collections::HashSet::new();
    for root in roots {
        if root.is_dir() {
            let mut found = Vec::new();
            let mut walked = std::collections::HashSet::new();
            collect_yaml(&root, &mut found, &mut walked).map_err(|e| read_error(&root, &e))?;
            if found.is_empty() {
                return Err(Box::new(
                    Diagnostic::error(
                        "csam::input::not_found",
                        Place {
                            file: usize::MAX,
                            pos: Pos::default(),
                        },
                        format!("{} holds no .yaml or .yml file", root.display()),
                    )
                    .help("desired-state files end in .yaml or .yml")
                    .at_path(&root),
                ));
            }
            files.extend(
                found
                    .into_iter()
                    .filter(|path| first_visit(path, &mut seen))
                    .map(|path| Found { path, named: false }),
            );
        } else if root.exists() {
            if first_visit(&root, &mut seen) {
                files.push(Found {
                    path: root,
                    named: true,
                });
            }
        } else {
            return Err(Box::new(
                Diagnostic::error(
                    "csam::input::not_found",
                    Place {
                        file: usize::MAX,
                        pos: Pos::default(),
                    },
                    format!("{} does not exist", root.display()),
                )
                .help("check the path; directories are searched for .yaml and .yml files")
                .at_path(&root),
            ));
        }
    }
    Ok(files)
}

/// True the first time a path's canonical form is met. A path that cannot be resolved
/// counts as new: reading it reports why.
fn first_visit(path: &Path, seen: &mut std::collections::HashSet<PathBuf>) -> bool {
    match std::fs::canonicalize(path) {
        Ok(canonical) => seen.insert(canonical),
        Err(_) => true,
    }
}

fn collect_yaml(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    walked: &mut std::collections::HashSet<PathBuf>,
) -> std::io::Result<()> {
    // A directory already walked (a symlink to a parent or a sibling) is not walked
    // again: that would read its files twice, or forever.
    if !first_visit(dir, walked) {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_yaml(&path, out, walked)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

fn read_error(path: &Path, err: &std::io::Error) -> Box<Diagnostic> {
    Box::new(
        Diagnostic::error(
            "csam::input::read",
            Place {
                file: usize::MAX,
                pos: Pos::default(),
            },
            format!("cannot read {}: {err}", path.display()),
        )
        .help("check that the file exists and is readable")
        .at_path(path),
    )
}

/// Reads one file into `sources` and parses it into a [`Node`] tree, or explains why not.
pub(crate) fn read_and_parse(
    path: &Path,
    limits: &InputLimits,
    sources: &mut Sources,
) -> Result<(FileId, Node), Box<Diagnostic>> {
    let meta = std::fs::metadata(path).map_err(|e| read_error(path, &e))?;
    // Checked before reading, so that a huge file is never loaded into memory.
    if meta.is_file() && meta.len() > limits.max_file_bytes {
        return Err(too_large(path, meta.len(), limits, sources));
    }
    // A device or a pipe has no size to check: whatever it is, at most the budget plus
    // one byte is read, which tells "too large" from "fits".
    let bytes =
        read_bounded(path, &meta, limits.max_file_bytes).map_err(|e| read_error(path, &e))?;
    if bytes.len() as u64 > limits.max_file_bytes && !meta.is_file() {
        return Err(not_regular_too_large(path, limits, sources));
    }
    parse_bytes(path, &bytes, limits, sources)
}

/// Reads at most `max + 1` bytes of a file whose metadata the caller has read (it
/// checked the size against `max` already).
fn read_bounded(path: &Path, meta: &std::fs::Metadata, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let file = std::fs::File::open(path)?;
    // Room for the whole file at once: `take` hides the size from `read_to_end`, which
    // would otherwise grow the buffer by doubling, copying a 29 MB fleet five times. A
    // device or a pipe has no size: its buffer grows as it is read.
    let room = if meta.is_file() {
        meta.len().min(max).saturating_add(1)
    } else {
        0
    };
    let mut bytes = Vec::with_capacity(usize::try_from(room).unwrap_or(0));
    file.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Reads a whole input file (reference data, a CSV listing, a saved plan, a token) of
/// at most `max` bytes. A regular file's size is checked before reading; anything else
/// (a device, a pipe) is read to at most `max + 1` bytes. Over the limit, an
/// `InvalidData` error says so and nothing more is read.
pub(crate) fn read_limited(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let too_large = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("more than {}; not read further", human_bytes(max)),
        )
    };
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "a directory, not a file",
        ));
    }
    if meta.is_file() && meta.len() > max {
        return Err(too_large());
    }
    let bytes = read_bounded(path, &meta, max)?;
    if bytes.len() as u64 > max {
        return Err(too_large());
    }
    Ok(bytes)
}

/// [`read_limited`], as UTF-8 text.
pub(crate) fn read_limited_text(path: &Path, max: u64) -> std::io::Result<String> {
    String::from_utf8(read_limited(path, max)?)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}

fn not_regular_too_large(
    path: &Path,
    limits: &InputLimits,
    sources: &mut Sources,
) -> Box<Diagnostic> {
    too_large_error(
        path,
        sources,
        format!(
            "{} is not a regular file and gave more than the {} a desired-state file may have; reading stopped there",
            path.display(),
            human_bytes(limits.max_file_bytes)
        ),
        "name a regular desired-state file, or a pipe that ends within the limit",
    )
}

fn too_large(
    path: &Path,
    size: u64,
    limits: &InputLimits,
    sources: &mut Sources,
) -> Box<Diagnostic> {
    too_large_error(
        path,
        sources,
        format!(
            "{} is {}, more than the {} a desired-state file may have",
            path.display(),
            human_bytes(size),
            human_bytes(limits.max_file_bytes)
        ),
        "split the desired state into several files in a directory",
    )
}

/// `csam::input::too_large` about a whole file, which is not shown (it was not read).
fn too_large_error(
    path: &Path,
    sources: &mut Sources,
    message: String,
    help: &str,
) -> Box<Diagnostic> {
    let file = sources.add(path.to_path_buf(), Arc::from(""));
    let place = Place {
        file,
        pos: Pos {
            line: 1,
            column: 1,
            offset: 0,
            len: 0,
        },
    };
    Box::new(Diagnostic::error("csam::input::too_large", place, message).help(help))
}

/// Decodes and parses the bytes of a file named `path` (already read) into `sources`.
pub(crate) fn parse_bytes(
    path: &Path,
    bytes: &[u8],
    limits: &InputLimits,
    sources: &mut Sources,
) -> Result<(FileId, Node), Box<Diagnostic>> {
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(too_large(path, bytes.len() as u64, limits, sources));
    }
    let text = match decode(bytes) {
        Ok(text) => text,
        Err((offset, what)) => {
            // Show the text up to the bad byte, the byte as U+FFFD, and the rest of its
            // line (control characters replaced), so the label sits on the right spot.
            let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            let before = String::from_utf8_lossy(&bytes[..offset]).into_owned();
            let line_end = bytes[offset..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(bytes.len(), |i| offset + i);
            let after: String =
                String::from_utf8_lossy(&bytes[(offset + 1).min(line_end)..line_end])
                    .chars()
                    .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
                    .collect();
            let mut pos = pos_at(&before, before.len());
            pos.len = '\u{FFFD}'.len_utf8();
            let shown = format!("{before}\u{FFFD}{after}\n");
            let file = sources.add(path.to_path_buf(), Arc::from(shown));
            let (code, message, label, help) = match what {
                Undecodable::Binary => (
                    "csam::input::binary",
                    format!(
                        "{} is not text: it holds a NUL or control byte",
                        path.display()
                    ),
                    "a NUL or control byte here",
                    "this looks like a binary file, not a YAML desired state",
                ),
                Undecodable::Utf8 => (
                    "csam::input::encoding",
                    format!("{} is not UTF-8 text", path.display()),
                    "invalid UTF-8 here",
                    "save the file as UTF-8 (most editors offer this in 'Save as')",
                ),
            };
            return Err(Box::new(
                Diagnostic::error(code, Place { file, pos }, message)
                    .label(label)
                    .help(help),
            ));
        }
    };
    let text: Arc<str> = Arc::from(text);
    let file = sources.add(path.to_path_buf(), text.clone());
    parse(&text, limits)
        .map(|node| (file, node))
        .map_err(|(pos, message, code, help)| {
            Box::new(Diagnostic::error(code, Place { file, pos }, message).help(help))
        })
}

/// A size for people: bytes, KiB or MiB with one decimal.
fn human_bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} bytes"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}

enum Undecodable {
    Binary,
    Utf8,
}

/// Checks the bytes are UTF-8 text (a leading byte-order mark is dropped); on failure,
/// the byte offset of the first bad byte.
fn decode(bytes: &[u8]) -> Result<&str, (usize, Undecodable)> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    // YAML allows no C0 control character but tab, line feed and carriage return.
    if let Some(i) = bytes
        .iter()
        .position(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
        && std::str::from_utf8(&bytes[..i]).is_ok()
    {
        return Err((i, Undecodable::Binary));
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(e) => Err((e.valid_up_to(), Undecodable::Utf8)),
    }
}

/// The 1-based line and column of a byte offset.
pub(crate) fn pos_at(text: &str, offset: usize) -> Pos {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Pos {
        line: u32::try_from(line).unwrap_or(u32::MAX),
        column: u32::try_from(column).unwrap_or(u32::MAX),
        offset: before.len(),
        len: 0,
    }
}

/// Why a text does not parse: where, the message, the diagnostic code, and what to do.
pub(crate) type ParseFailure = (Pos, String, &'static str, &'static str);

/// Parses YAML text into a [`Node`] tree within the budgets: a large file of the usual
/// shape on every core (see [`super::split`]), anything else in one go.
pub(crate) fn parse(text: &str, limits: &InputLimits) -> Result<Node, ParseFailure> {
    match super::split::parse_split(text, limits) {
        Some(node) => Ok(node),
        None => parse_whole(text, limits),
    }
}

/// Parses YAML text into a [`Node`] tree within the budgets, on this thread: the
/// quick way when it can ([`super::fast`]), else the reference way.
pub(crate) fn parse_whole(text: &str, limits: &InputLimits) -> Result<Node, ParseFailure> {
    match super::fast::parse(text, limits) {
        Some(node) => Ok(node),
        None => parse_reference(text, limits),
    }
}

/// Parses YAML text into a [`Node`] tree within the budgets through serde-saphyr: the
/// reference reading of a file, and the one that explains every error.
pub(crate) fn parse_reference(text: &str, limits: &InputLimits) -> Result<Node, ParseFailure> {
    let mut options = serde_saphyr::Options::default();
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = limits.max_depth;
    budget.max_nodes = limits.max_nodes;
    budget.max_events = limits.max_events;
    budget.max_aliases = limits.max_aliases;
    budget.max_anchors = limits.max_aliases;
    budget.max_documents = 1;
    budget.max_total_scalar_bytes = usize::try_from(limits.max_file_bytes).unwrap_or(usize::MAX);
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = limits.max_replayed_events;
    options.alias_limits.max_replay_stack_depth = 16;
    // YAML 1.2 booleans only: `no`, `n`, `off` stay strings (`language: no` is Norwegian).
    options.strict_booleans = true;
    // `0812345603` stays as written instead of becoming a number without its zero.
    options.leading_zero_numbers_as_strings = true;
    options.with_snippet = false;
    serde_saphyr::from_str_with_options::<Node>(text, options).map_err(|err| {
        let pos = err
            .location()
            .map(|loc| {
                let mut pos = pos_at(text, 0);
                pos.line = u32::try_from(loc.line()).unwrap_or(u32::MAX);
                pos.column = u32::try_from(loc.column()).unwrap_or(u32::MAX);
                pos.offset = loc
                    .span()
                    .byte_offset()
                    .and_then(|o| usize::try_from(o).ok())
                    .unwrap_or_else(|| offset_of(text, pos.line, pos.column));
                pos
            })
            .unwrap_or_else(|| pos_at(text, 0));
        let message = err.to_string();
        let budget = message.contains("budget") || message.contains("limit");
        if budget {
            (
                pos,
                format!("the file exceeds an input limit: {}", first_line(&message)),
                "csam::input::budget",
                "the file is too big, too deeply nested or uses too many anchors and aliases for a desired state; simplify it or split it into several files",
            )
        } else {
            (
                pos,
                format!("this is not valid YAML: {}", first_line(&message)),
                "csam::yaml::syntax",
                "check the indentation and quoting around this place",
            )
        }
    })
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// The byte offset of a 1-based line and character column.
fn offset_of(text: &str, line: u32, column: u32) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line as usize {
            return offset
                + l.char_indices()
                    .nth(column.saturating_sub(1) as usize)
                    .map_or(l.len(), |(b, _)| b);
        }
        offset += l.len();
    }
    text.len()
}
