//! `crmsync report quality`.

use super::db::Db;
use crate::on_both;
use crate::stderr_of;

/// The duplicates rule of a report with this `key`.
fn rule(report: &serde_json::Value, key: &str) -> serde_json::Value {
    let rules = report["duplicates"].as_array().expect("duplicates");
    rules.iter().find(|d| d["key"] == key).cloned().unwrap_or_else(|| panic!("no rule {key}: {report}"))
}

/// A rule's groups as their records' labels, each group and all sorted.
fn labels_of(rule: &serde_json::Value) -> Vec<Vec<String>> {
    let examples = rule["examples"].as_array().expect("examples");
    let mut groups: Vec<Vec<String>> =
        examples.iter().map(|e| serde_json::from_value(e["labels"].clone()).expect("labels")).collect();
    groups.iter_mut().for_each(|g| g.sort());
    groups.sort();
    groups
}

on_both!(contacts_without_a_company_are_alike_by_their_whole_name, |db| {
    // Two Michael Masons without a company are duplicate candidates; Jon
    // and John Smith without one are not (only a company makes names that
    // differ alike); at one company they are. A given name alone is no
    // whole name; a hyphen is a space; 张伟 is a whole name.
    let f = db.file(
        "nd.csv",
        "first_name,last_name,email,company.name\nMichael,Mason,mm1@x.com,\nMICHAEL,Mason,mm2@y.com,\n\
         Jon,Smith,js1@x.com,\nJohn,Smith,js2@x.com,\nJon,Smith,js3@acme.com,Acme\nJohn,Smith,js4@acme.com,Acme\n\
         Ann,,a1@x.com,\nAnn,,a2@x.com,\nJean-Luc,Picard,jl1@x.com,\nJean Luc,Picard,jl2@x.com,\n张,伟,zw1@x.com,\n张,伟,zw2@x.com,\n",
    );
    db.ok(&["import", &f, "--entity", "contacts"]);
    let r = db.json(&["report", "quality", "--entity", "contacts"]);
    let similar = rule(&r, "similar_name");
    assert_eq!(
        labels_of(&similar),
        [
            vec!["jl1@x.com", "jl2@x.com"],
            vec!["js3@acme.com", "js4@acme.com"],
            vec!["mm1@x.com", "mm2@y.com"],
            vec!["zw1@x.com", "zw2@x.com"]
        ],
        "{similar}"
    );
    let values: Vec<&str> =
        similar["examples"].as_array().expect("ex").iter().filter_map(|e| e["value"].as_str()).collect();
    assert!(values.contains(&"(no company)") && values.contains(&"Acme"), "{similar}");
    assert_eq!(similar["exact_only"]["companies"].as_u64(), Some(0), "{similar}");
});

