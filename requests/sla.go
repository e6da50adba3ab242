package requests

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/keycare/keycare"
)

// Clock names, as they appear in a request's breached list, in alerts and in
// metrics (SPEC §13).
const (
	ClockFirstResponse = "first_response"
	ClockFollowUp      = "follow_up"
	ClockResolution    = "resolution"
)

// Side says who wrote a message: the client's people or the Care team.
type Side string

// The sides of a conversation.
const (
	SideClient Side = "client"
	SideTeam   Side = "team"
)

// Status is a request's status (SPEC §5).
type Status string

// The statuses a request moves between. Every clock pauses while the
// request waits on the client or is resolved.
const (
	StatusOpen            Status = "open"
	StatusWaitingOnClient Status = "waiting_on_client"
	StatusResolved        Status = "resolved"
)

// Message is what the SLA needs of a message: when, and from which side.
type Message struct {
	At   time.Time
	Side Side
}

// StatusChange records that the request entered Status at At. A reopen is
// a change from resolved back to open (or to waiting_on_client).
type StatusChange struct {
	At     time.Time
	Status Status
}

// History is everything about a request that its SLA clocks depend on.
// The request is open at OpenedAt; messages and changes before it are
// ignored, and so are those after the evaluation's now, so a history can
// be evaluated as of any past instant.
type History struct {
	Priority      Priority
	OpenedAt      time.Time
	Messages      []Message      // in the order they were written
	StatusChanges []StatusChange // in the order they happened
}

// EventKind is what the scheduler must do at an event's instant; the values
// are the alert webhook's event names (SPEC §13).
type EventKind string

// The notifications an SLA clock produces.
const (
	EventWarning EventKind = "sla.warning" // warn_at of the target elapsed: tell the owner
	EventBreach  EventKind = "sla.breach"  // the target elapsed: tell the backup and the leads
)

// Event is one warning or breach instant of one clock.
type Event struct {
	Kind  EventKind
	Clock string    // ClockFirstResponse, ClockFollowUp or ClockResolution
	At    time.Time // when it happens: the warning instant or the due time
	// DueAt is the clock's due time (the webhook's due_at); zero on a warning
	// whose clock was paused after it, as the due time then is not known yet.
	DueAt time.Time
	// ClockStart tells follow-up clocks apart: with DueAt it keys the
	// notification so each is sent once however often the state is computed.
	ClockStart time.Time
}

// ClockState is one clock of one request as of the evaluation's now.
type ClockState struct {
	Name      string
	Target    time.Duration // zero when the policy sets no target for the priority
	StartedAt time.Time
	// StoppedAt is the team reply that answered a reply clock, or the
	// resolution that stopped the resolution clock; nil while it runs or is paused.
	StoppedAt *time.Time
	Paused    bool          // waiting_on_client or resolved now, and not stopped
	Elapsed   time.Duration // business time counted, pauses excluded: the metric once StoppedAt is set
	// WarnAt and DueAt are when warn_at of the target and the whole target
	// elapse. For a stopped clock they are as they stood when it stopped; they
	// are nil while a pause that began before them is still open, because they
	// then depend on when the clock resumes.
	WarnAt   *time.Time
	DueAt    *time.Time
	Breached bool // the target elapsed before StoppedAt (or by now, if not stopped)
}

// State is a request's SLA as of one instant: what the request row shows,
// what the scheduler arms, and what metrics read.
type State struct {
	FirstResponseDue *time.Time
	NextResponseDue  *time.Time // the running follow-up clock's due time
	ResolutionDue    *time.Time
	FirstRespondedAt *time.Time
	ResolvedAt       *time.Time // set only while the request is resolved
	Breached         []string   // clock names, in the order first_response, follow_up, resolution; never nil

	// Events are every warning and breach that has happened or is scheduled
	// to, by instant. Those at or before now have happened: a notifier sends
	// the ones it has not sent yet, so a late or coalesced job loses none.
	Events []Event
	// NextEvent is the earliest event after now, the instant to arm a job
	// for; nil when no clock is running toward a warning or a breach.
	NextEvent *Event

	FirstResponse ClockState
	FollowUps     []ClockState // one per follow-up clock, oldest first; only the last can still run
	Resolution    ClockState
}

// Engine evaluates request histories under one validated policy. It is
// immutable and safe for concurrent use; build one per policy and cache it.
type Engine struct {
	policy   Policy
	schedule Schedule
}

// Compile validates p and prepares it for evaluation.
func Compile(p Policy) (*Engine, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	s, err := NewSchedule(p.BusinessHours)
	if err != nil {
		var v keycare.Validation
		if err := v.Merge("business_hours", err); err != nil {
			return nil, err
		}
		return nil, v.Err()
	}
	return &Engine{policy: clonePolicy(p.WithDefaults()), schedule: s}, nil
}

// Policy returns a copy of the compiled policy with its defaults filled in.
func (e *Engine) Policy() Policy { return clonePolicy(e.policy) }

