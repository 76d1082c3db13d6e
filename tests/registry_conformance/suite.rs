//! The registry conformance suite, generic over the contract: every check takes an
//! [`Env`] (an operator surface that can mint identities) and talks to the registry only
//! through `&dyn Registry` / `&dyn RegistryOperator`, so the same checks can run against
//! the embedded registry and a served one.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use csamctl::model::{
    AccessManager, Application, Applications, CapacityType, Email, Function, Hco, HtbStatus, Insz,
    Kbo, KnownAccounts, Language, LiveAccount, LiveAdministrator, Password, Representative,
    Username, insz_check,
};
use csamctl::registry::is_ticket_number;
use csamctl::registry::{
    AccessCondition, AccountPassword, AccountQuery, BatchRequest, BatchWrite, IdempotencyKey,
    LeaseRequest, PageRequest, Registry, RegistryError, RegistryOperator, SessionId, TakeOver,
    TicketState, User, UserDetails, UserLevel, UserPage, Write, WriteReceipt, WriteTarget,
};

/// Reference data of the suite (fictional enterprises, check-digit-valid numbers).
pub const REFERENCE: &str = r#"
enterprises:
  - kbo: "0444666608"          # multi-campus, HTB still to be designated (S1)
    name: AZ PROEFVALLEI VZW
    address: { street: Proefstraat, number: "1", postcode: "9000",
               municipality: Gent, country: BE }
    recognised_units:
      - subdivision: "72000100"
        sites: ["72000101", "72000102", "72000103"]
      - subdivision: "72000200"
        sites: ["72000201"]
  - kbo: "0555123476"          # validated HTB, but not a recognised unit (S2.7)
    name: PRAKTIJK NIETERKEND BV
    address: { street: Dorpsplein, number: "3", postcode: "3000",
               municipality: Leuven, country: BE }
    main_access_manager: "62101057413"
  - kbo: "0666111173"          # validated HTB, recognised: for rule and authority checks
    name: ZIEKENHUIS VOORAF VZW
    address: { street: Kaai, number: "12", postcode: "2000",
               municipality: Antwerpen, country: BE }
    main_access_manager: "66021958551"
    recognised_units:
      - subdivision: "73000100"
        sites: ["73000101", "73000102"]
      - subdivision: "73000200"
        sites: ["73000201"]
"#;

// Fictional people.
pub const HTB: &str = "75031366754";
pub const LEGAL: &str = "58022754967";
pub const AM: &str = "61061906014";
pub const LB: &str = "87040208957";
pub const SUBADM: &str = "82070324776";
pub const SITEADM: &str = "60091406166";
pub const U1: &str = "91020864669";
pub const U2: &str = "95100259156";
pub const U3: &str = "92070222745";
pub const U4: &str = "57092813789";
pub const STRANGER: &str = "73070555405";
pub const HTB_UNRECOGNISED: &str = "62101057413";
pub const HTB_READY: &str = "66021958551";

pub const MULTI: &str = "0444666608";
pub const UNRECOGNISED: &str = "0555123476";
pub const READY: &str = "0666111173";

const MINUTE: u64 = 60_000;

/// What a registry under test offers the suite.
pub struct Env {
    /// The operator surface.
    pub op: Arc<dyn RegistryOperator>,
}

pub fn insz(s: &str) -> Insz {
    Insz::parse(s).expect("fixture INSZ is valid")
}

pub fn kbo(s: &str) -> Kbo {
    Kbo::parse(s).expect("fixture KBO is valid")
}

pub fn hco(s: &str) -> Hco {
    Hco::parse(s).expect("fixture HCO is valid")
}

fn email(s: &str) -> Email {
    Email::parse(s).expect("fixture e-mail is valid")
}

fn username(s: &str) -> Username {
    Username::parse(s).expect("fixture username is valid")
}

/// A fictional INSZ numbered `n`, with correct check digits.
pub fn generated_insz(n: u32) -> Insz {
    let first_nine = 700_101_000u64 + u64::from(n);
    let check = insz_check(first_nine, false);
    insz(&format!("{first_nine:09}{check:02}"))
}

fn structure_apps() -> Applications {
    [Application::Heracles, Application::EHealthBox].into()
}

static KEYS: AtomicU64 = AtomicU64::new(0);

/// A fresh idempotency key.
pub fn key() -> IdempotencyKey {
    let n = KEYS.fetch_add(1, Ordering::SeqCst);
    IdempotencyKey::new(format!("suite-{}-{n}", std::process::id())).expect("valid key")
}

impl Env {
    /// The registry as `person` sees it, through a freshly issued token.
    pub async fn person(&self, person: &str) -> Arc<dyn Registry> {
        let token = self
            .op
            .issue_token(&insz(person))
            .await
            .expect("token issued");
        self.op.connect(&token).await.expect("token accepted")
    }
}

pub async fn login(r: &dyn Registry) -> SessionId {
    r.open_session().await.expect("log in").id
}

pub async fn logout(r: &dyn Registry, s: &SessionId) {
    let receipt = r.close_session(s).await.expect("log out");
    assert!(
        receipt.processed,
        "no processing delay: processed at log-out"
    );
}

/// Logs in, makes the writes (each must be acknowledged) and logs out (processed at
/// once: no processing delay): the conformance suite's one-session steps.
pub async fn in_session(r: &dyn Registry, writes: impl IntoIterator<Item = Write>) {
    let s = login(r).await;
    for w in writes {
        let kind = w.kind();
        write(r, &s, w)
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
    }
    logout(r, &s).await;
}

pub async fn write(
    r: &dyn Registry,
    s: &SessionId,
    w: Write,
) -> Result<WriteReceipt, RegistryError> {
    r.write(s, &key(), &w, password_for(&w).as_ref()).await
}

/// A write sent without any password beside it.
pub async fn write_without_password(
    r: &dyn Registry,
    s: &SessionId,
    w: Write,
) -> Result<WriteReceipt, RegistryError> {
    r.write(s, &key(), &w, None).await
}

/// Asserts that a result is the refusal with this code.
#[track_caller]
pub fn refused<T: std::fmt::Debug>(result: Result<T, RegistryError>, code: &str) {
    match result {
        Err(e) => assert_eq!(e.code(), code, "expected {code}, got {e}"),
        Ok(v) => panic!("expected {code}, the registry accepted: {v:?}"),
    }
}

fn person_repr(i: &str, last: &str, first: &str) -> Representative {
    Representative {
        insz: insz(i),
        last_name: last.into(),
        first_name: first.into(),
        quality: Some("Directeur".into()),
        email: Some(email("directie@proefvallei.example")),
        phone: None,
        mobile: None,
        fax: None,
    }
}

pub fn activate_capacity(k: &str, local_admin: Option<&str>) -> Write {
    Write::ActivateCapacity {
        kbo: kbo(k),
        kind: CapacityType::MammographyUnit,
        email: email("mammografie@proef.example"),
        local_administrator: local_admin.map(insz),
        applications: structure_apps(),
    }
}

pub fn admin_account(person: &str, name: &str) -> LiveAdministrator {
    LiveAdministrator::Account {
        username: username(name),
        insz: insz(person),
        last_name: "BEHEERDER".into(),
        first_name: "Test".into(),
        email: email("beheer@proef.example"),
        language: Language::Dutch,
    }
}

pub fn create_subdivision(k: &str, h: &str, admin: LiveAdministrator) -> Write {
    Write::CreateSubdivision {
        kbo: kbo(k),
        kind: CapacityType::MammographyUnit,
        hco: hco(h),
        name: format!("Subafdeling {h}"),
        email: email("sub@proef.example"),
        administrator: admin,
        applications: structure_apps(),
    }
}

pub fn create_site(sub: &str, h: &str, admin: LiveAdministrator) -> Write {
    Write::CreateSite {
        subdivision: hco(sub),
        hco: hco(h),
        name: format!("Campus {h}"),
        email: None,
        administrator: admin,
        applications: structure_apps(),
    }
}

pub fn site(h: &str) -> UserLevel {
    UserLevel::Site { hco: hco(h) }
}

pub fn details(last: &str) -> UserDetails {
    UserDetails {
        last_name: last.into(),
        first_name: "Test".into(),
        title: None,
        language: Language::Dutch,
        email: email("gebruiker@proef.example"),
        local_email: None,
    }
}

pub fn new_user(person: Insz, name: &str, functions: &[Function], apps: &[Application]) -> User {
    User {
        insz: person,
        username: username(name),
        details: details("GEBRUIKER"),
        active: true,
        applications: apps.iter().copied().collect(),
        functions: functions.iter().copied().collect(),
    }
}

/// The password every account these tests create gets.
pub fn test_password() -> AccountPassword {
    AccountPassword(Password::new("Proef2026!x".to_string()).expect("valid password"))
}

/// What the tests send beside a write: the test password beside every new user (the
/// registry needs it for a person without an account and ignores it otherwise).
pub fn password_for(w: &Write) -> Option<AccountPassword> {
    matches!(w, Write::CreateUser { .. }).then(test_password)
}

pub fn create_user(level: UserLevel, person: &str, name: &str) -> Write {
    Write::CreateUser {
        level,
        user: new_user(
            insz(person),
            name,
            &[],
            &[Application::Heracles, Application::EHealthBox],
        ),
    }
}

