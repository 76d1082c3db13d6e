//! The CI examples (`examples/ci/*.yml`) are valid YAML, and every `csamctl` invocation
//! in their `run:` / `script:` lines parses with the real clap definitions, so that a
//! renamed or removed flag breaks this test before it breaks someone's pipeline.

use clap::Parser;
use csamctl::cli::Cli;
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!("{}/examples/ci/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("example readable");
    serde_saphyr::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{name}: not YAML: {e}"))
}

/// Every shell text under a `run`, `script`, `before_script` or `after_script` key.
fn shell_texts(v: &Value, under_shell_key: bool, out: &mut Vec<String>) {
    match v {
        Value::String(s) if under_shell_key => out.push(s.clone()),
        Value::Array(items) => items
            .iter()
            .for_each(|i| shell_texts(i, under_shell_key, out)),
        Value::Object(map) => {
            for (k, v) in map {
                let shell = matches!(
                    k.as_str(),
                    "run" | "script" | "before_script" | "after_script"
                );
                shell_texts(v, shell, out);
            }
        }
        _ => {}
    }
}

/// Splits a command line into words like a POSIX shell does (quotes, backslashes);
/// operators stay words of their own when written with spaces around them.
fn split(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => {
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            }
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                if let Some(n) = chars.next() {
                    word.push(n);
                    in_word = true;
                }
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, '#') if !in_word => break,
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

fn is_operator(w: &str) -> bool {
    matches!(
        w,
        "|" | "||" | "&&" | ";" | "&" | "then" | "do" | "!" | "if"
    ) || w.starts_with('>')
        || w.starts_with("2>")
        || w.starts_with('<')
}

/// The `csamctl` invocations of a shell text (continuation lines joined), as argument
/// vectors cut at the first redirection or operator.
fn invocations(text: &str) -> Vec<Vec<String>> {
    let joined = text.replace("\\\n", " ");
    let mut found = Vec::new();
    for line in joined.lines() {
        let words = split(line);
        for (i, w) in words.iter().enumerate() {
            let at_command = i == 0 || is_operator(&words[i - 1]);
            if w != "csamctl" || !at_command {
                continue;
            }
            let mut argv = vec!["csamctl".to_string()];
            for w in &words[i + 1..] {
                if is_operator(w) {
                    break;
                }
                let ends = w.ends_with(';');
                argv.push(w.trim_end_matches(';').to_string());
                if ends {
                    break;
                }
            }
            found.push(argv);
        }
    }
    found
}

fn check(name: &str, at_least: usize) {
    let doc = load(name);
    let mut texts = Vec::new();
    shell_texts(&doc, false, &mut texts);
    let all: Vec<Vec<String>> = texts.iter().flat_map(|t| invocations(t)).collect();
    assert!(
        all.len() >= at_least,
        "{name}: only {} csamctl invocations found: {all:?}",
        all.len()
    );
    for argv in &all {
        if let Err(e) = Cli::try_parse_from(argv) {
            panic!("{name}: `{}` does not parse:\n{e}", argv.join(" "));
        }
    }
}

#[test]
fn github_actions_example_parses() {
    check("github-actions.yml", 4);
}

#[test]
fn gitlab_ci_example_parses() {
    check("gitlab-ci.yml", 5);
}

#[test]
fn the_splitter_cuts_at_operators_and_keeps_quotes() {
    let found = invocations(
        "csamctl plan csam/ --format markdown > plan.md || status=$?\nif csamctl validate 'a b'; then echo; fi\ncargo install csamctl --locked",
    );
    assert_eq!(
        found,
        vec![
            vec!["csamctl", "plan", "csam/", "--format", "markdown"],
            vec!["csamctl", "validate", "a b"],
        ]
    );
    // A flag that does not exist is refused by the real definitions.
    assert!(Cli::try_parse_from(["csamctl", "plan", "--no-such-flag"]).is_err());
}
