package policy

import (
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// packsFS copies a snapshot of the shipped policy (testdata/diff/base, the
// packs as of 2026-12: the diff tests must not change whenever the law
// does) into a MapFS under packs/, applying edits (file → old → new; a nil
// value deletes the file, a missing file is added with the edit's "" key
// as content).
func packsFS(t testing.TB, edits map[string]map[string]string) fstest.MapFS {
	t.Helper()
	out := fstest.MapFS{}
	base := os.DirFS("testdata/diff/base")
	err := fs.WalkDir(base, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(base, p)
		out["packs/"+p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for file, reps := range edits {
		f := out["packs/"+file]
		if reps == nil {
			delete(out, "packs/"+file)
			continue
		}
		if f == nil {
			out["packs/"+file] = &fstest.MapFile{Data: []byte(reps[""])}
			continue
		}
		s := string(f.Data)
		for old, new := range reps {
			if !strings.Contains(s, old) {
				t.Fatalf("%s does not contain %q", file, old)
			}
			s = strings.Replace(s, old, new, 1)
		}
		f.Data = []byte(s)
	}
	return out
}

func TestDiff(t *testing.T) {
	if d := Diff(builtin(t), builtin(t)); !d.Identical() || len(d.Changes) != 0 {
		t.Errorf("Diff(builtin, builtin) = %+v", d)
	}
	old, err := LoadFS(packsFS(t, nil), "packs")
	if err != nil {
		t.Fatal(err)
	}
	fsys := packsFS(t, map[string]map[string]string{
		"eu-eea.yaml": {
			"        consent_age: 16\n        legal_status: in_force\n        citation: \"GDPR Art. 8(1); no derogation\"": "        consent_age: 15\n        legal_status: in_force\n        citation: \"GDPR Art. 8(1); no derogation\"",
		},
		"gb.yaml": nil,
		"br.yaml": {"": "jurisdictions:\n  - {code: BR, name: Brazil, timezone: America/Noronha, periods: [{effective_from: 2025-03-17, minimum_age: 16, consent_age: 16, citation: ECA Digital}]}\n"},
		"policy.yaml": {
			"user_reports_threshold: 3":    "user_reports_threshold: 2",
			"age_estimation: {default: 2}": "age_estimation: {default: 3, \"18\": 4}",
			"window: 24h":                  "window: 48h",
			"thresholds: [13, 16, 18]":     "thresholds: [13, 15, 16, 18]",
			"    message: \"At or over the minimum age and the digital age of consent in {jurisdiction}.\"": "    message: \"Of age in {jurisdiction}.\"",
			"  - id: anti-hopping\n    decision: additional_verification_required\n    when: >-\n      assurance == 'asserted' && (\n      (device_history && (device_min_age < minimum_age && declared_age >= minimum_age ||\n      device_min_age < consent_age && declared_age >= consent_age)) ||\n      (subject_history && (subject_min_age < minimum_age && declared_age >= minimum_age ||\n      subject_min_age < consent_age && declared_age >= consent_age)))": "  - id: hopping\n    decision: deny\n    when: \"device_history && device_min_age < minimum_age\"",
		},
		"us.yaml": {"    legal_status: enjoined": "    legal_status: in_force"},
	})
	newer, err := LoadFS(fsys, "packs")
	if err != nil {
		t.Fatal(err)
	}
	d := Diff(old, newer)
	if d.Identical() || d.Old.Hash != old.Hash() || d.New.Hash != newer.Hash() {
		t.Errorf("hashes %+v %+v", d.Old, d.New)
	}
	var got []string
	for _, c := range d.Changes {
		got = append(got, strings.Join([]string{c.Section, c.Subject, c.Kind, c.Field, c.Old, c.New}, "|"))
	}
	want := []string{
		"params|user_reports_threshold|changed||3|2",
		"thresholds||changed|thresholds|[13, 16, 18]|[13, 15, 16, 18]",
		"anti_hopping||changed|window|24h0m0s|48h0m0s",
		"fusion|buffers.age_estimation|changed|default|2|3",
		"fusion|buffers.age_estimation|changed|18||4",
		"jurisdictions|BR|added|||Brazil: [2025-03-17, open) minimum 16, consent 16",
		"jurisdictions|DE|changed|period 2018-05-25 consent_age|16|15",
		"jurisdictions|GB|removed||United Kingdom: [2018-05-25, open) minimum 13, consent 13|",
		"rules|anti-hopping|removed||additional_verification_required, when \"assurance == 'asserted' && ( (device_history && (device_min_age < minimum_age && declared_age >= minimum_age || device_min_age < consent_age && declared_age >= consent_age)) || (subject_history && (subject_min_age < minimum_age && declared_age >= minimum_age || subject_min_age < consent_age && declared_age >= consent_age)))\", in_force|",
		"rules|hopping|added|||deny, when \"device_history && device_min_age < minimum_age\", in_force",
		"rules|of-age|changed|message|At or over the minimum age and the digital age of consent in {jurisdiction}.|Of age in {jurisdiction}.",
		"obligations|gb.aadc-geolocation-off|removed||[under_13, 13_15, 16_17, unknown], scope jurisdictions [GB], effective_from 2021-09-02, in_force|",
		"obligations|gb.aadc-high-privacy-default|removed||[under_13, 13_15, 16_17, unknown], scope jurisdictions [GB], effective_from 2021-09-02, in_force|",
		"obligations|gb.aadc-no-nudge|removed||[under_13, 13_15, 16_17, unknown], scope jurisdictions [GB], effective_from 2021-09-02, in_force|",
		"obligations|gb.aadc-profiling-off|removed||[under_13, 13_15, 16_17, unknown], scope jurisdictions [GB], effective_from 2021-09-02, in_force|",
		"obligations|gb.osa-highly-effective-age-assurance|removed||[under_13, 13_15, 16_17, 18_plus, unknown], scope jurisdictions [GB], effective_from 2025-07-25, in_force|",
		"obligations|us-tx.app-store-age-signal|changed|legal_status|enjoined|in_force",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
}

func TestDiffMovedAndPeriods(t *testing.T) {
	base := "id: x\ndefault: {timezone: UTC, periods: [{effective_from: 2000-01-01, citation: c}]}\n"
	r := func(id string) string {
		return "  - {id: " + id + ", decision: allow, when: 'true', message: m, citation: c}\n"
	}
	a, err := LoadFS(fstest.MapFS{"p.yaml": {Data: []byte(base + "jurisdictions: [{code: DK, timezone: UTC, periods: [{effective_from: 2018-05-25, consent_age: 13, citation: old}]}]\nrules:\n" + r("a") + r("b") + r("c"))}}, "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadFS(fstest.MapFS{"p.yaml": {Data: []byte(base + "jurisdictions: [{code: DK, timezone: UTC, periods: [{effective_from: 2018-05-25, effective_until: 2024-01-01, consent_age: 13, citation: old}, {effective_from: 2024-01-01, consent_age: 15, citation: new}, {effective_from: 2030-01-01, consent_age: 16, citation: bill, legal_status: proposed}]}]\nrules:\n" + r("b") + r("a") + r("c"))}}, "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range Diff(a, b).Changes {
		got = append(got, strings.Join([]string{c.Section, c.Subject, c.Kind, c.Field, c.Old, c.New}, "|"))
	}
	want := []string{
		"jurisdictions|DK|changed|period 2018-05-25 effective_until|open|2024-01-01",
		"jurisdictions|DK|added|period 2024-01-01||[2024-01-01, open) minimum 13, consent 15",
		"jurisdictions|DK|added|period 2030-01-01 (pending)||[2030-01-01, open) minimum 13, consent 16 (pending)",
		"rules|a|moved|position|1|2",
		"rules|b|moved|position|2|1",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
}

// TestDiffStatus: an enacted period that comes into force, and a review,
// show as field changes of the same period.
func TestDiffStatus(t *testing.T) {
	src := func(status, reviewed string) []byte {
		return []byte("id: s\ndefault: {timezone: UTC, periods: [{effective_from: 2000-01-01, citation: c}]}\n" +
			"jurisdictions: [{code: IN, timezone: Asia/Kolkata, periods: [{effective_from: 2023-08-11, effective_until: 2027-05-13, citation: a}, " +
			"{effective_from: 2027-05-13, consent_age: 18, citation: b, legal_status: " + status + ", reviewed: " + reviewed + "}]}]\n")
	}
	tests := []struct {
		name        string
		from, to    []byte
		wantChanges []string
	}{
		{"enacted comes into force", src("enacted", "2026-11-01"), src("in_force", "2027-05-20"), []string{
			"jurisdictions|IN|changed|period 2027-05-13 legal_status|enacted|in_force",
			"jurisdictions|IN|changed|period 2027-05-13 reviewed|2026-11-01|2027-05-20",
		}},
		{"re-reviewed", src("in_force", "2026-11-01"), src("in_force", "2027-05-20"), []string{
			"jurisdictions|IN|changed|period 2027-05-13 reviewed|2026-11-01|2027-05-20",
		}},
		{"a bill passes", src("pending", "2026-11-01"), src("enacted", "2026-11-01"), []string{
			"jurisdictions|IN|added|period 2027-05-13||[2027-05-13, open) minimum 13, consent 18 (enacted)",
			"jurisdictions|IN|removed|period 2027-05-13 (pending)|[2027-05-13, open) minimum 13, consent 18 (pending)|",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := LoadFS(fstest.MapFS{"p.yaml": {Data: tt.from}}, "p.yaml")
			if err != nil {
				t.Fatal(err)
			}
			b, err := LoadFS(fstest.MapFS{"p.yaml": {Data: tt.to}}, "p.yaml")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range Diff(a, b).Changes {
				got = append(got, strings.Join([]string{c.Section, c.Subject, c.Kind, c.Field, c.Old, c.New}, "|"))
			}
			if diff := cmp.Diff(tt.wantChanges, got); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
		})
	}
}
