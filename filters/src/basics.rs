//! Basic stages: `url-blocklist`, `regex`, `normalize` and `pii`.
//!
//! # `url-blocklist`
//!
//! Drops a document whose URL's host is a blocked domain or a subdomain of one (blocking
//! `example.com` blocks `www.example.com` and `a.b.example.com`, not `badexample.com`).
//!
//! | param | default | meaning |
//! |---|---|---|
//! | `file` | – | a text file of domains, one per line; `#` starts a comment |
//! | `domains` | `[]` | more domains |
//! | `url_field` | `"url"` | the record field holding the URL |
//!
//! At least one domain is required; an unreadable `file` is a construction error naming it.
//! Entries may be written as hosts (`example.com`), wildcards (`*.example.com`, same as
//! `example.com`) or URLs (`https://example.com/path`: the host is taken). Hosts compare
//! case-insensitively, without a trailing dot, port or user info. A document without the URL
//! field is kept. Rule: `blocked_domain` (value `1`, threshold `0`).
//!
//! # `regex`
//!
//! | param | default | meaning |
//! |---|---|---|
//! | `pattern` / `patterns` | – | one pattern, or a list (Rust `regex` syntax; at least one) |
//! | `action` | `"drop"` | `"drop"`: drop documents any pattern matches; `"keep"`: drop documents no pattern matches |
//! | `name` | `"match"` (`"no_match"` for keep) | the rule name reported for drops |
//!
//! A pattern that does not compile is a construction error naming it. Drops carry value `1`,
//! threshold `0`.
//!
//! # `normalize`
//!
//! Rewrites text; each step can be switched off, and runs only when a cheap scan finds something
//! to do (ASCII text is NFC already; no allocation when nothing changes). In this order:
//!
//! | param (default `true`) | rule | what |
//! |---|---|---|
//! | `crlf` | `crlf` | `\r\n` and lone `\r` become `\n` |
//! | `control_chars` | `control-chars` | removes Unicode control characters (C0, DEL, C1) other than `\t`, `\n` and `\r` (a `\r` is left alone: the `crlf` step owns line ends) |
//! | `nfc` | `nfc` | Unicode NFC |
//! | `blank_lines` | `blank-lines` | runs of 3 or more `\n` (2+ empty lines) become `\n\n` (one empty line); lines of spaces are not empty for this rule |
//!
//! Returns `Changed` with the steps that changed something joined by `+` (`crlf+nfc`), or
//! `Keep`.
//!
//! # `pii`
//!
//! Replaces e-mail and IP addresses, following datatrove's `PIIFormatter`: the same e-mail regex
//! and IPv4 regex, only public IPs by default (Python 3.11 `ipaddress.is_global`: not private,
//! loopback, link-local, documentation, reserved or shared `100.64.0.0/10`), and the same
//! placeholders, used in turn.
//!
//! | param | default |
//! |---|---|
//! | `emails` | `true` |
//! | `ips` | `true` |
//! | `only_public_ips` | `true` |
//! | `email_replacement` | `["email@example.com", "firstname.lastname@example.org"]` |
//! | `ip_replacement` | `["22.214.171.124", "126.96.36.199", "188.8.131.52", "184.108.40.206", "220.127.116.11", "18.104.22.168"]` |
//! | `ipv6_replacement` | `["2001:db8::1", "2001:db8:85a3::8a2e:370:7334"]` |
//!
//! Rule (of `Changed`): `email`, `ip` or `email+ip`.
//!
//! Differences from datatrove, all to cut false positives or keep runs reproducible:
//! - e-mails match case-insensitively (datatrove's pattern is lowercase-only, so it misses
//!   `John.Doe@Example.com`);
//! - an IPv4 match must stand alone: not preceded by a letter, digit or `.`, not followed by a
//!   letter, digit, or `.` and a digit (datatrove replaces `56.1.1.1` inside `256.1.1.1.1`, and
//!   `1.2.3.4` inside `v1.2.3.4`); octets with leading zeros are not addresses (as in Python);
//! - a free-standing version number that is a valid public address (`1.2.3.4`) *is* replaced,
//!   as in datatrove: a known false positive, kept for parity;
//! - IPv6 addresses are replaced too (datatrove has none): runs of hex digits and `:` that parse
//!   as IPv6, stand alone, and lie in global unicast `2000::/3` outside `2001::/23` and
//!   `2001:db8::/32` (so C++/Rust paths like `dead::beef` are left alone);
//! - placeholders cycle per document (the first address of every document gets the first
//!   placeholder), not through one counter shared by the whole run, so output does not depend on
//!   thread scheduling.

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

