//! `crmsync convert`: formats, dialects, mappings and summaries.

use super::*;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write");
    p.to_string_lossy().into_owned()
}

#[test]
fn csv_to_json_keeps_text_exactly_and_summary_adds_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(dir.path(), "c.csv", b"zip,phone,amount,flag\n02134,0086 10 1234,1.50,TRUE\n");
    let out = dir.path().join("o.json");
    let s = convert_summary(&[&f, out.to_str().expect("p")]);
    for key in ["rows_read", "written", "rejected"] {
        assert!(s[key].is_u64(), "{key} in {s}");
    }
    assert_eq!(s["rows_read"].as_u64(), Some(s["written"].as_u64().unwrap_or(0) + s["rejected"].as_u64().unwrap_or(0)));
    assert_eq!(
        read_json(&out),
        serde_json::json!([{"zip": "02134", "phone": "0086 10 1234", "amount": "1.50", "flag": "TRUE"}])
    );
}

#[test]
fn stdin_to_stdout_with_explicit_formats() {
    let out =
        crmsync().args(["convert", "-q", "-", "-", "--to", "ndjson"]).write_stdin("a;b\n1;2\n").output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "{\"a\":\"1\",\"b\":\"2\"}\n");
    let out = crmsync()
        .args(["convert", "-q", "-", "-", "--from", "ndjson", "--to", "tsv"])
        .write_stdin("{\"a\":\"x\\ty\"}\n")
        .output()
        .expect("runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a\n\"x\ty\"\n");
}

#[test]
fn excel_habits_sep_line_bom_semicolons_crlf() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(dir.path(), "x.csv", b"sep=;\r\n\xEF\xBB\xBFName;City\r\nAnn;\"Paris; France\"\r\n");
    let out = dir.path().join("o.json");
    let s = convert_summary(&[&f, out.to_str().expect("p")]);
    assert_eq!(s["delimiter"], ";");
    assert_eq!(read_json(&out), serde_json::json!([{"Name": "Ann", "City": "Paris; France"}]));
    let f = write(dir.path(), "y.csv", b"\xEF\xBB\xBFName;City\r\nAnn;Paris\r\nBob;Rome\r\n");
    let s = convert_summary(&[&f, out.to_str().expect("p")]);
    assert_eq!((s["delimiter"].as_str(), s["encoding"].as_str()), (Some(";"), Some("UTF-8")));
    assert_eq!(read_json(&out)[1], serde_json::json!({"Name": "Bob", "City": "Rome"}));
}

#[test]
fn no_header_files_get_positional_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(dir.path(), "x.csv", b"Ann,a@x.com\nBob,b@x.com\n");
    let out = dir.path().join("o.ndjson");
    convert_summary(&[&f, out.to_str().expect("p"), "--no-header"]);
    assert_eq!(read_ndjson(&out)[1], serde_json::json!({"col1": "Bob", "col2": "b@x.com"}));
}

#[test]
fn nested_json_flattens_to_dotted_columns_and_back() {
    // Objects are dotted columns, and come back as objects; a list of
    // values is one cell, `a; b`, as an export writes it and import reads
    // it, whatever its length (a column per item would change with the
    // records); a list of objects a column per field of each.
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(
        dir.path(),
        "n.json",
        br#"[{"name": "Ann", "address": {"city": "Paris", "zip": "75001"}, "tags": ["a", "b"],
              "phones": [{"kind": "work", "number": "01 23"}]},
             {"name": "Bob", "address": {"city": "Lyon", "zip": "69001"}, "tags": ["c; d", "e", "f"],
              "phones": [{"kind": "home", "number": "04 56"}]}]"#,
    );
    let csv = dir.path().join("o.csv");
    convert_summary(&[&f, csv.to_str().expect("p")]);
    assert_eq!(
        std::fs::read_to_string(&csv).expect("csv"),
        "name,address.city,address.zip,tags,phones.0.kind,phones.0.number\nAnn,Paris,75001,a; b,work,01 23\n\
         Bob,Lyon,69001,\"\"\"c; d\"\"; e; f\",home,04 56\n"
    );
    let back = dir.path().join("back.json");
    convert_summary(&[csv.to_str().expect("p"), back.to_str().expect("p")]);
    assert_eq!(
        read_json(&back),
        serde_json::json!([
            {"name": "Ann", "address": {"city": "Paris", "zip": "75001"}, "tags": "a; b",
             "phones": [{"kind": "work", "number": "01 23"}]},
            {"name": "Bob", "address": {"city": "Lyon", "zip": "69001"}, "tags": "\"c; d\"; e; f",
             "phones": [{"kind": "home", "number": "04 56"}]}
        ])
    );
}

