//! Reads type layouts from the DWARF of a relocatable object built by clang.
//!
//! The object is a `.o` (never linked), so references into `.debug_str_offsets`,
//! `.debug_str` and `.debug_line` still sit in relocations: they are applied while reading,
//! with `object`'s relocation map under gimli's `RelocateReader`.
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use gimli::constants as dw;
use object::{Object, ObjectSection};

use crate::error::{Error, Result};
use crate::layout::{Enumerator, MemberLayout, TypeKind, TypeLayout};

#[derive(Debug, Clone, Copy)]
struct Relocations<'a>(&'a object::read::RelocationMap);

impl gimli::read::Relocate for Relocations<'_> {
    fn relocate_address(&self, offset: usize, value: u64) -> gimli::Result<u64> {
        Ok(self.0.relocate(offset as u64, value))
    }

    fn relocate_offset(&self, offset: usize, value: usize) -> gimli::Result<usize> {
        <usize as gimli::ReaderOffset>::from_u64(self.0.relocate(offset as u64, value as u64))
    }
}

type Reader<'a> =
    gimli::RelocateReader<gimli::EndianSlice<'a, gimli::RunTimeEndian>, Relocations<'a>>;

/// Every struct, union and enum declared in a file under `tree_root`, laid out for `triple`
/// (the triple decides scalar alignment, which DWARF does not record). `what` names the
/// build in error messages.
///
/// Alignment is computed from the members; DWARF does not say whether a struct was packed, so
/// a packed struct whose members happen to sit at natural offsets gets its natural alignment
/// here. [`crate::check::build_layouts`] asks clang for the exact figure afterwards.
pub fn read_layouts(
    object_bytes: &[u8],
    tree_root: &Path,
    triple: &str,
    what: &str,
) -> Result<Vec<TypeLayout>> {
    let root = normalize(tree_root);
    let mut layouts = Vec::new();
    for_each_unit(object_bytes, triple, what, |dies, files| {
        for layout in dies.public_types(files, &root) {
            if !layouts.iter().any(|l: &TypeLayout| l.name == layout.name) {
                layouts.push(layout);
            }
        }
    })?;
    Ok(layouts)
}

/// The enumerators of the enum named `name`, wherever it is declared: how a probe translation
/// unit hands back values only the compiler knows (`_Alignof`).
pub fn read_enum(object_bytes: &[u8], name: &str, what: &str) -> Result<Vec<Enumerator>> {
    let mut found = Vec::new();
    for_each_unit(object_bytes, "", what, |dies, _| {
        for offset in &dies.order {
            let Some(die) = dies.die(*offset) else { continue };
            if die.tag == dw::DW_TAG_enumeration_type
                && die.name.as_deref() == Some(name)
                && found.is_empty()
            {
                found = dies.enumerators(die);
            }
        }
    })?;
    Ok(found)
}

fn for_each_unit(
    object_bytes: &[u8],
    triple: &str,
    what: &str,
    mut visit: impl FnMut(&Dies, &HashMap<u64, PathBuf>),
) -> Result<()> {
    let object_error = |message: String| Error::Object { what: what.to_owned(), message };
    let file = object::File::parse(object_bytes).map_err(|e| object_error(e.to_string()))?;
    let endian = if file.is_little_endian() {
        gimli::RunTimeEndian::Little
    } else {
        gimli::RunTimeEndian::Big
    };
    let sections = gimli::DwarfSections::load(|id| -> std::result::Result<_, Error> {
        match file.section_by_name(id.name()) {
            Some(section) => {
                let data = section
                    .uncompressed_data()
                    .map_err(|e| object_error(format!("{}: {e}", id.name())))?;
                let relocations = section
                    .relocation_map()
                    .map_err(|e| object_error(format!("relocations of {}: {e}", id.name())))?;
                Ok((data, relocations))
            }
            None => Ok((Cow::Borrowed(&[][..]), object::read::RelocationMap::default())),
        }
    })?;
    let dwarf = sections.borrow(|(data, relocations)| {
        gimli::RelocateReader::new(gimli::EndianSlice::new(data, endian), Relocations(relocations))
    });
    let dwarf_error = |source: gimli::Error| Error::Dwarf { what: what.to_owned(), source };
    let mut units = dwarf.units();
    while let Some(header) = units.next().map_err(dwarf_error)? {
        let unit = dwarf.unit(header).map_err(dwarf_error)?;
        let dies = Dies::read(&dwarf, &unit, triple, little_endian(endian)).map_err(dwarf_error)?;
        let files = file_paths(&dwarf, &unit).map_err(dwarf_error)?;
        visit(&dies, &files);
    }
    Ok(())
}

