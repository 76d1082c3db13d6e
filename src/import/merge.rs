//! Merging imported users into an existing desired-state file as text edits, so that
//! every comment, blank line, quote style and key order of the file stays as written.
//!
//! The file is parsed with csamctl's own loader, whose nodes carry byte offsets; the
//! merge finds the capacity that declares the site and computes a few insertions (and,
//! for an empty `people: []` or `sites: ~`, the deletion of that empty value), laid out
//! with the indentation and line endings the file already uses. Nothing else changes.
//!
//! Where a block ends is decided by indentation: the lines after an item's first line
//! belong to it while they are indented deeper than its `-` (blank and comment lines in
//! between are kept in place, so a comment that introduces what follows the list stays
//! in front of it). Flow-style lists of people are not edited; the merge says so.
//!
//! The result is checked before it is returned: it must parse, the site's capacity must
//! now hold every person the merge says it added, and the validator must find no new
//! error except the e-mail placeholders (see [`super::entries`]).
//!
//! Pure: text in, text out. Uses `config` (loader, validator) and `model`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::config::diagnostic::mask_text;
use crate::config::load::{self, InputLimits};
use crate::config::node::{Node, Value};
use crate::config::{self, DiagnosticSeverity};
use crate::model::{Hco, Insz, Language, Username};

use super::entries::{self, Indentation, InszShown};
use super::listing::ListedUser;

/// What the merge did with one user of the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeOutcome {
    /// Added to the capacity's `people`.
    Added,
    /// Already in the capacity's `people`: the site was added to their `sites`.
    SiteAdded,
    /// Already in the capacity's `people` with this site: left alone.
    AlreadyThere,
    /// The file gives this INSZ another username: left alone (usernames are immutable,
    /// so one of the two is wrong and a person must decide which).
    OtherUsername {
        /// The username the file gives.
        in_file: Username,
    },
    /// The file gives this username to another INSZ: left alone.
    UsernameTaken,
    /// The person's `sites` is written in a form the merge does not edit: left alone.
    SitesNotEditable,
}

/// A user of the listing and what the merge did with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserOutcome {
    /// The row of the listing.
    pub row: u64,
    /// The INSZ.
    pub insz: Insz,
    /// The username.
    pub username: Username,
    /// What happened.
    pub outcome: MergeOutcome,
}

/// The merged file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    /// The new text (equal to the old one when nothing changed).
    pub text: String,
    /// The enterprise whose capacity declares the site, as written (name, else KBO).
    pub enterprise: String,
    /// One outcome per user, in listing order.
    pub outcomes: Vec<UserOutcome>,
}

impl Merged {
    /// Number of users with the given outcome.
    pub fn count(&self, outcome: &MergeOutcome) -> usize {
        self.outcomes
            .iter()
            .filter(|o| &o.outcome == outcome)
            .count()
    }

    /// True when the text changed.
    pub fn changed(&self) -> bool {
        self.outcomes
            .iter()
            .any(|o| matches!(o.outcome, MergeOutcome::Added | MergeOutcome::SiteAdded))
    }
}

/// Why the merge cannot be done.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The file itself does not parse.
    #[error("the file is not valid YAML (line {line}, column {column}): {message}")]
    Syntax {
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// The parser's message.
        message: String,
    },
    /// No capacity of the file declares the site.
    #[error("the file declares no site {site}{}", declared_list(declared))]
    SiteNotDeclared {
        /// The site asked for.
        site: Hco,
        /// The sites the file declares.
        declared: Vec<String>,
    },
    /// Several capacities declare the site (the validator reports this too).
    #[error("site {site} is declared in {count} places; fix that first (`csamctl validate`)")]
    SiteAmbiguous {
        /// The site asked for.
        site: Hco,
        /// How many capacities declare it.
        count: usize,
    },
    /// A part of the file that needs editing is written in a form the merge does not edit.
    #[error("line {line}: {what}")]
    Indentation {
        /// 1-based line.
        line: usize,
        /// What is there and what to do.
        what: String,
    },
    /// The merged text does not parse, or does not hold what the merge added: a bug in
    /// the merge, caught before anything is written.
    #[error("the merge went wrong and nothing was written: {0}")]
    Unverified(String),
    /// The merged file has errors the original did not have (other than the e-mail
    /// placeholders).
    #[error("the merged file would have new errors, so nothing was written:\n{}", problems.join("\n"))]
    NewErrors {
        /// The new errors, located and masked.
        problems: Vec<String>,
    },
}

fn declared_list(declared: &[String]) -> String {
    if declared.is_empty() {
        " (it declares no site at all)".to_string()
    } else {
        format!("; it declares {}", declared.join(", "))
    }
}

