//! `--redis redis://HOST:PORT/DB`: every record to Redis, the bus Suricata's EVE output,
//! Logstash, Vector and Filebeat already speak: RPUSH onto a list, PUBLISH on a channel, or
//! XADD to a stream capped with `MAXLEN ~ N`.
//!
//! The analysis never waits for the network: records go into a bounded in-memory queue that
//! a sender thread empties in batches (one RPUSH with many values, or a pipeline). When the
//! server goes away the thread reconnects with exponential backoff, keeping the batch it
//! was sending; while it is away the queue fills, and a record that finds it full is counted
//! as dropped. At the end the queue is given `drain_timeout` to empty, and what is left is
//! dropped too, so every record is either acknowledged by the server or counted, in
//! `capture_stats.outputs.redis` and on stderr. A batch whose reply was lost with the
//! connection is sent again after reconnecting (at least once: a restart can duplicate it).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redis::{Client, Connection, ErrorKind, RedisError};
use thiserror::Error;

use super::delivery::{Delivery, NamedDelivery};
use super::sink::{EcsSink, Event, NdjsonSink, Sink, SinkError};
use super::warn;

/// Records sent in one command (RPUSH) or one pipeline (PUBLISH, XADD).
const BATCH: usize = 256;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// A server that accepts the connection but answers nothing for this long is treated as
/// gone (the batch is kept and sent again).
const IO_TIMEOUT: Duration = Duration::from_secs(5);
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Default queue size in records: at ~1 KiB a finding, about 10 MiB; a minute of a busy
/// sensor's output.
pub const DEFAULT_QUEUE: usize = 10_000;
/// Default approximate length cap of a stream (`XADD ... MAXLEN ~ N`).
pub const DEFAULT_STREAM_MAXLEN: u64 = 100_000;
/// Default time the queue gets to empty at the end of a run.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How records reach the key.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisMode {
    /// RPUSH onto a list (Logstash's `data_type => "list"`, Vector's `data_type = "list"`).
    List,
    /// PUBLISH on a channel (only subscribers connected at the time get it).
    Channel,
    /// XADD to a stream, capped with `MAXLEN ~ N`, one field `record`.
    Stream,
}

#[derive(Debug, Clone)]
pub struct RedisConfig {
    pub url: String,
    pub key: String,
    pub mode: RedisMode,
    /// Records the queue holds before new ones are dropped.
    pub queue: usize,
    pub stream_maxlen: u64,
    pub drain_timeout: Duration,
}

#[derive(Debug, Error)]
pub enum RedisOutputError {
    #[error("redis {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: RedisError,
    },
    #[error("redis {url}: starting the sender thread: {source}")]
    Thread {
        url: String,
        #[source]
        source: std::io::Error,
    },
}

/// The URL without its password, for messages.
pub fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}

struct Queue {
    records: VecDeque<Vec<u8>>,
    /// Taken by the sender thread and not yet acknowledged.
    in_flight: u64,
    delivered: u64,
    dropped: u64,
    /// Set by `close`: the sender gives up on what is left after this moment.
    deadline: Option<Instant>,
    /// The server is away (the sender is reconnecting): waiting for the queue to drain
    /// would only stall the analysis.
    down: bool,
}

impl Queue {
    fn delivery(&self) -> Delivery {
        Delivery {
            delivered: self.delivered,
            dropped: self.dropped,
            queued: self.records.len() as u64 + self.in_flight,
            truncated: 0,
        }
    }
}

