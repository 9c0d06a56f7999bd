//! Character encodings: detection (`auto`) and transcoding to UTF-8.
//!
//! UTF-8 input is passed through untouched and validated by each reader, so
//! the common case costs nothing here. Other encodings are transcoded by
//! `Transcoder`, which, unlike `encoding_rs_io`, stops at the first
//! malformed byte instead of putting U+FFFD in its place.

use std::fmt;
use std::io::{self, BufRead, BufReader, Cursor, Read, Seek, SeekFrom, Write};
use std::path::Path;

use encoding_rs::{DecoderResult, EncoderResult};
pub use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};

use crate::error::{Error, Result};

const SAMPLE: usize = 64 * 1024;
const BUFFER: usize = 256 * 1024;

/// The decoded input of a reader.
pub struct Decoded {
    pub reader: Box<dyn BufRead + Send>,
    pub encoding: &'static Encoding,
    pub had_bom: bool,
}

/// A byte sequence that is not valid in the encoding being read.
#[derive(Debug)]
pub struct DecodeError {
    pub encoding: &'static str,
    pub line: u64,
    pub offset: u64,
    pub bytes: Vec<u8>,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.bytes.is_empty() {
            return write!(
                f,
                "the file ends in the middle of a {} character (truncated?); name the file's encoding with --encoding if it is not {}",
                self.encoding, self.encoding
            );
        }
        let hex: Vec<String> = self.bytes.iter().map(|b| format!("{b:02X}")).collect();
        write!(
            f,
            "bytes {} at byte offset {} are not valid {}; name the file's encoding with --encoding",
            hex.join(" "),
            self.offset,
            self.encoding
        )
    }
}

impl std::error::Error for DecodeError {}

/// Looks up an encoding by a name users write (`gbk`, `utf-16le`, `big5`,
/// `shift_jis`, `windows-1252`, `latin1`, ...).
pub fn by_name(name: &str) -> Option<&'static Encoding> {
    let n = name.trim().to_ascii_lowercase();
    let n = match n.as_str() {
        "utf8" => "utf-8",
        "utf16le" | "utf-16" => "utf-16le",
        "utf16be" => "utf-16be",
        "sjis" | "shiftjis" => "shift_jis",
        "cp1252" => "windows-1252",
        "cp936" => "gbk",
        other => other,
    };
    Encoding::for_label(n.as_bytes())
}

