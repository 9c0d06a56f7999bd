//! XML: records are the elements at `record_path` (local names, so default
//! and prefixed namespaces match alike). Attributes and child elements become
//! fields, repeated children become lists, CDATA is text. DTD entity
//! declarations are refused: they are how entity-expansion bombs and
//! external-entity reads work, and customer data never needs them.

use std::io::{BufRead, Cursor, Read, Write};

use crmsync_core::{FieldIndex, Key, Record, Value};
use quick_xml::events::{BytesStart, Event};

use crate::error::{Error, Location, Result};
use crate::lines::LineCounter;
use crate::{ReadOptions, RecordReader, RecordWriter, SourceDetails, WriteOptions};

pub struct XmlReader<R: BufRead = Box<dyn BufRead + Send>> {
    file: String,
    reader: quick_xml::Reader<LineCounter<R>>,
    buf: Vec<u8>,
    path: Vec<String>,
    record_path: Vec<String>,
    absolute: bool,
    /// Whether a record path was given. One that matches nothing is an
    /// error, not an empty file, unless the file holds no values at all or
    /// the records' parent is there without children (an export of no
    /// records: `<Customers count="0"/>`).
    named: bool,
    /// Values (text, attributes) seen while no record matched.
    holds_values: bool,
    /// The records' parent seen, and whether it had children.
    parent: (bool, bool),
    /// Where the records look to be, by the file's start.
    likely: Option<String>,
    ordinal: u64,
    encoding: &'static str,
    text_key: Key,
}

/// How deep elements nest inside a record, at most: serde_json's limit
/// for JSON. Deeper, every later step that walks a record (flattening it
/// into columns, writing it as JSON) would recurse as deep, to a stack
/// overflow at 100,000 levels.
const MAX_DEPTH: usize = 128;

struct Frame {
    key: Key,
    fields: Vec<(Key, Value)>,
    text: String,
    /// Where each child is in `fields` (`add_child`).
    index: FieldIndex,
}

fn local(name: quick_xml::name::QName<'_>) -> String {
    name.local_name().as_ref().to_string()
}

impl XmlReader {
    pub fn open(
        file: &str,
        mut input: Box<dyn BufRead + Send>,
        encoding: &'static str,
        opts: &ReadOptions,
    ) -> Result<Self> {
        // The file's start says where the records look to be: where they
        // are when no record path is given, and what to say when the one
        // given matches nothing. A MiB at least, and on until it holds a
        // thousand tags (a long description before the records would
        // otherwise be taken for the one record), up to PROBE bytes.
        const STEP: u64 = 1 << 20;
        let (mut sample, mut tags) = (Vec::new(), 0);
        loop {
            let from = sample.len();
            let n = (&mut input)
                .take(STEP)
                .read_to_end(&mut sample)
                .map_err(|e| Error::from_io(file, Location::default(), e))?;
            tags += memchr::memchr_iter(b'<', &sample[from..]).count();
            if (n as u64) < STEP || sample.len() >= PROBE || tags >= 1000 {
                break;
            }
        }
        let detected = detect_record_path(&sample);
        let likely = detected.as_ref().map(|p| format!("/{}", p.join("/")));
        let (record_path, absolute) = match (&opts.record_path, detected) {
            (_, None) => {
                return Err(Error::parse(file, Location::default(), "no elements found: the file is empty or not XML"));
            }
            (Some(p), Some(_)) => {
                let segs: Vec<String> = p
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .map(|s| s.rsplit(':').next().unwrap_or(s).to_string())
                    .collect();
                if segs.is_empty() {
                    return Err(Error::setup(file, format!("record path {p:?} names no element")));
                }
                (segs, p.starts_with('/'))
            }
            (None, Some(p)) => (p, true),
        };
        let setup = Setup {
            file: file.to_string(),
            record_path,
            absolute,
            named: opts.record_path.is_some(),
            likely,
            encoding,
        };
        let mut input: Box<dyn BufRead + Send> =
            Box::new(std::io::BufReader::with_capacity(256 * 1024, Cursor::new(sample).chain(input)));
        // A record path given that matches nothing is refused now, before
        // anything is done with the file: the file is read up to its first
        // record (kept, to be read again), or to its end, or as far as
        // PROBE bytes, past which it is found out at the end.
        if setup.named {
            let mut probe = XmlReader::with(&setup, Tee { inner: input, kept: Vec::new(), over: false });
            let outcome = probe.next_record(&mut Record::new());
            let tee = probe.reader.into_inner().into_inner();
            if let Err(e) = outcome
                && !tee.over
            {
                return Err(e);
            }
            input = Box::new(std::io::BufReader::with_capacity(256 * 1024, Cursor::new(tee.kept).chain(tee.inner)));
        }
        Ok(XmlReader::with(&setup, input))
    }
}

/// What an `XmlReader` is opened with.
struct Setup {
    file: String,
    record_path: Vec<String>,
    absolute: bool,
    named: bool,
    likely: Option<String>,
    encoding: &'static str,
}

/// How far a record path given is looked for before the file is read, and
/// how far the records are looked for when none is given.
const PROBE: usize = 64 << 20;

/// Keeps what is read through it, to be read again, up to `PROBE` bytes.
struct Tee {
    inner: Box<dyn BufRead + Send>,
    kept: Vec<u8>,
    over: bool,
}

