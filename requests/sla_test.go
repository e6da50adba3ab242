package requests

import (
	"slices"
	"testing"
	"time"
)

// base is when the test requests open; times in these tests are minutes after it.
var base = time.Date(2027, 1, 4, 10, 0, 0, 0, time.UTC)

func mins(m float64) time.Time { return base.Add(time.Duration(m * float64(time.Minute))) }

func client(m float64) Message { return Message{At: mins(m), Side: SideClient} }
func team(m float64) Message   { return Message{At: mins(m), Side: SideTeam} }
func status(m float64, s Status) StatusChange {
	return StatusChange{At: mins(m), Status: s}
}

// alwaysOn is a 24/7 policy whose normal targets are 15 min, 30 min and a day.
func alwaysOn(t *testing.T) *Engine {
	t.Helper()
	e, err := Compile(Policy{Targets: map[Priority]Targets{PriorityNormal: {FirstResponse: 900, FollowUp: 1800, Resolution: 86400}}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func wantAt(t *testing.T, what string, got *time.Time, want time.Time) {
	t.Helper()
	switch {
	case want.IsZero() && got != nil:
		t.Errorf("%s = %s, want none", what, got.UTC())
	case !want.IsZero() && got == nil:
		t.Errorf("%s = none, want %s", what, want.UTC())
	case got != nil && !got.Equal(want):
		t.Errorf("%s = %s, want %s", what, got.UTC(), want.UTC())
	}
}

func wantEvent(t *testing.T, got *Event, kind EventKind, clock string, at time.Time) {
	t.Helper()
	if kind == "" {
		if got != nil {
			t.Errorf("NextEvent = %+v, want none", *got)
		}
		return
	}
	if got == nil || got.Kind != kind || got.Clock != clock || !got.At.Equal(at) {
		t.Errorf("NextEvent = %+v, want %s %s at %s", got, kind, clock, at.UTC())
	}
}

func TestEvaluate(t *testing.T) {
	day := 24 * 60.0
	tests := []struct {
		name     string
		messages []Message
		changes  []StatusChange
		now      float64
		// what the request row shows
		firstDue, nextDue, resDue, responded, resolved time.Time // zero: none
		breached                                       []string
		next                                           Event // zero Kind: none
		check                                          func(t *testing.T, s State)
	}{
		{
			name:     "fresh request",
			messages: []Message{client(0)},
			now:      5,
			firstDue: mins(15), resDue: mins(day),
			next: Event{Kind: EventWarning, Clock: ClockFirstResponse, At: mins(11.25)},
			check: func(t *testing.T, s State) {
				if s.NextEvent.DueAt != mins(15) {
					t.Errorf("warning's DueAt %s", s.NextEvent.DueAt)
				}
			},
		},
		{
			name:     "first response breached",
			messages: []Message{client(0)},
			now:      20,
			firstDue: mins(15), resDue: mins(day),
			breached: []string{ClockFirstResponse},
			next:     Event{Kind: EventWarning, Clock: ClockResolution, At: mins(0.75 * day)},
			check: func(t *testing.T, s State) {
				var past []EventKind
				for _, e := range s.Events {
					if !e.At.After(mins(20)) {
						past = append(past, e.Kind)
					}
				}
				if !slices.Equal(past, []EventKind{EventWarning, EventBreach}) {
					t.Errorf("past events %v", past)
				}
			},
		},
		{
			name:     "first response met late stays breached",
			messages: []Message{client(0), team(20)},
			now:      60,
			firstDue: mins(15), resDue: mins(day), responded: mins(20),
			breached: []string{ClockFirstResponse},
			next:     Event{Kind: EventWarning, Clock: ClockResolution, At: mins(0.75 * day)},
			check: func(t *testing.T, s State) {
				if s.FirstResponse.Elapsed != 20*time.Minute || s.FirstResponse.StoppedAt == nil {
					t.Errorf("first response %+v", s.FirstResponse)
				}
			},
		},
		{
			name:     "reply on the due instant is on time",
			messages: []Message{client(0), team(15)},
			now:      60,
			firstDue: mins(15), resDue: mins(day), responded: mins(15),
			next: Event{Kind: EventWarning, Clock: ClockResolution, At: mins(0.75 * day)},
		},
		{
			name:     "no follow-up clock before the first reply",
			messages: []Message{client(0), client(2), client(4)},
			now:      5,
			firstDue: mins(15), resDue: mins(day),
			next: Event{Kind: EventWarning, Clock: ClockFirstResponse, At: mins(11.25)},
			check: func(t *testing.T, s State) {
				if len(s.FollowUps) != 0 {
					t.Errorf("follow-ups %+v", s.FollowUps)
				}
			},
		},
		{
			name:     "several client messages in a row start one follow-up clock",
			messages: []Message{client(0), team(5), client(10), client(20), client(25)},
			now:      30,
			firstDue: mins(15), nextDue: mins(40), resDue: mins(day), responded: mins(5),
			next: Event{Kind: EventWarning, Clock: ClockFollowUp, At: mins(32.5)},
			check: func(t *testing.T, s State) {
				if len(s.FollowUps) != 1 || !s.FollowUps[0].StartedAt.Equal(mins(10)) || s.FollowUps[0].Elapsed != 20*time.Minute {
					t.Errorf("follow-ups %+v", s.FollowUps)
				}
			},
		},
		{
			name:     "follow-up clock restarts at the first client message after each team reply",
			messages: []Message{client(0), team(5), client(10), team(35), team(40), client(50), client(55)},
			now:      60,
			firstDue: mins(15), nextDue: mins(80), resDue: mins(day), responded: mins(5),
			next: Event{Kind: EventWarning, Clock: ClockFollowUp, At: mins(72.5)},
			check: func(t *testing.T, s State) {
				if len(s.FollowUps) != 2 {
					t.Fatalf("follow-ups %+v", s.FollowUps)
				}
				done, running := s.FollowUps[0], s.FollowUps[1]
				if done.Elapsed != 25*time.Minute || done.StoppedAt == nil || !done.StoppedAt.Equal(mins(35)) || done.Breached {
					t.Errorf("answered follow-up %+v", done)
				}
				if running.StoppedAt != nil || !running.StartedAt.Equal(mins(50)) || running.Elapsed != 10*time.Minute {
					t.Errorf("running follow-up %+v", running)
				}
			},
		},
		{
			name:     "follow-up breached",
			messages: []Message{client(0), team(5), client(10)},
			now:      41,
			firstDue: mins(15), nextDue: mins(40), resDue: mins(day), responded: mins(5),
			breached: []string{ClockFollowUp},
			next:     Event{Kind: EventWarning, Clock: ClockResolution, At: mins(0.75 * day)},
		},
		{
			name:     "follow-up answered late stays breached",
			messages: []Message{client(0), team(5), client(10), team(45)},
			now:      60,
			firstDue: mins(15), resDue: mins(day), responded: mins(5),
			breached: []string{ClockFollowUp},
			next:     Event{Kind: EventWarning, Clock: ClockResolution, At: mins(0.75 * day)},
		},
		{
			name:     "waiting on the client pauses every clock",
			messages: []Message{client(0), team(5), client(10)},
			changes:  []StatusChange{status(12, StatusWaitingOnClient)},
			now:      65,
			firstDue: mins(15), responded: mins(5),
			check: func(t *testing.T, s State) {
				if !s.Resolution.Paused || s.Resolution.Elapsed != 12*time.Minute {
					t.Errorf("resolution %+v", s.Resolution)
				}
				if f := s.FollowUps[0]; !f.Paused || f.Elapsed != 2*time.Minute || f.DueAt != nil || f.WarnAt != nil {
					t.Errorf("follow-up %+v", f)
				}
			},
		},
		{
			name:     "a client message ends waiting and the clocks resume where they stopped",
			messages: []Message{client(0), team(5), client(125)},
			changes:  []StatusChange{status(5, StatusWaitingOnClient)},
			now:      130,
			firstDue: mins(15), nextDue: mins(155), resDue: mins(day + 120), responded: mins(5),
			next: Event{Kind: EventWarning, Clock: ClockFollowUp, At: mins(147.5)},
			check: func(t *testing.T, s State) {
				if s.Resolution.Paused || s.Resolution.Elapsed != 10*time.Minute {
					t.Errorf("resolution %+v", s.Resolution)
				}
			},
		},
		{
			name:     "resolved",
			messages: []Message{client(0), team(5)},
			changes:  []StatusChange{status(120, StatusResolved)},
			now:      200,
			firstDue: mins(15), resDue: mins(day), responded: mins(5), resolved: mins(120),
			check: func(t *testing.T, s State) {
				if s.Resolution.Elapsed != 2*time.Hour || s.Resolution.StoppedAt == nil || len(s.Events) != 0 {
					t.Errorf("resolution %+v, events %+v", s.Resolution, s.Events)
				}
			},
		},
		{
			name:     "reopen continues the resolution clock where it stopped",
			messages: []Message{client(0), team(5), client(day)},
			changes:  []StatusChange{status(120, StatusResolved), status(day, StatusOpen)},
			now:      day + 20,
			firstDue: mins(15), nextDue: mins(day + 30), resDue: mins(2*day - 120), responded: mins(5),
			next: Event{Kind: EventWarning, Clock: ClockFollowUp, At: mins(day + 22.5)},
			check: func(t *testing.T, s State) {
				if s.Resolution.Elapsed != 140*time.Minute || s.Resolution.StoppedAt != nil {
					t.Errorf("resolution %+v", s.Resolution)
				}
			},
		},
		{
			name:     "resolved again after a reopen measures the open time in total",
			messages: []Message{client(0), team(5), client(day), team(day + 10)},
			changes:  []StatusChange{status(120, StatusResolved), status(day, StatusOpen), status(day+60, StatusResolved)},
			now:      2 * day,
			firstDue: mins(15), resDue: mins(2*day - 120), responded: mins(5), resolved: mins(day + 60),
			check: func(t *testing.T, s State) {
				if s.Resolution.Elapsed != 3*time.Hour || len(s.FollowUps) != 1 || s.FollowUps[0].Elapsed != 10*time.Minute {
					t.Errorf("resolution %+v, follow-ups %+v", s.Resolution, s.FollowUps)
				}
			},
		},
		{
			name:     "resolved without a reply owes no response",
			messages: []Message{client(0)},
			changes:  []StatusChange{status(10, StatusResolved)},
			now:      100,
			resDue:   mins(day), resolved: mins(10),
			check: func(t *testing.T, s State) {
				if !s.FirstResponse.Paused || s.FirstResponse.Elapsed != 10*time.Minute {
					t.Errorf("first response %+v", s.FirstResponse)
				}
			},
		},
		{
			name:     "a reply sent as the request is resolved counts",
			messages: []Message{client(0), team(5), client(10), team(20)},
			changes:  []StatusChange{status(20, StatusResolved)},
			now:      30,
			firstDue: mins(15), resDue: mins(day), responded: mins(5), resolved: mins(20),
			check: func(t *testing.T, s State) {
				if f := s.FollowUps[0]; f.StoppedAt == nil || f.Elapsed != 10*time.Minute {
					t.Errorf("follow-up %+v", f)
				}
			},
		},
		{
			name:     "a client message on a resolved request waits for the reopen",
			messages: []Message{client(0), team(5), client(30), team(40)},
			changes:  []StatusChange{status(20, StatusResolved), status(35, StatusOpen)},
			now:      50,
			firstDue: mins(15), resDue: mins(day + 15), responded: mins(5),
			next: Event{Kind: EventWarning, Clock: ClockResolution, At: mins(0.75*day + 15)},
			check: func(t *testing.T, s State) {
				if len(s.FollowUps) != 1 || !s.FollowUps[0].StartedAt.Equal(mins(30)) || s.FollowUps[0].Elapsed != 5*time.Minute {
					t.Errorf("follow-ups %+v", s.FollowUps)
				}
			},
		},
		{
			name:     "history after now is not yet known",
			messages: []Message{client(0), team(5)},
			changes:  []StatusChange{status(8, StatusResolved)},
			now:      3,
			firstDue: mins(15), resDue: mins(day),
			next: Event{Kind: EventWarning, Clock: ClockFirstResponse, At: mins(11.25)},
		},
	}
	e := alwaysOn(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := e.Evaluate(History{Priority: PriorityNormal, OpenedAt: base, Messages: tt.messages, StatusChanges: tt.changes}, mins(tt.now))
			if err != nil {
				t.Fatal(err)
			}
			wantAt(t, "FirstResponseDue", s.FirstResponseDue, tt.firstDue)
			wantAt(t, "NextResponseDue", s.NextResponseDue, tt.nextDue)
			wantAt(t, "ResolutionDue", s.ResolutionDue, tt.resDue)
			wantAt(t, "FirstRespondedAt", s.FirstRespondedAt, tt.responded)
			wantAt(t, "ResolvedAt", s.ResolvedAt, tt.resolved)
			if !slices.Equal(s.Breached, append([]string{}, tt.breached...)) || s.Breached == nil {
				t.Errorf("Breached = %q, want %q", s.Breached, tt.breached)
			}
			wantEvent(t, s.NextEvent, tt.next.Kind, tt.next.Clock, tt.next.At)
			if tt.check != nil {
				tt.check(t, s)
			}
		})
	}
}

// TestEvaluateBusinessHours checks warning and breach instants against
// Moscow office hours: a two-hour first-response target set on Friday at
// 17:00 warns (at 25%) at 17:30 and runs out on Monday at 10:00.
func TestEvaluateBusinessHours(t *testing.T) {
	const msk = "Europe/Moscow"
	e, err := Compile(Policy{
		Targets:       map[Priority]Targets{PriorityHigh: {FirstResponse: 7200, FollowUp: 1800, Resolution: 86400}},
		BusinessHours: officeHours(msk, "2027-01-12"),
		WarnAt:        0.25,
	})
	if err != nil {
		t.Fatal(err)
	}
	opened := at(t, msk, "2027-01-08 17:00")
	h := History{Priority: PriorityHigh, OpenedAt: opened, Messages: []Message{{At: opened, Side: SideClient}}}
	tests := []struct {
		name     string
		now      string
		next     Event
		breached []string
	}{
		{"before the warning", "2027-01-08 17:20", Event{Kind: EventWarning, Clock: ClockFirstResponse, At: at(t, msk, "2027-01-08 17:30")}, nil},
		{"warned over the weekend", "2027-01-09 12:00", Event{Kind: EventBreach, Clock: ClockFirstResponse, At: at(t, msk, "2027-01-11 10:00")}, nil},
		{"breached on monday", "2027-01-11 10:00", Event{Kind: EventWarning, Clock: ClockResolution, At: at(t, msk, "2027-01-11 15:00")}, []string{ClockFirstResponse}},
		// 24 business hours: Fri 1 h, Mon 8 h, Tue is a holiday, Wed 8 h, Thu 7 h;
		// its warning at 6 h: Fri 1 h, Mon 09:00–13:00 and 14:00–15:00.
		{"resolution breached thursday", "2027-01-14 17:00", Event{}, []string{ClockFirstResponse, ClockResolution}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := e.Evaluate(h, at(t, msk, tt.now))
			if err != nil {
				t.Fatal(err)
			}
			wantAt(t, "ResolutionDue", s.ResolutionDue, at(t, msk, "2027-01-14 17:00"))
			wantAt(t, "FirstResponseDue", s.FirstResponseDue, at(t, msk, "2027-01-11 10:00"))
			wantEvent(t, s.NextEvent, tt.next.Kind, tt.next.Clock, tt.next.At)
			if !slices.Equal(s.Breached, append([]string{}, tt.breached...)) {
				t.Errorf("Breached = %q, want %q", s.Breached, tt.breached)
			}
		})
	}
}

