//! Verdicts by chain: a server sends the same chain on every connection, and the verdict
//! at a moment depends on the moment only through which certificates are within their
//! dates (anchors have none in webpki), so the key is the chain's hash and that pattern.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::store::TrustStore;
use super::{check, Checked, Usage};
use crate::tls::types::CertInfo;

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    /// Per certificate: 0 and its SHA-256 fingerprint (hex), or 1 and the SHA-256 of its
    /// length and DER when the fingerprint does not cover the bytes sent.
    chain: Vec<u8>,
    usage: Usage,
    /// Per certificate: 0 before its notBefore, 1 within, 2 after its notAfter, 3 unparsed.
    windows: Vec<u8>,
}

/// A trust store and the verdicts reached with it, shared by every thread of a run. The
/// cache only saves work: every answer is what [`check`] gives for the same input.
pub struct Validator {
    store: TrustStore,
    /// With whether trust was decided apart from the dates (then at another moment).
    cache: Mutex<Map>,
}

impl std::fmt::Debug for Validator {
    /// The stores, not a few hundred anchors' bytes (an `AnalyzerConfig` is printed whole).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field("sources", &self.store.sources())
            .field("anchors", &self.store.len())
            .field("cached", &self.cached())
            .finish()
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key")
    }
}

impl Validator {
    /// Entries kept before the cache starts over: the chains of a few thousand servers.
    const MAX_ENTRIES: usize = 4096;

    pub fn new(store: TrustStore) -> Validator {
        Validator {
            store,
            cache: Mutex::new(HashMap::default()),
        }
    }

    pub fn store(&self) -> &TrustStore {
        &self.store
    }

    /// Verdicts held (chain and date pattern pairs seen since the cache last started over).
    pub fn cached(&self) -> usize {
        self.lock().len()
    }

    /// [`check`], from the cache when the same chain was checked in the same date pattern.
    /// `None` for an empty chain.
    pub fn check(
        &self,
        ders: &[Vec<u8>],
        infos: &[Result<CertInfo, String>],
        time_s: i64,
        usage: Usage,
    ) -> Option<Checked> {
        if ders.is_empty() || ders.len() != infos.len() {
            return None;
        }
        // The chain's identity from each certificate's SHA-256, which parsing computed once
        // per distinct DER: hashing every DER again for every flow was a fifth of a run, and
        // hashing the fingerprints into one digest still 3% (the key is compared whole
        // instead). The fingerprint covers the certificate's own encoding, so a DER with
        // bytes after it (or one that did not parse) is hashed whole.
        let mut chain = Vec::with_capacity(ders.len() * 65);
        for (d, info) in ders.iter().zip(infos) {
            let exact = crate::tls::cert::outer_length(d).is_ok_and(|n| n == d.len());
            match info {
                Ok(c) if exact && c.sha256.len() == 64 => {
                    chain.push(0u8);
                    chain.extend_from_slice(c.sha256.as_bytes());
                }
                _ => {
                    let mut h = Sha256::new();
                    h.update((d.len() as u64).to_be_bytes());
                    h.update(d);
                    chain.push(1u8);
                    chain.extend_from_slice(&h.finalize());
                }
            }
        }
        let windows = infos
            .iter()
            .map(|i| match i {
                Ok(c) if time_s < c.not_before => 0,
                Ok(c) if time_s > c.not_after => 2,
                Ok(_) => 1,
                Err(_) => 3,
            })
            .collect();
        let key = Key {
            chain,
            usage,
            windows,
        };
        let hit = self.lock().get(&key).cloned();
        let (mut checked, moved) = match hit {
            Some(c) => c,
            None => {
                let c = check(&self.store, ders, infos, time_s, usage);
                let moved = c.checked_at != time_s;
                let mut cache = self.lock();
                if cache.len() >= Self::MAX_ENTRIES {
                    cache.clear();
                }
                cache.insert(key, (c.clone(), moved));
                (c, moved)
            }
        };
        // The moment is the one thing not shared by flows with the same key (computed as
        // `check` does).
        checked.checked_at = if !moved {
            time_s
        } else {
            let lo = infos.iter().flatten().map(|c| c.not_before).max();
            let hi = infos.iter().flatten().map(|c| c.not_after).min();
            match (lo, hi) {
                (Some(lo), Some(hi)) if lo <= hi => time_s.clamp(lo, hi),
                _ => time_s,
            }
        };
        Some(checked)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Map> {
        // A panic elsewhere while holding the lock leaves a consistent map (inserts are
        // whole), so a poisoned lock is still usable.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

type Map = HashMap<Key, (Checked, bool), foldhash::fast::RandomState>;
