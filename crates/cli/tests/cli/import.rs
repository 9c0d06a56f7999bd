//! `crmsync import` on SQLite and PostgreSQL: modes, matching, unchanged
//! rows, field-level updates, links, plans and dry runs.

use super::db::Db;
use super::*;
use crate::on_both;

fn sums_up(s: &serde_json::Value) {
    let n = |k: &str| s[k].as_u64().unwrap_or_else(|| panic!("{k} in {s}"));
    assert_eq!(n("rows_read"), n("inserted") + n("updated") + n("unchanged") + n("rejected"), "{s}");
}

on_both!(import_links_companies_and_reimport_is_unchanged, |db| {
    let s = db.import("contacts_v1.csv", "contacts.toml", &[]);
    sums_up(&s);
    assert_eq!((s["rows_read"].as_u64(), s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(4), Some(3), Some(1)));
    assert_eq!(s["dry_run"], false);
    // "Acme Inc." with www.acme.com and "ACME, Inc" are one company; Navy Labs another.
    assert_eq!(s["companies_created"].as_u64(), Some(2), "{s}");
    assert_eq!(db.count("SELECT count(*) FROM companies"), 2);
    assert_eq!(db.scalar("SELECT domain FROM companies WHERE name = 'Acme Inc.'").as_deref(), Some("acme.com"));
    assert_eq!(
        db.count(
            "SELECT count(DISTINCT company_id) FROM contacts WHERE email IN ('ada@example.com', 'alan@example.com')"
        ),
        1
    );
    // Phones are E.164, emails lowercase, custom fields kept.
    assert_eq!(
        db.scalar("SELECT phone FROM contacts WHERE email = 'grace.hopper@example.com'").as_deref(),
        Some("+15550100003")
    );
    let again = db.import("contacts_v1.csv", "contacts.toml", &[]);
    assert_eq!(
        (again["unchanged"].as_u64(), again["inserted"].as_u64(), again["updated"].as_u64()),
        (Some(3), Some(0), Some(0))
    );
    assert_eq!(db.count("SELECT count(*) FROM contacts"), 3);
    assert_eq!(db.count("SELECT max(version) FROM contacts"), 1, "unchanged records are not rewritten");
    assert_ne!(s["batch"], again["batch"]);
});

on_both!(a_bulk_load_matches_keys_repeated_in_later_transactions, |db| {
    // Into an empty table, import loads without the lookup indexes and
    // builds them at the end; a key seen again (here two transactions
    // later) still updates the record it inserted.
    let f = db.path("repeat.csv");
    std::fs::write(
        &f,
        "First Name,Last Name,Email,Phone,Company,Website,City,Tier\nA,One,a@example.com,,,,,\n\
         B,Two,b@example.com,,,,,\nC,Three,c@example.com,,,,,\nA2,One,A@Example.com,,,,,\nD,Four,d@example.com,,,,,\n",
    )
    .expect("write");
    let m = testdata("import/contacts.toml");
    let s = db.json(&["import", f.to_str().expect("p"), "--mapping", m.to_str().expect("p"), "--chunk-size", "2"]);
    assert_eq!((s["inserted"].as_u64(), s["updated"].as_u64()), (Some(4), Some(1)), "{s}");
    assert_eq!(s["rewritten"].as_u64(), Some(1), "the row that changed what an earlier one made: {s}");
    assert_eq!(db.count("SELECT count(*) FROM contacts"), 4);
    assert_eq!(db.scalar("SELECT first_name FROM contacts WHERE email = 'a@example.com'").as_deref(), Some("A2"));
    assert_eq!(db.lookup_indexes(), 14, "every index is built again");
    let again = db.json(&["import", f.to_str().expect("p"), "--mapping", m.to_str().expect("p")]);
    assert_eq!(again["inserted"].as_u64(), Some(0), "{again}");
    assert_eq!(db.count("SELECT count(*) FROM contacts"), 4);
});

