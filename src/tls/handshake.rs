//! Handshake layer: reassembly of handshake messages across records, dispatch of each
//! complete message, the Zeek history letters, and the facts taken from the server's
//! Certificate and ServerKeyExchange.

use std::mem;

use tls_parser::{ECParametersContent, TlsCipherKx, TlsCipherSuite, TlsMessageHandshake};

use super::conn::{
    HandshakeStage, HandshakeType, Mode, StapledOcsp, TlsConn, TlsEventKind, HRR_RANDOM, MAX_CERTS,
    MAX_CERT_LEN, MAX_HANDSHAKE_LEN, MAX_STAPLE_LEN,
};
use super::hello::{
    draft_hello_retry_request, nom_reason, nss_draft_version, parse_client_hello,
    parse_server_hello,
};
use super::names::{self, is_tls13};
use super::wire::{be24, ct, ext, hs};
use crate::model::{Dir, FrameNo, TimestampUs};
use crate::tls::types::ServerHello;

pub(super) fn too_long_reason(typ: u8, len: usize) -> String {
    format!(
        "handshake message {} claims {len} bytes, more than the {MAX_HANDSHAKE_LEN} accepted",
        names::handshake_type_name(typ)
    )
}

pub(super) fn history_letter(msg_type: u8) -> char {
    match msg_type {
        hs::HELLO_REQUEST => 'H',
        hs::CLIENT_HELLO => 'C',
        hs::SERVER_HELLO => 'S',
        hs::HELLO_VERIFY_REQUEST => 'V',
        hs::NEW_SESSION_TICKET => 'T',
        hs::END_OF_EARLY_DATA => 'E',
        hs::HELLO_RETRY_REQUEST => 'J',
        hs::ENCRYPTED_EXTENSIONS => 'O',
        hs::CERTIFICATE => 'X',
        hs::SERVER_KEY_EXCHANGE => 'K',
        hs::CERTIFICATE_REQUEST => 'R',
        hs::SERVER_HELLO_DONE => 'N',
        hs::CERTIFICATE_VERIFY => 'Y',
        hs::CLIENT_KEY_EXCHANGE => 'G',
        hs::FINISHED => 'F',
        hs::CERTIFICATE_URL => 'W',
        hs::CERTIFICATE_STATUS => 'U',
        hs::SUPPLEMENTAL_DATA => 'A',
        hs::KEY_UPDATE => 'P',
        hs::MESSAGE_HASH => 'M',
        _ => 'Z',
    }
}

/// Could `body` start a plaintext handshake message: a known type and a length we accept?
pub(super) fn plausible_handshake_header(body: &[u8]) -> bool {
    match (body.first(), be24(body, 1)) {
        (Some(&t), Some(len)) => {
            names::handshake_type_name(t) != "unknown" && len + 4 <= MAX_HANDSHAKE_LEN
        }
        // Too short to tell: a fragment of a message split across records.
        _ => true,
    }
}

impl TlsConn {
    /// A record of another content type cuts off a handshake message still incomplete.
    pub(super) fn pending_handshake_check(
        &mut self,
        dir: Dir,
        content_type: u8,
        frame: FrameNo,
        ts_us: TimestampUs,
    ) {
        let i = dir.index();
        if content_type != ct::HANDSHAKE && !self.dirs[i].hs_buf.is_empty() {
            let pending = mem::take(&mut self.dirs[i].hs_buf);
            let claimed = be24(&pending, 1).map_or(0, |n| n + 4);
            self.malformed(
                dir,
                frame,
                ts_us,
                format!(
                    "handshake message {} is incomplete ({} of {} bytes) when a record of content type {} arrives",
                    names::handshake_type_name(pending[0]),
                    pending.len(),
                    claimed,
                    content_type
                ),
            );
        }
    }

