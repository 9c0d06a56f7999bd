//! Every kind of bad input gets a clear message, a non-zero exit where the
//! job cannot go on, a reject where only one record is bad, and no panic.

use super::db::Db;
use super::*;
use crate::on_both;

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("tempdir") }
    }

    fn file(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, bytes).expect("write");
        p.to_string_lossy().into_owned()
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    /// Runs convert and returns (exit code, stderr).
    fn convert(&self, args: &[&str]) -> (Option<i32>, String) {
        let out = crmsync().arg("convert").args(args).output().expect("runs");
        let err = stderr_of(&out);
        assert!(!err.contains("panicked"), "{err}");
        (out.status.code(), err)
    }
}

#[test]
fn unterminated_quote_fails_naming_its_line() {
    let c = Case::new();
    let f = c.file("q.csv", b"name,email\nAnn,a@x.com\n\"Bob,b@x.com\nCid,c@x.com\n");
    let out = c.path("o.ndjson");
    let (code, err) = c.convert(&[&f, &out]);
    assert_eq!(code, Some(1));
    assert!(err.contains("q.csv") && err.contains("line 3") && err.contains("never closed"), "{err}");
    assert!(!Path::new(&out).exists(), "no half-written output");
}

#[test]
fn ragged_rows_are_rejected_not_shifted() {
    let c = Case::new();
    let f = c.file("r.csv", b"a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n");
    let out = c.path("o.ndjson");
    let rejects = c.path("rej.csv");
    let s = convert_summary(&[&f, &out, "--rejects", &rejects]);
    assert_eq!((s["rows_read"].as_u64(), s["written"].as_u64(), s["rejected"].as_u64()), (Some(4), Some(2), Some(2)));
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(text.starts_with("a,b,c,_row,_field,_error\n"), "{text}");
    assert!(text.contains("4,5,,3,c,"), "the first column to fill: {text}");
    assert!(text.contains("6,7,8,4,,") && text.contains("extra values: \"\"9\"\""), "{text}");
}

#[test]
fn empty_fields_past_the_last_column_are_no_values() {
    // Report writers end rows with a separator (`1,2,3,`); a value past the
    // header's columns still rejects its row, a trailing one included.
    let c = Case::new();
    let f = c.file("t.csv", b"a,b,c\n1,2,3,\n4,5,6,,\"\"\n7,,,\n8,9,10,,x\n11,12,13, \n");
    let out = c.path("o.ndjson");
    let rejects = c.path("rej.csv");
    let s = convert_summary(&[&f, &out, "--rejects", &rejects]);
    assert_eq!((s["rows_read"].as_u64(), s["written"].as_u64(), s["rejected"].as_u64()), (Some(5), Some(3), Some(2)));
    let written = std::fs::read_to_string(&out).expect("out");
    assert_eq!(
        written,
        "{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\"}\n{\"a\":\"4\",\"b\":\"5\",\"c\":\"6\"}\n{\"a\":\"7\",\"b\":\"\",\"c\":\"\"}\n"
    );
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(text.contains("extra values: \"\"\"\", \"\"x\"\"") && text.contains("extra values: \"\" \"\""), "{text}");
}

#[test]
fn duplicate_header_names_fail() {
    let c = Case::new();
    let f = c.file("d.csv", b"Email,Name,Email\na@x.com,Ann,b@x.com\n");
    let (code, err) = c.convert(&[&f, &c.path("o.json")]);
    assert_eq!(code, Some(1));
    assert!(err.contains("columns 1 and 3 are both named \"Email\""), "{err}");
    // Blank lines above the header are rows, as a spreadsheet shows them.
    let f = c.file("b.csv", b"\n\r\nEmail,Email\na@x.com,b@x.com\n");
    let (_, err) = c.convert(&[&f, &c.path("o.json")]);
    assert!(err.contains("b.csv: row 3: columns 1 and 2"), "{err}");
    let f = c.file("b.csv", b"\n\r\nName,Email\nAnn,a@x.com\n\nBob,b@x,extra\n");
    let rejects = c.path("r.csv");
    convert_summary(&[&f, &c.path("o.json"), "--rejects", &rejects]);
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(text.contains("Bob,b@x,6,"), "{text}");
    let f = c.file("n.csv", b"\n\nAnn,a@x.com\nBob,b@x,extra\n");
    convert_summary(&[&f, &c.path("o.json"), "--rejects", &rejects, "--no-header"]);
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(text.contains("Bob,b@x,4,"), "{text}");
}

#[test]
fn empty_file_fails_and_header_only_gives_no_records() {
    let c = Case::new();
    let empty = c.file("e.csv", b"");
    let (code, err) = c.convert(&[&empty, &c.path("o.json")]);
    assert_eq!(code, Some(1));
    assert!(err.contains("e.csv") && err.contains("empty"), "{err}");

    let header = c.file("h.csv", b"a,b\r\n");
    let out = c.path("h.json");
    let s = convert_summary(&[&header, &out]);
    assert_eq!(s["rows_read"].as_u64(), Some(0));
    assert_eq!(read_json(Path::new(&out)), serde_json::json!([]));

    // A workbook whose sheet holds nothing is as empty as that file.
    let sheet = testdata("spreadsheets/empty-sheet.xlsx");
    let (code, err) = c.convert(&[sheet.to_str().expect("p"), &c.path("x.csv")]);
    assert_eq!(code, Some(1));
    assert!(err.contains("sheet \"Sheet\" is empty: expected a header row"), "{err}");
}