/// Merges `users` into the desired-state `text` (named `path` in messages), at the
/// capacity that declares `site`. `source` names the CSV in a comment above the added
/// people; `language` is written for added people when it is not the default.
pub fn merge(
    path: &Path,
    text: &str,
    site: &Hco,
    users: &[ListedUser],
    language: Option<Language>,
    source: &str,
) -> Result<Merged, MergeError> {
    let limits = InputLimits::default();
    let root = load::parse(text, &limits).map_err(|(pos, message, _, _)| MergeError::Syntax {
        line: pos.line,
        column: pos.column,
        message: mask_text(&message),
    })?;
    let lines = Lines::new(text);
    let (enterprise, at) = find_capacity(&lines, &root, site)?;
    let capacity = capacity_at(&root, at).ok_or_else(|| {
        MergeError::Unverified("the capacity found cannot be found again".to_string())
    })?;
    let accounts = Accounts::of(&lines, &root);
    let people = get(capacity, "people");
    let items: &[Node] = match people.map(|n| &n.value) {
        Some(Value::Seq(items)) => items,
        _ => &[],
    };
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let layout = people_layout(&lines, capacity, people, items, newline)?;

    let mut edits = Vec::new();
    let mut outcomes = Vec::new();
    let mut added = Vec::new();
    for user in users {
        let existing = items
            .iter()
            .find(|p| get(p, "insz").and_then(|n| insz_of(&lines, n)) == Some(user.insz));
        let outcome = match existing {
            Some(person) => {
                let in_file = get(person, "username")
                    .and_then(|n| lines.str_of(n))
                    .and_then(|s| Username::parse(s).ok());
                match in_file {
                    Some(in_file) if in_file != user.username => {
                        MergeOutcome::OtherUsername { in_file }
                    }
                    _ => add_site(&lines, person, site, layout, &mut edits)?,
                }
            }
            None => match (
                accounts.username_of.get(&user.insz),
                accounts.insz_of.get(&user.username),
            ) {
                (Some(in_file), _) if *in_file != user.username => MergeOutcome::OtherUsername {
                    in_file: in_file.clone(),
                },
                (_, Some(other)) if *other != user.insz => MergeOutcome::UsernameTaken,
                _ => {
                    added.push(user);
                    MergeOutcome::Added
                }
            },
        };
        outcomes.push(UserOutcome {
            row: user.row,
            insz: user.insz,
            username: user.username.clone(),
            outcome,
        });
    }
    if !added.is_empty() {
        let mut block = format!(
            "{}# imported from {} (the CSAM user list of site {site}): fill in e-mail addresses and functions{newline}",
            " ".repeat(layout.dash),
            one_line(source),
        );
        for user in &added {
            block += &entries::person(user, site, language, InszShown::Full, layout);
        }
        edits.push(append_people(
            &lines, capacity, people, items, block, layout,
        )?);
    }
    let merged = Merged {
        text: apply(text, edits),
        enterprise,
        outcomes,
    };
    if merged.changed() {
        verify(path, text, &root, &merged, site, added.len())?;
    }
    Ok(merged)
}

/// A value of a mapping node by key.
fn get<'n>(node: &'n Node, key: &str) -> Option<&'n Node> {
    entry(node, key).map(|(_, value)| value)
}

/// The items of a sequence node (none for anything else).
fn seq(node: Option<&Node>) -> &[Node] {
    match node.map(|n| &n.value) {
        Some(Value::Seq(items)) => items,
        _ => &[],
    }
}

/// The INSZ written in a node, if it is one.
fn insz_of(lines: &Lines<'_>, node: &Node) -> Option<Insz> {
    lines.str_of(node).and_then(|s| Insz::parse(s).ok())
}

/// The HCO number written in a node, if it is one.
fn hco_of(lines: &Lines<'_>, node: &Node) -> Option<Hco> {
    lines.str_of(node).and_then(|s| Hco::parse(s).ok())
}

/// Where a capacity is: its enterprise's index and its own among the enterprise's.
type At = (usize, usize);

/// The one capacity that declares `site`, and its enterprise's name (or KBO) as written.
fn find_capacity(lines: &Lines<'_>, root: &Node, site: &Hco) -> Result<(String, At), MergeError> {
    let mut found = Vec::new();
    let mut declared = Vec::new();
    for (e, enterprise) in seq(get(root, "enterprises")).iter().enumerate() {
        for (c, capacity) in seq(get(enterprise, "capacities")).iter().enumerate() {
            for subdivision in seq(get(capacity, "subdivisions")) {
                for s in seq(get(subdivision, "sites")) {
                    let Some(hco) = get(s, "hco").and_then(|n| hco_of(lines, n)) else {
                        continue;
                    };
                    if &hco == site {
                        let name = get(enterprise, "name")
                            .or_else(|| get(enterprise, "kbo"))
                            .and_then(|n| lines.str_of(n))
                            .unwrap_or("?");
                        found.push((name.to_string(), (e, c)));
                    }
                    declared.push(hco.to_string());
                }
            }
        }
    }
    match found.len() {
        0 => Err(MergeError::SiteNotDeclared {
            site: site.clone(),
            declared,
        }),
        1 => Ok(found.remove(0)),
        count => Err(MergeError::SiteAmbiguous {
            site: site.clone(),
            count,
        }),
    }
}

/// The capacity at `at`.
fn capacity_at(root: &Node, (e, c): At) -> Option<&Node> {
    seq(get(root, "enterprises"))
        .get(e)
        .and_then(|enterprise| seq(get(enterprise, "capacities")).get(c))
}

/// The capacity at `at`, to change.
fn capacity_at_mut(root: &mut Node, (e, c): At) -> Option<&mut Node> {
    let Value::Seq(enterprises) = &mut get_mut(root, "enterprises")?.value else {
        return None;
    };
    let Value::Seq(capacities) = &mut get_mut(enterprises.get_mut(e)?, "capacities")?.value else {
        return None;
    };
    capacities.get_mut(c)
}

