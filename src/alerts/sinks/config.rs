//! `[notify]` in config.toml: which sinks deliver alerts, and the delivery policy (retry, dedupe,
//! rate limit). Every field is optional; unknown keys are errors. [`NotifySection::resolve`]
//! turns the section into the [`NotifyConfig`] the notifier runs, reading the environment once
//! (ssh detection, the terminal type, SMTP credentials).
//!
//! ```toml
//! [notify]
//! desktop = true                 # freedesktop notification (D-Bus) on Linux
//! terminal = "auto"              # OSC notifications: "auto" (over ssh), "on", "off"
//! dedupe_secs = 15               # same rule + symbol delivered once per window, per sink
//! rate_limit_per_minute = 10     # per sink; more alerts are sent as one summary
//!
//! [[notify.webhook]]
//! name = "ntfy"
//! url = "https://ntfy.sh/my-topic"
//! template = "{message}"
//! headers = { Title = "{title}", Priority = "{priority}" }
//!
//! [notify.email]
//! host = "smtp.example.com"
//! from = "tickwatch <alerts@example.com>"
//! to = ["me@example.com"]
//!
//! [[notify.command]]
//! name = "log"
//! program = "/usr/local/bin/on-alert"
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::terminal::{self, Sequence, TerminalOut, TerminalSpec};
use super::{SinkSpec, email, telegram, twilio, webhook};
use crate::alerts::Severity;
use crate::alerts::notifier::{DeliveryPolicy, NotifyConfig};

/// `[notify]`: the alert sinks and how they deliver.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifySection {
    /// Desktop notifications through the session's notification service (the freedesktop
    /// D-Bus `Notify` call on Linux). Urgency follows the alert's severity. Default: true.
    pub desktop: bool,
    /// Seconds to wait for the notification service before the delivery counts as failed.
    /// Default: 5.
    pub desktop_timeout_secs: u64,
    /// Notifications as terminal escape sequences (OSC 9 / 777 / 99 and the bell), written into
    /// the terminal tickwatch runs in, which reaches a person's own terminal over ssh:
    /// "auto" (on when SSH_CONNECTION or SSH_TTY is set), "on" (or true), "off" (or false).
    pub terminal: TerminalMode,
    /// Which sequences the terminal sink writes: any of "osc9", "osc777", "osc99", "bell".
    /// Default (unset): one notification protocol chosen from the terminal type (osc99 for
    /// kitty, osc777 for foot and urxvt, osc9 otherwise) plus "bell". Several protocols at once
    /// show duplicates in terminals that understand more than one.
    pub terminal_sequences: Option<Vec<Sequence>>,
    /// An alert of the same rule on the same symbol within this many seconds of one already
    /// delivered by a sink is not delivered again by that sink (recorded as skipped).
    /// 0 turns it off. Default: 15.
    pub dedupe_secs: u64,
    /// Deliveries per sink in any 60 seconds. Alerts beyond it are held and sent together as
    /// one "N more alerts" summary as soon as the window allows. 0 = no limit. Default: 10.
    pub rate_limit_per_minute: u32,
    /// Attempts per delivery when it fails transiently (network error, timeout, HTTP 5xx, 408
    /// or 429, SMTP 4xx). Permanent failures are not retried. Default: 3.
    pub attempts: u32,
    /// Seconds before the first retry; each further retry waits 4 times longer (1 s, 4 s, ...).
    /// Default: 1.
    pub retry_base_secs: f64,
    /// Alerts waiting per sink; more are skipped for that sink (stored with the alert as
    /// "skipped: the sink's queue is full"), so a hanging sink never holds back the engine.
    /// Default: 64.
    pub queue: usize,
    /// `[[notify.webhook]]`: HTTP POSTs, any number.
    pub webhook: Vec<WebhookConfig>,
    /// `[notify.email]`: mail over SMTP.
    pub email: Option<EmailConfig>,
    /// `[[notify.command]]`: programs run per alert, any number.
    pub command: Vec<CommandConfig>,
    /// `[[notify.twilio]]`: SMS through Twilio, any number (one per phone number).
    pub twilio: Vec<TwilioConfig>,
    /// `[[notify.telegram]]`: Telegram messages from a bot, any number (one per chat).
    pub telegram: Vec<TelegramConfig>,
}

