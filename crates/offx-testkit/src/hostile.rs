//! Hostile HTTP servers for the body-cap tests: bodies that never end (plain or gzip'd) and a
//! `Content-Length` far over any cap. Plain `std` threads over a `TcpListener` on 127.0.0.1, so
//! they work from any test, async or not, and count exactly what they wrote.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use flate2::write::GzEncoder;
use flate2::Compression;

/// What the server answers to every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hostile {
    /// `200`, chunked, Reg SHO-looking rows forever.
    EndlessPlain,
    /// `200`, chunked, `Content-Encoding: gzip`, a gzip stream of rows that never ends (each
    /// chunk inflates about a thousandfold).
    EndlessGzip,
    /// `200` with `Content-Length: 2147483648`, then rows until the client hangs up.
    DeclaredHuge,
}

/// A running hostile server.
pub struct HostileServer {
    addr: SocketAddr,
    requests: Arc<AtomicUsize>,
    /// Body bytes written, as the client sees them after decoding.
    decoded_sent: Arc<AtomicU64>,
}

impl HostileServer {
    pub fn start(kind: Hostile) -> HostileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let requests = Arc::new(AtomicUsize::new(0));
        let decoded_sent = Arc::new(AtomicU64::new(0));
        let (r, d) = (Arc::clone(&requests), Arc::clone(&decoded_sent));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                r.fetch_add(1, Ordering::SeqCst);
                let d = Arc::clone(&d);
                std::thread::spawn(move || {
                    let _ = serve(stream, kind, &d);
                });
            }
        });
        HostileServer {
            addr,
            requests,
            decoded_sent,
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn uri(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Decoded body bytes written so far (what a client that read everything would hold).
    pub fn decoded_sent(&self) -> u64 {
        self.decoded_sent.load(Ordering::SeqCst)
    }
}

const ROW: &[u8] = b"20240401|AAPL|1|0|2|B,Q,N\r\n";

fn rows(bytes: usize) -> Vec<u8> {
    ROW.iter().copied().cycle().take(bytes).collect()
}

fn serve(mut stream: TcpStream, kind: Hostile, decoded: &AtomicU64) -> std::io::Result<()> {
    // The request head (a POST body, if any, is left unread: the answer does not depend on it).
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let plain = rows(64 << 10);
    match kind {
        Hostile::EndlessPlain => {
            stream.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")?;
            loop {
                write_chunk(&mut stream, &plain)?;
                decoded.fetch_add(plain.len() as u64, Ordering::SeqCst);
            }
        }
        Hostile::EndlessGzip => {
            stream.write_all(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n",
            )?;
            let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
            let big = rows(4 << 20);
            loop {
                encoder.write_all(&big)?;
                encoder.flush()?;
                let compressed = std::mem::take(encoder.get_mut());
                write_chunk(&mut stream, &compressed)?;
                decoded.fetch_add(big.len() as u64, Ordering::SeqCst);
            }
        }
        Hostile::DeclaredHuge => {
            stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2147483648\r\n\r\n")?;
            loop {
                stream.write_all(&plain)?;
                decoded.fetch_add(plain.len() as u64, Ordering::SeqCst);
            }
        }
    }
}

fn write_chunk(stream: &mut TcpStream, data: &[u8]) -> std::io::Result<()> {
    stream.write_all(format!("{:x}\r\n", data.len()).as_bytes())?;
    stream.write_all(data)?;
    stream.write_all(b"\r\n")
}

/// This process's peak resident memory (`VmHWM`), in bytes; `None` off Linux.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// gzip of `bytes` (for answers sent with `Content-Encoding: gzip`).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}