/// A value of a mapping node by key, to change.
fn get_mut<'n>(node: &'n mut Node, key: &str) -> Option<&'n mut Node> {
    match &mut node.value {
        Value::Map(entries) => entries
            .iter_mut()
            .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// Who has which username anywhere in the file (people and administrator accounts), so
/// that the merge does not add a second username for a person or reuse one.
#[derive(Default)]
struct Accounts {
    username_of: HashMap<Insz, Username>,
    insz_of: HashMap<Username, Insz>,
}

impl Accounts {
    fn of(lines: &Lines<'_>, root: &Node) -> Self {
        let mut accounts = Accounts::default();
        accounts.collect(lines, root);
        accounts
    }

    fn collect(&mut self, lines: &Lines<'_>, node: &Node) {
        match &node.value {
            Value::Map(entries) => {
                let insz = get(node, "insz").and_then(|n| insz_of(lines, n));
                let username = get(node, "username")
                    .and_then(|n| lines.str_of(n))
                    .and_then(|s| Username::parse(s).ok());
                if let (Some(insz), Some(username)) = (insz, username) {
                    self.username_of.entry(insz).or_insert(username.clone());
                    self.insz_of.entry(username).or_insert(insz);
                }
                for (_, v) in entries {
                    self.collect(lines, v);
                }
            }
            Value::Seq(items) => {
                for item in items {
                    self.collect(lines, item);
                }
            }
            _ => {}
        }
    }
}

/// The layout of new people: copied from the first existing person, else two spaces
/// deeper than the `people` key (or than the capacity's keys, when there is none yet).
fn people_layout(
    lines: &Lines<'_>,
    capacity: &Node,
    people: Option<&Node>,
    items: &[Node],
    newline: &'static str,
) -> Result<Indentation, MergeError> {
    let step = items
        .iter()
        .filter_map(|p| {
            let (key, value) = entry(p, "sites")?;
            let (first, _) = match &value.value {
                Value::Map(entries) if lines.is_block(value) => entries.first()?,
                _ => return None,
            };
            lines
                .column(first.pos.offset)
                .checked_sub(lines.column(key.pos.offset))
        })
        .find(|step| *step > 0)
        .unwrap_or(2);
    if let Some(first) = items.first() {
        let dash = lines.dash_column(first)?;
        let keys = match first.value {
            Value::Map(_) => lines.column(first.pos.offset),
            _ => dash + 2,
        };
        return Ok(Indentation {
            dash,
            keys,
            step,
            newline,
        });
    }
    let key_column = match (people, entry(capacity, "people")) {
        (Some(_), Some((key, _))) => lines.column(key.pos.offset),
        _ => lines.column(capacity.pos.offset),
    };
    let dash = key_column + 2;
    Ok(Indentation {
        dash,
        keys: dash + 2,
        step,
        newline,
    })
}

/// A mapping's entry (key node and value node) by key.
fn entry<'n>(node: &'n Node, key: &str) -> Option<(&'n Node, &'n Node)> {
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
            .map(|(k, v)| (k, v)),
        _ => None,
    }
}

/// The edit that puts `block` (new people items) at the end of the capacity's people.
fn append_people(
    lines: &Lines<'_>,
    capacity: &Node,
    people: Option<&Node>,
    items: &[Node],
    block: String,
    layout: Indentation,
) -> Result<Edit, MergeError> {
    let Some(people) = people else {
        // No `people` key: a new last entry of the capacity.
        let key_column = lines.column(capacity.pos.offset);
        let text = format!("{}people:{}{block}", " ".repeat(key_column), layout.newline);
        return Ok(lines.after_mapping(capacity, text));
    };
    match &people.value {
        Value::Seq(_) if lines.is_block(people) => {
            let last = items.last().unwrap_or(people);
            let start = lines.line_of(last.pos.offset);
            let end = lines.block_end(start, lines.dash_column(last)?, false);
            Ok(lines.after_line(end, block))
        }
        Value::Seq(items) if items.is_empty() => lines.replace_empty(people, block),
        Value::Null => lines.replace_empty(people, block),
        Value::Seq(_) => Err(MergeError::Indentation {
            line: lines.line_of(people.pos.offset) + 1,
            what: "`people` is written as a flow list `[...]`; write it as a block list (one `- insz:` item per person) to merge into it".to_string(),
        }),
        other => Err(MergeError::Indentation {
            line: lines.line_of(people.pos.offset) + 1,
            what: format!("`people` is {}, not a list", other.kind()),
        }),
    }
}