struct Shared {
    queue: Mutex<Queue>,
    /// Wakes the sender: a record arrived or the end came.
    work: Condvar,
    /// Wakes `settle`: the queue may be empty.
    idle: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic on the sender thread leaves the counters as they were: still usable.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The producer's side: `push` never blocks on the network.
pub struct RedisSender {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    url: String,
    capacity: usize,
    drain_timeout: Duration,
    /// Whether a drop was reported since the queue last had room.
    warned_full: bool,
}

impl RedisSender {
    /// Connect once (a wrong URL or an absent server is an error now, not a silent loss
    /// later), then start the sender thread.
    pub fn connect(config: RedisConfig) -> Result<Self, RedisOutputError> {
        let url = redacted(&config.url);
        let connect_err = |source| RedisOutputError::Connect {
            url: url.clone(),
            source,
        };
        let client = Client::open(config.url.as_str()).map_err(connect_err)?;
        let conn = open(&client).map_err(connect_err)?;
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                records: VecDeque::new(),
                in_flight: 0,
                delivered: 0,
                dropped: 0,
                deadline: None,
                down: false,
            }),
            work: Condvar::new(),
            idle: Condvar::new(),
        });
        let capacity = config.queue.max(1);
        let drain_timeout = config.drain_timeout;
        let worker = Worker {
            shared: Arc::clone(&shared),
            client,
            conn: Some(conn),
            url: url.clone(),
            config,
        };
        let thread = std::thread::Builder::new()
            .name("redis-sender".into())
            .spawn(move || worker.run())
            .map_err(|source| RedisOutputError::Thread {
                url: url.clone(),
                source,
            })?;
        Ok(RedisSender {
            shared,
            thread: Some(thread),
            url,
            capacity,
            drain_timeout,
            warned_full: false,
        })
    }

    /// The URL, without a password.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Queue one record (a JSON document, no newline), or count it as dropped when the
    /// queue is full.
    pub fn push(&mut self, record: Vec<u8>) {
        let mut q = self.shared.lock();
        let waiting = q.records.len() as u64 + q.in_flight;
        if waiting >= self.capacity as u64 {
            q.dropped += 1;
            let dropped = q.dropped;
            drop(q);
            if !self.warned_full {
                self.warned_full = true;
                warn(&format!(
                    "redis {}: queue full ({} records): dropping records until the server \
                     takes them again ({dropped} dropped so far)",
                    self.url, self.capacity
                ));
            }
            return;
        }
        q.records.push_back(record);
        drop(q);
        self.warned_full = false;
        self.shared.work.notify_one();
    }

    /// Wait (at most `timeout`) until every queued record is acknowledged or dropped; not
    /// at all while the server is away (a capture of many files with `--each-file` would
    /// otherwise wait at the end of each).
    pub fn settle(&self, timeout: Duration) {
        let until = Instant::now() + timeout;
        let mut q = self.shared.lock();
        while q.records.len() as u64 + q.in_flight > 0 && !q.down {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            q = match self.shared.idle.wait_timeout(q, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    pub fn delivery(&self) -> Delivery {
        self.shared.lock().delivery()
    }

    /// Give the queue `drain_timeout` to empty, stop the thread, and return the final
    /// counters (nothing is left queued: what was not delivered is dropped).
    pub fn close(&mut self) -> Delivery {
        let deadline = Instant::now() + self.drain_timeout;
        self.shared.lock().deadline = Some(deadline);
        self.shared.work.notify_all();
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                let mut q = self.shared.lock();
                let lost = q.records.len() as u64 + q.in_flight;
                q.dropped += lost;
                q.records.clear();
                q.in_flight = 0;
            }
        }
        self.delivery()
    }
}

impl Drop for RedisSender {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.close();
        }
    }
}

/// Every record of the run to Redis: the NDJSON records (findings, `tls_flow` with
/// `--flows`, roll-ups, `capture_stats`), or with `--format ecs` the ECS documents.
pub struct RedisSink {
    sender: RedisSender,
    ecs: bool,
    flows: bool,
    buf: Vec<u8>,
}

impl RedisSink {
    pub fn new(sender: RedisSender, ecs: bool, flows: bool) -> Self {
        RedisSink {
            sender,
            ecs,
            flows,
            buf: Vec::new(),
        }
    }
}

impl Sink for RedisSink {
    fn lines_are_enough(&self) -> bool {
        !self.ecs && !self.flows
    }

    fn wants_ndjson(&self) -> bool {
        !self.ecs
    }

    fn event(&mut self, capture: &str, ev: &Event<'_>) -> Result<(), SinkError> {
        self.buf.clear();
        if self.ecs {
            EcsSink::new(&mut self.buf, self.flows).event(capture, ev)?;
        } else {
            NdjsonSink::new(&mut self.buf, self.flows).event(capture, ev)?;
        }
        for line in self.buf.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            self.sender.push(line.to_vec());
        }
        Ok(())
    }

    fn settle(&mut self) {
        self.sender.settle(self.sender.drain_timeout);
    }

    fn delivery(&self) -> Option<NamedDelivery> {
        Some(("redis", self.sender.delivery()))
    }

    fn close(&mut self) -> Result<(), SinkError> {
        let d = self.sender.close();
        if d.dropped > 0 {
            warn(&format!(
                "redis {}: {} of {} records not delivered",
                self.sender.url(),
                d.dropped,
                d.total()
            ));
        }
        Ok(())
    }
}

fn open(client: &Client) -> Result<Connection, RedisError> {
    let conn = client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
    conn.set_read_timeout(Some(IO_TIMEOUT))?;
    conn.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(conn)
}

/// Whether sending again later can succeed: the connection broke, or the server is
/// restarting (loading its data set) or failing over.
fn worth_retrying(e: &RedisError) -> bool {
    e.is_io_error()
        || matches!(
            e.kind(),
            ErrorKind::BusyLoadingError
                | ErrorKind::TryAgain
                | ErrorKind::ClusterDown
                | ErrorKind::MasterDown
                | ErrorKind::ReadOnly
        )
}

/// The sender thread.
struct Worker {
    shared: Arc<Shared>,
    client: Client,
    conn: Option<Connection>,
    url: String,
    config: RedisConfig,
}