impl Default for NotifySection {
    fn default() -> Self {
        NotifySection {
            desktop: true,
            desktop_timeout_secs: 5,
            terminal: TerminalMode::Auto,
            terminal_sequences: None,
            dedupe_secs: 15,
            rate_limit_per_minute: 10,
            attempts: 3,
            retry_base_secs: 1.0,
            queue: 64,
            webhook: Vec::new(),
            email: None,
            command: Vec::new(),
            twilio: Vec::new(),
            telegram: Vec::new(),
        }
    }
}

/// Whether the terminal sink is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "ModeRepr")]
pub enum TerminalMode {
    /// On when the session is over ssh (SSH_CONNECTION or SSH_TTY is set).
    #[default]
    Auto,
    On,
    Off,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ModeRepr {
    Bool(bool),
    Name(String),
}

impl TryFrom<ModeRepr> for TerminalMode {
    type Error = String;
    fn try_from(r: ModeRepr) -> Result<Self, String> {
        match r {
            ModeRepr::Bool(true) => Ok(TerminalMode::On),
            ModeRepr::Bool(false) => Ok(TerminalMode::Off),
            ModeRepr::Name(s) => match s.to_ascii_lowercase().as_str() {
                "auto" => Ok(TerminalMode::Auto),
                "on" => Ok(TerminalMode::On),
                "off" => Ok(TerminalMode::Off),
                _ => Err(format!(
                    "terminal = {s:?}: expected \"auto\", \"on\" or \"off\""
                )),
            },
        }
    }
}

/// `[[notify.webhook]]`: one HTTP endpoint that receives a POST per alert.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Names the sink: it shows as `webhook:NAME` in the status bar, in `alerts list` and in
    /// `alerts test --sink webhook:NAME`. Letters, digits, '-', '_' and '.'.
    pub name: String,
    /// Where to POST (http or https). It may hold a secret (a Slack or ntfy URL does), so only
    /// its host is ever shown or logged.
    pub url: String,
    /// The request body with placeholders: {title} {message} {symbol} {venue} {rule}
    /// {severity} {priority} {value} {time} {ts_ms} {alert_id}. Unset: the JSON object
    /// documented in [`super::payload`]. With a JSON content type the substituted values are
    /// JSON-escaped, so `{"text": "{message}"}` stays valid JSON.
    #[serde(default)]
    pub template: Option<String>,
    /// The Content-Type header. Default: application/json for the default body and for a
    /// template that starts with '{' or '[', else text/plain; charset=utf-8.
    #[serde(default)]
    pub content_type: Option<String>,
    /// Extra request headers. Values may use the same placeholders (ntfy reads Title,
    /// Priority and Tags); control characters are removed from them.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Seconds to wait for the whole request per attempt. Default: 10.
    #[serde(default = "default_webhook_timeout")]
    pub timeout_secs: u64,
    /// Only alerts at least this severe go here ("info", "warning", "critical"). Default: all.
    #[serde(default)]
    pub min_severity: Option<Severity>,
}

fn default_webhook_timeout() -> u64 {
    10
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailTls {
    /// Plain connection upgraded with STARTTLS, which the server must offer (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte, "SMTPS" (port 465).
    Tls,
    /// No encryption (port 25): only for a relay on the same host or a trusted network. With
    /// a login, allowed only to a loopback host or with `allow_plaintext_credentials`.
    None,
}

/// `[notify.email]`: mail over SMTP.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// The SMTP server's host name (checked against its certificate with TLS).
    pub host: String,
    /// Default: 587 with starttls, 465 with tls, 25 with none.
    #[serde(default)]
    pub port: Option<u16>,
    /// "starttls" (default), "tls" or "none".
    #[serde(default)]
    pub tls: EmailTls,
    /// The sender, e.g. "tickwatch <alerts@example.com>".
    pub from: String,
    /// Recipients, at least one.
    pub to: Vec<String>,
    /// The environment variable holding the SMTP user name. When it is unset, no login is
    /// attempted. Default: TICKWATCH_SMTP_USER.
    #[serde(default = "default_user_env")]
    pub username_env: String,
    /// The environment variable holding the SMTP password (needed when the user is set).
    /// Default: TICKWATCH_SMTP_PASSWORD.
    #[serde(default = "default_password_env")]
    pub password_env: String,
    /// Seconds to wait for the server at each step of a delivery. Default: 20.
    #[serde(default = "default_email_timeout")]
    pub timeout_secs: u64,
    /// Only alerts at least this severe are mailed. Default: all.
    #[serde(default)]
    pub min_severity: Option<Severity>,
    /// With `tls = "none"`, log in although the host is not loopback: the user name and
    /// password then cross the network in clear. Default: false (such a login is refused).
    #[serde(default)]
    pub allow_plaintext_credentials: bool,
}

