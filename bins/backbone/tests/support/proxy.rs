//! A round-robin TCP proxy, as a load balancer in front of replicas: each new connection goes
//! to the next backend.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};

pub struct Proxy {
    pub address: SocketAddr,
    /// Connections handed to each backend, in the order of `backends`.
    pub connections: Arc<Vec<AtomicUsize>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(backends: Vec<SocketAddr>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("the proxy binds");
        let address = listener.local_addr().unwrap();
        let connections: Arc<Vec<AtomicUsize>> =
            Arc::new(backends.iter().map(|_| AtomicUsize::new(0)).collect());
        let counts = connections.clone();
        let next = AtomicUsize::new(0);
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let index = next.fetch_add(1, Ordering::Relaxed) % backends.len();
                counts[index].fetch_add(1, Ordering::Relaxed);
                let backend = backends[index];
                tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(backend).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Self {
            address,
            connections,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
