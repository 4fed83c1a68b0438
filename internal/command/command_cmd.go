package command

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"

	"ferricd/internal/glob"
	"ferricd/internal/reply"
)

// COMMAND and its subcommands describe the table in Redis 7.0's reply shapes, so client
// libraries (which read COMMAND at connect to learn key positions) and cluster proxies (which
// read key specs and tips) work unchanged. Spec fields are the source of truth; what a Spec
// cannot hold (key specs with access flags, tips, doc history) comes from redisMeta, recorded
// from the real server. A command Redis does not know gets a key spec derived from its
// legacy key positions.

var (
	cmdErrInvalidCommand = reply.Err("ERR Invalid command specified")
	cmdErrNoKeys         = reply.Err("ERR The command has no key arguments")
	cmdErrInvalidArity   = reply.Err("ERR Invalid number of arguments specified for command")
	cmdErrInvalidArgs    = reply.Err("ERR Invalid arguments specified for command")

	cmdHelp = []string{
		"COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"(no subcommand)",
		"    Return details about all Redis commands.",
		"COUNT",
		"    Return the total number of commands in this Redis server.",
		"LIST",
		"    Return a list of all commands in this Redis server.",
		"INFO [<command-name> ...]",
		"    Return details about multiple Redis commands.",
		"    If no command names are given, documentation details for all",
		"    commands are returned.",
		"DOCS [<command-name> ...]",
		"    Return documentation details about multiple Redis commands.",
		"    If no command names are given, documentation details for all",
		"    commands are returned.",
		"GETKEYS <full-command>",
		"    Return the keys from a full Redis command.",
		"GETKEYSANDFLAGS <full-command>",
		"    Return the keys and the access flags from a full Redis command.",
		"HELP",
		"    Prints this help.",
	}
)

// cmdFlagOrder is the order in which Redis 7.0 prints command flags. It differs from Flag's
// bit order where Redis has flags Spec has no bit for (no_async_loading, movablekeys), and
// it omits may_replicate, which Redis keeps internal.
var cmdFlagOrder = []string{"write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript",
	"blocking", "loading", "stale", "skip_monitor", "skip_slowlog", "asking", "fast", "no_auth",
	"no_mandatory_keys", "no_async_loading", "no_multi", "movablekeys", "allow_busy"}

// commandSpec builds COMMAND. Its ServerFuncs read t, which is complete and immutable by the
// time any command runs.
func commandSpec(t *Table) *Spec {
	sub := func(name string, arity int, since, summary, complexity string, run ServerFunc) *Spec {
		return &Spec{
			Name: "command|" + name, Arity: arity, Flags: FlagLoading | FlagStale,
			ACLCategories: []string{"@slow", "@connection"},
			Group:         "server", Since: since,
			Summary:    summary,
			Complexity: complexity,
			Kind:       KindServer, Server: run,
		}
	}
	// Clients such as cluster-aware libraries send COMMAND on every connection: the replies
	// describing the whole (immutable) table are built once.
	allInfo := sync.OnceValue(func() reply.Value { return cmdInfo(t, nil) })
	allDocs := sync.OnceValue(func() reply.Value { return cmdDocs(t, nil) })
	allCommands := "O(N) where N is the total number of Redis commands"
	perName := "O(N) where N is the number of commands to look up"
	s := genContainer(&Spec{
		Name: "command", Arity: -1, Flags: FlagLoading | FlagStale,
		ACLCategories: []string{"@slow", "@connection"},
		Group:         "server", Since: "2.8.13",
		Summary:    "Get array of Redis command details",
		Complexity: allCommands,
	},
		sub("count", 2, "2.8.13", "Get total number of Redis commands", "O(1)",
			func(context.Context, Server, [][]byte) reply.Value { return reply.Int(int64(len(t.byName))) }),
		sub("info", -2, "2.8.13", "Get array of specific Redis command details, or all when no argument is given.", perName,
			func(_ context.Context, _ Server, args [][]byte) reply.Value {
				if len(args) == 2 {
					return allInfo()
				}
				return cmdInfo(t, args[2:])
			}),
		sub("docs", -2, "7.0.0", "Get array of specific Redis command documentation", perName,
			func(_ context.Context, _ Server, args [][]byte) reply.Value {
				if len(args) == 2 {
					return allDocs()
				}
				return cmdDocs(t, args[2:])
			}),
		sub("list", -2, "7.0.0", "Get an array of Redis command names", allCommands,
			func(_ context.Context, _ Server, args [][]byte) reply.Value { return cmdList(t, args) }),
		sub("getkeys", -4, "2.8.13", "Extract keys given a full Redis command", "O(N) where N is the number of arguments to the command",
			func(_ context.Context, _ Server, args [][]byte) reply.Value { return cmdGetKeys(t, args[2:], false) }),
		sub("getkeysandflags", -4, "7.0.0", "Extract keys and access flags given a full Redis command", "O(N) where N is the number of arguments to the command",
			func(_ context.Context, _ Server, args [][]byte) reply.Value { return cmdGetKeys(t, args[2:], true) }),
		sub("help", 2, "5.0.0", "Show helpful text about the different subcommands", "O(1)", genStaticHelp(cmdHelp)),
	)
	unknown := s.Server
	s.Server = func(ctx context.Context, srv Server, args [][]byte) reply.Value {
		if len(args) == 1 {
			return allInfo()
		}
		return unknown(ctx, srv, args)
	}
	return s
}