fn default_user_env() -> String {
    "TICKWATCH_SMTP_USER".into()
}
fn default_password_env() -> String {
    "TICKWATCH_SMTP_PASSWORD".into()
}
fn default_email_timeout() -> u64 {
    20
}

/// `[[notify.command]]`: a program run once per alert, with the alert in `TICKWATCH_ALERT_*`
/// environment variables and as the JSON object of [`super::payload`] on standard input.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandConfig {
    /// Names the sink: `command:NAME`.
    pub name: String,
    /// The program: a path, or a name looked up in PATH. Not run through a shell.
    pub program: String,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Seconds it may run; then it is killed (with its process group) and the delivery fails.
    /// Default: 10.
    #[serde(default = "default_command_timeout")]
    pub timeout_secs: u64,
    /// Only alerts at least this severe run it. Default: all.
    #[serde(default)]
    pub min_severity: Option<Severity>,
}

fn default_command_timeout() -> u64 {
    10
}

/// `[[notify.twilio]]`: an SMS per alert through Twilio's Messages API. The Account SID and
/// auth token come from the environment, never from this file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioConfig {
    /// Names the sink: `twilio:NAME`.
    pub name: String,
    /// The phone number to text, in E.164 form ("+15551234567"). Another number is another
    /// `[[notify.twilio]]`, with its own outcome per alert.
    pub to: String,
    /// Your Twilio number (E.164), short code or alphanumeric sender id; or leave it out and
    /// give `messaging_service_sid`.
    #[serde(default)]
    pub from: Option<String>,
    /// A Messaging Service ("MG..."), instead of `from`.
    #[serde(default)]
    pub messaging_service_sid: Option<String>,
    /// The text, with the webhook placeholders. Default: "tickwatch {severity}: {message}".
    #[serde(default)]
    pub template: Option<String>,
    /// The most SMS segments one alert may take (each is billed): 1 to 10. A longer text is
    /// cut and ends in "...(cut)". Default: 2 (306 GSM-7 characters, or 134 in UCS-2).
    #[serde(default = "default_max_segments")]
    pub max_segments: u32,
    /// The environment variable holding the Account SID. Default: TWILIO_ACCOUNT_SID.
    #[serde(default = "default_sid_env")]
    pub sid_env: String,
    /// The environment variable holding the auth token. Default: TWILIO_AUTH_TOKEN.
    #[serde(default = "default_token_env")]
    pub token_env: String,
    /// Twilio's API (a local server in tests). Default: https://api.twilio.com.
    #[serde(default = "default_twilio_url")]
    pub base_url: String,
    /// Seconds to wait for the whole request per attempt. Default: 10.
    #[serde(default = "default_webhook_timeout")]
    pub timeout_secs: u64,
    /// Only alerts at least this severe are texted. Default: all.
    #[serde(default)]
    pub min_severity: Option<Severity>,
}

fn default_max_segments() -> u32 {
    2
}
fn default_sid_env() -> String {
    "TWILIO_ACCOUNT_SID".into()
}
fn default_token_env() -> String {
    "TWILIO_AUTH_TOKEN".into()
}
fn default_twilio_url() -> String {
    super::twilio::DEFAULT_BASE_URL.into()
}

