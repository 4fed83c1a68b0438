package command

// The cluster family: CLUSTER and its subcommands, in Redis 7.0's reply shapes, so that
// cluster-aware clients (which read CLUSTER SLOTS, SHARDS or NODES to route keys) and
// operators' tools work against ferricd. They run on the node through Server.Cluster (the
// topology) and Server.ReadAll (the keys). Metadata is Redis 7.0.15's (checked by
// TestSpecsMatchRedis).
//
// ferricd's cluster is not Redis Cluster's. Slots belong to raft shards (one contiguous slot
// range each); every shard is replicated on several nodes and led by one of them, so a node
// leads some shards and follows others, where a Redis node is either a master with slots or
// the replica of one master. The replies map that model onto Redis' formats as follows:
//
//   - CLUSTER NODES shows every member as a master (the one-master-per-node format cannot
//     say "leader here, follower there") with the slot ranges of the shards it leads, adjacent
//     ranges merged as Redis prints them. The master column is "-", ping-sent and pong-recv
//     are 0 (there is no gossip), link-state is the state of the bus connection, and a member
//     whose client address is not known yet is shown as Redis shows such a node: ":0@0" with
//     the noaddr flag.
//   - Epochs: a node's config epoch is its node id (unique and stable, which is what Redis
//     requires of masters' config epochs); cluster_current_epoch is the highest member id and
//     cluster_my_epoch this node's id.
//   - CLUSTER SLOTS has one entry per shard: its range, its leader, then its followers that
//     are connected and have a known address (Redis leaves failed replicas out the same way).
//     A shard without a known leader is left out, as Redis leaves out slots no master serves,
//     until raft elects one; CLUSTER INFO counts its slots in cluster_slots_fail and reports
//     cluster_state:fail meanwhile. A leader whose address is not known yet is listed with
//     Redis' unknown-address values ("" and port 0).
//   - CLUSTER SHARDS has one entry per raft shard: the leader with role "master", the
//     followers with role "replica" (all of them "replica" while the shard has no leader);
//     health is "online" or "fail" from the bus connection, replication-offset is 0. A member
//     holding no replica at all is listed as Redis lists a master without slots: a shard of its
//     own with no slots.
//   - CLUSTER INFO: cluster_state is ok when every slot belongs to a shard with a leader;
//     cluster_slots_pfail and the message counters are 0 (failures are raft's business, the
//     bus exchanges no Redis gossip).
//   - CLUSTER COUNTKEYSINSLOT and GETKEYSINSLOT see every key of the slot (ReadAll), where
//     Redis sees the local ones, which on the slot's owner is the same. COUNTKEYSINSLOT counts
//     as DBSIZE does (a key whose TTL has passed counts until it is reclaimed, as in Redis);
//     GETKEYSINSLOT returns live keys in key order.
//   - Every other Redis 7.0 subcommand is registered with Redis' metadata (so arity errors
//     are Redis') and answers an error saying why, never a fake OK: those that change the
//     topology (ADDSLOTS, SETSLOT, FAILOVER, REPLICATE, RESET, ...) and those that describe
//     Redis' node-to-node replication or gossip (REPLICAS, SLAVES, COUNT-FAILURE-REPORTS);
//     LINKS answers that it is not supported yet.
//   - CLUSTER MEET ip port [bus-port] adds the node listening there (started with
//     cluster-join) to the cluster, and CLUSTER FORGET <name or id> removes a member for good;
//     both change the node directory that every member gossips (see internal/cluster), and the
//     shards' replicas move accordingly. Unlike Redis, MEET answers once the node has been met
//     (or with the reason it could not be), and FORGET is cluster-wide, not a 60-second ban.

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
	"ferricd/internal/routing"
)

