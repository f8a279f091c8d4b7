//! The layout of one C type as the compiler laid it out for one target.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TypeKind {
    Struct,
    Union,
    Enum,
}

impl std::fmt::Display for TypeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TypeKind::Struct => "struct",
            TypeKind::Union => "union",
            TypeKind::Enum => "enum",
        })
    }
}

/// A named struct, union or enum (`struct xen_foo`), or an anonymous one under the name of its
/// typedef (`anon_t`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeLayout {
    /// `struct foo`, `union bar`, `enum baz`, or the typedef's name for an anonymous type.
    pub name: String,
    pub kind: TypeKind,
    /// The file declaring it, relative to the tree's root.
    pub file: String,
    pub size: u64,
    pub alignment: u64,
    /// Inferred: DWARF does not record packing, so a struct counts as packed when its size or a
    /// member's offset could not come from natural alignment.
    pub packed: bool,
    /// Members in declaration order. Members of anonymous structs/unions are listed flat, as C
    /// lets them be named (`s.q`), members of a named member of anonymous type as `inner.s`;
    /// offsets are always from the start of this type.
    pub members: Vec<MemberLayout>,
    pub enumerators: Vec<Enumerator>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberLayout {
    pub name: String,
    /// Byte offset; for a bit-field, the byte holding its first bit.
    pub offset: u64,
    /// For bit-fields only: offset in bits from the start of the type, and width.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bit_offset: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bit_size: Option<u64>,
    pub size: u64,
    pub alignment: u64,
    /// The type as written in the header (`uint64_aligned_t`).
    pub type_name: String,
    /// The type with typedefs and qualifiers removed (`unsigned long long`): two spellings of
    /// the same type are not an ABI change.
    pub canonical_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enumerator {
    pub name: String,
    pub value: i128,
}

impl MemberLayout {
    /// One past the last byte the member occupies.
    pub fn end(&self) -> u64 {
        match (self.bit_offset, self.bit_size) {
            (Some(bit), Some(width)) => bit.saturating_add(width).div_ceil(8),
            _ => self.offset.saturating_add(self.size),
        }
    }
}

impl TypeLayout {
    /// Bytes after the last member up to the type's size.
    pub fn trailing_padding(&self) -> u64 {
        let end = self.members.iter().map(MemberLayout::end).max().unwrap_or(0);
        self.size.saturating_sub(end)
    }

    pub fn member(&self, name: &str) -> Option<&MemberLayout> {
        self.members.iter().find(|m| m.name == name)
    }
}
