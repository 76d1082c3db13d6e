//! The quick way from YAML text to a [`Node`] tree: the parser's events straight into
//! nodes, positions taken from the events, without serde in between.
//!
//! serde-saphyr is the reference reading of a file (see [`super::load::parse_reference`])
//! and sits on the same parser (granit-parser, with the same settings); through serde a
//! spanned tree costs about three times what the parser itself does. This path reads the
//! plain YAML desired states are made of and gives up (`None`) on everything else —
//! anchors, aliases, tags, merge keys, directives, several documents, a scalar whose type
//! could be read more than one way (signs, decimals, exponents, radixes, `inf`/`nan`,
//! `yes`-like words), repeated keys, keys that are collections, any parser error, any
//! budget reached — so that the reference parses those files, and gives every error its
//! wording. Where this path gives a tree it is the reference's tree (a test compares
//! both on every YAML file of the repository and on generated fleets).

use std::borrow::Cow;

use granit_parser::{Event, Parser, ScalarStyle, Span, StrInput};

use super::load::InputLimits;
use super::node::{Node, Pos, Value};

/// Parses `text`, or `None` when the reference must (see the module docs).
pub(super) fn parse(text: &str, limits: &InputLimits) -> Option<Node> {
    parse_at(text, limits, Shift::default()).map(|(node, _)| node)
}

/// Where a piece of a file starts in the whole file: positions of the piece's nodes are
/// moved by this much as they are made (see [`super::split`]).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Shift {
    /// Bytes before the piece.
    pub(super) offset: usize,
    /// Lines before the piece.
    pub(super) lines: u32,
}

/// [`parse`] of a piece that starts `shift` into its file, with the number of nodes
/// made (the split parse adds the pieces' counts up against the budgets).
pub(super) fn parse_at(text: &str, limits: &InputLimits, shift: Shift) -> Option<(Node, usize)> {
    // The parser's settings of serde-saphyr (`Budget::parser_options`), so that both
    // accept and refuse the same input; comments are not needed here.
    let budget = serde_saphyr::Budget::default();
    let options = granit_parser::options! {
        simple_key_max_lookahead: budget.simple_key_max_lookahead,
        flow_nesting_limit: budget.flow_nesting_limit,
        block_nesting_limit: granit_parser::Options::default()
            .block_nesting_limit
            .max(limits.max_depth.saturating_add(1)),
        emit_comments: false,
    };
    let mut builder = Builder {
        events: Parser::new_from_str_with_options(text, options),
        nodes: 0,
        limits,
        shift,
        items: Vec::new(),
        entries: Vec::new(),
    };
    if !matches!(builder.next()?.0, Event::StreamStart)
        || !matches!(builder.next()?.0, Event::DocumentStart(_, None))
    {
        return None;
    }
    let (event, span) = builder.next()?;
    let root = builder.node(event, &span, 1)?;
    if !matches!(builder.next()?.0, Event::DocumentEnd)
        || !matches!(builder.next()?.0, Event::StreamEnd)
    {
        return None;
    }
    // About two events per node, as the reference's event budget counts them.
    (builder.nodes.saturating_mul(2) <= limits.max_events).then_some((root, builder.nodes))
}

struct Builder<'t, 'l> {
    events: Parser<'t, StrInput<'t>>,
    nodes: usize,
    limits: &'l InputLimits,
    shift: Shift,
    /// The items of the sequences being read, innermost last: one stack for all
    /// levels, so that each sequence is allocated once at its final size instead of
    /// growing item by item (a fleet has hundreds of thousands of small lists).
    items: Vec<Node>,
    /// The same for the entries of the mappings being read.
    entries: Vec<(Node, Node)>,
}

impl<'t> Builder<'t, '_> {
    fn next(&mut self) -> Option<(Event<'t>, Span)> {
        self.events.next()?.ok()
    }

    fn node(&mut self, event: Event<'t>, span: &Span, depth: usize) -> Option<Node> {
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            return None;
        }
        let value = match event {
            Event::Scalar(text, style, 0, None) => scalar(text, style)?,
            Event::SequenceStart(_, 0, None) if depth < self.limits.max_depth => {
                let base = self.items.len();
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    let item = self.node(event, &span, depth + 1)?;
                    self.items.push(item);
                }
                Value::Seq(self.items.drain(base..).collect())
            }
            Event::MappingStart(_, 0, None) if depth < self.limits.max_depth => {
                let base = self.entries.len();
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::MappingEnd) {
                        break;
                    }
                    let key = self.node(event, &span, depth + 1)?;
                    if !plain_key(&key)
                        || self.entries[base..].iter().any(|(k, _)| same_key(k, &key))
                    {
                        return None;
                    }
                    let (event, span) = self.next()?;
                    let value = self.node(event, &span, depth + 1)?;
                    self.entries.push((key, value));
                }
                Value::Map(self.entries.drain(base..).collect())
            }
            _ => return None,
        };
        let mut pos = pos(span);
        pos.offset += self.shift.offset;
        pos.line = pos.line.saturating_add(self.shift.lines);
        Some(Node { pos, value })
    }
}

/// Where a node is, as serde-saphyr's `Spanned` says it (line as given, column + 1).
fn pos(span: &Span) -> Pos {
    let start = span.start.byte_offset().unwrap_or(0);
    let end = span.end.byte_offset().unwrap_or(start);
    Pos {
        line: u32::try_from(span.start.line()).unwrap_or(u32::MAX),
        column: u32::try_from(span.start.col() + 1).unwrap_or(u32::MAX),
        offset: start,
        len: end.saturating_sub(start),
    }
}

