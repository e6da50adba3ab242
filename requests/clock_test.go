package requests

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
	_ "time/tzdata" // zones must resolve on machines without /usr/share/zoneinfo
)

// weekdays opens the given days with the same periods.
func weekdays(days []string, periods ...Period) map[string][]Period {
	m := map[string][]Period{}
	for _, d := range days {
		m[d] = periods
	}
	return m
}

var (
	monFri  = []string{"mon", "tue", "wed", "thu", "fri"}
	allWeek = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
)

// officeHours is the SPEC §13 example: 09:00–13:00 and 14:00–18:00 on
// weekdays.
func officeHours(tz string, holidays ...string) *BusinessHours {
	return &BusinessHours{Timezone: tz, Weekly: weekdays(monFri, Period{"09:00", "13:00"}, Period{"14:00", "18:00"}), Holidays: holidays}
}

// nightShift runs 22:00 to 06:00 from Monday evening to Saturday morning,
// written as the two periods a day can hold.
func nightShift(tz string, holidays ...string) *BusinessHours {
	w := weekdays(monFri, Period{"22:00", "24:00"})
	for _, d := range []string{"tue", "wed", "thu", "fri", "sat"} {
		w[d] = append([]Period{{"00:00", "06:00"}}, w[d]...)
	}
	return &BusinessHours{Timezone: tz, Weekly: w, Holidays: holidays}
}

func mustSchedule(t testing.TB, bh *BusinessHours) Schedule {
	t.Helper()
	s, err := NewSchedule(bh)
	if err != nil {
		t.Fatalf("NewSchedule: %v", err)
	}
	return s
}

