package rediscache

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// pipeGate is a client hook that records every pipeline and holds each one
// before it is sent until release: with both lanes held, callers must
// queue, and what they queue into is observable.
type pipeGate struct {
	mu        sync.Mutex
	pipelines [][]redis.Cmder
	entered   chan struct{} // one value per pipeline that reached the hook
	hold      chan struct{} // closed by release
	once      sync.Once
}

func newPipeGate() *pipeGate {
	return &pipeGate{entered: make(chan struct{}, 64), hold: make(chan struct{})}
}

func (g *pipeGate) release() { g.once.Do(func() { close(g.hold) }) }

func (g *pipeGate) recorded() [][]redis.Cmder {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([][]redis.Cmder(nil), g.pipelines...)
}

func (g *pipeGate) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (g *pipeGate) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (g *pipeGate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if connectionSetUp(cmds) {
			return next(ctx, cmds)
		}
		g.mu.Lock()
		g.pipelines = append(g.pipelines, cmds)
		g.mu.Unlock()
		g.entered <- struct{}{}
		<-g.hold
		return next(ctx, cmds)
	}
}

// connectionSetUp reports whether cmds are what go-redis sends on a new
// connection (they pass the client's hooks too), not a caller's.
func connectionSetUp(cmds []redis.Cmder) bool {
	switch cmds[0].Name() {
	case "hello", "auth", "select", "client":
		return true
	}
	return false
}

// newGatedPipe returns a Store on the test Redis whose client's pipelines
// are held by a gate (released at the end of the test at the latest), and
// a sharedPipe on that client.
func newGatedPipe(t *testing.T) (*env, *pipeGate, *sharedPipe) {
	t.Helper()
	e := newEnv(t, Config{})
	gate := newPipeGate()
	e.client.AddHook(gate)
	t.Cleanup(gate.release)
	return e, gate, newSharedPipe(e.client, 5*time.Second, newHangWatch())
}

// queued is how many commands wait for a lane.
func (p *sharedPipe) queued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, g := range p.waiting {
		n += len(g.cmds)
	}
	return n
}

// fillLanes starts one caller per lane and returns once each one's
// pipeline is held by gate, so every later caller queues. The returned
// channel yields the lane holders' errors after release.
func fillLanes(t *testing.T, p *sharedPipe, gate *pipeGate, key string) <-chan error {
	t.Helper()
	errs := make(chan error, sharedPipeLanes)
	for range sharedPipeLanes {
		go func() {
			errs <- p.run(context.Background(), []redis.Cmder{redis.NewStatusCmd(context.Background(), "set", key, "lane")})
		}()
	}
	for range sharedPipeLanes {
		select {
		case <-gate.entered:
		case <-time.After(5 * time.Second):
			t.Fatal("the lanes were not taken")
		}
	}
	return errs
}

