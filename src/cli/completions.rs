//! `csamctl completions SHELL` and `csamctl man`: shell completion scripts and the man
//! page, generated from the clap definitions so that they never fall behind the
//! commands.
//!
//! Both are produced in memory and then written, so that a closed pipe
//! (`csamctl man | head`) is an ordinary error rather than a panic inside the generator.

use std::io::Write as _;

use clap::CommandFactory;

use super::{Cli, CommandResult, Outcome, exit};

/// `csamctl completions`.
#[derive(Debug, clap::Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// The completion script for a shell.
pub(super) fn completion_script(shell: clap_complete::Shell) -> Vec<u8> {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "csamctl", &mut out);
    out
}

/// `csamctl man`.
#[derive(Debug, clap::Args)]
pub(crate) struct ManArgs {
    /// The command whose page to print (`csamctl-validate(1)` for `validate`,
    /// `csamctl man registry serve` for a subcommand's); without it, the main page, which
    /// lists every command.
    pub command: Vec<String>,
}

/// Why there is no man page to print.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub(super) enum ManError {
    /// No command has that name.
    #[error("there is no command `{0}`")]
    #[diagnostic(help("`csamctl --help` lists the commands"))]
    UnknownCommand(String),
    /// Rendering failed.
    #[error("cannot render the man page")]
    Render(#[source] std::io::Error),
}

/// Variables read by the terminal conventions rather than by an option.
const TERMINAL_VARIABLES: &[(&str, &str)] = &[
    (
        "NO_COLOR",
        "Set and not empty: no colour (with --color auto). See no-color.org.",
    ),
    (
        "CLICOLOR_FORCE",
        "Set, not empty and not 0: colour even when the output is not a terminal (with --color auto; NO_COLOR wins).",
    ),
    ("CLICOLOR", "0: no colour (with --color auto)."),
    (
        "TERM",
        "dumb: no colour and no progress bars redrawn in place (plain lines instead).",
    ),
];

/// The man page (roff) of csamctl, or of one of its commands (`["registry", "serve"]`).
pub(super) fn man_page(command: &[String]) -> Result<Vec<u8>, ManError> {
    let mut cli = Cli::command().disable_help_subcommand(true);
    // Building gives each command its display name (`csamctl-registry-serve`), the
    // page title.
    cli.build();
    let mut page = cli;
    for (i, name) in command.iter().enumerate() {
        page = page
            .find_subcommand(name)
            .cloned()
            .ok_or_else(|| ManError::UnknownCommand(command[..=i].join(" ")))?;
    }
    if !command.is_empty() {
        page = page.version(env!("CARGO_PKG_VERSION"));
    }
    let mut out = Vec::new();
    clap_mangen::Man::new(page.clone())
        .render(&mut out)
        .map_err(ManError::Render)?;
    out.extend_from_slice(exit_status_section().as_bytes());
    out.extend_from_slice(environment_section(&page).as_bytes());
    Ok(out)
}

/// Text for roff: backslashes escaped, and a line kept from starting a request.
fn roff_text(s: &str) -> String {
    let s = s
        .replace('\\', "\\e")
        .replace('-', "\\-")
        .replace('\n', " ");
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}

/// One tagged paragraph: the tag in bold, the text under it.
fn tagged(tag: &str, text: &str) -> String {
    format!(".TP\n\\fB{}\\fR\n{}\n", roff_text(tag), roff_text(text))
}

/// EXIT STATUS: every status csamctl exits with ([`exit::ALL`]).
fn exit_status_section() -> String {
    let mut s = String::from(".SH \"EXIT STATUS\"\n");
    for (code, meaning) in exit::ALL {
        s.push_str(&tagged(&code.to_string(), meaning));
    }
    s
}

/// ENVIRONMENT: every variable an option of this command (or of its subcommands) reads,
/// with the option's help, then the terminal conventions'.
fn environment_section(page: &clap::Command) -> String {
    let mut vars: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    collect_env(page, &mut vars);
    let mut s = String::from(".SH ENVIRONMENT\n");
    for (var, text) in &vars {
        s.push_str(&tagged(var, text));
    }
    s.push_str(&tagged(
        "CSAM_PW_*",
        "The initial passwords of new users: the desired state names the variable of each (password: {env: NAME}); values are never printed, logged or stored.",
    ));
    for (var, text) in TERMINAL_VARIABLES {
        s.push_str(&tagged(var, text));
    }
    s
}

fn collect_env(cmd: &clap::Command, vars: &mut std::collections::BTreeMap<String, String>) {
    for arg in cmd.get_arguments() {
        if let Some(var) = arg.get_env() {
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            let text = format!(
                "--{}: {help}",
                arg.get_long().unwrap_or(arg.get_id().as_str())
            );
            vars.entry(var.to_string_lossy().into_owned())
                .or_insert(text);
        }
    }
    for sub in cmd.get_subcommands() {
        collect_env(sub, vars);
    }
}

/// Prints the completion script for a shell.
pub(super) fn run_completions(args: &CompletionsArgs) -> CommandResult {
    print_bytes(&completion_script(args.shell))
}

/// Prints a man page.
pub(super) fn run_man(args: &ManArgs) -> CommandResult {
    print_bytes(&man_page(&args.command)?)
}

/// Why the output could not be written.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("cannot write to stdout: {0}")]
struct StdoutError(std::io::Error);

fn print_bytes(bytes: &[u8]) -> CommandResult {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(StdoutError)?;
    Ok(Outcome::Ok)
}
