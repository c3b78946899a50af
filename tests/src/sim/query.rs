//! RouterOS API `?` queries: a small stack machine, evaluated once per item.
//!
//! From MikroTik's API manual ("Queries"): evaluation starts with an empty stack; each query
//! word, in order, pushes one boolean or applies operations:
//!
//! | word          | effect                                                          |
//! |---------------|-----------------------------------------------------------------|
//! | `?name=x`     | push: the item has property `name` equal to `x` (`?=name=x` too) |
//! | `?name`       | push: the item has property `name`                              |
//! | `?-name`      | push: the item does not have property `name`                    |
//! | `?<name=x`    | push: the item's `name` is less than `x`                        |
//! | `?>name=x`    | push: the item's `name` is greater than `x`                     |
//! | `?#ops`       | apply each character of `ops`, left to right                    |
//!
//! Operations: `!` negates the top value; `&` pops two and pushes their AND; `|` pops two and
//! pushes their OR; `.` pushes a copy of the top value; a decimal index `N` (the top is 0)
//! pushes a copy of the value at `N` when more characters follow (a `.` right after an index
//! only ends it), and when the index ends the word it replaces the whole stack with that value.
//! After the last word every value left on the stack is ANDed (an empty stack matches all).
//!
//! The stack's depth does not depend on the item, so underflow and bad indexes are found once,
//! when the query is parsed, and answered with a `!trap` instead of a wrong result.

use hotspot_shared::routeros::Attributes;
use hotspot_shared::units::RosDuration;

/// Why a query was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("malformed query word {0:?}")]
    Malformed(String),
    #[error("query stack underflow at {0:?}")]
    Underflow(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Eq(Vec<u8>, Vec<u8>),
    Has(Vec<u8>),
    Lacks(Vec<u8>),
    Less(Vec<u8>, Vec<u8>),
    Greater(Vec<u8>, Vec<u8>),
    Stack(Vec<StackOp>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StackOp {
    Not,
    And,
    Or,
    Dup,
    /// Push a copy of the value at this index from the top.
    Pick(usize),
    /// Replace the stack with the value at this index from the top.
    Keep(usize),
}

/// A parsed query: the list of its words' operations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    ops: Vec<Op>,
}

fn shown(w: &[u8]) -> String {
    String::from_utf8_lossy(w).into_owned()
}

fn split_eq(rest: &[u8], word: &[u8]) -> Result<(Vec<u8>, Vec<u8>), QueryError> {
    let eq = rest
        .iter()
        .position(|&b| b == b'=')
        .ok_or_else(|| QueryError::Malformed(shown(word)))?;
    if eq == 0 {
        return Err(QueryError::Malformed(shown(word)));
    }
    Ok((rest[..eq].to_vec(), rest[eq + 1..].to_vec()))
}

fn parse_stack_ops(ops: &[u8], word: &[u8]) -> Result<Vec<StackOp>, QueryError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < ops.len() {
        let c = ops[i];
        if c.is_ascii_digit() {
            let start = i;
            while i < ops.len() && ops[i].is_ascii_digit() {
                i += 1;
            }
            let n: usize = std::str::from_utf8(&ops[start..i])
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| QueryError::Malformed(shown(word)))?;
            if i == ops.len() {
                out.push(StackOp::Keep(n));
            } else {
                out.push(StackOp::Pick(n));
                if ops[i] == b'.' {
                    i += 1; // a `.` after an index only ends the index
                }
            }
            continue;
        }
        out.push(match c {
            b'!' => StackOp::Not,
            b'&' => StackOp::And,
            b'|' => StackOp::Or,
            b'.' => StackOp::Dup,
            _ => return Err(QueryError::Malformed(shown(word))),
        });
        i += 1;
    }
    Ok(out)
}

