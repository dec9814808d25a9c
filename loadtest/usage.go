package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/ageassure/ageassure/internal/cliflag"
)

const synopsis = `Usage: go run ./loadtest --target URL --key KEY [flags]

Load-tests an ageassure service: POST /v1/age-checks with a seeded,
realistic mix of signups (built on tsenart/vegeta), open loop at --rate
requests per second, or as fast as --workers go with --rate 0. At the end it
prints requests, success (share of 2xx), throughput (2xx per second),
latency p50/p90/p99/p99.9/max, the decision mix and status codes, and,
when the target serves /metrics, the server's allocations, bytes allocated
and CPU per request (counter growth around each attack divided by its
requests, so background work is included). --compare alternates the same
traffic between two targets in turns of --compare-slice and adds a B/A
ratio row. Exit status: 0, or 1 when a target's success is below
--min-success (or on error), 2 on bad usage.

LOAD TESTS MUST ONLY TARGET HOSTS YOU RUN. Anything but loopback
(127.0.0.0/8, ::1, localhost) is refused unless --allow-remote is given,
and connections are checked to land on loopback too. Runs stop by
themselves: --duration is at most 10m, and each target gets at most
--max-requests requests.

Examples:
  go run . serve --log-dir "$(mktemp -d)"          # prints a development API key
  export AGEASSURE_LOADTEST_KEY=aa_dev_...
  go run ./loadtest --target http://127.0.0.1:8080 --rate 5000 --duration 30s
  go run ./loadtest --target http://127.0.0.1:8080 --rate 0 --workers 32 --out /tmp/lt
  go run ./loadtest --target http://127.0.0.1:8080 --compare http://127.0.0.1:8081 --rate 2000`

// mixHelp documents the --mix file; it is also the README section.
const mixHelp = `Traffic mix (--mix FILE): YAML; every key is optional and overrides the
default shown. Shares are probabilities in [0, 1]. Unknown keys are errors.

  jurisdictions:        # code: relative weight; replaces the whole table
    IN: 750             # default: internet users in millions, mid-2020s
    US: 308
    BR: 187
    ID: 185
    NG: 103
    JP: 102
    MX: 100
    DE: 78
    GB: 66
    FR: 60
    IT: 51
    ES: 45
    PL: 33
    AU: 25
    NL: 17
    AT: 8
    DK: 6
    IE: 5
    US-UT: 3
  ages:                 # true ages of newly drawn people
    under_13: 0.08      # uniform in child_min..12
    13_15: 0.14
    16_17: 0.08         # the rest are adults, uniform in adult_min..adult_max
    child_min: 8
    adult_min: 18
    adult_max: 70
    birth_date: 0.70    # share declaring a birth date; the rest declare an age
  signals:              # share of requests carrying each signal (independent)
    underage_likelihood: 0.20   # score skewed by true age: children score high
    user_reports: 0.10          # count skewed by true age
  devices:
    reuse: 0.20         # share from a recent device (the same person again)
    hopping: 0.25       # of those reuses: a device that declared under 13
                        # now declares 13..25 (an age-hopping attempt)
    recent: 1000        # how many of the latest fresh devices a reuse picks from
  subjects:
    share: 0.40         # share of requests with a subject_ref
    repeat: 0.50        # of those, a recent subject again (the same person)
    recent: 10000
  evidence_share: 0     # share carrying "evidence": must stay 0 for now; the
                        # hook (EvidenceGenerator) exists but no generator
                        # makes tokens until the service supports evidence

Every request has a unique nonce. Birth dates are computed from the age and
today's date, at least 2 days from a birthday (and never 29 February), so
every time zone agrees on the age. The same --seed (and mix, on the same
day) sends the same bytes in the same order; the service remembers devices
and subjects between runs, so restart it (or change --seed) to compare runs.`

// usage prints the synopsis, the flags with their environment variables
// and the mix format.
func usage(fs *flag.FlagSet, out io.Writer) {
	cliflag.PrintUsage(fs, out, synopsis, envPrefix)
	fmt.Fprintf(out, "\n%s\n", mixHelp)
}
