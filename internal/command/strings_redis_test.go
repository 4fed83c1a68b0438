package command

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// A differential test: random string and bitmap commands run on the harness and on a real
// Redis 7.0 must render the same replies. It needs a server, so it runs only when
// FERRICD_REDIS_ADDR names one (e.g. 127.0.0.1:6401; it is FLUSHALLed). The fixed tables in
// strings_test.go hold answers captured from the same server and run everywhere.

type strRedisConn struct {
	c net.Conn
	r *bufio.Reader
}

func strDialRedis(t *testing.T) *strRedisConn {
	addr := os.Getenv("FERRICD_REDIS_ADDR")
	if addr == "" {
		t.Skip("FERRICD_REDIS_ADDR not set")
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &strRedisConn{c: c, r: bufio.NewReader(c)}
}

func (c *strRedisConn) do(t *testing.T, args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c.c, b.String()); err != nil {
		t.Fatal(err)
	}
	s, err := c.read()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// read renders one RESP2 reply the way reply.Value.String does.
func (c *strRedisConn) read() (string, error) {
	line, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	switch line[0] {
	case '+', '-', ':':
		return line, nil
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "(nil)", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return "", err
		}
		return strconv.Quote(string(buf[:n])), nil
	case '*':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "(nil)", nil
		}
		parts := make([]string, n)
		for i := range parts {
			if parts[i], err = c.read(); err != nil {
				return "", err
			}
		}
		return "[" + strings.Join(parts, " ") + "]", nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}

// strRandCmd returns a random string or bitmap command over a few keys, with arguments
// biased towards the edges (negative indexes, ranges past the end, overflowing fields).
func strRandCmd(r *rand.Rand) []string {
	key := func() string { return []string{"a", "b", "a", "b", "nokey"}[r.IntN(5)] }
	idx := func() string { return strconv.Itoa(r.IntN(41) - 20) }
	bigIdx := func() string { return strconv.Itoa(r.IntN(161) - 80) }
	val := func() string {
		n := r.IntN(8)
		b := make([]byte, n)
		for i := range b {
			b[i] = "\x00\xffab\x0f\xf0c\x81"[r.IntN(8)]
		}
		return string(b)
	}
	unit := func() string { return []string{"BYTE", "BIT", "bit"}[r.IntN(3)] }
	bfType := func() string {
		prefix := []string{"i", "u", "i", "u", "I", "U"}[r.IntN(6)]
		return prefix + strconv.Itoa(r.IntN(66))
	}
	bfOff := func() string {
		if r.IntN(3) == 0 {
			return "#" + strconv.Itoa(r.IntN(6))
		}
		return strconv.Itoa(r.IntN(90))
	}
	bfNum := func() string {
		return []string{"0", "1", "-1", "100", "-100", "127", "-128", "255", "9223372036854775807", "-9223372036854775808", strconv.Itoa(r.IntN(2000) - 1000)}[r.IntN(11)]
	}
	switch r.IntN(13) {
	case 0:
		return []string{"SET", key(), val()}
	case 1:
		return []string{"SETRANGE", key(), strconv.Itoa(r.IntN(12)), val()}
	case 2:
		return []string{"GETRANGE", key(), idx(), idx()}
	case 3:
		return []string{"SETBIT", key(), strconv.Itoa(r.IntN(80)), strconv.Itoa(r.IntN(2))}
	case 4:
		switch r.IntN(3) {
		case 0:
			return []string{"BITCOUNT", key()}
		case 1:
			return []string{"BITCOUNT", key(), idx(), idx()}
		}
		return []string{"BITCOUNT", key(), bigIdx(), bigIdx(), unit()}
	case 5:
		bit := strconv.Itoa(r.IntN(2))
		switch r.IntN(4) {
		case 0:
			return []string{"BITPOS", key(), bit}
		case 1:
			return []string{"BITPOS", key(), bit, idx()}
		case 2:
			return []string{"BITPOS", key(), bit, idx(), idx()}
		}
		return []string{"BITPOS", key(), bit, bigIdx(), bigIdx(), unit()}
	case 6:
		op := []string{"AND", "OR", "XOR", "NOT"}[r.IntN(4)]
		if op == "NOT" {
			return []string{"BITOP", op, key(), key()}
		}
		return append([]string{"BITOP", op, key()}, []string{key(), key(), key()}[:1+r.IntN(3)]...)
	case 7:
		args := []string{"BITFIELD", key()}
		for n := 1 + r.IntN(4); n > 0; n-- {
			switch r.IntN(4) {
			case 0:
				args = append(args, "GET", bfType(), bfOff())
			case 1:
				args = append(args, "SET", bfType(), bfOff(), bfNum())
			case 2:
				args = append(args, "INCRBY", bfType(), bfOff(), bfNum())
			default:
				args = append(args, "OVERFLOW", []string{"WRAP", "SAT", "FAIL"}[r.IntN(3)])
			}
		}
		return args
	case 8:
		args := []string{"LCS", key(), key()}
		for _, o := range [][]string{{"IDX"}, {"LEN"}, {"WITHMATCHLEN"}, {"MINMATCHLEN", strconv.Itoa(r.IntN(4))}} {
			if r.IntN(3) == 0 {
				args = append(args, o...)
			}
		}
		return args
	case 9:
		return []string{"GET", key()}
	case 10:
		return []string{"BITFIELD_RO", key(), "GET", bfType(), bfOff()}
	case 11:
		return []string{"APPEND", key(), val()}
	}
	return []string{"GETBIT", key(), strconv.Itoa(r.IntN(80))}
}

