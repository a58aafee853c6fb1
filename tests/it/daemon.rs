//! The daemon as a real process: readiness over sd_notify, SIGHUP with a broken config, SIGTERM; and SIGTERM in
//! the middle of an import.

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{hearsay, record, write_file};

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status().unwrap().success();
    assert!(ok, "kill -{sig} {pid}");
}

/// Kills the process when a test fails half-way, so no daemon outlives its test.
pub(super) struct KillOnDrop(pub(super) std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn wait_exit(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            panic!("process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One HTTP/1.1 GET over a plain socket; the whole response as text.
fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(c, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn run_reports_ready_reloads_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("hearsay.toml");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let body = format!(
        "[storage]\ndatabase = \"{0}/h.db\"\noutbox_dir = \"{0}/outbox\"\n\n[http]\nlisten = \"127.0.0.1:{port}\"\n\n\
         [[brands]]\nname = \"Acme\"\nquery = \"acme\"\n",
        dir.path().display()
    );
    std::fs::write(&cfg, &body).unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(60))).unwrap();

    let bin = assert_cmd::cargo::cargo_bin("hearsay");
    let mut guard = KillOnDrop(
        Command::new(bin)
            .args(["run", "--config"])
            .arg(&cfg)
            .env("NOTIFY_SOCKET", &sock_path)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let child = &mut guard.0;
    let mut buf = [0u8; 256];
    let n = sock.recv(&mut buf).expect("READY=1 within 60 s");
    assert!(String::from_utf8_lossy(&buf[..n]).contains("READY=1"));
    assert!(dir.path().join("h.db").exists(), "ready only after the database is migrated");

    // [http]: Prometheus metrics and the health check.
    let metrics = http_get(port, "/metrics");
    assert!(metrics.starts_with("HTTP/1.1 200") && metrics.contains("text/plain; version=0.0.4"), "{metrics}");
    for line in ["# TYPE hearsay_outbox_backlog gauge", "hearsay_outbox_backlog 0", "hearsay_classify_queue_depth 0"] {
        assert!(metrics.contains(line), "{line:?} missing in {metrics}");
    }
    let health = http_get(port, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200") && health.contains(r#""database":"ok""#), "{health}");
    assert!(http_get(port, "/nothing").starts_with("HTTP/1.1 404"));

    // A broken config on reload is refused and the daemon keeps running.
    std::fs::write(&cfg, body.replace("query = \"acme\"", "query = \"(acme\"")).unwrap();
    signal(child.id(), "HUP");
    let n = sock.recv(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("RELOADING=1"), "{:?}", String::from_utf8_lossy(&buf[..n]));
    let n = sock.recv(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("READY=1"));
    assert!(child.try_wait().unwrap().is_none(), "still running after a bad reload");

    let t0 = Instant::now();
    signal(child.id(), "TERM");
    let status = wait_exit(child, Duration::from_secs(10));
    assert!(status.success(), "exit 0 on SIGTERM, got {status:?}");
    assert!(t0.elapsed() < Duration::from_secs(10));
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.contains("keeping the old one") && err.contains("brands[0].query"), "{err}");
}

#[test]
fn sigterm_mid_import_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let n = 200_000;
    let lines: Vec<String> = (0..n)
        .map(|i| {
            record(
                "reddit",
                &i.to_string(),
                "Acme",
                "neutral",
                "2026-11-20T10:00:00Z",
                &format!("acme mention number {i}"),
            )
        })
        .collect();
    let file = write_file(dir.path(), "big.jsonl", &lines);
    let db = dir.path().join("h.db");
    let bin = assert_cmd::cargo::cargo_bin("hearsay");
    let mut guard = KillOnDrop(
        Command::new(&bin)
            .arg("--db")
            .arg(&db)
            .args(["import", "--batch", "2000"])
            .arg(&file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let child = &mut guard.0;
    // Let a few batches commit, then interrupt.
    let t0 = Instant::now();
    while !db.exists() || std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0) < 200_000 {
        assert!(t0.elapsed() < Duration::from_secs(60), "import never started writing");
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(child.id(), "TERM");
    let status = wait_exit(child, Duration::from_secs(30));
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    let inserted: u64 =
        out.split_whitespace().next().and_then(|w| w.parse().ok()).unwrap_or_else(|| panic!("report: {out:?}"));
    if status.success() {
        // The import won the race; it must then be complete.
        assert_eq!(inserted, n as u64);
    } else {
        assert_eq!(status.code(), Some(1));
        assert!(inserted < n as u64);
    }
    // Every acknowledged mention is in the database, and a re-run completes the rest without duplicates.
    let count = |db: &std::path::Path| -> u64 {
        let out = hearsay().arg("--db").arg(db).args(["export", "--format", "jsonl"]).output().unwrap();
        String::from_utf8(out.stdout).unwrap().lines().count() as u64
    };
    assert_eq!(count(&db), inserted, "acknowledged count matches the database");
    hearsay().arg("--db").arg(&db).arg("import").arg(&file).assert().success();
    assert_eq!(count(&db), n as u64);
}

#[test]
fn the_systemd_unit_verifies() {
    let Ok(path) = which("systemd-analyze") else {
        eprintln!("skipping: systemd-analyze not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let unit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/hearsay.service")).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("hearsay");
    let unit = unit.replace("/usr/local/bin/hearsay", bin.to_str().unwrap());
    let p = dir.path().join("hearsay.service");
    std::fs::write(&p, unit).unwrap();
    let out = Command::new(path).arg("verify").arg(&p).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // Only complaints about this unit count; a container without a running systemd warns about other things.
    let ours: Vec<&str> = err.lines().filter(|l| l.contains("hearsay.service") && !l.contains("Failed to")).collect();
    assert!(ours.is_empty(), "systemd-analyze verify: {err}");
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|p| p.is_file()))
        .ok_or(())
}
