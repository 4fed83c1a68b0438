package command

// The server family: DBSIZE, FLUSHALL, FLUSHDB, CONFIG, TIME, LASTSAVE, SAVE, BGSAVE, INFO,
// FUNCTION (an empty function library), and COMMAND (command_cmd.go). They run on the node
// through the Server interface. Metadata is Redis 7.0.15's (checked by TestSpecsMatchRedis).
//
// Persistence commands keep their Redis replies but do nothing: every acknowledged write is
// already durable in ferricd (DESIGN.md §5), so SAVE and BGSAVE have nothing to add, and
// LASTSAVE reports the node's last durable point.
//
// Node errors (a shard without a leader during FLUSHALL, ...) are reported as Redis' generic
// internal error; their Go text is for logs, not clients.

import (
	"context"
	"errors"

	"ferricd/internal/reply"
)

var (
	srvACLAdmin = []string{"@admin", "@slow", "@dangerous"}
	srvACLFlush = []string{"@keyspace", "@write", "@slow", "@dangerous"}

	srvErrNoConfigFile = reply.Err("ERR The server is running without a config file")

	srvConfigHelp = []string{
		"CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"GET <pattern>",
		"    Return parameters matching the glob-like <pattern> and their values.",
		"SET <directive> <value>",
		"    Set the configuration <directive> to <value>.",
		"RESETSTAT",
		"    Reset statistics reported by the INFO command.",
		"REWRITE",
		"    Rewrite the configuration file.",
		"HELP",
		"    Prints this help.",
	}
	// srvFunctionHelp is Redis' text restricted to the subcommands ferricd implements.
	srvFunctionHelp = []string{
		"FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"LIST [LIBRARYNAME PATTERN] [WITHCODE]",
		"    Return general information on all the libraries:",
		"    * Library name",
		"    * The engine used to run the Library",
		"    * Library description",
		"    * Functions list",
		"    * Library code (if WITHCODE is given)",
		"    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
		"FLUSH [ASYNC|SYNC]",
		"    Delete all the libraries.",
		"    When called without the optional mode argument, the behavior is determined by the",
		"    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
		"    * ASYNC: Asynchronously flush the libraries.",
		"    * SYNC: Synchronously flush the libraries.",
		"HELP",
		"    Prints this help.",
	}
)

// ConfigRewriter is implemented by a Config that can persist itself (CONFIG REWRITE); without
// it CONFIG REWRITE answers as Redis does when started without a config file.
type ConfigRewriter interface {
	Rewrite() error
}

// registerServer registers the server family and COMMAND.
func registerServer(t *Table) {
	for _, s := range []*Spec{
		{
			Name: "dbsize", Arity: 1, Flags: FlagReadOnly | FlagFast,
			ACLCategories: []string{"@keyspace", "@read", "@fast"},
			Group:         "server", Since: "1.0.0",
			Summary:    "Return the number of keys in the selected database",
			Complexity: "O(1)",
			Kind:       KindServer, Server: srvDBSizeCmd,
		},
		{
			Name: "flushall", Arity: -1, Flags: FlagWrite,
			ACLCategories: srvACLFlush,
			Group:         "server", Since: "1.0.0",
			Summary:    "Remove all keys from all databases",
			Complexity: "O(N) where N is the total number of keys in all databases",
			Kind:       KindServer, Server: srvFlushCmd,
		},
		{
			// ferricd has one database, so FLUSHDB is FLUSHALL.
			Name: "flushdb", Arity: -1, Flags: FlagWrite,
			ACLCategories: srvACLFlush,
			Group:         "server", Since: "1.0.0",
			Summary:    "Remove all keys from the current database",
			Complexity: "O(N) where N is the number of keys in the selected database",
			Kind:       KindServer, Server: srvFlushCmd,
		},
		{
			Name: "time", Arity: 1, Flags: FlagLoading | FlagStale | FlagFast,
			ACLCategories: []string{"@fast"},
			Group:         "server", Since: "2.6.0",
			Summary:    "Return the current server time",
			Complexity: "O(1)",
			Kind:       KindServer, Server: srvTimeCmd,
		},
		{
			Name: "lastsave", Arity: 1, Flags: FlagLoading | FlagStale | FlagFast,
			ACLCategories: []string{"@admin", "@fast", "@dangerous"},
			Group:         "server", Since: "1.0.0",
			Summary:    "Get the UNIX time stamp of the last successful save to disk",
			Complexity: "O(1)",
			Kind:       KindServer, Server: srvLastSaveCmd,
		},
		{
			Name: "save", Arity: 1, Flags: FlagAdmin | FlagNoScript | FlagNoMulti,
			ACLCategories: srvACLAdmin,
			Group:         "server", Since: "1.0.0",
			Summary:    "Synchronously save the dataset to disk",
			Complexity: "O(N) where N is the total number of keys in all databases",
			Kind:       KindServer, Server: srvSaveCmd,
		},
		{
			Name: "bgsave", Arity: -1, Flags: FlagAdmin | FlagNoScript,
			ACLCategories: srvACLAdmin,
			Group:         "server", Since: "1.0.0",
			Summary:    "Asynchronously save the dataset to disk",
			Complexity: "O(1)",
			Kind:       KindServer, Server: srvBgsaveCmd,
		},
		{
			Name: "info", Arity: -1, Flags: FlagLoading | FlagStale,
			ACLCategories: []string{"@slow", "@dangerous"},
			Group:         "server", Since: "1.0.0",
			Summary:    "Get information and statistics about the server",
			Complexity: "O(1)",
			Kind:       KindServer, Server: srvInfoCmd,
		},
	} {
		t.Add(s)
	}
	t.Add(srvConfigSpec())
	t.Add(srvFunctionSpec())
	t.Add(commandSpec(t))
}