// cmdSortedSpecs returns specs ordered by name, so replies listing many commands are stable.
func cmdSortedSpecs(specs []*Spec) []*Spec {
	slices.SortFunc(specs, func(a, b *Spec) int { return strings.Compare(a.Name, b.Name) })
	return specs
}

func cmdSubSpecs(s *Spec) []*Spec {
	out := make([]*Spec, 0, len(s.Subcommands))
	for _, sub := range s.Subcommands {
		out = append(out, sub)
	}
	return cmdSortedSpecs(out)
}

// cmdLookupName finds a command by the name COMMAND INFO/DOCS accept: "get" or "config|get",
// in any case.
func cmdLookupName(t *Table, name []byte) *Spec {
	top, sub, hasSub := strings.Cut(lower(name), "|")
	s := t.byName[top]
	if s == nil || !hasSub {
		return s
	}
	return s.Subcommands[sub]
}

// cmdFlags lists s's COMMAND INFO flags in Redis' order.
func cmdFlags(s *Spec) []string {
	meta := redisMeta[s.Name]
	extra := ""
	if meta != nil {
		extra = " " + meta.flags + " "
	}
	var out []string
	for _, name := range cmdFlagOrder {
		var set bool
		switch name {
		case "no_async_loading":
			set = strings.Contains(extra, " no_async_loading ")
		case "movablekeys":
			// Known commands say whether Redis finds their keys by more than positions;
			// others are movable when they need a Keys function.
			set = s.Keys != nil
			if meta != nil {
				set = strings.Contains(extra, " movablekeys ")
			}
		default:
			bit := slices.Index(flagNames, name)
			set = bit >= 0 && s.Flags&(1<<bit) != 0
		}
		if set {
			out = append(out, name)
		}
	}
	return out
}

func cmdKeySpecs(s *Spec) []keySpec {
	if meta := redisMeta[s.Name]; meta != nil {
		return meta.keySpecs
	}
	return cmdDerivedKeySpec(s)
}

// cmdInfoEntry renders one COMMAND INFO entry: name, arity, flags, first key, last key,
// step, ACL categories, tips, key specs, subcommands.
func cmdInfoEntry(s *Spec) reply.Value {
	var tips []string
	if meta := redisMeta[s.Name]; meta != nil {
		tips = cmdWords(meta.tips)
	}
	specs := cmdKeySpecs(s)
	ks := make([]reply.Value, len(specs))
	for i, k := range specs {
		ks[i] = k.value()
	}
	// Redis sends an empty set when there are no subcommands and an array otherwise.
	subs := reply.Set()
	if len(s.Subcommands) > 0 {
		var entries []reply.Value
		for _, sub := range cmdSubSpecs(s) {
			entries = append(entries, cmdInfoEntry(sub))
		}
		subs = reply.Array(entries...)
	}
	return reply.Array(
		reply.BulkString(s.Name),
		reply.Int(int64(s.Arity)),
		cmdSimpleSet(cmdFlags(s)),
		reply.Int(int64(s.FirstKey)), reply.Int(int64(s.LastKey)), reply.Int(int64(s.Step)),
		cmdSimpleSet(s.ACLCategories),
		cmdBulkSet(tips),
		reply.Set(ks...),
		subs,
	)
}

// cmdInfo is COMMAND INFO [name ...] (and COMMAND): one entry per name, null for unknown
// ones; every command when no name is given.
func cmdInfo(t *Table, names [][]byte) reply.Value {
	var out []reply.Value
	if len(names) == 0 {
		for _, s := range cmdSortedSpecs(t.All()) {
			out = append(out, cmdInfoEntry(s))
		}
		return reply.Array(out...)
	}
	for _, n := range names {
		if s := cmdLookupName(t, n); s != nil {
			out = append(out, cmdInfoEntry(s))
		} else {
			out = append(out, reply.Null)
		}
	}
	return reply.Array(out...)
}

