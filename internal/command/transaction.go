package command

// registerTransactions registers MULTI, EXEC, DISCARD, WATCH and UNWATCH. internal/resp
// queues a transaction's commands and runs these itself (they are KindConn); the backend
// runs the queued commands as one unit (resp.Backend's ExecTx). Metadata is Redis 7.0's.
func registerTransactions(t *Table) {
	const (
		group = "transactions"
		fast  = FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagAllowBusy
	)
	spec := func(name string, arity int, flags Flag, cat, since, summary, complexity string) *Spec {
		return &Spec{
			Name:          name,
			Arity:         arity,
			Flags:         flags,
			ACLCategories: []string{cat, "@transaction"},
			Group:         group,
			Since:         since,
			Summary:       summary,
			Complexity:    complexity,
			Kind:          KindConn,
		}
	}
	t.Add(spec("multi", 1, fast, "@fast", "1.2.0", "Mark the start of a transaction block", "O(1)"))
	t.Add(spec("exec", 1, FlagNoScript|FlagLoading|FlagStale|FlagSkipSlowlog, "@slow", "1.2.0",
		"Execute all commands issued after MULTI", "Depends on commands in the transaction"))
	t.Add(spec("discard", 1, fast, "@fast", "2.0.0", "Discard all commands issued after MULTI",
		"O(N), when N is the number of queued commands"))
	watch := spec("watch", -2, fast, "@fast", "2.2.0",
		"Watch the given keys to determine execution of the MULTI/EXEC block", "O(1) for every key.")
	watch.FirstKey, watch.LastKey, watch.Step = 1, -1, 1
	t.Add(watch)
	t.Add(spec("unwatch", 1, fast, "@fast", "2.2.0", "Forget about all watched keys", "O(1)"))
}
