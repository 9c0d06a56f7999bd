//! `crmsync export`: formats, field selection, filters, reverse mappings,
//! and exports that import again unchanged.

use super::db::Db;
use super::*;
use crate::on_both;

/// The e-mails of the contacts `export --where filter` gives, in order.
fn emails_where(db: &Db, filter: &str) -> Vec<String> {
    let out = db.run(&["export", "--entity", "contacts", "--fields", "email", "--where", filter]);
    assert!(out.status.success(), "{filter}: {}", stderr_of(&out));
    String::from_utf8_lossy(&out.stdout).lines().skip(1).map(str::to_string).collect()
}

/// A store with companies, contacts (with custom fields), deals and activities.
fn populated(db: &Db) {
    db.import("contacts_v1.csv", "contacts.toml", &[]);
    db.import("contacts_v2.csv", "contacts.toml", &[]);
    db.import("deals.csv", "deals.toml", &[]);
    db.import("activities.csv", "activities.toml", &[]);
}

const ENTITIES: [&str; 4] = ["companies", "contacts", "deals", "activities"];

/// Every entity exported to `ext` files in `dir`.
fn export_all(db: &Db, dir: &std::path::Path, ext: &str) {
    for e in ENTITIES {
        let out = dir.join(format!("{e}.{ext}"));
        db.ok(&["export", "--entity", e, "--out", out.to_str().expect("p")]);
    }
}

/// The cells of an export, whatever its format, as CSV text.
fn as_csv(db: &Db, path: &std::path::Path) -> String {
    let out = db.path(&format!("{}.csv-view", path.file_name().expect("name").to_string_lossy()));
    crmsync()
        .args(["-q", "convert", path.to_str().expect("p"), out.to_str().expect("p"), "--to", "csv", "--raw"])
        .assert()
        .success();
    std::fs::read_to_string(&out).expect("view")
}

fn round_trip(db: &Db, ext: &str) {
    populated(db);
    // Cells a spreadsheet would run as formulas, which CSV export guards.
    let risky = db.file("risky.csv", "email,title,custom.tier\nrisk@example.com,=SUM(A1),+1-555-0100\n");
    db.ok(&["import", &risky, "--entity", "contacts"]);
    // Tags holding the list separators, which a flat cell quotes.
    let lists = db.file(
        "lists.ndjson",
        r#"{"email":"lists@example.com","title":"'=not a formula","tags":["Sales, EMEA","R&D; Labs","\"quoted\"","say \"hi\""]}"#,
    );
    db.ok(&["import", &lists, "--entity", "contacts"]);
    let first = tempfile::tempdir().expect("dir");
    export_all(db, first.path(), ext);
    // Into an empty store, in link order, without mappings.
    let other = if db.is_postgres() { Db::postgres(&format!("rt_{ext}_2")).expect("server") } else { Db::sqlite() };
    for e in ENTITIES {
        let f = first.path().join(format!("{e}.{ext}"));
        let s = other.json(&["import", f.to_str().expect("p"), "--entity", e]);
        assert_eq!(s["rejected"].as_u64(), Some(0), "{e}: {s}");
    }
    // The deals' ERP ids come along (one system: a column of the export).
    assert_eq!(other.count("SELECT count(*) FROM external_ids WHERE entity = 'deals' AND system = 'erp'"), 2, "{ext}");
    // A value that only looks neutralised comes back as it was.
    let title = other.scalar("SELECT title FROM contacts WHERE email = 'lists@example.com'");
    assert_eq!(title.as_deref(), Some("'=not a formula"), "{ext}");
    let second = tempfile::tempdir().expect("dir");
    export_all(&other, second.path(), ext);
    for e in ENTITIES {
        let a = first.path().join(format!("{e}.{ext}"));
        let b = second.path().join(format!("{e}.{ext}"));
        if ext == "xlsx" {
            assert_eq!(as_csv(db, &a), as_csv(db, &b), "{e}");
        } else {
            assert_eq!(std::fs::read_to_string(&a).expect("a"), std::fs::read_to_string(&b).expect("b"), "{e}");
        }
    }
    let stored = other.ok(&[
        "export",
        "--entity",
        "contacts",
        "--raw",
        "--fields",
        "title,custom.tier",
        "--where",
        "email = 'risk@example.com'",
    ]);
    assert_eq!(stored, "title,custom.tier\n=SUM(A1),+1-555-0100\n", "values come back as they were");
    let tags = other.ok(&[
        "export",
        "--entity",
        "contacts",
        "--format",
        "ndjson",
        "--fields",
        "tags",
        "--where",
        "email = 'lists@example.com'",
    ]);
    assert_eq!(
        tags.trim(),
        r#"{"tags":["Sales, EMEA","R&D; Labs","\"quoted\"","say \"hi\""]}"#,
        "tags holding separators or quotes come back whole"
    );
    let contacts = as_csv(db, &first.path().join(format!("contacts.{ext}")));
    assert!(contacts.contains("custom.tier"), "custom fields are exported: {contacts}");
    assert!(contacts.contains("Acme Inc.,acme.com"), "links carry the company's name and domain: {contacts}");
    // A deal's contacts are a list: one cell in flat files, an array in JSON.
    let deals = first.path().join(format!("deals.{ext}"));
    if ext == "ndjson" {
        let text = std::fs::read_to_string(&deals).expect("read");
        assert!(text.contains(r#""contacts":["ada@example.com","alan@example.com"]"#), "{text}");
    } else {
        let deals = as_csv(db, &deals);
        assert!(deals.contains("ada@example.com; alan@example.com"), "{deals}");
    }
}

on_both!(an_export_says_when_names_alike_but_for_a_legal_form_would_become_one_company, |db| {
    // `Zeta` and `Zeta AG`, told apart by their domains: a contacts file
    // without them would make one company of the two in an empty store, so
    // the export says so; with the domains it does not need to.
    db.ok(&["import", &db.file("co.csv", "name,domain\nZeta,zeta.de\nZeta AG,zeta.ch\n"), "--entity", "companies"]);
    db.ok(&[
        "import",
        &db.file("k.csv", "email,company.name\na@x.com,Zeta\nb@x.com,Zeta AG\n"),
        "--entity",
        "contacts",
    ]);
    let out = db.run(&["export", "--entity", "contacts", "--fields", "email,company.name", "-o", "e.csv"]);
    assert!(
        stderr_of(&out).contains(
            "note: 2 contacts link a company named as another is but for its legal form or spelling (`Zeta`, \
             `Zeta AG`), one of them without a form, and nothing in the file tells them apart"
        ),
        "{}",
        stderr_of(&out)
    );
    // As it says: imported into an empty store, one company.
    let other = Db::sqlite();
    let text = std::fs::read_to_string(db.path("e.csv")).expect("e.csv");
    other.ok(&["import", &other.file("e.csv", &text), "--entity", "contacts"]);
    assert_eq!(other.count("SELECT count(*) FROM companies"), 1);
    let out = db.run(&["export", "--entity", "contacts", "--fields", "email,company.name,company.domain"]);
    assert!(!stderr_of(&out).contains("but for its legal form"), "{}", stderr_of(&out));
});

on_both!(csv_exports_import_again_unchanged, |db| round_trip(db, "csv"));
on_both!(ndjson_exports_import_again_unchanged, |db| round_trip(db, "ndjson"));
on_both!(xlsx_exports_import_again_unchanged, |db| round_trip(db, "xlsx"));

on_both!(since_includes_records_whose_exported_links_changed, |db| {
    let contacts = db.file(
        "c.csv",
        "email,first_name,company.name,company.domain\na@x.com,Ann,Acme,acme.com\nb@x.com,Bob,Beta,beta.com\n",
    );
    db.ok(&["import", &contacts, "--entity", "contacts"]);
    let deals = db.file("d.csv", "name,contacts\nD1,a@x.com\nD2,b@x.com\n");
    db.ok(&["import", &deals, "--entity", "deals"]);
    let activities =
        db.file("a.csv", "kind,subject,contact.email,company.domain\ncall,Hi,a@x.com,acme.com\nnote,Yo,b@x.com,\n");
    db.ok(&["import", &activities, "--entity", "activities"]);
    for table in ["companies", "contacts", "deals", "activities"] {
        db.exec(&format!("UPDATE {table} SET updated_at = '2020-01-01T00:00:00.000000Z'"));
    }
    // Acme renamed, Bob given a title: nothing else written since.
    let renamed = db.file("co.csv", "domain,name\nacme.com,Acme Two\n");
    db.ok(&["import", &renamed, "--entity", "companies", "--key", "domain"]);
    let titled = db.file("t.csv", "email,title\nb@x.com,CEO\n");
    db.ok(&["import", &titled, "--entity", "contacts", "--mode", "update"]);
    let since = |entity: &str, fields: &str| {
        db.ok(&["export", "--entity", entity, "--fields", fields, "--since", "2025-01-01"])
    };
    // Ann's row shows her company's new name; Bob's his title.
    assert_eq!(since("contacts", "email,company.name"), "email,company.name\na@x.com,Acme Two\nb@x.com,Beta\n");
    assert_eq!(since("contacts", "email"), "email\nb@x.com\n");
    // A deal's contacts, an activity's contact and company.
    assert_eq!(since("deals", "name,contacts"), "name,contacts\nD2,b@x.com\n");
    assert_eq!(since("deals", "name"), "name\n");
    assert_eq!(
        since("activities", "subject,contact.email,company.name"),
        "subject,contact.email,company.name\nHi,a@x.com,Acme Two\nYo,b@x.com,\n"
    );
    assert_eq!(since("activities", "subject,company.name"), "subject,company.name\nHi,Acme Two\n");
});

on_both!(fields_where_and_since_select_records, |db| {
    populated(db);
    let out = db.ok(&[
        "export",
        "--entity",
        "contacts",
        "--fields",
        "email,address.city,custom.tier",
        "--where",
        "custom.tier = 'gold' or address.city like 'ham%'",
    ]);
    assert_eq!(out, "email,address.city,custom.tier\nada@example.com,Paris,gold\nkatherine@example.com,Hampton,\n");
    // Names in backquotes, as --where takes them.
    let quoted = db.ok(&[
        "export",
        "--entity",
        "contacts",
        "--fields",
        "`email`, `address.city`",
        "--where",
        "email = 'ada@example.com'",
    ]);
    assert_eq!(quoted, "email,address.city\nada@example.com,Paris\n");
    let comma = db.file("comma.csv", "email,\"custom.a,b\"\nz@example.com,1\n");
    db.ok(&["import", &comma, "--entity", "contacts"]);
    let out = db.ok(&[
        "export",
        "--entity",
        "contacts",
        "--fields",
        "email,`custom.a,b`",
        "--where",
        "`custom.a,b` is not null",
    ]);
    assert_eq!(out, "email,\"custom.a,b\"\nz@example.com,1\n");
    // XML element names and the sheet's name.
    let xml = db.ok(&[
        "export",
        "--entity",
        "contacts",
        "--format",
        "xml",
        "--record-path",
        "people/person",
        "--fields",
        "email",
    ]);
    assert!(xml.contains("<people>\n  <person>\n    <email>"), "{xml}");
    let sheet = db.path("c.xlsx");
    db.ok(&["export", "--entity", "contacts", "--sheet", "Leute", "--out", sheet.to_str().expect("p")]);
    let back = crmsync()
        .args(["convert", sheet.to_str().expect("p"), "-", "--to", "csv", "--sheet", "Leute"])
        .output()
        .expect("runs");
    assert!(back.status.success(), "{}", stderr_of(&back));
    // Deeper record paths nest, and read back by the same path.
    let deep = db.path("deep.xml");
    db.ok(&[
        "export",
        "--entity",
        "contacts",
        "--record-path",
        "crm/people/person",
        "--fields",
        "email",
        "--out",
        deep.to_str().expect("p"),
    ]);
    let text = std::fs::read_to_string(&deep).expect("xml");
    assert!(
        text.contains("<crm>\n  <people>\n    <person>\n      <email>") && text.ends_with("  </people>\n</crm>\n"),
        "{text}"
    );
    let read = crmsync()
        .args(["convert", deep.to_str().expect("p"), "-", "--to", "csv", "--record-path", "crm/people/person"])
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&read.stdout).starts_with("email\n"), "{}", stderr_of(&read));
    // Options the output has no use for, or cannot take, are usage errors.
    for args in [
        vec!["--record-path", "people/person"],
        vec!["--sheet", "Leute"],
        vec!["--format", "xlsx", "--out", "x.xlsx", "--sheet", "Bad/Name"],
        vec!["--format", "xml", "--record-path", "a b/c"],
    ] {
        let mut all = vec!["export", "--entity", "contacts"];
        all.extend(args.iter().copied());
        let out = db.run(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr_of(&out));
    }
    let out = db.ok(&[
        "export",
        "--entity",
        "contacts",
        "--fields",
        "email",
        "--where",
        "not (email in ('ada@example.com', 'alan@example.com')) and phone is not null",
    ]);
    assert_eq!(out, "email\ngrace.hopper@example.com\nkatherine@example.com\n");
    let out = db.ok(&["export", "--entity", "deals", "--fields", "name,amount", "--where", "amount > 2000"]);
    assert_eq!(out, "name,amount\nAcme renewal,12500.50\n");
    let out = db.ok(&["export", "--entity", "contacts", "--fields", "email", "--since", "2999-01-01"]);
    assert_eq!(out, "email\n");
    let out = db.ok(&[
        "export",
        "--entity",
        "contacts",
        "--fields",
        "email",
        "--since",
        "2000-01-01",
        "--where",
        "company.name = 'Navy Labs'",
    ]);
    assert_eq!(out, "email\ngrace.hopper@example.com\n");
    // A tombstoned record appears only when asked for.
    db.exec("UPDATE contacts SET deleted_at = '2030-01-01T00:00:00.000000Z' WHERE email = 'alan@example.com'");
    let out = db.ok(&["export", "--entity", "contacts", "--fields", "email"]);
    assert!(!out.contains("alan@"), "{out}");
    let out = db.ok(&[
        "export",
        "--entity",
        "contacts",
        "--fields",
        "email,deleted_at",
        "--include-deleted",
        "--where",
        "email = 'alan@example.com'",
    ]);
    assert!(out.starts_with("email,deleted_at\nalan@example.com,2030-01-01T00:00:00Z"), "{out}");
});

on_both!(an_export_with_its_tombstones_does_not_bring_them_back_alive, |db| {
    let f = db.file("c.csv", "email,first_name\nann@x.com,Ann\ncy@x.com,Cy\n");
    db.ok(&["import", &f, "--entity", "contacts"]);
    db.exec("UPDATE contacts SET deleted_at = '2030-01-01T00:00:00.000000Z' WHERE email = 'cy@x.com'");
    let out = db.ok(&[
        "export",
        "--entity",
        "contacts",
        "--include-deleted",
        "--fields",
        "email,first_name,deleted_at,version",
    ]);
    let back = db.file("back.csv", &out);
    let into = Db::sqlite();
    let run = into.run(&["--json", "import", &back, "--entity", "contacts"]);
    let said = stderr_of(&run);
    assert!(said.contains("note: version is kept by the store itself"), "{said}");
    assert!(said.contains("the record was deleted, and an import brings in live records only"), "{said}");
    let s: serde_json::Value = serde_json::from_slice(&run.stdout).expect("json");
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(1)), "{s}");
    assert_eq!(into.count("SELECT count(*) FROM contacts WHERE email = 'cy@x.com'"), 0);
    // A file without a header says so too.
    let nd = db.file("sys.ndjson", "{\"email\":\"q@x.com\",\"created_at\":\"2020-01-01T00:00:00Z\"}\n");
    let said = stderr_of(&into.run(&["import", &nd, "--entity", "contacts"]));
    assert!(said.contains("note: created_at is kept by the store itself"), "{said}");
    // Through a mapping, nothing would mark them deleted: refused.
    let m = db.file("m.toml", "entity = \"contacts\"\n[fields]\nemail = \"Mail\"\n");
    let out = db.run(&["export", "--mapping", &m, "--include-deleted"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("deleted records would be written as live ones"), "{}", stderr_of(&out));
    assert!(out.stdout.is_empty());
});

