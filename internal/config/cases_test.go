package config

// The CONFIG SET cases shared by the unit tests and TestAgainstRedis. Where ferricd differs from
// Redis on purpose, redisDiffers says so.

type setErrorCase struct {
	pairs []string
	want  string
}

func failed(name, why string) string {
	return "CONFIG SET failed (possibly related to argument '" + name + "') - " + why
}

func setErrorCases() []setErrorCase {
	return []setErrorCase{
		{[]string{"foo", "bar"}, "Unknown option or number of arguments for CONFIG SET - 'foo'"},
		{[]string{"maxclients", "x", "foo", "1"}, "Unknown option or number of arguments for CONFIG SET - 'foo'"},
		{[]string{"foo", "1", "daemonize", "no"}, "Unknown option or number of arguments for CONFIG SET - 'foo'"},
		{[]string{"daemonize", "no", "foo", "1"}, failed("daemonize", "can't set immutable config")},
		{[]string{"DAEMONIZE", "no"}, failed("DAEMONIZE", "can't set immutable config")},
		{[]string{"databases", "5"}, failed("databases", "can't set immutable config")},
		{[]string{"port", "7000"}, failed("port", "can't set immutable config")},
		{[]string{"dir", "/tmp"}, failed("dir", "can't set immutable config")},
		{[]string{"dbfilename", "a/b"}, failed("dbfilename", "can't set protected config")},
		{[]string{"timeout", "1", "TIMEOUT", "2"}, failed("TIMEOUT", "duplicate parameter")},
		{[]string{"maxclients", "abc"}, failed("maxclients", "argument couldn't be parsed into an integer")},
		{[]string{"MAXCLIENTS", "x"}, failed("maxclients", "argument couldn't be parsed into an integer")},
		{[]string{"maxclients", "1k"}, failed("maxclients", "argument couldn't be parsed into an integer")},
		{[]string{"maxclients", "+5"}, failed("maxclients", "argument couldn't be parsed into an integer")},
		{[]string{"maxclients", "05"}, failed("maxclients", "argument couldn't be parsed into an integer")},
		{[]string{"maxclients", " 5"}, failed("maxclients", "argument couldn't be parsed into an integer")},
		{[]string{"maxclients", ""}, failed("maxclients", "argument couldn't be parsed into an integer")},
		{[]string{"maxclients", "99999999999999999999"}, failed("maxclients", "argument couldn't be parsed into an integer")},
		{[]string{"maxclients", "0"}, failed("maxclients", "argument must be between 1 and 4294967295 inclusive")},
		{[]string{"maxclients", "5000000000"}, failed("maxclients", "argument must be between 1 and 4294967295 inclusive")},
		{[]string{"timeout", "10", "maxclients", "x"}, failed("maxclients", "argument couldn't be parsed into an integer")},
		{[]string{"timeout", "-1"}, failed("timeout", "argument must be between 0 and 2147483647 inclusive")},
		{[]string{"tcp-keepalive", "-1"}, failed("tcp-keepalive", "argument must be between 0 and 2147483647 inclusive")},
		{[]string{"hz", "-1"}, failed("hz", "argument must be between 0 and 2147483647 inclusive")},
		{[]string{"slowlog-log-slower-than", "-5"}, failed("slowlog-log-slower-than", "argument must be between -1 and 9223372036854775807 inclusive")},
		{[]string{"activerehashing", "maybe"}, failed("activerehashing", "argument must be 'yes' or 'no'")},
		{[]string{"activerehashing", "1"}, failed("activerehashing", "argument must be 'yes' or 'no'")},
		{[]string{"appendonly", "maybe"}, failed("appendonly", "argument must be 'yes' or 'no'")},
		{[]string{"slave-read-only", "x"}, failed("slave-read-only", "argument must be 'yes' or 'no'")},
		{[]string{"maxmemory", "1xb"}, failed("maxmemory", "argument must be a memory value")},
		{[]string{"maxmemory", "-5"}, failed("maxmemory", "argument must be a memory value")},
		{[]string{"maxmemory", "1.5gb"}, failed("maxmemory", "argument must be a memory value")},
		{[]string{"maxmemory", "+1"}, failed("maxmemory", "argument must be a memory value")},
		{[]string{"proto-max-bulk-len", "1kb"}, failed("proto-max-bulk-len", "argument must be between 1048576 and 9223372036854775807 inclusive")},
		{[]string{"client-query-buffer-limit", "100"}, failed("client-query-buffer-limit", "argument must be between 1048576 and 9223372036854775807 inclusive")},
		{[]string{"maxmemory-clients", "-5"}, failed("maxmemory-clients", "argument must be a memory or percent value")},
		{[]string{"maxmemory-clients", "-0%"}, failed("maxmemory-clients", "argument must be a memory or percent value")},
		{[]string{"maxmemory-clients", "%"}, failed("maxmemory-clients", "argument must be a memory or percent value")},
		{[]string{"maxmemory-clients", "200%"}, failed("maxmemory-clients", "percentage argument must be less or equal to 100")},
		{[]string{"maxmemory-policy", "foo"}, failed("maxmemory-policy", "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction")},
		{[]string{"maxmemory-policy", "allkeys-lru noeviction"}, failed("maxmemory-policy", "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction")},
		{[]string{"loglevel", "foo"}, failed("loglevel", "argument(s) must be one of the following: debug, verbose, notice, warning")},
		{[]string{"appendfsync", "foo"}, failed("appendfsync", "argument(s) must be one of the following: everysec, always, no")},
		{[]string{"oom-score-adj", "foo"}, failed("oom-score-adj", "argument(s) must be one of the following: no, yes, relative, absolute")},
		{[]string{"save", "1 2 3"}, failed("save", "Invalid save parameters")},
		{[]string{"save", "a b"}, failed("save", "Invalid save parameters")},
		{[]string{"save", "10"}, failed("save", "Invalid save parameters")},
		{[]string{"save", "0 0"}, failed("save", "Invalid save parameters")},
		{[]string{"save", "-1 5"}, failed("save", "Invalid save parameters")},
		{[]string{"save", `"1 2`}, failed("save", "Invalid save parameters")},
		{[]string{"save", `"3600" 1`}, failed("save", "Invalid save parameters")},
		{[]string{"save", "  30   40  "}, failed("save", "Invalid save parameters")},
		{[]string{"notify-keyspace-events", "foo"}, failed("notify-keyspace-events", "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")},
		{[]string{"client-output-buffer-limit", "foo"}, failed("client-output-buffer-limit", "Wrong number of arguments in buffer limit configuration.")},
		{[]string{"client-output-buffer-limit", "normal 1 2 3 pubsub"}, failed("client-output-buffer-limit", "Wrong number of arguments in buffer limit configuration.")},
		{[]string{"client-output-buffer-limit", "foo 1 2 3"}, failed("client-output-buffer-limit", "Invalid client class specified in buffer limit configuration.")},
		{[]string{"client-output-buffer-limit", "master 1 2 3"}, failed("client-output-buffer-limit", "Invalid client class specified in buffer limit configuration.")},
		{[]string{"client-output-buffer-limit", "normal a 2 3"}, failed("client-output-buffer-limit", "Error in hard, soft or soft_seconds setting in buffer limit configuration.")},
		{[]string{"client-output-buffer-limit", "normal 1 2 a"}, failed("client-output-buffer-limit", "Error in hard, soft or soft_seconds setting in buffer limit configuration.")},
		{[]string{"client-output-buffer-limit", "normal -1 0 0"}, failed("client-output-buffer-limit", "Error in hard, soft or soft_seconds setting in buffer limit configuration.")},
		{[]string{"client-output-buffer-limit", "normal 1k 2K 1mb"}, failed("client-output-buffer-limit", "Error in hard, soft or soft_seconds setting in buffer limit configuration.")},
		{[]string{"oom-score-adj-values", "1 2"}, failed("oom-score-adj-values", "wrong number of arguments")},
		{[]string{"oom-score-adj-values", "1 2 3 4"}, failed("oom-score-adj-values", "wrong number of arguments")},
		{[]string{"oom-score-adj-values", ""}, failed("oom-score-adj-values", "wrong number of arguments")},
		{[]string{"oom-score-adj-values", "a b c"}, failed("oom-score-adj-values", "Invalid oom-score-adj-values, elements must be between -2000 and 2000.")},
		{[]string{"oom-score-adj-values", "-2001 0 2000"}, failed("oom-score-adj-values", "Invalid oom-score-adj-values, elements must be between -2000 and 2000.")},
		{[]string{"latency-tracking-info-percentiles", "50 200"}, failed("latency-tracking-info-percentiles", "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]")},
		{[]string{"latency-tracking-info-percentiles", "100.0000001"}, failed("latency-tracking-info-percentiles", "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]")},
		{[]string{"latency-tracking-info-percentiles", "abc"}, failed("latency-tracking-info-percentiles", "Invalid latency-tracking-info-percentiles parameters")},
		{[]string{"shutdown-on-sigint", "foo"}, failed("shutdown-on-sigint", "argument(s) must be one of the following: default, save, nosave, now, force")},
		{[]string{"shutdown-on-sigint", ""}, failed("shutdown-on-sigint", "argument(s) must be one of the following: default, save, nosave, now, force")},
		{[]string{"shutdown-on-sigint", "nosave save"}, failed("shutdown-on-sigint", "shutdown options SAVE and NOSAVE can't be used simultaneously")},
		{[]string{"io-threads", "2"}, failed("io-threads", "can't set immutable config")},
		{[]string{"replicaof", "x"}, failed("replicaof", "can't set immutable config")},
		{[]string{"unixsocketperm", "777"}, failed("unixsocketperm", "can't set immutable config")},
	}
}

