package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twinsearch/twin/encoder"
	"github.com/twinsearch/twin/internal/corpus"
	"github.com/twinsearch/twin/internal/frame"
	"github.com/twinsearch/twin/internal/vecio"
)

func init() { register(newEncodeCmd) }

// vectorSink receives encoded vectors in input order.
type vectorSink interface {
	write(id string, v []float32) error
	close() error
}

func newEncodeCmd() *cobra.Command {
	var (
		modelPath, towerName, input, out, format string
		fields                                   corpus.Fields
		batch                                    int
		force                                    bool
	)
	cmd := &cobra.Command{
		Use:   "encode --model M --input texts.jsonl --out vectors.fvecs",
		Short: "Encode texts into unit vectors with a model's query or document tower",
		Long: `Encode each input text with the chosen tower and write the vectors.

Input is JSON Lines (one object per line; "text" and optional "title" and
"_id" fields, names configurable), or plain text with --input-format lines
(one text per line). "-" reads standard input.

Output format follows the --out extension, or --format:
  .fvecs  little-endian int32 dim + float32 values per vector (ANN tools)
  .npy    NumPy float32 array [n, dim]
  .jsonl  {"id": ..., "vector": [...]} per line ("-" writes to stdout)
Files are written to a temporary name and renamed when complete, so an
interrupted run never leaves a partial output.`,
		Example: `  twin encode --model model.twin --tower doc --input corpus.jsonl --out docs.fvecs
  echo '{"text": "what is a siamese network"}' | twin encode -m model.twin --tower query --input - --out -
  twin encode -m model.twin --input questions.txt --input-format lines --out q.npy`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if modelPath == "" || input == "" || out == "" {
				return usagef("--model, --input and --out are required")
			}
			tower, err := encoder.ParseTower(towerName)
			if err != nil {
				return usageError{err}
			}
			if batch < 1 {
				return usagef("--batch %d: want >= 1", batch)
			}
			if format == "" {
				format = strings.TrimPrefix(filepath.Ext(out), ".")
				if out == "-" {
					format = "jsonl"
				}
			}
			if format != "fvecs" && format != "npy" && format != "jsonl" {
				return usagef("output format %q: use an --out ending in .fvecs, .npy or .jsonl, or --format", format)
			}
			if out != "-" {
				if _, err := os.Stat(out); err == nil && !force {
					return usagef("%s exists (use --force to replace it)", out)
				}
			}
			inputFormat, _ := cmd.Flags().GetString("input-format")
			m, err := encoder.Load(modelPath)
			if err != nil {
				return err
			}
			var in io.Reader = os.Stdin
			if input != "-" {
				f, err := os.Open(input)
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			next, err := textSource(in, inputFormat, fields)
			if err != nil {
				return err
			}
			run := func(w io.Writer) (int, error) {
				sink := newSink(w, format, m.Dim())
				n, err := encodeStream(cmd, m, tower, next, sink, batch)
				if err != nil {
					return n, err
				}
				return n, sink.close()
			}
			var n int
			if out == "-" {
				bw := bufio.NewWriter(cmd.OutOrStdout())
				if n, err = run(bw); err != nil {
					return err
				}
				if err := bw.Flush(); err != nil {
					return err
				}
			} else {
				err = frame.WriteFileAtomic(out, func(w io.Writer) error {
					bw := bufio.NewWriterSize(w, 1<<20)
					var err error
					if n, err = run(bw); err != nil {
						return err
					}
					return bw.Flush()
				})
				if err != nil {
					return err
				}
				if globals.json {
					return printJSON(cmd.OutOrStdout(), map[string]any{"vectors": n, "dim": m.Dim(), "out": out, "format": format, "tower": tower.String()})
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d %d-d %s vectors to %s (%s)\n", n, m.Dim(), tower, out, format)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&modelPath, "model", "m", "", "model file (required)")
	fl.StringVar(&towerName, "tower", "doc", "tower to encode with: query or doc")
	fl.StringVarP(&input, "input", "i", "", "input file, or - for stdin (required)")
	fl.String("input-format", "jsonl", "jsonl (objects with text/title/_id) or lines (one text per line)")
	fl.StringVarP(&out, "out", "o", "", "output file (.fvecs, .npy, .jsonl), or - for JSONL on stdout (required)")
	fl.StringVar(&format, "format", "", "output format, overriding the --out extension: fvecs, npy or jsonl")
	fl.StringVar(&fields.ID, "id-field", "_id", "JSONL field holding the id (missing ids become line numbers)")
	fl.StringVar(&fields.Title, "title-field", "title", "JSONL field holding the title")
	fl.StringVar(&fields.Text, "text-field", "text", "JSONL field holding the text")
	fl.IntVar(&batch, "batch", 1024, "texts encoded per parallel batch")
	fl.BoolVar(&force, "force", false, "replace --out if it exists")
	return cmd
}

type textItem struct{ id, text string }

// textSource returns a function yielding input texts one by one (io.EOF at
// the end); errors name the line.
func textSource(in io.Reader, format string, fields corpus.Fields) (func() (textItem, error), error) {
	switch format {
	case "jsonl":
		fields.AutoID = true
		r := corpus.NewReader(in, fields)
		return func() (textItem, error) {
			d, err := r.Next()
			return textItem{d.ID, d.Body()}, err
		}, nil
	case "lines":
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 0, 1<<20), corpus.MaxLineBytes)
		line := 0
		return func() (textItem, error) {
			if !sc.Scan() {
				if err := sc.Err(); err != nil {
					return textItem{}, fmt.Errorf("line %d: %w", line+1, err)
				}
				return textItem{}, io.EOF
			}
			line++
			return textItem{fmt.Sprint(line), sc.Text()}, nil
		}, nil
	}
	return nil, usagef("--input-format %q: want jsonl or lines", format)
}

func encodeStream(cmd *cobra.Command, m *encoder.Model, tower encoder.TowerKind, next func() (textItem, error), sink vectorSink, batch int) (int, error) {
	bar := newProgress(-1, "encoding")
	defer bar.Finish()
	ids := make([]string, 0, batch)
	texts := make([]string, 0, batch)
	dst := make([][]float32, batch)
	for i := range dst {
		dst[i] = make([]float32, m.Dim())
	}
	n := 0
	flush := func() error {
		if len(texts) == 0 {
			return nil
		}
		if err := m.EncodeBatch(cmd.Context(), tower, texts, dst[:len(texts)]); err != nil {
			return err
		}
		for i := range texts {
			if err := sink.write(ids[i], dst[i]); err != nil {
				return err
			}
		}
		n += len(texts)
		bar.Add(len(texts))
		ids, texts = ids[:0], texts[:0]
		return nil
	}
	for {
		item, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, err
		}
		ids, texts = append(ids, item.id), append(texts, item.text)
		if len(texts) == batch {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := flush(); err != nil {
		return n, err
	}
	if n == 0 {
		return 0, errors.New("no input texts")
	}
	return n, nil
}

func newSink(w io.Writer, format string, dim int) vectorSink {
	switch format {
	case "fvecs":
		return &fvecsSink{w: w}
	case "npy":
		return &npySink{w: w, dim: dim}
	}
	return &jsonlSink{enc: json.NewEncoder(w)}
}

type fvecsSink struct{ w io.Writer }

func (s *fvecsSink) write(_ string, v []float32) error {
	return vecio.WriteFvecs(s.w, [][]float32{v})
}
func (s *fvecsSink) close() error { return nil }

// npySink keeps the vectors in memory: .npy needs the row count up front.
type npySink struct {
	w    io.Writer
	dim  int
	rows [][]float32
}

func (s *npySink) write(_ string, v []float32) error {
	s.rows = append(s.rows, append([]float32(nil), v...))
	return nil
}
func (s *npySink) close() error { return vecio.WriteNpy(s.w, s.rows) }

type jsonlSink struct{ enc *json.Encoder }

func (s *jsonlSink) write(id string, v []float32) error {
	return s.enc.Encode(struct {
		ID     string    `json:"id"`
		Vector []float32 `json:"vector"`
	}{id, v})
}
func (s *jsonlSink) close() error { return nil }
