#!/usr/bin/env bash
# bench/compare.sh: caddy-pop3 against Dovecot 2.3, side by side, on this
# machine. It generates a maildir tree, gives each server its own copy (both
# move new/ to cur/ and rename files), runs cmd/pop3bench against each on
# 127.0.0.1, and prints a table with the ratios. Run as root from anywhere
# in the repository:
#
#	sudo bench/compare.sh
#
# Settings (environment variables, defaults in brackets):
#	WORK          scratch directory [/var/tmp/caddy-pop3-bench]
#	DURATION      length of each timed run [20s]
#	ROUNDS        rounds of the load runs [3]. Both servers stay up (the one
#	              not measured is idle) and each round runs every load
#	              once on each, back to back, alternating which goes
#	              first; the table shows the median of the rounds. On a
#	              shared machine whose speed drifts, this pairs every
#	              measurement of one server with one of the other taken
#	              under the same conditions.
#	SMALL_USERS   users with SMALL_MESSAGES x SMALL_SIZE mail [32]
#	              (a maildrop is locked per session, so 32 clients need
#	              32 users; with fewer, the extra clients wait their turn)
#	SMALL_MESSAGES, SMALL_SIZE        [20, 4096]
#	BIG_USERS, BIG_MESSAGES, BIG_SIZE [4, 4, 5242880]
#	IDLE_OURS     idle connections held on caddy-pop3 [10000]
#	IDLE_DOVECOT  idle connections held on Dovecot (a process each) [2000]
#	HOLD          how long idle connections are held [15s]
#	AUTH          login: user (USER/PASS) or plain (AUTH PLAIN) [user]
#	SCHEME        password scheme for both servers: plain ({PLAIN} in a
#	              passwd-file), bcrypt (cost 4), or auto (plain when
#	              caddy-pop3 has pop3.auth.passwd_file) [auto]
#	PROFILE       1: after the comparison, a CPU profile of caddy-pop3
#	              under the 32-client load [1]
#	SERVERS       which servers to run [ours dovecot]; add pg for a third,
#	              caddy-pop3 with storage postgres on a private PostgreSQL
#	              (initdb into WORK/pg, as the postgres user, on
#	              127.0.0.1:PORT_PG_DB, defaults otherwise, fsync on; the
#	              small and big users' mail copied in with caddy pop3
#	              migrate); the table then adds pg/ours and pg/dovecot,
#	              and the database's CPU per session (its processes,
#	              measured apart from the node's with pop3bench -db-pid)
#	LOADS         the load runs, "mode clients" pairs separated by commas
#	              [small 8,small 32,big 1,big 4]
#	IDLE          0: skip the idle-connection runs [1]
#	PORT_OURS, PORT_DOVECOT, PORT_ADMIN  [11110, 11111, 12019]
#	PORT_PG, PORT_PG_ADMIN, PORT_PG_DB   [11112, 12020, 11432]
#	POLL          1: instead of the loads above, the poll of one big
#	              maildrop (a help-desk mailbox): POLL_MESSAGES x POLL_SIZE
#	              for user000, both servers up at once; per round, the
#	              first login after the server's start (in round 1 on
#	              fresh mail: the first login ever), then POLLS polls
#	              of login + STAT + UIDL + QUIT on each server [0]
#	POLL_MESSAGES, POLL_SIZE, POLLS   [50000, 2048, 10]
#	POLL_DELIVER  1 (with POLL=1): per round, also POLLS polls each after
#	              one small message was delivered into new/ of user000's
#	              maildir (pop3bench -deliver-between): a lightly changed
#	              maildrop; the later rounds start with those messages [0]
#	LIMITS        1: instead of the loads above, the targets set against
#	              the machine itself (issue 19), every one in the same run:
#	              per round, the loopback limit (pop3bench -mode loopback,
#	              a raw TCP copy), RETR of 5 MiB messages with 1 and 4
#	              clients, server CPU per session (LIMITS_CPU_CLIENTS
#	              clients, not pipelined and pipelined) on both servers,
#	              login and RETR p99 at LIMITS_LAT_CLIENTS clients of 4 KiB
#	              messages on both; then IDLE_N idle logged-in connections
#	              on caddy-pop3 with a NOOP every NOOP_EVERY, memory from
#	              PSS after each NOOP round. The table prints every ratio
#	              and the steal share of each round [0]
#	REUSE_MAIL    1: keep the mail trees of the last run in WORK instead of
#	              generating them again (nothing is deleted by the runs; the
#	              first logins of a new tree are slow on a busy disk) [0]
#	IDLE_N        idle connections held in LIMITS=1 [19000]; lowered, and
#	              said so, when the open-file limit does not allow it
#	IDLE_FDS      descriptors caddy-pop3 holds per idle session, to fit the
#	              open-file limit: the connection (maildir keeps none of
#	              its directories open while a session is idle) [1]
#	LIMITS_PARTS  which parts of LIMITS=1 to run [loads idle]
#	TABLE_ONLY    with LIMITS=1: print the table of the results directory
#	              given, run nothing
#	LIMITS_HOLD, NOOP_EVERY            [150s, 60s]
#	LIMITS_CPU_CLIENTS, LIMITS_LAT_CLIENTS  [8, 64]
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${WORK:-/var/tmp/caddy-pop3-bench}
DURATION=${DURATION:-20s}
ROUNDS=${ROUNDS:-3}
SMALL_USERS=${SMALL_USERS:-32}
SMALL_MESSAGES=${SMALL_MESSAGES:-20}
SMALL_SIZE=${SMALL_SIZE:-4096}
BIG_USERS=${BIG_USERS:-4}
BIG_MESSAGES=${BIG_MESSAGES:-4}
BIG_SIZE=${BIG_SIZE:-5242880}
IDLE_OURS=${IDLE_OURS:-10000}
IDLE_DOVECOT=${IDLE_DOVECOT:-2000}
HOLD=${HOLD:-15s}
AUTH=${AUTH:-user}
SCHEME=${SCHEME:-auto}
PROFILE=${PROFILE:-1}
SERVERS=${SERVERS:-ours dovecot}
PORT_OURS=${PORT_OURS:-11110}
PORT_DOVECOT=${PORT_DOVECOT:-11111}
PORT_ADMIN=${PORT_ADMIN:-12019}
PORT_PG=${PORT_PG:-11112}
PORT_PG_ADMIN=${PORT_PG_ADMIN:-12020}
PORT_PG_DB=${PORT_PG_DB:-11432}
IDLE=${IDLE:-1}
POLL=${POLL:-0}
POLL_MESSAGES=${POLL_MESSAGES:-50000}
POLL_SIZE=${POLL_SIZE:-2048}
POLLS=${POLLS:-10}
POLL_DELIVER=${POLL_DELIVER:-0}
LIMITS=${LIMITS:-0}
IDLE_FDS=${IDLE_FDS:-1}
LIMITS_PARTS=${LIMITS_PARTS:-loads idle}
IDLE_N=${IDLE_N:-19000}
LIMITS_HOLD=${LIMITS_HOLD:-150s}
NOOP_EVERY=${NOOP_EVERY:-60s}
LIMITS_CPU_CLIENTS=${LIMITS_CPU_CLIENTS:-8}
LIMITS_LAT_CLIENTS=${LIMITS_LAT_CLIENTS:-64}
if [[ $LIMITS == 1 ]]; then
	# 64 clients need 64 users (a maildrop is locked per session); the
	# idle connections are caddy-pop3's only.
	SMALL_USERS=$((LIMITS_LAT_CLIENTS > SMALL_USERS ? LIMITS_LAT_CLIENTS : SMALL_USERS))
	IDLE_OURS=$IDLE_N
	IDLE_DOVECOT=0
