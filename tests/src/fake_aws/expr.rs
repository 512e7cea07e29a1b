//! DynamoDB's condition, update and projection expressions, on top-level
//! attributes: what the product's requests use (comparisons, `AND`/`OR`/`NOT`,
//! `IN`, `BETWEEN`, `attribute_exists`, `attribute_not_exists`,
//! `begins_with`; `SET` with `+`/`-` and `if_not_exists`, `REMOVE`, `ADD` on
//! numbers). Anything else is refused as DynamoDB refuses a malformed
//! expression, so a request this fake cannot judge never passes unjudged.

use std::collections::HashMap;

use serde_json::{Map, Value};

pub type Item = Map<String, Value>;

/// A request's `ExpressionAttributeNames` and `ExpressionAttributeValues`.
pub struct Names<'a> {
    pub names: Option<&'a Map<String, Value>>,
    pub values: Option<&'a Map<String, Value>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Name(String),
    Value(String),
    Op(&'static str),
}

fn tokens(text: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let word = |start: usize| {
            let mut j = start;
            while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            (chars[start..j].iter().collect::<String>(), j)
        };
        match c {
            '#' | ':' => {
                let (w, j) = word(i + 1);
                if w.is_empty() {
                    return Err(format!("a bare '{c}' at {i}"));
                }
                out.push(if c == '#' {
                    Tok::Name(format!("#{w}"))
                } else {
                    Tok::Value(format!(":{w}"))
                });
                i = j;
            }
            '(' | ')' | ',' | '=' | '+' | '-' => {
                out.push(Tok::Op(match c {
                    '(' => "(",
                    ')' => ")",
                    ',' => ",",
                    '=' => "=",
                    '+' => "+",
                    _ => "-",
                }));
                i += 1;
            }
            '<' | '>' => {
                let next = chars.get(i + 1).copied();
                let op = match (c, next) {
                    ('<', Some('>')) => "<>",
                    ('<', Some('=')) => "<=",
                    ('>', Some('=')) => ">=",
                    ('<', _) => "<",
                    _ => ">",
                };
                i += op.len();
                out.push(Tok::Op(op));
            }
            _ if c.is_alphanumeric() || c == '_' => {
                let (w, j) = word(i);
                out.push(Tok::Word(w));
                i = j;
            }
            // Nested paths (`a.b`, `a[0]`) are not used by the product.
            _ => return Err(format!("unsupported character '{c}'")),
        }
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<Tok>,
    at: usize,
    names: &'a Names<'a>,
    /// Every name and value the expression used (DynamoDB refuses unused ones).
    used: HashMap<String, ()>,
}

#[derive(Debug, Clone)]
pub enum Operand {
    Path(String),
    Value(Value),
}

#[derive(Debug, Clone)]
pub enum Cond {
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    Cmp(Operand, &'static str, Operand),
    In(Operand, Vec<Operand>),
    Between(Operand, Operand, Operand),
    Exists(String, bool),
    BeginsWith(Operand, Operand),
}

impl<'a> Parser<'a> {
    fn new(text: &str, names: &'a Names<'a>) -> Result<Self, String> {
        Ok(Self {
            toks: tokens(text)?,
            at: 0,
            names,
            used: HashMap::new(),
        })
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn keyword(&mut self, k: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(k)) {
            self.at += 1;
            return true;
        }
        false
    }

