//! A fault-injecting HTTP/1.1 proxy in front of an emulator, for the faults that live below
//! a provider's answer and that an emulator built on a web framework cannot make: a
//! connection closed before the headers, a body cut short, trickled a byte at a time or
//! never finished, a wrong `Content-Type`, an oversized body, or the last page answered
//! again forever.
//!
//! Each request takes the next [`Wire`] of the proxy's script ([`Wire::Pass`] once the
//! script is used up). Requests are forwarded byte for byte (signed requests stay valid)
//! with `Connection: close`, and every answer closes its connection.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What the proxy does with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire {
    /// Forward the request and the answer untouched.
    Pass,
    /// Close the connection before any byte of the answer.
    CloseBeforeHeaders,
    /// Send the headers (with the full `Content-Length`) and half the body, then close.
    CutMidBody,
    /// Drop the body's second half and send a `Content-Length` that matches what is left:
    /// a complete answer whose JSON stops mid-value.
    Truncated,
    /// The answer with `Content-Type: text/html`.
    WrongContentType,
    /// The body followed by whitespace up to this many bytes: still valid JSON, too big.
    Oversized(usize),
    /// The answer after this delay.
    Slow(Duration),
    /// The headers, then the body one byte per interval (a slow-loris server).
    Trickle(Duration),
    /// The headers of a chunked body, the body as one chunk, and never the last chunk:
    /// the connection stays open until the client gives up.
    NeverEnds,
    /// From this request on, every request is answered with the last answer forwarded
    /// (a server that repeats its last page forever).
    RepeatLast,
}

impl Wire {
    /// Whether the client may see a failed attempt (one it should retry or fail on), given
    /// a request timeout of `timeout`. [`Wire::RepeatLast`] answers are answers.
    pub fn fails_attempt(&self, timeout: Duration) -> bool {
        match self {
            Wire::Pass | Wire::RepeatLast => false,
            Wire::Slow(delay) => *delay >= timeout,
            _ => true,
        }
    }
}

/// One answer as the upstream sent it, its body de-chunked.
#[derive(Debug, Clone)]
struct Answer {
    /// `HTTP/1.1 200 OK`.
    status_line: String,
    /// Header lines without framing headers (`Content-Length`, `Transfer-Encoding`,
    /// `Connection`).
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

#[derive(Debug, Default)]
struct ProxyState {
    script: VecDeque<Wire>,
    repeating: bool,
    last: Option<Answer>,
    bodies: Vec<Vec<u8>>,
    requests: u64,
    faulted: u64,
}

/// A running proxy; stops accepting when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
    accept: JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on `127.0.0.1` and forwards to `upstream` (`http://127.0.0.1:PORT`),
    /// applying `script` to the first requests.
    pub async fn start(upstream: &str, script: Vec<Wire>) -> std::io::Result<Self> {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(ProxyState {
            script: script.into(),
            ..ProxyState::default()
        }));
        let shared = state.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    serve(client, upstream, state).await.ok();
                });
            }
        });
        Ok(Self {
            addr,
            state,
            accept,
        })
    }

    /// `http://127.0.0.1:PORT`, the base URL to point a source at.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        lock(&self.state).requests
    }

    /// Every answer body forwarded so far, in order (seeds for fuzzing the decoders).
    pub fn bodies(&self) -> Vec<Vec<u8>> {
        lock(&self.state).bodies.clone()
    }

    /// Requests that got a fault other than [`Wire::Pass`] so far.
    pub fn faulted(&self) -> u64 {
        lock(&self.state).faulted
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

fn lock(state: &Mutex<ProxyState>) -> std::sync::MutexGuard<'_, ProxyState> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Serves one client connection: one request, one answer, close.
async fn serve(
    mut client: TcpStream,
    upstream: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
) -> std::io::Result<()> {
    let Some(request) = read_request(&mut client).await? else {
        return Ok(());
    };
    let (wire, repeat) = {
        let mut state = lock(&state);
        state.requests += 1;
        let wire = state.script.pop_front().unwrap_or(Wire::Pass);
        if wire != Wire::Pass {
            state.faulted += 1;
        }
        state.repeating |= wire == Wire::RepeatLast;
        let repeat = if state.repeating {
            state.last.clone()
        } else {
            None
        };
        (wire, repeat)
    };
    if wire == Wire::CloseBeforeHeaders {
        return Ok(());
    }
    let answer = match repeat {
        Some(answer) => answer,
        None => {
            let answer = forward(&request, upstream).await?;
            let mut state = lock(&state);
            state.bodies.push(answer.body.clone());
            state.last = Some(answer.clone());
            answer
        }
    };
    write_answer(&mut client, &answer, &wire).await
}

/// The request's head and body, `Connection: close` put in place of any connection header;
/// `None` when the client closed without a request.
async fn read_request(client: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            break end;
        }
        let mut chunk = [0u8; 4096];
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length = header_value(&head, "content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    while buf.len() < head_end + 4 + length {
        let mut chunk = [0u8; 4096];
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let mut out: Vec<u8> = head
        .split("\r\n")
        .filter(|line| !line.to_ascii_lowercase().starts_with("connection:"))
        .flat_map(|line| [line.as_bytes(), b"\r\n"].concat())
        .collect();
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(&buf[head_end + 4..]);
    Ok(Some(out))
}

/// Sends `request` upstream and reads the whole answer (the upstream closes after it).
async fn forward(request: &[u8], upstream: SocketAddr) -> std::io::Result<Answer> {
    let mut conn = TcpStream::connect(upstream).await?;
    conn.write_all(request).await?;
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).await?;
    parse_answer(&raw)
}

