//! Encodings detected with `--encoding auto` and named explicitly.

use super::*;

const TEXT: &str = "姓名,城市,备注\n张伟,北京,\"大客户, 重点跟进\"\n李娜,上海,展会名单\n王芳,广州,老客户回访\n";

fn convert_bytes(bytes: &[u8], extra: &[&str]) -> (serde_json::Value, serde_json::Value) {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("in.csv");
    std::fs::write(&f, bytes).expect("write");
    let out = dir.path().join("o.json");
    let mut args = vec![f.to_str().expect("p"), out.to_str().expect("p")];
    args.extend_from_slice(extra);
    let s = convert_summary(&args);
    (s, read_json(&out))
}

fn expected(text: &str) -> serde_json::Value {
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let headers = rdr.headers().expect("h").clone();
    serde_json::Value::Array(
        rdr.records()
            .map(|r| {
                let r = r.expect("r");
                serde_json::Value::Object(
                    headers
                        .iter()
                        .zip(r.iter())
                        .map(|(h, v)| (h.to_string(), serde_json::Value::String(v.to_string())))
                        .collect(),
                )
            })
            .collect(),
    )
}

#[test]
fn detects_each_supported_encoding() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("UTF-8", TEXT.as_bytes().to_vec(), TEXT),
        ("UTF-8", [b"\xEF\xBB\xBF".as_slice(), TEXT.as_bytes()].concat(), TEXT),
        ("UTF-16LE", [vec![0xFF, 0xFE], TEXT.encode_utf16().flat_map(u16::to_le_bytes).collect()].concat(), TEXT),
        ("UTF-16BE", [vec![0xFE, 0xFF], TEXT.encode_utf16().flat_map(u16::to_be_bytes).collect()].concat(), TEXT),
        ("GBK", encoding_rs::GBK.encode(TEXT).0.into_owned(), TEXT),
    ];
    for (name, bytes, text) in cases {
        let (s, json) = convert_bytes(&bytes, &[]);
        assert_eq!(s["encoding"], name, "{name}");
        assert_eq!(json, expected(text), "{name}");
    }
    let big5 = "姓名,城市\n陳大文,臺北市\n林美玲,高雄市\n張家豪,臺中市\n";
    let (s, json) = convert_bytes(&encoding_rs::BIG5.encode(big5).0, &[]);
    assert_eq!((s["encoding"].as_str(), json), (Some("Big5"), expected(big5)));
    let sjis = "名前,都市\n山田太郎,東京都\n佐藤花子,大阪府\n鈴木一郎,名古屋市\n";
    let (s, json) = convert_bytes(&encoding_rs::SHIFT_JIS.encode(sjis).0, &[]);
    assert_eq!((s["encoding"].as_str(), json), (Some("Shift_JIS"), expected(sjis)));
    let latin = "name,city\nJosé,São Paulo\nRenée,Zürich\nFrançois,Besançon\n";
    let (s, json) = convert_bytes(&encoding_rs::WINDOWS_1252.encode(latin).0, &[]);
    assert_eq!((s["encoding"].as_str(), json), (Some("windows-1252"), expected(latin)));
}