fn little_endian(endian: gimli::RunTimeEndian) -> bool {
    matches!(endian, gimli::RunTimeEndian::Little)
}

/// The largest alignment the target's struct layout gives a scalar: i386's SysV ABI aligns
/// `long long` and `double` to 4 inside structs, 32-bit Arm's EABI to 8, 64-bit targets to
/// their size (16 for `long double`, `__int128`).
fn max_scalar_alignment(triple: &str) -> u64 {
    let arch = triple.split('-').next().unwrap_or(triple);
    match arch {
        "i386" | "i486" | "i586" | "i686" | "x86" => 4,
        a if a.starts_with("arm64") => 16,
        a if a.starts_with("arm") || a.starts_with("thumb") => 8,
        _ => 16,
    }
}

/// One DIE, with the attributes layout needs, owned so the tree can be walked freely.
#[derive(Debug)]
struct Die {
    tag: gimli::DwTag,
    name: Option<String>,
    byte_size: Option<u64>,
    alignment: Option<u64>,
    type_ref: Option<usize>,
    member_location: Option<u64>,
    bit_size: Option<u64>,
    /// DWARF 2/3 `DW_AT_bit_offset`: counted from the storage unit's most significant bit.
    legacy_bit_offset: Option<u64>,
    data_bit_offset: Option<u64>,
    decl_file: Option<u64>,
    declaration: bool,
    vector: bool,
    count: Option<u64>,
    upper_bound: Option<u64>,
    encoding: Option<gimli::DwAte>,
    const_value: Option<ConstValue>,
    children: Vec<usize>,
}

#[derive(Debug, Clone, Copy)]
enum ConstValue {
    Signed(i64),
    Unsigned(u64),
    /// `DW_FORM_dataN`: signedness comes from the enum's underlying type.
    Data(u64, u8),
}

struct Dies {
    dies: HashMap<usize, Die>,
    order: Vec<usize>,
    address_size: u64,
    max_scalar_alignment: u64,
    little_endian: bool,
    alignment_cache: RefCell<HashMap<usize, (u64, bool)>>,
}

/// Deep enough for any real header; stops a malformed reference cycle from recursing forever.
const MAX_DEPTH: usize = 64;

impl Dies {
    fn read(
        dwarf: &gimli::Dwarf<Reader<'_>>,
        unit: &gimli::Unit<Reader<'_>>,
        triple: &str,
        little_endian: bool,
    ) -> gimli::Result<Dies> {
        let mut dies = HashMap::new();
        let mut order = Vec::new();
        let mut stack: Vec<usize> = Vec::new();
        let mut depth: isize = 0;
        let mut cursor = unit.entries();
        while let Some((delta, entry)) = cursor.next_dfs()? {
            depth += delta;
            let offset = entry.offset().0;
            stack.truncate(depth.max(0) as usize);
            if let Some(parent) = stack.last().and_then(|p| dies.get_mut(p)) {
                let parent: &mut Die = parent;
                parent.children.push(offset);
            }
            stack.push(offset);
            let mut die = Die {
                tag: entry.tag(),
                name: None,
                byte_size: None,
                alignment: None,
                type_ref: None,
                member_location: None,
                bit_size: None,
                legacy_bit_offset: None,
                data_bit_offset: None,
                decl_file: None,
                declaration: false,
                vector: false,
                count: None,
                upper_bound: None,
                encoding: None,
                const_value: None,
                children: Vec::new(),
            };
            let mut attrs = entry.attrs();
            while let Some(attr) = attrs.next()? {
                read_attribute(dwarf, unit, &mut die, &attr)?;
            }
            dies.insert(offset, die);
            order.push(offset);
        }
        Ok(Dies {
            dies,
            order,
            address_size: u64::from(unit.encoding().address_size),
            max_scalar_alignment: max_scalar_alignment(triple),
            little_endian,
            alignment_cache: RefCell::new(HashMap::new()),
        })
    }

