"""Join a LiveKit room with a token and publish a microphone track, with the official Python SDK (PyPI
`livekit`, a client we did not write): a real WebRTC publisher, as a browser would be.
Usage: lk_speak.py URL TOKEN [WAV [LINGER_S]].
With a WAV it speaks the file into the track in real time, then stays in the room LINGER_S seconds (3 if
not given; "stdin": until stdin closes), so an egress can finish. Without one it publishes a silent track
and leaves: enough to see whether the server grants publishing (a refusal is what some callers expect).
Prints {"event": "published"} once the track is published, and last one JSON line:
{"connected": bool, "published": bool, "seconds": float, "error": str|null}."""
import asyncio
import json
import sys
import wave

from livekit import rtc


async def speak(source: rtc.AudioSource, pcm: bytes, rate: int, channels: int, out: dict) -> None:
    # 10 ms frames; capture_frame paces itself to real time.
    step = rate // 100
    frame_bytes = step * channels * 2
    for i in range(0, len(pcm), frame_bytes):
        chunk = pcm[i:i + frame_bytes]
        if len(chunk) < frame_bytes:
            chunk = chunk + b"\0" * (frame_bytes - len(chunk))
        await source.capture_frame(rtc.AudioFrame(chunk, rate, channels, step))
        out["seconds"] += step / rate
    await source.wait_for_playout()


async def main(url: str, token: str, path: str | None, linger: str) -> None:
    room = rtc.Room()
    out = {"connected": False, "published": False, "seconds": 0.0, "error": None}
    try:
        await asyncio.wait_for(room.connect(url, token), timeout=15)
        out["connected"] = True
        rate, channels, pcm = 48000, 1, b""
        if path:
            with wave.open(path, "rb") as w:
                rate, channels = w.getframerate(), w.getnchannels()
                assert w.getsampwidth() == 2, "16-bit WAV"
                pcm = w.readframes(w.getnframes())
        source = rtc.AudioSource(rate, channels)
        track = rtc.LocalAudioTrack.create_audio_track("microphone", source)
        opts = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        await asyncio.wait_for(room.local_participant.publish_track(track, opts), timeout=15)
        out["published"] = True
        print(json.dumps({"event": "published"}), flush=True)
        if path:
            await speak(source, pcm, rate, channels, out)
            if linger == "stdin":
                await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
            else:
                await asyncio.sleep(float(linger))
    except Exception as e:
        out["error"] = f"{type(e).__name__}: {e}"
    finally:
        try:
            await room.disconnect()
        except Exception:
            pass
    print(json.dumps(out), flush=True)


args = sys.argv[1:]
asyncio.run(main(args[0], args[1], args[2] if len(args) > 2 else None, args[3] if len(args) > 3 else "3"))
