package keycare

import (
	"errors"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/go-playground/validator/v10"
)

var (
	validatorOnce sync.Once
	validate      *validator.Validate
)

var (
	monthPattern = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)
	slugPattern  = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
)

// theValidator returns the shared validator, built once: it caches struct
// metadata, so building one per call would waste the cache.
func theValidator() *validator.Validate {
	validatorOnce.Do(func() {
		v := validator.New(validator.WithRequiredStructEnabled())
		v.RegisterTagNameFunc(func(f reflect.StructField) string {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				return ""
			}
			if name == "" {
				return f.Name
			}
			return name
		})
		must(v.RegisterValidation("month", func(fl validator.FieldLevel) bool { return ValidMonth(fl.Field().String()) }))
		must(v.RegisterValidation("date", func(fl validator.FieldLevel) bool { return ValidDate(fl.Field().String()) }))
		must(v.RegisterValidation("currency", func(fl validator.FieldLevel) bool { return ValidCurrency(fl.Field().String()) }))
		must(v.RegisterValidation("timezone", func(fl validator.FieldLevel) bool { return ValidTimezone(fl.Field().String()) }))
		must(v.RegisterValidation("slug", func(fl validator.FieldLevel) bool { return slugPattern.MatchString(fl.Field().String()) }))
		must(v.RegisterValidation("id", func(fl validator.FieldLevel) bool { return ValidID(fl.Field().String()) }))
		validate = v
	})
	return validate
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// Validate checks s against its `validate` tags and returns an EINVALID
// *Error naming every failed field by its JSON name, or nil.
func Validate(s any) error {
	err := theValidator().Struct(s)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return err
	}
	var v Validation
	for _, fe := range verrs {
		v.Add(fieldPath(fe.Namespace()), "%s", describe(fe))
	}
	return v.Err()
}

// fieldPath drops the struct name validator puts first: "AccountInput.tags[0]" → "tags[0]".
func fieldPath(ns string) string {
	if _, rest, ok := strings.Cut(ns, "."); ok {
		return rest
	}
	return ns
}

func describe(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "is required"
	case "oneof":
		return "must be one of: " + strings.ReplaceAll(fe.Param(), " ", ", ")
	case "max":
		if fe.Kind() == reflect.String {
			return "must be at most " + fe.Param() + " characters"
		}
		return "must be at most " + fe.Param()
	case "min":
		if fe.Kind() == reflect.String {
			return "must be at least " + fe.Param() + " characters"
		}
		return "must be at least " + fe.Param()
	case "email":
		return "must be an email address"
	case "month":
		return "must be a month as YYYY-MM"
	case "date":
		return "must be a date as YYYY-MM-DD"
	case "currency":
		return "must be an ISO 4217 currency code, e.g. EUR"
	case "timezone":
		return "must be an IANA time zone, e.g. Europe/Moscow"
	case "slug":
		return "must be lowercase letters, digits and single dashes"
	case "id":
		return "must be an id"
	case "e164":
		return "must be a phone number in international format, e.g. +79001234567"
	case "dive", "unique":
		return "must not repeat values"
	}
	return "is not valid (" + fe.Tag() + ")"
}

// ValidMonth reports whether s is a month as YYYY-MM.
func ValidMonth(s string) bool { return monthPattern.MatchString(s) }

// ValidDate reports whether s is a real calendar date as YYYY-MM-DD.
func ValidDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

// ValidTimezone reports whether s is an IANA time zone name.
func ValidTimezone(s string) bool {
	if s == "" || s == "Local" {
		return false
	}
	_, err := time.LoadLocation(s)
	return err == nil
}

// ValidateVar checks one value against a validator rule and names it field.
func ValidateVar(value any, field, rule string) error {
	err := theValidator().Var(value, rule)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return err
	}
	var v Validation
	for _, fe := range verrs {
		name := field
		if ns := fe.Namespace(); strings.HasPrefix(ns, "[") {
			name += ns
		}
		v.Add(name, "%s", describe(fe))
	}
	return v.Err()
}