impl Read for Tee {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = {
            let available = self.fill_buf()?;
            let n = available.len().min(buf.len());
            buf[..n].copy_from_slice(&available[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Tee {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.kept.len() >= PROBE {
            self.over = true;
            return Err(std::io::Error::other("read far enough"));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        // (The bytes consumed are the ones `fill_buf` just handed out.)
        if let Ok(buf) = self.inner.fill_buf() {
            self.kept.extend_from_slice(&buf[..amt.min(buf.len())]);
        }
        self.inner.consume(amt);
    }
}

impl<R: BufRead> XmlReader<R> {
    fn with(setup: &Setup, input: R) -> Self {
        let mut reader = quick_xml::Reader::from_reader(LineCounter::new(input));
        // Whitespace between elements is dropped where it sits beside
        // child elements; a leaf's text is kept exactly, entities included.
        reader.config_mut().trim_text(false);
        Self {
            file: setup.file.clone(),
            reader,
            buf: Vec::with_capacity(8192),
            path: Vec::new(),
            record_path: setup.record_path.clone(),
            absolute: setup.absolute,
            named: setup.named,
            holds_values: false,
            parent: (false, false),
            likely: setup.likely.clone(),
            ordinal: 0,
            encoding: setup.encoding,
            text_key: Key::from("#text"),
        }
    }

    fn at(&self) -> Location {
        Location { row: None, line: Some(self.reader.get_ref().line), field: None }
    }

    fn err(&self, e: impl std::fmt::Display) -> Error {
        let msg = e.to_string();
        if msg.contains("not valid") || msg.contains("encoding") {
            return Error::Encoding { file: self.file.clone(), at: self.at(), message: msg };
        }
        Error::parse(&self.file, self.at(), format!("the XML is not well-formed: {msg}"))
    }

    fn next_event(&mut self) -> Result<Event<'static>> {
        self.buf.clear();
        match self.reader.read_event_into(&mut self.buf) {
            Ok(e) => Ok(e.into_owned()),
            Err(e) => Err(self.err(e)),
        }
    }

    fn is_record(&self) -> bool {
        if self.absolute { self.path == self.record_path } else { self.path.ends_with(&self.record_path) }
    }

    /// Notes an element outside records while a record path given has
    /// matched none: whether it is the records' parent or a child of it,
    /// and whether it holds values.
    fn note_element(&mut self, e: &BytesStart<'_>) {
        if !self.named || self.ordinal > 0 {
            return;
        }
        let n = self.path.len();
        if self.at_parent(&self.path) {
            self.parent.0 = true;
        } else if n >= 2 && self.at_parent(&self.path[..n - 1]) {
            self.parent.1 = true;
        }
        if e.attributes().flatten().any(|a| !a.key.as_ref().starts_with("xmlns")) {
            self.holds_values = true;
        }
    }

    /// Notes text outside records while a record path given has matched
    /// none: a value, and one the records' parent holds if it is inside it
    /// (`<Contacts>2</Contacts>` is a count, not an empty list).
    fn note_text(&mut self) {
        if !self.named || self.ordinal > 0 {
            return;
        }
        self.holds_values = true;
        if self.at_parent(&self.path) {
            self.parent.1 = true;
        }
    }

    /// Whether `path` is where the records' parent is.
    fn at_parent(&self, path: &[String]) -> bool {
        let parent = &self.record_path[..self.record_path.len() - 1];
        !parent.is_empty() && if self.absolute { path == parent } else { path.ends_with(parent) }
    }

    /// Whether no record matched a record path given, in a file that has
    /// records elsewhere.
    fn missed(&self) -> bool {
        self.named && self.ordinal == 0 && self.holds_values && self.parent != (true, false)
    }

    /// A record path given that matched no element.
    fn matched_nothing(&self) -> Error {
        let given = format!("{}{}", if self.absolute { "/" } else { "" }, self.record_path.join("/"));
        let hint = match &self.likely {
            Some(path) => format!("; its records look to be at {path:?} (--record-path {path})"),
            None => String::new(),
        };
        Error::setup(&self.file, format!("record path {given:?} matches no element in the file{hint}"))
    }

    fn attributes(&self, e: &BytesStart<'_>, into: &mut Vec<(Key, Value)>) -> Result<()> {
        for a in e.attributes() {
            let a = a.map_err(|e| self.err(e))?;
            let qname = a.key;
            let full: &str = qname.as_ref();
            if full == "xmlns" || full.starts_with("xmlns:") {
                continue;
            }
            let v = a.normalized_value(quick_xml::XmlVersion::Implicit1_0).map_err(|e| self.err(e))?;
            // Attributes are fields by their local name; two with one local
            // name in different namespaces (`id`, `x:id`) keep their prefix,
            // where one would have hidden the other.
            let name = local(qname);
            let name = if into.iter().any(|(k, _)| **k == *name) { full.to_string() } else { name };
            into.push((Key::from(name.as_str()), Value::Text(v.into_owned())));
        }
        Ok(())
    }

    fn resolve_ref(&self, name: &str) -> Result<String> {
        if let Some(num) = name.strip_prefix('#') {
            let code = match num.strip_prefix('x') {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => num.parse().ok(),
            };
            return code.and_then(char::from_u32).map(String::from).ok_or_else(|| {
                Error::parse(&self.file, self.at(), format!("&{name}; is not a valid character reference"))
            });
        }
        match name {
            "lt" => Ok("<".into()),
            "gt" => Ok(">".into()),
            "amp" => Ok("&".into()),
            "apos" => Ok("'".into()),
            "quot" => Ok("\"".into()),
            _ => Err(Error::parse(
                &self.file,
                self.at(),
                format!("the entity &{name}; is not defined (crmsync does not read DTD entities)"),
            )),
        }
    }

    /// Reads the body of a record element whose start tag was just read.
    fn read_record(&mut self, root: Frame) -> Result<Vec<(Key, Value)>> {
        let mut stack = vec![root];
        loop {
            let event = self.next_event()?;
            match event {
                Event::Start(e) => {
                    // (The record's own element is the stack's first.)
                    if stack.len() > MAX_DEPTH {
                        return Err(Error::parse(
                            &self.file,
                            self.at(),
                            format!(
                                "elements nest more than {MAX_DEPTH} levels deep inside a record (as JSON may not \
                                 either); no record holds such data"
                            ),
                        ));
                    }
                    let key = Key::from(local(e.name()).as_str());
                    let mut fields = Vec::new();
                    self.attributes(&e, &mut fields)?;
                    stack.push(Frame { key, fields, text: String::new(), index: FieldIndex::default() });
                }
                Event::Empty(e) => {
                    let key = Key::from(local(e.name()).as_str());
                    let mut fields = Vec::new();
                    self.attributes(&e, &mut fields)?;
                    let v = if fields.is_empty() { Value::Text(String::new()) } else { Value::Object(fields) };
                    if let Some(top) = stack.last_mut() {
                        add_child(&mut top.fields, &mut top.index, key, v);
                    }
                }
                Event::Text(t) => {
                    let s = t.xml10_content().into_owned();
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&s);
                    }
                }
                Event::CData(t) => {
                    let s = t.xml10_content().into_owned();
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&s);
                    }
                }
                Event::GeneralRef(r) => {
                    let name = r.into_inner().into_owned();
                    let s = self.resolve_ref(&name)?;
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&s);
                    }
                }
                Event::End(_) => {
                    let Some(frame) = stack.pop() else { break };
                    let Some(parent) = stack.last_mut() else {
                        let mut fields = frame.fields;
                        if !frame.text.trim().is_empty() {
                            fields.push((self.text_key.clone(), Value::Text(frame.text)));
                        }
                        return Ok(fields);
                    };
                    let v = if frame.fields.is_empty() {
                        Value::Text(frame.text)
                    } else {
                        let mut fields = frame.fields;
                        if !frame.text.trim().is_empty() {
                            fields.push((self.text_key.clone(), Value::Text(frame.text)));
                        }
                        Value::Object(fields)
                    };
                    add_child(&mut parent.fields, &mut parent.index, frame.key, v);
                }
                Event::Eof => {
                    return Err(Error::parse(&self.file, self.at(), "the file ends inside a record (truncated?)"));
                }
                Event::DocType(_) | Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            }
        }
        Ok(Vec::new())
    }
}

