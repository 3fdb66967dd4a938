//! What changed between two captures: per collection, packages added,
//! removed, upgraded and downgraded.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Collection, Ecosystem, Environment, Package, Place};
use crate::version::compare;

/// A package whose version changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionChange {
    /// The package.
    pub name: String,
    /// The version before.
    pub from: String,
    /// The version after.
    pub to: String,
}

/// The changes of one collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionDiff {
    /// The ecosystem.
    pub ecosystem: Ecosystem,
    /// The collection's location.
    pub location: String,
    /// The kind of place.
    pub place: Place,
    /// The interpreter, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpreter: Option<String>,
    /// Packages only in the new capture.
    pub added: Vec<Package>,
    /// Packages only in the old capture.
    pub removed: Vec<Package>,
    /// Packages with a higher version now.
    pub upgraded: Vec<VersionChange>,
    /// Packages with a lower version now.
    pub downgraded: Vec<VersionChange>,
}

impl CollectionDiff {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.upgraded.is_empty()
            && self.downgraded.is_empty()
    }
}

/// The changes between two environments (only collections that changed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvDiff {
    /// Changed collections, in the new capture's order (removed ones last).
    pub collections: Vec<CollectionDiff>,
}

impl EnvDiff {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.collections.is_empty()
    }
}

/// The identity of a package inside a collection.
pub fn key(eco: Ecosystem, p: &Package) -> String {
    match eco {
        Ecosystem::Pip => crate::python::normalize(&p.name),
        Ecosystem::Dpkg | Ecosystem::Apk => match &p.arch {
            Some(a) => format!("{}:{a}", p.name),
            None => p.name.clone(),
        },
        _ => p.name.clone(),
    }
}

fn index(c: Option<&Collection>) -> BTreeMap<String, &Package> {
    let mut m = BTreeMap::new();
    if let Some(c) = c {
        for p in &c.packages {
            m.insert(key(c.ecosystem, p), p);
        }
    }
    m
}

/// Compare one collection (either side may be absent).
pub fn diff_collection(
    old: Option<&Collection>,
    new: Option<&Collection>,
) -> Option<CollectionDiff> {
    let any = new.or(old)?;
    let eco = any.ecosystem;
    let (o, n) = (index(old), index(new));
    let mut d = CollectionDiff {
        ecosystem: eco,
        location: any.location.clone(),
        place: any.place,
        interpreter: any.interpreter.clone(),
        added: Vec::new(),
        removed: Vec::new(),
        upgraded: Vec::new(),
        downgraded: Vec::new(),
    };
    for (k, p) in &n {
        match o.get(k) {
            None => d.added.push((*p).clone()),
            Some(q) => {
                let change = VersionChange {
                    name: p.name.clone(),
                    from: q.version.clone(),
                    to: p.version.clone(),
                };
                match compare(eco, &q.version, &p.version) {
                    Ordering::Less => d.upgraded.push(change),
                    Ordering::Greater => d.downgraded.push(change),
                    // Same order but spelled differently (1.0 vs 1.00).
                    Ordering::Equal if q.version != p.version => d.upgraded.push(change),
                    Ordering::Equal => {}
                }
            }
        }
    }
    for (k, q) in &o {
        if !n.contains_key(k) {
            d.removed.push((*q).clone());
        }
    }
    Some(d)
}

/// What changed from `old` to `new`.
pub fn diff(old: &Environment, new: &Environment) -> EnvDiff {
    let mut out = Vec::new();
    for c in &new.collections {
        let d = diff_collection(old.collection(c.ecosystem, &c.location), Some(c));
        out.extend(d.filter(|d| !d.is_empty()));
    }
    for c in &old.collections {
        if new.collection(c.ecosystem, &c.location).is_none() {
            out.extend(diff_collection(Some(c), None).filter(|d| !d.is_empty()));
        }
    }
    EnvDiff { collections: out }
}
