//! A TCP gate in front of a fake service on 127.0.0.1: open, it forwards
//! every connection; closed, it cuts the connections it carries and drops
//! new ones at once, as a service that went away would.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct Gate {
    /// The service's URL with the gate's address in place of its own.
    pub url: String,
    open: Arc<AtomicBool>,
    carried: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accepting: JoinHandle<()>,
}

impl Gate {
    /// A gate, open, before the service at `url` (`http://127.0.0.1:PORT/…`).
    pub async fn before(url: &str) -> Gate {
        let parsed = reqwest::Url::parse(url).unwrap();
        let target: SocketAddr =
            format!("{}:{}", parsed.host_str().unwrap(), parsed.port().unwrap())
                .parse()
                .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut gated = parsed.clone();
        gated.set_port(Some(port)).unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let carried: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accepting = tokio::spawn({
            let (open, carried) = (open.clone(), carried.clone());
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if !open.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let forward = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    let mut carried = carried.lock().unwrap();
                    carried.retain(|c| !c.is_finished());
                    carried.push(forward);
                }
            }
        });
        Gate {
            url: gated.to_string().trim_end_matches('/').to_string()
                + if url.ends_with('/') { "/" } else { "" },
            open,
            carried,
            accepting,
        }
    }

    /// The service is unreachable from now on.
    pub fn close(&self) {
        self.open.store(false, Ordering::SeqCst);
        for connection in self.carried.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    /// The service is back.
    pub fn open(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.accepting.abort();
        self.close();
    }
}
