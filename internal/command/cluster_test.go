package command

import (
	"bufio"
	"context"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"ferricd/internal/reply"
	"ferricd/internal/routing"
)

// CLUSTER on the fake node (server_fake_test.go): the standalone view it returns by default
// and multi-node views set through srvFake.cluster. Reply shapes and error texts are Redis
// 7.0.15's (captured from a cluster-mode redis-server; TestClusterAgainstRedis replays the
// view-independent part on one when FERRICD_REDIS_CLUSTER_ADDR names it).

// clusterName is a test member's 40-character name.
func clusterName(id int) string { return strings.Repeat(strconv.Itoa(id), 40) }

// clusterExpand replaces the placeholders N1..N9 of a wanted reply with member names.
func clusterExpand(s string) string {
	var pairs []string
	for i := 1; i <= 9; i++ {
		pairs = append(pairs, "N"+strconv.Itoa(i), clusterName(i))
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// clusterShardNode renders one node of a CLUSTER SHARDS reply as reply.Value.String does.
func clusterShardNode(id, port int, ip, role, health string) string {
	return `["id" "` + clusterName(id) + `" "port" :` + strconv.Itoa(port) + ` "ip" "` + ip + `" "endpoint" "` + ip +
		`" "role" "` + role + `" "replication-offset" :0 "health" "` + health + `"]`
}

// clusterThreeNodes: node 1 (self) leads two adjacent shards, node 2 one, the last shard has
// no leader; node 3 is disconnected and follows everything, node 4 has joined without an
// address and holds nothing. Shards come out of slot order on purpose.
func clusterThreeNodes() *ClusterView {
	return &ClusterView{
		Self: 1,
		Nodes: []ClusterNode{
			{ID: 1, Name: clusterName(1), Host: "10.0.0.1", Port: 7001, BusPort: 17001, Connected: true},
			{ID: 2, Name: clusterName(2), Host: "10.0.0.2", Port: 7002, BusPort: 17002, Connected: true},
			{ID: 3, Name: clusterName(3), Host: "10.0.0.3", Port: 7003, BusPort: 17003},
			{ID: 4, Name: clusterName(4)},
		},
		Shards: []ClusterShard{
			{Start: 8192, End: 12288, Leader: 2, Replicas: []uint64{1, 2, 3}},
			{Start: 0, End: 4096, Leader: 1, Replicas: []uint64{1, 2, 3}},
			{Start: 12288, End: 16384, Replicas: []uint64{1, 2, 3}},
			{Start: 4096, End: 8192, Leader: 1, Replicas: []uint64{2, 1}},
		},
	}
}

func TestClusterStandalone(t *testing.T) {
	g := newSrvHarness(t)
	me := "e1e2e3e4e5e6e7e8e9e0e1e2e3e4e5e6e7e8e9e0"
	for _, c := range []struct {
		args []string
		want string // recTyped rendering: RESP3 types included
	}{
		{[]string{"CLUSTER", "INFO"}, `="cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\n` +
			`cluster_slots_pfail:0\r\ncluster_slots_fail:0\r\ncluster_known_nodes:1\r\ncluster_size:1\r\n` +
			`cluster_current_epoch:1\r\ncluster_my_epoch:1\r\ncluster_stats_messages_sent:0\r\n` +
			`cluster_stats_messages_received:0\r\ntotal_cluster_links_buffer_limit_exceeded:0\r\n"`},
		{[]string{"cluster", "myid"}, `$"` + me + `"`},
		{[]string{"CLUSTER", "NODES"}, `="` + me + ` 127.0.0.1:6379@16379 myself,master - 0 0 1 connected 0-16383\n"`},
		{[]string{"Cluster", "Slots"}, `*[*[:0 :16383 *[$"127.0.0.1" :6379 $"` + me + `" %[]]]]`},
		{[]string{"CLUSTER", "SHARDS"}, `*[%[$"slots" *[:0 :16383] $"nodes" *[%[$"id" $"` + me + `" $"port" :6379 ` +
			`$"ip" $"127.0.0.1" $"endpoint" $"127.0.0.1" $"role" $"master" $"replication-offset" :0 $"health" $"online"]]]]`},
	} {
		if got := recTyped(g.run(c.args...)); got != c.want {
			t.Errorf("%q:\n got  %s\n want %s", c.args, got, c.want)
		}
	}
}

func TestClusterViews(t *testing.T) {
	single := func(id int, host string, port int) *ClusterView {
		return &ClusterView{Self: uint64(id), Nodes: []ClusterNode{
			{ID: uint64(id), Name: clusterName(id), Host: host, Port: port, BusPort: port + 10000, Connected: true}}}
	}
	// Node 1 leads slot 0, slots 2-99 and 100-199 (merged), node 2 slot 1; node 3 is gone
	// from the member list but still named as a replica and as a leader.
	ranges := single(1, "h1", 1)
	ranges.Nodes = append(ranges.Nodes, ClusterNode{ID: 2, Name: clusterName(2), Host: "h2", Port: 2, BusPort: 3})
	ranges.Shards = []ClusterShard{
		{Start: 0, End: 1, Leader: 1, Replicas: []uint64{1, 2}},
		{Start: 1, End: 2, Leader: 2, Replicas: []uint64{2, 1, 3}},
		{Start: 2, End: 100, Leader: 1, Replicas: []uint64{1}},
		{Start: 100, End: 200, Leader: 1, Replicas: []uint64{1, 2}},
		{Start: 200, End: routing.NumSlots, Leader: 3, Replicas: []uint64{3, 1}},
	}
	// A node that does not know its own host yet (listening on every interface).
	noHost := single(7, "", 6379)
	noHost.Shards = []ClusterShard{{Start: 0, End: routing.NumSlots, Leader: 7, Replicas: []uint64{7}}}

	for _, c := range []struct {
		name string
		view *ClusterView
		args []string
		want string // reply.Value.String rendering, N1..N9 standing for member names
	}{
		{"three nodes info", clusterThreeNodes(), []string{"CLUSTER", "INFO"},
			`"cluster_state:fail\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:12288\r\ncluster_slots_pfail:0\r\n` +
				`cluster_slots_fail:4096\r\ncluster_known_nodes:4\r\ncluster_size:2\r\ncluster_current_epoch:4\r\n` +
				`cluster_my_epoch:1\r\ncluster_stats_messages_sent:0\r\ncluster_stats_messages_received:0\r\n` +
				`total_cluster_links_buffer_limit_exceeded:0\r\n"`},
		{"three nodes myid", clusterThreeNodes(), []string{"CLUSTER", "MYID"}, `"N1"`},
		{"three nodes nodes", clusterThreeNodes(), []string{"CLUSTER", "NODES"},
			`"N1 10.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-8191\n` +
				`N2 10.0.0.2:7002@17002 master - 0 0 2 connected 8192-12287\n` +
				`N3 10.0.0.3:7003@17003 master - 0 0 3 disconnected\n` +
				`N4 :0@0 master,noaddr - 0 0 4 disconnected\n"`},
		{"three nodes slots", clusterThreeNodes(), []string{"CLUSTER", "SLOTS"},
			`[[:0 :4095 ["10.0.0.1" :7001 "N1" []] ["10.0.0.2" :7002 "N2" []]] ` +
				`[:4096 :8191 ["10.0.0.1" :7001 "N1" []] ["10.0.0.2" :7002 "N2" []]] ` +
				`[:8192 :12287 ["10.0.0.2" :7002 "N2" []] ["10.0.0.1" :7001 "N1" []]]]`},
		{"three nodes shards", clusterThreeNodes(), []string{"CLUSTER", "SHARDS"}, `[` +
			`["slots" [:0 :4095] "nodes" [` + clusterShardNode(1, 7001, "10.0.0.1", "master", "online") + ` ` +
			clusterShardNode(2, 7002, "10.0.0.2", "replica", "online") + ` ` +
			clusterShardNode(3, 7003, "10.0.0.3", "replica", "fail") + `]] ` +
			`["slots" [:4096 :8191] "nodes" [` + clusterShardNode(1, 7001, "10.0.0.1", "master", "online") + ` ` +
			clusterShardNode(2, 7002, "10.0.0.2", "replica", "online") + `]] ` +
			`["slots" [:8192 :12287] "nodes" [` + clusterShardNode(2, 7002, "10.0.0.2", "master", "online") + ` ` +
			clusterShardNode(1, 7001, "10.0.0.1", "replica", "online") + ` ` +
			clusterShardNode(3, 7003, "10.0.0.3", "replica", "fail") + `]] ` +
			`["slots" [:12288 :16383] "nodes" [` + clusterShardNode(1, 7001, "10.0.0.1", "replica", "online") + ` ` +
			clusterShardNode(2, 7002, "10.0.0.2", "replica", "online") + ` ` +
			clusterShardNode(3, 7003, "10.0.0.3", "replica", "fail") + `]] ` +
			`["slots" [] "nodes" [` + clusterShardNode(4, 0, "", "master", "fail") + `]]]`},

		// A leader that is not a member counts as no leader; an unknown replica is skipped.
		{"ranges info", ranges, []string{"CLUSTER", "INFO"},
			`"cluster_state:fail\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:200\r\ncluster_slots_pfail:0\r\n` +
				`cluster_slots_fail:16184\r\ncluster_known_nodes:2\r\ncluster_size:2\r\ncluster_current_epoch:2\r\n` +
				`cluster_my_epoch:1\r\ncluster_stats_messages_sent:0\r\ncluster_stats_messages_received:0\r\n` +
				`total_cluster_links_buffer_limit_exceeded:0\r\n"`},
		{"ranges nodes", ranges, []string{"CLUSTER", "NODES"},
			`"N1 h1:1@10001 myself,master - 0 0 1 connected 0 2-199\nN2 h2:2@3 master - 0 0 2 disconnected 1\n"`},
		{"ranges slots", ranges, []string{"CLUSTER", "SLOTS"},
			`[[:0 :0 ["h1" :1 "N1" []]] [:1 :1 ["h2" :2 "N2" []] ["h1" :1 "N1" []]] [:2 :99 ["h1" :1 "N1" []]] [:100 :199 ["h1" :1 "N1" []]]]`},

		{"no host nodes", noHost, []string{"CLUSTER", "NODES"}, `"N7 :6379@16379 myself,master - 0 0 7 connected 0-16383\n"`},
		{"no host slots", noHost, []string{"CLUSTER", "SLOTS"}, `[[:0 :16383 ["" :6379 "N7" []]]]`},

		// Before the node knows anything: no shards, only itself.
		{"empty info", single(5, "h", 9), []string{"CLUSTER", "INFO"},
			`"cluster_state:fail\r\ncluster_slots_assigned:0\r\ncluster_slots_ok:0\r\ncluster_slots_pfail:0\r\n` +
				`cluster_slots_fail:0\r\ncluster_known_nodes:1\r\ncluster_size:0\r\ncluster_current_epoch:5\r\n` +
				`cluster_my_epoch:5\r\ncluster_stats_messages_sent:0\r\ncluster_stats_messages_received:0\r\n` +
				`total_cluster_links_buffer_limit_exceeded:0\r\n"`},
		{"empty nodes", single(5, "h", 9), []string{"CLUSTER", "NODES"}, `"N5 h:9@10009 myself,master - 0 0 5 connected\n"`},
		{"empty slots", single(5, "h", 9), []string{"CLUSTER", "SLOTS"}, `[]`},
		{"empty shards", single(5, "h", 9), []string{"CLUSTER", "SHARDS"},
			`[["slots" [] "nodes" [` + clusterShardNode(5, 9, "h", "master", "online") + `]]]`},
		{"self unknown", &ClusterView{Self: 9}, []string{"CLUSTER", "MYID"}, `-ERR internal error`},
		{"self unknown nodes", &ClusterView{Self: 9}, []string{"CLUSTER", "NODES"}, `""`},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newSrvHarness(t)
			g.srv.cluster = c.view
			if got, want := g.run(c.args...).String(), clusterExpand(c.want); got != want {
				t.Errorf("%q:\n got  %s\n want %s", c.args, got, want)
			}
		})
	}
}

