//! The command line: clap definitions, one file per command, and the single place that
//! chooses exit codes (the README's command and exit-code tables are the contract).

mod access;
mod apply;
mod args;
mod by_hand;
mod completions;
mod drift;
mod errors;
mod export;
mod files;
mod import_csv;
mod notice;
mod plan;
mod progress;
mod registry;
mod runbook;
mod schema;
mod sessions;
mod settings;
mod terminal;
mod validate;

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

pub use progress::{ChainState, EnterpriseProgress, ProgressModel};

/// Exit codes, the contract scripts and CI pipelines rely on (the README's table).
/// Only [`Outcome::exit_code`] and [`main`] use them.
pub(crate) mod exit {
    /// Success (for `validate`: clean or warnings only).
    pub(crate) const OK: i32 = 0;
    /// Error: bad input, refused plan, registry failure after retries.
    pub(crate) const ERROR: i32 = 1;
    /// `plan --detailed-exitcode`: the plan has changes.
    pub(crate) const CHANGES: i32 = 2;
    /// `drift`: the CSAM export differs from the registry or the desired state.
    pub(crate) const DRIFT: i32 = 2;
    /// `apply`, `by-hand`: an enterprise waits on a gate (the HTB designation, R7);
    /// nothing failed.
    pub(crate) const WAITING_ON_GATE: i32 = 3;
    /// Interrupted (Ctrl-C, or `by-hand` stopped by the person).
    pub(crate) const INTERRUPTED: i32 = 130;

    /// Every exit status and what it means, for the man page's EXIT STATUS section.
    pub(crate) const ALL: &[(i32, &str)] = &[
        (
            OK,
            "Success (validate: no errors, warnings allowed; plan: a plan was printed).",
        ),
        (
            ERROR,
            "Error: bad input, a refused plan, an unreachable registry or a registry failure after retries. Nothing is half-written; running the command again converges.",
        ),
        (
            CHANGES,
            "plan --detailed-exitcode: the plan has changes. drift: the CSAM export differs from the registry or the desired state.",
        ),
        (
            WAITING_ON_GATE,
            "apply: an enterprise waits on the head access manager's designation (R7); nothing failed, run apply again once it is validated.",
        ),
        (
            INTERRUPTED,
            "Interrupted (Ctrl-C): what was in flight finished and its sessions were logged out; run the command again to go on.",
        ),
    ];
}

/// How a command ended. Every command's `run` returns one (or an error, which `main`
/// prints through the one error handler and turns into [`exit::ERROR`]); `main` turns
/// it into the exit code, here and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Done; nothing to report through the exit code.
    Ok,
    /// Failed, and the command already said why (diagnostics, a refused plan, a
    /// cancelled confirmation).
    Failed,
    /// `plan`: the plan has changes (exit 2 only with `--detailed-exitcode`).
    Changes {
        /// `--detailed-exitcode` was given.
        detailed: bool,
    },
    /// `drift`: the export differs from the registry or the desired state.
    Drift,
    /// `apply`, `by-hand`: stopped at a gate (R7); nothing failed.
    WaitingOnGate,
    /// Ctrl-C, or a person stopped `by-hand`.
    Interrupted,
}

impl Outcome {
    /// `Ok` when `ok`, else `Failed`.
    pub(crate) fn ok_if(ok: bool) -> Outcome {
        if ok { Outcome::Ok } else { Outcome::Failed }
    }

    /// The exit code of the README's table.
    pub(crate) fn exit_code(self) -> i32 {
        match self {
            Outcome::Ok | Outcome::Changes { detailed: false } => exit::OK,
            Outcome::Failed => exit::ERROR,
            Outcome::Changes { detailed: true } => exit::CHANGES,
            Outcome::Drift => exit::DRIFT,
            Outcome::WaitingOnGate => exit::WAITING_ON_GATE,
            Outcome::Interrupted => exit::INTERRUPTED,
        }
    }
}

/// What every command's `run` returns: an outcome, or an error for `main` to print.
pub(crate) type CommandResult = Result<Outcome, miette::Report>;