/// A repeated child element turns the field into a list.
fn add_child(fields: &mut Vec<(Key, Value)>, index: &mut FieldIndex, key: Key, v: Value) {
    match index.find(fields, &key).map(|i| &mut fields[i].1) {
        Some(Value::Array(items)) => items.push(v),
        Some(existing) => {
            let first = std::mem::replace(existing, Value::Null);
            *existing = Value::Array(vec![first, v]);
        }
        None => fields.push((key, v)),
    }
}

impl RecordReader for XmlReader {
    fn read(&mut self, rec: &mut Record) -> Result<bool> {
        self.next_record(rec)
    }

    fn columns(&self) -> Option<&[Key]> {
        None
    }

    fn details(&self) -> SourceDetails {
        SourceDetails {
            format: Some(crate::Format::Xml),
            encoding: Some(self.encoding),
            record_path: Some(format!("{}{}", if self.absolute { "/" } else { "" }, self.record_path.join("/"))),
            ..Default::default()
        }
    }
}

impl<R: BufRead> XmlReader<R> {
    fn next_record(&mut self, rec: &mut Record) -> Result<bool> {
        loop {
            let event = self.next_event()?;
            match event {
                Event::Start(e) => {
                    let name = local(e.name());
                    self.path.push(name.clone());
                    if !self.is_record() {
                        self.note_element(&e);
                    }
                    if self.is_record() {
                        let line = self.reader.get_ref().line;
                        let mut fields = Vec::new();
                        self.attributes(&e, &mut fields)?;
                        let fields = self.read_record(Frame {
                            key: Key::from(name.as_str()),
                            fields,
                            text: String::new(),
                            index: FieldIndex::default(),
                        })?;
                        self.path.pop();
                        if fields.is_empty() && !self.named {
                            continue;
                        }
                        self.ordinal += 1;
                        rec.clear();
                        rec.row = self.ordinal;
                        rec.line = line;
                        for (k, v) in fields {
                            rec.push(k, v);
                        }
                        return Ok(true);
                    }
                }
                Event::Empty(e) => {
                    self.path.push(local(e.name()));
                    let is_record = self.is_record();
                    if !is_record {
                        self.note_element(&e);
                    }
                    self.path.pop();
                    if is_record {
                        let mut fields = Vec::new();
                        self.attributes(&e, &mut fields)?;
                        // Records found, not named: an empty element is
                        // where records would be (`<Customers/>`, an
                        // export of none), not one.
                        if fields.is_empty() && !self.named {
                            continue;
                        }
                        self.ordinal += 1;
                        rec.clear();
                        rec.row = self.ordinal;
                        rec.line = self.reader.get_ref().line;
                        for (k, v) in fields {
                            rec.push(k, v);
                        }
                        return Ok(true);
                    }
                }
                Event::End(_) => {
                    self.path.pop();
                }
                Event::DocType(t) => {
                    let text = t.into_inner();
                    if text.contains("<!ENTITY") {
                        return Err(Error::parse(
                            &self.file,
                            self.at(),
                            "the document declares entities in its DTD (<!ENTITY ...>); crmsync refuses them, since they can expand without bound or read other files",
                        ));
                    }
                }
                Event::GeneralRef(r) => {
                    let name = r.into_inner().into_owned();
                    self.resolve_ref(&name)?;
                    self.note_text();
                }
                Event::Eof => {
                    if let Some(open) = self.path.last() {
                        return Err(Error::parse(
                            &self.file,
                            self.at(),
                            format!("the file ends inside <{open}> (truncated?)"),
                        ));
                    }
                    if self.missed() {
                        return Err(self.matched_nothing());
                    }
                    return Ok(false);
                }
                Event::Text(t) if !t.trim_ascii().is_empty() => self.note_text(),
                Event::CData(_) => self.note_text(),
                _ => {}
            }
        }
    }
}

