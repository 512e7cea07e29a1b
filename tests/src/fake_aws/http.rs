//! A small HTTP/1.1 server: keep-alive connections, one request at a time
//! each, bodies by Content-Length (what the AWS SDK sends for JSON requests).

use std::future::Future;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct Request {
    pub method: String,
    pub path: String,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, content_type: &str, body: &serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("content-type", content_type.to_owned())],
            body: body.to_string().into_bytes(),
        }
    }
}

/// Serves every connection of `listener` with `handle`.
pub async fn serve<H, F>(listener: TcpListener, handle: Arc<H>)
where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Response> + Send,
{
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let handle = handle.clone();
        tokio::spawn(async move {
            if let Err(e) = connection(stream, handle.as_ref()).await {
                eprintln!("fake_aws: connection closed: {e}");
            }
        });
    }
}

async fn connection<H, F>(mut stream: TcpStream, handle: &H) -> std::io::Result<()>
where
    H: Fn(Request) -> F,
    F: Future<Output = Response>,
{
    let mut buf = Vec::with_capacity(8192);
    loop {
        let (request, used) = loop {
            if let Some(parsed) = parse(&buf)? {
                break parsed;
            }
            let mut chunk = [0u8; 8192];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let (mut request, length) = (request, used.1);
        let head = used.0;
        while buf.len() < head + length {
            let mut chunk = [0u8; 8192];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        request.body = buf[head..head + length].to_vec();
        buf.drain(..head + length);
        let response = handle(request).await;
        let mut out = format!(
            "HTTP/1.1 {} {}\r\ncontent-length: {}\r\n",
            response.status,
            reason(response.status),
            response.body.len()
        );
        for (name, value) in &response.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&response.body);
        stream.write_all(&bytes).await?;
    }
}

/// The request's head, once complete: the request, and (head length, body length).
#[allow(clippy::type_complexity)]
fn parse(buf: &[u8]) -> std::io::Result<Option<(Request, (usize, usize))>> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    let head = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
    };
    let headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v != "identity")
    {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "chunked request bodies are not supported",
        ));
    }
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    Ok(Some((
        Request {
            method: req.method.unwrap_or("GET").to_owned(),
            path: req.path.unwrap_or("/").to_owned(),
            headers,
            body: Vec::new(),
        },
        (head, length),
    )))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Error",
    }
}
