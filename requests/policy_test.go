package requests

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/keycare/keycare"
)

func validPolicy() Policy {
	return Policy{
		Targets: map[Priority]Targets{
			PriorityNormal: {FirstResponse: 900, FollowUp: 1800, Resolution: 86400},
			PriorityUrgent: {FirstResponse: 300, FollowUp: 600, Resolution: 14400},
		},
		BusinessHours: officeHours("Europe/Moscow", "2027-01-01"),
		WarnAt:        0.75,
	}
}

func TestPolicyJSON(t *testing.T) {
	const doc = `{
		"targets": {"normal": {"first_response": 900, "follow_up": 1800, "resolution": 86400}},
		"business_hours": {"timezone": "Europe/Moscow",
			"weekly": {"mon": [["09:00", "13:00"], ["14:00", "18:00"]], "sat": []},
			"holidays": ["2027-01-01"]},
		"warn_at": 0.8
	}`
	var p Policy
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if got := p.Targets[PriorityNormal]; got != (Targets{900, 1800, 86400}) {
		t.Errorf("targets %+v", got)
	}
	if p.WarnAt != 0.8 || p.BusinessHours.Weekly["mon"][1][0] != "14:00" || p.BusinessHours.Holidays[0] != "2027-01-01" {
		t.Errorf("decoded %+v", p)
	}
	t.Run("null business hours is 24/7", func(t *testing.T) {
		var p Policy
		if err := json.Unmarshal([]byte(`{"targets": {"low": {"first_response": 1, "follow_up": 1, "resolution": 1}}, "business_hours": null}`), &p); err != nil {
			t.Fatal(err)
		}
		e, err := Compile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !e.Schedule().Always() || e.Policy().WarnAt != DefaultWarnAt {
			t.Errorf("schedule always=%v warn_at=%v", e.Schedule().Always(), e.Policy().WarnAt)
		}
	})
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(p *Policy)
		fields []string // every field the error must name, in order
	}{
		{"valid", func(p *Policy) {}, nil},
		{"24/7", func(p *Policy) { p.BusinessHours = nil }, nil},
		{"warn_at unset means default", func(p *Policy) { p.WarnAt = 0 }, nil},
		{"night shift with 24:00", func(p *Policy) { p.BusinessHours = nightShift("Asia/Kolkata") }, nil},
		{"touching periods", func(p *Policy) {
			p.BusinessHours.Weekly["mon"] = []Period{{"09:00", "13:00"}, {"13:00", "18:00"}}
		}, nil},
		{"no targets", func(p *Policy) { p.Targets = nil }, []string{"targets"}},
		{"unknown priority", func(p *Policy) { p.Targets["critical"] = Targets{1, 1, 1} }, []string{"targets.critical"}},
		{"zero and too long targets", func(p *Policy) {
			p.Targets[PriorityNormal] = Targets{FirstResponse: 0, FollowUp: -5, Resolution: MaxTarget + 1}
		}, []string{"targets.normal.first_response", "targets.normal.follow_up", "targets.normal.resolution"}},
		{"90 days is allowed", func(p *Policy) { p.Targets[PriorityNormal] = Targets{MaxTarget, MaxTarget, MaxTarget} }, nil},
		{"bad timezone", func(p *Policy) { p.BusinessHours.Timezone = "Mars/Olympus" }, []string{"business_hours.timezone"}},
		{"local timezone", func(p *Policy) { p.BusinessHours.Timezone = "Local" }, []string{"business_hours.timezone"}},
		{"unknown weekday", func(p *Policy) { p.BusinessHours.Weekly["monday"] = []Period{{"09:00", "18:00"}} }, []string{"business_hours.weekly.monday"}},
		{"bad times", func(p *Policy) {
			p.BusinessHours.Weekly["tue"] = []Period{{"9:00", "18:00"}, {"19:00", "24:01"}, {"24:00", "24:00"}, {"20:60", "21:00"}}
		}, []string{"business_hours.weekly.tue[0]", "business_hours.weekly.tue[1]", "business_hours.weekly.tue[2]", "business_hours.weekly.tue[3]"}},
		{"start not before end", func(p *Policy) { p.BusinessHours.Weekly["wed"] = []Period{{"18:00", "09:00"}} }, []string{"business_hours.weekly.wed[0]"}},
		{"not a pair", func(p *Policy) { p.BusinessHours.Weekly["thu"] = []Period{{"09:00", "12:00", "18:00"}} }, []string{"business_hours.weekly.thu[0]"}},
		{"overlapping", func(p *Policy) { p.BusinessHours.Weekly["fri"] = []Period{{"09:00", "13:00"}, {"12:00", "18:00"}} }, []string{"business_hours.weekly.fri[1]"}},
		{"unsorted", func(p *Policy) { p.BusinessHours.Weekly["fri"] = []Period{{"14:00", "18:00"}, {"09:00", "13:00"}} }, []string{"business_hours.weekly.fri[1]"}},
		{"never open", func(p *Policy) { p.BusinessHours.Weekly = map[string][]Period{"sun": {}} }, []string{"business_hours.weekly"}},
		{"bad holidays", func(p *Policy) {
			p.BusinessHours.Holidays = []string{"2027-02-30", "01.01.2027", "2027-01-01", "2027-01-01"}
		},
			[]string{"business_hours.holidays[0]", "business_hours.holidays[1]", "business_hours.holidays[3]"}},
		{"warn_at 1", func(p *Policy) { p.WarnAt = 1 }, []string{"warn_at"}},
		{"warn_at negative", func(p *Policy) { p.WarnAt = -0.5 }, []string{"warn_at"}},
		{"warn_at NaN", func(p *Policy) { p.WarnAt = math.NaN() }, []string{"warn_at"}},
		{"everything at once", func(p *Policy) {
			p.Targets[PriorityHigh] = Targets{1, 0, 1}
			p.BusinessHours.Timezone = ""
			p.WarnAt = 2
		}, []string{"targets.high.follow_up", "business_hours.timezone", "warn_at"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validPolicy()
			tt.edit(&p)
			err := p.Validate()
			if got := fieldsOf(t, err); !slices.Equal(got, tt.fields) {
				t.Errorf("fields %q, want %q (err: %v)", got, tt.fields, err)
			}
			if _, cerr := Compile(p); (cerr == nil) != (err == nil) {
				t.Errorf("Compile err %v, Validate err %v", cerr, err)
			}
		})
	}
}

// fieldsOf returns the fields an EINVALID error names, failing on any other error.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var e *keycare.Error
	if !errors.As(err, &e) || e.Code != keycare.EINVALID {
		t.Fatalf("want an EINVALID *keycare.Error, got %v", err)
	}
	var fields []string
	for _, f := range e.Fields {
		fields = append(fields, f.Field)
	}
	return fields
}

func TestBusinessHoursValidateStandalone(t *testing.T) {
	bh := &BusinessHours{Timezone: "Nowhere", Weekly: map[string][]Period{"mon": {{"09:00", "18:00"}}}}
	if got := fieldsOf(t, bh.Validate()); !slices.Equal(got, []string{"timezone"}) {
		t.Errorf("fields %q", got)
	}
	if _, err := NewSchedule(bh); !slices.Equal(fieldsOf(t, err), []string{"timezone"}) {
		t.Errorf("NewSchedule err %v", err)
	}
}
