//! Reading typed values out of a [`Node`] tree while collecting diagnostics.
//!
//! Every accessor reports what is wrong at the node it is about and returns `None`,
//! so that the caller carries on and the whole file is checked in one run.

use std::str::FromStr;

use super::diagnostic::{Diagnostic, FileId, Place};
use super::node::{Node, Value};
use crate::model::UnknownValue;

/// The state of the walk over one file.
pub(crate) struct Walk<'a> {
    /// The file being walked.
    pub file: FileId,
    /// Its text, for the raw spelling of plain scalars.
    pub text: &'a str,
    /// Diagnostics found so far.
    pub diagnostics: Vec<Diagnostic>,
    /// Byte ranges of secrets written in the file, never to be shown.
    pub secret_spans: Vec<(usize, usize)>,
    /// Byte ranges of values written where an INSZ belongs, masked unless asked for.
    pub personal_spans: Vec<(usize, usize)>,
}

/// A mapping being read: the keys it may have, and where it is.
pub(crate) struct Obj<'n> {
    node: &'n Node,
    entries: &'n [(Node, Node)],
    what: &'static str,
    keys: &'static [&'static str],
}

impl<'a> Walk<'a> {
    /// Starts a walk over one file.
    pub(crate) fn new(file: FileId, text: &'a str) -> Self {
        Walk {
            file,
            text,
            diagnostics: Vec::new(),
            secret_spans: Vec::new(),
            personal_spans: Vec::new(),
        }
    }

    /// The place of a node.
    pub(crate) fn place(&self, node: &Node) -> Place {
        Place {
            file: self.file,
            pos: node.pos,
        }
    }

    /// Records a diagnostic.
    pub(crate) fn report(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    /// Reports a value of the wrong kind.
    pub(crate) fn wrong_type(&mut self, node: &Node, expected: &str, what: &str) {
        let d = Diagnostic::error(
            "csam::schema::type",
            self.place(node),
            format!("{what} must be {expected}, not {}", node.value.kind()),
        )
        .label(format!("expected {expected}"))
        .help(format!("write {what} as {expected}"));
        self.report(d);
    }

    /// Opens a mapping that may hold only `keys`; reports unknown keys (with a "did you
    /// mean") and a node that is not a mapping.
    pub(crate) fn obj<'n>(
        &mut self,
        node: &'n Node,
        what: &'static str,
        keys: &'static [&'static str],
    ) -> Option<Obj<'n>> {
        let Value::Map(entries) = &node.value else {
            self.wrong_type(node, "a mapping", what);
            return None;
        };
        for (key, _) in entries {
            let name = match &key.value {
                Value::Str(s) => s.clone(),
                _ => self.raw(key).to_string(),
            };
            if !keys.contains(&name.as_str()) {
                let mut d = Diagnostic::error(
                    "csam::schema::unknown_key",
                    self.place(key),
                    format!("unknown key `{name}` in {what}"),
                )
                .label("not a key of this format");
                d = match did_you_mean(&name, keys) {
                    Some(close) => d.help(format!("did you mean `{close}`?")),
                    None => d.help(format!("the keys of {what} are: {}", keys.join(", "))),
                };
                self.report(d);
            }
        }
        Some(Obj {
            node,
            entries,
            what,
            keys,
        })
    }

    /// The raw spelling of a scalar as written in the file (quotes excluded when the
    /// parser's span excludes them).
    pub(crate) fn raw(&self, node: &Node) -> &'a str {
        let end = node.pos.offset + node.pos.len;
        self.text.get(node.pos.offset..end).unwrap_or("")
    }

    /// A required key: reports its absence at the mapping.
    pub(crate) fn required<'n>(&mut self, obj: &Obj<'n>, key: &'static str) -> Option<&'n Node> {
        let found = obj.get(key);
        if found.is_none() {
            let d = Diagnostic::error(
                "csam::schema::missing_key",
                self.place(obj.node),
                format!("{} has no `{key}`", obj.what),
            )
            .label(format!("`{key}` is required here"))
            .help(format!("add `{key}:` to {}", obj.what));
            self.report(d);
        }
        found
    }

    /// Text: a string, or a number/boolean written plainly (taken as written).
    pub(crate) fn text(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(_) | Value::Float(_) => Some(self.raw(node).trim().to_string()),
            _ => {
                self.wrong_type(node, "text", what);
                None
            }
        }
    }

    /// Non-empty text.
    pub(crate) fn non_empty_text(&mut self, node: &Node, what: &str) -> Option<String> {
        let s = self.text(node, what)?;
        if s.trim().is_empty() {
            let d = Diagnostic::error(
                "csam::schema::empty",
                self.place(node),
                format!("{what} is empty"),
            )
            .help(format!("write the {what}"));
            self.report(d);
            return None;
        }
        Some(s.trim().to_string())
    }

    /// A boolean.
    pub(crate) fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.value {
            Value::Bool(b) => Some(b),
            _ => {
                self.wrong_type(node, "true or false", what);
                None
            }
        }
    }

    /// A list.
    pub(crate) fn list<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Node]> {
        match &node.value {
            Value::Seq(items) => Some(items),
            Value::Null => Some(&[]),
            _ => {
                self.wrong_type(node, "a list", what);
                None
            }
        }
    }

    /// A value parsed with `parse`; its error becomes a diagnostic built by `explain`.
    pub(crate) fn parsed<T, E>(
        &mut self,
        node: &Node,
        what: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
        explain: impl FnOnce(&E, &str, Place) -> Diagnostic,
    ) -> Option<T> {
        let written = self.text(node, what)?;
        match parse(&written) {
            Ok(v) => Some(v),
            Err(e) => {
                let d = explain(&e, &written, self.place(node));
                self.report(d);
                None
            }
        }
    }

    /// A value of a closed vocabulary.
    pub(crate) fn word<T: FromStr<Err = UnknownValue>>(
        &mut self,
        node: &Node,
        what: &str,
        code: &'static str,
    ) -> Option<T> {
        let written = self.text(node, what)?;
        match written.parse::<T>() {
            Ok(v) => Some(v),
            Err(e) => {
                let mut d = Diagnostic::error(
                    code,
                    self.place(node),
                    format!("`{written}` is not a known {what}"),
                )
                .label(format!("not a known {what}"));
                d = match did_you_mean(&written, e.allowed) {
                    Some(close) => d.help(format!(
                        "did you mean `{close}`? ({what}: {})",
                        e.allowed.join(", ")
                    )),
                    None => d.help(format!("a {what} is one of: {}", e.allowed.join(", "))),
                };
                self.report(d);
                None
            }
        }
    }
}

impl<'n> Obj<'n> {
    /// The value of `key`, if present.
    pub(crate) fn get(&self, key: &str) -> Option<&'n Node> {
        debug_assert!(
            self.keys.contains(&key),
            "{key} is not declared for {}",
            self.what
        );
        self.entries
            .iter()
            .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
            .map(|(_, v)| v)
    }

    /// The mapping node itself.
    pub(crate) fn node(&self) -> &'n Node {
        self.node
    }
}

/// The closest candidate to a misspelt word, when it is close enough to be a likely typo.
pub(crate) fn did_you_mean<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(word, c), *c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_only_for_close_words() {
        let keys = ["insz", "username", "last_name", "first_name"];
        assert_eq!(did_you_mean("usename", &keys), Some("username"));
        assert_eq!(did_you_mean("lastname", &keys), Some("last_name"));
        assert_eq!(did_you_mean("colour", &keys), None);
    }
}