on_both!(max_errors_stops_an_import_that_resume_then_finishes, |db| {
    // Good rows over several transactions, then too many bad ones: the
    // import stops, keeps what it committed, and --resume finishes it.
    let f = db.path("stop.csv");
    let mut text = "First Name,Last Name,Email,Phone,Company,Website,City,Tier\n".to_string();
    for i in 1..=6 {
        text.push_str(&format!("A{i},Good,a{i}@example.com,,Acme,,,\n"));
    }
    for i in 1..=3 {
        text.push_str(&format!("B{i},Bad,not-an-email-{i},,Acme,,,\n"));
    }
    for i in 1..=3 {
        text.push_str(&format!("C{i},Late,c{i}@example.com,,Acme,,,\n"));
    }
    std::fs::write(&f, text).expect("write");
    let m = testdata("import/contacts.toml");
    let (f, m) = (f.to_str().expect("p"), m.to_str().expect("p"));
    let out = db.run(&["import", f, "--mapping", m, "--chunk-size", "2", "--max-errors", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("--max-errors 2"), "{}", stderr_of(&out));
    assert_eq!(db.count("SELECT count(*) FROM contacts WHERE last_name = 'Good'"), 6, "rows before the stop stay");
    assert_eq!(db.scalar("SELECT status FROM batches").as_deref(), Some("running"));
    let s = db.json(&["import", f, "--mapping", m, "--chunk-size", "2", "--resume"]);
    assert_eq!(s["rejected"].as_u64(), Some(3), "{s}");
    assert_eq!(db.count("SELECT count(*) FROM contacts"), 9);
    assert_eq!(db.count("SELECT count(DISTINCT email) FROM contacts"), 9, "no duplicates");
    assert_eq!(db.count("SELECT count(*) FROM companies"), 1);
    assert_eq!(db.scalar("SELECT status FROM batches").as_deref(), Some("done"));
});

on_both!(rows_that_give_a_record_twice_are_counted_and_named, |db| {
    // Ann is stored. Row 2 matches her unchanged and row 4 changes her; row
    // 3 makes Bob and row 5 changes him; row 6 gives Bob as row 5 left him.
    db.ok(&["import", &db.file("ann.csv", "email,first_name\nann@x.com,Ann\n"), "--entity", "contacts"]);
    let f = db.file(
        "twice.csv",
        "email,first_name\nann@x.com,Ann\nbob@x.com,Bob\nANN@x.com,Anna\nbob@x.com,Bobby\nbob@x.com,Bobby\n",
    );
    let out = db.run(&["import", &f, "--entity", "contacts"]);
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    let bob = db.scalar("SELECT id FROM contacts WHERE email = 'bob@x.com'").expect("Bob");
    assert!(
        err.contains(&format!(
            "note: 1 row changes a contact an earlier row of {f} made or changed (row 5: contact {bob}): it keeps \
             the last row's values, and the file imported again writes it again, never unchanged"
        )),
        "{err}"
    );
    assert_eq!(db.scalar("SELECT first_name FROM contacts WHERE email = 'ann@x.com'").as_deref(), Some("Anna"));
    // Imported again, rows 2 and 3 change Ann and Bob back, rows 4 and 5
    // change them again.
    let s = db.json(&["import", &f, "--entity", "contacts"]);
    assert_eq!(
        (s["updated"].as_u64(), s["unchanged"].as_u64(), s["rewritten"].as_u64()),
        (Some(4), Some(1), Some(2)),
        "{s}"
    );
    // A file that gives each record once has none.
    let s = db.json(&["import", &db.file("once.csv", "email,first_name\nann@x.com,Ann\n"), "--entity", "contacts"]);
    assert_eq!((s["updated"].as_u64(), s["rewritten"].as_u64()), (Some(1), Some(0)), "{s}");
});

on_both!(a_resumed_import_counts_rows_that_give_a_record_the_stopped_run_wrote, |db| {
    // Row 4 changes what row 2 made; the run stops at row 5; after --resume
    // row 6 changes what row 3 made, and row 8 gives C as row 7 made it.
    let f = db.file(
        "stop2.csv",
        "email,first_name\na@x.com,A\nb@x.com,B\nA@X.com,A2\nbad,X\nb@x.com,B2\nc@x.com,C\nc@x.com,C\n",
    );
    let args = ["import", f.as_str(), "--entity", "contacts", "--chunk-size", "1", "--max-errors", "1"];
    let out = db.run(&args);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert_eq!(db.scalar("SELECT rewritten FROM batches").as_deref(), Some("1"));
    let s = db.json(&["import", &f, "--entity", "contacts", "--resume"]);
    assert_eq!((s["rewritten"].as_u64(), s["unchanged"].as_u64()), (Some(2), Some(1)), "{s}");
    assert_eq!(db.scalar("SELECT first_name FROM contacts WHERE email = 'b@x.com'").as_deref(), Some("B2"));
});

on_both!(resume_refuses_a_file_whose_committed_rows_changed, |db| {
    // `--resume` skips the rows the stopped run committed: in a file changed
    // since, those would be skipped unread (the rejected row fixed, a row
    // added above), so it is refused, nothing written, and the batch waits.
    let f = db.path("me.csv");
    let p = f.to_str().expect("p");
    let write = |text: &str| std::fs::write(&f, text).expect("write");
    write("email,first_name\na@x.com,A\nbad,B\nc@x.com,C\nd@x.com,D\n");
    let out = db.run(&["import", p, "--entity", "contacts", "--max-errors", "1", "--chunk-size", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("rows up to it are done"), "{}", stderr_of(&out));
    for (changed, how) in [
        (
            "email,first_name\na@x.com,A\nb@x.com,B\nc@x.com,C\nd@x.com,D\n",
            "(up to row 3), which that import committed, are not the rows it read",
        ),
        ("email,first_name\nz@x.com,Z\na@x.com,A\nbad,B\nc@x.com,C\nd@x.com,D\n", "are not the rows it read"),
        ("email,first_name\na@x.com,A\n", "the file is shorter now"),
    ] {
        write(changed);
        let out = db.run(&["import", p, "--entity", "contacts", "--resume"]);
        assert_eq!(out.status.code(), Some(1), "{changed}: {}", stderr_of(&out));
        let err = stderr_of(&out);
        assert!(err.contains("me.csv changed since batch") && err.contains(how), "{changed}: {err}");
        assert!(err.contains("its first 2 records"), "{changed}: {err}");
        assert!(err.contains("without --resume") && !err.contains("rejected me.csv"), "{changed}: {err}");
        assert_eq!(db.count("SELECT count(*) FROM contacts"), 1, "{changed}: nothing written");
        assert_eq!(db.scalar("SELECT status FROM batches").as_deref(), Some("running"), "{changed}");
    }
    // The same file resumes; the changed one imports whole without --resume.
    write("email,first_name\na@x.com,A\nbad,B\nc@x.com,C\nd@x.com,D\n");
    let s = db.json(&["import", p, "--entity", "contacts", "--resume"]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(3), Some(1)), "{s}");
    write("email,first_name\na@x.com,A\nb@x.com,B\nc@x.com,C\nd@x.com,D\n");
    let s = db.json(&["import", p, "--entity", "contacts"]);
    assert_eq!((s["inserted"].as_u64(), s["unchanged"].as_u64()), (Some(1), Some(3)), "{s}");
    assert_eq!(db.count("SELECT count(*) FROM contacts"), 4);
});

on_both!(a_stopped_batch_is_not_offered_for_resume_once_the_file_imported_whole, |db| {
    // As a refused resume advises: the changed file imported without
    // --resume. The stopped batch stays listed and undoable, but is no
    // longer one to finish.
    let f = db.path("me.csv");
    let p = f.to_str().expect("p");
    std::fs::write(&f, "email\na@x.com\nbad\nc@x.com\n").expect("write");
    let out = db.run(&["import", p, "--entity", "contacts", "--max-errors", "1", "--chunk-size", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let stopped = db.scalar("SELECT id FROM batches").expect("a batch");
    // Until then, each run points at it. A file of that name that reads
    // fewer rows than the batch committed is another file.
    std::fs::write(&f, "email\nz@x.com\n").expect("write");
    let out = db.run(&["import", p, "--entity", "contacts"]);
    assert!(stderr_of(&out).contains(&format!("(batch {stopped}) stopped after 2 rows")), "{}", stderr_of(&out));
    std::fs::write(&f, "email\na@x.com\nb@x.com\nc@x.com\n").expect("write");
    let out = db.run(&["import", p, "--entity", "contacts"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains(&format!("(batch {stopped}) stopped after 2 rows")), "{}", stderr_of(&out));
    let out = db.run(&["import", p, "--entity", "contacts"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(!stderr_of(&out).contains("--resume"), "{}", stderr_of(&out));
    let out = db.run(&["import", p, "--entity", "contacts", "--resume"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains(&format!("batch {stopped} stopped, but a later import of")) && err.contains("nothing to resume"),
        "{err}"
    );
    assert_eq!(db.count("SELECT count(*) FROM contacts"), 4);
    assert_eq!(db.count("SELECT count(*) FROM batches WHERE status = 'running'"), 1, "still listed");
});

on_both!(resume_refuses_a_mapping_edited_since_the_batch_began, |db| {
    // The rows after the checkpoint would be mapped otherwise than those
    // before it. A comment, or a rule on another line, changes none.
    let f = db.file("m.csv", "Mail,Name\na@x.com,A\nbad,B\nc@x.com,C\n");
    let m = db.path("m.toml");
    let rules =
        "entity = \"contacts\"\n[fields]\nemail = { from = \"Mail\", type = \"email\" }\nfirst_name = \"Name\"\n";
    std::fs::write(&m, rules).expect("mapping");
    let mapping = m.to_str().expect("p");
    let out = db.run(&["import", &f, "--mapping", mapping, "--max-errors", "1", "--chunk-size", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    std::fs::write(&m, rules.replace("first_name = \"Name\"", "last_name = \"Name\"")).expect("mapping");
    let out = db.run(&["import", &f, "--mapping", mapping, "--resume"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("m.toml changed since batch") && err.contains("put the mapping back"), "{err}");
    assert_eq!(db.count("SELECT count(*) FROM contacts"), 1, "nothing written");
    let moved = format!("# the trade show\n\n{rules}");
    std::fs::write(&m, moved).expect("mapping");
    let s = db.json(&["import", &f, "--mapping", mapping, "--resume"]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(2), Some(1)), "{s}");
});

on_both!(a_link_that_finds_nothing_names_the_column_it_was_read_from, |db| {
    let f = db.file("a.csv", "Subj,Kind,Who\nHi,call,nobody@x.com\n");
    let m = db.file(
        "a.toml",
        "entity = \"activities\"\n[fields]\nsubject = \"Subj\"\nkind = \"Kind\"\n\"contact.email\" = \"Who\"\n",
    );
    let out = db.run(&["import", &f, "--mapping", &m]);
    assert!(
        stderr_of(&out).contains("row 2: no contact with email \"nobody@x.com\" (column \"Who\")"),
        "{}",
        stderr_of(&out)
    );
});

on_both!(batches_tell_files_apart_by_their_path, |db| {
    // `c.csv` in two folders is two files; `d.csv` and its full path one.
    let (a, b) = (db.path("a"), db.path("b"));
    for dir in [&a, &b] {
        std::fs::create_dir(dir).expect("dir");
    }
    std::fs::write(a.join("c.csv"), "email\na@x.com\nbad\nc@x.com\nd@x.com\ne@x.com\n").expect("write");
    std::fs::write(b.join("c.csv"), "email\nv@x.com\nw@x.com\nx@x.com\ny@x.com\nz@x.com\n").expect("write");
    std::fs::write(a.join("d.csv"), "email\nf@x.com\nbad\ng@x.com\n").expect("write");
    let run_in = |dir: &std::path::Path, args: &[&str]| db.cmd().current_dir(dir).args(args).output().expect("runs");
    let stop = ["import", "c.csv", "--entity", "contacts", "--max-errors", "1", "--chunk-size", "1"];
    assert_eq!(run_in(&a, &stop).status.code(), Some(1));
    let out = run_in(&b, &["import", "c.csv", "--entity", "contacts"]);
    assert!(out.status.success() && !stderr_of(&out).contains("stopped after"), "{}", stderr_of(&out));
    let out = run_in(&a, &["--json", "import", "c.csv", "--entity", "contacts", "--resume"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!((s["inserted"].as_u64(), s["resumed_after"].as_u64()), (Some(4), Some(2)), "{s}");
    let stop = ["import", "d.csv", "--entity", "contacts", "--max-errors", "1", "--chunk-size", "1"];
    assert_eq!(run_in(&a, &stop).status.code(), Some(1));
    let full = a.join("d.csv");
    let out = run_in(&b, &["--json", "import", full.to_str().expect("p"), "--entity", "contacts", "--resume"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(db.count("SELECT count(*) FROM contacts"), 11);
});

on_both!(a_key_equal_to_the_rows_external_id_imports, |db| {
    // A deal named as its id in the ERP (`Renewal 2024`), a contact whose
    // id is its e-mail: one row, not two keys that clash.
    let deals =
        db.file("d.csv", "name,external_id.erp\nRenewal 2024,Renewal 2024\nOther,X\nRenewal 2024,Renewal 2024\n");
    let s = db.json(&["import", &deals, "--entity", "deals"]);
    assert_eq!((s["inserted"].as_u64(), s["unchanged"].as_u64()), (Some(2), Some(1)), "{s}");
    let contacts = db.file("c.csv", "email,external_id.crm\nann@x.com,ann@x.com\n");
    let s = db.json(&["import", &contacts, "--entity", "contacts"]);
    assert_eq!(s["inserted"].as_u64(), Some(1), "{s}");
});

#[test]
fn a_rejected_row_names_its_faults_in_the_mapping_and_in_the_store_at_once() {
    let db = Db::sqlite();
    let f = db.file("mf.csv", "Email,Phone,Signed Up\nann@x.com,12,2024-13-45\nbad,12,\n");
    let m = db.file(
        "mf.toml",
        "entity = \"contacts\"\n[key]\nfields = [\"email\"]\n[fields]\nemail = { from = \"Email\", type = \"email\" }\n\
         phone = { from = \"Phone\", type = \"phone\", region = \"US\" }\nsubscribed_at = \"Signed Up\"\n",
    );
    let out = db.run(&["import", &f, "--mapping", &m, "--rejects", "-", "-q"]);
    let text = String::from_utf8_lossy(&out.stdout);
    // The phone the mapping refused, the date the store refuses: one round of fixes.
    assert!(text.contains("ann@x.com,12,2024-13-45,2,phone;subscribed_at,"), "{text}");
    assert!(text.contains("subscribed_at (column \"\"Signed Up\"\"): \"\"2024-13-45\"\" is not a date"), "{text}");
    // A key field the mapping refused is named once, not as empty too.
    assert!(text.contains("bad,12,,3,email;phone,"), "{text}");
    assert!(!text.contains("is empty"), "{text}");
}

#[test]
fn a_rejects_file_is_safe_to_open_in_a_spreadsheet_and_feeds_back_as_it_was() {
    let db = Db::sqlite();
    let f = db.file(
        "inj.csv",
        "email,first_name,notes,title\nbad-email,=HYPERLINK(\"http://x\"),@mention,'=kept\nok@x.com,Ann,-5,+1-555\n",
    );
    let r = db.path("r.csv");
    let s = db.json(&["import", &f, "--entity", "contacts", "--rejects", r.to_str().expect("p")]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(1)), "{s}");
    let text = std::fs::read_to_string(&r).expect("rejects");
    assert!(text.contains("bad-email,\"'=HYPERLINK(\"\"http://x\"\")\",'@mention,'=kept,2,email"), "{text}");
    // Fixed and fed back, each value is what the source held.
    std::fs::write(&r, text.replace("bad-email", "b@x.com")).expect("fix");
    let s = db.json(&["import", r.to_str().expect("p"), "--entity", "contacts"]);
    assert_eq!(s["inserted"].as_u64(), Some(1), "{s}");
    let out =
        db.ok(&["export", "--entity", "contacts", "--format", "ndjson", "--fields", "email,first_name,notes,title"]);
    assert!(
        out.contains(
            r#"{"email":"b@x.com","first_name":"=HYPERLINK(\"http://x\")","notes":"@mention","title":"=kept"}"#
        ),
        "{out}"
    );
}

#[test]
fn postgresql_plans_from_statistics_of_the_tables_a_deals_import_filled() {
    // Without them an export of the deals read each deal's contacts by
    // scanning all of deal_contacts: minutes for 250k deals.
    let Some(db) = Db::postgres("deal_stats") else { return };
    let contacts: String = (0..50).map(|i| format!("c{i}@x.com\n")).collect();
    let c = db.file("c.csv", &format!("email\n{contacts}"));
    db.ok(&["import", &c, "--entity", "contacts"]);
    let deals: String = (0..2_000).map(|i| format!("D{i},c{}@x.com;c{}@x.com,{i}\n", i % 50, (i + 1) % 50)).collect();
    let d = db.file("d.csv", &format!("name,contacts,external_id.erp\n{deals}"));
    let s = db.json(&["import", &d, "--entity", "deals"]);
    assert_eq!(s["inserted"].as_u64(), Some(2_000), "{s}");
    let (_, schema) = db.pg_schema().expect("postgres");
    for table in ["deals", "deal_contacts", "external_ids"] {
        let analysed = db.count(&format!(
            "SELECT count(*) FROM pg_stat_user_tables WHERE schemaname = '{schema}' AND relname = '{table}' \
             AND last_analyze IS NOT NULL"
        ));
        assert_eq!(analysed, 1, "{table}");
    }
}

on_both!(a_link_whose_email_and_id_name_two_records_rejects_the_row, |db| {
    // An export carries a linked contact's e-mail and id; edited in one
    // and not the other, the row is not linked by the id without a word.
    let c = db.file("c.csv", "email,external_id.erp\nann@acme.com,P1\ncid@globex.com,P3\n");
    db.ok(&["import", &c, "--entity", "contacts"]);
    let a = db.file(
        "a.csv",
        "kind,subject,contact.email,contact.external_id.erp,external_id.erp\n\
         call,Both agree,ann@acme.com,P1,A1\n\
         call,Edited,cid@globex.com,P1,A2\n\
         call,Email changed since,ann.new@acme.com,P1,A3\n\
         call,Unknown id,ann@acme.com,P9,A4\n",
    );
    let run = db.run(&["--json", "import", &a, "--entity", "activities"]);
    let said = stderr_of(&run);
    assert!(
        said.contains("row 3: erp id \"P1\" is another contact than the one the row's email \"cid@globex.com\" names"),
        "{said}"
    );
    let s: serde_json::Value = serde_json::from_slice(&run.stdout).expect("json");
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(2), Some(2)), "{s}");
    assert!(said.contains("row 5: no contact with erp id \"P9\""), "{said}");
    assert_eq!(
        db.count(
            "SELECT count(*) FROM activities a JOIN contacts c ON c.id = a.contact_id WHERE c.email = 'ann@acme.com'"
        ),
        2
    );
});

#[test]
fn an_ndjson_line_that_was_no_record_is_fixed_in_the_rejects_file_and_fed_back() {
    let db = Db::sqlite();
    let f = db.file("c.ndjson", "{\"email\":\"a@x.com\"}\n{\"email\": \"b@x.com\",}\n");
    for ext in ["csv", "ndjson"] {
        let rejects = db.path(&format!("r.{ext}"));
        let r = rejects.to_str().expect("p");
        db.run(&["import", &f, "--entity", "contacts", "--rejects", r]);
        let text = std::fs::read_to_string(&rejects).expect("rejects");
        assert!(text.contains("_raw"), "{text}");
        // Fed back unfixed, it is rejected again, saying so.
        let again = db.path(&format!("again.{ext}"));
        let run = db.run(&["--json", "import", r, "--entity", "contacts", "--rejects", again.to_str().expect("p")]);
        let s: serde_json::Value = serde_json::from_slice(&run.stdout).expect("json");
        assert_eq!(s["rejected"].as_u64(), Some(1), "{ext}: {s} {}", stderr_of(&run));
        assert!(stderr_of(&run).contains("the line in `_raw` is still not a record"), "{}", stderr_of(&run));
        // Fixed where it stands.
        std::fs::write(&rejects, text.replace(",}", "}")).expect("fix");
        let s = db.json(&["import", r, "--entity", "contacts"]);
        assert_eq!(s["rejected"].as_u64(), Some(0), "{ext}: {s}");
    }
    // Beside a record rejected for a value: its row has `_raw` empty.
    let f = db.file("d.ndjson", "{\"email\":\"bad\"}\n{\"email\": \"d@x.com\",}\n");
    let rejects = db.path("rd.csv");
    let r = rejects.to_str().expect("p");
    db.run(&["import", &f, "--entity", "contacts", "--rejects", r]);
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    std::fs::write(&rejects, text.replace(",}", "}").replacen("bad", "c@x.com", 1)).expect("fix");
    let s = db.json(&["import", r, "--entity", "contacts"]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(2), Some(0)), "{s}");
    assert_eq!(db.count("SELECT count(*) FROM contacts WHERE email = 'b@x.com'"), 1);
}

on_both!(notes_without_ids_of_their_own_link_contacts_by_the_other_systems_ids, |db| {
    // Atomic CRM's notes name their contact by its id there, and have no id
    // of their own to put in [key] external_id: the link field names the
    // system.
    let c = db.file("c.csv", "id,email\nC1,ann@x.com\nC2,bo@x.com\n");
    let cm = db.file(
        "c.toml",
        "entity = \"contacts\"\n[key]\nexternal_id = { system = \"crm\", from = \"id\" }\n[fields]\nemail = \"email\"\n",
    );
    db.json(&["import", &c, "--mapping", &cm]);
    let n = db.file("n.csv", "contact_id,text\nC1,Called\nC2,Quoted\nC9,Lost\n");
    let nm = db.file(
        "n.toml",
        "entity = \"activities\"\n[fields]\nkind = { from = \"text\", map = { \"Called\" = \"call\", \"Quoted\" = \"email\", \"Lost\" = \"note\" } }\n\
         subject = \"text\"\n\"contact.external_id.crm\" = \"contact_id\"\n",
    );
    let run = db.run(&["--json", "import", &n, "--mapping", &nm]);
    let s: serde_json::Value = serde_json::from_slice(&run.stdout).expect("json");
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(2), Some(1)), "{s}");
    assert!(stderr_of(&run).contains("no contact with crm id \"C9\""), "{}", stderr_of(&run));
    let out = db.ok(&["export", "--entity", "activities", "--fields", "subject,contact.email"]);
    assert_eq!(out, "subject,contact.email\nCalled,ann@x.com\nQuoted,bo@x.com\n");
    // Exported through the same mapping, the link is the other system's id again.
    let out = db.ok(&["export", "--entity", "activities", "--mapping", &nm]);
    assert_eq!(out, "text,contact_id\nCalled,C1\nQuoted,C2\n", "{out}");
    // A system written otherwise but for case is a typo, said before any row.
    let upper =
        db.file("u.toml", &std::fs::read_to_string(&nm).expect("m").replace("external_id.crm", "external_id.CRM"));
    let run = db.run(&["import", &n, "--mapping", &upper]);
    assert!(!run.status.success() && stderr_of(&run).contains("did you mean `crm`?"), "{}", stderr_of(&run));
    // One system per import: ids of two are refused, naming both.
    let two = db.file(
        "two.toml",
        "entity = \"activities\"\n[key]\nexternal_id = { system = \"erp\", from = \"id\" }\n[fields]\n\
         subject = \"text\"\n\"contact.external_id.crm\" = \"contact_id\"\n",
    );
    let run = db.run(&["import", &n, "--mapping", &two]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr_of(&run));
    assert!(
        stderr_of(&run).contains("links by ids in \"crm\", and the mapping's other ids are in \"erp\""),
        "{}",
        stderr_of(&run)
    );
});

#[test]
fn a_csv_rejects_file_of_a_json_source_is_fed_back_through_the_same_mapping() {
    // A list of values is one cell of the rejects file, the column the
    // mapping reads; a list of records keeps its fields' paths.
    let db = Db::sqlite();
    let f = db.file(
        "c.json",
        r#"[{"mail":"ok@x.com","tags":["VIP","Science"],"emails":[{"email":"ok@x.com","type":"Work"}]},
            {"mail":"bad","tags":["VIP","Sales, EMEA","Science"],"emails":[{"email":"bad","type":"Home"}]}]"#,
    );
    let m = db.file(
        "m.toml",
        "entity = \"contacts\"\n[fields]\nemail = { from = \"mail\", type = \"email\" }\ntags = \"tags\"\n\
         \"custom.email_type\" = \"emails.0.type\"\n",
    );
    let rejects = db.path("r.csv");
    let r = rejects.to_str().expect("p");
    let s = db.json(&["import", &f, "--mapping", &m, "--rejects", r]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(1)), "{s}");
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(text.contains(r#""VIP; ""Sales, EMEA""; Science""#) && text.contains("emails.0.type"), "{text}");
    std::fs::write(&rejects, text.replacen("\nbad,", "\nfixed@x.com,", 1)).expect("fix");
    let s = db.json(&["import", r, "--mapping", &m]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(0)), "{s}");
    let out = db.ok(&[
        "export",
        "--entity",
        "contacts",
        "--fields",
        "email,tags,custom.email_type",
        "--where",
        "email = 'fixed@x.com'",
    ]);
    assert_eq!(out, "email,tags,custom.email_type\nfixed@x.com,\"VIP; \"\"Sales, EMEA\"\"; Science\",Home\n", "{out}");
    // A mapping that reads a list item by item keeps a column per item; a
    // list of lists read whole is its JSON, refused when fed back, not lost.
    let g = db.file("g.json", r#"[{"mail":"bad2","tags":["a","b"],"nested":[["x","y"],["z"]]}]"#);
    let mi = db.file(
        "mi.toml",
        "entity = \"contacts\"\n[fields]\nemail = { from = \"mail\", type = \"email\" }\n\
         \"custom.first_tag\" = \"tags.0\"\n\"custom.all_tags\" = \"tags\"\ntags = \"nested\"\n",
    );
    let rejects = db.path("ri.csv");
    let r = rejects.to_str().expect("p");
    db.json(&["import", &g, "--mapping", &mi, "--rejects", r]);
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    // (Read both ways, the list has both layouts.)
    assert!(
        text.starts_with("mail,tags,tags.0,tags.1,nested,") && text.contains(r#""[[""x"",""y""],[""z""]]""#),
        "{text}"
    );
    std::fs::write(&rejects, text.replacen("\nbad2,", "\nfixed2@x.com,", 1)).expect("fix");
    let run = db.run(&["--json", "import", r, "--mapping", &mi]);
    let s: serde_json::Value = serde_json::from_slice(&run.stdout).expect("json");
    assert_eq!(s["rejected"].as_u64(), Some(1), "{s}");
    assert!(stderr_of(&run).contains("is not a list of texts (item 1 is a list)"), "{}", stderr_of(&run));
}

#[test]
fn an_update_that_finds_nothing_names_the_id_and_the_key_it_looked_by() {
    let db = Db::sqlite();
    let f = db.file("d.csv", "name,external_id.erp\nRenewal,D1\n");
    db.ok(&["import", &f, "--entity", "deals"]);
    let g = db.file("g.csv", "name,external_id.erp\nNewDeal,D7\n");
    let run = db.run(&["import", &g, "--entity", "deals", "--mode", "update"]);
    let said = stderr_of(&run);
    assert!(said.contains("no deals with erp id \"D7\" or name \"NewDeal\" (update mode"), "{said}");
}

on_both!(a_resumed_import_keeps_the_plan_of_the_rows_before_it, |db| {
    // The plan file the stopped run wrote holds the rows it planned; the
    // resumed run writes it again with those rows first, as it does the
    // rejects file. A value over two lines stays one record of it.
    for ext in ["csv", "ndjson"] {
        let f =
            db.file(&format!("p-{ext}.csv"), "email,first_name\na@x.com,\"Ann\nMarie\"\nbad,B\nc@x.com,C\nd@x.com,D\n");
        let plan = db.path(&format!("plan.{ext}"));
        let p = plan.to_str().expect("p");
        let out =
            db.run(&["import", &f, "--entity", "contacts", "--max-errors", "1", "--chunk-size", "1", "--plan", p]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
        db.json(&["import", &f, "--entity", "contacts", "--resume", "--plan", p]);
        let text = std::fs::read_to_string(&plan).expect("plan");
        let rows: Vec<String> = if ext == "csv" {
            csv::Reader::from_reader(text.as_bytes())
                .records()
                .map(|r| {
                    let r = r.expect("record");
                    format!("{} {}", &r[0], &r[1])
                })
                .collect()
        } else {
            text.lines()
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).expect("json");
                    format!("{} {}", v["row"], v["action"].as_str().unwrap_or_default())
                })
                .collect()
        };
        assert_eq!(rows, ["2 insert", "3 reject", "4 insert", "5 insert"], "{ext}: {text}");
        db.exec("DELETE FROM contacts");
    }
    // A plan file older than the stopped batch is another run's: none of it
    // is kept, and a note says the stopped run's rows are not in the plan.
    let f = db.file("q.csv", "email\na@q.com\nbad\nc@q.com\n");
    let out = db.run(&["import", &f, "--entity", "contacts", "--max-errors", "1", "--chunk-size", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let plan = db.path("stale.csv");
    std::fs::write(&plan, "row,action,id,field,before,after\n2,insert,OLD,,,\n9,insert,OLD,,,\n").expect("stale");
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options().write(true).open(&plan).and_then(|f| f.set_modified(hour_ago)).expect("mtime");
    let out = db.run(&["import", &f, "--entity", "contacts", "--resume", "--plan", plan.to_str().expect("p")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("not the 2 rows the stopped run committed"), "{}", stderr_of(&out));
    let text = std::fs::read_to_string(&plan).expect("plan");
    assert!(!text.contains("OLD") && text.contains("\n4,insert,"), "{text}");
});

on_both!(a_resumed_import_rewrites_earlier_rejects_as_they_were_read, |db| {
    // Nested values of a rejected record stay nested in the rejects file a
    // resumed run writes again, so the fixed record imports.
    let f = db.file(
        "w.ndjson",
        "{\"email\":\"bad\",\"address\":{\"city\":\"Paris\"},\"tags\":[\"a\",\"b\"],\"custom\":{\"n\":1.50}}\n\
         {\"email\":\"ok@x.com\"}\n",
    );
    let rejects = db.path("wr.ndjson");
    let r = rejects.to_str().expect("p");
    let out = db.run(&["import", &f, "--entity", "contacts", "--max-errors", "1", "--rejects", r]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let first = std::fs::read_to_string(&rejects).expect("rejects");
    let s = db.json(&["import", &f, "--entity", "contacts", "--resume", "--rejects", r]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(1)), "{s}");
    let again = std::fs::read_to_string(&rejects).expect("rejects");
    assert_eq!(again, first, "the resumed run's rejects file");
    assert!(
        again.contains("\"address\":{\"city\":\"Paris\"},\"tags\":[\"a\",\"b\"],\"custom\":{\"n\":1.50}"),
        "{again}"
    );
    std::fs::write(&rejects, again.replace("\"bad\"", "\"bad@x.com\"")).expect("fix");
    let s = db.json(&["import", r, "--entity", "contacts"]);
    assert_eq!(s["inserted"].as_u64(), Some(1), "{s}");
    assert_eq!(db.scalar("SELECT address_city FROM contacts WHERE email = 'bad@x.com'").as_deref(), Some("Paris"));
});

on_both!(a_row_rejected_again_keeps_the_row_it_was_first_read_from, |db| {
    // However often a rejects file goes round (CSV, NDJSON, a resumed run),
    // `_row` points into the file first read, where the user looks.
    let f = db.file("a.csv", "email,first_name\nann@x.com,Ann\nbob-at-x,Bob\ncy@x.com,Cy\ndee@@x,Dee\nfay@x.com\n");
    let r1 = db.path("r1.csv");
    db.json(&["import", &f, "--entity", "contacts", "--rejects", r1.to_str().expect("p")]);
    let rows_of = |path: &std::path::Path| -> Vec<String> {
        let text = std::fs::read_to_string(path).expect("rejects");
        text.lines()
            .skip(usize::from(path.extension().is_some_and(|e| e == "csv")))
            .map(|l| match l.split_once("\"_row\":") {
                Some((_, rest)) => rest.split(',').next().unwrap_or_default().to_string(),
                None => l.split(',').nth(2).unwrap_or_default().to_string(),
            })
            .collect()
    };
    assert_eq!(rows_of(&r1), ["3", "5", "6"]);
    let r2 = db.path("r2.ndjson");
    let out =
        db.run(&["import", r1.to_str().expect("p"), "--entity", "contacts", "--rejects", r2.to_str().expect("p")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("row 2 (row 3 of the file first read): email"), "{err}");
    assert!(err.contains("row 3 (row 5 of the file first read): email"), "{err}");
    // The short row too, rejected again while its cell is still empty.
    assert!(err.contains("row 4 (row 6 of the file first read): the row has"), "{err}");
    assert_eq!(rows_of(&r2), ["3", "5", "6"]);
    let r3 = db.path("r3.csv");
    db.json(&["import", r2.to_str().expect("p"), "--entity", "contacts", "--rejects", r3.to_str().expect("p")]);
    assert_eq!(rows_of(&r3), ["3", "5", "6"]);
    // A row added to the rejects file by hand has no row of its own there:
    // its row in the rejects file is the one to give.
    let text = std::fs::read_to_string(&r3).expect("r3") + "eve-at-x,Eve,,,\n";
    std::fs::write(&r3, text).expect("add");
    // Stopped after the first reject and resumed, the rejects file is written
    // again with the rows first read, as before the stop.
    let r4 = db.path("r4.csv");
    let r3 = r3.to_str().expect("p");
    let run = ["import", r3, "--entity", "contacts", "--chunk-size", "1", "--rejects", r4.to_str().expect("p")];
    let out = db.run(&[&run[..], &["--max-errors", "1"]].concat());
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let s = db.json(&[&run[..], &["--resume"]].concat());
    assert_eq!(s["rejected"].as_u64(), Some(4), "{s}");
    assert_eq!(rows_of(&r4), ["3", "5", "6", "5"]);
});

on_both!(max_errors_writes_no_row_after_the_one_that_reaches_it, |db| {
    // Rows are written in chunks of up to 1,024; the limit still stops on
    // the row that reaches it, not at the end of its chunk.
    let mut text = "First Name,Last Name,Email,Phone,Company,Website,City,Tier\n".to_string();
    for i in 1..=40 {
        let email = if i == 3 || i == 4 { format!("bad-{i}") } else { format!("a{i}@example.com") };
        text.push_str(&format!("A{i},Row,{email},,,,,\n"));
    }
    let f = db.file("limit.csv", &text);
    let m = testdata("import/contacts.toml");
    let (f, m) = (f.as_str(), m.to_str().expect("p"));
    let out = db.run(&["--json", "import", f, "--mapping", m, "--max-errors", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json summary");
    assert_eq!((s["rows_read"].as_u64(), s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(4), Some(2), Some(2)));
    // The fourth data row is the file's fifth line, as a spreadsheet shows it.
    assert!(stderr_of(&out).contains("at row 5"), "{}", stderr_of(&out));
    assert_eq!(db.count("SELECT count(*) FROM contacts"), 2, "nothing after the limit is written");
    let s = db.json(&["import", f, "--mapping", m, "--resume"]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(38), Some(2)), "{s}");
    assert_eq!(db.count("SELECT count(*) FROM contacts"), 38);
});

on_both!(declared_custom_fields_are_typed_required_unique_and_closed, |db| {
    let schema = testdata("import/custom_schema.toml");
    let s = db.json(&["init", "--custom", schema.to_str().expect("p")]);
    assert_eq!(s["custom_fields"].as_u64(), Some(3), "{s}");
    let rejects = db.path("rejects.csv");
    let s = db.import("members.csv", "members.toml", &["--rejects", rejects.to_str().expect("p")]);
    assert_eq!(
        (s["inserted"].as_u64(), s["updated"].as_u64(), s["rejected"].as_u64()),
        (Some(2), Some(1), Some(4)),
        "{s}"
    );
    let rejected = std::fs::read_to_string(&rejects).expect("rejects");
    for expected in [
        "custom.tier (column \"Tier\"): \"tin\" is not one of Gold, Silver, Bronze",
        "custom.member_no (column \"Member No\"): \"abc\" is not an integer",
        "custom.member_no is required for a new record of contacts",
        "custom.member_no \"1\" is taken by",
    ] {
        // Quotes in the message are doubled by CSV.
        assert!(rejected.contains(&expected.replace('"', "\"\"")), "{expected} in {rejected}");
    }
    // Canonical forms: the declared spelling, a number, a boolean.
    let custom = db.scalar("SELECT custom FROM contacts WHERE email = 'b@example.com'").expect("b");
    let custom: serde_json::Value = serde_json::from_str(&custom).expect("json");
    assert_eq!(custom, serde_json::json!({"member_no": 2, "tier": "Silver", "vip": false}));
    assert_eq!(db.count("SELECT count(*) FROM contacts"), 2);

    // A custom field nobody declared is refused, naming the declared ones.
    let f = db.path("other.csv");
    std::fs::write(&f, "email,custom.member_no,custom.colour\ng@example.com,7,blue\n").expect("write");
    let s =
        db.json(&["import", f.to_str().expect("p"), "--entity", "contacts", "--rejects", rejects.to_str().expect("p")]);
    assert_eq!(s["rejected"].as_u64(), Some(1), "{s}");
    let rejected = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(rejected.contains("custom.colour is not a declared custom field of contacts"), "{rejected}");

    // A bad schema file changes nothing and names the field.
    let bad = db.path("bad.toml");
    std::fs::write(&bad, "[contacts.tier]\ntype = \"colour\"\n").expect("write");
    let out = db.run(&["init", "--custom", bad.to_str().expect("p")]);
    assert!(!out.status.success());
    assert!(stderr_of(&out).contains("contacts.tier: unknown type \"colour\""), "{}", stderr_of(&out));
    assert_eq!(db.count("SELECT count(*) FROM custom_fields"), 3);
});

on_both!(times_outside_years_1_to_9999_are_rejected_rows, |db| {
    // The last day of 9999 is many systems' "no end"; .NET's
    // DateTime.MinValue read in a zone east of UTC falls in year 0, which
    // neither backend's time columns hold.
    let f = db.file(
        "t.csv",
        "Email,Signed,Closes\na@x.com,9999-12-31 23:59:59,9999-12-31\nb@x.com,0001-01-01 00:00:00,2024-01-01\n\
         c@x.com,2024-03-01 09:00:00,0000-06-15\n",
    );
    let m = db.file(
        "t.toml",
        "entity = \"contacts\"\n[fields]\nemail = { from = \"Email\", type = \"email\" }\n\
         subscribed_at = { from = \"Signed\", type = \"datetime\", timezone = \"Asia/Shanghai\" }\n\
         \"custom.closes\" = \"Closes\"\n",
    );
    let rejects = db.path("r.csv");
    let s = db.json(&["import", &f, "--mapping", &m, "--rejects", rejects.to_str().expect("path")]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(2), Some(1)), "{s}");
    let r = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(r.contains("b@x.com") && r.contains("from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z"), "{r}");
    let out = db.ok(&["export", "--entity", "contacts", "--fields", "email,subscribed_at"]);
    assert_eq!(out, "email,subscribed_at\na@x.com,9999-12-31T15:59:59Z\nc@x.com,2024-03-01T01:00:00Z\n");
    let since =
        db.ok(&["export", "--entity", "contacts", "--fields", "email", "--where", "subscribed_at > '9999-12-31'"]);
    assert_eq!(since, "email\na@x.com\n");
});

#[test]
fn excels_text_formula_and_trailing_separators_read_as_their_values() {
    // `="02134"` keeps a postal code's zero in Excel; a report writer's
    // trailing `,` is no column. An export of the stored text imports back.
    let db = Db::sqlite();
    let f = db.file(
        "zip.csv",
        "email,address.postal_code,title\na@x.com,=\"02134\",\nb@x.com,=\"00501\",CEO,\nc@x.com,=SUM(A1),\n",
    );
    let s = db.json(&["import", &f, "--entity", "contacts"]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(3), Some(0)), "{s}");
    let out = db.ok(&["export", "--entity", "contacts", "--fields", "email,address.postal_code,title"]);
    assert_eq!(out, "email,address.postal_code,title\na@x.com,02134,\nb@x.com,00501,CEO\nc@x.com,'=SUM(A1),\n");
    let back = db.file("back.csv", &out);
    let s = db.json(&["import", &back, "--entity", "contacts"]);
    assert_eq!(s["unchanged"].as_u64(), Some(3), "{s}");
}

#[test]
fn a_csv_plan_neutralises_formulas_but_not_phone_numbers() {
    let db = Db::sqlite();
    let first = db.file("first.csv", "email,phone,title\na@x.com,+14155550100,CEO\n");
    db.ok(&["import", &first, "--entity", "contacts"]);
    let second = db.file("second.csv", "email,phone,title\na@x.com,+14155550101,=HYPERLINK(1)\n");
    let plan = db.path("plan.csv");
    db.ok(&["import", &second, "--entity", "contacts", "--plan", plan.to_str().expect("p")]);
    let text = std::fs::read_to_string(&plan).expect("plan");
    assert!(text.contains(r#""phone","+14155550100","+14155550101""#), "{text}");
    assert!(text.contains(r#""title","CEO","'=HYPERLINK(1)""#), "{text}");
}

#[test]
fn a_plan_shows_custom_values_as_standard_ones() {
    // Text as text in CSV (not its JSON `"gold"`), values as JSON in NDJSON.
    let db = Db::sqlite();
    let first = db.file("first.ndjson", r#"{"email":"a@x.com","custom":{"tier":"gold","n":5,"on":null}}"#);
    db.ok(&["import", &first, "--entity", "contacts"]);
    let second = db.file("second.ndjson", r#"{"email":"a@x.com","custom":{"tier":"sil\"ver","n":6,"on":true}}"#);
    let csv = db.path("plan.csv");
    db.ok(&["import", &second, "--entity", "contacts", "--dry-run", "--plan", csv.to_str().expect("p")]);
    let text = std::fs::read_to_string(&csv).expect("plan");
    assert!(text.contains(r#""custom.tier","gold","sil""ver""#), "{text}");
    assert!(text.contains(r#""custom.n","5","6""#), "{text}");
    let nd = db.path("plan.ndjson");
    db.ok(&["import", &second, "--entity", "contacts", "--dry-run", "--plan", nd.to_str().expect("p")]);
    let line = &read_ndjson(&nd)[0];
    let changes = line["changes"].as_array().expect("changes");
    let of = |f: &str| changes.iter().find(|c| c["field"] == f).cloned().expect(f);
    assert_eq!(of("custom.tier"), serde_json::json!({"field": "custom.tier", "before": "gold", "after": "sil\"ver"}));
    assert_eq!(of("custom.n"), serde_json::json!({"field": "custom.n", "before": 5, "after": 6}));
}

on_both!(update_writes_only_changed_fields_in_file_order, |db| {
    db.import("contacts_v1.csv", "contacts.toml", &[]);
    let plan = db.path("plan.ndjson");
    let s = db.import("contacts_v2.csv", "contacts.toml", &["--plan", plan.to_str().expect("p")]);
    sums_up(&s);
    // Ada (email in other case) changes city; Alan is unchanged; Katherine
    // is inserted by row 4 and updated by row 5 (same key, later row wins).
    assert_eq!(
        (s["inserted"].as_u64(), s["updated"].as_u64(), s["unchanged"].as_u64(), s["rejected"].as_u64()),
        (Some(1), Some(2), Some(1), Some(0)),
        "{s}"
    );
    // The rows' own lines; the company Katherine's row makes has its own.
    let (lines, made): (Vec<_>, Vec<_>) = read_ndjson(&plan).into_iter().partition(|l| l.get("entity").is_none());
    assert_eq!(Some(made.len() as u64), s["companies_created"].as_u64(), "{made:?}");
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["row"], 2);
    assert_eq!(lines[0]["action"], "update");
    assert_eq!(
        lines[0]["changes"],
        serde_json::json!([{"field": "address.city", "before": "London", "after": "Paris"}])
    );
    assert_eq!(lines[1]["action"], "unchanged");
    assert_eq!(lines[2]["action"], "insert");
    assert_eq!(lines[3]["action"], "update");
    assert_eq!(lines[3]["changes"][0]["field"], "phone");
    assert_eq!(lines[3]["changes"][0]["after"], "+15550100006");
    assert_eq!(lines[2]["id"], lines[3]["id"], "the repeated key updates the record its first row inserted");
    assert_eq!(db.count("SELECT count(*) FROM contacts WHERE email = 'katherine@example.com'"), 1);
    assert_eq!(
        db.scalar("SELECT address_city FROM contacts WHERE email = 'ada@example.com'").as_deref(),
        Some("Paris")
    );
    // One audit row per changed field, naming before and after.
    assert_eq!(
        db.count("SELECT count(*) FROM audit WHERE op = 'update' AND field = 'address.city' AND before = 'London' AND after = 'Paris'"),
        1
    );
    let history = db.ok(&["history", "ada@example.com"]);
    assert!(history.contains("address.city: \"London\" → \"Paris\""), "{history}");
    assert!(history.contains("created"), "{history}");
});

on_both!(history_shows_custom_texts_as_texts_and_finds_a_contact_by_email, |db| {
    let co = db.file("co.csv", "name,domain\nAcme,acme.com\n");
    db.json(&["import", &co, "--entity", "companies"]);
    let a = db.file("a.csv", "email,custom.tier,custom.score\nann@acme.com,Gold,7\n");
    let b = db.file("b.csv", "email,custom.tier,custom.score\nann@acme.com,Silver,8\n");
    db.json(&["import", &a, "--entity", "contacts"]);
    db.json(&["import", &b, "--entity", "contacts"]);
    // No --entity: the e-mail names the contact, not Acme at acme.com.
    let history = db.ok(&["history", "ann@acme.com"]);
    assert!(history.starts_with("contacts "), "{history}");
    assert!(history.contains("custom.tier: \"Gold\" → \"Silver\""), "{history}");
    let json = db.json(&["history", "ann@acme.com"]);
    let tier = json["history"].as_array().and_then(|h| h.iter().find(|e| e["field"] == "custom.tier")).expect("tier");
    assert_eq!((&tier["before"], &tier["after"]), (&"Gold".into(), &"Silver".into()), "{json}");
    // The company is still found by its domain.
    assert!(db.ok(&["history", "acme.com"]).starts_with("companies "));
    // A company named like the e-mail does not make it ambiguous.
    let odd = db.file("odd.csv", "name\nann@acme.com\n");
    db.json(&["import", &odd, "--entity", "companies"]);
    assert!(db.ok(&["history", "ann@acme.com"]).starts_with("contacts "));
    // Of names alike, the one named exactly; else each is named.
    let alike = db.file("alike.csv", "name,domain\nZeta,zeta.de\nZeta GmbH,zeta-gmbh.de\n");
    db.json(&["import", &alike, "--entity", "companies", "--mode", "insert"]);
    let zeta = db.scalar("SELECT id FROM companies WHERE name = 'Zeta'").expect("zeta");
    assert!(db.ok(&["history", "Zeta"]).contains(&zeta));
    let out = db.run(&["history", "zeta"]);
    let said = stderr_of(&out);
    assert!(said.contains("names 2 records") && said.contains("(name \"Zeta GmbH\")"), "{said}");
    // A contact by its phone as written at home, or by its name.
    let c = db.file(
        "c.csv",
        "email,phone,mobile,first_name,last_name\nada@x.com,+15550100001,,Ada,Lovelace\n\
         bob@x.com,+15550100003;ext=7,+442079460958,Bob,Hope\n",
    );
    db.json(&["import", &c, "--entity", "contacts"]);
    let ada = db.scalar("SELECT id FROM contacts WHERE email = 'ada@x.com'").expect("ada");
    for named in ["+15550100001", "+1 555 010 0001", "(555) 010-0001", "ada lovelace", "ADA LOVELACE"] {
        let out = db.ok(&["history", named]);
        assert!(out.starts_with(&format!("contacts {ada}")), "{named}: {out}");
    }
    // With an extension stored, and a mobile written with its trunk 0.
    let bob = db.scalar("SELECT id FROM contacts WHERE email = 'bob@x.com'").expect("bob");
    for named in ["(555) 010-0003", "020 7946 0958", "+44 20 7946 0958"] {
        let out = db.ok(&["history", named]);
        assert!(out.starts_with(&format!("contacts {bob}")), "{named}: {out}");
    }
    // Case folds beyond ASCII, on both backends.
    let e = db.file("e.csv", "email,full_name\nemile@x.com,Émile Zola\n");
    db.json(&["import", &e, "--entity", "contacts"]);
    assert!(db.ok(&["history", "émile zola"]).starts_with("contacts "));
    // A name written family name first, as Chinese writes it (no space)
    // and lists sort it.
    let z = db.file("z.csv", "email,first_name,last_name\nzw@x.cn,伟,张\nwz@x.com,Wei,Zhang\n");
    db.json(&["import", &z, "--entity", "contacts"]);
    let zw = db.scalar("SELECT id FROM contacts WHERE email = 'zw@x.cn'").expect("zw");
    let wz = db.scalar("SELECT id FROM contacts WHERE email = 'wz@x.com'").expect("wz");
    for (named, id) in [("张伟", &zw), ("伟 张", &zw), ("Zhang Wei", &wz), ("wei zhang", &wz)] {
        let out = db.ok(&["history", named]);
        assert!(out.starts_with(&format!("contacts {id}")), "{named}: {out}");
    }
    // (Fewer than seven digits name no phone.)
    let out = db.run(&["history", "0-0001"]);
    assert!(stderr_of(&out).contains("no record \"0-0001\""), "{}", stderr_of(&out));
    // An id in lower case, as pasted from somewhere that folds it.
    assert!(db.ok(&["history", &ada.to_lowercase()]).starts_with(&format!("contacts {ada}")));
    // A number written at home that is in use in two countries names both
    // records, as `export --where` finds both.
    let two = db.file(
        "two.csv",
        "email,mobile
fr@x.com,+33612345678
nl@x.com,+31612345678
",
    );
    db.json(&["import", &two, "--entity", "contacts"]);
    let out = db.run(&["history", "06 12 34 56 78"]);
    assert!(stderr_of(&out).contains("names 2 records"), "{}", stderr_of(&out));
    let found = db.ok(&["export", "--entity", "contacts", "--fields", "email", "--where", "mobile = '06 12 34 56 78'"]);
    assert_eq!(found, "email\nfr@x.com\nnl@x.com\n");
    // A company by its phone, as written at home; an id with spaces around.
    let co = db.file("co.csv", "name,phone\nParis SA,+33 1 42 68 53 00\n");
    db.json(&["import", &co, "--entity", "companies"]);
    let paris = db.scalar("SELECT id FROM companies WHERE name = 'Paris SA'").expect("paris");
    for named in ["01 42 68 53 00", "+33142685300"] {
        assert!(db.ok(&["history", named]).starts_with(&format!("companies {paris}")), "{named}");
    }
    assert!(db.ok(&["history", &format!(" {paris} ")]).starts_with(&format!("companies {paris}")));
});

on_both!(a_record_found_by_its_external_id_cannot_take_another_records_key, |db| {
    db.import("contacts_v1.csv", "contacts.toml", &[]);
    db.import("deals.csv", "deals.toml", &[]);
    // D-2 is "Navy pilot"; renamed "Acme renewal" two deals would share the
    // name deals are matched by.
    let f = db.file(
        "rename.csv",
        "Deal,Amount,Currency,Stage,Close,Company,Contacts,ERP Id\n\
         Acme renewal,1000.00,USD,open,2024-07-15,Navy Labs,grace.hopper@example.com,D-2\n",
    );
    let m = testdata("import/deals.toml");
    let out = db.run(&["import", &f, "--mapping", m.to_str().expect("p")]);
    let err = stderr_of(&out);
    assert!(
        err.contains("already has name \"Acme renewal\"") && err.contains("the row's erp id \"D-2\" names deal"),
        "{err}"
    );
    assert_eq!(db.count("SELECT count(*) FROM deals WHERE name = 'Acme renewal'"), 1);
    assert_eq!(db.count("SELECT count(*) FROM deals WHERE name = 'Navy pilot'"), 1);
});

on_both!(a_record_found_by_key_with_another_external_id_is_not_the_rows, |db| {
    // Two ERP deals of one name: two deals, each found by its id again.
    let f = db.file(
        "twins.csv",
        "ERP Id,Deal,Amount,Currency,Stage,Close,Company\n\
         D-1,Renewal 2024,100.00,USD,open,2024-06-30,Acme\n\
         D-2,Renewal 2024,200.00,USD,won,2024-07-30,Beta\n\
         D-3,Renewal 2024,300.00,USD,won,2024-08-30,Gamma\n",
    );
    let m = db.file(
        "twins.toml",
        "entity = \"deals\"\n[key]\nexternal_id = { system = \"erp\", from = \"ERP Id\" }\n[fields]\nname = \"Deal\"\n\
         amount = { from = \"Amount\", type = \"decimal\" }\ncurrency = \"Currency\"\nstage = \"Stage\"\n\
         close_date = { from = \"Close\", type = \"date\" }\n\"company.name\" = \"Company\"\n",
    );
    let s = db.json(&["import", &f, "--mapping", &m]);
    assert_eq!((s["inserted"].as_u64(), s["updated"].as_u64()), (Some(3), Some(0)), "{s}");
    assert_eq!(
        db.scalar("SELECT amount FROM deals d JOIN external_ids x ON x.record_id = d.id WHERE x.external_id = 'D-1'")
            .as_deref(),
        Some("100.00")
    );
    let s = db.json(&["import", &f, "--mapping", &m]);
    assert_eq!((s["unchanged"].as_u64(), s["updated"].as_u64()), (Some(3), Some(0)), "{s}");
    // Update mode does not make the other deal, and says why.
    let d4 =
        db.file("d4.csv", "ERP Id,Deal,Amount,Currency,Stage,Close,Company\nD-4,Renewal 2024,1.00,USD,won,,Acme\n");
    let out = db.run(&["import", &d4, "--mapping", &m, "--mode", "update"]);
    let err = stderr_of(&out);
    assert!(err.contains("not the row's \"D-4\": the row is another deal, which update mode does not create"), "{err}");
    // Two ERP contacts of one e-mail: the second is refused, both ids named.
    let f = db.file("twins2.csv", "ERP,email,first_name\nE1,a@x.com,Ann\nE2,a@x.com,Anna\n");
    let m = db.file(
        "twins2.toml",
        "entity = \"contacts\"\n[key]\nexternal_id = { system = \"erp\", from = \"ERP\" }\n\
         [fields]\nemail = \"email\"\nfirst_name = \"first_name\"\n",
    );
    let out = db.run(&["import", &f, "--mapping", &m]);
    let err = stderr_of(&out);
    assert!(err.contains("row 3: contact ") && err.contains("has erp id \"E1\", not the row's \"E2\""), "{err}");
    assert_eq!(db.scalar("SELECT first_name FROM contacts").as_deref(), Some("Ann"));
    // A company of the name at another domain, with an id of its own, is
    // another company (as a link to it makes one); at the same domain it
    // is refused, as two ids for one company.
    let m = db.file(
        "co.toml",
        "entity = \"companies\"\n[key]\nexternal_id = { system = \"erp\", from = \"ERP\" }\n\
         [fields]\nname = \"name\"\ndomain = \"domain\"\n",
    );
    db.json(&["import", &db.file("co1.csv", "name,domain,ERP\nAcme,acme.com,K-1\n"), "--mapping", &m]);
    let s = db.json(&["import", &db.file("co2.csv", "name,domain,ERP\nAcme GmbH,acme.de,K-3\n"), "--mapping", &m]);
    assert_eq!(s["inserted"].as_u64(), Some(1), "{s}");
    let out = db.run(&["import", &db.file("co3.csv", "name,domain,ERP\nAcme,acme.com,K-4\n"), "--mapping", &m]);
    let err = stderr_of(&out);
    assert!(err.contains("has erp id \"K-1\", not the row's \"K-4\""), "{err}");
    assert_eq!(db.count("SELECT count(*) FROM companies WHERE name LIKE 'Acme%'"), 2);
});

on_both!(a_list_given_again_is_unchanged_alike_on_both, |db| {
    let one = db.file("tg1.csv", "email,tags\nt@example.com,a; b\n");
    let two = db.file("tg2.csv", "email,tags,title\nt@example.com,a; b,\n");
    db.json(&["import", &one, "--entity", "contacts"]);
    let s = db.json(&["import", &two, "--entity", "contacts"]);
    assert_eq!((s["unchanged"].as_u64(), s["updated"].as_u64()), (Some(1), Some(0)), "{s}");
    let co = db.file("co.csv", "name,domain,tags\nAcme,acme.com,x; y\n");
    db.json(&["import", &co, "--entity", "companies"]);
    let co2 = db.file("co2.csv", "name,domain,tags,industry\nAcme,acme.com,x; y,\n");
    let s = db.json(&["import", &co2, "--entity", "companies"]);
    assert_eq!(s["unchanged"].as_u64(), Some(1), "{s}");
    assert_eq!(db.count("SELECT count(*) FROM audit WHERE op = 'update'"), 0, "no change recorded");
});

on_both!(a_nul_character_rejects_its_row_alike_on_both, |db| {
    let f = db.file(
        "n.json",
        r#"[{"email":"nul@example.com","first_name":"a\u0000b"},{"email":"k@example.com","custom":{"k\u0000ey":"v"}},{"email":"ok@example.com"}]"#,
    );
    let out = db.run(&["--json", "import", &f, "--entity", "contacts"]);
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(2)), "{s} {}", stderr_of(&out));
    // The store still exports.
    assert_eq!(db.ok(&["export", "--entity", "contacts", "--fields", "email"]), "email\nok@example.com\n");
    let out = db.run(&["import", &f, "--entity", "contacts"]);
    assert!(stderr_of(&out).contains("first_name: the field's value holds a NUL character"), "{}", stderr_of(&out));
});

on_both!(an_external_id_held_by_a_deleted_record_rejects_its_row, |db| {
    db.import("contacts_v1.csv", "contacts.toml", &[]);
    db.import("deals.csv", "deals.toml", &[]);
    db.exec("UPDATE deals SET deleted_at = '2024-01-01T00:00:00.000000Z' WHERE name = 'Acme renewal'");
    let rejects = db.path("rejects.csv");
    let s = db.import("deals.csv", "deals.toml", &["--rejects", rejects.to_str().expect("p")]);
    // Before, the new deal's external id collided with the deleted one's and
    // the batch failed half-way.
    assert_eq!(
        (s["inserted"].as_u64(), s["unchanged"].as_u64(), s["rejected"].as_u64()),
        (Some(0), Some(1), Some(2)),
        "{s}"
    );
    let rejected = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(rejected.contains("external_id.erp,\"external id \"\"D-1\"\" (erp) belongs to deal "), "{rejected}");
    // It says what happens, and advises no command crmsync does not have.
    assert!(rejected.contains("which is deleted: a deleted record keeps its ids"), "{rejected}");
    assert!(!rejected.contains("restore"), "{rejected}");
    assert_eq!(db.count("SELECT count(*) FROM deals"), 2);
    assert_eq!(db.count("SELECT count(*) FROM batches WHERE status = 'done'"), 3);
    // A link by that id finds no live deal: the row is rejected, not linked
    // to the deleted one.
    let acts = db.file("a.csv", "external_id.erp,subject,kind,deal.external_id.erp\nA1,Call,call,D-1\n");
    let rejects = db.path("a.rejects.csv");
    let s = db.json(&["import", &acts, "--entity", "activities", "--rejects", rejects.to_str().expect("p")]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(0), Some(1)), "{s}");
    let rejected = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(
        rejected.contains("erp id \"\"D-1\"\" belongs to deal ")
            && rejected.contains("which is deleted: rows do not link to deleted records"),
        "{rejected}"
    );
});

on_both!(history_names_linked_records_and_json_keeps_their_ids, |db| {
    db.import("contacts_v1.csv", "contacts.toml", &[]);
    db.import("deals.csv", "deals.toml", &[]);
    let moved = db.path("moved.csv");
    std::fs::write(
        &moved,
        "Deal,Amount,Currency,Stage,Close,Company,Contacts,ERP Id\n\
         Acme renewal,12500.50,USD,won,2024-06-30,Navy Labs,ada@example.com,D-1\n",
    )
    .expect("write");
    let m = testdata("import/deals.toml");
    db.ok(&["import", moved.to_str().expect("p"), "--mapping", m.to_str().expect("p")]);
    let history = db.ok(&["history", "Acme renewal", "--entity", "deals"]);
    assert!(history.contains("company: \"Acme Inc.\" → \"Navy Labs\""), "{history}");
    assert!(history.contains("contacts: \"ada@example.com, alan@example.com\" → \"ada@example.com\""), "{history}");
    let json = db.json(&["history", "Acme renewal", "--entity", "deals"]);
    let company = json["history"].as_array().expect("list").iter().find(|e| e["field"] == "company").expect("a change");
    let navy = db.scalar("SELECT id FROM companies WHERE name = 'Navy Labs'");
    assert_eq!(company["after"].as_str(), navy.as_deref(), "{company}");
    assert_eq!(company["after_label"], "Navy Labs");
    // A linked record since removed shows as its id.
    db.exec("DELETE FROM contacts WHERE email = 'alan@example.com'");
    let history = db.ok(&["history", "Acme renewal", "--entity", "deals"]);
    let alan = history.split("contacts: \"ada@example.com, ").nth(1).and_then(|r| r.get(..26)).unwrap_or_default();
    assert!(alan.len() == 26 && alan.chars().all(|c| c.is_ascii_alphanumeric()), "{history}");
});

on_both!(modes_insert_and_update_refuse_what_they_do_not_do, |db| {
    db.import("contacts_v1.csv", "contacts.toml", &[]);
    let rejects = db.path("rejects.csv");
    let s =
        db.import("contacts_v2.csv", "contacts.toml", &["--mode", "insert", "--rejects", rejects.to_str().expect("p")]);
    sums_up(&s);
    // Ada and Alan exist; Katherine's second row repeats a key inserted by her first.
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(3)), "{s}");
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(text.contains("already exists"), "{text}");
    assert!(text.lines().next().is_some_and(|h| h.ends_with("_row,_field,_error")), "{text}");

    let s = db.import("contacts_v2.csv", "contacts.toml", &["--mode", "update"]);
    sums_up(&s);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(0), Some(0)), "{s}");
});

on_both!(update_mode_does_not_create_linked_companies, |db| {
    let f = db.path("moved.csv");
    std::fs::write(&f, "First Name,Last Name,Email,Phone,Company,Website,City,Tier\nAda,Lovelace,ada@example.com,,Brand New Ltd,,London,gold\n")
        .expect("write");
    db.import("contacts_v1.csv", "contacts.toml", &[]);
    let m = testdata("import/contacts.toml");
    let out = db.run(&["import", f.to_str().expect("p"), "--mapping", m.to_str().expect("p"), "--mode", "update"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("no company with name \"Brand New Ltd\"") && err.contains("update mode creates no companies"),
        "{err}"
    );
    assert_eq!(db.count("SELECT count(*) FROM companies"), 2);
});

on_both!(empty_keys_are_rejected_never_merged, |db| {
    let rejects = db.path("r.csv");
    db.import("contacts_v1.csv", "contacts.toml", &["--rejects", rejects.to_str().expect("p")]);
    let mut r = csv::Reader::from_path(&rejects).expect("rejects");
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.expect("row")).collect();
    assert_eq!(rows.len(), 1);
    let headers = r.headers().expect("h").clone();
    let get = |name: &str| rows[0].get(headers.iter().position(|h| h == name).expect(name)).expect("v").to_string();
    assert_eq!(get("_row"), "5");
    assert_eq!(get("_field"), "email");
    assert!(get("_error").contains("key field `email` is empty"), "{}", get("_error"));
    assert_eq!(get("First Name"), "Edsger", "the row is kept as read");
});

on_both!(dry_run_writes_nothing_and_plans_what_a_run_does, |db| {
    let dry_plan = db.path("dry.csv");
    let s = db.import("contacts_v1.csv", "contacts.toml", &["--dry-run", "--plan", dry_plan.to_str().expect("p")]);
    assert_eq!((s["dry_run"].as_bool(), s["inserted"].as_u64()), (Some(true), Some(3)));
    assert_eq!(db.count("SELECT count(*) FROM contacts"), 0);
    assert_eq!(db.count("SELECT count(*) FROM companies"), 0);
    assert_eq!(db.count("SELECT count(*) FROM batches"), 0);
    assert_eq!(db.count("SELECT count(*) FROM audit"), 0);
    let real_plan = db.path("real.csv");
    let real = db.import("contacts_v1.csv", "contacts.toml", &["--plan", real_plan.to_str().expect("p")]);
    // Each company made for the rows has lines of its own, after the row it
    // is made for: its name and its domain.
    let text = std::fs::read_to_string(&real_plan).expect("plan");
    let made = text.lines().filter(|l| l.contains(",insert company,") && l.contains(",\"name\",")).count();
    assert_eq!(Some(made as u64), real["companies_created"].as_u64(), "{text}");
    assert!(made > 0, "{text}");
    // The same rows, actions and fields (ids differ: they are made when written).
    let strip = |p: &std::path::Path| -> Vec<String> {
        std::fs::read_to_string(p)
            .expect("plan")
            .lines()
            .map(|l| {
                let cols: Vec<&str> = l.splitn(4, ',').collect();
                format!("{},{},{}", cols[0], cols[1], cols.get(3).unwrap_or(&""))
            })
            .collect()
    };
    assert_eq!(strip(&dry_plan), strip(&real_plan));
    assert!(
        std::fs::read_to_string(&real_plan).expect("plan").starts_with("row,action,id,field,before,after\n2,insert,")
    );
});

on_both!(deals_match_by_external_id_and_link_contacts_and_companies, |db| {
    db.import("contacts_v1.csv", "contacts.toml", &[]);
    let s = db.import("deals.csv", "deals.toml", &[]);
    sums_up(&s);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(2), Some(1)), "{s}");
    assert_eq!(db.count("SELECT count(*) FROM deal_contacts"), 3);
    assert_eq!(db.scalar("SELECT amount FROM deals WHERE name = 'Navy pilot'").as_deref(), Some("1000.00"));
    assert_eq!(db.scalar("SELECT currency FROM deals WHERE name = 'Navy pilot'").as_deref(), Some("USD"));
    assert_eq!(db.count("SELECT count(*) FROM external_ids WHERE system = 'erp' AND entity = 'deals'"), 2);
    assert_eq!(db.count("SELECT count(*) FROM companies"), 2, "deals link to the existing companies by name");
    // Renamed in the ERP: the external id finds the same deal.
    let s = db.import("deals_renamed.csv", "deals.toml", &[]);
    assert_eq!((s["updated"].as_u64(), s["inserted"].as_u64()), (Some(1), Some(0)), "{s}");
    assert_eq!(db.count("SELECT count(*) FROM deals WHERE name = 'Acme renewal 2025'"), 1);

    let rejects = db.path("a.csv");
    let s = db.import("activities.csv", "activities.toml", &["--rejects", rejects.to_str().expect("p")]);
    sums_up(&s);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(3)), "{s}");
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(text.contains("one of call, email, meeting, note"), "{text}");
    assert!(text.contains("no contact with email") && text.contains("stranger@example.com"), "{text}");
    // The deal was renamed, so "Acme renewal" no longer names one.
    assert!(text.contains("no deal with name"), "{text}");
    // 09:30 London summer time is 08:30 UTC.
    assert_eq!(
        db.scalar("SELECT occurred_at FROM activities").map(|t| t.replace(' ', "T")).unwrap_or_default().get(..16),
        Some("2024-07-02T13:00")
    );
});

on_both!(a_value_too_long_for_its_column_rejects_its_row, |db| {
    let f = db.path("long.csv");
    let long = "x".repeat(300);
    std::fs::write(
        &f,
        format!(
            "email,first_name,company.name\nok@example.com,Ok,Acme\nlong@example.com,{long},Acme\n\
             firm@example.com,Firm,{long}\n"
        ),
    )
    .expect("write");
    let s = db.json(&["import", f.to_str().expect("p"), "--entity", "contacts"]);
    sums_up(&s);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(2)), "{s}");
    // A too long company name is the row's fault: no company is made of it.
    assert_eq!(db.count("SELECT count(*) FROM companies"), 1);
    let out = db.run(&["import", f.to_str().expect("p"), "--entity", "contacts"]);
    let err = stderr_of(&out);
    assert!(
        err.contains("row 3: first_name: ") && err.contains("is not at most 255 characters (this value has 300)"),
        "{err}"
    );
    assert!(err.contains("row 4: company.name: ") && err.contains("(this value has 300)"), "{err}");
});

on_both!(a_currency_must_be_an_iso_code_even_without_a_type, |db| {
    let f = db.path("deals.csv");
    std::fs::write(&f, "name,currency\nRenewal,usd\nPilot,EU\nLicense,€\n").expect("write");
    let rejects = db.path("deals.rejects.csv");
    let s =
        db.json(&["import", f.to_str().expect("p"), "--entity", "deals", "--rejects", rejects.to_str().expect("p")]);
    sums_up(&s);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(2), Some(1)), "{s}");
    assert_eq!(db.scalar("SELECT currency FROM deals WHERE name = 'Renewal'").as_deref(), Some("USD"));
    assert_eq!(db.scalar("SELECT currency FROM deals WHERE name = 'License'").as_deref(), Some("EUR"));
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(text.contains("Pilot,EU,3,currency,") && text.contains("is not an ISO 4217 currency code"), "{text}");
});

#[test]
fn unknown_columns_without_a_mapping_are_named() {
    let db = Db::sqlite();
    let f = db.path("x.csv");
    std::fs::write(&f, "email,Shoe Size\na@example.com,42\n").expect("write");
    let out = db.run(&["import", f.to_str().expect("p"), "--entity", "contacts"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains("\"Shoe Size\"") && err.contains("mapping suggest"), "{err}");
    assert_eq!(db.count("SELECT count(*) FROM contacts"), 0);
}

on_both!(the_store_checks_emails_and_countries_without_a_mapping, |db| {
    // A file named after the store's fields needs no mapping, and gets no
    // free pass: an e-mail must be one, a country becomes its ISO code.
    let f = db.file(
        "typed.csv",
        "email,first_name,address.country\nnot-an-email,Bob,DE\nDan@X.com ,Dan,de\neve@x.com,Eve,Deutschland\n\
         fay@x.com,Fay,Narnia\ngus@x.com,Gus,\n",
    );
    let rejects = db.path("typed-rejects.csv");
    let s = db.json(&["import", &f, "--entity", "contacts", "--rejects", rejects.to_str().expect("p")]);
    sums_up(&s);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(3), Some(2)), "{s}");
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(text.contains("\"email: \"\"not-an-email\"\" is not an e-mail address"), "{text}");
    assert!(text.contains("\"address.country: \"\"Narnia\"\" is not a country"), "{text}");
    assert_eq!(db.scalar("SELECT address_country FROM contacts WHERE email = 'dan@x.com'").as_deref(), Some("DE"));
    assert_eq!(db.scalar("SELECT address_country FROM contacts WHERE email = 'eve@x.com'").as_deref(), Some("DE"));
    assert_eq!(db.scalar("SELECT address_country FROM contacts WHERE email = 'gus@x.com'"), None);
});

#[test]
fn rejects_written_as_ndjson_json_or_xml_are_fixed_and_fed_back() {
    // Their `_row`, `_field` and `_error` are no fields of the record: a
    // record carrying all three is one a rejects file wrote.
    for ext in ["ndjson", "json", "xml"] {
        let db = Db::sqlite();
        let input = db.file(
            "in.ndjson",
            "{\"email\":\"a@x.com\",\"first_name\":\"Ann\"}\n\
             {\"email\":\"not-an-email\",\"first_name\":\"Bob\"}\n\
             {\"email\":\"c@x.com\",\"first_name\":\"Cy\",\"subscribed_at\":\"yesterday\"}\n",
        );
        let rejects = db.path(&format!("rejects.{ext}"));
        let r = rejects.to_str().expect("p");
        let s = db.json(&["import", &input, "--entity", "contacts", "--rejects", r]);
        assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(2)), "{ext}: {s}");
        let text = std::fs::read_to_string(&rejects).expect("rejects");
        assert!(text.contains("_error"), "{ext}: {text}");
        std::fs::write(&rejects, text.replace("not-an-email", "bob@x.com").replace("yesterday", "2024-01-02"))
            .expect("fix");
        let fixed = db.path(&format!("again.{ext}"));
        let s = db.json(&["import", r, "--entity", "contacts", "--rejects", fixed.to_str().expect("p")]);
        assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(2), Some(0)), "{ext}: {s}");
        assert_eq!(db.count("SELECT count(*) FROM contacts"), 3, "{ext}");
        assert_eq!(
            db.scalar("SELECT substr(subscribed_at, 1, 10) FROM contacts WHERE email = 'c@x.com'").as_deref(),
            Some("2024-01-02"),
            "{ext}"
        );
        // A short row of a CSV file comes with its missing values empty, and
        // fed back with them still empty (or still missing) is rejected again.
        let short = db.file("short.csv", "email,first_name,last_name\nroy@x.com,Roy\n");
        let rejects = db.path(&format!("short.{ext}"));
        let r = rejects.to_str().expect("p");
        db.json(&["import", &short, "--entity", "contacts", "--rejects", r]);
        let text = std::fs::read_to_string(&rejects).expect("rejects");
        assert!(text.contains("last_name"), "{ext}: the missing value is there to fill: {text}");
        let s = db.json(&["import", r, "--entity", "contacts"]);
        assert_eq!(s["rejected"].as_u64(), Some(1), "{ext}: {s}");
        if ext != "xml" {
            let without = text.replace(",\"last_name\":\"\"", "");
            assert!(!without.contains("\"last_name\":"), "{ext}: {without}");
            let lacking = db.file(&format!("lacking.{ext}"), &without);
            let s = db.json(&["import", &lacking, "--entity", "contacts"]);
            assert_eq!(s["rejected"].as_u64(), Some(1), "{ext}: {s}");
        }
        // A record that only has some of them keeps them, and is refused for it.
        let odd = db.file("odd.ndjson", "{\"email\":\"d@x.com\",\"_error\":\"x\"}\n");
        let s = db.json(&["import", &odd, "--entity", "contacts"]);
        assert_eq!(s["rejected"].as_u64(), Some(1), "{ext}: {s}");
    }
}

