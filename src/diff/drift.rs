//! Drift: what the CSAM web application really holds on one level (its users export,
//! "De gebruikers exporteren (.csv)") against what csamctl expects there — the local
//! registry's record, or the desired state.
//!
//! While CSAM has no API, changes are clicked by hand and the local registry is only as
//! true as the clicks it was told about. An export is the one view of the real system an
//! access manager can get, so comparing it is how a missed or extra click comes to
//! light. The comparison is per person: the export lists each account of the level once
//! (`USER`, or `LB`/`SB` for an administrator account), and a person may have both an
//! administrator account and a user record on the same level.
//!
//! Which administrators a level's listing shows is not fixed by the manual; its screens
//! show the capacity's local administrator (`LB`) on the capacity's and a subdivision's
//! list, and the administrator account (`SB`) on a site's list. So the level's own
//! administrator account is expected; the administrators of the levels above may be
//! listed and are never reported as extra; a person the level does not know at all is.
//!
//! Pure: uses `model` only.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{
    AccountType, Administrator, DesiredState, Enterprise, Insz, Kbo, LiveAdministrator,
    LiveEnterprise, User, UserLevel, Username, Write, WriteTarget,
};

/// One account of a level: a row of the export, or what csamctl expects to be one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Account {
    /// National register number.
    pub insz: Insz,
    /// The username, where known (a local administrator named only by INSZ has none
    /// here).
    pub username: Option<Username>,
    /// Family name.
    pub last_name: String,
    /// Given name.
    pub first_name: String,
    /// `USER`, `LB` or `SB`.
    pub kind: AccountType,
    /// Active or not (administrator accounts are active).
    pub active: bool,
}

/// What csamctl expects a level's export to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Expected {
    /// Accounts that must be listed.
    pub required: Vec<Account>,
    /// Administrators of the levels above, which the listing may show.
    pub tolerated: Vec<Account>,
}

/// How one account differs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "drift", rename_all = "snake_case")]
pub(crate) enum DriftKind {
    /// Expected, not in the export: CSAM does not have it.
    Missing,
    /// In the export, not expected: CSAM has an account csamctl does not know.
    Extra,
    /// Both have the person, with other usernames.
    Username {
        /// The export's.
        listed: Username,
        /// csamctl's.
        expected: Username,
    },
    /// Both have the account; one says active, the other not.
    Status {
        /// The export's.
        listed: bool,
        /// csamctl's.
        expected: bool,
    },
    /// The person has an account of another type (`USER` against `SB`, …).
    Level {
        /// The export's.
        listed: AccountType,
        /// csamctl's.
        expected: AccountType,
    },
}

/// One difference, with the account it is about (the export's row where there is one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Drift {
    /// The account.
    pub account: Account,
    /// How it differs.
    #[serde(flatten)]
    pub kind: DriftKind,
}

impl Account {
    /// A user record of the registry.
    pub(crate) fn of_live_user(user: &User) -> Account {
        Account {
            insz: user.insz,
            username: Some(user.username.clone()),
            last_name: user.details.last_name.clone(),
            first_name: user.details.first_name.clone(),
            kind: AccountType::User,
            active: user.active,
        }
    }

    fn of_live_administrator(admin: &LiveAdministrator, kind: AccountType) -> Option<Account> {
        match admin {
            LiveAdministrator::Itself => None,
            LiveAdministrator::Person { insz } => Some(Account::named_only(*insz, kind)),
            LiveAdministrator::Account {
                username,
                insz,
                last_name,
                first_name,
                ..
            } => Some(Account {
                insz: *insz,
                username: Some(username.clone()),
                last_name: last_name.clone(),
                first_name: first_name.clone(),
                kind,
                active: true,
            }),
        }
    }

    fn of_administrator(admin: &Administrator, kind: AccountType) -> Option<Account> {
        match admin {
            Administrator::Itself => None,
            Administrator::Person(insz) => Some(Account::named_only(*insz, kind)),
            Administrator::Account(a) => Some(Account {
                insz: a.insz,
                username: Some(a.username.clone()),
                last_name: a.last_name.clone(),
                first_name: a.first_name.clone(),
                kind,
                active: true,
            }),
        }
    }

    fn named_only(insz: Insz, kind: AccountType) -> Account {
        Account {
            insz,
            username: None,
            last_name: String::new(),
            first_name: String::new(),
            kind,
            active: true,
        }
    }
}