/// `[[notify.telegram]]`: a message per alert from a Telegram bot. The bot token comes from the
/// environment, never from this file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    /// Names the sink: `telegram:NAME`.
    pub name: String,
    /// The chat: its number (your user id, or -100... for a group or channel) or "@channel".
    pub chat_id: ChatId,
    /// The text, with the webhook placeholders. Default: "tickwatch {severity}: {message}".
    #[serde(default)]
    pub template: Option<String>,
    /// The environment variable holding the bot token. Default: TELEGRAM_BOT_TOKEN.
    #[serde(default = "default_telegram_token_env")]
    pub token_env: String,
    /// The Bot API (a local server in tests). Default: https://api.telegram.org.
    #[serde(default = "default_telegram_url")]
    pub base_url: String,
    /// Seconds to wait for the whole request per attempt. Default: 10.
    #[serde(default = "default_webhook_timeout")]
    pub timeout_secs: u64,
    /// Only alerts at least this severe are sent. Default: all.
    #[serde(default)]
    pub min_severity: Option<Severity>,
}

fn default_telegram_token_env() -> String {
    "TELEGRAM_BOT_TOKEN".into()
}
fn default_telegram_url() -> String {
    super::telegram::DEFAULT_BASE_URL.into()
}

/// A Telegram chat: a number, or a public channel's "@name" (a number in quotes is a number).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ChatId {
    Number(i64),
    Name(String),
}

impl std::fmt::Display for ChatId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChatId::Number(n) => write!(f, "{n}"),
            ChatId::Name(s) => f.write_str(s),
        }
    }
}

/// What every HTTP sink other than a webhook checks: its `base_url` and `template`, and its
/// `timeout_secs` through [`NotifySection::validate`]. (key, message) for the first mistake.
pub(crate) fn check_http_sink(
    kind: &str,
    name: &str,
    base_url: &str,
    template: Option<&str>,
) -> Result<(), (&'static str, String)> {
    webhook::check_url(base_url)
        .map_err(|m| ("base_url", format!("{kind} {name:?}: base_url: {m}")))?;
    if let Some(t) = template {
        webhook::check_template(t).map_err(|m| ("template", format!("{kind} {name:?}: {m}")))?;
    }
    Ok(())
}

/// A mistake in `[notify]`, with the table and key it belongs to (for line and column).
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyConfigError {
    /// "notify", "notify.webhook", "notify.email", "notify.command", "notify.twilio" or
    /// "notify.telegram".
    pub section: &'static str,
    pub key: &'static str,
    pub message: String,
}

