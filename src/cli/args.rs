//! Flags that several commands share, as structs flattened into each command's
//! arguments, so that a flag means and checks the same everywhere.

use std::path::{Path, PathBuf};

use crate::safety::SafetyOptions;

/// The operator token of a served registry, for what only its operator records: facts
/// from outside CSAM (a sent coordination-centre notice, R9) and reference data (accounts
/// CSAM holds). A registry file needs none: whoever may open it is its operator.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct OperatorArgs {
    /// On a served registry: the server's operator token file, to record what only its
    /// operator records (a registry file needs none).
    #[arg(
        long,
        env = "CSAM_OPERATOR_TOKEN_FILE",
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub operator_token_file: Option<PathBuf>,
}

impl OperatorArgs {
    /// The token file, if given.
    pub(crate) fn token_file(&self) -> Option<&Path> {
        self.operator_token_file.as_deref()
    }
}

/// The safety rules a plan must pass, and their overrides.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct SafetyArgs {
    /// The largest share of a capacity's users or sites a plan may delete (0 to 1).
    #[arg(long, value_name = "R", default_value_t = 0.25, value_parser = ratio)]
    pub max_deletion_ratio: f64,
    /// Allow deleting more than --max-deletion-ratio.
    #[arg(long)]
    pub force_deletions: bool,
    /// Allow the plan to remove the acting person's own access.
    #[arg(long)]
    pub allow_self_removal: bool,
}

impl SafetyArgs {
    /// The safety options these flags ask for.
    pub(crate) fn options(&self) -> SafetyOptions {
        SafetyOptions {
            max_deletion_ratio: self.max_deletion_ratio,
            force_deletions: self.force_deletions,
            allow_self_removal: self.allow_self_removal,
            ..SafetyOptions::default()
        }
    }
}

/// How personal data is shown in what a command prints.
#[derive(Debug, Clone, Copy, clap::Args)]
pub(crate) struct OutputArgs {
    /// Show full national register numbers (masked by default).
    #[arg(long)]
    pub show_personal_data: bool,
}

/// A ratio between 0 and 1.
fn ratio(text: &str) -> Result<f64, String> {
    let r: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if (0.0..=1.0).contains(&r) {
        Ok(r)
    } else {
        Err(format!("must be between 0 and 1, not {r}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ratio_is_between_0_and_1() {
        assert_eq!(ratio("0.25"), Ok(0.25));
        assert_eq!(ratio("1"), Ok(1.0));
        assert!(ratio("1.5").is_err());
        assert!(ratio("-0.1").is_err());
        assert!(ratio("NaN").is_err());
        assert!(ratio("a").is_err());
    }
}