on_both!(companies_of_one_name_without_accents_are_duplicate_candidates, |db| {
    let f = db.file(
        "co.csv",
        "name,domain\n\
         Müller GmbH,a.de\n\
         Mueller GmbH,b.de\n\
         Muller GmbH,c.de\n\
         Muller AG,i.de\n\
         Acme Inc,acme.com\n\
         \"ACME, Inc.\",acme.net\n\
         Café Noir,d.fr\n\
         Cafe Noir SARL,e.fr\n\
         Xue Ltd,f.cn\n\
         Xu Ltd,g.cn\n\
         Øresund AB,h.dk\n\
         Nordwind BV,j.nl\n\
         Nordwind AG,k.ch\n",
    );
    let s = db.json(&["import", &f, "--entity", "companies", "--key", "domain"]);
    assert_eq!(s["inserted"].as_u64(), Some(13), "{s}");
    let r = db.json(&["report", "quality", "--entity", "companies"]);
    let same = rule(&r, "same_name");
    assert_eq!((same["groups"].as_u64(), same["records"].as_u64()), (Some(3), Some(7)), "{same}");
    assert_eq!(
        labels_of(&same),
        [
            vec!["ACME, Inc.", "Acme Inc"],
            vec!["Cafe Noir SARL", "Café Noir"],
            vec!["Mueller GmbH", "Muller GmbH", "Müller GmbH"],
        ],
        "umlauts written out or dropped, accents off, legal forms aside unless both give one; Xue and Xu stay two"
    );
    assert_eq!(same["examples"][0]["records"].as_u64(), Some(3), "the largest group first: {same}");
    let text = db.ok(&["report", "quality", "--entity", "companies"]);
    assert!(text.contains("duplicates, same name: 3 groups, 7 records"), "{text}");
    // A name that gives no form may be any of them.
    let more = db.file("more.csv", "name,domain\nNordwind,l.de\n");
    db.json(&["import", &more, "--entity", "companies", "--key", "domain"]);
    let r = db.json(&["report", "quality", "--entity", "companies"]);
    let same = rule(&r, "same_name");
    assert_eq!(same["examples"][1]["labels"], serde_json::json!(["Nordwind BV", "Nordwind AG", "Nordwind"]), "{same}");
    assert_eq!(same["examples"][1]["value"], "nordwind", "{same}");
    // Deleted ones are no candidates.
    let batch = s["batch"].as_str().expect("batch");
    db.ok(&["undo", batch]);
    let r = db.json(&["report", "quality", "--entity", "companies"]);
    assert_eq!(rule(&r, "same_name")["groups"].as_u64(), Some(0), "{r}");
});

