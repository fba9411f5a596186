package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/hookline/hookline/client"
)

// The commands `hookline deliveries …` and `hookline recover`.
func init() {
	var (
		f     client.DeliveryFilter
		limit int
	)
	register("deliveries", "list", &apiCommand{
		summary: "List deliveries, newest first.", max: 0,
		flags: func(fs *flag.FlagSet, x *inv) {
			fs.StringVar(&f.EventID, "event", "", "only the deliveries of this event")
			fs.StringVar(&f.EndpointID, "endpoint", "", "only the deliveries to this endpoint")
			fs.StringVar(&f.Status, "status", "", "only pending, delivered or failed (the dead letters)")
			limitFlag(fs, &limit)
		},
		run: func(x *inv) error {
			f.Limit = pageSize(limit)
			ds, err := take(x.c.Deliveries(x.ctx, f), limit)
			if err != nil {
				return err
			}
			return x.print(ds, func(w io.Writer) {
				if len(ds) == 0 {
					fmt.Fprintln(w, "No deliveries.")
					return
				}
				rows := make([][]string, len(ds))
				for i, d := range ds {
					rows[i] = []string{d.ID, d.EventType, d.EndpointID, d.Status, strconv.Itoa(d.Attempts), code(d.LastStatusCode), next(d), short(d.LastError, 40)}
				}
				table(w, []string{"ID", "TYPE", "ENDPOINT", "STATUS", "ATTEMPTS", "LAST", "NEXT/DONE", "ERROR"}, rows)
			})
		},
	})

	register("deliveries", "get", &apiCommand{
		args: "ID", summary: "Show a delivery's state.", min: 1, max: 1,
		run: func(x *inv) error {
			d, err := x.c.GetDelivery(x.ctx, x.args[0])
			if err != nil {
				return err
			}
			return x.print(d, func(w io.Writer) { deliveryFields(w, d) })
		},
	})

	register("deliveries", "attempts", &apiCommand{
		args: "ID", summary: "List every attempt of a delivery: status, duration, error and the start of the answer.", min: 1, max: 1,
		run: func(x *inv) error {
			as, err := x.c.Attempts(x.ctx, x.args[0])
			if err != nil {
				return err
			}
			if as == nil {
				as = []client.Attempt{}
			}
			return x.print(as, func(w io.Writer) {
				if len(as) == 0 {
					fmt.Fprintln(w, "No attempts yet.")
					return
				}
				rows := make([][]string, len(as))
				for i, a := range as {
					rows[i] = []string{strconv.Itoa(a.Attempt), when(&a.StartedAt), a.Duration().Round(10 * time.Microsecond).String(),
						code(a.StatusCode), or(short(a.Error, 50), "-"), or(short(a.ResponseBody, 50), "-")}
				}
				table(w, []string{"#", "STARTED", "DURATION", "STATUS", "ERROR", "RESPONSE"}, rows)
			})
		},
	})

	register("deliveries", "retry", &apiCommand{
		args: "ID", summary: "Make a delivery pending and due now, whatever its state (attempt numbers continue).", min: 1, max: 1,
		run: func(x *inv) error {
			d, err := x.c.RetryDelivery(x.ctx, x.args[0])
			if err != nil {
				return err
			}
			return x.print(d, func(w io.Writer) {
				fmt.Fprintf(w, "Retrying %s: %s, due now. Follow it with: hookline deliveries attempts %s\n", d.ID, d.Status, d.ID)
			})
		},
	})

	var since string
	register("recover", "", &apiCommand{
		args: "ENDPOINT", summary: "Make every failed delivery (dead letter) of an endpoint pending again.", min: 1, max: 1,
		flags: func(fs *flag.FlagSet, x *inv) {
			fs.StringVar(&since, "since", "", "only those created since: a duration back from now (2h) or an RFC 3339 time")
		},
		run: func(x *inv) error {
			var t time.Time
			if since != "" {
				if d, err := time.ParseDuration(since); err == nil && d > 0 {
					t = time.Now().Add(-d)
				} else if t, err = time.Parse(time.RFC3339Nano, since); err != nil {
					return usageError(x.stderr, x.name, fmt.Errorf("--since %q: want a duration such as 2h or a time such as 2025-01-31T12:00:00Z", since))
				}
			}
			n, err := x.c.RecoverEndpoint(x.ctx, x.args[0], t)
			if err != nil {
				return err
			}
			return x.print(map[string]any{"endpoint_id": x.args[0], "requeued": n}, func(w io.Writer) {
				fmt.Fprintf(w, "Requeued %s of %s.\n", plural(n, "failed delivery"), x.args[0])
			})
		},
	})
}

// code formats a status code for a table cell: "-" for none.
func code(c int) string {
	if c == 0 {
		return "-"
	}
	return strconv.Itoa(c)
}

// next is when a delivery is due, or was delivered.
func next(d *client.Delivery) string {
	switch {
	case d.Status == client.StatusPending && d.NextAttemptAt != nil:
		return "next " + when(d.NextAttemptAt)
	case d.DeliveredAt != nil:
		return "done " + when(d.DeliveredAt)
	}
	return "-"
}

// deliveryFields writes a delivery for people.
func deliveryFields(w io.Writer, d *client.Delivery) {
	fields(w, "ID", d.ID, "Event", d.EventID+" ("+d.EventType+")", "Endpoint", d.EndpointID, "Tenant", d.Tenant,
		"Status", d.Status, "Attempts", strconv.Itoa(d.Attempts), "Last status", code(d.LastStatusCode), "Last error", d.LastError,
		"Next attempt", when(d.NextAttemptAt), "Delivered", when(d.DeliveredAt), "Priority", strconv.Itoa(d.Priority),
		"Created", when(&d.CreatedAt), "Updated", when(&d.UpdatedAt))
}
