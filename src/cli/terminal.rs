//! Terminal conventions: whether a stream gets colour (`--color`, `NO_COLOR`,
//! `CLICOLOR_FORCE`, `CLICOLOR`, `TERM=dumb`) and whether it may be redrawn in place
//! (progress bars). One decision function each, pure over the flag, "is it a
//! terminal" and the environment, so that the rules are tested without a terminal.
//!
//! The order follows no-color.org and bixense.com/clicolors, as most command-line tools
//! do: the flag wins; then `NO_COLOR` (set and not empty) turns colour off; then
//! `CLICOLOR_FORCE` (set, not empty, not `0`) turns it on even into a pipe; then
//! `CLICOLOR=0` turns it off; otherwise a terminal whose `TERM` is not `dumb` gets it.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::sync::OnceLock;

use clap::ValueEnum;

/// `--color`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorChoice {
    /// Colour on a terminal, following NO_COLOR, CLICOLOR_FORCE, CLICOLOR and TERM=dumb.
    #[default]
    Auto,
    /// Always colour, also into a pipe or file.
    Always,
    /// Never colour.
    Never,
}

/// The choice of this process (`--color`), set once by `main`.
static CHOICE: OnceLock<ColorChoice> = OnceLock::new();

/// Records `--color` for every later [`colour`] call (the first call wins).
pub(super) fn set_choice(choice: ColorChoice) {
    let _ = CHOICE.set(choice);
}

fn set(value: Option<OsString>) -> bool {
    value.is_some_and(|v| !v.is_empty())
}

/// Whether output gets ANSI colour: the flag, the environment (`env` reads a variable)
/// and whether the stream is a terminal. The rules are in the module docs.
pub(super) fn decide_colour(
    choice: ColorChoice,
    is_terminal: bool,
    env: impl Fn(&str) -> Option<OsString>,
) -> bool {
    match choice {
        ColorChoice::Always => return true,
        ColorChoice::Never => return false,
        ColorChoice::Auto => {}
    }
    if set(env("NO_COLOR")) {
        return false;
    }
    if env("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0") {
        return true;
    }
    if env("CLICOLOR").is_some_and(|v| v == "0") {
        return false;
    }
    is_terminal && !dumb(&env)
}

/// Whether a stream may be redrawn in place (progress bars): a terminal that can move
/// the cursor. Colour has nothing to do with it; `TERM=dumb` cannot do it.
pub(super) fn decide_live(is_terminal: bool, env: impl Fn(&str) -> Option<OsString>) -> bool {
    is_terminal && !dumb(&env)
}

fn dumb(env: &impl Fn(&str) -> Option<OsString>) -> bool {
    env("TERM").is_some_and(|t| t == "dumb")
}

/// [`decide_colour`] for a stream of this process.
pub(super) fn colour(stream: &impl IsTerminal) -> bool {
    decide_colour(
        CHOICE.get().copied().unwrap_or_default(),
        stream.is_terminal(),
        |name| std::env::var_os(name),
    )
}

/// [`decide_live`] for a stream of this process.
pub(super) fn live(stream: &impl IsTerminal) -> bool {
    decide_live(stream.is_terminal(), |name| std::env::var_os(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> + use<> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            vars.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn the_flag_wins_over_everything() {
        let all = env(&[("NO_COLOR", "1"), ("TERM", "dumb"), ("CLICOLOR", "0")]);
        assert!(decide_colour(ColorChoice::Always, false, &all));
        let force = env(&[("CLICOLOR_FORCE", "1")]);
        assert!(!decide_colour(ColorChoice::Never, true, &force));
    }

    #[test]
    fn auto_colours_a_terminal_only() {
        let plain = env(&[("TERM", "xterm-256color")]);
        assert!(decide_colour(ColorChoice::Auto, true, &plain));
        assert!(!decide_colour(ColorChoice::Auto, false, &plain));
        // No TERM at all (a service): a terminal still gets colour.
        assert!(decide_colour(ColorChoice::Auto, true, env(&[])));
    }

    #[test]
    fn no_color_turns_colour_off_unless_empty() {
        assert!(!decide_colour(
            ColorChoice::Auto,
            true,
            env(&[("NO_COLOR", "1")])
        ));
        assert!(decide_colour(
            ColorChoice::Auto,
            true,
            env(&[("NO_COLOR", "")])
        ));
        // NO_COLOR beats CLICOLOR_FORCE.
        let both = env(&[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]);
        assert!(!decide_colour(ColorChoice::Auto, true, both));
    }

    #[test]
    fn clicolor_force_colours_a_pipe_and_a_dumb_terminal() {
        let force = env(&[("CLICOLOR_FORCE", "1")]);
        assert!(decide_colour(ColorChoice::Auto, false, &force));
        let dumb_forced = env(&[("CLICOLOR_FORCE", "1"), ("TERM", "dumb")]);
        assert!(decide_colour(ColorChoice::Auto, true, dumb_forced));
        for off in ["0", ""] {
            let not_forced = env(&[("CLICOLOR_FORCE", off)]);
            assert!(
                !decide_colour(ColorChoice::Auto, false, not_forced),
                "{off:?}"
            );
        }
    }

    #[test]
    fn clicolor_zero_and_term_dumb_turn_colour_off() {
        assert!(!decide_colour(
            ColorChoice::Auto,
            true,
            env(&[("CLICOLOR", "0")])
        ));
        assert!(decide_colour(
            ColorChoice::Auto,
            true,
            env(&[("CLICOLOR", "1")])
        ));
        assert!(!decide_colour(
            ColorChoice::Auto,
            true,
            env(&[("TERM", "dumb")])
        ));
    }

    #[test]
    fn live_redraw_needs_a_terminal_that_is_not_dumb() {
        assert!(decide_live(true, env(&[("TERM", "xterm")])));
        assert!(!decide_live(true, env(&[("TERM", "dumb")])));
        assert!(!decide_live(false, env(&[("TERM", "xterm")])));
        // Colour settings do not matter for redrawing.
        assert!(decide_live(true, env(&[("NO_COLOR", "1")])));
    }
}
