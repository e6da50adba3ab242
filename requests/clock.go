package requests

import (
	"slices"
	"time"
)

// Business time, precisely: an instant is business time when its local date
// (in the schedule's zone) is not a holiday and its local wall-clock time of
// day lies in one of that weekday's periods. Everything below measures that
// set of instants in real elapsed time. Consequences worth knowing:
//
//   - DST: a window is as long as the real time the wall clock spends in it.
//     09:00–18:00 is 9 h on every day of a zone whose switch happens at night,
//     but a night window 00:00–06:00 is 5 h on a spring-forward day and 7 h on
//     a fall-back day (the repeated hour is worked twice). Wall times that do
//     not exist simply contribute nothing.
//   - Midnight: "22:00"–"24:00" on one day and "00:00"–"06:00" on the next
//     are one contiguous stretch, so a night shift has no gap at midnight.
//   - Holidays close a whole local day, including the early-morning part of a
//     night shift that started the evening before.
//
// Internally the schedule works in "local-linear" nanoseconds: Unix time plus
// the zone's UTC offset. Between two offset changes the local time is that
// linear function of real time, so the weekly pattern can be measured with
// closed-form arithmetic (whole weeks × weekly total + prefix sums) instead of
// stepping through minutes or days. Only offset changes (about two a year)
// and holidays cost a loop iteration, so a year-long duration takes a few
// dozen operations.

const dayNs = int64(24 * time.Hour)

// The range the arithmetic is defined on. Unix nanoseconds overflow int64
// outside 1677–2262, so instants are clamped into [minInstant, horizon].
// Add never answers later than horizon: a clock that would run out after
// 2200 has, for anything that schedules a notification, no due time.
var (
	minInstant = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	horizon    = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	minNs      = minInstant.UnixNano()
	horizonNs  = horizon.UnixNano()
)

// Schedule is compiled business hours: when SLA clocks run. The zero value
// is 24/7. It is immutable and safe to share between goroutines; build it
// once per policy with NewSchedule (or Compile) and keep it.
type Schedule struct {
	loc *time.Location
	p   *pattern // nil: 24/7
}

// span is one opening window in nanoseconds after local midnight, [start, end).
type span struct{ start, end int64 }

// pattern is the weekly opening pattern with holidays, on the local-linear
// time line. Day numbers count local days since 1970-01-01; internal weekday
// 0 is Monday.
type pattern struct {
	days       [7][]span
	dayTotal   [7]int64 // business ns per weekday
	weekPrefix [8]int64 // business ns of the week before weekday i
	week       int64    // business ns per week, > 0 after validation
	holidays   []int64  // sorted day numbers
	holidayCum []int64  // holidayCum[i]: business ns the first i holidays remove
}

// Location is the schedule's time zone, or nil for 24/7.
func (s Schedule) Location() *time.Location { return s.loc }

// Always reports whether the schedule is 24/7.
func (s Schedule) Always() bool { return s.p == nil }

// Open reports whether t is business time.
func (s Schedule) Open(t time.Time) bool {
	if s.p == nil {
		return true
	}
	ns := clampNs(t)
	off, _ := s.segment(ns)
	n, r := splitDay(ns + off)
	if s.p.isHoliday(n) {
		return false
	}
	for _, sp := range s.p.days[weekdayOf(n)] {
		if r >= sp.start && r < sp.end {
			return true
		}
	}
	return false
}

// Add returns the earliest instant at which d of business time has elapsed
// since start. A start outside business hours waits for the next opening;
// a d that runs out exactly at closing time is due at closing, not at the
// next opening. d <= 0 returns start. The result is in start's location and
// is capped at 2200-01-01 UTC.
func (s Schedule) Add(start time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return start
	}
	if s.p == nil {
		if end := start.Add(d); end.Before(horizon) {
			return end
		}
		return horizon.In(start.Location())
	}
	t := clampNs(start)
	rem := int64(d)
	for t < horizonNs {
		off, end := s.segment(t)
		a, b := t+off, end+off
		ca, ka := s.p.cum(a)
		cb, _ := s.p.cum(b)
		if rem <= cb-ca {
			x := s.p.reach(ca+rem, ka) - off
			return time.Unix(0, x).In(start.Location())
		}
		rem -= cb - ca
		t = end
	}
	return horizon.In(start.Location())
}