/// The registry's accounts on `level`, or `None` when the enterprise has no such level.
pub(crate) fn expected_live(live: &LiveEnterprise, level: &UserLevel) -> Option<Expected> {
    let mut expected = Expected::default();
    let users = |users: &[User]| users.iter().map(Account::of_live_user).collect::<Vec<_>>();
    for capacity in &live.capacities {
        let lb = Account::of_live_administrator(
            &capacity.local_administrator,
            AccountType::LocalAdministrator,
        );
        match level {
            UserLevel::Capacity { kind, .. } if *kind == capacity.kind => {
                expected.required.extend(lb);
                expected.required.extend(users(&capacity.wrong_level_users));
                return Some(expected);
            }
            UserLevel::Capacity { .. } => continue,
            _ => {}
        }
        for sub in &capacity.subdivisions {
            let sb = Account::of_live_administrator(
                &sub.administrator,
                AccountType::SubdivisionAdministrator,
            );
            if matches!(level, UserLevel::Subdivision { hco } if *hco == sub.hco) {
                expected.required.extend(sb);
                expected.required.extend(users(&sub.wrong_level_users));
                expected.tolerated.extend(lb);
                return Some(expected);
            }
            for site in &sub.sites {
                if matches!(level, UserLevel::Site { hco } if *hco == site.hco) {
                    expected.required.extend(Account::of_live_administrator(
                        &site.administrator,
                        AccountType::SubdivisionAdministrator,
                    ));
                    expected.required.extend(users(&site.users));
                    expected.tolerated.extend(sb);
                    expected.tolerated.extend(lb);
                    return Some(expected);
                }
            }
        }
    }
    None
}

/// The desired state's accounts on `level`, or `None` when it declares no such level.
/// The desired state declares users on sites only (R4): on a capacity or subdivision
/// only its administrator is expected.
pub(crate) fn expected_desired(enterprise: &Enterprise, level: &UserLevel) -> Option<Expected> {
    let mut expected = Expected::default();
    for capacity in &enterprise.capacities {
        let lb = Account::of_administrator(
            &capacity.local_administrator,
            AccountType::LocalAdministrator,
        );
        match level {
            UserLevel::Capacity { kind, .. } if *kind == capacity.kind => {
                expected.required.extend(lb);
                return Some(expected);
            }
            UserLevel::Capacity { .. } => continue,
            _ => {}
        }
        for sub in &capacity.subdivisions {
            let sb = Account::of_administrator(
                &sub.administrator,
                AccountType::SubdivisionAdministrator,
            );
            if matches!(level, UserLevel::Subdivision { hco } if *hco == sub.hco) {
                expected.required.extend(sb);
                expected.tolerated.extend(lb);
                return Some(expected);
            }
            for site in &sub.sites {
                if !matches!(level, UserLevel::Site { hco } if *hco == site.hco) {
                    continue;
                }
                expected.required.extend(Account::of_administrator(
                    &site.administrator,
                    AccountType::SubdivisionAdministrator,
                ));
                expected.required.extend(
                    capacity
                        .people
                        .iter()
                        .filter(|p| p.sites.contains_key(&site.hco))
                        .map(|p| Account {
                            insz: p.insz,
                            username: Some(p.username.clone()),
                            last_name: p.details.last_name.clone(),
                            first_name: p.details.first_name.clone(),
                            kind: AccountType::User,
                            active: p.active,
                        }),
                );
                expected.tolerated.extend(sb);
                expected.tolerated.extend(lb);
                return Some(expected);
            }
        }
    }
    None
}

