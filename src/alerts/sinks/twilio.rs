//! SMS through Twilio's Messages API: a form-encoded POST to
//! `{base_url}/2010-04-01/Accounts/{AccountSid}/Messages.json` with HTTP basic auth (Account SID
//! and auth token, both from the environment), one message per alert, its text cut to
//! `max_segments` SMS segments ([`super::fit`]). An error answer's JSON `code` and `message`
//! are the reason shown; 429 and 5xx are retried (after `Retry-After` when given), 4xx not.

use super::config::TwilioConfig;
use super::fit::fit_sms;
use super::http::{Endpoint, Failure};
use super::secret::Secret;
use super::{Notice, SinkError, webhook};

/// Twilio's API.
pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

/// The SMS text unless `template` says otherwise.
pub const DEFAULT_TEMPLATE: &str = "tickwatch {severity}: {message}";

/// Checks `[[notify.twilio]]`: (key, message) for the first mistake.
pub fn check(c: &TwilioConfig) -> Result<(), (&'static str, String)> {
    let name = &c.name;
    if !is_e164(&c.to) {
        return Err((
            "to",
            format!(
                "twilio {name:?}: to = {:?} is not a phone number in E.164 form (+ country code and number, no spaces: \"+15551234567\")",
                c.to
            ),
        ));
    }
    match (&c.from, &c.messaging_service_sid) {
        (None, None) | (Some(_), Some(_)) => {
            return Err((
                "from",
                format!(
                    "twilio {name:?}: give either from (your Twilio number) or messaging_service_sid, not both or neither"
                ),
            ));
        }
        (Some(f), None) if !is_sender(f) => {
            return Err((
                "from",
                format!(
                    "twilio {name:?}: from = {f:?} is not an E.164 number (\"+15551234567\"), a short code or an alphanumeric sender id (1 to 11 letters, digits, spaces)"
                ),
            ));
        }
        (None, Some(m)) if !is_sid(m, "MG") => {
            return Err((
                "messaging_service_sid",
                format!(
                    "twilio {name:?}: messaging_service_sid = {m:?} is not a Messaging Service SID (MG and 32 hex digits)"
                ),
            ));
        }
        _ => {}
    }
    if !(1..=10).contains(&c.max_segments) {
        return Err((
            "max_segments",
            format!(
                "twilio {name:?}: max_segments = {} must be between 1 and 10",
                c.max_segments
            ),
        ));
    }
    super::config::check_http_sink("twilio", name, &c.base_url, c.template.as_deref())?;
    for (key, var) in [("sid_env", &c.sid_env), ("token_env", &c.token_env)] {
        if var.trim().is_empty() {
            return Err((
                key,
                format!("twilio {name:?}: {key} is empty: name an environment variable"),
            ));
        }
    }
    Ok(())
}

