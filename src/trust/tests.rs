//! One test per verdict and reason over real chains made by openssl
//! (`scripts/make-trust-fixtures.sh` writes `testdata/`). Times are taken from the
//! certificates' own dates, so the tests do not age.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use super::*;
use crate::tls::cert::parse_certificate;
use crate::tls::types::CertInfo;

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/trust/testdata")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn chain(name: &str) -> (Vec<Vec<u8>>, Vec<Result<CertInfo, String>>) {
    let ders: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(&fixture(name))
        .map(|c| c.unwrap().to_vec())
        .collect();
    let infos = ders.iter().map(|d| parse_certificate(d)).collect();
    (ders, infos)
}

/// Mozilla's roots plus the fixtures' private root.
fn with_root() -> TrustStore {
    let mut s = TrustStore::mozilla();
    assert_eq!(s.add_pem(&fixture("root.pem")), Ok(1));
    s
}

/// A moment at which every certificate of the chain is valid (a day after the latest
/// notBefore).
fn valid_time(infos: &[Result<CertInfo, String>]) -> i64 {
    infos.iter().flatten().map(|c| c.not_before).max().unwrap() + 86_400
}

fn verdict(store: &TrustStore, name: &str) -> Checked {
    let (ders, infos) = chain(name);
    check(store, &ders, &infos, valid_time(&infos), Usage::Server)
}

fn reason_of(c: &Checked) -> Reason {
    match &c.verdict {
        Verdict::Untrusted { reason, .. } => *reason,
        v => panic!("not untrusted: {v:?}"),
    }
}

const ROOT: &str = "O=tlstriage test, CN=Test Root";
const INT: &str = "O=tlstriage test, CN=Test Intermediate";

#[test]
fn complete_private_chain_is_trusted_only_with_its_root() {
    let c = verdict(&with_root(), "complete.pem");
    assert_eq!(
        c.verdict,
        Verdict::Trusted {
            anchor: ROOT.into()
        }
    );
    assert!(c.order.is_empty(), "{:?}", c.order);
    // Without the private root, the intermediate's issuer is nowhere: as a client sees it,
    // the chain stops short of any root it knows.
    let c = verdict(&TrustStore::mozilla(), "complete.pem");
    assert!(
        matches!(&c.verdict, Verdict::Incomplete { missing_issuer, last_sent, .. }
            if missing_issuer == ROOT && last_sent == INT),
        "{c:?}"
    );
}

#[test]
fn a_sent_root_nobody_trusts_is_unknown_root() {
    let c = verdict(&TrustStore::mozilla(), "complete-with-root.pem");
    assert_eq!(reason_of(&c), Reason::UnknownRoot);
    assert!(matches!(&c.verdict, Verdict::Untrusted { root_subject, .. } if root_subject == ROOT));
    assert_eq!(c.order, vec![OrderNote::RootSent]);
    // With the root trusted, sending it is only a note.
    let c = verdict(&with_root(), "complete-with-root.pem");
    assert!(matches!(c.verdict, Verdict::Trusted { .. }), "{c:?}");
    assert_eq!(c.order, vec![OrderNote::RootSent]);
}

#[test]
fn a_leaf_without_its_intermediate_is_incomplete_with_the_aia_url() {
    let c = verdict(&with_root(), "leaf-only.pem");
    assert_eq!(
        c.verdict,
        Verdict::Incomplete {
            missing_issuer: INT.into(),
            last_sent: "CN=www.example.test".into(),
            aia_ca_issuers: Some("http://pki.test/int.crt".into()),
        }
    );
}

#[test]
fn order_problems_are_noted() {
    let c = verdict(&with_root(), "wrong-order.pem");
    assert!(matches!(c.verdict, Verdict::Trusted { .. }), "{c:?}");
    assert_eq!(c.order, vec![OrderNote::OutOfOrder, OrderNote::RootSent]);

    let c = verdict(&with_root(), "duplicate.pem");
    assert!(matches!(c.verdict, Verdict::Trusted { .. }), "{c:?}");
    assert_eq!(c.order, vec![OrderNote::Duplicate]);

    // Every client takes the first certificate as the server's own: a CA there is fatal.
    let c = verdict(&with_root(), "leaf-not-first.pem");
    assert_eq!(reason_of(&c), Reason::NotACa);
    assert_eq!(c.order, vec![OrderNote::LeafNotFirst, OrderNote::Unneeded]);
}

#[test]
fn an_expired_intermediate_is_left_to_the_dates_and_trust_decided_apart() {
    let (ders, infos) = chain("expired-intermediate.pem");
    let int_end = infos[1].as_ref().unwrap().not_after;
    let leaf_end = infos[0].as_ref().unwrap().not_after;
    let t = int_end + 86_400;
    assert!(t < leaf_end);
    let c = check(&with_root(), &ders, &infos, t, Usage::Server);
    assert!(matches!(c.verdict, Verdict::Trusted { .. }), "{c:?}");
    assert_eq!(
        c.checked_at, int_end,
        "decided at the last moment all were valid"
    );
    // Without the root, the same moment shows the real trust problem.
    let c = check(&TrustStore::mozilla(), &ders, &infos, t, Usage::Server);
    assert!(matches!(c.verdict, Verdict::Incomplete { .. }), "{c:?}");
}