on_both!(custom_numbers_come_back_alike_on_both, |db| {
    let f = db.file(
        "numbers.ndjson",
        r#"{"email":"a@x.com","custom":{"a":1.50,"b":1e2,"c":-0.0,"d":1.0E+28,"e":12345678901234567890123,"f":[1.5e-3]}}"#,
    );
    db.ok(&["import", &f, "--entity", "contacts"]);
    let out = db.ok(&[
        "export",
        "--entity",
        "contacts",
        "--format",
        "ndjson",
        "--fields",
        "custom.a,custom.b,custom.c,custom.d,custom.e,custom.f",
    ]);
    assert_eq!(
        out.trim(),
        r#"{"custom":{"a":1.50,"b":100,"c":0.0,"d":10000000000000000000000000000,"e":12345678901234567890123,"f":[0.0015]}}"#,
        "numbers in PostgreSQL jsonb's form, digits and scale kept"
    );
    let again = db.json(&["import", &f, "--entity", "contacts"]);
    assert_eq!(again["unchanged"].as_u64(), Some(1), "{again}");
    // A declared decimal read from text (in a store of its own: the one
    // above holds undeclared fields).
    let db = if db.is_postgres() { Db::postgres("declared_rate").expect("server") } else { Db::sqlite() };
    let schema = db.file("schema.toml", "[contacts.rate]\ntype = \"decimal\"\n");
    db.ok(&["init", "--custom", &schema]);
    // Read as amounts are: `.5` and `+2.5` are decimals; `2.5e1` is refused
    // (a spreadsheet writes `1.23457E+11` for a number it rounded).
    let rates = db.file("rates.csv", "email,custom.rate\nr@x.com,+2.5\ns@x.com,.5\nt@x.com,2.5e1\n");
    let s = db.json(&["import", &rates, "--entity", "contacts"]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(2), Some(1)), "{s}");
    let out = db.ok(&["export", "--entity", "contacts", "--fields", "custom.rate"]);
    assert_eq!(out, "custom.rate\n2.5\n0.5\n");
});

