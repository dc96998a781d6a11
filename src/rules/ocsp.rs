//! Stapled OCSP (see [`crate::trust::ocsp`]): `certificate_revoked` when the server's own
//! staple says its leaf is revoked, `ocsp_staple_invalid` when the staple is stale, not yet
//! valid, about another certificate, badly signed or a responder's refusal. The spec has no
//! kind for either yet; both follow its certificate kinds' evidence style.

use serde_json::{json, Value};

use super::{Finding, Kind, Rule, RuleCtx, Severity};
use crate::model::{format_secs, TimestampUs};
use crate::tls::StapledOcsp;
use crate::trust::ocsp::{read_staple, CertState, SignatureCheck, Staple, Subject};

pub const OCSP_STAPLE: Rule = Rule {
    name: "ocsp_staple",
    doc: "Reads the server's stapled OCSP response: a revoked leaf, or a staple that is stale, not yet valid, for another certificate or badly signed.",
    kinds: &[Kind::CertificateRevoked, Kind::OcspStapleInvalid],
    after: &[],
    check,
};

/// The staple of a flow, read against its leaf and the leaf's issuer (when the chain has it).
fn flow_staple<'f>(ctx: &RuleCtx<'f>) -> Option<(&'f StapledOcsp, Result<Staple, String>)> {
    let tls = ctx.flow.tls.as_ref()?;
    let staple = tls.ocsp_staple.as_ref()?;
    let leaf = tls.server_cert_der.first()?;
    let candidates = tls.server_cert_der[1..]
        .iter()
        .map(|d| d.as_slice())
        .chain(ctx.env.trust.store().ca_file_certs());
    Some((
        staple,
        read_staple(&staple.der, leaf, candidates).map_err(|e| e.to_string()),
    ))
}

fn check(ctx: &mut RuleCtx<'_>) {
    let Some((staple, read)) = flow_staple(ctx) else {
        return;
    };
    let established = ctx.flow.tls.as_ref().is_some_and(|t| t.established);
    let (frame, ts) = (staple.frame, staple.ts_us);
    let severity = if established {
        Severity::Medium
    } else {
        Severity::High
    };
    let staple = match read {
        Ok(s) => s,
        Err(e) => {
            let f = invalid(ts, severity, "unparseable", &e, json!({ "error": e }));
            ctx.findings.push(f.frames(Some(frame)));
            return;
        }
    };
    let mut out = Vec::new();
    let signature = signature_evidence(&staple.signature);
    let Some(answer) = &staple.answer else {
        let why = format!(
            "the responder answered {} instead of a status",
            staple.response_status
        );
        let e = json!({ "response_status": staple.response_status });
        out.push(invalid(ts, severity, "unsuccessful", &why, e));
        ctx.findings
            .extend(out.into_iter().map(|f| f.frames(Some(frame))));
        return;
    };
    let dates = json!({
        "this_update": format_secs(answer.this_update),
        "next_update": answer.next_update.map(format_secs),
        "responder_signature": signature,
    });
    let about_leaf = matches!(answer.subject, Subject::Leaf | Subject::LeafByNameOnly);
    if let (CertState::Revoked { at, reason }, true) = (&answer.state, about_leaf) {
        let subject = ctx
            .flow
            .server_certs
            .first()
            .and_then(|c| c.as_ref().ok())
            .map_or("", |c| c.subject.as_str());
        let why = reason.map_or(String::new(), |r| format!(" ({r})"));
        let mut e = json!({
            "subject": subject,
            "revoked_at": format_secs(*at),
            "revocation_reason": reason,
        });
        merge(&mut e, &dates);
        out.push(
            Finding::new(Kind::CertificateRevoked, Severity::Critical, ts)
                .summary(format!(
                    "The server's own stapled OCSP response says its certificate {subject} was revoked on {}{why}.",
                    format_secs(*at)
                ))
                .explanation(
                    "The CA's OCSP responder, in the response the server staples to its handshake, says the leaf \
                     is revoked: clients that check stapled status (browsers, curl --cert-status, GnuTLS) refuse \
                     it with certificate_revoked or bad_certificate. The server must get a new certificate and \
                     key; a revoked certificate is not brought back."
                        .to_string(),
                )
                .evidence(e),
        );
    }
    let ts_secs = ts.div_euclid(1_000_000);
    let mut problems: Vec<(&str, String)> = Vec::new();
    match &answer.subject {
        Subject::OtherSerial { serial } => problems.push((
            "wrong_certificate",
            format!("it answers for the certificate with serial {serial}, not the server's"),
        )),
        Subject::OtherIssuer => problems.push((
            "wrong_certificate",
            "its CertID names another issuer (name or key hash) than the leaf's".to_string(),
        )),
        Subject::Leaf | Subject::LeafByNameOnly => {}
    }
    if let Some(next) = answer.next_update.filter(|&n| n < ts_secs) {
        problems.push((
            "expired",
            format!(
                "its nextUpdate {} had passed at the capture time: the server keeps serving an old response",
                format_secs(next)
            ),
        ));
    }
    if answer.this_update > ts_secs {
        problems.push((
            "not_yet_valid",
            format!(
                "its thisUpdate {} is after the capture time (the server's or the responder's clock is off)",
                format_secs(answer.this_update)
            ),
        ));
    }
    if let SignatureCheck::Bad(why) = &staple.signature {
        problems.push((
            "bad_signature",
            format!("its signature does not verify: {why}"),
        ));
    }
    if let Some((reason, why)) = problems.first() {
        let reasons: Vec<&str> = problems.iter().map(|(r, _)| *r).collect();
        let mut e = json!({
            "status": answer.state.as_str(),
            "reasons": reasons,
        });
        if let Subject::OtherSerial { serial } = &answer.subject {
            e["staple_serial"] = json!(serial);
        }
        merge(&mut e, &dates);
        out.push(invalid(ts, severity, reason, why, e));
    }
    ctx.findings
        .extend(out.into_iter().map(|f| f.frames(Some(frame))));
}

fn invalid(ts: TimestampUs, severity: Severity, reason: &str, why: &str, mut e: Value) -> Finding {
    e["reason"] = json!(reason);
    Finding::new(Kind::OcspStapleInvalid, severity, ts)
        .summary(format!("The server's stapled OCSP response is not usable: {why}."))
        .explanation(
            "The server staples an OCSP response to prove its certificate is not revoked. Clients that check \
             stapled status (GnuTLS, curl --cert-status, a must-staple certificate in browsers) refuse a stale, \
             foreign or badly signed one, often with bad_certificate or bad_certificate_status_response. Check \
             the server's stapling: nginx ssl_stapling_file / ssl_stapling_responder, Apache SSLStaplingCache, \
             HAProxy's .ocsp file and its refresh job; the staple must be refreshed before its nextUpdate."
                .to_string(),
        )
        .evidence(e)
}

fn signature_evidence(s: &SignatureCheck) -> Value {
    match s {
        SignatureCheck::ByIssuer => json!("verified_by_issuer"),
        SignatureCheck::ByDelegate => json!("verified_by_delegated_responder"),
        SignatureCheck::Bad(_) => json!("bad"),
        SignatureCheck::NotChecked(why) => json!(format!("not_checked: {why}")),
    }
}

fn merge(into: &mut Value, from: &Value) {
    if let (Some(a), Some(b)) = (into.as_object_mut(), from.as_object()) {
        for (k, v) in b {
            a.insert(k.clone(), v.clone());
        }
    }
}
