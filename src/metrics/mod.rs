//! The Prometheus endpoint (`--metrics ADDR`): `GET /metrics` answers the text exposition
//! format with the pipeline's counters and source states, `GET /healthz` answers 200 while the
//! pipeline runs and its storage works (503 with the reason otherwise) for a container's
//! health check. It runs on the pipeline's runtime and reads only shared counters: a scrape
//! never waits on the engine, the database or a source.

pub mod figures;
pub mod http;
pub mod probe;
pub mod text;

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};

pub use figures::{Figures, Readiness};

/// The port the README and the compose file use.
pub const DEFAULT_PORT: u16 = 9464;

/// Why the endpoint could not listen.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error(
        "--metrics {0:?}: give HOST:PORT, e.g. 127.0.0.1:{DEFAULT_PORT} (0.0.0.0:{DEFAULT_PORT} to serve every interface)"
    )]
    BadAddress(String),
    #[error(
        "cannot listen for metrics on {addr}: {source}; choose a free port or another address (--metrics HOST:PORT)"
    )]
    Listen {
        addr: String,
        source: std::io::Error,
    },
}

/// Binds the endpoint's socket, before anything starts, so that a taken port or a wrong
/// address stops the command with a message that names it.
pub fn bind(addr: &str) -> Result<TcpListener, BindError> {
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|_| BindError::BadAddress(addr.to_string()))?
        .collect();
    if addrs.is_empty() {
        return Err(BindError::BadAddress(addr.to_string()));
    }
    let listener = TcpListener::bind(&addrs[..]).map_err(|source| BindError::Listen {
        addr: addr.to_string(),
        source,
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| BindError::Listen {
            addr: addr.to_string(),
            source,
        })?;
    Ok(listener)
}

/// Serves `figures` on `listener` from a task of `rt`; returns the address it answers on.
pub fn spawn(
    rt: &tokio::runtime::Runtime,
    listener: TcpListener,
    figures: Figures,
) -> std::io::Result<SocketAddr> {
    let addr = listener.local_addr()?;
    let listener = {
        let _in_runtime = rt.enter();
        tokio::net::TcpListener::from_std(listener)?
    };
    rt.spawn(http::serve(listener, figures));
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_errors_name_the_address() {
        let e = bind("nonsense").unwrap_err().to_string();
        assert!(e.contains("\"nonsense\"") && e.contains("HOST:PORT"), "{e}");
        let taken = bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let addr = taken
            .local_addr()
            .unwrap_or_else(|e| panic!("{e}"))
            .to_string();
        let e = bind(&addr).unwrap_err().to_string();
        assert!(e.contains(&addr) && e.contains("free port"), "{e}");
    }
}