func TestClusterReplyKinds(t *testing.T) {
	g := newSrvHarness(t)
	g.srv.cluster = clusterThreeNodes()
	for _, c := range []struct {
		sub  string
		kind reply.Kind
	}{
		{"INFO", reply.KindVerbatim}, {"NODES", reply.KindVerbatim}, {"MYID", reply.KindBulk},
		{"SLOTS", reply.KindArray}, {"SHARDS", reply.KindArray}, {"HELP", reply.KindArray},
	} {
		if v := g.run("CLUSTER", c.sub); v.Kind != c.kind {
			t.Errorf("CLUSTER %s kind %d, want %d", c.sub, v.Kind, c.kind)
		}
	}
	// RESP3 types inside SHARDS: a map per shard and per node, arrays of slots and nodes.
	got := recTyped(g.run("CLUSTER", "SHARDS"))
	if !strings.HasPrefix(got, `*[%[$"slots" *[:0 :4095] $"nodes" *[%[$"id" $"`) {
		t.Errorf("CLUSTER SHARDS = %.80s", got)
	}
}

// clusterHelpLines is the CLUSTER HELP text as the harness renders it.
func clusterHelpLines(v reply.Value) string {
	var lines []string
	for _, e := range v.Elems {
		lines = append(lines, e.String())
	}
	return strings.Join(lines, "\n")
}

