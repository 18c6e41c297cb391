#!/usr/bin/env bash
# Sets up, builds and runs every test. CUDA tests are built when nvcc exists and skip without a GPU.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
# One CUDA architecture keeps the no-GPU build short; a GPU machine builds for its own card.
"$root/scripts/build.sh" -DPEREGRINE_CUDA_ARCHITECTURES="${PEREGRINE_CUDA_ARCHITECTURES:-90}"
export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
cd "${BUILD_DIR:-$root/build}"
ctest --output-on-failure -j "$(nproc)" --timeout 600
if [ "${PEREGRINE_SKIP_ASAN:-0}" != 1 ]; then
  # The parsers that face hostile input also run under AddressSanitizer + UBSan.
  BUILD_DIR="$root/build-asan" BUILD_TYPE=Debug "$root/scripts/build.sh" -DPEREGRINE_SANITIZE=ON -DPEREGRINE_ENABLE_CUDA=OFF -DPEREGRINE_BUILD_GUI=OFF
  cd "$root/build-asan"
  ctest --output-on-failure -j "$(nproc)" -L asan --timeout 600
fi
