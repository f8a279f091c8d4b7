//! The configuration file, `<data-dir>/quire.toml`: the projects quire follows. Read at every
//! start; its projects are written to the store (the file wins over earlier values).

use anyhow::{Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "quire.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default, rename = "project")]
    pub projects: Vec<ProjectConfig>,
    /// How report mails leave (`[smtp]`); needed by `[[project.report]]`.
    pub smtp: Option<quire_notify::SmtpConfig>,
    /// The web server's settings (`[web]`).
    #[serde(default)]
    pub web: WebSection,
    /// Signature verification (`[attestation]`, docs/attestation.md).
    #[serde(default)]
    pub attestation: crate::attest::AttestationSection,
}

/// The `[web]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSection {
    /// Reverse proxies (addresses or networks) whose `X-Forwarded-For` names the client that
    /// failed logins are counted by; without them every client behind a proxy is the proxy.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

impl WebSection {
    pub fn trusted_proxies(&self) -> Result<quire_web::client::TrustedProxies, String> {
        quire_web::client::TrustedProxies::parse(&self.trusted_proxies)
    }
}

/// One `[[project]]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    /// Short name used in URLs: `/<name>/`.
    pub name: String,
    /// List-Id values of the project's list(s), without angle brackets.
    #[serde(default)]
    pub list_id: Vec<String>,
    /// Addresses of the list(s): mail without a List-Id is matched by To/Cc.
    #[serde(default)]
    pub list_address: Vec<String>,
    /// Subject tags that mark this project's mail on a list shared with others (Patchew's
    /// prefix_tags): `["libvirt-python"]` takes `[libvirt-python PATCH] ...`; the list's projects
    /// without tags take the rest.
    #[serde(default)]
    pub subject_prefix: Vec<String>,
    /// The project's git tree and branch, for applying series.
    pub git: Option<String>,
    pub branch: Option<String>,
    /// Where applied series are pushed, and the tag prefix (`<prefix>/<message-id>`).
    pub mirror: Option<String>,
    pub tag_prefix: Option<String>,
    /// The C ABI check of public headers (`[project.abi]`): which headers, include dirs, prelude,
    /// macro sets and targets. Absent: no ABI check for the project.
    pub abi: Option<quire_abi::AbiConfig>,
    /// What a series needs from the maintainers its project's maintainers file lists
    /// (`[project.approvals]`). Absent: the defaults (each touched file approved by a
    /// maintainer of its most specific section, read from `MAINTAINERS`) for a project with a
    /// tree.
    pub approvals: Option<quire_store::ApprovalConfig>,
    /// Checks run on every applied series (`[[project.check]]`): the built-in `style`, or a
    /// script run by testers in the applied tree.
    #[serde(default, rename = "check")]
    pub checks: Vec<quire_worker::checks::CheckSpec>,
    /// Mail on events (`[[project.report]]`): which event, to whom, with which templates.
    #[serde(default, rename = "report")]
    pub reports: Vec<quire_notify::ReportRule>,
    /// Signed JSON POSTs on events (`[[project.webhook]]`).
    #[serde(default, rename = "webhook")]
    pub webhooks: Vec<quire_notify::WebhookRule>,
}

