//! `mapping suggest`: match a file's headers to an entity's fields and guess
//! each column's type from its values, producing a mapping file a user only
//! has to check.

use std::fmt::Write as _;

use crate::entity::Entity;
use crate::mapping::types::{self, country, date};

/// What the reader learned about the source, written into `[source]`.
#[derive(Debug, Clone, Default)]
pub struct SourceInfo {
    pub file_name: String,
    pub format: String,
    pub encoding: Option<String>,
    pub delimiter: Option<char>,
    pub record_path: Option<String>,
    /// The sheet read, when not the first one by default.
    pub sheet: Option<String>,
    /// The row the header was read from, when given.
    pub header_row: Option<u64>,
    /// Columns that hold lists (a JSON array, an XML element repeated): no
    /// field of one value is mapped from them.
    pub lists: Vec<String>,
}

/// English and Chinese names users give each standard field, normalized
/// (lower case, separators as spaces).
fn synonyms(field: &str) -> &'static [&'static str] {
    match field {
        "first_name" => &["first name", "firstname", "given name", "forename", "fname", "first", "名", "名字"],
        "last_name" => &["last name", "lastname", "surname", "family name", "lname", "last", "姓", "姓氏"],
        "full_name" => {
            &["name", "full name", "contact name", "contact", "person", "姓名", "联系人", "客户姓名", "全名"]
        }
        "email" => &[
            "email",
            "e mail",
            "email address",
            "mail",
            "email work",
            "work email",
            "邮箱",
            "电子邮箱",
            "电子邮件",
            "客户邮箱",
            "联系人邮箱",
            "邮件",
            "邮箱地址",
        ],
        "phone" => &[
            "phone",
            "phone 1",
            "phone number",
            "phone no",
            "tel no",
            "telephone number",
            "contact number",
            "contact no",
            "telephone",
            "tel",
            "work phone",
            "phone work",
            "business phone",
            "corporate phone",
            "work direct phone",
            "direct phone",
            "电话",
            "联系电话",
            "座机",
            "电话号码",
            "固定电话",
        ],
        "mobile" => &[
            "mobile",
            "cell",
            "cell phone",
            "mobile phone",
            "mobile number",
            "mobile no",
            "cell number",
            "cell no",
            "手机",
            "手机号",
            "手机号码",
            "移动电话",
        ],
        "title" => &["title", "job title", "position", "role", "职位", "职务", "头衔"],
        "company.name" => &[
            "company",
            "company name",
            "organization",
            "organisation",
            "account",
            "account name",
            "employer",
            "related company",
            "parent company",
            "associated company",
            "公司",
            "公司名称",
            "单位",
            "企业",
            "企业名称",
            "客户公司",
        ],
        "company.domain" => &["company domain", "company website", "公司网站"],
        "name" => &[
            "name",
            "company",
            "company name",
            "organization",
            "organization name",
            "account name",
            "deal name",
            "opportunity",
            "opportunity name",
            "名称",
            "公司名称",
            "公司",
            "商机名称",
        ],
        "domain" => &[
            "domain",
            "domain name",
            "website",
            "web site",
            "website url",
            "url",
            "homepage",
            "org website",
            "网站",
            "官网",
            "域名",
        ],
        "industry" => &["industry", "sector", "行业", "所属行业"],
        // (`Mailing …` is Salesforce's and Zoho's contact address,
        // `Billing …` their account's.)
        "address.street" => &[
            "address",
            "street",
            "street address",
            "address line 1",
            "mailing street",
            "billing street",
            "地址",
            "街道",
            "详细地址",
        ],
        "address.city" => &["city", "town", "mailing city", "billing city", "城市", "市", "所在城市"],
        "address.region" => &[
            "state",
            "province",
            "region",
            "county",
            "state province",
            "mailing state",
            "mailing state province",
            "billing state",
            "billing state province",
            "省",
            "省份",
            "地区",
            "州",
        ],
        "address.postal_code" => &[
            "zip",
            "zip code",
            "zipcode",
            "postal code",
            "postcode",
            "post code",
            "mailing zip",
            "mailing zip code",
            "mailing postal code",
            "mailing zip postal code",
            "billing zip",
            "billing zip postal code",
            "billing postal code",
            "邮编",
            "邮政编码",
        ],
        "address.country" => &[
            "country",
            "country name",
            "country region",
            "nation",
            "mailing country",
            "billing country",
            "国家",
            "国家地区",
        ],
        "lifecycle_stage" => &["lifecycle stage", "lifecycle", "lead status", "status", "生命周期", "客户阶段"],
        "owner" => &[
            "owner",
            "account owner",
            "contact owner",
            "sales rep",
            "salesperson",
            "deal owner",
            "opportunity owner",
            "assigned to",
            "负责人",
            "销售",
            "归属人",
        ],
        "tags" => &["tags", "tag", "labels", "categories", "标签"],
        "notes" => &["notes", "note", "comments", "comment", "remarks", "description", "备注", "说明"],
        "subscribed_at" => &[
            "subscription date",
            "subscribed",
            "subscribed at",
            "signup date",
            "sign up date",
            "signed up",
            "signed up at",
            "signed up on",
            "signup",
            "sign up",
            "opt in date",
            "created",
            "registration date",
            "注册日期",
            "注册时间",
            "订阅日期",
        ],
        "amount" => &[
            "amount",
            "value",
            "deal value",
            "deal amount",
            "revenue",
            "金额",
            "合同金额",
            "betrag",
            "montant",
            "importe",
            "valor",
            "bedrag",
            "importo",
        ],
        "currency" => &["currency", "currency code", "currency iso code", "币种", "货币"],
        "stage" => &["stage", "deal stage", "pipeline stage", "阶段"],
        "close_date" => &["close date", "closing date", "expected close date", "成交日期", "预计成交日期"],
        "kind" => {
            &["type", "kind", "activity type", "类型", "活动类型", "art", "typ", "aktivitätstyp", "type d'activité"]
        }
        "subject" => &["subject", "title", "主题", "标题", "betreff", "objet", "asunto"],
        "body" => &["body", "content", "description", "内容", "inhalt", "beschreibung"],
        "occurred_at" => &["date", "occurred at", "activity date", "timestamp", "时间", "日期", "datum", "zeitpunkt"],
        "contact.email" => &["contact email", "email", "e mail", "联系人邮箱", "邮箱", "电子邮件"],
        // A deal's contacts, by their e-mails.
        "contacts" => &[
            "contacts",
            "contact email",
            "contact emails",
            "contact e mail",
            "associated contacts",
            "kontakt e mail",
            "e mail kontakt",
            "email du contact",
            "e mail du contact",
            "correo del contacto",
            "email contatto",
            "联系人邮箱",
        ],
        "deal.name" => &["deal", "deal name", "opportunity", "associated deal", "商机"],
        _ => &[],
    }
}

