package retriever

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/twinsearch/twin/index/bm25"
)

var update = flag.Bool("update", false, "rewrite the expected output of testdata/retrieval/*.txt")

// TestDataDriven runs the scenarios of ../testdata/retrieval in the style
// of pebble's datadriven tests. Each case is a command line, optional
// input lines, "----", and the expected output, cases separated by a blank
// line; lines starting with # are comments. Commands:
//
//	upsert                      input: "id | v1 v2 ... | title | text" per line
//	delete                      input: one doc id per line
//	search mode=M k=N [vec=a,b,c] [fusion=rrf|weighted] [alpha=A] [shape=union|rerank]
//	       [norm=minmax|zscore] [kprime=N] [rrfk=K] [exact]
//	                            input: the query text (may be empty with vec=)
//	                            output: one hit per line, "id dense=R bm25=R"
//	                            (source ranks; "-" = absent), or "error: ..."
func TestDataDriven(t *testing.T) {
	files, _ := filepath.Glob("../testdata/retrieval/*.txt")
	if len(files) == 0 {
		t.Fatal("no ../testdata/retrieval/*.txt fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { runFile(t, f) })
	}
}

type ddCase struct {
	cmd      string
	input    []string
	expected []string
	comments []string // lines before the command
}

func parseDD(t *testing.T, path string) []ddCase {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cases []ddCase
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	for i := 0; i < len(lines); {
		var c ddCase
		for i < len(lines) && (strings.HasPrefix(lines[i], "#") || strings.TrimSpace(lines[i]) == "") {
			c.comments = append(c.comments, lines[i])
			i++
		}
		if i >= len(lines) {
			break
		}
		c.cmd = lines[i]
		i++
		for i < len(lines) && lines[i] != "----" {
			c.input = append(c.input, lines[i])
			i++
		}
		if i >= len(lines) {
			t.Fatalf("%s: command %q has no ---- line", path, c.cmd)
		}
		i++
		for i < len(lines) && strings.TrimSpace(lines[i]) != "" {
			c.expected = append(c.expected, lines[i])
			i++
		}
		cases = append(cases, c)
	}
	return cases
}

func runFile(t *testing.T, path string) {
	ctx := context.Background()
	cases := parseDD(t, path)
	lex, err := bm25.Open("", bm25.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lex.Close()
	var dense *MemVectors
	var r *Retriever
	var out strings.Builder
	for ci, c := range cases {
		fields := strings.Fields(c.cmd)
		args := map[string]string{}
		for _, f := range fields[1:] {
			k, v, _ := strings.Cut(f, "=")
			args[k] = v
		}
		var got []string
		switch fields[0] {
		case "upsert":
			var docs []bm25.Doc
			for _, line := range c.input {
				p := strings.Split(line, "|")
				if len(p) != 4 {
					t.Fatalf("case %d: upsert line %q: want id | vector | title | text", ci, line)
				}
				id := strings.TrimSpace(p[0])
				v := parseVec(t, strings.Fields(p[1]))
				if dense == nil {
					dense = NewMemVectors(len(v))
				}
				if err := dense.Upsert(id, v); err != nil {
					t.Fatal(err)
				}
				docs = append(docs, bm25.Doc{ID: id, Title: strings.TrimSpace(p[2]), Text: strings.TrimSpace(p[3])})
			}
			if err := lex.Upsert(ctx, docs); err != nil {
				t.Fatal(err)
			}
			n, _ := lex.Count()
			got = []string{fmt.Sprintf("ok, %d docs", n)}
		case "delete":
			for _, id := range c.input {
				dense.Delete(strings.TrimSpace(id))
			}
			if err := lex.Delete(ctx, c.input); err != nil {
				t.Fatal(err)
			}
			n, _ := lex.Count()
			got = []string{fmt.Sprintf("ok, %d docs", n)}
		case "search":
			if r == nil {
				if r, err = New(Sources{Dense: dense, Vectors: dense, Lexical: BM25Source(lex)}, Settings{}); err != nil {
					t.Fatal(err)
				}
			}
			s := Settings{Mode: Mode(args["mode"]), Fusion: args["fusion"], Shape: args["shape"], Norm: Norm(args["norm"])}
			if a, ok := args["alpha"]; ok {
				f, _ := strconv.ParseFloat(a, 64)
				s.Alpha = &f
			}
			s.KPrime, _ = strconv.Atoi(args["kprime"])
			s.RRFK, _ = strconv.ParseFloat(args["rrfk"], 64)
			_, s.ExactRerank = args["exact"]
			k, _ := strconv.Atoi(args["k"])
			q := strings.Join(c.input, "\n")
			var res *Result
			if v, ok := args["vec"]; ok {
				res, err = r.SearchVector(ctx, q, parseVec(t, strings.Split(v, ",")), k, s)
			} else {
				res, err = r.Search(ctx, q, k, s)
			}
			if err != nil {
				got = []string{"error: " + err.Error()}
				break
			}
			if res.Truncated {
				got = append(got, "(query truncated)")
			}
			for _, h := range res.Hits {
				line := h.DocID
				for _, src := range h.Sources {
					rk := "-"
					if src.Rank > 0 {
						rk = strconv.Itoa(src.Rank)
					}
					line += " " + src.Source + "=" + rk
				}
				got = append(got, line)
			}
			if len(got) == 0 {
				got = []string{"(no hits)"}
			}
		default:
			t.Fatalf("case %d: unknown command %q", ci, fields[0])
		}
		for _, l := range c.comments {
			out.WriteString(l + "\n")
		}
		out.WriteString(c.cmd + "\n")
		for _, l := range c.input {
			out.WriteString(l + "\n")
		}
		out.WriteString("----\n")
		for _, l := range got {
			out.WriteString(l + "\n")
		}
		if !*update && strings.Join(got, "\n") != strings.Join(c.expected, "\n") {
			t.Errorf("%s case %d %q:\ngot:\n%s\nwant:\n%s", filepath.Base(path), ci, c.cmd, strings.Join(got, "\n"), strings.Join(c.expected, "\n"))
		}
	}
	if *update {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func parseVec(t *testing.T, f []string) []float32 {
	v := make([]float32, len(f))
	for i, s := range f {
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 32)
		if err != nil {
			t.Fatalf("vector value %q: %v", s, err)
		}
		v[i] = float32(x)
	}
	return v
}
