//! `crmsync batches` and `crmsync undo`.

use super::db::Db;
use super::*;
use crate::on_both;

/// Links to records that do not exist (crmsync keeps links itself; the
/// database does not enforce them).
const DANGLING: &str = "SELECT count(*) FROM contacts c WHERE c.company_id IS NOT NULL \
     AND NOT EXISTS (SELECT 1 FROM companies o WHERE o.id = c.company_id)";

on_both!(undo_reverts_inserts_updates_and_links, |db| {
    let first = db.import("contacts_v1.csv", "contacts.toml", &[]);
    let before = db.ok(&["export", "--entity", "contacts"]);
    let second = db.import("contacts_v2.csv", "contacts.toml", &[]);
    let deals = db.import("deals.csv", "deals.toml", &[]);
    let list = db.json(&["batches"]);
    assert_eq!(list.as_array().map(Vec::len), Some(3));
    assert_eq!(list[0]["batch"], deals["batch"], "newest first");
    assert_eq!(list[2]["inserted"], 3);

    let u = db.json(&["undo", deals["batch"].as_str().expect("id")]);
    assert_eq!(u["removed"].as_u64(), Some(2), "{u}");
    assert_eq!(db.count("SELECT count(*) FROM deals"), 0);
    assert_eq!(db.count("SELECT count(*) FROM deal_contacts"), 0);
    assert_eq!(db.count("SELECT count(*) FROM external_ids"), 0);

    let u = db.json(&["undo", second["batch"].as_str().expect("id")]);
    assert_eq!(
        (u["removed"].as_u64(), u["restored"].as_u64()),
        (Some(2), Some(1)),
        "Katherine and Langley go, Ada is restored: {u}"
    );
    assert_eq!(db.ok(&["export", "--entity", "contacts"]), before, "the store is as it was before the batch");
    assert_eq!(db.count(DANGLING), 0);
    let out = db.run(&["undo", second["batch"].as_str().expect("id")]);
    assert!(stderr_of(&out).contains("undone already"), "{}", stderr_of(&out));

    let list = db.json(&["batches"]);
    let statuses: Vec<&str> = list.as_array().expect("list").iter().filter_map(|b| b["status"].as_str()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == "undone").count(), 2, "{list}");
    // An undo's row says what it removed and restored; it read no rows.
    assert_eq!(list[0]["mode"], "undo", "{list}");
    assert_eq!(
        (&list[0]["removed"], &list[0]["restored"], &list[0]["rows_read"], &list[0]["updated"]),
        (&2.into(), &1.into(), &0.into(), &0.into()),
        "{list}"
    );
    assert!(list[2].get("removed").is_none(), "an import's row has no such keys: {list}");
    let table = db.ok(&["batches"]);
    let undo_row = table.lines().nth(1).unwrap_or_default();
    assert!(undo_row.contains(": 2 records removed, 1 restored") && undo_row.contains(" -  "), "{table}");
    let history = db.ok(&["history", "ada@example.com"]);
    assert!(history.contains("undo address.city: \"Paris\" → \"London\""), "{history}");
    let first = first["batch"].as_str().expect("id");
    assert!(history.lines().nth(1).is_some_and(|l| l.contains(&format!("created  batch {first}"))), "{history}");
    // Records the undo removed keep their creation, now in the audit trail.
    let second = second["batch"].as_str().expect("id");
    assert_eq!(db.count(&format!("SELECT count(*) FROM audit WHERE op = 'insert' AND batch_id = '{second}'")), 2);
    assert_eq!(db.count("SELECT count(*) FROM audit WHERE op = 'insert'"), 4, "the two deals and these two, no others");
    // And are found by e-mail, though gone.
    let gone = db.ok(&["history", "Katherine@Example.com"]);
    assert!(gone.contains(&format!("created  batch {second}")) && gone.contains("removed"), "{gone}");
    let gone = db.ok(&["history", "LANGLEY, Inc."]);
    assert!(gone.starts_with("companies ") && gone.contains("removed"), "{gone}");
});