on_both!(a_link_whose_name_and_domain_name_two_companies_rejects_the_row, |db| {
    // A company made for an earlier row of the file counts as a stored one
    // does: `Acme Inc` alone is then two companies' name, in one chunk as
    // in two imports. A domain that is one company's beside a name that is
    // another's says neither.
    let companies = db.file("co.csv", "name,domain\nAcme Inc,acme.com\nGlobex,globex.com\nInitech,\n");
    db.json(&["import", &companies, "--entity", "companies"]);
    let contacts = db.file(
        "k.csv",
        "email,company.name,company.domain\na@x.com,Acme Inc,acme.de\nb@x.com,Acme Inc,\nc@x.com,Globex,acme.com\n\
         d@x.com,Initech,acme.com\ne@x.com,Acme,acme.com\nf@x.com,Acme Inc New,acme.com\n",
    );
    let rejects = db.path("k.rejects.csv");
    let s = db.json(&["import", &contacts, "--entity", "contacts", "--rejects", rejects.to_str().expect("p")]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(3), Some(3)), "{s}");
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    for line in [
        "b@x.com,Acme Inc,,3,company.name,\"the name \"\"Acme Inc\"\" is that of 2 companies: \"\"Acme Inc\"\" (acme.com), \
         \"\"Acme Inc\"\" (acme.de); give company.domain",
        "c@x.com,Globex,acme.com,4,company.name;company.domain,\"the row's company.domain \"\"acme.com\"\" belongs to \
         \"\"Acme Inc\"\" (01",
        "), another company than the one its company.name \"\"Globex\"\" names",
        "d@x.com,Initech,acme.com,5,",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
    // A name that finds no company, or the domain's own, is the domain's company's.
    let out = db.ok(&["export", "--entity", "contacts", "--fields", "email,company.name,company.domain"]);
    assert_eq!(
        out,
        "email,company.name,company.domain\na@x.com,Acme Inc,acme.de\ne@x.com,Acme Inc,acme.com\nf@x.com,Acme Inc,acme.com\n"
    );
});

on_both!(a_name_of_several_companies_without_domains_asks_for_their_ids, |db| {
    // Two `Acme`s without domains: the row's domain tells neither, so the
    // message asks for the id alone, and names each by its id.
    let companies = db.file("c.csv", "name,external_id.erp\nAcme Inc,E1\nACME GmbH,E2\n");
    db.json(&["import", &companies, "--entity", "companies", "--mode", "insert"]);
    let contacts = db.file("k.csv", "email,company.name,company.domain\nx@y.com,Acme,acme.io\n");
    let err = stderr_of(&db.run(&["import", &contacts, "--entity", "contacts"]));
    let id = |name: &str| db.scalar(&format!("SELECT id FROM companies WHERE name = '{name}'")).expect("a company");
    let said = format!(
        "the name \"Acme\" is that of 2 companies: \"Acme Inc\" ({}), \"ACME GmbH\" ({}); give \
         company.external_id to say which",
        id("Acme Inc"),
        id("ACME GmbH")
    );
    assert!(err.contains(&said), "{err}");
});

on_both!(a_company_name_that_of_several_companies_rejects_the_row, |db| {
    // `Acme Inc` and `ACME GmbH` are told apart by domain; a row naming
    // `Acme` alone could be either: it is rejected, naming both, rather
    // than linked to one. At a domain neither has, it is a third `Acme`.
    let companies = db.file("c.csv", "name,domain\nAcme Inc,acme.com\nACME GmbH,acme.de\n");
    db.json(&["import", &companies, "--entity", "companies", "--key", "domain"]);
    let contacts = db.file(
        "k.csv",
        "email,company.name,company.domain\nx@y.com,Acme,\nz@y.com,Acme,acme.de\nw@y.com,Acme,acme.org\n\
         v@y.com,Vortex,acme.org\n",
    );
    let rejects = db.path("k.rejects.csv");
    let s = db.json(&["import", &contacts, "--entity", "contacts", "--rejects", rejects.to_str().expect("p")]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(3), Some(1)), "{s}");
    // The third `Acme` has acme.org: `Vortex` there is that company, named
    // otherwise.
    assert_eq!(s["companies_created"].as_u64(), Some(1), "{s}");
    for email in ["w@y.com", "v@y.com"] {
        let sql = format!(
            "SELECT c.name || ',' || c.domain FROM contacts k JOIN companies c ON c.id = k.company_id \
             WHERE k.email = '{email}'"
        );
        assert_eq!(db.scalar(&sql).as_deref(), Some("Acme,acme.org"), "{email}");
    }
    assert_eq!(db.count("SELECT count(*) FROM companies WHERE domain IS NULL"), 0);
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(
        text.contains("x@y.com,Acme,,2,company.name,\"the name \"\"Acme\"\" is that of 2 companies: \"\"Acme Inc\"\" (acme.com), \"\"ACME GmbH\"\" (acme.de); give company.domain"),
        "{text}"
    );
    assert!(!text.contains("w@y.com"), "{text}");
    // The domain says which.
    assert_eq!(
        db.scalar("SELECT c.domain FROM contacts k JOIN companies c ON c.id = k.company_id WHERE k.email = 'z@y.com'")
            .as_deref(),
        Some("acme.de")
    );
    // A deal linked by that name alone is rejected too.
    let deals = db.file("d.csv", "name,company.name\nBig,ACME\n");
    let out = db.run(&["import", &deals, "--entity", "deals"]);
    assert!(stderr_of(&out).contains("is that of 3 companies"), "{}", stderr_of(&out));
    assert_eq!(db.count("SELECT count(*) FROM deals"), 0);
    // The name as one of them is written says which.
    let exact = db.file("e.csv", "name,company.name\nBig,ACME GmbH\n");
    let s = db.json(&["import", &exact, "--entity", "deals"]);
    assert_eq!((s["inserted"].as_u64(), s["companies_created"].as_u64()), (Some(1), Some(0)), "{s}");
    assert_eq!(
        db.scalar("SELECT c.domain FROM deals d JOIN companies c ON c.id = d.company_id WHERE d.name = 'Big'")
            .as_deref(),
        Some("acme.de")
    );
    // So in a companies file keyed by name: the name as written updates
    // that company; a name alike to both is still refused.
    let by_name = db.file(
        "n.csv",
        "name,industry
ACME GmbH,Machinery
ACME,Retail
",
    );
    let rejects = db.path("n.rejects.csv");
    let s = db.json(&[
        "import",
        &by_name,
        "--entity",
        "companies",
        "--key",
        "name",
        "--rejects",
        rejects.to_str().expect("p"),
    ]);
    assert_eq!((s["updated"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(1)), "{s}");
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(text.contains("ACME,Retail,3,name,\"3 records of companies have names alike to"), "{text}");
    assert!(text.contains("\"\"Acme Inc\"\" (acme.com, ") && text.contains("\"\"ACME GmbH\"\" (acme.de, "), "{text}");
    assert_eq!(
        db.ok(&["export", "--entity", "companies", "--fields", "name,industry"]),
        "name,industry\nAcme Inc,\nACME GmbH,Machinery\nAcme,\n"
    );
});

on_both!(companies_of_one_name_and_other_legal_forms_are_other_companies, |db| {
    // `Acme BV`, `Acme AG` and `Acme Inc` are three companies in three
    // countries: names alike, but each gives its legal form, and they
    // differ. `ACME, Incorporated` is `Acme Inc`; `Acme` alone could be
    // any of them.
    let contacts = db.file(
        "k.csv",
        "email,company.name\nann@acme.nl,Acme BV\nbob@acme.de,Acme AG\ncy@acme.com,Acme Inc\n\
         dee@acme.com,\"ACME, Incorporated\"\neve@acme.com,Acme\n",
    );
    let rejects = db.path("k.rejects.csv");
    let s = db.json(&["import", &contacts, "--entity", "contacts", "--rejects", rejects.to_str().expect("p")]);
    assert_eq!(
        (s["inserted"].as_u64(), s["rejected"].as_u64(), s["companies_created"].as_u64()),
        (Some(4), Some(1), Some(3)),
        "{s}"
    );
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(
        text.contains("the name \"\"Acme\"\" is that of 3 companies made for earlier rows: \"\"Acme BV\"\", \"\"Acme AG\"\", \"\"Acme Inc\"\""),
        "{text}"
    );
    let linked = "SELECT c.name FROM contacts k JOIN companies c ON c.id = k.company_id WHERE k.email = ";
    for (email, company) in [("ann@acme.nl", "Acme BV"), ("bob@acme.de", "Acme AG"), ("dee@acme.com", "Acme Inc")] {
        assert_eq!(db.scalar(&format!("{linked}'{email}'")).as_deref(), Some(company), "{email}");
    }
    // A companies file keyed by name finds each by its own form: it was
    // one company renamed row by row.
    let companies =
        db.file("c.csv", "name,industry\nAcme BV,Trade\nAcme AG,Machinery\nAcme Inc.,Retail\nAcme SA,Banking\n");
    let s = db.json(&["import", &companies, "--entity", "companies", "--key", "name"]);
    assert_eq!(
        (s["inserted"].as_u64(), s["updated"].as_u64(), s["rewritten"].as_u64()),
        (Some(1), Some(3), Some(0)),
        "{s}"
    );
    assert_eq!(
        db.ok(&["export", "--entity", "companies", "--fields", "name,industry"]),
        "name,industry\nAcme BV,Trade\nAcme AG,Machinery\nAcme Inc.,Retail\nAcme SA,Banking\n"
    );
    let s = db.json(&["import", &companies, "--entity", "companies", "--key", "name"]);
    assert_eq!(s["unchanged"].as_u64(), Some(4), "{s}");
    // Linked by name from a store that has them, each form finds its own.
    // (A form written letter by letter is that form.)
    let more =
        db.file("m.csv", "email,company.name\nfay@acme.ch,ACME S.A.\ngus@acme.de,Acme A.G.\nhal@acme.fr,Acme SARL\n");
    let s = db.json(&["import", &more, "--entity", "contacts"]);
    assert_eq!((s["inserted"].as_u64(), s["companies_created"].as_u64()), (Some(3), Some(1)), "{s}");
    assert_eq!(db.scalar(&format!("{linked}'fay@acme.ch'")).as_deref(), Some("Acme SA"));
    assert_eq!(db.scalar(&format!("{linked}'gus@acme.de'")).as_deref(), Some("Acme AG"));
    assert_eq!(db.scalar(&format!("{linked}'hal@acme.fr'")).as_deref(), Some("Acme SARL"));
    // Deals of one name at two of them are two deals.
    let deals = db.file("d.csv", "name,company.name,amount\nRenewal,Acme BV,10\nRenewal,Acme AG,20\n");
    let s = db.json(&["import", &deals, "--entity", "deals"]);
    assert_eq!((s["inserted"].as_u64(), s["companies_created"].as_u64()), (Some(2), Some(0)), "{s}");
    let s = db.json(&["import", &deals, "--entity", "deals"]);
    assert_eq!(s["unchanged"].as_u64(), Some(2), "{s}");
    // A row naming the company without its form could mean either: that is
    // what it is told, not that the deals are to be merged.
    let vague = db.file("v.csv", "name,company.name,amount\nRenewal,Acme,30\n");
    let out = db.run(&["import", &vague, "--entity", "deals"]);
    let err = stderr_of(&out);
    assert!(err.contains("2 deals with name \"Renewal\" are at 2 companies the row's company could be"), "{err}");
    assert!(!err.contains("merge them"), "{err}");
    // An export of them tells them apart by name: no note that it cannot.
    let out = db.run(&["export", "--entity", "companies", "--fields", "name"]);
    assert!(!stderr_of(&out).contains("share their name"), "{}", stderr_of(&out));
});