    fn die(&self, offset: usize) -> Option<&Die> {
        self.dies.get(&offset)
    }

    /// The types a reader of the header sees: named ones, and anonymous ones named by a typedef,
    /// declared in a file of the tree (not the prelude's or clang's own headers).
    fn public_types(&self, files: &HashMap<u64, PathBuf>, root: &Path) -> Vec<TypeLayout> {
        let mut typedef_of: HashMap<usize, (&str, Option<u64>)> = HashMap::new();
        for offset in &self.order {
            let Some(die) = self.die(*offset) else { continue };
            if let (dw::DW_TAG_typedef, Some(name), Some(target)) =
                (die.tag, die.name.as_deref(), die.type_ref)
            {
                typedef_of.entry(target).or_insert((name, die.decl_file));
            }
        }
        let mut out = Vec::new();
        for offset in &self.order {
            let Some(die) = self.die(*offset) else { continue };
            let Some(kind) = type_kind(die.tag) else { continue };
            if die.declaration {
                continue;
            }
            let (name, decl_file) = match (&die.name, typedef_of.get(offset)) {
                (Some(tag), _) => (format!("{kind} {tag}"), die.decl_file),
                (None, Some((typedef, file))) => ((*typedef).to_owned(), file.or(die.decl_file)),
                (None, None) => continue,
            };
            let Some(file) =
                decl_file.and_then(|i| files.get(&i)).and_then(|p| relative_to(p, root))
            else {
                continue;
            };
            out.push(self.layout(*offset, die, name, kind, file));
        }
        out
    }

    fn layout(
        &self,
        offset: usize,
        die: &Die,
        name: String,
        kind: TypeKind,
        file: String,
    ) -> TypeLayout {
        let (alignment, packed) = match kind {
            TypeKind::Enum => (self.align_of(offset, 0), false),
            TypeKind::Struct | TypeKind::Union => self.aggregate_alignment(offset, 0),
        };
        let mut members = Vec::new();
        let mut enumerators = Vec::new();
        if kind == TypeKind::Enum {
            enumerators = self.enumerators(die);
        } else {
            self.flatten_members(die, 0, "", &mut members, 0);
        }
        TypeLayout {
            name,
            kind,
            file,
            size: die.byte_size.unwrap_or(0),
            alignment,
            packed,
            members,
            enumerators,
        }
    }

    fn enumerators(&self, die: &Die) -> Vec<Enumerator> {
        let signed = die.type_ref.map(|t| self.is_signed(t, 0)).unwrap_or(true);
        die.children
            .iter()
            .filter_map(|c| self.die(*c))
            .filter(|c| c.tag == dw::DW_TAG_enumerator)
            .filter_map(|c| {
                let value = match c.const_value? {
                    ConstValue::Signed(v) => i128::from(v),
                    ConstValue::Unsigned(v) => i128::from(v),
                    ConstValue::Data(v, bytes) if signed => i128::from(sign_extend(v, bytes)),
                    ConstValue::Data(v, _) => i128::from(v),
                };
                Some(Enumerator { name: c.name.clone()?, value })
            })
            .collect()
    }

    fn is_signed(&self, offset: usize, depth: usize) -> bool {
        let Some(die) = self.die(offset) else { return true };
        match (die.tag, die.type_ref) {
            (dw::DW_TAG_base_type, _) => {
                matches!(die.encoding, Some(dw::DW_ATE_signed) | Some(dw::DW_ATE_signed_char))
            }
            (_, Some(target)) if depth < MAX_DEPTH => self.is_signed(target, depth + 1),
            _ => true,
        }
    }

    /// Members in declaration order, descending into members of anonymous struct/union type so
    /// that each field a C program can name gets its own line.
    fn flatten_members(
        &self,
        die: &Die,
        base_bits: u64,
        prefix: &str,
        out: &mut Vec<MemberLayout>,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        for child in die.children.iter().filter_map(|c| self.die(*c)) {
            if child.tag != dw::DW_TAG_member {
                continue;
            }
            let member = self.member(child, base_bits, prefix);
            let anonymous_aggregate = child.type_ref.and_then(|t| self.die(t)).filter(|t| {
                matches!(t.tag, dw::DW_TAG_structure_type | dw::DW_TAG_union_type)
                    && t.name.is_none()
            });
            match (&child.name, anonymous_aggregate) {
                (Some(name), Some(inner)) => {
                    let inner_prefix = format!("{prefix}{name}.");
                    let offset_bits = member.offset.saturating_mul(8);
                    out.push(member);
                    self.flatten_members(inner, offset_bits, &inner_prefix, out, depth + 1);
                }
                (None, Some(inner)) => self.flatten_members(
                    inner,
                    member.offset.saturating_mul(8),
                    prefix,
                    out,
                    depth + 1,
                ),
                _ => out.push(member),
            }
        }
    }

