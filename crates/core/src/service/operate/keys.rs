//! Operate's int64 keys over Podium's objects (`docs/adr/0006-operate-keys.md`).
//! Every execution has an Operate sequence number `s`; the keys of it and of what
//! it holds are built from `s`, so a key leads back to its execution through an
//! index, and every key stays below 2^53 (what JavaScript reads exactly).

use sha2::{Digest, Sha256};

pub use crate::store::variables::bucket as variable_bucket;
use crate::store::variables::{VARIABLE_BASE, low_bits};

/// The low bits of a key that name an object within its execution.
const INSTANCE_SHIFT: u32 = 16;
/// Largest sequence number that keeps keys below 2^53.
pub const MAX_SEQ: i64 = (1 << (53 - INSTANCE_SHIFT)) - 1;

/// What a key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// A process instance: an execution, by sequence number.
    Instance(i64),
    /// A flow-node instance: a task of an execution, by its `seq`.
    FlowNode(i64, i32),
    /// A variable of an execution, by the bucket its name hashes to.
    Variable(i64, i64),
}

/// The key of the execution with sequence number `seq`.
pub fn instance_key(seq: i64) -> i64 {
    seq << INSTANCE_SHIFT
}

/// The key of task `task_seq` of an execution; none for a task past the 32,767th.
pub fn flow_node_key(seq: i64, task_seq: i32) -> Option<i64> {
    let task_seq = i64::from(task_seq);
    (0..VARIABLE_BASE - 1)
        .contains(&task_seq)
        .then(|| instance_key(seq) + 1 + task_seq)
}

/// The key of a variable of an execution.
pub fn variable_key(seq: i64, name: &str) -> i64 {
    instance_key(seq) + low_bits(name)
}

/// What a key names, if it can name anything.
pub fn decode(key: i64) -> Option<Decoded> {
    if key <= 0 || key >= 1 << 53 {
        return None;
    }
    let seq = key >> INSTANCE_SHIFT;
    let low = key & ((1 << INSTANCE_SHIFT) - 1);
    Some(if low == 0 {
        Decoded::Instance(seq)
    } else if low < VARIABLE_BASE {
        Decoded::FlowNode(seq, i32::try_from(low - 1).ok()?)
    } else {
        Decoded::Variable(seq, low - VARIABLE_BASE)
    })
}

/// The key of a workflow definition's version: 52 bits of a hash of both, never 0.
pub fn definition_key(name: &str, version: i32) -> i64 {
    let digest = Sha256::digest(format!("{name}\u{0}{version}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    let key = i64::from_be_bytes(bytes) & ((1 << 52) - 1);
    key.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_lead_back_to_what_they_name() {
        let seq = 12_345;
        assert_eq!(decode(instance_key(seq)), Some(Decoded::Instance(seq)));
        let node = flow_node_key(seq, 0).expect("first task");
        assert_eq!(decode(node), Some(Decoded::FlowNode(seq, 0)));
        let last = flow_node_key(seq, 32_766).expect("last task with a key");
        assert_eq!(decode(last), Some(Decoded::FlowNode(seq, 32_766)));
        assert_eq!(flow_node_key(seq, 32_767), None);
        assert_eq!(flow_node_key(seq, -1), None);
        let variable = variable_key(seq, "orderId");
        assert_eq!(
            decode(variable),
            Some(Decoded::Variable(seq, variable_bucket("orderId")))
        );
        // Below 2^53 for the largest sequence number.
        assert!(variable_key(MAX_SEQ, "x") < 1 << 53);
        assert_eq!(decode(0), None);
        assert_eq!(decode(-5), None);
        assert_eq!(decode(1 << 53), None);
        let def = definition_key("orders", 3);
        assert!(def > 0 && def < 1 << 52);
        assert_ne!(def, definition_key("orders", 4));
        assert_ne!(def, definition_key("orders3", 0));
    }
}
