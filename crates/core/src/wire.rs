//! The one mapping between the domain's small enums ([`crate::model::Profile`],
//! [`crate::model::ClientStatus`], [`crate::model::KeyStatus`], [`crate::alg::Alg`]) and
//! their names in stored records, JSON and on the command line. Each enum declares its
//! names once, through [`wire_names!`]; `as_str`, `FromStr`, `Display` and serde all
//! read that one table.

/// A name that is none of an enum's wire names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a {what}: expected one of {}", expected.join(", "))]
pub struct UnknownName {
    /// What was being parsed (`key status`, ...).
    pub what: &'static str,
    /// Every name that would have been accepted.
    pub expected: &'static [&'static str],
}

/// Gives a fieldless enum its wire names: `as_str`, `ALL`, `FromStr` (with
/// [`UnknownName`]), `Display`, `Serialize` and `Deserialize`, from one table.
macro_rules! wire_names {
    ($ty:ident, $what:literal, { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// Every wire name, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($name),+];

            /// The wire name: in stored records, JSON and on the command line.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name),+
                }
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::wire::UnknownName;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok(Self::$variant),)+
                    _ => Err($crate::wire::UnknownName {
                        what: $what,
                        expected: Self::NAMES,
                    }),
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                name.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use wire_names;

#[cfg(test)]
mod tests {
    use crate::alg::Alg;
    use crate::model::{ClientStatus, KeyStatus, Profile};

    #[test]
    fn names_round_trip_through_str_and_serde() {
        fn check<T>(all: &[T])
        where
            T: Copy + PartialEq + std::fmt::Debug + std::fmt::Display + std::str::FromStr,
            T: serde::Serialize + serde::de::DeserializeOwned,
            <T as std::str::FromStr>::Err: std::fmt::Debug,
        {
            for v in all {
                let name = v.to_string();
                assert_eq!(name.parse::<T>().ok(), Some(*v));
                assert_eq!(serde_json::to_value(v).ok(), Some(name.clone().into()));
                assert_eq!(serde_json::from_value::<T>(name.into()).ok(), Some(*v));
            }
        }
        check(Profile::ALL);
        check(ClientStatus::ALL);
        check(KeyStatus::ALL);
        check(Alg::ALL);
    }

    #[test]
    fn stored_names_unchanged() {
        assert_eq!(Profile::NAMES, ["rfc9068", "auth0"]);
        assert_eq!(ClientStatus::NAMES, ["active", "disabled"]);
        assert_eq!(
            KeyStatus::NAMES,
            ["pending", "active", "retired", "revoked"]
        );
        assert_eq!(Alg::NAMES, ["RS256", "ES256"]);
    }

    #[test]
    fn unknown_name_refused_with_its_kind() {
        let e = "enabled".parse::<ClientStatus>().unwrap_err();
        assert_eq!(e.what, "client status");
        assert_eq!(
            e.to_string(),
            "not a client status: expected one of active, disabled"
        );
        assert!("rs256".parse::<Alg>().is_err());
        assert!(serde_json::from_str::<KeyStatus>("\"Active\"").is_err());
    }
}
