package service

import (
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/ageassure/ageassure/policy"
)

// thresholdSetV1 marshals only through MarshalJSON, the way thresholdSet
// did before it had MarshalJSONTo: the oracle for the bytes it must sign.
type thresholdSetV1 []policy.Threshold

func (t thresholdSetV1) MarshalJSON() ([]byte, error) { return thresholdSet(t).MarshalJSON() }

// TestThresholdSetMarshalJSONTo: the json package writes the same bytes
// through MarshalJSONTo as through MarshalJSON, alone, inside the claims
// and inside a response, for empty, nil, small and large sets.
func TestThresholdSetMarshalJSONTo(t *testing.T) {
	many := make([]policy.Threshold, 40)
	for i := range many {
		many[i] = policy.Threshold{Age: i * 7, Met: i%2 == 0, Known: i%3 == 0}
	}
	tests := []struct {
		name string
		set  []policy.Threshold
	}{
		{"nil", nil},
		{"empty", []policy.Threshold{}},
		{"one", []policy.Threshold{{Age: 13, Met: true, Known: true}}},
		{"typical", []policy.Threshold{{Age: 13, Met: true, Known: true}, {Age: 16}, {Age: 18, Known: true}}},
		{"beyond the stack buffer", many},
		{"odd ages", []policy.Threshold{{Age: -1}, {Age: 0, Met: true}, {Age: 1 << 40}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := json.Marshal(thresholdSetV1(tt.set))
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(thresholdSet(tt.set))
			if err != nil || string(got) != string(want) {
				t.Errorf("Marshal = %s, %v; want %s", got, err, want)
			}
			claims := attestationClaims{Issuer: "i", Audience: "acme", ID: "x", AgeEqualOrOver: thresholdSet(tt.set)}
			got, err = json.Marshal(&claims)
			if err != nil {
				t.Fatal(err)
			}
			var members map[string]jsontext.Value
			if err := json.Unmarshal(got, &members); err != nil {
				t.Fatal(err)
			}
			if m := members["age_equal_or_over"]; string(m) != string(want) {
				t.Errorf("claims hold %s, want %s", m, want)
			}
			resp := CheckResponse{AgeEqualOrOver: thresholdSet(tt.set)}
			if got, err = json.Marshal(&resp); err != nil {
				t.Fatal(err)
			}
			var back CheckResponse
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("response does not decode: %v\n%s", err, got)
			}
			if again, _ := json.Marshal(&back); string(again) != string(got) {
				t.Errorf("response round trip: %s, want %s", again, got)
			}
		})
	}
}
