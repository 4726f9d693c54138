//! The serde form (feature `serde`) of the model's `&'static str` fields: each takes one
//! of a known set of values — Alibaba's words (`Enabled`, `Allow`, `Active`, …), an
//! action's name, or an error code — and deserializes to that value's static string;
//! anything else is refused.

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Deserializer};

/// The words the model's `&'static str` fields hold besides action names and codes.
const WORDS: &[&str] = &[
    "Enabled",
    "Disabled",
    "Suspended",
    "Allow",
    "Deny",
    "Active",
    "Inactive",
    "v1",
];

fn known(s: &str) -> Option<&'static str> {
    WORDS
        .iter()
        .copied()
        .find(|w| *w == s)
        .or_else(|| {
            super::Action::ALL
                .iter()
                .map(|a| a.name())
                .find(|n| *n == s)
        })
        .or_else(|| crate::error::CODES.iter().copied().find(|c| *c == s))
}

fn one_of<E: serde::de::Error>(s: &str) -> Result<&'static str, E> {
    known(s).ok_or_else(|| E::custom(alloc::format!("{s:?} is not a value this field takes")))
}

/// A `&'static str` field.
pub(crate) fn one<'de, D: Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    one_of(&String::deserialize(d)?)
}

/// An `Option<&'static str>` field.
pub(crate) fn opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'static str>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|s| one_of(&s))
        .transpose()
}

/// A `Vec<&'static str>` field.
pub(crate) fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<&'static str>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| one_of(s))
        .collect()
}