on_both!(custom_names_with_quotes_or_backslashes_export_and_filter_alike, |db| {
    let f = db.file("odd.ndjson", r#"{"email":"w@x.com","custom":{"q\"x":"v1","a\\b":"v2","it's":"v3"}}"#);
    db.ok(&["import", &f, "--entity", "contacts"]);
    let out = db.ok(&["export", "--entity", "contacts", "--format", "ndjson"]);
    assert!(
        out.contains(r#""q\"x":"v1""#) && out.contains(r#""a\\b":"v2""#) && out.contains(r#""it's":"v3""#),
        "{out}"
    );
    for filter in ["`custom.q\"x` = 'v1'", "`custom.a\\b` = 'v2'", "`custom.it's` = 'v3'"] {
        let out = db.ok(&["export", "--entity", "contacts", "--fields", "email", "--where", filter]);
        assert_eq!(out, "email\nw@x.com\n", "{filter}");
    }
});

on_both!(an_id_field_of_a_system_no_record_has_ids_in_is_refused, |db| {
    let rows = db.file("c.csv", "email,external_id.erp\na@x.com,E1\nb@x.com,\n");
    db.ok(&["import", &rows, "--entity", "contacts"]);
    // `ERP` for `erp` would find every contact "not yet in the ERP".
    let out = db.run(&["export", "--entity", "contacts", "--where", "external_id.ERP is null"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no record has an id in system `ERP`: did you mean `external_id.erp`?"), "{err}");
    let out = db.run(&["export", "--entity", "deals", "--fields", "name,company.external_id.Erp"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did you mean `company.external_id.erp`?"), "{err}");
    let out = db.ok(&["export", "--entity", "contacts", "--fields", "email", "--where", "external_id.erp is null"]);
    assert_eq!(out, "email\nb@x.com\n");
    // A system no record has reached yet ("not yet in the OA": all) is
    // exported, with a note.
    let out = db.run(&["export", "--entity", "contacts", "--fields", "email", "--where", "external_id.oa is null"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "email\na@x.com\nb@x.com\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "note: `external_id.oa` is empty for every record: no record has an id in system `oa` yet \
             (records have ids in `erp`)"
        ),
        "{err}"
    );
    // A reverse mapping may name a system no record has ids in yet.
    let m = db.file(
        "m.toml",
        "entity = \"contacts\"\n[key]\nexternal_id = { system = \"crm\", from = \"Id\" }\n[fields]\nemail = \"Mail\"\n",
    );
    let out = db.run(&["export", "--mapping", &m]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Id,Mail\n,a@x.com\n,b@x.com\n");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("note:"));
});

on_both!(where_treats_missing_values_numbers_and_lists_alike_on_both, |db| {
    let f = db.file(
        "scored.ndjson",
        concat!(
            r#"{"email":"a@x.com","custom":{"score":"abc","tier":"gold","vip":true},"tags":["vip","b2b"]}"#,
            "\n",
            r#"{"email":"b@x.com","custom":{"score":12,"vip":false,"rate":3.0},"tags":["b2b"]}"#,
            "\n",
            r#"{"email":"c@x.com","custom":{"score":"3"}}"#,
            "\n",
            r#"{"email":"d@x.com","custom":{"tier":"silver"},"tags":["a;b"]}"#,
            "\n",
        ),
    );
    db.ok(&["import", &f, "--entity", "contacts"]);
    let emails = |filter: &str| emails_where(db, filter);
    // Text that is no number is no number: not below 5, not above it.
    assert_eq!(emails("custom.score < 5"), ["c@x.com"]);
    assert_eq!(emails("custom.score >= 5"), ["b@x.com"]);
    // `not` of a condition on a missing value holds, as `!=` does.
    assert_eq!(emails("custom.tier != 'gold'"), ["b@x.com", "c@x.com", "d@x.com"]);
    assert_eq!(emails("not custom.tier = 'gold'"), ["b@x.com", "c@x.com", "d@x.com"]);
    assert_eq!(emails("not custom.tier in ('gold', 'silver')"), ["b@x.com", "c@x.com"]);
    assert_eq!(emails("not (email = 'b@x.com' or custom.tier = 'gold')"), ["c@x.com", "d@x.com"]);
    assert_eq!(emails("not (custom.tier != 'gold')"), ["a@x.com"]);
    // Tags compare as a flat export writes them.
    assert_eq!(emails("tags like '%vip%'"), ["a@x.com"]);
    assert_eq!(emails("tags = 'b2b'"), ["b@x.com"]);
    assert_eq!(emails("tags = 'vip; b2b'"), ["a@x.com"]);
    // A list written as import reads a cell: the export's own cell finds it.
    assert_eq!(emails("tags = 'vip, b2b'"), ["a@x.com"]);
    assert_eq!(emails(r#"tags = '"a;b"'"#), ["d@x.com"]);
    assert_eq!(emails(r#"tags in ('"a;b"', 'b2b')"#), ["b@x.com", "d@x.com"]);
    assert_eq!(emails("tags is null"), ["c@x.com"]);
    // Booleans and numbers compare as exports write them.
    assert_eq!(emails("custom.vip = true"), ["a@x.com"]);
    assert_eq!(emails("custom.vip != true"), ["b@x.com", "c@x.com", "d@x.com"]);
    assert_eq!(emails("custom.vip like 'fa%'"), ["b@x.com"]);
    assert_eq!(emails("custom.vip = 1"), Vec::<String>::new(), "a boolean is no number");
    assert_eq!(emails("custom.score = '12'"), ["b@x.com"]);
    assert_eq!(emails("custom.rate = '3.0'"), ["b@x.com"]);
    assert_eq!(emails("custom.rate = 3"), ["b@x.com"]);
});

on_both!(typed_custom_date_times_are_stored_in_utc_and_compare_as_instants, |db| {
    let m = db.file(
        "met.toml",
        "entity = \"contacts\"\n[key]\nfields = [\"email\"]\n[fields]\nemail = \"Email\"\n\
         \"custom.met\" = { from = \"Met\", type = \"datetime\", timezone = \"Asia/Shanghai\" }\n",
    );
    let f = db.file("met.csv", "Email,Met\nd1@x.com,2024-12-31 23:30\nd2@x.com,2024-01-01 08:00\n");
    db.json(&["import", &f, "--mapping", &m]);
    let out = db.ok(&["export", "--entity", "contacts", "--fields", "email,custom.met"]);
    assert_eq!(out, "email,custom.met\nd1@x.com,2024-12-31T15:30:00Z\nd2@x.com,2024-01-01T00:00:00Z\n");
    let emails = |filter: &str| db.ok(&["export", "--entity", "contacts", "--fields", "email", "--where", filter]);
    assert_eq!(emails("custom.met > '2024-12-31T16:00:00Z'"), "email\n");
    assert_eq!(emails("custom.met = '2024-01-01T00:00:00Z'"), "email\nd2@x.com\n");
    assert_eq!(emails("custom.met >= '2024-12-31T23:30:00+08:00'"), "email\nd1@x.com\n");
});

on_both!(like_escapes_wildcards_and_folds_case_beyond_ascii_alike_on_both, |db| {
    let f = db.path("people.csv");
    std::fs::write(&f, "email,last_name\na@x.com,O_Neil\nb@x.com,Oxneil\nc@x.com,ÉCLAIR\nd@x.com,50% off\n")
        .expect("write");
    db.ok(&["import", f.to_str().expect("p"), "--entity", "contacts"]);
    let names = |filter: &str| {
        db.ok(&["export", "--entity", "contacts", "--fields", "last_name", "--where", filter])
            .lines()
            .skip(1)
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(names("last_name like 'o_neil'"), ["O_Neil", "Oxneil"]);
    assert_eq!(names(r"last_name like 'o\_neil'"), ["O_Neil"]);
    assert_eq!(names(r"last_name like '%\%%'"), ["50% off"]);
    assert_eq!(names("last_name like 'écl%'"), ["ÉCLAIR"], "case folds beyond ASCII");
    assert_eq!(names("last_name not like 'o%'"), ["ÉCLAIR", "50% off"]);
    // Letter by letter, as PostgreSQL folds: İ is i, Σ is σ at a word's end.
    let more = db.path("more.csv");
    std::fs::write(&more, "email,last_name\ne@x.com,İstanbul\nf@x.com,ΟΔΟΣ\n").expect("write");
    db.ok(&["import", more.to_str().expect("p"), "--entity", "contacts"]);
    assert_eq!(names("last_name like 'istanbul'"), ["İstanbul"]);
    assert_eq!(names("last_name like 'οδοσ'"), ["ΟΔΟΣ"]);
    // A word's final sigma is a sigma.
    assert_eq!(names("last_name like 'οδος'"), ["ΟΔΟΣ"]);
    let out = db.run(&["export", "--entity", "contacts", "--where", r"last_name like 'a\'"]);
    assert!(stderr_of(&out).contains("cannot end with a single"), "{}", stderr_of(&out));
});

on_both!(like_matches_dates_numbers_and_times_as_exported_alike_on_both, |db| {
    db.import("contacts_v1.csv", "contacts.toml", &[]);
    db.import("deals.csv", "deals.toml", &[]);
    let names = |filter: &str| {
        db.ok(&["export", "--entity", "deals", "--fields", "name", "--where", filter])
            .lines()
            .skip(1)
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(names("close_date like '2024-06%'"), ["Acme renewal"]);
    assert_eq!(names("amount like '%.50'"), ["Acme renewal"]);
    assert_eq!(names("amount not like '1%'"), Vec::<String>::new());
    assert_eq!(names("version like '1'").len(), 2);
    // A time in the store's form, on both: T, six fractional digits, Z.
    let year = db.ok(&["export", "--entity", "deals", "--fields", "created_at"]);
    let at = year.lines().nth(1).expect("a deal").to_string();
    assert!(at.len() > 20 && at.ends_with('Z'), "{at}");
    assert_eq!(names(&format!("created_at like '{}%'", &at[..11])).len(), 2);
    assert_eq!(names("created_at like '____-__-__t__:__:__.______z'").len(), 2, "{at}");
    assert!(!names(&format!("created_at like '{}%'", &at[..19])).is_empty(), "{at}");
});

on_both!(where_orders_text_fields_as_numbers_against_a_number, |db| {
    let f = db.file(
        "zips.csv",
        "email,address.postal_code,notes,first_name\n\
         a@x.com,01067,9,Ann\nb@x.com,D02 X285,10,Bob\nc@x.com,518000,abc,Cid\nd@x.com,00000,-3,Dan\n",
    );
    db.ok(&["import", &f, "--entity", "contacts"]);
    let emails = |filter: &str| emails_where(db, filter);
    // As numbers, skipping text that is none (as text, `D02 X285` > `10000`).
    assert_eq!(emails("address.postal_code > 10000"), ["c@x.com"]);
    assert_eq!(emails("address.postal_code < 9"), ["d@x.com"]);
    assert_eq!(emails("notes >= 10 or notes < 0"), ["b@x.com", "d@x.com"]);
    // Equality stays text: a code keeps its zeros.
    assert_eq!(emails("address.postal_code = 01067"), ["a@x.com"]);
    assert_eq!(emails("address.postal_code = 1067"), Vec::<String>::new());
    // Against text, text order.
    assert_eq!(emails("first_name > 'Bz'"), ["c@x.com", "d@x.com"]);
    // An undeclared custom value equals a number as a number, but one
    // written with a leading zero as text: a code.
    let f = db.file("codes.csv", "email,custom.code\nz1@x.com,02134\nz2@x.com,2134\nz3@x.com,2134.0\n");
    db.ok(&["import", &f, "--entity", "contacts"]);
    assert_eq!(emails("custom.code = 02134"), ["z1@x.com"]);
    assert_eq!(emails("custom.code in (02134, 7)"), ["z1@x.com"]);
    assert_eq!(emails("custom.code != 02134 and custom.code is not null"), ["z2@x.com", "z3@x.com"]);
    assert_eq!(emails("custom.code = 2134"), ["z2@x.com", "z3@x.com"], "02134 is a code, not 2134");
    assert_eq!(emails("custom.code != 2134 and custom.code is not null"), ["z1@x.com"]);
    assert_eq!(emails("custom.code > 2000"), ["z2@x.com", "z3@x.com"]);
});

on_both!(where_finds_a_phone_number_written_without_its_country_code, |db| {
    let f = db.file(
        "p.csv",
        "email,phone,mobile\na@x.com,+1 212 555 0143,\nb@x.com,+49 30 1234567,\nc@x.com,+33 1 42 68 53 00,\n\
         d@x.com,,+1 (212) 555-0143\ne@x.com,,\n",
    );
    db.ok(&["import", &f, "--entity", "contacts"]);
    let emails = |filter: &str| emails_where(db, filter);
    // As a CRM shows them, or as a user types them: the stored number is
    // found whichever country's way it is written in.
    assert_eq!(emails("phone = '(212) 555-0143'"), ["a@x.com"]);
    assert_eq!(emails("phone = 2125550143"), ["a@x.com"]);
    assert_eq!(emails("phone = '030 1234567'"), ["b@x.com"]);
    assert_eq!(emails("phone = '0049 30 1234567'"), ["b@x.com"]);
    assert_eq!(emails("phone = '01 42 68 53 00'"), ["c@x.com"]);
    assert_eq!(emails("mobile = '212.555.0143'"), ["d@x.com"]);
    assert_eq!(emails("phone in ('(212) 555-0143', '030 1234567')"), ["a@x.com", "b@x.com"]);
    assert_eq!(emails("phone != '(212) 555-0143'"), ["b@x.com", "c@x.com", "d@x.com", "e@x.com"]);
    assert_eq!(emails("not phone in ('(212) 555-0143', '030 1234567')"), ["c@x.com", "d@x.com", "e@x.com"]);
    // No number anywhere: nothing found, no error.
    assert_eq!(emails("phone = '555'"), Vec::<String>::new());
});

on_both!(where_orders_text_without_case_as_like_matches_it, |db| {
    let f = db
        .file("n.csv", "email,last_name,custom.code\na@x.com,alpha,x1\nb@x.com,Beta,X2\nc@x.com,Zeta,y3\ne@x.com,,\n");
    db.ok(&["import", &f, "--entity", "contacts"]);
    let emails = |filter: &str| emails_where(db, filter);
    assert_eq!(emails("last_name < 'c'"), ["a@x.com", "b@x.com"]);
    assert_eq!(emails("last_name >= 'z'"), ["c@x.com"]);
    assert_eq!(emails("last_name > 'ALPHA' and last_name <= 'beta'"), ["b@x.com"]);
    assert_eq!(emails("custom.code < 'Y'"), ["a@x.com", "b@x.com"]);
    // `=` still compares exactly.
    assert_eq!(emails("last_name = 'beta'"), Vec::<String>::new());
});

on_both!(where_compares_values_as_import_stores_them, |db| {
    let schema = testdata("import/custom_schema.toml");
    db.ok(&["init", "--custom", schema.to_str().expect("p")]);
    let f = db.file(
        "m.csv",
        "email,address.country,custom.tier,custom.member_no,custom.vip,phone\n\
         a@x.com,Germany,gold,5,yes,+15550100001\nb@x.com,FR,Silver,12,no,\nc@x.com,de,Bronze,100,no,\n",
    );
    db.ok(&["import", &f, "--entity", "contacts"]);
    let d = db.file(
        "d.csv",
        "name,amount,close_date,contacts\nAcme renewal,12500.50,2024-06-30,A@X.com\nOther,5,2024-07-01,\n",
    );
    db.ok(&["import", &d, "--entity", "deals"]);
    // A deal's contacts, e-mails, compare as stored: in lower case.
    let deals = db.ok(&["export", "--entity", "deals", "--fields", "name", "--where", "contacts = 'A@x.COM'"]);
    assert_eq!(deals, "name\nAcme renewal\n");
    let emails = |filter: &str| emails_where(db, filter);
    // The README's own example: declared enums stored as `Gold`, `Silver`.
    assert_eq!(emails("custom.tier in ('gold', 'silver')"), ["a@x.com", "b@x.com"]);
    assert_eq!(emails("address.country = 'de'"), ["a@x.com", "c@x.com"]);
    assert_eq!(emails("address.country = 'Germany'"), ["a@x.com", "c@x.com"]);
    assert_eq!(emails("phone = '+1 (555) 010-0001'"), ["a@x.com"]);
    assert_eq!(emails("custom.vip = 'yes'"), ["a@x.com"]);
    assert_eq!(emails("custom.vip = 1"), ["a@x.com"]);
    // A declared integer compares as a number, even quoted: not '100' < '5'.
    assert_eq!(emails("custom.member_no > '5'"), ["b@x.com", "c@x.com"]);
    let out = db.run(&["export", "--entity", "contacts", "--where", "custom.tier = 'platinum'"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("\"platinum\" is not one of Gold, Silver, Bronze"), "{}", stderr_of(&out));
    let out = db.run(&["export", "--entity", "contacts", "--where", "address.country = 'Narnia'"]);
    assert!(stderr_of(&out).contains("\"Narnia\" is not a country"), "{}", stderr_of(&out));
    // A custom field no record has and none declares is a typo, named.
    for args in [["--fields", "email,custom.teir"], ["--where", "custom.teir = 'Gold'"]] {
        let out = db.run(&["export", "--entity", "contacts", args[0], args[1]]);
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("no contact has a custom field `teir`") && err.contains("custom.tier"), "{err}");
    }
    // Another system's id is text: 7 is not 007.
    let x = db.file("x.csv", "email,custom.member_no,external_id.erp\nz@x.com,99,007\n");
    db.ok(&["import", &x, "--entity", "contacts"]);
    assert_eq!(emails("external_id.erp = 7"), Vec::<String>::new());
    assert_eq!(emails("external_id.erp = '007'"), ["z@x.com"]);
    assert_eq!(emails("version = 1").len(), 4);
    // An amount compares as a number, a date as a date.
    let deals = |filter: &str| db.ok(&["export", "--entity", "deals", "--fields", "name", "--where", filter]);
    assert_eq!(deals("amount = '12500.5'"), "name\nAcme renewal\n");
    assert_eq!(deals("amount = '12,500.50'"), "name\nAcme renewal\n", "read as import reads an amount");
    for filter in ["amount > 'abc'", "amount in ('abc', 1)", "amount < '1,0,00'", "version > 'x'"] {
        let out = db.run(&["export", "--entity", "deals", "--where", filter]);
        assert_eq!(out.status.code(), Some(2), "{filter}: {}", stderr_of(&out));
        let err = stderr_of(&out);
        assert!(err.contains("is not a number") || err.contains("is not a decimal number"), "{filter}: {err}");
    }
    assert_eq!(deals("close_date = '2024-06-30T00:00:00Z'"), "name\nAcme renewal\n");
});

#[test]
fn a_list_item_holding_the_other_systems_separator_stops_the_export() {
    // Joined with `,` it would read back as three tags, not two.
    let db = Db::sqlite();
    let f = db.file("t.csv", "email,tags\na@x.com,\"\"\"Sales, EMEA\"\"; VIP\"\nb@x.com,VIP\n");
    db.ok(&["import", &f, "--entity", "contacts"]);
    let m = db.file(
        "m.toml",
        "entity = \"contacts\"\n[fields]\nemail = \"mail\"\ntags = { from = \"labels\", split = \",\" }\n",
    );
    let out = db.run(&["export", "--entity", "contacts", "--mapping", &m, "--where", "email = 'a@x.com'"]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("(a@x.com)") && err.contains("\"Sales, EMEA\"") && err.contains("column \"labels\" splits"),
        "{err}"
    );
    let ok = db.ok(&["export", "--entity", "contacts", "--mapping", &m, "--where", "email = 'b@x.com'"]);
    assert_eq!(ok, "mail,labels\nb@x.com,VIP\n");
    // The separator as written: under " | ", "a|b" is one item.
    let pipe = db.file(
        "p.toml",
        "entity = \"contacts\"\n[fields]\nemail = \"mail\"\ntags = { from = \"labels\", split = \" | \" }\n",
    );
    let f = db.file("p.csv", "mail,labels\nc@x.com,a|b | c\n");
    db.ok(&["import", &f, "--mapping", &pipe]);
    let back = db.ok(&["export", "--entity", "contacts", "--mapping", &pipe, "--where", "email = 'c@x.com'"]);
    assert_eq!(back, "mail,labels\nc@x.com,a|b | c\n");
}

on_both!(an_xml_export_imports_again_into_declared_custom_fields_xml_cannot_name, |db| {
    let schema =
        db.file("s.toml", "[contacts.\"odd name\"]\ntype = \"string\"\n[contacts.\"1st\"]\ntype = \"integer\"\n");
    db.ok(&["init", "--custom", &schema]);
    let f = db.file("o.csv", "email,custom.odd name,custom.1st\na@x.com,x,7\n");
    db.ok(&["import", &f, "--entity", "contacts"]);
    let xml = db.path("c.xml");
    db.ok(&["export", "--entity", "contacts", "--out", xml.to_str().expect("p")]);
    let text = std::fs::read_to_string(&xml).expect("xml");
    assert!(text.contains("<odd_name>x</odd_name>") && text.contains("<_1st>7</_1st>"), "{text}");
    let other = if db.is_postgres() { Db::postgres("xml_names_2").expect("server") } else { Db::sqlite() };
    other.ok(&["init", "--custom", &schema]);
    let s = other.json(&["import", xml.to_str().expect("p"), "--entity", "contacts"]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(0)), "{s}");
    let back = |d: &Db| d.ok(&["export", "--entity", "contacts", "--fields", "email,custom.odd name,custom.1st"]);
    assert_eq!(back(&other), back(db));
    assert_eq!(back(db), "email,custom.odd name,custom.1st\na@x.com,x,7\n");
});

on_both!(numbers_beyond_a_float_compare_exactly_alike_on_both, |db| {
    let f = db.file("big.csv", "name,custom.cnt\nA,1234567890123456789\nB,5\nC,x\n");
    db.ok(&["import", &f, "--entity", "companies"]);
    let names = |filter: &str| db.ok(&["export", "--entity", "companies", "--fields", "name", "--where", filter]);
    assert_eq!(names("custom.cnt = 1234567890123456789"), "name\nA\n");
    assert_eq!(names("custom.cnt = 1234567890123456788"), "name\n", "a float holds both as one number");
    assert_eq!(names("custom.cnt > 1234567890123456788"), "name\nA\n");
    assert_eq!(names("custom.cnt < 6"), "name\nB\n", "text that is no number is none");
    // Decimals beyond a float's digits, stored and custom, exactly.
    let d = db.file(
        "d.csv",
        "name,amount\nBig,99999999999999999.99\nHuge,123456789012345678901234567890\nFine,1.123456789\n",
    );
    db.ok(&["import", &d, "--entity", "deals"]);
    let deals = |filter: &str| db.ok(&["export", "--entity", "deals", "--fields", "name", "--where", filter]);
    assert_eq!(deals("amount > 99999999999999999.98"), "name\nBig\nHuge\n");
    assert_eq!(deals("amount > 123456789012345678901234567889"), "name\nHuge\n");
    assert_eq!(deals("amount > 1.12345678899999999999 and amount < 2"), "name\nFine\n");
    assert_eq!(deals("amount in (1.1234567890, 99999999999999999.990)"), "name\nBig\nFine\n");
    let o = db.file("o.csv", "name,custom.v\nP,12.50\nQ,0012.500\nR,12.4\n");
    db.ok(&["import", &o, "--entity", "companies"]);
    assert_eq!(names("custom.v > 12.499999999999999999"), "name\nP\nQ\n");
});

on_both!(an_object_inside_a_custom_list_stays_an_object, |db| {
    let f = db.file("nest.json", r#"[{"email":"a@x.com","custom":{"a":[1,2,{"b":null}]}}]"#);
    db.ok(&["import", &f, "--entity", "contacts"]);
    let out = db.ok(&["export", "--entity", "contacts", "--format", "ndjson", "--fields", "email,custom.a"]);
    assert_eq!(out, "{\"email\":\"a@x.com\",\"custom\":{\"a\":[1,2,{\"b\":null}]}}\n");
});

on_both!(export_through_a_mapping_gives_the_source_columns_back, |db| {
    db.import("contacts_v1.csv", "contacts.toml", &[]);
    let m = testdata("import/contacts.toml");
    let out = db.ok(&["export", "--mapping", m.to_str().expect("p"), "--where", "email = 'ada@example.com'"]);
    assert_eq!(
        out,
        "First Name,Last Name,Email,Phone,Company,Website,City,Tier\nAda,Lovelace,ada@example.com,+15550100001,Acme Inc.,acme.com,London,gold\n"
    );
});

/// An ERP's customer table: its own ids, German dates on Berlin's clock,
/// coded values, a joined name and a `|` list.
const ERP_MAPPING: &str = r#"entity = "contacts"
[key]
fields = ["email"]
external_id = { system = "erp", from = "Kunden-Nr" }
[fields]
email = { from = "E-Mail", type = "email" }
full_name = { from = ["Vorname", "Nachname"], join = " " }
"company.name" = "Firma"
subscribed_at = { from = "Angemeldet", type = "datetime", format = "%d.%m.%Y %H:%M", timezone = "Europe/Berlin" }
"custom.born" = { from = "Geboren", type = "date", format = "%d.%m.%Y" }
"custom.met" = { from = "Kontakt", type = "datetime", timezone = "Europe/Berlin" }
"custom.gender" = { from = "Geschlecht", map = { "m" = "male", "w" = "female" } }
tags = { from = "Gruppen", split = "|" }
"#;

const ERP_FILE: &str = "Kunden-Nr,E-Mail,Vorname,Nachname,Firma,Angemeldet,Geboren,Kontakt,Geschlecht,Gruppen\n\
    K-1,ada@example.com,Ada,Lovelace,Acme,31.12.2024 23:30,10.12.1815,2024-07-01T08:00:00+02:00,w,a|b\n\
    K-2,bob@example.com,Bob,Builder,,01.07.2024 08:00,,,m,\n";

on_both!(a_mapping_runs_back_into_the_other_systems_ids_clock_and_formats, |db| {
    let m = db.file("erp.toml", ERP_MAPPING);
    let f = db.file("erp.csv", ERP_FILE);
    let s = db.json(&["import", &f, "--mapping", &m]);
    assert_eq!(s["inserted"].as_u64(), Some(2), "{s}");
    // The store keeps UTC; the ERP gets its ids, its clock and its formats back.
    let stored = db.ok(&["export", "--entity", "contacts", "--fields", "email,external_id.erp,subscribed_at"]);
    assert_eq!(
        stored,
        "email,external_id.erp,subscribed_at\nada@example.com,K-1,2024-12-31T22:30:00Z\nbob@example.com,K-2,2024-07-01T06:00:00Z\n"
    );
    let back = db.ok(&["export", "--mapping", &m]);
    assert_eq!(back, ERP_FILE);
    // A flat export of the store run back through the mapping by convert
    // gives the same file: its list cells (`a; b`) are read as lists.
    for ext in ["csv", "xlsx"] {
        let plain = db.path(&format!("plain.{ext}"));
        db.ok(&["export", "--entity", "contacts", "-o", plain.to_str().expect("p")]);
        let out = db.path(&format!("back-{ext}.csv"));
        db.ok(&["convert", plain.to_str().expect("p"), out.to_str().expect("p"), "--mapping", &m, "--reverse"]);
        assert_eq!(std::fs::read_to_string(&out).expect("out"), ERP_FILE, "{ext}");
    }
    // The file it gives imports into an empty store as the same records.
    let other = if db.is_postgres() { Db::postgres("erp_back_2").expect("server") } else { Db::sqlite() };
    let again = other.file("back.csv", &back);
    let s = other.json(&["import", &again, "--mapping", &m]);
    assert_eq!(s["inserted"].as_u64(), Some(2), "{s}");
    assert_eq!(other.ok(&["export", "--mapping", &m]), back);
    // Ids in another system filter like any field.
    let ids = |filter: &str| db.ok(&["export", "--entity", "contacts", "--fields", "email", "--where", filter]);
    assert_eq!(ids("external_id.erp = 'K-2'"), "email\nbob@example.com\n");
    assert_eq!(ids("external_id.oa is null and email like 'a%'"), "email\nada@example.com\n");
    // A system whose name has a space is named in backquotes.
    let spaced = db.file("spaced.toml", &ERP_MAPPING.replace("system = \"erp\"", "system = \"old erp\""));
    db.ok(&["import", &f, "--mapping", &spaced]);
    assert_eq!(ids("`external_id.old erp` = 'K-1'"), "email\nada@example.com\n");
});

on_both!(a_time_on_a_local_mean_time_goes_back_to_the_same_instant, |db| {
    // Shanghai was +08:05:43 in 1900, a common "no date" sentinel: the
    // offset's seconds were cut off, and the file came back 43 s off.
    let m = db.file(
        "lmt.toml",
        "entity = \"activities\"\n[key]\nexternal_id = { system = \"erp\", from = \"No\" }\n[fields]\n\
         kind = \"Kind\"\nsubject = \"Subject\"\n\
         occurred_at = { from = \"When\", type = \"datetime\", timezone = \"Asia/Shanghai\" }\n",
    );
    let f = db.file("lmt.csv", "No,Kind,Subject,When\nX-1,note,old,1900-01-01 00:00\n");
    db.ok(&["import", &f, "--mapping", &m]);
    let back = db.ok(&["export", "--mapping", &m]);
    assert_eq!(back, "No,Kind,Subject,When\nX-1,note,old,1900-01-01T00:00:00+08:05:43\n");
    let again = db.file("back.csv", &back);
    let s = db.json(&["import", &again, "--mapping", &m]);
    assert_eq!(s["unchanged"].as_u64(), Some(1), "{s}");
    let stored = db.ok(&["export", "--entity", "activities", "--fields", "occurred_at"]);
    assert_eq!(stored, "occurred_at\n1899-12-31T15:54:17Z\n");
});

on_both!(a_date_the_store_keeps_as_a_time_goes_back_as_a_date, |db| {
    let m = db.file(
        "signup.toml",
        "entity = \"contacts\"\n[key]\nfields = [\"email\"]\n[fields]\nemail = \"Email\"\n\
         subscribed_at = { from = \"Signed up\", type = \"date\" }\n",
    );
    let f = db.file("signup.csv", "Email,Signed up\na@x.com,2024-03-05\n");
    db.json(&["import", &f, "--mapping", &m]);
    assert_eq!(db.ok(&["export", "--mapping", &m]), "Email,Signed up\na@x.com,2024-03-05\n");
});

on_both!(a_flat_export_carries_external_ids_into_another_store, |db| {
    let f = db.file(
        "erp.csv",
        "email,external_id.erp,full_name\nada@example.com,K-1,Ada Lovelace\nbob@example.com,K-2,Bob Builder\n",
    );
    let s = db.json(&["import", &f, "--entity", "contacts"]);
    assert_eq!(s["inserted"].as_u64(), Some(2), "{s}");
    let out = db.ok(&["export", "--entity", "contacts", "--fields", "email,external_id.erp,full_name"]);
    assert_eq!(out, std::fs::read_to_string(&f).expect("read"));
    // The column matches records: a new e-mail on K-1 updates Ada.
    let moved = db.file("moved.csv", "external_id.erp,email\nK-1,ada@new.example.com\n");
    let s = db.json(&["import", &moved, "--entity", "contacts"]);
    assert_eq!((s["updated"].as_u64(), s["inserted"].as_u64()), (Some(1), Some(0)), "{s}");
    // In insert mode, the id is named as what exists already.
    let again = db.file("again.csv", "email,external_id.erp\nnew@x.com,K-2\n");
    let out = db.run(&["import", &again, "--entity", "contacts", "--mode", "insert"]);
    assert!(stderr_of(&out).contains("a contact with erp id \"K-2\" already exists"), "{}", stderr_of(&out));
    // One system per import.
    let two = db.file("two.csv", "email,external_id.erp,external_id.oa\na@x.com,K-3,O-3\n");
    let out = db.run(&["import", &two, "--entity", "contacts"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("are ids in several systems"), "{}", stderr_of(&out));
});

on_both!(ids_in_a_second_system_leave_the_first_systems_ids_in_the_export, |db| {
    // Records keyed by ERP id; one contact also gets an id in the OA. The
    // export carries the ERP ids most records have (and names the OA ones
    // it leaves out), so the contact without an e-mail stays on its deal.
    let c = db.file("c.csv", "external_id.erp,first_name,email\nC-1,Anna,\nC-2,Bert,bert@x.de\n");
    db.ok(&["import", &c, "--entity", "contacts"]);
    let d = db.file("d.csv", "external_id.erp,name,contacts.external_id.erp\nA-2,Support,C-1; C-2\n");
    db.ok(&["import", &d, "--entity", "deals"]);
    let oa = db.file("oa.csv", "external_id.oa,email\nO-2,bert@x.de\n");
    db.ok(&["import", &oa, "--entity", "contacts", "--key", "email"]);
    let out = db.run(&["export", "--entity", "contacts", "--fields", "first_name,external_id.erp,external_id.oa"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "first_name,external_id.erp,external_id.oa\nAnna,C-1,\nBert,C-2,O-2\n"
    );
    let out = db.run(&["export", "--entity", "contacts"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.lines().next().is_some_and(|h| h.ends_with(",external_id.erp")), "{text}");
    assert!(stderr_of(&out).contains("ids in other systems, left out (external_id.oa)"), "{}", stderr_of(&out));
    let other = if db.is_postgres() { Db::postgres("second_system_2").expect("server") } else { Db::sqlite() };
    let dir = tempfile::tempdir().expect("dir");
    for e in ["contacts", "deals"] {
        let f = dir.path().join(format!("{e}.csv"));
        db.ok(&["export", "--entity", e, "--out", f.to_str().expect("p")]);
        let s = other.json(&["import", f.to_str().expect("p"), "--entity", e]);
        assert_eq!(s["rejected"].as_u64(), Some(0), "{e}: {s}");
    }
    let anna = other.scalar("SELECT id FROM contacts WHERE first_name = 'Anna'").expect("Anna");
    assert_eq!(other.count(&format!("SELECT count(*) FROM deal_contacts WHERE contact_id = '{anna}'")), 1);
    assert_eq!(other.count("SELECT count(*) FROM external_ids WHERE system = 'erp'"), 3);
    // Deals carry their contacts' ids in that system too, and name those left out.
    let out = db.run(&["export", "--entity", "deals"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Support,,,,,,,bert@x.de,,A-2,C-1; C-2"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(stderr_of(&out).contains("left out (contacts.external_id.oa)"), "{}", stderr_of(&out));
    // Records without ids of their own: on a tie, the system of the links
    // that have no other key (a contact without an e-mail), not the company's.
    let co = db.file("co.csv", "name,domain,external_id.hubspot\nAcme Inc,acme.com,H1\n");
    db.ok(&["import", &co, "--entity", "companies"]);
    let d2 = db.file("d2.csv", "name,company.name,contacts.external_id.erp\nRenewal,Acme Inc,C-1\n");
    db.ok(&["import", &d2, "--entity", "deals"]);
    db.exec("DELETE FROM external_ids WHERE entity = 'deals'");
    let out = db.run(&["export", "--entity", "deals", "--where", "name = 'Renewal'"]);
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .ends_with(",contacts.external_id.erp\nRenewal,,,,,Acme Inc,acme.com,,,C-1\n"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(stderr_of(&out).contains("company.external_id.hubspot"), "{}", stderr_of(&out));
});

on_both!(a_contacts_export_with_company_ids_imports_into_an_empty_store, |db| {
    // The export carries `company.external_id.erp`: imported alone into an
    // empty store, each company is made once, with that id.
    let co = db.file("co.csv", "Id,Name,Domain\nE-C1,Acme Inc,acme.com\nE-C2,Beta,\nE-C3,Gamma,\n");
    let by_id = db.file(
        "co.toml",
        "entity = \"companies\"\n[key]\nexternal_id = { system = \"erp\", from = \"Id\" }\n\
         [fields]\nname = \"Name\"\ndomain = \"Domain\"\n",
    );
    db.ok(&["import", &co, "--mapping", &by_id]);
    let ct = db.file(
        "ct.csv",
        "email,company.external_id.erp,external_id.erp\nann@acme.com,E-C1,E-P1\nbob@beta.com,E-C2,E-P2\n\
         cy@beta.com,E-C2,E-P3\ndi@beta.com,E-C3,E-P4\n",
    );
    db.ok(&["import", &ct, "--entity", "contacts"]);
    let f = db.path("contacts.csv");
    db.ok(&["export", "--entity", "contacts", "--out", f.to_str().expect("p")]);
    let text = std::fs::read_to_string(&f).expect("export");
    assert!(text.lines().next().is_some_and(|h| h.ends_with("external_id.erp,company.external_id.erp")), "{text}");
    let other = if db.is_postgres() { Db::postgres("contacts_alone_2").expect("server") } else { Db::sqlite() };
    let s = other.json(&["import", f.to_str().expect("p"), "--entity", "contacts"]);
    assert_eq!(
        (s["inserted"].as_u64(), s["rejected"].as_u64(), s["companies_created"].as_u64()),
        (Some(4), Some(0), Some(3)),
        "{s}"
    );
    assert_eq!(other.ok(&["export", "--entity", "contacts"]), text);
    let companies = other.ok(&["export", "--entity", "companies", "--fields", "name,domain,external_id.erp"]);
    assert_eq!(companies, "name,domain,external_id.erp\nAcme Inc,acme.com,E-C1\nBeta,,E-C2\nGamma,,E-C3\n");
    // Undone, the companies and their ids go with the contacts.
    let batch = s["batch"].as_str().expect("batch").to_string();
    other.ok(&["undo", &batch]);
    assert_eq!(other.count("SELECT count(*) FROM external_ids"), 0);
    assert_eq!(other.count("SELECT count(*) FROM companies"), 0);
    // Update mode makes none.
    let s = other.json(&["import", f.to_str().expect("p"), "--entity", "contacts", "--mode", "update"]);
    assert_eq!(s["companies_created"].as_u64(), Some(0), "{s}");
    // Two ids under one name are two companies.
    let same = other.file(
        "same.csv",
        "email,company.name,company.external_id.erp,external_id.erp\na@x.com,Beta,E-C2,E-P1\n\
         b@x.com,Beta,E-C3,E-P2\nc@x.com,Beta,E-C2,E-P3\n",
    );
    let s = other.json(&["import", &same, "--entity", "contacts"]);
    assert_eq!((s["inserted"].as_u64(), s["companies_created"].as_u64()), (Some(3), Some(2)), "{s}");
});

on_both!(company_ids_that_disagree_with_names_or_domains_reject_the_row, |db| {
    let co = db.file("co.csv", "name,domain,external_id.erp\nAcme Inc,acme.com,C9\n");
    db.ok(&["import", &co, "--entity", "companies"]);
    let rows = db.file(
        "k.csv",
        "email,company.name,company.domain,company.external_id.erp,external_id.erp\n\
         a@x.com,Acme Inc,acme.com,C1,P1\nb@x.com,Acme Inc,,C9,P2\n\
         c@x.com,Nova,nova.io,N1,P3\nd@x.com,Nova Two,nova.io,N2,P4\ne@x.com,Other,other.com,N1,P5\nf@x.com,Nova,,N1,P6\n",
    );
    let rejects = db.path("k.rejects.csv");
    let s = db.json(&["import", &rows, "--entity", "contacts", "--rejects", rejects.to_str().expect("p")]);
    assert_eq!(
        (s["inserted"].as_u64(), s["rejected"].as_u64(), s["companies_created"].as_u64()),
        (Some(3), Some(3), Some(1)),
        "{s}"
    );
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    // Acme Inc is C9 in the ERP, not C1.
    assert!(
        text.contains("a@x.com")
            && text.contains("has erp id \"\"C9\"\", not the row's company.external_id \"\"C1\"\""),
        "{text}"
    );
    // nova.io is N1's domain; N1 is Nova, not Other.
    assert!(
        text.contains("d@x.com")
            && text.contains("is given with company.external_id \"\"N1\"\" in an earlier row, not \"\"N2\"\""),
        "{text}"
    );
    // N1 was made at nova.io for an earlier row, as it is once stored.
    assert!(
        text.contains("e@x.com")
            && text.contains("erp id \"\"N1\"\" is a company at another domain than the row's company.domain"),
        "{text}"
    );
    let linked = db.ok(&["export", "--entity", "contacts", "--fields", "email,company.name,company.external_id.erp"]);
    assert_eq!(
        linked,
        "email,company.name,company.external_id.erp\nb@x.com,Acme Inc,C9\nc@x.com,Nova,N1\nf@x.com,Nova,N1\n"
    );
});

on_both!(a_company_found_by_name_or_domain_takes_the_rows_company_id, |db| {
    // Companies made before their ERP ids were known.
    let co = db.file("co.csv", "name,domain\nAcme Inc,acme.com\nNova,\nZeta,zeta.io\n");
    db.ok(&["import", &co, "--entity", "companies"]);
    let rows = db.file(
        "k.csv",
        "email,company.name,company.domain,company.external_id.erp,external_id.erp\n\
         a@x.com,Acme Inc,acme.com,C1,P1\nb@x.com,,,C1,P2\nc@x.com,Nova,,N1,P3\nd@x.com,Nova,,N2,P4\n\
         e@x.com,Other,other.com,C1,P5\nf@x.com,,zeta.io,Z1,P6\n",
    );
    let rejects = db.path("k.rejects.csv");
    let plan = db.path("k.plan.csv");
    let s = db.json(&[
        "import",
        &rows,
        "--entity",
        "contacts",
        "--rejects",
        rejects.to_str().expect("p"),
        "--plan",
        plan.to_str().expect("p"),
    ]);
    assert_eq!(
        (
            s["inserted"].as_u64(),
            s["rejected"].as_u64(),
            s["companies_created"].as_u64(),
            s["companies_updated"].as_u64()
        ),
        (Some(5), Some(1), Some(1), Some(3)),
        "{s}"
    );
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(
        text.contains("e@x.com")
            && text.contains("erp id \"\"C1\"\" is a company at another domain than the row's company.domain"),
        "{text}"
    );
    // The plan shows each id given, after the first row that gives it.
    let planned = std::fs::read_to_string(&plan).expect("plan");
    assert!(
        planned.lines().any(|l| l.starts_with("2,update company,") && l.ends_with(",\"external_id.erp\",\"\",\"C1\"")),
        "{planned}"
    );
    let ids = ["export", "--entity", "companies", "--fields", "name,external_id.erp"];
    // Nova named with N2 is another Nova, as once N1 is stored.
    assert_eq!(db.ok(&ids), "name,external_id.erp\nAcme Inc,C1\nNova,N1\nZeta,Z1\nNova,N2\n");
    let linked = db.ok(&["export", "--entity", "contacts", "--fields", "email,company.external_id.erp"]);
    assert_eq!(linked, "email,company.external_id.erp\na@x.com,C1\nb@x.com,C1\nc@x.com,N1\nd@x.com,N2\nf@x.com,Z1\n");
    // A later file naming the company by its id alone finds it.
    let later = db.file("l.csv", "email,company.external_id.erp,external_id.erp\ng@x.com,N1,P7\n");
    let l = db.json(&["import", &later, "--entity", "contacts"]);
    assert_eq!((l["inserted"].as_u64(), l["rejected"].as_u64()), (Some(1), Some(0)), "{l}");
    // Undo takes the ids back (the later batch first: it links to Nova).
    db.ok(&["undo", l["batch"].as_str().expect("batch")]);
    db.ok(&["undo", s["batch"].as_str().expect("batch")]);
    assert_eq!(db.ok(&ids), "name,external_id.erp\nAcme Inc,\nNova,\nZeta,\n");
    // Insert mode changes no stored company: the ids are not taken (and
    // bind nothing: C1 goes to the company made for Other).
    let ins = db.json(&["import", &rows, "--entity", "contacts", "--mode", "insert"]);
    assert_eq!(ins["companies_updated"].as_u64(), Some(0), "{ins}");
    assert_eq!(db.ok(&ids), "name,external_id.erp\nAcme Inc,\nNova,\nZeta,\nOther,C1\n");
});

on_both!(company_ids_hold_across_chunks_and_only_written_rows_give_them, |db| {
    let co = db.file("co.csv", "name,domain\nAcme Inc,acme.com\nZeta,zeta.io\nNova,\n");
    db.ok(&["import", &co, "--entity", "companies"]);
    // A company made for a row takes the id a later row gives it; rows
    // naming it by that id alone, or by domain and id, find it.
    let mid = db.file(
        "m.csv",
        "email,company.name,company.domain,company.external_id.erp\n\
         m1@x.com,MidCo,mid.com,\nm2@x.com,MidCo,,M1\nm3@x.com,,,M1\nm4@x.com,,mid.com,M1\n",
    );
    let s = db.json(&["import", &mid, "--entity", "contacts"]);
    assert_eq!((s["inserted"].as_u64(), s["companies_created"].as_u64()), (Some(4), Some(1)), "{s}");
    let ids = ["export", "--entity", "companies", "--fields", "name,external_id.erp"];
    assert!(db.ok(&ids).contains("\nMidCo,M1\n"), "{}", db.ok(&ids));
    // An id stored a chunk earlier is checked against the name and domain
    // a later row gives with it: another company's is refused; a name
    // that finds none is the company's new name.
    let mut rows = vec![
        "email,company.name,company.domain,company.external_id.erp".to_string(),
        "a@x.com,Acme Inc,,C1".into(),
        "n@x.com,NewCo,newco.com,X1".into(),
    ];
    rows.extend((0..1100).map(|i| format!("f{i}@x.com,,,")));
    rows.extend(["e@x.com,Other,other.com,C1", "z@x.com,Zeta,,X1", "r@x.com,Acme Renamed,,C1"].map(String::from));
    let big = db.file("big.csv", &(rows.join("\n") + "\n"));
    let rejects = db.path("big.rejects.csv");
    let s = db.json(&["import", &big, "--entity", "contacts", "--rejects", rejects.to_str().expect("p")]);
    assert_eq!(s["rejected"].as_u64(), Some(2), "{s}");
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(text.contains("e@x.com") && text.contains("another domain than the row's company.domain"), "{text}");
    assert!(text.contains("z@x.com") && text.contains("another company than the one the row's company.name"), "{text}");
    let linked = db.ok(&["export", "--entity", "contacts", "--fields", "email,company.name"]);
    assert!(linked.contains("\nr@x.com,Acme Inc\n"), "{linked}");
    // A row rejected (update mode, no such contact) gives its company
    // nothing, and binds no other row: by that id alone nothing is found.
    let upd = db.file(
        "u.csv",
        "email,company.name,company.external_id.erp\nnobody@x.com,Nova,N1\na@x.com,,N1\nr@x.com,Nova,N2\n",
    );
    let s = db.json(&["import", &upd, "--entity", "contacts", "--mode", "update"]);
    assert_eq!(
        (s["updated"].as_u64(), s["rejected"].as_u64(), s["companies_updated"].as_u64()),
        (Some(1), Some(2), Some(1)),
        "{s}"
    );
    assert!(db.ok(&ids).contains("\nNova,N2\n"), "{}", db.ok(&ids));
    // In one file as across chunks: a row whose name finds no company is
    // the company its id was given to (a new name); a second company of a
    // name, with an id of its own, is another company.
    let more = db.file(
        "r.csv",
        "email,company.name,company.domain,company.external_id.erp\n\
         i1@x.com,Initech,,I1\ni2@x.com,Initech Renamed,,I1\ni3@x.com,,initech.com,I1\n\
         o2@x.com,Omega,,O2\n",
    );
    let co2 = db.file("co2.csv", "name,external_id.erp\nInitech,\nOmega,O1\n");
    db.ok(&["import", &co2, "--entity", "companies"]);
    let s = db.json(&["import", &more, "--entity", "contacts"]);
    assert_eq!(
        (s["inserted"].as_u64(), s["rejected"].as_u64(), s["companies_created"].as_u64()),
        (Some(4), Some(0), Some(1)),
        "{s}"
    );
    let linked = db.ok(&["export", "--entity", "contacts", "--fields", "email,company.name,company.external_id.erp"]);
    for line in ["i1@x.com,Initech,I1", "i2@x.com,Initech,I1", "i3@x.com,Initech,I1", "o2@x.com,Omega,O2"] {
        assert!(linked.contains(&format!("\n{line}\n")), "{line}: {linked}");
    }
});

on_both!(a_stored_company_id_given_with_another_companys_name_rejects_the_row, |db| {
    let co = db.file("co.csv", "name,domain,external_id.erp\nAcme Inc,acme.com,C1\nACME GmbH,acme.de,C2\n");
    db.ok(&["import", &co, "--entity", "companies", "--key", "domain"]);
    // `ACME GmbH` is written as the other of two names alike; `NewCo` is
    // made for an earlier row of the file.
    let rows = db.file(
        "c.csv",
        "email,company.name,company.external_id.erp\na@x.com,ACME GmbH,C1\nb@x.com,ACME GmbH,\n\
         c@x.com,Acme Inc,C1\nd@x.com,NewCo,\ne@x.com,NewCo,C1\n",
    );
    let rejects = db.path("c.rejects.csv");
    let s = db.json(&["import", &rows, "--entity", "contacts", "--rejects", rejects.to_str().expect("p")]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(3), Some(2)), "{s}");
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    for who in ["a@x.com", "e@x.com"] {
        let line = text.lines().find(|l| l.starts_with(who)).unwrap_or_default();
        // (Naming the company the id belongs to, and its id for `history`.)
        let id = db.scalar("SELECT id FROM companies WHERE name = 'Acme Inc'").expect("Acme Inc");
        let said = format!(
            "erp id \"\"C1\"\" belongs to \"\"Acme Inc\"\" ({id}), another company than the one the row's \
             company.name"
        );
        assert!(line.contains(&said), "{text}");
    }
    // A company found by its id, without a domain, takes the row's.
    let bare = db.file("b.csv", "name,external_id.erp\nInitech,C3\n");
    db.ok(&["import", &bare, "--entity", "companies"]);
    let rows =
        db.file("i.csv", "email,company.name,company.domain,company.external_id.erp\ni@x.com,Initech,initech.com,C3\n");
    let s = db.json(&["import", &rows, "--entity", "contacts"]);
    assert_eq!((s["inserted"].as_u64(), s["companies_updated"].as_u64()), (Some(1), Some(1)), "{s}");
    let domains = db.ok(&["export", "--entity", "companies", "--fields", "name,domain", "--where", "name = 'Initech'"]);
    assert_eq!(domains, "name,domain\nInitech,initech.com\n");
});

#[test]
fn company_links_come_out_the_same_for_rows_side_by_side_chunks_apart_or_in_separate_imports() {
    // Rows, each set a case the link rules decide: side by side in one
    // chunk, 1,100 rows apart, or each in an import of its own, the store
    // ends the same.
    let cases: &[(&str, &[&str])] = &[
        ("upsert", &["a@x.com,Zeta,zeta.com,Z1", "b@x.com,Other,zeta.com,"]),
        ("upsert", &["a@x.com,Zeta,zeta.com,Z1", "b@x.com,Zeta,zeta.io,Z1"]),
        ("upsert", &["a@x.com,Nodom,nodom.com,", "b@x.com,Nodom,nodom.io,"]),
        ("insert", &["a@x.com,Nodom,,N1", "b@x.com,Nodom,,N2"]),
        ("upsert", &["a@x.com,Nodom,,N1", "b@x.com,Nodom,,N2"]),
        ("upsert", &["a@x.com,Nodom,,N1", "b@x.com,Nodom Renamed,,N1"]),
        ("upsert", &["a@x.com,Nodom,,N1", "b@x.com,,nodom.com,N1"]),
        ("upsert", &["a@x.com,Nodom,nodom.com,N1", "b@x.com,,nodom.io,N1"]),
        ("upsert", &["a@x.com,Nodom,nodom.com,", "b@x.com,Nodom,nodom.com,N1"]),
        ("update", &["nobody@x.com,Nodom,,N1", "b@x.com,Nodom,,N2"]),
        ("upsert", &["a@x.com,Acme Inc,,C1", "b@x.com,Other,other.com,C1"]),
        ("upsert", &["a@x.com,NewCo,newco.com,X1", "b@x.com,Zeta,,X1"]),
        ("upsert", &["a@x.com,Zeta,,Z2", "b@x.com,,,Z2"]),
        // Made in the file: it takes the domain a later row gives it, and
        // names alike made at two domains are two companies.
        ("upsert", &["a@x.com,Newt Inc,,", "b@x.com,NEWT GmbH,newt.de,"]),
        ("upsert", &["a@x.com,Newt Inc,,", "b@x.com,NEWT,newt.com,N9"]),
        ("upsert", &["a@x.com,Newt Inc,,", "b@x.com,NEWT,newt.com,", "c@x.com,Newt Inc,newt.com,"]),
        ("insert", &["a@x.com,Newt Inc,,", "b@x.com,NEWT GmbH,newt.de,"]),
        ("upsert", &["a@x.com,Newt,newt.com,", "b@x.com,Newt,newt.de,", "c@x.com,Newt,,"]),
        ("upsert", &["a@x.com,Newt,,N1", "b@x.com,Newt,,N2", "c@x.com,Newt,,"]),
        ("upsert", &["a@x.com,Newt Inc,newt.com,", "b@x.com,NEWT GmbH,newt.de,", "c@x.com,NEWT GmbH,,"]),
    ];
    let header = "email,company.name,company.domain,company.external_id.erp";
    for (mode, rows) in cases {
        let mut seen: Vec<(String, String)> = Vec::new();
        for layout in ["side by side", "chunks apart", "separate imports"] {
            let db = Db::sqlite();
            let co = db.file("co.csv", "name,domain,external_id.erp\nZeta,,Z1\nAcme Inc,acme.com,\nNodom,,\n");
            db.ok(&["import", &co, "--entity", "companies"]);
            let fillers: String = (0..1100).map(|i| format!("f{i}@x.com,,,\n")).collect();
            let files = match layout {
                "side by side" => vec![format!("{header}\n{}\n", rows.join("\n"))],
                "chunks apart" => vec![format!("{header}\n{}\n", rows.join(&format!("\n{fillers}")))],
                _ => rows.iter().map(|row| format!("{header}\n{row}\n")).collect(),
            };
            for (i, text) in files.iter().enumerate() {
                let f = db.file(&format!("c{i}.csv"), text);
                db.ok(&["import", &f, "--entity", "contacts", "--mode", mode]);
            }
            let companies = db.ok(&["export", "--entity", "companies", "--fields", "name,domain,external_id.erp"]);
            let contacts = db.ok(&[
                "export",
                "--entity",
                "contacts",
                "--fields",
                "email,company.name,company.domain,company.external_id.erp",
                "--where",
                "email not like 'f%'",
            ]);
            seen.push((companies, contacts));
        }
        assert!(seen.iter().all(|s| *s == seen[0]), "{rows:?} ({mode}): {seen:#?}");
    }
}

on_both!(a_companies_export_with_names_alike_and_shared_reimports_whole, |db| {
    // Companies links made: two Zetas and two Acmes, told apart by ids.
    let co = db.file("co.csv", "name,domain,external_id.erp\nZeta,,Z1\nAcme Inc,acme.com,A1\n");
    db.ok(&["import", &co, "--entity", "companies"]);
    let rows = db.file(
        "c.csv",
        "email,company.name,company.domain,company.external_id.erp\na@x.com,Zeta,,Z2\nb@x.com,ACME GmbH,acme.de,G1\n",
    );
    let s = db.json(&["import", &rows, "--entity", "contacts"]);
    assert_eq!(s["companies_created"].as_u64(), Some(2), "{s}");
    let first = db.ok(&["export", "--entity", "companies"]);
    let other = if db.is_postgres() { Db::postgres("companies_alike_2").expect("server") } else { Db::sqlite() };
    let f = other.file("companies.csv", &first);
    let s = other.json(&["import", &f, "--entity", "companies"]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(4), Some(0)), "{s}");
    assert_eq!(other.ok(&["export", "--entity", "companies"]), first);
});

on_both!(a_row_rejected_for_another_link_gives_its_company_nothing, |db| {
    let co = db.file("co.csv", "name\nNodom\n");
    db.ok(&["import", &co, "--entity", "companies"]);
    // D1's contact is unknown: D1 is rejected, and its company id binds
    // nothing; D2 is written and Nodom takes N2.
    let deals = db.file(
        "d.csv",
        "name,external_id.erp,company.name,company.external_id.erp,contacts\n\
         D1,P1,Nodom,N1,nobody@x.com\nD2,P2,Nodom,N2,\n",
    );
    let rejects = db.path("d.rejects.csv");
    let s = db.json(&["import", &deals, "--entity", "deals", "--rejects", rejects.to_str().expect("p")]);
    assert_eq!(
        (s["inserted"].as_u64(), s["rejected"].as_u64(), s["companies_updated"].as_u64()),
        (Some(1), Some(1), Some(1)),
        "{s}"
    );
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(text.contains("D1") && text.contains("no contact with"), "{text}");
    assert_eq!(
        db.ok(&["export", "--entity", "companies", "--fields", "name,external_id.erp"]),
        "name,external_id.erp\nNodom,N2\n"
    );
});

on_both!(links_without_a_natural_key_go_into_another_store_by_id, |db| {
    // Records keyed by ERP id: a contact without an e-mail, two deals of one
    // name. Links by natural key would lose them; the export carries the
    // linked records' ERP ids too, and the file imports again whole.
    let write = |name: &str, text: &str| db.file(name, text);
    let cm = write(
        "c.toml",
        "entity = \"contacts\"\n[key]\nexternal_id = { system = \"erp\", from = \"Id\" }\n\
         [fields]\nfirst_name = \"Name\"\nemail = { from = \"Email\", type = \"email\" }\n",
    );
    let dm = write(
        "d.toml",
        "entity = \"deals\"\n[key]\nexternal_id = { system = \"erp\", from = \"Id\" }\n\
         [fields]\nname = \"Name\"\n\"contacts.external_id\" = { from = \"Contacts\", split = \";\" }\n",
    );
    let am = write(
        "a.toml",
        "entity = \"activities\"\n[key]\nexternal_id = { system = \"erp\", from = \"Id\" }\n[fields]\n\
         subject = \"Subject\"\nkind = \"Kind\"\n\"contact.external_id\" = \"Contact\"\n\
         \"deal.external_id\" = \"Deal\"\n",
    );
    let c = write("c.csv", "Id,Name,Email\nC-1,Anna,\nC-2,Bert,bert@x.de\n");
    let d = write("d.csv", "Id,Name,Contacts\nA-2,Support,C-1;C-2\nA-5,Support,C-2\n");
    let a = write("a.csv", "Id,Subject,Kind,Contact,Deal\nX-1,Call Anna,call,C-1,A-5\n");
    for (file, mapping) in [(&c, &cm), (&d, &dm), (&a, &am)] {
        let s = db.json(&["import", file, "--mapping", mapping]);
        assert_eq!(s["rejected"].as_u64(), Some(0), "{file}: {s}");
        assert_eq!(s["external_id"].as_str(), Some("erp"), "matched by ERP id first: {s}");
    }
    let acts = db.ok(&[
        "export",
        "--entity",
        "activities",
        "--fields",
        "subject,contact.external_id.erp,deal.external_id.erp",
    ]);
    assert_eq!(acts, "subject,contact.external_id.erp,deal.external_id.erp\nCall Anna,C-1,A-5\n");
    let other = if db.is_postgres() { Db::postgres("links_by_id_2").expect("server") } else { Db::sqlite() };
    let dir = tempfile::tempdir().expect("dir");
    let mut first = Vec::new();
    for e in ["contacts", "deals", "activities"] {
        let f = dir.path().join(format!("{e}.csv"));
        db.ok(&["export", "--entity", e, "--out", f.to_str().expect("p")]);
        let text = std::fs::read_to_string(&f).expect("export");
        let s = other.json(&["import", f.to_str().expect("p"), "--entity", e]);
        assert_eq!(s["rejected"].as_u64(), Some(0), "{e}: {s}\n{text}");
        first.push(text);
    }
    assert!(first[1].contains("contacts.external_id.erp") && first[1].contains("C-1; C-2"), "{}", first[1]);
    for (e, text) in ["contacts", "deals", "activities"].into_iter().zip(&first) {
        assert_eq!(&other.ok(&["export", "--entity", e]), text, "{e}");
    }
    // Anna, who has no e-mail, is still on the deal and the activity.
    let anna = other.scalar("SELECT id FROM contacts WHERE first_name = 'Anna'").expect("Anna");
    assert_eq!(other.count(&format!("SELECT count(*) FROM deal_contacts WHERE contact_id = '{anna}'")), 1);
    assert_eq!(other.count(&format!("SELECT count(*) FROM activities WHERE contact_id = '{anna}'")), 1);
    // A record's history is found by its id in the ERP too.
    let anna = other.ok(&["history", "C-1"]);
    assert!(anna.starts_with("contacts ") && anna.contains("created"), "{anna}");
    // Link ids in a system other than the records' own are refused.
    let mixed = db.file("mixed.csv", "subject,kind,external_id.erp,contact.external_id.oa\nHi,call,X-9,O-1\n");
    let out = db.run(&["import", &mixed, "--entity", "activities"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("holds ids in \"oa\""), "{}", stderr_of(&out));
});

on_both!(a_deals_contacts_by_e_mail_and_by_id_both_link, |db| {
    // One contact has an ERP id, the other an e-mail only: the export gives
    // both columns, and each links the contacts it names.
    let c1 = db.file("c1.csv", "email,external_id.erp\na@x.com,P-1\n");
    let c2 = db.file("c2.csv", "email\nb@x.com\n");
    let d = db.file("d.csv", "name,contacts\nD,a@x.com;b@x.com\n");
    for (f, e) in [(&c1, "contacts"), (&c2, "contacts"), (&d, "deals")] {
        db.ok(&["import", f, "--entity", e]);
    }
    let out = db.path("deals.csv");
    db.ok(&[
        "export",
        "--entity",
        "deals",
        "--fields",
        "name,contacts,contacts.external_id.erp",
        "--out",
        out.to_str().expect("p"),
    ]);
    assert_eq!(
        std::fs::read_to_string(&out).expect("export"),
        "name,contacts,contacts.external_id.erp\nD,a@x.com; b@x.com,P-1\n"
    );
    let s = db.json(&["import", out.to_str().expect("p"), "--entity", "deals"]);
    assert_eq!(s["unchanged"].as_u64(), Some(1), "{s}");
    assert_eq!(db.count("SELECT count(*) FROM deal_contacts"), 2);
});

on_both!(a_json_or_xml_export_carries_external_ids_into_another_store, |db| {
    let f = db.file("erp.csv", "email,external_id.erp\nada@example.com,K-1\nbob@example.com,K-2\n");
    db.json(&["import", &f, "--entity", "contacts"]);
    for (n, ext) in ["ndjson", "json", "xml"].into_iter().enumerate() {
        let out = db.path(&format!("ids.{ext}"));
        db.ok(&[
            "export",
            "--entity",
            "contacts",
            "--fields",
            "email,external_id.erp",
            "--out",
            out.to_str().expect("p"),
        ]);
        let written = std::fs::read_to_string(&out).expect("read");
        assert!(written.contains("erp"), "{written}");
        // Nested in an `external_id` object, which the first record shows.
        let other = if db.is_postgres() { Db::postgres(&format!("ids_{n}")).expect("server") } else { Db::sqlite() };
        let s = other.json(&["import", out.to_str().expect("p"), "--entity", "contacts"]);
        assert_eq!(s["inserted"].as_u64(), Some(2), "{ext}: {s}");
        let back = other.ok(&["export", "--entity", "contacts", "--fields", "email,external_id.erp"]);
        assert_eq!(back, std::fs::read_to_string(&f).expect("read"), "{ext}");
        // And it matches by them: a new e-mail on K-1 updates that record.
        let moved = other.file("moved.ndjson", r#"{"external_id":{"erp":"K-1"},"email":"ada@new.example.com"}"#);
        let s = other.json(&["import", &moved, "--entity", "contacts"]);
        assert_eq!((s["updated"].as_u64(), s["inserted"].as_u64()), (Some(1), Some(0)), "{ext}: {s}");
    }
    // Another tool's file may leave the object out of its first records.
    let later = db.file(
        "later.ndjson",
        concat!(
            r#"{"email":"new@x.com"}"#,
            "\n",
            r#"{"email":"bob@new.example.com","external_id":{"erp":"K-2"}}"#,
            "\n"
        ),
    );
    let s = db.json(&["import", &later, "--entity", "contacts"]);
    assert_eq!(
        (s["inserted"].as_u64(), s["updated"].as_u64(), s["rejected"].as_u64()),
        (Some(1), Some(1), Some(0)),
        "{s}"
    );
});

on_both!(links_by_another_systems_ids_go_back_into_its_columns, |db| {
    let key = "[key]\nexternal_id = { system = \"erp\", from = \"Id\" }\n[fields]\n";
    let files = [
        ("co", "companies", "name = \"Name\"\n", "Id,Name\nC-1,Acme\nC-2,Navy\n"),
        (
            "ct",
            "contacts",
            "email = \"Mail\"\n\"company.external_id\" = \"Company Id\"\n",
            "Id,Mail,Company Id\nP-1,ada@x.com,C-1\nP-2,bob@x.com,C-2\n",
        ),
        (
            "de",
            "deals",
            "name = \"Deal\"\n\"company.external_id\" = \"Company Id\"\n\"contacts.external_id\" = \"People\"\n",
            "Id,Deal,Company Id,People\nD-1,Renewal,C-1,P-1; P-2\n",
        ),
        (
            "ac",
            "activities",
            "kind = \"Type\"\n\"contact.external_id\" = \"Who\"\n\"deal.external_id\" = \"Deal Id\"\n",
            "Id,Type,Who,Deal Id\nA-1,call,P-1,D-1\n",
        ),
    ];
    for (name, entity, fields, data) in files {
        let m = db.file(&format!("{name}.toml"), &format!("entity = \"{entity}\"\n{key}{fields}"));
        let f = db.file(&format!("{name}.csv"), data);
        db.json(&["import", &f, "--mapping", &m]);
        assert_eq!(db.ok(&["export", "--mapping", &m]), data, "{entity}");
    }
    let out = db.ok(&["export", "--entity", "contacts", "--fields", "email,company.external_id.erp"]);
    assert_eq!(out, "email,company.external_id.erp\nada@x.com,C-1\nbob@x.com,C-2\n");
    // A deal's contacts go back with the mapping's separator.
    let m = db.file(
        "dc.toml",
        "entity = \"deals\"\n[key]\nfields = [\"name\"]\n[fields]\nname = \"Deal\"\ncontacts = { from = \"People\", split = \",\" }\n",
    );
    let data = "Deal,People\nPilot,\"ada@x.com,bob@x.com\"\n";
    db.json(&["import", &db.file("dc.csv", data), "--mapping", &m]);
    assert_eq!(db.ok(&["export", "--mapping", &m, "--where", "name = 'Pilot'"]), data);
});

on_both!(a_mapping_run_backwards_writes_the_file_its_source_describes, |db| {
    // A GBK file with `;` and custom lists split by `/`.
    let m = db.file(
        "gbk.toml",
        "entity = \"contacts\"\n[source]\nencoding = \"gbk\"\ndelimiter = \";\"\n[key]\nfields = [\"email\"]\n\
         [fields]\nemail = \"邮箱\"\nfull_name = \"姓名\"\n\"custom.langs\" = { from = \"语言\", split = \"/\" }\n",
    );
    let text = "邮箱;姓名;语言\nli@x.cn;李雷;zh/en\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(text);
    let f = db.path("gbk.csv");
    std::fs::write(&f, &gbk).expect("write");
    db.json(&["import", f.to_str().expect("p"), "--mapping", &m]);
    let out = db.path("back.csv");
    db.ok(&["export", "--mapping", &m, "--out", out.to_str().expect("p")]);
    assert_eq!(std::fs::read(&out).expect("read"), gbk.to_vec(), "GBK, `;`, `zh/en` as the source wrote them");
    // Without a mapping, a custom list is a list: `a; b` in flat files.
    assert_eq!(db.ok(&["export", "--entity", "contacts", "--fields", "custom.langs"]), "custom.langs\nzh; en\n");
    // --fields with a mapping writes those fields' columns alone.
    // (Options still say otherwise: here UTF-8 and `,`.)
    let only = db.ok(&[
        "export",
        "--mapping",
        &m,
        "--fields",
        "email,full_name",
        "--out-encoding",
        "utf-8",
        "--delimiter",
        ",",
    ]);
    assert_eq!(only, "邮箱,姓名\nli@x.cn,李雷\n");
    let out = db.run(&["export", "--mapping", &m, "--fields", "phone"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("`phone` is not mapped by"), "{}", stderr_of(&out));
    let out = db.run(&["export", "--entity", "contacts", "--fields", ""]);
    assert_eq!(out.status.code(), Some(2));
    // A character GBK has not names the record and the column it is in.
    let zoe = db.file("zoe.csv", "email,first_name\nzoe@x.com,Zoë\n");
    db.ok(&["import", &zoe, "--entity", "contacts"]);
    let out = db.run(&["export", "--entity", "contacts", "--fields", "email,first_name", "--out-encoding", "gbk"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.contains(
            "record 2 of the export (zoe@x.com): `first_name`: character 'ë' (U+00EB) cannot be written in GBK"
        ) && err.contains("(gb18030 has every character"),
        "{err}"
    );
    // Without the field that names it, the record is named by its place alone.
    let out = db.run(&["export", "--entity", "contacts", "--fields", "first_name", "--out-encoding", "gbk"]);
    assert!(stderr_of(&out).contains("record 2 of the export: `first_name`: character 'ë'"), "{}", stderr_of(&out));
});

on_both!(an_xml_file_written_through_a_mapping_imports_again_through_it, |db| {
    // Column names XML elements cannot carry: written `Kunden_Nr`, read back.
    let spaced = |t: &str| t.replace("Kunden-Nr", "Kunden Nr").replace("E-Mail", "E Mail");
    let m = db.file("xml.toml", &spaced(ERP_MAPPING));
    let f = db.file("erp.csv", &spaced(ERP_FILE));
    db.json(&["import", &f, "--mapping", &m]);
    let xml = db.path("erp.xml");
    db.ok(&["export", "--mapping", &m, "--out", xml.to_str().expect("p")]);
    assert!(std::fs::read_to_string(&xml).expect("read").contains("<Kunden_Nr>K-1</Kunden_Nr>"));
    let other = if db.is_postgres() { Db::postgres("xml_back_2").expect("server") } else { Db::sqlite() };
    let s = other.json(&["import", xml.to_str().expect("p"), "--mapping", &m]);
    assert_eq!(s["inserted"].as_u64(), Some(2), "{s}");
    assert_eq!(other.ok(&["export", "--mapping", &m, "--format", "csv"]), spaced(ERP_FILE));
});

#[test]
fn bad_filters_and_fields_are_named() {
    let db = Db::sqlite();
    // A command written wrong is a usage error (exit 2), as with clap's own.
    let out = db.run(&["export", "--entity", "contacts", "--where", "email = "]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("--where: at character"), "{}", stderr_of(&out));
    let out = db.run(&["export", "--entity", "contacts", "--fields", "email,phone,email"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("`email` is listed twice"), "{}", stderr_of(&out));
    let out = db.run(&["export", "--entity", "contacts", "--where", "shoe_size > 3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("`shoe_size` is not a field of contacts"), "{}", stderr_of(&out));
    let out = db.run(&["export", "--entity", "contacts", "--fields", "email,shoe"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("--fields: `shoe` is not a field of contacts"), "{}", stderr_of(&out));
    let out = db.run(&["export", "--entity", "contacts", "--since", "yesterday"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("--since: \"yesterday\" is not a date"), "{}", stderr_of(&out));
    for format in [["--format", "xls"], ["--out", "contacts.ods"]] {
        let out = db.run(&["export", "--entity", "contacts", format[0], format[1]]);
        assert_eq!(out.status.code(), Some(2), "{format:?}");
        assert!(stderr_of(&out).contains("can be read but not written; write xlsx instead"), "{}", stderr_of(&out));
    }
    let out = db.run(&["export", "--entity", "contacts", "--out", "book.xlsm"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("holds macros, which crmsync does not write; name the file .xlsx"),
        "{}",
        stderr_of(&out)
    );
    assert!(!db.path("book.xlsm").exists());
    // What the store cannot do as asked is the job failing (exit 1).
    let out = db.run(&["undo", "01ARZ3NDEKTSV4RRFFQ69G5FAV"]);
    assert_eq!(out.status.code(), Some(1));
}

#[cfg(unix)]
#[test]
fn an_output_through_a_link_or_into_a_pipe_stays_a_link_or_a_pipe() {
    let db = Db::sqlite();
    let f = db.file("people.csv", "email\na@x.com\n");
    db.ok(&["import", &f, "--entity", "contacts"]);
    // A link: the file it points to gets the export, the link stays.
    let real = db.path("real.csv");
    std::fs::write(&real, "old\n").expect("write");
    let link = db.path("link.csv");
    std::os::unix::fs::symlink(&real, &link).expect("link");
    db.ok(&["export", "--entity", "contacts", "--fields", "email", "--out", link.to_str().expect("p")]);
    assert!(link.is_symlink());
    assert_eq!(std::fs::read_to_string(&real).expect("read"), "email\na@x.com\n");
    // A private file stays private; a link to a file not there yet makes it.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    db.ok(&["export", "--entity", "contacts", "--fields", "email", "--out", link.to_str().expect("p")]);
    assert_eq!(std::fs::metadata(&real).expect("meta").permissions().mode() & 0o777, 0o600);
    let dangling = db.path("later.csv");
    std::os::unix::fs::symlink("made.csv", &dangling).expect("link");
    db.ok(&["export", "--entity", "contacts", "--fields", "email", "--out", dangling.to_str().expect("p")]);
    assert!(dangling.is_symlink());
    assert_eq!(std::fs::read_to_string(db.path("made.csv")).expect("read"), "email\na@x.com\n");
    // A hard link: every name sees the new content.
    let other = db.path("other-name.csv");
    std::fs::hard_link(&real, &other).expect("hard link");
    db.ok(&["export", "--entity", "contacts", "--fields", "email,first_name", "--out", other.to_str().expect("p")]);
    assert_eq!(std::fs::read_to_string(&real).expect("read"), "email,first_name\na@x.com,\n");
    assert_eq!(std::fs::read_to_string(&other).expect("read"), "email,first_name\na@x.com,\n");
    assert!(!db.path(".other-name.csv.partial").exists());
    // A named pipe (as /dev/stdout is): written into, never replaced.
    let pipe = db.path("pipe.csv");
    let made = std::process::Command::new("mkfifo").arg(&pipe).status().expect("mkfifo");
    assert!(made.success());
    let reading = {
        let pipe = pipe.clone();
        std::thread::spawn(move || std::fs::read_to_string(pipe).expect("read the pipe"))
    };
    db.ok(&["export", "--entity", "contacts", "--fields", "email", "--out", pipe.to_str().expect("p")]);
    // Checked first: had the pipe been replaced, the reader would wait forever.
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(&pipe).expect("meta").file_type().is_fifo());
    assert_eq!(reading.join().expect("reader"), "email\na@x.com\n");
}

on_both!(many_custom_names_export_as_the_records_carry_them, |db| {
    // 150 names, each on one record: more than are looked for one by one.
    // The second batch's 100 names go with its undo.
    let kept: String =
        (0..50).map(|i| format!("{{\"email\":\"k{i}@x.com\",\"custom\":{{\"k{i:03}\":\"v\"}}}}\n")).collect();
    let gone: String =
        (0..100).map(|i| format!("{{\"email\":\"g{i}@x.com\",\"custom\":{{\"g{i:03}\":\"v\"}}}}\n")).collect();
    db.ok(&["import", &db.file("kept.ndjson", &kept), "--entity", "contacts"]);
    let batch = db.json(&["import", &db.file("gone.ndjson", &gone), "--entity", "contacts"]);
    let header = |db: &Db| db.ok(&["export", "--entity", "contacts"]).lines().next().unwrap_or_default().to_string();
    let with_all = header(db);
    assert!(with_all.contains(",custom.g099,") && with_all.contains(",custom.k049"), "{with_all}");
    db.ok(&["undo", batch["batch"].as_str().expect("a batch id")]);
    let customs: Vec<String> = header(db).split(',').filter(|c| c.starts_with("custom.")).map(str::to_string).collect();
    let expected: Vec<String> = (0..50).map(|i| format!("custom.k{i:03}")).collect();
    assert_eq!(customs, expected);
});

on_both!(links_an_export_cannot_name_are_said, |db| {
    // Bob has no e-mail: a deal's `contacts` cannot name him, and the file
    // imported again would unlink him. His id in the ERP can.
    let c = db.file("c.csv", "email,first_name,external_id.erp\nann@acme.com,Ann,P1\n,Bob,P2\n");
    db.ok(&["import", &c, "--entity", "contacts"]);
    let d = db.file("d.csv", "name,contacts.external_id.erp,external_id.erp\nRenewal,P1; P2,D1\nOther,P1,D2\n");
    db.ok(&["import", &d, "--entity", "deals"]);
    let a = db.file("a.csv", "kind,subject,contact.external_id.erp\ncall,Hi,P2\n");
    db.ok(&["import", &a, "--entity", "activities"]);
    let said = |args: &[&str]| stderr_of(&db.run(args));
    let e = said(&[
        "export",
        "--entity",
        "deals",
        "--fields",
        "name,contacts",
        "-o",
        db.path("d1.csv").to_str().expect("p"),
    ]);
    assert!(e.contains("note: 1 deal links contacts with no e-mail: `contacts` cannot name them"), "{e}");
    let e = said(&[
        "export",
        "--entity",
        "deals",
        "--fields",
        "name,contacts,contacts.external_id.erp",
        "-o",
        db.path("d2.csv").to_str().expect("p"),
    ]);
    assert!(!e.contains("cannot name them"), "{e}");
    let e = said(&["export", "--entity", "deals", "--fields", "name,contacts", "--where", "name = 'Other'"]);
    assert!(!e.contains("cannot name them"), "{e}");
    let e = said(&["export", "--entity", "activities", "--fields", "subject,contact.email"]);
    assert!(e.contains("note: 1 activity links a contact with no e-mail: `contact.email` cannot name them"), "{e}");
});

#[test]
fn two_fields_xml_would_write_as_one_element_are_refused() {
    let db = Db::sqlite();
    let f = db.file("xc.ndjson", "{\"email\":\"a@x.com\",\"custom\":{\"Customer Id\":\"1\",\"Customer_Id\":\"2\"}}\n");
    db.ok(&["import", &f, "--entity", "contacts"]);
    let out = db.run(&["export", "--entity", "contacts", "--format", "xml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains(
            "fields \"custom.Customer Id\" and \"custom.Customer_Id\" would both be written as <custom/Customer_Id>"
        ),
        "{}",
        stderr_of(&out)
    );
    // One of them alone is written, and read back.
    let one = db.ok(&["export", "--entity", "contacts", "--format", "xml", "--fields", "email,custom.Customer_Id"]);
    assert!(one.contains("<Customer_Id>2</Customer_Id>"), "{one}");
}

on_both!(values_a_format_cannot_hold_are_all_named_and_nothing_is_written, |db| {
    let long = "x".repeat(40_000);
    let f = db.file(
        "n.ndjson",
        &format!(
            "{{\"email\":\"a@x.com\",\"notes\":\"{long}\"}}\n{{\"email\":\"b@x.com\",\"notes\":\"bell\\u0007\"}}\n\
             {{\"email\":\"c@x.com\",\"notes\":\"{long}\"}}\n{{\"email\":\"d@x.com\",\"notes\":\"fine\"}}\n"
        ),
    );
    db.json(&["import", &f, "--entity", "contacts"]);
    let xlsx = db.path("out.xlsx");
    let out = db.run(&["export", "--entity", "contacts", "-o", xlsx.to_str().expect("path")]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("2 of the 4 records cannot be written as xlsx, and nothing was written"), "{err}");
    assert!(err.contains("record 1 (a@x.com):") && err.contains("record 3 (c@x.com):"), "{err}");
    assert!(!xlsx.exists());
    let xml = db.path("out.xml");
    let err = stderr_of(&db.run(&["export", "--entity", "contacts", "-o", xml.to_str().expect("path")]));
    assert!(err.contains("1 of the 4 records cannot be written as xml") && err.contains("U+0007"), "{err}");
    assert!(!xml.exists());
    // To stdout, the document's start went out: said so, not "nothing".
    let out = db.run(&["export", "--entity", "contacts", "--format", "xml"]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("and the export stopped: what went to stdout is incomplete"), "{err}");
    // Left out, the others export.
    let where_ = "email not in ('a@x.com', 'c@x.com')";
    db.ok(&["export", "--entity", "contacts", "--where", where_, "-o", xlsx.to_str().expect("path")]);
    assert!(xlsx.exists());
});

#[test]
fn an_xml_export_names_the_fields_it_writes_under_other_names() {
    let db = Db::sqlite();
    let f = db.file("c.csv", "email,custom.Customer Id,custom.2fa\nz@x.com,1,yes\n");
    db.json(&["import", &f, "--entity", "contacts"]);
    let xml = db.path("c.xml");
    let out = db.run(&["export", "--entity", "contacts", "-o", xml.to_str().expect("path")]);
    let err = stderr_of(&out);
    assert!(
        err.contains(
            "so fields are written under another name, which an import of the file reads back: \
                      `custom.2fa` as `custom._2fa`, `custom.Customer Id` as `custom.Customer_Id`"
        ),
        "{err}"
    );
    let csv = db.run(&["export", "--entity", "contacts"]);
    assert!(!stderr_of(&csv).contains("XML element names"));
    // And it does, into the fields they are, declared or not: the file is
    // unchanged, no `Customer_Id` beside `Customer Id`.
    let s = db.json(&["import", xml.to_str().expect("path"), "--entity", "contacts"]);
    assert_eq!(s["unchanged"].as_u64(), Some(1), "{s}");
    let again = db.ok(&["export", "--entity", "contacts", "--format", "ndjson"]);
    assert!(again.contains("\"Customer Id\"") && !again.contains("Customer_Id"), "{again}");
}

on_both!(a_long_list_of_alternatives_filters_as_a_short_one, |db| {
    let rows: String = (0..300).map(|i| format!("p{i}@x.com,P{i}\n")).collect();
    let f = db.file("p.csv", &format!("email,first_name\n{rows}"));
    db.json(&["import", &f, "--entity", "contacts"]);
    // 150 e-mails joined with `or`, as a spreadsheet formula writes them.
    let wanted: Vec<String> = (0..150).map(|i| format!("email = 'p{}@x.com'", i * 2)).collect();
    let out = db.ok(&["export", "--entity", "contacts", "--fields", "email", "--where", &wanted.join(" or ")]);
    assert_eq!(out.lines().count(), 151, "{out}");
    assert!(out.contains("\np298@x.com\n") && !out.contains("p299@"), "{out}");
    // Beyond what one query can take: said, not a database error.
    let many = format!("first_name in ({})", vec!["1"; 30_001].join(","));
    let err = stderr_of(&db.run(&["export", "--entity", "contacts", "--where", &many]));
    assert!(err.contains("the expression gives 30001 values, more than the 30000 one query can take"), "{err}");
});

on_both!(where_compares_company_names_as_import_matches_them, |db| {
    let f = db.file("c.csv", "email,company.name,company.domain\na@x.com,\"Acme, Inc.\",acme.com\nb@x.com,Globex,\n");
    db.json(&["import", &f, "--entity", "contacts"]);
    let emails = |entity: &str, filter: &str| {
        let field = if entity == "contacts" { "email" } else { "name" };
        let out = db.ok(&["export", "--entity", entity, "--fields", field, "--where", filter]);
        out.lines().skip(1).map(str::to_string).collect::<Vec<_>>()
    };
    assert_eq!(emails("contacts", "company.name = 'acme inc'"), ["a@x.com"]);
    assert_eq!(emails("contacts", "company.name in ('ACME', 'globex')"), ["a@x.com", "b@x.com"]);
    assert_eq!(emails("contacts", "company.name != 'Acme'"), ["b@x.com"]);
    let acme = "\"Acme, Inc.\"";
    assert_eq!(emails("companies", "name = 'acme, inc'"), [acme]);
    // `like` reads the name as written.
    assert_eq!(emails("companies", "name like 'Acme,%'"), [acme]);
    assert_eq!(emails("companies", "name is not null"), [acme, "Globex"]);
});

on_both!(times_export_to_the_microsecond_as_stored, |db| {
    let f = db.file(
        "a.csv",
        "kind,subject,occurred_at\ncall,A,2024-05-01T10:00:00.92627Z\ncall,B,2024-05-01T10:00:00.5+02:00\ncall,C,2024-05-01T10:00:00Z\n",
    );
    db.ok(&["import", &f, "--entity", "activities"]);
    let out = db.ok(&["export", "--entity", "activities", "--fields", "subject,occurred_at"]);
    assert_eq!(
        out,
        "subject,occurred_at\nA,2024-05-01T10:00:00.926270Z\nB,2024-05-01T08:00:00.500000Z\nC,2024-05-01T10:00:00Z\n",
        "six digits, so that times sort as text and an exported time is the text `like` matches"
    );
    let like =
        db.ok(&["export", "--entity", "activities", "--fields", "subject", "--where", "occurred_at like '%.926270Z'"]);
    assert_eq!(like, "subject\nA\n");
    // The store's own times too.
    let created = db.ok(&["export", "--entity", "activities", "--fields", "created_at"]);
    for line in created.lines().skip(1) {
        let fraction = line.split_once('.').map(|(_, f)| f.trim_end_matches('Z'));
        assert!(fraction.is_none_or(|f| f.len() == 6), "{line}");
    }
});

on_both!(declared_custom_fields_are_columns_whether_or_not_a_record_has_them, |db| {
    let db = if db.is_postgres() { Db::postgres("declared_columns").expect("server") } else { Db::sqlite() };
    let schema = db.file(
        "schema.toml",
        "[contacts.tier]\ntype = \"enum\"\nvalues = [\"Gold\", \"Silver\"]\n[contacts.member_no]\ntype = \"integer\"\n",
    );
    db.ok(&["init", "--custom", &schema]);
    // An empty store's export is the template to fill.
    let header = db.ok(&["export", "--entity", "contacts"]);
    assert!(header.trim_end().ends_with(",subscribed_at,custom.member_no,custom.tier"), "{header}");
    let f = db.file("c.csv", "email\na@x.com\n");
    db.ok(&["import", &f, "--entity", "contacts"]);
    let out = db.ok(&["export", "--entity", "contacts", "--format", "ndjson"]);
    assert!(out.contains("\"custom\":{\"member_no\":null,\"tier\":null}"), "{out}");
    // Filled in, it imports back.
    let line = header.lines().next().expect("header");
    let row: Vec<&str> = line
        .split(',')
        .map(|c| match c {
            "email" => "b@x.com",
            "custom.tier" => "gold",
            "custom.member_no" => "7",
            _ => "",
        })
        .collect();
    let filled = db.file("filled.csv", &format!("{line}\n{}\n", row.join(",")));
    let s = db.json(&["import", &filled, "--entity", "contacts"]);
    assert_eq!(s["inserted"].as_u64(), Some(1), "{s}");
    let out = db.ok(&["export", "--entity", "contacts", "--fields", "email,custom.tier,custom.member_no"]);
    assert_eq!(out, "email,custom.tier,custom.member_no\na@x.com,,\nb@x.com,Gold,7\n");
});

on_both!(a_custom_list_is_found_by_its_cell_as_exported, |db| {
    let f = db.file(
        "l.ndjson",
        "{\"email\":\"l@x.com\",\"custom\":{\"codes\":[\"A1\",\"B2\"]}}\n{\"email\":\"m@x.com\",\"custom\":{\"codes\":\"A1; B2\"}}\n{\"email\":\"n@x.com\",\"custom\":{\"codes\":[\"A1\"]}}\n",
    );
    db.ok(&["import", &f, "--entity", "contacts"]);
    let out = db.ok(&["export", "--entity", "contacts", "--fields", "email,custom.codes"]);
    assert_eq!(out, "email,custom.codes\nl@x.com,A1; B2\nm@x.com,A1; B2\nn@x.com,A1\n");
    let both = ["l@x.com", "m@x.com"];
    assert_eq!(emails_where(db, "custom.codes = 'A1; B2'"), both, "the cell as exported");
    assert_eq!(emails_where(db, "custom.codes = '[\"A1\",\"B2\"]'"), both, "as JSON, alike on both");
    assert_eq!(emails_where(db, "custom.codes = '[\"A1\", \"B2\"]'"), both);
    assert_eq!(emails_where(db, "custom.codes != 'A1; B2'"), ["n@x.com"]);
    assert_eq!(emails_where(db, "custom.codes in ('A1; B2', 'Z9')"), both);
});

on_both!(deals_told_apart_by_their_companies_ids_in_another_system_are_not_said_alike, |db| {
    let co = db.file("co.csv", "name,domain,external_id.erp\nZeta,zeta.de,C1\nZeta,zeta.fr,C2\nZeta,zeta.it,\n");
    db.ok(&["import", &co, "--entity", "companies", "--key", "domain"]);
    let d = db.file("d.csv", "name,company.domain,amount\nRenewal,zeta.de,1\nRenewal,zeta.fr,2\nRenewal,zeta.it,3\n");
    db.ok(&["import", &d, "--entity", "deals", "--key", "amount"]);
    let note = "share their name with another in the file, and no company tells them apart";
    let said = |filter: &str| {
        let args =
            ["export", "--entity", "deals", "--fields", "name,company.external_id.erp,amount", "--where", filter];
        stderr_of(&db.run(&args))
    };
    assert!(!said("amount < 3").contains(note), "C1 and C2: {}", said("amount < 3"));
    // A company without an id there: its deal would be taken for either.
    assert!(said("amount > 0").contains(&format!("3 deals {note}")), "{}", said("amount > 0"));
});

#[test]
fn a_one_item_list_holding_a_separator_comes_back_from_xml_as_one_item() {
    let db = Db::sqlite();
    let f = db.file(
        "tg.ndjson",
        "{\"email\":\"t1@x.com\",\"tags\":[\"a; b\"]}\n{\"email\":\"t2@x.com\",\"tags\":[\"x, y\"]}\n\
         {\"email\":\"t3@x.com\",\"tags\":[\"p\",\"q; r\"]}\n",
    );
    db.ok(&["import", &f, "--entity", "contacts"]);
    let xml = db.path("tg.xml");
    let x = xml.to_str().expect("p");
    db.ok(&["export", "--entity", "contacts", "-o", x]);
    let s = db.json(&["import", x, "--entity", "contacts"]);
    assert_eq!(s["unchanged"].as_u64(), Some(3), "{s}");
    let other = Db::sqlite();
    other.ok(&["import", x, "--entity", "contacts"]);
    let tags = other.ok(&["export", "--entity", "contacts", "--fields", "email,tags", "--format", "ndjson"]);
    assert_eq!(
        tags,
        "{\"email\":\"t1@x.com\",\"tags\":[\"a; b\"]}\n{\"email\":\"t2@x.com\",\"tags\":[\"x, y\"]}\n\
         {\"email\":\"t3@x.com\",\"tags\":[\"p\",\"q; r\"]}\n"
    );
}

on_both!(an_id_in_lower_case_finds_its_record, |db| {
    db.ok(&["import", &db.file("a.csv", "email\na@x.com\nb@x.com\n"), "--entity", "contacts"]);
    let id = db.scalar("SELECT id FROM contacts WHERE email = 'a@x.com'").expect("id");
    let lower = id.to_lowercase();
    assert_eq!(emails_where(db, &format!("id = '{lower}'")), ["a@x.com"]);
    assert_eq!(emails_where(db, &format!("id in (' {lower} ')")), ["a@x.com"]);
    assert_eq!(emails_where(db, &format!("id != '{lower}'")), ["b@x.com"]);
});

on_both!(a_custom_time_not_declared_exports_as_every_time_does, |db| {
    // A mapping's datetime into a field not declared: written as standard
    // and declared times are, `…06:30:00Z`, and that text imports back as
    // the same instant, unchanged, in every format.
    let f = db.file("m.csv", "email,met\na@x.com,2024-03-10 14:30\n");
    let m = db.file(
        "m.toml",
        "entity = \"contacts\"\n[fields]\nemail = \"email\"\n\"custom.met\" = { from = \"met\", type = \"datetime\", timezone = \"Asia/Shanghai\" }\n",
    );
    db.ok(&["import", &f, "--mapping", &m]);
    assert_eq!(
        db.ok(&["export", "--entity", "contacts", "--fields", "email,custom.met"]),
        "email,custom.met\na@x.com,2024-03-10T06:30:00Z\n"
    );
    for ext in ["csv", "ndjson", "xlsx", "xml"] {
        let out = db.path(&format!("o.{ext}"));
        let o = out.to_str().expect("p");
        db.ok(&["export", "--entity", "contacts", "-o", o]);
        let s = db.json(&["import", o, "--entity", "contacts"]);
        assert_eq!(s["unchanged"].as_u64(), Some(1), "{ext}: {s}");
    }
});

on_both!(an_in_list_of_numbers_and_text_compares_each_as_its_kind, |db| {
    // As the same values joined with `or` compare, whatever their order.
    let f = db.file(
        "s.ndjson",
        "{\"email\":\"a1@x.com\",\"custom\":{\"score\":5}}\n{\"email\":\"a2@x.com\",\"custom\":{\"score\":5.0}}\n\
         {\"email\":\"a3@x.com\",\"custom\":{\"score\":\"5\"}}\n{\"email\":\"a4@x.com\",\"custom\":{\"score\":7}}\n\
         {\"email\":\"a5@x.com\",\"custom\":{\"score\":\"seven\"}}\n{\"email\":\"a6@x.com\",\"custom\":{\"score\":0}}\n",
    );
    db.ok(&["import", &f, "--entity", "contacts"]);
    let either = emails_where(db, "custom.score = 5 or custom.score = 'seven'");
    assert_eq!(either, ["a1@x.com", "a2@x.com", "a3@x.com", "a5@x.com"]);
    for list in ["(5, 'seven')", "('seven', 5)"] {
        assert_eq!(emails_where(db, &format!("custom.score in {list}")), either, "{list}");
        assert_eq!(emails_where(db, &format!("custom.score not in {list}")), ["a4@x.com", "a6@x.com"], "{list}");
    }
});

#[test]
fn a_tsv_through_a_mapping_of_a_semicolon_file_is_tab_separated() {
    let db = Db::sqlite();
    let m = db.file(
        "m.toml",
        "entity = \"contacts\"\n[source]\nformat = \"csv\"\ndelimiter = \";\"\n[fields]\nemail = \"Mail\"\nfirst_name = \"Name\"\n",
    );
    db.ok(&["import", &db.file("a.csv", "Mail;Name\na@x.com;Ann\n"), "--mapping", &m]);
    assert_eq!(db.ok(&["export", "--mapping", &m]), "Mail;Name\na@x.com;Ann\n");
    assert_eq!(db.ok(&["export", "--mapping", &m, "--format", "tsv"]), "Mail\tName\na@x.com\tAnn\n");
}

on_both!(a_deal_without_contacts_exports_an_empty_list, |db| {
    // As a contact without tags has `"tags": []`: a list is a list, empty
    // or not, for a script reading the file.
    let f = db.file("d.csv", "name,amount,contacts\nBig,10,\n");
    db.json(&["import", &f, "--entity", "deals"]);
    let out = db.ok(&["export", "--entity", "deals", "--format", "ndjson", "--fields", "name,contacts"]);
    assert_eq!(out.trim(), r#"{"name":"Big","contacts":[]}"#);
    // It imports again as a deal without contacts.
    let back = db.file("back.ndjson", &out);
    let s = db.json(&["import", &back, "--entity", "deals", "--key", "name"]);
    assert_eq!(s["unchanged"].as_u64(), Some(1), "{s}");
});

on_both!(a_company_name_given_with_a_legal_form_finds_that_form_and_no_other, |db| {
    // Names compare as import matches them (case, punctuation and form
    // aside), but `Acme BV` is not `Acme AG`: a filter or a history by one
    // does not find the other. A name without a form finds each.
    let c = db.file("c.csv", "name,domain\nAcme BV,acme.nl\nAcme AG,acme.ch\nAcme,acme.com\nGlobex Inc,globex.com\n");
    db.ok(&["import", &c, "--entity", "companies", "--mode", "insert"]);
    let k = db.file(
        "k.csv",
        "email,company.name,company.domain\nann@acme.nl,Acme BV,acme.nl\nbob@acme.ch,Acme AG,acme.ch\n\
         cy@acme.com,Acme,acme.com\n",
    );
    db.ok(&["import", &k, "--entity", "contacts"]);
    let names = |filter: &str| {
        let out = db.ok(&["export", "--entity", "companies", "--fields", "name", "--where", filter]);
        let mut names: Vec<String> = out.lines().skip(1).map(str::to_string).collect();
        names.sort();
        names
    };
    assert_eq!(names("name = 'Acme B.V.'"), ["Acme", "Acme BV"]);
    assert_eq!(names("name = 'ACME ag'"), ["Acme", "Acme AG"]);
    assert_eq!(names("name = 'acme'"), ["Acme", "Acme AG", "Acme BV"]);
    assert_eq!(names("name != 'Acme BV'"), ["Acme AG", "Globex Inc"]);
    assert_eq!(names("name in ('Acme AG', 'Globex')"), ["Acme", "Acme AG", "Globex Inc"]);
    assert_eq!(names("not name in ('Acme AG', 'globex inc.')"), ["Acme BV"]);
    assert_eq!(names("name < 'b'"), ["Acme", "Acme AG", "Acme BV"]);
    assert_eq!(emails_where(db, "company.name = 'Acme AG'"), ["bob@acme.ch", "cy@acme.com"]);
    assert_eq!(emails_where(db, "company.name = 'Acme'"), ["ann@acme.nl", "bob@acme.ch", "cy@acme.com"]);
    // History by a name with its form: Acme B.V. and the formless Acme,
    // named each; by the exact name, that one.
    let said = stderr_of(&db.run(&["history", "Acme B.V."]));
    assert!(said.contains("names 2 records") && said.contains("\"Acme BV\"") && !said.contains("Acme AG"), "{said}");
    assert!(db.ok(&["history", "Acme AG"]).starts_with("companies "));
    // A company renamed into another form is found by that one.
    let r = db.file("r.csv", "domain,name\nacme.ch,Acme SA\n");
    db.ok(&["import", &r, "--entity", "companies", "--key", "domain", "--mode", "update"]);
    assert_eq!(db.scalar("SELECT name_form FROM companies WHERE domain = 'acme.ch'").as_deref(), Some("sa"));
    assert_eq!(names("name = 'Acme S.A.'"), ["Acme", "Acme SA"]);
    assert_eq!(names("name = 'Acme AG'"), ["Acme"]);
});

on_both!(deals_of_one_name_at_companies_of_other_legal_forms_export_without_a_note, |db| {
    // `Renewal` at `Acme BV` and at `Acme AG` imports again as two deals
    // (the names give other forms): no note says it would not. Beside a
    // `Renewal` at `Acme`, which either could be, the note is right.
    let c = db.file("c.csv", "name,domain\nAcme BV,acme.nl\nAcme AG,acme.ch\nAcme,acme.com\n");
    db.ok(&["import", &c, "--entity", "companies", "--mode", "insert"]);
    let d = db.file("d.csv", "name,company.domain,amount\nRenewal,acme.nl,10\nRenewal,acme.ch,20\n");
    db.ok(&["import", &d, "--entity", "deals"]);
    let fields = ["export", "--entity", "deals", "--fields", "name,company.name,amount"];
    let out = db.run(&fields);
    assert!(!stderr_of(&out).contains("share their name"), "{}", stderr_of(&out));
    let other = Db::sqlite();
    let f = other.file("deals.csv", &String::from_utf8_lossy(&out.stdout));
    let s = other.json(&["import", &f, "--entity", "deals"]);
    assert_eq!((s["inserted"].as_u64(), s["companies_created"].as_u64()), (Some(2), Some(2)), "{s}");
    let d = db.file("d2.csv", "name,company.domain,amount\nRenewal,acme.com,30\n");
    db.ok(&["import", &d, "--entity", "deals", "--mode", "insert"]);
    let out = db.run(&fields);
    assert!(stderr_of(&out).contains("3 deals share their name"), "{}", stderr_of(&out));
});

on_both!(a_backslash_in_a_like_pattern_escapes_only_wildcards, |db| {
    let f = db.file("b.csv", "email,title\na@x.com,back\\slash\nb@x.com,100% sure\nc@x.com,1000 sure\nd@x.com,a_b\n");
    db.ok(&["import", &f, "--entity", "contacts"]);
    assert_eq!(emails_where(db, "title like 'back\\slash'"), ["a@x.com"]);
    assert_eq!(emails_where(db, "title like '%\\s%'"), ["a@x.com"]);
    assert_eq!(emails_where(db, "title like '100\\% %'"), ["b@x.com"]);
    assert_eq!(emails_where(db, "title like 'a\\_b'"), ["d@x.com"]);
    assert_eq!(emails_where(db, "title like 'back\\\\slash'"), ["a@x.com"]);
});

on_both!(an_activity_at_another_company_than_its_deal_is_noted_as_such, |db| {
    // The activity is at Globex, its deal `X` at Initech, and Globex has a
    // deal `X` too: imported again, `deal.name` beside the activity's
    // company would find Globex's. The note says why, not to add the
    // company the file already has.
    let c = db.file("c.csv", "name,domain\nInitech,initech.com\nGlobex,globex.com\n");
    db.ok(&["import", &c, "--entity", "companies"]);
    db.ok(&["import", &db.file("d1.csv", "name,amount,company.name\nX,100,Initech\n"), "--entity", "deals"]);
    let a = db.file("a.csv", "kind,subject,company.name,deal.name\ncall,s1,Globex,X\n");
    db.ok(&["import", &a, "--entity", "activities"]);
    db.ok(&["import", &db.file("d2.csv", "name,amount,company.name\nX,999,Globex\n"), "--entity", "deals"]);
    let out = db.run(&["export", "--entity", "activities", "--fields", "kind,subject,company.name,deal.name"]);
    let said = stderr_of(&out);
    assert!(
        said.contains(
            "1 activity links a deal whose name other deals have too, at another company than the activity's"
        ) && !said.contains("or company.name beside it"),
        "{said}"
    );
    // Without the company, a row naming `X` is told to give it.
    let n = db.file("n.csv", "kind,subject,deal.name\nnote,s2,X\n");
    let said = stderr_of(&db.run(&["import", &n, "--entity", "activities"]));
    assert!(said.contains("2 deals have name \"X\"") && said.contains("give the company beside it"), "{said}");
});

on_both!(a_contact_of_a_company_whose_name_another_has_is_noted, |db| {
    // Two companies `Zeta`, without domains: a contact's `company.name`
    // would find both when imported again. A company with a domain in the
    // file, or a name of its own, is no note.
    db.ok(&["import", &db.file("z1.csv", "name,industry\nZeta,A\nSolo,C\n"), "--entity", "companies"]);
    let z2 = db.file("z2.csv", "name,industry\nZeta,B\n");
    db.ok(&["import", &z2, "--entity", "companies", "--key", "name,industry"]);
    let zeta = db.scalar("SELECT id FROM companies WHERE industry = 'A'").expect("zeta");
    db.ok(&["import", &db.file("c.csv", "email,company.name\na@z.com,Solo\nb@z.com,Solo\n"), "--entity", "contacts"]);
    let fields = ["export", "--entity", "contacts", "--fields", "email,company.name"];
    assert!(!stderr_of(&db.run(&fields)).contains("whose name another company has"));
    db.exec(&format!("UPDATE contacts SET company_id = '{zeta}' WHERE email = 'a@z.com'"));
    let said = stderr_of(&db.run(&fields));
    assert!(said.contains("1 contact links a company whose name another company has too"), "{said}");
    db.exec(&format!("UPDATE companies SET domain = 'zeta.de' WHERE id = '{zeta}'"));
    let with_domain = ["export", "--entity", "contacts", "--fields", "email,company.name,company.domain"];
    assert!(!stderr_of(&db.run(&with_domain)).contains("whose name another company has"));
});
