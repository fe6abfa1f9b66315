//! The live sockets of a session on this node, written to by a few writer tasks rather than each by
//! a task of its own. A committed event reaches a writer once (one broadcast receiver per writer, not
//! per socket); the writer puts the event's frame on each of its sockets in one loop, without
//! waiting on any of them. A socket it cannot serve at once — its own task is using it (catching up,
//! a ping, a resume), it is behind (a gap or a lag), or its send buffer is full — is left to that
//! task: the writer pokes it, and it finishes the send or catches up from the store, as a lagging
//! socket always has. So a slow socket never holds the others back, and the hot path costs one
//! lock attempt and one `send` a socket, not a task woken and polled per socket per event.

use crate::fanout::{Fanout, Published};
use crate::metrics::Metrics;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use futures::stream::SplitSink;
use futures::Sink as _;
use shared_types::SessionId;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, Notify, OwnedMutexGuard};

/// Sockets a writer serves (by default; `LIVE_SEATS_PER_WRITER`): 5,000 sockets of one class are five
/// writers, which the runtime spreads over its worker threads, and a writer's pass over its sockets
/// (≈ 10 µs a socket, nearly all of it the kernel's TCP send) holds a worker for ≈ 10 ms at most.
/// bench-fanout measured 256, 1,024 and 4,096 within the machine's noise of each other.
pub const SEATS_PER_WRITER: usize = 1024;

pub type Sink = SplitSink<WebSocket, Message>;

/// A socket's sending side and how far along the session's log it has been sent.
pub struct Line {
    pub sink: Sink,
    /// The last sequence sent (or handed to the socket to send).
    pub last: u64,
    /// A writer left frames in the socket's buffer: its task must flush them.
    pub unflushed: bool,
    /// A writer's send failed: the connection is gone.
    pub broken: bool,
}

/// One socket in a room: its line, which its own task or a writer holds, and the poke a writer
/// gives the task when it could not serve the socket.
pub struct Seat {
    line: Arc<tokio::sync::Mutex<Line>>,
    poke: Notify,
}

impl Seat {
    /// The line, waiting for a writer that is using it (a writer holds it for one send at most).
    pub async fn line(&self) -> OwnedMutexGuard<Line> {
        self.line.clone().lock_owned().await
    }

    /// Resolves when a writer left this socket to its task (a permit is kept if nobody waits).
    pub async fn poked(&self) {
        self.poke.notified().await
    }
}

/// The sockets one writer task serves; `stop` ends the task once the last of them has left.
struct Writer {
    seats: Mutex<Vec<Arc<Seat>>>,
    stop: Notify,
}

/// Every session's writers on this node.
pub struct Rooms {
    rooms: Mutex<HashMap<SessionId, Vec<Arc<Writer>>>>,
    seats_per_writer: usize,
}

/// A socket's place in its session's room: leaves the room when dropped.
pub struct Place {
    rooms: Arc<Rooms>,
    session: SessionId,
    writer: Arc<Writer>,
    pub seat: Arc<Seat>,
}

impl Drop for Place {
    fn drop(&mut self) {
        self.rooms.leave(self.session, &self.writer, &self.seat);
    }
}

impl Rooms {
    pub fn new(seats_per_writer: usize) -> Self {
        Rooms { rooms: Mutex::default(), seats_per_writer: seats_per_writer.max(1) }
    }

    /// Seat a socket that has been sent everything up to `last`. It is subscribed from here on;
    /// its line comes back held, so no writer sends to it before its task has caught up from the
    /// store (events a writer could not send meanwhile poke it, and it catches up again).
    pub fn join(
        self: &Arc<Self>,
        fanout: &Arc<Fanout>,
        metrics: &Arc<Metrics>,
        session: SessionId,
        sink: Sink,
        last: u64,
    ) -> (Place, OwnedMutexGuard<Line>) {
        let line = Arc::new(tokio::sync::Mutex::new(Line { sink, last, unflushed: false, broken: false }));
        let held = line.clone().try_lock_owned().expect("a new line is free");
        let seat = Arc::new(Seat { line, poke: Notify::new() });
        let mut rooms = self.rooms.lock().expect("rooms");
        let writers = rooms.entry(session).or_default();
        let free = writers.iter().find(|w| w.seats.lock().expect("seats").len() < self.seats_per_writer).cloned();
        let writer = free.unwrap_or_else(|| {
            let w = Arc::new(Writer { seats: Mutex::default(), stop: Notify::new() });
            writers.push(w.clone());
            // Subscribed under the rooms' lock: the socket joining misses nothing committed from now.
            let rx = fanout.subscribe(session);
            tokio::spawn(write(w.clone(), rx, fanout.clone(), metrics.clone(), session));
            w
        });
        writer.seats.lock().expect("seats").push(seat.clone());
        (Place { rooms: self.clone(), session, writer, seat }, held)
    }

