//! `crmsync mapping suggest`.

use super::*;

fn suggest(file: &str, entity: &str) -> String {
    let out = crmsync().args(["mapping", "suggest", file, "--entity", entity]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Imports `file` through the suggested mapping `text`, saved beside it
/// as a user would save it.
fn import_through(db: &crate::db::Db, file: &str, text: &str) -> serde_json::Value {
    let m = format!("{file}.toml");
    std::fs::write(&m, text).expect("mapping");
    db.json(&["import", file, "--mapping", &m])
}

/// Asserts that the suggested mapping `text` holds each of `lines`.
fn has_lines(text: &str, lines: &[&str]) {
    for line in lines {
        assert!(text.contains(line), "{line} in:\n{text}");
    }
}

#[test]
fn suggests_a_usable_mapping_for_a_customer_file() {
    let text = suggest(&corpus("customers-datablist/customers-100.csv"), "contacts");
    has_lines(
        &text,
        &[
            "first_name = \"First Name\"",
            "email = { from = \"Email\", type = \"email\" }",
            "phone = { from = \"Phone 1\", type = \"phone\", region = \"US\" }",
            "subscribed_at = { from = \"Subscription Date\", type = \"date\" }",
            "\"company.name\" = \"Company\"",
            "\"address.country\" = { from = \"Country\", type = \"country\" }",
            "\"custom.customer_id\" = \"Customer Id\"",
        ],
    );
    assert!(text.contains("fields = [\"email\"]"));
    // The mapping it writes runs as it stands.
    let dir = tempfile::tempdir().expect("tempdir");
    let m = dir.path().join("m.toml");
    std::fs::write(&m, &text).expect("write");
    let s = convert_summary(&[
        &corpus("customers-datablist/customers-100.csv"),
        dir.path().join("o.ndjson").to_str().expect("p"),
        "--mapping",
        m.to_str().expect("p"),
    ]);
    // The generated sample's invalid phones (North American area codes
    // starting with 0 or 1: 114, 041; `007.155.3406x553`, seven digits
    // after Russia's +7) are rejected, as the mapping's comment warned;
    // nothing else is.
    assert_eq!(s["written"].as_u64().unwrap_or(0) + s["rejected"].as_u64().unwrap_or(0), 100, "{s}");
    assert_eq!(s["rejected"].as_u64(), Some(36), "{s}");
    assert!(text.contains("sampled values would be rejected as phone"), "{text}");
}

#[test]
fn chinese_headers_in_gbk_with_ambiguous_dates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "姓名,手机,邮箱,公司,城市,省份,地址,注册日期,性别\n张伟,13800138000,zhang@example.cn,华为,深圳,广东,科技园路1号,03/04/2023,男\n李娜,139-1234-5678,li@example.cn,阿里巴巴,杭州,浙江,文一西路969号,05/06/2023,女\n";
    let f = dir.path().join("展会.csv");
    std::fs::write(&f, encoding_rs::GBK.encode(text).0).expect("write");
    let m = suggest(f.to_str().expect("p"), "contacts");
    for line in [
        "full_name = \"姓名\"",
        "mobile = { from = \"手机\", type = \"phone\", region = ",
        "email = { from = \"邮箱\"",
        "\"company.name\" = \"公司\"",
        "\"address.city\" = \"城市\"",
        "\"address.region\" = \"省份\"",
        "\"address.street\" = \"地址\"",
        "\"custom.性别\" = \"性别\"",
        "encoding = \"gbk\"",
    ] {
        assert!(m.contains(line), "{line} in:\n{m}");
    }
    assert!(m.contains("AMBIGUOUS"), "{m}");
    assert!(m.contains("subscribed_at = \"注册日期\""), "the ambiguous column stays text: {m}");
}

#[test]
fn a_header_that_qualifies_a_field_is_not_that_field() {
    // Odoo's partners: `Company Type` says whether a partner is a company;
    // `Related Company` is the contact's company.
    let m = suggest(&corpus("crm-samples/odoo/res.partner.csv"), "contacts");
    assert!(m.contains("\"company.name\" = \"Related Company\""), "{m}");
    assert!(m.contains("\"custom.company_type\" = \"Company Type\""), "{m}");
    // A company's phone is no company name; Salesforce's mailing address
    // is the contact's address.
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("sf.csv");
    std::fs::write(
        &f,
        "Company Phone,Mailing City,Mailing Zip/Postal Code,Account Type\n+1 415 555 0100,Oslo,0150,x\n",
    )
    .expect("write");
    let m = suggest(f.to_str().expect("p"), "contacts");
    assert!(!m.contains("\"company.name\" = \"Company Phone\""), "{m}");
    assert!(m.contains("\"address.city\" = \"Mailing City\""), "{m}");
    assert!(m.contains("\"address.postal_code\" = \"Mailing Zip/Postal Code\""), "{m}");
    assert!(!m.contains("owner = \"Account Type\""), "{m}");
    // HubSpot's and Salesforce's deal columns.
    let f = dir.path().join("deals.csv");
    std::fs::write(&f, "Deal Name,Amount,Currency ISO Code,Deal owner,Associated Company\nBig,10.00,EUR,Ann,Acme\n")
        .expect("write");
    let m = suggest(f.to_str().expect("p"), "deals");
    for line in
        ["currency = \"Currency ISO Code\"", "owner = \"Deal owner\"", "\"company.name\" = \"Associated Company\""]
    {
        assert!(m.contains(line), "{line} in:\n{m}");
    }
    // A phone column headed in Chinese is dialled in China, when no
    // country column says otherwise.
    let f = dir.path().join("cn.csv");
    std::fs::write(&f, "姓名,公司电话\n张伟,010-6552 9988\n李娜,021-5021 3344\n").expect("write");
    let m = suggest(f.to_str().expect("p"), "contacts");
    assert!(m.contains("region = \"CN\""), "{m}");
}

#[test]
fn renamed_headers_are_matched_fuzzily_and_marked() {
    let m = suggest(&corpus("customers-datablist/organizations-100-renamed-headers.csv"), "companies");
    assert!(m.contains("name = \"Organization-Name\""), "{m}");
    assert!(m.contains("domain = { from = \"Org-Website\""), "{m}");
    assert!(
        m.lines().any(|l| l.starts_with("\"address.country\"") && l.contains("Country-N") && l.contains("CHECK")),
        "{m}"
    );
}

#[test]
fn writes_to_a_file_and_refuses_unknown_entities() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = dir.path().join("m.toml");
    crmsync()
        .args([
            "mapping",
            "suggest",
            &corpus("xml/CustomersOrders.xml"),
            "--entity",
            "companies",
            "-o",
            m.to_str().expect("p"),
        ])
        .assert()
        .success();
    let text = std::fs::read_to_string(&m).expect("mapping");
    assert!(text.contains("record_path = \"/Root/Customers/Customer\""), "{text}");
    assert!(text.contains("name = \"CompanyName\""), "{text}");
    let out = crmsync()
        .args(["mapping", "suggest", &corpus("xml/CustomersOrders.xml"), "--entity", "people"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_country_column_in_chinese_gives_phones_their_region() {
    // 中国 is two characters: a country name all the same.
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("s.csv");
    std::fs::write(&f, "电话,国家\n010-12345678,中国\n021-87654321,中国\n").expect("write");
    let m = suggest(f.to_str().expect("p"), "contacts");
    assert!(m.contains("phone = { from = \"电话\", type = \"phone\", region = \"CN\""), "{m}");
    assert!(m.contains("\"address.country\" = { from = \"国家\", type = \"country\" }"), "{m}");
    assert!(!m.contains("would be rejected"), "{m}");
}

#[test]
fn a_mapping_suggested_for_a_chosen_sheet_reads_that_sheet() {
    // The workbook's first sheet is a cover page; the contacts are on the second.
    let book = testdata("spreadsheets/contacts.ods");
    let book = book.to_str().expect("path");
    let out =
        crmsync().args(["mapping", "suggest", book, "--entity", "contacts", "--sheet", "2"]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.contains("sheet = \"Contacts\""), "{text}");
    let dir = tempfile::tempdir().expect("tempdir");
    let m = dir.path().join("m.toml");
    std::fs::write(&m, &text).expect("write");
    let s =
        convert_summary(&[book, dir.path().join("o.ndjson").to_str().expect("p"), "--mapping", m.to_str().expect("p")]);
    assert!(s["written"].as_u64().is_some_and(|n| n > 0), "{s}");
    // Left to the default, the first sheet, it names none.
    assert!(!suggest(&corpus("customers-datablist/customers-100.csv"), "contacts").contains("sheet ="));
}

#[test]
fn the_key_goes_to_the_column_that_holds_e_mails_not_to_an_empty_one() {
    // Atomic CRM's export has `email_work`, empty in every row, before
    // `email_other`, which holds the addresses; and a numeric `company_id`.
    let file = corpus("crm-samples/atomic-crm/test-data-contacts.csv");
    let text = suggest(&file, "contacts");
    assert!(text.contains("email = { from = \"email_other\", type = \"email\" }"), "{text}");
    assert!(text.contains("\"custom.company_id\" = \"company_id\""), "{text}");
    let dir = tempfile::tempdir().expect("tempdir");
    let m = dir.path().join("m.toml");
    std::fs::write(&m, &text).expect("write");
    let s = convert_summary(&[
        &file,
        dir.path().join("o.ndjson").to_str().expect("p"),
        "--mapping",
        m.to_str().expect("p"),
    ]);
    assert_eq!((s["written"].as_u64(), s["rejected"].as_u64()), (Some(500), Some(0)), "{s}");
}

#[test]
fn headers_in_two_languages_are_matched_by_either_half() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("bi.csv");
    std::fs::write(
        &f,
        "姓名 Name,邮箱/Email,手机(Mobile),公司名称 Company,职务 Title,城市 City\n张伟,zw@x.cn,13800138000,华为,经理,深圳\n",
    )
    .expect("write");
    let text = suggest(f.to_str().expect("path"), "contacts");
    has_lines(
        &text,
        &[
            "full_name = \"姓名 Name\"",
            "email = { from = \"邮箱/Email\", type = \"email\" }",
            // Bare digits under a phone header are a number to dial, here a Chinese mobile.
            "mobile = { from = \"手机(Mobile)\", type = \"phone\", region = \"CN\" }",
            "\"company.name\" = \"公司名称 Company\"",
            "title = \"职务 Title\"",
            "\"address.city\" = \"城市 City\"",
            "fields = [\"email\"]",
        ],
    );
}

#[test]
fn a_header_below_a_report_preamble_is_read_from_the_row_given() {
    // A CRM report's export: its title and the date it was made above the
    // header, each in more than one cell, so no title row is recognised.
    let db = crate::db::Db::sqlite();
    let csv = db.file(
        "report.csv",
        "Leads from Expo 2024,,\nExported: 2024-05-01,by admin,\n\nName,Email,Phone\nAda,ada@example.com,+44 20 7946 0000\nBob,bob@,+1 212 555 0123\n",
    );
    let out = crmsync()
        .args(["mapping", "suggest", &csv, "--entity", "contacts", "--header-row", "4"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.contains("header_row = 4") && text.contains("email = \"Email\""), "{text}");
    // Not told, suggest finds the header below the title and the date, and
    // says so; a header with an empty name is still the header.
    let found = crmsync().args(["mapping", "suggest", &csv, "--entity", "contacts"]).output().expect("runs");
    assert_eq!(String::from_utf8_lossy(&found.stdout), text);
    assert!(stderr_of(&found).contains("the header looks to be on row 4"), "{}", stderr_of(&found));
    // A title beside the date it was made (`Generated 2024-03-31`) and a
    // line of filters, each across the table's width with empty cells.
    let titled = db.file(
        "titled.csv",
        "Contacts export,Generated 2024-03-31,,,,\nFilter: all,Owner: me,,,,\n\
         First Name,Last Name,Email,Phone,Company,City\nAnn,Lee,ann@x.com,+1 212 555 0143,Acme,Boston\n",
    );
    let out = crmsync().args(["mapping", "suggest", &titled, "--entity", "contacts"]).output().expect("runs");
    let titled_text = String::from_utf8_lossy(&out.stdout);
    assert!(
        titled_text.contains("header_row = 3") && titled_text.contains("first_name = \"First Name\""),
        "{titled_text}"
    );
    assert!(!titled_text.contains("Contacts export"), "{titled_text}");
    let gap = db.file("gap.csv", "Name,Email,,Phone\nAnn,ann@x.com,VIP,+1 212 555 0100\n");
    let out = crmsync().args(["mapping", "suggest", &gap, "--entity", "contacts"]).output().expect("runs");
    let plain = String::from_utf8_lossy(&out.stdout);
    assert!(!plain.contains("header_row") && plain.contains("from = \"Email\""), "{plain}");
    let m = db.file("m.toml", &text);
    // The mapping reads the file as suggested; rows keep the file's numbers.
    let rejects = db.path("r.csv");
    let s = db.json(&["import", &csv, "--mapping", &m, "--rejects", rejects.to_str().expect("p")]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(1), Some(1)), "{s}");
    let r = std::fs::read_to_string(&rejects).expect("rejects");
    // (A cell Excel would take for a formula is written as exports write it.)
    assert!(r.contains("bob@,'+1 212 555 0123,6,email"), "{r}");
    // Without the header row, the error says where the mapping's columns are.
    let bare = db.file("bare.toml", &text.replace("header_row = 4", ""));
    let out = db.run(&["import", &csv, "--mapping", &bare]);
    assert!(!out.status.success());
    assert!(
        stderr_of(&out)
            .contains("The columns the mapping reads are on row 4, below lines above the header: pass --header-row 4"),
        "{}",
        stderr_of(&out)
    );

    // A workbook of the same (written through a CSV read without a header,
    // whose column names make row 1).
    let plain = db.file(
        "plain.csv",
        "Leads from Expo 2024,,\nExported:,2024-05-01,by admin\nName,Email,Phone\nAda,ada@example.com,+44 20 7946 0000\n",
    );
    let book = db.path("report.xlsx");
    convert_summary(&[&plain, book.to_str().expect("p"), "--no-header"]);
    let book = book.to_str().expect("p");
    let o = db.path("o.ndjson");
    let out = crmsync().args(["convert", book, o.to_str().expect("p"), "--mapping", &bare]).output().expect("runs");
    assert!(stderr_of(&out).contains("on row 4, below lines above the header"), "{}", stderr_of(&out));
    convert_summary(&[book, o.to_str().expect("p"), "--header-row", "4"]);
    assert_eq!(
        std::fs::read_to_string(&o).expect("out"),
        "{\"Name\":\"Ada\",\"Email\":\"ada@example.com\",\"Phone\":\"+44 20 7946 0000\"}\n"
    );
    // A row above the header may hold line ends in quotes: rows are
    // counted as a spreadsheet shows them, lines and bytes as the file has
    // them.
    let quoted = db.file(
        "quoted.csv",
        "sep=;\nReport;x\n\"Multi\nline \"\"quoted\"\" note\";y\nName;Email\nAda;ada@x\nBob;\"b@x\"z\n",
    );
    let out = crmsync().args(["convert", &quoted, o.to_str().expect("p"), "--header-row", "3"]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(std::fs::read_to_string(&o).expect("out"), "{\"Name\":\"Ada\",\"Email\":\"ada@x\"}\n");
    assert!(
        stderr_of(&out)
            .contains("row 5 (line 7): text follows a closing quote in column \"Email\" (byte 76 of the file;"),
        "{}",
        stderr_of(&out)
    );
    // Lines that end with a bare CR (classic Mac) are rows as well: the
    // first cut read the whole file as one row and found no header.
    let mac = db.file("mac.csv", "Leads from Expo\rExported: 2024-05-01\rName,Email\rAda,ada@x\r\"Bob\rMa\",b@x\r");
    let out = crmsync().args(["convert", &mac, o.to_str().expect("p"), "--header-row", "3"]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        std::fs::read_to_string(&o).expect("out"),
        "{\"Name\":\"Ada\",\"Email\":\"ada@x\"}\n{\"Name\":\"Bob\\nMa\",\"Email\":\"b@x\"}\n"
    );
    // Past the end, before the data, on a format whose records name their
    // fields, beside --no-header, or a quote above the header never closed
    // (it read to the end): each says what is wrong.
    let open = db.file("open.csv", "\u{feff}Title\nA,\"5 floppy\nname,email\nAnn,a@x.com\n");
    for (args, said) in [
        (vec![open.as_str(), "--header-row", "3"], "line 2: a quoted field opened at byte offset 11 is never closed"),
        (vec![csv.as_str(), "--header-row", "9"], "the header is to be on row 9, but the file has 6 row(s)"),
        (vec![book, "--header-row", "6"], "the header is to be on row 6, but the sheet's rows with data are 1 to 5"),
        (vec![book, "--header-row", "0"], "expected a row number (rows count from 1), not \"0\""),
        (vec![csv.as_str(), "--header-row", "2", "--no-header"], "cannot be used with"),
    ] {
        let out = crmsync().arg("convert").args(&args).arg(o.to_str().expect("p")).output().expect("runs");
        assert_ne!(out.status.code(), Some(0));
        assert!(stderr_of(&out).contains(said), "{args:?}: {}", stderr_of(&out));
    }
    let json = db.file("r.json", "[{\"a\":1}]");
    let out = crmsync().args(["convert", &json, o.to_str().expect("p"), "--header-row", "2"]).output().expect("runs");
    assert!(stderr_of(&out).contains("a header row (2) is for CSV files and spreadsheets"), "{}", stderr_of(&out));
}

#[test]
fn nested_fields_are_named_by_their_place_in_the_object() {
    let db = crate::db::Db::sqlite();
    let f = db.file(
        "n.json",
        r#"[{"email":"a@x.com","name":{"first":"Ann","last":"Lee"},"address":{"street":"1 Main","zip":"02134","geo":{"lng":"-71.2"}}}]"#,
    );
    let text = suggest(&f, "contacts");
    has_lines(
        &text,
        &[
            "first_name = \"name.first\"",
            "last_name = \"name.last\"",
            "\"address.postal_code\" = \"address.zip\"",
            "\"address.street\" = \"address.street\"",
            "\"custom.address_geo_lng\" = { from = \"address.geo.lng\"",
        ],
    );
}

#[test]
fn activities_in_the_files_own_words_and_local_times_are_mapped_with_a_check() {
    let db = crate::db::Db::sqlite();
    let f = db.file(
        "act.csv",
        "类型,主题,时间,联系人邮箱\n电话,回访,2024-03-10 08:30:00,a@x.cn\n会议,演示,2024-03-11 14:00:00,a@x.cn\nnote,x,2024-03-12 09:00:00,a@x.cn\n",
    );
    let text = suggest(&f, "activities");
    has_lines(
        &text,
        &[
            "kind = { from = \"类型\", map = { \"电话\" = \"call\", \"会议\" = \"meeting\" } }",
            "they are read as UTC; if they are local times, add timezone = \"Asia/Shanghai\"",
            "fields = []  # CHECK: activities have no name to match by",
        ],
    );
    // The suggested mapping reads every row.
    let m = db.path("act.toml");
    std::fs::write(&m, &text).expect("mapping");
    db.file("c.csv", "email\na@x.cn\n");
    db.ok(&["import", db.path("c.csv").to_str().expect("p"), "--entity", "contacts"]);
    let s = db.json(&["import", &f, "--mapping", m.to_str().expect("p")]);
    assert_eq!(s["inserted"].as_u64(), Some(3), "{s}");
    // German words and headers; a word that is no kind is named, the rest
    // mapped all the same.
    let de = db.file(
        "de.csv",
        "Art,Betreff,Datum,E-Mail\nAnruf,a,2024-01-01,a@x.cn\nTermin,b,2024-01-02,a@x.cn\n微信,d,2024-01-04,a@x.cn\n",
    );
    let text = suggest(&de, "activities");
    has_lines(
        &text,
        &[
            "kind = { from = \"Art\", map = { \"Anruf\" = \"call\", \"Termin\" = \"meeting\" } }",
            "# ^ \"微信\" is no kind of call, email, meeting, note",
            "subject = \"Betreff\"",
            "\"contact.email\" = { from = \"E-Mail\", type = \"email\" }  # header is a known name",
        ],
    );
    let deals = db.file("d.csv", "Deal Name,Amount\nRenewal,100\n");
    let text = suggest(&deals, "deals");
    assert!(text.contains("fields = [\"name\"]  # CHECK: deals are matched by name"), "{text}");
}

#[test]
fn european_decimals_are_suggested_read_and_written_back_with_their_comma() {
    let db = crate::db::Db::sqlite();
    let f = db.file("deals.csv", "Name;Betrag\nA;1.234,56\nB;12.345.678,90\nC;0,5\nD;-2.000,00\nE;7\n");
    let text = suggest(&f, "deals");
    assert!(text.contains("decimal_separator = \",\""), "{text}");
    let m = db.path("deals.toml");
    std::fs::write(&m, &text).expect("mapping");
    let m = m.to_str().expect("p");
    let s = db.json(&["import", &f, "--mapping", m]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(5), Some(0)), "{s}");
    let stored = db.ok(&["export", "--entity", "deals", "--fields", "name,amount"]);
    assert_eq!(stored, "name,amount\nA,1234.56\nB,12345678.90\nC,0.5\nD,-2000.00\nE,7\n");
    let back = db.ok(&["export", "--entity", "deals", "--mapping", m, "--format", "csv"]);
    assert_eq!(back, "Name;Betrag\nA;1234,56\nB;12345678,90\nC;0,5\nD;-2000,00\nE;7\n");
    // A file's decimals run backwards alike (a CSV's text, not only the
    // store's numbers).
    let plain = db.file("plain.csv", "name,amount\nT1,1.234\nT2,2.5\n");
    let out = db.path("de.csv");
    db.ok(&["convert", &plain, out.to_str().expect("p"), "--mapping", m, "--reverse"]);
    let de = std::fs::read_to_string(&out).expect("de");
    assert!(de.contains("T1;1,234") && de.contains("T2;2,5"), "{de}");
    // A workbook's cells stay numbers.
    let x = db.path("de.xlsx");
    db.ok(&["export", "--entity", "deals", "--mapping", m, "-o", x.to_str().expect("p")]);
    let read = crate::crmsync().args(["convert", x.to_str().expect("p"), "-", "--to", "csv"]).output().expect("runs");
    let text = String::from_utf8_lossy(&read.stdout);
    assert!(text.contains("A,1234.56") && text.contains("D,-2000.00"), "{text}");
}

#[test]
fn points_between_thousands_are_read_so_where_the_file_writes_decimal_commas() {
    let db = crate::db::Db::sqlite();
    // `Umsatz` alone could be decimals; `Rabatt` shows the file's commas.
    let f = db.file("de.csv", "E-Mail;Umsatz;Rabatt\r\na@x.de;12.000;2,5\r\nb@x.de;1.500;10\r\nc@x.de;3.250;0,75\r\n");
    let text = suggest(&f, "contacts");
    assert!(
        text.contains("\"custom.umsatz\" = { from = \"Umsatz\", type = \"decimal\", decimal_separator = \",\" }"),
        "{text}"
    );
    let s = import_through(&db, &f, &text);
    assert_eq!(s["inserted"].as_u64(), Some(3), "{s}");
    let stored = db.ok(&["export", "--entity", "contacts", "--fields", "email,custom.umsatz,custom.rabatt"]);
    assert_eq!(stored, "email,custom.umsatz,custom.rabatt\na@x.de,12000,2.5\nb@x.de,1500,10\nc@x.de,3250,0.75\n");
    // Without other evidence, the reading is marked to check.
    let alone = db.file("alone.csv", "Email;Umsatz\na@x.de;12.000\nb@x.de;1.500\n");
    let text = suggest(&alone, "contacts");
    assert!(text.contains("# CHECK: "), "{text}");
    assert!(
        text.contains("if the point is between thousands (12.000 for twelve thousand), add decimal_separator"),
        "{text}"
    );
    // Decimals of other widths are decimals.
    let plain = db.file("plain.csv", "Email,Score\na@x.de,1.5\nb@x.de,12.25\n");
    assert!(!suggest(&plain, "contacts").contains("thousand"));
}

#[test]
fn a_list_is_one_column_so_no_item_past_the_sampled_ones_is_dropped() {
    let db = crate::db::Db::sqlite();
    let sample = db.file("t.json", r#"[{"email":"a@x.com","tags":["vip","b2b"]},{"email":"b@x.com","tags":["gov"]}]"#);
    let text = suggest(&sample, "contacts");
    assert!(text.contains("tags = \"tags\"") && !text.contains("tags.0"), "{text}");
    let m = db.path("t.toml");
    std::fs::write(&m, &text).expect("mapping");
    let longer = db.file("t4.json", r#"[{"email":"c@x.com","tags":["vip","b2b","gov","x"]}]"#);
    db.ok(&["import", &longer, "--mapping", m.to_str().expect("p")]);
    assert_eq!(
        db.ok(&["export", "--entity", "contacts", "--fields", "email,tags"]),
        "email,tags\nc@x.com,vip; b2b; gov; x\n"
    );
    // A list goes to no field of one value: `phones` is no phone.
    let phones = db.file(
        "ph.json",
        r#"[{"email":"a@x.com","phones":["+1 617 555 0100"]},{"email":"b@x.com","phones":["+1 617 555 0101","+1 617 555 0102"]}]"#,
    );
    let text = suggest(&phones, "contacts");
    assert!(text.contains("\"custom.phones\" = \"phones\"") && !text.contains("phone = "), "{text}");
    // An XML element repeated in one record and not in another: one column.
    let xml = db.file(
        "c.xml",
        "<customers><customer><email>a@x.cn</email><tag>vip</tag><tag>b2b</tag></customer>\
         <customer><email>b@x.cn</email><tag>vip</tag></customer></customers>",
    );
    let text = suggest(&xml, "contacts");
    assert!(text.contains("tags = \"tag\"") && !text.contains("tag.0"), "{text}");
    // Converted to CSV through it, a list is one cell, as an export writes it.
    let xm = db.path("x.toml");
    std::fs::write(&xm, &text).expect("mapping");
    let out = crate::crmsync()
        .args(["convert", &xml, "-", "--to", "csv", "--mapping", xm.to_str().expect("p")])
        .output()
        .expect("runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "email,tags\na@x.cn,vip; b2b\nb@x.cn,vip\n",
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn an_address_objects_zip_is_the_postal_code_before_a_billing_one() {
    let db = crate::db::Db::sqlite();
    let f = db.file(
        "n2.json",
        r#"[{"email":"a@x.com","address":{"zip":"02134","city":"Boston"},"billing":{"zip":"11111"}}]"#,
    );
    let text = suggest(&f, "contacts");
    assert!(text.contains("\"address.postal_code\" = \"address.zip\""), "{text}");
}

#[test]
fn phones_of_taiwan_japan_and_hong_kong_are_not_read_as_chinese() {
    let db = crate::db::Db::sqlite();
    let write = |name: &str, bytes: &[u8]| {
        let p = db.path(name);
        std::fs::write(&p, bytes).expect("write");
        p.to_str().expect("p").to_string()
    };
    // A Big5 file is Taiwan's, a Shift_JIS file Japan's: their headers in
    // Han characters alone say nothing of it.
    let tw = write("tw.csv", &encoding_rs::BIG5.encode("姓名,電話,電子郵件\n陳大文,0912-345-678,chen@x.tw\n").0);
    let text = suggest(&tw, "contacts");
    for line in ["phone = { from = \"電話\", type = \"phone\", region = \"TW\" }", "email = { from = \"電子郵件\""]
    {
        assert!(text.contains(line), "{line} in:\n{text}");
    }
    let jp = write("jp.csv", &encoding_rs::SHIFT_JIS.encode("氏名,電話番号\n山田太郎,090-1234-5678\n").0);
    assert!(suggest(&jp, "contacts").contains("type = \"phone\", region = \"JP\" }"));
    // Traditional headers are the Chinese names; in UTF-8, Taiwan's.
    let tw = db.file("tw2.csv", "電子郵件,姓名,手機,公司名稱\nchen@x.tw,陳大文,0912-345-678,台積電\n");
    let text = suggest(&tw, "contacts");
    has_lines(
        &text,
        &[
            "email = { from = \"電子郵件\", type = \"email\" }",
            "mobile = { from = \"手機\", type = \"phone\", region = \"TW\" }",
            "\"company.name\" = \"公司名稱\"",
            "fields = [\"email\"]",
        ],
    );
    // Numbers that are none of the region's are marked to check.
    let cn = db.file("cn.csv", "姓名,手机\n张伟,13800138000\n陈大文,0912-345-678\n李娜,13900001111\n");
    let text = suggest(&cn, "contacts");
    assert!(
        text.contains("# ^ 1 of 3 sampled numbers without a country code are not valid in CN (e.g. \"0912-345-678\")"),
        "{text}"
    );
    // A country column of several countries: each row's.
    let hk = db.file(
        "hk.csv",
        "Email,Phone,Country\na@ex.cn,010-12345678,China\nb@ex.cn,021-87654321,China\nc@ex.hk,(852) 2345 6789,Hong Kong\n",
    );
    let text = suggest(&hk, "contacts");
    assert!(text.contains("region = \"CN\", region_from = \"Country\" }"), "{text}");
    import_through(&db, &hk, &text);
    let out = db.ok(&["export", "--entity", "contacts", "--fields", "email,phone"]);
    assert!(out.contains("c@ex.hk,+85223456789"), "{out}");
    // What would be rejected is weighed as import reads it: in each row's country.
    let eu = db.file(
        "eu.csv",
        "Email,Phone,Country\nd1@ex.de,030 1234567,Germany\nd2@ex.de,089 12345678,Germany\n\
         f1@ex.fr,01 42 68 53 00,France\nf2@ex.fr,06 12 34 56 78,France\n",
    );
    let text = suggest(&eu, "contacts");
    assert!(text.contains("region_from = \"Country\" }"), "{text}");
    assert!(!text.contains("would be rejected"), "{text}");
    let s = import_through(&db, &eu, &text);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(4), Some(0)), "{s}");
}

#[test]
fn a_companies_export_names_its_own_fields_after_the_company() {
    let db = crate::db::Db::sqlite();
    let f = db.file(
        "hs.csv",
        "Record ID,Company name,Company Domain Name,Company owner,Company Phone\n9001,Acme Inc,acme.com,Bob,+1 212 555 0100\n",
    );
    let text = suggest(&f, "companies");
    has_lines(
        &text,
        &[
            "name = \"Company name\"",
            "domain = \"Company Domain Name\"",
            "owner = \"Company owner\"",
            "phone = { from = \"Company Phone\", type = \"phone\"",
        ],
    );
    // A contacts file's `Company Domain Name` is the company's.
    let c = db.file("c.csv", "Email,Company Domain Name\na@acme.com,acme.com\n");
    assert!(suggest(&c, "contacts").contains("\"company.domain\" = \"Company Domain Name\""));
}

#[test]
fn german_and_french_headers_are_the_standard_fields_and_say_where_phones_are_dialled() {
    let db = crate::db::Db::sqlite();
    let de = db.file(
        "kontakte.csv",
        "Vorname;Nachname;E-Mail-Adresse;Telefon;Handy;Firma;Straße;PLZ;Ort;Bemerkungen;Abteilung\n\
         Hans;Müller;hans@beispiel.de;030 1234567;0171 2345678;Beispiel GmbH;Hauptstraße 1;01067;Dresden;VIP;Einkauf\n\
         Erika;Schmidt;erika@firma.de;089 987654;0160 9876543;Firma AG;Marienplatz 2;80331;München;;Vertrieb\n",
    );
    let text = suggest(&de, "contacts");
    has_lines(
        &text,
        &[
            "first_name = \"Vorname\"",
            "last_name = \"Nachname\"",
            "email = { from = \"E-Mail-Adresse\", type = \"email\" }",
            "phone = { from = \"Telefon\", type = \"phone\", region = \"DE\" }  # CHECK",
            "mobile = { from = \"Handy\", type = \"phone\", region = \"DE\" }  # CHECK",
            "\"company.name\" = \"Firma\"",
            "\"address.street\" = \"Straße\"",
            "\"address.postal_code\" = \"PLZ\"",
            "\"address.city\" = \"Ort\"",
            "notes = \"Bemerkungen\"",
            // (No standard field for a department: kept.)
            "\"custom.abteilung\" = \"Abteilung\"",
            "# ^ numbers without a country code are read as DE, the country of the headers' language",
            "fields = [\"email\"]",
        ],
    );
    // The mapping as written imports the file, phones in E.164.
    let s = import_through(&db, &de, &text);
    assert_eq!(s["inserted"], 2, "{s}");
    let out = db.ok(&[
        "export",
        "--entity",
        "contacts",
        "--fields",
        "last_name,phone,mobile,address.postal_code,company.name",
    ]);
    assert!(out.contains("Müller,+49301234567,+491712345678,01067,Beispiel GmbH"), "{out}");

    // French: the same, and a country column still decides over the language.
    let fr = db.file(
        "contacts.csv",
        "Prénom,Nom,Courriel,Téléphone,Portable,Société,Code postal,Ville,Pays\n\
         Marie,Dupont,marie@exemple.be,02 123 45 67,0470 12 34 56,Exemple SA,1000,Bruxelles,Belgique\n",
    );
    let text = suggest(&fr, "contacts");
    has_lines(
        &text,
        &[
            "first_name = \"Prénom\"",
            "last_name = \"Nom\"",
            "email = { from = \"Courriel\", type = \"email\" }",
            "phone = { from = \"Téléphone\", type = \"phone\", region = \"BE\" }",
            "\"company.name\" = \"Société\"",
            "\"address.country\" = { from = \"Pays\", type = \"country\" }",
        ],
    );
    assert!(!text.contains("the country of the headers' language"), "{text}");

    // The numbers' own country codes say more than the headers' language.
    let ch = db.file(
        "ch.csv",
        "Vorname;Nachname;E-Mail;Telefon;PLZ\nUrs;Meier;u@x.ch;+41 44 123 45 67;8001\nReto;Keller;r@x.ch;044 123 45 68;10115\n",
    );
    let text = suggest(&ch, "contacts");
    assert!(text.contains("phone = { from = \"Telefon\", type = \"phone\", region = \"CH\" }"), "{text}");
    // Postal codes stay text, whatever their widths.
    assert!(text.contains("\"address.postal_code\" = \"PLZ\""), "{text}");
    // So does a country column of codes.
    let ch =
        db.file("ch2.csv", "Vorname;Nachname;Telefon;Land\nUrs;Meier;044 123 45 67;CH\nReto;Keller;061 123 45 67;CH\n");
    assert!(suggest(&ch, "contacts").contains("region = \"CH\""));
    // A word for the surname alone is the whole name; German `Name` beside
    // `Vorname` the surname.
    let nom = db.file("nom.csv", "Nom;Courriel;Téléphone\nJean Dupont;j@x.fr;01 23 45 67 89\n");
    assert!(suggest(&nom, "contacts").contains("full_name = \"Nom\""));
    let name = db.file("name.csv", "Vorname;Name;E-Mail\nHans;Müller;h@x.de\n");
    let text = suggest(&name, "contacts");
    assert!(text.contains("last_name = \"Name\""), "{text}");
}

#[test]
fn english_headers_resembling_foreign_names_are_not_taken_for_them() {
    let db = crate::db::Db::sqlite();
    let f = db.file(
        "c.csv",
        "Email,Department,Telefax,Landline,Branch\na@x.com,Sales,+1 212 555 0100,+1 212 555 0101,North\n",
    );
    let text = suggest(&f, "contacts");
    // `département`, `Telefon`, `Land` and `Branche` are matched exactly, never by likeness.
    for not in ["address.region", "\"address.country\"", "industry", "phone = { from = \"Telefax\""] {
        assert!(!text.contains(not), "{not} in:\n{text}");
    }
}

#[test]
fn a_foreign_word_among_english_headers_changes_neither_fields_nor_phones() {
    let db = crate::db::Db::sqlite();
    // `Firma` is a company in German, a signature in Spanish; `Cargo` a job
    // title in Spanish, freight in English.
    let f = db.file(
        "c.csv",
        "Name,Email,Phone,Firma,Cargo,Handy\nJohn Smith,j@example.com,(212) 555-0143,Acme,Pallets,yes\nJane Doe,d@example.com,(415) 555-0100,Foo Inc,Containers,no\n",
    );
    let text = suggest(&f, "contacts");
    has_lines(
        &text,
        &[
            "phone = { from = \"Phone\", type = \"phone\", region = \"US\" }",
            "\"custom.firma\" = \"Firma\"",
            "\"custom.cargo\" = \"Cargo\"",
        ],
    );
    // In a Spanish file `Firma` is no company.
    let es = db.file("es.csv", "Nombre;Apellidos;Correo electrónico;Firma\nJuan;García;j@x.es;sí\n");
    // (`sí`, one value, reads as a yes.)
    let text = suggest(&es, "contacts");
    assert!(text.contains("\"custom.firma\" = { from = \"Firma\", type = \"boolean\" }"), "{text}");
    assert!(!text.contains("company.name"), "{text}");
}

#[test]
fn local_date_times_are_typed_and_the_files_day_order_settles_ambiguous_columns() {
    let db = crate::db::Db::sqlite();
    // A US report: `Created Date` on a 12-hour clock shows month-first
    // (3/14); `Last Activity` and `Renewal` fit either order alone.
    let us = db.file(
        "us.csv",
        "Email,Created Date,Last Activity,Renewal\n\
         a@x.com,3/14/2024 2:30 PM,03/01/2024 09:15,01/02/2025\n\
         b@x.com,12/1/2023 11:05 AM,03/02/2024 17:45,03/04/2025\n",
    );
    let text = suggest(&us, "contacts");
    has_lines(
        &text,
        &[
            "\"custom.created_date\" = { from = \"Created Date\", type = \"datetime\", format = \"%m/%d/%Y %I:%M %p\" }  # CHECK",
            "add timezone = \"America/New_York\"",
            "\"custom.last_activity\" = { from = \"Last Activity\", type = \"datetime\", format = \"%m/%d/%Y %H:%M\" }  # CHECK",
            "\"custom.renewal\" = { from = \"Renewal\", type = \"date\", format = \"%m/%d/%Y\" }  # CHECK",
            "# ^ this column's values fit both orders: read month before day, as column \"Created Date\" writes them (\"3/14/2024 2:30 PM\")",
        ],
    );
    let s = import_through(&db, &us, &text);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(2), Some(0)), "{s}");
    let stored = db.ok(&[
        "export",
        "--entity",
        "contacts",
        "--fields",
        "email,custom.created_date,custom.last_activity,custom.renewal",
    ]);
    assert_eq!(
        stored,
        "email,custom.created_date,custom.last_activity,custom.renewal\n\
         a@x.com,2024-03-14T14:30:00Z,2024-03-01T09:15:00Z,2025-01-02\n\
         b@x.com,2023-12-01T11:05:00Z,2024-03-02T17:45:00Z,2025-03-04\n"
    );
    // A German file: day first, its times on Berlin's clock (the headers'
    // language) once the note is followed.
    let de = db.file(
        "de.csv",
        "E-Mail,Erstellt am,Verlängerung\nc@x.de,01.02.2024 14:30,05/06/2025\nd@x.de,15.07.2024 09:05,13/06/2025\n",
    );
    let text = suggest(&de, "contacts");
    has_lines(
        &text,
        &[
            "\"custom.erstellt_am\" = { from = \"Erstellt am\", type = \"datetime\", format = \"%d.%m.%Y %H:%M\" }  # CHECK",
            "add timezone = \"Europe/Berlin\"",
            "\"custom.verlängerung\" = { from = \"Verlängerung\", type = \"date\", format = \"%d/%m/%Y\" }",
        ],
    );
    let m = db.path("de.toml");
    std::fs::write(
        &m,
        text.replace("format = \"%d.%m.%Y %H:%M\"", "format = \"%d.%m.%Y %H:%M\", timezone = \"Europe/Berlin\""),
    )
    .expect("mapping");
    let s = db.json(&["import", &de, "--mapping", m.to_str().expect("p")]);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(2), Some(0)), "{s}");
    let stored = db.ok(&[
        "export",
        "--entity",
        "contacts",
        "--fields",
        "email,custom.erstellt_am",
        "--where",
        "email like '%.de'",
    ]);
    assert_eq!(stored, "email,custom.erstellt_am\nc@x.de,2024-02-01T13:30:00Z\nd@x.de,2024-07-15T07:05:00Z\n");
    // Columns that disagree settle nothing; a column alone stays ambiguous.
    let mixed = db.file("mixed.csv", "Email,A,B,C,D\ne@x.com,14/03/2024,3/14/2024,01/02/2025,01/02/2025 10:00\n");
    let text = suggest(&mixed, "contacts");
    has_lines(
        &text,
        &[
            "# ^ AMBIGUOUS dates: add type = \"date\" with format = \"%d/%m/%Y\" or \"%m/%d/%Y\", whichever the \
             source uses (the file's columns disagree: \"A\" writes day first (\"14/03/2024\"), \"B\" month first \
             (\"3/14/2024\"))",
            // An ambiguous date-time is told of its missing offset too.
            "# ^ AMBIGUOUS date-times: add type = \"datetime\" with format = \"%d/%m/%Y %H:%M\" or \"%m/%d/%Y %H:%M\"",
            "(\"3/14/2024\")); the times have no offset: they are read as UTC",
        ],
    );
    // ISO times some with an offset, some without: those are named.
    let iso = db.file("iso.csv", "Email,Seen\ni@x.com,2024-03-14T10:00:00+01:00\nj@x.com,2024-03-14T10:00:00\n");
    has_lines(
        &suggest(&iso, "contacts"),
        &[
            "# ^ 1 of 2 values have no offset (e.g. \"2024-03-14T10:00:00\"): they are read as UTC; if they are local times",
        ],
    );
    // As Salesforce and Excel export them: seconds only where they are not
    // zero, a midnight's date alone, a comma after the date.
    let uneven = db.file(
        "uneven.csv",
        "Email,When,Created Date\n\
         f@x.com,01.02.2024 14:30,\"3/14/2024, 2:30 PM\"\n\
         g@x.com,01.02.2024 14:30:10,\"3/15/2024, 11:05 AM\"\n\
         h@x.com,02.02.2024,\"3/16/2024\"\n",
    );
    let text = suggest(&uneven, "contacts");
    has_lines(
        &text,
        &[
            "\"custom.when\" = { from = \"When\", type = \"datetime\", format = \"%d.%m.%Y %H:%M:%S\" }  # CHECK",
            "dates alone (\"02.02.2024\") are read at midnight",
            "\"custom.created_date\" = { from = \"Created Date\", type = \"datetime\", format = \"%m/%d/%Y, %I:%M %p\" }",
        ],
    );
    let s = import_through(&db, &uneven, &text);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(3), Some(0)), "{s}");
    let stored = db.ok(&[
        "export",
        "--entity",
        "contacts",
        "--fields",
        "email,custom.when,custom.created_date",
        "--where",
        "email in ('f@x.com', 'g@x.com', 'h@x.com')",
    ]);
    assert_eq!(
        stored,
        "email,custom.when,custom.created_date\n\
         f@x.com,2024-02-01T14:30:00Z,2024-03-14T14:30:00Z\n\
         g@x.com,2024-02-01T14:30:10Z,2024-03-15T11:05:00Z\n\
         h@x.com,2024-02-02T00:00:00Z,2024-03-16T00:00:00Z\n"
    );
}