fn invalid(section: &'static str, key: &'static str, message: String) -> NotifyConfigError {
    NotifyConfigError {
        section,
        key,
        message,
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A sink's `name`: valid, and not taken by another sink of its `kind`.
fn unique_name(
    names: &mut std::collections::HashSet<String>,
    section: &'static str,
    kind: &str,
    name: &str,
) -> Result<(), NotifyConfigError> {
    if !valid_name(name) {
        return Err(invalid(
            section,
            "name",
            format!("{kind} name {name:?}: use 1 to 64 letters, digits, '-', '_' or '.'"),
        ));
    }
    if !names.insert(format!("{kind}:{name}")) {
        return Err(invalid(
            section,
            "name",
            format!("two {kind}s are named {name:?}; give each its own name"),
        ));
    }
    Ok(())
}

/// An HTTP sink's `timeout_secs`: 1 to 300.
fn check_timeout(
    section: &'static str,
    kind: &str,
    name: &str,
    secs: u64,
) -> Result<(), NotifyConfigError> {
    if (1..=300).contains(&secs) {
        return Ok(());
    }
    Err(invalid(
        section,
        "timeout_secs",
        format!("{kind} {name:?}: timeout_secs = {secs} must be between 1 and 300"),
    ))
}

impl NotifySection {
    /// Checks values serde cannot: ranges, URLs, templates, addresses, unique names.
    pub fn validate(&self) -> Result<(), NotifyConfigError> {
        if !(1..=10).contains(&self.attempts) {
            return Err(invalid(
                "notify",
                "attempts",
                format!("attempts = {} must be between 1 and 10", self.attempts),
            ));
        }
        if !(self.retry_base_secs.is_finite() && (0.0..=60.0).contains(&self.retry_base_secs)) {
            return Err(invalid(
                "notify",
                "retry_base_secs",
                format!(
                    "retry_base_secs = {} must be between 0 and 60",
                    self.retry_base_secs
                ),
            ));
        }
        if !(1..=100_000).contains(&self.queue) {
            return Err(invalid(
                "notify",
                "queue",
                format!("queue = {} must be between 1 and 100000", self.queue),
            ));
        }
        if let Some(seqs) = &self.terminal_sequences
            && seqs.is_empty()
        {
            return Err(invalid(
                "notify",
                "terminal_sequences",
                "terminal_sequences is empty: list at least one of \"osc9\", \"osc777\", \"osc99\", \"bell\", or set terminal = \"off\"".into(),
            ));
        }
        let mut names = std::collections::HashSet::new();
        for w in &self.webhook {
            let s = "notify.webhook";
            unique_name(&mut names, s, "webhook", &w.name)?;
            webhook::check_url(&w.url)
                .map_err(|m| invalid(s, "url", format!("webhook {:?}: {m}", w.name)))?;
            if let Some(t) = &w.template {
                webhook::check_template(t)
                    .map_err(|m| invalid(s, "template", format!("webhook {:?}: {m}", w.name)))?;
            }
            for (k, v) in &w.headers {
                webhook::check_header(k, v)
                    .map_err(|m| invalid(s, "headers", format!("webhook {:?}: {m}", w.name)))?;
            }
            if let Some(ct) = &w.content_type {
                webhook::check_header("Content-Type", ct).map_err(|m| {
                    invalid(s, "content_type", format!("webhook {:?}: {m}", w.name))
                })?;
            }
            check_timeout(s, "webhook", &w.name, w.timeout_secs)?;
        }
        if let Some(e) = &self.email {
            email::check(e).map_err(|(key, m)| invalid("notify.email", key, m))?;
        }
        for c in &self.command {
            let s = "notify.command";
            unique_name(&mut names, s, "command", &c.name)?;
            if c.program.trim().is_empty() {
                return Err(invalid(
                    s,
                    "program",
                    format!("command {:?}: program is empty", c.name),
                ));
            }
            if !(1..=3600).contains(&c.timeout_secs) {
                return Err(invalid(
                    s,
                    "timeout_secs",
                    format!(
                        "command {:?}: timeout_secs = {} must be between 1 and 3600",
                        c.name, c.timeout_secs
                    ),
                ));
            }
        }
        for t in &self.twilio {
            let s = "notify.twilio";
            unique_name(&mut names, s, "twilio", &t.name)?;
            twilio::check(t).map_err(|(key, m)| invalid(s, key, m))?;
            check_timeout(s, "twilio", &t.name, t.timeout_secs)?;
        }
        for t in &self.telegram {
            let s = "notify.telegram";
            unique_name(&mut names, s, "telegram", &t.name)?;
            telegram::check(t).map_err(|(key, m)| invalid(s, key, m))?;
            check_timeout(s, "telegram", &t.name, t.timeout_secs)?;
        }
        Ok(())
    }

    /// The sinks and policy to run, with the environment read through `env` (ssh detection,
    /// TERM / TERM_PROGRAM / KITTY_WINDOW_ID / TMUX for the terminal, SMTP credentials, the
    /// Twilio and Telegram secrets).
    /// Headless, the terminal sink writes to the controlling terminal; the monitor reroutes it
    /// through its screen with [`NotifyConfig::route_terminal_to_ui`].
    pub fn resolve(&self, env: &dyn Fn(&str) -> Option<String>) -> NotifyConfig {
        let mut sinks = Vec::new();
        if self.desktop {
            sinks.push(SinkSpec::Desktop {
                timeout: Duration::from_secs(self.desktop_timeout_secs.max(1)),
            });
        }
        let set = |k: &str| env(k).is_some_and(|v| !v.is_empty());
        let terminal_on = match self.terminal {
            TerminalMode::On => true,
            TerminalMode::Off => false,
            TerminalMode::Auto => set("SSH_CONNECTION") || set("SSH_TTY"),
        };
        if terminal_on {
            sinks.push(SinkSpec::Terminal(TerminalSpec {
                sequences: self
                    .terminal_sequences
                    .clone()
                    .unwrap_or_else(|| terminal::auto_sequences(env)),
                tmux: set("TMUX"),
                out: TerminalOut::Tty,
            }));
        }
        for w in &self.webhook {
            sinks.push(SinkSpec::Webhook(w.clone()));
        }
        if let Some(e) = &self.email {
            sinks.push(SinkSpec::Email(email::EmailSpec::new(e.clone(), env)));
        }
        for c in &self.command {
            sinks.push(SinkSpec::Command(c.clone()));
        }
        for t in &self.twilio {
            sinks.push(SinkSpec::Twilio(twilio::TwilioSpec::new(t.clone(), env)));
        }
        for t in &self.telegram {
            sinks.push(SinkSpec::Telegram(telegram::TelegramSpec::new(
                t.clone(),
                env,
            )));
        }
        NotifyConfig {
            sinks,
            policy: DeliveryPolicy {
                attempts: self.attempts.max(1),
                backoff: Duration::from_secs_f64(self.retry_base_secs.clamp(0.0, 60.0)),
                dedupe: Duration::from_secs(self.dedupe_secs),
                per_minute: self.rate_limit_per_minute,
                queue: self.queue.max(1),
                stop_grace: crate::alerts::notifier::STOP_GRACE,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn try_parse(text: &str) -> Result<NotifySection, String> {
        #[derive(Deserialize)]
        struct Doc {
            notify: NotifySection,
        }
        toml::from_str::<Doc>(text)
            .map(|d| d.notify)
            .map_err(|e| e.to_string())
    }

    fn parse(text: &str) -> NotifySection {
        try_parse(text).unwrap()
    }

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    fn names(cfg: &NotifyConfig) -> Vec<String> {
        cfg.sinks.iter().map(SinkSpec::name).collect()
    }

    #[test]
    fn old_keys_still_work_and_defaults_are_valid() {
        let n = parse("[notify]\ndesktop = false\ndesktop_timeout_secs = 9\n");
        assert!(!n.desktop);
        assert_eq!(n.desktop_timeout_secs, 9);
        assert_eq!(n.validate(), Ok(()));
        assert_eq!(NotifySection::default().validate(), Ok(()));
        let cfg = NotifySection::default().resolve(&env(&[]));
        assert_eq!(names(&cfg), ["desktop"]);
    }

    #[test]
    fn terminal_auto_is_on_over_ssh_only() {
        let d = NotifySection::default();
        assert_eq!(
            names(&d.resolve(&env(&[("SSH_TTY", "/dev/pts/1")]))),
            ["desktop", "terminal"]
        );
        assert_eq!(
            names(&d.resolve(&env(&[("SSH_CONNECTION", "1.2.3.4 5 6.7.8.9 22")]))),
            ["desktop", "terminal"]
        );
        assert_eq!(names(&d.resolve(&env(&[("SSH_TTY", "")]))), ["desktop"]);
        let on = parse("[notify]\nterminal = true\ndesktop = false\n");
        assert_eq!(names(&on.resolve(&env(&[]))), ["terminal"]);
        let off = parse("[notify]\nterminal = \"off\"\n");
        assert_eq!(names(&off.resolve(&env(&[("SSH_TTY", "x")]))), ["desktop"]);
        let bad = try_parse("[notify]\nterminal = \"sometimes\"\n");
        assert!(bad.is_err_and(|e| e.contains("auto")));
    }

    #[test]
    fn every_sink_kind_is_named_in_order() {
        let n = parse(
            r#"
[notify]
terminal = "on"
terminal_sequences = ["osc777"]
[[notify.webhook]]
name = "ntfy"
url = "https://ntfy.sh/topic"
template = "{message}"
headers = { Title = "{title}" }
[notify.email]
host = "smtp.example.com"
from = "tickwatch <a@example.com>"
to = ["b@example.com"]
[[notify.command]]
name = "log"
program = "/bin/true"
[[notify.twilio]]
name = "phone"
to = "+15551230000"
from = "+15550001111"
[[notify.telegram]]
name = "me"
chat_id = 123456789
"#,
        );
        assert_eq!(n.validate(), Ok(()));
        let cfg = n.resolve(&env(&[("TMUX", "/tmp/tmux-0/default,1,0")]));
        assert_eq!(
            names(&cfg),
            [
                "desktop",
                "terminal",
                "webhook:ntfy",
                "email",
                "command:log",
                "twilio:phone",
                "telegram:me"
            ]
        );
        // their secrets are missing from this environment: each says which variable
        assert_eq!(
            cfg.setup_errors(),
            [
                "twilio:phone: TWILIO_ACCOUNT_SID is not set: export your Account SID (AC..., on the Twilio console's front page) in it",
                "telegram:me: TELEGRAM_BOT_TOKEN is not set: export your bot's token (from @BotFather: 123456789:AA...) in it"
            ]
        );
        match &cfg.sinks[1] {
            SinkSpec::Terminal(t) => {
                assert_eq!(t.sequences, [Sequence::Osc777]);
                assert!(t.tmux);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_keys_and_secrets_in_the_file_are_refused() {
        for text in [
            "[[notify.twilio]]\nname = \"s\"\nto = \"+15551230000\"\nfrom = \"+15550001111\"\nauth_token = \"x\"\n",
            "[[notify.telegram]]\nname = \"t\"\nchat_id = 1\ntoken = \"123:abc\"\n",
        ] {
            let e = try_parse(text).unwrap_err();
            assert!(e.contains("unknown field"), "{e}");
        }
    }

    #[test]
    fn mistakes_name_their_table_and_key() {
        let cases = [
            (
                "[[notify.webhook]]\nname = \"a b\"\nurl = \"https://x\"\n",
                "name",
            ),
            (
                "[[notify.webhook]]\nname = \"a\"\nurl = \"ftp://x\"\n",
                "url",
            ),
            (
                "[[notify.webhook]]\nname = \"a\"\nurl = \"https://x\"\ntemplate = \"{mesage}\"\n",
                "template",
            ),
            (
                "[[notify.webhook]]\nname = \"a\"\nurl = \"https://x\"\n[[notify.webhook]]\nname = \"a\"\nurl = \"https://y\"\n",
                "name",
            ),
            (
                "[[notify.webhook]]\nname = \"a\"\nurl = \"https://x\"\nheaders = { \"Bad Name\" = \"v\" }\n",
                "headers",
            ),
            (
                "[notify.email]\nhost = \"h\"\nfrom = \"not an address\"\nto = [\"a@b.c\"]\n",
                "from",
            ),
            (
                "[notify.email]\nhost = \"h\"\nfrom = \"a@b.c\"\nto = []\n",
                "to",
            ),
            (
                "[[notify.command]]\nname = \"x\"\nprogram = \" \"\n",
                "program",
            ),
            ("[notify]\nattempts = 0\n", "attempts"),
            (
                "[[notify.twilio]]\nname = \"s\"\nto = \"+15551230000\"\nfrom = \"+1555\"\ntimeout_secs = 0\n",
                "timeout_secs",
            ),
            (
                "[[notify.twilio]]\nname = \"s\"\nto = \"+15551230000\"\n",
                "from",
            ),
            (
                "[[notify.telegram]]\nname = \"t\"\nchat_id = 1\n[[notify.telegram]]\nname = \"t\"\nchat_id = 2\n",
                "name",
            ),
            (
                "[[notify.telegram]]\nname = \"t\"\nchat_id = 1\nbase_url = \"api.telegram.org\"\n",
                "base_url",
            ),
            ("[notify]\nterminal_sequences = []\n", "terminal_sequences"),
        ];
        for (text, key) in cases {
            let e = parse(text).validate().expect_err(text);
            assert_eq!(e.key, key, "{text}: {}", e.message);
        }
    }
}