func TestClusterKeysAndErrors(t *testing.T) {
	g := newSrvHarness(t)
	// {b} hashes to slot 3300; "a" to 15495.
	for _, k := range []string{"{b}c", "{b}a", "{b}e", "{b}b", "{b}d", "a"} {
		g.set(k, "1", 0)
	}
	g.set("{b}gone", "1", 10)
	g.advance(20)
	for _, c := range []struct {
		args string
		want string
	}{
		// KEYSLOT: CRC16 of the key or of its hash tag (values from redis-server).
		{"CLUSTER KEYSLOT foo", ":12182"},
		{"CLUSTER KEYSLOT {user}a", ":5474"},
		{`CLUSTER KEYSLOT ""`, ":0"},
		{"CLUSTER KEYSLOT {}foo", ":9500"},
		{"cluster keyslot {b}", ":3300"},
		{"CLUSTER KEYSLOT", "-ERR wrong number of arguments for 'cluster|keyslot' command"},
		{"CLUSTER KEYSLOT a b", "-ERR wrong number of arguments for 'cluster|keyslot' command"},

		// COUNTKEYSINSLOT counts like DBSIZE: an expired key counts until it is reclaimed.
		{"CLUSTER COUNTKEYSINSLOT 3300", ":6"},
		{"CLUSTER COUNTKEYSINSLOT 15495", ":1"},
		{"CLUSTER COUNTKEYSINSLOT 0", ":0"},
		{"CLUSTER COUNTKEYSINSLOT 16383", ":0"},
		{"CLUSTER COUNTKEYSINSLOT -1", "-ERR Invalid slot"},
		{"CLUSTER COUNTKEYSINSLOT 16384", "-ERR Invalid slot"},
		{"CLUSTER COUNTKEYSINSLOT abc", "-ERR value is not an integer or out of range"},
		{"CLUSTER COUNTKEYSINSLOT 1.5", "-ERR value is not an integer or out of range"},
		{"CLUSTER COUNTKEYSINSLOT +5", "-ERR value is not an integer or out of range"},
		{"CLUSTER COUNTKEYSINSLOT 007", "-ERR value is not an integer or out of range"},
		{`CLUSTER COUNTKEYSINSLOT ""`, "-ERR value is not an integer or out of range"},
		{"CLUSTER COUNTKEYSINSLOT 99999999999999999999", "-ERR value is not an integer or out of range"},
		{"CLUSTER COUNTKEYSINSLOT", "-ERR wrong number of arguments for 'cluster|countkeysinslot' command"},
		{"CLUSTER COUNTKEYSINSLOT 1 2", "-ERR wrong number of arguments for 'cluster|countkeysinslot' command"},

		// GETKEYSINSLOT: live keys, in key order, at most count.
		{"CLUSTER GETKEYSINSLOT 3300 10", `["{b}a" "{b}b" "{b}c" "{b}d" "{b}e"]`},
		{"CLUSTER GETKEYSINSLOT 3300 2", `["{b}a" "{b}b"]`},
		{"CLUSTER GETKEYSINSLOT 3300 5", `["{b}a" "{b}b" "{b}c" "{b}d" "{b}e"]`},
		{"CLUSTER GETKEYSINSLOT 3300 0", `[]`},
		{"CLUSTER GETKEYSINSLOT 15495 9223372036854775807", `["a"]`},
		{"CLUSTER GETKEYSINSLOT 3301 10", `[]`},
		{"CLUSTER GETKEYSINSLOT -1 1", "-ERR Invalid slot or number of keys"},
		{"CLUSTER GETKEYSINSLOT 16384 1", "-ERR Invalid slot or number of keys"},
		{"CLUSTER GETKEYSINSLOT 0 -1", "-ERR Invalid slot or number of keys"},
		{"CLUSTER GETKEYSINSLOT abc 1", "-ERR value is not an integer or out of range"},
		{"CLUSTER GETKEYSINSLOT 0 abc", "-ERR value is not an integer or out of range"},
		{"CLUSTER GETKEYSINSLOT 99999 abc", "-ERR value is not an integer or out of range"},
		{"CLUSTER GETKEYSINSLOT 0 -0", "-ERR value is not an integer or out of range"},
		{"CLUSTER GETKEYSINSLOT 0", "-ERR wrong number of arguments for 'cluster|getkeysinslot' command"},
		{"CLUSTER GETKEYSINSLOT 0 1 2", "-ERR wrong number of arguments for 'cluster|getkeysinslot' command"},

		// Arity of the informational subcommands, the container and unknown subcommands.
		{"CLUSTER INFO x", "-ERR wrong number of arguments for 'cluster|info' command"},
		{"CLUSTER MYID x", "-ERR wrong number of arguments for 'cluster|myid' command"},
		{"CLUSTER NODES x", "-ERR wrong number of arguments for 'cluster|nodes' command"},
		{"CLUSTER SLOTS x", "-ERR wrong number of arguments for 'cluster|slots' command"},
		{"CLUSTER SHARDS x", "-ERR wrong number of arguments for 'cluster|shards' command"},
		{"CLUSTER HELP x", "-ERR wrong number of arguments for 'cluster|help' command"},
		{"CLUSTER", "-ERR wrong number of arguments for 'cluster' command"},
		{"CLUSTER foo", "-ERR unknown subcommand 'foo'. Try CLUSTER HELP."},
		{"cluster FOO bar", "-ERR unknown subcommand 'FOO'. Try CLUSTER HELP."},
		{"CLUSTER myshardid", "-ERR unknown subcommand 'myshardid'. Try CLUSTER HELP."},

		// Refused subcommands: Redis' arity first, then why.
		{"CLUSTER ADDSLOTS", "-ERR wrong number of arguments for 'cluster|addslots' command"},
		{"CLUSTER MEET 1", "-ERR wrong number of arguments for 'cluster|meet' command"},
		{"CLUSTER SETSLOT 1 STABLE", "-ERR CLUSTER SETSLOT is not supported by ferricd: slots are assigned to raft shards automatically"},
		{"cluster addslots 1 2", "-ERR CLUSTER ADDSLOTS is not supported by ferricd: slots are assigned to raft shards automatically"},
		{"CLUSTER FAILOVER TAKEOVER", "-ERR CLUSTER FAILOVER is not supported by ferricd: shard leaders are elected by raft"},
		{"CLUSTER REPLICATE " + clusterName(2), "-ERR CLUSTER REPLICATE is not supported by ferricd: nodes replicate raft shards, not other nodes (see CLUSTER SHARDS)"},
		{"CLUSTER RESET HARD", "-ERR CLUSTER RESET is not supported by ferricd: a node's slots and membership are managed by raft"},
		{"CLUSTER MEET 127.0.0.1 7000", "+meet 127.0.0.1 17000"},
		{"CLUSTER MEET 127.0.0.1 7000 7500", "+meet 127.0.0.1 7500"},
		{"CLUSTER MEET 127.0.0.1 x", "-ERR Invalid TCP base port specified: x"},
		{"CLUSTER MEET 127.0.0.1 7000 70000", "-ERR Invalid TCP bus port specified: 70000"},
		{"CLUSTER MEET 127.0.0.1 60000", "-ERR Invalid node address specified: 127.0.0.1:60000"},
		{"CLUSTER MEET 127.0.0.1 7000 7500 9", "-ERR unknown subcommand or wrong number of arguments for 'MEET'. Try CLUSTER HELP."},
		{"CLUSTER FORGET " + clusterName(2), "+forget " + clusterName(2)},
		{"CLUSTER LINKS", "-ERR CLUSTER LINKS is not supported by ferricd yet"},
	} {
		args := clusterSplit(t, c.args)
		if got := g.run(args...).String(); got != c.want {
			t.Errorf("%s:\n got  %s\n want %s", c.args, got, c.want)
		}
	}
	// Every refused subcommand, with a well-formed invocation, answers its reason.
	for _, r := range clusterRefused {
		args := []string{"CLUSTER", r.name}
		for len(args) < max(r.arity, -r.arity) {
			args = append(args, "1")
		}
		got := g.run(args...).String()
		prefix := "-ERR CLUSTER " + strings.ToUpper(r.name) + " is not supported by ferricd"
		want := prefix + ": " + r.why
		if r.why == "" {
			want = prefix + " yet"
		}
		if got != want {
			t.Errorf("%q = %s, want %s", args, got, want)
		}
	}
	// HELP lists exactly the implemented subcommands, in Redis' wording.
	help := g.run("CLUSTER", "HELP")
	want := strings.Join([]string{
		"+CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"+COUNTKEYSINSLOT <slot>", "+    Return the number of keys in <slot>.",
		"+FORGET <node-id>", "+    Remove a node from the cluster.",
		"+GETKEYSINSLOT <slot> <count>", "+    Return key names stored by current node in a slot.",
		"+INFO", "+    Return information about the cluster.",
		"+KEYSLOT <key>", "+    Return the hash slot for <key>.",
		"+MEET <ip> <port> [<bus-port>]", "+    Connect nodes into a working cluster.",
		"+MYID", "+    Return the node id.",
		"+NODES", "+    Return cluster configuration seen by node. Output format:",
		"+    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
		"+SLOTS", "+    Return information about slots range mappings. Each range is made of:",
		"+    start, end, master and replicas IP addresses, ports and ids",
		"+SHARDS", "+    Return information about slot range mappings and the nodes associated with them.",
		"+HELP", "+    Prints this help.",
	}, "\n")
	if got := clusterHelpLines(help); got != want {
		t.Errorf("CLUSTER HELP:\n%s\nwant\n%s", got, want)
	}
	var implemented []string
	for name, s := range g.table.Get("cluster").Subcommands {
		if !slices.ContainsFunc(clusterRefused, func(r clusterRefusedSub) bool { return r.name == name }) {
			implemented = append(implemented, name)
			if s.Name == "cluster|help" {
				continue
			}
			if !strings.Contains(want, "\n+"+strings.ToUpper(name)) {
				t.Errorf("CLUSTER HELP does not mention %s", name)
			}
		}
	}
	if len(implemented) != 11 {
		t.Errorf("implemented subcommands %v", implemented)
	}
}

