#!/usr/bin/env bash
# A second software GPU, private to this checkout: Mesa 25's lavapipe (Debian 13's
# mesa-vulkan-drivers) in .cache/lavapipe, with a copy of this machine's node patched to load
# Debian 13's glibc from there. Nothing is installed system-wide.
#
# Why: it is the one device here on which both sides of the engine benchmark run. Dawn (npm
# `webgpu`) accepts it and offers `shader-f16` and `subgroups` on it; llama.cpp's Vulkan backend
# runs on it (SwiftShader lacks the 16-bit storage llama.cpp needs; Debian 12's Mesa 22.3
# lavapipe lacks what Dawn needs). Used by `npm run bench` and by the shader-f16 tests.
#
# Usage: scripts/lavapipe.sh         build it if missing (idempotent; ~70 MB of .debs)
#        .cache/lavapipe/env node ... run a command with VK_ICD_FILENAMES set to lavapipe
# Exits 0 when .cache/lavapipe/node runs and sees the lavapipe adapter; 1 otherwise, saying why.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dir=$PWD/.cache/lavapipe
root=$dir/root
lib=$root/usr/lib/x86_64-linux-gnu

if [[ -x $dir/node && -f $dir/ok && $dir/ok -nt "$(command -v node)" ]]; then exit 0; fi
if [[ $(uname -m) != x86_64 ]]; then echo "lavapipe: only built for x86_64" >&2; exit 1; fi
command -v patchelf >/dev/null || { echo "lavapipe: patchelf is missing (Debian package patchelf; scripts/setup.sh installs it)" >&2; exit 1; }

rm -rf "$dir" && mkdir -p "$dir/apt/lists/partial" "$dir/apt/archives/partial" "$dir/debs"
# The Debian mirror this machine's apt already uses (deb822 .sources or one-line lists): the
# first main-archive URI (not -security, not a third-party repository), asked for trixie.
mirror=$(shopt -s nullglob
  for f in /etc/apt/sources.list.d/*.sources; do awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' "$f"; done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] && awk '$1 == "deb" { print ($2 ~ /^\[/ ? $3 : $2) }' "$f"; done
  true)
mirror=$(grep -E '/debian/?$' <<<"$mirror" | head -1 || true)
[[ -n $mirror ]] || { echo "lavapipe: no Debian archive in this machine's apt sources (/etc/apt/sources.list*)" >&2; exit 1; }
echo "deb ${mirror%/} trixie main" >"$dir/apt/sources.list"
# A private apt state: the machine's own package lists and sources are never touched.
apt=(-o "Dir::Etc::sourcelist=$dir/apt/sources.list" -o Dir::Etc::sourceparts=-
  -o "Dir::State::Lists=$dir/apt/lists" -o "Dir::Cache=$dir/apt" -o Dir::State::status=/dev/null
  -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
echo "lavapipe: fetching Debian 13 lavapipe and its libraries into $dir"
apt-get "${apt[@]}" update -q >"$dir/apt.log" 2>&1 || { cat "$dir/apt.log" >&2; exit 1; }
pkgs=(mesa-vulkan-drivers libvulkan1 libc6 libstdc++6 libgcc-s1 libllvm19 libdrm2 libdrm-amdgpu1
  libelf1t64 libzstd1 libwayland-client0 libxcb1 libxcb-dri3-0 libxcb-present0 libxcb-randr0
  libxcb-shm0 libxcb-sync1 libxcb-xfixes0 libx11-xcb1 libx11-6 libxshmfence1 libexpat1 zlib1g
  libffi8 libedit2 libz3-4 libxml2 libicu76 liblzma5 libbz2-1.0 libtinfo6 libbsd0 libmd0 libxau6 libxdmcp6)
(cd "$dir/debs" && apt-get "${apt[@]}" download -q "${pkgs[@]}" >>"$dir/apt.log" 2>&1) || { tail -5 "$dir/apt.log" >&2; exit 1; }
for deb in "$dir"/debs/*.deb; do dpkg -x "$deb" "$root"; done
rm -rf "$dir/debs" "$dir/apt"

cat >"$dir/lvp_icd.json" <<EOF
{"file_format_version": "1.0.1", "ICD": {"library_path": "$lib/libvulkan_lvp.so", "api_version": "1.4.309"}}
EOF
# node with Debian 13's loader and glibc; its children (process.execPath) get the same.
cp "$(command -v node)" "$dir/node"
patchelf --set-interpreter "$lib/ld-linux-x86-64.so.2" --force-rpath --set-rpath "$lib:$root/lib/x86_64-linux-gnu" "$dir/node"
cat >"$dir/env" <<EOF
#!/usr/bin/env bash
# Run a command on lavapipe: "node" in it is the patched node beside this file.
export VK_ICD_FILENAMES=$dir/lvp_icd.json PATH=$dir/bin:\$PATH
exec "\$@"
EOF
mkdir -p "$dir/bin" && ln -sf "$dir/node" "$dir/bin/node" && chmod +x "$dir/env"

probe='const { create, globals } = await import("webgpu"); Object.assign(globalThis, globals);
const a = await create([]).requestAdapter(); if (!a?.info.description.includes("llvmpipe")) process.exit(1);
console.log(a.info.description, a.features.has("shader-f16") ? "shader-f16" : "no shader-f16");'
if desc=$("$dir/env" node --input-type=module -e "$probe" 2>/dev/null); then
  echo "lavapipe: ready ($desc)"
  touch "$dir/ok"
else
  echo "lavapipe: built, but Dawn sees no lavapipe adapter through $dir/node" >&2
  exit 1
fi
