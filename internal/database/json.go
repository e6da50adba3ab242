package database

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
)

// JSON is a jsonb column on PostgreSQL and a TEXT column on SQLite.
type JSON json.RawMessage

// NewJSON marshals v into a JSON column value.
func NewJSON(v any) JSON {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("database.NewJSON: %v", err)) // only called with marshalable domain values
	}
	return JSON(b)
}

// Value implements driver.Valuer.
func (j JSON) Value() (driver.Value, error) {
	if j == nil {
		return nil, nil
	}
	return string(j), nil
}

// Scan implements sql.Scanner.
func (j *JSON) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*j = nil
	case []byte:
		*j = append((*j)[:0], v...)
	case string:
		*j = JSON(v)
	default:
		return fmt.Errorf("database.JSON: cannot scan %T", src)
	}
	return nil
}

// Decode unmarshals the column into v; an empty column leaves v as is.
func (j JSON) Decode(v any) error {
	if len(j) == 0 {
		return nil
	}
	return json.Unmarshal(j, v)
}

// MarshalJSON implements json.Marshaler so a column can be sent as is.
func (j JSON) MarshalJSON() ([]byte, error) {
	if len(j) == 0 {
		return []byte("null"), nil
	}
	return j, nil
}

// UnmarshalJSON implements json.Unmarshaler: the value is kept as raw JSON.
func (j *JSON) UnmarshalJSON(b []byte) error {
	*j = append((*j)[:0], b...)
	return nil
}