func TestEvaluatePriorityWithoutTargets(t *testing.T) {
	s, err := alwaysOn(t).Evaluate(History{Priority: PriorityLow, OpenedAt: base, Messages: []Message{client(0), team(7)}}, mins(100))
	if err != nil {
		t.Fatal(err)
	}
	if s.FirstResponseDue != nil || s.ResolutionDue != nil || s.NextEvent != nil || len(s.Breached) != 0 {
		t.Errorf("state %+v", s)
	}
	if s.FirstResponse.Elapsed != 7*time.Minute {
		t.Errorf("first response not measured: %+v", s.FirstResponse)
	}
}

func TestHistoryValidate(t *testing.T) {
	h := History{
		Priority:      "p1",
		Messages:      []Message{client(0), {At: mins(1), Side: "bot"}},
		StatusChanges: []StatusChange{status(2, "closed"), {Status: StatusOpen}},
	}
	_, err := alwaysOn(t).Evaluate(h, mins(5))
	want := []string{"priority", "opened_at", "messages[1].side", "status_changes[0].status", "status_changes[1].at"}
	if got := fieldsOf(t, err); !slices.Equal(got, want) {
		t.Errorf("fields %q, want %q", got, want)
	}
}

func BenchmarkEvaluate(b *testing.B) {
	e, err := Compile(validPolicy())
	if err != nil {
		b.Fatal(err)
	}
	h := History{Priority: PriorityNormal, OpenedAt: base}
	for i := range 50 {
		m := float64(i * 47)
		h.Messages = append(h.Messages, client(m), team(m+20))
	}
	h.StatusChanges = []StatusChange{status(600, StatusWaitingOnClient), status(900, StatusOpen)}
	now := mins(3000)
	for b.Loop() {
		if _, err := e.Evaluate(h, now); err != nil {
			b.Fatal(err)
		}
	}
}
