#!/usr/bin/env bash
# Cross-builds the module for every platform its users build Caddy on (one
# `go build ./...` per OS/arch pair, sharing the build cache), then vets it,
# test files included, on three of them. Prints the wall and CPU time of
# each step. Run from anywhere: ./.ci/crossbuild.sh
set -euo pipefail
cd "$(dirname "$0")/.."

pairs="linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 freebsd/amd64 freebsd/arm64 openbsd/amd64 openbsd/arm64 windows/amd64 windows/arm64"
vets="linux/amd64 darwin/arm64 windows/amd64"

total=$SECONDS
for pair in $pairs; do
	TIMEFORMAT="crossbuild: go build ./... for $pair: %0Rs (CPU %0Us user, %0Ss system)"
	time GOOS="${pair%/*}" GOARCH="${pair#*/}" go build ./...
done
for pair in $vets; do
	TIMEFORMAT="crossbuild: go vet ./... for $pair: %0Rs (CPU %0Us user, %0Ss system)"
	time GOOS="${pair%/*}" GOARCH="${pair#*/}" go vet ./...
done
echo "crossbuild: $(wc -w <<<"$pairs") builds and $(wc -w <<<"$vets") vets in $((SECONDS - total))s"