fi
PASSWORD=bench
CORES=$(nproc)

BIG_FIRST=$SMALL_USERS
IDLE_FIRST=$((SMALL_USERS + BIG_USERS))
IDLE_USERS=$((IDLE_OURS > IDLE_DOVECOT ? IDLE_OURS : IDLE_DOVECOT))
TOTAL_USERS=$((IDLE_FIRST + IDLE_USERS))

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'compare.sh: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "run as root: it installs Dovecot, creates the vmail user and starts servers as vmail"
[[ $AUTH == user || $AUTH == plain ]] || die "AUTH must be user or plain"

# --- setup ------------------------------------------------------------------

install_packages() {
	local missing=()
	for p in dovecot-core dovecot-pop3d jq; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	((${#missing[@]} == 0)) && return
	log "installing ${missing[*]}"
	# Keep Debian from starting the system-wide Dovecot on ports 110/143:
	# this benchmark runs its own private instance.
	local policy=/usr/sbin/policy-rc.d made_policy=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	((made_policy)) && rm -f "$policy"
	return 0
}

ensure_vmail() {
	if ! id vmail >/dev/null 2>&1; then
		log "creating system user vmail"
		useradd --system --user-group --home-dir /nonexistent --shell /usr/sbin/nologin vmail
	fi
	VMAIL_UID=$(id -u vmail)
}

raise_nofile() {
	# Every connection is a file descriptor, on both ends.
	ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
	# caddy-pop3 holds IDLE_FDS per idle session in one process (the
	# connection: an idle maildir session keeps no directory open): stay
	# within the limit, since running out of descriptors at accept() stops
	# caddy-l4's listener.
	local fit=$((($(ulimit -n) - 100) / IDLE_FDS))
	if ((IDLE_OURS > fit)); then
		IDLE_NOTE="caddy-pop3 idle connections lowered from $IDLE_OURS to $fit: open-file limit $(ulimit -n), $IDLE_FDS per session"
		log "$IDLE_NOTE"
		IDLE_OURS=$fit
	fi
}
IDLE_NOTE=

build() {
	log "building caddy (./cmd/caddy) and pop3bench"
	mkdir -p "$WORK/bin"
	(cd "$REPO" && go build -o "$WORK/bin/caddy" ./cmd/caddy && go build -o "$WORK/bin/pop3bench" ./cmd/pop3bench)
	BIN=$WORK/bin
}

generate_mail() {
	if [[ ${REUSE_MAIL:-0} == 1 && -d $WORK/src && -d $WORK/ours-mail && -d $WORK/dovecot-mail ]]; then
		log "reusing the mail trees under $WORK (REUSE_MAIL=1)"
		return
	fi
	log "generating mail: $SMALL_USERS x $SMALL_MESSAGES x $SMALL_SIZE B, $BIG_USERS x $BIG_MESSAGES x $BIG_SIZE B, $IDLE_USERS idle users x 1 message"
	rm -rf "$WORK/src" "$WORK/ours-mail" "$WORK/dovecot-mail"
	"$BIN/pop3bench" gen -out "$WORK/src" -users "$SMALL_USERS" -messages "$SMALL_MESSAGES" -size "$SMALL_SIZE" >/dev/null
	"$BIN/pop3bench" gen -out "$WORK/src" -first-user "$BIG_FIRST" -users "$BIG_USERS" -messages "$BIG_MESSAGES" -size "$BIG_SIZE" >/dev/null
	"$BIN/pop3bench" gen -out "$WORK/src" -first-user "$IDLE_FIRST" -users "$IDLE_USERS" -messages 1 -size "$SMALL_SIZE" >/dev/null
	# Each server gets its own copy: both rename files as they go.
	cp -a "$WORK/src" "$WORK/ours-mail"
	cp -a "$WORK/src" "$WORK/dovecot-mail"
	chown -R vmail:vmail "$WORK/ours-mail" "$WORK/dovecot-mail"
}

# generate_poll_mail: the one big maildrop of POLL=1, user000's.
generate_poll_mail() {
	log "generating mail: 1 user x $POLL_MESSAGES x $POLL_SIZE B"
	rm -rf "$WORK/src" "$WORK/ours-mail" "$WORK/dovecot-mail"
	"$BIN/pop3bench" gen -out "$WORK/src" -users 1 -messages "$POLL_MESSAGES" -size "$POLL_SIZE" >/dev/null
	cp -a "$WORK/src" "$WORK/ours-mail"
	cp -a "$WORK/src" "$WORK/dovecot-mail"
	chown -R vmail:vmail "$WORK/ours-mail" "$WORK/dovecot-mail"
}

# choose_scheme sets SCHEME to plain or bcrypt and writes the passwd-file
# both servers read (Dovecot's format; caddy-pop3's passwd_file reads it).
choose_scheme() {
	if [[ $SCHEME == auto ]]; then
		local modules
		modules=$("$BIN/caddy" list-modules 2>/dev/null) || true
		# (not a pipe into grep -q: with pipefail, caddy's SIGPIPE would
		# read as "not found")
		if grep -qx 'pop3.auth.passwd_file' <<<"$modules"; then
			SCHEME=plain
		else
			SCHEME=bcrypt
			log "caddy-pop3 has no pop3.auth.passwd_file yet: both servers use bcrypt (cost 4)"
		fi
	fi
	local field
	case $SCHEME in
	plain) field="{PLAIN}$PASSWORD" ;;
	bcrypt)
		HASH=$(doveadm pw -s BLF-CRYPT -r 4 -p "$PASSWORD")
		HASH=${HASH#\{BLF-CRYPT\}}
		field="{BLF-CRYPT}$HASH"
		;;
	*) die "SCHEME must be auto, plain or bcrypt" ;;
	esac
	awk -v n="$TOTAL_USERS" -v f="$field" 'BEGIN { for (i = 0; i < n; i++) printf "user%03d:%s::::::\n", i, f }' >"$WORK/passwd"
	chmod 644 "$WORK/passwd"
}

# --- servers ------------------------------------------------------------------

SERVER_PID=

# wait_greeting PORT PID: wait until the server on PORT greets with +OK.
wait_greeting() {
	local port=$1 pid=$2
	for _ in $(seq 1 150); do
		kill -0 "$pid" 2>/dev/null || return 1
		if timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && head -c 3 <&3" 2>/dev/null | grep -q '+OK'; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

# start_ours [pg]: caddy-pop3 on maildir, or with pg on the private
# PostgreSQL of start_postgres.
start_ours() {
	local kind=${1:-ours} dir=$WORK/caddy-${1:-ours} auth port=$PORT_OURS admin=$PORT_ADMIN
	local storage="storage maildir {\n\t\t\t\t\t\tpath $WORK/ours-mail/{pop3.user}/Maildir\n\t\t\t\t\t}"
	if [[ $kind == pg ]]; then
		port=$PORT_PG admin=$PORT_PG_ADMIN
		storage="storage postgres $PG_DSN"
	fi
	mkdir -p "$dir/home"
	if [[ $SCHEME == plain ]]; then
		auth="auth passwd_file $WORK/passwd"
	else
		{
			printf 'auth accounts bcrypt {\n'
			awk -v n="$TOTAL_USERS" -v h="$HASH" 'BEGIN { for (i = 0; i < n; i++) printf "\t\t\t\t\t\tuser%03d %s\n", i, h }'
			printf '\t\t\t\t\t}\n'
		} >"$dir/auth.caddy"
		auth=@FILE@
	fi
	sed -e "s#@ADMIN_PORT@#$admin#" -e "s#@PORT@#$port#" -e "s#@STORAGE@#$storage#" "$REPO/bench/Caddyfile.in" |
		awk -v a="$auth" -v f="$dir/auth.caddy" '/@AUTH@/ { if (a == "@FILE@") { while ((getline l < f) > 0) print l } else { sub(/@AUTH@/, a); print }; next } { print }' >"$dir/Caddyfile"
	chown -R vmail:vmail "$dir"
	log "starting caddy-pop3 ($kind) as vmail on 127.0.0.1:$port"
	setpriv --reuid=vmail --regid=vmail --init-groups \
		env HOME="$dir/home" XDG_DATA_HOME="$dir/home/data" XDG_CONFIG_HOME="$dir/home/config" \
		"$BIN/caddy" run --config "$dir/Caddyfile" --adapter caddyfile >"$dir/caddy.log" 2>&1 &
	SERVER_PID=$!
	wait_greeting "$port" "$SERVER_PID" || { tail -20 "$dir/caddy.log" >&2; die "caddy-pop3 ($kind) did not start"; }
}

# start_postgres: the private PostgreSQL of SERVERS=pg (once per run),
# with the small and big users' mail copied in, keeping their UIDLs.
PG_BIN= PG_DSN=
start_postgres() {
	[[ -n $PG_DSN ]] && return 0
	local dir=$WORK/pg v
	for v in $(ls /usr/lib/postgresql 2>/dev/null | sort -rn); do
		[[ -x /usr/lib/postgresql/$v/bin/initdb ]] && { PG_BIN=/usr/lib/postgresql/$v/bin; break; }
	done
	[[ -n $PG_BIN ]] || die "SERVERS has pg: install postgresql (apt-get install postgresql)"
	rm -rf "$dir"
	mkdir -p "$dir"
	chown postgres: "$dir"
	log "starting PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT_PG_DB (private cluster in $dir)"
	setpriv --reuid=postgres --regid=postgres --init-groups "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
		{ tail -20 "$dir/initdb.log" >&2; die "initdb failed"; }
	setpriv --reuid=postgres --regid=postgres --init-groups "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $PORT_PG_DB -c unix_socket_directories=$dir" start >/dev/null ||
		{ tail -20 "$dir/server.log" >&2; die "PostgreSQL did not start"; }
	PG_STARTED=1
	psql -q -h "$dir" -p "$PORT_PG_DB" -U postgres -c 'CREATE DATABASE mail' postgres
	PG_DSN="postgres://postgres@127.0.0.1:$PORT_PG_DB/mail?sslmode=disable"
	printf '{\n\tadmin off\n\tlayer4 {\n\t\t127.0.0.1:0 {\n\t\t\troute {\n\t\t\t\tpop3 {\n\t\t\t\t\tstorage postgres %s\n\t\t\t\t\tauth passwd_file %s\n\t\t\t\t}\n\t\t\t}\n\t\t}\n\t}\n}\n' \
		"$PG_DSN" "$WORK/passwd" >"$dir/migrate.caddyfile"
	head -n "$IDLE_FIRST" "$WORK/passwd" >"$dir/users"
	log "copying the mail of $IDLE_FIRST users into PostgreSQL (caddy pop3 migrate)"
	"$BIN/caddy" pop3 migrate --config "$dir/migrate.caddyfile" --adapter caddyfile --users-from "$dir/users" \
		--from "maildir:$WORK/src/%u/Maildir" >"$dir/migrate.log" 2>&1 || { tail -20 "$dir/migrate.log" >&2; die "caddy pop3 migrate failed"; }
}
PG_STARTED=0
stop_postgres() {
	((PG_STARTED)) || return 0
	setpriv --reuid=postgres --regid=postgres --init-groups "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
	PG_STARTED=0
}

start_dovecot() {
	local dir=$WORK/dovecot procs=$((IDLE_DOVECOT + 128))
	rm -rf "$dir"
	mkdir -p "$dir/run" "$dir/state"
	sed -e "s#@WORK@#$WORK#g" -e "s#@PORT@#$PORT_DOVECOT#" -e "s#@CORES@#$CORES#" \
		-e "s#@VMAIL_UID@#$VMAIL_UID#" -e "s#@POP3_PROCESSES@#$procs#g" -e "s#@CLIENT_LIMIT@#$((procs * 2))#g" \
		"$REPO/bench/dovecot.conf.in" >"$dir/dovecot.conf"
	log "starting Dovecot $(dovecot --version | cut -d' ' -f1) on 127.0.0.1:$PORT_DOVECOT (login as dovenull, mail as vmail)"
	dovecot -F -c "$dir/dovecot.conf" >"$dir/stdout.log" 2>&1 &
	SERVER_PID=$!
	wait_greeting "$PORT_DOVECOT" "$SERVER_PID" || { tail -20 "$dir/dovecot.log" "$dir/stdout.log" >&2; die "Dovecot did not start"; }
}

# stop_pid PID: stop a server, forcibly after 10 s.
stop_pid() {
	local p=$1
	kill "$p" 2>/dev/null || true
	for _ in $(seq 1 100); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
}

stop_server() {
	[[ -n $SERVER_PID ]] || return 0
	stop_pid "$SERVER_PID"
	SERVER_PID=
}

# OTHER_PIDS are servers started by run_loads, all up at once.
OTHER_PIDS=()
stop_all() {
	stop_server
	local p
	for p in "${OTHER_PIDS[@]}"; do
		stop_pid "$p"
	done
	OTHER_PIDS=()
}
trap 'stop_all; stop_postgres' EXIT

# --- runs ---------------------------------------------------------------------

# bench NAME PORT ARGS...: one pop3bench run; its JSON goes to $OUT/NAME.json.
bench() {
	local name=$1 port=$2
	shift 2
	log "$name"
	"$BIN/pop3bench" run -addr "127.0.0.1:$port" -auth "$AUTH" -password "$PASSWORD" -out "$OUT/$name.json" "$@" |
		tee "$OUT/$name.txt" | sed 's/^/   /' >&2 || true
}

# start SERVER: start it and set PORT; its process id is SERVER_PID.
start() {
	case $1 in
	ours) start_ours; PORT=$PORT_OURS ;;
	pg) start_postgres; start_ours pg; PORT=$PORT_PG ;;
	dovecot) start_dovecot; PORT=$PORT_DOVECOT ;;
	*) die "unknown server $1" ;;
	esac
}

