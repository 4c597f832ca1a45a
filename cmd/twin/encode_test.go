package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twinsearch/twin/internal/vecio"
)

// twinCLI runs the CLI in-process and returns stdout and the error.
func twinCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(append([]string{"--quiet"}, args...))
	err := root.Execute()
	return out.String(), err
}

func TestModelInitEncode(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.twin")
	if _, err := twinCLI(t, "", "model", "init", "--out", model, "--bits", "10", "--bag-dim", "16", "--hidden", "", "--dim", "8"); err != nil {
		t.Fatal(err)
	}
	if _, err := twinCLI(t, "", "model", "init", "--out", model); err == nil || exitCode(err) != 2 {
		t.Fatalf("overwrite without --force: %v", err)
	}
	info, err := twinCLI(t, "", "model", "info", "--model", model, "--json")
	if err != nil || !strings.Contains(info, `"dim": 8`) {
		t.Fatalf("info: %v %s", err, info)
	}
	in := filepath.Join(dir, "texts.jsonl")
	os.WriteFile(in, []byte("{\"_id\":\"a\",\"text\":\"first text\"}\n{\"text\":\"second\"}\n{\"_id\":\"c\",\"title\":\"T\",\"text\":\"third\"}\n"), 0o644)
	fv := filepath.Join(dir, "v.fvecs")
	if _, err := twinCLI(t, "", "encode", "-m", model, "-i", in, "-o", fv); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(fv)
	rows, err := vecio.ReadFvecs(f)
	f.Close()
	if err != nil || len(rows) != 3 || len(rows[0]) != 8 {
		t.Fatalf("fvecs: %d rows, %v", len(rows), err)
	}
	out, err := twinCLI(t, "", "encode", "-m", model, "-i", in, "-o", "-", "--tower", "query")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var rec struct {
		ID     string    `json:"id"`
		Vector []float32 `json:"vector"`
	}
	if len(lines) != 3 || json.Unmarshal([]byte(lines[1]), &rec) != nil || rec.ID != "2" || len(rec.Vector) != 8 {
		t.Fatalf("jsonl output %q", out)
	}
	// Bad input: a non-JSON line is an error naming the line, and no output file is left.
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte("{\"text\":\"ok\"}\nnot json\n"), 0o644)
	_, err = twinCLI(t, "", "encode", "-m", model, "-i", bad, "-o", filepath.Join(dir, "bad.fvecs"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("bad line: %v", err)
	}
	if _, serr := os.Stat(filepath.Join(dir, "bad.fvecs")); serr == nil {
		t.Fatal("partial output left behind")
	}
	if _, err := twinCLI(t, "", "encode", "-m", model, "-i", in, "-o", filepath.Join(dir, "x.txt")); err == nil || exitCode(err) != 2 {
		t.Fatalf("unknown format: %v", err)
	}
	if _, err := twinCLI(t, "", "encode", "-m", in, "-i", in, "-o", filepath.Join(dir, "y.fvecs")); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("non-model file: %v", err)
	}
}
