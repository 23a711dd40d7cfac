//! A TCP proxy for tests: added latency and a bandwidth cap per direction (this kernel has
//! no netem), and a switch that cuts every connection.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How a proxy treats the bytes it forwards.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shape {
    /// Each chunk is delivered this long after it arrived.
    pub latency: Duration,
    /// Bytes per second from the target back to the client (`None`: unlimited).
    pub downstream_rate: Option<u64>,
    /// Stop forwarding target → client after this many bytes until [`Proxy::resume`].
    pub pause_downstream_after: Option<u64>,
}

/// The pause switch of a proxy.
#[derive(Default)]
struct Pause {
    reached: AtomicBool,
    released: AtomicBool,
}

/// A running proxy on 127.0.0.1; stops (and cuts its connections) when dropped.
pub struct Proxy {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    pause: Arc<Pause>,
}

impl Proxy {
    /// Forward 127.0.0.1:<free port> to `target`, shaped by `shape`.
    pub fn start(target: SocketAddr, shape: Shape) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let halt = stop.clone();
        let pause = Arc::new(Pause::default());
        let p = pause.clone();
        std::thread::spawn(move || {
            while !halt.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let _ = client.set_nonblocking(false);
                        let Ok(server) = TcpStream::connect(target) else {
                            continue;
                        };
                        let _ = client.set_nodelay(true);
                        let _ = server.set_nodelay(true);
                        pipe(&client, &server, shape.latency, None, None, halt.clone());
                        let limit = shape.pause_downstream_after.map(|n| (n, p.clone()));
                        pipe(
                            &server,
                            &client,
                            shape.latency,
                            shape.downstream_rate,
                            limit,
                            halt.clone(),
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Proxy { addr, stop, pause }
    }

    /// Whether the downstream pause point has been reached (forwarding is held).
    pub fn paused(&self) -> bool {
        self.pause.reached.load(Ordering::SeqCst) && !self.pause.released.load(Ordering::SeqCst)
    }

    /// Let held bytes through again.
    pub fn resume(&self) {
        self.pause.released.store(true, Ordering::SeqCst);
    }

    /// The port to connect to.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Copy `from` → `to` with latency and an optional rate, until EOF or `stop`.
fn pipe(
    from: &TcpStream,
    to: &TcpStream,
    latency: Duration,
    rate: Option<u64>,
    pause: Option<(u64, Arc<Pause>)>,
    stop: Arc<AtomicBool>,
) {
    let (from, mut to) = (from.try_clone().unwrap(), to.try_clone().unwrap());
    // Bounded: a slow writer pushes back on the reader, so the sender feels the cap.
    let (tx, rx) = std::sync::mpsc::sync_channel::<(Instant, Vec<u8>)>(4);
    let halt = stop.clone();
    let mut reader = from.try_clone().unwrap();
    std::thread::spawn(move || {
        let _ = reader.set_read_timeout(Some(Duration::from_millis(100)));
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            if halt.load(Ordering::Relaxed) {
                break;
            }
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if tx
                        .send((Instant::now() + latency, buf[..n].to_vec()))
                        .is_err()
                    {
                        break;
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => break,
            }
        }
    });
    std::thread::spawn(move || {
        let mut sent = 0u64;
        for (due, chunk) in rx {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            if let Some((after, p)) = &pause
                && sent >= *after
            {
                p.reached.store(true, Ordering::SeqCst);
                while !p.released.load(Ordering::SeqCst) && !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            sent += chunk.len() as u64;
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            if to.write_all(&chunk).is_err() {
                break;
            }
            if let Some(rate) = rate {
                std::thread::sleep(Duration::from_secs_f64(chunk.len() as f64 / rate as f64));
            }
        }
        let _ = to.shutdown(Shutdown::Write);
        let _ = from.shutdown(Shutdown::Read);
    });
}
