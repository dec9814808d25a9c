package redistest

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// errNotOK reports a cluster that did not become ok in time.
var errNotOK = errors.New("cluster_state is not ok")

// clusterTimeout bounds creating a cluster and waiting for it to be ok.
const clusterTimeout = 30 * time.Second

// Cluster is a private Redis Cluster of masters without replicas.
type Cluster struct {
	// Addrs are the nodes' host:port addresses, the seed list for a
	// cluster client.
	Addrs []string
	// Nodes are the node processes, for tests that kill one.
	Nodes []*Process

	t testing.TB
}

// StartCluster starts n (at least 3) redis-server processes in cluster mode
// on free ports, joins them with redis-cli --cluster create, and waits
// until every node reports cluster_state:ok. The nodes stop when t ends.
// Without redis-server or redis-cli t is skipped, or fails under CI.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 3 {
		t.Fatalf("redistest: a Redis Cluster needs at least 3 masters, not %d", n)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		unavailable(t, "redis-cli is not in PATH (needed to create a cluster)")
		return nil
	}
	c := &Cluster{t: t}
	for i := range n {
		var p *Process
		for attempt := 0; ; attempt++ {
			p = newProcess(t, nil)
			p.port = freePort(t, true)
			p.extra = []string{
				"--cluster-enabled", "yes",
				"--cluster-config-file", filepath.Join(p.dir, "nodes.conf"),
				"--cluster-node-timeout", "5000",
			}
			if err = p.start(); err == nil {
				break
			}
			if attempt == 2 {
				t.Fatalf("redistest: starting cluster node %d: %v", i, err)
			}
		}
		c.Nodes = append(c.Nodes, p)
		c.Addrs = append(c.Addrs, p.Addr())
	}

	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, addr := range c.Addrs {
		if err := waitClusterOK(ctx, addr, n); err != nil {
			t.Fatalf("redistest: cluster node %s: %v", addr, err)
		}
	}
	return c
}

// Client returns a cluster client for the nodes, closed when the test ends.
func (c *Cluster) Client() *redis.ClusterClient {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	c.t.Cleanup(func() { cc.Close() })
	return cc
}

// waitClusterOK polls CLUSTER INFO on addr until the node reports
// cluster_state:ok and knows all n nodes.
func waitClusterOK(ctx context.Context, addr string, n int) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	var last string
	for {
		info, err := c.ClusterInfo(ctx).Result()
		if err == nil {
			last = info
			if strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(n)+"\r") {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w after %v (last CLUSTER INFO: %q, error %v)", errNotOK, clusterTimeout, last, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