func mustLoc(t testing.TB, tz string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(tz)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// at reads "2027-01-04 09:00" as a wall time in tz. Wall times that do not
// exist or repeat must not be used here: give those in UTC.
func at(t testing.TB, tz, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, mustLoc(t, tz))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestScheduleAdd(t *testing.T) {
	const msk, ny, ber, kol = "Europe/Moscow", "America/New_York", "Europe/Berlin", "Asia/Kolkata"
	newYear := []string{"2027-01-01", "2027-01-02", "2027-01-03", "2027-01-04", "2027-01-05", "2027-01-06", "2027-01-07", "2027-01-08"}
	tests := []struct {
		name  string
		bh    *BusinessHours
		tz    string // zone of start and want
		start string
		d     time.Duration
		want  string
	}{
		{"within the morning", officeHours(msk), msk, "2027-01-04 10:00", 2 * time.Hour, "2027-01-04 12:00"},
		{"ends at lunch, due at lunch", officeHours(msk), msk, "2027-01-04 10:00", 3 * time.Hour, "2027-01-04 13:00"},
		{"skips lunch", officeHours(msk), msk, "2027-01-04 10:00", 3*time.Hour + time.Minute, "2027-01-04 14:01"},
		{"starts during lunch", officeHours(msk), msk, "2027-01-04 13:30", 30 * time.Minute, "2027-01-04 14:30"},
		{"starts before opening", officeHours(msk), msk, "2027-01-04 07:00", 30 * time.Minute, "2027-01-04 09:30"},
		{"starts after closing", officeHours(msk), msk, "2027-01-04 19:00", time.Hour, "2027-01-05 10:00"},
		{"ends at closing, due at closing", officeHours(msk), msk, "2027-01-08 17:00", time.Hour, "2027-01-08 18:00"},
		{"weekend", officeHours(msk), msk, "2027-01-08 17:00", 2 * time.Hour, "2027-01-11 10:00"},
		{"starts on saturday", officeHours(msk), msk, "2027-01-09 12:00", time.Hour, "2027-01-11 10:00"},
		{"one full week", officeHours(msk), msk, "2027-01-11 09:00", 40 * time.Hour, "2027-01-15 18:00"},
		{"holiday friday", officeHours(msk, "2027-01-01"), msk, "2026-12-31 17:00", 2 * time.Hour, "2027-01-04 10:00"},
		{"new year holidays", officeHours(msk, newYear...), msk, "2026-12-31 17:00", 2 * time.Hour, "2027-01-11 10:00"},
		{"night shift crosses midnight", nightShift(msk), msk, "2027-01-04 23:00", 2 * time.Hour, "2027-01-05 01:00"},
		{"night shift due at midnight", nightShift(msk), msk, "2027-01-04 23:00", time.Hour, "2027-01-05 00:00"},
		{"night shift over the weekend", nightShift(msk), msk, "2027-01-08 23:30", 7 * time.Hour, "2027-01-11 22:30"},
		{"night shift starts in the day", nightShift(msk), msk, "2027-01-05 12:00", 3 * time.Hour, "2027-01-06 01:00"},
		{"night shift holiday closes the whole date", nightShift(msk, "2027-01-05"), msk, "2027-01-04 23:00", 2 * time.Hour, "2027-01-06 01:00"},
		{"moscow from utc", officeHours(msk), "UTC", "2027-01-04 05:00", time.Hour, "2027-01-04 07:00"},
		{"new york from utc", officeHours(ny), "UTC", "2027-01-04 13:00", time.Hour, "2027-01-04 15:00"},
		{"kolkata half-hour offset", officeHours(kol), "UTC", "2027-01-04 03:00", time.Hour, "2027-01-04 04:30"},
		{"kolkata closing", officeHours(kol), kol, "2027-01-04 17:30", time.Hour, "2027-01-05 09:30"},
		// 2027-03-14: New York springs forward at 02:00. The night window
		// 00:00–06:00 holds only 5 real hours that day.
		{"new york spring-forward night", &BusinessHours{Timezone: ny, Weekly: weekdays(allWeek, Period{"00:00", "06:00"})}, "UTC", "2027-03-14 05:00", 6 * time.Hour, "2027-03-15 05:00"},
		{"new york spring-forward day hours", &BusinessHours{Timezone: ny, Weekly: weekdays(allWeek, Period{"09:00", "18:00"})}, ny, "2027-03-14 09:00", 9 * time.Hour, "2027-03-14 18:00"},
		// 2027-11-07: New York falls back at 02:00; 01:00–02:00 is lived twice.
		{"new york fall-back night", &BusinessHours{Timezone: ny, Weekly: weekdays(allWeek, Period{"00:00", "06:00"})}, "UTC", "2027-11-07 04:00", 7 * time.Hour, "2027-11-07 11:00"},
		{"new york fall-back night, 6h", &BusinessHours{Timezone: ny, Weekly: weekdays(allWeek, Period{"00:00", "06:00"})}, "UTC", "2027-11-07 04:00", 6 * time.Hour, "2027-11-07 10:00"},
		{"berlin spring-forward night", &BusinessHours{Timezone: ber, Weekly: weekdays(allWeek, Period{"00:00", "06:00"})}, "UTC", "2027-03-27 23:00", 6 * time.Hour, "2027-03-28 23:00"},
		{"berlin fall-back night", &BusinessHours{Timezone: ber, Weekly: weekdays(allWeek, Period{"00:00", "06:00"})}, "UTC", "2027-10-30 22:00", 7 * time.Hour, "2027-10-31 05:00"},
		{"berlin office across spring-forward weekend", officeHours(ber), ber, "2027-03-26 17:00", 2 * time.Hour, "2027-03-29 10:00"},
		{"24/7", nil, msk, "2027-01-09 23:00", 36 * time.Hour, "2027-01-11 11:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustSchedule(t, tt.bh)
			start := at(t, tt.tz, tt.start)
			got := s.Add(start, tt.d)
			if want := at(t, tt.tz, tt.want); !got.Equal(want) {
				t.Errorf("Add(%s, %s) = %s, want %s", start, tt.d, got, want)
			}
			if back := s.Between(start, got); back != tt.d {
				t.Errorf("Between(start, Add(start, d)) = %s, want %s", back, tt.d)
			}
		})
	}
}