#[test]
fn a_column_of_e_mails_is_the_email_and_their_domains_say_where_phones_are_dialled() {
    let db = crate::db::Db::sqlite();
    // `Adresse` holds e-mail addresses, not streets; they are Swiss, and
    // so are the phones written without a country code.
    let f = db.file(
        "kunden.csv",
        "Name,Adresse,Telefon\nAnn Keller,ann@firma.ch,044 668 18 00\nBeat Huber,beat@bank.ch,031 324 11 11\n\
         Cara Rossi,cara@gmail.com,021 345 67 89\n",
    );
    let text = suggest(&f, "contacts");
    has_lines(
        &text,
        &[
            "fields = [\"email\"]  # records are matched by e-mail",
            "email = { from = \"Adresse\", type = \"email\" }  # CHECK: its values are e-mail addresses, and no column named for the email holds any",
            "phone = { from = \"Telefon\", type = \"phone\", region = \"CH\" }  # CHECK",
            "# ^ numbers without a country code are read as CH, the country most of the file's e-mail addresses are in (.ch)",
        ],
    );
    assert!(!text.contains("address.street"), "{text}");
    let s = import_through(&db, &f, &text);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(3), Some(0)), "{s}");
    let stored = db.ok(&["export", "--entity", "contacts", "--fields", "email,phone"]);
    assert_eq!(
        stored,
        "email,phone\nann@firma.ch,+41446681800\nbeat@bank.ch,+41313241111\ncara@gmail.com,+41213456789\n"
    );
    // Domains sold as names (`.io`) say nothing; numbers that are no
    // numbers of the domains' country are not read in it.
    let io = db.file("io.csv", "Email,Phone\na@x.io,(212) 555-0143\nb@y.io,(415) 555-0100\n");
    assert!(suggest(&io, "contacts").contains("phone = { from = \"Phone\", type = \"phone\", region = \"US\" }"));
    let de = db.file("de.csv", "Email,Phone\na@x.de,(212) 555-0143\nb@y.de,(415) 555-0100\n");
    assert!(suggest(&de, "contacts").contains("phone = { from = \"Phone\", type = \"phone\", region = \"US\" }"));
    // (Grouped by spaces alone, three, three, four digits are an Italian
    // mobile as much as an American number.)
    let it = db.file(
        "it.csv",
        "Nome,Cognome,Cellulare,Email\nMario,Rossi,347 123 4567,m@x.com\nLuca,Bianchi,333 765 4321,l@y.com\n",
    );
    assert!(suggest(&it, "contacts").contains("mobile = { from = \"Cellulare\", type = \"phone\", region = \"IT\" }"));
    // A column of e-mails beside the one named so stays a custom field.
    let two = db.file("two.csv", "Email,Address\na@x.com,b@y.com\n");
    let text = suggest(&two, "contacts");
    assert!(
        text.contains("email = { from = \"Email\"") && text.contains("\"custom.address\" = { from = \"Address\""),
        "{text}"
    );
}

