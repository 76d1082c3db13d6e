//! Writing imported users as desired-state `people` entries, as YAML text laid out like
//! the file they go into.
//!
//! The CSV lacks two things the format needs, and the entries say so where an operator
//! will see it:
//!
//! - **e-mail** (required): written as `email: TODO` with a comment. `TODO` is not an
//!   address, so `csamctl validate` reports `csam::email::invalid` at that line and no
//!   plan can be made until a real address is filled in. A plausible-looking guess (the
//!   unit's address) would be accepted silently and written into every account.
//! - **functions**: written as an empty list for the site, with a comment. The validator
//!   warns (`csam::function::none`: no Heracles access without a function); the e-mail
//!   placeholder already stops the file from being applied before someone looks.
//!
//! Passwords are left out: the accounts exist already, and a password is only used to
//! create one. The language is left out (Dutch, the default) unless the CSV was exported
//! with French headers; then `language: fr`, the exporting administrator's interface
//! language being the best guess the file offers.
//!
//! Pure: no I/O.

use crate::model::{Function, Hco, Language};

use super::listing::ListedUser;
use crate::render::yaml::scalar;

/// Where new text goes and how it is indented, copied from the surrounding file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Indentation {
    /// Column (0-based) of the `-` of a `people` item.
    pub dash: usize,
    /// Column (0-based) of the keys of a person (`insz`, `username`, ...).
    pub keys: usize,
    /// Extra indentation of the entries of `sites` under its key.
    pub step: usize,
    /// Line ending: `"\n"` or `"\r\n"`, as in the file.
    pub newline: &'static str,
}

impl Indentation {
    /// The layout of a top-level list: `- insz:` at column 0, two-space indentation.
    pub(crate) const TOP_LEVEL: Indentation = Indentation {
        dash: 0,
        keys: 2,
        step: 2,
        newline: "\n",
    };
}

/// How the INSZ of an entry is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InszShown {
    /// In full (`85.07.30-033.28`): for desired-state files, which hold it by design.
    Full,
    /// Masked (`**.**.**-**3.28`): for a terminal or a CI log.
    Masked,
}

/// The value written for the e-mail address the CSV does not have.
pub(crate) const EMAIL_PLACEHOLDER: &str = "TODO";

/// The comment on the e-mail placeholder line.
pub(crate) const EMAIL_COMMENT: &str = "# not in the CSAM export: fill in the e-mail address";

/// One person as a `people` item, ending with a newline.
pub(crate) fn person(
    user: &ListedUser,
    site: &Hco,
    language: Option<Language>,
    insz: InszShown,
    layout: Indentation,
) -> String {
    let nl = layout.newline;
    let dash = " ".repeat(layout.dash);
    let keys = " ".repeat(layout.keys);
    let after_dash = " ".repeat(layout.keys.saturating_sub(layout.dash + 1).max(1));
    let insz = match insz {
        InszShown::Full => user.insz.formatted(),
        InszShown::Masked => user.insz.masked(),
    };
    let mut out = format!("{dash}-{after_dash}insz: \"{insz}\"{nl}");
    out += &format!("{keys}username: {}{nl}", scalar(user.username.as_str()));
    out += &format!("{keys}last_name: {}{nl}", scalar(&user.last_name));
    out += &format!("{keys}first_name: {}{nl}", scalar(&user.first_name));
    if let Some(language) = language.filter(|l| *l != Language::Dutch) {
        out += &format!("{keys}language: {language}{nl}");
    }
    out += &format!("{keys}email: {EMAIL_PLACEHOLDER}  {EMAIL_COMMENT}{nl}");
    if !user.active {
        out += &format!("{keys}active: false{nl}");
    }
    out += &format!("{keys}sites:{nl}");
    out += &format!(
        "{}{}{nl}",
        " ".repeat(layout.keys + layout.step),
        site_entry(site)
    );
    out
}

/// A `sites` entry for a site with no function yet: `"71012818": []` and a comment.
pub(crate) fn site_entry(site: &Hco) -> String {
    let functions: Vec<&str> = Function::ALL.iter().map(|f| f.as_str()).collect();
    format!(
        "\"{site}\": []  # not in the CSAM export: fill in the functions ({})",
        functions.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Insz, Username};

    fn user(last_name: &str, active: bool) -> ListedUser {
        ListedUser {
            row: 2,
            insz: Insz::parse("68.08.21-305.64").expect("valid INSZ"),
            username: Username::parse("koenverhaeghe").expect("valid username"),
            last_name: last_name.to_string(),
            first_name: "Koen".to_string(),
            active,
            kind: crate::model::AccountType::User,
        }
    }

    fn site() -> Hco {
        Hco::parse("71988411").expect("valid HCO")
    }

    #[test]
    fn an_entry_at_the_top_level() {
        let text = person(
            &user("VERHAEGHE", false),
            &site(),
            Some(Language::French),
            InszShown::Full,
            Indentation::TOP_LEVEL,
        );
        assert_eq!(
            text,
            "- insz: \"68.08.21-305.64\"\n  username: koenverhaeghe\n  last_name: VERHAEGHE\n  first_name: Koen\n  language: fr\n  email: TODO  # not in the CSAM export: fill in the e-mail address\n  active: false\n  sites:\n    \"71988411\": []  # not in the CSAM export: fill in the functions (head-radiologist, radiologist, technologist, administrative)\n"
        );
    }

    #[test]
    fn an_entry_masked_and_indented_with_crlf() {
        let layout = Indentation {
            dash: 10,
            keys: 14,
            step: 4,
            newline: "\r\n",
        };
        let text = person(
            &user("VERHAEGHE", true),
            &site(),
            Some(Language::Dutch),
            InszShown::Masked,
            layout,
        );
        assert!(text.starts_with("          -   insz: \"**.**.**-**5.64\"\r\n"));
        assert!(text.contains("\r\n              sites:\r\n                  \"71988411\""));
        assert!(!text.contains("language"), "Dutch is the default");
        assert!(!text.contains("active"), "active is the default");
        assert!(!text.contains("68.08"));
    }
}