/// Names German, French, Spanish, Italian and Dutch files give the standard
/// fields, normalized, with the countries whose language each is in, and
/// whether it is a sign of the first one's (`language_of`). A name counts
/// in a file whose headers are in its language (`headers_language`), a sign
/// in any: `Firma` is a company in German and a signature in Spanish,
/// `Cargo` a job title in Spanish and freight in English, where `Telefon`
/// is German alone. Matched
/// exactly, never by likeness: they resemble English headers that mean
/// something else (`Department` and `département`, `Telefax` and `Telefon`).
const TRANSLATIONS: &[(&str, &str, &[&str], bool)] = &[
    ("vorname", "first_name", &["DE"], true),
    ("prénom", "first_name", &["FR"], true),
    ("prenom", "first_name", &["FR"], true),
    ("nombre", "first_name", &["ES"], true),
    ("nome", "first_name", &["IT"], true),
    ("voornaam", "first_name", &["NL"], true),
    ("nachname", "last_name", &["DE"], true),
    ("familienname", "last_name", &["DE"], false),
    ("nom", "last_name", &["FR"], false),
    ("nom de famille", "last_name", &["FR"], true),
    ("apellido", "last_name", &["ES"], true),
    ("apellidos", "last_name", &["ES"], true),
    ("cognome", "last_name", &["IT"], true),
    ("achternaam", "last_name", &["NL"], true),
    ("ansprechpartner", "full_name", &["DE"], false),
    ("kontaktperson", "full_name", &["DE"], false),
    ("nom complet", "full_name", &["FR"], false),
    ("nombre completo", "full_name", &["ES"], false),
    ("nome completo", "full_name", &["IT"], false),
    ("volledige naam", "full_name", &["NL"], false),
    ("naam", "full_name", &["NL"], true),
    ("e mail adresse", "email", &["DE"], true),
    ("email adresse", "email", &["DE"], false),
    ("courriel", "email", &["FR"], true),
    ("adresse e mail", "email", &["FR"], false),
    ("adresse email", "email", &["FR"], false),
    ("adresse mail", "email", &["FR"], false),
    ("correo", "email", &["ES"], true),
    ("correo electrónico", "email", &["ES"], true),
    ("correo electronico", "email", &["ES"], false),
    ("correo e", "email", &["ES"], false),
    ("posta elettronica", "email", &["IT"], false),
    ("indirizzo email", "email", &["IT"], false),
    ("e mailadres", "email", &["NL"], false),
    ("telefon", "phone", &["DE"], true),
    ("telefonnummer", "phone", &["DE"], true),
    ("festnetz", "phone", &["DE"], false),
    ("telefon geschäftlich", "phone", &["DE"], false),
    ("téléphone", "phone", &["FR"], true),
    ("tél", "phone", &["FR"], true),
    ("téléphone fixe", "phone", &["FR"], false),
    ("telephone fixe", "phone", &["FR"], false),
    ("numéro de téléphone", "phone", &["FR"], false),
    ("teléfono", "phone", &["ES"], true),
    ("telefono", "phone", &["IT", "ES"], true),
    ("telefoon", "phone", &["NL"], true),
    ("telefoonnummer", "phone", &["NL"], true),
    ("mobil", "mobile", &["DE"], false),
    ("mobiltelefon", "mobile", &["DE"], true),
    ("handy", "mobile", &["DE"], true),
    ("handynummer", "mobile", &["DE"], false),
    ("mobilnummer", "mobile", &["DE"], false),
    ("portable", "mobile", &["FR"], false),
    ("téléphone portable", "mobile", &["FR"], false),
    ("gsm", "mobile", &["FR", "NL"], false),
    ("móvil", "mobile", &["ES"], true),
    ("movil", "mobile", &["ES"], false),
    ("teléfono móvil", "mobile", &["ES"], false),
    ("celular", "mobile", &["ES"], false),
    ("cellulare", "mobile", &["IT"], true),
    ("telefono cellulare", "mobile", &["IT"], false),
    ("mobiel", "mobile", &["NL"], true),
    ("mobiele telefoon", "mobile", &["NL"], false),
    ("funktion", "title", &["DE"], false),
    ("berufsbezeichnung", "title", &["DE"], false),
    ("poste", "title", &["FR"], false),
    ("fonction", "title", &["FR"], false),
    ("cargo", "title", &["ES"], false),
    ("puesto", "title", &["ES"], false),
    ("ruolo", "title", &["IT"], false),
    ("functie", "title", &["NL"], false),
    ("firma", "company.name", &["DE"], false),
    ("firmenname", "company.name", &["DE"], true),
    ("unternehmen", "company.name", &["DE"], false),
    ("société", "company.name", &["FR"], true),
    ("societe", "company.name", &["FR"], false),
    ("entreprise", "company.name", &["FR"], false),
    ("raison sociale", "company.name", &["FR"], true),
    ("empresa", "company.name", &["ES"], true),
    ("compañía", "company.name", &["ES"], true),
    ("azienda", "company.name", &["IT"], true),
    ("società", "company.name", &["IT"], true),
    ("ragione sociale", "company.name", &["IT"], true),
    ("bedrijf", "company.name", &["NL"], true),
    ("bedrijfsnaam", "company.name", &["NL"], true),
    ("webseite", "domain", &["DE"], false),
    ("internetseite", "domain", &["DE"], false),
    ("site web", "domain", &["FR"], false),
    ("site internet", "domain", &["FR"], false),
    ("sitio web", "domain", &["ES"], false),
    ("sito web", "domain", &["IT"], false),
    ("branche", "industry", &["DE", "NL"], false),
    ("secteur", "industry", &["FR"], false),
    ("secteur d activité", "industry", &["FR"], false),
    ("industria", "industry", &["ES", "IT"], false),
    ("settore", "industry", &["IT"], false),
    ("straße", "address.street", &["DE"], true),
    ("strasse", "address.street", &["DE"], true),
    ("straße geschäftlich", "address.street", &["DE"], false),
    ("adresse", "address.street", &["DE", "FR"], false),
    ("anschrift", "address.street", &["DE"], false),
    ("rue", "address.street", &["FR"], false),
    ("dirección", "address.street", &["ES"], true),
    ("direccion", "address.street", &["ES"], false),
    ("calle", "address.street", &["ES"], false),
    ("indirizzo", "address.street", &["IT"], true),
    ("adres", "address.street", &["NL"], false),
    ("straat", "address.street", &["NL"], true),
    ("ort", "address.city", &["DE"], true),
    ("ort geschäftlich", "address.city", &["DE"], false),
    ("stadt", "address.city", &["DE"], false),
    ("wohnort", "address.city", &["DE"], false),
    ("ville", "address.city", &["FR"], true),
    ("ciudad", "address.city", &["ES"], true),
    ("localidad", "address.city", &["ES"], false),
    ("città", "address.city", &["IT"], true),
    ("citta", "address.city", &["IT"], false),
    ("plaats", "address.city", &["NL"], true),
    ("woonplaats", "address.city", &["NL"], true),
    ("bundesland", "address.region", &["DE"], true),
    ("région", "address.region", &["FR"], false),
    ("département", "address.region", &["FR"], false),
    ("departement", "address.region", &["FR"], false),
    ("provincia", "address.region", &["ES", "IT"], false),
    ("regione", "address.region", &["IT"], false),
    ("provincie", "address.region", &["NL"], false),
    ("plz", "address.postal_code", &["DE"], true),
    ("postleitzahl", "address.postal_code", &["DE"], true),
    ("postleitzahl geschäftlich", "address.postal_code", &["DE"], false),
    ("code postal", "address.postal_code", &["FR"], true),
    ("cp", "address.postal_code", &["FR", "ES"], false),
    ("código postal", "address.postal_code", &["ES"], true),
    ("codigo postal", "address.postal_code", &["ES"], false),
    ("cap", "address.postal_code", &["IT"], false),
    ("codice postale", "address.postal_code", &["IT"], true),
    ("land", "address.country", &["DE", "NL"], false),
    ("pays", "address.country", &["FR"], true),
    ("land region", "address.country", &["DE"], false),
    ("land region geschäftlich", "address.country", &["DE"], false),
    ("país", "address.country", &["ES"], true),
    ("pais", "address.country", &["ES"], false),
    ("paese", "address.country", &["IT"], false),
    ("nazione", "address.country", &["IT"], false),
    ("notizen", "notes", &["DE"], false),
    ("bemerkung", "notes", &["DE"], false),
    ("bemerkungen", "notes", &["DE"], true),
    ("anmerkungen", "notes", &["DE"], false),
    ("kommentar", "notes", &["DE"], false),
    ("remarques", "notes", &["FR"], false),
    ("commentaire", "notes", &["FR"], false),
    ("commentaires", "notes", &["FR"], false),
    ("notas", "notes", &["ES"], false),
    ("comentarios", "notes", &["ES"], false),
    ("observaciones", "notes", &["ES"], false),
    ("note", "notes", &["IT"], false),
    ("opmerkingen", "notes", &["NL"], false),
    ("notities", "notes", &["NL"], false),
    ("bezeichnung", "name", &["DE"], true),
    ("nom", "name", &["FR"], false),
    ("nombre", "name", &["ES"], false),
    ("nome", "name", &["IT"], false),
    ("naam", "name", &["NL"], false),
    ("währung", "currency", &["DE"], true),
    ("waehrung", "currency", &["DE"], false),
    ("devise", "currency", &["FR"], false),
    ("moneda", "currency", &["ES"], true),
    ("valuta", "currency", &["IT", "NL"], false),
    ("abschlussdatum", "close_date", &["DE"], true),
    ("date de clôture", "close_date", &["FR"], true),
    ("date de cloture", "close_date", &["FR"], false),
    ("fecha de cierre", "close_date", &["ES"], true),
    ("data di chiusura", "close_date", &["IT"], true),
    ("sluitingsdatum", "close_date", &["NL"], true),
    ("phase", "stage", &["DE", "FR"], false),
    ("verkaufsphase", "stage", &["DE"], true),
    ("étape", "stage", &["FR"], true),
    ("etape", "stage", &["FR"], false),
    ("etapa", "stage", &["ES"], false),
    ("fase", "stage", &["IT", "NL", "ES"], false),
];

/// The names of `field` in `language` (a country code, see
/// `headers_language`), and its signs of a language in any file.
fn translations(field: &str, language: Option<&str>) -> impl Iterator<Item = &'static &'static str> {
    TRANSLATIONS
        .iter()
        .filter(move |(_, f, langs, sign)| *f == field && (*sign || language.is_some_and(|l| langs.contains(&l))))
        .map(|(name, _, _, _)| name)
}

/// The country whose language a header is a sign of (`Telefon` is German,
/// `Téléphone` French). Spanish words shared with Latin America and French
/// ones shared with Belgium and Canada name Spain and France: the phones'
/// region drawn from it is checked against the numbers, and marked CHECK.
fn language_of(header: &str) -> Option<&'static str> {
    TRANSLATIONS.iter().find(|(name, _, _, sign)| *sign && *name == header).map(|(_, _, langs, _)| langs[0])
}

/// The language most of a file's headers are in (as the country code of
/// its phones' likeliest region), if two headers or more are in one and no
/// other language has as many.
fn headers_language(headers: &[String]) -> Option<&'static str> {
    let counts = tally(headers.iter().filter_map(|h| language_of(&normalize(h))));
    // (Two headers at least: one German word among English ones, `Handy`,
    // is no German file.)
    match counts.as_slice() {
        [(lang, n)] if *n >= 2 => Some(lang),
        [(lang, a), (_, b), ..] if a > b && *a >= 2 => Some(lang),
        _ => None,
    }
}

/// Each distinct item with how often it comes, the most frequent first
/// (of as frequent ones, the first met).
fn tally<'a>(items: impl Iterator<Item = &'a str>) -> Vec<(&'a str, usize)> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for item in items {
        match counts.iter_mut().find(|(k, _)| *k == item) {
            Some((_, n)) => *n += 1,
            None => counts.push((item, 1)),
        }
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    counts
}

