package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/ageassure/ageassure/adapters/signer"
)

// BenchmarkGenerator measures drawing one request (the Targeter's work
// under its lock).
func BenchmarkGenerator(b *testing.B) {
	g := newTestGenerator(b, DefaultMix(), 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecisionOf measures reading the decision out of a response.
func BenchmarkDecisionOf(b *testing.B) {
	body := []byte(`{"decision_id":"019ac1c4-5d2e-7c4b-9a51-0c3b8e1f2a77","decision":"parental_consent_required","age_band":"13_15","age_equal_or_over":{"13":true,"16":false,"18":false},"reasons":[{"rule":"de.digital-consent-age","decision":"parental_consent_required"}],"attestation":"eyJhbGciOiJFZERTQSIsImtpZCI6…"}`)
	b.ReportAllocs()
	for b.Loop() {
		if decisionOf(body) == "" {
			b.Fatal("no decision")
		}
	}
}

// BenchmarkHTTPFloor measures what a check costs this machine before the
// service decides anything, as the load tester sends it: the generator's
// traffic, paced by vegeta over loopback HTTP/1.1 to a handler in this
// same process, so cpu-µs/req is the CPU of both sides of one exchange.
// "bare" is a gin handler that reads the body and answers a body of a
// decision's size; "sign" adds the Ed25519 attestation signature every
// decision carries; "service" is the real service in process (built-in
// policy, in-process caches, no Redis, no decision log). max-req/s is the
// rate that cost alone would fill every CPU at: a bound on any load test
// of the service with its generator on the same machine. stolen-% is the
// share of the machine's CPU time the hypervisor took meanwhile.
func BenchmarkHTTPFloor(b *testing.B) {
	response := bytes.Repeat([]byte("x"), 1900) // a decision with its attestation
	payload := bytes.Repeat([]byte("y"), 450)   // attestation claims
	for _, rate := range []int{4000, 8000} {
		for _, kind := range []string{"bare", "sign", "service"} {
			b.Run(fmt.Sprintf("rate=%d/%s", rate, kind), func(b *testing.B) {
				var url, key string
				switch kind {
				case "service":
					urls, k := startServices(b, 1)
					url, key = urls[0], k
				default:
					sig, err := signer.Ephemeral()
					if err != nil {
						b.Fatal(err)
					}
					r := gin.New()
					r.POST(checkPath, func(c *gin.Context) {
						if _, err := io.Copy(io.Discard, c.Request.Body); err != nil {
							c.Status(http.StatusBadRequest)
							return
						}
						if kind == "sign" {
							if _, err := sig.Sign(payload); err != nil {
								c.Status(http.StatusInternalServerError)
								return
							}
						}
						c.Data(http.StatusOK, "application/json", response)
					})
					srv := httptest.NewServer(r)
					b.Cleanup(srv.Close)
					url, key = srv.URL, "aa_floor"
				}
				g := newTestGenerator(b, DefaultMix(), 1)
				header := http.Header{"Authorization": {"Bearer " + key}, "Content-Type": {"application/json"}}
				s := &side{name: url, target: url, targeter: newTargeter(g, endpointURL(url), header), stats: newStats()}
				client := newClient(5*time.Second, 1000, false)
				b.Cleanup(client.CloseIdleConnections)
				plan := attackPlan{rate: rate, workers: 16, maxWorkers: 1000, timeout: 5 * time.Second, maxRequests: uint64(b.N)}
				var failed int
				before := sampleHost()
				b.ResetTimer()
				attackSlice(context.Background(), client, plan, s, time.Duration(b.N)*time.Second/time.Duration(rate)+time.Minute,
					func(_ *side, r *vegeta.Result) {
						if r.Code != http.StatusOK {
							failed++
						}
					})
				b.StopTimer()
				after := sampleHost()
				if failed > 0 {
					b.Fatalf("%d of %d requests failed", failed, b.N)
				}
				if !before.ok || !after.ok {
					b.Skip("no process CPU on this platform")
				}
				cpu := float64((after.self - before.self).Microseconds()) / float64(b.N)
				b.ReportMetric(cpu, "cpu-µs/req")
				b.ReportMetric(float64(runtime.NumCPU())*1e6/cpu, "max-req/s")
				// On a shared VM the hypervisor may take CPU time under
				// load; a run with much stolen measured less than the CPUs.
				var machine hostCounters
				machine.add(before, after)
				if machine.ok() && !machine.machineMissing {
					b.ReportMetric(100*machine.stealShare(), "stolen-%")
				}
			})
		}
	}
}
