package command

import (
	"strings"
	"testing"
)

func TestCompatTable(t *testing.T) {
	tab := New()
	doc := CompatTable(tab)
	if doc != CompatTable(tab) {
		t.Fatal("CompatTable is not deterministic")
	}
	table, missing, ok := strings.Cut(doc, "\nNot implemented yet")
	if !ok {
		t.Fatalf("no list of missing commands in:\n%s", doc)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(table), "\n")[2:] {
		cells := strings.Split(line, " | ")
		if len(cells) != 4 || !strings.HasPrefix(line, "| `") {
			t.Fatalf("bad row %q", line)
		}
		rows[strings.Trim(cells[0], "|` ")] = line
	}
	for _, s := range cmdAllSpecs(tab) {
		if _, ok := rows[compatName(s.Name)]; !ok {
			t.Errorf("%s has no row", s.Name)
		}
	}
	// Every Redis 7.0 command is either a row or listed as missing, never both.
	for _, name := range strings.Fields(redisCommandList) {
		_, row := rows[compatName(name)]
		listed := strings.Contains(missing, "`"+compatName(name)+"`")
		if row == listed {
			t.Errorf("%s: row %v, listed missing %v", name, row, listed)
		}
	}
	for _, want := range []string{
		"| `COPY` | generic | partial | database 0 only",
		"| `CONFIG GET` | server | yes |  |",
		"| `SAVE` | server | no-op | every acknowledged write is already durable |",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("missing %q", want)
		}
	}
	for name := range compatNotes {
		if cmdLookupName(tab, []byte(name)) == nil {
			t.Errorf("note for %s, which is not in the table", name)
		}
	}
}
