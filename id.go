package keycare

import (
	"bytes"
	"encoding/json"

	"github.com/google/uuid"
)

// NewID returns a new opaque id. UUIDv7 ids sort by creation time, so a
// list ordered by id is ordered by age and needs no second cursor key.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// ValidID reports whether s has the shape of an id Keycare issues.
func ValidID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

// Unchanged reports whether two states of a record render the same JSON: an
// update that changes nothing is not written, versioned or audited.
func Unchanged(before, after any) bool {
	a, errA := json.Marshal(before)
	b, errB := json.Marshal(after)
	return errA == nil && errB == nil && bytes.Equal(a, b)
}