    fn member(&self, die: &Die, base_bits: u64, prefix: &str) -> MemberLayout {
        let type_size = die.type_ref.and_then(|t| self.size_of(t, 0)).unwrap_or(0);
        let location_bits =
            base_bits.saturating_add(die.member_location.unwrap_or(0).saturating_mul(8));
        let bit_field = die.bit_size.map(|width| {
            let start = match (die.data_bit_offset, die.legacy_bit_offset) {
                (Some(data_bit), _) => base_bits.saturating_add(data_bit),
                (None, Some(from_msb)) => {
                    let storage_bits = die.byte_size.unwrap_or(type_size).saturating_mul(8);
                    if self.little_endian {
                        location_bits
                            .saturating_add(storage_bits)
                            .saturating_sub(from_msb.saturating_add(width))
                    } else {
                        location_bits.saturating_add(from_msb)
                    }
                }
                (None, None) => location_bits,
            };
            (start, width)
        });
        let offset = match bit_field {
            Some((start, _)) => start / 8,
            None => location_bits / 8,
        };
        let type_alignment = die.type_ref.map(|t| self.align_of(t, 0)).unwrap_or(1);
        MemberLayout {
            name: format!("{prefix}{}", die.name.as_deref().unwrap_or("<anonymous>")),
            offset,
            bit_offset: bit_field.map(|b| b.0),
            bit_size: bit_field.map(|b| b.1),
            size: type_size,
            alignment: die.alignment.map_or(type_alignment, |a| a.max(type_alignment)),
            type_name: die
                .type_ref
                .map_or_else(|| "void".to_owned(), |t| self.type_name(t, false, 0)),
            canonical_type: die
                .type_ref
                .map_or_else(|| "void".to_owned(), |t| self.type_name(t, true, 0)),
        }
    }

    fn size_of(&self, offset: usize, depth: usize) -> Option<u64> {
        let die = self.die(offset)?;
        if let Some(size) = die.byte_size {
            return Some(size);
        }
        if depth > MAX_DEPTH {
            return None;
        }
        match die.tag {
            dw::DW_TAG_pointer_type | dw::DW_TAG_reference_type => Some(self.address_size),
            dw::DW_TAG_array_type => {
                let element = self.size_of(die.type_ref?, depth + 1)?;
                Some(
                    self.array_counts(die)
                        .iter()
                        .fold(element, |acc, n| acc.saturating_mul(n.unwrap_or(0))),
                )
            }
            dw::DW_TAG_subroutine_type => Some(0),
            _ => self.size_of(die.type_ref?, depth + 1),
        }
    }

    fn array_counts(&self, die: &Die) -> Vec<Option<u64>> {
        die.children
            .iter()
            .filter_map(|c| self.die(*c))
            .filter(|c| c.tag == dw::DW_TAG_subrange_type)
            .map(|c| c.count.or_else(|| c.upper_bound.map(|u| u.saturating_add(1))))
            .collect()
    }

    fn align_of(&self, offset: usize, depth: usize) -> u64 {
        let Some(die) = self.die(offset) else { return 1 };
        if depth > MAX_DEPTH {
            return 1;
        }
        match die.tag {
            dw::DW_TAG_structure_type | dw::DW_TAG_union_type => {
                self.aggregate_alignment(offset, depth).0
            }
            // An aligned typedef may lower alignment as well as raise it, so it wins outright.
            dw::DW_TAG_typedef => die
                .alignment
                .unwrap_or_else(|| die.type_ref.map_or(1, |t| self.align_of(t, depth + 1))),
            dw::DW_TAG_pointer_type | dw::DW_TAG_reference_type => self.address_size,
            dw::DW_TAG_base_type => self.scalar_alignment(die.byte_size.unwrap_or(1), die.encoding),
            dw::DW_TAG_array_type if die.vector => natural_alignment(die.byte_size.unwrap_or(1)),
            dw::DW_TAG_enumeration_type => die.type_ref.map_or_else(
                || self.scalar_alignment(die.byte_size.unwrap_or(4), None),
                |t| self.align_of(t, depth + 1),
            ),
            _ => die
                .alignment
                .unwrap_or_else(|| die.type_ref.map_or(1, |t| self.align_of(t, depth + 1))),
        }
    }

