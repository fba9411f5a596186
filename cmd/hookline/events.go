package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/hookline/hookline/client"
)

// The commands `hookline events …`.
func init() {
	var (
		ev       client.EventCreate
		data     string
		priority optInt
	)
	register("events", "send", &apiCommand{
		args: "TYPE [DATA]", summary: "Send an event to every subscribed endpoint. DATA is JSON (or --data); @FILE reads a file, - standard input.", min: 1, max: 2,
		flags: func(fs *flag.FlagSet, x *inv) {
			fs.StringVar(&data, "data", "", "the event's data: JSON, @FILE or - (instead of the DATA argument)")
			fs.StringVar(&ev.Tenant, "tenant", "", "the tenant whose endpoints receive it")
			fs.Var(&priority, "priority", "0 to 9, higher first (default 5)")
			fs.StringVar(&ev.OrderingKey, "ordering-key", "", "deliveries to a fifo endpoint with one key go one at a time, in order")
			fs.StringVar(&ev.IdempotencyKey, "idempotency-key", "", "the same key within 24 h returns the first answer and sends nothing again")
		},
		run: func(x *inv) error {
			ev.Type = x.args[0]
			switch {
			case len(x.args) == 2 && data != "":
				return usageError(x.stderr, x.name, fmt.Errorf("give the data once: as the argument or as --data"))
			case len(x.args) == 2:
				data = x.args[1]
			case data == "":
				return usageError(x.stderr, x.name, fmt.Errorf("the event's data is required (any JSON but null): hookline events send %s '{\"amount\":4200}'", ev.Type))
			}
			var err error
			if ev.Data, err = readData(data, os.Stdin); err != nil {
				return usageError(x.stderr, x.name, fmt.Errorf("the data is %w", err))
			}
			ev.Priority = priority.ptr()
			res, err := x.c.SendEvent(x.ctx, ev)
			if err != nil {
				return err
			}
			out := struct {
				*client.IngestResult
				Replayed bool `json:"idempotent_replayed"`
			}{res, res.Replayed}
			return x.print(out, func(w io.Writer) {
				if res.Replayed {
					fmt.Fprintf(w, "Already sent as %s (%s) with idempotency key %q: nothing sent again.\n", res.ID, res.Type, ev.IdempotencyKey)
					return
				}
				fmt.Fprintf(w, "Sent %s (%s) to %s.\n", res.ID, res.Type, plural(res.Deliveries, "endpoint"))
				if res.Deliveries > 0 {
					fmt.Fprintf(w, "See its deliveries: hookline deliveries list --event %s\n", res.ID)
				}
			})
		},
	})

	register("events", "get", &apiCommand{
		args: "ID", summary: "Show an event and its data.", min: 1, max: 1,
		run: func(x *inv) error {
			e, err := x.c.GetEvent(x.ctx, x.args[0])
			if err != nil {
				return err
			}
			return x.print(e, func(w io.Writer) {
				fields(w, "ID", e.ID, "Type", e.Type, "Tenant", or(e.Tenant, `"" (default)`), "Created", when(&e.CreatedAt),
					"Deliveries", strconv.Itoa(e.Deliveries), "Priority", strconv.Itoa(e.Priority), "Ordering key", e.OrderingKey)
				fmt.Fprintf(w, "Data:\n%s\n", pretty(e.Data, "  "))
			})
		},
	})

	register("events", "replay", &apiCommand{
		args: "ID", summary: "Send an event again to every endpoint that matches it now.", min: 1, max: 1,
		run: func(x *inv) error {
			n, err := x.c.ReplayEvent(x.ctx, x.args[0])
			if err != nil {
				return err
			}
			return x.print(map[string]any{"id": x.args[0], "deliveries": n}, func(w io.Writer) {
				fmt.Fprintf(w, "Replayed %s: %s.\n", x.args[0], plural(n, "new delivery"))
			})
		},
	})
}

// plural writes n and a noun ("1 endpoint", "2 endpoints").
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if b, ok := bytes.CutSuffix([]byte(noun), []byte("y")); ok && noun != "key" {
		return strconv.Itoa(n) + " " + string(b) + "ies"
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// pretty indents JSON for people, each line after prefix; what is not JSON
// is shown as it is.
func pretty(b []byte, prefix string) string {
	var out bytes.Buffer
	if err := json.Indent(&out, b, prefix, "  "); err != nil {
		return prefix + string(b)
	}
	return prefix + out.String()
}
