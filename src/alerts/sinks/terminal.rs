//! Notifications written into the terminal as escape sequences, so they reach the person's own
//! terminal emulator even over ssh:
//!
//! - OSC 9 `ESC ] 9 ; text BEL`: iTerm2, WezTerm, Ghostty, ConEmu, Windows Terminal previews.
//! - OSC 777 `ESC ] 777 ; notify ; title ; body BEL`: foot, urxvt (notify extension), Ghostty,
//!   WezTerm.
//! - OSC 99 `ESC ] 99 ; i=ID:d=0 ; title ESC \` then `ESC ] 99 ; i=ID:p=body ; body ESC \`:
//!   kitty's own protocol.
//! - BEL: every terminal; tmux and screen mark the window, many terminals flash or beep.
//!
//! Terminals ignore OSC sequences they do not understand, but one that understands several
//! shows each, so the default sends one protocol picked from the terminal type plus the bell.
//! Inside tmux (TMUX set) each OSC is wrapped in tmux's DCS passthrough
//! `ESC P tmux ; ... ESC \` (every ESC inside doubled), which tmux forwards only with
//! `set -g allow-passthrough on`. Text is sanitized first: control characters (ESC, BEL, C1)
//! become spaces and ';' becomes ',', so an alert can never end a sequence early or start one.
//!
//! While the dashboard owns the screen the bytes go to its loop ([`TerminalOut::Ui`]), which
//! writes them between two frames; headless they go to the controlling terminal.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;

use super::{Notice, SinkError};

/// One kind of terminal notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sequence {
    Osc9,
    Osc777,
    Osc99,
    Bell,
}

/// Where the sequences go.
#[derive(Clone)]
pub enum TerminalOut {
    /// The controlling terminal (`/dev/tty`), else standard error when it is a terminal.
    Tty,
    /// The dashboard's loop, which writes them between frames (never while drawing).
    Ui(flume::Sender<Vec<u8>>),
    /// A buffer (tests, and anyone who wants the bytes).
    Buffer(Arc<Mutex<Vec<u8>>>),
}

impl std::fmt::Debug for TerminalOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TerminalOut::Tty => "Tty",
            TerminalOut::Ui(_) => "Ui",
            TerminalOut::Buffer(_) => "Buffer",
        })
    }
}

/// The terminal sink's settings, resolved.
#[derive(Debug, Clone)]
pub struct TerminalSpec {
    pub sequences: Vec<Sequence>,
    /// Wrap OSC sequences in tmux's passthrough.
    pub tmux: bool,
    pub out: TerminalOut,
}

/// The default sequences for the terminal described by `env`: kitty's OSC 99 in kitty
/// (TERM=xterm-kitty or KITTY_WINDOW_ID set), OSC 777 in foot and urxvt (TERM foot* or
/// rxvt*), OSC 9 everywhere else; always followed by the bell.
pub fn auto_sequences(env: &dyn Fn(&str) -> Option<String>) -> Vec<Sequence> {
    let term = env("TERM").unwrap_or_default();
    let protocol = if term == "xterm-kitty" || env("KITTY_WINDOW_ID").is_some() {
        Sequence::Osc99
    } else if term.starts_with("foot") || term.starts_with("rxvt") {
        Sequence::Osc777
    } else {
        Sequence::Osc9
    };
    vec![protocol, Sequence::Bell]
}

/// Longest text kept in a sequence; terminals truncate long notifications anyway.
const MAX_TEXT: usize = 240;

/// `s` made safe inside an OSC sequence: control characters (C0, DEL, C1: ESC and BEL
/// included) become spaces, ';' becomes ',', runs of spaces collapse, and the text is cut to
/// `MAX_TEXT` characters.
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_TEXT * 4));
    let mut count = 0;
    let mut space = false;
    for c in s.chars() {
        let c = match c {
            ';' => ',',
            c if c.is_control() || c.is_whitespace() => ' ',
            c => c,
        };
        if c == ' ' {
            if space || out.is_empty() {
                continue;
            }
            space = true;
        } else {
            space = false;
        }
        if count == MAX_TEXT {
            out.push('…');
            break;
        }
        out.push(c);
        count += 1;
    }
    out.trim_end().to_string()
}

/// kitty notification ids may hold only letters, digits and `-_+.`.
fn kitty_id(alert_id: &str) -> String {
    let id: String = alert_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '.'))
        .take(64)
        .collect();
    if id.is_empty() {
        "tickwatch".into()
    } else {
        id
    }
}

