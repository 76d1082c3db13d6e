//! `csamctl runbook`: a [`Plan`] as a numbered manual procedure for the CSAM web
//! application ("Toegangsbeheer voor Ondernemingen en Organisaties"), for people who
//! must still click.
//!
//! The procedure follows the plan exactly: every session starts with the navigation the
//! manual gives ("Toegangen beheren" › "Sociale Zekerheid" › "Actor in de
//! gezondheidszorg") and ends with its forced log-out as a step of its own; a gate (R7)
//! is a step that waits for the designation; the coordination-centre notices (R9) and
//! the 20-minute wait (R6) are steps too. Every step has a checkbox.
//!
//! Languages: the Dutch texts quote the manual's own words and menu names. The French
//! texts are a translation of those: the French labels of the CSAM screens are this
//! crate's translation unless the manual or CSAM's French site gives them, which is
//! said in `docs/runbook.md`. The English texts quote the Dutch labels (the web
//! application has no English screens for this procedure) with an English gloss.
//!
//! National register numbers are masked unless [`RunbookOptions::show_personal_data`];
//! passwords cannot appear (a plan holds only where a password is read).
//!
//! May use `model` only. Renderers decide nothing: the order is the plan's.

use std::fmt::Write as _;

use crate::model::{
    Application, EnterprisePlan, Function, HeadRadiologistNotice, Instruction, Insz,
    LiveAdministrator, PasswordRef, Phase, Plan, Step, UserLevel, Write, WriteTarget,
};

/// The language of the runbook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// Dutch, in the manual's words.
    Nl,
    /// French, translated from the manual.
    Fr,
    /// English, quoting the Dutch screen labels.
    En,
}

/// The output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunbookFormat {
    /// Markdown with `- [ ]` task checkboxes.
    Markdown,
    /// A standalone HTML page with `<input type="checkbox">`.
    Html,
}

/// How to render the runbook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunbookOptions {
    /// The language.
    pub lang: Lang,
    /// The format.
    pub format: RunbookFormat,
    /// Full national register numbers instead of masked ones.
    pub show_personal_data: bool,
}

/// Picks the text of the options' language; formats only that one.
macro_rules! pick {
    ($lang:expr, nl => $nl:expr, fr => $fr:expr, en => $en:expr $(,)?) => {
        match $lang {
            Lang::Nl => $nl,
            Lang::Fr => $fr,
            Lang::En => $en,
        }
    };
}

/// One element of the procedure, before formatting.
enum Item {
    /// A section title (level 2 or 3).
    Heading(u8, String),
    /// A numbered step with a checkbox, and the values to type.
    Step(String, Vec<String>),
    /// A paragraph.
    Note(String),
    /// The table of contents: the headings that follow, linked.
    Contents(Vec<(u8, String)>),
}

/// One enterprise's procedure in a sentence: sessions, steps and what comes after.
fn summary_line(e: &EnterprisePlan, lang: Lang) -> Item {
    let sessions = e.sessions().count();
    let steps = e.steps().count();
    let mut after = Vec::new();
    for phase in &e.phases {
        match phase {
            Phase::Gate { .. } => after.push(pick!(lang,
                nl => "wachten op de validatie van de hoofdtoegangsbeheerder (R7)".to_string(),
                fr => "attendre la validation du gestionnaire d'accès principal (R7)".to_string(),
                en => "waiting for the main access manager's validation (R7)".to_string(),
            )),
            Phase::Notices { notices } => after.push(pick!(lang,
                nl => format!("{} mededeling(en) aan het CvKO (R9)", notices.len()),
                fr => format!("{} avis au centre de coordination (R9)", notices.len()),
                en => format!("{} notice(s) to the coordination centre (R9)", notices.len()),
            )),
            Phase::Propagation { wait_ms } => {
                let minutes = wait_ms.div_ceil(60_000);
                after.push(pick!(lang,
                    nl => format!("{minutes} minuten wachten (R6)"),
                    fr => format!("une attente de {minutes} minutes (R6)"),
                    en => format!("a {minutes}-minute wait (R6)"),
                ));
            }
            Phase::Sessions { .. } => {}
        }
    }
    let after = if after.is_empty() {
        String::new()
    } else {
        pick!(lang, nl => "; daarna ", fr => " ; ensuite ", en => "; then ").to_string()
            + &after.join(", ")
    };
    Item::Note(pick!(lang,
        nl => format!("{} ({}): {sessions} sessie(s), elk met volledig uitloggen op het einde, {steps} handeling(en){after}.", v(&e.name), v(e.kbo)),
        fr => format!("{} ({}) : {sessions} session(s), chacune terminée par une déconnexion complète, {steps} opération(s){after}.", v(&e.name), v(e.kbo)),
        en => format!("{} ({}): {sessions} session(s), each ending with a complete log-out, {steps} change(s) to enter{after}.", v(&e.name), v(e.kbo)),
    ))
}

/// The anchors a forge gives headings (GitHub's rule: lower case, letters, digits,
/// `-` and `_` kept, spaces made `-`, the rest dropped; a repeated one gets `-1`, `-2`…),
/// which the HTML page uses as its ids too.
fn anchors(headings: &[(u8, String)]) -> Vec<String> {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    headings
        .iter()
        .map(|(_, text)| {
            let plain = text.replace([OPEN, CLOSE], "");
            let slug: String = plain
                .to_lowercase()
                .chars()
                .filter_map(|c| match c {
                    ' ' => Some('-'),
                    c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                    _ => None,
                })
                .collect();
            let n = seen.entry(slug.clone()).or_insert(0);
            let anchor = if *n == 0 {
                slug.clone()
            } else {
                format!("{slug}-{n}")
            };
            *n += 1;
            anchor
        })
        .collect()
}

const OPEN: char = '\u{1}';
const CLOSE: char = '\u{2}';

/// A value to type or to look for, shown as code.
fn v(s: impl std::fmt::Display) -> String {
    format!("{OPEN}{s}{CLOSE}")
}

/// Renders the plan as a runbook.
pub fn render(plan: &Plan, opts: &RunbookOptions) -> String {
    let lang = opts.lang;
    let mut items = Vec::new();
    if plan.is_empty() {
        items.push(Item::Note(pick!(lang,
            nl => "Er is niets te doen: het register komt overeen met de gewenste toestand.".to_string(),
            fr => "Il n'y a rien à faire : le registre correspond à l'état souhaité.".to_string(),
            en => "Nothing to do: the registry matches the desired state.".to_string(),
        )));
    } else {
        items.push(Item::Note(pick!(lang,
            nl => "Voer de stappen in deze volgorde uit en vink ze af. Elke sessie begint met inloggen en eindigt met volledig uitloggen: pas na het uitloggen worden de gegevens in het systeem verwerkt.".to_string(),
            fr => "Exécutez les étapes dans cet ordre et cochez-les. Chaque session commence par une connexion et se termine par une déconnexion complète : les données ne sont traitées par le système qu'après la déconnexion.".to_string(),
            en => "Carry out the steps in this order and tick them off. Every session starts with logging in and ends with logging out completely: the data is processed only after the log-out.".to_string(),
        )));
    }
    let summary: Vec<Item> = plan
        .enterprises
        .iter()
        .filter(|e| !e.changes.is_empty())
        .map(|e| summary_line(e, lang))
        .collect();
    let intro = items.len();
    for e in &plan.enterprises {
        if e.changes.is_empty() {
            continue;
        }
        enterprise(&mut items, e, opts);
    }
    if !summary.is_empty() {
        let contents = Item::Contents(
            items
                .iter()
                .filter_map(|i| match i {
                    Item::Heading(level, text) => Some((*level, text.clone())),
                    _ => None,
                })
                .collect(),
        );
        let mut head = vec![Item::Heading(
            2,
            pick!(lang, nl => "Samenvatting", fr => "Résumé", en => "Summary").to_string(),
        )];
        head.extend(summary);
        head.push(contents);
        items.splice(intro..intro, head);
    }
    let title = pick!(lang,
        nl => "Draaiboek CSAM-toegangsbeheer voor Heracles",
        fr => "Procédure CSAM de gestion des accès pour Heracles",
        en => "CSAM access management runbook for Heracles",
    );
    match opts.format {
        RunbookFormat::Markdown => markdown(title, &items),
        RunbookFormat::Html => html(title, lang, &items),
    }
}

