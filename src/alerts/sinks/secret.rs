//! Secrets the HTTP sinks read from the environment (a Twilio auth token, a Telegram bot
//! token): never in the config file, never in a message, a log line or a `Debug` print.

/// A value read from an environment variable. Its `Debug` names the variable only.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    var: String,
    value: String,
}

impl Secret {
    /// The value of `var`, or an error naming it and saying what to put in it (`what`).
    pub fn from_env(
        env: &dyn Fn(&str) -> Option<String>,
        var: &str,
        what: &str,
    ) -> Result<Secret, String> {
        match env(var) {
            Some(v) if !v.trim().is_empty() => Ok(Secret {
                var: var.to_string(),
                value: v.trim().to_string(),
            }),
            _ => Err(format!("{var} is not set: export {what} in it")),
        }
    }

    /// The secret itself, for the request that needs it and nothing else.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// The variable it came from.
    pub fn var(&self) -> &str {
        &self.var
    }

    /// `text` with every occurrence of the secret replaced by `$VAR` (a server's answer that
    /// quotes the request path, which may carry it).
    pub fn redact(&self, text: &str) -> String {
        if self.value.is_empty() {
            return text.to_string();
        }
        text.replace(&self.value, &format!("${}", self.var))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret(${})", self.var)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_never_printed_and_a_missing_one_is_named() {
        let env = |k: &str| (k == "TOKEN").then(|| " s3cret\n".to_string());
        let s = Secret::from_env(&env, "TOKEN", "the token").unwrap();
        assert_eq!(s.expose(), "s3cret");
        assert_eq!(format!("{s:?}"), "Secret($TOKEN)");
        // a server's answer quoting the request path loses the secret
        assert_eq!(
            s.redact(
                "The requested resource /2010-04-01/Accounts/s3cret/Messages.json was not found"
            ),
            "The requested resource /2010-04-01/Accounts/$TOKEN/Messages.json was not found"
        );
        let e = Secret::from_env(&env, "OTHER", "the bot token").unwrap_err();
        assert_eq!(e, "OTHER is not set: export the bot token in it");
        let empty = |_: &str| Some(String::new());
        assert!(Secret::from_env(&empty, "TOKEN", "x").is_err());
    }
}
