//! The series search's helpers shared by its front ends (CLI, web, API); the SQL is in
//! `sql/search.rs`.

use quire_query::{Query, Term};

/// The series search counts its matches up to this many: past it, `Page::total` is this
/// number and `Page::total_capped` is set ("more than 10,000"). Counting further would cost
/// a query matching most of a large store a pass over all of it.
pub const SEARCH_TOTAL_CAP: u64 = 10_000;

/// Whether `q` asks about obsolete series itself (`is:obsolete`, `state:obsolete`, negated or
/// not): then a front end that hides obsolete series by default leaves it as it is.
pub fn mentions_obsolete(q: &Query) -> bool {
    match q {
        Query::Term(Term::Is(v)) | Query::Term(Term::State(v)) => v == "obsolete",
        Query::Term(_) => false,
        Query::Not(x) => mentions_obsolete(x),
        Query::And(v) | Query::Or(v) => v.iter().any(mentions_obsolete),
    }
}

/// `q` restricted to the newest revisions (`q -is:obsolete`), as the series lists show by
/// default, unless `q` asks about obsolete series itself.
pub fn newest_revisions_only(q: Query) -> Query {
    if mentions_obsolete(&q) {
        return q;
    }
    let not_obsolete = Query::Not(Box::new(Query::Term(Term::Is("obsolete".into()))));
    match q {
        Query::And(mut v) => {
            v.push(not_obsolete);
            Query::And(v)
        }
        q => Query::And(vec![q, not_obsolete]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obsolete_is_hidden_unless_asked_about() {
        let q = |s: &str| quire_query::parse(s).unwrap();
        assert_eq!(newest_revisions_only(q("a b")), q("a b -is:obsolete"));
        assert_eq!(newest_revisions_only(q("a OR b")), q("(a OR b) -is:obsolete"));
        assert_eq!(newest_revisions_only(q("a -is:obsolete")), q("a -is:obsolete"));
        assert_eq!(newest_revisions_only(q("state:obsolete")), q("state:obsolete"));
    }
}