pub const STARTER: &str = r##"# quire configuration: the projects this quire follows.
# One [[project]] table per project. Mail is matched to a project by its List-Id, else by the
# list's address in To/Cc; anything else goes to the project "unassigned".
#
# [[project]]
# name = "xen"                                   # used in URLs: /xen/
# list_id = ["xen-devel.lists.xenproject.org"]   # List-Id values, without <>
# list_address = ["xen-devel@lists.xenproject.org"]
# subject_prefix = ["xen-tools"]                 # only mail tagged [xen-tools ...] (a shared list)
# git = "https://xenbits.xen.org/git-http/xen.git"
# branch = "staging"
# mirror = "https://gitlab.com/example/xen-series"   # where applied series are pushed
# tag_prefix = "quire"                               # tags are <tag_prefix>/<message-id>
#
# [project.abi]                                  # check the C ABI of public headers a series touches
# headers = ["xen/include/public/**/*.h"]
# include_dirs = ["xen/include"]
# prelude = ["#include <stdint.h>"]
# macro_sets = [[], ["-D__XEN_TOOLS__"]]
# targets = ["x86_64", "i386", "aarch64", "arm"]
#
# [project.approvals]                            # what a series needs from MAINTAINERS (docs/config.md)
# maintainers_file = "MAINTAINERS"               # read at the commit each series applies on
# rule = "each-file"                             # or "any-maintainer"
# most_specific = true                           # Xen's nesting: the most specific area's maintainers
# count = ["Acked-by", "Reviewed-by"]            # the trailers that approve
# submitter = true                               # a maintainer's own series approves their files
#
# [[project.check]]                              # built in: commit message and whitespace rules
# name = "style"
# builtin = "style"
#
# [[project.check]]                              # a script, run by `quire tester` in the applied tree
# name = "build"
# script = "make -j4 dist-xen"
# paths = ["xen/**"]                             # only series touching these (default: all)
# timeout = 3600                                 # seconds
# capability = "x86"                             # only testers started with --capability x86
#
# [[project.report]]                             # mail on an event (needs [smtp] below)
# event = "check-failed"                         # see docs/config.md for the event names
# to = ["list", "submitter"]                     # "list", "submitter" or addresses
#
# [[project.webhook]]                            # JSON POST, signed: X-Quire-Signature: sha256=<hmac>
# url = "https://ci.example.org/quire-hook"
# secret_file = "/etc/quire/webhook-secret"
# events = ["series-new", "check-failed"]        # default: every event
#
# [smtp]                                         # how report mails leave
# host = "localhost"
# port = 25
# from = "quire <quire@example.org>"
#
# [web]
# trusted_proxies = ["127.0.0.1", "::1"]         # a reverse proxy on this machine (nginx): its
#                                                # X-Forwarded-For names the client that failed
#                                                # logins are counted by (docs/accounts.md)
"##;

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