fn insz(i: &Insz, opts: &RunbookOptions) -> String {
    if opts.show_personal_data {
        i.formatted()
    } else {
        i.masked()
    }
}

fn enterprise(items: &mut Vec<Item>, e: &EnterprisePlan, opts: &RunbookOptions) {
    let lang = opts.lang;
    items.push(Item::Heading(2, format!("{} ({})", e.name, e.kbo)));
    let mut logged_in_before = false;
    for phase in &e.phases {
        match phase {
            Phase::Sessions { sessions } => {
                for s in sessions {
                    items.push(Item::Heading(
                        3,
                        pick!(lang,
                            nl => format!("Sessie {}", s.label),
                            fr => format!("Session {}", s.label),
                            en => format!("Session {}: {}", s.label, s.purpose),
                        ),
                    ));
                    let designation = s
                        .steps
                        .iter()
                        .all(|st| matches!(st.write, Write::DesignateMainAccessManager { .. }));
                    items.push(if designation {
                        designation_log_in(lang)
                    } else if logged_in_before {
                        log_in_again(e, lang)
                    } else {
                        log_in(e, lang)
                    });
                    logged_in_before |= !designation;
                    // The way to a level is said once; the steps after it on the same
                    // level start where the person already is.
                    let mut at: Option<String> = None;
                    for step in &s.steps {
                        let nav = step_nav(&step.write, lang);
                        let mut item = step_item(e, step, opts);
                        if let (Some(nav), Item::Step(text, _)) = (&nav, &mut item)
                            && at.as_ref() == Some(nav)
                            && let Some(rest) = text.strip_prefix(nav.as_str())
                        {
                            *text = rest.trim_start().to_string();
                        }
                        if nav.is_some() {
                            at = nav;
                        }
                        items.push(item);
                    }
                    items.push(log_out(lang));
                }
            }
            Phase::Gate {
                ticket,
                expected_ms,
            } => items.push(gate(ticket.as_deref(), *expected_ms, lang)),
            Phase::Notices { notices } => {
                items.extend(notices.iter().map(|n| notice(n, opts)));
            }
            Phase::Propagation { wait_ms } => items.push(wait(*wait_ms, lang)),
        }
    }
}

fn gate(ticket: Option<&str>, expected_ms: u64, lang: Lang) -> Item {
    let hours = expected_ms.div_ceil(3_600_000);
    let ticket = ticket.map(v).unwrap_or_else(|| {
        pick!(lang, nl => "dat u noteerde", fr => "que vous avez noté", en => "that you wrote down")
            .to_string()
    });
    Item::Step(
        pick!(lang,
            nl => format!("Wacht tot de aanvraag tot aanstelling van de hoofdtoegangsbeheerder (ticket {ticket}) gevalideerd is (binnen ongeveer {hours} uur). Tot dan kan er voor deze onderneming niets anders gebeuren."),
            fr => format!("Attendez que la demande de désignation du gestionnaire d'accès principal (ticket {ticket}) soit validée (dans environ {hours} heures). D'ici là, rien d'autre n'est possible pour cette entreprise."),
            en => format!("Wait until the main access manager designation (ticket {ticket}) is validated (within about {hours} hours). Nothing else is possible for this enterprise until then."),
        ),
        Vec::new(),
    )
}

fn notice(n: &HeadRadiologistNotice, opts: &RunbookOptions) -> Item {
    let lang = opts.lang;
    let who = format!("{} ({})", v(&n.username), v(insz(&n.insz, opts)));
    Item::Step(
        pick!(lang,
            nl => format!("Geef het rijksnummer van de hoofdradioloog {who} van site {} door aan het CvKO (via https://www.bevolkingsonderzoek.be/borstkanker/heracles2 of via heracles@bevolkingsonderzoek.be). Zonder dat kan niemand een eerste maal inloggen in Heracles.", v(&n.site)),
            fr => format!("Communiquez le numéro de registre national du radiologue en chef {who} du site {} au centre de coordination (CvKO : https://www.bevolkingsonderzoek.be/borstkanker/heracles2 ou heracles@bevolkingsonderzoek.be). Sans cela, personne ne peut se connecter une première fois à Heracles.", v(&n.site)),
            en => format!("Send the national register number of head radiologist {who} of site {} to the coordination centre (CvKO: https://www.bevolkingsonderzoek.be/borstkanker/heracles2 or heracles@bevolkingsonderzoek.be). Until then nobody can log in to Heracles for the first time.", v(&n.site)),
        ),
        masked_note(opts),
    )
}

fn wait(wait_ms: u64, lang: Lang) -> Item {
    let minutes = wait_ms.div_ceil(60_000);
    Item::Step(
        pick!(lang,
            nl => format!("Wacht {minutes} minuten. LET OP: Elke creatie of wijziging van gebruikers wordt pas na 20 minuten van kracht."),
            fr => format!("Attendez {minutes} minutes. ATTENTION : toute création ou modification d'utilisateurs ne prend effet qu'après 20 minutes."),
            en => format!("Wait {minutes} minutes. NOTE: every creation or change of users takes effect only after 20 minutes."),
        ),
        Vec::new(),
    )
}

/// The text of one instruction of the plan's procedure ([`Plan::procedure`]) and the
/// values to type under it, as the runbook words it; values are in `backticks`. `None`
/// when the instruction is not of this plan.
pub(crate) fn instruction(
    plan: &Plan,
    at: &Instruction,
    opts: &RunbookOptions,
) -> Option<(String, Vec<String>)> {
    let lang = opts.lang;
    let e = plan.enterprises.get(at.enterprise())?;
    let item = match *at {
        Instruction::LogIn { designation, .. } => {
            if designation {
                designation_log_in(lang)
            } else {
                log_in(e, lang)
            }
        }
        Instruction::Write { .. } => step_item(e, plan.step_of(at)?, opts),
        Instruction::LogOut { .. } => log_out(lang),
        Instruction::Gate { phase, .. } => match e.phases.get(phase)? {
            Phase::Gate {
                ticket,
                expected_ms,
            } => gate(ticket.as_deref(), *expected_ms, lang),
            _ => return None,
        },
        Instruction::Notice {
            phase, notice: n, ..
        } => match e.phases.get(phase)? {
            Phase::Notices { notices } => notice(notices.get(n)?, opts),
            _ => return None,
        },
        Instruction::Wait { phase, .. } => match e.phases.get(phase)? {
            Phase::Propagation { wait_ms } => wait(*wait_ms, lang),
            _ => return None,
        },
    };
    let code = |s: &str| s.replace([OPEN, CLOSE], "`");
    match item {
        Item::Step(text, details) => Some((code(&text), details.iter().map(|d| code(d)).collect())),
        Item::Heading(_, text) | Item::Note(text) => Some((code(&text), Vec::new())),
        Item::Contents(_) => None,
    }
}

