//! A map of registry objects for one walk: filled in the tree's order, then put in
//! address order once, by sorting indices, never the values.
//!
//! A `BTreeMap` did the same job, but a user's value is a few hundred bytes, and
//! inserting the people of an enterprise site by site shifted those values inside the
//! tree's nodes: in the 100× fleet's no-change plan, a third of the diff's time was
//! moving them, another third comparing addresses.

use crate::model::{Object, ObjectValue};

/// Objects being collected, in any order; [`Unsorted::sorted`] makes them an [`Objects`].
#[derive(Debug, Default)]
pub(crate) struct Unsorted(Vec<(Object, ObjectValue)>);

impl Unsorted {
    /// Adds the value of `object`; of two for one address, the later wins.
    pub(crate) fn insert(&mut self, object: Object, value: ObjectValue) {
        self.0.push((object, value));
    }

    /// The objects in address order, the last value of each address winning.
    pub(crate) fn sorted(self) -> Objects {
        let entries = self.0;
        let mut order: Vec<u32> = (0..entries.len() as u32).collect();
        // Stable: equal addresses keep their insertion order, and the last one stays.
        order.sort_by(|a, b| entries[*a as usize].0.cmp(&entries[*b as usize].0));
        let mut kept: Vec<u32> = Vec::with_capacity(order.len());
        for i in order {
            match kept.last_mut() {
                Some(last) if entries[*last as usize].0 == entries[i as usize].0 => *last = i,
                _ => kept.push(i),
            }
        }
        Objects {
            entries,
            order: kept,
        }
    }
}

/// Objects by address, in address order.
#[derive(Debug, Default)]
pub(crate) struct Objects {
    entries: Vec<(Object, ObjectValue)>,
    /// Indices into `entries` in address order, one per address.
    order: Vec<u32>,
}

impl Objects {
    /// The objects in address order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Object, &ObjectValue)> {
        self.order.iter().map(|i| {
            let (o, v) = &self.entries[*i as usize];
            (o, v)
        })
    }

    /// The value of `object`.
    pub(crate) fn get(&self, object: &Object) -> Option<&ObjectValue> {
        self.order
            .binary_search_by(|i| self.entries[*i as usize].0.cmp(object))
            .ok()
            .map(|at| &self.entries[self.order[at] as usize].1)
    }

    /// Keeps only the objects `keep` accepts (in order, each once).
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&Object) -> bool) {
        let entries = &self.entries;
        self.order.retain(|i| keep(&entries[*i as usize].0));
    }

    /// The objects, taken, in address order.
    pub(crate) fn into_sorted(self) -> Vec<(Object, ObjectValue)> {
        let mut slots: Vec<Option<(Object, ObjectValue)>> =
            self.entries.into_iter().map(Some).collect();
        self.order
            .iter()
            .filter_map(|i| slots[*i as usize].take())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Unsorted;
    use crate::model::{CapacityType, Hco, Object, ObjectValue, SiteValue};

    fn site(hco: &str) -> Object {
        Object::Site {
            hco: Hco::parse(hco).expect("hco"),
        }
    }

    fn value(name: &str) -> ObjectValue {
        ObjectValue::Site(SiteValue {
            subdivision: Hco::parse("100000001").expect("hco"),
            name: name.into(),
            email: None,
            administrator: crate::model::LiveAdministrator::Itself,
            applications: Default::default(),
            active: true,
        })
    }

    #[test]
    fn behaves_as_a_map_in_address_order() {
        let mut objects = Unsorted::default();
        objects.insert(site("300000003"), value("c"));
        objects.insert(
            Object::Capacity {
                kind: CapacityType::MammographyUnit,
            },
            value("cap"),
        );
        objects.insert(site("100000001"), value("a"));
        objects.insert(site("300000003"), value("c, again"));
        objects.insert(site("200000002"), value("b"));
        let mut objects = objects.sorted();
        let addresses: Vec<Object> = objects.iter().map(|(o, _)| o.clone()).collect();
        let mut expected = vec![
            site("300000003"),
            Object::Capacity {
                kind: CapacityType::MammographyUnit,
            },
            site("100000001"),
            site("200000002"),
        ];
        expected.sort();
        assert_eq!(addresses, expected);
        assert_eq!(objects.get(&site("300000003")), Some(&value("c, again")));
        assert_eq!(objects.get(&site("400000004")), None);
        objects.retain(|o| *o != site("100000001"));
        assert_eq!(objects.get(&site("100000001")), None);
        let taken = objects.into_sorted();
        assert_eq!(taken.len(), 3);
        assert!(taken.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(taken.contains(&(site("300000003"), value("c, again"))));
    }
}