/// A name's parts as a file in another language names them: its word for
/// the surname (`Nom`, `Nombre`, `Naam`) with no first name beside it is
/// the whole name; German `Name` beside `Vorname` is the surname.
fn name_parts(assigned: &mut [Option<(&'static str, How)>], headers: &[String]) {
    let vorname = headers.iter().any(|h| normalize(h) == "vorname");
    let has =
        |assigned: &[Option<(&'static str, How)>], field: &str| assigned.iter().flatten().any(|(f, _)| *f == field);
    for (i, h) in headers.iter().enumerate() {
        let h = normalize(h);
        let Some((field, _)) = &assigned[i] else { continue };
        let lone = ["nom", "nombre", "nome"].contains(&h.as_str())
            && matches!(*field, "first_name" | "last_name")
            && !has(assigned, if *field == "first_name" { "last_name" } else { "first_name" })
            && !has(assigned, "full_name");
        let surname = vorname
            && h == "name"
            && *field == "full_name"
            && has(assigned, "first_name")
            && !has(assigned, "last_name");
        if lone {
            assigned[i] = Some(("full_name", How::Synonym("name")));
        } else if surname {
            assigned[i] = Some(("last_name", How::Synonym("name, beside vorname")));
        }
    }
}

const ID_HEADERS: &[&str] =
    &["id", "customer id", "external id", "record id", "contact id", "account id", "编号", "客户编号", "客户id"];

/// Words that make a header another attribute of the thing it names:
/// `Company Type` holds whether a partner is a company, not its name;
/// `Company Phone` its phone.
const QUALIFIERS: &[&str] = &[
    // (`Account Number` is the account's number, not its name.)
    "number",
    "no",
    "nr",
    "num",
    "type",
    "kind",
    "category",
    "class",
    "id",
    "code",
    "size",
    "count",
    "status",
    "flag",
    "opt",
    "verified",
    "valid",
    "source",
    "format",
    "length",
    "score",
    "phone",
    "email",
    "owner",
    "industry",
    "address",
    "street",
    "city",
    "state",
    "country",
    "revenue",
    "linkedin",
    "website",
    "url",
    "fax",
    "employees",
    "description",
    "date",
];

/// Whether `header` has a qualifier word `synonym` (both normalized) has
/// not, which a similarity score would take for the synonym itself.
fn qualified(header: &str, synonym: &str) -> bool {
    let named: Vec<&str> = synonym.split(' ').collect();
    header.split(' ').any(|w| !named.contains(&w) && QUALIFIERS.contains(&w))
}

/// The Simplified form of a Traditional character CRM headers use
/// (`電子郵件` is `电子邮件`, `手機` is `手机`), so that Taiwan's and Hong
/// Kong's headers match the Chinese names above.
fn simplified(c: char) -> char {
    const PAIRS: &[(char, char)] = &[
        ('電', '电'),
        ('話', '话'),
        ('郵', '邮'),
        ('機', '机'),
        ('號', '号'),
        ('碼', '码'),
        ('聯', '联'),
        ('繫', '系'),
        ('係', '系'),
        ('稱', '称'),
        ('業', '业'),
        ('區', '区'),
        ('網', '网'),
        ('職', '职'),
        ('務', '务'),
        ('銜', '衔'),
        ('單', '单'),
        ('戶', '户'),
        ('類', '类'),
        ('動', '动'),
        ('產', '产'),
        ('額', '额'),
        ('幣', '币'),
        ('階', '阶'),
        ('備', '备'),
        ('註', '注'),
        ('標', '标'),
        ('籤', '签'),
        ('負', '负'),
        ('責', '责'),
        ('國', '国'),
        ('縣', '县'),
        ('鄉', '乡'),
        ('鎮', '镇'),
        ('員', '员'),
        ('時', '时'),
        ('間', '间'),
        ('訂', '订'),
        ('閱', '阅'),
        ('創', '创'),
        ('會', '会'),
        ('議', '议'),
        ('題', '题'),
        ('內', '内'),
        ('記', '记'),
        ('價', '价'),
        ('狀', '状'),
        ('態', '态'),
        ('處', '处'),
        ('門', '门'),
        ('詳', '详'),
        ('細', '细'),
        ('說', '说'),
        ('來', '来'),
        ('齡', '龄'),
        ('貿', '贸'),
        ('專', '专'),
        ('級', '级'),
        ('帳', '账'),
        ('賬', '账'),
        ('寫', '写'),
        ('簡', '简'),
        ('體', '体'),
        ('點', '点'),
        ('廠', '厂'),
        ('傳', '传'),
        ('屬', '属'),
        ('營', '营'),
        ('銷', '销'),
        ('購', '购'),
        ('貨', '货'),
        ('錄', '录'),
        ('歷', '历'),
    ];
    if c.is_ascii() {
        return c;
    }
    PAIRS.iter().find(|(t, _)| *t == c).map_or(c, |(_, s)| *s)
}

fn normalize(h: &str) -> String {
    let mut out = String::with_capacity(h.len());
    let mut prev_space = true;
    let mut prev_lower = false;
    for c in h.trim().chars() {
        if c.is_alphanumeric() {
            // camelCase → camel case
            if c.is_uppercase() && prev_lower && !prev_space {
                out.push(' ');
            }
            out.extend(simplified(c).to_lowercase());
            prev_space = false;
            prev_lower = c.is_lowercase();
        } else if !prev_space {
            out.push(' ');
            prev_space = true;
            prev_lower = false;
        }
    }
    out.trim_end().to_string()
}

/// A nested header's first and last names (`address.geo.lng` gives
/// `address`, `lng`), normalized.
fn nesting(header: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = header.split('.').filter(|p| !p.trim().is_empty()).collect();
    match parts.as_slice() {
        [first, .., last] => Some((normalize(first), normalize(last))),
        _ => None,
    }
}

/// The fields a nesting holds (an `address` object's `zip` is the postal
/// code; a `company` object's `phone` is not the contact's).
fn family(within: &str) -> Option<fn(&str) -> bool> {
    match within {
        "address" | "addr" | "location" | "mailing address" | "地址" => Some(|f| f.starts_with("address.")),
        "name" | "contact name" | "person" | "姓名" => {
            Some(|f| matches!(f, "first_name" | "last_name" | "full_name"))
        }
        "company" | "organization" | "organisation" | "account" | "公司" => Some(|f| f.starts_with("company.")),
        _ => None,
    }
}

/// A value map for an activity kind column written in the source's own
/// words (`电话`, `Phone call`, `Besprechung`), and the sampled values that
/// are neither such a word nor a kind.
fn activity_kinds(values: &[&str]) -> (Option<String>, Vec<String>) {
    const WORDS: &[(&str, &[&str])] = &[
        (
            "call",
            &[
                "电话",
                "通话",
                "来电",
                "去电",
                "致电",
                "phone",
                "phone call",
                "telephone",
                "anruf",
                "telefonat",
                "telefon",
                "appel",
                "llamada",
            ],
        ),
        ("email", &["邮件", "电子邮件", "e-mail", "mail", "邮箱", "courriel", "correo"]),
        ("meeting", &["会议", "会面", "拜访", "面谈", "visit", "meet", "besprechung", "termin", "réunion", "reunión"]),
        ("note", &["备注", "笔记", "记录", "notes", "comment", "notiz", "remarque"]),
    ];
    let mut pairs: Vec<(String, &str)> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    for v in values {
        let (said, as_written) = (v.trim().to_lowercase(), v.trim().to_string());
        if ["call", "email", "meeting", "note"].contains(&said.as_str())
            || pairs.iter().any(|(w, _)| *w == as_written)
            || unknown.contains(&as_written)
        {
            continue;
        }
        match WORDS.iter().find(|(_, words)| words.contains(&said.as_str())) {
            Some((kind, _)) => pairs.push((as_written, kind)),
            None => unknown.push(as_written),
        }
    }
    let map = (!pairs.is_empty()).then(|| {
        pairs.iter().map(|(w, k)| format!("{} = {}", toml_str(w), toml_str(k))).collect::<Vec<_>>().join(", ")
    });
    (map, unknown)
}

fn snake(h: &str) -> String {
    let s = normalize(h).replace(' ', "_");
    if s.is_empty() { "column".to_string() } else { s }
}

/// A normalized header's Chinese, Japanese or Korean characters and the
/// rest, when it has both.
fn halves(normalized: &str) -> Vec<String> {
    let cjk = |c: char| matches!(c, '\u{3040}'..='\u{30FF}' | '\u{3400}'..='\u{9FFF}' | '\u{AC00}'..='\u{D7AF}' | '\u{F900}'..='\u{FAFF}');
    let east: String = normalized.chars().filter(|c| cjk(*c)).collect();
    let rest: String = normalized.chars().filter(|c| !cjk(*c)).collect();
    let rest = rest.split_whitespace().collect::<Vec<_>>().join(" ");
    if east.is_empty() || rest.is_empty() {
        return Vec::new();
    }
    vec![east, rest]
}

#[derive(Debug, Clone)]
enum How {
    Exact,
    Synonym(&'static str),
    Fuzzy(f64, &'static str),
    /// By the values alone: the header names nothing they are.
    Values,
}

#[derive(Debug, Default)]
struct TypeGuess {
    ty: Option<&'static str>,
    format: Option<String>,
    region: Option<String>,
    note: String,
    warning: Option<String>,
    decimal_comma: bool,
    /// The region is a guess from the headers' language or the e-mail
    /// addresses' domains: each row's country, where the file has one,
    /// says more.
    region_guessed: bool,
}

impl TypeGuess {
    /// Adds `note` to the warning, after what it says already.
    fn warn(&mut self, note: String) {
        self.warning = Some(match self.warning.take() {
            Some(w) => format!("{w}; {note}"),
            None => note,
        });
    }
}

fn fraction(values: &[&str], ok: impl Fn(&str) -> bool) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.iter().filter(|v| ok(v)).count() as f64 / values.len() as f64
}

const DATE_FORMATS: &[(&str, bool)] = &[
    // (format, is day-first or month-first ambiguous family)
    ("%Y/%m/%d", false),
    ("%d/%m/%Y", true),
    ("%m/%d/%Y", true),
    ("%d.%m.%Y", false),
    ("%d.%m.%y", false),
    ("%d-%m-%Y", true),
    ("%m-%d-%Y", true),
    ("%Y年%m月%d日", false),
    ("%Y.%m.%d", false),
    ("%d/%m/%y", true),
    ("%m/%d/%y", true),
];

/// The clocks a date of `DATE_FORMATS` is written with in a date-time:
/// of 24 hours or 12 (`2:30 PM`), with seconds or without.
const CLOCKS: [&str; 4] = ["%H:%M", "%H:%M:%S", "%I:%M %p", "%I:%M:%S %p"];

/// The guess of a column whose every value is a `ty` (date or datetime)
/// in each format of `fits` (format, of the day-first or month-first
/// family): the first; where day-first and month-first both fit, the one
/// of the file's `order`, or none.
fn in_format(
    ty: &'static str,
    fits: Vec<(String, bool)>,
    order: Option<DayOrder<'_>>,
    same_either_way: bool,
) -> Option<TypeGuess> {
    let (fmt, family) = fits.first()?;
    let what = if ty == "date" { "date" } else { "date-time" };
    let two_digit = fmt.contains("%y").then(|| {
        "two-digit years are read as 1969-2068 (`55` as 2055): check the century, or write the years in full"
            .to_string()
    });
    if fits.len() > 1 && *family && !same_either_way {
        let options: Vec<&str> = fits.iter().map(|(f, _)| f.as_str()).collect();
        if let Some(order) = order
            && order.against.is_none()
            && let Some(fmt) = options.iter().find(|f| is_month_first(f) == order.month_first)
        {
            let (first, second) = if order.month_first { ("month", "day") } else { ("day", "month") };
            return Some(TypeGuess {
                ty: Some(ty),
                format: Some((*fmt).to_string()),
                note: format!("every value is a {what} in {}", options.join(" or ")),
                warning: Some(format!(
                    "this column's values fit both orders: read {first} before {second}, as column {:?} writes \
                     them ({:?})",
                    order.column, order.example
                )),
                ..Default::default()
            });
        }
        // Where the file's columns disagree, both are named.
        let disagree = order.and_then(|o| {
            let (column, example) = o.against?;
            let first = |month_first: bool| if month_first { "month first" } else { "day first" };
            Some(format!(
                " (the file's columns disagree: {:?} writes {} ({:?}), {column:?} {} ({example:?}))",
                o.column,
                first(o.month_first),
                o.example,
                first(!o.month_first)
            ))
        });
        return Some(TypeGuess {
            note: format!("{what}s, but day-first and month-first both fit every value ({})", options.join(" or ")),
            warning: Some(format!(
                "AMBIGUOUS {what}s: add type = {ty:?} with format = {:?} or {:?}, whichever the source uses{}",
                options[0],
                options.get(1).unwrap_or(&options[0]),
                disagree.unwrap_or_default()
            )),
            ..Default::default()
        });
    }
    Some(TypeGuess {
        ty: Some(ty),
        format: Some(fmt.clone()),
        note: format!("every value is a {what} in {fmt}"),
        warning: two_digit,
        ..Default::default()
    })
}

/// What to say of date-times without an offset: they are read as UTC,
/// where a user of another zone would find every time hours off. The zone
/// named is the main one of the country the file points to, if any.
fn read_as_utc(country: Option<&str>) -> String {
    let zone = match country {
        Some("CN") => "Asia/Shanghai",
        Some("JP") => "Asia/Tokyo",
        Some("KR") => "Asia/Seoul",
        Some("TW") => "Asia/Taipei",
        Some("HK") => "Asia/Hong_Kong",
        Some("SG") => "Asia/Singapore",
        Some("IN") => "Asia/Kolkata",
        Some("DE") => "Europe/Berlin",
        Some("AT") => "Europe/Vienna",
        Some("CH") => "Europe/Zurich",
        Some("GB") => "Europe/London",
        Some("IE") => "Europe/Dublin",
        Some("FR") => "Europe/Paris",
        Some("BE") => "Europe/Brussels",
        Some("ES") => "Europe/Madrid",
        Some("PT") => "Europe/Lisbon",
        Some("IT") => "Europe/Rome",
        Some("NL") => "Europe/Amsterdam",
        Some("US") => "America/New_York",
        Some("CA") => "America/Toronto",
        Some("MX") => "America/Mexico_City",
        Some("BR") => "America/Sao_Paulo",
        Some("AU") => "Australia/Sydney",
        Some("NZ") => "Pacific/Auckland",
        _ => {
            return "the times have no offset: they are read as UTC; if they are local times, add timezone = \
                    \"Area/City\", the zone they were written in (\"Europe/London\", \"America/Chicago\")"
                .to_string();
        }
    };
    format!(
        "the times have no offset: they are read as UTC; if they are local times, add timezone = {zone:?} (or \
         the zone they were written in)"
    )
}

/// Headers of columns whose digits are identifiers, not quantities: typed
/// as integers they would lose leading zeros that the sample happened not to show.
fn looks_like_code(header: &str) -> bool {
    let h = normalize(header);
    let words = [
        "id", "code", "zip", "postal", "postcode", "number", "no", "phone", "tel", "mobile", "fax", "account", "sku",
        "ssn",
    ];
    h.split(' ').any(|w| words.contains(&w))
        || ["编号", "邮编", "代码", "号码", "电话", "手机", "账号", "号"].iter().any(|z| header.contains(z))
}

/// A header with a word for a phone in it (`Phone 2`, `Tel. privat`).
fn names_a_phone(header: &str) -> bool {
    let words = ["phone", "tel", "telephone", "mobile", "cell", "fax", "telefon", "téléphone", "telefono", "teléfono"];
    normalize(header).split(' ').any(|w| words.contains(&w)) || ["电话", "手机"].iter().any(|z| header.contains(z))
}

/// Whether two headers of as many words differ in a word that is another
/// word, not one misspelt: `Contact Name` is no `Contact Owner`, where
/// `Emial Address` is an `Email Address`.
fn another_word(a: &str, b: &str) -> bool {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.split(' ').collect(), b.split(' ').collect());
    a.len() == b.len() && a.iter().zip(&b).any(|(x, y)| strsim::jaro_winkler(x, y) < 0.75)
}

/// Written as a date is: three groups of digits, one separator between
/// them (`31.02.2001`, `2001-02-31`, `3/14/24`), whether or not the day is
/// one the calendar has.
fn date_shaped(v: &str) -> bool {
    let t = v.trim();
    let Some(sep) = t.chars().find(|c| !c.is_ascii_digit()).filter(|c| matches!(c, '.' | '/' | '-')) else {
        return false;
    };
    let parts: Vec<&str> = t.split(sep).collect();
    let widths: Vec<usize> = parts.iter().map(|p| p.len()).collect();
    parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && matches!(widths.as_slice(), [4, 1..=2, 1..=2] | [1..=2, 1..=2, 2 | 4])
}

/// A date (or date-time) type for a column of values written as dates (or
/// dates and times), some on days the calendar lacks (`31.02.2001` beside
/// good ones): a column with errors in it, in the form most values are
/// read in, ISO or one of `DATE_FORMATS`, where half or more are; not a
/// column of phone numbers (which `03.04.1975` also reads as).
fn mostly_dates(
    values: &[&str],
    order: Option<DayOrder<'_>>,
    same_either_way: bool,
    clock: Option<&str>,
) -> Option<TypeGuess> {
    if values.is_empty() {
        return None;
    }
    // The forms to try, each of the day-first or month-first family: a
    // date's, or with a clock after it, a date-time's.
    let (ty, forms): (&'static str, Vec<(String, bool)>) = if values.iter().all(|v| date_time_shaped(v)) {
        let forms = DATE_FORMATS.iter().flat_map(|(day, family)| {
            [" ", ", "].into_iter().flat_map(move |sep| CLOCKS.iter().map(move |c| (format!("{day}{sep}{c}"), *family)))
        });
        ("datetime", forms.collect())
    } else if values.iter().all(|v| date_shaped(v)) {
        ("date", DATE_FORMATS.iter().map(|(f, family)| (f.to_string(), *family)).collect())
    } else {
        return None;
    };
    let utc = jiff::tz::TimeZone::UTC;
    let reads = |v: &str, fmt: &str| match ty {
        "date" => date::parse_date(v, Some(fmt)).is_ok(),
        _ => date::parse_datetime(v, Some(fmt), &utc).is_ok(),
    };
    let n = values.len();
    let iso = values.iter().filter(|v| date::parse_iso(v.trim()).is_some()).count();
    let counts: Vec<usize> = forms.iter().map(|(fmt, _)| values.iter().filter(|v| reads(v, fmt)).count()).collect();
    let best = counts.iter().copied().max().unwrap_or(0);
    let (read, mut guess) = if iso >= best {
        let note = if ty == "date" { "ISO 8601 dates" } else { "ISO 8601 date-times" };
        (iso, TypeGuess { ty: Some(ty), note: note.into(), ..Default::default() })
    } else {
        // (Of a day form's clocks, the first that reads as many.)
        let day = |fmt: &str| fmt.split([' ', ',']).next().unwrap_or_default().to_string();
        let mut fits: Vec<(String, bool)> = Vec::new();
        for ((fmt, family), c) in forms.into_iter().zip(&counts) {
            if *c == best && !fits.iter().any(|(f, _)| day(f) == day(&fmt)) {
                fits.push((fmt, family));
            }
        }
        (best, in_format(ty, fits, order, same_either_way)?)
    };
    if read * 2 < n {
        return None;
    }
    // (The values it rejects are counted and shown with every line's.)
    guess.note = guess.note.replace("every value is", "values are");
    if ty == "datetime" && guess.ty.is_some() {
        guess.warn(read_as_utc(clock));
    }
    Some(guess)
}

/// A date as `date_shaped` writes it and a time of day after it
/// (`2001-02-31 10:00`, `31.02.2001 10:00:15`, `3/14/2024 2:30 PM`).
fn date_time_shaped(v: &str) -> bool {
    let t = v.trim();
    let Some((day, time)) = t.split_once([' ', 'T']) else { return false };
    let time = time.trim();
    let time = time.strip_suffix(" AM").or_else(|| time.strip_suffix(" PM")).unwrap_or(time);
    let parts: Vec<&str> = time.split(':').collect();
    date_shaped(day.trim_end_matches(','))
        && (2..=3).contains(&parts.len())
        && parts.iter().all(|p| (1..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

fn looks_phone(v: &str) -> bool {
    if date_shaped(v) {
        return false;
    }
    let digits = v.bytes().filter(u8::is_ascii_digit).count();
    // (One `/` sets a German area code apart, `030/1234567`; two are a date.)
    (7..=18).contains(&digits)
        && v.chars().all(|c| c.is_ascii_digit() || " +-.()x#/".contains(c) || c == 'e' || c == 't')
        && v.matches('/').count() <= 1
        && (v.contains(['-', ' ', '(', '.', '+', '/']) || digits >= 10)
}

/// The country most of the numbers written with a country code are in
/// (four in five of them, its main region for a code several share:
/// +1 is US), if there is one.
fn dialled_in(values: &[&str]) -> Option<String> {
    let codes: Vec<u16> = values
        .iter()
        .filter_map(|v| international(v))
        .filter_map(|v| phonenumber::parse(None, &v).ok())
        .map(|n| n.code().value())
        .collect();
    let mut counts: std::collections::BTreeMap<u16, usize> = std::collections::BTreeMap::new();
    for c in &codes {
        *counts.entry(*c).or_default() += 1;
    }
    let (code, same) = counts.into_iter().max_by_key(|(_, n)| *n)?;
    if same * 5 < codes.len() * 4 {
        return None;
    }
    let regions = phonenumber::metadata::DATABASE.region(&code)?;
    regions.first().map(|r| r.to_string())
}

/// A number written with its country code, as `+` and digits: `00` before
/// the code is the international prefix, as the phone type reads it.
fn international(v: &str) -> Option<String> {
    let v = v.trim();
    if v.starts_with('+') {
        return Some(v.to_string());
    }
    let rest = v.strip_prefix("00")?.trim_start_matches([' ', '-', '.']);
    rest.starts_with(|c: char| c.is_ascii_digit() && c != '0').then(|| format!("+{rest}"))
}

/// A phone type for `values`, `f` of which look like phone numbers, read
/// in the country the file's country column or its numbers suggest.
fn phone_guess(values: &[&str], f: f64, hints: Hints<'_>) -> TypeGuess {
    let region_hint = hints.region;
    let plus = fraction(values, |v| international(v).is_some());
    // Chinese mobiles among the numbers without a country code (those with
    // one say nothing of the rest but through `dialled_in`).
    let national: Vec<&str> = values.iter().copied().filter(|v| international(v).is_none()).collect();
    let cn_mobiles = fraction(&national, |v| {
        let d: String = v.chars().filter(char::is_ascii_digit).collect();
        d.len() == 11 && d.starts_with('1') && matches!(d.as_bytes()[1], b'3'..=b'9')
    });
    let by_mobiles = region_hint.is_none() && cn_mobiles >= 0.8;
    let region_hint = region_hint.or(by_mobiles.then_some("CN"));
    // Numbers written with a country code say where the rest are likely
    // dialled: `+49 30 …` beside `030 …` is Germany, not the US.
    let by_code = (region_hint.is_none() && plus > 0.0).then(|| dialled_in(values)).flatten();
    let region_hint = region_hint.or(by_code.as_deref());
    // Else a weak hint, the e-mail domains' country or the headers'
    // language, where as many of the numbers are its country's as North
    // America's (`Firma` beside `(212) 555-0143` says nothing of the
    // phones); not where they are written as North America writes them,
    // which many a country's rules read as numbers of its own; nor where
    // the country dials a prefix before its numbers, `0`, and most of them
    // lack it (`212 555 0143` is no German number).
    let weak = |country: &&str| {
        let valid_in = |r: &str| national.iter().filter(|v| types::phone::is_valid(v, r.parse().ok())).count();
        let prefixed = match phonenumber::metadata::DATABASE.by_id(*country).and_then(|m| m.national_prefix()) {
            Some(prefix) => {
                fraction(&national, |v| v.trim_start_matches(|c: char| !c.is_ascii_digit()).starts_with(prefix)) >= 0.5
            }
            None => true,
        };
        // (Where more are numbers of the country than of North America,
        // they are its own written as it writes them: India's mobiles and
        // Brazil's `(11) 98765-4321` carry no trunk 0.)
        let (here, us) = (valid_in(country), valid_in("US"));
        region_hint.is_none()
            && (prefixed || here > us)
            && fraction(&national, types::phone::written_north_american) < 0.5
            && here > 0
            && here >= us
    };
    // Where most of the file's e-mail addresses are says more than the
    // headers' language (`.ch` beside German or French headers).
    let by_mail = hints.mail.filter(weak);
    let region_hint = region_hint.or(by_mail);
    let by_language = hints.language.filter(|c| by_mail.is_none() && weak(c));
    let region_hint = region_hint.or(by_language);
    let region = if plus >= 0.99 { None } else { Some(region_hint.unwrap_or("US").to_string()) };
    // Numbers that are none of the region's (a Taiwanese `0912-345-678`
    // read as Chinese) say the region may be wrong.
    let region_id: Option<phonenumber::country::Id> = region.as_deref().and_then(|r| r.parse().ok());
    let foreign: Vec<&&str> = match (&region, region_id) {
        (Some(_), Some(id)) => {
            national.iter().filter(|v| looks_phone(v) && !types::phone::is_valid(v, Some(id))).collect()
        }
        _ => Vec::new(),
    };
    let warning = match (&region, region_hint, foreign.first()) {
        (Some(_), Some(_), None) if by_mobiles => Some(
            "numbers without a country code are read as CN: most are 11 digits starting 13 to 19, as China's \
             mobiles are (a North American number written with its 1, `15551234567`, looks the same): check \
             `region` (or give each row's country with region_from)"
                .to_string(),
        ),
        (Some(r), Some(_), None) if by_language.is_some() => Some(format!(
            "numbers without a country code are read as {r}, the country of the headers' language: check `region` \
             (or give each row's country with region_from)"
        )),
        (Some(r), Some(_), None) if by_mail.is_some() => Some(format!(
            "numbers without a country code are read as {r}, {} most of the file's e-mail addresses are in (.{}): \
             check `region` (or give each row's country with region_from)",
            if hints.language == by_mail { "the country of the headers' language, which" } else { "the country" },
            if r == "GB" { "uk".to_string() } else { r.to_lowercase() }
        )),
        (Some(r), None, _) => Some(format!(
            "numbers without a country code are read as {r} (or as the row's country, with region_from): check `region`"
        )),
        (Some(r), Some(_), Some(example)) => Some(format!(
            "{} of {} sampled numbers without a country code are not valid in {r} (e.g. {example:?}): check \
             `region` (or give each row's country with region_from)",
            foreign.len(),
            national.len()
        )),
        _ => None,
    };
    TypeGuess {
        ty: Some("phone"),
        region_guessed: (by_language.is_some() || by_mail.is_some()) && region.is_some(),
        region,
        note: format!("{:.0}% of values are written like phone numbers", f * 100.0),
        warning,
        ..Default::default()
    }
}

/// Numbers with a decimal comma (`1.234,56`, `0,5`), as most of Europe
/// writes them. `1,234` alone could be either: some value must show it.
fn decimal_comma_column(values: &[&str]) -> bool {
    let comma_number = |v: &&str| {
        let t = v.trim();
        !t.is_empty()
            && t.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b',' | b'-' | b'+' | b' '))
            && types::from_decimal_comma(t).is_some()
    };
    let shows_comma = |v: &&str| {
        let t = v.trim();
        t.split_once(',').is_some_and(|(int, frac)| frac.len() != 3 || int.contains('.'))
    };
    !values.is_empty() && values.iter().all(comma_number) && values.iter().any(shows_comma)
}

/// Numbers whose points could as well stand between thousands: `12.000`,
/// `1.500`, `3`: three digits after every point, one to three before the
/// first.
fn dot_thousands_column(values: &[&str]) -> bool {
    let grouped = |v: &&str| {
        let t = v.trim();
        let t = t.strip_prefix(['-', '+']).unwrap_or(t);
        let mut groups = t.split('.');
        let first = groups.next().unwrap_or("");
        (1..=3).contains(&first.len())
            && first.bytes().all(|b| b.is_ascii_digit())
            && groups.all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()))
    };
    values.iter().all(grouped) && values.iter().any(|v| v.contains('.'))
}

/// What the rest of a file says of a column: where its phones are
/// dialled, beside their own digits, and which of day and month its dates
/// write first.
#[derive(Clone, Copy, Default)]
struct Hints<'a> {
    /// A country column's, an encoding's or the headers' script's country.
    region: Option<&'a str>,
    /// The country of the headers' language (`headers_language`): a guess,
    /// weaker than the numbers themselves.
    language: Option<&'a str>,
    /// The country most of the file's e-mail addresses are in, by their
    /// domains (`.de`): a guess as weak as the headers' language.
    mail: Option<&'a str>,
    /// The order of the file's dates where a column shows it.
    day_order: Option<DayOrder<'a>>,
}

/// Dates written day-first or month-first, as a column of the file shows
/// (a day after the 12th: `3/14/2024`).
#[derive(Clone, Copy)]
struct DayOrder<'a> {
    month_first: bool,
    column: &'a str,
    example: &'a str,
    /// A column that shows the other order (its name and a value): the
    /// file settles nothing then.
    against: Option<(&'a str, &'a str)>,
}

fn is_month_first(format: &str) -> bool {
    format.starts_with("%m")
}

/// The formats of `DATE_FORMATS` every value is a date in, or, for values
/// with a time, those every value is a date-time in (`01.02.2024 14:30`,
/// `3/14/2024 2:30 PM`): (format, of the day-first or month-first family),
/// and the type they are formats of.
fn date_fits(values: &[&str]) -> (&'static str, Vec<(String, bool)>) {
    let fits: Vec<(String, bool)> = DATE_FORMATS
        .iter()
        .filter(|(fmt, _)| values.iter().all(|v| date::parse_date(v, Some(fmt)).is_ok()))
        .map(|(fmt, family)| (fmt.to_string(), *family))
        .collect();
    if !fits.is_empty() || !values.iter().any(|v| v.contains(':')) {
        return ("date", fits);
    }
    // Of each date form, the first clock every value is read in: a
    // date-time column may leave out seconds and midnight's time
    // (`3/15/2024` beside `3/14/2024 2:30 PM`), so a clock with seconds
    // fits where one without does (and comes second).
    let utc = jiff::tz::TimeZone::UTC;
    let fits = DATE_FORMATS
        .iter()
        .filter_map(|(day, family)| {
            let mut formats =
                [" ", ", "].into_iter().flat_map(|sep| CLOCKS.iter().map(move |c| format!("{day}{sep}{c}")));
            let fmt = formats.find(|fmt| values.iter().all(|v| date::parse_datetime(v, Some(fmt), &utc).is_ok()))?;
            Some((fmt, *family))
        })
        .collect();
    ("datetime", fits)
}

/// The order of day and month in a file's dates, from its columns that
/// show it (`3/14/2024`), when they agree.
fn day_order<'a>(columns: &[(&'a str, Vec<&'a str>)]) -> Option<DayOrder<'a>> {
    let mut shown = columns.iter().filter_map(|(header, values)| {
        if values.is_empty() || date::parse_iso(values[0].trim()).is_some() {
            return None;
        }
        match date_fits(values).1.as_slice() {
            [(fmt, true)] => {
                let month_first = is_month_first(fmt);
                // The value no other order reads.
                let day = |v: &str| v.trim().split(['/', '-', '.', ' ']).nth(usize::from(month_first))?.parse().ok();
                let example = values.iter().find(|v| day(v).is_some_and(|d: u32| d > 12)).unwrap_or(&values[0]);
                Some(DayOrder { month_first, column: header, example, against: None })
            }
            _ => None,
        }
    });
    let mut first = shown.next()?;
    first.against = shown.find(|o| o.month_first != first.month_first).map(|o| (o.column, o.example));
    Some(first)
}

fn guess_type(header: &str, target: &str, values: &[&str], hints: Hints<'_>) -> TypeGuess {
    let region_hint = hints.region;
    // A header written in Japanese kana, Korean or Chinese says where its
    // numbers are dialled, when no country column does (`公司电话`).
    let script = |range: std::ops::RangeInclusive<char>| header.chars().any(|c| range.contains(&c));
    let by_script = if script('\u{3040}'..='\u{30FF}') {
        Some("JP")
    } else if script('\u{AC00}'..='\u{D7AF}') {
        Some("KR")
    } else if script('\u{4E00}'..='\u{9FFF}') {
        Some("CN")
    } else {
        None
    };
    let region_hint = region_hint.or(by_script);
    // The country whose clock the file's times are likely on.
    let clock = region_hint.or(hints.mail).or(hints.language);
    let n = values.len();
    if n == 0 {
        return TypeGuess { note: "no values to guess a type from".into(), ..Default::default() };
    }
    let pct = |f: f64| format!("{:.0}%", f * 100.0);
    // A list (`a@x.com; b@x.com`) the import splits and links by: no one
    // value's type.
    if target == "contacts" {
        return TypeGuess {
            note: "the deal's contacts, by their e-mails (`;`-separated)".into(),
            ..Default::default()
        };
    }
    // A column mapped to a phone field: bare digits (`13800138000`) are a
    // number to dial, not a count or a code.
    if matches!(target, "phone" | "mobile" | "company.phone") {
        let f = fraction(values, looks_phone);
        if f >= 0.9 {
            return phone_guess(values, f, Hints { region: region_hint, ..hints });
        }
    }
    let f = fraction(values, |v| types::email(v).is_ok());
    if f >= 0.8 {
        return TypeGuess {
            ty: Some("email"),
            note: format!("{} of values are e-mail addresses", pct(f)),
            ..Default::default()
        };
    }
    let all_int = values.iter().all(|v| {
        let t = v.trim().strip_prefix('-').unwrap_or(v.trim());
        !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())
    });
    // An amount is a decimal however whole the sampled ones are: `3.50`
    // further down the file is read too.
    if all_int && target == "amount" {
        return TypeGuess {
            ty: Some("decimal"),
            note: "the sampled values are whole numbers; an amount is a decimal, so cents are read too".into(),
            ..Default::default()
        };
    }
    if all_int {
        if values.iter().any(|v| v.trim().len() > 1 && v.trim().starts_with('0')) {
            return TypeGuess { note: "digits with leading zeros: kept as text".into(), ..Default::default() };
        }
        if values.iter().any(|v| v.trim().len() > 18) {
            return TypeGuess { note: "long digit strings (ids): kept as text".into(), ..Default::default() };
        }
        let same_width = values.iter().all(|v| v.trim().len() == values[0].trim().len());
        if looks_like_code(header) || target == "address.postal_code" || (same_width && values[0].trim().len() >= 4) {
            return TypeGuess {
                note: "digits of an identifier or code: kept as text, so leading zeros survive".into(),
                ..Default::default()
            };
        }
        return TypeGuess { ty: Some("integer"), note: "all values are whole numbers".into(), ..Default::default() };
    }
    if decimal_comma_column(values) {
        return TypeGuess {
            ty: Some("decimal"),
            decimal_comma: true,
            note: "all values are decimal numbers written with a decimal comma (1.234,56)".into(),
            ..Default::default()
        };
    }
    if values.iter().all(|v| {
        let t = v.trim();
        t.parse::<f64>().is_ok() && t.contains('.') && !t.contains(['e', 'E', 'n', 'N', 'i', 'I'])
    }) {
        return TypeGuess { ty: Some("decimal"), note: "all values are decimal numbers".into(), ..Default::default() };
    }
    if values
        .iter()
        // (Words, as the boolean type reads them; not `1`/`0`, which are numbers.)
        .all(|v| v.trim().chars().any(|c| !c.is_ascii_digit()) && types::boolean(v).is_ok())
    {
        return TypeGuess { ty: Some("boolean"), note: "all values are yes/no".into(), ..Default::default() };
    }
    // ISO dates and date-times need no format.
    let iso: Vec<_> = values.iter().map(|v| date::parse_iso(v.trim())).collect();
    if iso.iter().all(Option::is_some) {
        let has_time = values.iter().any(|v| v.trim().len() > 10);
        return if has_time {
            // Times without an offset are read on the mapping's clock, UTC
            // unless it names one: say so, where a user of another zone
            // would find every time hours off.
            let offsets = iso.iter().flatten().filter(|dt| dt.offset.is_some()).count();
            let warning = match values.iter().zip(&iso).find(|(_, dt)| dt.as_ref().is_some_and(|d| d.offset.is_none()))
            {
                None => None,
                Some(_) if offsets == 0 => Some(read_as_utc(clock)),
                // Some with an offset, some without: those are the ones
                // hours off.
                Some((example, _)) => Some(format!(
                    "{} of {} values have no offset (e.g. {example:?}): {}",
                    values.len() - offsets,
                    values.len(),
                    read_as_utc(clock).trim_start_matches("the times have no offset: ")
                )),
            };
            TypeGuess { ty: Some("datetime"), note: "ISO 8601 date-times".into(), warning, ..Default::default() }
        } else {
            TypeGuess { ty: Some("date"), note: "ISO 8601 dates".into(), ..Default::default() }
        };
    }
    // ISO dates beside spreadsheet serial numbers (`45365`, a date cell
    // formatted General): dates, which the date type reads both of.
    let serial = |v: &str| v.trim().parse::<f64>().is_ok_and(|n| (20_000.0..=80_000.0).contains(&n));
    let some_iso = iso.iter().any(Option::is_some);
    if some_iso && iso.iter().zip(values).all(|(d, v)| d.is_some() || serial(v)) {
        let example = values.iter().find(|v| serial(v)).copied().unwrap_or_default();
        return TypeGuess {
            ty: Some("date"),
            note: "ISO 8601 dates and spreadsheet date numbers".into(),
            warning: Some(format!(
                "some values are numbers ({example:?}): read as spreadsheet dates (days since 1899-12-30)"
            )),
            ..Default::default()
        };
    }
    let (ty, fits) = date_fits(values);
    // (`05/05/2024` reads the same either way round.)
    let same_either_way = values.iter().all(|v| {
        let parts: Vec<&str> = v.trim().splitn(3, ['/', '-', '.']).collect();
        parts.len() == 3 && parts[0].trim_start_matches('0') == parts[1].trim_start_matches('0')
    });
    if let Some(mut guess) = in_format(ty, fits, hints.day_order, same_either_way) {
        if ty == "datetime" {
            // Month-first dates are the United States'. (An ambiguous
            // column is told of the offset too: its type is to be added.)
            let month_first = guess.format.as_deref().is_some_and(is_month_first);
            let note = read_as_utc(clock.or(month_first.then_some("US")));
            guess.warn(note);
            if let Some(day) = values.iter().find(|v| !v.contains(':')) {
                let _ = write!(guess.note, "; dates alone ({day:?}) are read at midnight");
            }
        }
        return guess;
    }
    if let Some(guess) = mostly_dates(values, hints.day_order, same_either_way, clock) {
        return guess;
    }
    let f = fraction(values, looks_phone);
    if f >= 0.9 && values.iter().any(|v| v.contains(['-', ' ', '(', '.', '+', '/'])) {
        // Digits grouped so in a column no header calls a phone are one
        // only where most are numbers to dial there (not a tax id,
        // `12-3456789`).
        let guess = phone_guess(values, f, Hints { region: region_hint, ..hints });
        let region = guess.region.as_deref().and_then(|r| r.parse().ok());
        // (Where numbers are dialled at home after a `0`, one without it
        // is none: `12-3456789` in Germany.)
        let trunk_zero = guess
            .region
            .as_deref()
            .and_then(|r| phonenumber::metadata::DATABASE.by_id(r))
            .and_then(|m| m.national_prefix())
            == Some("0");
        let dialled = |v: &str| {
            international(v).is_some()
                || types::phone::is_valid(v, region)
                    && (!trunk_zero || v.trim_start_matches(|c: char| !c.is_ascii_digit()).starts_with('0'))
        };
        if names_a_phone(header) || fraction(values, dialled) >= 0.5 {
            return guess;
        }
    }
    let f = fraction(values, |v| {
        let t = v.trim();
        (t.starts_with("http://") || t.starts_with("https://") || t.starts_with("www.")) && !t.contains(' ')
    });
    if f >= 0.95 {
        return TypeGuess {
            ty: Some("url"),
            note: format!("{} of values are web addresses", pct(f)),
            ..Default::default()
        };
    }
    let f = fraction(values, |v| country::to_alpha2(v).is_some());
    if f >= 0.9 && values.iter().any(|v| v.trim().chars().count() > 3 || !v.trim().is_ascii()) {
        return TypeGuess {
            ty: Some("country"),
            note: format!("{} of values are countries", pct(f)),
            ..Default::default()
        };
    }
    TypeGuess { note: "values are text".into(), ..Default::default() }
}

