//! systemd integration without a dependency: `sd_notify(3)` is one datagram on a Unix socket.
//!
//! `READY=1` once migrations have run and the model is loaded, `WATCHDOG=1` only after the database has
//! answered a query (so a wedged database gets the service restarted), `RELOADING=1`/`READY=1` around SIGHUP,
//! `STOPPING=1` on shutdown, and `STATUS=…` lines that `systemctl status` shows.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Sends one notification; a no-op when not started by systemd (`$NOTIFY_SOCKET` unset).
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else { return };
    let Ok(sock) = UnixDatagram::unbound() else { return };
    let bytes = path.as_encoded_bytes();
    let result = if let Some(abstract_name) = bytes.strip_prefix(b"@") {
        connect_abstract(&sock, abstract_name)
    } else {
        sock.connect(&path)
    };
    if let Err(e) = result.and_then(|_| sock.send(state.as_bytes()).map(|_| ())) {
        tracing::debug!(error = %e, "sd_notify failed");
    }
}

#[cfg(target_os = "linux")]
fn connect_abstract(sock: &UnixDatagram, name: &[u8]) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    sock.connect_addr(&addr)
}

#[cfg(not(target_os = "linux"))]
fn connect_abstract(_sock: &UnixDatagram, _name: &[u8]) -> std::io::Result<()> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "abstract sockets are Linux-only"))
}

/// How often to pet the watchdog: half of `WatchdogSec=`, when systemd asked for one.
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Some(pid) = std::env::var("WATCHDOG_PID").ok().and_then(|p| p.parse::<u32>().ok()) {
        if pid != std::process::id() {
            return None;
        }
    }
    Some(Duration::from_micros(usec / 2).max(Duration::from_millis(500)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_reaches_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let server = UnixDatagram::bind(&path).unwrap();
        // set_var is process-global; this is the only test that touches NOTIFY_SOCKET.
        std::env::set_var("NOTIFY_SOCKET", &path);
        notify("READY=1");
        std::env::remove_var("NOTIFY_SOCKET");
        let mut buf = [0u8; 64];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
    }
}