on_both!(quality_reports_completeness_validity_and_duplicates, |db| {
    db.import("contacts_v1.csv", "contacts.toml", &[]);
    db.import("contacts_v2.csv", "contacts.toml", &[]);
    // Two people sharing a phone, and a near-duplicate name at Acme.
    let f = db.path("dupes.csv");
    std::fs::write(
        &f,
        "first_name,last_name,full_name,email,phone,company.name,notes\n\
         Ada,Lovelace,Ada  Lovelace,ada.l@example.org,+15550100001,Acme Inc.,met at a fair\n\
         Bad,Email,,bad@example.com,12345,,\"  \"\n",
    )
    .expect("write");
    db.json(&["import", f.to_str().expect("p"), "--entity", "contacts"]);
    // Import refuses a bad e-mail; one written by another tool is reported.
    db.exec("UPDATE contacts SET email = 'not-an-email' WHERE email = 'bad@example.com'");
    let html = db.path("q.html");
    let r = db.json(&["report", "quality", "--entity", "contacts", "--html", html.to_str().expect("p")]);
    assert_eq!(r["records"].as_u64(), Some(6), "{r}");
    let field =
        |name: &str| r["fields"].as_array().expect("fields").iter().find(|f| f["field"] == name).cloned().expect(name);
    assert_eq!(field("email")["filled"].as_u64(), Some(6));
    assert_eq!(field("email")["invalid"].as_u64(), Some(1));
    assert_eq!(field("phone")["invalid"].as_u64(), Some(1));
    assert_eq!(field("custom.tier")["filled"].as_u64(), Some(2));
    // A cell of spaces is no value.
    assert_eq!(field("notes")["filled"].as_u64(), Some(1), "{r}");
    let dup =
        |rule: &str| r["duplicates"].as_array().expect("dups").iter().find(|d| d["rule"] == rule).cloned().expect(rule);
    assert_eq!(dup("same phone")["groups"].as_u64(), Some(1), "{r}");
    // Labelled by e-mail, named by id: the ids are the records' own, which
    // `history` takes.
    let mut by_phone: Vec<String> =
        serde_json::from_value(dup("same phone")["examples"][0]["labels"].clone()).expect("labels");
    by_phone.sort();
    assert_eq!(by_phone, ["ada.l@example.org", "ada@example.com"], "{r}");
    let ids: Vec<String> = serde_json::from_value(dup("same phone")["examples"][0]["ids"].clone()).expect("ids");
    assert!(ids.len() == 2 && ids[0] != ids[1], "{r}");
    for id in &ids {
        assert!(db.ok(&["history", id]).starts_with(&format!("contacts {id}")), "{id}");
    }
    let similar = dup("similar name at the same company (the same name, without one)");
    assert_eq!((similar["groups"].as_u64(), similar["records"].as_u64()), (Some(1), Some(2)), "{r}");
    let example = &similar["examples"][0];
    assert_eq!(example["value"], "Acme Inc.", "the company, by name: {example}");
    assert_eq!(example["labels"], serde_json::json!(["ada@example.com", "ada.l@example.org"]), "{example}");
    assert_eq!(example["names"], serde_json::json!(["Ada Lovelace", "Ada  Lovelace"]), "{example}");
    assert_eq!((&example["ids"], example["records"].as_u64()), (&serde_json::json!(ids), Some(2)), "{example}");
    // An invalid value names its record by id, and by e-mail.
    let invalid = &field("phone")["invalid_examples"][0];
    assert_eq!((&invalid["label"], &invalid["value"]), (&"not-an-email".into(), &"12345".into()), "{r}");
    let id = invalid["id"].as_str().expect("id");
    assert!(db.ok(&["history", id]).starts_with(&format!("contacts {id}")), "{r}");
    // A name with a doubled space is no clean name.
    assert_eq!(field("full_name")["invalid"].as_u64(), Some(1), "{r}");
    let page = std::fs::read_to_string(&html).expect("html");
    assert!(page.starts_with("<!DOCTYPE html>") || page.starts_with("<!doctype html>"), "{}", &page[..40]);
    assert!(page.contains("<svg") && page.contains("custom.tier"));
    assert!(!page.contains("http://") && !page.contains("https://") && !page.contains("<script"), "self-contained");
    // No file gave tags: an empty list is not a filled field.
    assert_eq!(field("tags")["filled"].as_u64(), Some(0), "{r}");
    let text = db.ok(&["report", "quality", "--entity", "contacts"]);
    assert!(text.contains("duplicates, same phone: 1 group,"), "{text}");
    assert!(
        text.contains(&format!(
            "Ada Lovelace <ada@example.com> {} | Ada  Lovelace <ada.l@example.org> {}",
            ids[0], ids[1]
        )),
        "{text}"
    );
    // The table's columns line up: every row's `expected` starts where the
    // header's does.
    let lines: Vec<&str> = text.lines().skip(1).take_while(|l| !l.starts_with("duplicates")).collect();
    let at = lines[0].find("expected").expect("header");
    assert!(lines.len() > 10, "{text}");
    for line in &lines[1..] {
        assert!(line.len() > at && line[..at].ends_with("  ") && !line[at..].starts_with(' '), "{line:?} in\n{text}");
    }
    assert!(lines.iter().any(|l| l.starts_with("email ") && l.contains("     6    ")), "{text}");

    // A deleted record (a sync tombstone) is counted as deleted, and is no
    // one's duplicate: neither by phone nor by name.
    db.exec("UPDATE contacts SET deleted_at = updated_at WHERE email = 'ada.l@example.org'");
    let r = db.json(&["report", "quality", "--entity", "contacts"]);
    assert_eq!((r["records"].as_u64(), r["deleted"].as_u64()), (Some(5), Some(1)), "{r}");
    let groups = |rule: &str| {
        r["duplicates"].as_array().expect("dups").iter().find(|d| d["rule"] == rule).map(|d| d["groups"].clone())
    };
    assert_eq!(groups("same phone"), Some(0.into()), "{r}");
    assert_eq!(groups("similar name at the same company (the same name, without one)"), Some(0.into()), "{r}");
});

