//! `strata docs serve`: the target folder over HTTP (tiny_http), for a browser that will not
//! open `file://` pages or for a colleague on the same host. Only files under the folder are
//! served; nothing is written.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// The file a request path names under `root`, or None when it leaves the folder.
pub fn file_for(root: &Path, url: &str) -> Option<PathBuf> {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let path = percent_decode(path.trim_start_matches('/'))?;
    let mut out = root.to_path_buf();
    for part in Path::new(&path).components() {
        match part {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            _ => return None,
        }
    }
    if out.is_dir() {
        out.push("index.html");
    }
    Some(out)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("css") => "text/css",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

/// Serve `root` on `host:port` until the process is stopped. `ready` is told the address
/// once the socket listens.
pub fn serve(root: &Path, host: &str, port: u16, ready: impl FnOnce(&str)) -> Result<()> {
    let address = format!("{host}:{port}");
    let server = tiny_http::Server::http(&address)
        .map_err(|e| Error::Usage(format!("docs serve: cannot listen on {address}: {e}")))?;
    let bound = server
        .server_addr()
        .to_ip()
        .map(|a| a.to_string())
        .unwrap_or(address);
    ready(&bound);
    for request in server.incoming_requests() {
        let response = match file_for(root, request.url()).map(|p| (std::fs::read(&p), p)) {
            Some((Ok(bytes), path)) => {
                let header = tiny_http::Header::from_bytes("Content-Type", content_type(&path))
                    .map_err(|()| Error::Usage("docs serve: bad header".into()))?;
                tiny_http::Response::from_data(bytes).with_header(header)
            }
            _ => tiny_http::Response::from_data(b"not found".to_vec()).with_status_code(404),
        };
        // A client gone before its answer is its business, not the server's.
        let _ = request.respond(response);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_stay_inside_the_folder() {
        let root = Path::new("/srv/target");
        assert_eq!(
            file_for(root, "/docs/nodes/3.js?x=1"),
            Some(PathBuf::from("/srv/target/docs/nodes/3.js"))
        );
        assert_eq!(file_for(root, "/../secret"), None);
        assert_eq!(file_for(root, "/docs/%2e%2e/%2e%2e/etc/passwd"), None);
        assert_eq!(
            file_for(root, "/a%20b.js"),
            Some(PathBuf::from("/srv/target/a b.js"))
        );
    }
}
