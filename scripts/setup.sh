#!/usr/bin/env bash
# Set up readaloud in ./.venv: system packages (when missing) and the Python package.
# Usage: scripts/setup.sh [EXTRAS]   e.g. scripts/setup.sh test
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"

# PortAudio + the ALSA plugins reach PulseAudio/PipeWire; pulseaudio-utils gives pactl/parec.
packages=(python3-venv libportaudio2 libasound2-plugins libsndfile1 pulseaudio-utils)
# xclip reads the selection and clipboard; gcc + headers build evdev (pulled in by pynput).
packages+=(xclip gcc python3-dev)
# Documents: Poppler's pdftotext lays out PDF pages; Tesseract reads scanned ones.
packages+=(poppler-utils tesseract-ocr tesseract-ocr-eng)
# The reader page offers OpenDyslexic (served from Debian's font folder).
packages+=(fonts-opendyslexic)
if [[ "$extras" == *test* ]]; then
  packages+=(pulseaudio)
  # Desktop tests: Xvfb + xdotool, the clipboard tools, sway for Wayland, systemd-analyze.
  packages+=(xvfb xdotool xclip xsel sway wl-clipboard systemd)
  # Browser extension tests: Debian's Chromium, driven over its DevTools pipe.
  packages+=(chromium)
  # The same extension in Firefox ESR, driven over WebDriver BiDi.
  packages+=(firefox-esr)
  # Speech Dispatcher tests: the real speech-dispatcher and spd-say drive sd_readaloud.
  packages+=(speech-dispatcher)
  # Orca tests and the screen-reader benchmark: Orca on Xvfb (at-spi comes with it), zenity
  # dialogs to type into, a session bus, and speechd's espeak-ng module as the baseline.
  packages+=(orca at-spi2-core zenity dbus-daemon dbus-x11 speech-dispatcher-espeak-ng)
  # Document tests make real files: groff typesets PDFs, pandoc writes EPUB, DOCX and ODT,
  # img2pdf makes scans of pdftoppm's page images, qpdf encrypts and empties PDFs.
  packages+=(groff pandoc img2pdf qpdf)
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
    echo "readaloud setup: please run: apt-get install ${missing[*]}" >&2; exit 1
  fi
  echo "readaloud setup: installing ${missing[*]}" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -U pip
spec="."
[[ -n "$extras" ]] && spec=".[$extras]"
.venv/bin/python -m pip install -q --disable-pip-version-check -e "$spec"
