//! What a level keeps of a user record, kept small.
//!
//! A national fleet's world holds hundreds of thousands of user records, each with
//! every version its sessions wrote (typically two: the user created without functions,
//! then its functions set). Opening a registry materialises them all from the checkpoint,
//! and that cost is in the number of heap objects more than in decoding: so the details
//! (names, e-mail addresses) are shared by the versions that did not change them, and
//! the applications and functions, sets from closed vocabularies of four values, are
//! bits, serialised as the sets they stand for would be (the list of their members in
//! order). The per-person list of levels is a short sorted list.
//!
//! Depends on `model` only.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::{
    Application, Applications, CapacityType, Function, Hco, Insz, Kbo, User, UserDetails,
    UserLevel, Username,
};

/// What a level keeps of a [`User`]: the user without its keys (the level and the INSZ
/// key the map, the username is the person's account's, kept once in `accounts`). Its
/// serde form is the checkpoint's, the details nested: no `flatten`, which would make
/// every checkpoint read buffer each record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct UserRec {
    #[serde(with = "shared")]
    pub(super) details: Arc<UserDetails>,
    pub(super) active: bool,
    pub(super) applications: Bits<Application>,
    pub(super) functions: Bits<Function>,
}

impl UserRec {
    /// The record a new user leaves on its level.
    pub(super) fn of(user: &User) -> Self {
        UserRec {
            details: Arc::new(user.details.clone()),
            active: user.active,
            applications: Bits::of(&user.applications),
            functions: Bits::of(&user.functions),
        }
    }

    /// The user this record is, with its keys.
    pub(super) fn user(&self, insz: Insz, username: Username) -> User {
        User {
            insz,
            username,
            details: UserDetails::clone(&self.details),
            active: self.active,
            applications: self.applications.set(),
            functions: self.functions.set(),
        }
    }

    /// Changes the record's applications and activity as `f` changes a set and a flag.
    pub(super) fn modify_applications(&mut self, f: impl FnOnce(&mut Applications, &mut bool)) {
        let mut applications = self.applications.set();
        f(&mut applications, &mut self.active);
        self.applications = Bits::of(&applications);
    }
}

/// A vocabulary small enough for a [`Bits`] set: every value, in order.
pub(super) trait Vocabulary: Copy + Ord + 'static {
    /// Every value, in the order of `Ord`.
    const ALL: &'static [Self];
}

impl Vocabulary for Function {
    const ALL: &'static [Self] = Function::ALL;
}

impl Vocabulary for Application {
    const ALL: &'static [Self] = Application::ALL;
}

/// A set of values of a [`Vocabulary`] (of at most 8 values): bit `i` holds `ALL[i]`.
pub(super) struct Bits<T> {
    bits: u8,
    of: PhantomData<T>,
}

impl<T: Vocabulary> Bits<T> {
    fn bit(value: &T) -> u8 {
        let i = T::ALL.iter().position(|v| v == value).unwrap_or(0);
        1 << i
    }

    /// The set of these values.
    pub(super) fn of<'a>(values: impl IntoIterator<Item = &'a T>) -> Self {
        Bits {
            bits: values.into_iter().fold(0, |bits, v| bits | Self::bit(v)),
            of: PhantomData,
        }
    }

    pub(super) fn contains(&self, value: &T) -> bool {
        self.bits & Self::bit(value) != 0
    }

    pub(super) fn is_empty(&self) -> bool {
        self.bits == 0
    }

    /// The members in order.
    pub(super) fn iter(&self) -> impl Iterator<Item = T> + '_ {
        T::ALL
            .iter()
            .enumerate()
            .filter(|(i, _)| self.bits & (1 << i) != 0)
            .map(|(_, v)| *v)
    }

    /// The members as the set the model uses. Inserted one by one: collecting would
    /// gather them in a vector first, an allocation more for each of the hundreds of
    /// thousands of records a fleet's plan reads.
    pub(super) fn set(&self) -> BTreeSet<T> {
        let mut set = BTreeSet::new();
        for value in self.iter() {
            set.insert(value);
        }
        set
    }
}

// By hand: derived, these would ask `T` for the traits too.
impl<T> Clone for Bits<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Bits<T> {}

impl<T> PartialEq for Bits<T> {
    fn eq(&self, other: &Self) -> bool {
        self.bits == other.bits
    }
}