/// A key this path can compare: a scalar other than a merge key (`<<`).
fn plain_key(key: &Node) -> bool {
    match &key.value {
        Value::Str(s) => s != "<<",
        Value::Null | Value::Bool(_) | Value::Int(_) => true,
        Value::Float(_) | Value::Seq(_) | Value::Map(_) => false,
    }
}

/// Two keys that might be the same key: the same value, or the same text however
/// typed (the reference decides about `1` and `"1"`).
fn same_key(a: &Node, b: &Node) -> bool {
    match (&a.value, &b.value) {
        (Value::Str(x), Value::Int(n)) | (Value::Int(n), Value::Str(x)) => *x == n.to_string(),
        (x, y) => x == y,
    }
}

/// A scalar's value: quoted and block scalars are text; plain ones are null, a boolean,
/// a decimal integer or text when that is certain, `None` otherwise.
fn scalar(text: Cow<'_, str>, style: ScalarStyle) -> Option<Value> {
    if style != ScalarStyle::Plain {
        return Some(Value::Str(text.into_owned()));
    }
    let t = text.as_ref();
    match t {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
        _ => {}
    }
    let bytes = t.as_bytes();
    let first = bytes.first().copied()?;
    if first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.') {
        if !bytes.iter().all(u8::is_ascii_digit) {
            return None;
        }
        // Leading zeros keep a number as written (`0812345603`): text.
        if first == b'0' && bytes.len() > 1 {
            return Some(Value::Str(text.into_owned()));
        }
        return (bytes.len() <= 18)
            .then(|| t.parse::<i64>().ok().map(|n| Value::Int(n.into())))
            .flatten();
    }
    // Spellings a float parser would take; and surrounding blanks (never in a plain
    // scalar from the parser, but the reference trims before typing).
    if ["inf", "infinity", "nan"]
        .iter()
        .any(|w| t.eq_ignore_ascii_case(w))
        || t.starts_with([' ', '\t'])
        || t.ends_with([' ', '\t', '\r', '\n'])
    {
        return None;
    }
    Some(Value::Str(text.into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load::parse_reference;

    /// Every YAML file under these directories of the repository.
    fn yaml_files() -> Vec<std::path::PathBuf> {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else if matches!(
                    path.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml")
                ) {
                    out.push(path);
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut out = Vec::new();
        for dir in ["examples", "tests", "docs", "fuzz", "schemas"] {
            walk(&root.join(dir), &mut out);
        }
        out
    }

    /// Where this path gives a tree, it is the reference's; the plain files it reads.
    fn agrees(text: &str) -> bool {
        let limits = InputLimits::default();
        match parse(text, &limits) {
            Some(fast) => {
                let reference = parse_reference(text, &limits);
                assert_eq!(Ok(&fast), reference.as_ref().map_err(|e| &e.1), "{text}");
                true
            }
            None => false,
        }
    }

    #[test]
    fn the_quick_tree_is_the_reference_tree_for_every_yaml_file() {
        let files = yaml_files();
        assert!(files.len() > 10, "the repository's YAML files");
        let mut read = 0;
        for path in &files {
            let Ok(text) = std::fs::read_to_string(path) else {
                continue;
            };
            if agrees(&text) {
                read += 1;
            }
        }
        assert!(
            read * 2 > files.len(),
            "most files are plain YAML: {read} of {}",
            files.len()
        );
    }

    #[test]
    fn scalars_and_keys_of_every_kind() {
        let plain = [
            "a: 1\nb: 0\nc: 0812345603\nd: 123456789012345678\ne: text with spaces\n",
            "a: ~\nb: null\nc:\nd: true\ne: False\nf: no\ng: yes\nh: off\n",
            "'1': a\n2: b\n\"x y\": c\nnull: d\ntrue: e\n",
            "a: |\n  literal\n  text\nb: >\n  folded\n  text\nc: 'single ''quoted'''\nd: \"double\\tquoted\"\n",
            "list: [a, 1, \"2\", {k: v}, []]\nmap: {a: 1, b: [x]}\nempty: {}\n",
            "a: multi\n  line plain\nb: Ünïcödé ✓\n# comment\nc: d # trailing\n",
            "- a\n- - b\n  - c\n- k: v\n  l: w\n",
            "a: 'x'\r\nb: y\r\n",
            "70000000: [radiologist]\n\"70000001\": [technologist]\n",
        ];
        for text in plain {
            assert!(agrees(text), "read quickly: {text}");
        }
        let referred = [
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "<<: {a: 1}\nb: 2\n",
            "a: 1\na: 2\n",
            "1: a\n\"1\": b\n",
            "a: -1\n",
            "a: +1\n",
            "a: 1.5\n",
            "a: 1e3\n",
            "a: 0x1F\n",
            "a: .inf\n",
            "a: nan\n",
            "a: 1234567890123456789012\n",
            "---\na: 1\n---\nb: 2\n",
            "%YAML 1.2\n---\na: 1\n",
            "a: [1, 2\n",
            "a: b: c\n",
            "",
            "? [a, b]\n: c\n",
        ];
        for text in referred {
            assert!(!agrees(text), "left to the reference: {text}");
        }
    }

    #[test]
    fn budgets_hold() {
        let deep = "a:\n".to_string()
            + &(1..40)
                .map(|i| format!("{}b:\n", "  ".repeat(i)))
                .collect::<String>();
        assert_eq!(parse(&deep, &InputLimits::default()), None);
        let limits = InputLimits {
            max_nodes: 4,
            ..InputLimits::default()
        };
        assert_eq!(parse("a: 1\nb: 2\nc: 3\n", &limits), None);
        assert!(parse("a: 1\nb: 2\n", &InputLimits::default()).is_some());
    }
}