on_both!(undo_refuses_when_records_changed_later_unless_forced, |db| {
    let first = db.import("contacts_v1.csv", "contacts.toml", &[]);
    let second = db.import("contacts_v2.csv", "contacts.toml", &[]);
    // Later batches that touched none of its records are not named: one
    // of other contacts, one that changed nothing.
    let other = db.json(&["import", &db.file("o.csv", "email\nother@x.com\n"), "--entity", "contacts"]);
    db.ok(&["import", &db.file("o.csv", "email\nother@x.com\n"), "--entity", "contacts"]);
    let id = first["batch"].as_str().expect("id");
    let out = db.run(&["undo", id]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.contains("cannot be undone cleanly") && err.contains("ada@example.com") && err.contains("--force"),
        "{err}"
    );
    // It names the later import to undo first.
    let later = second["batch"].as_str().expect("id");
    assert!(err.contains(&format!("Undo the later imports first (latest first: {later}), or use --force")), "{err}");
    assert!(!err.contains(other["batch"].as_str().expect("id")), "{err}");
    assert_eq!(db.count("SELECT count(*) FROM contacts"), 5, "nothing changed");
    // A prefix of the id is enough.
    let u = db.json(&["undo", &id[..20], "--force"]);
    assert_eq!(u["removed"].as_u64(), Some(5), "3 contacts and 2 companies: {u}");
    assert_eq!(
        db.count("SELECT count(*) FROM contacts"),
        2,
        "only Katherine, from the later batch, and the other stay"
    );
    assert_eq!(db.count("SELECT count(*) FROM contacts WHERE company_id IS NOT NULL"), 1);
    assert_eq!(db.count(DANGLING), 0, "links to removed records are cleared");
    // No record has a tier any more: the export has no column for it.
    assert_eq!(db.count("SELECT count(*) FROM custom_keys WHERE name = 'tier'"), 1, "still listed");
    let export = db.ok(&["export", "--entity", "contacts"]);
    let header = export.lines().next().unwrap_or_default();
    assert!(header.starts_with("first_name,") && !header.contains("custom.tier"), "{header}");
});

on_both!(undo_refuses_where_a_forced_undo_of_an_earlier_batch_wrote_over_its_values, |db| {
    let import = |name: &str, text: &str| {
        let f = db.file(name, text);
        db.json(&["import", &f, "--entity", "contacts"])["batch"].as_str().expect("batch").to_string()
    };
    import("f0.csv", "email,title,notes\na@x.com,A,n0\n");
    let f1 = import("f1.csv", "email,title\na@x.com,B\n");
    let f2 = import("f2.csv", "email,title,notes\na@x.com,C,n2\n");
    // f1's undo sets the title back to A, over f2's C.
    db.json(&["undo", &f1, "--force"]);
    let fields = || db.ok(&["export", "--entity", "contacts", "--fields", "title,notes"]);
    assert_eq!(fields(), "title,notes\nA,n2\n");
    // Undoing f2 would bring back B, the value of a batch that is undone.
    let out = db.run(&["undo", &f2]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("a@x.com\") was changed after the batch"), "{}", stderr_of(&out));
    assert_eq!(fields(), "title,notes\nA,n2\n", "nothing changed");
    // Forced, it sets back what f2 found, but for f1's B: f1 is undone,
    // so the title goes back past it, to what it was before both.
    let u = db.json(&["undo", &f2, "--force"]);
    assert_eq!(fields(), "title,notes\nA,n0\n");
    // The title, already A, is no change of this undo: not counted nor in
    // the history.
    assert_eq!(u["fields_restored"].as_u64(), Some(1), "the notes alone: {u}");
    let history = db.ok(&["history", "a@x.com"]);
    assert!(!history.contains("\"A\" → \"A\""), "{history}");
});

