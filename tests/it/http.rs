//! The `[http]` listener of a real daemon process under hostile clients: thousands of idle connections, a
//! slowloris, oversized requests, and no file descriptors left. Each daemon runs under `prlimit` with a known
//! `RLIMIT_NOFILE`, and its CPU time is read from `/proc/<pid>/stat`.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::daemon::KillOnDrop;

/// systemd's default soft limit for a service (`LimitNOFILE=1024:524288`): what a packaged daemon runs with.
const SYSTEMD_NOFILE: u64 = 1024;

/// `hearsay run` with `[http]` on a free port, under `prlimit --nofile=nofile:nofile`, ready (READY=1) on return.
struct Daemon {
    child: KillOnDrop,
    addr: SocketAddr,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl Daemon {
    fn start(nofile: u64) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("hearsay.toml");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        std::fs::write(
            &cfg,
            format!(
                "[storage]\ndatabase = \"{0}/h.db\"\noutbox_dir = \"{0}/outbox\"\n\n[http]\nlisten = \"127.0.0.1:{port}\"\n\n\
                 [[brands]]\nname = \"Acme\"\nquery = \"acme\"\n",
                dir.path().display()
            ),
        )
        .unwrap();
        let sock_path = dir.path().join("notify.sock");
        let sock = UnixDatagram::bind(&sock_path).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let stderr = dir.path().join("stderr.log");
        // prlimit sets the limit and execs the daemon: the child's pid is the daemon's.
        let child = Command::new("prlimit")
            .arg(format!("--nofile={nofile}:{nofile}"))
            .arg("--")
            .arg(assert_cmd::cargo::cargo_bin("hearsay"))
            .args(["run", "--config"])
            .arg(&cfg)
            .env("NOTIFY_SOCKET", &sock_path)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("prlimit (util-linux) runs the daemon");
        let child = KillOnDrop(child);
        let mut buf = [0u8; 256];
        let n = sock.recv(&mut buf).expect("READY=1 within 60 s");
        assert!(String::from_utf8_lossy(&buf[..n]).contains("READY=1"));
        Daemon { child, addr: ([127, 0, 0, 1], port).into(), stderr, _dir: dir }
    }

    fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// User plus system CPU time so far, in clock ticks (`/proc/<pid>/stat` fields 14 and 15).
    fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
        let rest: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        rest[11].parse::<u64>().unwrap() + rest[12].parse::<u64>().unwrap()
    }

    fn open_descriptors(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid())).unwrap().count()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap()
    }

    /// One request (`raw`, written as is), the response as text; `Err` if none came within `limit` of connecting.
    fn request(&self, raw: &[u8], limit: Duration) -> std::io::Result<String> {
        let t0 = Instant::now();
        let mut c = TcpStream::connect_timeout(&self.addr, limit)?;
        c.write_all(raw)?;
        let mut out = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let left = limit.checked_sub(t0.elapsed()).filter(|d| !d.is_zero());
            c.set_read_timeout(Some(left.ok_or(ErrorKind::TimedOut)?))?;
            match c.read(&mut chunk)? {
                0 => return Ok(String::from_utf8_lossy(&out).into_owned()),
                n => out.extend_from_slice(&chunk[..n]),
            }
        }
    }

    fn get(&self, path: &str, limit: Duration) -> std::io::Result<String> {
        self.request(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes(), limit)
    }
}

