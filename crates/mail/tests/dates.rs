//! Dates as sent, and dates that cannot be true: the zone of the Date header is kept (an mbox
//! quire writes gives `git am` the author's zone), the topmost Received: header says when a
//! message arrived, and a Date later than the arrival is doubted.

use quire_mail::{FUTURE_DATE_SLACK, parse};

fn mail(date: &str, received: Option<&str>) -> Vec<u8> {
    let mut m = String::new();
    if let Some(r) = received {
        m.push_str(&format!("Received: from mx.example.org (mx.example.org [192.0.2.1])\n\tby lists.example.org (Postfix) with ESMTP id 4F2;\n\t{r}\n"));
        m.push_str("Received: from laptop (unknown [198.51.100.7])\n\tby mx.example.org with ESMTPSA; Mon, 1 Jan 2001 00:00:00 +0000\n");
    }
    m.push_str(&format!(
        "From: Li Wang <li@example.com>\nSubject: [PATCH] x: y\nMessage-Id: <d@example.com>\nDate: {date}\n\nbody\n"
    ));
    m.into_bytes()
}

#[test]
fn the_date_s_zone_is_kept_as_sent() {
    let p = parse(&mail("Thu, 5 Mar 2020 17:53:43 +0800", None));
    assert_eq!(p.date, Some(1_583_402_023));
    assert_eq!(p.date_zone, Some(480));
    let p = parse(&mail("Thu, 5 Mar 2020 04:53:43 -0530", None));
    assert_eq!(p.date_zone, Some(-330));
    let p = parse(&mail("Thu, 5 Mar 2020 09:53:43 GMT", None));
    assert_eq!(p.date_zone, Some(0));
}

#[test]
fn the_topmost_received_header_is_the_arrival() {
    let p = parse(&mail(
        "Thu, 5 Mar 2020 17:53:43 +0800",
        Some("Thu, 5 Mar 2020 09:54:01 +0000 (UTC)"),
    ));
    assert_eq!(p.received, Some(1_583_402_041));
    let p = parse(&mail("Thu, 5 Mar 2020 17:53:43 +0800", None));
    assert_eq!(p.received, None);
}

#[test]
fn a_date_years_ahead_of_its_arrival_is_dated_by_the_arrival_and_flagged() {
    let arrived = 1_709_283_600; // 2024-03-01T09:00:00Z
    let mut p =
        parse(&mail("Sat, 1 Mar 2042 09:00:00 +0000", Some("Fri, 1 Mar 2024 09:00:00 +0000")));
    assert_eq!(p.received, Some(arrived));
    p.hold_future_date(1_800_000_000);
    assert_eq!(p.date, Some(arrived));
    assert!(
        p.problems.iter().any(|x| x.starts_with("doubtful Date 2042-03-01")),
        "{:?}",
        p.problems
    );

    // Without a Received: header, the import is the arrival.
    let mut p = parse(&mail("Sat, 1 Mar 2042 09:00:00 +0000", None));
    p.hold_future_date(arrived);
    assert_eq!(p.date, Some(arrived));

    // A clock a few hours fast is not doubted.
    let mut p =
        parse(&mail("Fri, 1 Mar 2024 15:00:00 +0000", Some("Fri, 1 Mar 2024 09:00:00 +0000")));
    p.hold_future_date(arrived + 10);
    assert_eq!(p.date, Some(arrived + 6 * 3600));
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    const { assert!(6 * 3600 < FUTURE_DATE_SLACK) };

    // A Received: header dated after the import cannot be the arrival either.
    let mut p =
        parse(&mail("Sat, 1 Mar 2042 09:00:00 +0000", Some("Sun, 2 Mar 2042 09:00:00 +0000")));
    p.hold_future_date(arrived);
    assert_eq!(p.date, Some(arrived));
}