/// `+` and 2 to 15 digits, the first not 0.
fn is_e164(s: &str) -> bool {
    s.strip_prefix('+').is_some_and(|d| {
        (2..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    })
}

/// A number, a short code or an alphanumeric sender id.
fn is_sender(s: &str) -> bool {
    let short_code = (3..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    let alphanumeric = (1..=11).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ')
        && s.bytes().any(|b| b.is_ascii_alphabetic());
    is_e164(s) || short_code || alphanumeric
}

/// `prefix` and 32 hex digits (Twilio's SIDs).
fn is_sid(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .is_some_and(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `[[notify.twilio]]` with the Account SID and auth token read from the environment.
#[derive(Debug, Clone)]
pub struct TwilioSpec {
    pub config: TwilioConfig,
    /// (Account SID, auth token), or which variable is missing or wrong.
    credentials: Result<(Secret, Secret), String>,
}

impl TwilioSpec {
    pub fn new(config: TwilioConfig, env: &dyn Fn(&str) -> Option<String>) -> TwilioSpec {
        let credentials = (|| {
            let sid = Secret::from_env(
                env,
                &config.sid_env,
                "your Account SID (AC..., on the Twilio console's front page)",
            )?;
            if !is_sid(sid.expose(), "AC") {
                return Err(format!(
                    "{} does not hold an Account SID (AC and 32 hex digits, on the Twilio console's front page)",
                    sid.var()
                ));
            }
            let token = Secret::from_env(
                env,
                &config.token_env,
                "your auth token (Twilio console, Account Info)",
            )?;
            Ok((sid, token))
        })();
        TwilioSpec {
            config,
            credentials,
        }
    }

    /// Why this sink cannot work (a missing variable), if it cannot.
    pub fn setup_error(&self) -> Option<&str> {
        self.credentials.as_ref().err().map(String::as_str)
    }
}

/// Sends one SMS per notice.
pub struct TwilioSink {
    cfg: TwilioConfig,
    sid: Secret,
    token: Secret,
    endpoint: Endpoint,
}

impl TwilioSink {
    pub fn new(spec: &TwilioSpec) -> Result<TwilioSink, String> {
        let cfg = spec.config.clone();
        let (sid, token) = spec.credentials.clone()?;
        let sink = format!("twilio {:?}", cfg.name);
        let endpoint = Endpoint::new(&sink, &cfg.base_url, cfg.timeout_secs)?;
        Ok(TwilioSink {
            cfg,
            sid,
            token,
            endpoint,
        })
    }

    /// The SMS text for `n`, cut to `max_segments`.
    pub fn text(&self, n: &Notice) -> String {
        let t = self.cfg.template.as_deref().unwrap_or(DEFAULT_TEMPLATE);
        let max = self.cfg.max_segments as usize;
        fit_sms(&webhook::render(t, n, false), max).into_owned()
    }

    pub async fn deliver(&self, n: &Notice) -> Result<(), SinkError> {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.cfg.base_url.trim_end_matches('/'),
            self.sid.expose()
        );
        let (sender_key, sender) = match (&self.cfg.from, &self.cfg.messaging_service_sid) {
            (_, Some(m)) => ("MessagingServiceSid", m.as_str()),
            (Some(f), None) => ("From", f.as_str()),
            (None, None) => ("From", ""),
        };
        let body = self.text(n);
        let form = [
            ("To", self.cfg.to.as_str()),
            (sender_key, sender),
            ("Body", body.as_str()),
        ];
        let req = self
            .endpoint
            .client
            .post(url)
            .basic_auth(self.sid.expose(), Some(self.token.expose()))
            .form(&form);
        match self.endpoint.send(req).await? {
            None => Ok(()),
            Some(f) => Err(f.error(self.reason(&f), None)),
        }
    }

    /// "Twilio error 21211 (HTTP 400): The 'To' number ... (https://www.twilio.com/docs/...)".
    fn reason(&self, f: &Failure) -> String {
        #[derive(serde::Deserialize)]
        struct TwilioError {
            code: Option<i64>,
            message: Option<String>,
            more_info: Option<String>,
        }
        let parsed = serde_json::from_str::<TwilioError>(&f.body).ok();
        let mut out = match parsed {
            Some(TwilioError {
                code,
                message: Some(m),
                more_info,
            }) => {
                let code = code.map(|c| format!(" {c}")).unwrap_or_default();
                let more = more_info.map(|u| format!(" ({u})")).unwrap_or_default();
                let m: String = m.chars().take(300).collect();
                format!("Twilio error{code} (HTTP {}): {}{more}", f.status, m.trim())
            }
            _ => match f.first_line() {
                l if l.is_empty() => format!("HTTP {} from {}", f.status, self.endpoint.host),
                l => format!("HTTP {} from {}: {l}", f.status, self.endpoint.host),
            },
        };
        if f.status == 401 {
            out.push_str(&format!(
                "; check {} and {}",
                self.sid.var(),
                self.token.var()
            ));
        }
        // Twilio's 404 quotes the path, with the account SID in it
        self.token.redact(&self.sid.redact(&out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(extra: &str) -> TwilioConfig {
        toml::from_str(&format!("name = \"sms\"\nto = \"+15551230000\"\n{extra}")).unwrap()
    }

    const SID: &str = "AC0123456789abcdef0123456789abcdef";

    #[test]
    fn numbers_senders_and_sids_are_checked() {
        assert!(check(&cfg("from = \"+15550001111\"")).is_ok());
        assert!(check(&cfg("from = \"tickwatch\"")).is_ok());
        assert!(check(&cfg("from = \"12345\"")).is_ok());
        assert!(
            check(&cfg(&format!(
                "messaging_service_sid = \"MG{}\"",
                "a".repeat(32)
            )))
            .is_ok()
        );
        let key = |extra: &str| check(&cfg(extra)).unwrap_err().0;
        assert_eq!(key(""), "from");
        assert_eq!(
            key(&format!(
                "from = \"+15550001111\"\nmessaging_service_sid = \"MG{}\"",
                "a".repeat(32)
            )),
            "from"
        );
        assert_eq!(key("from = \"555 123\""), "from");
        assert_eq!(
            key("messaging_service_sid = \"MG12\""),
            "messaging_service_sid"
        );
        assert_eq!(
            key("from = \"+15550001111\"\nmax_segments = 11"),
            "max_segments"
        );
        assert_eq!(
            key("from = \"+15550001111\"\nbase_url = \"ftp://x\""),
            "base_url"
        );
        assert_eq!(
            key("from = \"+15550001111\"\ntemplate = \"{mesage}\""),
            "template"
        );
        let bad_to: TwilioConfig =
            toml::from_str("name = \"s\"\nto = \"5551230000\"\nfrom = \"+15550001111\"").unwrap();
        assert_eq!(check(&bad_to).unwrap_err().0, "to");
        assert!(!is_e164("+0123"));
        assert!(!is_e164(&format!("+1{}", "2".repeat(15))));
    }

    #[test]
    fn credentials_come_from_the_named_variables_and_are_never_shown() {
        let c = cfg("from = \"+15550001111\"");
        assert_eq!(c.sid_env, "TWILIO_ACCOUNT_SID");
        assert_eq!(c.token_env, "TWILIO_AUTH_TOKEN");
        let spec = TwilioSpec::new(c.clone(), &|k| match k {
            "TWILIO_ACCOUNT_SID" => Some(SID.into()),
            "TWILIO_AUTH_TOKEN" => Some("t0ken-s3cret".into()),
            _ => None,
        });
        assert_eq!(spec.setup_error(), None);
        let shown = format!("{spec:?}");
        assert!(
            !shown.contains("t0ken-s3cret") && !shown.contains(SID),
            "{shown}"
        );
        assert!(TwilioSink::new(&spec).is_ok());
        let no_token = TwilioSpec::new(c.clone(), &|k| {
            (k == "TWILIO_ACCOUNT_SID").then(|| SID.to_string())
        });
        let e = no_token.setup_error().unwrap();
        assert!(e.starts_with("TWILIO_AUTH_TOKEN is not set"), "{e}");
        assert!(TwilioSink::new(&no_token).is_err());
        let wrong_sid = TwilioSpec::new(c, &|k| {
            (k == "TWILIO_ACCOUNT_SID").then(|| "SKsecretish".to_string())
        });
        let e = wrong_sid.setup_error().unwrap();
        assert!(
            e.contains("TWILIO_ACCOUNT_SID does not hold an Account SID"),
            "{e}"
        );
        assert!(!e.contains("SKsecretish"), "{e}");
    }
}