/// The bytes for one notification: each sequence in the order given, OSC ones wrapped for
/// tmux when `tmux` is set.
pub fn encode(sequences: &[Sequence], tmux: bool, id: &str, title: &str, body: &str) -> Vec<u8> {
    let title = sanitize(title);
    let body = sanitize(body);
    let mut out = Vec::new();
    for s in sequences {
        let seq = match s {
            Sequence::Osc9 => format!("\x1b]9;{title}: {body}\x07"),
            Sequence::Osc777 => format!("\x1b]777;notify;{title};{body}\x07"),
            Sequence::Osc99 => {
                let id = kitty_id(id);
                format!("\x1b]99;i={id}:d=0;{title}\x1b\\\x1b]99;i={id}:p=body;{body}\x1b\\")
            }
            Sequence::Bell => {
                // tmux handles the bell itself (bell-action, window flags): never wrapped.
                out.push(0x07);
                continue;
            }
        };
        if tmux {
            out.extend_from_slice(&tmux_wrap(&seq));
        } else {
            out.extend_from_slice(seq.as_bytes());
        }
    }
    out
}

/// tmux's passthrough: `ESC P tmux ;` + the sequence with each ESC doubled + `ESC \`. Each
/// OSC 99 part is its own sequence, so each is wrapped on its own.
fn tmux_wrap(seq: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(seq.len() + 16);
    // split before every ESC ] so that two sequences become two passthroughs
    for part in seq.split_inclusive("\x1b\\").filter(|p| !p.is_empty()) {
        out.extend_from_slice(b"\x1bPtmux;");
        for b in part.bytes() {
            if b == 0x1b {
                out.push(0x1b);
            }
            out.push(b);
        }
        out.extend_from_slice(b"\x1b\\");
    }
    out
}

/// Delivers notices as terminal sequences.
pub struct TerminalSink {
    spec: TerminalSpec,
}

/// How long writing to the terminal may take (a terminal paused with Ctrl-S blocks writes).
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

impl TerminalSink {
    pub fn new(spec: TerminalSpec) -> TerminalSink {
        TerminalSink { spec }
    }

    pub async fn deliver(&self, n: &Notice) -> Result<(), SinkError> {
        let bytes = encode(
            &self.spec.sequences,
            self.spec.tmux,
            &n.alert.alert_id,
            &n.title,
            &n.alert.message,
        );
        match &self.spec.out {
            TerminalOut::Buffer(buf) => {
                match buf.lock() {
                    Ok(mut b) => b.extend_from_slice(&bytes),
                    Err(poisoned) => poisoned.into_inner().extend_from_slice(&bytes),
                }
                Ok(())
            }
            TerminalOut::Ui(tx) => tx.try_send(bytes).map_err(|e| match e {
                flume::TrySendError::Full(_) => SinkError::transient(
                    "the dashboard is not taking terminal notifications (its queue is full)",
                ),
                flume::TrySendError::Disconnected(_) => {
                    SinkError::permanent("the dashboard has closed")
                }
            }),
            TerminalOut::Tty => {
                let write = tokio::task::spawn_blocking(move || write_tty(&bytes));
                match tokio::time::timeout(WRITE_TIMEOUT, write).await {
                    Ok(Ok(r)) => r,
                    Ok(Err(join)) => Err(SinkError::permanent(format!(
                        "terminal write task failed: {join}"
                    ))),
                    Err(_) => Err(SinkError::transient(format!(
                        "the terminal did not take the notification within {} s (paused with Ctrl-S?)",
                        WRITE_TIMEOUT.as_secs()
                    ))),
                }
            }
        }
    }
}

/// Writes to the controlling terminal, else to standard error when that is a terminal.
fn write_tty(bytes: &[u8]) -> Result<(), SinkError> {
    use std::io::IsTerminal;
    let fail =
        |e: std::io::Error| SinkError::permanent(format!("cannot write to the terminal: {e}"));
    match std::fs::OpenOptions::new().write(true).open("/dev/tty") {
        Ok(mut tty) => tty
            .write_all(bytes)
            .and_then(|()| tty.flush())
            .map_err(fail),
        Err(_) if std::io::stderr().is_terminal() => {
            let mut err = std::io::stderr().lock();
            err.write_all(bytes)
                .and_then(|()| err.flush())
                .map_err(fail)
        }
        Err(e) => Err(SinkError::permanent(format!(
            "no terminal to write to ({e}): tickwatch is not running in a terminal; set [notify] terminal = \"off\" or use another sink"
        ))),
    }
}