impl<T: Vocabulary + fmt::Debug> fmt::Debug for Bits<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl<T: Vocabulary + Serialize> Serialize for Bits<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de, T: Vocabulary + Deserialize<'de>> Deserialize<'de> for Bits<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members<T>(PhantomData<T>);
        impl<'de, T: Vocabulary + Deserialize<'de>> serde::de::Visitor<'de> for Members<T> {
            type Value = Bits<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of values")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Bits<T>, A::Error> {
                let mut bits = Bits::of(&[]);
                while let Some(value) = seq.next_element::<T>()? {
                    bits.bits |= Bits::bit(&value);
                }
                Ok(bits)
            }
        }
        d.deserialize_seq(Members(PhantomData))
    }
}

/// The serde form of shared details: that of [`UserDetails`]. Reading, details equal to
/// the last ones this thread read are shared rather than copied: the versions of one
/// record come one after another in a checkpoint, and most repeat their details.
mod shared {
    use std::borrow::Cow;

    use serde::de::Error as _;

    use super::*;
    use crate::model::{Email, Language};

    thread_local! {
        static LAST: RefCell<Option<Arc<UserDetails>>> = const { RefCell::new(None) };
    }

    pub(super) fn serialize<S: Serializer>(d: &Arc<UserDetails>, s: S) -> Result<S::Ok, S::Error> {
        UserDetails::serialize(d, s)
    }

    /// [`UserDetails`] as read, its text where the format has it.
    #[derive(Deserialize)]
    #[serde(rename = "UserDetails")]
    struct Read<'a> {
        #[serde(borrow)]
        last_name: Cow<'a, str>,
        #[serde(borrow)]
        first_name: Cow<'a, str>,
        #[serde(borrow)]
        title: Option<Cow<'a, str>>,
        language: Language,
        #[serde(borrow)]
        email: Cow<'a, str>,
        #[serde(borrow)]
        local_email: Option<Cow<'a, str>>,
    }

    impl Read<'_> {
        fn is(&self, d: &UserDetails) -> bool {
            self.last_name == d.last_name
                && self.first_name == d.first_name
                && self.title.as_deref() == d.title.as_deref()
                && self.language == d.language
                && self.email == d.email.as_str()
                && self.local_email.as_deref() == d.local_email.as_ref().map(Email::as_str)
        }

        fn details(self) -> Result<UserDetails, crate::model::EmailError> {
            Ok(UserDetails {
                last_name: self.last_name.into_owned(),
                first_name: self.first_name.into_owned(),
                title: self.title.map(Cow::into_owned),
                language: self.language,
                email: Email::parse(&self.email)?,
                local_email: self.local_email.as_deref().map(Email::parse).transpose()?,
            })
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Arc<UserDetails>, D::Error> {
        let read = Read::deserialize(d)?;
        LAST.with_borrow_mut(|last| {
            if let Some(last) = last.as_ref().filter(|last| read.is(last)) {
                return Ok(Arc::clone(last));
            }
            let details = Arc::new(read.details().map_err(D::Error::custom)?);
            *last = Some(Arc::clone(&details));
            Ok(details)
        })
    }
}

/// The levels a person has a user record on, in order: a short list (one or two levels
/// for most people) rather than a tree node sized for eleven.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Levels(Vec<UserLevel>);

impl Levels {
    pub(super) fn insert(&mut self, level: UserLevel) {
        if let Err(i) = self.0.binary_search(&level) {
            self.0.insert(i, level);
        }
    }
}

impl<'a> IntoIterator for &'a Levels {
    type Item = &'a UserLevel;
    type IntoIter = std::slice::Iter<'a, UserLevel>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// A level as [`Levels`] writes it: an externally tagged enum, which MessagePack reads
/// as it comes. The model's `UserLevel` is internally tagged (the contract's form), which
/// serde can only read by buffering each value first; a checkpoint holds one or two
/// levels for each of hundreds of thousands of people.
#[derive(Serialize)]
enum LevelRef<'a> {
    Capacity(&'a Kbo, &'a CapacityType),
    Subdivision(&'a Hco),
    Site(&'a Hco),
}

#[derive(Deserialize)]
enum Level {
    Capacity(Kbo, CapacityType),
    Subdivision(Hco),
    Site(Hco),
}

/// The levels in order, each a [`LevelRef`].
impl Serialize for Levels {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|level| match level {
            UserLevel::Capacity { kbo, kind } => LevelRef::Capacity(kbo, kind),
            UserLevel::Subdivision { hco } => LevelRef::Subdivision(hco),
            UserLevel::Site { hco } => LevelRef::Site(hco),
        }))
    }
}