impl Query {
    /// Parses query words (without their `?`), checking the stack never underflows.
    pub fn parse(words: &[Vec<u8>]) -> Result<Query, QueryError> {
        let mut ops = Vec::with_capacity(words.len());
        let mut depth = 0usize;
        for w in words {
            let op = match w.first() {
                None => return Err(QueryError::Malformed(String::new())),
                Some(b'#') => Op::Stack(parse_stack_ops(&w[1..], w)?),
                Some(b'-') if w.len() > 1 => Op::Lacks(w[1..].to_vec()),
                Some(b'<') => split_eq(&w[1..], w).map(|(k, v)| Op::Less(k, v))?,
                Some(b'>') => split_eq(&w[1..], w).map(|(k, v)| Op::Greater(k, v))?,
                Some(b'=') => split_eq(&w[1..], w).map(|(k, v)| Op::Eq(k, v))?,
                Some(_) if w.contains(&b'=') => split_eq(w, w).map(|(k, v)| Op::Eq(k, v))?,
                Some(_) => Op::Has(w.clone()),
            };
            depth = match &op {
                Op::Stack(sops) => {
                    let mut d = depth;
                    for s in sops {
                        d = match *s {
                            StackOp::Not if d >= 1 => d,
                            StackOp::And | StackOp::Or if d >= 2 => d - 1,
                            StackOp::Dup if d >= 1 => d + 1,
                            StackOp::Pick(n) if n < d => d + 1,
                            StackOp::Keep(n) if n < d => 1,
                            _ => return Err(QueryError::Underflow(shown(w))),
                        };
                    }
                    d
                }
                _ => depth + 1,
            };
            ops.push(op);
        }
        Ok(Query { ops })
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Whether `item` is selected.
    pub fn matches(&self, item: &Attributes) -> bool {
        let mut stack: Vec<bool> = Vec::with_capacity(self.ops.len());
        for op in &self.ops {
            match op {
                Op::Eq(k, v) => stack.push(get(item, k).is_some_and(|have| equal(have, v))),
                Op::Has(k) => stack.push(get(item, k).is_some()),
                Op::Lacks(k) => stack.push(get(item, k).is_none()),
                Op::Less(k, v) => {
                    stack.push(get(item, k).is_some_and(|have| compare(have, v).is_lt()))
                }
                Op::Greater(k, v) => {
                    stack.push(get(item, k).is_some_and(|have| compare(have, v).is_gt()))
                }
                Op::Stack(sops) => {
                    for s in sops {
                        apply(&mut stack, *s);
                    }
                }
            }
        }
        stack.iter().all(|&b| b)
    }
}

/// Applies one stack operation; depths were checked in [`Query::parse`], so a short stack
/// here is impossible, and treated as "no match" rather than trusted.
fn apply(stack: &mut Vec<bool>, op: StackOp) {
    let at = |stack: &Vec<bool>, n: usize| {
        stack
            .len()
            .checked_sub(n + 1)
            .and_then(|i| stack.get(i).copied())
    };
    match op {
        StackOp::Not => {
            if let Some(top) = stack.last_mut() {
                *top = !*top;
            }
        }
        StackOp::And | StackOp::Or => {
            let (a, b) = (stack.pop().unwrap_or(false), stack.pop().unwrap_or(false));
            stack.push(if op == StackOp::And { a && b } else { a || b });
        }
        StackOp::Dup => stack.push(stack.last().copied().unwrap_or(false)),
        StackOp::Pick(n) => stack.push(at(stack, n).unwrap_or(false)),
        StackOp::Keep(n) => {
            let v = at(stack, n).unwrap_or(false);
            stack.clear();
            stack.push(v);
        }
    }
}

fn get<'a>(item: &'a Attributes, key: &[u8]) -> Option<&'a [u8]> {
    item.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
}

fn number(v: &[u8]) -> Option<i128> {
    std::str::from_utf8(v).ok()?.parse().ok()
}

fn duration(v: &[u8]) -> Option<u64> {
    RosDuration::parse(std::str::from_utf8(v).ok()?)
        .ok()
        .map(RosDuration::as_secs)
}

fn boolean(v: &[u8]) -> Option<bool> {
    match v {
        b"yes" | b"true" => Some(true),
        b"no" | b"false" => Some(false),
        _ => None,
    }
}

/// Equality as the router sees it: same bytes, or the same typed value (`yes` is `true`,
/// `01:00:00` is `1h`).
fn equal(have: &[u8], want: &[u8]) -> bool {
    if have == want {
        return true;
    }
    if let (Some(a), Some(b)) = (boolean(have), boolean(want)) {
        return a == b;
    }
    matches!((duration(have), duration(want)), (Some(a), Some(b)) if a == b)
}