/// Writes every pending notification from the dashboard's queue to `out` and flushes; returns
/// how many. Called by the UI loop between frames.
pub fn drain_to(rx: &flume::Receiver<Vec<u8>>, out: &mut impl Write) -> std::io::Result<usize> {
    let mut n = 0;
    for bytes in rx.try_iter() {
        out.write_all(&bytes)?;
        n += 1;
    }
    if n > 0 {
        out.flush()?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn each_protocol_has_its_exact_bytes() {
        let e = |s: Sequence| encode(&[s], false, "a-1", "tickwatch: BTC anomaly", "z +7.5");
        assert_eq!(
            e(Sequence::Osc9),
            b"\x1b]9;tickwatch: BTC anomaly: z +7.5\x07"
        );
        assert_eq!(
            e(Sequence::Osc777),
            b"\x1b]777;notify;tickwatch: BTC anomaly;z +7.5\x07"
        );
        assert_eq!(
            e(Sequence::Osc99),
            b"\x1b]99;i=a-1:d=0;tickwatch: BTC anomaly\x1b\\\x1b]99;i=a-1:p=body;z +7.5\x1b\\"
        );
        assert_eq!(e(Sequence::Bell), b"\x07");
        assert_eq!(
            encode(&[Sequence::Osc9, Sequence::Bell], false, "x", "t", "b"),
            b"\x1b]9;t: b\x07\x07"
        );
    }

    #[test]
    fn tmux_passthrough_doubles_escapes_and_leaves_the_bell() {
        assert_eq!(
            encode(&[Sequence::Osc9, Sequence::Bell], true, "x", "t", "b"),
            b"\x1bPtmux;\x1b\x1b]9;t: b\x07\x1b\\\x07"
        );
        assert_eq!(
            encode(&[Sequence::Osc99], true, "x", "t", "b"),
            b"\x1bPtmux;\x1b\x1b]99;i=x:d=0;t\x1b\x1b\\\x1b\\\x1bPtmux;\x1b\x1b]99;i=x:p=body;b\x1b\x1b\\\x1b\\"
        );
    }

    #[test]
    fn alert_text_cannot_inject_sequences() {
        let evil = "BTC\x1b]52;c;ZXZpbA==\x07 up\x1b\\;\u{9b}31m\n\tnext;\u{7f}";
        let s = sanitize(evil);
        assert_eq!(s, "BTC ]52,c,ZXZpbA== up \\, 31m next,");
        assert!(!s.chars().any(|c| c.is_control()));
        let bytes = encode(&[Sequence::Osc777], false, "\x1b]x", evil, evil);
        // exactly one ESC (the opener) and one BEL (the terminator)
        assert_eq!(bytes.iter().filter(|&&b| b == 0x1b).count(), 1);
        assert_eq!(bytes.iter().filter(|&&b| b == 0x07).count(), 1);
        assert_eq!(bytes.iter().filter(|&&b| b == b';').count(), 3);
        let k = encode(&[Sequence::Osc99], false, "\x1b]x;y", "t", "b");
        assert!(
            k.starts_with(b"\x1b]99;i=xy:d=0;t"),
            "{:?}",
            String::from_utf8_lossy(&k)
        );
        let long = sanitize(&"x".repeat(1000));
        assert_eq!(long.chars().count(), MAX_TEXT + 1);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn the_default_protocol_follows_the_terminal() {
        let seqs = |v: &[(&str, &str)]| auto_sequences(&env(v));
        assert_eq!(
            seqs(&[("TERM", "xterm-kitty")]),
            [Sequence::Osc99, Sequence::Bell]
        );
        assert_eq!(
            seqs(&[("TERM", "tmux-256color"), ("KITTY_WINDOW_ID", "3")]),
            [Sequence::Osc99, Sequence::Bell]
        );
        assert_eq!(
            seqs(&[("TERM", "foot")]),
            [Sequence::Osc777, Sequence::Bell]
        );
        assert_eq!(
            seqs(&[("TERM", "rxvt-unicode-256color")]),
            [Sequence::Osc777, Sequence::Bell]
        );
        assert_eq!(
            seqs(&[("TERM", "xterm-256color")]),
            [Sequence::Osc9, Sequence::Bell]
        );
        assert_eq!(seqs(&[]), [Sequence::Osc9, Sequence::Bell]);
    }

    #[test]
    fn the_ui_queue_is_drained_in_order_and_flushed() {
        let (tx, rx) = flume::bounded(4);
        tx.send(b"one".to_vec()).unwrap();
        tx.send(b"two".to_vec()).unwrap();
        let mut out = Vec::new();
        assert_eq!(drain_to(&rx, &mut out).unwrap(), 2);
        assert_eq!(out, b"onetwo");
        assert_eq!(drain_to(&rx, &mut out).unwrap(), 0);
    }
}
