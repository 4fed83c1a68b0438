package command

// Command table entries of the second sorted-set group (multi-key set operations, ZMPOP,
// ZRANDMEMBER, ZSCAN, ZRANGESTORE), with Redis 7.0.15's metadata. Commands with a numkeys
// argument have a Keys function returning only the real keys (nil for a bad numkeys, so that
// Run answers the error Redis gives).

const (
	zsetComplexityMpop  = "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped."
	zsetComplexityUnion = "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set."
	zsetComplexityInter = "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set."
	zsetComplexityDiff  = "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set."
)

var (
	zsetACLReadSlow  = []string{"@read", "@sortedset", "@slow"}
	zsetACLWriteSlow = []string{"@write", "@sortedset", "@slow"}
)

func zsetSpecs2() []*Spec {
	return []*Spec{
		{Name: "zrangestore", Arity: -5, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: 2, Step: 1,
			ACLCategories: zsetACLWriteSlow, Since: "6.2.0", Summary: "Store a range of members from sorted set into another key",
			Complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.",
			Kind:       KindKeyWrite, Run: zsetZrangestoreCmd},
		{Name: "zmpop", Arity: -4, Flags: FlagWrite, Keys: listMpopKeys(1),
			ACLCategories: zsetACLWriteSlow, Since: "7.0.0", Summary: "Remove and return members with scores in a sorted set",
			Complexity: zsetComplexityMpop, Kind: KindKeyWrite, Run: zsetZmpopCmd},
		{Name: "bzmpop", Arity: -5, Flags: FlagWrite | FlagBlocking, Keys: listMpopKeys(2),
			ACLCategories: []string{"@write", "@sortedset", "@slow", "@blocking"}, Since: "7.0.0",
			Summary:    "Remove and return members with scores in a sorted set or block until one is available",
			Complexity: zsetComplexityMpop, Kind: KindKeyWrite, Run: zsetBzmpopCmd, BlockTimeoutArg: 1},
		{Name: "zrandmember", Arity: -2, Flags: FlagReadOnly, FirstKey: 1, LastKey: 1, Step: 1,
			ACLCategories: zsetACLReadSlow, Since: "6.2.0", Summary: "Get one or multiple random elements from a sorted set",
			Complexity: "O(N) where N is the number of elements returned", Kind: KindKeyRead, Run: zsetZrandmemberCmd},
		{Name: "zunion", Arity: -3, Flags: FlagReadOnly, Keys: zsetNumkeysKeys(1, 0),
			ACLCategories: zsetACLReadSlow, Since: "6.2.0", Summary: "Add multiple sorted sets",
			Complexity: zsetComplexityUnion, Kind: KindKeyRead, Run: zsetSetOp(zsetOpUnion, false, "zunion")},
		{Name: "zinter", Arity: -3, Flags: FlagReadOnly, Keys: zsetNumkeysKeys(1, 0),
			ACLCategories: zsetACLReadSlow, Since: "6.2.0", Summary: "Intersect multiple sorted sets",
			Complexity: zsetComplexityInter, Kind: KindKeyRead, Run: zsetSetOp(zsetOpInter, false, "zinter")},
		{Name: "zdiff", Arity: -3, Flags: FlagReadOnly, Keys: zsetNumkeysKeys(1, 0),
			ACLCategories: zsetACLReadSlow, Since: "6.2.0", Summary: "Subtract multiple sorted sets",
			Complexity: zsetComplexityDiff, Kind: KindKeyRead, Run: zsetSetOp(zsetOpDiff, false, "zdiff")},
		{Name: "zunionstore", Arity: -4, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: 1, Step: 1, Keys: zsetNumkeysKeys(2, 1),
			ACLCategories: zsetACLWriteSlow, Since: "2.0.0", Summary: "Add multiple sorted sets and store the resulting sorted set in a new key",
			Complexity: zsetComplexityUnion, Kind: KindKeyWrite, Run: zsetSetOp(zsetOpUnion, true, "zunionstore")},
		{Name: "zinterstore", Arity: -4, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: 1, Step: 1, Keys: zsetNumkeysKeys(2, 1),
			ACLCategories: zsetACLWriteSlow, Since: "2.0.0", Summary: "Intersect multiple sorted sets and store the resulting sorted set in a new key",
			Complexity: zsetComplexityInter, Kind: KindKeyWrite, Run: zsetSetOp(zsetOpInter, true, "zinterstore")},
		{Name: "zdiffstore", Arity: -4, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: 1, Step: 1, Keys: zsetNumkeysKeys(2, 1),
			ACLCategories: zsetACLWriteSlow, Since: "6.2.0", Summary: "Subtract multiple sorted sets and store the resulting sorted set in a new key",
			Complexity: zsetComplexityDiff, Kind: KindKeyWrite, Run: zsetSetOp(zsetOpDiff, true, "zdiffstore")},
		{Name: "zintercard", Arity: -3, Flags: FlagReadOnly, Keys: zsetNumkeysKeys(1, 0),
			ACLCategories: zsetACLReadSlow, Since: "7.0.0", Summary: "Intersect multiple sorted sets and return the cardinality of the result",
			Complexity: "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.",
			Kind:       KindKeyRead, Run: zsetZintercardCmd},
		{Name: "zscan", Arity: -3, Flags: FlagReadOnly, FirstKey: 1, LastKey: 1, Step: 1,
			ACLCategories: zsetACLReadSlow, Since: "2.8.0", Summary: "Incrementally iterate sorted sets elements and associated scores",
			Complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..",
			Kind:       KindKeyRead, Run: zsetZscanCmd},
	}
}
