package service

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-json-experiment/json"
)

// PolicyInfo is the body of GET /v1/policy: which policy decides now, so a
// platform or auditor can match attestations' policy hashes to a load.
type PolicyInfo struct {
	ID            string     `json:"id"`
	Hash          string     `json:"hash"`
	LoadedAt      string     `json:"loaded_at"`
	Jurisdictions []string   `json:"jurisdictions"`
	Shadow        *PolicyRef `json:"shadow,omitempty"`
}

func (s *Service) handlePolicy(c *gin.Context) {
	ap := s.policy.Load()
	info := PolicyInfo{
		ID:            ap.ID(),
		Hash:          ap.Hash(),
		LoadedAt:      ap.loadedAt.UTC().Format(time.RFC3339),
		Jurisdictions: ap.Jurisdictions(),
	}
	if sp := s.shadow.Load(); sp != nil {
		info.Shadow = &PolicyRef{ID: sp.ID(), Hash: sp.Hash()}
	}
	body, err := json.Marshal(&info)
	if err != nil {
		writeProblem(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "application/json", body)
}

// Reload results, for RecordReload.
const (
	ReloadApplied   = "applied"
	ReloadUnchanged = "unchanged"
	ReloadRefused   = "refused"
)

// RecordReload counts a policy reload attempt, so a refused reload (a bad
// policy, or one failing its own test cases) is visible on a dashboard and
// not only in the log.
func (s *Service) RecordReload(result string) {
	s.metrics.policyReloads.WithLabelValues(result).Inc()
}