# run_idle SERVER: idle mode on a fresh server, whose memory before the
# connections is the baseline.
run_idle() {
	local s=$1 idle=$IDLE_OURS
	[[ $s == dovecot ]] && idle=$IDLE_DOVECOT
	[[ $s == pg ]] && return 0 # its users' mail is not in the database
	start "$s"
	bench "$s-idle" "$PORT" -mode idle -first-user "$IDLE_FIRST" -users "$idle" -connections "$idle" -pid "$SERVER_PID" -hold "$HOLD"
	stop_server
}

# The load runs: mode and clients.
IFS=, read -r -a LOADS <<<"${LOADS:-small 8,small 32,big 1,big 4}"

# run_loads: every server up at once, on fresh processes; ROUNDS rounds
# of every load on each server back to back.
run_loads() {
	local -A pid port
	local s r load mode c order
	for s in $SERVERS; do
		start "$s"
		pid[$s]=$SERVER_PID port[$s]=$PORT
		OTHER_PIDS+=("$SERVER_PID")
		SERVER_PID=
	done
	for r in $(seq 1 "$ROUNDS"); do
		order=$SERVERS
		((r % 2 == 0)) && order=$(tr ' ' '\n' <<<"$SERVERS" | tac | tr '\n' ' ')
		for load in "${LOADS[@]}"; do
			read -r mode c <<<"$load"
			for s in $order; do
				local db=()
				# The database's CPU, measured apart from the node's.
				[[ $s == pg ]] && db=(-db-pid "$(head -n 1 "$WORK/pg/data/postmaster.pid")")
				if [[ $mode == small ]]; then
					# One core's worth of Go scheduler for the load
					# generator: its clients wait on the network, and
					# with more its idle threads spin on the cores the
					# servers need.
					bench "$s-$mode-$c-r$r" "${port[$s]}" -mode small -clients "$c" -first-user 0 -users "$SMALL_USERS" -duration "$DURATION" -source "$WORK/src" -pid "${pid[$s]}" "${db[@]}" -procs 1
				else
					bench "$s-$mode-$c-r$r" "${port[$s]}" -mode big -clients "$c" -first-user "$BIG_FIRST" -users "$BIG_USERS" -duration "$DURATION" -source "$WORK/src" -pid "${pid[$s]}" "${db[@]}"
				fi
			done
		done
	done
	if [[ -n ${pid[ours]:-} && $PROFILE == 1 ]]; then
		log "profiling caddy-pop3 under the 32-client load"
		local secs=${DURATION%s}
		curl -s -o "$OUT/ours-small-32.cpu.pprof" "http://127.0.0.1:$PORT_ADMIN/debug/pprof/profile?seconds=$secs" &
		local curl_pid=$!
		"$BIN/pop3bench" run -addr "127.0.0.1:${port[ours]}" -auth "$AUTH" -password "$PASSWORD" -mode small -clients 32 \
			-users "$SMALL_USERS" -duration "$DURATION" -source "$WORK/src" -warmup=false >/dev/null || true
		wait "$curl_pid" || true
		curl -s -o "$OUT/ours-heap.pprof" "http://127.0.0.1:$PORT_ADMIN/debug/pprof/heap" || true
		(cd "$REPO" && go tool pprof -top -nodecount=40 "$BIN/caddy" "$OUT/ours-small-32.cpu.pprof") >"$OUT/ours-profile.txt" 2>&1 || true
	fi
	stop_all
}

