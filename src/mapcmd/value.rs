//! A map key or value as people read and write it: numbers, names,
//! strings, lists and `{field: value}` structs. The same tree is printed
//! (text or JSON) and parsed from the command line.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An integer (wide enough for u64 and i64 alike).
    Num(i128),
    Bool(bool),
    /// An enum constant (or any bare word on input).
    Name(String),
    /// A quoted string (char arrays; MACs and hex bytes on input).
    Str(String),
    /// Raw bytes in hex, for maps without BTF: `01 00 00 00`.
    Hex(String),
    List(Vec<Value>),
    /// A struct or union, fields in declaration order.
    Fields(Vec<(String, Value)>),
}

impl Value {
    /// The compact text form: `{rx_packets: 5, rx_bytes: 590}`.
    pub fn text(&self) -> String {
        match self {
            Value::Num(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Name(n) => n.clone(),
            Value::Str(s) => format!("{s:?}"),
            Value::Hex(h) => h.clone(),
            Value::List(items) => {
                let items: Vec<String> = items.iter().map(Value::text).collect();
                format!("[{}]", items.join(", "))
            }
            Value::Fields(fields) => {
                let fields: Vec<String> = fields
                    .iter()
                    .map(|(name, v)| format!("{name}: {}", v.text()))
                    .collect();
                format!("{{{}}}", fields.join(", "))
            }
        }
    }

    /// Adds `other` into `self` where both are numbers (per-CPU sums);
    /// anything else keeps `self`'s value.
    pub fn add(&mut self, other: &Value) {
        match (self, other) {
            (Value::Num(a), Value::Num(b)) => *a += b,
            (Value::List(a), Value::List(b)) => a.iter_mut().zip(b).for_each(|(x, y)| x.add(y)),
            (Value::Fields(a), Value::Fields(b)) => {
                a.iter_mut().zip(b).for_each(|((_, x), (_, y))| x.add(y))
            }
            _ => {}
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            // JSON numbers beyond 64 bits would lose digits: strings then.
            Value::Num(n) => match (u64::try_from(*n), i64::try_from(*n)) {
                (Ok(u), _) => s.serialize_u64(u),
                (_, Ok(i)) => s.serialize_i64(i),
                _ => s.serialize_str(&n.to_string()),
            },
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Name(n) | Value::Str(n) | Value::Hex(n) => s.serialize_str(n),
            Value::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Fields(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (name, value) in fields {
                    map.serialize_entry(name, value)?;
                }
                map.end()
            }
        }
    }
}

/// Parses what a user typed for a key or value: JSON, or the same with
/// bare field names (`{rx_packets: 0, rx_bytes: 0}`), numbers in decimal
/// or 0x hex (negative too), bare words, "strings" and [lists].
pub fn parse(text: &str) -> Result<Value, String> {
    let mut parser = Parser {
        text: text.as_bytes(),
        at: 0,
    };
    let value = parser.value()?;
    parser.skip_space();
    if parser.at < parser.text.len() {
        return Err(format!(
            "unexpected '{}' at position {} of {text:?}",
            parser.text[parser.at] as char,
            parser.at + 1
        ));
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while self.text.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.text.get(self.at).copied()
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        match self.peek() {
            Some(b) if b == byte => {
                self.at += 1;
                Ok(())
            }
            Some(b) => Err(format!(
                "expected '{}' at position {}, found '{}'",
                byte as char,
                self.at + 1,
                b as char
            )),
            None => Err(format!("expected '{}', the text ended", byte as char)),
        }
    }

    /// Is the next character `close`? An error if the text ends first.
    fn at_close(&mut self, close: u8) -> Result<bool, String> {
        match self.peek() {
            Some(b) => Ok(b == close),
            None => Err(format!("expected '{}', the text ended", close as char)),
        }
    }

    fn value(&mut self) -> Result<Value, String> {
        match self.peek() {
            None => Err("nothing given".into()),
            Some(b'{') => self.fields(),
            Some(b'[') => self.list(),
            Some(b'"') => self.string().map(Value::Str),
            Some(_) => self.word(),
        }
    }

    fn fields(&mut self) -> Result<Value, String> {
        self.expect(b'{')?;
        let mut fields = Vec::new();
        while !self.at_close(b'}')? {
            let name = match self.peek() {
                Some(b'"') => self.string()?,
                _ => match self.word()? {
                    Value::Name(name) => name,
                    other => return Err(format!("a field name, not {}", other.text())),
                },
            };
            if fields.iter().any(|(given, _)| *given == name) {
                return Err(format!("field '{name}' is given twice"));
            }
            self.expect(b':')?;
            fields.push((name, self.value()?));
            if self.peek() == Some(b',') {
                self.at += 1;
            }
        }
        self.expect(b'}')?;
        Ok(Value::Fields(fields))
    }

    fn list(&mut self) -> Result<Value, String> {
        self.expect(b'[')?;
        let mut items = Vec::new();
        while !self.at_close(b']')? {
            items.push(self.value()?);
            if self.peek() == Some(b',') {
                self.at += 1;
            }
        }
        self.expect(b']')?;
        Ok(Value::List(items))
    }

    fn string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let start = self.at;
        while self.text.get(self.at).is_some_and(|&b| b != b'"') {
            self.at += 1;
        }
        let text = String::from_utf8_lossy(&self.text[start..self.at]).into_owned();
        self.expect(b'"')?;
        Ok(text)
    }

