//! DynamoDB (JSON 1.0): GetItem, PutItem, UpdateItem, DeleteItem and
//! TransactWriteItems on tables whose key attributes are configured, with
//! conditions judged on the stored item (`ConditionalCheckFailedException`,
//! with the old item when asked; `TransactionCanceledException` with a reason
//! per item), and transactions holding their items for the length of the
//! call: another transaction on one of them is cancelled with
//! `TransactionConflict`, a single write answered
//! `TransactionConflictException`, as DynamoDB does.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Map, Value};

use super::expr::{self, Item, Names};

const TYPES: &[&str] = &["S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"];

#[derive(Default)]
pub struct Dynamo {
    /// Table name -> its key attributes, in order.
    pub schemas: HashMap<String, Vec<String>>,
    tables: HashMap<String, HashMap<String, Item>>,
    /// Items held by transactions in flight.
    held: HashSet<String>,
    pub conditional_check_failed: u64,
    pub transaction_conflicts: u64,
}

/// An error answer: its type and message, and more members.
pub struct Failure {
    pub kind: &'static str,
    pub message: String,
    pub extra: Map<String, Value>,
}

fn failure(kind: &'static str, message: impl Into<String>) -> Failure {
    Failure {
        kind,
        message: message.into(),
        extra: Map::new(),
    }
}

fn validation(message: impl Into<String>) -> Failure {
    failure("ValidationException", message)
}

fn obj<'a>(v: &'a Value, field: &str) -> Option<&'a Map<String, Value>> {
    v.get(field).and_then(Value::as_object)
}

fn text<'a>(v: &'a Value, field: &str) -> Option<&'a str> {
    v.get(field).and_then(Value::as_str)
}

/// Every attribute value well formed: one type, numbers that parse.
fn check_item(item: &Map<String, Value>) -> Result<(), Failure> {
    for (name, v) in item {
        let Some(m) = v.as_object().filter(|m| m.len() == 1) else {
            return Err(validation(format!(
                "attribute {name} is not one typed value"
            )));
        };
        let (t, inner) = m.iter().next().expect("one entry");
        if !TYPES.contains(&t.as_str()) {
            return Err(validation(format!(
                "attribute {name} has an unknown type {t}"
            )));
        }
        if t == "N" && inner.as_str().and_then(|n| n.parse::<f64>().ok()).is_none() {
            return Err(validation(format!("attribute {name} is not a number")));
        }
    }
    Ok(())
}

/// One request's item: its table and key.
struct Target {
    table: String,
    key: String,
    key_item: Item,
}

impl Dynamo {
    fn target(&self, req: &Value, key: Option<&Map<String, Value>>) -> Result<Target, Failure> {
        let table = text(req, "TableName").unwrap_or_default().to_owned();
        let Some(schema) = self.schemas.get(&table) else {
            return Err(failure(
                "ResourceNotFoundException",
                "Requested resource not found",
            ));
        };
        let key = key.ok_or_else(|| validation("no key"))?;
        check_item(key)?;
        let mut parts = Vec::new();
        let mut key_item = Item::new();
        for attr in schema {
            let v = key
                .get(attr)
                .filter(|v| v.get("S").and_then(Value::as_str) != Some(""))
                .ok_or_else(|| validation("The provided key element does not match the schema"))?;
            parts.push(v.to_string());
            key_item.insert(attr.clone(), v.clone());
        }
        Ok(Target {
            key: format!("{table}\u{0}{}", parts.join("\u{0}")),
            table,
            key_item,
        })
    }

    fn key_of_item(&self, req: &Value) -> Result<Target, Failure> {
        let item = obj(req, "Item").ok_or_else(|| validation("no item"))?;
        check_item(item)?;
        let table = text(req, "TableName").unwrap_or_default();
        let schema = self.schemas.get(table).cloned().unwrap_or_default();
        let key: Map<String, Value> = schema
            .iter()
            .filter_map(|a| Some((a.clone(), item.get(a)?.clone())))
            .collect();
        if key.len() != schema.len() {
            return Err(validation("One of the required keys was not given a value"));
        }
        self.target(req, Some(&key))
    }

    fn stored(&self, t: &Target) -> Option<&Item> {
        self.tables.get(&t.table)?.get(&t.key)
    }