fn parse_answer(raw: &[u8]) -> std::io::Result<Answer> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let head_end = find(raw, b"\r\n\r\n").ok_or_else(|| bad("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default().to_owned();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .filter(|(k, _)| {
            !matches!(
                k.to_ascii_lowercase().as_str(),
                "content-length" | "transfer-encoding" | "connection"
            )
        })
        .collect();
    let rest = &raw[head_end + 4..];
    let body = if header_value(&head, "transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        dechunk(rest).ok_or_else(|| bad("a chunked body cut short"))?
    } else {
        rest.to_vec()
    };
    Ok(Answer {
        status_line,
        headers,
        body,
    })
}

/// The body of a complete chunked encoding; `None` when it stops before the last chunk.
fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = find(rest, b"\r\n")?;
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

/// Writes `answer` to the client as `wire` says.
async fn write_answer(client: &mut TcpStream, answer: &Answer, wire: &Wire) -> std::io::Result<()> {
    let mut body = answer.body.clone();
    match wire {
        Wire::Truncated => body.truncate(body.len() / 2),
        Wire::Oversized(bytes) => body.resize((*bytes).max(body.len()), b' '),
        Wire::Slow(delay) => tokio::time::sleep(*delay).await,
        _ => {}
    }
    let mut head = format!("{}\r\n", answer.status_line);
    for (name, value) in &answer.headers {
        if *wire == Wire::WrongContentType && name.eq_ignore_ascii_case("content-type") {
            head.push_str("Content-Type: text/html; charset=utf-8\r\n");
        } else {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    if *wire == Wire::NeverEnds {
        head.push_str("Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
        client.write_all(head.as_bytes()).await?;
        client
            .write_all(format!("{:x}\r\n", body.len()).as_bytes())
            .await?;
        client.write_all(&body).await?;
        client.write_all(b"\r\n").await?;
        // Never the last chunk: wait until the client closes.
        let mut sink = [0u8; 64];
        while client.read(&mut sink).await? > 0 {}
        return Ok(());
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    client.write_all(head.as_bytes()).await?;
    match wire {
        Wire::CutMidBody => {
            client.write_all(&body[..body.len() / 2]).await?;
        }
        Wire::Trickle(interval) => {
            for byte in &body {
                client.write_all(std::slice::from_ref(byte)).await?;
                tokio::time::sleep(*interval).await;
            }
        }
        _ => client.write_all(&body).await?,
    }
    client.shutdown().await
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The value of header `name` (lower case) in a raw head.
fn header_value<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunked_body_is_joined_and_a_cut_one_is_refused() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"),
            Some(b"abcde".to_vec())
        );
        assert_eq!(dechunk(b"3\r\nabc\r\n2\r\nd"), None);
    }

    #[test]
    fn framing_headers_are_dropped_from_a_parsed_answer() {
        let raw = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\n{}";
        let answer = parse_answer(raw).expect("an answer");
        assert_eq!(answer.status_line, "HTTP/1.1 200 OK");
        assert_eq!(
            answer.headers,
            vec![("content-type".to_owned(), "application/json".to_owned())]
        );
        assert_eq!(answer.body, b"{}");
    }
}
