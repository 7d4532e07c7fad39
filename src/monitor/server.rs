//! The HTTP side of the monitor: tiny_http on loopback, a fixed pool of handler threads, the
//! page and two JSON endpoints; anything else is a 404.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tiny_http::{Header, Method, Request, Response, Server};

use super::{list, list_runs, metrics_json};
use crate::{Error, Result};

const PAGE: &str = include_str!("page.html");

/// Where and how the monitor serves.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorOptions {
    /// Address to bind: loopback unless another is asked for (`--bind 0.0.0.0` shares the page
    /// with the network, which has no authentication: only on a trusted network).
    pub bind: String,
    /// Port (0 = any free port).
    pub port: u16,
    /// Handler threads (requests beyond these wait in the queue).
    pub threads: usize,
}

impl Default for MonitorOptions {
    fn default() -> Self {
        MonitorOptions {
            bind: "127.0.0.1".into(),
            port: 6007,
            threads: 8,
        }
    }
}

/// A running monitor; stops when dropped or on [`stop`](Self::stop).
pub struct Monitor {
    server: Arc<Server>,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor").field("addr", &self.addr).finish()
    }
}

fn header(k: &str, v: &str) -> Header {
    Header::from_bytes(k.as_bytes(), v.as_bytes()).expect("static header")
}

fn query(url: &str, key: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    q.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| v.to_string())
    })
}

fn respond(req: Request, roots: &[PathBuf]) {
    let url = req.url().to_string();
    let path = url.split('?').next().unwrap_or("");
    let json = |s: String| {
        Response::from_string(s)
            .with_header(header("Content-Type", "application/json"))
            .with_header(header("Cache-Control", "no-store"))
    };
    let r = match (req.method(), path) {
        (Method::Get, "/") | (Method::Get, "/index.html") => Response::from_string(PAGE)
            .with_header(header("Content-Type", "text/html; charset=utf-8")),
        (Method::Get, "/api/runs") => {
            json(serde_json::to_string(&list(roots)).expect("listing serialises"))
        }
        (Method::Get, "/api/metrics") => {
            let run = query(&url, "run").and_then(|v| v.parse::<usize>().ok());
            let from = query(&url, "from")
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            match run.and_then(|id| metrics_json(&list_runs(roots), id, from)) {
                Some(Ok(s)) => json(s),
                Some(Err(e)) => json(serde_json::json!({ "error": e.to_string() }).to_string())
                    .with_status_code(500),
                None => Response::from_string("no such run").with_status_code(404),
            }
        }
        (Method::Get, _) => Response::from_string("not found").with_status_code(404),
        _ => Response::from_string("method not allowed").with_status_code(405),
    };
    let _ = req.respond(r);
}

impl Monitor {
    /// Start serving `roots` (run folders, search folders, or folders of them).
    pub fn start(roots: &[PathBuf], o: &MonitorOptions) -> Result<Monitor> {
        for r in roots {
            if !r.is_dir() {
                return Err(Error::Input(format!("{} is not a folder", r.display())));
            }
        }
        let at = format!("{}:{}", o.bind, o.port);
        let server =
            Server::http(&at).map_err(|e| Error::Input(format!("cannot serve on {at}: {e}")))?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| Error::Input(format!("{at} is not an IP address")))?;
        let server = Arc::new(server);
        let stop = Arc::new(AtomicBool::new(false));
        let roots: Arc<Vec<PathBuf>> = Arc::new(roots.to_vec());
        let threads = (0..o.threads.max(1))
            .map(|_| {
                let (server, stop, roots) = (server.clone(), stop.clone(), roots.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        match server.recv_timeout(Duration::from_millis(200)) {
                            Ok(Some(req)) => respond(req, &roots),
                            Ok(None) => {}
                            Err(_) => std::thread::sleep(Duration::from_millis(10)),
                        }
                    }
                })
            })
            .collect();
        Ok(Monitor {
            server,
            addr,
            stop,
            threads,
        })
    }

    /// The address it serves on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serve until the process ends.
    pub fn wait(mut self) {
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }

    /// Stop serving and wait for the handler threads.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.server.unblock();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.shutdown();
    }
}
