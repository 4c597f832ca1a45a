package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, body string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTrainCLI(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := range 40 {
		fmt.Fprintf(&b, "g\tf\t2012\t%d\t%d.0\tsentence %d about topic %d\tanother sentence %d on topic %d\n", i, i%6, i, i%5, i, i%5)
	}
	pairs := writeFile(t, filepath.Join(dir, "pairs.tsv"), b.String())
	small := []string{"--bits", "10", "--bag-dim", "32", "--hidden", "16", "--dim", "16"}
	out := filepath.Join(dir, "run")
	args := append([]string{"train", "--pairs", pairs, "--preset", "stsb", "--dev-pairs", pairs, "--loss", "cosent", "--batch", "8", "--epochs", "2", "--out", out, "--json"}, small...)
	stdout, err := twinCLI(t, "", args...)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Steps  int    `json:"steps"`
		Model  string `json:"model"`
		Plot   string `json:"plot"`
		Metric string `json:"metric"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || res.Steps != 10 || res.Metric != "spearman" {
		t.Fatalf("%v: %s", err, stdout)
	}
	for _, p := range []string{res.Model, res.Plot} {
		if _, err := os.Stat(p); err != nil {
			t.Fatal(err)
		}
	}
	// IDF from the pair texts when there is no corpus.
	if _, err := twinCLI(t, "", append([]string{"train", "--pairs", pairs, "--preset", "stsb", "--loss", "mse", "--batch", "8", "--steps", "2", "--idf", "--out", filepath.Join(dir, "idf")}, small...)...); err != nil {
		t.Fatal(err)
	}
	// --config supplies flags; the command line wins.
	cfg := writeFile(t, filepath.Join(dir, "cfg.json"), `{"loss": "mse", "batch": 8, "steps": 3, "pairs": ["`+pairs+`"], "preset": "stsb", "bits": 10, "bag-dim": 32, "hidden": "16", "dim": 16}`)
	stdout, err = twinCLI(t, "", "train", "--config", cfg, "--steps", "2", "--out", filepath.Join(dir, "run2"), "--json")
	if err != nil || !strings.Contains(stdout, `"steps": 2`) {
		t.Fatalf("config run: %v %s", err, stdout)
	}
}

func TestTrainCLIBadInput(t *testing.T) {
	dir := t.TempDir()
	empty := writeFile(t, filepath.Join(dir, "empty.tsv"), "")
	bad := writeFile(t, filepath.Join(dir, "bad.tsv"), "g\tf\t2012\t1\t5.0\ta\tb\ng\tf\t2012\t2\tn/a\tc\td\n")
	short := writeFile(t, filepath.Join(dir, "short.tsv"), "g\tf\t2012\t1\t5.0\ta\n")
	good := writeFile(t, filepath.Join(dir, "good.tsv"), "g\tf\t2012\t1\t5.0\ta\tb\ng\tf\t2012\t2\t1.0\tc\td\n")
	beir := filepath.Join(dir, "beir")
	os.MkdirAll(filepath.Join(beir, "qrels"), 0o755)
	writeFile(t, filepath.Join(beir, "corpus.jsonl"), `{"_id": "d1", "text": "x y"}`+"\n")
	writeFile(t, filepath.Join(beir, "queries.jsonl"), `{"_id": "q1", "text": "x"}`+"\n")
	writeFile(t, filepath.Join(beir, "qrels", "train.tsv"), "query-id\tcorpus-id\tscore\nq1\td1\t1\n")
	writeFile(t, filepath.Join(beir, "qrels", "dev.tsv"), "query-id\tcorpus-id\tscore\n")
	out := filepath.Join(dir, "out")
	small := []string{"--bits", "10", "--bag-dim", "32", "--hidden", "", "--dim", "8", "--out", out}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"empty file", []string{"--pairs", empty, "--preset", "stsb"}, "no pairs"},
		{"non-numeric label", []string{"--pairs", bad, "--preset", "stsb"}, "line 2"},
		{"missing column", []string{"--pairs", short, "--preset", "stsb"}, "line 1"},
		{"unknown loss", []string{"--pairs", good, "--preset", "stsb", "--loss", "hinge"}, "unknown loss"},
		{"batch larger than data", []string{"--pairs", good, "--preset", "stsb", "--batch", "64"}, "larger than the data"},
		{"dev split without qrels", []string{"--beir", beir, "--dev-split", "dev", "--batch", "1"}, "no qrels"},
		{"no data", []string{}, "no training data"},
		{"bad config key", []string{"--config", writeFile(t, filepath.Join(dir, "c.json"), `{"nope": 1}`)}, "unknown key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := twinCLI(t, "", append(append([]string{"train"}, c.args...), small...)...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error: %q", err)
			}
		})
	}
}