#[test]
fn one_reason_per_broken_constraint() {
    let store = with_root();
    assert_eq!(
        reason_of(&verdict(&store, "bad-signature.pem")),
        Reason::BadSignature
    );
    assert_eq!(reason_of(&verdict(&store, "path-len.pem")), Reason::PathLen);
    assert_eq!(
        reason_of(&verdict(&store, "name-constraints.pem")),
        Reason::NameConstraints
    );
    assert_eq!(reason_of(&verdict(&store, "not-a-ca.pem")), Reason::NotACa);
    // OpenSSL accepts a v1 leaf; webpki, like browsers, does not.
    assert_eq!(
        reason_of(&verdict(&store, "v1-leaf.pem")),
        Reason::UnsupportedCertificate
    );
}

#[test]
fn a_self_signed_leaf_is_its_own_unknown_root() {
    let c = verdict(&TrustStore::mozilla(), "self-signed.pem");
    assert_eq!(reason_of(&c), Reason::UnknownRoot);
    assert!(
        matches!(&c.verdict, Verdict::Untrusted { root_subject, .. } if root_subject == "CN=self.example.test")
    );
}

#[test]
fn a_client_chain_is_checked_for_client_auth() {
    // The fixtures' leaves say serverAuth only: a server would refuse them from a client.
    let (ders, infos) = chain("complete.pem");
    let c = check(
        &with_root(),
        &ders,
        &infos,
        valid_time(&infos),
        Usage::Client,
    );
    assert_eq!(reason_of(&c), Reason::WrongUsage);
}

#[test]
fn garbage_never_panics() {
    let store = TrustStore::mozilla();
    let junk = vec![vec![0x30, 0x03, 0x02, 0x01, 0x00], vec![], vec![0xff; 40]];
    let infos: Vec<_> = junk.iter().map(|d| parse_certificate(d)).collect();
    let c = check(&store, &junk, &infos, 0, Usage::Server);
    assert!(matches!(c.verdict, Verdict::Undecided { .. }), "{c:?}");
    // A parsable leaf with garbage after it.
    let (mut ders, _) = chain("leaf-only.pem");
    ders.push(vec![0x30, 0x80]);
    let infos: Vec<_> = ders.iter().map(|d| parse_certificate(d)).collect();
    let c = check(
        &with_root(),
        &ders,
        &infos,
        valid_time(&infos),
        Usage::Server,
    );
    assert!(
        matches!(
            c.verdict,
            Verdict::Incomplete { .. } | Verdict::Untrusted { .. }
        ),
        "{c:?}"
    );
    // Mismatched inputs give no verdict, not a panic.
    let store = with_root();
    let c = check(&store, &ders, &infos[..1], 0, Usage::Server);
    assert!(matches!(c.verdict, Verdict::Undecided { .. }), "{c:?}");
    let c = check(&store, &[], &[], 0, Usage::Server);
    assert!(matches!(c.verdict, Verdict::Undecided { .. }), "{c:?}");
}

#[test]
fn the_cache_answers_as_check_does_for_every_moment() {
    let v = Validator::new(with_root());
    let (ders, infos) = chain("expired-intermediate.pem");
    let int_end = infos[1].as_ref().unwrap().not_after;
    for t in [int_end - 10, int_end + 5, int_end + 86_400, int_end - 10] {
        let cached = v.check(&ders, &infos, t, Usage::Server).unwrap();
        assert_eq!(
            cached,
            check(v.store(), &ders, &infos, t, Usage::Server),
            "at {t}"
        );
    }
    assert!(v.check(&[], &[], 0, Usage::Server).is_none());
    // Two date patterns (all valid; the intermediate expired), one entry each.
    assert_eq!(v.cached(), 2);
    let debug = format!("{v:?}");
    assert!(debug.contains("cached: 2") && debug.len() < 200, "{debug}");
}

#[test]
fn ca_files_are_read_and_a_bad_one_is_an_error() {
    let dir = std::env::temp_dir().join(format!("tlstriage-trust-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("root.pem");
    std::fs::write(&good, fixture("root.pem")).unwrap();
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let opts = |files: Vec<std::path::PathBuf>| StoreOptions {
        no_system_roots: true,
        ca_files: files,
    };
    let s = TrustStore::load(&opts(vec![good.clone()])).unwrap();
    assert!(s.has_subject(ROOT));
    assert_eq!(
        s.sources(),
        ["mozilla".to_string(), format!("ca-file:{}", good.display())]
    );
    assert!(matches!(
        TrustStore::load(&opts(vec![empty])),
        Err(TrustError::NoCertificate(_))
    ));
    assert!(matches!(
        TrustStore::load(&opts(vec![dir.join("missing.pem")])),
        Err(TrustError::Read(..))
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}