#[test]
fn an_exported_json_converted_to_csv_imports_without_a_mapping() {
    // Lists of any length, one cell each: the CSV imports as the JSON does.
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(
        dir.path(),
        "c.ndjson",
        b"{\"email\":\"a@x.com\",\"tags\":[\"vip\",\"eu\"]}\n{\"email\":\"b@x.com\",\"tags\":[\"eu\"]}\n\
          {\"email\":\"c@x.com\",\"tags\":[]}\n",
    );
    let csv = dir.path().join("c.csv");
    convert_summary(&[&f, csv.to_str().expect("p")]);
    assert_eq!(std::fs::read_to_string(&csv).expect("csv"), "email,tags\na@x.com,vip; eu\nb@x.com,eu\nc@x.com,\n");
    let db = dir.path().join("crm.db");
    let db = db.to_str().expect("p");
    let ok = |args: &[&str]| {
        let out = crmsync().args([&["--db", db][..], args].concat()).output().expect("runs");
        assert!(out.status.success(), "{}", stderr_of(&out));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    ok(&["init"]);
    ok(&["import", csv.to_str().expect("p"), "--entity", "contacts"]);
    assert_eq!(
        ok(&["export", "--entity", "contacts", "--fields", "email,tags"]),
        "email,tags\na@x.com,vip; eu\nb@x.com,eu\nc@x.com,\n"
    );
}

#[test]
fn xlsx_round_trip_keeps_types_and_leading_zeros() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(dir.path(), "c.csv", "name,zip,since\n张伟,02134,2024-02-29\nAnn,10001,2023-01-05\n".as_bytes());
    let m = write(dir.path(), "m.toml", b"entity = \"contacts\"\n[fields]\nfull_name = \"name\"\n\"address.postal_code\" = \"zip\"\nsubscribed_at = { from = \"since\", type = \"date\" }\n");
    let xlsx = dir.path().join("o.xlsx");
    convert_summary(&[&f, xlsx.to_str().expect("p"), "--mapping", &m]);
    let back = dir.path().join("back.ndjson");
    let s = convert_summary(&[xlsx.to_str().expect("p"), back.to_str().expect("p")]);
    assert_eq!(s["sheet"], "Sheet1");
    let recs = read_ndjson(&back);
    assert_eq!(
        recs[0],
        serde_json::json!({"full_name": "张伟", "address": {"postal_code": "02134"}, "subscribed_at": "2024-02-29"})
    );
    let s = convert_summary(&[xlsx.to_str().expect("p"), back.to_str().expect("p"), "--sheet", "1"]);
    assert_eq!(s["written"].as_u64(), Some(2));
    let out = crmsync()
        .args(["convert", xlsx.to_str().expect("p"), back.to_str().expect("p"), "--sheet", "Nope"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("\"Sheet1\""));
}

#[test]
fn a_sheet_has_a_column_for_every_field_its_first_records_carry() {
    // The second record brings `b`: a sheet written from the first alone
    // rejected it, where CSV wrote both.
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(dir.path(), "two.ndjson", b"{\"a\":1}\n{\"a\":2,\"b\":\"x\"}\n");
    let xlsx = dir.path().join("two.xlsx");
    let s = convert_summary(&[&f, xlsx.to_str().expect("p")]);
    assert_eq!((s["written"].as_u64(), s["rejected"].as_u64()), (Some(2), Some(0)), "{s}");
    let back = dir.path().join("back.ndjson");
    convert_summary(&[xlsx.to_str().expect("p"), back.to_str().expect("p")]);
    assert_eq!(read_ndjson(&back), [serde_json::json!({"a": 1, "b": ""}), serde_json::json!({"a": 2, "b": "x"})]);
    // A cell too long for a sheet rejects its own record, not those held with it.
    let long = "y".repeat(40_000);
    let f = write(dir.path(), "long.ndjson", format!("{{\"a\":1}}\n{{\"a\":\"{long}\"}}\n{{\"a\":3}}\n").as_bytes());
    let out = crmsync().args(["--json", "convert", &f, xlsx.to_str().expect("p")]).output().expect("runs");
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!((s["written"].as_u64(), s["rejected"].as_u64()), (Some(2), Some(1)), "{s}");
    assert!(stderr_of(&out).contains("row 2") && stderr_of(&out).contains("32,767"), "{}", stderr_of(&out));
}

#[test]
fn a_formula_error_cell_rejects_its_row_naming_the_cell() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sheet = testdata("spreadsheets/formula-errors.xlsx");
    let out = dir.path().join("o.csv");
    let rejects = dir.path().join("r.csv");
    let run = crmsync()
        .args(["--json", "convert", sheet.to_str().expect("p"), out.to_str().expect("p")])
        .args(["--rejects", rejects.to_str().expect("p")])
        .output()
        .expect("runs");
    let s: serde_json::Value = serde_json::from_slice(&run.stdout).expect("json");
    assert_eq!((s["written"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(1)), "{s}");
    assert_eq!(std::fs::read_to_string(&out).expect("out"), "email,first_name\nada@x.com,Ada\n");
    let r = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(r.contains("bob@x.com,#N/A,3,first_name,\"cell B3 holds the spreadsheet error #N/A"), "{r}");
    // Fed back as it is, the error is still no value.
    let again = dir.path().join("r2.csv");
    let run = crmsync()
        .args(["--json", "convert", rejects.to_str().expect("p"), out.to_str().expect("p")])
        .args(["--rejects", again.to_str().expect("p")])
        .output()
        .expect("runs");
    let s: serde_json::Value = serde_json::from_slice(&run.stdout).expect("json");
    assert_eq!((s["written"].as_u64(), s["rejected"].as_u64()), (Some(0), Some(1)), "{s}");
    // Mended, it goes through.
    std::fs::write(&rejects, r.replace("bob@x.com,#N/A", "bob@x.com,Bob")).expect("mend");
    let s = convert_summary(&[rejects.to_str().expect("p"), out.to_str().expect("p")]);
    assert_eq!(s["written"].as_u64(), Some(1), "{s}");
}

#[test]
fn a_typed_mapping_converts_a_real_customer_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = write(
        dir.path(),
        "m.toml",
        br#"entity = "contacts"
[key]
fields = ["email"]
[fields]
"custom.customer_id" = "Customer Id"
full_name = { from = ["First Name", "Last Name"], join = " " }
email = { from = "Email", type = "email", required = true }
phone = { from = "Phone 1", type = "phone", region = "US" }
"company.name" = { from = "Company", transform = ["trim"] }
"address.country" = { from = "Country", type = "country" }
subscribed_at = { from = "Subscription Date", type = "date" }
"custom.website" = { from = "Website", type = "url" }
"#,
    );
    let out = dir.path().join("o.ndjson");
    let rejects = dir.path().join("r.csv");
    let s = convert_summary(&[
        &corpus("customers-datablist/customers-100.csv"),
        out.to_str().expect("p"),
        "--mapping",
        &m,
        "--rejects",
        rejects.to_str().expect("p"),
    ]);
    assert_eq!(s["rows_read"].as_u64(), Some(100));
    let recs = read_ndjson(&out);
    assert_eq!(
        recs[0],
        serde_json::json!({
            "custom": {"customer_id": "DD37Cf93aecA6Dc", "website": "http://www.stephenson.com/"},
            "full_name": "Sheryl Baxter",
            "email": "zunigavanessa@smith.info",
            "phone": "+12290775154",
            "company": {"name": "Rasmussen Group"},
            "address": {"country": "CL"},
            "subscribed_at": "2020-08-24"
        })
    );
    assert_eq!(s["written"].as_u64().unwrap_or(0) + s["rejected"].as_u64().unwrap_or(0), 100);
}