on_both!(a_form_a_company_took_holds_across_chunks_and_a_resume, |db| {
    // `Acme` made for one row and found by `Acme BV` in the same chunk is
    // still of that form in the next chunk: `Acme AG` is another company
    // whatever the chunk size.
    let linked = "SELECT c.name FROM contacts k JOIN companies c ON c.id = k.company_id WHERE k.email = ";
    let f = db.file(
        "m.csv",
        "email,company.name
a@x.com,Acme
b@x.com,Acme BV
c@x.com,Acme AG
d@x.com,Acme
",
    );
    for size in ["2", "3"] {
        db.ok(&["import", &f, "--entity", "contacts", "--chunk-size", size]);
        assert_eq!(db.scalar(&format!("{linked}'b@x.com'")).as_deref(), Some("Acme"), "chunks of {size}");
        assert_eq!(db.scalar(&format!("{linked}'c@x.com'")).as_deref(), Some("Acme AG"), "chunks of {size}");
        assert_eq!(db.scalar(&format!("{linked}'d@x.com'")).as_deref(), Some("Acme"), "chunks of {size}");
        let last = db.scalar("SELECT id FROM batches ORDER BY started_at DESC, id DESC LIMIT 1").expect("a batch");
        db.ok(&["undo", &last]);
    }
    // A stored `Nova` found by `Nova GmbH` before the import stopped is of
    // that form when it resumes: `Nova SE` makes its own company, as in
    // one run.
    db.ok(&[
        "import",
        &db.file(
            "n.csv",
            "name
Nova
",
        ),
        "--entity",
        "companies",
    ]);
    let f = db.file(
        "n2.csv",
        "email,company.name
e@x.com,Nova GmbH
bad,Nova GmbH
g@x.com,Nova SE
",
    );
    let out = db.run(&["import", &f, "--entity", "contacts", "--chunk-size", "1", "--max-errors", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert_eq!(db.count("SELECT count(*) FROM batch_forms WHERE form = 'gmbh'"), 1);
    let s = db.json(&["import", &f, "--entity", "contacts", "--chunk-size", "1", "--resume"]);
    assert_eq!((s["inserted"].as_u64(), s["companies_created"].as_u64()), (Some(2), Some(1)), "{s}");
    assert_eq!(db.scalar(&format!("{linked}'e@x.com'")).as_deref(), Some("Nova"));
    assert_eq!(db.scalar(&format!("{linked}'g@x.com'")).as_deref(), Some("Nova SE"));
    // And kept once the batch finishes: the stored `Nova` is a GmbH for the
    // imports after it (until that batch is undone).
    assert_eq!(db.scalar("SELECT learned_form FROM companies WHERE name = 'Nova'").as_deref(), Some("gmbh"));
    // A name that found `Oslo BV` (made for an earlier row) finds it again
    // after `Oslo AG` is made, in one run as in a resumed one.
    let f = db.file(
        "o.csv",
        "email,company.name\nr1@x.com,Oslo BV\nr2@x.com,Oslo\nbad,Oslo\nr3@x.com,Oslo AG\nr4@x.com,Oslo\n",
    );
    let out = db.run(&["import", &f, "--entity", "contacts", "--max-errors", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let s = db.json(&["import", &f, "--entity", "contacts", "--resume"]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(4), Some(1)), "{s}");
    assert_eq!(db.scalar(&format!("{linked}'r4@x.com'")).as_deref(), Some("Oslo BV"));
    assert_eq!(db.count("SELECT count(*) FROM batch_links"), 0, "kept only until the batch finishes");
    let other = Db::sqlite();
    let f = other.file("o.csv", &std::fs::read_to_string(&f).expect("o.csv"));
    let s = other.json(&["import", &f, "--entity", "contacts"]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(4), Some(1)), "{s}");
    assert_eq!(other.scalar(&format!("{linked}'r4@x.com'")).as_deref(), Some("Oslo BV"));
    // `Nova`, after `Nova SE` was made in the same part of the file, is the
    // stored `Nova`, written so, as it is when `Nova SE` is stored: a row
    // finds one company whatever part of the file it is read with.
    let f = db.file("n3.csv", "email,company.name\nh@x.com,Nova GmbH\ni@x.com,Nova KG\nj@x.com,Nova\n");
    let s = db.json(&["import", &f, "--entity", "contacts"]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(3), Some(0)), "{s}");
    assert_eq!(db.scalar(&format!("{linked}'i@x.com'")).as_deref(), Some("Nova KG"));
    assert_eq!(db.scalar(&format!("{linked}'j@x.com'")).as_deref(), Some("Nova"));
});

on_both!(a_domain_of_a_stored_company_beside_the_name_of_one_made_for_an_earlier_row_is_refused_each_run, |db| {
    // `Acme AG` is made for the first row (the stored `Acme GmbH` is
    // another company); the second row gives `Acme AG` with `Acme GmbH`'s
    // domain. Which it means is not ours to guess: refused on the first
    // run as on the second, never linked to `Acme GmbH` once and refused
    // after.
    db.ok(&["import", &db.file("s.csv", "name,domain\nAcme GmbH,acme.de\n"), "--entity", "companies"]);
    let f = db.file("e.csv", "email,company.name,company.domain\ne1@x.com,Acme AG,\ne2@x.com,Acme AG,acme.de\n");
    for run in ["first", "second"] {
        let r = db.path(&format!("{run}.rejects.csv"));
        let s = db.json(&["import", &f, "--entity", "contacts", "--rejects", r.to_str().expect("p")]);
        assert_eq!(s["rejected"].as_u64(), Some(1), "{run} run: {s}");
        let rejects = std::fs::read_to_string(&r).expect("rejects");
        assert!(
            rejects.contains("e2@x.com")
                && rejects.contains("company.domain \"\"acme.de\"\" belongs to \"\"Acme GmbH\"\" (")
                && rejects.contains("another company than the one its company.name"),
            "{run} run: {rejects}"
        );
    }
    assert_eq!(db.count("SELECT count(*) FROM contacts WHERE email = 'e2@x.com'"), 0);
});

on_both!(a_name_alike_to_companies_two_of_which_are_written_alike_asks_for_an_id_or_domain, |db| {
    // `Acme B.V.` finds two `Acme BV`s: writing the name as one of them has
    // it would still find both, so the message asks for what tells them
    // apart. Alike to names all written otherwise, it asks for one of them.
    let s =
        db.file("s.csv", "name,domain\nAcme BV,acme.nl\nAcme BV,acme-bv.nl\nBeta GmbH,beta.de\nBETA GMBH,beta.at\n");
    db.ok(&["import", &s, "--entity", "companies", "--mode", "insert"]);
    let q = db.file("q.csv", "name,industry\nAcme B.V.,Trade\nbeta gmbh,Trade\n");
    let err = stderr_of(&db.run(&["import", &q, "--entity", "companies", "--key", "name"]));
    assert!(
        err.contains("2 records of companies have names alike to \"Acme B.V.\"")
            && err.contains("(give the row its record's `id` or `domain`"),
        "{err}"
    );
    assert!(
        err.contains("names alike to \"beta gmbh\"") && err.contains("(write the name as one of them has it"),
        "{err}"
    );
});

on_both!(companies_made_for_earlier_rows_link_later_ones_as_they_do_chunks_later, |db| {
    // Each file gives the same links in one part as a row at a time (as
    // when the companies made for earlier rows are stored).
    let linked = |db: &Db| {
        let out = db.ok(&["export", "--entity", "contacts", "--fields", "email,company.name,company.domain"]);
        out.lines().skip(1).map(str::to_string).collect::<Vec<_>>()
    };
    let files = [
        // A domain made for an earlier row beside a name made for another:
        // refused, never linked to the domain's company.
        (
            "email,company.name,company.domain\nx0@x.com,Globex,globex.com\nx1@x.com,Initech,initech.com\n\
             x2@x.com,Initech,globex.com\n",
            vec!["x0@x.com,Globex,globex.com", "x1@x.com,Initech,initech.com"],
        ),
        // Of names alike, the one without a domain takes the row's; those
        // at other domains are not the row's.
        (
            "email,company.name,company.domain\nu1@x.com,Acme GmbH,acme.de\nu2@x.com,Acme BV,\nu3@x.com,Acme,acme.nl\n",
            vec!["u1@x.com,Acme GmbH,acme.de", "u2@x.com,Acme BV,acme.nl", "u3@x.com,Acme BV,acme.nl"],
        ),
        // All at other domains: another company of that name.
        (
            "email,company.name,company.domain\nv1@x.com,Acme BV,acme.nl\nv2@x.com,Acme AG,acme.ch\nv3@x.com,Acme,acme.de\n",
            vec!["v1@x.com,Acme BV,acme.nl", "v2@x.com,Acme AG,acme.ch", "v3@x.com,Acme,acme.de"],
        ),
        // A domain whose company gives another legal form than the row's
        // name: two companies, which is meant is not ours to guess.
        (
            "email,company.name,company.domain\nw1@x.com,Acme BV,acme.nl\nw2@x.com,Acme AG,acme.nl\n",
            vec!["w1@x.com,Acme BV,acme.nl"],
        ),
        // A stored name alike at another domain, and one made for an
        // earlier row at another: another company again.
        (
            "email,company.name,company.domain\ny1@x.com,ACME,acme.com\ny2@x.com,Globex,\ny3@x.com,Acme AG,globex.com\n",
            vec!["y1@x.com,ACME,acme.com", "y2@x.com,Globex,", "y3@x.com,Acme AG,globex.com"],
        ),
    ];
    for (n, (text, expected)) in files.iter().enumerate() {
        let f = db.file(&format!("f{n}.csv"), text);
        for size in ["1000", "1"] {
            let one = Db::sqlite();
            let s = one.json(&["import", &f, "--entity", "contacts", "--chunk-size", size]);
            assert_eq!(s["inserted"].as_u64(), Some(expected.len() as u64), "file {n}, chunks of {size}: {s}");
            assert_eq!(&linked(&one), expected, "file {n}, chunks of {size}");
        }
    }
    // With companies stored first.
    let stored = [
        (
            "name,domain\nacme,acme.com\nAcme GmbH,acme.ch\nAcme BV,acme.de\n",
            "email,company.name,company.domain\nu0@x.com,Acme,acme.nl\nu1@x.com,Acme,\nu2@x.com,ACME,globex.com\n",
            vec!["u0@x.com,Acme,acme.nl", "u1@x.com,Acme,acme.nl", "u2@x.com,ACME,globex.com"],
        ),
        (
            "name,domain\nAcme BV,acme.de\n",
            "email,company.name,company.domain\nu0@x.com,Acme AG,acme.com\nu1@x.com,Acme BV,acme.ch\nu2@x.com,ACME,\n\
             u3@x.com,Acme BV,globex.com\nu4@x.com,Acme BV,\n",
            vec!["u0@x.com,Acme AG,acme.com", "u1@x.com,Acme BV,acme.ch", "u3@x.com,Acme BV,globex.com"],
        ),
        (
            "name,domain\nAcme BV,\n",
            "email,company.name,company.domain\nu2@x.com,Acme,acme.de\nu3@x.com,Acme AG,\nu4@x.com,Acme GmbH,acme.de\n",
            vec!["u2@x.com,Acme BV,acme.de", "u3@x.com,Acme AG,"],
        ),
    ];
    for (n, (companies, text, expected)) in stored.iter().enumerate() {
        let c = db.file(&format!("s{n}.csv"), companies);
        let f = db.file(&format!("k{n}.csv"), text);
        for size in ["1000", "1"] {
            let one = Db::sqlite();
            one.ok(&["import", &c, "--entity", "companies"]);
            one.ok(&["import", &f, "--entity", "contacts", "--chunk-size", size]);
            assert_eq!(&linked(&one), expected, "stored {n}, chunks of {size}");
        }
    }
    // And on this backend, in one part.
    let f = db.file("f.csv", files[0].0);
    db.ok(&["import", &f, "--entity", "contacts"]);
    assert_eq!(linked(db), files[0].1);
});

/// Imports `companies` (if any) and then `contacts` into a fresh SQLite
/// store in one of the ways an import can be split (`way`: one run, parts
/// of 1 or 2 rows, or stopped at each rejected row and resumed), and
/// returns the contacts' links as exported.
fn links_imported(companies: &str, contacts: &str, way: &str) -> Vec<String> {
    let db = Db::sqlite();
    if !companies.is_empty() {
        db.ok(&["import", &db.file("c.csv", companies), "--entity", "companies", "--key", "name"]);
    }
    let f = db.file("f.csv", contacts);
    let args = ["import", f.as_str(), "--entity", "contacts"];
    match way {
        "resumed" => {
            let stopping = [&args[..], &["--max-errors", "1"]].concat();
            let mut out = db.run(&stopping);
            let resuming = [&stopping[..], &["--resume"]].concat();
            for _ in 0..contacts.lines().count() {
                if out.status.code() != Some(1) {
                    break;
                }
                out = db.run(&resuming);
            }
            assert!(out.status.success(), "{}", stderr_of(&out));
        }
        "one run" => {
            db.ok(&args);
        }
        size => {
            db.ok(&[&args[..], &["--chunk-size", size]].concat());
        }
    }
    let ids = contacts.lines().next().is_some_and(|header| header.contains("company.external_id.erp"));
    let fields = if ids {
        "email,company.name,company.domain,company.external_id.erp"
    } else {
        "email,company.name,company.domain"
    };
    let out = db.ok(&["export", "--entity", "contacts", "--fields", fields]);
    out.lines().skip(1).map(str::to_string).collect()
}

#[test]
fn links_are_the_same_in_one_run_in_parts_and_resumed() {
    // Each file, with the companies stored before it, links each row to
    // the same company (or refuses it) however the import is split: the
    // companies made for earlier rows are found as they are once stored.
    let cases: [(&str, &str, &[&str]); 22] = [
        // A row that finds a company by domain under another name gives it
        // no legal form: `Acme AG` is still the formless `Acme`.
        (
            "",
            "email,company.name,company.domain\na1@x.com,Acme,acme.nl\na2@x.com,Globex Inc,acme.nl\na3@x.com,Acme AG,\n",
            &["a1@x.com,Acme,acme.nl", "a2@x.com,Acme,acme.nl", "a3@x.com,Acme,acme.nl"],
        ),
        (
            "name,domain\nacme,acme.nl\n",
            "email,company.name,company.domain\nf1@x.com,Acme,acme.de\nf2@x.com,Acme BV,acme.de\n\
             f3@x.com,Globex Inc,acme.nl\nf4@x.com,Acme B.V.,acme.nl\n",
            &["f1@x.com,Acme,acme.de", "f2@x.com,Acme,acme.de", "f3@x.com,acme,acme.nl", "f4@x.com,acme,acme.nl"],
        ),
        // A domain made for an earlier row, named alike: that company,
        // whatever stored companies of the name there are.
        (
            "",
            "email,company.name,company.domain\nb1@x.com,Acme B.V.,\nb2@x.com,Acme AG,\n\
             b3@x.com,ACME GmbH,globex.com\nb4@x.com,Acme,globex.com\n",
            &[
                "b1@x.com,Acme B.V.,",
                "b2@x.com,Acme AG,",
                "b3@x.com,ACME GmbH,globex.com",
                "b4@x.com,ACME GmbH,globex.com",
            ],
        ),
        (
            "name,domain\nAcme B.V.,\n",
            "email,company.name,company.domain\nd1@x.com,ACME GmbH,acme.de\nd2@x.com,Acme,acme.de\n\
             d3@x.com,Globex Inc,acme.de\n",
            &["d1@x.com,ACME GmbH,acme.de", "d2@x.com,ACME GmbH,acme.de", "d3@x.com,ACME GmbH,acme.de"],
        ),
        // A domain made for an earlier row beside the name of a stored
        // company, at another domain or none: refused, never linked.
        (
            "name,domain\nAcme B.V.,acme.de\n",
            "email,company.name,company.domain\nc1@x.com,Globex Inc,acme.nl\nc2@x.com,Acme B.V.,acme.nl\n",
            &["c1@x.com,Globex Inc,acme.nl"],
        ),
        (
            "name,domain\nAcme BV,\nAcme AG,globex.com\n",
            "email,company.name,company.domain\ni1@x.com,Initech Ltd,initech.com\ni2@x.com,Acme,acme.de\n\
             i3@x.com,Acme,initech.com\n",
            &["i1@x.com,Initech Ltd,initech.com", "i2@x.com,Acme BV,acme.de"],
        ),
        // A name with a domain no company has, beside a stored company and
        // one made without a domain: which is meant is not ours to guess.
        (
            "name,domain\nAcme AG,\n",
            "email,company.name,company.domain\ne1@x.com,Acme B.V.,\ne2@x.com,Acme,acme.de\n",
            &["e1@x.com,Acme B.V.,"],
        ),
        // A stored company bound to a form by an earlier row is not found
        // by a name of another form in the same part of the file.
        (
            "name,domain\nAcme,\nInitech,initech.com\n",
            "email,company.name,company.domain\ng1@x.com,Acme B.V.,\ng2@x.com,ACME GmbH,initech.com\n",
            &["g1@x.com,Acme,", "g2@x.com,Initech,initech.com"],
        ),
        // A domain an earlier row gave a stored company is that one's.
        (
            "name,domain\nAcme,\n",
            "email,company.name,company.domain\nh1@x.com,Acme AG,\nh2@x.com,Acme,acme.de\nh3@x.com,Acme BV,acme.nl\n\
             h4@x.com,Acme BV,acme.de\n",
            &["h1@x.com,Acme,acme.de", "h2@x.com,Acme,acme.de", "h3@x.com,Acme BV,acme.nl"],
        ),
        // The stored company written exactly so is at another domain: one
        // more of that name, not the one made without a domain.
        (
            "name,domain\nacme,globex.com\n",
            "email,company.name,company.domain\nj1@x.com,Acme AG,\nj2@x.com,acme,acme.nl\n",
            &["j1@x.com,acme,globex.com", "j2@x.com,acme,acme.nl"],
        ),
        // A reference found before a company alike was made finds the same
        // company later in the file, and after a resume.
        (
            "name,domain\nAcme B.V.,initech.com\n",
            "email,company.name,company.domain\nk1@x.com,Globex Inc,initech.com\nk2-no-email,Initech,\n\
             k3@x.com,Globex Inc,globex.com\nk4@x.com,Globex Inc,initech.com\n",
            &["k1@x.com,Acme B.V.,initech.com", "k3@x.com,Globex Inc,globex.com", "k4@x.com,Acme B.V.,initech.com"],
        ),
        // A company made with an id, given again with a name that finds
        // none: the company under another name, as once stored.
        (
            "",
            "email,company.name,company.domain,company.external_id.erp\nx1@x.com,Acme,acme.nl,E3\n\
             x2@x.com,Globex Inc,acme.de,E1\nx3@x.com,Initech Ltd,acme.nl,E3\nx4@x.com,Initech Ltd,,E1\n",
            &[
                "x1@x.com,Acme,acme.nl,E3",
                "x2@x.com,Globex Inc,acme.de,E1",
                "x3@x.com,Acme,acme.nl,E3",
                "x4@x.com,Globex Inc,acme.de,E1",
            ],
        ),
        // Rows that repeat a stored company's name with another id: one
        // more company of that name, which each of them links to.
        (
            "name,domain,external_id.erp\nInitech,initech.com,E3\n",
            "email,company.name,company.domain,company.external_id.erp\ny1@x.com,Initech,,E2\ny2@x.com,Initech,,E2\n",
            &["y1@x.com,Initech,,E2", "y2@x.com,Initech,,E2"],
        ),
        // The one company of the name at no other domain has another id
        // than the row, which gives a domain: not ours to guess.
        (
            "",
            "email,company.name,company.domain,company.external_id.erp\nz1@x.com,Acme BV,,E2\n\
             z2@x.com,ACME GmbH,globex.com,E3\nz3@x.com,Acme,initech.com,E1\n",
            &["z1@x.com,Acme BV,,E2", "z2@x.com,ACME GmbH,globex.com,E3"],
        ),
        // A company made for an earlier row by a stored company's name
        // with another id is there for the rows after it: the one written
        // exactly as the row writes the name.
        (
            "name,domain,external_id.erp\nacme,acme.nl,E3\n",
            "email,company.name,company.domain,company.external_id.erp\np1@x.com,Acme,,E2\np2@x.com,Acme,,E3\n",
            &["p1@x.com,Acme,,E2"],
        ),
        // A company found by its id, one of two the name finds (one stored
        // a part earlier, one made for an earlier row), neither written so.
        (
            "",
            "email,company.name,company.domain,company.external_id.erp\nr1@x.com,Acme,globex.com,E3\n\
             r2@x.com,Initech,,\nr3@x.com,Acme BV,,E2\nr4@x.com,acme,acme.de,E2\n",
            &[
                "r1@x.com,Acme,globex.com,E3",
                "r2@x.com,Initech,,",
                "r3@x.com,Acme BV,acme.de,E2",
                "r4@x.com,Acme BV,acme.de,E2",
            ],
        ),
        // Of the companies a name finds, one with another id than the row
        // gives is not the row's.
        (
            "",
            "email,company.name,company.domain,company.external_id.erp\ns1@x.com,acme,acme.nl,\n\
             s2@x.com,Acme,globex.com,E1\ns3@x.com,Acme B.V.,,E2\n",
            &["s1@x.com,acme,acme.nl,E2", "s2@x.com,Acme,globex.com,E1", "s3@x.com,acme,acme.nl,E2"],
        ),
        // A company found by its id, bound to another form by an earlier
        // row, is not the one the row's name (of a form) finds.
        (
            "name,domain,external_id.erp\nacme,initech.com,E2\n",
            "email,company.name,company.domain,company.external_id.erp\nt1@x.com,ACME GmbH,initech.com,\n\
             t2@x.com,Acme,globex.com,\nt3@x.com,Acme B.V.,initech.com,E2\n",
            &["t1@x.com,acme,initech.com,E2", "t2@x.com,Acme,globex.com,"],
        ),
        // An id an earlier row gave a company is that company's: another
        // name it finds, written exactly as the row, is refused (not a
        // second company with the id, which the store refused).
        (
            "",
            "email,company.name,company.domain,company.external_id.erp\nu1@x.com,Acme,acme.com,E100\n\
             u2@x.com,Acme GmbH,acme.de,\nu3@x.com,Acme GmbH,,E200\nu4@x.com,Acme,,E200\n",
            &["u1@x.com,Acme,acme.com,E100", "u2@x.com,Acme GmbH,acme.de,E200", "u3@x.com,Acme GmbH,acme.de,E200"],
        ),
        // ... and a name that finds it among others links to it.
        (
            "name,domain,external_id.erp\nACME Inc,acme.com,\nAcme GmbH,acme.de,\n",
            "email,company.name,company.domain,company.external_id.erp\nv1@x.com,ACME Inc,acme.com,E1\nv2@x.com,Acme,,E1\n",
            &["v1@x.com,ACME Inc,acme.com,E1", "v2@x.com,ACME Inc,acme.com,E1"],
        ),
        // A domain an earlier row gave a company found by its id is not the
        // company of a row that gives another id.
        (
            "name,domain,external_id.erp\nACME Inc,,E2\n",
            "email,company.name,company.domain,company.external_id.erp\nw1@x.com,Acme GmbH,globex.com,E2\n\
             w2@x.com,,globex.com,E1\n",
            &["w1@x.com,ACME Inc,globex.com,E2"],
        ),
        // An id a refused row gave binds no later row.
        (
            "name,domain,external_id.erp\nAcme B.V.,acme.de,E2\n",
            "email,company.name,company.domain,company.external_id.erp\nq1@x.com,Globex Inc,acme.de,E1\n\
             q2@x.com,Initech,initech.com,E1\n",
            &["q2@x.com,Initech,initech.com,E1"],
        ),
    ];
    for (companies, contacts, expected) in cases {
        for way in ["one run", "1", "2", "resumed"] {
            assert_eq!(links_imported(companies, contacts, way), expected, "{way}: {companies}{contacts}");
        }
    }
}

/// Small files of names alike in several legal forms and domains that
/// several names give, some with companies stored first: (companies,
/// contacts) for each of `n`, the same on every run so that a failure can
/// be replayed.
fn random_link_files(n: usize) -> Vec<(String, String)> {
    const NAMES: [&str; 10] = [
        "Acme",
        "Acme BV",
        "Acme B.V.",
        "ACME GmbH",
        "Acme AG",
        "acme",
        "Globex",
        "Globex Inc",
        "Initech",
        "Initech Ltd",
    ];
    const DOMAINS: [&str; 6] = ["", "", "acme.nl", "acme.de", "globex.com", "initech.com"];
    // (xorshift64*: enough to vary the files, and the same on every run.)
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = |n: usize| {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    };
    (0..n)
        .map(|_| {
            let mut companies = String::new();
            if next(10) < 6 {
                companies.push_str("name,domain\n");
                for _ in 0..=next(3) {
                    companies.push_str(&format!("{},{}\n", NAMES[next(NAMES.len())], DOMAINS[next(DOMAINS.len())]));
                }
            }
            let mut contacts = String::from("email,company.name,company.domain\n");
            for row in 0..=next(10) {
                contacts.push_str(&format!(
                    "c{row}@x.com,{},{}\n",
                    NAMES[next(NAMES.len())],
                    DOMAINS[next(DOMAINS.len())]
                ));
            }
            (companies, contacts)
        })
        .collect()
}

#[test]
fn links_of_random_files_are_the_same_however_the_import_is_split() {
    // Each links as in one run when read a row or two at a time, or stopped
    // at each rejected row and resumed.
    for (file, (companies, contacts)) in random_link_files(30).iter().enumerate() {
        let one = links_imported(companies, contacts, "one run");
        for way in ["1", "2", "resumed"] {
            assert_eq!(links_imported(companies, contacts, way), one, "file {file}, {way}: {companies}{contacts}");
        }
    }
}

#[test]
fn random_files_imported_again_change_no_record() {
    // Imported again, each file leaves every record the first run wrote as
    // it was, links included: a later row that made a company written as an
    // earlier row's name, or a form a row found, changes nothing. (A row
    // the first run refused may be taken, once later rows made what it
    // names plain.)
    let fields = "email,company.name,company.domain";
    for (file, (companies, contacts)) in random_link_files(60).iter().enumerate() {
        let db = Db::sqlite();
        if !companies.is_empty() {
            db.ok(&["import", &db.file("c.csv", companies), "--entity", "companies", "--key", "name"]);
        }
        let f = db.file("f.csv", contacts);
        db.ok(&["import", &f, "--entity", "contacts"]);
        let first = db.ok(&["export", "--entity", "contacts", "--fields", fields]);
        let s = db.json(&["import", &f, "--entity", "contacts"]);
        assert_eq!((s["updated"].as_u64(), s["companies_updated"].as_u64()), (Some(0), Some(0)), "file {file}: {s}");
        // (And read a row at a time.)
        let s = db.json(&["import", &f, "--entity", "contacts", "--chunk-size", "1"]);
        assert_eq!(s["updated"].as_u64(), Some(0), "file {file}, in parts: {s}");
        let again = db.ok(&["export", "--entity", "contacts", "--fields", fields]);
        let kept = first.lines().all(|line| again.lines().any(|l| l == line));
        assert!(kept, "file {file}: {companies}{contacts}\nfirst:\n{first}\nagain:\n{again}");
    }
}

on_both!(a_company_name_without_its_form_binds_no_second_form, |db| {
    // `Acme` made for the first row is of the first form a later row gives
    // it (`Acme BV`): `Acme AG` is another company, never the same one.
    let f = db.file("o.csv", "email,company.name\na@x.com,Acme\nb@x.com,Acme BV\nc@x.com,Acme AG\n");
    let s = db.json(&["import", &f, "--entity", "contacts"]);
    assert_eq!((s["inserted"].as_u64(), s["companies_created"].as_u64()), (Some(3), Some(2)), "{s}");
    let linked = "SELECT c.name FROM contacts k JOIN companies c ON c.id = k.company_id WHERE k.email = ";
    assert_eq!(db.scalar(&format!("{linked}'b@x.com'")).as_deref(), Some("Acme"));
    assert_eq!(db.scalar(&format!("{linked}'c@x.com'")).as_deref(), Some("Acme AG"));
    let s = db.json(&["import", &f, "--entity", "contacts"]);
    assert_eq!(s["unchanged"].as_u64(), Some(3), "{s}");
    // So with a stored `Nova` and two forms in one file, as in two.
    db.json(&["import", &db.file("n.csv", "name\nNova\n"), "--entity", "companies"]);
    let f = db.file("n2.csv", "email,company.name\nd@x.com,Nova GmbH\ne@x.com,Nova SE\n");
    let s = db.json(&["import", &f, "--entity", "contacts"]);
    assert_eq!((s["inserted"].as_u64(), s["companies_created"].as_u64()), (Some(2), Some(1)), "{s}");
    assert_eq!(db.scalar(&format!("{linked}'d@x.com'")).as_deref(), Some("Nova"));
    assert_eq!(db.scalar(&format!("{linked}'e@x.com'")).as_deref(), Some("Nova SE"));
    let s = db.json(&["import", &f, "--entity", "contacts"]);
    assert_eq!(s["unchanged"].as_u64(), Some(2), "{s}");
    // A name without a form that became several companies' after its row
    // linked: the record keeps its link, and the file imports unchanged.
    let f = db.file("r.csv", "email,company.name\nf@x.com,Orbit Inc\ng@x.com,Orbit\nh@x.com,Orbit BV\n");
    let s = db.json(&["import", &f, "--entity", "contacts"]);
    assert_eq!((s["inserted"].as_u64(), s["companies_created"].as_u64()), (Some(3), Some(2)), "{s}");
    let s = db.json(&["import", &f, "--entity", "contacts"]);
    assert_eq!((s["unchanged"].as_u64(), s["rejected"].as_u64()), (Some(3), Some(0)), "{s}");
    // A new contact of that name is still refused: which one is not ours to guess.
    let f = db.file("r2.csv", "email,company.name\ni@x.com,Orbit\n");
    let s = db.json(&["import", &f, "--entity", "contacts"]);
    assert_eq!(s["rejected"].as_u64(), Some(1), "{s}");
    // Keyed by name, a row that leaves the form out keeps the stored name:
    // `Beta` then `Beta AG` does not turn `Beta GmbH` into `Beta AG`.
    for file in
        ["name,industry\nBeta GmbH,Tech\n", "name,phone\nBeta,+49 30 1234567\n", "name,industry\nBeta AG,Finance\n"]
    {
        db.json(&["import", &db.file("b.csv", file), "--entity", "companies", "--key", "name"]);
    }
    assert_eq!(
        db.ok(&["export", "--entity", "companies", "--fields", "name,industry,phone", "--where", "name like 'Beta%'"]),
        "name,industry,phone\nBeta GmbH,Tech,+49301234567\nBeta AG,Finance,\n"
    );
});

on_both!(a_file_imported_again_keeps_the_links_its_names_fit, |db| {
    let linked = "SELECT c.name FROM contacts k JOIN companies c ON c.id = k.company_id WHERE k.email = ";
    // `Globex` finds the `Globex Inc` made for the row before it (at
    // globex.de); a later row makes `Globex` at globex.com. Imported again, `Globex` would find
    // the one written so: the record keeps the link its name still fits.
    let f = db.file(
        "g.csv",
        "email,company.name,company.domain\na@x.com,Globex Inc,globex.de\nb@x.com,Globex,\nc@x.com,Globex,globex.com\n\
         d@x.com,Globex,\n",
    );
    let s = db.json(&["import", &f, "--entity", "contacts"]);
    assert_eq!((s["inserted"].as_u64(), s["companies_created"].as_u64()), (Some(4), Some(2)), "{s}");
    assert_eq!(db.scalar(&format!("{linked}'b@x.com'")).as_deref(), Some("Globex Inc"));
    // (In parts too: a reference found in an earlier part is not looked
    // up again, and the record still keeps its link.)
    for size in ["1000", "1", "2", "3"] {
        let s = db.json(&["import", &f, "--entity", "contacts", "--chunk-size", size]);
        assert_eq!((s["unchanged"].as_u64(), s["updated"].as_u64()), (Some(4), Some(0)), "chunks of {size}: {s}");
    }
    assert_eq!(db.scalar(&format!("{linked}'b@x.com'")).as_deref(), Some("Globex Inc"));
    assert_eq!(db.scalar(&format!("{linked}'d@x.com'")).as_deref(), Some("Globex Inc"));
    // `Orbit B.V.` finds `orbit` (at orbit.nl) and binds it to that form;
    // `Orbit B.V.` at orbit.io is another company, made. Imported again,
    // `orbit` is still a B.V. (learned, not only for the run that found
    // it), so the first record keeps its link.
    let f = db.file(
        "o.csv",
        "email,company.name,company.domain\nn@x.com,orbit,orbit.nl\ne@x.com,Orbit B.V.,\n\
         f@x.com,Orbit B.V.,orbit.io\n",
    );
    let s = db.json(&["import", &f, "--entity", "contacts"]);
    assert_eq!((s["inserted"].as_u64(), s["companies_created"].as_u64()), (Some(3), Some(2)), "{s}");
    assert_eq!(db.scalar(&format!("{linked}'e@x.com'")).as_deref(), Some("orbit"));
    assert_eq!(db.scalar("SELECT learned_form FROM companies WHERE name = 'orbit'").as_deref(), Some("bv"));
    let s = db.json(&["import", &f, "--entity", "contacts"]);
    assert_eq!((s["unchanged"].as_u64(), s["updated"].as_u64()), (Some(3), Some(0)), "{s}");
    assert_eq!(db.scalar(&format!("{linked}'e@x.com'")).as_deref(), Some("orbit"));
    // A row that names another form than the linked company's is a change
    // the user made: `Zeta AG` (written so) beside the formless `Zeta` the
    // record is linked to takes the record there.
    db.json(&["import", &db.file("z.csv", "name,domain\nZeta,zeta.de\nZeta AG,zeta.ch\n"), "--entity", "companies"]);
    db.json(&["import", &db.file("z1.csv", "email,company.name\ng@x.com,Zeta\n"), "--entity", "contacts"]);
    assert_eq!(db.scalar(&format!("{linked}'g@x.com'")).as_deref(), Some("Zeta"));
    let s = db.json(&["import", &db.file("z2.csv", "email,company.name\ng@x.com,Zeta AG\n"), "--entity", "contacts"]);
    assert_eq!(s["updated"].as_u64(), Some(1), "{s}");
    assert_eq!(db.scalar(&format!("{linked}'g@x.com'")).as_deref(), Some("Zeta AG"));
});

on_both!(a_legal_form_an_import_found_holds_in_the_next_until_undone, |db| {
    let linked = "SELECT c.name FROM contacts k JOIN companies c ON c.id = k.company_id WHERE k.email = ";
    // The stored `Nova` found by `Nova GmbH` is a GmbH in the imports after
    // that one: `Nova SE` is another company, as it is in the same file.
    db.json(&["import", &db.file("c.csv", "name\nNova\n"), "--entity", "companies"]);
    let first =
        db.json(&["import", &db.file("k1.csv", "email,company.name\ne@x.com,Nova GmbH\n"), "--entity", "contacts"]);
    assert_eq!(first["companies_created"].as_u64(), Some(0), "{first}");
    let k2 = db.file("k2.csv", "email,company.name\nf@x.com,Nova SE\n");
    let second = db.json(&["import", &k2, "--entity", "contacts"]);
    assert_eq!(second["companies_created"].as_u64(), Some(1), "{second}");
    // As `--where` and `history` read names: `Nova SE` is not the GmbH.
    let out = db.ok(&["export", "--entity", "companies", "--fields", "name", "--where", "name = 'Nova SE'"]);
    assert_eq!(out, "name\nNova SE\n");
    let out = db.ok(&["export", "--entity", "companies", "--fields", "name", "--where", "name = 'Nova GmbH'"]);
    assert_eq!(out, "name\nNova\n");
    // Undone, the batch that found the form forgets it.
    for batch in [&second["batch"], &first["batch"]] {
        db.ok(&["undo", batch.as_str().expect("a batch id")]);
    }
    assert_eq!(db.scalar("SELECT learned_form FROM companies WHERE name = 'Nova'"), None);
    let s = db.json(&["import", &k2, "--entity", "contacts"]);
    assert_eq!(s["companies_created"].as_u64(), Some(0), "{s}");
    assert_eq!(db.scalar("SELECT learned_form FROM companies WHERE name = 'Nova'").as_deref(), Some("se"));
    // A company renamed forgets the form its old name was found to have.
    db.json(&["import", &db.file("l.csv", "name,domain\nLuna,luna.io\n"), "--entity", "companies"]);
    db.json(&["import", &db.file("k3.csv", "email,company.name\ng@x.com,Luna BV\n"), "--entity", "contacts"]);
    assert_eq!(db.scalar("SELECT learned_form FROM companies WHERE name = 'Luna'").as_deref(), Some("bv"));
    let s = db.json(&[
        "import",
        &db.file("r.csv", "name,domain\nSol,luna.io\n"),
        "--entity",
        "companies",
        "--key",
        "domain",
    ]);
    assert_eq!(s["updated"].as_u64(), Some(1), "{s}");
    assert_eq!(db.scalar("SELECT learned_form FROM companies WHERE name = 'Sol'"), None);
    // Learned again (`Sol GmbH`), it is not forgotten by undo of the batch
    // that taught the old name its form.
    db.json(&["import", &db.file("k4.csv", "email,company.name\nh@x.com,Sol GmbH\n"), "--entity", "contacts"]);
    let taught = db.scalar("SELECT batch_id FROM batch_forms WHERE form = 'bv'").expect("the batch that taught bv");
    db.ok(&["undo", &taught]);
    assert_eq!(db.scalar("SELECT learned_form FROM companies WHERE name = 'Sol'").as_deref(), Some("gmbh"));
    // A companies file keyed by name reads it so: `Sol AG` is another
    // company, not `Sol` renamed.
    let s = db.json(&[
        "import",
        &db.file("co.csv", "name,industry\nSol AG,Steel\n"),
        "--entity",
        "companies",
        "--key",
        "name",
    ]);
    assert_eq!((s["inserted"].as_u64(), s["updated"].as_u64()), (Some(1), Some(0)), "{s}");
    assert_eq!(db.scalar(&format!("{linked}'h@x.com'")).as_deref(), Some("Sol"));
});

on_both!(a_free_mail_domain_is_no_company_domain, |db| {
    // A file that took each contact's company domain from the e-mail
    // address: gmail.com is no company's, so `Umbrella` and `Hooli` are two
    // companies, found by name, and neither takes gmail.com.
    let f = db.file(
        "f.csv",
        "email,company.name,company.domain\na@gmail.com,Umbrella,gmail.com\nb@gmail.com,Hooli,https://www.GMail.com/\n\
         c@qq.com,,qq.com\nd@acme.com,Acme,acme.com\ne@gmail.com,Hooli,gmail.com\n",
    );
    let out = db.run(&["import", &f, "--entity", "contacts"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("note: 3 rows gave a free e-mail domain as company.domain (gmail.com 3)"), "{err}");
    // A row whose company is given by such a domain alone names none.
    assert!(
        err.contains(
            "row 4: company.domain: \"qq.com\" is a free e-mail service's domain, which people of many companies \
             share, so it names no company; give company.name or company.external_id"
        ),
        "{err}"
    );
    assert_eq!(
        db.ok(&["export", "--entity", "contacts", "--fields", "email,company.name,company.domain"]),
        "email,company.name,company.domain\na@gmail.com,Umbrella,\nb@gmail.com,Hooli,\nd@acme.com,Acme,acme.com\n\
         e@gmail.com,Hooli,\n"
    );
    assert_eq!(db.count("SELECT count(*) FROM companies"), 3);
    // Imported again: unchanged, and the JSON summary counts them per domain.
    let s = db.json(&["import", &f, "--entity", "contacts"]);
    assert_eq!((s["unchanged"].as_u64(), s["rejected"].as_u64()), (Some(4), Some(1)), "{s}");
    assert_eq!(s["free_mail_domains"], serde_json::json!([{"domain": "gmail.com", "rows": 3}]), "{s}");
    // Rows read ahead of a stop are not counted.
    let f = db.file(
        "m.csv",
        "email,company.name,company.domain\nm@gmail.com,Mu,gmail.com\nbad,Nu,gmail.com\n\
         o@gmail.com,Omicron,gmail.com\n",
    );
    let out = db.run(&["import", &f, "--entity", "contacts", "--max-errors", "1", "--json"]);
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(s["free_mail_domains"], serde_json::json!([{"domain": "gmail.com", "rows": 1}]), "{s}");
    // A companies file: the company is kept without it, and a file keyed
    // by domain cannot take it as a key.
    let co = db.file("co.csv", "name,domain\nHooli,gmail.com\nPied Piper,piedpiper.com\n");
    let out = db.run(&["import", &co, "--entity", "companies", "--key", "name"]);
    assert!(
        stderr_of(&out).contains("note: 1 row gave a free e-mail domain as domain (gmail.com 1)"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(db.scalar("SELECT domain FROM companies WHERE name = 'Hooli'"), None);
    let out = db.run(&["import", &co, "--entity", "companies", "--key", "domain"]);
    assert!(
        stderr_of(&out).contains(
            "row 2: domain: \"gmail.com\" is a free e-mail service's domain, which people of many companies share, \
             so it is no company's key"
        ),
        "{}",
        stderr_of(&out)
    );
});

on_both!(a_company_of_that_name_at_another_domain_is_another_company, |db| {
    // `ACME GmbH` at acme.de is not `Acme Inc` at acme.com, though the
    // names compare alike: it is made (once), and the export of both goes
    // into an empty store as it was.
    let companies = db.file("c.csv", "name,domain\nAcme Inc,acme.com\n");
    db.json(&["import", &companies, "--entity", "companies", "--key", "domain"]);
    let contacts = db.file(
        "k.csv",
        "email,company.name,company.domain\na@x.com,ACME GmbH,acme.de\nb@x.com,Acme Inc,acme.com\n\
         c@x.com,ACME GmbH,acme.de\n",
    );
    let s = db.json(&["import", &contacts, "--entity", "contacts"]);
    assert_eq!((s["inserted"].as_u64(), s["companies_created"].as_u64()), (Some(3), Some(1)), "{s}");
    let fields = ["export", "--entity", "contacts", "--fields", "email,company.name,company.domain"];
    let want = "email,company.name,company.domain\na@x.com,ACME GmbH,acme.de\nb@x.com,Acme Inc,acme.com\n\
                c@x.com,ACME GmbH,acme.de\n";
    assert_eq!(db.ok(&fields), want);
    let other = if db.is_postgres() { Db::postgres("other_domain_2").expect("server") } else { Db::sqlite() };
    let out = db.path("contacts.csv");
    db.ok(&["export", "--entity", "contacts", "--out", out.to_str().expect("p")]);
    let s = other.json(&["import", out.to_str().expect("p"), "--entity", "contacts"]);
    assert_eq!((s["inserted"].as_u64(), s["companies_created"].as_u64()), (Some(3), Some(2)), "{s}");
    assert_eq!(other.ok(&fields), want);
    // In update mode no company is made: the row is refused.
    let update = db.file("u.csv", "email,company.name,company.domain\nb@x.com,Acme Inc,acme.fr\n");
    let s = db.json(&["import", &update, "--entity", "contacts", "--mode", "update"]);
    assert_eq!(s["rejected"].as_u64(), Some(1), "{s}");
});

on_both!(a_company_linked_by_name_takes_the_domain_a_row_gives_it, |db| {
    let first = db.file("first.csv", "email,company.name\nann@x.com,Acme Inc\ncy@x.com,Brand Co\n");
    db.json(&["import", &first, "--entity", "contacts"]);
    assert_eq!(db.scalar("SELECT domain FROM companies WHERE name = 'Acme Inc'"), None);
    // Acme gets the first domain its rows give; a later row at another
    // domain names another company of that name, as it would once the
    // domain is stored. A row naming Brand Co with the domain a company
    // this file creates has is refused, as it is once both are stored.
    let second = db.file(
        "second.csv",
        "email,company.name,company.domain\nbob@x.com,ACME inc.,https://www.Acme.com/\n\
         dee@x.com,Acme Inc,acme.io\neve@x.com,Newco,brand.com\nfay@x.com,Brand Co,brand.com\n",
    );
    // Insert mode changes no stored record.
    let s = db.json(&["import", &second, "--entity", "contacts", "--mode", "insert"]);
    assert_eq!(s["companies_updated"].as_u64(), Some(0), "{s}");
    assert_eq!(db.scalar("SELECT domain FROM companies WHERE name = 'Acme Inc'"), None);
    db.exec("DELETE FROM contacts WHERE email IN ('bob@x.com', 'dee@x.com', 'eve@x.com', 'fay@x.com')");
    db.exec("DELETE FROM companies WHERE name = 'Newco'");
    let plan = db.path("plan.ndjson");
    let s = db.json(&["import", &second, "--entity", "contacts", "--plan", plan.to_str().expect("p")]);
    assert_eq!(
        (s["inserted"].as_u64(), s["companies_updated"].as_u64(), s["companies_created"].as_u64()),
        (Some(3), Some(1), Some(2)),
        "{s}"
    );
    let said = stderr_of(&db.run(&["import", &second, "--entity", "contacts"]));
    assert!(said.contains("row 5: the row's company.domain \"brand.com\" belongs to \"Newco\" (01"), "{said}");
    // The plan shows the company given its domain, for the row that gave
    // it, and those made, for their rows.
    let lines = read_ndjson(&plan);
    let company_lines: Vec<_> = lines.iter().filter(|l| l["entity"] == "companies").collect();
    assert_eq!(company_lines.len(), 3, "{lines:?}");
    assert_eq!((&company_lines[0]["row"], &company_lines[0]["action"]), (&2.into(), &"update".into()));
    assert_eq!(
        company_lines[0]["changes"][0],
        serde_json::json!({"field": "domain", "before": null, "after": "acme.com"})
    );
    assert_eq!((&company_lines[1]["row"], &company_lines[1]["action"]), (&3.into(), &"insert".into()));
    assert_eq!(company_lines[1]["changes"][1]["after"], "acme.io");
    assert_eq!((&company_lines[2]["row"], &company_lines[2]["action"]), (&4.into(), &"insert".into()));
    assert_eq!(company_lines[2]["changes"][0]["after"], "Newco");
    let acme = "SELECT domain FROM companies WHERE name = 'Acme Inc' AND created_batch <> ";
    let first_batch = db.scalar("SELECT id FROM batches ORDER BY started_at, id LIMIT 1").expect("batch");
    assert_eq!(db.scalar(&format!("{acme}'{first_batch}' ORDER BY domain LIMIT 1")).as_deref(), Some("acme.io"));
    assert_eq!(db.count("SELECT count(*) FROM companies WHERE domain = 'acme.com' AND name = 'Acme Inc'"), 1);
    assert_eq!(db.scalar("SELECT domain FROM companies WHERE name = 'Brand Co'"), None);
    assert_eq!(db.count("SELECT count(*) FROM companies WHERE domain = 'brand.com'"), 1);
    assert_eq!(db.count("SELECT count(*) FROM companies WHERE name = 'Acme Inc'"), 2);
    let history = db.ok(&["history", "ann@x.com", "--entity", "contacts"]);
    assert!(history.contains("created"), "{history}");
    // The domain found: a later row links by it.
    let third = db.file("third.csv", "email,company.name,company.domain\ngus@x.com,Acme Holdings,acme.com\n");
    db.json(&["import", &third, "--entity", "contacts"]);
    assert_eq!(db.count("SELECT count(*) FROM companies"), 4);
    db.json(&["undo", "last"]);
    let u = db.json(&["undo", s["batch"].as_str().expect("batch")]);
    assert!(u.is_object(), "{u}");
    assert_eq!(db.scalar("SELECT domain FROM companies WHERE name = 'Acme Inc'"), None, "undo clears it again");
});

on_both!(a_domain_given_to_a_company_found_by_name_holds_for_later_rows, |db| {
    let first = db.file("h1.csv", "email,company.name\na@x.com,Huawei\n");
    db.json(&["import", &first, "--entity", "contacts"]);
    // Row 2 gives Huawei its domain; row 3 names that domain, so it links
    // to Huawei, as it would a chunk later, and makes no second company.
    let second = db.file(
        "h2.csv",
        "email,company.name,company.domain\nb@x.com,HUAWEI,https://www.huawei.com/cn\nc@x.com,Other,huawei.com\n",
    );
    let s = db.json(&["import", &second, "--entity", "contacts"]);
    assert_eq!((s["companies_updated"].as_u64(), s["companies_created"].as_u64()), (Some(1), Some(0)), "{s}");
    assert_eq!(
        db.ok(&["export", "--entity", "companies", "--fields", "name,domain"]),
        "name,domain\nHuawei,huawei.com\n"
    );
    assert_eq!(db.count("SELECT count(DISTINCT company_id) FROM contacts"), 1);
});

on_both!(a_cell_of_spaces_is_empty_whatever_the_field, |db| {
    let first = db.file("p1.csv", "email,phone,address.city,notes\np@x.com,+4930111,Berlin,hello\n");
    db.json(&["import", &first, "--entity", "contacts"]);
    let spaces = db.file("p2.csv", "email,phone,address.city,notes\np@x.com,\"  \",\" \",\"\t\"\n");
    let s = db.json(&["import", &spaces, "--entity", "contacts"]);
    assert_eq!(s["unchanged"].as_u64(), Some(1), "spaces leave stored values alone: {s}");
    assert_eq!(db.scalar("SELECT phone FROM contacts").as_deref(), Some("+4930111"));
    assert_eq!(db.scalar("SELECT address_city FROM contacts").as_deref(), Some("Berlin"));
    let s = db.json(&["import", &spaces, "--entity", "contacts", "--clear-empty"]);
    assert_eq!(s["updated"].as_u64(), Some(1), "{s}");
    assert_eq!(
        db.count("SELECT count(*) FROM contacts WHERE phone IS NULL AND address_city IS NULL AND notes IS NULL"),
        1
    );
    let companies = db.file("c.csv", "name,domain\nAcme,\"  \"\n");
    db.json(&["import", &companies, "--entity", "companies"]);
    let s = db.json(&["import", &companies, "--entity", "companies"]);
    assert_eq!(s["unchanged"].as_u64(), Some(1), "{s}");
    assert_eq!(db.count("SELECT count(*) FROM companies WHERE domain IS NULL"), 1);
});

on_both!(a_csv_export_of_typed_custom_values_imports_back_unchanged, |db| {
    // Undeclared custom numbers and booleans, stored typed from JSON, come
    // back from CSV as text: the same values, and they keep their type.
    let f = db.file("n.ndjson", "{\"email\":\"z@x.de\",\"custom\":{\"n\":1.50,\"vip\":true,\"s\":\"1.5\"}}\n");
    db.json(&["import", &f, "--entity", "contacts"]);
    let csv = db.path("n.csv");
    db.ok(&["export", "--entity", "contacts", "--out", csv.to_str().expect("p")]);
    let s = db.json(&["import", csv.to_str().expect("p"), "--entity", "contacts"]);
    assert_eq!((s["unchanged"].as_u64(), s["updated"].as_u64()), (Some(1), Some(0)), "{s}");
    let ndjson = db.path("n2.ndjson");
    db.ok(&[
        "export",
        "--entity",
        "contacts",
        "--fields",
        "custom.n,custom.vip,custom.s",
        "--out",
        ndjson.to_str().expect("p"),
    ]);
    let text = std::fs::read_to_string(&ndjson).expect("export");
    assert!(text.contains("\"n\":1.50") && text.contains("\"vip\":true") && text.contains("\"s\":\"1.5\""), "{text}");
    // A text that is another number, or another spelling, is a change.
    let other = db.file("o.csv", "email,custom.n,custom.vip\nz@x.de,1.51,yes\n");
    let s = db.json(&["import", &other, "--entity", "contacts"]);
    assert_eq!(s["updated"].as_u64(), Some(1), "{s}");
});

#[test]
fn a_row_read_glued_is_rejected_again_until_its_error_is_cleared() {
    // `"Acme, Inc" Ltd` is text after a closing quote: the rejects file can
    // only hold it as read (`Acme, Inc Ltd`), which the user must confirm.
    let db = Db::sqlite();
    let f = db.file("q.csv", "name,domain\n\"Acme, Inc\" Ltd,acme.com\nBrand,brand.com\n");
    let rejects = db.path("qr.csv");
    let r = rejects.to_str().expect("p");
    let s = db.json(&["import", &f, "--entity", "companies", "--rejects", r]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(1)), "{s}");
    let again = db.path("qr2.csv");
    let s = db.json(&["import", r, "--entity", "companies", "--rejects", again.to_str().expect("p")]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(0), Some(1)), "{s}");
    let text = std::fs::read_to_string(&again).expect("rejects");
    assert!(text.contains("clear `_error` to import the row"), "{text}");
    // Its column stays named, rejected again.
    let mut read = csv::Reader::from_path(&again).expect("rejects");
    let row = read.records().next().expect("a reject").expect("a record");
    assert_eq!(row.get(3), Some("name"), "{row:?}");
    // The byte it names is one of the first file, said so once however
    // often it comes back.
    assert!(row.get(4).is_some_and(|e| e.contains("(byte 23 of the file first read;")), "{row:?}");
    let third = db.path("qr3.csv");
    db.json(&["import", again.to_str().expect("p"), "--entity", "companies", "--rejects", third.to_str().expect("p")]);
    let text = std::fs::read_to_string(&third).expect("rejects");
    assert_eq!(text.matches("first read").count(), 1, "{text}");
    // Checked, `_error` cleared: it imports as it stands.
    std::fs::write(&rejects, "name,domain,_row,_field,_error\n\"Acme, Inc Ltd\",acme.com,2,,\n").expect("fix");
    let s = db.json(&["import", r, "--entity", "companies"]);
    assert_eq!(s["inserted"].as_u64(), Some(1), "{s}");
    assert_eq!(db.count("SELECT count(*) FROM companies WHERE name = 'Acme, Inc Ltd'"), 1);
}

#[test]
fn rejects_of_a_file_with_lines_above_its_header_feed_back_through_the_same_mapping() {
    // The mapping reads the header from row 3 (a report's title and date
    // above it); the rejects file has its header on row 1, and fed back
    // through that mapping was read from its row 3, a record.
    let db = Db::sqlite();
    let f = db.file(
        "leads.csv",
        "Leads from Expo 2024\nExported: 2024-05-01,by admin\nName,Email\nAnn,ann@x.com\nBob,bob@x\nCy,cy@\nDi,di@x\n",
    );
    let m = db.file(
        "m.toml",
        "entity = \"contacts\"\n[source]\nheader_row = 3\n[key]\nfields = [\"email\"]\n[fields]\nfirst_name = \"Name\"\nemail = { from = \"Email\", type = \"email\" }\n",
    );
    let rejects = db.path("r.csv");
    let r = rejects.to_str().expect("p");
    let s = db.json(&["import", &f, "--mapping", &m, "--rejects", r]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(3)), "{s}");
    let fixed = std::fs::read_to_string(&rejects)
        .expect("rejects")
        .replace("bob@x,", "bob@x.com,")
        .replace("cy@,", "cy@x.com,");
    std::fs::write(&rejects, fixed).expect("fix");
    let s = db.json(&["import", r, "--mapping", &m]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(2), Some(1)), "{s}");
    assert_eq!(db.count("SELECT count(*) FROM contacts WHERE first_name IN ('Bob', 'Cy')"), 2);
    // The same command run again on it: what the command line says of the
    // source is set aside too, and said so.
    let out =
        db.run(&["--json", "import", r, "--mapping", &m, "--header-row", "3", "--escape", "\\", "--encoding", "gbk"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("summary");
    assert_eq!((s["rows_read"].as_u64(), s["unchanged"].as_u64()), (Some(3), Some(2)), "{s}");
    assert!(
        stderr_of(&out).contains("is a rejects file: it is read as crmsync wrote it")
            && stderr_of(&out).contains("--header-row, --escape, --encoding describe the source it came from"),
        "{}",
        stderr_of(&out)
    );
    // A rejects workbook is read from its row 1 too; records that name
    // their fields have no header row (the mapping's was refused for them).
    for name in ["r.xlsx", "r.ndjson", "r.xml"] {
        let rejects = db.path(name);
        let r = rejects.to_str().expect("p");
        db.json(&["import", &f, "--mapping", &m, "--rejects", r]);
        let s = db.json(&["import", r, "--mapping", &m]);
        assert_eq!((s["rows_read"].as_u64(), s["rejected"].as_u64()), (Some(3), Some(3)), "{name}: {s}");
    }
    // A source that escapes its quotes (`\"`): its rejects file doubles
    // them, and is read so, not through the mapping's escape (Ed's name
    // grew a quote each time round).
    let esc = db.file(
        "me.toml",
        "entity = \"contacts\"\n[source]\nescape = \"\\\\\"\n[key]\nfields = [\"email\"]\n[fields]\nfirst_name = \"Name\"\nemail = { from = \"Email\", type = \"email\" }\n",
    );
    let e = db.file("e.csv", "Name,Email\n\"Ed \\\"E\\\"\",ed@\n");
    let rejects = db.path("re.csv");
    let r = rejects.to_str().expect("p");
    db.json(&["import", &e, "--mapping", &esc, "--rejects", r]);
    let fixed = std::fs::read_to_string(&rejects).expect("rejects").replace(",ed@,", ",ed@x.com,");
    std::fs::write(&rejects, fixed).expect("fix");
    let s = db.json(&["import", r, "--mapping", &esc]);
    assert_eq!(s["inserted"].as_u64(), Some(1), "{s}");
    assert_eq!(db.count("SELECT count(*) FROM contacts WHERE first_name = 'Ed \"E\"'"), 1);
}

#[test]
fn rejects_feed_back_through_a_mapping_that_describes_another_kind_of_file() {
    // The mapping says the source is GBK with `;`, XML with its records at
    // a path, or a workbook's named sheet; the rejects file is crmsync's
    // own UTF-8 CSV, XML or workbook.
    let db = Db::sqlite();
    let fields = "[key]\nfields = [\"email\"]\n[fields]\nfirst_name = \"Name\"\nemail = { from = \"Email\", type = \"email\" }\n";
    let gbk = db.path("gbk.csv");
    let (bytes, _, _) = encoding_rs::GBK.encode("Name;Email\n张伟;zhang@x.com\n李娜;li@x\n");
    std::fs::write(&gbk, &bytes).expect("write");
    let m = db
        .file("gbk.toml", &format!("entity = \"contacts\"\n[source]\nencoding = \"gbk\"\ndelimiter = \";\"\n{fields}"));
    let xml = db.file(
        "erp.xml",
        "<Export><Customers><Customer><Name>Ann</Name><Email>ann@x.com</Email></Customer>\
         <Customer><Name>Bob</Name><Email>bob@x</Email></Customer></Customers></Export>",
    );
    let mx = db
        .file("xml.toml", &format!("entity = \"contacts\"\n[source]\nrecord_path = \"Customers/Customer\"\n{fields}"));
    // (Its `Contacts` sheet has no e-mail column: both rows are rejected.)
    let book = testdata("spreadsheets/contacts.ods");
    let sheet =
        "[key]\nfields = [\"email\"]\n[fields]\nfirst_name = \"Name\"\nemail = { from = \"Zip\", type = \"email\" }\n";
    let ms = db.file("sheet.toml", &format!("entity = \"contacts\"\n[source]\nsheet = \"Contacts\"\n{sheet}"));
    for (source, mapping, rejects, rejected, name) in [
        (gbk.to_str().expect("p"), &m, "gbk-rejects.csv", 1, "李娜"),
        (&xml, &mx, "erp-rejects.xml", 1, "Bob"),
        (book.to_str().expect("p"), &ms, "ods-rejects.xlsx", 2, "张伟"),
    ] {
        let r = db.path(rejects);
        let r = r.to_str().expect("p");
        let s = db.json(&["import", source, "--mapping", mapping, "--rejects", r]);
        assert_eq!(
            (s["inserted"].as_u64(), s["rejected"].as_u64()),
            (Some(2 - rejected), Some(rejected)),
            "{rejects}: {s}"
        );
        let s = db.json(&["import", r, "--mapping", mapping]);
        assert_eq!(
            (s["rows_read"].as_u64(), s["rejected"].as_u64()),
            (Some(rejected), Some(rejected)),
            "{rejects}: {s}"
        );
        let out = db.run(&["import", r, "--mapping", mapping, "--rejects", "-"]);
        assert!(String::from_utf8_lossy(&out.stdout).contains(name), "{rejects}: {}", stderr_of(&out));
    }
    // A source without a header: its rejects file has one.
    let nhd = db.file("nhd.csv", "Initech,Ops\n,Sales\n");
    let mh = db.file(
        "nh.toml",
        "entity = \"companies\"\n[source]\nformat = \"csv\"\nheader = false\n[key]\nfields = [\"name\"]\n\
         [fields]\nname = { from = \"col1\", required = true }\n\"custom.dept\" = \"col2\"\n",
    );
    let r = db.path("nhd-rejects.csv");
    let r = r.to_str().expect("p");
    let s = db.json(&["import", &nhd, "--mapping", &mh, "--rejects", r]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(1)), "{s}");
    let fixed = std::fs::read_to_string(r).expect("rejects").replace("\n,Sales", "\nUmbrella,Sales");
    std::fs::write(r, fixed).expect("fix");
    let s = db.json(&["import", r, "--mapping", &mh]);
    assert_eq!((s["rows_read"].as_u64(), s["inserted"].as_u64()), (Some(1), Some(1)), "{s}");
    assert_eq!(db.count("SELECT count(*) FROM companies WHERE name = 'col1'"), 0);
    // An XML file whose records are not where the mapping says: an error
    // that says where they look to be, not an import of nothing.
    let other = db.file("other.xml", "<Rows><Row><Name>Ed</Name><Email>ed@x.com</Email></Row></Rows>");
    let out = db.run(&["import", &other, "--mapping", &mx]);
    assert!(!out.status.success());
    let err = stderr_of(&out);
    assert!(err.contains(r#"matches no element in the file; its records look to be at "/Rows/Row""#), "{err}");
    assert!(!err.contains("--resume"), "nothing was started: {err}");
}

#[test]
fn a_rejects_file_on_stdin_is_not_decoded_with_the_sources_encoding() {
    // It is found a rejects file only once read, too late to read it again.
    let db = Db::sqlite();
    let m = db.file(
        "m.toml",
        "entity = \"contacts\"\n[source]\nencoding = \"gbk\"\n[key]\nfields = [\"email\"]\n\
         [fields]\nfirst_name = \"Name\"\nemail = { from = \"Email\", type = \"email\" }\n",
    );
    let rejects = "Name,Email,_row,_field,_error\n张伟,zh@x.com,3,email,bad\n";
    let out = db.cmd().args(["import", "-", "--mapping", &m]).write_stdin(rejects).output().expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("standard input is a rejects file"), "{}", stderr_of(&out));
    assert_eq!(db.count("SELECT count(*) FROM batches"), 0);
    let out = db
        .cmd()
        .args(["import", "-", "--mapping", &m, "--encoding", "auto"])
        .write_stdin(rejects)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(db.scalar("SELECT first_name FROM contacts").as_deref(), Some("张伟"));
}

#[cfg(unix)]
#[test]
fn a_source_read_through_a_pipe_is_read_once_and_whole() {
    // The mapping describes the source (`;`, no header): a look into the
    // file for a rejects file's header must not take the pipe's first rows.
    let db = Db::sqlite();
    let m = db.file(
        "m.toml",
        "entity = \"contacts\"\n[source]\nformat = \"csv\"\nheader = false\ndelimiter = \";\"\n\
         [fields]\nemail = { from = \"col1\", type = \"email\" }\nfirst_name = \"col2\"\n",
    );
    let fifo = db.path("in.fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    let text: String = (0..20_000).map(|i| format!("u{i}@x.com;N{i}\n")).collect();
    let to = fifo.clone();
    let writer = std::thread::spawn(move || std::fs::write(to, text));
    let s = db.json(&["import", fifo.to_str().expect("p"), "--mapping", &m]);
    writer.join().expect("writer").expect("written");
    assert_eq!((s["rows_read"].as_u64(), s["inserted"].as_u64()), (Some(20_000), Some(20_000)), "{s}");
    assert_eq!(db.scalar("SELECT first_name FROM contacts WHERE email = 'u0@x.com'").as_deref(), Some("N0"));
}

#[test]
fn a_record_path_that_matches_nothing_in_a_large_file_starts_no_batch() {
    let db = Db::sqlite();
    let records: String = (0..30_000)
        .map(|i| format!("<Customer><email>u{i}@x.com</email><first_name>{}</first_name></Customer>", "x".repeat(20)))
        .collect();
    let big = db.file("big.xml", &format!("<Export><Customers>{records}</Customers></Export>"));
    assert!(std::fs::metadata(&big).expect("meta").len() > 2 << 20);
    let out = db.run(&["import", &big, "--entity", "contacts", "--record-path", "Clients/Client"]);
    assert!(!out.status.success());
    let err = stderr_of(&out);
    assert!(
        err.contains(r#"its records look to be at "/Export/Customers/Customer""#) && !err.contains("--resume"),
        "{err}"
    );
    assert_eq!(db.count("SELECT count(*) FROM batches"), 0);
    // A wrong name under the records' parent is as wrong.
    let out = db.run(&["import", &big, "--entity", "contacts", "--record-path", "Customers/customer"]);
    assert!(stderr_of(&out).contains("matches no element"), "{}", stderr_of(&out));
    let s = db.json(&["import", &big, "--entity", "contacts", "--record-path", "Customers/Customer"]);
    assert_eq!(s["inserted"].as_u64(), Some(30_000), "{s}");
    // An export of no records reads as none.
    let empty = db.file("empty.xml", "<Export generated=\"2024-05-01\"><Customers count=\"0\"/></Export>");
    let s = db.json(&["import", &empty, "--entity", "contacts", "--record-path", "Customers/Customer"]);
    assert_eq!(s["rows_read"].as_u64(), Some(0), "{s}");
}

#[test]
fn an_import_that_changed_nothing_offers_no_undo() {
    let db = Db::sqlite();
    let f = db.file("c.csv", "email,first_name\nann@x.com,Ann\n");
    let first = db.run(&["import", &f, "--entity", "contacts"]);
    assert!(
        String::from_utf8_lossy(&first.stderr).contains("1 inserted")
            && String::from_utf8_lossy(&first.stderr).contains("undo with `crmsync undo`, batch ")
    );
    let again = db.run(&["import", &f, "--entity", "contacts"]);
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(
        said.contains("1 unchanged") && said.contains(", which changed nothing)") && !said.contains("undo with"),
        "{said}"
    );
}

#[test]
fn a_row_with_extra_values_is_rejected_again_until_its_error_is_cleared() {
    // `Smith, John` unquoted: the rejects file holds the row cut to the
    // header (Berlin only in `_error`); imported as it stands, the city
    // would be " John".
    let db = Db::sqlite();
    let f = db.file("sh.csv", "email,last_name,address.city\nshift@x.com,Smith, John,Berlin\nok@x.com,Ok,Rome\n");
    let rejects = db.path("sr.csv");
    let r = rejects.to_str().expect("p");
    let s = db.json(&["import", &f, "--entity", "contacts", "--rejects", r]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(1)), "{s}");
    let again = db.path("sr2.csv");
    let s = db.json(&["import", r, "--entity", "contacts", "--rejects", again.to_str().expect("p")]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(0), Some(1)), "{s}");
    let text = std::fs::read_to_string(&again).expect("rejects");
    assert!(text.contains("extra values: \"\"Berlin\"\"") && text.contains("put each value in its column"), "{text}");
    assert_eq!(db.count("SELECT count(*) FROM contacts WHERE email = 'shift@x.com'"), 0);
    // Mended, `_error` cleared: it imports.
    std::fs::write(
        &rejects,
        "email,last_name,address.city,_row,_field,_error\nshift@x.com,\"Smith, John\",Berlin,2,,\n",
    )
    .expect("fix");
    let s = db.json(&["import", r, "--entity", "contacts"]);
    assert_eq!(s["inserted"].as_u64(), Some(1), "{s}");
    assert_eq!(db.count("SELECT count(*) FROM contacts WHERE address_city = 'Berlin'"), 1);
}

#[test]
fn a_link_that_finds_nothing_blames_the_fields_it_was_given_by() {
    let db = Db::sqlite();
    let f = db.file("a.csv", "kind,subject,contact.email\ncall,Intro,nobody@x.com\n");
    let rejects = db.path("ar.csv");
    let s = db.json(&["import", &f, "--entity", "activities", "--rejects", rejects.to_str().expect("p")]);
    assert_eq!(s["rejected"].as_u64(), Some(1), "{s}");
    let mut r = csv::Reader::from_path(&rejects).expect("rejects");
    let row = r.records().next().expect("a row").expect("row");
    let at = r.headers().expect("h").iter().position(|h| h == "_field").expect("_field");
    assert_eq!(&row[at], "contact.email", "a column of the file, not the link's name: {row:?}");
}

#[test]
fn activities_without_ids_are_said_to_insert_again() {
    let db = Db::sqlite();
    let people = db.file("p.csv", "email\na@x.com\n");
    db.ok(&["import", &people, "--entity", "contacts"]);
    let f = db.file("a.csv", "kind,subject,contact.email\ncall,Intro,a@x.com\n");
    let out = db.run(&["import", &f, "--entity", "activities"]);
    assert!(
        stderr_of(&out).contains("note: activities have no key here: every row is inserted as a new record"),
        "{}",
        stderr_of(&out)
    );
    // With their ids in the other system, they are matched: no note.
    let f = db.file("b.csv", "external_id.crm,kind,subject,contact.email\nA1,call,Intro,a@x.com\n");
    let out = db.run(&["import", &f, "--entity", "activities"]);
    assert!(!stderr_of(&out).contains("note:"), "{}", stderr_of(&out));
}

#[test]
fn upsert_without_a_key_is_a_usage_error() {
    let db = Db::sqlite();
    let f = testdata("import/activities.csv");
    let m = testdata("import/activities.toml");
    let out = db.run(&["import", f.to_str().expect("p"), "--mapping", m.to_str().expect("p"), "--mode", "upsert"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("no key is set"), "{}", stderr_of(&out));
}

on_both!(a_row_is_unchanged_only_when_no_field_link_or_custom_value_moves, |db| {
    db.import("contacts_v1.csv", "contacts.toml", &[]);
    let mapping = testdata("import/contacts.toml");
    let again = |name: &str, csv: &str, extra: &[&str]| {
        let f = db.path(name);
        std::fs::write(&f, csv).expect("write");
        let mut args = vec!["import", f.to_str().expect("path"), "--mapping", mapping.to_str().expect("path")];
        args.extend_from_slice(extra);
        let s = db.json(&args);
        sums_up(&s);
        (s["updated"].as_u64().unwrap_or(99), s["unchanged"].as_u64().unwrap_or(99))
    };
    let header = "First Name,Last Name,Email,Phone,Company,Website,City,Tier\n";
    // A file that leaves out or empties a field changes nothing by default…
    let row = "Ada,Lovelace,ADA@example.com,,Acme Inc.,,,gold\n";
    assert_eq!(again("same.csv", &format!("{header}{row}"), &[]), (0, 1));
    // …a custom value, alone, is a change…
    let row = "Ada,Lovelace,ada@example.com,(555) 010-0001,Acme Inc.,https://www.acme.com,London,platinum\n";
    assert_eq!(again("tier.csv", &format!("{header}{row}"), &[]), (1, 0));
    assert_eq!(db.scalar("SELECT version FROM contacts WHERE email = 'ada@example.com'").as_deref(), Some("2"));
    // …so is a link to another company…
    let row = "Ada,Lovelace,ada@example.com,(555) 010-0001,Navy Labs,navy.example,London,platinum\n";
    assert_eq!(again("company.csv", &format!("{header}{row}"), &[]), (1, 0));
    assert_eq!(
        db.count(
            "SELECT count(*) FROM contacts c JOIN companies o ON o.id = c.company_id \
             WHERE c.email = 'ada@example.com' AND o.name = 'Navy Labs'"
        ),
        1
    );
    // …and, with --clear-empty, an empty cell where a value is stored.
    let row = "Ada,Lovelace,ada@example.com,(555) 010-0001,Navy Labs,navy.example,,platinum\n";
    assert_eq!(again("cleared.csv", &format!("{header}{row}"), &[]), (0, 1));
    assert_eq!(again("cleared.csv", &format!("{header}{row}"), &["--clear-empty"]), (1, 0));
    assert_eq!(db.scalar("SELECT address_city FROM contacts WHERE email = 'ada@example.com'"), None);
    assert_eq!(again("cleared.csv", &format!("{header}{row}"), &["--clear-empty"]), (0, 1));
    // An empty company (name and website) keeps the link by default, and
    // unlinks it with --clear-empty.
    let row = "Ada,Lovelace,ada@example.com,(555) 010-0001,,,,platinum\n";
    assert_eq!(again("unlinked.csv", &format!("{header}{row}"), &[]), (0, 1));
    assert!(db.scalar("SELECT company_id FROM contacts WHERE email = 'ada@example.com'").is_some());
    assert_eq!(again("unlinked.csv", &format!("{header}{row}"), &["--clear-empty"]), (1, 0));
    assert_eq!(db.scalar("SELECT company_id FROM contacts WHERE email = 'ada@example.com'"), None);
    assert_eq!(again("unlinked.csv", &format!("{header}{row}"), &["--clear-empty"]), (0, 1));
});

on_both!(phones_with_extensions_export_and_import_back_unchanged, |db| {
    // A phone's extension is stored as RFC 3966 writes it (`;ext=12`); an
    // export through the mapping gives that form back, and the phone type
    // must read it as the same number, not reject it.
    let f = db.path("ext.csv");
    std::fs::write(
        &f,
        "First Name,Last Name,Email,Phone,Company,Website,City,Tier\n\
         Ada,Lovelace,ada@example.com,555-010-0199 x12,,,,\n\
         Alan,Turing,alan@example.com,+44 20 7946 0958 ext. 7,,,,\n",
    )
    .expect("write");
    let m = testdata("import/contacts.toml");
    let m = m.to_str().expect("path");
    let s = db.json(&["import", f.to_str().expect("path"), "--mapping", m]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(2), Some(0)), "{s}");
    assert_eq!(
        db.scalar("SELECT phone FROM contacts WHERE email = 'ada@example.com'").as_deref(),
        Some("+15550100199;ext=12")
    );
    assert_eq!(
        db.scalar("SELECT phone FROM contacts WHERE email = 'alan@example.com'").as_deref(),
        Some("+442079460958;ext=7")
    );
    let out = db.path("out.csv");
    db.ok(&["export", "--entity", "contacts", "--mapping", m, "--out", out.to_str().expect("path")]);
    let exported = std::fs::read_to_string(&out).expect("read");
    assert!(exported.contains("+15550100199;ext=12"), "{exported}");
    let again = db.json(&["import", out.to_str().expect("path"), "--mapping", m]);
    assert_eq!(
        (again["unchanged"].as_u64(), again["rejected"].as_u64(), again["updated"].as_u64()),
        (Some(2), Some(0), Some(0)),
        "{again}"
    );
});

on_both!(a_rejected_row_creates_no_company, |db| {
    // A row is rejected whole: the company it names is created only with a
    // record that links to it. Here no deal's contacts exist yet.
    let s = db.import("deals.csv", "deals.toml", &[]);
    assert_eq!((s["rejected"].as_u64(), s["companies_created"].as_u64()), (Some(3), Some(0)), "{s}");
    assert_eq!(db.count("SELECT count(*) FROM companies"), 0);
    // In insert mode a contact that exists is rejected, and so is its new company.
    db.import("contacts_v1.csv", "contacts.toml", &[]);
    let f = db.path("again.csv");
    std::fs::write(
        &f,
        "First Name,Last Name,Email,Phone,Company,Website,City,Tier\n\
         Ada,Lovelace,ada@example.com,,Analytical Engines,,,\n\
         Bea,New,bea@example.com,,Analytical Engines,,,\n\
         Cy,Gone,ada@example.com,,Difference Ltd,,,\n",
    )
    .expect("write");
    let m = testdata("import/contacts.toml");
    let s = db.json(&["import", f.to_str().expect("p"), "--mapping", m.to_str().expect("p"), "--mode", "insert"]);
    assert_eq!(
        (s["inserted"].as_u64(), s["rejected"].as_u64(), s["companies_created"].as_u64()),
        (Some(1), Some(2), Some(1)),
        "{s}"
    );
    assert_eq!(db.count("SELECT count(*) FROM companies WHERE name = 'Analytical Engines'"), 1);
    assert_eq!(db.count("SELECT count(*) FROM companies WHERE name = 'Difference Ltd'"), 0);
    assert_eq!(
        db.scalar(
            "SELECT co.name FROM contacts c JOIN companies co ON co.id = c.company_id WHERE c.email = 'bea@example.com'"
        )
        .as_deref(),
        Some("Analytical Engines")
    );
    // The deals go in once their contacts exist, with the companies they name.
    let s = db.import("deals.csv", "deals.toml", &[]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(2), Some(1)), "{s}");
    assert_eq!(db.count("SELECT count(*) FROM deals d JOIN companies co ON co.id = d.company_id"), 2);
});

on_both!(an_exports_id_column_matches_the_records_it_names, |db| {
    let f = db.file("people.csv", "email,first_name\na@x.com,Ann\nb@x.com,Bob\n");
    db.json(&["import", &f, "--entity", "contacts"]);
    let export = db.ok(&["export", "--entity", "contacts", "--fields", "id,email,first_name"]);
    // Ann's e-mail edited in the file: the id still finds her; an id the
    // store has not (another store's) is matched by key, here inserted.
    let edited = format!("{}7,new@x.com,New\n", export.replace("a@x.com", "ann@new.example.com"));
    let f = db.file("edited.csv", &edited);
    let s = db.json(&["import", &f, "--entity", "contacts"]);
    assert_eq!(
        (s["inserted"].as_u64(), s["updated"].as_u64(), s["unchanged"].as_u64()),
        (Some(1), Some(1), Some(1)),
        "{s}"
    );
    assert_eq!(db.count("SELECT count(*) FROM contacts"), 3);
    let again = db.ok(&["export", "--entity", "contacts", "--fields", "id,email,first_name"]);
    assert!(again.starts_with(&export.replace("a@x.com", "ann@new.example.com")), "{again}");
    assert!(!again.contains("\n7,"), "a new record gets an id of the store's own: {again}");
    // Insert mode names the id that exists.
    let out = db.run(&["import", &f, "--entity", "contacts", "--mode", "insert"]);
    assert!(stderr_of(&out).contains("a contact with id \""), "{}", stderr_of(&out));
    // An id in lower case is the same id; a key another record has is
    // refused; a row with neither a known id nor a key is too.
    let bob = export.lines().nth(2).expect("bob").to_string();
    let ann = again.lines().nth(1).expect("ann").to_string();
    let risky = format!(
        "id,email,first_name\n{}\n{}\n42,,NoKey\n",
        bob.to_lowercase().replace(",bob", ",Bobby"),
        ann.replace("ann@new.example.com", "b@x.com")
    );
    let f = db.file("risky.csv", &risky);
    let out = db.run(&["import", &f, "--entity", "contacts"]);
    let err = stderr_of(&out);
    assert!(err.contains("already has email \"b@x.com\", and the row's id names contact"), "{err}");
    assert!(err.contains("key field `email` is empty and id \"42\" names no contact"), "{err}");
    assert!(err.contains("1 updated, 0 unchanged, 2 rejected"), "{err}");
    assert_eq!(db.count("SELECT count(*) FROM contacts WHERE first_name = 'Bobby'"), 1);
    assert_eq!(db.count("SELECT count(*) FROM contacts"), 3);
    // Companies with ids of another store's are matched as without: one of
    // that name at another domain is another company.
    let f = db.file("co.csv", "name,domain\nAcme,acme.com\n");
    db.json(&["import", &f, "--entity", "companies"]);
    let f = db.file("co2.csv", "id,name,domain\n17,Acme,acme.de\n");
    let s = db.json(&["import", &f, "--entity", "companies"]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(0)), "{s}");
    assert_eq!(
        db.ok(&["export", "--entity", "companies", "--fields", "name,domain"]),
        "name,domain\nAcme,acme.com\nAcme,acme.de\n"
    );
});

