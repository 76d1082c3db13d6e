//! The coordination-centre notice (R9): its text (Dutch, then French, with the full
//! national register numbers: it goes to the centre, never to a terminal), the lines a
//! person sees (numbers masked unless asked), and what to do with the file.
//!
//! May use `model` and the registry's report values; decides nothing.

use super::RenderOptions;
use crate::registry::PendingNotice;

/// The notice's text: Dutch, then French, one line per head radiologist with the full
/// national register number.
pub(crate) fn notice_text(notices: &[PendingNotice]) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    text.push_str("Aan het Centrum voor Kankeropsporing (CvKO)\n");
    text.push_str("Onderwerp: hoofdradioloog van mammografische eenheden (Heracles)\n\n");
    for n in notices {
        let _ = writeln!(
            text,
            "- Onderneming {}, eenheid (site) HCO {}: hoofdradioloog {} {} (gebruikersnaam {}), rijksregisternummer {}",
            n.kbo,
            n.site,
            n.first_name,
            n.last_name,
            n.username,
            n.person.formatted()
        );
    }
    text.push_str(
        "\nGelieve deze hoofdradiologen te registreren, zodat de eenheden kunnen inloggen in Heracles.\n\n",
    );
    text.push_str("Au Centre de coordination du dépistage des cancers (CCR)\n");
    text.push_str("Objet : radiologue en chef des unités de mammographie (Heracles)\n\n");
    for n in notices {
        let _ = writeln!(
            text,
            "- Entreprise {}, unité (site) HCO {} : radiologue en chef {} {} (nom d'utilisateur {}), numéro de registre national {}",
            n.kbo,
            n.site,
            n.first_name,
            n.last_name,
            n.username,
            n.person.formatted()
        );
    }
    text.push_str(
        "\nMerci d'enregistrer ces radiologues en chef afin que les unités puissent se connecter à Heracles.\n",
    );
    text
}

/// One line per head radiologist, for people (the number masked unless asked).
pub(crate) fn owed_lines(notices: &[PendingNotice], opts: &RenderOptions) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for n in notices {
        let _ = writeln!(
            out,
            "  site {} (enterprise {}): head radiologist {} {} ({}, {})",
            n.site,
            n.kbo,
            n.first_name,
            n.last_name,
            n.username,
            opts.insz(&n.person)
        );
    }
    out
}

/// What to do with the notice file at `path`, in one sentence (`written`: by this run;
/// else an earlier run wrote the same notice).
pub(crate) fn send_advice(path: &str, written: bool) -> String {
    format!(
        "The notice for the coordination centre (R9, NL and FR) is in {path} (mode 0600; it holds national register numbers{}). Send it to the CvKO (https://www.bevolkingsonderzoek.be/borstkanker/heracles2 or heracles@bevolkingsonderzoek.be) before anyone logs in to Heracles, then record that it was sent: csamctl coordination-centre [PATH...] --record-sent.",
        if written {
            ""
        } else {
            "; unchanged since an earlier run wrote it"
        }
    )
}
