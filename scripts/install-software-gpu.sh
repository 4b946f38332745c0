#!/usr/bin/env bash
# Installs Mesa's software Vulkan driver (lavapipe) so that Dawn (the `webgpu` npm package) finds an
# adapter on a machine without a GPU. Bookworm's Mesa 22.x lacks a feature Dawn needs, so the driver
# and the Vulkan loader come from bookworm-backports (Mesa 25.x). The mirror is read from the
# machine's own apt sources: no host name is written here.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

have_lavapipe() {
  dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | grep -qE '^(2[3-9]|[3-9][0-9])\.'
}
if have_lavapipe; then
  echo "software Vulkan already installed: mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
  exit 0
fi

codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
list=/etc/apt/sources.list.d/slimllm-backports.sources
if ! grep -rqs "${codename}-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  # Take the first Debian mirror URI the machine already uses.
  uri=$(grep -rhoE '^URIs:\s*\S+/debian/?\s*$' /etc/apt/sources.list.d/ 2>/dev/null | head -1 | awk '{print $2}')
  if [ -z "$uri" ]; then
    uri=$(grep -hoE '^deb\s+(\[[^]]*\]\s+)?\S+/debian/?\s' /etc/apt/sources.list 2>/dev/null | head -1 | awk '{print $NF}')
  fi
  [ -n "$uri" ] || { echo "no Debian mirror found in the apt sources; add ${codename}-backports yourself" >&2; exit 1; }
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  {
    echo "Types: deb"
    echo "URIs: ${uri}"
    echo "Suites: ${codename}-backports"
    echo "Components: main"
    [ -f "$keyring" ] && echo "Signed-By: ${keyring}"
  } | $SUDO tee "$list" >/dev/null
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -t "${codename}-backports" \
  mesa-vulkan-drivers libvulkan1 >/dev/null
echo "installed mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