on_both!(a_number_given_as_one_contacts_phone_and_anothers_mobile_is_a_duplicate, |db| {
    let f = db.file(
        "people.csv",
        "first_name,email,phone,mobile\n\
         Ann,ann@example.com,+15550100001,\n\
         Ann B,ann.b@example.com,,+15550100001\n\
         Solo,solo@example.com,+15550100009,+15550100009\n\
         Other,other@example.com,+15550100002,+15550100003\n",
    );
    db.ok(&["import", &f, "--entity", "contacts"]);
    let r = db.json(&["report", "quality", "--entity", "contacts"]);
    let dup = r["duplicates"].as_array().expect("dups").iter().find(|d| d["rule"] == "same phone").cloned();
    let dup = dup.expect("same phone");
    // One group: Ann's phone is Ann B's mobile. A contact whose phone and
    // mobile are one number is no duplicate of itself.
    assert_eq!((dup["groups"].as_u64(), dup["records"].as_u64()), (Some(1), Some(2)), "{r}");
    assert_eq!(dup["examples"][0]["value"], "+15550100001", "{r}");
    let mut labels: Vec<String> = serde_json::from_value(dup["examples"][0]["labels"].clone()).expect("labels");
    labels.sort();
    assert_eq!(labels, ["ann.b@example.com", "ann@example.com"], "{r}");
    // A large group lists its first records and says how many there are.
    let many: String = (0..25).map(|i| format!("P{i},p{i}@example.com,+15550100077,\n")).collect();
    let f = db.file("many.csv", &format!("first_name,email,phone,mobile\n{many}"));
    db.ok(&["import", &f, "--entity", "contacts"]);
    let r = db.json(&["report", "quality", "--entity", "contacts"]);
    let dup = r["duplicates"].as_array().expect("dups").iter().find(|d| d["rule"] == "same phone").cloned();
    let example = dup.expect("same phone")["examples"][0].clone();
    assert_eq!((example["records"].as_u64(), example["ids"].as_array().map(Vec::len)), (Some(25), Some(20)), "{r}");
    let text = db.ok(&["report", "quality", "--entity", "contacts"]);
    let line = text.lines().find(|l| l.contains("P19 <p19@example.com> ")).expect(&text);
    assert!(line.ends_with(" | and 5 more"), "{text}");
    // Two contacts whose phone and mobile are swapped are one group, not two.
    let swapped = db.file(
        "swapped.csv",
        "first_name,email,phone,mobile\nS1,s1@example.com,+15550100104,+15550100105\n\
         S2,s2@example.com,+15550100105,+15550100104\n",
    );
    db.ok(&["import", &swapped, "--entity", "contacts"]);
    let r = db.json(&["report", "quality", "--entity", "contacts"]);
    let dup = r["duplicates"].as_array().expect("dups").iter().find(|d| d["rule"] == "same phone").cloned();
    let dup = dup.expect("same phone");
    assert_eq!((dup["groups"].as_u64(), dup["records"].as_u64()), (Some(3), Some(29)), "{r}");
});