# run_poll: POLL=1. Every round restarts both servers (so that the first
# poll is the first login after a restart), then polls each, alternating
# which goes first.
run_poll() {
	local -A pid port
	local s r order
	for r in $(seq 1 "$ROUNDS"); do
		for s in $SERVERS; do
			start "$s"
			pid[$s]=$SERVER_PID port[$s]=$PORT
			OTHER_PIDS+=("$SERVER_PID")
			SERVER_PID=
		done
		order=$SERVERS
		((r % 2 == 0)) && order=$(tr ' ' '\n' <<<"$SERVERS" | tac | tr '\n' ' ')
		# Round 1 on fresh mail: the first login ever (all of it in new/,
		# never listed); later rounds: the first login after a restart.
		local first=pollfirst
		((r == 1)) && [[ ${REUSE_MAIL:-0} != 1 ]] && first=pollnew
		for s in $order; do
			bench "$s-$first-r$r" "${port[$s]}" -mode poll -polls 1 -users 1 -pid "${pid[$s]}"
		done
		for s in $order; do
			bench "$s-poll-r$r" "${port[$s]}" -mode poll -polls "$POLLS" -users 1 -pid "${pid[$s]}"
		done
		if [[ $POLL_DELIVER == 1 ]]; then
			for s in $order; do
				bench "$s-polldeliver-r$r" "${port[$s]}" -mode poll -polls "$POLLS" -users 1 -pid "${pid[$s]}" \
					-deliver-between -maildir "$WORK/$s-mail/user000/Maildir"
			done
		fi
		stop_all
	done
}

