//! The public conformance corpus (`testdata/corpus/SOURCES.md` says where
//! each file comes from and what it must do).

use super::*;

const SPECTRUM: [&str; 11] = [
    "comma_in_quotes",
    "empty",
    "empty_crlf",
    "escaped_quotes",
    "json",
    "newlines",
    "newlines_crlf",
    "quotes_and_newlines",
    "simple",
    "simple_crlf",
    "utf8",
];

#[test]
fn csv_spectrum_gives_the_expected_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in SPECTRUM {
        let out = dir.path().join(format!("{name}.json"));
        crmsync()
            .args(["convert", "-q", &corpus(&format!("csv-spectrum/csvs/{name}.csv")), out.to_str().expect("utf-8")])
            .assert()
            .success();
        let expected = read_json(&testdata(&format!("corpus/csv-spectrum/json/{name}.json")));
        assert_eq!(read_json(&out), expected, "{name}");
    }
}

#[test]
fn csv_spectrum_survives_csv_ndjson_csv() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in SPECTRUM {
        let nd = dir.path().join(format!("{name}.ndjson"));
        let csv = dir.path().join(format!("{name}.csv"));
        let json = dir.path().join(format!("{name}.json"));
        let p = |p: &Path| p.to_str().expect("utf-8").to_string();
        crmsync()
            .args(["convert", "-q", &corpus(&format!("csv-spectrum/csvs/{name}.csv")), &p(&nd)])
            .assert()
            .success();
        crmsync().args(["convert", "-q", &p(&nd), &p(&csv)]).assert().success();
        crmsync().args(["convert", "-q", &p(&csv), &p(&json)]).assert().success();
        assert_eq!(read_json(&json), read_json(&testdata(&format!("corpus/csv-spectrum/json/{name}.json"))), "{name}");
    }
}

#[test]
fn jsontestsuite_accepts_y_rejects_n_and_never_crashes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("o.ndjson");
    let mut seen = 0;
    for entry in std::fs::read_dir(testdata("corpus/jsontestsuite")).expect("corpus") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
        if !name.ends_with(".json") {
            continue;
        }
        seen += 1;
        let result = crmsync()
            .args(["convert", "-q", path.to_str().expect("utf-8"), out.to_str().expect("utf-8")])
            .timeout(std::time::Duration::from_secs(20))
            .output()
            .expect("runs");
        let err = stderr_of(&result);
        assert!(!err.contains("panicked"), "{name}: {err}");
        let code = result.status.code();
        if name.starts_with("n_") {
            assert_eq!(code, Some(1), "{name} must be refused: {err}");
            assert!(err.starts_with("error: ") && err.contains(&name), "{name}: the error names the file: {err}");
        } else if name.starts_with("y_") && name != "y_structure_lonely_string.json" {
            assert_eq!(code, Some(0), "{name} must be accepted: {err}");
        } else {
            assert!(matches!(code, Some(0) | Some(1)), "{name}: {code:?}");
        }
    }
    assert!(seen >= 30, "the corpus has its files ({seen})");
}

#[test]
fn json_policies_on_duplicate_keys_numbers_and_scalars() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("o.ndjson");
    let rejects = dir.path().join("r.csv");
    // {"a":"b","a":"c"}: different values under one key reject the record.
    let s = convert_summary(&[
        &corpus("jsontestsuite/y_object_duplicated_key.json"),
        out.to_str().expect("p"),
        "--rejects",
        rejects.to_str().expect("p"),
    ]);
    assert_eq!((s["rows_read"].as_u64(), s["written"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(0), Some(1)));
    assert!(std::fs::read_to_string(&rejects).expect("rejects").contains("appears twice"));
    // Equal repeats are merged.
    let s =
        convert_summary(&[&corpus("jsontestsuite/y_object_duplicated_key_and_value.json"), out.to_str().expect("p")]);
    assert_eq!(s["written"].as_u64(), Some(1));
    // Numbers keep their exact text.
    convert_summary(&[&corpus("jsontestsuite/y_object_extreme_numbers.json"), out.to_str().expect("p")]);
    let text = std::fs::read_to_string(&out).expect("out");
    assert!(text.contains("-1.0e+28") && text.contains("1.0e+28"), "{text}");
    // A top-level scalar is not a record list.
    let r = crmsync()
        .args(["convert", &corpus("jsontestsuite/y_structure_lonely_string.json"), out.to_str().expect("p")])
        .output()
        .expect("runs");
    assert_eq!(r.status.code(), Some(1));
    assert!(stderr_of(&r).contains("not a list of records"));
}