#[test]
fn invalid_utf8_in_a_utf8_file_names_the_row() {
    let c = Case::new();
    let f = c.file("u.csv", b"name,city\nAnn,Paris\nBob,K\xF6ln\n");
    let (code, err) = c.convert(&[&f, &c.path("o.json"), "--encoding", "utf-8"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("u.csv: row 3, field \"city\": the value is not valid UTF-8 (byte 2 of the value)"), "{err}");
    assert!(err.contains("--encoding"), "the message says what to do: {err}");
}

#[test]
fn gbk_file_read_as_utf8_fails_and_auto_reads_it() {
    let c = Case::new();
    let (gbk, _, _) = encoding_rs::GBK.encode("姓名,城市\n张伟,北京\n李娜,上海\n");
    let f = c.file("g.csv", &gbk);
    let (code, err) = c.convert(&[&f, &c.path("o.json"), "--encoding", "utf-8"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("row 1") && err.contains("not valid UTF-8"), "{err}");
    let out = c.path("o.json");
    let s = convert_summary(&[&f, &out]);
    assert_eq!(s["encoding"], "GBK");
    assert_eq!(
        read_json(Path::new(&out)),
        serde_json::json!([{"姓名": "张伟", "城市": "北京"}, {"姓名": "李娜", "城市": "上海"}])
    );
}

#[test]
fn malformed_gbk_bytes_are_an_error_not_a_replacement() {
    let c = Case::new();
    let mut bytes = encoding_rs::GBK.encode("姓名,城市\n张伟,北京\n").0.into_owned();
    bytes.extend_from_slice(b"x,\xFF\n");
    let f = c.file("g.csv", &bytes);
    let (code, err) = c.convert(&[&f, &c.path("o.json"), "--encoding", "gbk"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("g.csv: row 3") && err.contains("not valid GBK"), "{err}");
}

#[test]
fn nul_bytes_reject_the_row() {
    let c = Case::new();
    let f = c.file("n.csv", b"a,b\n1,2\n3,x\x00y\n5,6\n");
    let rejects = c.path("r.csv");
    let s = convert_summary(&[&f, &c.path("o.json"), "--rejects", &rejects]);
    assert_eq!((s["written"].as_u64(), s["rejected"].as_u64()), (Some(2), Some(1)));
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(text.contains(",3,b,") && text.contains("NUL byte"), "{text}");
}

#[test]
fn a_ten_megabyte_field_passes_through() {
    let c = Case::new();
    let big = "x\"y,\n".repeat(2 * 1024 * 1024);
    let mut bytes = b"id,notes\n1,\"".to_vec();
    bytes.extend_from_slice(big.replace('"', "\"\"").as_bytes());
    bytes.extend_from_slice(b"\"\n2,short\n");
    let f = c.file("big.csv", &bytes);
    let out = c.path("o.ndjson");
    convert_summary(&[&f, &out]);
    let recs = read_ndjson(Path::new(&out));
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["notes"].as_str().map(str::len), Some(big.len()));
    // A limit below the field's size calls it an unterminated quote.
    let (code, err) = c.convert(&[&f, &c.path("o2.ndjson"), "--max-field-size", "1"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("unterminated quote"), "{err}");
}

#[test]
fn malformed_xml_and_entity_bombs_fail() {
    let c = Case::new();
    let bad = c.file("b.xml", b"<customers><customer><name>Ann</customer></customers>");
    let (code, err) = c.convert(&[&bad, &c.path("o.json")]);
    assert_eq!(code, Some(1));
    assert!(err.contains("b.xml") && err.contains("not well-formed"), "{err}");

    let bomb = c.file(
        "bomb.xml",
        br#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
]>
<customers><customer><name>&lol2;</name></customer><customer><name>x</name></customer></customers>"#,
    );
    let (code, err) = c.convert(&[&bomb, &c.path("o.json")]);
    assert_eq!(code, Some(1));
    assert!(err.contains("DTD"), "{err}");

    let xxe = c.file(
        "xxe.xml",
        br#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r><c>&x;</c><c>y</c></r>"#,
    );
    let (code, err) = c.convert(&[&xxe, &c.path("o.json")]);
    assert_eq!(code, Some(1));
    assert!(!err.contains("root:"), "{err}");
}

#[test]
fn bad_json_documents_fail_cleanly() {
    let c = Case::new();
    for (name, bytes, needle) in [
        ("comma.json", &b"[{\"a\": 1},]"[..], "trailing comma"),
        ("scalar.json", b"42", "not a list of records"),
        ("truncated.json", b"[{\"a\": 1}, {\"a\":", "the file ends inside this record"),
    ] {
        let f = c.file(name, bytes);
        let (code, err) = c.convert(&[&f, &c.path("o.ndjson")]);
        assert_eq!(code, Some(1), "{name}");
        assert!(err.contains(name) && err.contains(needle), "{name}: {err}");
    }
    let deep = c.file("deep.json", "[".repeat(100_000).as_bytes());
    let (code, err) = c.convert(&[&deep, &c.path("o.ndjson")]);
    assert_eq!(code, Some(1));
    assert!(err.contains("recursion limit"), "{err}");
}

#[test]
fn two_values_for_one_column_stop_the_job_rather_than_one_being_lost() {
    let c = Case::new();
    let f = c.file("ab.ndjson", b"{\"a\":{\"b\":\"1\"},\"a.b\":\"2\"}\n");
    let (code, err) = c.convert(&[&f, &c.path("o.csv")]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("\"a.b\"") && err.contains("one would be lost"), "{err}");
}

#[test]
fn a_quote_or_line_break_is_no_delimiter() {
    let c = Case::new();
    let f = c.file("d.csv", b"a,b\n1,2\n");
    for (flag, value) in [("--out-delimiter", "\""), ("--delimiter", "\""), ("--out-delimiter", "\n")] {
        let (code, err) = c.convert(&[&f, &c.path("o.csv"), flag, value]);
        assert_eq!(code, Some(2), "{flag} {value:?}: {err}");
        assert!(err.contains(flag) && err.contains("quotes or ends CSV fields"), "{err}");
    }
}

#[test]
fn scalars_in_a_json_array_are_rejected_and_the_rest_go_on() {
    let c = Case::new();
    let f = c.file("s.json", b"[{\"a\":\"1\"}, 42, {\"a\":\"2\"}, \"x\", -1.5e3]");
    let out = c.path("o.csv");
    let rejects = c.path("r.ndjson");
    let s = convert_summary(&[&f, &out, "--rejects", &rejects]);
    assert_eq!((s["rows_read"].as_u64(), s["written"].as_u64(), s["rejected"].as_u64()), (Some(5), Some(2), Some(3)));
    let rej = read_ndjson(Path::new(&rejects));
    assert_eq!((rej[0]["_row"].clone(), rej[2]["_row"].clone()), (serde_json::json!(2), serde_json::json!(5)));
    assert!(rej[0]["_error"].as_str().is_some_and(|e| e.contains("found a number")), "{rej:?}");
    assert_eq!(std::fs::read_to_string(&out).expect("out"), "a\n1\n2\n");
}

#[test]
fn one_bad_ndjson_line_is_rejected_and_the_rest_go_on() {
    let c = Case::new();
    let f = c.file("n.ndjson", b"{\"a\":\"1\"}\n{\"a\": 2,}\n\n[1,2]\n{\"a\":\"3\"}\n");
    let out = c.path("o.csv");
    let rejects = c.path("r.ndjson");
    let s = convert_summary(&[&f, &out, "--rejects", &rejects]);
    assert_eq!((s["rows_read"].as_u64(), s["written"].as_u64(), s["rejected"].as_u64()), (Some(4), Some(2), Some(2)));
    let rej = read_ndjson(Path::new(&rejects));
    assert_eq!(rej[0]["_row"], 2);
    assert_eq!(rej[0]["_raw"], "{\"a\": 2,}");
    assert_eq!(rej[1]["_row"], 4);
    assert_eq!(std::fs::read_to_string(&out).expect("out"), "a\n1\n3\n");
}

#[test]
fn an_ndjson_line_of_bad_utf8_is_rejected_and_the_rest_go_on() {
    let c = Case::new();
    // Past what the encoding is told from: the file's first bytes of other
    // than ASCII are UTF-8 (a small file is read whole, and one bad byte
    // alone would make it windows-1252).
    let mut bytes = b"{\"a\":\"1\"}\n".repeat(30_000);
    bytes.extend_from_slice("{\"a\":\"Zoë\"}\n".repeat(4).as_bytes());
    bytes.extend_from_slice(b"{\"a\":\"J\xfcrgen\"}\n{\"a\":\"5\"}\n");
    let f = c.file("n.ndjson", &bytes);
    let out = c.path("o.csv");
    let rejects = c.path("r.ndjson");
    let s = convert_summary(&[&f, &out, "--rejects", &rejects]);
    assert_eq!(
        (s["rows_read"].as_u64(), s["written"].as_u64(), s["rejected"].as_u64(), s["encoding"].as_str()),
        (Some(30_006), Some(30_005), Some(1), Some("UTF-8"))
    );
    let rej = read_ndjson(Path::new(&rejects));
    assert_eq!(rej[0]["_row"], 30_005);
    assert_eq!(rej[0]["_raw"], "{\"a\":\"J\u{FFFD}rgen\"}");
    let error = rej[0]["_error"].as_str().unwrap_or_default();
    assert!(error.contains("not valid UTF-8 (at byte 8 of it"), "{error}");
    assert!(std::fs::read_to_string(&out).expect("out").ends_with("1\nZoë\nZoë\nZoë\nZoë\n5\n"));
    // From a pipe, only the first bytes are looked at: the line is
    // rejected the same way.
    let piped =
        b"{\"a\":\"1\"}\n".repeat(30_000).into_iter().chain(b"{\"a\":\"J\xfcrgen\"}\n{\"a\":\"5\"}\n".iter().copied());
    let out = crmsync()
        .args(["--json", "convert", "-", &c.path("p.csv"), "--from", "ndjson", "--rejects", &c.path("p.ndjson")])
        .write_stdin(piped.collect::<Vec<u8>>())
        .output()
        .expect("runs");
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json summary");
    assert_eq!((s["written"].as_u64(), s["rejected"].as_u64()), (Some(30_001), Some(1)), "{s}");
}

#[test]
fn an_xlsx_that_is_really_csv() {
    let c = Case::new();
    let f = c.file("fake.xlsx", b"Index,Customer Id\n1,abc\n");
    let (code, err) = c.convert(&[&f, &c.path("o.json")]);
    assert_eq!(code, Some(1));
    assert!(err.contains("fake.xlsx") && err.contains("--from csv"), "{err}");
    let s = convert_summary(&[&f, &c.path("o.json"), "--from", "csv"]);
    assert_eq!(s["written"].as_u64(), Some(1));
}

#[test]
fn a_mapping_naming_a_missing_column_fails_before_reading() {
    let c = Case::new();
    let f = c.file("c.csv", b"First Name,E-mail\nAnn,a@x.com\n");
    let m = c.file("m.toml", b"entity = \"contacts\"\n[fields]\nfirst_name = \"First Name\"\nemail = { from = \"Email\", type = \"email\" }\n");
    let out = c.path("o.json");
    let (code, err) = c.convert(&[&f, &out, "--mapping", &m]);
    assert_eq!(code, Some(1));
    assert!(err.contains("\"Email\"") && err.contains("did you mean \"E-mail\""), "{err}");
    assert!(err.contains("line 4"), "the mapping line is named: {err}");
    assert!(!Path::new(&out).exists());
}

#[test]
fn unknown_mapping_keys_name_their_line() {
    let c = Case::new();
    let f = c.file("c.csv", b"Email\na@x.com\n");
    let m = c.file("m.toml", b"entity = \"contacts\"\n\n[fields]\nemail = { from = \"Email\", tpye = \"email\" }\n");
    let (code, err) = c.convert(&[&f, &c.path("o.json"), "--mapping", &m]);
    assert_eq!(code, Some(1));
    assert!(err.contains("m.toml line 4") && err.contains("tpye"), "{err}");
}

#[test]
fn max_errors_stops_the_job_and_keeps_the_rejects() {
    let c = Case::new();
    let f = c.file("c.csv", b"Email\nbad1\na@x.com\nbad2\nbad3\nb@x.com\n");
    let m = c.file("m.toml", b"entity = \"contacts\"\n[fields]\nemail = { from = \"Email\", type = \"email\" }\n");
    let out = c.path("o.csv");
    let rejects = c.path("r.csv");
    let (code, err) = c.convert(&[&f, &out, "--mapping", &m, "--rejects", &rejects, "--max-errors", "2"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("--max-errors 2") && err.contains("row 4"), "{err}");
    assert!(!Path::new(&out).exists(), "a stopped job leaves no output");
    let text = std::fs::read_to_string(&rejects).expect("rejects kept");
    assert_eq!(text.lines().count(), 3, "{text}");
    // Without --max-errors, rejects are not a failure.
    let s = convert_summary(&[&f, &out, "--mapping", &m]);
    assert_eq!((s["written"].as_u64(), s["rejected"].as_u64()), (Some(2), Some(3)));
}

#[test]
fn usage_errors_exit_2() {
    let c = Case::new();
    let f = c.file("c.csv", b"a\n1\n");
    let out = crmsync().args(["convert", &f, "-"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("--to"));
    let out = crmsync().args(["convert", &f]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let out = crmsync().args(["convert", &f, &f]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let out = crmsync().args(["convert", &c.path("missing.csv"), &c.path("o.json")]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("missing.csv"));
}

#[test]
fn rejects_never_overwrite_the_input_or_the_output() {
    let c = Case::new();
    let f = c.file("c.csv", b"a\n1\n");
    let out = crmsync().args(["convert", &f, &c.path("o.csv"), "--rejects", &f]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("overwrite the input"));
    assert_eq!(std::fs::read_to_string(&f).expect("input intact"), "a\n1\n");
    let o = c.path("o.csv");
    let out = crmsync().args(["convert", &f, &o, "--rejects", &o]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn failures_still_give_a_json_summary() {
    let c = Case::new();
    let f = c.file("t.json", b"[{\"a\": \"1\"}, {\"a\": ");
    let out = crmsync().args(["--json", "convert", &f, &c.path("o.ndjson")]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON summary on stdout");
    assert_eq!((s["rows_read"].as_u64(), s["written"].as_u64()), (Some(1), Some(0)));
    assert!(s["error"].as_str().is_some_and(|e| e.contains("t.json")), "{s}");
}

#[test]
fn max_errors_zero_stops_at_the_first_reject_only() {
    let c = Case::new();
    let clean = c.file("clean.csv", b"a,b\n1,2\n");
    convert_summary(&[&clean, &c.path("o.csv"), "--max-errors", "0"]);
    let dirty = c.file("dirty.csv", b"a,b\n1,2\n3\n");
    let (code, err) = c.convert(&[&dirty, &c.path("o2.csv"), "--max-errors", "0"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("row 3"), "{err}");
}

#[test]
fn text_after_a_closing_quote_rejects_the_row() {
    let c = Case::new();
    let f = c.file("q.csv", b"id,v\n1,\"q\"z\n2,\"x\" \n3,\"ok\"\n");
    let rejects = c.path("r.csv");
    let s = convert_summary(&[&f, &c.path("o.ndjson"), "--rejects", &rejects]);
    assert_eq!((s["written"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(2)));
    assert!(std::fs::read_to_string(&rejects).expect("r").contains("closing quote"));
}

#[test]
fn text_after_a_closing_quote_is_blamed_on_its_column() {
    let c = Case::new();
    // Quoted delimiters and line ends before the fault are no fields of
    // their own; CRLF and `;` files are counted alike. The long first rows
    // put the fault past the reader's first buffer.
    let filler = format!("\"{}\",\"a, b\",plain\r\n", "x".repeat(300)).repeat(2000);
    let text = format!(
        "name,notes,email\r\n\"Ada\",\"multi\r\nline, with commas\",a@x.com\r\n{filler}Bob,\"x, y\",\"bob@example.com\"x\r\n"
    );
    let f = c.file("q.csv", text.as_bytes());
    let semi = c.file("s.csv", b"a;b;c\n1;2;3\n\"4\";\"5\"z;6\n");
    for (file, row, column, read) in
        [(&f, "row 2003 (line 2004)", "email", "bob@example.comx"), (&semi, "row 3", "b", "5z")]
    {
        let rejects = c.path("r.csv");
        let (code, err) = c.convert(&[file, &c.path("o.ndjson"), "--rejects", &rejects]);
        assert_eq!(code, Some(0), "{err}");
        let said = format!("{row}: text follows a closing quote in column {column:?} (byte ");
        assert!(err.contains(&said) && err.contains(&format!("read as {read:?}")), "{err}");
        let mut r = csv::Reader::from_path(&rejects).expect("rejects");
        let first = r.records().next().expect("a reject").expect("a record");
        assert_eq!(first.get(first.len() - 2), Some(column), "{first:?}");
    }
}

#[test]
fn quote_faults_count_the_files_own_bytes() {
    let c = Case::new();
    // `x` is byte 26 of the plain file; a UTF-8 byte order mark puts it 3
    // bytes on (the reader once counted from after the mark). A GBK file's
    // bytes are not those read (张 is 2 bytes in GBK, 3 in UTF-8): its
    // messages name no byte rather than a wrong one.
    let plain = b"name,email\nAnn,\"ann@x.com\"x\n".to_vec();
    let bom = [b"\xEF\xBB\xBF".as_slice(), &plain].concat();
    let gbk = b"name,email\n\xD5\xC5,\"ann@x.com\"x\n";
    for (name, bytes, said) in [
        ("plain.csv", plain.as_slice(), " (byte 26 of the file; read as \"ann@x.comx\")"),
        ("bom.csv", &bom, " (byte 29 of the file; read as \"ann@x.comx\")"),
        ("gbk.csv", gbk, " (read as \"ann@x.comx\")"),
    ] {
        let f = c.file(name, bytes);
        let encoding = if name == "gbk.csv" { "gbk" } else { "auto" };
        let (code, err) = c.convert(&[&f, &c.path("o.ndjson"), "--encoding", encoding]);
        assert_eq!(code, Some(0), "{err}");
        assert!(err.contains(&format!("text follows a closing quote in column \"email\"{said}")), "{name}: {err}");
        assert!(err.contains("or read a file that escapes quotes with --escape"), "{err}");
    }
    let unclosed = c.file("u.csv", b"name,email\n\xD5\xC5,\"ann@x.com\n");
    let (code, err) = c.convert(&[&unclosed, &c.path("o.ndjson"), "--encoding", "gbk"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("line 2: a quoted field opened on line 2 is never closed"), "{err}");
    // Under --escape the hint is to escape the quote, not to use --escape.
    let escaped = c.file("e.csv", b"name,email\nAnn,\"a\\\"b\"x\n");
    let (code, err) = c.convert(&[&escaped, &c.path("o.ndjson"), "--escape", "\\"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("read as \"a\\\"bx\"") && err.contains("escape each quote inside it (\\\")"), "{err}");
    assert!(!err.contains("--escape"), "{err}");
}

#[test]
fn damaged_utf8_fails_naming_the_row_instead_of_becoming_mojibake() {
    let c = Case::new();
    let f = c.file("d.csv", b"name,city\nJos\xC3\xA9,Paris\nAnn,Z\xFF\xFEich\n");
    let (code, err) = c.convert(&[&f, &c.path("o.json")]);
    assert_eq!(code, Some(1));
    assert!(err.contains("d.csv: row 3") && err.contains("not valid UTF-8"), "{err}");
}

#[test]
fn binary_files_are_refused() {
    let c = Case::new();
    let mut bytes = b"\x7fELF".to_vec();
    bytes.extend(std::iter::repeat_n(0u8, 4096));
    let f = c.file("data.csv", &bytes);
    let (code, err) = c.convert(&[&f, &c.path("o.json")]);
    assert_eq!(code, Some(1));
    assert!(err.contains("binary"), "{err}");
}

/// A long extra value of a ragged row was once cut to 60 characters in the
/// rejects file, its only copy.
#[test]
fn regression_long_extra_values_are_kept_whole_in_the_rejects() {
    let c = Case::new();
    let long = "x".repeat(200);
    let f = c.file("r.csv", format!("a,b\n1,2,{long}\n").as_bytes());
    let rejects = c.path("rej.csv");
    convert_summary(&[&f, &c.path("o.json"), "--rejects", &rejects]);
    assert!(std::fs::read_to_string(&rejects).expect("rejects").contains(&long));
}

#[test]
fn a_closed_stdout_ends_a_command_quietly() {
    // `crmsync batches | head -0`: the reader is gone before the command
    // prints; it stops without a panic and without an error.
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str]| crmsync().current_dir(dir.path()).args(args).output().expect("runs");
    assert!(run(&["init"]).status.success());
    let file = testdata("import/contacts_v1.csv");
    let mapping = testdata("import/contacts.toml");
    let imported = run(&["import", file.to_str().expect("p"), "--mapping", mapping.to_str().expect("p")]);
    assert!(imported.status.success(), "{}", stderr_of(&imported));
    for args in [
        &["batches"][..],
        &["--json", "report", "quality", "--entity", "contacts"],
        &["export", "--entity", "contacts"],
        &["export", "--entity", "contacts", "--format", "xlsx"],
    ] {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("crmsync"))
            .current_dir(dir.path())
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawns");
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("waits");
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn a_closed_stderr_leaves_a_command_its_work_and_exit_code() {
    // `crmsync import … 2>&1 | true`: messages cannot be written; the file
    // is imported and exported all the same, with exit code 0.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = testdata("import/contacts_v1.csv");
    let mapping = testdata("import/contacts.toml");
    let out_csv = dir.path().join("out.csv");
    for args in [
        &["init"][..],
        &["import", file.to_str().expect("p"), "--mapping", mapping.to_str().expect("p")],
        &["export", "--entity", "contacts", "-o", out_csv.to_str().expect("p")],
    ] {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let status = std::process::Command::new(assert_cmd::cargo::cargo_bin("crmsync"))
            .current_dir(dir.path())
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(writer)
            .status()
            .expect("runs");
        assert_eq!(status.code(), Some(0), "{args:?}");
    }
    let exported = std::fs::read_to_string(&out_csv).expect("exported");
    assert_eq!(exported.lines().count(), 4, "{exported}");
}

#[test]
fn json_failures_say_so_in_json_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("crm.db").display());
    let run = |args: &[&str]| crmsync().arg("--db").arg(&db).arg("--json").args(args).output().expect("runs");
    let one_json = |out: &std::process::Output, code: i32| {
        assert_eq!(out.status.code(), Some(code), "{}", stderr_of(out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(text.lines().count(), 1, "one JSON object: {text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
        v
    };
    // A store never initialised, then an unknown batch.
    let v = one_json(&run(&["batches"]), 1);
    assert!(v["error"].as_str().is_some_and(|e| e.contains("crmsync init")), "{v}");
    assert!(run(&["init"]).status.success());
    assert_eq!(run(&["batches", "-n", "0"]).status.code(), Some(2), "listing no batches is a usage error");
    let v = one_json(&run(&["undo", "01NOSUCHBATCH"]), 1);
    assert_eq!(v["exit_code"], 1);
    // An empty file.
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "").expect("write");
    one_json(&run(&["import", empty.to_str().expect("p"), "--entity", "contacts"]), 1);
    // A usage error keeps its exit code, a mistyped option included.
    let v = one_json(&run(&["import", "--bogus", "x.csv"]), 2);
    assert_eq!(v["error"], "unexpected argument '--bogus' found", "{v}");
    let v = one_json(&run(&["import"]), 2);
    assert_eq!(v["error"], "the following required arguments were not provided: <INPUT>", "{v}");
    let v = one_json(&run(&["report"]), 2);
    assert_eq!(v["error"], "`crmsync report` needs a subcommand; see its --help", "{v}");
    let v = one_json(&run(&["export", "--entity", "contacts", "--format", "bogus", "--out", "x.bogus"]), 2);
    assert_eq!(v["exit_code"], 2, "{v}");
    // Records on stdout: the failure's JSON goes to stderr.
    let out = run(&["export", "--entity", "contacts", "--where", "email = "]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(stderr_of(&out).contains("\"exit_code\":2"), "{}", stderr_of(&out));
    // An import stopped by --max-errors prints its summary, with the error, once.
    let f = dir.path().join("bad.csv");
    std::fs::write(&f, "email,subscribed_at\na@x.com,never\n").expect("write");
    let out = run(&["import", f.to_str().expect("p"), "--entity", "contacts", "--max-errors", "1"]);
    let v = one_json(&out, 1);
    assert_eq!(v["rejected"], 1, "{v}");
    assert!(v["stopped"].as_str().is_some(), "{v}");
}

#[test]
fn rejected_rows_beyond_those_printed_are_counted_and_verbose_prints_each() {
    let db = Db::sqlite();
    let mut text = String::from("email\n");
    for i in 1..=10 {
        text.push_str(&format!("bad{i}\n"));
    }
    let f = db.file("bad.csv", &text);
    let rejects = db.path("r.csv");
    let r = rejects.to_str().expect("p");
    let printed = |verbose: bool| {
        let mut args = vec!["import", f.as_str(), "--entity", "contacts", "--rejects", r];
        if verbose {
            args.insert(0, "-v");
        }
        let err = stderr_of(&db.run(&args));
        (err.lines().filter(|l| l.starts_with("rejected ")).count(), err)
    };
    let (n, err) = printed(false);
    assert_eq!(n, 3, "{err}");
    assert!(err.contains(&format!("... 7 more rejected, each in {r}")), "{err}");
    let (n, err) = printed(true);
    assert_eq!(n, 10, "{err}");
    assert!(!err.contains("more rejected"), "{err}");
}

#[test]
fn a_domain_that_is_no_domain_rejects_its_row_as_company_field_or_link() {
    let db = Db::sqlite();
    let co = db.file("co.csv", "name,domain\nBaz,baz com\nQux,https://www.Qux.com/about\n");
    let s = db.json(&["import", &co, "--entity", "companies"]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(1)), "{s}");
    let c = db.file("c.csv", "email,company.name,company.domain\ng@x.com,Gee,not a domain\nh@x.com,Aitch,aitch.com\n");
    let out = db.run(&["--json", "import", &c, "--entity", "contacts"]);
    let err = stderr_of(&out);
    assert!(err.contains("row 2: company.domain: \"not a domain\" is not a domain"), "{err}");
    assert_eq!(db.count("SELECT count(*) FROM companies WHERE name = 'Gee'"), 0, "no company made from the bad row");
    assert_eq!(
        db.ok(&["export", "--entity", "companies", "--fields", "name,domain"]),
        "name,domain\nQux,qux.com\nAitch,aitch.com\n"
    );
}

on_both!(a_domain_is_one_companys_within_a_file_and_by_external_id, |db| {
    // Into an empty store (a bulk load) and again into a full one.
    let f = db.file("d.csv", "name,domain\nS1,w.com\nS2,w.com\nS3,https://www.W.com\nS4,v.com\n");
    let s = db.json(&["import", &f, "--entity", "companies"]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(2), Some(2)), "{s}");
    let g = db.file("g.csv", "name,domain\nS5,v.com\nS6,u.com\nS7,u.com\n");
    let out = db.run(&["import", &g, "--entity", "companies"]);
    let err = stderr_of(&out);
    assert!(
        err.contains("row 2: domain v.com is company \"S4\"'s")
            && err.contains("row 4: domain u.com is company \"S6\"'s"),
        "{err}"
    );
    // Found by its id in another system, a company may not take another's domain.
    let m = db.file(
        "ext.toml",
        "entity = \"companies\"\n[key]\nexternal_id = { system = \"erp\", from = \"Id\" }\n[fields]\nname = \"Name\"\ndomain = \"Domain\"\n",
    );
    let one = db.file("e1.csv", "Id,Name,Domain\nC1,Acme Inc,acme.com\nC2,Beta,beta.com\n");
    db.json(&["import", &one, "--mapping", &m]);
    let two = db.file("e2.csv", "Id,Name,Domain\nC1,Acme Inc,beta.com\nC2,Beta,beta.org\n");
    let s = db.json(&["import", &two, "--mapping", &m]);
    assert_eq!((s["updated"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(1)), "{s}");
    assert_eq!(db.count("SELECT count(*) FROM companies WHERE domain = 'beta.com'"), 0);
    assert_eq!(db.count("SELECT count(*) FROM companies WHERE domain = 'acme.com'"), 1);
});

#[test]
fn a_quote_fault_stays_with_its_own_row() {
    let c = Case::new();
    // A row rejected for its width that also has text after a quote: the
    // next, clean row is not blamed for it.
    let wide = c.file("w.csv", b"name,email,city\nBob,\"bob@x.com\"x,Paris,extra\nAl,al@x.com,Rome\n");
    let o = c.path("o.ndjson");
    let s = convert_summary(&[&wide, &o]);
    assert_eq!((s["written"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(1)), "{s}");
    // A header with such a fault would name a column by the glued text.
    let header = c.file("h.csv", b"name,\"email\"x,city\nBob,bob@example.com,Paris\n");
    let (code, err) = c.convert(&[&header, &o]);
    assert_eq!(code, Some(1));
    assert!(err.contains("row 1: the header has text after a closing quote in column 2"), "{err}");
    // With --escape '\', an escaped quote split between two reads of the
    // file (the backslash the last byte of the first 64 KiB) is no fault.
    let head = "name,note\n";
    let pad = "x".repeat(65536 - head.len() - 3 - 1);
    let split = c.file("e.csv", format!("{head}A,\"{pad}\\\"q\\\" end\"\nB,\"fine\"\n").as_bytes());
    let s = convert_summary(&[&split, &o, "--escape", "\\"]);
    assert_eq!((s["written"].as_u64(), s["rejected"].as_u64()), (Some(2), Some(0)), "{s}");
}

#[test]
fn options_for_another_kind_of_file_are_refused_not_ignored() {
    let c = Case::new();
    let csv = c.file("c.csv", b"name,email\nAnn,a@x.com\n");
    let xml = c.file("c.xml", b"<r><c><name>Ann</name></c></r>");
    let book = testdata("spreadsheets/prefixed.xlsx");
    let book = book.to_str().expect("p");
    for (input, flag, value, said) in [
        (csv.as_str(), "--sheet", "Leads", "--sheet does not apply to"),
        (&csv, "--record-path", "r/c", "--record-path does not apply to"),
        (&xml, "--delimiter", ";", "--delimiter does not apply to"),
        (book, "--escape", "\\", "--escape does not apply to"),
    ] {
        let (code, err) = c.convert(&[input, &c.path("o.json"), flag, value]);
        assert_eq!(code, Some(2), "{flag}: {err}");
        assert!(err.contains(said) && err.contains(": its name says it is "), "{flag}: {err}");
    }
    // A file whose format is found from its content.
    let bare = c.file("noext", b"<r><c><name>Ann</name></c></r>");
    let (code, err) = c.convert(&[&bare, &c.path("o.json"), "--delimiter", ";"]);
    assert_ne!(code, Some(0));
    assert!(
        err.contains("a delimiter is for CSV and TSV files; this is read as xml (name the format with --from)"),
        "{err}"
    );
    let (code, err) = c.convert(&[&csv, &c.path("o.json"), "--from", "csv", "--sheet", "1"]);
    assert!(
        code == Some(2) && err.contains("--sheet does not apply to") && err.contains("--from says it is csv"),
        "{err}"
    );
    // One JSON object on a line, read from the content, with a record path.
    let one = c.file("api", br#"{"total":2,"contacts":[{"name":"Ann"},{"name":"Bob"}]}"#);
    let out = c.path("o.ndjson");
    convert_summary(&[&one, &out, "--record-path", "contacts"]);
    assert_eq!(read_ndjson(Path::new(&out)).len(), 2);
    // A mapping's say on another kind of source (the sheet a CSV was
    // saved from) does not apply, whether the format is named or found.
    let m = c.file(
        "m.toml",
        b"entity = \"contacts\"\n[source]\nsheet = \"Leads\"\nrecord_path = \"r/c\"\n[fields]\nfirst_name = \"name\"\n",
    );
    let out = c.path("o.ndjson");
    convert_summary(&[&csv, &out, "--mapping", &m]);
    assert_eq!(read_ndjson(Path::new(&out)), [serde_json::json!({"first_name": "Ann"})]);
    let piped = crmsync()
        .args(["convert", "-", &out, "--mapping", &m])
        .write_stdin("name,email\nAnn,a@x.com\n")
        .output()
        .expect("runs");
    assert!(piped.status.success(), "{}", stderr_of(&piped));
    assert_eq!(read_ndjson(Path::new(&out)), [serde_json::json!({"first_name": "Ann"})]);
}

#[test]
fn a_dry_run_that_stops_says_what_it_did_before_as_the_import_would() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("crm.db").display());
    let file = dir.path().join("q.csv");
    std::fs::write(&file, "email,first_name\na@x.com,Ann\nb@x.com,\"Bob\nc@x.com,Cy\n").expect("writes");
    let run = |args: &[&str]| crmsync().arg("--db").arg(&db).args(args).output().expect("runs");
    assert!(run(&["init"]).status.success());
    let f = file.to_str().expect("path");
    let out = run(&["--json", "import", f, "--entity", "contacts", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON summary");
    assert_eq!(
        (s["rows_read"].as_u64(), s["inserted"].as_u64(), s["dry_run"].as_bool()),
        (Some(1), Some(1), Some(true)),
        "{s}"
    );
    let error = s["error"].as_str().expect("the error");
    assert!(
        error.starts_with("dry run of ") && error.contains("nothing written") && error.contains("never closed"),
        "{s}"
    );
    let err = stderr_of(&run(&["import", f, "--entity", "contacts", "--dry-run"]));
    assert!(err.contains("error: dry run of ") && err.contains("line 3"), "{err}");
    assert_eq!(run(&["--json", "batches"]).stdout, b"[]\n", "nothing written");
}

#[test]
fn an_export_whose_reader_goes_away_midway_ends_quietly() {
    // `crmsync export | head -1` on a store larger than the output buffer:
    // the write that finds the pipe closed is one of a record, midway.
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str]| crmsync().current_dir(dir.path()).args(args).output().expect("runs");
    assert!(run(&["init"]).status.success());
    let mut text = String::from("email,first_name,notes\n");
    for i in 0..20_000 {
        text.push_str(&format!("u{i}@example.com,Name{i},{}\n", "n".repeat(40)));
    }
    let f = dir.path().join("many.csv");
    std::fs::write(&f, text).expect("write");
    assert!(run(&["import", f.to_str().expect("p"), "--entity", "contacts", "-q"]).status.success());
    for format in ["csv", "ndjson"] {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("crmsync"))
            .current_dir(dir.path())
            .args(["export", "--entity", "contacts", "--format", format])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawns");
        let mut stdout = child.stdout.take().expect("stdout");
        let mut first = [0u8; 64];
        std::io::Read::read_exact(&mut stdout, &mut first).expect("reads");
        drop(stdout);
        let out = child.wait_with_output().expect("waits");
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(0), "{format}: {err}");
        assert!(!err.contains("error"), "{format}: {err}");
    }
}

#[test]
fn an_output_option_the_format_has_no_use_for_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str]| crmsync().current_dir(dir.path()).args(args).output().expect("runs");
    assert!(run(&["init"]).status.success());
    let src = dir.path().join("a.csv");
    std::fs::write(&src, "email\na@x.com\n").expect("write");
    let src = src.to_str().expect("p");
    for (args, said) in [
        (&["export", "--entity", "contacts", "-o", "x.json", "--bom"][..], "--bom marks a CSV file"),
        (&["export", "--entity", "contacts", "-o", "x.xlsx", "--bom"], "--bom marks a CSV file"),
        (&["export", "--entity", "contacts", "-o", "r.json", "--delimiter", ";"], "--delimiter separates"),
        (&["export", "--entity", "contacts", "-o", "r.tsv", "--delimiter", ";"], "(a TSV's is the tab)"),
        (&["export", "--entity", "contacts", "-o", "r.ndjson", "--raw"], "--raw leaves"),
        (&["export", "--entity", "contacts", "-o", "r.csv", "--pretty"], "--pretty indents"),
        (&["export", "--entity", "contacts", "-o", "x.xlsx", "--out-encoding", "gbk"], "--out-encoding names"),
        (&["convert", src, "o.json", "--out-delimiter", ";"], "--out-delimiter separates"),
        (&["convert", src, "o.ndjson", "--pretty"], "--pretty indents"),
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr_of(&out));
        assert!(stderr_of(&out).contains(said), "{args:?}: {}", stderr_of(&out));
    }
    // Where they fit, they are taken.
    assert!(run(&["export", "--entity", "contacts", "-o", "ok.csv", "--bom", "--delimiter", ";"]).status.success());
    assert!(run(&["export", "--entity", "contacts", "-o", "ok.json", "--pretty"]).status.success());
    assert!(!dir.path().join("x.json").exists(), "nothing written where refused");
}