    fn op(&mut self, o: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Op(x)) if *x == o) {
            self.at += 1;
            return true;
        }
        false
    }

    fn expect(&mut self, o: &str) -> Result<(), String> {
        if self.op(o) {
            Ok(())
        } else {
            Err(format!("expected '{o}' at token {}", self.at))
        }
    }

    fn path(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Tok::Word(w)) if !is_reserved(&w) => Ok(w),
            Some(Tok::Word(w)) => Err(format!("'{w}' is a reserved word; use a name placeholder")),
            Some(Tok::Name(n)) => {
                self.used.insert(n.clone(), ());
                self.names
                    .names
                    .and_then(|m| m.get(&n))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or(format!("undefined attribute name {n}"))
            }
            t => Err(format!("expected an attribute, found {t:?}")),
        }
    }

    fn operand(&mut self) -> Result<Operand, String> {
        if let Some(Tok::Value(v)) = self.peek().cloned() {
            self.at += 1;
            self.used.insert(v.clone(), ());
            return self
                .names
                .values
                .and_then(|m| m.get(&v))
                .cloned()
                .map(Operand::Value)
                .ok_or(format!("undefined attribute value {v}"));
        }
        self.path().map(Operand::Path)
    }

    fn condition(&mut self) -> Result<Cond, String> {
        let mut left = self.conjunction()?;
        while self.keyword("OR") {
            left = Cond::Or(Box::new(left), Box::new(self.conjunction()?));
        }
        Ok(left)
    }

    fn conjunction(&mut self) -> Result<Cond, String> {
        let mut left = self.negation()?;
        while self.keyword("AND") {
            left = Cond::And(Box::new(left), Box::new(self.negation()?));
        }
        Ok(left)
    }

    fn negation(&mut self) -> Result<Cond, String> {
        if self.keyword("NOT") {
            return Ok(Cond::Not(Box::new(self.negation()?)));
        }
        if self.op("(") {
            let c = self.condition()?;
            self.expect(")")?;
            return Ok(c);
        }
        for (f, exists) in [("attribute_exists", true), ("attribute_not_exists", false)] {
            if self.keyword(f) {
                self.expect("(")?;
                let p = self.path()?;
                self.expect(")")?;
                return Ok(Cond::Exists(p, exists));
            }
        }
        if self.keyword("begins_with") {
            self.expect("(")?;
            let a = self.operand()?;
            self.expect(",")?;
            let b = self.operand()?;
            self.expect(")")?;
            return Ok(Cond::BeginsWith(a, b));
        }
        let left = self.operand()?;
        if self.keyword("IN") {
            self.expect("(")?;
            let mut list = vec![self.operand()?];
            while self.op(",") {
                list.push(self.operand()?);
            }
            self.expect(")")?;
            return Ok(Cond::In(left, list));
        }
        if self.keyword("BETWEEN") {
            let low = self.operand()?;
            if !self.keyword("AND") {
                return Err("BETWEEN without AND".into());
            }
            return Ok(Cond::Between(left, low, self.operand()?));
        }
        for o in ["=", "<>", "<=", ">=", "<", ">"] {
            if self.op(o) {
                return Ok(Cond::Cmp(left, o, self.operand()?));
            }
        }
        Err(format!("expected a comparison at token {}", self.at))
    }

    fn done(&self) -> Result<(), String> {
        if self.at != self.toks.len() {
            return Err(format!("unexpected {:?}", self.toks.get(self.at)));
        }
        Ok(())
    }
}

fn is_reserved(w: &str) -> bool {
    // The reserved words the product's attribute names could meet.
    const RESERVED: &[&str] = &[
        "AND", "OR", "NOT", "IN", "BETWEEN", "SET", "REMOVE", "ADD", "DELETE", "STATUS", "STATE",
        "NAME", "USER", "TOKEN", "COUNT", "SIZE", "TIME", "TTL", "TO", "FROM", "VALUE", "DATA",
        "KEY", "ROW",
    ];
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(w))
}

/// Every placeholder given must be used, as DynamoDB checks.
fn all_used(p: &Parser<'_>, names: &Names<'_>) -> Result<(), String> {
    for map in [names.names, names.values].into_iter().flatten() {
        for k in map.keys() {
            if !p.used.contains_key(k) {
                return Err(format!("{k} is not used in the expressions"));
            }
        }
    }
    Ok(())
}

fn value_of(o: &Operand, item: &Item) -> Option<Value> {
    match o {
        Operand::Value(v) => Some(v.clone()),
        Operand::Path(p) => item.get(p).cloned(),
    }
}

fn number(v: &Value) -> Option<f64> {
    v.get("N")?.as_str()?.parse().ok()
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    if let (Some(x), Some(y)) = (number(a), number(b)) {
        return x.partial_cmp(&y);
    }
    match (
        a.get("S").and_then(Value::as_str),
        b.get("S").and_then(Value::as_str),
    ) {
        (Some(x), Some(y)) => Some(x.cmp(y)),
        _ => (a == b).then_some(std::cmp::Ordering::Equal),
    }
}

