package keycare

import "github.com/google/uuid"

// NewID returns a new opaque id. UUIDv7 ids sort by creation time, so a
// list ordered by id is ordered by age and needs no second cursor key.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// ValidID reports whether s has the shape of an id Keycare issues.
func ValidID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}
