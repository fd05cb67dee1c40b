//! JSON Lines: one document per line, read lazily.
//!
//! Every non-blank line yields exactly one [`Document`], so a report has one
//! row per record: a line that is not a JSON object, lacks the text field,
//! or is longer than the cap becomes a document with `error` set, and
//! reading goes on with the next line. Blank lines are skipped (they are
//! not records) but still counted, so line numbers match an editor's.
//! The parsed object is kept whole in [`Document::record`] so that restore
//! can write every other field back untouched.

use std::io::BufReader;

use serde_json::Value;

use super::compress::{is_broken_member, DynRead};
use super::lines::{read_line_capped, Line};
use super::{Document, Settings};

/// A lazy iterator over the records of one JSONL input.
pub(crate) struct JsonlRecords {
    name: String,
    reader: BufReader<DynRead>,
    settings: Settings,
    line_no: usize,
    buf: Vec<u8>,
    yielded: bool,
    done: bool,
}

impl JsonlRecords {
    pub(crate) fn new(name: String, reader: DynRead, settings: Settings) -> JsonlRecords {
        JsonlRecords {
            name,
            reader: BufReader::with_capacity(64 * 1024, reader),
            settings,
            line_no: 0,
            buf: Vec::new(),
            yielded: false,
            done: false,
        }
    }

    fn record(&self, line: &[u8]) -> Document {
        let source = format!("{}:{}", self.name, self.line_no);
        let fail = |message: String| {
            Document::failed(source.clone(), format!("{}:{}: {message}", self.name, self.line_no))
        };
        let mut warnings = Vec::new();
        let line = if self.line_no == 1 {
            line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line)
        } else {
            line
        };
        let parsed = match std::str::from_utf8(line) {
            Ok(s) => serde_json::from_str::<Value>(s),
            Err(_) => {
                warnings.push("invalid UTF-8 decoded lossily".to_string());
                serde_json::from_str::<Value>(&String::from_utf8_lossy(line))
            }
        };
        let object = match parsed {
            Ok(Value::Object(object)) => object,
            Ok(other) => return fail(format!("expected a JSON object, found {}", kind(&other))),
            Err(err) => return fail(format!("expected a JSON object: {err}")),
        };
        let opts = &self.settings.opts;
        let id = match object.get(&opts.id_field) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let text = match object.get(&opts.text_field) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => {
                Err(format!("field \"{}\" is {}, not a string", opts.text_field, kind(other)))
            }
            None => Err(format!("no \"{}\" field", opts.text_field)),
        };
        let mut doc = match text {
            Ok(text) => self.settings.text_document(source, text),
            Err(message) => fail(message),
        };
        doc.id = id;
        doc.warnings.splice(0..0, warnings);
        doc.record = Some(object);
        doc
    }
}

/// "an array", "a number", … for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Iterator for JsonlRecords {
    type Item = Document;

    fn next(&mut self) -> Option<Document> {
        while !self.done {
            let max = usize::try_from(self.settings.opts.max_bytes).unwrap_or(usize::MAX);
            let line = read_line_capped(&mut self.reader, &mut self.buf, max);
            self.line_no += 1;
            let here = format!("{}:{}", self.name, self.line_no);
            match line {
                Ok(Line::Eof) => {
                    self.done = true;
                    if !self.yielded {
                        self.yielded = true;
                        return Some(Document::failed(
                            self.name.clone(),
                            format!("{}: no JSON records", self.name),
                        ));
                    }
                }
                Ok(Line::TooLong) => {
                    self.yielded = true;
                    return Some(Document::failed(
                        here.clone(),
                        format!(
                            "{here}: line longer than {} bytes; raise --max-bytes",
                            self.settings.opts.max_bytes
                        ),
                    ));
                }
                Ok(Line::Complete) => {
                    if self.buf.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    self.yielded = true;
                    let line = std::mem::take(&mut self.buf);
                    let doc = self.record(&line);
                    self.buf = line;
                    return Some(doc);
                }
                Err(err) => {
                    // A damaged gzip member loses the lines in it, but the
                    // next member can still be read; any other error ends
                    // this input.
                    self.done = !is_broken_member(&err);
                    self.yielded = true;
                    return Some(Document::failed(here.clone(), format!("{here}: {err}")));
                }
            }
        }
        None
    }
}
