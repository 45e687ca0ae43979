#!/usr/bin/env bash
# tests/images/registry.sh — a throw-away OCI distribution registry on 127.0.0.1: Debian's
# docker-registry (installed when missing), plain http, its storage in a directory of the caller's.
#
# Usage:
#   tests/images/registry.sh start DIR [--basic USER:PASSWORD | --token USER:PASSWORD]
#   tests/images/registry.sh stop DIR
#
# start: writes DIR/config.yml, stores under DIR/storage (the filesystem driver: blobs are
#   DIR/storage/docker/registry/v2/blobs/sha256/XX/HEX/data, what tamper.sh overwrites), logs to
#   DIR/log, listens on a free port of 127.0.0.1 (DIR/port), pid in DIR/pid; returns once
#   http://127.0.0.1:PORT/v2/ answers. Prints "127.0.0.1:PORT".
#   No auth by default (anonymous push and pull).
#   --basic USER:PASSWORD  HTTP basic auth (an htpasswd file with a bcrypt hash: apache2-utils's
#                          htpasswd, installed when missing). Anonymous requests get 401.
#   --token USER:PASSWORD  token auth: the registry sends clients to a token server
#                          (token-server.py beside this script, on its own free port, DIR/token.port,
#                          pid in DIR/token.pid, requests logged in DIR/token.log) which gives a token
#                          for USER:PASSWORD, an empty one to anonymous clients, and 401 for wrong
#                          credentials. The key and certificate are made with openssl in DIR.
# stop: kills the processes whose pids start wrote (after checking they are still this
#   registry's: a pid's command line must name DIR), waits for them, removes the pid files;
#   never kills by name, leaves DIR's other contents to the caller.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
usage() { echo "usage: tests/images/registry.sh start DIR [--basic USER:PASSWORD | --token USER:PASSWORD] | stop DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1
DIR=$2
shift 2

# ours PIDFILE: prints the pid if its process is alive and its command line names DIR.
ours() {
	local pid
	[ -s "$1" ] || return 1
	pid=$(cat "$1")
	[ -r "/proc/$pid/cmdline" ] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$DIR" || return 1
	echo "$pid"
}
# stop_pid PIDFILE
stop_pid() {
	local pid
	if pid=$(ours "$1"); then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$1"
}

apt_install() {
	apt-get update -qq >/dev/null 2>&1 || true
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1
}

case "$cmd" in
stop)
	[ -d "$DIR" ] || exit 0
	DIR=$(cd "$DIR" && pwd)
	stop_pid "$DIR/pid"
	stop_pid "$DIR/token.pid"
	exit 0
	;;
start) ;;
*) usage ;;
esac

auth=none creds=
case "${1:-}" in
"") ;;
--basic | --token)
	auth=${1#--}
	creds=${2:?"$1 needs USER:PASSWORD"}
	case "$creds" in *:*) ;; *) usage ;; esac
	;;
*) usage ;;
esac

command -v docker-registry >/dev/null || apt_install docker-registry || {
	echo "registry.sh: docker-registry is not installed and could not be" >&2
	exit 1
}
command -v curl >/dev/null || apt_install curl

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
if ours "$DIR/pid" >/dev/null; then
	echo "registry.sh: a registry already runs for $DIR" >&2
	exit 1
fi
mkdir -p "$DIR/storage"

authconf=
case "$auth" in
basic)
	command -v htpasswd >/dev/null || apt_install apache2-utils || true
	if command -v htpasswd >/dev/null; then
		htpasswd -Bbn "${creds%%:*}" "${creds#*:}" >"$DIR/htpasswd" 2>/dev/null
	elif python3 -c 'import bcrypt' 2>/dev/null; then
		python3 -c 'import bcrypt, sys; print(sys.argv[1] + ":" + bcrypt.hashpw(sys.argv[2].encode(), bcrypt.gensalt()).decode())' \
			"${creds%%:*}" "${creds#*:}" >"$DIR/htpasswd"
	else
		echo "registry.sh: --basic needs htpasswd (apache2-utils) or Python's bcrypt" >&2
		exit 1
	fi
	authconf="auth:
  htpasswd:
    realm: rcontainer-test
    path: $DIR/htpasswd"
	;;
token)
	command -v openssl >/dev/null || apt_install openssl
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=rcontainer-test-token \
		-addext keyUsage=digitalSignature,keyCertSign -addext basicConstraints=critical,CA:TRUE \
		-keyout "$DIR/token.key" -out "$DIR/token.crt" >/dev/null 2>&1
	rm -f "$DIR/token.port"
	python3 "$HERE/token-server.py" "$DIR" "${creds%%:*}" "${creds#*:}" </dev/null >>"$DIR/token.out" 2>&1 &
	echo $! >"$DIR/token.pid"
	for _ in $(seq 100); do [ -s "$DIR/token.port" ] && break; sleep 0.05; done
	if [ ! -s "$DIR/token.port" ]; then
		echo "registry.sh: the token server did not start:" >&2
		tail -n 20 "$DIR/token.out" >&2
		stop_pid "$DIR/token.pid"
		exit 1
	fi
	authconf="auth:
  token:
    realm: http://127.0.0.1:$(cat "$DIR/token.port")/token
    service: rcontainer-test-registry
    issuer: rcontainer-test-issuer
    rootcertbundle: $DIR/token.crt"
	;;
esac

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A free port now may be taken before the registry binds it: a few tries.
for try in 1 2 3 4 5; do
	port=$(free_port)
	cat >"$DIR/config.yml" <<EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $DIR/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: rcontainer-test-$$-$port
$authconf
EOF
	docker-registry serve "$DIR/config.yml" </dev/null >>"$DIR/log" 2>&1 &
	pid=$!
	echo "$pid" >"$DIR/pid"
	for _ in $(seq 100); do
		code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$port/v2/" || true)
		case "$code" in 200 | 401)
			echo "$port" >"$DIR/port"
			echo "127.0.0.1:$port"
			exit 0
			;;
		esac
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	stop_pid "$DIR/pid"
	echo "registry.sh: try $try: the registry did not answer on 127.0.0.1:$port" >&2
done
echo "registry.sh: the registry did not start; its log:" >&2
tail -n 20 "$DIR/log" >&2
stop_pid "$DIR/token.pid"
exit 1