#[test]
fn e_mail_domains_beat_the_headers_language_and_dates_and_e_mails_take_no_other_fields() {
    let db = crate::db::Db::sqlite();
    // French headers, Swiss addresses and numbers: CH, not FR.
    let ch = db.file(
        "ch.csv",
        "Prénom;Nom;Courriel;Téléphone\nLuc;Favre;luc@firme.ch;022 345 67 89\nAnne;Rochat;anne@exemple.ch;079 123 45 67\n",
    );
    let text = suggest(&ch, "contacts");
    assert!(text.contains("phone = { from = \"Téléphone\", type = \"phone\", region = \"CH\" }  # CHECK"), "{text}");
    // American numbers without their country's `0` are not read as German
    // for the addresses' `.de`.
    let us = db.file(
        "us.csv",
        "First Name,Email,Phone\nHans,hans@firma.de,212 555 0143\nAnna,anna@beispiel.de,415 555 0100\n",
    );
    assert!(suggest(&us, "contacts").contains("phone = { from = \"Phone\", type = \"phone\", region = \"US\" }"));
    // A column of dates is no last name; a column of e-mails no owner; an
    // empty `Email` gives way to the column that holds them.
    let hubspot = db.file(
        "hs.csv",
        "Name,Email,Contact,Last Contacted,Birthdate,Anniversary\n\
         John Smith,,john@acme.com,03/14/2024 02:30 PM,7/14/55,05/05/2020\n",
    );
    let text = suggest(&hubspot, "contacts");
    has_lines(
        &text,
        &[
            "email = { from = \"Contact\", type = \"email\" }  # CHECK: its values are e-mail addresses",
            "\"custom.email\" = \"Email\"",
            "\"custom.last_contacted\" = { from = \"Last Contacted\", type = \"datetime\", format = \"%m/%d/%Y %I:%M %p\" }",
            "\"custom.birthdate\" = { from = \"Birthdate\", type = \"date\", format = \"%m/%d/%y\" }  # CHECK",
            "# ^ two-digit years are read as 1969-2068 (`55` as 2055): check the century",
            // (Day and month alike read the same either way.)
            "\"custom.anniversary\" = { from = \"Anniversary\", type = \"date\", format = \"%d/%m/%Y\" }  # no standard",
        ],
    );
    assert!(!text.contains("last_name") && !text.contains("owner"), "{text}");
}