struct Node {
    name: String,
    children: Vec<usize>,
    attrs: bool,
    /// Whether it holds text of its own (not only white space).
    text: bool,
}

/// Finds where the records are: from the root, step into a lone wrapper
/// element holding a list of one kind (`<Customers><Customer/>...`), and take
/// the most frequent child element there.
fn detect_record_path(sample: &[u8]) -> Option<Vec<String>> {
    let mut reader = quick_xml::Reader::from_reader(sample);
    let mut nodes: Vec<Node> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    let mut buf = Vec::new();
    while nodes.len() < 20_000 {
        buf.clear();
        let (e, empty) = match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => (e.into_owned(), false),
            Ok(Event::Empty(e)) => (e.into_owned(), true),
            Ok(Event::End(_)) => {
                stack.pop();
                continue;
            }
            Ok(Event::Text(t)) => {
                if let Some(&top) = stack.last()
                    && !t.trim_ascii().is_empty()
                {
                    nodes[top].text = true;
                }
                continue;
            }
            Ok(Event::CData(_) | Event::GeneralRef(_)) => {
                if let Some(&top) = stack.last() {
                    nodes[top].text = true;
                }
                continue;
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => continue,
        };
        let id = nodes.len();
        let attrs = e.attributes().next().is_some();
        nodes.push(Node { name: local(e.name()), children: Vec::new(), attrs, text: false });
        if let Some(&parent) = stack.last() {
            nodes[parent].children.push(id);
        } else if id != 0 {
            break; // a second root: not well-formed, leave it to the real reader
        }
        if !empty {
            stack.push(id);
        }
    }
    // Whether a list of two records or more (elements of one name, with
    // fields) is in an element or below it. Children come after their
    // parent, so each is known before it is needed.
    let mut list_below = vec![false; nodes.len()];
    for id in (0..nodes.len()).rev() {
        let children = &nodes[id].children;
        list_below[id] = children.iter().any(|&c| list_below[c])
            || children.iter().enumerate().any(|(i, &c)| {
                let n = &nodes[c];
                (n.attrs || !n.children.is_empty()) && children[i + 1..].iter().any(|&d| nodes[d].name == n.name)
            });
    }
    let root = nodes.first()?;
    let mut path = vec![root.name.clone()];
    let mut node = 0;
    loop {
        // An RSS channel's records are its items, however many (none, one)
        // and whatever else it repeats (categories, links).
        if path == ["rss", "channel"] {
            path.push("item".to_string());
            return Some(path);
        }
        let children = &nodes[node].children;
        if children.is_empty() {
            return Some(path);
        }
        let mut counts: Vec<(&str, usize, usize)> = Vec::new(); // name, count, first id
        for &c in children {
            match counts.iter_mut().find(|(n, _, _)| *n == nodes[c].name) {
                Some((_, k, _)) => *k += 1,
                None => counts.push((&nodes[c].name, 1, c)),
            }
        }
        // A wrapper holds a list of records of one kind: elements with
        // fields of their own, not leaf values (`<c><n>Ann</n></c>` is one
        // record). A wrapper with attributes of its own (`<Contacts
        // total="2">`) holds two records at least.
        let wrapper = |id: usize| {
            let w = &nodes[id];
            !w.children.is_empty()
                && (!w.attrs || w.children.len() >= 2)
                && w.children.iter().all(|&g| nodes[g].name == nodes[w.children[0]].name)
                && w.children.iter().all(|&g| nodes[g].attrs || !nodes[g].children.is_empty())
        };
        // Elements each alone, none a wrapper, some a plain value
        // (`<Contact><Name>Ann</Name><Email>…</Email></Contact>`): this
        // element is the one record, not its first field.
        let leaf = |id: usize| nodes[id].children.is_empty() && !nodes[id].attrs && nodes[id].text;
        if counts.iter().all(|c| c.1 == 1) && !children.iter().any(|&c| wrapper(c)) && children.iter().any(|&c| leaf(c))
        {
            return Some(path);
        }
        // The most frequent element. Of lone elements side by side, the
        // first that is a wrapper (`<Customers>` after a `<Meta>` or
        // `<Header>`); of wrappers, the first whose records have fields of
        // their own (`<Records>` after a `<Fields>` of `<Field name=…/>`s),
        // then the first with a list below it (a SOAP `<Body>` after a
        // `<Header>` holding one `<Auth>`).
        let rich = |id: usize| nodes[id].children.iter().all(|&g| !nodes[g].children.is_empty());
        // Wrappers by these names hold what describes the records (a SOAP
        // header, column definitions, a report's filters, errors), not them.
        let describes = |id: usize| {
            const NAMES: [&str; 15] = [
                "header",
                "metadata",
                "meta",
                "schema",
                "fields",
                "columns",
                "definitions",
                "settings",
                "parameters",
                "params",
                "filters",
                "errors",
                "warnings",
                "messages",
                "paging",
            ];
            NAMES.contains(&nodes[id].name.to_ascii_lowercase().as_str())
        };
        let rank = |id: usize| {
            let wraps = wrapper(id);
            (wraps, wraps && !describes(id), wraps && rich(id), wraps && list_below[id])
        };
        let best = counts.iter().max_by(|a, b| {
            let wraps = if a.1 == 1 && b.1 == 1 { rank(a.2).cmp(&rank(b.2)) } else { std::cmp::Ordering::Equal };
            a.1.cmp(&b.1).then(wraps).then(b.2.cmp(&a.2))
        })?;
        let (name, count, first) = (best.0.to_string(), best.1, best.2);
        let homogeneous = wrapper(first);
        // An RSS feed's `<channel>` holds values of its own (title, link)
        // beside its `<item>`s: the items are the records. (Only there: an
        // element with values and a list is otherwise one record with a
        // list, a contact with its addresses.)
        let feed = path.len() == 1 && path[0] == "rss" && name == "channel";
        path.push(name);
        if count == 1 && (homogeneous || feed) {
            node = first;
            continue;
        }
        return Some(path);
    }
}