/// The country most of a file's e-mail addresses are in, by the country
/// code their domains end in (`.de`, `.co.uk`), where more than half of
/// them show one (`mailed`: each column's share of e-mail addresses).
/// (Codes sold as names, `.io`, `.co`, `.me`, say nothing.)
fn mail_country(columns: &[(&str, Vec<&str>)], mailed: &[f64]) -> Option<&'static str> {
    const NAMES: [&str; 16] =
        ["io", "co", "me", "tv", "ai", "ly", "fm", "to", "cc", "ws", "gg", "am", "so", "sh", "ac", "nu"];
    let addresses: Vec<&str> = columns
        .iter()
        .zip(mailed)
        .filter(|(_, share)| **share >= 0.8)
        .flat_map(|((_, values), _)| values.iter().copied())
        .filter(|v| types::email(v).is_ok())
        .collect();
    let countries = addresses.iter().filter_map(|a| {
        let tld = a.trim().rsplit('.').next()?.to_ascii_lowercase();
        let tld = if tld == "uk" { "gb".to_string() } else { tld };
        (tld.len() == 2 && !NAMES.contains(&tld.as_str())).then(|| country::to_alpha2(&tld)).flatten()
    });
    let (country, n) = tally(countries).first().copied()?;
    (n * 2 > addresses.len()).then_some(country)
}