/// Adds the site to an existing person's `sites`, or finds it there already.
fn add_site(
    lines: &Lines<'_>,
    person: &Node,
    site: &Hco,
    layout: Indentation,
    edits: &mut Vec<Edit>,
) -> Result<MergeOutcome, MergeError> {
    let Some((key, sites)) = entry(person, "sites") else {
        let keys = " ".repeat(lines.column(person.pos.offset));
        let text = format!(
            "{keys}sites:{nl}{keys}{step}{}{nl}",
            entries::site_entry(site),
            nl = layout.newline,
            step = " ".repeat(layout.step),
        );
        edits.push(lines.after_mapping(person, text));
        return Ok(MergeOutcome::SiteAdded);
    };
    let nl = layout.newline;
    match &sites.value {
        Value::Map(list) => {
            if list
                .iter()
                .any(|(k, _)| hco_of(lines, k).as_ref() == Some(site))
            {
                return Ok(MergeOutcome::AlreadyThere);
            }
            if lines.is_block(sites) {
                let Some((last_key, last_value)) = list.last() else {
                    return Ok(MergeOutcome::SitesNotEditable);
                };
                let column = lines.column(last_key.pos.offset);
                let start = lines.line_of(last_key.pos.offset);
                let end = lines.block_end(start, column, matches!(last_value.value, Value::Seq(_)));
                let text = format!("{}{}{nl}", " ".repeat(column), entries::site_entry(site));
                edits.push(lines.after_line(end, text));
                return Ok(MergeOutcome::SiteAdded);
            }
            // A flow mapping `{ "71012818": [technologist] }`: one more entry before `}`
            // (no comment: it would swallow the closing brace).
            let Some((close, last)) = flow_close(lines.text, sites.pos.offset) else {
                return Ok(MergeOutcome::SitesNotEditable);
            };
            let new = format!("\"{site}\": []");
            let edit = if list.is_empty() {
                Edit {
                    at: sites.pos.offset,
                    delete: close + 1 - sites.pos.offset,
                    insert: format!("{{ {new} }}"),
                }
            } else if lines.text.as_bytes()[last] == b',' {
                Edit {
                    at: last + 1,
                    delete: 0,
                    insert: format!(" {new}"),
                }
            } else {
                Edit {
                    at: last + 1,
                    delete: 0,
                    insert: format!(", {new}"),
                }
            };
            edits.push(edit);
            Ok(MergeOutcome::SiteAdded)
        }
        Value::Null => {
            let column = lines.column(key.pos.offset) + layout.step;
            let text = format!("{}{}{nl}", " ".repeat(column), entries::site_entry(site));
            edits.push(lines.replace_empty(sites, text)?);
            Ok(MergeOutcome::SiteAdded)
        }
        _ => Ok(MergeOutcome::SitesNotEditable),
    }
}

/// The closing bracket matching the `{` or `[` at `open`, and the last byte before it
/// that is neither white space nor in a comment.
fn flow_close(text: &str, open: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut last = open;
    let mut i = open;
    while i < bytes.len() {
        let after_space = i == 0 || bytes[i - 1].is_ascii_whitespace();
        let quote_may_start = i == 0 || matches!(bytes[i - 1], b' ' | b'\t' | b'{' | b'[' | b',');
        match bytes[i] {
            b'"' if quote_may_start => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                last = i;
            }
            b'\'' if quote_may_start => {
                i += 1;
                while i < bytes.len() {
                    if bytes[i] == b'\'' {
                        if bytes.get(i + 1) == Some(&b'\'') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                last = i;
            }
            b'#' if after_space => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'{' | b'[' => {
                depth += 1;
                last = i;
            }
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some((i, last));
                }
                last = i;
            }
            b if !b.is_ascii_whitespace() => last = i,
            _ => {}
        }
        i += 1;
    }
    None
}

/// One change to the text: delete `delete` bytes at `at`, then insert `insert` there.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Edit {
    at: usize,
    delete: usize,
    insert: String,
}

/// Applies edits; edits at the same place keep the order in which they were made.
fn apply(text: &str, mut edits: Vec<Edit>) -> String {
    edits.sort_by_key(|e| e.at);
    let mut out =
        String::with_capacity(text.len() + edits.iter().map(|e| e.insert.len()).sum::<usize>());
    let mut cursor = 0;
    for edit in edits {
        let at = edit.at.clamp(cursor, text.len());
        out.push_str(&text[cursor..at]);
        out.push_str(&edit.insert);
        cursor = (at + edit.delete).min(text.len());
    }
    out.push_str(&text[cursor..]);
    out
}

/// The text as lines, for questions about indentation.
struct Lines<'t> {
    text: &'t str,
    /// Byte offset where each line starts; a text ending in a newline has a last, empty
    /// line starting at its end.
    starts: Vec<usize>,
}

impl<'t> Lines<'t> {
    fn new(text: &'t str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines { text, starts }
    }