on_both!(duplicate_deals_and_activities_are_shown_by_id_and_by_what_happened, |db| {
    let d = db.file("d.csv", "name,company.name\nRenewal 2024,Acme Inc\nrenewal 2024,Acme Inc\n");
    db.ok(&["import", &d, "--entity", "deals", "--mode", "insert"]);
    let r = db.json(&["report", "quality", "--entity", "deals"]);
    let similar = r["duplicates"]
        .as_array()
        .expect("dups")
        .iter()
        .find(|d| d["rule"] == "similar name at the same company (the same name, without one)")
        .cloned()
        .expect("rule");
    let ids = similar["examples"][0]["ids"].as_array().expect("ids").clone();
    assert_eq!(ids.len(), 2, "{r}");
    assert!(ids.iter().all(|i| i.as_str().is_some_and(|i| i.len() == 26)) && ids[0] != ids[1], "{r}");
    // Companies alike by name are told apart by id too.
    let c = db.file("co.csv", "name,domain\nZeta,zeta.de\nZeta,zeta.fr\n");
    db.ok(&["import", &c, "--entity", "companies"]);
    let r = db.json(&["report", "quality", "--entity", "companies"]);
    let same =
        r["duplicates"].as_array().expect("dups").iter().find(|d| d["rule"] == "same name").cloned().expect("rule");
    let ids = same["examples"][0]["ids"].as_array().expect("ids").clone();
    assert!(ids.len() == 2 && ids.iter().all(|i| i.as_str().is_some_and(|i| i.len() == 26)), "{r}");
    // An activities file imported twice (no ids to match by): each twice.
    let a = db.file("a.csv", "kind,subject,occurred_at\ncall,Intro,2024-05-01T10:00:00Z\nnote,Other,\n");
    db.ok(&["import", &a, "--entity", "activities"]);
    // Again, the subject in another case: the same call.
    let b = db.file("b.csv", "kind,subject,occurred_at\ncall,INTRO,2024-05-01T12:00:00+02:00\nnote,Other,\n");
    db.ok(&["import", &b, "--entity", "activities"]);
    let r = db.json(&["report", "quality", "--entity", "activities"]);
    let same = r["duplicates"]
        .as_array()
        .expect("dups")
        .iter()
        .find(|d| d["rule"].as_str().is_some_and(|r| r.starts_with("same kind")))
        .cloned()
        .expect("rule");
    assert_eq!((same["groups"].as_u64(), same["records"].as_u64()), (Some(2), Some(4)), "{r}");
    assert_eq!(same["key"], "same_activity", "{r}");
    let values: Vec<&str> =
        same["examples"].as_array().expect("examples").iter().filter_map(|e| e["value"].as_str()).collect();
    // The same on both backends: the time in UTC, to the second.
    assert!(values.contains(&"call, Intro, 2024-05-01T10:00:00Z"), "{r}");
});

on_both!(declared_custom_fields_are_valid_in_their_type, |db| {
    let schema = crate::testdata("import/custom_schema.toml");
    db.ok(&["init", "--custom", schema.to_str().expect("p")]);
    let f =
        db.file("m.csv", "email,custom.tier,custom.member_no,custom.vip\na@x.com,gold,1,yes\nb@x.com,Silver,2,no\n");
    db.ok(&["import", &f, "--entity", "contacts"]);
    let field = |r: &serde_json::Value, name: &str| {
        r["fields"].as_array().and_then(|a| a.iter().find(|f| f["field"] == name)).cloned().expect("field")
    };
    let r = db.json(&["report", "quality", "--entity", "contacts"]);
    let tier = field(&r, "custom.tier");
    assert_eq!((&tier["valid"], &tier["expected"]), (&2.into(), &"one of Gold, Silver, Bronze".into()), "{tier}");
    assert_eq!(field(&r, "custom.vip")["expected"], "a boolean (true/false, yes/no, 1/0)");
    // A value the declaration no longer holds (written behind crmsync's
    // back) is flagged.
    let lower = db.file(
        "s2.toml",
        "[contacts.tier]\ntype = \"enum\"\nvalues = [\"gold\", \"silver\"]\n[contacts.member_no]\ntype = \"integer\"\n\
         [contacts.vip]\ntype = \"boolean\"\n",
    );
    db.ok(&["init", "--custom", &lower]);
    db.exec(if db.is_postgres() {
        "UPDATE contacts SET custom = jsonb_set(custom, '{tier}', '\"Platinum\"') WHERE email = 'a@x.com'"
    } else {
        "UPDATE contacts SET custom = json_set(custom, '$.tier', 'Platinum') WHERE email = 'a@x.com'"
    });
    let tier = field(&db.json(&["report", "quality", "--entity", "contacts"]), "custom.tier");
    assert_eq!((&tier["valid"], &tier["invalid"]), (&1.into(), &1.into()), "{tier}");
    let example = &tier["invalid_examples"][0];
    assert_eq!((&example["label"], &example["value"]), (&"a@x.com".into(), &"Platinum".into()), "{tier}");
    assert_eq!(example["id"].as_str().map(str::len), Some(26), "{tier}");
    assert_eq!(tier["expected"], "one of gold, silver");
});

