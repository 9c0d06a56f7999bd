//! End-to-end tests: the real `crmsync` binary on real files.

mod bad_input;
mod convert;
mod corpus;
mod db;
mod encodings;
mod export;
mod faults;
mod import;
mod init;
mod mapping_suggest;
mod recognise;
mod report;
mod undo;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

pub fn crmsync() -> Command {
    let mut c = Command::cargo_bin("crmsync").expect("the crmsync binary is built");
    c.env_remove("CRMSYNC_DB");
    c
}

/// A file of the project's `testdata/`.
pub fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata").join(rel)
}

pub fn corpus(rel: &str) -> String {
    testdata(&format!("corpus/{rel}")).to_string_lossy().into_owned()
}

pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn read_ndjson(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// Runs `crmsync --json convert ARGS` and returns the parsed summary.
pub fn convert_summary(args: &[&str]) -> serde_json::Value {
    let out = crmsync().arg("--json").arg("convert").args(args).output().expect("runs");
    assert!(out.status.success(), "convert {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("summary is JSON: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

pub fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
