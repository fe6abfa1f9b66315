#!/usr/bin/env bash
# What a test run left behind: `leftovers.sh RUN_ID TMPDIR` lists the processes still running that
# carry STUDIO_TEST_RUN=RUN_ID in their environment (everything the run started inherits it), kills
# them, and lists what is left in the run's own temp dir, then removes it. Exit 1 when anything was
# left, so a test that does not clean up after itself fails the run (scripts/test.sh calls it last).
set -uo pipefail
run=$1
tmp=${2:-}
left=0
me=$$
for p in /proc/[0-9]*; do
  pid=${p#/proc/}
  [ "$pid" = "$me" ] && continue
  # Our own ancestors (test.sh, .ci/run) carry the marker too: they are not left-overs.
  anc=$me is_anc=0
  while [ "$anc" -gt 1 ] 2>/dev/null; do
    [ "$anc" = "$pid" ] && { is_anc=1; break; }
    anc=$(awk '{print $4}' "/proc/$anc/stat" 2>/dev/null || echo 1)
  done
  [ "$is_anc" = 1 ] && continue
  if { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qx "STUDIO_TEST_RUN=$run"; then
    echo "left running: pid $pid: $({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | cut -c1-200)"
    left=1
    kill -KILL "$pid" 2>/dev/null || true
  fi
done
if [ -n "$tmp" ] && [ -d "$tmp" ]; then
  if [ -n "$(ls -A "$tmp" 2>/dev/null)" ]; then
    echo "left in the temp dir ($tmp):"
    ls -A "$tmp" | sed 's/^/  /' | head -40
    left=1
  fi
  rm -rf "$tmp"
fi
[ "$left" = 0 ] && echo "nothing left running, nothing left in the temp dir"
exit "$left"