/// Under a notice with a masked number: where the full one is.
fn masked_note(opts: &RunbookOptions) -> Vec<String> {
    if opts.show_personal_data {
        return Vec::new();
    }
    vec![pick!(opts.lang,
        nl => "Het volledige rijksnummer staat niet in dit draaiboek: `csamctl by-hand` toont het in de stap waarin u het doorgeeft, en het staat in het bestand met de gewenste toestand.".to_string(),
        fr => "Le numéro de registre national complet ne figure pas dans cette procédure : `csamctl by-hand` l'affiche à l'étape où vous le communiquez, et il se trouve dans le fichier de l'état souhaité.".to_string(),
        en => "The full national register number is not in this runbook: `csamctl by-hand` shows it in the step where you send it, and it is in the desired-state file.".to_string(),
    )]
}

fn log_in(e: &EnterprisePlan, lang: Lang) -> Item {
    let kbo = v(e.kbo);
    let name = v(&e.name);
    Item::Step(
        pick!(lang,
            nl => format!("Ga naar https://www.csam.be/nl/beheer-toegangsbeheerders.html, kies 'Toegangen beheren' › 'Sociale Zekerheid' › 'Actor in de gezondheidszorg' en log in. Kies de onderneming {name}; Ondernemingsnummer: {kbo}."),
            fr => format!("Allez sur https://www.csam.be/fr, choisissez « Gestion des gestionnaires d'accès » › « Gérer les accès » › « Sécurité sociale » › « Acteur des soins de santé » et connectez-vous. Choisissez l'entreprise {name} ; numéro d'entreprise : {kbo}."),
            en => format!("Go to https://www.csam.be/nl/beheer-toegangsbeheerders.html, choose 'Toegangen beheren' (manage access) › 'Sociale Zekerheid' (social security) › 'Actor in de gezondheidszorg' (healthcare actor) and log in. Choose the enterprise {name}; Ondernemingsnummer (enterprise number): {kbo}."),
        ),
        Vec::new(),
    )
}

/// Every log-in after an enterprise's first: the way there was given in full once.
fn log_in_again(e: &EnterprisePlan, lang: Lang) -> Item {
    let kbo = v(e.kbo);
    let name = v(&e.name);
    Item::Step(
        pick!(lang,
            nl => format!("Log opnieuw in zoals bij de eerste sessie en kies de onderneming {name} ({kbo})."),
            fr => format!("Reconnectez-vous comme à la première session et choisissez l'entreprise {name} ({kbo})."),
            en => format!("Log in again as in the first session and choose the enterprise {name} ({kbo})."),
        ),
        Vec::new(),
    )
}

/// The navigation a write's step starts with (the level it is done on), when it has one.
fn step_nav(write: &Write, lang: Lang) -> Option<String> {
    match write {
        Write::UpdateSubdivision { hco, .. } => Some(level_nav(
            &UserLevel::Subdivision { hco: hco.clone() },
            lang,
        )),
        Write::UpdateSite { hco, .. } => {
            Some(level_nav(&UserLevel::Site { hco: hco.clone() }, lang))
        }
        Write::CreateUser { level, .. }
        | Write::UpdateUser { level, .. }
        | Write::DeleteUser { level, .. }
        | Write::SetFunctions { level, .. } => Some(level_nav(level, lang)),
        Write::SetApplications { target, .. } | Write::SetActive { target, .. } => {
            Some(target_nav(target, lang))
        }
        _ => None,
    }
}

/// The designation (S1) is made before the enterprise can be chosen in 'Toegangen
/// beheren': it starts at 'Beheer der Toegangsbeheerders'.
fn designation_log_in(lang: Lang) -> Item {
    Item::Step(
        pick!(lang,
            nl => "Ga naar https://www.csam.be/nl, kies 'Beheer der Toegangsbeheerders', 'Aan de slag', en log in met de eID van de hoofdtoegangsbeheerder.".to_string(),
            fr => "Allez sur https://www.csam.be/fr, choisissez « Gestion des gestionnaires d'accès », « Commencer », et connectez-vous avec l'eID du gestionnaire d'accès principal.".to_string(),
            en => "Go to https://www.csam.be/nl, choose 'Beheer der Toegangsbeheerders' (management of access managers), 'Aan de slag' (get started), and log in with the main access manager's eID.".to_string(),
        ),
        Vec::new(),
    )
}

fn log_out(lang: Lang) -> Item {
    Item::Step(
        pick!(lang,
            nl => "Log volledig uit, zodat de gegevens die u heeft ingevoerd binnen de CSAM toepassing kunnen worden verwerkt. U kunt na het uitloggen onmiddellijk opnieuw inloggen.".to_string(),
            fr => "Déconnectez-vous complètement, afin que les données saisies dans l'application CSAM puissent être traitées. Vous pouvez vous reconnecter immédiatement après la déconnexion.".to_string(),
            en => "Log out completely, so that what you entered in the CSAM application is processed. You can log in again immediately after logging out.".to_string(),
        ),
        Vec::new(),
    )
}

fn application(a: Application) -> &'static str {
    match a {
        Application::Heracles => "Heracles",
        Application::EHealthBox => "eHealthBox",
        Application::EHealthCertificateManager => "eHealth Certificate Manager",
        Application::EbmPracticeNet => "EBMPracticeNet",
    }
}