// clonePolicy deep-copies p, so an Engine shares no maps or slices with its
// callers and stays safe for concurrent use whatever they do with theirs.
func clonePolicy(p Policy) Policy {
	p.Targets = maps.Clone(p.Targets)
	if bh := p.BusinessHours; bh != nil {
		c := *bh
		c.Holidays = slices.Clone(bh.Holidays)
		c.Weekly = make(map[string][]Period, len(bh.Weekly))
		for day, periods := range bh.Weekly {
			ps := make([]Period, len(periods))
			for i, per := range periods {
				ps[i] = slices.Clone(per)
			}
			c.Weekly[day] = ps
		}
		p.BusinessHours = &c
	}
	return p
}

// Schedule returns the business hours the engine's clocks run on.
func (e *Engine) Schedule() Schedule { return e.schedule }

// Validate checks a history's enumerations and times, naming bad fields
// by their JSON-ish path ("messages[3].side").
func (h History) Validate() error {
	var v keycare.Validation
	v.Check(h.Priority.Valid(), "priority", "must be one of: low, normal, high, urgent")
	v.Check(!h.OpenedAt.IsZero(), "opened_at", "is required")
	for i, m := range h.Messages {
		v.Check(m.Side == SideClient || m.Side == SideTeam, fmt.Sprintf("messages[%d].side", i), "must be client or team")
		v.Check(!m.At.IsZero(), fmt.Sprintf("messages[%d].at", i), "is required")
	}
	for i, c := range h.StatusChanges {
		v.Check(c.Status == StatusOpen || c.Status == StatusWaitingOnClient || c.Status == StatusResolved,
			fmt.Sprintf("status_changes[%d].status", i), "must be open, waiting_on_client or resolved")
		v.Check(!c.At.IsZero(), fmt.Sprintf("status_changes[%d].at", i), "is required")
	}
	return v.Err()
}

// step is one history entry on the merged time line.
type step struct {
	at     time.Time
	rank   int // order at equal instants, see Evaluate
	side   Side
	status Status
}