#[test]
fn json_gives_a_summary_of_the_suggested_fields_and_the_mapping_when_it_goes_nowhere_else() {
    let file = corpus("customers-datablist/customers-100.csv");
    let run = |extra: &[&str]| {
        let out = crmsync()
            .args(["--json", "mapping", "suggest", &file, "--entity", "contacts"])
            .args(extra)
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", stderr_of(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("one JSON document on stdout")
    };
    let s = run(&[]);
    assert_eq!(
        (s["entity"].as_str(), s["records_sampled"].as_u64(), s["columns"].as_u64()),
        (Some("contacts"), Some(100), Some(12))
    );
    let phone = s["fields"].as_array().and_then(|f| f.iter().find(|f| f["field"] == "phone")).expect("phone");
    assert_eq!((phone["from"].clone(), phone["check"].as_bool()), (serde_json::json!(["Phone 1"]), Some(true)));
    assert!(phone["warning"].as_str().is_some_and(|w| w.contains("would be rejected as phone")), "{phone}");
    let email = s["fields"].as_array().and_then(|f| f.iter().find(|f| f["field"] == "email")).expect("email");
    assert_eq!(
        (email["from"].clone(), email["check"].as_bool(), &email["warning"]),
        (serde_json::json!(["Email"]), Some(false), &serde_json::Value::Null)
    );
    assert_eq!(s["checks"].as_u64(), Some(2), "{s}");
    let mapping = s["mapping"].as_str().expect("the mapping, with no --out");
    has_lines(mapping, &["phone = { from = \"Phone 1\", type = \"phone\", region = \"US\" }"]);
    // With --out, the mapping goes to the file and the summary says where.
    let dir = tempfile::tempdir().expect("tempdir");
    let m = dir.path().join("m.toml");
    let s = run(&["--out", m.to_str().expect("p")]);
    assert_eq!((s["out"].as_str(), &s["mapping"]), (m.to_str(), &serde_json::Value::Null));
    assert_eq!(std::fs::read_to_string(&m).expect("written"), mapping);
}