pub fn set_functions(level: UserLevel, person: &str, functions: &[Function]) -> Write {
    Write::SetFunctions {
        level,
        insz: insz(person),
        functions: functions.iter().copied().collect::<BTreeSet<_>>(),
    }
}

/// Brings the ready enterprise to: access manager AM, capacity with local administrator
/// LB, subdivisions 73000100 (administrator account SUBADM) and 73000200 (self), sites
/// 73000101 (administrator account SITEADM), 73000102 and 73000201, users U1 on 73000101
/// and U2 on 73000201. Everything processed.
pub async fn build_ready_tree(env: &Env) {
    let htb = env.person(HTB_READY).await;
    in_session(
        &*htb,
        [
            add_test_access_manager(READY),
            activate_capacity(READY, Some(LB)),
        ],
    )
    .await;
    in_session(
        &*htb,
        [
            create_subdivision(READY, "73000100", admin_account(SUBADM, "subbeheerder1")),
            create_subdivision(READY, "73000200", LiveAdministrator::Itself),
        ],
    )
    .await;
    for (sub, h, admin) in [
        (
            "73000100",
            "73000101",
            admin_account(SITEADM, "sitebeheerder1"),
        ),
        ("73000100", "73000102", LiveAdministrator::Itself),
        ("73000200", "73000201", LiveAdministrator::Itself),
    ] {
        in_session(&*htb, [create_site(sub, h, admin)]).await;
    }
    let s = login(&*htb).await;
    write(&*htb, &s, create_user(site("73000101"), U1, "gebruikereen"))
        .await
        .expect("user 1");
    write(
        &*htb,
        &s,
        create_user(site("73000201"), U2, "gebruikertwee"),
    )
    .await
    .expect("user 2");
    logout(&*htb, &s).await;
}

// ----- the manual's procedure --------------------------------------------------------

/// S1–S4 for a multi-campus enterprise, by hand through the trait, with every forced
/// log-out; and the refusals the manual warns about on the way.
pub async fn procedure_s1_to_s4(env: &Env) {
    let k = kbo(MULTI);
    let htb = env.person(HTB).await;

    // S1: nothing is possible before the HTB designation (R7).
    let s = login(&*htb).await;
    let live = htb.snapshot(&s, &k).await;
    refused(live, "not_authorised"); // no role yet and no designation requested
    refused(
        write(&*htb, &s, activate_capacity(MULTI, None)).await,
        "gate_pending",
    );
    let receipt = write(
        &*htb,
        &s,
        Write::DesignateMainAccessManager {
            kbo: k,
            main_access_manager: person_repr(HTB, "PROEF", "Pieter"),
            legal_representative: person_repr(LEGAL, "WETTIG", "Hilde"),
        },
    )
    .await
    .expect("designation requested");
    let ticket = receipt.ticket.expect("a designation yields a ticket");
    assert!(
        is_ticket_number(&ticket.id),
        "ticket {} has the manual's shape",
        ticket.id
    );
    assert_eq!(ticket.state, TicketState::Pending);
    match write(&*htb, &s, activate_capacity(MULTI, None)).await {
        Err(RegistryError::GatePending {
            ticket: Some(t), ..
        }) => assert_eq!(t, ticket.id),
        other => panic!("expected gate_pending with the ticket, got {other:?}"),
    }
    let live = htb
        .snapshot(&s, &k)
        .await
        .expect("a party to the ticket reads the tree");
    assert_eq!(
        live.enterprise.htb_status,
        HtbStatus::Pending {
            ticket: ticket.id.clone()
        }
    );
    assert_eq!(live.enterprise.name, "AZ PROEFVALLEI VZW");

    // S1.10: validated within about 48 hours.
    env.op.advance_clock(48 * 60 * MINUTE).await.expect("clock");
    // Two days idle: the session expired meanwhile.
    refused(
        write(&*htb, &s, activate_capacity(MULTI, None)).await,
        "session_closed",
    );
    let s = login(&*htb).await;
    let validated = env.op.validate_ticket(&ticket.id).await.expect("validate");
    assert_eq!(validated.state, TicketState::Validated);
    let tickets = htb.tickets(&k).await.expect("tickets");
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0].state, TicketState::Validated);
    // This session logged in before the validation was processed.
    refused(
        write(&*htb, &s, activate_capacity(MULTI, None)).await,
        "gate_pending",
    );
    logout(&*htb, &s).await;

    // S2: appoint an access manager, activate the capacity with a local administrator.
    let s = login(&*htb).await;
    let before = htb.snapshot(&s, &k).await.expect("snapshot");
    assert_eq!(before.enterprise.htb_status, HtbStatus::Validated);
    assert!(before.enterprise.capacities.is_empty());
    write(
        &*htb,
        &s,
        Write::AddAccessManager {
            kbo: k,
            access_manager: AccessManager {
                insz: insz(AM),
                last_name: "TOEGANG".into(),
                first_name: "Katrien".into(),
                email: email("tb@proefvallei.example"),
                domains: vec![],
            },
        },
    )
    .await
    .expect("access manager");
    write(&*htb, &s, activate_capacity(MULTI, Some(LB)))
        .await
        .expect("capacity");
    // S2.11: the session does not see its own capacity, so no subdivision yet (R1).
    let own = htb.snapshot(&s, &k).await.expect("snapshot");
    assert!(own.enterprise.capacities.is_empty());
    assert_eq!(own.version, before.version);
    refused(
        write(
            &*htb,
            &s,
            create_subdivision(MULTI, "72000100", LiveAdministrator::Itself),
        )
        .await,
        "parent_not_visible",
    );
    logout(&*htb, &s).await;

    // S3.1–S3.5: the local administrator creates one subdivision per HCO number.
    let lb = env.person(LB).await;
    let s = login(&*lb).await;
    write(
        &*lb,
        &s,
        create_subdivision(MULTI, "72000100", LiveAdministrator::Itself),
    )
    .await
    .expect("subdivision 72000100");
    write(
        &*lb,
        &s,
        create_subdivision(MULTI, "72000200", admin_account(SUBADM, "subbeheerder2")),
    )
    .await
    .expect("subdivision 72000200");
    refused(
        write(
            &*lb,
            &s,
            create_site("72000100", "72000101", LiveAdministrator::Itself),
        )
        .await,
        "parent_not_visible",
    );
    logout(&*lb, &s).await;

    // S3.6: every site in its own session.
    for (sub, h, admin) in [
        (
            "72000100",
            "72000101",
            admin_account(SITEADM, "sitebeheerder2"),
        ),
        ("72000100", "72000102", LiveAdministrator::Itself),
        ("72000100", "72000103", LiveAdministrator::Itself),
        ("72000200", "72000201", LiveAdministrator::Itself),
    ] {
        in_session(&*lb, [create_site(sub, h, admin)]).await;
    }

    // S4.1–S4.8: users on the sites (one user per site a person works at).
    let s = login(&*lb).await;
    write(&*lb, &s, create_user(site("72000101"), U1, "annproef01"))
        .await
        .expect("u1");
    write(&*lb, &s, create_user(site("72000101"), U2, "bartproef02"))
        .await
        .expect("u2 a");
    // The account exists: no password needed.
    let again = create_user(site("72000102"), U2, "BartProef02");
    write_without_password(&*lb, &s, again)
        .await
        .expect("u2 b, same username");
    write(&*lb, &s, create_user(site("72000201"), U3, "celineproef3"))
        .await
        .expect("u3");
    // S4.9: functions only after a log-out.
    refused(
        write(
            &*lb,
            &s,
            set_functions(site("72000101"), U1, &[Function::HeadRadiologist]),
        )
        .await,
        "session_stale",
    );
    logout(&*lb, &s).await;

    let s = login(&*lb).await;
    for (h, p, f) in [
        ("72000101", U1, Function::HeadRadiologist),
        ("72000101", U2, Function::Technologist),
        ("72000102", U2, Function::Technologist),
        ("72000201", U3, Function::HeadRadiologist),
    ] {
        write(&*lb, &s, set_functions(site(h), p, &[f]))
            .await
            .expect("functions");
    }
    logout(&*lb, &s).await;

    // The whole tree as a new session sees it.
    let s = login(&*htb).await;
    let live = htb.snapshot(&s, &k).await.expect("snapshot");
    assert!(live.version > before.version);
    let e = &live.enterprise;
    assert_eq!(e.access_managers.len(), 1);
    assert_eq!(e.access_managers[0].insz, insz(AM));
    assert_eq!(e.capacities.len(), 1);
    let cap = &e.capacities[0];
    assert_eq!(
        cap.local_administrator,
        LiveAdministrator::Person { insz: insz(LB) }
    );
    let subs: Vec<&str> = cap.subdivisions.iter().map(|s| s.hco.as_str()).collect();
    assert_eq!(subs, ["72000100", "72000200"]);
    let sites: Vec<&str> = e.sites().map(|s| s.hco.as_str()).collect();
    assert_eq!(sites, ["72000101", "72000102", "72000103", "72000201"]);
    let first = e.sites().next().expect("a site");
    assert_eq!(first.users.len(), 2);
    let u1 = first
        .users
        .iter()
        .find(|u| u.insz == insz(U1))
        .expect("u1 listed");
    assert_eq!(u1.username.as_str(), "annproef01");
    assert_eq!(u1.functions, [Function::HeadRadiologist].into());
    let u2_second = e
        .sites()
        .nth(1)
        .and_then(|s| s.users.first())
        .expect("u2 on the second site");
    assert_eq!(u2_second.username.as_str(), "bartproef02");
    logout(&*htb, &s).await;

    // Effective access: not before 20 minutes (R6) and the CvKO notice (R9).
    let report = lb
        .evaluate_access(&insz(U1), Some(&hco("72000101")))
        .await
        .expect("eval");
    let unit = &report.units[0];
    assert!(!unit.has_access);
    let failed: Vec<AccessCondition> = unit
        .conditions
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.condition)
        .collect();
    assert_eq!(
        failed,
        [
            AccessCondition::Propagated,
            AccessCondition::HeadRadiologistKnown
        ]
    );
    assert!(unit.effective_from_ms.is_some());
    env.op.advance_clock(20 * MINUTE).await.expect("clock");
    env.op
        .notify_head_radiologist(&hco("72000101"), &insz(U1))
        .await
        .expect("notice");
    let report = lb
        .evaluate_access(&insz(U1), Some(&hco("72000101")))
        .await
        .expect("eval");
    assert!(
        report.units[0].has_access,
        "{:?}",
        report.units[0].conditions
    );
    // U2 works at two sites; the second site's head radiologist is unknown to CvKO.
    let report = lb.evaluate_access(&insz(U2), None).await.expect("eval");
    let by_site: Vec<(String, bool)> = report
        .units
        .iter()
        .map(|u| {
            (
                u.site.as_ref().map(|h| h.to_string()).unwrap_or_default(),
                u.has_access,
            )
        })
        .collect();
    assert_eq!(
        by_site,
        [
            ("72000101".to_string(), true),
            ("72000102".to_string(), false)
        ]
    );
    // U3 on the second subdivision's site: no CvKO notice yet.
    let report = lb.evaluate_access(&insz(U3), None).await.expect("eval");
    assert!(!report.units[0].has_access);
}

