// Package matchdata loads entity-matching benchmarks in the DeepMatcher
// layout (Abt-Buy, Amazon-Google, DBLP-ACM, Walmart-Amazon): a directory
// with tableA.csv and tableB.csv (records: an "id" column and attribute
// columns) and train.csv, valid.csv, test.csv (labelled pairs: ltable_id,
// rtable_id, label with 1 = match). It also scores predictions (precision,
// recall, F1) and picks a cosine threshold on a labelled split, counting
// pairs a candidate generator (LSH) never proposed as predicted non-matches.
//
//	ds, err := matchdata.Load("../shared/data/deepmatcher/dblp_acm")
//	left := ds.A.Record(p.Left).Text()   // attribute values joined by spaces
//	tau, prf := matchdata.ChooseThreshold(ds.Valid, sim)
//	test := matchdata.Evaluate(ds.Test, func(p matchdata.Pair) bool { s, ok := sim(p); return ok && s >= tau })
package matchdata

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrFormat reports a malformed file.
var ErrFormat = errors.New("matchdata: malformed file")

// Record is one row of tableA or tableB.
type Record struct {
	ID     string
	Values []string // attribute values in Table.Columns order (id excluded)
	cols   []string
}

// Text joins the non-empty attribute values with single spaces: the text a
// twin encoder embeds for the record.
func (r Record) Text() string {
	parts := make([]string, 0, len(r.Values))
	for _, v := range r.Values {
		if v = strings.TrimSpace(v); v != "" {
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, " ")
}

// Get returns the value of column col ("" if absent).
func (r Record) Get(col string) string {
	if i := slices.Index(r.cols, col); i >= 0 {
		return r.Values[i]
	}
	return ""
}

// Table is one side of a data set.
type Table struct {
	Columns []string // attribute columns, id excluded
	Records []Record // in file order
	byID    map[string]int
}

// Record returns the record with id, or false.
func (t *Table) Record(id string) (Record, bool) {
	i, ok := t.byID[id]
	if !ok {
		return Record{}, false
	}
	return t.Records[i], true
}

// Pair is one labelled pair: Left is an id of table A, Right of table B.
type Pair struct {
	Left, Right string
	Match       bool
}

// Dataset is one benchmark directory.
type Dataset struct {
	Name               string
	A, B               *Table
	Train, Valid, Test []Pair
}

// Load reads a DeepMatcher-layout directory. Every pair must name records
// present in the tables.
func Load(dir string) (*Dataset, error) {
	ds := &Dataset{Name: filepath.Base(dir)}
	var err error
	if ds.A, err = readTable(filepath.Join(dir, "tableA.csv")); err != nil {
		return nil, err
	}
	if ds.B, err = readTable(filepath.Join(dir, "tableB.csv")); err != nil {
		return nil, err
	}
	for _, s := range []struct {
		name string
		dst  *[]Pair
	}{{"train.csv", &ds.Train}, {"valid.csv", &ds.Valid}, {"test.csv", &ds.Test}} {
		path := filepath.Join(dir, s.name)
		if *s.dst, err = readPairs(path); err != nil {
			return nil, err
		}
		for i, p := range *s.dst {
			if _, ok := ds.A.byID[p.Left]; !ok {
				return nil, fmt.Errorf("%w: %s line %d: ltable_id %q not in tableA", ErrFormat, path, i+2, p.Left)
			}
			if _, ok := ds.B.byID[p.Right]; !ok {
				return nil, fmt.Errorf("%w: %s line %d: rtable_id %q not in tableB", ErrFormat, path, i+2, p.Right)
			}
		}
	}
	return ds, nil
}

func readTable(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := ParseTable(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// ParseTable reads a records CSV: a header with an "id" column, then one
// record per row. Ids must be unique.
func ParseTable(r io.Reader) (*Table, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrFormat, err)
	}
	idCol := slices.Index(header, "id")
	if idCol < 0 {
		return nil, fmt.Errorf("%w: header %q has no id column", ErrFormat, header)
	}
	t := &Table{byID: map[string]int{}}
	for i, h := range header {
		if i != idCol {
			t.Columns = append(t.Columns, h)
		}
	}
	for line := 2; ; line++ {
		row, err := cr.Read()
		if err == io.EOF {
			return t, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrFormat, err)
		}
		if len(row) != len(header) {
			return nil, fmt.Errorf("%w: line %d has %d fields, header %d", ErrFormat, line, len(row), len(header))
		}
		rec := Record{ID: row[idCol], cols: t.Columns, Values: make([]string, 0, len(row)-1)}
		for i, v := range row {
			if i != idCol {
				rec.Values = append(rec.Values, v)
			}
		}
		if _, dup := t.byID[rec.ID]; dup {
			return nil, fmt.Errorf("%w: line %d: id %q appears twice", ErrFormat, line, rec.ID)
		}
		t.byID[rec.ID] = len(t.Records)
		t.Records = append(t.Records, rec)
	}
}

