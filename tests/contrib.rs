//! The operations files in contrib/ are valid for the tools that read them:
//! `systemd-analyze verify` for the unit, `logrotate -d` for the rotation snippet. Skipped
//! with a reason when a tool is missing, never when CI=true (.ci/run installs them).

use std::path::{Path, PathBuf};
use std::process::Command;

fn contrib(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("contrib")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn have(tool: &str, test: &str) -> bool {
    if Command::new(tool).arg("--version").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "{test}: {tool} not installed in CI"
    );
    eprintln!("SKIPPED {test}: {tool} not installed");
    false
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tlstriage-contrib-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    let unit = contrib("tlstriage.service");
    for line in [
        "User=tlstriage",
        "AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/log/tlstriage",
        "Restart=on-failure",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert!(unit.lines().any(|l| l == line), "missing {line:?}");
    }
    if !have(
        "systemd-analyze",
        "the_systemd_unit_verifies_and_is_hardened",
    ) {
        return;
    }
    // verify checks that ExecStart's program exists: point it at the binary under test.
    let dir = tempdir("unit");
    let path = dir.join("tlstriage.service");
    let unit = unit.replace("/usr/local/bin/tlstriage", env!("CARGO_BIN_EXE_tlstriage"));
    std::fs::write(&path, unit).expect("write unit");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze verify");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {err}");
    // It reports unknown or misspelt directives as warnings and still exits 0.
    assert!(
        !err.contains("tlstriage.service"),
        "systemd-analyze verify warned: {err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_logrotate_snippet_parses_and_reopens_with_hup() {
    let conf = contrib("tlstriage.logrotate");
    assert!(
        !conf.contains("\n    copytruncate"),
        "copytruncate loses records"
    );
    assert!(conf.contains("--signal=HUP"), "{conf}");
    if !have(
        "logrotate",
        "the_logrotate_snippet_parses_and_reopens_with_hup",
    ) {
        return;
    }
    // On a test machine: the log directory is a temporary one, and the user that owns the
    // new file one that exists (logrotate checks it while parsing).
    let dir = tempdir("logrotate");
    std::fs::write(dir.join("tlstriage.ndjson"), "{}\n").expect("log file");
    let conf = conf
        .replace("/var/log/tlstriage", &dir.display().to_string())
        .replace("tlstriage tlstriage", "root root");
    std::fs::write(dir.join("conf"), conf).expect("write conf");
    let out = Command::new("logrotate")
        .arg("-d")
        .arg("-f")
        .arg("-s")
        .arg(dir.join("state"))
        .arg(dir.join("conf"))
        .output()
        .expect("logrotate -d");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    // logrotate -d exits 0 even on a bad snippet: its errors are on stderr.
    assert!(!text.contains("error:"), "{text}");
    assert!(text.contains("tlstriage.ndjson"), "{text}");
    assert!(text.contains("running postrotate script"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