pub use crmsync_core::value::element_name;

/// Two fields an XML file would write as one element (`Customer Id` and
/// `Customer_Id` both as `<Customer_Id>`), read back as one field of two
/// values: the two names and the element's.
pub fn element_clash(fields: &[crmsync_core::Key]) -> Option<(&str, &str, String)> {
    let path = |f: &str| f.split('.').map(element_name).collect::<Vec<_>>().join("/");
    let mut seen: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
    for f in fields {
        let p = path(f);
        match seen.get(&p) {
            Some(first) if *first != &**f => return Some((first, f, p)),
            _ => {
                seen.insert(p, f);
            }
        }
    }
    None
}

/// What keeps `path` (`customers/customer`) from naming XML elements, if
/// anything: an element that is no name as written.
pub fn record_path_error(path: &str) -> Option<String> {
    let bad = path.split('/').filter(|s| !s.is_empty()).find(|s| element_name(s) != *s)?;
    Some(format!("{bad:?} is no XML element name (letters, digits, `_`, `-`, `.`; not starting with a digit)"))
}

pub struct XmlWriter {
    file: String,
    out: Box<dyn Write + Send>,
    /// The elements around the records, outermost first (`a/b/record`: a, b).
    wrappers: Vec<String>,
    record: String,
    buf: String,
}

impl XmlWriter {
    pub fn new(file: &str, mut out: Box<dyn Write + Send>, opts: &WriteOptions) -> Result<Self> {
        let path = opts.record_path.clone().unwrap_or_else(|| "records/record".to_string());
        if let Some(bad) = record_path_error(&path) {
            return Err(Error::setup(file, format!("the XML record path {path:?}: {bad}")));
        }
        let mut segs: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect();
        let Some(record) = segs.pop() else { return Err(Error::setup(file, "the XML record path is empty")) };
        // A record element alone goes in a `records` root.
        let wrappers = if segs.is_empty() { vec!["records".to_string()] } else { segs };
        let encoding = opts.encoding.map_or("UTF-8", |e| e.name());
        let mut head = format!("<?xml version=\"1.0\" encoding=\"{encoding}\"?>\n");
        for (depth, w) in wrappers.iter().enumerate() {
            head.push_str(&format!("{}<{w}>\n", "  ".repeat(depth)));
        }
        out.write_all(head.as_bytes()).map_err(|e| Error::Io { file: file.to_string(), source: e })?;
        Ok(Self { file: file.to_string(), out, wrappers, record, buf: String::with_capacity(8192) })
    }
}

fn write_element(buf: &mut String, name: &str, v: &Value, indent: usize) {
    use std::fmt::Write as _;
    let tag = element_name(name);
    let pad = "  ".repeat(indent);
    match v {
        Value::Null => {
            let _ = writeln!(buf, "{pad}<{tag}/>");
        }
        // A list of one item is one element, which reads back as a list
        // cell: an item holding a separator (`a; b`) is quoted as a flat
        // file's cell quotes it, or it would come back as two.
        Value::Array(items) if items.len() == 1 && items[0].to_text().contains([';', ',', '"']) => {
            let cell = crmsync_core::value::list_cell(items);
            write_element(buf, name, &Value::Text(cell), indent);
        }
        Value::Array(items) => {
            for item in items {
                write_element(buf, name, item, indent);
            }
        }
        // An empty object is an empty element, not one holding the
        // line break and indent that would read back as text.
        Value::Object(fields) if fields.is_empty() => {
            let _ = writeln!(buf, "{pad}<{tag}/>");
        }
        Value::Object(fields) => {
            let _ = writeln!(buf, "{pad}<{tag}>");
            for (k, v) in fields {
                write_element(buf, k, v, indent + 1);
            }
            let _ = writeln!(buf, "{pad}</{tag}>");
        }
        other => {
            let text = other.to_text();
            let _ = writeln!(buf, "{pad}<{tag}>{}</{tag}>", quick_xml::escape::escape(text.as_str()));
        }
    }
}