fn applications<'a>(apps: impl IntoIterator<Item = &'a Application>) -> String {
    apps.into_iter()
        .map(|a| v(application(*a)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn function(f: Function, lang: Lang) -> &'static str {
    match f {
        Function::HeadRadiologist => {
            pick!(lang, nl => "hoofdradioloog", fr => "radiologue en chef", en => "head radiologist (hoofdradioloog)")
        }
        Function::Radiologist => {
            pick!(lang, nl => "radioloog", fr => "radiologue", en => "radiologist (radioloog)")
        }
        Function::Technologist => {
            pick!(lang, nl => "laborant", fr => "technologue en imagerie médicale", en => "technologist (laborant)")
        }
        Function::Administrative => {
            pick!(lang, nl => "administratief medewerker", fr => "collaborateur administratif", en => "administrative (administratief medewerker)")
        }
    }
}

fn administrator(a: &LiveAdministrator, opts: &RunbookOptions) -> Vec<String> {
    let lang = opts.lang;
    match a {
        LiveAdministrator::Itself => vec![pick!(lang,
            nl => "Beheerder: zelf instaan voor het beheer.".to_string(),
            fr => "Gestionnaire : assurer vous-même la gestion.".to_string(),
            en => "Administrator: manage it yourself ('zelf instaan voor het beheer').".to_string(),
        )],
        LiveAdministrator::Person { insz: i } => vec![pick!(lang,
            nl => format!("Beheerder: INSZ {}.", v(insz(i, opts))),
            fr => format!("Gestionnaire : NISS {}.", v(insz(i, opts))),
            en => format!("Administrator: INSZ {}.", v(insz(i, opts))),
        )],
        LiveAdministrator::Account {
            username,
            insz: i,
            last_name,
            first_name,
            email,
            language,
        } => vec![
            pick!(lang,
                nl => format!("Beheerder — gebruikersnaam (twee keer): {}; wachtwoord (twee keer): door de beheerder zelf gekozen, nooit in dit draaiboek.", v(username)),
                fr => format!("Gestionnaire — nom d'utilisateur (deux fois) : {} ; mot de passe (deux fois) : choisi par le gestionnaire, jamais dans cette procédure.", v(username)),
                en => format!("Administrator — username (twice): {}; password (twice): chosen by the administrator, never in this runbook.", v(username)),
            ),
            pick!(lang,
                nl => format!("Naam: {}; Voornaam: {}; INSZ: {}; Taalkeuze: {}; E-mailadres: {}.", v(last_name), v(first_name), v(insz(i, opts)), v(language), v(email)),
                fr => format!("Nom : {} ; Prénom : {} ; NISS : {} ; Langue : {} ; Adresse e-mail : {}.", v(last_name), v(first_name), v(insz(i, opts)), v(language), v(email)),
                en => format!("Naam (last name): {}; Voornaam (first name): {}; INSZ: {}; Taalkeuze (language): {}; E-mailadres: {}.", v(last_name), v(first_name), v(insz(i, opts)), v(language), v(email)),
            ),
        ],
    }
}

/// The step that opens a subdivision's or a site's details (both are "subafdelingen" in
/// CSAM) for editing; `what_en` names them in the English gloss.
fn edit_details(level: &UserLevel, lang: Lang, what_en: &str) -> String {
    let nav = level_nav(level, lang);
    pick!(lang,
        nl => format!("{nav} Klik bij Functionaliteiten op 'De details van de subafdeling raadplegen of wijzigen', pas aan en klik op 'Bevestigen'."),
        fr => format!("{nav} Dans Fonctionnalités, cliquez sur « Consulter ou modifier les détails de la sous-division », modifiez et cliquez sur « Confirmer »."),
        en => format!("{nav} Under Functionaliteiten click 'De details van de subafdeling raadplegen of wijzigen' (view or change {what_en}), change and click 'Bevestigen'."),
    )
}

fn level_nav(level: &UserLevel, lang: Lang) -> String {
    match level {
        UserLevel::Site { hco } => pick!(lang,
            nl => format!("Klik op de juiste links voor 'Hoedanigheid', 'subafdeling' en 'subafdeling-site' {}.", v(hco)),
            fr => format!("Cliquez sur les liens « Qualité », « sous-division » et « site de sous-division » {}.", v(hco)),
            en => format!("Click the links for 'Hoedanigheid' (capacity), 'subafdeling' (subdivision) and 'subafdeling-site' (site) {}.", v(hco)),
        ),
        UserLevel::Subdivision { hco } => pick!(lang,
            nl => format!("Klik op de juiste links voor 'Hoedanigheid' en 'subafdeling' {}.", v(hco)),
            fr => format!("Cliquez sur les liens « Qualité » et « sous-division » {}.", v(hco)),
            en => format!("Click the links for 'Hoedanigheid' (capacity) and 'subafdeling' (subdivision) {}.", v(hco)),
        ),
        UserLevel::Capacity { .. } => pick!(lang,
            nl => "Klik op de link voor 'Hoedanigheid' 'Mammografische eenheid kankerbevolkingsonderzoek'.".to_string(),
            fr => "Cliquez sur le lien « Qualité » « Unité de mammographie dépistage du cancer ».".to_string(),
            en => "Click the link for 'Hoedanigheid' (capacity) 'Mammografische eenheid kankerbevolkingsonderzoek'.".to_string(),
        ),
    }
}

fn target_nav(target: &WriteTarget, lang: Lang) -> String {
    match target {
        WriteTarget::Capacity { kbo, kind } => level_nav(
            &UserLevel::Capacity {
                kbo: *kbo,
                kind: *kind,
            },
            lang,
        ),
        WriteTarget::Subdivision { hco } => {
            level_nav(&UserLevel::Subdivision { hco: hco.clone() }, lang)
        }
        WriteTarget::Site { hco } => level_nav(&UserLevel::Site { hco: hco.clone() }, lang),
        WriteTarget::User { level, .. } => level_nav(level, lang),
    }
}

fn step_item(e: &EnterprisePlan, step: &Step, opts: &RunbookOptions) -> Item {
    let username = e.changes.get(step.change).and_then(|c| c.username()).map(v);
    let person = |i: &Insz| match &username {
        Some(u) => format!("{u} ({})", v(insz(i, opts))),
        None => v(insz(i, opts)),
    };
    let w = &step.write;
    match w {
        Write::DesignateMainAccessManager { .. }
        | Write::AddAccessManager { .. }
        | Write::RemoveAccessManager { .. } => manager_item(w, opts),
        Write::ActivateCapacity { .. } | Write::UpdateCapacity { .. } => capacity_item(w, opts),
        Write::CreateSubdivision { .. }
        | Write::UpdateSubdivision { .. }
        | Write::DeleteSubdivision { .. } => subdivision_item(w, opts),
        Write::CreateSite { .. } | Write::UpdateSite { .. } | Write::DeleteSite { .. } => {
            site_item(w, opts)
        }
        Write::CreateUser { .. }
        | Write::UpdateUser { .. }
        | Write::DeleteUser { .. }
        | Write::SetFunctions { .. } => user_item(step, opts, &person),
        Write::SetApplications { .. } | Write::SetActive { .. } => target_item(w, opts, &person),
    }
}

/// The step for the designation or an access manager ([`step_item`] passes only these
/// writes).
fn manager_item(write: &Write, opts: &RunbookOptions) -> Item {
    let lang = opts.lang;
    match write {
        Write::DesignateMainAccessManager {
            kbo,
            main_access_manager: m,
            legal_representative: l,
        } => Item::Step(
            pick!(lang,
                nl => format!("Klik op 'Een hoofdtoegangsbeheerder aanstellen'. Voer het ondernemingsnummer {} in, controleer de gegevens van de onderneming en klik op 'Volgende'. Vul de identificatie van de hoofdtoegangsbeheerder en van de verantwoordelijke van de onderneming in, vink 'Ja, ik bevestig' aan en klik op 'Registreren'. Noteer het ticketnummer.", v(kbo)),
                fr => format!("Cliquez sur « Désigner un gestionnaire d'accès principal ». Saisissez le numéro d'entreprise {}, vérifiez les données de l'entreprise et cliquez sur « Suivant ». Complétez l'identification du gestionnaire d'accès principal et du responsable de l'entreprise, cochez « Oui, je confirme » et cliquez sur « Enregistrer ». Notez le numéro de ticket.", v(kbo)),
                en => format!("Click 'Een hoofdtoegangsbeheerder aanstellen' (designate a main access manager). Enter the enterprise number {}, check the enterprise's data and click 'Volgende' (next). Fill in the main access manager and the legal representative, tick 'Ja, ik bevestig' (yes, I confirm) and click 'Registreren' (register). Write down the ticket number.", v(kbo)),
            ),
            vec![
                pick!(lang,
                    nl => format!("Hoofdtoegangsbeheerder: {} {}, INSZ {}.", v(&m.last_name), v(&m.first_name), v(insz(&m.insz, opts))),
                    fr => format!("Gestionnaire d'accès principal : {} {}, NISS {}.", v(&m.last_name), v(&m.first_name), v(insz(&m.insz, opts))),
                    en => format!("Main access manager: {} {}, INSZ {}.", v(&m.last_name), v(&m.first_name), v(insz(&m.insz, opts))),
                ),
                pick!(lang,
                    nl => format!("Verantwoordelijke van de onderneming: {} {}, INSZ {}.", v(&l.last_name), v(&l.first_name), v(insz(&l.insz, opts))),
                    fr => format!("Responsable de l'entreprise : {} {}, NISS {}.", v(&l.last_name), v(&l.first_name), v(insz(&l.insz, opts))),
                    en => format!("Legal representative: {} {}, INSZ {}.", v(&l.last_name), v(&l.first_name), v(insz(&l.insz, opts))),
                ),
                pick!(lang,
                    nl => "Download het aanvraagdocument, laat het digitaal ondertekenen met de eID van de wettelijke vertegenwoordiger en mail het naar registration@eranova.fgov.be met als onderwerp \"Aanvraag aanwijzing hoofdtoegangsbeheerder\".".to_string(),
                    fr => "Téléchargez le document de demande, faites-le signer électroniquement avec l'eID du représentant légal et envoyez-le à registration@eranova.fgov.be.".to_string(),
                    en => "Download the request document, have the legal representative sign it with their eID, and e-mail it to registration@eranova.fgov.be with the subject \"Aanvraag aanwijzing hoofdtoegangsbeheerder\".".to_string(),
                ),
            ],
        ),
        Write::AddAccessManager {
            access_manager: a, ..
        } => Item::Step(
            pick!(lang,
                nl => "Klik op 'Toegangsbeheerders aanstellen' en stel de toegangsbeheerder aan.".to_string(),
                fr => "Cliquez sur « Désigner des gestionnaires d'accès » et désignez le gestionnaire d'accès.".to_string(),
                en => "Click 'Toegangsbeheerders aanstellen' (appoint access managers) and appoint the access manager.".to_string(),
            ),
            vec![format!(
                "{} {}, {} {}, {}",
                v(&a.last_name),
                v(&a.first_name),
                pick!(lang, nl => "INSZ", fr => "NISS", en => "INSZ"),
                v(insz(&a.insz, opts)),
                v(&a.email)
            )],
        ),
        Write::RemoveAccessManager { insz: i, .. } => Item::Step(
            pick!(lang,
                nl => format!("Klik op 'Toegangsbeheerders aanstellen' en verwijder de toegangsbeheerder met INSZ {}.", v(insz(i, opts))),
                fr => format!("Cliquez sur « Désigner des gestionnaires d'accès » et retirez le gestionnaire d'accès NISS {}.", v(insz(i, opts))),
                en => format!("Click 'Toegangsbeheerders aanstellen' (appoint access managers) and remove the access manager with INSZ {}.", v(insz(i, opts))),
            ),
            Vec::new(),
        ),
        _ => unreachable!("step_item passes only the writes named in its match arm"),
    }
}

/// The step for a write to the capacity ([`step_item`] passes only these
/// writes).
fn capacity_item(write: &Write, opts: &RunbookOptions) -> Item {
    let lang = opts.lang;
    match write {
        Write::ActivateCapacity {
            email,
            local_administrator,
            applications: apps,
            ..
        } => {
            let admin = match local_administrator {
                None => LiveAdministrator::Itself,
                Some(i) => LiveAdministrator::Person { insz: *i },
            };
            let mut details = vec![pick!(lang,
                nl => format!("E-mailadres van de hoedanigheid: {}.", v(email)),
                fr => format!("Adresse e-mail de la qualité : {}.", v(email)),
                en => format!("E-mail address of the capacity: {}.", v(email)),
            )];
            details.extend(administrator(&admin, opts));
            details.push(secured(apps, lang));
            Item::Step(
                pick!(lang,
                    nl => "Klik op de link na 'Benaming', klik op 'De hoedanigheid activeren' en selecteer 'Mammografische eenheid kankerbevolkingsonderzoek'. Vul het e-mailadres van de hoedanigheid in, duid aan of u zelf wilt instaan voor het beheer of een lokale beheerder aanstelt, druk op 'Opslaan' en daarna op 'Bevestigen'.".to_string(),
                    fr => "Cliquez sur le lien après « Dénomination », cliquez sur « Activer la qualité » et sélectionnez « Unité de mammographie dépistage du cancer ». Complétez l'adresse e-mail de la qualité, indiquez si vous assurez vous-même la gestion ou désignez un gestionnaire local, cliquez sur « Enregistrer » puis sur « Confirmer ».".to_string(),
                    en => "Click the link after 'Benaming' (name), click 'De hoedanigheid activeren' (activate the capacity) and select 'Mammografische eenheid kankerbevolkingsonderzoek'. Fill in the capacity's e-mail address, choose whether you manage it yourself or appoint a local administrator, press 'Opslaan' (save) and then 'Bevestigen' (confirm).".to_string(),
                ),
                details,
            )
        }
        Write::UpdateCapacity {
            email,
            local_administrator,
            ..
        } => {
            let admin = match local_administrator {
                None => LiveAdministrator::Itself,
                Some(i) => LiveAdministrator::Person { insz: *i },
            };
            let mut details = vec![pick!(lang,
                nl => format!("E-mailadres van de hoedanigheid: {}.", v(email)),
                fr => format!("Adresse e-mail de la qualité : {}.", v(email)),
                en => format!("E-mail address of the capacity: {}.", v(email)),
            )];
            details.extend(administrator(&admin, opts));
            Item::Step(
                pick!(lang,
                    nl => "Klik bij Functionaliteiten op 'De details van de hoedanigheid raadplegen of wijzigen', pas aan en klik op 'Bevestigen'.".to_string(),
                    fr => "Dans Fonctionnalités, cliquez sur « Consulter ou modifier les détails de la qualité », modifiez et cliquez sur « Confirmer ».".to_string(),
                    en => "Under Functionaliteiten click 'De details van de hoedanigheid raadplegen of wijzigen' (view or change the capacity's details), change and click 'Bevestigen' (confirm).".to_string(),
                ),
                details,
            )
        }
        _ => unreachable!("step_item passes only the writes named in its match arm"),
    }
}

/// The step for a write to a subdivision ([`step_item`] passes only these
/// writes).
fn subdivision_item(write: &Write, opts: &RunbookOptions) -> Item {
    let lang = opts.lang;
    match write {
        Write::CreateSubdivision {
            hco,
            name,
            email,
            administrator: admin,
            applications: apps,
            ..
        } => {
            let mut details = vec![pick!(lang,
                nl => format!("HCO-nummer: {}; Naam van de subafdeling: {}; E-mailadres van de subdivisie: {}.", v(hco), v(name), v(email)),
                fr => format!("Numéro HCO : {} ; nom de la sous-division : {} ; adresse e-mail de la sous-division : {}.", v(hco), v(name), v(email)),
                en => format!("HCO-nummer: {}; Naam van de subafdeling (name): {}; E-mailadres van de subdivisie: {}.", v(hco), v(name), v(email)),
            )];
            details.extend(administrator(admin, opts));
            details.push(secured(apps, lang));
            Item::Step(
                pick!(lang,
                    nl => "Klik bij Functionaliteiten (dashboard rechts in beeld) op 'Gebruikers – Subafdelingen' en ga naar het tabblad 'Subafdeling'. Kies bij 'Een subafdeling toevoegen' 'Mammografische eenheid' en druk op 'Volgende'. Vul de gegevens in en klik op 'Bevestigen'.".to_string(),
                    fr => "Dans Fonctionnalités (tableau de bord à droite), cliquez sur « Utilisateurs – Sous-divisions » et allez à l'onglet « Sous-division ». Dans « Ajouter une sous-division », choisissez « Unité de mammographie » et cliquez sur « Suivant ». Complétez les données et cliquez sur « Confirmer ».".to_string(),
                    en => "Under Functionaliteiten (dashboard on the right) click 'Gebruikers – Subafdelingen' (users – subdivisions) and open the tab 'Subafdeling'. At 'Een subafdeling toevoegen' (add a subdivision) choose 'Mammografische eenheid' and press 'Volgende' (next). Fill in the details and click 'Bevestigen' (confirm).".to_string(),
                ),
                details,
            )
        }
        Write::UpdateSubdivision {
            hco,
            name,
            email,
            administrator: admin,
        } => {
            let mut details = vec![pick!(lang,
                nl => format!("Naam van de subafdeling: {}; E-mailadres van de subdivisie: {}.", v(name), v(email)),
                fr => format!("Nom de la sous-division : {} ; adresse e-mail : {}.", v(name), v(email)),
                en => format!("Naam van de subafdeling (name): {}; E-mailadres: {}.", v(name), v(email)),
            )];
            details.extend(administrator(admin, opts));
            Item::Step(
                edit_details(
                    &UserLevel::Subdivision { hco: hco.clone() },
                    lang,
                    "the subdivision's details",
                ),
                details,
            )
        }
        Write::DeleteSubdivision { hco } => Item::Step(
            pick!(lang,
                nl => format!("Ga naar het tabblad 'Subafdeling' en verwijder de subafdeling {} (ze heeft geen sites en geen gebruikers meer).", v(hco)),
                fr => format!("Allez à l'onglet « Sous-division » et supprimez la sous-division {} (elle n'a plus de sites ni d'utilisateurs).", v(hco)),
                en => format!("Open the tab 'Subafdeling' and delete the subdivision {} (it has no sites or users left).", v(hco)),
            ),
            Vec::new(),
        ),
        _ => unreachable!("step_item passes only the writes named in its match arm"),
    }
}

/// The step for a write to a site ([`step_item`] passes only these
/// writes).
fn site_item(write: &Write, opts: &RunbookOptions) -> Item {
    let lang = opts.lang;
    match write {
        Write::CreateSite {
            subdivision,
            hco,
            name,
            email,
            administrator: admin,
            applications: apps,
        } => {
            let mut details = vec![pick!(lang,
                nl => format!("HCO-nummer: {}; naam: {}.", v(hco), v(name)),
                fr => format!("Numéro HCO : {} ; nom : {}.", v(hco), v(name)),
                en => format!("HCO-nummer: {}; name: {}.", v(hco), v(name)),
            )];
            if let Some(email) = email {
                details.push(pick!(lang,
                    nl => format!("E-mailadres: {}.", v(email)),
                    fr => format!("Adresse e-mail : {}.", v(email)),
                    en => format!("E-mail address: {}.", v(email)),
                ));
            }
            details.extend(administrator(admin, opts));
            details.push(secured(apps, lang));
            Item::Step(
                pick!(lang,
                    nl => format!("Klik op de juiste links voor 'Hoedanigheid' en 'subafdeling' {}. Klik in het tabblad subafdeling bovenaan op de link 'Subafdeling', kies bij 'Een subafdeling toevoegen' 'Mammografische eenheid site' en druk op 'Volgende'. Duid in het vakje na 'HCO-nummer' de site aan, vul de gegevens in en bevestig.", v(subdivision)),
                    fr => format!("Cliquez sur les liens « Qualité » et « sous-division » {}. Dans l'onglet sous-division, cliquez en haut sur le lien « Sous-division », choisissez dans « Ajouter une sous-division » « Unité de mammographie site » et cliquez sur « Suivant ». Sélectionnez le site dans la case après « Numéro HCO », complétez les données et confirmez.", v(subdivision)),
                    en => format!("Click the links for 'Hoedanigheid' (capacity) and 'subafdeling' (subdivision) {}. In the subdivision tab click the link 'Subafdeling' at the top, at 'Een subafdeling toevoegen' choose 'Mammografische eenheid site' and press 'Volgende' (next). Select the site in the box after 'HCO-nummer', fill in the details and confirm.", v(subdivision)),
                ),
                details,
            )
        }
        Write::UpdateSite {
            hco,
            name,
            email,
            administrator: admin,
        } => {
            let mut details = vec![pick!(lang,
                nl => format!("Naam: {}; E-mailadres: {}.", v(name), email.as_ref().map_or_else(|| "—".to_string(), v)),
                fr => format!("Nom : {} ; adresse e-mail : {}.", v(name), email.as_ref().map_or_else(|| "—".to_string(), v)),
                en => format!("Name: {}; e-mail address: {}.", v(name), email.as_ref().map_or_else(|| "—".to_string(), v)),
            )];
            details.extend(administrator(admin, opts));
            Item::Step(
                edit_details(&UserLevel::Site { hco: hco.clone() }, lang, "the details"),
                details,
            )
        }
        Write::DeleteSite { hco } => Item::Step(
            pick!(lang,
                nl => format!("Verwijder de subafdeling-site {} (ze heeft geen gebruikers meer).", v(hco)),
                fr => format!("Supprimez le site de sous-division {} (il n'a plus d'utilisateurs).", v(hco)),
                en => format!("Delete the site {} (it has no users left).", v(hco)),
            ),
            Vec::new(),
        ),
        _ => unreachable!("step_item passes only the writes named in its match arm"),
    }
}

/// The step for a write to a user record and its functions ([`step_item`] passes only these
/// writes).
fn user_item(step: &Step, opts: &RunbookOptions, person: &dyn Fn(&Insz) -> String) -> Item {
    let lang = opts.lang;
    match &step.write {
        Write::CreateUser { level, user } => {
            let d = &user.details;
            let mut details = vec![
                pick!(lang,
                    nl => format!("INSZ: {}; gebruikersnaam (twee keer): {}.", v(insz(&user.insz, opts)), v(&user.username)),
                    fr => format!("NISS : {} ; nom d'utilisateur (deux fois) : {}.", v(insz(&user.insz, opts)), v(&user.username)),
                    en => format!("INSZ: {}; username (twice): {}.", v(insz(&user.insz, opts)), v(&user.username)),
                ),
                pick!(lang,
                    nl => format!("Naam: {}; Voornaam: {}; Taalkeuze: {}; E-mailadres: {}.", v(&d.last_name), v(&d.first_name), v(d.language), v(&d.email)),
                    fr => format!("Nom : {} ; Prénom : {} ; Langue : {} ; Adresse e-mail : {}.", v(&d.last_name), v(&d.first_name), v(d.language), v(&d.email)),
                    en => format!("Naam: {}; Voornaam: {}; Taalkeuze (language): {}; E-mailadres: {}.", v(&d.last_name), v(&d.first_name), v(d.language), v(&d.email)),
                ),
            ];
            if let Some(title) = &d.title {
                details.push(format!("Titel: {}.", v(title)));
            }
            if let Some(local) = &d.local_email {
                details.push(pick!(lang,
                    nl => format!("Lokaal e-mailadres: {}.", v(local)),
                    fr => format!("Adresse e-mail locale : {}.", v(local)),
                    en => format!("Lokaal e-mailadres (local e-mail): {}.", v(local)),
                ));
            }
            if let Some(p) = &step.password {
                details.push(password(p, lang));
            }
            details.push(secured(&user.applications, lang));
            if !user.active {
                details.push(pick!(lang,
                    nl => "Status: niet actief.".to_string(),
                    fr => "Statut : inactif.".to_string(),
                    en => "Status: inactive.".to_string(),
                ));
            }
            Item::Step(
                pick!(lang,
                    nl => format!("{} Klik bij Functionaliteiten op 'Gebruikers' en ga naar het tabblad 'Gebruikers'. Vul bij 'Een gebruiker toevoegen' het INSZ in en klik op 'Volgende'. Klik op het potlood onder 'Actie', vul de identificatiegegevens in, duid de beveiligde toepassingen aan en klik op 'Bevestigen'.", level_nav(level, lang)),
                    fr => format!("{} Dans Fonctionnalités, cliquez sur « Utilisateurs » et allez à l'onglet « Utilisateurs ». Dans « Ajouter un utilisateur », saisissez le NISS et cliquez sur « Suivant ». Cliquez sur le crayon sous « Action », complétez les données d'identification, cochez les applications sécurisées et cliquez sur « Confirmer ».", level_nav(level, lang)),
                    en => format!("{} Under Functionaliteiten click 'Gebruikers' (users) and open the tab 'Gebruikers'. At 'Een gebruiker toevoegen' (add a user) enter the INSZ and click 'Volgende' (next). Click the pencil under 'Actie', fill in the identification, tick the secured applications and click 'Bevestigen' (confirm).", level_nav(level, lang)),
                ),
                details,
            )
        }
        Write::UpdateUser {
            level,
            insz: i,
            details: d,
        } => Item::Step(
            pick!(lang,
                nl => format!("{} Klik in het tabblad 'Gebruikers' op het potlood achter {}, pas de gegevens aan en klik op 'Bevestigen'.", level_nav(level, lang), person(i)),
                fr => format!("{} Dans l'onglet « Utilisateurs », cliquez sur le crayon après {}, modifiez les données et cliquez sur « Confirmer ».", level_nav(level, lang), person(i)),
                en => format!("{} In the tab 'Gebruikers' click the pencil after {}, change the details and click 'Bevestigen' (confirm).", level_nav(level, lang), person(i)),
            ),
            vec![pick!(lang,
                nl => format!("Naam: {}; Voornaam: {}; Taalkeuze: {}; E-mailadres: {}.", v(&d.last_name), v(&d.first_name), v(d.language), v(&d.email)),
                fr => format!("Nom : {} ; Prénom : {} ; Langue : {} ; Adresse e-mail : {}.", v(&d.last_name), v(&d.first_name), v(d.language), v(&d.email)),
                en => format!("Naam: {}; Voornaam: {}; Taalkeuze (language): {}; E-mailadres: {}.", v(&d.last_name), v(&d.first_name), v(d.language), v(&d.email)),
            )],
        ),
        Write::DeleteUser { level, insz: i } => Item::Step(
            pick!(lang,
                nl => format!("{} Vink in het tabblad 'Gebruikers' {} aan, kies 'Gebruiker(s) verwijderen' en klik op 'Uitvoeren'.", level_nav(level, lang), person(i)),
                fr => format!("{} Dans l'onglet « Utilisateurs », cochez {}, choisissez « Supprimer le(s) utilisateur(s) » et cliquez sur « Exécuter ».", level_nav(level, lang), person(i)),
                en => format!("{} In the tab 'Gebruikers' tick {}, choose 'Gebruiker(s) verwijderen' (delete users) and click 'Uitvoeren' (execute).", level_nav(level, lang), person(i)),
            ),
            Vec::new(),
        ),
        Write::SetFunctions {
            level,
            insz: i,
            functions,
        } => {
            let names: Vec<String> = functions.iter().map(|f| v(function(*f, lang))).collect();
            let names = if names.is_empty() {
                "—".to_string()
            } else {
                names.join(", ")
            };
            Item::Step(
                pick!(lang,
                    nl => format!("{} Ga naar het tabblad gebruikers en klik in het dashboard rechts op 'Functies en verantwoordelijkheden hiërarchie'. Klik op het potloodje achter {} en ken deze functies toe: {names}.", level_nav(level, lang), person(i)),
                    fr => format!("{} Allez à l'onglet utilisateurs et cliquez dans le tableau de bord à droite sur « Hiérarchie des fonctions et responsabilités ». Cliquez sur le crayon après {} et attribuez ces fonctions : {names}.", level_nav(level, lang), person(i)),
                    en => format!("{} Open the users tab and click 'Functies en verantwoordelijkheden hiërarchie' (functions and responsibilities) in the dashboard on the right. Click the pencil after {} and give these functions: {names}.", level_nav(level, lang), person(i)),
                ),
                Vec::new(),
            )
        }
        _ => unreachable!("step_item passes only the writes named in its match arm"),
    }
}

/// The step for a write to the applications or the status of any level ([`step_item`] passes only these
/// writes).
fn target_item(write: &Write, opts: &RunbookOptions, person: &dyn Fn(&Insz) -> String) -> Item {
    let lang = opts.lang;
    match write {
        Write::SetApplications {
            target,
            applications: apps,
        } => Item::Step(
            pick!(lang,
                nl => format!("{} Klik op het potloodje onder 'Actie'{}, duid bij beveiligde toepassingen precies deze aan en klik op 'Bevestigen'.", target_nav(target, lang), target_who(target, person)),
                fr => format!("{} Cliquez sur le crayon sous « Action »{}, cochez exactement ces applications sécurisées et cliquez sur « Confirmer ».", target_nav(target, lang), target_who(target, person)),
                en => format!("{} Click the pencil under 'Actie'{}, tick exactly these secured applications and click 'Bevestigen' (confirm).", target_nav(target, lang), target_who(target, person)),
            ),
            vec![secured(apps, lang)],
        ),
        Write::SetActive { target, active } => Item::Step(
            match (lang, active) {
                (Lang::Nl, true) => format!(
                    "{} Zet de status{} op 'Actief'.",
                    target_nav(target, lang),
                    target_who(target, person)
                ),
                (Lang::Nl, false) => format!(
                    "{} Zet de status{} op niet actief.",
                    target_nav(target, lang),
                    target_who(target, person)
                ),
                (Lang::Fr, true) => format!(
                    "{} Mettez le statut{} sur « Actif ».",
                    target_nav(target, lang),
                    target_who(target, person)
                ),
                (Lang::Fr, false) => format!(
                    "{} Mettez le statut{} sur inactif.",
                    target_nav(target, lang),
                    target_who(target, person)
                ),
                (Lang::En, true) => format!(
                    "{} Set the status{} to 'Actief' (active).",
                    target_nav(target, lang),
                    target_who(target, person)
                ),
                (Lang::En, false) => format!(
                    "{} Set the status{} to inactive.",
                    target_nav(target, lang),
                    target_who(target, person)
                ),
            },
            Vec::new(),
        ),
        _ => unreachable!("step_item passes only the writes named in its match arm"),
    }
}

fn target_who(target: &WriteTarget, person: &dyn Fn(&Insz) -> String) -> String {
    match target {
        WriteTarget::User { insz, .. } => format!(" {}", person(insz)),
        _ => String::new(),
    }
}

fn secured(apps: &std::collections::BTreeSet<Application>, lang: Lang) -> String {
    pick!(lang,
        nl => format!("Beveiligde toepassingen: {}.", applications(apps)),
        fr => format!("Applications sécurisées : {}.", applications(apps)),
        en => format!("Secured applications (beveiligde toepassingen): {}.", applications(apps)),
    )
}

fn password(p: &PasswordRef, lang: Lang) -> String {
    let from = match p {
        PasswordRef::Env(name) => pick!(lang,
            nl => format!("de omgevingsvariabele {}", v(name)),
            fr => format!("la variable d'environnement {}", v(name)),
            en => format!("the environment variable {}", v(name)),
        ),
        PasswordRef::File(path) => pick!(lang,
            nl => format!("het bestand {}", v(path.display())),
            fr => format!("le fichier {}", v(path.display())),
            en => format!("the file {}", v(path.display())),
        ),
    };
    pick!(lang,
        nl => format!("Wachtwoord (twee keer): het wachtwoord uit {from}; het staat niet in dit draaiboek."),
        fr => format!("Mot de passe (deux fois) : celui de {from} ; il ne figure pas dans cette procédure."),
        en => format!("Password (twice): the one in {from}; it is not in this runbook."),
    )
}

fn markdown(title: &str, items: &[Item]) -> String {
    let code = |s: &str| s.replace([OPEN, CLOSE], "`");
    let mut out = format!("# {title}\n");
    let mut n = 0;
    let mut in_list = false;
    for item in items {
        match item {
            Item::Heading(level, text) => {
                let _ = write!(
                    out,
                    "\n{} {}\n",
                    "#".repeat(usize::from(*level)),
                    code(text)
                );
                in_list = false;
            }
            Item::Note(text) => {
                let _ = write!(out, "\n{}\n", code(text));
                in_list = false;
            }
            Item::Contents(headings) => {
                out.push('\n');
                for ((level, text), anchor) in headings.iter().zip(anchors(headings)) {
                    let indent = "  ".repeat(usize::from(level.saturating_sub(2)));
                    let text = text.replace([OPEN, CLOSE], "");
                    let _ = writeln!(out, "{indent}- [{text}](#{anchor})");
                }
                in_list = false;
            }
            Item::Step(text, details) => {
                n += 1;
                if !in_list {
                    out.push('\n');
                    in_list = true;
                }
                let _ = writeln!(out, "{n}. [ ] {}", code(text));
                for d in details {
                    let _ = writeln!(out, "    - {}", code(d));
                }
            }
        }
    }
    out
}

/// HTML text with every `https://` address made a link.
fn linked(s: &str) -> String {
    let escaped = escape(s);
    let mut out = String::with_capacity(escaped.len());
    let mut rest = escaped.as_str();
    while let Some(at) = rest.find("https://") {
        out.push_str(&rest[..at]);
        let url = &rest[at..];
        let end = url
            .find(|c: char| c.is_whitespace() || c == '<' || c == ')')
            .unwrap_or(url.len());
        let url = url[..end].trim_end_matches(['.', ',', ';', ':']);
        let _ = write!(out, "<a href=\"{url}\">{url}</a>");
        rest = &rest[at + url.len()..];
    }
    out.push_str(rest);
    out
}

/// HTML text, with the code markers turned into `<code>` elements.
fn escape(s: &str) -> String {
    super::html::escape(s)
        .replace(OPEN, "<code>")
        .replace(CLOSE, "</code>")
}

fn html(title: &str, lang: Lang, items: &[Item]) -> String {
    let code = pick!(lang, nl => "nl", fr => "fr", en => "en");
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"{code}\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>body{{font-family:sans-serif;max-width:60em;margin:auto}}li{{margin:.4em 0}}code{{background:#eee;padding:0 .2em}}nav li.sub{{margin-left:1.5em}}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(title),
        escape(title)
    );
    let headings: Vec<(u8, String)> = items
        .iter()
        .filter_map(|i| match i {
            Item::Heading(level, text) => Some((*level, text.clone())),
            _ => None,
        })
        .collect();
    let mut ids = anchors(&headings).into_iter();
    let mut n = 0;
    let mut in_list = false;
    for item in items {
        if !matches!(item, Item::Step(..)) && in_list {
            out.push_str("</ol>\n");
            in_list = false;
        }
        match item {
            Item::Heading(level, text) => {
                let id = ids.next().unwrap_or_default();
                let _ = writeln!(out, "<h{level} id=\"{id}\">{}</h{level}>", escape(text));
            }
            Item::Note(text) => {
                let _ = writeln!(out, "<p>{}</p>", escape(text));
            }
            Item::Contents(contents) => {
                out.push_str("<nav><ul>\n");
                for ((level, text), anchor) in contents.iter().zip(anchors(contents)) {
                    let class = if *level > 2 { " class=\"sub\"" } else { "" };
                    let _ = writeln!(
                        out,
                        "<li{class}><a href=\"#{anchor}\">{}</a></li>",
                        escape(text)
                    );
                }
                out.push_str("</ul></nav>\n");
            }
            Item::Step(text, details) => {
                n += 1;
                if !in_list {
                    let _ = writeln!(out, "<ol start=\"{n}\">");
                    in_list = true;
                }
                let _ = write!(
                    out,
                    "<li><label><input type=\"checkbox\"> {}</label>",
                    linked(text)
                );
                if !details.is_empty() {
                    out.push_str("<ul>");
                    for d in details {
                        let _ = write!(out, "<li>{}</li>", linked(d));
                    }
                    out.push_str("</ul>");
                }
                out.push_str("</li>\n");
            }
        }
    }
    if in_list {
        out.push_str("</ol>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}
