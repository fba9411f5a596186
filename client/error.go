package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hookline/hookline"
)

// Error is an error answer of the API. Code is one of the hookline.E*
// constants ("invalid", "unauthorized", "forbidden", "not_found",
// "method_not_allowed", "conflict", "payload_too_large",
// "unsupported_media_type", "rate_limited", "unavailable", "internal");
// Message is the API's, written for a person and naming the field at
// fault. An answer that is not the API's JSON (from a proxy in front, say)
// gets the code of its status and its first bytes as Message.
//
// errors.As(err, new(*hookline.Error)) also finds it, so hookline.ErrorCode
// reads its code.
type Error struct {
	StatusCode int
	Code       string
	Message    string
	// RetryAfter is the Retry-After of a 429 or 503 answer; zero when
	// there is none.
	RetryAfter time.Duration

	body []byte
}

// Error implements error: "not_found (404): endpoint \"ep_…\" not found".
func (e *Error) Error() string {
	return fmt.Sprintf("%s (%d): %s", e.Code, e.StatusCode, e.Message)
}

// Unwrap returns the error as a *hookline.Error.
func (e *Error) Unwrap() error { return &hookline.Error{Code: e.Code, Message: e.Message} }

// Code returns the API error code of err ("not_found", …), or "" when err
// is nil or not an answer of the API (a connection refused, a timeout).
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// IsNotFound reports whether err is the API's 404 not_found.
func IsNotFound(err error) bool { return Code(err) == hookline.ENOTFOUND }

// statusCodes maps a status to the code the API answers it with, for
// answers that do not say.
var statusCodes = map[int]string{
	http.StatusBadRequest:            hookline.EINVALID,
	http.StatusUnauthorized:          hookline.EUNAUTHORIZED,
	http.StatusForbidden:             hookline.EFORBIDDEN,
	http.StatusNotFound:              hookline.ENOTFOUND,
	http.StatusMethodNotAllowed:      hookline.EMETHOD,
	http.StatusConflict:              hookline.ECONFLICT,
	http.StatusRequestEntityTooLarge: hookline.ETOOLARGE,
	http.StatusUnsupportedMediaType:  hookline.EMEDIATYPE,
	http.StatusTooManyRequests:       hookline.ERATELIMIT,
	http.StatusBadGateway:            hookline.EUNAVAILABLE,
	http.StatusServiceUnavailable:    hookline.EUNAVAILABLE,
	http.StatusGatewayTimeout:        hookline.EUNAVAILABLE,
}

// newError reads an error answer.
func newError(resp *http.Response, body []byte) *Error {
	e := &Error{StatusCode: resp.StatusCode, body: body}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	var v struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &v) == nil && v.Error != "" {
		e.Code, e.Message = v.Error, v.Message
		return e
	}
	e.Code = statusCodes[resp.StatusCode]
	if e.Code == "" {
		e.Code = hookline.EINTERNAL
	}
	text := strings.TrimSpace(string(body))
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	e.Message = strings.TrimSpace(resp.Status + ": " + text)
	if text == "" {
		e.Message = resp.Status
	}
	return e
}