#[test]
fn damaged_customers_file_accounts_for_every_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("o.csv");
    let rejects = dir.path().join("r.csv");
    let s = convert_summary(&[
        &corpus("customers-datablist/customers-1000-damaged-copy.csv"),
        out.to_str().expect("p"),
        "--rejects",
        rejects.to_str().expect("p"),
    ]);
    assert_eq!(s["rows_read"].as_u64(), Some(1039));
    assert_eq!(s["written"].as_u64(), Some(1037));
    assert_eq!(s["rejected"].as_u64(), Some(2));
    let mut rdr = csv::Reader::from_path(&rejects).expect("rejects csv");
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.expect("record")).collect();
    let headers = rdr.headers().expect("headers").clone();
    let at = |name: &str| headers.iter().position(|h| h == name).expect(name);
    assert_eq!(&rows[0][at("_row")], "815");
    assert_eq!(&rows[0][at("Index")], "814");
    assert!(rows[0][at("_error")].contains("13 fields"));
    assert_eq!(&rows[1][at("_row")], "854");
    assert!(rows[1][at("_error")].contains("14 fields"));

    // Duplicate detection on Customer Id: the 38 repeated records.
    let mapping = dir.path().join("m.toml");
    std::fs::write(&mapping, "entity = \"contacts\"\n[fields]\n\"custom.customer_id\" = { from = \"Customer Id\", unique = true }\nemail = \"Email\"\n").expect("write");
    let s = convert_summary(&[
        &corpus("customers-datablist/customers-1000-damaged-copy.csv"),
        out.to_str().expect("p"),
        "--mapping",
        mapping.to_str().expect("p"),
    ]);
    assert_eq!(s["rejected"].as_u64(), Some(2 + 38));
    assert_eq!(s["written"].as_u64(), Some(1039 - 40));
}

#[test]
fn ragged_atomic_crm_export_reports_the_short_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("o.ndjson");
    let r = crmsync()
        .args([
            "--json",
            "convert",
            &corpus("crm-samples/atomic-crm/contacts_export-ragged-2ca04b43.csv"),
            out.to_str().expect("p"),
        ])
        .output()
        .expect("runs");
    assert!(r.status.success());
    let err = stderr_of(&r);
    assert!(err.contains("row 3") && err.contains("18 fields but the header has 21"), "{err}");
    let recs = read_ndjson(&out);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["first_name"], "John");
    assert_eq!(recs[0]["decision_role"], "Décideur");
}

#[test]
fn backslash_escapes_follow_the_documented_dialect() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("o.ndjson");
    let rejects = dir.path().join("r.csv");
    // RFC 4180 by default: `"Teacher,\"adult\" education"` has text after a
    // closing quote, so that row is rejected with the position, not guessed.
    let s = convert_summary(&[
        &corpus("customers-datablist/people-100-backslash-escapes.csv"),
        out.to_str().expect("p"),
        "--rejects",
        rejects.to_str().expect("p"),
    ]);
    assert_eq!((s["written"].as_u64(), s["rejected"].as_u64()), (Some(99), Some(1)));
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(
        text.contains(",20,Job Title,\"text follows a closing quote in column \"\"Job Title\"\"")
            && text.contains("closing quote")
            && text.contains("--escape"),
        "{text}"
    );
    let recs = read_ndjson(&out);
    assert_eq!(recs[0]["Job Title"].as_str().map(|s| s.contains("\\n")), Some(true), "backslashes are plain text");
    // With --escape '\' the same row reads as its writer meant it.
    convert_summary(&[
        &corpus("customers-datablist/people-100-backslash-escapes.csv"),
        out.to_str().expect("p"),
        "--escape",
        "\\",
    ]);
    let recs = read_ndjson(&out);
    assert_eq!(recs.len(), 100);
    assert_eq!(recs[18]["Job Title"], "Teacher,\"adult\" education");
    // Its `\n` and `\t` are a line break and a tab, not the letters n and t.
    assert_eq!(recs[0]["Job Title"], "Games\n\tdeveloper");
}

