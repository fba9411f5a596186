package hookline

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status in package api, in one place.
const (
	EINVALID      = "invalid"                // 400: bad input; Message names the field
	EUNAUTHORIZED = "unauthorized"           // 401: missing or wrong API key
	EFORBIDDEN    = "forbidden"              // 403: the key may not do this (a tenant key on /v1/keys, or naming another tenant)
	ENOTFOUND     = "not_found"              // 404
	EMETHOD       = "method_not_allowed"     // 405
	ECONFLICT     = "conflict"               // 409: e.g. an idempotency key reused with another body
	ETOOLARGE     = "payload_too_large"      // 413
	EMEDIATYPE    = "unsupported_media_type" // 415
	ERATELIMIT    = "rate_limited"           // 429: too many requests with one API key
	EUNAVAILABLE  = "unavailable"            // 503: store down, or backlog over its bound
	EINTERNAL     = "internal"               // 500: a bug; the only kind that is logged
)

// ErrCommitUnknown marks the error of a write whose COMMIT was sent but not
// confirmed: its reply was lost, or its deadline passed while the store was
// committing. The write may have been applied or not. A store wraps its
// error with it (errors.Is finds it); any other error of a write means that
// nothing of it was written.
var ErrCommitUnknown = errors.New("the outcome of the commit is unknown")

// Error is the one error type of Hookline. Code is one of the E* constants;
// Message is written for a person and is safe to show to API clients.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string { return fmt.Sprintf("hookline: %s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) && e != nil {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or a
// generic message for internal errors, whose text is not shown to clients.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) && e != nil {
		return e.Message
	}
	return "Internal error."
}