// Between returns the business time elapsed from from to to; zero when to
// is not after from. For d > 0, Between(start, Add(start, d)) == d exactly.
func (s Schedule) Between(from, to time.Time) time.Duration {
	if !to.After(from) {
		return 0
	}
	if s.p == nil {
		return to.Sub(from)
	}
	t, b := clampNs(from), clampNs(to)
	var total int64
	for t < b {
		off, end := s.segment(t)
		end = min(end, b)
		c1, _ := s.p.cum(t + off)
		c2, _ := s.p.cum(end + off)
		total += c2 - c1
		t = end
	}
	return time.Duration(total)
}

// segment returns the UTC offset in force at Unix-nanosecond t and the
// instant the next offset (or abbreviation) takes over, capped at horizon.
func (s Schedule) segment(t int64) (off, end int64) {
	lt := time.Unix(0, t).In(s.loc)
	_, o := lt.Zone()
	end = horizonNs
	if _, ze := lt.ZoneBounds(); !ze.IsZero() && ze.Before(horizon) {
		end = ze.UnixNano()
	}
	off = int64(o) * int64(time.Second)
	if end <= t {
		// golang/go#81583: on the last UTC day of a leap year served by the
		// zone's footer rule (after ~2037), ZoneBounds reports an end before
		// t. No offset change happens there in practice, but look rather
		// than assume, and never hand back an end that would not advance.
		end = s.nextChange(t, off)
	}
	return off, end
}

