//! `Deserialize` for [`Observed`], reading rows in place.
//!
//! serde's derived code for an internally tagged enum (`#[serde(tag =
//! "status")]`) first buffers the whole object as `Content` values, because
//! the tag might come last; for a million process rows that doubled the
//! time and the memory of loading a snapshot. Here the object's fields are
//! read in whatever order they come, each straight into its final type: a
//! `status` first (as every snapshot lingerscan writes has it) lets the
//! fields of the other variant be skipped; `rows` before `status` is still
//! read directly, since only `ok` has rows. The accepted documents and the
//! error messages are those of the derived code, with one exception no
//! writer produces: a `failed` source whose `rows` (which it ignores) come
//! before its `status` and are not rows is refused, where the derived code
//! skipped them.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::model::{FailureKind, Observed, SourceFailure};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    Failed,
}

const STATUSES: &[&str] = &["ok", "failed"];

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StatusVisitor;
        impl Visitor<'_> for StatusVisitor {
            type Value = Status;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("variant identifier")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Status, E> {
                match value {
                    "ok" => Ok(Status::Ok),
                    "failed" => Ok(Status::Failed),
                    other => Err(E::unknown_variant(other, STATUSES)),
                }
            }
        }
        deserializer.deserialize_identifier(StatusVisitor)
    }
}

enum Field {
    Status,
    Rows,
    Kind,
    Code,
    Message,
    Other,
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl Visitor<'_> for FieldVisitor {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("field identifier")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Field, E> {
                Ok(match value {
                    "status" => Field::Status,
                    "rows" => Field::Rows,
                    "kind" => Field::Kind,
                    "code" => Field::Code,
                    "message" => Field::Message,
                    // Unknown fields are ignored, as by the derived code.
                    _ => Field::Other,
                })
            }
        }
        deserializer.deserialize_identifier(FieldVisitor)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Observed<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ObservedVisitor(PhantomData))
    }
}

struct ObservedVisitor<T>(PhantomData<T>);