/// Whether every value is a date or a date-time (ISO, or in one format).
fn all_dates(values: &[&str]) -> bool {
    !values.is_empty()
        && (values.iter().all(|v| date::parse_iso(v.trim()).is_some()) || !date_fits(values).1.is_empty())
}

/// Whether a field may hold dates: one of dates, a custom field, a text.
fn holds_dates(field: &str) -> bool {
    matches!(field, "subscribed_at" | "close_date" | "occurred_at" | "notes" | "body" | "subject")
        || field.starts_with("custom.")
}

/// Whether a field may hold e-mail addresses: an e-mail, a link by one, an
/// owner (CRMs name owners by their login), an id or a custom field.
fn holds_emails(field: &str) -> bool {
    field == "email"
        || field.ends_with(".email")
        || matches!(field, "contacts" | "owner" | "external_id" | "notes" | "body" | "subject")
        || field.starts_with("custom.")
}

/// The share of `values` a field whose values are checked would take, or
/// `None` for a field that takes any text.
fn value_fit(field: &str, values: &[&str]) -> Option<f64> {
    let check: fn(&str) -> bool = match field {
        "email" => |v| types::email(v).is_ok(),
        "domain" | "company.domain" => |v| {
            let v = v.trim();
            v.contains('.') && !v.contains(char::is_whitespace) && !v.contains('@')
        },
        "phone" | "mobile" | "company.phone" => {
            |v| v.chars().filter(char::is_ascii_digit).count() >= 6 && !v.contains('@')
        }
        "address.country" => |v| country::to_alpha2(v).is_some(),
        _ => return None,
    };
    Some(fraction(values, check))
}

