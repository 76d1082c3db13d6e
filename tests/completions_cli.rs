//! `csamctl completions SHELL` and `csamctl man`: produced by the real binary for every
//! shell, and naming the commands (generated from the clap definitions, so a command
//! missing here means the definitions lost it).

mod cli_support;

use std::process::Output;

fn csamctl(args: &[&str]) -> Output {
    cli_support::csamctl_in(cli_support::crate_root(), args)
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

/// The text of a man page's section `name` (up to the next `.SH`).
fn section<'a>(page: &'a str, name: &str) -> &'a str {
    let start = page
        .find(&format!(".SH {name}\n"))
        .unwrap_or_else(|| panic!("no {name} section:\n{page}"));
    let rest = &page[start + 4..];
    rest.find("\n.SH ").map_or(rest, |end| &rest[..end])
}

#[test]
fn man_page_has_exit_status_and_environment_sections() {
    let out = csamctl(&["man"]);
    assert_eq!(out.status.code(), Some(0));
    let page = String::from_utf8(out.stdout).expect("UTF-8");
    let exit = section(&page, "\"EXIT STATUS\"");
    for code in ["0", "1", "2", "3", "130"] {
        assert!(
            exit.contains(&format!(".TP\n\\fB{code}\\fR\n")),
            "exit status {code} missing:\n{exit}"
        );
    }
    assert!(exit.contains("R7"), "3 explains the gate:\n{exit}");
    let env = section(&page, "ENVIRONMENT");
    for var in [
        "CSAM_REGISTRY",
        "CSAM_TOKEN",
        "CSAM_TOKEN_FILE",
        "CSAM_ACTOR",
        "CSAM_PW_*",
        "NO_COLOR",
        "CLICOLOR_FORCE",
        "TERM",
    ] {
        let tag = format!("\\fB{}\\fR", var.replace('-', "\\-"));
        assert!(env.contains(&tag), "{var} missing:\n{env}");
    }
    // Each variable once, even though several commands read it.
    assert_eq!(env.matches("\\fBCSAM_TOKEN\\fR").count(), 1, "{env}");
}

#[test]
fn a_subcommands_man_page_is_printed_by_its_path() {
    let out = csamctl(&["man", "registry", "serve"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(page.contains(".TH csamctl-registry-serve 1"), "{page}");
    assert!(page.contains(".SH \"EXIT STATUS\""), "{page}");
    // `registry serve` reads no CSAM_ACTOR; its page lists only what it reads.
    let env = section(&page, "ENVIRONMENT");
    assert!(!env.contains("CSAM_ACTOR"), "{env}");
    assert!(env.contains("NO_COLOR"), "{env}");

    let out = csamctl(&["man", "registry", "frobnicate"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("registry frobnicate"),
        "the error names the path"
    );
    assert!(out.stdout.is_empty());
}
