// Command gendocs regenerates the README's generated sections, so the documentation cannot
// drift from what ferricd implements: the command compatibility table (between
// "<!-- commands:start -->" and "<!-- commands:end -->", from the command table) and the
// options table (between "<!-- options:start -->" and "<!-- options:end -->", from the
// parameter table of internal/config; skipped when those markers are absent). With -check it
// changes nothing and exits 1 when a section is stale (for CI), 0 when all are current.
//
//	go run ./cmd/gendocs [-readme README.md] [-check]
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"ferricd/internal/command"
	"ferricd/internal/config"
)

const (
	startMarker        = "<!-- commands:start -->"
	endMarker          = "<!-- commands:end -->"
	optionsStartMarker = "<!-- options:start -->"
	optionsEndMarker   = "<!-- options:end -->"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main with its environment passed in, so tests can drive it.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gendocs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	readme := fs.String("readme", "README.md", "file whose commands section is rewritten")
	check := fs.Bool("check", false, "only report whether the section is current (exit 1 when stale)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	old, err := os.ReadFile(*readme)
	if err != nil {
		fmt.Fprintln(stderr, "gendocs:", err)
		return 2
	}
	updated, err := replaceSection(old, command.CompatTable(command.New()))
	if err == nil && bytes.Contains(updated, []byte(optionsStartMarker)) {
		updated, err = replaceBetween(updated, optionsStartMarker, optionsEndMarker, config.Markdown())
	}
	if err != nil {
		fmt.Fprintf(stderr, "gendocs: %s: %v\n", *readme, err)
		return 2
	}
	if bytes.Equal(old, updated) {
		fmt.Fprintf(stdout, "%s: generated sections are up to date\n", *readme)
		return 0
	}
	if *check {
		fmt.Fprintf(stderr, "%s: generated sections are stale; run go run ./cmd/gendocs\n", *readme)
		return 1
	}
	// Keep the file's permissions; write through a temporary file so a failure never leaves
	// a truncated README.
	info, err := os.Stat(*readme)
	if err != nil {
		fmt.Fprintln(stderr, "gendocs:", err)
		return 2
	}
	tmp := *readme + ".tmp"
	if err := os.WriteFile(tmp, updated, info.Mode().Perm()); err != nil {
		fmt.Fprintln(stderr, "gendocs:", err)
		return 2
	}
	if err := os.Rename(tmp, *readme); err != nil {
		os.Remove(tmp)
		fmt.Fprintln(stderr, "gendocs:", err)
		return 2
	}
	fmt.Fprintf(stdout, "%s: generated sections rewritten\n", *readme)
	return 0
}

// replaceSection returns doc with the lines between the marker lines replaced by body. The
// markers must each appear once, start before end, on lines of their own (the end marker
// may close the file without a newline).
func replaceSection(doc []byte, body string) ([]byte, error) {
	return replaceBetween(doc, startMarker, endMarker, body)
}

// replaceBetween is replaceSection for any pair of marker lines.
func replaceBetween(doc []byte, startMarker, endMarker, body string) ([]byte, error) {
	start, err := markerLine(doc, startMarker)
	if err != nil {
		return nil, err
	}
	end, err := markerLine(doc, endMarker)
	if err != nil {
		return nil, err
	}
	if end < start {
		return nil, errors.New(endMarker + " comes before " + startMarker)
	}
	afterStart := start + len(startMarker)
	if afterStart < len(doc) && doc[afterStart] == '\r' {
		afterStart++
	}
	afterStart++ // the newline ending the start marker's line
	var out bytes.Buffer
	out.Write(doc[:afterStart])
	out.WriteString("\n")
	out.WriteString(body)
	out.WriteString("\n")
	out.Write(doc[end:])
	return out.Bytes(), nil
}

// markerLine returns the offset of marker, which must fill a line by itself, exactly once.
func markerLine(doc []byte, marker string) (int, error) {
	found := -1
	for off := 0; off < len(doc); {
		line := doc[off:]
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i+1]
		}
		if string(bytes.TrimSpace(line)) == marker {
			if found >= 0 {
				return 0, errors.New(marker + " appears twice")
			}
			found = off + bytes.Index(line, []byte(marker))
		}
		off += len(line)
	}
	if found < 0 {
		return 0, errors.New(marker + " not found")
	}
	return found, nil
}