#[test]
fn the_same_mapping_runs_in_reverse() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = write(dir.path(), "erp.csv", "名,姓,加入日期,性别\n伟,张,05/01/2023,男\n".as_bytes());
    let m = write(
        dir.path(),
        "m.toml",
        r#"entity = "contacts"
[fields]
full_name = { from = ["姓", "名"], join = " " }
subscribed_at = { from = "加入日期", type = "date", format = "%d/%m/%Y" }
"custom.gender" = { from = "性别", map = { "男" = "male", "女" = "female" } }
"#
        .as_bytes(),
    );
    let crm = dir.path().join("crm.csv");
    convert_summary(&[&src, crm.to_str().expect("p"), "--mapping", &m]);
    assert_eq!(
        std::fs::read_to_string(&crm).expect("crm"),
        "full_name,subscribed_at,custom.gender\n张 伟,2023-01-05,male\n"
    );
    let back = dir.path().join("back.csv");
    convert_summary(&[crm.to_str().expect("p"), back.to_str().expect("p"), "--mapping", &m, "--reverse"]);
    assert_eq!(std::fs::read_to_string(&back).expect("back"), "姓,名,加入日期,性别\n张,伟,05/01/2023,男\n");
}

#[test]
fn rejects_can_be_fixed_and_fed_back_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(dir.path(), "c.csv", b"Name,Email\nAnn,ann@x.com\nBob,bob-at-x.com\n");
    let m = write(
        dir.path(),
        "m.toml",
        b"entity = \"contacts\"\n[fields]\nfull_name = \"Name\"\nemail = { from = \"Email\", type = \"email\" }\n",
    );
    let out = dir.path().join("o.csv");
    let rejects = dir.path().join("r.csv");
    convert_summary(&[&f, out.to_str().expect("p"), "--mapping", &m, "--rejects", rejects.to_str().expect("p")]);
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(text.starts_with("Name,Email,_row,_field,_error\nBob,bob-at-x.com,3,email,"), "{text}");
    std::fs::write(&rejects, text.replace("bob-at-x.com", "bob@x.com")).expect("fix");
    let fixed = dir.path().join("fixed.csv");
    let s = convert_summary(&[rejects.to_str().expect("p"), fixed.to_str().expect("p"), "--mapping", &m]);
    assert_eq!((s["written"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(0)));
    assert_eq!(std::fs::read_to_string(&fixed).expect("fixed"), "full_name,email\nBob,bob@x.com\n");
}

