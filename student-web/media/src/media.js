// Browser media for the studio, bundled with livekit-client (esbuild → dist/media.js, global
// `StudioMedia`). The present view publishes the teacher's microphone (and camera when asked) and
// records what it sends in slices that survive a closed tab; the room subscribes and plays it.
import { Room, RoomEvent, Track } from 'livekit-client';

function stateReporter(room, onState) {
  const report = () => onState && onState(room.state);
  room.on(RoomEvent.ConnectionStateChanged, report);
  room.on(RoomEvent.Reconnecting, report);
  room.on(RoomEvent.Reconnected, report);
  room.on(RoomEvent.Disconnected, report);
  return report;
}

/** Connect and publish the microphone (and camera if `camera` is true). */
export async function broadcast({ url, token, camera = false, onState }) {
  const room = new Room({ adaptiveStream: false, dynacast: true });
  const report = stateReporter(room, onState);
  await room.connect(url, token);
  report();
  await room.localParticipant.setMicrophoneEnabled(true);
  if (camera) await room.localParticipant.setCameraEnabled(true);
  return room;
}

/** Connect and attach every remote audio/video track into `container`. */
export async function watch({ url, token, container, onState, onTrack }) {
  const room = new Room({ adaptiveStream: true });
  const report = stateReporter(room, onState);
  // The element of each attached track: livekit-client may detach a track itself before it says
  // it was unsubscribed, so its own list can be empty by then.
  const shown = new Map();
  room.on(RoomEvent.TrackSubscribed, (track) => {
    if (track.kind === Track.Kind.Audio || track.kind === Track.Kind.Video) {
      const el = track.attach();
      shown.set(track.sid, el);
      el.dataset.kind = track.kind;
      el.dataset.source = track.source; // camera, microphone, screen_share
      container.appendChild(el);
      if (onTrack) onTrack(track.kind);
    }
  });
  room.on(RoomEvent.TrackUnsubscribed, (track) => {
    track.detach().forEach((el) => el.remove());
    if (shown.has(track.sid)) shown.get(track.sid).remove();
    shown.delete(track.sid);
  });
  await room.connect(url, token);
  report();
  return room;
}

/** Audio bytes received so far on every subscribed track (WebRTC inbound-rtp stats). */
export async function inboundAudioBytes(room) {
  let total = 0;
  for (const p of room.remoteParticipants.values()) {
    for (const pub of p.audioTrackPublications.values()) {
      const receiver = pub.track && pub.track.receiver;
      if (!receiver) continue;
      const stats = await receiver.getStats();
      stats.forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'audio') total += s.bytesReceived || 0;
      });
    }
  }
  return total;
}

// ---- The class recording: slices kept in this browser until the server has them ----
// MediaRecorder hands a slice every few seconds; each is written to IndexedDB first (with the
// upload's next part number, in one transaction), then sent as that part of one resumable upload,
// and deleted here only once the server answered for it. Offline, slices queue and go up in order
// when the network returns; a reloaded or reopened page resumes the same upload (a new recorder
// run, marked on its first part). What the page never completes, the server finishes after the
// class ended from the parts it holds.

const DB_NAME = 'studio-recordings';

function request(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error('the browser refused to store the recording'));
  });
}