poll_table() {
	local p='(.*100|round)/100'
	{
		echo
		echo "caddy-pop3 $(git -C "$REPO" rev-parse --short HEAD) vs Dovecot $(dovecot --version | cut -d' ' -f1), $CORES cores, $(date -u +%Y-%m-%dT%H:%MZ)"
		echo "load average at start: $LOAD_START, at end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on this machine skews the numbers)"
		echo "poll of user000: $POLL_MESSAGES x $POLL_SIZE B, auth $AUTH, scheme $SCHEME; $POLLS polls per round, medians of $ROUNDS rounds"
		printf "%-44s %12s %12s %9s   %-8s %-8s %s\n" metric caddy-pop3 dovecot ratio target verdict "ratio of each round"
		row "poll total p50 ms (login+UIDL+QUIT)" ".poll.total_latency.p50_ms|$p" poll max 0.25
		row "poll total p90 ms" ".poll.total_latency.p90_ms|$p" poll info 0
		row "login p50 ms" ".poll.login_latency.p50_ms|$p" poll info 0
		row "login p90 ms" ".poll.login_latency.p90_ms|$p" poll info 0
		row "STAT+UIDL p50 ms" ".poll.uidl_latency.p50_ms|$p" poll info 0
		row "STAT+UIDL p90 ms" ".poll.uidl_latency.p90_ms|$p" poll info 0
		row "QUIT p50 ms" ".poll.quit_latency.p50_ms|$p" poll info 0
		row "QUIT p90 ms" ".poll.quit_latency.p90_ms|$p" poll info 0
		row "first login ever (round 1), total ms" ".poll.total_latency.p50_ms|$p" pollnew max 1
		row "first poll after a restart, total ms" ".poll.total_latency.p50_ms|$p" pollfirst max 1
		row "server CPU ms per poll" ".server_cpu_ms_per_session|$p" poll info 0
		if [[ $POLL_DELIVER == 1 ]]; then
			row "poll after a delivery, total p50 ms" ".poll.total_latency.p50_ms|$p" polldeliver info 0
			row "poll after a delivery, total p90 ms" ".poll.total_latency.p90_ms|$p" polldeliver info 0
		fi
		printf "%-44s %12s %12s\n" "errors/integrity errors, all runs" "$(errors_of ours)" "$(errors_of dovecot)"
	} | tee "$OUT/table.txt"
}

# --- limits (LIMITS=1) ----------------------------------------------------------

# run_limits: both servers up at once; ROUNDS rounds of the loopback copy,
# RETR throughput, CPU per session and latency runs, alternating which
# server goes first; then the idle connections on a fresh caddy-pop3.
run_limits() {
	local -A pid port
	local s r order c=$LIMITS_CPU_CLIENTS l=$LIMITS_LAT_CLIENTS
	[[ " $LIMITS_PARTS " == *" loads "* ]] || { run_limits_idle; return; }
	for s in $SERVERS; do
		start "$s"
		pid[$s]=$SERVER_PID port[$s]=$PORT
		OTHER_PIDS+=("$SERVER_PID")
		SERVER_PID=
	done
	for r in $(seq 1 "$ROUNDS"); do
		order=$SERVERS
		((r % 2 == 0)) && order=$(tr ' ' '\n' <<<"$SERVERS" | tac | tr '\n' ' ')
		log "loopback-1-r$r"
		"$BIN/pop3bench" run -mode loopback -clients 1 -duration "$DURATION" -out "$OUT/loopback-1-r$r.json" | sed 's/^/   /' >&2 || true
		if [[ -n ${pid[ours]:-} ]]; then
			bench "ours-big-1-r$r" "${port[ours]}" -mode big -clients 1 -first-user "$BIG_FIRST" -users "$BIG_USERS" -duration "$DURATION" -source "$WORK/src" -pid "${pid[ours]}"
			bench "ours-big-4-r$r" "${port[ours]}" -mode big -clients 4 -first-user "$BIG_FIRST" -users "$BIG_USERS" -duration "$DURATION" -source "$WORK/src" -pid "${pid[ours]}"
		fi
		for s in $order; do
			bench "$s-cpu-r$r" "${port[$s]}" -mode small -clients "$c" -first-user 0 -users "$SMALL_USERS" -duration "$DURATION" -source "$WORK/src" -pid "${pid[$s]}" -procs 1
			bench "$s-cpupipe-r$r" "${port[$s]}" -mode small -pipeline -clients "$c" -first-user 0 -users "$SMALL_USERS" -duration "$DURATION" -source "$WORK/src" -pid "${pid[$s]}" -procs 1
		done
		for s in $order; do
			bench "$s-lat-r$r" "${port[$s]}" -mode small -clients "$l" -first-user 0 -users "$SMALL_USERS" -duration "$DURATION" -source "$WORK/src" -pid "${pid[$s]}" -procs 1
		done
	done
	if [[ -n ${pid[ours]:-} && $PROFILE == 1 ]]; then
		local secs=${DURATION%s}
		log "profiling caddy-pop3: RETR of 5 MiB messages, 1 client"
		curl -s -o "$OUT/ours-big-1.cpu.pprof" "http://127.0.0.1:$PORT_ADMIN/debug/pprof/profile?seconds=$secs" &
		local curl_pid=$!
		"$BIN/pop3bench" run -addr "127.0.0.1:${port[ours]}" -auth "$AUTH" -password "$PASSWORD" -mode big -clients 1 \
			-first-user "$BIG_FIRST" -users "$BIG_USERS" -duration "$DURATION" -source "$WORK/src" -warmup=false >/dev/null || true
		wait "$curl_pid" || true
		log "profiling caddy-pop3: full sessions, $c clients"
		curl -s -o "$OUT/ours-cpu.cpu.pprof" "http://127.0.0.1:$PORT_ADMIN/debug/pprof/profile?seconds=$secs" &
		curl_pid=$!
		"$BIN/pop3bench" run -addr "127.0.0.1:${port[ours]}" -auth "$AUTH" -password "$PASSWORD" -mode small -clients "$c" \
			-users "$SMALL_USERS" -duration "$DURATION" -source "$WORK/src" -warmup=false -procs 1 >/dev/null || true
		wait "$curl_pid" || true
		(cd "$REPO" && go tool pprof -top -nodecount=40 "$BIN/caddy" "$OUT/ours-big-1.cpu.pprof") >"$OUT/ours-big-1-profile.txt" 2>&1 || true
		(cd "$REPO" && go tool pprof -top -nodecount=40 "$BIN/caddy" "$OUT/ours-cpu.cpu.pprof") >"$OUT/ours-cpu-profile.txt" 2>&1 || true
	fi
	stop_all
	run_limits_idle
}