#[test]
fn a_short_row_fed_back_with_its_cells_still_empty_is_still_short() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(dir.path(), "c.csv", "Name,Email,Tier\u{200b}\nAnn,ann@x.com,gold\nBob,bob@x.com\n".as_bytes());
    let out = dir.path().join("o.csv");
    let rejects = dir.path().join("r.csv");
    convert_summary(&[&f, out.to_str().expect("p"), "--rejects", rejects.to_str().expect("p")]);
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(text.contains("Bob,bob@x.com,,3,Tier\u{200b},"), "padded: {text}");
    // Unchanged, it is rejected again rather than taken with an empty tier.
    let again = dir.path().join("again.csv");
    let rejects2 = dir.path().join("r2.csv");
    let s = convert_summary(&[
        rejects.to_str().expect("p"),
        again.to_str().expect("p"),
        "--rejects",
        rejects2.to_str().expect("p"),
    ]);
    assert_eq!((s["written"].as_u64(), s["rejected"].as_u64()), (Some(0), Some(1)), "{s}");
    let text2 = std::fs::read_to_string(&rejects2).expect("rejects");
    assert_eq!(text2.matches("(still: fill the cells from column").count(), 1, "{text2}");
    // Again and again: still one note.
    let rejects3 = dir.path().join("r3.csv");
    convert_summary(&[
        rejects2.to_str().expect("p"),
        again.to_str().expect("p"),
        "--rejects",
        rejects3.to_str().expect("p"),
    ]);
    let text3 = std::fs::read_to_string(&rejects3).expect("rejects");
    assert_eq!(text3.matches("(still: fill the cells from column").count(), 1, "{text3}");
    // Filled, it goes through.
    std::fs::write(&rejects, text.replace("bob@x.com,,", "bob@x.com,silver,")).expect("fix");
    let s = convert_summary(&[rejects.to_str().expect("p"), again.to_str().expect("p")]);
    assert_eq!((s["written"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(0)), "{s}");
}