/// Whether reading column `i`'s phones in each row's country gives more
/// valid numbers than reading them all in `region`.
fn per_row_region_wins(samples: &[Vec<String>], headers: &[String], i: usize, country: &str, region: &str) -> bool {
    use phonenumber::country::Id;
    let Some(ci) = headers.iter().position(|h| h == country) else { return false };
    let (Some(phones), Some(countries)) = (samples.get(i), samples.get(ci)) else { return false };
    let fixed: Option<Id> = region.parse().ok();
    let (mut by_region, mut by_row) = (0, 0);
    let mut other_country = false;
    for (p, c) in phones.iter().zip(countries) {
        if p.trim().is_empty() {
            continue;
        }
        by_region += usize::from(types::phone::is_valid(p, fixed));
        let row: Option<Id> = country::to_alpha2(c).and_then(|a| a.parse().ok()).or(fixed);
        other_country |= row != fixed;
        by_row += usize::from(types::phone::is_valid(p, row));
    }
    // In a file of several countries, each row's own, unless that reads
    // clearly fewer (under three in four as many): one country's rules read
    // many foreign numbers as its own (`(852) 2345 6789` as a Chinese
    // number of area code 852, `01 42 68 53 00` as German), and a number
    // read in the wrong country is stored wrong without a word, where one
    // that is no number of its row's country is rejected, saying so.
    by_row > by_region || (other_country && 4 * by_row >= 3 * by_region)
}

fn toml_key(k: &str) -> String {
    if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        k.to_string()
    } else {
        toml_str(k)
    }
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// One line of a suggested mapping's `[fields]`: the field, the column it
/// is read from, and the line's comment (`check` when marked CHECK, and the
/// `# ^` warning under it), for `mapping suggest --json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SuggestedField {
    pub field: String,
    pub from: Vec<String>,
    pub check: bool,
    pub note: String,
    pub warning: Option<String>,
}

/// A suggested mapping: its text, and its fields as the text writes them.
#[derive(Debug, Clone)]
pub struct Suggestion {
    pub text: String,
    pub fields: Vec<SuggestedField>,
    /// The `[key]` line is marked CHECK.
    pub key_check: bool,
}

/// Writes a mapping for `headers`, whose sampled values are `samples[i]`.
pub fn suggest(entity: Entity, info: &SourceInfo, headers: &[String], samples: &[Vec<String>]) -> String {
    suggestion(entity, info, headers, samples).text
}