    fn scalar_alignment(&self, size: u64, encoding: Option<gimli::DwAte>) -> u64 {
        let component = if encoding == Some(dw::DW_ATE_complex_float) { size / 2 } else { size };
        natural_alignment(component).min(self.max_scalar_alignment)
    }

    /// Alignment of a struct or union and whether it looks packed. The members' largest
    /// alignment is the natural one; if the size or an offset contradicts it, the struct was
    /// packed, and the largest alignment consistent with all offsets and the size is taken
    /// (`#pragma pack(2)` gives 2, `pack(1)` or `packed` give 1).
    fn aggregate_alignment(&self, offset: usize, depth: usize) -> (u64, bool) {
        if let Some(cached) = self.alignment_cache.borrow().get(&offset) {
            return *cached;
        }
        let Some(die) = self.die(offset) else { return (1, false) };
        if depth > MAX_DEPTH {
            return (1, false);
        }
        let size = die.byte_size.unwrap_or(0);
        let members: Vec<(Option<u64>, u64)> = die
            .children
            .iter()
            .filter_map(|c| self.die(*c))
            .filter(|c| c.tag == dw::DW_TAG_member)
            .map(|m| {
                let type_alignment = m.type_ref.map_or(1, |t| self.align_of(t, depth + 1));
                let alignment = m.alignment.map_or(type_alignment, |a| a.max(type_alignment));
                let byte_offset =
                    if m.bit_size.is_some() { None } else { Some(m.member_location.unwrap_or(0)) };
                (byte_offset, alignment)
            })
            .collect();
        let natural = members.iter().map(|m| m.1).max().unwrap_or(1).max(1);
        let fits = |p: u64| {
            size % p == 0
                && members.iter().all(|(off, a)| off.is_none_or(|o| o % p.min(*a).max(1) == 0))
        };
        let mut alignment = natural;
        let packed = !fits(natural);
        if packed {
            while alignment > 1 && !fits(alignment) {
                alignment /= 2;
            }
        }
        if let Some(explicit) = die.alignment {
            alignment = alignment.max(explicit);
        }
        self.alignment_cache.borrow_mut().insert(offset, (alignment, packed));
        (alignment, packed)
    }

    /// The type as a C programmer writes it; `canonical` looks through typedefs and
    /// qualifiers, which change nothing in memory.
    fn type_name(&self, offset: usize, canonical: bool, depth: usize) -> String {
        let Some(die) = self.die(offset) else { return "?".to_owned() };
        if depth > MAX_DEPTH {
            return "?".to_owned();
        }
        let inner = |t: Option<usize>| {
            t.map_or_else(|| "void".to_owned(), |t| self.type_name(t, canonical, depth + 1))
        };
        match die.tag {
            dw::DW_TAG_base_type => die.name.clone().unwrap_or_else(|| "?".to_owned()),
            dw::DW_TAG_typedef if canonical => inner(die.type_ref),
            dw::DW_TAG_typedef => die.name.clone().unwrap_or_else(|| "?".to_owned()),
            dw::DW_TAG_structure_type | dw::DW_TAG_union_type | dw::DW_TAG_enumeration_type => {
                let kind = type_kind(die.tag).map_or("struct", |k| match k {
                    TypeKind::Struct => "struct",
                    TypeKind::Union => "union",
                    TypeKind::Enum => "enum",
                });
                format!("{kind} {}", die.name.as_deref().unwrap_or("{...}"))
            }
            dw::DW_TAG_const_type
            | dw::DW_TAG_volatile_type
            | dw::DW_TAG_restrict_type
            | dw::DW_TAG_atomic_type
                if canonical =>
            {
                inner(die.type_ref)
            }
            dw::DW_TAG_const_type => format!("const {}", inner(die.type_ref)),
            dw::DW_TAG_volatile_type => format!("volatile {}", inner(die.type_ref)),
            dw::DW_TAG_atomic_type => format!("_Atomic {}", inner(die.type_ref)),
            dw::DW_TAG_restrict_type => format!("{} restrict", inner(die.type_ref)),
            dw::DW_TAG_pointer_type | dw::DW_TAG_reference_type => {
                match die.type_ref.and_then(|t| self.die(t)) {
                    Some(d) if d.tag == dw::DW_TAG_subroutine_type => {
                        let ret = inner(d.type_ref);
                        let params: Vec<String> = d
                            .children
                            .iter()
                            .filter(|c| {
                                self.die(**c).is_some_and(|p| p.tag == dw::DW_TAG_formal_parameter)
                            })
                            .map(|c| inner(self.die(*c).and_then(|p| p.type_ref)))
                            .collect();
                        format!("{ret} (*)({})", params.join(", "))
                    }
                    _ => format!("{} *", inner(die.type_ref)),
                }
            }
            dw::DW_TAG_array_type => {
                let dims: String = self
                    .array_counts(die)
                    .iter()
                    .map(|n| n.map_or_else(|| "[]".to_owned(), |n| format!("[{n}]")))
                    .collect();
                let vector = if die.vector { " vector" } else { "" };
                format!("{}{dims}{vector}", inner(die.type_ref))
            }
            dw::DW_TAG_subroutine_type => format!("{} ()", inner(die.type_ref)),
            _ => die.name.clone().unwrap_or_else(|| "?".to_owned()),
        }
    }
}

