//! Report mails: built with lettre from a rule's templates and the event's [`Context`], sent
//! over SMTP. Everything that comes from mail (subjects, names, Message-IDs) is made safe for a
//! header first: control characters (CR and LF included) become spaces, and a Message-ID that
//! is not a plain `left@right` is not used for threading.

use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{SmtpTransport, Transport};

use crate::config::{ReportRule, SmtpConfig};
use crate::context::Context;
use crate::template;

/// Longest subject a report writes (characters).
const MAX_SUBJECT: usize = 250;
/// References a reply carries at most (the newest ones).
const MAX_REFERENCES: usize = 20;

/// Parses one address (`a@b` or `Name <a@b>`), refusing anything a header could be bent with.
pub fn mailbox(text: &str) -> Result<(), String> {
    parse_mailbox(text).map(|_| ())
}

fn parse_mailbox(text: &str) -> Result<Mailbox, String> {
    if text.chars().any(char::is_control) {
        return Err(format!("{text:?} holds control characters"));
    }
    text.trim().parse::<Mailbox>().map_err(|e| format!("`{text}` is not a mail address ({e})"))
}

/// Text for a header: no control characters, whitespace collapsed, bounded.
pub fn header_text(s: &str) -> String {
    let spaced: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let mut out = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some((i, _)) = out.char_indices().nth(MAX_SUBJECT) {
        out.truncate(i);
    }
    out
}

/// A Message-ID (without `<>`) fit for In-Reply-To/References: printable ASCII, no spaces or
/// brackets, one `@`.
pub fn safe_msgid(id: &str) -> Option<String> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    let ok = !id.is_empty()
        && id.len() <= 250
        && id.bytes().all(|b| {
            b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"' | b'\\' | b'(' | b')' | b',')
        })
        && id.matches('@').count() == 1;
    ok.then(|| id.to_string())
}

/// `Re: <subject>`, without piling up `Re: Re:`.
pub fn reply_subject(original: &str) -> String {
    let mut s = header_text(original);
    loop {
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("re:") || lower.starts_with("aw:") {
            s = s[3..].trim_start().to_string();
        } else {
            break;
        }
    }
    header_text(&format!("Re: {s}"))
}

/// Whether a rule's mail is threaded under the series: its `reply`, else yes for apply and
/// check results.
pub fn is_reply(rule: &ReportRule, ctx: &Context) -> bool {
    rule.reply.unwrap_or(matches!(
        ctx.event,
        "apply-failed"
            | "apply-ok"
            | "series-applied"
            | "check-failed"
            | "check-passed"
            | "check-warning"
            | "check-finished"
    ))
}

const DEFAULT_BODY: &str = "{result}\n\nSeries: {subject}\n{series_url}\n";
/// The log's lines a reader needs first: the end of an apply or check log, the start of the
/// ABI report (its verdict and breaking findings).
const DEFAULT_LOG: &str = "\nLog ({log_url}):\n\n{log_excerpt}";
const FOOTER: &str = "\n-- \nquire: {event} of project {project}\n";

/// The report mail for `rule` to `to` (entries of the rule's `to`): From, To (resolved),
/// Subject, threading, body. `list` is the project's list addresses; `message_id` the report's
/// own Message-ID (without `<>`). An error says why no mail can be built (no valid recipient...).
pub fn compose(
    rule: &ReportRule,
    to: &[String],
    ctx: &Context,
    from: &str,
    list: &[String],
    message_id: &str,
) -> Result<Message, String> {
    let from = parse_mailbox(from)?;
    let mut recipients: Vec<Mailbox> = Vec::new();
    let mut add = |m: Mailbox| {
        if !recipients
            .iter()
            .any(|r| AsRef::<str>::as_ref(&r.email).eq_ignore_ascii_case(m.email.as_ref()))
        {
            recipients.push(m);
        }
    };
    for t in to {
        match t.as_str() {
            "list" => list.iter().filter_map(|a| parse_mailbox(a).ok()).for_each(&mut add),
            "submitter" => {
                if let Some(s) = &ctx.submitter
                    && let Ok(email) = s.email.trim().parse()
                {
                    add(Mailbox::new(Some(header_text(&s.name)).filter(|n| !n.is_empty()), email));
                }
            }
            a => add(parse_mailbox(a)?),
        }
    }
    if recipients.is_empty() {
        return Err(format!(
            "no recipient: `to = {:?}` names no usable address for this event",
            to
        ));
    }
    let reply = is_reply(rule, ctx);
    let parent = ctx.parent.as_ref().filter(|_| reply);
    let subject = match (&rule.subject, parent) {
        (Some(t), _) => header_text(&template::render(t, &ctx.values)),
        (None, Some(p)) => reply_subject(&p.subject),
        (None, None) => {
            header_text(&template::render("[{project}] {event}: {subject}", &ctx.values))
        }
    };
    let body = match &rule.body {
        Some(t) => template::render(t, &ctx.values),
        None => {
            let mut t = DEFAULT_BODY.to_string();
            if ctx.values.get("log_excerpt").is_some_and(|l| !l.trim().is_empty()) {
                t.push_str(DEFAULT_LOG);
            }
            t.push_str(FOOTER);
            template::render(&t, &ctx.values)
        }
    };
    let mut b =
        Message::builder().from(from).subject(subject).message_id(Some(format!("<{message_id}>")));
    for r in recipients {
        b = b.to(r);
    }
    if let Some(p) = parent
        && let Some(id) = safe_msgid(&p.message_id)
    {
        let mut refs: Vec<String> = p.references.iter().filter_map(|r| safe_msgid(r)).collect();
        refs.retain(|r| *r != id);
        refs.push(id.clone());
        let refs = &refs[refs.len().saturating_sub(MAX_REFERENCES)..];
        b = b
            .in_reply_to(format!("<{id}>"))
            .references(refs.iter().map(|r| format!("<{r}>")).collect::<Vec<_>>().join(" "));
    }
    for (name, value) in
        [("Auto-Submitted", "auto-generated".to_string()), ("X-Quire-Event", ctx.event.to_string())]
    {
        if let Ok(n) = HeaderName::new_from_ascii(name.to_string()) {
            b = b.raw_header(HeaderValue::new(n, value));
        }
    }
    b.header(ContentType::TEXT_PLAIN).body(body).map_err(|e| format!("cannot build the mail: {e}"))
}