// waitQueued waits until n commands wait for a lane.
func waitQueued(t *testing.T, p *sharedPipe, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for p.queued() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d commands queued, want %d", p.queued(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSharedPipeGroupsWaitingCallers: callers that arrive while the lanes
// are busy leave together, each with its own commands contiguous and in
// order, in as few pipelines as the cap allows, and each reads its own
// answers.
func TestSharedPipeGroupsWaitingCallers(t *testing.T) {
	tests := []struct {
		name          string
		callers       int
		cmdsPerCaller int
		wantGroups    int
	}{
		{"one group", 50, 2, 1},
		{"over the cap", 300, 4, 2}, // 1,200 commands; 256 callers fit in 1,024
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, gate, p := newGatedPipe(t)
			ctx := context.Background()
			laneErrs := fillLanes(t, p, gate, e.prefix+"lane")

			type caller struct {
				cmds []redis.Cmder
				err  error
			}
			callers := make([]caller, tt.callers)
			var wg sync.WaitGroup
			for i := range callers {
				key := fmt.Sprintf("%ssp:%d", e.prefix, i)
				cmds := []redis.Cmder{redis.NewStatusCmd(ctx, "set", key, i)}
				for len(cmds) < tt.cmdsPerCaller {
					cmds = append(cmds, redis.NewStringCmd(ctx, "get", key))
				}
				callers[i].cmds = cmds
				wg.Add(1)
				go func() {
					defer wg.Done()
					callers[i].err = p.run(ctx, cmds)
				}()
			}
			waitQueued(t, p, tt.callers*tt.cmdsPerCaller)
			gate.release()
			wg.Wait()
			for range sharedPipeLanes {
				if err := <-laneErrs; err != nil {
					t.Fatalf("lane holder: %v", err)
				}
			}

			pipelines := gate.recorded()
			if got := len(pipelines) - sharedPipeLanes; got != tt.wantGroups {
				t.Errorf("%d shared pipelines, want %d", got, tt.wantGroups)
			}
			where := map[redis.Cmder][2]int{} // command -> pipeline, position
			for pi, cmds := range pipelines {
				if len(cmds) > sharedPipeMaxCmds {
					t.Errorf("pipeline %d holds %d commands, over the cap %d", pi, len(cmds), sharedPipeMaxCmds)
				}
				for ci, c := range cmds {
					where[c] = [2]int{pi, ci}
				}
			}
			for i, c := range callers {
				if c.err != nil {
					t.Fatalf("caller %d: %v", i, c.err)
				}
				first := where[c.cmds[0]]
				for j, cmd := range c.cmds {
					if got := where[cmd]; got != [2]int{first[0], first[1] + j} {
						t.Fatalf("caller %d: command %d at %v, want %v: a caller's commands must travel together, in order", i, j, got, [2]int{first[0], first[1] + j})
					}
					if get, ok := cmd.(*redis.StringCmd); ok {
						if v, err := get.Result(); err != nil || v != fmt.Sprint(i) {
							t.Fatalf("caller %d read %q, %v; want its own %d", i, v, err, i)
						}
					}
				}
			}
		})
	}
}

// TestSharedPipeReplyErrorsStayWithTheirCaller: an error Redis answers for
// one caller's command does not fail the callers it shared a pipeline with.
func TestSharedPipeReplyErrorsStayWithTheirCaller(t *testing.T) {
	e, gate, p := newGatedPipe(t)
	ctx := context.Background()
	list, plain := e.prefix+"sp:list", e.prefix+"sp:plain"
	if err := e.client.RPush(ctx, list, "x").Err(); err != nil {
		t.Fatal(err)
	}
	if err := e.client.Set(ctx, plain, "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	laneErrs := fillLanes(t, p, gate, e.prefix+"lane")

	tests := []struct {
		name    string
		cmd     *redis.StringCmd
		wantErr bool
	}{
		{"wrong type", redis.NewStringCmd(ctx, "get", list), true},
		{"missing key", redis.NewStringCmd(ctx, "get", e.prefix+"sp:none"), false},
		{"plain", redis.NewStringCmd(ctx, "get", plain), false},
	}
	runErrs := make([]error, len(tests))
	var wg sync.WaitGroup
	for i, tt := range tests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runErrs[i] = p.run(ctx, []redis.Cmder{tt.cmd})
		}()
	}
	waitQueued(t, p, len(tests))
	gate.release()
	wg.Wait()
	for range sharedPipeLanes {
		<-laneErrs
	}
	if n := len(gate.recorded()) - sharedPipeLanes; n != 1 {
		t.Fatalf("%d shared pipelines, want the 3 callers in 1", n)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if runErrs[i] != nil {
				t.Fatalf("run: %v; a reply error is the command's, not the pipeline's", runErrs[i])
			}
			err := cmdsErr([]redis.Cmder{tt.cmd}, nil)
			if (err != nil) != tt.wantErr {
				t.Fatalf("cmdsErr = %v, want error: %v", err, tt.wantErr)
			}
		})
	}
	if v, _ := tests[2].cmd.Result(); v != "v" {
		t.Errorf("plain read %q, want v", v)
	}
}

// TestSharedPipeWaiterGivesUp: a queued caller whose context ends returns
// at once with the context's error, while the lanes are still busy.
func TestSharedPipeWaiterGivesUp(t *testing.T) {
	e, gate, p := newGatedPipe(t)
	laneErrs := fillLanes(t, p, gate, e.prefix+"lane")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := p.run(ctx, []redis.Cmder{redis.NewStringCmd(ctx, "get", e.prefix+"sp:x")})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("run = %v, want context.DeadlineExceeded", err)
	}
	select {
	case err := <-laneErrs:
		t.Fatalf("a lane finished (%v) before release: the waiter did not give up on its own", err)
	default:
	}
	gate.release()
	for range sharedPipeLanes {
		if err := <-laneErrs; err != nil {
			t.Fatalf("lane holder: %v", err)
		}
	}
}

