package command

// The string and bitmap families. Metadata (arity, flags, key positions, ACL categories,
// group, since, summary, complexity) is copied from Redis 7.0.15's COMMAND INFO and COMMAND
// DOCS. Semantics follow t_string.c and bitops.c of that release, including the order in
// which arguments and keys are checked, since that order decides which error a client sees.
//
// Write commands validate on the proposer whatever Redis rejects before reading the key, and
// Run repeats those checks so a replica applying the entry reaches the same answer alone.
// Checks that Redis makes only after a lookup (INCRBYFLOAT's increment, GETEX's expiry value)
// are left to Run, because doing them early would change which error wins.
//
// Decisions worth knowing:
//   - Relative expiries (EX, PX, SETEX, PSETEX, GETEX EX/PX) become absolute deadlines from
//     the Txn's clock, i.e. the raft entry's time; a deadline already past is stored as Redis
//     stores it (the key then reads as absent), except GETEX EXAT/PXAT which deletes at once.
//   - Commands that modify a value in place in Redis (INCR*, APPEND, SETRANGE, SETBIT,
//     BITFIELD) keep the key's deadline; SET without KEEPTTL, GETSET, MSET and BITOP's
//     destination drop it.
//   - SETBIT that changes nothing writes nothing, so the key's last-write index (WATCH) stays.
//   - BITFIELD is a write command even when it only GETs, as in Redis; BITFIELD_RO is the read.
//   - Growth is capped at proto-max-bulk-len's default (512 MB) as in Redis, and LCS refuses
//     a table larger than that; both fit in one entry/allocation only because Redis allows it.
//   - Redis reads some option words as C strings (an embedded NUL ends them); that quirk is
//     not reproduced.
//   - INCRBYFLOAT's long double arithmetic is emulated in incrfloat.go.

const (
	strComplexityRange = "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings."
)

var (
	strACLReadFast  = []string{"@read", "@string", "@fast"}
	strACLReadSlow  = []string{"@read", "@string", "@slow"}
	strACLWriteFast = []string{"@write", "@string", "@fast"}
	strACLWriteSlow = []string{"@write", "@string", "@slow"}
	bitACLReadFast  = []string{"@read", "@bitmap", "@fast"}
	bitACLReadSlow  = []string{"@read", "@bitmap", "@slow"}
	bitACLWriteSlow = []string{"@write", "@bitmap", "@slow"}
)