#[test]
fn numbers_written_as_india_and_brazil_write_them_are_read_there_not_in_the_us() {
    let db = crate::db::Db::sqlite();
    for (name, text, region, stored) in [
        (
            "in.csv",
            "Name,Email,Phone\nP1,p1@firma1.co.in,98765 43210\nP2,p2@firma2.co.in,99887 76655\n",
            "IN",
            "+919876543210",
        ),
        (
            "br.csv",
            "Name,Email,Phone\nP3,p3@f.com.br,(11) 98765-4321\nP4,p4@g.com.br,(21) 2345-6789\n",
            "BR",
            "+5511987654321",
        ),
    ] {
        let f = db.file(name, text);
        let mapping = suggest(&f, "contacts");
        has_lines(
            &mapping,
            &[&format!("phone = {{ from = \"Phone\", type = \"phone\", region = \"{region}\" }}  # CHECK")],
        );
        let s = import_through(&db, &f, &mapping);
        assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(2), Some(0)), "{s}");
        let out = db.ok(&["export", "--entity", "contacts", "--fields", "phone"]);
        assert!(out.contains(stored), "{out}");
    }
}

#[test]
fn german_numbers_with_a_slash_after_the_area_code_are_phones() {
    let db = crate::db::Db::sqlite();
    let f = db.file(
        "slash.csv",
        "Vorname;E-Mail;Telefon;Mobil;Geburtstag\nA;a@b.de;030/1234567;0171/1234567;01/02/1990\nC;c@d.de;089/23456789;0152 23456789;03/04/1985\n",
    );
    let text = suggest(&f, "contacts");
    has_lines(
        &text,
        &[
            "phone = { from = \"Telefon\", type = \"phone\", region = \"DE\" }",
            "mobile = { from = \"Mobil\", type = \"phone\", region = \"DE\" }",
        ],
    );
    // Two slashes are a date, not a phone.
    assert!(!text.contains("from = \"Geburtstag\", type = \"phone\""), "{text}");
    let s = import_through(&db, &f, &text);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(2), Some(0)), "{s}");
    assert_eq!(
        db.ok(&["export", "--entity", "contacts", "--fields", "phone,mobile"]),
        "phone,mobile\n+49301234567,+491711234567\n+498923456789,+4915223456789\n"
    );
}