type setCanonicalCase struct{ name, value, want string }

// redisDiffers reports the parameters whose CONFIG SET behaviour is ferricd's own: port and dir
// are immutable (Redis: mutable, protected), appendonly and save report fixed values.
func redisDiffers(name string) bool {
	switch name {
	case "port", "dir", "appendonly", "save":
		return true
	}
	return false
}

func setCanonicalCases() []setCanonicalCase {
	return []setCanonicalCase{
		{"maxmemory", "1GB", "1073741824"},
		{"maxmemory", "1gb", "1073741824"},
		{"maxmemory", "1g", "1000000000"},
		{"maxmemory", "512mb", "536870912"},
		{"maxmemory", "1m", "1000000"},
		{"maxmemory", "100k", "100000"},
		{"maxmemory", "1kb", "1024"},
		{"maxmemory", "1k", "1000"},
		{"maxmemory", "1B", "1"},
		{"maxmemory", "", "0"},
		{"maxmemory", "kb", "0"},
		{"maxmemory", "01mb", "1048576"},
		{"maxmemory", "18446744073709551615", "18446744073709551615"},
		{"maxmemory", "18446744073709551616", "18446744073709551615"}, // saturates, as strtoull
		{"maxmemory", "99999999999gb", "15140462030378500096"},        // wraps, as Redis 7.0
		{"maxmemory-clients", "10%", "10%"},
		{"maxmemory-clients", "100%", "100%"},
		{"maxmemory-clients", "0%", "0"},
		{"maxmemory-clients", "1kb", "1024"},
		{"proto-max-bulk-len", "1mb", "1048576"},
		{"client-query-buffer-limit", "2mb", "2097152"},
		{"hash-max-listpack-value", "1k", "1000"},
		{"stream-node-max-bytes", "1kb", "1024"},
		{"activerehashing", "YES", "yes"},
		{"activerehashing", "No", "no"},
		{"maxmemory-policy", "ALLKEYS-LRU", "allkeys-lru"},
		{"loglevel", "WARNING", "warning"},
		{"oom-score-adj", "relative", "yes"},
		{"oom-score-adj", "NO", "no"},
		{"hz", "0", "1"},
		{"hz", "1000", "500"},
		{"repl-backlog-size", "1", "16384"},
		{"list-max-listpack-size", "-6", "-6"},
		{"slowlog-log-slower-than", "-1", "-1"},
		{"notify-keyspace-events", "KEA", "AKE"},
		{"notify-keyspace-events", "nKmEx", "xnKEm"},
		{"notify-keyspace-events", "AmnKE", "AKEm"},
		{"notify-keyspace-events", "ndtexzhsl$g", "A"},
		{"notify-keyspace-events", "g$lshzxetd", "A"},
		{"notify-keyspace-events", "", ""},
		{"latency-tracking-info-percentiles", "50.50 99 0", "50.5 99 0"},
		{"latency-tracking-info-percentiles", "1e1", "10"},
		{"latency-tracking-info-percentiles", "-0", "-0"},
		{"latency-tracking-info-percentiles", "", ""},
		{"client-output-buffer-limit", "NORMAL 1gb 0 0 replica 1 2 3 pubsub 4 5 6", "normal 1073741824 0 0 slave 1 2 3 pubsub 4 5 6"},
		{"client-output-buffer-limit", "normal 1 2 3 normal 4 5 6", "normal 4 5 6 slave 268435456 67108864 60 pubsub 33554432 8388608 60"},
		{"client-output-buffer-limit", "normal 1k 2K 10", "normal 1000 2000 10 slave 268435456 67108864 60 pubsub 33554432 8388608 60"},
		{"client-output-buffer-limit", "", "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"},
		{"oom-score-adj-values", "+1 02 3", "1 2 3"},
		{"oom-score-adj-values", "-2000 0 2000", "-2000 0 2000"},
		{"shutdown-on-sigint", "now nosave", "nosave now"},
		{"shutdown-on-sigint", "default save", "save"},
		{"shutdown-on-sigint", "force now", "now force"},
		{"shutdown-on-sigterm", "DEFAULT", "default"},
		{"requirepass", `a"b c`, `a"b c`},
		{"bind-source-addr", "1.2.3.4", "1.2.3.4"},
		// Fixed parameters accept valid values and keep reporting theirs.
		{"appendonly", "no", "yes"},
		{"save", "60 1000", ""},
		{"save", "+30 -0", ""},
		{"save", "", ""},
	}
}