#[test]
fn json_schema_rejects_records_that_break_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(dir.path(), "c.csv", b"Name,Zip\nAnn,02134\nBob,ABC\n");
    let m = write(
        dir.path(),
        "m.toml",
        b"entity = \"contacts\"\n[fields]\nfull_name = \"Name\"\n\"address.postal_code\" = \"Zip\"\n",
    );
    let schema = write(
        dir.path(),
        "s.json",
        br#"{"type":"object","properties":{"address":{"properties":{"postal_code":{"pattern":"^[0-9]{5}$"}}}}}"#,
    );
    let rejects = dir.path().join("r.csv");
    let s = convert_summary(&[
        &f,
        dir.path().join("o.json").to_str().expect("p"),
        "--mapping",
        &m,
        "--schema",
        &schema,
        "--rejects",
        rejects.to_str().expect("p"),
    ]);
    assert_eq!((s["written"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(1)));
    assert!(std::fs::read_to_string(&rejects).expect("r").contains("Bob,ABC,3,address.postal_code,"));
}

#[test]
fn formula_cells_are_neutralized_unless_raw() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(dir.path(), "c.ndjson", b"{\"a\":\"=HYPERLINK(\\\"x\\\")\",\"b\":\"-5\",\"c\":\"@SUM(1)\"}\n");
    let out = dir.path().join("o.csv");
    convert_summary(&[&f, out.to_str().expect("p")]);
    assert_eq!(std::fs::read_to_string(&out).expect("o"), "a,b,c\n\"'=HYPERLINK(\"\"x\"\")\",-5,'@SUM(1)\n");
    convert_summary(&[&f, out.to_str().expect("p"), "--raw"]);
    assert_eq!(std::fs::read_to_string(&out).expect("o"), "a,b,c\n\"=HYPERLINK(\"\"x\"\")\",-5,@SUM(1)\n");
}

#[test]
fn xml_output_and_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(dir.path(), "c.csv", b"Customer Id,name,address.city\nA1,Ann & Co,Paris\n");
    let xml = dir.path().join("o.xml");
    convert_summary(&[&f, xml.to_str().expect("p"), "--out-record-path", "customers/customer"]);
    let text = std::fs::read_to_string(&xml).expect("xml");
    assert!(text.contains("<customers>\n  <customer>\n    <Customer_Id>A1</Customer_Id>\n    <name>Ann &amp; Co</name>\n    <address>\n      <city>Paris</city>"), "{text}");
    let note = crmsync()
        .args(["convert", &f, xml.to_str().expect("p"), "--out-record-path", "customers/customer"])
        .output()
        .expect("runs");
    assert!(stderr_of(&note).contains("\"Customer Id\""), "the renaming is said: {}", stderr_of(&note));
    let back = dir.path().join("b.ndjson");
    convert_summary(&[xml.to_str().expect("p"), back.to_str().expect("p")]);
    assert_eq!(
        read_ndjson(&back)[0],
        serde_json::json!({"Customer_Id": "A1", "name": "Ann & Co", "address": {"city": "Paris"}})
    );
}