var (
	clusterErrInvalidSlot     = reply.Err("ERR Invalid slot")
	clusterErrInvalidSlotKeys = reply.Err("ERR Invalid slot or number of keys")

	// clusterHelp is Redis' text restricted to the subcommands ferricd implements, in Redis'
	// order.
	clusterHelp = []string{
		"CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"COUNTKEYSINSLOT <slot>",
		"    Return the number of keys in <slot>.",
		"FORGET <node-id>",
		"    Remove a node from the cluster.",
		"GETKEYSINSLOT <slot> <count>",
		"    Return key names stored by current node in a slot.",
		"INFO",
		"    Return information about the cluster.",
		"KEYSLOT <key>",
		"    Return the hash slot for <key>.",
		"MEET <ip> <port> [<bus-port>]",
		"    Connect nodes into a working cluster.",
		"MYID",
		"    Return the node id.",
		"NODES",
		"    Return cluster configuration seen by node. Output format:",
		"    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
		"SLOTS",
		"    Return information about slots range mappings. Each range is made of:",
		"    start, end, master and replicas IP addresses, ports and ids",
		"SHARDS",
		"    Return information about slot range mappings and the nodes associated with them.",
		"HELP",
		"    Prints this help.",
	}
)

// Why the refused subcommands are refused ("" means "not supported yet").
const (
	clusterWhySlots    = "slots are assigned to raft shards automatically"
	clusterWhyLeaders  = "shard leaders are elected by raft"
	clusterWhyReplicas = "nodes replicate raft shards, not other nodes (see CLUSTER SHARDS)"
	clusterWhyEpochs   = "configuration changes are ordered by raft, not by epochs"
	clusterWhyFailures = "failures are detected by raft, not by gossiped failure reports"
	clusterWhyReset    = "a node's slots and membership are managed by raft"
	clusterWhySave     = "the cluster configuration is stored with the data automatically"
	clusterWhyYet      = ""
)

// clusterRefusedSub is a Redis 7.0 CLUSTER subcommand ferricd does not implement: Redis'
// metadata and the reason given to clients (and in the README).
type clusterRefusedSub struct {
	name       string
	arity      int
	flags      Flag
	since      string
	summary    string
	complexity string
	why        string
}

// clusterRefused lists them all.
var clusterRefused = []clusterRefusedSub{
	{"addslots", -3, FlagAdmin | FlagStale, "3.0.0", "Assign new hash slots to receiving node",
		"O(N) where N is the total number of hash slot arguments", clusterWhySlots},
	{"addslotsrange", -4, FlagAdmin | FlagStale, "7.0.0", "Assign new hash slots to receiving node",
		"O(N) where N is the total number of the slots between the start slot and end slot arguments.", clusterWhySlots},
	{"bumpepoch", 2, FlagAdmin | FlagStale, "3.0.0", "Advance the cluster config epoch",
		"O(1)", clusterWhyEpochs},
	{"count-failure-reports", 3, FlagAdmin | FlagStale, "3.0.0", "Return the number of failure reports active for a given node",
		"O(N) where N is the number of failure reports", clusterWhyFailures},
	{"delslots", -3, FlagAdmin | FlagStale, "3.0.0", "Set hash slots as unbound in receiving node",
		"O(N) where N is the total number of hash slot arguments", clusterWhySlots},
	{"delslotsrange", -4, FlagAdmin | FlagStale, "7.0.0", "Set hash slots as unbound in receiving node",
		"O(N) where N is the total number of the slots between the start slot and end slot arguments.", clusterWhySlots},
	{"failover", -2, FlagAdmin | FlagStale, "3.0.0", "Forces a replica to perform a manual failover of its master.",
		"O(1)", clusterWhyLeaders},
	{"flushslots", 2, FlagAdmin | FlagStale, "3.0.0", "Delete a node's own slots information",
		"O(1)", clusterWhySlots},
	{"links", 2, FlagStale, "7.0.0", "Returns a list of all TCP links to and from peer nodes in cluster",
		"O(N) where N is the total number of Cluster nodes", clusterWhyYet},
	{"replicas", 3, FlagAdmin | FlagStale, "5.0.0", "List replica nodes of the specified master node",
		"O(1)", clusterWhyReplicas},
	{"replicate", 3, FlagAdmin | FlagStale, "3.0.0", "Reconfigure a node as a replica of the specified master node",
		"O(1)", clusterWhyReplicas},
	{"reset", -2, FlagAdmin | FlagNoScript | FlagStale, "3.0.0", "Reset a Redis Cluster node",
		"O(N) where N is the number of known nodes. The command may execute a FLUSHALL as a side effect.", clusterWhyReset},
	{"saveconfig", 2, FlagAdmin | FlagStale, "3.0.0", "Forces the node to save cluster state on disk",
		"O(1)", clusterWhySave},
	{"set-config-epoch", 3, FlagAdmin | FlagStale, "3.0.0", "Set the configuration epoch in a new node",
		"O(1)", clusterWhyEpochs},
	{"setslot", -4, FlagAdmin | FlagStale, "3.0.0", "Bind a hash slot to a specific node",
		"O(1)", clusterWhySlots},
	{"slaves", 3, FlagAdmin | FlagStale, "3.0.0", "List replica nodes of the specified master node",
		"O(1)", clusterWhyReplicas},
}

