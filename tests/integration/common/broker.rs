//! A Kafka-protocol broker of a test's own (Tansu, in memory, on 127.0.0.1) reached through a
//! link the test can cut and restore: the brokers going away under a running consumer, for
//! real (connections reset, new ones refused), not a mock.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct CuttableBroker {
    broker: Child,
    /// What clients connect to (the broker advertises this address, so every connection,
    /// metadata included, goes through the link).
    address: String,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// Copy one direction until either side closes.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

impl CuttableBroker {
    pub fn start() -> Self {
        let tansu = std::env::var("STRATA_TEST_TANSU").unwrap_or_else(|_| {
            panic!("STRATA_TEST_TANSU is not set: run scripts/test.sh, or `eval $(scripts/kafka-broker.sh start)` first")
        });
        let listener = TcpListener::bind("127.0.0.1:0").expect("link listener");
        let address = listener.local_addr().expect("link address").to_string();
        let broker_port = free_port();
        let broker = Command::new(tansu)
            .args([
                "broker",
                "--listener-url",
                &format!("tcp://127.0.0.1:{broker_port}"),
                "--advertised-listener-url",
                &format!("tcp://{address}"),
                "--storage-engine",
                "memory://tansu/",
            ])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tansu");
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", broker_port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on {broker_port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let cut = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (cut2, open2) = (cut.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if cut2.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", broker_port)) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
                if let Ok(mut o) = open2.lock() {
                    o.extend([c2, s2]);
                }
                let (Ok(c3), Ok(s3)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
                std::thread::spawn(move || pipe(client, server));
                std::thread::spawn(move || pipe(s3, c3));
            }
        });
        CuttableBroker {
            broker,
            address,
            cut,
            open,
        }
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// Reset every open connection and refuse new ones until [`restore`](Self::restore).
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        if let Ok(mut o) = self.open.lock() {
            for s in o.drain(..) {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }

    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for CuttableBroker {
    fn drop(&mut self) {
        let _ = self.broker.kill();
        let _ = self.broker.wait();
    }
}
