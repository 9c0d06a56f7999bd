use super::*;

fn record(pairs: &[(&str, &str)]) -> Record {
    let mut r = Record::new();
    r.row = 2;
    for (k, v) in pairs {
        r.push_text(&Key::from(*k), v);
    }
    r
}

fn texts(r: &Record) -> Vec<(String, String)> {
    r.fields().iter().map(|(k, v)| (k.to_string(), v.to_text())).collect()
}

const SPEC_EXAMPLE: &str = r#"
entity = "contacts"

[source]
format = "csv"
encoding = "auto"
delimiter = ","

[key]
fields = ["email"]

[fields]
first_name = "First Name"
last_name  = { from = "Last Name", transform = ["trim", "title"] }
email      = { from = "Email", type = "email" }
phone      = { from = "Phone 1", type = "phone", region = "US" }
subscribed_at = { from = "Subscription Date", type = "date", format = "%Y-%m-%d" }
"company.name" = "Company"
"address.city" = "City"
"address.country" = { from = "Country", type = "country" }
full_name  = { from = ["First Name", "Last Name"], join = " " }
"custom.gender" = { from = "性别", map = { "男" = "male", "女" = "female" } }
"custom.vip" = { from = "VIP", type = "integer", default = 0, required = false }
"#;

#[test]
fn the_spec_example_maps_a_row() {
    let m = Arc::new(Mapping::parse(SPEC_EXAMPLE).expect("spec example parses"));
    let mut mapper = Mapper::new(m);
    let input = record(&[
        ("First Name", "Ann"),
        ("Last Name", "  o'NEIL "),
        ("Email", " Ann@Example.COM"),
        ("Phone 1", "(555) 123-4567"),
        ("Subscription Date", "2021-03-04"),
        ("Company", "Acme, Inc."),
        ("City", "Boston"),
        ("Country", "United States of America"),
        ("性别", "女"),
        ("VIP", ""),
    ]);
    let mut out = Record::new();
    mapper.apply(&input, &mut out).expect("maps");
    assert_eq!(
        texts(&out),
        vec![
            ("first_name".into(), "Ann".into()),
            ("last_name".into(), "O'neil".into()),
            ("email".into(), "ann@example.com".into()),
            ("phone".into(), "+15551234567".into()),
            ("subscribed_at".into(), "2021-03-04".into()),
            ("company.name".into(), "Acme, Inc.".into()),
            ("address.city".into(), "Boston".into()),
            ("address.country".into(), "US".into()),
            ("full_name".into(), "Ann o'NEIL".into()),
            ("custom.gender".into(), "female".into()),
            ("custom.vip".into(), "0".into()),
        ]
    );
    assert_eq!(out.get("custom.vip"), Some(&Value::Number("0".into())));
}

#[test]
fn all_errors_of_a_row_are_reported_together() {
    let m = Arc::new(Mapping::parse(SPEC_EXAMPLE).expect("parses"));
    let mut mapper = Mapper::new(m);
    let input = record(&[
        ("Email", "not-an-email"),
        ("Phone 1", "abc"),
        ("Country", "Atlantis"),
        ("Subscription Date", "04/03/2021"),
    ]);
    let mut out = Record::new();
    let errs = mapper.apply(&input, &mut out).expect_err("rejects");
    let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["email", "phone", "subscribed_at", "address.country"]);
    assert_eq!(errs[0].column, "Email");
    assert_eq!(errs[0].value, "not-an-email");
    assert!(errs[2].expected.contains("%Y-%m-%d"), "{}", errs[2].expected);
}

