//! The documentation a clone needs is in the clone.
//!
//! Every relative link in every Markdown file of the repository must resolve to a file
//! or directory inside the repository (and a `#anchor` into a Markdown file to one of
//! its headings or `<a id>` anchors), and no Markdown page, source file, schema or help
//! text may point at the project's private specifications outside the repository or
//! name a `.md` page the repository does not have. A clone on a forge has none of those,
//! so such a pointer is a broken link for every reader.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Component, Path, PathBuf};

use clap::CommandFactory;
use csamctl::cli::Cli;

/// The pages of the project's private specifications. A mention of one in a comment
/// or help text sends the reader to a page a clone does not have; the repository says
/// the same in its own pages (`docs/rules.md`, `docs/format.md`, ...). Built at run
/// time so that this file does not contain the names.
fn spec_pages() -> Vec<String> {
    ["domain", "desired-state", "registry", "cli", "architecture"]
        .iter()
        .map(|stem| format!("{stem}.md"))
        .collect()
}

/// Text that only ever points outside the repository. Built at run time so that this
/// file does not contain it.
fn forbidden() -> Vec<String> {
    vec![
        ["..", "/shared"].concat(),
        ["shared", "/spec"].concat(),
        ["shared", "/seed"].concat(),
        ["procedure", ".nl"].concat(),
    ]
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Directories that hold no documentation of ours: build output, version control and
/// local state.
fn skipped_dir(name: &str) -> bool {
    matches!(name, "target" | ".git" | ".csamctl" | "node_modules")
        || (name.starts_with('.') && !matches!(name, ".ci" | ".github" | ".gitlab"))
}

/// Every file under `dir` (recursively), skipping [`skipped_dir`]s.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if !skipped_dir(&name) {
                walk(&path, out);
            }
        } else if kind.is_file() {
            out.push(path);
        }
    }
}

fn repo_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    walk(&root(), &mut files);
    files
}

fn is_markdown(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("md"))
}

/// Files whose text is documentation, code or help text (not data).
fn is_text(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    matches!(
        ext,
        "md" | "rs" | "json" | "yaml" | "yml" | "toml" | "sh" | "py" | "txt"
    ) || path.parent().and_then(Path::file_name) == Some(std::ffi::OsStr::new(".ci"))
}

fn rel(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// A Markdown file's lines outside fenced code blocks, with their 1-based numbers.
fn prose_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fence: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let marker: String = trimmed
            .chars()
            .take_while(|c| *c == '`' || *c == '~')
            .collect();
        if marker.len() >= 3
            && marker
                .chars()
                .all(|c| c == marker.chars().next().unwrap_or('`'))
        {
            match &fence {
                None => fence = Some(marker),
                Some(open) if marker.starts_with(open.as_str()) && trimmed.trim() == marker => {
                    fence = None
                }
                Some(_) => {}
            }
            continue;
        }
        if fence.is_none() {
            out.push((i + 1, strip_code_spans(line)));
        }
    }
    out
}

/// The line with its inline code spans blanked (links inside code are not links).
fn strip_code_spans(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let ticks = rest[start..].chars().take_while(|c| *c == '`').count();
        let after = &rest[start + ticks..];
        let closing = "`".repeat(ticks);
        match after.find(&closing) {
            Some(end) => {
                out.push_str(&" ".repeat(ticks * 2 + end));
                rest = &after[end + ticks..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The link targets of one line: inline links and images `[text](target "title")`,
/// and reference definitions `[label]: target`.
fn link_targets(line: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let trimmed = line.trim_start();
    if trimmed.starts_with('[')
        && let Some(close) = trimmed.find("]:")
    {
        if let Some(target) = trimmed[close + 2..].split_whitespace().next() {
            targets.push(target.trim_matches(['<', '>']).to_string());
        }
        return targets;
    }
    let mut rest = line;
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let target = if let Some(inner) = after.strip_prefix('<') {
            inner.split('>').next().unwrap_or("").to_string()
        } else {
            let mut depth = 0usize;
            let mut end = after.len();
            for (i, c) in after.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' if depth == 0 => {
                        end = i;
                        break;
                    }
                    ')' => depth -= 1,
                    c if c.is_whitespace() => {
                        end = i;
                        break;
                    }
                    _ => {}
                }
            }
            after[..end].to_string()
        };
        targets.push(target);
        rest = after;
    }
    targets
}

