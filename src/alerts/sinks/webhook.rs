//! Webhooks: an HTTP POST per alert, with the JSON object of [`super::payload`] as the body, or
//! a template so that ntfy (plain text plus Title/Priority headers), Slack (`{"text": ...}`),
//! Discord (`{"content": ...}`) and the like receive what they expect.
//!
//! Template placeholders: `{title}` `{message}` `{symbol}` `{venue}` `{rule}` `{severity}`
//! `{priority}` (ntfy's names: info → default, warning → high, critical → urgent) `{value}`
//! `{time}` (RFC 3339) `{ts_ms}` `{alert_id}`. Any other `{...}` made of lowercase letters and
//! '_' is a config error; other braces (JSON's) are kept as they are.

use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue};

use super::config::WebhookConfig;
use super::http::Endpoint;
use super::{Notice, SinkError};
use crate::alerts::Severity;

/// Every placeholder a template may use.
pub const PLACEHOLDERS: [&str; 11] = [
    "title", "message", "symbol", "venue", "rule", "severity", "priority", "value", "time",
    "ts_ms", "alert_id",
];

/// Checks that `url` is an http(s) URL.
pub fn check_url(url: &str) -> Result<(), String> {
    let u = reqwest::Url::parse(url).map_err(|e| format!("url is not valid ({e})"))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err("url must be an http:// or https:// address with a host".into());
    }
    Ok(())
}

/// Checks that every `{name}` in `template` is a known placeholder.
pub fn check_template(template: &str) -> Result<(), String> {
    for (name, _) in placeholders(template) {
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "unknown placeholder {{{name}}} in template; available: {}",
                PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(" ")
            ));
        }
    }
    Ok(())
}

/// Checks a header name and its value (before placeholders are filled in).
pub fn check_header(name: &str, value: &str) -> Result<(), String> {
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("{name:?} is not a valid HTTP header name"))?;
    HeaderValue::from_str(value).map_err(|_| {
        format!("header {name}: the value {value:?} has characters HTTP does not allow")
    })?;
    check_template(value).map_err(|e| format!("header {name}: {e}"))
}

/// `{name}` spans in `t` whose name is lowercase letters and '_': (name, byte range).
fn placeholders(t: &str) -> Vec<(&str, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let bytes = t.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'{' {
            let start = i + 1;
            let mut j = start;
            while j < bytes.len() && (bytes[j].is_ascii_lowercase() || bytes[j] == b'_') {
                j += 1;
            }
            if j > start && j < bytes.len() && bytes[j] == b'}' {
                out.push((&t[start..j], i..j + 1));
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// A template that starts with '[' or with a '{' that does not open a placeholder.
fn looks_like_json(t: &str) -> bool {
    let t = t.trim_start();
    t.starts_with('[')
        || (t.starts_with('{') && placeholders(t).first().is_none_or(|(_, r)| r.start > 0))
}

/// ntfy's priority name for a severity.
pub fn priority(s: Severity) -> &'static str {
    match s {
        Severity::Info => "default",
        Severity::Warning => "high",
        Severity::Critical => "urgent",
    }
}

fn value_text(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "null".into()
    }
}

/// The value of one placeholder for `n`.
fn field(n: &Notice, name: &str) -> Option<String> {
    let a = &n.alert;
    Some(match name {
        "title" => n.title.clone(),
        "message" => a.message.clone(),
        "symbol" => a.key.symbol.as_str().to_string(),
        "venue" => a.key.venue.as_str().to_string(),
        "rule" => a.rule.clone(),
        "severity" => a.severity.as_str().to_string(),
        "priority" => priority(a.severity).to_string(),
        "value" => value_text(a.value),
        "time" => crate::domain::iso8601(a.ts_ms),
        "ts_ms" => a.ts_ms.to_string(),
        "alert_id" => a.alert_id.clone(),
        _ => return None,
    })
}

/// `template` with its placeholders filled in from `n`. With `json`, every value is escaped as
/// the inside of a JSON string (quotes, backslashes, control characters), so a JSON template
/// stays valid whatever the alert says.
pub fn render(template: &str, n: &Notice, json: bool) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut last = 0;
    for (name, range) in placeholders(template) {
        let Some(v) = field(n, name) else { continue };
        out.push_str(&template[last..range.start]);
        if json {
            let quoted = serde_json::Value::String(v).to_string();
            out.push_str(&quoted[1..quoted.len() - 1]);
        } else {
            out.push_str(&v);
        }
        last = range.end;
    }
    out.push_str(&template[last..]);
    out
}