    /// The 0-based line holding a byte offset.
    fn line_of(&self, offset: usize) -> usize {
        self.starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1)
    }

    /// A line without its line ending.
    fn line(&self, i: usize) -> &'t str {
        let start = self.starts.get(i).copied().unwrap_or(self.text.len());
        let end = self
            .starts
            .get(i + 1)
            .map_or(self.text.len(), |next| next - 1);
        self.text
            .get(start..end)
            .unwrap_or("")
            .trim_end_matches('\r')
    }

    /// The 0-based byte column of an offset (columns here are left of any non-ASCII
    /// text: indentation, dashes, keys).
    fn column(&self, offset: usize) -> usize {
        offset - self.starts[self.line_of(offset)]
    }

    fn indent(&self, i: usize) -> usize {
        let line = self.line(i);
        line.len() - line.trim_start_matches(' ').len()
    }

    fn is_filler(&self, i: usize) -> bool {
        let t = self.line(i).trim_start();
        t.is_empty() || t.starts_with('#')
    }

    /// The string a scalar node holds: the parsed string, or the raw text of a plain
    /// number (an HCO or INSZ written without quotes).
    fn str_of<'n>(&self, node: &'n Node) -> Option<&'n str>
    where
        't: 'n,
    {
        match &node.value {
            Value::Str(s) => Some(s),
            Value::Int(_) => self
                .text
                .get(node.pos.offset..node.pos.offset + node.pos.len),
            _ => None,
        }
    }

    /// True for a block (indented) mapping or list; false for flow `{...}` / `[...]`,
    /// whose node spans its opening bracket while a block collection's spans nothing.
    fn is_block(&self, node: &Node) -> bool {
        node.pos.len == 0
    }

    /// The column of the `-` that starts a list item.
    fn dash_column(&self, item: &Node) -> Result<usize, MergeError> {
        let line = self.line_of(item.pos.offset);
        let start = self.starts[line];
        let before = self
            .text
            .get(start..item.pos.offset)
            .unwrap_or("")
            .trim_end();
        if before.ends_with('-') && before.trim_start_matches([' ', '-']).is_empty() {
            return Ok(before.len() - 1);
        }
        // The item starts on the line after a lone `-`.
        (0..line)
            .rev()
            .find(|&i| !self.is_filler(i))
            .filter(|&i| self.line(i).trim() == "-")
            .map(|i| self.indent(i))
            .ok_or(MergeError::Indentation {
                line: line + 1,
                what: "cannot find the `-` of this list item".to_string(),
            })
    }

    /// The last line of a block that starts on line `start`: the following lines belong
    /// to it while they are indented deeper than `threshold` (or, for a list written at
    /// its key's own indentation, start with `- ` at `threshold`). Blank and comment
    /// lines count only when more of the block follows them.
    fn block_end(&self, start: usize, threshold: usize, dash_at_threshold: bool) -> usize {
        let mut last = start;
        for i in start + 1..self.starts.len() {
            if self.is_filler(i) {
                continue;
            }
            let indent = self.indent(i);
            let rest = &self.line(i)[indent..];
            let inner = indent > threshold
                || dash_at_threshold
                    && indent == threshold
                    && (rest == "-" || rest.starts_with("- "));
            if !inner {
                break;
            }
            last = i;
        }
        last
    }

    /// Inserts `text` (whole lines) after line `i`, adding the missing line ending when
    /// line `i` is the last line of a file without a final newline.
    fn after_line(&self, i: usize, text: String) -> Edit {
        match self.starts.get(i + 1) {
            Some(&at) => Edit {
                at,
                delete: 0,
                insert: text,
            },
            None => {
                let newline = if self.text.contains("\r\n") {
                    "\r\n"
                } else {
                    "\n"
                };
                Edit {
                    at: self.text.len(),
                    delete: 0,
                    insert: format!("{newline}{text}"),
                }
            }
        }
    }

    /// Inserts `text` as new last entry lines of a block mapping.
    fn after_mapping(&self, map: &Node, text: String) -> Edit {
        let column = self.column(map.pos.offset);
        let last = match &map.value {
            Value::Map(entries) => entries.last(),
            _ => None,
        };
        let end = match last {
            Some((key, value)) => self.block_end(
                self.line_of(key.pos.offset),
                column,
                matches!(value.value, Value::Seq(_)),
            ),
            None => self.line_of(map.pos.offset),
        };
        self.after_line(end, text)
    }

    /// Replaces an empty value (`[]`, `{}`, `~`, `null` or nothing) with block lines
    /// `text` under its key.
    fn replace_empty(&self, node: &Node, text: String) -> Result<Edit, MergeError> {
        let at = node.pos.offset;
        let delete = match self.text.as_bytes().get(at) {
            Some(b'[' | b'{') => match flow_close(self.text, at) {
                Some((close, _)) => close + 1 - at,
                None => {
                    return Err(MergeError::Indentation {
                        line: self.line_of(at) + 1,
                        what: "an unclosed flow collection".to_string(),
                    });
                }
            },
            _ => node.pos.len,
        };
        let line = self.line_of(at + delete);
        let mut edit = self.after_line(line, text);
        if delete > 0 {
            // Two edits in one: delete the empty value, then append the lines after its
            // line (later in the text, so the order of application is right).
            let between = self.text.get(at + delete..edit.at).unwrap_or("");
            edit = Edit {
                at,
                delete: edit.at - at,
                insert: format!("{between}{}", edit.insert),
            };
        }
        Ok(edit)
    }
}