# run_limits_idle: the idle connections of LIMITS=1, on caddy-pop3 only.
run_limits_idle() {
	if [[ " $SERVERS " == *" ours "* && " $LIMITS_PARTS " == *" idle "* ]]; then
		# A first login into each idle user's maildir does one-time work
		# (new/ to cur/, the index), slow on a busy disk and not what is
		# measured: one untimed pass, then a fresh server for the
		# measurement.
		start ours
		log "first login of the $IDLE_OURS idle users (untimed)"
		"$BIN/pop3bench" run -addr "127.0.0.1:$PORT" -auth "$AUTH" -password "$PASSWORD" -mode idle -first-user "$IDLE_FIRST" \
			-users "$IDLE_OURS" -connections "$IDLE_OURS" -hold 0s -settle 0s -dial-parallel 64 >/dev/null || true
		stop_server
		start ours
		local noop_s=${NOOP_EVERY%s}
		# The heap profile and the runtime's figures are taken once every
		# connection is open and has sent its first NOOP.
		(
			while kill -0 "$SERVER_PID" 2>/dev/null; do
				n=$(ss -Htn state established "( sport = :$PORT )" | wc -l)
				((n >= IDLE_OURS * 99 / 100)) && break
				sleep 2
			done
			sleep $((noop_s + 20))
			curl -s -o "$OUT/ours-idle-heap.pprof" "http://127.0.0.1:$PORT_ADMIN/debug/pprof/heap"
			curl -s -o "$OUT/runtime-idle-vars.json" "http://127.0.0.1:$PORT_ADMIN/debug/vars"
			curl -s -o "$OUT/ours-idle-goroutines.txt" "http://127.0.0.1:$PORT_ADMIN/debug/pprof/goroutine?debug=1"
			grep -E 'VmRSS|RssAnon|VmData' "/proc/$SERVER_PID/status" >"$OUT/ours-idle-status.txt"
		) &
		local prof_pid=$!
		bench "ours-idle" "$PORT" -mode idle -first-user "$IDLE_FIRST" -users "$IDLE_OURS" -connections "$IDLE_OURS" -pid "$SERVER_PID" \
			-hold "$LIMITS_HOLD" -noop-every "$NOOP_EVERY" -dial-parallel 64
		kill "$prof_pid" 2>/dev/null || true
		wait "$prof_pid" 2>/dev/null || true
		(cd "$REPO" && go tool pprof -top -sample_index=inuse_space -nodecount=30 "$BIN/caddy" "$OUT/ours-idle-heap.pprof") >"$OUT/ours-idle-heap.txt" 2>&1 || true
		stop_server
	fi
}

# lval NAME JQ: the median over the rounds of a number from NAME-r*.json
# ("failed" when a run had errors or integrity errors).
lval() { val "${1%%-*}" "${1#*-}" "$2"; }

# lratios NUM DEN JQ: the ratio NUM/DEN of each round, with the steal share
# of both runs of the round.
lratios() {
	local r a b out=() st=()
	for r in $(seq 1 "$ROUNDS"); do
		a=$OUT/$1-r$r.json b=$OUT/$2-r$r.json
		[[ -s $a && -s $b ]] || continue
		out+=("$(jq -n -r --slurpfile a "$a" --slurpfile b "$b" "(\$a[0] | $3) as \$x | (\$b[0] | $3) as \$y | if \$y > 0 then (\$x / \$y * 1000 | round) / 1000 else \"-\" end" 2>/dev/null || echo -)")
		st+=("$(jq -r '.steal_percent // -1 | if . < 0 then "?" else (. * 10 | round) / 10 end' "$a")/$(jq -r '.steal_percent // -1 | if . < 0 then "?" else (. * 10 | round) / 10 end' "$b")")
	done
	echo "${out[*]:--} | steal% ${st[*]:--}"
}

# lrow LABEL NUM DEN JQ KIND WANT: one target as a ratio NUM/DEN.
lrow() {
	local label=$1 num=$2 den=$3 expr=$4 kind=$5 want=$6 a b per
	a=$(lval "$num" "$expr")
	b=$(lval "$den" "$expr")
	per=$(lratios "$num" "$den" "$expr")
	awk -v l="$label" -v a="$a" -v b="$b" -v k="$kind" -v w="$want" -v per="$per" 'BEGIN {
		r = "-"; verdict = "-"
		if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b + 0 > 0) {
			ratio = a / b; r = sprintf("%.3f", ratio)
			if (k != "info") verdict = (k == "min" ? ratio >= w : ratio <= w) ? "met" : "not met"
		}
		t = (k == "info" ? "" : (k == "min" ? ">= " : "<= ") w)
		printf "%-46s %11s %11s %8s  %-8s %-8s %s\n", l, a, b, r, t, verdict, per
	}'
}