#[test]
fn unknown_keys_are_errors_with_their_line() {
    let text = "entity = \"contacts\"\n[fields]\nemail = { frm = \"Email\" }\n";
    let e = Mapping::parse(text).expect_err("unknown key");
    assert_eq!(e.line, Some(3));
    assert!(e.message.contains("frm"), "{}", e.message);

    let text = "entity = \"contacts\"\n[source]\nformt = \"csv\"\n[fields]\nemail = \"Email\"\n";
    let e = Mapping::parse(text).expect_err("unknown key");
    assert_eq!(e.line, Some(3));
    assert!(e.message.contains("formt"), "{}", e.message);

    let text = "entity = \"contacts\"\n[fields]\nemail = \"Email\"\nfrist_name = \"First\"\n";
    let e = Mapping::parse(text).expect_err("unknown target");
    assert_eq!(e.line, Some(4));
    assert!(e.message.contains("did you mean `first_name`"), "{}", e.message);

    // A deal's contacts by their id in the other system.
    let text = "entity = \"deals\"\n[fields]\nname = \"Deal\"\n\"contact.external_id\" = \"C\"\n";
    let e = Mapping::parse(text).expect_err("unknown target");
    assert!(e.message.contains("did you mean `contacts.external_id`"), "{}", e.message);
    assert!(e.message.contains("links by the other system's id company.external_id, contacts.external_id"));

    let text = "entity = \"contacts\"\n[fields]\nemail = { from = \"E\", type = \"emial\" }\n";
    let e = Mapping::parse(text).expect_err("unknown type");
    assert_eq!(e.line, Some(3));
    assert!(e.message.contains("emial"), "{}", e.message);

    let text = "entity = \"contacts\"\n[fields]\nemail = { from = \"E\", transform = [\"strip\"] }\n";
    let e = Mapping::parse(text).expect_err("unknown transform");
    assert!(e.message.contains("strip"), "{}", e.message);

    let text = "entity = \"people\"\n[fields]\nemail = \"E\"\n";
    let e = Mapping::parse(text).expect_err("unknown entity");
    assert_eq!(e.line, Some(1));
}

#[test]
fn split_regex_enum_required_unique() {
    let text = r#"
entity = "contacts"
[fields]
tags = { from = "Tags", split = "," }
phone = { from = "Tel", transform = [{ regex = "[^0-9+]", replace = "" }] }
lifecycle_stage = { from = "Stage", type = "enum", values = ["lead", "customer"] }
email = { from = "Email", type = "email", required = true, unique = true }
"#;
    let mut mapper = Mapper::new(Arc::new(Mapping::parse(text).expect("parses")));
    let mut out = Record::new();
    let r =
        record(&[("Tags", "vip, trade show,,"), ("Tel", "+1 (555) 000"), ("Stage", "Customer"), ("Email", "a@x.com")]);
    mapper.apply(&r, &mut out).expect("maps");
    assert_eq!(out.get("tags"), Some(&Value::Array(vec![Value::Text("vip".into()), Value::Text("trade show".into())])));
    assert_eq!(out.get("phone"), Some(&Value::Text("+1555000".into())));
    assert_eq!(out.get("lifecycle_stage"), Some(&Value::Text("customer".into())));

    let mut dup = record(&[("Email", "A@x.com"), ("Stage", "lead")]);
    dup.row = 3;
    let errs = mapper.apply(&dup, &mut out).expect_err("duplicate");
    assert!(errs[0].expected.contains("row 2"), "{}", errs[0].expected);

    // A unique text field compares without case or surrounding spaces.
    let mut m2 = Mapper::new(Arc::new(
        Mapping::parse("entity = \"companies\"\n[fields]\nname = { from = \"N\", unique = true }\n").expect("parses"),
    ));
    m2.apply(&record(&[("N", "Acme")]), &mut out).expect("first");
    assert!(m2.apply(&record(&[("N", " acme ")]), &mut out).is_err(), "the same name");

    let missing = record(&[("Stage", "prospect")]);
    let errs = mapper.apply(&missing, &mut out).expect_err("required and enum");
    assert_eq!(errs.len(), 2);
    assert_eq!(errs[1].field, "email");
}