/// Declarative access management for Heracles in CSAM.
#[derive(Debug, Parser)]
#[command(name = "csamctl", version, about, long_about = None)]
pub struct Cli {
    /// Colour: auto (a terminal, unless NO_COLOR, CLICOLOR=0 or TERM=dumb; CLICOLOR_FORCE
    /// forces it), always, never.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = terminal::ColorChoice::Auto)]
    pub(crate) color: terminal::ColorChoice,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Parse and check the desired state (files or directories; default csam.yaml or ./csam/).
    Validate(ValidateArgs),
    /// Print the JSON Schema of the desired-state format.
    Schema,
    /// Read the live registry, diff, and print the ordered plan.
    Plan(plan::PlanArgs),
    /// Carry the plan out: parallel, retried, resumable, locked.
    Apply(apply::ApplyArgs),
    /// Carry the plan out by hand in the CSAM web application, step by step, recording each confirmed step.
    ByHand(by_hand::ByHandArgs),
    /// Check that every declared user has effective Heracles access.
    Verify(access::VerifyArgs),
    /// Evaluate the manual's troubleshooting checklist for one person.
    ExplainAccess(access::ExplainArgs),
    /// The coordination-centre step (R9): list the head radiologists whose number must
    /// still reach the CvKO, write the notice, and record it as sent.
    #[command(visible_alias = "cvko")]
    CoordinationCentre(notice::CoordinationCentreArgs),
    /// Operate a registry: init, token, tickets, clock, serve.
    Registry(registry::RegistryCommandArgs),
    /// Turn the user list exported from the CSAM web application (CSV) into people entries.
    ImportCsv(import_csv::ImportCsvArgs),
    /// Write the live registry's tree as a desired-state file (plan on it shows no changes).
    Export(export::ExportArgs),
    /// Compare a users export of the CSAM web application with the registry and the desired state.
    Drift(drift::DriftArgs),
    /// The plan as a numbered manual procedure for the CSAM web application.
    Runbook(runbook::RunbookArgs),
    /// List the acting person's open sessions; log them out (--close ID, --close-all).
    Sessions(sessions::SessionsArgs),
    /// An enterprise's apply lease: `lease release --enterprise KBO [--force]`.
    Lease(sessions::LeaseArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(completions::CompletionsArgs),
    /// Print the man page (roff), or a command's.
    Man(completions::ManArgs),
}

/// How a report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// For people: graphical on a terminal, plain text otherwise.
    Text,
    /// Versioned JSON, for CI annotations.
    Json,
}

/// `csamctl validate`.
#[derive(Debug, clap::Args)]
pub(crate) struct ValidateArgs {
    /// Desired-state files and directories.
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Show full national register numbers in source snippets (masked by default).
    #[arg(long)]
    pub show_personal_data: bool,
}

/// Whether output to this stream may use colour and graphics: `--color` and the
/// environment decide ([`terminal::decide_colour`]).
pub(crate) fn fancy(stream: &impl IsTerminal) -> bool {
    terminal::colour(stream)
}

/// Runs the command line and returns the process exit code: one runtime for every
/// command, one error handler for every error, one mapping to exit codes.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() {
                exit::ERROR
            } else {
                exit::OK
            };
            let _ = err.print();
            return code;
        }
    };
    terminal::set_choice(cli.color);
    errors::install();
    let result = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(dispatch(cli.command)),
        Err(e) => Err(miette::Report::from_err(e).wrap_err("cannot start the async runtime")),
    };
    match result {
        Ok(outcome) => outcome.exit_code(),
        Err(report) => {
            eprintln!("{report:?}");
            exit::ERROR
        }
    }
}

async fn dispatch(command: Command) -> CommandResult {
    match command {
        Command::Validate(args) => validate::run(&args),
        Command::Schema => schema::run(),
        Command::Plan(args) => plan::run(&args).await,
        Command::Apply(args) => apply::run(&args).await,
        Command::Verify(args) => access::run_verify(&args).await,
        Command::ExplainAccess(args) => access::run_explain(&args).await,
        Command::CoordinationCentre(args) => notice::run(&args).await,
        Command::Registry(args) => registry::run(&args).await,
        Command::ImportCsv(args) => import_csv::run(&args),
        Command::ByHand(args) => by_hand::run((&args).into()).await,
        Command::Drift(args) => drift::run(&args).await,
        Command::Export(args) => export::run(&args).await,
        Command::Runbook(args) => runbook::run(&args).await,
        Command::Sessions(args) => sessions::run_sessions(&args).await,
        Command::Lease(args) => sessions::run_lease(&args).await,
        Command::Completions(args) => completions::run_completions(&args),
        Command::Man(args) => completions::run_man(&args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--help` shows which variable an option reads, never its value: `CSAM_ACTOR` is a
    /// national register number and `CSAM_TOKEN` a secret. Every option of every
    /// command that reads the environment must hide its value.
    #[test]
    fn help_never_shows_environment_values() {
        fn check(cmd: &clap::Command, path: &str, seen: &mut usize) {
            for arg in cmd.get_arguments() {
                if let Some(var) = arg.get_env() {
                    *seen += 1;
                    assert!(
                        arg.is_hide_env_values_set(),
                        "{path} --{}: {var:?} would show its value in --help",
                        arg.get_id()
                    );
                }
            }
            for sub in cmd.get_subcommands() {
                check(sub, &format!("{path} {}", sub.get_name()), seen);
            }
        }
        let mut seen = 0;
        check(
            &<Cli as clap::CommandFactory>::command(),
            "csamctl",
            &mut seen,
        );
        assert!(
            seen >= 4,
            "the registry flags and --actor read the environment"
        );
    }
}