/// GitHub's anchor for a heading: the text as rendered, lower case, punctuation other
/// than `-` and `_` dropped, spaces turned into `-`.
fn slug(heading: &str) -> String {
    let mut text = String::new();
    let mut rest = heading;
    // [text](target) renders as text.
    while let Some(open) = rest.find('[') {
        text.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match (after.find("]("), after.find(')')) {
            (Some(close), Some(_)) => {
                text.push_str(&after[..close]);
                let tail = &after[close + 2..];
                rest = tail.find(')').map_or("", |p| &tail[p + 1..]);
            }
            _ => {
                text.push('[');
                rest = after;
            }
        }
    }
    text.push_str(rest);
    text.chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                Some(c.to_lowercase().collect::<String>())
            } else if c == ' ' {
                Some("-".to_string())
            } else {
                None
            }
        })
        .collect()
}

/// The anchors a Markdown file offers: its headings' slugs (with GitHub's `-1`, `-2`
/// for repeats) and explicit `<a id="...">` / `<a name="...">` anchors.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (_, line) in prose_lines(text) {
        for attr in ["id=\"", "name=\""] {
            let mut rest = line.as_str();
            while let Some(at) = rest.find(attr) {
                let value = &rest[at + attr.len()..];
                if let Some(end) = value.find('"') {
                    found.insert(value[..end].to_string());
                }
                rest = &rest[at + attr.len()..];
            }
        }
        let trimmed = line.trim_start();
        let hashes = trimmed.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&hashes) && trimmed[hashes..].starts_with(' ') {
            let base = slug(trimmed[hashes..].trim().trim_end_matches('#').trim());
            let mut candidate = base.clone();
            let mut n = 0;
            while found.contains(&candidate) {
                n += 1;
                candidate = format!("{base}-{n}");
            }
            found.insert(candidate);
        }
    }
    found
}

/// `a/./b/../c` → `a/c`, without touching the file system; `None` when it climbs above
/// the start.
fn normalise(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(p) => out.push(p),
            Component::RootDir | Component::Prefix(_) => {}
        }
    }
    Some(out)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        if bytes[i] == b'%'
            && let Some(b) = hex
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn has_scheme(target: &str) -> bool {
    let scheme: String = target
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        .collect();
    !scheme.is_empty()
        && target[scheme.len()..].starts_with(':')
        && scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
}

/// Why `target`, linked from `file` (repository-relative), does not resolve.
fn check_link(file: &Path, target: &str) -> Option<String> {
    if target.is_empty() || has_scheme(target) {
        return None;
    }
    let (path_part, anchor) = match target.split_once('#') {
        Some((p, a)) => (p, Some(a)),
        None => (target, None),
    };
    let path_part = path_part.split('?').next().unwrap_or("");
    let resolved = if path_part.is_empty() {
        Some(file.to_path_buf())
    } else if let Some(from_root) = path_part.strip_prefix('/') {
        normalise(Path::new(&percent_decode(from_root)))
    } else {
        normalise(
            &file
                .parent()
                .unwrap_or(Path::new(""))
                .join(percent_decode(path_part)),
        )
    };
    let Some(resolved) = resolved else {
        return Some("leaves the repository".to_string());
    };
    let on_disk = root().join(&resolved);
    if !on_disk.exists() {
        return Some(format!("{} does not exist", resolved.display()));
    }
    if let Some(anchor) = anchor.filter(|a| !a.is_empty())
        && is_markdown(&on_disk)
    {
        let text = fs::read_to_string(&on_disk).unwrap_or_default();
        if !anchors(&text).contains(&percent_decode(anchor)) {
            return Some(format!(
                "{} has no heading for #{anchor}",
                resolved.display()
            ));
        }
    }
    None
}

/// Every relative link of one Markdown file that does not resolve.
fn broken_links(file: &Path, text: &str) -> Vec<String> {
    let relative = file.strip_prefix(root()).unwrap_or(file);
    let mut broken = Vec::new();
    for (number, line) in prose_lines(text) {
        for target in link_targets(&line) {
            if let Some(why) = check_link(relative, &target) {
                broken.push(format!("{}:{number}: ({target}) {why}", relative.display()));
            }
        }
    }
    broken
}

/// Names of Markdown pages (`something.md`) that `text` mentions.
fn mentioned_pages(text: &str) -> Vec<String> {
    let mut pages = Vec::new();
    let bytes = text.as_bytes();
    let mut search = 0;
    while let Some(found) = text[search..].find(".md") {
        let end = search + found + 3;
        let after_ok = bytes
            .get(end)
            .is_none_or(|b| !(b.is_ascii_alphanumeric() || *b == b'_'));
        let mut start = search + found;
        while start > 0
            && (bytes[start - 1].is_ascii_alphanumeric()
                || matches!(bytes[start - 1], b'_' | b'-' | b'/' | b'.'))
        {
            start -= 1;
        }
        if after_ok && start < search + found {
            pages.push(text[start..end].to_string());
        }
        search = end;
    }
    pages
}