limits_table() {
	local p='(.*100|round)/100' i=$OUT/ours-idle.json
	{
		echo
		echo "caddy-pop3 $(git -C "$REPO" rev-parse --short HEAD) vs Dovecot $(dovecot --version | cut -d' ' -f1) and the machine, $CORES cores, $(date -u +%Y-%m-%dT%H:%MZ)"
		echo "load average at start: $LOAD_START, at end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on this machine skews the numbers)"
		echo "$DURATION per run, medians of $ROUNDS rounds; $SMALL_USERS users x $SMALL_MESSAGES x $SMALL_SIZE B (small), $BIG_USERS x $BIG_MESSAGES x $BIG_SIZE B (big)"
		printf "%-46s %11s %11s %8s  %-8s %-8s %s\n" "target (ratio = a / b)" a b ratio target verdict "ratio of each round | steal % a/b"
		lrow "RETR MB/s 5 MiB 1 client / loopback MB/s" ours-big-1 loopback-1 ".mb_per_s|$p" min 0.5
		lrow "RETR MB/s 4 clients / 1 client" ours-big-4 ours-big-1 ".mb_per_s|$p" min 1.5
		# CPU per MB moved, which the machine's other work skews less than
		# MB/s: the server alone, and server + load generator, against
		# both ends of the raw copy.
		lrow "CPU ms/MB: server RETR / raw copy (both ends)" ours-big-1 loopback-1 "(if .mode == \"loopback\" then .client_cpu_seconds else .server_cpu_seconds end) * 1e9 / .bytes|(.*1000|round)/1000" info 0
		lrow "CPU ms/MB: server + client RETR / raw copy" ours-big-1 loopback-1 "((.server_cpu_seconds // 0) + .client_cpu_seconds) * 1e9 / .bytes|(.*1000|round)/1000" info 0
		lrow "CPU ms/session ours / Dovecot ($LIMITS_CPU_CLIENTS clients)" ours-cpu dovecot-cpu ".server_cpu_ms_per_session|(.*1000|round)/1000" max 0.0667
		lrow "CPU ms/session pipelined ours / Dovecot" ours-cpupipe dovecot-cpupipe ".server_cpu_ms_per_session|(.*1000|round)/1000" info 0
		lrow "CPU ms/session ours pipelined / not" ours-cpupipe ours-cpu ".server_cpu_ms_per_session|(.*1000|round)/1000" info 0
		lrow "login p99 ms ours / Dovecot ($LIMITS_LAT_CLIENTS clients, 4 KiB)" ours-lat dovecot-lat ".login_latency.p99_ms|$p" max 0.333
		lrow "RETR p99 ms ours / Dovecot ($LIMITS_LAT_CLIENTS clients, 4 KiB)" ours-lat dovecot-lat ".retr_latency.p99_ms|$p" max 0.333
		lrow "sessions/s ours / Dovecot ($LIMITS_CPU_CLIENTS clients)" ours-cpu dovecot-cpu ".sessions_per_s|$p" info 0
		if [[ -s $i ]]; then
			jq -r --arg n "$IDLE_OURS" '"idle logged-in connections: held \(.idle.held)/\($n), alive at the end \(.idle.alive_at_end), NOOP rounds \(.idle.noop_rounds // 0), errors \(.errors)"' "$i"
			jq -r '"PSS KiB per idle connection: after opening \(.idle.pss_per_connection_kib * 100 | round / 100), after the NOOP rounds \((.idle.pss_per_connection_after_noop_kib // 0) * 100 | round / 100) (target <= 5), steal \(.steal_percent * 10 | round / 10)%"' "$i"
		fi
		if [[ -s $OUT/runtime-idle-vars.json && -s $i ]]; then
			# Where an idle connection's memory goes, from the Go runtime
			# in the middle of the hold (after a NOOP round).
			jq -r --slurpfile r "$i" '($r[0].idle.held) as $n | .memstats |
				"Go runtime per idle connection (mid-hold): stacks \(.StackInuse / $n / 1024 * 100 | round / 100) KiB, heap in use \(.HeapInuse / $n / 1024 * 100 | round / 100) KiB, heap objects \(.HeapAlloc / $n / 1024 * 100 | round / 100) KiB, runtime other \((.MSpanInuse + .MCacheInuse + .BuckHashSys + .GCSys + .OtherSys) / $n / 1024 * 100 | round / 100) KiB"' "$OUT/runtime-idle-vars.json" || true
		fi
		[[ -z $IDLE_NOTE ]] || echo "note: $IDLE_NOTE"
		printf "%-46s %11s %11s\n" "errors/integrity errors, all runs (ours, dovecot)" "$(errors_of ours)" "$(errors_of dovecot)"
		printf "%-46s %11s\n" "errors/integrity errors, loopback copy" "$(errors_of loopback)"
	} | tee "$OUT/table.txt"
}

# --- table --------------------------------------------------------------------

# runs SERVER SUFFIX: the result files of one measurement: the single run
# (idle) or one per round (loads).
runs() {
	local f=$OUT/$1-$2.json
	if [[ -s $f ]]; then
		echo "$f"
		return
	fi
	ls "$OUT/$1-$2"-r*.json 2>/dev/null || true
}

