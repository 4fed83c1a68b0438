package command

// The generic (keyspace) family: DEL, UNLINK, EXISTS, TYPE, TOUCH, RENAME, RENAMENX, COPY, the
// EXPIRE/TTL commands (keys_expire.go), OBJECT and MEMORY USAGE (keys_object.go), and the
// node-wide KEYS, SCAN, RANDOMKEY (keys_scan.go).
//
// Metadata (arity, flags, key positions, ACL categories, group, since, summary, complexity)
// is Redis 7.0.15's COMMAND INFO and COMMAND DOCS; TestSpecsMatchRedis checks it against the
// recording in testdata. Semantics follow db.c and expire.c of that release, including the
// order of checks, since that order decides which error a client sees.
//
// Unexported names of this family carry a gen prefix (srv for the server family): other
// families live in the same package and are written in parallel.
//
// Keys exist only as strings so far. RENAME and COPY move a key by writing its metadata under
// the new name with Put, which carries a string's whole value. A collection's elements live
// in sub-keys that Put does not copy, so both commands refuse collections until the
// collection families add a sub-key copy (genMoveable).

import (
	"errors"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

var (
	genACLWriteFast = []string{"@keyspace", "@write", "@fast"}
	genACLWriteSlow = []string{"@keyspace", "@write", "@slow"}
	genACLReadFast  = []string{"@keyspace", "@read", "@fast"}
	genACLReadSlow  = []string{"@keyspace", "@read", "@slow"}

	genErrSameObject = reply.Err("ERR source and destination objects are the same")
	genErrDBRange    = reply.Err("ERR DB index is out of range")
	genErrDBInt      = reply.Err("ERR value is out of range, value must between -2147483648 and 2147483647")
)

// registerKeys registers the generic family.
func registerKeys(t *Table) {
	for _, s := range []*Spec{
		{
			Name: "del", Arity: -2, Flags: FlagWrite,
			FirstKey: 1, LastKey: -1, Step: 1,
			ACLCategories: genACLWriteSlow,
			Group:         "generic", Since: "1.0.0",
			Summary:    "Delete a key",
			Complexity: "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).",
			Kind:       KindKeyWrite, Run: genDelCmd,
		},
		{
			Name: "unlink", Arity: -2, Flags: FlagWrite | FlagFast,
			FirstKey: 1, LastKey: -1, Step: 1,
			ACLCategories: genACLWriteFast,
			Group:         "generic", Since: "4.0.0",
			Summary:    "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
			Complexity: "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.",
			Kind:       KindKeyWrite, Run: genDelCmd,
		},
		{
			Name: "exists", Arity: -2, Flags: FlagReadOnly | FlagFast,
			FirstKey: 1, LastKey: -1, Step: 1,
			ACLCategories: genACLReadFast,
			Group:         "generic", Since: "1.0.0",
			Summary:    "Determine if a key exists",
			Complexity: "O(N) where N is the number of keys to check.",
			Kind:       KindKeyRead, Run: genExistsCmd,
		},
		{
			Name: "type", Arity: 2, Flags: FlagReadOnly | FlagFast,
			FirstKey: 1, LastKey: 1, Step: 1,
			ACLCategories: genACLReadFast,
			Group:         "generic", Since: "1.0.0",
			Summary:    "Determine the type stored at key",
			Complexity: "O(1)",
			Kind:       KindKeyRead, Run: genTypeCmd,
		},
		{
			// TOUCH only refreshes access times in Redis; ferricd keeps none (see OBJECT
			// IDLETIME), so it is a read that counts existing keys, like EXISTS.
			Name: "touch", Arity: -2, Flags: FlagReadOnly | FlagFast,
			FirstKey: 1, LastKey: -1, Step: 1,
			ACLCategories: genACLReadFast,
			Group:         "generic", Since: "3.2.1",
			Summary:    "Alters the last access time of a key(s). Returns the number of existing keys specified.",
			Complexity: "O(N) where N is the number of keys that will be touched.",
			Kind:       KindKeyRead, Run: genExistsCmd,
		},
		{
			Name: "rename", Arity: 3, Flags: FlagWrite,
			FirstKey: 1, LastKey: 2, Step: 1,
			ACLCategories: genACLWriteSlow,
			Group:         "generic", Since: "1.0.0",
			Summary:    "Rename a key",
			Complexity: "O(1)",
			Kind:       KindKeyWrite, Run: genRenameCmd(false),
		},
		{
			Name: "renamenx", Arity: 3, Flags: FlagWrite | FlagFast,
			FirstKey: 1, LastKey: 2, Step: 1,
			ACLCategories: genACLWriteFast,
			Group:         "generic", Since: "1.0.0",
			Summary:    "Rename a key, only if the new key does not exist",
			Complexity: "O(1)",
			Kind:       KindKeyWrite, Run: genRenameCmd(true),
		},
		{
			Name: "copy", Arity: -3, Flags: FlagWrite | FlagDenyOOM,
			FirstKey: 1, LastKey: 2, Step: 1,
			ACLCategories: genACLWriteSlow,
			Group:         "generic", Since: "6.2.0",
			Summary:    "Copy a key",
			Complexity: "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.",
			Kind:       KindKeyWrite, Run: genCopyCmd, Validate: genCopyValidate,
		},
	} {
		t.Add(s)
	}
	for _, s := range genExpireSpecs() {
		t.Add(s)
	}
	t.Add(genObjectSpec())
	t.Add(genMemorySpec())
	for _, s := range genScanSpecs() {
		t.Add(s)
	}
}

// genTxnErr turns a Txn error into a reply: WRONGTYPE for a type mismatch, otherwise a
// storage fault whose Go text must not reach clients.
func genTxnErr(err error) reply.Value {
	if errors.Is(err, keyspace.ErrWrongType) {
		return reply.ErrWrongType
	}
	return reply.ErrInternal
}

// genDelCmd is DEL and UNLINK: ferricd deletes a collection in O(1) through its version
// (DESIGN.md §3), so UNLINK's "free in the background" is what DEL already does.
func genDelCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	var n int64
	for _, k := range args[1:] {
		ok, err := tx.Delete(k)
		if err != nil {
			return genTxnErr(err)
		}
		if ok {
			n++
		}
	}
	return reply.Int(n)
}