/// A file name for a one-line comment (no line breaks can get in).
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Checks the merged text: it parses; with the merge's additions taken out, it is the
/// original document value for value (so nothing was lost, moved or reinterpreted, e.g.
/// a line taken into the wrong block); every person the merge added or gave the site has
/// it; and the validator finds no new error but the e-mail placeholders.
fn verify(
    path: &Path,
    before: &str,
    before_root: &Node,
    merged: &Merged,
    site: &Hco,
    added: usize,
) -> Result<(), MergeError> {
    let unverified = |what: String| MergeError::Unverified(what);
    let mut root =
        load::parse(&merged.text, &InputLimits::default()).map_err(|(pos, message, _, _)| {
            unverified(format!(
                "the result does not parse (line {}, column {}): {}",
                pos.line,
                pos.column,
                mask_text(&message)
            ))
        })?;
    let lines = Lines::new(&merged.text);
    let (_, at) = find_capacity(&lines, &root, site)
        .map_err(|e| unverified(format!("in the result, {e}")))?;
    let capacity = capacity_at_mut(&mut root, at)
        .ok_or_else(|| unverified("the capacity is gone".to_string()))?;
    let wanted = |outcome: MergeOutcome| -> BTreeMap<Insz, &UserOutcome> {
        merged
            .outcomes
            .iter()
            .filter(|o| o.outcome == outcome)
            .map(|o| (o.insz, o))
            .collect()
    };
    let (mut new, mut gaining) = (wanted(MergeOutcome::Added), wanted(MergeOutcome::SiteAdded));
    if let Some(Value::Seq(people)) = get_mut(capacity, "people").map(|n| &mut n.value) {
        people.retain(|person| {
            let insz = get(person, "insz").and_then(|n| insz_of(&lines, n));
            let with_site = match get(person, "sites").map(|n| &n.value) {
                Some(Value::Map(sites)) => sites
                    .iter()
                    .any(|(k, _)| hco_of(&lines, k).as_ref() == Some(site)),
                _ => false,
            };
            // An added person is taken out once, and only with the site.
            !(with_site && insz.is_some_and(|i| new.remove(&i).is_some()))
        });
        for person in people.iter_mut() {
            let Some(insz) = get(person, "insz").and_then(|n| insz_of(&lines, n)) else {
                continue;
            };
            if gaining.remove(&insz).is_none() {
                continue;
            }
            if let Some(Value::Map(sites)) = get_mut(person, "sites").map(|n| &mut n.value) {
                let had = sites.len();
                sites.retain(|(k, _)| hco_of(&lines, k).as_ref() != Some(site));
                if sites.len() + 1 != had {
                    return Err(unverified(format!(
                        "{} does not have site {site} exactly once",
                        insz.masked()
                    )));
                }
            }
        }
    }
    if let Some(user) = new.values().chain(gaining.values()).next() {
        return Err(unverified(format!(
            "row {} ({}) is not at site {site} in the result",
            user.row, user.username
        )));
    }
    let mut original = before_root.clone();
    drop_empty(&mut original);
    drop_empty(&mut root);
    if !same(&original, &root) {
        return Err(unverified(
            "the result differs from the file in more than the additions".to_string(),
        ));
    }
    let problems = new_errors(path, before, &merged.text, added);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(MergeError::NewErrors { problems })
    }
}

/// Drops `people` and `sites` entries that hold nothing (`[]`, `{}`, `~` or no value),
/// which the merge fills in, so that "nothing" and "only the additions" compare equal.
fn drop_empty(node: &mut Node) {
    match &mut node.value {
        Value::Map(entries) => {
            entries.retain(|(k, v)| {
                let empty = match &v.value {
                    Value::Null => true,
                    Value::Seq(items) => items.is_empty(),
                    Value::Map(entries) => entries.is_empty(),
                    _ => false,
                };
                !(empty && matches!(&k.value, Value::Str(s) if s == "people" || s == "sites"))
            });
            for (_, v) in entries.iter_mut() {
                drop_empty(v);
            }
        }
        Value::Seq(items) => items.iter_mut().for_each(drop_empty),
        _ => {}
    }
}

/// Equal values, wherever they are written.
fn same(a: &Node, b: &Node) -> bool {
    match (&a.value, &b.value) {
        (Value::Seq(x), Value::Seq(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| same(ka, kb) && same(va, vb))
        }
        (x, y) => x == y,
    }
}