#[test]
fn a_headers_number_is_no_name_and_phone_no_is_the_phone() {
    let db = crate::db::Db::sqlite();
    let f = db.file(
        "an.csv",
        "Account Number,First Name,Email,Phone No.,Mobile No.\n00123,Ann,a@x.com,+1 212 555 0143,+1 212 555 0144\n",
    );
    let text = suggest(&f, "contacts");
    has_lines(
        &text,
        &[
            "\"custom.account_number\" = \"Account Number\"",
            "phone = { from = \"Phone No.\", type = \"phone\" }",
            "mobile = { from = \"Mobile No.\", type = \"phone\" }",
        ],
    );
    let f = db.file("cn.csv", "Contact Number,Email\n+1 212 555 0143,b@x.com\n");
    has_lines(&suggest(&f, "contacts"), &["phone = { from = \"Contact Number\", type = \"phone\" }"]);
}

#[test]
fn a_currency_column_of_dollar_signs_is_marked_for_a_map() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("deals.csv");
    std::fs::write(&f, "Deal,Amount,Currency\nBig,100,$\nSmall,5,$\nX,3,USD\n").expect("write");
    let text = suggest(f.to_str().expect("path"), "deals");
    has_lines(
        &text,
        &[
            "amount = { from = \"Amount\", type = \"decimal\" }",
            "currency = \"Currency\"  # CHECK: header is the field's name",
            "# ^ 2 of 3 sampled values would be rejected as currency (e.g. \"$\": expected an ISO 4217 currency code: $ is \
             written for the US dollar (USD) and for others",
        ],
    );
}

