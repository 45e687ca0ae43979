# tests/lib.sh — what the shell suites (tests/clients, tests/images, tests/rootless) share: the
# TAP-like tally. Source it, then: `ok DESC` for a passed check, `bad DESC [DETAIL]` for a failed
# one (DETAIL, the output, is printed folded onto one line, at most 2000 bytes); $pass, $fail and
# the array FAILED (the failed checks' descriptions) hold the tally for the summary.
pass=0
fail=0
FAILED=()
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() {
	fail=$((fail + 1))
	FAILED+=("$1")
	echo "not ok - $1"
	[ -z "${2:-}" ] || printf '#   %s\n' "$(printf '%s' "$2" | head -c 2000 | tr '\n' '|')"
}