/// Reads and validates the configuration; a missing file is an empty configuration.
pub fn load(data_dir: &Path) -> Result<Config> {
    let path = path(data_dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Parses configuration text; errors name the line and the field.
pub fn parse(text: &str) -> Result<Config, String> {
    let config: Config = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
    if let Some(smtp) = &config.smtp {
        quire_notify::validate_smtp(smtp)
            .map_err(|e| format!("{}{e}", line_prefix(text, "[smtp]", None)))?;
    }
    config
        .web
        .trusted_proxies()
        .map_err(|e| format!("{}[web]: {e}", line_prefix(text, "trusted_proxies", None)))?;
    config
        .attestation
        .validate()
        .map_err(|e| format!("{}[attestation]: {e}", line_prefix(text, "[attestation]", None)))?;
    let mut seen = std::collections::HashSet::new();
    for p in &config.projects {
        validate_name(&p.name).map_err(|e| format!("project `{}`: {e}", p.name))?;
        if !seen.insert(p.name.as_str()) {
            return Err(format!("project `{}` is defined twice", p.name));
        }
        if p.branch.is_some() && p.git.is_none() {
            return Err(format!("project `{}`: `branch` needs `git` (the tree's URL)", p.name));
        }
        if let Some(a) = &p.approvals {
            validate_approvals(a).map_err(|e| {
                format!(
                    "{}project `{}`: [project.approvals]: {e}",
                    line_prefix(text, "[project.approvals]", None),
                    p.name
                )
            })?;
        }
        let mut names = std::collections::HashSet::new();
        for c in &p.checks {
            c.validate().map_err(|e| format!("project `{}`: {e}", p.name))?;
            if !names.insert(c.name.as_str()) {
                return Err(format!("project `{}`: check `{}` is defined twice", p.name, c.name));
            }
            if p.git.is_none() {
                return Err(format!(
                    "project `{}`: check `{}` needs `git`: checks run on applied series",
                    p.name, c.name
                ));
            }
        }
        quire_notify::validate_project(
            &p.reports,
            &p.webhooks,
            !p.list_address.is_empty(),
            config.smtp.is_some(),
        )
        .map_err(|e| {
            let at = e
                .value
                .as_deref()
                .map(|v| line_prefix(text, &format!("name = \"{}\"", p.name), Some(v)))
                .unwrap_or_default();
            format!("{at}project `{}`: {}", p.name, e.message)
        })?;
    }
    Ok(config)
}

/// The maintainers file is a path in the tree, and something must approve.
fn validate_approvals(a: &quire_store::ApprovalConfig) -> Result<(), String> {
    let file = a.maintainers_file.trim();
    if a.enabled
        && (file.is_empty()
            || file.starts_with('/')
            || file.starts_with('-')
            || file.split('/').any(|c| c == ".." || c.is_empty()))
    {
        return Err(format!(
            "maintainers_file = {file:?}: give the file's path in the tree, like \"MAINTAINERS\""
        ));
    }
    if a.count.is_empty() || a.count.iter().any(|c| c.trim().is_empty() || c.contains(':')) {
        return Err(format!(
            "count = {:?}: name the trailers that approve, like [\"Acked-by\", \"Reviewed-by\"]",
            a.count
        ));
    }
    Ok(())
}

/// `line N: ` of the first line holding `"value"` (or `anchor` itself when `value` is None)
/// after the line holding `anchor`; empty when not found.
fn line_prefix(text: &str, anchor: &str, value: Option<&str>) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let Some(start) = lines.iter().position(|l| l.contains(anchor)) else { return String::new() };
    let found = match value {
        None => Some(start),
        Some(v) => {
            let quoted = format!("\"{v}\"");
            lines.iter().enumerate().skip(start).find(|(_, l)| l.contains(&quoted)).map(|(i, _)| i)
        }
    };
    found.map(|i| format!("line {}: ", i + 1)).unwrap_or_default()
}

/// A project name appears in URLs: keep it to what needs no escaping.
pub fn validate_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.')
        && !quire_web::RESERVED_NAMES.contains(&name.to_ascii_lowercase().as_str());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a usable project name: use 1-64 letters, digits, `-`, `_` or `.`, and none of the names the site's own pages use ({})",
            quire_web::RESERVED_NAMES.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_site_s_own_pages_use_are_no_project_names() {
        for name in ["series", "patch", "project", "bundle", "api", "Static", "all"] {
            let e = validate_name(name).unwrap_err();
            assert!(e.contains("none of the names the site's own pages use"), "{e}");
        }
        assert!(validate_name("xen").is_ok() && validate_name("linux-mm").is_ok());
    }

    #[test]
    fn approvals_are_read_with_their_defaults_and_checked() {
        let c = parse("[[project]]\nname = \"xen\"\ngit = \"u\"\n[project.approvals]\nrule = \"any-maintainer\"\n").unwrap();
        let a = c.projects[0].approvals.clone().unwrap();
        assert_eq!(a.rule, quire_store::approvals::RuleKind::AnyMaintainer);
        assert_eq!(a.maintainers_file, "MAINTAINERS");
        assert_eq!(a.count, ["Acked-by", "Reviewed-by"]);
        let e = parse("[[project]]\nname = \"xen\"\n[project.approvals]\nmaintainers_file = \"../etc/passwd\"\n").unwrap_err();
        assert!(
            e.starts_with("line 3: project `xen`: [project.approvals]: maintainers_file"),
            "{e}"
        );
        let e =
            parse("[[project]]\nname = \"xen\"\n[project.approvals]\ncount = []\n").unwrap_err();
        assert!(e.contains("count = []"), "{e}");
        let e = parse("[[project]]\nname = \"xen\"\n[project.approvals]\nrule = \"all\"\n")
            .unwrap_err();
        assert!(e.contains("each-file") && e.contains("any-maintainer"), "{e}");
        let e = parse("[[project]]\nname = \"xen\"\n[project.approvals]\nrules = \"each-file\"\n")
            .unwrap_err();
        assert!(e.contains("unknown field `rules`"), "{e}");
    }

    #[test]
    fn the_starter_config_parses_to_no_projects() {
        assert!(parse(STARTER).unwrap().projects.is_empty());
    }

    #[test]
    fn a_project_table_parses() {
        let c = parse("[[project]]\nname = \"xen\"\nlist_id = [\"xen-devel.lists.xenproject.org\"]\ngit = \"https://x/xen.git\"\nbranch = \"staging\"\n").unwrap();
        assert_eq!(c.projects[0].name, "xen");
        assert_eq!(c.projects[0].branch.as_deref(), Some("staging"));
    }

    #[test]
    fn an_abi_table_configures_the_check() {
        let c = parse("[[project]]\nname = \"xen\"\n[project.abi]\nheaders = [\"xen/include/public/**/*.h\"]\nmacro_sets = [[], [\"-D__XEN_TOOLS__\"]]\n").unwrap();
        let abi = c.projects[0].abi.as_ref().unwrap();
        assert_eq!(abi.headers, ["xen/include/public/**/*.h"]);
        assert_eq!(abi.macro_sets.len(), 2);
        assert_eq!(abi.targets.len(), 4, "default targets");
        let e =
            parse("[[project]]\nname = \"xen\"\n[project.abi]\nheader = [\"x\"]\n").unwrap_err();
        assert!(e.contains("header") && e.contains("line 4"), "{e}");
    }

    #[test]
    fn a_misspelt_field_names_its_line_and_the_field() {
        let e = parse("[[project]]\nname = \"xen\"\nlistid = [\"x\"]\n").unwrap_err();
        assert!(e.contains("line 3"), "{e}");
        assert!(e.contains("listid"), "{e}");
    }

    #[test]
    fn a_bad_project_name_says_what_is_allowed() {
        let e = parse("[[project]]\nname = \"a/b\"\n").unwrap_err();
        assert!(e.contains("not a usable project name"), "{e}");
    }

    #[test]
    fn check_tables_are_validated() {
        let c = parse("[[project]]\nname = \"x\"\ngit = \"/t\"\n[[project.check]]\nname = \"build\"\nscript = \"make\"\ncapability = \"x86\"\n").unwrap();
        assert_eq!(c.projects[0].checks[0].job_kind(), "check:x86:build");
        let e = parse("[[project]]\nname = \"x\"\ngit = \"/t\"\n[[project.check]]\nname = \"b\"\n")
            .unwrap_err();
        assert!(e.contains("exactly one of `builtin` or `script`"), "{e}");
        let e = parse(
            "[[project]]\nname = \"x\"\n[[project.check]]\nname = \"s\"\nbuiltin = \"style\"\n",
        )
        .unwrap_err();
        assert!(e.contains("needs `git`"), "{e}");
    }

    #[test]
    fn report_and_webhook_tables_are_validated_with_their_line() {
        let ok = "[smtp]\nhost = \"localhost\"\nfrom = \"quire@example.org\"\n[[project]]\nname = \"x\"\nlist_address = [\"l@example.org\"]\n\
                  [[project.report]]\nevent = \"check-failed\"\nto = [\"list\"]\n[[project.webhook]]\nurl = \"http://127.0.0.1:1/h\"\nsecret = \"k\"\n";
        let c = parse(ok).unwrap();
        assert_eq!(c.projects[0].reports[0].to, ["list"]);
        assert_eq!(c.smtp.as_ref().unwrap().port, 25);
        let e = parse(&ok.replace("\"check-failed\"", "\"check-fail\"")).unwrap_err();
        assert!(
            e.starts_with("line 8: project `x`: report 1")
                && e.contains("unknown event `check-fail`"),
            "{e}"
        );
        let e = parse(&ok.replace("to = [\"list\"]", "tu = [\"list\"]")).unwrap_err();
        assert!(e.contains("line 9") && e.contains("tu"), "{e}");
        let e =
            parse(&ok.replace("from = \"quire@example.org\"", "from = \"nobody\"")).unwrap_err();
        assert!(e.starts_with("line 1: [smtp]: `from`"), "{e}");
        let e =
            parse(&ok.replace("[smtp]\nhost = \"localhost\"\nfrom = \"quire@example.org\"\n", ""))
                .unwrap_err();
        assert!(e.contains("needs an `[smtp]` section"), "{e}");
    }

    #[test]
    fn trusted_proxies_are_read_and_a_bad_one_names_its_line() {
        let c = parse("[web]\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\n").unwrap();
        let t = c.web.trusted_proxies().unwrap();
        assert!(
            t.contains("10.2.3.4".parse().unwrap()) && !t.contains("11.0.0.1".parse().unwrap())
        );
        let e = parse("[web]\n\ntrusted_proxies = [\"localhost\"]\n").unwrap_err();
        assert!(e.starts_with("line 3: [web]: trusted_proxies: \"localhost\""), "{e}");
        assert!(parse("").unwrap().web.trusted_proxies().unwrap().is_empty());
    }

    #[test]
    fn a_branch_without_a_tree_is_refused() {
        let e = parse("[[project]]\nname = \"x\"\nbranch = \"main\"\n").unwrap_err();
        assert!(e.contains("needs `git`"), "{e}");
    }
}
