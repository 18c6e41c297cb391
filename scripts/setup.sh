#!/usr/bin/env bash
# Installs the Debian 12 packages Peregrine builds against. Idempotent: skips apt when all are present.
set -euo pipefail
packages=(
  cmake ninja-build ccache g++ pkg-config
  qt6-base-dev libgl-dev          # Qt 6 Core/Widgets/Test; CMake's Qt6Gui needs the OpenGL headers
  libspdlog-dev libsqlite3-dev nlohmann-json3-dev libcli11-dev libpcre2-dev
  libcpp-httplib-dev libcurl4-openssl-dev curl   # server (cpp-httplib), model downloads (libcurl), tests' HTTP client
  lintian desktop-file-utils appstream dpkg-dev file   # checks of the .deb in the packaging tests
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
