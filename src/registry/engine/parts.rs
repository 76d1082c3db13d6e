//! The world cut into parts that serialise on their own, for checkpoints.
//!
//! Nearly all of a large world is user records (a national fleet holds hundreds of
//! thousands) and the per-person indexes beside them. A checkpoint written as one value
//! is decoded by one thread and built in one buffer; cut into parts, it is decoded on
//! every core and written part by part. Cutting and joining only move the world's maps,
//! they copy nothing: [`World::in_parts`] takes the big tables out for a while (the
//! world keeps the rest, which serialises as a world with empty tables), and
//! [`World::join`] puts decoded parts into a decoded rest.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::{Levels, UserRec, Versioned, World, pairs};
use crate::model::{Insz, UserLevel, Username};

type UserTable = BTreeMap<UserLevel, BTreeMap<Insz, Versioned<UserRec>>>;

/// One table, or a share of the user records, of a [`World`] (see [`World::in_parts`]).
#[derive(Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct WorldPart(Part);

#[derive(Debug, Serialize, Deserialize)]
enum Part {
    /// Some of the user levels with their user records.
    Users(#[serde(with = "pairs")] UserTable),
    /// The levels each person has a user record on.
    LevelsOf(#[serde(deserialize_with = "sized")] HashMap<Insz, Levels>),
    /// Each person's account.
    Accounts(#[serde(deserialize_with = "sized")] HashMap<Insz, Username>),
    /// The owner of each username.
    Usernames(#[serde(deserialize_with = "sized")] HashMap<Username, Insz>),
}

/// At most this many entries are made room for before a map is read (a corrupt length
/// must not ask for all memory).
const MAX_ROOM: usize = 1 << 22;

/// A map read into room for all its entries at once. serde's own reading grows it from
/// at most a megabyte's worth, rehashing every entry at each step: an index holds an
/// entry per person, a hundred thousand for a national fleet.
fn sized<'de, D, K, V>(d: D) -> Result<HashMap<K, V>, D::Error>
where
    D: serde::Deserializer<'de>,
    K: Deserialize<'de> + Eq + std::hash::Hash,
    V: Deserialize<'de>,
{
    struct Entries<K, V>(std::marker::PhantomData<(K, V)>);
    impl<'de, K, V> serde::de::Visitor<'de> for Entries<K, V>
    where
        K: Deserialize<'de> + Eq + std::hash::Hash,
        V: Deserialize<'de>,
    {
        type Value = HashMap<K, V>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a map")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = HashMap::with_capacity(map.size_hint().unwrap_or(0).min(MAX_ROOM));
            while let Some((k, v)) = map.next_entry()? {
                out.insert(k, v);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Entries(std::marker::PhantomData))
}

/// Parts that are not those one world was cut into.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("the checkpoint's parts are not those of one world")]
pub(crate) struct PartsMismatch;

impl World {
    /// Calls `f` with the world cut in parts: the rest of the world (its big tables
    /// empty), and the user records (in about `user_parts` parts of similar size) and
    /// per-person indexes (a part each). The world is whole again when it returns.
    pub(crate) fn in_parts<R>(
        &mut self,
        user_parts: usize,
        f: impl FnOnce(&World, &[WorldPart]) -> R,
    ) -> R {
        let parts = self.cut(user_parts);
        let result = f(self, &parts);
        self.put_back(parts);
        result
    }

    fn cut(&mut self, user_parts: usize) -> Vec<WorldPart> {
        let users = std::mem::take(&mut self.users);
        let records: usize = users.values().map(BTreeMap::len).sum();
        let per_part = records.div_ceil(user_parts.max(1)).max(1);
        let mut parts = vec![
            Part::LevelsOf(std::mem::take(&mut self.levels_of)),
            Part::Accounts(std::mem::take(&mut self.accounts)),
            Part::Usernames(std::mem::take(&mut self.usernames)),
        ];
        let (mut chunk, mut in_chunk) = (UserTable::new(), 0);
        for (level, records) in users {
            in_chunk += records.len();
            chunk.insert(level, records);
            if in_chunk >= per_part {
                parts.push(Part::Users(std::mem::take(&mut chunk)));
                in_chunk = 0;
            }
        }
        if !chunk.is_empty() {
            parts.push(Part::Users(chunk));
        }
        parts.into_iter().map(WorldPart).collect()
    }

    /// Moves the parts [`World::cut`] took out back in (any order).
    fn put_back(&mut self, parts: Vec<WorldPart>) {
        for WorldPart(part) in parts {
            match part {
                Part::Users(mut table) => self.users.append(&mut table),
                Part::LevelsOf(map) => self.levels_of = map,
                Part::Accounts(map) => self.accounts = map,
                Part::Usernames(map) => self.usernames = map,
            }
        }
    }

    /// The world whose rest (as [`World::in_parts`] shows it) is `self` and whose parts
    /// are `parts`, in any order. Refused when they are not the parts of one world: the
    /// rest holds any of the parts' tables, an index comes twice or not at all, or a
    /// user level is in two parts.
    pub(crate) fn join(mut self, parts: Vec<WorldPart>) -> Result<World, PartsMismatch> {
        if !(self.users.is_empty()
            && self.levels_of.is_empty()
            && self.accounts.is_empty()
            && self.usernames.is_empty())
        {
            return Err(PartsMismatch);
        }
        let (mut indexes, mut levels) = ([0; 3], 0);
        for WorldPart(part) in &parts {
            match part {
                Part::Users(table) => levels += table.len(),
                Part::LevelsOf(_) => indexes[0] += 1,
                Part::Accounts(_) => indexes[1] += 1,
                Part::Usernames(_) => indexes[2] += 1,
            }
        }
        if indexes != [1; 3] {
            return Err(PartsMismatch);
        }
        self.put_back(parts);
        if self.users.len() != levels {
            return Err(PartsMismatch);
        }
        Ok(self)
    }
}