/// Reads up to `SAMPLE` bytes from the start of the input.
fn sample(src: &mut dyn Read) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(SAMPLE);
    src.take(SAMPLE as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Bytes of other than ASCII past which chardetng's guess is taken as it
/// is: a hundred or so characters of text in the file's language.
const SURE: usize = 256;

/// The legacy encodings CRM files come in (chardetng says GBK for GB2312
/// and GB18030 alike).
const COMMON: [&Encoding; 4] = [encoding_rs::GBK, encoding_rs::BIG5, encoding_rs::SHIFT_JIS, encoding_rs::WINDOWS_1252];

/// What `auto` makes of a sample: an encoding, or the several a legacy
/// sample reads as differently.
enum Detected {
    One(&'static Encoding),
    Ambiguous(Vec<&'static Encoding>),
}

fn detect(sample: &[u8], complete: bool) -> Detected {
    // UTF-16 without a BOM: every other byte of ASCII text is zero.
    if sample.len() >= 4 {
        let even_zero = sample.iter().step_by(2).filter(|b| **b == 0).count();
        let odd_zero = sample.iter().skip(1).step_by(2).filter(|b| **b == 0).count();
        let half = sample.len() / 2;
        if odd_zero * 10 >= half * 7 && even_zero * 10 < half {
            return Detected::One(encoding_rs::UTF_16LE);
        }
        if even_zero * 10 >= half * 7 && odd_zero * 10 < half {
            return Detected::One(encoding_rs::UTF_16BE);
        }
    }
    if is_utf8(sample, complete) {
        return Detected::One(UTF_8);
    }
    // UTF-8 text with a few bad bytes is damaged UTF-8, which must fail with
    // its row named, not be read as Windows-1252 mojibake. Legacy encodings
    // rarely form valid multi-byte UTF-8 sequences; damaged UTF-8 does.
    // Where as many are bad as good, a CJK file that its encoding reads
    // whole (GBK's 伟 is UTF-8's ΰ) is not taken for damaged UTF-8.
    let (good, bad) = utf8_sequences(sample);
    if good > 0 && good * 2 >= bad && (good >= bad * 4 || !legacy_reads_it(sample)) {
        return Detected::One(UTF_8);
    }
    if let Some(declared) = xml_declared_encoding(sample) {
        return Detected::One(declared);
    }
    let mut det = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    // A file cut off inside its last character (a truncated download or
    // copy) must still be read in its own encoding, so that the reader names
    // the cut. Told the bytes end there, chardetng rules out every encoding
    // the cut makes invalid and picks one that reads it all as mojibake.
    // (A GB18030 four-byte character cut after its second byte ends in a
    // digit: the cut is where the last byte of other than ASCII within the
    // last three starts, followed by digits at most.)
    let tail = sample.len().saturating_sub(3);
    let cut_at = (tail..sample.len())
        .find(|&i| !sample[i].is_ascii() && sample[i + 1..].iter().all(|b| !b.is_ascii() || b.is_ascii_digit()))
        .filter(|_| complete);
    det.feed(sample, complete && cut_at.is_none());
    let guess = det.guess(None, chardetng::Utf8Detection::Allow);
    // Text in a single-byte encoding (Windows-1252) all but never forms a
    // valid UTF-8 sequence: `é` is one byte, followed by a letter. Where a
    // sample has as many of them as invalid ones, it is UTF-8 with a few
    // damaged bytes, to fail with their row named, not to be read whole as
    // mojibake (`JosÃ©`).
    if good > 0 && good >= bad && guess.is_single_byte() {
        return Detected::One(UTF_8);
    }
    // chardetng weighs a site's country in only where the bytes leave the
    // choice open. A short sample it reads in an encoding CRM files seldom
    // come in (three Chinese names in GBK read as EUC-JP), and that reads
    // otherwise, and validly, in one of theirs for some country, is a
    // question for the user.
    let unsure = sample.iter().filter(|b| !b.is_ascii()).count() < SURE;
    // Nor is a short sample read as Windows-1252 whose other than ASCII
    // comes only in pairs that are whole words: two Chinese names in GBK
    // (伟, 娜) read as `Î°` and `ÄÈ`, where accented Latin letters stand
    // inside words (Müller, Núñez).
    if guess == encoding_rs::WINDOWS_1252 && unsure && cut_at.is_none() && whole_word_pairs(sample) {
        let first = guess.decode_without_bom_handling(sample).0;
        let mut guesses = vec![guess];
        for other in [encoding_rs::GBK, encoding_rs::BIG5, encoding_rs::SHIFT_JIS] {
            if let Some(reading) = other.decode_without_bom_handling_and_without_replacement(sample)
                && reading != first
            {
                guesses.push(other);
            }
        }
        if guesses.len() > 1 {
            return Detected::Ambiguous(guesses);
        }
    }
    if COMMON.contains(&guess) || !unsure {
        return Detected::One(guess);
    }
    // The other readings are weighed without the cut character.
    let sample = &sample[..cut_at.unwrap_or(sample.len())];
    let first = guess.decode_without_bom_handling(sample).0;
    let mut guesses = vec![guess];
    for tld in [b"cn".as_slice(), b"tw", b"jp", b"kr", b"ru"] {
        let other = det.guess(Some(tld), chardetng::Utf8Detection::Allow);
        if guesses.contains(&other) {
            continue;
        }
        let (reading, bad) = other.decode_without_bom_handling(sample);
        if !bad && reading != first {
            guesses.push(other);
        }
    }
    // (The guess itself is not common: only the others can be.)
    if guesses.iter().any(|e| COMMON.contains(e)) { Detected::Ambiguous(guesses) } else { Detected::One(guess) }
}

/// Whether every run of bytes other than ASCII is of an even length and
/// has no ASCII letter next to it.
fn whole_word_pairs(sample: &[u8]) -> bool {
    let mut i = 0;
    while i < sample.len() {
        if sample[i].is_ascii() {
            i += 1;
            continue;
        }
        let start = i;
        while i < sample.len() && !sample[i].is_ascii() {
            i += 1;
        }
        let letter = |at: Option<&u8>| at.is_some_and(u8::is_ascii_alphabetic);
        if (i - start) % 2 == 1 || letter(start.checked_sub(1).and_then(|b| sample.get(b))) || letter(sample.get(i)) {
            return false;
        }
    }
    true
}

/// Whether GBK-looking bytes hold a four-byte GB18030 sequence (a lead byte,
/// a digit, a lead byte, a digit), such as `𠀀` or `€` written the long way.
fn has_gb18030_four_bytes(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i + 1 < bytes.len() {
        let b = bytes[i];
        if b < 0x81 || b == 0xff {
            i += 1;
            continue;
        }
        let next = bytes[i + 1];
        if next.is_ascii_digit() {
            if bytes.get(i + 2).is_some_and(|c| (0x81..=0xfe).contains(c))
                && bytes.get(i + 3).is_some_and(u8::is_ascii_digit)
            {
                return true;
            }
            i += 1;
        } else {
            // A two-byte character.
            i += 2;
        }
    }
    false
}

/// Why `auto` cannot choose: the first line with other than ASCII, as each
/// candidate reads it.
fn ambiguity(sample: &[u8], candidates: &[&'static Encoding]) -> String {
    let line = sample.split(|b| *b == b'\n').find(|l| !l.is_ascii()).unwrap_or(sample);
    let line = &line[..line.len().min(120)];
    let readings: Vec<String> = candidates
        .iter()
        .map(|e| {
            let text = e.decode_without_bom_handling(line).0;
            let text: String = text.trim_end().chars().take(40).collect();
            format!("as {}: {text:?}", e.name())
        })
        .collect();
    format!(
        "cannot tell the file's encoding: it is not UTF-8, and too little of it is text in another one to tell which ({}); name it with --encoding {}",
        readings.join("; "),
        candidates.iter().map(|e| e.name().to_ascii_lowercase()).collect::<Vec<_>>().join(" or ")
    )
}

/// Whether a CJK legacy encoding reads every byte of `sample`.
fn legacy_reads_it(sample: &[u8]) -> bool {
    [encoding_rs::GBK, encoding_rs::BIG5, encoding_rs::SHIFT_JIS]
        .iter()
        .any(|e| e.decode_without_bom_handling_and_without_replacement(sample).is_some())
}

/// Counts valid multi-byte UTF-8 characters and invalid sequences.
fn utf8_sequences(mut bytes: &[u8]) -> (usize, usize) {
    let (mut good, mut bad) = (0, 0);
    loop {
        match std::str::from_utf8(bytes) {
            Ok(s) => return (good + s.chars().filter(|c| !c.is_ascii()).count(), bad),
            Err(e) => {
                let valid = e.valid_up_to();
                good += std::str::from_utf8(&bytes[..valid]).map_or(0, |s| s.chars().filter(|c| !c.is_ascii()).count());
                match e.error_len() {
                    Some(n) => {
                        bad += 1;
                        bytes = &bytes[valid + n..];
                    }
                    None => return (good, bad),
                }
            }
        }
    }
}

/// `<?xml version="1.0" encoding="GB2312"?>`
fn xml_declared_encoding(sample: &[u8]) -> Option<&'static Encoding> {
    let head = sample.get(..sample.len().min(200))?;
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = memchr::memmem::find(head, b"?>")?;
    let decl = std::str::from_utf8(&head[..end]).ok()?;
    let rest = &decl[decl.find("encoding")? + 8..];
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next()?;
    let value = rest[1..].split(quote).next()?;
    Encoding::for_label(value.as_bytes())
}

/// Where the first `SAMPLE` bytes are ASCII alone, which says nothing of
/// the encoding, or have other bytes only at their very end, too few to
/// tell by: `SAMPLE` bytes of the file at `path` from the start of the line
/// with the first bytes of other than ASCII at or after `from`, however far
/// in, with whether the file ends there. `None` when the file is ASCII from
/// `from` to its end.
///
/// A list of mostly American names has its first `Müller` hundreds of rows
/// in; read as UTF-8 it stopped there, to be run again with `--encoding`.
/// What comes before is ASCII, which every encoding detected reads alike,
/// so the file is read whole in the encoding of its first other bytes,
/// told from their line as it would be at the top of a file (`François`,
/// not `çois`).
fn further_sample(path: &Path, from: u64) -> io::Result<Option<(Vec<u8>, bool)>> {
    let mut file = std::fs::File::open(path)?;
    file.seek(SeekFrom::Start(from))?;
    let mut block = vec![0; 1 << 20];
    let mut at = from;
    let first = loop {
        let n = file.read(&mut block)?;
        if n == 0 {
            return Ok(None);
        }
        // (`is_ascii` checks a word at a time: the scan of a file of ASCII
        // alone takes a fraction of reading it.)
        let found = block[..n]
            .chunks(4096)
            .enumerate()
            .find(|(_, piece)| !piece.is_ascii())
            .and_then(|(i, piece)| Some(i * 4096 + piece.iter().position(|b| !b.is_ascii())?));
        if let Some(i) = found {
            break at + i as u64;
        }
        at += n as u64;
    };
    // The line it is on, from its start (looked for up to 4 KB back).
    let back = first.min(4096);
    file.seek(SeekFrom::Start(first - back))?;
    let mut window = Vec::with_capacity(SAMPLE + back as usize);
    (&mut file).take(back + SAMPLE as u64).read_to_end(&mut window)?;
    let line = window[..back as usize].iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    window.drain(..line);
    window.truncate(SAMPLE);
    let complete = window.len() < SAMPLE || {
        file.seek(SeekFrom::Start(first - back + (line + SAMPLE) as u64))?;
        file.read(&mut [0])? == 0
    };
    Ok(Some((window, complete)))
}

/// Whether `sample` is UTF-8 (a multi-byte character cut off by the end of
/// an incomplete sample aside).
fn is_utf8(sample: &[u8], complete: bool) -> bool {
    match std::str::from_utf8(sample) {
        Ok(_) => true,
        Err(e) => !complete && e.error_len().is_none(),
    }
}

/// Where to look further into a file whose first bytes, `head`, have other
/// than ASCII only in their last lines, if at all: too little to tell by.
/// `None` where `head` tells (or is the whole file).
fn look_further_from(head: &[u8], complete: bool) -> Option<u64> {
    let first = head.iter().position(|b| !b.is_ascii());
    (!complete && first.is_none_or(|i| i >= SAMPLE - 4096)).then(|| first.unwrap_or(SAMPLE) as u64)
}

/// Whether the first text other than ASCII in a file is UTF-8: in `head`,
/// its first bytes, or further on in the file at `path`.
fn utf8_text_first(file: &str, head: &[u8], complete: bool, path: Option<&Path>) -> Result<bool> {
    let utf8_text = |sample: &[u8], complete| is_utf8(sample, complete) && !sample.is_ascii();
    match (look_further_from(head, complete), path) {
        (Some(from), Some(path)) => {
            let further = further_sample(path, from).map_err(|e| Error::Io { file: file.to_string(), source: e })?;
            Ok(further.is_some_and(|(further, complete)| utf8_text(&further, complete)))
        }
        _ => Ok(utf8_text(head, complete)),
    }
}

/// The encoding `auto` reads `sample` in.
fn detected(file: &str, sample: &[u8], complete: bool) -> Result<&'static Encoding> {
    match detect(sample, complete) {
        // chardetng says GBK for GB18030 too (the decoders are one); a
        // four-byte sequence is GB18030's alone.
        Detected::One(e) if e == encoding_rs::GBK && has_gb18030_four_bytes(sample) => Ok(encoding_rs::GB18030),
        Detected::One(e) => Ok(e),
        Detected::Ambiguous(candidates) => Err(Error::setup(file, ambiguity(sample, &candidates))),
    }
}

/// Opens `src` for reading as UTF-8. `choice` is `auto` or an encoding name;
/// a `default` one gives way to the file's byte order mark, or to UTF-8
/// where the file's first bytes are UTF-8 text other than ASCII (legacy
/// text hardly ever is: GBK's and Windows-1252's letters are bytes that
/// UTF-8 does not allow in that order). `path`, where `src` is a file's
/// bytes, lets `auto` look past the first bytes when they are ASCII alone.
pub fn decode(
    file: &str,
    mut src: Box<dyn Read + Send>,
    choice: &str,
    default: bool,
    path: Option<&Path>,
) -> Result<Decoded> {
    let head = sample(&mut src).map_err(|e| Error::Io { file: file.to_string(), source: e })?;
    let complete = head.len() < SAMPLE;
    let (bom_enc, bom_len) = match Encoding::for_bom(&head) {
        Some((e, n)) => (Some(e), n),
        None => (None, 0),
    };
    let encoding = if choice.eq_ignore_ascii_case("auto") {
        match (bom_enc, path, look_further_from(&head, complete)) {
            (Some(e), ..) => e,
            (None, Some(path), Some(from)) => {
                let further =
                    further_sample(path, from).map_err(|e| Error::Io { file: file.to_string(), source: e })?;
                // (An XML file says its encoding up front.)
                let declared = xml_declared_encoding(&head).filter(|e| e.is_ascii_compatible());
                match (further, declared) {
                    (None, _) => UTF_8,
                    (Some(_), Some(declared)) => declared,
                    (Some((further, complete)), None) => detected(file, &further, complete)?,
                }
            }
            (None, ..) => detected(file, &head, complete)?,
        }
    } else {
        let named = by_name(choice).ok_or_else(|| {
            Error::setup(file, format!("unknown encoding `{choice}`; use auto, utf-8, utf-16le, utf-16be, gbk, gb18030, big5, shift_jis or windows-1252"))
        })?;
        match bom_enc {
            // A BOM is the file telling us; it wins over a UTF-8/UTF-16 guess.
            Some(b) if named == UTF_8 || named == encoding_rs::UTF_16LE || named == encoding_rs::UTF_16BE => b,
            Some(b) if default => b,
            None if default && named != UTF_8 && utf8_text_first(file, &head, complete, path)? => UTF_8,
            _ => named,
        }
    };
    let single_byte_or_utf8 = encoding != encoding_rs::UTF_16LE && encoding != encoding_rs::UTF_16BE;
    let nuls = memchr::memchr_iter(0, &head).count();
    if single_byte_or_utf8 && nuls >= 16 && nuls * 100 > head.len() {
        return Err(Error::setup(
            file,
            "the file looks binary (it is full of NUL bytes), not text; if it is a spreadsheet or another format, name it with --from",
        ));
    }
    let had_bom = bom_enc == Some(encoding) && bom_len > 0;
    let skip = if had_bom { bom_len } else { 0 };
    let rest = Cursor::new(head).chain(src);
    let mut rest: Box<dyn Read + Send> = Box::new(rest);
    if skip > 0 {
        let mut discard = [0u8; 3];
        rest.read_exact(&mut discard[..skip]).map_err(|e| Error::Io { file: file.to_string(), source: e })?;
    }
    let reader: Box<dyn BufRead + Send> = if encoding == UTF_8 {
        Box::new(BufReader::with_capacity(BUFFER, rest))
    } else {
        Box::new(BufReader::with_capacity(BUFFER, Transcoder::new(rest, encoding)))
    };
    Ok(Decoded { reader, encoding, had_bom })
}

/// Decodes any encoding to UTF-8, failing on malformed input.
struct Transcoder {
    inner: Box<dyn Read + Send>,
    decoder: encoding_rs::Decoder,
    encoding: &'static Encoding,
    input: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    done: bool,
    offset: u64,
    lines: u64,
    pending: Vec<u8>,
    pending_pos: usize,
    /// A decoding error, returned once the good text before it is read.
    deferred: Option<DecodeError>,
}

impl Transcoder {
    fn new(inner: Box<dyn Read + Send>, encoding: &'static Encoding) -> Self {
        Self {
            inner,
            decoder: encoding.new_decoder_without_bom_handling(),
            encoding,
            input: vec![0; 64 * 1024],
            start: 0,
            end: 0,
            eof: false,
            done: false,
            offset: 0,
            lines: 1,
            pending: Vec::new(),
            pending_pos: 0,
            deferred: None,
        }
    }
}

impl Read for Transcoder {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pending_pos < self.pending.len() {
                let n = buf.len().min(self.pending.len() - self.pending_pos);
                buf[..n].copy_from_slice(&self.pending[self.pending_pos..self.pending_pos + n]);
                self.pending_pos += n;
                return Ok(n);
            }
            if let Some(err) = self.deferred.take() {
                return Err(io::Error::new(io::ErrorKind::InvalidData, err));
            }
            if self.done {
                return Ok(0);
            }
            if self.start == self.end && !self.eof {
                self.start = 0;
                self.end = self.inner.read(&mut self.input)?;
                self.eof = self.end == 0;
            }
            let last = self.eof && self.start == self.end;
            let input = &self.input[self.start..self.end];
            self.pending.clear();
            self.pending_pos = 0;
            self.pending.resize(input.len() * 3 + 16, 0);
            let (res, read, written) = self.decoder.decode_to_utf8_without_replacement(input, &mut self.pending, last);
            self.pending.truncate(written);
            self.lines += memchr::memchr_iter(b'\n', &self.pending).count() as u64;
            match res {
                DecoderResult::InputEmpty => self.done = last,
                DecoderResult::OutputFull => {}
                DecoderResult::Malformed(len, extra) => {
                    let bad_end = read.saturating_sub(usize::from(extra));
                    let bad_start = bad_end.saturating_sub(usize::from(len));
                    self.deferred = Some(DecodeError {
                        encoding: self.encoding.name(),
                        line: self.lines,
                        offset: self.offset + bad_start as u64,
                        bytes: input[bad_start..bad_end].to_vec(),
                    });
                    self.done = true;
                }
            }
            self.start += read;
            self.offset += read as u64;
        }
    }
}