// clusterSplit splits a case line into arguments; "" is the empty argument.
func clusterSplit(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	for _, f := range strings.Fields(s) {
		if f == `""` {
			f = ""
		}
		out = append(out, f)
	}
	return out
}

func TestClusterReadShardFailure(t *testing.T) {
	g := newSrvHarness(t)
	srv := &clusterFailingReads{srvFake: g.srv}
	for _, args := range [][]string{{"CLUSTER", "COUNTKEYSINSLOT", "1"}, {"CLUSTER", "GETKEYSINSLOT", "1", "1"}} {
		bargs := make([][]byte, len(args))
		for i, a := range args {
			bargs[i] = []byte(a)
		}
		spec := g.table.Lookup(bargs)
		if got := spec.Server(t.Context(), srv, bargs).String(); got != "-CLUSTERDOWN The cluster is down" {
			t.Errorf("%q = %s, want ReadShard's error", args, got)
		}
	}
}

// clusterFailingReads is a node whose shard reads fail as they do when a shard has no leader.
type clusterFailingReads struct{ *srvFake }

func (*clusterFailingReads) ReadShard(context.Context, routing.Range, [][]byte) reply.Value {
	return reply.Err("CLUSTERDOWN The cluster is down")
}

func TestClusterCompatNotes(t *testing.T) {
	doc := CompatTable(New())
	for _, want := range []string{
		"| `CLUSTER SLOTS` | cluster | yes | one range per raft shard",
		"| `CLUSTER ADDSLOTS` | cluster | no | answers an error: slots are assigned to raft shards automatically |",
		"| `CLUSTER MEET` | cluster | yes | adds a node started with `cluster-join yes`",
		"| `CLUSTER KEYSLOT` | cluster | yes |  |",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("compatibility table lacks %q", want)
		}
	}
	if strings.Contains(doc, "`CLUSTER SETSLOT`,") {
		t.Error("CLUSTER SETSLOT listed as not implemented")
	}
}