func srvConfigSpec() *Spec {
	sub := func(name string, arity int, since, summary, complexity string, run ServerFunc) *Spec {
		return &Spec{
			Name: "config|" + name, Arity: arity, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale,
			ACLCategories: srvACLAdmin,
			Group:         "server", Since: since,
			Summary:    summary,
			Complexity: complexity,
			Kind:       KindServer, Server: run,
		}
	}
	perParam := "O(N) when N is the number of configuration parameters provided"
	return genContainer(&Spec{
		Name: "config", Arity: -2,
		ACLCategories: []string{"@slow"},
		Group:         "server", Since: "2.0.0",
		Summary:    "A container for server configuration commands",
		Complexity: "Depends on subcommand.",
	},
		sub("get", -3, "2.0.0", "Get the values of configuration parameters", perParam, srvConfigGetCmd),
		sub("set", -4, "2.0.0", "Set configuration parameters to the given values", perParam, srvConfigSetCmd),
		sub("resetstat", 2, "2.0.0", "Reset the stats returned by INFO", "O(1)", srvConfigResetStatCmd),
		sub("rewrite", 2, "2.8.0", "Rewrite the configuration file with the in memory configuration", "O(1)", srvConfigRewriteCmd),
		&Spec{
			Name: "config|help", Arity: 2, Flags: FlagLoading | FlagStale,
			ACLCategories: []string{"@slow"},
			Group:         "server", Since: "5.0.0",
			Summary:    "Show helpful text about the different subcommands",
			Complexity: "O(1)",
			Kind:       KindServer, Server: genStaticHelp(srvConfigHelp),
		},
	)
}

func srvFunctionSpec() *Spec {
	return genContainer(&Spec{
		Name: "function", Arity: -2,
		ACLCategories: []string{"@slow"},
		Group:         "scripting", Since: "7.0.0",
		Summary:    "A container for function commands",
		Complexity: "Depends on subcommand.",
	},
		&Spec{
			Name: "function|list", Arity: -2, Flags: FlagNoScript,
			ACLCategories: []string{"@slow", "@scripting"},
			Group:         "scripting", Since: "7.0.0",
			Summary:    "List information about all the functions",
			Complexity: "O(N) where N is the number of functions",
			Kind:       KindServer, Server: srvFunctionListCmd,
		},
		&Spec{
			Name: "function|flush", Arity: -2, Flags: FlagWrite | FlagNoScript,
			ACLCategories: []string{"@write", "@slow", "@scripting"},
			Group:         "scripting", Since: "7.0.0",
			Summary:    "Deleting all functions",
			Complexity: "O(N) where N is the number of functions deleted",
			Kind:       KindServer, Server: srvFunctionFlushCmd,
		},
		&Spec{
			Name: "function|help", Arity: 2, Flags: FlagLoading | FlagStale,
			ACLCategories: []string{"@slow", "@scripting"},
			Group:         "scripting", Since: "7.0.0",
			Summary:    "Show helpful text about the different subcommands",
			Complexity: "O(1)",
			Kind:       KindServer, Server: genStaticHelp(srvFunctionHelp),
		},
	)
}

func srvDBSizeCmd(ctx context.Context, s Server, _ [][]byte) reply.Value {
	n, err := s.DBSize(ctx)
	if err != nil {
		var er ReplyError
		if errors.As(err, &er) {
			return er.Value
		}
		return reply.ErrInternal
	}
	return reply.Int(n)
}

// srvFlushCmd is FLUSHALL and FLUSHDB [ASYNC|SYNC]. Both modes do the same: each shard
// deletes its slot spans through its log (span deletes, cheap whatever the key count), and
// the reply waits for that.
func srvFlushCmd(ctx context.Context, s Server, args [][]byte) reply.Value {
	if len(args) > 2 || len(args) == 2 && !genEqFold(args[1], "async") && !genEqFold(args[1], "sync") {
		return reply.ErrSyntax
	}
	if err := s.FlushAll(ctx); err != nil {
		return reply.ErrInternal
	}
	return reply.OK
}

