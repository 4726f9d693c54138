//! `named_enum!`: the Alibaba-named enums (KeySpec, KeyState, SigningAlgorithm, …) with
//! their names, stored byte codes, `Display` and a `FromStr` whose error is
//! `InvalidParameter.<Param>` (the enum's own name unless `param = "…"` is given).

macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident { $($body:tt)+ }) => {
        named_enum!(@param stringify!($name); $(#[$m])* $name { $($body)+ });
    };
    (param = $param:literal; $(#[$m:meta])* $name:ident { $($body:tt)+ }) => {
        named_enum!(@param $param; $(#[$m])* $name { $($body)+ });
    };
    (@param $param:expr; $(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = ($code:expr, $s:expr)),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name { $($(#[$vm])* $v),+ }
        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            /// Alibaba's name for it.
            #[must_use]
            pub fn as_str(self) -> &'static str { match self { $($name::$v => $s),+ } }
            /// The byte that encodes it in stored formats.
            #[must_use]
            pub fn code(self) -> u8 { match self { $($name::$v => $code),+ } }
            /// Decodes a stored byte.
            #[must_use]
            pub fn from_code(c: u8) -> Option<Self> { match c { $($code => Some($name::$v),)+ _ => None } }
        }
        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result { f.write_str(self.as_str()) }
        }
        #[cfg(feature = "serde")]
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        #[cfg(feature = "serde")]
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
                let s = <alloc::string::String as serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(|e: $crate::Error| <D::Error as serde::de::Error>::custom(e))
            }
        }
        impl core::str::FromStr for $name {
            type Err = $crate::Error;
            fn from_str(s: &str) -> $crate::Result<Self> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    let names: alloc::vec::Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                    $crate::Error::param($param, alloc::format!("{s:?} is not one of {}", names.join(", ")))
                })
            }
        }
    };
}

/// The frame of the one-line examples in the API docs (not part of the API): runs
/// `$body` in an async block on a fresh in-memory [`crate::Kms`] named `$kms`, with
/// `$key_id` a new symmetric key's KeyId, and `?` returning [`crate::Error`]. Doc
/// tests get `pollster` from the crate's dev-dependencies.
#[doc(hidden)]
#[macro_export]
#[cfg(all(feature = "std", feature = "getrandom"))]
macro_rules! doc_example {
    ($kms:ident, $key_id:ident, $body:block) => {
        ::pollster::block_on(async {
            #[allow(unused_imports)]
            use $crate::*;
            let $kms = $crate::Kms::memory($crate::env::Env::system(), None).await?;
            #[allow(unused_variables)]
            let $key_id: String = $kms
                .create_key($crate::CreateKeyRequest::default())
                .await?
                .key_id;
            $body
            Ok::<(), $crate::Error>(())
        })
        .unwrap()
    };
}
