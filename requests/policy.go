// Package requests holds Keycare's requests and the SLA clocks that run on
// them. The SLA engine (policy.go, clock.go, sla.go) is pure: the policy,
// the business-time arithmetic and the evaluation of a request's history
// into due times, breaches and the next instant a notification is owed.
// It never reads the wall clock, a database or the network, so every answer
// is a function of its inputs and can be tested to the nanosecond.
package requests

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/keycare/keycare"
)

// Priority of a request. A policy sets its targets per priority so an
// urgent incident can be held to minutes while a low question gets a day.
type Priority string

// The priorities a request can have (SPEC §5).
const (
	PriorityLow    Priority = "low"
	PriorityNormal Priority = "normal"
	PriorityHigh   Priority = "high"
	PriorityUrgent Priority = "urgent"
)

// Priorities lists every priority, lowest first, so validation and reports
// walk them in one fixed order rather than Go's random map order.
var Priorities = []Priority{PriorityLow, PriorityNormal, PriorityHigh, PriorityUrgent}

// Valid reports whether p is one of the known priorities.
func (p Priority) Valid() bool { return slices.Contains(Priorities, p) }

// MaxTarget is the longest target a policy may set, in seconds (90 days).
// Anything longer is a typo or a wish, not a service level, and the bound
// keeps the arithmetic far from overflow.
const MaxTarget = 90 * 24 * 60 * 60

// DefaultWarnAt is the warning threshold used when a policy leaves warn_at
// out (SPEC §5: 75% of the target).
const DefaultWarnAt = 0.75

// maxHolidays bounds the holiday list: a few decades of public holidays fit
// comfortably, and the schedule stays small enough to cache per policy.
const maxHolidays = 1000

// Targets are one priority's three SLA targets in seconds, exactly as the
// policy JSON carries them (SPEC §13).
type Targets struct {
	FirstResponse int `json:"first_response"` // request opened → first team reply
	FollowUp      int `json:"follow_up"`      // first unanswered client message → next team reply
	Resolution    int `json:"resolution"`     // opened → resolved, pauses excluded
}

// Period is one opening window of a weekday as a JSON pair of local wall
// times, ["09:00", "13:00"]. The end may be "24:00" so a night shift can run
// to midnight and continue in the next day's "00:00" window without a gap.
// It is a slice rather than [2]string so a three-element array is reported
// by Validate instead of being silently truncated by encoding/json.
type Period []string

// BusinessHours says when SLA clocks run: weekly opening windows in one
// IANA time zone, minus whole-day holidays. A nil *BusinessHours is 24/7.
type BusinessHours struct {
	Timezone string              `json:"timezone"`
	Weekly   map[string][]Period `json:"weekly"`   // keys mon..sun; a missing or empty day is closed
	Holidays []string            `json:"holidays"` // YYYY-MM-DD local dates, closed all day
}

// Policy is an SLA policy's rules as they travel in JSON (SPEC §13, without
// the stored record's id and name, which belong to whoever stores it: embed
// Policy in that record to keep one JSON shape).
type Policy struct {
	Targets       map[Priority]Targets `json:"targets"`
	BusinessHours *BusinessHours       `json:"business_hours"` // nil: 24/7
	// WarnAt is the fraction of a target at which the owner is warned. Zero
	// means "not set" and is read as DefaultWarnAt: a float cannot tell an
	// omitted field from an explicit 0, and a warning at 0% is meaningless.
	WarnAt float64 `json:"warn_at"`
}

// weekdayKeys are the JSON keys of BusinessHours.Weekly, Monday first; the
// index is the day's position in the internal week.
var weekdayKeys = [7]string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// WithDefaults returns p with WarnAt filled in, so what is stored and shown
// says which threshold is in force.
func (p Policy) WithDefaults() Policy {
	if p.WarnAt == 0 {
		p.WarnAt = DefaultWarnAt
	}
	return p
}

