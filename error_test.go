package hookline_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/hookline/hookline"
)

func TestError(t *testing.T) {
	t.Parallel()
	err := hookline.Errorf(hookline.ENOTFOUND, "endpoint %q not found", "ep_1")
	if err.Code != hookline.ENOTFOUND || err.Message != `endpoint "ep_1" not found` {
		t.Errorf("Errorf = %+v", err)
	}
	if got, want := err.Error(), `hookline: not_found: endpoint "ep_1" not found`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got := hookline.Errorf(hookline.EINVALID, "100%% bad"); got.Message != "100% bad" {
		t.Errorf("Errorf without args: Message = %q", got.Message)
	}
}

func TestErrorCodeAndMessage(t *testing.T) {
	t.Parallel()
	notFound := hookline.Errorf(hookline.ENOTFOUND, "Event not found.")
	invalid := hookline.Errorf(hookline.EINVALID, "url: must be https")
	for _, tt := range []struct {
		name        string
		err         error
		wantCode    string
		wantMessage string
	}{
		{"Nil", nil, "", ""},
		{"Direct", notFound, hookline.ENOTFOUND, "Event not found."},
		{"Value", &hookline.Error{Code: hookline.ECONFLICT, Message: "key reused"}, hookline.ECONFLICT, "key reused"},
		{"Wrapped", fmt.Errorf("find event: %w", notFound), hookline.ENOTFOUND, "Event not found."},
		{"WrappedTwice", fmt.Errorf("replay: %w", fmt.Errorf("find event: %w", notFound)), hookline.ENOTFOUND, "Event not found."},
		{"JoinedFirstWins", errors.Join(invalid, notFound), hookline.EINVALID, "url: must be https"},
		{"JoinedAfterPlain", errors.Join(errors.New("disk full"), notFound), hookline.ENOTFOUND, "Event not found."},
		{"Plain", errors.New("database is locked"), hookline.EINTERNAL, "Internal error."},
		{"PlainWrapped", fmt.Errorf("ingest: %w", context.DeadlineExceeded), hookline.EINTERNAL, "Internal error."},
		{"OuterPlainTextHidden", fmt.Errorf("secret detail: %w", invalid), hookline.EINVALID, "url: must be https"},
		{"Internal", hookline.Errorf(hookline.EINTERNAL, "bug"), hookline.EINTERNAL, "bug"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := hookline.ErrorCode(tt.err); got != tt.wantCode {
				t.Errorf("ErrorCode(%v) = %q, want %q", tt.err, got, tt.wantCode)
			}
			if got := hookline.ErrorMessage(tt.err); got != tt.wantMessage {
				t.Errorf("ErrorMessage(%v) = %q, want %q", tt.err, got, tt.wantMessage)
			}
		})
	}
}
