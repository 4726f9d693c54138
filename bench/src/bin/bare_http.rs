//! The limit the gateway is measured against: a bare hyper server on the same runtime
//! setup (tokio, HTTP/1.1 keep-alive, the same thread count) answering every request
//! with a fixed JSON body, after reading the request body. No parsing, no signature,
//! no KMS. Usage: `bare-http ADDR THREADS`; prints the address it listens on.
#![allow(
    clippy::print_stdout,
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc
)]

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let threads: usize = args.next().and_then(|t| t.parse().ok()).unwrap_or(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        println!("bare-http: listening on http://{}", listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                    let _ = req.into_body().collect().await;
                    let body = Bytes::from_static(
                        br#"{"CiphertextBlob":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==","KeyId":"00000000-0000-0000-0000-000000000000","KeyVersionId":"00000000-0000-0000-0000-000000000000","RequestId":"00000000-0000-0000-0000-000000000000"}"#,
                    );
                    let mut r = Response::new(Full::new(body));
                    r.headers_mut().insert(
                        hyper::header::CONTENT_TYPE,
                        hyper::header::HeaderValue::from_static("application/json;charset=utf-8"),
                    );
                    Ok::<_, Infallible>(r)
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    })
}