impl Cond {
    pub fn holds(&self, item: &Item) -> bool {
        match self {
            Cond::And(a, b) => a.holds(item) && b.holds(item),
            Cond::Or(a, b) => a.holds(item) || b.holds(item),
            Cond::Not(a) => !a.holds(item),
            Cond::Exists(p, exists) => item.contains_key(p) == *exists,
            Cond::BeginsWith(a, b) => match (value_of(a, item), value_of(b, item)) {
                (Some(a), Some(b)) => matches!(
                    (a.get("S").and_then(Value::as_str), b.get("S").and_then(Value::as_str)),
                    (Some(x), Some(y)) if x.starts_with(y)
                ),
                _ => false,
            },
            Cond::Cmp(a, op, b) => {
                let (Some(a), Some(b)) = (value_of(a, item), value_of(b, item)) else {
                    // A missing attribute compares false, `<>` included.
                    return false;
                };
                let ord = compare(&a, &b);
                match *op {
                    "=" => ord == Some(std::cmp::Ordering::Equal),
                    "<>" => ord != Some(std::cmp::Ordering::Equal),
                    "<" => ord == Some(std::cmp::Ordering::Less),
                    "<=" => matches!(ord, Some(o) if o.is_le()),
                    ">" => ord == Some(std::cmp::Ordering::Greater),
                    _ => matches!(ord, Some(o) if o.is_ge()),
                }
            }
            Cond::In(a, list) => {
                let Some(a) = value_of(a, item) else {
                    return false;
                };
                list.iter().any(|o| {
                    value_of(o, item)
                        .is_some_and(|v| compare(&a, &v) == Some(std::cmp::Ordering::Equal))
                })
            }
            Cond::Between(a, low, high) => {
                match (value_of(a, item), value_of(low, item), value_of(high, item)) {
                    (Some(a), Some(l), Some(h)) => {
                        matches!(compare(&a, &l), Some(o) if o.is_ge())
                            && matches!(compare(&a, &h), Some(o) if o.is_le())
                    }
                    _ => false,
                }
            }
        }
    }
}

#[derive(Debug, Clone)]
enum SetValue {
    Plain(Operand),
    Arith(Operand, bool, Operand),
    IfNotExists(String, Operand),
}

#[derive(Debug, Clone)]
enum Action {
    Set(String, SetValue),
    Remove(String),
    Add(String, Operand),
}

/// A parsed request: its condition (if any), its update (if any), with the
/// placeholders all checked.
pub struct Parsed {
    pub condition: Option<Cond>,
    actions: Vec<Action>,
}

/// Parses the condition and update of one request (they share placeholders).
pub fn parse(
    condition: Option<&str>,
    update: Option<&str>,
    names: &Names<'_>,
) -> Result<Parsed, String> {
    let mut used = HashMap::new();
    let condition = match condition {
        Some(text) => {
            let mut p = Parser::new(text, names)?;
            let c = p.condition()?;
            p.done()?;
            used.extend(p.used);
            Some(c)
        }
        None => None,
    };
    let mut actions = Vec::new();
    if let Some(text) = update {
        let mut p = Parser::new(text, names)?;
        p.used = used;
        while p.peek().is_some() {
            if p.keyword("SET") {
                loop {
                    let path = p.path()?;
                    p.expect("=")?;
                    let value = if p.keyword("if_not_exists") {
                        p.expect("(")?;
                        let q = p.path()?;
                        p.expect(",")?;
                        let v = p.operand()?;
                        p.expect(")")?;
                        SetValue::IfNotExists(q, v)
                    } else {
                        let a = p.operand()?;
                        if p.op("+") {
                            SetValue::Arith(a, true, p.operand()?)
                        } else if p.op("-") {
                            SetValue::Arith(a, false, p.operand()?)
                        } else {
                            SetValue::Plain(a)
                        }
                    };
                    actions.push(Action::Set(path, value));
                    if !p.op(",") {
                        break;
                    }
                }
            } else if p.keyword("REMOVE") {
                loop {
                    actions.push(Action::Remove(p.path()?));
                    if !p.op(",") {
                        break;
                    }
                }
            } else if p.keyword("ADD") {
                loop {
                    let path = p.path()?;
                    actions.push(Action::Add(path, p.operand()?));
                    if !p.op(",") {
                        break;
                    }
                }
            } else {
                return Err(format!("unsupported update clause {:?}", p.peek()));
            }
        }
        used = p.used;
    }
    let check = Parser {
        toks: Vec::new(),
        at: 0,
        names,
        used,
    };
    all_used(&check, names)?;
    Ok(Parsed { condition, actions })
}

fn arith(a: &Value, b: &Value, plus: bool) -> Result<Value, String> {
    let (Some(x), Some(y)) = (number(a), number(b)) else {
        return Err("an operand in the update expression has the wrong data type".into());
    };
    let r = if plus { x + y } else { x - y };
    Ok(serde_json::json!({ "N": format_number(r) }))
}

fn format_number(r: f64) -> String {
    if r.fract() == 0.0 && r.abs() < 1e15 {
        format!("{}", r as i64)
    } else {
        r.to_string()
    }
}