// TestSharedPipeConnectionFailure: when the pipeline cannot reach Redis,
// every caller in it gets the error, alone or grouped.
func TestSharedPipeConnectionFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { client.Close() })
	gate := newPipeGate()
	client.AddHook(gate)
	t.Cleanup(gate.release)
	p := newSharedPipe(client, 5*time.Second, newHangWatch())
	ctx := context.Background()

	laneErrs := fillLanes(t, p, gate, "lane")
	const callers = 5
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.run(ctx, []redis.Cmder{redis.NewStringCmd(ctx, "get", fmt.Sprint("k", i))})
		}()
	}
	waitQueued(t, p, callers)
	gate.release()
	wg.Wait()
	for range sharedPipeLanes {
		if err := <-laneErrs; err == nil {
			t.Error("a lone caller's pipeline to a closed port succeeded")
		}
	}
	for i, err := range errs {
		if err == nil {
			t.Errorf("grouped caller %d: no error from a pipeline to a closed port", i)
		}
	}
}

// TestSharedPipeConcurrentCallersReadTheirOwn: many callers at once, each
// writing and reading back its own values through shared pipelines, never
// see another's answer.
func TestSharedPipeConcurrentCallersReadTheirOwn(t *testing.T) {
	e := newEnv(t, Config{})
	p := newSharedPipe(e.client, 5*time.Second, newHangWatch())
	ctx := context.Background()
	const callers, rounds = 64, 50
	var wg sync.WaitGroup
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				key, val := fmt.Sprintf("%ssp:%d", e.prefix, c), fmt.Sprintf("%d/%d", c, r)
				set := redis.NewStatusCmd(ctx, "set", key, val)
				get := redis.NewStringCmd(ctx, "get", key)
				if err := p.run(ctx, []redis.Cmder{set, get}); err != nil {
					t.Errorf("caller %d: %v", c, err)
					return
				}
				if got, err := get.Result(); err != nil || got != val {
					t.Errorf("caller %d round %d read %q, %v; want %q", c, r, got, err, val)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestSharedPipeFailureCountsOnce: the breaker counts a failed shared
// pipeline once, however many callers rode it, but still opens on
// failures in a row of callers alone.
func TestSharedPipeFailureCountsOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "redis://" + ln.Addr().String() + "/0"
	ln.Close() // nothing listens there now
	tests := []struct {
		name      string
		callers   int
		shared    bool
		wantState string
	}{
		{"30 callers in one pipeline", 30, true, "closed"},
		{"5 callers one after another", 5, false, "open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The start-up ping fails too: one failure before the callers.
			e := newEnv(t, Config{URL: url, Timeout: 5 * time.Second, Breaker: BreakerConfig{ConsecutiveFailures: 5}})
			ctx := context.Background()
			read := func(i int) {
				_, _, _, found, err := readBatch(ctx, e, "", []string{hkey(fmt.Sprint("k", i))})
				if err != nil || found[0] {
					t.Errorf("ReadBatch = %v, %v; want a miss from process memory", found, err)
				}
			}
			if !tt.shared {
				for i := range tt.callers {
					read(i)
				}
			} else {
				gate := newPipeGate()
				e.client.AddHook(gate)
				t.Cleanup(gate.release)
				laneErrs := fillLanes(t, e.pipes, gate, "lane") // not through the breaker
				var wg sync.WaitGroup
				for i := range tt.callers {
					wg.Add(1)
					go func() { defer wg.Done(); read(i) }()
				}
				waitQueued(t, e.pipes, tt.callers*2) // GET and PTTL each
				gate.release()
				wg.Wait()
				for range sharedPipeLanes {
					<-laneErrs
				}
			}
			if got := e.State(); got != tt.wantState {
				t.Errorf("breaker %s, want %s", got, tt.wantState)
			}
		})
	}
}