impl<'de> Deserialize<'de> for Levels {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut levels: Vec<UserLevel> = Vec::<Level>::deserialize(d)?
            .into_iter()
            .map(|level| match level {
                Level::Capacity(kbo, kind) => UserLevel::Capacity { kbo, kind },
                Level::Subdivision(hco) => UserLevel::Subdivision { hco },
                Level::Site(hco) => UserLevel::Site { hco },
            })
            .collect();
        levels.sort_unstable();
        levels.dedup();
        Ok(Levels(levels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Email, Language};

    fn details(last_name: &str) -> UserDetails {
        UserDetails {
            last_name: last_name.into(),
            first_name: "An".into(),
            title: Some("dr.".into()),
            language: Language::French,
            email: Email::parse("an@example.org").expect("e-mail"),
            local_email: Some(Email::parse("an@local.example.org").expect("e-mail")),
        }
    }

    #[test]
    fn bits_are_the_sets_they_stand_for() {
        for n in 0..16u8 {
            let set: BTreeSet<Function> = Function::ALL
                .iter()
                .enumerate()
                .filter(|(i, _)| n & (1 << i) != 0)
                .map(|(_, f)| *f)
                .collect();
            let bits = Bits::of(&set);
            assert_eq!(bits.set(), set);
            assert_eq!(bits.is_empty(), set.is_empty());
            for f in Function::ALL {
                assert_eq!(bits.contains(f), set.contains(f));
            }
            let json = serde_json::to_string(&bits).expect("json");
            assert_eq!(json, serde_json::to_string(&set).expect("json"));
            let back: Bits<Function> = serde_json::from_str(&json).expect("read");
            assert_eq!(back, bits);
            let packed = rmp_serde::to_vec(&bits).expect("msgpack");
            assert_eq!(packed, rmp_serde::to_vec(&set).expect("msgpack"));
        }
    }

    #[test]
    fn levels_are_a_set_in_order() {
        let site = |hco: &str| UserLevel::Site {
            hco: Hco::parse(hco).expect("hco"),
        };
        let mut levels = Levels::default();
        for hco in ["70000002", "70000001", "70000002"] {
            levels.insert(site(hco));
        }
        let set: BTreeSet<UserLevel> = [site("70000001"), site("70000002")].into();
        assert_eq!(
            levels.into_iter().collect::<Vec<_>>(),
            set.iter().collect::<Vec<_>>()
        );
        levels.insert(UserLevel::Capacity {
            kbo: Kbo::parse("0403.170.701").expect("kbo"),
            kind: CapacityType::MammographyUnit,
        });
        levels.insert(UserLevel::Subdivision {
            hco: Hco::parse("70000003").expect("hco"),
        });
        let bytes = rmp_serde::to_vec(&levels).expect("msgpack");
        let back: Levels = rmp_serde::from_slice(&bytes).expect("read");
        assert_eq!(back, levels);
        assert_eq!(back.0.len(), 4);
    }

    #[test]
    fn versions_with_the_same_details_share_them_when_read() {
        let rec = |d: UserDetails, functions: &[Function]| UserRec {
            details: Arc::new(d),
            active: true,
            applications: Bits::of(&[Application::Heracles]),
            functions: Bits::of(functions),
        };
        let written = vec![
            rec(details("Peeters"), &[]),
            rec(details("Peeters"), &[Function::Radiologist]),
            rec(details("Janssens"), &[Function::Radiologist]),
        ];
        let bytes = rmp_serde::to_vec(&written).expect("msgpack");
        let read: Vec<UserRec> = rmp_serde::from_slice(&bytes).expect("read");
        assert_eq!(read, written);
        assert!(Arc::ptr_eq(&read[0].details, &read[1].details));
        assert!(!Arc::ptr_eq(&read[1].details, &read[2].details));
        let json = serde_json::to_value(&read).expect("json");
        assert_eq!(json, serde_json::to_value(&written).expect("json"));
        assert_eq!(
            json[0]["details"],
            serde_json::to_value(details("Peeters")).expect("json")
        );
    }
}
