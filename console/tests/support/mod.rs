//! A plain HTTP/1.1 client on a `TcpStream` for the console's tests: requests with the
//! exact bytes a test wants (hostile ones too), answers parsed just enough, and event
//! streams read event by event. Every read has a timeout.

#![allow(dead_code)] // each test binary uses a part

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

pub(crate) mod procfs;

/// How long any read may wait.
pub(crate) const BOUND: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Answer {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

pub(crate) fn connect(address: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&address, BOUND).expect("connect");
    stream.set_read_timeout(Some(BOUND)).unwrap();
    stream.set_write_timeout(Some(BOUND)).unwrap();
    stream
}

/// Sends `head` (and nothing else) on a new connection, and reads the answer.
pub(crate) fn raw(address: SocketAddr, head: &str) -> Answer {
    let mut stream = connect(address);
    stream.write_all(head.as_bytes()).expect("send");
    read_answer(&mut BufReader::new(stream))
}

/// `method path` with `Host: <address>` and the extra header lines.
pub(crate) fn request(address: SocketAddr, method: &str, path: &str, extra: &[&str]) -> Answer {
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\n");
    for line in extra {
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    raw(address, &head)
}

pub(crate) fn get(address: SocketAddr, path: &str) -> Answer {
    request(address, "GET", path, &[])
}

pub(crate) fn read_head(reader: &mut impl BufRead) -> (u16, Vec<(String, String)>) {
    let mut line = String::new();
    reader.read_line(&mut line).expect("a status line");
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {line:?}"));
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).expect("a header line");
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    (status, headers)
}

pub(crate) fn read_answer(reader: &mut impl BufRead) -> Answer {
    let (status, headers) = read_head(reader);
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let mut body = Vec::new();
    match length {
        Some(length) => {
            body.resize(length, 0);
            reader.read_exact(&mut body).expect("the body");
        }
        None => {
            let _ = reader.read_to_end(&mut body);
        }
    }
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// An event stream being read: its events one by one.
pub(crate) struct Stream {
    pub(crate) reader: BufReader<TcpStream>,
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
}

/// One server-sent event (or a comment block).
#[derive(Debug, Default)]
pub(crate) struct Event {
    pub(crate) id: Option<u64>,
    pub(crate) data: String,
    pub(crate) comments: Vec<String>,
}

impl Event {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("{e}: {}", self.data))
    }
}

pub(crate) fn events(address: SocketAddr, extra: &[&str]) -> Stream {
    let mut stream = connect(address);
    let mut head =
        format!("GET /threads/events HTTP/1.1\r\nhost: {address}\r\naccept: text/event-stream\r\n");
    for line in extra {
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("send");
    let mut reader = BufReader::new(stream);
    let (status, headers) = read_head(&mut reader);
    Stream {
        reader,
        status,
        headers,
    }
}

impl Stream {
    /// The next block of the stream (chunked framing undone), `None` at its end.
    pub(crate) fn next(&mut self) -> Option<Event> {
        let mut event = Event::default();
        let mut text = String::new();
        // Chunks: size line, data, CRLF. Blocks end with an empty line.
        loop {
            let mut size = String::new();
            if self.reader.read_line(&mut size).ok()? == 0 {
                return None;
            }
            let size = usize::from_str_radix(size.trim(), 16).ok()?;
            if size == 0 {
                return None;
            }
            let mut chunk = vec![0; size + 2];
            self.reader.read_exact(&mut chunk).ok()?;
            text.push_str(&String::from_utf8_lossy(&chunk[..size]));
            if text.ends_with("\n\n") {
                break;
            }
        }
        for line in text.lines() {
            if let Some(comment) = line.strip_prefix(':') {
                event.comments.push(comment.trim().to_owned());
            } else if let Some(id) = line.strip_prefix("id: ") {
                event.id = id.parse().ok();
            } else if let Some(data) = line.strip_prefix("data: ") {
                event.data.push_str(data);
            }
        }
        Some(event)
    }

    /// The next event whose record satisfies `until`, within `BOUND`.
    pub(crate) fn until(
        &mut self,
        until: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let start = Instant::now();
        loop {
            assert!(start.elapsed() < BOUND, "no such update within {BOUND:?}");
            let event = self.next().expect("the stream ended");
            if event.data.is_empty() {
                continue;
            }
            let json = event.json();
            if until(&json) {
                return json;
            }
        }
    }
}

/// The record of the thread named `name` in `snapshot`.
pub(crate) fn thread<'a>(
    snapshot: &'a serde_json::Value,
    name: &str,
) -> Option<&'a serde_json::Value> {
    snapshot["threads"]
        .as_array()?
        .iter()
        .find(|t| t["name"] == name)
}

/// Reads `get` until `until` holds of it, within `BOUND`.
pub(crate) fn eventually<T>(get: impl Fn() -> T, until: impl Fn(&T) -> bool) -> T {
    let start = Instant::now();
    loop {
        let value = get();
        if until(&value) {
            return value;
        }
        assert!(start.elapsed() < BOUND, "never held within {BOUND:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A console of `registry` on a free loopback port, updating every 20 ms.
pub(crate) fn console(registry: &threadward::Registry) -> threadward_console::Running {
    threadward_console::Console::bind("127.0.0.1:0")
        .registry(registry)
        .interval(Duration::from_millis(20))
        .spawn()
        .expect("the console starts")
}

/// Stops `console` and waits for it (bounded).
pub(crate) fn stop(console: &threadward_console::Running) {
    console.handle().stop();
    console
        .handle()
        .join_timeout(BOUND)
        .expect("the console stops");
}
