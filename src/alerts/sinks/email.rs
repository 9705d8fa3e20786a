//! Email over SMTP with lettre: STARTTLS (default), TLS from the first byte, or plain for a
//! local relay; the login comes from environment variables named in the config, never from the
//! file itself.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::config::{EmailConfig, EmailTls};
use super::{Notice, SinkError};

/// Checks `[notify.email]`: (key, message) for the first mistake.
pub fn check(e: &EmailConfig) -> Result<(), (&'static str, String)> {
    if e.host.trim().is_empty() {
        return Err(("host", "host is empty: give the SMTP server's name".into()));
    }
    e.from.parse::<Mailbox>().map_err(|x| {
        (
            "from",
            format!("from = {:?} is not a mail address ({x})", e.from),
        )
    })?;
    if e.to.is_empty() {
        return Err(("to", "to is empty: list at least one recipient".into()));
    }
    for t in &e.to {
        t.parse::<Mailbox>()
            .map_err(|x| ("to", format!("to: {t:?} is not a mail address ({x})")))?;
    }
    if !(1..=300).contains(&e.timeout_secs) {
        return Err((
            "timeout_secs",
            format!(
                "timeout_secs = {} must be between 1 and 300",
                e.timeout_secs
            ),
        ));
    }
    Ok(())
}

/// `[notify.email]` with the credentials read from the environment.
#[derive(Clone)]
pub struct EmailSpec {
    pub config: EmailConfig,
    /// (user, password), None for no login, or why the login is incomplete.
    credentials: Result<Option<(String, String)>, String>,
}

impl std::fmt::Debug for EmailSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // never the password
        f.debug_struct("EmailSpec")
            .field("config", &self.config)
            .field(
                "login",
                &self
                    .credentials
                    .as_ref()
                    .map(|c| c.as_ref().map(|(u, _)| u)),
            )
            .finish()
    }
}

impl EmailSpec {
    /// Reads the user and password from the variables `config` names.
    pub fn new(config: EmailConfig, env: &dyn Fn(&str) -> Option<String>) -> EmailSpec {
        let user = env(&config.username_env).filter(|u| !u.is_empty());
        let credentials = match user {
            None => Ok(None),
            Some(u) => match env(&config.password_env) {
                Some(_) if plaintext_refused(&config) => Err(format!(
                    "tls = \"none\" would send the SMTP login ({}) in clear to {}: use tls = \"starttls\" or \"tls\", or set allow_plaintext_credentials = true in [notify.email] if the network to it is trusted (a loopback host is allowed as it is)",
                    config.username_env, config.host
                )),
                Some(p) => Ok(Some((u, p))),
                None => Err(format!(
                    "{} is set but {} is not: set both to log in to {}, or neither to send without a login",
                    config.username_env, config.password_env, config.host
                )),
            },
        };
        EmailSpec {
            config,
            credentials,
        }
    }

    /// The port in use: the configured one, else the usual one for the TLS mode.
    pub fn port(&self) -> u16 {
        self.config.port.unwrap_or(match self.config.tls {
            EmailTls::Starttls => 587,
            EmailTls::Tls => 465,
            EmailTls::None => 25,
        })
    }
}

/// A login over a plain connection to a host that is not loopback, not explicitly allowed.
fn plaintext_refused(c: &EmailConfig) -> bool {
    c.tls == EmailTls::None && !c.allow_plaintext_credentials && !is_loopback(&c.host)
}

/// `localhost` or a loopback address: the password stays on this machine.
fn is_loopback(host: &str) -> bool {
    let h = host.trim().trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Sends one mail per notice.
pub struct EmailSink {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    host: String,
    timeout: Duration,
}

impl EmailSink {
    pub fn new(spec: &EmailSpec) -> Result<EmailSink, String> {
        let c = &spec.config;
        check(c).map_err(|(_, m)| m)?;
        let builder = match c.tls {
            EmailTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&c.host)
                .map_err(|e| format!("cannot set up STARTTLS for {}: {e}", c.host))?,
            EmailTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&c.host)
                .map_err(|e| format!("cannot set up TLS for {}: {e}", c.host))?,
            EmailTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host),
        };
        let timeout = Duration::from_secs(c.timeout_secs.max(1));
        let mut builder = builder.port(spec.port()).timeout(Some(timeout));
        match &spec.credentials {
            Ok(Some((user, password))) => {
                builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
            }
            Ok(None) => {}
            Err(e) => return Err(e.clone()),
        }
        let mut to = Vec::new();
        for t in &c.to {
            to.push(t.parse::<Mailbox>().map_err(|e| format!("to {t:?}: {e}"))?);
        }
        Ok(EmailSink {
            transport: builder.build(),
            from: c
                .from
                .parse()
                .map_err(|e| format!("from {:?}: {e}", c.from))?,
            to,
            host: c.host.clone(),
            timeout,
        })
    }

    /// The mail for `n`: subject "tickwatch: BTCUSDT anomaly [warning]", a plain text body.
    pub fn message(&self, n: &Notice) -> Result<Message, SinkError> {
        let mut b = Message::builder()
            .from(self.from.clone())
            .subject(format!("{} [{}]", n.title, n.alert.severity))
            // generated from the host name: mail without one is often taken for spam
            .message_id(None)
            .header(ContentType::TEXT_PLAIN);
        for t in &self.to {
            b = b.to(t.clone());
        }
        b.body(body(n))
            .map_err(|e| SinkError::permanent(format!("cannot build the mail: {e}")))
    }

    pub async fn deliver(&self, n: &Notice) -> Result<(), SinkError> {
        let msg = self.message(n)?;
        // lettre's timeout bounds each network step; this bounds the whole conversation
        match tokio::time::timeout(self.timeout * 3, self.transport.send(msg)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => {
                let text = format!("SMTP {}: {e}", self.host);
                if e.is_permanent() || e.is_tls() || e.is_client() {
                    Err(SinkError::permanent(text))
                } else {
                    Err(SinkError::transient(text))
                }
            }
            Err(_) => Err(SinkError::transient(format!(
                "SMTP {}: no answer within {} s",
                self.host,
                (self.timeout * 3).as_secs()
            ))),
        }
    }
}

