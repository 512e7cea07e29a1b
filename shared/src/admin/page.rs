//! Pages of a list and the opaque cursor that continues one.

use std::collections::BTreeMap;

use serde::Serialize;

/// Where a page stopped: the key attributes of its last item (DynamoDB's
/// LastEvaluatedKey), shown to clients as hex of their JSON so that they pass
/// it back as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(BTreeMap<String, String>);

impl Cursor {
    pub fn new(key: BTreeMap<String, String>) -> Option<Self> {
        (!key.is_empty()).then_some(Self(key))
    }

    /// None when the text is not one [`encode`](Self::encode) made.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = hex::decode(text).ok()?;
        Self::new(serde_json::from_slice(&bytes).ok()?)
    }

    pub fn encode(&self) -> String {
        hex::encode(serde_json::to_vec(&self.0).unwrap_or_default())
    }

    pub fn attributes(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// The `cursor` query parameter: absent or empty is the first page.
    pub fn from_query(param: Option<&str>) -> Result<Option<Self>, super::AdminError> {
        match param.filter(|c| !c.is_empty()) {
            None => Ok(None),
            Some(c) => Self::parse(c)
                .map(Some)
                .ok_or_else(super::AdminError::bad_cursor),
        }
    }
}

/// One page of a list and the cursor of the next (`null` on the last).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            cursor: self.cursor,
        }
    }
}

/// A whole list (short by nature, e.g. the newest 50 changes).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Items<T> {
    pub items: Vec<T>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let key = BTreeMap::from([
            ("serial".to_owned(), "A1".to_owned()),
            ("status".to_owned(), "enrolled".to_owned()),
        ]);
        let c = Cursor::new(key).unwrap();
        assert_eq!(Cursor::parse(&c.encode()), Some(c));
        assert_eq!(Cursor::parse("zz"), None);
        assert_eq!(Cursor::parse(&hex::encode("[1]")), None);
        assert_eq!(Cursor::parse(&hex::encode("{}")), None);
        assert!(Cursor::from_query(Some("")).unwrap().is_none());
        assert!(matches!(
            Cursor::from_query(Some("nope")),
            Err(super::super::AdminError::BadRequest {
                field: Some("cursor"),
                ..
            })
        ));
    }
}