// cmdDocsEntry renders one COMMAND DOCS map. Argument descriptions are not reported.
func cmdDocsEntry(s *Spec) reply.Value {
	pairs := []reply.Value{
		reply.BulkString("summary"), reply.BulkString(s.Summary),
		reply.BulkString("since"), reply.BulkString(s.Since),
		reply.BulkString("group"), reply.BulkString(s.Group),
		reply.BulkString("complexity"), reply.BulkString(s.Complexity),
	}
	if meta := redisMeta[s.Name]; meta != nil {
		if meta.docFlags != "" {
			pairs = append(pairs, reply.BulkString("doc_flags"), cmdSimpleSet(cmdWords(meta.docFlags)))
		}
		if meta.deprecatedSince != "" {
			pairs = append(pairs, reply.BulkString("deprecated_since"), reply.BulkString(meta.deprecatedSince))
		}
		if meta.replacedBy != "" {
			pairs = append(pairs, reply.BulkString("replaced_by"), reply.BulkString(meta.replacedBy))
		}
		if len(meta.history) > 0 {
			hs := make([]reply.Value, len(meta.history))
			for i, h := range meta.history {
				hs[i] = reply.Array(reply.BulkString(h[0]), reply.BulkString(h[1]))
			}
			pairs = append(pairs, reply.BulkString("history"), reply.Set(hs...))
		}
	}
	if len(s.Subcommands) > 0 {
		var subs []reply.Value
		for _, sub := range cmdSubSpecs(s) {
			subs = append(subs, reply.BulkString(sub.Name), cmdDocsEntry(sub))
		}
		pairs = append(pairs, reply.BulkString("subcommands"), reply.Map(subs...))
	}
	return reply.Map(pairs...)
}

// cmdDocs is COMMAND DOCS [name ...]: a map from each known name to its docs; unknown names
// are left out.
func cmdDocs(t *Table, names [][]byte) reply.Value {
	var specs []*Spec
	if len(names) == 0 {
		specs = cmdSortedSpecs(t.All())
	} else {
		for _, n := range names {
			if s := cmdLookupName(t, n); s != nil {
				specs = append(specs, s)
			}
		}
	}
	pairs := make([]reply.Value, 0, 2*len(specs))
	for _, s := range specs {
		pairs = append(pairs, reply.BulkString(s.Name), cmdDocsEntry(s))
	}
	return reply.Map(pairs...)
}

// cmdList is COMMAND LIST [FILTERBY MODULE m|ACLCAT c|PATTERN p]: every command and
// subcommand name passing the filter. ferricd has no modules; an unknown category matches
// nothing, as in Redis 7.0.
func cmdList(t *Table, args [][]byte) reply.Value {
	keep := func(*Spec) bool { return true }
	switch {
	case len(args) == 2:
	case len(args) == 5 && genEqFold(args[2], "filterby"):
		arg := args[4]
		switch {
		case genEqFold(args[3], "module"):
			keep = func(*Spec) bool { return false }
		case genEqFold(args[3], "aclcat"):
			keep = func(s *Spec) bool {
				return slices.ContainsFunc(s.ACLCategories, func(c string) bool {
					return strings.EqualFold(strings.TrimPrefix(c, "@"), string(arg))
				})
			}
		case genEqFold(args[3], "pattern"):
			keep = func(s *Spec) bool { return glob.Match(arg, []byte(s.Name), true) }
		default:
			return reply.ErrSyntax
		}
	default:
		return reply.ErrSyntax
	}
	var names []reply.Value
	for _, s := range cmdSortedSpecs(t.All()) {
		if keep(s) {
			names = append(names, reply.BulkString(s.Name))
		}
		for _, sub := range cmdSubSpecs(s) {
			if keep(sub) {
				names = append(names, reply.BulkString(sub.Name))
			}
		}
	}
	return reply.Array(names...)
}

// cmdGetKeys is COMMAND GETKEYS and GETKEYSANDFLAGS on the command line args. Keys come from
// the Spec (the same positions the node routes by); their access flags from the key specs.
func cmdGetKeys(t *Table, args [][]byte, withFlags bool) reply.Value {
	s := t.Lookup(args)
	if s == nil || len(s.Subcommands) > 0 {
		return cmdErrInvalidCommand
	}
	if s.FirstKey <= 0 && s.Keys == nil {
		return cmdErrNoKeys
	}
	if !s.CheckArity(len(args)) {
		return cmdErrInvalidArity
	}
	keys, ok := safeKeyArgs(s, args)
	if !ok {
		return cmdErrInvalidArgs
	}
	if len(keys) == 0 {
		if s.Flags&FlagNoMandatoryKeys != 0 {
			return reply.Array()
		}
		return cmdErrInvalidArgs
	}
	if !withFlags {
		return reply.BulkArray(keys)
	}
	// Pair each key with the flags of the key spec that finds the same bytes.
	var found []keyPos
	for _, k := range cmdKeySpecs(s) {
		if ps, ok := k.positions(args); ok {
			found = append(found, ps...)
		}
	}
	out := make([]reply.Value, len(keys))
	for i, key := range keys {
		flags := ""
		for j, p := range found {
			if p.pos >= 0 && bytes.Equal(args[p.pos], key) {
				flags = p.flags
				found[j].pos = -1
				break
			}
		}
		out[i] = reply.Array(reply.Bulk(key), cmdSimpleSet(cmdWords(flags)))
	}
	return reply.Array(out...)
}

// safeKeyArgs runs s.KeyArgs on arguments that passed the arity check only: a Keys function
// may assume more (a valid numkeys), and a malformed COMMAND GETKEYS must not crash the node.
func safeKeyArgs(s *Spec, args [][]byte) (keys [][]byte, ok bool) {
	defer func() {
		if recover() != nil {
			keys, ok = nil, false
		}
	}()
	return s.KeyArgs(args), true
}