func TestScheduleBetween(t *testing.T) {
	const ny, ber = "America/New_York", "Europe/Berlin"
	night := func(tz string) *BusinessHours {
		return &BusinessHours{Timezone: tz, Weekly: weekdays(allWeek, Period{"00:00", "06:00"})}
	}
	oneHour := func(tz, from, to string) *BusinessHours {
		return &BusinessHours{Timezone: tz, Weekly: weekdays(allWeek, Period{from, to})}
	}
	tests := []struct {
		name     string
		bh       *BusinessHours
		from, to string // UTC
		want     time.Duration
	}{
		{"ny spring-forward night is 5h", night(ny), "2027-03-14 00:00", "2027-03-14 23:00", 5 * time.Hour},
		{"ny ordinary night is 6h", night(ny), "2027-03-13 00:00", "2027-03-13 23:00", 6 * time.Hour},
		{"ny fall-back night is 7h", night(ny), "2027-11-07 00:00", "2027-11-07 23:00", 7 * time.Hour},
		{"ny skipped hour counts nothing", oneHour(ny, "02:00", "03:00"), "2027-03-14 00:00", "2027-03-15 00:00", 0},
		{"ny repeated hour counts twice", oneHour(ny, "01:00", "02:00"), "2027-11-07 00:00", "2027-11-08 00:00", 2 * time.Hour},
		{"ny office day on spring-forward is 9h", oneHour(ny, "09:00", "18:00"), "2027-03-14 00:00", "2027-03-15 00:00", 9 * time.Hour},
		{"berlin spring-forward night is 5h", night(ber), "2027-03-27 12:00", "2027-03-28 12:00", 5 * time.Hour},
		{"berlin fall-back night is 7h", night(ber), "2027-10-30 12:00", "2027-10-31 12:00", 7 * time.Hour},
		{"office week", officeHours("Europe/Moscow"), "2027-01-03 00:00", "2027-01-10 00:00", 40 * time.Hour},
		{"office week minus a holiday", officeHours("Europe/Moscow", "2027-01-06"), "2027-01-03 00:00", "2027-01-10 00:00", 32 * time.Hour},
		{"reversed is zero", officeHours("Europe/Moscow"), "2027-01-05 00:00", "2027-01-04 00:00", 0},
		{"24/7", nil, "2027-01-04 00:00", "2027-01-05 06:30", 30*time.Hour + 30*time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustSchedule(t, tt.bh)
			if got := s.Between(at(t, "UTC", tt.from), at(t, "UTC", tt.to)); got != tt.want {
				t.Errorf("Between = %s, want %s", got, tt.want)
			}
		})
	}
}

// openByWallClock is the definition of business time read straight off the
// wall clock, one instant at a time: the oracle the fast arithmetic must match.
func openByWallClock(bh *BusinessHours, loc *time.Location, t time.Time) bool {
	lt := t.In(loc)
	date := lt.Format(time.DateOnly)
	for _, h := range bh.Holidays {
		if h == date {
			return false
		}
	}
	tod := lt.Hour()*60 + lt.Minute()
	for _, p := range bh.Weekly[weekdayKeys[(int(lt.Weekday())+6)%7]] {
		s, _ := parseClock(p[0])
		e, _ := parseClock(p[1])
		if tod >= s && tod < e {
			return true
		}
	}
	return false
}

// TestScheduleMatchesWallClock counts business minutes one by one around DST
// switches and holidays and compares them with Between, Open and Add.
func TestScheduleMatchesWallClock(t *testing.T) {
	cases := []struct {
		name string
		bh   *BusinessHours
		near []string // UTC days the random intervals start around
	}{
		{"new york night shift", nightShift("America/New_York", "2027-11-09"), []string{"2027-03-13", "2027-11-06"}},
		{"new york small hours", &BusinessHours{Timezone: "America/New_York", Weekly: weekdays(allWeek, Period{"01:00", "03:00"}, Period{"09:00", "17:00"})}, []string{"2027-03-13", "2027-11-06"}},
		{"berlin office", officeHours("Europe/Berlin", "2027-03-29"), []string{"2027-03-26", "2027-10-29"}},
		{"berlin small hours", &BusinessHours{Timezone: "Europe/Berlin", Weekly: weekdays(allWeek, Period{"01:30", "03:30"})}, []string{"2027-03-27", "2027-10-30"}},
		{"kolkata office", officeHours("Asia/Kolkata", "2027-01-26"), []string{"2027-01-24"}},
		{"moscow night shift", nightShift("Europe/Moscow", "2027-01-01"), []string{"2026-12-30"}},
	}
	rng := rand.New(rand.NewPCG(8, 13))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := mustSchedule(t, c.bh)
			loc := s.Location()
			for i := range 40 {
				base := at(t, "UTC", c.near[i%len(c.near)]+" 00:00")
				from := base.Add(time.Duration(rng.IntN(3*24*60)) * time.Minute)
				to := from.Add(time.Duration(rng.IntN(3*24*60)) * time.Minute)
				var want time.Duration
				var minutes []time.Time // starts of open minutes, in order
				for m := from; m.Before(to); m = m.Add(time.Minute) {
					open := openByWallClock(c.bh, loc, m)
					if open != s.Open(m) {
						t.Fatalf("Open(%s) = %v, wall clock says %v", m.In(loc), s.Open(m), open)
					}
					if open {
						want += time.Minute
						minutes = append(minutes, m)
					}
				}
				if got := s.Between(from, to); got != want {
					t.Fatalf("Between(%s, %s) = %s, counted %s", from.In(loc), to.In(loc), got, want)
				}
				if len(minutes) > 0 {
					k := rng.IntN(len(minutes))
					wantEnd := minutes[k].Add(time.Minute) // the (k+1)th minute ends there
					if got := s.Add(from, time.Duration(k+1)*time.Minute); !got.Equal(wantEnd) {
						t.Fatalf("Add(%s, %dm) = %s, want %s", from.In(loc), k+1, got.In(loc), wantEnd.In(loc))
					}
				}
			}
		})
	}
}

