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
    Kind {
        before: TypeKind,
        after: TypeKind,
    },
    Size {
        before: u64,
        after: u64,
    },
    Alignment {
        before: u64,
        after: u64,
    },
    TrailingPadding {
        before: u64,
        after: u64,
    },
    MemberAdded {
        member: MemberLayout,
    },
    MemberRemoved {
        member: MemberLayout,
    },
    MemberOffset {
        member: String,
        before: u64,
        after: u64,
    },
    MemberBitField {
        member: String,
        before: Option<BitField>,
        after: Option<BitField>,
    },
    MemberSize {
        member: String,
        before: u64,
        after: u64,
    },
    /// Only when the types differ after typedefs are looked through: `uint32_t` becoming
    /// `unsigned int` is the same type, `uint64_aligned_t` becoming `uint64_t` shows up as the
    /// offsets it moves, not here.
    MemberType {
        member: String,
        before: String,
        after: String,
    },
    /// The same type under another name (`uint64_aligned_t` to `uint64_t`): no change by
    /// itself, so only listed next to real changes of the type, where it is often their cause.
    MemberTypeSpelling {
        member: String,
        before: String,
        after: String,
    },
    EnumeratorAdded {
        name: String,
        value: i128,
    },
    EnumeratorRemoved {
        name: String,
        value: i128,
    },
    EnumeratorValue {
        name: String,
        before: i128,
        after: i128,
    },
    /// A member change that only uses bytes the old layout had reserved (`resv`, `pad`,
    /// `reserved`...), with the type's size and alignment unchanged: how UAPI and hypercall
    /// structs grow without breaking anyone (io_uring's `cq_flags` took `resv[2]` this way).
    InReservedBytes {
        inner: Box<LayoutChange>,
    },
}

impl LayoutChange {
    /// Every change to an existing type breaks callers built against the old header, except a
    /// new enumerator: the enum's values and size stay what they were.
    pub fn is_breaking(&self) -> bool {
        !matches!(
            self,
            LayoutChange::EnumeratorAdded { .. }
                | LayoutChange::MemberTypeSpelling { .. }
                | LayoutChange::InReservedBytes { .. }
        )
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
        changes.push(LayoutChange::TrailingPadding {
            before: before.trailing_padding(),
            after: after.trailing_padding(),
        });
    }
    let members = member_changes(&before.members, &after.members);
    let same_footprint = before.kind == after.kind
        && before.size == after.size
        && before.alignment == after.alignment;
    if same_footprint {
        let reserved = reserved_bytes(before);
        changes.extend(members.into_iter().map(|c| mark_reserved_use(c, before, after, &reserved)));
    } else {
        changes.extend(members);
    }
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
            (old.canonical_type == new.canonical_type && old.type_name != new.type_name).then(
                || LayoutChange::MemberTypeSpelling {
                    member: old.name.clone(),
                    before: old.type_name.clone(),
                    after: new.type_name.clone(),
                },
            )
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
            changes.push(LayoutChange::MemberOffset {
                member: member(),
                before: old.offset,
                after: new.offset,
            });
        }
        let (old_bits, new_bits) = (bit_field(old), bit_field(new));
        if old_bits != new_bits {
            changes.push(LayoutChange::MemberBitField {
                member: member(),
                before: old_bits,
                after: new_bits,
            });
        }
        if old.size != new.size {
            changes.push(LayoutChange::MemberSize {
                member: member(),
                before: old.size,
                after: new.size,
            });
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
            None => changes
                .push(LayoutChange::EnumeratorRemoved { name: old.name.clone(), value: old.value }),
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
            changes
                .push(LayoutChange::EnumeratorAdded { name: new.name.clone(), value: new.value });
        }
    }
    changes
}

/// Names maintainers give to bytes kept for later: `resv`, `__resv2`, `reserved`, `rsvd`,
/// `pad`, `_pad1`, `padding`, `unused`, `spare`.
pub fn is_reserved_name(name: &str) -> bool {
    let last = name.rsplit('.').next().unwrap_or(name).trim_start_matches('_').to_ascii_lowercase();
    // `paddr` is an address, not padding: only a reserved word plus a number counts.
    let core = last.trim_end_matches(|c: char| c.is_ascii_digit() || c == '_');
    ["resv", "rsvd", "reserved", "pad", "padding", "unused", "spare"].contains(&core)
}

/// Byte ranges of the reserved members of a layout, merged.
fn reserved_bytes(layout: &TypeLayout) -> Vec<(u64, u64)> {
    let mut ranges: Vec<(u64, u64)> = layout
        .members
        .iter()
        .filter(|m| is_reserved_name(&m.name))
        .map(|m| (m.offset, m.end()))
        .collect();
    ranges.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

fn within(ranges: &[(u64, u64)], start: u64, end: u64) -> bool {
    ranges.iter().any(|(s, e)| *s <= start && end <= *e)
}

fn mark_reserved_use(
    change: LayoutChange,
    before: &TypeLayout,
    after: &TypeLayout,
    reserved: &[(u64, u64)],
) -> LayoutChange {
    let after_member_within =
        |name: &str| after.member(name).is_some_and(|m| within(reserved, m.offset, m.end()));
    let uses_reserved = match &change {
        LayoutChange::MemberRemoved { member } => is_reserved_name(&member.name),
        LayoutChange::MemberAdded { member } => within(reserved, member.offset, member.end()),
        LayoutChange::MemberOffset { member, .. }
        | LayoutChange::MemberSize { member, .. }
        | LayoutChange::MemberType { member, .. }
        | LayoutChange::MemberBitField { member, .. } => {
            before.member(member).is_some_and(|m| is_reserved_name(&m.name))
                && after_member_within(member)
        }
        _ => false,
    };
    if uses_reserved { LayoutChange::InReservedBytes { inner: Box::new(change) } } else { change }
}

#[cfg(test)]
mod tests {
    use super::is_reserved_name;

    #[test]
    fn reserved_names_of_kernel_and_xen_headers() {
        for name in [
            "resv",
            "resv2",
            "__resv",
            "reserved",
            "rsvd1",
            "pad",
            "_pad0",
            "__pad2",
            "padding",
            "unused",
            "spare",
            "u.pad",
            "reserved_1",
        ] {
            assert!(is_reserved_name(name), "{name}");
        }
        for name in ["flags", "paddr", "result", "upad", "padded_len", "resv_ptr"] {
            assert!(!is_reserved_name(name), "{name}");
        }
    }
}