/// The mapping `suggest` writes, with its fields.
pub fn suggestion(entity: Entity, info: &SourceInfo, headers: &[String], samples: &[Vec<String>]) -> Suggestion {
    let fields = entity.fields();
    let empty: Vec<String> = Vec::new();
    let values_of = |i: usize| -> Vec<&str> {
        samples.get(i).unwrap_or(&empty).iter().map(String::as_str).filter(|v| !v.trim().is_empty()).collect()
    };
    let language = headers_language(headers);
    // Every (header, field) candidate with its score.
    let mut candidates: Vec<(f64, usize, &'static str, How)> = Vec::new();
    for (hi, h) in headers.iter().enumerate() {
        let nh = normalize(h);
        // A companies file names its own fields after the company
        // (HubSpot's `Company Domain Name`, `Company owner`): they are the
        // record's `domain` and `owner`, not another thing's.
        let nh = match nh.strip_prefix("company ") {
            Some(rest) if entity == Entity::Companies && !rest.is_empty() => rest.to_string(),
            _ => nh,
        };
        if nh.is_empty() {
            continue;
        }
        // A header in two languages (`姓名 Name`, `邮箱/Email`,
        // `手机(Mobile)`): either half may name a field.
        let halves = halves(&nh);
        // A JSON or XML field nested in another (`address.zip`,
        // `name.first`): its last name says what it is within the first.
        let nested = nesting(h).and_then(|(within, leaf)| Some((leaf, family(&within)?)));
        let list = info.lists.contains(h);
        for &f in &fields {
            // (A list goes to a field of lists, or to a custom one.)
            if list && !matches!(f, "tags" | "contacts") {
                continue;
            }
            let nf = normalize(f);
            if nh == nf || nh == normalize(&f.replace('.', " ")) {
                candidates.push((1.0, hi, f, How::Exact));
                continue;
            }
            let syns = synonyms(f);
            if let Some(s) = syns.iter().chain(translations(f, language)).find(|s| **s == nh) {
                candidates.push((0.95, hi, f, How::Synonym(s)));
                continue;
            }
            if let Some((leaf, of)) = &nested {
                let own = f.rsplit(['.', '_']).next().unwrap_or(f);
                let named = *leaf == normalize(own) || syns.contains(&leaf.as_str());
                // (Above a header that names the field by a synonym: an
                // address's zip is the postal code, more than a billing one.)
                if named && of(f) {
                    candidates.push((0.96, hi, f, How::Synonym(syns.iter().copied().find(|s| s == leaf).unwrap_or(f))));
                }
                // (Names alike by their first part, `address.zip` and
                // `address.street`, are no guide: no fuzzy match.)
                continue;
            }
            if let Some(s) = halves.iter().find_map(|half| {
                (*half == nf)
                    .then_some(f)
                    .or_else(|| syns.iter().chain(translations(f, language)).copied().find(|s| s == half))
            }) {
                candidates.push((0.93, hi, f, How::Synonym(s)));
                continue;
            }
            let best = syns
                .iter()
                .chain(std::iter::once(&f))
                .filter(|s| s.chars().count() >= 4)
                .map(|s| (strsim::jaro_winkler(&nh, &normalize(s)), *s))
                .max_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((score, s)) = best
                && score >= 0.88
                && !qualified(&nh, s)
                && !another_word(&nh, &normalize(s))
            {
                candidates.push((score * 0.9, hi, f, How::Fuzzy(score, s)));
            }
        }
    }
    // What the columns hold weighs in: a header that names e-mail over a
    // column holding none loses to one whose values are e-mails, and a
    // field whose values would nearly all be rejected is not suggested
    // (`company_id` of numbers is no `company.domain`).
    let sampled = samples.iter().any(|c| c.iter().any(|v| !v.trim().is_empty()));
    let dated: Vec<bool> = (0..headers.len()).map(|i| all_dates(&values_of(i))).collect();
    let mailed: Vec<f64> = (0..headers.len()).map(|i| fraction(&values_of(i), |v| types::email(v).is_ok())).collect();
    candidates.retain_mut(|(score, hi, f, how)| {
        let values = values_of(*hi);
        if values.is_empty() {
            if sampled {
                *score *= 0.5;
            }
            return true;
        }
        // (A column of e-mail addresses is no street, name or city,
        // whatever its header, `Address`, `Kontakt`, nor an owner by a
        // header only like its name, `Contact`; a column of dates is no
        // name, `Last Contacted`.)
        if mailed[*hi] >= 0.8 && (!holds_emails(f) || (matches!(how, How::Fuzzy(..)) && *f != "email")) {
            return false;
        }
        if dated[*hi] && !holds_dates(f) {
            return false;
        }
        value_fit(f, &values).is_none_or(|fit| fit >= 0.5)
    });
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut assigned: Vec<Option<(&'static str, How)>> = vec![None; headers.len()];
    let mut taken: Vec<&str> = Vec::new();
    for (_, hi, f, how) in candidates {
        if assigned[hi].is_none() && !taken.contains(&f) {
            taken.push(f);
            assigned[hi] = Some((f, how));
        }
    }
    name_parts(&mut assigned, headers);
    // The record's e-mail, where no header names a column of them, is the
    // column of e-mail addresses (the first, of several).
    let named = assigned.iter().position(|a| matches!(a, Some(("email", _))));
    if fields.contains(&"email") && named.is_none_or(|i| values_of(i).is_empty()) {
        let first = (0..headers.len()).find(|i| assigned[*i].is_none() && mailed[*i] >= 0.9);
        if let Some(i) = first {
            if let Some(empty) = named {
                assigned[empty] = None;
            }
            assigned[i] = Some(("email", How::Values));
        }
    }

    // A country column tells phones which region they are in. (Names, not
    // only two-letter codes, which a column of US states has too; a name in
    // Chinese, 中国, is short.)
    // (Codes will do in a column matched to the country by its header.)
    let named = |v: &&str| v.chars().count() > 3 || !v.is_ascii();
    let region_hint: Option<String> = headers.iter().enumerate().find_map(|(i, _)| {
        let vals = values_of(i);
        let codes: Vec<&str> = vals.iter().filter_map(|v| country::to_alpha2(v)).collect();
        let country = matches!(assigned[i], Some(("address.country", _)));
        if vals.is_empty() || (codes.len() as f64) < 0.9 * vals.len() as f64 || !(country || vals.iter().any(named)) {
            return None;
        }
        tally(codes.into_iter()).first().filter(|(_, n)| *n * 2 > vals.len()).map(|(c, _)| (*c).to_string())
    });

    // A file in a legacy East Asian encoding says where it was written,
    // where no country column does: Big5 in Taiwan, Shift_JIS in Japan
    // (their headers, in Han characters alone, would read as Chinese).
    let by_encoding = match info.encoding.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("big5") => Some("TW"),
        Some("shift_jis") => Some("JP"),
        Some("euc-kr") => Some("KR"),
        Some("gbk" | "gb18030") => Some("CN"),
        _ => None,
    };
    // (Headers in Traditional characters, in UTF-8: Taiwan, more often
    // than Hong Kong; the numbers are checked against it below.)
    let traditional = headers.iter().any(|h| h.chars().any(|c| simplified(c) != c));
    let region_hint = region_hint.or(by_encoding.map(str::to_string)).or(traditional.then(|| "TW".to_string()));

    // Mixed-country files: each row's country gives its phones' region.
    let country_column: Option<&String> = headers.iter().enumerate().find_map(|(i, h)| {
        let vals = values_of(i);
        let ok = !vals.is_empty()
            && fraction(&vals, |v| country::to_alpha2(v).is_some()) >= 0.9
            && vals.iter().any(|v| {
                let v = v.trim();
                v.chars().count() > 3 || !v.is_ascii() || ["US", "CN", "GB", "DE", "FR", "JP"].contains(&v)
            });
        ok.then_some(h)
    });

    let mut out = String::new();
    let _ = writeln!(out, "# Mapping suggested by crmsync for {} ({} headers).", info.file_name, headers.len());
    let _ = writeln!(out, "# Each line says how it was matched. Lines marked CHECK are guesses: read them first.");
    let _ = writeln!(out, "entity = {}", toml_str(entity.name()));
    let _ = writeln!(out, "\n[source]");
    let _ = writeln!(out, "format = {}", toml_str(&info.format));
    if let Some(e) = &info.encoding {
        let _ = writeln!(out, "encoding = {}", toml_str(e));
    }
    if let Some(d) = info.delimiter {
        let _ = writeln!(out, "delimiter = {}", toml_str(&d.to_string()));
    }
    if let Some(p) = &info.record_path {
        let _ = writeln!(out, "record_path = {}", toml_str(p));
    }
    if let Some(sheet) = &info.sheet {
        let _ = writeln!(out, "sheet = {}", toml_str(sheet));
    }
    if let Some(n) = info.header_row {
        let _ = writeln!(out, "header_row = {n}");
    }

    // Whether the file's numbers show a decimal comma somewhere: then its
    // `12.000` is twelve thousand.
    let file_commas = (0..headers.len()).any(|i| decimal_comma_column(&values_of(i)));
    let columns: Vec<(&str, Vec<&str>)> = headers.iter().enumerate().map(|(i, h)| (h.as_str(), values_of(i))).collect();
    let day_order = day_order(&columns);
    let mail = mail_country(&columns, &mailed);
    let mut body = String::new();
    let mut suggested: Vec<SuggestedField> = Vec::new();
    let mut used_targets: Vec<String> = Vec::new();
    let mut id_column: Option<&str> = None;
    // Contacts some of which lack an e-mail are keyed by the source's own
    // id column (see `[key]` below): read as the key alone, not kept as a
    // custom field as well.
    let id_header =
        (0..headers.len()).find(|&i| assigned[i].is_none() && ID_HEADERS.contains(&normalize(&headers[i]).as_str()));
    let email_at = assigned.iter().position(|a| matches!(a, Some(("email", _))));
    let keyed_by_id = entity == Entity::Contacts
        && id_header.is_some()
        && email_at.is_some_and(|e| values_of(e).len() < samples.get(e).map_or(0, Vec::len));
    for (i, h) in headers.iter().enumerate() {
        if keyed_by_id && id_header == Some(i) {
            id_column = Some(h);
            continue;
        }
        let vals = values_of(i);
        let (target, mut note, check) = match &assigned[i] {
            Some((f, How::Exact)) => ((*f).to_string(), "header is the field's name".to_string(), false),
            Some((f, How::Synonym(s))) => ((*f).to_string(), format!("header is a known name for {f} ({s:?})"), false),
            Some((f, How::Values)) => (
                (*f).to_string(),
                format!("its values are e-mail addresses, and no column named for the {f} holds any"),
                true,
            ),
            Some((f, How::Fuzzy(score, s))) => {
                ((*f).to_string(), format!("header resembles {s:?} (similarity {score:.2})"), true)
            }
            None => {
                if id_column.is_none() && ID_HEADERS.contains(&normalize(h).as_str()) {
                    id_column = Some(h);
                }
                let mut name = format!("custom.{}", snake(h));
                let mut n = 2;
                while used_targets.contains(&name) {
                    name = format!("custom.{}_{n}", snake(h));
                    n += 1;
                }
                (name, "no standard field matched: kept as a custom field".to_string(), false)
            }
        };
        used_targets.push(target.clone());
        let mut guess =
            guess_type(h, &target, &vals, Hints { region: region_hint.as_deref(), language, mail, day_order });
        if guess.ty == Some("decimal") && !guess.decimal_comma && dot_thousands_column(&vals) {
            if file_commas {
                guess.decimal_comma = true;
                guess.note = "numbers with a point between thousands (12.000), as the file's decimal commas show \
                              elsewhere"
                    .into();
            } else {
                guess.warning = Some(
                    "every value has three digits after its point: if the point is between thousands \
                     (12.000 for twelve thousand), add decimal_separator = \",\""
                        .into(),
                );
            }
        }
        let mut parts = vec![format!("from = {}", toml_str(h))];
        if let Some(ty) = guess.ty {
            parts.push(format!("type = {}", toml_str(ty)));
        }
        if let Some(fmt) = &guess.format {
            parts.push(format!("format = {}", toml_str(fmt)));
        }
        if guess.decimal_comma {
            parts.push("decimal_separator = \",\"".to_string());
        }
        // The country column each row's number is read in, with region_from.
        let mut row_region: Option<usize> = None;
        if let Some(r) = &guess.region {
            parts.push(format!("region = {}", toml_str(r)));
            if let Some(c) = country_column.filter(|c| per_row_region_wins(samples, headers, i, c, r)) {
                parts.push(format!("region_from = {}", toml_str(c)));
                row_region = headers.iter().position(|h| h == c);
                if guess.region_guessed {
                    guess.warning = None;
                }
            }
        }
        if target == "kind" {
            let (words, unknown) = activity_kinds(&vals);
            if let Some(words) = words {
                parts.push(format!("map = {{ {words} }}"));
                let _ = write!(guess.note, "; the kinds in the file's words mapped to call, email, meeting, note");
            }
            if !unknown.is_empty() {
                let add = format!(
                    "{} {} no kind of call, email, meeting, note: map each to one (or rows with it are rejected)",
                    unknown.iter().map(|u| format!("{u:?}")).collect::<Vec<_>>().join(", "),
                    if unknown.len() == 1 { "is" } else { "are" }
                );
                guess.warn(add);
            }
        }
        // (The store reads a deal's currency as a code whatever the type:
        // `$`, a dozen currencies' sign, is refused, and said so here.)
        let checked = guess.ty.or((target == "currency").then_some("currency"));
        if let Some(ty) = checked.and_then(|t| t.parse::<types::TypeName>().ok()) {
            // Say how many sampled values the suggested type would reject.
            let opts = types::TypeOptions {
                format: guess.format.clone(),
                region: guess.region.as_deref().and_then(|r| r.parse().ok()),
                decimal_comma: guess.decimal_comma,
                ..Default::default()
            };
            // (With region_from, as the import reads it: in each row's country.)
            let failing: Vec<(&str, String)> = match row_region.and_then(|c| Some((samples.get(i)?, samples.get(c)?))) {
                Some((values, countries)) => values
                    .iter()
                    .zip(countries)
                    .filter(|(v, _)| !v.trim().is_empty())
                    .filter_map(|(v, c)| {
                        let mut own = opts.clone();
                        if let Some(region) = country::to_alpha2(c).and_then(|a| a.parse().ok()) {
                            own.region = Some(region);
                        }
                        Some((v.as_str(), types::convert(ty, v, &own).err()?))
                    })
                    .collect(),
                None => vals.iter().filter_map(|v| Some((*v, types::convert(ty, v, &opts).err()?))).collect(),
            };
            match failing.first() {
                // A custom field's type no sampled value has is no type of
                // the column's: it stays text, as it was read, rather than
                // reject every row.
                Some((example, why)) if target.starts_with("custom.") && failing.len() == vals.len() => {
                    parts.truncate(1);
                    guess.warning = None;
                    guess.note = format!(
                        "kept as text: every sampled value would be rejected as {ty} (e.g. {example:?}: expected {why})"
                    );
                }
                // With the reason: a value can look like a phone number and
                // still be none of the region's.
                Some((example, why)) => {
                    let note = format!(
                        "{} of {} sampled values would be rejected as {ty} (e.g. {example:?}: expected {why})",
                        failing.len(),
                        vals.len()
                    );
                    guess.warn(note);
                }
                None => {}
            }
        }
        let value = if parts.len() == 1 { toml_str(h) } else { format!("{{ {} }}", parts.join(", ")) };
        let _ = write!(note, "; {}", guess.note);
        let mark = if check || guess.warning.is_some() { "CHECK: " } else { "" };
        let _ = writeln!(body, "{} = {value}  # {mark}{note}", toml_key(&target));
        if let Some(w) = &guess.warning {
            let _ = writeln!(body, "# ^ {w}");
        }
        suggested.push(SuggestedField {
            field: target,
            from: vec![h.clone()],
            check: !mark.is_empty(),
            note,
            warning: guess.warning,
        });
    }

    let _ = writeln!(out, "\n[key]");
    let uses = |f: &str| used_targets.iter().any(|t| t == f);
    // The source system's name for its ids: the file's name without its
    // extension (`res.partner.csv`: res_partner).
    let file = info.file_name.rsplit(['/', '\\']).next().unwrap_or(&info.file_name);
    let system = snake(file.rsplit_once('.').map_or(file, |(stem, _)| stem));
    // Sampled records without an e-mail, of all: keyed by e-mail, each is
    // rejected.
    let no_email = suggested.iter().find(|f| f.field == "email").and_then(|f| {
        let i = headers.iter().position(|h| Some(h) == f.from.first())?;
        let all = samples.get(i)?.len();
        Some((all - values_of(i).len(), all))
    });
    let mut key_check = true;
    let _ = match (entity.name(), no_email) {
        ("contacts", Some((0, _))) => {
            key_check = false;
            writeln!(out, "fields = [\"email\"]  # records are matched by e-mail")
        }
        ("contacts", Some((none, all))) => match id_column.take() {
            // Rows without one have the source's own id to match by.
            Some(id) => writeln!(
                out,
                "external_id = {{ system = {}, from = {} }}  # CHECK: {none} of {all} sampled records have no \
                 e-mail, so they are matched by the source's own id, {id:?}; `fields = [\"email\"]` would reject them",
                toml_str(&system),
                toml_str(id)
            ),
            None => writeln!(
                out,
                "fields = [\"email\"]  # CHECK: records are matched by e-mail, and {none} of {all} sampled records \
                 have none: those are rejected; name the field(s) that identify a record"
            ),
        },
        ("contacts", None) => {
            writeln!(out, "fields = []  # CHECK: no e-mail column; name the field(s) that identify a record")
        }
        ("companies", _) if uses("name") => {
            key_check = false;
            writeln!(out, "fields = [\"name\"]  # companies are matched by name (ACME Inc. is Acme Inc)")
        }
        ("deals", _) if uses("name") => writeln!(
            out,
            "fields = [\"name\"]  # CHECK: deals are matched by name, so deals of one name (a renewal per customer) \
             would be one; match them by their ids in the other system instead (external_id)"
        ),
        ("activities", _) => writeln!(
            out,
            "fields = []  # CHECK: activities have no name to match by: importing the file again inserts its rows \
             again, unless they are matched by their ids in the other system (external_id)"
        ),
        _ => writeln!(out, "fields = []  # CHECK: name the field(s) that identify a record"),
    };
    if let Some(id) = id_column {
        let _ = writeln!(out, "# {id:?} looks like the source system's own id; to match on it instead:");
        let _ = writeln!(out, "# external_id = {{ system = {}, from = {} }}", toml_str(&system), toml_str(id));
    }
    let _ = writeln!(out, "\n[fields]");
    out.push_str(&body);
    Suggestion { text: out, fields: suggested, key_check }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::Mapping;

    fn cols(rows: &[&[&str]]) -> Vec<Vec<String>> {
        let width = rows[0].len();
        (0..width).map(|i| rows.iter().map(|r| r[i].to_string()).collect()).collect()
    }

    #[test]
    fn chinese_headers_and_types() {
        let headers: Vec<String> =
            ["姓名", "手机", "邮箱", "公司", "城市", "注册日期", "性别"].iter().map(|s| s.to_string()).collect();
        let samples = cols(&[
            &["张伟", "138 0013 8000", "zhang@example.cn", "华为", "深圳", "2023年05月01日", "男"],
            &["李娜", "139-1234-5678", "li@example.cn", "阿里巴巴", "杭州", "2023年06月11日", "女"],
        ]);
        let info = SourceInfo { file_name: "expo.csv".into(), format: "csv".into(), ..Default::default() };
        let text = suggest(Entity::Contacts, &info, &headers, &samples);
        let m = Mapping::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let targets: Vec<String> = m.fields.iter().map(|f| f.target.to_string()).collect();
        assert_eq!(
            targets,
            ["full_name", "mobile", "email", "company.name", "address.city", "subscribed_at", "custom.性别"]
        );
        assert!(text.contains("format = \"%Y年%m月%d日\""), "{text}");
        assert!(text.contains("type = \"email\""), "{text}");
    }

    #[test]
    fn ambiguous_dates_are_flagged_not_guessed() {
        let headers = vec!["Signup".to_string()];
        let samples = cols(&[&["01/02/2023"], &["03/04/2023"]]);
        let info = SourceInfo { file_name: "x.csv".into(), format: "csv".into(), ..Default::default() };
        let text = suggest(Entity::Contacts, &info, &headers, &samples);
        assert!(text.contains("AMBIGUOUS"), "{text}");
        assert!(!text.contains("type = \"date\", format"), "{text}");
        let samples = cols(&[&["21/02/2023"], &["03/04/2023"]]);
        let text = suggest(Entity::Contacts, &info, &headers, &samples);
        assert!(text.contains("format = \"%d/%m/%Y\""), "{text}");
    }

    #[test]
    fn leading_zeros_stay_text() {
        let g = guess_type("Zip", "custom.zip", &["02134", "10001"], Hints::default());
        assert_eq!(g.ty, None);
        assert!(g.note.contains("leading zeros"));
        assert_eq!(
            guess_type("Zip", "custom.zip", &["12134", "10001"], Hints::default()).ty,
            None,
            "a zip column stays text"
        );
        assert_eq!(guess_type("Customer Number", "custom.customer_number", &["42", "1234"], Hints::default()).ty, None);
        assert_eq!(guess_type("Orders", "custom.orders", &["3", "12", "140"], Hints::default()).ty, Some("integer"));
        // Amounts of whole units, even of one width, are decimals still.
        assert_eq!(guess_type("Amount", "amount", &["1000", "2000", "5000"], Hints::default()).ty, Some("decimal"));
        // A date column of a workbook, some cells formatted General.
        let mixed = guess_type("Signed Up", "subscribed_at", &["2024-03-12", "45365", "2024-03-14"], Hints::default());
        assert_eq!((mixed.ty, mixed.warning.is_some()), (Some("date"), true));
        assert_eq!(guess_type("Ref", "custom.ref", &["2024-03-12", "12"], Hints::default()).ty, None);
        assert_eq!(
            guess_type("手机", "mobile", &["13800138000", "139-1234-5678"], Hints::default()).region.as_deref(),
            Some("CN")
        );
        // A number with its code (`0086…` as much as `+86…`) does not count
        // against the Chinese mobiles beside it.
        assert_eq!(
            guess_type("Phone", "phone", &["13800138000", "008613912345678"], Hints::default()).region.as_deref(),
            Some("CN")
        );
        assert_eq!(
            guess_type("Phone", "phone", &["0049 30 1234567", "030 7654321"], Hints::default()).region.as_deref(),
            Some("DE")
        );
    }

    #[test]
    fn numbers_with_a_country_code_say_where_the_rest_are_dialled() {
        let german = ["+49 30 1234567", "030 7654321", "+49 89 1234567"];
        assert_eq!(guess_type("Phone", "phone", &german, Hints::default()).region.as_deref(), Some("DE"));
        assert_eq!(
            guess_type("Phone", "phone", &["+1 415 555 2671", "(415) 555-2672"], Hints::default()).region.as_deref(),
            Some("US")
        );
        // A country column still decides; codes of many countries say nothing.
        assert_eq!(
            guess_type("Phone", "phone", &german, Hints { region: Some("AT"), ..Default::default() }).region.as_deref(),
            Some("AT")
        );
        let mixed = ["+49 30 1234567", "+33 1 23 45 67 89", "020 7946 0958"];
        assert_eq!(guess_type("Phone", "phone", &mixed, Hints::default()).region.as_deref(), Some("US"));
    }

    #[test]
    fn signed_up_is_the_subscription_date() {
        let info = SourceInfo { file_name: "x.csv".into(), format: "csv".into(), ..Default::default() };
        for header in ["Signed Up", "Sign-up", "Opt-in Date"] {
            let text = suggest(Entity::Contacts, &info, &[header.to_string()], &cols(&[&["2024-03-01"]]));
            assert!(text.contains("subscribed_at = "), "{header}: {text}");
        }
    }
}
