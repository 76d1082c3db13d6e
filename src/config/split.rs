//! Parsing one large desired-state file on every core.
//!
//! A fleet file is almost all one list: `enterprises:`, with one item per enterprise.
//! Its items are independent YAML, so the file is cut at item boundaries into pieces of
//! about equal size (a few per core), the threads take the pieces one after another
//! until none is left (each piece's positions those of the whole file), and the items are
//! put back under the `enterprises` key of the rest of the file. The result is the tree
//! the whole file would give.
//!
//! The cut is only tried where it cannot change the meaning, and every doubt falls back
//! to parsing the whole file (which also gives any error its exact place and wording):
//! no `*` anywhere (so no alias can refer across pieces), no document markers or
//! directives, `enterprises:` alone on a line at the top level, nothing but blank lines
//! and comments after the list, every piece parsing without error, and the pieces
//! together within the node budget. A line at the items' indentation that starts with
//! `- ` is an item of the list in any valid file (a scalar or nested block continues
//! only on lines indented further); where the file is invalid instead, a piece fails
//! and the whole file is parsed.

use super::fast::{self, Shift};
use super::load::{InputLimits, parse_reference, parse_whole};
use super::node::{Node, Value};

/// Below this size one thread parses faster than starting others.
const MIN_SPLIT_BYTES: usize = 512 * 1024;

/// Where the list of enterprises is in a file's text.
#[derive(Debug, PartialEq, Eq)]
struct Items {
    /// Byte offset of the first item's line: the end of the head (`... enterprises:`).
    start: usize,
    /// Byte offsets of the lines where the cuts go (item starts), ascending, each with
    /// the number of lines before it.
    cuts: Vec<(usize, u32)>,
    /// 1-based line of `start`.
    start_line: u32,
}

/// Pieces per thread: more pieces than threads, taken one after another by whichever
/// thread is free, so that a thread slowed down by other work on the machine does not
/// hold the others up at the end.
const PIECES_PER_THREAD: usize = 4;

/// Parses `text` in pieces on several threads when it is a large file of the usual
/// shape; `None` when it is not, or when anything is in doubt (see the module docs).
pub(super) fn parse_split(text: &str, limits: &InputLimits) -> Option<Node> {
    let threads = crate::parallel::cores();
    if threads < 2 || text.len() < MIN_SPLIT_BYTES {
        return None;
    }
    let items = find_items(text, threads * PIECES_PER_THREAD)?;
    // Each piece with budgets no looser than the whole file's: a piece's list sits two
    // levels below the file's top.
    let piece_limits = InputLimits {
        max_depth: limits.max_depth.saturating_sub(2),
        ..*limits
    };
    let mut bounds: Vec<(usize, u32)> = vec![(items.start, items.start_line - 1)];
    bounds.extend(items.cuts.iter().copied());
    let ends: Vec<usize> = bounds
        .iter()
        .skip(1)
        .map(|(at, _)| *at)
        .chain(std::iter::once(text.len()))
        .collect();
    let pieces: Vec<(&str, Shift)> = bounds
        .iter()
        .zip(&ends)
        .map(|(&(start, lines), &end)| {
            let shift = Shift {
                offset: start,
                lines,
            };
            (&text[start..end], shift)
        })
        .collect();
    let head = parse_whole(&text[..items.start], limits).ok()?;
    let parsed = crate::parallel::try_map_each(&pieces, |&(piece, shift)| {
        parse_piece(piece, shift, &piece_limits)
    })?;
    assemble(head, parsed.into_iter(), limits)
}

/// Puts the parsed pieces' items (with their node counts) under the head's
/// `enterprises` key.
fn assemble(
    mut head: Node,
    pieces: impl Iterator<Item = (Node, usize)>,
    limits: &InputLimits,
) -> Option<Node> {
    // The head's `enterprises: ~` becomes the list: the head's nodes, plus each
    // piece's nodes but its own list node (the pieces' lists are one list).
    let mut nodes = count(&head);
    let mut list: Option<Node> = None;
    for (piece, count) in pieces {
        nodes = nodes.saturating_add(count.saturating_sub(1));
        let Value::Seq(items) = piece.value else {
            return None;
        };
        match &mut list {
            None => {
                list = Some(Node {
                    pos: piece.pos,
                    value: Value::Seq(items),
                })
            }
            Some(Node {
                value: Value::Seq(all),
                ..
            }) => all.extend(items),
            Some(_) => return None,
        }
    }
    let list = list?;
    let Value::Map(entries) = &mut head.value else {
        return None;
    };
    let (key, value) = entries.last_mut()?;
    if !matches!(&key.value, Value::Str(k) if k == "enterprises") || value.value != Value::Null {
        return None;
    }
    *value = list;
    // Each piece kept within the budgets; together they must too (roughly two events
    // per node: the whole file is parsed, and refused with its own message, otherwise).
    if nodes > limits.max_nodes || nodes.saturating_mul(2) > limits.max_events {
        return None;
    }
    Some(head)
}

fn count(node: &Node) -> usize {
    1 + match &node.value {
        Value::Seq(items) => items.iter().map(count).sum(),
        Value::Map(entries) => entries.iter().map(|(k, v)| count(k) + count(v)).sum(),
        _ => 0,
    }
}

/// Parses one piece (whole items of the list), its positions those of the whole file,
/// with its number of nodes: the quick way, else the reference way.
fn parse_piece(piece: &str, at: Shift, limits: &InputLimits) -> Option<(Node, usize)> {
    if let Some(parsed) = fast::parse_at(piece, limits, at) {
        return Some(parsed);
    }
    let mut node = parse_reference(piece, limits).ok()?;
    shift(&mut node, at);
    let nodes = count(&node);
    Some((node, nodes))
}

