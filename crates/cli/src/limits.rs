//! `--max-message-size`: the largest message an import stores. Larger messages are refused with
//! a line naming them; messages up to it are stored byte for byte, and those beyond the parse
//! limit of quire-mail (64 MiB) are parsed only up to it and flagged.

/// Bytes from `N`, `NK`, `NM` or `NG` (binary multiples), at least 1 KiB.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let (digits, shift) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 10),
        Some((i, 'm' | 'M')) => (&t[..i], 20),
        Some((i, 'g' | 'G')) => (&t[..i], 30),
        _ => (t, 0),
    };
    let n: usize = digits.parse().map_err(|_| {
        format!("{s:?} is not a size: write bytes, or a number with K, M or G (e.g. 256M)")
    })?;
    let bytes = n.checked_mul(1usize << shift).ok_or_else(|| format!("{s} is too large"))?;
    if bytes < 1024 {
        return Err(format!("{s} is too small: at least 1K"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_with_their_suffix() {
        assert_eq!(parse_size("256M"), Ok(256 << 20));
        assert_eq!(parse_size("2048"), Ok(2048));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert!(parse_size("10").is_err());
        assert!(parse_size("lots").unwrap_err().contains("not a size"));
    }
}
