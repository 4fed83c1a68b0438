package resp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/redcon"
)

// chunkReader hands out data in pieces of the sizes next returns, then io.EOF.
type chunkReader struct {
	data  []byte
	next  func() int
	reads int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	r.reads++
	n := min(len(p), r.next(), len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// countingReader counts the Read calls redcon makes on the scanner.
type countingReader struct {
	r     io.Reader
	calls int
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.calls++
	return c.r.Read(p)
}

// parsed is what a connection would see: the commands, then the error that ends input.
type parsed struct {
	cmds [][]string
	err  string
}

func (p parsed) String() string { return fmt.Sprintf("%q then %s", p.cmds, p.err) }

func (p parsed) equal(q parsed) bool {
	return p.err == q.err && slices.EqualFunc(p.cmds, q.cmds, slices.Equal[[]string])
}

func testLimits() limits {
	return limits{maxArgs: defaultMaxArgs, maxBulk: defaultMaxBulk, maxQuery: defaultMaxQuery}
}

// parseWith runs data through the scanner and redcon as a connection does, the source
// returning pieces of the sizes next gives.
func parseWith(data []byte, lim limits, next func() int) (parsed, *countingReader) {
	src := &chunkReader{data: data, next: next}
	g := newInbound(src, func() limits { return lim }, nil)
	counter := &countingReader{r: g}
	rd := redcon.NewReader(bufio.NewReaderSize(counter, 4096))
	var out parsed
	for {
		cmds, err := rd.ReadCommands()
		if err != nil {
			var pe *protoError
			switch {
			case errors.As(err, &pe) && pe.quiet:
				out.err = "query buffer"
			case errors.As(err, &pe):
				out.err = pe.msg
			default:
				out.err = err.Error()
			}
			return out, counter
		}
		for _, c := range cmds {
			args := make([]string, len(c.Args))
			for i, a := range c.Args {
				args[i] = string(a)
			}
			out.cmds = append(out.cmds, args)
		}
	}
}

func parseChunked(data []byte, lim limits, size int) parsed {
	p, _ := parseWith(data, lim, func() int { return size })
	return p
}

var scannerInputs = []string{
	"PING\r\n",
	"*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\n*1\r\n$4\r\nPING\r\n",
	"*0\r\n*-1\r\nPING\r\n\r\n\n   \r\nSET a \"b c\" 'd\\'e'\r\n",
	"*1\rX$4\r\nPINGxx*1\r\n$0\r\n\r\n",
	"SET k v\nGET k\n",
	"PING\r\n*1\r\n$999999999999\r\n",
	"*1\r\nX\r\n",
	"*1\r\n\r\n",
	"*007\r\n",
	"*-0\r\n",
	"ECHO \"a\"b\r\n",
	"ECHO 'a\r\n",
	"ECHO \"\\x41\\x4a\\n\"\r\nECHO \"\\xZZ\"\r\n",
	"*2\r\n$4\r\nECHO\r\n$5\r\nabc",
	"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$200000\r\n" + strings.Repeat("v", 200000) + "\r\n" + "GET k\r\n",
	"PING\r\n" + strings.Repeat("x", 70000),
	"*" + strings.Repeat("1", 70000),
	"*1\r\n$" + strings.Repeat("1", 70000),
	"PING\r\n*2\r\n$3\r\nGET\r\n$3\r\nabc\r\n*2\r\n$3\r\nGET\r\n$1048577\r\n",
	"PING\r\nECHO a\x00b\r\nPING\r\n" + strings.Repeat("x", 70000),
	"*1\x00\r\n$4\r\nPING\r\n" + strings.Repeat("x", 70000),
	"*1\r\n$4\x00\r\nPING\r\n" + strings.Repeat("x", 70000),
}

// The same bytes give the same commands and the same error however the socket splits
// them, including a byte at a time.
func TestScannerChunkingDoesNotMatter(t *testing.T) {
	lims := []limits{testLimits(), {maxArgs: 3, maxBulk: 1 << 20, maxQuery: 100000},
		{maxArgs: 8, maxBulk: 64, maxQuery: 40, restricted: true}}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, lim := range lims {
		for _, in := range scannerInputs {
			whole := parseChunked([]byte(in), lim, len(in)+1)
			for _, size := range []int{1, 2, 3, 7, 64, 4095, 16385} {
				if got := parseChunked([]byte(in), lim, size); !got.equal(whole) {
					t.Fatalf("input %.60q, limits %+v, chunks of %d:\n got %s\nwant %s", in, lim, size, got, whole)
				}
			}
			got, _ := parseWith([]byte(in), lim, func() int { return rng.IntN(20000) + 1 })
			if !got.equal(whole) {
				t.Fatalf("input %.60q, random chunks:\n got %s\nwant %s", in, got, whole)
			}
		}
	}
}

func TestScannerResults(t *testing.T) {
	lim := testLimits()
	cases := []struct {
		in   string
		want parsed
	}{
		{"*0\r\n*-1\r\nPING\r\n\r\n\n   \r\nSET a \"b c\" 'd\\'e'\r\n",
			parsed{[][]string{{"PING"}, {"SET", "a", "b c", "d'e"}}, "EOF"}},
		{"*1\rX$4\r\nPINGxx*1\r\n$0\r\n\r\n", parsed{[][]string{{"PING"}, {""}}, "EOF"}},
		{"PING\r\n*1\r\n$999999999999\r\n", parsed{[][]string{{"PING"}}, "ERR Protocol error: invalid bulk length"}},
		{"*2\r\n$4\r\nECHO\r\n$5\r\nabc", parsed{nil, "EOF"}},
		{"ECHO \"\\x41\\x4a\\n\" x\r\n", parsed{[][]string{{"ECHO", "AJ\n", "x"}}, "EOF"}},
		// Redis never finds the end of a line holding a NUL byte (strchr).
		{"PING\r\nECHO a\x00b\r\nPING\r\n" + strings.Repeat("x", 70000),
			parsed{[][]string{{"PING"}}, "ERR Protocol error: too big inline request"}},
		{"*1\x00\r\n$4\r\nPING\r\n" + strings.Repeat("x", 70000),
			parsed{nil, "ERR Protocol error: too big mbulk count string"}},
		{"*1\r\n$4\x00\r\nPING\r\n" + strings.Repeat("x", 70000),
			parsed{nil, "ERR Protocol error: too big bulk count string"}},
	}
	for _, tc := range cases {
		if got := parseChunked([]byte(tc.in), lim, 4096); !got.equal(tc.want) {
			t.Errorf("%q:\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}

// A client that trickles a command of many arguments must not make parsing quadratic:
// redcon rescans its whole partial command each time the scanner returns, so the scanner
// returns only when it completes a command or fills redcon's buffer.
func TestScannerTrickleIsLinear(t *testing.T) {
	const n = 100000
	in := "*" + fmt.Sprint(n) + "\r\n" + strings.Repeat("$1\r\na\r\n", n)
	start := time.Now()
	got, counter := parseWith([]byte(in), testLimits(), func() int { return 1 })
	if len(got.cmds) != 1 || len(got.cmds[0]) != n || got.err != "EOF" {
		t.Fatalf("parsed %d commands, err %s", len(got.cmds), got.err)
	}
	// One return per doubling of redcon's buffer, not one per byte.
	if counter.calls > 100 {
		t.Fatalf("redcon read the scanner %d times for one command", counter.calls)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}

// Big payloads skip the scanner's buffer but keep their limits.
func TestScannerDirectPayload(t *testing.T) {
	val := strings.Repeat("0123456789", 50000)
	in := "*2\r\n$4\r\nECHO\r\n$500000\r\n" + val + "\r\nPING\r\n"
	for _, size := range []int{1000, 16384, 65536, 1 << 20} {
		got := parseChunked([]byte(in), testLimits(), size)
		if len(got.cmds) != 2 || got.cmds[0][1] != val || got.cmds[1][0] != "PING" {
			t.Fatalf("chunks of %d: %d commands, err %s", size, len(got.cmds), got.err)
		}
	}
	lim := testLimits()
	lim.maxQuery = 300000
	if got := parseChunked([]byte(in), lim, 65536); got.err != "query buffer" || len(got.cmds) != 0 {
		t.Fatalf("query buffer limit: %s", got)
	}
}

func TestNumberLikeString2ll(t *testing.T) {
	cases := []struct {
		in string
		v  int64
		ok bool
	}{
		{"0", 0, true}, {"1", 1, true}, {"-1", -1, true}, {"123", 123, true},
		{"9223372036854775807", 9223372036854775807, true},
		{"-9223372036854775808", -9223372036854775808, true},
		{"9223372036854775808", 0, false}, {"-9223372036854775809", 0, false},
		{"", 0, false}, {"-", 0, false}, {"-0", 0, false}, {"00", 0, false}, {"01", 0, false},
		{"+1", 0, false}, {"1a", 0, false}, {" 1", 0, false}, {"1-", 0, false}, {"--1", 0, false},
		{"99999999999999999999999", 0, false},
	}
	for _, tc := range cases {
		v, ok := parseInt([]byte(tc.in))
		if ok != tc.ok || (ok && v != tc.v) {
			t.Errorf("%q: got %d,%v want %d,%v", tc.in, v, ok, tc.v, tc.ok)
		}
	}
}

// Expected splits as redis-server 7.0.15's sdssplitargs makes them.
func TestSplitInlineLikeRedis(t *testing.T) {
	cases := []struct {
		in   string
		want []string // nil: unbalanced quotes
	}{
		{"", []string{}},
		{"  \t ", []string{}},
		{"set a b", []string{"set", "a", "b"}},
		{"set\ta\t\tb", []string{"set", "a", "b"}},
		{`set a"b c" d`, []string{"set", "ab c", "d"}},
		{`echo "a"b`, nil},
		{`echo "abc`, nil},
		{`echo 'abc`, nil},
		{`echo 'a\'b' "c\"d"`, []string{"echo", "a'b", `c"d`}},
		{`echo "\x41\x4A\n\r\t\b\a\q\\"`, []string{"echo", "AJ\n\r\t\b\aq\\"}},
		{`echo "\xZZ"`, []string{"echo", "xZZ"}},
		{`echo '\n'`, []string{"echo", `\n`}},
		{`echo ""`, []string{"echo", ""}},
		{"echo a\x00b c", []string{"echo", "a"}},
		{"echo \"a\"\x0bb", []string{"echo", "a", "b"}},
		{"a\x0bb", []string{"a\x0bb"}},
	}
	for _, tc := range cases {
		args, ok := splitInline([]byte(tc.in), nil)
		if tc.want == nil {
			if ok {
				t.Errorf("%q: split %q, want unbalanced", tc.in, args)
			}
			continue
		}
		got := make([]string, len(args))
		for i, a := range args {
			got[i] = string(a)
		}
		if !ok || !slices.Equal(got, tc.want) {
			t.Errorf("%q: got %q,%v want %q", tc.in, got, ok, tc.want)
		}
	}
}
