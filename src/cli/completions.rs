//! `csamctl completions SHELL` and `csamctl man`: shell completion scripts and the man
//! page, generated from the clap definitions so that they never fall behind the
//! commands.
//!
//! Both are produced in memory and then written, so that a closed pipe
//! (`csamctl man | head`) is an ordinary error rather than a panic inside the generator.

use std::io::Write as _;

use clap::CommandFactory;

use super::{Cli, CommandResult, Outcome};

/// `csamctl completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// The completion script for a shell.
pub fn completion_script(shell: clap_complete::Shell) -> Vec<u8> {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "csamctl", &mut out);
    out
}

/// `csamctl man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// The command whose page to print (`csamctl-validate(1)` for `validate`); without
    /// it, the main page, which lists every command.
    pub command: Option<String>,
}

/// Why there is no man page to print.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ManError {
    /// No command has that name.
    #[error("there is no command `{0}`")]
    #[diagnostic(help("`csamctl --help` lists the commands"))]
    UnknownCommand(String),
    /// Rendering failed.
    #[error("cannot render the man page")]
    Render(#[source] std::io::Error),
}

/// The man page (roff) of csamctl, or of one of its commands.
pub fn man_page(command: Option<&str>) -> Result<Vec<u8>, ManError> {
    let mut cli = Cli::command().disable_help_subcommand(true);
    // Building gives each command its display name (`csamctl-validate`), the page title.
    cli.build();
    let page = match command {
        None => cli,
        Some(name) => cli
            .find_subcommand(name)
            .cloned()
            .ok_or_else(|| ManError::UnknownCommand(name.to_string()))?
            .version(env!("CARGO_PKG_VERSION")),
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut out)
        .map_err(ManError::Render)?;
    Ok(out)
}

/// Prints the completion script for a shell.
pub fn run_completions(args: &CompletionsArgs) -> CommandResult {
    print_bytes(&completion_script(args.shell))
}

/// Prints a man page.
pub fn run_man(args: &ManArgs) -> CommandResult {
    print_bytes(&man_page(args.command.as_deref())?)
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