/// Why `text` (a file's, or a command's help) points outside the repository: it
/// contains a [`forbidden`] pattern, or names one of the [`spec_pages`] that is not a
/// file of the repository.
fn outside_pointers(text: &str, from: &Path, pages: &BTreeSet<String>) -> Vec<String> {
    let mut problems = Vec::new();
    for (number, line) in text.lines().enumerate() {
        for pattern in forbidden() {
            if line.contains(&pattern) {
                problems.push(format!("{}: points at {pattern}", number + 1));
            }
        }
        for page in mentioned_pages(line) {
            let name = page.trim_start_matches("./");
            let base = name.rsplit('/').next().unwrap_or(name);
            let exists = pages.contains(name)
                || normalise(&from.join(name)).is_some_and(|p| root().join(p).is_file());
            if spec_pages().iter().any(|p| p == base) && !exists {
                problems.push(format!(
                    "{}: names {page}, which is not in the repository",
                    number + 1
                ));
            }
        }
    }
    problems
}

/// The repository-relative paths of every Markdown page.
fn markdown_pages(files: &[PathBuf]) -> BTreeSet<String> {
    files
        .iter()
        .filter(|f| is_markdown(f))
        .map(|f| rel(f))
        .collect()
}

#[test]
fn every_relative_link_in_markdown_resolves() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in repo_files().iter().filter(|f| is_markdown(f)) {
        let text = fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", rel(file)));
        checked += 1;
        broken.extend(broken_links(file, &text));
    }
    assert!(checked >= 5, "found only {checked} Markdown files");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn no_file_points_outside_the_repository() {
    let files = repo_files();
    let pages = markdown_pages(&files);
    let mut problems = Vec::new();
    for file in files.iter().filter(|f| is_text(f)) {
        let Ok(text) = fs::read_to_string(file) else {
            continue;
        };
        let dir = file
            .parent()
            .and_then(|d| d.strip_prefix(root()).ok())
            .unwrap_or(Path::new(""))
            .to_path_buf();
        for problem in outside_pointers(&text, &dir, &pages) {
            problems.push(format!("{}:{problem}", rel(file)));
        }
    }
    assert!(
        problems.is_empty(),
        "pointers out of the repository:\n{}",
        problems.join("\n")
    );
}

#[test]
fn no_help_text_points_outside_the_repository() {
    let pages = markdown_pages(&repo_files());
    let mut problems = Vec::new();
    let mut stack = vec![(String::from("csamctl"), Cli::command())];
    let mut seen = 0;
    while let Some((name, mut command)) = stack.pop() {
        seen += 1;
        let help = command.render_long_help().to_string();
        for problem in outside_pointers(&help, Path::new(""), &pages) {
            problems.push(format!("`{name} --help` line {problem}"));
        }
        for sub in command.get_subcommands() {
            stack.push((format!("{name} {}", sub.get_name()), sub.clone()));
        }
    }
    assert!(seen > 10, "walked only {seen} commands");
    assert!(
        problems.is_empty(),
        "help text pointing out of the repository:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checker_sees_what_it_must() {
    // Links in code are not links; anchors follow GitHub's slugs.
    assert_eq!(
        link_targets("see [a](b.md#c) and ![i](img.png \"t\")"),
        ["b.md#c", "img.png"]
    );
    assert_eq!(link_targets("[ref]: ../x.md"), ["../x.md"]);
    assert!(link_targets(&strip_code_spans("`[a](b)`")).is_empty());
    assert_eq!(
        slug("R6 Propagation delay (S4.10)"),
        "r6-propagation-delay-s410"
    );
    assert_eq!(slug("The `plan` [command](x.md)"), "the-plan-command");
    let page = "# Title\n## Same\n## Same\n<a id=\"r6\"></a>\n```\n# not a heading\n```\n";
    let found = anchors(page);
    assert!(found.contains("title") && found.contains("same") && found.contains("same-1"));
    assert!(found.contains("r6") && !found.contains("not-a-heading"));
    // A link that climbs out of the repository fails even when the target exists
    // on this machine.
    assert_eq!(
        check_link(Path::new("README.md"), "../Cargo.toml").as_deref(),
        Some("leaves the repository")
    );
    assert_eq!(
        check_link(Path::new("docs/README.md"), "../Cargo.toml"),
        None
    );
    assert!(check_link(Path::new("README.md"), "#no-such-heading-here").is_some());
    assert_eq!(
        mentioned_pages("see `docs/x.md`, y.mdx and z.md."),
        ["docs/x.md", "z.md"]
    );
    let pages = BTreeSet::from(["docs/rules.md".to_string()]);
    let spec_page = format!("see {}.md", "domain");
    assert_eq!(outside_pointers(&spec_page, Path::new(""), &pages).len(), 1);
    assert!(outside_pointers("see docs/rules.md, plan.md", Path::new(""), &pages).is_empty());
}