#[test]
fn quiet_and_piped_runs_print_no_progress() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(dir.path(), "c.csv", b"a\n1\n");
    let out =
        crmsync().args(["convert", "-q", &f, dir.path().join("o.json").to_str().expect("p")]).output().expect("runs");
    assert!(out.stderr.is_empty(), "{}", stderr_of(&out));
    let out = crmsync().args(["convert", &f, dir.path().join("o.json").to_str().expect("p")]).output().expect("runs");
    let err = stderr_of(&out);
    assert!(err.contains("1 row read") && !err.contains('\r') && !err.contains('\u{1b}'), "{err:?}");
}

#[test]
fn ods_sheets_by_name_and_number_with_typed_cells() {
    let ods = testdata("spreadsheets/contacts.ods");
    let out = crmsync()
        .args(["convert", "-q", ods.to_str().expect("p"), "-", "--to", "ndjson", "--sheet", "Contacts"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap_or("")).expect("json");
    assert_eq!(
        first,
        serde_json::json!({"Name": "张伟", "Zip": "02134", "Signed Up": "2024-02-29", "Orders": 12, "VIP": true})
    );
    let by_number = crmsync()
        .args(["convert", "-q", ods.to_str().expect("p"), "-", "--to", "ndjson", "--sheet", "2"])
        .output()
        .expect("runs");
    assert_eq!(by_number.stdout, out.stdout);
    // A date cell mapped to a date field stays the same day.
    let dir = tempfile::tempdir().expect("tempdir");
    let m = write(dir.path(), "m.toml", b"entity = \"contacts\"\n[fields]\nsubscribed_at = { from = \"Signed Up\", type = \"date\", format = \"%d.%m.%Y\" }\n");
    let csv = dir.path().join("o.csv");
    convert_summary(&[ods.to_str().expect("p"), csv.to_str().expect("p"), "--sheet", "Contacts", "--mapping", &m]);
    assert_eq!(std::fs::read_to_string(&csv).expect("csv"), "subscribed_at\n2024-02-29\n2023-01-05\n");
}

#[test]
fn ods_merged_cells_a_title_across_and_a_company_down() {
    // A title merged across the columns is passed over, and a company
    // merged down its contacts' rows belongs to each of them: calamine
    // gives no ODS merges, so the title was the header and Bob had no
    // company (nor the second row its ZIP code as shown).
    let ods = testdata("spreadsheets/trade-show.ods");
    let out =
        crmsync().args(["convert", "-q", ods.to_str().expect("p"), "-", "--to", "ndjson"]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"Company\":\"Acme Corp\",\"Zip\":\"02134\",\"Name\":\"Ann Lee\",\"Email\":\"ann@acme.example\"}\n\
         {\"Company\":\"Acme Corp\",\"Zip\":\"02134\",\"Name\":\"Bob Ma\",\"Email\":\"bob@acme.example\"}\n\
         {\"Company\":\"Globex\",\"Zip\":10001,\"Name\":\"Cy Wu\",\"Email\":\"cy@globex.example\"}\n"
    );
}

#[test]
fn xlsx_merges_written_with_a_namespace_prefix_are_read() {
    // `<x:mergeCell …>` (OpenXML SDK writers): the merges were looked for
    // as `<mergeCell ` only, and Bo's rows had no company.
    let book = testdata("spreadsheets/prefixed.xlsx");
    let out =
        crmsync().args(["convert", "-q", book.to_str().expect("p"), "-", "--to", "ndjson"]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 5, "{text}");
    for row in &rows[..3] {
        assert!(row.contains("\"company\":\"Acme\",\"zip\":\"02134\""), "{text}");
    }
}

#[test]
fn xls_reads_dates_as_dates_and_text_as_text() {
    let xls = testdata("spreadsheets/contacts.xls");
    let out =
        crmsync().args(["convert", "-q", xls.to_str().expect("p"), "-", "--to", "ndjson"]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let recs: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    assert_eq!(recs[0], serde_json::json!({"Name": "张伟", "Zip": "02134", "Signed Up": "2024-02-29", "Orders": 12}));
    assert_eq!(recs[1]["Orders"], serde_json::json!(3.5));
}

#[test]
fn line_breaks_inside_notes_do_not_decide_the_files_line_ends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("o.json");
    // Classic Mac line ends; notes with more `\n`s than the file has rows.
    let f = write(dir.path(), "mac.csv", b"name,note\rAnn,\"a\nb\nc\nd\"\rBob,\"e\nf\ng\"\r");
    let s = convert_summary(&[&f, out.to_str().expect("p")]);
    assert_eq!(s["rows_read"], 2, "{s}");
    assert_eq!(
        read_json(&out),
        serde_json::json!([{"name": "Ann", "note": "a\nb\nc\nd"}, {"name": "Bob", "note": "e\nf\ng"}])
    );
    // CRLF line ends; notes with more bare `\r`s than the file has rows:
    // they stay as written.
    let f = write(dir.path(), "crlf.csv", b"name,note\r\nAnn,\"a\r\rb\r\rc\"\r\nBob,\"d\re\rf\"\r\n");
    convert_summary(&[&f, out.to_str().expect("p")]);
    assert_eq!(
        read_json(&out),
        serde_json::json!([{"name": "Ann", "note": "a\r\rb\r\rc"}, {"name": "Bob", "note": "d\re\rf"}])
    );
}

#[test]
fn a_header_row_given_wrong_is_told_where_the_columns_are() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("o.ndjson");
    let m = write(
        dir.path(),
        "m.toml",
        b"entity = \"contacts\"\n[source]\nheader_row = 5\n[key]\nfields = [\"email\"]\n[fields]\nfirst_name = \"name\"\nemail = \"email\"\n",
    );
    // The sheet's data start on row 4, its header.
    let book = testdata("spreadsheets/prefixed.xlsx");
    let csv = write(dir.path(), "r.csv", b"Report\n\nExported today\nname,email\nAnn,ann@x.com\n");
    for input in [book.to_str().expect("p"), &csv] {
        let run = |extra: &[&str]| {
            crmsync().args(["convert", input, out.to_str().expect("p")]).args(extra).output().expect("runs")
        };
        let err = stderr_of(&run(&["--mapping", &m]));
        assert!(err.contains("The columns the mapping reads are on row 4, not row 5: pass --header-row 4"), "{err}");
        let err = stderr_of(&run(&["--mapping", &m, "--header-row", "2"]));
        assert!(err.contains("on row 4, not row 2"), "{err}");
        assert!(run(&["--mapping", &m, "--header-row", "4"]).status.success());
    }
    // A header with its names padded is no match for the mapping's names;
    // the header itself, the first row with data, is never the hint.
    let padded = write(dir.path(), "p.csv", b"Report\nname, email \nAnn,ann@x.com\n");
    let bare = write(
        dir.path(),
        "bare.toml",
        b"entity = \"contacts\"\n[key]\nfields = [\"email\"]\n[fields]\nfirst_name = \"name\"\nemail = \"email\"\n",
    );
    let out = crmsync().args(["convert", &padded, "-", "--to", "csv", "--mapping", &bare]).output().expect("runs");
    assert!(!stderr_of(&out).contains("--header-row"), "{}", stderr_of(&out));
    let dup = write(dir.path(), "d.csv", b"name,email,email\nAnn,ann@x.com,a@x.com\n");
    let out = crmsync().args(["convert", &dup, "-", "--to", "csv", "--mapping", &bare]).output().expect("runs");
    assert!(stderr_of(&out).contains("both named") && !stderr_of(&out).contains("--header-row"), "{}", stderr_of(&out));
}

