//! The shape of a map's keys and values, read from the map's BTF: turns
//! raw bytes into a `Value` and a typed-in `Value` back into bytes. Maps
//! without BTF (or types BTF cannot describe here) use hex bytes.

use libbpf_rs::btf::types::{Array, Composite, Enum, Enum64, Int, IntEncoding, MemberAttr};
use libbpf_rs::btf::{Btf, BtfKind, BtfType, HasSize, TypeId};

use super::value::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Layout {
    /// An integer of 1, 2, 4, 8 or 16 bytes.
    Int {
        size: usize,
        signed: bool,
        boolean: bool,
    },
    /// An enum, shown by the names of its constants.
    Enum {
        size: usize,
        signed: bool,
        names: Vec<(String, i64)>,
    },
    /// A struct or union (union members all at offset 0).
    Struct { size: usize, fields: Vec<Member> },
    /// `elem[len]`; an array of chars is shown as a string.
    Array {
        elem: Box<Layout>,
        len: usize,
        chars: bool,
    },
    /// Anything else, and maps without BTF: hex bytes.
    Bytes { size: usize },
    /// A map-in-map value: the inner map, as its id.
    MapId,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub name: String,
    pub offset_bits: usize,
    /// Set for bitfields.
    pub bits: Option<u8>,
    pub layout: Layout,
}

/// How deep struct-in-array-in-struct may nest before we give up (BTF
/// from the kernel is well-formed, but a loop would never end).
const MAX_DEPTH: usize = 16;

impl Layout {
    pub fn size(&self) -> usize {
        match self {
            Layout::Int { size, .. }
            | Layout::Enum { size, .. }
            | Layout::Struct { size, .. }
            | Layout::Bytes { size } => *size,
            Layout::Array { elem, len, .. } => elem.size() * len,
            Layout::MapId => 4,
        }
    }

    /// The layout of BTF type `id`, if it describes exactly `size` bytes.
    pub fn from_btf(btf: &Btf, id: u32, size: usize) -> Option<Layout> {
        let ty = btf.type_by_id::<BtfType>(TypeId::from(id))?;
        let layout = of_type(btf, ty, 0)?;
        (layout.size() == size).then_some(layout)
    }

    /// Raw bytes → what to show.
    pub fn decode(&self, bytes: &[u8]) -> Value {
        match self {
            Layout::Int {
                size,
                signed,
                boolean,
            } => {
                let n = read_int(bytes, *size, *signed);
                if *boolean {
                    Value::Bool(n != 0)
                } else {
                    Value::Num(n)
                }
            }
            Layout::Enum {
                size,
                signed,
                names,
            } => {
                let n = read_int(bytes, *size, *signed);
                names
                    .iter()
                    .find(|(_, v)| i128::from(*v) == n)
                    .map_or(Value::Num(n), |(name, _)| Value::Name(name.clone()))
            }
            Layout::Struct { fields, .. } => Value::Fields(
                fields
                    .iter()
                    .map(|m| (m.name.clone(), m.decode(bytes)))
                    .collect(),
            ),
            Layout::Array { elem, len, chars } => {
                let step = elem.size();
                let items = bytes.chunks(step.max(1)).take(*len);
                if *chars {
                    let text: Vec<u8> = items.map(|c| c[0]).take_while(|&b| b != 0).collect();
                    return Value::Str(String::from_utf8_lossy(&text).into_owned());
                }
                Value::List(items.map(|chunk| elem.decode(chunk)).collect())
            }
            Layout::Bytes { .. } => Value::Hex(hex(bytes)),
            Layout::MapId => Value::Fields(vec![(
                "map_id".to_string(),
                Value::Num(read_int(bytes, 4, false)),
            )]),
        }
    }

    /// What the user typed → raw bytes. Struct fields not given are zero
    /// (their names are added to `zeroed`).
    pub fn encode(&self, value: &Value, zeroed: &mut Vec<String>) -> Result<Vec<u8>, String> {
        let mut out = vec![0u8; self.size()];
        self.encode_into(value, &mut out, "", zeroed)?;
        Ok(out)
    }

