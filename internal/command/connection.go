package command

// registerConnection registers the connection family: commands that read or change the state
// of the client's own connection (protocol, authentication, name, reply mode) or of other
// connections (CLIENT KILL). internal/resp executes them, since only it holds connection
// state; they are registered here, Kind KindConn and without Run, so that arity checks,
// COMMAND INFO/DOCS and the compatibility table come from the one table like every other
// command. Metadata (arity, flags, ACL categories, group, since, summary, complexity) is
// copied from Redis 7.0's COMMAND INFO and COMMAND DOCS; CLIENT SETINFO is Redis 7.2's.
//
// The pub/sub commands are not registered yet, so they answer
// "unknown command" until internal/resp implements them. CLIENT subcommands ferricd does not
// implement (TRACKING, CACHING, GETREDIR, TRACKINGINFO, PAUSE, UNPAUSE) are left out
// on purpose: they then get Redis' "unknown subcommand" error, which client libraries handle.
// A silent OK to CLIENT TRACKING would make caching clients serve stale data forever.
func registerConnection(t *Table) {
	// The flag sets Redis gives these commands; named once so each spec below reads short.
	const (
		loadStale     = FlagLoading | FlagStale
		fastLS        = FlagLoading | FlagStale | FlagFast
		handshake     = FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagNoAuth | FlagAllowBusy
		clientPlain   = FlagNoScript | FlagLoading | FlagStale
		clientAdmin   = FlagAdmin | FlagNoScript | FlagLoading | FlagStale
		groupConn     = "connection"
		o1            = "O(1)"
		fastConn      = "fast"
		slowConn      = "slow"
		adminConn     = "admin"
		clientVersion = "2.4.0"
	)
	acl := func(kind string) []string {
		switch kind {
		case fastConn:
			return []string{"@fast", "@connection"}
		case adminConn:
			return []string{"@admin", "@slow", "@dangerous", "@connection"}
		default:
			return []string{"@slow", "@connection"}
		}
	}
	spec := func(name string, arity int, flags Flag, cats, group, since, summary, complexity string) *Spec {
		return &Spec{
			Name:          name,
			Arity:         arity,
			Flags:         flags,
			ACLCategories: acl(cats),
			Group:         group,
			Since:         since,
			Summary:       summary,
			Complexity:    complexity,
			Kind:          KindConn,
		}
	}

	t.Add(spec("ping", -1, FlagFast, fastConn, groupConn, "1.0.0", "Ping the server", o1))
	t.Add(spec("echo", 2, fastLS, fastConn, groupConn, "1.0.0", "Echo the given string", o1))
	t.Add(spec("hello", -1, handshake, fastConn, groupConn, "6.0.0", "Handshake with Redis", o1))
	t.Add(spec("auth", -2, handshake, fastConn, groupConn, "1.0.0", "Authenticate to the server",
		"O(N) where N is the number of passwords defined for the user"))
	t.Add(spec("select", 2, fastLS, fastConn, groupConn, "1.0.0",
		"Change the selected database for the current connection", o1))
	t.Add(spec("quit", -1, handshake, fastConn, groupConn, "1.0.0", "Close the connection", o1))
	t.Add(spec("reset", 1, handshake, fastConn, groupConn, "6.2.0", "Reset the connection", o1))
	// Redis files READONLY and READWRITE under the cluster group.
	t.Add(spec("readonly", 1, fastLS, fastConn, "cluster", "3.0.0",
		"Enables read queries for a connection to a cluster replica node", o1))
	t.Add(spec("readwrite", 1, fastLS, fastConn, "cluster", "3.0.0",
		"Disables read queries for a connection to a cluster replica node", o1))

	client := &Spec{
		Name:          "client",
		Arity:         -2,
		ACLCategories: []string{"@slow"},
		Group:         groupConn,
		Since:         clientVersion,
		Summary:       "A container for client connection commands",
		Complexity:    "Depends on subcommand.",
		Kind:          KindConn,
		Subcommands:   map[string]*Spec{},
	}
	onClients := "O(N) where N is the number of client connections"
	for _, s := range []*Spec{
		spec("client|id", 2, clientPlain, slowConn, groupConn, "5.0.0",
			"Returns the client ID for the current connection", o1),
		spec("client|setname", 3, clientPlain, slowConn, groupConn, "2.6.9",
			"Set the current connection name", o1),
		spec("client|getname", 2, clientPlain, slowConn, groupConn, "2.6.9",
			"Get the current connection name", o1),
		spec("client|list", -2, clientAdmin, adminConn, groupConn, clientVersion,
			"Get the list of client connections", onClients),
		spec("client|info", 2, clientPlain, slowConn, groupConn, "6.2.0",
			"Returns information about the current client connection.", o1),
		spec("client|setinfo", 4, clientPlain, slowConn, groupConn, "7.2.0",
			"Sets information specific to the client or connection.", o1),
		spec("client|kill", -3, clientAdmin, adminConn, groupConn, clientVersion,
			"Kill the connection of a client", onClients),
		spec("client|unblock", -3, clientAdmin, adminConn, groupConn, "5.0.0",
			"Unblock a client blocked in a blocking command from a different connection", "O(log N) where N is the number of client connections"),
		spec("client|no-evict", 3, clientAdmin, adminConn, groupConn, "7.0.0",
			"Set client eviction mode for the current connection", o1),
		spec("client|reply", 3, clientPlain, slowConn, groupConn, "3.2.0",
			"Instruct the server whether to reply to commands", o1),
		spec("client|help", 2, loadStale, slowConn, groupConn, "5.0.0",
			"Show helpful text about the different subcommands", o1),
	} {
		client.Subcommands[s.Name[len("client|"):]] = s
	}
	t.Add(client)
}