impl Worker {
    fn run(mut self) {
        let mut batch: Vec<Vec<u8>> = Vec::new();
        let mut backoff = MIN_BACKOFF;
        let mut down_since: Option<Instant> = None;
        loop {
            if batch.is_empty() && !self.take(&mut batch) {
                return;
            }
            if self.past_deadline() {
                self.give_up(&mut batch);
                return;
            }
            let result = match self.conn.as_mut() {
                Some(conn) => send(conn, &self.config, &batch),
                None => match open(&self.client) {
                    Ok(conn) => {
                        self.conn = Some(conn);
                        continue;
                    }
                    Err(e) => Err(e),
                },
            };
            match result {
                Ok(()) => {
                    if let Some(since) = down_since.take() {
                        warn(&format!(
                            "redis {}: reconnected after {:.1} s",
                            self.url,
                            since.elapsed().as_secs_f64()
                        ));
                    }
                    backoff = MIN_BACKOFF;
                    self.shared.lock().down = false;
                    self.settled(&mut batch, true);
                }
                Err(e) if worth_retrying(&e) => {
                    self.conn = None;
                    self.shared.lock().down = true;
                    // Wake a `settle` that waits for a queue that will not drain now.
                    self.shared.idle.notify_all();
                    if down_since.is_none() {
                        down_since = Some(Instant::now());
                        warn(&format!(
                            "redis {}: {e}; reconnecting (records wait in a queue of {})",
                            self.url, self.config.queue
                        ));
                    }
                    self.pause(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(e) => {
                    warn(&format!(
                        "redis {}: the server refused {} records: {e}",
                        self.url,
                        batch.len()
                    ));
                    self.settled(&mut batch, false);
                }
            }
        }
    }

    /// Wait for records and take a batch; false once the queue is empty and closing.
    fn take(&self, batch: &mut Vec<Vec<u8>>) -> bool {
        let mut q = self.shared.lock();
        loop {
            if !q.records.is_empty() {
                let n = q.records.len().min(BATCH);
                batch.extend(q.records.drain(..n));
                q.in_flight = n as u64;
                return true;
            }
            if q.deadline.is_some() {
                return false;
            }
            q = match self.shared.work.wait(q) {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
        }
    }

    fn past_deadline(&self) -> bool {
        self.shared
            .lock()
            .deadline
            .is_some_and(|d| Instant::now() >= d)
    }

    /// The batch is done with: acknowledged, or refused for good.
    fn settled(&self, batch: &mut Vec<Vec<u8>>, delivered: bool) {
        let mut q = self.shared.lock();
        let n = batch.len() as u64;
        if delivered {
            q.delivered += n;
        } else {
            q.dropped += n;
        }
        q.in_flight = 0;
        batch.clear();
        if q.records.is_empty() {
            self.shared.idle.notify_all();
        }
    }

    /// The end came with the server still away: the batch and the queue are dropped.
    fn give_up(&self, batch: &mut Vec<Vec<u8>>) {
        let mut q = self.shared.lock();
        let lost = batch.len() as u64 + q.records.len() as u64;
        q.dropped += lost;
        q.records.clear();
        q.in_flight = 0;
        batch.clear();
        self.shared.idle.notify_all();
        drop(q);
        if lost > 0 {
            warn(&format!(
                "redis {}: server unreachable at the end: {lost} records dropped",
                self.url
            ));
        }
    }

    /// Sleep before the next attempt, or until the end is announced (then the deadline
    /// decides).
    fn pause(&self, d: Duration) {
        let q = self.shared.lock();
        if q.deadline.is_none() {
            let _ = self.shared.work.wait_timeout(q, d);
        } else {
            drop(q);
            std::thread::sleep(d.min(Duration::from_millis(200)));
        }
    }
}

fn send(conn: &mut Connection, config: &RedisConfig, batch: &[Vec<u8>]) -> Result<(), RedisError> {
    match config.mode {
        RedisMode::List => redis::cmd("RPUSH")
            .arg(&config.key)
            .arg(batch)
            .query::<i64>(conn)
            .map(|_| ()),
        RedisMode::Channel => {
            let mut pipe = redis::pipe();
            for rec in batch {
                pipe.cmd("PUBLISH").arg(&config.key).arg(rec).ignore();
            }
            pipe.query::<()>(conn)
        }
        RedisMode::Stream => {
            let mut pipe = redis::pipe();
            for rec in batch {
                pipe.cmd("XADD")
                    .arg(&config.key)
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(config.stream_maxlen)
                    .arg("*")
                    .arg("record")
                    .arg(rec)
                    .ignore();
            }
            pipe.query::<()>(conn)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redacted("redis://:secret@10.0.0.1:6379/2"),
            "redis://***@10.0.0.1:6379/2"
        );
        assert_eq!(redacted("redis://127.0.0.1/0"), "redis://127.0.0.1/0");
    }

    #[test]
    fn an_absent_server_is_an_error_at_the_start() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = RedisSender::connect(RedisConfig {
            url: format!("redis://127.0.0.1:{port}/0"),
            key: "k".into(),
            mode: RedisMode::List,
            queue: 10,
            stream_maxlen: 10,
            drain_timeout: Duration::from_millis(10),
        })
        .err()
        .expect("nothing listens there");
        assert!(err.to_string().contains(&port.to_string()), "{err}");
        assert!(RedisSender::connect(RedisConfig {
            url: "http://x".into(),
            key: "k".into(),
            mode: RedisMode::List,
            queue: 10,
            stream_maxlen: 10,
            drain_timeout: Duration::from_millis(10),
        })
        .is_err());
    }
}
