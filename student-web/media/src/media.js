// Browser media for the studio, bundled with livekit-client (esbuild → dist/media.js, global
// `StudioMedia`). The broadcast page publishes the teacher's microphone (and camera when asked) and
// records the microphone locally; the watch page subscribes and plays what the teacher sends.
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
  room.on(RoomEvent.TrackSubscribed, (track) => {
    if (track.kind === Track.Kind.Audio || track.kind === Track.Kind.Video) {
      const el = track.attach();
      el.dataset.kind = track.kind;
      container.appendChild(el);
      if (onTrack) onTrack(track.kind);
    }
  });
  room.on(RoomEvent.TrackUnsubscribed, (track) => track.detach().forEach((el) => el.remove()));
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

/** Record the local microphone with MediaRecorder; `stop()` resolves to the recording Blob. */
export function recordMicrophone(room) {
  const pub = [...room.localParticipant.audioTrackPublications.values()][0];
  if (!pub || !pub.track) throw new Error('no microphone is published');
  const stream = new MediaStream([pub.track.mediaStreamTrack]);
  const type = MediaRecorder.isTypeSupported('audio/webm;codecs=opus') ? 'audio/webm;codecs=opus' : '';
  const recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
  const chunks = [];
  const startedAt = new Date().toISOString();
  recorder.ondataavailable = (e) => e.data.size && chunks.push(e.data);
  recorder.start(1000);
  return {
    startedAt,
    stop: () =>
      new Promise((resolve) => {
        recorder.onstop = () => resolve(new Blob(chunks, { type: recorder.mimeType || 'audio/webm' }));
        recorder.stop();
      }),
  };
}

/** Upload a recording for the session (same-origin: the login cookie authenticates). */
export async function uploadRecording(sessionId, blob, startedAt) {
  const resp = await fetch(`/api/sessions/${sessionId}/recordings`, {
    method: 'POST',
    headers: {
      'Content-Type': blob.type || 'audio/webm',
      'Idempotency-Key': `recording-${sessionId}-${startedAt}`,
      'X-Recording-Started-At': startedAt,
    },
    body: blob,
  });
  if (!resp.ok) throw new Error(`upload failed: ${resp.status} ${await resp.text()}`);
  return resp.json();
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