#[test]
fn reverse_restores_source_columns() {
    let text = r#"
entity = "contacts"
[fields]
full_name = { from = ["First", "Last"], join = " " }
subscribed_at = { from = "Since", type = "date", format = "%d/%m/%Y" }
"custom.gender" = { from = "性别", map = { "男" = "male", "女" = "female" } }
tags = { from = "Tags", split = ";" }
"custom.vip" = { from = "VIP", type = "boolean", map = { "Y" = "true", "N" = "false" } }
"#;
    let mut mapper = Mapper::new(Arc::new(Mapping::parse(text).expect("parses")));
    let src = record(&[
        ("First", "Li"),
        ("Last", "Lei"),
        ("Since", "05/01/2023"),
        ("性别", "男"),
        ("Tags", "a;b"),
        ("VIP", "Y"),
    ]);
    let mut mapped = Record::new();
    mapper.apply(&src, &mut mapped).expect("maps");
    assert_eq!(mapped.get("custom.vip"), Some(&Value::Bool(true)));
    let mut back = Record::new();
    mapper.reverse(&mapped, &mut back).expect("reverses");
    assert_eq!(texts(&back), texts(&src));
}

#[test]
fn reverse_gives_the_external_id_its_column_first() {
    let text = r#"
entity = "contacts"
[key]
external_id = { system = "erp", from = "Id" }
[fields]
email = "Mail"
"custom.ref" = "Id"
"#;
    let mapper = Mapper::new(Arc::new(Mapping::parse(text).expect("parses")));
    let stored = record(&[("email", "a@x.com"), ("custom.ref", "99"), ("external_id.erp", "7")]);
    let mut back = Record::new();
    mapper.reverse(&stored, &mut back).expect("reverses");
    assert_eq!(texts(&back), [("Id".to_string(), "7".to_string()), ("Mail".to_string(), "a@x.com".to_string())]);
}

#[test]
fn missing_columns_are_named_with_a_hint() {
    let mapping = Mapping::parse(SPEC_EXAMPLE).expect("parses");
    let cols: Vec<Key> =
        ["First Name", "Last Name", "Email", "Phone", "Subscription Date", "Company", "City", "Country", "性别", "VIP"]
            .iter()
            .map(|s| Key::from(*s))
            .collect();
    let e = mapping.check_columns(&cols).expect_err("Phone 1 is missing");
    assert!(e.message.contains("\"Phone 1\""), "{}", e.message);
    assert!(e.message.contains("did you mean \"Phone\""), "{}", e.message);
}

#[test]
fn phone_region_can_come_from_each_rows_country() {
    let text = r#"
entity = "contacts"
[fields]
phone = { from = "Tel", type = "phone", region = "US", region_from = "Country" }
"#;
    let mut mapper = Mapper::new(Arc::new(Mapping::parse(text).expect("parses")));
    let mut out = Record::new();
    for (tel, country, want) in [
        ("138 0013 8000", "中国", "+8613800138000"),
        ("020 7946 0958", "United Kingdom", "+442079460958"),
        ("(555) 123-4567", "", "+15551234567"),
    ] {
        mapper.apply(&record(&[("Tel", tel), ("Country", country)]), &mut out).expect("maps");
        assert_eq!(out.get("phone"), Some(&Value::Text(want.into())), "{tel} in {country}");
    }
}

#[test]
fn a_spreadsheet_date_time_is_on_the_mappings_clock() {
    // A cell's date-time carries no offset, as the same text in a CSV.
    let m = Arc::new(
        Mapping::parse(
            "entity = \"contacts\"\n[fields]\nsubscribed_at = { from = \"At\", type = \"datetime\", timezone = \"Asia/Shanghai\" }\n",
        )
        .expect("parses"),
    );
    let mut mapper = Mapper::new(m);
    let civil = jiff::civil::date(2024, 1, 1).at(0, 0, 1, 0);
    let mut cell = Record::new();
    cell.push(Key::from("At"), Value::DateTime(crate::value::DateTime { civil, offset: None }));
    let mut out = Record::new();
    mapper.apply(&cell, &mut out).expect("maps");
    assert_eq!(out.get("subscribed_at").map(Value::to_text).as_deref(), Some("2024-01-01T00:00:01+08:00"));
    mapper.apply(&record(&[("At", "2024-01-01 00:00:01")]), &mut out).expect("maps");
    assert_eq!(out.get("subscribed_at").map(Value::to_text).as_deref(), Some("2024-01-01T00:00:01+08:00"));
}