#[test]
fn an_object_null_in_some_records_is_mapped_by_its_fields_not_whole() {
    let db = crate::db::Db::sqlite();
    let f = db.file(
        "n.ndjson",
        "{\"email\":\"b@x.com\",\"name\":null,\"address\":null}\n\
         {\"email\":\"a@x.com\",\"name\":{\"first\":\"A\",\"last\":\"B\"},\"address\":{\"city\":\"Paris\"}}\n\
         {\"email\":\"c@x.com\",\"name\":{\"first\":\"C\",\"last\":\"D\"},\"address\":{\"city\":\"Rome\"}}\n",
    );
    let text = suggest(&f, "contacts");
    has_lines(&text, &["first_name = \"name.first\"", "\"address.city\" = \"address.city\""]);
    assert!(!text.contains("= \"name\"") && !text.contains("= \"address\""), "{text}");
    let s = import_through(&db, &f, &text);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(3), Some(0)), "{s}");
}

#[test]
fn a_date_column_with_a_day_the_calendar_lacks_stays_a_date_column() {
    // One impossible date among good ones is a date column with an error,
    // not phone numbers (`03.04.1975` reads as a German one): imported, the
    // good dates are dates and the bad one is rejected, never kept as
    // `+493041975`. A tax id grouped like a number is no phone either.
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("bd.csv");
    std::fs::write(
        &f,
        "Email;Geburtsdatum;Born;Datum;Tax\na@x.de;03.04.1975;1975-04-03;14.03.24;12-3456789\n\
         b@x.de;31.12.1980;1980-12-31;01.02.24;98-7654321\nc@x.de;29.02.1996;1996-02-29;28.02.23;45-6789012\n\
         d@x.de;31.02.2001;2001-02-31;05.05.22;11-2233445\n",
    )
    .expect("write");
    let f = f.to_str().expect("p");
    let text = suggest(f, "contacts");
    has_lines(
        &text,
        &[
            "\"custom.geburtsdatum\" = { from = \"Geburtsdatum\", type = \"date\", format = \"%d.%m.%Y\" }",
            "\"custom.born\" = { from = \"Born\", type = \"date\" }",
            "\"custom.datum\" = { from = \"Datum\", type = \"date\", format = \"%d.%m.%y\" }",
            "\"custom.tax\" = \"Tax\"",
            "1 of 4 sampled values would be rejected as date (e.g. \"31.02.2001\"",
        ],
    );
    assert!(!text.contains("phone"), "{text}");
    let db = crate::db::Db::sqlite();
    let s = import_through(&db, f, &text);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(3), Some(1)), "{s}");
    let born = db.scalar("SELECT json_extract(custom, '$.geburtsdatum') FROM contacts WHERE email = 'a@x.de'");
    assert_eq!(born.as_deref(), Some("1975-04-03"));
}

