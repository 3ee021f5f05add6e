#!/usr/bin/env bash
# Installs the Debian 12 packages flinkguard needs. Idempotent; quiet when all are present.
#   packaging/install-deps.sh          build dependencies (compiler, CMake, libraries)
#   packaging/install-deps.sh --test   build dependencies plus the real servers the tests start
set -euo pipefail

build_pkgs=(
  g++ cmake ninja-build pkg-config git ca-certificates
  prometheus-cpp-dev libcivetweb-dev libcurl4-openssl-dev rapidjson-dev libzookeeper-mt-dev
  libsqlite3-dev libspdlog-dev libfmt-dev doctest-dev libyaml-cpp-dev libcli11-dev libexpected-dev
  libjemalloc-dev
  libsystemd-dev
)
# systemd: systemd-analyze (unit checks) and systemd-sysusers/-tmpfiles (the .deb's postinst);
# dpkg-dev: dpkg-shlibdeps, which computes the .deb's dependencies; groff-base: renders the man
# page with every warning on.
test_pkgs=(python3 curl prometheus prometheus-alertmanager zookeeper python3-kazoo wrk systemd dpkg-dev
  groff-base)

pkgs=("${build_pkgs[@]}")
if [[ "${1:-}" == "--test" ]]; then pkgs+=("${test_pkgs[@]}"); fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "installing: ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