/// A character XML 1.0 cannot hold, not even as a character reference
/// (control characters but tab and line ends; U+FFFE, U+FFFF).
fn not_in_xml(v: &Value) -> Option<char> {
    let bad =
        |c: &char| matches!(*c, '\0'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}');
    match v {
        Value::Text(t) => t.chars().find(bad),
        Value::Array(items) => items.iter().find_map(not_in_xml),
        Value::Object(fields) => fields.iter().find_map(|(_, v)| not_in_xml(v)),
        _ => None,
    }
}

impl RecordWriter for XmlWriter {
    fn write(&mut self, rec: &Record) -> Result<()> {
        use std::fmt::Write as _;
        if let Some((k, c)) = rec.fields().iter().find_map(|(k, v)| Some((k, not_in_xml(v)?))) {
            return Err(Error::Record {
                file: self.file.clone(),
                at: Location { row: Some(rec.row), line: None, field: Some(k.to_string()) },
                message: format!(
                    "the value holds the control character U+{:04X}, which XML cannot hold; remove it or write another format",
                    u32::from(c)
                ),
            });
        }
        self.buf.clear();
        let depth = self.wrappers.len();
        let pad = "  ".repeat(depth);
        let _ = writeln!(self.buf, "{pad}<{}>", self.record);
        for (k, v) in rec.nested() {
            write_element(&mut self.buf, &k, &v, depth + 1);
        }
        let _ = writeln!(self.buf, "{pad}</{}>", self.record);
        self.out.write_all(self.buf.as_bytes()).map_err(|e| Error::Io { file: self.file.clone(), source: e })
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        let mut end = String::new();
        for (depth, w) in self.wrappers.iter().enumerate().rev() {
            end.push_str(&format!("{}</{w}>\n", "  ".repeat(depth)));
        }
        self.out
            .write_all(end.as_bytes())
            .and_then(|_| self.out.flush())
            .map_err(|e| Error::Io { file: self.file.clone(), source: e })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &str, path: Option<&str>) -> Result<Vec<Record>> {
        let opts = ReadOptions { record_path: path.map(str::to_string), ..Default::default() };
        let mut r = XmlReader::open("t.xml", Box::new(std::io::Cursor::new(text.as_bytes().to_vec())), "UTF-8", &opts)?;
        crate::drain(&mut r)
    }

    #[test]
    fn attributes_children_lists_and_namespaces() {
        let doc = r#"<?xml version="1.0"?>
<Root xmlns="http://x" xmlns:aw="http://aw">
  <Customers>
    <Customer CustomerID="A1"><Name>Ann &amp; Co</Name><aw:Phone>1</aw:Phone><Tag>x</Tag><Tag>y</Tag><Fax/></Customer>
    <Customer CustomerID="B2"><Name><![CDATA[<b>Bob</b>]]></Name></Customer>
  </Customers>
</Root>"#;
        let recs = read_all(doc, None).expect("reads");
        assert_eq!(recs.len(), 2);
        let json = recs[0].to_json();
        assert_eq!(
            json,
            serde_json::json!({"CustomerID": "A1", "Name": "Ann & Co", "Phone": "1", "Tag": ["x", "y"], "Fax": ""})
        );
        assert_eq!(recs[1].get("Name"), Some(&Value::Text("<b>Bob</b>".into())));
        assert_eq!(read_all(doc, Some("Customer")).expect("relative path").len(), 2);
        // One record holding one field is that record, not its field.
        let one = read_all("<r><c><n>Ann</n></c></r>", None).expect("reads");
        assert_eq!(one[0].to_json(), serde_json::json!({"n": "Ann"}));
        let single =
            read_all("<r><Customers><Customer><Name>A</Name></Customer></Customers></r>", None).expect("reads");
        assert_eq!(single[0].to_json(), serde_json::json!({"Name": "A"}));
    }

    #[test]
    fn repeated_children_of_wide_elements_become_lists() {
        let children: String = (0..40).map(|i| format!("<f{i}>{i}</f{i}>")).collect();
        let doc = format!("<r><c a=\"1\">{children}<f35>again</f35><f0>and</f0></c></r>");
        let recs = read_all(&doc, Some("r/c")).expect("reads");
        let json = recs[0].to_json();
        assert_eq!(json.as_object().map(|o| o.len()), Some(41));
        assert_eq!(json["f35"], serde_json::json!(["35", "again"]));
        assert_eq!(json["f0"], serde_json::json!(["0", "and"]));
        assert_eq!(json["a"], "1");
    }

    #[test]
    fn elements_nested_too_deep_in_a_record_are_refused() {
        let nest =
            |depth: usize| format!("<r><c><n>A</n></c><c>{}x{}</c></r>", "<d>".repeat(depth), "</d>".repeat(depth));
        assert!(read_all(&nest(MAX_DEPTH), Some("r/c")).is_ok());
        assert!(read_all(&nest(MAX_DEPTH + 1), Some("r/c")).is_err());
        let err = read_all(&nest(100_000), Some("r/c")).expect_err("too deep").to_string();
        assert!(err.contains("nest more than 128 levels deep"), "{err}");
    }