fn type_kind(tag: gimli::DwTag) -> Option<TypeKind> {
    match tag {
        dw::DW_TAG_structure_type => Some(TypeKind::Struct),
        dw::DW_TAG_union_type => Some(TypeKind::Union),
        dw::DW_TAG_enumeration_type => Some(TypeKind::Enum),
        _ => None,
    }
}

/// The largest power of two dividing `size` (a 12-byte `long double` is 4-aligned).
fn natural_alignment(size: u64) -> u64 {
    if size == 0 { 1 } else { size & size.wrapping_neg() }
}

fn sign_extend(value: u64, bytes: u8) -> i64 {
    let bits = u32::from(bytes.clamp(1, 8)) * 8;
    let shift = 64 - bits;
    ((value << shift) as i64) >> shift
}

fn read_attribute(
    dwarf: &gimli::Dwarf<Reader<'_>>,
    unit: &gimli::Unit<Reader<'_>>,
    die: &mut Die,
    attr: &gimli::Attribute<Reader<'_>>,
) -> gimli::Result<()> {
    use gimli::AttributeValue as V;
    let value = attr.value();
    match attr.name() {
        dw::DW_AT_name => {
            let s = dwarf.attr_string(unit, value)?;
            die.name = Some(gimli::Reader::to_string_lossy(&s)?.into_owned());
        }
        dw::DW_AT_byte_size => die.byte_size = value.udata_value(),
        dw::DW_AT_alignment => die.alignment = value.udata_value(),
        dw::DW_AT_type => {
            if let V::UnitRef(r) = value {
                die.type_ref = Some(r.0);
            }
        }
        dw::DW_AT_data_member_location => die.member_location = member_location(&value),
        dw::DW_AT_bit_size => die.bit_size = value.udata_value(),
        dw::DW_AT_bit_offset => die.legacy_bit_offset = value.udata_value(),
        dw::DW_AT_data_bit_offset => die.data_bit_offset = value.udata_value(),
        dw::DW_AT_decl_file => {
            die.decl_file = match value {
                V::FileIndex(i) => Some(i),
                other => other.udata_value(),
            }
        }
        dw::DW_AT_declaration => die.declaration = matches!(value, V::Flag(true)),
        dw::DW_AT_GNU_vector => die.vector = matches!(value, V::Flag(true)),
        dw::DW_AT_count => die.count = value.udata_value(),
        dw::DW_AT_upper_bound => {
            die.upper_bound = match value {
                V::Sdata(v) => u64::try_from(v).ok(),
                other => other.udata_value(),
            }
        }
        dw::DW_AT_encoding => {
            if let V::Encoding(e) = value {
                die.encoding = Some(e);
            }
        }
        dw::DW_AT_const_value => {
            die.const_value = match value {
                V::Sdata(v) => Some(ConstValue::Signed(v)),
                V::Udata(v) => Some(ConstValue::Unsigned(v)),
                V::Data1(v) => Some(ConstValue::Data(u64::from(v), 1)),
                V::Data2(v) => Some(ConstValue::Data(u64::from(v), 2)),
                V::Data4(v) => Some(ConstValue::Data(u64::from(v), 4)),
                V::Data8(v) => Some(ConstValue::Data(v, 8)),
                _ => None,
            }
        }
        _ => {}
    }
    Ok(())
}

