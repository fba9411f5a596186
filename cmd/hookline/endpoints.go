package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/hookline/hookline/client"
)

// The commands `hookline endpoints …`.
func init() {
	var (
		limit  int
		tenant optString
	)
	register("endpoints", "list", &apiCommand{
		summary: "List endpoints, newest first.", max: 0,
		flags: func(fs *flag.FlagSet, x *inv) {
			limitFlag(fs, &limit)
			fs.Var(&tenant, "tenant", "only this tenant's (\"\" for the default tenant)")
		},
		run: func(x *inv) error {
			f := client.EndpointFilter{PageOptions: client.PageOptions{Limit: pageSize(limit)}}
			if tenant.set {
				f.Tenant = &tenant.v
			}
			eps, err := take(x.c.Endpoints(x.ctx, f), limit)
			if err != nil {
				return err
			}
			for i, ep := range eps {
				eps[i] = maskEndpoint(*ep)
			}
			return x.print(eps, func(w io.Writer) {
				if len(eps) == 0 {
					fmt.Fprintln(w, "No endpoints. Create one with: hookline endpoints create https://example.com/hook")
					return
				}
				rows := make([][]string, len(eps))
				for i, ep := range eps {
					rows[i] = []string{ep.ID, ep.URL, or(strings.Join(ep.EventTypes, ","), "*"), or(ep.Tenant, "-"), endpointState(ep), ep.Health.Circuit}
				}
				table(w, []string{"ID", "URL", "EVENT TYPES", "TENANT", "STATE", "CIRCUIT"}, rows)
			})
		},
	})

	var create client.EndpointCreate
	var createTypes, createFilter string
	var createOpts endpointOptions
	register("endpoints", "create", &apiCommand{
		args: "[URL]", summary: "Create an endpoint (the URL as --url or the argument). The answer shows its signing secret.", max: 1,
		flags: func(fs *flag.FlagSet, x *inv) {
			fs.StringVar(&create.URL, "endpoint-url", "", "the endpoint's URL (or give it as the argument)")
			fs.StringVar(&createTypes, "event-types", "", "comma-separated event types it receives, such as invoice.*,order.paid (default: every type)")
			fs.StringVar(&createFilter, "filter", "", `a payload filter, JSON such as '{"data":{"amount":{"$gte":1000}}}' (@FILE reads a file)`)
			fs.StringVar(&create.Description, "description", "", "free text for people")
			fs.StringVar(&create.Tenant, "tenant", "", "the tenant it belongs to")
			fs.StringVar(&create.Secret, "secret", "", "its signing secret, whsec_… or whsk_… (default: generated)")
			fs.StringVar(&create.SignatureScheme, "scheme", "", "signature scheme of a generated secret: v1 (HMAC-SHA256, the default) or v1a (ed25519)")
			fs.BoolVar(&create.Disabled, "disabled", false, "create it disabled")
			fs.Float64Var(&create.RateLimit, "rate-limit", 0, "requests per second at most (0: no limit)")
			fs.IntVar(&create.MaxInFlight, "max-in-flight", 0, "concurrent requests at most (0: the server's default)")
			fs.StringVar(&create.Ordering, "ordering", "", "none (the default) or fifo: one delivery at a time per ordering key")
			batchFlags(fs, &create.Batch)
			createOpts.register(fs, false)
		},
		run: func(x *inv) error {
			if len(x.args) == 1 {
				if create.URL != "" {
					return usageError(x.stderr, x.name, fmt.Errorf("give the URL once: as the argument or as --endpoint-url"))
				}
				create.URL = x.args[0]
			}
			if create.URL == "" {
				return usageError(x.stderr, x.name, fmt.Errorf("the endpoint's URL is required: hookline endpoints create https://example.com/hook"))
			}
			create.EventTypes = splitList(createTypes)
			if createFilter != "" {
				f, err := readData(createFilter, nil)
				if err != nil {
					return usageError(x.stderr, x.name, fmt.Errorf("--filter: %w", err))
				}
				create.Filter = f
			}
			if err := createOpts.create(&create); err != nil {
				return usageError(x.stderr, x.name, err)
			}
			ep, err := x.c.CreateEndpoint(x.ctx, create)
			if err != nil {
				return err
			}
			ep.Endpoint = *maskEndpoint(ep.Endpoint)
			return x.print(ep, func(w io.Writer) {
				fmt.Fprintf(w, "Created endpoint %s\n\n", ep.ID)
				endpointFields(w, &ep.Endpoint, "Secret", ep.Secret, "Public key", ep.PublicKey)
				fmt.Fprintf(w, "\nThe secret is shown here and by 'hookline endpoints secret %s' only.\n", ep.ID)
			})
		},
	})

	register("endpoints", "get", &apiCommand{
		args: "ID", summary: "Show an endpoint and its health.", min: 1, max: 1,
		run: func(x *inv) error {
			ep, err := x.c.GetEndpoint(x.ctx, x.args[0])
			if err != nil {
				return err
			}
			ep = maskEndpoint(*ep)
			return x.print(ep, func(w io.Writer) { endpointFields(w, ep) })
		},
	})

	var (
		u                           client.EndpointUpdate
		upURL, upTypes, upDesc      optString
		upSecret, upScheme, upOrder optString
		upFilter                    optString
		noFilter                    bool
		upRate                      optFloat
		upInFlight                  optInt
		enable, disable, noBatch    bool
		upBatch                     *client.Batch
		upOpts                      endpointOptions
	)
	register("endpoints", "update", &apiCommand{
		args: "ID", summary: "Change an endpoint: only the flags given change.", min: 1, max: 1,
		flags: func(fs *flag.FlagSet, x *inv) {
			fs.Var(&upURL, "endpoint-url", "a new URL")
			fs.Var(&upTypes, "event-types", "comma-separated event types (\"\" or *: every type)")
			fs.Var(&upDesc, "description", "a new description")
			fs.Var(&upSecret, "secret", "replace the secret at once (rotate-secret keeps the old one signing for a while)")
			fs.Var(&upScheme, "scheme", "switch to the other signature scheme (v1 or v1a), rotating to a generated secret")
			fs.Var(&upOrder, "ordering", "none or fifo")
			fs.Var(&upRate, "rate-limit", "requests per second at most (0: no limit)")
			fs.Var(&upInFlight, "max-in-flight", "concurrent requests at most")
			fs.BoolVar(&enable, "enable", false, "enable it (clears the reason, closes the circuit)")
			fs.BoolVar(&disable, "disable", false, "disable it")
			batchFlags(fs, &upBatch)
			fs.BoolVar(&noBatch, "no-batch", false, "turn batching off")
			fs.Var(&upFilter, "filter", "a new payload filter (JSON, or @FILE)")
			fs.BoolVar(&noFilter, "no-filter", false, "remove the payload filter")
			upOpts.register(fs, true)
		},
		run: func(x *inv) error {
			if enable && disable {
				return usageError(x.stderr, x.name, fmt.Errorf("--enable and --disable: give one"))
			}
			u.URL, u.Description, u.Secret, u.SignatureScheme, u.Ordering = upURL.ptr(), upDesc.ptr(), upSecret.ptr(), upScheme.ptr(), upOrder.ptr()
			u.RateLimit, u.MaxInFlight, u.Batch, u.NoBatch = upRate.ptr(), upInFlight.ptr(), upBatch, noBatch
			if upTypes.set {
				types := splitList(upTypes.v)
				if types == nil {
					types = []string{}
				}
				u.EventTypes = &types
			}
			if enable || disable {
				d := disable
				u.Disabled = &d
			}
			if upFilter.set {
				f, err := readData(upFilter.v, nil)
				if err != nil {
					return usageError(x.stderr, x.name, fmt.Errorf("--filter: %w", err))
				}
				u.Filter = f
			}
			u.NoFilter = noFilter
			if err := upOpts.update(&u); err != nil {
				return usageError(x.stderr, x.name, err)
			}
			ep, err := x.c.UpdateEndpoint(x.ctx, x.args[0], u)
			if err != nil {
				return err
			}
			ep = maskEndpoint(*ep)
			return x.print(ep, func(w io.Writer) {
				fmt.Fprintf(w, "Updated endpoint %s\n\n", ep.ID)
				endpointFields(w, ep)
			})
		},
	})

	register("endpoints", "delete", &apiCommand{
		args: "ID", summary: "Delete an endpoint, with its deliveries and attempts.", min: 1, max: 1,
		run: func(x *inv) error {
			if err := x.c.DeleteEndpoint(x.ctx, x.args[0]); err != nil {
				return err
			}
			return x.print(map[string]any{"id": x.args[0], "deleted": true}, func(w io.Writer) {
				fmt.Fprintf(w, "Deleted endpoint %s and its deliveries.\n", x.args[0])
			})
		},
	})

	register("endpoints", "secret", &apiCommand{
		args: "ID", summary: "Show an endpoint's signing secret (and its public key for v1a, and the previous secret while it still signs).", min: 1, max: 1,
		run: func(x *inv) error {
			s, err := x.c.EndpointSecret(x.ctx, x.args[0])
			if err != nil {
				return err
			}
			return x.print(s, func(w io.Writer) { secretFields(w, s) })
		},
	})

	var (
		rot   client.SecretRotation
		grace optDuration
	)
	register("endpoints", "rotate-secret", &apiCommand{
		args: "ID", summary: "Rotate an endpoint's secret: the new one signs at once, the old one beside it until it expires, so receivers switch without missing a delivery.", min: 1, max: 1,
		flags: func(fs *flag.FlagSet, x *inv) {
			fs.StringVar(&rot.Secret, "secret", "", "the new secret (default: generated)")
			fs.Var(&grace, "expire-old-in", "how long the old secret keeps signing, 0s to 720h (default 24h)")
			fs.StringVar(&rot.SignatureScheme, "scheme", "", "scheme of a generated secret: v1 or v1a (default: the endpoint's)")
		},
		run: func(x *inv) error {
			rot.ExpireOldIn = grace.ptr()
			s, err := x.c.RotateEndpointSecret(x.ctx, x.args[0], rot)
			if err != nil {
				return err
			}
			return x.print(s, func(w io.Writer) {
				fmt.Fprintf(w, "Rotated the secret of %s.\n\n", x.args[0])
				secretFields(w, s)
				if s.PreviousSecretExpiresAt != nil {
					fmt.Fprintf(w, "\nDeliveries carry both signatures until %s: install the new secret in the receiver by then.\n", when(s.PreviousSecretExpiresAt))
				}
			})
		},
	})

	register("endpoints", "stats", &apiCommand{
		args: "ID", summary: "Show an endpoint's figures: rates and latencies of the last minute, attempts of the last hour, backlog now.", min: 1, max: 1,
		run: func(x *inv) error {
			st, err := x.c.EndpointStats(x.ctx, x.args[0])
			if err != nil {
				return err
			}
			return x.print(st, func(w io.Writer) {
				fields(w, "Deliveries/s", ff(st.DeliveriesPerSecond), "Success rate", pct(st.SuccessRate),
					"Latency p50/p95/p99", fmt.Sprintf("%s / %s / %s ms", ff(st.LatencyMS.P50), ff(st.LatencyMS.P95), ff(st.LatencyMS.P99)),
					"Attempts (1 h)", strconv.FormatInt(st.Attempts, 10), "Failures (1 h)", strconv.FormatInt(st.Failures, 10),
					"Pending", strconv.FormatInt(st.Pending, 10), "Failed", strconv.FormatInt(st.Failed, 10),
					"Node", fmt.Sprintf("%s (live: %t)", st.Node, st.Live))
			})
		},
	})
}

