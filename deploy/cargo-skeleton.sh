#!/bin/sh
# Writes into DEST the part of the workspace that decides what the dependencies are: the root
# Cargo.toml and Cargo.lock, every member's Cargo.toml, and a placeholder (`fn main() {}`) at the
# path of every build target cargo knows of (libraries, binaries, tests, benches, examples,
# build scripts). Building that skeleton compiles every dependency and none of our code.
#
# The image build (deploy/Dockerfile) builds the skeleton in a layer of its own: as long as no
# manifest, no target and no lock changes, that layer is reused and only our crates compile.
#
# Usage, from the workspace root: sh deploy/cargo-skeleton.sh DEST
# Needs cargo (for `cargo metadata --no-deps`, which reads only local manifests).
set -eu

dest=${1:?usage: cargo-skeleton.sh DEST}
root=$(pwd -P)
if [ ! -f "$root/Cargo.toml" ] || [ ! -f "$root/Cargo.lock" ]; then
  echo "cargo-skeleton.sh: run it from the workspace root (Cargo.toml and Cargo.lock)" >&2
  exit 2
fi

mkdir -p "$dest"
cp "$root/Cargo.toml" "$root/Cargo.lock" "$dest/"
for extra in rust-toolchain.toml rust-toolchain .cargo/config.toml .cargo/config; do
  if [ -f "$root/$extra" ]; then
    mkdir -p "$dest/$(dirname "$extra")"
    cp "$root/$extra" "$dest/$extra"
  fi
done

metadata=$(cargo metadata --no-deps --format-version 1 --offline --manifest-path "$root/Cargo.toml")

# `"key":"value"` pairs of cargo's one-line JSON, value only, relative to the workspace root.
paths_of() {
  printf '%s' "$metadata" \
    | grep -o "\"$1\":\"[^\"]*\"" \
    | sed "s/^\"$1\":\"//; s/\"\$//" \
    | sort -u
}

paths_of manifest_path | while IFS= read -r manifest; do
  relative=${manifest#"$root"/}
  if [ "$relative" != Cargo.toml ]; then
    mkdir -p "$dest/$(dirname "$relative")"
    cp "$manifest" "$dest/$relative"
  fi
done

paths_of src_path | while IFS= read -r source; do
  relative=${source#"$root"/}
  mkdir -p "$dest/$(dirname "$relative")"
  # A valid crate root of every kind: a binary's `main`, and in a library an unused function.
  printf 'fn main() {}\n' > "$dest/$relative"
done