#[test]
fn an_american_number_in_a_german_file_is_rejected_not_dialled_in_germany() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = write(
        dir.path(),
        "kunden.csv",
        "Name,Telefon\nAnna,030 1234567\nBob,(212) 555-0143\nCem,+1 212 555 0143\nDora,abc\n".as_bytes(),
    );
    let m = write(
        dir.path(),
        "m.toml",
        b"entity = \"contacts\"\n[fields]\nfull_name = \"Name\"\nphone = { from = \"Telefon\", type = \"phone\", region = \"DE\" }\n",
    );
    let out = dir.path().join("o.csv");
    let run =
        crmsync().args(["-v", "convert", &src, out.to_str().expect("p"), "--mapping", &m]).output().expect("runs");
    let err = stderr_of(&run);
    assert_eq!(std::fs::read_to_string(&out).expect("out"), "full_name,phone\nAnna,+49301234567\nCem,+12125550143\n");
    assert!(
        err.contains(r#"row 3: field `phone` (column "Telefon"): "(212) 555-0143": expected a phone number: a number written as North America writes them, which numbers of DE are not (they start with 0): give it its country code (+1 for North America), or check the mapping's `region`"#),
        "{err}"
    );
    // The phone library's own words ("malformed integer part") never reach
    // the user.
    assert!(err.contains(r#""abc": expected a phone number: not a phone number (no digits to dial)"#), "{err}");
}

#[test]
fn a_mapping_with_another_system_s_ids_converts_to_columns_the_store_imports() {
    // The record's ERP id and its company's come out named as an export
    // names them (`external_id.erp`, `company.external_id.erp`), so the
    // file imports without the mapping, linked, and the original file
    // through the mapping is then unchanged.
    let db = crate::db::Db::sqlite();
    db.ok(&["import", &db.file("co.csv", "name,external_id.erp\nAcme,C100\n"), "--entity", "companies"]);
    let src = db.file("erp.csv", "PersNo,First,Mail,CustNo\nP1,Ann,ann@acme.com,C100\n");
    let m = db.file(
        "m.toml",
        "entity = \"contacts\"\n[key]\nexternal_id = { system = \"erp\", from = \"PersNo\" }\n[fields]\n\
         first_name = \"First\"\nemail = \"Mail\"\n\"company.external_id\" = \"CustNo\"\n",
    );
    let out = db.path("out.csv");
    let o = out.to_str().expect("p");
    db.ok(&["convert", &src, o, "--mapping", &m]);
    let text = std::fs::read_to_string(&out).expect("out");
    assert_eq!(text, "external_id.erp,first_name,email,company.external_id.erp\nP1,Ann,ann@acme.com,C100\n");
    let s = db.json(&["import", o, "--entity", "contacts"]);
    assert_eq!(s["inserted"].as_u64(), Some(1), "{s}");
    let linked = db.scalar("SELECT c.name FROM contacts t JOIN companies c ON c.id = t.company_id");
    assert_eq!(linked.as_deref(), Some("Acme"));
    let s = db.json(&["import", &src, "--mapping", &m]);
    assert_eq!(s["unchanged"].as_u64(), Some(1), "{s}");
    // Nested, as JSON and XML carry them, the ids go back through the
    // mapping run backwards into the other system's columns.
    for ext in ["json", "xml"] {
        let nested = db.path(&format!("out.{ext}"));
        let n = nested.to_str().expect("p");
        db.ok(&["convert", &src, n, "--mapping", &m]);
        let back = db.path(&format!("back-{ext}.csv"));
        db.ok(&["convert", n, back.to_str().expect("p"), "--mapping", &m, "--reverse"]);
        let text = std::fs::read_to_string(&back).expect("back");
        assert_eq!(text, "PersNo,First,Mail,CustNo\nP1,Ann,ann@acme.com,C100\n", "{ext}");
    }
    // Ids in another system than the mapping's are none of its own: the
    // columns stay empty, and it says why, rather than reject the rows.
    let crm =
        db.file("crm.csv", "external_id.crm,first_name,email,company.external_id.crm\nP1,Ann,ann@acme.com,C100\n");
    for ext in ["csv", "ndjson"] {
        let back = db.path(&format!("crm-back.{ext}"));
        let out = db.run(&["convert", &crm, back.to_str().expect("p"), "--mapping", &m, "--reverse"]);
        assert!(out.status.success(), "{}", stderr_of(&out));
        assert!(stderr_of(&out).contains("has ids in \"crm\" but none in \"erp\""), "{}", stderr_of(&out));
        let text = std::fs::read_to_string(&back).expect("back");
        assert!(!text.contains("C100") && text.contains("ann@acme.com"), "{ext}: {text}");
    }
}