// ----- one violation per rule --------------------------------------------------------

/// R1: writes are visible only to sessions that log in after the writer is processed.
pub async fn r1_snapshot_visibility(env: &Env) {
    let htb = env.person(HTB_READY).await;
    let k = kbo(READY);
    let writer = login(&*htb).await;
    write(&*htb, &writer, activate_capacity(READY, None))
        .await
        .expect("capacity");
    let early = login(&*htb).await; // logs in before the writer is processed
    let early_view = htb.snapshot(&early, &k).await.expect("snapshot");
    assert!(early_view.enterprise.capacities.is_empty());
    logout(&*htb, &writer).await;
    let still = htb.snapshot(&early, &k).await.expect("snapshot");
    assert!(
        still.enterprise.capacities.is_empty(),
        "the session keeps its view"
    );
    assert_eq!(still.version, early_view.version);
    refused(
        write(
            &*htb,
            &early,
            create_subdivision(READY, "73000100", LiveAdministrator::Itself),
        )
        .await,
        "parent_not_visible",
    );
    refused(
        write(
            &*htb,
            &early,
            Write::SetActive {
                target: WriteTarget::Capacity {
                    kbo: k,
                    kind: CapacityType::MammographyUnit,
                },
                active: false,
            },
        )
        .await,
        "session_stale",
    );
    logout(&*htb, &early).await;
    let late = login(&*htb).await;
    let late_view = htb.snapshot(&late, &k).await.expect("snapshot");
    assert_eq!(late_view.enterprise.capacities.len(), 1);
    assert!(late_view.version > early_view.version);
    // A closed session can do nothing more.
    refused(htb.snapshot(&early, &k).await, "session_closed");
    refused(
        write(&*htb, &early, activate_capacity(READY, None)).await,
        "session_closed",
    );
    // Someone else's session is not yours.
    let other = env.person(STRANGER).await;
    refused(other.snapshot(&late, &k).await, "not_authorised");
    // A second activation conflicts.
    refused(
        write(&*htb, &late, activate_capacity(READY, None)).await,
        "conflict",
    );
}

/// R1: an idle session expires and is processed like a log-out.
pub async fn r1_idle_expiry_processes(env: &Env) {
    let htb = env.person(HTB_READY).await;
    let limits = htb.limits().await.expect("limits");
    let s = login(&*htb).await;
    write(&*htb, &s, activate_capacity(READY, None))
        .await
        .expect("capacity");
    env.op
        .advance_clock(limits.idle_timeout_ms - 1)
        .await
        .expect("clock");
    assert_eq!(
        htb.list_sessions().await.expect("list").len(),
        1,
        "not yet expired"
    );
    env.op.advance_clock(1).await.expect("clock");
    assert!(htb.list_sessions().await.expect("list").is_empty());
    refused(
        write(&*htb, &s, activate_capacity(READY, None)).await,
        "session_closed",
    );
    let s2 = login(&*htb).await;
    let live = htb.snapshot(&s2, &kbo(READY)).await.expect("snapshot");
    assert_eq!(
        live.enterprise.capacities.len(),
        1,
        "expiry processed the writes"
    );
}

/// R2: one site per session.
pub async fn r2_one_site_per_session(env: &Env) {
    build_ready_tree_without_sites(env).await;
    let htb = env.person(HTB_READY).await;
    let s = login(&*htb).await;
    write(
        &*htb,
        &s,
        create_site("73000100", "73000101", LiveAdministrator::Itself),
    )
    .await
    .expect("first site");
    refused(
        write(
            &*htb,
            &s,
            create_site("73000100", "73000102", LiveAdministrator::Itself),
        )
        .await,
        "one_site_per_session",
    );
    logout(&*htb, &s).await;
    let s = login(&*htb).await;
    write(
        &*htb,
        &s,
        create_site("73000100", "73000102", LiveAdministrator::Itself),
    )
    .await
    .expect("next site in the next session");
}

/// Capacity and two subdivisions, processed, no sites.
async fn build_ready_tree_without_sites(env: &Env) {
    let htb = env.person(HTB_READY).await;
    in_session(&*htb, [activate_capacity(READY, None)]).await;
    in_session(
        &*htb,
        [create_subdivision(
            READY,
            "73000100",
            LiveAdministrator::Itself,
        )],
    )
    .await;
}

/// R3: no subdivision or site after a user in the same session.
pub async fn r3_structure_before_users(env: &Env) {
    build_ready_tree_without_sites(env).await;
    let htb = env.person(HTB_READY).await;
    in_session(
        &*htb,
        [create_site(
            "73000100",
            "73000101",
            LiveAdministrator::Itself,
        )],
    )
    .await;
    let s = login(&*htb).await;
    write(&*htb, &s, create_user(site("73000101"), U1, "gebruikereen"))
        .await
        .expect("user");
    refused(
        write(
            &*htb,
            &s,
            create_site("73000100", "73000102", LiveAdministrator::Itself),
        )
        .await,
        "structure_after_users",
    );
    refused(
        write(
            &*htb,
            &s,
            create_subdivision(READY, "73000200", LiveAdministrator::Itself),
        )
        .await,
        "structure_after_users",
    );
    logout(&*htb, &s).await;
    let s = login(&*htb).await;
    write(
        &*htb,
        &s,
        create_site("73000100", "73000102", LiveAdministrator::Itself),
    )
    .await
    .expect("a new session may create structure again");
}

/// R4: users and functions on the wrong level exist but give no access.
pub async fn r4_wrong_level_gives_no_access(env: &Env) {
    build_ready_tree(env).await;
    let htb = env.person(HTB_READY).await;
    let s = login(&*htb).await;
    let mut w = create_user(
        UserLevel::Subdivision {
            hco: hco("73000100"),
        },
        U3,
        "verkeerdniveau",
    );
    if let Write::CreateUser { user, .. } = &mut w {
        user.functions = [Function::Radiologist].into();
    }
    write(&*htb, &s, w)
        .await
        .expect("wrong-level user is allowed");
    logout(&*htb, &s).await;
    let s = login(&*htb).await;
    let live = htb.snapshot(&s, &kbo(READY)).await.expect("snapshot");
    let sub = &live.enterprise.capacities[0].subdivisions[0];
    assert_eq!(sub.wrong_level_users.len(), 1);
    assert_eq!(
        sub.wrong_level_users[0].functions,
        [Function::Radiologist].into()
    );
    env.op.advance_clock(20 * MINUTE).await.expect("clock");
    let report = htb.evaluate_access(&insz(U3), None).await.expect("eval");
    assert_eq!(report.units.len(), 1);
    assert_eq!(report.units[0].site, None);
    assert!(!report.units[0].has_access);
    let on_site = report.units[0]
        .conditions
        .iter()
        .find(|c| c.condition == AccessCondition::UserOnSite)
        .expect("condition present");
    assert!(!on_site.passed);
    assert!(on_site.detail.contains("R4"), "{}", on_site.detail);
    let report = htb
        .evaluate_access(&insz(U3), Some(&hco("73000101")))
        .await
        .expect("eval");
    assert!(!report.units[0].has_access);
    assert!(
        report.units[0]
            .conditions
            .iter()
            .any(|c| c.condition == AccessCondition::UserOnSite
                && !c.passed
                && c.detail.contains("subdivision 73000100"))
    );
}