fn duplicate<E: de::Error>(name: &'static str) -> E {
    E::duplicate_field(name)
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObservedVisitor<T> {
    type Value = Observed<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("internally tagged enum Observed")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Observed<T>, A::Error> {
        let mut status: Option<Status> = None;
        let mut rows: Option<T> = None;
        let mut kind: Option<FailureKind> = None;
        let mut code: Option<Option<i64>> = None;
        let mut message: Option<String> = None;
        while let Some(field) = map.next_key::<Field>()? {
            // A field of the other variant, once the variant is known, is
            // ignored unread, as the derived code ignores unknown fields.
            let wanted = |for_status: Status| status.is_none_or(|s| s == for_status);
            match field {
                Field::Status => {
                    if status.is_some() {
                        return Err(duplicate("status"));
                    }
                    status = Some(map.next_value()?);
                }
                Field::Rows if wanted(Status::Ok) => {
                    if rows.is_some() {
                        return Err(duplicate("rows"));
                    }
                    rows = Some(map.next_value()?);
                }
                Field::Kind if wanted(Status::Failed) => {
                    if kind.is_some() {
                        return Err(duplicate("kind"));
                    }
                    kind = Some(map.next_value()?);
                }
                Field::Code if wanted(Status::Failed) => {
                    if code.is_some() {
                        return Err(duplicate("code"));
                    }
                    code = Some(map.next_value()?);
                }
                Field::Message if wanted(Status::Failed) => {
                    if message.is_some() {
                        return Err(duplicate("message"));
                    }
                    message = Some(map.next_value()?);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        match status {
            None => Err(de::Error::missing_field("status")),
            Some(Status::Ok) => match rows {
                Some(rows) => Ok(Observed::Ok { rows }),
                None => Err(de::Error::missing_field("rows")),
            },
            Some(Status::Failed) => Ok(Observed::Failed(SourceFailure {
                kind: kind.ok_or_else(|| de::Error::missing_field("kind"))?,
                code: code.flatten(),
                message: message.ok_or_else(|| de::Error::missing_field("message"))?,
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Rows = Observed<Vec<u32>>;

    /// The derived deserializer this replaces, kept as the oracle.
    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(tag = "status", rename_all = "snake_case")]
    enum Derived {
        Ok { rows: Vec<u32> },
        Failed(SourceFailure),
    }

    fn both(text: &str) -> (Result<Rows, String>, Result<Derived, String>) {
        (
            serde_json::from_str::<Rows>(text).map_err(|e| e.to_string()),
            serde_json::from_str::<Derived>(text).map_err(|e| e.to_string()),
        )
    }

    fn same(text: &str) {
        let (ours, derived) = both(text);
        match (&ours, &derived) {
            (Ok(Observed::Ok { rows }), Ok(Derived::Ok { rows: d })) => assert_eq!(rows, d),
            (Ok(Observed::Failed(f)), Ok(Derived::Failed(d))) => assert_eq!(f, d),
            (Err(_), Err(_)) => {}
            _ => panic!("{text}: ours {ours:?}, derived {derived:?}"),
        }
    }

    #[test]
    fn accepts_and_refuses_what_the_derived_code_did() {
        for text in [
            r#"{"status":"ok","rows":[1,2]}"#,
            r#"{"rows":[1,2],"status":"ok"}"#,
            r#"{"status":"ok","rows":[],"extra":{"a":[1]}}"#,
            r#"{"status":"ok","rows":[1],"kind":"timeout"}"#,
            r#"{"status":"failed","kind":"timeout","code":5,"message":"m"}"#,
            r#"{"message":"m","kind":"access_denied","status":"failed"}"#,
            r#"{"status":"failed","kind":"timeout","code":null,"message":"m"}"#,
            r#"{"status":"failed","kind":"timeout","message":"m","rows":[1]}"#,
            r#"{"status":"failed","kind":"timeout","message":"m","rows":"x"}"#,
            r#"{"status":"failed","message":"m"}"#,
            r#"{"status":"failed","kind":"nope","message":"m"}"#,
            r#"{"status":"ok"}"#,
            r#"{"rows":[1]}"#,
            r#"{"status":"maybe","rows":[1]}"#,
            r#"{"status":"ok","rows":[-1]}"#,
            r#"{"status":"ok","rows":{}}"#,
            r#"[]"#,
            r#""ok""#,
        ] {
            same(text);
        }
    }

    #[test]
    fn the_one_difference_rows_of_the_wrong_shape_before_a_failed_status() {
        let text = r#"{"rows":null,"status":"failed","kind":"timeout","message":"m"}"#;
        let (ours, derived) = both(text);
        assert!(ours.is_err() && derived.is_ok());
        // After the status they are skipped, as before.
        same(r#"{"status":"failed","rows":null,"kind":"timeout","message":"m"}"#);
    }

    #[test]
    fn errors_name_the_problem() {
        let (ours, _) = both(r#"{"status":"maybe","rows":[1]}"#);
        assert!(
            ours.unwrap_err()
                .contains("unknown variant `maybe`, expected `ok` or `failed`")
        );
        let (ours, _) = both(r#"{"rows":[1]}"#);
        assert!(ours.unwrap_err().contains("missing field `status`"));
        let (ours, _) = both(r#"{"status":"ok"}"#);
        assert!(ours.unwrap_err().contains("missing field `rows`"));
    }

    proptest::proptest! {
        /// Any order of any subset of the fields, with any values of a few
        /// shapes: both readers agree on what they accept and what they build.
        #[test]
        fn agrees_with_the_derived_code_on_field_orders_and_values(
            fields in proptest::sample::subsequence(
                vec![
                    r#""status":"ok""#, r#""status":"failed""#, r#""rows":[3,4]"#,
                    r#""kind":"timeout""#, r#""code":7"#,
                    r#""message":"m""#, r#""other":{"x":[1,{"y":2}]}"#,
                ],
                0..8,
            ),
            shuffle in proptest::collection::vec(0usize..7, 7),
        ) {
            let mut fields = fields;
            for (i, j) in shuffle.iter().enumerate() {
                if i < fields.len() {
                    let j = j % fields.len();
                    fields.swap(i, j);
                }
            }
            same(&format!("{{{}}}", fields.join(",")));
        }
    }
}
