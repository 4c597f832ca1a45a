package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTinyBEIR writes a BEIR directory whose queries each share rare
// words with exactly one document, plus a near-duplicate document pair.
func writeTinyBEIR(t *testing.T, dir string) {
	t.Helper()
	docs := []struct{ id, title, text string }{
		{"d1", "Insulin resistance", "Obesity and inflammation cause insulin resistance in muscle tissue."},
		{"d2", "Coral reefs", "Ocean warming bleaches coral reefs and kills their symbiotic algae."},
		{"d3", "Vaccines", "Measles vaccination induces long lasting antibody immunity in children."},
		{"d4", "Tectonics", "Subduction of oceanic plates drives volcanic arcs and earthquakes."},
		{"d5", "Bees", "Neonicotinoid pesticides impair honeybee foraging and colony survival."},
		{"d6", "Bees again", "Neonicotinoid pesticides impair honeybee foraging and colony survival!"},
	}
	os.MkdirAll(filepath.Join(dir, "qrels"), 0o755)
	var c strings.Builder
	for _, d := range docs {
		b, _ := json.Marshal(map[string]string{"_id": d.id, "title": d.title, "text": d.text})
		c.Write(append(b, '\n'))
	}
	os.WriteFile(filepath.Join(dir, "corpus.jsonl"), []byte(c.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "queries.jsonl"), []byte(
		`{"_id":"q1","text":"what causes insulin resistance"}`+"\n"+
			`{"_id":"q2","text":"coral bleaching ocean warming"}`+"\n"+
			`{"_id":"q3","text":"measles vaccination antibody"}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "qrels", "test.tsv"), []byte("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq3\td3\t2\nq3\tghost\t1\n"), 0o644)
}

// TestPipeline runs model init -> build -> search (three modes) -> eval ->
// dedup through the CLI on a tiny collection.
func TestPipeline(t *testing.T) {
	dir := t.TempDir()
	beir := filepath.Join(dir, "beir")
	writeTinyBEIR(t, beir)
	model := filepath.Join(dir, "m.twin")
	coll := filepath.Join(dir, "coll")
	if _, err := twinCLI(t, "", "model", "init", "--out", model, "--bits", "12", "--bag-dim", "32", "--hidden", "", "--dim", "32",
		"--idf-corpus", filepath.Join(beir, "corpus.jsonl")); err != nil {
		t.Fatal(err)
	}
	if _, err := twinCLI(t, "", "build", "--model", model, "--corpus", filepath.Join(beir, "corpus.jsonl"), "--index", coll); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"bm25", "dense", "hybrid"} {
		out, err := twinCLI(t, "", "search", "--index", coll, "--mode", mode, "-k", "2", "--json", "measles vaccination antibody")
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		var res struct {
			Hits []struct{ ID string } `json:"hits"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%s: %v in %s", mode, err, out)
		}
		if len(res.Hits) == 0 || len(res.Hits) > 2 || res.Hits[0].ID != "d3" {
			t.Fatalf("%s: hits %+v, want d3 first", mode, res.Hits)
		}
	}
	out, err := twinCLI(t, "", "eval", "--index", coll, "--beir", beir, "--split", "test", "--mode", "bm25,dense,hybrid", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Rows []struct {
			Mode    string             `json:"mode"`
			Queries int                `json:"queries"`
			Metrics map[string]float64 `json:"metrics"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Rows) != 3 {
		t.Fatalf("eval: %v %s", err, out)
	}
	if r := rep.Rows[0]; r.Mode != "bm25" || r.Queries != 3 || r.Metrics["mrr@10"] != 1 {
		t.Fatalf("bm25 row %+v: every query's relevant doc shares its rare words, want MRR 1", r)
	}
	groups := filepath.Join(dir, "groups.jsonl")
	if _, err := twinCLI(t, "", "dedup", "--index", coll, "--threshold", "0.95", "--out", groups); err != nil {
		t.Fatal(err)
	}
	g, _ := os.ReadFile(groups)
	if !strings.Contains(string(g), `"d5"`) || !strings.Contains(string(g), `"d6"`) {
		t.Fatalf("near-duplicates d5/d6 not grouped: %s", g)
	}
	// Bad input: one line, the right exit code.
	for _, tc := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"search", "--index", coll, "   "}, "query", 1},
		{[]string{"search", "--index", coll, "-k", "0", "x"}, "-k", 2},
		{[]string{"search", "--index", coll, "--mode", "hybrid", "--alpha", "1.5", "x"}, "alpha", 2},
		{[]string{"eval", "--index", coll, "--beir", beir, "--split", "dev"}, "dev", 1},
		{[]string{"dedup", "--index", coll, "--threshold", "0"}, "threshold", 2},
		{[]string{"build", "--model", model, "--corpus", filepath.Join(beir, "missing.jsonl"), "--index", coll}, "missing.jsonl", 1},
	} {
		_, err := twinCLI(t, "", tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") || exitCode(err) != tc.code {
			t.Errorf("%v: err %v (exit %d), want one line mentioning %q, exit %d", tc.args, err, exitCodeOf(err), tc.want, tc.code)
		}
	}
}

// TestDedupWithoutTables builds a collection without LSH tables (as an
// older twin would have), checks dedup still groups by hashing in memory,
// and that --save-tables stores tables that later runs use.
func TestDedupWithoutTables(t *testing.T) {
	dir := t.TempDir()
	beir := filepath.Join(dir, "beir")
	writeTinyBEIR(t, beir)
	model := filepath.Join(dir, "m.twin")
	coll := filepath.Join(dir, "coll")
	if _, err := twinCLI(t, "", "model", "init", "--out", model, "--bits", "12", "--bag-dim", "32", "--hidden", "", "--dim", "32"); err != nil {
		t.Fatal(err)
	}
	if _, err := twinCLI(t, "", "build", "--model", model, "--corpus", filepath.Join(beir, "corpus.jsonl"), "--index", coll, "--lsh-threshold", "0"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(coll, "lsh.tables")); err == nil {
		t.Fatal("--lsh-threshold 0 still wrote tables")
	}
	info, err := twinCLI(t, "", "info", "--index", coll)
	if err != nil || !strings.Contains(info, "lsh tables") || !strings.Contains(info, "none") {
		t.Fatalf("info without tables: %v\n%s", err, info)
	}
	out, err := twinCLI(t, "", "dedup", "--index", coll, "--threshold", "0.95", "--out", "-", "--save-tables")
	if err != nil || !strings.Contains(out, `"d6"`) {
		t.Fatalf("dedup --save-tables: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(coll, "lsh.tables")); err != nil {
		t.Fatalf("--save-tables wrote nothing: %v", err)
	}
	info, _ = twinCLI(t, "", "info", "--index", coll, "--json")
	if !strings.Contains(info, `"present": true`) || !strings.Contains(info, `"fresh": true`) {
		t.Fatalf("info after --save-tables:\n%s", info)
	}
	if _, err := twinCLI(t, "", "build", "--lsh-threshold", "1.5", "--model", model, "--corpus", filepath.Join(beir, "corpus.jsonl"), "--index", coll); err == nil || exitCode(err) != 2 {
		t.Fatalf("--lsh-threshold 1.5: %v", err)
	}
}