/// Every difference between the export's accounts and the expected ones, ordered by
/// INSZ, then by how they differ. Accounts are paired per person: first those of the
/// same type; one left on each side is a difference of type; the rest are missing or
/// extra.
pub(crate) fn compare(listed: &[Account], expected: &Expected) -> Vec<Drift> {
    let mut people: BTreeMap<Insz, (Vec<&Account>, Vec<&Account>)> = BTreeMap::new();
    for a in listed {
        people.entry(a.insz).or_default().0.push(a);
    }
    for a in &expected.required {
        people.entry(a.insz).or_default().1.push(a);
    }
    let mut drift = Vec::new();
    for (insz, (mut ours, mut theirs)) in people {
        // Same type first.
        ours.retain(|l| match theirs.iter().position(|e| e.kind == l.kind) {
            Some(i) => {
                let e = theirs.remove(i);
                drift.extend(details(l, e));
                false
            }
            None => true,
        });
        if let ([l], [e]) = (ours.as_slice(), theirs.as_slice()) {
            drift.push(Drift {
                account: (*l).clone(),
                kind: DriftKind::Level {
                    listed: l.kind,
                    expected: e.kind,
                },
            });
            drift.extend(details(l, e));
            continue;
        }
        let tolerated = |l: &Account| {
            l.kind != AccountType::User
                && expected
                    .tolerated
                    .iter()
                    .any(|t| t.insz == insz && t.kind == l.kind)
        };
        drift.extend(ours.into_iter().filter(|l| !tolerated(l)).map(|l| Drift {
            account: l.clone(),
            kind: DriftKind::Extra,
        }));
        drift.extend(theirs.into_iter().map(|e| Drift {
            account: e.clone(),
            kind: DriftKind::Missing,
        }));
    }
    drift
}

/// The differences of two accounts of one person: username and status.
fn details(listed: &Account, expected: &Account) -> Vec<Drift> {
    let mut drift = Vec::new();
    if let (Some(l), Some(e)) = (&listed.username, &expected.username)
        && l != e
    {
        drift.push(Drift {
            account: listed.clone(),
            kind: DriftKind::Username {
                listed: l.clone(),
                expected: e.clone(),
            },
        });
    }
    if listed.active != expected.active {
        drift.push(Drift {
            account: listed.clone(),
            kind: DriftKind::Status {
                listed: listed.active,
                expected: expected.active,
            },
        });
    }
    drift
}

/// Both comparisons of one level's export: with the registry's record and, when a
/// desired state is given, with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DriftReport {
    /// The level the export is of.
    pub level: UserLevel,
    /// False when the registry has no such level yet (every listed account is extra).
    pub level_recorded: bool,
    /// The export against the registry's record.
    pub registry: Vec<Drift>,
    /// The export against the desired state, when one was given.
    pub desired: Option<Vec<Drift>>,
}

impl DriftReport {
    /// True when either comparison found a difference.
    pub(crate) fn has_drift(&self) -> bool {
        !self.registry.is_empty() || self.desired.as_ref().is_some_and(|d| !d.is_empty())
    }
}

/// The desired state was given but declares no such level.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the desired state declares no {level} in enterprise {kbo}", level = level_words(.level))]
pub(crate) struct LevelNotDeclared {
    /// The level.
    pub level: UserLevel,
    /// The enterprise.
    pub kbo: Kbo,
}

/// Compares the accounts an export of `level` lists with the registry's record of the
/// enterprise and, when given, with the desired state's declaration of it. A level the
/// registry does not have yet (a unit being adopted) expects nothing.
pub(crate) fn report(
    level: UserLevel,
    listed: &[Account],
    live: &LiveEnterprise,
    desired: Option<&DesiredState>,
) -> Result<DriftReport, LevelNotDeclared> {
    let in_registry = expected_live(live, &level);
    let level_recorded = in_registry.is_some();
    let desired = match desired {
        None => None,
        Some(state) => {
            let expected = state
                .enterprises
                .iter()
                .find(|e| e.kbo == live.kbo)
                .and_then(|e| expected_desired(e, &level))
                .ok_or_else(|| LevelNotDeclared {
                    level: level.clone(),
                    kbo: live.kbo,
                })?;
            Some(compare(listed, &expected))
        }
    };
    Ok(DriftReport {
        registry: compare(listed, &in_registry.unwrap_or_default()),
        level_recorded,
        desired,
        level,
    })
}

/// A level in words: `mammography-unit capacity`, `subdivision 71977100`, `site 71977101`.
pub(crate) fn level_words(level: &UserLevel) -> String {
    match level {
        UserLevel::Capacity { .. } => "mammography-unit capacity".to_string(),
        UserLevel::Subdivision { hco } => format!("subdivision {hco}"),
        UserLevel::Site { hco } => format!("site {hco}"),
    }
}

/// How the registry can record what an export shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Recording {
    /// A registry write (a user record CSAM does not have is deleted, a status set).
    Write(Box<Write>),
    /// An account CSAM holds (reference data: a user record for the person then needs
    /// no initial password).
    Account {
        /// The person.
        insz: Insz,
        /// The account's username.
        username: Username,
    },
}