/// Why a mail was not sent.
#[derive(Debug)]
pub struct SendError {
    /// Do not try again: the server refused it for good (5xx), or the connection broke in a way
    /// that leaves open whether the server took it (then a second try could mail it twice).
    pub permanent: bool,
    pub message: String,
}

/// Whether sending may be tried again without risking a second copy: the server answered 4xx
/// (it did not take the mail), or no connection could be made (nothing was sent).
fn retryable(e: &lettre::transport::smtp::Error) -> bool {
    e.is_transient() || e.is_tls() || e.to_string().starts_with("Connection error")
}

/// An SMTP connection setup, made once per notifier.
#[derive(Clone)]
pub struct Mailer {
    transport: SmtpTransport,
    pub from: String,
}

impl Mailer {
    pub fn new(c: &SmtpConfig) -> Result<Mailer, String> {
        let builder = if c.tls {
            SmtpTransport::relay(&c.host).map_err(|e| format!("[smtp] {}: {e}", c.host))?
        } else if c.starttls {
            SmtpTransport::starttls_relay(&c.host).map_err(|e| format!("[smtp] {}: {e}", c.host))?
        } else {
            SmtpTransport::builder_dangerous(c.host.as_str())
        };
        let mut builder = builder.port(c.port).timeout(Some(Duration::from_secs(c.timeout.max(1))));
        if let (Some(user), Some(file)) = (&c.user, &c.password_file) {
            let text = std::fs::read_to_string(file)
                .map_err(|e| format!("[smtp] password_file {}: {e}", file.display()))?;
            let password = text.lines().next().unwrap_or_default().to_string();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(Mailer { transport: builder.build(), from: c.from.clone() })
    }

    /// Sends one mail (blocking: call from `spawn_blocking`).
    pub fn send(&self, m: &Message) -> Result<(), SendError> {
        self.transport.send(m).map(|_| ()).map_err(|e| {
            let permanent = !retryable(&e);
            let message = if permanent && !e.is_permanent() {
                format!("{e}; the server may have taken it, so it is not sent again")
            } else {
                e.to_string()
            };
            SendError { permanent, message }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_text_cannot_start_a_new_header() {
        assert_eq!(header_text("fix\r\nBcc: evil@example.com\n x"), "fix Bcc: evil@example.com x");
        assert_eq!(reply_subject("Re: RE: [PATCH] x\r\n"), "Re: [PATCH] x");
    }

    #[test]
    fn only_plain_message_ids_are_threaded() {
        assert_eq!(safe_msgid("<a.b@c>").as_deref(), Some("a.b@c"));
        assert_eq!(safe_msgid("a@b>\r\nBcc: x@y"), None);
        assert_eq!(safe_msgid("no-at-sign"), None);
        assert_eq!(safe_msgid("a b@c"), None);
    }

    #[test]
    fn addresses_with_line_breaks_are_refused() {
        assert!(mailbox("quire <q@example.org>").is_ok());
        assert!(mailbox("q@example.org\r\nBcc: x@y").is_err());
        assert!(mailbox("not an address").is_err());
    }
}
