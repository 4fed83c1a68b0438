package config

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"ferricd/internal/splitargs"
)

// Action is what the command line asks the caller to do.
type Action uint8

const (
	// Run the node.
	Run Action = iota
	// ShowVersion: print the version and exit (-v, --version).
	ShowVersion
	// ShowHelp: print Usage and exit (-h, --help).
	ShowHelp
	// Check: run the health probe (Probe) against the configured node and exit 0 or 1.
	Check
)

func (a Action) String() string {
	switch a {
	case Run:
		return "run"
	case ShowVersion:
		return "version"
	case ShowHelp:
		return "help"
	case Check:
		return "check"
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// Usage is the --help text; program is the name to show (os.Args[0]).
func Usage(program string) string {
	return `Usage: ` + program + ` [/path/to/ferricd.conf] [options]
       ` + program + ` --check [/path/to/ferricd.conf] [options]
       ` + program + ` -v or --version
       ` + program + ` -h or --help

Options are config-file parameters with two dashes; a parameter that takes a list
(save, bind, ...) takes several words. Options override the file.

Examples:
       ` + program + ` --port 6380 --bind 0.0.0.0
       ` + program + ` /etc/ferricd/ferricd.conf --shards 16 --requirepass secret
       ` + program + ` --check --port 6380     (PING the configured node; exit 0 if it answers)

Every parameter, its default and whether ferricd acts on it: CONFIG GET * on a running node, or
the options table in the README.
`
}

// Parse reads ferricd's command line (without the program name), redis-server style:
// `[config-file] [--name value ...]`. For ShowVersion and ShowHelp the Store is nil.
func Parse(args []string) (*Store, Action, error) {
	if len(args) > 0 {
		switch args[0] {
		case "-v", "--version":
			return nil, ShowVersion, nil
		case "-h", "--help":
			return nil, ShowHelp, nil
		}
	}
	s := New()
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		text, err := os.ReadFile(args[0])
		if err != nil {
			return nil, Run, fmt.Errorf("config file: %w", err)
		}
		if err := s.LoadConfig(string(text), args[0]); err != nil {
			return nil, Run, err
		}
		args = args[1:]
	}
	action, err := s.applyOptions(args)
	if err != nil {
		return nil, Run, err
	}
	return s, action, nil
}

// applyOptions applies `--name value...` groups on top of the current values, all or none.
func (s *Store) applyOptions(args []string) (Action, error) {
	action := Run
	type option struct {
		name string
		args []string
	}
	var opts []option
	for _, a := range args {
		if name, ok := strings.CutPrefix(a, "--"); ok {
			opts = append(opts, option{name: name})
			continue
		}
		if len(opts) == 0 {
			return Run, fmt.Errorf("unexpected argument %q: options are --name value (a config file must come first)", a)
		}
		opts[len(opts)-1].args = append(opts[len(opts)-1].args, a)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	vals := slices.Clone(s.cur.Load().vals)
	var changed []string
	for _, o := range opts {
		switch {
		case o.name == "check":
			if len(o.args) > 0 {
				return Run, fmt.Errorf("--check takes no value (got %q)", o.args[0])
			}
			action = Check
			continue
		case o.name == "version" || o.name == "help":
			return Run, fmt.Errorf("--%s must be the only argument", o.name)
		case len(o.args) == 0 && strings.EqualFold(o.name, "save"):
			o.args = []string{""} // redis-server reads a bare --save as save ""
		case len(o.args) == 0:
			return Run, fmt.Errorf("option --%s needs a value", o.name)
		}
		name, err := s.assign(vals, o.name, o.args)
		if err != nil {
			return Run, fmt.Errorf("option --%s: %w", o.name, err)
		}
		changed = append(changed, name)
	}
	s.publish(vals)
	if len(changed) > 0 {
		s.notify(changed)
	}
	return action, nil
}

// LoadConfig applies config-file text, all or none; source names it in errors ("path:line: ...").
// Like redis.conf: one `name value...` per line, `#` starts a comment line, values may be
// quoted ("..." with C-like escapes, '...' with \'), and a later line overrides an earlier one.
func (s *Store) LoadConfig(text, source string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	vals := slices.Clone(s.cur.Load().vals)
	var changed []string
	for n, line := range strings.Split(text, "\n") {
		line = strings.Trim(line, " \t\r\n")
		if line == "" || line[0] == '#' {
			continue
		}
		argv, err := splitArgs(line)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", source, n+1, err)
		}
		name, err := s.assign(vals, argv[0], argv[1:])
		if err != nil {
			return fmt.Errorf("%s:%d: %w", source, n+1, err)
		}
		changed = append(changed, name)
	}
	s.publish(vals)
	if len(changed) > 0 {
		s.notify(changed)
	}
	return nil
}

var errUnbalanced = errors.New("unbalanced quotes in configuration line")

// splitArgs splits a config line as redis-server does (splitargs.Split).
func splitArgs(line string) ([]string, error) {
	args, ok := splitargs.Split([]byte(line), nil)
	if !ok {
		return nil, errUnbalanced
	}
	out := make([]string, len(args))
	for k, a := range args {
		out[k] = string(a)
	}
	return out, nil
}
