"""Join a LiveKit room with a token and try to publish a microphone track, with the official
Python SDK (PyPI `livekit`, a client we did not write). Prints one JSON line:
{"connected": bool, "published": bool, "error": str|null}."""
import asyncio
import json
import sys

from livekit import rtc


async def main(url: str, token: str) -> None:
    room = rtc.Room()
    out = {"connected": False, "published": False, "error": None}
    try:
        await asyncio.wait_for(room.connect(url, token), timeout=15)
        out["connected"] = True
        source = rtc.AudioSource(48000, 1)
        track = rtc.LocalAudioTrack.create_audio_track("mic", source)
        opts = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        await asyncio.wait_for(room.local_participant.publish_track(track, opts), timeout=15)
        out["published"] = True
    except Exception as e:  # the refusal is what some callers expect
        out["error"] = f"{type(e).__name__}: {e}"
    finally:
        try:
            await room.disconnect()
        except Exception:
            pass
    print(json.dumps(out), flush=True)


asyncio.run(main(sys.argv[1], sys.argv[2]))