    fn store(&mut self, t: &Target, item: Option<Item>) {
        let table = self.tables.entry(t.table.clone()).or_default();
        match item {
            Some(i) => {
                table.insert(t.key.clone(), i);
            }
            None => {
                table.remove(&t.key);
            }
        }
    }

    /// Keys a transaction writes, checked for conflicts and then held.
    pub fn transaction_keys(&self, req: &Value) -> Result<Vec<String>, Failure> {
        let items = req
            .get("TransactItems")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty() && a.len() <= 100)
            .ok_or_else(|| validation("TransactItems must have 1 to 100 actions"))?;
        let mut keys = Vec::new();
        for action in items {
            let (kind, body) = action_of(action)?;
            let t = if kind == "Put" {
                self.key_of_item(body)?
            } else {
                self.target(body, obj(body, "Key"))?
            };
            if keys.contains(&t.key) {
                return Err(validation(
                    "Transaction request cannot include multiple operations on one item",
                ));
            }
            keys.push(t.key);
        }
        Ok(keys)
    }

    /// Holds `keys` for a transaction; the positions of those another holds.
    pub fn hold(&mut self, keys: &[String]) -> Vec<usize> {
        let busy: Vec<usize> = (0..keys.len())
            .filter(|i| self.held.contains(&keys[*i]))
            .collect();
        if busy.is_empty() {
            self.held.extend(keys.iter().cloned());
        } else {
            self.transaction_conflicts += 1;
        }
        busy
    }

    pub fn release(&mut self, keys: &[String]) {
        for k in keys {
            self.held.remove(k);
        }
    }

    pub fn conflict(keys: usize, busy: &[usize]) -> Failure {
        let reasons: Vec<Value> = (0..keys)
            .map(|i| {
                if busy.contains(&i) {
                    json!({"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"})
                } else {
                    json!({"Code": "None"})
                }
            })
            .collect();
        cancelled(reasons)
    }

    /// A single-item operation.
    pub fn single(&mut self, op: &str, req: &Value) -> Result<Value, Failure> {
        match op {
            "GetItem" => self.get(req),
            "PutItem" | "UpdateItem" | "DeleteItem" => {
                let t = if op == "PutItem" {
                    self.key_of_item(req)?
                } else {
                    self.target(req, obj(req, "Key"))?
                };
                if self.held.contains(&t.key) {
                    return Err(failure(
                        "TransactionConflictException",
                        "Transaction is ongoing for the item",
                    ));
                }
                let (old, new) = self.prepare(op, req, &t)?;
                let Ok(new) = new else {
                    self.conditional_check_failed += 1;
                    let mut f = failure(
                        "ConditionalCheckFailedException",
                        "The conditional request failed",
                    );
                    if text(req, "ReturnValuesOnConditionCheckFailure") == Some("ALL_OLD") {
                        if let Some(item) = old {
                            f.extra.insert("Item".into(), Value::Object(item));
                        }
                    }
                    return Err(f);
                };
                self.store(&t, new.clone());
                let returned = match text(req, "ReturnValues").unwrap_or("NONE") {
                    "NONE" => None,
                    "ALL_OLD" => old,
                    "ALL_NEW" => new,
                    other => {
                        return Err(validation(format!("ReturnValues {other} is not supported")))
                    }
                };
                Ok(match returned {
                    Some(item) => json!({ "Attributes": item }),
                    None => json!({}),
                })
            }
            _ => Err(failure(
                "UnknownOperationException",
                format!("{op} is not served by this fake"),
            )),
        }
    }

    fn get(&self, req: &Value) -> Result<Value, Failure> {
        let t = self.target(req, obj(req, "Key"))?;
        let names = Names {
            names: obj(req, "ExpressionAttributeNames"),
            values: None,
        };
        let Some(item) = self.stored(&t) else {
            return Ok(json!({}));
        };
        let item = match text(req, "ProjectionExpression") {
            Some(p) => {
                let wanted = expr::projection(p, &names).map_err(validation)?;
                item.iter()
                    .filter(|(k, _)| wanted.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            }
            None => item.clone(),
        };
        Ok(json!({ "Item": item }))
    }

    /// What an operation would do: the old item and the new one (None:
    /// deleted), or Err(()) inside when its condition fails.
    #[allow(clippy::type_complexity)]
    fn prepare(
        &self,
        op: &str,
        req: &Value,
        t: &Target,
    ) -> Result<(Option<Item>, Result<Option<Item>, ()>), Failure> {
        let names = Names {
            names: obj(req, "ExpressionAttributeNames"),
            values: obj(req, "ExpressionAttributeValues"),
        };
        if let Some(values) = names.values {
            check_item(values)?;
        }
        let update = if op == "UpdateItem" || op == "Update" {
            Some(text(req, "UpdateExpression").ok_or_else(|| validation("no update expression"))?)
        } else {
            None
        };
        let parsed = expr::parse(text(req, "ConditionExpression"), update, &names)
            .map_err(|e| validation(format!("Invalid expression: {e}")))?;
        let old = self.stored(t).cloned();
        let current = old.clone().unwrap_or_default();
        if let Some(c) = &parsed.condition {
            if !c.holds(&current) {
                return Ok((old, Err(())));
            }
        }
        let new = match op {
            "PutItem" | "Put" => Some(obj(req, "Item").cloned().unwrap_or_default()),
            "DeleteItem" | "Delete" => None,
            "ConditionCheck" => old.clone(),
            _ => {
                let mut item = current;
                item.extend(t.key_item.clone());
                parsed.apply(&mut item).map_err(validation)?;
                for k in t.key_item.keys() {
                    if item.get(k) != t.key_item.get(k) {
                        return Err(validation("Cannot update attribute: part of the key"));
                    }
                }
                Some(item)
            }
        };
        Ok((old, Ok(new)))
    }

    /// A transaction's writes, all or none, once its items are held.
    pub fn transact(&mut self, req: &Value) -> Result<Value, Failure> {
        let items = req
            .get("TransactItems")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut writes = Vec::new();
        let mut reasons = Vec::new();
        let mut refused = false;
        for action in &items {
            let (kind, body) = action_of(action)?;
            let t = if kind == "Put" {
                self.key_of_item(body)?
            } else {
                self.target(body, obj(body, "Key"))?
            };
            let (old, new) = self.prepare(kind, body, &t)?;
            match new {
                Ok(new) => {
                    reasons.push(json!({"Code": "None"}));
                    if kind != "ConditionCheck" {
                        writes.push((t, new));
                    }
                }
                Err(()) => {
                    refused = true;
                    let mut r = json!({"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"});
                    if text(body, "ReturnValuesOnConditionCheckFailure") == Some("ALL_OLD") {
                        if let Some(item) = old {
                            r["Item"] = Value::Object(item);
                        }
                    }
                    reasons.push(r);
                }
            }
        }
        if refused {
            self.conditional_check_failed += 1;
            return Err(cancelled(reasons));
        }
        for (t, new) in writes {
            self.store(&t, new);
        }
        Ok(json!({}))
    }

    /// Items per table, and per value of `state` where items have one.
    pub fn stats(&self) -> Value {
        let mut out = Map::new();
        for (name, items) in &self.tables {
            let mut states: HashMap<&str, u64> = HashMap::new();
            for item in items.values() {
                if let Some(s) = item
                    .get("state")
                    .and_then(|v| v.get("S"))
                    .and_then(Value::as_str)
                {
                    *states.entry(s).or_default() += 1;
                }
            }
            out.insert(
                name.clone(),
                json!({"items": items.len(), "states": states}),
            );
        }
        json!({
            "tables": out,
            "conditional_check_failed": self.conditional_check_failed,
            "transaction_conflicts": self.transaction_conflicts,
        })
    }
}

fn action_of(action: &Value) -> Result<(&'static str, &Value), Failure> {
    for kind in ["Put", "Update", "Delete", "ConditionCheck"] {
        if let Some(body) = action.get(kind) {
            return Ok((kind, body));
        }
    }
    Err(validation("a transaction action of an unknown kind"))
}

fn cancelled(reasons: Vec<Value>) -> Failure {
    let codes: Vec<&str> = reasons
        .iter()
        .map(|r| r["Code"].as_str().unwrap_or("None"))
        .collect();
    let mut f = failure(
        "TransactionCanceledException",
        format!(
            "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
            codes.join(", ")
        ),
    );
    f.extra
        .insert("CancellationReasons".into(), Value::Array(reasons));
    f
}