# val SERVER SUFFIX JQ: a number from the results, the median over the
# rounds; "-" when there is none, "failed" when a run had errors or
# integrity errors.
val() {
	local files
	mapfile -t files < <(runs "$1" "$2")
	((${#files[@]} > 0)) || { echo -; return; }
	if [[ $(jq -s 'map(.errors + .integrity_errors) | add' "${files[@]}") != 0 ]]; then
		echo failed
		return
	fi
	jq -s -r "[.[] | ($3) | numbers] | sort | if length == 0 then \"-\" else .[(length - 1) / 2 | floor] end" "${files[@]}" 2>/dev/null || echo -
}

# ratios SUFFIX JQ: the ratio A/B of each round (A, B: servers, by
# default ours and dovecot).
ratios() {
	local r a b out=()
	for r in $(seq 1 "$ROUNDS"); do
		a=$OUT/${A:-ours}-$1-r$r.json b=$OUT/${B:-dovecot}-$1-r$r.json
		[[ -s $a && -s $b ]] || continue
		out+=("$(jq -n -r --slurpfile a "$a" --slurpfile b "$b" "(\$a[0] | $2) as \$x | (\$b[0] | $2) as \$y | if \$y > 0 then (\$x / \$y * 100 | round) / 100 else \"-\" end" 2>/dev/null || echo -)")
	done
	echo "${out[*]:-}"
}

# row LABEL JQ FILE-SUFFIX TARGET-KIND TARGET-RATIO
#   kind "min": ours/dovecot must be at least the ratio; "max": at most;
#   "info": no target. The ratio is that of the medians; the last column
#   lists the ratio of each round.
row() {
	local label=$1 expr=$2 suffix=$3 kind=$4 want=$5
	local a b per
	a=$(val "${A:-ours}" "$suffix" "$expr")
	b=$(val "${B:-dovecot}" "$suffix" "$expr")
	per=$(ratios "$suffix" "$expr")
	awk -v l="$label" -v a="$a" -v b="$b" -v k="$kind" -v w="$want" -v per="$per" 'BEGIN {
		r = "-"; verdict = "-"
		if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b + 0 > 0) {
			ratio = a / b; r = sprintf("%.2fx", ratio)
			if (k != "info") verdict = (k == "min" ? ratio >= w : ratio <= w) ? "met" : "not met"
		}
		t = (k == "info" ? "" : (k == "min" ? ">= " : "<= ") w "x")
		printf "%-44s %12s %12s %9s   %-8s %-8s %s\n", l, a, b, r, t, verdict, per
	}'
}

# steal_line SUFFIX: the stolen share of the machine's CPU in each round
# of a load, ours/dovecot: rounds with much steal measured the host.
steal_line() {
	local r out=() s
	steal_of() { jq -r '.steal_percent // -1 | if . < 0 then "?" else (. * 10 | round) / 10 end' "$1" 2>/dev/null || echo -; }
	for r in $(seq 1 "$ROUNDS"); do
		local one=()
		for s in $SERVERS; do
			one+=("$(steal_of "$OUT/$s-$1-r$r.json")")
		done
		out+=("$(IFS=/; echo "${one[*]}")")
	done
	printf "%-44s %s\n" "steal % by round ($(tr ' ' / <<<"$SERVERS")), $1" "${out[*]}"
}

errors_of() {
	local s=$1 e=0 i=0 f
	for f in "$OUT/$s"-*.json; do
		[[ -s $f ]] || continue
		e=$((e + $(jq '.errors // 0' "$f"))); i=$((i + $(jq '.integrity_errors // 0' "$f")))
	done
	echo "$e/$i"
}

table() {
	local p='(.*100|round)/100'
	{
		echo
		echo "caddy-pop3 $(git -C "$REPO" rev-parse --short HEAD) vs Dovecot $(dovecot --version | cut -d' ' -f1), $CORES cores, $(date -u +%Y-%m-%dT%H:%MZ)"
		echo "load average at start: $LOAD_START (other work on this machine skews the numbers)"
		echo "auth $AUTH, password scheme $SCHEME, $DURATION per run, medians of $ROUNDS rounds; mail $SMALL_USERS users x $SMALL_MESSAGES x $SMALL_SIZE B (small), $BIG_USERS x $BIG_MESSAGES x $BIG_SIZE B (big)"
		printf "%-44s %12s %12s %9s   %-8s %-8s %s\n" metric caddy-pop3 dovecot ratio target verdict "ratio of each round"
		row "sessions/s, small, 8 clients" ".sessions_per_s|$p" small-8 min 3
		row "sessions/s, small, 32 clients" ".sessions_per_s|$p" small-32 min 3
		row "RETR MB/s, big (5 MiB), 1 client" ".mb_per_s|$p" big-1 min 2
		row "RETR MB/s, big (5 MiB), 4 clients" ".mb_per_s|$p" big-4 min 2
		row "PSS KiB per idle authenticated connection" ".idle.pss_per_connection_kib|$p" idle max 0.05
		row "login p99 ms, small, 32 clients" ".login_latency.p99_ms|$p" small-32 max 1
		row "server CPU ms per session, small, 32 clients" ".server_cpu_ms_per_session|$p" small-32 info 0
		row "server CPU ms per session, big, 1 client" ".server_cpu_ms_per_session|$p" big-1 info 0
		printf "%-44s %12s %12s\n" "idle connections held / asked" \
			"$(jq .idle.alive_at_end "$OUT/ours-idle.json" 2>/dev/null)/$IDLE_OURS" "$(jq .idle.alive_at_end "$OUT/dovecot-idle.json" 2>/dev/null)/$IDLE_DOVECOT"
		[[ -z $IDLE_NOTE ]] || echo "note: $IDLE_NOTE"
		steal_line small-8
		steal_line small-32
		printf "%-44s %12s %12s\n" "errors/integrity errors, all runs" "$(errors_of ours)" "$(errors_of dovecot)"
		if [[ " $SERVERS " == *" pg "* ]]; then
			echo
			echo "caddy-pop3 on postgres (pg) against caddy-pop3 on maildir (ours) and Dovecot; targets of #18"
			printf "%-44s %12s %12s %9s   %-8s %-8s %s\n" metric pg maildir ratio target verdict "ratio of each round"
			A=pg B=ours row "sessions/s, small, 8 clients" ".sessions_per_s|$p" small-8 min 0.5
			A=pg B=ours row "sessions/s, small, 32 clients" ".sessions_per_s|$p" small-32 min 0.5
			A=pg B=ours row "RETR MB/s, big (5 MiB), 1 client" ".mb_per_s|$p" big-1 min 0.5
			A=pg B=ours row "server CPU ms per session, small, 8 clients" ".server_cpu_ms_per_session|$p" small-8 info 0
			A=pg B=ours row "database CPU ms per session, small, 8 clients" ".db_cpu_ms_per_session // 0|$p" small-8 info 0
			A=pg B=ours row "node + database CPU ms/session, small, 8" "(.server_cpu_ms_per_session // 0) + (.db_cpu_ms_per_session // 0)|$p" small-8 info 0
			printf "%-44s %12s %12s %9s   %-8s %-8s %s\n" metric pg dovecot ratio target verdict "ratio of each round"
			A=pg B=dovecot row "sessions/s, small, 8 clients" ".sessions_per_s|$p" small-8 min 2
			A=pg B=dovecot row "sessions/s, small, 32 clients" ".sessions_per_s|$p" small-32 min 2
			printf "%-44s %12s\n" "errors/integrity errors, all runs (pg)" "$(errors_of pg)"
		fi
	} | tee "$OUT/table.txt"
}

# --- main ---------------------------------------------------------------------

if [[ $LIMITS == 1 && -n ${TABLE_ONLY:-} ]]; then
	# Print the table of an earlier LIMITS run again: TABLE_ONLY=<its results directory>.
	OUT=$TABLE_ONLY
	LOAD_START="(see the first table)"
	limits_table
	exit 0
fi
mkdir -p "$WORK"
chmod 755 "$WORK"
OUT=$WORK/results/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
install_packages
ensure_vmail
raise_nofile
build
if [[ $LIMITS == 1 ]]; then
	generate_mail
	choose_scheme
	run_limits
	limits_table
	log "results: $OUT"
	exit 0
fi
if [[ $POLL == 1 ]]; then
	generate_poll_mail
	choose_scheme
	run_poll
	poll_table
	log "results: $OUT"
	exit 0
fi
generate_mail
choose_scheme
if [[ $IDLE == 1 ]]; then
	for s in $SERVERS; do
		run_idle "$s"
	done
fi
run_loads
table
log "results: $OUT"
[[ -s $OUT/ours-profile.txt ]] && log "CPU profile of caddy-pop3: $OUT/ours-profile.txt"
exit 0