// TestClusterAgainstRedis replays the view-independent answers on a real Redis 7.0 in
// cluster mode, as the only node, holding every slot (it is FLUSHALLed), e.g.
//
//	redis-server --port 7400 --cluster-enabled yes --cluster-config-file /tmp/x/nodes.conf ...
//	redis-cli -p 7400 cluster addslotsrange 0 16383
//	FERRICD_REDIS_CLUSTER_ADDR=127.0.0.1:7400 go test ./internal/command -run ClusterAgainstRedis
//
// and compares the topology replies with those of the fake node given Redis' own view.
func TestClusterAgainstRedis(t *testing.T) {
	addr := os.Getenv("FERRICD_REDIS_CLUSTER_ADDR")
	if addr == "" {
		t.Skip("FERRICD_REDIS_CLUSTER_ADDR not set")
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rc := &caseRespClient{c: conn, r: bufio.NewReader(conn)}
	g := newSrvHarness(t)
	rc.do(t, "FLUSHALL")
	for _, k := range []string{"{b}c", "{b}a", "{b}e", "x"} {
		rc.do(t, "SET", k, "1")
		g.set(k, "1", 0)
	}
	cases := []string{
		"CLUSTER KEYSLOT foo", "CLUSTER KEYSLOT {user}a", `CLUSTER KEYSLOT ""`, "CLUSTER KEYSLOT {}foo",
		"CLUSTER KEYSLOT a{b}c{d}", "CLUSTER KEYSLOT {", "CLUSTER KEYSLOT {b", "CLUSTER KEYSLOT",
		"CLUSTER COUNTKEYSINSLOT 3300", "CLUSTER COUNTKEYSINSLOT 0", "CLUSTER COUNTKEYSINSLOT -1",
		"CLUSTER COUNTKEYSINSLOT 16384", "CLUSTER COUNTKEYSINSLOT abc", "CLUSTER COUNTKEYSINSLOT +5",
		"CLUSTER COUNTKEYSINSLOT 007", `CLUSTER COUNTKEYSINSLOT ""`, "CLUSTER COUNTKEYSINSLOT -0",
		"CLUSTER GETKEYSINSLOT 3300 2", "CLUSTER GETKEYSINSLOT 3300 0", "CLUSTER GETKEYSINSLOT 3301 5",
		"CLUSTER GETKEYSINSLOT -1 1", "CLUSTER GETKEYSINSLOT 16384 1", "CLUSTER GETKEYSINSLOT 0 -1",
		"CLUSTER GETKEYSINSLOT abc 1", "CLUSTER GETKEYSINSLOT 0 abc", "CLUSTER GETKEYSINSLOT 99999 abc",
		"CLUSTER GETKEYSINSLOT 0 -0", "CLUSTER GETKEYSINSLOT 0", "CLUSTER",
		"CLUSTER foo", "CLUSTER FOO bar", "CLUSTER myshardid",
	}
	for _, s := range g.table.Get("cluster").Subcommands {
		// One argument too many or too few: Redis' arity error. (A subcommand of arity -2
		// cannot be given too few: it would run.)
		if s.Arity == -2 {
			continue
		}
		n := max(s.Arity, -s.Arity)
		args := []string{"CLUSTER", strings.TrimPrefix(s.Name, "cluster|")}
		if s.Arity > 0 {
			n++
		} else {
			n--
		}
		for len(args) < n {
			args = append(args, "1")
		}
		cases = append(cases, strings.Join(args, " "))
	}
	for _, c := range cases {
		args := clusterSplit(t, c)
		want := rc.do(t, args...).String()
		got := g.run(args...).String()
		if strings.Contains(c, "GETKEYSINSLOT 3300 2") {
			// Redis' order is its own; the count is what must agree.
			want, got = strconv.Itoa(strings.Count(want, `"`)), strconv.Itoa(strings.Count(got, `"`))
		}
		if got != want {
			t.Errorf("%s:\n got   %s\n redis %s", c, got, want)
		}
	}

	// HELP: ferricd's lines are Redis' lines, in Redis' order.
	redisHelp := rc.do(t, "CLUSTER", "HELP").Elems
	i := 0
	for _, l := range g.run("CLUSTER", "HELP").Elems {
		for i < len(redisHelp) && redisHelp[i].String() != l.String() {
			i++
		}
		if i == len(redisHelp) {
			t.Errorf("CLUSTER HELP line %s is not Redis' (or out of order)", l)
			break
		}
	}

	// The topology replies, given Redis' view of itself: same text but for the config epoch
	// (ferricd's is the node id) and pong-recv (ferricd keeps none).
	line := strings.Fields(string(rc.do(t, "CLUSTER", "NODES").Str))
	if len(line) != 9 {
		t.Fatalf("Redis' CLUSTER NODES %q: want one node holding every slot", line)
	}
	hostPort, bus, _ := strings.Cut(line[1], "@")
	host, portStr, _ := strings.Cut(hostPort, ":")
	port, _ := strconv.Atoi(portStr)
	busPort, _ := strconv.Atoi(bus)
	g.srv.cluster = &ClusterView{
		Self:   1,
		Nodes:  []ClusterNode{{ID: 1, Name: line[0], Host: host, Port: port, BusPort: busPort, Connected: true}},
		Shards: []ClusterShard{{Start: 0, End: routing.NumSlots, Leader: 1, Replicas: []uint64{1}}},
	}
	ours := strings.Fields(string(g.run("CLUSTER", "NODES").Str))
	line[5], line[6] = "0", "1"
	if strings.Join(ours, " ") != strings.Join(line, " ") {
		t.Errorf("CLUSTER NODES:\n got   %q\n redis %q", ours, line)
	}
	for _, sub := range []string{"SLOTS", "SHARDS", "MYID"} {
		if got, want := g.run("CLUSTER", sub).String(), rc.do(t, "CLUSTER", sub).String(); got != want {
			t.Errorf("CLUSTER %s:\n got   %s\n redis %s", sub, got, want)
		}
	}
	var names, redisNames []string
	for _, l := range strings.Split(string(g.run("CLUSTER", "INFO").Str), "\r\n") {
		names = append(names, strings.Split(l, ":")[0])
	}
	for _, l := range strings.Split(string(rc.do(t, "CLUSTER", "INFO").Str), "\r\n") {
		redisNames = append(redisNames, strings.Split(l, ":")[0])
	}
	if !slices.Equal(names, redisNames) {
		t.Errorf("CLUSTER INFO fields:\n got   %q\n redis %q", names, redisNames)
	}
}
