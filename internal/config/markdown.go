package config

import (
	"slices"
	"strconv"
	"strings"
)

// Markdown renders the parameter table for the README's options section: ferricd's own
// parameters first, then the ones ferricd acts on, then the rest; each group sorted by name.
func Markdown() string {
	params := Table()
	group := func(p Param) int {
		switch {
		case !p.Redis:
			return 0
		case p.Effect != Kept:
			return 1
		}
		return 2
	}
	slices.SortStableFunc(params, func(a, b Param) int { return group(a) - group(b) })

	var b strings.Builder
	b.WriteString("| parameter | default | effect | mutable | notes |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, p := range params {
		mutable := "no"
		if p.Mutable {
			mutable = "yes"
		}
		notes := p.Doc
		if notes == "" && p.Effect == Kept {
			notes = "Accepted and reported; no effect."
		}
		if !p.Redis {
			notes = "ferricd only. " + notes
		}
		if len(p.Aliases) > 0 {
			notes += " Alias: " + strings.Join(p.Aliases, ", ") + "."
		}
		dflt := mdValue(p.Default)
		if p.Kind == KindMemory {
			dflt += humanBytes(p.Default)
		}
		b.WriteString("| `" + p.Name + "` | " + dflt + " | " + p.Effect.String() +
			" | " + mutable + " | " + mdEscape(strings.TrimSpace(notes)) + " |\n")
	}
	return b.String()
}

func mdValue(v string) string {
	if v == "" {
		return `""`
	}
	return "`" + v + "`"
}

// humanBytes returns " (512mb)" for a byte count that is a whole number of kb, mb or gb of at
// least 1kb, so the README shows sizes the way people write them in a config file.
func humanBytes(v string) string {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n < 1024 {
		return ""
	}
	for _, u := range []struct {
		unit string
		size uint64
	}{{"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}} {
		if n%u.size == 0 {
			return " (" + strconv.FormatUint(n/u.size, 10) + u.unit + ")"
		}
	}
	return ""
}

// mdEscape keeps a cell on one row: pipes would split it.
func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// sortParams orders by name.
func sortParams(ps []Param) {
	slices.SortFunc(ps, func(a, b Param) int { return strings.Compare(a.Name, b.Name) })
}