    fn encode_into(
        &self,
        value: &Value,
        out: &mut [u8],
        path: &str,
        zeroed: &mut Vec<String>,
    ) -> Result<(), String> {
        let at = |what: &str| match path {
            "" => what.to_string(),
            _ => format!("{path}: {what}"),
        };
        match (self, value) {
            (Layout::Int { size, signed, .. }, Value::Num(n)) => write_int(out, *size, *signed, *n)
                .map_err(|range| at(&format!("{n} does not fit ({range})"))),
            (Layout::Int { size, .. }, Value::Bool(b)) => {
                write_int(out, *size, false, i128::from(*b)).map_err(|e| at(&e))
            }
            (Layout::Enum { size, names, .. }, Value::Name(name)) => {
                let Some((_, v)) = names.iter().find(|(n, _)| n == name) else {
                    let known: Vec<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
                    return Err(at(&format!("'{name}' is not one of {}", known.join(", "))));
                };
                write_int(out, *size, true, i128::from(*v)).map_err(|e| at(&e))
            }
            (Layout::Enum { size, signed, .. }, Value::Num(n)) => {
                write_int(out, *size, *signed, *n).map_err(|e| at(&e))
            }
            (Layout::Struct { fields, .. }, Value::Fields(given)) => {
                if let Some((unknown, _)) = given
                    .iter()
                    .find(|(name, _)| !fields.iter().any(|m| &m.name == name))
                {
                    let names: Vec<&str> = fields.iter().map(|m| m.name.as_str()).collect();
                    return Err(at(&format!(
                        "no field '{unknown}' (fields: {})",
                        names.join(", ")
                    )));
                }
                for member in fields {
                    let here = if path.is_empty() {
                        member.name.clone()
                    } else {
                        format!("{path}.{}", member.name)
                    };
                    match given.iter().find(|(name, _)| *name == member.name) {
                        Some((_, v)) => member.encode_into(v, out, &here, zeroed)?,
                        None => zeroed.push(here),
                    }
                }
                Ok(())
            }
            (Layout::Array { elem, len, .. }, Value::List(items)) => {
                if items.len() > *len {
                    return Err(at(&format!("{} items, the array holds {len}", items.len())));
                }
                let step = elem.size();
                for (i, item) in items.iter().enumerate() {
                    let here = format!("{path}[{i}]");
                    elem.encode_into(item, &mut out[i * step..(i + 1) * step], &here, zeroed)?;
                }
                Ok(())
            }
            // "hello" into char[16]; "aa:bb:cc:dd:ee:ff" or "01 02" into u8[N].
            (
                Layout::Array {
                    chars: true, len, ..
                },
                Value::Str(text),
            ) => {
                if text.len() > *len {
                    return Err(at(&format!("{} bytes, the array holds {len}", text.len())));
                }
                out[..text.len()].copy_from_slice(text.as_bytes());
                Ok(())
            }
            // Bytes: u8[N] (a MAC, say) or a blob without BTF.
            (layout, Value::Str(text) | Value::Name(text) | Value::Hex(text))
                if layout.is_bytes() =>
            {
                let bytes = parse_hex(text).map_err(|e| at(&e))?;
                if bytes.len() != out.len() {
                    let (given, needed) = (bytes.len(), out.len());
                    return Err(at(&format!("{given} bytes given, {needed} needed")));
                }
                out.copy_from_slice(&bytes);
                Ok(())
            }
            // A number for a byte blob of integer size: native byte order.
            (Layout::Bytes { size }, Value::Num(n)) if matches!(size, 1 | 2 | 4 | 8) => {
                write_int(out, *size, *n < 0, *n).map_err(|e| at(&e))
            }
            (layout, value) => Err(at(&format!("{} cannot be {}", layout.what(), value.text()))),
        }
    }

    /// Raw bytes: a blob without BTF, or an array of 1-byte integers.
    fn is_bytes(&self) -> bool {
        match self {
            Layout::Bytes { .. } => true,
            Layout::Array { elem, chars, .. } => !chars && elem.size() == 1,
            _ => false,
        }
    }

    /// A word for error messages.
    fn what(&self) -> String {
        match self {
            Layout::Int { size, .. } => format!("a {}-byte integer", size),
            Layout::Enum { .. } => "an enum".into(),
            Layout::Struct { .. } => "a struct ({field: value, ...})".into(),
            Layout::Array { len, .. } => format!("an array of {len} ([a, b, ...])"),
            Layout::Bytes { size } => format!("{size} bytes (hex, e.g. \"01 02\")"),
            Layout::MapId => "a map (id:N, a pin path or IFNAME:NAME)".into(),
        }
    }
}

impl Member {
    fn decode(&self, whole: &[u8]) -> Value {
        let start = self.offset_bits / 8;
        let bytes = whole
            .get(start..start + self.layout.size())
            .unwrap_or_default();
        match self.bits {
            Some(bits) => {
                // A bitfield: `bits` bits from bit `offset_bits` on.
                let raw = read_int(whole.get(start..).unwrap_or_default(), 8, false);
                let shift = self.offset_bits % 8;
                Value::Num((raw >> shift) & ((1i128 << bits) - 1))
            }
            None => self.layout.decode(bytes),
        }
    }

    fn encode_into(
        &self,
        value: &Value,
        out: &mut [u8],
        path: &str,
        zeroed: &mut Vec<String>,
    ) -> Result<(), String> {
        if self.bits.is_some() {
            return Err(format!("{path}: writing bitfields is not supported"));
        }
        let start = self.offset_bits / 8;
        let end = start + self.layout.size();
        self.layout
            .encode_into(value, &mut out[start..end], path, zeroed)
    }
}

