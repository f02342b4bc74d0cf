//! One map entry, read and decoded by the BTF types of its map.

use libbpf_rs::{MapCore, MapFlags};
use serde::Serialize;

use super::explain::{explain, Op};
use super::target::Target;
use super::value::Value;
use crate::error::Failure;

/// One entry as `dump` and `lookup` print it.
#[derive(Serialize)]
pub struct Entry {
    key: Value,
    /// Plain maps: the value.
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<Value>,
    /// Per-CPU maps: the value of each CPU, and their sum.
    #[serde(skip_serializing_if = "Option::is_none")]
    values: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sum: Option<Value>,
}

impl Entry {
    pub fn text(&self) -> String {
        match (&self.value, &self.values, &self.sum) {
            (Some(value), _, _) => format!("key: {}  value: {}", self.key.text(), value.text()),
            (None, Some(values), Some(sum)) => {
                let mut out = format!("key: {}", self.key.text());
                for (cpu, value) in values.iter().enumerate() {
                    out.push_str(&format!("\n  cpu {cpu:<3} {}", value.text()));
                }
                out.push_str(&format!("\n  sum     {}", sum.text()));
                out
            }
            _ => format!("key: {}", self.key.text()),
        }
    }
}

/// Reads one entry (None: the key is not there).
pub fn read_entry(target: &Target, key: &[u8]) -> Result<Option<Entry>, Failure> {
    let key_value = target.key.decode(key);
    let summary = &target.summary;
    if summary.ty.is_percpu() {
        let found = target
            .handle
            .lookup_percpu(key, MapFlags::ANY)
            .map_err(|e| explain(Op::Lookup, summary, &key_value.text(), &e))?;
        return Ok(found.map(|per_cpu| {
            let values: Vec<Value> = per_cpu.iter().map(|v| target.value.decode(v)).collect();
            let mut sum = values.first().cloned().unwrap_or(Value::Num(0));
            for value in values.iter().skip(1) {
                sum.add(value);
            }
            Entry {
                key: key_value.clone(),
                value: None,
                values: Some(values),
                sum: Some(sum),
            }
        }));
    }
    let found = target
        .handle
        .lookup(key, MapFlags::ANY)
        .map_err(|e| explain(Op::Lookup, summary, &key_value.text(), &e))?;
    Ok(found.map(|bytes| Entry {
        key: key_value.clone(),
        value: Some(target.value.decode(&bytes)),
        values: None,
        sum: None,
    }))
}

impl Entry {
    /// One line: the key and the value, per-CPU values summed.
    pub fn summed_text(&self) -> String {
        match self.value.as_ref().or(self.sum.as_ref()) {
            Some(value) => format!("key: {}  value: {}", self.key.text(), value.text()),
            None => format!("key: {}", self.key.text()),
        }
    }
}
