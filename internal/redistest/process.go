package redistest

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ageassure/ageassure/internal/syncbuf"
)

// startTimeout bounds how long a started redis-server may take to answer.
const startTimeout = 10 * time.Second

// Process is a private redis-server for one test, which the test may kill,
// pause and restart on the same port to simulate outages. It persists
// nothing: a restart comes back empty, like a cache node that lost its
// memory.
type Process struct {
	t     testing.TB
	bin   string
	dir   string
	port  int
	extra []string // further redis-server arguments (cluster mode)

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}   // closed when cmd has exited
	out  *syncbuf.Buffer // the server's log, for failure messages
}

// Start starts a private redis-server from PATH on a free port and stops it
// when t ends. Without redis-server t is skipped, or fails under CI.
func Start(t testing.TB) *Process {
	t.Helper()
	p := newProcess(t, nil)
	var err error
	for range 3 { // a free port can be taken between choosing and binding
		p.port = freePort(t, false)
		if err = p.start(); err == nil {
			return p
		}
	}
	t.Fatalf("redistest: starting redis-server: %v", err)
	return nil
}

func newProcess(t testing.TB, extra []string) *Process {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		unavailable(t, "redis-server is not in PATH")
		return nil
	}
	p := &Process{t: t, bin: bin, dir: t.TempDir(), extra: extra}
	t.Cleanup(p.Stop)
	return p
}

// Addr returns the server's host:port.
func (p *Process) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)) }

// URL returns the server's redis:// URL (database 0).
func (p *Process) URL() string { return "redis://" + p.Addr() + "/0" }

// Kill kills the server with SIGKILL, as a crash would, and waits until it
// has exited. Clients see refused connections until Restart.
func (p *Process) Kill() {
	p.t.Helper()
	p.signalAndWait(syscall.SIGKILL)
}

// Pause stops the server with SIGSTOP: connections stay open and commands
// hang, as with an overloaded or partitioned server. Resume undoes it.
func (p *Process) Pause() { p.signal(syscall.SIGSTOP) }

// Resume continues a paused server.
func (p *Process) Resume() { p.signal(syscall.SIGCONT) }

// Restart starts the server again on the same port after Kill or Stop, and
// waits until it answers PING.
func (p *Process) Restart() {
	p.t.Helper()
	p.mu.Lock()
	running := p.cmd != nil
	p.mu.Unlock()
	if running {
		p.t.Fatal("redistest: Restart of a running server; Kill it first")
	}
	var err error
	for range 20 { // the port may linger briefly after the kill
		if err = p.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.t.Fatalf("redistest: restarting redis-server on port %d: %v", p.port, err)
}

// Stop kills the server if it runs; it is called when the test ends and
// may be called earlier.
func (p *Process) Stop() {
	p.signalAndWait(syscall.SIGKILL) // also ends a paused (SIGSTOPped) server
}

func (p *Process) signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		_ = p.cmd.Process.Signal(sig)
	}
}

func (p *Process) signalAndWait(sig syscall.Signal) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	<-done
}

// start runs redis-server on p.port and waits until it answers.
func (p *Process) start() error {
	args := []string{
		"--port", strconv.Itoa(p.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", p.dir,
		"--daemonize", "no",
	}
	args = append(args, p.extra...)
	out := &syncbuf.Buffer{}
	cmd := exec.Command(p.bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()

	c := redis.NewClient(&redis.Options{Addr: p.Addr(), DialTimeout: 200 * time.Millisecond, DialerRetries: 1, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-done:
			return fmt.Errorf("redis-server exited at start:\n%s", out.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("redis-server did not answer within %v: %w\n%s", startTimeout, err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.mu.Lock()
	p.cmd, p.done, p.out = cmd, done, out
	p.mu.Unlock()
	return nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago. With
// bus set it also checks port+10000, the Redis Cluster bus port.
func freePort(t testing.TB, bus bool) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("redistest: no free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !bus {
			l.Close()
			return port
		}
		if port+10000 > 65535 {
			l.Close()
			continue
		}
		l2, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10000)))
		l.Close()
		if err != nil {
			continue
		}
		l2.Close()
		return port
	}
	t.Fatal("redistest: no free port pair for a cluster node")
	return 0
}