on_both!(records_one_key_cannot_tell_apart_reimport_by_their_ids, |db| {
    // Two companies `Zeta` with no domain, told apart here by their phones.
    let f = db.file("z.csv", "name,phone,address.city\nZeta,+49 30 1234567,Berlin\nZeta,+33 1 42 68 53 00,Paris\n");
    db.json(&["import", &f, "--entity", "companies", "--key", "phone"]);
    let fields = ["--fields", "id,name,phone,address.city"];
    let export = db.ok(&[&["export", "--entity", "companies"][..], &fields[..]].concat());
    // Without the ids, the export says they would be one.
    let out = db.run(&["export", "--entity", "companies", "--fields", "name,phone"]);
    let note = "2 companies share their name with another in the file, and no domain tells them apart";
    assert!(stderr_of(&out).contains(note), "{}", stderr_of(&out));
    // One of them alone is told apart from nothing in its file.
    let one = db.run(&["export", "--entity", "companies", "--fields", "name", "--where", "address.city = 'Paris'"]);
    assert!(!stderr_of(&one).contains("share"), "{}", stderr_of(&one));
    assert!(!stderr_of(&db.run(&[&["export", "--entity", "companies"][..], &fields[..]].concat())).contains(note));
    // Into an empty store: each row is its own company, with its own id.
    let other = Db::sqlite();
    let f = other.file("export.csv", &export);
    let s = other.json(&["import", &f, "--entity", "companies"]);
    assert_eq!((s["inserted"].as_u64(), s["updated"].as_u64()), (Some(2), Some(0)), "{s}");
    assert_eq!(other.ok(&[&["export", "--entity", "companies"][..], &fields[..]].concat()), export);
    // Again: both found by their ids, unchanged.
    let s = other.json(&["import", &f, "--entity", "companies"]);
    assert_eq!(s["unchanged"].as_u64(), Some(2), "{s}");
    // Without the ids, only a domain could say which `Zeta` a row is.
    let plain = db.ok(&["export", "--entity", "companies", "--fields", "name,phone,address.city"]);
    let f = db.file("plain.csv", &plain);
    let err = stderr_of(&db.run(&["import", &f, "--entity", "companies"]));
    assert!(err.contains("2 records of companies have the name \"Zeta\""), "{err}");
    assert!(err.contains("give the row its record's `id` or `domain`"), "{err}");
    // A row whose id names no company, of a name two companies have: still
    // refused, as it cannot say which it is.
    let zeta = export.lines().nth(1).expect("a row").replacen(|c: char| c.is_ascii_alphanumeric(), "0", 3);
    let f = other.file("one.csv", &format!("id,name,phone,address.city\n{zeta}\n"));
    let s = other.json(&["import", &f, "--entity", "companies"]);
    assert_eq!(s["rejected"].as_u64(), Some(1), "two of that name: {s}");
    // Deals of one name at one company, likewise; at two, they are told apart.
    let f = db.file("d.csv", "name,company.name,amount\nRenewal,Acme,1\nRenewal,Acme,2\nRenewal,Globex,3\n");
    db.json(&["import", &f, "--entity", "deals", "--key", "amount"]);
    let deals = |filter: &str| {
        let args = ["export", "--entity", "deals", "--fields", "name,company.name,amount", "--where", filter];
        stderr_of(&db.run(&args))
    };
    let note = "share their name with another in the file, and no company tells them apart";
    assert!(deals("amount > 0").contains(&format!("2 deals {note}")), "{}", deals("amount > 0"));
    assert!(!deals("amount > 1").contains(note), "at Acme and at Globex: {}", deals("amount > 1"));
    // One with no company beside one at a company: the row without would
    // be taken for the other.
    let f = db.file("n.csv", "name,amount\nRenewal,4\n");
    db.json(&["import", &f, "--entity", "deals", "--key", "amount"]);
    assert!(deals("amount > 2").contains(&format!("2 deals {note}")), "{}", deals("amount > 2"));
    // Contacts with no e-mail but their ids go in as the same records.
    let f = db.file("p.csv", "phone,first_name\n+49 30 7654321,Ann\n+49 30 7654322,Bob\n");
    db.json(&["import", &f, "--entity", "contacts", "--key", "phone"]);
    let people = db.ok(&["export", "--entity", "contacts", "--fields", "id,phone,first_name"]);
    let f = other.file("people.csv", &people);
    let s = other.json(&["import", &f, "--entity", "contacts"]);
    assert_eq!(s["inserted"].as_u64(), Some(2), "{s}");
    assert_eq!(other.ok(&["export", "--entity", "contacts", "--fields", "id,phone,first_name"]), people);
    // An id crmsync never gives is said to be one, not dropped unsaid.
    let f = other.file("foreign.csv", "id,email\n42,f@x.com\nERP-7,g@x.com\n");
    let err = stderr_of(&other.run(&["import", &f, "--entity", "contacts"]));
    assert!(err.contains("note: 2 rows' `id`s are no id crmsync gives (\"42\";"), "{err}");
    // Two contacts of one e-mail in a file, each with an id: the second is
    // refused, not merged into the first.
    let f = other.file(
        "twins.csv",
        "id,email,first_name\n01JAAAAAAAAAAAAAAAAAAAAAAA,t@x.com,Tom\n01JBBBBBBBBBBBBBBBBBBBBBBB,t@x.com,Tim\n",
    );
    let err = stderr_of(&other.run(&["import", &f, "--entity", "contacts"]));
    assert!(err.contains("and another row of the file stands for it"), "{err}");
    assert!(!err.contains("  "), "{err}");
    assert_eq!(other.count("SELECT count(*) FROM contacts WHERE first_name = 'Tom'"), 1);
});