// genExistsCmd counts the arguments naming a live key; a key named twice counts twice.
func genExistsCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	var n int64
	for _, k := range args[1:] {
		_, ok, err := tx.Lookup(k)
		if err != nil {
			return genTxnErr(err)
		}
		if ok {
			n++
		}
	}
	return reply.Int(n)
}

func genTypeCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	m, ok, err := tx.Lookup(args[1])
	if err != nil {
		return genTxnErr(err)
	}
	if !ok {
		return reply.Simple("none")
	}
	return reply.Simple(m.Type.String())
}

// genRenameCmd is RENAME (nx false) and RENAMENX. The source keeps its TTL under the new
// name, as in Redis.
func genRenameCmd(nx bool) KeyFunc {
	return func(tx *keyspace.Txn, args [][]byte) reply.Value {
		src, dst := args[1], args[2]
		m, ok, err := tx.Lookup(src)
		if err != nil {
			return genTxnErr(err)
		}
		if !ok {
			return reply.ErrNoSuchKey
		}
		if string(src) == string(dst) {
			if nx {
				return reply.Int(0)
			}
			return reply.OK
		}
		if nx {
			_, exists, err := tx.Lookup(dst)
			if err != nil {
				return genTxnErr(err)
			}
			if exists {
				return reply.Int(0)
			}
		}
		if err := tx.RenameKey(src, dst, m); err != nil {
			return genTxnErr(err)
		}
		if nx {
			return reply.Int(1)
		}
		return reply.OK
	}
}

// genCopyArgs parses COPY's options: REPLACE and DB n. ferricd has database 0 only, so any
// other index gets Redis' error for a database that does not exist.
func genCopyArgs(args [][]byte) (replace bool, errv reply.Value, ok bool) {
	for i := 3; i < len(args); i++ {
		switch {
		case genEqFold(args[i], "replace"):
			replace = true
		case genEqFold(args[i], "db") && i+1 < len(args):
			db, isInt := genParseInt(args[i+1])
			if !isInt {
				return false, reply.ErrNotInteger, false
			}
			if db < -1<<31 || db > 1<<31-1 {
				return false, genErrDBInt, false
			}
			if db != 0 {
				return false, genErrDBRange, false
			}
			i++
		default:
			return false, reply.ErrSyntax, false
		}
	}
	return replace, reply.Value{}, true
}

func genCopyValidate(args [][]byte) (reply.Value, bool) {
	_, errv, ok := genCopyArgs(args)
	return errv, ok
}

func genCopyCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	replace, errv, ok := genCopyArgs(args)
	if !ok {
		return errv
	}
	src, dst := args[1], args[2]
	if string(src) == string(dst) {
		return genErrSameObject
	}
	m, ok, err := tx.Lookup(src)
	if err != nil {
		return genTxnErr(err)
	}
	if !ok {
		return reply.Int(0)
	}
	_, exists, err := tx.Lookup(dst)
	if err != nil {
		return genTxnErr(err)
	}
	if exists && !replace {
		return reply.Int(0)
	}
	if err := tx.CopyKey(src, dst, m); err != nil {
		return genTxnErr(err)
	}
	return reply.Int(1)
}

// genParseInt parses b as Redis' string2ll does: optional '-', no '+', no spaces, no leading
// zeros ("-0" and "007" are not integers), within int64.
func genParseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := b[0] == '-'
	digits := b
	if neg {
		digits = b[1:]
	}
	if len(digits) == 0 || digits[0] < '1' || digits[0] > '9' {
		return 0, false
	}
	var v uint64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > (1<<64-1)/10 {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
		if v < uint64(c-'0') {
			return 0, false
		}
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return int64(-v), true
	}
	if v > 1<<63-1 {
		return 0, false
	}
	return int64(v), true
}

// genEqFold reports whether b equals the lower-case ASCII word w, ignoring ASCII case.
func genEqFold(b []byte, w string) bool {
	if len(b) != len(w) {
		return false
	}
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != w[i] {
			return false
		}
	}
	return true
}