use arcade_pipeline::read::Document;
use arcade_pipeline::stage::{parse_params, Stage, StageRegistry, Verdict};
use regex::{Regex, RegexSet};
use rustc_hash::FxHashSet;
use serde::Deserialize;
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

pub(crate) fn register(registry: &mut StageRegistry) {
    registry.register("url-blocklist", UrlBlocklist::from_params);
    registry.register("regex", RegexFilter::from_params);
    registry.register("normalize", Normalize::from_params);
    registry.register("pii", Pii::from_params);
}

// ---------------------------------------------------------------------------------------------
// url-blocklist

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlBlocklistParams {
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default = "default_url_field")]
    pub url_field: String,
}

fn default_url_field() -> String {
    "url".into()
}

/// The `url-blocklist` stage.
#[derive(Debug, Clone)]
pub struct UrlBlocklist {
    blocked: FxHashSet<String>,
    url_field: String,
}

impl UrlBlocklist {
    pub fn new(params: UrlBlocklistParams) -> Result<Self, String> {
        let mut blocked = FxHashSet::default();
        let mut add = |entry: &str| {
            let entry = entry.trim();
            let entry = entry.strip_prefix("*.").unwrap_or(entry);
            let entry = entry.strip_prefix('.').unwrap_or(entry);
            if let Some(host) = url_host(entry) {
                blocked.insert(host.to_lowercase());
            }
        };
        if let Some(file) = &params.file {
            let text = std::fs::read_to_string(file)
                .map_err(|e| format!("cannot read blocklist file {file:?}: {e}"))?;
            for line in text.lines() {
                add(line.split('#').next().unwrap_or_default());
            }
        }
        for domain in &params.domains {
            add(domain);
        }
        if blocked.is_empty() {
            return Err(match &params.file {
                Some(file) => format!("blocklist file {file:?} lists no domain"),
                None => "give `file` or `domains`".to_string(),
            });
        }
        Ok(Self {
            blocked,
            url_field: params.url_field,
        })
    }

    fn from_params(params: &toml::Table) -> Result<Box<dyn Stage>, String> {
        Ok(Box::new(Self::new(parse_params(params)?)?))
    }

    /// Whether the host of `url` is blocked (equal to or a subdomain of a listed domain).
    pub fn is_blocked(&self, url: &str) -> bool {
        let Some(host) = url_host(url) else {
            return false;
        };
        let host: Cow<str> = if host.bytes().any(|b| b.is_ascii_uppercase()) || !host.is_ascii() {
            Cow::Owned(host.to_lowercase())
        } else {
            Cow::Borrowed(host)
        };
        let mut candidate = host.as_ref();
        loop {
            if self.blocked.contains(candidate) {
                return true;
            }
            match candidate.find('.') {
                Some(dot) => candidate = &candidate[dot + 1..],
                None => return false,
            }
        }
    }
}

impl Stage for UrlBlocklist {
    fn name(&self) -> &str {
        "url-blocklist"
    }

    fn fields(&self) -> Vec<String> {
        vec![self.url_field.clone()]
    }

    fn apply(&self, doc: &mut Document) -> Verdict {
        match doc.field(&self.url_field) {
            Some(url) if self.is_blocked(url) => Verdict::drop("blocked_domain", 1.0, 0.0),
            _ => Verdict::Keep,
        }
    }
}