on_both!(activities_exported_with_their_ids_import_again_as_themselves, |db| {
    let f = db.file("a.csv", "kind,subject\ncall,First call\nnote,Left a note\n");
    db.json(&["import", &f, "--entity", "activities"]);
    let fields = ["--fields", "id,kind,subject"];
    let export = db.ok(&[&["export", "--entity", "activities"][..], &fields].concat());
    let f = db.file("export.csv", &export);
    let out = db.run(&["--json", "import", &f, "--entity", "activities"]);
    assert!(!stderr_of(&out).contains("have no key here"), "{}", stderr_of(&out));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(s["unchanged"].as_u64(), Some(2), "{s}");
    let other = Db::sqlite();
    let f = other.file("export.csv", &export);
    let s = other.json(&["import", &f, "--entity", "activities"]);
    assert_eq!(s["inserted"].as_u64(), Some(2), "{s}");
    assert_eq!(other.ok(&[&["export", "--entity", "activities"][..], &fields].concat()), export);
    // A row without its id is new each time: said.
    let f = other.file("more.csv", &format!("{export},meeting,Kick-off\n"));
    let err = stderr_of(&other.run(&["import", &f, "--entity", "activities"]));
    assert!(err.contains("note: 1 row has no `id`, and activities have no key here"), "{err}");
});

on_both!(deals_of_one_name_at_companies_of_one_name_are_told_apart_by_domain, |db| {
    let note = "2 deals share their name with another in the file, and no company tells them apart";
    let f = db.file("a.csv", "name,domain\nZeta,zeta.de\nZeta,zeta.fr\n");
    db.json(&["import", &f, "--entity", "companies"]);
    let f = db.file("d.csv", "name,amount,company.name,company.domain\nR,1,Zeta,zeta.de\nR,2,Zeta,zeta.fr\n");
    let s = db.json(&["import", &f, "--entity", "deals"]);
    assert_eq!((s["inserted"].as_u64(), s["updated"].as_u64()), (Some(2), Some(0)), "{s}");
    let s = db.json(&["import", &f, "--entity", "deals"]);
    assert_eq!(s["unchanged"].as_u64(), Some(2), "{s}");
    let out = db.ok(&["export", "--entity", "deals", "--fields", "name,amount,company.domain"]);
    assert_eq!(out, "name,amount,company.domain\nR,1,zeta.de\nR,2,zeta.fr\n");
    // By name alone, the file cannot tell the two `Zeta`s apart: said.
    let err = stderr_of(&db.run(&["export", "--entity", "deals", "--fields", "name,amount,company.name"]));
    assert!(err.contains(note), "{err}");
    let err =
        stderr_of(&db.run(&["export", "--entity", "deals", "--fields", "name,amount,company.name,company.domain"]));
    assert!(!err.contains(note), "{err}");
});