#[test]
fn quiet_keeps_the_report_unless_it_went_to_html() {
    let db = Db::sqlite();
    let f = db.file("c.csv", "email\na@x.com\n");
    db.ok(&["import", &f, "--entity", "contacts"]);
    let out = db.ok(&["-q", "report", "quality", "--entity", "contacts"]);
    assert!(out.starts_with("contacts: 1 record ("), "{out}");
    let html = db.path("r.html");
    let out = db.ok(&["-q", "report", "quality", "--entity", "contacts", "--html", html.to_str().expect("p")]);
    assert!(out.is_empty(), "{out}");
}

on_both!(names_alike_without_accents_or_in_family_order_are_duplicates, |db| {
    let f = db.file(
        "n.csv",
        "first_name,last_name,full_name,email,company.name\n\
         Hans,Müller,,h1@x.de,Acme\nHans,Mueller,,h2@x.de,Acme\n\
         José,García,,j1@x.es,Acme\nJose,Garcia,,j2@x.es,Acme\n\
         ,,张伟,z1@x.cn,Acme\n伟,张,,z2@x.cn,Acme\n\
         Hans,Maier,,h3@x.de,Acme\n",
    );
    db.ok(&["import", &f, "--entity", "contacts"]);
    let r = db.json(&["report", "quality", "--entity", "contacts"]);
    let similar = rule(&r, "similar_name");
    let groups = labels_of(&similar);
    assert_eq!(
        groups,
        [["h1@x.de", "h2@x.de"], ["j1@x.es", "j2@x.es"], ["z1@x.cn", "z2@x.cn"]],
        "Hans Maier is another person: {r}"
    );
    // A Chinese name given in parts is shown as it is written: family first.
    let names: Vec<&str> = similar["examples"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|e| e["names"].as_array().into_iter().flatten().filter_map(|n| n.as_str()))
        .collect();
    assert!(names.iter().filter(|n| **n == "张伟").count() == 2, "{names:?}");
});

on_both!(the_report_lists_as_many_groups_as_asked_and_says_how_many_there_are, |db| {
    let rows: String =
        (0..12).map(|i| format!("P{i},p{i}a@x.com,+1555010{i:04}\nP{i},p{i}b@x.com,+1555010{i:04}\n")).collect();
    let f = db.file("p.csv", &format!("first_name,email,phone\n{rows}"));
    db.ok(&["import", &f, "--entity", "contacts"]);
    let r = db.json(&["report", "quality", "--entity", "contacts"]);
    let phone = rule(&r, "same_phone");
    assert_eq!((phone["groups"].as_u64(), phone["examples"].as_array().map(Vec::len)), (Some(12), Some(10)), "{r}");
    let text = db.ok(&["report", "quality", "--entity", "contacts"]);
    assert!(text.contains("  (the first 10 of 12 groups; --examples N lists more)"), "{text}");
    let html = db.path("r.html");
    db.ok(&["report", "quality", "--entity", "contacts", "--html", html.to_str().expect("p")]);
    let page = std::fs::read_to_string(&html).expect("html");
    assert!(page.contains("The first 10 of 12 groups"), "listed as in the text");
    let text = db.ok(&["report", "quality", "--entity", "contacts", "--examples", "20"]);
    assert!(!text.contains("the first") && text.contains("+15550100011: "), "{text}");
    let r = db.json(&["report", "quality", "--entity", "contacts", "--examples", "20"]);
    assert_eq!(r["duplicates"][1]["examples"].as_array().map(Vec::len), Some(12), "{r}");
});

