package command

import (
	"context"
	"math/bits"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

// OBJECT and MEMORY USAGE report how Redis would hold a value, so tools that inspect
// encodings or sizes keep working. ferricd stores bytes in Pebble, not Redis objects, so the
// answers are derived from the value:
//
//   - OBJECT ENCODING of a string is "int" when it is a canonical int64 of at most 20 bytes,
//     "embstr" up to 44 bytes, else "raw", adjusted by the encoding hint the writing command
//     stored (APPEND, SETRANGE and the bit commands leave "raw"; INCRBYFLOAT never "int").
//   - OBJECT REFCOUNT is Redis' shared-integer marker 2147483647 for 0..9999, else 1.
//   - OBJECT IDLETIME is 0: ferricd keeps no access clock (it would cost a write per read).
//   - OBJECT FREQ fails as Redis does under its default (non-LFU) maxmemory policy.
//   - MEMORY USAGE of a string reproduces Redis 7.0's figure on x86-64 with jemalloc: dict
//     entry + key sds + object + value, each rounded up to jemalloc's size classes.

var (
	genErrNoLFU = reply.Err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")

	genObjectHelp = []string{
		"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"ENCODING <key>",
		"    Return the kind of internal representation used in order to store the value",
		"    associated with a <key>.",
		"FREQ <key>",
		"    Return the access frequency index of the <key>. The returned integer is",
		"    proportional to the logarithm of the recent access frequency of the key.",
		"IDLETIME <key>",
		"    Return the idle time of the <key>, that is the approximated number of",
		"    seconds elapsed since the last access to the key.",
		"REFCOUNT <key>",
		"    Return the number of references of the value associated with the specified",
		"    <key>.",
		"HELP",
		"    Prints this help.",
	}
	// genMemoryHelp is Redis' text restricted to the subcommands ferricd implements.
	genMemoryHelp = []string{
		"MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"USAGE <key> [SAMPLES <count>]",
		"    Return memory in bytes used by <key> and its value. Nested values are",
		"    sampled up to <count> times (default: 5, 0 means sample all).",
		"HELP",
		"    Prints this help.",
	}
)

// genHelpReply renders HELP text as Redis does: one status reply per line.
func genHelpReply(lines []string) reply.Value {
	elems := make([]reply.Value, len(lines))
	for i, l := range lines {
		elems[i] = reply.Simple(l)
	}
	return reply.Array(elems...)
}

// genContainer completes a container command: it runs on the node only to reject an
// unknown subcommand (Table.Lookup returns the container then).
func genContainer(s *Spec, subs ...*Spec) *Spec {
	s.Kind = KindServer
	s.Server = func(_ context.Context, _ Server, args [][]byte) reply.Value {
		return reply.UnknownSubcommand(s.Name, args[1])
	}
	s.Subcommands = make(map[string]*Spec, len(subs))
	for _, sub := range subs {
		s.Subcommands[sub.Name[len(s.Name)+1:]] = sub
	}
	return s
}

// genStaticHelp is a HELP subcommand's ServerFunc.
func genStaticHelp(lines []string) ServerFunc {
	return func(context.Context, Server, [][]byte) reply.Value { return genHelpReply(lines) }
}

func genObjectSpec() *Spec {
	sub := func(name, since, summary string, run KeyFunc) *Spec {
		return &Spec{
			Name: "object|" + name, Arity: 3, Flags: FlagReadOnly,
			FirstKey: 2, LastKey: 2, Step: 1,
			ACLCategories: genACLReadSlow,
			Group:         "generic", Since: since,
			Summary:    summary,
			Complexity: "O(1)",
			Kind:       KindKeyRead, Run: run,
		}
	}
	return genContainer(&Spec{
		Name: "object", Arity: -2,
		ACLCategories: []string{"@slow"},
		Group:         "generic", Since: "2.2.3",
		Summary:    "A container for object introspection commands",
		Complexity: "Depends on subcommand.",
	},
		sub("encoding", "2.2.3", "Inspect the internal encoding of a Redis object", genObjectEncodingCmd),
		sub("freq", "4.0.0", "Get the logarithmic access frequency counter of a Redis object", genObjectFreqCmd),
		sub("idletime", "2.2.3", "Get the time since a Redis object was last accessed", genObjectIdleCmd),
		sub("refcount", "2.2.3", "Get the number of references to the value of the key", genObjectRefcountCmd),
		&Spec{
			Name: "object|help", Arity: 2, Flags: FlagLoading | FlagStale,
			ACLCategories: []string{"@keyspace", "@slow"},
			Group:         "generic", Since: "6.2.0",
			Summary:    "Show helpful text about the different subcommands",
			Complexity: "O(1)",
			Kind:       KindServer, Server: genStaticHelp(genObjectHelp),
		},
	)
}

func genMemorySpec() *Spec {
	return genContainer(&Spec{
		Name: "memory", Arity: -2,
		ACLCategories: []string{"@slow"},
		Group:         "server", Since: "4.0.0",
		Summary:    "A container for memory diagnostics commands",
		Complexity: "Depends on subcommand.",
	},
		&Spec{
			Name: "memory|usage", Arity: -3, Flags: FlagReadOnly,
			FirstKey: 2, LastKey: 2, Step: 1,
			ACLCategories: []string{"@read", "@slow"},
			Group:         "server", Since: "4.0.0",
			Summary:    "Estimate the memory usage of a key",
			Complexity: "O(N) where N is the number of samples.",
			Kind:       KindKeyRead, Run: genMemoryUsageCmd,
		},
		&Spec{
			Name: "memory|help", Arity: 2, Flags: FlagLoading | FlagStale,
			ACLCategories: []string{"@slow"},
			Group:         "server", Since: "4.0.0",
			Summary:    "Show helpful text about the different subcommands",
			Complexity: "O(1)",
			Kind:       KindServer, Server: genStaticHelp(genMemoryHelp),
		},
	)
}

// genLookupObject is OBJECT's lookup: a missing key answers null.
func genLookupObject(tx *keyspace.Txn, key []byte) (keyspace.Meta, reply.Value, bool) {
	m, ok, err := tx.Lookup(key)
	if err != nil {
		return m, genTxnErr(err), false
	}
	if !ok {
		return m, reply.Null, false
	}
	return m, reply.Value{}, true
}

// genStringEncoding is the encoding Redis would report for a string written the way m's
// encoding hint records: tryObjectEncoding for SET-like writes, always "raw" after an in-place
// edit, and no "int" for a value built from a formatted float.
func genStringEncoding(m *keyspace.Meta) string {
	v := m.Value
	if m.Enc == keyspace.EncRaw {
		return "raw"
	}
	if _, ok := genParseInt(v); ok && m.Enc == keyspace.EncAuto {
		return "int"
	}
	if len(v) <= 44 {
		return "embstr"
	}
	return "raw"
}

// genCollectionEncoding names the encoding Redis 7.0 would hold a collection in: the type's
// commands set Meta.Enc to EncBig when Redis would have converted it (never undone).
func genCollectionEncoding(m *keyspace.Meta) string {
	big := m.Enc == keyspace.EncBig
	switch m.Type {
	case keyspace.TypeList:
		return "quicklist" // Redis 7.0 has no listpack-encoded lists yet
	case keyspace.TypeSet:
		if big {
			return "hashtable"
		}
		return "intset"
	case keyspace.TypeZSet:
		if big {
			return "skiplist"
		}
		return "listpack"
	default:
		if big {
			return "hashtable"
		}
		return "listpack"
	}
}

func genObjectEncodingCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	m, errv, ok := genLookupObject(tx, args[2])
	if !ok {
		return errv
	}
	switch m.Type {
	case keyspace.TypeString:
		return reply.BulkString(genStringEncoding(&m))
	default:
		return reply.BulkString(genCollectionEncoding(&m))
	}
}

func genObjectFreqCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	if _, errv, ok := genLookupObject(tx, args[2]); !ok {
		return errv
	}
	return genErrNoLFU
}

func genObjectIdleCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	if _, errv, ok := genLookupObject(tx, args[2]); !ok {
		return errv
	}
	return reply.Int(0)
}

func genObjectRefcountCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	m, errv, ok := genLookupObject(tx, args[2])
	if !ok {
		return errv
	}
	if m.Type == keyspace.TypeString {
		if n, isInt := genParseInt(m.Value); isInt && n >= 0 && n < 10000 {
			return reply.Int(2147483647)
		}
	}
	return reply.Int(1)
}

// genMemoryUsageCmd is MEMORY USAGE key [SAMPLES n]. SAMPLES is validated as Redis does
// (before the lookup) but does not change the estimate.
func genMemoryUsageCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	for i := 3; i < len(args); i++ {
		if !genEqFold(args[i], "samples") || i+1 >= len(args) {
			return reply.ErrSyntax
		}
		n, ok := genParseInt(args[i+1])
		if !ok {
			return reply.ErrNotInteger
		}
		if n < 0 {
			return reply.ErrSyntax
		}
		i++
	}
	m, errv, ok := genLookupObject(tx, args[2])
	if !ok {
		return errv
	}
	return reply.Int(genMemoryUsage(args[2], &m))
}

// Sizes of Redis 7.0's structures on a 64-bit build.
const (
	genDictEntrySize = 24
	genRobjSize      = 16
)

// genMemoryUsage estimates what Redis would report for key holding m.
func genMemoryUsage(key []byte, m *keyspace.Meta) int64 {
	n := genDictEntrySize + genSdsAlloc(len(key), true)
	if m.Type != keyspace.TypeString {
		// Collections: until their families land, count the object and a listpack-like
		// 16 bytes per element; a rough figure, like Redis' own sampled one.
		return n + genRobjSize + genJemallocSize(16*max(m.Size, 1))
	}
	v := m.Value
	switch genStringEncoding(m) {
	case "int":
		return n + genRobjSize
	case "embstr":
		// Object, sdshdr8 and value in one allocation.
		return n + genJemallocSize(int64(genRobjSize+3+len(v)+1))
	default:
		return n + genRobjSize + genSdsAlloc(len(v), false)
	}
}

// genSdsAlloc is the allocation of an sds string of length n. Keys are duplicated with
// sdsnewlen, which picks the 1-byte sdshdr5 below 32 bytes (except for the empty string);
// raw values are at least 45 bytes, so the shortcut never applies to them.
func genSdsAlloc(n int, key bool) int64 {
	var hdr int
	switch {
	case n < 32 && key && n > 0:
		hdr = 1
	case n < 1<<8:
		hdr = 3
	case n < 1<<16:
		hdr = 5
	case n < 1<<32:
		hdr = 9
	default:
		hdr = 17
	}
	return genJemallocSize(int64(hdr + n + 1))
}

// genJemallocSize rounds n up to jemalloc's size class: 8, then multiples of 16 up to 128,
// then four classes per power of two.
func genJemallocSize(n int64) int64 {
	switch {
	case n <= 8:
		return 8
	case n <= 128:
		return (n + 15) &^ 15
	}
	lg := 63 - bits.LeadingZeros64(uint64(n-1)) // 2^lg < n <= 2^(lg+1)
	delta := int64(1) << (lg - 2)
	return (n + delta - 1) &^ (delta - 1)
}