impl Parsed {
    /// Applies the update to `item` (all operands read from the item as it was).
    pub fn apply(&self, item: &mut Item) -> Result<(), String> {
        let before = item.clone();
        for a in &self.actions {
            match a {
                Action::Set(path, v) => {
                    let value = match v {
                        SetValue::Plain(o) => value_of(o, &before)
                            .ok_or("the update refers to a missing attribute")?,
                        SetValue::Arith(a, plus, b) => {
                            let a = value_of(a, &before)
                                .ok_or("the update refers to a missing attribute")?;
                            let b = value_of(b, &before)
                                .ok_or("the update refers to a missing attribute")?;
                            arith(&a, &b, *plus)?
                        }
                        SetValue::IfNotExists(q, o) => match before.get(q) {
                            Some(v) => v.clone(),
                            None => value_of(o, &before)
                                .ok_or("the update refers to a missing attribute")?,
                        },
                    };
                    item.insert(path.clone(), value);
                }
                Action::Remove(path) => {
                    item.remove(path);
                }
                Action::Add(path, o) => {
                    let delta = value_of(o, &before).ok_or("ADD without a value")?;
                    if number(&delta).is_none() {
                        return Err("ADD is supported on numbers only".into());
                    }
                    let value = match before.get(path) {
                        Some(v) => arith(v, &delta, true)?,
                        None => delta,
                    };
                    item.insert(path.clone(), value);
                }
            }
        }
        Ok(())
    }
}

/// The attributes a `ProjectionExpression` names.
pub fn projection(text: &str, names: &Names<'_>) -> Result<Vec<String>, String> {
    let mut p = Parser::new(text, names)?;
    let mut out = vec![p.path()?];
    while p.op(",") {
        out.push(p.path()?);
    }
    p.done()?;
    all_used(
        &p,
        &Names {
            names: names.names,
            values: None,
        },
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn claims_hold_only_on_a_queued_record_at_its_attempt() {
        let names = obj(json!({"#st": "state"}));
        let values = obj(json!({":queued": {"S": "queued"}, ":a": {"N": "1"},
            ":sending": {"S": "sending"}}));
        let n = Names {
            names: Some(&names),
            values: Some(&values),
        };
        let parsed = parse(
            Some("#st = :queued AND attempt = :a"),
            Some("SET #st = :sending"),
            &n,
        )
        .expect("parses");
        let mut item = obj(json!({"state": {"S": "queued"}, "attempt": {"N": "1"}}));
        assert!(parsed.condition.as_ref().is_some_and(|c| c.holds(&item)));
        parsed.apply(&mut item).expect("applies");
        assert_eq!(item["state"], json!({"S": "sending"}));
        assert!(!parsed.condition.as_ref().is_some_and(|c| c.holds(&item)));
        assert!(!parsed
            .condition
            .as_ref()
            .is_some_and(|c| c.holds(&Item::new())));
    }

    #[test]
    fn windows_add_up_to_their_limit() {
        let values = obj(json!({":want": {"N": "4"}, ":room": {"N": "6"}, ":exp": {"N": "9"}}));
        let n = Names {
            names: None,
            values: Some(&values),
        };
        let parsed = parse(
            Some("attribute_not_exists(used) OR used <= :room"),
            Some("ADD used :want SET expires_at = :exp"),
            &n,
        )
        .expect("parses");
        let cond = parsed.condition.clone().expect("a condition");
        let mut item = Item::new();
        for _ in 0..2 {
            assert!(cond.holds(&item));
            parsed.apply(&mut item).expect("applies");
        }
        assert_eq!(item["used"], json!({"N": "8"}));
        assert!(!cond.holds(&item));
    }

    #[test]
    fn unused_and_unknown_placeholders_are_refused() {
        let values = obj(json!({":a": {"N": "1"}, ":unused": {"N": "2"}}));
        let n = Names {
            names: None,
            values: Some(&values),
        };
        assert!(parse(Some("attempt = :a"), None, &n).is_err());
        assert!(parse(Some("attempt = :b"), None, &n).is_err());
        assert!(
            parse(Some("state = :a"), None, &n).is_err(),
            "a reserved word"
        );
        let not_in = obj(json!({":r": {"S": "x"}, ":l0": {"S": "delivered"}}));
        let n = Names {
            names: None,
            values: Some(&not_in),
        };
        let parsed = parse(
            Some("attribute_exists(serial) AND (attribute_not_exists(invite_ref) OR invite_ref = :r) AND NOT (invite_state IN (:l0))"),
            None,
            &n,
        )
        .expect("parses");
        let c = parsed.condition.expect("a condition");
        assert!(c.holds(&obj(json!({"serial": {"S": "A"}}))));
        assert!(!c.holds(&obj(
            json!({"serial": {"S": "A"}, "invite_state": {"S": "delivered"}})
        )));
        assert!(!c.holds(&obj(
            json!({"serial": {"S": "A"}, "invite_ref": {"S": "y"}})
        )));
    }
}