impl Drift {
    /// How the registry records this difference of the registry's record on `level`, or
    /// why it cannot: usernames and account types never change, an administrator
    /// account is recorded with its level, and an export row without a username names
    /// no account.
    pub(crate) fn recording(&self, level: &UserLevel) -> Result<Recording, &'static str> {
        let insz = self.account.insz;
        match &self.kind {
            DriftKind::Extra => match &self.account.username {
                Some(username) => Ok(Recording::Account {
                    insz,
                    username: username.clone(),
                }),
                None => Err("the export names no username"),
            },
            DriftKind::Username { .. } => Err("usernames never change"),
            DriftKind::Level { .. } => Err("the type of an account cannot change"),
            _ if self.account.kind != AccountType::User => {
                Err("administrator accounts are recorded with their level")
            }
            DriftKind::Missing => Ok(Recording::Write(Box::new(Write::DeleteUser {
                level: level.clone(),
                insz,
            }))),
            DriftKind::Status { listed, .. } => Ok(Recording::Write(Box::new(Write::SetActive {
                target: WriteTarget::User {
                    level: level.clone(),
                    insz,
                },
                active: *listed,
            }))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(insz: &str, username: &str, kind: AccountType, active: bool) -> Account {
        Account {
            insz: Insz::parse(insz).expect("valid INSZ"),
            username: Some(Username::parse(username).expect("valid username")),
            last_name: "PEETERS".into(),
            first_name: "An".into(),
            kind,
            active,
        }
    }

    const A: &str = "85073003328";
    const B: &str = "68082130564";

    #[test]
    fn the_same_accounts_do_not_drift() {
        let a = account(A, "anpeeters", AccountType::User, true);
        let expected = Expected {
            required: vec![a.clone()],
            tolerated: vec![],
        };
        assert_eq!(compare(&[a], &expected), vec![]);
    }

    #[test]
    fn each_kind_of_drift_is_found() {
        let listed = vec![
            account(A, "anpeeters2", AccountType::User, false),
            account(
                B,
                "koenverhaeghe",
                AccountType::SubdivisionAdministrator,
                true,
            ),
        ];
        let expected = Expected {
            required: vec![
                account(A, "anpeeters", AccountType::User, true),
                account(B, "koenverhaeghe", AccountType::User, true),
            ],
            tolerated: vec![],
        };
        let kinds: Vec<DriftKind> = compare(&listed, &expected)
            .into_iter()
            .map(|d| d.kind)
            .collect();
        assert_eq!(
            kinds,
            vec![
                DriftKind::Level {
                    listed: AccountType::SubdivisionAdministrator,
                    expected: AccountType::User
                },
                DriftKind::Username {
                    listed: Username::parse("anpeeters2").expect("valid"),
                    expected: Username::parse("anpeeters").expect("valid"),
                },
                DriftKind::Status {
                    listed: false,
                    expected: true
                },
            ]
        );
    }

    #[test]
    fn missing_and_extra_and_tolerated_administrators() {
        let lb = account(B, "koenverhaeghe", AccountType::LocalAdministrator, true);
        let listed = vec![lb.clone(), account(A, "anpeeters", AccountType::User, true)];
        let expected = Expected {
            required: vec![account(
                "90020199704",
                "sofiewillems",
                AccountType::User,
                true,
            )],
            tolerated: vec![lb],
        };
        let kinds: Vec<(Insz, DriftKind)> = compare(&listed, &expected)
            .into_iter()
            .map(|d| (d.account.insz, d.kind))
            .collect();
        let insz = |s: &str| Insz::parse(s).expect("valid INSZ");
        assert_eq!(
            kinds,
            vec![
                (insz(A), DriftKind::Extra),
                (insz("90020199704"), DriftKind::Missing),
            ]
        );
    }

    #[test]
    fn an_administrator_who_is_also_a_user_is_two_accounts() {
        let user = account(A, "anpeeters", AccountType::User, true);
        let sb = account(A, "anpeeters", AccountType::SubdivisionAdministrator, true);
        let expected = Expected {
            required: vec![user.clone(), sb.clone()],
            tolerated: vec![],
        };
        assert_eq!(compare(&[sb, user.clone()], &expected), vec![]);
        let only_user = compare(&[user], &expected);
        assert_eq!(only_user.len(), 1);
        assert_eq!(only_user[0].kind, DriftKind::Missing);
        assert_eq!(
            only_user[0].account.kind,
            AccountType::SubdivisionAdministrator
        );
    }
}