/// R5: Heracles on every level, eHealthBox on structure and physicians.
pub async fn r5_applications_on_every_level(env: &Env) {
    build_ready_tree(env).await;
    let htb = env.person(HTB_READY).await;
    in_session(
        &*htb,
        [
            set_functions(site("73000101"), U1, &[Function::Radiologist]),
            Write::SetApplications {
                target: WriteTarget::User {
                    level: site("73000101"),
                    insz: insz(U1),
                },
                applications: [Application::Heracles].into(),
            },
            Write::SetApplications {
                target: WriteTarget::Site {
                    hco: hco("73000101"),
                },
                applications: [Application::EHealthBox].into(),
            },
        ],
    )
    .await;
    env.op.advance_clock(20 * MINUTE).await.expect("clock");
    env.op
        .notify_head_radiologist(&hco("73000101"), &insz(U1))
        .await
        .expect("notice");
    let report = htb
        .evaluate_access(&insz(U1), Some(&hco("73000101")))
        .await
        .expect("eval");
    let failed: Vec<AccessCondition> = report.units[0]
        .conditions
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.condition)
        .collect();
    // No head radiologist any more (U1 is now a radiologist), so R9 fails too.
    assert_eq!(
        failed,
        [
            AccessCondition::SiteApplications,
            AccessCondition::UserApplications,
            AccessCondition::HeadRadiologistKnown
        ]
    );
}

/// R6: every change restarts the 20-minute propagation.
pub async fn r6_propagation_delay(env: &Env) {
    build_ready_tree(env).await;
    let htb = env.person(HTB_READY).await;
    in_session(
        &*htb,
        [set_functions(
            site("73000101"),
            U1,
            &[Function::HeadRadiologist],
        )],
    )
    .await;
    env.op
        .notify_head_radiologist(&hco("73000101"), &insz(U1))
        .await
        .expect("notice");
    env.op.advance_clock(19 * MINUTE).await.expect("clock");
    let eval = || async {
        htb.evaluate_access(&insz(U1), Some(&hco("73000101")))
            .await
            .expect("eval")
            .units[0]
            .has_access
    };
    assert!(!eval().await, "19 minutes is not enough");
    env.op.advance_clock(MINUTE).await.expect("clock");
    assert!(eval().await, "20 minutes is");
    let s = login(&*htb).await;
    write(
        &*htb,
        &s,
        Write::UpdateUser {
            level: site("73000101"),
            insz: insz(U1),
            details: details("NIEUWENAAM"),
        },
    )
    .await
    .expect("update");
    assert!(eval().await, "an unprocessed change does not count yet");
    logout(&*htb, &s).await;
    assert!(!eval().await, "a processed change restarts the delay");
}

/// R9: the notices owed are derived from the registry's state: every head radiologist
/// of a site not yet recorded as known to the coordination centre, from the moment the
/// write is acknowledged (processed or not); recording one removes it; the list is
/// scoped to the sites whose users the caller has authority over.
pub async fn r9_pending_notices(env: &Env) {
    build_ready_tree(env).await;
    let htb = env.person(HTB_READY).await;
    let k = kbo(READY);
    assert_eq!(htb.pending_notices(&k).await.expect("pending"), []);
    // Acknowledged, not processed: the session is still open (a crashed apply's).
    let s = login(&*htb).await;
    for (h, who) in [("73000101", U1), ("73000201", U2)] {
        write(
            &*htb,
            &s,
            set_functions(site(h), who, &[Function::HeadRadiologist]),
        )
        .await
        .expect("head radiologist");
    }
    let pending = htb.pending_notices(&k).await.expect("pending");
    let owed: Vec<(String, Insz, String)> = pending
        .iter()
        .map(|n| (n.site.to_string(), n.person, n.username.to_string()))
        .collect();
    assert_eq!(
        owed,
        [
            ("73000101".to_string(), insz(U1), "gebruikereen".to_string()),
            (
                "73000201".to_string(),
                insz(U2),
                "gebruikertwee".to_string()
            )
        ]
    );
    assert!(
        pending
            .iter()
            .all(|n| n.kbo == k && n.last_name == "GEBRUIKER")
    );
    // The site administrator of 73000101 sees that site's only; a stranger nothing.
    let site_admin = env.person(SITEADM).await;
    let theirs = site_admin.pending_notices(&k).await.expect("pending");
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].site, hco("73000101"));
    refused(
        env.person(STRANGER).await.pending_notices(&k).await,
        "not_authorised",
    );
    refused(htb.pending_notices(&kbo(MULTI)).await, "not_authorised");
    // Recorded as known: no longer owed, processed or not.
    env.op
        .notify_head_radiologist(&hco("73000101"), &insz(U1))
        .await
        .expect("notice");
    logout(&*htb, &s).await;
    let pending = htb.pending_notices(&k).await.expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].person, insz(U2));
    // No longer a head radiologist: no longer owed.
    let s = login(&*htb).await;
    write(
        &*htb,
        &s,
        set_functions(site("73000201"), U2, &[Function::Radiologist]),
    )
    .await
    .expect("radiologist");
    assert_eq!(htb.pending_notices(&k).await.expect("pending"), []);
    logout(&*htb, &s).await;
}

/// R7: the gate; who may request; one pending request at a time.
pub async fn r7_designation_gate(env: &Env) {
    let k = kbo(MULTI);
    let stranger = env.person(STRANGER).await;
    let s = login(&*stranger).await;
    let designation = Write::DesignateMainAccessManager {
        kbo: k,
        main_access_manager: person_repr(HTB, "PROEF", "Pieter"),
        legal_representative: person_repr(LEGAL, "WETTIG", "Hilde"),
    };
    refused(
        write(&*stranger, &s, designation.clone()).await,
        "not_authorised",
    );
    let legal = env.person(LEGAL).await;
    let ls = login(&*legal).await;
    let receipt = write(&*legal, &ls, designation.clone())
        .await
        .expect("legal requests");
    let ticket = receipt.ticket.expect("ticket");
    refused(
        write(&*legal, &ls, designation.clone()).await,
        "gate_pending",
    );
    refused(stranger.tickets(&k).await, "not_authorised");
    let htb = env.person(HTB).await;
    let hs = login(&*htb).await;
    refused(
        write(
            &*htb,
            &hs,
            Write::AddAccessManager {
                kbo: k,
                access_manager: AccessManager {
                    insz: insz(AM),
                    last_name: "X".into(),
                    first_name: "Y".into(),
                    email: email("x@proef.example"),
                    domains: vec![],
                },
            },
        )
        .await,
        "gate_pending",
    );
    env.op.validate_ticket(&ticket.id).await.expect("validate");
    refused(env.op.validate_ticket(&ticket.id).await, "conflict");
    refused(
        env.op.validate_ticket("3Y0-0000000-00-A").await,
        "not_found",
    );
    refused(write(&*legal, &ls, designation).await, "conflict");
    assert!(
        env.op
            .all_tickets()
            .await
            .expect("tickets")
            .iter()
            .any(|t| t.id == ticket.id && t.state == TicketState::Validated)
    );
}

/// R8: capacity only for recognised units; subdivisions and sites only from the
/// enterprise's known HCO numbers.
pub async fn r8_recognised_units_only(env: &Env) {
    let htb = env.person(HTB_UNRECOGNISED).await;
    let s = login(&*htb).await;
    refused(
        write(&*htb, &s, activate_capacity(UNRECOGNISED, None)).await,
        "capacity_not_recognised",
    );
    build_ready_tree_without_sites(env).await;
    let htb = env.person(HTB_READY).await;
    let s = login(&*htb).await;
    refused(
        write(
            &*htb,
            &s,
            create_subdivision(READY, "72000100", LiveAdministrator::Itself),
        )
        .await,
        "subdivision_not_recognised",
    );
    refused(
        write(
            &*htb,
            &s,
            create_site("73000100", "73000201", LiveAdministrator::Itself),
        )
        .await,
        "site_not_recognised",
    );
    refused(
        write(
            &*htb,
            &s,
            create_site("73000100", "79999999", LiveAdministrator::Itself),
        )
        .await,
        "site_not_recognised",
    );
    refused(
        write(
            &*htb,
            &s,
            create_subdivision(READY, "73000100", LiveAdministrator::Itself),
        )
        .await,
        "conflict",
    );
}

/// Usernames: unique case-insensitively, immutable; a new account needs a password.
pub async fn usernames_unique_and_immutable(env: &Env) {
    build_ready_tree(env).await;
    let htb = env.person(HTB_READY).await;
    let s = login(&*htb).await;
    // U1 holds "gebruikereen"; someone else may not take it in any case.
    refused(
        write(&*htb, &s, create_user(site("73000102"), U3, "GebruikerEen")).await,
        "username_taken",
    );
    refused(
        write(&*htb, &s, create_user(site("73000102"), U1, "anderenaam1")).await,
        "username_immutable",
    );
    let no_password = create_user(site("73000102"), U4, "nieuwpersoon");
    refused(
        write_without_password(&*htb, &s, no_password).await,
        "password_required",
    );
    // An administrator account's username is taken too.
    refused(
        write(
            &*htb,
            &s,
            create_user(site("73000102"), U4, "subbeheerder1"),
        )
        .await,
        "username_taken",
    );
    write(&*htb, &s, create_user(site("73000102"), U1, "GEBRUIKEREEN"))
        .await
        .expect("the same person, the same username in another case");
}