/// Encodes UTF-8 output into another encoding for systems that need it.
/// Characters the target cannot represent are an error, never `?`.
pub struct Encoder<W: Write> {
    inner: W,
    encoder: encoding_rs::Encoder,
    out: Vec<u8>,
    carry: Vec<u8>,
    /// UTF-16 output (little-endian when true), which encoding_rs does not
    /// write: its encoders for UTF-16 write UTF-8, as the Encoding Standard
    /// says for the web. Started once the byte order mark is written.
    utf16: Option<(bool, bool)>,
}

impl<W: Write> Encoder<W> {
    pub fn new(inner: W, encoding: &'static Encoding) -> Self {
        let utf16 = if encoding == encoding_rs::UTF_16LE {
            Some((true, false))
        } else if encoding == encoding_rs::UTF_16BE {
            Some((false, false))
        } else {
            None
        };
        Self { inner, encoder: encoding.new_encoder(), out: Vec::new(), carry: Vec::new(), utf16 }
    }
}

/// `text` in UTF-16 into `out`, after a byte order mark (readers cannot
/// tell UTF-16 reliably without one) unless it is `started` or the text
/// starts with its own.
fn utf16(out: &mut Vec<u8>, text: &str, little: bool, started: bool) {
    out.clear();
    let bom = (!started && !text.starts_with('\u{feff}')).then_some(0xfeff);
    for unit in bom.into_iter().chain(text.encode_utf16()) {
        out.extend_from_slice(&if little { unit.to_le_bytes() } else { unit.to_be_bytes() });
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Writers may split a UTF-8 character across calls; keep the tail.
        self.carry.extend_from_slice(buf);
        let valid = match std::str::from_utf8(&self.carry) {
            Ok(s) => s.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
        };
        let text =
            std::str::from_utf8(&self.carry[..valid]).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        if let Some((little, started)) = self.utf16 {
            if !text.is_empty() {
                utf16(&mut self.out, text, little, started);
                self.inner.write_all(&self.out)?;
                self.utf16 = Some((little, true));
            }
            self.carry.drain(..valid);
            return Ok(buf.len());
        }
        self.out.clear();
        self.out.resize(
            self.encoder.max_buffer_length_from_utf8_without_replacement(text.len()).unwrap_or(text.len() * 4 + 16),
            0,
        );
        let (res, _, written) = self.encoder.encode_from_utf8_without_replacement(text, &mut self.out, false);
        if let EncoderResult::Unmappable(c) = res {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "character {c:?} (U+{:04X}) cannot be written in {}",
                    u32::from(c),
                    self.encoder.encoding().name()
                ),
            ));
        }
        self.inner.write_all(&self.out[..written])?;
        self.carry.drain(..valid);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_default_encoding_gives_way_to_the_files_bom_or_utf8_text() {
        let open = |bytes: &[u8], choice: &str, default: bool| {
            let d = decode("t", Box::new(Cursor::new(bytes.to_vec())), choice, default, None).expect("opens");
            let mut s = String::new();
            let mut r = d.reader;
            r.read_to_string(&mut s).expect("reads");
            (d.encoding.name(), s)
        };
        let utf8 = "name,city\nZoë,Düsseldorf\n";
        // A mapping's Windows-1252, on next month's UTF-8 export.
        assert_eq!(open(utf8.as_bytes(), "windows-1252", true), ("UTF-8", utf8.to_string()));
        let with_bom = [b"\xEF\xBB\xBF".as_slice(), utf8.as_bytes()].concat();
        assert_eq!(open(&with_bom, "gbk", true), ("UTF-8", utf8.to_string()));
        // A file in the mapping's encoding is read in it.
        let (latin, _, _) = encoding_rs::WINDOWS_1252.encode(utf8);
        assert_eq!(open(&latin, "windows-1252", true), ("windows-1252", utf8.to_string()));
        let cn = "姓名,城市\n张伟,北京\n";
        let (gbk, _, _) = encoding_rs::GBK.encode(cn);
        assert_eq!(open(&gbk, "gbk", true), ("GBK", cn.to_string()));
        // ASCII alone: the mapping's, which reads it the same.
        assert_eq!(open(b"a,b\n", "gbk", true).0, "GBK");
        // Given for this file (on the command line), it is read as told.
        assert_eq!(
            open(utf8.as_bytes(), "windows-1252", false),
            ("windows-1252", "name,city\nZoÃ«,DÃ¼sseldorf\n".to_string())
        );
    }

    fn read_all(bytes: &[u8], choice: &str) -> (String, &'static str, std::result::Result<String, String>) {
        let d = decode("t", Box::new(Cursor::new(bytes.to_vec())), choice, false, None).expect("opens");
        let name = d.encoding.name();
        let mut s = String::new();
        let mut r = d.reader;
        let res = r.read_to_string(&mut s).map(|_| s.clone()).map_err(|e| e.to_string());
        (s, name, res)
    }

    #[test]
    fn detects_bom_utf16_gbk_big5_sjis() {
        let (_, name, res) = read_all(b"\xEF\xBB\xBFa,b\n", "auto");
        assert_eq!((name, res.as_deref()), ("UTF-8", Ok("a,b\n")));
        let utf16: Vec<u8> =
            [0xFF, 0xFE].into_iter().chain("名,b\n".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        let (_, name, res) = read_all(&utf16, "auto");
        assert_eq!((name, res.as_deref()), ("UTF-16LE", Ok("名,b\n")));
        let text = "姓名,手机,城市\n".to_string()
            + &"张伟,13800138000,北京市朝阳区\n李娜,13900000000,上海市浦东新区\n".repeat(10);
        let (gbk, _, _) = encoding_rs::GBK.encode(&text);
        let (_, name, res) = read_all(&gbk, "auto");
        assert_eq!((name, res.as_deref()), ("GBK", Ok(text.as_str())));
        let text = "姓名,電話,城市\n".to_string() + &"陳大文,0912345678,臺北市\n".repeat(24);
        let (big5, _, _) = encoding_rs::BIG5.encode(&text);
        assert_eq!(read_all(&big5, "auto").1, "Big5");
        let text = "名前,電話\n".to_string() + &"山田太郎,03-1234-5678\nこんにちは,東京都\n".repeat(8);
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(&text);
        assert_eq!(read_all(&sjis, "auto").1, "Shift_JIS");
    }

    #[test]
    fn too_little_legacy_text_to_tell_is_asked_about_not_guessed() {
        // Three names in GBK read as EUC-JP to chardetng: the job stops and
        // shows each reading, and --encoding reads the file.
        let (gbk, _, _) = encoding_rs::GBK.encode("email,first_name\np1@x.com,陈明\np2@x.com,李娜\np3@x.com,王芳\n");
        let err = decode("few.csv", Box::new(Cursor::new(gbk.to_vec())), "auto", false, None).err().expect("ambiguous");
        let msg = err.to_string();
        assert!(msg.contains("cannot tell the file's encoding") && msg.contains("as GBK: \"p1@x.com,陈明\""), "{msg}");
        assert!(msg.contains("--encoding") && msg.contains("gbk"), "{msg}");
        let (_, name, res) = read_all(&gbk, "gbk");
        assert_eq!((name, res.map(|t| t.contains("陈明"))), ("GBK", Ok(true)));
        // Readings that agree are no question: a little Latin text is read.
        let (_, _, res) = read_all(b"name,city\nJos\xE9,M\xE1laga\n", "auto");
        assert_eq!(res.as_deref(), Ok("name,city\nJosé,Málaga\n"));
        // Two one-character names in GBK read as Windows-1252 (`Î°`): asked.
        let (gbk, _, _) = encoding_rs::GBK.encode("email,first_name\nz@x.cn,伟\nl@x.cn,娜\n");
        let err = decode("two.csv", Box::new(Cursor::new(gbk.to_vec())), "auto", false, None).err().expect("ambiguous");
        assert!(err.to_string().contains("as GBK: \"z@x.cn,伟\""), "{err}");
        // Accented letters inside words, alone or in pairs, are Latin.
        for latin in [
            &b"name,city\nM\xFCller,K\xF6ln\n"[..],
            b"name\n\xC4\xE4kk\xF6nen\n",
            b"name,city\nCarlos N\xFA\xF1ez,Madrid\n",
            b"name\nMaria da Concei\xE7\xE3o\n",
            b"name\nAnna Gr\xF6\xDF\n",
        ] {
            let (_, name, _) = read_all(latin, "auto");
            assert_eq!(name, "windows-1252");
        }
    }

    #[test]
    fn damaged_utf8_is_not_taken_for_a_legacy_encoding() {
        let (_, name, res) = read_all(b"name,city\nJos\xC3\xA9,Paris\nAnn,Z\xFF\xFEich\n", "auto");
        assert_eq!(name, "UTF-8");
        assert!(res.is_err(), "the bytes pass through untouched, for the reader to name the row");
        let (_, name, _) = read_all(b"name,city\nJos\xE9,Paris\nRen\xE9e,Z\xFCrich\n", "auto");
        assert_eq!(name, "windows-1252");
        // Five GBK names whose second character is valid UTF-8 (伟 is ΰ):
        // read in GBK, not refused as damaged UTF-8.
        let text: String = (0..5).map(|i| format!("p{i}@x.com,张伟{i}\n")).collect();
        let gbk = encoding_rs::GBK.encode(&format!("email,name\n{text}")).0.into_owned();
        let (read, name, res) = read_all(&gbk, "auto");
        assert_eq!(name, "GBK");
        assert!(res.is_ok() && read.contains("张伟4"), "{read}");
    }

    #[test]
    fn binary_files_are_refused() {
        let mut bytes = b"PKsomething".to_vec();
        bytes.extend(std::iter::repeat_n(0u8, 200));
        let err = decode("x.csv", Box::new(Cursor::new(bytes)), "auto", false, None).err().expect("binary");
        assert!(err.to_string().contains("binary"), "{err}");
    }

    #[test]
    fn malformed_bytes_are_an_error_with_their_line() {
        let mut bytes = encoding_rs::GBK.encode("a,b\n张,伟\n").0.into_owned();
        bytes.extend_from_slice(b"x,\xFF\xFF\n");
        let d = decode("t", Box::new(Cursor::new(bytes)), "gbk", false, None).expect("opens");
        let mut r = d.reader;
        let mut s = String::new();
        let err = r.read_to_string(&mut s).expect_err("malformed");
        let inner = err.get_ref().and_then(|e| e.downcast_ref::<DecodeError>()).expect("a DecodeError");
        assert_eq!((inner.line, inner.offset, inner.bytes.as_slice()), (3, 12, &[0xFF][..]));
        assert!(inner.to_string().contains("not valid GBK"), "{inner}");
    }

    #[test]
    fn encoder_writes_utf16_with_one_byte_order_mark() {
        for (enc, bom) in [(encoding_rs::UTF_16LE, [0xff, 0xfe]), (encoding_rs::UTF_16BE, [0xfe, 0xff])] {
            let mut out = Encoder::new(Vec::new(), enc);
            // A character split across writes, as writers may split it.
            let text = "名,é\n𠀀\n".as_bytes();
            out.write_all(&text[..2]).expect("writes");
            out.write_all(&text[2..]).expect("writes");
            assert_eq!(out.inner[..2], bom);
            assert_eq!(enc.decode_without_bom_handling(&out.inner[2..]).0, "名,é\n𠀀\n");
            // One given by the writer (--bom) is not doubled.
            let mut out = Encoder::new(Vec::new(), enc);
            out.write_all("\u{feff}a".as_bytes()).expect("writes");
            assert_eq!(out.inner.len(), 4);
            assert_eq!(out.inner[..2], bom);
        }
    }

    #[test]
    fn encoder_refuses_unmappable() {
        let mut out = Encoder::new(Vec::new(), encoding_rs::GBK);
        out.write_all("张伟".as_bytes()).expect("gbk has it");
        assert_eq!(out.inner, encoding_rs::GBK.encode("张伟").0.into_owned());
        let mut out = Encoder::new(Vec::new(), encoding_rs::WINDOWS_1252);
        assert!(out.write_all("张".as_bytes()).is_err());
    }
}