on_both!(undo_of_a_batch_that_changed_lists_sees_them_unchanged_since, |db| {
    for (name, tags) in [("t1.csv", "x; y"), ("t2.csv", "a; b")] {
        let f = db.file(name, &format!("email,tags,custom.langs\na@x.com,{tags},\"{{\"\"k\"\": [1, 2]}}\"\n"));
        db.json(&["import", &f, "--entity", "contacts"]);
    }
    // PostgreSQL gives lists back in its own spelling, which is no change.
    db.json(&["undo", "last"]);
    assert_eq!(db.ok(&["export", "--entity", "contacts", "--fields", "tags"]), "tags\nx; y\n");
});

on_both!(undo_of_most_of_a_table_keeps_the_rest_and_its_indexes, |db| {
    db.import("contacts_v1.csv", "contacts.toml", &[]);
    let before = db.ok(&["export", "--entity", "contacts"]);
    // Ten thousand contacts at one new company: most of both tables, so
    // SQLite removes them with the indexes dropped and built again.
    let mut big = String::from("email,first_name,company.name\n");
    for i in 0..10_000 {
        big.push_str(&format!("u{i}@big.example,U{i},Big Co\n"));
    }
    let f = db.file("big.csv", &big);
    let b = db.json(&["import", &f, "--entity", "contacts"]);
    let batch = b["batch"].as_str().expect("id").to_string();
    // A later activity links to one of them: the undo names it, on both
    // backends (the activity is named by its subject).
    let a = db.file("act.csv", "kind,subject,contact.email\ncall,Kick-off,u7@big.example\n");
    let act = db.json(&["import", &a, "--entity", "activities"]);
    let out = db.run(&["undo", &batch]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("u7@big.example") && err.contains("(subject \"Kick-off\")"), "{err}");
    assert_eq!(db.count("SELECT count(*) FROM contacts"), 10_003, "nothing changed");

    db.json(&["undo", act["batch"].as_str().expect("id")]);
    let u = db.json(&["undo", &batch]);
    assert_eq!(u["removed"].as_u64(), Some(10_001), "{u}");
    assert_eq!(db.ok(&["export", "--entity", "contacts"]), before);
    assert_eq!(db.lookup_indexes(), 14, "every index is there again");
    assert_eq!(db.count(DANGLING), 0);
    assert_eq!(db.count(&format!("SELECT count(*) FROM audit WHERE op = 'insert' AND batch_id = '{batch}'")), 10_001);
    let gone = db.ok(&["history", "u9999@big.example"]);
    assert!(gone.contains(&format!("created  batch {batch}")) && gone.contains("removed"), "{gone}");
    // The store still finds what stays by its indexes: nothing new.
    let again = db.import("contacts_v1.csv", "contacts.toml", &[]);
    assert_eq!((again["inserted"].as_u64(), again["unchanged"].as_u64()), (Some(0), Some(3)), "{again}");
});

