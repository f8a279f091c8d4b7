//! Report templates: text with `{placeholders}` ([`PLACEHOLDERS`]); `{{` and `}}` are literal
//! braces. Unknown placeholders are refused when the configuration is read.

use std::collections::HashMap;

/// What a template can name.
pub const PLACEHOLDERS: &[&str] = &[
    "project",       // the project's name
    "event",         // the finest event name: check-failed, apply-ok, series-new...
    "subject",       // the series' subject as posted
    "series_url",    // the series' page
    "submitter",     // Name <address> of who posted the series
    "version",       // revision number
    "result",        // one line: "check build: fail", "series failed to apply at patch 2/3"...
    "check",         // the check's name (check events)
    "state",         // the check's or apply's state
    "description",   // the check's description
    "log_url",       // where the full log is
    "log_tail",      // the log's last lines
    "log_excerpt",   // what to read first: the log's last lines, the ABI report's first
    "superseded_by", // the newer revision's page (series-superseded)
];

/// Fills `template` with `values` (missing values are empty).
pub fn render(template: &str, values: &HashMap<&str, String>) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
        } else if let (true, Some(end)) = (tail.starts_with('{'), tail.find('}')) {
            let name = &tail[1..end];
            out.push_str(values.get(name).map(String::as_str).unwrap_or_default());
            rest = &tail[end + 1..];
        } else {
            out.push_str(&tail[..1]);
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// Checks that every placeholder is known and every brace is closed.
pub fn check(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            rest = &tail[2..];
        } else if tail.starts_with('}') {
            return Err("a lone `}`: write `}}` for a brace".into());
        } else {
            let Some(end) = tail.find('}') else {
                return Err("a `{` is not closed: write `{{` for a brace".into());
            };
            let name = &tail[1..end];
            if !PLACEHOLDERS.contains(&name) {
                return Err(format!(
                    "unknown placeholder `{{{name}}}`: use {}",
                    PLACEHOLDERS.iter().map(|p| format!("{{{p}}}")).collect::<Vec<_>>().join(", ")
                ));
            }
            rest = &tail[end + 1..];
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_braces_escaped() {
        let values = HashMap::from([
            ("project", "xen".to_string()),
            ("result", "check build: fail".to_string()),
        ]);
        assert_eq!(
            render("[{project}] {result} {{x}} {log_tail}.", &values),
            "[xen] check build: fail {x} ."
        );
        assert!(check("[{project}] {{ok}}").is_ok());
        assert!(check("{projct}").unwrap_err().contains("unknown placeholder `{projct}`"));
        assert!(check("{project").is_err());
        assert!(check("a } b").is_err());
    }

    #[test]
    fn values_are_not_expanded_again() {
        let values =
            HashMap::from([("subject", "{project}".to_string()), ("project", "xen".to_string())]);
        assert_eq!(render("{subject}", &values), "{project}");
    }
}
