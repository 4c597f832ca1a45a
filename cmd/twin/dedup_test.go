package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twinsearch/twin/index"
	"github.com/twinsearch/twin/internal/vec"
)

func TestDedupCLI(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.twin")
	if _, err := twinCLI(t, "", "model", "init", "--out", model, "--bits", "12", "--bag-dim", "32", "--hidden", "", "--dim", "32"); err != nil {
		t.Fatal(err)
	}
	// Three copies of one text (one with an extra word), two of another,
	// and unrelated texts.
	var b strings.Builder
	docs := []struct{ id, text string }{
		{"a1", "the quick brown fox jumps over the lazy dog near the river bank"},
		{"x1", "quantum chromodynamics describes the strong interaction of quarks"},
		{"a2", "the quick brown fox jumps over the lazy dog near the river bank"},
		{"b1", "stock markets fell sharply on tuesday after the central bank report"},
		{"a3", "the quick brown fox jumps over the lazy dog near the river bank today"},
		{"x2", "a recipe for sourdough bread needs flour water salt and patience"},
		{"b2", "stock markets fell sharply on tuesday after the central bank report"},
	}
	for _, d := range docs {
		fmt.Fprintf(&b, "{\"_id\":%q,\"text\":%q}\n", d.id, d.text)
	}
	corpusPath := filepath.Join(dir, "corpus.jsonl")
	os.WriteFile(corpusPath, []byte(b.String()), 0o644)
	out := filepath.Join(dir, "groups.jsonl")
	sum, err := twinCLI(t, "", "dedup", "--corpus", corpusPath, "--model", model, "--threshold", "0.95", "--out", out, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal([]byte(sum), &s); err != nil {
		t.Fatalf("summary %q: %v", sum, err)
	}
	if s["docs"].(float64) != 7 || s["groups"].(float64) != 2 || s["docs_in_groups"].(float64) != 5 {
		t.Fatalf("summary %v", s)
	}
	data, _ := os.ReadFile(out)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 {
		t.Fatalf("groups file:\n%s", data)
	}
	var g dedupGroup
	if err := json.Unmarshal([]byte(lines[0]), &g); err != nil {
		t.Fatal(err)
	}
	if g.Group != 0 || g.Representative != "a1" || len(g.Members) != 3 || g.Members[0].ID != "a1" || g.Members[0].Similarity != 1 {
		t.Fatalf("first group %+v", g)
	}
	// An existing --out is refused without --force (usage error, exit 2).
	if _, err := twinCLI(t, "", "dedup", "--corpus", corpusPath, "--model", model, "--out", out); err == nil || exitCode(err) != 2 {
		t.Fatalf("existing out: %v", err)
	}
	if _, err := twinCLI(t, "", "dedup", "--corpus", corpusPath, "--model", model, "--out", out, "--force", "--representative", "central"); err != nil {
		t.Fatal(err)
	}
	// Groups to stdout.
	stdout, err := twinCLI(t, "", "dedup", "--corpus", corpusPath, "--model", model, "--threshold", "0.95", "--out", "-")
	if err != nil || strings.Count(stdout, "\n") != 2 || !strings.Contains(stdout, `"representative":"b1"`) {
		t.Fatalf("stdout groups %q %v", stdout, err)
	}
}

func TestDedupBadInput(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"threshold 0", []string{"--plan", "--threshold", "0"}, "threshold"},
		{"threshold > 1", []string{"--plan", "--threshold", "1.5"}, "threshold"},
		{"k > 64", []string{"--plan", "--k", "65"}, "--k"},
		{"no source", nil, "--corpus"},
		{"both sources", []string{"--corpus", "c", "--index", "d", "--model", "m"}, "either"},
		{"corpus without model", []string{"--corpus", "c"}, "--model"},
		{"bad representative", []string{"--plan", "--representative", "median"}, "representative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := twinCLI(t, "", append([]string{"dedup"}, c.args...)...)
			if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v (exit %d), want usage error mentioning %q", err, exitCodeOf(err), c.want)
			}
		})
	}
	if _, err := twinCLI(t, "", "dedup", "--index", t.TempDir()+"/missing"); err == nil {
		t.Fatal("missing index accepted")
	}
}

func exitCodeOf(err error) int {
	if err == nil {
		return 0
	}
	return exitCode(err)
}

func TestDedupPlan(t *testing.T) {
	out, err := twinCLI(t, "", "dedup", "--plan", "--threshold", "0.9", "--n", "1000000")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "plan: K=") || !strings.Contains(out, "P(any table)") || !strings.Contains(out, "0.90") {
		t.Fatalf("plan output:\n%s", out)
	}
	js, err := twinCLI(t, "", "dedup", "--plan", "--threshold", "0.8", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Plan   map[string]any   `json:"plan"`
		SCurve []map[string]any `json:"s_curve"`
	}
	if err := json.Unmarshal([]byte(js), &v); err != nil || v.Plan["k"] == nil || len(v.SCurve) < 5 {
		t.Fatalf("plan json %s: %v", js, err)
	}
}

func TestDedupIndex(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "coll")
	c, err := index.Open(dir, index.Options{Dim: 4})
	if err != nil {
		t.Fatal(err)
	}
	docs := []index.Doc{
		{ID: "p", Text: "p", Vector: []float32{1, 0, 0, 0}},
		{ID: "q", Text: "q", Vector: []float32{0, 1, 0, 0}},
		{ID: "p2", Text: "p2", Vector: []float32{0.999, 0.0447, 0, 0}},
		{ID: "r", Text: "r", Vector: []float32{0, 0, 1, 0}},
	}
	for i := range docs {
		vec.Normalize(docs[i].Vector)
	}
	if _, err := c.Upsert(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := twinCLI(t, "", "dedup", "--index", dir, "--threshold", "0.99", "--out", "-")
	if err != nil {
		t.Fatal(err)
	}
	var g dedupGroup
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &g); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	if g.Representative != "p" || len(g.Members) != 2 || g.Members[1].ID != "p2" {
		t.Fatalf("group %+v", g)
	}
}