// clusterRefusal is the error a refused subcommand answers.
func clusterRefusal(name, why string) reply.Value {
	msg := "ERR CLUSTER " + strings.ToUpper(name) + " is not supported by ferricd"
	if why == clusterWhyYet {
		return reply.Err(msg + " yet")
	}
	return reply.Err(msg + ": " + why)
}

// clusterCompatNote is the README note of a refused subcommand (full name "cluster|sub").
func clusterCompatNote(name string) (compatNote, bool) {
	sub, ok := strings.CutPrefix(name, "cluster|")
	if !ok {
		return compatNote{}, false
	}
	for _, r := range clusterRefused {
		if r.name == sub {
			if r.why == clusterWhyYet {
				return compatNote{"no", "not supported yet: answers an error"}, true
			}
			return compatNote{"no", "answers an error: " + r.why}, true
		}
	}
	return compatNote{}, false
}

// registerCluster registers CLUSTER.
func registerCluster(t *Table) {
	t.Add(clusterSpec())
}

func clusterSpec() *Spec {
	sub := func(name string, arity int, flags Flag, since, summary, complexity string, run ServerFunc) *Spec {
		acl := []string{"@slow"}
		if flags&FlagAdmin != 0 {
			acl = []string{"@admin", "@slow", "@dangerous"}
		}
		return &Spec{
			Name: "cluster|" + name, Arity: arity, Flags: flags,
			ACLCategories: acl,
			Group:         "cluster", Since: since,
			Summary:    summary,
			Complexity: complexity,
			Kind:       KindServer, Server: run,
		}
	}
	perNode := "O(N) where N is the total number of Cluster nodes"
	subs := []*Spec{
		sub("info", 2, FlagStale, "3.0.0", "Provides info about Redis Cluster node state", "O(1)", clusterInfoCmd),
		sub("myid", 2, FlagStale, "3.0.0", "Return the node id", "O(1)", clusterMyIDCmd),
		sub("nodes", 2, FlagStale, "3.0.0", "Get Cluster config for the node", perNode, clusterNodesCmd),
		sub("slots", 2, FlagStale, "3.0.0", "Get array of Cluster slot to node mappings", perNode, clusterSlotsCmd),
		sub("shards", 2, FlagStale, "7.0.0", "Get array of cluster slots to node mappings",
			"O(N) where N is the total number of cluster nodes", clusterShardsCmd),
		sub("keyslot", 3, FlagStale, "3.0.0", "Returns the hash slot of the specified key",
			"O(N) where N is the number of bytes in the key", clusterKeySlotCmd),
		sub("countkeysinslot", 3, FlagStale, "3.0.0", "Return the number of local keys in the specified hash slot",
			"O(1)", clusterCountKeysCmd),
		sub("getkeysinslot", 4, FlagStale, "3.0.0", "Return local key names in the specified hash slot",
			"O(log(N)) where N is the number of requested keys", clusterGetKeysCmd),
		sub("meet", -4, FlagAdmin|FlagStale, "3.0.0", "Force a node cluster to handshake with another node",
			"O(1)", clusterMeetCmd),
		sub("forget", 3, FlagAdmin|FlagStale, "3.0.0", "Remove a node from the nodes table",
			"O(1)", clusterForgetCmd),
		sub("help", 2, FlagLoading|FlagStale, "5.0.0", "Show helpful text about the different subcommands",
			"O(1)", genStaticHelp(clusterHelp)),
	}
	for _, r := range clusterRefused {
		refusal := clusterRefusal(r.name, r.why)
		subs = append(subs, sub(r.name, r.arity, r.flags, r.since, r.summary, r.complexity,
			func(context.Context, Server, [][]byte) reply.Value { return refusal }))
	}
	return genContainer(&Spec{
		Name: "cluster", Arity: -2,
		ACLCategories: []string{"@slow"},
		Group:         "cluster", Since: "3.0.0",
		Summary:    "A container for cluster commands",
		Complexity: "Depends on subcommand.",
	}, subs...)
}

