#!/usr/bin/env bash
# Builds Caddy with this module the way a user does: installs xcaddy, clones
# this repository (its HEAD commit) into a temporary folder and runs the
# README's xcaddy command there; then checks that `caddy list-modules` lists
# every module of the source, and that the binary serves the quick-start
# config to curl. It also cross-builds with xcaddy for FreeBSD and macOS.
# Needs git, curl and python3. Run from anywhere: ./.ci/xcaddy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

xcaddy_version=v0.4.5
module=github.com/caddy-pop3/caddy-pop3

total=$SECONDS
start=$SECONDS
go install "github.com/caddyserver/xcaddy/cmd/xcaddy@$xcaddy_version"
xcaddy="$(go env GOPATH)/bin/xcaddy"
echo "xcaddy: installed xcaddy $xcaddy_version in $((SECONDS - start))s"

work="$(mktemp -d)"
server_pid=""
cleanup() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# A clean clone of the commit under test, as a user's checkout.
git clone --quiet --no-checkout "$repo" "$work/src"
git -C "$work/src" checkout --quiet "$(git rev-parse HEAD)"
cd "$work/src"

# The command exactly as README.md gives it.
build_cmd="$(grep -m1 '^xcaddy build ' README.md)"
if [ -z "$build_cmd" ]; then
	echo "xcaddy: README.md has no 'xcaddy build' line" >&2
	exit 1
fi
read -r -a build_args <<<"${build_cmd#xcaddy }"

# The module is not published yet: a lookup of its path on the module
# proxy fails, or is refused. The build replaces it with this folder (the
# `=.` of the command); a local file proxy that answers "no versions" for
# that one path, first in the list, lets the go command settle on the
# replacement without asking anyone else. Every other module comes from the
# usual proxy.
proxy="$work/goproxy"
mkdir -p "$proxy/$module/@v"
: >"$proxy/$module/@v/list"
export GOPROXY="file://$proxy,$(go env GOPROXY)"

start=$SECONDS
"$xcaddy" "${build_args[@]}"
echo "xcaddy: $build_cmd: $((SECONDS - start))s"

# Every module the source registers must be in the binary.
want="$(grep -rhoE --include='*.go' --exclude='*_test.go' '^[[:space:]]+ID:[[:space:]]+"[a-z0-9_.]+",' modules |
	sed -E 's/.*"([^"]+)".*/\1/' | sort -u)"
have="$(./caddy list-modules)"
missing=""
for id in $want; do
	if ! grep -qxF "$id" <<<"$have"; then
		missing="$missing $id"
	fi
done
if [ -n "$missing" ]; then
	echo "xcaddy: ./caddy list-modules lacks:$missing" >&2
	exit 1
fi
echo "xcaddy: ./caddy list-modules lists all $(wc -w <<<"$want") modules of the source:" $want

# The quick start, served by the built binary, read by curl. It listens on
# 127.0.0.1:1110; when something else has that port, a copy of the config
# takes a free one. The admin API gets a free port too, so that another
# Caddy on :2019 does not stop this one.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
listening() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
config=examples/quickstart/Caddyfile
port=1110
if listening "$port"; then
	port="$(free_port)"
	sed "s/127\.0\.0\.1:1110/127.0.0.1:$port/" "$config" >"$work/Caddyfile"
	config="$work/Caddyfile"
	echo "xcaddy: 127.0.0.1:1110 is taken; the quick start listens on $port"
fi
CADDY_ADMIN="127.0.0.1:$(free_port)" ./caddy run --config "$config" >"$work/caddy.log" 2>&1 &
server_pid=$!
for _ in $(seq 300); do # up to 30 s
	if ! kill -0 "$server_pid" 2>/dev/null; then
		echo "xcaddy: the quick-start server exited:" >&2
		cat "$work/caddy.log" >&2
		exit 1
	fi
	if listening "$port"; then
		break
	fi
	sleep 0.1
done
message="$(curl --silent --show-error --max-time 20 "pop3://demo:demo@127.0.0.1:$port/1")"
if ! grep -q '^Subject:' <<<"$message"; then
	echo "xcaddy: curl did not read the welcome message; it got:" >&2
	echo "$message" >&2
	cat "$work/caddy.log" >&2
	exit 1
fi
echo "xcaddy: curl read message 1 of the quick start: $(grep -m1 '^Subject:' <<<"$message" | tr -d '\r')"
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""

# Cross builds. They take the build flags of .ci/crossbuild.sh instead of
# xcaddy's default -trimpath, so that they reuse its build cache rather
# than compiling Caddy twice more.
for pair in freebsd/amd64 darwin/arm64; do
	goos="${pair%/*}" goarch="${pair#*/}"
	start=$SECONDS
	GOOS="$goos" GOARCH="$goarch" XCADDY_GO_BUILD_FLAGS="-ldflags='-w -s'" \
		"$xcaddy" "${build_args[@]}" --output "caddy-$goos-$goarch"
	info="$(go version -m "caddy-$goos-$goarch")"
	if ! grep -qE "^[[:space:]]+build[[:space:]]+GOOS=$goos\$" <<<"$info" ||
		! grep -qE "^[[:space:]]+build[[:space:]]+GOARCH=$goarch\$" <<<"$info" ||
		! grep -qE "^[[:space:]]+dep[[:space:]]+$module[[:space:]]" <<<"$info"; then
		echo "xcaddy: caddy-$goos-$goarch is not a $pair Caddy with $module:" >&2
		echo "$info" >&2
		exit 1
	fi
	echo "xcaddy: GOOS=$goos GOARCH=$goarch $build_cmd --output caddy-$goos-$goarch: $((SECONDS - start))s"
done
echo "xcaddy: done in $((SECONDS - total))s"