#[test]
fn a_file_of_ascii_for_its_first_rows_is_read_in_the_encoding_of_its_later_ones() {
    // Past the first 64 KB, which `auto` read alone before: a list of
    // American names with its first `Zürich` thousands of rows in stopped
    // there as bad UTF-8.
    let ascii: String = std::iter::once("name,city\n".to_string())
        .chain((0..5000).map(|i| format!("Person {i},Springfield\n")))
        .collect();
    let latin = [ascii.as_str(), "José,São Paulo\nRenée,Zürich\nFrançois,Besançon\n"].concat();
    let chinese = [ascii.as_str(), "张伟,北京\n李娜,上海\n王芳,广州\n陈明,深圳\n"].concat();
    let cases = [
        ("windows-1252", encoding_rs::WINDOWS_1252.encode(&latin).0.into_owned(), &latin),
        ("GBK", encoding_rs::GBK.encode(&chinese).0.into_owned(), &chinese),
        ("UTF-8", latin.as_bytes().to_vec(), &latin),
        ("UTF-8", ascii.as_bytes().to_vec(), &ascii),
    ];
    for (name, bytes, text) in cases {
        assert!(bytes.len() > 64 * 1024 && bytes[..64 * 1024].is_ascii());
        let (s, json) = convert_bytes(&bytes, &[]);
        assert_eq!(s["encoding"], name, "{name}: {s}");
        assert_eq!(json, expected(text), "{name}");
    }
    // Told from the whole line, as at the top of a file: `François`, not `çois`.
    let francois = [ascii.as_str(), "François,Besançon\n"].concat();
    let (s, json) = convert_bytes(&encoding_rs::WINDOWS_1252.encode(&francois).0, &[]);
    assert_eq!((s["encoding"].as_str(), json), (Some("windows-1252"), expected(&francois)));
    // Chinese names whose first byte is two before the end of the first
    // 64 KB: two bytes are too few to tell by.
    let head = &ascii[..ascii[..65_000].rfind('\n').expect("a line") + 1];
    let edge = [
        head.as_bytes(),
        &b"N".repeat(64 * 1024 - 2 - head.len()),
        &encoding_rs::GBK.encode("张伟,北京\n李娜,上海\n").0,
    ]
    .concat();
    let (s, _) = convert_bytes(&edge, &[]);
    assert_eq!(s["encoding"], "GBK", "{s}");
    // UTF-8 text with a damaged byte after it is damaged UTF-8: its row is
    // named, the good rows are not read as mojibake (`JosÃ©`).
    let damaged = [ascii.as_bytes(), "José Müller Straße,Köln\n".as_bytes(), b"Bad\xc3(,x\n"].concat();
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("d.csv");
    std::fs::write(&f, &damaged).expect("write");
    let out = crmsync().args(["convert", f.to_str().expect("p"), "-", "--to", "ndjson"]).output().expect("runs");
    let err = stderr_of(&out);
    assert!(!out.status.success() && err.contains("row 5003") && err.contains("not valid UTF-8"), "{err}");
    // Read from a pipe, the bytes are read once: the first ones decide.
    let bytes = encoding_rs::WINDOWS_1252.encode(&latin).0.into_owned();
    let out = crmsync()
        .args(["convert", "-", "-", "--from", "csv", "--to", "ndjson"])
        .write_stdin(bytes)
        .output()
        .expect("runs");
    assert!(!out.status.success() && stderr_of(&out).contains("not valid UTF-8"), "{}", stderr_of(&out));
}

#[test]
fn explicit_names_and_gb18030() {
    let (s, json) = convert_bytes(&encoding_rs::GB18030.encode(TEXT).0, &["--encoding", "gb18030"]);
    assert_eq!(s["encoding"], "gb18030");
    assert_eq!(json, expected(TEXT));
    // Detected, it is named GB18030 when it has a character GBK has not.
    let rare = format!("{TEXT}赵𠀀,杭州,生僻字\n");
    let (s, json) = convert_bytes(&encoding_rs::GB18030.encode(&rare).0, &[]);
    assert_eq!(s["encoding"], "gb18030");
    assert_eq!(json, expected(&rare));
    let (s, _) = convert_bytes(&encoding_rs::GB18030.encode(TEXT).0, &[]);
    assert_eq!(s["encoding"], "GBK", "the same file without one is GBK");
    let out = crmsync()
        .args(["convert", "-", "-", "--to", "csv", "--encoding", "klingon"])
        .write_stdin("a\n")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("unknown encoding"));
}

#[test]
fn output_in_another_encoding() {
    let out = crmsync()
        .args(["convert", "-q", "-", "-", "--to", "csv", "--out-encoding", "gbk"])
        .write_stdin(TEXT)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(out.stdout, encoding_rs::GBK.encode(TEXT).0.into_owned());
    // A value the target encoding lacks rejects its record, with row and field.
    let out = crmsync()
        .args(["convert", "-", "-", "--to", "csv", "--out-encoding", "windows-1252"])
        .write_stdin("name,city\nJosé,Zürich\n张伟,北京\n")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, encoding_rs::WINDOWS_1252.encode("name,city\nJosé,Zürich\n").0.into_owned());
    let err = stderr_of(&out);
    assert!(err.contains("row 3") && err.contains("cannot be written in windows-1252"), "{err}");
    // UTF-16, with its byte order mark, read back as it was.
    for (name, bom) in [("utf-16le", [0xff, 0xfe]), ("utf-16be", [0xfe, 0xff])] {
        let out = crmsync()
            .args(["convert", "-q", "-", "-", "--to", "csv", "--out-encoding", name])
            .write_stdin(TEXT)
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", stderr_of(&out));
        assert_eq!(out.stdout[..2], bom, "{name}");
        let back = crmsync()
            .args(["convert", "-q", "-", "-", "--from", "csv", "--to", "csv"])
            .write_stdin(out.stdout)
            .output()
            .expect("runs");
        assert_eq!(String::from_utf8_lossy(&back.stdout), TEXT, "{name}");
    }
    // A byte order mark in GBK does not exist.
    let out = crmsync()
        .args(["convert", "-", "-", "--to", "csv", "--out-encoding", "gbk", "--bom"])
        .write_stdin(TEXT)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("drop --bom"), "{}", stderr_of(&out));
}

