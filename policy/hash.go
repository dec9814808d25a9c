package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
)

// The canonical model is the policy's meaning as JSON: field order fixed by
// these structs, maps with sorted keys (encoding/json), unordered lists
// sorted at load. Rules and obligations keep policy order, which is
// semantic (it is the order of Reasons and Obligations in results).
type (
	canonPolicy struct {
		ID            string             `json:"id"`
		Description   string             `json:"description"`
		Params        map[string]float64 `json:"params"`
		AntiHopping   string             `json:"anti_hopping_window"`
		Thresholds    []int              `json:"thresholds"`
		Default       canonPack          `json:"default"`
		Jurisdictions []canonPack        `json:"jurisdictions"`
		Rules         []canonRule        `json:"rules"`
		Obligations   []canonObligation  `json:"obligations"`
		Fusion        canonFusion        `json:"fusion"`
	}
	canonFusion struct {
		Buffer           float64            `json:"estimation_buffer"`
		ThresholdBuffers map[string]float64 `json:"estimation_threshold_buffers"`
		Levels           map[string]string  `json:"levels"`
	}
	canonPack struct {
		Code     string        `json:"code"`
		Name     string        `json:"name"`
		Groups   []string      `json:"groups"`
		Timezone string        `json:"timezone"`
		Periods  []canonPeriod `json:"periods"`
	}
	canonDating struct {
		From        string `json:"effective_from"`
		Until       string `json:"effective_until"`
		LegalStatus string `json:"legal_status"`
		// Reviewed is hashed: the statement a regulator reads shows it
		// under the hash. It is omitted when not set, so a policy that
		// does not use it keeps the hash it had before the field existed.
		Reviewed string `json:"reviewed,omitempty"`
	}
	canonPeriod struct {
		canonDating
		MinimumAge int    `json:"minimum_age"`
		ConsentAge int    `json:"consent_age"`
		Citation   string `json:"citation"`
		Confidence string `json:"confidence"`
	}
	canonScope struct {
		Jurisdictions []string `json:"jurisdictions"`
		Groups        []string `json:"groups"`
	}
	canonRule struct {
		canonDating
		ID       string     `json:"id"`
		Decision string     `json:"decision"`
		When     string     `json:"when"`
		Message  string     `json:"message"`
		Citation string     `json:"citation"`
		Scope    canonScope `json:"scope"`
	}
	canonObligation struct {
		canonDating
		ID       string     `json:"id"`
		Text     string     `json:"text"`
		Citation string     `json:"citation"`
		Bands    []Band     `json:"bands"`
		Scope    canonScope `json:"scope"`
	}
)

func dating(s span, st legalStatus, reviewed Date) canonDating {
	d := canonDating{LegalStatus: string(st)}
	if !reviewed.IsZero() {
		d.Reviewed = reviewed.String()
	}
	if !s.from.IsZero() {
		d.From = s.from.String()
	}
	if !s.until.IsZero() {
		d.Until = s.until.String()
	}
	return d
}

func canonPackOf(p *pack) canonPack {
	c := canonPack{Code: p.code, Name: p.name, Groups: p.groups, Timezone: p.timezone}
	for _, per := range p.periods {
		c.Periods = append(c.Periods, canonPeriod{
			canonDating: dating(per.span, per.status, per.reviewed),
			MinimumAge:  per.minimumAge,
			ConsentAge:  per.consentAge,
			Citation:    per.citation,
			Confidence:  per.confidence,
		})
	}
	return c
}

// canonical returns the canonical JSON of the model.
func canonical(m *model) ([]byte, error) {
	c := canonPolicy{
		ID:          m.id,
		Description: m.description,
		Params:      m.params,
		AntiHopping: m.window.String(),
		Thresholds:  m.thresholds,
		Default:     canonPackOf(m.defaultPack),
	}
	for _, p := range m.packs {
		c.Jurisdictions = append(c.Jurisdictions, canonPackOf(p))
	}
	c.Fusion = canonFusion{Buffer: m.fusion.buffer, ThresholdBuffers: map[string]float64{}, Levels: m.fusion.levels}
	for t, v := range m.fusion.thresholdBuffers {
		c.Fusion.ThresholdBuffers[strconv.Itoa(t)] = v
	}
	for _, r := range m.rules {
		c.Rules = append(c.Rules, canonRule{
			canonDating: dating(r.span, r.status, r.reviewed),
			ID:          r.id,
			Decision:    string(r.decision),
			When:        r.when,
			Message:     r.message,
			Citation:    r.citation,
			Scope:       canonScope{Jurisdictions: r.scope.jurisdictions, Groups: r.scope.groups},
		})
	}
	for _, o := range m.obligations {
		c.Obligations = append(c.Obligations, canonObligation{
			canonDating: dating(o.span, o.status, o.reviewed),
			ID:          o.id,
			Text:        o.text,
			Citation:    o.citation,
			Bands:       o.bands,
			Scope:       canonScope{Jurisdictions: o.scope.jurisdictions, Groups: o.scope.groups},
		})
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("policy: canonical encoding: %w", err)
	}
	return b, nil
}

// hashModel returns "sha256:<hex>" of the canonical JSON.
func hashModel(m *model) (string, error) {
	b, err := canonical(m)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}