/// A constant, or the DWARF 2 form `DW_OP_plus_uconst N` some compilers still emit.
fn member_location(value: &gimli::AttributeValue<Reader<'_>>) -> Option<u64> {
    if let Some(v) = value.udata_value() {
        return Some(v);
    }
    if let gimli::AttributeValue::Exprloc(expr) = value {
        let mut reader = expr.0.clone();
        let op = gimli::Reader::read_u8(&mut reader).ok()?;
        if op == dw::DW_OP_plus_uconst.0 {
            return gimli::Reader::read_uleb128(&mut reader).ok();
        }
    }
    None
}

/// The unit's file table as absolute, normalized paths, by the index `DW_AT_decl_file` uses.
fn file_paths(
    dwarf: &gimli::Dwarf<Reader<'_>>,
    unit: &gimli::Unit<Reader<'_>>,
) -> gimli::Result<HashMap<u64, PathBuf>> {
    let mut paths = HashMap::new();
    let Some(program) = &unit.line_program else { return Ok(paths) };
    let header = program.header();
    let comp_dir = match &unit.comp_dir {
        Some(dir) => PathBuf::from(gimli::Reader::to_string_lossy(dir)?.into_owned()),
        None => PathBuf::new(),
    };
    // DWARF 5 numbers files from 0, earlier versions from 1; asking for both covers either.
    let count = header.file_names().len() as u64;
    for index in 0..=count {
        let Some(entry) = header.file(index) else { continue };
        let name = dwarf.attr_string(unit, entry.path_name())?;
        let name = PathBuf::from(gimli::Reader::to_string_lossy(&name)?.into_owned());
        let dir = match entry.directory(header) {
            Some(d) => PathBuf::from(
                gimli::Reader::to_string_lossy(&dwarf.attr_string(unit, d)?)?.into_owned(),
            ),
            None => PathBuf::new(),
        };
        paths.insert(index, normalize(&comp_dir.join(dir).join(name)));
    }
    Ok(paths)
}

/// Removes `.` and resolves `..` without touching the file system (clang writes `dir/./h.h`).
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn relative_to(path: &Path, root: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    Some(rel.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_that_are_no_object_file_are_an_error_not_a_panic() {
        let err = read_layouts(b"\x7fELF truncated", Path::new("/"), "x86_64-linux-gnu", "garbage")
            .expect_err("not an object");
        assert!(err.to_string().starts_with("reading the object file built for garbage"), "{err}");
        assert!(read_layouts(&[], Path::new("/"), "x86_64-linux-gnu", "empty").is_err());
    }

    #[test]
    fn scalar_alignment_follows_each_abi() {
        assert_eq!(max_scalar_alignment("i386-linux-gnu"), 4);
        assert_eq!(max_scalar_alignment("i686-pc-linux-gnu"), 4);
        assert_eq!(max_scalar_alignment("arm-linux-gnueabihf"), 8);
        assert_eq!(max_scalar_alignment("arm64-apple-macos"), 16);
        assert_eq!(max_scalar_alignment("x86_64-linux-gnu"), 16);
        assert_eq!(natural_alignment(12), 4, "i386 long double");
        assert_eq!(natural_alignment(0), 1);
    }

    #[test]
    fn clang_paths_with_dot_segments_normalize_to_the_tree() {
        assert_eq!(
            normalize(Path::new("/tmp/t/./include/../include/a.h")),
            PathBuf::from("/tmp/t/include/a.h")
        );
        assert_eq!(
            relative_to(Path::new("/tmp/t/include/a.h"), Path::new("/tmp/t")).as_deref(),
            Some("include/a.h")
        );
        assert_eq!(relative_to(Path::new("/usr/lib/clang/stdint.h"), Path::new("/tmp/t")), None);
    }
}
