#!/usr/bin/env bash
# Remake the `artifacts` of cloud-api/demo/lecture.json (the demo's finished class shows them before
# any worker runs) with the real pipeline and model, after a model or pipeline change. Read the diff
# before committing: artifact-worker/tests/demo_lecture.rs holds them against the lecture's script.
#
# The lecture itself (demo/lecture.ogg) is the "script" of lecture.json spoken by espeak-ng at 150
# words a minute, each part followed by a second of silence (sox), 16 kHz, Opus in Ogg; the slide
# changes are at the parts' starts. SPEAK=1 makes it again from the script first.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/studio-target}
if [ "${SPEAK:-}" = 1 ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 - "$tmp" <<'PY'
import json, subprocess, sys
tmp = sys.argv[1]
path = "cloud-api/demo/lecture.json"
doc = json.load(open(path))
files, start, starts = [], 0.0, []
for i, part in enumerate(doc["script"]):
    raw, out = f"{tmp}/p{i}.wav", f"{tmp}/p{i}-16k.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", raw, part], check=True)
    subprocess.run(["sox", raw, "-r", "16000", "-c", "1", "-b", "16", out, "pad", "0", "1"], check=True)
    starts.append(start)
    start += float(subprocess.check_output(["soxi", "-D", out]))
    files.append(out)
subprocess.run(["sox", *files, f"{tmp}/lecture.wav"], check=True)
subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", f"{tmp}/lecture.wav", "-c:a", "libopus", "-b:a", "24k",
                "cloud-api/demo/lecture.ogg"], check=True)
doc["slides"] = [[max(0.5, int(s * 10) / 10), i + 1] for i, s in enumerate(starts)]
open(path, "w").write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
print(f"spoke {len(files)} parts: {start:.2f} s, slides at {doc['slides']}")
PY
fi
cargo run --release --quiet -p artifact-worker --features bench --bin regenerate-demo -- cloud-api/demo/lecture.json
git --no-pager diff --stat -- cloud-api/demo/ || true