// batchFlags registers --batch-max-events and --batch-max-wait, which set
// *b together.
func batchFlags(fs *flag.FlagSet, b **client.Batch) {
	get := func() *client.Batch {
		if *b == nil {
			*b = &client.Batch{}
		}
		return *b
	}
	fs.Func("batch-max-events", "send deliveries in batches of up to this many (2 to 1000), with --batch-max-wait", func(v string) error {
		n, err := strconv.Atoi(v)
		get().MaxEvents = n
		return err
	})
	fs.Func("batch-max-wait", "the longest a batch waits to fill, such as 500ms (up to 60s)", func(v string) error {
		d, err := time.ParseDuration(v)
		get().MaxWaitMS = int(d / time.Millisecond)
		return err
	})
}

// endpointState is an endpoint's state for a table cell.
func endpointState(ep *client.Endpoint) string {
	if ep.Disabled {
		return "disabled (" + ep.DisabledReason + ")"
	}
	return "enabled"
}

// endpointFields writes an endpoint for people, then the fields of more.
func endpointFields(w io.Writer, ep *client.Endpoint, more ...string) {
	batch, inFlight, rate := "off", "server default", "none"
	if ep.Batch != nil {
		batch = fmt.Sprintf("up to %d events, waiting up to %d ms", ep.Batch.MaxEvents, ep.Batch.MaxWaitMS)
	}
	if ep.MaxInFlight > 0 {
		inFlight = strconv.Itoa(ep.MaxInFlight)
	}
	if ep.RateLimit > 0 {
		rate = ff(ep.RateLimit) + "/s"
	}
	h := ep.Health
	circuit := h.Circuit
	if h.ConsecutiveFailures > 0 {
		circuit += fmt.Sprintf(", %d consecutive failures since %s", h.ConsecutiveFailures, when(h.FailingSince))
	}
	kv := []string{"ID", ep.ID, "URL", ep.URL, "Tenant", or(ep.Tenant, `"" (default)`), "Description", ep.Description,
		"Event types", or(strings.Join(ep.EventTypes, ", "), "* (every type)"), "Filter", string(ep.Filter), "Signature", ep.SignatureScheme,
		"State", endpointState(ep), "Rate limit", rate, "Max in flight", inFlight, "Ordering", ep.Ordering, "Batch", batch,
		"Circuit", circuit, "Last success", when(h.LastSuccessAt), "Paused until", when(h.PausedUntil)}
	kv = append(kv, optionFields(ep)...)
	fields(w, append(kv, "Created", when(&ep.CreatedAt), "Updated", when(&ep.UpdatedAt))...)
	fields(w, more...)
}

