package command

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"
)

// The README's compatibility section is generated from the table (cmd/gendocs), so it can
// never claim a command ferricd lacks or miss one it gained.

// redisCommandList is every command and subcommand of Redis 7.0.15 (COMMAND LIST, sorted),
// recorded once from the real server.
//
//go:embed testdata/redis-7.0-commands.txt
var redisCommandList string

// compatNote is how a command differs from Redis; commands without one behave as Redis 7.0.
type compatNote struct {
	status string // "partial" or "no-op"; "" means full support
	note   string
}

// compatNotes holds the deviations the implementing families document. Keyed by full name.
var compatNotes = map[string]compatNote{
	"unlink":                  {"", "same as DEL: deletes are O(1) for every type"},
	"touch":                   {"partial", "no access times are kept; counts the existing keys"},
	"copy":                    {"partial", "database 0 only (`DB n` with n ≠ 0: `ERR DB index is out of range`)"},
	"keys":                    {"", "a pattern whose literal prefix holds a hash tag reads one slot"},
	"scan":                    {"", "the cursor is a slot number; whole slots per call, so no key is returned twice"},
	"object|encoding":         {"partial", "strings exact (the writing command is recorded)"},
	"object|freq":             {"partial", "no LFU counters: always Redis' non-LFU-policy error"},
	"object|idletime":         {"partial", "no access clock: always 0"},
	"object|refcount":         {"partial", "derived: 2147483647 for shared integers 0..9999, else 1"},
	"memory|usage":            {"partial", "an estimate; matches Redis 7.0 (jemalloc, 64-bit) for strings"},
	"flushall":                {"", "ASYNC and SYNC both reply once every shard has dropped its data"},
	"flushdb":                 {"", "one database: same as FLUSHALL"},
	"save":                    {"no-op", "every acknowledged write is already durable"},
	"bgsave":                  {"no-op", "every acknowledged write is already durable"},
	"lastsave":                {"", "the node's last durable point"},
	"config|rewrite":          {"partial", "only when the node was started from a config file"},
	"command|docs":            {"partial", "no argument descriptions"},
	"function|list":           {"partial", "ferricd has no functions: always empty"},
	"function|flush":          {"no-op", "ferricd has no functions"},
	"command|getkeys":         {"", "keys as ferricd routes them"},
	"memory|help":             {"", "lists the subcommands ferricd implements"},
	"function|help":           {"", "lists the subcommands ferricd implements"},
	"command|list":            {"", "FILTERBY MODULE always matches nothing"},
	"command|getkeysandflags": {"", "access flags from Redis 7.0's key specs"},
	"cluster|info":            {"partial", "state from raft leadership; a node's config epoch is its id; message counters 0"},
	"cluster|nodes":           {"partial", "every member is a master showing the shards it leads (it also follows others); no ping/pong times"},
	"cluster|meet":            {"", "adds a node started with `cluster-join yes`; answers once it is met; replicas then move to it"},
	"cluster|forget":          {"", "removes a member for good, cluster-wide; its replicas move to the others; its id is never reused"},
	"cluster|slots":           {"", "one range per raft shard: leader, then connected followers; a shard without a leader is left out until one is elected"},
	"cluster|shards":          {"partial", "one entry per raft shard, leader as master; replication-offset always 0"},
	"cluster|countkeysinslot": {"", "every key of the slot, whichever node holds it"},
	"cluster|getkeysinslot":   {"", "every key of the slot, whichever node holds it, in key order"},
	"cluster|help":            {"", "lists the subcommands ferricd implements"},
	"multi":                   {"partial", "the transaction's keys must share one shard (else `CROSSSLOT`, as Redis Cluster); server commands inside split it"},
	"exec":                    {"", "one raft entry: atomic, isolated and durable; blocking commands answer as timed out"},
	"watch":                   {"partial", "keys on the transaction's shard; a key absent at WATCH, created and deleted again before EXEC, is not seen as changed"},
}

// compatNoteOf is name's deviation: compatNotes, or the reason a refused CLUSTER subcommand
// gives.
func compatNoteOf(name string) compatNote {
	if n, ok := compatNotes[name]; ok {
		return n
	}
	n, _ := clusterCompatNote(name)
	return n
}

// CompatTable renders the README's command compatibility section: a markdown table of every
// command and subcommand ferricd implements, then the Redis 7.0 commands it does not
// implement yet.
func CompatTable(t *Table) string {
	var b strings.Builder
	b.WriteString("| Command | Group | ferricd | Notes |\n|---|---|---|---|\n")
	have := make(map[string]bool)
	for _, s := range cmdSortedSpecs(t.All()) {
		rows := []*Spec{s}
		if len(s.Subcommands) > 0 {
			rows = append(rows, cmdSubSpecs(s)...)
		}
		for _, r := range rows {
			have[r.Name] = true
			n := compatNoteOf(r.Name)
			status := "yes"
			if n.status != "" {
				status = n.status
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", compatName(r.Name), r.Group, status, mdEscape(n.note))
		}
	}
	var missing []string
	for _, name := range strings.Fields(redisCommandList) {
		if !have[name] {
			missing = append(missing, compatName(name))
		}
	}
	slices.Sort(missing)
	for i, name := range missing {
		missing[i] = "`" + name + "`"
	}
	fmt.Fprintf(&b, "\nNot implemented yet (%d of Redis 7.0's %d commands and subcommands): ",
		len(missing), len(strings.Fields(redisCommandList)))
	if len(missing) == 0 {
		b.WriteString("none.\n")
	} else {
		b.WriteString(strings.Join(missing, ", ") + ".\n")
	}
	return b.String()
}

// compatName writes "config|get" as users type it: CONFIG GET.
func compatName(name string) string {
	return strings.ToUpper(strings.ReplaceAll(name, "|", " "))
}

// mdEscape keeps a note inside its table cell.
func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
