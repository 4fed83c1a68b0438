package command

import (
	"fmt"
	"testing"
)

func TestZsetCommands(t *testing.T) {
	h := newHarness(t)
	const wrong = "-WRONGTYPE Operation against a key holding the wrong kind of value"
	h.do("SET", "s", "x")
	for _, c := range []struct {
		want string
		args []string
	}{
		{":3", []string{"ZADD", "z", "1", "a", "2", "b", "3", "c"}},
		{":0", []string{"ZADD", "z", "1", "a"}},
		{":1", []string{"ZADD", "z", "CH", "5", "a"}},
		{":0", []string{"ZADD", "z", "NX", "1", "a"}},
		{":0", []string{"ZADD", "z", "XX", "1", "new"}},
		{":1", []string{"ZADD", "z", "GT", "CH", "9", "a"}},
		{":0", []string{"ZADD", "z", "GT", "CH", "1", "a"}},
		{":1", []string{"ZADD", "z", "LT", "CH", "1", "a"}},
		{`3`, []string{"ZADD", "z", "INCR", "2", "a"}},
		{"(nil)", []string{"ZADD", "z", "INCR", "NX", "2", "a"}},
		{"(nil)", []string{"ZADD", "z", "INCR", "XX", "2", "nope"}},
		{"(nil)", []string{"ZADD", "z", "INCR", "GT", "-1", "a"}},
		{"-ERR XX and NX options at the same time are not compatible", []string{"ZADD", "z", "XX", "NX", "1", "a"}},
		{"-ERR GT, LT, and/or NX options at the same time are not compatible", []string{"ZADD", "z", "GT", "LT", "1", "a"}},
		{"-ERR GT, LT, and/or NX options at the same time are not compatible", []string{"ZADD", "z", "NX", "GT", "1", "a"}},
		{"-ERR INCR option supports a single increment-element pair", []string{"ZADD", "z", "INCR", "1", "a", "2", "b"}},
		{"-ERR wrong number of arguments for 'zadd' command", []string{"ZADD", "z", "1"}},
		{"-ERR syntax error", []string{"ZADD", "z", "1", "a", "2"}},
		{"-ERR value is not a valid float", []string{"ZADD", "z", "nan", "a"}},
		{"-ERR value is not a valid float", []string{"ZADD", "z", " 1", "a"}},
		{"-ERR value is not a valid float", []string{"ZADD", "z", "1e400", "a"}},
		{wrong, []string{"ZADD", "s", "1", "a"}},
		{":1", []string{"ZADD", "z", "-0", "zero"}},
		{":2", []string{"ZADD", "z", "inf", "hi", "-inf", "lo"}},
		{"(nil)", []string{"ZSCORE", "z", "nope"}},
		{"(nil)", []string{"ZSCORE", "nokey", "a"}},
		{":6", []string{"ZCARD", "z"}},
		{":0", []string{"ZCARD", "nokey"}},
		{wrong, []string{"ZCARD", "s"}},
		{`4.5`, []string{"ZINCRBY", "z", "1.5", "a"}},
		{"-ERR value is not a valid float", []string{"ZINCRBY", "z", "x", "a"}},
		{"-ERR resulting score is not a number (NaN)", []string{"ZINCRBY", "z", "-inf", "hi"}},
		{`["lo" "zero" "b" "c" "a" "hi"]`, []string{"ZRANGE", "z", "0", "-1"}},
		{`["hi" "a" "c" "b" "zero" "lo"]`, []string{"ZREVRANGE", "z", "0", "-1"}},
		{`["b" "c"]`, []string{"ZRANGE", "z", "2", "3"}},
		{"[]", []string{"ZRANGE", "z", "5", "3"}},
		{"[]", []string{"ZRANGE", "nokey", "0", "-1"}},
		{":0", []string{"ZRANK", "z", "lo"}},
		{":3", []string{"ZRANK", "z", "c"}},
		{":2", []string{"ZREVRANK", "z", "c"}},
		{"(nil)", []string{"ZRANK", "z", "nope"}},
		{`["b" "c"]`, []string{"ZRANGEBYSCORE", "z", "(0", "3"}},
		{`["c" "b"]`, []string{"ZRANGE", "z", "3", "(0", "BYSCORE", "REV", "LIMIT", "0", "2"}},
		{`["c" "b"]`, []string{"ZREVRANGEBYSCORE", "z", "3", "(0"}},
		{`["zero" "b"]`, []string{"ZRANGEBYSCORE", "z", "-1", "+inf", "LIMIT", "0", "2"}},
		{"[]", []string{"ZRANGEBYSCORE", "z", "-1", "+inf", "LIMIT", "-1", "2"}},
		{":5", []string{"ZCOUNT", "z", "0", "inf"}},
		{":5", []string{"ZCOUNT", "z", "0", "1e400"}},
		{"-ERR min or max is not a float", []string{"ZCOUNT", "z", "x", "1"}},
		{"-ERR min or max is not a float", []string{"ZRANGEBYSCORE", "z", "(", "1"}},
		{"-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX", []string{"ZRANGE", "z", "0", "1", "LIMIT", "0", "1"}},
		{`["lo" "zero"]`, []string{"ZRANGE", "z", "0", "1", "LIMIT", "0", "-1"}},
		{"-ERR syntax error, WITHSCORES not supported in combination with BYLEX", []string{"ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"}},
		{"-ERR syntax error", []string{"ZRANGEBYSCORE", "z", "0", "1", "BYLEX"}},
		{"-ERR syntax error", []string{"ZREVRANGE", "z", "0", "1", "REV"}},
		{"-ERR value is not an integer or out of range", []string{"ZRANGE", "z", "a", "1"}},
		{wrong, []string{"ZRANGE", "s", "0", "1"}},
		{`["lo" -inf "zero" 0]`, []string{"ZRANGE", "z", "0", "1", "WITHSCORES"}},
		{":1", []string{"ZREM", "z", "hi", "nope"}},
		{`["a" 4.5 "c" 3]`, []string{"ZPOPMAX", "z", "2"}},
		{`["lo" -inf]`, []string{"ZPOPMIN", "z"}},
		{"[]", []string{"ZPOPMIN", "z", "0"}},
		{"-ERR value is out of range, must be positive", []string{"ZPOPMIN", "z", "-1"}},
		{"[]", []string{"ZPOPMIN", "nokey"}},
		{wrong, []string{"ZPOPMIN", "s"}},
		{`["zero" 0]`, []string{"ZPOPMIN", "z"}},
		{`["b" 2]`, []string{"ZPOPMAX", "z"}},
		{":0", []string{"EXISTS", "z"}},
		{":5", []string{"ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e"}},
		{`["b" "c" "d"]`, []string{"ZRANGEBYLEX", "l", "(a", "[d"}},
		{`["d" "c" "b"]`, []string{"ZREVRANGEBYLEX", "l", "[d", "(a"}},
		{`["a" "b"]`, []string{"ZRANGE", "l", "-", "+", "BYLEX", "LIMIT", "0", "2"}},
		{`["e" "d"]`, []string{"ZRANGE", "l", "+", "-", "BYLEX", "REV", "LIMIT", "0", "2"}},
		{":2", []string{"ZLEXCOUNT", "l", "[b", "(d"}},
		{"-ERR min or max not valid string range item", []string{"ZLEXCOUNT", "l", "b", "(d"}},
		{":2", []string{"ZREMRANGEBYLEX", "l", "[b", "(d"}},
		{":1", []string{"ZREMRANGEBYRANK", "l", "-1", "-1"}},
		{":0", []string{"ZREMRANGEBYSCORE", "l", "(0", "1"}},
		{`["a" "d"]`, []string{"ZRANGE", "l", "0", "-1"}},
		{":2", []string{"ZREMRANGEBYSCORE", "l", "-inf", "(0.5"}},
		{":0", []string{"EXISTS", "l"}},
		{`[1.1000000000000001 (nil) 1e+20]`, []string{"ZMSCORE", "f", "x", "y", "w"}},
	} {
		if c.want[0] == '[' && len(c.args) > 1 && c.args[1] == "f" {
			h.do("ZADD", "f", "1.1", "x", "1e20", "w")
		}
		h.expect(c.want, c.args...)
	}
}

// TestZsetBigSet checks ranks and encodings on a set big enough to have many buckets.
func TestZsetBigSet(t *testing.T) {
	h := newHarness(t)
	for i := 0; i < 3000; i += 100 {
		args := []string{"ZADD", "big"}
		for j := i; j < i+100; j++ {
			args = append(args, fmt.Sprint(j), fmt.Sprintf("m%05d", j))
		}
		h.do(args...)
	}
	h.expect(":3000", "ZCARD", "big")
	h.expect(`"skiplist"`, "OBJECT", "ENCODING", "big")
	h.expect(":0", "ZRANK", "big", "m00000")
	h.expect(":2999", "ZRANK", "big", "m02999")
	h.expect(":1234", "ZRANK", "big", "m01234")
	h.expect(":1765", "ZREVRANK", "big", "m01234")
	h.expect(`["m02999"]`, "ZRANGE", "big", "-1", "-1")
	h.expect(`["m01500" "m01501"]`, "ZRANGE", "big", "1500", "1501")
	h.expect(`["m01499" "m01498"]`, "ZREVRANGE", "big", "1500", "1501")
	h.do("ZADD", "small", "1", "a")
	h.expect(`"listpack"`, "OBJECT", "ENCODING", "small")
}
