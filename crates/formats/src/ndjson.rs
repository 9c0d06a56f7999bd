//! NDJSON (JSON Lines): one object per line. A line that is not a JSON
//! object rejects that record only; the rest of the file goes on.

use std::cell::RefCell;
use std::io::{BufRead, Write};

use crmsync_core::{Defect, Key, Record, Value};
use serde::de::DeserializeSeed;

use crate::error::{Error, Location, Result};
use crate::json::{Interner, ValueSeed};
use crate::{RecordReader, RecordWriter, SourceDetails};

pub struct NdjsonReader {
    file: String,
    input: Box<dyn BufRead + Send>,
    line: Vec<u8>,
    line_no: u64,
    encoding: &'static str,
    dups: RefCell<Vec<String>>,
    keys: RefCell<Interner>,
    raw_key: Key,
}

impl NdjsonReader {
    pub fn new(file: &str, input: Box<dyn BufRead + Send>, encoding: &'static str) -> Self {
        Self {
            file: file.to_string(),
            input,
            line: Vec::with_capacity(4096),
            line_no: 0,
            encoding,
            dups: RefCell::new(Vec::new()),
            keys: RefCell::new(Interner::default()),
            raw_key: Key::from("_raw"),
        }
    }
}

impl RecordReader for NdjsonReader {
    fn read(&mut self, rec: &mut Record) -> Result<bool> {
        loop {
            self.line.clear();
            let n = self.input.read_until(b'\n', &mut self.line).map_err(|e| {
                Error::from_io(
                    &self.file,
                    Location { row: Some(self.line_no + 1), line: Some(self.line_no + 1), field: None },
                    e,
                )
            })?;
            if n == 0 {
                return Ok(false);
            }
            self.line_no += 1;
            let text = self.line.trim_ascii();
            if text.is_empty() {
                continue;
            }
            rec.clear();
            rec.row = self.line_no;
            rec.line = self.line_no;
            // Lines are records of their own: a damaged one (a write cut
            // short, a value pasted in another encoding) rejects that record
            // only. Its bad bytes cannot go into a UTF-8 rejects file as
            // they are; the message says where they are in the line.
            let s = match std::str::from_utf8(text) {
                Ok(s) => s,
                Err(e) => {
                    rec.push(self.raw_key.clone(), Value::Text(String::from_utf8_lossy(text).into_owned()));
                    rec.defect = Some(Defect {
                        field: None,
                        message: format!(
                            "the line is not valid UTF-8 (at byte {} of it, shown as U+FFFD): fix it in \
                             the file, or name the file's encoding with --encoding",
                            e.valid_up_to() + 1
                        ),
                    });
                    return Ok(true);
                }
            };
            let mut de = serde_json::Deserializer::from_str(s);
            let parsed =
                ValueSeed { dups: &self.dups, keys: &self.keys }.deserialize(&mut de).and_then(|v| de.end().map(|_| v));
            match parsed {
                Ok(Value::Object(fields)) => {
                    for (k, v) in fields {
                        rec.push(k, v);
                    }
                    let mut d = self.dups.borrow_mut();
                    if !d.is_empty() {
                        rec.defect = Some(Defect {
                            field: None,
                            message: format!("a key appears twice with different values: {}", d.join("; ")),
                        });
                        d.clear();
                    }
                }
                Ok(_) => {
                    rec.push(self.raw_key.clone(), Value::Text(s.to_string()));
                    rec.defect = Some(Defect {
                        field: None,
                        message: "the line is JSON but not an object (a record)".to_string(),
                    });
                }
                Err(e) => {
                    self.dups.borrow_mut().clear();
                    rec.push(self.raw_key.clone(), Value::Text(s.to_string()));
                    let mut msg = e.to_string();
                    if let Some(p) = msg.find(" at line ") {
                        msg.truncate(p);
                    }
                    rec.defect = Some(Defect {
                        field: None,
                        message: format!("the line is not valid JSON: {msg} at column {}", e.column()),
                    });
                }
            }
            return Ok(true);
        }
    }

    fn columns(&self) -> Option<&[Key]> {
        None
    }

    fn details(&self) -> SourceDetails {
        SourceDetails { format: Some(crate::Format::Ndjson), encoding: Some(self.encoding), ..Default::default() }
    }
}

pub struct NdjsonWriter {
    file: String,
    out: Box<dyn Write + Send>,
    buf: Vec<u8>,
}

impl NdjsonWriter {
    pub fn new(file: &str, out: Box<dyn Write + Send>) -> Self {
        Self { file: file.to_string(), out, buf: Vec::with_capacity(128 * 1024) }
    }
}

impl RecordWriter for NdjsonWriter {
    fn write(&mut self, rec: &Record) -> Result<()> {
        crate::write_json_record(&mut self.buf, rec);
        self.buf.push(b'\n');
        if self.buf.len() >= 120 * 1024 {
            self.out.write_all(&self.buf).map_err(|e| Error::Io { file: self.file.clone(), source: e })?;
            self.buf.clear();
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        self.out.write_all(&self.buf).map_err(|e| Error::Io { file: self.file.clone(), source: e })?;
        self.out.flush().map_err(|e| Error::Io { file: self.file.clone(), source: e })
    }
}
