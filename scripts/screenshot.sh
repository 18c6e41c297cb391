#!/usr/bin/env bash
# Regenerates the README pictures from the real app, offscreen.
#   scripts/screenshot.sh [MODEL.gguf] [OUT.png]   docs/screenshot.png: the trained tiny model loaded, a reply streamed
#   scripts/screenshot.sh --welcome [OUT.png]      docs/welcome.png: the first-run welcome page (no model anywhere)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh" >/dev/null
app="${BUILD_DIR:-$root/build}/bin/peregrine"
if [[ ${1:-} == --welcome ]]; then
  out=${2:-$root/docs/welcome.png}
  # An empty home, so none of this machine's models are found and the user's settings and logs stay untouched;
  # the catalogue is the one next to the program (share/peregrine/catalog.json in the build tree).
  home=$(mktemp -d)
  trap 'rm -rf "$home"' EXIT
  env -u PEREGRINE_CATALOG -u XDG_DATA_HOME -u XDG_CONFIG_HOME -u XDG_CACHE_HOME -u XDG_STATE_HOME HOME="$home" \
    QT_QPA_PLATFORM=offscreen "$app" --screenshot "$out"
else
  model=${1:-$root/../shared/models/stories260K-q8_0.gguf}
  out=${2:-$root/docs/screenshot.png}
  QT_QPA_PLATFORM=offscreen "$app" --model "$model" --screenshot "$out" --prompt "Once upon a time"
fi
echo "wrote $out"
