//! A private D-Bus session bus (dbus-daemon with a minimal config in a temporary directory), a
//! `dbus-monitor` on it, and a fake freedesktop notification service (zbus) that answers
//! `org.freedesktop.Notifications.Notify` and records each call. Nothing touches the user's
//! own session bus or this process's environment: pass [`PrivateBus::address`] to a child
//! process as DBUS_SESSION_BUS_ADDRESS.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct PrivateBus {
    pub address: String,
    child: Child,
    _dir: tempfile::TempDir,
}

/// Fails the test with what to install when `program` is not on PATH.
fn need(program: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "{program} is not installed: install dbus-daemon and dbus-bin (Debian), as .ci/run does"
    );
}

impl PrivateBus {
    pub fn start() -> PrivateBus {
        need("dbus-daemon");
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("bus");
        let conf = dir.path().join("session.conf");
        std::fs::write(
            &conf,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                socket.display()
            ),
        )
        .unwrap();
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .args(["--print-address", "--nofork"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line.trim().to_string();
        assert!(address.starts_with("unix:"), "dbus-daemon said {line:?}");
        PrivateBus {
            address,
            child,
            _dir: dir,
        }
    }

    /// Starts `dbus-monitor` on this bus for Notify calls and waits until it is listening.
    pub fn monitor(&self) -> Monitor {
        need("dbus-monitor");
        let mut child = Command::new("dbus-monitor")
            .args(["--address", &self.address])
            .arg("type='method_call',interface='org.freedesktop.Notifications',member='Notify'")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out: Arc<Mutex<String>> = Arc::default();
        let stdout = child.stdout.take().unwrap();
        let o = out.clone();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut line = String::new();
            while r.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                o.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        let m = Monitor { child, out };
        // dbus-monitor becomes a monitor by giving up its own name: then it sees everything
        m.wait_for("NameLost", Duration::from_secs(10));
        m
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Monitor {
    child: Child,
    out: Arc<Mutex<String>>,
}

impl Monitor {
    pub fn text(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    /// Waits until the output contains `needle`; returns the output.
    pub fn wait_for(&self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let t = self.text();
            if t.contains(needle) {
                return t;
            }
            assert!(
                Instant::now() < deadline,
                "dbus-monitor never showed {needle:?}; it printed:\n{t}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The Notify calls seen, each as the text dbus-monitor printed for it.
    pub fn notify_calls(&self) -> Vec<String> {
        self.text()
            .split("method call ")
            .skip(1)
            .filter(|c| c.contains("member=Notify"))
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One Notify call as the fake service received it.
#[derive(Debug, Clone, PartialEq)]
pub struct Notified {
    pub app_name: String,
    pub summary: String,
    pub body: String,
    /// The "urgency" hint (0 low, 1 normal, 2 critical), if given.
    pub urgency: Option<u8>,
    pub expire_timeout: i32,
}

struct FakeNotifications {
    calls: Arc<Mutex<Vec<Notified>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl FakeNotifications {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        hints: HashMap<String, zbus::OwnedVariant>,
        expire_timeout: i32,
    ) -> u32 {
        let urgency = hints.get("urgency").and_then(|v| u8::try_from(v).ok());
        let mut calls = self.calls.lock().unwrap();
        calls.push(Notified {
            app_name,
            summary,
            body,
            urgency,
            expire_timeout,
        });
        calls.len() as u32
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "fake".into(),
            "tickwatch-tests".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, _id: u32) {}
}

/// A fake notification service on `address`; alive while the connection is.
pub struct NotificationService {
    _conn: zbus::Connection,
    pub calls: Arc<Mutex<Vec<Notified>>>,
}

impl NotificationService {
    pub async fn start(address: &str) -> NotificationService {
        let calls: Arc<Mutex<Vec<Notified>>> = Arc::default();
        let conn = zbus::connection::Builder::address(address)
            .name("org.freedesktop.Notifications")
            .serve_at(
                "/org/freedesktop/Notifications",
                FakeNotifications {
                    calls: calls.clone(),
                },
            )
            .build()
            .await
            .unwrap();
        NotificationService { _conn: conn, calls }
    }

    pub fn calls(&self) -> Vec<Notified> {
        self.calls.lock().unwrap().clone()
    }
}