    /// A number, `true`/`false`, or a bare word (field or enum name, a MAC).
    fn word(&mut self) -> Result<Value, String> {
        let start = self.at;
        while let Some(&b) = self.text.get(self.at) {
            let ends_word = b.is_ascii_whitespace() || b",:{}[]\"".contains(&b);
            if ends_word && !(b == b':' && self.mac_colon(start)) {
                break;
            }
            self.at += 1;
        }
        let word = std::str::from_utf8(&self.text[start..self.at]).unwrap_or_default();
        if word.is_empty() {
            return Err(format!("unexpected character at position {}", self.at + 1));
        }
        Ok(match word {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => number(word).map_or_else(|| Value::Name(word.to_string()), Value::Num),
        })
    }

    /// A ':' inside a word like `aa:bb:cc:dd:ee:ff` belongs to it (a MAC:
    /// pairs of hex digits so far, two more after it); one after a field
    /// name does not.
    fn mac_colon(&self, start: usize) -> bool {
        let so_far = &self.text[start..self.at];
        let pairs = so_far.len() % 3 == 2
            && so_far.iter().enumerate().all(|(i, b)| {
                if i % 3 == 2 {
                    *b == b':'
                } else {
                    b.is_ascii_hexdigit()
                }
            });
        let next_pair = self
            .text
            .get(self.at + 1..self.at + 3)
            .is_some_and(|pair| pair.iter().all(u8::is_ascii_hexdigit));
        pairs && next_pair
    }
}

/// `42`, `-7`, `0x2a`: the number, if the word is one.
pub fn number(word: &str) -> Option<i128> {
    let (negative, digits) = match word.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, word),
    };
    let magnitude = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => i128::from_str_radix(hex, 16).ok()?,
        None => digits.parse::<i128>().ok()?,
    };
    Some(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(list: &[(&str, Value)]) -> Value {
        Value::Fields(
            list.iter()
                .map(|(n, v)| (n.to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn relaxed_and_strict_json_parse_the_same() {
        let want = fields(&[
            ("rx_packets", Value::Num(5)),
            ("rx_bytes", Value::Num(0x2a)),
        ]);
        assert_eq!(parse("{rx_packets: 5, rx_bytes: 0x2a}").unwrap(), want);
        assert_eq!(parse(r#"{"rx_packets": 5, "rx_bytes": 42}"#).unwrap(), want);
        assert_eq!(parse(" -3 ").unwrap(), Value::Num(-3));
        assert_eq!(
            parse("[1, two, \"three\"]").unwrap(),
            Value::List(vec![
                Value::Num(1),
                Value::Name("two".into()),
                Value::Str("three".into())
            ])
        );
    }

    #[test]
    fn macs_stay_one_word_even_as_field_values() {
        assert_eq!(
            parse("aa:bb:cc:00:11:22").unwrap(),
            Value::Name("aa:bb:cc:00:11:22".into())
        );
        assert_eq!(
            parse("{mac: 02:00:00:00:00:01}").unwrap(),
            fields(&[("mac", Value::Name("02:00:00:00:00:01".into()))])
        );
    }

    #[test]
    fn errors_say_where() {
        assert!(parse("{a: 1").unwrap_err().contains("ended"));
        assert!(parse("1 2").unwrap_err().contains("position 3"));
        assert!(parse("").unwrap_err().contains("nothing"));
        // A repeated field was silently the first one given.
        assert_eq!(
            parse("{rx_packets: 1, rx_packets: 2}").unwrap_err(),
            "field 'rx_packets' is given twice"
        );
        assert!(parse(r#"{"a": 1, a: 2}"#).unwrap_err().contains("twice"));
    }

    #[test]
    fn text_json_and_sums() {
        let mut v = fields(&[
            ("a", Value::Num(1)),
            ("b", Value::List(vec![Value::Num(2)])),
        ]);
        assert_eq!(v.text(), "{a: 1, b: [2]}");
        assert_eq!(serde_json::to_string(&v).unwrap(), r#"{"a":1,"b":[2]}"#);
        v.add(&fields(&[
            ("a", Value::Num(10)),
            ("b", Value::List(vec![Value::Num(20)])),
        ]));
        assert_eq!(v.text(), "{a: 11, b: [22]}");
    }
}