// Validate checks the whole policy and returns one EINVALID *keycare.Error
// naming every bad field by its JSON path (e.g. "targets.urgent.resolution",
// "business_hours.weekly.mon[1]"), or nil.
func (p Policy) Validate() error {
	var v keycare.Validation
	if len(p.Targets) == 0 {
		v.Add("targets", "must set targets for at least one priority")
	}
	for _, pr := range Priorities {
		t, ok := p.Targets[pr]
		if !ok {
			continue
		}
		checkTarget(&v, "targets."+string(pr)+".first_response", t.FirstResponse)
		checkTarget(&v, "targets."+string(pr)+".follow_up", t.FollowUp)
		checkTarget(&v, "targets."+string(pr)+".resolution", t.Resolution)
	}
	var unknown []string
	for pr := range p.Targets {
		if !pr.Valid() {
			unknown = append(unknown, string(pr))
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		v.Add("targets."+k, "must be one of: low, normal, high, urgent")
	}
	if p.BusinessHours != nil {
		validateBusinessHours(&v, "business_hours.", p.BusinessHours)
	}
	// NaN fails both comparisons, so it is reported too.
	v.Check(p.WarnAt == 0 || (p.WarnAt > 0 && p.WarnAt < 1), "warn_at", "must be a fraction between 0 and 1 (exclusive), e.g. 0.75")
	return v.Err()
}

func checkTarget(v *keycare.Validation, field string, secs int) {
	v.Check(secs > 0 && secs <= MaxTarget, field, "must be between 1 and %d seconds (90 days)", MaxTarget)
}

// Validate checks business hours alone; fields are named relative to the
// business_hours object ("timezone", "weekly.mon[0]", "holidays[2]").
func (bh *BusinessHours) Validate() error {
	var v keycare.Validation
	validateBusinessHours(&v, "", bh)
	return v.Err()
}

func validateBusinessHours(v *keycare.Validation, prefix string, bh *BusinessHours) {
	v.Check(keycare.ValidTimezone(bh.Timezone), prefix+"timezone", "must be an IANA time zone, e.g. Europe/Moscow")
	var unknown []string
	for k := range bh.Weekly {
		if !slices.Contains(weekdayKeys[:], k) {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		v.Add(prefix+"weekly."+k, "must be a weekday: mon, tue, wed, thu, fri, sat or sun")
	}
	listed := false
	for _, day := range weekdayKeys {
		var prevEnd int64 = -1
		for i, per := range bh.Weekly[day] {
			field := fmt.Sprintf("%sweekly.%s[%d]", prefix, day, i)
			s, e, msg := parsePeriod(per)
			if msg != "" {
				v.Add(field, "%s", msg)
				continue
			}
			if s < prevEnd {
				v.Add(field, "must start at or after the previous period's end (periods sorted, not overlapping)")
			}
			prevEnd = e
		}
		listed = listed || len(bh.Weekly[day]) > 0
	}
	if !listed {
		v.Add(prefix+"weekly", "must open at least one period a week (use business_hours: null for 24/7)")
	}
	if len(bh.Holidays) > maxHolidays {
		v.Add(prefix+"holidays", "must list at most %d dates", maxHolidays)
	}
	seen := make(map[string]bool, len(bh.Holidays))
	for i, d := range bh.Holidays {
		field := fmt.Sprintf("%sholidays[%d]", prefix, i)
		switch {
		case !keycare.ValidDate(d):
			v.Add(field, "must be a date as YYYY-MM-DD")
		case seen[d]:
			v.Add(field, "must not repeat a date")
		}
		seen[d] = true
	}
}

// parsePeriod reads ["HH:MM", "HH:MM"] into nanoseconds after local
// midnight, or says what is wrong with it.
func parsePeriod(p Period) (start, end int64, msg string) {
	if len(p) != 2 {
		return 0, 0, `must be a pair of times, e.g. ["09:00", "18:00"]`
	}
	s, ok := parseClock(p[0])
	if !ok || s == 24*60 {
		return 0, 0, fmt.Sprintf("start %q must be a time as HH:MM from 00:00 to 23:59", p[0])
	}
	e, ok := parseClock(p[1])
	if !ok {
		return 0, 0, fmt.Sprintf("end %q must be a time as HH:MM from 00:01 to 24:00", p[1])
	}
	if e <= s {
		return 0, 0, fmt.Sprintf("end %s must be after start %s (split a night shift at 24:00)", p[1], p[0])
	}
	return int64(s) * int64(time.Minute), int64(e) * int64(time.Minute), ""
}

// parseClock reads "HH:MM" (00:00..23:59, or 24:00) into minutes.
func parseClock(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, false
	}
	return h*60 + m, true
}

// NewSchedule validates bh and builds the schedule the clocks run on; nil
// is 24/7. Build it once per policy and reuse it: it is immutable and safe
// for concurrent use.
func NewSchedule(bh *BusinessHours) (Schedule, error) {
	if bh == nil {
		return Schedule{}, nil
	}
	if err := bh.Validate(); err != nil {
		return Schedule{}, err
	}
	loc, err := time.LoadLocation(bh.Timezone)
	if err != nil {
		return Schedule{}, keycare.Invalid("timezone", "must be an IANA time zone, e.g. Europe/Moscow")
	}
	p := &pattern{}
	for wd, day := range weekdayKeys {
		for _, per := range bh.Weekly[day] {
			s, e, _ := parsePeriod(per)
			// Touching periods ("09:00-13:00", "13:00-18:00") are merged so
			// the day is a minimal list of disjoint spans.
			if n := len(p.days[wd]); n > 0 && p.days[wd][n-1].end == s {
				p.days[wd][n-1].end = e
				continue
			}
			p.days[wd] = append(p.days[wd], span{s, e})
		}
		for _, sp := range p.days[wd] {
			p.dayTotal[wd] += sp.end - sp.start
		}
		p.weekPrefix[wd+1] = p.weekPrefix[wd] + p.dayTotal[wd]
	}
	p.week = p.weekPrefix[7]
	for _, d := range bh.Holidays {
		t, _ := time.Parse(time.DateOnly, d)
		p.holidays = append(p.holidays, floorDiv(t.Unix(), 24*60*60))
	}
	slices.Sort(p.holidays)
	p.holidayCum = make([]int64, len(p.holidays)+1)
	for i, n := range p.holidays {
		p.holidayCum[i+1] = p.holidayCum[i] + p.dayTotal[weekdayOf(n)]
	}
	return Schedule{loc: loc, p: p}, nil
}