#[test]
fn xml_customers_with_and_without_namespace_read_alike() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a.ndjson");
    let b = dir.path().join("b.ndjson");
    convert_summary(&[&corpus("xml/CustomersOrders.xml"), a.to_str().expect("p")]);
    convert_summary(&[&corpus("xml/CustomersOrdersInNamespace.xml"), b.to_str().expect("p")]);
    let ra = read_ndjson(&a);
    assert_eq!(ra, read_ndjson(&b));
    assert_eq!(ra.len(), 4);
    assert_eq!(ra[0]["CustomerID"], "GREAL");
    assert_eq!(ra[0]["FullAddress"]["City"], "Eugene");
    assert_eq!(ra.iter().filter(|r| r.get("Fax").is_some()).count(), 2);
    assert!(ra.iter().any(|r| r["CompanyName"].as_str().is_some_and(|n| n.contains("Let's"))));
    // The orders are another record list in the same file.
    let s =
        convert_summary(&[&corpus("xml/CustomersOrders.xml"), a.to_str().expect("p"), "--record-path", "Orders/Order"]);
    assert!(s["written"].as_u64().is_some_and(|n| n > 4));
}

#[test]
fn xml_contact_with_cdata_entities_and_repeated_addresses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("o.csv");
    let s = convert_summary(&[&corpus("xml/blend-xmllexer-contact-test.xml"), out.to_str().expect("p")]);
    assert_eq!(s["record_path"], "/root/contact");
    assert_eq!(s["written"].as_u64(), Some(1));
    let mut rdr = csv::Reader::from_path(&out).expect("csv");
    let headers = rdr.headers().expect("h").clone();
    let row = rdr.records().next().expect("one").expect("row");
    let get = |name: &str| {
        row[headers.iter().position(|h| h == name).unwrap_or_else(|| panic!("{name} in {headers:?}"))].to_string()
    };
    assert_eq!(get("notes"), "<p>Notes about Steve.</p>");
    assert_eq!(get("email"), "test@example.com <Steve Stevenson>");
    assert_eq!(get("address.0.type"), "home");
    assert_eq!(get("address.0.zip"), "00000");
    assert_eq!(get("address.1.city"), "Exampleville");
    assert!(!headers.iter().any(|h| h.starts_with("url")), "the <site> sibling is not a record");
}

#[test]
fn xml_with_mixed_namespaces_and_shapes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("o.ndjson");
    let s = convert_summary(&[&corpus("xml/ConsolidatedPurchaseOrders.xml"), out.to_str().expect("p")]);
    assert!(s["written"].as_u64().is_some_and(|n| n >= 2), "{s}");
    let recs = read_ndjson(&out);
    assert!(recs.iter().any(|r| r.get("ShippingAddress").is_some()), "aw:ShippingAddress by local name: {recs:?}");
}

#[test]
fn salesforce_tree_export_skips_attributes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("o.ndjson");
    convert_summary(&[&corpus("crm-samples/salesforce-dreamhouse/contacts-data.json"), out.to_str().expect("p")]);
    let recs = read_ndjson(&out);
    assert!(!recs.is_empty());
    assert_eq!(recs[0]["LastName"], "Holmes");
    assert!(recs.iter().all(|r| r.get("attributes").is_none()));
}

#[test]
fn atomic_crm_bundle_needs_a_record_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("o.ndjson");
    let r = crmsync()
        .args(["convert", &corpus("crm-samples/atomic-crm/import-sample.json"), out.to_str().expect("p")])
        .output()
        .expect("runs");
    assert_eq!(r.status.code(), Some(1));
    assert!(stderr_of(&r).contains("--record-path"), "{}", stderr_of(&r));
    let s = convert_summary(&[
        &corpus("crm-samples/atomic-crm/import-sample.json"),
        out.to_str().expect("p"),
        "--record-path",
        "contacts",
    ]);
    assert!(s["written"].as_u64().is_some_and(|n| n > 0));
}

#[test]
fn odoo_and_atomic_samples_keep_values_as_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("o.ndjson");
    convert_summary(&[&corpus("crm-samples/odoo/res.partner.csv"), out.to_str().expect("p")]);
    let recs = read_ndjson(&out);
    assert_eq!(recs[0]["Customer"], "TRUE");
    assert_eq!(recs[0]["Street2"], "#401");
    assert_eq!(recs[0]["ZIP"], "94107");
    convert_summary(&[&corpus("crm-samples/odoo/m2m_customers_tags.csv"), out.to_str().expect("p")]);
    assert!(read_ndjson(&out).iter().any(|r| r.to_string().contains("Manufacturer,Retailer")));
    let s = convert_summary(&[&corpus("crm-samples/atomic-crm/test-data-contacts.csv"), out.to_str().expect("p")]);
    assert_eq!((s["rows_read"].as_u64(), s["rejected"].as_u64()), (Some(500), Some(0)));
}