/// The account look-up answers only what it was asked, across enterprises and to any
/// person: the asked people's accounts, and of the asked usernames those someone who is
/// none of the asked people holds (not who). Too long a list is refused.
pub async fn account_lookup(env: &Env) {
    build_ready_tree(env).await;
    // The HTB of another enterprise: no role in READY, where the accounts are.
    let other = env.person(HTB_UNRECOGNISED).await;
    let ask = |people: &[&str], names: &[&str]| AccountQuery {
        insz: people.iter().map(|p| insz(p)).collect(),
        usernames: names.iter().map(|n| username(n)).collect(),
    };
    let answer = other
        .look_up_accounts(&ask(
            &[U1, U4],
            &["GebruikerEen", "subbeheerder1", "vrijenaam1"],
        ))
        .await
        .expect("look-up");
    assert_eq!(
        answer.accounts,
        vec![LiveAccount {
            insz: insz(U1),
            username: username("gebruikereen"),
        }],
        "only the asked people with an account: U1, not U4 (none), nor anyone unasked"
    );
    // "gebruikereen" is U1's, who was asked: not reported as someone else's.
    assert_eq!(answer.taken, vec![username("subbeheerder1")]);
    // Asked without its holder, the same username is someone else's.
    let answer = other
        .look_up_accounts(&ask(&[U3], &["gebruikereen"]))
        .await
        .expect("look-up");
    assert!(answer.accounts.is_empty());
    assert_eq!(answer.taken, vec![username("gebruikereen")]);
    // Nothing asked, nothing answered.
    assert_eq!(
        other
            .look_up_accounts(&ask(&[], &[]))
            .await
            .expect("look-up"),
        KnownAccounts::default()
    );
    // Someone with no role anywhere (an HTB before the first designation) may ask too.
    let stranger = env.person(STRANGER).await;
    let answer = stranger
        .look_up_accounts(&ask(&[STRANGER, U1], &["subbeheerder1"]))
        .await
        .expect("look-up");
    assert_eq!(answer.accounts.len(), 1, "U1 only: {answer:?}");
    assert_eq!(answer.taken, vec![username("subbeheerder1")]);
    let too_many = AccountQuery {
        insz: (0..=AccountQuery::MAX as u32).map(generated_insz).collect(),
        usernames: vec![],
    };
    refused(other.look_up_accounts(&too_many).await, "invalid_request");
}

/// Idempotency: a repeated key returns the first answer and writes nothing; a key
/// reused for another request is refused.
pub async fn idempotent_writes(env: &Env) {
    let htb = env.person(HTB_READY).await;
    let s = login(&*htb).await;
    let k = key();
    let w = activate_capacity(READY, None);
    let first = htb
        .write(&s, &k, &w, password_for(&w).as_ref())
        .await
        .expect("first");
    let before = env.op.stats().await.expect("stats");
    let again = htb
        .write(&s, &k, &w, password_for(&w).as_ref())
        .await
        .expect("replay");
    assert_eq!(again, first);
    let after = env.op.stats().await.expect("stats");
    assert_eq!(
        after.journal_entries, before.journal_entries,
        "nothing written"
    );
    refused(
        htb.write(&s, &k, &activate_capacity(READY, Some(LB)), None)
            .await,
        "idempotency_key_reused",
    );
    logout(&*htb, &s).await;
    // A retry after the session ended still gets the first answer.
    let replay = htb
        .write(&s, &k, &w, password_for(&w).as_ref())
        .await
        .expect("replay after log-out");
    assert_eq!(replay, first);
    // The same key from another person is another key.
    let other = env.person(HTB_UNRECOGNISED).await;
    let os = login(&*other).await;
    refused(
        other.write(&os, &k, &w, password_for(&w).as_ref()).await,
        "not_authorised",
    );
}

/// Idempotency with a secret: the same key with the same password is a repeat; with
/// another password it is another request and is refused (the registry compares a keyed
/// hash, never the password). A refused write is not remembered: its key, with another
/// change, is decided afresh.
pub async fn idempotent_secrets(env: &Env) {
    build_ready_tree(env).await;
    let htb = env.person(HTB_READY).await;
    let s = login(&*htb).await;
    let user = |n: u32, name: &str| Write::CreateUser {
        level: site("73000102"),
        user: new_user(
            generated_insz(n),
            name,
            &[],
            &[Application::Heracles, Application::EHealthBox],
        ),
    };
    let k = key();
    let w = user(900, "geheimproef1");
    let first = htb
        .write(&s, &k, &w, password_for(&w).as_ref())
        .await
        .expect("first");
    assert_eq!(
        htb.write(&s, &k, &w, password_for(&w).as_ref())
            .await
            .expect("replay"),
        first
    );
    let other_password =
        AccountPassword(Password::new("Ander2026!y".to_string()).expect("valid password"));
    refused(
        htb.write(&s, &k, &w, Some(&other_password)).await,
        "idempotency_key_reused",
    );
    let k2 = key();
    refused(
        htb.write(&s, &k2, &user(901, "geheimproef1"), Some(&test_password()))
            .await,
        "username_taken",
    );
    htb.write(&s, &k2, &user(901, "geheimproef2"), Some(&test_password()))
        .await
        .expect("a refused write's key is decided again");
}

/// The paged listing of an enterprise's users is the snapshot's users, in order, page
/// by page; the session's view does not move while it pages (R1); bad pages are refused.
pub async fn paged_user_listing(env: &Env) {
    build_ready_tree(env).await;
    let k = kbo(READY);
    let htb = env.person(HTB_READY).await;
    let s = login(&*htb).await;
    for n in 0..7 {
        let user = new_user(
            generated_insz(n),
            &format!("lijstgebruiker{n}"),
            &[Function::Technologist],
            &[Application::Heracles],
        );
        write(
            &*htb,
            &s,
            Write::CreateUser {
                level: site("73000102"),
                user,
            },
        )
        .await
        .expect("user");
    }
    // A wrong-level user is listed too, on its own level (R4).
    write(
        &*htb,
        &s,
        create_user(
            UserLevel::Subdivision {
                hco: hco("73000100"),
            },
            U3,
            "gebruikerdrie",
        ),
    )
    .await
    .expect("wrong-level user");
    logout(&*htb, &s).await;

    let s = login(&*htb).await;
    let live = htb.snapshot(&s, &k).await.expect("snapshot");
    let all = UserPage::all_from_live(&live);
    assert_eq!(
        all.len(),
        10,
        "U1, U2, seven listed users and one wrong-level"
    );
    assert!(
        all.iter()
            .any(|u| matches!(u.level, UserLevel::Subdivision { .. }))
    );

    let mut listed = Vec::new();
    let mut page = PageRequest::first(3);
    let mut pages = 0;
    loop {
        let p = htb.list_users(&s, &k, &page).await.expect("page");
        assert!(p.users.len() <= 3);
        listed.extend(p.users);
        pages += 1;
        if pages == 1 {
            // Someone else's processed change after the first page changes nothing in
            // this session's listing.
            let s2 = login(&*htb).await;
            write(
                &*htb,
                &s2,
                create_user(site("73000201"), U4, "gebruikervier"),
            )
            .await
            .expect("user 4");
            logout(&*htb, &s2).await;
        }
        match p.next {
            Some(cursor) => page = PageRequest::after(cursor, 3),
            None => break,
        }
    }
    assert_eq!(pages, 4);
    assert_eq!(listed, all);
    let whole = htb
        .list_users(&s, &k, &PageRequest::first(PageRequest::MAX_LIMIT))
        .await
        .expect("one page");
    assert_eq!(whole.users, all);
    assert_eq!(whole.next, None);
    let fresh = login(&*htb).await;
    let after = htb
        .list_users(&fresh, &k, &PageRequest::default())
        .await
        .expect("default page");
    assert_eq!(
        after.users.len(),
        11,
        "a new session sees the processed user"
    );

    refused(
        htb.list_users(&s, &k, &PageRequest::first(0)).await,
        "invalid_request",
    );
    refused(
        htb.list_users(&s, &k, &PageRequest::first(PageRequest::MAX_LIMIT + 1))
            .await,
        "invalid_request",
    );
    refused(
        htb.list_users(&s, &k, &PageRequest::after("bogus", 3))
            .await,
        "invalid_request",
    );
    let stranger = env.person(STRANGER).await;
    let ss = login(&*stranger).await;
    refused(
        stranger.list_users(&ss, &k, &PageRequest::default()).await,
        "not_authorised",
    );
}

/// Sessions per person are limited.
pub async fn session_limit(env: &Env) {
    let htb = env.person(HTB_READY).await;
    let limit = htb.limits().await.expect("limits").sessions_per_person;
    let mut open = Vec::new();
    for _ in 0..limit {
        open.push(login(&*htb).await);
    }
    let err = htb.open_session().await.expect_err("over the limit");
    assert_eq!(err.code(), "too_many_sessions");
    assert!(err.is_retryable());
    assert_eq!(
        htb.list_sessions().await.expect("list").len(),
        limit as usize
    );
    logout(&*htb, &open[0]).await;
    login(&*htb).await;
}

