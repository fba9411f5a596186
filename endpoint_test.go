package hookline_test

import (
	"strings"
	"testing"

	"github.com/hookline/hookline"
)

func TestEndpointMatches(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		eventTypes []string
		eventType  string
		want       bool
	}{
		{"NilMatchesAll", nil, "invoice.paid", true},
		{"EmptyMatchesAll", []string{}, "user.created", true},
		{"StarMatchesAll", []string{"*"}, "invoice.paid", true},
		{"StarAmongOthers", []string{"user.created", "*"}, "invoice.paid", true},
		{"Exact", []string{"invoice.paid"}, "invoice.paid", true},
		{"ExactAmongOthers", []string{"user.created", "invoice.paid"}, "invoice.paid", true},
		{"ExactIsCaseSensitive", []string{"invoice.paid"}, "Invoice.Paid", false},
		{"ExactNoMatch", []string{"invoice.paid"}, "invoice.failed", false},
		{"ExactIsNotPrefix", []string{"invoice"}, "invoice.paid", false},
		{"ExactIsNotLonger", []string{"invoice.paid.late"}, "invoice.paid", false},
		{"Prefix", []string{"invoice.*"}, "invoice.paid", true},
		{"PrefixDeeper", []string{"invoice.*"}, "invoice.payment.failed", true},
		{"PrefixNeedsDot", []string{"invoice.*"}, "invoices.paid", false},
		{"PrefixNotBare", []string{"invoice.*"}, "invoice", false},
		{"PrefixOtherType", []string{"invoice.*"}, "user.created", false},
		{"PrefixNested", []string{"invoice.payment.*"}, "invoice.payment.failed", true},
		{"PrefixNestedNoMatch", []string{"invoice.payment.*"}, "invoice.paid", false},
		{"SeveralNoMatch", []string{"user.*", "invoice.paid", "order.created"}, "invoice.failed", false},
		{"EmptyEntry", []string{""}, "invoice.paid", false},
		{"NilSkipsOperational", nil, hookline.EventEndpointFailing, false},
		{"EmptySkipsOperational", []string{}, hookline.EventDeliveryFailed, false},
		{"StarSkipsOperational", []string{"*"}, hookline.EventEndpointDisabled, false},
		{"OperationalExact", []string{"*", hookline.EventEndpointFailing}, hookline.EventEndpointFailing, true},
		{"OperationalExactOnlyThat", []string{hookline.EventEndpointFailing}, hookline.EventEndpointRecovered, false},
		{"OperationalPrefix", []string{"hookline.*"}, hookline.EventDeliveryFailed, true},
		{"OperationalNestedPrefix", []string{"hookline.endpoint.*"}, hookline.EventEndpointRecovered, true},
		{"OperationalNestedPrefixOther", []string{"hookline.endpoint.*"}, hookline.EventDeliveryFailed, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := &hookline.Endpoint{EventTypes: tt.eventTypes}
			if got := e.Matches(tt.eventType); got != tt.want {
				t.Errorf("Endpoint{EventTypes: %q}.Matches(%q) = %v, want %v", tt.eventTypes, tt.eventType, got, tt.want)
			}
		})
	}

	t.Run("IgnoresDisabledAndTenant", func(t *testing.T) {
		t.Parallel()
		e := &hookline.Endpoint{Tenant: "acme", Disabled: true, EventTypes: []string{"invoice.paid"}}
		if !e.Matches("invoice.paid") {
			t.Error("a disabled endpoint does not match; Matches should not look at Disabled")
		}
	})
}

func TestEndpointOperational(t *testing.T) {
	t.Parallel()
	for types, want := range map[string]bool{
		"":                                 false,
		"*":                                false,
		"invoice.*":                        false,
		"hookline.*":                       true,
		"invoice.paid,hookline.endpoint.*": true,
		"hookline.delivery.failed":         true,
		"hooklinex.*":                      false,
	} {
		var et []string
		if types != "" {
			et = strings.Split(types, ",")
		}
		if got := (&hookline.Endpoint{EventTypes: et}).Operational(); got != want {
			t.Errorf("Operational(%q) = %v, want %v", types, got, want)
		}
	}
}
