//! A RabbitMQ node of the test's own: started from the installed `rabbitmq-server` on free
//! ports with every file in a temporary directory, stopped by its PID. The machine's broker
//! (5672) is never touched.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, unique, TempDir};

/// The server script itself (Debian's `/usr/sbin/rabbitmq-server` wraps it to switch user).
const SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";

pub struct RabbitNode {
    pub port: u16,
    dist_port: u16,
    name: String,
    dir: TempDir,
    child: Option<Child>,
}

impl RabbitNode {
    /// Starts a node and waits until it accepts AMQP connections. Panics (the test fails) if
    /// RabbitMQ is not installed.
    pub async fn start() -> Self {
        assert!(
            Path::new(SERVER).exists(),
            "{SERVER} not found: install Debian's rabbitmq-server (the broker-outage test needs it)"
        );
        let mut node = Self {
            port: free_port(),
            dist_port: free_port(),
            name: format!("backbone-test-{}@localhost", unique()),
            dir: TempDir::new("rabbitmq"),
            child: None,
        };
        let dir = &node.dir.0;
        std::fs::write(
            dir.join("rabbitmq.conf"),
            format!("listeners.tcp.default = 127.0.0.1:{}\n", node.port),
        )
        .unwrap();
        std::fs::write(dir.join("enabled_plugins"), "[].\n").unwrap();
        std::fs::write(dir.join("rabbitmq-env.conf"), "").unwrap();
        node.boot().await;
        node
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    async fn boot(&mut self) {
        let dir = &self.dir.0;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("console.log"))
            .unwrap();
        let child = Command::new(SERVER)
            .env("HOME", dir)
            .env("RABBITMQ_NODENAME", &self.name)
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("RABBITMQ_CONFIG_FILE", dir.join("rabbitmq.conf"))
            .env("RABBITMQ_CONF_ENV_FILE", dir.join("rabbitmq-env.conf"))
            .env("RABBITMQ_ADVANCED_CONFIG_FILE", dir.join("advanced.config"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", dir.join("enabled_plugins"))
            .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", dir.join("log"))
            .env("RABBITMQ_PID_FILE", dir.join("pid"))
            .env("ERL_EPMD_ADDRESS", "127.0.0.1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("rabbitmq-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(90);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("rabbitmq-server exited with {status}:\n{}", self.console());
            }
            assert!(
                Instant::now() < deadline,
                "RabbitMQ did not start:\n{}",
                self.console()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn console(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("console.log")).unwrap_or_default()
    }

    /// Stops the node (SIGTERM to the server script, which stops the Erlang VM) and waits
    /// until it is gone and its port is closed.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_ok()
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts the same node again: same name, ports and data (durable queues survive).
    pub async fn restart(&mut self) {
        self.boot().await;
    }
}

impl Drop for RabbitNode {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while !matches!(child.try_wait(), Ok(Some(_))) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
