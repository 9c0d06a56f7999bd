//! crmsync-core: the record model and the rules that act on records, with
//! no I/O.
//!
//! - [`Record`] and [`Value`]: what readers yield and writers take.
//! - [`Entity`]: the store's entities and their standard fields.
//! - [`mapping`]: a mapping file ([`Mapping`]) and the engine that runs it
//!   forwards and backwards ([`Mapper`]).
//! - [`schema`]: JSON Schema validation of mapped records.
//! - [`suggest`]: guessing a mapping from a file's headers and values.
//!
//! Data flows reader → `Mapper::apply` → `SchemaCheck` → writer; a record that
//! fails becomes a reject carrying [`FieldError`]s.

pub mod entity;
pub mod error;
pub mod mapping;
pub mod schema;
pub mod suggest;
pub mod value;

pub use entity::Entity;
pub use error::{FieldError, MappingError};
pub use mapping::{ColumnsFound, Mapper, Mapping};
pub use value::{Defect, FieldIndex, Key, Record, Value};
