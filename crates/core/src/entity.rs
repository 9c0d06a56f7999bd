//! The entities of the store and their standard fields (SPEC §2). Mapping
//! files are checked against these names; `custom.*` fields are free.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Entity {
    Companies,
    Contacts,
    Deals,
    Activities,
}

/// The kind of value a standard field holds, used as the default type when a
/// mapping names the field without a `type`, and by `mapping suggest`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    Email,
    Phone,
    Url,
    Country,
    Currency,
    Decimal,
    Date,
    DateTime,
    List,
}

const ADDRESS: [&str; 5] =
    ["address.street", "address.city", "address.region", "address.postal_code", "address.country"];

impl Entity {
    pub const ALL: [Entity; 4] = [Entity::Companies, Entity::Contacts, Entity::Deals, Entity::Activities];

    pub fn name(self) -> &'static str {
        match self {
            Entity::Companies => "companies",
            Entity::Contacts => "contacts",
            Entity::Deals => "deals",
            Entity::Activities => "activities",
        }
    }

    /// Standard fields, in the order exports list them. Dotted names are
    /// nested values (`address.city`) or links to another entity
    /// (`company.name`), matched by that entity's natural key.
    pub fn fields(self) -> Vec<&'static str> {
        let mut f: Vec<&'static str> = match self {
            Entity::Companies => vec!["name", "domain", "industry", "phone"],
            Entity::Contacts => vec![
                "first_name",
                "last_name",
                "full_name",
                "email",
                "phone",
                "mobile",
                "title",
                "company.name",
                "company.domain",
            ],
            Entity::Deals => vec![
                "name",
                "amount",
                "currency",
                "stage",
                "close_date",
                "company.name",
                "company.domain",
                "contacts",
                "owner",
            ],
            Entity::Activities => vec![
                "kind",
                "subject",
                "body",
                "occurred_at",
                "contact.email",
                "company.name",
                "company.domain",
                "deal.name",
                "owner",
            ],
        };
        match self {
            Entity::Companies => {
                f.extend(ADDRESS);
                f.extend(["owner", "tags"]);
            }
            Entity::Contacts => {
                f.extend(ADDRESS);
                f.extend(["lifecycle_stage", "owner", "tags", "notes", "subscribed_at"]);
            }
            Entity::Deals | Entity::Activities => {}
        }
        f
    }

    pub fn has_field(self, name: &str) -> bool {
        name.strip_prefix("custom.").is_some_and(|rest| !rest.is_empty())
            || self.fields().contains(&name)
            || self.external_links().contains(&name)
    }

    /// Links by another system's id (the system of the mapping's
    /// `[key] external_id`): import-only, since exports name links by their
    /// natural keys.
    pub fn external_links(self) -> &'static [&'static str] {
        match self {
            Entity::Companies => &[],
            Entity::Contacts => &["company.external_id"],
            Entity::Deals => &["company.external_id", "contacts.external_id"],
            Entity::Activities => &["contact.external_id", "company.external_id", "deal.external_id"],
        }
    }

    /// The link a column of linked records' ids in a named system is, and
    /// the system (`contact.external_id.erp`: `contact.external_id`, `erp`).
    pub fn external_link_of(self, column: &str) -> Option<(&'static str, &str)> {
        self.external_links().iter().find_map(|l| {
            let system = column.strip_prefix(l)?.strip_prefix('.').filter(|s| !s.is_empty())?;
            Some((*l, system))
        })
    }

    /// The entity an external link (`contact.external_id`) names records of.
    pub fn linked_by(link: &str) -> Entity {
        match link {
            "contact.external_id" | "contacts.external_id" => Entity::Contacts,
            "deal.external_id" => Entity::Deals,
            _ => Entity::Companies,
        }
    }

    /// The kind a standard field holds.
    pub fn kind(self, field: &str) -> FieldKind {
        match field {
            "email" | "contact.email" => FieldKind::Email,
            "phone" | "mobile" => FieldKind::Phone,
            "domain" | "company.domain" => FieldKind::Text,
            "address.country" => FieldKind::Country,
            "currency" => FieldKind::Currency,
            "amount" => FieldKind::Decimal,
            "close_date" => FieldKind::Date,
            "subscribed_at" | "occurred_at" => FieldKind::DateTime,
            "tags" | "contacts" => FieldKind::List,
            _ => FieldKind::Text,
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Entity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let lower = s.trim().to_ascii_lowercase();
        let e = match lower.as_str() {
            "companies" | "company" => Entity::Companies,
            "contacts" | "contact" => Entity::Contacts,
            "deals" | "deal" => Entity::Deals,
            "activities" | "activity" => Entity::Activities,
            _ => {
                return Err(format!("unknown entity `{s}`: expected one of companies, contacts, deals, activities"));
            }
        };
        Ok(e)
    }
}