#[test]
fn xml_output_declares_its_encoding() {
    let out = crmsync()
        .args(["convert", "-q", "-", "-", "--from", "csv", "--to", "xml", "--out-encoding", "gbk"])
        .write_stdin(TEXT)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(out.stdout.starts_with(b"<?xml version=\"1.0\" encoding=\"GBK\"?>"));
    let back = crmsync()
        .args(["convert", "-q", "-", "-", "--from", "xml", "--to", "ndjson"])
        .write_stdin(out.stdout)
        .output()
        .expect("runs");
    assert!(back.status.success(), "{}", stderr_of(&back));
    assert!(String::from_utf8_lossy(&back.stdout).contains("大客户, 重点跟进"));
}

#[test]
fn a_short_file_chardetng_would_misread_is_asked_about_then_imported_as_named() {
    // Three Chinese names in GBK: too little text to tell, and the likeliest
    // reading (EUC-JP) is wrong. The import stops before writing anything.
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("crm.db").display());
    let f = dir.path().join("names.csv");
    std::fs::write(&f, encoding_rs::GBK.encode("email,first_name\np1@x.com,陈明\np2@x.com,李娜\np3@x.com,王芳\n").0)
        .expect("write");
    let f = f.to_str().expect("p");
    let run = |args: &[&str]| crmsync().arg("--db").arg(&db).args(args).output().expect("runs");
    assert!(run(&["init"]).status.success());
    let out = run(&["import", f, "--entity", "contacts"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains("cannot tell the file's encoding") && err.contains("as GBK: \"p1@x.com,陈明\""), "{err}");
    let out = run(&["--json", "import", f, "--entity", "contacts", "--encoding", "gbk"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!((s["inserted"].as_u64(), s["encoding"].as_str()), (Some(3), Some("GBK")), "{s}");
    let names = run(&["export", "--entity", "contacts", "--fields", "first_name"]);
    assert_eq!(String::from_utf8_lossy(&names.stdout), "first_name\n陈明\n李娜\n王芳\n");
}

#[test]
fn a_file_cut_inside_its_last_character_is_named_cut_not_read_as_another_encoding() {
    // Imported whole, then again cut inside its last character: the cut file
    // used to read as ISO-8859-5 or windows-1252 and overwrite every name.
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("crm.db").display());
    let mut rows = String::from("email,first_name,address.city\n");
    for i in 0..200 {
        rows.push_str(&format!("p{i}@x.cn,张伟{i},深圳\n"));
    }
    let whole = encoding_rs::GBK.encode(&rows).0.into_owned();
    let f = dir.path().join("names.csv");
    let run = |args: &[&str]| crmsync().arg("--db").arg(&db).args(args).output().expect("runs");
    assert!(run(&["init"]).status.success());
    std::fs::write(&f, &whole).expect("write");
    let f = f.to_str().expect("p");
    let out = run(&["--json", "import", f, "--entity", "contacts"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let lead_only = whole[..whole.len() - 2].to_vec();
    let stray_lead = [&whole[..whole.len() - 1], b"\xd5"].concat();
    for cut in [lead_only, stray_lead] {
        std::fs::write(f, &cut).expect("write");
        let out = run(&["import", f, "--entity", "contacts"]);
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("ends in the middle of a GBK character"), "{err}");
    }
    // GB18030 cut inside a four-byte character, after its second byte (a
    // digit): read as GB18030 still, the cut named.
    let text: String = (0..20).map(|i| format!("a{i}@x.com,张伟测试中文{i}\n")).collect();
    let long = encoding_rs::GB18030.encode(&format!("email,first_name\n{text}a9@x.com,张𠀀")).0.into_owned();
    std::fs::write(f, &long[..long.len() - 2]).expect("write");
    let out = run(&["import", f, "--entity", "contacts", "--dry-run"]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("ends in the middle of a"), "{err}");
    // Three rows: too little text to be sure of GBK, still not mojibake.
    let three = encoding_rs::GBK.encode("email,first_name\np1@x.cn,伟\np2@x.cn,娜\np3@x.cn,丽\n").0.into_owned();
    std::fs::write(f, [&three[..three.len() - 1], b"\xd5"].concat()).expect("write");
    let out = run(&["import", f, "--entity", "contacts"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let names = run(&[
        "export",
        "--entity",
        "contacts",
        "--fields",
        "first_name,address.city",
        "--where",
        "email = 'p199@x.cn'",
    ]);
    assert_eq!(String::from_utf8_lossy(&names.stdout), "first_name,address.city\n张伟199,深圳\n");
    let names = run(&["export", "--entity", "contacts", "--fields", "first_name", "--where", "email = 'p1@x.cn'"]);
    assert_eq!(String::from_utf8_lossy(&names.stdout), "first_name\n张伟1\n", "row 1 is never written as mojibake");
}

#[test]
fn rejects_of_a_file_meant_for_excel_carry_a_bom_so_excel_reads_them_right() {
    // A GBK file, or a UTF-8 one with a BOM, comes from Excel and its
    // rejects go back there to be fixed; a plain UTF-8 file's stay plain.
    let dir = tempfile::tempdir().expect("tempdir");
    let gbk = encoding_rs::GBK.encode("email,姓名\nbad,张伟\nok@x.cn,李娜\n").0.into_owned();
    let bom = [b"\xEF\xBB\xBF".as_slice(), "email,姓名\nbad,张伟\n".as_bytes()].concat();
    let plain = "email,姓名\nbad,张伟\n".as_bytes().to_vec();
    for (name, bytes, with_bom) in [("gbk.csv", gbk, true), ("bom.csv", bom, true), ("plain.csv", plain, false)] {
        let f = dir.path().join(name);
        std::fs::write(&f, bytes).expect("write");
        let rejects = dir.path().join(format!("{name}.rej.csv"));
        let out = dir.path().join(format!("{name}.ndjson"));
        let m = dir.path().join("m.toml");
        std::fs::write(
            &m,
            "entity = \"contacts\"\n[fields]\nemail = { from = \"email\", type = \"email\" }\nfull_name = \"姓名\"\n",
        )
        .expect("mapping");
        let args = [
            f.to_str().expect("p"),
            out.to_str().expect("p"),
            "--mapping",
            m.to_str().expect("p"),
            "--rejects",
            rejects.to_str().expect("p"),
        ];
        let s = convert_summary(&args);
        assert_eq!(s["rejected"].as_u64(), Some(1), "{name}: {s}");
        let text = std::fs::read(&rejects).expect("rejects");
        assert_eq!(text.starts_with(b"\xEF\xBB\xBFemail,"), with_bom, "{name}: {:?}", String::from_utf8_lossy(&text));
        assert!(String::from_utf8_lossy(&text).contains("bad,张伟"), "{name}");
    }
}

#[test]
fn a_mappings_encoding_gives_way_to_a_file_in_utf8() {
    // `mapping suggest` wrote the Windows-1252 it found in last month's
    // export into the mapping; this month's export is UTF-8 (with a BOM,
    // or without).
    let db = crate::db::Db::sqlite();
    let last = db.path("last.csv");
    std::fs::write(&last, encoding_rs::WINDOWS_1252.encode("Email;First Name;City\r\nj@m.de;Jürgen;Köln\r\n").0)
        .expect("write");
    let m = db.path("m.toml");
    db.ok(&["mapping", "suggest", last.to_str().expect("p"), "--entity", "contacts", "-o", m.to_str().expect("p")]);
    let m = m.to_str().expect("p");
    assert!(std::fs::read_to_string(m).expect("mapping").contains("windows-1252"));
    let plain = db.file("now.csv", "Email;First Name;City\r\nz@z.de;Zoë;Düsseldorf\r\n");
    let bom = db.path("bom.csv");
    std::fs::write(&bom, "\u{feff}Email;First Name;City\r\nw@w.de;Weiß;Görlitz\r\n").expect("write");
    for (file, bom) in [(plain.as_str(), false), (bom.to_str().expect("p"), true)] {
        let out = db.run(&["--json", "import", file, "--mapping", m]);
        assert!(out.status.success(), "{}", stderr_of(&out));
        let said = stderr_of(&out);
        let why = if bom { "by its byte order mark" } else { "its text is UTF-8" };
        assert!(
            said.contains(&format!("is read as UTF-8 ({why}), not as the mapping's [source] encoding windows-1252")),
            "{said}"
        );
    }
    db.json(&["import", last.to_str().expect("p"), "--mapping", m]);
    let out = db.ok(&["export", "--entity", "contacts", "--fields", "email,first_name,address.city"]);
    for row in ["z@z.de,Zoë,Düsseldorf", "w@w.de,Weiß,Görlitz", "j@m.de,Jürgen,Köln"] {
        assert!(out.contains(row), "{row}: {out}");
    }
    // Named on the command line, an encoding is the file's: read as told.
    let s = db.json(&["import", &plain, "--mapping", m, "--encoding", "windows-1252", "--dry-run"]);
    assert_eq!(s["encoding"], "windows-1252", "{s}");
}