func srvTimeCmd(_ context.Context, s Server, _ [][]byte) reply.Value {
	now := s.Now()
	return reply.Array(reply.BulkInt(now.Unix()), reply.BulkInt(int64(now.Nanosecond()/1000)))
}

func srvLastSaveCmd(_ context.Context, s Server, _ [][]byte) reply.Value {
	return reply.Int(s.LastSave())
}

func srvSaveCmd(context.Context, Server, [][]byte) reply.Value { return reply.OK }

// srvBgsaveCmd is BGSAVE [SCHEDULE]; Redis says "scheduled" only when an AOF rewrite is in
// progress, which never happens here.
func srvBgsaveCmd(_ context.Context, _ Server, args [][]byte) reply.Value {
	if len(args) > 2 || len(args) == 2 && !genEqFold(args[1], "schedule") {
		return reply.ErrSyntax
	}
	return reply.Simple("Background saving started")
}

// srvInfoCmd is INFO [section ...]: section names are case-insensitive; none means
// "default". The text is verbatim in RESP3 and a bulk string in RESP2, as in Redis 7.
func srvInfoCmd(ctx context.Context, s Server, args [][]byte) reply.Value {
	sections := []string{"default"}
	if len(args) > 1 {
		sections = sections[:0]
		for _, a := range args[1:] {
			sections = append(sections, lower(a))
		}
	}
	return reply.Verbatim(s.Info(ctx, sections))
}

// srvConfigGetCmd is CONFIG GET pattern [pattern ...]: the union of the parameters matching
// any pattern, each once, in the order first found.
func srvConfigGetCmd(_ context.Context, s Server, args [][]byte) reply.Value {
	cfg := s.Config()
	seen := make(map[string]bool)
	var pairs []reply.Value
	for _, p := range args[2:] {
		for _, kv := range cfg.Get(string(p)) {
			if seen[kv[0]] {
				continue
			}
			seen[kv[0]] = true
			pairs = append(pairs, reply.BulkString(kv[0]), reply.BulkString(kv[1]))
		}
	}
	return reply.Map(pairs...)
}

// srvConfigSetCmd is CONFIG SET name value [name value ...]; the Config applies the pairs
// atomically and words its own errors (unknown or duplicate parameter, bad value) as Redis.
func srvConfigSetCmd(_ context.Context, s Server, args [][]byte) reply.Value {
	if len(args)%2 != 0 {
		return reply.ErrSyntax
	}
	pairs := make([][2]string, 0, (len(args)-2)/2)
	for i := 2; i+1 < len(args); i += 2 {
		pairs = append(pairs, [2]string{string(args[i]), string(args[i+1])})
	}
	if err := s.Config().Set(pairs); err != nil {
		return reply.Err("ERR " + err.Error())
	}
	return reply.OK
}

func srvConfigResetStatCmd(_ context.Context, s Server, _ [][]byte) reply.Value {
	s.ResetStats()
	return reply.OK
}

func srvConfigRewriteCmd(_ context.Context, s Server, _ [][]byte) reply.Value {
	rw, ok := s.Config().(ConfigRewriter)
	if !ok {
		return srvErrNoConfigFile
	}
	if err := rw.Rewrite(); err != nil {
		return reply.Err("ERR " + err.Error())
	}
	return reply.OK
}

// srvFunctionListCmd is FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]: ferricd has no
// function libraries, so after Redis' argument checks the answer is empty.
func srvFunctionListCmd(_ context.Context, _ Server, args [][]byte) reply.Value {
	withCode, byName := false, false
	for i := 2; i < len(args); i++ {
		switch {
		case !withCode && genEqFold(args[i], "withcode"):
			withCode = true
		case !byName && genEqFold(args[i], "libraryname"):
			if i+1 >= len(args) {
				return reply.Err("ERR library name argument was not given")
			}
			byName = true
			i++
		default:
			return reply.Err("ERR Unknown argument " + string(args[i]))
		}
	}
	return reply.Array()
}

func srvFunctionFlushCmd(_ context.Context, _ Server, args [][]byte) reply.Value {
	switch {
	case len(args) > 3:
		return reply.Err("ERR unknown subcommand or wrong number of arguments for '" + string(args[1]) +
			"'. Try " + srvUpper(args[0]) + " HELP.")
	case len(args) == 3 && !genEqFold(args[2], "async") && !genEqFold(args[2], "sync"):
		return reply.Err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
	}
	return reply.OK
}

// srvUpper upper-cases ASCII.
func srvUpper(b []byte) string {
	out := []byte(string(b))
	for i, c := range out {
		if c >= 'a' && c <= 'z' {
			out[i] = c - ('a' - 'A')
		}
	}
	return string(out)
}