/// A log-in repeated with the same key (its first answer lost) gets the same session
/// back and opens no other; another key opens another session.
pub async fn keyed_log_in(env: &Env) {
    let htb = env.person(HTB_READY).await;
    let key = IdempotencyKey::new("login-conformance-1").expect("key");
    let first = htb.open_session_keyed(&key).await.expect("log in");
    let again = htb.open_session_keyed(&key).await.expect("log in again");
    assert_eq!(again.id, first.id);
    assert_eq!(htb.list_sessions().await.expect("list").len(), 1);
    let other = htb
        .open_session_keyed(&IdempotencyKey::new("login-conformance-2").expect("key"))
        .await
        .expect("another log-in");
    assert_ne!(other.id, first.id);
    assert_eq!(htb.list_sessions().await.expect("list").len(), 2);
    // Once logged out, the key still names that session: nothing new is opened.
    logout(&*htb, &first.id).await;
    let late = htb.open_session_keyed(&key).await.expect("late repeat");
    assert_eq!(late.id, first.id);
    assert_eq!(htb.list_sessions().await.expect("list").len(), 1);
    // Keys are per person: another person's same key opens their own session.
    let other_person = env.person(HTB_UNRECOGNISED).await;
    let theirs = other_person
        .open_session_keyed(&key)
        .await
        .expect("their log-in");
    assert_ne!(theirs.id, first.id);
}

/// A held lease is taken over only when asked: the person's own with `own`, anyone's
/// with `any`; the old lease is gone.
pub async fn lease_take_over(env: &Env) {
    build_ready_tree(env).await;
    let k = kbo(READY);
    let htb = env.person(HTB_READY).await;
    let am = env.person(AM).await;
    let request = |holder: &str, take_over| LeaseRequest {
        ttl_ms: 10 * MINUTE,
        holder: holder.into(),
        renew: None,
        take_over,
    };
    let dead = htb
        .acquire_lease(&k, &request("apply (pid 1)", TakeOver::None))
        .await
        .expect("lease");
    // Another holder name of the same person: taken over only when asked.
    refused(
        htb.acquire_lease(&k, &request("apply (pid 2)", TakeOver::None))
            .await,
        "lease_held",
    );
    let mine = htb
        .acquire_lease(&k, &request("apply (pid 2)", TakeOver::Own))
        .await
        .expect("own lease taken over");
    assert_ne!(mine.id, dead.id);
    // Another person cannot take it as their own, only break it.
    refused(
        am.acquire_lease(&k, &request("am", TakeOver::Own)).await,
        "lease_held",
    );
    let broken = am
        .acquire_lease(&k, &request("am", TakeOver::Any))
        .await
        .expect("broken");
    assert_ne!(broken.id, mine.id);
    match htb
        .acquire_lease(&k, &request("apply (pid 2)", TakeOver::None))
        .await
    {
        Err(RegistryError::LeaseHeld { holder, .. }) => assert_eq!(holder, "am"),
        other => panic!("{other:?}"),
    }
    am.release_lease(&broken.id).await.expect("release");
}

/// Apply leases: one holder at a time, renewable, released, expiring.
pub async fn leases(env: &Env) {
    build_ready_tree(env).await;
    let k = kbo(READY);
    let htb = env.person(HTB_READY).await;
    let am = env.person(AM).await;
    let request = |holder: &str| LeaseRequest {
        ttl_ms: 10 * MINUTE,
        holder: holder.into(),
        ..LeaseRequest::default()
    };
    let lease = htb
        .acquire_lease(&k, &request("ci #1"))
        .await
        .expect("lease");
    let err = am
        .acquire_lease(&k, &request("ci #2"))
        .await
        .expect_err("held");
    assert_eq!(err.code(), "lease_held");
    assert!(err.is_retryable());
    // The refusal names the holder, as it described itself.
    match &err {
        RegistryError::LeaseHeld { holder, .. } => assert_eq!(holder, "ci #1"),
        other => panic!("{other:?}"),
    }
    // The same person and holder asking again (an answer lost on the way) gets the same
    // lease back; the same person under another holder name does not.
    let again = htb
        .acquire_lease(&k, &request("ci #1"))
        .await
        .expect("the same holder again");
    assert_eq!(again.id, lease.id);
    assert_eq!(
        htb.acquire_lease(&k, &request("ci #1b"))
            .await
            .expect_err("another holder")
            .code(),
        "lease_held"
    );
    let renewed = htb
        .acquire_lease(
            &k,
            &LeaseRequest {
                renew: Some(lease.id.clone()),
                ..request("ci #1")
            },
        )
        .await
        .expect("renew");
    assert_eq!(renewed.id, lease.id);
    refused(am.release_lease(&lease.id).await, "not_authorised");
    htb.release_lease(&lease.id).await.expect("release");
    let second = am
        .acquire_lease(&k, &request("ci #2"))
        .await
        .expect("free again");
    env.op.advance_clock(10 * MINUTE).await.expect("clock");
    let third = htb
        .acquire_lease(&k, &request("ci #3"))
        .await
        .expect("expired lease is free");
    assert_ne!(second.id, lease.id);
    // A run whose lease expired renews it under the old id and gets a new lease; when
    // that answer is lost, its next renewal still names the old id: the same holder
    // gets the lease it holds, so that it releases the right one at the end.
    env.op.advance_clock(10 * MINUTE).await.expect("clock");
    let renew_third = LeaseRequest {
        renew: Some(third.id.clone()),
        ..request("ci #3")
    };
    let taken_anew = htb.acquire_lease(&k, &renew_third).await.expect("renewed");
    assert_ne!(taken_anew.id, third.id, "an expired lease is taken anew");
    let again = htb
        .acquire_lease(&k, &renew_third)
        .await
        .expect("renewed under the old id");
    assert_eq!(again.id, taken_anew.id);
    htb.release_lease(&again.id).await.expect("release");
    let stranger = env.person(STRANGER).await;
    refused(
        stranger.acquire_lease(&k, &request("x")).await,
        "not_authorised",
    );
}

// ----- the authority matrix -----------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Htb,
    AccessManager,
    LocalAdministrator,
    SubdivisionAdministrator,
    SiteAdministrator,
    Stranger,
}

impl Role {
    const ALL: [Role; 6] = [
        Role::Htb,
        Role::AccessManager,
        Role::LocalAdministrator,
        Role::SubdivisionAdministrator,
        Role::SiteAdministrator,
        Role::Stranger,
    ];

    fn person(self) -> &'static str {
        match self {
            Role::Htb => HTB_READY,
            Role::AccessManager => AM,
            Role::LocalAdministrator => LB,
            Role::SubdivisionAdministrator => SUBADM,
            Role::SiteAdministrator => SITEADM,
            Role::Stranger => STRANGER,
        }
    }
}

/// Each role × each kind of write × in and out of scope: allowed exactly as
/// docs/rules.md's "Who may do what" says, refused with `not_authorised` otherwise.
pub async fn authority_matrix(env: &Env) {
    use Role::*;
    build_ready_tree(env).await;
    let k = kbo(READY);
    let cap = CapacityType::MammographyUnit;
    let mut fresh = 0u32;
    // (label, allowed roles, write factory)
    type Factory = Box<dyn Fn(u32) -> Write>;
    let cases: Vec<(&str, Vec<Role>, Factory)> = vec![
        (
            "add access manager (enterprise)",
            vec![Htb],
            Box::new(move |n| Write::AddAccessManager {
                kbo: k,
                access_manager: csamctl::model::AccessManager {
                    insz: generated_insz(n),
                    last_name: "NIEUW".into(),
                    first_name: "Test".into(),
                    email: email("tb@vooraf.example"),
                    domains: vec![],
                },
            }),
        ),
        (
            "update capacity",
            vec![Htb, AccessManager],
            Box::new(move |_| Write::UpdateCapacity {
                kbo: k,
                kind: cap,
                email: email("mammografie@proef.example"),
                local_administrator: Some(insz(LB)),
            }),
        ),
        (
            "set capacity active",
            vec![Htb, AccessManager],
            Box::new(move |_| Write::SetActive {
                target: WriteTarget::Capacity { kbo: k, kind: cap },
                active: true,
            }),
        ),
        (
            "user on the capacity level",
            vec![Htb, AccessManager, LocalAdministrator],
            Box::new(move |n| Write::CreateUser {
                level: UserLevel::Capacity { kbo: k, kind: cap },
                user: new_user(
                    generated_insz(n),
                    &format!("capuser{n:05}"),
                    &[],
                    &[Application::Heracles],
                ),
            }),
        ),
        (
            "update own subdivision 73000100",
            vec![
                Htb,
                AccessManager,
                LocalAdministrator,
                SubdivisionAdministrator,
            ],
            Box::new(|_| Write::UpdateSubdivision {
                hco: hco("73000100"),
                name: "Subafdeling 73000100".into(),
                email: email("sub@proef.example"),
                administrator: admin_account(SUBADM, "subbeheerder1"),
            }),
        ),
        (
            "update other subdivision 73000200",
            vec![Htb, AccessManager, LocalAdministrator],
            Box::new(|_| Write::SetApplications {
                target: WriteTarget::Subdivision {
                    hco: hco("73000200"),
                },
                applications: structure_apps(),
            }),
        ),
        (
            "site 73000101 itself",
            vec![
                Htb,
                AccessManager,
                LocalAdministrator,
                SubdivisionAdministrator,
            ],
            Box::new(|_| Write::SetActive {
                target: WriteTarget::Site {
                    hco: hco("73000101"),
                },
                active: true,
            }),
        ),
        (
            "users of own site 73000101",
            vec![
                Htb,
                AccessManager,
                LocalAdministrator,
                SubdivisionAdministrator,
                SiteAdministrator,
            ],
            Box::new(|n| Write::CreateUser {
                level: site("73000101"),
                user: new_user(
                    generated_insz(n),
                    &format!("siteuser{n:05}"),
                    &[],
                    &[Application::Heracles],
                ),
            }),
        ),
        (
            "functions on own site 73000101",
            vec![
                Htb,
                AccessManager,
                LocalAdministrator,
                SubdivisionAdministrator,
                SiteAdministrator,
            ],
            Box::new(|_| set_functions(site("73000101"), U1, &[Function::Technologist])),
        ),
        (
            "users of sibling site 73000102",
            vec![
                Htb,
                AccessManager,
                LocalAdministrator,
                SubdivisionAdministrator,
            ],
            Box::new(|n| Write::CreateUser {
                level: site("73000102"),
                user: new_user(
                    generated_insz(n),
                    &format!("sibuser{n:05}"),
                    &[],
                    &[Application::Heracles],
                ),
            }),
        ),
        (
            "users of other subdivision's site 73000201",
            vec![Htb, AccessManager, LocalAdministrator],
            Box::new(|_| Write::SetActive {
                target: WriteTarget::User {
                    level: site("73000201"),
                    insz: insz(U2),
                },
                active: true,
            }),
        ),
    ];
    let mut mismatches = Vec::new();
    for (label, allowed, factory) in &cases {
        for role in Role::ALL {
            fresh += 1;
            let r = env.person(role.person()).await;
            let s = login(&*r).await;
            let result = write(&*r, &s, factory(fresh)).await;
            let expected_ok = allowed.contains(&role);
            let ok = match &result {
                Ok(_) => true,
                Err(e) if e.code() == "not_authorised" => false,
                Err(e) => {
                    mismatches.push(format!("{label} / {role:?}: unexpected {} ({e})", e.code()));
                    continue;
                }
            };
            if ok != expected_ok {
                mismatches.push(format!(
                    "{label} / {role:?}: {} but expected {}",
                    if ok { "allowed" } else { "refused" },
                    if expected_ok { "allowed" } else { "refused" }
                ));
            }
            r.close_session(&s).await.expect("log out");
        }
    }
    assert!(
        mismatches.is_empty(),
        "authority mismatches:\n{}",
        mismatches.join("\n")
    );
    // Reads follow roles too: a stranger may not read the tree.
    let stranger = env.person(STRANGER).await;
    let s = login(&*stranger).await;
    refused(stranger.snapshot(&s, &k).await, "not_authorised");
    refused(
        stranger
            .evaluate_access(&insz(U1), Some(&hco("73000101")))
            .await,
        "not_authorised",
    );
    read_rows(env, &k).await;
}