// TestBetweenInvertsAdd checks over random instants (fixed seed) that
// Between undoes Add to the nanosecond and that Add lands on the earliest
// instant with a given elapsed time.
func TestBetweenInvertsAdd(t *testing.T) {
	schedules := map[string]*BusinessHours{
		"moscow office with holidays": officeHours("Europe/Moscow", "2027-01-01", "2027-01-07", "2027-02-23", "2027-03-08", "2027-05-01", "2027-05-09", "2027-06-12", "2027-11-04", "2028-01-01"),
		"new york night shift":        nightShift("America/New_York", "2027-07-05", "2027-12-24"),
		"berlin office":               officeHours("Europe/Berlin", "2027-10-03", "2027-12-25", "2027-12-26"),
		"kolkata office":              officeHours("Asia/Kolkata", "2027-01-26", "2027-08-15"),
		"24/7":                        nil,
	}
	rng := rand.New(rand.NewPCG(1, 2))
	origin := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	span := int64(3 * 365 * 24 * time.Hour)
	for name, bh := range schedules {
		t.Run(name, func(t *testing.T) {
			s := mustSchedule(t, bh)
			for range 3000 {
				start := origin.Add(time.Duration(rng.Int64N(span)))
				d := time.Duration(rng.Int64N(int64(400 * time.Hour)))
				if rng.IntN(4) == 0 {
					d = time.Duration(rng.IntN(3600)) * time.Second // small, whole seconds
				}
				end := s.Add(start, d)
				if d > 0 && !s.Always() && !s.Open(end.Add(-time.Nanosecond)) {
					t.Fatalf("Add(%s, %s) = %s, which does not end business time", start, d, end)
				}
				if got := s.Between(start, end); got != d {
					t.Fatalf("Between(%s, Add(.., %s) = %s) = %s", start, d, end, got)
				}
				x := start.Add(time.Duration(rng.Int64N(int64(60 * 24 * time.Hour))))
				e := s.Between(start, x)
				y := s.Add(start, e)
				if y.After(x) || s.Between(start, y) != e {
					t.Fatalf("Add(start, Between(start, %s) = %s) = %s", x, e, y)
				}
				if e > 0 && s.Open(x.Add(-time.Nanosecond)) && !y.Equal(x) {
					t.Fatalf("x = %s inside business time, but Add(start, Between(start, x)) = %s", x, y)
				}
			}
		})
	}
}

func TestScheduleLimits(t *testing.T) {
	s := mustSchedule(t, officeHours("Europe/Moscow"))
	start := at(t, "Europe/Moscow", "2027-01-04 09:00")
	t.Run("zero and negative durations return start", func(t *testing.T) {
		for _, d := range []time.Duration{0, -time.Hour} {
			if got := s.Add(start, d); !got.Equal(start) {
				t.Errorf("Add(start, %s) = %s", d, got)
			}
		}
	})
	t.Run("huge durations stop at the horizon", func(t *testing.T) {
		if got := s.Add(start, time.Duration(math.MaxInt64)); !got.Equal(horizon) {
			t.Errorf("Add = %s, want %s", got, horizon)
		}
		if got := (Schedule{}).Add(start, time.Duration(math.MaxInt64)); !got.Equal(horizon) {
			t.Errorf("24/7 Add = %s, want %s", got, horizon)
		}
	})
	t.Run("result keeps the start's location", func(t *testing.T) {
		if got := s.Add(start.UTC(), time.Hour); got.Location() != time.UTC {
			t.Errorf("location %s", got.Location())
		}
	})
	t.Run("leap-year end of a footer-rule year (golang/go#81583)", func(t *testing.T) {
		ny := mustSchedule(t, &BusinessHours{Timezone: "America/New_York", Weekly: weekdays(allWeek, Period{"09:00", "17:00"})})
		from := at(t, "America/New_York", "2040-12-30 12:00")
		if got, want := ny.Add(from, 16*time.Hour), at(t, "America/New_York", "2041-01-01 12:00"); !got.Equal(want) {
			t.Errorf("Add = %s, want %s", got, want)
		}
		if got := ny.Between(from, at(t, "America/New_York", "2041-01-02 09:00")); got != 21*time.Hour {
			t.Errorf("Between = %s, want 21h", got)
		}
	})
	t.Run("a 90-day target with one hour a week", func(t *testing.T) {
		sparse := mustSchedule(t, &BusinessHours{Timezone: "America/New_York", Weekly: map[string][]Period{"wed": {{"10:00", "11:00"}}}})
		d := time.Duration(MaxTarget) * time.Second
		end := sparse.Add(start, d)
		if got := sparse.Between(start, end); got != d {
			t.Errorf("Between = %s, want %s (end %s)", got, d, end)
		}
		if end.Year() < 2068 || end.Year() > 2069 {
			t.Errorf("end %s: 2160 weekly hours should take about 41 years", end)
		}
	})
}