// secretFields writes an endpoint's secrets for people.
func secretFields(w io.Writer, s *client.Secret) {
	fields(w, "Secret", s.Secret, "Public key", s.PublicKey, "Previous secret", s.PreviousSecret,
		"Previous public key", s.PreviousPublicKey, "Previous expires", when(s.PreviousSecretExpiresAt))
}

// splitList splits a comma-separated flag value; nil for "".
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// ff formats a figure without trailing zeros.
func ff(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// pct formats a share as a percentage.
func pct(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" }

// Flags that tell "not given" from a zero value.
type (
	optString struct {
		v   string
		set bool
	}
	optFloat struct {
		v   float64
		set bool
	}
	optInt struct {
		v   int
		set bool
	}
	optDuration struct {
		v   time.Duration
		set bool
	}
)

func (o *optString) String() string { return o.v }
func (o *optString) Set(v string) error {
	o.v, o.set = v, true
	return nil
}
func (o *optString) ptr() *string {
	if !o.set {
		return nil
	}
	return &o.v
}
func (o *optFloat) String() string { return "" }
func (o *optFloat) Set(v string) (err error) {
	o.v, err = strconv.ParseFloat(v, 64)
	o.set = true
	return err
}
func (o *optFloat) ptr() *float64 {
	if !o.set {
		return nil
	}
	return &o.v
}
func (o *optInt) String() string { return "" }
func (o *optInt) Set(v string) (err error) {
	o.v, err = strconv.Atoi(v)
	o.set = true
	return err
}
func (o *optInt) ptr() *int {
	if !o.set {
		return nil
	}
	return &o.v
}
func (o *optDuration) String() string { return "" }
func (o *optDuration) Set(v string) (err error) {
	o.v, err = time.ParseDuration(v)
	o.set = true
	return err
}
func (o *optDuration) ptr() *time.Duration {
	if !o.set {
		return nil
	}
	return &o.v
}
