#!/usr/bin/env bash
# Installs the S3 server the S3 tests start on 127.0.0.1: s3s-fs from crates.io, which serves
# a folder over the S3 REST API and checks request signatures. Built once (about 3 minutes on
# two cores) into ~/.cache/segsql/tools, outside the clone, and reused after. 0.14.1 is the
# last release this toolchain builds (later ones need Rust 1.96). Prints the binary's path.
set -euo pipefail
root="${SEGSQL_TOOLS:-$HOME/.cache/segsql/tools}/s3s-fs"
if [ ! -x "$root/bin/s3s-fs" ]; then
    CARGO_TARGET_DIR="$HOME/.cache/segsql/s3s-build" \
        cargo install s3s-fs@0.14.1 --features binary --locked --root "$root" >&2
fi
echo "$root/bin/s3s-fs"
