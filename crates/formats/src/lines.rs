//! Line counting for the parsers that read through `Read`/`BufRead` and do
//! not report positions of their own between records (JSON, XML).

use std::io::{self, BufRead, Read};

/// Counts the lines of whatever the wrapped reader hands out, by either
/// interface, so `line` is always the line of the next unread byte.
pub(crate) struct LineCounter<R> {
    inner: R,
    pub line: u64,
}

impl<R: BufRead> LineCounter<R> {
    pub fn new(inner: R) -> Self {
        Self { inner, line: 1 }
    }

    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Skips whitespace and returns the next byte without consuming it.
    pub fn peek(&mut self) -> io::Result<Option<u8>> {
        loop {
            let Some(&b) = self.inner.fill_buf()?.first() else { return Ok(None) };
            if !b.is_ascii_whitespace() {
                return Ok(Some(b));
            }
            self.consume(1);
        }
    }
}

impl<R: BufRead> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.line += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for LineCounter<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        if let Ok(buf) = self.inner.fill_buf() {
            let n = amt.min(buf.len());
            self.line += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
        }
        self.inner.consume(amt);
    }
}