#[test]
fn records_most_of_which_have_no_email_are_keyed_by_the_source_id() {
    // Odoo's partners: 5 of 6 have no e-mail. Keyed by e-mail they would
    // be rejected; keyed by the source's own id they all import, and again
    // unchanged. The key's CHECK is counted with the fields'.
    let p = corpus("crm-samples/odoo/res.partner.csv");
    let m = suggest(&p, "contacts");
    has_lines(
        &m,
        &["external_id = { system = \"res_partner\", from = \"ID\" }  # CHECK: 5 of 6 sampled records have no e-mail"],
    );
    // The id is read as the key, not kept as a custom field too.
    assert!(!m.contains("\"custom.id\""), "{m}");
    let db = crate::db::Db::sqlite();
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("res.partner.csv");
    std::fs::copy(&p, &f).expect("copy");
    let f = f.to_str().expect("p");
    let s = import_through(&db, f, &m);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(6), Some(0)), "{s}");
    let s = db.json(&["import", f, "--mapping", &format!("{f}.toml")]);
    assert_eq!(s["unchanged"].as_u64(), Some(6), "{s}");
    let out = crmsync().args(["--json", "mapping", "suggest", &p, "--entity", "contacts"]).output().expect("runs");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let fields = j["fields"].as_array().expect("fields").iter().filter(|f| f["check"] == true).count();
    assert_eq!(j["checks"].as_u64(), Some(fields as u64 + 1), "{j}");
    assert_eq!(j["key_check"], true, "{j}");
    // Without an id column, the e-mail key stays, and says what it costs.
    let g = dir.path().join("few.csv");
    std::fs::write(&g, "Name,Email\nAnn,a@x.com\nBob,\nCy,\n").expect("write");
    let m = suggest(g.to_str().expect("p"), "contacts");
    has_lines(
        &m,
        &["fields = [\"email\"]  # CHECK: records are matched by e-mail, and 2 of 3 sampled records have none"],
    );
}

#[test]
fn deal_columns_in_german_and_french_and_their_contacts_by_email() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("de.csv");
    std::fs::write(
        &f,
        "Name;Betrag;Währung;Abschlussdatum;Phase;Firma;Contact Email\n\
         Deal A;1.000,50;EUR;31.03.2024;Angebot;Acme GmbH;a@x.de\nDeal B;2.500,00;EUR;15.04.2024;Verhandlung;Beta AG;b@x.de\n",
    )
    .expect("write");
    let m = suggest(f.to_str().expect("p"), "deals");
    has_lines(
        &m,
        &[
            "currency = \"Währung\"",
            "close_date = { from = \"Abschlussdatum\", type = \"date\", format = \"%d.%m.%Y\" }",
            "stage = \"Phase\"",
            "contacts = \"Contact Email\"",
        ],
    );
    let f = dir.path().join("fr.csv");
    std::fs::write(&f, "Nom;Montant;Devise;Date de clôture;Étape\nAffaire;1 000,50;EUR;31/03/2024;Proposition\n")
        .expect("write");
    let m = suggest(f.to_str().expect("p"), "deals");
    has_lines(&m, &["currency = \"Devise\"", "stage = \"Étape\"", "close_date = { from = \"Date de clôture\""]);
    // The deal's name in those languages, which is then the key.
    has_lines(&m, &["name = \"Nom\"", "fields = [\"name\"]"]);
    let f = dir.path().join("de2.csv");
    std::fs::write(&f, "Bezeichnung;Betrag;Kontakt E-Mail;Contact Name\nA;1,00;a@x.de;Ann\n").expect("write");
    let m = suggest(f.to_str().expect("p"), "deals");
    has_lines(&m, &["name = \"Bezeichnung\"", "contacts = \"Kontakt E-Mail\""]);
    // A contact's name is no deal owner, however alike the headers look.
    assert!(m.contains("\"custom.contact_name\" = \"Contact Name\""), "{m}");
}

#[test]
fn phones_of_a_file_of_several_countries_are_read_in_each_row_s_country() {
    // German headers, rows in Germany, France and Spain; the Spanish row's
    // number is a Berlin one. Read in Germany, more of the sampled numbers
    // are valid, but each row's own country still reads the file: other
    // rows' local numbers (`01 42 68 53 00` in France) come out right.
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("eu.csv");
    std::fs::write(
        &f,
        "Vorname;E-Mail;Telefon;Land\nJürgen;j@beispiel.de;030 1234567;Deutschland\n\
         Zoë;z@exemple.fr;+33 1 42 68 53 00;Frankreich\nØrjan;o@eksempel.no;0049 89 123456;Deutschland\n\
         Ana;a@ejemplo.es;(0)30 9876543;Spanien\n",
    )
    .expect("write");
    let m = suggest(f.to_str().expect("p"), "contacts");
    has_lines(&m, &["phone = { from = \"Telefon\", type = \"phone\", region = \"DE\", region_from = \"Land\" }"]);
    let g = dir.path().join("eu2.csv");
    std::fs::write(
        &g,
        "Vorname;E-Mail;Telefon;Land\nZoë;z2@exemple.fr;01 42 68 53 00;Frankreich\n\
         Luc;l@voorbeeld.be;02 123 45 67;Belgien\nHans;h@beispiel.ch;044 668 18 00;Schweiz\n",
    )
    .expect("write");
    let db = crate::db::Db::sqlite();
    let s = import_through(&db, g.to_str().expect("p"), &m);
    assert_eq!(s["inserted"].as_u64(), Some(3), "{s}");
    let phones = db.ok(&["export", "--entity", "contacts", "--fields", "phone"]);
    assert_eq!(phones, "phone\n+33142685300\n+3221234567\n+41446681800\n");
}

#[test]
fn phones_read_as_chinese_mobiles_say_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("cn.csv");
    std::fs::write(&f, "name,phone\nAnn,15551234567\nBob,13800138000\n").expect("write");
    let m = suggest(f.to_str().expect("p"), "contacts");
    has_lines(
        &m,
        &[
            "region = \"CN\" }  # CHECK",
            "# ^ numbers without a country code are read as CN: most are 11 digits starting 13 to 19",
        ],
    );
}

#[test]
fn a_custom_column_no_sampled_value_of_which_fits_its_type_stays_text() {
    // A phone header over tax ids: a phone type would reject every row.
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("tx.csv");
    std::fs::write(&f, "Email,Name,Fax\na@x.com,Ann A,12-3456789\nb@x.com,Bob B,98-7654321\n").expect("write");
    let f = f.to_str().expect("p");
    let m = suggest(f, "contacts");
    has_lines(
        &m,
        &[
            "\"custom.fax\" = \"Fax\"  # no standard field matched: kept as a custom field; kept as text: every sampled value would be rejected as phone",
        ],
    );
    let db = crate::db::Db::sqlite();
    let s = import_through(&db, f, &m);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(2), Some(0)), "{s}");
}

#[test]
fn a_date_time_column_with_a_day_the_calendar_lacks_stays_a_date_time_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("d6.csv");
    std::fs::write(
        &f,
        "Email,Signup,Letzter Kontakt\na@x.com,2001-02-31 10:00,31.02.2001 10:00\n\
         b@x.com,1999-04-01 11:00,01.04.1999 11:00\nc@x.com,1980-05-12 12:00,12.05.1980 12:00\n",
    )
    .expect("write");
    let f = f.to_str().expect("p");
    let m = suggest(f, "contacts");
    has_lines(
        &m,
        &[
            "subscribed_at = { from = \"Signup\", type = \"datetime\" }",
            "\"custom.letzter_kontakt\" = { from = \"Letzter Kontakt\", type = \"datetime\", format = \"%d.%m.%Y %H:%M\" }",
            "1 of 3 sampled values would be rejected as datetime (e.g. \"31.02.2001 10:00\"",
        ],
    );
    let db = crate::db::Db::sqlite();
    let s = import_through(&db, f, &m);
    assert_eq!((s["inserted"].as_u64(), s["rejected"].as_u64()), (Some(2), Some(1)), "{s}");
}