fn of_type(btf: &Btf, ty: BtfType, depth: usize) -> Option<Layout> {
    if depth > MAX_DEPTH {
        return None;
    }
    let ty = ty.skip_mods_and_typedefs();
    Some(match ty.kind() {
        BtfKind::Int => {
            let int = Int::try_from(ty).ok()?;
            Layout::Int {
                size: int.size(),
                signed: matches!(int.encoding, IntEncoding::Signed),
                boolean: matches!(int.encoding, IntEncoding::Bool),
            }
        }
        BtfKind::Enum => {
            let e = Enum::try_from(ty).ok()?;
            Layout::Enum {
                size: e.size(),
                signed: e.is_signed(),
                names: e.iter().map(|m| (lossy(m.name), m.value)).collect(),
            }
        }
        BtfKind::Enum64 => {
            let e = Enum64::try_from(ty).ok()?;
            Layout::Enum {
                size: e.size(),
                signed: e.is_signed(),
                names: e.iter().map(|m| (lossy(m.name), m.value as i64)).collect(),
            }
        }
        BtfKind::Struct | BtfKind::Union => {
            let c = Composite::try_from(ty).ok()?;
            let fields = c
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let (offset_bits, bits) = match m.attr {
                        MemberAttr::Normal { offset } => (offset as usize, None),
                        MemberAttr::BitField { size, offset } => (offset as usize, Some(size)),
                    };
                    let member_ty = btf.type_by_id::<BtfType>(m.ty)?;
                    Some(Member {
                        name: m
                            .name
                            .map_or_else(|| format!("_{i}"), |n| n.to_string_lossy().into_owned()),
                        offset_bits,
                        bits,
                        layout: of_type(btf, member_ty, depth + 1)?,
                    })
                })
                .collect::<Option<Vec<_>>>()?;
            Layout::Struct {
                size: c.size(),
                fields,
            }
        }
        BtfKind::Array => {
            let a = Array::try_from(ty).ok()?;
            let elem = of_type(btf, a.contained_type(), depth + 1)?;
            let chars = matches!(&elem, Layout::Int { size: 1, .. })
                && Int::try_from(a.contained_type().skip_mods_and_typedefs())
                    .is_ok_and(|i| matches!(i.encoding, IntEncoding::Char));
            Layout::Array {
                elem: Box::new(elem),
                len: a.capacity(),
                chars,
            }
        }
        BtfKind::Ptr => Layout::Bytes { size: 8 },
        _ => return None,
    })
}

