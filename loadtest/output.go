package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/tsenart/vegeta/v12/lib/plot"
)

// Files --out writes.
const (
	resultsBin  = "results.bin"
	resultsCSV  = "results.csv"
	latencyHTML = "latency.html"
)

// csvHeader names the columns of results.csv.
var csvHeader = []string{"target", "seq", "timestamp_unix_ns", "latency_ns", "status", "decision", "error"}

// sink streams every result to the files in a directory as it arrives, so
// nothing but the plot's compressed points is kept in memory.
type sink struct {
	dir      string
	files    []*os.File
	bin, csv *bufio.Writer
	gob      vegeta.Encoder
	rows     *csv.Writer
	plot     *plot.Plot
	err      error // the first write error
}

// openSink creates dir (if needed) and the result files in it.
func openSink(dir, title string) (*sink, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("--out: %w", err)
	}
	s := &sink{dir: dir, plot: newPlot(title)}
	open := func(name string) (*bufio.Writer, error) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("--out: %w", err)
		}
		s.files = append(s.files, f)
		return bufio.NewWriterSize(f, 256<<10), nil
	}
	var err error
	if s.bin, err = open(resultsBin); err != nil {
		return nil, errors.Join(err, s.closeFiles())
	}
	if s.csv, err = open(resultsCSV); err != nil {
		return nil, errors.Join(err, s.closeFiles())
	}
	s.gob = vegeta.NewEncoder(s.bin)
	s.rows = csv.NewWriter(s.csv)
	if err := s.rows.Write(csvHeader); err != nil {
		return nil, errors.Join(fmt.Errorf("--out: %w", err), s.closeFiles())
	}
	return s, nil
}

// add writes one result. The body has already been dropped: results.bin
// holds vegeta's gob encoding without bodies or headers, readable by
// `vegeta report` and `vegeta plot`.
func (s *sink) add(target string, r *vegeta.Result, decision string) {
	if s.err != nil {
		return
	}
	if err := s.gob.Encode(r); err != nil {
		s.err = fmt.Errorf("%s: %w", resultsBin, err)
		return
	}
	if err := s.rows.Write([]string{target, strconv.FormatUint(r.Seq, 10), strconv.FormatInt(r.Timestamp.UnixNano(), 10),
		strconv.FormatInt(int64(r.Latency), 10), strconv.Itoa(int(r.Code)), decision, r.Error}); err != nil {
		s.err = fmt.Errorf("%s: %w", resultsCSV, err)
		return
	}
	if err := s.plot.Add(r); err != nil {
		s.err = fmt.Errorf("%s: %w", latencyHTML, err)
	}
}

// close flushes the result files and writes the plot.
func (s *sink) close() error {
	errs := []error{s.err}
	s.rows.Flush()
	errs = append(errs, s.rows.Error(), s.bin.Flush(), s.csv.Flush(), s.closeFiles())
	s.plot.Close()
	f, err := os.Create(filepath.Join(s.dir, latencyHTML))
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	w := bufio.NewWriter(f)
	_, err = s.plot.WriteTo(w)
	errs = append(errs, err, w.Flush(), f.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("--out %s: %w", s.dir, err)
	}
	return nil
}

func (s *sink) closeFiles() error {
	var errs []error
	for _, f := range s.files {
		errs = append(errs, f.Close())
	}
	s.files = nil
	return errors.Join(errs...)
}
