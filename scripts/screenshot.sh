#!/usr/bin/env bash
# Regenerates docs/screenshot.png: the real app, offscreen, with the trained tiny model loaded and a
# reply streamed. Usage: scripts/screenshot.sh [MODEL.gguf] [OUT.png]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model=${1:-$root/../shared/models/stories260K-q8_0.gguf}
out=${2:-$root/docs/screenshot.png}
"$root/scripts/setup.sh"
"$root/scripts/build.sh" >/dev/null
QT_QPA_PLATFORM=offscreen "${BUILD_DIR:-$root/build}/bin/peregrine" --model "$model" --screenshot "$out" \
  --prompt "Once upon a time"
echo "wrote $out"
