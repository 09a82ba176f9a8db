//! DynamoDB's JSON wire format for [`crate::wire`]: attribute values as the data type
//! descriptor objects of the DynamoDB API reference ("AttributeValue": `{"S": "..."}`,
//! `{"N": "12"}`, `{"B": "<base64>"}`, `{"M": {...}}`, ...), read into and written from
//! the SDK's own [`AttributeValue`], so every item codec works on either path; and the
//! `BatchGetItem` request and answer.

use std::collections::HashMap;
use std::fmt;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{Error as _, SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::dynamo::item::Item;

/// An attribute value read from the wire.
pub(crate) struct Value(pub(crate) AttributeValue);

/// An attribute value written to the wire.
pub(crate) struct ValueRef<'a>(pub(crate) &'a AttributeValue);

/// An item read from the wire.
pub(crate) struct WireItem(pub(crate) Item);

/// An item written to the wire.
pub(crate) struct WireItemRef<'a>(pub(crate) &'a Item);

impl<'de> Deserialize<'de> for WireItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = HashMap::<String, Value>::deserialize(d)?;
        Ok(Self(map.into_iter().map(|(k, v)| (k, v.0)).collect()))
    }
}

impl Serialize for WireItemRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, ValueRef(v))))
    }
}

fn decode_blob<E: de::Error>(text: &str) -> Result<Blob, E> {
    STANDARD
        .decode(text)
        .map(Blob::new)
        .map_err(|_| E::custom("a binary attribute is not base64"))
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a DynamoDB attribute value (one data type descriptor)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
                let Some(kind) = map.next_key::<Kind>()? else {
                    return Err(de::Error::custom("an attribute value names no data type"));
                };
                let value = match kind {
                    Kind::S => AttributeValue::S(map.next_value()?),
                    Kind::N => AttributeValue::N(map.next_value()?),
                    Kind::B => AttributeValue::B(decode_blob(&map.next_value::<String>()?)?),
                    Kind::BOOL => AttributeValue::Bool(map.next_value()?),
                    Kind::NULL => AttributeValue::Null(map.next_value()?),
                    Kind::M => AttributeValue::M(map.next_value::<WireItem>()?.0),
                    Kind::L => AttributeValue::L(
                        map.next_value::<Vec<Value>>()?
                            .into_iter()
                            .map(|v| v.0)
                            .collect(),
                    ),
                    Kind::SS => AttributeValue::Ss(map.next_value()?),
                    Kind::NS => AttributeValue::Ns(map.next_value()?),
                    Kind::BS => AttributeValue::Bs(
                        map.next_value::<Vec<String>>()?
                            .iter()
                            .map(|b| decode_blob(b))
                            .collect::<Result<_, _>>()?,
                    ),
                };
                if map.next_key::<Kind>()?.is_some() {
                    return Err(de::Error::custom("an attribute value names two data types"));
                }
                Ok(Value(value))
            }
        }
        d.deserialize_map(V)
    }
}

/// The data type descriptors.
#[derive(Deserialize)]
#[allow(clippy::upper_case_acronyms)]
enum Kind {
    S,
    N,
    B,
    BOOL,
    NULL,
    M,
    L,
    SS,
    NS,
    BS,
}

impl Serialize for ValueRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        match self.0 {
            AttributeValue::S(v) => map.serialize_entry("S", v)?,
            AttributeValue::N(v) => map.serialize_entry("N", v)?,
            AttributeValue::B(v) => map.serialize_entry("B", &STANDARD.encode(v.as_ref()))?,
            AttributeValue::Bool(v) => map.serialize_entry("BOOL", v)?,
            AttributeValue::Null(v) => map.serialize_entry("NULL", v)?,
            AttributeValue::M(v) => map.serialize_entry("M", &WireItemRef(v))?,
            AttributeValue::L(v) => {
                let list: Vec<ValueRef<'_>> = v.iter().map(ValueRef).collect();
                map.serialize_entry("L", &list)?;
            }
            AttributeValue::Ss(v) => map.serialize_entry("SS", v)?,
            AttributeValue::Ns(v) => map.serialize_entry("NS", v)?,
            AttributeValue::Bs(v) => {
                let list: Vec<String> = v.iter().map(|b| STANDARD.encode(b.as_ref())).collect();
                map.serialize_entry("BS", &list)?;
            }
            _ => return Err(S::Error::custom("an attribute value of an unknown type")),
        }
        map.end()
    }
}

/// A strongly consistent `BatchGetItem` of `keys` from `table`.
pub(crate) fn batch_get_request(table: &str, keys: &[Item]) -> Result<Vec<u8>, serde_json::Error> {
    #[derive(Serialize)]
    struct Request<'a> {
        #[serde(rename = "RequestItems")]
        request_items: HashMap<&'a str, KeysAndAttributes<'a>>,
    }
    #[derive(Serialize)]
    struct KeysAndAttributes<'a> {
        #[serde(rename = "Keys")]
        keys: Vec<WireItemRef<'a>>,
        #[serde(rename = "ConsistentRead")]
        consistent_read: bool,
    }
    serde_json::to_vec(&Request {
        request_items: HashMap::from([(
            table,
            KeysAndAttributes {
                keys: keys.iter().map(WireItemRef).collect(),
                consistent_read: true,
            },
        )]),
    })
}

