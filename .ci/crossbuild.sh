#!/usr/bin/env bash
# Cross-builds the module for every platform its users build Caddy on (one
# `go build ./...` per OS/arch pair, sharing the build cache), then vets it,
# test files included, on three of them. Run from anywhere: ./.ci/crossbuild.sh
set -euo pipefail
cd "$(dirname "$0")/.."

pairs="linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 freebsd/amd64 freebsd/arm64 openbsd/amd64 openbsd/arm64 windows/amd64 windows/arm64"
vets="linux/amd64 darwin/arm64 windows/amd64"

total=$SECONDS
for pair in $pairs; do
	start=$SECONDS
	GOOS="${pair%/*}" GOARCH="${pair#*/}" go build ./...
	echo "crossbuild: go build ./... for $pair: $((SECONDS - start))s"
done
for pair in $vets; do
	start=$SECONDS
	GOOS="${pair%/*}" GOARCH="${pair#*/}" go vet ./...
	echo "crossbuild: go vet ./... for $pair: $((SECONDS - start))s"
done
echo "crossbuild: $(echo $pairs | wc -w) builds and $(echo $vets | wc -w) vets in $((SECONDS - total))s"