// Evaluate computes the request's SLA as of now. Call it again after every
// message and status change and when an armed event fires; it is cheap.
//
// How the history drives the clocks (SPEC §8, and choices where it is silent):
//   - first_response runs from OpenedAt to the first team message.
//   - follow_up: after the first team reply, the first client message after
//     the last team reply starts a clock and the next team reply stops it;
//     further client messages in between do not restart it, so a client who
//     writes three messages in a row waits on one clock from the first.
//   - resolution runs from OpenedAt to resolution. A reopen resumes it with
//     the time already counted: the resolved stretch is a pause like
//     waiting_on_client, so the measured resolution time is the business
//     time the request spent open in total.
//   - All clocks pause while the request is waiting_on_client or resolved,
//     so resolving without a reply leaves a reply clock paused (not met, not
//     breached) and a reopen resumes it. A client message ends
//     waiting_on_client (the client has answered); it does not end resolved:
//     reopening is the request service's decision and arrives as a status
//     change. Such a message still starts its follow-up clock, paused until
//     the reopen, so a reopen recorded a moment after it loses nothing.
//   - At equal instants, changes to open apply before messages and changes
//     away from open after them: a message that reopens a request starts a
//     follow-up clock, and a reply sent as the request is resolved counts.
//   - A priority the policy has no targets for gets clocks measured but no
//     due times, warnings or breaches.
func (e *Engine) Evaluate(h History, now time.Time) (State, error) {
	if err := h.Validate(); err != nil {
		return State{}, err
	}
	steps := make([]step, 0, len(h.Messages)+len(h.StatusChanges))
	for _, m := range h.Messages {
		steps = append(steps, step{at: m.At, rank: 1, side: m.Side})
	}
	for _, c := range h.StatusChanges {
		rank := 2
		if c.Status == StatusOpen {
			rank = 0
		}
		steps = append(steps, step{at: c.At, rank: rank, status: c.Status})
	}
	slices.SortStableFunc(steps, func(a, b step) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.rank - b.rank
	})

	var (
		status     = StatusOpen
		pauses     []Interval
		resolvedAt *time.Time
		firstReply *time.Time
		followUps  []Interval // End zero while unanswered
	)
	setStatus := func(s Status, at time.Time) {
		if s == status {
			return
		}
		switch {
		case status == StatusOpen:
			pauses = append(pauses, Interval{Start: at})
		case s == StatusOpen:
			pauses[len(pauses)-1].End = at
		}
		resolvedAt = nil
		if s == StatusResolved {
			resolvedAt = &at
		}
		status = s
	}
	for _, st := range steps {
		if st.at.Before(h.OpenedAt) || st.at.After(now) {
			continue
		}
		at := st.at
		switch {
		case st.status != "":
			setStatus(st.status, at)
		case st.side == SideClient:
			if status == StatusWaitingOnClient {
				setStatus(StatusOpen, at)
			}
			if firstReply != nil && (len(followUps) == 0 || !followUps[len(followUps)-1].Open()) {
				followUps = append(followUps, Interval{Start: at})
			}
		case st.side == SideTeam:
			if firstReply == nil {
				firstReply = &at
			} else if n := len(followUps); n > 0 && followUps[n-1].Open() {
				followUps[n-1].End = at
			}
		}
	}

	targets, hasTargets := e.policy.Targets[h.Priority]
	target := func(secs int) time.Duration {
		if !hasTargets {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	ev := evaluation{engine: e, pauses: pauses, now: now}
	out := State{
		FirstRespondedAt: firstReply,
		ResolvedAt:       resolvedAt,
		Breached:         []string{},
	}
	out.FirstResponse = ev.clock(ClockFirstResponse, h.OpenedAt, firstReply, target(targets.FirstResponse))
	out.FirstResponseDue = out.FirstResponse.DueAt
	for _, f := range followUps {
		var stop *time.Time
		if !f.Open() {
			stop = &f.End
		}
		out.FollowUps = append(out.FollowUps, ev.clock(ClockFollowUp, f.Start, stop, target(targets.FollowUp)))
	}
	if n := len(out.FollowUps); n > 0 && out.FollowUps[n-1].StoppedAt == nil {
		out.NextResponseDue = out.FollowUps[n-1].DueAt
	}
	out.Resolution = ev.clock(ClockResolution, h.OpenedAt, resolvedAt, target(targets.Resolution))
	out.ResolutionDue = out.Resolution.DueAt

	out.Events = ev.events
	slices.SortStableFunc(out.Events, func(a, b Event) int { return a.At.Compare(b.At) })
	for i := range out.Events {
		if out.Events[i].At.After(now) {
			out.NextEvent = &out.Events[i]
			break
		}
	}
	for _, name := range []string{ClockFirstResponse, ClockFollowUp, ClockResolution} {
		if slices.ContainsFunc(out.Events, func(x Event) bool {
			return x.Clock == name && x.Kind == EventBreach && !x.At.After(now)
		}) {
			out.Breached = append(out.Breached, name)
		}
	}
	return out, nil
}

// evaluation carries what every clock of one Evaluate call shares.
type evaluation struct {
	engine *Engine
	pauses []Interval
	now    time.Time
	events []Event
}

// clock builds one ClockState and records its events. A stopped clock is
// judged as it stood when it stopped: pauses that began at or after the
// stop do not move its due time.
func (ev *evaluation) clock(name string, start time.Time, stop *time.Time, target time.Duration) ClockState {
	c := Clock{Schedule: ev.engine.schedule, Start: start, Pauses: ev.pauses}
	end := ev.now
	if stop != nil {
		end = *stop
		i, _ := slices.BinarySearchFunc(c.Pauses, *stop, func(p Interval, t time.Time) int { return p.Start.Compare(t) })
		c.Pauses = c.Pauses[:i:i]
		if last := i - 1; last >= 0 && c.Pauses[last].End.After(*stop) {
			// Still paused when it stopped: as of then, the pause was open.
			c.Pauses = append(slices.Clone(c.Pauses[:last]), Interval{Start: c.Pauses[last].Start})
		}
	}
	cs := ClockState{
		Name:      name,
		Target:    target,
		StartedAt: start,
		StoppedAt: stop,
		Paused:    stop == nil && c.Paused(ev.now),
		Elapsed:   c.Elapsed(end),
	}
	if target <= 0 {
		return cs
	}
	// happened: a stopped clock warns or breaches only if that instant came
	// before the stop; a reply at the very due instant is on time.
	happened := func(at time.Time) bool { return stop == nil || at.Before(*stop) }
	if due, ok := c.Due(target); ok {
		cs.DueAt = &due
		if happened(due) {
			ev.events = append(ev.events, Event{Kind: EventBreach, Clock: name, At: due, DueAt: due, ClockStart: start})
			cs.Breached = !due.After(ev.now)
		}
		if warn, ok := c.Due(warnTarget(target, ev.engine.policy.WarnAt)); ok {
			cs.WarnAt = &warn
			if happened(warn) {
				ev.events = append(ev.events, Event{Kind: EventWarning, Clock: name, At: warn, DueAt: due, ClockStart: start})
			}
		}
	} else if warn, ok := c.Due(warnTarget(target, ev.engine.policy.WarnAt)); ok {
		// Paused after the warning but before the due time: the warning
		// happened, the breach is not scheduled until the clock resumes.
		cs.WarnAt = &warn
		if happened(warn) {
			ev.events = append(ev.events, Event{Kind: EventWarning, Clock: name, At: warn, ClockStart: start})
		}
	}
	return cs
}

// warnTarget is the warning share of a target, rounded to the second so
// warning instants are as readable as the targets themselves.
func warnTarget(target time.Duration, warnAt float64) time.Duration {
	secs := math.Round(target.Seconds() * warnAt)
	return time.Duration(secs) * time.Second
}