/// A `BatchGetItem` answer: the items found and the keys left unprocessed, of one table.
pub(crate) struct BatchGetAnswer {
    pub(crate) items: Vec<Item>,
    pub(crate) unprocessed: Vec<Item>,
}

/// Reads a `BatchGetItem` answer for `table`.
pub(crate) fn batch_get_answer(
    table: &str,
    body: &[u8],
) -> Result<BatchGetAnswer, serde_json::Error> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(rename = "Responses", default)]
        responses: HashMap<String, Vec<WireItem>>,
        #[serde(rename = "UnprocessedKeys", default)]
        unprocessed: HashMap<String, Unprocessed>,
    }
    #[derive(Deserialize)]
    struct Unprocessed {
        #[serde(rename = "Keys", default)]
        keys: Vec<WireItem>,
    }
    let mut answer: Answer = serde_json::from_slice(body)?;
    Ok(BatchGetAnswer {
        items: answer
            .responses
            .remove(table)
            .unwrap_or_default()
            .into_iter()
            .map(|i| i.0)
            .collect(),
        unprocessed: answer
            .unprocessed
            .remove(table)
            .map(|u| u.keys.into_iter().map(|i| i.0).collect())
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Item {
        let blob = || Blob::new(vec![0u8, 1, 2, 254, 255]);
        HashMap::from([
            (
                "s".to_owned(),
                AttributeValue::S("CLIENT#a \"quoted\" ✓".into()),
            ),
            ("n".to_owned(), AttributeValue::N("-12.5e3".into())),
            ("b".to_owned(), AttributeValue::B(blob())),
            ("t".to_owned(), AttributeValue::Bool(true)),
            ("z".to_owned(), AttributeValue::Null(true)),
            (
                "m".to_owned(),
                AttributeValue::M(HashMap::from([(
                    "inner".to_owned(),
                    AttributeValue::L(vec![
                        AttributeValue::S("x".into()),
                        AttributeValue::N("1".into()),
                    ]),
                )])),
            ),
            (
                "ss".to_owned(),
                AttributeValue::Ss(vec!["a".into(), "b".into()]),
            ),
            (
                "ns".to_owned(),
                AttributeValue::Ns(vec!["1".into(), "2".into()]),
            ),
            (
                "bs".to_owned(),
                AttributeValue::Bs(vec![blob(), Blob::new(vec![])]),
            ),
        ])
    }

    #[test]
    fn every_data_type_round_trips() {
        let item = every_kind();
        let text = serde_json::to_vec(&WireItemRef(&item)).unwrap();
        let back: WireItem = serde_json::from_slice(&text).unwrap();
        assert_eq!(back.0, item);
    }

    #[test]
    fn the_wire_form_is_the_api_references() {
        let item = HashMap::from([
            ("PK".to_owned(), AttributeValue::S("CLIENT#c1".into())),
            ("B".to_owned(), AttributeValue::B(Blob::new(b"hi".to_vec()))),
        ]);
        let v: serde_json::Value =
            serde_json::from_slice(&serde_json::to_vec(&WireItemRef(&item)).unwrap()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"PK": {"S": "CLIENT#c1"}, "B": {"B": "aGk="}})
        );
    }

    #[test]
    fn malformed_values_are_errors_not_panics() {
        for bad in [
            r#"{"a": {}}"#,
            r#"{"a": {"S": "x", "N": "1"}}"#,
            r#"{"a": {"X": "x"}}"#,
            r#"{"a": {"B": "not base64!"}}"#,
            r#"{"a": {"S": 7}}"#,
            r#"{"a": "plain"}"#,
            r#"{"a": {"BS": ["@@"]}}"#,
        ] {
            assert!(serde_json::from_str::<WireItem>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn batch_answer_reads_items_and_unprocessed_keys_of_the_table() {
        let body = br#"{"Responses":{"t":[{"PK":{"S":"a"}}],"other":[{"PK":{"S":"b"}}]},
            "UnprocessedKeys":{"t":{"Keys":[{"PK":{"S":"c"}}],"ConsistentRead":true}},
            "ConsumedCapacity":[]}"#;
        let answer = batch_get_answer("t", body).unwrap();
        assert_eq!(answer.items.len(), 1);
        assert_eq!(answer.items[0]["PK"], AttributeValue::S("a".into()));
        assert_eq!(answer.unprocessed[0]["PK"], AttributeValue::S("c".into()));
        let empty = batch_get_answer("t", b"{}").unwrap();
        assert!(empty.items.is_empty() && empty.unprocessed.is_empty());
    }

    #[test]
    fn batch_request_names_the_table_keys_and_consistency() {
        let key = HashMap::from([("PK".to_owned(), AttributeValue::S("a".into()))]);
        let v: serde_json::Value =
            serde_json::from_slice(&batch_get_request("t", &[key]).unwrap()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"RequestItems": {"t": {"Keys": [{"PK": {"S": "a"}}], "ConsistentRead": true}}})
        );
    }
}
