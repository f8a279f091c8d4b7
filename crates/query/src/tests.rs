use super::*;

fn t(q: &str) -> Query {
    parse(q).unwrap_or_else(|e| panic!("{q}: {e}"))
}
fn e(q: &str) -> ParseError {
    parse(q).expect_err(q)
}
fn text(v: &str, phrase: bool) -> Query {
    Query::Term(Term::Text { value: v.into(), phrase })
}
fn fld(f: Field, v: &str) -> Query {
    Query::Term(Term::Field { field: f, value: v.into() })
}

#[test]
fn free_words_are_anded() {
    assert_eq!(t("foo bar"), Query::And(vec![text("foo", false), text("bar", false)]));
}
#[test]
fn quoted_phrase_is_one_term() {
    assert_eq!(t("\"use after free\""), text("use after free", true));
}
#[test]
fn minus_negates() {
    assert_eq!(t("-foo"), Query::Not(Box::new(text("foo", false))));
}
#[test]
fn or_binds_looser_than_and() {
    assert_eq!(
        t("a b OR c"),
        Query::Or(vec![Query::And(vec![text("a", false), text("b", false)]), text("c", false)])
    );
}
#[test]
fn parentheses_group() {
    assert_eq!(
        t("a (b OR c)"),
        Query::And(vec![text("a", false), Query::Or(vec![text("b", false), text("c", false)])])
    );
}
#[test]
fn public_inbox_b4_queries() {
    assert_eq!(
        t("patchid:A OR patchid:B"),
        Query::Or(vec![fld(Field::PatchId, "A"), fld(Field::PatchId, "B")])
    );
    assert_eq!(
        t("(nq:\"change-id: X\") AND d:20240101.."),
        Query::And(vec![
            fld(Field::NonQuoted, "change-id: X"),
            Query::Term(Term::Date { after: Some(19723), before: None })
        ])
    );
    assert_eq!(
        t("s:\"SUBJECT\" AND f:\"ADDRESS\""),
        Query::And(vec![fld(Field::Subject, "SUBJECT"), fld(Field::From, "ADDRESS")])
    );
    assert_eq!(t("NOT s:x"), Query::Not(Box::new(fld(Field::Subject, "x"))));
}
#[test]
fn every_field_prefix() {
    for (q, f) in [
        ("from:a", Field::From),
        ("to:a", Field::To),
        ("cc:a", Field::Cc),
        ("subject:a", Field::Subject),
        ("id:a", Field::MessageId),
        ("m:a", Field::MessageId),
        ("project:a", Field::Project),
        ("file:a", Field::File),
        ("dfn:a", Field::File),
        ("dfa:a", Field::DiffRemoved),
        ("dfb:a", Field::DiffAdded),
        ("dfctx:a", Field::DiffContext),
        ("dfhh:a", Field::DiffHunkHeader),
        ("dfpre:a", Field::DiffPreImage),
        ("dfpost:a", Field::DiffPostImage),
        ("a:a", Field::Addresses),
        ("tc:a", Field::ToOrCc),
        ("l:a", Field::ListId),
        ("b:a", Field::Body),
        ("bs:a", Field::SubjectOrBody),
        ("q:a", Field::Quoted),
        ("rt:a", Field::Recipients),
        ("t:a", Field::To),
        ("c:a", Field::Cc),
        ("awaiting:a", Field::Awaiting),
    ] {
        assert_eq!(t(q), fld(f, "a"), "{q}");
    }
}
#[test]
fn special_terms() {
    assert_eq!(t("version:2"), Query::Term(Term::Version(2)));
    assert_eq!(t("age:<2w"), Query::Term(Term::Age { younger: true, seconds: 14 * 86_400 }));
    assert_eq!(t("age:>3d"), Query::Term(Term::Age { younger: false, seconds: 3 * 86_400 }));
    assert_eq!(t("after:2024-01-31"), Query::Term(Term::Date { after: Some(19753), before: None }));
    assert_eq!(t("before:1970-01-02"), Query::Term(Term::Date { after: None, before: Some(1) }));
    assert_eq!(t("is:RFC"), Query::Term(Term::Is("rfc".into())));
    assert_eq!(t("is:approved"), Query::Term(Term::Is("approved".into())));
    assert_eq!(t("has:replies"), Query::Term(Term::Has("replies".into())));
    assert_eq!(t("state:Merged"), Query::Term(Term::State("merged".into())));
    assert_eq!(
        t("check:ci=fail"),
        Query::Term(Term::Check { name: "ci".into(), result: "fail".into() })
    );
}
#[test]
fn missing_value_names_prefix_and_column() {
    let x = e("from: bar");
    assert_eq!((x.pos, x.column), (5, 6));
    assert_eq!(x.to_string(), "expected a value after `from:` at column 6");
}
#[test]
fn unknown_prefix_suggests() {
    assert_eq!(e("frm:x").to_string(), "unknown prefix `frm:` at column 1; did you mean `from:`?");
}
#[test]
fn bad_values_say_what_is_expected() {
    assert!(e("age:2w").to_string().starts_with("`age:` takes a duration like `<2w`"));
    assert!(e("after:2024-13-01").to_string().contains("takes a date"));
    assert!(e("is:nope").to_string().contains("expected one of"));
    assert!(e("check:ci=maybe").to_string().contains("NAME=pass"));
    assert!(e("version:x").to_string().contains("number"));
}
#[test]
fn unbalanced_parentheses() {
    let x = e("(a b");
    assert_eq!((x.pos, x.column), (0, 1));
    assert!(x.to_string().starts_with("unbalanced parenthesis"));
    let y = e("a b)");
    assert_eq!(y.pos, 3);
    assert!(y.to_string().starts_with("unbalanced parenthesis"));
}
#[test]
fn dangling_operators_and_quotes() {
    assert!(e("a OR").to_string().contains("after `OR`"));
    assert!(e("OR a").to_string().contains("before the operator"));
    assert!(e("\"open").to_string().contains("unclosed quote"));
    assert!(e("").to_string().contains("empty query"));
    assert!(e("-").to_string().contains("negate"));
}
#[test]
fn non_ascii_never_panics_and_columns_count_chars() {
    let x = e("é frm:x");
    assert_eq!((x.pos, x.column), (3, 3));
    for q in [
        "é:",
        "age:<é",
        "age:<2é",
        "d:é..",
        "\u{1F600}:\u{1F600}",
        "((((",
        "))))",
        "-(-",
        "version:",
        "\"",
        "a:\"b",
    ] {
        let _ = parse(q);
    }
}

