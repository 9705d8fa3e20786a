//! Live fan-out over NATS JetStream: `record --publish nats://host:4222` publishes every
//! normalized event the engine applied, every closed candle, every source state change and every
//! fired alert to one JetStream stream; the `nats` source reads it back in a monitor elsewhere.
//!
//! # Stream
//! `TICKWATCH` (file storage, subjects `tickwatch.>`, a 2-minute duplicate window), created at
//! the publisher's start when it does not exist.
//!
//! # Subjects
//! | subject                               | payload `type` | what                              |
//! |---------------------------------------|----------------|-----------------------------------|
//! | `tickwatch.trade.<venue>.<symbol>`    | `trade`        | a trade                           |
//! | `tickwatch.quote.<venue>.<symbol>`    | `quote`        | best bid and offer                |
//! | `tickwatch.kline.<venue>.<symbol>`    | `kline`        | a venue's candle (open or closed) |
//! | `tickwatch.stats.<venue>.<symbol>`    | `stats`        | rolling 24 h statistics           |
//! | `tickwatch.candle.<venue>.<symbol>`   | `candle`       | a candle the engine closed, with its indicator values |
//! | `tickwatch.alert.<venue>.<symbol>`    | `alert`        | a fired alert                     |
//! | `tickwatch.state.<source>`            | `state`        | a source's state changed          |
//!
//! `<venue>` is `binance`, `binance-futures`, `coinbase`, `alphavantage` or `sim`. `<symbol>`
//! is the symbol with `.` written as `~` (a dot separates subject tokens): `BRK.B` is `BRK~B`.
//!
//! # Payload
//! JSON lines, one object per event, see [`payload::Wire`]; times are milliseconds since the
//! epoch. Messages of trades are protobuf `tickwatch.TradeBatch` instead ([`binary`], with a
//! `Content-Type` header saying so) unless `[nats] trade_format = "json"`.
//! Every message carries a `Nats-Msg-Id` header, so a publish retried after a lost
//! acknowledgement is stored once; a message of trades has the id
//! `<subject>.<first trade id>.<last trade id>.<count>`. Two recorders publishing the same
//! symbol group their trades differently, so the stream keeps both copies: the `nats` source
//! drops a trade whose venue, symbol and id it read already, and counts it.

pub mod binary;
pub mod payload;
pub mod publisher;
pub mod subject;
pub mod url;

/// The stream tickwatch publishes to and reads from by default.
pub const DEFAULT_STREAM: &str = "TICKWATCH";