// clusterTopology indexes a ClusterView.
type clusterTopology struct {
	ClusterView
	byID map[uint64]*ClusterNode
}

func clusterTopologyOf(v ClusterView) *clusterTopology {
	t := &clusterTopology{ClusterView: v, byID: make(map[uint64]*ClusterNode, len(v.Nodes))}
	for i := range v.Nodes {
		t.byID[v.Nodes[i].ID] = &t.ClusterView.Nodes[i]
	}
	// Slot order, whatever order the view comes in.
	t.Shards = slices.Clone(v.Shards)
	slices.SortStableFunc(t.Shards, func(a, b ClusterShard) int { return int(a.Start) - int(b.Start) })
	return t
}

// leader returns sh's leader when one is known and is a known member.
func (t *clusterTopology) leader(sh *ClusterShard) (*ClusterNode, bool) {
	if sh.Leader == 0 {
		return nil, false
	}
	n, ok := t.byID[sh.Leader]
	return n, ok
}

// followers returns sh's known replicas other than its leader, in the view's order.
func (t *clusterTopology) followers(sh *ClusterShard) []*ClusterNode {
	var out []*ClusterNode
	for _, id := range sh.Replicas {
		if n, ok := t.byID[id]; ok && id != sh.Leader && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// clusterShardSize is the number of slots of sh.
func clusterShardSize(sh *ClusterShard) int {
	return max(int(sh.End)-int(sh.Start), 0)
}

// clusterHasAddr reports whether clients can be told where n is.
func clusterHasAddr(n *ClusterNode) bool { return n.Port != 0 }

func clusterInfoCmd(ctx context.Context, s Server, _ [][]byte) reply.Value {
	t := clusterTopologyOf(s.Cluster(ctx))
	assigned, ok := 0, 0
	leaders := make(map[uint64]bool)
	for i := range t.Shards {
		sh := &t.Shards[i]
		assigned += clusterShardSize(sh)
		if _, has := t.leader(sh); has {
			ok += clusterShardSize(sh)
			leaders[sh.Leader] = true
		}
	}
	state := "fail"
	if ok == routing.NumSlots {
		state = "ok"
	}
	var current uint64
	for _, n := range t.Nodes {
		current = max(current, n.ID)
	}
	var b strings.Builder
	field := func(name string, v string) {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(v)
		b.WriteString("\r\n")
	}
	num := func(name string, v int) { field(name, strconv.Itoa(v)) }
	field("cluster_state", state)
	num("cluster_slots_assigned", assigned)
	num("cluster_slots_ok", ok)
	num("cluster_slots_pfail", 0)
	num("cluster_slots_fail", assigned-ok)
	num("cluster_known_nodes", len(t.Nodes))
	num("cluster_size", len(leaders))
	field("cluster_current_epoch", strconv.FormatUint(current, 10))
	field("cluster_my_epoch", strconv.FormatUint(t.Self, 10))
	num("cluster_stats_messages_sent", 0)
	num("cluster_stats_messages_received", 0)
	num("total_cluster_links_buffer_limit_exceeded", 0)
	return reply.Verbatim(b.String())
}

func clusterMyIDCmd(ctx context.Context, s Server, _ [][]byte) reply.Value {
	t := clusterTopologyOf(s.Cluster(ctx))
	self, ok := t.byID[t.Self]
	if !ok {
		return reply.ErrInternal
	}
	return reply.BulkString(self.Name)
}

// clusterNodesCmd renders one line per member in Redis' format:
//
//	<id> <ip:port@cport> <flags> <master> <ping-sent> <pong-recv> <config-epoch> <link-state> <slot> ...
func clusterNodesCmd(ctx context.Context, s Server, _ [][]byte) reply.Value {
	t := clusterTopologyOf(s.Cluster(ctx))
	var b strings.Builder
	for i := range t.Nodes {
		n := &t.Nodes[i]
		b.WriteString(n.Name)
		b.WriteByte(' ')
		if clusterHasAddr(n) {
			b.WriteString(n.Host + ":" + strconv.Itoa(n.Port) + "@" + strconv.Itoa(n.BusPort))
		} else {
			b.WriteString(":0@0")
		}
		b.WriteByte(' ')
		if n.ID == t.Self {
			b.WriteString("myself,")
		}
		b.WriteString("master")
		if !clusterHasAddr(n) {
			b.WriteString(",noaddr")
		}
		b.WriteString(" - 0 0 ")
		b.WriteString(strconv.FormatUint(n.ID, 10))
		if n.Connected || n.ID == t.Self {
			b.WriteString(" connected")
		} else {
			b.WriteString(" disconnected")
		}
		// The ranges it leads, adjacent ones merged: Redis prints runs of owned slots.
		start, end := -1, -1
		flush := func() {
			if start < 0 {
				return
			}
			b.WriteByte(' ')
			b.WriteString(strconv.Itoa(start))
			if end-1 > start {
				b.WriteByte('-')
				b.WriteString(strconv.Itoa(end - 1))
			}
		}
		for j := range t.Shards {
			sh := &t.Shards[j]
			if sh.Leader != n.ID || clusterShardSize(sh) == 0 {
				continue
			}
			if int(sh.Start) == end {
				end = int(sh.End)
				continue
			}
			flush()
			start, end = int(sh.Start), int(sh.End)
		}
		flush()
		b.WriteByte('\n')
	}
	return reply.Verbatim(b.String())
}

// clusterSlotsCmd is CLUSTER SLOTS: per shard with a leader, [start, end, leader, followers...],
// each node as [host, port, id, {}] (the map of extra networking metadata is empty).
func clusterSlotsCmd(ctx context.Context, s Server, _ [][]byte) reply.Value {
	t := clusterTopologyOf(s.Cluster(ctx))
	node := func(n *ClusterNode) reply.Value {
		return reply.Array(reply.BulkString(n.Host), reply.Int(int64(n.Port)), reply.BulkString(n.Name), reply.Map())
	}
	var out []reply.Value
	for i := range t.Shards {
		sh := &t.Shards[i]
		leader, ok := t.leader(sh)
		if !ok || clusterShardSize(sh) == 0 {
			continue
		}
		entry := []reply.Value{reply.Int(int64(sh.Start)), reply.Int(int64(sh.End) - 1), node(leader)}
		for _, f := range t.followers(sh) {
			if f.Connected && clusterHasAddr(f) {
				entry = append(entry, node(f))
			}
		}
		out = append(out, reply.Array(entry...))
	}
	return reply.Array(out...)
}

// clusterShardsCmd is CLUSTER SHARDS: per shard a map of "slots" (start/end pairs) and
// "nodes" (a map per node, Redis 7.0's fields in Redis' order).
func clusterShardsCmd(ctx context.Context, s Server, _ [][]byte) reply.Value {
	t := clusterTopologyOf(s.Cluster(ctx))
	node := func(n *ClusterNode, role string) reply.Value {
		health := "fail"
		if n.Connected || n.ID == t.Self {
			health = "online"
		}
		return reply.Map(
			reply.BulkString("id"), reply.BulkString(n.Name),
			reply.BulkString("port"), reply.Int(int64(n.Port)),
			reply.BulkString("ip"), reply.BulkString(n.Host),
			reply.BulkString("endpoint"), reply.BulkString(n.Host),
			reply.BulkString("role"), reply.BulkString(role),
			reply.BulkString("replication-offset"), reply.Int(0),
			reply.BulkString("health"), reply.BulkString(health),
		)
	}
	shard := func(slots []reply.Value, nodes []reply.Value) reply.Value {
		return reply.Map(reply.BulkString("slots"), reply.Array(slots...), reply.BulkString("nodes"), reply.Array(nodes...))
	}
	placed := make(map[uint64]bool)
	var out []reply.Value
	for i := range t.Shards {
		sh := &t.Shards[i]
		var slots, nodes []reply.Value
		if clusterShardSize(sh) > 0 {
			slots = []reply.Value{reply.Int(int64(sh.Start)), reply.Int(int64(sh.End) - 1)}
		}
		if leader, ok := t.leader(sh); ok {
			nodes = append(nodes, node(leader, "master"))
			placed[leader.ID] = true
		}
		for _, f := range t.followers(sh) {
			nodes = append(nodes, node(f, "replica"))
			placed[f.ID] = true
		}
		out = append(out, shard(slots, nodes))
	}
	// A member with no replica: Redis' shape for a master without slots.
	for i := range t.Nodes {
		if n := &t.Nodes[i]; !placed[n.ID] {
			out = append(out, shard(nil, []reply.Value{node(n, "master")}))
		}
	}
	return reply.Array(out...)
}

func clusterKeySlotCmd(_ context.Context, _ Server, args [][]byte) reply.Value {
	return reply.Int(int64(routing.Slot(args[2])))
}

// clusterCountKeysCmd is CLUSTER COUNTKEYSINSLOT slot: the slot's key counter.
func clusterCountKeysCmd(ctx context.Context, s Server, args [][]byte) reply.Value {
	slot, ok := genParseInt(args[2])
	if !ok {
		return reply.ErrNotInteger
	}
	if slot < 0 || slot >= routing.NumSlots {
		return clusterErrInvalidSlot
	}
	return s.ReadShard(ctx, routing.Range{Start: uint16(slot), End: uint16(slot) + 1}, args)
}

// clusterGetKeysCmd is CLUSTER GETKEYSINSLOT slot count: up to count keys of the slot, in key
// order. Both numbers are parsed before either is range-checked, as Redis does.
func clusterGetKeysCmd(ctx context.Context, s Server, args [][]byte) reply.Value {
	slot, ok := genParseInt(args[2])
	if !ok {
		return reply.ErrNotInteger
	}
	count, ok := genParseInt(args[3])
	if !ok {
		return reply.ErrNotInteger
	}
	if slot < 0 || slot >= routing.NumSlots || count < 0 {
		return clusterErrInvalidSlotKeys
	}
	if count == 0 {
		return reply.Array()
	}
	return s.ReadShard(ctx, routing.Range{Start: uint16(slot), End: uint16(slot) + 1}, args)
}

// clusterKeysIn is GETKEYSINSLOT's read of the slot r holds.
func clusterKeysIn(tx *keyspace.Txn, r routing.Range, count int64) reply.Value {
	var keys []reply.Value
	// ScanSlots finishes the slot after fn says stop; fn just ignores the rest.
	_, err := tx.ScanSlots(r, r.Start, func(_ uint16, key []byte, _ *keyspace.Meta) bool {
		if int64(len(keys)) >= count {
			return false
		}
		keys = append(keys, reply.Bulk(append([]byte(nil), key...)))
		return int64(len(keys)) < count
	})
	if err != nil {
		return genTxnErr(err)
	}
	return reply.Array(keys...)
}

func clusterMeetCmd(ctx context.Context, s Server, args [][]byte) reply.Value {
	if len(args) > 5 { // Redis' own check, past the table's arity (-4)
		return reply.Err("ERR unknown subcommand or wrong number of arguments for '" + string(args[1]) + "'. Try CLUSTER HELP.")
	}
	host, portText := string(args[2]), string(args[3])
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return reply.Err("ERR Invalid TCP base port specified: " + portText)
	}
	busPort := port + 10000
	if len(args) == 5 {
		busText := string(args[4])
		if busPort, err = strconv.Atoi(busText); err != nil || busPort < 0 || busPort > 65535 {
			return reply.Err("ERR Invalid TCP bus port specified: " + busText)
		}
	}
	if host == "" || busPort == 0 || busPort > 65535 || strings.ContainsAny(host, " \t\r\n") {
		return reply.Err("ERR Invalid node address specified: " + host + ":" + portText)
	}
	return s.ClusterMeet(ctx, host, busPort)
}

func clusterForgetCmd(ctx context.Context, s Server, args [][]byte) reply.Value {
	return s.ClusterForget(ctx, string(args[2]))
}