/// A header value with placeholders filled in and control characters removed (a header
/// cannot hold a line break).
fn header_value(template: &str, n: &Notice) -> String {
    render(template, n, false)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// POSTs notices to one URL.
pub struct WebhookSink {
    cfg: WebhookConfig,
    content_type: String,
    json: bool,
    /// Only the host is ever shown: the URL may hold a secret.
    endpoint: Endpoint,
}

impl WebhookSink {
    pub fn new(cfg: WebhookConfig) -> Result<WebhookSink, String> {
        let endpoint = Endpoint::new(
            &format!("webhook {:?}", cfg.name),
            &cfg.url,
            cfg.timeout_secs,
        )?;
        let content_type = cfg
            .content_type
            .clone()
            .unwrap_or_else(|| match &cfg.template {
                None => "application/json".into(),
                Some(t) if looks_like_json(t) => "application/json".into(),
                Some(_) => "text/plain; charset=utf-8".into(),
            });
        let json = content_type.to_ascii_lowercase().contains("json");
        Ok(WebhookSink {
            cfg,
            content_type,
            json,
            endpoint,
        })
    }

    /// The request body for `n`.
    pub fn body(&self, n: &Notice) -> String {
        match &self.cfg.template {
            Some(t) => render(t, n, self.json),
            None => super::payload(n).to_string(),
        }
    }

    pub async fn deliver(&self, n: &Notice) -> Result<(), SinkError> {
        let mut req = self
            .endpoint
            .client
            .post(&self.cfg.url)
            .header(CONTENT_TYPE, &self.content_type)
            .body(self.body(n));
        for (k, v) in &self.cfg.headers {
            req = req.header(k.as_str(), header_value(v, n));
        }
        let Some(failure) = self.endpoint.send(req).await? else {
            return Ok(());
        };
        // the body usually says why (ntfy, Slack and Discord all explain in it), at its start
        let why = failure.first_line();
        let host = &self.endpoint.host;
        let message = if why.is_empty() {
            format!("HTTP {} from {host}", failure.status)
        } else {
            format!("HTTP {} from {host}: {why}", failure.status)
        };
        Err(failure.error(message, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AlertRecord;
    use crate::domain::{Symbol, Venue, VenueSymbol};

    fn notice(message: &str) -> Notice {
        Notice::of(AlertRecord {
            alert_id: "id-1".into(),
            ts_ms: 1_700_000_000_000,
            key: VenueSymbol::new(Venue::Coinbase, Symbol::new("BTC-USD").unwrap()),
            rule: "spike".into(),
            value: 1.5,
            message: message.into(),
            delivered: String::new(),
            severity: Severity::Critical,
        })
    }

    #[test]
    fn every_placeholder_is_filled_in() {
        let n = notice("up 5%");
        let all = PLACEHOLDERS.map(|p| format!("{{{p}}}")).join("|");
        assert_eq!(
            render(&all, &n, false),
            "tickwatch: BTC-USD spike|up 5%|BTC-USD|coinbase|spike|critical|urgent|1.5|2023-11-14T22:13:20.000Z|1700000000000|id-1"
        );
        assert!(check_template(&all).is_ok());
    }

    #[test]
    fn json_templates_stay_json_whatever_the_message_says() {
        let n = notice("a \"quoted\" \\ line\nbreak\u{1}");
        let slack = render(r#"{"text": "{title}: {message}", "v": {value}}"#, &n, true);
        let v: serde_json::Value = serde_json::from_str(&slack).unwrap();
        assert_eq!(
            v["text"],
            "tickwatch: BTC-USD spike: a \"quoted\" \\ line\nbreak\u{1}"
        );
        assert_eq!(v["v"], 1.5);
        // outside JSON the text is kept as it is
        assert_eq!(
            render("{message}", &n, false),
            "a \"quoted\" \\ line\nbreak\u{1}"
        );
    }

    #[test]
    fn only_placeholder_shaped_braces_are_checked() {
        assert!(check_template(r#"{"content": "{message}"}"#).is_ok());
        assert!(check_template("{}{ message}{Title}").is_ok());
        let e = check_template("{symbol} {mesage}").unwrap_err();
        assert!(e.contains("{mesage}") && e.contains("{message}"), "{e}");
        assert_eq!(
            render("{nope} {symbol}", &notice("m"), false),
            "{nope} BTC-USD"
        );
    }

    #[test]
    fn urls_and_headers_are_checked() {
        assert!(check_url("https://ntfy.sh/topic").is_ok());
        assert!(check_url("http://127.0.0.1:8080/hook").is_ok());
        assert!(check_url("ntfy.sh/topic").is_err());
        assert!(check_url("file:///etc/passwd").is_err());
        assert!(check_header("Title", "{title}").is_ok());
        assert!(check_header("Bad Header", "x").is_err());
        assert!(check_header("Title", "{titel}").is_err());
        assert_eq!(header_value("{message}", &notice("a\r\nb")), "a  b");
    }

    #[test]
    fn the_content_type_follows_the_template() {
        let sink = |template: Option<&str>, ct: Option<&str>| {
            WebhookSink::new(WebhookConfig {
                name: "w".into(),
                url: "http://127.0.0.1:9/x".into(),
                template: template.map(str::to_string),
                content_type: ct.map(str::to_string),
                headers: Default::default(),
                timeout_secs: 1,
                min_severity: None,
            })
            .unwrap()
        };
        assert_eq!(sink(None, None).content_type, "application/json");
        assert_eq!(
            sink(Some(" {\"a\": 1}"), None).content_type,
            "application/json"
        );
        assert_eq!(
            sink(Some("{message}"), None).content_type,
            "text/plain; charset=utf-8"
        );
        assert!(!sink(Some("{message}"), None).json);
        assert!(sink(Some("x"), Some("application/x-json")).json);
        let body = sink(None, None).body(&notice("m"));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["symbol"], "BTC-USD");
        assert_eq!(v["severity"], "critical");
    }
}
