// Package epcodec stores an endpoint's request options the same way in
// both stores: headers and auth as JSON sealed with the store's secret box
// (they hold secrets), the retry schedule as a JSON array of nanoseconds.
// An option that is not set is stored as "".
package epcodec

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/internal/secretbox"
)

// Stored is an endpoint's options as stored.
type Stored struct {
	Headers       string
	Auth          string
	RetrySchedule string
	TimeoutMS     int64
}

// Encode returns the options of ep as stored, headers and auth sealed with
// box (plain without a key).
func Encode(box *secretbox.Box, ep *hookline.Endpoint) (Stored, error) {
	var st Stored
	if len(ep.Headers) > 0 {
		b, err := json.Marshal(ep.Headers)
		if err != nil {
			return st, fmt.Errorf("endpoint %s: headers: %w", ep.ID, err)
		}
		st.Headers = box.Seal(string(b), ep.ID+"/headers")
	}
	if ep.Auth != nil {
		b, err := json.Marshal(ep.Auth)
		if err != nil {
			return st, fmt.Errorf("endpoint %s: auth: %w", ep.ID, err)
		}
		st.Auth = box.Seal(string(b), ep.ID+"/auth")
	}
	if len(ep.RetrySchedule) > 0 {
		b, _ := json.Marshal(ep.RetrySchedule) // []time.Duration: integers
		st.RetrySchedule = string(b)
	}
	st.TimeoutMS = ep.Timeout.Milliseconds()
	return st, nil
}

// Decode sets the options of ep from st, opening headers and auth with box.
// Its errors name the endpoint and the key ID, never a value.
func Decode(box *secretbox.Box, ep *hookline.Endpoint, st Stored) error {
	ep.Headers, ep.Auth, ep.RetrySchedule = nil, nil, nil
	if st.Headers != "" {
		plain, err := box.Open(st.Headers, ep.ID+"/headers")
		if err != nil {
			return fmt.Errorf("endpoint %s: headers: %w", ep.ID, err)
		}
		if err := json.Unmarshal([]byte(plain), &ep.Headers); err != nil {
			return fmt.Errorf("endpoint %s: headers: not a JSON object", ep.ID)
		}
	}
	if st.Auth != "" {
		plain, err := box.Open(st.Auth, ep.ID+"/auth")
		if err != nil {
			return fmt.Errorf("endpoint %s: auth: %w", ep.ID, err)
		}
		ep.Auth = new(hookline.EndpointAuth)
		if err := json.Unmarshal([]byte(plain), ep.Auth); err != nil {
			return fmt.Errorf("endpoint %s: auth: not a JSON object", ep.ID)
		}
	}
	if st.RetrySchedule != "" {
		if err := json.Unmarshal([]byte(st.RetrySchedule), &ep.RetrySchedule); err != nil {
			return fmt.Errorf("endpoint %s: retry_schedule: %w", ep.ID, err)
		}
	}
	ep.Timeout = time.Duration(st.TimeoutMS) * time.Millisecond
	return nil
}

// Current reports whether the sealed options of st are as box seals them
// now (see secretbox.Box.Current).
func Current(box *secretbox.Box, st Stored) bool {
	return box.Current(st.Headers) && box.Current(st.Auth)
}

// Plain reports whether st holds a secret option in plain.
func Plain(st Stored) bool {
	return (st.Headers != "" && !secretbox.IsSealed(st.Headers)) || (st.Auth != "" && !secretbox.IsSealed(st.Auth))
}

// Clone copies the options of src into dst, deeply.
func Clone(dst, src *hookline.Endpoint) {
	dst.Headers = maps.Clone(src.Headers)
	dst.RetrySchedule = slices.Clone(src.RetrySchedule)
	if src.Auth != nil {
		a := *src.Auth
		dst.Auth = &a
	}
}

// Apply applies the options of u to ep.
func Apply(ep *hookline.Endpoint, u *hookline.EndpointUpdate) {
	if u.SetHeaders {
		ep.Headers = maps.Clone(u.Headers)
		if len(ep.Headers) == 0 {
			ep.Headers = nil
		}
	}
	if u.Timeout != nil {
		ep.Timeout = *u.Timeout
	}
	if u.SetRetrySchedule {
		ep.RetrySchedule = slices.Clone(u.RetrySchedule)
		if len(ep.RetrySchedule) == 0 {
			ep.RetrySchedule = nil
		}
	}
	if u.SetAuth {
		ep.Auth = nil
		if u.Auth != nil {
			a := *u.Auth
			ep.Auth = &a
		}
	}
}

// Reseal returns the sealed options of st (headers and auth) as box seals
// them now, for the endpoint id: opened with the key that sealed them,
// sealed with the current one (or plain without one).
func Reseal(box *secretbox.Box, id string, st Stored) (Stored, error) {
	for _, f := range []struct {
		v    *string
		name string
	}{{&st.Headers, "headers"}, {&st.Auth, "auth"}} {
		plain, err := box.Open(*f.v, id+"/"+f.name)
		if err != nil {
			return st, fmt.Errorf("endpoint %s: %s: %w", id, f.name, err)
		}
		*f.v = box.Seal(plain, id+"/"+f.name)
	}
	return st, nil
}