on_both!(a_key_the_file_does_not_give_is_refused_up_front, |db| {
    let f = db.file("people.csv", "email,first_name,custom.tier\na@x.com,Ann,gold\n");
    let out = db.run(&["import", &f, "--entity", "contacts", "--key", "custom.code"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(err.contains("--key: the file has no `custom.code` column"), "{err}");
    assert!(err.contains("name a key among: email, first_name, custom.tier"), "{err}");
    assert_eq!(db.count("SELECT count(*) FROM batches"), 0);
    // One it gives is taken.
    let s = db.json(&["import", &f, "--entity", "contacts", "--key", "custom.tier"]);
    assert_eq!(s["inserted"].as_u64(), Some(1), "{s}");
});

on_both!(a_dollar_sign_alone_is_no_currency_until_mapped, |db| {
    let f = db.file("deals.csv", "Deal,Value,Cur\nBig,100,$\nSmall,5,US$\n");
    let m = db.file(
        "deals.toml",
        "entity = \"deals\"\n[fields]\nname = \"Deal\"\namount = \"Value\"\ncurrency = { from = \"Cur\", type = \"currency\" }\n",
    );
    let err = stderr_of(&db.run(&["import", &f, "--mapping", &m]));
    assert!(err.contains("$ is written for the US dollar (USD) and for others (CAD"), "{err}");
    assert_eq!(db.count("SELECT count(*) FROM deals WHERE currency = 'USD'"), 1, "US$ is USD");
    // Mapped, as the message says.
    let m = db.file(
        "deals2.toml",
        "entity = \"deals\"\n[fields]\nname = \"Deal\"\namount = \"Value\"\ncurrency = { from = \"Cur\", type = \"currency\", map = { \"$\" = \"USD\" } }\n",
    );
    let s = db.json(&["import", &f, "--mapping", &m]);
    assert_eq!(s["inserted"].as_u64(), Some(1), "{s}");
    assert_eq!(db.count("SELECT count(*) FROM deals WHERE currency = 'USD'"), 2);
});

on_both!(companies_keyed_by_name_are_not_merged_across_domains, |db| {
    let f = db.file("c1.csv", "name,domain\nAcme Inc,acme.com\n");
    db.json(&["import", &f, "--entity", "companies"]);
    // `ACME LLC` at acme.io is another company than `Acme Inc` at acme.com
    // (as links make it); a domain another company has is refused; `Acme`
    // alone names two now.
    let f = db.file("c2.csv", "name,domain\nACME LLC,acme.io\nNewCo,acme.com\nAcme,\nGlobex,globex.com\n");
    let rejects = db.path("rejects.csv");
    let s = db.json(&["import", &f, "--entity", "companies", "--rejects", rejects.to_str().expect("p")]);
    assert_eq!(
        (s["inserted"].as_u64(), s["updated"].as_u64(), s["rejected"].as_u64()),
        (Some(2), Some(0), Some(2)),
        "{s}"
    );
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(text.contains("domain acme.com is company \"\"Acme Inc\"\"'s"), "{text}");
    assert!(text.contains("2 records of companies have names alike to \"\"Acme\"\""), "{text}");
    let stored = || db.ok(&["export", "--entity", "companies", "--fields", "name,domain"]);
    assert_eq!(stored(), "name,domain\nAcme Inc,acme.com\nACME LLC,acme.io\nGlobex,globex.com\n");
    // A key the user chose is followed as it is.
    db.json(&["import", &f, "--entity", "companies", "--key", "name"]);
    assert_eq!(stored(), "name,domain\nAcme Inc,acme.com\nACME LLC,acme.io\nGlobex,globex.com\nNewCo,acme.com\n");
    // In update mode such a row is refused, naming the domain found.
    let f = db.file("c3.csv", "name,domain\nGlobex,globex.de\n");
    let out = db.run(&["import", &f, "--entity", "companies", "--mode", "update"]);
    assert!(stderr_of(&out).contains("the company of that name is at globex.com: the row is another company"));
});

on_both!(a_companies_export_of_one_name_at_several_domains_or_ids_reimports_whole, |db| {
    // Subsidiaries of one name: the export imports into an empty store.
    let f = db.file("z.csv", "name,domain\nZeta,zeta.fr\nZeta,zeta.de\nZeta,zeta.it\n");
    db.ok(&["import", &f, "--entity", "companies", "--key", "domain"]);
    let first = db.ok(&["export", "--entity", "companies"]);
    let other = if db.is_postgres() { Db::postgres("zeta_domains_2").expect("server") } else { Db::sqlite() };
    let again = other.file("e.csv", &first);
    let s = other.json(&["import", &again, "--entity", "companies"]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(3), Some(0)), "{s}");
    assert_eq!(other.ok(&["export", "--entity", "companies"]), first);
    // ERP customers of one name, each its own id: a third, and a fourth,
    // are more companies, by a companies import or a link.
    let m = db.file(
        "c.toml",
        "entity = \"companies\"\n[key]\nexternal_id = { system = \"erp\", from = \"No\" }\n\
         [fields]\nname = \"Name\"\ndomain = \"Web\"\n",
    );
    let f = db.file("erp.csv", "No,Name,Web\nC-4,Yota,\nC-5,Yota,\nC-6,Yota,yota.fr\nC-7,Yota,\n");
    let s = db.json(&["import", &f, "--mapping", &m]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(4), Some(0)), "{s}");
    let s = db.json(&["import", &f, "--mapping", &m]);
    assert_eq!(s["unchanged"].as_u64(), Some(4), "{s}");
    let cm = db.file(
        "p.toml",
        "entity = \"contacts\"\n[key]\nexternal_id = { system = \"erp\", from = \"P\" }\n\
         [fields]\nemail = \"Email\"\n\"company.name\" = \"Cust\"\n\"company.external_id\" = \"No\"\n",
    );
    let f = db.file("p.csv", "P,Email,No,Cust\nP-1,p1@x.com,C-8,Yota\nP-2,p2@x.com,C-4,Yota\nP-3,p3@x.com,,Yota\n");
    let rejects = db.path("p.rejects.csv");
    let s = db.json(&["import", &f, "--mapping", &cm, "--rejects", rejects.to_str().expect("p")]);
    assert_eq!(
        (s["inserted"].as_u64(), s["rejected"].as_u64(), s["companies_created"].as_u64()),
        (Some(2), Some(1), Some(1)),
        "{s}"
    );
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(text.contains("the name \"\"Yota\"\" is that of 4 companies"), "{text}");
    let linked = db.ok(&["export", "--entity", "contacts", "--fields", "email,company.external_id.erp"]);
    assert_eq!(linked, "email,company.external_id.erp\np1@x.com,C-8\np2@x.com,C-4\n");
});

on_both!(a_decimal_given_with_another_scale_is_unchanged, |db| {
    let f = db.file("d1.csv", "name,amount\nBig deal,12500.50\n");
    db.json(&["import", &f, "--entity", "deals"]);
    let c = db.file("c1.ndjson", r#"{"email":"a@x.com","custom":{"rate":1.50}}"#);
    db.json(&["import", &c, "--entity", "contacts"]);
    let f = db.file("d2.csv", "name,amount\nBig deal,12500.5\n");
    let s = db.json(&["import", &f, "--entity", "deals"]);
    assert_eq!((s["unchanged"].as_u64(), s["updated"].as_u64()), (Some(1), Some(0)), "{s}");
    let c = db.file("c2.ndjson", r#"{"email":"a@x.com","custom":{"rate":1.5}}"#);
    let s = db.json(&["import", &c, "--entity", "contacts"]);
    assert_eq!((s["unchanged"].as_u64(), s["updated"].as_u64()), (Some(1), Some(0)), "{s}");
    // The stored spelling stays; another number is a change.
    assert_eq!(db.ok(&["export", "--entity", "deals", "--fields", "amount"]), "amount\n12500.50\n");
    let f = db.file("d3.csv", "name,amount\nBig deal,12500.51\n");
    let s = db.json(&["import", &f, "--entity", "deals"]);
    assert_eq!(s["updated"].as_u64(), Some(1), "{s}");
});

#[test]
fn a_field_given_nested_and_dotted_with_two_values_rejects_the_record() {
    let db = Db::sqlite();
    let f = db.file(
        "twice.ndjson",
        concat!(
            r#"{"email":"a@x.com","address":{"city":"Paris"},"address.city":"Lyon"}"#,
            "\n",
            r#"{"email":"b@x.com","address":{"city":"Paris"},"address.city":"Paris"}"#,
            "\n",
        ),
    );
    let out = db.run(&["import", &f, "--entity", "contacts"]);
    let err = stderr_of(&out);
    assert!(
        err.contains("row 1: field `address.city`: \"Lyon\"") && err.contains("the other time as \"Paris\""),
        "{err}"
    );
    assert_eq!(
        db.ok(&["export", "--entity", "contacts", "--fields", "email,address.city"]),
        "email,address.city\nb@x.com,Paris\n"
    );
}

on_both!(rows_named_by_id_move_keys_in_file_order, |db| {
    let f = db.file("p.csv", "email,first_name,external_id.erp\nann@x.com,Ann,E1\nbob@x.com,Bob,E2\n");
    db.json(&["import", &f, "--entity", "contacts"]);
    let ids = db.ok(&["export", "--entity", "contacts", "--fields", "id"]);
    let ids: Vec<&str> = ids.lines().skip(1).collect();
    // Ann's e-mail goes first, then Bob takes it: in one chunk as in two.
    let moves = format!("id,email\n{},new@x.com\n{},ann@x.com\n", ids[0], ids[1]);
    let f = db.file("moves.csv", &moves);
    let s = db.json(&["import", &f, "--entity", "contacts"]);
    assert_eq!((s["updated"].as_u64(), s["rejected"].as_u64()), (Some(2), Some(0)), "{s}");
    // Another record's id in the other system is refused, and the job goes on.
    let f = db.file("ext.csv", &format!("id,first_name,external_id.erp\n{},Annie,E2\n{},Bobby,E2\n", ids[0], ids[1]));
    let out = db.run(&["import", &f, "--entity", "contacts"]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("erp id \"E2\" is contact") && err.contains("two records would share it"), "{err}");
    assert!(err.contains("1 updated, 0 unchanged, 1 rejected"), "{err}");
});

#[test]
fn a_column_no_record_of_a_headerless_file_has_is_warned_of() {
    let db = Db::sqlite();
    let good = db.file("m.toml", "entity = \"companies\"\n[fields]\nname = \"Name\"\ndomain = \"Web\"\n");
    let typo = db.file("t.toml", "entity = \"companies\"\n[fields]\nname = \"Name\"\ndomain = \"Webb\"\n");
    let f = db.file("c.ndjson", "{\"Name\":\"X\",\"Web\":\"x.io\"}\n{\"Name\":\"Y\"}\n");
    // Imported twice: the second run recognises its rows and maps them
    // only in part, and still finds every column.
    for _ in 0..2 {
        let s = db.json(&["import", &f, "--mapping", &good]);
        assert_eq!(s["unread_columns"], serde_json::json!([]), "{s}");
    }
    let s = db.json(&["import", &f, "--mapping", &typo]);
    assert_eq!(s["unread_columns"], serde_json::json!(["Webb"]), "{s}");
    let out = db.run(&["import", &f, "--mapping", &typo]);
    assert!(
        stderr_of(&out).contains("warning: no record of") && stderr_of(&out).contains("\"Webb\""),
        "{}",
        stderr_of(&out)
    );
    // So are a phone's region column and the other system's id column.
    let more = db.file(
        "x.toml",
        "entity = \"companies\"\n[key]\nexternal_id = { system = \"erp\", from = \"Idd\" }\n[fields]\nname = \"Name\"\n\
         phone = { from = \"Tel\", type = \"phone\", region_from = \"Ctry\" }\n",
    );
    let g = db.file("g.ndjson", "{\"Name\":\"Z\",\"Tel\":\"+4930111\",\"Id\":\"1\"}\n");
    let s = db.json(&["import", &g, "--mapping", &more]);
    assert_eq!(s["unread_columns"], serde_json::json!(["Ctry", "Idd"]), "{s}");
}

#[test]
fn a_rejected_row_names_an_empty_key_with_its_other_faults() {
    let db = Db::sqlite();
    let f = db.file("k.csv", "email,company.domain,first_name\n,1,Ann\n");
    let rejects = db.path("r.csv");
    let s = db.json(&["import", &f, "--entity", "contacts", "--rejects", rejects.to_str().expect("path")]);
    assert_eq!(s["rejected"].as_u64(), Some(1), "{s}");
    let r = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(r.contains(",2,company.domain;email,") && r.contains("key field `email` is empty"), "{r}");
}

#[test]
fn an_import_stopped_by_an_unreadable_row_still_reports_what_it_committed() {
    let db = Db::sqlite();
    let mut data = b"email,first_name\n".to_vec();
    for i in 0..20 {
        data.extend_from_slice(format!("u{i}@x.com,张{i}\n").as_bytes());
    }
    data.extend_from_slice(b"bad@x.com,\xff\xfe\nlast@x.com,Z\n");
    let f = db.path("bad.csv");
    std::fs::write(&f, &data).expect("write");
    let out = db.run(&["--json", "import", f.to_str().expect("path"), "--entity", "contacts"]);
    assert_eq!(out.status.code(), Some(1));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON summary");
    assert_eq!((s["rows_read"].as_u64(), s["inserted"].as_u64()), (Some(20), Some(20)), "{s}");
    assert!(s["error"].as_str().is_some_and(|e| e.contains("row 22") && e.contains("--resume")), "{s}");
    let list = db.json(&["batches"]);
    assert_eq!(list[0]["status"], "interrupted", "as the table says: {list}");
    assert_eq!(list[0]["batch"], s["batch"]);
}

#[test]
fn the_store_s_own_checks_name_the_column_a_field_was_read_from() {
    let db = Db::sqlite();
    let long = "y".repeat(300);
    let f = db.file("c.csv", &format!("Email,Company,Signed\na@x.com,{long},2024-01-01\nb@x.com,Ok,45357x\n"));
    let m = db.file(
        "c.toml",
        "entity = \"contacts\"\n[fields]\nemail = { from = \"Email\", type = \"email\" }\n\
         \"company.name\" = \"Company\"\nsubscribed_at = \"Signed\"\n",
    );
    let out = db.run(&["import", &f, "--mapping", &m]);
    let err = stderr_of(&out);
    assert!(err.contains("row 2: company.name (column \"Company\"): \"yyyy"), "{err}");
    assert!(err.contains("row 3: subscribed_at (column \"Signed\"): \"45357x\" is not a date and time"), "{err}");
}

#[test]
fn columns_without_a_name_are_named_by_their_place() {
    // A spreadsheet saved as CSV keeps its empty columns, unnamed. They were
    // "both named """, and no mapping could read the file.
    let db = Db::sqlite();
    let f = db.file("t.csv", "email,first_name,,\na@x.com,A,,\nb@x.com,B,,late note\n");
    let m = db.file(
        "m.toml",
        "entity = \"contacts\"\n[key]\nfields = [\"email\"]\n[fields]\nemail = \"email\"\nfirst_name = \"first_name\"\n\
         notes = \"col4\"\n",
    );
    let s = db.json(&["import", &f, "--mapping", &m]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(2), Some(0)), "{s}");
    assert_eq!(
        db.ok(&["export", "--entity", "contacts", "--fields", "email,first_name,notes"]),
        "email,first_name,notes\na@x.com,A,\nb@x.com,B,late note\n"
    );
    // Two columns of one name are still refused: which is meant is not ours
    // to guess.
    let f = db.file("d.csv", "email,Notes,Notes\na@x.com,x,y\n");
    let out = db.run(&["import", &f, "--mapping", &m]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("columns 2 and 3 are both named \"Notes\""));
}

on_both!(a_list_given_to_a_field_of_one_value_rejects_the_row, |db| {
    // Before, `["Ann","Lee"]` was stored as the first name, text and all.
    let f = db.file(
        "l.ndjson",
        "{\"email\":\"r@x.com\",\"first_name\":[\"Ann\",\"Lee\"]}\n\
         {\"email\":\"s@x.com\",\"tags\":[[\"a\",\"b\"],\"c\"]}\n\
         {\"email\":\"u@x.com\",\"first_name\":\"Uma\",\"tags\":[\"a\",\"c\"]}\n",
    );
    let rejects = db.path("l.rejects.ndjson");
    let s = db.json(&["import", &f, "--entity", "contacts", "--rejects", rejects.to_str().expect("p")]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(2)), "{s}");
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(text.contains("is not a single value (it is a list of 2)"), "{text}");
    assert!(text.contains("is not a list of texts (item 1 is a list of 2)"), "{text}");
    assert_eq!(
        db.ok(&["export", "--entity", "contacts", "--fields", "email,first_name,tags"]),
        "email,first_name,tags\nu@x.com,Uma,a; c\n"
    );
});

on_both!(a_plan_names_the_records_a_changed_link_goes_from_and_to, |db| {
    let f = db.file("p1.csv", "email,company.name\na@x.com,Acme\n");
    db.ok(&["import", &f, "--entity", "contacts"]);
    let f = db.file("p2.csv", "email,company.name\na@x.com,Globex\n");
    let plan = db.path("p.csv");
    db.ok(&["import", &f, "--entity", "contacts", "--dry-run", "--plan", plan.to_str().expect("p")]);
    let text = std::fs::read_to_string(&plan).expect("plan");
    let line = text.lines().find(|l| l.contains(",update,")).unwrap_or_default();
    assert!(line.contains(",\"company\",\"Acme (") && line.contains("\",\"Globex ("), "{text}");
    let plan = db.path("p.ndjson");
    db.ok(&["import", &f, "--entity", "contacts", "--dry-run", "--plan", plan.to_str().expect("p")]);
    let first: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&plan).expect("plan").lines().next().expect("a line"))
            .expect("json");
    let change = &first["changes"][0];
    assert_eq!((change["before_label"].as_str(), change["after_label"].as_str()), (Some("Acme"), Some("Globex")));
    assert!(change["before"].as_str().is_some_and(|id| id.len() == 26), "ids stay: {first}");
});

on_both!(links_to_records_named_alike_or_without_an_email_are_told_apart, |db| {
    // Two deals named `Renewal`: history shows which one a link went from
    // and to. A contact without an e-mail is shown by name, not by id.
    let c = db.file("c.csv", "email,first_name,last_name,external_id.erp\nann@x.com,Ann,Lee,P1\n,Bob,Ray,P2\n");
    db.ok(&["import", &c, "--entity", "contacts"]);
    let d = db.file("d.csv", "name,external_id.erp\nRenewal,D1\nRenewal,D2\n");
    db.ok(&["import", &d, "--entity", "deals"]);
    let a = db
        .file("a.csv", "kind,subject,deal.external_id.erp,contact.external_id.erp,external_id.erp\ncall,Hi,D1,P1,A1\n");
    db.ok(&["import", &a, "--entity", "activities"]);
    let a = db.file(
        "a2.csv",
        "kind,subject,deal.external_id.erp,contact.external_id.erp,external_id.erp\ncall,Hi,D2,P2,A1\n",
    );
    db.ok(&["import", &a, "--entity", "activities"]);
    // A company an undo removed is shown by the name its removal kept.
    let moved = db.file("m.csv", "email,company.name\nann@x.com,Gamma\n");
    db.ok(&["import", &moved, "--entity", "contacts"]);
    db.ok(&["undo", "last"]);
    let ann = db.ok(&["history", "ann@x.com"]);
    assert!(ann.contains("\"Gamma (removed)\""), "{ann}");
    let history = db.ok(&["history", "A1"]);
    let deal = history.lines().find(|l| l.contains("deal")).unwrap_or_default();
    assert!(deal.contains("\"Renewal (01") && deal.matches("Renewal (").count() == 2, "{history}");
    let contact = history.lines().find(|l| l.contains("contact")).unwrap_or_default();
    assert!(contact.contains("\"ann@x.com\"") && contact.contains("\"Bob Ray\""), "{history}");
    // A CSV plan names each deal once with its id.
    let back = db.file(
        "a3.csv",
        "kind,subject,deal.external_id.erp,contact.external_id.erp,external_id.erp\ncall,Hi,D1,P2,A1\n",
    );
    let plan = db.path("p.csv");
    db.ok(&["import", &back, "--entity", "activities", "--dry-run", "--plan", plan.to_str().expect("p")]);
    let text = std::fs::read_to_string(&plan).expect("plan");
    let line = text.lines().find(|l| l.contains("\"deal\"")).unwrap_or_default();
    assert!(line.matches("Renewal (01").count() == 2 && !line.contains(") ("), "{text}");
});

on_both!(deals_of_one_name_at_two_companies_are_two_deals, |db| {
    // A renewal per customer: matched by name, a deal at another company
    // than the row's is not the row's, side by side or chunks apart.
    let mut rows = String::from("name,company.name,amount\nRenewal,Acme Inc,100\n");
    for i in 0..1_500 {
        rows.push_str(&format!("Filler {i},Acme Inc,1\n"));
    }
    rows.push_str("Renewal,Globex,200\nRenewal,ACME inc.,150\n");
    let f = db.file("d.csv", &rows);
    let s = db.json(&["import", &f, "--entity", "deals"]);
    assert_eq!((s["inserted"].as_u64(), s["updated"].as_u64()), (Some(1_502), Some(1)), "{s}");
    assert_eq!(
        db.ok(&["export", "--entity", "deals", "--fields", "name,company.name,amount", "--where", "name = 'Renewal'"]),
        "name,company.name,amount\nRenewal,Acme Inc,150\nRenewal,Globex,200\n"
    );
    // The export imports again unchanged, and into an empty store whole.
    let out =
        db.ok(&["export", "--entity", "deals", "--fields", "name,company.name,amount", "--where", "name = 'Renewal'"]);
    let back = db.file("back.csv", &out);
    let s = db.json(&["import", &back, "--entity", "deals"]);
    assert_eq!(s["unchanged"].as_u64(), Some(2), "{s}");
    let other = Db::sqlite();
    let s = other.json(&["import", &back, "--entity", "deals"]);
    assert_eq!(s["inserted"].as_u64(), Some(2), "{s}");
    // Update mode does not make one; --key name moves the deal.
    let g = db.file("g.csv", "name,company.name,amount\nRenewal,Initech,300\n");
    let run = db.run(&["import", &g, "--entity", "deals", "--mode", "update"]);
    assert!(stderr_of(&run).contains("is at another company than the row's"), "{}", stderr_of(&run));
    let run = db.run(&["import", &g, "--entity", "deals", "--key", "name"]);
    assert!(stderr_of(&run).contains("2 records of deals have name \"Renewal\""), "{}", stderr_of(&run));
    // An activity names its deal by name beside its company, as an export
    // writes it: the deal of that name there. Without a company, which is
    // not ours to guess.
    let a = db.file(
        "a.csv",
        "kind,subject,deal.name,company.name\ncall,For Globex,Renewal,Globex\ncall,For Acme,Renewal,ACME Inc.\ncall,Whose,Renewal,\n",
    );
    let run = db.run(&["--json", "import", &a, "--entity", "activities"]);
    assert!(stderr_of(&run).contains("row 4: 2 deals have name \"Renewal\""), "{}", stderr_of(&run));
    let run = db.run(&["export", "--entity", "activities", "--fields", "subject,deal.name,company.name"]);
    let out = String::from_utf8_lossy(&run.stdout).into_owned();
    assert_eq!(out, "subject,deal.name,company.name\nFor Globex,Renewal,Globex\nFor Acme,Renewal,Acme Inc\n");
    assert!(!stderr_of(&run).contains("whose name other deals have too"), "{}", stderr_of(&run));
    // Without the company beside it, `deal.name` cannot tell them: said.
    let said = stderr_of(&db.run(&["export", "--entity", "activities", "--fields", "subject,deal.name"]));
    assert!(said.contains("note: 2 activities link a deal whose name other deals have too"), "{said}");
    let joined = db
        .count("SELECT count(*) FROM activities a JOIN deals d ON d.id = a.deal_id WHERE d.company_id = a.company_id");
    assert_eq!(joined, 2);
    // By the company's id in another system too.
    let ids = db.file("ids.csv", "name,external_id.erp\nGlobex,G-1\n");
    db.ok(&["import", &ids, "--entity", "companies"]);
    let a = db.file("ax.csv", "kind,subject,deal.name,company.external_id.erp\ncall,By id,Renewal,G-1\n");
    let s = db.json(&["import", &a, "--entity", "activities"]);
    assert_eq!(s["inserted"].as_u64(), Some(1), "{s}");
    assert_eq!(
        db.count(
            "SELECT count(*) FROM activities a JOIN deals d ON d.id = a.deal_id JOIN companies c ON c.id = d.company_id \
             WHERE a.subject = 'By id' AND c.name = 'Globex'"
        ),
        1
    );
    // A company given by domain alone picks the deal at it, even beside one
    // at a company without a domain.
    let c = db.file("c.csv", "name,domain\nGlobex,globex.com\n");
    db.ok(&["import", &c, "--entity", "companies"]);
    let n = db.file("n.csv", "name,company.name,amount\nRenewal,Nodomain Ltd,5\n");
    db.ok(&["import", &n, "--entity", "deals"]);
    let by_domain = db.file("bd.csv", "name,company.domain,amount\nRenewal,globex.com,250\n");
    let s = db.json(&["import", &by_domain, "--entity", "deals"]);
    assert_eq!(s["updated"].as_u64(), Some(1), "{s}");
    assert_eq!(db.count("SELECT count(*) FROM deals WHERE name = 'Renewal' AND amount = '250'"), 1);
});

on_both!(a_deals_contacts_listed_by_email_and_by_id_must_agree, |db| {
    // An export lists a deal's contacts both ways; one list edited and not
    // the other would link them all, without a word.
    let c = db.file(
        "c.csv",
        "email,first_name,external_id.erp\nann@acme.com,Ann,P1\n,Bob,P2\ncid@globex.com,Cid,P3\ndee@zeta.com,Dee,P4\n",
    );
    db.ok(&["import", &c, "--entity", "contacts"]);
    let d = db.file(
        "d.csv",
        "name,contacts,contacts.external_id.erp,external_id.erp\n\
         Expansion,ann@acme.com; dee@zeta.com,P4; P1; P2,D3\n",
    );
    let s = db.json(&["import", &d, "--entity", "deals"]);
    assert_eq!(s["inserted"].as_u64(), Some(1), "{s}");
    let edited = db.file(
        "e.csv",
        "name,contacts,contacts.external_id.erp,external_id.erp\n\
         Expansion,dee@zeta.com,P4; P1; P2,D3\n\
         Other,ann@acme.com,P3,D4\n",
    );
    let run = db.run(&["--json", "import", &edited, "--entity", "deals"]);
    let said = stderr_of(&run);
    assert!(said.contains("row 2: the deal's contacts by e-mail and by erp id disagree: ann@acme.com (erp P1) is in contacts.external_id only"), "{said}");
    assert!(said.contains("row 3: the deal's contacts by e-mail and by erp id disagree: ann@acme.com (erp P1) is in contacts only; cid@globex.com (erp P3) is in contacts.external_id only"), "{said}");
    let s: serde_json::Value = serde_json::from_slice(&run.stdout).expect("json");
    assert_eq!(s["rejected"].as_u64(), Some(2), "{s}");
    // Bob, who has no e-mail, is in the id list alone, as an export writes him.
    let out =
        db.ok(&["export", "--entity", "deals", "--fields", "name,contacts,contacts.external_id.erp,external_id.erp"]);
    let back = db.file("back.csv", &out);
    let s = db.json(&["import", &back, "--entity", "deals"]);
    assert_eq!(s["unchanged"].as_u64(), Some(1), "{s}");
});

#[test]
fn a_deals_unknown_contact_id_and_a_missing_name_name_their_columns() {
    let db = Db::sqlite();
    let cm = db.file(
        "c.toml",
        "entity=\"contacts\"\n[key]\nexternal_id = { system = \"erp\", from = \"Id\" }\n[fields]\nemail=\"Email\"\n",
    );
    let c = db.file("c.csv", "Id,Email\nP-3,p3@x.com\n");
    db.ok(&["import", &c, "--mapping", &cm]);
    let dm = db.file(
        "d.toml",
        "entity=\"deals\"\n[key]\nexternal_id = { system = \"erp\", from = \"Id\" }\n[fields]\nname=\"Title\"\n\
         \"contacts.external_id\" = { from = \"People\", split = \"|\" }\n",
    );
    let d = db.file("d.csv", "Id,Title,People\nD-1,Big,P-3|P-99\nD-2,,P-3\n");
    let rejects = db.path("d.rejects.csv");
    let s = db.json(&["import", &d, "--mapping", &dm, "--rejects", rejects.to_str().expect("p")]);
    assert_eq!(s["rejected"].as_u64(), Some(2), "{s}");
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(
        text.contains(",contacts.external_id,\"no contact with erp id \"\"P-99\"\" (column \"\"People\"\")\""),
        "{text}"
    );
    assert!(text.contains(",name,\"`name` is required for a new record of deals (column \"\"Title\"\")\""), "{text}");
}

on_both!(a_mexican_mobile_in_its_old_forms_is_the_same_contact, |db| {
    let m = db.file(
        "mx.toml",
        "entity = \"contacts\"\n[key]\nfields = [\"phone\"]\n[fields]\nfull_name = \"Nombre\"\nphone = { from = \"Teléfono\", type = \"phone\", region = \"MX\" }\n",
    );
    let first = db.file("a.csv", "Nombre,Teléfono\nAna López,+52 1 55 1234 5678\n");
    let s = db.json(&["import", &first, "--mapping", &m]);
    assert_eq!(s["inserted"].as_u64(), Some(1), "{s}");
    // The same mobile as dialled at home before 2019, and as today.
    let again = db.file("b.csv", "Nombre,Teléfono\nAna López,044 55 1234 5678\nAna López,55 1234 5678\n");
    let s = db.json(&["import", &again, "--mapping", &m, "--mode", "upsert"]);
    assert_eq!((s["inserted"].as_u64(), s["unchanged"].as_u64()), (Some(0), Some(2)), "{s}");
    assert_eq!(
        db.ok(&["export", "--entity", "contacts", "--fields", "full_name,phone"]),
        "full_name,phone\nAna López,+525512345678\n"
    );
});

on_both!(amounts_grouped_by_thousands_are_read_and_a_decimal_comma_is_said, |db| {
    let f = db.file(
        "d.csv",
        "name,amount,currency\nE1,\"1,000\",USD\nE2,\"1,000,000\",USD\nE3,\"1,234.50\",USD\nE4,\"1,5\",EUR\n",
    );
    let rejects = db.path("r.csv");
    let s = db.json(&["import", &f, "--entity", "deals", "--rejects", rejects.to_str().expect("p")]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(3), Some(1)), "{s}");
    let r = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(r.contains("for a decimal comma, 1,5, the field's `decimal_separator = "), "{r}");
    assert_eq!(
        db.ok(&["export", "--entity", "deals", "--fields", "name,amount", "--where", "amount >= '1,000'"]),
        "name,amount\nE1,1000\nE2,1000000\nE3,1234.50\n"
    );
    // What the message names is the mapping's key that reads it.
    let m = db.file(
        "m.toml",
        "entity = \"deals\"\n[fields]\nname = \"name\"\ncurrency = \"currency\"\n\
         amount = { from = \"amount\", type = \"decimal\", decimal_separator = \",\" }\n",
    );
    let e4 = db.file("e4.csv", "name,amount,currency\nE4,\"1,5\",EUR\nE5,\"1.234,56 €\",EUR\n");
    db.ok(&["import", &e4, "--mapping", &m]);
    assert_eq!(
        db.ok(&["export", "--entity", "deals", "--fields", "name,amount", "--where", "name in ('E4', 'E5')"]),
        "name,amount\nE4,1.5\nE5,1234.56\n"
    );
    // A currency sign a sheet's format shows is no part of the amount.
    let e6 = db.file("e6.csv", "name,amount,currency\nE6,\"$12,500.50\",USD\nE7,-£5,GBP\n");
    db.ok(&["import", &e6, "--entity", "deals"]);
    assert_eq!(
        db.ok(&["export", "--entity", "deals", "--fields", "name,amount", "--where", "name in ('E6', 'E7')"]),
        "name,amount\nE6,12500.50\nE7,-5\n"
    );
});

