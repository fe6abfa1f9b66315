"""Join a LiveKit room as the teacher and speak a WAV file into a published microphone track, in real
time, with the official Python SDK (PyPI `livekit`): a real WebRTC publisher, as a browser would be.
Usage: lk_speak.py URL TOKEN WAV [LINGER_S]. Prints one JSON line when done:
{"published": bool, "seconds": float, "error": str|null}. Stays in the room LINGER_S seconds after
the speech (so an egress can finish), or until stdin closes when LINGER_S is "stdin"."""
import asyncio
import json
import sys
import wave

from livekit import rtc


async def main(url: str, token: str, path: str, linger: str) -> None:
    room = rtc.Room()
    out = {"published": False, "seconds": 0.0, "error": None}
    try:
        await asyncio.wait_for(room.connect(url, token), timeout=15)
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
        # Speak in 10 ms frames; capture_frame paces itself to real time.
        step = rate // 100
        frame_bytes = step * channels * 2
        for i in range(0, len(pcm), frame_bytes):
            chunk = pcm[i:i + frame_bytes]
            if len(chunk) < frame_bytes:
                chunk = chunk + b"\0" * (frame_bytes - len(chunk))
            frame = rtc.AudioFrame(chunk, rate, channels, step)
            await source.capture_frame(frame)
            out["seconds"] += step / rate
        await source.wait_for_playout()
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


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else "3"))