#[test]
fn defaults_formats_and_replacements_are_checked_when_the_mapping_loads() {
    let load = |field: &str| Mapping::parse(&format!("entity = \"contacts\"\n[fields]\n{field}\n"));
    for (field, said) in [
        (r#""custom.a" = { from = "A", type = "integer", default = "abc" }"#, "does not fit the field's type"),
        (r#""custom.b" = { from = "B", type = "boolean", default = 5 }"#, "does not fit the field's type"),
        (r#""custom.c" = { from = "C", type = "enum", values = ["x"], default = "y" }"#, "does not fit"),
        (r#"subscribed_at = { from = "D", type = "date", format = "%Y" }"#, "cannot read a whole date back"),
        (r#"first_name = { from = "F", transform = [{ regex = "([0-9]+)", replace = "$1x" }] }"#, "`$1x`"),
        (r#"first_name = { from = "F", transform = [{ regex = "(?P<n>[0-9]+)", replace = "${m}" }] }"#, "`$m`"),
    ] {
        let e = load(field).expect_err(field).to_string();
        assert!(e.contains(said) && e.contains("line"), "{field}: {e}");
    }
    for ok in [
        r#""custom.a" = { from = "A", type = "integer", default = 0 }"#,
        r#"first_name = { from = "F", transform = [{ regex = "([0-9]+)(?P<t>x)", replace = "${1}y$t$$" }] }"#,
        r#"subscribed_at = { from = "D", type = "date", format = "%d/%m/%Y" }"#,
    ] {
        load(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
}

#[test]
fn a_row_whose_country_is_none_says_so_for_its_phone() {
    let m = Mapping::parse(
        "entity = \"contacts\"\n[fields]\nphone = { from = \"Tel\", type = \"phone\", region = \"US\", region_from = \"Ctry\" }\n",
    )
    .expect("parses");
    let mut mapper = Mapper::new(Arc::new(m));
    let mut out = Record::new();
    let errs = mapper.apply(&record(&[("Tel", "030 1234567"), ("Ctry", "Narnia")]), &mut out).expect_err("no country");
    assert!(errs[0].expected.contains("\"Narnia\", which is no country"), "{}", errs[0].expected);
    // With its own country code the number needs none; an empty country
    // falls back to `region`; a known one is used.
    mapper.apply(&record(&[("Tel", "+49 30 1234567"), ("Ctry", "Narnia")]), &mut out).expect("international");
    mapper.apply(&record(&[("Tel", "(415) 555-0100"), ("Ctry", "")]), &mut out).expect("region");
    mapper.apply(&record(&[("Tel", "030 1234567"), ("Ctry", "Germany")]), &mut out).expect("German");
    assert_eq!(out.get("phone").map(Value::to_text).as_deref(), Some("+49301234567"));
}

#[test]
fn numbers_with_a_decimal_comma_read_and_go_back_so() {
    let text = r#"
entity = "deals"
[fields]
name = "Name"
amount = { from = "Betrag", type = "decimal", decimal_separator = "," }
"custom.seats" = { from = "Plätze", type = "integer", decimal_separator = "," }
"#;
    let mut mapper = Mapper::new(Arc::new(Mapping::parse(text).expect("parses")));
    for (betrag, amount) in [
        ("1.234,56", "1234.56"),
        ("12.345.678,90", "12345678.90"),
        ("0,5", "0.5"),
        ("-2.000,00", "-2000.00"),
        ("1 234,5", "1234.5"),
        ("1.234", "1234"),
        ("7", "7"),
    ] {
        let mut mapped = Record::new();
        mapper.apply(&record(&[("Name", "x"), ("Betrag", betrag), ("Plätze", "1.200")]), &mut mapped).expect(betrag);
        assert_eq!(mapped.get("amount"), Some(&Value::Number(amount.into())), "{betrag}");
        assert_eq!(mapped.get("custom.seats"), Some(&Value::Number("1200".into())));
    }
    for bad in ["1,234.56", "1.23,4", "1,2,3", "12.34"] {
        let mut mapped = Record::new();
        let e = mapper.apply(&record(&[("Name", "x"), ("Betrag", bad)]), &mut mapped).expect_err(bad);
        assert!(e[0].expected.contains("written with a decimal comma"), "{bad}: {e:?}");
    }
    // A spreadsheet's number is one already.
    let mut src = Record::new();
    src.push(Key::from("Name"), Value::Text("x".into()));
    src.push(Key::from("Betrag"), Value::Number("1234.5".into()));
    let mut mapped = Record::new();
    mapper.apply(&src, &mut mapped).expect("a number");
    assert_eq!(mapped.get("amount"), Some(&Value::Number("1234.5".into())));
    let mut back = Record::new();
    mapper.reverse(&mapped, &mut back).expect("reverses");
    assert_eq!(back.get("Betrag").map(Value::to_text).as_deref(), Some("1234,5"));
    let e = Mapping::parse("entity = \"deals\"\n[fields]\nname = { from = \"N\", decimal_separator = \",\" }\n")
        .expect_err("not a number field");
    assert!(e.to_string().contains("applies to type = \"decimal\""), "{e}");
}

#[test]
fn value_maps_read_numbers_and_booleans_by_their_text() {
    // A JSON file or a spreadsheet gives `1` and `true` as a number and a
    // boolean, where a CSV file gives text: the map reads both alike.
    let m = Mapping::parse(
        "entity = \"contacts\"\n[fields]\n\
         lifecycle_stage = { from = \"stage\", map = { \"1\" = \"lead\", \"2\" = \"customer\" } }\n\
         \"custom.active\" = { from = \"active\", map = { \"TRUE\" = \"yes\", \"false\" = \"no\" } }\n\
         \"custom.score\" = { from = \"score\", type = \"decimal\", map = { \"n/a\" = \"\" } }\n",
    )
    .expect("parses");
    let mut mapper = Mapper::new(Arc::new(m));
    for (stage, active, score, expected) in [
        (Value::Number("1".into()), Value::Bool(true), Value::Number("2.50".into()), ("lead", "yes", "2.50")),
        (Value::Text("2".into()), Value::Text("false".into()), Value::Text("n/a".into()), ("customer", "no", "")),
        // A number the map does not name keeps its type's reading.
        (Value::Number("3".into()), Value::Bool(false), Value::Number("7.5".into()), ("3", "no", "7.5")),
    ] {
        let mut input = Record::new();
        input.push(Key::from("stage"), stage);
        input.push(Key::from("active"), active);
        input.push(Key::from("score"), score);
        let mut out = Record::new();
        mapper.apply(&input, &mut out).expect("maps");
        let got = |k: &str| out.get(k).map(Value::to_text).unwrap_or_default();
        assert_eq!(
            (got("lifecycle_stage").as_str(), got("custom.active").as_str(), got("custom.score").as_str()),
            expected
        );
    }
}

#[test]
fn a_link_by_ids_names_its_system() {
    let bare = "entity = \"activities\"\n[fields]\nsubject = \"s\"\n\"contact.external_id\" = \"cid\"\n";
    let e = Mapping::parse(bare).expect_err("no system");
    assert!(e.to_string().contains("write `contact.external_id.<system>`"), "{e}");
    let named = "entity = \"activities\"\n[fields]\nsubject = \"s\"\n\"contact.external_id.crm\" = \"cid\"\n";
    let m = Mapping::parse(named).expect("the field names it");
    assert_eq!((m.id_system(), &*m.fields[1].target), (Some("crm"), "contact.external_id"));
    let keyed = "entity = \"activities\"\n[key]\nexternal_id = { system = \"crm\", from = \"id\" }\n[fields]\n\
                 subject = \"s\"\n\"contact.external_id\" = \"cid\"\n";
    assert_eq!(Mapping::parse(keyed).expect("the key names it").id_system(), Some("crm"));
}