    fn leave(&self, session: SessionId, writer: &Arc<Writer>, seat: &Arc<Seat>) {
        let mut rooms = self.rooms.lock().expect("rooms");
        let mut seats = writer.seats.lock().expect("seats");
        seats.retain(|s| !Arc::ptr_eq(s, seat));
        if !seats.is_empty() {
            return;
        }
        drop(seats);
        writer.stop.notify_one();
        if let Some(writers) = rooms.get_mut(&session) {
            writers.retain(|w| !Arc::ptr_eq(w, writer));
            if writers.is_empty() {
                rooms.remove(&session);
            }
        }
    }
}

/// One event ready to go out: its frame built once, shared by every socket.
struct Ready {
    sequence: u64,
    message: Message,
    recorded_at: chrono::DateTime<chrono::Utc>,
    delivered: u64,
}

/// A writer task: every event published for the session goes to each of its sockets.
async fn write(
    writer: Arc<Writer>,
    mut rx: broadcast::Receiver<Published>,
    fanout: Arc<Fanout>,
    metrics: Arc<Metrics>,
    session: SessionId,
) {
    let mut batch: Vec<Ready> = Vec::new();
    'events: loop {
        let first = tokio::select! {
            biased;
            _ = writer.stop.notified() => break,
            got = rx.recv() => got,
        };
        // This event and any others already waiting go out together (one flush a socket).
        let mut got = Some(first);
        while let Some(g) = got.take() {
            match g {
                Ok(p) => match Utf8Bytes::try_from(p.text) {
                    Ok(text) => batch.push(Ready {
                        sequence: p.sequence,
                        message: Message::Text(text),
                        recorded_at: p.recorded_at,
                        delivered: 0,
                    }),
                    // Not sent: sockets see a gap and catch up from the store.
                    Err(e) => tracing::error!(error = %e, sequence = p.sequence, "an event frame is not UTF-8"),
                },
                // Missed some: the sockets see a gap in what follows and catch up from the store.
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break 'events,
            }
            got = match rx.try_recv() {
                Ok(p) => Some(Ok(p)),
                Err(TryRecvError::Lagged(n)) => Some(Err(RecvError::Lagged(n))),
                Err(TryRecvError::Closed) => Some(Err(RecvError::Closed)),
                Err(TryRecvError::Empty) => None,
            };
        }
        let seats = writer.seats.lock().expect("seats").clone();
        // Outside tokio's budget: it allows a task 128 socket operations a turn and then fails the
        // rest as not ready, which would leave most of the sockets to their tasks. The pass is
        // bounded (its seats, once each); the task yields at its next wait for an event.
        let refed = tokio::task::unconstrained(std::future::poll_fn(|_| {
            Poll::Ready(seats.iter().map(|seat| serve(seat, &mut batch) as u64).sum::<u64>())
        }))
        .await;
        let now = chrono::Utc::now();
        for r in batch.drain(..) {
            metrics.fanout_lag.observe_many((now - r.recorded_at).to_std().unwrap_or_default(), r.delivered);
        }
        metrics.ws_refed(refed);
    }
    drop(rx);
    fanout.release(session);
}

/// Put the batch's events this socket has not had on it, without waiting. Returns whether the
/// socket is left to catch up from the store (a gap, or its send buffer full).
fn serve(seat: &Seat, batch: &mut [Ready]) -> bool {
    let Ok(mut line) = seat.line.try_lock() else {
        // Its task has it: it looks at the store when done.
        seat.poke.notify_one();
        return false;
    };
    if line.broken || line.unflushed {
        seat.poke.notify_one();
        return false;
    }
    let mut cx = Context::from_waker(Waker::noop());
    let mut sent = false;
    let mut behind = false;
    for r in batch.iter_mut() {
        if r.sequence <= line.last {
            continue;
        }
        if r.sequence != line.last + 1 {
            behind = true;
            break;
        }
        let sink = Pin::new(&mut line.sink);
        match sink.poll_ready(&mut cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(_)) => {
                line.broken = true;
                break;
            }
            // Its buffer is still full (or its reader holds the socket): its task sends the rest.
            Poll::Pending => {
                behind = true;
                break;
            }
        }
        if Pin::new(&mut line.sink).start_send(r.message.clone()).is_err() {
            line.broken = true;
            break;
        }
        line.last = r.sequence;
        r.delivered += 1;
        sent = true;
    }
    if sent && !line.broken {
        match Pin::new(&mut line.sink).poll_flush(&mut cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(_)) => line.broken = true,
            // The socket's send buffer is full: its task finishes the send, then reads the store.
            Poll::Pending => {
                line.unflushed = true;
                behind = true;
            }
        }
    }
    let left = behind || line.broken || line.unflushed;
    drop(line);
    if left {
        seat.poke.notify_one();
    }
    behind
}
