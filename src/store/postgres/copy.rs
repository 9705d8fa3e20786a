//! PostgreSQL's binary COPY format, written straight into one buffer and sent in large
//! pieces.
//!
//! `postgres::binary_copy::BinaryCopyInWriter` encodes each value through `dyn ToSql` and
//! hands the connection a message every 4 KB, each one a turn of the client's runtime. A
//! replay sends tens of megabytes this way. Here a row is a few big-endian writes into a
//! `Vec`, and the connection gets a message every [`CHUNK`] bytes, so the client spends its
//! time encoding and the server is never kept waiting.
//!
//! Format (PostgreSQL docs, "COPY", Binary Format): the signature `PGCOPY\n\377\r\n\0`, a
//! 32-bit flags field and a 32-bit header-extension length; then per row a 16-bit field count
//! and per field a 32-bit length (-1 for NULL) and the value in its binary send format; then a
//! 16-bit -1.

use std::io::Write;

use postgres::CopyInWriter;

/// Bytes gathered before they are sent to the server.
const CHUNK: usize = 256 * 1024;

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 00:00:00 UTC).
const PG_EPOCH_US: i64 = 946_684_800_000_000;

/// One binary COPY in progress: rows are written field by field and [`CopyOut::finish`] ends
/// it.
pub struct CopyOut<'a> {
    sink: CopyInWriter<'a>,
    buf: Vec<u8>,
    /// Rows started, to compare with the count the server gives at the end.
    rows: u64,
    /// A send failed with an error that is not the client's (see `send`).
    broken: Option<String>,
}

impl<'a> CopyOut<'a> {
    pub fn new(sink: CopyInWriter<'a>) -> CopyOut<'a> {
        let mut buf = Vec::with_capacity(CHUNK + 4096);
        buf.extend_from_slice(SIGNATURE);
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags: no OIDs
        buf.extend_from_slice(&0i32.to_be_bytes()); // no header extension
        CopyOut {
            sink,
            buf,
            rows: 0,
            broken: None,
        }
    }

    /// Starts a row of `fields` values; exactly that many field writes must follow.
    pub fn row(&mut self, fields: i16) -> Result<(), postgres::Error> {
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        self.buf.extend_from_slice(&fields.to_be_bytes());
        self.rows += 1;
        Ok(())
    }

    pub fn text(&mut self, s: &str) {
        // A text value longer than 2 GiB cannot be a field; PostgreSQL's limit is 1 GiB.
        let len = i32::try_from(s.len()).unwrap_or(i32::MAX);
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(s.as_bytes());
    }

    pub fn int8(&mut self, v: i64) {
        self.buf.extend_from_slice(&8i32.to_be_bytes());
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn float8(&mut self, v: f64) {
        self.buf.extend_from_slice(&8i32.to_be_bytes());
        self.buf.extend_from_slice(&v.to_bits().to_be_bytes());
    }

    /// A `timestamptz` at `ms` since the Unix epoch.
    pub fn timestamptz_ms(&mut self, ms: i64) {
        let us = ms.saturating_mul(1000).saturating_sub(PG_EPOCH_US);
        self.int8(us);
    }

    fn send(&mut self) -> Result<(), postgres::Error> {
        if self.broken.is_some() {
            self.buf.clear();
            return Ok(());
        }
        let sent = self
            .sink
            .write_all(&self.buf)
            .and_then(|()| self.sink.flush());
        self.buf.clear();
        let Err(e) = sent else { return Ok(()) };
        // The client's writer hands its own error back wrapped in an io::Error.
        let shown = e.to_string();
        match e
            .into_inner()
            .map(|inner| inner.downcast::<postgres::Error>())
        {
            Some(Ok(pg)) => Err(*pg),
            _ => {
                // Not the client's error: nothing more is sent, and `finish` reports it.
                self.broken = Some(shown);
                Ok(())
            }
        }
    }

    /// Sends what is left and the trailer, and ends the COPY; returns the rows the server took.
    pub fn finish(mut self) -> Result<u64, postgres::Error> {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.send()?;
        let taken = self.sink.finish()?;
        if let Some(why) = self.broken {
            // The client ended a COPY whose data it failed to send: its contract is broken,
            // and carrying on would store part of a batch as if it were all of it.
            panic!("the PostgreSQL client accepted a COPY it could not send ({why})");
        }
        if taken != self.rows {
            tracing::error!(
                sent = self.rows,
                taken,
                "storage: PostgreSQL took a different number of COPY rows than were sent"
            );
        }
        Ok(taken)
    }
}