/// The host of a URL (`https://user@Example.com:8080/x` → `Example.com`); also accepts a bare
/// host or `host/path`. Trailing dots are removed; IPv6 hosts keep their brackets.
pub fn url_host(url: &str) -> Option<&str> {
    let url = url.trim();
    let rest = match url.find("://") {
        Some(i)
            if i > 0
                && url[..i]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')) =>
        {
            &url[i + 3..]
        }
        _ => url.strip_prefix("//").unwrap_or(url),
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        host_port
            .find(']')
            .map_or(host_port, |end| &host_port[..=end])
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    let host = host.trim_end_matches('.');
    (!host.is_empty()).then_some(host)
}

// ---------------------------------------------------------------------------------------------
// regex

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegexParams {
    #[serde(default)]
    pub pattern: Option<String>,
    #[serde(default)]
    pub patterns: Vec<String>,
    #[serde(default = "default_action")]
    pub action: String,
    #[serde(default)]
    pub name: Option<String>,
}

fn default_action() -> String {
    "drop".into()
}

/// The `regex` stage.
#[derive(Debug, Clone)]
pub struct RegexFilter {
    set: RegexSet,
    drop_on_match: bool,
    rule: String,
}

impl RegexFilter {
    pub fn new(params: RegexParams) -> Result<Self, String> {
        let patterns: Vec<String> = params.pattern.into_iter().chain(params.patterns).collect();
        if patterns.is_empty() {
            return Err("give `pattern` or `patterns`".into());
        }
        for pattern in &patterns {
            Regex::new(pattern)
                .map_err(|e| format!("pattern {pattern:?} does not compile: {e}"))?;
        }
        let set = RegexSet::new(&patterns).map_err(|e| format!("patterns {patterns:?}: {e}"))?;
        let drop_on_match = match params.action.as_str() {
            "drop" => true,
            "keep" => false,
            other => return Err(format!("action {other:?} is neither \"drop\" nor \"keep\"")),
        };
        let rule = params
            .name
            .unwrap_or_else(|| if drop_on_match { "match" } else { "no_match" }.to_string());
        Ok(Self {
            set,
            drop_on_match,
            rule,
        })
    }

    fn from_params(params: &toml::Table) -> Result<Box<dyn Stage>, String> {
        Ok(Box::new(Self::new(parse_params(params)?)?))
    }
}

impl Stage for RegexFilter {
    fn name(&self) -> &str {
        "regex"
    }

    fn apply(&self, doc: &mut Document) -> Verdict {
        if self.set.is_match(&doc.text) == self.drop_on_match {
            Verdict::drop(self.rule.clone(), 1.0, 0.0)
        } else {
            Verdict::Keep
        }
    }
}

// ---------------------------------------------------------------------------------------------
// normalize

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NormalizeParams {
    pub crlf: bool,
    pub control_chars: bool,
    pub nfc: bool,
    pub blank_lines: bool,
}

impl Default for NormalizeParams {
    fn default() -> Self {
        Self {
            crlf: true,
            control_chars: true,
            nfc: true,
            blank_lines: true,
        }
    }
}

/// One rewrite of `normalize`: the new text, or `None` when it changes nothing.
type Step = fn(&str) -> Option<String>;

/// The `normalize` stage.
#[derive(Debug, Clone)]
pub struct Normalize {
    params: NormalizeParams,
}

impl Normalize {
    pub fn new(params: NormalizeParams) -> Self {
        Self { params }
    }

    fn from_params(params: &toml::Table) -> Result<Box<dyn Stage>, String> {
        Ok(Box::new(Self::new(parse_params(params)?)))
    }
}

impl Stage for Normalize {
    fn name(&self) -> &str {
        "normalize"
    }

    fn apply(&self, doc: &mut Document) -> Verdict {
        let p = &self.params;
        let steps: [(bool, &str, Step); 4] = [
            (p.crlf, "crlf", normalize_line_ends),
            (p.control_chars, "control-chars", remove_control_chars),
            (p.nfc, "nfc", to_nfc),
            (p.blank_lines, "blank-lines", collapse_blank_lines),
        ];
        let mut rule = String::new();
        for (enabled, name, step) in steps {
            if !enabled {
                continue;
            }
            if let Some(text) = step(&doc.text) {
                doc.text = text;
                if !rule.is_empty() {
                    rule.push('+');
                }
                rule.push_str(name);
            }
        }
        if rule.is_empty() {
            Verdict::Keep
        } else {
            Verdict::Changed { rule }
        }
    }
}

/// `\r\n` and lone `\r` → `\n`; `None` when there is no `\r`.
pub fn normalize_line_ends(text: &str) -> Option<String> {
    memchr::memchr(b'\r', text.as_bytes())?;
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = memchr::memchr(b'\r', rest.as_bytes()) {
        out.push_str(&rest[..i]);
        out.push('\n');
        rest = &rest[i + 1..];
        if let Some(after) = rest.strip_prefix('\n') {
            rest = after;
        }
    }
    out.push_str(rest);
    Some(out)
}

/// Whether `c` is removed by the `control-chars` step.
fn is_removed_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// Removes control characters but `\t`, `\n`, `\r`; `None` when there is none.
pub fn remove_control_chars(text: &str) -> Option<String> {
    let b = text.as_bytes();
    // C0 and DEL are single bytes; C1 (U+0080..=U+009F) is encoded 0xC2 0x80..=0x9F.
    let found = b.iter().enumerate().any(|(i, &c)| {
        (c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r'))
            || c == 0x7F
            || (c == 0xC2 && b.get(i + 1).is_some_and(|n| (0x80..=0x9F).contains(n)))
    });
    found.then(|| text.chars().filter(|&c| !is_removed_control(c)).collect())
}

/// NFC; `None` when the text is NFC already.
pub fn to_nfc(text: &str) -> Option<String> {
    if text.is_ascii() || is_nfc_quick(text.chars()) == IsNormalized::Yes {
        return None;
    }
    let nfc: String = text.nfc().collect();
    (nfc != text).then_some(nfc)
}

/// Runs of 3 or more `\n` → `\n\n`; `None` when there is no such run.
pub fn collapse_blank_lines(text: &str) -> Option<String> {
    memchr::memmem::find(text.as_bytes(), b"\n\n\n")?;
    let mut out = String::with_capacity(text.len());
    let mut run = 0;
    for c in text.chars() {
        if c == '\n' {
            run += 1;
            if run <= 2 {
                out.push('\n');
            }
        } else {
            run = 0;
            out.push(c);
        }
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// pii

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PiiParams {
    pub emails: bool,
    pub ips: bool,
    pub only_public_ips: bool,
    pub email_replacement: Vec<String>,
    pub ip_replacement: Vec<String>,
    pub ipv6_replacement: Vec<String>,
}

impl Default for PiiParams {
    fn default() -> Self {
        Self {
            emails: true,
            ips: true,
            only_public_ips: true,
            // example.com / example.org are reserved for examples (datatrove's choice).
            email_replacement: vec![
                "email@example.com".into(),
                "firstname.lastname@example.org".into(),
            ],
            // datatrove's list: random addresses that did not answer pings when it was made.
            ip_replacement: [
                "22.214.171.124",
                "126.96.36.199",
                "188.8.131.52",
                "184.108.40.206",
                "220.127.116.11",
                "18.104.22.168",
            ]
            .map(String::from)
            .to_vec(),
            // The IPv6 documentation prefix (RFC 3849).
            ipv6_replacement: vec!["2001:db8::1".into(), "2001:db8:85a3::8a2e:370:7334".into()],
        }
    }
}

/// datatrove's e-mail pattern (from the `email-validator`-style RFC 5322 regex), matched
/// case-insensitively.
const EMAIL_PATTERN: &str = concat!(
    r"(?i-u)\b[a-z0-9!#$%\&'*+/=?^_`{|}\~\-]+(?:\.[a-z0-9!#$%\&'*+/=?^_`{|}\~\-]+)*@",
    r"(?:(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?",
    r"|\[(?:(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\.){3}",
    r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?|[a-z0-9-]*[a-z0-9]:)\])",
);
/// datatrove's IPv4 pattern.
const IPV4_PATTERN: &str =
    r"(?:(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\.){3}(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)";
/// IPv6 candidates: runs of hex digits and colons with at least two colons.
const IPV6_PATTERN: &str = r"(?i-u)[0-9a-f]*:[0-9a-f]*:[0-9a-f:]*";

/// The `pii` stage.
#[derive(Debug, Clone)]
pub struct Pii {
    params: PiiParams,
    email: Regex,
    ipv4: Regex,
    ipv6: Regex,
}

impl Pii {
    pub fn new(params: PiiParams) -> Result<Self, String> {
        for (name, list) in [
            ("email_replacement", &params.email_replacement),
            ("ip_replacement", &params.ip_replacement),
            ("ipv6_replacement", &params.ipv6_replacement),
        ] {
            if list.is_empty() {
                return Err(format!("{name} is empty"));
            }
        }
        let compile = |p: &str| Regex::new(p).map_err(|e| e.to_string());
        Ok(Self {
            email: compile(EMAIL_PATTERN)?,
            ipv4: compile(IPV4_PATTERN)?,
            ipv6: compile(IPV6_PATTERN)?,
            params,
        })
    }

    fn from_params(params: &toml::Table) -> Result<Box<dyn Stage>, String> {
        Ok(Box::new(Self::new(parse_params(params)?)?))
    }

    fn ipv4_accepted(&self, text: &str, start: usize, end: usize) -> bool {
        let b = text.as_bytes();
        if start > 0 && (b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'.') {
            return false;
        }
        match b.get(end) {
            Some(c) if c.is_ascii_alphanumeric() => return false,
            Some(b'.') if b.get(end + 1).is_some_and(u8::is_ascii_digit) => return false,
            _ => {}
        }
        let s = &text[start..end];
        if s.split('.').any(|o| o.len() > 1 && o.starts_with('0')) {
            return false;
        }
        match s.parse::<Ipv4Addr>() {
            Ok(ip) => !self.params.only_public_ips || ipv4_is_global(ip),
            Err(_) => false,
        }
    }

    fn ipv6_accepted(&self, text: &str, start: usize, end: usize) -> bool {
        let b = text.as_bytes();
        let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'.';
        if (start > 0 && word(b[start - 1])) || b.get(end).is_some_and(|&c| word(c)) {
            return false;
        }
        match text[start..end].parse::<Ipv6Addr>() {
            Ok(ip) => ipv6_is_global(ip, self.params.only_public_ips),
            Err(_) => false,
        }
    }
}

impl Stage for Pii {
    fn name(&self) -> &str {
        "pii"
    }

    fn apply(&self, doc: &mut Document) -> Verdict {
        let p = &self.params;
        let mut rule = Vec::new();
        if p.emails && memchr::memchr(b'@', doc.text.as_bytes()).is_some() {
            if let Some(text) = replace(&doc.text, &self.email, &p.email_replacement, |_, _| true) {
                doc.text = text;
                rule.push("email");
            }
        }
        if p.ips {
            let mut changed = false;
            if memchr::memchr(b'.', doc.text.as_bytes()).is_some() {
                if let Some(text) = replace(&doc.text, &self.ipv4, &p.ip_replacement, |s, e| {
                    self.ipv4_accepted(&doc.text, s, e)
                }) {
                    doc.text = text;
                    changed = true;
                }
            }
            if memchr::memchr(b':', doc.text.as_bytes()).is_some() {
                if let Some(text) = replace(&doc.text, &self.ipv6, &p.ipv6_replacement, |s, e| {
                    self.ipv6_accepted(&doc.text, s, e)
                }) {
                    doc.text = text;
                    changed = true;
                }
            }
            if changed {
                rule.push("ip");
            }
        }
        if rule.is_empty() {
            Verdict::Keep
        } else {
            Verdict::Changed {
                rule: rule.join("+"),
            }
        }
    }
}

/// Replaces the matches of `re` that `accept(start, end)` approves by the placeholders in turn;
/// `None` when nothing was replaced (no allocation then).
fn replace(
    text: &str,
    re: &Regex,
    placeholders: &[String],
    accept: impl Fn(usize, usize) -> bool,
) -> Option<String> {
    let mut out: Option<String> = None;
    let mut last = 0;
    let mut n = 0;
    for m in re.find_iter(text) {
        if !accept(m.start(), m.end()) {
            continue;
        }
        let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
        out.push_str(&text[last..m.start()]);
        out.push_str(&placeholders[n % placeholders.len()]);
        n += 1;
        last = m.end();
    }
    let mut out = out?;
    out.push_str(&text[last..]);
    Some(out)
}

/// Python 3.11's `IPv4Address.is_global`: not in its private networks, not in `100.64.0.0/10`.
pub fn ipv4_is_global(ip: Ipv4Addr) -> bool {
    const NOT_GLOBAL: [([u8; 4], u32); 15] = [
        ([0, 0, 0, 0], 8),
        ([10, 0, 0, 0], 8),
        ([100, 64, 0, 0], 10),
        ([127, 0, 0, 0], 8),
        ([169, 254, 0, 0], 16),
        ([172, 16, 0, 0], 12),
        ([192, 0, 0, 0], 29),
        ([192, 0, 0, 170], 31),
        ([192, 0, 2, 0], 24),
        ([192, 168, 0, 0], 16),
        ([198, 18, 0, 0], 15),
        ([198, 51, 100, 0], 24),
        ([203, 0, 113, 0], 24),
        ([240, 0, 0, 0], 4),
        ([255, 255, 255, 255], 32),
    ];
    let addr = u32::from(ip);
    !NOT_GLOBAL.iter().any(|&(net, bits)| {
        let mask = u32::MAX << (32 - bits);
        addr & mask == u32::from(Ipv4Addr::from(net)) & mask
    })
}

/// Global unicast (`2000::/3`) outside `2001::/23` (IETF protocol assignments, incl.
/// `2001:10::/28`, `2001:2::/48`) and `2001:db8::/32` (documentation). With `only_public =
/// false`, every address in `2000::/3`.
pub fn ipv6_is_global(ip: Ipv6Addr, only_public: bool) -> bool {
    let s = ip.segments();
    if s[0] & 0xE000 != 0x2000 {
        return false;
    }
    if !only_public {
        return true;
    }
    let in_2001_23 = s[0] == 0x2001 && s[1] < 0x0200;
    let documentation = s[0] == 0x2001 && s[1] == 0x0db8;
    !(in_2001_23 || documentation)
}
