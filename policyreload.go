package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ageassure/ageassure/policy"
	"github.com/ageassure/ageassure/service"
)

// errCasesFailed reports a policy whose own test cases do not pass.
var errCasesFailed = errors.New("the policy's test cases fail")

// loadCheckedPolicy loads a policy (path "" is the built-in one) and runs
// its own test cases: a policy that contradicts its own tests never goes
// live, at start-up or on reload.
func loadCheckedPolicy(path string) (*policy.Policy, int, error) {
	var (
		p     *policy.Policy
		cases []policy.Case
		err   error
	)
	if path == "" {
		if p, err = policy.Builtin(); err == nil {
			cases, err = policy.BuiltinCases()
		}
	} else if p, err = policy.Load(path); err == nil {
		cases, err = policy.LoadCases(path)
	}
	if err != nil {
		return nil, 0, err
	}
	var failed []string
	for _, r := range p.RunCases(cases) {
		if !r.Pass {
			failed = append(failed, fmt.Sprintf("%s:%d: case %q: %s", r.Case.File, r.Case.Line, r.Case.Name, strings.Join(r.Problems, "; ")))
		}
	}
	if len(failed) > 0 {
		return nil, len(cases), fmt.Errorf("%w (%d of %d):\n%s", errCasesFailed, len(failed), len(cases), strings.Join(failed, "\n"))
	}
	return p, len(cases), nil
}

// policyReloader swaps in a new policy when its files change or on
// SIGHUP, after it compiles and its own cases pass. A bad policy is
// refused with a log line and a metric, and the old one keeps serving.
type policyReloader struct {
	path   string // the active policy's file or folder
	shadow string // the shadow policy's, if any
	svc    *service.Service
	log    *slog.Logger

	mu         sync.Mutex
	activeFP   string
	shadowFP   string
	lastReject string // fingerprint last refused, so a bad edit is logged once
}

func newPolicyReloader(path, shadow string, svc *service.Service, log *slog.Logger) *policyReloader {
	r := &policyReloader{path: path, shadow: shadow, svc: svc, log: log}
	r.activeFP, _ = fingerprint(path)
	r.shadowFP, _ = fingerprint(shadow)
	return r
}

// run reloads on SIGHUP and, when interval > 0, whenever the files'
// content changes, until ctx ends. Watching content rather than file
// events also catches the atomic symlink swaps of mounted config volumes,
// at the cost of hashing a few kilobytes every interval.
func (r *policyReloader) run(ctx context.Context, interval time.Duration) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var tick <-chan time.Time
	if interval > 0 && (r.path != "" || r.shadow != "") {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			r.reload("SIGHUP", true)
		case <-tick:
			r.reload("file change", false)
		}
	}
}

// reload checks both policies; force reloads even if nothing changed.
func (r *policyReloader) reload(trigger string, force bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.path == "" && force {
		r.log.Info("policy reload: the built-in policy is compiled in; nothing to reload")
	}
	if r.path != "" {
		r.activeFP = r.reloadOne(trigger, force, "policy", r.path, r.activeFP, r.svc.SetPolicy)
	}
	if r.shadow != "" {
		r.shadowFP = r.reloadOne(trigger, force, "shadow policy", r.shadow, r.shadowFP, r.svc.SetShadowPolicy)
	}
}

// reloadOne reloads one policy if its files changed (or force), and
// returns the fingerprint now in force.
func (r *policyReloader) reloadOne(trigger string, force bool, what, path, current string, set func(*policy.Policy)) string {
	fp, err := fingerprint(path)
	if err != nil {
		if fp != r.lastReject {
			r.log.Error(what+" reload refused: cannot read the files; the old policy keeps serving",
				slog.String("path", path), slog.Any("error", err))
			r.svc.RecordReload(service.ReloadRefused)
			r.lastReject = fp
		}
		return current
	}
	if fp == current && !force {
		return current
	}
	if fp == r.lastReject && !force {
		return current // already refused; wait for the next edit
	}
	p, n, err := loadCheckedPolicy(path)
	if err != nil {
		r.log.Error(what+" reload refused; the old policy keeps serving",
			slog.String("path", path), slog.String("trigger", trigger), slog.Any("error", err))
		r.svc.RecordReload(service.ReloadRefused)
		r.lastReject = fp
		return current
	}
	if what == "policy" && p.Hash() == r.svc.Policy().Hash() {
		r.svc.RecordReload(service.ReloadUnchanged)
		return fp
	}
	set(p)
	r.svc.RecordReload(service.ReloadApplied)
	r.log.Info(what+" reloaded", slog.String("path", path), slog.String("trigger", trigger),
		slog.String("id", p.ID()), slog.String("hash", p.Hash()), slog.Int("cases_passed", n))
	return fp
}

// fingerprint hashes the names and contents of every YAML file of a
// policy ("" for none).
func fingerprint(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	h := sha256.New()
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}