/// Errors of the merged text beyond those of the original, allowing one
/// `csam::email::invalid` per added person (the placeholders).
fn new_errors(path: &Path, before: &str, after: &str, placeholders: usize) -> Vec<String> {
    let limits = InputLimits::default();
    let load =
        |text: &str| config::load_bytes(&[(path.to_path_buf(), text.as_bytes().to_vec())], &limits);
    let (before, after) = (load(before), load(after));
    let count = |loaded: &config::Loaded| {
        let mut counts: HashMap<&'static str, usize> = HashMap::new();
        for d in &loaded.diagnostics {
            if d.severity == DiagnosticSeverity::Error {
                *counts.entry(d.code).or_default() += 1;
            }
        }
        counts
    };
    let (was, is) = (count(&before), count(&after));
    let mut problems = Vec::new();
    for d in &after.diagnostics {
        let allowed = was.get(d.code).copied().unwrap_or(0)
            + if d.code == "csam::email::invalid" {
                placeholders
            } else {
                0
            };
        if d.severity == DiagnosticSeverity::Error && is.get(d.code).copied().unwrap_or(0) > allowed
        {
            problems.push(format!(
                "  line {}, column {}: {}: {}",
                d.place.pos.line,
                d.place.pos.column,
                d.code,
                mask_text(&d.message)
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-site enterprise; `PEOPLE` is replaced by each test's people section.
    const BASE: &str = "version: 1
enterprises:
  - kbo: \"0123.456.749\"
    name: RADIOLOGIE TEST BV
    main_access_manager:
      insz: \"74.02.21-658.86\"
      last_name: VANDENBERGHE
      first_name: Griet
      email: griet@test.example
    capacities:
      - type: mammography-unit
        email: me@test.example
        subdivisions:
          - hco: \"71988410\"
            name: Radiologie Test
            email: me@test.example
            sites:
              - hco: \"71988411\"
                name: Site A
              - hco: \"71988412\"
                name: Site B
PEOPLE";

    const KOEN: &str = "          - insz: \"68.08.21-305.64\"
            username: koenverhaeghe
            last_name: VERHAEGHE
            first_name: Koen
            email: koen@test.example
";

    fn file(people: &str) -> String {
        BASE.replace("PEOPLE", people)
    }

    fn user(insz: &str, username: &str) -> ListedUser {
        ListedUser {
            row: 2,
            insz: Insz::parse(insz).expect("valid INSZ"),
            username: Username::parse(username).expect("valid username"),
            last_name: "NIEUW".to_string(),
            first_name: "Nele".to_string(),
            active: true,
            kind: crate::model::AccountType::User,
        }
    }

    fn site(hco: &str) -> Hco {
        Hco::parse(hco).expect("valid HCO")
    }

    fn merged(text: &str, hco: &str, users: &[ListedUser]) -> Merged {
        match merge(
            Path::new("test.yaml"),
            text,
            &site(hco),
            users,
            None,
            "users.csv",
        ) {
            Ok(m) => m,
            Err(e) => panic!("the merge works: {e}\n{text}"),
        }
    }

    const NELE: &str = "          # imported from users.csv (the CSAM user list of site 71988411): fill in e-mail addresses and functions
          - insz: \"83.06.14-217.81\"
            username: nelenieuw
            last_name: NIEUW
            first_name: Nele
            email: TODO  # not in the CSAM export: fill in the e-mail address
            sites:
              \"71988411\": []  # not in the CSAM export: fill in the functions (head-radiologist, radiologist, technologist, administrative)
";

    #[test]
    fn a_new_person_goes_after_the_last_one_before_trailing_comments() {
        let people = format!(
            "        people:\n{KOEN}            sites:\n              \"71988411\": [head-radiologist]\n          # the end\n"
        );
        let text = file(&people);
        let m = merged(&text, "71988411", &[user("83.06.14-217.81", "nelenieuw")]);
        assert_eq!(m.outcomes[0].outcome, MergeOutcome::Added);
        let expected = text.replace(
            "          # the end\n",
            &format!("{NELE}          # the end\n"),
        );
        assert_eq!(m.text, expected);
    }

    #[test]
    fn an_empty_flow_list_of_people_becomes_a_block_list() {
        let text =
            file("        people: []   # nobody yet\n    ignore:\n      usernames: [x12345678]\n");
        let m = merged(&text, "71988411", &[user("83.06.14-217.81", "nelenieuw")]);
        let expected = file(&format!(
            "        people:    # nobody yet\n{NELE}    ignore:\n      usernames: [x12345678]\n"
        ));
        assert_eq!(m.text, expected);
    }

    #[test]
    fn a_capacity_without_people_gets_the_key() {
        let text = file(
            "    # registry accounts this file never touches\n    ignore:\n      usernames: [x12345678]\n",
        );
        let m = merged(&text, "71988412", &[user("83.06.14-217.81", "nelenieuw")]);
        let nele = NELE.replace("71988411", "71988412");
        let expected = text.replace(
            "    # registry",
            &format!("        people:\n{nele}    # registry"),
        );
        assert_eq!(m.text, expected);
    }

    #[test]
    fn an_existing_person_gets_the_site_in_their_block_sites() {
        let people = format!(
            "        people:\n{KOEN}            sites:\n              \"71988411\": [head-radiologist]\n\n              # comment\n"
        );
        let text = file(&people);
        let m = merged(
            &text,
            "71988412",
            &[user("68.08.21-305.64", "koenverhaeghe")],
        );
        assert_eq!(m.outcomes[0].outcome, MergeOutcome::SiteAdded);
        let expected = text.replace(
            "[head-radiologist]\n",
            "[head-radiologist]\n              \"71988412\": []  # not in the CSAM export: fill in the functions (head-radiologist, radiologist, technologist, administrative)\n",
        );
        assert_eq!(m.text, expected);
    }

    #[test]
    fn an_existing_person_gets_the_site_in_flow_sites() {
        let people = format!(
            "        people:\n{KOEN}            sites: {{ \"71988411\": [head-radiologist] }}  # x\n"
        );
        let text = file(&people);
        let m = merged(
            &text,
            "71988412",
            &[user("68.08.21-305.64", "koenverhaeghe")],
        );
        assert_eq!(
            m.text,
            text.replace(
                "[head-radiologist] }",
                "[head-radiologist], \"71988412\": [] }"
            )
        );
    }

    #[test]
    fn an_existing_person_without_sites_gets_the_key() {
        let text = file(&format!("        people:\n{KOEN}"));
        let m = merged(
            &text,
            "71988411",
            &[user("68.08.21-305.64", "koenverhaeghe")],
        );
        assert_eq!(m.outcomes[0].outcome, MergeOutcome::SiteAdded);
        assert!(m.text.ends_with(
            "email: koen@test.example\n            sites:\n              \"71988411\": []  # not in the CSAM export: fill in the functions (head-radiologist, radiologist, technologist, administrative)\n"
        ), "{}", m.text);
    }

    #[test]
    fn a_person_with_the_site_is_left_alone_and_the_text_unchanged() {
        let people = format!(
            "        people:\n{KOEN}            sites: {{ \"71988411\": [radiologist] }}\n"
        );
        let text = file(&people);
        let m = merged(
            &text,
            "71988411",
            &[user("68.08.21-305.64", "KoenVerhaeghe")],
        );
        assert_eq!(m.outcomes[0].outcome, MergeOutcome::AlreadyThere);
        assert!(!m.changed());
        assert_eq!(m.text, text);
    }

    #[test]
    fn usernames_that_clash_with_the_file_are_left_alone() {
        let people = format!(
            "        people:\n{KOEN}            sites: {{ \"71988411\": [radiologist] }}\n"
        );
        let text = file(&people);
        let m = merged(
            &text,
            "71988412",
            &[
                user("68.08.21-305.64", "koenverhaeghe2"),
                user("83.06.14-217.81", "koenverhaeghe"),
                // The HTB is an administrator elsewhere in the file: no username there.
                user("74.02.21-658.86", "grietvandenberghe"),
            ],
        );
        assert_eq!(
            m.outcomes[0].outcome,
            MergeOutcome::OtherUsername {
                in_file: Username::parse("koenverhaeghe").expect("valid")
            }
        );
        assert_eq!(m.outcomes[1].outcome, MergeOutcome::UsernameTaken);
        assert_eq!(m.outcomes[2].outcome, MergeOutcome::Added);
    }

    #[test]
    fn crlf_and_a_missing_final_newline_are_respected() {
        let people = format!(
            "        people:\n{KOEN}            sites:\n              \"71988411\": [radiologist]"
        );
        let text = file(&people).replace('\n', "\r\n");
        let m = merged(&text, "71988411", &[user("83.06.14-217.81", "nelenieuw")]);
        let expected = format!("{text}\r\n{}", NELE.replace('\n', "\r\n"));
        assert_eq!(m.text, expected);
    }

    #[test]
    fn an_indentless_list_of_people_keeps_its_style() {
        let people = "        people:\n        - insz: \"68.08.21-305.64\"\n          username: koenverhaeghe\n          last_name: VERHAEGHE\n          first_name: Koen\n          email: koen@test.example\n          sites:\n            \"71988411\": [radiologist]\n        applications: [heracles, ehealthbox]\n";
        let text = file(people);
        let m = merged(&text, "71988411", &[user("83.06.14-217.81", "nelenieuw")]);
        let nele: String = NELE
            .lines()
            .map(|l| format!("{}\n", l.strip_prefix("  ").unwrap_or(l)))
            .collect();
        let expected = text.replace(
            "        applications:",
            &format!("{nele}        applications:"),
        );
        assert_eq!(m.text, expected);
    }

    #[test]
    fn a_flow_list_of_people_is_refused() {
        let text = file(
            "        people: [{ insz: \"68.08.21-305.64\", username: koenverhaeghe, last_name: V, first_name: K, email: k@test.example }]\n",
        );
        let err = merge(
            Path::new("test.yaml"),
            &text,
            &site("71988411"),
            &[user("83.06.14-217.81", "nelenieuw")],
            None,
            "users.csv",
        );
        assert!(
            matches!(err, Err(MergeError::Indentation { line: 22, .. })),
            "{err:?}"
        );
    }

    #[test]
    fn an_undeclared_site_is_refused_with_the_declared_ones() {
        let text = file("");
        let err = merge(
            Path::new("t.yaml"),
            &text,
            &site("71988419"),
            &[],
            None,
            "u.csv",
        );
        match err {
            Err(e @ MergeError::SiteNotDeclared { .. }) => assert_eq!(
                e.to_string(),
                "the file declares no site 71988419; it declares 71988411, 71988412"
            ),
            other => panic!("expected SiteNotDeclared, got {other:?}"),
        }
    }

    #[test]
    fn a_file_that_does_not_parse_is_refused() {
        let err = merge(
            Path::new("t.yaml"),
            "version: 1\nenterprises: [\n",
            &site("1"),
            &[],
            None,
            "u.csv",
        );
        assert!(matches!(err, Err(MergeError::Syntax { .. })), "{err:?}");
    }

    #[test]
    fn a_merge_that_would_change_an_existing_value_is_refused() {
        // The last line of a literal block scalar looks like a comment, so the new
        // people go in front of it and the title would lose it: caught, not written.
        let people = format!(
            "        people:\n{KOEN}            title: |\n              Dr.\n              # not a comment\n"
        );
        let err = merge(
            Path::new("test.yaml"),
            &file(&people),
            &site("71988411"),
            &[user("83.06.14-217.81", "nelenieuw")],
            None,
            "users.csv",
        );
        assert!(
            matches!(&err, Err(MergeError::Unverified(why)) if why.contains("more than the additions")),
            "{err:?}"
        );
    }

    #[test]
    fn new_errors_allow_only_the_email_placeholders() {
        let before = file(&format!(
            "        people:\n{KOEN}            sites: {{ \"71988411\": [head-radiologist] }}\n"
        ));
        let placeholder = before.replace("koen@test.example", "TODO");
        assert_eq!(
            new_errors(Path::new("t.yaml"), &before, &placeholder, 1),
            Vec::<String>::new()
        );
        let problems = new_errors(Path::new("t.yaml"), &before, &placeholder, 0);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("line 27, column 20: csam::email::invalid"),
            "{problems:?}"
        );
        let broken = placeholder.replace("koenverhaeghe", "koen_verhaeghe");
        let problems = new_errors(Path::new("t.yaml"), &before, &broken, 1);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("csam::username::invalid"),
            "{problems:?}"
        );
    }

    #[test]
    fn flow_close_skips_quotes_and_comments() {
        let text = "{ \"a}\": ['b]'], c: [d] # }\n }";
        assert_eq!(flow_close(text, 0), Some((text.len() - 1, 21)));
    }
}