func readPairs(path string) ([]Pair, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := ParsePairs(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// ParsePairs reads a pairs CSV with columns ltable_id, rtable_id, label
// (0 or 1), in any order.
func ParsePairs(r io.Reader) ([]Pair, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrFormat, err)
	}
	li, ri, yi := slices.Index(header, "ltable_id"), slices.Index(header, "rtable_id"), slices.Index(header, "label")
	if li < 0 || ri < 0 || yi < 0 {
		return nil, fmt.Errorf("%w: header %q: want ltable_id, rtable_id, label", ErrFormat, header)
	}
	var out []Pair
	for line := 2; ; line++ {
		row, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrFormat, err)
		}
		y, err := strconv.Atoi(strings.TrimSpace(row[yi]))
		if err != nil || (y != 0 && y != 1) {
			return nil, fmt.Errorf("%w: line %d: label %q, want 0 or 1", ErrFormat, line, row[yi])
		}
		out = append(out, Pair{Left: row[li], Right: row[ri], Match: y == 1})
	}
}

// PRF holds pair-level precision, recall and F1 (0 when undefined).
type PRF struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	TP        int     `json:"tp"`
	FP        int     `json:"fp"`
	FN        int     `json:"fn"`
	TN        int     `json:"tn"`
}

func prf(tp, fp, fn, tn int) PRF {
	r := PRF{TP: tp, FP: fp, FN: fn, TN: tn}
	if tp+fp > 0 {
		r.Precision = float64(tp) / float64(tp+fp)
	}
	if tp+fn > 0 {
		r.Recall = float64(tp) / float64(tp+fn)
	}
	if r.Precision+r.Recall > 0 {
		r.F1 = 2 * r.Precision * r.Recall / (r.Precision + r.Recall)
	}
	return r
}

// Evaluate scores predict over labelled pairs.
func Evaluate(pairs []Pair, predict func(Pair) bool) PRF {
	var tp, fp, fn, tn int
	for _, p := range pairs {
		switch yes := predict(p); {
		case yes && p.Match:
			tp++
		case yes:
			fp++
		case p.Match:
			fn++
		default:
			tn++
		}
	}
	return prf(tp, fp, fn, tn)
}

// ChooseThreshold returns the threshold tau maximising F1 of "sim >= tau"
// over pairs, and that F1. sim returns ok = false for a pair the candidate
// generator never proposed: it is predicted a non-match at every tau (a
// miss if it is a match). Candidate thresholds are the observed
// similarities; ties favour the higher tau.
func ChooseThreshold(pairs []Pair, sim func(Pair) (float64, bool)) (float64, PRF) {
	type scored struct {
		s     float64
		match bool
	}
	var ss []scored
	positives := 0
	for _, p := range pairs {
		if p.Match {
			positives++
		}
		if s, ok := sim(p); ok {
			ss = append(ss, scored{s, p.Match})
		}
	}
	slices.SortFunc(ss, func(a, b scored) int {
		switch {
		case a.s > b.s:
			return -1
		case a.s < b.s:
			return 1
		}
		return 0
	})
	bestTau, best := 1.0, prf(0, 0, positives, len(pairs)-positives)
	tp, fp := 0, 0
	for i, x := range ss {
		if x.match {
			tp++
		} else {
			fp++
		}
		if i+1 < len(ss) && ss[i+1].s == x.s {
			continue // take all pairs with this similarity together
		}
		r := prf(tp, fp, positives-tp, len(pairs)-positives-fp)
		if r.F1 > best.F1 {
			bestTau, best = x.s, r
		}
	}
	return bestTau, best
}
