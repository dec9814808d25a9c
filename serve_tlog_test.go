package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

// TestServeLogIndependentlyVerifiable reads the log a running server
// publishes under /log/ with transparency-dev's client packages only — no
// code of ours on the reading side — and proves every decision's inclusion
// and the consistency of two successive checkpoints.
func TestServeLogIndependentlyVerifiable(t *testing.T) {
	s := startServer(t, "--log-checkpoint-interval", "100ms")
	ctx := context.Background()
	base := "http://" + s.addr

	resp, err := http.Get(base + "/log/key")
	if err != nil {
		t.Fatal(err)
	}
	vkey, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	v, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		t.Fatalf("served verifier key: %v", err)
	}
	root, _ := url.Parse(base + "/log/")
	f, err := client.NewHTTPFetcher(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	// waitCheckpoint polls until a checkpoint covers at least n entries.
	waitCheckpoint := func(n uint64) *log.Checkpoint {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			cp, _, _, err := client.FetchCheckpoint(ctx, f.ReadCheckpoint, v, v.Name())
			if err == nil && cp.Size >= n {
				return cp
			}
			if time.Now().After(deadline) {
				t.Fatalf("no checkpoint covering %d entries (last error %v)", n, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	decide := func(body string) (index uint64, id string) {
		t.Helper()
		code, out := s.post(t, body)
		if code != http.StatusOK {
			t.Fatalf("status %d: %v", code, out)
		}
		return uint64(out["log_index"].(float64)), out["decision_id"].(string)
	}
	indices := map[uint64]string{}
	for _, b := range []string{`{"jurisdiction":"DE","declared":{"age":14}}`, `{"jurisdiction":"US","declared":{"age":9}}`} {
		i, id := decide(b)
		indices[i] = id
	}
	first := waitCheckpoint(2)
	for _, b := range []string{`{"jurisdiction":"GB","declared":{"age":17}}`, `{"jurisdiction":"AU","declared":{"age":16}}`, `{"jurisdiction":"DK","declared":{"birth_date":"2011-01-01"}}`} {
		i, id := decide(b)
		indices[i] = id
	}
	second := waitCheckpoint(5)

	pb, err := client.NewProofBuilder(ctx, second.Size, f.ReadTile)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range indices {
		bundle, err := client.GetEntryBundle(ctx, f.ReadEntryBundle, i/256, second.Size)
		if err != nil {
			t.Fatalf("entry bundle for %d: %v", i, err)
		}
		data := bundle.Entries[i%256]
		if !strings.Contains(string(data), `"decision_id":"`+id+`"`) {
			t.Errorf("entry %d is not decision %s: %s", i, id, data)
		}
		p, err := pb.InclusionProof(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, i, second.Size, rfc6962.DefaultHasher.HashLeaf(data), p, second.Hash); err != nil {
			t.Errorf("inclusion of decision %d: %v", i, err)
		}
	}
	cp, err := pb.ConsistencyProof(ctx, first.Size, second.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, first.Size, second.Size, cp, first.Hash, second.Hash); err != nil {
		t.Errorf("consistency %d -> %d: %v", first.Size, second.Size, err)
	}
	s.stop(t)
}