/// Order: numbers as numbers, durations as durations, anything else bytewise.
fn compare(have: &[u8], want: &[u8]) -> std::cmp::Ordering {
    if let (Some(a), Some(b)) = (number(have), number(want)) {
        return a.cmp(&b);
    }
    if let (Some(a), Some(b)) = (duration(have), duration(want)) {
        return a.cmp(&b);
    }
    have.cmp(want)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pairs: &[(&str, &str)]) -> Attributes {
        pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    fn q(words: &[&str]) -> Query {
        Query::parse(
            &words
                .iter()
                .map(|w| w.as_bytes().to_vec())
                .collect::<Vec<_>>(),
        )
        .expect("valid query")
    }

    #[test]
    fn simple_words() {
        let ether = item(&[("type", "ether"), ("mtu", "1500"), ("uptime", "1h")]);
        let vlan = item(&[("type", "vlan"), ("mtu", "1496")]);
        assert!(q(&[]).matches(&ether));
        assert!(q(&["type=ether"]).matches(&ether) && !q(&["type=ether"]).matches(&vlan));
        assert!(q(&["=type=vlan"]).matches(&vlan));
        assert!(q(&["uptime"]).matches(&ether) && !q(&["uptime"]).matches(&vlan));
        assert!(q(&["-uptime"]).matches(&vlan) && !q(&["-uptime"]).matches(&ether));
        assert!(q(&["<mtu=1500"]).matches(&vlan) && !q(&["<mtu=1500"]).matches(&ether));
        assert!(q(&[">mtu=1496"]).matches(&ether));
        assert!(
            q(&[">uptime=30m"]).matches(&ether),
            "durations compare as durations"
        );
        assert!(q(&["uptime=01:00:00"]).matches(&ether));
        assert!(
            !q(&["<mtu=1500"]).matches(&item(&[("type", "x")])),
            "missing property never compares"
        );
    }

    #[test]
    fn stack_operations_from_the_manual() {
        let ether = item(&[("type", "ether")]);
        let vlan = item(&[("type", "vlan")]);
        let bridge = item(&[("type", "bridge")]);
        // Either type: OR.
        let either = q(&["type=ether", "type=vlan", "#|"]);
        assert!(either.matches(&ether) && either.matches(&vlan) && !either.matches(&bridge));
        // Neither: OR then NOT.
        let neither = q(&["type=ether", "type=vlan", "#|!"]);
        assert!(!neither.matches(&ether) && neither.matches(&bridge));
        // Remaining values are ANDed.
        let both = q(&["type=ether", "type"]);
        assert!(both.matches(&ether) && !both.matches(&item(&[])));
        // Explicit AND.
        assert!(!q(&["type=ether", "type=vlan", "#&"]).matches(&ether));
        // Dup then NOT: x AND NOT x is never true.
        assert!(!q(&["type=ether", "#.!"]).matches(&ether));
        // Index at the end keeps only that value: stack [ether?, vlan?] → keep index 1 (ether?).
        let keep = q(&["type=ether", "type=vlan", "#1"]);
        assert!(keep.matches(&ether) && !keep.matches(&vlan));
        // Index followed by more: push a copy. [e, v] → pick 1 → [e, v, e] → | → [e, v|e] → & .
        let pick = q(&["type=ether", "type=vlan", "#1.|&"]);
        assert!(pick.matches(&ether) && !pick.matches(&vlan));
    }

    #[test]
    fn bad_queries_are_refused() {
        let parse = |ws: &[&str]| {
            Query::parse(&ws.iter().map(|w| w.as_bytes().to_vec()).collect::<Vec<_>>())
        };
        assert!(matches!(parse(&["#|"]), Err(QueryError::Underflow(_))));
        assert!(matches!(
            parse(&["a=1", "#!&"]),
            Err(QueryError::Underflow(_))
        ));
        assert!(matches!(
            parse(&["a=1", "#3"]),
            Err(QueryError::Underflow(_))
        ));
        assert!(matches!(
            parse(&["a=1", "#x"]),
            Err(QueryError::Malformed(_))
        ));
        assert!(matches!(
            parse(&["<novalue"]),
            Err(QueryError::Malformed(_))
        ));
    }
}
