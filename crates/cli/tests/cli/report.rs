//! `crmsync report quality`.

use super::db::Db;
use crate::on_both;

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
    // Shown by e-mail, as the other rules show them.
    let mut by_phone: Vec<String> =
        serde_json::from_value(dup("same phone")["examples"][0]["ids"].clone()).expect("ids");
    by_phone.sort();
    assert_eq!(by_phone, ["ada.l@example.org", "ada@example.com"], "{r}");
    let similar = dup("similar name at the same company");
    assert_eq!((similar["groups"].as_u64(), similar["records"].as_u64()), (Some(1), Some(2)), "{r}");
    let example = &similar["examples"][0];
    assert_eq!(example["value"], "Acme Inc.", "the company, by name: {example}");
    assert_eq!(example["ids"], serde_json::json!(["ada@example.com", "ada.l@example.org"]), "{example}");
    assert_eq!(example["names"], serde_json::json!(["Ada Lovelace", "Ada  Lovelace"]), "{example}");
    let page = std::fs::read_to_string(&html).expect("html");
    assert!(page.starts_with("<!DOCTYPE html>") || page.starts_with("<!doctype html>"), "{}", &page[..40]);
    assert!(page.contains("<svg") && page.contains("custom.tier"));
    assert!(!page.contains("http://") && !page.contains("https://") && !page.contains("<script"), "self-contained");
    // No file gave tags: an empty list is not a filled field.
    assert_eq!(field("tags")["filled"].as_u64(), Some(0), "{r}");
    let text = db.ok(&["report", "quality", "--entity", "contacts"]);
    assert!(text.contains("duplicates, same phone: 1 groups"), "{text}");
    assert!(text.contains("Ada Lovelace <ada@example.com> | Ada  Lovelace <ada.l@example.org>"), "{text}");
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
    assert_eq!(groups("similar name at the same company"), Some(0.into()), "{r}");
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
    let mut ids: Vec<String> = serde_json::from_value(dup["examples"][0]["ids"].clone()).expect("ids");
    ids.sort();
    assert_eq!(ids, ["ann.b@example.com", "ann@example.com"], "{r}");
    // A large group lists its first records and says how many there are.
    let many: String = (0..25).map(|i| format!("P{i},p{i}@example.com,+15550100077,\n")).collect();
    let f = db.file("many.csv", &format!("first_name,email,phone,mobile\n{many}"));
    db.ok(&["import", &f, "--entity", "contacts"]);
    let r = db.json(&["report", "quality", "--entity", "contacts"]);
    let dup = r["duplicates"].as_array().expect("dups").iter().find(|d| d["rule"] == "same phone").cloned();
    let example = dup.expect("same phone")["examples"][0].clone();
    assert_eq!((example["records"].as_u64(), example["ids"].as_array().map(Vec::len)), (Some(25), Some(20)), "{r}");
    let text = db.ok(&["report", "quality", "--entity", "contacts"]);
    assert!(text.contains("P19 <p19@example.com> | and 5 more"), "{text}");
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
        .find(|d| d["rule"] == "similar name at the same company")
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
    db.ok(&["import", &a, "--entity", "activities"]);
    let r = db.json(&["report", "quality", "--entity", "activities"]);
    let same = r["duplicates"]
        .as_array()
        .expect("dups")
        .iter()
        .find(|d| d["rule"].as_str().is_some_and(|r| r.starts_with("same kind")))
        .cloned()
        .expect("rule");
    assert_eq!((same["groups"].as_u64(), same["records"].as_u64()), (Some(2), Some(4)), "{r}");
    let values: Vec<&str> =
        same["examples"].as_array().expect("examples").iter().filter_map(|e| e["value"].as_str()).collect();
    assert!(
        values.contains(&"call, Intro, 2024-05-01T10:00:00.000000Z")
            || values.iter().any(|v| v.starts_with("call, Intro, 2024-05-01")),
        "{r}"
    );
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
    assert_eq!(tier["invalid_examples"][0], serde_json::json!({"id": "a@x.com", "value": "Platinum"}));
    assert_eq!(tier["expected"], "one of gold, silver");
});

#[test]
fn quiet_keeps_the_report_unless_it_went_to_html() {
    let db = Db::sqlite();
    let f = db.file("c.csv", "email\na@x.com\n");
    db.ok(&["import", &f, "--entity", "contacts"]);
    let out = db.ok(&["-q", "report", "quality", "--entity", "contacts"]);
    assert!(out.starts_with("contacts: 1 records"), "{out}");
    let html = db.path("r.html");
    let out = db.ok(&["-q", "report", "quality", "--entity", "contacts", "--html", html.to_str().expect("p")]);
    assert!(out.is_empty(), "{out}");
}