    #[test]
    fn entities_and_malformed_documents_are_refused() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><r><c>&lol2;</c></r>"#;
        let err = read_all(bomb, None).expect_err("refused").to_string();
        assert!(err.contains("DTD"), "{err}");
        let err = read_all("<r><c><a>1</b></c></r>", None).expect_err("mismatched").to_string();
        assert!(err.contains("not well-formed"), "{err}");
        let err = read_all("<r><c><a>1</a></c>", Some("/r/c")).expect_err("truncated").to_string();
        assert!(err.contains("ends inside"), "{err}");
        let err = read_all("<r><c>&nbsp;</c></r>", Some("c")).expect_err("undefined").to_string();
        assert!(err.contains("&nbsp;"), "{err}");
    }

    #[test]
    fn records_are_found_beside_other_elements_of_the_document() {
        let at = |doc: &str| {
            let recs = read_all(doc, None).expect("reads");
            recs.iter().map(|r| r.to_json().to_string()).collect::<Vec<_>>().join(" ")
        };
        // A wrapper beside a lone element before it, with one record.
        let meta = "<Export><Meta><Created>2024-05-01</Created><By>a</By></Meta>\
                    <Customers><Customer><Name>Ann</Name></Customer></Customers></Export>";
        assert_eq!(at(meta), r#"{"Name":"Ann"}"#);
        // Of two wrappers, the first, even with one record.
        let two = "<Export><Customers><Customer><Name>Ann</Name></Customer></Customers>\
                   <Errors><Error code=\"1\"/><Error code=\"2\"/></Errors></Export>";
        assert_eq!(at(two), r#"{"Name":"Ann"}"#);
        // A header of settings before the lines.
        let lines = "<Report><Header><Title>T</Title><Param>a</Param><Param>b</Param></Header>\
                     <Rows><Row><n>1</n></Row><Row><n>2</n></Row></Rows></Report>";
        assert_eq!(at(lines), r#"{"n":"1"} {"n":"2"}"#);
        // A SOAP header holding one element with fields, before the body.
        let soap = "<Envelope><Header><Auth><User>u</User></Auth></Header><Body><Response><Contacts>\
                    <Contact><Name>Ann</Name></Contact><Contact><Name>Bob</Name></Contact>\
                    </Contacts></Response></Body></Envelope>";
        assert_eq!(at(soap), r#"{"Name":"Ann"} {"Name":"Bob"}"#);
        // Column definitions before the records.
        let defs = "<Export><Fields><Field name=\"n\"/><Field name=\"e\"/></Fields>\
                    <Records><Record><n>Ann</n></Record></Records></Export>";
        assert_eq!(at(defs), r#"{"n":"Ann"}"#);
        let columns = "<Data><Columns><Column><Name>n</Name></Column><Column><Name>e</Name></Column></Columns>\
                       <Rows><Row><n>Ann</n></Row></Rows></Data>";
        assert_eq!(at(columns), r#"{"n":"Ann"}"#);
        // Records of attributes before settings with fields.
        let settings = "<Export><Contacts><Contact n=\"Ann\"/><Contact n=\"Bob\"/></Contacts>\
                        <Settings><Setting><Key>a</Key></Setting><Setting><Key>b</Key></Setting></Settings></Export>";
        assert_eq!(at(settings), r#"{"n":"Ann"} {"n":"Bob"}"#);
        // A SOAP response of one record, past a header.
        let soap1 = "<Envelope><Header><Auth><Token>t</Token></Auth></Header><Body><Resp><Contacts>\
                     <Contact><Name>Ann</Name></Contact></Contacts></Resp></Body></Envelope>";
        assert_eq!(at(soap1), r#"{"Name":"Ann"}"#);
        // A wrapper with attributes of its own (a page of results).
        let page = "<Response status=\"ok\"><Contacts total=\"2\"><Contact><Name>Ann</Name></Contact>\
                    <Contact><Name>Bob</Name></Contact></Contacts></Response>";
        assert_eq!(at(page), r#"{"Name":"Ann"} {"Name":"Bob"}"#);
        // An RSS channel: its own title and link, then the items.
        let rss = "<rss version=\"2.0\"><channel><title>News</title><link>https://x.com/</link>\
                   <item><title>A</title><guid>1</guid></item><item><title>B</title><guid>2</guid></item>\
                   <item><title>C</title><guid>3</guid></item></channel></rss>";
        assert_eq!(at(rss), r#"{"title":"A","guid":"1"} {"title":"B","guid":"2"} {"title":"C","guid":"3"}"#);
        // Whatever else the channel repeats, and with one item.
        let one = "<rss><channel><title>News</title><category>a</category><category>b</category>\
                   <category>c</category><atom:link href=\"x\" xmlns:atom=\"http://www.w3.org/2005/Atom\"/>\
                   <item><title>A</title></item></channel></rss>";
        assert_eq!(at(one), r#"{"title":"A"}"#);
        // A contact's addresses are the contact's, not records.
        let three = "<Response><Contact><Name>Ann</Name><Address><City>Oslo</City></Address>\
                     <Address><City>Bergen</City></Address><Address><City>Rome</City></Address></Contact></Response>";
        assert_eq!(at(three), r#"{"Name":"Ann","Address":[{"City":"Oslo"},{"City":"Bergen"},{"City":"Rome"}]}"#);
        let written = "<records><record><name>Ann</name><addresses><city>Oslo</city></addresses>\
                       <addresses><city>Bergen</city></addresses><addresses><city>Rome</city></addresses>\
                       </record></records>";
        assert_eq!(at(written).matches("\"name\":\"Ann\"").count(), 1, "{}", at(written));
    }

    #[test]
    fn a_document_of_one_record_is_read_whole() {
        let at = |doc: &str| {
            let recs = read_all(doc, None).expect("reads");
            recs.iter().map(|r| r.to_json().to_string()).collect::<Vec<_>>().join(" ")
        };
        // The root is the record: its fields are not records of their own.
        assert_eq!(
            at("<?xml version=\"1.0\"?>\n<Contact>\n  <Name>Ann</Name>\n  <Email>a@x.com</Email>\n</Contact>\n"),
            r#"{"Name":"Ann","Email":"a@x.com"}"#
        );
        // A field with attributes first, a nested one after.
        assert_eq!(
            at("<Contact><Name first=\"Ann\"/><Email>a@x.com</Email><Address><City>Oslo</City></Address></Contact>"),
            r#"{"Name":{"first":"Ann"},"Email":"a@x.com","Address":{"City":"Oslo"}}"#
        );
        // The one record under a root that wraps it.
        assert_eq!(at("<Export><Customer><Name>Ann</Name></Customer></Export>"), r#"{"Name":"Ann"}"#);
        // Values of one kind are records of one value each, as before.
        assert_eq!(at("<Emails><Email>a@x.com</Email><Email>b@x.com</Email></Emails>").matches("a@x.com").count(), 1);
    }

    #[test]
    fn records_are_found_past_a_long_element_before_them() {
        // A description over a MiB long, then the list of records, beside it.
        let doc = format!(
            "<Export><Meta><Description>{}</Description><Owner>A</Owner></Meta><Customers>{}</Customers></Export>",
            "x".repeat(1_200_000),
            (0..10).map(|i| format!("<Customer><email>u{i}@x.com</email></Customer>")).collect::<String>()
        );
        let recs = read_all(&doc, None).expect("reads");
        assert_eq!(recs.len(), 10);
        assert_eq!(recs[9].get("email").map(Value::to_text).as_deref(), Some("u9@x.com"));
    }

    #[test]
    fn a_record_path_that_matches_nothing_is_an_error() {
        let doc = "<records><record><name>Ann</name><_row>2</_row></record><record><name>Bo</name></record></records>";
        let err = read_all(doc, Some("Customers/Customer")).expect_err("no such element").to_string();
        assert!(err.contains(r#"record path "Customers/Customer" matches no element"#), "{err}");
        assert!(
            err.contains(r#"its records look to be at "/records/record" (--record-path /records/record)"#),
            "{err}"
        );
        for wrong in ["/record", "records/Record", "/records/client", "client"] {
            assert!(read_all(doc, Some(wrong)).is_err(), "{wrong}");
        }
        // Records of attributes only; values of references only; a root
        // that is the one record; an element of the parent's name holding a
        // count.
        assert!(read_all(r#"<r><c id="1"/><c id="2"/></r>"#, Some("r/x")).is_err());
        assert!(read_all("<r><c><n>&#x4E2D;</n></c><c><n>&amp;</n></c></r>", Some("r/x")).is_err());
        assert!(read_all(r#"<contact email="a@x.com"/>"#, Some("contacts/contact")).is_err());
        let summary = "<Export><Summary><Contacts>2</Contacts></Summary><Data><Row><n>A</n></Row></Data></Export>";
        assert!(read_all(summary, Some("Contacts/Contact")).is_err());
        // No records: the records' parent there without children, or a file
        // that holds no values at all.
        assert_eq!(read_all("<Customers></Customers>", Some("Customers/Customer")).expect("empty").len(), 0);
        assert_eq!(
            read_all(r#"<x at="1"><Customers n="0"/></x>"#, Some("Customers/Customer")).expect("empty").len(),
            0
        );
        assert_eq!(read_all("<Customers/>", Some("/Customers/Customer")).expect("empty").len(), 0);
        assert_eq!(read_all("<records>\n</records>", Some("record")).expect("empty").len(), 0);
        assert_eq!(read_all("<Export><Customers/></Export>", Some("Customer")).expect("empty").len(), 0);
        // Found, not named: an empty element holds no record.
        assert_eq!(read_all("<Export><Customers/></Export>", None).expect("empty").len(), 0);
        assert_eq!(read_all(r#"<Export at="1"><Customers></Customers></Export>"#, None).expect("empty").len(), 0);
    }

    #[test]
    fn attributes_of_one_local_name_keep_their_prefix() {
        let recs = read_all(r#"<r><c id="1" x:id="2" xmlns:x="u"/></r>"#, Some("r/c")).expect("reads");
        assert_eq!(recs[0].get("id").map(Value::to_text).as_deref(), Some("1"));
        assert_eq!(recs[0].get("x:id").map(Value::to_text).as_deref(), Some("2"));
    }

    #[test]
    fn a_control_character_rejects_its_record() {
        let mut rec = Record::new();
        rec.row = 7;
        rec.push_text(&Key::from("note"), "bell\u{7}");
        let mut w =
            XmlWriter::new("o.xml", Box::new(Vec::new()), &WriteOptions::new(crate::Format::Xml)).expect("opens");
        let e = w.write(&rec).expect_err("U+0007");
        assert!(e.is_record_level() && e.to_string().contains("U+0007"), "{e}");
        let mut rec = Record::new();
        rec.push_text(&Key::from("note"), "tab\tand\nline");
        w.write(&rec).expect("tab and newline are text");
    }

    #[test]
    fn writes_nested_elements() {
        let mut rec = Record::new();
        rec.push_text(&Key::from("Customer Id"), "A&B");
        rec.push_text(&Key::from("address.city"), "X");
        let mut s = String::new();
        for (k, v) in rec.nested() {
            write_element(&mut s, &k, &v, 0);
        }
        assert!(s.contains("<Customer_Id>A&amp;B</Customer_Id>"), "{s}");
        assert!(s.contains("<address>\n  <city>X</city>\n</address>"), "{s}");
    }
}
