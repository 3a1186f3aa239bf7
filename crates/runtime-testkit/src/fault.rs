//! A raw HTTP/1.1 server on 127.0.0.1 that plays a script per request: write bytes, sleep,
//! stall until the client hangs up, or cut the connection. It notices when a client closes
//! its side, so tests can prove a dropped stream really closed the upstream request.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// One step of a response script.
#[derive(Debug, Clone)]
pub enum Action {
    /// Write these bytes.
    Write(Vec<u8>),
    /// Write each byte of these bytes with a pause between.
    Drip(Vec<u8>, Duration),
    /// Wait.
    Sleep(Duration),
    /// Write nothing more and keep the connection open until the client closes it.
    Stall,
    /// Close the connection now.
    Close,
}

impl Action {
    /// A response head without `content-length` (the body ends when the connection closes).
    pub fn head(status: u16, content_type: &str) -> Action {
        Action::Write(
            format!(
                "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\nconnection: close\r\n\r\n"
            )
            .into_bytes(),
        )
    }

    /// Body bytes.
    pub fn body(s: impl AsRef<[u8]>) -> Action {
        Action::Write(s.as_ref().to_vec())
    }
}

#[derive(Default)]
struct State {
    hits: AtomicUsize,
    client_closed: AtomicUsize,
    requests: Mutex<Vec<String>>,
    closed: Notify,
}

/// The running server. It stops when dropped.
pub struct FaultServer {
    addr: std::net::SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultServer {
    /// Starts a server that plays `script` for every request.
    pub async fn start(script: Vec<Action>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(State::default());
        let st = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let st = st.clone();
                let script = script.clone();
                tokio::spawn(async move { serve(sock, script, st).await });
            }
        });
        Self { addr, state, task }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests received.
    pub fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }

    /// Raw request heads and bodies received.
    pub fn requests(&self) -> Vec<String> {
        self.state.requests.lock().clone()
    }

    /// How many clients closed their side while the script was stalled or running.
    pub fn client_closed(&self) -> usize {
        self.state.client_closed.load(Ordering::SeqCst)
    }

    /// Waits until `n` clients have closed their side, up to `timeout`.
    pub async fn wait_client_closed(&self, n: usize, timeout: Duration) -> bool {
        let fut = async {
            loop {
                let notified = self.state.closed.notified();
                if self.client_closed() >= n {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, fut).await.is_ok()
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_request(sock: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    loop {
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = sock.read(&mut tmp).await.ok()?;
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&tmp[..n]);
            }
            return Some(String::from_utf8_lossy(&buf).into_owned());
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

async fn serve(mut sock: TcpStream, script: Vec<Action>, st: Arc<State>) {
    let _ = sock.set_nodelay(true);
    let Some(req) = read_request(&mut sock).await else {
        return;
    };
    st.hits.fetch_add(1, Ordering::SeqCst);
    st.requests.lock().push(req);
    for action in script {
        let ok = match action {
            Action::Write(b) => sock.write_all(&b).await.is_ok() && sock.flush().await.is_ok(),
            Action::Drip(b, gap) => {
                let mut ok = true;
                for byte in b {
                    if sock.write_all(&[byte]).await.is_err() {
                        ok = false;
                        break;
                    }
                    tokio::time::sleep(gap).await;
                }
                ok
            }
            Action::Sleep(d) => {
                tokio::time::sleep(d).await;
                true
            }
            Action::Stall => {
                let mut tmp = [0u8; 1024];
                loop {
                    match sock.read(&mut tmp).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
                false
            }
            Action::Close => return,
        };
        if !ok {
            st.client_closed.fetch_add(1, Ordering::SeqCst);
            st.closed.notify_waiters();
            return;
        }
    }
}
