//! Telegram through the Bot API: a JSON POST of `{chat_id, text}` to
//! `{base_url}/bot{token}/sendMessage`, plain text (no `parse_mode`, so nothing in an alert is
//! read as markup), cut to Telegram's 4096 characters ([`super::fit`]). The bot token comes
//! from the environment and is part of the URL path, so no message ever holds the URL: only the
//! host. A 429 is retried after the answer's `parameters.retry_after`; other 4xx are not.

use std::time::Duration;

use super::config::{ChatId, TelegramConfig};
use super::fit::{TELEGRAM_LIMIT, fit_utf16};
use super::http::{Endpoint, Failure};
use super::secret::Secret;
use super::{Notice, SinkError, webhook};

/// Telegram's Bot API.
pub const DEFAULT_BASE_URL: &str = "https://api.telegram.org";

/// The message text unless `template` says otherwise.
pub const DEFAULT_TEMPLATE: &str = "tickwatch {severity}: {message}";

/// Checks `[[notify.telegram]]`: (key, message) for the first mistake.
pub fn check(c: &TelegramConfig) -> Result<(), (&'static str, String)> {
    let name = &c.name;
    if let ChatId::Name(n) = &c.chat_id {
        let channel = n.strip_prefix('@').is_some_and(|u| {
            (4..=32).contains(&u.len()) && u.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
        if !channel && n.parse::<i64>().is_err() {
            return Err((
                "chat_id",
                format!(
                    "telegram {name:?}: chat_id = {n:?} is neither a chat's number (e.g. 123456789, or -1001234567890 for a group) nor a public @channelname"
                ),
            ));
        }
    }
    super::config::check_http_sink("telegram", name, &c.base_url, c.template.as_deref())?;
    if c.token_env.trim().is_empty() {
        return Err((
            "token_env",
            format!("telegram {name:?}: token_env is empty: name an environment variable"),
        ));
    }
    Ok(())
}

/// A bot token is the bot's number, ':' and letters, digits, '-' and '_': safe in a URL path.
fn is_token(t: &str) -> bool {
    t.split_once(':').is_some_and(|(id, key)| {
        !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_digit())
            && !key.is_empty()
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// `[[notify.telegram]]` with the bot token read from the environment.
#[derive(Debug, Clone)]
pub struct TelegramSpec {
    pub config: TelegramConfig,
    token: Result<Secret, String>,
}

impl TelegramSpec {
    pub fn new(config: TelegramConfig, env: &dyn Fn(&str) -> Option<String>) -> TelegramSpec {
        let token = Secret::from_env(
            env,
            &config.token_env,
            "your bot's token (from @BotFather: 123456789:AA...)",
        )
        .and_then(|t| {
            if is_token(t.expose()) {
                Ok(t)
            } else {
                Err(format!(
                    "{} does not hold a bot token (the number, ':' and the key @BotFather gave)",
                    t.var()
                ))
            }
        });
        TelegramSpec { config, token }
    }

    /// Why this sink cannot work (a missing variable), if it cannot.
    pub fn setup_error(&self) -> Option<&str> {
        self.token.as_ref().err().map(String::as_str)
    }
}

/// Sends one message per notice.
pub struct TelegramSink {
    cfg: TelegramConfig,
    token: Secret,
    endpoint: Endpoint,
}

impl TelegramSink {
    pub fn new(spec: &TelegramSpec) -> Result<TelegramSink, String> {
        let cfg = spec.config.clone();
        let token = spec.token.clone()?;
        let sink = format!("telegram {:?}", cfg.name);
        let endpoint = Endpoint::new(&sink, &cfg.base_url, cfg.timeout_secs)?;
        Ok(TelegramSink {
            cfg,
            token,
            endpoint,
        })
    }

    /// The JSON body for `n`.
    pub fn body(&self, n: &Notice) -> serde_json::Value {
        let t = self.cfg.template.as_deref().unwrap_or(DEFAULT_TEMPLATE);
        let text = webhook::render(t, n, false);
        let chat_id = match &self.cfg.chat_id {
            ChatId::Number(i) => serde_json::json!(i),
            ChatId::Name(s) => s
                .parse::<i64>()
                .map_or_else(|_| serde_json::json!(s), |i| serde_json::json!(i)),
        };
        serde_json::json!({ "chat_id": chat_id, "text": fit_utf16(&text, TELEGRAM_LIMIT) })
    }

    pub async fn deliver(&self, n: &Notice) -> Result<(), SinkError> {
        let url = format!(
            "{}/bot{}/sendMessage",
            self.cfg.base_url.trim_end_matches('/'),
            self.token.expose()
        );
        let req = self.endpoint.client.post(url).json(&self.body(n));
        match self.endpoint.send(req).await? {
            None => Ok(()),
            Some(f) => {
                let (reason, wait) = self.reason(&f);
                // a proxy's answer may quote the path, token and all
                Err(f.error(self.token.redact(&reason), wait))
            }
        }
    }

    /// "Telegram HTTP 400: Bad Request: chat not found (...)" and the answer's `retry_after`.
    fn reason(&self, f: &Failure) -> (String, Option<Duration>) {
        #[derive(serde::Deserialize)]
        struct Answer {
            description: Option<String>,
            parameters: Option<Parameters>,
        }
        #[derive(serde::Deserialize)]
        struct Parameters {
            retry_after: Option<f64>,
        }
        let Ok(a) = serde_json::from_str::<Answer>(&f.body) else {
            let line = f.first_line();
            let host = &self.endpoint.host;
            return match line.is_empty() {
                true => (format!("HTTP {} from {host}", f.status), None),
                false => (format!("HTTP {} from {host}: {line}", f.status), None),
            };
        };
        let wait = a
            .parameters
            .and_then(|p| p.retry_after)
            .filter(|s| s.is_finite() && *s >= 0.0)
            // a day at most: an absurd number is no reason to panic (the notifier then fails
            // the delivery for asking too long a wait)
            .map(|s| Duration::from_secs_f64(s.min(86_400.0)));
        let what: String = a
            .description
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        let hint = match f.status {
            400 if what.contains("chat not found") => format!(
                " (check chat_id = {} and that the bot was added to that chat or was sent /start)",
                self.cfg.chat_id
            ),
            401 | 404 => format!(
                " (the bot token in {} was refused: check it with @BotFather)",
                self.token.var()
            ),
            403 => " (the bot cannot write there: it was blocked, removed, or is not an admin of the channel)".into(),
            _ => String::new(),
        };
        (
            format!("Telegram HTTP {}: {}{hint}", f.status, what.trim()),
            wait,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(chat: &str) -> TelegramConfig {
        toml::from_str(&format!("name = \"tg\"\nchat_id = {chat}\n")).unwrap()
    }

    #[test]
    fn chat_ids_are_numbers_or_channel_names() {
        assert!(check(&cfg("123456789")).is_ok());
        assert!(check(&cfg("-1001234567890")).is_ok());
        assert!(check(&cfg("\"-1001234567890\"")).is_ok());
        assert!(check(&cfg("\"@my_alerts\"")).is_ok());
        assert_eq!(check(&cfg("\"my alerts\"")).unwrap_err().0, "chat_id");
        assert_eq!(cfg("1").token_env, "TELEGRAM_BOT_TOKEN");
    }

    #[test]
    fn the_token_is_read_checked_and_never_shown() {
        let env =
            |v: &'static str| move |k: &str| (k == "TELEGRAM_BOT_TOKEN").then(|| v.to_string());
        let ok = TelegramSpec::new(cfg("1"), &env("123:AAbb-cc_DD"));
        assert_eq!(ok.setup_error(), None);
        assert!(!format!("{ok:?}").contains("AAbb"));
        let sink = TelegramSink::new(&ok).unwrap();
        let bad = TelegramSpec::new(cfg("1"), &env("123:AA/../x"));
        let e = bad.setup_error().unwrap();
        assert!(
            e.contains("does not hold a bot token") && !e.contains("AA/"),
            "{e}"
        );
        let none = TelegramSpec::new(cfg("1"), &|_| None);
        assert!(
            none.setup_error()
                .unwrap()
                .starts_with("TELEGRAM_BOT_TOKEN is not set")
        );
        // numeric chat ids go as numbers, channel names as strings
        let n = Notice::of(crate::alerts::sinks::tests::alert(
            0,
            "BTCUSDT",
            crate::alerts::Severity::Info,
        ));
        assert_eq!(sink.body(&n)["chat_id"], 1);
        assert_eq!(sink.body(&n)["text"], "tickwatch info: BTCUSDT anomaly 0");
    }
}
