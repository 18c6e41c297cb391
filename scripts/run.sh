#!/usr/bin/env bash
# Sets up, builds and starts Peregrine. With a display: the desktop app. Without one: a real generation
# with peregrine-cli on a model found on disk, or the next step to get one.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh"
bin="${BUILD_DIR:-$root/build}/bin"
if { [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; } && [ -x "$bin/peregrine" ]; then
  exec "$bin/peregrine" "$@"
fi
model=${PEREGRINE_MODEL:-}
if [ -z "$model" ]; then
  for candidate in "$root/../shared/models/stories260K-q8_0.gguf" "${XDG_DATA_HOME:-$HOME/.local/share}"/peregrine/models/*.gguf; do
    [ -f "$candidate" ] && { model=$candidate; break; }
  done
fi
if [ -z "$model" ]; then
  echo "No display and no model found. Next step: put a GGUF model file in ${XDG_DATA_HOME:-$HOME/.local/share}/peregrine/models/"
  echo "or run: PEREGRINE_MODEL=/path/to/model.gguf $0"
  exit 1
fi
echo "No display: generating with $model"
exec "$bin/peregrine-cli" generate -m "$model" -p "${PEREGRINE_PROMPT:-Once upon a time}" -n "${PEREGRINE_N:-64}" --temp 0