#[test]
fn unknown_state_names_the_states() {
    let x = e("is:rfc state:accepted");
    assert_eq!(x.column, 14);
    assert_eq!(
        x.to_string(),
        "unknown `state:accepted` at column 14: expected one of new, pending, incomplete, obsolete, applied, failed, merged"
    );
}

/// `term` inside `depth` levels made by `open`/`close` (a `(` and `)`, or a negation and
/// nothing).
fn nested(depth: usize, open: &str, close: &str) -> String {
    format!("{}x{}", open.repeat(depth), close.repeat(depth))
}

#[test]
fn nesting_up_to_the_limit_parses_and_one_more_is_refused_at_its_column() {
    let says = |deep: usize, column: usize| {
        format!(
            "the query nests {deep} deep at column {column}; at most 32 levels of parentheses and negations (`-`, `NOT`) are read"
        )
    };
    for (open, close) in [("(", ")"), ("-", ""), ("- ", ""), ("NOT ", "")] {
        let ok = nested(MAX_DEPTH, open, close);
        parse(&ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        let deep = nested(MAX_DEPTH + 1, open, close);
        let x = e(&deep);
        // Refused at the 33rd `(` or negation.
        assert_eq!(x.pos, MAX_DEPTH * open.len(), "{deep}");
        assert_eq!(x.to_string(), says(33, MAX_DEPTH * open.len() + 1), "{deep}");
    }
    // Mixed: `-(` is two levels; the 17th `-` is the 33rd, and the query goes 34 deep.
    parse(&nested(16, "-(", ")")).expect("32 levels");
    let x = e(&nested(17, "-(", ")"));
    assert_eq!(x.to_string(), says(34, 33));
    let x = e(&format!("{}x{}", "(NOT ".repeat(17), ")".repeat(17)));
    assert_eq!(x.to_string(), says(34, 81));
}

#[test]
fn a_query_nested_3000_deep_names_its_depth_without_recursing_3000_times() {
    // Run on a small stack: the parser must not recurse per level past the limit.
    let parsed = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            [
                nested(3000, "(", ")"),
                nested(3000, "-", ""),
                nested(3000, "- ", ""),
                nested(3000, "NOT ", ""),
                nested(3000, "(", ""),
                nested(100_000, "(", ")")[..MAX_QUERY_LEN].to_string(),
            ]
            .map(|q| parse(&q).map_err(|e| e.to_string()))
        })
        .expect("thread")
        .join()
        .expect("no stack overflow");
    for (e, (deep, column)) in parsed.iter().zip([
        (3000, 33),
        (3000, 33),
        (3000, 65),
        (3000, 129),
        (3000, 33),
        (65_536, 33),
    ]) {
        let e = e.as_ref().expect_err("refused");
        assert!(e.starts_with(&format!("the query nests {deep} deep at column {column};")), "{e}");
    }
}