// registerStrings registers the string and bitmap commands.
func registerStrings(t *Table) {
	// strKey fills the fields shared by the single-key commands (key at position 1).
	strKey := func(s *Spec) *Spec {
		if s.FirstKey == 0 {
			s.FirstKey, s.LastKey, s.Step = 1, 1, 1
		}
		if s.Group == "" {
			s.Group = "string"
		}
		return s
	}
	for _, s := range []*Spec{
		{Name: "get", Arity: 2, Flags: FlagReadOnly | FlagFast, ACLCategories: strACLReadFast,
			Since: "1.0.0", Summary: "Get the value of a key", Complexity: "O(1)",
			Kind: KindKeyRead, Run: strGetCmd},
		{Name: "set", Arity: -3, Flags: FlagWrite | FlagDenyOOM, ACLCategories: strACLWriteSlow,
			Since: "1.0.0", Summary: "Set the string value of a key", Complexity: "O(1)",
			Kind: KindKeyWrite, Run: strSetCmd, Validate: strSetValidate},
		{Name: "setnx", Arity: 3, Flags: FlagWrite | FlagDenyOOM | FlagFast, ACLCategories: strACLWriteFast,
			Since: "1.0.0", Summary: "Set the value of a key, only if the key does not exist", Complexity: "O(1)",
			Kind: KindKeyWrite, Run: strSetnxCmd},
		{Name: "setex", Arity: 4, Flags: FlagWrite | FlagDenyOOM, ACLCategories: strACLWriteSlow,
			Since: "2.0.0", Summary: "Set the value and expiration of a key", Complexity: "O(1)",
			Kind: KindKeyWrite, Run: strSetexCmd, Validate: strSetexValidate(strOptEX, strErrSetexExpire)},
		{Name: "psetex", Arity: 4, Flags: FlagWrite | FlagDenyOOM, ACLCategories: strACLWriteSlow,
			Since: "2.6.0", Summary: "Set the value and expiration in milliseconds of a key", Complexity: "O(1)",
			Kind: KindKeyWrite, Run: strPsetexCmd, Validate: strSetexValidate(strOptPX, strErrPsetexExpire)},
		{Name: "getset", Arity: 3, Flags: FlagWrite | FlagDenyOOM | FlagFast, ACLCategories: strACLWriteFast,
			Since: "1.0.0", Summary: "Set the string value of a key and return its old value", Complexity: "O(1)",
			Kind: KindKeyWrite, Run: strGetsetCmd},
		{Name: "getdel", Arity: 2, Flags: FlagWrite | FlagFast, ACLCategories: strACLWriteFast,
			Since: "6.2.0", Summary: "Get the value of a key and delete the key", Complexity: "O(1)",
			Kind: KindKeyWrite, Run: strGetdelCmd},
		{Name: "getex", Arity: -2, Flags: FlagWrite | FlagFast, ACLCategories: strACLWriteFast,
			Since: "6.2.0", Summary: "Get the value of a key and optionally set its expiration", Complexity: "O(1)",
			Kind: KindKeyWrite, Run: strGetexCmd, Validate: strGetexValidate},
		{Name: "mget", Arity: -2, Flags: FlagReadOnly | FlagFast, FirstKey: 1, LastKey: -1, Step: 1,
			ACLCategories: strACLReadFast, Since: "1.0.0", Summary: "Get the values of all the given keys",
			Complexity: "O(N) where N is the number of keys to retrieve.",
			Kind:       KindKeyRead, Run: strMgetCmd},
		{Name: "mset", Arity: -3, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: -1, Step: 2,
			ACLCategories: strACLWriteSlow, Since: "1.0.1", Summary: "Set multiple keys to multiple values",
			Complexity: "O(N) where N is the number of keys to set.",
			Kind:       KindKeyWrite, Run: strMsetCmd, Validate: strMsetValidate(strErrMsetArity)},
		{Name: "msetnx", Arity: -3, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: -1, Step: 2,
			ACLCategories: strACLWriteSlow, Since: "1.0.1",
			Summary:    "Set multiple keys to multiple values, only if none of the keys exist",
			Complexity: "O(N) where N is the number of keys to set.",
			Kind:       KindKeyWrite, Run: strMsetnxCmd, Validate: strMsetValidate(strErrMsetnxArity)},
		{Name: "incr", Arity: 2, Flags: FlagWrite | FlagDenyOOM | FlagFast, ACLCategories: strACLWriteFast,
			Since: "1.0.0", Summary: "Increment the integer value of a key by one", Complexity: "O(1)",
			Kind: KindKeyWrite, Run: strIncrCmd},
		{Name: "decr", Arity: 2, Flags: FlagWrite | FlagDenyOOM | FlagFast, ACLCategories: strACLWriteFast,
			Since: "1.0.0", Summary: "Decrement the integer value of a key by one", Complexity: "O(1)",
			Kind: KindKeyWrite, Run: strDecrCmd},
		{Name: "incrby", Arity: 3, Flags: FlagWrite | FlagDenyOOM | FlagFast, ACLCategories: strACLWriteFast,
			Since: "1.0.0", Summary: "Increment the integer value of a key by the given amount", Complexity: "O(1)",
			Kind: KindKeyWrite, Run: strIncrbyCmd, Validate: strIncrbyValidate},
		{Name: "decrby", Arity: 3, Flags: FlagWrite | FlagDenyOOM | FlagFast, ACLCategories: strACLWriteFast,
			Since: "1.0.0", Summary: "Decrement the integer value of a key by the given number", Complexity: "O(1)",
			Kind: KindKeyWrite, Run: strDecrbyCmd, Validate: strDecrbyValidate},
		{Name: "incrbyfloat", Arity: 3, Flags: FlagWrite | FlagDenyOOM | FlagFast, ACLCategories: strACLWriteFast,
			Since: "2.6.0", Summary: "Increment the float value of a key by the given amount", Complexity: "O(1)",
			Kind: KindKeyWrite, Run: strIncrbyfloatCmd},
		{Name: "append", Arity: 3, Flags: FlagWrite | FlagDenyOOM | FlagFast, ACLCategories: strACLWriteFast,
			Since: "2.0.0", Summary: "Append a value to a key",
			Complexity: "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.",
			Kind:       KindKeyWrite, Run: strAppendCmd},
		{Name: "strlen", Arity: 2, Flags: FlagReadOnly | FlagFast, ACLCategories: strACLReadFast,
			Since: "2.2.0", Summary: "Get the length of the value stored in a key", Complexity: "O(1)",
			Kind: KindKeyRead, Run: strStrlenCmd},
		{Name: "getrange", Arity: 4, Flags: FlagReadOnly, ACLCategories: strACLReadSlow,
			Since: "2.4.0", Summary: "Get a substring of the string stored at a key", Complexity: strComplexityRange,
			Kind: KindKeyRead, Run: strGetrangeCmd},
		{Name: "setrange", Arity: 4, Flags: FlagWrite | FlagDenyOOM, ACLCategories: strACLWriteSlow,
			Since: "2.2.0", Summary: "Overwrite part of a string at key starting at the specified offset",
			Complexity: "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.",
			Kind:       KindKeyWrite, Run: strSetrangeCmd, Validate: strSetrangeValidate},
		{Name: "substr", Arity: 4, Flags: FlagReadOnly, ACLCategories: strACLReadSlow,
			Since: "1.0.0", Summary: "Get a substring of the string stored at a key", Complexity: strComplexityRange,
			Kind: KindKeyRead, Run: strGetrangeCmd},
		{Name: "lcs", Arity: -3, Flags: FlagReadOnly, FirstKey: 1, LastKey: 2, Step: 1, ACLCategories: strACLReadSlow,
			Since: "7.0.0", Summary: "Find longest common substring",
			Complexity: "O(N*M) where N and M are the lengths of s1 and s2, respectively",
			Kind:       KindKeyRead, Run: strLcsCmd},

		{Name: "setbit", Arity: 4, Flags: FlagWrite | FlagDenyOOM, ACLCategories: bitACLWriteSlow, Group: "bitmap",
			Since: "2.2.0", Summary: "Sets or clears the bit at offset in the string value stored at key", Complexity: "O(1)",
			Kind: KindKeyWrite, Run: bitSetbitCmd, Validate: bitSetbitValidate},
		{Name: "getbit", Arity: 3, Flags: FlagReadOnly | FlagFast, ACLCategories: bitACLReadFast, Group: "bitmap",
			Since: "2.2.0", Summary: "Returns the bit value at offset in the string value stored at key", Complexity: "O(1)",
			Kind: KindKeyRead, Run: bitGetbitCmd},
		{Name: "bitcount", Arity: -2, Flags: FlagReadOnly, ACLCategories: bitACLReadSlow, Group: "bitmap",
			Since: "2.6.0", Summary: "Count set bits in a string", Complexity: "O(N)",
			Kind: KindKeyRead, Run: bitcountCmd},
		{Name: "bitpos", Arity: -3, Flags: FlagReadOnly, ACLCategories: bitACLReadSlow, Group: "bitmap",
			Since: "2.8.7", Summary: "Find first bit set or clear in a string", Complexity: "O(N)",
			Kind: KindKeyRead, Run: bitposCmd},
		{Name: "bitop", Arity: -4, Flags: FlagWrite | FlagDenyOOM, FirstKey: 2, LastKey: -1, Step: 1,
			ACLCategories: bitACLWriteSlow, Group: "bitmap",
			Since: "2.6.0", Summary: "Perform bitwise operations between strings", Complexity: "O(N)",
			Kind: KindKeyWrite, Run: bitopCmd, Validate: bitopValidate},
		{Name: "bitfield", Arity: -2, Flags: FlagWrite | FlagDenyOOM, ACLCategories: bitACLWriteSlow, Group: "bitmap",
			Since: "3.2.0", Summary: "Perform arbitrary bitfield integer operations on strings",
			Complexity: "O(1) for each subcommand specified",
			Kind:       KindKeyWrite, Run: bitfieldCmd, Validate: bitfieldValidate},
		{Name: "bitfield_ro", Arity: -2, Flags: FlagReadOnly | FlagFast, ACLCategories: bitACLReadFast, Group: "bitmap",
			Since:      "6.0.0",
			Summary:    "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
			Complexity: "O(1) for each subcommand specified",
			Kind:       KindKeyRead, Run: bitfieldROCmd},
	} {
		t.Add(strKey(s))
	}
}