fn shift(node: &mut Node, at: Shift) {
    node.pos.offset += at.offset;
    node.pos.line = node.pos.line.saturating_add(at.lines);
    match &mut node.value {
        Value::Seq(items) => items.iter_mut().for_each(|n| shift(n, at)),
        Value::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            shift(k, at);
            shift(v, at);
        }),
        _ => {}
    }
}

/// The lines of `text` with their byte offsets.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut at = 0;
    text.split_inclusive('\n').map(move |line| {
        let start = at;
        at += line.len();
        (start, line)
    })
}

/// A line with nothing but spaces and perhaps a comment.
fn is_blank(line: &str) -> bool {
    let t = line.trim_start_matches(' ').trim_end();
    t.is_empty() || t.starts_with('#')
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// `- ` (or a lone `-`) after exactly `n` spaces.
fn is_item(line: &str, n: usize) -> bool {
    indent(line) == n && {
        let rest = line[n..].trim_end_matches(['\n', '\r']);
        rest == "-" || rest.starts_with("- ")
    }
}

/// Finds the list under a top-level `enterprises:` and where to cut it into `pieces`.
fn find_items(text: &str, pieces: usize) -> Option<Items> {
    if text.contains('*')
        || text.starts_with("---")
        || text.starts_with("...")
        || text.starts_with('%')
        || text.contains("\n---")
        || text.contains("\n...")
        || text.contains("\n%")
        || text.contains('\t')
    {
        return None;
    }
    let mut all = lines(text).enumerate();
    // The head: top-level lines up to `enterprises:` alone on its line.
    loop {
        let (_, (_, line)) = all.next()?;
        let key = line.split(" #").next().unwrap_or(line).trim_end();
        if key == "enterprises:" {
            break;
        }
    }
    let mut all = all.skip_while(|(_, (_, line))| is_blank(line)).peekable();
    let &(first_index, (start, first)) = all.peek()?;
    let n = indent(first);
    if !is_item(first, n) {
        return None;
    }
    let mut starts: Vec<(usize, u32)> = Vec::new();
    let mut end = text.len();
    for (index, (at, line)) in all.by_ref() {
        if is_blank(line) {
            continue;
        }
        if is_item(line, n) {
            starts.push((at, u32::try_from(index).ok()?));
        } else if indent(line) <= n {
            end = at;
            break;
        }
    }
    // Only blank lines and comments may follow the list.
    if end < text.len() && !text[end..].split_inclusive('\n').all(is_blank) {
        return None;
    }
    if starts.len() < pieces * 4 {
        return None;
    }
    let size = (end - start) / pieces;
    let mut cuts = Vec::new();
    let mut next = start + size;
    for &(at, index) in &starts {
        if cuts.len() + 1 == pieces {
            break;
        }
        if at >= next {
            cuts.push((at, index));
            next = at + size;
        }
    }
    Some(Items {
        start,
        cuts,
        start_line: u32::try_from(first_index).ok()? + 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet(n: usize) -> String {
        let mut s = String::from("# a fleet\nversion: 1\nenterprises:   # all of them\n\n");
        for e in 0..n {
            s.push_str(&format!(
                "  - kbo: \"{e:010}\"\n    name: Ziekenhuis {e}\n    note: |\n      - not an item\n      enterprises:\n    people:\n      - insz: \"{e}\"\n        sites: {{ a: [b, c] }}\n  # between\n"
            ));
        }
        s.push_str("\n# the end\n");
        s
    }

    #[test]
    fn pieces_put_together_are_the_whole_file() {
        let text = fleet(5000);
        assert!(text.len() > MIN_SPLIT_BYTES);
        let limits = InputLimits::default();
        let items = find_items(&text, 2).expect("the usual shape");
        assert_eq!(items.cuts.len(), 1);
        let whole = parse_whole(&text, &limits).expect("whole");
        for pieces in [2, 3, 7] {
            let items = find_items(&text, pieces).expect("the usual shape");
            assert_eq!(items.cuts.len(), pieces - 1);
        }
        let split = parse_split(&text, &limits);
        if crate::parallel::cores() > 1 {
            assert_eq!(split.expect("split"), whole);
        } else {
            assert_eq!(split, None);
        }
    }

    #[test]
    fn anything_in_doubt_is_not_cut() {
        let text = fleet(5000);
        let refused = [
            text.replace("Ziekenhuis 7\n", "Ziekenhuis *7\n"),
            format!("---\n{text}"),
            format!("{text}version: 2\n"),
            text.replace("enterprises:   # all of them", "enterprises: # x\n  []"),
            text.replace("enterprises:   # all of them", "enterprises: []"),
            text.replace("\t", "")
                .replace("name: Ziekenhuis 9\n", "name:\tZiekenhuis 9\n"),
        ];
        for t in &refused {
            assert_eq!(find_items(t, 2), None);
        }
        // A piece that does not parse: the whole file is parsed instead (and fails
        // with its own message).
        let broken = text.replace("name: Ziekenhuis 4999\n", "name: \"Ziekenhuis 2999\n");
        assert!(find_items(&broken, 2).is_some());
        assert_eq!(parse_split(&broken, &InputLimits::default()), None);
    }

    #[test]
    fn the_node_budget_counts_every_piece() {
        let text = fleet(5000);
        let whole = parse_whole(&text, &InputLimits::default()).expect("whole");
        let limits = InputLimits {
            max_nodes: count(&whole) - 1,
            ..InputLimits::default()
        };
        assert_eq!(parse_split(&text, &limits), None);
    }
}
