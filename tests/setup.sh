#!/bin/sh
# Installs what the test suite needs on a fresh Debian machine (idempotent).
# Real components only: OpenSSH sshd, sudo, busybox-static (for tiny local
# container images), ansible-core and tomli-w (parity tests), the kubernetes Python
# client, kubectl (expected present).
set -eu
need=""
command -v /usr/sbin/sshd >/dev/null 2>&1 || need="$need openssh-server"
command -v curl >/dev/null 2>&1 || need="$need curl"
command -v sudo >/dev/null 2>&1 || need="$need sudo"
[ -x /bin/busybox ] || need="$need busybox-static"
if [ -n "$need" ]; then
    echo "setup: installing$need" >&2
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
fi
mkdir -p /run/sshd 2>/dev/null || true
if ! command -v ansible-inventory >/dev/null 2>&1 || \
   ! ansible-inventory --version 2>/dev/null | grep -q 'core 2.19'; then
    echo "setup: installing ansible-core 2.19" >&2
    python3 -m pip install -q 'ansible-core==2.19.14'
fi
# The official Kubernetes Python client (kube API tests).
if ! python3 -c 'import kubernetes' >/dev/null 2>&1; then
    echo "setup: installing the kubernetes Python client" >&2
    python3 -m pip install -q 'kubernetes==37.0.2'
fi
# ansible-inventory --toml needs tomli-w (parity tests compare TOML output).
if ! python3 -c 'import tomli_w' >/dev/null 2>&1; then
    echo "setup: installing tomli-w" >&2
    python3 -m pip install -q 'tomli-w'
fi
command -v kubectl >/dev/null 2>&1 || echo "setup: warning: kubectl not found; kube API tests will fail" >&2