#[test]
fn depth_counts_levels_open_at_a_term_not_every_level_ever_opened() {
    // 32 levels twice in a row and negations side by side never go past 32.
    let twice = format!("{} {}", nested(32, "(", ")"), nested(32, "(", ")"));
    parse(&twice).unwrap_or_else(|e| panic!("{e}"));
    parse(&"-a ".repeat(400)).unwrap_or_else(|e| panic!("{e}"));
    // `-(` is two levels, the `-` before the term inside one more.
    parse(&format!("{}-x{}", "-(".repeat(15), ")".repeat(15))).expect("31 levels");
    assert!(
        e(&format!("{}--x{}", "-(".repeat(16), ")".repeat(16)))
            .to_string()
            .contains("nests 34 deep")
    );
}

#[test]
fn terms_up_to_the_limit_parse_and_one_more_is_refused_at_its_column() {
    let ok = vec!["patchid:0"; MAX_TERMS].join(" OR ");
    assert_eq!(t(&ok).terms(), MAX_TERMS);
    let many = vec!["a"; MAX_TERMS + 1].join(" ");
    let x = e(&many);
    assert_eq!(x.pos, 2 * MAX_TERMS);
    assert_eq!(
        x.to_string(),
        format!(
            "the query has 501 terms; at most 500 are read (term 501 is at column {})",
            2 * MAX_TERMS + 1
        )
    );
    // Operators are not terms; a negated term is one.
    assert_eq!(t("a OR -b AND NOT (c d)").terms(), 4);
    assert!(e(&vec!["-a"; 20_000].join(" ")).to_string().starts_with("the query has 20000 terms;"));
}

#[test]
fn a_query_longer_than_the_limit_is_refused_before_it_is_read() {
    let ok = format!("{}\"", "\"".to_string() + &"a".repeat(MAX_QUERY_LEN - 2));
    assert_eq!(ok.len(), MAX_QUERY_LEN);
    assert!(matches!(t(&ok), Query::Term(Term::Text { phrase: true, .. })));
    let long = "a".repeat(MAX_QUERY_LEN + 1);
    let x = e(&long);
    assert_eq!((x.pos, x.column), (MAX_QUERY_LEN, MAX_QUERY_LEN + 1));
    assert_eq!(
        x.to_string(),
        "the query is 65537 bytes long; at most 65536 are read (it runs past them at column 65537)"
    );
    // The position falls on a char boundary, the column counts chars.
    let wide = "é".repeat(MAX_QUERY_LEN);
    let x = e(&wide);
    assert_eq!((x.pos, x.column), (MAX_QUERY_LEN, MAX_QUERY_LEN / 2 + 1));
    let x = e(&format!("a{}", "é".repeat(MAX_QUERY_LEN / 2)));
    assert_eq!((x.pos, x.column), (MAX_QUERY_LEN - 1, MAX_QUERY_LEN / 2 + 1));
}

#[test]
fn any_trailer_is_a_prefix() {
    let tr = |tag: &str, v: &str| Query::Term(Term::Trailer { tag: tag.into(), value: v.into() });
    for (q, tag) in [
        ("reviewed-by:a", "reviewed-by"),
        ("Acked-By:a", "acked-by"),
        ("tested-by:a", "tested-by"),
        ("release-acked-by:a", "release-acked-by"),
        ("suggested-by:a", "suggested-by"),
        ("reported-by:a", "reported-by"),
        ("change-id:a", "change-id"),
        ("fixes:a", "fixes"),
        ("link:a", "link"),
    ] {
        assert_eq!(t(q), tr(tag, "a"), "{q}");
    }
    // A typo of a known prefix is still one, not a trailer nobody gives.
    assert_eq!(
        e("reviewd-by:x").to_string(),
        "unknown prefix `reviewd-by:` at column 1; did you mean `reviewed-by:`?"
    );
    // A word without `-` is no trailer unless it is one of the few one-word tags.
    assert!(e("note:x").to_string().starts_with("unknown prefix `note:`"));
    assert!(!is_trailer_tag("-by") && !is_trailer_tag("a--b") && !is_trailer_tag("by-"));
    assert!(is_trailer_tag("signed-off-by") && is_trailer_tag("fixes"));
}
