package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferricd/internal/command"
)

func TestRewriteAndCheck(t *testing.T) {
	readme := filepath.Join(t.TempDir(), "README.md")
	before := "# ferricd\n\nIntro.\n\n" + startMarker + "\nold table\n" + endMarker + "\n\nMore text.\n"
	if err := os.WriteFile(readme, []byte(before), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"-readme", readme, "-check"}, &out, &errOut); code != 1 {
		t.Fatalf("-check on a stale file exited %d (%s)", code, errOut.String())
	}
	if got, _ := os.ReadFile(readme); string(got) != before {
		t.Fatal("-check modified the file")
	}
	if code := run([]string{"-readme", readme}, &out, &errOut); code != 0 {
		t.Fatalf("rewrite exited %d (%s)", code, errOut.String())
	}
	got, _ := os.ReadFile(readme)
	want := "# ferricd\n\nIntro.\n\n" + startMarker + "\n\n" + command.CompatTable(command.New()) + "\n" + endMarker + "\n\nMore text.\n"
	if string(got) != want {
		t.Fatalf("rewritten README:\n%s", got)
	}
	if info, _ := os.Stat(readme); info.Mode().Perm() != 0o600 {
		t.Errorf("permissions changed to %v", info.Mode().Perm())
	}
	errOut.Reset()
	if code := run([]string{"-readme", readme, "-check"}, &out, &errOut); code != 0 {
		t.Fatalf("-check after rewrite exited %d (%s)", code, errOut.String())
	}
	// Idempotent.
	if code := run([]string{"-readme", readme}, &out, &errOut); code != 0 {
		t.Fatal("second rewrite failed")
	}
	if again, _ := os.ReadFile(readme); string(again) != string(got) {
		t.Fatal("second rewrite changed the file")
	}
}

func TestBadReadmes(t *testing.T) {
	dir := t.TempDir()
	for name, doc := range map[string]string{
		"no start": "x\n" + endMarker + "\n",
		"no end":   startMarker + "\nx\n",
		"reversed": endMarker + "\n" + startMarker + "\n",
		"twice":    startMarker + "\n" + startMarker + "\n" + endMarker + "\n",
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		os.WriteFile(path, []byte(doc), 0o644)
		var out, errOut bytes.Buffer
		if code := run([]string{"-readme", path}, &out, &errOut); code != 2 {
			t.Errorf("%s: exit %d, want 2", name, code)
		}
		if got, _ := os.ReadFile(path); string(got) != doc {
			t.Errorf("%s: file modified", name)
		}
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"-readme", filepath.Join(dir, "absent")}, &out, &errOut); code != 2 {
		t.Errorf("missing README: exit %d, want 2", code)
	}
}

func TestEndMarkerClosesFile(t *testing.T) {
	got, err := replaceSection([]byte(startMarker+"\nold\n"+endMarker), "new")
	if err != nil {
		t.Fatal(err)
	}
	if want := startMarker + "\n\nnew\n" + endMarker; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestCRLF(t *testing.T) {
	doc := []byte("a\r\n" + startMarker + "\r\nold\r\n" + endMarker + "\r\n")
	got, err := replaceSection(doc, "new")
	if err != nil {
		t.Fatal(err)
	}
	if want := "a\r\n" + startMarker + "\r\n\nnew\n" + endMarker + "\r\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