/// Clock ticks per second of `/proc/<pid>/stat` (USER_HZ).
fn ticks_per_second() -> u64 {
    let out = Command::new("getconf").arg("CLK_TCK").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// Lets this test process hold `n` descriptors: raises its soft limit (up to the hard one) if it is lower.
fn allow_descriptors(n: u64) {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap();
    let v: Vec<&str> = line.split_whitespace().collect();
    let (soft, hard): (u64, u64) = (v[3].parse().unwrap(), v[4].parse().unwrap_or(u64::MAX));
    if soft < n {
        assert!(hard >= n, "this test needs {n} descriptors; the hard limit is {hard}");
        let pid = std::process::id().to_string();
        let ok = Command::new("prlimit").args(["--pid", &pid, &format!("--nofile={n}:")]).status().unwrap();
        assert!(ok.success(), "prlimit --pid {pid} --nofile={n}:");
    }
}

#[test]
fn routes_answer_head_404_405_and_refuse_oversized_requests() {
    let d = Daemon::start(SYSTEMD_NOFILE);
    let second = Duration::from_secs(1);
    let head = d.request(b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n", second).unwrap();
    assert!(head.starts_with("HTTP/1.1 200") && head.ends_with("\r\n\r\n"), "headers only: {head:?}");
    let head = head.to_ascii_lowercase();
    for h in ["content-type: application/json", "cache-control: no-store", "connection: close", "content-length: "] {
        assert!(head.contains(h), "{h:?} missing in {head:?}");
    }
    assert!(d.get("/nothing", second).unwrap().starts_with("HTTP/1.1 404"));
    let post = d.request(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", second).unwrap();
    assert!(post.starts_with("HTTP/1.1 405"), "{post}");
    let big = d.request(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n", second).unwrap();
    assert!(big.starts_with("HTTP/1.1 413") && big.contains("cache-control: no-store"), "{big}");
    let cookie = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nCookie: {}\r\n\r\n", "a".repeat(64 * 1024));
    match d.request(cookie.as_bytes(), second) {
        Ok(r) => assert!(r.starts_with("HTTP/1.1 431"), "a 64 KiB head is refused: {r}"),
        // hyper may close before reading all we send: refused all the same.
        Err(e) => assert!(matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe), "{e}"),
    }
}

#[test]
fn idle_connections_and_a_slowloris_neither_lock_out_healthz_nor_burn_cpu() {
    const IDLE: usize = 2000;
    allow_descriptors(IDLE as u64 + 200);
    let d = Daemon::start(SYSTEMD_NOFILE);
    let (addr, fds_before, ticks_before, t_before) = (d.addr, d.open_descriptors(), d.cpu_ticks(), Instant::now());

    // Connections that never send a byte, opened as fast as the daemon takes them.
    let opened = Arc::new(AtomicUsize::new(0));
    let flood = std::thread::spawn({
        let opened = opened.clone();
        move || -> Vec<TcpStream> {
            (0..IDLE)
                .map(|i| {
                    let c = TcpStream::connect_timeout(&addr, Duration::from_secs(10));
                    opened.fetch_add(1, Ordering::Relaxed);
                    c.unwrap_or_else(|e| panic!("idle connection #{i}: {e}"))
                })
                .collect()
        }
    });
    // Past the ~1,000 connections that 1,024 descriptors would hold if each connection took one without a cap.
    let t0 = Instant::now();
    while opened.load(Ordering::Relaxed) < 1100 && !flood.is_finished() {
        assert!(t0.elapsed() < Duration::from_secs(60), "only {opened:?} connections in 60 s");
        std::thread::sleep(Duration::from_millis(10));
    }
    let t0 = Instant::now();
    let health = d.get("/healthz", Duration::from_secs(1));
    assert!(
        matches!(&health, Ok(r) if r.starts_with("HTTP/1.1 200")),
        "/healthz within 1 s beside {opened:?} idle connections: {health:?} after {:?}",
        t0.elapsed()
    );

    let idle = flood.join().unwrap();
    // A slowloris (opened after the flood, so that it is not the oldest connection and only the header timeout can
    // end it): a request head one byte a second, until the daemon hangs up.
    let slowloris = std::thread::spawn(move || {
        let t0 = Instant::now();
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        let head = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Padding: ".iter().chain(std::iter::repeat(&b'a'));
        for &byte in head {
            if c.write_all(&[byte]).is_err() || t0.elapsed() > Duration::from_secs(30) {
                break;
            }
            match c.read(&mut [0u8; 256]) {
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                _ => break, // closed, reset or answered (408): hung up on either way
            }
        }
        t0.elapsed()
    });
    std::thread::sleep(Duration::from_millis(1500));
    let t0 = Instant::now();
    let health = d.get("/healthz", Duration::from_secs(1));
    assert!(
        matches!(&health, Ok(r) if r.starts_with("HTTP/1.1 200")),
        "/healthz within 1 s beside {IDLE} idle connections and a slowloris: {health:?} after {:?}",
        t0.elapsed()
    );
    std::thread::sleep(Duration::from_millis(1500));
    let held = d.open_descriptors() - fds_before;
    assert!(held <= 256 + 8, "{held} descriptors for {IDLE} idle connections: they are not capped");
    // Accepting (and shedding) 2,000 connections takes a fraction of a second of CPU; waiting on them, none.
    let seconds = t_before.elapsed().as_secs_f64();
    let busy = (d.cpu_ticks() - ticks_before) as f64 / ticks_per_second() as f64 / seconds;
    assert!(busy < 0.1, "the daemon used {:.0}% of a core in the {seconds:.1} s of the flood", busy * 100.0);

    let hung_up_after = slowloris.join().unwrap();
    assert!(hung_up_after < Duration::from_secs(5 + 2), "the slowloris was served for {hung_up_after:?}");
    drop(idle);
}

#[test]
fn out_of_descriptors_the_accept_loop_pauses_instead_of_spinning() {
    // 128 descriptors, about 20 of them taken at start-up: the daemon runs out long before its 256 connections.
    let d = Daemon::start(128);
    let conns: Vec<TcpStream> =
        (0..200).map(|_| TcpStream::connect_timeout(&d.addr, Duration::from_secs(5)).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));

    // Less than the 5 s after which the header timeout closes the accepted ones and frees descriptors.
    let ticks = d.cpu_ticks();
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_millis(2500));
    let busy = (d.cpu_ticks() - ticks) as f64 / ticks_per_second() as f64 / t0.elapsed().as_secs_f64();
    assert!(busy < 0.1, "the daemon used {:.0}% of a core without descriptors to accept with", busy * 100.0);
    let log = d.log();
    assert!(log.contains("cannot accept connections"), "EMFILE was never hit, so this test tested nothing: {log}");

    drop(conns);
    let t0 = Instant::now();
    let health = loop {
        match d.get("/healthz", Duration::from_secs(1)) {
            Ok(r) => break r,
            Err(e) if t0.elapsed() < Duration::from_secs(10) => eprintln!("not yet: {e}"),
            Err(e) => panic!("/healthz still not answering 10 s after the connections closed: {e}"),
        }
    };
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(d.log().contains("accepting connections again"), "{}", d.log());
}