let dbOpen;
function db() {
  dbOpen = dbOpen || new Promise((resolve, reject) => {
    const r = indexedDB.open(DB_NAME, 1);
    r.onupgradeneeded = () => {
      // uploads: one per session {sessionId, key, uploadId?, startedAt, nextN};
      // parts: slices not yet acknowledged {key, n, blob, runStartedAt?}.
      r.result.createObjectStore('uploads', { keyPath: 'sessionId' });
      r.result.createObjectStore('parts', { keyPath: ['key', 'n'] });
    };
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  return dbOpen;
}

async function loadUpload(sessionId) {
  const d = await db();
  return request(d.transaction('uploads').objectStore('uploads').get(sessionId));
}

async function saveUpload(up) {
  const d = await db();
  const tx = d.transaction('uploads', 'readwrite');
  tx.objectStore('uploads').put(up);
  await done(tx);
}

/** The upload's slices still here, lowest part first. */
async function waitingParts(key) {
  const d = await db();
  const range = IDBKeyRange.bound([key, 0], [key, Infinity]);
  return request(d.transaction('parts').objectStore('parts').getAll(range));
}

async function forgetParts(key, ns) {
  const d = await db();
  const tx = d.transaction('parts', 'readwrite');
  for (const n of ns) tx.objectStore('parts').delete([key, n]);
  await done(tx);
}

async function forgetUpload(up) {
  const d = await db();
  const tx = d.transaction(['uploads', 'parts'], 'readwrite');
  tx.objectStore('uploads').delete(up.sessionId);
  tx.objectStore('parts').delete(IDBKeyRange.bound([up.key, 0], [up.key, Infinity]));
  await done(tx);
}

/** One session's upload: keeps its parts here and sends them, in order, until the server has them. */
class Uploader {
  constructor(up, onStatus) {
    this.up = up;
    this.onStatus = onStatus;
    this.waiting = 0;
    this.offline = false;
    this.finished = null; // the server finished the upload (its recording id) or it was completed
    this.pumping = null;
    this.retry = null;
    this.shows = null; // what the recorder records now: 'camera', 'screen' or 'audio'
  }

  path(tail = '') {
    return `/api/sessions/${this.up.sessionId}/recordings/uploads${this.up.uploadId ? `/${this.up.uploadId}` : ''}${tail}`;
  }

  status(extra = {}) {
    const saved = Math.max(0, this.up.nextN - 1 - this.waiting);
    if (this.onStatus) this.onStatus({ saved, waiting: this.waiting, offline: this.offline, uploadId: this.up.uploadId || null, finished: this.finished, shows: this.shows || null, ...extra });
  }

  /** Make sure the server has an upload (the same one for the same key: the POST is idempotent). */
  async ensureStarted() {
    if (this.up.uploadId) return;
    const resp = await fetch(this.path(), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': this.up.key },
      body: JSON.stringify({ startedAt: this.up.startedAt }),
    });
    if (!resp.ok) throw Object.assign(new Error(`starting the upload: HTTP ${resp.status}`), { status: resp.status });
    this.up.uploadId = (await resp.json()).uploadId;
    await saveUpload(this.up);
  }

  /** After a reload: forget the slices the server already has (sent, but not yet deleted here). */
  async reconcile() {
    if (!this.up.uploadId) return;
    const resp = await fetch(this.path());
    if (!resp.ok) return;
    const listing = await resp.json();
    if (listing.recordingId) this.finished = listing.recordingId;
    const sizes = new Map(listing.parts.map((p) => [p.n, p.sizeBytes]));
    const here = await waitingParts(this.up.key);
    await forgetParts(this.up.key, here.filter((p) => sizes.get(p.n) === p.blob.size).map((p) => p.n));
  }

  /** Keep a slice (the upload's next part), then send what waits. */
  async add(blob, runStartedAt) {
    const d = await db();
    const tx = d.transaction(['uploads', 'parts'], 'readwrite');
    const part = { key: this.up.key, n: this.up.nextN, blob };
    if (runStartedAt) part.runStartedAt = runStartedAt;
    this.up.nextN += 1;
    tx.objectStore('parts').put(part);
    tx.objectStore('uploads').put(this.up);
    await done(tx);
    this.pump();
  }

  /** Send the waiting parts in order; resolves when none waits or the network failed (retried later). */
  pump() {
    if (this.pumping) return this.pumping;
    this.pumping = (async () => {
      clearTimeout(this.retry);
      try {
        await this.ensureStarted();
        for (;;) {
          const parts = await waitingParts(this.up.key);
          this.waiting = parts.length;
          if (!parts.length || this.finished) break;
          this.status();
          const p = parts[0];
          const headers = { 'Idempotency-Key': `${this.up.key}/part-${p.n}`, 'Content-Type': 'application/octet-stream' };
          if (p.runStartedAt) headers['X-Run-Started-At'] = p.runStartedAt;
          const resp = await fetch(this.path(`/parts/${p.n}`), { method: 'PUT', headers, body: p.blob });
          if (resp.status === 409) {
            // The class ended and the server finished the recording from what it had.
            const problem = await resp.json().catch(() => ({}));
            this.finished = (problem.details && problem.details.recordingId) || 'finished';
            break;
          }
          if (!resp.ok) throw Object.assign(new Error(`sending part ${p.n}: HTTP ${resp.status}`), { status: resp.status });
          await forgetParts(this.up.key, [p.n]);
          this.offline = false;
        }
        this.offline = false;
      } catch (e) {
        // The network or the server is away: keep everything, try again soon.
        this.offline = true;
        this.retry = setTimeout(() => this.pump(), 2000);
      } finally {
        this.pumping = null;
        this.status();
      }
    })();
    return this.pumping;
  }

  /** Send everything, then join the parts into the recording; its answer, or null if parts still wait. */
  async complete() {
    await this.pump();
    if (this.waiting || this.offline) return null;
    const resp = await fetch(this.path('/complete'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': `${this.up.key}/complete` },
      body: '{}',
    });
    const json = await resp.json().catch(() => ({}));
    if (resp.ok || resp.status === 409) {
      await forgetUpload(this.up);
      uploaders.delete(this.up.sessionId);
      this.finished = json.id || this.finished || 'finished';
      this.status();
      return resp.ok ? json : { finishedByServer: true, message: json.message };
    }
    throw Object.assign(new Error(json.message || `completing the recording: HTTP ${resp.status}`), { problem: json });
  }
}

// One uploader per session in this page, so two never send the same parts.
const uploaders = new Map();

async function uploaderFor(sessionId, onStatus, startedAt) {
  let u = uploaders.get(sessionId);
  if (u) {
    u.onStatus = onStatus || u.onStatus;
    return u;
  }
  let up = await loadUpload(sessionId);
  const resumed = !!up;
  if (!up) {
    up = { sessionId, key: `recording-${sessionId}-${crypto.randomUUID()}`, uploadId: null, startedAt, nextN: 1 };
    await saveUpload(up);
  }
  u = new Uploader(up, onStatus);
  uploaders.set(sessionId, u);
  if (resumed) await u.reconcile().catch(() => {});
  return u;
}

/** Send what an earlier page of this session left in this browser (after a reload or a crash). */
export async function flushPending(sessionId, onStatus) {
  if (!(await loadUpload(sessionId))) return false;
  const u = await uploaderFor(sessionId, onStatus, null);
  await u.pump();
  return true;
}

/** What the recording shows: the microphone, and the screen while it is shared, else the camera
 * when it is on. */
function recordedTracks(lp, leaving = null) {
  const live = (source) => {
    const pub = lp.getTrackPublication(source);
    // An unpublished track may still be listed (and live) while its event is being handled.
    if (leaving && pub && pub.trackSid === leaving.trackSid) return null;
    const t = pub && pub.track && pub.track.mediaStreamTrack;
    return t && t.readyState === 'live' ? t : null;
  };
  const audio = live(Track.Source.Microphone);
  if (!audio) throw new Error('no microphone is published');
  const video = live(Track.Source.ScreenShare) || live(Track.Source.Camera);
  return { tracks: video ? [audio, video] : [audio], shows: video ? (live(Track.Source.ScreenShare) ? 'screen' : 'camera') : 'audio' };
}

/** Record what the teacher sends in slices of `sliceMs`, each kept in IndexedDB and sent as the
 * next part of the session's upload. A MediaRecorder cannot change its tracks, so when the screen
 * share starts or stops (here or from the browser's own "Stop sharing") the recorder is replaced:
 * its last slice is kept, and the next recorder's first part starts a new run at its own second.
 * `stop()` sends what is left and completes the upload: the recording's answer, or `{waiting}` when
 * parts could not be sent yet. */
export async function recordClass(room, { sessionId, sliceMs = 3000, onStatus } = {}) {
  const lp = room.localParticipant;
  recordedTracks(lp); // no microphone: refuse before anything is kept
  const u = await uploaderFor(sessionId, onStatus, new Date().toISOString());
  // Slices are kept strictly in order, one after the other, across recorders.
  let kept = Promise.resolve();
  let recorder = null;
  let shows = null;
  let stopped = false;
  const start = (leaving = null) => {
    const now = recordedTracks(lp, leaving);
    const video = now.tracks.length > 1;
    const types = video ? ['video/webm;codecs=vp8,opus', 'video/webm'] : ['audio/webm;codecs=opus', 'audio/webm'];
    const mimeType = types.find((t) => MediaRecorder.isTypeSupported(t));
    const r = new MediaRecorder(new MediaStream(now.tracks), {
      ...(mimeType ? { mimeType } : {}),
      audioBitsPerSecond: 64000,
      ...(video ? { videoBitsPerSecond: now.shows === 'screen' ? 1000000 : 500000 } : {}),
    });
    // Each recorder's first slice says when it started (the server ignores it on part 1).
    let runStartedAt = new Date().toISOString();
    r.ondataavailable = (e) => {
      if (!e.data || !e.data.size) return;
      const run = runStartedAt;
      runStartedAt = null;
      kept = kept.then(() => u.add(e.data, run)).catch((err) => u.status({ error: String((err && err.message) || err) }));
    };
    r.start(sliceMs);
    recorder = r;
    shows = now.shows;
    u.shows = shows;
    u.status({ recording: true });
  };
  const finish = (r) =>
    new Promise((resolve) => {
      if (r.state === 'inactive') return resolve();
      r.onstop = resolve;
      r.stop();
    });
  // Replacing the recorder waits for the one before it; replacements never overlap.
  let switching = Promise.resolve();
  const follow = (leaving) => (pub) => {
    if (pub.source !== Track.Source.ScreenShare && pub.source !== Track.Source.Camera) return;
    switching = switching.then(async () => {
      if (stopped) return;
      let next;
      try {
        next = recordedTracks(lp, leaving ? pub : null).shows;
      } catch (e) {
        return; // the microphone is gone: the room is closing
      }
      if (next === shows) return;
      await finish(recorder);
      if (!stopped) start(leaving ? pub : null);
    });
  };
  const [published, unpublished] = [follow(false), follow(true)];
  room.on(RoomEvent.LocalTrackPublished, published);
  room.on(RoomEvent.LocalTrackUnpublished, unpublished);
  start();
  return {
    startedAt: u.up.startedAt,
    uploader: u,
    shows: () => shows,
    stop: () => {
      stopped = true;
      room.off(RoomEvent.LocalTrackPublished, published);
      room.off(RoomEvent.LocalTrackUnpublished, unpublished);
      return switching
        .then(() => finish(recorder))
        .then(() => kept)
        .then(() => u.complete())
        .then((answer) => answer || { waiting: u.waiting });
    },
  };
}

/** Share the screen (or stop): LiveKit publishes it as the teacher's screen track; the recording
 * follows (see `recordClass`). Resolves to whether the screen is shared now. */
export async function shareScreen(room, on) {
  const pub = await room.localParticipant.setScreenShareEnabled(on, { audio: false });
  return !!(on && pub && pub.track);
}

/** POST JSON to the API with a fresh Idempotency-Key. */
export async function api(path, body) {
  const resp = await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID() },
    body: JSON.stringify(body),
  });
  const json = await resp.json().catch(() => ({}));
  if (!resp.ok) throw Object.assign(new Error(json.message || `HTTP ${resp.status}`), { problem: json });
  return json;
}
