package command

// ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD (zunionInterDiffGenericCommand of
// Redis 7.0.15).
//
// Argument order decides which error wins, as in Redis: numkeys (integer, ≥ 1, not past the
// arguments), then every input key's type (WRONGTYPE before any option error), then WEIGHTS,
// AGGREGATE, WITHSCORES / LIMIT. Inputs may be sorted sets or sets (a set member scores 1).
// Results are computed whole in memory, ordered by (score, member bytes) like a zset, and a
// STORE writes one sub-key per member into a fresh collection that replaces the destination
// (or deletes it when the result is empty). Weighted scores that come out NaN (0 * inf) are 0,
// and a SUM that is NaN (inf + -inf) is 0, as in Redis.

import (
	"math"
	"sort"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

const (
	zsetOpUnion = iota
	zsetOpInter
	zsetOpDiff
)

const (
	zsetAggSum = iota
	zsetAggMin
	zsetAggMax
)

var (
	zsetErrWeight   = reply.Err("ERR weight value is not a float")
	zsetErrLimitNeg = reply.Err("ERR LIMIT can't be negative")
)

func zsetErrNoKeys(cmd string) reply.Value {
	return reply.Err("ERR at least 1 input key is needed for '" + cmd + "' command")
}

// zsetSrc is one input: a sorted set, a set, or an absent key (both nil).
type zsetSrc struct {
	z      *zsetStore
	set    *keyspace.Coll
	weight float64
}

func (s *zsetSrc) size() int64 {
	switch {
	case s.z != nil:
		return s.z.c.Meta.Size
	case s.set != nil:
		return s.set.Meta.Size
	}
	return 0
}

// items returns every member and (unweighted) score of s.
func (s *zsetSrc) items(tx *keyspace.Txn) ([]zsetItem, error) {
	switch {
	case s.z != nil:
		it, err := s.z.indexIter()
		if err != nil {
			return nil, err
		}
		defer it.Close()
		out := make([]zsetItem, 0, s.z.c.Meta.Size)
		for ok := it.First(); ok; ok = it.Next() {
			out = append(out, zsetItemOf(it.Sub()))
		}
		return out, nil
	case s.set != nil:
		it, err := tx.IterSubs(s.set, keyspace.SubIterOptions{})
		if err != nil {
			return nil, err
		}
		defer it.Close()
		out := make([]zsetItem, 0, s.set.Meta.Size)
		var arena copyArena
		for ok := it.First(); ok; ok = it.Next() {
			out = append(out, zsetItem{member: arena.copy(it.Sub()), score: 1})
		}
		return out, nil
	}
	return nil, nil
}

// find returns member's unweighted score in s.
func (s *zsetSrc) find(tx *keyspace.Txn, member []byte) (float64, bool, error) {
	switch {
	case s.z != nil:
		return s.z.score(member)
	case s.set != nil:
		_, ok, err := tx.GetSub(s.set, member)
		return 1, ok, err
	}
	return 0, false, nil
}

// zsetOpenSrc opens key as a sorted set or a set.
func zsetOpenSrc(tx *keyspace.Txn, key []byte) (zsetSrc, reply.Value, bool) {
	src := zsetSrc{weight: 1}
	c, err := tx.LookupCollection(key, keyspace.TypeZSet)
	if err == keyspace.ErrWrongType {
		var sc *keyspace.Coll
		sc, err = tx.LookupCollection(key, keyspace.TypeSet)
		if err != nil {
			return src, genTxnErr(err), false
		}
		src.set = sc
		return src, reply.Value{}, true
	}
	if err != nil {
		return src, genTxnErr(err), false
	}
	if c != nil {
		src.z = newZsetStore(tx, c, zsetBucketB)
	}
	return src, reply.Value{}, true
}

// zsetParseNumkeys reads numkeys at args[at] and checks the keys fit in args.
func zsetParseNumkeys(args [][]byte, at int, cmd string) (int, reply.Value, bool) {
	n, ok := strParseInt(args[at])
	if !ok {
		return 0, reply.ErrNotInteger, false
	}
	if n < 1 {
		return 0, zsetErrNoKeys(cmd), false
	}
	if n > int64(len(args)-at-1) {
		return 0, reply.ErrSyntax, false
	}
	return int(n), reply.Value{}, true
}

// zsetOpenSrcs opens the n keys after args[at].
func zsetOpenSrcs(tx *keyspace.Txn, args [][]byte, at, n int) ([]zsetSrc, reply.Value, bool) {
	srcs := make([]zsetSrc, n)
	for i := range srcs {
		s, rv, ok := zsetOpenSrc(tx, args[at+1+i])
		if !ok {
			return nil, rv, false
		}
		srcs[i] = s
	}
	return srcs, reply.Value{}, true
}

func zsetAggregate(acc *float64, v float64, agg int) {
	switch agg {
	case zsetAggSum:
		*acc += v
		if math.IsNaN(*acc) {
			*acc = 0
		}
	case zsetAggMin:
		*acc = min(*acc, v)
	case zsetAggMax:
		*acc = max(*acc, v)
	}
}

func zsetWeighted(w, f float64) float64 {
	v := w * f
	if math.IsNaN(v) {
		return 0
	}
	return v
}

// zsetCompute runs op over srcs; the result is in zset order.
func zsetCompute(tx *keyspace.Txn, srcs []zsetSrc, op, agg int) ([]zsetItem, error) {
	var out []zsetItem
	switch op {
	case zsetOpUnion:
		// Redis walks the inputs from the smallest; the order matters only to float sums.
		sort.SliceStable(srcs, func(i, j int) bool { return srcs[i].size() < srcs[j].size() })
		acc := map[string]int{}
		for i := range srcs {
			items, err := srcs[i].items(tx)
			if err != nil {
				return nil, err
			}
			for _, it := range items {
				v := zsetWeighted(srcs[i].weight, it.score)
				if j, ok := acc[string(it.member)]; ok {
					zsetAggregate(&out[j].score, v, agg)
					continue
				}
				acc[string(it.member)] = len(out)
				out = append(out, zsetItem{member: it.member, score: v})
			}
		}
	case zsetOpInter:
		sort.SliceStable(srcs, func(i, j int) bool { return srcs[i].size() < srcs[j].size() })
		if srcs[0].size() == 0 {
			return nil, nil
		}
		items, err := srcs[0].items(tx)
		if err != nil {
			return nil, err
		}
	next:
		for _, it := range items {
			score := zsetWeighted(srcs[0].weight, it.score)
			for i := 1; i < len(srcs); i++ {
				f, ok, err := srcs[i].find(tx, it.member)
				if err != nil {
					return nil, err
				}
				if !ok {
					continue next
				}
				zsetAggregate(&score, zsetWeighted(srcs[i].weight, f), agg)
			}
			out = append(out, zsetItem{member: it.member, score: score})
		}
	default:
		items, err := srcs[0].items(tx)
		if err != nil {
			return nil, err
		}
	diff:
		for _, it := range items {
			for i := 1; i < len(srcs); i++ {
				_, ok, err := srcs[i].find(tx, it.member)
				if err != nil {
					return nil, err
				}
				if ok {
					continue diff
				}
			}
			out = append(out, it)
		}
	}
	zsetSortItems(out)
	return out, nil
}

// zsetSortItems orders items as a zset: by score, then member bytes.
func zsetSortItems(items []zsetItem) {
	sort.Slice(items, func(i, j int) bool {
		if items[i].score != items[j].score {
			return items[i].score < items[j].score
		}
		return string(items[i].member) < string(items[j].member)
	})
}

// zsetStoreItems replaces dst with a sorted set of items (deleting dst when there are none);
// the reply is the result's size.
func zsetStoreItems(tx *keyspace.Txn, dst []byte, items []zsetItem) reply.Value {
	if len(items) == 0 {
		if _, err := tx.Delete(dst); err != nil {
			return reply.ErrInternal
		}
		return reply.Int(0)
	}
	c := tx.CreateCollection(dst, keyspace.TypeZSet)
	z := newZsetStore(tx, c, zsetBucketB)
	for _, it := range items {
		if err := z.set(it.member, it.score, 0, false); err != nil {
			return reply.ErrInternal
		}
	}
	if err := tx.SaveCollection(c); err != nil {
		return reply.ErrInternal
	}
	return reply.Int(c.Meta.Size)
}

// zsetSetOp is ZUNION/ZINTER/ZDIFF (store false: numkeys at 1) and their STORE forms
// (numkeys at 2, destination at 1).
func zsetSetOp(op int, store bool, cmd string) KeyFunc {
	return func(tx *keyspace.Txn, args [][]byte) reply.Value {
		at := 1
		if store {
			at = 2
		}
		n, rv, ok := zsetParseNumkeys(args, at, cmd)
		if !ok {
			return rv
		}
		srcs, rv, ok := zsetOpenSrcs(tx, args, at, n)
		if !ok {
			return rv
		}
		agg, withScores := zsetAggSum, false
		for j := at + 1 + n; j < len(args); j++ {
			left := len(args) - j - 1
			switch a := lower(args[j]); {
			case a == "weights" && op != zsetOpDiff && left >= n:
				for i := range srcs {
					w, ok := zsetParseScore(args[j+1+i])
					if !ok {
						return zsetErrWeight
					}
					srcs[i].weight = w
				}
				j += n
			case a == "aggregate" && op != zsetOpDiff && left >= 1:
				switch lower(args[j+1]) {
				case "sum":
					agg = zsetAggSum
				case "min":
					agg = zsetAggMin
				case "max":
					agg = zsetAggMax
				default:
					return reply.ErrSyntax
				}
				j++
			case a == "withscores" && !store:
				withScores = true
			default:
				return reply.ErrSyntax
			}
		}
		items, err := zsetCompute(tx, srcs, op, agg)
		if err != nil {
			return reply.ErrInternal
		}
		if store {
			return zsetStoreItems(tx, args[1], items)
		}
		return zsetItemsReply(items, withScores)
	}
}

// zsetZintercardCmd is ZINTERCARD numkeys key... [LIMIT limit].
func zsetZintercardCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	n, rv, ok := zsetParseNumkeys(args, 1, "zintercard")
	if !ok {
		return rv
	}
	srcs, rv, ok := zsetOpenSrcs(tx, args, 1, n)
	if !ok {
		return rv
	}
	var limit int64
	for j := 2 + n; j < len(args); j++ {
		if lower(args[j]) == "limit" && j+1 < len(args) {
			l, ok := strParseInt(args[j+1])
			if !ok || l < 0 {
				return zsetErrLimitNeg
			}
			limit = l
			j++
			continue
		}
		return reply.ErrSyntax
	}
	sort.SliceStable(srcs, func(i, j int) bool { return srcs[i].size() < srcs[j].size() })
	if srcs[0].size() == 0 {
		return reply.Int(0)
	}
	items, err := srcs[0].items(tx)
	if err != nil {
		return reply.ErrInternal
	}
	var count int64
next:
	for _, it := range items {
		for i := 1; i < len(srcs); i++ {
			_, ok, err := srcs[i].find(tx, it.member)
			if err != nil {
				return reply.ErrInternal
			}
			if !ok {
				continue next
			}
		}
		count++
		if limit > 0 && count >= limit {
			break
		}
	}
	return reply.Int(count)
}

// zsetNumkeysKeys is the Keys function of commands with numkeys at `at` followed by the keys,
// and `dst` (0: none) the position of a destination key. Bad numkeys: no keys (Run answers).
func zsetNumkeysKeys(at, dst int) func(args [][]byte) [][]byte {
	return func(args [][]byte) [][]byte {
		if at >= len(args) {
			return nil
		}
		n, ok := strParseInt(args[at])
		if !ok || n <= 0 || n > int64(len(args)-at-1) {
			return nil
		}
		var keys [][]byte
		if dst > 0 {
			keys = append(keys, args[dst])
		}
		return append(keys, args[at+1:at+1+int(n)]...)
	}
}
