//! Compares two layouts of the same type and says what moved.
use serde::{Deserialize, Serialize};

use crate::layout::{MemberLayout, TypeKind, TypeLayout};

/// A bit-field's place: offset in bits from the start of the type, and width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BitField {
    pub offset: u64,
    pub size: u64,
}

/// One difference between the before and after layout of a type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum LayoutChange {
    Kind { before: TypeKind, after: TypeKind },
    Size { before: u64, after: u64 },
    Alignment { before: u64, after: u64 },
    TrailingPadding { before: u64, after: u64 },
    MemberAdded { member: MemberLayout },
    MemberRemoved { member: MemberLayout },
    MemberOffset { member: String, before: u64, after: u64 },
    MemberBitField { member: String, before: Option<BitField>, after: Option<BitField> },
    MemberSize { member: String, before: u64, after: u64 },
    /// Only when the types differ after typedefs are looked through: `uint32_t` becoming
    /// `unsigned int` is the same type, `uint64_aligned_t` becoming `uint64_t` shows up as the
    /// offsets it moves, not here.
    MemberType { member: String, before: String, after: String },
    /// The same type under another name (`uint64_aligned_t` to `uint64_t`): no change by
    /// itself, so only listed next to real changes of the type, where it is often their cause.
    MemberTypeSpelling { member: String, before: String, after: String },
    EnumeratorAdded { name: String, value: i128 },
    EnumeratorRemoved { name: String, value: i128 },
    EnumeratorValue { name: String, before: i128, after: i128 },
}

impl LayoutChange {
    /// Every change to an existing type breaks callers built against the old header, except a
    /// new enumerator: the enum's values and size stay what they were.
    pub fn is_breaking(&self) -> bool {
        !matches!(self, LayoutChange::EnumeratorAdded { .. } | LayoutChange::MemberTypeSpelling { .. })
    }
}

/// The differences from `before` to `after`, in the order a reviewer reads them: the type as
/// a whole first, then members in declaration order.
pub fn compare_layouts(before: &TypeLayout, after: &TypeLayout) -> Vec<LayoutChange> {
    let mut changes = Vec::new();
    if before.kind != after.kind {
        changes.push(LayoutChange::Kind { before: before.kind, after: after.kind });
    }
    if before.size != after.size {
        changes.push(LayoutChange::Size { before: before.size, after: after.size });
    }
    if before.alignment != after.alignment {
        changes.push(LayoutChange::Alignment { before: before.alignment, after: after.alignment });
    }
    if before.kind != TypeKind::Enum && before.trailing_padding() != after.trailing_padding() {
        changes.push(LayoutChange::TrailingPadding { before: before.trailing_padding(), after: after.trailing_padding() });
    }
    changes.extend(member_changes(&before.members, &after.members));
    changes.extend(enumerator_changes(before, after));
    if !changes.is_empty() {
        changes.extend(respelled_members(&before.members, &after.members));
    }
    changes
}

fn respelled_members(before: &[MemberLayout], after: &[MemberLayout]) -> Vec<LayoutChange> {
    before
        .iter()
        .filter_map(|old| {
            let new = after.iter().find(|m| m.name == old.name)?;
            (old.canonical_type == new.canonical_type && old.type_name != new.type_name).then(|| {
                LayoutChange::MemberTypeSpelling {
                    member: old.name.clone(),
                    before: old.type_name.clone(),
                    after: new.type_name.clone(),
                }
            })
        })
        .collect()
}

fn member_changes(before: &[MemberLayout], after: &[MemberLayout]) -> Vec<LayoutChange> {
    let mut changes = Vec::new();
    for old in before {
        let Some(new) = after.iter().find(|m| m.name == old.name) else {
            changes.push(LayoutChange::MemberRemoved { member: old.clone() });
            continue;
        };
        let member = || old.name.clone();
        if old.offset != new.offset {
            changes.push(LayoutChange::MemberOffset { member: member(), before: old.offset, after: new.offset });
        }
        let (old_bits, new_bits) = (bit_field(old), bit_field(new));
        if old_bits != new_bits {
            changes.push(LayoutChange::MemberBitField { member: member(), before: old_bits, after: new_bits });
        }
        if old.size != new.size {
            changes.push(LayoutChange::MemberSize { member: member(), before: old.size, after: new.size });
        }
        if old.canonical_type != new.canonical_type {
            changes.push(LayoutChange::MemberType {
                member: member(),
                before: old.type_name.clone(),
                after: new.type_name.clone(),
            });
        }
    }
    for new in after {
        if !before.iter().any(|m| m.name == new.name) {
            changes.push(LayoutChange::MemberAdded { member: new.clone() });
        }
    }
    changes
}

fn bit_field(m: &MemberLayout) -> Option<BitField> {
    Some(BitField { offset: m.bit_offset?, size: m.bit_size? })
}

fn enumerator_changes(before: &TypeLayout, after: &TypeLayout) -> Vec<LayoutChange> {
    let mut changes = Vec::new();
    for old in &before.enumerators {
        match after.enumerators.iter().find(|e| e.name == old.name) {
            None => changes.push(LayoutChange::EnumeratorRemoved { name: old.name.clone(), value: old.value }),
            Some(new) if new.value != old.value => changes.push(LayoutChange::EnumeratorValue {
                name: old.name.clone(),
                before: old.value,
                after: new.value,
            }),
            Some(_) => {}
        }
    }
    for new in &after.enumerators {
        if !before.enumerators.iter().any(|e| e.name == new.name) {
            changes.push(LayoutChange::EnumeratorAdded { name: new.name.clone(), value: new.value });
        }
    }
    changes
}
