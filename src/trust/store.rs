//! The trust anchors a validating client would hold: Mozilla's roots (built in, from
//! webpki-roots, so a run gives the same verdicts on every machine), the system store when
//! one is present, and the PEM bundles given with `--ca-file`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, TrustAnchor};
use x509_parser::prelude::{FromDer, X509Name};

use super::TrustError;
use crate::tls::cert::name_to_string;

/// Where Linux and BSD distributions keep their bundle of trusted roots (the list Go's
/// crypto/x509 reads); the first one present is used.
pub const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// What the trust store is made of: the CLI's options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreOptions {
    /// Leave out the system bundle (Mozilla's roots and `ca_files` only).
    pub no_system_roots: bool,
    /// PEM bundles of extra trusted roots (a private PKI).
    pub ca_files: Vec<PathBuf>,
}

/// A set of trust anchors and the names of the stores they came from.
#[derive(Debug)]
pub struct TrustStore {
    pub(super) anchors: Vec<TrustAnchor<'static>>,
    /// Subjects of every anchor as text, to tell a missing intermediate from a missing root.
    pub(super) subjects: HashSet<String>,
    sources: Vec<String>,
    /// The DER of the --ca-file certificates: the issuer a stapled OCSP response is checked
    /// against when the server does not send it (webpki's anchors keep no certificate).
    pub(super) ca_file_ders: Vec<Vec<u8>>,
}

impl TrustStore {
    /// Mozilla's roots only: what tests and library callers get by default, independent of
    /// the machine.
    pub fn mozilla() -> TrustStore {
        let mut store = TrustStore {
            anchors: Vec::new(),
            subjects: HashSet::new(),
            sources: vec!["mozilla".to_string()],
            ca_file_ders: Vec::new(),
        };
        for a in webpki_roots::TLS_SERVER_ROOTS {
            store.add(a.clone());
        }
        store
    }

    /// The store the options describe. A `--ca-file` that cannot be read or holds no
    /// certificate is an error (a typo must not silently leave the private root out); an
    /// unreadable system bundle is skipped, as a client would.
    pub fn load(opts: &StoreOptions) -> Result<TrustStore, TrustError> {
        let mut store = TrustStore::mozilla();
        if !opts.no_system_roots {
            if let Some(path) = SYSTEM_BUNDLES.iter().map(Path::new).find(|p| p.is_file()) {
                if let Ok(n) = store.add_pem_file(path) {
                    if n > 0 {
                        store.sources.push(format!("system:{}", path.display()));
                    }
                }
            }
        }
        // Only the private roots are kept as certificates: searching the whole system
        // bundle for a staple's issuer would parse a hundred certificates per flow.
        store.ca_file_ders.clear();
        for path in &opts.ca_files {
            let n = store.add_pem_file(path)?;
            if n == 0 {
                return Err(TrustError::NoCertificate(path.clone()));
            }
            store.sources.push(format!("ca-file:{}", path.display()));
        }
        Ok(store)
    }

    /// Adds every certificate of a PEM bundle as an anchor; returns how many.
    pub fn add_pem_file(&mut self, path: &Path) -> Result<usize, TrustError> {
        let bytes = std::fs::read(path).map_err(|e| TrustError::Read(path.to_path_buf(), e))?;
        self.add_pem(&bytes)
            .map_err(|e| TrustError::Pem(path.to_path_buf(), e))
    }

    /// Adds every certificate of PEM text as an anchor; returns how many. A certificate that
    /// webpki cannot take as an anchor is an error, not skipped.
    pub fn add_pem(&mut self, pem: &[u8]) -> Result<usize, String> {
        let mut n = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| e.to_string())?;
            let anchor = webpki::anchor_from_trusted_cert(&cert)
                .map_err(|e| format!("certificate {}: {e}", n + 1))?
                .to_owned();
            self.add(anchor);
            self.ca_file_ders.push(cert.to_vec());
            n += 1;
        }
        Ok(n)
    }

    fn add(&mut self, anchor: TrustAnchor<'static>) {
        if let Some(name) = anchor_subject(&anchor) {
            self.subjects.insert(name);
        }
        self.anchors.push(anchor);
    }

    /// The stores in use, e.g. `["mozilla", "system:/etc/ssl/certs/ca-certificates.crt"]`.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    /// The anchors, for a TLS client of our own (`--syslog tls://`).
    pub fn anchors(&self) -> &[TrustAnchor<'static>] {
        &self.anchors
    }

    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// The --ca-file certificates, DER.
    pub fn ca_file_certs(&self) -> impl Iterator<Item = &[u8]> {
        self.ca_file_ders.iter().map(|d| d.as_slice())
    }

    /// An anchor with this subject (as text) is in the store.
    pub fn has_subject(&self, subject: &str) -> bool {
        self.subjects.contains(subject)
    }
}

/// An anchor's subject as the same text as a certificate's: webpki keeps the contents of
/// the Name SEQUENCE, so the header is put back before x509-parser reads it.
pub(super) fn anchor_subject(anchor: &TrustAnchor<'_>) -> Option<String> {
    let contents: &[u8] = anchor.subject.as_ref();
    let mut der = vec![0x30];
    let len = contents.len();
    if len < 0x80 {
        der.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        der.push(0x80 | (bytes.len() - skip) as u8);
        der.extend_from_slice(&bytes[skip..]);
    }
    der.extend_from_slice(contents);
    let (_, name) = X509Name::from_der(&der).ok()?;
    Some(name_to_string(&name))
}