#[test]
fn undo_names_unknown_batches() {
    let db = Db::sqlite();
    let out = db.run(&["undo", "01NOPE"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("no batch \"01NOPE\""), "{}", stderr_of(&out));
}

// A store whose list of custom field names lacks one (made before there was
// a list): undo that restores the field's values lists it again, so exports
// keep its column.
on_both!(undo_lists_the_custom_fields_it_restores, |db| {
    db.import("contacts_v1.csv", "contacts.toml", &[]);
    let f = db.path("tier.csv");
    std::fs::write(&f, "email,custom.tier\nada@example.com,platinum\n").expect("write");
    let second = db.json(&["import", f.to_str().expect("p"), "--entity", "contacts", "--key", "email"]);
    assert_eq!(second["updated"].as_u64(), Some(1), "{second}");
    db.exec("DELETE FROM custom_keys");
    db.json(&["undo", second["batch"].as_str().expect("id")]);
    assert_eq!(db.count("SELECT count(*) FROM custom_keys WHERE entity = 'contacts' AND name = 'tier'"), 1);
    let export = db.ok(&["export", "--entity", "contacts", "--where", "email = 'ada@example.com'"]);
    assert!(export.lines().next().is_some_and(|h| h.ends_with(",custom.tier")), "{export}");
    assert!(export.lines().nth(1).is_some_and(|l| l.ends_with(",gold")), "{export}");
});

on_both!(undoing_a_contact_rewrites_the_deals_it_was_on, |db| {
    db.import("contacts_v1.csv", "contacts.toml", &[]);
    db.import("deals.csv", "deals.toml", &[]);
    let kat = db.path("kat.csv");
    std::fs::write(
        &kat,
        "First Name,Last Name,Email,Phone,Company,Website,City,Tier\nKat,Johnson,kat@example.com,,,,,\n",
    )
    .expect("write");
    let m = testdata("import/contacts.toml");
    let added = db.json(&["import", kat.to_str().expect("p"), "--mapping", m.to_str().expect("p")]);
    let deal = db.path("deal.csv");
    std::fs::write(
        &deal,
        "Deal,Amount,Currency,Stage,Close,Company,Contacts,ERP Id\n\
         Acme renewal,12500.50,USD,won,2024-06-30,Acme,ada@example.com;alan@example.com;kat@example.com,D-1\n",
    )
    .expect("write");
    let dm = testdata("import/deals.toml");
    let s = db.json(&["import", deal.to_str().expect("p"), "--mapping", dm.to_str().expect("p")]);
    assert_eq!(s["updated"].as_u64(), Some(1), "{s}");
    assert_eq!(db.count("SELECT count(*) FROM deal_contacts"), 4);

    // The later deal links to Kat: undo refuses, naming both, as for any
    // other later link, and --force takes Kat off the deal.
    let out = db.run(&["undo", added["batch"].as_str().expect("id")]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("kat@example.com\") is linked to from deal") && err.contains("Acme renewal"), "{err}");
    assert_eq!(db.count("SELECT count(*) FROM deal_contacts"), 4, "nothing changed");
    let u = db.json(&["undo", added["batch"].as_str().expect("id"), "--force"]);
    assert_eq!((u["removed"].as_u64(), u["unlinked"].as_u64()), (Some(1), Some(1)), "{u}");
    assert_eq!(db.count("SELECT count(*) FROM deal_contacts"), 3);
    let id = db.scalar("SELECT id FROM deals WHERE name = 'Acme renewal'").expect("deal");
    let history = db.ok(&["history", &id]);
    assert_eq!(history.matches("undo contacts:").count(), 1, "{history}");
    // The deal is as the original file says again: unchanged, not an
    // update that changes nothing.
    let s = db.import("deals.csv", "deals.toml", &[]);
    assert_eq!((s["updated"].as_u64(), s["unchanged"].as_u64()), (Some(0), Some(2)), "{s}");
});

on_both!(undo_sets_back_links_the_batch_itself_moved_to_a_company_it_created, |db| {
    let one = db.file("u1.csv", "email,address.city,company.name\na@u.com,Paris,Acme\nb@u.com,Rome,Acme\n");
    let two = db.file("u2.csv", "email,address.city,company.name\na@u.com,Berlin,NewCo\nc@u.com,Oslo,Acme\n");
    let first = db.json(&["import", &one, "--entity", "contacts"]);
    let before = db.ok(&["export", "--entity", "contacts"]);
    let second = db.json(&["import", &two, "--entity", "contacts"]);
    assert_eq!(second["companies_created"].as_u64(), Some(1), "{second}");
    // a@u.com now links to NewCo, made by the same batch: nothing later
    // holds on to NewCo, so the latest batch undoes without --force.
    let u = db.json(&["undo", "last"]);
    assert_eq!(u["batch"], second["batch"], "{u}");
    assert_eq!((u["removed"].as_u64(), u["unlinked"].as_u64()), (Some(2), Some(0)), "NewCo and c@u.com go: {u}");
    assert_eq!(db.ok(&["export", "--entity", "contacts"]), before);
    assert_eq!(db.count("SELECT count(*) FROM companies"), 1);
    assert_eq!(db.count(DANGLING), 0);
    // `last` then means the latest batch still in force, then none.
    let u = db.json(&["undo", "last"]);
    assert_eq!(u["batch"], first["batch"], "{u}");
    let out = db.run(&["undo", "last"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("no batch left to undo"), "{}", stderr_of(&out));
});

on_both!(undo_names_a_later_record_that_links_to_what_it_would_remove, |db| {
    let one = db.file("l1.csv", "email,company.name\na@u.com,NewCo\n");
    let two = db.file("l2.csv", "email,company.name\nz@u.com,NewCo\n");
    let first = db.json(&["import", &one, "--entity", "contacts"]);
    db.json(&["import", &two, "--entity", "contacts"]);
    let out = db.run(&["undo", first["batch"].as_str().expect("id")]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains("(name \"NewCo\") is linked to from contact") && err.contains("(email \"z@u.com\")"), "{err}");
});

on_both!(undo_never_gives_a_unique_custom_value_to_two_records, |db| {
    let schema = db.file("uq.toml", "[contacts.member_no]\ntype = \"integer\"\nunique = true\n");
    db.json(&["init", "--custom", &schema]);
    let import = |name: &str, text: &str| db.json(&["import", &db.file(name, text), "--entity", "contacts"]);
    import("uq1.csv", "email,custom.member_no\nua@x.com,1\n");
    let moved = import("uq2.csv", "email,custom.member_no\nua@x.com,2\n");
    import("uq3.csv", "email,custom.member_no\nub@x.com,1\n");
    // Undoing the move would give ua@x.com its 1 back, which ub@x.com holds.
    for force in [false, true] {
        let mut args = vec!["undo", moved["batch"].as_str().expect("id")];
        if force {
            args.push("--force");
        }
        let out = db.run(&args);
        assert_eq!(out.status.code(), Some(1), "--force {force}");
        let err = stderr_of(&out);
        assert!(err.contains("custom.member_no \"1\"") && err.contains("ub@x.com") && err.contains("unique"), "{err}");
    }
    assert_eq!(db.count("SELECT count(*) FROM batches WHERE status = 'undone'"), 0);
    // A number one record gave up and another took in the same batch goes
    // back to the first.
    import("uq6.csv", "email,custom.member_no\nub@x.com,4\n");
    let swap = import("uq7.csv", "email,custom.member_no\nub@x.com,5\nua@x.com,4\n");
    assert_eq!(swap["updated"].as_u64(), Some(2), "{swap}");
    let u = db.json(&["undo", swap["batch"].as_str().expect("id")]);
    assert_eq!(u["restored"].as_u64(), Some(2), "{u}");
    let out = db.ok(&["export", "--entity", "contacts", "--fields", "email,custom.member_no"]);
    assert_eq!(out, "email,custom.member_no\nua@x.com,2\nub@x.com,4\n");
});

on_both!(undo_never_gives_an_external_id_to_two_records, |db| {
    let m = db.file(
        "erp.toml",
        "entity = \"contacts\"\n[key]\nfields = [\"email\"]\nexternal_id = { system = \"erp\", from = \"ERP\" }\n\
         [fields]\nemail = \"Email\"\n",
    );
    let import = |name: &str, text: &str| db.json(&["import", &db.file(name, text), "--mapping", &m]);
    import("e1.csv", "Email,ERP\na@x.com,E1\n");
    let moved = import("e2.csv", "Email,ERP\na@x.com,E2\n");
    assert_eq!(moved["updated"].as_u64(), Some(1), "{moved}");
    let took = import("e3.csv", "Email,ERP\nb@x.com,E1\n");
    assert_eq!(took["inserted"].as_u64(), Some(1), "{took}");
    let out = db.run(&["undo", moved["batch"].as_str().expect("id"), "--force"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains("external id erp \"E1\"") && err.contains("b@x.com"), "{err}");
    assert_eq!(db.count("SELECT count(*) FROM external_ids"), 2, "nothing changed");
    // Once b@x.com is gone, a@x.com gets its first id back.
    db.json(&["undo", took["batch"].as_str().expect("id")]);
    db.json(&["undo", moved["batch"].as_str().expect("id")]);
    assert_eq!(
        db.scalar(
            "SELECT x.external_id FROM external_ids x JOIN contacts c ON c.id = x.record_id WHERE c.email = 'a@x.com'"
        )
        .as_deref(),
        Some("E1")
    );
});

on_both!(undoing_a_change_to_a_record_already_removed_restores_nothing, |db| {
    let one = db.file("a.csv", "email,first_name\nx@u.com,A\n");
    let two = db.file("b.csv", "email,first_name\nx@u.com,B\n");
    let a = db.json(&["import", &one, "--entity", "contacts"]);
    db.json(&["import", &two, "--entity", "contacts"]);
    let u = db.json(&["undo", a["batch"].as_str().expect("id"), "--force"]);
    assert_eq!(u["removed"].as_u64(), Some(1), "{u}");
    let u = db.json(&["undo", "last"]);
    assert_eq!((u["restored"].as_u64(), u["removed"].as_u64()), (Some(0), Some(0)), "x@u.com is gone: {u}");
    assert_eq!(db.count("SELECT count(*) FROM contacts"), 0);
});

#[test]
fn a_start_of_an_id_several_batches_have_names_them_and_counts_the_rest() {
    let db = Db::sqlite();
    for i in 0..5 {
        let f = db.file(&format!("p{i}.csv"), &format!("email\np{i}@x.com\n"));
        db.json(&["import", &f, "--entity", "contacts"]);
    }
    let list = db.json(&["batches"]);
    let ids: Vec<&str> = list.as_array().expect("list").iter().filter_map(|b| b["batch"].as_str()).collect();
    assert_eq!(ids.len(), 5);
    // The start the five have in common (they were made within seconds).
    let common = (0..26).take_while(|&n| ids.iter().all(|id| id.as_bytes()[n] == ids[0].as_bytes()[n])).count();
    let out = db.run(&["undo", &ids[0][..common]]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("matches several batches (") && err.contains(" and 2 more); give more of the id"), "{err}");
}

on_both!(a_field_two_rows_of_a_batch_wrote_is_restored_once, |db| {
    let f = db.file("a.csv", "email,first_name\na@x.com,Ann\n");
    db.json(&["import", &f, "--entity", "contacts"]);
    let f = db.file("b.csv", "email,first_name\na@x.com,Bob\na@x.com,Cid\n");
    let s = db.json(&["import", &f, "--entity", "contacts"]);
    assert_eq!(s["updated"].as_u64(), Some(2), "{s}");
    let batch = s["batch"].as_str().expect("batch").to_string();
    for dry in [true, false] {
        let args: &[&str] = if dry { &["undo", &batch, "--dry-run"] } else { &["undo", &batch] };
        let u = db.json(args);
        assert_eq!((u["restored"].as_u64(), u["fields_restored"].as_u64()), (Some(1), Some(1)), "{u}");
    }
    assert_eq!(db.scalar("SELECT first_name FROM contacts").as_deref(), Some("Ann"));
});

on_both!(tombstones_carry_their_ids_where_no_live_record_has_one_in_that_system, |db| {
    // A bad first load undone whole: the deletion feed names each company by
    // its ERP id, though no live company has one any more.
    db.ok(&["import", &db.file("keep.csv", "name\nKeep\n"), "--entity", "companies"]);
    let f = db.file("co.csv", "name,external_id.erp\nAcme,C100\nBeta,C200\n");
    let s = db.json(&["import", &f, "--entity", "companies"]);
    db.json(&["undo", s["batch"].as_str().expect("batch")]);
    let out = db.ok(&["export", "--entity", "companies", "--include-deleted"]);
    let header = out.lines().next().unwrap_or_default();
    assert!(header.split(',').any(|c| c == "external_id.erp"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("Acme,") && l.contains(",C100,")), "{out}");
    // Without --include-deleted, no column of ids no record has.
    let live = db.ok(&["export", "--entity", "companies"]);
    assert!(!live.contains("external_id.erp"), "{live}");
    // Its history is found by that id, as a live record's is.
    let history = db.ok(&["history", "C100"]);
    assert!(
        history.starts_with("companies ") && history.contains("removed with external_id.erp \"C100\""),
        "{history}"
    );
    // And the export says nothing of an empty column.
    let out = db.run(&["export", "--entity", "companies", "--include-deleted"]);
    assert!(!stderr_of(&out).contains("is empty for every record"), "{}", stderr_of(&out));
});

on_both!(records_an_undo_removed_export_as_tombstones, |db| {
    let f = db.file("a.csv", "email,first_name,external_id.erp\na@x.com,Ann,E1\n");
    db.json(&["import", &f, "--entity", "contacts"]);
    let f = db.file("c.csv", "email,first_name,external_id.erp\nc@x.com,Cid,E3\n");
    let s = db.json(&["import", &f, "--entity", "contacts"]);
    let since = db.scalar("SELECT max(created_at) FROM contacts").expect("a time");
    db.json(&["undo", s["batch"].as_str().expect("batch")]);
    let fields = ["--fields", "email,first_name,external_id.erp,deleted_at"];
    // A sync that took Cid from an earlier export learns Cid is gone: by
    // e-mail and ERP id, with the time of the undo.
    let out =
        db.ok(&[&["export", "--entity", "contacts", "--include-deleted", "--since", &since][..], &fields].concat());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[1].starts_with("c@x.com,,E3,20"), "{out}");
    // Not without --include-deleted, nor under --where, nor once made again.
    let live = db.ok(&[&["export", "--entity", "contacts", "--since", &since][..], &fields].concat());
    assert_eq!(live.lines().count(), 1, "{live}");
    let filtered =
        db.ok(&[&["export", "--entity", "contacts", "--include-deleted", "--where", "email like '%'"][..], &fields]
            .concat());
    assert!(!filtered.contains("c@x.com"), "{filtered}");
    let again = db.ok(&["export", "--entity", "contacts", "--fields", "id,email", "--include-deleted"]);
    assert!(again.contains("c@x.com"), "{again}");
    let f = db.file(
        "again.csv",
        &again.lines().filter(|l| l.contains("c@x.com") || l.starts_with("id")).collect::<Vec<_>>().join("\n"),
    );
    db.json(&["import", &f, "--entity", "contacts"]);
    let now = db.ok(&["export", "--entity", "contacts", "--fields", "id,email,deleted_at", "--include-deleted"]);
    assert_eq!(now.matches("c@x.com").count(), 1, "the live record, not its tombstone: {now}");
    assert!(now.lines().all(|l| l.ends_with(',') || l.starts_with("id")), "{now}");
    // Its history says which ids went with it.
    let history = db.ok(&["history", "c@x.com"]);
    assert!(history.contains("removed with external_id.erp \"E3\"  batch"), "{history}");
    // One line for the removal, its ids with it.
    assert_eq!(history.matches("  removed").count(), 1, "{history}");
    // Made again after it was removed, and said so in that order.
    let lines: Vec<&str> = history.lines().collect();
    let at = |what: &str| lines.iter().rposition(|l| l.contains(what)).expect(what);
    assert!(at("  created  ") > at("  removed"), "{history}");
    // A file that cannot show which records are deleted says so.
    let out = db.run(&["export", "--entity", "contacts", "--fields", "email", "--include-deleted"]);
    assert!(stderr_of(&out).contains("--include-deleted without `deleted_at` in --fields"), "{}", stderr_of(&out));
    // Removed again: one tombstone, the last, and history in order.
    db.json(&["undo", "last"]);
    let gone = db.ok(&["export", "--entity", "contacts", "--fields", "id,email,deleted_at", "--include-deleted"]);
    assert_eq!(gone.matches("c@x.com").count(), 1, "{gone}");
    let history = db.ok(&["history", "c@x.com"]);
    let what: Vec<&str> = history
        .lines()
        .filter_map(|l| ["created", "removed"].into_iter().find(|w| l.contains(&format!("  {w}"))))
        .collect();
    assert_eq!(what, ["created", "removed", "created", "removed"], "{history}");
});

#[test]
fn summaries_count_one_in_the_singular() {
    let db = Db::sqlite();
    let f = db.file("one.csv", "email\nz@z.com\n");
    let err = stderr_of(&db.run(&["import", &f, "--entity", "contacts"]));
    assert!(err.contains("1 row read from"), "{err}");
    let err = stderr_of(&db.run(&["export", "--entity", "contacts"]));
    assert!(err.starts_with("1 contact exported to"), "{err}");
    let err = stderr_of(&db.run(&["export", "--entity", "deals"]));
    assert!(err.starts_with("0 deals exported to"), "{err}");
    let out = db.ok(&["report", "quality", "--entity", "contacts"]);
    assert!(out.starts_with("contacts: 1 record (0 deleted)"), "{out}");
    let batch = db.json(&["batches"])[0]["batch"].as_str().expect("a batch").to_string();
    let err = stderr_of(&db.run(&["undo", &batch]));
    assert!(err.contains(": 1 record removed, 0 records restored (0 fields)"), "{err}");
    let f = db.file("two.csv", "email,company.name\nz@z.com,Zeta\ny@z.com,Zeta\n");
    let err = stderr_of(&db.run(&["import", &f, "--entity", "contacts"]));
    assert!(err.contains("2 rows read from") && err.contains(", 1 company created"), "{err}");
}

#[test]
fn an_empty_batch_id_names_no_batch() {
    let db = Db::sqlite();
    db.ok(&["import", &db.file("a.csv", "email\na@x.com\n"), "--entity", "contacts"]);
    db.ok(&["import", &db.file("b.csv", "email\nb@x.com\n"), "--entity", "contacts"]);
    for id in ["", "  ", "%"] {
        let out = db.run(&["undo", id]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
        assert!(
            stderr_of(&out).contains("is no batch id: give one (`crmsync batches` lists them)"),
            "{}",
            stderr_of(&out)
        );
    }
    assert_eq!(db.count("SELECT count(*) FROM contacts"), 2, "nothing undone");
}

on_both!(an_undo_forced_counts_only_later_records_links_it_clears, |db| {
    // The batch made Acme and v1, linked to it; a later one linked three
    // more: three links are cleared (v1 goes with its batch).
    db.ok(&["import", &db.file("a.csv", "email,company.name\nv1@x.com,Acme\n"), "--entity", "contacts"]);
    let later = "email,company.name\nv2@x.com,Acme\nv3@x.com,Acme\nv4@x.com,Acme\n";
    db.ok(&["import", &db.file("b.csv", later), "--entity", "contacts"]);
    let first = db.scalar("SELECT id FROM batches ORDER BY started_at, id LIMIT 1").expect("a batch");
    let u = db.json(&["undo", &first, "--force"]);
    assert_eq!((u["removed"].as_u64(), u["unlinked"].as_u64()), (Some(2), Some(3)), "{u}");
    assert_eq!(db.count("SELECT count(*) FROM contacts WHERE company_id IS NULL"), 3);
});