/// The plain text of the mail.
pub fn body(n: &Notice) -> String {
    let a = &n.alert;
    format!(
        "{}\n\nSymbol:   {} ({})\nRule:     {}\nSeverity: {}\nValue:    {}\nTime:     {}\nAlert id: {}\n\n-- \nSent by tickwatch.\n",
        a.message,
        a.key.symbol,
        a.key.venue,
        a.rule,
        a.severity,
        a.value,
        crate::domain::iso8601(a.ts_ms),
        a.alert_id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(toml_text: &str) -> EmailConfig {
        toml::from_str(toml_text).unwrap()
    }

    const BASE: &str = "host = \"smtp.example.com\"\nfrom = \"tickwatch <a@example.com>\"\nto = [\"b@example.com\"]\n";

    #[test]
    fn ports_follow_the_tls_mode() {
        let spec = |extra: &str| EmailSpec::new(cfg(&format!("{BASE}{extra}")), &|_| None);
        assert_eq!(spec("").port(), 587);
        assert_eq!(spec("tls = \"tls\"").port(), 465);
        assert_eq!(spec("tls = \"none\"").port(), 25);
        assert_eq!(spec("tls = \"none\"\nport = 2525").port(), 2525);
    }

    #[test]
    fn credentials_come_from_the_named_variables_and_are_never_shown() {
        let c = cfg(&format!("{BASE}username_env = \"U\"\npassword_env = \"P\""));
        let both = EmailSpec::new(c.clone(), &|k| match k {
            "U" => Some("user".into()),
            "P" => Some("s3cret".into()),
            _ => None,
        });
        assert_eq!(both.credentials, Ok(Some(("user".into(), "s3cret".into()))));
        assert!(!format!("{both:?}").contains("s3cret"));
        let half = EmailSpec::new(c.clone(), &|k| (k == "U").then(|| "user".to_string()));
        let e = half.credentials.clone().unwrap_err();
        assert!(e.contains("U is set but P is not"), "{e}");
        let e = EmailSink::new(&half).err().unwrap();
        assert!(e.contains("P is not"), "{e}");
        assert_eq!(EmailSpec::new(c, &|_| None).credentials, Ok(None));
        let d = cfg(BASE);
        assert_eq!(d.username_env, "TICKWATCH_SMTP_USER");
        assert_eq!(d.password_env, "TICKWATCH_SMTP_PASSWORD");
    }

    #[test]
    fn a_plaintext_login_goes_only_to_loopback_or_where_allowed() {
        let env = |k: &str| match k {
            "TICKWATCH_SMTP_USER" => Some("user".to_string()),
            "TICKWATCH_SMTP_PASSWORD" => Some("s3cret".to_string()),
            _ => None,
        };
        let spec = |text: &str| EmailSpec::new(cfg(text), &env);
        let remote = spec(&format!("{BASE}tls = \"none\""));
        let e = remote.credentials.clone().unwrap_err();
        assert!(e.contains("in clear to smtp.example.com"), "{e}");
        assert!(e.contains("allow_plaintext_credentials = true"), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
        assert!(EmailSink::new(&remote).is_err());
        let allowed = spec(&format!(
            "{BASE}tls = \"none\"\nallow_plaintext_credentials = true"
        ));
        assert!(allowed.credentials.is_ok_and(|c| c.is_some()));
        for host in ["127.0.0.1", "localhost", "::1", "[::1]"] {
            let local = BASE.replace("smtp.example.com", host);
            let ok = spec(&format!("{local}tls = \"none\""));
            assert!(ok.credentials.is_ok_and(|c| c.is_some()), "{host}");
        }
        // no login: nothing secret to send
        let anonymous = EmailSpec::new(cfg(&format!("{BASE}tls = \"none\"")), &|_| None);
        assert_eq!(anonymous.credentials, Ok(None));
        // with TLS the login is encrypted
        assert!(spec(BASE).credentials.is_ok_and(|c| c.is_some()));
    }
}