// strDiffSeed lets a long exploratory run pick other cases: FERRICD_DIFF_SEED=n.
func strDiffSeed(def uint64) uint64 {
	if s, err := strconv.ParseUint(os.Getenv("FERRICD_DIFF_SEED"), 10, 64); err == nil {
		return s
	}
	return def
}

func TestStringsDifferentialRedis(t *testing.T) {
	c := strDialRedis(t)
	r := rand.New(rand.NewPCG(strDiffSeed(1), 2))
	for round := 0; round < 300; round++ {
		c.do(t, "FLUSHALL")
		h := newHarness(t)
		for i := 0; i < 60; i++ {
			args := strRandCmd(r)
			want := c.do(t, args...)
			if got := h.do(args...).String(); got != want {
				t.Fatalf("round %d: %q = %s, redis says %s", round, args, got, want)
			}
		}
	}
}

// TestStringsDifferentialFloat compares INCRBYFLOAT on random operands, including values
// whose exact binary form sits on a printing tie or far from 1.
func TestStringsDifferentialFloat(t *testing.T) {
	c := strDialRedis(t)
	r := rand.New(rand.NewPCG(strDiffSeed(3), 4))
	num := func() string {
		switch r.IntN(6) {
		case 0:
			return strconv.FormatFloat(r.NormFloat64()*1e6, 'g', -1, 64)
		case 1:
			return strconv.Itoa(r.IntN(1000)) + "." + strconv.Itoa(r.IntN(1000000))
		case 2:
			return fmt.Sprintf("%de%d", r.IntN(100)-50, r.IntN(60)-30)
		case 3:
			return fmt.Sprintf("%d.%de-%d", r.IntN(10), r.IntN(10000), r.IntN(25))
		case 4:
			return fmt.Sprintf("0x%xp%d", r.IntN(1<<20), r.IntN(80)-40)
		}
		return strconv.FormatFloat(r.Float64(), 'f', r.IntN(25), 64)
	}
	for round := 0; round < 200; round++ {
		c.do(t, "FLUSHALL")
		h := newHarness(t)
		for i := 0; i < 20; i++ {
			args := []string{"INCRBYFLOAT", "f", num()}
			want := c.do(t, args...)
			if got := h.do(args...).String(); got != want {
				t.Fatalf("%q = %s, redis says %s", args, got, want)
			}
		}
	}
}

// TestStringsDifferentialSetOptions compares random SET and GETEX option lists, which
// exercises the option grammar (what may repeat, what excludes what) and the order in which
// Redis checks syntax, expiry values, types and NX/XX. Deadlines are either far in the future
// or long past for both clocks, so the replies do not depend on time.
func TestStringsDifferentialSetOptions(t *testing.T) {
	c := strDialRedis(t)
	r := rand.New(rand.NewPCG(strDiffSeed(5), 6))
	opts := [][]string{{"NX"}, {"xx"}, {"GET"}, {"KEEPTTL"}, {"PERSIST"}, {"EX", "100"}, {"px", "100000"},
		{"EXAT", "99999999999"}, {"PXAT", "99999999999999"}, {"EXAT", "1"}, {"EX"}, {"EX", "0"},
		{"PX", "abc"}, {"EX", "9223372036854775"}, {"FOO"}, {"GET"}, {"NX"}}
	for round := 0; round < 200; round++ {
		c.do(t, "FLUSHALL")
		h := newHarness(t)
		for i := 0; i < 30; i++ {
			key := []string{"a", "b"}[r.IntN(2)]
			var args []string
			switch r.IntN(3) {
			case 0:
				args = []string{"GETEX", key}
			case 1:
				args = []string{"GET", key}
			default:
				args = []string{"SET", key, strconv.Itoa(i)}
			}
			if args[0] != "GET" {
				for n := r.IntN(4); n > 0; n-- {
					args = append(args, opts[r.IntN(len(opts))]...)
				}
			}
			want := c.do(t, args...)
			if got := h.do(args...).String(); got != want {
				t.Fatalf("round %d: %q = %s, redis says %s", round, args, got, want)
			}
		}
	}
}
