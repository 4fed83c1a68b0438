// Package config holds a ferricd node's parameters, the way redis-server holds its own: the same
// names, defaults, value syntax and CONFIG GET/SET behaviour as Redis 7.0.15, plus ferricd's own
// parameters (shards, metrics-port; cluster ones will join the same table).
//
// # The table
//
// Every parameter that `CONFIG GET *` lists on a real redis-server 7.0.15 is in the table
// (testdata/redis-7.0-config.txt is that server's output; a test keeps the two in step). Each
// entry has a default, a kind (bool, int, memory, enum, string, special), whether it is mutable at
// run time, and an Effect:
//
//   - Used: the node acts on it (port, bind, dir, requirepass, maxclients, ...).
//   - Kept: accepted by the config file, the command line and CONFIG SET (with Redis' validation),
//     reported by CONFIG GET, and otherwise without effect. Kept parameters exist so that Redis
//     config files, tools and client libraries that read or tune them keep working.
//   - Fixed: accepted and validated, but CONFIG GET always reports one value, because ferricd's
//     behaviour cannot change: appendonly is "yes" (every write is durable in the raft log and
//     Pebble) and save is "" (there are no RDB snapshots).
//
// Deliberate differences from redis-server: bind defaults to "127.0.0.1" (Redis: "* -::*"), so a
// fresh node is not reachable from the network until told so; dir defaults to "./ferricd-data";
// port, bind and dir are immutable (Redis can rebind and chdir at run time; ferricd's listener
// and Pebble directory are fixed for the life of the process); replicaof must stay empty
// (replication is raft's job).
//
// # Values
//
// Values are stored in canonical form, as CONFIG GET shows them: memory sizes in bytes ("1gb" is
// 1073741824; "k"/"m"/"g" are powers of 1000, "kb"/"mb"/"gb" powers of 1024, as in Redis), bools
// as yes/no, enums lower case, lists re-joined with single spaces. Parsing follows Redis' own
// functions (string2ll, memtoull, strtoll, strtod) including their quirks, so the same input is
// accepted or refused with the same error text. Redis' value clamps that CONFIG GET makes visible
// are reproduced for hz (1..500) and repl-backlog-size (at least 16384).
//
// # CONFIG SET and CONFIG GET
//
// Set applies several pairs atomically (all or none) in Redis 7.0's order of checks: first every
// name is looked up (unknown, immutable, protected and duplicate names fail, first failure wins,
// naming the argument as typed), then every value is parsed (a failure names the parameter in
// lower case), then all are applied at once. Errors are Redis' reply texts without "ERR ".
//
// Get matches a glob pattern case-insensitively (internal/glob, Redis' own matching rules)
// against every name, aliases included (Redis 7.0 lists "slave-read-only" next to
// "replica-read-only"). A pattern with no glob character is an
// exact lookup and the reply carries the name as the client typed it, as Redis does. Redis replies
// in hash-table order, which clients cannot rely on; ferricd replies sorted by name.
//
// # Invariants
//
//   - A Store's current values are an immutable snapshot behind an atomic pointer: readers (the
//     typed accessors, Get) never lock and always see a consistent set of values; writers (Set,
//     LoadConfig) serialise on a mutex, build a new snapshot, and publish it in one store. This is
//     what makes CONFIG SET of several pairs atomic for readers too, and what lets requirepass and
//     maxclients take effect on the next read.
//   - Every stored value is canonical: parsing a stored value again yields itself.
//   - The parameter table is built per Store and never changes afterwards; the package has no
//     mutable globals.
//
// # Command line
//
// Parse reads `ferricd [config-file] [--name value ...]` like redis-server: the file (if any)
// comes first, then options that override it; `--name v1 v2` gives a list-valued parameter (save,
// bind, ...) several words; a bare `--name` is an error, except `--save` which means `save ""` as
// in Redis. `-v`/`--version` and `-h`/`--help` as the first argument, and `--check` anywhere,
// are returned as an Action for the caller; Probe implements the `--check` health probe.
package config
