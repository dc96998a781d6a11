//! `--syslog tls://HOST:6514`: RFC 5425, syslog over TLS (octet-counted frames, as over
//! TCP) with rustls on the ring backend. The collector's certificate is checked against
//! the same trust sources as the capture's chains (`crate::trust`): Mozilla's roots, the
//! system bundle, and `--syslog-ca` files for a private PKI; its name must match HOST.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use crate::trust::{StoreOptions, TrustStore};

pub type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// What a connection to one collector needs: the client configuration and its name.
#[derive(Clone)]
pub struct TlsTarget {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

impl TlsTarget {
    /// `host` is the name the collector's certificate must carry (a DNS name or an IP).
    pub fn new(host: &str, ca_files: &[PathBuf]) -> io::Result<Self> {
        let store = TrustStore::load(&StoreOptions {
            no_system_roots: false,
            ca_files: ca_files.to_vec(),
        })
        .map_err(|e| io::Error::other(format!("--syslog-ca: {e}")))?;
        let roots = RootCertStore {
            roots: store.anchors().to_vec(),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| io::Error::other(format!("{host:?}: not a server name: {e}")))?;
        Ok(TlsTarget {
            config: Arc::new(config),
            name,
        })
    }

    /// Connect and complete the handshake (a certificate the trust store rejects fails
    /// here, with rustls's reason).
    pub fn connect(&self, addr: SocketAddr, timeout: Duration) -> io::Result<TlsStream> {
        let tcp = TcpStream::connect_timeout(&addr, timeout)?;
        tcp.set_write_timeout(Some(timeout))?;
        tcp.set_read_timeout(Some(timeout))?;
        tcp.set_nodelay(true)?;
        let conn = ClientConnection::new(Arc::clone(&self.config), self.name.clone())
            .map_err(io::Error::other)?;
        let mut stream = StreamOwned::new(conn, tcp);
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock)?;
        }
        stream.flush()?;
        Ok(stream)
    }
}