// nextChange finds the first instant in (t, t+1 day] whose offset differs
// from off, or t+1 day if there is none, by bisection to the second.
func (s Schedule) nextChange(t, off int64) int64 {
	offsetAt := func(x int64) int64 {
		_, o := time.Unix(0, x).In(s.loc).Zone()
		return int64(o) * int64(time.Second)
	}
	lo, hi := t, t+dayNs
	if offsetAt(hi) == off {
		return hi
	}
	for hi-lo > int64(time.Second) {
		mid := lo + (hi-lo)/2
		if offsetAt(mid) == off {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

func clampNs(t time.Time) int64 {
	switch {
	case t.Before(minInstant):
		return minNs
	case t.After(horizon):
		return horizonNs
	}
	return t.UnixNano()
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// splitDay splits local-linear nanoseconds into a day number and the
// nanoseconds since that day's local midnight.
func splitDay(l int64) (n, r int64) {
	n = floorDiv(l, dayNs)
	return n, l - n*dayNs
}

// weekdayOf returns the internal weekday (0 = Monday) of day number n;
// 1970-01-01, day 0, was a Thursday.
func weekdayOf(n int64) int {
	return int(n + 3 - 7*floorDiv(n+3, 7))
}

// dayPrefix is the business time of weekday wd before r ns past midnight.
func (p *pattern) dayPrefix(wd int, r int64) int64 {
	var sum int64
	for _, sp := range p.days[wd] {
		if r <= sp.start {
			break
		}
		sum += min(r, sp.end) - sp.start
	}
	return sum
}

// plain is the business time of the weekly pattern, holidays ignored, from
// the Monday of the epoch's week to local-linear l. It is continuous and
// non-decreasing, so differences of it measure intervals.
func (p *pattern) plain(l int64) int64 {
	n, r := splitDay(l)
	m := n + 3 // days since Monday 1969-12-29
	wk := floorDiv(m, 7)
	wd := int(m - 7*wk)
	return wk*p.week + p.weekPrefix[wd] + p.dayPrefix(wd, r)
}

// holidayTime is the business time that holidays remove before l.
func (p *pattern) holidayTime(l int64) int64 {
	if len(p.holidays) == 0 {
		return 0
	}
	n, r := splitDay(l)
	i, found := slices.BinarySearch(p.holidays, n)
	k := p.holidayCum[i]
	if found {
		k += p.dayPrefix(weekdayOf(n), r)
	}
	return k
}

func (p *pattern) isHoliday(n int64) bool {
	_, found := slices.BinarySearch(p.holidays, n)
	return found
}

// cum is the business time before local-linear l (holidays removed), and
// the holiday part k that was removed, which reach uses as its first guess.
func (p *pattern) cum(l int64) (c, k int64) {
	k = p.holidayTime(l)
	return p.plain(l) - k, k
}

// plainReach is the earliest l with plain(l) >= v: the inverse of plain,
// choosing the end of a window over the start of the next one.
func (p *pattern) plainReach(v int64) int64 {
	wk := floorDiv(v-1, p.week) // v-1: an exact multiple lands in the week that ends it
	q := v - wk*p.week          // in (0, week]
	wd := 0
	for p.weekPrefix[wd+1] < q {
		wd++
	}
	q -= p.weekPrefix[wd] // in (0, dayTotal[wd]]
	dayStart := (wk*7 + int64(wd) - 3) * dayNs
	for _, sp := range p.days[wd] {
		if l := sp.end - sp.start; q > l {
			q -= l
			continue
		}
		return dayStart + sp.start + q
	}
	panic("requests: business-time inverse ran past the day") // unreachable: q <= dayTotal[wd]
}

// reach is the earliest l with cum(l) >= c, given the holiday time k
// removed before the starting point (a lower bound for the answer's).
//
// Each round guesses l = plainReach(c + k). If the holidays before l remove
// exactly k, l is the answer. Otherwise cum(l) < c and the answer lies
// beyond l; if l is on a holiday, cum is flat for the rest of that day, so
// the answer lies beyond the whole day and k can take all of it at once.
// k therefore climbs through holidayCum's values and the loop ends within
// len(holidays)+2 rounds, however long the holiday list.
func (p *pattern) reach(c, k int64) int64 {
	for range len(p.holidays) + 2 {
		l := p.plainReach(c + k)
		if p.holidayTime(l) == k {
			return l
		}
		n, _ := splitDay(l)
		i, found := slices.BinarySearch(p.holidays, n)
		if found {
			i++
		}
		k = p.holidayCum[i]
	}
	panic("requests: business-time inverse did not settle") // unreachable, see above
}

// Interval is a stretch of real time, [Start, End). A zero End means it is
// still going on.
type Interval struct {
	Start time.Time
	End   time.Time
}

// Open reports whether the interval has not ended.
func (iv Interval) Open() bool { return iv.End.IsZero() }

// Clock is one SLA clock: it starts at Start and counts business time
// except inside Pauses (waiting_on_client, resolved). Resuming continues
// where it stopped: the time already counted is kept, not restarted.
// Pauses should be sorted by Start; overlaps are tolerated. Only the last
// pause may be open (End zero), meaning the clock is paused as of now.
type Clock struct {
	Schedule Schedule
	Start    time.Time
	Pauses   []Interval
}

func (c Clock) pauses() []Interval {
	less := func(a, b Interval) int { return a.Start.Compare(b.Start) }
	if slices.IsSortedFunc(c.Pauses, less) {
		return c.Pauses
	}
	ps := slices.Clone(c.Pauses)
	slices.SortStableFunc(ps, less)
	return ps
}

// Elapsed is the business time the clock has counted by now.
func (c Clock) Elapsed(now time.Time) time.Duration {
	t := c.Start
	var total time.Duration
	for _, p := range c.pauses() {
		if !p.Start.Before(now) {
			break
		}
		if p.Start.After(t) {
			total += c.Schedule.Between(t, p.Start)
		}
		if p.Open() {
			return total
		}
		if p.End.After(t) {
			t = p.End
		}
	}
	return total + c.Schedule.Between(t, now)
}

// Paused reports whether now falls inside one of the clock's pauses.
func (c Clock) Paused(now time.Time) bool {
	for _, p := range c.Pauses {
		if !now.Before(p.Start) && (p.Open() || now.Before(p.End)) {
			return true
		}
	}
	return false
}

// Due returns the earliest instant at which the clock has counted target.
// It is false when an open pause begins before the target is reached: the
// due time then depends on when the clock resumes, which is not known yet.
// A target <= 0 is due at Start.
func (c Clock) Due(target time.Duration) (time.Time, bool) {
	t, rem := c.Start, target
	if rem <= 0 {
		return t, true
	}
	for _, p := range c.pauses() {
		if !p.Open() && !p.End.After(t) {
			continue
		}
		if p.Start.After(t) {
			if x := c.Schedule.Add(t, rem); !x.After(p.Start) {
				return x, true
			}
			rem -= c.Schedule.Between(t, p.Start)
		}
		if p.Open() {
			return time.Time{}, false
		}
		t = p.End
	}
	return c.Schedule.Add(t, rem), true
}