fn lossy(name: Option<&std::ffi::OsStr>) -> String {
    name.map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// An integer of `size` bytes in this machine's byte order.
fn read_int(bytes: &[u8], size: usize, signed: bool) -> i128 {
    let mut buf = [0u8; 16];
    let n = size.min(bytes.len()).min(16);
    buf[..n].copy_from_slice(&bytes[..n]);
    let unsigned = u128::from_ne_bytes(buf);
    if !signed || n == 0 || n == 16 {
        return unsigned as i128;
    }
    // Sign-extend from n bytes.
    let shift = 128 - 8 * n as u32;
    ((unsigned << shift) as i128) >> shift
}

/// Writes `n` into `size` bytes; Err names the range when it does not fit.
fn write_int(out: &mut [u8], size: usize, signed: bool, n: i128) -> Result<(), String> {
    let bits = 8 * size as u32;
    let (min, max) = match (signed, bits) {
        (_, 128) => (i128::MIN, i128::MAX),
        (true, _) => (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1),
        (false, _) => (0, (1i128 << bits) - 1),
    };
    // A signed field also takes its unsigned spelling (0xffffffff for -1).
    let unsigned_max = if bits < 128 {
        (1i128 << bits) - 1
    } else {
        i128::MAX
    };
    if n < 0 && !signed {
        // Not stored as its two's complement: -5 would read back as 2^64 - 5.
        return Err(format!("the field is unsigned: {min}..={max}"));
    }
    if n < min || n > max.max(if signed { unsigned_max } else { max }) {
        return Err(format!("{min}..={max}"));
    }
    out[..size].copy_from_slice(&n.to_ne_bytes()[..size]);
    Ok(())
}

/// `01 02 0a` or `aa:bb:cc` or `0x0102` → bytes.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: String = text
        .trim_start_matches("0x")
        .chars()
        .filter(|c| !matches!(c, ' ' | ':' | '-' | ','))
        .collect();
    if digits.len() % 2 != 0 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!(
            "'{text}' is not hex bytes (like \"01 00 00 00\" or aa:bb:cc:dd:ee:ff)"
        ));
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).map_err(|e| e.to_string()))
        .collect()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(size: usize) -> Layout {
        Layout::Int {
            size,
            signed: false,
            boolean: false,
        }
    }

    /// struct datarec { __u64 rx_packets; __u64 rx_bytes; }
    fn datarec() -> Layout {
        Layout::Struct {
            size: 16,
            fields: vec![
                Member {
                    name: "rx_packets".into(),
                    offset_bits: 0,
                    bits: None,
                    layout: u(8),
                },
                Member {
                    name: "rx_bytes".into(),
                    offset_bits: 64,
                    bits: None,
                    layout: u(8),
                },
            ],
        }
    }

    #[test]
    fn structs_round_trip() {
        let mut bytes = 5u64.to_ne_bytes().to_vec();
        bytes.extend_from_slice(&590u64.to_ne_bytes());
        let value = datarec().decode(&bytes);
        assert_eq!(value.text(), "{rx_packets: 5, rx_bytes: 590}");
        let mut zeroed = Vec::new();
        assert_eq!(datarec().encode(&value, &mut zeroed).unwrap(), bytes);
        assert!(zeroed.is_empty());
    }

    #[test]
    fn missing_fields_are_zero_and_named() {
        let mut zeroed = Vec::new();
        let partial = super::super::value::parse("{rx_packets: 1}").unwrap();
        let bytes = datarec().encode(&partial, &mut zeroed).unwrap();
        assert_eq!(&bytes[..8], &1u64.to_ne_bytes());
        assert_eq!(&bytes[8..], &[0; 8]);
        assert_eq!(zeroed, vec!["rx_bytes".to_string()]);
    }

    #[test]
    fn wrong_values_are_explained() {
        let mut z = Vec::new();
        let err = datarec()
            .encode(&super::super::value::parse("{rx_pkts: 1}").unwrap(), &mut z)
            .unwrap_err();
        assert!(
            err.contains("no field 'rx_pkts'") && err.contains("rx_packets"),
            "{err}"
        );
        let err = u(1).encode(&Value::Num(300), &mut z).unwrap_err();
        assert!(err.contains("0..=255"), "{err}");
        // Negative numbers are refused by unsigned fields of every width
        // (once -5 became 18446744073709551611 in a u64).
        for size in [1, 2, 4, 8] {
            let err = u(size).encode(&Value::Num(-5), &mut z).unwrap_err();
            assert!(
                err.contains("-5 does not fit (the field is unsigned"),
                "{err}"
            );
        }
        let err = u(4).encode(&Value::Fields(vec![]), &mut z).unwrap_err();
        assert!(err.contains("a 4-byte integer cannot be {}"), "{err}");
    }

    #[test]
    fn signed_ints_and_enums() {
        let i32_ = Layout::Int {
            size: 4,
            signed: true,
            boolean: false,
        };
        let bytes = (-3i32).to_ne_bytes();
        assert_eq!(i32_.decode(&bytes), Value::Num(-3));
        assert_eq!(
            i32_.encode(&Value::Num(-3), &mut Vec::new()).unwrap(),
            bytes
        );
        let e = Layout::Enum {
            size: 4,
            signed: false,
            names: vec![("XDP_PASS".into(), 2)],
        };
        assert_eq!(
            e.decode(&2u32.to_ne_bytes()),
            Value::Name("XDP_PASS".into())
        );
        assert_eq!(e.decode(&9u32.to_ne_bytes()), Value::Num(9));
        assert_eq!(
            e.encode(&Value::Name("XDP_PASS".into()), &mut Vec::new())
                .unwrap(),
            2u32.to_ne_bytes()
        );
    }

    #[test]
    fn byte_arrays_take_macs_and_hex() {
        let mac = Layout::Array {
            elem: Box::new(u(1)),
            len: 6,
            chars: false,
        };
        let bytes = mac
            .encode(&Value::Name("aa:bb:cc:00:11:22".into()), &mut Vec::new())
            .unwrap();
        assert_eq!(bytes, [0xaa, 0xbb, 0xcc, 0, 0x11, 0x22]);
        assert_eq!(mac.decode(&bytes).text(), "[170, 187, 204, 0, 17, 34]");
        let blob = Layout::Bytes { size: 4 };
        assert_eq!(blob.decode(&[1, 0, 0, 0]), Value::Hex("01 00 00 00".into()));
        assert_eq!(
            blob.encode(&Value::Num(1), &mut Vec::new()).unwrap(),
            1u32.to_ne_bytes()
        );
        assert_eq!(
            blob.encode(&Value::Str("01 00 00 00".into()), &mut Vec::new())
                .unwrap(),
            [1, 0, 0, 0]
        );
        assert!(blob
            .encode(&Value::Str("01".into()), &mut Vec::new())
            .unwrap_err()
            .contains("1 bytes given, 4 needed"));
    }
}