/// Every user record a person can read of an enterprise, through the snapshot and
/// through the paged listing (which must agree), with the levels the snapshot says it
/// left out; `None` when the person may read nothing (403).
async fn readable(
    env: &Env,
    role: Role,
    k: &Kbo,
) -> Option<(BTreeSet<(UserLevel, Insz)>, Vec<UserLevel>)> {
    let r = env.person(role.person()).await;
    let s = login(&*r).await;
    let live = match r.snapshot(&s, k).await {
        Ok(live) => live,
        Err(e) => {
            assert_eq!(e.code(), "not_authorised", "{role:?}: {e}");
            refused(
                r.list_users(&s, k, &PageRequest::first(100)).await,
                "not_authorised",
            );
            logout(&*r, &s).await;
            return None;
        }
    };
    let from_snapshot: BTreeSet<(UserLevel, Insz)> = UserPage::all_from_live(&live)
        .into_iter()
        .map(|u| (u.level, u.user.insz))
        .collect();
    let mut listed = BTreeSet::new();
    let mut page = PageRequest::first(2);
    loop {
        let got = r.list_users(&s, k, &page).await.expect("list users");
        listed.extend(got.users.into_iter().map(|u| (u.level, u.user.insz)));
        match got.next {
            Some(cursor) => page = PageRequest::after(cursor, 2),
            None => break,
        }
    }
    assert_eq!(
        from_snapshot, listed,
        "{role:?}: snapshot and listing agree"
    );
    logout(&*r, &s).await;
    Some((from_snapshot, live.enterprise.unreadable_users))
}

