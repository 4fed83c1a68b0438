# Helpers shared by the benchmark scripts; sourced, not run.

# keep_log_if_died PID LOG NAME: if the process PID (a server the script started and has not
# stopped yet) is gone, copy its LOG out of the work directory, which cleanup deletes, and show
# its last lines: a server that exits during a benchmark is a bug, and its log is the evidence.
keep_log_if_died() {
	[ -n "$1" ] && [ -f "$2" ] || return 0
	kill -0 "$1" 2>/dev/null && return 0
	local kept
	kept=$(mktemp "/tmp/$3-died.XXXXXX.log")
	cp "$2" "$kept"
	echo "$3 exited during the benchmark; its log is kept in $kept, last lines:" >&2
	tail -n 30 "$kept" >&2
}