    /// Reassemble handshake messages. Each byte is copied at most once: whole messages
    /// are parsed in place from the record, and a message split across records is
    /// gathered in an append-only buffer that takes only the bytes it still lacks and
    /// is parsed once, when its 4-byte header says it is complete. Re-joining the
    /// pending bytes with every record made a stream of tiny records quadratic.
    pub(super) fn handshake_bytes(
        &mut self,
        dir: Dir,
        mut body: &[u8],
        record_version: u16,
        frame: FrameNo,
        ts_us: TimestampUs,
    ) {
        let i = dir.index();
        if !self.dirs[i].hs_buf.is_empty() {
            let d = &mut self.dirs[i];
            let take = 4usize.saturating_sub(d.hs_buf.len()).min(body.len());
            d.hs_buf.extend_from_slice(&body[..take]);
            body = &body[take..];
            let Some(len) = be24(&d.hs_buf, 1) else {
                return;
            };
            if len > MAX_HANDSHAKE_LEN {
                let reason = too_long_reason(d.hs_buf[0], len);
                self.stop(dir, frame, ts_us, reason);
                return;
            }
            let take = (4 + len).saturating_sub(d.hs_buf.len()).min(body.len());
            d.hs_buf.extend_from_slice(&body[..take]);
            body = &body[take..];
            if d.hs_buf.len() < 4 + len {
                return;
            }
            // Not kept for the next message: it may be as large as MAX_HANDSHAKE_LEN.
            let msg = mem::take(&mut d.hs_buf);
            let msg_version = d.hs_record_version;
            self.handshake_message(dir, msg[0], &msg[4..], msg_version, frame, ts_us);
            if self.dirs[i].mode != Mode::Records {
                return;
            }
        }
        while let Some(len) = be24(body, 1) {
            if len > MAX_HANDSHAKE_LEN {
                let reason = too_long_reason(body[0], len);
                self.stop(dir, frame, ts_us, reason);
                return;
            }
            let Some(msg) = body.get(..4 + len) else {
                break;
            };
            body = &body[4 + len..];
            self.handshake_message(dir, msg[0], &msg[4..], record_version, frame, ts_us);
            if self.dirs[i].mode != Mode::Records {
                return;
            }
        }
        if !body.is_empty() {
            let d = &mut self.dirs[i];
            d.hs_buf.extend_from_slice(body);
            d.hs_record_version = record_version;
        }
    }

    pub(super) fn handshake_message(
        &mut self,
        dir: Dir,
        typ: u8,
        body: &[u8],
        record_version: u16,
        frame: FrameNo,
        ts_us: TimestampUs,
    ) {
        let is_hrr = typ == hs::HELLO_RETRY_REQUEST
            || (typ == hs::SERVER_HELLO && body.get(2..34) == Some(&HRR_RANDOM[..]));
        let shown = if is_hrr { hs::HELLO_RETRY_REQUEST } else { typ };
        self.push_history(dir, history_letter(shown));
        self.push_event(
            dir,
            frame,
            ts_us,
            TlsEventKind::Handshake(HandshakeType(shown)),
        );
        let server = dir == Dir::ToClient;
        match typ {
            hs::CLIENT_HELLO => {
                self.set_stage(HandshakeStage::ClientHello);
                self.client_hello_count = self.client_hello_count.saturating_add(1);
                let (ch, errs) = parse_client_hello(body, record_version);
                for e in errs {
                    self.malformed(dir, frame, ts_us, e);
                }
                if self.client_hello.is_none() {
                    // Parsed again only when the extension is there (NSS's TLS 1.3 drafts).
                    self.nss_draft = ch
                        .as_ref()
                        .filter(|c| c.extensions.contains(&ext::NSS_DRAFT_VERSION))
                        .and_then(|_| nss_draft_version(body));
                    self.client_hello = ch;
                }
            }
            hs::SERVER_HELLO | hs::HELLO_RETRY_REQUEST => {
                let (sh, errs) = if typ == hs::HELLO_RETRY_REQUEST {
                    draft_hello_retry_request(body)
                } else {
                    parse_server_hello(body)
                };
                for e in errs {
                    self.malformed(dir, frame, ts_us, e);
                }
                if is_hrr {
                    self.set_stage(HandshakeStage::HelloRetryRequest);
                    if self.hello_retry_request.is_none() {
                        self.hello_retry_request = sh;
                    }
                } else {
                    self.set_stage(HandshakeStage::ServerHello);
                    if let Some(sh) = sh {
                        self.server_hello_parsed(sh);
                    }
                }
            }
            hs::ENCRYPTED_EXTENSIONS => self.set_stage(HandshakeStage::EncryptedExtensions),
            hs::CERTIFICATE
            | hs::SERVER_KEY_EXCHANGE
            | hs::SERVER_HELLO_DONE
            | hs::CLIENT_KEY_EXCHANGE => {
                self.dirs[dir.index()].full_handshake = true;
            }
            _ => {}
        }
        match typ {
            hs::CERTIFICATE => {
                self.set_stage(if server {
                    HandshakeStage::Certificate
                } else {
                    HandshakeStage::ClientCertificate
                });
                self.certificate(dir, body, frame, ts_us);
            }
            hs::SERVER_KEY_EXCHANGE => {
                self.set_stage(HandshakeStage::ServerKeyExchange);
                self.server_key_exchange(body);
            }
            hs::CERTIFICATE_REQUEST => self.set_stage(HandshakeStage::CertificateRequest),
            hs::SERVER_HELLO_DONE => self.set_stage(HandshakeStage::ServerHelloDone),
            hs::CERTIFICATE_VERIFY => self.set_stage(HandshakeStage::CertificateVerify),
            hs::CLIENT_KEY_EXCHANGE => self.set_stage(HandshakeStage::ClientKeyExchange),
            hs::FINISHED => self.set_stage(HandshakeStage::Finished),
            hs::CERTIFICATE_STATUS if server => self.keep_staple(body, frame, ts_us),
            _ => {}
        }
        self.decrypted_handshake_message(typ);
    }

