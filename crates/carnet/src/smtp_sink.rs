//! A small SMTP server on loopback that keeps what it receives: the test
//! suite and the email benchmark send to it over real TCP. It speaks what a
//! relay must (EHLO, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA with dot-unstuffing,
//! RSET, NOOP, QUIT) and can be told to refuse recipients (4xx or 5xx), to
//! require a login, or to drop the connection once a message's data is read
//! (the relay may or may not have it).

use base64::Engine;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A message as the sink received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

#[derive(Default)]
struct State {
    messages: Vec<Received>,
    /// A recipient containing the text gets this answer to RCPT.
    refusals: Vec<(String, u16, String)>,
    login: Option<(String, String)>,
    drop_after_data: bool,
    /// Keep only counts, not the messages (benchmarks).
    count_only: bool,
    received: usize,
}

#[derive(Clone)]
pub struct Sink {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl Sink {
    /// Listens on 127.0.0.1 on a free port.
    pub async fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let addr = listener.local_addr().expect("bound");
        let state = Arc::new(Mutex::new(State::default()));
        let s = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                tokio::spawn(session(stream, s.clone()));
            }
        });
        Sink { addr, state }
    }

    /// The relay URL Carnet is given to send here.
    pub fn url(&self) -> String {
        let login = self.state.lock().unwrap().login.clone();
        match login {
            Some((u, p)) => format!("smtp://{u}:{p}@{}?tls=none", self.addr),
            None => format!("smtp://{}?tls=none", self.addr),
        }
    }

    /// Refuses recipients containing `needle` with this answer (e.g. 550 or 451).
    pub fn refuse(&self, needle: &str, code: u16, text: &str) {
        self.state.lock().unwrap().refusals.push((needle.into(), code, text.into()));
    }

    /// Requires this login (AUTH PLAIN or LOGIN).
    pub fn require_login(&self, user: &str, password: &str) {
        self.state.lock().unwrap().login = Some((user.into(), password.into()));
    }

    /// Closes the connection after reading a message's data, without answering.
    pub fn drop_after_data(&self, on: bool) {
        self.state.lock().unwrap().drop_after_data = on;
    }

    /// Keeps counts only (a benchmark's thousands of messages).
    pub fn count_only(&self) {
        self.state.lock().unwrap().count_only = true;
    }

    pub fn messages(&self) -> Vec<Received> {
        self.state.lock().unwrap().messages.clone()
    }

    pub fn received(&self) -> usize {
        self.state.lock().unwrap().received
    }

    /// Waits until `n` messages arrived (or `secs` passed); returns them.
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Received> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while self.received() < n && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        self.messages()
    }
}

fn address(arg: &str) -> String {
    let a = arg.split_once(':').map_or(arg, |(_, r)| r).trim();
    let a = a.split_whitespace().next().unwrap_or("");
    a.trim_matches(['<', '>']).to_string()
}

async fn session(stream: tokio::net::TcpStream, state: Arc<Mutex<State>>) {
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    macro_rules! say {
        ($($t:tt)*) => {
            if w.write_all(format!($($t)*).as_bytes()).await.is_err() {
                return;
            }
        };
    }
    say!("220 sink.test ESMTP ready\r\n");
    let mut from = String::new();
    let mut to: Vec<String> = Vec::new();
    let mut authed = false;
    let mut line = String::new();
    loop {
        line.clear();
        match r.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        let needs_login = state.lock().unwrap().login.clone();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            let auth = if needs_login.is_some() { "250-AUTH PLAIN LOGIN\r\n" } else { "" };
            say!("250-sink.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n{auth}250 SIZE 10485760\r\n");
        } else if upper.starts_with("AUTH PLAIN") {
            let b64 = match cmd.split_whitespace().nth(2) {
                Some(b) => b.to_string(),
                None => {
                    say!("334 \r\n");
                    line.clear();
                    if r.read_line(&mut line).await.is_err() {
                        return;
                    }
                    line.trim().to_string()
                }
            };
            let raw = base64::engine::general_purpose::STANDARD.decode(b64).unwrap_or_default();
            let parts: Vec<String> = raw.split(|b| *b == 0).map(|p| String::from_utf8_lossy(p).to_string()).collect();
            let ok = needs_login.is_some_and(|(u, p)| parts.len() == 3 && parts[1] == u && parts[2] == p);
            authed = ok;
            if ok {
                say!("235 2.7.0 Authentication successful\r\n");
            } else {
                say!("535 5.7.8 Authentication credentials invalid\r\n");
            }
        } else if upper.starts_with("AUTH LOGIN") {
            let b64 = base64::engine::general_purpose::STANDARD;
            say!("334 VXNlcm5hbWU6\r\n");
            line.clear();
            if r.read_line(&mut line).await.is_err() {
                return;
            }
            let user = String::from_utf8_lossy(&b64.decode(line.trim()).unwrap_or_default()).to_string();
            say!("334 UGFzc3dvcmQ6\r\n");
            line.clear();
            if r.read_line(&mut line).await.is_err() {
                return;
            }
            let pass = String::from_utf8_lossy(&b64.decode(line.trim()).unwrap_or_default()).to_string();
            authed = needs_login.is_some_and(|(u, p)| u == user && p == pass);
            if authed {
                say!("235 2.7.0 Authentication successful\r\n");
            } else {
                say!("535 5.7.8 Authentication credentials invalid\r\n");
            }
        } else if upper.starts_with("MAIL FROM") {
            if needs_login.is_some() && !authed {
                say!("530 5.7.0 Authentication required\r\n");
                continue;
            }
            from = address(&cmd);
            to.clear();
            say!("250 2.1.0 OK\r\n");
        } else if upper.starts_with("RCPT TO") {
            let rcpt = address(&cmd);
            let refusal = state
                .lock()
                .unwrap()
                .refusals
                .iter()
                .find(|(n, _, _)| rcpt.contains(n.as_str()))
                .map(|(_, c, t)| (*c, t.clone()));
            match refusal {
                Some((code, text)) => say!("{code} {text}\r\n"),
                None => {
                    to.push(rcpt);
                    say!("250 2.1.5 OK\r\n");
                }
            }
        } else if upper == "DATA" {
            if to.is_empty() {
                say!("554 5.5.1 No valid recipients\r\n");
                continue;
            }
            say!("354 End data with <CR><LF>.<CR><LF>\r\n");
            let mut data = Vec::new();
            loop {
                let mut l = Vec::new();
                match r.read_until(b'\n', &mut l).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if l == b".\r\n" || l == b".\n" {
                    break;
                }
                let l = if l.starts_with(b"..") { &l[1..] } else { &l[..] };
                data.extend_from_slice(l);
            }
            let (drop_it, n) = {
                let mut st = state.lock().unwrap();
                st.received += 1;
                if !st.count_only {
                    st.messages.push(Received {
                        from: from.clone(),
                        to: std::mem::take(&mut to),
                        data,
                    });
                }
                (st.drop_after_data, st.received)
            };
            to.clear();
            if drop_it {
                return;
            }
            say!("250 2.0.0 OK queued as {n}\r\n");
        } else if upper == "RSET" {
            from.clear();
            to.clear();
            say!("250 2.0.0 OK\r\n");
        } else if upper == "NOOP" {
            say!("250 2.0.0 OK\r\n");
        } else if upper == "QUIT" {
            say!("221 2.0.0 Bye\r\n");
            return;
        } else {
            say!("502 5.5.2 Command not recognised\r\n");
        }
    }
}