#[test]
fn stored_control_characters_are_shown_escaped_and_a_name_on_two_lines_is_invalid() {
    let db = Db::sqlite();
    let f = db.file("c.csv", "first_name,last_name,email,company.name\nAnn,Lee,a@x.com,Acme\nAnn,Lea,b@x.com,Acme\n");
    db.ok(&["import", &f, "--entity", "contacts"]);
    // Written by another program: an escape sequence, a tab and a line break.
    db.exec("UPDATE contacts SET first_name = 'Ann' || char(27) || '[2J', last_name = 'Le' || char(10) || 'e' WHERE email = 'a@x.com'");
    db.exec("UPDATE contacts SET title = 'Head' || char(9) || 'of sales' WHERE email = 'b@x.com'");
    // Unseen marks: one that turns the line around, a zero-width space.
    db.exec("UPDATE contacts SET full_name = 'Ann ' || char(8238) || 'eeL' WHERE email = 'b@x.com'");
    db.exec("UPDATE contacts SET owner = 'Kim' || char(8203) || ' Ro' WHERE email = 'b@x.com'");
    let text = db.ok(&["report", "quality", "--entity", "contacts"]);
    assert!(!text.contains('\u{1b}') && !text.contains('\u{202e}'), "{text:?}");
    // With -v, the invalid values are listed, escaped, with their records.
    let text = db.ok(&["-v", "report", "quality", "--entity", "contacts"]);
    assert!(text.contains("invalid first_name: 1 of 1\n  \"Ann\\u{1b}[2J\" <a@x.com> "), "{text}");
    assert!(text.contains("invalid full_name: 1 of 1\n  \"Ann \\u{202e}eeL\" <b@x.com> "), "{text}");
    assert!(text.contains("invalid owner: 1 of 1"), "{text}");
    let text = db.ok(&["-v", "report", "quality", "--entity", "contacts", "--examples", "0"]);
    assert!(text.contains("invalid first_name: 0 of 1\n"), "{text}");
    let html = db.path("r.html");
    db.ok(&["report", "quality", "--entity", "contacts", "--examples", "0", "--html", html.to_str().expect("p")]);
    assert!(std::fs::read_to_string(&html).expect("html").contains("and 1 more"), "the field's count, not the list's");
    let r = db.json(&["report", "quality", "--entity", "contacts"]);
    let field = |name: &str| r["fields"].as_array().and_then(|a| a.iter().find(|f| f["field"] == name)).cloned();
    for name in ["first_name", "last_name", "title", "full_name", "owner"] {
        assert_eq!(field(name).expect(name)["invalid"].as_u64(), Some(1), "{name}: {r}");
    }
}