    pub(super) fn server_hello_parsed(&mut self, mut sh: ServerHello) {
        if self.server_hello.is_some() {
            return;
        }
        // Early TLS 1.3 drafts (before draft-16's 0x7f10) put 0x0304 in the ServerHello and
        // told the draft number only in the client's 0xff02 extension: what was negotiated is
        // that draft, not TLS 1.3 (Zeek logs "TLSv13-draft14", Suricata "TLS 1.3 draft-<16").
        if sh.version == 0x0304 && sh.selected_version.is_none() {
            if let Some(draft) = self.nss_draft {
                sh.selected_version = Some(0x7f00 | u16::from(draft));
            }
        }
        if is_tls13(sh.negotiated_version()) {
            self.resumed |= sh.extensions.contains(&ext::PRE_SHARED_KEY);
        } else if !sh.session_id.is_empty()
            && self
                .client_hello
                .as_ref()
                .is_some_and(|c| c.session_id == sh.session_id)
        {
            self.resumed = true;
        }
        self.server_hello = Some(sh);
    }

    pub(super) fn certificate(
        &mut self,
        dir: Dir,
        body: &[u8],
        frame: FrameNo,
        ts_us: TimestampUs,
    ) {
        if self.tls13_negotiated() {
            // Only ever seen decrypted, and laid out differently.
            self.tls13_certificate(dir, body, frame, ts_us);
            return;
        }
        let chain = match tls_parser::parse_tls_handshake_msg_certificate(body) {
            Ok((rest, TlsMessageHandshake::Certificate(c))) => {
                let list_len = be24(body, 0).unwrap_or(0);
                let framed: usize = c.cert_chain.iter().map(|c| 3 + c.data.len()).sum();
                if framed != list_len {
                    self.malformed(
                        dir,
                        frame,
                        ts_us,
                        format!(
                            "Certificate entry lengths do not add up: the list is {list_len} bytes, entries account for {framed}"
                        ),
                    );
                }
                if !rest.is_empty() {
                    self.malformed(
                        dir,
                        frame,
                        ts_us,
                        format!("Certificate message has {} trailing bytes", rest.len()),
                    );
                }
                c.cert_chain
            }
            Ok(_) => Vec::new(),
            Err(e) => {
                let reason = format!("Certificate does not parse: {}", nom_reason(&e));
                self.malformed(dir, frame, ts_us, reason);
                Vec::new()
            }
        };
        let target = match dir {
            Dir::ToClient => &mut self.server_cert_der,
            Dir::ToServer => &mut self.client_cert_der,
        };
        if !target.is_empty() {
            return;
        }
        for c in chain
            .iter()
            .take(MAX_CERTS)
            .take_while(|c| c.data.len() <= MAX_CERT_LEN)
        {
            target.push(c.data.to_vec());
        }
    }

    /// A CertificateStatus body (RFC 6066 8; also a TLS 1.3 CertificateEntry's
    /// status_request extension): status_type ocsp (1), then the 24-bit-framed DER
    /// OCSPResponse. The first one is kept.
    pub(super) fn keep_staple(&mut self, body: &[u8], frame: FrameNo, ts_us: TimestampUs) {
        const STATUS_TYPE_OCSP: u8 = 1;
        if self.ocsp_staple.is_some() || body.first() != Some(&STATUS_TYPE_OCSP) {
            return;
        }
        let Some(der) = be24(body, 1).and_then(|n| body.get(4..4 + n)) else {
            self.malformed(
                Dir::ToClient,
                frame,
                ts_us,
                "CertificateStatus is shorter than its OCSP response's length".into(),
            );
            return;
        };
        if der.len() <= MAX_STAPLE_LEN {
            self.ocsp_staple = Some(StapledOcsp {
                der: der.to_vec(),
                frame,
                ts_us,
            });
        }
    }

    pub(super) fn server_key_exchange(&mut self, body: &[u8]) {
        let Some(sh) = self.server_hello.as_mut() else {
            return;
        };
        if sh.group.is_some() {
            return;
        }
        // The layout of a ServerKeyExchange depends on the key exchange of the suite.
        let ecdhe = TlsCipherSuite::from_id(sh.cipher)
            .is_some_and(|cs| matches!(cs.kx, TlsCipherKx::Ecdhe | TlsCipherKx::Aecdh));
        if !ecdhe {
            return;
        }
        if let Ok((_, params)) = tls_parser::parse_ecdh_params(body) {
            if let ECParametersContent::NamedGroup(g) = params.curve_params.params_content {
                sh.group = Some(g.0);
            }
        }
    }
}
