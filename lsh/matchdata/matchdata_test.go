package matchdata

import (
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twinsearch/twin/internal/testutil"
)

func TestParseTable(t *testing.T) {
	tab, err := ParseTable(strings.NewReader("id,title,authors\n0,\"a, b\",x y\n1,c,\n"))
	if err != nil {
		t.Fatal(err)
	}
	r, ok := tab.Record("0")
	if !ok || r.Get("title") != "a, b" || r.Text() != "a, b x y" {
		t.Fatalf("record %+v", r)
	}
	if r, _ := tab.Record("1"); r.Text() != "c" {
		t.Fatalf("empty field kept: %q", r.Text())
	}
	for _, bad := range []string{"", "title\nx\n", "id,t\n1,a\n1,b\n", "id,t\n1\n"} {
		if _, err := ParseTable(strings.NewReader(bad)); !errors.Is(err, ErrFormat) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestParsePairs(t *testing.T) {
	p, err := ParsePairs(strings.NewReader("ltable_id,rtable_id,label\n1,2,0\n3,4,1\n"))
	if err != nil || len(p) != 2 || p[1] != (Pair{"3", "4", true}) {
		t.Fatalf("%v %v", p, err)
	}
	for _, bad := range []string{"", "a,b,c\n", "ltable_id,rtable_id,label\n1,2,7\n", "ltable_id,rtable_id,label\n1,2\n"} {
		if _, err := ParsePairs(strings.NewReader(bad)); !errors.Is(err, ErrFormat) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestChooseThreshold(t *testing.T) {
	pairs := []Pair{{"a", "1", true}, {"b", "2", true}, {"c", "3", false}, {"d", "4", false}, {"e", "5", true}}
	sims := map[string]float64{"a": 0.95, "b": 0.9, "c": 0.85, "d": 0.5}
	sim := func(p Pair) (float64, bool) { s, ok := sims[p.Left]; return s, ok } // "e" never proposed
	tau, best := ChooseThreshold(pairs, sim)
	// tau 0.9: TP 2, FP 0, FN 1 (e) -> P 1, R 2/3, F1 0.8
	if tau != 0.9 || best.TP != 2 || best.FN != 1 || math.Abs(best.F1-0.8) > 1e-12 {
		t.Fatalf("tau %v best %+v", tau, best)
	}
	got := Evaluate(pairs, func(p Pair) bool { s, ok := sim(p); return ok && s >= tau })
	if got != best {
		t.Fatalf("Evaluate %+v != %+v", got, best)
	}
}

// TestDeepMatcher loads the four shared data sets and checks every pair
// resolves (Load enforces it) and the splits hold both labels.
func TestDeepMatcher(t *testing.T) {
	root := testutil.NeedData(t, "deepmatcher")
	for _, name := range []string{"abt_buy", "amazon_google", "dblp_acm", "walmart_amazon"} {
		ds, err := Load(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, split := range [][]Pair{ds.Train, ds.Valid, ds.Test} {
			pos := 0
			for _, p := range split {
				if p.Match {
					pos++
				}
			}
			if pos == 0 || pos == len(split) {
				t.Fatalf("%s: split with %d of %d matches", name, pos, len(split))
			}
		}
		t.Logf("%s: A %d, B %d records; train %d, valid %d, test %d pairs; columns %v",
			name, len(ds.A.Records), len(ds.B.Records), len(ds.Train), len(ds.Valid), len(ds.Test), ds.A.Columns)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("id,title\n0,\"a, b\"\n1,c\n")
	f.Add("ltable_id,rtable_id,label\n1,2,0\n3,4,1\n")
	f.Add("id\n\"\n")
	f.Fuzz(func(t *testing.T, s string) {
		if tab, err := ParseTable(strings.NewReader(s)); err == nil {
			for _, r := range tab.Records {
				if got, ok := tab.Record(r.ID); !ok || got.ID != r.ID || len(got.Values) != len(tab.Columns) {
					t.Fatalf("record %q does not round-trip", r.ID)
				}
				_ = r.Text()
			}
		} else if !errors.Is(err, ErrFormat) {
			t.Fatalf("error without ErrFormat: %v", err)
		}
		if _, err := ParsePairs(strings.NewReader(s)); err != nil && !errors.Is(err, ErrFormat) {
			t.Fatalf("error without ErrFormat: %v", err)
		}
	})
}