on_both!(a_plan_shows_tags_as_lists_not_json_text, |db| {
    let f = db.file("t.csv", "email,tags\na@x.com,\"\"\"Sales, EMEA\"\"; vip\"\n");
    db.json(&["import", &f, "--entity", "contacts"]);
    let f = db.file("t2.csv", "email,tags\na@x.com,vip\n");
    let csv = db.path("plan.csv");
    let ndjson = db.path("plan.ndjson");
    for plan in [&csv, &ndjson] {
        db.json(&["import", &f, "--entity", "contacts", "--dry-run", "--plan", plan.to_str().expect("path")]);
    }
    let csv = std::fs::read_to_string(csv).expect("plan");
    assert!(csv.contains(r#","tags","""Sales, EMEA""; vip","vip""#), "{csv}");
    let line: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(ndjson).expect("plan").trim()).expect("json");
    assert_eq!(line["changes"][0]["before"], serde_json::json!(["Sales, EMEA", "vip"]), "{line}");
    assert_eq!(line["changes"][0]["after"], serde_json::json!(["vip"]), "{line}");
    // So does history, once written.
    db.json(&["import", &f, "--entity", "contacts"]);
    let history = db.ok(&["history", "a@x.com"]);
    assert!(history.contains(r#"tags: "\"Sales, EMEA\"; vip" → "vip""#), "{history}");
});

on_both!(a_row_s_id_holds_for_rows_however_far_before_it, |db| {
    let f = db.file("one.csv", "name\nZeta\n");
    db.json(&["import", &f, "--entity", "companies"]);
    let stored = db.scalar("SELECT id FROM companies").expect("id");
    // Another store's Zeta first, the stored one named by its id 3,000 rows on.
    let filler: String = (0..3000).map(|i| format!(",Co{i}\n")).collect();
    let f = db.file("far.csv", &format!("id,name\n01M87K1M1HB19DFPKG44A4SDDQ,Zeta\n{filler}{stored},Zeta\n"));
    let s = db.json(&["import", &f, "--entity", "companies"]);
    assert_eq!(s["inserted"].as_u64(), Some(3001), "{s}");
    assert_eq!(db.count("SELECT count(*) FROM companies WHERE name = 'Zeta'"), 2);
    assert_eq!(db.count("SELECT count(*) FROM companies WHERE id = '01M87K1M1HB19DFPKG44A4SDDQ'"), 1);
    // In update mode, a row whose key finds only others' records is told so.
    let other = Db::sqlite();
    other.json(&["import", &db.file("one2.csv", "name\nZeta\n"), "--entity", "companies"]);
    let f = other.file(
        "two.csv",
        "id,name,phone\n01M87K1M1HB19DFPKG44A4SDD1,Zeta,+12125550111\n01M87K1M1HB19DFPKG44A4SDD2,Zeta,+12125550112\n",
    );
    let err = stderr_of(&other.run(&["import", &f, "--entity", "companies", "--mode", "update"]));
    assert!(err.contains("each company with name \"zeta\" is another row's of the file"), "{err}");
    assert!(err.contains("1 updated, 0 unchanged, 1 rejected"), "{err}");
});

on_both!(a_number_without_its_country_code_is_read_in_the_rows_country, |db| {
    // No mapping: the file names the store's fields. A number written as
    // its country writes it is read there, as `region_from` would read it.
    let f = db.file(
        "p.csv",
        "email,phone,mobile,address.country\n\
         a@x.com,(415) 555-0132,,US\n\
         b@x.com,030 1234567,0151 23456789,Germany\n\
         c@x.com,tel:+1-415-555-0133,,\n\
         d@x.com,(415) 555-0132,,\n\
         e@x.com,12,,DE\n",
    );
    db.ok(&["import", &f, "--entity", "contacts"]);
    let out = db.ok(&["export", "--entity", "contacts", "--fields", "email,phone,mobile"]);
    assert_eq!(
        out,
        "email,phone,mobile\n\
         a@x.com,+14155550132,\n\
         b@x.com,+49301234567,+4915123456789\n\
         c@x.com,+14155550133,\n\
         d@x.com,(415) 555-0132,\n\
         e@x.com,12,\n",
        "a row without a country, or a number that is none there, keeps it as written"
    );
    // The same file again: all unchanged.
    let s = db.json(&["import", &f, "--entity", "contacts"]);
    assert_eq!(s["unchanged"].as_u64(), Some(5), "{s}");
    // A file without countries is read in each record's: the same numbers,
    // unchanged; another number, read there too.
    let g = db.file("g.csv", "email,phone\na@x.com,415.555.0132\nb@x.com,030 7654321\nd@x.com,(415) 555-0132\n");
    let s = db.json(&["import", &g, "--entity", "contacts"]);
    assert_eq!((s["unchanged"].as_u64(), s["updated"].as_u64()), (Some(2), Some(1)), "{s}");
    let out = db.ok(&[
        "export",
        "--entity",
        "contacts",
        "--fields",
        "email,phone",
        "--where",
        "email in ('b@x.com', 'd@x.com')",
    ]);
    assert_eq!(out, "email,phone\nb@x.com,+49307654321\nd@x.com,(415) 555-0132\n");
    // A row that clears the country (`--clear-empty`) gives no country to
    // read its number in.
    let k = db.file("k.csv", "email,phone,address.country\nb@x.com,030 1111111,\n");
    db.ok(&["import", &k, "--entity", "contacts", "--clear-empty"]);
    let out =
        db.ok(&["export", "--entity", "contacts", "--fields", "phone,address.country", "--where", "email = 'b@x.com'"]);
    assert_eq!(out, "phone,address.country\n030 1111111,\n");
    // A number in use in no country the row or record gives is kept as
    // written, not made one of that country (a London number in Ireland).
    let h = db.file("h.csv", "email,phone,address.country\ni@x.com,020 7946 0958,IE\n");
    db.ok(&["import", &h, "--entity", "contacts"]);
    let out = db.ok(&["export", "--entity", "contacts", "--fields", "phone", "--where", "email = 'i@x.com'"]);
    assert_eq!(out, "phone\n020 7946 0958\n");
    // A record given the country it lacked: its number kept as written is
    // read there now, and found as any other. One that gives the country
    // again changes nothing.
    let c = db.file("c.csv", "email,address.country\nd@x.com,US\ni@x.com,IE\n");
    let s = db.json(&["import", &c, "--entity", "contacts"]);
    assert_eq!((s["updated"].as_u64(), s["unchanged"].as_u64()), (Some(1), Some(1)), "{s}");
    let out =
        db.ok(&["export", "--entity", "contacts", "--fields", "email,phone", "--where", "phone = '+14155550132'"]);
    assert_eq!(out, "email,phone\na@x.com,+14155550132\nd@x.com,+14155550132\n");
    let h = db.file("h2.csv", "email,address.country\ni@x.com,GB\n");
    db.ok(&["import", &h, "--entity", "contacts"]);
    let out = db.ok(&["export", "--entity", "contacts", "--fields", "phone", "--where", "email = 'i@x.com'"]);
    assert_eq!(out, "phone\n+442079460958\n", "the London number, once its record is in Britain");
});

#[test]
fn a_number_dialled_abroad_from_the_rows_country_is_the_number_dialled() {
    let db = Db::sqlite();
    let f = db.file(
        "p.csv",
        "email,phone,address.country\n\
         a@x.com,011 44 20 7946 0958,US\n\
         b@x.com,0011 44 20 7946 0958,Australia\n\
         c@x.com,010-86-138-0013-8000,JP\n\
         d@x.com,011-211-2345,JP\n",
    );
    db.ok(&["import", &f, "--entity", "contacts"]);
    let out = db.ok(&["export", "--entity", "contacts", "--fields", "email,phone"]);
    assert_eq!(
        out,
        "email,phone\na@x.com,+442079460958\nb@x.com,+442079460958\nc@x.com,+8613800138000\nd@x.com,+81112112345\n",
        "the prefixes North America, Australia and Japan dial out with; Sapporo's area 011 is no prefix in Japan"
    );
    // The mapping's phone type reads them so too.
    let m = db.file("m.toml", "entity = \"contacts\"\n[fields]\nemail = \"email\"\nphone = { from = \"phone\", type = \"phone\", region = \"US\" }\n");
    let g = db.file("g.csv", "email,phone\ne@x.com,011 49 30 1234567\n");
    db.ok(&["import", &g, "--mapping", &m]);
    let out = db.ok(&["export", "--entity", "contacts", "--fields", "phone", "--where", "email = 'e@x.com'"]);
    assert_eq!(out, "phone\n+49301234567\n");
}

on_both!(a_mappings_unique_field_is_unique_across_the_store, |db| {
    let m = db.file(
        "m.toml",
        "entity = \"contacts\"\n[fields]\nemail = { from = \"Email\", type = \"email\", unique = true }\n\
         \"custom.member\" = { from = \"Member\", type = \"integer\", unique = true }\nfirst_name = \"Name\"\n",
    );
    let f = db.file("a.csv", "Email,Member,Name\na@x.com,100,Ann\nb@x.com,101,Bob\n");
    db.ok(&["import", &f, "--mapping", &m]);
    // Another file: a new contact with a member number Ann has.
    let g = db.file("b.csv", "Email,Member,Name\nd@x.com,100,Dan\nb@x.com,101,Bobby\n");
    let s = db.json(&["import", &g, "--mapping", &m]);
    assert_eq!(
        (s["inserted"].as_u64(), s["updated"].as_u64(), s["rejected"].as_u64()),
        (Some(0), Some(1), Some(1)),
        "{s}"
    );
    let err = stderr_of(&db.run(&["import", &g, "--mapping", &m]));
    assert!(
        err.contains("row 2: custom.member \"100\" is taken by ") && err.contains("(custom.member is unique)"),
        "{err}"
    );
    // Matched by member number, a row may not take another's e-mail, in
    // any case.
    let h = db.file("c.csv", "Email,Member,Name\nB@X.COM,100,Ann\n");
    let err = stderr_of(&db.run(&["import", &h, "--mapping", &m, "--key", "custom.member"]));
    assert!(err.contains("email \"b@x.com\" is taken by ") && err.contains("1 rejected"), "{err}");
    // A value given up in one row is free for a later one.
    let k = db.file("d.csv", "Email,Member,Name\na@x.com,300,Ann\nd@x.com,100,Dan\n");
    let s = db.json(&["import", &k, "--mapping", &m]);
    assert_eq!(
        (s["inserted"].as_u64(), s["updated"].as_u64(), s["rejected"].as_u64()),
        (Some(1), Some(1), Some(0)),
        "{s}"
    );
});

on_both!(a_key_number_without_its_country_code_finds_the_number_stored_with_it, |db| {
    // Utrecht and Berlin write `030 1234567` alike.
    let f = db.file(
        "p.csv",
        "email,phone,address.country\n\
         a@x.com,(415) 555-0132,US\n\
         b@x.com,020 7946 0958,GB\n\
         c@x.com,030 1234567,NL\n\
         d@x.com,030 1234567,DE\n\
         e@x.com,0800 123,\n",
    );
    db.ok(&["import", &f, "--entity", "contacts"]);
    // An update file of numbers as written at home, without countries.
    let g = db.file(
        "g.csv",
        "phone,last_name\n\
         (415) 555-0132,Smith\n\
         +1 415 555 0132,Smyth\n\
         020 7946 0958,Brown\n\
         0800 123,Stored as written\n\
         030 1234567,Which\n\
         (415) 555-0199,Nobody\n",
    );
    let out = db.run(&["import", &g, "--entity", "contacts", "--key", "phone", "--mode", "update"]);
    let err = stderr_of(&out);
    assert!(err.contains("4 updated, 0 unchanged, 2 rejected"), "{err}");
    assert!(
        err.contains(
            "phone \"030 1234567\" has no country code and the row no country, and the store has it in several \
             countries: +31301234567 ("
        ) && err.contains("+49301234567 ("),
        "{err}"
    );
    assert!(err.contains("no contacts with phone \"(415) 555-0199\""), "{err}");
    let out = db.ok(&["export", "--entity", "contacts", "--fields", "email,phone,last_name"]);
    assert_eq!(
        out,
        "email,phone,last_name\n\
         a@x.com,+14155550132,Smyth\n\
         b@x.com,+442079460958,Brown\n\
         c@x.com,+31301234567,\n\
         d@x.com,+49301234567,\n\
         e@x.com,0800 123,Stored as written\n",
        "each number found as the store holds it; the two rows of one number, one after the other"
    );
    // The row's own country says which: the Dutch number.
    let h = db.file("h.csv", "phone,address.country,last_name\n030 1234567,NL,Visser\n");
    let s = db.json(&["import", &h, "--entity", "contacts", "--key", "phone", "--mode", "update"]);
    assert_eq!(s["updated"].as_u64(), Some(1), "{s}");
    let out = db.ok(&["export", "--entity", "contacts", "--fields", "email", "--where", "last_name = 'Visser'"]);
    assert_eq!(out, "email\nc@x.com\n");
    // Upsert of a number the store has in no reading: a new record, the
    // number kept as written.
    let k = db.file("k.csv", "phone,last_name\n(415) 555-0132,Smyth\n(212) 555-0143,New\n");
    let s = db.json(&["import", &k, "--entity", "contacts", "--key", "phone"]);
    assert_eq!((s["unchanged"].as_u64(), s["inserted"].as_u64()), (Some(1), Some(1)), "{s}");
    let out = db.ok(&["export", "--entity", "contacts", "--fields", "phone", "--where", "last_name = 'New'"]);
    assert_eq!(out, "phone\n(212) 555-0143\n");
});

#[test]
fn a_mapped_phone_without_region_is_read_in_the_rows_mapped_country() {
    let db = Db::sqlite();
    let f = db.file(
        "p.csv",
        "Mail,Tel,Land\na@x.com,(415) 555-0132,US\nb@x.com,030 1234567,Deutschland\nc@x.com,030 1234567,\n",
    );
    let m = db.file(
        "m.toml",
        "entity = \"contacts\"\n[fields]\nemail = \"Mail\"\nphone = { from = \"Tel\", type = \"phone\" }\n\"address.country\" = \"Land\"\n",
    );
    let out = db.run(&["import", &f, "--mapping", &m]);
    let err = stderr_of(&out);
    assert!(err.contains("1 rejected") || err.contains("rejected: 1"), "{err}");
    let out = db.ok(&["export", "--entity", "contacts", "--fields", "email,phone"]);
    assert_eq!(out, "email,phone\na@x.com,+14155550132\nb@x.com,+49301234567\n");
    // The row without a country says what would read its number.
    let rejects = db.run(&["-v", "import", &f, "--mapping", &m]);
    assert!(stderr_of(&rejects).contains("`region_from` a country column"), "{}", stderr_of(&rejects));
    // A country's default is where a row without one is.
    let d = db.file(
        "d.toml",
        "entity = \"contacts\"\n[fields]\nemail = \"Mail\"\nphone = { from = \"Tel\", type = \"phone\" }\n\
         \"address.country\" = { from = \"Land\", default = \"DE\" }\n",
    );
    db.ok(&["import", &f, "--mapping", &d]);
    let out = db.ok(&[
        "export",
        "--entity",
        "contacts",
        "--fields",
        "email,phone,address.country",
        "--where",
        "email = 'c@x.com'",
    ]);
    assert_eq!(out, "email,phone,address.country\nc@x.com,+49301234567,DE\n");
}

#[test]
fn columns_a_mapping_does_not_read_are_named() {
    let db = Db::sqlite();
    let f = db.file("u.csv", "Email,First Name,Phone Number,Job Title\na@x.com,Ann,+1 212 555 0143,CEO\n");
    let m = db.file("m.toml", "entity = \"contacts\"\n[fields]\nemail = \"Email\"\nfirst_name = \"First Name\"\n");
    let out = db.run(&["import", &f, "--mapping", &m]);
    let err = stderr_of(&out);
    assert!(
        err.contains("note: 2 columns of ")
            && err.contains("not read by ")
            && err.contains(": \"Phone Number\", \"Job Title\"\n"),
        "{err}"
    );
    let s = db.json(&["import", &f, "--mapping", &m]);
    assert_eq!(s["unmapped_columns"], serde_json::json!(["Phone Number", "Job Title"]), "{s}");
    // A mapping that reads them all says nothing.
    let all = db.file(
        "all.toml",
        "entity = \"contacts\"\n[fields]\nemail = \"Email\"\nfirst_name = \"First Name\"\nphone = \"Phone Number\"\ntitle = \"Job Title\"\n",
    );
    let err = stderr_of(&db.run(&["import", &f, "--mapping", &all]));
    assert!(!err.contains("not read by"), "{err}");
}

#[test]
fn fields_a_mapping_does_not_read_are_named_in_files_without_a_header() {
    // NDJSON and XML have no header to compare with the mapping: the
    // records' own fields are, those the mapping reads nothing inside
    // named whole (Salesforce's `attributes`), the rest by their paths.
    let db = Db::sqlite();
    let m = db.file("m.toml", "entity = \"contacts\"\n[fields]\nemail = \"email\"\n\"address.city\" = \"addr.city\"\n");
    let f = db.file(
        "u.ndjson",
        "{\"email\":\"a@x.com\",\"Extra\":\"k\",\"addr\":{\"city\":\"Oslo\",\"zip\":\"0150\"},\"attributes\":{\"type\":\"Contact\"},\"gone\":null}\n\
         {\"email\":\"b@x.com\",\"Later\":1}\n",
    );
    let out = db.run(&["import", &f, "--mapping", &m]);
    let err = stderr_of(&out);
    assert!(
        err.contains("note: 4 fields of ")
            && err.contains("are not read by ")
            && err.contains(": \"Extra\", \"addr.zip\", \"attributes\", \"Later\"\n"),
        "{err}"
    );
    let s = db.json(&["import", &f, "--mapping", &m]);
    assert_eq!(s["unmapped_columns"], serde_json::json!(["Extra", "addr.zip", "attributes", "Later"]), "{s}");
    let x = db.file(
        "u.xml",
        "<contacts><contact><email>c@x.com</email><addr><city>Rome</city></addr><Fax>1</Fax></contact></contacts>",
    );
    let s = db.json(&["import", &x, "--mapping", &m]);
    assert_eq!(s["unmapped_columns"], serde_json::json!(["Fax"]), "{s}");
    // A list the mapping reads an item of: the other items.
    let t = db.file("t.toml", "entity = \"contacts\"\n[fields]\nemail = \"email\"\n\"custom.t0\" = \"tags.0\"\n");
    let g = db.file("t.ndjson", "{\"email\":\"t@x.com\",\"tags\":[\"a\",\"b\"]}\n");
    let s = db.json(&["import", &g, "--mapping", &t]);
    assert_eq!(s["unmapped_columns"], serde_json::json!(["tags.1"]), "{s}");
}

#[test]
fn a_csv_rejects_file_of_json_records_ends_with_its_own_columns() {
    // Records without a header bring their fields one by one: `_row`,
    // `_field` and `_error` come last, as in a CSV source's, not between
    // the first record's fields and a later one's; mended, it imports.
    let db = Db::sqlite();
    let f = db.file("j.json", "[{\"email\":\"bad1\",\"first_name\":\"A\"},{\"email\":\"bad2\",\"last_name\":\"B\"}]");
    let rejects = db.path("jrej.csv");
    let r = rejects.to_str().expect("p");
    db.json(&["import", &f, "--entity", "contacts", "--rejects", r]);
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(text.starts_with("email,first_name,last_name,_row,_field,_error\nbad1,A,,1,email,"), "{text}");
    std::fs::write(&rejects, text.replace("bad1", "a@x.com").replace("bad2", "b@x.com")).expect("mend");
    let s = db.json(&["import", r, "--entity", "contacts"]);
    assert_eq!(s["inserted"].as_u64(), Some(2), "{s}");
}

on_both!(a_custom_value_read_as_text_or_typed_is_one_value, |db| {
    // A CSV's `TRUE` and `12.50` are text; an NDJSON file's (or a
    // workbook's) `true` and `12.5` are typed. Either way round, the same
    // value is unchanged and keeps the spelling stored first.
    let csv = db.file("v.csv", "email,custom.vip,custom.n\na@x.com,TRUE,12.50\n");
    let json = db.file("v.ndjson", "{\"email\":\"a@x.com\",\"custom\":{\"vip\":true,\"n\":12.5}}\n");
    db.ok(&["import", &csv, "--entity", "contacts"]);
    let s = db.json(&["import", &json, "--entity", "contacts"]);
    assert_eq!(s["unchanged"].as_u64(), Some(1), "text stored, typed given: {s}");
    db.exec("DELETE FROM contacts");
    db.ok(&["import", &json, "--entity", "contacts"]);
    let s = db.json(&["import", &csv, "--entity", "contacts"]);
    assert_eq!(s["unchanged"].as_u64(), Some(1), "typed stored, text given: {s}");
    let out = db.ok(&["export", "--entity", "contacts", "--fields", "custom.vip,custom.n", "--format", "ndjson"]);
    assert_eq!(out, "{\"custom\":{\"vip\":true,\"n\":12.5}}\n");
    // A list from JSON, exported to a flat file as one cell, imports back
    // unchanged, a list still.
    let l = db.file(
        "l.ndjson",
        "{\"email\":\"l@x.com\",\"custom\":{\"codes\":[\"A1\",\"B 2\"],\"one\":[\"x\"],\"nums\":[1,2],\"m\":[1,\"a\",true]}}\n",
    );
    db.ok(&["import", &l, "--entity", "contacts"]);
    for ext in ["csv", "xlsx", "xml"] {
        let out = db.path(&format!("l.{ext}"));
        let o = out.to_str().expect("p");
        db.ok(&["export", "--entity", "contacts", "--where", "email = 'l@x.com'", "-o", o]);
        let s = db.json(&["import", o, "--entity", "contacts"]);
        assert_eq!(s["unchanged"].as_u64(), Some(1), "{ext}: {s}");
    }
    let out = db.ok(&[
        "export",
        "--entity",
        "contacts",
        "--where",
        "email = 'l@x.com'",
        "--fields",
        "custom.codes,custom.one",
        "--format",
        "ndjson",
    ]);
    assert_eq!(out, "{\"custom\":{\"codes\":[\"A1\",\"B 2\"],\"one\":[\"x\"]}}\n");
});

#[test]
fn a_date_field_given_a_time_of_day_says_it_keeps_the_day_alone() {
    let db = Db::sqlite();
    // (The rejected row's value counts for nothing.)
    let f = db.file(
        "dt.csv",
        "email,close\na@x.com,2024-03-05 14:30\nb@x.com,2024-03-06\nc@x.com,2024-03-07T00:00:00Z\nbad,2024-03-08 09:00\n",
    );
    let m = db.file(
        "dt.toml",
        "entity = \"contacts\"\n[fields]\nemail = { from = \"email\", type = \"email\" }\n\
         \"custom.close\" = { from = \"close\", type = \"date\" }\n",
    );
    let out = db.run(&["import", &f, "--mapping", &m]);
    let err = stderr_of(&out);
    assert!(
        err.contains("note: 1 value of custom.close had a time of day, which a date keeps no part of (e.g. \"2024-03-05 14:30\", read as its day)"),
        "{err}"
    );
    assert_eq!(
        db.scalar("SELECT json_extract(custom, '$.close') FROM contacts WHERE email = 'a@x.com'").as_deref(),
        Some("2024-03-05")
    );
    db.exec("DELETE FROM contacts");
    let s = db.json(&["import", &f, "--mapping", &m]);
    assert_eq!(
        s["times_dropped"],
        serde_json::json!([{"field": "custom.close", "values": 1, "example": "2024-03-05 14:30"}]),
        "{s}"
    );
    // Midnight, or a date alone, is no time lost.
    let g = db.file("d.csv", "email,close\nd@x.com,2024-03-06\ne@x.com,2024-03-07 00:00:00\n");
    let err = stderr_of(&db.run(&["import", &g, "--mapping", &m]));
    assert!(!err.contains("time of day"), "{err}");
    // A declared date field, which the store reads, says so too.
    let other = Db::sqlite();
    let decl = other.file("cf.toml", "[contacts.born]\ntype = \"date\"\n");
    other.ok(&["init", "--custom", &decl]);
    let h =
        other.file("b.csv", "email,custom.born\na@x.com,2024-03-05 14:30\nb@x.com,2024-03-06\nbad,2024-03-07 10:00\n");
    let s = other.json(&["import", &h, "--entity", "contacts"]);
    assert_eq!(
        s["times_dropped"],
        serde_json::json!([{"field": "custom.born", "values": 1, "example": "2024-03-05 14:30"}]),
        "{s}"
    );
}

on_both!(spaces_around_a_text_value_are_no_part_of_it, |db| {
    let f = db.file("s.csv", "email,first_name,last_name,title\na@x.com,  Ann  ,Lee,\tCEO\n");
    db.ok(&["import", &f, "--entity", "contacts"]);
    let out = db.ok(&["export", "--entity", "contacts", "--fields", "first_name,last_name,title"]);
    assert_eq!(out, "first_name,last_name,title\nAnn,Lee,CEO\n");
    // Keyed by names, a padded row is the same record.
    let g = db.file("g.csv", "first_name,last_name,title\nAnn ,\" Lee\",CEO\n");
    let s = db.json(&["import", &g, "--entity", "contacts", "--key", "first_name,last_name"]);
    assert_eq!((s["unchanged"].as_u64(), s["inserted"].as_u64()), (Some(1), Some(0)), "{s}");
    let r = db.json(&["report", "quality", "--entity", "contacts"]);
    let invalid: u64 = r["fields"].as_array().expect("fields").iter().filter_map(|f| f["invalid"].as_u64()).sum();
    assert_eq!(invalid, 0, "{r}");
});

#[test]
fn a_mapping_that_does_not_fit_a_workbooks_first_sheet_names_the_others() {
    let db = Db::sqlite();
    // A `Cover` sheet, then `Contacts`.
    let book = testdata("spreadsheets/contacts.ods");
    let m = db
        .file("m.toml", "entity = \"contacts\"\n[fields]\nfirst_name = \"Name\"\n\"address.postal_code\" = \"Zip\"\n");
    let err = stderr_of(&db.run(&["import", book.to_str().expect("p"), "--mapping", &m]));
    assert!(
        err.contains("(read from sheet \"Cover\"; the workbook's sheets are \"Cover\", \"Contacts\": name the one with the records with --sheet)"),
        "{err}"
    );
    let s = db.json(&["import", book.to_str().expect("p"), "--mapping", &m, "--sheet", "Contacts"]);
    assert_eq!(s["inserted"].as_u64(), Some(2), "{s}");
    // A column letter is no near miss for a name.
    let f = db.file("l.csv", "A,B\nx,y\n");
    let e = db.file("e.toml", "entity = \"contacts\"\n[fields]\nemail = \"Email\"\n");
    let err = stderr_of(&db.run(&["import", &f, "--mapping", &e]));
    assert!(
        err.contains("reads column \"Email\", which the file does not have;") && !err.contains("did you mean"),
        "{err}"
    );
}

on_both!(rows_rejected_and_kept_nowhere_are_said_even_quiet, |db| {
    // `-q` silences progress, not lost rows: without --rejects, each run
    // says how many rows it kept nowhere; a --max-errors stop says where
    // the rejected rows are, or that they are nowhere.
    let f = db.file("q.csv", "email\nok@x.com\nbad\nworse\nfine@x.com\n");
    let out = db.run(&["import", &f, "--entity", "contacts", "-q"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let said = stderr_of(&out);
    assert!(said.contains("2 rows of") && said.contains("rejected and kept nowhere; use --rejects FILE"), "{said}");
    let c = db.file("c.csv", "email\nok@x.com\nbad\n");
    let typed = db.file("t.toml", "entity = \"contacts\"\n[fields]\nemail = { from = \"email\", type = \"email\" }\n");
    let o = db.path("o.ndjson");
    let out =
        crmsync().args(["convert", &c, o.to_str().expect("p"), "--mapping", &typed, "-q"]).output().expect("runs");
    assert!(stderr_of(&out).contains("1 row of"), "{}", stderr_of(&out));
    let m = db.file("m.csv", "email\nm1@x.com\nbad\nm2@x.com\n");
    let err = stderr_of(&db.run(&["import", &m, "--entity", "contacts", "--max-errors", "1"]));
    assert!(err.contains("the rejected ones said above, kept nowhere (--rejects FILE keeps them)"), "{err}");
    let r = db.path("m.rejects.csv");
    let err = stderr_of(&db.run(&[
        "import",
        &m,
        "--entity",
        "contacts",
        "--max-errors",
        "1",
        "--rejects",
        r.to_str().expect("p"),
    ]));
    assert!(err.contains(&format!("the rejected ones in {}", r.display())), "{err}");
});

on_both!(spaces_around_a_custom_text_are_not_stored, |db| {
    // As of a standard field: `  padded  ` is `padded`, in a list too.
    let f = db.file("s.csv", "email,custom.k,first_name\na@x.com,\"  padded  \",\"  Ann  \"\n");
    db.ok(&["import", &f, "--entity", "contacts"]);
    let j = db.file("s.ndjson", "{\"email\":\"b@x.com\",\"custom\":{\"k\":\" j \",\"l\":[\" x \",\"y\"]}}\n");
    db.ok(&["import", &j, "--entity", "contacts"]);
    let out = db.ok(&["export", "--entity", "contacts", "--fields", "email,first_name,custom.k,custom.l"]);
    assert_eq!(out, "email,first_name,custom.k,custom.l\na@x.com,Ann,padded,\nb@x.com,,j,x; y\n");
    let r = db.json(&["report", "quality", "--entity", "contacts"]);
    let k = r["fields"].as_array().and_then(|f| f.iter().find(|f| f["field"] == "custom.k")).expect("custom.k");
    assert_eq!(k["invalid"].as_u64(), Some(0), "{k}");
    let s = db.json(&["import", &j, "--entity", "contacts"]);
    assert_eq!(s["unchanged"].as_u64(), Some(1), "{s}");
});