/// The read rows of the matrix: the structure is readable with any role in the
/// enterprise, user records only within the reader's authority; the levels left out
/// are named, so that a planner does not take their users for missing.
async fn read_rows(env: &Env, k: &Kbo) {
    use Role::*;
    let cap = UserLevel::Capacity {
        kbo: *k,
        kind: CapacityType::MammographyUnit,
    };
    let sub = |h: &str| UserLevel::Subdivision { hco: hco(h) };
    let everything = vec![
        site("73000101"),
        site("73000102"),
        sub("73000100"),
        site("73000201"),
        sub("73000200"),
        cap.clone(),
    ];
    let mut mismatches = Vec::new();
    for role in Role::ALL {
        // (what may be read, U1 on 73000101 shown, U2 on 73000201 shown)
        let (readable_levels, u1, u2) = match role {
            Htb | AccessManager | LocalAdministrator => (everything.clone(), true, true),
            SubdivisionAdministrator => (
                vec![site("73000101"), site("73000102"), sub("73000100")],
                true,
                false,
            ),
            SiteAdministrator => (vec![site("73000101")], true, false),
            Stranger => (vec![], false, false),
        };
        let got = readable(env, role, k).await;
        let Some((users, unreadable)) = got else {
            if role != Stranger {
                mismatches.push(format!("{role:?}: refused, but has a role"));
            }
            continue;
        };
        if role == Stranger {
            mismatches.push(format!("{role:?}: read the enterprise without a role"));
            continue;
        }
        let expected_unreadable: Vec<UserLevel> = everything
            .iter()
            .filter(|l| !readable_levels.contains(l))
            .cloned()
            .collect();
        let unreadable_set: BTreeSet<&UserLevel> = unreadable.iter().collect();
        if unreadable_set != expected_unreadable.iter().collect::<BTreeSet<_>>() {
            mismatches.push(format!(
                "{role:?}: unreadable levels {unreadable:?}, expected {expected_unreadable:?}"
            ));
        }
        for (level, person) in &users {
            if !readable_levels.contains(level) {
                mismatches.push(format!("{role:?}: read {person} on {level}"));
            }
        }
        for (shown, person, level) in [(u1, U1, site("73000101")), (u2, U2, site("73000201"))] {
            if users.contains(&(level.clone(), insz(person))) != shown {
                mismatches.push(format!(
                    "{role:?}: {person} on {level} {}",
                    if shown { "missing" } else { "shown" }
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "read mismatches:\n{}",
        mismatches.join("\n")
    );
}

/// `GET /v1/me`: the registry says whose a token is, with the person's roles in every
/// enterprise (as processed now) and its own time; an unknown token is refused.
pub async fn whoami_names_the_token_person(env: &Env) {
    build_ready_tree(env).await;
    let me = |p: &'static str| async move {
        env.person(p).await.whoami().await.expect("whoami answers")
    };
    let htb = me(HTB_READY).await;
    assert_eq!(htb.person, insz(HTB_READY));
    let ready = htb.roles_in(&kbo(READY)).expect("a role in READY");
    assert!(ready.main_access_manager && !ready.access_manager);
    assert_eq!(ready.name, "ZIEKENHUIS VOORAF VZW");
    assert!(
        htb.roles_in(&kbo(UNRECOGNISED)).is_none(),
        "another enterprise's HTB is not this person"
    );
    let am = me(AM).await;
    let roles = am.roles_in(&kbo(READY)).expect("access manager");
    assert!(roles.access_manager && !roles.main_access_manager);
    assert_eq!(
        (am.last_name.as_deref(), am.first_name.as_deref()),
        (Some("TOEGANG"), Some("Test"))
    );
    let lb = me(LB).await;
    assert!(lb.roles_in(&kbo(READY)).expect("role").local_administrator);
    let sub = me(SUBADM).await;
    assert_eq!(
        sub.roles_in(&kbo(READY)).expect("role").subdivisions,
        vec![hco("73000100")]
    );
    let site_admin = me(SITEADM).await;
    assert_eq!(
        site_admin.roles_in(&kbo(READY)).expect("role").sites,
        vec![hco("73000101")]
    );
    // A user record is not a role; its names are still the person's.
    let user = me(U1).await;
    assert!(user.roles.is_empty(), "{:?}", user.roles);
    assert!(user.last_name.is_some());
    let stranger = me(STRANGER).await;
    assert_eq!(stranger.person, insz(STRANGER));
    assert!(stranger.roles.is_empty() && stranger.last_name.is_none());

    // A designation request makes both its parties known for that enterprise.
    let legal = env.person(LEGAL).await;
    let s = login(&*legal).await;
    write(
        &*legal,
        &s,
        Write::DesignateMainAccessManager {
            kbo: kbo(MULTI),
            main_access_manager: person_repr(HTB, "PROEF", "Pieter"),
            legal_representative: person_repr(LEGAL, "WETTIG", "Hilde"),
        },
    )
    .await
    .expect("designation requested");
    for p in [HTB, LEGAL] {
        let party = me(p).await;
        let multi = party.roles_in(&kbo(MULTI)).expect("a party to the request");
        assert!(
            multi.designation_party && !multi.main_access_manager,
            "{multi:?}"
        );
    }

    // The registry's time, not the caller's: it moves with the (virtual) clock.
    let before = me(STRANGER).await.now_ms;
    let after_advance = env.op.advance_clock(90_000).await.expect("clock");
    let after = me(STRANGER).await.now_ms;
    assert_eq!(after, after_advance);
    assert!(after - before >= 90_000, "{before} → {after}");

    // An unknown token is refused, on connecting or on asking.
    match env.op.connect("csam_not_a_token_of_this_registry").await {
        Err(e) => assert_eq!(e.code(), "not_authorised"),
        Ok(r) => refused(r.whoami().await, "not_authorised"),
    }
}

/// Removing an access manager or an administrator ends their authority at their next
/// request, in the sessions they opened before the removal too: writes and reads.
pub async fn revocation_is_immediate(env: &Env) {
    build_ready_tree(env).await;
    let k = kbo(READY);
    let am = env.person(AM).await;
    let am_session = login(&*am).await;
    let siteadm = env.person(SITEADM).await;
    let site_session = login(&*siteadm).await;
    let capacity_on = Write::SetActive {
        target: WriteTarget::Capacity {
            kbo: k,
            kind: CapacityType::MammographyUnit,
        },
        active: true,
    };
    // Both act in their open sessions.
    write(&*am, &am_session, capacity_on.clone())
        .await
        .expect("an access manager manages the capacity");
    assert!(siteadm.snapshot(&site_session, &k).await.is_ok());

    // The HTB removes the access manager and makes site 73000101 its own administrator.
    let htb = env.person(HTB_READY).await;
    in_session(
        &*htb,
        [
            Write::RemoveAccessManager {
                kbo: k,
                insz: insz(AM),
            },
            Write::UpdateSite {
                hco: hco("73000101"),
                name: "Site 73000101".into(),
                email: None,
                administrator: LiveAdministrator::Itself,
            },
        ],
    )
    .await;

    // Their sessions are still open, but their authority is gone.
    refused(
        write(&*am, &am_session, capacity_on).await,
        "not_authorised",
    );
    refused(am.snapshot(&am_session, &k).await, "not_authorised");
    refused(
        write(
            &*siteadm,
            &site_session,
            create_user(site("73000101"), U3, "gebruikerdrie"),
        )
        .await,
        "not_authorised",
    );
    refused(siteadm.snapshot(&site_session, &k).await, "not_authorised");
    refused(
        siteadm
            .list_users(&site_session, &k, &PageRequest::first(10))
            .await,
        "not_authorised",
    );
    // A new session is refused as well, and the HTB is unaffected.
    let again = login(&*am).await;
    refused(am.snapshot(&again, &k).await, "not_authorised");
    let s = login(&*htb).await;
    assert!(htb.snapshot(&s, &k).await.is_ok());
}

// ----- batches of writes --------------------------------------------------------------

/// The test access manager appointed in enterprise `k`.
pub fn add_test_access_manager(k: &str) -> Write {
    Write::AddAccessManager {
        kbo: kbo(k),
        access_manager: AccessManager {
            insz: insz(AM),
            last_name: "TOEGANG".into(),
            first_name: "Test".into(),
            email: email("tb@vooraf.example"),
            domains: vec![],
        },
    }
}

/// A batch item under a fresh key.
pub fn item(w: Write) -> BatchWrite {
    BatchWrite {
        idempotency_key: key(),
        password: password_for(&w),
        write: w,
    }
}

/// The codes of a batch's answers (`ok` for an acknowledged write).
pub fn codes(answers: &[Result<WriteReceipt, RegistryError>]) -> Vec<&'static str> {
    answers
        .iter()
        .map(|a| a.as_ref().map_or_else(RegistryError::code, |_| "ok"))
        .collect()
}

/// A batch is its writes sent one after another: each judged on its own in order (R2
/// and R3 within the batch, partial failure answered per write), each with its own
/// idempotency key (a repeated batch, a key sent alone or twice in one batch), and the
/// session sees none of them (R1) until it is processed.
pub async fn batched_writes(env: &Env) {
    build_ready_tree_without_sites(env).await;
    let htb = env.person(HTB_READY).await;
    let s = login(&*htb).await;
    let batch = vec![
        item(create_site(
            "73000100",
            "73000101",
            LiveAdministrator::Itself,
        )),
        // R2: the second site of the session, refused; the rest goes on.
        item(create_site(
            "73000100",
            "73000102",
            LiveAdministrator::Itself,
        )),
        item(activate_capacity(READY, None)),
        item(Write::SetActive {
            target: WriteTarget::Subdivision {
                hco: hco("73000100"),
            },
            active: false,
        }),
        item(create_user(
            UserLevel::Subdivision {
                hco: hco("73000100"),
            },
            U1,
            "gebruikereen",
        )),
        // R3: structure after a user of the same session.
        item(create_subdivision(
            READY,
            "73000200",
            LiveAdministrator::Itself,
        )),
        // R1: the site of this very session is not visible to it.
        item(create_user(site("73000101"), U2, "gebruikertwee")),
    ];
    let before = env.op.stats().await.expect("stats");
    let first = htb.write_batch(&s, &batch).await.expect("batch answered");
    assert_eq!(
        codes(&first),
        [
            "ok",
            "one_site_per_session",
            "conflict",
            "ok",
            "ok",
            "structure_after_users",
            "parent_not_visible"
        ]
    );
    let acknowledged = env.op.stats().await.expect("stats");
    assert_eq!(
        acknowledged.journal_entries - before.journal_entries,
        3,
        "only the acknowledged writes are journalled"
    );

    // The same batch again (a retry whose answer was lost): the acknowledged writes
    // answer with their first receipts and are not journalled again; the refused ones
    // are decided again (here the session has a user by now, so the second site is
    // refused by R3 before R2).
    let again = htb.write_batch(&s, &batch).await.expect("repeated batch");
    for (i, (a, f)) in again.iter().zip(&first).enumerate() {
        match f {
            Ok(_) => assert_eq!(a, f, "write {i}"),
            Err(_) => assert!(a.is_err(), "write {i} still refused"),
        }
    }
    assert_eq!(
        env.op.stats().await.expect("stats").journal_entries,
        acknowledged.journal_entries
    );
    // A key of a batch is the same key sent alone, and the other way round.
    let alone = htb
        .write(
            &s,
            &batch[3].idempotency_key,
            &batch[3].write,
            batch[3].password.as_ref(),
        )
        .await
        .expect("replayed alone");
    assert_eq!(Ok(alone), first[3]);
    let single_key = key();
    let capacity_on = Write::SetActive {
        target: WriteTarget::Capacity {
            kbo: kbo(READY),
            kind: CapacityType::MammographyUnit,
        },
        active: true,
    };
    let single = htb
        .write(&s, &single_key, &capacity_on, None)
        .await
        .expect("single write");
    let twice = BatchWrite {
        idempotency_key: single_key.clone(),
        write: capacity_on,
        password: None,
    };
    let reused = BatchWrite {
        idempotency_key: single_key,
        write: activate_capacity(READY, Some(LB)),
        password: None,
    };
    let answers = htb
        .write_batch(&s, &[twice.clone(), reused, twice])
        .await
        .expect("batch answered");
    assert_eq!(answers[0], Ok(single.clone()));
    refused(answers[1].clone(), "idempotency_key_reused");
    assert_eq!(answers[2], Ok(single));

    // R1 unchanged: the session sees none of its own writes; the next one, once this
    // one is processed, sees them all.
    let own = htb.snapshot(&s, &kbo(READY)).await.expect("snapshot");
    let subs = &own.enterprise.capacities[0].subdivisions;
    assert!(subs.iter().all(|sub| sub.sites.is_empty() && sub.active));
    logout(&*htb, &s).await;
    let s = login(&*htb).await;
    let live = htb.snapshot(&s, &kbo(READY)).await.expect("snapshot");
    let subs = &live.enterprise.capacities[0].subdivisions;
    assert_eq!(subs.len(), 1, "the refused subdivision was not created");
    assert_eq!(subs[0].sites.len(), 1);
    assert!(!subs[0].active);
    assert_eq!(subs[0].wrong_level_users.len(), 1);

    // A closed session: every write is refused as a single one would be, except those
    // acknowledged before, which answer with their first receipt.
    logout(&*htb, &s).await;
    let closed = htb
        .write_batch(
            &s,
            &[batch[0].clone(), item(activate_capacity(READY, None))],
        )
        .await
        .expect("batch answered");
    assert_eq!(closed[0], first[0]);
    refused(closed[1].clone(), "session_closed");

    // The request as a whole: 1 to the maximum number of writes.
    let s = login(&*htb).await;
    refused(htb.write_batch(&s, &[]).await, "invalid_request");
    let too_many: Vec<BatchWrite> = (0..=BatchRequest::MAX_WRITES)
        .map(|_| item(activate_capacity(READY, None)))
        .collect();
    refused(htb.write_batch(&s, &too_many).await, "invalid_request");
    logout(&*htb, &s).await;
}

/// Authority is judged per write: a batch of a person with a role in one enterprise
/// and none in another has the one acknowledged and the other refused.
pub async fn batch_authority_per_write(env: &Env) {
    let other = env.person(HTB_UNRECOGNISED).await;
    let s = login(&*other).await;
    let answers = other
        .write_batch(
            &s,
            &[
                item(add_test_access_manager(READY)),
                item(add_test_access_manager(UNRECOGNISED)),
                item(activate_capacity(UNRECOGNISED, None)),
            ],
        )
        .await
        .expect("batch answered");
    assert_eq!(
        codes(&answers),
        ["not_authorised", "ok", "capacity_not_recognised"]
    );
    logout(&*other, &s).await;
}
