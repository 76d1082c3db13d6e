//! `csamctl completions SHELL` and `csamctl man`: produced by the real binary for every
//! shell, and naming the commands (generated from the clap definitions, so a command
//! missing here means the definitions lost it).

use std::process::{Command, Output};

fn csamctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_csamctl"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("csamctl runs")
}

#[test]
fn completions_for_every_shell_name_the_commands() {
    // What each shell's script looks like at its start, so that a script for the
    // wrong shell fails.
    for (shell, marker) in [
        ("bash", "_csamctl()"),
        ("zsh", "#compdef csamctl"),
        ("fish", "complete -c csamctl"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[csamctl]"),
    ] {
        let out = csamctl(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = String::from_utf8(out.stdout).expect("UTF-8");
        assert!(script.contains(marker), "{shell}: {marker} missing");
        for command in ["validate", "import-csv", "completions", "man"] {
            assert!(script.contains(command), "{shell}: {command} missing");
        }
        assert!(
            script.contains("show-personal-data"),
            "{shell}: flags missing"
        );
        assert!(out.stderr.is_empty(), "{shell}: nothing on stderr");
    }
}

#[test]
fn completions_for_an_unknown_shell_fail() {
    let out = csamctl(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
}

#[test]
fn man_pages_of_commands_are_printed_by_name() {
    let out = csamctl(&["man", "import-csv"]);
    assert_eq!(out.status.code(), Some(0));
    let page = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(page.contains(".TH csamctl-import-csv 1"), "{page}");
    assert!(
        page.contains("csamctl\\-import\\-csv \\- Turn the user list"),
        "{page}"
    );
    assert!(page.contains("show\\-personal\\-data"), "{page}");

    let out = csamctl(&["man", "frobnicate"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
}

#[test]
fn man_page_is_roff_and_names_the_commands() {
    let out = csamctl(&["man"]);
    assert_eq!(out.status.code(), Some(0));
    let page = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(page.contains(".TH csamctl"), "a roff title header");
    assert!(page.contains(".SH NAME"));
    for command in ["validate", "import\\-csv", "completions"] {
        assert!(page.contains(command), "{command} missing:\n{page}");
    }
}