#[test]
fn an_empty_store_has_no_score_and_an_html_report_into_a_folder_is_refused() {
    let db = Db::sqlite();
    db.ok(&["init"]);
    let r = db.json(&["report", "quality", "--entity", "deals"]);
    assert_eq!((r["records"].as_u64(), &r["score"]), (Some(0), &serde_json::Value::Null), "{r}");
    assert!(r["fields"].as_array().expect("fields").iter().all(|f| f["completeness"].is_null()), "{r}");
    assert!(r["generated_at"].as_str().is_some_and(|t| t.len() == 20 && t.ends_with('Z')), "{r}");
    let text = db.ok(&["report", "quality", "--entity", "deals"]);
    assert!(text.starts_with("deals: 0 records (0 deleted), quality score -"), "{text}");
    let folder = db.path("out");
    std::fs::create_dir(&folder).expect("mkdir");
    for target in [folder.to_str().expect("p").to_string(), format!("{}/", folder.display()), String::new()] {
        let out = db.run(&["report", "quality", "--entity", "deals", "--html", &target]);
        assert!(!out.status.success(), "{target:?}");
        let err = stderr_of(&out);
        assert!(err.contains("is a directory, not a file") || err.contains("no output file named"), "{err}");
    }
    let left: Vec<_> = std::fs::read_dir(folder.parent().expect("dir"))
        .expect("ls")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_huge_accounts_names_past_the_compared_ones_are_matched_exactly_and_said_to_be() {
    let db = Db::sqlite();
    // 2,100 people at one company: a pair among the first names, a twin of
    // the first person far past them, and a pair both past them.
    let mut rows = String::from("first_name,last_name,email,company.name\nHans,Zimmermann,z0@x.de,Big\n");
    for i in 1..2100 {
        let (first, last) = match i {
            5 => ("Hans".to_string(), "Zimmerman".to_string()),
            2050 => ("Hans".to_string(), "Zimmermann".to_string()),
            2060 | 2070 => ("Maria".to_string(), "Schulz".to_string()),
            i => (format!("P{i}"), format!("Q{i}x")),
        };
        rows.push_str(&format!("{first},{last},z{i}@x.de,Big\n"));
    }
    let f = db.file("big.csv", &rows);
    db.ok(&["import", &f, "--entity", "contacts"]);
    let r = db.json(&["report", "quality", "--entity", "contacts"]);
    let similar = rule(&r, "similar_name");
    assert_eq!((similar["groups"].as_u64(), similar["records"].as_u64()), (Some(2), Some(5)), "{similar}");
    assert_eq!(similar["exact_only"], serde_json::json!({"records": 100, "companies": 1, "past": 2000}));
    let groups = labels_of(&similar);
    assert_eq!(groups, [vec!["z0@x.de", "z2050@x.de", "z5@x.de"], vec!["z2060@x.de", "z2070@x.de"]], "{similar}");
    let names: Vec<&str> =
        similar["examples"][1]["names"].as_array().expect("names").iter().filter_map(|n| n.as_str()).collect();
    assert_eq!(names, ["Maria Schulz", "Maria Schulz"], "read back by id: {similar}");
    let text = db.ok(&["report", "quality", "--entity", "contacts"]);
    assert!(text.contains("(100 records past the first 2000 of 1 company compared by exact name only)"), "{text}");
}

on_both!(shares_show_as_the_counts_give_them_and_removed_records_count_as_deleted, |db| {
    // 6 titles of 11 contacts are 54.5%, not 54.6% (a share kept to four
    // places, 0.5455, rounded again); contacts an undo removed are the
    // report's deleted ones.
    let mut rows = String::from("email,title\n");
    for i in 0..11 {
        rows.push_str(&format!("c{i}@x.com,{}\n", if i < 6 { "CEO" } else { "" }));
    }
    db.ok(&["import", &db.file("c.csv", &rows), "--entity", "contacts"]);
    let r = db.json(&["report", "quality", "--entity", "contacts"]);
    let title = r["fields"].as_array().and_then(|f| f.iter().find(|f| f["field"] == "title")).expect("title");
    assert_eq!(title["completeness"].as_f64(), Some(0.545455), "{title}");
    let text = db.ok(&["report", "quality", "--entity", "contacts"]);
    let line = text.lines().find(|l| l.starts_with("title ")).expect("a title line");
    assert!(line.contains("54.5%"), "{line}");
    let html = db.path("q.html");
    db.ok(&["report", "quality", "--entity", "contacts", "--html", html.to_str().expect("p")]);
    let page = std::fs::read_to_string(&html).expect("html");
    assert!(page.contains("54.5%") && !page.contains("54.6%"), "the page shows 54.5%");
    db.ok(&["import", &db.file("d.csv", "email,title\nd1@x.com,CTO\nd2@x.com,CFO\n"), "--entity", "contacts"]);
    db.ok(&["undo", "last"]);
    let r = db.json(&["report", "quality", "--entity", "contacts"]);
    assert_eq!((r["records"].as_u64(), r["deleted"].as_u64()), (Some(11), Some(2)), "{r}");
    assert!(db.ok(&["report", "quality", "--entity", "contacts"]).contains("11 records (2 deleted)"));
});
