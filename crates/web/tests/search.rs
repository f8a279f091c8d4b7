//! `?q=` on the series list page, over HTTP against a real server on 127.0.0.1, on SQLite and
//! PostgreSQL: the query language (docs/search.md) finds what the store finds; a bad query is a
//! 400 page that says where and what was expected, never a 500.

mod common;

use quire_store::{Store, both_backends};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `GET path` over a plain HTTP/1.0 connection: (status, body).
async fn http_get(base: &str, path: &str) -> (u16, String) {
    let addr = base.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    conn.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .expect("send");
    let mut bytes = Vec::new();
    conn.read_to_end(&mut bytes).await.expect("read");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// Text of HTML as shown: entities decoded (named and numeric).
fn unescape(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|&e| e < 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let c = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => {
                u32::from_str_radix(&e[2..], 16).ok().and_then(char::from_u32)
            }
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn titles(html: &str) -> Vec<String> {
    html.split("<td class=\"title\"><a href=\"")
        .skip(1)
        .map(|t| t.split('>').nth(1).unwrap_or("").split('<').next().unwrap_or("").to_string())
        .collect()
}

async fn search_page_over_http(store: Store) {
    common::fill_with_real_mail(&store).await;
    let base = common::spawn_server(store.clone()).await;
    for (q, encoded) in [
        ("subject:fanotify", "subject%3Afanotify"),
        ("from:\"petr vorel\" is:reviewed", "from%3A%22petr%20vorel%22%20is%3Areviewed"),
        (
            "file:testcases/kernel/syscalls/ -has:replies",
            "file%3Atestcases%2Fkernel%2Fsyscalls%2F%20-has%3Areplies",
        ),
        ("fanotify OR inotify", "fanotify%20OR%20inotify"),
    ] {
        let want = store.series_search_text(Some("ltp"), q, 1, 50).await.expect(q);
        assert!(want.total > 0, "{q}: the first 1500 LTP mails have some");
        let (status, html) = http_get(&base, &format!("/ltp/?q={encoded}")).await;
        assert_eq!(status, 200, "{q}: {html}");
        let want_titles: Vec<&str> = want.items.iter().map(|s| s.subject.as_str()).collect();
        let got: Vec<String> = titles(&html).iter().map(|t| unescape(t)).collect();
        assert_eq!(got, want_titles, "{q}");
    }
    for (encoded, says) in [
        ("%28fanotify", "Bad query: unbalanced parenthesis: `(` at column 1 is never closed"),
        ("frm%3Apetr", "Bad query: unknown prefix `frm:` at column 1; did you mean `from:`?"),
        ("age%3A2w", "Bad query: `age:` takes a duration like `<2w` at column 5"),
        ("dfa%3Ax", "Bad query: `dfa:`/`dfb:` (diff lines, and `dfctx:`"),
    ] {
        let (status, html) = http_get(&base, &format!("/ltp/?q={encoded}")).await;
        assert_eq!(status, 400, "{encoded}: {html}");
        let shown = unescape(&html);
        assert!(shown.contains(says), "{encoded}: {shown}");
        assert!(
            shown.contains("<form class=\"search\""),
            "the search box is on the page to fix the query"
        );
    }
}

both_backends!(series_search_page, |store| search_page_over_http(store));