func TestClock(t *testing.T) {
	const msk = "Europe/Moscow"
	s := mustSchedule(t, officeHours(msk))
	mon := func(hhmm string) time.Time { return at(t, msk, "2027-01-04 "+hhmm) }
	tue := func(hhmm string) time.Time { return at(t, msk, "2027-01-05 "+hhmm) }
	tests := []struct {
		name        string
		pauses      []Interval
		target      time.Duration
		wantDue     time.Time // zero: not known (paused)
		now         time.Time
		wantElapsed time.Duration
		wantPaused  bool
	}{
		{"no pauses", nil, 10 * time.Hour, tue("12:00"), tue("11:00"), 9 * time.Hour, false},
		{"pause outside business hours changes nothing", []Interval{{mon("19:00"), tue("08:30")}}, 10 * time.Hour, tue("12:00"), tue("11:00"), 9 * time.Hour, false},
		{"pause over lunch changes nothing", []Interval{{mon("13:00"), mon("14:00")}}, 4 * time.Hour, mon("15:00"), mon("15:00"), 4 * time.Hour, false},
		{"pause across the night", []Interval{{mon("17:00"), tue("10:00")}}, 10 * time.Hour, tue("15:00"), tue("12:00"), 8 * time.Hour, false},
		{"pause inside the day", []Interval{{mon("11:00"), mon("12:00")}}, 2 * time.Hour, mon("13:00"), mon("12:30"), 90 * time.Minute, false},
		{"resumes where it stopped", []Interval{{mon("11:00"), mon("15:00")}, {mon("16:00"), tue("09:30")}}, 3 * time.Hour, tue("10:30"), tue("09:45"), 2*time.Hour + 15*time.Minute, false},
		{"open pause before the due time", []Interval{{mon("12:00"), time.Time{}}}, 10 * time.Hour, time.Time{}, tue("12:00"), 2 * time.Hour, true},
		{"open pause after the due time", []Interval{{mon("12:00"), time.Time{}}}, time.Hour, mon("11:00"), tue("12:00"), 2 * time.Hour, true},
		{"unsorted pauses", []Interval{{mon("16:00"), tue("09:30")}, {mon("11:00"), mon("15:00")}}, 3 * time.Hour, tue("10:30"), tue("09:45"), 2*time.Hour + 15*time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Clock{Schedule: s, Start: mon("10:00"), Pauses: tt.pauses}
			due, ok := c.Due(tt.target)
			if ok != !tt.wantDue.IsZero() || (ok && !due.Equal(tt.wantDue)) {
				t.Errorf("Due(%s) = %s, %v; want %s", tt.target, due, ok, tt.wantDue)
			}
			if got := c.Elapsed(tt.now); got != tt.wantElapsed {
				t.Errorf("Elapsed(%s) = %s, want %s", tt.now, got, tt.wantElapsed)
			}
			if got := c.Paused(tt.now); got != tt.wantPaused {
				t.Errorf("Paused = %v", got)
			}
		})
	}
}

func BenchmarkScheduleAddYear(b *testing.B) {
	for name, bh := range map[string]*BusinessHours{
		"new_york_office": officeHours("America/New_York", "2027-01-01", "2027-05-31", "2027-07-05", "2027-09-06", "2027-11-25", "2027-12-24", "2028-01-01", "2028-05-29", "2028-07-04"),
		"moscow_office":   officeHours("Europe/Moscow", "2027-01-01", "2027-01-07", "2027-02-23", "2027-03-08", "2027-05-01", "2027-05-09"),
	} {
		s := mustSchedule(b, bh)
		start := time.Date(2027, 1, 4, 7, 13, 0, 0, time.UTC)
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				s.Add(start, 365*24*time.Hour)
			}
		})
	}
}

func BenchmarkScheduleBetweenYear(b *testing.B) {
	s := mustSchedule(b, officeHours("America/New_York", "2027-01-01", "2027-05-31", "2027-07-05", "2027-09-06", "2027-11-25", "2027-12-24"))
	from := time.Date(2027, 1, 4, 7, 13, 0, 0, time.UTC)
	to := from.Add(365 * 24 * time.Hour)
	for b.Loop() {
		s.Between(from, to)
	}
}
