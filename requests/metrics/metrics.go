// Package metrics computes the support metrics behind GET /metrics/support
// (SPEC §8, §13): load, touches, SLA clock percentiles and compliance, CSAT
// and QA over the requests opened in a period, in total and per manager,
// account or day.
//
// Everything is aggregated by the database, in three statements (the
// requests, the clocks per group, the clocks in total; see support.go) that
// read one snapshot, so the groups, clocks and reviews always agree. The
// clock statements differ per database, since SQLite has no percentile_cont.
// Go only validates the query, reads a row per group and kind of clock, adds
// up the groups' counts for the total and turns counts into averages and
// percentages.
package metrics

import "time"

// Group-by values a Query accepts.
const (
	GroupNone    = ""
	GroupManager = "manager"
	GroupAccount = "account"
	GroupDay     = "day"
)

// Query selects the requests measured: those opened in [From, To) that were
// not merged into another request.
type Query struct {
	From, To time.Time
	GroupBy  string // "", "manager", "account" or "day"
	OwnerID  string // when set, only requests this user owns (a manager sees their own)
}

// Report is the answer of GET /metrics/support.
type Report struct {
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	GroupBy string    `json:"group_by,omitempty"`
	Total   Row       `json:"total"`
	Groups  []Row     `json:"groups"` // empty (not null) when GroupBy is ""; sorted by key
}

// Row holds the metrics of one group of requests, or of all of them (Total).
// Every average and percentage is rounded to 2 decimals, and is null when
// there is nothing to average.
type Row struct {
	// Key is the owner's user id ("" for unowned requests), the account id or
	// the UTC day of opened_at (YYYY-MM-DD); "" for Total.
	Key string `json:"key"`
	// Name is the owner's or the account's name, or the day; "" for Total.
	Name string `json:"name"`

	Requests          int      `json:"requests"`            // load: requests opened
	TouchesPerRequest *float64 `json:"touches_per_request"` // average team replies per request

	FirstResponse Durations `json:"first_response"`
	FollowUp      Durations `json:"follow_up"`
	Resolution    Durations `json:"resolution"`
	// SLACompliance pools the decided clocks of all three kinds (see
	// Durations.SLACompliance).
	SLACompliance *float64 `json:"sla_compliance"`

	CSAT      *float64 `json:"csat"` // average client rating (1–5) of the rated requests
	CSATCount int      `json:"csat_count"`
	QA        *float64 `json:"qa"` // average QA score (1–5) over every review of the requests
	QACount   int      `json:"qa_count"`
}

// Durations are one clock's measured times, in business seconds.
type Durations struct {
	// Count is the number of stopped clocks (elapsed_seconds set); the
	// percentiles are taken over them.
	Count int `json:"count"`
	// P50 and P90 are linear-interpolation percentiles (PostgreSQL
	// percentile_cont), null when Count is 0.
	P50 *float64 `json:"p50"`
	P90 *float64 `json:"p90"`
	// SLACompliance is the percentage of decided clocks that did not breach.
	// A clock is decided once it has a target and has either stopped or
	// breached while still running; null when none is decided.
	SLACompliance *float64 `json:"sla_compliance"`
}
